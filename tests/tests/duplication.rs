//! Duplication (Part 1 §23.3; Part 3 §13.1 Duplicate, §13.2 Rewrap, §13.3 Import, §23.15
//! PolicyDuplicationSelect): a key leaves one parent and is imported under another (ECC and
//! RSA parents, with and without inner and outer wrappers), a blob made outside the TPM is
//! imported, and every check answers with the reference implementation's code and position.
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
const SIGN: u32 = 0x15D;
const HMAC: u32 = 0x155;
const DUPLICATE: u32 = 0x14B;
const REWRAP: u32 = 0x152;
const IMPORT: u32 = 0x156;
const POLICY_COMMAND_CODE: u32 = 0x16C;
const POLICY_DUPLICATION_SELECT: u32 = 0x188;
const POLICY_GET_DIGEST: u32 = 0x189;
const RH_ENDORSEMENT: u32 = 0x4000_000B;

/// fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | restricted | decrypt.
const STORAGE: u32 = 0x0003_0072;
/// sensitiveDataOrigin | userWithAuth | sign: a duplicable signing key.
const SIGNER: u32 = 0x0004_0060;
const ENCRYPTED_DUPLICATION: u32 = 0x800;
const AES128CFB: [u8; 6] = [0, 6, 0, 0x80, 0, 0x43];
const NULL: [u8; 2] = [0, 0x10];
const ECDSA_SHA256: [u8; 4] = [0, 0x18, 0, 0x0B];

fn rsa_storage_template() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(0x0001u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(STORAGE.to_be_bytes());
    t.extend([0, 0]);
    t.extend(AES128CFB);
    t.extend(NULL);
    t.extend(2048u16.to_be_bytes());
    t.extend(0u32.to_be_bytes());
    t.extend([0, 0]);
    t
}

fn primary(h: &mut Harness, hierarchy: u32, template: &[u8]) -> u32 {
    let mut p = vec![0, 4, 0, 0, 0, 0];
    tpm2b(&mut p, template);
    p.extend([0, 0, 0, 0, 0, 0]);
    let r = h.ok(CREATE_PRIMARY, &[hierarchy], &[AuthCmd::pw(b"")], &p);
    u32_at(r.body(), 0)
}

fn name_of(h: &mut Harness, handle: u32) -> Vec<u8> {
    let r = h.ok(READ_PUBLIC, &[handle], &[], &[]);
    let (_, end) = tpm2b_at(r.body(), 0);
    tpm2b_at(r.body(), end).0.to_vec()
}

/// Create under `parent`: (TPM2B_PRIVATE, TPM2B_PUBLIC), both with their size fields.
fn create(h: &mut Harness, parent: u32, template: &[u8], data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut s = vec![0, 0];
    tpm2b(&mut s, data);
    let mut p = Vec::new();
    tpm2b(&mut p, &s);
    tpm2b(&mut p, template);
    p.extend([0, 0, 0, 0, 0, 0]);
    let r = h.ok(CREATE, &[parent], &[AuthCmd::pw(b"")], &p);
    let (params, _) = r.split_sessions(0);
    let (_, a) = tpm2b_at(params, 0);
    let (_, b) = tpm2b_at(params, a);
    (params[..a].to_vec(), params[a..b].to_vec())
}

fn load(h: &mut Harness, parent: u32, private: &[u8], public: &[u8]) -> Rsp {
    h.send(
        LOAD,
        &[parent],
        &[AuthCmd::pw(b"")],
        &[private, public].concat(),
    )
}

/// policyDigest of PolicyCommandCode(Duplicate) from zero.
fn cc_duplicate_policy() -> Vec<u8> {
    digest(
        SHA256,
        &[
            &[0; 32],
            &POLICY_COMMAND_CODE.to_be_bytes(),
            &DUPLICATE.to_be_bytes(),
        ],
    )
}

/// A policy session that has run PolicyCommandCode(Duplicate).
fn dup_session(h: &mut Harness) -> AuthCmd {
    let s = start_session(h, RH_NULL, b"", 1);
    h.ok(
        POLICY_COMMAND_CODE,
        &[s.handle],
        &[],
        &DUPLICATE.to_be_bytes(),
    );
    policy(s.handle)
}

fn policy(handle: u32) -> AuthCmd {
    AuthCmd {
        handle,
        nonce: vec![9; 16],
        attrs: 1,
        hmac: vec![],
    }
}

/// Duplicate parameters: encryptionKeyIn and symmetricAlg.
fn dup_params(key: &[u8], sym: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    tpm2b(&mut p, key);
    p.extend(sym);
    p
}

/// (encryptionKeyOut, duplicate, outSymSeed), each with its size field.
fn outputs(r: &Rsp, n: usize) -> Vec<Vec<u8>> {
    let (params, _) = r.split_sessions(0);
    let mut out = Vec::new();
    let mut i = 0;
    for _ in 0..n {
        let (_, end) = tpm2b_at(params, i);
        out.push(params[i..end].to_vec());
        i = end;
    }
    assert_eq!(i, params.len());
    out
}

fn import_params(key: &[u8], public: &[u8], dup: &[u8], seed: &[u8], sym: &[u8]) -> Vec<u8> {
    [key, public, dup, seed, sym].concat()
}

/// Sign a digest with the key at `key` and check the signature is accepted by VerifySignature
/// of the public area loaded on its own.
fn signs(h: &mut Harness, key: u32, public: &[u8]) {
    let mut p = Vec::new();
    tpm2b(&mut p, &[7; 32]);
    p.extend(NULL); // the key's scheme
    p.extend([0x80, 0x24, 0x40, 0, 0, 7, 0, 0]); // hashcheck ticket: NULL
    let r = h.ok(SIGN, &[key], &[AuthCmd::pw(b"")], &p);
    let (sig, _) = r.split_sessions(0);
    let mut le = vec![0, 0];
    le.extend(public);
    le.extend(RH_NULL.to_be_bytes());
    let r = h.ok(LOAD_EXTERNAL, &[], &[], &le);
    let pubh = u32_at(r.body(), 0);
    let mut v = Vec::new();
    tpm2b(&mut v, &[7; 32]);
    v.extend(sig);
    assert_eq!(h.send(0x177, &[pubh], &[], &v).rc(), 0, "VerifySignature");
}

