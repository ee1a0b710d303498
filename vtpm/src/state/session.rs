//! Authorization sessions (Part 1 §19; Part 3 §11): fixed slots, handle = type ‖ slot.

use crate::crypto::hash::HashAlg;
use crate::wire::constants::TpmSe;
use crate::wire::constants::handle::{HT_HMAC_SESSION, HT_POLICY_SESSION, handle_type};
use crate::wire::types::{Digest, MAX_DIGEST, Nonce, Secret};

/// Loaded session slots (at least 16, with the kernel's resource manager in mind).
pub const MAX_SESSIONS: usize = 16;

/// The kind of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    /// TPM_SE_HMAC.
    Hmac,
    /// TPM_SE_POLICY.
    Policy,
    /// TPM_SE_TRIAL.
    Trial,
}

impl SessionKind {
    /// From TPM_SE.
    pub fn from_se(se: TpmSe) -> Option<Self> {
        match se {
            TpmSe::HMAC => Some(Self::Hmac),
            TpmSe::POLICY => Some(Self::Policy),
            TpmSe::TRIAL => Some(Self::Trial),
            _ => None,
        }
    }
}

/// The session's parameter-encryption algorithm (TPMT_SYM_DEF, Part 2 §11.1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionSym {
    /// TPM_ALG_NULL: no parameter encryption.
    Null,
    /// XOR obfuscation with a KDFa mask (Part 1 §21.2).
    Xor(HashAlg),
    /// AES-CFB with 128- or 256-bit keys (Part 1 §21.3).
    AesCfb {
        /// Key size in bits.
        key_bits: u16,
    },
}

/// The value a bound HMAC session keeps of its bind entity (Part 1 §19.6.10): a digest of the
/// entity's Name and of its authValue at the time of binding, so that the session counts as
/// bound only to the same entity with the same authValue (a public-only copy with the same
/// Name, another sequence, or the entity after a change of its authValue do not match).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BindValue(pub [u8; 32]);

impl core::fmt::Debug for BindValue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("BindValue([REDACTED])")
    }
}

/// The policy-session state besides policyDigest (Part 1 §19.7; Part 3 §23): what the policy
/// commands assert and the authorization check at use enforces. All of it starts over when
/// the session authorizes a command (or on PolicyRestart).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyState {
    /// The command the policy is limited to (TPM2_PolicyCommandCode), if any.
    pub command_code: Option<crate::wire::constants::TpmCc>,
    /// cpHash the command must have (TPM2_PolicyCpHash, or PolicySecret's cpHashA).
    pub cp_hash: Option<Digest>,
    /// nameHash the command's handles must have (TPM2_PolicyNameHash).
    pub name_hash: Option<Digest>,
    /// Allowed localities as TPMA_LOCALITY (TPM2_PolicyLocality); 0 = any.
    pub locality: u8,
    /// TPM2_PolicyAuthValue: the entity's authValue enters the HMAC key.
    pub auth_value_needed: bool,
    /// TPM2_PolicyPassword: the entity's authValue is given in clear as the session's HMAC.
    pub password_needed: bool,
    /// Time (ms of TPM time, Part 1 §36) after which the policy has expired; 0 = never.
    pub timeout_ms: u64,
    /// pcrUpdateCounter when TPM2_PolicyPCR checked the PCRs: a change before use fails.
    pub pcr_counter: Option<u32>,
    /// The TPMT_PUBLIC digest a create command must use (TPM2_PolicyTemplate).
    pub template_hash: Option<Digest>,
    /// TPM2_PolicyNvWritten: whether the authorized NV index must have been written.
    pub nv_written: Option<bool>,
    /// TPM2_PolicyPhysicalPresence (isPPRequired): physical presence must be asserted at use.
    pub pp_required: bool,
}

/// One session.
#[derive(Clone, Debug)]
pub struct Session {
    /// HMAC, policy or trial.
    pub kind: SessionKind,
    /// authHash.
    pub auth_hash: HashAlg,
    /// The current nonceTPM.
    pub nonce_tpm: Nonce,
    /// sessionKey (empty for an unbound, unsalted session).
    pub session_key: Secret<MAX_DIGEST>,
    /// An HMAC session's bind value (isBound); policy sessions are never bound for the HMAC.
    pub bound: Option<BindValue>,
    /// isDaBound: the bind entity is subject to dictionary-attack protection, so every use of
    /// the session is (its sessionKey holds that entity's authValue).
    pub da_bound: bool,
    /// isLockoutBound: bound to TPM_RH_LOCKOUT; failures count against lockoutAuth.
    pub lockout_bound: bool,
    /// policyDigest (policy and trial sessions).
    pub policy_digest: Digest,
    /// The rest of a policy session's state.
    pub policy: PolicyState,
    /// TPM time (ms since _TPM_Init) when the session started or its policy last started
    /// over: the base of PolicySecret's relative expiration.
    pub start_ms: u64,
    /// The session audit digest once the session has been used for audit (isAudit; Part 1
    /// §19.6.14): H(digestOld ‖ cpHash ‖ rpHash) over each audited command.
    pub audit_digest: Option<Digest>,
    /// Parameter encryption.
    pub symmetric: SessionSym,
    /// The context sequence number while the session is saved (ContextSave): a saved session
    /// is not loaded, keeps its handle, and loads once from the blob with this number.
    pub saved: Option<u64>,
}

