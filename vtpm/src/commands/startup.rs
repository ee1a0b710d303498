//! Startup and Shutdown (Part 3 §9).

use crate::Tpm;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::{Orderly, Phase};
use crate::wire::constants::TpmSu;

impl<P: Platform> Tpm<P> {
    /// TPM2_Startup (Part 3 §9.3). CLEAR after Shutdown(STATE) is a TPM Restart, CLEAR
    /// otherwise a TPM Reset (new null seed and proof, sessions gone, resetCount + 1), STATE
    /// after Shutdown(STATE) a TPM Resume (saved PCRs restored). STATE without a saved state
    /// is TPM_RC_VALUE. TPM Reset and Restart clear the NV read locks and the write locks
    /// that do not last until the index is undefined, and unwrite CLEAR_STCLEAR indices.
    /// Only localities 0 and 3 may start the TPM (TPM_RC_LOCALITY otherwise, checked after the
    /// parameters unmarshal, before the startup type's state: the reference's TPM2_Startup,
    /// as libtpms).
    pub(crate) fn startup(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let su = TpmSu(p.u16()?);
        if su != TpmSu::CLEAR && su != TpmSu::STATE {
            return Err(TpmRc::VALUE.at_param(1));
        }
        p.finish()?;
        if c.locality != 0 && c.locality != 3 {
            return Err(TpmRc::LOCALITY);
        }
        let resume = match su {
            TpmSu::CLEAR => false,
            TpmSu::STATE if self.orderly == Orderly::State => true,
            _ => return Err(TpmRc::VALUE.at_param(1)),
        };
        let restart = !resume && self.orderly == Orderly::State;
        if !resume && !restart {
            // TPM Reset: everything volatile is new.
            let seed = self.new_seed()?;
            let proof = self.new_seed()?;
            let nonce = self.new_seed()?;
            self.hier.null_seed = seed;
            self.hier.null_proof = proof;
            self.commits = crate::state::Commits {
                nonce,
                counter: 0,
                array: 0,
            };
            self.sessions.clear();
            self.exclusive_audit = None;
            // A TPM Reset starts a new command audit digest (CommandAuditStartup).
            self.audit.digest = crate::state::audit::AuditDigest::Empty;
            // A lockoutAuth lock without a recovery time lasts until TPM Reset.
            if self.da.lockout_locked == Some(None) {
                self.da.lockout_locked = None;
            }
            self.clock.reset_count = self.clock.reset_count.wrapping_add(1);
            self.clock.total_resets = self.clock.total_resets.wrapping_add(1);
            self.clock.restart_count = 0;
        } else {
            self.clock.restart_count = self.clock.restart_count.wrapping_add(1);
        }
        if !resume {
            self.clock.clear_count = self.clock.clear_count.wrapping_add(1);
            // Startup(CLEAR) re-enables the hierarchies and clears the platform auth.
            self.hier.ph_enable = true;
            self.hier.sh_enable = true;
            self.hier.eh_enable = true;
            self.hier.ph_enable_nv = true;
            self.hier.platform_auth = crate::wire::types::Auth::EMPTY;
            self.hier.platform_policy = crate::wire::types::Digest::EMPTY;
            // NV indices: the STCLEAR locks and CLEAR_STCLEAR data (Part 2 §13.4).
            self.nv.startup(!restart);
        }
        self.pcrs.startup(resume, c.locality);
        self.orderly = Orderly::None;
        self.phase = Phase::Operational;
        Ok(())
    }

    /// TPM2_Shutdown (Part 3 §9.4): record an orderly shutdown; STATE saves the PCRs for a
    /// later Startup(STATE).
    pub(crate) fn shutdown(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        let su = TpmSu(p.u16()?);
        p.finish()?;
        match su {
            TpmSu::CLEAR => self.orderly = Orderly::Clear,
            // A pending TPM2_PCR_Allocate needs a Startup(CLEAR): TPM_RC_TYPE (the reference
            // implementation's TPM2_Shutdown).
            TpmSu::STATE if self.pcrs.reallocation_pending() => {
                return Err(TpmRc::TYPE.at_param(1));
            }
            TpmSu::STATE => {
                self.pcrs.save();
                self.orderly = Orderly::State;
            }
            _ => return Err(TpmRc::VALUE.at_param(1)),
        }
        Ok(())
    }
}
