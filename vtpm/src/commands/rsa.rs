//! RSA in the TPM (Part 1 Annex B): key generation and checks, TPM2_RSA_Encrypt /
//! TPM2_RSA_Decrypt (Part 3 §14.2, §14.3) and the OAEP-protected secrets of salted sessions
//! and credentials (Part 1 Annex B.10.3). With the `rsa` feature; without it no RSA object
//! can be loaded, and every path here is refused by [`crate::crypto::rsa`].

use crate::Tpm;
use crate::crypto::drbg::HmacDrbg;
use crate::crypto::hash::HashAlg;
use crate::crypto::rsa::{self, DEFAULT_EXPONENT, RsaError, RsaPrivate};
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::object::{KeyObject, MAX_SENSITIVE};
use crate::wire::Writer;
use crate::wire::public::{ObjectAttrs, Public, PublicKind, RsaModulus, Scheme};
use crate::wire::types::{MAX_DATA, MAX_DIGEST, Secret};

/// The TPM_RC for an RSA failure outside signature checking: a padding or range failure is
/// TPM_RC_VALUE (the reference's OaepDecode / RSAES_Decode), inconsistent key material
/// TPM_RC_BINDING (CryptRsaLoadPrivateExponent), a failed random source TPM_RC_FAILURE.
pub fn rsa_rc(e: RsaError) -> TpmRc {
    match e {
        RsaError::Value | RsaError::Padding => TpmRc::VALUE,
        RsaError::Signature => TpmRc::SIGNATURE,
        RsaError::Key => TpmRc::BINDING,
        RsaError::Rng => TpmRc::FAILURE,
    }
}

/// [`rsa_rc`] for the raw RSA operations, where an input not below the modulus is
/// TPM_RC_SIZE (the reference's RSAEP / RSADP via ModExpB).
fn range_rc(e: RsaError) -> TpmRc {
    match e {
        RsaError::Value => TpmRc::SIZE,
        e => rsa_rc(e),
    }
}

/// The public exponent of an RSA public area (0 stands for 2^16 + 1, Part 2 §12.2.3.5).
pub fn exponent(e: u32) -> u32 {
    if e == 0 { DEFAULT_EXPONENT } else { e }
}

/// The RSA part of the reference's CryptValidateKeys (Part 1 §27.2; Part 2 §12.2.3.5): the
/// modulus has exactly keyBits / 8 bytes with its top bit set (TPM_RC_KEY), an explicit
/// exponent is at least 7 (TPM_RC_VALUE), and a sensitive prime is half the modulus with its
/// top bit set (TPM_RC_KEY_SIZE). Errors are unpositioned; the caller marks them.
pub fn check_rsa_public(public: &Public) -> TpmResult<()> {
    let PublicKind::Rsa {
        key_bits,
        exponent,
        n,
        ..
    } = &public.kind
    else {
        return Ok(());
    };
    if n.len() != usize::from(key_bits / 8) || n.as_slice().first().is_none_or(|b| *b < 0x80) {
        return Err(TpmRc::KEY);
    }
    if *exponent != 0 && *exponent < 7 {
        return Err(TpmRc::VALUE);
    }
    Ok(())
}

/// The size rule for the sensitive prime of an RSA key (TPM_RC_KEY_SIZE at parameter
/// `blame`, the sensitive area's), then the binding of the prime to the modulus (q = n / p
/// exact): TPM_RC_BINDING without a position, as the reference's CryptRsaLoadPrivateExponent
/// returns it from ObjectLoad.
pub fn check_rsa_private(public: &Public, prime: &[u8], blame: u8) -> TpmResult<()> {
    let PublicKind::Rsa { exponent, n, .. } = &public.kind else {
        return Ok(());
    };
    if prime.len().saturating_mul(2) != n.len() || prime.first().is_none_or(|b| *b < 0x80) {
        return Err(TpmRc::KEY_SIZE.at_param(blame));
    }
    let mut key = RsaPrivate::EMPTY;
    key.load(n.as_slice(), *exponent, prime)
        .map_err(|_| TpmRc::BINDING)
}

/// Generate an RSA key from `drbg` into the template's modulus; the prime is the sensitive
/// value. Only the exponent 2^16 + 1 is generated (0 in the template means it): an exponent
/// below it or not prime is TPM_RC_RANGE, as in the reference's CryptRsaGenerateKey, and a
/// larger prime one is also TPM_RC_RANGE here.
pub fn generate_rsa(
    exponent: u32,
    n: &mut RsaModulus,
    drbg: &mut HmacDrbg,
) -> TpmResult<Secret<MAX_SENSITIVE>> {
    if exponent != 0 && exponent != DEFAULT_EXPONENT {
        return Err(TpmRc::RANGE);
    }
    // Both written in place: the prime only ever lives in the returned sensitive value.
    *n = RsaModulus::zeroed(rsa::RSA_BYTES).ok_or(TpmRc::FAILURE)?;
    let mut prime = Secret::<MAX_SENSITIVE>::zeroed(rsa::PRIME_BYTES).ok_or(TpmRc::FAILURE)?;
    let n_bytes = n.as_mut_slice().try_into().map_err(|_| TpmRc::FAILURE)?;
    let p_bytes = prime.expose_mut().try_into().map_err(|_| TpmRc::FAILURE)?;
    rsa::generate_into(DEFAULT_EXPONENT, drbg, n_bytes, p_bytes).map_err(|e| match e {
        RsaError::Rng => TpmRc::FAILURE,
        _ => TpmRc::NO_RESULT,
    })?;
    Ok(prime)
}

