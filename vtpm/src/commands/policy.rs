//! Enhanced authorization (Part 3 §23): the policy commands. Each extends a policy session's
//! policyDigest and, outside a trial session, checks its assertion now or records it in the
//! session's [`PolicyState`](crate::state::session::PolicyState), which the authorization
//! check at use enforces (authorization.rs, `check_policy_session`).

use crate::Tpm;
use crate::crypto::hash::{HashAlg, HashState};
use crate::crypto::hmac::hmac;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::object::Object;
use crate::state::session::{Session, SessionKind};
use crate::wire::constants::handle::{
    HT_NV_INDEX, HT_PERMANENT, HT_PERSISTENT, HT_TRANSIENT, RH_ENDORSEMENT, RH_NULL, RH_OWNER,
    RH_PLATFORM, handle_type,
};
use crate::wire::constants::{TpmAlgId, TpmCc, TpmSt};
use crate::wire::public::ObjectAttrs;
use crate::wire::types::{Digest, MAX_DIGEST, PCR_COUNT, PcrSelectionList};
use crate::wire::{Reader, Writer};

/// Most digests in a PolicyOR list (TPML_DIGEST, Part 2 §10.9.2).
const MAX_OR: usize = 8;

/// The top bit of a policy ticket's timeout (TPM-specific format, as the reference
/// implementation): the ticket expires at the next TPM Reset, because the timeout is
/// absolute TPM time (no nonceTPM was given).
const EXPIRES_ON_RESET: u64 = 1 << 63;

/// The bytes of TPMS_TIME_INFO that PolicyCounterTimer compares: time ‖ clock ‖ resetCount ‖
/// restartCount ‖ safe (Part 2 §10.11.6).
const TIME_INFO_BYTES: usize = 25;

/// TPM_EO (Part 2 §6.8): the comparison of PolicyNV and PolicyCounterTimer, operandA (the
/// TPM's bytes) against operandB (the caller's), both big-endian of the same length.
fn check_condition(op: u16, a: &[u8], b: &[u8]) -> TpmResult<bool> {
    use core::cmp::Ordering;
    let unsigned = a.cmp(b);
    let signed = || {
        let neg = |x: &[u8]| x.first().is_some_and(|v| v & 0x80 != 0);
        match (neg(a), neg(b)) {
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => unsigned,
        }
    };
    let bits = || a.iter().zip(b).map(|(x, y)| (*x, *y));
    Ok(match op {
        0x0 => unsigned == Ordering::Equal,
        0x1 => unsigned != Ordering::Equal,
        0x2 => signed() == Ordering::Greater,
        0x3 => unsigned == Ordering::Greater,
        0x4 => signed() == Ordering::Less,
        0x5 => unsigned == Ordering::Less,
        0x6 => signed() != Ordering::Less,
        0x7 => unsigned != Ordering::Less,
        0x8 => signed() != Ordering::Greater,
        0x9 => unsigned != Ordering::Greater,
        0xA => bits().all(|(x, y)| x & y == y),
        0xB => bits().all(|(x, y)| x & y == 0),
        _ => return Err(TpmRc::VALUE),
    })
}

/// H(operandB ‖ offset ‖ operation): the argument digest of PolicyNV / PolicyCounterTimer.
fn args_hash(alg: HashAlg, operand: &[u8], offset: u16, op: u16) -> Digest {
    alg.digest(&[operand, &offset.to_be_bytes(), &op.to_be_bytes()])
}

/// The policyDigest update of Part 3 §23.2.3 (PolicyContextUpdate):
/// `H(H(old ‖ cc ‖ name) ‖ policyRef)`, the second hash only when `policy_ref` is given.
fn context_update(
    alg: HashAlg,
    old: &Digest,
    cc: TpmCc,
    name: &[u8],
    policy_ref: Option<&[u8]>,
) -> Digest {
    let d = alg.digest(&[old.as_slice(), &cc.0.to_be_bytes(), name]);
    match policy_ref {
        Some(r) => alg.digest(&[d.as_slice(), r]),
        None => d,
    }
}

/// What the parameter checks of PolicySigned / PolicySecret / PolicyTicket computed.
struct Checked {
    timeout: u64,
    cp_hash: Option<Digest>,
}

impl<P: Platform> Tpm<P> {
    /// The loaded policy (or trial) session at handle index `n`.
    fn policy_session(&self, c: &Cmd, n: u8) -> TpmResult<&Session> {
        self.sessions
            .get(c.handle(usize::from(n)))
            .filter(|s| s.kind != SessionKind::Hmac)
            .ok_or(TpmRc::reference_h(n))
    }

