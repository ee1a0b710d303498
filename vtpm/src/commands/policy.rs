//! Enhanced authorization (Part 3 §23): the policy commands. The policy-session state they
//! assert is checked when the session authorizes a command (authorization.rs).

use crate::Tpm;
use crate::crypto::hmac::hmac;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::object::Object;
use crate::state::session::{Session, SessionKind};
use crate::wire::Writer;
use crate::wire::constants::handle::{
    HT_NV_INDEX, HT_PERMANENT, HT_PERSISTENT, HT_TRANSIENT, RH_ENDORSEMENT, RH_NULL, RH_OWNER,
    RH_PLATFORM, handle_type,
};
use crate::wire::constants::{TpmCc, TpmSt};
use crate::wire::types::{Digest, MAX_DIGEST};

/// Most digests in a PolicyOR list (TPML_DIGEST, Part 2 §10.9.2).
const MAX_OR: usize = 8;

/// The top bit of PolicySecret's timeout output: the ticket expires at the next TPM Reset
/// (nonceTPM was given, so the expiration is relative to the session's start).
const EXPIRES_ON_RESET: u64 = 1 << 63;

impl<P: Platform> Tpm<P> {
    /// The loaded policy (or trial) session at `h`.
    fn policy_session(&self, h: u32, n: u8) -> TpmResult<&Session> {
        self.sessions
            .get(h)
            .filter(|s| s.kind != SessionKind::Hmac)
            .ok_or(TpmRc::reference_h(n))
    }

    /// The hierarchy an entity belongs to (for tickets): a hierarchy itself (lockout and
    /// PCRs count as owner), an object's hierarchy, an NV index's (platform if
    /// PLATFORMCREATE, else owner).
    fn entity_hierarchy(&self, h: u32) -> u32 {
        match handle_type(h) {
            HT_PERMANENT => match h {
                RH_PLATFORM | RH_ENDORSEMENT | RH_NULL => h,
                _ => RH_OWNER,
            },
            HT_TRANSIENT | HT_PERSISTENT => match self.objects.get(h) {
                Some(Object::Key(k)) => k.hierarchy,
                _ => RH_NULL,
            },
            HT_NV_INDEX => match self.nv.get(h) {
                Some(nv) if nv.has(crate::state::nv::attr::PLATFORMCREATE) => RH_PLATFORM,
                _ => RH_OWNER,
            },
            _ => RH_OWNER,
        }
    }

    /// TPM2_PolicySecret (Part 3 §23.4): the dispatcher checked the authorization of
    /// `authHandle`; policyDigest ← H(H(policyDigest ‖ TPM_CC_PolicySecret ‖ authName) ‖
    /// policyRef). Outside a trial session, nonceTPM, expiration and cpHashA are checked
    /// (Part 3 §23.2.4, PolicyParameterChecks): a non-zero expiration limits the session's
    /// life (seconds from the session's start if nonceTPM is given, else of TPM time), and a
    /// negative one also returns a TPMT_TK_AUTH ticket.
    pub(crate) fn policy_secret(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let nonce = p.tpm2b(MAX_DIGEST)?;
        let cp_hash = p.tpm2b(MAX_DIGEST)?;
        let policy_ref = p.tpm2b(MAX_DIGEST)?;
        let expiration = i32::from_be_bytes(p.u32()?.to_be_bytes());
        p.finish()?;
        let auth_handle = c.handle(0);
        let name = self.entity_name(auth_handle);
        let sess = self.policy_session(c.handle(1), 1)?;
        let trial = sess.kind == SessionKind::Trial;
        let now = self.clock.time();
        let mut timeout = 0u64;
        let mut cp = None;
        if !trial {
            if expiration != 0 {
                let secs = u64::from(expiration.unsigned_abs()).saturating_mul(1000);
                timeout = if nonce.is_empty() {
                    secs.saturating_add(now % 1000)
                } else {
                    sess.start_ms.saturating_add(secs)
                };
            }
            if !nonce.is_empty() && nonce != sess.nonce_tpm.as_slice() {
                return Err(TpmRc::NONCE.at_param(1));
            }
            if timeout != 0 && timeout < now {
                return Err(TpmRc::EXPIRED.at_param(4));
            }
            if !cp_hash.is_empty() {
                if cp_hash.len() != sess.auth_hash.size() {
                    return Err(TpmRc::SIZE.at_param(2));
                }
                if sess
                    .policy
                    .cp_hash
                    .is_some_and(|old| old.as_slice() != cp_hash)
                {
                    return Err(TpmRc::CPHASH);
                }
                cp = Some(Digest::from_slice(cp_hash).ok_or(TpmRc::SIZE.at_param(2))?);
            }
        }
        let alg = sess.auth_hash;
        let d = alg.digest(&[
            sess.policy_digest.as_slice(),
            &TpmCc::POLICY_SECRET.0.to_be_bytes(),
            name.as_slice(),
        ]);
        let d = alg.digest(&[d.as_slice(), policy_ref]);
        if expiration < 0 && !trial {
            let hierarchy = self.entity_hierarchy(auth_handle);
            let proof = self.hier.proof(hierarchy).ok_or(TpmRc::FAILURE)?;
            let ticket = hmac(
                crate::commands::hash::TICKET_HASH,
                proof.expose(),
                &[
                    &TpmSt::AUTH_SECRET.0.to_be_bytes(),
                    cp_hash,
                    policy_ref,
                    name.as_slice(),
                    &timeout.to_be_bytes(),
                    &self.clock.reset_count.to_be_bytes(),
                ],
            );
            let flag = if nonce.is_empty() {
                0
            } else {
                EXPIRES_ON_RESET
            };
            w.tpm2b(&(timeout | flag).to_be_bytes())?;
            w.u16(TpmSt::AUTH_SECRET.0)?;
            w.u32(hierarchy)?;
            w.tpm2b(ticket.as_slice())?;
        } else {
            w.u16(0)?; // timeout: empty
            w.u16(TpmSt::AUTH_SECRET.0)?;
            w.u32(RH_NULL)?;
            w.u16(0)?;
        }
        if let Some(s) = self.sessions.get_mut(c.handle(1)) {
            s.policy_digest = d;
            if cp.is_some() {
                s.policy.cp_hash = cp;
            }
            if timeout != 0 && (s.policy.timeout_ms == 0 || s.policy.timeout_ms > timeout) {
                s.policy.timeout_ms = timeout;
            }
        }
        Ok(())
    }

