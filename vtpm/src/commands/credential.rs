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
use crate::state::Commits;
use crate::state::object::KeyObject;
use crate::wire::constants::TpmAlgId;
use crate::wire::public::{
    EccParameter, MAX_ECC_KEY_BYTES, ObjectAttrs, PublicKind, Scheme, SymDef,
};
use crate::wire::types::{MAX_DIGEST, Secret};
use crate::wire::{Reader, Writer};

/// Largest TPM2B_ENCRYPTED_SECRET contents: an RSA-2048 ciphertext (larger than a
/// TPMS_ECC_POINT).
pub(crate) const SECRET_MAX: usize = crate::crypto::rsa::RSA_BYTES;

/// Largest TPM2B_ID_OBJECT contents: outer HMAC and the encrypted credential.
const MAX_ID_OBJECT: usize = 2 + MAX_DIGEST + 2 + MAX_DIGEST;

/// What an EK-like or storage key (ECC or RSA) contributes to credential and duplication
/// protection.
pub(crate) struct CredentialKey {
    /// The curve of an ECC key; `None` for RSA (the seed is OAEP-protected).
    curve: Option<Curve>,
    /// The key's nameAlg: the hash of the seed's KDFs and of the outer HMAC.
    pub(crate) name_alg: HashAlg,
    key_bytes: usize,
    x: EccParameter,
    y: EccParameter,
}

