//! Object commands (Part 3 §12) and TPM2_CreatePrimary (Part 3 §24.1).

use crate::Tpm;
use crate::crypto::ecc::{self, Curve, EXTRA_BYTES};
use crate::crypto::hash::HashAlg;
use crate::crypto::hmac::hmac;
use crate::crypto::kdf::kdfa;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::object::{KeyObject, MAX_SENSITIVE, Object};
use crate::wire::constants::handle::{RH_ENDORSEMENT, RH_NULL, RH_OWNER, RH_PLATFORM};
use crate::wire::constants::{TpmAlgId, TpmSt};
use crate::wire::public::{ObjectAttrs, ParentParams, Public, PublicKind, Scheme};
use crate::wire::types::{Auth, MAX_DATA, MAX_DIGEST, Name, PcrSelectionList, Secret, handle_name};
use crate::wire::{Reader, Writer};

/// TPM2B_SENSITIVE_DATA maximum (MAX_SYM_DATA).
pub const MAX_SENSITIVE_DATA: usize = MAX_SENSITIVE;

/// The hash of the primary-key derivation KDF (any fixed choice is valid: only determinism
/// within a boot is required, Part 1 Annex C.5).
const DERIVATION_HASH: HashAlg = HashAlg::Sha384;

/// TPMS_SENSITIVE_CREATE (Part 2 §11.1.15), borrowed from the command.
#[derive(Clone, Copy)]
pub struct SensitiveCreate<'a> {
    /// userAuth.
    pub user_auth: &'a [u8],
    /// data.
    pub data: &'a [u8],
}

impl core::fmt::Debug for SensitiveCreate<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SensitiveCreate")
            .field("user_auth", &"[REDACTED]")
            .field("data", &"[REDACTED]")
            .finish()
    }
}

impl<'a> SensitiveCreate<'a> {
    /// Unmarshal a TPM2B_SENSITIVE_CREATE: the size must match the contents.
    pub fn unmarshal(r: &mut Reader<'a>) -> TpmResult<Self> {
        let bytes = r.tpm2b(crate::MAX_COMMAND_SIZE)?;
        let mut inner = Reader::new(bytes);
        let user_auth = inner.tpm2b(MAX_DIGEST)?;
        let data = inner.tpm2b(MAX_SENSITIVE_DATA)?;
        if bytes.is_empty() || !inner.is_empty() {
            return Err(TpmRc::SIZE);
        }
        Ok(Self { user_auth, data })
    }
}

/// The parent fields of TPMS_CREATION_DATA (for a primary: the hierarchy handle, nameAlg NULL).
#[derive(Clone, Copy, Debug)]
pub struct CreationParent<'a> {
    /// parentName.
    pub name: &'a [u8],
    /// parentQualifiedName.
    pub qualified_name: &'a [u8],
    /// parentNameAlg.
    pub name_alg: TpmAlgId,
}

/// The checks of creation that come before the attribute rules (Part 1 §27.2.2; the
/// reference implementation's CreateChecks, in its order): who may supply the sensitive data.
/// `parent` is `None` for a primary object.
///
/// - sensitiveDataOrigin CLEAR means the caller supplies the data, so it must not be empty
///   (TPM_RC_ATTRIBUTES), whatever the type: a sealed data object with no data is refused.
/// - An ordinary object with sensitiveDataOrigin SET takes no data from the caller
///   (TPM_RC_ATTRIBUTES). For a primary object the data is allowed: it is mixed into the
///   derivation (Part 1 Annex C.5).
/// - A data object (keyed hash, neither sign nor decrypt) cannot have the TPM as its data's
///   origin; an asymmetric key must have it.
pub(crate) fn create_checks(
    public: &Public,
    data_len: usize,
    parent: Option<&ParentParams>,
) -> TpmResult<()> {
    let a = public.attrs;
    let origin = a.has(ObjectAttrs::SENSITIVE_DATA_ORIGIN);
    if !origin && data_len == 0 {
        return Err(TpmRc::ATTRIBUTES);
    }
    if parent.is_some() && origin && data_len != 0 {
        return Err(TpmRc::ATTRIBUTES);
    }
    match public.kind {
        PublicKind::KeyedHash { .. } => {
            let data_object = !a.has(ObjectAttrs::SIGN) && !a.has(ObjectAttrs::DECRYPT);
            if data_object && origin {
                return Err(TpmRc::ATTRIBUTES);
            }
            if a.has(ObjectAttrs::RESTRICTED)
                && !origin
                && (a.has(ObjectAttrs::FIXED_PARENT) || a.has(ObjectAttrs::FIXED_TPM))
            {
                return Err(TpmRc::ATTRIBUTES);
            }
        }
        PublicKind::SymCipher { .. } => {
            // A restricted symmetric key takes its key from the caller only if it can be
            // duplicated (fixedParent and fixedTPM CLEAR).
            if a.has(ObjectAttrs::RESTRICTED)
                && !origin
                && (a.has(ObjectAttrs::FIXED_PARENT) || a.has(ObjectAttrs::FIXED_TPM))
            {
                return Err(TpmRc::ATTRIBUTES);
            }
        }
        PublicKind::Ecc { .. } | PublicKind::Rsa { .. } => {
            if !origin {
                return Err(TpmRc::ATTRIBUTES);
            }
        }
    }
    public.validate(parent)
}

