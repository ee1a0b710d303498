//! Little-endian field access at compile-time-checked offsets.
//!
//! Every structure in this crate is described twice: once as a `#[repr(C)]` Rust type whose field
//! offsets and size are asserted at compile time against the Intel table, and once on the wire as
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
