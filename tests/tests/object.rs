//! ECC objects: CreatePrimary derivation, attribute checks, signing, quotes and contexts.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use vtpm_tests::*;

const CREATE_PRIMARY: u32 = 0x131;
const READ_PUBLIC: u32 = 0x173;
const SIGN: u32 = 0x15D;
const QUOTE: u32 = 0x158;
const CONTEXT_SAVE: u32 = 0x162;
const CONTEXT_LOAD: u32 = 0x161;
const RH_ENDORSEMENT: u32 = 0x4000_000B;

/// An ECC template: nameAlg SHA-256, the given attributes, symmetric, scheme and curve.
fn ecc_template(attrs: u32, sym: &[u8], scheme: &[u8], curve: u16) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(0x0023u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(attrs.to_be_bytes());
    t.extend([0, 0]); // authPolicy
    t.extend(sym);
    t.extend(scheme);
    t.extend(curve.to_be_bytes());
    t.extend(0x0010u16.to_be_bytes()); // kdf NULL
    t.extend([0, 0, 0, 0]); // unique x, y empty
    t
}

const STORAGE: u32 = 0x0003_0072; // fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|restricted|decrypt
const AK: u32 = 0x0005_0072; // ... restricted|sign
const AES128CFB: [u8; 6] = [0, 6, 0, 0x80, 0, 0x43];
const NULL: [u8; 2] = [0, 0x10];

fn create_primary(h: &mut Harness, hierarchy: u32, template: &[u8]) -> Rsp {
    let mut p = Vec::new();
    p.extend([0, 4, 0, 0, 0, 0]); // inSensitive: empty userAuth and data
    tpm2b(&mut p, template);
    p.extend([0, 0]); // outsideInfo
    p.extend(0u32.to_be_bytes()); // creationPCR
    h.send(CREATE_PRIMARY, &[hierarchy], &[AuthCmd::pw(b"")], &p)
}

/// (handle, TPM2B_PUBLIC contents, name) of a successful CreatePrimary.
fn primary(h: &mut Harness, hierarchy: u32, template: &[u8]) -> (u32, Vec<u8>, Vec<u8>) {
    let r = create_primary(h, hierarchy, template);
    assert_eq!(r.rc(), 0, "CreatePrimary {:#x}", r.rc());
    let handle = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
    let (params, _) = r.split_sessions(1);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    let public = params[2..2 + n].to_vec();
    // Skip creationData, creationHash, creationTicket; the name is last.
    let mut rest = &params[2 + n..];
    for _ in 0..2 {
        let m = u16::from_be_bytes(rest[..2].try_into().unwrap()) as usize;
        rest = &rest[2 + m..];
    }
    assert_eq!(&rest[..2], &0x8021u16.to_be_bytes(), "creation ticket tag");
    let m = u16::from_be_bytes(rest[6..8].try_into().unwrap()) as usize;
    rest = &rest[8 + m..];
    let name = rest[2..].to_vec();
    assert_eq!(name[..2], SHA256.to_be_bytes());
    assert_eq!(
        &name[2..],
        digest(SHA256, &[&public]).as_slice(),
        "Name = nameAlg ‖ H(public)"
    );
    (handle, public, name)
}

#[test]
fn primaries_are_deterministic_within_a_boot_and_the_null_seed_changes_on_reset() {
    let mut h = Harness::new();
    let t = ecc_template(STORAGE, &AES128CFB, &NULL, 4);
    let (h1, pub1, name1) = primary(&mut h, RH_OWNER, &t);
    let (h2, pub2, name2) = primary(&mut h, RH_OWNER, &t);
    assert_ne!(h1, h2);
    assert_eq!((pub1.clone(), name1), (pub2, name2));
    // unique x, y are 48-byte coordinates for P-384.
    assert_eq!(
        &pub1[pub1.len() - 100..pub1.len() - 98],
        &48u16.to_be_bytes()
    );
    let (_, pub_e, _) = primary(&mut h, RH_ENDORSEMENT, &t);
    assert_ne!(pub1, pub_e);
    let (_, null1, _) = primary(&mut h, RH_NULL, &t);
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &[0, 0]);
    let (_, pub3, _) = primary(&mut h, RH_OWNER, &t);
    let (_, null2, _) = primary(&mut h, RH_NULL, &t);
    assert_eq!(pub1, pub3, "the storage seed lives as long as the TPM");
    assert_ne!(null1, null2, "the null seed is new at every TPM Reset");
    // ReadPublic returns the same area.
    let r = h.ok(READ_PUBLIC, &[0x8000_0000 + 1], &[], &[]);
    assert!(r.body().len() > pub3.len());
}

