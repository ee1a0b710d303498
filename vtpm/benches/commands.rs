//! In-process latency of `Tpm::execute` for the commands a guest issues most, next to the
//! libtpms figures of `shared/bench/libtpms-bench` (same command bytes where the cases
//! overlap). Run with `cargo bench -p vtpm --bench commands`.
//!
//! Every case is run once in its setup and its response code asserted to be TPM_RC_SUCCESS
//! (and again after it was measured): a benchmark that silently measured an error path would be
//! worthless.
// Test scaffolding, not firmware: the strict no-panic lints of the core do not apply here.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::std_instead_of_core
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use vtpm::{MAX_RESPONSE_SIZE, Platform, PlatformError, Tpm};

// ---- a deterministic platform (test scaffolding, not a source of entropy) ----------------

/// Entropy from a xorshift64* stream, a clock that advances 1 ms per reading, no evidence.
struct BenchPlatform {
    state: u64,
    ms: u64,
}

impl BenchPlatform {
    fn seeded(seed: u64) -> Self {
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

impl Platform for BenchPlatform {
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

    fn evidence(
        &mut self,
        _report_data: &[u8; 64],
        _out: &mut [u8],
    ) -> Result<usize, PlatformError> {
        Err(PlatformError::EvidenceUnavailable)
    }
}

// ---- command construction (spec/tpm2-wire.md §1) ------------------------------------------

const ST_NO_SESSIONS: u16 = 0x8001;
const ST_SESSIONS: u16 = 0x8002;
const CC_STARTUP: u32 = 0x144;
const CC_START_AUTH_SESSION: u32 = 0x176;
const CC_GET_CAPABILITY: u32 = 0x17A;
const CC_GET_RANDOM: u32 = 0x17B;
const CC_HASH: u32 = 0x17D;
const CC_PCR_READ: u32 = 0x17E;
const CC_PCR_EXTEND: u32 = 0x182;
const RS_PW: u32 = 0x4000_0009;
const RH_NULL: u32 = 0x4000_0007;
const ALG_SHA256: u16 = 0x000B;
const ALG_SHA384: u16 = 0x000C;
const ALG_NULL: u16 = 0x0010;
const PCR: u32 = 16;
/// continueSession.
const ATTRS: u8 = 0x01;

/// `tag ‖ size ‖ cc ‖ handles ‖ [authorizationSize ‖ auth] ‖ params`.
fn command(cc: u32, handles: &[u32], auth: Option<&[u8]>, params: &[u8]) -> Vec<u8> {
    let tag = if auth.is_some() {
        ST_SESSIONS
    } else {
        ST_NO_SESSIONS
    };
    let mut c = Vec::with_capacity(64 + params.len());
    c.extend_from_slice(&tag.to_be_bytes());
    c.extend_from_slice(&[0; 4]);
    c.extend_from_slice(&cc.to_be_bytes());
    for h in handles {
        c.extend_from_slice(&h.to_be_bytes());
    }
    if let Some(a) = auth {
        c.extend_from_slice(&(a.len() as u32).to_be_bytes());
        c.extend_from_slice(a);
    }
    c.extend_from_slice(params);
    let n = c.len() as u32;
    c[2..6].copy_from_slice(&n.to_be_bytes());
    c
}

/// TPMS_AUTH_COMMAND: `handle ‖ nonce TPM2B ‖ attrs ‖ hmac TPM2B`.
fn auth_command(handle: u32, nonce: &[u8], attrs: u8, hmac: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(&handle.to_be_bytes());
    a.extend_from_slice(&(nonce.len() as u16).to_be_bytes());
    a.extend_from_slice(nonce);
    a.push(attrs);
    a.extend_from_slice(&(hmac.len() as u16).to_be_bytes());
    a.extend_from_slice(hmac);
    a
}

/// The password session with the empty password (TPM_RS_PW).
fn pw_auth() -> Vec<u8> {
    auth_command(RS_PW, &[], 0, &[])
}

/// PCR_Extend parameters: a TPML_DIGEST_VALUES with one digest per (alg, size).
fn digests(banks: &[(u16, usize)]) -> Vec<u8> {
    let mut p = (banks.len() as u32).to_be_bytes().to_vec();
    for (alg, size) in banks {
        p.extend_from_slice(&alg.to_be_bytes());
        p.extend(std::iter::repeat_n(0xAB, *size));
    }
    p
}

fn startup_clear() -> Vec<u8> {
    command(CC_STARTUP, &[], None, &0u16.to_be_bytes())
}

fn get_random(n: u16) -> Vec<u8> {
    command(CC_GET_RANDOM, &[], None, &n.to_be_bytes())
}

fn pcr_read_sha256_0_7() -> Vec<u8> {
    let mut p = 1u32.to_be_bytes().to_vec();
    p.extend_from_slice(&ALG_SHA256.to_be_bytes());
    p.extend_from_slice(&[3, 0xFF, 0x00, 0x00]);
    command(CC_PCR_READ, &[], None, &p)
}

fn hash_sha256(len: usize) -> Vec<u8> {
    let mut p = (len as u16).to_be_bytes().to_vec();
    p.extend(std::iter::repeat_n(0x5A, len));
    p.extend_from_slice(&ALG_SHA256.to_be_bytes());
    p.extend_from_slice(&RH_NULL.to_be_bytes());
    command(CC_HASH, &[], None, &p)
}

fn get_capability(cap: u32, property: u32, count: u32) -> Vec<u8> {
    let mut p = cap.to_be_bytes().to_vec();
    p.extend_from_slice(&property.to_be_bytes());
    p.extend_from_slice(&count.to_be_bytes());
    command(CC_GET_CAPABILITY, &[], None, &p)
}

// ---- response checks ----------------------------------------------------------------------

type Rsp = [u8; MAX_RESPONSE_SIZE];

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes(b[off..off + 2].try_into().unwrap())
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes(b[off..off + 4].try_into().unwrap())
}

/// Execute `cmd` and panic unless it succeeded with a well-formed response.
fn run_ok<P: Platform>(tpm: &mut Tpm<P>, cmd: &[u8], rsp: &mut Rsp, what: &str) -> usize {
    let n = tpm.execute(0, cmd, rsp);
    assert!(n >= 10, "{what}: response of {n} bytes");
    assert_eq!(u32_at(rsp, 2) as usize, n, "{what}: responseSize");
    let rc = u32_at(rsp, 6);
    assert_eq!(
        rc, 0,
        "{what}: response code {rc:#05x}, expected TPM_RC_SUCCESS"
    );
    assert_eq!(u16_at(rsp, 0), u16_at(cmd, 0), "{what}: response tag");
    n
}

fn started_tpm(seed: u64) -> Tpm<BenchPlatform> {
    let mut tpm = Tpm::new(BenchPlatform::seeded(seed));
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    run_ok(&mut tpm, &startup_clear(), &mut rsp, "Startup(CLEAR)");
    tpm
}

/// Benchmark `execute(cmd)` on a started TPM; the response code is asserted before and after.
fn bench_simple(c: &mut Criterion, name: &str, cmd: &[u8]) {
    let mut tpm = started_tpm(0x5eed);
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    run_ok(&mut tpm, cmd, &mut rsp, name);
    c.bench_function(name, |b| {
        b.iter(|| tpm.execute(0, black_box(cmd), black_box(&mut rsp)))
    });
    run_ok(&mut tpm, cmd, &mut rsp, name);
}

// ---- HMAC session ------------------------------------------------------------------------

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = hmac::Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// An unbound, unsalted SHA-256 HMAC session (sessionKey empty) and the nonces it needs.
struct HmacSession {
    handle: u32,
    nonce_caller: [u8; 32],
    nonce_tpm: Vec<u8>,
}

impl HmacSession {
    /// StartAuthSession(tpmKey = NULL, bind = NULL, 32-byte nonceCaller, no salt, HMAC,
    /// symmetric NULL, SHA-256).
    fn start<P: Platform>(tpm: &mut Tpm<P>, rsp: &mut Rsp) -> Self {
        let nonce_caller = [0x33u8; 32];
        let mut p = 32u16.to_be_bytes().to_vec();
        p.extend_from_slice(&nonce_caller);
        p.extend_from_slice(&0u16.to_be_bytes()); // encryptedSalt
        p.push(0); // TPM_SE_HMAC
        p.extend_from_slice(&ALG_NULL.to_be_bytes()); // symmetric
        p.extend_from_slice(&ALG_SHA256.to_be_bytes()); // authHash
        let cmd = command(CC_START_AUTH_SESSION, &[RH_NULL, RH_NULL], None, &p);
        let n = run_ok(tpm, &cmd, rsp, "StartAuthSession");
        let handle = u32_at(rsp, 10);
        assert_eq!(handle >> 24, 0x02, "HMAC session handle {handle:#x}");
        let len = usize::from(u16_at(rsp, 14));
        assert_eq!(len, 32, "nonceTPM size");
        assert_eq!(n, 16 + len);
        Self {
            handle,
            nonce_caller,
            nonce_tpm: rsp[16..16 + len].to_vec(),
        }
    }

