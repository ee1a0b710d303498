//! Clocks and timers (Part 3 §29).

use crate::Tpm;
use crate::dispatch::Params;
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::wire::Writer;

/// The largest Clock TPM2_ClockSet accepts (Part 3 §29.2).
const CLOCK_SET_MAX: u64 = 0xFFFF_0000_0000_0000;

impl<P: Platform> Tpm<P> {
    /// TPM2_ReadClock (Part 3 §29.1): TPMS_TIME_INFO = time ‖ TPMS_CLOCK_INFO.
    pub(crate) fn read_clock(&mut self, p: &mut Params<'_>, w: &mut Writer<'_>) -> TpmResult<()> {
        p.finish()?;
        w.u64(self.clock.time())?;
        self.clock.info().marshal(w)?;
        Ok(())
    }

    /// TPM2_ClockSet (Part 3 §29.2), authorized by the owner or the platform: Clock moves
    /// forward to `newTime`; backwards or beyond 0xFFFF000000000000 is TPM_RC_VALUE.
    pub(crate) fn clock_set(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        let new = p.u64()?;
        p.finish()?;
        let now = self.clock.clock();
        if new > CLOCK_SET_MAX || new < now {
            return Err(TpmRc::VALUE.at_param(1));
        }
        self.clock.clock_offset_ms = self
            .clock
            .clock_offset_ms
            .saturating_add(new.saturating_sub(now));
        Ok(())
    }

    /// TPM2_ClockRateAdjust (Part 3 §29.3): TPM_CLOCK_ADJUST from −3 (coarse slower) to +3;
    /// anything else is TPM_RC_VALUE. Clock here counts the platform's millisecond timer,
    /// which has no rate to trim: a valid adjustment is accepted and has no effect, within
    /// the tolerance Part 1 §36 allows.
    pub(crate) fn clock_rate_adjust(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        let adjust = i8::from_be_bytes([p.u8()?]);
        p.finish()?;
        if !(-3..=3).contains(&adjust) {
            return Err(TpmRc::VALUE.at_param(1));
        }
        Ok(())
    }
}
