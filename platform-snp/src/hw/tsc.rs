//! A millisecond clock from the time-stamp counter. The TSC frequency comes from the firmware
//! (with SEV-SNP Secure TSC, from the GUEST_TSC_FREQ MSR or MSG_TSC_INFO; otherwise from CPUID
//! or the hypervisor, which can then skew it — the TPM clock is advisory either way).

use core::arch::asm;

use vtpm::PlatformError;

use crate::platform::MonotonicClock;

/// Milliseconds from the TSC, never decreasing.
#[derive(Debug)]
pub struct TscClock {
    ticks_per_ms: u64,
    base: u64,
    last_ms: u64,
}

fn rdtsc() -> u64 {
    let lo: u32;
    let hi: u32;
    // SAFETY: RDTSC exists on every x86_64 CPU and only writes EDX:EAX; LFENCE orders it after
    // earlier loads. No memory is touched.
    unsafe {
        asm!("lfence", "rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

impl TscClock {
    /// A clock starting now, for a TSC running at `tsc_khz` kHz; `None` if the frequency is 0.
    pub fn new(tsc_khz: u64) -> Option<Self> {
        (tsc_khz > 0).then(|| Self {
            ticks_per_ms: tsc_khz,
            base: rdtsc(),
            last_ms: 0,
        })
    }
}

impl MonotonicClock for TscClock {
    fn now_ms(&mut self) -> Result<u64, PlatformError> {
        let ticks = rdtsc().wrapping_sub(self.base);
        let ms = ticks
            .checked_div(self.ticks_per_ms)
            .ok_or(PlatformError::ClockUnavailable)?;
        self.last_ms = self.last_ms.max(ms);
        Ok(self.last_ms)
    }
}
