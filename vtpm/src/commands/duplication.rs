//! Duplication (Part 1 §23.3, Protected Storage Hierarchy; Part 3 §13.1 TPM2_Duplicate, §13.2
//! TPM2_Rewrap, §13.3 TPM2_Import).
//!
//! A duplication blob (TPM2B_PRIVATE) is `u16 size ‖ TPMT_SENSITIVE`, optionally under an
//! inner wrapper and then an outer wrapper, both without IV (the reference implementation's
//! SensitiveToDuplicate / DuplicateToSensitive):
//!
//! - inner (symmetricAlg not NULL): `AES-CFB(encryptionKey, IV = 0)(TPM2B(H_nameAlg(blob ‖
//!   Name)) ‖ blob)`, nameAlg the object's;
//! - outer (a new parent): `TPM2B(HMAC(KDFa(pAlg, seed, "INTEGRITY", ∅, ∅, digest bits), enc ‖
//!   Name)) ‖ enc`, `enc = AES-CFB(KDFa(pAlg, seed, "STORAGE", Name, ∅, parent key bits), IV =
//!   0)(inner)`, pAlg the new parent's nameAlg, and the seed carried in inSymSeed as for
//!   credentials with the label "DUPLICATE": KDFe over an ephemeral ECDH point for an ECC
//!   parent, OAEP("DUPLICATE\0") for an RSA one.

use crate::Tpm;
use crate::commands::credential::{
    SECRET_MAX, check_integrity, credential_key, outer_unwrap, outer_wrap, put_integrity,
};
use crate::commands::storage::{MAX_PRIVATE, marshal_sensitive};
use crate::crypto::sym::{aes_cfb_decrypt, aes_cfb_encrypt};
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::wire::constants::handle::RH_NULL;
use crate::wire::public::{ObjectAttrs, Public, SymDef};
use crate::wire::types::{MAX_DATA, MAX_NAME, Secret};
use crate::wire::{Reader, Writer};

/// The KDF label of a duplication seed (with its terminating zero, as OAEP takes it).
const DUPLICATE: &[u8] = b"DUPLICATE\0";

/// The all-zero IV of the inner wrapper.
const ZERO_IV: [u8; 16] = [0; 16];

impl<P: Platform> Tpm<P> {
    /// TPM2_Duplicate (Part 3 §13.1): the object at handle 1 (DUP role: a policy limited to
    /// this command) as a duplication blob for the new parent at handle 2 (TPM_RH_NULL: no
    /// outer wrapper), with an inner wrapper under `encryptionKeyIn` or a TPM-made key
    /// (returned) if `symmetricAlg` is not NULL. Checks in the reference's order: fixedParent
    /// (TPM_RC_ATTRIBUTES), NULL nameAlg (TPM_RC_TYPE at handle 1), a new parent that is not
    /// a storage key (TPM_RC_TYPE at handle 2), encryptedDuplication without inner wrapper
    /// (TPM_RC_SYMMETRIC) or without new parent (TPM_RC_HIERARCHY), the key's size
    /// (TPM_RC_SIZE).
    pub(crate) fn duplicate(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let key_in = p.tpm2b(MAX_DATA)?;
        let sym = p.next(SymDef::unmarshal)?;
        p.finish()?;
        let k = self.key(c, 0)?;
        let a = k.public.attrs;
        if a.has(ObjectAttrs::FIXED_PARENT) {
            return Err(TpmRc::ATTRIBUTES.at_handle(1));
        }
        let name_alg = k.public.name_alg.ok_or(TpmRc::TYPE.at_handle(1))?;
        let parent = if c.handle(1) == RH_NULL {
            None
        } else {
            Some(credential_key(self.key(c, 1)?, 2)?)
        };
        if a.has(ObjectAttrs::ENCRYPTED_DUPLICATION) {
            if sym == SymDef::Null {
                return Err(TpmRc::SYMMETRIC.at_param(2));
            }
            if parent.is_none() {
                return Err(TpmRc::HIERARCHY.at_handle(2));
            }
        }
        let key_bytes = match sym {
            SymDef::Null => 0,
            SymDef::AesCfb { key_bits } => usize::from(key_bits / 8),
            // TPMT_SYM_DEF_OBJECT's unmarshal takes CFB only; another mode is refused there.
            SymDef::Aes { .. } => return Err(TpmRc::MODE.at_param(2)),
        };
        if !key_in.is_empty() && key_in.len() != key_bytes {
            return Err(TpmRc::SIZE.at_param(1));
        }
        // Layout: [outer integrity][inner integrity] u16 size ‖ TPMT_SENSITIVE.
        let outer = parent
            .as_ref()
            .map_or(0, |k| k.name_alg.size().saturating_add(2));
        let inner = if key_bytes == 0 {
            0
        } else {
            name_alg.size().saturating_add(2)
        };
        let start = outer.saturating_add(inner);
        let mut buf = Secret::<MAX_PRIVATE>::zeroed(MAX_PRIVATE).ok_or(TpmRc::FAILURE)?;
        let end = {
            let mut sw = Writer::new(buf.expose_mut().get_mut(start..).ok_or(TpmRc::FAILURE)?);
            sw.tpm2b_with(|sw| marshal_sensitive(sw, k).map_err(|_| crate::wire::WireError::Full))?;
            start.saturating_add(sw.len())
        };
        let name = k.name;
        let mut key_out = Secret::<32>::EMPTY;
        if key_bytes != 0 {
            let mut key = Secret::<32>::from_slice(key_in).ok_or(TpmRc::FAILURE)?;
            if key_in.is_empty() {
                key = Secret::zeroed(key_bytes).ok_or(TpmRc::FAILURE)?;
                self.random(key.expose_mut())?;
                key_out = key.clone();
            }
            let body = buf.expose_mut().get_mut(outer..end).ok_or(TpmRc::FAILURE)?;
            put_integrity(name_alg, None, name.as_slice(), body);
            aes_cfb_encrypt(key.expose(), &ZERO_IV, body).ok_or(TpmRc::FAILURE)?;
        }
        let mut secret = crate::wire::types::Buf::<SECRET_MAX>::EMPTY;
        if let Some(pk) = parent {
            let (seed, s) = self.secret_encrypt(c, 1, &pk, DUPLICATE)?;
            let body = buf.expose_mut().get_mut(..end).ok_or(TpmRc::FAILURE)?;
            outer_wrap(&pk, seed.expose(), name.as_slice(), body)?;
            secret = s;
        }
        w.tpm2b(key_out.expose())?;
        w.tpm2b(buf.expose().get(..end).ok_or(TpmRc::FAILURE)?)?;
        w.tpm2b(secret.as_slice())?;
        Ok(())
    }

