//! Write the seed corpora and the libFuzzer dictionary:
//!
//! - `seeds/execute/<cc>_<Name>`: locality 0 ‖ one well-formed command for every command code
//!   in `vtpm::dispatch::COMMANDS` (bytes per shared/spec/tpm2-wire.md). Alone, the commands
//!   that name an object or a session answer a handle error; the sequence seeds build that
//!   state first. The run fails if an implemented command has no seed.
//! - `seeds/sequence/<name>`: records `locality u8 ‖ length u16 ‖ command` (length 0 =
//!   `Tpm::init`). They are recorded against the same deterministic TPM the `sequence` target
//!   uses, so commands can carry what earlier responses returned (Create's blobs for Load,
//!   ContextSave's blob for ContextLoad, MakeCredential's for ActivateCredential, a signature
//!   for VerifySignature); every response code is checked while recording.
//! - `tpm2.dict`: command codes, tags, handles and algorithm IDs.
//!
//! Run: `cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds` (any toolchain).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use vtpm::crypto::hash::HashAlg;
use vtpm::crypto::hmac::hmac;
use vtpm::crypto::kdf::kdfa;
use vtpm::dispatch::COMMANDS;
use vtpm::{MAX_RESPONSE_SIZE, Tpm};
use vtpm_fuzz::{FuzzPlatform, check_response, started_tpm};

const ST_NO: u16 = 0x8001;
const ST_S: u16 = 0x8002;
const RS_PW: u32 = 0x4000_0009;
const RH_OWNER: u32 = 0x4000_0001;
const RH_NULL: u32 = 0x4000_0007;
const RH_LOCKOUT: u32 = 0x4000_000A;
/// An NV index handle.
const NV: u32 = 0x0150_0016;
const RH_ENDORSEMENT: u32 = 0x4000_000B;
const RH_PLATFORM: u32 = 0x4000_000C;
const SHA256: u16 = 0x000B;
const SHA384: u16 = 0x000C;
const SHA512: u16 = 0x000D;
const NULL: u16 = 0x0010;
const ECDSA: u16 = 0x0018;
const RSA: u16 = 0x0001;
const RSASSA: u16 = 0x0014;
const OAEP: u16 = 0x0017;
const ECDH: u16 = 0x0019;
const ECC: u16 = 0x0023;
const KEYEDHASH: u16 = 0x0008;
const AES: u16 = 0x0006;
const CFB: u16 = 0x0043;
const CBC: u16 = 0x0042;
const SYMCIPHER: u16 = 0x0025;
const XOR: u16 = 0x000A;
/// First transient handle, first HMAC / policy session handle, a persistent handle.
const T0: u32 = 0x8000_0000;
const T1: u32 = 0x8000_0001;
const HMAC_S: u32 = 0x0200_0000;
const POLICY_S: u32 = 0x0300_0000;
const PERSISTENT: u32 = 0x8100_0001;
const PCR: u32 = 16;

/// Object attributes (Part 2 §8.3).
const STORAGE: u32 = 0x0003_0072; // restricted decrypt, the `tpm2 createprimary` default
const SIGNING: u32 = 0x0004_0072; // unrestricted ECDSA key
const AK: u32 = 0x0005_0072; // restricted signing key
const EXCHANGE: u32 = 0x0002_0072; // unrestricted decrypt (ECDH)
const SEALED: u32 = 0x0000_0052; // fixedTPM | fixedParent | userWithAuth, data from the caller

// ---- marshaling ---------------------------------------------------------------------------

#[derive(Default, Clone)]
struct B(Vec<u8>);

impl B {
    fn new() -> Self {
        Self(Vec::new())
    }
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn raw(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
    /// TPM2B: u16 size ‖ bytes.
    fn b2(self, v: &[u8]) -> Self {
        self.u16(u16::try_from(v.len()).unwrap()).raw(v)
    }
}

/// TPMS_AUTH_COMMAND.
fn auth(handle: u32, nonce: &[u8], attrs: u8, hmac: &[u8]) -> Vec<u8> {
    B::new().u32(handle).b2(nonce).u8(attrs).b2(hmac).0
}

/// A password session with `password`.
fn pw(password: &[u8]) -> Vec<u8> {
    auth(RS_PW, &[], 0, password)
}

/// `tag ‖ size ‖ cc ‖ handles ‖ [authorizationSize ‖ sessions] ‖ params`.
fn cmd(cc: u32, handles: &[u32], sessions: Option<&[Vec<u8>]>, params: &[u8]) -> Vec<u8> {
    let mut body = B::new();
    for h in handles {
        body = body.u32(*h);
    }
    if let Some(s) = sessions {
        let area: Vec<u8> = s.concat();
        body = body.u32(u32::try_from(area.len()).unwrap()).raw(&area);
    }
    let tag = if sessions.is_some() { ST_S } else { ST_NO };
    let size = 10 + body.0.len() + params.len();
    B::new()
        .u16(tag)
        .u32(u32::try_from(size).unwrap())
        .u32(cc)
        .raw(&body.0)
        .raw(params)
        .0
}

/// TPMT_PUBLIC of an ECC key on `curve` (3 = P-256, 4 = P-384).
fn ecc_public(attrs: u32, curve: u16, name_alg: u16) -> Vec<u8> {
    let restricted_decrypt = attrs & 0x0003_0000 == 0x0003_0000;
    let sign = attrs & 0x0004_0000 != 0;
    let hash = if curve == 4 { SHA384 } else { SHA256 };
    let mut p = B::new().u16(ECC).u16(name_alg).u32(attrs).b2(&[]);
    p = if restricted_decrypt {
        p.u16(AES).u16(128).u16(CFB)
    } else {
        p.u16(NULL)
    };
    p = if sign {
        p.u16(ECDSA).u16(hash)
    } else if restricted_decrypt {
        p.u16(NULL)
    } else {
        p.u16(ECDH).u16(hash)
    };
    p.u16(curve).u16(NULL).b2(&[]).b2(&[]).0
}

/// TPMT_PUBLIC of an RSA-2048 key: a storage parent, a signing key (RSASSA-SHA256) or an
/// unrestricted decryption key (OAEP-SHA256), with an empty modulus (a template).
fn rsa_public(attrs: u32) -> Vec<u8> {
    let restricted_decrypt = attrs & 0x0003_0000 == 0x0003_0000;
    let sign = attrs & 0x0004_0000 != 0;
    let mut p = B::new().u16(RSA).u16(SHA256).u32(attrs).b2(&[]);
    p = if restricted_decrypt {
        p.u16(AES).u16(128).u16(CFB).u16(NULL)
    } else if sign {
        p.u16(NULL).u16(RSASSA).u16(SHA256)
    } else {
        p.u16(NULL).u16(OAEP).u16(SHA256)
    };
    p.u16(2048).u32(0).b2(&[]).0
}

/// TPMT_PUBLIC_PARMS of a template with an empty authPolicy and unique field: its type and
/// parameters (TPM2_TestParms).
fn public_parms(public: &[u8]) -> Vec<u8> {
    let mut out = public[..2].to_vec();
    out.extend_from_slice(&public[10..public.len() - 2]);
    out
}

/// TPMT_PUBLIC of a sealed data object.
fn sealed_public() -> Vec<u8> {
    B::new()
        .u16(KEYEDHASH)
        .u16(SHA256)
        .u32(SEALED)
        .b2(&[])
        .u16(NULL)
        .b2(&[])
        .0
}

/// TPM2B_SENSITIVE_CREATE.
fn sensitive(user_auth: &[u8], data: &[u8]) -> Vec<u8> {
    let inner = B::new().b2(user_auth).b2(data).0;
    B::new().b2(&inner).0
}

/// CreatePrimary / Create parameters: inSensitive ‖ inPublic ‖ outsideInfo ‖ creationPCR.
fn create_params(user_auth: &[u8], data: &[u8], public: &[u8]) -> Vec<u8> {
    B::new()
        .raw(&sensitive(user_auth, data))
        .b2(public)
        .b2(b"outside")
        .u32(0)
        .0
}

/// TPML_PCR_SELECTION of sha256 PCRs 0-7.
fn pcr_sel() -> Vec<u8> {
    B::new().u32(1).u16(SHA256).u8(3).raw(&[0xFF, 0, 0]).0
}

/// TPML_DIGEST_VALUES with a SHA-256 and a SHA-384 digest.
fn digests() -> Vec<u8> {
    B::new()
        .u32(2)
        .u16(SHA256)
        .raw(&[0xAB; 32])
        .u16(SHA384)
        .raw(&[0xAB; 48])
        .0
}

/// TPMT_TK_HASHCHECK, the NULL ticket.
fn null_ticket() -> Vec<u8> {
    B::new().u16(0x8024).u32(RH_NULL).b2(&[]).0
}

/// StartAuthSession(tpmKey, bind, 32-byte nonce, salt, type, symmetric, SHA-256).
fn start_auth_session(tpm_key: u32, bind: u32, salt: &[u8], se: u8, sym: &[u8]) -> Vec<u8> {
    let p = B::new()
        .b2(&[0x33; 32])
        .b2(salt)
        .u8(se)
        .raw(sym)
        .u16(SHA256)
        .0;
    cmd(0x176, &[tpm_key, bind], None, &p)
}

fn sym_null() -> Vec<u8> {
    B::new().u16(NULL).0
}

/// The nonceCaller that `start_auth_session` sends.
const NONCE_CALLER: [u8; 32] = [0x33; 32];

/// sessionKey = KDFa(SHA-256, bindAuth, "ATH", nonceTPM, nonceCaller, 256) of an unsalted
/// session bound to an entity whose authValue is `bind_auth` (Part 1 §19.6.8).
fn session_key(bind_auth: &[u8], nonce_tpm: &[u8]) -> Vec<u8> {
    let mut key = vec![0u8; 32];
    kdfa(
        HashAlg::Sha256,
        bind_auth,
        b"ATH",
        nonce_tpm,
        &NONCE_CALLER,
        &mut key,
    )
    .unwrap();
    key
}

/// The command HMAC of a SHA-256 session (Part 1 §19.6.5): HMAC(sessionKey ‖ authValue,
/// cpHash ‖ nonceCaller ‖ nonceTPM ‖ attributes), cpHash = H(cc ‖ names ‖ parameters).
fn session_hmac(
    key: &[u8],
    cc: u32,
    names: &[&[u8]],
    params: &[u8],
    nonce_caller: &[u8],
    nonce_tpm: &[u8],
    attrs: u8,
) -> Vec<u8> {
    let names = names.concat();
    let cp = HashAlg::Sha256.digest(&[&cc.to_be_bytes(), &names, params]);
    hmac(
        HashAlg::Sha256,
        key,
        &[cp.as_slice(), nonce_caller, nonce_tpm, &[attrs]],
    )
    .as_slice()
    .to_vec()
}

/// An HMAC-session command with one authorization: `key` is sessionKey ‖ authValue (the
/// authValue left out when the session is bound to the entity).
fn hmac_cmd(
    cc: u32,
    handles: &[u32],
    names: &[&[u8]],
    session: (u32, &[u8], &[u8]),
    nonce_caller: &[u8],
    params: &[u8],
) -> Vec<u8> {
    let (handle, key, nonce_tpm) = session;
    let mac = session_hmac(key, cc, names, params, nonce_caller, nonce_tpm, 1);
    cmd(
        cc,
        handles,
        Some(&[auth(handle, nonce_caller, 1, &mac)]),
        params,
    )
}

// ---- response parsing ---------------------------------------------------------------------

struct Rsp(Vec<u8>);

impl Rsp {
    fn rc(&self) -> u32 {
        u32::from_be_bytes(self.0[6..10].try_into().unwrap())
    }
    fn handle(&self) -> u32 {
        u32::from_be_bytes(self.0[10..14].try_into().unwrap())
    }
    /// The parameter area: after the returned handle (if `rhandle`) and parameterSize (tag
    /// 0x8002), up to the sessions.
    fn params(&self, rhandle: bool) -> &[u8] {
        let mut off = 10 + if rhandle { 4 } else { 0 };
        if self.0[..2] == [0x80, 0x02] {
            let n = u32::from_be_bytes(self.0[off..off + 4].try_into().unwrap()) as usize;
            off += 4;
            &self.0[off..off + n]
        } else {
            &self.0[off..]
        }
    }
}

/// A cursor over response parameters.
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take(2).try_into().unwrap())
    }
    /// A whole TPM2B, size included.
    fn b2_whole(&mut self) -> &'a [u8] {
        let n = usize::from(u16::from_be_bytes(self.0[..2].try_into().unwrap()));
        self.take(2 + n)
    }
    /// A TPM2B's contents.
    fn b2(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.take(n)
    }
    fn rest(&mut self) -> &'a [u8] {
        self.take(self.0.len())
    }
}

