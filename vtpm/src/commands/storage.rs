//! Creating and loading ordinary objects under a storage parent (Part 3 §12.1, §12.2, §12.7,
//! §12.9) and the TPM2B_PRIVATE protection of Part 1 §23 ("outer wrap" for storage):
//!
//! `TPM2B_PRIVATE = integrity TPM2B ‖ IV TPM2B ‖ AES-CFB(symKey, IV)(u16 size ‖
//! TPMT_SENSITIVE)`, `symKey = KDFa(parent.nameAlg, parent.seedValue, "STORAGE", Name, ∅,
//! parent key bits)`, `integrity = HMAC(KDFa(parent.nameAlg, parent.seedValue, "INTEGRITY", ∅,
//! ∅, digest bits), IV TPM2B ‖ encSensitive ‖ Name)`. The symmetric key depends only on the
//! parent and the Name, and ObjectChangeAuth wraps the same Name again, so each wrap draws a
//! fresh random IV (as the reference implementation's outer wrap with useIV): two blobs of
//! one object never share a keystream. The authValue is padded with zeros to the nameAlg
//! digest size (trailing zeros are not significant, Part 1 §19.6.4), so the blob's length
//! does not tell the authValue's.

use crate::Tpm;
use crate::commands::object::{CreationParent, SensitiveCreate, qualified_name};
use crate::crypto::ecc::{self, Curve};
use crate::crypto::hash::HashAlg;
use crate::crypto::hmac::hmac;
use crate::crypto::kdf::kdfa;
use crate::crypto::sym::{aes_cfb_decrypt, aes_cfb_encrypt};
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::object::{KeyObject, MAX_SENSITIVE, Object};
use crate::wire::constants::TpmAlgId;
use crate::wire::constants::handle::{HT_PERMANENT, handle_type};
use crate::wire::public::{ObjectAttrs, ParentParams, Public, PublicKind};
use crate::wire::types::{Auth, MAX_DATA, MAX_DIGEST, PcrSelectionList, Secret};
use crate::wire::{Reader, Writer};

/// Largest TPM2B_PRIVATE we produce or accept.
pub const MAX_PRIVATE: usize = 512;

/// What a storage parent contributes to protecting its children.
#[derive(Clone)]
pub(crate) struct ParentInfo {
    name_alg: HashAlg,
    key_bytes: usize,
    seed: Secret<64>,
    name: crate::wire::types::Name,
    qualified_name: crate::wire::types::Name,
    hierarchy: u32,
    /// What the children's checks compare with.
    pub(crate) params: ParentParams,
}

/// The size of the wrap's IV (the AES block).
const WRAP_IV: usize = 16;

/// Write TPMT_SENSITIVE (Part 2 §12.3.2.5) of `k`, its authValue padded to the nameAlg
/// digest size.
pub(crate) fn marshal_sensitive(w: &mut Writer<'_>, k: &KeyObject) -> TpmResult<()> {
    w.u16(k.public.type_alg().0)?;
    let digest = k.public.name_alg.map_or(0, HashAlg::size);
    let mut auth = Auth::from_slice(k.auth.expose()).ok_or(TpmRc::SIZE)?;
    let pad = [0u8; MAX_DIGEST];
    if let Some(zeros) = digest.checked_sub(auth.len()).and_then(|n| pad.get(..n)) {
        auth.extend(zeros).ok_or(TpmRc::SIZE)?;
    }
    w.tpm2b(auth.expose())?;
    w.tpm2b(k.seed_value.expose())?;
    w.tpm2b(k.sensitive.expose())?;
    Ok(())
}

/// Whether two big-endian byte strings are the same integer (leading zeros aside). For
/// public values only: not constant time.
fn same_integer(a: &[u8], b: &[u8]) -> bool {
    fn trim(v: &[u8]) -> &[u8] {
        let n = v.iter().take_while(|b| **b == 0).count();
        v.get(n..).unwrap_or_default()
    }
    trim(a) == trim(b)
}

