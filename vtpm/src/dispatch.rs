//! The command table and the execution pipeline (Part 3 §5: command processing order).
//!
//! Order of checks, as in the reference implementation's ExecuteCommand: header, failure
//! mode, command code, Startup state, handle area (type, then presence), authorization area
//! (size, sessions, presence, authorization), parameters (in the handler), response.

use crate::authorization::{Authorized, param_crypt};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::Phase;
use crate::wire::auth::{AuthArea, parse_auth_area};
use crate::wire::constants::handle::{
    HT_HMAC_SESSION, HT_NV_INDEX, HT_PCR, HT_PERMANENT, HT_PERSISTENT, HT_POLICY_SESSION,
    HT_TRANSIENT, RH_ENDORSEMENT, RH_LOCKOUT, RH_NULL, RH_OWNER, RH_PLATFORM, handle_type,
};
use crate::wire::constants::{TpmCc, TpmSt};
use crate::wire::header::{CommandHeader, HEADER_SIZE};
use crate::wire::types::{MAX_DIGEST, PCR_COUNT};
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
    /// TPMI_DH_ENTITY: any entity with an authValue (hierarchy, object, NV index, PCR).
    Entity,
    /// TPMI_DH_ENTITY+: any entity with an authValue, or TPM_RH_NULL.
    EntityOrNull,
    /// TPMI_RH_CLEAR: TPM_RH_LOCKOUT or TPM_RH_PLATFORM.
    Clear,
    /// TPMI_RH_HIERARCHY: owner, endorsement or platform.
    Hierarchy,
    /// TPMI_RH_HIERARCHY_AUTH: owner, endorsement, platform or lockout.
    HierarchyAuth,
    /// TPMI_RH_HIERARCHY+: owner, endorsement, platform or null.
    HierarchyOrNull,
    /// TPMI_RH_PROVISION: owner or platform.
    Provision,
    /// TPMI_RH_LOCKOUT.
    Lockout,
    /// TPMI_RH_PLATFORM.
    Platform,
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
    /// TPMI_SH_HMAC: a loaded HMAC session.
    HmacSession,
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
/// Not a TPMA_CC bit: the command takes no sessions at all (TPM_RC_AUTH_CONTEXT with
/// TPM_ST_SESSIONS) and does not end an exclusive audit (Part 1 §19.6.14: the resource
/// manager's ContextSave / ContextLoad / FlushContext, and Startup).
const NOSESS: u8 = 64;
/// Not a TPMA_CC bit: the first handle is authorized in the DUP role (Part 1 §19.2).
const DUP1: u8 = 128;

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

/// The authorization role a handle is used in (Part 1 §19.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// USER: the object's ordinary use (authValue if userWithAuth, else policy).
    User,
    /// ADMIN: certification, credential activation, changing the authValue (authValue only
    /// for objects without adminWithPolicy; otherwise a policy limited to the command).
    Admin,
    /// DUP: duplication, always with a policy limited to the command.
    Dup,
}

impl CommandInfo {
    /// The role in which handle `i` is authorized (Part 3: "Auth Role" of each handle).
    pub const fn role(&self, i: usize) -> Role {
        if i == 0 && self.flags & DUP1 != 0 {
            Role::Dup
        } else if i == 0 && self.flags & ADMIN1 != 0 {
            Role::Admin
        } else {
            Role::User
        }
    }

    /// Whether the command takes no sessions (Startup, ContextSave, ContextLoad,
    /// FlushContext).
    pub const fn no_sessions(&self) -> bool {
        self.flags & NOSESS != 0
    }

    /// Whether the first command parameter is a TPM2B a session may decrypt.
    pub const fn decrypts(&self) -> bool {
        self.flags & DEC != 0
    }

    /// Whether the first response parameter is a TPM2B a session may encrypt.
    pub const fn encrypts(&self) -> bool {
        self.flags & ENC != 0
    }

