//! RSA-2048 for the TPM's RSA objects (Part 1 Annex B): key generation, the public and private
//! operations (RSAEP / RSADP, PKCS #1 v2.2 = RFC 8017 §5.1), RSASSA-PKCS1-v1_5 (§8.2),
//! RSASSA-PSS (§8.1), RSAES-OAEP (§7.1) and RSAES-PKCS1-v1_5 (§7.2).
//!
//! Everything lives on the stack: the integers are crypto-bigint's fixed-size `U2048` / `U1024`
//! with its Montgomery arithmetic, and primes pass crypto-primes' Miller-Rabin test (FIPS 186-5
//! B.3.1) after our small-prime sieve (a compile-time table of the odd primes below 2^15; the
//! residues are the library's division by a limb).
//! No crypto-bigint or crypto-primes type leaves this module: the API speaks big-endian bytes.
//! The padding encodings, the CRT recombination and the blinding are ours.
//!
//! Private-key operations run in constant time in the secret values (constant-time Montgomery
//! exponentiation, division and inversion; padding checks with `subtle`), blind their input
//! with a fresh random `r` and check their result with the public operation (against faults).
//! Primes, private exponents, blinding factors and decrypted blocks are wiped on drop.
//!
//! A TPM command runs on a 16 KiB stack, and a Montgomery form carries a copy of its modulus
//! parameters (about 1 KiB mod n): the work is split into `#[inline(never)]` steps that each
//! hold few of them, and the library's windowed exponentiation (a 4 KiB table mod n) is kept
//! off the public-exponent path. Each public function stays within about 10 KiB of stack.

use crate::crypto::drbg::HmacDrbg;
use crate::crypto::hash::{HashAlg, HashState};
use core::convert::Infallible;
use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{
    Limb, MontyForm, MontyMultiplier as _, NonZero, Odd, RandomBits as _, RandomMod as _, U64,
    U1024, U2048, Uint, Word,
};
use crypto_primes::hazmat::MillerRabin;
use subtle::{Choice, ConditionallySelectable as _, ConstantTimeEq as _, ConstantTimeLess as _};
use zeroize::{Zeroize, Zeroizing};

/// Bytes of an RSA-2048 modulus, signature or ciphertext (k in RFC 8017).
pub const RSA_BYTES: usize = 256;

/// Bytes of one prime of an RSA-2048 key (the TPM's TPM2B_PRIVATE_KEY_RSA holds one).
pub const PRIME_BYTES: usize = 128;

/// The public exponent 2^16 + 1 (Part 2 TPMS_RSA_PARMS: an exponent of zero means this one).
pub const DEFAULT_EXPONENT: u32 = 65537;

/// Bits of one prime.
const PRIME_BITS: u32 = 1024;

/// Limbs of the modulus and of a prime.
const N_LIMBS: usize = U2048::LIMBS;
const P_LIMBS: usize = U1024::LIMBS;

/// An integer mod n / mod p in Montgomery form.
type ModN = FixedMontyForm<N_LIMBS>;
type ModP = FixedMontyForm<P_LIMBS>;

/// Miller-Rabin rounds with random bases for a 1024-bit candidate (FIPS 186-5 B.3.1). Table B.1
/// asks 4 for an error probability of at most 2^-100 and 5 for 2^-112; we run 6, the count for
/// 2^-128 by the same bound (FIPS 186-5 C.1, Damgård-Landrock-Pomerance; crypto-primes'
/// `minimum_mr_iterations`, checked in the tests). No Lucas test: FIPS 186-5 does not require
/// one after enough M-R rounds, and crypto-primes' `lucas_test` alone takes an 11 KiB frame
/// (with a recursive square root and more panic sites), which a 16 KiB command stack cannot
/// hold beside the rest of key generation.
const MR_ROUNDS: usize = 6;

/// |p − q| must exceed 2^(nlen/2 − 100) (FIPS 186-5 A.1.3 step 5.4 / 6.4).
const MIN_PRIME_DISTANCE_BITS: u32 = PRIME_BITS - 100;

/// Attempts at a second prime far enough from the first, at a sieve start, and at an invertible
/// blinding factor. Each fails with negligible probability; running out means the random source
/// or the key is broken.
const MAX_ATTEMPTS: usize = 16;

/// Why an RSA operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaError {
    /// Input integer >= modulus, message too long for the padding, bad input length
    /// (TPM_RC_VALUE).
    Value,
    /// Decryption padding check failed (TPM_RC_VALUE in the reference, kept distinct here).
    Padding,
    /// Signature does not verify (TPM_RC_SIGNATURE).
    Signature,
    /// Key material inconsistent: prime does not divide n, wrong sizes, e not usable
    /// (TPM_RC_BINDING / TPM_RC_KEY).
    Key,
    /// The random source failed (TPM_RC_FAILURE / NO_RESULT).
    Rng,
}

/// One RSA prime (big-endian, [`PRIME_BYTES`]), zeroized on drop; `Debug` prints `[REDACTED]`.
pub struct RsaPrime([u8; PRIME_BYTES]);

impl RsaPrime {
    /// The prime, big-endian.
    pub fn expose(&self) -> &[u8; PRIME_BYTES] {
        &self.0
    }
}

impl Drop for RsaPrime {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl core::fmt::Debug for RsaPrime {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

// ---------------------------------------------------------------------------------------------
// Integers <-> bytes
// ---------------------------------------------------------------------------------------------

/// The big-endian integer `bytes` (at most `L` limbs of bytes, shorter ones left-padded).
/// The word array it is assembled in is wiped (the bytes may be a prime).
fn uint_from_be<const L: usize>(bytes: &[u8]) -> Option<Uint<L>> {
    if bytes.len() > L.saturating_mul(Limb::BYTES) {
        return None;
    }
    let mut words = Zeroizing::new([Word::default(); L]);
    for (word, chunk) in words.iter_mut().zip(bytes.rchunks(Limb::BYTES)) {
        *word = chunk
            .iter()
            .fold(0, |acc: Word, b| acc.wrapping_shl(8) | Word::from(*b));
    }
    Some(Uint::from_words(*words))
}

/// `x` big-endian into `out`, which holds exactly `L` limbs of bytes (else nothing is written).
fn uint_to_be<const L: usize>(x: &Uint<L>, out: &mut [u8]) {
    let (rest, chunks) = out.as_rchunks_mut::<{ Limb::BYTES }>();
    if !rest.is_empty() || chunks.len() != L {
        return;
    }
    for (chunk, word) in chunks.iter_mut().rev().zip(x.as_words()) {
        *chunk = word.to_be_bytes();
    }
}

/// `dst = src` when the lengths agree (they always do where this is called; checking first
/// keeps a panic out of the code).
fn copy(dst: &mut [u8], src: &[u8]) -> Result<(), RsaError> {
    if dst.len() != src.len() {
        return Err(RsaError::Value);
    }
    dst.copy_from_slice(src);
    Ok(())
}

/// `dst ^= src` over the shorter of the two.
fn xor_into(dst: &mut [u8], src: &[u8]) {
    dst.iter_mut().zip(src).for_each(|(d, s)| *d ^= *s);
}

// ---------------------------------------------------------------------------------------------
// The random source
// ---------------------------------------------------------------------------------------------

/// The DRBG as the infallible `rand_core` generator crypto-primes takes. A DRBG error is
/// remembered and zeros are handed out from then on; the operation that used the generator
/// checks [`DrbgRng::check`] when it ends and discards everything it produced.
struct DrbgRng<'a> {
    drbg: &'a mut HmacDrbg,
    failed: bool,
}

impl<'a> DrbgRng<'a> {
    fn new(drbg: &'a mut HmacDrbg) -> Self {
        Self {
            drbg,
            failed: false,
        }
    }

    fn check(&self) -> Result<(), RsaError> {
        if self.failed {
            Err(RsaError::Rng)
        } else {
            Ok(())
        }
    }
}

impl rand_core::TryRng for DrbgRng<'_> {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        if !self.failed && self.drbg.generate(dst, &[]).is_err() {
            self.failed = true;
        }
        if self.failed {
            dst.fill(0);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for DrbgRng<'_> {}

/// `out` filled from the DRBG.
fn random(rng: &mut HmacDrbg, out: &mut [u8]) -> Result<(), RsaError> {
    rng.generate(out, &[]).map_err(|_| RsaError::Rng)
}

// ---------------------------------------------------------------------------------------------
// Keys and the raw operations
// ---------------------------------------------------------------------------------------------

/// The exponent to use: 0 means 65537 (Part 2 TPMS_RSA_PARMS); it must be odd and at least 3.
fn exponent(e: u32) -> Result<u32, RsaError> {
    let e = if e == 0 { DEFAULT_EXPONENT } else { e };
    if e < 3 || e & 1 == 0 {
        return Err(RsaError::Key);
    }
    Ok(e)
}

/// The public modulus: exactly [`RSA_BYTES`] bytes, top bit set, odd, else `Key`.
fn public_modulus(n: &[u8]) -> Result<Odd<U2048>, RsaError> {
    if n.len() != RSA_BYTES || n.first().is_none_or(|b| b & 0x80 == 0) {
        return Err(RsaError::Key);
    }
    let n = uint_from_be::<N_LIMBS>(n).ok_or(RsaError::Key)?;
    Odd::new(n).into_option().ok_or(RsaError::Key)
}

/// Montgomery parameters of n into `out`, built in variable time (n is public).
#[inline(never)]
fn modulus_params(n: &Odd<U2048>, out: &mut FixedMontyParams<N_LIMBS>) {
    *out = FixedMontyParams::new_vartime(*n);
}

/// Montgomery parameters (of 3, public) standing in for a modulus not set yet.
const NO_MODULUS: FixedMontyParams<N_LIMBS> = FixedMontyParams::new_vartime(NO_N);

/// The modulus (3, public) of a key not loaded.
const NO_N: Odd<U2048> = U2048::from_u32(3).to_odd().expect_copied("3 is odd");

/// The integer `input` (at most [`RSA_BYTES`] bytes, left-padded) if it is below n (RFC 8017
/// §5.1.1 / §5.2.2 step 1), else `Value`.
fn below_modulus(input: &[u8], n: &U2048) -> Result<U2048, RsaError> {
    let x = uint_from_be::<N_LIMBS>(input).ok_or(RsaError::Value)?;
    if x >= *n {
        return Err(RsaError::Value);
    }
    Ok(x)
}

/// `acc` = x^e for a public exponent e: left-to-right square-and-multiply over the bits of e
/// with the library's Montgomery multiplier, in place (sixteen squarings and one
/// multiplication for 65537). Not the library's windowed `pow_vartime`: its table of sixteen
/// powers alone is 4 KiB for a 2048-bit modulus, on a 16 KiB command stack.
fn pow_e<const L: usize>(x: &FixedMontyForm<L>, e: u32, acc: &mut FixedMontyForm<L>) {
    let mut mm = <FixedMontyForm<L> as MontyForm>::Multiplier::from(x.params());
    *acc = *x;
    let top = u32::BITS
        .saturating_sub(e.leading_zeros())
        .saturating_sub(1);
    for bit in (0..top).rev() {
        mm.square_assign(acc);
        if e.checked_shr(bit).is_some_and(|b| b & 1 == 1) {
            mm.mul_assign(acc, x);
        }
    }
}

/// m^e ≡ c (mod n), in a frame of its own (beside the making of n's parameters).
#[inline(never)]
fn raises_to(n: &FixedMontyParams<N_LIMBS>, e: u32, m: &U2048, c: &U2048) -> bool {
    let m = Zeroizing::new(ModN::new(m, n));
    let mut back = Zeroizing::new(*m);
    pow_e(&m, e, &mut back);
    crypto_bigint::CtEq::ct_eq(&back.retrieve(), c).to_bool()
}

/// x^e mod n, big-endian into `out` (a frame of its own).
#[inline(never)]
fn public_pow(n: &FixedMontyParams<N_LIMBS>, e: u32, x: &U2048, out: &mut [u8; RSA_BYTES]) {
    let x = ModN::new(x, n);
    let mut y = x;
    pow_e(&x, e, &mut y);
    uint_to_be(&y.retrieve(), out);
}

/// The public operation m^e mod n (RSAEP / RSAVP1, RFC 8017 §5.1.1, §5.2.2). `input` is a
/// big-endian integer of at most [`RSA_BYTES`] bytes (shorter ones are left-padded); one at or
/// above n is `Value`. `n` is exactly [`RSA_BYTES`] bytes with the top bit set, else `Key`; so is an
/// even e or one below 3 (0 means 65537).
pub fn public_op(n: &[u8], e: u32, input: &[u8]) -> Result<[u8; RSA_BYTES], RsaError> {
    let e = exponent(e)?;
    let n = public_modulus(n)?;
    let x = below_modulus(input, &n)?;
    let mut params = NO_MODULUS;
    modulus_params(&n, &mut params);
    let mut out = [0u8; RSA_BYTES];
    public_pow(&params, e, &x, &mut out);
    Ok(out)
}

/// An RSA-2048 private key ready for use: n, e, the primes p and q and the CRT values
/// dP = e^-1 mod (p − 1), dQ = e^-1 mod (q − 1), qInv = q^-1 mod p (RFC 8017 §3.2 second
/// representation), with the Montgomery parameters of p and q computed once (n's are made for
/// the check after each private operation, the only place they serve).
///
/// A key is 1.4 KiB: it is made where it lives, [`RsaPrivate::EMPTY`] filled by
/// [`RsaPrivate::load`], rather than returned by value.
/// Zeroized on drop; `Debug` prints only e.
pub struct RsaPrivate {
    n: Odd<U2048>,
    e: u32,
    p: FixedMontyParams<P_LIMBS>,
    q: FixedMontyParams<P_LIMBS>,
    dp: U1024,
    dq: U1024,
    /// qInv in Montgomery form mod p.
    qinv: U1024,
    /// Whether [`RsaPrivate::load`] succeeded: an empty key does no private operation.
    loaded: bool,
}

impl Drop for RsaPrivate {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl core::fmt::Debug for RsaPrivate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RsaPrivate")
            .field("e", &self.e)
            .field("key", &format_args!("[REDACTED]"))
            .finish()
    }
}

