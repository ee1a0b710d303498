//! Signing and signature verification (Part 3 §20), and the scheme rules shared with
//! attestation (Part 1 §C; Part 3 §18.2).

use crate::Tpm;
use crate::crypto::ecc::{self, Curve};
use crate::crypto::hash::HashAlg;
use crate::crypto::hmac::hmac;
use crate::crypto::rsa;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::object::KeyObject;
use crate::wire::constants::handle::RH_NULL;
use crate::wire::constants::{TpmAlgId, TpmSt};
use crate::wire::public::{
    EccParameter, MAX_ECC_KEY_BYTES, MAX_RSA_KEY_BYTES, ObjectAttrs, PublicKind, RsaModulus, Scheme,
};
use crate::wire::types::{Digest, MAX_DIGEST, read_hash};
use crate::wire::{Reader, Writer};

/// TPMT_SIG_SCHEME+ (Part 2 §11.2.1.5) as received: ECDSA, ECDAA, RSASSA, RSAPSS (with the `rsa`
/// feature), HMAC or NULL; anything else is TPM_RC_SCHEME (TPMI_ALG_SIG_SCHEME).
pub fn read_sig_scheme(r: &mut Reader<'_>) -> TpmResult<Option<Scheme>> {
    match TpmAlgId(r.u16()?) {
        TpmAlgId::NULL => Ok(None),
        TpmAlgId::ECDSA => Ok(Some(Scheme::Ecdsa(read_hash(r)?))),
        TpmAlgId::ECDAA if cfg!(feature = "ecdaa") => {
            Ok(Some(Scheme::Ecdaa(read_hash(r)?, r.u16()?)))
        }
        TpmAlgId::HMAC => Ok(Some(Scheme::Hmac(read_hash(r)?))),
        TpmAlgId::RSASSA if cfg!(feature = "rsa") => Ok(Some(Scheme::RsaSsa(read_hash(r)?))),
        TpmAlgId::RSAPSS if cfg!(feature = "rsa") => Ok(Some(Scheme::RsaPss(read_hash(r)?))),
        _ => Err(TpmRc::SCHEME),
    }
}

impl Scheme {
    /// The hash of a scheme that has one.
    pub fn hash(self) -> Option<HashAlg> {
        match self {
            Self::Ecdsa(h)
            | Self::Ecdh(h)
            | Self::Hmac(h)
            | Self::RsaSsa(h)
            | Self::RsaPss(h)
            | Self::Oaep(h)
            | Self::Ecdaa(h, _) => Some(h),
            Self::Null | Self::RsaEs => None,
        }
    }
}

/// The signing scheme for `key` with the caller's scheme (Part 3 §20.2; the reference's
/// CryptSelectSignScheme): the key must be a signing key with its private part (TPM_RC_KEY
/// at handle 1); the key's scheme, if any, wins and a different caller scheme is
/// TPM_RC_SCHEME at `param`; a key without a scheme needs one from the caller that suits its
/// type (ECDSA or ECDAA for ECC, RSASSA / RSAPSS for RSA, HMAC for a keyed hash). ECDAA is a
/// split scheme: a key with it needs the caller's ECDAA scheme (with the commit count) of the
/// same hash, and the caller's scheme is used (CryptIsSplitSign).
pub fn signing_scheme(key: &KeyObject, scheme: Option<Scheme>, param: u8) -> TpmResult<Scheme> {
    let key_scheme = match key.public.kind {
        PublicKind::Ecc { scheme, .. }
        | PublicKind::Rsa { scheme, .. }
        | PublicKind::KeyedHash { scheme, .. } => scheme,
        PublicKind::SymCipher { .. } => Scheme::Null,
    };
    if !key.public.attrs.has(ObjectAttrs::SIGN) || key.public_only {
        return Err(TpmRc::KEY.at_handle(1));
    }
    let chosen = match (key_scheme, scheme) {
        (Scheme::Ecdaa(..), None) => return Err(TpmRc::SCHEME.at_param(param)),
        (k, None) if k != Scheme::Null => k,
        (Scheme::Ecdaa(kh, _), Some(s @ Scheme::Ecdaa(h, _))) if kh == h => s,
        (k, Some(s)) if s == k => k,
        (Scheme::Null, Some(s)) => s,
        _ => return Err(TpmRc::SCHEME.at_param(param)),
    };
    let suits = matches!(
        (&key.public.kind, chosen),
        (PublicKind::Ecc { .. }, Scheme::Ecdsa(_) | Scheme::Ecdaa(..))
            | (
                PublicKind::Rsa { .. },
                Scheme::RsaSsa(_) | Scheme::RsaPss(_)
            )
            | (PublicKind::KeyedHash { .. }, Scheme::Hmac(_))
    );
    if !suits {
        return Err(TpmRc::SCHEME.at_param(param));
    }
    Ok(chosen)
}

