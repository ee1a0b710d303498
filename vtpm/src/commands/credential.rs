//! Credential protection (Part 1 §24, Annex C.6.1 for ECC, Annex B.10.3 for RSA; Part 3
//! §12.5–12.6) and ECDH (Part 3 §14.4–14.5).
//!
//! `seed = KDFe(nameAlg, Z = (d_e·Q_EK).x, "IDENTITY", Q_e.x, Q_EK.x, digest bits)`,
//! `symKey = KDFa(nameAlg, seed, "STORAGE", objectName, ∅, EK key bits)`,
//! `encIdentity = AES-CFB(symKey, IV = 0)(u16 size ‖ credential)`,
//! `outerHMAC = HMAC(KDFa(nameAlg, seed, "INTEGRITY", ∅, ∅, digest bits), encIdentity ‖
//! objectName)`, credentialBlob = TPM2B(outerHMAC) ‖ encIdentity, secret = TPMS_ECC_POINT Q_e.
//! With an RSA key the seed is random (nameAlg digest size) and secret = OAEP(nameAlg,
//! "IDENTITY\0", seed).

use crate::Tpm;
use crate::crypto::ecc::{self, Curve};
use crate::crypto::hash::HashAlg;
use crate::crypto::hmac::hmac;
use crate::crypto::kdf::{kdfa, kdfe};
use crate::crypto::sym::{aes_cfb_decrypt, aes_cfb_encrypt};
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::object::KeyObject;
use crate::wire::public::{
    EccParameter, MAX_ECC_KEY_BYTES, ObjectAttrs, PublicKind, Scheme, SymDef,
};
use crate::wire::types::{MAX_DIGEST, Secret};
use crate::wire::{Reader, Writer};

/// Largest TPM2B_ENCRYPTED_SECRET contents: an RSA-2048 ciphertext (larger than a
/// TPMS_ECC_POINT).
const SECRET_MAX: usize = crate::crypto::rsa::RSA_BYTES;

/// Largest TPM2B_ID_OBJECT contents: outer HMAC and the encrypted credential.
const MAX_ID_OBJECT: usize = 2 + MAX_DIGEST + 2 + MAX_DIGEST;

/// What an EK-like storage key (ECC or RSA) contributes to credential protection.
struct CredentialKey {
    /// The curve of an ECC key; `None` for RSA (the seed is OAEP-protected).
    curve: Option<Curve>,
    name_alg: HashAlg,
    key_bytes: usize,
    x: EccParameter,
    y: EccParameter,
}

/// The EK-like key: an ECC or RSA restricted decryption key with AES-CFB (TPM_RC_TYPE at
/// `handle`).
fn credential_key(k: &KeyObject, handle: u8) -> TpmResult<CredentialKey> {
    let a = k.public.attrs;
    let Some(SymDef::AesCfb { key_bits }) = k.public.symmetric() else {
        return Err(TpmRc::TYPE.at_handle(handle));
    };
    if !a.has(ObjectAttrs::RESTRICTED) || !a.has(ObjectAttrs::DECRYPT) {
        return Err(TpmRc::TYPE.at_handle(handle));
    }
    let (curve, x, y) = match k.public.kind {
        PublicKind::Ecc { curve, x, y, .. } => {
            (Some(Curve::from_id(curve).ok_or(TpmRc::CURVE)?), x, y)
        }
        _ => (None, EccParameter::EMPTY, EccParameter::EMPTY),
    };
    Ok(CredentialKey {
        curve,
        name_alg: k.public.name_alg.ok_or(TpmRc::HASH)?,
        key_bytes: usize::from(key_bits / 8),
        x,
        y,
    })
}

