//! The command table and the execution pipeline (Part 3 §5: command processing order).
//!
//! Order of checks, as in the reference implementation's ExecuteCommand: header, failure
//! mode, command code, Startup state, handle area (type, then presence), authorization area
//! (size, sessions, presence, authorization), parameters (in the handler), response.

use crate::crypto::hash::HashAlg;
use crate::crypto::hmac::hmac;
use crate::crypto::kdf::kdfa;
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::Phase;
use crate::state::object::Object;
use crate::state::session::{Session, SessionKind, SessionSym};
use crate::wire::auth::{AuthArea, AuthCommand, SessionAttrs, parse_auth_area};
use crate::wire::constants::handle::{
    HT_HMAC_SESSION, HT_NV_INDEX, HT_PCR, HT_PERMANENT, HT_PERSISTENT, HT_POLICY_SESSION,
    HT_TRANSIENT, RH_ENDORSEMENT, RH_LOCKOUT, RH_NULL, RH_OWNER, RH_PLATFORM, RS_PW, handle_type,
};
use crate::wire::constants::{TpmCc, TpmSt};
use crate::wire::header::{CommandHeader, HEADER_SIZE};
use crate::wire::types::{Auth, Digest, MAX_DIGEST, Name, Nonce, PCR_COUNT, Secret, handle_name};
use crate::wire::{Reader, Writer};
use crate::{MAX_RESPONSE_SIZE, Tpm};

/// What a handle in the handle area may be (the TPMI_ type of Part 2 for that handle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleKind {
    /// TPMI_DH_PCR: PCR 0..23.
    Pcr,
    /// TPMI_DH_PCR+: a PCR or TPM_RH_NULL.
    PcrOrNull,
    /// TPMI_DH_OBJECT: a loaded transient object.
    Object,
    /// TPMI_DH_OBJECT+: a loaded object or TPM_RH_NULL.
    ObjectOrNull,
    /// TPMI_DH_ENTITY+: any entity with an authValue, or TPM_RH_NULL.
    EntityOrNull,
    /// TPMI_RH_CLEAR: TPM_RH_LOCKOUT or TPM_RH_PLATFORM.
    Clear,
    /// TPMI_RH_HIERARCHY_AUTH: owner, endorsement, platform or lockout.
    HierarchyAuth,
    /// TPMI_RH_HIERARCHY+: owner, endorsement, platform or null.
    HierarchyOrNull,
    /// TPMI_RH_PROVISION: owner or platform.
    Provision,
    /// TPMI_RH_LOCKOUT.
    Lockout,
    /// TPMI_RH_NV_INDEX: a defined NV index.
    NvIndex,
    /// TPMI_RH_NV_AUTH: owner, platform, or a defined NV index.
    NvAuth,
    /// TPMI_DH_PARENT+: a loaded object or a hierarchy (owner, endorsement, platform, null).
    Parent,
    /// TPMI_RH_ENDORSEMENT: the endorsement hierarchy.
    Endorsement,
    /// TPMI_SH_POLICY: a loaded policy (or trial) session.
    PolicySession,
    /// TPMI_DH_CONTEXT: a transient object or a session (presence checked by the handler).
    Context,
}

/// TPMA_CC flag: the command may write NV.
const NV: u8 = 1;
/// TPMA_CC flag: the command may flush many objects.
const EXTENSIVE: u8 = 2;
/// TPMA_CC flag: the command flushes its first handle's object.
const FLUSHED: u8 = 4;
/// Not a TPMA_CC bit: the first handle is authorized in the ADMIN role (Part 1 §19.2).
const ADMIN1: u8 = 8;
/// Not a TPMA_CC bit: the first command parameter is a TPM2B (a session may decrypt it).
const DEC: u8 = 16;
/// Not a TPMA_CC bit: the first response parameter is a TPM2B (a session may encrypt it).
const ENC: u8 = 32;

/// One implemented command (Part 2 §8.9 TPMA_CC; Part 3 for each command's handles).
#[derive(Clone, Copy, Debug)]
pub struct CommandInfo {
    /// The command code.
    pub code: TpmCc,
    /// The handle area, one entry per handle.
    pub handles: &'static [HandleKind],
    /// How many of the handles (from the first) need an authorization session.
    pub auth: u8,
    /// Whether the response carries a handle.
    pub rhandle: bool,
    flags: u8,
}

impl CommandInfo {
    /// The TPMA_CC value reported by GetCapability(TPM_CAP_COMMANDS).
    // The handle count is masked to three bits before the cast.
    #[allow(clippy::cast_possible_truncation)]
    pub const fn attributes(&self) -> u32 {
        let mut a = self.code.0 & 0xFFFF;
        if self.flags & NV != 0 {
            a |= 1 << 22;
        }
        if self.flags & EXTENSIVE != 0 {
            a |= 1 << 23;
        }
        if self.flags & FLUSHED != 0 {
            a |= 1 << 24;
        }
        a |= ((self.handles.len() & 7) as u32) << 25;
        if self.rhandle {
            a |= 1 << 28;
        }
        a
    }
}

