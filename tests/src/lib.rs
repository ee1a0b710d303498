//! Cross-crate integration tests for the vtpm workspace, and the small command builder they
//! share. The builder writes TPM 2.0 commands byte by byte from Part 3's tables, independently
//! of the core's own marshaling code.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use hmac::{KeyInit, Mac};
use host_sim::SimPlatform;
use sha2::Digest as _;
use vtpm::{MAX_RESPONSE_SIZE, Tpm};

/// TPM_RS_PW.
pub const RS_PW: u32 = 0x4000_0009;
/// TPM_RH_NULL.
pub const RH_NULL: u32 = 0x4000_0007;
/// TPM_RH_OWNER.
pub const RH_OWNER: u32 = 0x4000_0001;
/// TPM_RH_LOCKOUT.
pub const RH_LOCKOUT: u32 = 0x4000_000A;
/// TPM_RH_PLATFORM.
pub const RH_PLATFORM: u32 = 0x4000_000C;
/// TPM_ALG_SHA256.
pub const SHA256: u16 = 0x000B;
/// TPM_ALG_SHA384.
pub const SHA384: u16 = 0x000C;

/// Command codes used by the tests.
pub mod cc {
    #![allow(missing_docs)]
    pub const CLEAR: u32 = 0x126;
    pub const CLEAR_CONTROL: u32 = 0x127;
    pub const HIERARCHY_CHANGE_AUTH: u32 = 0x129;
    pub const PCR_EVENT: u32 = 0x13C;
    pub const PCR_RESET: u32 = 0x13D;
    pub const SEQUENCE_COMPLETE: u32 = 0x13E;
    pub const SELF_TEST: u32 = 0x143;
    pub const STARTUP: u32 = 0x144;
    pub const SHUTDOWN: u32 = 0x145;
    pub const STIR_RANDOM: u32 = 0x146;
    pub const SEQUENCE_UPDATE: u32 = 0x15C;
    pub const FLUSH_CONTEXT: u32 = 0x165;
    pub const START_AUTH_SESSION: u32 = 0x176;
    pub const GET_CAPABILITY: u32 = 0x17A;
    pub const GET_RANDOM: u32 = 0x17B;
    pub const GET_TEST_RESULT: u32 = 0x17C;
    pub const HASH: u32 = 0x17D;
    pub const PCR_READ: u32 = 0x17E;
    pub const READ_CLOCK: u32 = 0x181;
    pub const PCR_EXTEND: u32 = 0x182;
    pub const EVENT_SEQUENCE_COMPLETE: u32 = 0x185;
    pub const HASH_SEQUENCE_START: u32 = 0x186;
}

/// A TPMS_AUTH_COMMAND as bytes.
#[derive(Clone, Debug)]
pub struct AuthCmd {
    /// Session handle.
    pub handle: u32,
    /// nonceCaller.
    pub nonce: Vec<u8>,
    /// sessionAttributes.
    pub attrs: u8,
    /// hmac / password.
    pub hmac: Vec<u8>,
}

impl AuthCmd {
    /// A password authorization.
    pub fn pw(password: &[u8]) -> Self {
        Self {
            handle: RS_PW,
            nonce: vec![],
            attrs: 0,
            hmac: password.to_vec(),
        }
    }

    fn marshal(&self, out: &mut Vec<u8>) {
        out.extend(self.handle.to_be_bytes());
        tpm2b(out, &self.nonce);
        out.push(self.attrs);
        tpm2b(out, &self.hmac);
    }
}

/// Append a TPM2B.
pub fn tpm2b(out: &mut Vec<u8>, data: &[u8]) {
    out.extend((data.len() as u16).to_be_bytes());
    out.extend(data);
}

/// Build a command: header, handles, authorization area (if `auths` is non-empty: tag
/// 0x8002), parameters.
pub fn command(code: u32, handles: &[u32], auths: &[AuthCmd], params: &[u8]) -> Vec<u8> {
    let mut c = Vec::new();
    c.extend(
        if auths.is_empty() {
            0x8001u16
        } else {
            0x8002u16
        }
        .to_be_bytes(),
    );
    c.extend([0u8; 4]);
    c.extend(code.to_be_bytes());
    for h in handles {
        c.extend(h.to_be_bytes());
    }
    if !auths.is_empty() {
        let mut area = Vec::new();
        for a in auths {
            a.marshal(&mut area);
        }
        c.extend((area.len() as u32).to_be_bytes());
        c.extend(area);
    }
    c.extend(params);
    let n = c.len() as u32;
    c[2..6].copy_from_slice(&n.to_be_bytes());
    c
}

/// A parsed response.
#[derive(Clone, Debug)]
pub struct Rsp {
    /// All bytes.
    pub bytes: Vec<u8>,
}

impl Rsp {
    /// The response code.
    pub fn rc(&self) -> u32 {
        u32::from_be_bytes(self.bytes[6..10].try_into().unwrap())
    }

