//! Elliptic-curve keys for the TPM's ECC objects: NIST P-256 and P-384 (TPM_ECC_NIST_P256 /
//! TPM_ECC_NIST_P384, Part 2 §6.4), primary-key derivation (Part 1 Annex C.5), ECDSA over a
//! prehashed digest (FIPS 186-4 §6), and the ECDH shared point (SP 800-56A §5.7.1.2) used by
//! salted sessions, MakeCredential/ActivateCredential and ECC import (Part 1 Annex C.6.1).
//!
//! The API speaks big-endian byte strings ([`EccParameter`] coordinates and scalars in a
//! [`Secret`]); no RustCrypto type leaves this module. Coordinates and scalars shorter than the
//! curve size are read as left-padded with zeros (as a TPM2B_ECC_PARAMETER is an integer); longer
//! ones are refused. Private scalars live only in zeroizing types.

use crate::wire::public::{EccParameter, MAX_ECC_KEY_BYTES};
use crate::wire::types::Secret;
use ecdsa::elliptic_curve::bigint::{NonZero, U384, U448, Uint};
#[cfg(feature = "ecdaa")]
use ecdsa::elliptic_curve::ff::{Field as _, PrimeField as _};
use ecdsa::elliptic_curve::group::{Curve as _, Group as _};
use ecdsa::elliptic_curve::point::AffineCoordinates;
use ecdsa::elliptic_curve::{
    AffinePoint, Curve as CurveParams, CurveArithmetic, FieldBytes, NonZeroScalar, ProjectivePoint,
};
use ecdsa::{DigestAlgorithm, EcdsaCurve, Signature, hazmat};
use p256::NistP256;
use p384::NistP384;
use zeroize::{Zeroize, Zeroizing};

/// A private scalar d (the sensitive part of an ECC key, TPM2B_ECC_PARAMETER), zeroized on drop.
pub type EccPrivate = Secret<MAX_ECC_KEY_BYTES>;

/// Extra bytes drawn beyond the curve size for a private scalar: 64 bits, as FIPS 186-4 B.4.1 and
/// Part 1 Annex C.5 ask (c has bits(n) + 64 bits).
pub const EXTRA_BYTES: usize = 8;

/// Largest input to [`derive_private`] (P-384: 48 + 8 bytes).
pub const MAX_DERIVE_BYTES: usize = MAX_ECC_KEY_BYTES + EXTRA_BYTES;

/// An implemented curve (TPMI_ECC_CURVE, Part 2 §11.2.5.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Curve {
    /// NIST P-256 (TPM_ECC_NIST_P256 = 0x0003).
    P256,
    /// NIST P-384 (TPM_ECC_NIST_P384 = 0x0004).
    P384,
}

impl Curve {
    /// All implemented curves, in TPM_ECC_CURVE order (the TPM_CAP_ECC_CURVES list).
    pub const ALL: [Self; 2] = [Self::P256, Self::P384];

    /// The curve for a TPM_ECC_CURVE value (Part 2 §6.4), if implemented.
    pub const fn from_id(id: u16) -> Option<Self> {
        match id {
            3 => Some(Self::P256),
            4 => Some(Self::P384),
            _ => None,
        }
    }

    /// TPM_ECC_CURVE value (Part 2 §6.4): NIST_P256 = 3, NIST_P384 = 4.
    pub const fn id(self) -> u16 {
        match self {
            Self::P256 => 3,
            Self::P384 => 4,
        }
    }

    /// Size in bytes of a coordinate, of the order n and of a private scalar (32 / 48).
    pub const fn size(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }

    /// Key size in bits, as TPM_PT / TPMS_ALGORITHM_DETAIL_ECC report it (256 / 384).
    pub const fn key_bits(self) -> u16 {
        match self {
            Self::P256 => 256,
            Self::P384 => 384,
        }
    }
}

/// A point in affine coordinates, each fixed-size big-endian (TPMS_ECC_POINT, Part 2 §11.2.5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EccPoint {
    /// x-coordinate, `curve.size()` bytes.
    pub x: EccParameter,
    /// y-coordinate, `curve.size()` bytes.
    pub y: EccParameter,
}

/// An ECDSA signature (TPMS_SIGNATURE_ECC, Part 2 §11.3.2), r and s fixed-size big-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcdsaSignature {
    /// r, `curve.size()` bytes.
    pub r: EccParameter,
    /// s, `curve.size()` bytes.
    pub s: EccParameter,
}

/// The private scalar of a primary key from the bits of its DRBG (Part 1 Annex C.5; FIPS 186-4
/// B.4.1 "key pair generation using extra random bits"): `d = (c mod (n − 1)) + 1`, where `c` is
/// the big-endian integer of exactly `curve.size() + 8` bytes. The result is `curve.size()`
/// bytes in [1, n − 1]. `None` only if `c` has another length.
pub fn derive_private(curve: Curve, c: &[u8]) -> Option<EccPrivate> {
    let mut d = EccPrivate::zeroed(curve.size())?;
    let n = match curve {
        Curve::P256 => NistP256::ORDER.as_ref().resize::<{ U384::LIMBS }>(),
        Curve::P384 => *NistP384::ORDER.as_ref(),
    };
    reduce_extra_bits(c, &n, d.expose_mut())?;
    Some(d)
}

/// A fresh private scalar from random bits (FIPS 186-4 B.4.1, the same extra-bits method as
/// [`derive_private`]): `fill` is asked once for `curve.size() + 8` bytes (the TPM's DRBG).
pub fn random_private(curve: Curve, mut fill: impl FnMut(&mut [u8])) -> Option<EccPrivate> {
    try_random_private(curve, |c| {
        fill(c);
        Ok::<(), core::convert::Infallible>(())
    })
    .ok()
    .flatten()
}

/// [`random_private`] with a fallible source (the TPM's DRBG, whose failure latches failure
/// mode): `fill`'s error is passed through. The `curve.size() + 8` random bytes determine the
/// key, so they are drawn into a buffer that is wiped on every path (a plain zeroing loop may
/// be removed by the compiler). `Ok(None)` cannot happen for an implemented curve.
pub fn try_random_private<E>(
    curve: Curve,
    fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
) -> Result<Option<EccPrivate>, E> {
    let mut c = Zeroizing::new([0u8; MAX_DERIVE_BYTES]);
    let Some(c) = curve
        .size()
        .checked_add(EXTRA_BYTES)
        .and_then(|n| c.get_mut(..n))
    else {
        return Ok(None);
    };
    fill(c)?;
    Ok(derive_private(curve, c))
}