/// x = quotient · m + remainder for a 2048-bit x and a 1024-bit m, into `quotient` and
/// `remainder` (the library's constant-time division: m is a prime). One copy of it serves the
/// cofactor and the reductions of the CRT halves.
#[inline(never)]
fn div_rem_wide(x: &U2048, m: &NonZero<U1024>, quotient: &mut U2048, remainder: &mut U1024) {
    (*quotient, *remainder) = x.div_rem(m);
}

/// q = n / p: exact and within 1024 bits, else `Key` (constant-time division: p is secret).
#[inline(never)]
fn cofactor(n: &U2048, p: &Odd<U1024>) -> Result<Zeroizing<U1024>, RsaError> {
    let mut q = Zeroizing::new(U2048::ZERO);
    let mut rem = Zeroizing::new(U1024::ZERO);
    div_rem_wide(n, p.as_nz_ref(), &mut q, &mut rem);
    if bool::from(rem.is_nonzero()) {
        return Err(RsaError::Key);
    }
    let q = q.resize_checked::<P_LIMBS>().into_option();
    Ok(Zeroizing::new(q.ok_or(RsaError::Key)?))
}

/// The CRT exponent of one prime, d = e^-1 mod (p − 1) (RFC 8017 §3.2), into `out`; `Key` if
/// gcd(e, p − 1) ≠ 1.
///
/// e is small, so the inversion is one modulo e instead of one modulo p − 1 (which is even, and
/// 1024 bits wide): with p − 1 = a·e + r (0 ≤ r < e) and k = −r^-1 mod e, e divides
/// 1 + k·(p − 1), and d = (1 + k·(p − 1)) / e = k·a + (1 + k·r) / e, which is below p − 1.
/// Constant time: the library's division by a limb, its safegcd inversion modulo e on one
/// word, and products that fit their types (k, r < e < 2^32).
#[inline(never)]
fn crt_exponent(e: u32, p: &Odd<U1024>, out: &mut U1024) -> Result<(), RsaError> {
    let e_limb = NonZero::new(Limb::from_u32(e))
        .into_option()
        .ok_or(RsaError::Key)?;
    let e_odd = Odd::new(U64::from_u32(e))
        .into_option()
        .ok_or(RsaError::Key)?;
    let pm1 = Zeroizing::new(p.wrapping_sub(&U1024::ONE));
    let (a, r) = pm1.div_rem_limb(e_limb);
    let (a, r) = (Zeroizing::new(a), Zeroizing::new(U64::from(r)));
    let r_inv = r
        .invert_odd_mod(&e_odd)
        .into_option()
        .ok_or(RsaError::Key)?;
    let r_inv = Zeroizing::new(r_inv);
    // k = e − r^-1 with r^-1 in [1, e − 1]: k·r ≡ −1 (mod e), and 1 + k·r < e^2 fits.
    let k = Zeroizing::new(e_odd.wrapping_sub(&r_inv));
    let t = Zeroizing::new(k.wrapping_mul(&r).wrapping_add(&U64::ONE));
    let (j, rem) = t.div_rem_limb(e_limb);
    let j = Zeroizing::new(j);
    if rem != Limb::ZERO {
        return Err(RsaError::Key);
    }
    // k·a ≤ (e − 1)·(p − 1) / e: no overflow.
    *out = a.wrapping_mul(&k).wrapping_add(&j.resize::<P_LIMBS>());
    Ok(())
}

/// The Montgomery parameters of a prime, into `out` (constant time: the prime is secret).
#[inline(never)]
fn prime_params(p: &Odd<U1024>, out: &mut FixedMontyParams<P_LIMBS>) {
    *out = FixedMontyParams::new(*p);
}

/// Montgomery parameters (of 3, public) standing in for a prime's in a key not loaded.
const NO_PRIME: FixedMontyParams<P_LIMBS> =
    FixedMontyParams::new_vartime(U1024::from_u32(3).to_odd().expect_copied("3 is odd"));

/// x^-1 mod p in Montgomery form into `out` (constant time), `false` if there is none. A frame
/// of its own holding little: the library's safegcd inversion below it is the deepest step of
/// loading a key and of the private operation.
#[inline(never)]
fn invert(x: &ModP, out: &mut U1024) -> bool {
    match x.invert().into_option() {
        Some(inv) => {
            let inv = Zeroizing::new(inv);
            *out = *inv.as_montgomery();
            true
        }
        None => false,
    }
}

/// qInv = q^-1 mod p in Montgomery form mod p, into `out`; `Key` if there is none (p = q).
#[inline(never)]
fn crt_coefficient(
    p: &FixedMontyParams<P_LIMBS>,
    q: &Odd<U1024>,
    out: &mut U1024,
) -> Result<(), RsaError> {
    let q_mod_p = Zeroizing::new(ModP::new(q, p));
    if invert(&q_mod_p, out) {
        Ok(())
    } else {
        Err(RsaError::Key)
    }
}

/// The blinding values of one CRT half, in Montgomery form mod p: r^e and r^-1 for r from
/// `r_bytes` (a 1024-bit big-endian value, reduced mod p). `false` if r ≡ 0 mod p.
#[inline(never)]
fn blinding(
    p: &FixedMontyParams<P_LIMBS>,
    e: u32,
    r_bytes: &[u8],
    r_e: &mut U1024,
    r_inv: &mut U1024,
) -> bool {
    let Some(r) = uint_from_be::<P_LIMBS>(r_bytes) else {
        return false;
    };
    let r = Zeroizing::new(r);
    let r = Zeroizing::new(ModP::new(&r, p));
    if !invert(&r, r_inv) {
        return false;
    }
    let mut pow = Zeroizing::new(*r);
    pow_e(&r, e, &mut pow);
    *r_e = *pow.as_montgomery();
    true
}

/// x = x^d mod p, constant time (the library's Almost Montgomery Multiplication ladder).
#[inline(never)]
fn pow_secret(x: &mut ModP, d: &U1024) {
    *x = x.pow_amm(d);
}

/// (c·r^e)^d · r^-1 mod p for one CRT half, into `out` (normal form): p's parameters, d = dP,
/// r from `r_bytes` (see [`blinding`]). `false` if r ≡ 0 mod p. Constant-time arithmetic
/// throughout (the reduction of c, the exponentiation, the safegcd inversion). The blinding
/// values are made in a frame of their own, beside the exponentiation's.
#[inline(never)]
fn blinded_pow(
    c: &U2048,
    p: &FixedMontyParams<P_LIMBS>,
    d: &U1024,
    e: u32,
    r_bytes: &[u8],
    out: &mut U1024,
) -> bool {
    let mut r_e = Zeroizing::new(U1024::ZERO);
    let mut r_inv = Zeroizing::new(U1024::ZERO);
    if !blinding(p, e, r_bytes, &mut r_e, &mut r_inv) {
        return false;
    }
    unblinded_pow(c, p, d, &r_e, &r_inv, out);
    true
}

/// (c·r^e)^d · r^-1 mod p into `out`, given r^e and r^-1 in Montgomery form mod p.
#[inline(never)]
fn unblinded_pow(
    c: &U2048,
    p: &FixedMontyParams<P_LIMBS>,
    d: &U1024,
    r_e: &U1024,
    r_inv: &U1024,
    out: &mut U1024,
) {
    let mut x = Zeroizing::new(ModP::zero(p));
    blinded_residue(c, p, r_e, &mut x);
    pow_secret(&mut x, d);
    let mut mm = <ModP as MontyForm>::Multiplier::from(p);
    mm.mul_assign(&mut x, &Zeroizing::new(ModP::from_montgomery(*r_inv, p)));
    *out = x.retrieve();
}

/// x = (c mod p)·r^e in Montgomery form mod p, in a frame of its own (the division's values are
/// not held across the exponentiation).
#[inline(never)]
fn blinded_residue(c: &U2048, p: &FixedMontyParams<P_LIMBS>, r_e: &U1024, x: &mut ModP) {
    let mut quotient = Zeroizing::new(U2048::ZERO);
    let mut cp = Zeroizing::new(U1024::ZERO);
    div_rem_wide(c, p.modulus().as_nz_ref(), &mut quotient, &mut cp);
    *x = ModP::new(&cp, p);
    let mut mm = <ModP as MontyForm>::Multiplier::from(p);
    mm.mul_assign(x, &Zeroizing::new(ModP::from_montgomery(*r_e, p)));
}