const fn cmd(code: TpmCc, handles: &'static [HandleKind], auth: u8, flags: u8) -> CommandInfo {
    CommandInfo {
        code,
        handles,
        auth,
        rhandle: false,
        flags,
    }
}

const fn cmd_rh(code: TpmCc, handles: &'static [HandleKind], auth: u8, flags: u8) -> CommandInfo {
    CommandInfo {
        code,
        handles,
        auth,
        rhandle: true,
        flags,
    }
}

use HandleKind as H;

/// The implemented commands, sorted by code.
pub const COMMANDS: &[CommandInfo] = &[
    cmd(TpmCc::EVICT_CONTROL, &[H::Provision, H::Object], 1, NV),
    cmd(TpmCc::NV_UNDEFINE_SPACE, &[H::Provision, H::NvIndex], 1, NV),
    cmd(TpmCc::CLEAR, &[H::Clear], 1, NV | EXTENSIVE),
    cmd(TpmCc::CLEAR_CONTROL, &[H::Clear], 1, NV),
    cmd(
        TpmCc::HIERARCHY_CHANGE_AUTH,
        &[H::HierarchyAuth],
        1,
        NV | DEC,
    ),
    cmd(TpmCc::NV_DEFINE_SPACE, &[H::Provision], 1, NV | DEC),
    cmd_rh(TpmCc::CREATE_PRIMARY, &[H::HierarchyOrNull], 1, DEC | ENC),
    cmd(TpmCc::NV_INCREMENT, &[H::NvAuth, H::NvIndex], 1, NV),
    cmd(TpmCc::NV_EXTEND, &[H::NvAuth, H::NvIndex], 1, NV | DEC),
    cmd(TpmCc::NV_WRITE, &[H::NvAuth, H::NvIndex], 1, NV | DEC),
    cmd(TpmCc::DICTIONARY_ATTACK_LOCK_RESET, &[H::Lockout], 1, NV),
    cmd(TpmCc::DICTIONARY_ATTACK_PARAMETERS, &[H::Lockout], 1, NV),
    cmd(TpmCc::PCR_EVENT, &[H::PcrOrNull], 1, NV | DEC),
    cmd(TpmCc::PCR_RESET, &[H::Pcr], 1, NV),
    cmd(
        TpmCc::SEQUENCE_COMPLETE,
        &[H::Object],
        1,
        FLUSHED | DEC | ENC,
    ),
    cmd(TpmCc::INCREMENTAL_SELF_TEST, &[], 0, NV),
    cmd(TpmCc::SELF_TEST, &[], 0, NV),
    cmd(TpmCc::STARTUP, &[], 0, NV),
    cmd(TpmCc::SHUTDOWN, &[], 0, NV),
    cmd(TpmCc::STIR_RANDOM, &[], 0, NV | DEC),
    cmd(
        TpmCc::ACTIVATE_CREDENTIAL,
        &[H::Object, H::Object],
        2,
        ADMIN1 | DEC | ENC,
    ),
    cmd(
        TpmCc::CERTIFY,
        &[H::Object, H::ObjectOrNull],
        2,
        ADMIN1 | DEC | ENC,
    ),
    cmd(
        TpmCc::GET_TIME,
        &[H::Endorsement, H::ObjectOrNull],
        2,
        DEC | ENC,
    ),
    cmd(TpmCc::NV_READ, &[H::NvAuth, H::NvIndex], 1, ENC),
    cmd(
        TpmCc::OBJECT_CHANGE_AUTH,
        &[H::Object, H::Object],
        1,
        ADMIN1 | DEC | ENC,
    ),
    cmd(
        TpmCc::POLICY_SECRET,
        &[H::EntityOrNull, H::PolicySession],
        1,
        DEC | ENC,
    ),
    cmd(TpmCc::CREATE, &[H::Object], 1, DEC | ENC),
    cmd(TpmCc::ECDH_ZGEN, &[H::Object], 1, DEC | ENC),
    cmd_rh(TpmCc::LOAD, &[H::Object], 1, DEC | ENC),
    cmd(TpmCc::QUOTE, &[H::Object], 1, DEC | ENC),
    cmd(TpmCc::SEQUENCE_UPDATE, &[H::Object], 1, DEC),
    cmd(TpmCc::SIGN, &[H::Object], 1, DEC),
    cmd(TpmCc::UNSEAL, &[H::Object], 1, ENC),
    cmd_rh(TpmCc::CONTEXT_LOAD, &[], 0, 0),
    cmd(TpmCc::CONTEXT_SAVE, &[H::Context], 0, 0),
    cmd(TpmCc::ECDH_KEY_GEN, &[H::Object], 0, ENC),
    cmd(TpmCc::FLUSH_CONTEXT, &[], 0, 0),
    cmd_rh(TpmCc::LOAD_EXTERNAL, &[], 0, DEC | ENC),
    cmd(TpmCc::MAKE_CREDENTIAL, &[H::Object], 0, DEC | ENC),
    cmd(TpmCc::NV_READ_PUBLIC, &[H::NvIndex], 0, ENC),
    cmd(TpmCc::POLICY_OR, &[H::PolicySession], 0, 0),
    cmd(TpmCc::READ_PUBLIC, &[H::Object], 0, ENC),
    cmd_rh(
        TpmCc::START_AUTH_SESSION,
        &[H::ObjectOrNull, H::EntityOrNull],
        0,
        DEC | ENC,
    ),
    cmd(TpmCc::VERIFY_SIGNATURE, &[H::Object], 0, DEC),
    cmd(TpmCc::GET_CAPABILITY, &[], 0, 0),
    cmd(TpmCc::GET_RANDOM, &[], 0, ENC),
    cmd(TpmCc::GET_TEST_RESULT, &[], 0, 0),
    cmd(TpmCc::HASH, &[], 0, DEC | ENC),
    cmd(TpmCc::PCR_READ, &[], 0, 0),
    cmd(TpmCc::POLICY_RESTART, &[H::PolicySession], 0, 0),
    cmd(TpmCc::READ_CLOCK, &[], 0, 0),
    cmd(TpmCc::PCR_EXTEND, &[H::PcrOrNull], 1, NV),
    cmd(
        TpmCc::EVENT_SEQUENCE_COMPLETE,
        &[H::PcrOrNull, H::Object],
        2,
        NV | FLUSHED | DEC,
    ),
    cmd_rh(TpmCc::HASH_SEQUENCE_START, &[], 0, DEC),
    cmd(TpmCc::POLICY_GET_DIGEST, &[H::PolicySession], 0, ENC),
    cmd_rh(TpmCc::CREATE_LOADED, &[H::Parent], 1, DEC | ENC),
];