    /// For commands with TPMA_CC flushed: the index of the handle whose object the command
    /// flushes (the sequence of SequenceComplete / EventSequenceComplete: the last handle).
    pub const fn flushed_handle(&self) -> Option<usize> {
        if self.flags & FLUSHED != 0 {
            self.handles.len().checked_sub(1)
        } else {
            None
        }
    }

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
    cmd(
        TpmCc::NV_UNDEFINE_SPACE_SPECIAL,
        &[H::NvIndex, H::Platform],
        2,
        NV | ADMIN1,
    ),
    cmd(TpmCc::EVICT_CONTROL, &[H::Provision, H::Object], 1, NV),
    cmd(TpmCc::HIERARCHY_CONTROL, &[H::Hierarchy], 1, NV | EXTENSIVE),
    cmd(TpmCc::NV_UNDEFINE_SPACE, &[H::Provision, H::NvIndex], 1, NV),
    cmd(TpmCc::CHANGE_EPS, &[H::Platform], 1, NV | EXTENSIVE),
    cmd(TpmCc::CHANGE_PPS, &[H::Platform], 1, NV | EXTENSIVE),
    cmd(TpmCc::CLEAR, &[H::Clear], 1, NV | EXTENSIVE),
    cmd(TpmCc::CLEAR_CONTROL, &[H::Clear], 1, NV),
    cmd(TpmCc::CLOCK_SET, &[H::Provision], 1, NV),
    cmd(
        TpmCc::HIERARCHY_CHANGE_AUTH,
        &[H::HierarchyAuth],
        1,
        NV | DEC,
    ),
    cmd(TpmCc::NV_DEFINE_SPACE, &[H::Provision], 1, NV | DEC),
    #[cfg(feature = "pcr-allocate")]
    cmd(TpmCc::PCR_ALLOCATE, &[H::Platform], 1, NV),
    cmd(TpmCc::PCR_SET_AUTH_POLICY, &[H::Platform], 1, NV | DEC),
    cmd(TpmCc::PP_COMMANDS, &[H::Platform], 1, NV),
    cmd(TpmCc::SET_PRIMARY_POLICY, &[H::HierarchyAuth], 1, NV | DEC),
    cmd(TpmCc::CLOCK_RATE_ADJUST, &[H::Provision], 1, 0),
    cmd_rh(TpmCc::CREATE_PRIMARY, &[H::HierarchyOrNull], 1, DEC | ENC),
    cmd(TpmCc::NV_GLOBAL_WRITE_LOCK, &[H::Provision], 1, NV),
    cmd(
        TpmCc::GET_COMMAND_AUDIT_DIGEST,
        &[H::Endorsement, H::ObjectOrNull],
        2,
        NV | DEC | ENC,
    ),
    cmd(TpmCc::NV_INCREMENT, &[H::NvAuth, H::NvIndex], 1, NV),
    cmd(TpmCc::NV_SET_BITS, &[H::NvAuth, H::NvIndex], 1, NV),
    cmd(TpmCc::NV_EXTEND, &[H::NvAuth, H::NvIndex], 1, NV | DEC),
    cmd(TpmCc::NV_WRITE, &[H::NvAuth, H::NvIndex], 1, NV | DEC),
    cmd(TpmCc::NV_WRITE_LOCK, &[H::NvAuth, H::NvIndex], 1, NV),
    cmd(TpmCc::DICTIONARY_ATTACK_LOCK_RESET, &[H::Lockout], 1, NV),
    cmd(TpmCc::DICTIONARY_ATTACK_PARAMETERS, &[H::Lockout], 1, NV),
    cmd(TpmCc::NV_CHANGE_AUTH, &[H::NvIndex], 1, NV | ADMIN1 | DEC),
    cmd(TpmCc::PCR_EVENT, &[H::PcrOrNull], 1, NV | DEC),
    cmd(TpmCc::PCR_RESET, &[H::Pcr], 1, NV),
    cmd(
        TpmCc::SEQUENCE_COMPLETE,
        &[H::Object],
        1,
        FLUSHED | DEC | ENC,
    ),
    cmd(TpmCc::SET_ALGORITHM_SET, &[H::Platform], 1, NV),
    cmd(TpmCc::SET_COMMAND_CODE_AUDIT_STATUS, &[H::Provision], 1, NV),
    cmd(TpmCc::INCREMENTAL_SELF_TEST, &[], 0, NV),
    cmd(TpmCc::SELF_TEST, &[], 0, NV),
    cmd(TpmCc::STARTUP, &[], 0, NV | NOSESS),
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
        TpmCc::POLICY_NV,
        &[H::NvAuth, H::NvIndex, H::PolicySession],
        1,
        DEC,
    ),
    cmd(
        TpmCc::CERTIFY_CREATION,
        &[H::ObjectOrNull, H::Object],
        1,
        DEC | ENC,
    ),
    cmd(
        TpmCc::DUPLICATE,
        &[H::Object, H::ObjectOrNull],
        1,
        DUP1 | DEC | ENC,
    ),
    cmd(
        TpmCc::GET_TIME,
        &[H::Endorsement, H::ObjectOrNull],
        2,
        DEC | ENC,
    ),
    cmd(
        TpmCc::GET_SESSION_AUDIT_DIGEST,
        &[H::Endorsement, H::ObjectOrNull, H::HmacSession],
        2,
        DEC | ENC,
    ),
    cmd(TpmCc::NV_READ, &[H::NvAuth, H::NvIndex], 1, ENC),
    cmd(TpmCc::NV_READ_LOCK, &[H::NvAuth, H::NvIndex], 1, NV),
    cmd(
        TpmCc::OBJECT_CHANGE_AUTH,
        &[H::Object, H::Object],
        1,
        ADMIN1 | DEC | ENC,
    ),
    cmd(
        TpmCc::POLICY_SECRET,
        &[H::Entity, H::PolicySession],
        1,
        DEC | ENC,
    ),
    cmd(
        TpmCc::REWRAP,
        &[H::ObjectOrNull, H::ObjectOrNull],
        1,
        DEC | ENC,
    ),
    cmd(TpmCc::CREATE, &[H::Object], 1, DEC | ENC),
    cmd(TpmCc::ECDH_ZGEN, &[H::Object], 1, DEC | ENC),
    cmd(TpmCc::HMAC, &[H::Object], 1, DEC | ENC),
    cmd(TpmCc::IMPORT, &[H::Object], 1, DEC | ENC),
    cmd_rh(TpmCc::LOAD, &[H::Object], 1, DEC | ENC),
    cmd(TpmCc::QUOTE, &[H::Object], 1, DEC | ENC),
    #[cfg(feature = "rsa")]
    cmd(TpmCc::RSA_DECRYPT, &[H::Object], 1, DEC | ENC),
    cmd_rh(TpmCc::HMAC_START, &[H::Object], 1, DEC),
    cmd(TpmCc::SEQUENCE_UPDATE, &[H::Object], 1, DEC),
    cmd(TpmCc::SIGN, &[H::Object], 1, DEC),
    cmd(TpmCc::UNSEAL, &[H::Object], 1, ENC),
    cmd(
        TpmCc::POLICY_SIGNED,
        &[H::Object, H::PolicySession],
        0,
        DEC | ENC,
    ),
    cmd_rh(TpmCc::CONTEXT_LOAD, &[], 0, NOSESS),
    cmd(TpmCc::CONTEXT_SAVE, &[H::Context], 0, NOSESS),
    cmd(TpmCc::ECDH_KEY_GEN, &[H::Object], 0, ENC),
    cmd(TpmCc::ENCRYPT_DECRYPT, &[H::Object], 1, ENC),
    cmd(TpmCc::FLUSH_CONTEXT, &[], 0, NOSESS),
    cmd_rh(TpmCc::LOAD_EXTERNAL, &[], 0, DEC | ENC),
    cmd(TpmCc::MAKE_CREDENTIAL, &[H::Object], 0, DEC | ENC),
    cmd(TpmCc::NV_READ_PUBLIC, &[H::NvIndex], 0, ENC),
    cmd(TpmCc::POLICY_AUTHORIZE, &[H::PolicySession], 0, DEC),
    cmd(TpmCc::POLICY_AUTH_VALUE, &[H::PolicySession], 0, 0),
    cmd(TpmCc::POLICY_COMMAND_CODE, &[H::PolicySession], 0, 0),
    cmd(TpmCc::POLICY_COUNTER_TIMER, &[H::PolicySession], 0, DEC),
    cmd(TpmCc::POLICY_CP_HASH, &[H::PolicySession], 0, DEC),
    cmd(TpmCc::POLICY_LOCALITY, &[H::PolicySession], 0, 0),
    cmd(TpmCc::POLICY_NAME_HASH, &[H::PolicySession], 0, DEC),
    cmd(TpmCc::POLICY_OR, &[H::PolicySession], 0, 0),
    cmd(TpmCc::POLICY_TICKET, &[H::PolicySession], 0, DEC),
    cmd(TpmCc::READ_PUBLIC, &[H::Object], 0, ENC),
    #[cfg(feature = "rsa")]
    cmd(TpmCc::RSA_ENCRYPT, &[H::Object], 0, DEC | ENC),
    cmd_rh(
        TpmCc::START_AUTH_SESSION,
        &[H::ObjectOrNull, H::EntityOrNull],
        0,
        DEC | ENC,
    ),
    cmd(TpmCc::VERIFY_SIGNATURE, &[H::Object], 0, DEC),
    cmd(TpmCc::ECC_PARAMETERS, &[], 0, 0),
    cmd(TpmCc::GET_CAPABILITY, &[], 0, 0),
    cmd(TpmCc::GET_RANDOM, &[], 0, ENC),
    cmd(TpmCc::GET_TEST_RESULT, &[], 0, 0),
    cmd(TpmCc::HASH, &[], 0, DEC | ENC),
    cmd(TpmCc::PCR_READ, &[], 0, 0),
    cmd(TpmCc::POLICY_PCR, &[H::PolicySession], 0, DEC),
    cmd(TpmCc::POLICY_RESTART, &[H::PolicySession], 0, 0),
    cmd(TpmCc::READ_CLOCK, &[], 0, 0),
    cmd(TpmCc::PCR_EXTEND, &[H::PcrOrNull], 1, NV),
    cmd(TpmCc::PCR_SET_AUTH_VALUE, &[H::Pcr], 1, DEC),
    cmd(
        TpmCc::NV_CERTIFY,
        &[H::ObjectOrNull, H::NvAuth, H::NvIndex],
        2,
        DEC | ENC,
    ),
    cmd(
        TpmCc::EVENT_SEQUENCE_COMPLETE,
        &[H::PcrOrNull, H::Object],
        2,
        NV | FLUSHED | DEC,
    ),
    cmd_rh(TpmCc::HASH_SEQUENCE_START, &[], 0, DEC),
    cmd(TpmCc::POLICY_PHYSICAL_PRESENCE, &[H::PolicySession], 0, 0),
    cmd(
        TpmCc::POLICY_DUPLICATION_SELECT,
        &[H::PolicySession],
        0,
        DEC,
    ),
    cmd(TpmCc::POLICY_GET_DIGEST, &[H::PolicySession], 0, ENC),
    cmd(TpmCc::TEST_PARMS, &[], 0, 0),
    #[cfg(feature = "ecdaa")]
    cmd(TpmCc::COMMIT, &[H::Object], 1, DEC | ENC),
    cmd(TpmCc::POLICY_PASSWORD, &[H::PolicySession], 0, 0),
    cmd(TpmCc::ZGEN_2PHASE, &[H::Object], 1, DEC | ENC),
    cmd(TpmCc::EC_EPHEMERAL, &[], 0, ENC),
    cmd(TpmCc::POLICY_NV_WRITTEN, &[H::PolicySession], 0, 0),
    cmd(TpmCc::POLICY_TEMPLATE, &[H::PolicySession], 0, DEC),
    cmd_rh(TpmCc::CREATE_LOADED, &[H::Parent], 1, DEC | ENC),
    cmd(
        TpmCc::POLICY_AUTHORIZE_NV,
        &[H::NvAuth, H::NvIndex, H::PolicySession],
        1,
        0,
    ),
    cmd(TpmCc::ENCRYPT_DECRYPT2, &[H::Object], 1, DEC | ENC),
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
        f(&mut self.r).map_err(|rc| mark_param(rc, n))
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

    /// The next parameter, a `u64`.
    pub fn u64(&mut self) -> TpmResult<u64> {
        self.next(|r| Ok(r.u64()?))
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

/// Where [`Tpm::run`] decrypts parameters (Part 1 §21). Whatever is decrypted into it is
/// wiped when it is dropped, on every path out of the command.
pub(crate) trait ParamScratch {
    /// A buffer of `len` bytes (at most [`crate::MAX_COMMAND_SIZE`]).
    fn take(&mut self, len: usize) -> Option<&mut [u8]>;
}

/// The caller's buffer (firmware: no copy of the command on the stack).
pub(crate) struct BorrowedScratch<'a> {
    pub(crate) buf: &'a mut [u8; crate::MAX_COMMAND_SIZE],
    pub(crate) len: usize,
}