impl RsaPrivate {
    /// A key holding nothing yet, to be filled in place by [`RsaPrivate::load`]: its values are
    /// public stand-ins, and it does no private operation (`Key`).
    pub const EMPTY: Self = Self {
        n: NO_N,
        e: DEFAULT_EXPONENT,
        p: NO_PRIME,
        q: NO_PRIME,
        dp: U1024::ZERO,
        dq: U1024::ZERO,
        qinv: U1024::ZERO,
        loaded: false,
    };

    /// Load the key from its public modulus `n`, exponent `e` (0 means 65537, Part 2
    /// TPMS_RSA_PARMS) and ONE prime, as the TPM's sensitive area holds it (Part 2
    /// TPMU_SENSITIVE_COMPOSITE: "a prime factor of the public key"; the reference
    /// CryptRsaLoadPrivateExponent): q = n / p must be exact, p and q odd and greater than 1, dP,
    /// dQ and qInv must exist, else `Key`, and the key is left empty (what was written wiped).
    /// `prime` is big-endian, at most [`PRIME_BYTES`] bytes. Primality of p and q is not tested
    /// here: a key whose factors are not prime gives wrong results, which the check in
    /// [`RsaPrivate::private_op`] turns into `Key`.
    pub fn load(&mut self, n: &[u8], e: u32, prime: &[u8]) -> Result<(), RsaError> {
        self.wipe();
        let loaded = self.load_parts(n, e, prime);
        if loaded.is_err() {
            self.wipe();
        }
        self.loaded = loaded.is_ok();
        loaded
    }

    /// [`RsaPrivate::load`] into a new key, returned by value (1.4 KiB: for hosts and tests;
    /// firmware loads the key where it lives).
    pub fn from_prime(n: &[u8], e: u32, prime: &[u8]) -> Result<Self, RsaError> {
        let mut key = Self::EMPTY;
        key.load(n, e, prime)?;
        Ok(key)
    }

    /// Back to [`RsaPrivate::EMPTY`], the secret values zeroized first.
    fn wipe(&mut self) {
        self.p.zeroize();
        self.q.zeroize();
        self.dp.zeroize();
        self.dq.zeroize();
        self.qinv.zeroize();
        self.n = NO_N;
        self.e = DEFAULT_EXPONENT;
        self.p = NO_PRIME;
        self.q = NO_PRIME;
        self.loaded = false;
    }

    /// n, e, then p from `prime`, q = n / p and the CRT values (see [`RsaPrivate::load`]).
    #[inline(never)]
    fn load_parts(&mut self, n: &[u8], e: u32, prime: &[u8]) -> Result<(), RsaError> {
        self.e = exponent(e)?;
        self.n = public_modulus(n)?;
        let p = Zeroizing::new(uint_from_be::<P_LIMBS>(prime).ok_or(RsaError::Key)?);
        let p = Zeroizing::new(Odd::new(*p).into_option().ok_or(RsaError::Key)?);
        if **p == U1024::ONE {
            return Err(RsaError::Key);
        }
        let q = cofactor(self.n.as_ref(), &p)?;
        // n is odd, so q is; q = 1 would have made p = n, which does not fit in 1024 bits.
        let q = Zeroizing::new(Odd::new(*q).into_option().ok_or(RsaError::Key)?);
        crt_exponent(self.e, &p, &mut self.dp)?;
        crt_exponent(self.e, &q, &mut self.dq)?;
        prime_params(&p, &mut self.p);
        prime_params(&q, &mut self.q);
        crt_coefficient(&self.p, &q, &mut self.qinv)
    }

    /// c^d mod n (RSADP / RSASP1, RFC 8017 §5.1.2 second form, §5.2.1) with the CRT, blinded
    /// with a fresh random r (c·r^e, unblinded with r^-1), and checked with the public operation
    /// (a fault in the CRT would otherwise give away a factor of n, Boneh-DeMillo-Lipton): a
    /// mismatch is `Key`, and so is an [`RsaPrivate::EMPTY`] key. `input` as in [`public_op`];
    /// the DRBG failing is `Rng`.
    ///
    /// The blinding is done in the CRT halves: r is drawn as its residues r_p = r mod p and
    /// r_q = r mod q (uniform residues are a uniform r mod n), so that
    /// (c·r^e mod n) mod p = (c mod p)·r_p^e and r^-1 mod p = r_p^-1. The same values as
    /// blinding mod n, with two 1024-bit inversions instead of one 2048-bit one.
    pub fn private_op(
        &self,
        input: &[u8],
        rng: &mut HmacDrbg,
    ) -> Result<[u8; RSA_BYTES], RsaError> {
        if !self.loaded {
            return Err(RsaError::Key);
        }
        let c = below_modulus(input, self.n.as_ref())?;
        let mut m = Zeroizing::new(U2048::ZERO);
        self.crt(&c, rng, &mut m)?;
        if !self.check(&m, &c) {
            return Err(RsaError::Key);
        }
        let mut out = [0u8; RSA_BYTES];
        uint_to_be(&m, &mut out);
        Ok(out)
    }

    /// m^e ≡ c (mod n): the result of the private operation, checked with the public one.
    #[inline(never)]
    fn check(&self, m: &U2048, c: &U2048) -> bool {
        let mut n = NO_MODULUS;
        modulus_params(&self.n, &mut n);
        raises_to(&n, self.e, m, c)
    }

    /// m = c^d mod n by the CRT (RFC 8017 §5.1.2 step 2.b), blinded (see
    /// [`RsaPrivate::private_op`]). Constant time in c, r and the key.
    #[inline(never)]
    fn crt(&self, c: &U2048, rng: &mut HmacDrbg, m: &mut U2048) -> Result<(), RsaError> {
        let mut r = Zeroizing::new([0u8; 2 * PRIME_BYTES]);
        let mut m1 = Zeroizing::new(U1024::ZERO);
        let mut m2 = Zeroizing::new(U1024::ZERO);
        for _ in 0..MAX_ATTEMPTS {
            random(rng, r.as_mut_slice())?;
            let (rp, rq) = r.split_at(PRIME_BYTES);
            // r_p or r_q ≡ 0 (probability 2^-1023 each): draw again.
            if blinded_pow(c, &self.p, &self.dp, self.e, rp, &mut m1)
                && blinded_pow(c, &self.q, &self.dq, self.e, rq, &mut m2)
            {
                self.recombine(&m1, &m2, m);
                return Ok(());
            }
        }
        Err(RsaError::Rng)
    }

    /// m = m2 + q·((m1 − m2)·qInv mod p) (RFC 8017 §5.1.2 step 2.b.iii-v; Garner), < n.
    #[inline(never)]
    fn recombine(&self, m1: &U1024, m2: &U1024, m: &mut U2048) {
        let mut mm = <ModP as MontyForm>::Multiplier::from(&self.p);
        // m2 < q < 2^1024: Montgomery conversion reduces it mod p.
        let mut h = Zeroizing::new(ModP::new(m1, &self.p));
        *h = h.sub(&ModP::new(m2, &self.p));
        mm.mul_assign(&mut h, &ModP::from_montgomery(self.qinv, &self.p));
        let h = Zeroizing::new(h.retrieve());
        *m = h.concatenating_mul::<P_LIMBS, N_LIMBS>(self.q.modulus().as_ref());
        *m = m.wrapping_add(&m2.resize::<N_LIMBS>());
    }

    /// The public exponent.
    pub fn exponent(&self) -> u32 {
        self.e
    }

