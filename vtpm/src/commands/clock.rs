//! Clocks and timers (Part 3 §29).

use crate::Tpm;
use crate::dispatch::Params;
use crate::error::TpmResult;
use crate::platform::Platform;
use crate::wire::Writer;

impl<P: Platform> Tpm<P> {
    /// TPM2_ReadClock (Part 3 §29.1): TPMS_TIME_INFO = time ‖ TPMS_CLOCK_INFO.
    pub(crate) fn read_clock(&mut self, p: &mut Params<'_>, w: &mut Writer<'_>) -> TpmResult<()> {
        p.finish()?;
        w.u64(self.clock.time())?;
        self.clock.info().marshal(w)?;
        Ok(())
    }
}