    /// Update the policy session at handle index `n` (checked loaded before).
    fn update_session(&mut self, c: &Cmd, n: u8, f: impl FnOnce(&mut Session)) -> TpmResult<()> {
        let s = self
            .sessions
            .get_mut(c.handle(usize::from(n)))
            .ok_or(TpmRc::reference_h(n))?;
        f(s);
        Ok(())
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

    /// The authTimeout of an expiration (Part 3 §23.2.5, ComputeAuthTimeout): seconds after
    /// the session's start when nonceTPM is given, else absolute TPM time; 0 = none.
    fn auth_timeout(&self, sess: &Session, expiration: i32, nonce: &[u8]) -> u64 {
        if expiration == 0 {
            return 0;
        }
        let ms = u64::from(expiration.unsigned_abs()).saturating_mul(1000);
        if nonce.is_empty() {
            ms.saturating_add(self.clock.time() % 1000)
        } else {
            sess.start_ms.saturating_add(ms)
        }
    }

    /// The checks shared by PolicySigned, PolicySecret and PolicyTicket (Part 3 §23.2.4,
    /// PolicyParameterChecks): nonceTPM (if given) is the session's, the timeout has not
    /// passed, cpHashA (if given) has the digest size and agrees with a cpHash asserted
    /// before. `params` are the parameter numbers of nonce, cpHashA and expiration.
    fn policy_parameter_checks(
        &self,
        sess: &Session,
        timeout: u64,
        cp_hash: &[u8],
        nonce: Option<&[u8]>,
        params: [u8; 3],
    ) -> TpmResult<Checked> {
        let [p_nonce, p_cp, p_exp] = params;
        if let Some(n) = nonce.filter(|n| !n.is_empty())
            && n != sess.nonce_tpm.as_slice()
        {
            return Err(TpmRc::NONCE.at_param(p_nonce));
        }
        if timeout != 0 && timeout < self.clock.time() {
            return Err(TpmRc::EXPIRED.at_param(p_exp));
        }
        let mut cp = None;
        if !cp_hash.is_empty() {
            if cp_hash.len() != sess.auth_hash.size() {
                return Err(TpmRc::SIZE.at_param(p_cp));
            }
            if sess.policy.name_hash.is_some()
                || sess.policy.template_hash.is_some()
                || sess
                    .policy
                    .cp_hash
                    .is_some_and(|old| old.as_slice() != cp_hash)
            {
                return Err(TpmRc::CPHASH);
            }
            cp = Some(Digest::from_slice(cp_hash).ok_or(TpmRc::SIZE.at_param(p_cp))?);
        }
        Ok(Checked {
            timeout,
            cp_hash: cp,
        })
    }

    /// The parameter checks of PolicySigned and PolicySecret (nonceTPM, cpHashA, expiration
    /// are parameters 1, 2 and 4 of both), skipped in a trial session (Part 3 §23.3, §23.4).
    fn authorization_checks(
        &self,
        sess: &Session,
        expiration: i32,
        nonce: &[u8],
        cp_hash: &[u8],
    ) -> TpmResult<Checked> {
        if sess.kind == SessionKind::Trial {
            return Ok(Checked {
                timeout: 0,
                cp_hash: None,
            });
        }
        let timeout = self.auth_timeout(sess, expiration, nonce);
        self.policy_parameter_checks(sess, timeout, cp_hash, Some(nonce), [1, 2, 4])
    }

    /// Record what PolicyContextUpdate records besides the digest: a cpHash and the
    /// earliest timeout.
    fn record(s: &mut Session, digest: Digest, checked: &Checked) {
        s.policy_digest = digest;
        if checked.cp_hash.is_some() {
            s.policy.cp_hash = checked.cp_hash;
        }
        let t = checked.timeout & !EXPIRES_ON_RESET;
        if t != 0 && (s.policy.timeout_ms == 0 || s.policy.timeout_ms > t) {
            s.policy.timeout_ms = t;
        }
    }

    /// TPMT_TK_AUTH's HMAC (TPM-specific, as TicketComputeAuth in the reference): keyed with
    /// the hierarchy's proof, over the tag, the timeout, and for a ticket that expires on
    /// reset the TPM Reset count, then cpHashA, policyRef and the authorizing entity's Name
    /// (each with its size). `None` for a hierarchy without a proof.
    #[allow(clippy::too_many_arguments)]
    fn auth_ticket(
        &self,
        tag: TpmSt,
        hierarchy: u32,
        timeout: u64,
        cp_hash: &[u8],
        policy_ref: &[u8],
        name: &[u8],
    ) -> Option<Digest> {
        let proof = self.hier.proof(hierarchy)?;
        let resets = if timeout & EXPIRES_ON_RESET != 0 {
            self.clock.total_resets
        } else {
            0
        };
        let size = |b: &[u8]| u16::try_from(b.len()).unwrap_or(u16::MAX).to_be_bytes();
        Some(hmac(
            crate::commands::hash::TICKET_HASH,
            proof.expose(),
            &[
                &tag.0.to_be_bytes(),
                &timeout.to_be_bytes(),
                &resets.to_be_bytes(),
                &size(cp_hash),
                cp_hash,
                &size(policy_ref),
                policy_ref,
                &size(name),
                name,
            ],
        ))
    }

    /// Write `timeout ‖ TPMT_TK_AUTH` of PolicySigned / PolicySecret: a ticket only for a
    /// negative expiration outside a trial session, else an empty timeout and a null ticket.
    #[allow(clippy::too_many_arguments)]
    fn write_auth_ticket(
        &self,
        w: &mut Writer<'_>,
        tag: TpmSt,
        issue: bool,
        hierarchy: u32,
        checked: &Checked,
        nonce: &[u8],
        cp_hash: &[u8],
        policy_ref: &[u8],
        name: &[u8],
    ) -> TpmResult<()> {
        let timeout = if nonce.is_empty() {
            checked.timeout | EXPIRES_ON_RESET
        } else {
            checked.timeout
        };
        match issue
            .then(|| self.auth_ticket(tag, hierarchy, timeout, cp_hash, policy_ref, name))
            .flatten()
        {
            Some(t) => {
                w.tpm2b(&timeout.to_be_bytes())?;
                w.u16(tag.0)?;
                w.u32(hierarchy)?;
                w.tpm2b(t.as_slice())?;
            }
            None => {
                w.u16(0)?;
                w.u16(tag.0)?;
                w.u32(RH_NULL)?;
                w.u16(0)?;
            }
        }
        Ok(())
    }

    /// TPM2_PolicySigned (Part 3 §23.3): `authObject` signed aHash = H(nonceTPM ‖ expiration
    /// ‖ cpHashA ‖ policyRef) (its signature's hash; checked outside a trial session, with
    /// PolicyParameterChecks); policyDigest ← H(H(policyDigest ‖ TPM_CC_PolicySigned ‖
    /// authObject's Name) ‖ policyRef). A negative expiration returns a TPMT_TK_AUTH ticket
    /// for PolicyTicket. The object may be public-only: a verifier's key loaded with
    /// LoadExternal is the usual signer.
    pub(crate) fn policy_signed(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let nonce = p.tpm2b(MAX_DIGEST)?;
        let cp_hash = p.tpm2b(MAX_DIGEST)?;
        let policy_ref = p.tpm2b(MAX_DIGEST)?;
        let expiration = i32::from_be_bytes(p.u32()?.to_be_bytes());
        let sig = p.next(crate::commands::signature::Signature::unmarshal)?;
        p.finish()?;
        let key = self.key(c, 0)?;
        let name = key.name;
        let hierarchy = key.hierarchy;
        let sess = self.policy_session(c, 1)?;
        let trial = sess.kind == SessionKind::Trial;
        let checked = self.authorization_checks(sess, expiration, nonce, cp_hash)?;
        if !trial {
            if !key.public.attrs.has(ObjectAttrs::SIGN) {
                return Err(TpmRc::ATTRIBUTES.at_param(5));
            }
            let a_hash =
                sig.hash()
                    .digest(&[nonce, &expiration.to_be_bytes(), cp_hash, policy_ref]);
            crate::commands::signature::verify_digest(key, a_hash.as_slice(), &sig)
                .map_err(|rc| rc.at_param(5))?;
        }
        let d = context_update(
            sess.auth_hash,
            &sess.policy_digest,
            TpmCc::POLICY_SIGNED,
            name.as_slice(),
            Some(policy_ref),
        );
        self.write_auth_ticket(
            w,
            TpmSt::AUTH_SIGNED,
            expiration < 0 && !trial,
            hierarchy,
            &checked,
            nonce,
            cp_hash,
            policy_ref,
            name.as_slice(),
        )?;
        self.update_session(c, 1, |s| Self::record(s, d, &checked))
    }

    /// TPM2_PolicySecret (Part 3 §23.4): the dispatcher checked the authorization of
    /// `authHandle`; policyDigest ← H(H(policyDigest ‖ TPM_CC_PolicySecret ‖ authName) ‖
    /// policyRef). Outside a trial session nonceTPM, expiration and cpHashA are checked; a
    /// negative expiration also returns a TPMT_TK_AUTH ticket.
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
        let sess = self.policy_session(c, 1)?;
        let trial = sess.kind == SessionKind::Trial;
        let checked = self.authorization_checks(sess, expiration, nonce, cp_hash)?;
        let d = context_update(
            sess.auth_hash,
            &sess.policy_digest,
            TpmCc::POLICY_SECRET,
            name.as_slice(),
            Some(policy_ref),
        );
        self.write_auth_ticket(
            w,
            TpmSt::AUTH_SECRET,
            expiration < 0 && !trial,
            self.entity_hierarchy(auth_handle),
            &checked,
            nonce,
            cp_hash,
            policy_ref,
            name.as_slice(),
        )?;
        self.update_session(c, 1, |s| Self::record(s, d, &checked))
    }