    /// The modulus n, big-endian.
    pub fn modulus(&self) -> [u8; RSA_BYTES] {
        let mut out = [0u8; RSA_BYTES];
        uint_to_be(self.n.as_ref(), &mut out);
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Key generation
// ---------------------------------------------------------------------------------------------

/// Whether a candidate from the sieve (odd, top two bits set, no small factor) is a prime p
/// for the key: p mod e ≠ 1, so gcd(e, p − 1) = 1 for the prime e = 65537 (FIPS 186-5 A.1.3
/// step 4.5), then [`MR_ROUNDS`] rounds of Miller-Rabin with random bases (B.3.1).
#[inline(never)]
fn is_key_prime(rng: &mut DrbgRng<'_>, candidate: &U1024, e: u32) -> bool {
    let Some(e) = NonZero::new(Limb::from_u32(e)).into_option() else {
        return false;
    };
    if candidate.rem_limb(e) == Limb::ONE {
        return false;
    }
    let Some(odd) = Odd::new(*candidate).into_option() else {
        return false;
    };
    let mr = mr_new(odd);
    let mut base = Zeroizing::new(U1024::ZERO);
    (0..MR_ROUNDS).all(|_| mr_base(rng, candidate, &mut base) && !mr_composite(&mr, &base))
}

/// crypto-primes' Miller-Rabin state for a candidate (its Montgomery parameters, ±1, the
/// decomposition w − 1 = 2^s·d), built in a frame of its own.
#[inline(never)]
fn mr_new(candidate: Odd<U1024>) -> MillerRabin<U1024> {
    MillerRabin::new(candidate)
}

/// A Miller-Rabin base for w: uniform in [2, w − 2] (FIPS 186-5 B.3.1 step 4.1-4.2; the range
/// crypto-primes' `test_random_base` draws from). `false` only for w < 5.
#[inline(never)]
fn mr_base(rng: &mut DrbgRng<'_>, w: &U1024, base: &mut U1024) -> bool {
    let Some(range) = NonZero::new(w.wrapping_sub(&U1024::from_u32(3))).into_option() else {
        return false;
    };
    *base = U1024::random_mod_vartime(rng, &range).wrapping_add(&U1024::from_u32(2));
    true
}

/// One Miller-Rabin round with `base` (FIPS 186-5 B.3.1 steps 4.3-4.7): whether it proves the
/// candidate composite.
#[inline(never)]
fn mr_composite(mr: &MillerRabin<U1024>, base: &U1024) -> bool {
    mr.test(base).is_composite()
}

/// The sieve's trial divisors are the odd primes below this bound (3511 of them): a candidate
/// that survives them is tested with Miller-Rabin. A larger bound leaves fewer composites to
/// the (costly) tests and costs a longer table and more divisions per window; measured on
/// key generation, 2^15 is about 8 % faster than 2^14 and 4 % slower than 2^16.
const SIEVE_BOUND: usize = 1 << 15;

/// Eratosthenes below `B`: `true` at 0, 1 and each composite. Evaluated at compile time only
/// (an index out of range or an overflow there fails the build).
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn composites<const B: usize>() -> [bool; B] {
    let mut composite = [false; B];
    composite[0] = true;
    composite[1] = true;
    let mut i = 2;
    while i * i < B {
        if !composite[i] {
            let mut j = i * i;
            while j < B {
                composite[j] = true;
                j += i;
            }
        }
        i += 1;
    }
    composite
}

/// How many odd primes lie below `B` (compile time only, see [`composites`]).
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn odd_prime_count<const B: usize>() -> usize {
    let composite = composites::<B>();
    let (mut count, mut i) = (0, 3);
    while i < B {
        if !composite[i] {
            count += 1;
        }
        i += 2;
    }
    count
}

/// The `N` odd primes below `B` in increasing order, each as half its distance from the one
/// before (from 1 for the first, 3): one byte each (compile time only, see [`composites`]; a
/// gap that does not fit fails the build).
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
const fn odd_prime_half_gaps<const B: usize, const N: usize>() -> [u8; N] {
    let composite = composites::<B>();
    let mut gaps = [0u8; N];
    let (mut n, mut previous, mut i) = (0, 1, 3);
    while i < B {
        if !composite[i] {
            assert!(
                (i - previous) / 2 <= u8::MAX as usize,
                "gap too wide for a byte"
            );
            gaps[n] = ((i - previous) / 2) as u8;
            previous = i;
            n += 1;
        }
        i += 2;
    }
    gaps
}

const SMALL_PRIME_COUNT: usize = odd_prime_count::<SIEVE_BOUND>();

/// The odd primes below [`SIEVE_BOUND`] (3, 5, 7, …, 32749) as half-gaps: the k-th is
/// 1 + 2·(g_0 + … + g_k). See [`small_primes`].
static SMALL_PRIME_HALF_GAPS: [u8; SMALL_PRIME_COUNT] =
    odd_prime_half_gaps::<SIEVE_BOUND, SMALL_PRIME_COUNT>();

/// The odd primes below [`SIEVE_BOUND`] in increasing order.
fn small_primes() -> impl Iterator<Item = u32> {
    SMALL_PRIME_HALF_GAPS.iter().scan(1u32, |p, gap| {
        *p = p.saturating_add(u32::from(*gap).saturating_mul(2));
        Some(*p)
    })
}

/// 64-bit words of a sieve window: one bit per odd candidate, 2048 of them (a prime turns up
/// within about 355 odd 1024-bit numbers on average, so a second window is rare).
const WINDOW_WORDS: usize = 32;

/// How far the candidates of one window reach: 2 · 64 · [`WINDOW_WORDS`].
const WINDOW_SPAN: u32 = 4096;

/// Which candidates of a window have a small factor (see [`sieve`]).
type Window = [u64; WINDOW_WORDS];

/// Marks in `window` each candidate start + 2i (i < 64 · [`WINDOW_WORDS`]) that a prime of
/// [`small_primes`] divides. start is odd and above 2^1023, so no candidate is one of those
/// primes itself. start mod p is the library's division by one limb, once per prime and
/// window; the rest is small-integer stepping through the window by p.
#[inline(never)]
fn sieve(start: &U1024, window: &mut Window) {
    window.fill(0);
    for p in small_primes() {
        let Some(divisor) = NonZero::new(Limb::from_u32(p)).into_option() else {
            continue;
        };
        let Ok(r) = u32::try_from(start.rem_limb(divisor).0) else {
            continue;
        };
        // start + 2i ≡ 0 (mod p) ⟺ 2i ≡ p − r: the first such i is (p − r) / 2 when p − r is
        // even, (2p − r) / 2 when it is odd (p is odd), and 0 when r = 0.
        let t = if r == 0 { 0 } else { p.saturating_sub(r) };
        let mut i = if t.is_multiple_of(2) {
            t / 2
        } else {
            t.saturating_add(p) / 2
        };
        while let Some(word) = usize::try_from(i / 64).ok().and_then(|w| window.get_mut(w)) {
            *word |= 1u64.rotate_left(i % 64);
            let Some(next) = i.checked_add(p) else {
                break;
            };
            i = next;
        }
    }
}

/// The first candidate of the window from `start` (see [`sieve`]) that passes
/// [`is_key_prime`], in increasing order, into `out`; `false` if none does, if the candidates
/// reach 2^1024, or if the generator failed.
fn window_prime(
    rng: &mut DrbgRng<'_>,
    start: &U1024,
    window: &Window,
    e: u32,
    out: &mut U1024,
) -> bool {
    for (first, word) in (0u32..).step_by(64).zip(window.iter()) {
        let mut free = !*word;
        while free != 0 {
            let offset = first
                .saturating_add(free.trailing_zeros())
                .saturating_mul(2);
            // Clear the lowest set bit.
            free &= free.wrapping_sub(1);
            *out = *start;
            let carry = out
                .as_mut_uint_ref()
                .add_assign_limb(Limb::from_u32(offset));
            if carry != Limb::ZERO || rng.failed {
                return false;
            }
            if is_key_prime(rng, out, e) {
                return true;
            }
        }
    }
    false
}

/// Bit 0 and the top two bits of a 1024-bit integer.
const START_BITS: U1024 = U1024::ONE
    .bitor(&U1024::ONE.shl_vartime(1022))
    .bitor(&U1024::ONE.shl_vartime(1023));

/// A random odd 1024-bit integer with its top two bits set (FIPS 186-5 A.1.3 step 4.2-4.4;
/// the two bits put p, q ≥ 2^1023·√2 and n at exactly 2048 bits), into `out`; `false` if the
/// generator failed.
#[inline(never)]
fn random_start(rng: &mut DrbgRng<'_>, out: &mut U1024) -> bool {
    let Ok(start) = U1024::try_random_bits(rng, PRIME_BITS) else {
        return false;
    };
    *out = start.bitor(&START_BITS);
    !rng.failed
}

/// A random 1024-bit prime with its top two bits set and gcd(e, p − 1) = 1 (FIPS 186-5 A.1.3
/// steps 4 / 5), into `out`: from a random odd start, the candidates without a small factor in
/// increasing order, one [`sieve`] window after the other, until one passes [`is_key_prime`].
/// `Rng` when the generator failed (the search stops at once: it would run on zeros).
#[inline(never)]
fn random_prime(rng: &mut DrbgRng<'_>, e: u32, out: &mut U1024) -> Result<(), RsaError> {
    // With the prime's place in it, the window says much about the prime: wiped.
    let mut window = Zeroizing::new([0u64; WINDOW_WORDS]);
    let mut start = Zeroizing::new(U1024::ZERO);
    for _ in 0..MAX_ATTEMPTS {
        if !random_start(rng, &mut start) {
            return Err(RsaError::Rng);
        }
        loop {
            sieve(&start, &mut window);
            if window_prime(rng, &start, &window, e, out) {
                return rng.check();
            }
            rng.check()?;
            // The next window; at 2^1024, a new random start.
            let carry = start
                .as_mut_uint_ref()
                .add_assign_limb(Limb::from_u32(WINDOW_SPAN));
            if carry != Limb::ZERO {
                break;
            }
        }
    }
    Err(RsaError::Rng)
}

/// n = p·q, big-endian into `out`.
#[inline(never)]
fn product_be(p: &U1024, q: &U1024, out: &mut [u8; RSA_BYTES]) {
    let n = Zeroizing::new(p.concatenating_mul::<P_LIMBS, N_LIMBS>(q));
    uint_to_be(&n, out);
}

/// Generate an RSA-2048 key with public exponent `e` (0 means 65537; any other value than 65537
/// is `Key`), following FIPS 186-5 A.1.3 (random probable primes) as the TPM does (Part 1
/// Annex B; the reference CryptRsaGenerateKey): p and q are 1024-bit primes with their top two
/// bits set (so n has exactly 2048 bits), gcd(e, p − 1) = gcd(e, q − 1) = 1 and
/// |p − q| > 2^924 (q is drawn again until it is). The candidates come from a sieve started
/// at a random odd number (an incremental search) and pass [`is_key_prime`].
///
/// Deterministic given the DRBG state: a primary key re-derived from the same seed is the same
/// key. Writes n (big-endian) into `n` and p into `prime` (nothing else holds either when it
/// returns); the DRBG failing is `Rng`. A key takes on the order of a hundred DRBG requests,
/// well inside its reseed interval.
#[inline(never)]
pub fn generate_into(
    e: u32,
    rng: &mut HmacDrbg,
    n: &mut [u8; RSA_BYTES],
    prime: &mut [u8; PRIME_BYTES],
) -> Result<(), RsaError> {
    let e = exponent(e)?;
    if e != DEFAULT_EXPONENT {
        return Err(RsaError::Key);
    }
    let mut rng = DrbgRng::new(rng);
    let mut p = Zeroizing::new(U1024::ZERO);
    let mut q = Zeroizing::new(U1024::ZERO);
    random_prime(&mut rng, e, &mut p)?;
    for _ in 0..MAX_ATTEMPTS {
        random_prime(&mut rng, e, &mut q)?;
        if far_apart(&p, &q) {
            product_be(&p, &q, n);
            uint_to_be(&p, prime);
            return Ok(());
        }
    }
    Err(RsaError::Key)
}

/// |p − q| > 2^924 (FIPS 186-5 A.1.3 step 5.4).
#[inline(never)]
fn far_apart(p: &U1024, q: &U1024) -> bool {
    use subtle::ConstantTimeGreater as _;
    // Which prime is larger is secret: both differences are made and one is selected in
    // constant time; only the (public) accept-or-retry outcome leaves.
    let p_minus_q = Zeroizing::new(p.wrapping_sub(q));
    let q_minus_p = Zeroizing::new(q.wrapping_sub(p));
    let distance = Zeroizing::new(U1024::conditional_select(
        &q_minus_p,
        &p_minus_q,
        p.ct_gt(q),
    ));
    let bound = U1024::ONE.unbounded_shl_vartime(MIN_PRIME_DISTANCE_BITS);
    bool::from(distance.ct_gt(&bound))
}

/// [`generate_into`], n and p returned (for hosts and tests).
pub fn generate(e: u32, rng: &mut HmacDrbg) -> Result<([u8; RSA_BYTES], RsaPrime), RsaError> {
    let mut key = ([0u8; RSA_BYTES], RsaPrime([0; PRIME_BYTES]));
    generate_into(e, rng, &mut key.0, &mut key.1.0)?;
    Ok(key)
}

// ---------------------------------------------------------------------------------------------
// Padding
// ---------------------------------------------------------------------------------------------

/// `dst ^= MGF1(seed, dst.len())` with `hash` (RFC 8017 §B.2.1). The mask blocks are wiped.
fn mgf1_xor(hash: HashAlg, seed: &[u8], dst: &mut [u8]) {
    for (counter, chunk) in (0u32..).zip(dst.chunks_mut(hash.size())) {
        let mut h = HashState::new(hash);
        h.update(seed);
        h.update(&counter.to_be_bytes());
        xor_into(chunk, h.finish_secret().expose());
    }
}

/// The digest length must be the hash's (RFC 8017 §9.2 step 1 has the caller hash).
fn check_digest(hash: HashAlg, digest: &[u8]) -> Result<(), RsaError> {
    if digest.len() == hash.size() {
        Ok(())
    } else {
        Err(RsaError::Value)
    }
}

/// DER of DigestInfo without the digest (RFC 8017 §9.2 note 1).
fn digest_info_prefix(hash: HashAlg) -> &'static [u8] {
    match hash {
        #[cfg(feature = "sha1")]
        HashAlg::Sha1 => &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ],
        HashAlg::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        HashAlg::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        HashAlg::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2): 0x00 ‖ 0x01 ‖ 0xFF… ‖ 0x00 ‖ DigestInfo ‖ digest.
fn emsa_pkcs1v15(hash: HashAlg, digest: &[u8]) -> Result<[u8; RSA_BYTES], RsaError> {
    check_digest(hash, digest)?;
    let prefix = digest_info_prefix(hash);
    let t_len = prefix.len().saturating_add(digest.len());
    let mut em = [0xFFu8; RSA_BYTES];
    let (head, t) = em
        .split_at_mut_checked(RSA_BYTES.saturating_sub(t_len))
        .ok_or(RsaError::Value)?;
    let (pre, dig) = t
        .split_at_mut_checked(prefix.len())
        .ok_or(RsaError::Value)?;
    copy(pre, prefix)?;
    copy(dig, digest)?;
    let (start, _) = head.split_first_chunk_mut::<2>().ok_or(RsaError::Value)?;
    *start = [0x00, 0x01];
    *head.last_mut().ok_or(RsaError::Value)? = 0x00;
    Ok(em)
}

/// RSASSA-PKCS1-v1_5 signature (RFC 8017 §8.2.1) over `digest`, computed with `hash` (its
/// length must be `hash.size()`, else `Value`). A frame of its own (see [`pss_sign`]).
#[inline(never)]
pub fn pkcs1v15_sign(
    key: &RsaPrivate,
    hash: HashAlg,
    digest: &[u8],
    rng: &mut HmacDrbg,
) -> Result<[u8; RSA_BYTES], RsaError> {
    let em = emsa_pkcs1v15(hash, digest)?;
    key.private_op(&em, rng)
}

/// The signature representative s^e mod n for verification (RSAVP1, RFC 8017 §5.2.2):
/// `sig` must be exactly [`RSA_BYTES`] and below n, else `Signature`; a bad key is `Key`.
fn recover(n: &[u8], e: u32, sig: &[u8]) -> Result<[u8; RSA_BYTES], RsaError> {
    if sig.len() != RSA_BYTES {
        return Err(RsaError::Signature);
    }
    public_op(n, e, sig).map_err(|err| match err {
        RsaError::Value => RsaError::Signature,
        other => other,
    })
}

/// RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) of `sig` over `digest` (computed with
/// `hash`, length `hash.size()` else `Value`): any mismatch is `Signature`.
pub fn pkcs1v15_verify(
    n: &[u8],
    e: u32,
    hash: HashAlg,
    digest: &[u8],
    sig: &[u8],
) -> Result<(), RsaError> {
    let expected = emsa_pkcs1v15(hash, digest)?;
    let em = recover(n, e, sig)?;
    if bool::from(em.ct_eq(&expected)) {
        Ok(())
    } else {
        Err(RsaError::Signature)
    }
}

/// The PSS salt length when signing: the digest size, capped so that it fits (emLen − hLen − 2),
/// as the TCG reference implementation does (CryptRsa.c, CryptRsaPssSaltSize: "the maximum
/// salt size allowed by FIPS 186-4"). For RSA-2048 it is always the digest size.
const fn pss_salt_len(hash: HashAlg) -> usize {
    let max = RSA_BYTES.saturating_sub(hash.size()).saturating_sub(2);
    if hash.size() < max { hash.size() } else { max }
}

/// H = Hash(0x00 × 8 ‖ mHash ‖ salt) (RFC 8017 §9.1.1 steps 5-6, §9.1.2 steps 12-13).
fn pss_hash(hash: HashAlg, digest: &[u8], salt: &[u8]) -> crate::wire::types::Digest {
    let mut h = HashState::new(hash);
    h.update(&[0; 8]);
    h.update(digest);
    h.update(salt);
    h.finish()
}

/// RSASSA-PSS signature (RFC 8017 §8.1.1, EMSA-PSS-ENCODE §9.1.1 with emBits = 2047) over
/// `digest` (computed with `hash`, length `hash.size()` else `Value`), MGF1 with the same hash,
/// a random salt of [`pss_salt_len`] bytes. A frame of its own: a signer holds the key beside it.
#[inline(never)]
pub fn pss_sign(
    key: &RsaPrivate,
    hash: HashAlg,
    digest: &[u8],
    rng: &mut HmacDrbg,
) -> Result<[u8; RSA_BYTES], RsaError> {
    let mut em = [0u8; RSA_BYTES];
    emsa_pss_encode(hash, digest, rng, &mut em)?;
    key.private_op(&em, rng)
}

/// EMSA-PSS-ENCODE (RFC 8017 §9.1.1, emBits = 2047) into `em`, in a frame of its own (its hash
/// states are not kept beside the private operation's).
#[inline(never)]
fn emsa_pss_encode(
    hash: HashAlg,
    digest: &[u8],
    rng: &mut HmacDrbg,
    em: &mut [u8; RSA_BYTES],
) -> Result<(), RsaError> {
    check_digest(hash, digest)?;
    let h_len = hash.size();
    let s_len = pss_salt_len(hash);
    let db_len = RSA_BYTES.saturating_sub(h_len).saturating_sub(1);
    let (db, rest) = em.split_at_mut_checked(db_len).ok_or(RsaError::Value)?;
    let (h_out, trailer) = rest.split_at_mut_checked(h_len).ok_or(RsaError::Value)?;
    // DB = PS (zeros) ‖ 0x01 ‖ salt.
    let (ps_one, salt) = db
        .split_at_mut_checked(db_len.saturating_sub(s_len))
        .ok_or(RsaError::Value)?;
    random(rng, salt)?;
    *ps_one.last_mut().ok_or(RsaError::Value)? = 0x01;
    copy(h_out, pss_hash(hash, digest, salt).as_slice())?;
    mgf1_xor(hash, h_out, db);
    // Clear the leftmost 8·emLen − emBits = 1 bit; then the trailer 0xbc.
    if let Some(top) = db.first_mut() {
        *top &= 0x7F;
    }
    *trailer.first_mut().ok_or(RsaError::Value)? = 0xBC;
    Ok(())
}

/// RSASSA-PSS verification (RFC 8017 §8.1.2, EMSA-PSS-VERIFY §9.1.2 with emBits = 2047) of `sig`
/// over `digest` (computed with `hash`, length `hash.size()` else `Value`), MGF1 with the same
/// hash. Any salt length the encoding holds is accepted, as the reference's PssDecode does.
/// Any mismatch is `Signature`.
pub fn pss_verify(
    n: &[u8],
    e: u32,
    hash: HashAlg,
    digest: &[u8],
    sig: &[u8],
) -> Result<(), RsaError> {
    check_digest(hash, digest)?;
    let mut em = recover(n, e, sig)?;
    let h_len = hash.size();
    let db_len = RSA_BYTES.saturating_sub(h_len).saturating_sub(1);
    let (db, rest) = em.split_at_mut_checked(db_len).ok_or(RsaError::Signature)?;
    let (h, trailer) = rest
        .split_at_mut_checked(h_len)
        .ok_or(RsaError::Signature)?;
    // Step 4: the trailer; step 6: the bit above emBits is zero.
    if trailer != [0xBC] || db.first().is_none_or(|b| b & 0x80 != 0) {
        return Err(RsaError::Signature);
    }
    // Steps 7-9: DB = maskedDB ⊕ MGF1(H), its top bit cleared.
    mgf1_xor(hash, h, db);
    if let Some(top) = db.first_mut() {
        *top &= 0x7F;
    }
    // Step 10: DB = 0x00… ‖ 0x01 ‖ salt, salt of any length.
    let one = db.iter().position(|b| *b != 0).ok_or(RsaError::Signature)?;
    let (_, from_one) = db.split_at(one);
    let (sep, salt) = from_one.split_first().ok_or(RsaError::Signature)?;
    if *sep != 0x01 {
        return Err(RsaError::Signature);
    }
    // Steps 12-14: H' = Hash(0x00 × 8 ‖ mHash ‖ salt) = H.
    if pss_hash(hash, digest, salt).as_slice() == &*h {
        Ok(())
    } else {
        Err(RsaError::Signature)
    }
}

/// RSAES-OAEP encryption (RFC 8017 §7.1.1) of `msg` under (n, e) with `hash` and MGF1 of the same
/// hash; `label` exactly as given (the command layer applies the TPM's terminating-zero rule).
/// A message longer than k − 2·hLen − 2 is `Value`.
pub fn oaep_encrypt(
    n: &[u8],
    e: u32,
    hash: HashAlg,
    label: &[u8],
    msg: &[u8],
    rng: &mut HmacDrbg,
) -> Result<[u8; RSA_BYTES], RsaError> {
    let h_len = hash.size();
    let max = RSA_BYTES
        .saturating_sub(h_len.saturating_mul(2))
        .saturating_sub(2);
    if msg.len() > max {
        return Err(RsaError::Value);
    }
    // EM = 0x00 ‖ maskedSeed ‖ maskedDB, DB = lHash ‖ PS (zeros) ‖ 0x01 ‖ M.
    let mut em = Zeroizing::new([0u8; RSA_BYTES]);
    let (_, seed_db) = em.split_first_mut().ok_or(RsaError::Value)?;
    let (seed, db) = seed_db.split_at_mut_checked(h_len).ok_or(RsaError::Value)?;
    let (l_hash, ps_m) = db.split_at_mut_checked(h_len).ok_or(RsaError::Value)?;
    copy(l_hash, hash.digest(&[label]).as_slice())?;
    let (ps_one, m) = ps_m
        .split_at_mut_checked(ps_m.len().saturating_sub(msg.len()))
        .ok_or(RsaError::Value)?;
    copy(m, msg)?;
    *ps_one.last_mut().ok_or(RsaError::Value)? = 0x01;
    random(rng, seed)?;
    mgf1_xor(hash, seed, db);
    mgf1_xor(hash, db, seed);
    public_op(n, e, em.as_slice())
}

/// RSAES-OAEP decryption (RFC 8017 §7.1.2) of `ct` (exactly [`RSA_BYTES`] else `Value`) with
/// `hash`, MGF1 of the same hash and `label`. The message goes to the start of `out` (the rest
/// is zeroed) and its length is returned. A bad encoding is `Padding`, decided without early
/// exits or branches on the decrypted data (one error for every failure, RFC 8017 §7.1.2 note).
pub fn oaep_decrypt(
    key: &RsaPrivate,
    hash: HashAlg,
    label: &[u8],
    ct: &[u8],
    rng: &mut HmacDrbg,
    out: &mut [u8; RSA_BYTES],
) -> Result<usize, RsaError> {
    if ct.len() != RSA_BYTES {
        return Err(RsaError::Value);
    }
    let h_len = hash.size();
    let l_hash = hash.digest(&[label]);
    let mut em = Zeroizing::new(key.private_op(ct, rng)?);
    let (y, seed_db) = em.split_first_mut().ok_or(RsaError::Value)?;
    let (seed, db) = seed_db.split_at_mut_checked(h_len).ok_or(RsaError::Value)?;
    mgf1_xor(hash, db, seed);
    mgf1_xor(hash, seed, db);
    let (l_hash2, ps_m) = db.split_at_mut_checked(h_len).ok_or(RsaError::Value)?;
    let mut ok = y.ct_eq(&0) & l_hash2.ct_eq(l_hash.as_slice());
    // The first non-zero byte after lHash must be 0x01; the message follows it.
    let mut found = Choice::from(0);
    let mut sep = 0u32;
    for (i, b) in (0u32..).zip(ps_m.iter()) {
        let is_one = b.ct_eq(&1);
        let first = !found & is_one;
        sep.conditional_assign(&i, first);
        ok &= found | is_one | b.ct_eq(&0);
        found |= is_one;
    }
    ok &= found;
    if !bool::from(ok) {
        return Err(RsaError::Padding);
    }
    let start = usize::try_from(sep)
        .map_err(|_| RsaError::Padding)?
        .saturating_add(1);
    let msg = ps_m.get(start..).ok_or(RsaError::Padding)?;
    out.fill(0);
    let dst = out.get_mut(..msg.len()).ok_or(RsaError::Padding)?;
    copy(dst, msg)?;
    Ok(msg.len())
}

/// RSAES-PKCS1-v1_5 encryption (RFC 8017 §7.2.1) of `msg` under (n, e): EM = 0x00 ‖ 0x02 ‖ PS ‖
/// 0x00 ‖ M with PS at least 8 random non-zero bytes (a message longer than k − 11 is `Value`).
/// Zero bytes of PS are redrawn, so PS is uniform over the non-zero bytes.
pub fn rsaes_encrypt(
    n: &[u8],
    e: u32,
    msg: &[u8],
    rng: &mut HmacDrbg,
) -> Result<[u8; RSA_BYTES], RsaError> {
    if msg.len() > RSA_BYTES.saturating_sub(11) {
        return Err(RsaError::Value);
    }
    let mut em = Zeroizing::new([0u8; RSA_BYTES]);
    let (head, m) = em
        .split_at_mut_checked(RSA_BYTES.saturating_sub(msg.len()))
        .ok_or(RsaError::Value)?;
    copy(m, msg)?;
    let (start, ps_zero) = head.split_first_chunk_mut::<2>().ok_or(RsaError::Value)?;
    *start = [0x00, 0x02];
    let (_, ps) = ps_zero.split_last_mut().ok_or(RsaError::Value)?;
    random(rng, ps)?;
    let mut spare = Zeroizing::new([0u8; 32]);
    for _ in 0..MAX_ATTEMPTS {
        if ps.iter().all(|b| *b != 0) {
            return public_op(n, e, em.as_slice());
        }
        random(rng, spare.as_mut_slice())?;
        let mut fresh = spare.iter().filter(|b| **b != 0);
        for b in ps.iter_mut().filter(|b| **b == 0) {
            match fresh.next() {
                Some(f) => *b = *f,
                None => break,
            }
        }
    }
    Err(RsaError::Rng)
}

/// RSAES-PKCS1-v1_5 decryption (RFC 8017 §7.2.2) of `ct` (exactly [`RSA_BYTES`] else `Value`):
/// EM = 0x00 ‖ 0x02 ‖ PS (at least 8 non-zero bytes) ‖ 0x00 ‖ M. The message goes to the start
/// of `out` (the rest is zeroed) and its length is returned. A bad encoding is `Padding`, decided
/// without early exits or branches on the decrypted data.
pub fn rsaes_decrypt(
    key: &RsaPrivate,
    ct: &[u8],
    rng: &mut HmacDrbg,
    out: &mut [u8; RSA_BYTES],
) -> Result<usize, RsaError> {
    if ct.len() != RSA_BYTES {
        return Err(RsaError::Value);
    }
    let em = Zeroizing::new(key.private_op(ct, rng)?);
    let (start, rest) = em.split_first_chunk::<2>().ok_or(RsaError::Value)?;
    let mut ok = start.ct_eq(&[0x00, 0x02]);
    // The first zero byte after 0x00 0x02 ends PS; it must come after at least 8 bytes.
    let mut found = Choice::from(0);
    let mut sep = 0u32;
    for (i, b) in (0u32..).zip(rest.iter()) {
        let is_zero = b.ct_eq(&0);
        let first = !found & is_zero;
        sep.conditional_assign(&i, first);
        found |= is_zero;
    }
    ok &= found & !sep.ct_lt(&8);
    if !bool::from(ok) {
        return Err(RsaError::Padding);
    }
    let start = usize::try_from(sep)
        .map_err(|_| RsaError::Padding)?
        .saturating_add(1);
    let msg = rest.get(start..).ok_or(RsaError::Padding)?;
    out.fill(0);
    let dst = out.get_mut(..msg.len()).ok_or(RsaError::Padding)?;
    copy(dst, msg)?;
    Ok(msg.len())
}

#[cfg(test)]
mod tests {
    //! Checked against RustCrypto's `rsa` crate (an independent implementation) in both
    //! directions: its signatures and ciphertexts through our code, ours through its.
    extern crate std;

