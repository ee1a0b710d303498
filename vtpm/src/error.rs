//! TPM response codes: one error type for the whole core (TCG TPM 2.0 Part 2 §6.6).

/// A TPM_RC value (Part 2 §6.6). `Ok` responses never carry one; every failure path does.
///
/// Format-one codes carry the position of the offending handle, parameter or session; the
/// dispatcher adds it with [`TpmRc::at_param`], [`TpmRc::at_handle`] and [`TpmRc::at_session`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TpmRc(pub u32);

impl core::fmt::Debug for TpmRc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "TpmRc({:#05x})", self.0)
    }
}

impl TpmRc {
    /// TPM_RC_SUCCESS.
    pub const SUCCESS: Self = Self(0x000);
    /// TPM_RC_BAD_TAG: the tag is not a command tag (returned with TPM_ST_RSP_COMMAND).
    pub const BAD_TAG: Self = Self(0x01E);
    /// TPM_RC_INITIALIZE: the TPM is not initialized, or Startup was sent twice.
    pub const INITIALIZE: Self = Self(0x100);
    /// TPM_RC_FAILURE: the TPM is in failure mode.
    pub const FAILURE: Self = Self(0x101);
    /// TPM_RC_SEQUENCE: improper use of a sequence handle.
    pub const SEQUENCE: Self = Self(0x103);
    /// TPM_RC_DISABLED: the command is disabled.
    pub const DISABLED: Self = Self(0x120);
    /// TPM_RC_EXCLUSIVE: command failed because audit sequence required exclusivity.
    pub const EXCLUSIVE: Self = Self(0x121);
    /// TPM_RC_AUTH_TYPE: authorization handle is not correct for command.
    pub const AUTH_TYPE: Self = Self(0x124);
    /// TPM_RC_AUTH_MISSING: the command needs an authorization session it did not get.
    pub const AUTH_MISSING: Self = Self(0x125);
    /// TPM_RC_POLICY: policy failure in math operation or an invalid authPolicy value.
    pub const POLICY: Self = Self(0x126);
    /// TPM_RC_PCR: PCR check fail.
    pub const PCR: Self = Self(0x127);
    /// TPM_RC_PCR_CHANGED: PCR have changed since checked.
    pub const PCR_CHANGED: Self = Self(0x128);
    /// TPM_RC_UPGRADE: the TPM is in field upgrade mode.
    pub const UPGRADE: Self = Self(0x12D);
    /// TPM_RC_TOO_MANY_CONTEXTS: context ID counter is at maximum.
    pub const TOO_MANY_CONTEXTS: Self = Self(0x12E);
    /// TPM_RC_AUTH_UNAVAILABLE: authValue or authPolicy is not available for the selected entity.
    pub const AUTH_UNAVAILABLE: Self = Self(0x12F);
    /// TPM_RC_REBOOT: a _TPM_Init and Startup(CLEAR) is required.
    pub const REBOOT: Self = Self(0x130);
    /// TPM_RC_UNBALANCED: the protection algorithms are not reasonably balanced.
    pub const UNBALANCED: Self = Self(0x131);
    /// TPM_RC_COMMAND_SIZE: commandSize disagrees with the bytes received or the parse.
    pub const COMMAND_SIZE: Self = Self(0x142);
    /// TPM_RC_COMMAND_CODE: the command code is not supported.
    pub const COMMAND_CODE: Self = Self(0x143);
    /// TPM_RC_AUTHSIZE: authorizationSize is out of range or sessions are wrong in number.
    pub const AUTHSIZE: Self = Self(0x144);
    /// TPM_RC_AUTH_CONTEXT: a session was given to a command that takes none, or too many.
    pub const AUTH_CONTEXT: Self = Self(0x145);
    /// TPM_RC_NV_RANGE.
    pub const NV_RANGE: Self = Self(0x146);
    /// TPM_RC_NV_SIZE.
    pub const NV_SIZE: Self = Self(0x147);
    /// TPM_RC_NV_LOCKED.
    pub const NV_LOCKED: Self = Self(0x148);
    /// TPM_RC_NV_AUTHORIZATION.
    pub const NV_AUTHORIZATION: Self = Self(0x149);
    /// TPM_RC_NV_UNINITIALIZED.
    pub const NV_UNINITIALIZED: Self = Self(0x14A);
    /// TPM_RC_NV_SPACE.
    pub const NV_SPACE: Self = Self(0x14B);
    /// TPM_RC_NV_DEFINED.
    pub const NV_DEFINED: Self = Self(0x14C);
    /// TPM_RC_BAD_CONTEXT: context in ContextLoad is not valid.
    pub const BAD_CONTEXT: Self = Self(0x150);
    /// TPM_RC_CPHASH.
    pub const CPHASH: Self = Self(0x151);
    /// TPM_RC_PARENT.
    pub const PARENT: Self = Self(0x152);
    /// TPM_RC_NEEDS_TEST.
    pub const NEEDS_TEST: Self = Self(0x153);
    /// TPM_RC_NO_RESULT.
    pub const NO_RESULT: Self = Self(0x154);
    /// TPM_RC_SENSITIVE.
    pub const SENSITIVE: Self = Self(0x155);