impl ParamScratch for BorrowedScratch<'_> {
    fn take(&mut self, len: usize) -> Option<&mut [u8]> {
        self.len = len;
        self.buf.get_mut(..len)
    }
}

impl Drop for BorrowedScratch<'_> {
    fn drop(&mut self) {
        if let Some(used) = self.buf.get_mut(..self.len) {
            zeroize::Zeroize::zeroize(used);
        }
    }
}

/// A buffer on the stack, written (and wiped) only by a command that decrypts: hosts, where
/// stack is plentiful and zeroing 4 KB per command would cost.
pub(crate) struct LazyScratch(pub(crate) Option<zeroize::Zeroizing<[u8; crate::MAX_COMMAND_SIZE]>>);

impl ParamScratch for LazyScratch {
    fn take(&mut self, len: usize) -> Option<&mut [u8]> {
        self.0
            .insert(zeroize::Zeroizing::new([0u8; crate::MAX_COMMAND_SIZE]))
            .get_mut(..len)
    }
}

impl<P: Platform> Tpm<P> {
    /// Execute a command; errors become the 10-byte error response in [`Tpm::execute`].
    pub(crate) fn run(
        &mut self,
        locality: u8,
        command: &[u8],
        rsp: &mut [u8; MAX_RESPONSE_SIZE],
        scratch: &mut impl ParamScratch,
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

        // Authorization area (Part 3 §5.6): authorization.rs.
        let area = if hdr.tag == TpmSt::SESSIONS {
            let size = usize::try_from(r.u32()?).map_err(|_| TpmRc::AUTHSIZE)?;
            if size < 9 || size > r.remaining() {
                // As the reference implementation's ExecuteCommand (and libtpms) answer.
                return Err(TpmRc::SIZE);
            }
            parse_auth_area(r.bytes(size)?)?
        } else {
            AuthArea::new()
        };
        let params = r.rest();
        let auth = if hdr.tag == TpmSt::SESSIONS {
            if info.no_sessions() {
                return Err(TpmRc::AUTH_CONTEXT);
            }
            self.authorize(&c, info, &area, params)?
        } else {
            if info.auth > 0 {
                return Err(TpmRc::AUTH_MISSING);
            }
            Authorized::none()
        };
        c.policy_auth = auth.first_is_policy();
        // Command audit (Part 1 §32.2): cpHash over the parameters as received.
        let audit_cp = self
            .audit
            .is_audited(hdr.code)
            .then(|| self.cp_hash(&c, info, self.audit.alg, params));

        // Parameter decryption (Part 1 §21), after the HMAC check over the ciphertext, into the
        // scratch buffer. Decrypted parameters may be secrets (sensitive data, new authValues):
        // the scratch wipes its copy when the command returns (only when there is one: wiping
        // costs).
        let params = match auth.decrypt.and_then(|i| auth.uses.get(i)) {
            None => params,
            Some(u) => {
                let sess = self.sessions.get(u.cmd.handle).ok_or(TpmRc::FAILURE)?;
                let key = self.crypt_key(sess, u.associated)?;
                let buf = scratch.take(params.len()).ok_or(TpmRc::SIZE)?;
                buf.copy_from_slice(params);
                let (size, rest) = buf.split_first_chunk_mut::<2>().ok_or(TpmRc::SIZE)?;
                let data = rest
                    .get_mut(..usize::from(u16::from_be_bytes(*size)))
                    .ok_or(TpmRc::SIZE)?;
                param_crypt(
                    sess,
                    key.expose(),
                    u.cmd.nonce,
                    sess.nonce_tpm.as_slice(),
                    data,
                    false,
                )?;
                &*buf
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
        if let Some(u) = auth.encrypt.and_then(|i| auth.uses.get(i))
            && let Some(sess) = self.sessions.get(u.cmd.handle)
        {
            let key = self.crypt_key(sess, u.associated)?;
            let out = w.written_mut();
            let (size, rest) = out.split_first_chunk_mut::<2>().ok_or(TpmRc::FAILURE)?;
            let data = rest
                .get_mut(..usize::from(u16::from_be_bytes(*size)))
                .ok_or(TpmRc::FAILURE)?;
            param_crypt(
                sess,
                key.expose(),
                u.next_nonce.as_slice(),
                u.cmd.nonce,
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
            self.respond_sessions(&c, &auth, rp, &mut aw)?;
            let n = aw.len();
            let new_end = end.checked_add(n).ok_or(TpmRc::SIZE)?;
            let dst = rsp.get_mut(end..new_end).ok_or(TpmRc::SIZE)?;
            // Equal lengths (n each); a zip has no length-mismatch panic path.
            dst.iter_mut().zip(&area).for_each(|(d, s)| *d = *s);
            end = new_end;
        }
        let size = u32::try_from(end).map_err(|_| TpmRc::SIZE)?;
        if let Some(s) = rsp.get_mut(2..6) {
            s.copy_from_slice(&size.to_be_bytes());
        }
        if let Some(cp) = audit_cp {
            let alg = self.audit.alg;
            let rp_params = rsp
                .get(param_off..param_off.saturating_add(param_len))
                .unwrap_or(&[]);
            let rp = alg.digest(&[&0u32.to_be_bytes(), &c.code.0.to_be_bytes(), rp_params]);
            self.audit.record(&cp, &rp);
        }
        // A command outside the exclusive audit session ends its exclusivity.
        if auth.audit.is_none() && !info.no_sessions() {
            self.exclusive_audit = None;
        }
        // TPMA_CC flushed: the sequence object goes only now, after the response HMAC was
        // computed with its authValue (Part 3 §17.5, §17.6).
        if let Some(i) = info.flushed_handle() {
            self.objects.remove(c.handle(i));
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
            HandleKind::Entity | HandleKind::EntityOrNull => {
                is_pcr
                    || matches!(ht, HT_TRANSIENT | HT_PERSISTENT | HT_NV_INDEX)
                    || matches!(h, RH_OWNER | RH_ENDORSEMENT | RH_PLATFORM | RH_LOCKOUT)
                    || (h == RH_NULL && kind == HandleKind::EntityOrNull)
            }
            HandleKind::Clear => matches!(h, RH_LOCKOUT | RH_PLATFORM),
            HandleKind::Hierarchy => matches!(h, RH_OWNER | RH_ENDORSEMENT | RH_PLATFORM),
            HandleKind::HierarchyAuth => {
                matches!(h, RH_OWNER | RH_ENDORSEMENT | RH_PLATFORM | RH_LOCKOUT)
            }
            HandleKind::Context => {
                matches!(ht, HT_TRANSIENT | HT_HMAC_SESSION | HT_POLICY_SESSION)
            }
            HandleKind::Provision => matches!(h, RH_OWNER | RH_PLATFORM),
            HandleKind::Lockout => h == RH_LOCKOUT,
            HandleKind::Platform => h == RH_PLATFORM,
            HandleKind::NvIndex => ht == HT_NV_INDEX,
            HandleKind::NvAuth => ht == HT_NV_INDEX || matches!(h, RH_OWNER | RH_PLATFORM),
            HandleKind::Parent => {
                ht == HT_TRANSIENT
                    || ht == HT_PERSISTENT
                    || matches!(h, RH_OWNER | RH_ENDORSEMENT | RH_PLATFORM | RH_NULL)
            }
            HandleKind::PolicySession => ht == HT_POLICY_SESSION,
            HandleKind::HmacSession => ht == HT_HMAC_SESSION,
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
        if matches!(kind, HandleKind::PolicySession | HandleKind::HmacSession)
            && self.sessions.get(h).is_none()
        {
            return Err(TpmRc::reference_h(u8::try_from(i).unwrap_or(0)));
        }
        // An index or persistent object of a disabled hierarchy is not there (Part 3 §24.2).
        if ht == HT_NV_INDEX
            && !self.nv.get(h).is_some_and(|nv| {
                if nv.has(crate::state::nv::attr::PLATFORMCREATE) {
                    self.hier.ph_enable_nv
                } else {
                    self.hier.sh_enable
                }
            })
        {
            return Err(TpmRc::HANDLE.at_handle(n));
        }
        if ht == HT_PERSISTENT
            && !matches!(self.objects.get(h), Some(crate::state::object::Object::Key(k))
                if self.hier.enabled(k.hierarchy))
        {
            return Err(TpmRc::HANDLE.at_handle(n));
        }
        if ht == HT_PERMANENT && !self.hier.enabled(h) {
            return Err(TpmRc::HIERARCHY.at_handle(n));
        }
        Ok(())
    }
}

/// [`TpmRc::at_param`] with a position known only at run time ([`Params::next`]), out of line:
/// one copy instead of one per parameter read.
#[inline(never)]
fn mark_param(rc: TpmRc, n: u8) -> TpmRc {
    rc.at_param(n)
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
            (0x11F, 0x0440_011F),
            (0x132, 0x0240_0132),
            (0x135, 0x0440_0135),
            (0x13B, 0x0240_013B),
            (0x14F, 0x0440_014F),
            (0x184, 0x0600_0184),
            (0x14B, 0x0400_014B),
            (0x152, 0x0400_0152),
            (0x156, 0x0200_0156),
            (0x188, 0x0200_0188),
            (0x164, 0x0200_0164),
            (0x193, 0x0200_0193),
            (0x14A, 0x0400_014A),
            (0x124, 0x02C0_0124),
            (0x125, 0x02C0_0125),
            #[cfg(feature = "pcr-allocate")]
            (0x12B, 0x0240_012B),
            (0x12C, 0x0240_012C),
            (0x183, 0x0200_0183),
            (0x12D, 0x0240_012D),
            (0x13F, 0x0240_013F),
            #[cfg(feature = "ecdaa")]
            (0x18B, 0x0200_018B),
            (0x18D, 0x0200_018D),
            (0x18E, 0x0000_018E),
        ];
        for (cc, attrs) in expect {
            assert_eq!(lookup(TpmCc(cc)).unwrap().attributes(), attrs, "cc {cc:#x}");
        }
    }
}