impl Rsp {
    /// nonceTPM of the first response session (tag 0x8002), or of StartAuthSession's answer.
    fn nonce_tpm(&self, rhandle: bool) -> Vec<u8> {
        let off = 10 + if rhandle { 4 } else { 0 };
        let start = if self.0[..2] == [0x80, 0x02] {
            let n = u32::from_be_bytes(self.0[off..off + 4].try_into().unwrap()) as usize;
            off + 4 + n
        } else {
            off
        };
        Rd(&self.0[start..]).b2().to_vec()
    }
}

// ---- recording ----------------------------------------------------------------------------

/// Records a sequence of commands while running them on the `sequence` target's TPM.
struct Rec {
    name: &'static str,
    tpm: Tpm<FuzzPlatform>,
    bytes: Vec<u8>,
    rcs: Vec<String>,
}

impl Rec {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            tpm: started_tpm(),
            bytes: Vec::new(),
            rcs: Vec::new(),
        }
    }

    /// Run `c` at `locality` and record it.
    fn record(&mut self, locality: u8, c: Vec<u8>) -> Rsp {
        let mut rsp = [0u8; MAX_RESPONSE_SIZE];
        let n = self.tpm.execute(locality, &c, &mut rsp);
        check_response(&c, &rsp, n);
        let r = Rsp(rsp[..n].to_vec());
        let cc = u32::from_be_bytes(c[6..10].try_into().unwrap());
        self.bytes.push(locality);
        self.bytes
            .extend_from_slice(&u16::try_from(c.len()).unwrap().to_be_bytes());
        self.bytes.extend_from_slice(&c);
        self.rcs.push(format!("{cc:x}:{:x}", r.rc()));
        r
    }

    /// Run `c` at `locality`, record it, and check its response code.
    fn at(&mut self, locality: u8, c: Vec<u8>, want_rc: u32) -> Rsp {
        let cc = u32::from_be_bytes(c[6..10].try_into().unwrap());
        let r = self.record(locality, c);
        assert_eq!(
            r.rc(),
            want_rc,
            "{}: command {} (cc {cc:#x}) answered {:#x}, expected {want_rc:#x}",
            self.name,
            self.rcs.len(),
            r.rc()
        );
        r
    }

    fn ok(&mut self, c: Vec<u8>) -> Rsp {
        self.at(0, c, 0)
    }

    /// _TPM_Init.
    fn init(&mut self) {
        self.tpm.init();
        self.bytes.extend_from_slice(&[0, 0, 0]);
        self.rcs.push("init".into());
    }

    fn write(self, dir: &Path) {
        fs::write(dir.join(self.name), &self.bytes).unwrap();
        println!("sequence/{:28} {}", self.name, self.rcs.join(" "));
    }

    /// CreatePrimary(hierarchy, pw `hier_auth`) → (handle, outPublic TPMT_PUBLIC).
    fn create_primary(
        &mut self,
        hierarchy: u32,
        user_auth: &[u8],
        public: &[u8],
    ) -> (u32, Vec<u8>) {
        let c = cmd(
            0x131,
            &[hierarchy],
            Some(&[pw(b"")]),
            &create_params(user_auth, &[], public),
        );
        let r = self.ok(c);
        let out_public = Rd(r.params(true)).b2().to_vec();
        (r.handle(), out_public)
    }

    /// Create(parent) → (outPrivate, outPublic), both as whole TPM2Bs.
    fn create(
        &mut self,
        parent: u32,
        user_auth: &[u8],
        data: &[u8],
        public: &[u8],
    ) -> (Vec<u8>, Vec<u8>) {
        let c = cmd(
            0x153,
            &[parent],
            Some(&[pw(b"")]),
            &create_params(user_auth, data, public),
        );
        let r = self.ok(c);
        let mut rd = Rd(r.params(false));
        let private = rd.b2_whole().to_vec();
        let public = rd.b2_whole().to_vec();
        (private, public)
    }

    /// Load(parent, private, public) → (handle, name).
    fn load(&mut self, parent: u32, private: &[u8], public: &[u8]) -> (u32, Vec<u8>) {
        let p = B::new().raw(private).raw(public).0;
        let r = self.ok(cmd(0x157, &[parent], Some(&[pw(b"")]), &p));
        let name = Rd(r.params(true)).b2().to_vec();
        (r.handle(), name)
    }
}

// ---- the seeds ----------------------------------------------------------------------------

