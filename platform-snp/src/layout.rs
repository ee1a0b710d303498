//! Little-endian field access at compile-time-checked offsets.
//!
//! Every structure in this crate is described twice: once as a `#[repr(C)]` Rust type whose field
//! offsets and size are asserted at compile time against the AMD table, and once on the wire as
//! bytes. These helpers copy between the two at `core::mem::offset_of!` positions. The compile-time
//! assertions guarantee every access is in range; the helpers are still written with `get` so that
//! nothing here can panic (an out-of-range access would read zeros / write nothing).

/// `N` bytes at `off`, or zeros if out of range (impossible for asserted layouts).
pub(crate) fn get<const N: usize>(buf: &[u8], off: usize) -> [u8; N] {
    buf.get(off..)
        .and_then(|s| s.first_chunk::<N>())
        .copied()
        .unwrap_or([0; N])
}

/// Write `v` at `off` (nothing if out of range, impossible for asserted layouts).
pub(crate) fn put<const N: usize>(buf: &mut [u8], off: usize, v: &[u8; N]) {
    if let Some(d) = buf.get_mut(off..).and_then(|s| s.first_chunk_mut::<N>()) {
        *d = *v;
    }
}

/// Little-endian u16 at `off`.
pub(crate) fn u16_at(buf: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(get(buf, off))
}

/// Little-endian u32 at `off`.
pub(crate) fn u32_at(buf: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(get(buf, off))
}

/// Little-endian u64 at `off`.
pub(crate) fn u64_at(buf: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(get(buf, off))
}

/// Byte at `off`.
pub(crate) fn u8_at(buf: &[u8], off: usize) -> u8 {
    buf.get(off).copied().unwrap_or(0)
}

/// Write byte `v` at `off`.
pub(crate) fn put_u8(buf: &mut [u8], off: usize, v: u8) {
    if let Some(d) = buf.get_mut(off) {
        *d = v;
    }
}

/// Copy `src` into `dst` at `off` if it fits; false otherwise.
pub(crate) fn put_slice(dst: &mut [u8], off: usize, src: &[u8]) -> bool {
    match off
        .checked_add(src.len())
        .and_then(|end| dst.get_mut(off..end))
    {
        Some(d) => {
            d.copy_from_slice(src);
            true
        }
        None => false,
    }
}

/// Whether every byte is zero.
pub(crate) fn all_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}
