//! Symmetric cipher keys (TPM_ALG_SYMCIPHER) and TPM2_EncryptDecrypt / EncryptDecrypt2: keys
//! created, derived, loaded from outside with a known key (checked against the NIST SP 800-38A
//! vectors in every mode), used as storage parents and saved as contexts, and every error code
//! of the commands in its position.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use vtpm_tests::*;

const CREATE_PRIMARY: u32 = 0x131;
const CREATE: u32 = 0x153;
const LOAD: u32 = 0x157;
const LOAD_EXTERNAL: u32 = 0x167;
const READ_PUBLIC: u32 = 0x173;
const CONTEXT_SAVE: u32 = 0x162;
const CONTEXT_LOAD: u32 = 0x161;
const CREATE_LOADED: u32 = 0x191;
const SIGN: u32 = 0x15D;
const TEST_PARMS: u32 = 0x18A;
const ENCRYPT_DECRYPT: u32 = 0x164;
const ENCRYPT_DECRYPT2: u32 = 0x193;

const SYMCIPHER: u16 = 0x0025;
const AES: u16 = 0x0006;
const NULL: u16 = 0x0010;
const CTR: u16 = 0x0040;
const OFB: u16 = 0x0041;
const CBC: u16 = 0x0042;
const CFB: u16 = 0x0043;
const ECB: u16 = 0x0044;

/// fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth, plus decrypt and sign.
const SYM_KEY: u32 = 0x0006_0072;
/// A storage parent: restricted | decrypt.
const SYM_STORAGE: u32 = 0x0003_0072;