    /// PCR_Extend(PCR 16, `params`) authorized by this session: HMAC-SHA256 with the empty key
    /// (empty sessionKey ‖ the PCR's empty authValue) over
    /// cpHash ‖ nonceCaller ‖ nonceTPM ‖ attrs, cpHash = SHA256(cc ‖ Name(PCR 16) ‖ params).
    fn pcr_extend(&self, params: &[u8]) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(CC_PCR_EXTEND.to_be_bytes());
        h.update(PCR.to_be_bytes());
        h.update(params);
        let cp = h.finalize();
        let mac = hmac_sha256(&[], &[&cp, &self.nonce_caller, &self.nonce_tpm, &[ATTRS]]);
        let auth = auth_command(self.handle, &self.nonce_caller, ATTRS, &mac);
        command(CC_PCR_EXTEND, &[PCR], Some(&auth), params)
    }

    /// Check a PCR_Extend response (rc 0, empty parameters, one session with a correct response
    /// HMAC) and take its new nonceTPM.
    fn accept(&mut self, rsp: &[u8], n: usize) {
        assert_eq!(
            u32_at(rsp, 6),
            0,
            "session PCR_Extend: rc {:#x}",
            u32_at(rsp, 6)
        );
        assert_eq!(u32_at(rsp, 10), 0, "parameterSize");
        let len = usize::from(u16_at(rsp, 14));
        let nonce = &rsp[16..16 + len];
        assert_eq!(rsp[16 + len], ATTRS, "response session attributes");
        let mac_len = usize::from(u16_at(rsp, 17 + len));
        let mac = &rsp[19 + len..19 + len + mac_len];
        assert_eq!(n, 19 + len + mac_len, "response size");
        // rpHash = SHA256(rc ‖ cc ‖ parameters = ∅); HMAC(∅, rpHash ‖ nonceTPM ‖ nonceCaller ‖ attrs)
        let mut h = Sha256::new();
        h.update(0u32.to_be_bytes());
        h.update(CC_PCR_EXTEND.to_be_bytes());
        let rp = h.finalize();
        let expect = hmac_sha256(&[], &[&rp, nonce, &self.nonce_caller, &[ATTRS]]);
        assert_eq!(mac, expect, "response HMAC");
        assert_ne!(nonce, self.nonce_tpm.as_slice(), "nonceTPM must change");
        self.nonce_tpm = nonce.to_vec();
    }
}