/// A TPMT_SIGNATURE (Part 2 §11.3.4) of the schemes this TPM implements.
#[derive(Clone, Copy, Debug)]
pub enum Signature {
    /// TPMS_SIGNATURE_ECDSA.
    Ecdsa {
        /// hash.
        hash: HashAlg,
        /// signatureR.
        r: EccParameter,
        /// signatureS.
        s: EccParameter,
    },
    /// TPMS_SIGNATURE_RSASSA / TPMS_SIGNATURE_RSAPSS.
    Rsa {
        /// RSAPSS (else RSASSA).
        pss: bool,
        /// hash.
        hash: HashAlg,
        /// sig.
        sig: RsaModulus,
    },
    /// TPMS_SIGNATURE_ECDAA (Part 2 §11.3.2): signatureR is the nonce n, signatureS is s.
    Ecdaa {
        /// hash.
        hash: HashAlg,
        /// signatureR.
        r: EccParameter,
        /// signatureS.
        s: EccParameter,
    },
    /// TPMT_HA of an HMAC signature.
    Hmac {
        /// hashAlg.
        hash: HashAlg,
        /// digest.
        digest: Digest,
    },
}

impl Signature {
    /// Unmarshal a TPMT_SIGNATURE without TPM_ALG_NULL: an unimplemented sigAlg is
    /// TPM_RC_SCHEME (TPMI_ALG_SIG_SCHEME).
    pub fn unmarshal(r: &mut Reader<'_>) -> TpmResult<Self> {
        let alg = TpmAlgId(r.u16()?);
        match alg {
            TpmAlgId::ECDSA | TpmAlgId::ECDAA => {
                let hash = read_hash(r)?;
                let sr =
                    EccParameter::from_slice(r.tpm2b(MAX_ECC_KEY_BYTES)?).ok_or(TpmRc::SIZE)?;
                let ss =
                    EccParameter::from_slice(r.tpm2b(MAX_ECC_KEY_BYTES)?).ok_or(TpmRc::SIZE)?;
                Ok(if alg == TpmAlgId::ECDAA {
                    Self::Ecdaa { hash, r: sr, s: ss }
                } else {
                    Self::Ecdsa { hash, r: sr, s: ss }
                })
            }
            TpmAlgId::RSASSA | TpmAlgId::RSAPSS if cfg!(feature = "rsa") => {
                let hash = read_hash(r)?;
                let sig = RsaModulus::from_slice(r.tpm2b(MAX_RSA_KEY_BYTES)?).ok_or(TpmRc::SIZE)?;
                Ok(Self::Rsa {
                    pss: alg == TpmAlgId::RSAPSS,
                    hash,
                    sig,
                })
            }
            TpmAlgId::HMAC => {
                let hash = read_hash(r)?;
                let d = r.bytes(hash.size())?;
                Ok(Self::Hmac {
                    hash,
                    digest: Digest::from_slice(d).ok_or(TpmRc::SIZE)?,
                })
            }
            _ => Err(TpmRc::SCHEME),
        }
    }

    /// The signature's hash.
    pub fn hash(&self) -> HashAlg {
        match self {
            Self::Ecdsa { hash, .. }
            | Self::Ecdaa { hash, .. }
            | Self::Rsa { hash, .. }
            | Self::Hmac { hash, .. } => *hash,
        }
    }

    /// Marshal.
    pub fn marshal(&self, w: &mut Writer<'_>) -> TpmResult<()> {
        match self {
            Self::Ecdsa { hash, r, s } | Self::Ecdaa { hash, r, s } => {
                let alg = match self {
                    Self::Ecdaa { .. } => TpmAlgId::ECDAA,
                    _ => TpmAlgId::ECDSA,
                };
                w.u16(alg.0)?;
                w.u16(hash.alg_id().0)?;
                w.tpm2b(r.as_slice())?;
                w.tpm2b(s.as_slice())?;
            }
            Self::Rsa { pss, hash, sig } => {
                w.u16(
                    if *pss {
                        TpmAlgId::RSAPSS
                    } else {
                        TpmAlgId::RSASSA
                    }
                    .0,
                )?;
                w.u16(hash.alg_id().0)?;
                w.tpm2b(sig.as_slice())?;
            }
            Self::Hmac { hash, digest } => {
                w.u16(TpmAlgId::HMAC.0)?;
                w.u16(hash.alg_id().0)?;
                w.bytes(digest.as_slice())?;
            }
        }
        Ok(())
    }
}