    /// TPM2_PolicyOR (Part 3 §23.6): if policyDigest is one of the list (any digest in a
    /// trial session), policyDigest ← H(0…0 ‖ TPM_CC_PolicyOR ‖ digests); TPM_RC_VALUE
    /// otherwise.
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
        let sess = self.policy_session(c.handle(0), 0)?;
        let alg = sess.auth_hash;
        if sess.kind != SessionKind::Trial && !list.contains(&sess.policy_digest) {
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

    /// TPM2_PolicyCommandCode (Part 3 §23.11): the session authorizes only `code`;
    /// policyDigest ← H(policyDigest ‖ TPM_CC_PolicyCommandCode ‖ code). A different code
    /// asserted earlier is TPM_RC_VALUE; a code the TPM does not implement TPM_RC_POLICY_CC.
    pub(crate) fn policy_command_code(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let code = TpmCc(p.u32()?);
        p.finish()?;
        let sess = self.policy_session(c.handle(0), 0)?;
        if sess.policy.command_code.is_some_and(|old| old != code) {
            return Err(TpmRc::VALUE.at_param(1));
        }
        if crate::dispatch::lookup(code).is_none() {
            return Err(TpmRc::POLICY_CC.at_param(1));
        }
        let d = sess.auth_hash.digest(&[
            sess.policy_digest.as_slice(),
            &TpmCc::POLICY_COMMAND_CODE.0.to_be_bytes(),
            &code.0.to_be_bytes(),
        ]);
        if let Some(s) = self.sessions.get_mut(c.handle(0)) {
            s.policy_digest = d;
            s.policy.command_code = Some(code);
        }
        Ok(())
    }

    /// TPM2_PolicyAuthValue (Part 3 §23.17) and TPM2_PolicyPassword (§23.18): the entity's
    /// authValue is required at use, in the HMAC key (AuthValue) or in clear (Password); both
    /// extend policyDigest with TPM_CC_PolicyAuthValue.
    pub(crate) fn policy_auth_value(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        password: bool,
    ) -> TpmResult<()> {
        p.finish()?;
        let sess = self.policy_session(c.handle(0), 0)?;
        let d = sess.auth_hash.digest(&[
            sess.policy_digest.as_slice(),
            &TpmCc::POLICY_AUTH_VALUE.0.to_be_bytes(),
        ]);
        if let Some(s) = self.sessions.get_mut(c.handle(0)) {
            s.policy_digest = d;
            s.policy.password_needed = password;
            s.policy.auth_value_needed = !password;
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
        let sess = self.policy_session(c.handle(0), 0)?;
        w.tpm2b(sess.policy_digest.as_slice())?;
        Ok(())
    }

    /// TPM2_PolicyRestart (Part 3 §23.19): the policy starts over (policyDigest zeros, every
    /// assertion dropped).
    pub(crate) fn policy_restart(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        p.finish()?;
        self.policy_session(c.handle(0), 0)?;
        let now = self.clock.time();
        let s = self
            .sessions
            .get_mut(c.handle(0))
            .ok_or(TpmRc::reference_h(0))?;
        s.reset_policy(now);
        Ok(())
    }
}