    /// TPM_RC_ASYMMETRIC (format one).
    pub const ASYMMETRIC: Self = Self(0x081);
    /// TPM_RC_ATTRIBUTES (format one).
    pub const ATTRIBUTES: Self = Self(0x082);
    /// TPM_RC_HASH (format one): hash algorithm not supported or not appropriate.
    pub const HASH: Self = Self(0x083);
    /// TPM_RC_VALUE (format one): value is out of range or not correct for the context.
    pub const VALUE: Self = Self(0x084);
    /// TPM_RC_HIERARCHY (format one).
    pub const HIERARCHY: Self = Self(0x085);
    /// TPM_RC_KEY_SIZE (format one).
    pub const KEY_SIZE: Self = Self(0x087);
    /// TPM_RC_MGF (format one).
    pub const MGF: Self = Self(0x088);
    /// TPM_RC_MODE (format one).
    pub const MODE: Self = Self(0x089);
    /// TPM_RC_TYPE (format one).
    pub const TYPE: Self = Self(0x08A);
    /// TPM_RC_HANDLE (format one).
    pub const HANDLE: Self = Self(0x08B);
    /// TPM_RC_KDF (format one).
    pub const KDF: Self = Self(0x08C);
    /// TPM_RC_RANGE (format one).
    pub const RANGE: Self = Self(0x08D);
    /// TPM_RC_AUTH_FAIL (format one): the authorization HMAC check failed (DA protected).
    pub const AUTH_FAIL: Self = Self(0x08E);
    /// TPM_RC_NONCE (format one).
    pub const NONCE: Self = Self(0x08F);
    /// TPM_RC_PP (format one).
    pub const PP: Self = Self(0x090);
    /// TPM_RC_SCHEME (format one).
    pub const SCHEME: Self = Self(0x092);
    /// TPM_RC_SIZE (format one).
    pub const SIZE: Self = Self(0x095);
    /// TPM_RC_SYMMETRIC (format one).
    pub const SYMMETRIC: Self = Self(0x096);
    /// TPM_RC_TAG (format one).
    pub const TAG: Self = Self(0x097);
    /// TPM_RC_SELECTOR (format one): union selector is incorrect.
    pub const SELECTOR: Self = Self(0x098);
    /// TPM_RC_INSUFFICIENT (format one): the TPM was unable to unmarshal a value.
    pub const INSUFFICIENT: Self = Self(0x09A);
    /// TPM_RC_SIGNATURE (format one).
    pub const SIGNATURE: Self = Self(0x09B);
    /// TPM_RC_KEY (format one).
    pub const KEY: Self = Self(0x09C);
    /// TPM_RC_POLICY_FAIL (format one).
    pub const POLICY_FAIL: Self = Self(0x09D);
    /// TPM_RC_INTEGRITY (format one).
    pub const INTEGRITY: Self = Self(0x09F);
    /// TPM_RC_TICKET (format one).
    pub const TICKET: Self = Self(0x0A0);
    /// TPM_RC_RESERVED_BITS (format one).
    pub const RESERVED_BITS: Self = Self(0x0A1);
    /// TPM_RC_BAD_AUTH (format one): authorization failure without DA implications.
    pub const BAD_AUTH: Self = Self(0x0A2);
    /// TPM_RC_EXPIRED (format one).
    pub const EXPIRED: Self = Self(0x0A3);
    /// TPM_RC_POLICY_CC (format one).
    pub const POLICY_CC: Self = Self(0x0A4);
    /// TPM_RC_BINDING (format one).
    pub const BINDING: Self = Self(0x0A5);
    /// TPM_RC_CURVE (format one).
    pub const CURVE: Self = Self(0x0A6);
    /// TPM_RC_ECC_POINT (format one).
    pub const ECC_POINT: Self = Self(0x0A7);

