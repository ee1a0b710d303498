//! Entropy from the CPU: RDSEED (full-entropy conditioner output, AMD64 APM vol. 3 "RDSEED"),
//! falling back to RDRAND (the DRBG output), each with a bounded number of retries. A source
//! that keeps failing is reported ([`PlatformError::EntropyUnavailable`]) and the vTPM latches
//! failure mode; it never spins forever and never returns unfilled bytes as entropy.

use core::arch::asm;

use vtpm::PlatformError;

use crate::platform::EntropySource;

/// RDSEED attempts per 64-bit word before falling back to RDRAND (RDSEED may legitimately run
/// dry under load; Intel's guidance is to retry with PAUSE).
pub const RDSEED_RETRIES: u32 = 1024;
/// RDRAND attempts per 64-bit word (the vendors' guidance: 10).
pub const RDRAND_RETRIES: u32 = 10;

/// RDSEED / RDRAND entropy with bounded retries.
#[derive(Debug)]
pub struct RdSeed {
    _private: (),
}

impl RdSeed {
    /// An entropy source over RDSEED and RDRAND.
    ///
    /// # Safety
    /// The CPU must implement RDSEED and RDRAND (every SEV-SNP capable AMD CPU does); on a CPU
    /// without them the instructions raise #UD.
    pub const unsafe fn new() -> Self {
        Self { _private: () }
    }

    fn rdseed() -> Option<u64> {
        let v: u64;
        let ok: u8;
        // SAFETY: `RdSeed::new`'s contract guarantees the instruction exists; it only writes
        // the named register and the flags.
        unsafe {
            asm!("rdseed {v}", "setc {ok}", v = out(reg) v, ok = out(reg_byte) ok,
                 options(nomem, nostack));
        }
        // All-zero and all-one words are treated as failures (the AMD RDRAND erratum returned
        // all ones with CF set).
        (ok == 1 && v != 0 && v != u64::MAX).then_some(v)
    }

    fn rdrand() -> Option<u64> {
        let v: u64;
        let ok: u8;
        // SAFETY: as for `rdseed`.
        unsafe {
            asm!("rdrand {v}", "setc {ok}", v = out(reg) v, ok = out(reg_byte) ok,
                 options(nomem, nostack));
        }
        (ok == 1 && v != 0 && v != u64::MAX).then_some(v)
    }

    fn word() -> Option<u64> {
        for _ in 0..RDSEED_RETRIES {
            if let Some(v) = Self::rdseed() {
                return Some(v);
            }
            core::hint::spin_loop();
        }
        (0..RDRAND_RETRIES).find_map(|_| Self::rdrand())
    }
}

impl EntropySource for RdSeed {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), PlatformError> {
        for chunk in buf.chunks_mut(8) {
            let w = Self::word().ok_or(PlatformError::EntropyUnavailable)?;
            let bytes = w.to_le_bytes();
            if let Some(src) = bytes.get(..chunk.len()) {
                chunk.copy_from_slice(src);
            }
        }
        Ok(())
    }
}