    /// TPM2_Rewrap (Part 3 §13.2): move a duplication blob's outer wrapper from the old parent
    /// at handle 1 to the new parent at handle 2 (either may be TPM_RH_NULL: no outer
    /// wrapper). An inSymSeed that does not go with the old parent is TPM_RC_HANDLE at
    /// handle 1; a parent that is not a storage key TPM_RC_TYPE at its handle; a seed that
    /// does not decrypt TPM_RC_VALUE at inSymSeed; a broken outer wrapper TPM_RC_INTEGRITY at
    /// inDuplicate (the reference's order and codes).
    pub(crate) fn rewrap(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let dup = p.tpm2b(MAX_PRIVATE)?;
        let name = p.tpm2b(MAX_NAME)?;
        let seed_in = p.tpm2b(SECRET_MAX)?;
        p.finish()?;
        if seed_in.is_empty() != (c.handle(0) == RH_NULL) {
            return Err(TpmRc::HANDLE.at_handle(1));
        }
        let mut buf = Secret::<MAX_PRIVATE>::zeroed(MAX_PRIVATE).ok_or(TpmRc::FAILURE)?;
        buf.expose_mut()
            .get_mut(..dup.len())
            .ok_or(TpmRc::SIZE.at_param(1))?
            .copy_from_slice(dup);
        let mut start = 0;
        if c.handle(0) != RH_NULL {
            credential_key(self.key(c, 0)?, 1)?;
            let (k, seed) = self
                .secret_decrypt(c, 0, DUPLICATE, seed_in)
                .map_err(|_| TpmRc::VALUE.at_param(3))?;
            let blob = buf
                .expose_mut()
                .get_mut(..dup.len())
                .ok_or(TpmRc::FAILURE)?;
            start = outer_unwrap(&k, seed.expose(), name, blob).map_err(|rc| rc.at_param(1))?;
        }
        let mut end = dup.len();
        let mut secret = crate::wire::types::Buf::<SECRET_MAX>::EMPTY;
        if c.handle(1) != RH_NULL {
            let k = credential_key(self.key(c, 1)?, 2)?;
            let (seed, s) = self.secret_encrypt(c, 1, &k, DUPLICATE)?;
            let room = k.name_alg.size().saturating_add(2);
            let len = end.saturating_sub(start);
            end = room.saturating_add(len);
            if end > MAX_PRIVATE {
                return Err(TpmRc::VALUE.at_param(1));
            }
            // The contents move behind the new integrity area (a zip: no length panics).
            let mut moved = Secret::<MAX_PRIVATE>::zeroed(end).ok_or(TpmRc::FAILURE)?;
            let src = buf.expose().get(start..).ok_or(TpmRc::FAILURE)?;
            let dst = moved.expose_mut().get_mut(room..).ok_or(TpmRc::FAILURE)?;
            dst.iter_mut().zip(src).for_each(|(d, s)| *d = *s);
            outer_wrap(&k, seed.expose(), name, moved.expose_mut())?;
            buf = moved;
            start = 0;
            secret = s;
        }
        w.tpm2b(buf.expose().get(start..end).ok_or(TpmRc::FAILURE)?)?;
        w.tpm2b(secret.as_slice())?;
        Ok(())
    }