/// The EK-like key: an ECC or RSA restricted decryption key with AES-CFB (TPM_RC_TYPE at
/// `handle`); the reference's ObjectIsStorage.
pub(crate) fn credential_key(k: &KeyObject, handle: u8) -> TpmResult<CredentialKey> {
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

/// The keys of a credential blob or of a duplication blob's outer wrapper from its seed.
pub(crate) fn blob_keys(
    k: &CredentialKey,
    seed: &[u8],
    name: &[u8],
) -> TpmResult<(Secret<32>, Secret<64>)> {
    let mut sym = Secret::<32>::zeroed(k.key_bytes).ok_or(TpmRc::FAILURE)?;
    kdfa(k.name_alg, seed, b"STORAGE", name, &[], sym.expose_mut()).ok_or(TpmRc::FAILURE)?;
    let mut mac = Secret::<64>::zeroed(k.name_alg.size()).ok_or(TpmRc::FAILURE)?;
    kdfa(k.name_alg, seed, b"INTEGRITY", &[], &[], mac.expose_mut()).ok_or(TpmRc::FAILURE)?;
    Ok((sym, mac))
}

/// The all-zero IV of credential blobs and of duplication blobs' wrappers.
const ZERO_IV: [u8; 16] = [0; 16];

/// Write the integrity TPM2B in front of `buf` = room for it (2 + digest bytes) ‖ data:
/// HMAC(key, data ‖ name) with a key (an outer wrapper, a credential), else H(data ‖ name) (an
/// inner wrapper).
pub(crate) fn put_integrity(alg: HashAlg, key: Option<&[u8]>, name: &[u8], buf: &mut [u8]) {
    if let Some((head, data)) = buf.split_at_mut_checked(alg.size().saturating_add(2)) {
        let d = match key {
            Some(key) => hmac(alg, key, &[data, name]),
            None => alg.digest(&[data, name]),
        };
        // `head` has room for the TPM2B by construction.
        let _ = Writer::new(head).tpm2b(d.as_slice());
    }
}

/// Check the integrity TPM2B in front of `buf` as [`put_integrity`] makes it, in constant
/// time: the offset of the data after it. TPM_RC_INTEGRITY if it does not match; unmarshaling
/// errors and both unpositioned.
pub(crate) fn check_integrity(
    alg: HashAlg,
    key: Option<&[u8]>,
    name: &[u8],
    buf: &[u8],
) -> TpmResult<usize> {
    let mut r = Reader::new(buf);
    let integrity = r.tpm2b(MAX_DIGEST)?;
    let d = match key {
        Some(key) => hmac(alg, key, &[r.rest(), name]),
        None => alg.digest(&[r.rest(), name]),
    };
    if !bool::from(subtle::ConstantTimeEq::ct_eq(d.as_slice(), integrity)) {
        return Err(TpmRc::INTEGRITY);
    }
    Ok(integrity.len().saturating_add(2))
}

/// Put the outer wrapper around `buf` = room for the integrity TPM2B ‖ data, in place (the
/// reference's ProduceOuterWrap without IV): the data AES-CFB encrypted with the STORAGE key,
/// then the INTEGRITY HMAC over it and `name` in front.
pub(crate) fn outer_wrap(
    k: &CredentialKey,
    seed: &[u8],
    name: &[u8],
    buf: &mut [u8],
) -> TpmResult<()> {
    let (sym, mac) = blob_keys(k, seed, name)?;
    let data = buf
        .get_mut(k.name_alg.size().saturating_add(2)..)
        .ok_or(TpmRc::FAILURE)?;
    aes_cfb_encrypt(sym.expose(), &ZERO_IV, data).ok_or(TpmRc::FAILURE)?;
    put_integrity(k.name_alg, Some(mac.expose()), name, buf);
    Ok(())
}

/// Check and take off the outer wrapper of `buf` in place (the reference's UnwrapOuter): the
/// offset of the decrypted contents. Errors are unpositioned.
pub(crate) fn outer_unwrap(
    k: &CredentialKey,
    seed: &[u8],
    name: &[u8],
    buf: &mut [u8],
) -> TpmResult<usize> {
    let (sym, mac) = blob_keys(k, seed, name)?;
    let off = check_integrity(k.name_alg, Some(mac.expose()), name, buf)?;
    let data = buf.get_mut(off..).ok_or(TpmRc::FAILURE)?;
    aes_cfb_decrypt(sym.expose(), &ZERO_IV, data).ok_or(TpmRc::FAILURE)?;
    Ok(off)
}

/// The seed from Z and the two x-coordinates, KDFe with `label`.
fn identity_seed(k: &CredentialKey, label: &[u8], z: &[u8], qe_x: &[u8]) -> TpmResult<Secret<64>> {
    let mut seed = Secret::<64>::zeroed(k.name_alg.size()).ok_or(TpmRc::FAILURE)?;
    kdfe(
        k.name_alg,
        z,
        label,
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
    /// CryptSecretEncrypt (Part 1 Annex C.6.1 for ECC, B.10.3 for RSA): a fresh seed for the
    /// key `k` at handle index `i` and the TPM2B_ENCRYPTED_SECRET contents that carry it, for
    /// `label` with its terminating zero ("IDENTITY\0", "DUPLICATE\0"). Errors are
    /// unpositioned.
    pub(crate) fn secret_encrypt(
        &mut self,
        c: &Cmd,
        i: usize,
        k: &CredentialKey,
        label: &[u8],
    ) -> TpmResult<(Secret<64>, crate::wire::types::Buf<SECRET_MAX>)> {
        // The seed and the secret that carries it: OAEP under an RSA key, or an ephemeral
        // ECDH point for an ECC key.
        let mut secret = crate::wire::types::Buf::<{ SECRET_MAX }>::EMPTY;
        let seed = match k.curve {
            None => {
                let mut drbg = self.rsa_drbg()?;
                let (seed, ct) =
                    crate::commands::rsa::rsa_secret_encrypt(&mut drbg, self.key(c, i)?, label)?;
                secret.extend(ct.as_slice()).ok_or(TpmRc::FAILURE)?;
                Secret::<64>::from_slice(seed.expose()).ok_or(TpmRc::FAILURE)?
            }
            Some(curve) => {
                let de =
                    ecc::try_random_private(curve, |c| self.random(c))?.ok_or(TpmRc::FAILURE)?;
                let qe = ecc::public_from_private(curve, de.expose()).ok_or(TpmRc::FAILURE)?;
                let z = ecc::ecdh(curve, de.expose(), k.x.as_slice(), k.y.as_slice())
                    .ok_or(TpmRc::ECC_POINT)?;
                let mut buf = [0u8; SECRET_MAX];
                let mut sw = Writer::new(&mut buf);
                write_point_w(&mut sw, qe.x.as_slice(), qe.y.as_slice())?;
                secret.extend(sw.written()).ok_or(TpmRc::FAILURE)?;
                identity_seed(k, label, z.expose(), qe.x.as_slice())?
            }
        };
        Ok((seed, secret))
    }

    /// CryptSecretDecrypt: the key at handle index `i` (checked as by [`credential_key`]) and
    /// the seed recovered from `secret` with `label`. Errors are unpositioned except those
    /// about the key's handle.
    pub(crate) fn secret_decrypt(
        &mut self,
        c: &Cmd,
        i: usize,
        label: &[u8],
        secret: &[u8],
    ) -> TpmResult<(CredentialKey, Secret<64>)> {
        let mut drbg = match self.key(c, i)?.public.kind {
            PublicKind::Rsa { .. } => Some(self.rsa_drbg()?),
            _ => None,
        };
        let key = self.key(c, i)?;
        let k = credential_key(key, u8::try_from(i.saturating_add(1)).unwrap_or(1))?;
        let seed = match (k.curve, drbg.as_mut()) {
            (Some(curve), _) => {
                let mut sr = Reader::new(secret);
                let (qx, qy) = read_point(&mut sr).map_err(|_| TpmRc::SIZE)?;
                if !sr.is_empty() {
                    return Err(TpmRc::SIZE);
                }
                let z = ecc::ecdh(curve, key.sensitive.expose(), qx, qy).ok_or(TpmRc::ECC_POINT)?;
                let mut qx_padded = EccParameter::zeroed(curve.size()).ok_or(TpmRc::ECC_POINT)?;
                let off = curve.size().checked_sub(qx.len()).ok_or(TpmRc::ECC_POINT)?;
                qx_padded
                    .as_mut_slice()
                    .get_mut(off..)
                    .ok_or(TpmRc::FAILURE)?
                    .copy_from_slice(qx);
                identity_seed(&k, label, z.expose(), qx_padded.as_slice())?
            }
            (None, Some(drbg)) => {
                let s = crate::commands::rsa::rsa_secret_decrypt(drbg, key, label, secret)?;
                Secret::<64>::from_slice(s.expose()).ok_or(TpmRc::FAILURE)?
            }
            (None, None) => return Err(TpmRc::FAILURE),
        };
        Ok((k, seed))
    }

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
        let (seed, secret) = self
            .secret_encrypt(c, 0, &k, b"IDENTITY\0")
            .map_err(|rc| rc.at_handle(1))?;
        // TPM2B(outer HMAC) ‖ encIdentity, encIdentity = the credential as a TPM2B, encrypted.
        let room = k.name_alg.size().saturating_add(2);
        let mut buf = [0u8; MAX_ID_OBJECT];
        let end = {
            let mut bw = Writer::new(buf.get_mut(room..).ok_or(TpmRc::FAILURE)?);
            bw.tpm2b(credential)?;
            room.saturating_add(bw.len())
        };
        let blob = buf.get_mut(..end).ok_or(TpmRc::FAILURE)?;
        outer_wrap(&k, seed.expose(), name, blob)?;
        w.tpm2b(blob)?;
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
        let name = self.key(c, 0)?.name;
        let (k, seed) = self
            .secret_decrypt(c, 1, b"IDENTITY\0", secret)
            .map_err(|rc| {
                // Any failure to recover the seed is reported at the secret (as the
                // reference's ActivateCredential does), except an unusable key.
                if rc == TpmRc::KEY {
                    TpmRc::FAILURE
                } else {
                    rc.at_param(2)
                }
            })?;
        let mut plain = Secret::<MAX_ID_OBJECT>::from_slice(blob).ok_or(TpmRc::FAILURE)?;
        let off =
            outer_unwrap(&k, seed.expose(), name.as_slice(), plain.expose_mut()).map_err(|rc| {
                if rc == TpmRc::INTEGRITY {
                    rc
                } else {
                    TpmRc::SIZE
                }
                .at_param(1)
            })?;
        let mut pr = Reader::new(plain.expose().get(off..).ok_or(TpmRc::FAILURE)?);
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

    /// CryptGenerateR: the commit value r = KDFa(SHA-256, commitNonce, "ECDAA Commit", name,
    /// counter as 8 bytes, bits(n)) for the full counter value `count` (`name` is the signing
    /// key's Name for TPM2_Commit and ECDAA signing, empty for the two-phase key exchange);
    /// `None` if it is not in [1, n − 1]. Also returns r·G.
    pub(crate) fn commit_r(
        &self,
        curve: Curve,
        count: u64,
        name: &[u8],
    ) -> Option<(ecc::EccPrivate, ecc::EccPoint)> {
        let mut r = ecc::EccPrivate::zeroed(curve.size())?;
        kdfa(
            HashAlg::Sha256,
            self.commits.nonce.expose(),
            b"ECDAA Commit",
            name,
            &count.to_be_bytes(),
            r.expose_mut(),
        )?;
        let q = ecc::public_from_private(curve, r.expose())?;
        Some((r, q))
    }

    /// TPM2_EC_Ephemeral (Part 3 §14.8): Q = r·G for the commit value r of the current
    /// counter, which becomes outstanding for TPM2_ZGen_2Phase; returns Q and the counter. An
    /// r outside [1, n − 1] is committed and skipped, as the reference implementation skips an
    /// r that gives the point at infinity.
    pub(crate) fn ec_ephemeral(&mut self, p: &mut Params<'_>, w: &mut Writer<'_>) -> TpmResult<()> {
        let id = p.u16()?;
        p.finish()?;
        let curve = Curve::from_id(id).ok_or(TpmRc::CURVE.at_param(1))?;
        for _ in 0..Commits::BITS {
            let r = self.commit_r(curve, self.commits.counter, &[]);
            let counter = self.commits.commit();
            if let Some((_, q)) = r {
                w.tpm2b_with(|w| write_point_w(w, q.x.as_slice(), q.y.as_slice()))?;
                w.u16(counter)?;
                return Ok(());
            }
        }
        Err(TpmRc::NO_RESULT)
    }

    /// TPM2_ZGen_2Phase (Part 3 §14.7), C(2e, 2s, ECC CDH) of SP 800-56A §6.1.1.2 (the only
    /// scheme; ECMQV and SM2 are not implemented, so TPM_RC_SCHEME at unmarshal): Z1 = dsA·QsB
    /// with keyA's private key, Z2 = r·QeB with the commit value r of `counter`, which must be
    /// outstanding (TPM_RC_VALUE) and is used up. keyA must be an unrestricted ECC decryption
    /// key (TPM_RC_KEY, TPM_RC_ATTRIBUTES); its scheme, if not NULL, must equal inScheme, and
    /// the scheme must not be NULL (TPM_RC_SCHEME); both points must be on keyA's curve
    /// (TPM_RC_ECC_POINT).
    pub(crate) fn zgen_2phase<'a>(
        &mut self,
        c: &Cmd,
        p: &mut Params<'a>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let read = |r: &mut Reader<'a>| {
            let inner = r.tpm2b(2 * (2 + MAX_ECC_KEY_BYTES))?;
            let mut ir = Reader::new(inner);
            let pt = read_point(&mut ir)?;
            if inner.is_empty() || !ir.is_empty() {
                return Err(TpmRc::SIZE);
            }
            Ok(pt)
        };
        let qs = p.next(read)?;
        let qe = p.next(read)?;
        let in_scheme = p.next(|r| match TpmAlgId(r.u16()?) {
            a @ (TpmAlgId::ECDH | TpmAlgId::NULL) => Ok(a),
            _ => Err(TpmRc::SCHEME),
        })?;
        let counter = p.u16()?;
        p.finish()?;
        let k = self.key(c, 0)?;
        let PublicKind::Ecc { curve, scheme, .. } = k.public.kind else {
            return Err(TpmRc::KEY.at_handle(1));
        };
        let a = k.public.attrs;
        if a.has(ObjectAttrs::RESTRICTED) || !a.has(ObjectAttrs::DECRYPT) {
            return Err(TpmRc::ATTRIBUTES.at_handle(1));
        }
        let key_scheme = match scheme {
            Scheme::Null => TpmAlgId::NULL,
            Scheme::Ecdh(_) => TpmAlgId::ECDH,
            _ => return Err(TpmRc::SCHEME.at_param(3)),
        };
        if (key_scheme != TpmAlgId::NULL && key_scheme != in_scheme) || in_scheme == TpmAlgId::NULL
        {
            return Err(TpmRc::SCHEME.at_param(3));
        }
        let curve = Curve::from_id(curve).ok_or(TpmRc::CURVE)?;
        for (i, (x, y)) in [(1, qs), (2, qe)] {
            if !ecc::validate_point(curve, x, y) {
                return Err(TpmRc::ECC_POINT.at_param(i));
            }
        }
        let [(sx, sy), (ex, ey)] = [qs, qe];
        let (r, _) = self
            .commits
            .outstanding(counter)
            .and_then(|n| self.commit_r(curve, n, &[]))
            .ok_or(TpmRc::VALUE.at_param(4))?;
        let z1 = ecc::multiply(curve, k.sensitive.expose(), sx, sy).ok_or(TpmRc::NO_RESULT)?;
        let z2 = ecc::multiply(curve, r.expose(), ex, ey).ok_or(TpmRc::NO_RESULT)?;
        w.tpm2b_with(|w| write_point_w(w, z1.0.expose(), z1.1.expose()))?;
        w.tpm2b_with(|w| write_point_w(w, z2.0.expose(), z2.1.expose()))?;
        self.commits.end(counter);
        Ok(())
    }

    /// TPM2_Commit (Part 3 §19.2; Part 1 §C.4), as the reference implementation's
    /// CryptEccCommitCompute: signHandle must be an ECC key (TPM_RC_KEY) with the anonymous
    /// scheme ECDAA (TPM_RC_SCHEME at handle 1); s2 and y2 are both given or both empty
    /// (TPM_RC_SIZE at parameter 3); with s2, B = (H_nameAlg(s2) mod p, y2) must be on the
    /// curve (TPM_RC_ECC_POINT at parameter 2) and the key must have its private part
    /// (TPM_RC_KEY); a P1 with coordinates must be on the curve (TPM_RC_ECC_POINT at
    /// parameter 1). With r the commit value of the current counter: K = [ds]B and L = [r]B
    /// when B is given, E = [r]P1 when P1 is given, E = [r]G when neither is; the other
    /// points are empty. The counter becomes outstanding for an ECDAA signature.
    #[cfg(feature = "ecdaa")]
    pub(crate) fn commit<'a>(
        &mut self,
        c: &Cmd,
        p: &mut Params<'a>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let p1 = p.next(|r: &mut Reader<'a>| {
            let inner = r.tpm2b(2 * (2 + MAX_ECC_KEY_BYTES))?;
            if inner.is_empty() {
                return Err(TpmRc::SIZE);
            }
            let mut ir = Reader::new(inner);
            let pt = read_point(&mut ir)?;
            if !ir.is_empty() {
                return Err(TpmRc::SIZE);
            }
            Ok(pt)
        })?;
        let s2 = p.tpm2b(crate::commands::object::MAX_SENSITIVE_DATA)?;
        let y2 = p.tpm2b(MAX_ECC_KEY_BYTES)?;
        p.finish()?;
        let k = self.key(c, 0)?;
        let PublicKind::Ecc { curve, scheme, .. } = k.public.kind else {
            return Err(TpmRc::KEY.at_handle(1));
        };
        if !matches!(scheme, Scheme::Ecdaa(..)) {
            return Err(TpmRc::SCHEME.at_handle(1));
        }
        if s2.is_empty() != y2.is_empty() {
            return Err(TpmRc::SIZE.at_param(3));
        }
        let curve = Curve::from_id(curve).ok_or(TpmRc::KEY.at_handle(1))?;
        let (r, g) = self
            .commit_r(curve, self.commits.counter, k.name.as_slice())
            .ok_or(TpmRc::NO_RESULT)?;
        let b = if s2.is_empty() {
            None
        } else {
            let name_alg = k.public.name_alg.ok_or(TpmRc::HASH.at_handle(1))?;
            let x2 = ecc::reduce_mod_p(curve, name_alg.digest(&[s2]).as_slice())
                .ok_or(TpmRc::NO_RESULT)?;
            if !ecc::validate_point(curve, x2.as_slice(), y2) {
                return Err(TpmRc::ECC_POINT.at_param(2));
            }
            if k.public_only {
                return Err(TpmRc::KEY.at_handle(1));
            }
            Some((x2, y2))
        };
        let (p1x, p1y) = p1;
        let m = (!p1x.is_empty() || !p1y.is_empty()).then_some(p1);
        if let Some((x, y)) = m
            && !ecc::validate_point(curve, x, y)
        {
            return Err(TpmRc::ECC_POINT.at_param(1));
        }
        let kl = match &b {
            Some((x2, y2)) => {
                let kp = ecc::multiply_public(curve, k.sensitive.expose(), x2.as_slice(), y2)
                    .ok_or(TpmRc::NO_RESULT)?;
                let lp = ecc::multiply_public(curve, r.expose(), x2.as_slice(), y2)
                    .ok_or(TpmRc::NO_RESULT)?;
                Some((kp, lp))
            }
            None => None,
        };
        let e = match (m, &b) {
            (Some((x, y)), _) => {
                Some(ecc::multiply_public(curve, r.expose(), x, y).ok_or(TpmRc::NO_RESULT)?)
            }
            (None, None) => Some(g),
            (None, Some(_)) => None,
        };
        let empty = |w: &mut Writer<'_>, pt: Option<&ecc::EccPoint>| match pt {
            Some(q) => w.tpm2b_with(|w| write_point_w(w, q.x.as_slice(), q.y.as_slice())),
            None => w.tpm2b_with(|w| write_point_w(w, &[], &[])),
        };
        empty(w, kl.as_ref().map(|(kp, _)| kp))?;
        empty(w, kl.as_ref().map(|(_, lp)| lp))?;
        empty(w, e.as_ref())?;
        w.u16(self.commits.commit())?;
        Ok(())
    }

    /// TPM2_ECC_Parameters (Part 3 §14.6): the TPMS_ALGORITHM_DETAIL_ECC of an implemented
    /// curve, as the reference implementation's table has it (kdf KDF1_SP800_56A with the
    /// curve's hash, sign scheme NULL, cofactor 1); another curve is TPM_RC_CURVE.
    pub(crate) fn ecc_parameters(
        &mut self,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let id = p.u16()?;
        p.finish()?;
        let curve = Curve::from_id(id).ok_or(TpmRc::CURVE.at_param(1))?;
        let (constants, hash): (&[u8], HashAlg) = match curve {
            Curve::P256 => (&P256_CONSTANTS, HashAlg::Sha256),
            Curve::P384 => (&P384_CONSTANTS, HashAlg::Sha384),
        };
        w.u16(id)?;
        w.u16(curve.key_bits())?;
        w.u16(TpmAlgId::KDF1_SP800_56A.0)?;
        w.u16(hash.alg_id().0)?;
        w.u16(TpmAlgId::NULL.0)?;
        for v in constants.chunks(curve.size()) {
            w.tpm2b(v)?;
        }
        w.tpm2b(&[1])?;
        Ok(())
    }
}