/// One well-formed command per command code (handles refer to state a lone command does not
/// have: T0 = the first transient object, HMAC_S / POLICY_S the first sessions).
fn execute_seeds() -> Vec<(u32, &'static str, Vec<u8>)> {
    let pwe = || Some(vec![pw(b"")]);
    let s1 = |c: u32, h: &[u32], p: Vec<u8>| cmd(c, h, pwe().as_deref(), &p);
    let s2 = |c: u32, h: &[u32], p: Vec<u8>| cmd(c, h, Some(&[pw(b""), pw(b"")]), &p);
    let s0 = |c: u32, h: &[u32], p: Vec<u8>| cmd(c, h, None, &p);
    let point = B::new().b2(&[1; 32]).b2(&[2; 32]).0;
    let ctx = B::new()
        .raw(&1u64.to_be_bytes())
        .u32(T0)
        .u32(RH_OWNER)
        .b2(&[0x5C; 96])
        .0;
    let signature = B::new().u16(ECDSA).u16(SHA256).b2(&[1; 32]).b2(&[2; 32]).0;
    // TPMS_NV_PUBLIC: ordinary, ownerwrite | authwrite | ownerread | authread, 16 bytes.
    let nv_public = B::new()
        .u32(NV)
        .u16(SHA256)
        .u32(0x0006_0006)
        .b2(b"")
        .u16(16)
        .0;
    vec![
        (
            0x120,
            "EvictControl",
            s1(0x120, &[RH_OWNER, T0], B::new().u32(PERSISTENT).0),
        ),
        (
            0x122,
            "NV_UndefineSpace",
            s1(0x122, &[RH_OWNER, NV], vec![]),
        ),
        (
            0x121,
            "HierarchyControl",
            s1(
                0x121,
                &[RH_OWNER],
                B::new().u32(RH_OWNER).0.into_iter().chain([1]).collect(),
            ),
        ),
        (0x126, "Clear", s1(0x126, &[RH_LOCKOUT], vec![])),
        (
            0x128,
            "ClockSet",
            s1(0x128, &[RH_OWNER], B::new().u32(0).u32(100_000).0),
        ),
        (
            0x12E,
            "SetPrimaryPolicy",
            s1(0x12E, &[RH_OWNER], B::new().b2(&[9; 32]).u16(SHA256).0),
        ),
        (0x130, "ClockRateAdjust", s1(0x130, &[RH_PLATFORM], vec![1])),
        (
            0x12A,
            "NV_DefineSpace",
            s1(0x12A, &[RH_OWNER], B::new().b2(b"").b2(&nv_public).0),
        ),
        (0x134, "NV_Increment", s1(0x134, &[RH_OWNER, NV], vec![])),
        (
            0x136,
            "NV_Extend",
            s1(0x136, &[RH_OWNER, NV], B::new().b2(b"data").0),
        ),
        (
            0x137,
            "NV_Write",
            s1(0x137, &[NV, NV], B::new().b2(b"data").u16(0).0),
        ),
        (
            0x14E,
            "NV_Read",
            s1(0x14E, &[RH_OWNER, NV], B::new().u16(4).u16(0).0),
        ),
        (0x169, "NV_ReadPublic", s0(0x169, &[NV], vec![])),
        (0x127, "ClearControl", s1(0x127, &[RH_PLATFORM], vec![0])),
        (
            0x139,
            "DictionaryAttackLockReset",
            s1(0x139, &[RH_LOCKOUT], vec![]),
        ),
        (
            0x13A,
            "DictionaryAttackParameters",
            s1(
                0x13A,
                &[RH_LOCKOUT],
                [5u32, 6, 7].iter().flat_map(|v| v.to_be_bytes()).collect(),
            ),
        ),
        (
            0x129,
            "HierarchyChangeAuth",
            s1(0x129, &[RH_OWNER], B::new().b2(b"pass").0),
        ),
        (
            0x131,
            "CreatePrimary",
            s1(
                0x131,
                &[RH_OWNER],
                create_params(b"", b"", &ecc_public(STORAGE, 3, SHA256)),
            ),
        ),
        (
            0x13C,
            "PCR_Event",
            s1(0x13C, &[PCR], B::new().b2(b"event data").0),
        ),
        (0x13D, "PCR_Reset", s1(0x13D, &[PCR], vec![])),
        (
            0x12B,
            "PCR_Allocate",
            s1(
                0x12B,
                &[RH_PLATFORM],
                B::new()
                    .u32(3)
                    .u16(0x0004)
                    .raw(&[3, 0xFF, 0xFF, 0xFF])
                    .u16(SHA256)
                    .raw(&[3, 0xFF, 0xFF, 0xFF])
                    .u16(0x000C)
                    .raw(&[3, 0xFF, 0xFF, 0xFF])
                    .0,
            ),
        ),
        (0x124, "ChangeEPS", s1(0x124, &[RH_PLATFORM], vec![])),
        (0x125, "ChangePPS", s1(0x125, &[RH_PLATFORM], vec![])),
        (
            0x12C,
            "PCR_SetAuthPolicy",
            s1(
                0x12C,
                &[RH_PLATFORM],
                B::new().b2(&[7; 32]).u16(SHA256).u32(20).0,
            ),
        ),
        (
            0x183,
            "PCR_SetAuthValue",
            s1(0x183, &[20], B::new().b2(b"pcr").0),
        ),
        (
            0x13E,
            "SequenceComplete",
            s1(0x13E, &[T0], B::new().b2(b"abc").u32(RH_NULL).0),
        ),
        (
            0x142,
            "IncrementalSelfTest",
            s0(0x142, &[], B::new().u32(2).u16(SHA256).u16(ECC).0),
        ),
        (0x143, "SelfTest", s0(0x143, &[], vec![1])),
        (0x144, "Startup", s0(0x144, &[], B::new().u16(0).0)),
        (0x145, "Shutdown", s0(0x145, &[], B::new().u16(1).0)),
        (0x146, "StirRandom", s0(0x146, &[], B::new().b2(&[1; 16]).0)),
        (
            0x147,
            "ActivateCredential",
            s2(0x147, &[T1, T0], B::new().b2(&[7; 70]).b2(&point).0),
        ),
        (
            0x148,
            "Certify",
            s2(0x148, &[T0, T1], B::new().b2(b"nonce").u16(NULL).0),
        ),
        (
            0x14A,
            "CertifyCreation",
            s1(
                0x14A,
                &[T0, T0],
                B::new()
                    .b2(b"nonce")
                    .b2(&[1; 32])
                    .u16(NULL)
                    .u16(0x8021)
                    .u32(RH_OWNER)
                    .b2(&[2; 48])
                    .0,
            ),
        ),
        (
            0x14C,
            "GetTime",
            s2(
                0x14C,
                &[RH_ENDORSEMENT, T0],
                B::new().b2(b"nonce").u16(NULL).0,
            ),
        ),
        (
            0x14D,
            "GetSessionAuditDigest",
            s2(
                0x14D,
                &[RH_ENDORSEMENT, T0, HMAC_S],
                B::new().b2(b"nonce").u16(NULL).0,
            ),
        ),
        (
            0x150,
            "ObjectChangeAuth",
            s1(0x150, &[T1, T0], B::new().b2(b"new").0),
        ),
        (
            0x149,
            "PolicyNV",
            s1(
                0x149,
                &[NV, NV, POLICY_S],
                B::new().b2(&[0; 8]).u16(0).u16(3).0,
            ),
        ),
        (
            0x151,
            "PolicySecret",
            s1(
                0x151,
                &[RH_OWNER, POLICY_S],
                B::new().b2(&[]).b2(&[]).b2(&[]).u32(0).0,
            ),
        ),
        (
            0x153,
            "Create",
            s1(
                0x153,
                &[T0],
                create_params(b"key", b"", &ecc_public(SIGNING, 3, SHA256)),
            ),
        ),
        (0x154, "ECDH_ZGen", s1(0x154, &[T0], B::new().b2(&point).0)),
        (
            0x157,
            "Load",
            s1(
                0x157,
                &[T0],
                B::new().b2(&[9; 80]).b2(&ecc_public(SIGNING, 3, SHA256)).0,
            ),
        ),
        (
            0x158,
            "Quote",
            s1(
                0x158,
                &[T0],
                B::new().b2(b"nonce").u16(NULL).raw(&pcr_sel()).0,
            ),
        ),
        (
            0x15C,
            "SequenceUpdate",
            s1(0x15C, &[T0], B::new().b2(b"abc").0),
        ),
        (
            0x15D,
            "Sign",
            s1(
                0x15D,
                &[T0],
                B::new().b2(&[0x11; 32]).u16(NULL).raw(&null_ticket()).0,
            ),
        ),
        (0x15E, "Unseal", s1(0x15E, &[T0], vec![])),
        (0x161, "ContextLoad", s0(0x161, &[], ctx)),
        (0x162, "ContextSave", s0(0x162, &[T0], vec![])),
        (0x163, "ECDH_KeyGen", s0(0x163, &[T0], vec![])),
        (
            0x164,
            "EncryptDecrypt",
            s1(
                0x164,
                &[T0],
                B::new().u8(0).u16(CFB).b2(&[7; 16]).b2(&[0x5A; 40]).0,
            ),
        ),
        (
            0x165,
            "FlushContext",
            s0(0x165, &[], B::new().u32(HMAC_S).0),
        ),
        (
            0x167,
            "LoadExternal",
            s0(
                0x167,
                &[],
                B::new()
                    .u16(0)
                    .b2(&ecc_public(SIGNING, 3, SHA256))
                    .u32(RH_OWNER)
                    .0,
            ),
        ),
        (
            0x168,
            "MakeCredential",
            s0(0x168, &[T0], B::new().b2(b"secret").b2(&[0; 34]).0),
        ),
        (0x138, "NV_WriteLock", s1(0x138, &[NV, NV], vec![])),
        (0x14F, "NV_ReadLock", s1(0x14F, &[RH_OWNER, NV], vec![])),
        (0x132, "NV_GlobalWriteLock", s1(0x132, &[RH_OWNER], vec![])),
        (
            0x133,
            "GetCommandAuditDigest",
            s2(
                0x133,
                &[RH_ENDORSEMENT, RH_NULL],
                B::new().b2(b"nonce").u16(NULL).0,
            ),
        ),
        (
            0x140,
            "SetCommandCodeAuditStatus",
            s1(
                0x140,
                &[RH_OWNER],
                B::new().u16(0x0010).u32(1).u32(0x17B).u32(0).0,
            ),
        ),
        (
            0x135,
            "NV_SetBits",
            s1(0x135, &[RH_OWNER, NV], B::new().u32(0).u32(0x81).0),
        ),
        (
            0x13B,
            "NV_ChangeAuth",
            s1(0x13B, &[NV], B::new().b2(b"new").0),
        ),
        (
            0x11F,
            "NV_UndefineSpaceSpecial",
            s2(0x11F, &[NV, RH_PLATFORM], vec![]),
        ),
        (
            0x184,
            "NV_Certify",
            s2(
                0x184,
                &[RH_NULL, RH_OWNER, NV],
                B::new().b2(b"nonce").u16(NULL).u16(4).u16(0).0,
            ),
        ),
        (
            0x155,
            "HMAC",
            s1(0x155, &[T0], B::new().b2(b"abc").u16(0x0010).0),
        ),
        (
            0x15B,
            "HMAC_Start",
            s1(0x15B, &[T0], B::new().b2(b"").u16(0x0010).0),
        ),
        (
            0x160,
            "PolicySigned",
            s0(
                0x160,
                &[T0, POLICY_S],
                B::new()
                    .b2(&[])
                    .b2(&[])
                    .b2(&[])
                    .u32(0)
                    .u16(0x18)
                    .u16(SHA256)
                    .b2(&[1; 32])
                    .b2(&[2; 32])
                    .0,
            ),
        ),
        (
            0x16A,
            "PolicyAuthorize",
            s0(
                0x16A,
                &[POLICY_S],
                B::new()
                    .b2(&[0; 32])
                    .b2(&[])
                    .b2(&[&SHA256.to_be_bytes()[..], &[3; 32]].concat())
                    .u16(0x8022)
                    .u32(RH_OWNER)
                    .b2(&[4; 48])
                    .0,
            ),
        ),
        (
            0x14B,
            "Duplicate",
            cmd(
                0x14B,
                &[T0, T1],
                Some(&[auth(POLICY_S, &[0x61; 16], 1, &[])]),
                &B::new().b2(b"").u16(AES).u16(128).u16(CFB).0,
            ),
        ),
        (
            0x152,
            "Rewrap",
            s1(
                0x152,
                &[T0, RH_NULL],
                B::new().b2(&[0x5A; 80]).b2(&[0; 34]).b2(&point).0,
            ),
        ),
        (
            0x156,
            "Import",
            s1(
                0x156,
                &[T0],
                B::new()
                    .b2(&[7; 16])
                    .b2(&ecc_public(0x0004_0060, 3, SHA256))
                    .b2(&[0x5A; 120])
                    .b2(&point)
                    .u16(AES)
                    .u16(128)
                    .u16(CFB)
                    .0,
            ),
        ),
        (
            0x188,
            "PolicyDuplicationSelect",
            s0(
                0x188,
                &[POLICY_S],
                B::new().b2(&[0; 34]).b2(&[0; 34]).u8(1).0,
            ),
        ),
        (0x16B, "PolicyAuthValue", s0(0x16B, &[POLICY_S], vec![])),
        (
            0x16C,
            "PolicyCommandCode",
            s0(0x16C, &[POLICY_S], B::new().u32(0x150).0),
        ),
        (
            0x16D,
            "PolicyCounterTimer",
            s0(0x16D, &[POLICY_S], B::new().b2(&[0; 8]).u16(0).u16(7).0),
        ),
        (
            0x16E,
            "PolicyCpHash",
            s0(0x16E, &[POLICY_S], B::new().b2(&[5; 32]).0),
        ),
        (0x16F, "PolicyLocality", s0(0x16F, &[POLICY_S], vec![3])),
        (
            0x170,
            "PolicyNameHash",
            s0(0x170, &[POLICY_S], B::new().b2(&[6; 32]).0),
        ),
        (
            0x171,
            "PolicyOR",
            s0(
                0x171,
                &[POLICY_S],
                B::new().u32(2).b2(&[0; 32]).b2(&[1; 32]).0,
            ),
        ),
        (
            0x172,
            "PolicyTicket",
            s0(
                0x172,
                &[POLICY_S],
                B::new()
                    .b2(&[0; 8])
                    .b2(&[])
                    .b2(&[])
                    .b2(&[&SHA256.to_be_bytes()[..], &[3; 32]].concat())
                    .u16(0x8023)
                    .u32(RH_OWNER)
                    .b2(&[4; 48])
                    .0,
            ),
        ),
        (0x173, "ReadPublic", s0(0x173, &[T0], vec![])),
        (
            0x174,
            "RSA_Encrypt",
            s0(
                0x174,
                &[T0],
                B::new()
                    .b2(b"message")
                    .u16(OAEP)
                    .u16(SHA256)
                    .b2(b"label\0")
                    .0,
            ),
        ),
        (
            0x159,
            "RSA_Decrypt",
            s1(0x159, &[T0], B::new().b2(&[0x5A; 256]).u16(NULL).b2(&[]).0),
        ),
        (
            0x18A,
            "TestParms",
            s0(0x18A, &[], public_parms(&rsa_public(EXCHANGE))),
        ),
        (
            0x176,
            "StartAuthSession",
            start_auth_session(RH_NULL, RH_NULL, &[], 0, &sym_null()),
        ),
        (
            0x177,
            "VerifySignature",
            s0(0x177, &[T0], B::new().b2(&[0x11; 32]).raw(&signature).0),
        ),
        (0x178, "ECC_Parameters", s0(0x178, &[], B::new().u16(3).0)),
        (
            0x17A,
            "GetCapability",
            s0(0x17A, &[], B::new().u32(6).u32(0x100).u32(127).0),
        ),
        (0x17B, "GetRandom", s0(0x17B, &[], B::new().u16(32).0)),
        (0x17C, "GetTestResult", s0(0x17C, &[], vec![])),
        (
            0x17D,
            "Hash",
            s0(
                0x17D,
                &[],
                B::new().b2(&[0x5A; 64]).u16(SHA256).u32(RH_OWNER).0,
            ),
        ),
        (0x17E, "PCR_Read", s0(0x17E, &[], pcr_sel())),
        (
            0x17F,
            "PolicyPCR",
            s0(0x17F, &[POLICY_S], B::new().b2(&[]).raw(&pcr_sel()).0),
        ),
        (0x180, "PolicyRestart", s0(0x180, &[POLICY_S], vec![])),
        (0x181, "ReadClock", s0(0x181, &[], vec![])),
        (0x182, "PCR_Extend", s1(0x182, &[PCR], digests())),
        (
            0x185,
            "EventSequenceComplete",
            s2(0x185, &[PCR, T0], B::new().b2(b"abc").0),
        ),
        (
            0x186,
            "HashSequenceStart",
            s0(0x186, &[], B::new().b2(&[]).u16(SHA256).0),
        ),
        (
            0x187,
            "PolicyPhysicalPresence",
            s0(0x187, &[POLICY_S], vec![]),
        ),
        (0x189, "PolicyGetDigest", s0(0x189, &[POLICY_S], vec![])),
        (
            0x18B,
            "Commit",
            s1(0x18B, &[T0], B::new().b2(&point).b2(b"s2").b2(&[]).0),
        ),
        (0x18C, "PolicyPassword", s0(0x18C, &[POLICY_S], vec![])),
        (
            0x18D,
            "ZGen_2Phase",
            s1(
                0x18D,
                &[T0],
                B::new().b2(&point).b2(&point).u16(ECDH).u16(0).0,
            ),
        ),
        (0x18E, "EC_Ephemeral", s0(0x18E, &[], B::new().u16(3).0)),
        (0x18F, "PolicyNvWritten", s0(0x18F, &[POLICY_S], vec![1])),
        (
            0x190,
            "PolicyTemplate",
            s0(0x190, &[POLICY_S], B::new().b2(&[7; 32]).0),
        ),
        (
            0x191,
            "CreateLoaded",
            s1(
                0x191,
                &[T0],
                B::new()
                    .raw(&sensitive(b"", b""))
                    .b2(&ecc_public(STORAGE, 3, SHA256))
                    .0,
            ),
        ),
        (
            0x192,
            "PolicyAuthorizeNV",
            s1(0x192, &[NV, NV, POLICY_S], vec![]),
        ),
        (
            0x193,
            "EncryptDecrypt2",
            s1(
                0x193,
                &[T0],
                B::new().b2(&[0x5A; 48]).u8(1).u16(CBC).b2(&[7; 16]).0,
            ),
        ),
    ]
}