struct World {
    h: Harness,
    old_parent: u32,
    new_parent: u32,
    key_private: Vec<u8>,
    key_public: Vec<u8>,
    key: u32,
}

/// A P-256 storage primary (AES-128-CFB) in `hierarchy`.
fn storage_primary(h: &mut Harness, hierarchy: u32) -> u32 {
    primary(
        h,
        hierarchy,
        &ecc_p256_template(STORAGE, &[], &AES128CFB, &NULL),
    )
}

/// An ECC signing key with policy PolicyCommandCode(Duplicate) under an owner storage
/// primary, and an endorsement storage primary as new parent.
fn world(attrs: u32) -> World {
    let mut h = Harness::new();
    let old_parent = storage_primary(&mut h, RH_OWNER);
    let new_parent = storage_primary(&mut h, RH_ENDORSEMENT);
    let t = ecc_p256_template(attrs, &cc_duplicate_policy(), &NULL, &ECDSA_SHA256);
    let (key_private, key_public) = create(&mut h, old_parent, &t, &[]);
    let r = load(&mut h, old_parent, &key_private, &key_public);
    assert_eq!(r.rc(), 0);
    let key = u32_at(r.body(), 0);
    World {
        h,
        old_parent,
        new_parent,
        key_private,
        key_public,
        key,
    }
}

#[test]
fn duplicate_then_import_under_another_parent_keeps_the_key() {
    for (sym, key_in) in [
        (&NULL[..], &[][..]),
        (&AES128CFB[..], &[][..]),
        (&AES128CFB[..], &[0x42; 16][..]),
    ] {
        let mut w = world(SIGNER);
        let a = dup_session(&mut w.h);
        let r = w.h.send(
            DUPLICATE,
            &[w.key, w.new_parent],
            &[a],
            &dup_params(key_in, sym),
        );
        assert_eq!(r.rc(), 0, "Duplicate {:#x}", r.rc());
        let out = outputs(&r, 3);
        // A TPM-made inner key comes back; the caller's does not.
        let expect_key = if sym == NULL || !key_in.is_empty() {
            0
        } else {
            16
        };
        assert_eq!(out[0].len(), 2 + expect_key);
        let inner_key = if key_in.is_empty() {
            out[0].clone()
        } else {
            let mut k = Vec::new();
            tpm2b(&mut k, key_in);
            k
        };
        let mut key_public = vec![];
        tpm2b(&mut key_public, &w.key_public[2..]);
        let r = w.h.send(
            IMPORT,
            &[w.new_parent],
            &[AuthCmd::pw(b"")],
            &import_params(&inner_key, &key_public, &out[1], &out[2], sym),
        );
        assert_eq!(r.rc(), 0, "Import {:#x}", r.rc());
        let (private, _) = r.split_sessions(0);
        let r = load(&mut w.h, w.new_parent, private, &w.key_public);
        assert_eq!(r.rc(), 0);
        let imported = u32_at(r.body(), 0);
        assert_eq!(name_of(&mut w.h, imported), name_of(&mut w.h, w.key));
        signs(&mut w.h, imported, &w.key_public);
        // The duplicate does not load under the old parent.
        assert_eq!(
            load(&mut w.h, w.old_parent, private, &w.key_public).rc(),
            0x1DF,
            "INTEGRITY at inPrivate"
        );
    }
}

#[test]
fn duplicate_to_null_and_rewrap_to_an_rsa_parent() {
    let mut w = world(SIGNER);
    let rsa_parent = primary(&mut w.h, RH_OWNER, &rsa_storage_template());
    // No wrapper at all: the blob is u16 size ‖ TPMT_SENSITIVE in clear.
    let a = dup_session(&mut w.h);
    let r =
        w.h.send(DUPLICATE, &[w.key, RH_NULL], &[a], &dup_params(&[], &NULL));
    assert_eq!(r.rc(), 0);
    let out = outputs(&r, 3);
    assert_eq!((out[0].len(), out[2].len()), (2, 2));
    assert_eq!(&out[1][4..6], &0x0023u16.to_be_bytes(), "sensitiveType ECC");
    // Rewrap NULL -> the RSA parent (outer wrapper with an OAEP seed), then Import there.
    let name = name_of(&mut w.h, w.key);
    let mut p = out[1].clone();
    tpm2b(&mut p, &name);
    p.extend([0, 0]);
    let r =
        w.h.send(REWRAP, &[RH_NULL, rsa_parent], &[AuthCmd::pw(b"")], &p);
    assert_eq!(r.rc(), 0, "Rewrap {:#x}", r.rc());
    let rw = outputs(&r, 2);
    assert_eq!(rw[1].len(), 2 + 256, "OAEP seed");
    // Rewrap again RSA parent -> ECC parent.
    let mut p = rw[0].clone();
    tpm2b(&mut p, &name);
    p.extend(&rw[1]);
    let r =
        w.h.send(REWRAP, &[rsa_parent, w.new_parent], &[AuthCmd::pw(b"")], &p);
    assert_eq!(r.rc(), 0, "Rewrap {:#x}", r.rc());
    let rw2 = outputs(&r, 2);
    let mut key_public = vec![];
    tpm2b(&mut key_public, &w.key_public[2..]);
    for (parent, dup, seed) in [
        (rsa_parent, &rw[0], &rw[1]),
        (w.new_parent, &rw2[0], &rw2[1]),
    ] {
        let r = w.h.send(
            IMPORT,
            &[parent],
            &[AuthCmd::pw(b"")],
            &import_params(&[0, 0], &key_public, dup, seed, &NULL),
        );
        assert_eq!(r.rc(), 0, "Import {:#x}", r.rc());
        let (private, _) = r.split_sessions(0);
        let r = load(&mut w.h, parent, private, &w.key_public);
        assert_eq!(r.rc(), 0);
        signs(&mut w.h, u32_at(r.body(), 0), &w.key_public);
    }
    // The seed does not go with the old parent handle: HANDLE at handle 1.
    let mut p = rw[0].clone();
    tpm2b(&mut p, &name);
    p.extend([0, 0]);
    let r =
        w.h.send(REWRAP, &[rsa_parent, w.new_parent], &[AuthCmd::pw(b"")], &p);
    assert_eq!(r.rc(), 0x18B);
    // A broken outer wrapper: INTEGRITY at inDuplicate.
    let mut p = rw[0].clone();
    p[10] ^= 1;
    tpm2b(&mut p, &name);
    p.extend(&rw[1]);
    let r =
        w.h.send(REWRAP, &[rsa_parent, RH_NULL], &[AuthCmd::pw(b"")], &p);
    assert_eq!(r.rc(), 0x1DF);
    // A seed the old parent cannot decrypt: VALUE at inSymSeed.
    let mut p = rw[0].clone();
    tpm2b(&mut p, &name);
    let mut bad = rw[1].clone();
    bad[5] ^= 1;
    p.extend(bad);
    let r =
        w.h.send(REWRAP, &[rsa_parent, RH_NULL], &[AuthCmd::pw(b"")], &p);
    assert_eq!(r.rc(), 0x3C4);
}