#[test]
fn template_errors_are_reported_at_the_public_parameter() {
    let mut h = Harness::new();
    // A restricted signing key with a symmetric algorithm: SYMMETRIC at parameter 2.
    let t = ecc_template(AK, &AES128CFB, &[0, 0x18, 0, 0x0B], 3);
    assert_eq!(create_primary(&mut h, RH_OWNER, &t).rc(), 0x2D6);
    // Restricted with sign and decrypt both set: ATTRIBUTES.
    let t = ecc_template(0x0007_0072, &NULL, &NULL, 3);
    assert_eq!(create_primary(&mut h, RH_OWNER, &t).rc(), 0x2C2);
    // Unrestricted sign + decrypt with a signing scheme: SCHEME.
    let t = ecc_template(0x0006_0072, &NULL, &[0, 0x18, 0, 0x0B], 3);
    assert_eq!(create_primary(&mut h, RH_OWNER, &t).rc(), 0x2D2);
    // fixedTPM without fixedParent: ATTRIBUTES.
    let t = ecc_template(STORAGE & !0x10, &AES128CFB, &NULL, 3);
    assert_eq!(create_primary(&mut h, RH_OWNER, &t).rc(), 0x2C2);
    // A restricted signing key without a scheme: SCHEME.
    let t = ecc_template(AK, &NULL, &NULL, 3);
    assert_eq!(create_primary(&mut h, RH_OWNER, &t).rc(), 0x2D2);
    // P-521 is not implemented: CURVE.
    let t = ecc_template(STORAGE, &AES128CFB, &NULL, 5);
    assert_eq!(create_primary(&mut h, RH_OWNER, &t).rc(), 0x2E6);
    // A type that is no object type (TPM_ALG_AES): TYPE.
    let mut t = ecc_template(STORAGE, &AES128CFB, &NULL, 3);
    t[1] = 0x06;
    assert_eq!(create_primary(&mut h, RH_OWNER, &t).rc(), 0x2CA);
    // An RSA template with the ECC parameters: keyBits 3 is TPM_RC_VALUE (TPMI_RSA_KEY_BITS).
    t[1] = 0x01;
    assert_eq!(create_primary(&mut h, RH_OWNER, &t).rc(), 0x2C4);
    // Nothing was loaded by the failures.
    let p = [
        1u32.to_be_bytes(),
        0x8000_0000u32.to_be_bytes(),
        16u32.to_be_bytes(),
    ]
    .concat();
    let r = h.ok(cc::GET_CAPABILITY, &[], &[], &p);
    assert_eq!(&r.body()[5..9], &0u32.to_be_bytes());
}