/// The public point Q = d·G of a private scalar (SEC 1 §3.2.1; Part 1 Annex C.5). `None` if `d`
/// is not in [1, n − 1] or is longer than the curve size.
pub fn public_from_private(curve: Curve, d: &[u8]) -> Option<EccPoint> {
    match curve {
        Curve::P256 => public_from_private_c::<NistP256>(d),
        Curve::P384 => public_from_private_c::<NistP384>(d),
    }
}

/// Whether (x, y) is a point on the curve (SP 800-56A §5.6.2.3.4 partial validation; both
/// curves have cofactor 1, so this is full validation): each coordinate in [0, p − 1] and
/// y² = x³ + ax + b. The identity has no affine coordinates and is never valid. A TPM answers
/// TPM_RC_ECC_POINT when this is false.
pub fn validate_point(curve: Curve, x: &[u8], y: &[u8]) -> bool {
    match curve {
        Curve::P256 => affine::<NistP256>(x, y).is_some(),
        Curve::P384 => affine::<NistP384>(x, y).is_some(),
    }
}

/// ECDSA signature of a prehashed `digest` of any length (FIPS 186-4 §6.4: the leftmost
/// min(bits(n), bits(digest)) bits are the integer e), so P-256 and P-384 both sign SHA-256,
/// SHA-384 and SHA-512 digests (TPM2_Sign, Part 3 §20.2; attestation, Part 3 §18).
///
/// The nonce k is RFC 6979 §3.2 deterministic, with HMAC-SHA-256 on P-256 and HMAC-SHA-384 on
/// P-384 whatever the digest's hash; `extra_entropy` is RFC 6979 §3.6 additional data k′, which
/// hedges k: pass fresh DRBG output (at least `curve.size()` bytes) in the TPM, an empty slice
/// for the purely deterministic signatures of RFC 6979 Appendix A.2. `None` if `d` is invalid.
pub fn ecdsa_sign(
    curve: Curve,
    d: &[u8],
    digest: &[u8],
    extra_entropy: &[u8],
) -> Option<EcdsaSignature> {
    match curve {
        Curve::P256 => ecdsa_sign_c::<NistP256>(d, digest, extra_entropy),
        Curve::P384 => ecdsa_sign_c::<NistP384>(d, digest, extra_entropy),
    }
}

/// Verify an ECDSA signature (r, s) over a prehashed `digest` of any length with the public key
/// (x, y) (FIPS 186-4 §6.4.2, digest truncated as in [`ecdsa_sign`]). False if the key is not a
/// valid point, r or s is outside [1, n − 1], or the signature does not verify.
pub fn ecdsa_verify(curve: Curve, x: &[u8], y: &[u8], digest: &[u8], r: &[u8], s: &[u8]) -> bool {
    match curve {
        Curve::P256 => ecdsa_verify_c::<NistP256>(x, y, digest, r, s),
        Curve::P384 => ecdsa_verify_c::<NistP384>(x, y, digest, r, s),
    }
}

/// ECC CDH primitive (SP 800-56A §5.7.1.2; Part 1 §C.6.1): Z = x-coordinate of d·Q, `curve.size()`
/// bytes. `None` if (peer_x, peer_y) is not a valid point (TPM_RC_ECC_POINT) or `d` is invalid.
pub fn ecdh(curve: Curve, d: &[u8], peer_x: &[u8], peer_y: &[u8]) -> Option<EccPrivate> {
    match curve {
        Curve::P256 => ecdh_c::<NistP256>(d, peer_x, peer_y),
        Curve::P384 => ecdh_c::<NistP384>(d, peer_x, peer_y),
    }
}

/// The point d·Q (TPM2_ECDH_ZGen / ECDH_KeyGen return the whole point, Part 3 §14.4–14.5).
/// `None` if (x, y) is not a valid point or `d` is invalid. Both coordinates are secret.
pub fn multiply(curve: Curve, d: &[u8], x: &[u8], y: &[u8]) -> Option<(EccPrivate, EccPrivate)> {
    match curve {
        Curve::P256 => multiply_c::<NistP256>(d, x, y),
        Curve::P384 => multiply_c::<NistP384>(d, x, y),
    }
}

/// The field prime p of P-256 (FIPS 186-4 §D.1.2.3), zero-extended to 384 bits.
#[cfg(feature = "ecdaa")]
const P256_P: U384 = U384::from_be_hex(concat!(
    "00000000000000000000000000000000",
    "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF"
));

/// The field prime p of P-384 (FIPS 186-4 §D.1.2.4).
#[cfg(feature = "ecdaa")]
const P384_P: U384 = U384::from_be_hex(concat!(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFE",
    "FFFFFFFF0000000000000000FFFFFFFF"
));

/// The field prime p of `curve`, zero-extended to 384 bits.
#[cfg(feature = "ecdaa")]
fn field_prime(curve: Curve) -> U384 {
    match curve {
        Curve::P256 => P256_P,
        Curve::P384 => P384_P,
    }
}

/// The order n of `curve`, zero-extended to 384 bits.
#[cfg(feature = "ecdaa")]
fn order(curve: Curve) -> U384 {
    match curve {
        Curve::P256 => NistP256::ORDER.as_ref().resize::<{ U384::LIMBS }>(),
        Curve::P384 => *NistP384::ORDER.as_ref(),
    }
}