    use super::*;
    use rsa_ref::traits::PublicKeyParts as _;
    use rsa_ref::{BoxedUint, Oaep, Pkcs1v15Encrypt, Pkcs1v15Sign, PrivateKey, Pss, PublicKey};
    use std::format;
    use std::sync::OnceLock;

    fn drbg(seed: u8) -> HmacDrbg {
        HmacDrbg::new(&[seed; 32], b"rsa test", &[])
    }

    /// A key from our generator (seed 1), generated once for all tests.
    struct TestKey {
        n: [u8; RSA_BYTES],
        p: [u8; PRIME_BYTES],
        q: [u8; PRIME_BYTES],
    }

    fn test_key() -> &'static TestKey {
        static KEY: OnceLock<TestKey> = OnceLock::new();
        KEY.get_or_init(|| {
            let (n, p) = generate(DEFAULT_EXPONENT, &mut drbg(1)).unwrap();
            let n_int = U2048::from_be_slice(&n);
            let p_int = U1024::from_be_slice(p.expose());
            let (q_wide, rem) = n_int.div_rem(&NonZero::new(p_int.resize()).unwrap());
            assert_eq!(rem, U1024::ZERO);
            let q_int: U1024 = q_wide.resize_checked().unwrap();
            let mut q = [0u8; PRIME_BYTES];
            uint_to_be(&q_int, &mut q);
            TestKey {
                n,
                p: *p.expose(),
                q,
            }
        })
    }

