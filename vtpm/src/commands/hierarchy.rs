//! Hierarchy commands (Part 3 §24).

use crate::Tpm;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::wire::constants::handle::{
    RH_ENDORSEMENT, RH_LOCKOUT, RH_OWNER, RH_PLATFORM, RH_PLATFORM_NV,
};
use crate::wire::types::{Auth, Digest, MAX_DIGEST};

/// The hash of the context integrity HMAC (TPM_PT_CONTEXT_HASH: SHA-384).
const CONTEXT_INTEGRITY_HASH: crate::crypto::hash::HashAlg = crate::commands::context::CONTEXT_HASH;

impl<P: Platform> Tpm<P> {
    /// TPM2_Clear (Part 3 §24.6): new storage primary seed and owner / endorsement proofs;
    /// owner, endorsement and lockout authValues and policies emptied; the storage and
    /// endorsement hierarchies re-enabled, their objects flushed and evicted, the owner's NV
    /// indices undefined; resetCount and restartCount zeroed. The endorsement primary seed is
    /// kept. TPM_RC_DISABLED after ClearControl(YES).
    ///
    /// Dictionary-attack protection starts over as at manufacture (the reference
    /// implementation's DAPreInstall_Init, called from its TPM2_Clear): failedTries 0,
    /// maxTries 3, recoveryTime and lockoutRecovery 1000 s, lockoutAuth usable again. As
    /// the reference does, pcrUpdateCounter moves once (TPM2_Clear counts as a PCR change).
    pub(crate) fn clear(&mut self, _c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        p.finish()?;
        if self.hier.disable_clear {
            return Err(TpmRc::DISABLED);
        }
        let sps = self.new_seed()?;
        let sh_proof = self.new_seed()?;
        let eh_proof = self.new_seed()?;
        let h = &mut self.hier;
        h.sps = sps;
        h.sh_proof = sh_proof;
        h.eh_proof = eh_proof;
        h.owner_auth = Auth::EMPTY;
        h.endorsement_auth = Auth::EMPTY;
        h.lockout_auth = Auth::EMPTY;
        h.owner_policy = Digest::EMPTY;
        h.endorsement_policy = Digest::EMPTY;
        h.lockout_policy = Digest::EMPTY;
        h.sh_enable = true;
        h.eh_enable = true;
        self.clock.reset_count = 0;
        self.clock.restart_count = 0;
        self.da = crate::state::da::DictionaryAttack {
            last_heal_ms: self.clock.last_ms,
            ..crate::state::da::DictionaryAttack::default()
        };
        self.pcrs.count_update(0);
        // The reference implementation's PCR_ClearAuth.
        self.pcrs.group_auth = Auth::EMPTY;
        self.objects.flush_hierarchies(&[RH_OWNER, RH_ENDORSEMENT]);
        self.nv
            .retain(|nv| nv.has(crate::state::nv::attr::PLATFORMCREATE));
        Ok(())
    }

    /// TPM2_HierarchyControl (Part 3 §24.2): enable or disable the owner, endorsement or
    /// platform hierarchy or the platform's NV indices. Only the platform may touch the
    /// platform's (and re-enable the others); the owner and endorsement may disable their
    /// own (TPM_RC_AUTH_TYPE otherwise). Disabling a hierarchy flushes its transient objects;
    /// its persistent objects and NV indices stay, unreachable (TPM_RC_HANDLE). Once the
    /// platform hierarchy is disabled nothing re-enables it before the next Startup(CLEAR).
    pub(crate) fn hierarchy_control(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let enable = p.u32()?;
        let state = p.u8()?;
        if !matches!(
            enable,
            RH_OWNER | RH_ENDORSEMENT | RH_PLATFORM | RH_PLATFORM_NV
        ) {
            return Err(TpmRc::VALUE.at_param(1));
        }
        let select = match state {
            0 => false,
            1 => true,
            _ => return Err(TpmRc::VALUE.at_param(2)),
        };
        p.finish()?;
        let auth = c.handle(0);
        let h = &mut self.hier;
        let slot = match enable {
            RH_OWNER => {
                if (auth != RH_PLATFORM && auth != RH_OWNER)
                    || (!h.sh_enable && select && auth != RH_PLATFORM)
                {
                    return Err(TpmRc::AUTH_TYPE);
                }
                &mut h.sh_enable
            }
            RH_ENDORSEMENT => {
                if (auth != RH_PLATFORM && auth != RH_ENDORSEMENT)
                    || (!h.eh_enable && select && auth != RH_PLATFORM)
                {
                    return Err(TpmRc::AUTH_TYPE);
                }
                &mut h.eh_enable
            }
            _ if auth != RH_PLATFORM => return Err(TpmRc::AUTH_TYPE),
            RH_PLATFORM => &mut h.ph_enable,
            _ => &mut h.ph_enable_nv,
        };
        if *slot != select {
            *slot = select;
            if !select && enable != RH_PLATFORM_NV {
                self.objects.flush_transient(enable);
            }
        }
        Ok(())
    }

