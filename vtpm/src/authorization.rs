//! Session processing: who may authorize a command, with what (TCG TPM 2.0 Part 1 §19; Part 3
//! §5.6 "Authorization Checks" and §5.7 "Parameter Decryption"; the response side of §5.8).
//!
//! This module reads top to bottom in the order a command meets it:
//!
//! 1. [`Tpm::retrieve_sessions`]: each session of the authorization area on its own (password
//!    attributes and nonce, loaded, listed once, at most one decrypt / encrypt session, the
//!    session kind matches its handle).
//! 2. [`Tpm::authorize`]: the sessions against the handles (TPM_RC_AUTH_MISSING), trial
//!    sessions refused, the dictionary-attack state of bound sessions, then for each session
//!    that authorizes a handle [`Tpm::check_auth_session`], and for the others the HMAC alone.
//! 3. [`Tpm::check_auth_session`]: includeAuth (is the authValue in the HMAC key?), lockout,
//!    the role rules (policy required? authValue / authPolicy available?), the policy check
//!    ([`Tpm::check_policy_session`]), then the password or HMAC.
//! 4. [`Tpm::increment_lockout`]: a failed authValue is counted against the entity whose
//!    authValue the key held, or the bind entity's (Part 1 §19.8).
//! 5. Parameter decryption and response encryption keys ([`Tpm::crypt_key`]).
//! 6. [`Tpm::respond_sessions`]: response HMACs, fresh nonces, policy sessions start over,
//!    sessions without continueSession are flushed.
//!
//! A failing check changes nothing but the dictionary-attack counters (Part 1 §19.8: a failed
//! authorization of a DA-protected entity is counted even though the command fails) and the
//! pinCount of a PIN index whose authValue was tried (Part 1 §37.2.5, [`Tpm::update_pin`]).

use crate::Tpm;
use crate::crypto::hash::{HashAlg, HashState};
use crate::crypto::hmac::hmac;
use crate::crypto::kdf::kdfa;
use crate::dispatch::{Cmd, CommandInfo, Role};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::object::Object;
use crate::state::session::{BindValue, Session, SessionKind, SessionSym};
use crate::wire::Writer;
use crate::wire::auth::{AuthArea, AuthCommand, SessionAttrs};
use crate::wire::constants::TpmCc;
use crate::wire::constants::handle::{
    HT_NV_INDEX, HT_PCR, HT_PERMANENT, HT_PERSISTENT, HT_POLICY_SESSION, HT_TRANSIENT,
    RH_ENDORSEMENT, RH_LOCKOUT, RH_NULL, RH_OWNER, RH_PLATFORM, RS_PW, handle_type,
};
use crate::wire::types::{Auth, Digest, MAX_DIGEST, Name, Nonce, Secret, handle_name};

/// Most sessions in one command (Part 2 §10.13: three).
pub const MAX_SESSIONS: usize = crate::wire::auth::MAX_SESSIONS;

/// An HMAC key: sessionKey ‖ authValue (Part 1 §19.6.8).
type HmacKey = Secret<{ 2 * MAX_DIGEST }>;

/// One session of the authorization area, checked.
#[derive(Clone, Copy)]
pub(crate) struct SessionUse<'c> {
    /// The session as the caller sent it.
    pub cmd: AuthCommand<'c>,
    /// The handle this session authorizes; `None` for a session that only encrypts,
    /// decrypts or audits.
    pub associated: Option<u32>,
    /// includeAuth: whether the authorized entity's authValue is in the HMAC key.
    pub include_auth: bool,
    /// The next nonceTPM, drawn before the command runs so that nothing can fail after it.
    pub next_nonce: Nonce,
}

/// The authorization area of one command after [`Tpm::authorize`].
pub(crate) struct Authorized<'c> {
    /// The sessions, in order.
    pub uses: heapless::Vec<SessionUse<'c>, MAX_SESSIONS>,
    /// The index of the session that decrypts the first command parameter.
    pub decrypt: Option<usize>,
    /// The index of the session that encrypts the first response parameter.
    pub encrypt: Option<usize>,
    /// The audit session's index and the command's cpHash with its hash (over the
    /// parameters as received, before decryption).
    pub audit: Option<(usize, Digest)>,
}

impl Authorized<'_> {
    /// No sessions (TPM_ST_NO_SESSIONS).
    pub const fn none() -> Self {
        Self {
            uses: heapless::Vec::new(),
            decrypt: None,
            encrypt: None,
            audit: None,
        }
    }

    /// Whether the first handle was authorized by a policy session.
    pub fn first_is_policy(&self) -> bool {
        self.uses.first().is_some_and(|u| {
            u.associated.is_some() && handle_type(u.cmd.handle) == HT_POLICY_SESSION
        })
    }
}

/// 1-based session number for response-code positions.
fn session_no(i: usize) -> u8 {
    u8::try_from(i.saturating_add(1)).unwrap_or(u8::MAX)
}

impl<P: Platform> Tpm<P> {
    // ---------------------------------------------------------------------------------
    // 1. The sessions on their own.
    // ---------------------------------------------------------------------------------