/// `v mod m` for a big-endian `v` of any length (a digest), written big-endian into `out`
/// (m's size, left-padded): Horner's rule over 8-byte chunks, acc = (acc ‖ chunk) mod m, each
/// step one U448-by-U384 remainder (the instance [`reduce_extra_bits`] uses).
#[cfg(feature = "ecdaa")]
fn reduce_wide(v: &[u8], m: &U384, out: &mut [u8]) -> Option<()> {
    let m = NonZero::new(*m).into_option()?;
    let mut acc = Zeroizing::new(U384::ZERO);
    let mut wide = Zeroizing::new([0u8; U448::BYTES]);
    let head = v.len() % EXTRA_BYTES;
    let (first, rest) = v.split_at(head);
    for chunk in core::iter::once(first).chain(rest.chunks(EXTRA_BYTES)) {
        let bytes = Zeroizing::new(acc.to_be_bytes());
        wide.get_mut(..U384::BYTES)?.copy_from_slice(bytes.as_ref());
        let tail = wide.get_mut(U384::BYTES..)?;
        tail.fill(0);
        let start = EXTRA_BYTES.checked_sub(chunk.len())?;
        tail.get_mut(start..)?.copy_from_slice(chunk);
        let w = Zeroizing::new(U448::from_be_slice(wide.as_slice()));
        *acc = w.rem(&m);
    }
    let mut bytes = acc.to_be_bytes();
    let start = U384::BYTES.checked_sub(out.len())?;
    out.copy_from_slice(bytes.as_ref().get(start..)?);
    bytes.zeroize();
    Some(())
}

/// `h mod p` for a digest `h`, `curve.size()` bytes: the x-coordinate x2 = H(s2) mod p of
/// TPM2_Commit (Part 3 §19.2). `None` if `h` is longer than 64 bytes.
#[cfg(feature = "ecdaa")]
pub fn reduce_mod_p(curve: Curve, h: &[u8]) -> Option<EccParameter> {
    let mut out = [0u8; MAX_ECC_KEY_BYTES];
    let o = out.get_mut(..curve.size())?;
    reduce_wide(h, &field_prime(curve), o)?;
    EccParameter::from_slice(o)
}

/// The Schnorr signature value s = (r + (T mod n)·d) mod n of ECDAA (Part 1 §C.4; the
/// reference's BnSchnorrSign), `curve.size()` bytes, for the commit value `r`, a digest `t`
/// (up to 64 bytes) and the private key `d`. `None` if T mod n or s is zero, or r or d is
/// not in [1, n − 1].
#[cfg(feature = "ecdaa")]
pub fn schnorr_sign(curve: Curve, r: &[u8], t: &[u8], d: &[u8]) -> Option<EccPrivate> {
    let mut tn = EccPrivate::zeroed(curve.size())?;
    reduce_wide(t, &order(curve), tn.expose_mut())?;
    match curve {
        Curve::P256 => schnorr_c::<NistP256>(r, tn.expose(), d),
        Curve::P384 => schnorr_c::<NistP384>(r, tn.expose(), d),
    }
}

/// The point r·P of a scalar `r` in [1, n − 1] and a valid point P, as public coordinates
/// (TPM2_Commit's L = [r]B and E = [r]M, Part 3 §19.2). `None` if either is invalid.
#[cfg(feature = "ecdaa")]
pub fn multiply_public(curve: Curve, r: &[u8], x: &[u8], y: &[u8]) -> Option<EccPoint> {
    let (px, py) = multiply(curve, r, x, y)?;
    Some(EccPoint {
        x: EccParameter::from_slice(px.expose())?,
        y: EccParameter::from_slice(py.expose())?,
    })
}

// ---------------------------------------------------------------------------------------------
// Generic implementations over the RustCrypto curve types.

/// `out = (c mod (n − 1)) + 1` with constant-time big-integer division, for a curve order
/// `n` (odd, > 2) of at most 384 bits, `c` of `out.len() + 8` bytes and `out` of n's size.
/// One instance for both curves: `c` is left-padded into a U448 and n − 1 held as a U384
/// (P-256's zero-extended), which gives the same value as the curve's own widths.
fn reduce_extra_bits(c: &[u8], n: &U384, out: &mut [u8]) -> Option<()> {
    if c.len() != out.len().checked_add(EXTRA_BYTES)? {
        return None;
    }
    let mut wide = Zeroizing::new([0u8; U448::BYTES]);
    let start = U448::BYTES.checked_sub(c.len())?;
    wide.get_mut(start..)?.copy_from_slice(c);
    let c = Zeroizing::new(U448::from_be_slice(wide.as_slice()));
    // n is odd and > 2, so n − 1 does not wrap and is non-zero.
    let n_minus_1 = NonZero::new(n.wrapping_sub(&Uint::ONE)).into_option()?;
    let r = Zeroizing::new(c.rem(&n_minus_1));
    // r ≤ n − 2, so r + 1 ≤ n − 1 does not wrap.
    let d = Zeroizing::new(r.wrapping_add(&Uint::ONE));
    let mut bytes = d.to_be_bytes();
    let start = U384::BYTES.checked_sub(out.len())?;
    out.copy_from_slice(bytes.as_ref().get(start..)?);
    bytes.zeroize();
    Some(())
}

/// A big-endian integer of at most the field size, left-padded to the field size.
fn field_bytes<C: CurveArithmetic>(v: &[u8]) -> Option<FieldBytes<C>> {
    let mut fb = FieldBytes::<C>::default();
    let start = fb.len().checked_sub(v.len())?;
    fb.get_mut(start..)?.copy_from_slice(v);
    Some(fb)
}

/// A private scalar in [1, n − 1].
fn secret_scalar<C: CurveArithmetic>(d: &[u8]) -> Option<Zeroizing<NonZeroScalar<C>>> {
    let mut fb = Zeroizing::new(field_bytes::<C>(d)?);
    let s = NonZeroScalar::<C>::from_repr(core::mem::take(&mut *fb)).into_option();
    s.map(Zeroizing::new)
}

/// A validated affine point (on the curve, hence not the identity).
fn affine<C: CurveArithmetic>(x: &[u8], y: &[u8]) -> Option<AffinePoint<C>> {
    let x = field_bytes::<C>(x)?;
    let y = field_bytes::<C>(y)?;
    AffinePoint::<C>::from_coordinates(&x, &y).into_option()
}

fn point_out<C: CurveArithmetic>(p: &AffinePoint<C>) -> Option<EccPoint> {
    Some(EccPoint {
        x: EccParameter::from_slice(&p.x())?,
        y: EccParameter::from_slice(&p.y())?,
    })
}