#[test]
fn restricted_keys_sign_only_with_a_ticket_and_quotes_carry_the_pcr_digest() {
    let mut h = Harness::new();
    let t = ecc_template(AK, &NULL, &[0, 0x18, 0, 0x0C], 4);
    let (ak, _, _) = primary(&mut h, RH_ENDORSEMENT, &t);
    // Sign a digest the TPM did not hash: TICKET at parameter 3.
    let d = digest(SHA384, &[b"data"]);
    let mut p = Vec::new();
    tpm2b(&mut p, &d);
    p.extend(NULL);
    p.extend([0x80, 0x24, 0x40, 0, 0, 7, 0, 0]);
    assert_eq!(h.send(SIGN, &[ak], &[AuthCmd::pw(b"")], &p).rc(), 0x3E0);
    // With the ticket from TPM2_Hash in the endorsement hierarchy it signs.
    let mut hp = Vec::new();
    tpm2b(&mut hp, b"data");
    hp.extend(SHA384.to_be_bytes());
    hp.extend(RH_ENDORSEMENT.to_be_bytes());
    let r = h.ok(cc::HASH, &[], &[], &hp);
    let ticket = r.body()[50..].to_vec();
    let mut p = Vec::new();
    tpm2b(&mut p, &d);
    p.extend(NULL);
    p.extend(&ticket);
    let r = h.ok(SIGN, &[ak], &[AuthCmd::pw(b"")], &p);
    let (sig, _) = r.split_sessions(0);
    assert_eq!(&sig[..4], &[0, 0x18, 0, 0x0C]);
    // A key with a fixed SHA-384 scheme refuses SHA-256: SCHEME at parameter 2.
    let mut q = Vec::new();
    tpm2b(&mut q, b"nonce");
    q.extend([0, 0x18, 0, 0x0B]);
    q.extend(0u32.to_be_bytes());
    assert_eq!(h.send(QUOTE, &[ak], &[AuthCmd::pw(b"")], &q).rc(), 0x2D2);
    // Quote PCR 16 of both banks after an extend.
    let ext = digest(SHA256, &[b"m"]);
    h.ok(
        cc::PCR_EXTEND,
        &[16],
        &[AuthCmd::pw(b"")],
        &digest_values(&[(SHA256, &ext)]),
    );
    let mut q = Vec::new();
    tpm2b(&mut q, b"nonce");
    q.extend(NULL);
    q.extend(2u32.to_be_bytes());
    q.extend([0, 0x0B, 3, 0, 0, 1, 0, 0x0C, 3, 0, 0, 1]);
    let r = h.ok(QUOTE, &[ak], &[AuthCmd::pw(b"")], &q);
    let (params, _) = r.split_sessions(0);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    let attest = &params[2..2 + n];
    assert_eq!(&attest[..6], &[0xFF, 0x54, 0x43, 0x47, 0x80, 0x18]);
    let pcr_digest = digest(SHA384, &[&h.pcr(SHA256, 16), &h.pcr(SHA384, 16)]);
    assert_eq!(
        &attest[n - 48..],
        pcr_digest.as_slice(),
        "pcrDigest = H(selected PCRs)"
    );
    assert!(attest.windows(5).any(|w| w == b"nonce"), "extraData");
}

#[test]
fn contexts_round_trip_and_refuse_tampering_and_reset() {
    let mut h = Harness::new();
    let t = ecc_template(STORAGE, &AES128CFB, &NULL, 3);
    let (key, public, _) = primary(&mut h, RH_NULL, &t);
    let ctx = h.ok(CONTEXT_SAVE, &[key], &[], &[]).body().to_vec();
    assert!(ctx.len() < 1024, "context blob {} bytes", ctx.len());
    h.ok(cc::FLUSH_CONTEXT, &[], &[], &key.to_be_bytes());
    let r = h.ok(CONTEXT_LOAD, &[], &[], &ctx);
    let again = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
    let rp = h.ok(READ_PUBLIC, &[again], &[], &[]);
    assert_eq!(&rp.body()[2..2 + public.len()], public.as_slice());
    // Any flipped byte in the blob: INTEGRITY at parameter 1 (or SIZE if it hits a size).
    for i in [20, ctx.len() / 2, ctx.len() - 1] {
        let mut bad = ctx.clone();
        bad[i] ^= 1;
        let rc = h.send(CONTEXT_LOAD, &[], &[], &bad).rc();
        assert!(rc == 0x1DF || rc == 0x1D5, "byte {i}: {rc:#x}");
    }
    // A null-hierarchy context dies with the TPM Reset.
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &[0, 0]);
    assert_eq!(h.send(CONTEXT_LOAD, &[], &[], &ctx).rc(), 0x1DF);
}