/// The keys of a credential blob from its seed.
fn blob_keys(k: &CredentialKey, seed: &[u8], name: &[u8]) -> TpmResult<(Secret<32>, Secret<64>)> {
    let mut sym = Secret::<32>::zeroed(k.key_bytes).ok_or(TpmRc::FAILURE)?;
    kdfa(k.name_alg, seed, b"STORAGE", name, &[], sym.expose_mut()).ok_or(TpmRc::FAILURE)?;
    let mut mac = Secret::<64>::zeroed(k.name_alg.size()).ok_or(TpmRc::FAILURE)?;
    kdfa(k.name_alg, seed, b"INTEGRITY", &[], &[], mac.expose_mut()).ok_or(TpmRc::FAILURE)?;
    Ok((sym, mac))
}

/// The credential seed from Z and the two x-coordinates.
fn identity_seed(k: &CredentialKey, z: &[u8], qe_x: &[u8]) -> TpmResult<Secret<64>> {
    let mut seed = Secret::<64>::zeroed(k.name_alg.size()).ok_or(TpmRc::FAILURE)?;
    kdfe(
        k.name_alg,
        z,
        b"IDENTITY",
        qe_x,
        k.x.as_slice(),
        seed.expose_mut(),
    )
    .ok_or(TpmRc::FAILURE)?;
    Ok(seed)
}

/// Read a TPM2B_ECC_POINT / TPMS_ECC_POINT's coordinates.
fn read_point<'a>(r: &mut Reader<'a>) -> TpmResult<(&'a [u8], &'a [u8])> {
    let x = r.tpm2b(MAX_ECC_KEY_BYTES)?;
    let y = r.tpm2b(MAX_ECC_KEY_BYTES)?;
    Ok((x, y))
}

impl<P: Platform> Tpm<P> {
    /// TPM2_MakeCredential (Part 3 §12.6): protect `credential` for the object named
    /// `objectName` under the (public) key at handle 1.
    pub(crate) fn make_credential(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let credential = p.tpm2b(MAX_DIGEST)?;
        let name = p.tpm2b(2 + MAX_DIGEST)?;
        p.finish()?;
        let k = credential_key(self.key(c, 0)?, 1)?;
        if credential.len() > k.name_alg.size() {
            return Err(TpmRc::SIZE.at_param(1));
        }
        // The seed and the secret that carries it: OAEP under an RSA key, or an ephemeral
        // ECDH point for an ECC key.
        let mut secret = crate::wire::types::Buf::<{ SECRET_MAX }>::EMPTY;
        let seed = match k.curve {
            None => {
                let mut drbg = self.rsa_drbg()?;
                let (seed, ct) = crate::commands::rsa::rsa_secret_encrypt(
                    &mut drbg,
                    self.key(c, 0)?,
                    b"IDENTITY\0",
                )
                .map_err(|rc| rc.at_handle(1))?;
                secret.extend(ct.as_slice()).ok_or(TpmRc::FAILURE)?;
                Secret::<64>::from_slice(seed.expose()).ok_or(TpmRc::FAILURE)?
            }
            Some(curve) => {
                let de =
                    ecc::try_random_private(curve, |c| self.random(c))?.ok_or(TpmRc::FAILURE)?;
                let qe = ecc::public_from_private(curve, de.expose()).ok_or(TpmRc::FAILURE)?;
                let z = ecc::ecdh(curve, de.expose(), k.x.as_slice(), k.y.as_slice())
                    .ok_or(TpmRc::ECC_POINT.at_handle(1))?;
                let mut buf = [0u8; SECRET_MAX];
                let mut sw = Writer::new(&mut buf);
                write_point_w(&mut sw, qe.x.as_slice(), qe.y.as_slice())?;
                secret.extend(sw.written()).ok_or(TpmRc::FAILURE)?;
                identity_seed(&k, z.expose(), qe.x.as_slice())?
            }
        };
        let (sym, mac) = blob_keys(&k, seed.expose(), name)?;
        let mut enc = [0u8; 2 + MAX_DIGEST];
        let len = credential.len().saturating_add(2);
        let body = enc.get_mut(..len).ok_or(TpmRc::FAILURE)?;
        let (size, rest) = body.split_at_mut_checked(2).ok_or(TpmRc::FAILURE)?;
        size.copy_from_slice(
            &u16::try_from(credential.len())
                .map_err(|_| TpmRc::SIZE)?
                .to_be_bytes(),
        );
        rest.copy_from_slice(credential);
        aes_cfb_encrypt(sym.expose(), &[0; 16], body).ok_or(TpmRc::FAILURE)?;
        let outer = hmac(k.name_alg, mac.expose(), &[body, name]);
        w.tpm2b_with(|w| {
            w.tpm2b(outer.as_slice())?;
            w.bytes(body)
        })?;
        w.tpm2b(secret.as_slice())?;
        Ok(())
    }

