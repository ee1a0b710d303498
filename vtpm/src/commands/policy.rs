//! Enhanced authorization (Part 3 §23): the policy commands the EK / AK flows need.

use crate::Tpm;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::wire::Writer;
use crate::wire::constants::handle::RH_NULL;
use crate::wire::constants::{TpmCc, TpmSt};
use crate::wire::types::{Digest, MAX_DIGEST};

/// Most digests in a PolicyOR list (TPML_DIGEST, Part 2 §10.9.2).
const MAX_OR: usize = 8;

impl<P: Platform> Tpm<P> {
    /// TPM2_PolicySecret (Part 3 §23.4): authorization of `authHandle` was checked by the
    /// dispatcher; policyDigest ← H(H(policyDigest ‖ TPM_CC_PolicySecret ‖ authName) ‖
    /// policyRef). Time limits and cpHash binding are not offered (expiration and cpHashA must
    /// be zero / empty: TPM_RC_VALUE / TPM_RC_CPHASH otherwise).
    pub(crate) fn policy_secret(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let nonce = p.tpm2b(MAX_DIGEST)?;
        let cp_hash = p.tpm2b(MAX_DIGEST)?;
        let policy_ref = p.tpm2b(MAX_DIGEST)?;
        let expiration = p.u32()?;
        p.finish()?;
        let name = self.entity_name(c.handle(0));
        let sess = self
            .sessions
            .get(c.handle(1))
            .ok_or(TpmRc::reference_h(1))?;
        if !nonce.is_empty() && nonce != sess.nonce_tpm.as_slice() {
            return Err(TpmRc::NONCE.at_param(1));
        }
        if !cp_hash.is_empty() {
            return Err(TpmRc::CPHASH);
        }
        if expiration != 0 {
            return Err(TpmRc::VALUE.at_param(4));
        }
        let alg = sess.auth_hash;
        let d = alg.digest(&[
            sess.policy_digest.as_slice(),
            &TpmCc::POLICY_SECRET.0.to_be_bytes(),
            name.as_slice(),
        ]);
        let d = alg.digest(&[d.as_slice(), policy_ref]);
        w.u16(0)?; // timeout: empty
        w.u16(TpmSt::AUTH_SECRET.0)?;
        w.u32(RH_NULL)?;
        w.u16(0)?;
        if let Some(s) = self.sessions.get_mut(c.handle(1)) {
            s.policy_digest = d;
        }
        Ok(())
    }

    /// TPM2_PolicyOR (Part 3 §23.6): if policyDigest is one of the list, policyDigest ←
    /// H(0…0 ‖ TPM_CC_PolicyOR ‖ digests); TPM_RC_VALUE otherwise.
    pub(crate) fn policy_or(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let list = p.next(|r| {
            let v: heapless::Vec<Digest, MAX_OR> = crate::wire::types::read_list(r, |r| {
                Digest::from_slice(r.tpm2b(MAX_DIGEST)?).ok_or(TpmRc::SIZE)
            })?;
            if v.len() < 2 {
                return Err(TpmRc::SIZE);
            }
            Ok(v)
        })?;
        p.finish()?;
        let sess = self
            .sessions
            .get(c.handle(0))
            .ok_or(TpmRc::reference_h(0))?;
        let alg = sess.auth_hash;
        if !list.contains(&sess.policy_digest) {
            return Err(TpmRc::VALUE.at_param(1));
        }
        let mut h = crate::crypto::hash::HashState::new(alg);
        h.update(Digest::zeroed(alg.size()).ok_or(TpmRc::FAILURE)?.as_slice());
        h.update(&TpmCc::POLICY_OR.0.to_be_bytes());
        list.iter().for_each(|d| h.update(d.as_slice()));
        let d = h.finish();
        if let Some(s) = self.sessions.get_mut(c.handle(0)) {
            s.policy_digest = d;
        }
        Ok(())
    }

    /// TPM2_PolicyGetDigest (Part 3 §23.12).
    pub(crate) fn policy_get_digest(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        p.finish()?;
        let sess = self
            .sessions
            .get(c.handle(0))
            .ok_or(TpmRc::reference_h(0))?;
        w.tpm2b(sess.policy_digest.as_slice())?;
        Ok(())
    }

    /// TPM2_PolicyRestart (Part 3 §23.19): policyDigest back to zeros.
    pub(crate) fn policy_restart(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        p.finish()?;
        let s = self
            .sessions
            .get_mut(c.handle(0))
            .ok_or(TpmRc::reference_h(0))?;
        let zero = Digest::zeroed(s.auth_hash.size()).ok_or(TpmRc::FAILURE)?;
        s.policy_digest = zero;
        Ok(())
    }
}