    /// TPM2_PP_Commands (Part 3 §26.2): the list of commands that need physical presence. A
    /// vTPM has no physical presence, and PP_Commands itself always needs it, so the
    /// platform's authorization already fails with TPM_RC_PP (the reference's
    /// CheckAuthSession, [`Tpm::authorize`]); the list stays empty.
    pub(crate) fn pp_commands(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        for _ in 0..2 {
            let count = p.u32()?;
            if count > 256 {
                return Err(TpmRc::SIZE);
            }
            for _ in 0..count {
                p.u32()?;
            }
        }
        p.finish()?;
        Err(TpmRc::PP.at_session(1))
    }

    /// TPM2_SetAlgorithmSet (Part 3 §26.3): the platform chooses a vendor-defined set of
    /// algorithms. This TPM has one set, so the value is only kept and reported
    /// (TPM_PT_ALGORITHM_SET), as the reference implementation does.
    pub(crate) fn set_algorithm_set(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        let set = p.u32()?;
        p.finish()?;
        self.algorithm_set = set;
        Ok(())
    }

    /// TPM2_SetPrimaryPolicy (Part 3 §24.6): the authPolicy of a hierarchy (owner,
    /// endorsement, platform or lockout). Its size must be hashAlg's digest size (an empty
    /// policy with TPM_ALG_NULL removes it): TPM_RC_SIZE at parameter 1 otherwise.
    pub(crate) fn set_primary_policy(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let policy = p.tpm2b(MAX_DIGEST)?;
        let alg = p.next(crate::wire::types::read_hash_or_null)?;
        p.finish()?;
        if policy.len() != alg.map_or(0, crate::crypto::hash::HashAlg::size) {
            return Err(TpmRc::SIZE.at_param(1));
        }
        let digest = Digest::from_slice(policy).ok_or(TpmRc::SIZE.at_param(1))?;
        let h = &mut self.hier;
        let slot = match c.handle(0) {
            RH_OWNER => &mut h.owner_policy,
            RH_ENDORSEMENT => &mut h.endorsement_policy,
            RH_PLATFORM => &mut h.platform_policy,
            RH_LOCKOUT => &mut h.lockout_policy,
            _ => return Err(TpmRc::VALUE.at_handle(1)),
        };
        *slot = digest;
        Ok(())
    }

    /// TPM2_ClearControl (Part 3 §24.7): lockout may only set disableClear; platform may
    /// also clear it (TPM_RC_AUTH_FAIL for lockout trying to clear it).
    pub(crate) fn clear_control(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let disable = p.u8()?;
        p.finish()?;
        let disable = match disable {
            0 => false,
            1 => true,
            _ => return Err(TpmRc::VALUE.at_param(1)),
        };
        if c.handle(0) == RH_LOCKOUT && !disable {
            return Err(TpmRc::AUTH_FAIL);
        }
        self.hier.disable_clear = disable;
        Ok(())
    }