    /// TPM2_ActivateCredential (Part 3 §12.5): recover the credential if it was made for the
    /// object at handle 1 under the key at handle 2 (TPM_RC_INTEGRITY otherwise; a point off
    /// the curve is TPM_RC_ECC_POINT).
    pub(crate) fn activate_credential(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let blob = p.tpm2b(MAX_ID_OBJECT)?;
        let secret = p.tpm2b(SECRET_MAX)?;
        p.finish()?;
        let mut drbg = match self.key(c, 1)?.public.kind {
            PublicKind::Rsa { .. } => Some(self.rsa_drbg()?),
            _ => None,
        };
        let name = self.key(c, 0)?.name;
        let key = self.key(c, 1)?;
        let k = credential_key(key, 2)?;
        let seed = match (k.curve, drbg.as_mut()) {
            (Some(curve), _) => {
                let mut sr = Reader::new(secret);
                let (qx, qy) = read_point(&mut sr).map_err(|_| TpmRc::SIZE.at_param(2))?;
                if !sr.is_empty() {
                    return Err(TpmRc::SIZE.at_param(2));
                }
                let z = ecc::ecdh(curve, key.sensitive.expose(), qx, qy)
                    .ok_or(TpmRc::ECC_POINT.at_param(2))?;
                let mut qx_padded =
                    EccParameter::zeroed(curve.size()).ok_or(TpmRc::ECC_POINT.at_param(2))?;
                let off = curve
                    .size()
                    .checked_sub(qx.len())
                    .ok_or(TpmRc::ECC_POINT.at_param(2))?;
                qx_padded
                    .as_mut_slice()
                    .get_mut(off..)
                    .ok_or(TpmRc::FAILURE)?
                    .copy_from_slice(qx);
                identity_seed(&k, z.expose(), qx_padded.as_slice())?
            }
            (None, Some(drbg)) => {
                // Any failure to recover the seed is reported at the secret (as the reference's
                // ActivateCredential does), except an unusable key, which is TPM_RC_FAILURE.
                let s = crate::commands::rsa::rsa_secret_decrypt(drbg, key, b"IDENTITY\0", secret)
                    .map_err(|rc| {
                        if rc == TpmRc::KEY {
                            TpmRc::FAILURE
                        } else {
                            rc.at_param(2)
                        }
                    })?;
                Secret::<64>::from_slice(s.expose()).ok_or(TpmRc::FAILURE)?
            }
            (None, None) => return Err(TpmRc::FAILURE),
        };
        let (sym, mac) = blob_keys(&k, seed.expose(), name.as_slice())?;
        let mut br = Reader::new(blob);
        let outer = br.tpm2b(MAX_DIGEST).map_err(|_| TpmRc::SIZE.at_param(1))?;
        let enc = br.rest();
        let expect = hmac(k.name_alg, mac.expose(), &[enc, name.as_slice()]);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(expect.as_slice(), outer)) {
            return Err(TpmRc::INTEGRITY.at_param(1));
        }
        let mut plain =
            Secret::<{ 2 + MAX_DIGEST }>::from_slice(enc).ok_or(TpmRc::SIZE.at_param(1))?;
        aes_cfb_decrypt(sym.expose(), &[0; 16], plain.expose_mut()).ok_or(TpmRc::FAILURE)?;
        let mut pr = Reader::new(plain.expose());
        let credential = pr.tpm2b(MAX_DIGEST).map_err(|_| TpmRc::SIZE.at_param(1))?;
        if !pr.is_empty() {
            return Err(TpmRc::SIZE.at_param(1));
        }
        w.tpm2b(credential)?;
        Ok(())
    }

    /// The ECC key at handle 1 for ECDH (TPM_RC_KEY if not ECC, TPM_RC_ATTRIBUTES if it is not
    /// an unrestricted decryption key, TPM_RC_SCHEME if its scheme is not ECDH or NULL).
    fn ecdh_key(&self, c: &Cmd, need_private: bool) -> TpmResult<(Curve, &KeyObject)> {
        let k = self.key(c, 0)?;
        let PublicKind::Ecc { curve, scheme, .. } = k.public.kind else {
            return Err(TpmRc::KEY.at_handle(1));
        };
        if need_private {
            let a = k.public.attrs;
            if k.public_only || a.has(ObjectAttrs::RESTRICTED) || !a.has(ObjectAttrs::DECRYPT) {
                return Err(TpmRc::ATTRIBUTES.at_handle(1));
            }
            if !matches!(scheme, Scheme::Null | Scheme::Ecdh(_)) {
                return Err(TpmRc::SCHEME.at_handle(1));
            }
        }
        Ok((Curve::from_id(curve).ok_or(TpmRc::CURVE)?, k))
    }

    /// TPM2_ECDH_KeyGen (Part 3 §14.4): an ephemeral (d_e, Q_e) and Z = d_e·Q_key.
    pub(crate) fn ecdh_keygen(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        p.finish()?;
        let (curve, k) = self.ecdh_key(c, false)?;
        let PublicKind::Ecc { x, y, .. } = k.public.kind else {
            return Err(TpmRc::KEY.at_handle(1));
        };
        let de = ecc::try_random_private(curve, |c| self.random(c))?.ok_or(TpmRc::FAILURE)?;
        let qe = ecc::public_from_private(curve, de.expose()).ok_or(TpmRc::FAILURE)?;
        let (zx, zy) = ecc::multiply(curve, de.expose(), x.as_slice(), y.as_slice())
            .ok_or(TpmRc::ECC_POINT.at_handle(1))?;
        w.tpm2b_with(|w| write_point_w(w, zx.expose(), zy.expose()))?;
        w.tpm2b_with(|w| write_point_w(w, qe.x.as_slice(), qe.y.as_slice()))?;
        Ok(())
    }

    /// TPM2_ECDH_ZGen (Part 3 §14.5): d_key·inPoint (TPM_RC_ECC_POINT if off the curve).
    pub(crate) fn ecdh_zgen(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let (ix, iy) = p.next(|r| {
            let inner = r.tpm2b(2 * (2 + MAX_ECC_KEY_BYTES))?;
            let mut ir = Reader::new(inner);
            let pt = read_point(&mut ir)?;
            if !ir.is_empty() {
                return Err(TpmRc::SIZE);
            }
            Ok(pt)
        })?;
        p.finish()?;
        let (curve, k) = self.ecdh_key(c, true)?;
        let (zx, zy) = ecc::multiply(curve, k.sensitive.expose(), ix, iy)
            .ok_or(TpmRc::ECC_POINT.at_param(1))?;
        w.tpm2b_with(|w| write_point_w(w, zx.expose(), zy.expose()))?;
        Ok(())
    }
}

/// Write TPMS_ECC_POINT.
fn write_point_w(w: &mut Writer<'_>, x: &[u8], y: &[u8]) -> Result<(), crate::wire::WireError> {
    w.tpm2b(x)?;
    w.tpm2b(y)
}