    /// The response tag.
    pub fn tag(&self) -> u16 {
        u16::from_be_bytes(self.bytes[0..2].try_into().unwrap())
    }

    /// Bytes after the header (handle, parameterSize, parameters, sessions).
    pub fn body(&self) -> &[u8] {
        &self.bytes[10..]
    }

    /// For a response with sessions and `handles` returned handles: (parameters, auth area).
    pub fn split_sessions(&self, handles: usize) -> (&[u8], &[u8]) {
        let b = &self.body()[handles * 4..];
        let n = u32::from_be_bytes(b[..4].try_into().unwrap()) as usize;
        (&b[4..4 + n], &b[4 + n..])
    }
}

/// A TPM in-process on a seeded [`SimPlatform`], with helpers.
pub struct Harness {
    /// The TPM.
    pub tpm: Tpm<SimPlatform>,
    buf: Box<[u8; MAX_RESPONSE_SIZE]>,
    /// Locality for the next commands.
    pub locality: u8,
}

impl Harness {
    /// A manufactured TPM, not yet started.
    pub fn unstarted(seed: u64) -> Self {
        Self {
            tpm: Tpm::new(SimPlatform::seeded(seed)),
            buf: Box::new([0; MAX_RESPONSE_SIZE]),
            locality: 0,
        }
    }

    /// A TPM after Startup(CLEAR).
    pub fn new() -> Self {
        let mut h = Self::unstarted(1);
        h.ok(cc::STARTUP, &[], &[], &0u16.to_be_bytes());
        h
    }

    /// Send raw bytes; checks the response is well formed (size field = length ≥ 10).
    pub fn raw(&mut self, cmd: &[u8]) -> Rsp {
        let n = self.tpm.execute(self.locality, cmd, &mut self.buf);
        assert!(n >= 10, "response shorter than a header");
        let bytes = self.buf[..n].to_vec();
        assert_eq!(
            u32::from_be_bytes(bytes[2..6].try_into().unwrap()) as usize,
            n
        );
        let tag = u16::from_be_bytes(bytes[0..2].try_into().unwrap());
        assert!(
            matches!(tag, 0x8001 | 0x8002 | 0x00C4),
            "bad response tag {tag:#x}"
        );
        if u32::from_be_bytes(bytes[6..10].try_into().unwrap()) != 0 {
            assert_eq!(n, 10, "an error response is a bare header");
        }
        Rsp { bytes }
    }

    /// Build and send a command.
    pub fn send(&mut self, code: u32, handles: &[u32], auths: &[AuthCmd], params: &[u8]) -> Rsp {
        self.raw(&command(code, handles, auths, params))
    }

    /// Send a command that must succeed.
    pub fn ok(&mut self, code: u32, handles: &[u32], auths: &[AuthCmd], params: &[u8]) -> Rsp {
        let r = self.send(code, handles, auths, params);
        assert_eq!(r.rc(), 0, "command {code:#x} failed with {:#x}", r.rc());
        r
    }

    /// PCR_Read of one PCR in one bank: the value.
    pub fn pcr(&mut self, alg: u16, pcr: u32) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend(1u32.to_be_bytes());
        p.extend(alg.to_be_bytes());
        p.push(3);
        let mut sel = [0u8; 3];
        sel[(pcr / 8) as usize] |= 1 << (pcr % 8);
        p.extend(sel);
        let r = self.ok(cc::PCR_READ, &[], &[], &p);
        // updateCounter u32, selection (4 + 6), count u32, digest TPM2B.
        let b = r.body();
        let values = &b[4 + 4 + 6..];
        assert_eq!(u32::from_be_bytes(values[..4].try_into().unwrap()), 1);
        let n = u16::from_be_bytes(values[4..6].try_into().unwrap()) as usize;
        values[6..6 + n].to_vec()
    }

    /// Every PCR of both banks, concatenated (to check that a failed command changed nothing).
    pub fn all_pcrs(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        for alg in [SHA256, SHA384] {
            for i in 0..24 {
                v.extend(self.pcr(alg, i));
            }
        }
        v
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

/// One-shot digest by algorithm id.
pub fn digest(alg: u16, parts: &[&[u8]]) -> Vec<u8> {
    match alg {
        SHA256 => {
            let mut h = sha2::Sha256::new();
            parts.iter().for_each(|p| h.update(p));
            h.finalize().to_vec()
        }
        SHA384 => {
            let mut h = sha2::Sha384::new();
            parts.iter().for_each(|p| h.update(p));
            h.finalize().to_vec()
        }
        0x0004 => {
            let mut h = sha1::Sha1::new();
            parts.iter().for_each(|p| h.update(p));
            h.finalize().to_vec()
        }
        _ => panic!("unsupported alg"),
    }
}

/// HMAC-SHA256.
pub fn hmac256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
    parts.iter().for_each(|p| m.update(p));
    m.finalize().into_bytes().to_vec()
}