#[test]
fn duplicate_needs_a_policy_session_limited_to_duplicate() {
    let mut w = world(SIGNER);
    let p = dup_params(&[], &NULL);
    // A password (the key has userWithAuth): the DUP role takes only a policy.
    let r =
        w.h.send(DUPLICATE, &[w.key, RH_NULL], &[AuthCmd::pw(b"")], &p);
    assert_eq!(r.rc(), 0x124, "AUTH_TYPE (no position)");
    // Without sessions at all.
    let r = w.h.send(DUPLICATE, &[w.key, RH_NULL], &[], &p);
    assert_eq!(r.rc(), 0x125, "AUTH_MISSING");
    // A fresh policy session: its digest does not match, POLICY_FAIL at session 1.
    let s = start_session(&mut w.h, RH_NULL, b"", 1);
    let r =
        w.h.send(DUPLICATE, &[w.key, RH_NULL], &[policy(s.handle)], &p);
    assert_eq!(r.rc(), 0x99D, "digest mismatch: POLICY_FAIL at session 1");
    // A key whose authPolicy is the empty policy's digest (zero): no command code asserted.
    let t = ecc_p256_template(SIGNER, &[0; 32], &NULL, &ECDSA_SHA256);
    let (pr, pu) = create(&mut w.h, w.old_parent, &t, &[]);
    let k2 = u32_at(load(&mut w.h, w.old_parent, &pr, &pu).body(), 0);
    let s = start_session(&mut w.h, RH_NULL, b"", 1);
    let r = w.h.send(DUPLICATE, &[k2, RH_NULL], &[policy(s.handle)], &p);
    assert_eq!(
        r.rc(),
        0x99D,
        "no PolicyCommandCode: POLICY_FAIL at session 1"
    );
    // A key whose policy is PolicyCommandCode(Sign), used for Duplicate: POLICY_CC.
    let cc_sign = digest(
        SHA256,
        &[
            &[0; 32],
            &POLICY_COMMAND_CODE.to_be_bytes(),
            &SIGN.to_be_bytes(),
        ],
    );
    let t = ecc_p256_template(SIGNER, &cc_sign, &NULL, &ECDSA_SHA256);
    let (pr, pu) = create(&mut w.h, w.old_parent, &t, &[]);
    let k3 = u32_at(load(&mut w.h, w.old_parent, &pr, &pu).body(), 0);
    let s = start_session(&mut w.h, RH_NULL, b"", 1);
    w.h.ok(POLICY_COMMAND_CODE, &[s.handle], &[], &SIGN.to_be_bytes());
    let r = w.h.send(DUPLICATE, &[k3, RH_NULL], &[policy(s.handle)], &p);
    assert_eq!(r.rc(), 0x9A4);
    // A session run for another key's Duplicate is spent: the old key's copy stays loaded.
    assert!(!w.key_private.is_empty());
}