    fn ours() -> RsaPrivate {
        let k = test_key();
        RsaPrivate::from_prime(&k.n, 0, &k.p).unwrap()
    }

    fn boxed(bytes: &[u8]) -> BoxedUint {
        BoxedUint::from_be_slice(bytes, u32::try_from(bytes.len() * 8).unwrap()).unwrap()
    }

    fn theirs() -> PrivateKey {
        let k = test_key();
        PrivateKey::from_p_q(boxed(&k.p), boxed(&k.q), BoxedUint::from(65537u64)).unwrap()
    }

    fn theirs_public() -> PublicKey {
        theirs().to_public_key()
    }

    /// `f` called with the `rsa` crate's digest type for `hash`.
    macro_rules! with_digest {
        ($hash:expr, $d:ident => $body:expr) => {
            match $hash {
                // Checked against the reference crate for the SHA-2 hashes only.
                #[cfg(feature = "sha1")]
                HashAlg::Sha1 => continue,
                HashAlg::Sha256 => {
                    type $d = sha2::Sha256;
                    $body
                }
                HashAlg::Sha384 => {
                    type $d = sha2::Sha384;
                    $body
                }
                HashAlg::Sha512 => {
                    type $d = sha2::Sha512;
                    $body
                }
            }
        };
    }

    #[test]
    fn small_primes_are_the_odd_primes_below_the_bound() {
        let is_prime = |n: u32| {
            n >= 2
                && (2..)
                    .take_while(|d| d * d <= n)
                    .all(|d| !n.is_multiple_of(d))
        };
        let expected: std::vec::Vec<u32> = (3..SIEVE_BOUND as u32)
            .step_by(2)
            .filter(|n| is_prime(*n))
            .collect();
        let ours: std::vec::Vec<u32> = small_primes().collect();
        assert_eq!(ours, expected);
        assert_eq!(ours.len(), 3511);
        assert_eq!(ours.last(), Some(&32749));
    }

    #[test]
    fn the_sieve_marks_exactly_the_candidates_with_a_small_factor() {
        let primes: std::vec::Vec<u32> = small_primes().collect();
        let mut rng = drbg(20);
        let mut rng = DrbgRng::new(&mut rng);
        let mut window = [0u64; WINDOW_WORDS];
        for round in 0..4 {
            let mut start = U1024::ZERO;
            assert!(random_start(&mut rng, &mut start));
            if round == 0 {
                // A start that is itself an odd multiple of 3 · 5 · 7.
                let m105 = NonZero::new(Limb::from_u32(105)).unwrap();
                start = start.wrapping_sub(&U1024::from(start.rem_limb(m105)));
                if !bool::from(start.is_odd()) {
                    start = start.wrapping_add(&U1024::from_u32(105));
                }
                assert_eq!(start.rem_limb(m105), Limb::ZERO);
            }
            sieve(&start, &mut window);
            for i in 0..64 * WINDOW_WORDS as u32 {
                let candidate = start.wrapping_add(&U1024::from_u32(2 * i));
                let has_factor = primes.iter().any(|p| {
                    candidate.rem_limb(NonZero::new(Limb::from_u32(*p)).unwrap()) == Limb::ZERO
                });
                let marked = window[(i / 64) as usize] >> (i % 64) & 1 == 1;
                assert_eq!(marked, has_factor, "round {round}, candidate {i}");
            }
        }
    }

    #[test]
    fn crt_exponents_are_the_inverses_of_e() {
        let k = test_key();
        let mut rng = drbg(21);
        let mut rng = DrbgRng::new(&mut rng);
        let mut primes = std::vec![U1024::from_be_slice(&k.p), U1024::from_be_slice(&k.q)];
        let mut extra = U1024::ZERO;
        random_prime(&mut rng, DEFAULT_EXPONENT, &mut extra).unwrap();
        primes.push(extra);
        // p − 1 = 2 · 3 · 5 shares a factor with some of the exponents below.
        primes.push(U1024::from_u32(31));
        // Odd, not prime (the formula needs neither): p − 1 = 2 · 65537.
        primes.push(U1024::from_u32(65537 * 2 + 1));
        for p in primes {
            let p = Odd::new(p).unwrap();
            let pm1 = NonZero::new(p.wrapping_sub(&U1024::ONE)).unwrap();
            for e in [3u32, 5, 7, 9, 15, 17, 257, 65537, 0x7FFF_FFFF, u32::MAX] {
                let expected = U1024::from_u32(e).invert_mod(&pm1).into_option();
                let mut ours = U1024::ZERO;
                match (crt_exponent(e, &p, &mut ours), expected) {
                    (Ok(()), Some(d)) => assert_eq!(ours, d, "e = {e}"),
                    (Err(RsaError::Key), None) => {}
                    (got, want) => panic!("e = {e}: {got:?} against {want:?}"),
                }
            }
        }
    }

    #[test]
    fn a_key_stays_small() {
        // Commands keep one on their stack.
        assert!(core::mem::size_of::<RsaPrivate>() <= 1456);
    }