/// TPML_DIGEST_VALUES with one digest per (alg, digest).
pub fn digest_values(ds: &[(u16, &[u8])]) -> Vec<u8> {
    let mut p = (ds.len() as u32).to_be_bytes().to_vec();
    for (alg, d) in ds {
        p.extend(alg.to_be_bytes());
        p.extend(*d);
    }
    p
}

/// KDFa(SHA-256, key, label, u, v, 256) written out from Part 1 §11.4.10.2.
pub fn kdfa256(key: &[u8], label: &[u8], u: &[u8], v: &[u8]) -> Vec<u8> {
    hmac256(
        key,
        &[
            &1u32.to_be_bytes(),
            label,
            &[0],
            u,
            v,
            &256u32.to_be_bytes(),
        ],
    )
}

/// A session started with [`start_session`], as its caller tracks it.
#[derive(Clone, Debug)]
pub struct CallerSession {
    /// The session handle.
    pub handle: u32,
    /// The latest nonceTPM.
    pub nonce_tpm: Vec<u8>,
    /// sessionKey as the caller computed it.
    pub key: Vec<u8>,
}

/// StartAuthSession (SHA-256, unsalted, symmetric NULL) of type `se` (0 HMAC, 1 policy, 3
/// trial) bound to `bind` whose authValue the caller believes is `bind_auth`.
pub fn start_session(h: &mut Harness, bind: u32, bind_auth: &[u8], se: u8) -> CallerSession {
    let nonce_caller = [0x5Au8; 32];
    let mut p = Vec::new();
    tpm2b(&mut p, &nonce_caller);
    p.extend([0, 0, se]);
    p.extend(0x0010u16.to_be_bytes());
    p.extend(SHA256.to_be_bytes());
    let r = h.ok(cc::START_AUTH_SESSION, &[RH_NULL, bind], &[], &p);
    let b = r.body();
    let handle = u32::from_be_bytes(b[..4].try_into().unwrap());
    let nonce_tpm = b[6..38].to_vec();
    let key = if bind == RH_NULL {
        vec![]
    } else {
        kdfa256(bind_auth, b"ATH", &nonce_tpm, &nonce_caller)
    };
    CallerSession {
        handle,
        nonce_tpm,
        key,
    }
}

impl CallerSession {
    /// The authorization of `code` on handles with `names` and `params`: HMAC keyed with
    /// sessionKey ‖ `auth_value` (Part 1 §19.6.5), or an empty HMAC if both are empty.
    pub fn auth(
        &self,
        code: u32,
        names: &[&[u8]],
        params: &[u8],
        auth_value: &[u8],
        attrs: u8,
    ) -> AuthCmd {
        let nonce = digest(SHA256, &[&self.nonce_tpm, b"caller"]);
        let key = [&self.key[..], auth_value].concat();
        let hmac = if key.is_empty() {
            vec![]
        } else {
            let mut cp = code.to_be_bytes().to_vec();
            names.iter().for_each(|n| cp.extend(*n));
            cp.extend(params);
            let cp_hash = digest(SHA256, &[&cp]);
            hmac256(&key, &[&cp_hash, &nonce, &self.nonce_tpm, &[attrs]])
        };
        AuthCmd {
            handle: self.handle,
            nonce,
            attrs,
            hmac,
        }
    }

    /// Take the new nonceTPM from the first session of a successful response with
    /// `handles` returned handles.
    pub fn roll(&mut self, r: &Rsp, handles: usize) {
        let (_, area) = r.split_sessions(handles);
        let n = u16::from_be_bytes(area[..2].try_into().unwrap()) as usize;
        self.nonce_tpm = area[2..2 + n].to_vec();
    }
}

/// The big-endian u32 at `i` of `b`.
pub fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes(b[i..i + 4].try_into().unwrap())
}

/// The TPM2B at `i` of `b`: (contents, end).
pub fn tpm2b_at(b: &[u8], i: usize) -> (&[u8], usize) {
    let n = u16::from_be_bytes(b[i..i + 2].try_into().unwrap()) as usize;
    (&b[i + 2..i + 2 + n], i + 2 + n)
}

/// An ECC P-256 TPMT_PUBLIC template (nameAlg SHA-256, KDF NULL, empty unique) with the given
/// attributes, authPolicy, symmetric definition and scheme (each as its wire bytes).
pub fn ecc_p256_template(attrs: u32, policy: &[u8], sym: &[u8], scheme: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(0x0023u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(attrs.to_be_bytes());
    tpm2b(&mut t, policy);
    t.extend(sym);
    t.extend(scheme);
    t.extend(3u16.to_be_bytes());
    t.extend(0x0010u16.to_be_bytes());
    t.extend([0, 0, 0, 0]);
    t
}