/// PCR_Extend through an HMAC session: each command carries a fresh HMAC over the previous
/// response's nonceTPM. Only `execute` is timed; building the command (the client's HMAC) and
/// checking the response HMAC happen between the timed calls.
fn bench_hmac_session(c: &mut Criterion) {
    let mut tpm = started_tpm(0x5e55);
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    let mut s = HmacSession::start(&mut tpm, &mut rsp);
    let params = digests(&[(ALG_SHA256, 32)]);
    for _ in 0..3 {
        let cmd = s.pcr_extend(&params);
        let n = tpm.execute(0, &cmd, &mut rsp);
        s.accept(&rsp, n);
    }
    c.bench_function("hmac_session_pcr_extend_sha256", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let cmd = s.pcr_extend(&params);
                let t0 = Instant::now();
                let n = tpm.execute(0, black_box(&cmd), black_box(&mut rsp));
                total += t0.elapsed();
                s.accept(&rsp, n);
            }
            total
        })
    });
}

// ---- the cases ---------------------------------------------------------------------------

fn benches(c: &mut Criterion) {
    // Manufacture (DRBG instantiation, eight 64-byte seeds) + Startup(CLEAR) + drop.
    let startup = startup_clear();
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    let mut seed = 1u64;
    c.bench_function("fresh_tpm_startup", |b| {
        b.iter(|| {
            seed += 1;
            let mut tpm = Tpm::new(BenchPlatform::seeded(black_box(seed)));
            let n = tpm.execute(0, black_box(&startup), &mut rsp);
            assert!(n == 10 && rsp[6..10] == [0; 4], "Startup(CLEAR) failed");
            tpm
        })
    });

    bench_simple(c, "getrandom_32", &get_random(32));
    bench_simple(
        c,
        "pcr_extend_sha256",
        &command(
            CC_PCR_EXTEND,
            &[PCR],
            Some(&pw_auth()),
            &digests(&[(ALG_SHA256, 32)]),
        ),
    );
    bench_simple(
        c,
        "pcr_extend_sha256_sha384",
        &command(
            CC_PCR_EXTEND,
            &[PCR],
            Some(&pw_auth()),
            &digests(&[(ALG_SHA256, 32), (ALG_SHA384, 48)]),
        ),
    );
    bench_simple(c, "pcr_read_sha256_8pcr", &pcr_read_sha256_0_7());
    bench_simple(c, "hash_sha256_64B", &hash_sha256(64));
    bench_simple(c, "hash_sha256_1KiB", &hash_sha256(1024));
    // TPM_CAP_TPM_PROPERTIES, TPM_PT_FAMILY_INDICATOR, one property: pure dispatch.
    bench_simple(c, "getcap_properties_0x100", &get_capability(6, 0x100, 1));
    bench_hmac_session(c);
}

criterion_group!(commands, benches);
criterion_main!(commands);