    #[test]
    fn an_empty_or_failed_key_does_no_private_operation() {
        let k = test_key();
        let mut key = RsaPrivate::EMPTY;
        assert_eq!(
            key.private_op(&[1], &mut drbg(22)).unwrap_err(),
            RsaError::Key
        );
        key.load(&k.n, 0, &k.p).unwrap();
        let good = key.private_op(&[2; 100], &mut drbg(23)).unwrap();
        // A failed load leaves the key empty, whatever it held before.
        let mut wrong = k.p;
        wrong[PRIME_BYTES - 1] ^= 2;
        assert_eq!(key.load(&k.n, 0, &wrong).unwrap_err(), RsaError::Key);
        assert_eq!(
            key.private_op(&[2; 100], &mut drbg(23)).unwrap_err(),
            RsaError::Key
        );
        key.load(&k.n, 0, &k.q).unwrap();
        assert_eq!(key.private_op(&[2; 100], &mut drbg(24)).unwrap(), good);
    }

    #[test]
    fn mr_rounds_are_fips_186_5_table_b1() {
        use crypto_primes::hazmat::minimum_mr_iterations;
        assert_eq!(minimum_mr_iterations(PRIME_BITS, 100), Some(4));
        assert_eq!(minimum_mr_iterations(PRIME_BITS, 112), Some(5));
        assert_eq!(minimum_mr_iterations(PRIME_BITS, 128), Some(MR_ROUNDS));
    }

    #[test]
    fn generated_key_is_consistent() {
        let k = test_key();
        // n has exactly 2048 bits; p and q have their top two bits set.
        assert!(k.n[0] & 0x80 != 0);
        assert_eq!(k.p[0] & 0xC0, 0xC0);
        assert_eq!(k.q[0] & 0xC0, 0xC0);
        let p = U1024::from_be_slice(&k.p);
        let q = U1024::from_be_slice(&k.q);
        assert_eq!(
            p.concatenating_mul::<P_LIMBS, N_LIMBS>(&q),
            U2048::from_be_slice(&k.n)
        );
        let distance = if p > q {
            p.wrapping_sub(&q)
        } else {
            q.wrapping_sub(&p)
        };
        assert!(distance.bit_width_vartime() > MIN_PRIME_DISTANCE_BITS);
        // gcd(e, p - 1) = gcd(e, q - 1) = 1.
        let e = U1024::from_u32(DEFAULT_EXPONENT);
        assert_eq!(p.wrapping_sub(&U1024::ONE).gcd(&e), U1024::ONE);
        assert_eq!(q.wrapping_sub(&U1024::ONE).gcd(&e), U1024::ONE);
        // The independent implementation agrees that the primes make a valid key with this n.
        let theirs = theirs();
        theirs.validate().unwrap();
        assert_eq!(theirs.n().to_be_bytes().as_ref(), &k.n[..]);
        // And so does another primality test (Baillie-PSW: base-2 Miller-Rabin and Lucas).
        for prime in [p, q] {
            assert!(crypto_primes::is_prime(crypto_primes::Flavor::Any, &prime));
        }
    }

    #[test]
    fn generate_is_deterministic_per_seed() {
        let k = test_key();
        let (n, p) = generate(0, &mut drbg(1)).unwrap();
        assert_eq!(n, k.n);
        assert_eq!(p.expose(), &k.p);
        let (n2, p2) = generate(DEFAULT_EXPONENT, &mut drbg(2)).unwrap();
        assert_ne!(n2, k.n);
        assert_ne!(p2.expose(), &k.p);
        assert!(n2[0] & 0x80 != 0);
        let key2 = RsaPrivate::from_prime(&n2, 0, p2.expose()).unwrap();
        let x = [0x42u8; 100];
        let y = key2.private_op(&x, &mut drbg(3)).unwrap();
        let mut padded = [0u8; RSA_BYTES];
        padded[RSA_BYTES - 100..].copy_from_slice(&x);
        assert_eq!(public_op(&n2, 0, &y).unwrap(), padded);
    }

    #[test]
    fn generate_refuses_other_exponents_and_a_failed_drbg() {
        for e in [3, 17, 65539, 2, 65536] {
            assert_eq!(
                generate(e, &mut drbg(1)).unwrap_err(),
                RsaError::Key,
                "e = {e}"
            );
        }
        let mut dead = drbg(1);
        dead.exhaust();
        assert_eq!(generate(0, &mut dead).unwrap_err(), RsaError::Rng);
    }

    #[test]
    fn private_then_public_is_the_identity() {
        let k = test_key();
        let key = ours();
        let mut rng = drbg(5);
        for x in [
            &[0u8][..],
            &[1],
            &[2; 17],
            &[0x7F; RSA_BYTES],
            &k.n[..RSA_BYTES - 1],
        ] {
            let s = key.private_op(x, &mut rng).unwrap();
            let back = public_op(&k.n, DEFAULT_EXPONENT, &s).unwrap();
            let mut padded = [0u8; RSA_BYTES];
            padded[RSA_BYTES - x.len()..].copy_from_slice(x);
            assert_eq!(back, padded);
        }
        // n − 1 = (−1): its own square root of unity under any odd exponent.
        let mut nm1 = k.n;
        nm1[RSA_BYTES - 1] -= 1;
        assert_eq!(key.private_op(&nm1, &mut rng).unwrap(), nm1);
    }

    #[test]
    fn inputs_at_or_above_n_are_value() {
        let k = test_key();
        let key = ours();
        let mut rng = drbg(6);
        let mut np1 = k.n;
        np1[RSA_BYTES - 1] += 1; // n is odd: no carry
        for bad in [
            &k.n[..],
            &np1[..],
            &[0xFF; RSA_BYTES][..],
            &[0; RSA_BYTES + 1][..],
        ] {
            assert_eq!(public_op(&k.n, 0, bad).unwrap_err(), RsaError::Value);
            assert_eq!(key.private_op(bad, &mut rng).unwrap_err(), RsaError::Value);
        }
    }

    #[test]
    fn bad_keys_are_key() {
        let k = test_key();
        // Wrong prime, a prime that does not divide n, p = 1, even, too long, empty.
        let mut wrong = k.p;
        wrong[PRIME_BYTES - 1] ^= 2;
        for prime in [&wrong[..], &[1], &[2], &[3; PRIME_BYTES + 1], &[], &k.n[..]] {
            assert_eq!(
                RsaPrivate::from_prime(&k.n, 0, prime).unwrap_err(),
                RsaError::Key
            );
        }
        // n with the top bit clear, of another length, even.
        let mut small = k.n;
        small[0] &= 0x7F;
        let mut even = k.n;
        even[RSA_BYTES - 1] ^= 1;
        for n in [&small[..], &k.n[1..], &even[..]] {
            assert_eq!(
                RsaPrivate::from_prime(n, 0, &k.p).unwrap_err(),
                RsaError::Key
            );
            assert_eq!(public_op(n, 0, &[1]).unwrap_err(), RsaError::Key);
        }
        // Even or tiny exponents; an exponent not coprime to p − 1 or q − 1 (3 may or may not
        // be; e = 65537 with n's own primes always is).
        for e in [1, 2, 4, 65536] {
            assert_eq!(
                RsaPrivate::from_prime(&k.n, e, &k.p).unwrap_err(),
                RsaError::Key
            );
        }
    }

    #[test]
    fn either_prime_makes_the_same_key() {
        let k = test_key();
        let by_p = RsaPrivate::from_prime(&k.n, 0, &k.p).unwrap();
        let by_q = RsaPrivate::from_prime(&k.n, DEFAULT_EXPONENT, &k.q).unwrap();
        let x = [0x5Au8; 200];
        assert_eq!(
            by_p.private_op(&x, &mut drbg(7)).unwrap(),
            by_q.private_op(&x, &mut drbg(8)).unwrap()
        );
        assert_eq!(by_p.modulus(), k.n);
        assert_eq!(by_q.exponent(), DEFAULT_EXPONENT);
    }

    #[test]
    fn a_composite_factor_fails_the_fault_check() {
        // n' = p · q' for an odd q' that is not prime: from_prime accepts the shape, the
        // private operation gives a wrong answer and the check turns it into Key.
        let k = test_key();
        let p = U1024::from_be_slice(&k.p);
        let q_fake = U1024::from_be_slice(&k.q).wrapping_add(&U1024::from_u32(2));
        let n_fake: U2048 = p.concatenating_mul(&q_fake);
        let mut n = [0u8; RSA_BYTES];
        uint_to_be(&n_fake, &mut n);
        let key = RsaPrivate::from_prime(&n, 0, &k.p).unwrap();
        assert_eq!(
            key.private_op(&[9; 64], &mut drbg(9)).unwrap_err(),
            RsaError::Key
        );
    }

    #[test]
    fn private_op_needs_the_drbg() {
        let key = ours();
        let mut dead = drbg(1);
        dead.exhaust();
        assert_eq!(key.private_op(&[1], &mut dead).unwrap_err(), RsaError::Rng);
        let k = test_key();
        assert_eq!(
            oaep_encrypt(&k.n, 0, HashAlg::Sha256, b"", b"m", &mut dead).unwrap_err(),
            RsaError::Rng
        );
        assert_eq!(
            rsaes_encrypt(&k.n, 0, b"m", &mut dead).unwrap_err(),
            RsaError::Rng
        );
    }

    #[test]
    fn pkcs1v15_signatures_agree_with_the_rsa_crate() {
        let k = test_key();
        let key = ours();
        let (theirs, public) = (theirs(), theirs_public());
        let mut rng = drbg(10);
        for hash in HashAlg::ALL {
            let digest = hash.digest(&[b"message"]);
            let sig = pkcs1v15_sign(&key, hash, digest.as_slice(), &mut rng).unwrap();
            with_digest!(hash, D => {
                public.verify(Pkcs1v15Sign::new::<D>(), digest.as_slice(), &sig).unwrap();
                let their_sig = theirs.sign(Pkcs1v15Sign::new::<D>(), digest.as_slice()).unwrap();
                // Deterministic scheme: the same bytes.
                assert_eq!(their_sig, sig);
                pkcs1v15_verify(&k.n, 0, hash, digest.as_slice(), &their_sig).unwrap();
            });
            pkcs1v15_verify(&k.n, DEFAULT_EXPONENT, hash, digest.as_slice(), &sig).unwrap();
        }
    }

    #[test]
    fn pkcs1v15_rejects_tampering() {
        let k = test_key();
        let key = ours();
        let digest = HashAlg::Sha256.digest(&[b"message"]);
        let sig = pkcs1v15_sign(&key, HashAlg::Sha256, digest.as_slice(), &mut drbg(11)).unwrap();
        let mut bad = sig;
        bad[100] ^= 1;
        let other = HashAlg::Sha256.digest(&[b"messagf"]);
        let verify = |hash, digest: &[u8], sig: &[u8]| pkcs1v15_verify(&k.n, 0, hash, digest, sig);
        assert_eq!(
            verify(HashAlg::Sha256, digest.as_slice(), &bad),
            Err(RsaError::Signature)
        );
        assert_eq!(
            verify(HashAlg::Sha256, other.as_slice(), &sig),
            Err(RsaError::Signature)
        );
        assert_eq!(
            verify(HashAlg::Sha256, digest.as_slice(), &sig[1..]),
            Err(RsaError::Signature)
        );
        assert_eq!(
            verify(HashAlg::Sha256, digest.as_slice(), &k.n),
            Err(RsaError::Signature)
        );
        // A 32-byte digest claimed to be SHA-384: the digest length is wrong.
        assert_eq!(
            verify(HashAlg::Sha384, digest.as_slice(), &sig),
            Err(RsaError::Value)
        );
        assert_eq!(
            pkcs1v15_sign(&key, HashAlg::Sha512, digest.as_slice(), &mut drbg(1)).unwrap_err(),
            RsaError::Value
        );
    }

