//! Command and response headers (Part 1 §18.2; Part 3 §4).

use super::Reader;
use super::constants::{TpmCc, TpmSt};
use crate::MAX_COMMAND_SIZE;
use crate::error::TpmRc;

/// Size of a command or response header: tag u16 ‖ size u32 ‖ code u32.
pub const HEADER_SIZE: usize = 10;

/// A checked command header. Only [`CommandHeader::parse`] constructs one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandHeader {
    /// TPM_ST_NO_SESSIONS or TPM_ST_SESSIONS.
    pub tag: TpmSt,
    /// commandSize, equal to the number of bytes received.
    pub size: u32,
    /// The command code (not yet checked against the implemented commands).
    pub code: TpmCc,
}

impl CommandHeader {
    /// Parse and check a header: length (TPM_RC_INSUFFICIENT below 10 bytes), then in the
    /// order of the reference implementation's ExecuteCommand: tag (TPM_RC_BAD_TAG), commandSize against the bytes received and
    /// MAX_COMMAND_SIZE (TPM_RC_COMMAND_SIZE), then the code. Returns the header and the bytes
    /// after it.
    pub fn parse(command: &[u8]) -> Result<(Self, &[u8]), TpmRc> {
        // Shorter than a header: TPM_RC_INSUFFICIENT, whatever the size field says (libtpms).
        if command.len() < HEADER_SIZE {
            return Err(TpmRc::INSUFFICIENT);
        }
        let mut r = Reader::new(command);
        let tag = TpmSt(r.u16()?);
        if tag != TpmSt::NO_SESSIONS && tag != TpmSt::SESSIONS {
            return Err(TpmRc::BAD_TAG);
        }
        let size = r.u32()?;
        if usize::try_from(size).ok() != Some(command.len()) || command.len() > MAX_COMMAND_SIZE {
            return Err(TpmRc::COMMAND_SIZE);
        }
        let code = TpmCc(r.u32()?);
        Ok((Self { tag, size, code }, r.rest()))
    }
}

/// Write the 10-byte error response for `rc` into `rsp` (Part 3 §4: every error response is a
/// bare header; TPM_RC_BAD_TAG is answered with TPM_ST_RSP_COMMAND). Returns 10, or 0 if `rsp`
/// is shorter than a header.
pub fn write_error(rsp: &mut [u8], rc: TpmRc) -> usize {
    let tag = if rc == TpmRc::BAD_TAG {
        TpmSt::RSP_COMMAND
    } else {
        TpmSt::NO_SESSIONS
    };
    let Some(h) = rsp.first_chunk_mut::<HEADER_SIZE>() else {
        return 0;
    };
    let [t0, t1] = tag.0.to_be_bytes();
    let [c0, c1, c2, c3] = rc.0.to_be_bytes();
    *h = [t0, t1, 0, 0, 0, 10, c0, c1, c2, c3];
    HEADER_SIZE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks() {
        let ok = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 1, 0x44, 0, 0];
        let (h, rest) = CommandHeader::parse(&ok).unwrap();
        assert_eq!(h.code, TpmCc::STARTUP);
        assert_eq!(rest, &[0, 0]);
        assert_eq!(CommandHeader::parse(&ok[..11]), Err(TpmRc::COMMAND_SIZE));
        assert_eq!(CommandHeader::parse(&ok[..9]), Err(TpmRc::INSUFFICIENT));
        assert_eq!(CommandHeader::parse(&[0x80]), Err(TpmRc::INSUFFICIENT));
        let mut bad = ok;
        bad[1] = 3;
        assert_eq!(CommandHeader::parse(&bad), Err(TpmRc::BAD_TAG));
        let mut rsp = [0u8; 10];
        assert_eq!(write_error(&mut rsp, TpmRc::BAD_TAG), 10);
        assert_eq!(rsp, [0, 0xC4, 0, 0, 0, 10, 0, 0, 0, 0x1E]);
    }
}