    /// Check each session of the area by itself (Part 3 §5.6.2, §5.6.4; the reference
    /// implementation's RetrieveSessionData): a password session has only continueSession
    /// and an empty nonce; any other session is loaded, listed once, of the kind its handle
    /// says; decrypt and encrypt each appear in at most one session, on a command that has
    /// such a parameter, and with a session that has a symmetric algorithm; audit appears in
    /// at most one session, an HMAC session, which must still be the exclusive audit session
    /// if the caller asks for auditExclusive. Returns the decrypt, encrypt and audit session
    /// indices.
    fn retrieve_sessions(
        &self,
        info: &CommandInfo,
        area: &AuthArea<'_>,
    ) -> TpmResult<[Option<usize>; 3]> {
        let mut decrypt = None;
        let mut encrypt = None;
        let mut audit = None;
        for (i, s) in area.iter().enumerate() {
            let n = session_no(i);
            if s.handle == RS_PW {
                if s.attrs.0 & !SessionAttrs::CONTINUE_SESSION != 0 {
                    return Err(TpmRc::ATTRIBUTES.at_session(n));
                }
                if !s.nonce.is_empty() {
                    return Err(TpmRc::NONCE.at_session(n));
                }
                continue;
            }
            let sess = self
                .sessions
                .get(s.handle)
                .ok_or(TpmRc::reference_s(u8::try_from(i).unwrap_or(0)))?;
            if area.iter().take(i).any(|p| p.handle == s.handle) {
                return Err(TpmRc::HANDLE.at_session(n));
            }
            if s.attrs.has(SessionAttrs::DECRYPT) {
                if !info.decrypts() || decrypt.is_some() {
                    return Err(TpmRc::ATTRIBUTES.at_session(n));
                }
                if sess.symmetric == SessionSym::Null {
                    return Err(TpmRc::SYMMETRIC.at_session(n));
                }
                decrypt = Some(i);
            }
            if s.attrs.has(SessionAttrs::ENCRYPT) {
                if !info.encrypts() || encrypt.is_some() {
                    return Err(TpmRc::ATTRIBUTES.at_session(n));
                }
                if sess.symmetric == SessionSym::Null {
                    return Err(TpmRc::SYMMETRIC.at_session(n));
                }
                encrypt = Some(i);
            }
            if s.attrs.has(SessionAttrs::AUDIT) {
                if audit.is_some() || handle_type(s.handle) == HT_POLICY_SESSION {
                    return Err(TpmRc::ATTRIBUTES.at_session(n));
                }
                if !s.attrs.has(SessionAttrs::AUDIT_RESET)
                    && sess.audit_digest.is_some()
                    && s.attrs.has(SessionAttrs::AUDIT_EXCLUSIVE)
                    && self.exclusive_audit != Some(s.handle)
                {
                    return Err(TpmRc::EXCLUSIVE);
                }
                audit = Some(i);
            }
        }
        Ok([decrypt, encrypt, audit])
    }

    // ---------------------------------------------------------------------------------
    // 2. The sessions against the handles.
    // ---------------------------------------------------------------------------------

