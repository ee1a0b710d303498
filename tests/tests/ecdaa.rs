//! TPM2_Commit (Part 3 §19.2) and ECDAA signing (Part 1 §C.4): with a P-256 key whose private
//! scalar d the test knows (TPM2_LoadExternal), Commit's K = [d]B is recomputed with the p256
//! crate, and the ECDAA signature (n, s) of TPM2_Sign must satisfy the verification equations
//! [s]M = E + [T]([d]M), [s]B = L + [T]K and, without points, [s]G = E + [T]Q, with
//! T = SHA-256(n ‖ digest) mod n. Also the commit counter's one use and the error codes.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::panic
)]

use p256::elliptic_curve::ff::PrimeField;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{AffinePoint, FieldBytes, ProjectivePoint, PublicKey, Scalar};
use sha2::{Digest, Sha256};
use vtpm_tests::*;

const LOAD_EXTERNAL: u32 = 0x167;
const COMMIT: u32 = 0x18B;
const SIGN: u32 = 0x15D;
const VERIFY_SIGNATURE: u32 = 0x177;
const ECDAA: u16 = 0x001A;
const ECDSA: u16 = 0x0018;
const NULL: u16 = 0x0010;

/// The test's private key.
const D: [u8; 32] = [
    0x1d, 0x2c, 0x3b, 0x4a, 0x59, 0x68, 0x77, 0x86, 0x95, 0xa4, 0xb3, 0xc2, 0xd1, 0xe0, 0x0f, 0x1e,
    0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0, 0x01, 0x12,
];

fn scalar(b: &[u8]) -> Scalar {
    let mut fb = FieldBytes::default();
    fb[32 - b.len()..].copy_from_slice(b);
    Option::from(Scalar::from_repr(fb)).unwrap()
}

fn point(xy: &[u8]) -> ProjectivePoint {
    PublicKey::from_sec1_bytes(&[&[4u8][..], xy].concat())
        .unwrap()
        .to_projective()
}

fn xy(p: &ProjectivePoint) -> Vec<u8> {
    AffinePoint::from(*p).to_sec1_point(false).as_bytes()[1..].to_vec()
}