impl<P: Platform> Tpm<P> {
    /// The storage parent at handle 1: a loaded restricted decryption key with its private
    /// part (TPM_RC_TYPE at handle 1 otherwise, as the reference implementation answers).
    pub(crate) fn storage_parent(&self, c: &Cmd) -> TpmResult<ParentInfo> {
        let k = self.key(c, 0)?;
        let storage = k.public.attrs.has(ObjectAttrs::RESTRICTED)
            && k.public.attrs.has(ObjectAttrs::DECRYPT)
            && !k.public_only;
        let Some(symmetric) = k.public.parent_symmetric() else {
            return Err(TpmRc::TYPE.at_handle(1));
        };
        // Children are protected with AES-CFB whatever the parent's mode (Part 1 §23).
        let Some((key_bits, _)) = symmetric.aes() else {
            return Err(TpmRc::TYPE.at_handle(1));
        };
        if !storage {
            return Err(TpmRc::TYPE.at_handle(1));
        }
        let name_alg = k.public.name_alg.ok_or(TpmRc::FAILURE)?;
        Ok(ParentInfo {
            name_alg,
            key_bytes: usize::from(key_bits / 8),
            seed: k.seed_value.clone(),
            name: k.name,
            qualified_name: k.qualified_name,
            hierarchy: k.hierarchy,
            params: ParentParams {
                fixed_tpm: k.public.attrs.has(ObjectAttrs::FIXED_TPM),
                encrypted_duplication: k.public.attrs.has(ObjectAttrs::ENCRYPTED_DUPLICATION),
                name_alg,
                symmetric,
            },
        })
    }

    /// Generate a new ordinary object from a template (Part 1 §27): a random ECC key, or a
    /// sealed data object whose unique field is H(seedValue ‖ data).
    fn generate_object(
        &mut self,
        parent: &ParentInfo,
        template: &Public,
        sens: &SensitiveCreate<'_>,
    ) -> TpmResult<KeyObject> {
        let name_alg = template.name_alg.ok_or(TpmRc::HASH.at_param(2))?;
        let mut auth = Auth::from_slice(sens.user_auth).ok_or(TpmRc::SIZE.at_param(1))?;
        auth.strip_trailing_zeros();
        if auth.len() > name_alg.size() {
            return Err(TpmRc::SIZE.at_param(1));
        }
        let mut public = *template;
        let storage =
            template.attrs.has(ObjectAttrs::RESTRICTED) && template.attrs.has(ObjectAttrs::DECRYPT);
        let mut seed_value = Secret::<64>::EMPTY;
        let sensitive = match &mut public.kind {
            PublicKind::Ecc { curve, x, y, .. } => {
                let curve = Curve::from_id(*curve).ok_or(TpmRc::CURVE.at_param(2))?;
                let d =
                    ecc::try_random_private(curve, |c| self.random(c))?.ok_or(TpmRc::FAILURE)?;
                let q = ecc::public_from_private(curve, d.expose()).ok_or(TpmRc::FAILURE)?;
                *x = q.x;
                *y = q.y;
                if storage {
                    seed_value = Secret::zeroed(name_alg.size()).ok_or(TpmRc::FAILURE)?;
                    self.random(seed_value.expose_mut())?;
                }
                Secret::<MAX_SENSITIVE>::from_slice(d.expose()).ok_or(TpmRc::FAILURE)?
            }
            PublicKind::Rsa { exponent, n, .. } => {
                let mut drbg = self.rsa_drbg()?;
                let prime = crate::commands::rsa::generate_rsa(*exponent, n, &mut drbg)?;
                if storage {
                    seed_value = Secret::zeroed(name_alg.size()).ok_or(TpmRc::FAILURE)?;
                    self.random(seed_value.expose_mut())?;
                }
                prime
            }
            PublicKind::KeyedHash { unique, .. } | PublicKind::SymCipher { unique, .. } => {
                // A random key of the size generated_key_len gives, or the caller's data (an
                // HMAC or AES key, or sealed data); always a seedValue (Part 1 §27.2.6,
                // §27.7; the reference's CryptGenerateKeyedHash / CryptGenerateKeySymmetric).
                let key_len = crate::commands::symmetric::generated_key_len(template, sens.data)?;
                let data = if key_len != 0 {
                    let mut k = Secret::<MAX_SENSITIVE>::zeroed(key_len).ok_or(TpmRc::FAILURE)?;
                    self.random(k.expose_mut())?;
                    k
                } else {
                    Secret::<MAX_SENSITIVE>::from_slice(sens.data).ok_or(TpmRc::SIZE.at_param(1))?
                };
                seed_value = Secret::zeroed(name_alg.size()).ok_or(TpmRc::FAILURE)?;
                self.random(seed_value.expose_mut())?;
                *unique = crate::commands::symmetric::sym_unique(
                    template,
                    name_alg,
                    seed_value.expose(),
                    data.expose(),
                );
                data
            }
        };
        let name = public.name()?;
        let qn = qualified_name(name_alg, parent.qualified_name.as_slice(), name.as_slice())?;
        Ok(KeyObject {
            public,
            name,
            qualified_name: qn,
            hierarchy: parent.hierarchy,
            auth,
            sensitive,
            seed_value,
            public_only: false,
        })
    }