#[test]
fn duplicate_and_import_attribute_checks() {
    // fixedParent (and fixedTPM): ATTRIBUTES at handle 1.
    let mut w = world(SIGNER | 0x12);
    let a = dup_session(&mut w.h);
    let r = w.h.send(
        DUPLICATE,
        &[w.key, w.new_parent],
        &[a],
        &dup_params(&[], &NULL),
    );
    assert_eq!(r.rc(), 0x182);
    // Import of a fixedTPM public: ATTRIBUTES at objectPublic.
    let mut key_public = vec![];
    tpm2b(&mut key_public, &w.key_public[2..]);
    let r = w.h.send(
        IMPORT,
        &[w.new_parent],
        &[AuthCmd::pw(b"")],
        &import_params(&[0, 0], &key_public, &[0, 0], &[0, 0], &NULL),
    );
    assert_eq!(r.rc(), 0x2C2);
    // The new parent must be a storage key: TYPE at handle 2 (the key itself is a signer).
    let mut w = world(SIGNER);
    let a = dup_session(&mut w.h);
    let r =
        w.h.send(DUPLICATE, &[w.key, w.key], &[a], &dup_params(&[], &NULL));
    assert_eq!(r.rc(), 0x28A);
    // The caller's inner key of the wrong size: SIZE at parameter 1.
    let a = dup_session(&mut w.h);
    let r = w.h.send(
        DUPLICATE,
        &[w.key, w.new_parent],
        &[a],
        &dup_params(&[1; 5], &AES128CFB),
    );
    assert_eq!(r.rc(), 0x1D5);
    // encryptedDuplication: an inner wrapper (SYMMETRIC at parameter 2) and a new parent
    // (HIERARCHY at handle 2) are required.
    let mut w = world(SIGNER | ENCRYPTED_DUPLICATION);
    let a = dup_session(&mut w.h);
    let r = w.h.send(
        DUPLICATE,
        &[w.key, w.new_parent],
        &[a],
        &dup_params(&[], &NULL),
    );
    assert_eq!(r.rc(), 0x2D6);
    let a = dup_session(&mut w.h);
    let r = w.h.send(
        DUPLICATE,
        &[w.key, RH_NULL],
        &[a],
        &dup_params(&[], &AES128CFB),
    );
    assert_eq!(r.rc(), 0x285);
    let a = dup_session(&mut w.h);
    let r = w.h.send(
        DUPLICATE,
        &[w.key, w.new_parent],
        &[a],
        &dup_params(&[], &AES128CFB),
    );
    assert_eq!(r.rc(), 0);
    let out = outputs(&r, 3);
    let mut key_public = vec![];
    tpm2b(&mut key_public, &w.key_public[2..]);
    // Import without the inner wrapper: ATTRIBUTES at encryptionKey; without the outer:
    // ATTRIBUTES at inSymSeed.
    let imp = |h: &mut Harness, key: &[u8], seed: &[u8], sym: &[u8]| {
        h.send(
            IMPORT,
            &[w.new_parent],
            &[AuthCmd::pw(b"")],
            &import_params(key, &key_public, &out[1], seed, sym),
        )
        .rc()
    };
    assert_eq!(imp(&mut w.h, &[0, 0], &out[2], &NULL), 0x1C2);
    assert_eq!(imp(&mut w.h, &out[0], &[0, 0], &AES128CFB), 0x4C2);
    // A key of the wrong size for the algorithm: SIZE at encryptionKey.
    assert_eq!(imp(&mut w.h, &[0, 1, 1], &out[2], &AES128CFB), 0x1D5);
    // The wrong inner key: the inner integrity area does not decrypt (SIZE or INTEGRITY at
    // duplicate, depending on the garbage).
    let mut wrong = out[0].clone();
    wrong[3] ^= 1;
    let rc = imp(&mut w.h, &wrong, &out[2], &AES128CFB);
    assert!(rc == 0x3DF || rc == 0x3D5, "{rc:#x}");
    assert_eq!(imp(&mut w.h, &out[0], &out[2], &AES128CFB), 0);
}

#[test]
fn import_under_the_wrong_parent_or_of_a_changed_blob_fails_integrity() {
    let mut w = world(SIGNER);
    let a = dup_session(&mut w.h);
    let r = w.h.send(
        DUPLICATE,
        &[w.key, w.new_parent],
        &[a],
        &dup_params(&[], &NULL),
    );
    let out = outputs(&r, 3);
    let mut key_public = vec![];
    tpm2b(&mut key_public, &w.key_public[2..]);
    // Under the old parent: its ECDH gives another seed.
    let r = w.h.send(
        IMPORT,
        &[w.old_parent],
        &[AuthCmd::pw(b"")],
        &import_params(&[0, 0], &key_public, &out[1], &out[2], &NULL),
    );
    assert_eq!(r.rc(), 0x3DF);
    // One bit of the encrypted sensitive area changed.
    let mut dup = out[1].clone();
    let last = dup.len() - 1;
    dup[last] ^= 1;
    let r = w.h.send(
        IMPORT,
        &[w.new_parent],
        &[AuthCmd::pw(b"")],
        &import_params(&[0, 0], &key_public, &dup, &out[2], &NULL),
    );
    assert_eq!(r.rc(), 0x3DF);
    // Another public area (another Name): INTEGRITY too.
    let other = ecc_p256_template(SIGNER, &[], &NULL, &ECDSA_SHA256);
    let (_, other_pub) = create(&mut w.h, w.old_parent, &other, &[]);
    let r = w.h.send(
        IMPORT,
        &[w.new_parent],
        &[AuthCmd::pw(b"")],
        &import_params(&[0, 0], &other_pub, &out[1], &out[2], &NULL),
    );
    assert_eq!(r.rc(), 0x3DF);
    // A parent that is not a storage key: TYPE at handle 1.
    let r = w.h.send(
        IMPORT,
        &[w.key],
        &[AuthCmd::pw(b"")],
        &import_params(&[0, 0], &key_public, &out[1], &out[2], &NULL),
    );
    assert_eq!(r.rc(), 0x18A);
    // A point off the curve in inSymSeed: ECC_POINT at parameter 4.
    let mut seed = out[2].clone();
    seed[10] ^= 1;
    let r = w.h.send(
        IMPORT,
        &[w.new_parent],
        &[AuthCmd::pw(b"")],
        &import_params(&[0, 0], &key_public, &out[1], &seed, &NULL),
    );
    assert_eq!(r.rc(), 0x4E7);
}