/// The qualified name nameAlg ‖ H(parent QN ‖ Name) (Part 1 §16.6).
pub fn qualified_name(alg: HashAlg, parent_qn: &[u8], name: &[u8]) -> TpmResult<Name> {
    let d = alg.digest(&[parent_qn, name]);
    let mut qn = Name::from_slice(&alg.alg_id().0.to_be_bytes()).ok_or(TpmRc::FAILURE)?;
    qn.extend(d.as_slice()).ok_or(TpmRc::FAILURE)?;
    Ok(qn)
}

impl<P: Platform> Tpm<P> {
    /// The primary seed of a hierarchy.
    fn primary_seed(&self, hierarchy: u32) -> TpmResult<&crate::state::hierarchy::Seed> {
        match hierarchy {
            RH_OWNER => Ok(&self.hier.sps),
            RH_ENDORSEMENT => Ok(&self.hier.eps),
            RH_PLATFORM => Ok(&self.hier.pps),
            RH_NULL => Ok(&self.hier.null_seed),
            _ => Err(TpmRc::HIERARCHY.at_handle(1)),
        }
    }

    /// Derive a primary object from its hierarchy's seed and the template (Part 1 Annex C.5):
    /// `KDFa(SHA-384, seed, "Primary Object Creation", Name(template), inSensitive.data)`
    /// yields the private scalar's bits (c, bits(n) + 64) and then the seedValue. The same
    /// template and data give the same key for as long as the seed lives (this boot). A
    /// sealed data object (keyed hash, neither sign nor decrypt) keeps inSensitive.data as its
    /// sensitive data, with a seedValue derived the same way (nameAlg-sized) and
    /// unique = H_nameAlg(seedValue ‖ data) (Part 1 §27.2.6).
    pub(crate) fn derive_primary(
        &self,
        hierarchy: u32,
        template: &Public,
        sens: &SensitiveCreate<'_>,
    ) -> TpmResult<KeyObject> {
        let name_alg = template.name_alg.ok_or(TpmRc::HASH.at_param(2))?;
        let template_name = template.name()?;
        let seed = self.primary_seed(hierarchy)?;
        let mut public = *template;
        let storage =
            template.attrs.has(ObjectAttrs::RESTRICTED) && template.attrs.has(ObjectAttrs::DECRYPT);
        let seed_len = if storage { name_alg.size() } else { 0 };
        let mut seed_value = Secret::<64>::zeroed(seed_len).ok_or(TpmRc::FAILURE)?;
        let sensitive = match &mut public.kind {
            PublicKind::Ecc { curve, x, y, .. } => {
                let curve = Curve::from_id(*curve).ok_or(TpmRc::CURVE.at_param(2))?;
                let c_len = curve.size().saturating_add(EXTRA_BYTES);
                let mut bits = Secret::<{ 48 + 8 + 64 }>::zeroed(c_len.saturating_add(seed_len))
                    .ok_or(TpmRc::FAILURE)?;
                kdfa(
                    DERIVATION_HASH,
                    seed.expose(),
                    b"Primary Object Creation",
                    template_name.as_slice(),
                    sens.data,
                    bits.expose_mut(),
                )
                .ok_or(TpmRc::FAILURE)?;
                let (c, sv) = bits
                    .expose()
                    .split_at_checked(c_len)
                    .ok_or(TpmRc::FAILURE)?;
                let d = ecc::derive_private(curve, c).ok_or(TpmRc::FAILURE)?;
                let q = ecc::public_from_private(curve, d.expose()).ok_or(TpmRc::FAILURE)?;
                *x = q.x;
                *y = q.y;
                // Same length (seed_len); a zip has no length-mismatch panic path.
                let out = seed_value.expose_mut();
                out.iter_mut().zip(sv).for_each(|(o, s)| *o = *s);
                Secret::<MAX_SENSITIVE>::from_slice(d.expose()).ok_or(TpmRc::FAILURE)?
            }
            PublicKind::Rsa { exponent, n, .. } => {
                // The derivation seeds a DRBG from which the primes are drawn (Part 1 Annex
                // B.8 allows any deterministic method), then gives the seedValue.
                let mut bits = Secret::<{ 48 + 64 }>::zeroed(48usize.saturating_add(seed_len))
                    .ok_or(TpmRc::FAILURE)?;
                kdfa(
                    DERIVATION_HASH,
                    seed.expose(),
                    b"Primary Object Creation",
                    template_name.as_slice(),
                    sens.data,
                    bits.expose_mut(),
                )
                .ok_or(TpmRc::FAILURE)?;
                let (entropy, sv) = bits.expose().split_at_checked(48).ok_or(TpmRc::FAILURE)?;
                let mut drbg =
                    crate::crypto::drbg::HmacDrbg::new(entropy, &[], b"vtpm RSA primary key");
                let out = seed_value.expose_mut();
                out.iter_mut().zip(sv).for_each(|(o, s)| *o = *s);
                crate::commands::rsa::generate_rsa(*exponent, n, &mut drbg)?
            }
            PublicKind::KeyedHash { unique, .. } | PublicKind::SymCipher { unique, .. } => {
                // A key the TPM makes (an HMAC key without data, a symmetric key with
                // sensitiveDataOrigin): its bytes come first from the derivation, then the
                // seedValue; otherwise the data is the key (or the sealed data) and the
                // derivation gives the seedValue alone.
                let key_len = crate::commands::symmetric::generated_key_len(template, sens.data)?;
                let mut bits =
                    Secret::<{ 64 + 64 }>::zeroed(key_len.saturating_add(name_alg.size()))
                        .ok_or(TpmRc::FAILURE)?;
                kdfa(
                    DERIVATION_HASH,
                    seed.expose(),
                    b"Primary Object Creation",
                    template_name.as_slice(),
                    sens.data,
                    bits.expose_mut(),
                )
                .ok_or(TpmRc::FAILURE)?;
                let (key, sv) = bits
                    .expose()
                    .split_at_checked(key_len)
                    .ok_or(TpmRc::FAILURE)?;
                seed_value = Secret::from_slice(sv).ok_or(TpmRc::FAILURE)?;
                let data = if key_len != 0 { key } else { sens.data };
                *unique = crate::commands::symmetric::sym_unique(
                    template,
                    name_alg,
                    seed_value.expose(),
                    data,
                );
                Secret::<MAX_SENSITIVE>::from_slice(data).ok_or(TpmRc::SIZE.at_param(1))?
            }
        };
        let name = public.name()?;
        let qualified_name = qualified_name(name_alg, &hierarchy.to_be_bytes(), name.as_slice())?;
        let mut auth = Auth::from_slice(sens.user_auth).ok_or(TpmRc::SIZE.at_param(1))?;
        auth.strip_trailing_zeros();
        Ok(KeyObject {
            public,
            name,
            qualified_name,
            hierarchy,
            auth,
            sensitive,
            seed_value,
            public_only: false,
        })
    }