/// ECDSA verification in a frame of its own: the curve arithmetic's frame (about 9.5 KiB) and
/// the RSA one are never on the stack together (a command runs in 16 KiB).
#[inline(never)]
fn verify_ecdsa(
    curve: Curve,
    x: &EccParameter,
    y: &EccParameter,
    digest: &[u8],
    r: &EccParameter,
    s: &EccParameter,
) -> bool {
    ecc::ecdsa_verify(
        curve,
        x.as_slice(),
        y.as_slice(),
        digest,
        r.as_slice(),
        s.as_slice(),
    )
}

/// RSASSA / RSAPSS verification in a frame of its own (see [`verify_ecdsa`]).
#[inline(never)]
fn verify_rsa(n: &[u8], e: u32, pss: bool, hash: HashAlg, digest: &[u8], sig: &[u8]) -> bool {
    if pss {
        rsa::pss_verify(n, e, hash, digest, sig).is_ok()
    } else {
        rsa::pkcs1v15_verify(n, e, hash, digest, sig).is_ok()
    }
}

/// ECDSA signing in a frame of its own (see [`verify_ecdsa`]).
#[inline(never)]
fn sign_ecdsa(key: &KeyObject, hash: HashAlg, digest: &[u8], extra: &[u8]) -> TpmResult<Signature> {
    let curve = key.public.curve().ok_or(TpmRc::KEY.at_handle(1))?;
    let sig =
        ecc::ecdsa_sign(curve, key.sensitive.expose(), digest, extra).ok_or(TpmRc::FAILURE)?;
    Ok(Signature::Ecdsa {
        hash,
        r: sig.r,
        s: sig.s,
    })
}

/// RSASSA / RSAPSS signing (blinded, checked with the public exponent) in a frame of its own.
#[inline(never)]
fn sign_rsa(
    key: &KeyObject,
    pss: bool,
    hash: HashAlg,
    digest: &[u8],
    drbg: &mut crate::crypto::drbg::HmacDrbg,
) -> TpmResult<Signature> {
    let PublicKind::Rsa { n, .. } = &key.public.kind else {
        return Err(TpmRc::KEY.at_handle(1));
    };
    let mut pk = rsa::RsaPrivate::EMPTY;
    crate::commands::rsa::load_private(&mut pk, key)?;
    let sig = if pss {
        rsa::pss_sign(&pk, hash, digest, drbg)
    } else {
        rsa::pkcs1v15_sign(&pk, hash, digest, drbg)
    }
    .map_err(crate::commands::rsa::rsa_rc)?;
    Ok(Signature::Rsa {
        pss,
        hash,
        sig: RsaModulus::from_slice(sig.get(..n.len()).ok_or(TpmRc::FAILURE)?)
            .ok_or(TpmRc::FAILURE)?,
    })
}

/// Check `sig` over `digest` with `key` (the reference's CryptValidateSignature): a signature
/// of another type than the key's, or an ECDAA one (which only a verifier holding the commit
/// can check), is TPM_RC_SCHEME, one that does not verify TPM_RC_SIGNATURE;
/// an HMAC signature needs the key's private part (TPM_RC_HANDLE) and, if the key has a
/// scheme, that scheme (TPM_RC_SIGNATURE). Errors are unpositioned.
pub fn verify_digest(key: &KeyObject, digest: &[u8], sig: &Signature) -> TpmResult<()> {
    let ok = match (&key.public.kind, sig) {
        (PublicKind::Ecc { curve, x, y, .. }, Signature::Ecdsa { r, s, .. }) => {
            let curve = Curve::from_id(*curve).ok_or(TpmRc::CURVE)?;
            verify_ecdsa(curve, x, y, digest, r, s)
        }
        (PublicKind::Rsa { exponent, n, .. }, Signature::Rsa { pss, hash, sig }) => {
            verify_rsa(n.as_slice(), *exponent, *pss, *hash, digest, sig.as_slice())
        }
        (PublicKind::KeyedHash { scheme, .. }, Signature::Hmac { hash, digest: mac }) => {
            if key.public_only {
                return Err(TpmRc::HANDLE);
            }
            if *scheme != Scheme::Null && *scheme != Scheme::Hmac(*hash) {
                return Err(TpmRc::SIGNATURE);
            }
            let expect = hmac(*hash, key.sensitive.expose(), &[digest]);
            subtle::ConstantTimeEq::ct_eq(expect.as_slice(), mac.as_slice()).into()
        }
        _ => return Err(TpmRc::SCHEME),
    };
    if ok { Ok(()) } else { Err(TpmRc::SIGNATURE) }
}