#[test]
fn an_hmac_key_made_outside_the_tpm_imports_in_clear() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h, RH_OWNER);
    let key = [0x33u8; 32];
    let seed = [0x44u8; 32];
    // TPMT_PUBLIC keyedHash, userWithAuth | sign, HMAC(SHA-256), unique = H(seed ‖ key).
    let mut t = Vec::new();
    t.extend(0x0008u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(0x0004_0040u32.to_be_bytes());
    t.extend([0, 0]);
    t.extend([0, 5, 0, 0x0B]);
    tpm2b(&mut t, &digest(SHA256, &[&seed, &key]));
    let mut public = Vec::new();
    tpm2b(&mut public, &t);
    // u16 size ‖ TPMT_SENSITIVE: type, authValue, seedValue, key.
    let mut s = 0x0008u16.to_be_bytes().to_vec();
    tpm2b(&mut s, b"");
    tpm2b(&mut s, &seed);
    tpm2b(&mut s, &key);
    let mut blob = Vec::new();
    tpm2b(&mut blob, &s);
    let mut dup = Vec::new();
    tpm2b(&mut dup, &blob);
    let r = h.send(
        IMPORT,
        &[parent],
        &[AuthCmd::pw(b"")],
        &import_params(&[0, 0], &public, &dup, &[0, 0], &NULL),
    );
    assert_eq!(r.rc(), 0, "Import {:#x}", r.rc());
    let (private, _) = r.split_sessions(0);
    let r = load(&mut h, parent, private, &public);
    let k = u32_at(r.body(), 0);
    let mut p = Vec::new();
    tpm2b(&mut p, b"message");
    p.extend(NULL);
    let r = h.ok(HMAC, &[k], &[AuthCmd::pw(b"")], &p);
    let (out, _) = r.split_sessions(0);
    assert_eq!(&out[2..], hmac256(&key, &[b"message"]).as_slice());
    // A key that does not match unique: BINDING.
    let mut s2 = 0x0008u16.to_be_bytes().to_vec();
    tpm2b(&mut s2, b"");
    tpm2b(&mut s2, &seed);
    tpm2b(&mut s2, &[0x34; 32]);
    let mut blob = Vec::new();
    tpm2b(&mut blob, &s2);
    let mut dup = Vec::new();
    tpm2b(&mut dup, &blob);
    let r = h.send(
        IMPORT,
        &[parent],
        &[AuthCmd::pw(b"")],
        &import_params(&[0, 0], &public, &dup, &[0, 0], &NULL),
    );
    assert_eq!(r.rc(), 0xA5, "BINDING without a position (swtpm's answer)");
}

#[test]
fn policy_duplication_select_fixes_object_and_new_parent() {
    let mut h = Harness::new();
    let old_parent = storage_primary(&mut h, RH_OWNER);
    let new_parent = storage_primary(&mut h, RH_ENDORSEMENT);
    let other_parent = primary(&mut h, RH_OWNER, &rsa_storage_template());
    let np_name = name_of(&mut h, new_parent);
    // The policy (includeObject NO) computed in a trial session equals the formula.
    let select = |h: &mut Harness, s: u32, obj: &[u8], np: &[u8], include: u8| {
        let mut p = Vec::new();
        tpm2b(&mut p, obj);
        tpm2b(&mut p, np);
        p.push(include);
        h.send(POLICY_DUPLICATION_SELECT, &[s], &[], &p)
    };
    let t = start_session(&mut h, RH_NULL, b"", 3);
    assert_eq!(select(&mut h, t.handle, b"", &np_name, 0).rc(), 0);
    let r = h.ok(POLICY_GET_DIGEST, &[t.handle], &[], &[]);
    let want = digest(
        SHA256,
        &[
            &[0; 32],
            &POLICY_DUPLICATION_SELECT.to_be_bytes(),
            &np_name,
            &[0],
        ],
    );
    assert_eq!(&r.body()[2..], want.as_slice());
    let tmpl = ecc_p256_template(SIGNER, &want, &NULL, &ECDSA_SHA256);
    let (pr, pu) = create(&mut h, old_parent, &tmpl, &[]);
    let key = u32_at(load(&mut h, old_parent, &pr, &pu).body(), 0);
    let key_name = name_of(&mut h, key);
    let p = dup_params(&[], &NULL);
    // To the selected parent: accepted.
    let s = start_session(&mut h, RH_NULL, b"", 1);
    assert_eq!(select(&mut h, s.handle, &key_name, &np_name, 0).rc(), 0);
    assert_eq!(
        h.send(DUPLICATE, &[key, new_parent], &[policy(s.handle)], &p)
            .rc(),
        0
    );
    // To another parent: the nameHash does not match, POLICY_FAIL at session 1.
    let s = start_session(&mut h, RH_NULL, b"", 1);
    assert_eq!(select(&mut h, s.handle, &key_name, &np_name, 0).rc(), 0);
    let r = h.send(DUPLICATE, &[key, other_parent], &[policy(s.handle)], &p);
    assert_eq!(r.rc(), 0x99D);
    // A session asserting another parent has another digest: POLICY_FAIL too.
    let other_name = name_of(&mut h, other_parent);
    let s = start_session(&mut h, RH_NULL, b"", 1);
    assert_eq!(select(&mut h, s.handle, &key_name, &other_name, 0).rc(), 0);
    let r = h.send(DUPLICATE, &[key, other_parent], &[policy(s.handle)], &p);
    assert_eq!(r.rc(), 0x99D);
    // The session's command is Duplicate: Sign with it is POLICY_CC.
    let s = start_session(&mut h, RH_NULL, b"", 1);
    assert_eq!(select(&mut h, s.handle, &key_name, &np_name, 0).rc(), 0);
    let mut sp = Vec::new();
    tpm2b(&mut sp, &[7; 32]);
    sp.extend(NULL);
    sp.extend([0x80, 0x24, 0x40, 0, 0, 7, 0, 0]);
    assert_eq!(h.send(SIGN, &[key], &[policy(s.handle)], &sp).rc(), 0x9A4);
    // After PolicyCommandCode: COMMAND_CODE; twice: CPHASH; includeObject 2: VALUE.
    let s = start_session(&mut h, RH_NULL, b"", 1);
    h.ok(
        POLICY_COMMAND_CODE,
        &[s.handle],
        &[],
        &DUPLICATE.to_be_bytes(),
    );
    assert_eq!(select(&mut h, s.handle, &key_name, &np_name, 1).rc(), 0x143);
    let s = start_session(&mut h, RH_NULL, b"", 1);
    assert_eq!(select(&mut h, s.handle, &key_name, &np_name, 1).rc(), 0);
    assert_eq!(select(&mut h, s.handle, &key_name, &np_name, 1).rc(), 0x151);
    assert_eq!(select(&mut h, t.handle, &key_name, &np_name, 2).rc(), 0x3C4);
}