    #[test]
    fn pss_signatures_agree_with_the_rsa_crate() {
        let k = test_key();
        let key = ours();
        let (theirs, public) = (theirs(), theirs_public());
        let mut rng = drbg(12);
        for hash in HashAlg::ALL {
            let digest = hash.digest(&[b"message"]);
            let sig = pss_sign(&key, hash, digest.as_slice(), &mut rng).unwrap();
            pss_verify(&k.n, 0, hash, digest.as_slice(), &sig).unwrap();
            let h_len = hash.size();
            assert_eq!(pss_salt_len(hash), h_len);
            let max_salt = RSA_BYTES - h_len - 2;
            with_digest!(hash, D => {
                // Our salt is the digest size: the rsa crate checks that length exactly.
                public.verify(Pss::<D>::new_with_salt(h_len), digest.as_slice(), &sig).unwrap();
                assert!(public.verify(Pss::<D>::new_with_salt(h_len + 1), digest.as_slice(), &sig).is_err());
                // Theirs with several salt lengths verify with ours.
                for salt in [0, 1, 20, h_len, max_salt] {
                    let mut their_rng = DrbgRng::new(&mut rng);
                    let their_sig = theirs
                        .sign_with_rng(&mut their_rng, Pss::<D>::new_with_salt(salt), digest.as_slice())
                        .unwrap();
                    pss_verify(&k.n, 0, hash, digest.as_slice(), &their_sig).unwrap();
                }
            });
        }
    }

    #[test]
    fn pss_rejects_tampering() {
        let k = test_key();
        let key = ours();
        let mut rng = drbg(13);
        let digest = HashAlg::Sha384.digest(&[b"message"]);
        let sig = pss_sign(&key, HashAlg::Sha384, digest.as_slice(), &mut rng).unwrap();
        let other = HashAlg::Sha384.digest(&[b"messagf"]);
        for i in [0, 1, 100, RSA_BYTES - 1] {
            let mut bad = sig;
            bad[i] ^= 0x10;
            assert_eq!(
                pss_verify(&k.n, 0, HashAlg::Sha384, digest.as_slice(), &bad),
                Err(RsaError::Signature)
            );
        }
        assert_eq!(
            pss_verify(&k.n, 0, HashAlg::Sha384, other.as_slice(), &sig),
            Err(RsaError::Signature)
        );
        // Another hash of the same length is another encoding.
        let d512 = HashAlg::Sha512.digest(&[b"message"]);
        let sig512 = pss_sign(&key, HashAlg::Sha512, d512.as_slice(), &mut rng).unwrap();
        assert_eq!(
            pss_verify(&k.n, 0, HashAlg::Sha512, d512.as_slice(), &sig512),
            Ok(())
        );
        assert_eq!(
            pss_verify(&k.n, 0, HashAlg::Sha512, d512.as_slice(), &sig),
            Err(RsaError::Signature)
        );
        // Encodings that are not PSS at all: a PKCS#1 v1.5 signature, raw values.
        let v15 = pkcs1v15_sign(&key, HashAlg::Sha384, digest.as_slice(), &mut rng).unwrap();
        assert_eq!(
            pss_verify(&k.n, 0, HashAlg::Sha384, digest.as_slice(), &v15),
            Err(RsaError::Signature)
        );
        for raw in [[0u8; RSA_BYTES], [0x01; RSA_BYTES]] {
            let s = key.private_op(&raw, &mut rng).unwrap();
            assert_eq!(
                pss_verify(&k.n, 0, HashAlg::Sha384, digest.as_slice(), &s),
                Err(RsaError::Signature)
            );
        }
        assert_eq!(
            pss_sign(&key, HashAlg::Sha384, &[0; 47], &mut rng).unwrap_err(),
            RsaError::Value
        );
    }

    #[test]
    fn oaep_agrees_with_the_rsa_crate() {
        let k = test_key();
        let key = ours();
        let (theirs, public) = (theirs(), theirs_public());
        let mut rng = drbg(14);
        let mut out = [0u8; RSA_BYTES];
        for hash in HashAlg::ALL {
            let max = RSA_BYTES - 2 * hash.size() - 2;
            for (label, msg) in [
                (&b""[..], &b"secret"[..]),
                (b"DUPLICATE\0", &[0xA5; 32][..]),
                (b"IDENTITY\0", &[][..]),
                (b"label", &[7u8; 256][..max]),
            ] {
                with_digest!(hash, D => {
                    let padding = || if label.is_empty() {
                        Oaep::<D>::new()
                    } else {
                        Oaep::<D>::new_with_label(label.to_vec())
                    };
                    // Theirs to ours.
                    let mut their_rng = DrbgRng::new(&mut rng);
                    let ct = public.encrypt(&mut their_rng, padding(), msg).unwrap();
                    let len = oaep_decrypt(&key, hash, label, &ct, &mut rng, &mut out).unwrap();
                    assert_eq!(&out[..len], msg);
                    assert!(out[len..].iter().all(|b| *b == 0));
                    // Ours to theirs.
                    let ct = oaep_encrypt(&k.n, 0, hash, label, msg, &mut rng).unwrap();
                    assert_eq!(theirs.decrypt(padding(), &ct).unwrap(), msg);
                    // A wrong label, a flipped bit.
                    assert_eq!(
                        oaep_decrypt(&key, hash, b"other", &ct, &mut rng, &mut out),
                        Err(RsaError::Padding)
                    );
                    let mut bad = ct;
                    bad[RSA_BYTES / 2] ^= 1;
                    assert_eq!(
                        oaep_decrypt(&key, hash, label, &bad, &mut rng, &mut out),
                        Err(RsaError::Padding)
                    );
                });
            }
            let too_long = [1u8; RSA_BYTES];
            assert_eq!(
                oaep_encrypt(&k.n, 0, hash, b"", &too_long[..max + 1], &mut rng).unwrap_err(),
                RsaError::Value
            );
        }
    }

    #[test]
    fn oaep_rejects_bad_encodings() {
        let k = test_key();
        let key = ours();
        let mut rng = drbg(15);
        let mut out = [0u8; RSA_BYTES];
        // Raw values that are not OAEP encodings, and one with a wrong first byte.
        for raw in [[0u8; RSA_BYTES], [0x01; RSA_BYTES]] {
            let ct = public_op(&k.n, 0, &raw).unwrap();
            assert_eq!(
                oaep_decrypt(&key, HashAlg::Sha256, b"", &ct, &mut rng, &mut out),
                Err(RsaError::Padding)
            );
        }
        // Wrong ciphertext lengths; a ciphertext at n.
        assert_eq!(
            oaep_decrypt(&key, HashAlg::Sha256, b"", &[1; 255], &mut rng, &mut out),
            Err(RsaError::Value)
        );
        assert_eq!(
            oaep_decrypt(&key, HashAlg::Sha256, b"", &k.n, &mut rng, &mut out),
            Err(RsaError::Value)
        );
        // Decrypting with the wrong hash.
        let ct = oaep_encrypt(&k.n, 0, HashAlg::Sha256, b"", b"m", &mut rng).unwrap();
        assert_eq!(
            oaep_decrypt(&key, HashAlg::Sha384, b"", &ct, &mut rng, &mut out),
            Err(RsaError::Padding)
        );
    }

    #[test]
    fn rsaes_pkcs1v15_agrees_with_the_rsa_crate() {
        let k = test_key();
        let key = ours();
        let (theirs, public) = (theirs(), theirs_public());
        let mut rng = drbg(16);
        let mut out = [0u8; RSA_BYTES];
        for msg in [&b""[..], b"secret", &[0u8; 32], &[0xFF; RSA_BYTES - 11]] {
            let mut their_rng = DrbgRng::new(&mut rng);
            let ct = public
                .encrypt(&mut their_rng, Pkcs1v15Encrypt, msg)
                .unwrap();
            let len = rsaes_decrypt(&key, &ct, &mut rng, &mut out).unwrap();
            assert_eq!(&out[..len], msg);
            let ct = rsaes_encrypt(&k.n, 0, msg, &mut rng).unwrap();
            assert_eq!(theirs.decrypt(Pkcs1v15Encrypt, &ct).unwrap(), msg);
            // The padding string is non-zero and at least 8 bytes.
            let em = key.private_op(&ct, &mut rng).unwrap();
            assert_eq!(&em[..2], &[0, 2]);
            let ps_len = RSA_BYTES - 3 - msg.len();
            assert!(ps_len >= 8 && em[2..2 + ps_len].iter().all(|b| *b != 0));
            assert_eq!(em[2 + ps_len], 0);
        }
        assert_eq!(
            rsaes_encrypt(&k.n, 0, &[1; RSA_BYTES - 10], &mut rng).unwrap_err(),
            RsaError::Value
        );
    }

    #[test]
    fn rsaes_pkcs1v15_rejects_bad_encodings() {
        let k = test_key();
        let key = ours();
        let mut rng = drbg(17);
        let mut out = [0u8; RSA_BYTES];
        let encode = |ps_len: usize, first: u8, second: u8| {
            let mut em = [0x33u8; RSA_BYTES];
            em[0] = first;
            em[1] = second;
            em[2 + ps_len] = 0;
            public_op(&k.n, 0, &em).unwrap()
        };
        // A padding string of 8 bytes is the shortest accepted.
        let len = rsaes_decrypt(&key, &encode(8, 0, 2), &mut rng, &mut out).unwrap();
        assert_eq!(len, RSA_BYTES - 11);
        for (ps_len, first, second) in [(7, 0, 2), (0, 0, 2), (20, 0, 1), (20, 1, 2)] {
            assert_eq!(
                rsaes_decrypt(&key, &encode(ps_len, first, second), &mut rng, &mut out),
                Err(RsaError::Padding),
                "{ps_len} {first} {second}"
            );
        }
        // No zero separator at all.
        let ct = public_op(&k.n, 0, &{
            let mut em = [0x33u8; RSA_BYTES];
            em[0] = 0;
            em[1] = 2;
            em
        })
        .unwrap();
        assert_eq!(
            rsaes_decrypt(&key, &ct, &mut rng, &mut out),
            Err(RsaError::Padding)
        );
        assert_eq!(
            rsaes_decrypt(&key, &ct[1..], &mut rng, &mut out),
            Err(RsaError::Value)
        );
    }

    #[test]
    fn debug_prints_no_key_material() {
        let k = test_key();
        let prime = RsaPrime(k.p);
        assert_eq!(format!("{prime:?}"), "[REDACTED]");
        assert_eq!(
            format!("{:?}", ours()),
            "RsaPrivate { e: 65537, key: [REDACTED] }"
        );
    }
}
