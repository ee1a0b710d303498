//! TPM2_EC_Ephemeral and TPM2_ZGen_2Phase (Part 3 §14.7–14.8): the TPM's two points checked
//! from the peer's side with the p256 / p384 crates (Z1 = dsA·QsB = dsB·QsA, Z2 = r·QeB =
//! deB·QeA), the commit counter's one use, and the error codes at their positions.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use vtpm_tests::*;

const CREATE_PRIMARY: u32 = 0x131;
const ZGEN_2PHASE: u32 = 0x18D;
const EC_EPHEMERAL: u32 = 0x18E;
const ECDH: u16 = 0x0019;
const ECMQV: u16 = 0x001D;
const NULL: u16 = 0x0010;
/// TPM_RC_VALUE at parameter 4.
const VALUE_P4: u32 = 0x4C4;
/// TPM_RC_SCHEME at parameter 3.
const SCHEME_P3: u32 = 0x3D2;

/// An ECC primary (P-256 = 3, P-384 = 4) with the attributes and scheme; its handle and
/// public point (x ‖ y).
fn ecc_primary(h: &mut Harness, attrs: u32, scheme: u16, curve: u16) -> (u32, Vec<u8>) {
    let mut t = Vec::new();
    t.extend(0x0023u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(attrs.to_be_bytes());
    t.extend([0, 0]); // authPolicy
    if attrs & 0x0001_0000 != 0 {
        t.extend([0, 6, 0, 0x80, 0, 0x43]); // AES-128-CFB for a restricted decryption key
    } else {
        t.extend(NULL.to_be_bytes());
    }
    t.extend(scheme.to_be_bytes());
    if scheme != NULL {
        t.extend(SHA256.to_be_bytes());
    }
    t.extend(curve.to_be_bytes());
    t.extend(NULL.to_be_bytes()); // kdf
    t.extend([0, 0, 0, 0]);
    let mut p = vec![0, 4, 0, 0, 0, 0];
    tpm2b(&mut p, &t);
    p.extend([0, 0, 0, 0, 0, 0]);
    let r = h.ok(CREATE_PRIMARY, &[RH_OWNER], &[AuthCmd::pw(b"")], &p);
    let handle = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
    let (params, _) = r.split_sessions(1);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    (
        handle,
        points(&params[2 + n - 4 - 2 * size(curve)..2 + n], 1).remove(0),
    )
}

fn size(curve: u16) -> usize {
    if curve == 3 { 32 } else { 48 }
}

/// `count` TPMS_ECC_POINTs (x, y as TPM2B) at the start of `b`, each as x ‖ y.
fn points(mut b: &[u8], count: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for _ in 0..count {
        let mut pt = Vec::new();
        for _ in 0..2 {
            let n = u16::from_be_bytes(b[..2].try_into().unwrap()) as usize;
            pt.extend(&b[2..2 + n]);
            b = &b[2 + n..];
        }
        out.push(pt);
    }
    out
}

/// TPM2B_ECC_POINT of x ‖ y.
fn point_2b(p: &mut Vec<u8>, xy: &[u8]) {
    let (x, y) = xy.split_at(xy.len() / 2);
    let mut inner = Vec::new();
    tpm2b(&mut inner, x);
    tpm2b(&mut inner, y);
    tpm2b(p, &inner);
}

/// d·Q (x ‖ y) with the p256 / p384 crates; `q = None` is the generator.
fn mul(curve: u16, d: &[u8], q: Option<&[u8]>) -> Vec<u8> {
    use p384::elliptic_curve::sec1::ToSec1Point;
    let sec1 = |xy: &[u8]| [&[4u8][..], xy].concat();
    if curve == 3 {
        let sk = p256::SecretKey::from_slice(d).unwrap();
        let q = match q {
            Some(q) => p256::PublicKey::from_sec1_bytes(&sec1(q))
                .unwrap()
                .to_projective(),
            None => p256::ProjectivePoint::GENERATOR,
        };
        let z = q * *sk.to_nonzero_scalar();
        let z = p256::AffinePoint::from(z).to_sec1_point(false);
        z.as_bytes()[1..].to_vec()
    } else {
        let sk = p384::SecretKey::from_slice(d).unwrap();
        let q = match q {
            Some(q) => p384::PublicKey::from_sec1_bytes(&sec1(q))
                .unwrap()
                .to_projective(),
            None => p384::ProjectivePoint::GENERATOR,
        };
        let z = q * *sk.to_nonzero_scalar();
        let z = p384::AffinePoint::from(z).to_sec1_point(false);
        z.as_bytes()[1..].to_vec()
    }
}

/// TPM2_EC_Ephemeral: (Q_e, counter).
fn ephemeral(h: &mut Harness, curve: u16) -> (Vec<u8>, u16) {
    let r = h.ok(EC_EPHEMERAL, &[], &[], &curve.to_be_bytes());
    let b = r.body();
    let n = u16::from_be_bytes(b[..2].try_into().unwrap()) as usize;
    let q = points(&b[2..2 + n], 1).remove(0);
    (q, u16::from_be_bytes(b[2 + n..].try_into().unwrap()))
}

fn zgen(h: &mut Harness, key: u32, qs: &[u8], qe: &[u8], scheme: u16, counter: u16) -> Rsp {
    let mut p = Vec::new();
    point_2b(&mut p, qs);
    point_2b(&mut p, qe);
    p.extend(scheme.to_be_bytes());
    p.extend(counter.to_be_bytes());
    h.send(ZGEN_2PHASE, &[key], &[AuthCmd::pw(b"")], &p)
}

/// Decrypt-only unrestricted: fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth |
/// decrypt.
const DECRYPT: u32 = 0x0002_0072;

#[test]
fn zgen_2phase_agrees_with_the_peer_on_both_curves() {
    let mut h = Harness::new();
    for (curve, scheme) in [(3u16, ECDH), (4, NULL)] {
        let (key, qs_a) = ecc_primary(&mut h, DECRYPT, scheme, curve);
        let n = size(curve);
        // The peer B: a static and an ephemeral key.
        let ds_b: Vec<u8> = (1..=n as u8).collect();
        let de_b: Vec<u8> = (1..=n as u8).map(|b| b.wrapping_mul(7)).collect();
        let qs_b = mul(curve, &ds_b, None);
        let qe_b = mul(curve, &de_b, None);
        // Two ephemerals outstanding, used out of order.
        let (qe_a1, c1) = ephemeral(&mut h, curve);
        let (qe_a2, c2) = ephemeral(&mut h, curve);
        assert_eq!(c2, c1.wrapping_add(1));
        assert_ne!(qe_a1, qe_a2);
        for (qe_a, c) in [(qe_a2, c2), (qe_a1, c1)] {
            let r = zgen(&mut h, key, &qs_b, &qe_b, ECDH, c);
            assert_eq!(r.rc(), 0, "ZGen_2Phase {:#x}", r.rc());
            let (params, _) = r.split_sessions(0);
            let n1 = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
            let z1 = points(&params[2..2 + n1], 1).remove(0);
            let z2 = points(&params[4 + n1..], 1).remove(0);
            assert_eq!(z1, mul(curve, &ds_b, Some(&qs_a)), "Z1 = dsA·QsB = dsB·QsA");
            assert_eq!(z2, mul(curve, &de_b, Some(&qe_a)), "Z2 = r·QeB = deB·QeA");
            // The counter is used up.
            assert_eq!(zgen(&mut h, key, &qs_b, &qe_b, ECDH, c).rc(), VALUE_P4);
        }
        // A counter never issued.
        let (_, c) = ephemeral(&mut h, curve);
        assert_eq!(
            zgen(&mut h, key, &qs_b, &qe_b, ECDH, c.wrapping_add(1)).rc(),
            VALUE_P4
        );
        assert_eq!(
            zgen(&mut h, key, &qs_b, &qe_b, ECDH, c.wrapping_add(128)).rc(),
            VALUE_P4
        );
        // Errors leave the counter outstanding: points off the curve, the other curve's points.
        let mut bad = qs_b.clone();
        bad[3] ^= 1;
        assert_eq!(zgen(&mut h, key, &bad, &qe_b, ECDH, c).rc(), 0x1E7);
        assert_eq!(zgen(&mut h, key, &qs_b, &bad, ECDH, c).rc(), 0x2E7);
        let other = if curve == 3 {
            mul(4, &[9; 48], None)
        } else {
            mul(3, &[9; 32], None)
        };
        assert_eq!(zgen(&mut h, key, &other, &qe_b, ECDH, c).rc(), 0x1E7);
        // Schemes: NULL for a key without a scheme, ECMQV (not implemented).
        let nul = zgen(&mut h, key, &qs_b, &qe_b, NULL, c).rc();
        assert_eq!(nul, SCHEME_P3);
        assert_eq!(zgen(&mut h, key, &qs_b, &qe_b, ECMQV, c).rc(), SCHEME_P3);
        assert_eq!(zgen(&mut h, key, &qs_b, &qe_b, ECDH, c).rc(), 0);
    }
}

#[test]
fn zgen_2phase_refuses_keys_and_curves() {
    let mut h = Harness::new();
    let (_, c) = ephemeral(&mut h, 3);
    let qs_b = mul(3, &[5; 32], None);
    // Unimplemented curve: TPM_RC_CURVE at parameter 1.
    assert_eq!(h.send(EC_EPHEMERAL, &[], &[], &[0, 5]).rc(), 0x1E6);
    // A signing key and a restricted decryption key: ATTRIBUTES at handle 1.
    let (signer, _) = ecc_primary(&mut h, 0x0004_0072, 0x0018, 3);
    assert_eq!(zgen(&mut h, signer, &qs_b, &qs_b, ECDH, c).rc(), 0x182);
    let (storage, _) = ecc_primary(&mut h, 0x0003_0072, NULL, 3);
    assert_eq!(zgen(&mut h, storage, &qs_b, &qs_b, ECDH, c).rc(), 0x182);
    // A keyed-hash key: KEY at handle 1.
    let mut t = Vec::new();
    t.extend(0x0008u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(0x0004_0072u32.to_be_bytes());
    t.extend([0, 0, 0, 5, 0, 0x0B, 0, 0]);
    let mut p = vec![0, 4, 0, 0, 0, 0];
    tpm2b(&mut p, &t);
    p.extend([0, 0, 0, 0, 0, 0]);
    let r = h.ok(CREATE_PRIMARY, &[RH_OWNER], &[AuthCmd::pw(b"")], &p);
    let hmac = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
    assert_eq!(zgen(&mut h, hmac, &qs_b, &qs_b, ECDH, c).rc(), 0x19C);
    // The counter is still outstanding after all these errors.
    let (key, _) = ecc_primary(&mut h, DECRYPT, ECDH, 3);
    assert_eq!(zgen(&mut h, key, &qs_b, &qs_b, ECDH, c).rc(), 0);
    // A TPM Reset forgets every outstanding counter.
    let (_, c) = ephemeral(&mut h, 3);
    h.ok(cc::SHUTDOWN, &[], &[], &0u16.to_be_bytes());
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &0u16.to_be_bytes());
    let (key, _) = ecc_primary(&mut h, DECRYPT, ECDH, 3);
    assert_eq!(zgen(&mut h, key, &qs_b, &qs_b, ECDH, c).rc(), VALUE_P4);
}