/// Write TPMS_ECC_POINT.
fn write_point_w(w: &mut Writer<'_>, x: &[u8], y: &[u8]) -> Result<(), crate::wire::WireError> {
    w.tpm2b(x)?;
    w.tpm2b(y)
}

/// NIST P-256 (FIPS 186-4 §D.1.2.3, SEC 2 secp256r1): p, a, b, Gx, Gy, n, 32 bytes each.
const P256_CONSTANTS: [u8; 6 * 32] = [
    // p
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    // a
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFC,
    // b
    0x5A, 0xC6, 0x35, 0xD8, 0xAA, 0x3A, 0x93, 0xE7, 0xB3, 0xEB, 0xBD, 0x55, 0x76, 0x98, 0x86, 0xBC,
    0x65, 0x1D, 0x06, 0xB0, 0xCC, 0x53, 0xB0, 0xF6, 0x3B, 0xCE, 0x3C, 0x3E, 0x27, 0xD2, 0x60, 0x4B,
    // gx
    0x6B, 0x17, 0xD1, 0xF2, 0xE1, 0x2C, 0x42, 0x47, 0xF8, 0xBC, 0xE6, 0xE5, 0x63, 0xA4, 0x40, 0xF2,
    0x77, 0x03, 0x7D, 0x81, 0x2D, 0xEB, 0x33, 0xA0, 0xF4, 0xA1, 0x39, 0x45, 0xD8, 0x98, 0xC2, 0x96,
    // gy
    0x4F, 0xE3, 0x42, 0xE2, 0xFE, 0x1A, 0x7F, 0x9B, 0x8E, 0xE7, 0xEB, 0x4A, 0x7C, 0x0F, 0x9E, 0x16,
    0x2B, 0xCE, 0x33, 0x57, 0x6B, 0x31, 0x5E, 0xCE, 0xCB, 0xB6, 0x40, 0x68, 0x37, 0xBF, 0x51, 0xF5,
    // n
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];