/// Look a command up in [`COMMANDS`].
pub fn lookup(code: TpmCc) -> Option<&'static CommandInfo> {
    COMMANDS
        .binary_search_by(|c| c.code.cmp(&code))
        .ok()
        .and_then(|i| COMMANDS.get(i))
}

/// The decoded handle area and context of one command, handed to its handler.
#[derive(Clone, Copy, Debug)]
pub struct Cmd {
    /// The command code.
    pub code: TpmCc,
    /// Locality the command arrived at.
    pub locality: u8,
    /// Whether the first handle was authorized by a policy session.
    pub policy_auth: bool,
    /// The handle area (only the first `info.handles.len()` are meaningful).
    pub handles: [u32; 3],
}

impl Cmd {
    /// Handle `i` (0-based).
    pub fn handle(&self, i: usize) -> u32 {
        self.handles.get(i).copied().unwrap_or(RH_NULL)
    }
}

/// The parameter area: a [`Reader`] that numbers parameters so that unmarshaling errors get
/// the right TPM_RC_P position.
#[derive(Debug)]
pub struct Params<'a> {
    r: Reader<'a>,
    n: u8,
}

impl<'a> Params<'a> {
    /// Parameters in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            r: Reader::new(buf),
            n: 0,
        }
    }

    /// The number of the parameter read last (1-based).
    pub fn index(&self) -> u8 {
        self.n
    }

    /// Read the next parameter with `f`; an error is marked with its position.
    pub fn next<T>(&mut self, f: impl FnOnce(&mut Reader<'a>) -> TpmResult<T>) -> TpmResult<T> {
        self.n = self.n.saturating_add(1);
        let n = self.n;
        f(&mut self.r).map_err(|rc| rc.at_param(n))
    }

    /// The next parameter, a `u8`.
    pub fn u8(&mut self) -> TpmResult<u8> {
        self.next(|r| Ok(r.u8()?))
    }

    /// The next parameter, a `u16`.
    pub fn u16(&mut self) -> TpmResult<u16> {
        self.next(|r| Ok(r.u16()?))
    }

    /// The next parameter, a `u32`.
    pub fn u32(&mut self) -> TpmResult<u32> {
        self.next(|r| Ok(r.u32()?))
    }

    /// The next parameter, a TPM2B of at most `max` bytes.
    pub fn tpm2b(&mut self, max: usize) -> TpmResult<&'a [u8]> {
        self.next(|r| Ok(r.tpm2b(max)?))
    }

    /// Check that every byte was consumed (leftover bytes: TPM_RC_SIZE).
    pub fn finish(&self) -> TpmResult<()> {
        if self.r.is_empty() {
            Ok(())
        } else {
            Err(TpmRc::SIZE)
        }
    }
}

/// An authorization checked and ready for its response.
#[derive(Clone, Copy)]
struct CheckedSession<'c> {
    cmd: AuthCommand<'c>,
    /// The authorized handle, for sessions that authorize one.
    entity: Option<u32>,
    /// The next nonceTPM, drawn before the command runs so that nothing can fail after it.
    next_nonce: Nonce,
}