#[test]
fn an_inner_wrapper_alone_is_checked_with_the_object_name_alg() {
    let mut w = world(SIGNER);
    let a = dup_session(&mut w.h);
    let r = w.h.send(
        DUPLICATE,
        &[w.key, RH_NULL],
        &[a],
        &dup_params(&[0x24; 16], &AES128CFB),
    );
    assert_eq!(r.rc(), 0);
    let out = outputs(&r, 3);
    assert_eq!(
        (out[0].len(), out[2].len()),
        (2, 2),
        "the caller's key is not returned"
    );
    let mut key = Vec::new();
    tpm2b(&mut key, &[0x24; 16]);
    let mut key_public = vec![];
    tpm2b(&mut key_public, &w.key_public[2..]);
    let mut dup = out[1].clone();
    let last = dup.len() - 1;
    dup[last] ^= 1;
    for (blob, rc) in [(&dup, 0x3DF), (&out[1], 0)] {
        let r = w.h.send(
            IMPORT,
            &[w.new_parent],
            &[AuthCmd::pw(b"")],
            &import_params(&key, &key_public, blob, &[0, 0], &AES128CFB),
        );
        assert_eq!(r.rc(), rc);
    }
}

/// TPMT_SENSITIVE: type, authValue, seedValue, the key, then `extra` bytes.
fn sensitive(ty: u16, auth: &[u8], seed: &[u8], key: &[u8], extra: &[u8]) -> Vec<u8> {
    let mut s = ty.to_be_bytes().to_vec();
    tpm2b(&mut s, auth);
    tpm2b(&mut s, seed);
    tpm2b(&mut s, key);
    s.extend(extra);
    s
}

/// Import the TPMT_SENSITIVE `sens` of the TPM2B_PUBLIC `public` in clear (no wrapper).
fn import_clear(h: &mut Harness, parent: u32, public: &[u8], sens: &[u8]) -> u32 {
    let mut blob = Vec::new();
    tpm2b(&mut blob, sens);
    let mut dup = Vec::new();
    tpm2b(&mut dup, &blob);
    h.send(
        IMPORT,
        &[parent],
        &[AuthCmd::pw(b"")],
        &import_params(&[0, 0], public, &dup, &[0, 0], &NULL),
    )
    .rc()
}

/// TPM2B_PUBLIC of a keyed-hash object with `attrs` and `scheme`, unique = H(seed ‖ key).
fn keyed_hash_public(attrs: u32, scheme: &[u8], seed: &[u8], key: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(0x0008u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(attrs.to_be_bytes());
    t.extend([0, 0]);
    t.extend(scheme);
    tpm2b(&mut t, &digest(SHA256, &[seed, key]));
    let mut public = Vec::new();
    tpm2b(&mut public, &t);
    public
}

/// A sensitive area made outside the TPM is checked as the reference's ObjectLoad /
/// CryptValidateKeys check it, with swtpm's codes (tests/clients/duplication.py compares
/// them): the authValue and seedValue sizes, the keyed-hash key size, bytes after the
/// structure, the type, the binding.
#[test]
fn import_checks_a_sensitive_area_made_outside_as_load_would() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h, RH_OWNER);
    let hmac_key =
        |seed: &[u8], key: &[u8]| keyed_hash_public(0x0004_0040, &[0, 5, 0, 0x0B], seed, key);
    let (seed, key) = ([0x44u8; 32], [0x33u8; 32]);
    let ok = sensitive(8, b"", &seed, &key, &[]);
    assert_eq!(import_clear(&mut h, parent, &hmac_key(&seed, &key), &ok), 0);
    let cases: [(&str, Vec<u8>, Vec<u8>, u32); 8] = [
        // An authValue larger than the nameAlg digest: SIZE at duplicate.
        (
            "authValue of 33 bytes",
            hmac_key(&seed, &key),
            sensitive(8, &[1; 33], &seed, &key, &[]),
            0x3D5,
        ),
        // A seedValue not of the digest size: KEY_SIZE at duplicate (unique = H(seed ‖ key)
        // would let a short seed hide nothing).
        (
            "seedValue of 16 bytes",
            hmac_key(&seed[..16], &key),
            sensitive(8, b"", &seed[..16], &key, &[]),
            0x3C7,
        ),
        (
            "seedValue of 33 bytes",
            hmac_key(&[0x44; 33], &key),
            sensitive(8, b"", &[0x44; 33], &key, &[]),
            0x3C7,
        ),
        // Bytes after the TPMT_SENSITIVE: SIZE at duplicate.
        (
            "a byte after the structure",
            hmac_key(&seed, &key),
            sensitive(8, b"", &seed, &key, &[0]),
            0x3D5,
        ),
        // Another type: TYPE at duplicate.
        (
            "an ECC sensitive area",
            hmac_key(&seed, &key),
            sensitive(0x23, b"", &seed, &key, &[]),
            0x3CA,
        ),
        // An HMAC key longer than the hash's block size: KEY_SIZE at duplicate.
        (
            "an HMAC key of 65 bytes",
            hmac_key(&seed, &[0x33; 65]),
            sensitive(8, b"", &seed, &[0x33; 65], &[]),
            0x3C7,
        ),
        // The key does not give unique: BINDING without a position.
        (
            "another key",
            hmac_key(&seed, &key),
            sensitive(8, b"", &seed, &[0x34; 32], &[]),
            0xA5,
        ),
        // A sealed data object of 128 bytes is allowed.
        (
            "128 bytes of sealed data",
            keyed_hash_public(0x0000_0040, &NULL, &seed, &[0x11; 128]),
            sensitive(8, b"", &seed, &[0x11; 128], &[]),
            0,
        ),
    ];
    for (what, public, sens, rc) in cases {
        assert_eq!(import_clear(&mut h, parent, &public, &sens), rc, "{what}");
    }
    // Forbidden attributes (restricted, sign and decrypt) are ATTRIBUTES at objectPublic, but
    // the sensitive area is unmarshaled and its seedValue size checked first (ObjectLoad).
    let bad = |seed: &[u8]| keyed_hash_public(0x0007_0040, &[0, 5, 0, 0x0B], seed, &key);
    let ok = sensitive(8, b"", &seed, &key, &[]);
    assert_eq!(import_clear(&mut h, parent, &bad(&seed), &ok), 0x2C2);
    let long = sensitive(8, b"", &[0x44; 33], &key, &[]);
    assert_eq!(
        import_clear(&mut h, parent, &bad(&[0x44; 33]), &long),
        0x3C7
    );
    assert_eq!(import_clear(&mut h, parent, &bad(&seed), &ok[..5]), 0x3DA);
}

