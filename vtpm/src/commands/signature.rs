//! Signing and signature verification (Part 3 §20), and the scheme rules shared with
//! attestation (Part 1 §C; Part 3 §18.2).

use crate::Tpm;
use crate::crypto::ecc::{self, Curve};
use crate::crypto::hash::HashAlg;
use crate::crypto::hmac::hmac;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::object::KeyObject;
use crate::wire::constants::handle::RH_NULL;
use crate::wire::constants::{TpmAlgId, TpmSt};
use crate::wire::public::{EccParameter, MAX_ECC_KEY_BYTES, ObjectAttrs, PublicKind, Scheme};
use crate::wire::types::{Digest, MAX_DIGEST, read_hash};
use crate::wire::{Reader, Writer};

/// TPMT_SIG_SCHEME+ (Part 2 §11.2.1.5) as received: only ECDSA and NULL are implemented.
pub fn read_sig_scheme(r: &mut Reader<'_>) -> TpmResult<Option<HashAlg>> {
    match TpmAlgId(r.u16()?) {
        TpmAlgId::NULL => Ok(None),
        TpmAlgId::ECDSA => Ok(Some(read_hash(r)?)),
        _ => Err(TpmRc::SCHEME),
    }
}

/// The signing hash for `key` with the caller's scheme (Part 3 §20.2): the key must be an
/// ECC signing key with its private part (TPM_RC_KEY at handle 1); the key's scheme, if any,
/// wins and a different caller scheme is TPM_RC_SCHEME at `param`; a key without a scheme
/// needs one from the caller.
pub fn signing_hash(
    key: &KeyObject,
    scheme: Option<HashAlg>,
    param: u8,
) -> TpmResult<(Curve, HashAlg)> {
    let PublicKind::Ecc {
        scheme: key_scheme,
        curve,
        ..
    } = key.public.kind
    else {
        return Err(TpmRc::KEY.at_handle(1));
    };
    if !key.public.attrs.has(ObjectAttrs::SIGN) || key.public_only {
        return Err(TpmRc::KEY.at_handle(1));
    }
    let curve = Curve::from_id(curve).ok_or(TpmRc::CURVE)?;
    let hash = match (key_scheme, scheme) {
        (Scheme::Ecdsa(k), None) => k,
        (Scheme::Ecdsa(k), Some(s)) if s == k => k,
        (Scheme::Null, Some(s)) => s,
        _ => return Err(TpmRc::SCHEME.at_param(param)),
    };
    Ok((curve, hash))
}

/// Write a TPMT_SIGNATURE (Part 2 §11.3.4) for an ECDSA signature.
pub fn write_ecdsa(w: &mut Writer<'_>, hash: HashAlg, sig: &ecc::EcdsaSignature) -> TpmResult<()> {
    w.u16(TpmAlgId::ECDSA.0)?;
    w.u16(hash.alg_id().0)?;
    w.tpm2b(sig.r.as_slice())?;
    w.tpm2b(sig.s.as_slice())?;
    Ok(())
}

impl<P: Platform> Tpm<P> {
    /// ECDSA-sign `digest` with `key`, the nonce hedged with fresh DRBG output.
    pub(crate) fn ecdsa_sign(
        &mut self,
        key_d: &[u8],
        curve: Curve,
        digest: &[u8],
    ) -> TpmResult<ecc::EcdsaSignature> {
        // The hedging bytes enter the nonce derivation (RFC 6979 §3.6): wiped after use.
        let mut extra = zeroize::Zeroizing::new([0u8; MAX_ECC_KEY_BYTES]);
        self.random(&mut extra[..])?;
        ecc::ecdsa_sign(curve, key_d, digest, &extra[..]).ok_or(TpmRc::FAILURE)
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
        let (curve, hash) = signing_hash(key, scheme, 2)?;
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
        let d = crate::wire::types::Secret::<MAX_ECC_KEY_BYTES>::from_slice(key.sensitive.expose())
            .ok_or(TpmRc::FAILURE)?;
        let sig = self.ecdsa_sign(d.expose(), curve, digest)?;
        write_ecdsa(w, hash, &sig)
    }

    /// TPM2_VerifySignature (Part 3 §20.1): TPM_RC_SIGNATURE if it does not verify, else a
    /// TPMT_TK_VERIFIED ticket HMAC(proof, TPM_ST_VERIFIED ‖ digest ‖ keyName).
    pub(crate) fn verify_signature(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let digest = p.tpm2b(MAX_DIGEST)?;
        let (hash, r, s) = p.next(|rd| {
            if TpmAlgId(rd.u16()?) != TpmAlgId::ECDSA {
                return Err(TpmRc::SCHEME);
            }
            let hash = read_hash(rd)?;
            let r = EccParameter::from_slice(rd.tpm2b(MAX_ECC_KEY_BYTES)?).ok_or(TpmRc::SIZE)?;
            let s = EccParameter::from_slice(rd.tpm2b(MAX_ECC_KEY_BYTES)?).ok_or(TpmRc::SIZE)?;
            Ok((hash, r, s))
        })?;
        p.finish()?;
        let key = self.key(c, 0)?;
        let PublicKind::Ecc { curve, x, y, .. } = &key.public.kind else {
            return Err(TpmRc::KEY.at_handle(1));
        };
        if !key.public.attrs.has(ObjectAttrs::SIGN) {
            return Err(TpmRc::ATTRIBUTES.at_handle(1));
        }
        let curve = Curve::from_id(*curve).ok_or(TpmRc::CURVE)?;
        let _ = hash;
        if !ecc::ecdsa_verify(
            curve,
            x.as_slice(),
            y.as_slice(),
            digest,
            r.as_slice(),
            s.as_slice(),
        ) {
            return Err(TpmRc::SIGNATURE.at_param(2));
        }
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