fn public_from_private_c<C: CurveArithmetic>(d: &[u8]) -> Option<EccPoint> {
    let d = secret_scalar::<C>(d)?;
    let q = ProjectivePoint::<C>::mul_by_generator(d.as_ref()).to_affine();
    point_out::<C>(&q)
}

fn ecdsa_sign_c<C>(d: &[u8], digest: &[u8], extra_entropy: &[u8]) -> Option<EcdsaSignature>
where
    C: EcdsaCurve + CurveArithmetic + DigestAlgorithm,
{
    let d = secret_scalar::<C>(d)?;
    let (sig, _) = hazmat::sign_prehashed_rfc6979::<C, C::Digest>(&d, digest, extra_entropy);
    let (r, s) = sig.split_bytes();
    Some(EcdsaSignature {
        r: EccParameter::from_slice(&r)?,
        s: EccParameter::from_slice(&s)?,
    })
}

fn ecdsa_verify_c<C>(x: &[u8], y: &[u8], digest: &[u8], r: &[u8], s: &[u8]) -> bool
where
    C: EcdsaCurve + CurveArithmetic,
{
    let Some(q) = affine::<C>(x, y) else {
        return false;
    };
    let (Some(r), Some(s)) = (field_bytes::<C>(r), field_bytes::<C>(s)) else {
        return false;
    };
    let Ok(sig) = Signature::<C>::from_scalars(r, s) else {
        return false;
    };
    hazmat::verify_prehashed::<C>(&ProjectivePoint::<C>::from(q), digest, &sig).is_ok()
}

fn ecdh_c<C: CurveArithmetic>(d: &[u8], peer_x: &[u8], peer_y: &[u8]) -> Option<EccPrivate> {
    let q = affine::<C>(peer_x, peer_y)?;
    let d = secret_scalar::<C>(d)?;
    // d ∈ [1, n − 1] and Q ≠ O in a prime-order group, so d·Q ≠ O and has an x-coordinate.
    // By reference: `*d` would leave an unzeroized copy of the scalar behind.
    #[allow(clippy::needless_borrows_for_generic_args)]
    let z = ecdsa::elliptic_curve::ecdh::diffie_hellman(&*d, q);
    EccPrivate::from_slice(z.raw_secret_bytes())
}

fn multiply_c<C: CurveArithmetic>(
    d: &[u8],
    x: &[u8],
    y: &[u8],
) -> Option<(EccPrivate, EccPrivate)> {
    let q = affine::<C>(x, y)?;
    let d = secret_scalar::<C>(d)?;
    // d ∈ [1, n − 1] and Q ≠ O in a prime-order group, so d·Q ≠ O.
    // Group scalar multiplication (constant time in the curve crate), not integer arithmetic.
    // The projective product is as secret as its affine form: both are wiped.
    let pp = Zeroizing::new(core::ops::Mul::mul(
        ProjectivePoint::<C>::from(q),
        d.as_ref(),
    ));
    let p = Zeroizing::new(pp.to_affine());
    let px = Zeroizing::new(p.x());
    let py = Zeroizing::new(p.y());
    Some((EccPrivate::from_slice(&px)?, EccPrivate::from_slice(&py)?))
}