impl<P: Platform> Tpm<P> {
    /// Sign `digest` with the key at handle `i` under `scheme` (from [`signing_scheme`]): ECDSA
    /// with its nonce hedged by fresh DRBG output (RFC 6979 §3.6), RSASSA / RSAPSS with
    /// blinding, or an HMAC (the reference's CryptSign).
    pub(crate) fn sign_digest(
        &mut self,
        c: &Cmd,
        i: usize,
        scheme: Scheme,
        digest: &[u8],
    ) -> TpmResult<Signature> {
        match scheme {
            Scheme::Ecdsa(hash) => {
                // The hedging bytes enter the nonce derivation: wiped after use.
                let mut extra = zeroize::Zeroizing::new([0u8; MAX_ECC_KEY_BYTES]);
                self.random(&mut extra[..])?;
                sign_ecdsa(self.key(c, i)?, hash, digest, &extra[..])
            }
            #[cfg(feature = "ecdaa")]
            Scheme::Ecdaa(hash, count) => self.sign_ecdaa(c, i, hash, count, digest),
            Scheme::RsaSsa(hash) | Scheme::RsaPss(hash) => {
                let mut drbg = self.rsa_drbg()?;
                let pss = matches!(scheme, Scheme::RsaPss(_));
                sign_rsa(self.key(c, i)?, pss, hash, digest, &mut drbg)
            }
            Scheme::Hmac(hash) => {
                let key = self.key(c, i)?;
                Ok(Signature::Hmac {
                    hash,
                    digest: hmac(hash, key.sensitive.expose(), &[digest]),
                })
            }
            _ => Err(TpmRc::SCHEME.at_param(2)),
        }
    }

    /// ECDAA signing (Part 1 §C.4; the reference's BnSignEcdaa): with r the commit value of
    /// the outstanding counter `count` (else TPM_RC_VALUE), a fresh nonce n in [1, n − 1],
    /// T = H_hash(n ‖ digest) and s = r + T·d mod n, the signature is (n, s); a zero T mod n
    /// or s draws a new nonce. The counter is used up on success (CryptEndCommit).
    #[cfg(feature = "ecdaa")]
    #[inline(never)]
    fn sign_ecdaa(
        &mut self,
        c: &Cmd,
        i: usize,
        hash: HashAlg,
        count: u16,
        digest: &[u8],
    ) -> TpmResult<Signature> {
        let key = self.key(c, i)?;
        let curve = key.public.curve().ok_or(TpmRc::KEY.at_handle(1))?;
        let (r, _) = self
            .commits
            .outstanding(count)
            .and_then(|n| self.commit_r(curve, n, key.name.as_slice()))
            .ok_or(TpmRc::VALUE)?;
        for _ in 0..8 {
            let nonce =
                ecc::try_random_private(curve, |b| self.random(b))?.ok_or(TpmRc::NO_RESULT)?;
            // The nonce as a minimal big-endian integer, as the reference marshals it.
            let lead = nonce.expose().iter().take_while(|b| **b == 0).count();
            let n = nonce.expose().get(lead..).ok_or(TpmRc::FAILURE)?;
            let t = hash.digest(&[n, digest]);
            let key = self.key(c, i)?;
            if let Some(s) =
                ecc::schnorr_sign(curve, r.expose(), t.as_slice(), key.sensitive.expose())
            {
                let sig = Signature::Ecdaa {
                    hash,
                    r: EccParameter::from_slice(n).ok_or(TpmRc::FAILURE)?,
                    s: EccParameter::from_slice(s.expose()).ok_or(TpmRc::FAILURE)?,
                };
                self.commits.end(count);
                return Ok(sig);
            }
        }
        Err(TpmRc::NO_RESULT)
    }