impl Session {
    /// Start the policy over (Part 3 §23.19 PolicyRestart; and after each authorization, as
    /// the reference implementation's SessionResetPolicyData): policyDigest back to zeros and
    /// every assertion dropped; the bind attributes and the start time stay.
    pub fn reset_policy(&mut self) {
        self.policy_digest = Digest::zeroed(self.auth_hash.size()).unwrap_or_default();
        self.policy = PolicyState::default();
    }
}

/// The session slots.
pub struct Sessions {
    slots: [Option<Session>; MAX_SESSIONS],
}

impl Default for Sessions {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl Sessions {
    /// No sessions.
    pub const EMPTY: Self = Self {
        slots: [const { None }; MAX_SESSIONS],
    };
}

impl Sessions {
    fn index(handle: u32) -> Option<usize> {
        let ht = handle_type(handle);
        if ht != HT_HMAC_SESSION && ht != HT_POLICY_SESSION {
            return None;
        }
        let i = usize::try_from(handle & 0x00FF_FFFF).ok()?;
        (i < MAX_SESSIONS).then_some(i)
    }

    fn handle_of(i: usize, kind: SessionKind) -> Option<u32> {
        let ht = match kind {
            SessionKind::Hmac => HT_HMAC_SESSION,
            SessionKind::Policy | SessionKind::Trial => HT_POLICY_SESSION,
        };
        (u32::from(ht) << 24).checked_add(u32::try_from(i).ok()?)
    }

    /// The session at `handle`, loaded or saved, if of the handle's type.
    pub fn get_any(&self, handle: u32) -> Option<&Session> {
        let s = self.slots.get(Self::index(handle)?)?.as_ref()?;
        (Self::handle_of(Self::index(handle)?, s.kind) == Some(handle)).then_some(s)
    }

    /// The session at `handle`, loaded or saved, mutably.
    pub fn get_any_mut(&mut self, handle: u32) -> Option<&mut Session> {
        self.get_any(handle)?;
        self.slots.get_mut(Self::index(handle)?)?.as_mut()
    }

    /// The session at `handle`, if loaded (not saved) and of the handle's type.
    pub fn get(&self, handle: u32) -> Option<&Session> {
        self.get_any(handle).filter(|s| s.saved.is_none())
    }

    /// The loaded session at `handle`, mutably.
    pub fn get_mut(&mut self, handle: u32) -> Option<&mut Session> {
        self.get(handle)?;
        self.slots.get_mut(Self::index(handle)?)?.as_mut()
    }

    /// Whether a free slot exists.
    pub fn has_free(&self) -> bool {
        self.slots.iter().any(Option::is_none)
    }

    /// Store a new session; returns its handle, or `None` if all slots are used.
    pub fn insert(&mut self, s: Session) -> Option<u32> {
        let i = self.slots.iter().position(Option::is_none)?;
        let h = Self::handle_of(i, s.kind)?;
        *self.slots.get_mut(i)? = Some(s);
        Some(h)
    }

    /// Flush the session at `handle`, loaded or saved; returns whether it existed.
    pub fn remove(&mut self, handle: u32) -> bool {
        if self.get_any(handle).is_none() {
            return false;
        }
        Self::index(handle)
            .and_then(|i| self.slots.get_mut(i))
            .map(|s| s.take().is_some())
            .unwrap_or(false)
    }

    /// Drop the loaded sessions and keep the saved ones (_TPM_Init): a saved session's
    /// context still loads after TPM Resume and TPM Restart, as the reference
    /// implementation's SessionStartup; a TPM Reset then drops them too ([`Sessions::clear`]).
    pub fn drop_loaded(&mut self) {
        self.slots
            .iter_mut()
            .filter(|s| s.as_ref().is_some_and(|s| s.saved.is_none()))
            .for_each(|s| *s = None);
    }

    /// Flush every session.
    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
    }

    /// Handles of loaded sessions of handle type `ht`, ascending.
    pub fn handles(&self, ht: u8) -> impl Iterator<Item = u32> + '_ {
        self.slots.iter().enumerate().filter_map(move |(i, s)| {
            let h = Self::handle_of(i, s.as_ref()?.kind)?;
            (handle_type(h) == ht).then_some(h)
        })
    }

    /// Active sessions (loaded or saved).
    pub fn count(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// Loaded sessions.
    pub fn loaded(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.as_ref().is_some_and(|s| s.saved.is_none()))
            .count()
    }
}