    /// TPM2_Import (Part 3 §13.3): a duplication blob of `objectPublic` made for the storage
    /// parent at handle 1, returned as an ordinary TPM2B_PRIVATE under it. In the reference's
    /// order: fixedTPM or fixedParent (TPM_RC_ATTRIBUTES at objectPublic), a parent that is
    /// not a storage key (TPM_RC_TYPE), the inner key's size (TPM_RC_SIZE),
    /// encryptedDuplication without inner or outer wrapper (TPM_RC_ATTRIBUTES at encryptionKey / inSymSeed), the
    /// seed (at inSymSeed), the wrappers (TPM_RC_INTEGRITY at duplicate), then the object as
    /// TPM2_Load would check it (attributes against a fixedTPM parent at objectPublic, the
    /// sensitive area's type and binding). Unlike the reference, which leaves the last checks
    /// to TPM2_Load under a parent that is not fixedTPM, the sensitive area is always checked.
    pub(crate) fn import(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let key_in = p.tpm2b(MAX_DATA)?;
        let public = p.next(Public::unmarshal_2b)?;
        let dup = p.tpm2b(MAX_PRIVATE)?;
        let seed_in = p.tpm2b(SECRET_MAX)?;
        let sym = p.next(SymDef::unmarshal)?;
        p.finish()?;
        let a = public.attrs;
        if a.has(ObjectAttrs::FIXED_TPM) || a.has(ObjectAttrs::FIXED_PARENT) {
            return Err(TpmRc::ATTRIBUTES.at_param(2));
        }
        let parent = self.storage_parent(c)?;
        let enc_dup = a.has(ObjectAttrs::ENCRYPTED_DUPLICATION);
        match sym {
            SymDef::AesCfb { key_bits } if key_in.len() != usize::from(key_bits / 8) => {
                return Err(TpmRc::SIZE.at_param(1));
            }
            SymDef::Null if !key_in.is_empty() => return Err(TpmRc::SIZE.at_param(1)),
            SymDef::Null if enc_dup => return Err(TpmRc::ATTRIBUTES.at_param(1)),
            _ => {}
        }
        let outer = if seed_in.is_empty() {
            if enc_dup {
                return Err(TpmRc::ATTRIBUTES.at_param(4));
            }
            None
        } else {
            Some(
                self.secret_decrypt(c, 0, DUPLICATE, seed_in)
                    .map_err(|rc| rc.at_param(4))?,
            )
        };
        let name_alg = public.name_alg.ok_or(TpmRc::HASH.at_param(2))?;
        let name = public.name()?;
        let mut buf = Secret::<MAX_PRIVATE>::from_slice(dup).ok_or(TpmRc::SIZE.at_param(3))?;
        let mut start = 0;
        if let Some((k, seed)) = &outer {
            start = outer_unwrap(k, seed.expose(), name.as_slice(), buf.expose_mut())
                .map_err(|rc| rc.at_param(3))?;
        }
        if sym != SymDef::Null {
            let body = buf.expose_mut().get_mut(start..).ok_or(TpmRc::FAILURE)?;
            aes_cfb_decrypt(key_in, &ZERO_IV, body).ok_or(TpmRc::FAILURE)?;
            let off = check_integrity(name_alg, None, name.as_slice(), body)
                .map_err(|rc| rc.at_param(3))?;
            start = start.saturating_add(off);
        }
        let mut r = Reader::new(buf.expose().get(start..).ok_or(TpmRc::FAILURE)?);
        let sensitive = r.tpm2b(MAX_PRIVATE).map_err(|_| TpmRc::SIZE.at_param(3))?;
        if !r.is_empty() {
            return Err(TpmRc::SIZE.at_param(3));
        }
        // Under a fixedTPM parent the public area is checked here, after the sensitive area
        // is unmarshaled (the reference's ObjectLoad); otherwise TPM2_Load checks it.
        let k = self.open_sensitive(&parent, &public, sensitive, 2, 3, parent.params.fixed_tpm)?;
        self.wrap(&parent, &k, w)
    }
}