    /// TPM2_Sign (Part 3 §20.2). The validation ticket (TPMT_TK_HASHCHECK) is unmarshaled
    /// first: a tag other than TPM_ST_HASHCHECK is TPM_RC_TAG, a hierarchy other than owner,
    /// endorsement, platform or null TPM_RC_VALUE (TPMI_RH_HIERARCHY+), both at parameter 3.
    /// Then, in the reference implementation's order: the key (TPM_RC_KEY at handle 1), the
    /// scheme (TPM_RC_SCHEME at parameter 2), and then the ticket is checked whenever the key
    /// is restricted *or the ticket is not empty* (TPM_RC_TICKET at parameter 3: a ticket that
    /// is offered must be genuine even for an unrestricted key); only without a ticket check
    /// must the digest have the scheme hash's size (TPM_RC_SIZE at parameter 1).
    pub(crate) fn sign(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let digest = p.tpm2b(MAX_DIGEST)?;
        let scheme = p.next(read_sig_scheme)?;
        let (ticket_hierarchy, ticket) = p.next(|r| {
            if TpmSt(r.u16()?) != TpmSt::HASHCHECK {
                return Err(TpmRc::TAG);
            }
            let hierarchy = crate::commands::hash::read_hierarchy(r)?;
            let d = Digest::from_slice(r.tpm2b(MAX_DIGEST)?).ok_or(TpmRc::SIZE)?;
            Ok((hierarchy, d))
        })?;
        p.finish()?;
        let key = self.key(c, 0)?;
        let scheme = signing_scheme(key, scheme, 2)?;
        let hash = scheme.hash().ok_or(TpmRc::SCHEME.at_param(2))?;
        if !ticket.is_empty() || key.public.attrs.has(ObjectAttrs::RESTRICTED) {
            // The null hierarchy never issues a ticket with a digest: nothing matches it.
            let proof = self
                .hier
                .proof(ticket_hierarchy)
                .filter(|_| ticket_hierarchy != RH_NULL);
            let ok = proof.is_some_and(|proof| {
                let expect = hmac(
                    crate::commands::hash::TICKET_HASH,
                    proof.expose(),
                    &[&TpmSt::HASHCHECK.0.to_be_bytes(), digest],
                );
                subtle::ConstantTimeEq::ct_eq(expect.as_slice(), ticket.as_slice()).into()
            });
            if !ok {
                return Err(TpmRc::TICKET.at_param(3));
            }
        } else if digest.len() != hash.size() {
            return Err(TpmRc::SIZE.at_param(1));
        }
        self.sign_digest(c, 0, scheme, digest)?.marshal(w)
    }

    /// TPM2_VerifySignature (Part 3 §20.1): ECDSA, RSASSA, RSAPSS or HMAC signatures
    /// ([`verify_digest`]); TPM_RC_SIGNATURE if it does not verify, else a
    /// TPMT_TK_VERIFIED ticket HMAC(proof, TPM_ST_VERIFIED ‖ digest ‖ keyName).
    pub(crate) fn verify_signature(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let digest = p.tpm2b(MAX_DIGEST)?;
        let sig = p.next(Signature::unmarshal)?;
        p.finish()?;
        let key = self.key(c, 0)?;
        if !key.public.attrs.has(ObjectAttrs::SIGN) {
            return Err(TpmRc::ATTRIBUTES.at_handle(1));
        }
        verify_digest(key, digest, &sig).map_err(|rc| rc.at_param(2))?;
        w.u16(TpmSt::VERIFIED.0)?;
        let hierarchy = key.hierarchy;
        w.u32(hierarchy)?;
        match self.verified_ticket(hierarchy, digest, key.name.as_slice()) {
            Some(t) => w.tpm2b(t.as_slice())?,
            None => w.u16(0)?,
        }
        Ok(())
    }

    /// The HMAC of a TPMT_TK_VERIFIED (Part 2 §10.7.4): HMAC(proof, TPM_ST_VERIFIED ‖ digest
    /// ‖ keyName), keyed with the hierarchy's proof; `None` (a null ticket) for the null
    /// hierarchy. PolicyAuthorize checks tickets against it.
    pub(crate) fn verified_ticket(
        &self,
        hierarchy: u32,
        digest: &[u8],
        key_name: &[u8],
    ) -> Option<Digest> {
        let proof = self
            .hier
            .proof(hierarchy)
            .filter(|_| hierarchy != RH_NULL)?;
        Some(hmac(
            crate::commands::hash::TICKET_HASH,
            proof.expose(),
            &[&TpmSt::VERIFIED.0.to_be_bytes(), digest, key_name],
        ))
    }
}