/// Load the key d with `scheme` (ECDAA-SHA256 with count 0, or ECDSA-SHA256) in the null
/// hierarchy: sign | userWithAuth.
fn load(h: &mut Harness, scheme: u16) -> u32 {
    let q = xy(&(ProjectivePoint::GENERATOR * scalar(&D)));
    let mut t = Vec::new();
    t.extend(0x0023u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(0x0004_0040u32.to_be_bytes());
    t.extend([0, 0]);
    t.extend(NULL.to_be_bytes());
    t.extend(scheme.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    if scheme == ECDAA {
        t.extend([0, 0]);
    }
    t.extend(3u16.to_be_bytes());
    t.extend(NULL.to_be_bytes());
    tpm2b(&mut t, &q[..32]);
    tpm2b(&mut t, &q[32..]);
    let mut s = Vec::new();
    s.extend(0x0023u16.to_be_bytes());
    tpm2b(&mut s, b"");
    tpm2b(&mut s, b"");
    tpm2b(&mut s, &D);
    let mut p = Vec::new();
    tpm2b(&mut p, &s);
    tpm2b(&mut p, &t);
    p.extend(RH_NULL.to_be_bytes());
    let r = h.send(LOAD_EXTERNAL, &[], &[], &p);
    assert_eq!(r.rc(), 0, "LoadExternal {:#x}", r.rc());
    u32::from_be_bytes(r.body()[..4].try_into().unwrap())
}

/// TPM2B_ECC_POINT of x ‖ y (an empty point has two empty coordinates).
fn point_2b(p: &mut Vec<u8>, xy: &[u8]) {
    let (x, y) = xy.split_at(xy.len() / 2);
    let mut inner = Vec::new();
    tpm2b(&mut inner, x);
    tpm2b(&mut inner, y);
    tpm2b(p, &inner);
}

fn commit(h: &mut Harness, key: u32, p1: &[u8], s2: &[u8], y2: &[u8]) -> Rsp {
    let mut p = Vec::new();
    point_2b(&mut p, p1);
    tpm2b(&mut p, s2);
    tpm2b(&mut p, y2);
    h.send(COMMIT, &[key], &[AuthCmd::pw(b"")], &p)
}

/// K, L, E (each x ‖ y, empty when not computed) and the counter.
fn commit_ok(h: &mut Harness, key: u32, p1: &[u8], s2: &[u8], y2: &[u8]) -> (Vec<Vec<u8>>, u16) {
    let r = commit(h, key, p1, s2, y2);
    assert_eq!(r.rc(), 0, "Commit {:#x}", r.rc());
    let (mut b, _) = r.split_sessions(0);
    let mut pts = Vec::new();
    for _ in 0..3 {
        let n = u16::from_be_bytes(b[..2].try_into().unwrap()) as usize;
        let mut inner = &b[2..2 + n];
        let mut pt = Vec::new();
        for _ in 0..2 {
            let m = u16::from_be_bytes(inner[..2].try_into().unwrap()) as usize;
            pt.extend(&inner[2..2 + m]);
            inner = &inner[2 + m..];
        }
        pts.push(pt);
        b = &b[2 + n..];
    }
    (pts, u16::from_be_bytes(b[..2].try_into().unwrap()))
}

fn sign(h: &mut Harness, key: u32, digest: &[u8], scheme: u16, count: u16) -> Rsp {
    let mut p = Vec::new();
    tpm2b(&mut p, digest);
    p.extend(scheme.to_be_bytes());
    if scheme != NULL {
        p.extend(SHA256.to_be_bytes());
    }
    if scheme == ECDAA {
        p.extend(count.to_be_bytes());
    }
    p.extend(0x8024u16.to_be_bytes());
    p.extend(RH_NULL.to_be_bytes());
    tpm2b(&mut p, b"");
    h.send(SIGN, &[key], &[AuthCmd::pw(b"")], &p)
}

/// The signature (raw TPMT_SIGNATURE, n, s, T mod n) of an ECDAA TPM2_Sign.
fn sign_ok(h: &mut Harness, key: u32, digest: &[u8], count: u16) -> (Vec<u8>, Scalar, Scalar) {
    let r = sign(h, key, digest, ECDAA, count);
    assert_eq!(r.rc(), 0, "Sign {:#x}", r.rc());
    let (b, _) = r.split_sessions(0);
    assert_eq!(&b[..4], &[0, 0x1A, 0, 0x0B], "sigAlg ECDAA, hash SHA-256");
    let nl = u16::from_be_bytes(b[4..6].try_into().unwrap()) as usize;
    let n = &b[6..6 + nl];
    let sl = u16::from_be_bytes(b[6 + nl..8 + nl].try_into().unwrap()) as usize;
    assert_eq!(sl, 32);
    let s = scalar(&b[8 + nl..8 + nl + sl]);
    let t = scalar(
        &Sha256::new()
            .chain_update(n)
            .chain_update(digest)
            .finalize(),
    );
    (b[..8 + nl + sl].to_vec(), s, t)
}

/// s2 and y2 of a point B = (SHA-256(s2), y2) on P-256, and B.
fn p2() -> (Vec<u8>, Vec<u8>, ProjectivePoint) {
    for i in 0u8..=255 {
        let s2 = vec![b'b', i];
        let x = Sha256::digest(&s2);
        if let Ok(pk) = PublicKey::from_sec1_bytes(&[&[2u8][..], &x].concat()) {
            let b = pk.to_projective();
            return (s2, xy(&b)[32..].to_vec(), b);
        }
    }
    panic!("no s2 gives an x-coordinate")
}

#[test]
fn commit_and_ecdaa_signatures_verify() {
    let mut h = Harness::new();
    let key = load(&mut h, ECDAA);
    let d = scalar(&D);
    let q = ProjectivePoint::GENERATOR * d;
    let m = ProjectivePoint::GENERATOR * scalar(&[0x42; 32]);
    let (s2, y2, b) = p2();
    let digest = Sha256::digest(b"ecdaa message").to_vec();

    // P1 and P2: K = [d]B, L = [r]B, E = [r]M.
    let ((pts, c1), _) = (commit_ok(&mut h, key, &xy(&m), &s2, &y2), ());
    assert_eq!(pts[0], xy(&(b * d)), "K = [d]B");
    let (l, e) = (point(&pts[1]), point(&pts[2]));
    // No points: E = [r]G only.
    let (pts2, c2) = commit_ok(&mut h, key, &[], &[], &[]);
    assert_eq!(c2, c1.wrapping_add(1));
    assert!(pts2[0].is_empty() && pts2[1].is_empty());
    let e2 = point(&pts2[2]);
    // P2 only: K and L, no E.
    let (pts3, c3) = commit_ok(&mut h, key, &[], &s2, &y2);
    assert!(pts3[2].is_empty());
    assert_eq!(pts3[0], xy(&(b * d)));
    assert_ne!(pts3[1], pts[1], "a new r per counter");

    // Signatures, out of order: s = r + T·d.
    let (_, s, t) = sign_ok(&mut h, key, &digest, c2);
    assert_eq!(xy(&(ProjectivePoint::GENERATOR * s)), xy(&(e2 + q * t)));
    let (sig, s, t) = sign_ok(&mut h, key, &digest, c1);
    assert_eq!(xy(&(m * s)), xy(&(e + m * d * t)), "[s]M = E + [T][d]M");
    assert_eq!(xy(&(b * s)), xy(&(l + b * d * t)), "[s]B = L + [T]K");
    // A wrong digest does not satisfy the equation.
    let (_, s3, t3) = sign_ok(&mut h, key, &digest, c3);
    let l3 = point(&pts3[1]);
    assert_eq!(xy(&(b * s3)), xy(&(l3 + b * d * t3)));
    assert_ne!(xy(&(b * s3)), xy(&(l3 + b * d * (t3 + Scalar::ONE))));

    // Counters used up or never issued: TPM_RC_VALUE without a position.
    for c in [c1, c2, c3, c3.wrapping_add(1), c3.wrapping_add(128)] {
        assert_eq!(
            sign(&mut h, key, &digest, ECDAA, c).rc(),
            0x084,
            "count {c}"
        );
    }
    // A key with ECDAA needs the caller's ECDAA scheme: TPM_RC_SCHEME at parameter 2.
    let (_, c4) = commit_ok(&mut h, key, &[], &[], &[]);
    assert_eq!(sign(&mut h, key, &digest, NULL, 0).rc(), 0x2D2);
    assert_eq!(sign(&mut h, key, &digest, ECDSA, 0).rc(), 0x2D2);
    // A failed signature leaves the counter outstanding.
    sign_ok(&mut h, key, &digest, c4);

    // VerifySignature does not check ECDAA signatures: TPM_RC_SCHEME.
    let mut p = Vec::new();
    tpm2b(&mut p, &digest);
    p.extend(&sig);
    let rc = h.send(VERIFY_SIGNATURE, &[key], &[], &p).rc();
    assert_eq!(rc, 0x2D2, "SCHEME at parameter 2 {rc:#x}");
}

#[test]
fn commit_refuses_keys_points_and_sizes() {
    let mut h = Harness::new();
    let ecdsa = load(&mut h, ECDSA);
    // A key without the anonymous scheme: TPM_RC_SCHEME at handle 1.
    assert_eq!(commit(&mut h, ecdsa, &[], &[], &[]).rc(), 0x192);
    let key = load(&mut h, ECDAA);
    let (s2, y2, _) = p2();
    // s2 without y2: TPM_RC_SIZE at parameter 3.
    assert_eq!(commit(&mut h, key, &[], &s2, &[]).rc(), 0x3D5);
    assert_eq!(commit(&mut h, key, &[], &[], &y2).rc(), 0x3D5);
    // B off the curve: TPM_RC_ECC_POINT at parameter 2; P1 off the curve: at parameter 1.
    let mut bad = y2.clone();
    bad[31] ^= 1;
    assert_eq!(commit(&mut h, key, &[], &s2, &bad).rc(), 0x2E7);
    let mut m = xy(&(ProjectivePoint::GENERATOR * scalar(&[7; 32])));
    m[40] ^= 1;
    assert_eq!(commit(&mut h, key, &m, &[], &[]).rc(), 0x1E7);
    // An empty TPM2B_ECC_POINT (size 0): TPM_RC_SIZE at parameter 1.
    let mut p = vec![0, 0];
    tpm2b(&mut p, b"");
    tpm2b(&mut p, b"");
    assert_eq!(h.send(COMMIT, &[key], &[AuthCmd::pw(b"")], &p).rc(), 0x1D5);
    // No counter was used by the errors: the first commit is counter 0.
    let (_, c) = commit_ok(&mut h, key, &[], &[], &[]);
    assert_eq!(c, 0);
}