/// The integrity digest heading the context blob is unmarshaled as a TPM2B_DIGEST whose error
/// comes back without a parameter number; a digest of another size than the context hash is
/// TPM_RC_SIZE at parameter 1 (the reference's TPM2_ContextLoad; libtpms answers the same).
#[test]
fn context_load_reports_the_integrity_digest_like_the_reference() {
    let mut h = Harness::new();
    let t = ecc_template(STORAGE, &AES128CFB, &NULL, 3);
    let (key, _, _) = primary(&mut h, RH_NULL, &t);
    let ctx = h.ok(CONTEXT_SAVE, &[key], &[], &[]).body().to_vec();
    let with_blob = |blob: &[u8]| {
        let mut c = ctx[..16].to_vec();
        c.extend((blob.len() as u16).to_be_bytes());
        c.extend(blob);
        c
    };
    let blob = &ctx[18..];
    // The digest's size field above sizeof(TPMU_HA): TPM_RC_SIZE, no parameter number.
    let mut b = blob.to_vec();
    b[..2].copy_from_slice(&0x5C5Cu16.to_be_bytes());
    assert_eq!(h.send(CONTEXT_LOAD, &[], &[], &with_blob(&b)).rc(), 0x095);
    // The blob ends inside the digest: TPM_RC_INSUFFICIENT.
    assert_eq!(
        h.send(CONTEXT_LOAD, &[], &[], &with_blob(&blob[..1])).rc(),
        0x09A
    );
    assert_eq!(
        h.send(CONTEXT_LOAD, &[], &[], &with_blob(&blob[..20])).rc(),
        0x09A
    );
    // A 47-byte digest (SHA-384 is 48): TPM_RC_SIZE at parameter 1.
    let mut b = blob.to_vec();
    b[..2].copy_from_slice(&47u16.to_be_bytes());
    assert_eq!(h.send(CONTEXT_LOAD, &[], &[], &with_blob(&b)).rc(), 0x1D5);
    // Untouched, it still loads.
    h.ok(cc::FLUSH_CONTEXT, &[], &[], &key.to_be_bytes());
    assert_eq!(h.send(CONTEXT_LOAD, &[], &[], &with_blob(blob)).rc(), 0);
}