/// The hash of the label for OAEP-protected secrets: the key's scheme if OAEP, else (NULL) the
/// nameAlg; any other scheme is TPM_RC_SCHEME (the reference's CryptSecretDecrypt).
fn secret_scheme(k: &KeyObject) -> TpmResult<HashAlg> {
    let PublicKind::Rsa { scheme, .. } = k.public.kind else {
        return Err(TpmRc::KEY);
    };
    match scheme {
        Scheme::Oaep(h) => Ok(h),
        Scheme::Null => k.public.name_alg.ok_or(TpmRc::HASH),
        _ => Err(TpmRc::SCHEME),
    }
}

/// The private key of a loaded RSA object into `key`, where the caller keeps it (a key is
/// 1.4 KiB: built in place, not returned): TPM_RC_BINDING if its prime does not fit.
pub fn load_private(key: &mut RsaPrivate, k: &KeyObject) -> TpmResult<()> {
    let PublicKind::Rsa { exponent, n, .. } = &k.public.kind else {
        return Err(TpmRc::KEY);
    };
    key.load(n.as_slice(), *exponent, k.sensitive.expose())
        .map_err(|_| TpmRc::BINDING)
}

/// Decrypt an OAEP-protected secret (Part 1 Annex B.10.3) with the RSA key `k`: `label`
/// with its terminating zero ("SECRET\0", "IDENTITY\0", "DUPLICATE\0"). The ciphertext must
/// have the modulus' size (TPM_RC_SIZE) and the result is at most a digest of the OAEP hash
/// (TPM_RC_VALUE), as in the reference's CryptSecretDecrypt. Errors are unpositioned.
pub fn rsa_secret_decrypt(
    drbg: &mut HmacDrbg,
    k: &KeyObject,
    label: &[u8],
    secret: &[u8],
) -> TpmResult<Secret<MAX_DIGEST>> {
    let hash = secret_scheme(k)?;
    let PublicKind::Rsa { n, .. } = &k.public.kind else {
        return Err(TpmRc::KEY);
    };
    if secret.len() != n.len() {
        return Err(TpmRc::SIZE);
    }
    let mut key = RsaPrivate::EMPTY;
    load_private(&mut key, k)?;
    let mut out = zeroize::Zeroizing::new([0u8; rsa::RSA_BYTES]);
    let len = rsa::oaep_decrypt(&key, hash, label, secret, drbg, &mut out).map_err(rsa_rc)?;
    // At most a digest of the OAEP hash (the reference's CryptSecretDecrypt).
    if len > hash.size() {
        return Err(TpmRc::VALUE);
    }
    Secret::from_slice(out.get(..len).ok_or(TpmRc::FAILURE)?).ok_or(TpmRc::VALUE)
}

/// Make a fresh nameAlg-sized secret and protect it with OAEP under the RSA key `k`
/// (the reference's CryptSecretEncrypt): (secret, encrypted secret).
pub fn rsa_secret_encrypt(
    drbg: &mut HmacDrbg,
    k: &KeyObject,
    label: &[u8],
) -> TpmResult<(Secret<MAX_DIGEST>, RsaModulus)> {
    let PublicKind::Rsa { exponent, n, .. } = &k.public.kind else {
        return Err(TpmRc::KEY);
    };
    if !k.public.attrs.has(ObjectAttrs::DECRYPT) {
        return Err(TpmRc::ATTRIBUTES);
    }
    let name_alg = k.public.name_alg.ok_or(TpmRc::HASH)?;
    let mut seed = Secret::<MAX_DIGEST>::zeroed(name_alg.size()).ok_or(TpmRc::FAILURE)?;
    drbg.generate(seed.expose_mut(), &[])
        .map_err(|_| TpmRc::FAILURE)?;
    let ct = rsa::oaep_encrypt(
        n.as_slice(),
        *exponent,
        name_alg,
        label,
        seed.expose(),
        drbg,
    )
    .map_err(rsa_rc)?;
    Ok((seed, RsaModulus::from_slice(&ct).ok_or(TpmRc::FAILURE)?))
}

impl<P: Platform> Tpm<P> {
    /// A DRBG for one RSA operation (blinding, padding, an ordinary key's primes), seeded from
    /// the TPM's random generator.
    pub(crate) fn rsa_drbg(&mut self) -> TpmResult<HmacDrbg> {
        let mut entropy = zeroize::Zeroizing::new([0u8; 48]);
        self.random(&mut entropy[..])?;
        Ok(HmacDrbg::new(&entropy[..], &[], b"vtpm RSA operation"))
    }