const TPM_RC_VALUE: u32 = 0x084;
const TPM_RC_ATTRIBUTES: u32 = 0x082;
const TPM_RC_MODE: u32 = 0x089;
const TPM_RC_SIZE: u32 = 0x095;
const TPM_RC_KEY: u32 = 0x09C;
const TPM_RC_KEY_SIZE: u32 = 0x087;
const TPM_RC_BINDING: u32 = 0x0A5;
const TPM_RC_SYMMETRIC: u32 = 0x096;
const RC_P: u32 = 0x040;
const fn p(n: u32) -> u32 {
    RC_P + (n << 8)
}
const RC_H1: u32 = 0x100;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// TPMT_PUBLIC of a symmetric cipher key: nameAlg SHA-256, `attrs`, AES-`bits` in `mode`.
fn sym_template(attrs: u32, bits: u16, mode: u16, unique: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(SYMCIPHER.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(attrs.to_be_bytes());
    t.extend([0, 0]);
    t.extend(AES.to_be_bytes());
    t.extend(bits.to_be_bytes());
    t.extend(mode.to_be_bytes());
    tpm2b(&mut t, unique);
    t
}

/// An ECDSA P-256 signing key's template (a child of the symmetric storage parent).
fn ecc_signer() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(0x0023u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(0x0004_0072u32.to_be_bytes());
    t.extend([0, 0]);
    t.extend(NULL.to_be_bytes());
    t.extend(0x0018u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(0x0003u16.to_be_bytes());
    t.extend(NULL.to_be_bytes());
    t.extend([0, 0, 0, 0]);
    t
}

fn sensitive_create(data: &[u8]) -> Vec<u8> {
    let mut inner = Vec::new();
    tpm2b(&mut inner, b"");
    tpm2b(&mut inner, data);
    let mut p = Vec::new();
    tpm2b(&mut p, &inner);
    p
}

fn create_primary(h: &mut Harness, template: &[u8], data: &[u8]) -> Rsp {
    let mut p = sensitive_create(data);
    tpm2b(&mut p, template);
    p.extend([0, 0]);
    p.extend(0u32.to_be_bytes());
    h.send(CREATE_PRIMARY, &[RH_OWNER], &[AuthCmd::pw(b"")], &p)
}

/// (handle, TPMT_PUBLIC) of a successful CreatePrimary.
fn primary(h: &mut Harness, template: &[u8]) -> (u32, Vec<u8>) {
    let r = create_primary(h, template, b"");
    assert_eq!(r.rc(), 0, "CreatePrimary {:#x}", r.rc());
    let handle = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
    let (params, _) = r.split_sessions(1);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    (handle, params[2..2 + n].to_vec())
}

fn create(h: &mut Harness, parent: u32, template: &[u8], data: &[u8]) -> Rsp {
    let mut p = sensitive_create(data);
    tpm2b(&mut p, template);
    p.extend([0, 0]);
    p.extend(0u32.to_be_bytes());
    h.send(CREATE, &[parent], &[AuthCmd::pw(b"")], &p)
}

/// (TPM2B_PRIVATE, TPM2B_PUBLIC) of a successful Create.
fn created(h: &mut Harness, parent: u32, template: &[u8], data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let r = create(h, parent, template, data);
    assert_eq!(r.rc(), 0, "Create {:#x}", r.rc());
    let (params, _) = r.split_sessions(0);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    let private = params[..2 + n].to_vec();
    let m = u16::from_be_bytes(params[2 + n..4 + n].try_into().unwrap()) as usize;
    (private, params[2 + n..4 + n + m].to_vec())
}

fn load(h: &mut Harness, parent: u32, private: &[u8], public: &[u8]) -> u32 {
    let mut p = private.to_vec();
    p.extend(public);
    let r = h.send(LOAD, &[parent], &[AuthCmd::pw(b"")], &p);
    assert_eq!(r.rc(), 0, "Load {:#x}", r.rc());
    u32::from_be_bytes(r.body()[..4].try_into().unwrap())
}

/// TPM2B_SENSITIVE of a symmetric key.
fn sym_sensitive(seed: &[u8], key: &[u8]) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend(SYMCIPHER.to_be_bytes());
    tpm2b(&mut s, b"");
    tpm2b(&mut s, seed);
    tpm2b(&mut s, key);
    let mut out = Vec::new();
    tpm2b(&mut out, &s);
    out
}

fn load_external(h: &mut Harness, sensitive: &[u8], public: &[u8]) -> Rsp {
    let mut p = sensitive.to_vec();
    tpm2b(&mut p, public);
    p.extend(RH_NULL.to_be_bytes());
    h.send(LOAD_EXTERNAL, &[], &[], &p)
}

/// A known AES key loaded with LoadExternal: its handle.
fn known_key(h: &mut Harness, attrs: u32, key: &[u8], mode: u16) -> u32 {
    let seed = [0x5Au8; 32];
    let unique = digest(SHA256, &[&seed, key]);
    let t = sym_template(attrs, (key.len() * 8) as u16, mode, &unique);
    let r = load_external(h, &sym_sensitive(&seed, key), &t);
    assert_eq!(r.rc(), 0, "LoadExternal {:#x}", r.rc());
    u32::from_be_bytes(r.body()[..4].try_into().unwrap())
}

/// TPM2_EncryptDecrypt (two = false) or EncryptDecrypt2: the response.
fn enc_dec(
    h: &mut Harness,
    two: bool,
    key: u32,
    decrypt: u8,
    mode: u16,
    iv: &[u8],
    data: &[u8],
) -> Rsp {
    let mut p = Vec::new();
    if two {
        tpm2b(&mut p, data);
    }
    p.push(decrypt);
    p.extend(mode.to_be_bytes());
    tpm2b(&mut p, iv);
    if !two {
        tpm2b(&mut p, data);
    }
    h.send(
        if two {
            ENCRYPT_DECRYPT2
        } else {
            ENCRYPT_DECRYPT
        },
        &[key],
        &[AuthCmd::pw(b"")],
        &p,
    )
}

/// (outData, ivOut) of a successful call.
fn run(
    h: &mut Harness,
    two: bool,
    key: u32,
    decrypt: bool,
    mode: u16,
    iv: &[u8],
    data: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let r = enc_dec(h, two, key, decrypt as u8, mode, iv, data);
    assert_eq!(
        r.rc(),
        0,
        "EncryptDecrypt{} {mode:#x}: {:#x}",
        if two { "2" } else { "" },
        r.rc()
    );
    let (params, _) = r.split_sessions(0);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    let out = params[2..2 + n].to_vec();
    let m = u16::from_be_bytes(params[2 + n..4 + n].try_into().unwrap()) as usize;
    assert_eq!(params.len(), 4 + n + m);
    (out, params[4 + n..].to_vec())
}

const KEY128: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const KEY256: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
const IV: &str = "000102030405060708090a0b0c0d0e0f";
const CTR_IV: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
const PLAIN: &str = concat!(
    "6bc1bee22e409f96e93d7e117393172a",
    "ae2d8a571e03ac9c9eb76fac45af8e51",
    "30c81c46a35ce411e5fbc1191a0a52ef",
    "f69f2445df4f9b17ad2b417be66c3710"
);

/// NIST SP 800-38A F.1-F.5 (AES-128 and AES-256): (mode, key, iv, ciphertext).
fn vectors() -> Vec<(u16, &'static str, &'static str, &'static str)> {
    vec![
        (
            ECB,
            KEY128,
            "",
            "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4",
        ),
        (
            CBC,
            KEY128,
            IV,
            "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b273bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
        ),
        (
            CFB,
            KEY128,
            IV,
            "3b3fd92eb72dad20333449f8e83cfb4ac8a64537a0b3a93fcde3cdad9f1ce58b26751f67a3cbb140b1808cf187a4f4dfc04b05357c5d1c0eeac4c66f9ff7f2e6",
        ),
        (
            OFB,
            KEY128,
            IV,
            "3b3fd92eb72dad20333449f8e83cfb4a7789508d16918f03f53c52dac54ed8259740051e9c5fecf64344f7a82260edcc304c6528f659c77866a510d9c1d6ae5e",
        ),
        (
            CTR,
            KEY128,
            CTR_IV,
            "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
        ),
        (
            ECB,
            KEY256,
            "",
            "f3eed1bdb5d2a03c064b5a7e3db181f8591ccb10d410ed26dc5ba74a31362870b6ed21b99ca6f4f9f153e7b1beafed1d23304b7a39f9f3ff067d8d8f9e24ecc7",
        ),
        (
            CBC,
            KEY256,
            IV,
            "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
        ),
        (
            OFB,
            KEY256,
            IV,
            "dc7e84bfda79164b7ecd8486985d38604febdc6740d20b3ac88f6ad82a4fb08d71ab47a086e86eedf39d1c5bba97c4080126141d67f37be8538f5a8be740e484",
        ),
        (
            CTR,
            KEY256,
            CTR_IV,
            "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c52b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6",
        ),
    ]
}

#[test]
fn known_keys_match_sp800_38a_in_every_mode_with_chaining_values() {
    let mut h = Harness::new();
    let plain = hex(PLAIN);
    for (mode, key_hex, iv_hex, cipher_hex) in vectors() {
        let key_bytes = hex(key_hex);
        let cipher = hex(cipher_hex);
        let iv = hex(iv_hex);
        for (two, key_mode) in [(false, mode), (true, NULL), (false, NULL), (true, mode)] {
            let key = known_key(&mut h, SYM_KEY & !0x32, &key_bytes, key_mode);
            let cmd_mode = if key_mode == NULL { mode } else { NULL };
            let (out, iv_out) = run(&mut h, two, key, false, cmd_mode, &iv, &plain);
            assert_eq!(out, cipher, "{mode:#x} two={two}");
            // ivOut: what the next call continues from.
            let last = &cipher[48..];
            let expect: Vec<u8> = match mode {
                ECB => vec![],
                CBC | CFB => last.to_vec(),
                OFB => last.iter().zip(&plain[48..]).map(|(c, p)| c ^ p).collect(),
                _ => (u128::from_be_bytes(iv[..].try_into().unwrap()) + 4)
                    .to_be_bytes()
                    .to_vec(),
            };
            assert_eq!(iv_out, expect, "{mode:#x} ivOut");
            // Two calls chained through ivOut give the one-call result.
            let (a, iv1) = run(&mut h, two, key, false, cmd_mode, &iv, &plain[..32]);
            let iv1 = if mode == ECB { vec![] } else { iv1 };
            let (b, _) = run(&mut h, two, key, false, cmd_mode, &iv1, &plain[32..]);
            assert_eq!([a, b].concat(), cipher);
            let (back, iv_back) = run(&mut h, two, key, true, cmd_mode, &iv, &cipher);
            assert_eq!(back, plain);
            assert_eq!(iv_back, expect, "{mode:#x} decrypt ivOut");
            h.ok(0x165, &[], &[], &key.to_be_bytes());
        }
    }
    // Stream modes take any length; CFB's ivOut pads a partial last block with zeros.
    let key = known_key(&mut h, SYM_KEY & !0x32, &hex(KEY128), CFB);
    let (out, iv_out) = run(&mut h, false, key, false, NULL, &hex(IV), &plain[..20]);
    let full = hex(vectors()[2].3);
    assert_eq!(out, full[..20]);
    assert_eq!(iv_out, [&full[16..20], &[0u8; 12][..]].concat());
    // Empty data: nothing out, the IV back.
    let (out, iv_out) = run(&mut h, false, key, false, NULL, &hex(IV), &[]);
    assert!(out.is_empty());
    assert_eq!(iv_out, hex(IV));
}

#[test]
fn created_and_derived_keys_round_trip_and_survive_contexts() {
    let mut h = Harness::new();
    let plain: Vec<u8> = (0..100u8).collect();
    let iv = [9u8; 16];
    for bits in [128u16, 256] {
        // Derived primaries: the same template gives the same key (same ciphertext).
        let t = sym_template(SYM_KEY, bits, CFB, b"");
        let (k1, pub1) = primary(&mut h, &t);
        let (k2, pub2) = primary(&mut h, &t);
        assert_eq!(pub1, pub2);
        assert_eq!(
            &pub1[pub1.len() - 34..pub1.len() - 32],
            &[0, 32],
            "unique: a SHA-256 digest"
        );
        let (c1, _) = run(&mut h, false, k1, false, NULL, &iv, &plain);
        let (c2, _) = run(&mut h, true, k2, false, CFB, &iv, &plain);
        assert_eq!(c1, c2);
        assert_ne!(c1, plain);
        assert_eq!(run(&mut h, false, k2, true, NULL, &iv, &c1).0, plain);
        let r = h.ok(READ_PUBLIC, &[k1], &[], &[]);
        assert_eq!(&r.body()[2..2 + pub1.len()], &pub1[..]);

        // A storage parent made of a symmetric key: a child signer created, loaded and used;
        // a symmetric child created with caller's key bytes under it.
        let (parent, _) = primary(&mut h, &sym_template(SYM_STORAGE, bits, CFB, b""));
        let (private, public) = created(&mut h, parent, &ecc_signer(), b"");
        let child = load(&mut h, parent, &private, &public);
        let mut sp = Vec::new();
        tpm2b(&mut sp, &[7u8; 32]);
        sp.extend([0x00, 0x10, 0x80, 0x24, 0x40, 0, 0, 7, 0, 0]);
        assert_eq!(h.send(SIGN, &[child], &[AuthCmd::pw(b"")], &sp).rc(), 0);

        let key_bytes = vec![0x11u8; bits as usize / 8];
        let (private, public) = created(
            &mut h,
            parent,
            &sym_template(SYM_KEY & !0x20, bits, NULL, b""),
            &key_bytes,
        );
        let k = load(&mut h, parent, &private, &public);
        let known = known_key(&mut h, SYM_KEY & !0x32, &key_bytes, NULL);
        let (c, iv_c) = run(&mut h, false, k, false, CBC, &iv, &plain[..96]);
        assert_eq!(
            run(&mut h, false, known, false, CBC, &iv, &plain[..96]),
            (c.clone(), iv_c)
        );
        // A random key under the parent, through a context save and load.
        let (private, public) =
            created(&mut h, parent, &sym_template(SYM_KEY, bits, OFB, b""), b"");
        let k = load(&mut h, parent, &private, &public);
        let (c, _) = run(&mut h, false, k, false, NULL, &iv, &plain);
        let ctx = h.ok(CONTEXT_SAVE, &[k], &[], &[]).body().to_vec();
        h.ok(0x165, &[], &[], &k.to_be_bytes());
        let r = h.ok(CONTEXT_LOAD, &[], &[], &ctx);
        let k = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
        assert_eq!(run(&mut h, false, k, true, NULL, &iv, &c).0, plain);

        // CreateLoaded of a symmetric key under the parent.
        let mut p = sensitive_create(b"");
        tpm2b(&mut p, &sym_template(SYM_KEY, bits, CTR, b""));
        let r = h.send(CREATE_LOADED, &[parent], &[AuthCmd::pw(b"")], &p);
        assert_eq!(r.rc(), 0, "CreateLoaded {:#x}", r.rc());
        let k = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
        let (c, _) = run(&mut h, false, k, false, NULL, &iv, &plain);
        assert_eq!(run(&mut h, false, k, true, NULL, &iv, &c).0, plain);
        for handle in [k1, k2, parent, child, known, k] {
            h.ok(0x165, &[], &[], &handle.to_be_bytes());
        }
    }
}

#[test]
fn encrypt_decrypt_errors_in_the_reference_order_and_positions() {
    let mut h = Harness::new();
    let key = known_key(&mut h, SYM_KEY & !0x32, &hex(KEY128), CBC);
    let null_mode = known_key(&mut h, SYM_KEY & !0x32, &hex(KEY128), NULL);
    let iv = [0u8; 16];
    let b32 = [0u8; 32];
    for two in [false, true] {
        // Parameter numbers: (decrypt, mode, ivIn, inData).
        let [pd, pm, pi, pdata] = if two { [2, 3, 4, 1] } else { [1, 2, 3, 4] };
        let rc = |h: &mut Harness, k: u32, d: u8, m: u16, iv: &[u8], data: &[u8]| {
            enc_dec(h, two, k, d, m, iv, data).rc()
        };
        assert_eq!(rc(&mut h, key, 2, NULL, &iv, &b32), TPM_RC_VALUE + p(pd));
        assert_eq!(rc(&mut h, key, 0, 0x45, &iv, &b32), TPM_RC_MODE + p(pm));
        assert_eq!(rc(&mut h, key, 0, AES, &iv, &b32), TPM_RC_MODE + p(pm));
        assert_eq!(
            rc(&mut h, key, 0, NULL, &[0; 17], &b32),
            TPM_RC_SIZE + p(pi)
        );
        assert_eq!(
            rc(&mut h, key, 0, NULL, &iv, &[0; 1025]),
            TPM_RC_SIZE + p(pdata)
        );
        // The key's mode and another in the command; no mode at all.
        assert_eq!(rc(&mut h, key, 0, CFB, &iv, &b32), TPM_RC_MODE + p(pm));
        assert_eq!(
            rc(&mut h, null_mode, 0, NULL, &iv, &b32),
            TPM_RC_MODE + p(pm)
        );
        // IV sizes: one block, none for ECB.
        assert_eq!(
            rc(&mut h, key, 0, NULL, &iv[..8], &b32),
            TPM_RC_SIZE + p(pi)
        );
        assert_eq!(rc(&mut h, key, 0, NULL, &[], &b32), TPM_RC_SIZE + p(pi));
        assert_eq!(
            rc(&mut h, null_mode, 0, ECB, &iv, &b32),
            TPM_RC_SIZE + p(pi)
        );
        assert_eq!(rc(&mut h, null_mode, 0, ECB, &[], &b32), 0);
        // CBC and ECB: whole blocks only; the stream modes any length.
        assert_eq!(
            rc(&mut h, key, 0, NULL, &iv, &[0; 17]),
            TPM_RC_SIZE + p(pdata)
        );
        assert_eq!(
            rc(&mut h, null_mode, 1, ECB, &[], &[0; 15]),
            TPM_RC_SIZE + p(pdata)
        );
        for m in [CFB, OFB, CTR] {
            assert_eq!(rc(&mut h, null_mode, 0, m, &iv, &[0; 17]), 0);
        }
    }
    // Attributes: encryption needs sign, decryption decrypt; restricted keys refuse both.
    let enc_only = known_key(&mut h, 0x0004_0040, &hex(KEY128), CFB);
    let dec_only = known_key(&mut h, 0x0002_0040, &hex(KEY128), CFB);
    for two in [false, true] {
        assert_eq!(enc_dec(&mut h, two, enc_only, 0, NULL, &iv, &b32).rc(), 0);
        assert_eq!(
            enc_dec(&mut h, two, enc_only, 1, NULL, &iv, &b32).rc(),
            TPM_RC_ATTRIBUTES + RC_H1
        );
        assert_eq!(enc_dec(&mut h, two, dec_only, 1, NULL, &iv, &b32).rc(), 0);
        assert_eq!(
            enc_dec(&mut h, two, dec_only, 0, NULL, &iv, &b32).rc(),
            TPM_RC_ATTRIBUTES + RC_H1
        );
        // The attribute check comes before the mode's.
        assert_eq!(
            enc_dec(&mut h, two, dec_only, 0, CBC, &iv, &b32).rc(),
            TPM_RC_ATTRIBUTES + RC_H1
        );
    }
    let (storage, _) = primary(&mut h, &sym_template(SYM_STORAGE, 128, CFB, b""));
    assert_eq!(
        enc_dec(&mut h, false, storage, 1, NULL, &iv, &b32).rc(),
        TPM_RC_ATTRIBUTES + RC_H1
    );
    // Not a symmetric key.
    let (ecc, _) = primary(&mut h, &ecc_signer());
    assert_eq!(
        enc_dec(&mut h, true, ecc, 0, CFB, &iv, &b32).rc(),
        TPM_RC_KEY + RC_H1
    );
}

#[test]
fn symmetric_key_creation_and_loading_errors() {
    let mut h = Harness::new();
    // Template rules: neither sign nor decrypt; restricted sign and decrypt; TestParms.
    for (attrs, rc) in [
        (0x0000_0072, TPM_RC_ATTRIBUTES + p(2)),
        (0x0007_0072, TPM_RC_ATTRIBUTES + p(2)),
    ] {
        assert_eq!(
            create_primary(&mut h, &sym_template(attrs, 128, CFB, b""), b"").rc(),
            rc
        );
    }
    for (bits, mode, rc) in [
        (192u16, CFB, TPM_RC_VALUE + p(1)),
        (128, 0x45, TPM_RC_MODE + p(1)),
        (128, NULL, 0),
        (256, ECB, 0),
    ] {
        let mut parms = Vec::new();
        parms.extend(SYMCIPHER.to_be_bytes());
        parms.extend(AES.to_be_bytes());
        parms.extend(bits.to_be_bytes());
        parms.extend(mode.to_be_bytes());
        assert_eq!(
            h.send(TEST_PARMS, &[], &[], &parms).rc(),
            rc,
            "{bits} {mode:#x}"
        );
    }
    let mut parms = Vec::new();
    parms.extend(SYMCIPHER.to_be_bytes());
    parms.extend(NULL.to_be_bytes());
    assert_eq!(
        h.send(TEST_PARMS, &[], &[], &parms).rc(),
        TPM_RC_SYMMETRIC + p(1)
    );

    // The caller's key must be exactly keyBits / 8 bytes.
    let (parent, _) = primary(&mut h, &sym_template(SYM_STORAGE, 128, CFB, b""));
    assert_eq!(
        create(
            &mut h,
            parent,
            &sym_template(SYM_KEY & !0x20, 128, CFB, b""),
            &[1; 15]
        )
        .rc(),
        TPM_RC_KEY_SIZE
    );
    assert_eq!(
        create_primary(
            &mut h,
            &sym_template(SYM_KEY & !0x20, 256, CFB, b""),
            &[1; 16]
        )
        .rc(),
        TPM_RC_KEY_SIZE
    );
    // A restricted symmetric key with a caller's key must be duplicable.
    assert_eq!(
        create(
            &mut h,
            parent,
            &sym_template(SYM_STORAGE & !0x20, 128, CFB, b""),
            &[1; 16]
        )
        .rc(),
        TPM_RC_ATTRIBUTES + p(2)
    );
    // A fixedParent storage child must have its parent's symmetric definition.
    assert_eq!(
        create(
            &mut h,
            parent,
            &sym_template(SYM_STORAGE, 256, CFB, b""),
            b""
        )
        .rc(),
        TPM_RC_SYMMETRIC + p(2)
    );
    assert_eq!(
        create(
            &mut h,
            parent,
            &sym_template(SYM_STORAGE, 128, CBC, b""),
            b""
        )
        .rc(),
        TPM_RC_SYMMETRIC + p(2)
    );

    // LoadExternal with a sensitive area: key and seed sizes, then the binding.
    let seed = [3u8; 32];
    let key = [4u8; 16];
    let unique = digest(SHA256, &[&seed, &key]);
    let t = sym_template(SYM_KEY & !0x32, 128, CFB, &unique);
    assert_eq!(
        load_external(&mut h, &sym_sensitive(&seed, &key[..15]), &t).rc(),
        TPM_RC_KEY_SIZE + p(1)
    );
    assert_eq!(
        load_external(&mut h, &sym_sensitive(&seed[..31], &key), &t).rc(),
        TPM_RC_KEY_SIZE + p(1)
    );
    assert_eq!(
        load_external(&mut h, &sym_sensitive(&seed, &[5u8; 16]), &t).rc(),
        TPM_RC_BINDING
    );
    // A public area alone: its unique field must be a nameAlg digest.
    let mut empty = vec![0, 0];
    assert_eq!(
        load_external(
            &mut h,
            &empty,
            &sym_template(SYM_KEY & !0x32, 128, CFB, &[1; 20])
        )
        .rc(),
        TPM_RC_KEY + p(2)
    );
    empty.clear();
    empty.extend([0, 0]);
    let r = load_external(&mut h, &empty, &t);
    assert_eq!(r.rc(), 0);
}