impl<P: Platform> Tpm<P> {
    /// Execute a command; errors become the 10-byte error response in [`Tpm::execute`].
    pub(crate) fn run(
        &mut self,
        locality: u8,
        command: &[u8],
        rsp: &mut [u8; MAX_RESPONSE_SIZE],
    ) -> TpmResult<usize> {
        let (hdr, body) = CommandHeader::parse(command)?;
        if self.failure && hdr.code != TpmCc::GET_TEST_RESULT && hdr.code != TpmCc::GET_CAPABILITY {
            return Err(TpmRc::FAILURE);
        }
        let info = lookup(hdr.code).ok_or(TpmRc::COMMAND_CODE)?;
        self.current_cc = hdr.code;
        let started = self.phase == Phase::Operational;
        if !self.failure && (started == (hdr.code == TpmCc::STARTUP)) {
            return Err(TpmRc::INITIALIZE);
        }

        // Handle area.
        let mut r = Reader::new(body);
        let mut c = Cmd {
            code: hdr.code,
            locality,
            policy_auth: false,
            handles: [RH_NULL; 3],
        };
        for (i, kind) in info.handles.iter().enumerate() {
            let n = u8::try_from(i.saturating_add(1)).unwrap_or(u8::MAX);
            let h = r.u32().map_err(|e| TpmRc::from(e).at_handle(n))?;
            self.check_handle(*kind, h, i)?;
            if let Some(slot) = c.handles.get_mut(i) {
                *slot = h;
            }
        }

        // Authorization area.
        let sessions = if hdr.tag == TpmSt::SESSIONS {
            let size = usize::try_from(r.u32()?).map_err(|_| TpmRc::AUTHSIZE)?;
            if size < 9 || size > r.remaining() {
                // As the reference implementation's ExecuteCommand (and libtpms) answer.
                return Err(TpmRc::SIZE);
            }
            parse_auth_area(r.bytes(size)?)?
        } else {
            AuthArea::new()
        };
        let auth_count = usize::from(info.auth);
        if sessions.len() < auth_count {
            return Err(TpmRc::AUTH_MISSING);
        }
        let params = r.rest();
        let mut checked = match self.authorize(&c, info, &sessions, params) {
            Ok(checked) => checked,
            Err(rc) => {
                self.count_auth_failure(&c, info, rc);
                return Err(rc);
            }
        };
        c.policy_auth = info.auth > 0
            && checked.first().is_some_and(|s| {
                self.sessions
                    .get(s.cmd.handle)
                    .is_some_and(|s| s.kind == SessionKind::Policy)
            });
        for s in checked.iter_mut() {
            if let Some(sess) = self.sessions.get(s.cmd.handle) {
                let mut nonce = Nonce::zeroed(sess.auth_hash.size()).ok_or(TpmRc::FAILURE)?;
                self.random(nonce.as_mut_slice())?;
                s.next_nonce = nonce;
            }
        }

        // Parameter decryption (Part 1 §21), after the HMAC check over the ciphertext.
        // Decrypted parameters may be secrets (sensitive data, new authValues): the copy is
        // wiped when the command returns (only when there is one: wiping costs).
        let mut scratch: Option<zeroize::Zeroizing<[u8; crate::MAX_COMMAND_SIZE]>> = None;
        let params = match checked
            .iter()
            .find(|s| s.cmd.attrs.has(SessionAttrs::DECRYPT))
        {
            None => params,
            Some(s) => {
                let sess = self.sessions.get(s.cmd.handle).ok_or(TpmRc::FAILURE)?;
                let key = self.crypt_key(sess, s.entity)?;
                let all = scratch.insert(zeroize::Zeroizing::new([0u8; crate::MAX_COMMAND_SIZE]));
                let buf = all.get_mut(..params.len()).ok_or(TpmRc::SIZE)?;
                buf.copy_from_slice(params);
                let (size, rest) = buf.split_first_chunk_mut::<2>().ok_or(TpmRc::SIZE)?;
                let data = rest
                    .get_mut(..usize::from(u16::from_be_bytes(*size)))
                    .ok_or(TpmRc::SIZE)?;
                param_crypt(
                    sess,
                    key.expose(),
                    s.cmd.nonce,
                    sess.nonce_tpm.as_slice(),
                    data,
                    false,
                )?;
                all.get(..params.len()).ok_or(TpmRc::SIZE)?
            }
        };

        // Parameters and handler.
        let rh_len = if info.rhandle { 4 } else { 0 };
        let ps_len = if hdr.tag == TpmSt::SESSIONS { 4 } else { 0 };
        let param_off = HEADER_SIZE.saturating_add(rh_len).saturating_add(ps_len);
        let (head, tail) = rsp.split_at_mut(param_off.min(MAX_RESPONSE_SIZE));
        let mut w = Writer::new(tail);
        let mut p = Params::new(params);
        let rhandle = self.handle_command(&c, &mut p, &mut w)?;
        let param_len = w.len();
        // Response encryption of the first parameter, before the rpHash covers it.
        if let Some(s) = checked
            .iter()
            .find(|s| s.cmd.attrs.has(SessionAttrs::ENCRYPT))
            && let Some(sess) = self.sessions.get(s.cmd.handle)
        {
            let key = self.crypt_key(sess, s.entity)?;
            let out = w.written_mut();
            let (size, rest) = out.split_first_chunk_mut::<2>().ok_or(TpmRc::FAILURE)?;
            let data = rest
                .get_mut(..usize::from(u16::from_be_bytes(*size)))
                .ok_or(TpmRc::FAILURE)?;
            param_crypt(
                sess,
                key.expose(),
                s.next_nonce.as_slice(),
                s.cmd.nonce,
                data,
                true,
            )?;
        }

        // Header, returned handle, parameterSize.
        let mut hw = Writer::new(head);
        hw.u16(hdr.tag.0)?;
        hw.u32(0)?; // patched below
        hw.u32(TpmRc::SUCCESS.0)?;
        if info.rhandle {
            hw.u32(rhandle.unwrap_or(RH_NULL))?;
        }
        if hdr.tag == TpmSt::SESSIONS {
            hw.u32(u32::try_from(param_len).map_err(|_| TpmRc::SIZE)?)?;
        }

        // Response sessions.
        let mut end = param_off.checked_add(param_len).ok_or(TpmRc::SIZE)?;
        if hdr.tag == TpmSt::SESSIONS {
            let rp = rsp.get(param_off..end).ok_or(TpmRc::SIZE)?;
            let mut area = [0u8; 3 * (2 + MAX_DIGEST + 1 + 2 + MAX_DIGEST)];
            let mut aw = Writer::new(&mut area);
            self.respond_sessions(&c, &checked, rp, &mut aw)?;
            let n = aw.len();
            let new_end = end.checked_add(n).ok_or(TpmRc::SIZE)?;
            let dst = rsp.get_mut(end..new_end).ok_or(TpmRc::SIZE)?;
            dst.copy_from_slice(area.get(..n).unwrap_or(&[]));
            end = new_end;
        }
        let size = u32::try_from(end).map_err(|_| TpmRc::SIZE)?;
        if let Some(s) = rsp.get_mut(2..6) {
            s.copy_from_slice(&size.to_be_bytes());
        }
        Ok(end)
    }