    /// TPM2_HierarchyChangeAuth (Part 3 §24.8): set the authValue of a hierarchy (trailing
    /// zeros are not significant).
    ///
    /// newAuth, without its trailing zeros, may be no longer than the digest of the context
    /// integrity hash (Part 3 §24.8: TPM_RC_SIZE at parameter 1, "newAuth size is greater
    /// than that of integrity hash digest"). Our context integrity hash is SHA-512
    /// (TPM_PT_CONTEXT_HASH), the longest digest implemented, as in the reference and
    /// libtpms: the limit is 64 bytes, TPM2B_AUTH's own bound (firmware such as OVMF sizes a
    /// random platformAuth by the longest PCR bank GetCapability(PCRS) lists, SHA-512's).
    /// Above 64 bytes: TPM_RC_SIZE at parameter 1 while unmarshaling.
    pub(crate) fn hierarchy_change_auth(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let new = p.tpm2b(MAX_DIGEST)?;
        p.finish()?;
        let mut auth = Auth::from_slice(new).ok_or(TpmRc::SIZE.at_param(1))?;
        auth.strip_trailing_zeros();
        if auth.len() > CONTEXT_INTEGRITY_HASH.size() {
            return Err(TpmRc::SIZE.at_param(1));
        }
        let slot = self
            .hier
            .auth_mut(c.handle(0))
            .ok_or(TpmRc::VALUE.at_handle(1))?;
        *slot = auth;
        Ok(())
    }
}

impl<P: Platform> Tpm<P> {
    /// TPM2_ChangeEPS (Part 3 §24.4): a new endorsement primary seed and ehProof from the
    /// DRBG; the endorsement hierarchy enabled, its authValue and authPolicy emptied, its
    /// transient and persistent objects flushed. Contexts saved in the endorsement
    /// hierarchy no longer load (their integrity key came from the old ehProof). NV indices
    /// stay (as in the reference implementation's NvFlushHierarchy).
    pub(crate) fn change_eps(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        p.finish()?;
        let eps = self.new_seed()?;
        let proof = self.new_seed()?;
        let h = &mut self.hier;
        h.eps = eps;
        h.eh_proof = proof;
        h.eh_enable = true;
        h.endorsement_auth = Auth::EMPTY;
        h.endorsement_policy = Digest::EMPTY;
        self.objects.flush_hierarchies(&[RH_ENDORSEMENT]);
        Ok(())
    }

    /// TPM2_ChangePPS (Part 3 §24.5): a new platform primary seed and phProof from the DRBG;
    /// the platform authPolicy and the PCR group policies emptied, the platform hierarchy's
    /// transient and persistent objects flushed (its saved contexts no longer load). The
    /// platform authValue and the platform's NV indices stay.
    pub(crate) fn change_pps(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        p.finish()?;
        let pps = self.new_seed()?;
        let proof = self.new_seed()?;
        let h = &mut self.hier;
        h.pps = pps;
        h.ph_proof = proof;
        h.platform_policy = Digest::EMPTY;
        self.pcrs.group_policy = Digest::EMPTY;
        self.objects.flush_hierarchies(&[RH_PLATFORM]);
        Ok(())
    }

    /// TPM2_DictionaryAttackLockReset (Part 3 §25.2): failedTries back to zero.
    pub(crate) fn da_lock_reset(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        p.finish()?;
        self.da.failed_tries = 0;
        Ok(())
    }

    /// TPM2_DictionaryAttackParameters (Part 3 §25.3): maxTries, recoveryTime and
    /// lockoutRecovery; failedTries is reset.
    pub(crate) fn da_parameters(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        let max_tries = p.u32()?;
        let recovery_time = p.u32()?;
        let lockout_recovery = p.u32()?;
        p.finish()?;
        self.da.max_tries = max_tries;
        self.da.recovery_time = recovery_time;
        self.da.lockout_recovery = lockout_recovery;
        self.da.failed_tries = 0;
        self.da.last_heal_ms = self.clock.last_ms;
        Ok(())
    }
}