/// An imported storage key protects its children with keys derived from its seedValue: one
/// shorter than half the nameAlg digest is TPM_RC_SIZE at duplicate (an empty one would make
/// every child's TPM2B_PRIVATE readable by anyone). An ECC scalar of 0 or n is KEY_SIZE, one
/// that does not give the public point BINDING (both without a position); zeros in front of
/// the scalar are not significant.
#[test]
fn an_imported_storage_key_needs_a_real_seed_and_its_own_scalar() {
    let mut w = world(SIGNER);
    // A duplicable ECC storage key, duplicated in clear to learn its scalar and seed.
    let t = ecc_p256_template(0x0003_0060, &cc_duplicate_policy(), &AES128CFB, &NULL);
    let (pr, pu) = create(&mut w.h, w.old_parent, &t, &[]);
    let k = u32_at(load(&mut w.h, w.old_parent, &pr, &pu).body(), 0);
    let a = dup_session(&mut w.h);
    let r =
        w.h.send(DUPLICATE, &[k, RH_NULL], &[a], &dup_params(&[], &NULL));
    assert_eq!(r.rc(), 0);
    let out = outputs(&r, 3);
    // TPM2B(u16 size ‖ TPMT_SENSITIVE): type, authValue, seedValue, scalar.
    let s = &out[1][4..];
    assert_eq!(&s[..2], &0x0023u16.to_be_bytes());
    let (auth, i) = tpm2b_at(s, 2);
    let (seed, i) = tpm2b_at(s, i);
    let (d, _) = tpm2b_at(s, i);
    assert_eq!(seed.len(), 32);
    let imp = |h: &mut Harness, seed: &[u8], d: &[u8]| {
        import_clear(h, w.new_parent, &pu, &sensitive(0x23, auth, seed, d, &[]))
    };
    for (n, rc) in [(0, 0x3D5), (8, 0x3D5), (15, 0x3D5), (16, 0), (32, 0)] {
        assert_eq!(imp(&mut w.h, &seed[..n], d), rc, "seedValue of {n} bytes");
    }
    let mut other = d.to_vec();
    other[31] ^= 1;
    assert_eq!(imp(&mut w.h, seed, &other), 0xA5, "another scalar");
    assert_eq!(imp(&mut w.h, seed, &[0; 32]), 0x87, "scalar 0");
    let n256 = [
        0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xBC,
        0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ];
    assert_eq!(imp(&mut w.h, seed, &n256), 0x87, "scalar n");
    assert_eq!(
        imp(&mut w.h, seed, &[&[0][..], d].concat()),
        0,
        "a zero in front"
    );
    // More zeros than a P-384 scalar has room for: still the same integer (swtpm, whose
    // TPM2B_ECC_PARAMETER also holds larger curves, accepts it too).
    let long = [&[0; 17][..], d].concat();
    assert_eq!(imp(&mut w.h, seed, &long), 0, "17 zeros in front");
}

/// With includeObject NO the policy does not name the object, but the session's nameHash
/// does: a session selected for one key does not authorize Duplicate of another key with the
/// same authPolicy.
#[test]
fn a_duplication_select_session_for_one_key_does_not_duplicate_another() {
    let mut w = world(SIGNER);
    let np_name = name_of(&mut w.h, w.new_parent);
    let want = digest(
        SHA256,
        &[
            &[0; 32],
            &POLICY_DUPLICATION_SELECT.to_be_bytes(),
            &np_name,
            &[0],
        ],
    );
    let tmpl = ecc_p256_template(SIGNER, &want, &NULL, &ECDSA_SHA256);
    let mut keys = Vec::new();
    for _ in 0..2 {
        let (pr, pu) = create(&mut w.h, w.old_parent, &tmpl, &[]);
        keys.push(u32_at(load(&mut w.h, w.old_parent, &pr, &pu).body(), 0));
    }
    let first = name_of(&mut w.h, keys[0]);
    let p = dup_params(&[], &NULL);
    let select = |h: &mut Harness| {
        let s = start_session(h, RH_NULL, b"", 1);
        let mut sp = Vec::new();
        tpm2b(&mut sp, &first);
        tpm2b(&mut sp, &np_name);
        sp.push(0);
        h.ok(POLICY_DUPLICATION_SELECT, &[s.handle], &[], &sp);
        policy(s.handle)
    };
    let a = select(&mut w.h);
    let r = w.h.send(DUPLICATE, &[keys[1], w.new_parent], &[a], &p);
    assert_eq!(
        r.rc(),
        0x99D,
        "nameHash of another object: POLICY_FAIL at session 1"
    );
    let a = select(&mut w.h);
    assert_eq!(
        w.h.send(DUPLICATE, &[keys[0], w.new_parent], &[a], &p).rc(),
        0
    );
}