    /// Check one handle of the handle area: its type (TPM_RC_VALUE at the handle) and that it
    /// references something present (TPM_RC_REFERENCE_H0 + i, or TPM_RC_HIERARCHY).
    fn check_handle(&self, kind: HandleKind, h: u32, i: usize) -> TpmResult<()> {
        let n = u8::try_from(i.saturating_add(1)).unwrap_or(u8::MAX);
        let ht = handle_type(h);
        let is_pcr = ht == HT_PCR && usize::try_from(h).is_ok_and(|p| p < PCR_COUNT);
        let ok = match kind {
            HandleKind::Pcr => is_pcr,
            HandleKind::PcrOrNull => is_pcr || h == RH_NULL,
            HandleKind::Object => ht == HT_TRANSIENT || ht == HT_PERSISTENT,
            HandleKind::ObjectOrNull => ht == HT_TRANSIENT || ht == HT_PERSISTENT || h == RH_NULL,
            HandleKind::EntityOrNull => {
                is_pcr
                    || ht == HT_TRANSIENT
                    || matches!(
                        h,
                        RH_OWNER | RH_ENDORSEMENT | RH_PLATFORM | RH_LOCKOUT | RH_NULL
                    )
            }
            HandleKind::Clear => matches!(h, RH_LOCKOUT | RH_PLATFORM),
            HandleKind::HierarchyAuth => {
                matches!(h, RH_OWNER | RH_ENDORSEMENT | RH_PLATFORM | RH_LOCKOUT)
            }
            HandleKind::Context => {
                matches!(ht, HT_TRANSIENT | HT_HMAC_SESSION | HT_POLICY_SESSION)
            }
            HandleKind::Provision => matches!(h, RH_OWNER | RH_PLATFORM),
            HandleKind::Lockout => h == RH_LOCKOUT,
            HandleKind::NvIndex => ht == HT_NV_INDEX,
            HandleKind::NvAuth => ht == HT_NV_INDEX || matches!(h, RH_OWNER | RH_PLATFORM),
            HandleKind::Parent => {
                ht == HT_TRANSIENT
                    || ht == HT_PERSISTENT
                    || matches!(h, RH_OWNER | RH_ENDORSEMENT | RH_PLATFORM | RH_NULL)
            }
            HandleKind::PolicySession => ht == HT_POLICY_SESSION,
            HandleKind::Endorsement => h == RH_ENDORSEMENT,
            HandleKind::HierarchyOrNull => {
                matches!(h, RH_OWNER | RH_ENDORSEMENT | RH_PLATFORM | RH_NULL)
            }
        };
        // Transient handles beyond the object slots are outside TPMI_DH_OBJECT's range.
        let in_range = ht != HT_TRANSIENT
            || h.checked_sub(crate::state::object::TRANSIENT_FIRST)
                .and_then(|i| usize::try_from(i).ok())
                .is_some_and(|i| i < crate::state::object::MAX_OBJECTS);
        if !ok || !in_range {
            return Err(TpmRc::VALUE.at_handle(n));
        }
        if ht == HT_TRANSIENT && self.objects.get(h).is_none() {
            return Err(TpmRc::reference_h(u8::try_from(i).unwrap_or(0)));
        }
        if kind == HandleKind::PolicySession && self.sessions.get(h).is_none() {
            return Err(TpmRc::reference_h(u8::try_from(i).unwrap_or(0)));
        }
        if ht == HT_NV_INDEX && self.nv.get(h).is_none() {
            return Err(TpmRc::HANDLE.at_handle(n));
        }
        if ht == HT_PERSISTENT && self.objects.get(h).is_none() {
            return Err(TpmRc::HANDLE.at_handle(n));
        }
        if ht == HT_PERMANENT && !self.hier.enabled(h) {
            return Err(TpmRc::HIERARCHY.at_handle(n));
        }
        Ok(())
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

    /// Whether the role of `h` may be authorized with its authValue (password or HMAC):
    /// objects with userWithAuth (USER role) or adminWithPolicy (ADMIN role) need a policy
    /// session (Part 1 §19.2).
    fn auth_value_allowed(&self, h: u32, admin: bool) -> bool {
        if let Some(nv) = self.nv.get(h) {
            return self.nv_auth_allowed(nv, false);
        }
        match self.objects.get(h) {
            Some(Object::Key(k)) if admin => !k
                .public
                .attrs
                .has(crate::wire::public::ObjectAttrs::ADMIN_WITH_POLICY),
            _ => self.user_with_auth(h),
        }
    }

    /// Whether an NV index may authorize the current command with its authValue or (with
    /// `policy`) its authPolicy: AUTHREAD / POLICYREAD for reads, AUTHWRITE / POLICYWRITE for
    /// writes (Part 3 §31.2; TPM_RC_AUTH_UNAVAILABLE otherwise, as libtpms answers).
    fn nv_auth_allowed(&self, nv: &crate::state::nv::NvIndex, policy: bool) -> bool {
        use crate::state::nv::attr;
        let read = self.current_cc == TpmCc::NV_READ;
        let bit = match (read, policy) {
            (true, false) => attr::AUTHREAD,
            (true, true) => attr::POLICYREAD,
            (false, false) => attr::AUTHWRITE,
            (false, true) => attr::POLICYWRITE,
        };
        nv.has(bit)
    }

    /// Whether the USER role of `h` may be authorized with its authValue.
    fn user_with_auth(&self, h: u32) -> bool {
        match self.objects.get(h) {
            Some(Object::Key(k)) => k
                .public
                .attrs
                .has(crate::wire::public::ObjectAttrs::USER_WITH_AUTH),
            _ => true,
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
            _ => Digest::EMPTY,
        }
    }

    /// The authValue of an entity, if it has one.
    pub(crate) fn entity_auth(&self, h: u32) -> Option<Auth> {
        match handle_type(h) {
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

    /// Whether failed authorizations of `h` are exempt from dictionary-attack protection
    /// (then TPM_RC_BAD_AUTH rather than TPM_RC_AUTH_FAIL).
    fn da_exempt(&self, h: u32) -> bool {
        match handle_type(h) {
            HT_PERMANENT => h != RH_LOCKOUT,
            HT_NV_INDEX => self
                .nv
                .get(h)
                .is_none_or(|nv| nv.has(crate::state::nv::attr::NO_DA)),
            HT_TRANSIENT => match self.objects.get(h) {
                Some(Object::Key(k)) => k.public.attrs.has(crate::wire::public::ObjectAttrs::NO_DA),
                _ => true,
            },
            _ => true,
        }
    }

    /// cpHash = H(commandCode ‖ Name(h1) ‖ … ‖ parameters) (Part 1 §18.7).
    fn cp_hash(&self, c: &Cmd, info: &CommandInfo, alg: HashAlg, params: &[u8]) -> Digest {
        let mut h = crate::crypto::hash::HashState::new(alg);
        h.update(&c.code.0.to_be_bytes());
        for i in 0..info.handles.len() {
            h.update(self.entity_name(c.handle(i)).as_slice());
        }
        h.update(params);
        h.finish()
    }

    /// Check every session (Part 1 §19.6; Part 3 §5.6): presence, password or HMAC for those
    /// that authorize a handle, attributes for the others. Changes no state.
    fn authorize<'c>(
        &self,
        c: &Cmd,
        info: &CommandInfo,
        sessions: &AuthArea<'c>,
        params: &[u8],
    ) -> TpmResult<heapless::Vec<CheckedSession<'c>, 3>> {
        let mut out = heapless::Vec::new();
        for (i, s) in sessions.iter().enumerate() {
            let n = u8::try_from(i.saturating_add(1)).unwrap_or(u8::MAX);
            let entity = (i < usize::from(info.auth)).then(|| c.handle(i));
            if s.handle == RS_PW {
                // A password session can only authorize a handle (TPM_RC_HANDLE otherwise,
                // as libtpms answers).
                let Some(h) = entity else {
                    return Err(TpmRc::HANDLE.at_session(n));
                };
                if !s.nonce.is_empty() {
                    return Err(TpmRc::NONCE.at_session(n));
                }
                if s.attrs.0 & !SessionAttrs::CONTINUE_SESSION != 0 {
                    return Err(TpmRc::ATTRIBUTES.at_session(n));
                }
                if !self.auth_value_allowed(h, i == 0 && info.flags & ADMIN1 != 0) {
                    return Err(TpmRc::AUTH_UNAVAILABLE);
                }
                self.check_lockout(h)?;
                let mut auth = self.entity_auth(h).ok_or(TpmRc::AUTH_UNAVAILABLE)?;
                auth.strip_trailing_zeros();
                let mut given = Auth::from_slice(s.hmac).ok_or(TpmRc::SIZE.at_session(n))?;
                given.strip_trailing_zeros();
                if !auth.ct_eq_slice(given.expose()) {
                    return Err(self.auth_error(h, n));
                }
            } else {
                let sess = self
                    .sessions
                    .get(s.handle)
                    .ok_or(TpmRc::reference_s(u8::try_from(i).unwrap_or(0)))?;
                let dec = s.attrs.has(SessionAttrs::DECRYPT);
                let enc = s.attrs.has(SessionAttrs::ENCRYPT);
                if (dec || enc) && sess.symmetric == SessionSym::Null {
                    return Err(TpmRc::SYMMETRIC.at_session(n));
                }
                if (dec && info.flags & DEC == 0) || (enc && info.flags & ENC == 0) {
                    return Err(TpmRc::ATTRIBUTES.at_session(n));
                }
                if s.attrs.has(SessionAttrs::AUDIT) {
                    // Command audit is not offered.
                    return Err(TpmRc::ATTRIBUTES.at_session(n));
                }
                match entity {
                    None if dec || enc => {}
                    None => return Err(TpmRc::ATTRIBUTES.at_session(n)),
                    Some(h) => {
                        match sess.kind {
                            SessionKind::Hmac => {
                                if !self.auth_value_allowed(h, i == 0 && info.flags & ADMIN1 != 0) {
                                    return Err(TpmRc::AUTH_UNAVAILABLE);
                                }
                            }
                            SessionKind::Policy => {
                                if let Some(nv) = self.nv.get(h)
                                    && !self.nv_auth_allowed(nv, true)
                                {
                                    return Err(TpmRc::AUTH_UNAVAILABLE);
                                }
                                // Part 1 §19.7: the session's policyDigest must equal the
                                // entity's authPolicy (an empty authPolicy never matches).
                                let policy = self.entity_policy(h);
                                if policy.is_empty() || policy != sess.policy_digest {
                                    return Err(TpmRc::POLICY_FAIL.at_session(n));
                                }
                            }
                            SessionKind::Trial => return Err(TpmRc::AUTH_TYPE.at_session(n)),
                        }
                        if sess.kind == SessionKind::Hmac {
                            self.check_lockout(h)?;
                        }
                        let key = self.hmac_key(sess, h)?;
                        if key.is_empty() && s.hmac.is_empty() {
                            // Neither sessionKey nor authValue: the HMAC may be empty.
                        } else {
                            let cp = self.cp_hash(c, info, sess.auth_hash, params);
                            let (dec_nonce, enc_nonce) = if i == 0 {
                                self.crypt_nonces(sessions)
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
                            let ok: bool =
                                subtle::ConstantTimeEq::ct_eq(expect.as_slice(), s.hmac).into();
                            if !ok {
                                return Err(self.auth_error(h, n));
                            }
                        }
                    }
                }
            }
            out.push(CheckedSession {
                cmd: *s,
                entity,
                next_nonce: Nonce::EMPTY,
            })
            .map_err(|_| TpmRc::AUTHSIZE)?;
        }
        Ok(out)
    }

    /// The nonceTPM of the decrypt and of the encrypt session when they are not the first
    /// session: both enter the first session's command HMAC (Part 1 §19.6.5).
    fn crypt_nonces(&self, sessions: &AuthArea<'_>) -> (Nonce, Nonce) {
        let nonce_of = |attr: u8, skip: Option<usize>| {
            sessions
                .iter()
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

    /// The parameter-encryption key of a session: sessionKey ‖ authValue of the entity it
    /// authorizes (as for its HMAC), or the sessionKey alone (Part 1 §21.1).
    fn crypt_key(
        &self,
        sess: &Session,
        entity: Option<u32>,
    ) -> TpmResult<Secret<{ 2 * MAX_DIGEST }>> {
        match entity {
            Some(h) => self.hmac_key(sess, h),
            None => Ok(Secret::from_slice(sess.session_key.expose()).unwrap_or_default()),
        }
    }

    /// Count a failed authorization for dictionary-attack protection (Part 1 §19.8): the one
    /// state change a failing command makes, as the specification requires.
    fn count_auth_failure(&mut self, c: &Cmd, info: &CommandInfo, rc: TpmRc) {
        if rc.base() != TpmRc::AUTH_FAIL || rc.0 & 0x800 == 0 {
            return;
        }
        let n = usize::try_from((rc.0 >> 8) & 7).unwrap_or(0);
        let Some(i) = n.checked_sub(1).filter(|i| *i < usize::from(info.auth)) else {
            return;
        };
        let now = self.clock.last_ms;
        if c.handle(i) == RH_LOCKOUT {
            self.da.fail_lockout(now);
        } else {
            self.da.fail(now);
        }
    }

    /// TPM_RC_LOCKOUT if `h` is DA-protected and locked out.
    fn check_lockout(&self, h: u32) -> TpmResult<()> {
        let locked = if h == RH_LOCKOUT {
            self.da.lockout_auth_locked(self.clock.last_ms)
        } else {
            !self.da_exempt(h) && self.da.in_lockout()
        };
        if locked { Err(TpmRc::LOCKOUT) } else { Ok(()) }
    }

    fn auth_error(&self, h: u32, n: u8) -> TpmRc {
        if self.da_exempt(h) {
            TpmRc::BAD_AUTH.at_session(n)
        } else {
            TpmRc::AUTH_FAIL.at_session(n)
        }
    }

    /// sessionKey ‖ authValue (trailing zeros stripped; omitted if the session is bound to
    /// this entity) — the HMAC key of Part 1 §19.6.8.
    fn hmac_key(
        &self,
        sess: &crate::state::session::Session,
        h: u32,
    ) -> TpmResult<Secret<{ 2 * MAX_DIGEST }>> {
        let mut key =
            Secret::<{ 2 * MAX_DIGEST }>::from_slice(sess.session_key.expose()).unwrap_or_default();
        let bound = sess.bind_name.as_ref() == Some(&self.entity_name(h));
        // A policy session carries the authValue only after PolicyAuthValue (not offered).
        if !bound && sess.kind == SessionKind::Hmac {
            let mut auth = self.entity_auth(h).ok_or(TpmRc::AUTH_UNAVAILABLE)?;
            auth.strip_trailing_zeros();
            key.extend(auth.expose()).ok_or(TpmRc::SIZE)?;
        }
        Ok(key)
    }

    /// Write the response authorization area and commit the sessions: a fresh nonceTPM for
    /// each, flushed if continueSession is clear (Part 1 §19.6.17). Runs after the command
    /// succeeded; its only failure is a response too large for the buffer.
    fn respond_sessions(
        &mut self,
        c: &Cmd,
        checked: &[CheckedSession<'_>],
        rp_params: &[u8],
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        for s in checked {
            if s.cmd.handle == RS_PW {
                w.bytes(&[0, 0, SessionAttrs::CONTINUE_SESSION, 0, 0])?;
                continue;
            }
            let Some(sess) = self.sessions.get(s.cmd.handle) else {
                // The command itself flushed the session: answer without a nonce.
                w.bytes(&[0, 0, s.cmd.attrs.0, 0, 0])?;
                continue;
            };
            let alg = sess.auth_hash;
            let nonce = s.next_nonce;
            let key = match s.entity {
                Some(h) => self.hmac_key(sess, h)?,
                None => Secret::from_slice(sess.session_key.expose()).unwrap_or_default(),
            };
            let mac = if key.is_empty() && s.cmd.hmac.is_empty() {
                Digest::EMPTY
            } else {
                let rp = alg.digest(&[&0u32.to_be_bytes(), &c.code.0.to_be_bytes(), rp_params]);
                hmac(
                    alg,
                    key.expose(),
                    &[
                        rp.as_slice(),
                        nonce.as_slice(),
                        s.cmd.nonce,
                        &[s.cmd.attrs.0],
                    ],
                )
            };
            w.tpm2b(nonce.as_slice())?;
            w.u8(s.cmd.attrs.0)?;
            w.tpm2b(mac.as_slice())?;
            if s.cmd.attrs.has(SessionAttrs::CONTINUE_SESSION) {
                if let Some(sess) = self.sessions.get_mut(s.cmd.handle) {
                    sess.nonce_tpm = nonce;
                }
            } else {
                self.sessions.remove(s.cmd.handle);
            }
        }
        Ok(())
    }
}

/// Encrypt or decrypt the data of a TPM2B parameter in place with the session's algorithm
/// (Part 1 §21.2 XOR, §21.3 AES-CFB):
/// `KDFa(authHash, key, "CFB" | "XOR", nonceNewer, nonceOlder, bits)`.
fn param_crypt(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_attributes_match_the_reference() {
        assert!(COMMANDS.windows(2).all(|w| w[0].code < w[1].code));
        let expect = [
            (0x126, 0x02C0_0126),
            (0x13E, 0x0300_013E),
            (0x165, 0x0000_0165),
            (0x176, 0x1400_0176),
            (0x182, 0x0240_0182),
            (0x185, 0x0540_0185),
            (0x186, 0x1000_0186),
        ];
        for (cc, attrs) in expect {
            assert_eq!(lookup(TpmCc(cc)).unwrap().attributes(), attrs, "cc {cc:#x}");
        }
    }
}