    /// TPM2_PolicyTicket (Part 3 §23.5): a ticket from PolicySigned / PolicySecret stands in
    /// for the signature or the secret. Not in a trial session (TPM_RC_ATTRIBUTES); the
    /// timeout must not have passed, the ticket's HMAC must verify (TPM_RC_TICKET).
    pub(crate) fn policy_ticket(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let timeout = p.tpm2b(8)?;
        let cp_hash = p.tpm2b(MAX_DIGEST)?;
        let policy_ref = p.tpm2b(MAX_DIGEST)?;
        let auth_name = p.tpm2b(crate::wire::types::MAX_NAME)?;
        let (tag, hierarchy, digest) = p.next(|r| {
            let tag = TpmSt(r.u16()?);
            if tag != TpmSt::AUTH_SIGNED && tag != TpmSt::AUTH_SECRET {
                return Err(TpmRc::TAG);
            }
            let hierarchy = crate::commands::hash::read_hierarchy(r)?;
            Ok((tag, hierarchy, r.tpm2b(MAX_DIGEST)?))
        })?;
        p.finish()?;
        let sess = self.policy_session(c, 0)?;
        if sess.kind == SessionKind::Trial {
            return Err(TpmRc::ATTRIBUTES.at_handle(1));
        }
        let raw: [u8; 8] = timeout.try_into().map_err(|_| TpmRc::SIZE.at_param(1))?;
        let raw = u64::from_be_bytes(raw);
        let checked =
            self.policy_parameter_checks(sess, raw & !EXPIRES_ON_RESET, cp_hash, None, [0, 2, 1])?;
        let expect = self
            .auth_ticket(tag, hierarchy, raw, cp_hash, policy_ref, auth_name)
            .filter(|_| hierarchy != RH_NULL)
            .ok_or(TpmRc::TICKET.at_param(5))?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(expect.as_slice(), digest)) {
            return Err(TpmRc::TICKET.at_param(5));
        }
        let cc = if tag == TpmSt::AUTH_SIGNED {
            TpmCc::POLICY_SIGNED
        } else {
            TpmCc::POLICY_SECRET
        };
        let d = context_update(
            sess.auth_hash,
            &sess.policy_digest,
            cc,
            auth_name,
            Some(policy_ref),
        );
        self.update_session(c, 0, |s| Self::record(s, d, &checked))
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
        let sess = self.policy_session(c, 0)?;
        let alg = sess.auth_hash;
        if sess.kind != SessionKind::Trial && !list.contains(&sess.policy_digest) {
            return Err(TpmRc::VALUE.at_param(1));
        }
        let mut h = HashState::new(alg);
        h.update(Digest::zeroed(alg.size()).ok_or(TpmRc::FAILURE)?.as_slice());
        h.update(&TpmCc::POLICY_OR.0.to_be_bytes());
        list.iter().for_each(|d| h.update(d.as_slice()));
        let d = h.finish();
        self.update_session(c, 0, |s| s.policy_digest = d)
    }

    /// TPM2_PolicyPCR (Part 3 §23.7): policyDigest ← H(policyDigest ‖ TPM_CC_PolicyPCR ‖ pcrs
    /// ‖ digest of the selected PCRs). Outside a trial session the given pcrDigest must equal
    /// the current one (TPM_RC_VALUE) and the session remembers pcrUpdateCounter: a PCR
    /// change before use fails the authorization (TPM_RC_PCR_CHANGED); a trial session takes
    /// the given pcrDigest as it is.
    pub(crate) fn policy_pcr(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let given = p.tpm2b(MAX_DIGEST)?;
        let (mut sel, raw) = p.next(|r| {
            let before = r.rest();
            let sel = PcrSelectionList::unmarshal(r)?;
            let used = before.len().saturating_sub(r.rest().len());
            Ok((sel, before.get(..used).ok_or(TpmRc::FAILURE)?))
        })?;
        p.finish()?;
        let sess = self.policy_session(c, 0)?;
        let alg = sess.auth_hash;
        let mut h = HashState::new(alg);
        for s in sel.0.iter_mut() {
            for i in 0..PCR_COUNT {
                if s.is_selected(i)
                    && let Some(v) = self.pcrs.get(s.hash, i)
                {
                    h.update(v.as_slice());
                }
            }
        }
        let mut digest = h.finish();
        let counter = self.pcrs.update_counter;
        let trial = sess.kind == SessionKind::Trial;
        if trial {
            if !given.is_empty() {
                digest = Digest::from_slice(given).ok_or(TpmRc::SIZE.at_param(1))?;
            }
        } else {
            if sess.policy.pcr_counter.is_some_and(|old| old != counter) {
                return Err(TpmRc::PCR_CHANGED);
            }
            if !given.is_empty() && given != digest.as_slice() {
                return Err(TpmRc::VALUE.at_param(1));
            }
        }
        let d = alg.digest(&[
            sess.policy_digest.as_slice(),
            &TpmCc::POLICY_PCR.0.to_be_bytes(),
            raw,
            digest.as_slice(),
        ]);
        self.update_session(c, 0, |s| {
            s.policy_digest = d;
            if !trial {
                s.policy.pcr_counter = Some(counter);
            }
        })
    }

    /// TPM2_PolicyLocality (Part 3 §23.8): the command must come from one of the localities
    /// (0–4 as a bit field, or one extended locality ≥ 32); assertions narrow each other, and
    /// an empty result or mixing the two kinds is TPM_RC_RANGE. policyDigest ←
    /// H(policyDigest ‖ TPM_CC_PolicyLocality ‖ locality).
    pub(crate) fn policy_locality(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let loc = p.u8()?;
        p.finish()?;
        let sess = self.policy_session(c, 0)?;
        let prev = sess.policy.locality;
        let range = TpmRc::RANGE.at_param(1);
        if loc == 0 || (prev != 0 && (prev < 32) != (loc < 32)) {
            return Err(range);
        }
        let new = if loc < 32 {
            let merged = if prev == 0 { 0x1F } else { prev } & loc;
            if merged == 0 {
                return Err(range);
            }
            merged
        } else {
            if prev != 0 && prev != loc {
                return Err(range);
            }
            loc
        };
        let d = sess.auth_hash.digest(&[
            sess.policy_digest.as_slice(),
            &TpmCc::POLICY_LOCALITY.0.to_be_bytes(),
            &[loc],
        ]);
        self.update_session(c, 0, |s| {
            s.policy_digest = d;
            s.policy.locality = new;
        })
    }

    /// TPM2_PolicyCpHash (Part 3 §23.9) and TPM2_PolicyNameHash (§23.10): the command's
    /// cpHash (or nameHash, the hash of its handles' Names) must be this one. The digest size
    /// of the session's hash (TPM_RC_SIZE); a different one asserted before, or the other
    /// kind, is TPM_RC_CPHASH. policyDigest ← H(policyDigest ‖ cc ‖ value).
    pub(crate) fn policy_cp_hash(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        name_hash: bool,
    ) -> TpmResult<()> {
        let value = p.tpm2b(MAX_DIGEST)?;
        p.finish()?;
        let sess = self.policy_session(c, 0)?;
        if value.len() != sess.auth_hash.size() {
            return Err(TpmRc::SIZE.at_param(1));
        }
        let st = sess.policy;
        let conflict = if name_hash {
            st.cp_hash.is_some() || st.name_hash.is_some() || st.template_hash.is_some()
        } else {
            st.name_hash.is_some()
                || st.template_hash.is_some()
                || st.cp_hash.is_some_and(|old| old.as_slice() != value)
        };
        if conflict {
            return Err(TpmRc::CPHASH);
        }
        let cc = if name_hash {
            TpmCc::POLICY_NAME_HASH
        } else {
            TpmCc::POLICY_CP_HASH
        };
        let d = sess
            .auth_hash
            .digest(&[sess.policy_digest.as_slice(), &cc.0.to_be_bytes(), value]);
        let v = Digest::from_slice(value).ok_or(TpmRc::SIZE.at_param(1))?;
        self.update_session(c, 0, |s| {
            s.policy_digest = d;
            if name_hash {
                s.policy.name_hash = Some(v);
            } else {
                s.policy.cp_hash = Some(v);
            }
        })
    }

    /// TPM2_PolicyTemplate (Part 3 §23.21): the session may only authorize creating an
    /// object whose TPMT_PUBLIC hashes to `templateHash`. A different template asserted
    /// before is TPM_RC_VALUE, a cpHash or nameHash TPM_RC_CPHASH, a wrong size TPM_RC_SIZE.
    pub(crate) fn policy_template(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let value = p.tpm2b(MAX_DIGEST)?;
        p.finish()?;
        let sess = self.policy_session(c, 0)?;
        let st = sess.policy;
        if let Some(old) = st.template_hash {
            if old.as_slice() != value {
                return Err(TpmRc::VALUE.at_param(1));
            }
        } else if st.cp_hash.is_some() || st.name_hash.is_some() {
            return Err(TpmRc::CPHASH);
        }
        if value.len() != sess.auth_hash.size() {
            return Err(TpmRc::SIZE.at_param(1));
        }
        let d = sess.auth_hash.digest(&[
            sess.policy_digest.as_slice(),
            &TpmCc::POLICY_TEMPLATE.0.to_be_bytes(),
            value,
        ]);
        let v = Digest::from_slice(value).ok_or(TpmRc::SIZE.at_param(1))?;
        self.update_session(c, 0, |s| {
            s.policy_digest = d;
            s.policy.template_hash = Some(v);
        })
    }

    /// TPM2_PolicyDuplicationSelect (Part 3 §23.15): the session authorizes only TPM2_Duplicate
    /// of the object named `objectName` to the new parent `newParentName`: nameHash ←
    /// H(objectName ‖ newParentName), commandCode ← TPM_CC_Duplicate, policyDigest ←
    /// H(policyDigest ‖ TPM_CC_PolicyDuplicationSelect ‖ [objectName] ‖ newParentName ‖
    /// includeObject), objectName only with includeObject YES. A cpHash, nameHash or template
    /// asserted before is TPM_RC_CPHASH, a command code TPM_RC_COMMAND_CODE (the reference's
    /// order).
    pub(crate) fn policy_duplication_select(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
    ) -> TpmResult<()> {
        let object = p.tpm2b(crate::wire::types::MAX_NAME)?;
        let parent = p.tpm2b(crate::wire::types::MAX_NAME)?;
        let include = p.next(|r| match r.u8()? {
            v @ (0 | 1) => Ok(v),
            _ => Err(TpmRc::VALUE),
        })?;
        p.finish()?;
        let sess = self.policy_session(c, 0)?;
        let st = sess.policy;
        if st.cp_hash.is_some() || st.name_hash.is_some() || st.template_hash.is_some() {
            return Err(TpmRc::CPHASH);
        }
        if st.command_code.is_some() {
            return Err(TpmRc::COMMAND_CODE);
        }
        let alg = sess.auth_hash;
        let name_hash = alg.digest(&[object, parent]);
        let shown: &[u8] = if include == 1 { object } else { &[] };
        let d = alg.digest(&[
            sess.policy_digest.as_slice(),
            &TpmCc::POLICY_DUPLICATION_SELECT.0.to_be_bytes(),
            shown,
            parent,
            &[include],
        ]);
        self.update_session(c, 0, |s| {
            s.policy_digest = d;
            s.policy.name_hash = Some(name_hash);
            s.policy.command_code = Some(TpmCc::DUPLICATE);
        })
    }

    /// TPM2_PolicyCommandCode (Part 3 §23.11): the session authorizes only `code`;
    /// policyDigest ← H(policyDigest ‖ TPM_CC_PolicyCommandCode ‖ code). A different code
    /// asserted earlier is TPM_RC_VALUE; a code the TPM does not implement TPM_RC_POLICY_CC.
    pub(crate) fn policy_command_code(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let code = TpmCc(p.u32()?);
        p.finish()?;
        let sess = self.policy_session(c, 0)?;
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
        self.update_session(c, 0, |s| {
            s.policy_digest = d;
            s.policy.command_code = Some(code);
        })
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
        let sess = self.policy_session(c, 0)?;
        let d = sess.auth_hash.digest(&[
            sess.policy_digest.as_slice(),
            &TpmCc::POLICY_AUTH_VALUE.0.to_be_bytes(),
        ]);
        self.update_session(c, 0, |s| {
            s.policy_digest = d;
            s.policy.password_needed = password;
            s.policy.auth_value_needed = !password;
        })
    }

    /// TPM2_PolicyPhysicalPresence (Part 3 §23.13): physical presence is required at use
    /// (isPPRequired); policyDigest ← H(policyDigest ‖ TPM_CC_PolicyPhysicalPresence). A vTPM
    /// has no physical-presence signal, so such a policy never authorizes (TPM_RC_PP).
    pub(crate) fn policy_physical_presence(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
    ) -> TpmResult<()> {
        p.finish()?;
        let sess = self.policy_session(c, 0)?;
        let d = sess.auth_hash.digest(&[
            sess.policy_digest.as_slice(),
            &TpmCc::POLICY_PHYSICAL_PRESENCE.0.to_be_bytes(),
        ]);
        self.update_session(c, 0, |s| {
            s.policy_digest = d;
            s.policy.pp_required = true;
        })
    }

    /// TPM2_PolicyNvWritten (Part 3 §23.20): the NV index authorized must (YES) or must not
    /// (NO) have been written; a contrary assertion before is TPM_RC_VALUE. policyDigest ←
    /// H(policyDigest ‖ TPM_CC_PolicyNvWritten ‖ writtenSet).
    pub(crate) fn policy_nv_written(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let set = p.u8()?;
        if set > 1 {
            return Err(TpmRc::VALUE.at_param(1));
        }
        p.finish()?;
        let sess = self.policy_session(c, 0)?;
        let want = set == 1;
        if sess.policy.nv_written.is_some_and(|old| old != want) {
            return Err(TpmRc::VALUE.at_param(1));
        }
        let d = sess.auth_hash.digest(&[
            sess.policy_digest.as_slice(),
            &TpmCc::POLICY_NV_WRITTEN.0.to_be_bytes(),
            &[set],
        ]);
        self.update_session(c, 0, |s| {
            s.policy_digest = d;
            s.policy.nv_written = Some(want);
        })
    }

    /// Read and compare arguments of PolicyNV / PolicyCounterTimer: `operandB ‖ offset ‖
    /// operation` (TPM_EO above TPM_EO_BITCLEAR is TPM_RC_VALUE at parameter 3).
    fn read_condition<'a>(p: &mut Params<'a>) -> TpmResult<(&'a [u8], u16, u16)> {
        let operand = p.tpm2b(MAX_DIGEST)?;
        let offset = p.u16()?;
        let op = p.u16()?;
        if op > 0xB {
            return Err(TpmRc::VALUE.at_param(3));
        }
        p.finish()?;
        Ok((operand, offset, op))
    }

    /// TPM2_PolicyNV (Part 3 §23.9): outside a trial session, the index must be readable with
    /// the authorization given (as NV_Read), and `NV[offset..] op operandB` must hold
    /// (TPM_RC_POLICY otherwise). policyDigest ← H(policyDigest ‖ TPM_CC_PolicyNV ‖
    /// H(operandB ‖ offset ‖ operation) ‖ nvIndexName).
    pub(crate) fn policy_nv(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let (operand, offset, op) = Self::read_condition(p)?;
        let sess = self.policy_session(c, 2)?;
        if sess.kind != SessionKind::Trial {
            let nv = self.nv_read_access(c)?;
            let off = usize::from(offset);
            let size = self.nv.data(nv).len();
            if off > size {
                return Err(TpmRc::VALUE.at_param(2));
            }
            let end = off
                .checked_add(operand.len())
                .filter(|e| *e <= size)
                .ok_or(TpmRc::SIZE.at_param(1))?;
            let a = self
                .nv
                .data(nv)
                .get(off..end)
                .ok_or(TpmRc::SIZE.at_param(1))?;
            if !check_condition(op, a, operand)? {
                return Err(TpmRc::POLICY);
            }
        }
        let alg = sess.auth_hash;
        let name = self.entity_name(c.handle(1));
        let d = alg.digest(&[
            sess.policy_digest.as_slice(),
            &TpmCc::POLICY_NV.0.to_be_bytes(),
            args_hash(alg, operand, offset, op).as_slice(),
            name.as_slice(),
        ]);
        self.update_session(c, 2, |s| s.policy_digest = d)
    }

    /// TPM2_PolicyCounterTimer (Part 3 §23.10): outside a trial session, TPMS_TIME_INFO
    /// (time ‖ clockInfo)`[offset..] op operandB` must hold (TPM_RC_RANGE past its 25 bytes,
    /// TPM_RC_POLICY if false). policyDigest ← H(policyDigest ‖ TPM_CC_PolicyCounterTimer ‖
    /// H(operandB ‖ offset ‖ operation)).
    pub(crate) fn policy_counter_timer(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let (operand, offset, op) = Self::read_condition(p)?;
        let sess = self.policy_session(c, 0)?;
        if sess.kind != SessionKind::Trial {
            let mut info = [0u8; TIME_INFO_BYTES];
            let mut iw = Writer::new(&mut info);
            iw.u64(self.clock.time())?;
            self.clock.info().marshal(&mut iw)?;
            let off = usize::from(offset);
            let a = off
                .checked_add(operand.len())
                .and_then(|end| info.get(off..end))
                .ok_or(TpmRc::RANGE)?;
            if !check_condition(op, a, operand)? {
                return Err(TpmRc::POLICY);
            }
        }
        let alg = sess.auth_hash;
        let d = alg.digest(&[
            sess.policy_digest.as_slice(),
            &TpmCc::POLICY_COUNTER_TIMER.0.to_be_bytes(),
            args_hash(alg, operand, offset, op).as_slice(),
        ]);
        self.update_session(c, 0, |s| s.policy_digest = d)
    }

    /// TPM2_PolicyAuthorize (Part 3 §23.16): a policy approved by `keySign` replaces the
    /// session's digest. Outside a trial session approvedPolicy must be the current digest
    /// (TPM_RC_VALUE) and checkTicket a TPMT_TK_VERIFIED from VerifySignature over
    /// H_keyNameAlg(approvedPolicy ‖ policyRef) by that key (TPM_RC_VALUE at parameter 4).
    /// policyDigest ← H(H(0…0 ‖ TPM_CC_PolicyAuthorize ‖ keySign) ‖ policyRef).
    pub(crate) fn policy_authorize(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let approved = p.tpm2b(MAX_DIGEST)?;
        let policy_ref = p.tpm2b(MAX_DIGEST)?;
        let key_sign = p.tpm2b(crate::wire::types::MAX_NAME)?;
        let (hierarchy, ticket) = p.next(|r| {
            if TpmSt(r.u16()?) != TpmSt::VERIFIED {
                return Err(TpmRc::TAG);
            }
            let hierarchy = crate::commands::hash::read_hierarchy(r)?;
            Ok((hierarchy, r.tpm2b(MAX_DIGEST)?))
        })?;
        p.finish()?;
        let (alg_bytes, key_digest) = key_sign
            .split_first_chunk::<2>()
            .ok_or(TpmRc::SIZE.at_param(3))?;
        let key_alg = HashAlg::from_alg(TpmAlgId(u16::from_be_bytes(*alg_bytes)))
            .ok_or(TpmRc::HASH.at_param(3))?;
        if key_digest.len() != key_alg.size() {
            return Err(TpmRc::SIZE.at_param(3));
        }
        let sess = self.policy_session(c, 0)?;
        if sess.kind != SessionKind::Trial {
            if approved != sess.policy_digest.as_slice() {
                return Err(TpmRc::VALUE.at_param(1));
            }
            let a_hash = key_alg.digest(&[approved, policy_ref]);
            let expect = self
                .verified_ticket(hierarchy, a_hash.as_slice(), key_sign)
                .ok_or(TpmRc::VALUE.at_param(4))?;
            if !bool::from(subtle::ConstantTimeEq::ct_eq(expect.as_slice(), ticket)) {
                return Err(TpmRc::VALUE.at_param(4));
            }
        }
        let alg = sess.auth_hash;
        let zeros = Digest::zeroed(alg.size()).ok_or(TpmRc::FAILURE)?;
        let d = context_update(
            alg,
            &zeros,
            TpmCc::POLICY_AUTHORIZE,
            key_sign,
            Some(policy_ref),
        );
        self.update_session(c, 0, |s| s.policy_digest = d)
    }

    /// TPM2_PolicyAuthorizeNV (Part 3 §23.22): the policy stored in an NV index (a TPMT_HA)
    /// replaces the session's digest if it equals it. Outside a trial session the index must
    /// be readable (as NV_Read); its first bytes are unmarshaled as a TPMT_HA, whatever the
    /// index type (as the detailed actions of §23.22: a counter, bit-field or PIN index is
    /// not refused for its type, its contents fail to be a TPMT_HA of the session's hash),
    /// which must name the session's hash (TPM_RC_HASH) and be whole (TPM_RC_INSUFFICIENT),
    /// with a digest equal to policyDigest (TPM_RC_VALUE).
    /// policyDigest ← H(0…0 ‖ TPM_CC_PolicyAuthorizeNV ‖ nvIndexName).
    pub(crate) fn policy_authorize_nv(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        p.finish()?;
        let sess = self.policy_session(c, 2)?;
        let alg = sess.auth_hash;
        if sess.kind != SessionKind::Trial {
            let nv = self.nv_read_access(c)?;
            let mut r = Reader::new(self.nv.data(nv));
            let stored = HashAlg::from_alg(TpmAlgId(r.u16()?)).ok_or(TpmRc::HASH)?;
            if stored != alg {
                return Err(TpmRc::HASH);
            }
            let d = r.bytes(alg.size())?;
            if d != sess.policy_digest.as_slice() {
                return Err(TpmRc::VALUE);
            }
        }
        let zeros = Digest::zeroed(alg.size()).ok_or(TpmRc::FAILURE)?;
        let name = self.entity_name(c.handle(1));
        let d = context_update(
            alg,
            &zeros,
            TpmCc::POLICY_AUTHORIZE_NV,
            name.as_slice(),
            None,
        );
        self.update_session(c, 2, |s| s.policy_digest = d)
    }

    /// TPM2_PolicyGetDigest (Part 3 §23.12).
    pub(crate) fn policy_get_digest(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        p.finish()?;
        let sess = self.policy_session(c, 0)?;
        w.tpm2b(sess.policy_digest.as_slice())?;
        Ok(())
    }

    /// TPM2_PolicyRestart (Part 3 §23.19): the policy starts over (policyDigest zeros, every
    /// assertion dropped).
    pub(crate) fn policy_restart(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        p.finish()?;
        self.policy_session(c, 0)?;
        self.update_session(c, 0, Session::reset_policy)
    }
}

#[cfg(test)]
mod tests {
    use super::check_condition;

    #[test]
    fn tpm_eo_comparisons() {
        let (a, b) = ([0x80u8, 0], [0x7Fu8, 0xFF]); // a negative if signed, larger unsigned
        let t = |op| check_condition(op, &a, &b).unwrap();
        assert!(!t(0) && t(1));
        assert!(!t(2) && t(3), "signed: a < b; unsigned: a > b");
        assert!(t(4) && !t(5));
        assert!(!t(6) && t(7));
        assert!(t(8) && !t(9));
        assert!(check_condition(0xA, &[0xF0], &[0x30]).unwrap());
        assert!(!check_condition(0xA, &[0xF0], &[0x31]).unwrap());
        assert!(check_condition(0xB, &[0xF0], &[0x0F]).unwrap());
        assert!(!check_condition(0xB, &[0xF0], &[0x10]).unwrap());
        assert!(check_condition(0, &[], &[]).unwrap());
        assert!(check_condition(0xC, &[1], &[1]).is_err());
    }
}
