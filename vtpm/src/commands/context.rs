//! Context management (Part 3 §28).

use crate::Tpm;
use crate::dispatch::Params;
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::wire::constants::handle::{
    HT_HMAC_SESSION, HT_POLICY_SESSION, HT_TRANSIENT, handle_type,
};

impl<P: Platform> Tpm<P> {
    /// TPM2_FlushContext (Part 3 §28.4): the handle is a parameter (TPMI_DH_CONTEXT); a handle
    /// of another type is TPM_RC_VALUE, one not loaded TPM_RC_HANDLE.
    pub(crate) fn flush_context(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        let h = p.u32()?;
        p.finish()?;
        let found = match handle_type(h) {
            HT_TRANSIENT => self.objects.remove(h).is_some(),
            HT_HMAC_SESSION | HT_POLICY_SESSION => self.sessions.remove(h),
            _ => return Err(TpmRc::VALUE.at_param(1)),
        };
        if found {
            Ok(())
        } else {
            Err(TpmRc::HANDLE.at_param(1))
        }
    }
}
