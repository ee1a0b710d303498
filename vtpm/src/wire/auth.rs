//! The authorization area: TPMS_AUTH_COMMAND and TPMS_AUTH_RESPONSE (Part 2 §10.13; Part 1
//! §18.7).

use super::Reader;
use super::constants::handle::{HT_HMAC_SESSION, HT_POLICY_SESSION, RS_PW, handle_type};
use super::types::MAX_DIGEST;
use crate::error::{TpmRc, TpmResult};

/// At most three sessions per command (MAX_SESSION_NUM).
pub const MAX_SESSIONS: usize = 3;

/// TPMA_SESSION (Part 2 §8.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionAttrs(pub u8);

impl SessionAttrs {
    /// continueSession.
    pub const CONTINUE_SESSION: u8 = 0x01;
    /// auditExclusive.
    pub const AUDIT_EXCLUSIVE: u8 = 0x02;
    /// auditReset.
    pub const AUDIT_RESET: u8 = 0x04;
    /// Reserved bits 3 and 4.
    pub const RESERVED: u8 = 0x18;
    /// decrypt: the first command parameter is encrypted.
    pub const DECRYPT: u8 = 0x20;
    /// encrypt: the first response parameter is encrypted.
    pub const ENCRYPT: u8 = 0x40;
    /// audit.
    pub const AUDIT: u8 = 0x80;

    /// Whether every bit of `mask` is set.
    pub const fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// One TPMS_AUTH_COMMAND, borrowed from the command buffer.
///
/// `Debug` prints `hmac` as `[REDACTED]`: for TPM_RS_PW it is the password itself.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AuthCommand<'a> {
    /// TPMI_SH_AUTH_SESSION: TPM_RS_PW or an HMAC / policy session handle.
    pub handle: u32,
    /// nonceCaller (TPM2B_NONCE).
    pub nonce: &'a [u8],
    /// sessionAttributes.
    pub attrs: SessionAttrs,
    /// hmac (TPM2B_AUTH): the HMAC, or the password for TPM_RS_PW.
    pub hmac: &'a [u8],
}

impl core::fmt::Debug for AuthCommand<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthCommand")
            .field("handle", &format_args!("{:#010x}", self.handle))
            .field("nonce", &self.nonce)
            .field("attrs", &self.attrs)
            .field("hmac", &format_args!("[REDACTED]"))
            .finish()
    }
}

/// The sessions of one command.
pub type AuthArea<'a> = heapless::Vec<AuthCommand<'a>, MAX_SESSIONS>;

/// Parse an authorization area of exactly `area.len()` bytes. Errors carry the session
/// position (TPM_RC_S + n); more than three sessions is TPM_RC_AUTHSIZE.
pub fn parse_auth_area(area: &[u8]) -> TpmResult<AuthArea<'_>> {
    let mut r = Reader::new(area);
    let mut out = AuthArea::new();
    while !r.is_empty() {
        let n = u8::try_from(out.len().saturating_add(1)).unwrap_or(u8::MAX);
        if out.len() == MAX_SESSIONS {
            return Err(TpmRc::AUTHSIZE);
        }
        let s = parse_one(&mut r).map_err(|rc| rc.at_session(n))?;
        out.push(s).map_err(|_| TpmRc::AUTHSIZE)?;
    }
    Ok(out)
}

fn parse_one<'a>(r: &mut Reader<'a>) -> TpmResult<AuthCommand<'a>> {
    let handle = r.u32()?;
    let ht = handle_type(handle);
    if handle != RS_PW && ht != HT_HMAC_SESSION && ht != HT_POLICY_SESSION {
        return Err(TpmRc::VALUE);
    }
    let nonce = r.tpm2b(MAX_DIGEST)?;
    let attrs = SessionAttrs(r.u8()?);
    if attrs.0 & SessionAttrs::RESERVED != 0 {
        return Err(TpmRc::RESERVED_BITS);
    }
    let hmac = r.tpm2b(MAX_DIGEST)?;
    Ok(AuthCommand {
        handle,
        nonce,
        attrs,
        hmac,
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::wire::types::redaction::assert_redacted;
    use std::format;

    #[test]
    fn password_is_not_in_debug() {
        let area = [
            0x40, 0, 0, 9, 0, 0, 1, 0, 8, b'p', b'a', b's', b's', b'w', b'o', b'r', b'd',
        ];
        let a = parse_auth_area(&area).unwrap();
        assert_redacted(&format!("{a:?}"), b"password");
    }

    #[test]
    fn password_session() {
        let area = [0x40, 0, 0, 9, 0, 0, 1, 0, 2, b'h', b'i'];
        let a = parse_auth_area(&area).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].handle, RS_PW);
        assert_eq!(a[0].hmac, b"hi");
    }

    #[test]
    fn bad_session_handle_is_value_at_session() {
        let area = [0x12, 0, 0, 9, 0, 0, 1, 0, 0];
        assert_eq!(parse_auth_area(&area), Err(TpmRc(0x984)));
        // Truncated second session: INSUFFICIENT at session 2.
        let area = [0x40, 0, 0, 9, 0, 0, 1, 0, 0, 0x40, 0, 0];
        assert_eq!(parse_auth_area(&area), Err(TpmRc(0xA9A)));
    }

    #[test]
    fn four_sessions_is_authsize() {
        let one = [0x40u8, 0, 0, 9, 0, 0, 1, 0, 0];
        let mut area = [0u8; 36];
        for c in area.chunks_mut(9) {
            c.copy_from_slice(&one);
        }
        assert_eq!(parse_auth_area(&area), Err(TpmRc::AUTHSIZE));
    }
}