    /// Authorize a command (Part 3 §5.6; the reference implementation's ParseSessionBuffer).
    /// On success every session is checked and its next nonceTPM drawn; on failure nothing
    /// changed except the dictionary-attack counters.
    pub(crate) fn authorize<'c>(
        &mut self,
        c: &Cmd,
        info: &CommandInfo,
        area: &AuthArea<'c>,
        params: &[u8],
    ) -> TpmResult<Authorized<'c>> {
        let [decrypt, encrypt, audit] = self.retrieve_sessions(info, area)?;
        if area.len() < usize::from(info.auth) {
            return Err(TpmRc::AUTH_MISSING);
        }
        let audit = audit
            .and_then(|i| Some((i, self.sessions.get(area.get(i)?.handle)?.auth_hash)))
            .map(|(i, alg)| (i, self.cp_hash(c, info, alg, params)));
        let mut out = Authorized {
            uses: heapless::Vec::new(),
            decrypt,
            encrypt,
            audit,
        };
        for (i, s) in area.iter().enumerate() {
            let n = session_no(i);
            let associated = (i < usize::from(info.auth)).then(|| c.handle(i));
            let mut include_auth = false;
            if s.handle == RS_PW {
                if associated.is_none() {
                    return Err(TpmRc::HANDLE.at_session(n));
                }
            } else {
                let sess = self.sessions.get(s.handle).ok_or(TpmRc::FAILURE)?;
                // A trial session can neither authorize, nor audit, nor encrypt.
                if sess.kind == SessionKind::Trial {
                    return Err(TpmRc::ATTRIBUTES.at_session(n));
                }
                // Bound to a DA-protected entity: every use is subject to lockout.
                if sess.da_bound {
                    self.check_locked_out(sess.lockout_bound)?;
                }
            }
            match associated {
                Some(h) => {
                    include_auth = self.check_auth_session(c, info, area, params, i, h)?;
                }
                None => {
                    let roles = SessionAttrs::DECRYPT | SessionAttrs::ENCRYPT | SessionAttrs::AUDIT;
                    if s.attrs.0 & roles == 0 {
                        return Err(TpmRc::ATTRIBUTES.at_session(n));
                    }
                    // A session that only encrypts still proves it knows the sessionKey.
                    if !self.check_session_hmac(c, info, area, params, i, None, false)? {
                        return Err(self.increment_lockout(i, s, None, false));
                    }
                }
            }
            out.uses
                .push(SessionUse {
                    cmd: *s,
                    associated,
                    include_auth,
                    next_nonce: Nonce::EMPTY,
                })
                .map_err(|_| TpmRc::AUTHSIZE)?;
        }
        for u in out.uses.iter_mut() {
            if let Some(sess) = self.sessions.get(u.cmd.handle) {
                let mut nonce = Nonce::zeroed(sess.auth_hash.size()).ok_or(TpmRc::FAILURE)?;
                self.random(nonce.as_mut_slice())?;
                u.next_nonce = nonce;
            }
        }
        Ok(out)
    }

    // ---------------------------------------------------------------------------------
    // 3. One session that authorizes a handle.
    // ---------------------------------------------------------------------------------

    /// Check session `i`, which authorizes handle `h` (Part 1 §19.6, §19.7; the reference
    /// implementation's CheckAuthSession). Returns includeAuth.
    fn check_auth_session(
        &mut self,
        c: &Cmd,
        info: &CommandInfo,
        area: &AuthArea<'_>,
        params: &[u8],
        i: usize,
        h: u32,
    ) -> TpmResult<bool> {
        let n = session_no(i);
        // Physical presence (the reference's CheckAuthSession, before the session is
        // looked at): PP_Commands always needs it and a vTPM never has it.
        if h == RH_PLATFORM && info.code == TpmCc::PP_COMMANDS {
            return Err(TpmRc::PP.at_session(n));
        }
        let s = area.get(i).ok_or(TpmRc::FAILURE)?;
        let role = info.role(i);
        let policy = if s.handle == RS_PW {
            None
        } else {
            let sess = self.sessions.get(s.handle).ok_or(TpmRc::FAILURE)?;
            Some((sess.kind == SessionKind::Policy, sess.policy))
        };
        // includeAuth: a password always uses the authValue; an HMAC session unless it is
        // bound to this very entity (same Name, same authValue); a policy session only after
        // PolicyAuthValue or PolicyPassword.
        let include_auth = match policy {
            None => true,
            Some((true, state)) => state.auth_value_needed || state.password_needed,
            Some((false, _)) => {
                let sess = self.sessions.get(s.handle).ok_or(TpmRc::FAILURE)?;
                !self.is_bind_entity(h, sess)
            }
        };
        if include_auth && !self.da_exempt(h) {
            self.check_locked_out(h == RH_LOCKOUT)?;
        }
        let password_needed = match policy {
            Some((true, state)) => {
                if !self.auth_policy_available(h, info, i) {
                    return Err(TpmRc::AUTH_UNAVAILABLE);
                }
                self.check_policy_session(c, info, params, s.handle, h, role)
                    .map_err(|rc| rc.at_session(n))?;
                state.password_needed
            }
            _ => {
                if self.is_policy_session_required(h, role) {
                    return Err(TpmRc::AUTH_TYPE.at_session(n));
                }
                if !self.auth_value_available(h, role) {
                    return Err(TpmRc::AUTH_UNAVAILABLE);
                }
                false
            }
        };
        let ok = if s.handle == RS_PW || password_needed {
            self.check_password(h, s.hmac)
        } else {
            self.check_session_hmac(c, info, area, params, i, Some(h), include_auth)?
        };
        if include_auth && handle_type(h) == HT_NV_INDEX {
            self.update_pin(h, ok);
        }
        if ok {
            Ok(include_auth)
        } else {
            Err(self.increment_lockout(i, s, Some(h), include_auth))
        }
    }

    /// Whether the role must be authorized with a policy session (Part 1 §19.2; the
    /// reference implementation's IsPolicySessionRequired): the DUP role always; the ADMIN
    /// role, unless the entity is an object without adminWithPolicy; a PCR of a group with an
    /// authPolicy.
    fn is_policy_session_required(&self, h: u32, role: Role) -> bool {
        match role {
            Role::Dup => return true,
            // A PCR whose group has an authPolicy (TPM2_PCR_SetAuthPolicy) takes only a policy
            // session.
            Role::User => return handle_type(h) == HT_PCR && !self.entity_policy(h).is_empty(),
            Role::Admin => {}
        }
        match self.objects.get(h) {
            Some(Object::Key(k)) => k
                .public
                .attrs
                .has(crate::wire::public::ObjectAttrs::ADMIN_WITH_POLICY),
            Some(Object::Sequence(_)) => false,
            None => true,
        }
    }

    /// Whether the authValue of `h` is available for this role (Part 1 §19.2; the reference
    /// implementation's IsAuthValueAvailable): hierarchies and PCRs always; a sequence
    /// always; an object only with its sensitive area loaded (not public-only) and with
    /// userWithAuth (USER role) or without adminWithPolicy (ADMIN role); an NV index per its
    /// AUTHWRITE attribute to write, and to read per AUTHREAD, or for a PIN index once
    /// written while its pinCount is below its pinLimit.
    fn auth_value_available(&self, h: u32, role: Role) -> bool {
        match handle_type(h) {
            HT_PERMANENT => matches!(
                h,
                RH_OWNER | RH_ENDORSEMENT | RH_PLATFORM | RH_LOCKOUT | RH_NULL
            ),
            HT_PCR => true,
            HT_TRANSIENT | HT_PERSISTENT => match self.objects.get(h) {
                Some(Object::Sequence(_)) => true,
                Some(Object::Key(k)) => {
                    use crate::wire::public::ObjectAttrs;
                    !k.public_only
                        && (k.public.attrs.has(ObjectAttrs::USER_WITH_AUTH)
                            || (role == Role::Admin
                                && !k.public.attrs.has(ObjectAttrs::ADMIN_WITH_POLICY)))
                }
                None => false,
            },
            HT_NV_INDEX => self.nv.get(h).is_some_and(|nv| {
                use crate::state::nv::attr;
                if self.is_nv_write() {
                    nv.has(attr::AUTHWRITE)
                } else if nv.is_pin() {
                    // A PIN index's authValue: once written, while pinCount < pinLimit.
                    let (count, limit) = self.nv.pin_counts(nv);
                    nv.has(attr::WRITTEN) && count < limit
                } else {
                    nv.has(attr::AUTHREAD)
                }
            }),
            _ => false,
        }
    }

    /// After the authValue of a written PIN index was tried (the reference implementation's
    /// CheckAuthSession, Part 1 §37.2.5): a PIN fail index counts a failure and starts over
    /// at zero on success; a PIN pass index counts each success. Like the dictionary-attack
    /// counters, this change stays even though a failed authorization fails the command.
    fn update_pin(&mut self, h: u32, ok: bool) {
        use crate::state::nv::attr;
        let Some(nv) = self.nv.get(h) else {
            return;
        };
        if !nv.has(attr::WRITTEN) {
            return;
        }
        let (count, limit) = self.nv.pin_counts(nv);
        let count = match nv.nt() {
            attr::NT_PIN_FAIL if ok => 0,
            attr::NT_PIN_FAIL => count.wrapping_add(1),
            attr::NT_PIN_PASS if ok => count.wrapping_add(1),
            _ => return,
        };
        let value = (u64::from(count) << 32) | u64::from(limit);
        let _ = self.nv.set_u64(h, value);
    }

    /// Whether an authPolicy of `h` is available (the reference implementation's
    /// IsAuthPolicyAvailable): a hierarchy with a non-empty policy; an object with its
    /// sensitive area loaded (never a sequence); an NV index with a non-empty policy where
    /// policy is required or POLICYREAD / POLICYWRITE allows it.
    fn auth_policy_available(&self, h: u32, info: &CommandInfo, i: usize) -> bool {
        match handle_type(h) {
            HT_PERMANENT => !self.entity_policy(h).is_empty(),
            HT_TRANSIENT | HT_PERSISTENT => {
                matches!(self.objects.get(h), Some(Object::Key(k)) if !k.public_only)
            }
            // PCRs of the policy group (the reference implementation's PCRPolicyIsAvailable).
            HT_PCR => usize::try_from(h).is_ok_and(crate::state::pcr::in_auth_group),
            HT_NV_INDEX => self.nv.get(h).is_some_and(|nv| {
                use crate::state::nv::attr;
                !nv.auth_policy.is_empty()
                    && (self.is_policy_session_required(h, info.role(i))
                        || nv.has(if self.is_nv_write() {
                            attr::POLICYWRITE
                        } else {
                            attr::POLICYREAD
                        }))
            }),
            _ => false,
        }
    }

    /// Whether the current command writes an NV index (the reference implementation's
    /// IsWriteOperation); every other use of an index's authorization is a read.
    fn is_nv_write(&self) -> bool {
        matches!(
            self.current_cc,
            TpmCc::NV_WRITE
                | TpmCc::NV_INCREMENT
                | TpmCc::NV_SET_BITS
                | TpmCc::NV_EXTEND
                | TpmCc::NV_WRITE_LOCK
        )
    }

    /// The policy check at use (Part 1 §19.7.1; the reference implementation's
    /// CheckPolicyAuthSession): policyDigest equals the entity's authPolicy, the policy has
    /// not expired, the command code, locality, cpHash and nameHash asserted match, and an
    /// ADMIN- or DUP-role authorization was limited to a command code.
    fn check_policy_session(
        &self,
        c: &Cmd,
        info: &CommandInfo,
        params: &[u8],
        session: u32,
        h: u32,
        role: Role,
    ) -> TpmResult<()> {
        let sess = self.sessions.get(session).ok_or(TpmRc::FAILURE)?;
        let st = sess.policy;
        // PolicySecret proves knowledge of the authValue: a policy that does not use it
        // cannot stand in for it.
        if c.code == TpmCc::POLICY_SECRET && !st.auth_value_needed && !st.password_needed {
            return Err(TpmRc::MODE);
        }
        // PolicyPCR checked PCRs that have changed since.
        if st
            .pcr_counter
            .is_some_and(|c| c != self.pcrs.update_counter)
        {
            return Err(TpmRc::PCR_CHANGED);
        }
        // The digests' sizes tell their hashes apart (SHA-256/384/512 only), so equal
        // digests mean the same policy hash algorithm.
        let auth_policy = self.entity_policy(h);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            auth_policy.as_slice(),
            sess.policy_digest.as_slice(),
        )) {
            return Err(TpmRc::POLICY_FAIL);
        }
        if st.timeout_ms != 0 && st.timeout_ms < self.clock.time() {
            return Err(TpmRc::EXPIRED);
        }
        match st.command_code {
            Some(cc) if cc != c.code => return Err(TpmRc::POLICY_CC),
            None if role != Role::User => return Err(TpmRc::POLICY_FAIL),
            _ => {}
        }
        if st.locality != 0 {
            let loc = c.locality;
            let ok = if loc < 5 {
                st.locality <= 31 && st.locality & (1u8 << loc) != 0
            } else if loc > 31 {
                st.locality == loc
            } else {
                false
            };
            if !ok {
                return Err(TpmRc::LOCALITY);
            }
        }
        // isPPRequired: the platform has no physical-presence signal, so it is never asserted
        // (the reference's _plat__PhysicalPresenceAsserted() returning FALSE).
        if st.pp_required {
            return Err(TpmRc::PP);
        }
        if let Some(cp) = st.cp_hash
            && cp != self.cp_hash(c, info, sess.auth_hash, params)
        {
            return Err(TpmRc::POLICY_FAIL);
        }
        if let Some(nh) = st.name_hash
            && nh != self.name_hash(c, info, sess.auth_hash)
        {
            return Err(TpmRc::POLICY_FAIL);
        }
        if let Some(th) = st.template_hash
            && template_hash(c.code, sess.auth_hash, params) != Some(th)
        {
            return Err(TpmRc::POLICY_FAIL);
        }
        if let Some(want) = st.nv_written {
            let written = self
                .nv
                .get(h)
                .map(|nv| nv.has(crate::state::nv::attr::WRITTEN))
                .ok_or(TpmRc::POLICY_FAIL)?;
            if written != want {
                return Err(TpmRc::POLICY_FAIL);
            }
        }
        Ok(())
    }

    /// A password (or PolicyPassword's clear authValue), trailing zeros stripped on both
    /// sides, compared in constant time (Part 1 §19.6.4).
    fn check_password(&self, h: u32, given: &[u8]) -> bool {
        let mut auth = self.entity_auth(h).unwrap_or_default();
        auth.strip_trailing_zeros();
        let mut given = Auth::from_slice(given).unwrap_or_default();
        given.strip_trailing_zeros();
        given.len() == auth.len() && auth.ct_eq_slice(given.expose())
    }

    /// Check the command HMAC of session `i` (Part 1 §19.6.5):
    /// HMAC(sessionKey ‖ authValue?, cpHash ‖ nonceCaller ‖ nonceTPM ‖ nonceTPMdecrypt ‖
    /// nonceTPMencrypt ‖ sessionAttributes). With an empty key, an empty HMAC is accepted.
    #[allow(clippy::too_many_arguments)]
    fn check_session_hmac(
        &self,
        c: &Cmd,
        info: &CommandInfo,
        area: &AuthArea<'_>,
        params: &[u8],
        i: usize,
        associated: Option<u32>,
        include_auth: bool,
    ) -> TpmResult<bool> {
        let s = area.get(i).ok_or(TpmRc::FAILURE)?;
        let sess = self.sessions.get(s.handle).ok_or(TpmRc::FAILURE)?;
        let key = self.hmac_key(sess, associated, include_auth)?;
        if key.is_empty() && s.hmac.is_empty() {
            return Ok(true);
        }
        let cp = self.cp_hash(c, info, sess.auth_hash, params);
        let (dec_nonce, enc_nonce) = if i == 0 && associated.is_some() {
            self.crypt_nonces(area)
        } else {
            (Nonce::EMPTY, Nonce::EMPTY)
        };
        let expect = hmac(
            sess.auth_hash,
            key.expose(),
            &[
                cp.as_slice(),
                s.nonce,
                sess.nonce_tpm.as_slice(),
                dec_nonce.as_slice(),
                enc_nonce.as_slice(),
                &[s.attrs.0],
            ],
        );
        Ok(subtle::ConstantTimeEq::ct_eq(expect.as_slice(), s.hmac).into())
    }

    /// The nonceTPM of the decrypt and of the encrypt session when they are not the first
    /// session: both enter the first session's command HMAC (Part 1 §19.6.5).
    fn crypt_nonces(&self, area: &AuthArea<'_>) -> (Nonce, Nonce) {
        let nonce_of = |attr: u8, skip: Option<usize>| {
            area.iter()
                .enumerate()
                .skip(1)
                .find(|(i, s)| s.attrs.has(attr) && Some(*i) != skip)
                .and_then(|(i, s)| Some((i, self.sessions.get(s.handle)?.nonce_tpm)))
        };
        let dec = nonce_of(SessionAttrs::DECRYPT, None);
        let enc = nonce_of(SessionAttrs::ENCRYPT, dec.map(|(i, _)| i));
        (
            dec.map(|(_, n)| n).unwrap_or_default(),
            enc.map(|(_, n)| n).unwrap_or_default(),
        )
    }

    /// sessionKey ‖ authValue of `associated` (trailing zeros stripped) when `include_auth`:
    /// the HMAC key of Part 1 §19.6.8.
    fn hmac_key(
        &self,
        sess: &Session,
        associated: Option<u32>,
        include_auth: bool,
    ) -> TpmResult<HmacKey> {
        let mut key = HmacKey::from_slice(sess.session_key.expose()).ok_or(TpmRc::FAILURE)?;
        if include_auth && let Some(h) = associated {
            let mut auth = self.entity_auth(h).unwrap_or_default();
            auth.strip_trailing_zeros();
            key.extend(auth.expose()).ok_or(TpmRc::FAILURE)?;
        }
        Ok(key)
    }

    // ---------------------------------------------------------------------------------
    // 4. Dictionary-attack protection.
    // ---------------------------------------------------------------------------------

    /// Count a failed authorization (Part 1 §19.8; the reference implementation's
    /// IncrementLockout) and return its code: TPM_RC_AUTH_FAIL when it counted, TPM_RC_BAD_AUTH
    /// when no DA-protected authValue was involved. The entity that counts is the one whose
    /// authValue the key held: the bind entity of a session bound to a DA-protected entity
    /// (lockoutAuth for a session bound to TPM_RH_LOCKOUT), else the authorized entity if its
    /// authValue was used.
    fn increment_lockout(
        &mut self,
        i: usize,
        s: &AuthCommand<'_>,
        associated: Option<u32>,
        include_auth: bool,
    ) -> TpmRc {
        let n = session_no(i);
        let mut handle = associated;
        if s.handle == RS_PW {
            if associated.is_none_or(|h| self.da_exempt(h)) {
                return TpmRc::BAD_AUTH.at_session(n);
            }
        } else {
            let (da_bound, lockout_bound) = self
                .sessions
                .get(s.handle)
                .map_or((false, false), |s| (s.da_bound, s.lockout_bound));
            if lockout_bound {
                handle = Some(RH_LOCKOUT);
            }
            let exempt = handle.is_none_or(|h| self.da_exempt(h));
            if !da_bound && (exempt || !include_auth) {
                return TpmRc::BAD_AUTH.at_session(n);
            }
        }
        let now = self.clock.last_ms;
        if handle == Some(RH_LOCKOUT) {
            self.da.fail_lockout(now);
        } else {
            self.da.fail(now);
        }
        TpmRc::AUTH_FAIL.at_session(n)
    }

    /// TPM_RC_LOCKOUT if the TPM is in lockout (or, for lockoutAuth, if its use is locked).
    fn check_locked_out(&self, lockout_auth: bool) -> TpmResult<()> {
        let locked = if lockout_auth {
            self.da.lockout_auth_locked(self.clock.last_ms)
        } else {
            self.da.in_lockout()
        };
        if locked { Err(TpmRc::LOCKOUT) } else { Ok(()) }
    }

    /// Whether failed authorizations of `h` are exempt from dictionary-attack protection
    /// (the reference implementation's IsDAExempted): hierarchies other than lockout, PCRs,
    /// and objects and NV indices with noDA, wherever the object lives.
    pub(crate) fn da_exempt(&self, h: u32) -> bool {
        match handle_type(h) {
            HT_PERMANENT => h != RH_LOCKOUT,
            HT_PCR => true,
            HT_NV_INDEX => self
                .nv
                .get(h)
                .is_none_or(|nv| nv.has(crate::state::nv::attr::NO_DA)),
            HT_TRANSIENT | HT_PERSISTENT => match self.objects.get(h) {
                Some(Object::Key(k)) => k.public.attrs.has(crate::wire::public::ObjectAttrs::NO_DA),
                // A sequence's authValue is chosen by its creator and gives access to
                // nothing else: as the reference implementation, no DA protection.
                Some(Object::Sequence(_)) => true,
                None => false,
            },
            _ => false,
        }
    }

    // ---------------------------------------------------------------------------------
    // Binding (StartAuthSession) and entities.
    // ---------------------------------------------------------------------------------

    /// The bind value of entity `h` now: SHA-256(size ‖ Name ‖ authValue), the authValue with
    /// trailing zeros stripped (Part 1 §19.6.10, as the reference implementation's
    /// SessionComputeBoundEntity combines the two).
    pub(crate) fn bind_value(&self, h: u32) -> BindValue {
        let name = self.entity_name(h);
        let mut auth = self.entity_auth(h).unwrap_or_default();
        auth.strip_trailing_zeros();
        let size = u16::try_from(name.len()).unwrap_or(u16::MAX).to_be_bytes();
        let d = HashAlg::Sha256.digest(&[&size, name.as_slice(), auth.expose()]);
        let mut v = [0u8; 32];
        if let Some(src) = d.as_slice().get(..32) {
            v.copy_from_slice(src);
        }
        BindValue(v)
    }

    /// Whether `sess` is bound to `h` as it is now (the reference implementation's
    /// IsSessionBindEntity): the bind values are compared in constant time.
    fn is_bind_entity(&self, h: u32, sess: &Session) -> bool {
        sess.bound.is_some_and(|b| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                &b.0[..],
                &self.bind_value(h).0[..],
            ))
        })
    }

    /// The Name of an entity (Part 1 §16): the handle for PCRs, permanent handles and
    /// sessions; the Empty Buffer for sequence objects, which have no public area (as the
    /// reference implementation and ESYS compute it).
    pub(crate) fn entity_name(&self, h: u32) -> Name {
        match self.objects.get(h) {
            Some(Object::Sequence(_)) => Name::EMPTY,
            Some(Object::Key(k)) => k.name,
            None => match self.nv.get(h) {
                Some(nv) => nv.name(),
                None => handle_name(h),
            },
        }
    }

    /// The authPolicy of an entity (empty if it has none).
    pub(crate) fn entity_policy(&self, h: u32) -> Digest {
        match handle_type(h) {
            HT_PERMANENT => match h {
                RH_OWNER => self.hier.owner_policy,
                RH_ENDORSEMENT => self.hier.endorsement_policy,
                RH_PLATFORM => self.hier.platform_policy,
                RH_LOCKOUT => self.hier.lockout_policy,
                _ => Digest::EMPTY,
            },
            HT_TRANSIENT | HT_PERSISTENT => match self.objects.get(h) {
                Some(Object::Key(k)) => k.public.auth_policy,
                _ => Digest::EMPTY,
            },
            HT_NV_INDEX => self.nv.get(h).map(|nv| nv.auth_policy).unwrap_or_default(),
            HT_PCR if usize::try_from(h).is_ok_and(crate::state::pcr::in_auth_group) => {
                self.pcrs.group_policy
            }
            _ => Digest::EMPTY,
        }
    }

    /// The authValue of an entity, if it has one (a public-only object's is empty: callers
    /// check availability first).
    pub(crate) fn entity_auth(&self, h: u32) -> Option<Auth> {
        match handle_type(h) {
            HT_PCR if usize::try_from(h).is_ok_and(crate::state::pcr::in_auth_group) => {
                Some(self.pcrs.group_auth.clone())
            }
            HT_PCR => Some(Auth::EMPTY),
            HT_PERMANENT if h == RH_NULL => Some(Auth::EMPTY),
            HT_NV_INDEX => self.nv.get(h).map(|nv| nv.auth.clone()),
            HT_PERMANENT => self.hier.auth(h).cloned(),
            HT_TRANSIENT | HT_PERSISTENT => match self.objects.get(h)? {
                Object::Sequence(s) => Some(s.auth.clone()),
                Object::Key(k) => Some(k.auth.clone()),
            },
            _ => None,
        }
    }

    /// cpHash = H(commandCode ‖ Name(h1) ‖ … ‖ parameters) (Part 1 §18.7).
    pub(crate) fn cp_hash(
        &self,
        c: &Cmd,
        info: &CommandInfo,
        alg: HashAlg,
        params: &[u8],
    ) -> Digest {
        let mut h = HashState::new(alg);
        h.update(&c.code.0.to_be_bytes());
        for i in 0..info.handles.len() {
            h.update(self.entity_name(c.handle(i)).as_slice());
        }
        h.update(params);
        h.finish()
    }

    /// nameHash = H(Name(h1) ‖ … ) (Part 3 §23.15, TPM2_PolicyNameHash).
    pub(crate) fn name_hash(&self, c: &Cmd, info: &CommandInfo, alg: HashAlg) -> Digest {
        let mut h = HashState::new(alg);
        for i in 0..info.handles.len() {
            h.update(self.entity_name(c.handle(i)).as_slice());
        }
        h.finish()
    }

    // ---------------------------------------------------------------------------------
    // 5. Parameter encryption.
    // ---------------------------------------------------------------------------------

    /// The parameter-encryption key of a session (Part 1 §21.1): sessionKey ‖ the authValue
    /// of the entity it authorizes, whether or not the session is bound to it (as the
    /// reference implementation's CryptParameterDecryption), or the sessionKey alone for a
    /// session that authorizes nothing.
    pub(crate) fn crypt_key(&self, sess: &Session, associated: Option<u32>) -> TpmResult<HmacKey> {
        self.hmac_key(sess, associated, true)
    }

    // ---------------------------------------------------------------------------------
    // 6. The response.
    // ---------------------------------------------------------------------------------

    /// Write the response authorization area and commit the sessions (Part 1 §19.6.17;
    /// Part 3 §5.8): the response HMAC over rpHash with the fresh nonceTPM, the new nonce
    /// kept, a policy session's policy started over (it authorized this command and must be
    /// satisfied anew for the next), and a session without continueSession flushed. Runs
    /// after the command succeeded; its only failure is a response too large for the buffer.
    pub(crate) fn respond_sessions(
        &mut self,
        c: &Cmd,
        auth: &Authorized<'_>,
        rp_params: &[u8],
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let mut attrs = [0u8; MAX_SESSIONS];
        for (a, u) in attrs.iter_mut().zip(&auth.uses) {
            *a = u.cmd.attrs.0;
        }
        if let Some((i, cp)) = &auth.audit
            && let Some(a) = attrs.get_mut(*i)
        {
            *a = self.audit_command(c, auth, *i, cp, rp_params, *a);
        }
        for (u, attrs) in auth.uses.iter().zip(attrs) {
            if u.cmd.handle == RS_PW {
                w.bytes(&[0, 0, SessionAttrs::CONTINUE_SESSION, 0, 0])?;
                continue;
            }
            let Some(sess) = self.sessions.get(u.cmd.handle) else {
                // The command itself flushed the session: answer without a nonce.
                w.bytes(&[0, 0, attrs, 0, 0])?;
                continue;
            };
            let alg = sess.auth_hash;
            let key = self.hmac_key(sess, u.associated, u.include_auth)?;
            let password = sess.kind == SessionKind::Policy && sess.policy.password_needed;
            let mac = if password || (key.is_empty() && u.cmd.hmac.is_empty()) {
                Digest::EMPTY
            } else {
                let rp = alg.digest(&[&0u32.to_be_bytes(), &c.code.0.to_be_bytes(), rp_params]);
                hmac(
                    alg,
                    key.expose(),
                    &[
                        rp.as_slice(),
                        u.next_nonce.as_slice(),
                        u.cmd.nonce,
                        &[attrs],
                    ],
                )
            };
            w.tpm2b(u.next_nonce.as_slice())?;
            w.u8(attrs)?;
            w.tpm2b(mac.as_slice())?;
        }
        let now = self.clock.time();
        for u in &auth.uses {
            if u.cmd.handle == RS_PW {
                continue;
            }
            if u.cmd.attrs.has(SessionAttrs::CONTINUE_SESSION) {
                if let Some(sess) = self.sessions.get_mut(u.cmd.handle) {
                    sess.nonce_tpm = u.next_nonce;
                    if sess.kind == SessionKind::Policy {
                        // The nonce rolled: a new timing interval starts too.
                        sess.reset_policy();
                        sess.start_ms = now;
                    }
                }
            } else {
                self.flush_session(u.cmd.handle);
            }
        }
        Ok(())
    }

    /// Session audit of a successful command (Part 1 §19.6.14; the reference
    /// implementation's UpdateAuditSessionStatus): the first use (or auditReset) starts the
    /// digest at zeros, makes the session the exclusive audit session and unbinds it; a later
    /// use keeps exclusivity only if no command ran outside the session since. The digest
    /// becomes H(digest ‖ cpHash ‖ rpHash). Returns the response's sessionAttributes, with
    /// auditExclusive reporting exclusivity.
    fn audit_command(
        &mut self,
        c: &Cmd,
        auth: &Authorized<'_>,
        i: usize,
        cp: &Digest,
        rp_params: &[u8],
        attrs: u8,
    ) -> u8 {
        let Some(u) = auth.uses.get(i) else {
            return attrs;
        };
        let h = u.cmd.handle;
        let Some(sess) = self.sessions.get_mut(h) else {
            return attrs;
        };
        let alg = sess.auth_hash;
        let old = match sess.audit_digest {
            Some(d) if !u.cmd.attrs.has(SessionAttrs::AUDIT_RESET) => {
                if self.exclusive_audit != Some(h) {
                    self.exclusive_audit = None;
                }
                d
            }
            _ => {
                sess.bound = None;
                self.exclusive_audit = Some(h);
                Digest::zeroed(alg.size()).unwrap_or_default()
            }
        };
        let rp = alg.digest(&[&0u32.to_be_bytes(), &c.code.0.to_be_bytes(), rp_params]);
        sess.audit_digest = Some(alg.digest(&[old.as_slice(), cp.as_slice(), rp.as_slice()]));
        if self.exclusive_audit == Some(h) {
            attrs | SessionAttrs::AUDIT_EXCLUSIVE
        } else {
            attrs & !SessionAttrs::AUDIT_EXCLUSIVE
        }
    }

    /// Flush a session (loaded or saved); it is no longer the exclusive audit session.
    pub(crate) fn flush_session(&mut self, h: u32) -> bool {
        if self.exclusive_audit == Some(h) {
            self.exclusive_audit = None;
        }
        self.sessions.remove(h)
    }
}