    /// TPMS_CREATION_DATA, creationHash and the creation ticket (Part 2 §15.1, §10.7.3)
    /// written as the tail of a CreatePrimary / Create response.
    pub(crate) fn write_creation(
        &self,
        w: &mut Writer<'_>,
        c: &Cmd,
        key: &KeyObject,
        parent: &CreationParent<'_>,
        outside_info: &[u8],
        pcrs: &PcrSelectionList,
    ) -> TpmResult<()> {
        let name_alg = key.public.name_alg.ok_or(TpmRc::HASH)?;
        let mut buf = [0u8; 512];
        let mut cw = Writer::new(&mut buf);
        // pcrSelect keeps only PCRs of allocated banks (the reference's
        // PCRComputeCurrentDigest filters the selection it then reports); the entry of a bank
        // that is not allocated stays, with no bits set.
        let mut pcrs = pcrs.clone();
        let mut h = crate::crypto::hash::HashState::new(name_alg);
        for s in pcrs.0.iter_mut() {
            for i in 0..crate::wire::types::PCR_COUNT {
                if !s.is_selected(i) {
                    continue;
                }
                match self.pcrs.get(s.hash, i) {
                    Some(v) => h.update(v.as_slice()),
                    None => s.clear(i),
                }
            }
        }
        pcrs.marshal(&mut cw)?;
        cw.tpm2b(h.finish().as_slice())?;
        cw.u8(if c.locality < 5 {
            1u8 << c.locality
        } else {
            c.locality
        })?;
        cw.u16(parent.name_alg.0)?;
        cw.tpm2b(parent.name)?;
        cw.tpm2b(parent.qualified_name)?;
        cw.tpm2b(outside_info)?;
        let creation = cw.written();
        w.tpm2b(creation)?;
        let creation_hash = name_alg.digest(&[creation]);
        w.tpm2b(creation_hash.as_slice())?;
        w.u16(TpmSt::CREATION.0)?;
        w.u32(key.hierarchy)?;
        let t =
            self.creation_ticket(key.hierarchy, key.name.as_slice(), creation_hash.as_slice())?;
        w.tpm2b(t.as_slice())?;
        Ok(())
    }