/// RFC 6979 A.2.5: a P-256 key pair.
const RFC6979_X: &str = "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721";
const RFC6979_UX: &str = "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6";
const RFC6979_UY: &str = "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[test]
fn load_external_with_a_private_key_only_in_the_null_hierarchy() {
    let mut h = Harness::new();
    // An unrestricted ECDSA-SHA256 signing key with the RFC 6979 public point.
    let mut t = Vec::new();
    t.extend(0x0023u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(0x0004_0040u32.to_be_bytes()); // sign | userWithAuth
    t.extend([0, 0]);
    t.extend(NULL);
    t.extend([0, 0x18, 0, 0x0B]);
    t.extend(3u16.to_be_bytes());
    t.extend(NULL);
    tpm2b(&mut t, &unhex(RFC6979_UX));
    tpm2b(&mut t, &unhex(RFC6979_UY));
    let sensitive = |d: &[u8]| {
        let mut s = Vec::new();
        s.extend(0x0023u16.to_be_bytes());
        tpm2b(&mut s, b"");
        tpm2b(&mut s, b"");
        tpm2b(&mut s, d);
        let mut out = Vec::new();
        tpm2b(&mut out, &s);
        out
    };
    let load = |h: &mut Harness, private: &[u8], hierarchy: u32| {
        let mut p = private.to_vec();
        tpm2b(&mut p, &t);
        p.extend(hierarchy.to_be_bytes());
        h.send(0x167, &[], &[], &p)
    };
    let good = sensitive(&unhex(RFC6979_X));
    assert_eq!(
        load(&mut h, &good, RH_OWNER).rc(),
        0x3C5,
        "HIERARCHY at parameter 3"
    );
    // A scalar that does not make the public point: TPM_RC_BINDING without a position, and
    // one outside [1, n - 1]: TPM_RC_KEY_SIZE without a position (the reference's
    // CryptValidateKeys; libtpms answers the same).
    let mut wrong = unhex(RFC6979_X);
    wrong[31] ^= 1;
    assert_eq!(
        load(&mut h, &sensitive(&wrong), RH_NULL).rc(),
        0x0A5,
        "BINDING"
    );
    assert_eq!(
        load(&mut h, &sensitive(&[0; 32]), RH_NULL).rc(),
        0x087,
        "KEY_SIZE"
    );
    let r = load(&mut h, &good, RH_NULL);
    assert_eq!(r.rc(), 0);
    let key = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
    // It signs, and its own signature verifies.
    let d = digest(SHA256, &[b"sample"]);
    let mut p = Vec::new();
    tpm2b(&mut p, &d);
    p.extend(NULL);
    p.extend([0x80, 0x24, 0x40, 0, 0, 7, 0, 0]);
    let r = h.ok(SIGN, &[key], &[AuthCmd::pw(b"")], &p);
    let (sig, _) = r.split_sessions(0);
    let mut v = Vec::new();
    tpm2b(&mut v, &d);
    v.extend(sig);
    h.ok(0x177, &[key], &[], &v);
    // A changed digest does not verify: SIGNATURE at parameter 2.
    v[2] ^= 1;
    assert_eq!(h.send(0x177, &[key], &[], &v).rc(), 0x2DB);
}

#[test]
fn tpm_state_stays_small() {
    let size = core::mem::size_of::<vtpm::Tpm<host_sim::SimPlatform>>();
    println!("size_of::<Tpm<SimPlatform>>() = {size} bytes");
    // 16 KiB of it is the NV pool; the rest objects, sessions, PCR banks and hierarchy state.
    assert!(size < 56 * 1024, "TPM state is {size} bytes");
}

/// Create a child under `parent`; returns (TPM2B_PRIVATE, TPM2B_PUBLIC) as sent back.
fn create_child(h: &mut Harness, parent: u32, t: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut p = vec![0, 4, 0, 0, 0, 0];
    tpm2b(&mut p, t);
    p.extend([0, 0, 0, 0, 0, 0]);
    let r = h.ok(0x153, &[parent], &[AuthCmd::pw(b"")], &p);
    let (params, _) = r.split_sessions(0);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    let m = u16::from_be_bytes(params[2 + n..4 + n].try_into().unwrap()) as usize;
    (params[..2 + n].to_vec(), params[2 + n..4 + n + m].to_vec())
}

#[test]
fn load_refuses_tampered_blobs_and_the_wrong_parent() {
    let mut h = Harness::new();
    let storage = ecc_template(STORAGE, &AES128CFB, &NULL, 3);
    let (parent, _, _) = primary(&mut h, RH_OWNER, &storage);
    let (other, _, _) = primary(&mut h, RH_ENDORSEMENT, &storage);
    let signer = ecc_template(0x0004_0072, &NULL, &[0, 0x18, 0, 0x0B], 3);
    let (private, public) = create_child(&mut h, parent, &signer);
    let load = |h: &mut Harness, parent: u32, private: &[u8]| {
        let p = [private, &public[..]].concat();
        h.send(0x157, &[parent], &[AuthCmd::pw(b"")], &p)
    };
    let before = getcap_handles(&mut h);
    // Every byte of the encrypted part and of the integrity value matters.
    for i in [4, 20, private.len() / 2, private.len() - 1] {
        let mut bad = private.clone();
        bad[i] ^= 0x80;
        assert_eq!(
            load(&mut h, parent, &bad).rc(),
            0x1DF,
            "byte {i}: INTEGRITY at parameter 1"
        );
    }
    // Under another storage key the blob does not authenticate either.
    assert_eq!(load(&mut h, other, &private).rc(), 0x1DF);
    // A signing key is no parent: TYPE at handle 1.
    let (signer_key, _, _) = primary(&mut h, RH_OWNER, &signer);
    assert_eq!(load(&mut h, signer_key, &private).rc(), 0x18A);
    assert_eq!(
        getcap_handles(&mut h).len(),
        before.len() + 1,
        "only the signer was added"
    );
    assert_eq!(load(&mut h, parent, &private).rc(), 0);
}

#[test]
fn external_points_must_be_on_the_curve() {
    let mut h = Harness::new();
    let mut t = ecc_template(0x0004_0040, &NULL, &[0, 0x18, 0, 0x0B], 3);
    t.truncate(t.len() - 4);
    tpm2b(&mut t, &[1; 32]);
    tpm2b(&mut t, &[2; 32]);
    let mut p = vec![0, 0];
    tpm2b(&mut p, &t);
    p.extend(RH_NULL.to_be_bytes());
    assert_eq!(
        h.send(0x167, &[], &[], &p).rc(),
        0x2E7,
        "ECC_POINT at parameter 2"
    );
}

fn getcap_handles(h: &mut Harness) -> Vec<u32> {
    let p = [
        1u32.to_be_bytes(),
        0x8000_0000u32.to_be_bytes(),
        64u32.to_be_bytes(),
    ]
    .concat();
    let r = h.ok(cc::GET_CAPABILITY, &[], &[], &p);
    let b = r.body();
    let n = u32::from_be_bytes(b[5..9].try_into().unwrap()) as usize;
    (0..n)
        .map(|i| u32::from_be_bytes(b[9 + 4 * i..13 + 4 * i].try_into().unwrap()))
        .collect()
}

#[test]
fn create_loaded_under_a_hierarchy_is_a_primary() {
    let mut h = Harness::new();
    let t = ecc_template(STORAGE, &AES128CFB, &NULL, 4);
    let (_, public, name) = primary(&mut h, RH_OWNER, &t);
    let mut p = vec![0, 4, 0, 0, 0, 0];
    tpm2b(&mut p, &t);
    let r = h.ok(0x191, &[RH_OWNER], &[AuthCmd::pw(b"")], &p);
    let (params, _) = r.split_sessions(1);
    assert_eq!(&params[..2], &[0, 0], "no private part for a primary");
    let n = u16::from_be_bytes(params[2..4].try_into().unwrap()) as usize;
    assert_eq!(
        &params[4..4 + n],
        public.as_slice(),
        "the same key as CreatePrimary"
    );
    assert_eq!(&params[6 + n..], name.as_slice());
}

#[test]
fn ecdh_keygen_and_zgen_agree() {
    let mut h = Harness::new();
    // An unrestricted ECDH decryption key, P-256.
    let t = ecc_template(0x0002_0072, &NULL, &[0, 0x19, 0, 0x0B], 3);
    let (key, _, _) = primary(&mut h, RH_OWNER, &t);
    // KeyGen: Z = d_e·Q_key and Q_e.
    let r = h.ok(0x163, &[key], &[], &[]);
    let b = r.body();
    let zlen = u16::from_be_bytes(b[0..2].try_into().unwrap()) as usize;
    let z_point = b[2..2 + zlen].to_vec();
    let q_e = b[2 + zlen + 2..].to_vec();
    // ZGen with Q_e: d_key·Q_e must be the same point.
    let mut p = Vec::new();
    tpm2b(&mut p, &q_e);
    let r = h.ok(0x154, &[key], &[AuthCmd::pw(b"")], &p);
    let (params, _) = r.split_sessions(0);
    assert_eq!(&params[2..], z_point.as_slice());
    // A point off the curve: ECC_POINT at parameter 1.
    let mut bad = q_e.clone();
    bad[5] ^= 1;
    let mut p = Vec::new();
    tpm2b(&mut p, &bad);
    assert_eq!(h.send(0x154, &[key], &[AuthCmd::pw(b"")], &p).rc(), 0x1E7);
    // A signing key cannot do ECDH_ZGen: ATTRIBUTES at handle 1.
    let s = ecc_template(0x0004_0072, &NULL, &[0, 0x18, 0, 0x0B], 3);
    let (signer, _, _) = primary(&mut h, RH_OWNER, &s);
    let mut p = Vec::new();
    tpm2b(&mut p, &q_e);
    assert_eq!(
        h.send(0x154, &[signer], &[AuthCmd::pw(b"")], &p).rc(),
        0x182
    );
}

/// A keyed-hash signing key with the caller's key bytes: nameAlg SHA-256, HMAC-SHA256 scheme,
/// userWithAuth | sign (sensitiveDataOrigin clear: the data is the key).
fn hmac_key_template() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(0x0008u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(0x0004_0052u32.to_be_bytes()); // fixedTPM | fixedParent | userWithAuth | sign
    t.extend([0, 0]);
    t.extend([0, 5, 0, 0x0B]); // HMAC, SHA-256
    t.extend([0, 0]);
    t
}

#[test]
fn hmac_keys_sign_and_verify_signatures() {
    let mut h = Harness::new();
    let key_bytes = [0x6Bu8; 32];
    let mut p = Vec::new();
    let mut sens = Vec::new();
    tpm2b(&mut sens, b"");
    tpm2b(&mut sens, &key_bytes);
    tpm2b(&mut p, &sens);
    tpm2b(&mut p, &hmac_key_template());
    p.extend([0, 0, 0, 0, 0, 0]);
    let r = h.ok(CREATE_PRIMARY, &[RH_OWNER], &[AuthCmd::pw(b"")], &p);
    let key = u32::from_be_bytes(r.body()[..4].try_into().unwrap());

    let digest = digest(SHA256, &[b"data"]);
    let mut s = Vec::new();
    tpm2b(&mut s, &digest);
    s.extend([0, 0x10]); // the key's scheme
    s.extend([0x80, 0x24, 0x40, 0, 0, 7, 0, 0]);
    let r = h.ok(SIGN, &[key], &[AuthCmd::pw(b"")], &s);
    let (sig, _) = r.split_sessions(0);
    // TPMT_SIGNATURE: HMAC ‖ SHA-256 ‖ the 32-byte HMAC of the digest under the key.
    assert_eq!(&sig[..4], &[0, 5, 0, 0x0B]);
    assert_eq!(&sig[4..], hmac256(&key_bytes, &[&digest]).as_slice());

    let verify = |h: &mut Harness, sig: &[u8]| {
        let mut v = Vec::new();
        tpm2b(&mut v, &digest);
        v.extend(sig);
        h.send(0x177, &[key], &[], &v)
    };
    let r = verify(&mut h, sig);
    assert_eq!(r.rc(), 0, "VerifySignature {:#x}", r.rc());
    assert_eq!(
        &r.body()[..2],
        &0x8022u16.to_be_bytes(),
        "a TPMT_TK_VERIFIED"
    );
    let mut bad = sig.to_vec();
    bad[10] ^= 1;
    assert_eq!(
        verify(&mut h, &bad).rc(),
        0x09B + 0x040 + 0x200,
        "SIGNATURE at parameter 2"
    );
    // An ECDSA scheme for an HMAC key: SCHEME at parameter 2.
    s.truncate(2 + 32);
    s.extend([0, 0x18, 0, 0x0B, 0x80, 0x24, 0x40, 0, 0, 7, 0, 0]);
    assert_eq!(
        h.send(SIGN, &[key], &[AuthCmd::pw(b"")], &s).rc(),
        0x092 + 0x040 + 0x200
    );
}

const ECC_PARAMETERS: u32 = 0x178;
/// swtpm 0.7.1's TPM2_ECC_Parameters(TPM_ECC_NIST_P256): TPMS_ALGORITHM_DETAIL_ECC.
const SWTPM_P256_DETAIL: &str = "000301000020000b00100020ffffffff00000001000000000000000000000000ffffffffffffffffffffffff0020ffffffff00000001000000000000000000000000fffffffffffffffffffffffc00205ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b00206b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c29600204fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f50020ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551000101";
/// swtpm 0.7.1's TPM2_ECC_Parameters(TPM_ECC_NIST_P384).
const SWTPM_P384_DETAIL: &str = "000401800020000c00100030fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff0030fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffc0030b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef0030aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab700303617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f0030ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973000101";

/// TPM2_ECC_Parameters (Part 3 §14.6): the TPMS_ALGORITHM_DETAIL_ECC of P-256 and P-384 equals
/// swtpm's byte for byte (kdf KDF1_SP800_56A with the curve's hash, sign NULL, p, a, b, G, n,
/// h = 1); the P-384 generator also equals the p384 crate's; other curves are TPM_RC_CURVE at
/// parameter 1 and a trailing byte TPM_RC_SIZE, as on swtpm.
#[test]
fn ecc_parameters_answer_as_swtpm() {
    use p384::elliptic_curve::sec1::ToSec1Point;
    let mut h = Harness::new();
    let r = h.ok(ECC_PARAMETERS, &[], &[], &3u16.to_be_bytes());
    assert_eq!(r.body(), &unhex(SWTPM_P256_DETAIL)[..]);
    let r = h.ok(ECC_PARAMETERS, &[], &[], &4u16.to_be_bytes());
    assert_eq!(r.body(), &unhex(SWTPM_P384_DETAIL)[..]);
    let g = p384::AffinePoint::GENERATOR.to_sec1_point(false);
    // curveID, keySize, kdf (2 + 2), sign (2), then p, a, b as TPM2Bs of 48 bytes.
    let gx = 2 + 2 + 4 + 2 + 3 * 50;
    assert_eq!(&r.body()[gx..gx + 2], &[0, 48]);
    assert_eq!(&r.body()[gx + 2..gx + 50], &g.x().unwrap()[..]);
    assert_eq!(&r.body()[gx + 52..gx + 100], &g.y().unwrap()[..]);
    for curve in [0x0000u16, 0x0005, 0x0010, 0x0777] {
        let rc = h.send(ECC_PARAMETERS, &[], &[], &curve.to_be_bytes()).rc();
        assert_eq!(rc, 0x1E6, "curve {curve:#06x}: CURVE at parameter 1");
    }
    assert_eq!(h.send(ECC_PARAMETERS, &[], &[], &[0, 3, 0]).rc(), 0x095);
    assert_eq!(
        h.send(ECC_PARAMETERS, &[], &[], &[0]).rc(),
        0x1DA,
        "INSUFFICIENT"
    );
}
