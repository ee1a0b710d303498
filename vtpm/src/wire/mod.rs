//! Marshaling only, no TPM semantics (TCG TPM 2.0 Part 1 §18, Part 2 §5).
//!
//! Everything sequential goes through a [`Reader`] that hands back sub-slices capped by the
//! spec's maximum, and a [`Writer`] that refuses to overrun its buffer. Neither can panic.

pub mod auth;
pub mod constants;
pub mod header;
pub mod public;
pub mod types;

use crate::error::TpmRc;

/// A marshaling failure. Converted to a TPM_RC by the caller, which knows the position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Not enough bytes for the value (TPM_RC_INSUFFICIENT).
    Short,
    /// A TPM2B or list is larger than its maximum (TPM_RC_SIZE).
    Size,
    /// The output buffer is full.
    Full,
}

impl From<WireError> for TpmRc {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Short => TpmRc::INSUFFICIENT,
            WireError::Size => TpmRc::SIZE,
            // A response that does not fit is a TPM-side limit, reported as a size error.
            WireError::Full => TpmRc::SIZE,
        }
    }
}

/// A cursor over command bytes. Every read is bounds-checked.
///
/// `Debug` shows how many bytes are left, never the bytes: they are command parameters
/// (passwords, sensitive areas, NV data), so everything holding a `Reader` (the dispatcher's
/// `Params`) is safe to print.
#[derive(Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl core::fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reader")
            .field("remaining", &self.buf.len())
            .field("bytes", &format_args!("[REDACTED]"))
            .finish()
    }
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub const fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Bytes not yet read.
    pub const fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The unread bytes, without consuming them.
    pub const fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Whether everything has been read.
    pub const fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Take the next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let (head, tail) = self.buf.split_at_checked(n).ok_or(WireError::Short)?;
        self.buf = tail;
        Ok(head)
    }

    /// Take a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<&'a [u8; N], WireError> {
        let (head, tail) = self.buf.split_first_chunk::<N>().ok_or(WireError::Short)?;
        self.buf = tail;
        Ok(head)
    }

    /// Read a `u8`.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    /// Read a big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(*self.array::<2>()?))
    }

    /// Read a big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(*self.array::<4>()?))
    }

    /// Read a big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(*self.array::<8>()?))
    }

    /// Read a TPM2B (`u16 size ‖ bytes`) whose size may not exceed `max` (Part 2 §5.3).
    pub fn tpm2b(&mut self, max: usize) -> Result<&'a [u8], WireError> {
        let size = usize::from(self.u16()?);
        if size > max {
            return Err(WireError::Size);
        }
        self.bytes(size)
    }
}