/// Under a parent that is not fixedTPM, Import leaves the attribute checks to Load (as the
/// reference does): a restricted HMAC key that both signs and decrypts imports, but its
/// TPM2B_PRIVATE does not load (ATTRIBUTES at inPublic); under a fixedTPM parent Import
/// refuses it at once (ATTRIBUTES at objectPublic).
#[test]
fn load_checks_what_import_under_a_movable_parent_did_not() {
    let mut w = world(SIGNER);
    // A duplicable storage key (fixedTPM and fixedParent CLEAR) as the parent.
    let t = ecc_p256_template(0x0003_0060, &[], &AES128CFB, &NULL);
    let (pr, pu) = create(&mut w.h, w.old_parent, &t, &[]);
    let movable = u32_at(load(&mut w.h, w.old_parent, &pr, &pu).body(), 0);
    let (seed, key) = ([0x44u8; 32], [0x33u8; 32]);
    // userWithAuth | restricted | sign | decrypt, HMAC SHA-256.
    let public = keyed_hash_public(0x0007_0040, &[0, 5, 0, 0x0B], &seed, &key);
    let sens = sensitive(8, b"", &seed, &key, &[]);
    assert_eq!(import_clear(&mut w.h, w.new_parent, &public, &sens), 0x2C2);
    let mut blob = Vec::new();
    tpm2b(&mut blob, &sens);
    let mut dup = Vec::new();
    tpm2b(&mut dup, &blob);
    let r = w.h.send(
        IMPORT,
        &[movable],
        &[AuthCmd::pw(b"")],
        &import_params(&[0, 0], &public, &dup, &[0, 0], &NULL),
    );
    assert_eq!(r.rc(), 0, "Import under a movable parent {:#x}", r.rc());
    let (private, _) = r.split_sessions(0);
    assert_eq!(load(&mut w.h, movable, private, &public).rc(), 0x2C2);
}

/// The public point's coordinates are integers: a public area made outside with fewer (or
/// more) leading zeros than the curve size imports, as on swtpm. d = 379 gives an x with a
/// leading zero byte.
#[test]
fn an_ecc_public_point_with_a_short_coordinate_imports() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h, RH_OWNER);
    let x = hex("005543894af3d00ed7d740abdbd75c96b06877b787db5f70eea78b90a8d7c00a");
    let y = hex("bb4c85a3d8ea29efaafa24406912dd84d5b14dc32bf656ef6c6bd58a5d943f92");
    let mut d = vec![0u8; 30];
    d.extend(379u16.to_be_bytes());
    let public = |x: &[u8]| {
        let mut t = ecc_p256_template(SIGNER, &[], &NULL, &ECDSA_SHA256);
        t.truncate(t.len() - 4);
        tpm2b(&mut t, x);
        tpm2b(&mut t, &y);
        let mut p = Vec::new();
        tpm2b(&mut p, &t);
        p
    };
    let sens = sensitive(0x23, b"", b"", &d, &[]);
    for (what, xs) in [
        ("32 bytes", x.clone()),
        ("31 bytes", x[1..].to_vec()),
        ("33 bytes", [&[0][..], &x].concat()),
    ] {
        assert_eq!(
            import_clear(&mut h, parent, &public(&xs), &sens),
            0,
            "x of {what}"
        );
    }
    let mut other = x[1..].to_vec();
    other[30] ^= 1;
    assert_eq!(import_clear(&mut h, parent, &public(&other), &sens), 0xA5);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// fixedTPM only under a fixedTPM chain: under a movable (duplicable) storage key, a child
/// cannot claim fixedTPM (ATTRIBUTES at inPublic); a fixedParent child there is made but does
/// not leave its parent on its own (Duplicate: ATTRIBUTES at handle 1).
#[test]
fn no_fixed_tpm_child_under_a_movable_parent() {
    let mut w = world(SIGNER);
    let t = ecc_p256_template(0x0003_0060, &[], &AES128CFB, &NULL);
    let (pr, pu) = create(&mut w.h, w.old_parent, &t, &[]);
    let movable = u32_at(load(&mut w.h, w.old_parent, &pr, &pu).body(), 0);
    let claim = ecc_p256_template(SIGNER | 0x12, &cc_duplicate_policy(), &NULL, &ECDSA_SHA256);
    let mut p = vec![0, 4, 0, 0, 0, 0];
    tpm2b(&mut p, &claim);
    p.extend([0, 0, 0, 0, 0, 0]);
    let r = w.h.send(CREATE, &[movable], &[AuthCmd::pw(b"")], &p);
    assert_eq!(r.rc(), 0x2C2, "fixedTPM under a movable parent");
    let child = ecc_p256_template(SIGNER | 0x10, &cc_duplicate_policy(), &NULL, &ECDSA_SHA256);
    let (cpr, cpu) = create(&mut w.h, movable, &child, &[]);
    let c = u32_at(load(&mut w.h, movable, &cpr, &cpu).body(), 0);
    let a = dup_session(&mut w.h);
    let r =
        w.h.send(DUPLICATE, &[c, w.new_parent], &[a], &dup_params(&[], &NULL));
    assert_eq!(r.rc(), 0x182);
}

/// The DUP role takes a policy session only: an HMAC session with the right HMAC over the
/// key's (empty) authValue is TPM_RC_AUTH_TYPE, as a password is (Part 1 §19.2).
#[test]
fn duplicate_refuses_an_hmac_session() {
    let mut w = world(SIGNER);
    let p = dup_params(&[], &NULL);
    let key_name = name_of(&mut w.h, w.key);
    let np_name = name_of(&mut w.h, w.new_parent);
    let s = start_session(&mut w.h, RH_NULL, b"", 0);
    let a = s.auth(DUPLICATE, &[&key_name, &np_name], &p, b"", 1);
    let r = w.h.send(DUPLICATE, &[w.key, w.new_parent], &[a], &p);
    assert_eq!(r.rc(), 0x124);
    // The same session authorizes Sign (USER role, userWithAuth): the HMAC itself was right.
    let mut sp = Vec::new();
    tpm2b(&mut sp, &[7; 32]);
    sp.extend(NULL);
    sp.extend([0x80, 0x24, 0x40, 0, 0, 7, 0, 0]);
    let a = s.auth(SIGN, &[&key_name], &sp, b"", 1);
    assert_eq!(w.h.send(SIGN, &[w.key], &[a], &sp).rc(), 0);
}