    /// The RSA key at handle 1 for RSA_Encrypt / RSA_Decrypt and the scheme to use: the key
    /// must be RSA (TPM_RC_KEY) with decrypt set (TPM_RC_ATTRIBUTES; and not restricted for
    /// decryption); the label, if any, ends with a zero (TPM_RC_VALUE at parameter 3); the
    /// key's scheme wins over NULL, a different non-NULL one is TPM_RC_SCHEME at parameter 2
    /// (the reference's CryptRsaSelectScheme).
    fn rsa_key_scheme(
        &self,
        c: &Cmd,
        in_scheme: Scheme,
        label: &[u8],
        decrypt: bool,
    ) -> TpmResult<Scheme> {
        let k = self.key(c, 0)?;
        let PublicKind::Rsa { scheme, .. } = k.public.kind else {
            return Err(TpmRc::KEY.at_handle(1));
        };
        let a = k.public.attrs;
        if !a.has(ObjectAttrs::DECRYPT) || (decrypt && a.has(ObjectAttrs::RESTRICTED)) {
            return Err(TpmRc::ATTRIBUTES.at_handle(1));
        }
        if label.last().is_some_and(|b| *b != 0) {
            return Err(TpmRc::VALUE.at_param(3));
        }
        match (scheme, in_scheme) {
            (Scheme::Null, s) => Ok(s),
            (s, Scheme::Null) => Ok(s),
            (s, t) if s == t => Ok(t),
            _ => Err(TpmRc::SCHEME.at_param(2)),
        }
    }

    /// TPM2_RSA_Encrypt (Part 3 §14.2): `message` padded by the scheme (RSAES, OAEP with the
    /// label, or NULL: the message as a number, leading zeros dropped) and raised to e.
    pub(crate) fn rsa_encrypt(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let message = p.tpm2b(rsa::RSA_BYTES)?;
        let in_scheme = p.next(Scheme::unmarshal_rsa_decrypt)?;
        let label = p.tpm2b(MAX_DATA)?;
        p.finish()?;
        let scheme = self.rsa_key_scheme(c, in_scheme, label, false)?;
        let mut drbg = self.rsa_drbg()?;
        let k = self.key(c, 0)?;
        let PublicKind::Rsa { exponent, n, .. } = &k.public.kind else {
            return Err(TpmRc::KEY.at_handle(1));
        };
        let (n, e) = (n.as_slice(), *exponent);
        let out = match scheme {
            Scheme::Null => {
                let start = message.iter().take_while(|b| **b == 0).count();
                let m = message.get(start..).unwrap_or(&[]);
                if m.len() > n.len() {
                    return Err(TpmRc::VALUE);
                }
                rsa::public_op(n, e, m).map_err(range_rc)?
            }
            Scheme::RsaEs => rsa::rsaes_encrypt(n, e, message, &mut drbg).map_err(rsa_rc)?,
            Scheme::Oaep(h) => {
                rsa::oaep_encrypt(n, e, h, label, message, &mut drbg).map_err(rsa_rc)?
            }
            _ => return Err(TpmRc::SCHEME.at_param(2)),
        };
        w.tpm2b(out.get(..n.len()).ok_or(TpmRc::FAILURE)?)?;
        Ok(())
    }

    /// TPM2_RSA_Decrypt (Part 3 §14.3): the ciphertext must be the modulus' size and less
    /// than it (TPM_RC_SIZE); padding failures are TPM_RC_VALUE. NULL returns the number.
    pub(crate) fn rsa_decrypt(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let ct = p.tpm2b(rsa::RSA_BYTES)?;
        let in_scheme = p.next(Scheme::unmarshal_rsa_decrypt)?;
        let label = p.tpm2b(MAX_DATA)?;
        p.finish()?;
        let scheme = self.rsa_key_scheme(c, in_scheme, label, true)?;
        let mut drbg = self.rsa_drbg()?;
        let k = self.key(c, 0)?;
        let PublicKind::Rsa { n, .. } = &k.public.kind else {
            return Err(TpmRc::KEY.at_handle(1));
        };
        if ct.len() != n.len() {
            return Err(TpmRc::SIZE);
        }
        let mut key = RsaPrivate::EMPTY;
        load_private(&mut key, k)?;
        let mut out = zeroize::Zeroizing::new([0u8; rsa::RSA_BYTES]);
        let len = match scheme {
            Scheme::Null => {
                *out = key.private_op(ct, &mut drbg).map_err(range_rc)?;
                rsa::RSA_BYTES
            }
            Scheme::RsaEs => rsa::rsaes_decrypt(&key, ct, &mut drbg, &mut out).map_err(range_rc)?,
            Scheme::Oaep(h) => {
                rsa::oaep_decrypt(&key, h, label, ct, &mut drbg, &mut out).map_err(range_rc)?
            }
            _ => return Err(TpmRc::SCHEME.at_param(2)),
        };
        w.tpm2b(out.get(..len).ok_or(TpmRc::FAILURE)?)?;
        Ok(())
    }
}