/// s = r + t·d mod n with `t` already reduced mod n (see [`schnorr_sign`]).
#[cfg(feature = "ecdaa")]
fn schnorr_c<C: CurveArithmetic>(r: &[u8], t: &[u8], d: &[u8]) -> Option<EccPrivate> {
    let r = secret_scalar::<C>(r)?;
    let d = secret_scalar::<C>(d)?;
    let t = Zeroizing::new(Option::<C::Scalar>::from(C::Scalar::from_repr(
        field_bytes::<C>(t)?,
    ))?);
    if bool::from(t.is_zero()) {
        return None;
    }
    // Scalar field arithmetic mod n (the curve crate's), not integer arithmetic.
    let s = Zeroizing::new(core::ops::Add::add(**r, core::ops::Mul::mul(*t, **d)));
    if bool::from(s.is_zero()) {
        return None;
    }
    let bytes = Zeroizing::new(s.to_repr());
    EccPrivate::from_slice(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "ecdaa")]
    fn unhex<const N: usize>(s: &str) -> [u8; N] {
        core::array::from_fn(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
    }

    /// ECDAA's s = r + T·d on P-384 with a SHA-512-sized T: [s]G = [r]G + [T mod n]([d]G).
    #[test]
    #[cfg(feature = "ecdaa")]
    fn schnorr_sign_satisfies_the_verification_equation_on_p384() {
        type P = ProjectivePoint<NistP384>;
        let scalar = |b: &[u8]| *secret_scalar::<NistP384>(b).unwrap().as_ref();
        let d = [0x5Au8; 48];
        let r = [0x33u8; 48];
        let t: [u8; 64] = core::array::from_fn(|i| (i as u8).wrapping_mul(37));
        let s = schnorr_sign(Curve::P384, &r, &t, &d).unwrap();
        let mut tn = [0u8; 48];
        reduce_wide(&t, &order(Curve::P384), &mut tn).unwrap();
        let lhs = P::mul_by_generator(&scalar(s.expose())).to_affine();
        let rhs = (P::mul_by_generator(&scalar(&r))
            + P::mul_by_generator(&scalar(&d)) * scalar(&tn))
        .to_affine();
        assert_eq!(lhs, rhs);
        let wrong =
            (P::mul_by_generator(&scalar(&r)) + P::mul_by_generator(&scalar(&d))).to_affine();
        assert_ne!(lhs, wrong);
    }

    /// A 64-byte digest (bytes 1..=64) mod p and mod n, against Python's integers, and a
    /// 3-byte value (shorter than a chunk) left unchanged.
    #[test]
    #[cfg(feature = "ecdaa")]
    fn digests_reduce_mod_p_and_n() {
        let v: [u8; 64] = core::array::from_fn(|i| i as u8 + 1);
        let x = reduce_mod_p(Curve::P256, &v).unwrap();
        let want = "05060708090e13182024282c3034383c3f4245484c4c4c4c4b4a494847464544";
        assert_eq!(x.as_slice(), unhex::<32>(want).as_slice());
        let x = reduce_mod_p(Curve::P384, &v).unwrap();
        let want = concat!(
            "1112131415161718191a1b1c1d1e1f20222426282b2e3134",
            "373a3d40424446483a3c3e4031323334353637384a4c4e50"
        );
        assert_eq!(x.as_slice(), unhex::<48>(want).as_slice());
        let mut out = [0u8; 48];
        reduce_wide(&v, &order(Curve::P384), &mut out).unwrap();
        let want = concat!(
            "1112131415161718195329b2b9cca856249af745e235d8d4",
            "5122290743cbf58eabace769e81572e5093a4a48c833eb10"
        );
        assert_eq!(out.as_slice(), unhex::<48>(want).as_slice());
        let x = reduce_mod_p(Curve::P256, &[1, 2, 3]).unwrap();
        assert_eq!(&x.as_slice()[29..], &[1, 2, 3]);
        assert!(x.as_slice()[..29].iter().all(|b| *b == 0));
    }

    #[test]
    fn multiply_agrees_with_ecdh_and_the_generator() {
        for curve in Curve::ALL {
            let d1 = derive_private(curve, &[7u8; 56][..curve.size() + 8]).unwrap();
            let d2 = derive_private(curve, &[9u8; 56][..curve.size() + 8]).unwrap();
            let q2 = public_from_private(curve, d2.expose()).unwrap();
            let (x, y) = multiply(curve, d1.expose(), q2.x.as_slice(), q2.y.as_slice()).unwrap();
            let z = ecdh(curve, d1.expose(), q2.x.as_slice(), q2.y.as_slice()).unwrap();
            assert_eq!(x.expose(), z.expose());
            assert!(validate_point(curve, x.expose(), y.expose()));
        }
    }

    fn hex(s: &str) -> heapless::Vec<u8, 128> {
        let s: heapless::String<256> = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn sha(alg: crate::crypto::hash::HashAlg, m: &[u8]) -> crate::wire::types::Digest {
        alg.digest(&[m])
    }

    /// Order n of each curve (FIPS 186-4 D.1.2.3 / D.1.2.4), for the arithmetic identities.
    const N256: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    const N384: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf\
                        581a0db248b0a77aecec196accc52973";

    /// big-endian `v - k` for small k (test helper, no borrow beyond the low byte chain).
    fn sub_small(v: &[u8], k: u8) -> heapless::Vec<u8, 128> {
        let mut out: heapless::Vec<u8, 128> = heapless::Vec::from_slice(v).unwrap();
        let mut borrow = k as u16;
        for b in out.iter_mut().rev() {
            let x = (*b as u16).wrapping_sub(borrow);
            *b = x as u8;
            borrow = if x > 0xff { 1 } else { 0 };
        }
        out
    }

    fn c_of(v: &[u8]) -> heapless::Vec<u8, 128> {
        // c = v as an integer of size + 8 bytes (8 leading zero bytes).
        let mut c: heapless::Vec<u8, 128> = heapless::Vec::from_slice(&[0; 8]).unwrap();
        c.extend_from_slice(v).unwrap();
        c
    }

    #[test]
    fn curve_ids_and_sizes() {
        assert_eq!(Curve::from_id(3), Some(Curve::P256));
        assert_eq!(Curve::from_id(4), Some(Curve::P384));
        assert_eq!(Curve::from_id(5), None);
        assert_eq!(Curve::from_id(0), None);
        for c in Curve::ALL {
            assert_eq!(Curve::from_id(c.id()), Some(c));
            assert_eq!(usize::from(c.key_bits()), c.size() * 8);
        }
    }

    /// d = (c mod (n − 1)) + 1 at its edges: c = 0 → 1, c = n − 1 → 1, c = n − 2 → n − 1.
    #[test]
    fn derive_private_edges() {
        for (curve, n) in [(Curve::P256, hex(N256)), (Curve::P384, hex(N384))] {
            let size = curve.size();
            let one = {
                let mut v = [0u8; 48];
                v[size - 1] = 1;
                v
            };
            let zero = [0u8; 56];
            let d = derive_private(curve, &zero[..size + 8]).unwrap();
            assert_eq!(d.expose(), &one[..size]);

            let n_1 = sub_small(&n, 1);
            let n_2 = sub_small(&n, 2);
            let d = derive_private(curve, &c_of(&n_1)).unwrap();
            assert_eq!(d.expose(), &one[..size]);
            let d = derive_private(curve, &c_of(&n_2)).unwrap();
            assert_eq!(d.expose(), &n_1[..]);
            // c = n → 2 (n ≡ 1 mod (n − 1)).
            let mut two = one;
            two[size - 1] = 2;
            let d = derive_private(curve, &c_of(&n)).unwrap();
            assert_eq!(d.expose(), &two[..size]);

            // Wrong lengths are refused.
            assert!(derive_private(curve, &zero[..size]).is_none());
            assert!(derive_private(curve, &zero[..size + 7]).is_none());
            assert!(derive_private(curve, &[0u8; 57]).is_none());
            // Every result is a valid key.
            assert!(public_from_private(curve, d.expose()).is_some());
        }
    }

    /// Vectors computed with Python integers: d = int(c) % (n - 1) + 1, c = SHA-512("vtpm derive
    /// 32" / "vtpm derive 48") truncated to size + 8 bytes, and c = 0xff…ff.
    #[test]
    fn derive_private_vectors() {
        let c =
            hex("2ec671945a0ab1708bc940051b74d9f480ba55c8f28a5daf5df2d5c9f2a9905cef44543b5b3371b0");
        let d = derive_private(Curve::P256, &c).unwrap();
        assert_eq!(
            d.expose(),
            &hex("e5d3f17492a3b6f08cfcd7dcd5e16b376846fe284986eb0bb1b5e5a9e53cec71")[..]
        );
        let d = derive_private(Curve::P256, &[0xff; 40]).unwrap();
        assert_eq!(
            d.expose(),
            &hex("fffffffe00000001431905529c0166cd22159165b6faae71f756a572fc632550")[..]
        );
        let c = hex(
            "66fa354f421bf05d88f5faafbd0e44d5bf15246fe808ab6252b2a302a4a09809\
             07750538798778ee49db41dbdddc1c5e23eb8c2d8f625fda",
        );
        let d = derive_private(Curve::P384, &c).unwrap();
        assert_eq!(
            d.expose(),
            &hex(
                "88f5faafbd0e44d5bf15246fe808ab62697866f12457dee83f503c599d43e79b\
                 e9605b751f9eafbc9b835ebf91e17171"
            )[..]
        );
        // A result with leading zero bytes keeps the fixed size.
        let d = derive_private(Curve::P384, &[0xff; 56]).unwrap();
        assert_eq!(
            d.expose(),
            &hex(
                "00000000000000000000000000000000389cb27e0bc8d220a7e5f24db74f5885\
                 1313e695333ad68e0000000000000000"
            )[..]
        );
    }

    #[test]
    fn random_private_draws_size_plus_8() {
        for curve in Curve::ALL {
            let mut asked = 0;
            let d = random_private(curve, |b| {
                asked = b.len();
                b.fill(0x5a);
            })
            .unwrap();
            assert_eq!(asked, curve.size() + 8);
            assert_eq!(d.len(), curve.size());
            let c = [0x5a; 56];
            assert_eq!(
                derive_private(curve, &c[..curve.size() + 8])
                    .unwrap()
                    .expose(),
                d.expose()
            );
            assert!(public_from_private(curve, d.expose()).is_some());
        }
    }

    #[test]
    fn try_random_private_passes_errors_through() {
        for curve in Curve::ALL {
            let d = try_random_private(curve, |b| {
                b.fill(0x5a);
                Ok::<(), ()>(())
            })
            .unwrap()
            .unwrap();
            assert_eq!(
                d.expose(),
                random_private(curve, |b| b.fill(0x5a)).unwrap().expose()
            );
            assert_eq!(
                try_random_private(curve, |_| Err::<(), u8>(7)).err(),
                Some(7)
            );
        }
    }

    #[test]
    fn private_scalar_range() {
        for (curve, n) in [(Curve::P256, hex(N256)), (Curve::P384, hex(N384))] {
            let size = curve.size();
            assert!(public_from_private(curve, &[0u8; 48][..size]).is_none());
            assert!(public_from_private(curve, &n).is_none());
            assert!(public_from_private(curve, &[0xff; 48][..size]).is_none());
            assert!(public_from_private(curve, &sub_small(&n, 1)).is_some());
            assert!(public_from_private(curve, &[0u8; 49]).is_none());
            // d = 1 → G, also as a short (unpadded) scalar.
            let g = public_from_private(curve, &[1]).unwrap();
            assert!(validate_point(curve, g.x.as_slice(), g.y.as_slice()));
            assert_eq!(g.x.len(), size);
        }
    }

    /// RFC 6979 A.2.5: P-256, key pair, and ECDSA with SHA-256 over "sample" (deterministic k).
    #[test]
    fn rfc6979_p256_sha256_sample() {
        use crate::crypto::hash::HashAlg;
        let d = hex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721");
        let q = public_from_private(Curve::P256, &d).unwrap();
        let ux = hex("60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6");
        let uy = hex("7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299");
        assert_eq!(q.x.as_slice(), &ux[..]);
        assert_eq!(q.y.as_slice(), &uy[..]);
        let digest = sha(HashAlg::Sha256, b"sample");
        let sig = ecdsa_sign(Curve::P256, &d, digest.as_slice(), &[]).unwrap();
        let r = hex("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716");
        let s = hex("F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8");
        assert_eq!(sig.r.as_slice(), &r[..]);
        assert_eq!(sig.s.as_slice(), &s[..]);
        assert!(ecdsa_verify(
            Curve::P256,
            &ux,
            &uy,
            digest.as_slice(),
            &r,
            &s
        ));
        let other = sha(HashAlg::Sha256, b"samplf");
        assert!(!ecdsa_verify(
            Curve::P256,
            &ux,
            &uy,
            other.as_slice(),
            &r,
            &s
        ));
        assert!(!ecdsa_verify(
            Curve::P256,
            &ux,
            &uy,
            digest.as_slice(),
            &s,
            &r
        ));
    }

    /// RFC 6979 A.2.6: P-384, key pair, and ECDSA with SHA-384 over "sample" (deterministic k).
    #[test]
    fn rfc6979_p384_sha384_sample() {
        use crate::crypto::hash::HashAlg;
        let d = hex("6B9D3DAD2E1B8C1C05B19875B6659F4DE23C3B667BF297BA\
             9AA47740787137D896D5724E4C70A825F872C9EA60D2EDF5");
        let q = public_from_private(Curve::P384, &d).unwrap();
        let ux = hex("EC3A4E415B4E19A4568618029F427FA5DA9A8BC4AE92E02E\
             06AAE5286B300C64DEF8F0EA9055866064A254515480BC13");
        let uy = hex("8015D9B72D7D57244EA8EF9AC0C621896708A59367F9DFB9\
             F54CA84B3F1C9DB1288B231C3AE0D4FE7344FD2533264720");
        assert_eq!(q.x.as_slice(), &ux[..]);
        assert_eq!(q.y.as_slice(), &uy[..]);
        let digest = sha(HashAlg::Sha384, b"sample");
        let sig = ecdsa_sign(Curve::P384, &d, digest.as_slice(), &[]).unwrap();
        let r = hex("94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA7\
             3D64C4EA95AD133C81A648152E44ACF96E36DD1E80FABE46");
        let s = hex("99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526\
             203B6351D0A3A94FA329C145786E679E7B82C71A38628AC8");
        assert_eq!(sig.r.as_slice(), &r[..]);
        assert_eq!(sig.s.as_slice(), &s[..]);
        assert!(ecdsa_verify(
            Curve::P384,
            &ux,
            &uy,
            digest.as_slice(),
            &r,
            &s
        ));
    }

    /// Hedged signatures differ from the deterministic one and from each other, and verify.
    #[test]
    fn hedged_signatures_verify() {
        use crate::crypto::hash::HashAlg;
        for curve in Curve::ALL {
            let d = derive_private(curve, &[7u8; 56][..curve.size() + 8]).unwrap();
            let q = public_from_private(curve, d.expose()).unwrap();
            for alg in HashAlg::ALL {
                let digest = sha(alg, b"hedged");
                let det = ecdsa_sign(curve, d.expose(), digest.as_slice(), &[]).unwrap();
                let h1 = ecdsa_sign(curve, d.expose(), digest.as_slice(), &[1; 48]).unwrap();
                let h2 = ecdsa_sign(curve, d.expose(), digest.as_slice(), &[2; 48]).unwrap();
                assert_ne!(det.r, h1.r);
                assert_ne!(h1.r, h2.r);
                for sig in [det, h1, h2] {
                    assert_eq!(sig.r.len(), curve.size());
                    assert!(ecdsa_verify(
                        curve,
                        q.x.as_slice(),
                        q.y.as_slice(),
                        digest.as_slice(),
                        sig.r.as_slice(),
                        sig.s.as_slice()
                    ));
                }
            }
        }
    }

    /// Signatures over digests of another size than the curve (FIPS 186-4 truncation), made by
    /// Python `cryptography` (OpenSSL): `key.sign(digest, ECDSA(Prehashed(H)))` with
    /// d = SHA-512("vtpm sign " + curve name) mod (n − 1) + 1 and digest = H("vtpm").
    #[test]
    fn cross_hash_vectors_from_openssl() {
        use crate::crypto::hash::HashAlg;
        struct V {
            curve: Curve,
            alg: HashAlg,
            d: &'static str,
            x: &'static str,
            y: &'static str,
            r: &'static str,
            s: &'static str,
        }
        let p256_d = "9aca2af7d210bd28830f606c1627f5198fcc8025e1d89040f35d02e46b84b998";
        let p256_x = "cc01cb24620e567779ced1f4c0df05b537365d62998a0871710c4f938dd1978d";
        let p256_y = "7d557033f63f3db2a8041e1137fbd9accbf0c9f6d256991b4c3137ccc6ec50a9";
        let vectors = [
            V {
                curve: Curve::P256,
                alg: HashAlg::Sha512,
                d: p256_d,
                x: p256_x,
                y: p256_y,
                r: "911d30d7a30e4352b0fe0e0715f5d2ce79c1ee74418d96145605d83e4f226cef",
                s: "77b05c9cefb35e6fb6f2b8eaf317b7914c351570243c6b8d66650ccab13745d9",
            },
            V {
                curve: Curve::P256,
                alg: HashAlg::Sha384,
                d: p256_d,
                x: p256_x,
                y: p256_y,
                r: "48a0561b4eb5d8fab2ac223685bf30edfb7c14105b10324ab314b9840f94acb8",
                s: "df52a85e520621a7c8f4c3107b1efd2a6f56e8dfc888ee46d541ed5a58e4df60",
            },
            V {
                curve: Curve::P384,
                alg: HashAlg::Sha256,
                d: "aefbdf500be6e90c805d23eea8cae499894625d6f4f00621\
                    800dee2ead8c60681de09ee78ebd9a6f0fbdae96b91af500",
                x: "2814383e7670db20f5b2bde216cdd1fc30927e66e3c32800\
                    0896bb53987e725157440aa5ff4792847d448e0e8a6f7494",
                y: "552c382178368d9a2575be2a1c9bfdb9f77405da608a982a\
                    1ae252f8d65add2fdf15e5cc54510e8053b40cd669645044",
                r: "07279ea1d2efd0235701b203ac5a5159f36642ce481a1232\
                    ecb1845c4aa05d6206079430d262ec3ef750bb1cca5226a0",
                s: "d34ddf04260b210d5114bf32ec8433b5c25dee9102da11d9\
                    aa620661bbb989dfb33a1fcbf43ea7ab48ec11dbc767b225",
            },
        ];
        for v in vectors {
            let digest = sha(v.alg, b"vtpm");
            let (x, y) = (hex(v.x), hex(v.y));
            let q = public_from_private(v.curve, &hex(v.d)).unwrap();
            assert_eq!(q.x.as_slice(), &x[..]);
            assert_eq!(q.y.as_slice(), &y[..]);
            let (r, s) = (hex(v.r), hex(v.s));
            assert!(ecdsa_verify(v.curve, &x, &y, digest.as_slice(), &r, &s));
            // r with its leading zero byte stripped is the same integer.
            if r[0] == 0 {
                assert!(ecdsa_verify(
                    v.curve,
                    &x,
                    &y,
                    digest.as_slice(),
                    &r[1..],
                    &s
                ));
            }
            // Truncation, not reduction of the whole digest: flipping a bit beyond bits(n)
            // changes nothing for long digests, and any bit within it breaks the signature.
            let mut d2 = digest;
            let n = d2.len();
            d2.as_mut_slice()[0] ^= 1;
            assert!(!ecdsa_verify(v.curve, &x, &y, d2.as_slice(), &r, &s));
            if n > v.curve.size() {
                let mut d3 = digest;
                d3.as_mut_slice()[n - 1] ^= 1;
                assert!(ecdsa_verify(v.curve, &x, &y, d3.as_slice(), &r, &s));
            }
        }
    }

    /// Our deterministic signature over a short digest (P-384, SHA-256("vtpm")), checked once
    /// with Python `cryptography`: `public_key.verify(encode_dss_signature(r, s), digest,
    /// ECDSA(Prehashed(SHA256())))` accepted it.
    #[test]
    fn p384_sha256_deterministic_checked_by_openssl() {
        use crate::crypto::hash::HashAlg;
        let d = hex("aefbdf500be6e90c805d23eea8cae499894625d6f4f00621\
             800dee2ead8c60681de09ee78ebd9a6f0fbdae96b91af500");
        let digest = sha(HashAlg::Sha256, b"vtpm");
        let sig = ecdsa_sign(Curve::P384, &d, digest.as_slice(), &[]).unwrap();
        assert_eq!(sig.r.as_slice(), &hex(P384_SHA256_R)[..]);
        assert_eq!(sig.s.as_slice(), &hex(P384_SHA256_S)[..]);
    }

    const P384_SHA256_R: &str = "a9af883a5a8d5119d241e76953a0a82366a214b7303219bf\
                                 6b169bc5ec5dbc4687c6f6dec533fa355dc19e3146d39bf9";
    const P384_SHA256_S: &str = "7289dbb93a88079ab41d3d76c9ae37f9da7a29708a8cfaae\
                                 c4520225b7fb852c02b5a314b4bc4a05d9c717d9becc6b64";

    #[test]
    fn verify_rejects_bad_inputs() {
        use crate::crypto::hash::HashAlg;
        let curve = Curve::P256;
        let d = hex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721");
        let q = public_from_private(curve, &d).unwrap();
        let digest = sha(HashAlg::Sha256, b"sample");
        let sig = ecdsa_sign(curve, &d, digest.as_slice(), &[]).unwrap();
        let (x, y, r, s) = (
            q.x.as_slice(),
            q.y.as_slice(),
            sig.r.as_slice(),
            sig.s.as_slice(),
        );
        let dg = digest.as_slice();
        assert!(ecdsa_verify(curve, x, y, dg, r, s));
        let n = hex(N256);
        assert!(!ecdsa_verify(curve, x, y, dg, &[0; 32], s));
        assert!(!ecdsa_verify(curve, x, y, dg, r, &[0; 32]));
        assert!(!ecdsa_verify(curve, x, y, dg, &n, s));
        assert!(!ecdsa_verify(curve, x, y, dg, r, &[0xff; 32]));
        assert!(!ecdsa_verify(curve, x, y, dg, r, &[0; 33]));
        assert!(!ecdsa_verify(curve, x, x, dg, r, s));
        assert!(!ecdsa_verify(Curve::P384, x, y, dg, r, s));
        assert!(ecdsa_sign(curve, &[0; 32], dg, &[]).is_none());
        assert!(ecdsa_sign(curve, &n, dg, &[]).is_none());
    }

    #[test]
    fn validate_point_rules() {
        for curve in Curve::ALL {
            let size = curve.size();
            let g = public_from_private(curve, &[1]).unwrap();
            let (x, y) = (g.x.as_slice(), g.y.as_slice());
            assert!(validate_point(curve, x, y));
            // Off the curve.
            let mut y2 = g.y;
            y2.as_mut_slice()[size - 1] ^= 1;
            assert!(!validate_point(curve, x, y2.as_slice()));
            // The identity has no affine encoding; (0, 0) is not on either curve.
            assert!(!validate_point(curve, &[0; 48][..size], &[0; 48][..size]));
            assert!(!validate_point(curve, &[], &[]));
            // Too long, even with a leading zero.
            let mut long: heapless::Vec<u8, 64> = heapless::Vec::new();
            long.push(0).unwrap();
            long.extend_from_slice(x).unwrap();
            assert!(!validate_point(curve, &long, y));
            // Coordinates ≥ p are refused (x + p would otherwise alias x).
            assert!(!validate_point(curve, &[0xff; 48][..size], y));
        }
        // The other curve's generator is not on this one.
        let g384 = public_from_private(Curve::P384, &[1]).unwrap();
        assert!(!validate_point(
            Curve::P256,
            &g384.x.as_slice()[..32],
            &g384.y.as_slice()[..32]
        ));
    }

    /// NIST CAVS 14.1 ECC CDH Primitive (KAS_ECC_CDH_PrimitiveTest.txt), [P-256] COUNT = 0.
    #[test]
    fn cavs_ecdh_p256_count0() {
        let qx = hex("700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287");
        let qy = hex("db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac");
        let d = hex("7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534");
        let q = public_from_private(Curve::P256, &d).unwrap();
        assert_eq!(
            q.x.as_slice(),
            &hex("ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b230")[..]
        );
        assert_eq!(
            q.y.as_slice(),
            &hex("28af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141")[..]
        );
        let z = ecdh(Curve::P256, &d, &qx, &qy).unwrap();
        assert_eq!(
            z.expose(),
            &hex("46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b")[..]
        );
        let mut bad = qy.clone();
        bad[31] ^= 1;
        assert!(ecdh(Curve::P256, &d, &qx, &bad).is_none());
    }

    /// P-384 vector from Python `cryptography` (OpenSSL): d1 = SHA-512("vtpm ecdh 1") mod
    /// (n − 1) + 1, Q2 = d2·G with d2 from "vtpm ecdh 2", Z = d1.exchange(ECDH(), Q2); and the
    /// round trip d1·Q2 == d2·Q1 on both curves.
    #[test]
    fn ecdh_p384_vector_and_round_trip() {
        let d1 = hex("82d2a830b4f02f9f4fd930f099b9dd1e7d41dfb38832b7f6\
             d630b75d8d8c141fb8bf1637d6a8131f9c4ea92385750487");
        let q2x = hex("651d454311d1856a63c5d12467461fad024b6c7ff669a520\
             52be82e7b4f6b5380dc315ddffcf8774bd4da5f5c453854e");
        let q2y = hex("c266d4e7e49cae40d6677160651f8591825471786cd12f63\
             a324fa8f0080ced7207ebbf9ab5398ba896589ae93d7c6e1");
        let z = ecdh(Curve::P384, &d1, &q2x, &q2y).unwrap();
        assert_eq!(
            z.expose(),
            &hex("eebb04e8d4495befc90efa6a788fa22a3a683fa4277f7233\
                 6175a25a2cb6a064ad5ccc5c00adbfe56b3b926c095364ec")[..]
        );
        for curve in Curve::ALL {
            let size = curve.size();
            let a = random_private(curve, |b| b.fill(0x11)).unwrap();
            let b = random_private(curve, |b| b.fill(0x22)).unwrap();
            let qa = public_from_private(curve, a.expose()).unwrap();
            let qb = public_from_private(curve, b.expose()).unwrap();
            let z1 = ecdh(curve, a.expose(), qb.x.as_slice(), qb.y.as_slice()).unwrap();
            let z2 = ecdh(curve, b.expose(), qa.x.as_slice(), qa.y.as_slice()).unwrap();
            assert_eq!(z1.len(), size);
            assert_eq!(z1.expose(), z2.expose());
            assert!(ecdh(curve, &[0; 48][..size], qa.x.as_slice(), qa.y.as_slice()).is_none());
        }
    }

    #[test]
    fn secrets_are_redacted() {
        let d = derive_private(Curve::P256, &[3; 40]).unwrap();
        let mut s: heapless::String<64> = heapless::String::new();
        core::fmt::write(&mut s, format_args!("{d:?}")).unwrap();
        assert_eq!(s.as_str(), "[REDACTED]");
    }
}