/// TPMT_PUBLIC of an AES symmetric cipher key (Part 2 §12.2.3.7): nameAlg SHA-256, `attrs`,
/// AES-`bits` in `mode`, `unique`.
fn sym_public(attrs: u32, bits: u16, mode: u16, unique: &[u8]) -> Vec<u8> {
    B::new()
        .u16(SYMCIPHER)
        .u16(SHA256)
        .u32(attrs)
        .b2(b"")
        .u16(AES)
        .u16(bits)
        .u16(mode)
        .b2(unique)
        .0
}

/// Sequences that reach state: sessions, sequences, keys, credentials, contexts, reboots.
fn sequence_seeds(dir: &Path, execute: &[(u32, &'static str, Vec<u8>)]) {
    let digest32 = [0x11u8; 32];

    // Every command of the execute seeds in a row (whatever each answers).
    let mut r = Rec::new("all_commands");
    for (_, _, c) in execute {
        r.record(0, c.clone());
    }
    r.write(dir);

    // HMAC session on a PCR: unbound and unsalted, so the key is empty and so may the HMAC be.
    let mut r = Rec::new("hmac_session_pcr_extend");
    r.ok(start_auth_session(RH_NULL, RH_NULL, &[], 0, &sym_null()));
    r.ok(cmd(
        0x182,
        &[PCR],
        Some(&[auth(HMAC_S, &[0x44; 32], 1, &[])]),
        &digests(),
    ));
    r.ok(cmd(
        0x182,
        &[PCR],
        Some(&[auth(HMAC_S, &[0x45; 32], 0, &[])]),
        &digests(),
    ));
    r.ok(cmd(
        0x17E,
        &[],
        None,
        &B::new().u32(1).u16(SHA384).u8(3).raw(&[0, 0, 1]).0,
    ));
    r.write(dir);

    // Policy sessions.
    let mut r = Rec::new("policy_session");
    r.ok(start_auth_session(RH_NULL, RH_NULL, &[], 1, &sym_null()));
    let secret = B::new().b2(&[]).b2(&[]).b2(b"ref").u32(0).0;
    r.ok(cmd(0x151, &[RH_OWNER, POLICY_S], Some(&[pw(b"")]), &secret));
    let d = r.ok(cmd(0x189, &[POLICY_S], None, &[]));
    let current = Rd(d.params(false)).b2().to_vec();
    r.ok(cmd(
        0x171,
        &[POLICY_S],
        None,
        &B::new().u32(2).b2(&current).b2(&[1; 32]).0,
    ));
    r.ok(cmd(0x180, &[POLICY_S], None, &[]));
    r.ok(start_auth_session(RH_NULL, RH_NULL, &[], 3, &sym_null()));
    r.ok(cmd(0x165, &[], None, &B::new().u32(POLICY_S).0));
    r.ok(cmd(
        0x17A,
        &[],
        None,
        &B::new().u32(1).u32(0x0200_0000).u32(16).0,
    ));
    r.write(dir);

    // A session bound to the owner hierarchy and parameter-encryption sessions (AES-CFB,
    // XOR) used for decrypt / encrypt alongside a password authorization.
    let mut r = Rec::new("bound_and_encrypting_sessions");
    r.ok(start_auth_session(RH_NULL, RH_OWNER, &[], 0, &sym_null()));
    let aes = B::new().u16(AES).u16(128).u16(CFB).0;
    r.ok(start_auth_session(RH_NULL, RH_NULL, &[], 0, &aes));
    let xor = B::new().u16(XOR).u16(SHA256).0;
    r.ok(start_auth_session(RH_NULL, RH_NULL, &[], 0, &xor));
    let enc = auth(HMAC_S + 1, &[0x55; 32], 0x21, &[]);
    r.at(
        0,
        cmd(
            0x13C,
            &[PCR],
            Some(&[pw(b""), enc]),
            &B::new().b2(b"decrypted event").0,
        ),
        0,
    );
    let enc = auth(HMAC_S + 2, &[0x56; 32], 0x41, &[]);
    r.at(0, cmd(0x17B, &[], Some(&[enc]), &B::new().u16(16).0), 0);
    r.ok(cmd(
        0x17A,
        &[],
        None,
        &B::new().u32(1).u32(0x0200_0000).u32(16).0,
    ));
    r.write(dir);

    // RSA-2048: a signing key signs and its signature verifies; a decryption key encrypts with
    // OAEP and decrypts; an RSA primary salts a session.
    let mut r = Rec::new("rsa_keys");
    let (signer, _) = r.create_primary(RH_OWNER, b"", &rsa_public(SIGNING));
    let sig = r.ok(cmd(
        0x15D,
        &[signer],
        Some(&[pw(b"")]),
        &B::new().b2(&digest32).u16(NULL).raw(&null_ticket()).0,
    ));
    r.ok(cmd(
        0x177,
        &[signer],
        None,
        &B::new().b2(&digest32).raw(Rd(sig.params(false)).rest()).0,
    ));
    let (decrypter, _) = r.create_primary(RH_OWNER, b"", &rsa_public(EXCHANGE));
    let ct = r.ok(cmd(
        0x174,
        &[decrypter],
        None,
        &B::new().b2(b"secret").u16(NULL).b2(b"label\0").0,
    ));
    r.ok(cmd(
        0x159,
        &[decrypter],
        Some(&[pw(b"")]),
        &B::new()
            .b2(Rd(ct.params(false)).b2())
            .u16(NULL)
            .b2(b"label\0")
            .0,
    ));
    r.write(dir);

    // Symmetric cipher keys: a derived AES-128-CFB key encrypts and decrypts
    // (EncryptDecrypt), an AES-256 storage parent has an AES child (mode NULL, CBC in
    // EncryptDecrypt2), a known key is loaded from outside, TestParms of the parameters.
    let mut r = Rec::new("symmetric_keys");
    let (key, _) = r.create_primary(RH_OWNER, b"", &sym_public(0x0006_0072, 128, CFB, b""));
    let ct = r.ok(cmd(
        0x164,
        &[key],
        Some(&[pw(b"")]),
        &B::new().u8(0).u16(NULL).b2(&[3; 16]).b2(&[0x5A; 37]).0,
    ));
    r.ok(cmd(
        0x164,
        &[key],
        Some(&[pw(b"")]),
        &B::new()
            .u8(1)
            .u16(CFB)
            .b2(&[3; 16])
            .b2(Rd(ct.params(false)).b2())
            .0,
    ));
    let (parent, _) = r.create_primary(RH_OWNER, b"", &sym_public(STORAGE, 256, CFB, b""));
    let (private, public) = r.create(parent, b"", b"", &sym_public(0x0006_0072, 256, NULL, b""));
    let (child, _) = r.load(parent, &private, &public);
    r.ok(cmd(
        0x193,
        &[child],
        Some(&[pw(b"")]),
        &B::new().b2(&[0x5A; 64]).u8(0).u16(CBC).b2(&[9; 16]).0,
    ));
    let (seed, aes_key) = ([0x33u8; 32], [0x44u8; 16]);
    let unique = HashAlg::Sha256.digest(&[&seed, &aes_key]);
    let sens = B::new().u16(SYMCIPHER).b2(b"").b2(&seed).b2(&aes_key).0;
    r.ok(cmd(
        0x167,
        &[],
        None,
        &B::new()
            .b2(&sens)
            .b2(&sym_public(0x0006_0040, 128, CFB, unique.as_slice()))
            .u32(RH_NULL)
            .0,
    ));
    r.ok(cmd(
        0x18A,
        &[],
        None,
        &B::new().u16(SYMCIPHER).u16(AES).u16(256).u16(CBC).0,
    ));
    r.write(dir);

    // CertifyCreation of a primary signing key by itself with the creationHash and ticket
    // CreatePrimary returned.
    let mut r = Rec::new("certify_creation");
    let cp = r.ok(cmd(
        0x131,
        &[RH_OWNER],
        Some(&[pw(b"")]),
        &create_params(b"", &[], &ecc_public(SIGNING, 3, SHA256)),
    ));
    let mut rd = Rd(cp.params(true));
    rd.b2();
    rd.b2();
    let creation_hash = rd.b2().to_vec();
    let ticket_head = rd.take(6).to_vec();
    let ticket_digest = rd.b2().to_vec();
    r.ok(cmd(
        0x14A,
        &[cp.handle(), cp.handle()],
        Some(&[pw(b"")]),
        &B::new()
            .b2(b"nonce")
            .b2(&creation_hash)
            .u16(NULL)
            .raw(&ticket_head)
            .b2(&ticket_digest)
            .0,
    ));
    r.write(dir);

    // Hash and event sequences.
    let mut r = Rec::new("hash_sequence");
    r.ok(cmd(
        0x186,
        &[],
        None,
        &B::new().b2(b"seqauth").u16(SHA384).0,
    ));
    r.ok(cmd(
        0x15C,
        &[T0],
        Some(&[pw(b"seqauth")]),
        &B::new().b2(b"hello ").0,
    ));
    r.ok(cmd(
        0x13E,
        &[T0],
        Some(&[pw(b"seqauth")]),
        &B::new().b2(b"world").u32(RH_OWNER).0,
    ));
    r.ok(cmd(0x186, &[], None, &B::new().b2(&[]).u16(NULL).0));
    r.ok(cmd(
        0x15C,
        &[T0],
        Some(&[pw(b"")]),
        &B::new().b2(b"event ").0,
    ));
    r.ok(cmd(
        0x185,
        &[PCR, T0],
        Some(&[pw(b""), pw(b"")]),
        &B::new().b2(b"data").0,
    ));
    r.write(dir);

    // Reboots: Shutdown(STATE) → _TPM_Init → Startup(STATE), then a TPM Restart.
    let mut r = Rec::new("shutdown_startup");
    r.ok(cmd(0x182, &[0], Some(&[pw(b"")]), &digests()));
    r.ok(cmd(0x145, &[], None, &B::new().u16(1).0));
    r.init();
    r.ok(cmd(0x144, &[], None, &B::new().u16(1).0));
    r.ok(cmd(0x17E, &[], None, &pcr_sel()));
    r.ok(cmd(0x145, &[], None, &B::new().u16(1).0));
    r.init();
    r.ok(cmd(0x144, &[], None, &B::new().u16(0).0));
    r.ok(cmd(0x181, &[], None, &[]));
    r.write(dir);

    // Hierarchy authorization, ClearControl, Clear; PCR locality rules.
    let mut r = Rec::new("hierarchy_auth_clear");
    r.ok(cmd(
        0x129,
        &[RH_OWNER],
        Some(&[pw(b"")]),
        &B::new().b2(b"pass").0,
    ));
    r.ok(cmd(
        0x129,
        &[RH_OWNER],
        Some(&[pw(b"pass")]),
        &B::new().b2(&[]).0,
    ));
    r.ok(cmd(
        0x129,
        &[RH_LOCKOUT],
        Some(&[pw(b"")]),
        &B::new().b2(b"lock").0,
    ));
    r.ok(cmd(0x127, &[RH_LOCKOUT], Some(&[pw(b"lock")]), &[1]));
    r.at(
        0,
        cmd(0x126, &[RH_LOCKOUT], Some(&[pw(b"lock")]), &[]),
        0x120,
    );
    r.ok(cmd(0x127, &[RH_PLATFORM], Some(&[pw(b"")]), &[0]));
    r.ok(cmd(0x126, &[RH_LOCKOUT], Some(&[pw(b"lock")]), &[]));
    r.at(0, cmd(0x182, &[17], Some(&[pw(b"")]), &digests()), 0x907);
    r.at(3, cmd(0x182, &[17], Some(&[pw(b"")]), &digests()), 0);
    r.at(4, cmd(0x13D, &[17], Some(&[pw(b"")]), &[]), 0x907);
    r.write(dir);

    // PCR group authorization and the platform's seeds: PCR_SetAuthValue on PCR 20, extends
    // of PCR 21 at locality 2 with a wrong and the right authValue, PCR_SetAuthPolicy, then
    // a password refused (a policy session is required), ChangePPS (the policy gone),
    // a storage primary and ChangeEPS.
    let mut r = Rec::new("pcr_auth_change_seeds");
    r.ok(cmd(0x183, &[20], Some(&[pw(b"")]), &B::new().b2(b"pcr").0));
    r.at(2, cmd(0x182, &[21], Some(&[pw(b"no")]), &digests()), 0x9A2);
    r.at(2, cmd(0x182, &[21], Some(&[pw(b"pcr")]), &digests()), 0);
    r.ok(cmd(
        0x12C,
        &[RH_PLATFORM],
        Some(&[pw(b"")]),
        &B::new().b2(&[7; 32]).u16(SHA256).u32(22).0,
    ));
    r.at(2, cmd(0x182, &[21], Some(&[pw(b"pcr")]), &digests()), 0x124);
    r.ok(cmd(0x125, &[RH_PLATFORM], Some(&[pw(b"")]), &[]));
    r.at(2, cmd(0x182, &[21], Some(&[pw(b"pcr")]), &digests()), 0);
    r.create_primary(RH_ENDORSEMENT, b"", &ecc_public(STORAGE, 3, SHA256));
    r.ok(cmd(0x124, &[RH_PLATFORM], Some(&[pw(b"")]), &[]));
    r.write(dir);

    // PCR_Allocate of a SHA-1 bank beside the others, Shutdown(STATE) refused, a TPM Reset,
    // then the SHA-1 bank extended and read.
    let mut r = Rec::new("pcr_allocate_sha1");
    let all = [3u8, 0xFF, 0xFF, 0xFF];
    r.ok(cmd(
        0x12B,
        &[RH_PLATFORM],
        Some(&[pw(b"")]),
        &B::new().u32(1).u16(0x0004).raw(&all).0,
    ));
    r.at(0, cmd(0x145, &[], None, &[0, 1]), 0x1CA);
    r.ok(cmd(0x145, &[], None, &[0, 0]));
    r.init();
    r.ok(cmd(0x144, &[], None, &[0, 0]));
    r.ok(cmd(
        0x182,
        &[10],
        Some(&[pw(b"")]),
        &B::new().u32(1).u16(0x0004).raw(&[0x11; 20]).0,
    ));
    r.ok(cmd(0x17E, &[], None, &B::new().u32(1).u16(0x0004).raw(&all).0));
    r.write(dir);

    // Keys: a storage primary, a signing key created, loaded and used, its context saved and
    // loaded, its auth changed, made persistent; a P-384 primary in the null hierarchy.
    let mut r = Rec::new("keys_sign_quote_context");
    let (parent, parent_public) = r.create_primary(RH_OWNER, b"", &ecc_public(STORAGE, 3, SHA256));
    assert_eq!(parent, T0);
    let (private, public) = r.create(parent, b"key", b"", &ecc_public(SIGNING, 3, SHA256));
    let (key, _name) = r.load(parent, &private, &public);
    r.ok(cmd(0x173, &[key], None, &[]));
    let s = r.ok(cmd(
        0x15D,
        &[key],
        Some(&[pw(b"key")]),
        &B::new().b2(&digest32).u16(NULL).raw(&null_ticket()).0,
    ));
    let signature = Rd(s.params(false)).rest().to_vec();
    r.ok(cmd(
        0x177,
        &[key],
        None,
        &B::new().b2(&digest32).raw(&signature).0,
    ));
    r.ok(cmd(
        0x158,
        &[key],
        Some(&[pw(b"key")]),
        &B::new().b2(b"nonce").u16(NULL).raw(&pcr_sel()).0,
    ));
    r.ok(cmd(
        0x148,
        &[key, key],
        Some(&[pw(b"key"), pw(b"key")]),
        &B::new().b2(b"nonce").u16(NULL).0,
    ));
    r.ok(cmd(
        0x14C,
        &[RH_ENDORSEMENT, key],
        Some(&[pw(b""), pw(b"key")]),
        &B::new().b2(b"nonce").u16(NULL).0,
    ));
    let saved = r.ok(cmd(0x162, &[key], None, &[]));
    let blob = Rd(saved.params(false)).rest().to_vec();
    r.ok(cmd(0x165, &[], None, &B::new().u32(key).0));
    let loaded = r.ok(cmd(0x161, &[], None, &blob));
    let key = loaded.handle();
    r.ok(cmd(
        0x150,
        &[key, parent],
        Some(&[pw(b"key")]),
        &B::new().b2(b"new").0,
    ));
    // A public-only copy of the parent (a valid point) for VerifySignature-style loads.
    r.ok(cmd(
        0x167,
        &[],
        None,
        &B::new().u16(0).b2(&parent_public).u32(RH_OWNER).0,
    ));
    r.ok(cmd(
        0x120,
        &[RH_OWNER, parent],
        Some(&[pw(b"")]),
        &B::new().u32(PERSISTENT).0,
    ));
    r.ok(cmd(0x173, &[PERSISTENT], None, &[]));
    r.ok(cmd(
        0x120,
        &[RH_OWNER, PERSISTENT],
        Some(&[pw(b"")]),
        &B::new().u32(PERSISTENT).0,
    ));
    r.create_primary(RH_NULL, b"", &ecc_public(SIGNING, 4, SHA384));
    r.write(dir);

    // Sealed data, ECDH, a salted session.
    let mut r = Rec::new("seal_ecdh_salted_session");
    let (parent, parent_public) = r.create_primary(RH_OWNER, b"", &ecc_public(STORAGE, 3, SHA256));
    let (private, public) = r.create(parent, b"", b"sealed secret", &sealed_public());
    let (sealed, _) = r.load(parent, &private, &public);
    r.ok(cmd(0x15E, &[sealed], Some(&[pw(b"")]), &[]));
    let created = r.ok(cmd(
        0x191,
        &[parent],
        Some(&[pw(b"")]),
        &B::new()
            .raw(&sensitive(b"", b""))
            .b2(&ecc_public(EXCHANGE, 3, SHA256))
            .0,
    ));
    let xkey = created.handle();
    let kg = r.ok(cmd(0x163, &[xkey], None, &[]));
    let mut rd = Rd(kg.params(false));
    let _z = rd.b2_whole();
    let pub_point = rd.b2_whole().to_vec();
    r.ok(cmd(0x154, &[xkey], Some(&[pw(b"")]), &pub_point));
    // Two-phase ECDH: EC_Ephemeral's counter used once by ZGen_2Phase.
    let eph = r.ok(cmd(0x18E, &[], None, &B::new().u16(3).0));
    let mut rd = Rd(eph.params(false));
    let _q_e = rd.b2_whole();
    let counter = rd.u16();
    let mut p = pub_point.clone();
    p.extend(&pub_point);
    r.ok(cmd(
        0x18D,
        &[xkey],
        Some(&[pw(b"")]),
        &B::new().raw(&p).u16(ECDH).u16(counter).0,
    ));
    // Salt "encrypted" to the storage key: any point on the curve is a valid encryptedSalt (here
    // the key's own public point, x ‖ y from its TPMT_PUBLIC's unique field).
    let unique = &parent_public[parent_public.len() - 68..];
    r.ok(start_auth_session(parent, RH_NULL, unique, 0, &sym_null()));
    r.write(dir);

    // Credentials: MakeCredential to an EK-like storage key for an AK, ActivateCredential.
    let mut r = Rec::new("credential");
    let (ek, _) = r.create_primary(RH_ENDORSEMENT, b"", &ecc_public(STORAGE, 3, SHA256));
    // (CreateLoaded under a hierarchy, i.e. a primary, is not implemented: VALUE on handle 1.)
    let created = r.ok(cmd(
        0x191,
        &[ek],
        Some(&[pw(b"")]),
        &B::new()
            .raw(&sensitive(b"ak", b""))
            .b2(&ecc_public(AK, 3, SHA256))
            .0,
    ));
    let ak = created.handle();
    let mut rd = Rd(created.params(true));
    let _private = rd.b2_whole();
    let _public = rd.b2_whole();
    let ak_name = rd.b2().to_vec();
    let made = r.ok(cmd(
        0x168,
        &[ek],
        None,
        &B::new().b2(b"credential secret").b2(&ak_name).0,
    ));
    let blob = Rd(made.params(false)).rest().to_vec();
    r.ok(cmd(0x147, &[ak, ek], Some(&[pw(b"ak"), pw(b"")]), &blob));
    r.write(dir);

    bound_session_seeds(dir);
    public_only_seeds(dir);
    duplication_seeds(dir);
}

/// Bound sessions (Part 1 §19.6.9): HMACs computed here with vtpm's own SHA-256 / HMAC /
/// KDFa, so the commands pass the HMAC check and reach what comes after it. The steps whose
/// answer a TPM that matches bind entities by Name and authValue together (as libtpms does)
/// gives differently from one that matches on the Name alone are recorded without a check.
fn bound_session_seeds(dir: &Path) {
    let mut r = Rec::new("bound_sessions");
    let (parent, _) = r.create_primary(RH_OWNER, b"", &ecc_public(STORAGE, 3, SHA256));
    let (private, public) = r.create(parent, b"secret", b"sealed secret", &sealed_public());
    let (sealed, name) = r.load(parent, &private, &public);

    // Bound to the sealed object: Unseal with the authValue left out, twice (the second with
    // the nonceTPM of the first answer), then a wrong HMAC (key without the authValue but the
    // session not bound: an unbound session).
    let s = r.ok(start_auth_session(RH_NULL, sealed, &[], 0, &sym_null()));
    let (bound, mut nonce_tpm) = (s.handle(), s.nonce_tpm(true));
    let key = session_key(b"secret", &nonce_tpm);
    for nonce in [[0x61u8; 32], [0x62; 32]] {
        let u = r.ok(hmac_cmd(
            0x15E,
            &[sealed],
            &[&name],
            (bound, &key, &nonce_tpm),
            &nonce,
            &[],
        ));
        nonce_tpm = u.nonce_tpm(false);
    }
    let s = r.ok(start_auth_session(RH_NULL, RH_NULL, &[], 0, &sym_null()));
    let (unbound, unbound_nonce) = (s.handle(), s.nonce_tpm(true));
    let wrong = hmac_cmd(
        0x15E,
        &[sealed],
        &[&name],
        (unbound, &[], &unbound_nonce),
        &[0x63; 32],
        &[],
    );
    r.record(0, wrong);

    // The bound session on the owner hierarchy (not its bind entity): the key is sessionKey ‖
    // ownerAuth. Then ObjectChangeAuth, a Load of the new private area (same Name, another
    // authValue) and the old bound session on it with the authValue left out.
    r.ok(cmd(
        0x129,
        &[RH_OWNER],
        Some(&[pw(b"")]),
        &B::new().b2(b"owner").0,
    ));
    let owner_key = [key.as_slice(), b"owner"].concat();
    let params = B::new().b2(b"owner").0;
    let c = hmac_cmd(
        0x129,
        &[RH_OWNER],
        &[&RH_OWNER.to_be_bytes()],
        (bound, &owner_key, &nonce_tpm),
        &[0x64; 32],
        &params,
    );
    nonce_tpm = r.ok(c).nonce_tpm(false);
    let changed = r.ok(cmd(
        0x150,
        &[sealed, parent],
        Some(&[pw(b"secret")]),
        &B::new().b2(b"changed").0,
    ));
    let new_private = Rd(changed.params(false)).b2_whole().to_vec();
    let (reloaded, _) = r.load(parent, &new_private, &public);
    r.record(
        0,
        hmac_cmd(
            0x15E,
            &[reloaded],
            &[&name],
            (bound, &key, &nonce_tpm),
            &[0x65; 32],
            &[],
        ),
    );

    // A session bound to the owner hierarchy, then HierarchyChangeAuth: the session used on
    // the owner with the old authValue left out.
    let s = r.ok(start_auth_session(RH_NULL, RH_OWNER, &[], 0, &sym_null()));
    let (owner_bound, owner_nonce) = (s.handle(), s.nonce_tpm(true));
    let owner_session_key = session_key(b"owner", &owner_nonce);
    r.ok(cmd(
        0x129,
        &[RH_OWNER],
        Some(&[pw(b"owner")]),
        &B::new().b2(b"owner2").0,
    ));
    r.record(
        0,
        hmac_cmd(
            0x129,
            &[RH_OWNER],
            &[&RH_OWNER.to_be_bytes()],
            (owner_bound, &owner_session_key, &owner_nonce),
            &[0x66; 32],
            &B::new().b2(b"owner2").0,
        ),
    );

    // A session bound to hash sequence A, used on A (authValue left out) and on B.
    let seq = |r: &mut Rec, a: &[u8]| {
        r.ok(cmd(0x186, &[], None, &B::new().b2(a).u16(SHA256).0))
            .handle()
    };
    let (seq_a, seq_b) = (seq(&mut r, b"seq-a"), seq(&mut r, b"seq-b"));
    let s = r.ok(start_auth_session(RH_NULL, seq_a, &[], 0, &sym_null()));
    let (seq_bound, seq_nonce) = (s.handle(), s.nonce_tpm(true));
    let seq_key = session_key(b"seq-a", &seq_nonce);
    let no_name: &[u8] = &[]; // a sequence object has no public area: an empty Name
    let update = B::new().b2(b"abc").0;
    let a = r.ok(hmac_cmd(
        0x15C,
        &[seq_a],
        &[no_name],
        (seq_bound, &seq_key, &seq_nonce),
        &[0x67; 32],
        &update,
    ));
    let seq_nonce = a.nonce_tpm(false);
    r.record(
        0,
        hmac_cmd(
            0x15C,
            &[seq_b],
            &[no_name],
            (seq_bound, &seq_key, &seq_nonce),
            &[0x68; 32],
            &update,
        ),
    );
    r.write(dir);

    // A session bound to lockoutAuth with a wrong guess, used on the owner hierarchy: the
    // failure counts against lockoutAuth (libtpms); then lockoutAuth itself.
    let mut r = Rec::new("lockout_bound_session");
    r.ok(cmd(
        0x13A,
        &[RH_LOCKOUT],
        Some(&[pw(b"")]),
        &B::new().u32(5).u32(1000).u32(0).0,
    ));
    r.ok(cmd(
        0x129,
        &[RH_LOCKOUT],
        Some(&[pw(b"")]),
        &B::new().b2(b"lock").0,
    ));
    let s = r.ok(start_auth_session(RH_NULL, RH_LOCKOUT, &[], 0, &sym_null()));
    let guess = session_key(b"guess", &s.nonce_tpm(true));
    r.record(
        0,
        hmac_cmd(
            0x129,
            &[RH_OWNER],
            &[&RH_OWNER.to_be_bytes()],
            (s.handle(), &guess, &s.nonce_tpm(true)),
            &[0x69; 32],
            &B::new().b2(&[]).0,
        ),
    );
    r.record(
        0,
        cmd(
            0x129,
            &[RH_LOCKOUT],
            Some(&[pw(b"lock")]),
            &B::new().b2(&[]).0,
        ),
    );
    r.ok(cmd(0x17A, &[], None, &B::new().u32(6).u32(0x20E).u32(1).0));
    r.write(dir);
}

/// Public-only objects (LoadExternal without a sensitive area) where an authValue is needed:
/// StartAuthSession bound to one, Sign, Certify, PolicySecret, ActivateCredential. Their
/// answers are recorded without a check (libtpms: TPM_RC_HANDLE at bind, TPM_RC_AUTH_UNAVAILABLE
/// for the others).
fn public_only_seeds(dir: &Path) {
    let mut r = Rec::new("public_only_objects");
    // The P-256 base point: a valid public key whose private key no TPM holds.
    let gx = [
        0x6B, 0x17, 0xD1, 0xF2, 0xE1, 0x2C, 0x42, 0x47, 0xF8, 0xBC, 0xE6, 0xE5, 0x63, 0xA4, 0x40,
        0xF2, 0x77, 0x03, 0x7D, 0x81, 0x2D, 0xEB, 0x33, 0xA0, 0xF4, 0xA1, 0x39, 0x45, 0xD8, 0x98,
        0xC2, 0x96,
    ];
    let gy = [
        0x4F, 0xE3, 0x42, 0xE2, 0xFE, 0x1A, 0x7F, 0x9B, 0x8E, 0xE7, 0xEB, 0x4A, 0x7C, 0x0F, 0x9E,
        0x16, 0x2B, 0xCE, 0x33, 0x57, 0x6B, 0x31, 0x5E, 0xCE, 0xCB, 0xB6, 0x40, 0x68, 0x37, 0xBF,
        0x51, 0xF5,
    ];
    let mut public = ecc_public(AK, 3, SHA256);
    public.truncate(public.len() - 4); // the empty unique.x, unique.y
    let public = B::new().raw(&public).b2(&gx).b2(&gy).0;
    let loaded = r.ok(cmd(
        0x167,
        &[],
        None,
        &B::new().u16(0).b2(&public).u32(RH_NULL).0,
    ));
    let key = loaded.handle();
    let name = Rd(loaded.params(true)).b2().to_vec();
    r.ok(cmd(0x173, &[key], None, &[]));
    r.record(0, start_auth_session(RH_NULL, key, &[], 0, &sym_null()));
    let sign = B::new().b2(&[0x11; 32]).u16(NULL).raw(&null_ticket()).0;
    r.record(0, cmd(0x15D, &[key], Some(&[pw(b"")]), &sign));
    let (signer, _) = r.create_primary(RH_OWNER, b"", &ecc_public(SIGNING, 3, SHA256));
    r.record(
        0,
        cmd(
            0x148,
            &[key, signer],
            Some(&[pw(b""), pw(b"")]),
            &B::new().b2(b"nonce").u16(NULL).0,
        ),
    );
    let p = r.ok(start_auth_session(RH_NULL, RH_NULL, &[], 1, &sym_null()));
    let secret = B::new().b2(&[]).b2(&[]).b2(&[]).u32(0).0;
    r.record(0, cmd(0x151, &[key, p.handle()], Some(&[pw(b"")]), &secret));
    let (ek, _) = r.create_primary(RH_ENDORSEMENT, b"", &ecc_public(STORAGE, 3, SHA256));
    let made = r.ok(cmd(
        0x168,
        &[ek],
        None,
        &B::new().b2(b"credential secret").b2(&name).0,
    ));
    let blob = Rd(made.params(false)).rest().to_vec();
    r.record(0, cmd(0x147, &[key, ek], Some(&[pw(b""), pw(b"")]), &blob));
    let saved = r.ok(cmd(0x162, &[key], None, &[]));
    let ctx = Rd(saved.params(false)).rest().to_vec();
    r.ok(cmd(0x165, &[], None, &B::new().u32(key).0));
    r.ok(cmd(0x161, &[], None, &ctx));
    r.write(dir);

    // NV: the STCLEAR locks and the global lock until a TPM Restart, a bit field, a PIN pass
    // index used through its PIN, NV_ChangeAuth and NV_UndefineSpaceSpecial through policy
    // sessions with PolicyCommandCode, and NV_Certify without a key.
    let mut r = Rec::new("nv_locks_bits_pin_policy_certify");
    let nv_def = |by: u32, ix: u32, attrs: u32, size: u16, auth: &[u8], policy: &[u8]| {
        let public = B::new()
            .u32(ix)
            .u16(SHA256)
            .u32(attrs)
            .b2(policy)
            .u16(size)
            .0;
        cmd(
            0x12A,
            &[by],
            Some(&[pw(b"")]),
            &B::new().b2(auth).b2(&public).0,
        )
    };
    let policy_cc = |code: u32| {
        HashAlg::Sha256
            .digest(&[&[0; 32], &0x16Cu32.to_be_bytes(), &code.to_be_bytes()])
            .as_slice()
            .to_vec()
    };
    let (locks, bits, pin, admin, special) = (
        0x0150_0020,
        0x0150_0021,
        0x0150_0022,
        0x0150_0023,
        0x0140_0024,
    );
    // ownerread | ownerwrite | WRITE_STCLEAR | GLOBALLOCK | READ_STCLEAR.
    r.ok(nv_def(RH_OWNER, locks, 0x8002_C002, 8, b"", &[]));
    r.ok(cmd(
        0x137,
        &[RH_OWNER, locks],
        Some(&[pw(b"")]),
        &B::new().b2(b"12345678").u16(0).0,
    ));
    r.ok(cmd(0x138, &[RH_OWNER, locks], Some(&[pw(b"")]), &[]));
    r.ok(cmd(0x14F, &[RH_OWNER, locks], Some(&[pw(b"")]), &[]));
    r.ok(cmd(0x132, &[RH_PLATFORM], Some(&[pw(b"")]), &[]));
    r.at(
        0,
        cmd(
            0x14E,
            &[RH_OWNER, locks],
            Some(&[pw(b"")]),
            &B::new().u16(8).u16(0).0,
        ),
        0x148,
    );
    r.ok(cmd(0x145, &[], None, &[0, 1]));
    r.init();
    r.ok(cmd(0x144, &[], None, &[0, 0]));
    r.ok(cmd(
        0x184,
        &[RH_NULL, RH_OWNER, locks],
        Some(&[pw(b""), pw(b"")]),
        &B::new().b2(b"nonce").u16(NULL).u16(4).u16(2).0,
    ));
    // ownerread | ownerwrite | TPM_NT_BITS.
    r.ok(nv_def(RH_OWNER, bits, 0x0002_0022, 8, b"", &[]));
    r.ok(cmd(
        0x135,
        &[RH_OWNER, bits],
        Some(&[pw(b"")]),
        &B::new().u32(1).u32(0x8000_0001).0,
    ));
    // ownerread | ownerwrite | TPM_NT_PIN_PASS; pinCount 0, pinLimit 3.
    r.ok(nv_def(RH_OWNER, pin, 0x0002_0092, 8, b"pin", &[]));
    r.ok(cmd(
        0x137,
        &[RH_OWNER, pin],
        Some(&[pw(b"")]),
        &B::new().b2(&B::new().u32(0).u32(3).0).u16(0).0,
    ));
    r.ok(cmd(
        0x14E,
        &[pin, pin],
        Some(&[pw(b"pin")]),
        &B::new().u16(8).u16(0).0,
    ));
    // authread | authwrite, a policy for NV_ChangeAuth.
    r.ok(nv_def(
        RH_OWNER,
        admin,
        0x0004_0004,
        8,
        b"old",
        &policy_cc(0x13B),
    ));
    r.ok(start_auth_session(RH_NULL, RH_NULL, &[], 1, &sym_null()));
    r.ok(cmd(0x16C, &[POLICY_S], None, &0x13Bu32.to_be_bytes()));
    r.ok(cmd(
        0x13B,
        &[admin],
        Some(&[auth(POLICY_S, &[0x61; 16], 1, &[])]),
        &B::new().b2(b"new").0,
    ));
    // platformcreate | ppread | ppwrite | POLICY_DELETE, a policy for the special undefine.
    r.ok(nv_def(
        RH_PLATFORM,
        special,
        0x4001_0401,
        8,
        b"",
        &policy_cc(0x11F),
    ));
    r.ok(cmd(0x16C, &[POLICY_S], None, &0x11Fu32.to_be_bytes()));
    r.ok(cmd(
        0x11F,
        &[special, RH_PLATFORM],
        Some(&[auth(POLICY_S, &[0x62; 16], 0, &[]), pw(b"")]),
        &[],
    ));
    r.write(dir);
}

/// Duplication: a key made with PolicyCommandCode(Duplicate) leaves its parent (inner and
/// outer wrapper) and is imported and loaded under another; the same blob rewrapped to
/// TPM_RH_NULL; a duplicate limited by PolicyDuplicationSelect.
fn duplication_seeds(dir: &Path) {
    let mut r = Rec::new("duplicate_import_rewrap");
    let storage = ecc_public(STORAGE, 3, SHA256);
    let (src, _) = r.create_primary(RH_OWNER, b"", &storage);
    let (dst, _) = r.create_primary(RH_ENDORSEMENT, b"", &storage);
    let cc_dup = HashAlg::Sha256
        .digest(&[&[0; 32], &0x16Cu32.to_be_bytes(), &0x14Bu32.to_be_bytes()])
        .as_slice()
        .to_vec();
    // sign | sensitiveDataOrigin | userWithAuth, authPolicy = PolicyCommandCode(Duplicate).
    let mut t = ecc_public(0x0004_0060, 3, SHA256);
    t.splice(8..10, B::new().b2(&cc_dup).0);
    let (private, public) = r.create(src, b"", &[], &t);
    let (key, name) = r.load(src, &private, &public);
    r.ok(start_auth_session(RH_NULL, RH_NULL, &[], 1, &sym_null()));
    r.ok(cmd(0x16C, &[POLICY_S], None, &0x14Bu32.to_be_bytes()));
    let d = r.ok(cmd(
        0x14B,
        &[key, dst],
        Some(&[auth(POLICY_S, &[0x61; 16], 0, &[])]),
        &B::new().b2(b"").u16(AES).u16(128).u16(CFB).0,
    ));
    let mut rd = Rd(d.params(false));
    let (inner_key, dup, seed) = (
        rd.b2_whole().to_vec(),
        rd.b2_whole().to_vec(),
        rd.b2_whole().to_vec(),
    );
    let imported = r.ok(cmd(
        0x156,
        &[dst],
        Some(&[pw(b"")]),
        &B::new()
            .raw(&inner_key)
            .raw(&public)
            .raw(&dup)
            .raw(&seed)
            .u16(AES)
            .u16(128)
            .u16(CFB)
            .0,
    ));
    let out_private = Rd(imported.params(false)).b2_whole().to_vec();
    r.load(dst, &out_private, &public);
    r.ok(cmd(
        0x152,
        &[dst, RH_NULL],
        Some(&[pw(b"")]),
        &B::new().raw(&dup).b2(&name).raw(&seed).0,
    ));
    // A key whose policy is PolicyDuplicationSelect(includeObject NO, dst): its Duplicate to
    // dst passes, the same session's nameHash refuses it to TPM_RH_NULL.
    let (_, dst_public) = r.create_primary(RH_ENDORSEMENT, b"", &storage);
    let dst_name = B::new()
        .u16(SHA256)
        .raw(HashAlg::Sha256.digest(&[&dst_public]).as_slice())
        .0;
    let select = HashAlg::Sha256
        .digest(&[&[0; 32], &0x188u32.to_be_bytes(), &dst_name, &[0]])
        .as_slice()
        .to_vec();
    let mut t = ecc_public(0x0004_0060, 3, SHA256);
    t.splice(8..10, B::new().b2(&select).0);
    let (private, public) = r.create(src, b"", &[], &t);
    let (key2, name2) = r.load(src, &private, &public);
    for (parent, want) in [(RH_NULL, 0x99D), (dst, 0)] {
        r.ok(start_auth_session(RH_NULL, RH_NULL, &[], 1, &sym_null()));
        r.ok(cmd(
            0x188,
            &[POLICY_S],
            None,
            &B::new().b2(&name2).b2(&dst_name).u8(0).0,
        ));
        r.at(
            0,
            cmd(
                0x14B,
                &[key2, parent],
                Some(&[auth(POLICY_S, &[0x62; 16], 0, &[])]),
                &B::new().b2(b"").u16(NULL).0,
            ),
            want,
        );
        if want != 0 {
            r.ok(cmd(0x165, &[], None, &B::new().u32(POLICY_S).0));
        }
    }
    r.write(dir);
}

fn dictionary(execute: &[(u32, &'static str, Vec<u8>)]) -> String {
    let mut out =
        String::from("# TPM 2.0 tokens for libFuzzer -dict= (written by examples/gen_seeds.rs)\n");
    let mut put = |name: &str, bytes: &[u8]| {
        let hex: String = bytes.iter().map(|b| format!("\\x{b:02X}")).collect();
        out.push_str(&format!("{name}=\"{hex}\"\n"));
    };
    for (cc, name, _) in execute {
        put(&format!("cc_{name}"), &cc.to_be_bytes());
    }
    for (name, v) in [
        ("rs_pw", RS_PW),
        ("rh_owner", RH_OWNER),
        ("rh_null", RH_NULL),
        ("rh_lockout", RH_LOCKOUT),
        ("rh_endorsement", RH_ENDORSEMENT),
        ("rh_platform", RH_PLATFORM),
        ("transient0", T0),
        ("transient1", T1),
        ("persistent", PERSISTENT),
        ("hmac_session0", HMAC_S),
        ("policy_session0", POLICY_S),
    ] {
        put(name, &v.to_be_bytes());
    }
    for (name, v) in [
        ("tag_no_sessions", ST_NO),
        ("tag_sessions", ST_S),
        ("tk_hashcheck", 0x8024),
        ("sha256", SHA256),
        ("sha384", SHA384),
        ("sha512", SHA512),
        ("alg_null", NULL),
        ("ecdsa", ECDSA),
        ("ecdh", ECDH),
        ("ecc", ECC),
        ("keyedhash", KEYEDHASH),
        ("aes", AES),
        ("cfb", CFB),
        ("cbc", CBC),
        ("symcipher", SYMCIPHER),
        ("xor", XOR),
    ] {
        put(name, &v.to_be_bytes());
    }
    out
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let seeds = root.join("seeds");
    let exec_dir = seeds.join("execute");
    let seq_dir = seeds.join("sequence");
    for d in [&exec_dir, &seq_dir] {
        if d.exists() {
            fs::remove_dir_all(d).unwrap();
        }
        fs::create_dir_all(d).unwrap();
    }

    let execute = execute_seeds();
    for (cc, name, c) in &execute {
        let mut data = vec![0u8];
        data.extend_from_slice(c);
        fs::write(exec_dir.join(format!("{cc:03x}_{name}")), &data).unwrap();
        let mut tpm = started_tpm();
        let mut rsp = [0u8; MAX_RESPONSE_SIZE];
        let n = tpm.execute(0, c, &mut rsp);
        check_response(c, &rsp, n);
        let rc = u32::from_be_bytes(rsp[6..10].try_into().unwrap());
        println!("execute/{cc:03x}_{name:24} rc {rc:#05x}");
    }
    let pcr_extend = &execute.iter().find(|e| e.0 == 0x182).unwrap().2;
    let mut data = vec![3u8];
    data.extend_from_slice(pcr_extend);
    fs::write(exec_dir.join("locality3_PCR_Extend"), data).unwrap();

    sequence_seeds(&seq_dir, &execute);
    fs::write(root.join("tpm2.dict"), dictionary(&execute)).unwrap();

    let seeded: BTreeSet<u32> = execute.iter().map(|e| e.0).collect();
    let missing: Vec<String> = COMMANDS
        .iter()
        .map(|c| c.code.0)
        .filter(|cc| !seeded.contains(cc))
        .map(|cc| format!("{cc:#x}"))
        .collect();
    assert!(
        missing.is_empty(),
        "no execute seed for implemented command codes {}",
        missing.join(", ")
    );
}