    fn storage_keys(parent: &ParentInfo, name: &[u8]) -> TpmResult<(Secret<32>, Secret<64>)> {
        let mut sym = Secret::<32>::zeroed(parent.key_bytes).ok_or(TpmRc::FAILURE)?;
        kdfa(
            parent.name_alg,
            parent.seed.expose(),
            b"STORAGE",
            name,
            &[],
            sym.expose_mut(),
        )
        .ok_or(TpmRc::FAILURE)?;
        let mut mac = Secret::<64>::zeroed(parent.name_alg.size()).ok_or(TpmRc::FAILURE)?;
        kdfa(
            parent.name_alg,
            parent.seed.expose(),
            b"INTEGRITY",
            &[],
            &[],
            mac.expose_mut(),
        )
        .ok_or(TpmRc::FAILURE)?;
        Ok((sym, mac))
    }

    /// Write TPM2B_PRIVATE for `k` under `parent`, with a fresh IV from the DRBG.
    pub(crate) fn wrap(
        &mut self,
        parent: &ParentInfo,
        k: &KeyObject,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let mut iv = [0u8; WRAP_IV];
        self.random(&mut iv)?;
        let mut plain = Secret::<MAX_PRIVATE>::zeroed(MAX_PRIVATE).ok_or(TpmRc::FAILURE)?;
        let n = {
            let mut pw = Writer::new(plain.expose_mut());
            pw.tpm2b_with(|pw| marshal_sensitive(pw, k).map_err(|_| crate::wire::WireError::Full))?;
            pw.len()
        };
        let body = plain.expose_mut().get_mut(..n).ok_or(TpmRc::FAILURE)?;
        let (sym, mac) = Self::storage_keys(parent, k.name.as_slice())?;
        aes_cfb_encrypt(sym.expose(), &iv, body).ok_or(TpmRc::FAILURE)?;
        let iv_size = u16::try_from(WRAP_IV)
            .map_err(|_| TpmRc::FAILURE)?
            .to_be_bytes();
        let integrity = hmac(
            parent.name_alg,
            mac.expose(),
            &[&iv_size, &iv, body, k.name.as_slice()],
        );
        w.tpm2b_with(|w| {
            w.tpm2b(integrity.as_slice())?;
            w.tpm2b(&iv)?;
            w.bytes(body)
        })?;
        Ok(())
    }

    /// Check and open TPM2B_PRIVATE for `public` under `parent` (Part 1 §23): TPM_RC_INTEGRITY
    /// at parameter 1 if it does not authenticate; TPM_RC_TYPE / TPM_RC_BINDING if the
    /// sensitive area does not belong to the public area.
    fn unwrap_private(
        &self,
        parent: &ParentInfo,
        public: &Public,
        private: &[u8],
    ) -> TpmResult<KeyObject> {
        public.name_alg.ok_or(TpmRc::HASH.at_param(2))?;
        let name = public.name()?;
        let (sym, mac) = Self::storage_keys(parent, name.as_slice())?;
        let off = crate::commands::credential::check_integrity(
            parent.name_alg,
            Some(mac.expose()),
            name.as_slice(),
            private,
        )
        .map_err(|rc| {
            if rc == TpmRc::INTEGRITY {
                rc
            } else {
                TpmRc::SIZE
            }
            .at_param(1)
        })?;
        let mut r = Reader::new(private.get(off..).ok_or(TpmRc::FAILURE)?);
        let iv = r.tpm2b(WRAP_IV).map_err(|_| TpmRc::SIZE.at_param(1))?;
        if iv.len() != WRAP_IV {
            return Err(TpmRc::SIZE.at_param(1));
        }
        let body = r.rest();
        let mut plain = Secret::<MAX_PRIVATE>::from_slice(body).ok_or(TpmRc::SIZE.at_param(1))?;
        aes_cfb_decrypt(sym.expose(), iv, plain.expose_mut()).ok_or(TpmRc::FAILURE)?;
        let mut pr = Reader::new(plain.expose());
        let inner = pr.tpm2b(MAX_PRIVATE).map_err(|_| TpmRc::SIZE.at_param(1))?;
        if !pr.is_empty() {
            return Err(TpmRc::SIZE.at_param(1));
        }
        self.open_sensitive(parent, public, inner, 2, 1, false)
    }