/// The template hash of a create command (Part 3 §23.21; the reference implementation's
/// CompareTemplateHash): H(contents of inPublic), the second parameter of Create,
/// CreatePrimary and CreateLoaded (the first, inSensitive, may be encrypted; its size is
/// not). `None` for any other command.
fn template_hash(code: TpmCc, alg: HashAlg, params: &[u8]) -> Option<Digest> {
    if !matches!(
        code,
        TpmCc::CREATE | TpmCc::CREATE_PRIMARY | TpmCc::CREATE_LOADED
    ) {
        return None;
    }
    let mut r = crate::wire::Reader::new(params);
    let first = usize::from(r.u16().ok()?);
    r.bytes(first).ok()?;
    let public = r.tpm2b(crate::MAX_COMMAND_SIZE).ok()?;
    Some(alg.digest(&[public]))
}

/// Encrypt or decrypt the data of a TPM2B parameter in place with the session's algorithm
/// (Part 1 §21.2 XOR, §21.3 AES-CFB):
/// `KDFa(authHash, key, "CFB" | "XOR", nonceNewer, nonceOlder, bits)`.
pub(crate) fn param_crypt(
    sess: &Session,
    key: &[u8],
    newer: &[u8],
    older: &[u8],
    data: &mut [u8],
    encrypt: bool,
) -> TpmResult<()> {
    match sess.symmetric {
        SessionSym::Null => Err(TpmRc::SYMMETRIC),
        SessionSym::AesCfb { key_bits } => {
            let kb = usize::from(key_bits / 8);
            let mut kiv = Secret::<48>::zeroed(kb.saturating_add(16)).ok_or(TpmRc::FAILURE)?;
            kdfa(sess.auth_hash, key, b"CFB", newer, older, kiv.expose_mut())
                .ok_or(TpmRc::FAILURE)?;
            let (k, iv) = kiv.expose().split_at_checked(kb).ok_or(TpmRc::FAILURE)?;
            let r = if encrypt {
                crate::crypto::sym::aes_cfb_encrypt(k, iv, data)
            } else {
                crate::crypto::sym::aes_cfb_decrypt(k, iv, data)
            };
            r.ok_or(TpmRc::FAILURE)
        }
        SessionSym::Xor(hash) => {
            let mut mask = Secret::<{ crate::wire::types::MAX_BUFFER }>::zeroed(data.len())
                .ok_or(TpmRc::SIZE)?;
            kdfa(hash, key, b"XOR", newer, older, mask.expose_mut()).ok_or(TpmRc::FAILURE)?;
            data.iter_mut()
                .zip(mask.expose())
                .for_each(|(d, m)| *d ^= m);
            Ok(())
        }
    }
}