/// NIST P-384 (FIPS 186-4 §D.1.2.4, SEC 2 secp384r1): p, a, b, Gx, Gy, n, 48 bytes each.
const P384_CONSTANTS: [u8; 6 * 48] = [
    // p
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF,
    // a
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFC,
    // b
    0xB3, 0x31, 0x2F, 0xA7, 0xE2, 0x3E, 0xE7, 0xE4, 0x98, 0x8E, 0x05, 0x6B, 0xE3, 0xF8, 0x2D, 0x19,
    0x18, 0x1D, 0x9C, 0x6E, 0xFE, 0x81, 0x41, 0x12, 0x03, 0x14, 0x08, 0x8F, 0x50, 0x13, 0x87, 0x5A,
    0xC6, 0x56, 0x39, 0x8D, 0x8A, 0x2E, 0xD1, 0x9D, 0x2A, 0x85, 0xC8, 0xED, 0xD3, 0xEC, 0x2A, 0xEF,
    // gx
    0xAA, 0x87, 0xCA, 0x22, 0xBE, 0x8B, 0x05, 0x37, 0x8E, 0xB1, 0xC7, 0x1E, 0xF3, 0x20, 0xAD, 0x74,
    0x6E, 0x1D, 0x3B, 0x62, 0x8B, 0xA7, 0x9B, 0x98, 0x59, 0xF7, 0x41, 0xE0, 0x82, 0x54, 0x2A, 0x38,
    0x55, 0x02, 0xF2, 0x5D, 0xBF, 0x55, 0x29, 0x6C, 0x3A, 0x54, 0x5E, 0x38, 0x72, 0x76, 0x0A, 0xB7,
    // gy
    0x36, 0x17, 0xDE, 0x4A, 0x96, 0x26, 0x2C, 0x6F, 0x5D, 0x9E, 0x98, 0xBF, 0x92, 0x92, 0xDC, 0x29,
    0xF8, 0xF4, 0x1D, 0xBD, 0x28, 0x9A, 0x14, 0x7C, 0xE9, 0xDA, 0x31, 0x13, 0xB5, 0xF0, 0xB8, 0xC0,
    0x0A, 0x60, 0xB1, 0xCE, 0x1D, 0x7E, 0x81, 0x9D, 0x7A, 0x43, 0x1D, 0x7C, 0x90, 0xEA, 0x0E, 0x5F,
    // n
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC7, 0x63, 0x4D, 0x81, 0xF4, 0x37, 0x2D, 0xDF,
    0x58, 0x1A, 0x0D, 0xB2, 0x48, 0xB0, 0xA7, 0x7A, 0xEC, 0xEC, 0x19, 0x6A, 0xCC, 0xC5, 0x29, 0x73,
];