/// A cursor that writes big-endian values into a byte slice, refusing to overrun it.
///
/// `Debug` shows the position and capacity, never the bytes (response parameters can be
/// unsealed data or a sensitive area).
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl core::fmt::Debug for Writer<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Writer")
            .field("len", &self.pos)
            .field("capacity", &self.buf.len())
            .field("bytes", &format_args!("[REDACTED]"))
            .finish()
    }
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub const fn len(&self) -> usize {
        self.pos
    }

    /// Whether nothing has been written.
    pub const fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.pos).unwrap_or(&[])
    }

    /// Mutable access to the bytes written so far (for in-place encryption of a parameter).
    pub fn written_mut(&mut self) -> &mut [u8] {
        self.buf.get_mut(..self.pos).unwrap_or(&mut [])
    }

    /// Append raw bytes.
    ///
    /// This and the integer writers below stay out of line: inlined at the hundreds of sites
    /// that marshal responses they cost the firmware 2 KB of code (README, "Firmware fitness").
    #[inline(never)]
    pub fn bytes(&mut self, data: &[u8]) -> Result<(), WireError> {
        let end = self.pos.checked_add(data.len()).ok_or(WireError::Full)?;
        let dst = self.buf.get_mut(self.pos..end).ok_or(WireError::Full)?;
        dst.copy_from_slice(data);
        self.pos = end;
        Ok(())
    }

    /// Append a `u8`.
    #[inline(never)]
    pub fn u8(&mut self, v: u8) -> Result<(), WireError> {
        self.bytes(&[v])
    }

    /// Append a big-endian `u16`.
    #[inline(never)]
    pub fn u16(&mut self, v: u16) -> Result<(), WireError> {
        self.bytes(&v.to_be_bytes())
    }

    /// Append a big-endian `u32`.
    #[inline(never)]
    pub fn u32(&mut self, v: u32) -> Result<(), WireError> {
        self.bytes(&v.to_be_bytes())
    }

    /// Append a big-endian `u64`.
    #[inline(never)]
    pub fn u64(&mut self, v: u64) -> Result<(), WireError> {
        self.bytes(&v.to_be_bytes())
    }

    /// Append a TPM2B (`u16 size ‖ bytes`).
    pub fn tpm2b(&mut self, data: &[u8]) -> Result<(), WireError> {
        let size = u16::try_from(data.len()).map_err(|_| WireError::Size)?;
        self.u16(size)?;
        self.bytes(data)
    }

    /// Reserve `N` bytes to be filled later with [`Writer::patch`]; returns their offset.
    pub fn reserve<const N: usize>(&mut self) -> Result<usize, WireError> {
        let at = self.pos;
        self.bytes(&[0; N])?;
        Ok(at)
    }

    /// Overwrite bytes at `at` (which must lie within what was written).
    pub fn patch(&mut self, at: usize, data: &[u8]) -> Result<(), WireError> {
        let end = at.checked_add(data.len()).ok_or(WireError::Full)?;
        if end > self.pos {
            return Err(WireError::Full);
        }
        let dst = self.buf.get_mut(at..end).ok_or(WireError::Full)?;
        dst.copy_from_slice(data);
        Ok(())
    }

    /// Write a TPM2B whose contents are produced by `f`; the size is patched in afterwards.
    pub fn tpm2b_with(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        let at = self.reserve::<2>()?;
        f(self)?;
        let n = self
            .pos
            .checked_sub(at)
            .and_then(|n| n.checked_sub(2))
            .ok_or(WireError::Full)?;
        let n = u16::try_from(n).map_err(|_| WireError::Size)?;
        self.patch(at, &n.to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::wire::types::redaction::assert_redacted;
    use std::format;

    #[test]
    fn reader_and_writer_debug_hide_the_bytes() {
        let secret = b"sealed-secret-bytes";
        let mut r = Reader::new(secret);
        assert_redacted(&format!("{r:?}"), secret);
        r.u8().unwrap();
        assert!(format!("{r:?}").contains("remaining: 18"));
        let mut buf = [0u8; 32];
        let mut w = Writer::new(&mut buf);
        w.bytes(secret).unwrap();
        assert_redacted(&format!("{w:?}"), secret);
        // The dispatcher's parameter area is a Reader.
        let p = crate::dispatch::Params::new(secret);
        assert_redacted(&format!("{p:?}"), secret);
    }

    #[test]
    fn reader_checks_bounds_and_caps() {
        let mut r = Reader::new(&[0, 3, 1, 2, 3, 0xAA]);
        assert_eq!(r.tpm2b(3), Ok(&[1u8, 2, 3][..]));
        assert_eq!(r.u16(), Err(WireError::Short));
        assert_eq!(r.u8(), Ok(0xAA));
        assert!(r.is_empty());
        let mut r = Reader::new(&[0, 4, 1, 2, 3, 4]);
        assert_eq!(r.tpm2b(3), Err(WireError::Size));
        let mut r = Reader::new(&[0, 4, 1]);
        assert_eq!(r.tpm2b(8), Err(WireError::Short));
    }

    #[test]
    fn writer_refuses_overrun() {
        let mut buf = [0u8; 5];
        let mut w = Writer::new(&mut buf);
        w.u32(0x01020304).unwrap();
        assert_eq!(w.u16(7), Err(WireError::Full));
        w.u8(9).unwrap();
        assert_eq!(w.written(), &[1, 2, 3, 4, 9]);
        let mut buf = [0u8; 8];
        let mut w = Writer::new(&mut buf);
        w.tpm2b_with(|w| w.u32(0xDEADBEEF)).unwrap();
        assert_eq!(w.written(), &[0, 4, 0xDE, 0xAD, 0xBE, 0xEF]);
    }
}
