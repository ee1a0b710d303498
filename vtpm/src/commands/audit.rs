//! Command audit (Part 3 §21): choosing the audited commands and the audit hash.

use crate::Tpm;
use crate::dispatch::Params;
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::wire::constants::TpmCc;
use crate::wire::types::{read_hash_or_null, read_list};

/// Most command codes in one TPML_CC (MAX_CAP_CC for this TPM's command count).
const MAX_CC_LIST: usize = 128;

impl<P: Platform> Tpm<P> {
    /// TPM2_SetCommandCodeAuditStatus (Part 3 §21.2), authorized by the owner or the
    /// platform: a new audit hash (the next audited command then starts a new digest; the
    /// lists must be empty, TPM_RC_VALUE at parameter 1 otherwise), or commands added to and
    /// removed from the audited set (unimplemented codes are ignored; this command stays
    /// audited).
    pub(crate) fn set_command_code_audit_status(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        let alg = p.next(read_hash_or_null)?;
        let set: heapless::Vec<u32, MAX_CC_LIST> = p.next(|r| read_list(r, |r| Ok(r.u32()?)))?;
        let clear: heapless::Vec<u32, MAX_CC_LIST> = p.next(|r| read_list(r, |r| Ok(r.u32()?)))?;
        p.finish()?;
        match alg {
            Some(a) if a != self.audit.alg => {
                if !set.is_empty() || !clear.is_empty() {
                    return Err(TpmRc::VALUE.at_param(1));
                }
                self.audit.alg = a;
                self.audit.digest = crate::state::audit::AuditDigest::AlgChanged;
            }
            _ => {
                set.iter().for_each(|cc| {
                    self.audit.set(TpmCc(*cc), true);
                });
                clear.iter().for_each(|cc| {
                    self.audit.set(TpmCc(*cc), false);
                });
            }
        }
        Ok(())
    }
}