    /// TPM_RC_CONTEXT_GAP (warning).
    pub const CONTEXT_GAP: Self = Self(0x901);
    /// TPM_RC_OBJECT_MEMORY (warning): out of object slots.
    pub const OBJECT_MEMORY: Self = Self(0x902);
    /// TPM_RC_SESSION_MEMORY (warning): out of session slots.
    pub const SESSION_MEMORY: Self = Self(0x903);
    /// TPM_RC_MEMORY (warning).
    pub const MEMORY: Self = Self(0x904);
    /// TPM_RC_SESSION_HANDLES (warning): out of session handles.
    pub const SESSION_HANDLES: Self = Self(0x905);
    /// TPM_RC_OBJECT_HANDLES (warning).
    pub const OBJECT_HANDLES: Self = Self(0x906);
    /// TPM_RC_LOCALITY (warning): bad locality.
    pub const LOCALITY: Self = Self(0x907);
    /// TPM_RC_TESTING (warning).
    pub const TESTING: Self = Self(0x90A);
    /// TPM_RC_REFERENCE_H0 (warning): the first handle references a missing entity.
    pub const REFERENCE_H0: Self = Self(0x910);
    /// TPM_RC_REFERENCE_S0 (warning): the first session references a missing session.
    pub const REFERENCE_S0: Self = Self(0x918);
    /// TPM_RC_LOCKOUT (warning).
    pub const LOCKOUT: Self = Self(0x921);
    /// TPM_RC_RETRY (warning).
    pub const RETRY: Self = Self(0x922);

    const FMT1: u32 = 0x080;
    const RC_P: u32 = 0x040;
    const RC_S: u32 = 0x800;

    /// Whether this is a format-one code (bit 7 set), the only kind that carries a position.
    pub const fn is_format_one(self) -> bool {
        self.0 & Self::FMT1 != 0
    }

    /// The code without position bits (the format-one base, or the value itself).
    pub const fn base(self) -> Self {
        if self.is_format_one() {
            Self(self.0 & 0xBF)
        } else {
            self
        }
    }

    /// Mark a format-one code as about parameter `n` (1..=15); other codes are returned as is.
    pub const fn at_param(self, n: u8) -> Self {
        if !self.is_format_one() || self.0 & 0xF40 != 0 || n == 0 || n > 15 {
            return self;
        }
        Self(self.0 | Self::RC_P | ((n as u32) << 8))
    }

    /// Mark a format-one code as about handle `n` (1..=7).
    pub const fn at_handle(self, n: u8) -> Self {
        if !self.is_format_one() || self.0 & 0xF40 != 0 || n == 0 || n > 7 {
            return self;
        }
        Self(self.0 | ((n as u32) << 8))
    }

    /// Mark a format-one code as about session `n` (1..=7).
    pub const fn at_session(self, n: u8) -> Self {
        if !self.is_format_one() || self.0 & 0xF40 != 0 || n == 0 || n > 7 {
            return self;
        }
        Self(self.0 | Self::RC_S | ((n as u32) << 8))
    }

    /// A warning about the `n`th handle (TPM_RC_REFERENCE_H0 + n, n = 0..=6).
    pub const fn reference_h(n: u8) -> Self {
        Self(Self::REFERENCE_H0.0 | (n as u32 & 7))
    }

    /// A warning about the `n`th session (TPM_RC_REFERENCE_S0 + n, n = 0..=6).
    pub const fn reference_s(n: u8) -> Self {
        Self(Self::REFERENCE_S0.0 | (n as u32 & 7))
    }
}

/// Result of a TPM operation.
pub type TpmResult<T> = Result<T, TpmRc>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_part2_6_6() {
        assert_eq!(TpmRc::SCHEME.at_param(2), TpmRc(0x2D2));
        assert_eq!(TpmRc::AUTH_FAIL.at_session(1), TpmRc(0x98E));
        assert_eq!(TpmRc::BAD_AUTH.at_session(1), TpmRc(0x9A2));
        assert_eq!(TpmRc::HANDLE.at_handle(1), TpmRc(0x18B));
        assert_eq!(TpmRc::VALUE.at_param(1), TpmRc(0x1C4));
        // Format-zero codes and already-positioned codes are unchanged.
        assert_eq!(TpmRc::COMMAND_SIZE.at_param(1), TpmRc::COMMAND_SIZE);
        assert_eq!(TpmRc(0x2D2).at_param(3), TpmRc(0x2D2));
        assert_eq!(TpmRc(0x2D2).base(), TpmRc::SCHEME);
    }
}
