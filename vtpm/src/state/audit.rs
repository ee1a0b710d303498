//! Command audit (Part 1 §32; Part 3 §21): which commands are audited, the audit digest over
//! them and the audit counter. Held in RAM for the life of the instance, like everything else.

use crate::crypto::hash::HashAlg;
use crate::wire::constants::TpmCc;
use crate::wire::types::Digest;

/// The command audit digest's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditDigest {
    /// No audited command since the digest was last reported or reset: the next one starts a
    /// new digest and increments the audit counter.
    Empty,
    /// SetCommandCodeAuditStatus just changed the hash: that command is not audited, the
    /// next one starts a new digest (the reference implementation's digest size of 1).
    AlgChanged,
    /// H(…H(0…0 ‖ cpHash ‖ rpHash)… ‖ cpHash ‖ rpHash) over the audited commands.
    Running(Digest),
}

/// Command audit state.
#[derive(Clone, Debug)]
pub struct CommandAudit {
    /// The audit hash (TPM_PT_AUDIT… / TPMS_COMMAND_AUDIT_INFO.digestAlg).
    pub alg: HashAlg,
    /// The audit digest.
    pub digest: AuditDigest,
    /// auditCounter: digests started so far.
    pub counter: u64,
    /// The audited commands, as bits of their index in [`crate::dispatch::COMMANDS`].
    audited: u128,
}

impl CommandAudit {
    /// The manufactured state (the reference's CommandAuditPreInstall_Init): only
    /// TPM2_SetCommandCodeAuditStatus is audited, with `alg` (the context-integrity hash).
    /// A `const fn`, for [`crate::Tpm::unmanufactured`].
    pub const fn new(alg: HashAlg) -> Self {
        let audited = match index_of(TpmCc::SET_COMMAND_CODE_AUDIT_STATUS) {
            Some(i) => match 1u128.checked_shl(i) {
                Some(b) => b,
                None => 0,
            },
            None => 0,
        };
        Self {
            alg,
            digest: AuditDigest::Empty,
            counter: 0,
            audited,
        }
    }

    fn bit(code: TpmCc) -> Option<u128> {
        let i = crate::dispatch::COMMANDS
            .binary_search_by(|c| c.code.cmp(&code))
            .ok()?;
        1u128.checked_shl(u32::try_from(i).ok()?)
    }

    /// Whether `code` is audited.
    pub fn is_audited(&self, code: TpmCc) -> bool {
        Self::bit(code).is_some_and(|b| self.audited & b != 0)
    }

    /// Audit (`on`) or stop auditing `code`; unimplemented codes are ignored, and
    /// SetCommandCodeAuditStatus is always audited. Returns whether anything changed.
    pub fn set(&mut self, code: TpmCc, on: bool) -> bool {
        let Some(b) = Self::bit(code) else {
            return false;
        };
        if !on && code == TpmCc::SET_COMMAND_CODE_AUDIT_STATUS {
            return false;
        }
        let before = self.audited;
        if on {
            self.audited |= b;
        } else {
            self.audited &= !b;
        }
        before != self.audited
    }

    /// The audited commands in ascending order.
    pub fn commands(&self) -> impl Iterator<Item = TpmCc> + '_ {
        crate::dispatch::COMMANDS
            .iter()
            .map(|c| c.code)
            .filter(|c| self.is_audited(*c))
    }

    /// Record one audited command (the reference's CommandAudit, Part 1 §32.2).
    pub fn record(&mut self, cp_hash: &Digest, rp_hash: &Digest) {
        let old = match self.digest {
            AuditDigest::AlgChanged => {
                self.digest = AuditDigest::Empty;
                return;
            }
            AuditDigest::Empty => {
                self.counter = self.counter.wrapping_add(1);
                Digest::zeroed(self.alg.size()).unwrap_or_default()
            }
            AuditDigest::Running(d) => d,
        };
        self.digest = AuditDigest::Running(self.alg.digest(&[
            old.as_slice(),
            cp_hash.as_slice(),
            rp_hash.as_slice(),
        ]));
    }
}

// Every implemented command has a bit in `CommandAudit::audited`.
const _: () = assert!(crate::dispatch::COMMANDS.len() <= 128);

/// The index of `code` in [`crate::dispatch::COMMANDS`], at compile time.
const fn index_of(code: TpmCc) -> Option<u32> {
    let mut rest = crate::dispatch::COMMANDS;
    let mut i = 0u32;
    while let [first, tail @ ..] = rest {
        if first.code.0 == code.0 {
            return Some(i);
        }
        rest = tail;
        i = i.wrapping_add(1);
    }
    None
}