    /// The digest of a TPMT_TK_CREATION (Part 2 §10.7.3; Part 3 §18.3):
    /// HMAC(proof of `hierarchy`, TPM_ST_CREATION ‖ name ‖ creationHash).
    pub(crate) fn creation_ticket(
        &self,
        hierarchy: u32,
        name: &[u8],
        creation_hash: &[u8],
    ) -> TpmResult<crate::wire::types::Digest> {
        let proof = self.hier.proof(hierarchy).ok_or(TpmRc::FAILURE)?;
        Ok(hmac(
            crate::commands::hash::TICKET_HASH,
            proof.expose(),
            &[&TpmSt::CREATION.0.to_be_bytes(), name, creation_hash],
        ))
    }

    /// TPM2_CreatePrimary (Part 3 §24.1): an ECC key derived from the hierarchy's seed.
    pub(crate) fn create_primary(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<u32> {
        let sens = p.next(SensitiveCreate::unmarshal)?;
        let template = p.next(Public::unmarshal_2b)?;
        let outside_info = p.tpm2b(MAX_DATA)?;
        let pcrs = p.next(PcrSelectionList::unmarshal)?;
        p.finish()?;
        create_checks(&template, sens.data.len(), None).map_err(|rc| rc.at_param(2))?;
        let name_alg = template.name_alg.ok_or(TpmRc::HASH.at_param(2))?;
        let mut auth = Auth::from_slice(sens.user_auth).ok_or(TpmRc::SIZE.at_param(1))?;
        auth.strip_trailing_zeros();
        if auth.len() > name_alg.size() {
            return Err(TpmRc::SIZE.at_param(1));
        }
        if !self.objects.has_free() {
            return Err(TpmRc::OBJECT_MEMORY);
        }
        let hierarchy = c.handle(0);
        let key = self.derive_primary(hierarchy, &template, &sens)?;
        key.public.marshal_2b(w)?;
        let hname = handle_name(hierarchy);
        let parent = CreationParent {
            name: hname.as_slice(),
            qualified_name: hname.as_slice(),
            name_alg: TpmAlgId::NULL,
        };
        self.write_creation(w, c, &key, &parent, outside_info, &pcrs)?;
        w.tpm2b(key.name.as_slice())?;
        self.objects
            .insert(Object::Key(key))
            .ok_or(TpmRc::OBJECT_MEMORY)
    }

    /// The key object at handle `i` of the command, or TPM_RC_HANDLE / TPM_RC_SEQUENCE.
    pub(crate) fn key(&self, c: &Cmd, i: usize) -> TpmResult<&KeyObject> {
        let n = u8::try_from(i.saturating_add(1)).unwrap_or(1);
        match self.objects.get(c.handle(i)) {
            Some(Object::Key(k)) => Ok(k),
            Some(Object::Sequence(_)) => Err(TpmRc::SEQUENCE),
            None => Err(TpmRc::HANDLE.at_handle(n)),
        }
    }

    /// TPM2_ReadPublic (Part 3 §12.4).
    pub(crate) fn read_public(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        p.finish()?;
        let k = self.key(c, 0)?;
        k.public.marshal_2b(w)?;
        w.tpm2b(k.name.as_slice())?;
        w.tpm2b(k.qualified_name.as_slice())?;
        Ok(())
    }

    /// TPM2_LoadExternal (Part 3 §12.3): a public area (verification keys, credential
    /// targets), or a whole key in the null hierarchy. In the reference implementation's order:
    /// a free slot (TPM_RC_OBJECT_MEMORY); the hierarchy enabled (TPM_RC_HIERARCHY at
    /// parameter 3); with a sensitive area, only TPM_RH_NULL (TPM_RC_HIERARCHY) and neither
    /// fixedTPM, fixedParent nor restricted (TPM_RC_ATTRIBUTES at parameter 2: the object
    /// must not pass for one this TPM created or may certify); then the public area's scheme
    /// rules (public only) or all of its attribute rules (with a sensitive area); then the
    /// keys. Reserved attribute bits are TPM_RC_RESERVED_BITS while unmarshaling.
    ///
    /// An external object's qualified name is its Name: the reference implementation's
    /// ObjectSetLoadedAttributes sets QN = Name for every external object, whatever the
    /// hierarchy, so ReadPublic and Certify report the same QN as libtpms.
    pub(crate) fn load_external(
        &mut self,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<u32> {
        let private = p.tpm2b(crate::MAX_COMMAND_SIZE)?;
        let public = p.next(Public::unmarshal_2b)?;
        let hierarchy = p.next(crate::commands::hash::read_hierarchy)?;
        p.finish()?;
        if !self.objects.has_free() {
            return Err(TpmRc::OBJECT_MEMORY);
        }
        if !self.hier.enabled(hierarchy) {
            return Err(TpmRc::HIERARCHY.at_param(3));
        }
        if !private.is_empty() {
            if hierarchy != RH_NULL {
                return Err(TpmRc::HIERARCHY.at_param(3));
            }
            let a = public.attrs;
            if a.has(ObjectAttrs::FIXED_TPM)
                || a.has(ObjectAttrs::FIXED_PARENT)
                || a.has(ObjectAttrs::RESTRICTED)
            {
                return Err(TpmRc::ATTRIBUTES.at_param(2));
            }
            public.validate(None).map_err(|rc| rc.at_param(2))?;
        } else {
            public.scheme_checks(None).map_err(|rc| rc.at_param(2))?;
        }
        let name_alg = public.name_alg.ok_or(TpmRc::HASH.at_param(2))?;
        let curve = match &public.kind {
            PublicKind::Ecc { curve, x, y, .. } => {
                let curve = Curve::from_id(*curve).ok_or(TpmRc::CURVE.at_param(2))?;
                // A public-only key: both coordinates exactly the curve's size, else TPM_RC_KEY
                // (the reference's CryptValidateKeys without a sensitive area), then on the
                // curve.
                if private.is_empty() && (x.len() != curve.size() || y.len() != curve.size()) {
                    return Err(TpmRc::KEY.at_param(2));
                }
                if !ecc::validate_point(curve, x.as_slice(), y.as_slice()) {
                    return Err(TpmRc::ECC_POINT.at_param(2));
                }
                Some(curve)
            }
            PublicKind::Rsa { .. } => {
                crate::commands::rsa::check_rsa_public(&public).map_err(|rc| rc.at_param(2))?;
                None
            }
            PublicKind::KeyedHash { .. } => None,
            PublicKind::SymCipher { unique, .. } => {
                // A public area alone: its unique field must be a nameAlg digest (the
                // reference's CryptValidateKeys).
                if private.is_empty() && unique.len() != name_alg.size() {
                    return Err(TpmRc::KEY.at_param(2));
                }
                None
            }
        };
        // With a sensitive area: the private part must match the public one.
        let (auth, sensitive, seed_value) = if private.is_empty() {
            (Auth::EMPTY, Secret::EMPTY, Secret::EMPTY)
        } else {
            let mut r = Reader::new(private);
            let ty = TpmAlgId(r.u16().map_err(|_| TpmRc::INSUFFICIENT.at_param(1))?);
            let auth = r
                .tpm2b(MAX_DIGEST)
                .map_err(|e| TpmRc::from(e).at_param(1))?;
            let seed = r.tpm2b(64).map_err(|e| TpmRc::from(e).at_param(1))?;
            let sens = r
                .tpm2b(MAX_SENSITIVE)
                .map_err(|e| TpmRc::from(e).at_param(1))?;
            if !r.is_empty() {
                return Err(TpmRc::SIZE.at_param(1));
            }
            // The reference's ObjectLoad and CryptValidateKeys, in their order: a seed or an
            // authValue longer than a nameAlg digest, the type, then the key material. A
            // private part that does not make the public one is TPM_RC_BINDING and an ECC
            // scalar outside [1, n - 1] TPM_RC_KEY_SIZE, both without a position there.
            if seed.len() > name_alg.size() {
                return Err(TpmRc::KEY_SIZE.at_param(1));
            }
            if ty != public.type_alg() {
                return Err(TpmRc::TYPE.at_param(1));
            }
            if auth.len() > name_alg.size() {
                return Err(TpmRc::SIZE.at_param(1));
            }
            match (&public.kind, curve) {
                (PublicKind::Ecc { x, y, .. }, Some(curve)) => {
                    let q = ecc::public_from_private(curve, sens).ok_or(TpmRc::KEY_SIZE)?;
                    if q.x.as_slice() != x.as_slice() || q.y.as_slice() != y.as_slice() {
                        return Err(TpmRc::BINDING);
                    }
                }
                (PublicKind::Rsa { .. }, _) => {
                    crate::commands::rsa::check_rsa_private(&public, sens, 1)?;
                }
                (PublicKind::KeyedHash { scheme, unique }, _) => {
                    let max = match scheme {
                        Scheme::Hmac(h) => h.block_size(),
                        _ => 128,
                    };
                    if sens.len() > max || seed.len() != name_alg.size() {
                        return Err(TpmRc::KEY_SIZE.at_param(1));
                    }
                    if name_alg.digest(&[seed, sens]) != *unique {
                        return Err(TpmRc::BINDING);
                    }
                }
                (PublicKind::SymCipher { .. }, _) => {
                    crate::commands::symmetric::check_sym_private(&public, seed, sens, 1)?;
                }
                _ => return Err(TpmRc::TYPE.at_param(1)),
            }
            let mut auth = Auth::from_slice(auth).ok_or(TpmRc::SIZE.at_param(1))?;
            auth.strip_trailing_zeros();
            (
                auth,
                Secret::from_slice(sens).ok_or(TpmRc::SIZE.at_param(1))?,
                Secret::from_slice(seed).ok_or(TpmRc::SIZE.at_param(1))?,
            )
        };
        let name = public.name()?;
        w.tpm2b(name.as_slice())?;
        let key = KeyObject {
            public_only: sensitive.is_empty(),
            public,
            name,
            qualified_name: name,
            hierarchy,
            auth,
            sensitive,
            seed_value,
        };
        self.objects
            .insert(Object::Key(key))
            .ok_or(TpmRc::OBJECT_MEMORY)
    }
}