    /// The object of `public` with the TPMT_SENSITIVE `inner` under `parent`, checked as the
    /// reference implementation's ObjectLoad and CryptValidateKeys check a sensitive area that
    /// did not come from this TPM (TPM2_Import makes one from outside data, and TPM2_Load
    /// opens blobs under parents whose seed may be known outside), in their order and codes:
    ///
    /// - unmarshaling errors, bytes after the TPMT_SENSITIVE (TPM_RC_SIZE), a seedValue
    ///   larger than the nameAlg digest (TPM_RC_KEY_SIZE): at `blame_sensitive`;
    /// - with `validate`, the public area's checks under `parent` ([`Public::validate`], at
    ///   `blame_public`; TPM2_Import under a fixedTPM parent, where the reference's ObjectLoad
    ///   runs them only here);
    /// - another type (TPM_RC_TYPE), an authValue larger than the nameAlg digest
    ///   (TPM_RC_SIZE): at `blame_sensitive`;
    /// - RSA: the modulus (at `blame_public`), the prime's size (TPM_RC_KEY_SIZE at
    ///   `blame_sensitive`), p dividing n (TPM_RC_BINDING);
    /// - ECC: a scalar not in [1, n − 1] (TPM_RC_KEY_SIZE), not the public point's
    ///   (TPM_RC_BINDING, coordinates compared as integers), both without a position;
    /// - keyed hash: data beyond the HMAC hash's block size, or 128 bytes for a data object
    ///   (TPM_RC_KEY_SIZE), a seedValue not of the digest size (TPM_RC_KEY_SIZE), both at
    ///   `blame_sensitive`; unique ≠ H(seedValue ‖ data) (TPM_RC_BINDING without a position);
    /// - a storage parent's seedValue shorter than half the nameAlg digest (TPM_RC_SIZE at
    ///   `blame_sensitive`): its children's protection keys derive from it.
    pub(crate) fn open_sensitive(
        &self,
        parent: &ParentInfo,
        public: &Public,
        inner: &[u8],
        blame_public: u8,
        blame_sensitive: u8,
        validate: bool,
    ) -> TpmResult<KeyObject> {
        let name_alg = public.name_alg.ok_or(TpmRc::HASH.at_param(blame_public))?;
        let name = public.name()?;
        let digest = name_alg.size();
        let at_s = |rc: TpmRc| rc.at_param(blame_sensitive);
        let mut s = Reader::new(inner);
        let ty = TpmAlgId(s.u16().map_err(|e| at_s(e.into()))?);
        let auth = s.tpm2b(MAX_DIGEST).map_err(|e| at_s(e.into()))?;
        let auth = Auth::from_slice(auth).ok_or(at_s(TpmRc::SIZE))?;
        let seed_value = s.tpm2b(64).map_err(|e| at_s(e.into()))?;
        let seed_value = Secret::<64>::from_slice(seed_value).ok_or(at_s(TpmRc::SIZE))?;
        let sensitive = s.tpm2b(MAX_SENSITIVE).map_err(|e| at_s(e.into()))?;
        let mut sensitive =
            Secret::<MAX_SENSITIVE>::from_slice(sensitive).ok_or(at_s(TpmRc::SIZE))?;
        if !s.is_empty() {
            return Err(at_s(TpmRc::SIZE));
        }
        if seed_value.len() > digest {
            return Err(at_s(TpmRc::KEY_SIZE));
        }
        if validate {
            public
                .validate(Some(&parent.params))
                .map_err(|rc| rc.at_param(blame_public))?;
        }
        if ty != public.type_alg() {
            return Err(at_s(TpmRc::TYPE));
        }
        if auth.len() > digest {
            return Err(at_s(TpmRc::SIZE));
        }
        match &public.kind {
            PublicKind::Ecc { curve, x, y, .. } => {
                let curve = Curve::from_id(*curve).ok_or(TpmRc::CURVE.at_param(blame_public))?;
                // An integer: zeros in front of the curve size are not significant.
                while sensitive.len() > curve.size() && sensitive.expose().first() == Some(&0) {
                    let rest = sensitive.expose().get(1..).ok_or(TpmRc::FAILURE)?;
                    sensitive = Secret::from_slice(rest).ok_or(TpmRc::FAILURE)?;
                }
                let q =
                    ecc::public_from_private(curve, sensitive.expose()).ok_or(TpmRc::KEY_SIZE)?;
                // Coordinates are integers: a public area may carry them with fewer or more
                // leading zeros than the curve size (the reference's AdjustNumberB).
                if !same_integer(q.x.as_slice(), x.as_slice())
                    || !same_integer(q.y.as_slice(), y.as_slice())
                {
                    return Err(TpmRc::BINDING);
                }
            }
            PublicKind::Rsa { .. } => {
                crate::commands::rsa::check_rsa_public(public)
                    .map_err(|rc| rc.at_param(blame_public))?;
                crate::commands::rsa::check_rsa_private(
                    public,
                    sensitive.expose(),
                    blame_sensitive,
                )?;
            }
            PublicKind::KeyedHash { unique, scheme } => {
                let max = match scheme {
                    crate::wire::public::Scheme::Hmac(h) => h.block_size(),
                    _ => MAX_SENSITIVE,
                };
                if sensitive.len() > max {
                    return Err(at_s(TpmRc::KEY_SIZE));
                }
                if seed_value.len() != digest {
                    return Err(at_s(TpmRc::KEY_SIZE));
                }
                if name_alg.digest(&[seed_value.expose(), sensitive.expose()]) != *unique {
                    return Err(TpmRc::BINDING);
                }
            }
            PublicKind::SymCipher { .. } => crate::commands::symmetric::check_sym_private(
                public,
                seed_value.expose(),
                sensitive.expose(),
                1,
            )
            .map_err(|rc| {
                if rc == TpmRc::BINDING {
                    rc.at_param(2)
                } else {
                    rc
                }
            })?,
        }
        let a = public.attrs;
        if a.has(ObjectAttrs::RESTRICTED)
            && a.has(ObjectAttrs::DECRYPT)
            && seed_value.len() < digest / 2
        {
            return Err(at_s(TpmRc::SIZE));
        }
        let qn = qualified_name(name_alg, parent.qualified_name.as_slice(), name.as_slice())?;
        Ok(KeyObject {
            public: *public,
            name,
            qualified_name: qn,
            hierarchy: parent.hierarchy,
            auth,
            sensitive,
            seed_value,
            public_only: false,
        })
    }

