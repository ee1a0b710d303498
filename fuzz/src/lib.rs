//! Scaffolding shared by the fuzz targets: a deterministic platform, a started TPM, and the
//! response invariants every `execute` call must satisfy (spec/tpm2-wire.md §1).

use vtpm::{MAX_RESPONSE_SIZE, Platform, PlatformError, Tpm};

/// Entropy from a fixed xorshift64* stream (test scaffolding, not a source of entropy), a clock
/// that advances 1 ms per reading, no evidence. Every input sees the same TPM, so a crash
/// reproduces from its input alone.
pub struct FuzzPlatform {
    state: u64,
    ms: u64,
}

impl FuzzPlatform {
    /// A platform whose entropy stream starts from `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self {
            state: seed | 1,
            ms: 0,
        }
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

impl Platform for FuzzPlatform {
    fn fill_entropy(&mut self, buf: &mut [u8]) -> Result<(), PlatformError> {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }

    fn now_ms(&mut self) -> Result<u64, PlatformError> {
        self.ms += 1;
        Ok(self.ms)
    }

    fn evidence(&mut self, report_data: &[u8; 64], out: &mut [u8]) -> Result<usize, PlatformError> {
        // A fake "report": the report data itself.
        let dst = out
            .get_mut(..report_data.len())
            .ok_or(PlatformError::BufferTooSmall)?;
        dst.copy_from_slice(report_data);
        Ok(report_data.len())
    }
}

/// Startup(CLEAR).
pub const STARTUP_CLEAR: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0];

/// A fresh TPM on a fixed seed, through Startup(CLEAR).
pub fn started_tpm() -> Tpm<FuzzPlatform> {
    let mut tpm = Tpm::new(FuzzPlatform::seeded(0x5eed_f022));
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    let n = tpm.execute(0, &STARTUP_CLEAR, &mut rsp);
    assert_eq!(
        &rsp[..n],
        &[0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0],
        "Startup(CLEAR)"
    );
    tpm
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// TPM_RC_BAD_TAG.
const RC_BAD_TAG: u32 = 0x01E;

/// Panic unless `rsp[..n]` is a well-formed response to `cmd` (spec/tpm2-wire.md §1):
/// 10 ≤ n ≤ MAX_RESPONSE_SIZE, responseSize = n, tag 0x8001 / 0x8002 / 0x00C4; an error is
/// exactly the 10-byte header, tagged 0x00C4 if and only if it is TPM_RC_BAD_TAG and 0x8001
/// otherwise; a success carries the command's tag.
pub fn check_response(cmd: &[u8], rsp: &[u8; MAX_RESPONSE_SIZE], n: usize) {
    assert!((10..=MAX_RESPONSE_SIZE).contains(&n), "response length {n}");
    let size = be32(&rsp[2..6]) as usize;
    assert_eq!(size, n, "responseSize field {size} != response length {n}");
    let tag = be16(&rsp[0..2]);
    assert!(
        matches!(tag, 0x8001 | 0x8002 | 0x00C4),
        "response tag {tag:#06x}"
    );
    let rc = be32(&rsp[6..10]);
    if rc != 0 {
        assert_eq!(n, 10, "error response {rc:#x} longer than a header");
        let want = if rc == RC_BAD_TAG { 0x00C4 } else { 0x8001 };
        assert_eq!(tag, want, "tag {tag:#06x} of error response {rc:#x}");
    } else {
        assert!(cmd.len() >= 2, "success for a {}-byte command", cmd.len());
        assert_eq!(
            tag,
            be16(&cmd[0..2]),
            "success response tag differs from the command's"
        );
        if tag == 0x8002 {
            // parameterSize (after an optional returned handle) must fit in the response.
            assert!(n >= 14, "0x8002 success response of {n} bytes");
        }
    }
}

pub mod tdx;