    /// TPM2_Create (Part 3 §12.1): a new object under a storage parent, returned wrapped.
    pub(crate) fn create(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let sens = p.next(SensitiveCreate::unmarshal)?;
        let template = p.next(Public::unmarshal_2b)?;
        let outside_info = p.tpm2b(MAX_DATA)?;
        let pcrs = p.next(PcrSelectionList::unmarshal)?;
        p.finish()?;
        let parent = self.storage_parent(c)?;
        crate::commands::object::create_checks(&template, sens.data.len(), Some(&parent.params))
            .map_err(|rc| rc.at_param(2))?;
        let k = self.generate_object(&parent, &template, &sens)?;
        self.wrap(&parent, &k, w)?;
        k.public.marshal_2b(w)?;
        let cp = CreationParent {
            name: parent.name.as_slice(),
            qualified_name: parent.qualified_name.as_slice(),
            name_alg: parent.name_alg.alg_id(),
        };
        self.write_creation(w, c, &k, &cp, outside_info, &pcrs)
    }

    /// TPM2_CreateLoaded (Part 3 §12.9): under a storage parent, Create then Load; under a
    /// hierarchy, a primary object (derived as by TPM2_CreatePrimary; outPrivate empty).
    pub(crate) fn create_loaded(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<u32> {
        let sens = p.next(SensitiveCreate::unmarshal)?;
        let template = p.next(Public::unmarshal_2b)?;
        p.finish()?;
        if handle_type(c.handle(0)) == HT_PERMANENT {
            // A hierarchy as parent: a primary object, with no private part to return.
            crate::commands::object::create_checks(&template, sens.data.len(), None)
                .map_err(|rc| rc.at_param(2))?;
            if !self.objects.has_free() {
                return Err(TpmRc::OBJECT_MEMORY);
            }
            let k = self.derive_primary(c.handle(0), &template, &sens)?;
            w.u16(0)?;
            k.public.marshal_2b(w)?;
            w.tpm2b(k.name.as_slice())?;
            return self
                .objects
                .insert(Object::Key(k))
                .ok_or(TpmRc::OBJECT_MEMORY);
        }
        let parent = self.storage_parent(c)?;
        crate::commands::object::create_checks(&template, sens.data.len(), Some(&parent.params))
            .map_err(|rc| rc.at_param(2))?;
        if !self.objects.has_free() {
            return Err(TpmRc::OBJECT_MEMORY);
        }
        let k = self.generate_object(&parent, &template, &sens)?;
        self.wrap(&parent, &k, w)?;
        k.public.marshal_2b(w)?;
        w.tpm2b(k.name.as_slice())?;
        self.objects
            .insert(Object::Key(k))
            .ok_or(TpmRc::OBJECT_MEMORY)
    }

    /// TPM2_Load (Part 3 §12.2).
    pub(crate) fn load(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<u32> {
        let private = p.tpm2b(MAX_PRIVATE)?;
        let public = p.next(Public::unmarshal_2b)?;
        p.finish()?;
        let parent = self.storage_parent(c)?;
        public
            .validate(Some(&parent.params))
            .map_err(|rc| rc.at_param(2))?;
        if !self.objects.has_free() {
            return Err(TpmRc::OBJECT_MEMORY);
        }
        let k = self.unwrap_private(&parent, &public, private)?;
        w.tpm2b(k.name.as_slice())?;
        self.objects
            .insert(Object::Key(k))
            .ok_or(TpmRc::OBJECT_MEMORY)
    }

    /// TPM2_ObjectChangeAuth (Part 3 §12.8): a new TPM2B_PRIVATE for the object at handle 1
    /// with `newAuth`, under its parent at handle 2 (TPM_RC_TYPE at handle 2 if that is not
    /// its parent). The loaded object keeps its old authValue.
    pub(crate) fn object_change_auth(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let new_auth = p.tpm2b(MAX_DIGEST)?;
        p.finish()?;
        let mut k = self.key(c, 0)?.clone();
        let name_alg = k.public.name_alg.ok_or(TpmRc::HASH)?;
        let parent_cmd = Cmd {
            handles: [c.handle(1), c.handle(1), c.handle(1)],
            ..*c
        };
        let parent = self
            .storage_parent(&parent_cmd)
            .map_err(|_| TpmRc::TYPE.at_handle(2))?;
        let qn = qualified_name(
            name_alg,
            parent.qualified_name.as_slice(),
            k.name.as_slice(),
        )?;
        if qn != k.qualified_name {
            return Err(TpmRc::TYPE.at_handle(2));
        }
        let mut auth = Auth::from_slice(new_auth).ok_or(TpmRc::SIZE.at_param(1))?;
        auth.strip_trailing_zeros();
        if auth.len() > name_alg.size() {
            return Err(TpmRc::SIZE.at_param(1));
        }
        k.auth = auth;
        self.wrap(&parent, &k, w)
    }

    /// TPM2_Unseal (Part 3 §12.7): the data of a sealed data object.
    pub(crate) fn unseal(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        p.finish()?;
        let k = self.key(c, 0)?;
        if !matches!(k.public.kind, PublicKind::KeyedHash { .. }) || k.public_only {
            return Err(TpmRc::TYPE.at_handle(1));
        }
        let a = k.public.attrs;
        if a.has(ObjectAttrs::SIGN) || a.has(ObjectAttrs::DECRYPT) || a.has(ObjectAttrs::RESTRICTED)
        {
            return Err(TpmRc::ATTRIBUTES.at_handle(1));
        }
        w.tpm2b(k.sensitive.expose())?;
        Ok(())
    }
}
