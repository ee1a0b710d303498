//! Context management (Part 3 §28): FlushContext, ContextSave, ContextLoad.
//!
//! Object contexts are sealed blobs: `integrity (TPM2B, HMAC-SHA-384) ‖ AES-256-CFB(object)`,
//! keys from KDFa(SHA-384, proof(hierarchy), "CONTEXT" / "INTEGRITY", sequence ‖ handle). The
//! null-hierarchy proof changes at every TPM Reset and the owner / endorsement proofs at
//! TPM2_Clear, so those contexts die with them; every context dies with the TPM instance.
//! A session stays in its slot while saved; its blob is an authenticated reference that loads
//! once.

use crate::Tpm;
use crate::crypto::hash::HashAlg;
use crate::crypto::hmac::hmac;
use crate::crypto::kdf::kdfa;
use crate::crypto::sym::{aes_cfb_decrypt, aes_cfb_encrypt};
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::object::{KeyObject, Object};
use crate::wire::constants::handle::{
    HT_HMAC_SESSION, HT_PERSISTENT, HT_POLICY_SESSION, HT_TRANSIENT, RH_ENDORSEMENT, RH_NULL,
    RH_OWNER, RH_PLATFORM, handle_type,
};
use crate::wire::public::Public;
use crate::wire::types::{Auth, Name, Secret};
use crate::wire::{Reader, Writer};

/// The hash of context integrity (TPM_PT_CONTEXT_HASH): SHA-512, the longest digest this TPM
/// implements, as the reference implementation assumes (HierarchyChangeAuth bounds newAuth by
/// it) and libtpms chooses.
pub(crate) const CONTEXT_HASH: HashAlg = HashAlg::Sha512;
/// Largest context blob we produce or accept.
pub const MAX_CONTEXT_BLOB: usize = 1024;
/// savedHandle of an object context (Part 2 §15.3).
const SAVED_OBJECT: u32 = 0x8000_0000;
/// TPMS_CONTEXT.savedHandle of an object with stClear (Part 2 §14.6).
const SAVED_STCLEAR: u32 = 0x8000_0002;
/// Plaintext tag of an object context.
const KIND_KEY: u8 = 1;
/// Plaintext tag of a session context.
const KIND_SESSION: u8 = 2;

/// The keys of one context blob.
struct ContextKeys {
    enc: Secret<48>,
    mac: Secret<48>,
}

impl<P: Platform> Tpm<P> {
    fn context_keys(&self, hierarchy: u32, sequence: u64, handle: u32) -> TpmResult<ContextKeys> {
        let proof = self
            .hier
            .proof(hierarchy)
            .ok_or(TpmRc::HIERARCHY.at_param(1))?;
        let mut ctx = [0u8; 12];
        let (a, b) = ctx.split_at_mut(8);
        a.copy_from_slice(&sequence.to_be_bytes());
        b.copy_from_slice(&handle.to_be_bytes());
        let mut enc = Secret::<48>::zeroed(48).ok_or(TpmRc::FAILURE)?;
        let mut mac = Secret::<48>::zeroed(48).ok_or(TpmRc::FAILURE)?;
        kdfa(
            CONTEXT_HASH,
            proof.expose(),
            b"CONTEXT",
            &ctx,
            &[],
            enc.expose_mut(),
        )
        .ok_or(TpmRc::FAILURE)?;
        kdfa(
            CONTEXT_HASH,
            proof.expose(),
            b"INTEGRITY",
            &ctx,
            &[],
            mac.expose_mut(),
        )
        .ok_or(TpmRc::FAILURE)?;
        Ok(ContextKeys { enc, mac })
    }

    /// What a saved context is bound to besides its hierarchy's proof (Part 1 §30.3; Part 2
    /// §14.5): the TPM Reset count, so no context loads after a TPM Reset, and for an stClear
    /// object also the Startup(CLEAR) count, so it does not load after a TPM Restart either.
    fn context_epoch(&self, saved_handle: u32) -> [u8; 16] {
        let mut e = [0u8; 16];
        let (a, b) = e.split_at_mut(8);
        a.copy_from_slice(&self.clock.total_resets.to_be_bytes());
        if saved_handle == SAVED_STCLEAR {
            b.copy_from_slice(&self.clock.clear_count.to_be_bytes());
        }
        e
    }

    /// TPM2_FlushContext (Part 3 §28.4): the handle is a parameter (TPMI_DH_CONTEXT); a handle
    /// of another type is TPM_RC_VALUE, one not loaded TPM_RC_HANDLE.
    pub(crate) fn flush_context(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        let h = p.u32()?;
        p.finish()?;
        let found = match handle_type(h) {
            HT_TRANSIENT => self.objects.remove(h).is_some(),
            // A session is found by its slot whatever the handle's type (the reference's
            // SessionIsLoaded / SessionIsSaved): GetCapability(HANDLES) lists a saved session,
            // policy or HMAC, under 0x02000000 + slot, and clients flush it by that handle.
            HT_HMAC_SESSION | HT_POLICY_SESSION => {
                let slot = h & 0x00FF_FFFF;
                [HT_HMAC_SESSION, HT_POLICY_SESSION]
                    .into_iter()
                    .map(|t| (u32::from(t) << 24) | slot)
                    .find(|&s| self.sessions.get_any(s).is_some())
                    .is_some_and(|s| self.flush_session(s))
            }
            _ => return Err(TpmRc::VALUE.at_param(1)),
        };
        if found {
            Ok(())
        } else {
            Err(TpmRc::HANDLE.at_param(1))
        }
    }

    /// TPM2_EvictControl (Part 3 §28.5): make a transient object persistent at a handle of
    /// the authorizing hierarchy's range (owner 0x81000000-0x817FFFFF, platform above), or
    /// evict a persistent one (its own handle as the parameter). The checks in the reference
    /// implementation's order: an object that cannot be persistent (public-only, stClear),
    /// then the handle, then what `auth` may do: the platform may evict any persistent
    /// object but persist only platform objects in its range; the owner may neither touch
    /// platform objects nor persist outside its range.
    pub(crate) fn evict_control(&mut self, c: &Cmd, p: &mut Params<'_>) -> TpmResult<()> {
        let target = p.u32()?;
        p.finish()?;
        if handle_type(target) != HT_PERSISTENT {
            return Err(TpmRc::VALUE.at_param(1));
        }
        let auth = c.handle(0);
        let obj_handle = c.handle(1);
        let Some(Object::Key(k)) = self.objects.get(obj_handle) else {
            return Err(TpmRc::HANDLE.at_handle(2));
        };
        if k.public_only
            || k.public
                .attrs
                .has(crate::wire::public::ObjectAttrs::ST_CLEAR)
        {
            return Err(TpmRc::ATTRIBUTES.at_handle(2));
        }
        let persistent = handle_type(obj_handle) == HT_PERSISTENT;
        if persistent && target != obj_handle {
            return Err(TpmRc::HANDLE.at_handle(2));
        }
        let owner_range = target < 0x8180_0000;
        if auth == RH_PLATFORM {
            if !persistent {
                if k.hierarchy != RH_PLATFORM {
                    return Err(TpmRc::HIERARCHY.at_handle(2));
                }
                if owner_range {
                    return Err(TpmRc::RANGE.at_param(1));
                }
            }
        } else {
            if k.hierarchy != RH_OWNER && k.hierarchy != RH_ENDORSEMENT {
                return Err(TpmRc::HIERARCHY.at_handle(2));
            }
            if !persistent && !owner_range {
                return Err(TpmRc::RANGE.at_param(1));
            }
        }
        if persistent {
            self.objects.evict(target);
            return Ok(());
        }
        if self.objects.get(target).is_some() {
            return Err(TpmRc::NV_DEFINED);
        }
        let obj = Object::Key(k.clone());
        self.objects.persist(target, obj).ok_or(TpmRc::NV_SPACE)
    }

    /// TPM2_ContextSave (Part 3 §28.2): TPMS_CONTEXT = sequence ‖ savedHandle ‖ hierarchy ‖
    /// blob. An object stays loaded; a session becomes saved (not loaded, handle kept).
    pub(crate) fn context_save(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        p.finish()?;
        let h = c.handle(0);
        let sequence = self.context_sequence;
        // The plaintext holds the object's sensitive area: wiped when the command returns.
        let mut plain = zeroize::Zeroizing::new([0u8; MAX_CONTEXT_BLOB]);
        let (saved_handle, hierarchy, n) = match handle_type(h) {
            HT_TRANSIENT => {
                let k = match self.objects.get(h) {
                    Some(Object::Key(k)) => k,
                    // Hash-sequence state is not exported: sequences cannot be saved.
                    Some(Object::Sequence(_)) => return Err(TpmRc::TYPE.at_handle(1)),
                    None => return Err(TpmRc::reference_h(0)),
                };
                let mut pw = Writer::new(&mut plain[..]);
                pw.u8(KIND_KEY)?;
                k.public.marshal_2b(&mut pw)?;
                pw.tpm2b(k.qualified_name.as_slice())?;
                pw.tpm2b(k.auth.expose())?;
                pw.tpm2b(k.sensitive.expose())?;
                pw.tpm2b(k.seed_value.expose())?;
                pw.u8(u8::from(k.public_only))?;
                let saved = if k
                    .public
                    .attrs
                    .has(crate::wire::public::ObjectAttrs::ST_CLEAR)
                {
                    SAVED_STCLEAR
                } else {
                    SAVED_OBJECT
                };
                (saved, k.hierarchy, pw.len())
            }
            HT_HMAC_SESSION | HT_POLICY_SESSION => {
                if self.sessions.get(h).is_none() {
                    return Err(TpmRc::reference_h(0));
                }
                let mut pw = Writer::new(&mut plain[..]);
                pw.u8(KIND_SESSION)?;
                (h, RH_NULL, pw.len())
            }
            _ => return Err(TpmRc::VALUE.at_handle(1)),
        };
        let keys = self.context_keys(hierarchy, sequence, saved_handle)?;
        let body = plain.get_mut(..n).ok_or(TpmRc::FAILURE)?;
        let (key, iv) = keys
            .enc
            .expose()
            .split_at_checked(32)
            .ok_or(TpmRc::FAILURE)?;
        aes_cfb_encrypt(key, iv, body).ok_or(TpmRc::FAILURE)?;
        let mac = hmac(
            CONTEXT_HASH,
            keys.mac.expose(),
            &[
                body,
                &sequence.to_be_bytes(),
                &saved_handle.to_be_bytes(),
                &hierarchy.to_be_bytes(),
                &self.context_epoch(saved_handle),
            ],
        );
        w.u64(sequence)?;
        w.u32(saved_handle)?;
        w.u32(hierarchy)?;
        w.tpm2b_with(|w| {
            w.tpm2b(mac.as_slice())?;
            w.bytes(body)
        })?;
        self.context_sequence = sequence.wrapping_add(1);
        if let Some(s) = self.sessions.get_mut(h) {
            s.saved = Some(sequence);
        }
        Ok(())
    }

    /// TPM2_ContextLoad (Part 3 §28.3): TPM_RC_INTEGRITY for a blob that does not
    /// authenticate (tampered, from another boot or TPM Reset), TPM_RC_HANDLE for a session
    /// that is not saved under that sequence number.
    pub(crate) fn context_load(&mut self, p: &mut Params<'_>) -> TpmResult<u32> {
        let (sequence, saved_handle, hierarchy, blob) = p.next(|r| {
            let sequence = r.u64()?;
            let saved_handle = r.u32()?;
            let hierarchy = crate::commands::hash::read_hierarchy(r)?;
            let blob = r.tpm2b(MAX_CONTEXT_BLOB.saturating_add(64))?;
            Ok((sequence, saved_handle, hierarchy, blob))
        })?;
        p.finish()?;
        if !self.hier.enabled(hierarchy) {
            return Err(TpmRc::HIERARCHY.at_param(1));
        }
        // The integrity TPM2B_DIGEST at the head of the blob: an unmarshal error is returned as
        // it is, without a parameter number (TPM_RC_SIZE above 64 bytes, TPM_RC_INSUFFICIENT
        // if the blob ends first); a digest of another size is TPM_RC_SIZE at parameter 1 (the
        // reference's TPM2_ContextLoad, as libtpms).
        let mut r = Reader::new(blob);
        let mac = r.tpm2b(64).map_err(TpmRc::from)?;
        let body = r.rest();
        if mac.len() != CONTEXT_HASH.size() {
            return Err(TpmRc::SIZE.at_param(1));
        }
        if body.len() > MAX_CONTEXT_BLOB {
            return Err(TpmRc::SIZE.at_param(1));
        }
        let keys = self.context_keys(hierarchy, sequence, saved_handle)?;
        let expect = hmac(
            CONTEXT_HASH,
            keys.mac.expose(),
            &[
                body,
                &sequence.to_be_bytes(),
                &saved_handle.to_be_bytes(),
                &hierarchy.to_be_bytes(),
                &self.context_epoch(saved_handle),
            ],
        );
        if !bool::from(subtle::ConstantTimeEq::ct_eq(expect.as_slice(), mac)) {
            return Err(TpmRc::INTEGRITY.at_param(1));
        }
        let mut plain =
            Secret::<MAX_CONTEXT_BLOB>::from_slice(body).ok_or(TpmRc::SIZE.at_param(1))?;
        let (key, iv) = keys
            .enc
            .expose()
            .split_at_checked(32)
            .ok_or(TpmRc::FAILURE)?;
        aes_cfb_decrypt(key, iv, plain.expose_mut()).ok_or(TpmRc::FAILURE)?;
        let mut pr = Reader::new(plain.expose());
        match pr.u8()? {
            KIND_KEY if saved_handle == SAVED_OBJECT || saved_handle == SAVED_STCLEAR => {
                let public = Public::unmarshal_2b(&mut pr)?;
                let qualified_name = Name::from_slice(pr.tpm2b(66)?).ok_or(TpmRc::FAILURE)?;
                let auth = Auth::from_slice(pr.tpm2b(64)?).ok_or(TpmRc::FAILURE)?;
                let sensitive = Secret::from_slice(pr.tpm2b(128)?).ok_or(TpmRc::FAILURE)?;
                let seed_value = Secret::from_slice(pr.tpm2b(64)?).ok_or(TpmRc::FAILURE)?;
                let public_only = pr.u8()? != 0;
                let name = public.name()?;
                let key = KeyObject {
                    public,
                    name,
                    qualified_name,
                    hierarchy,
                    auth,
                    sensitive,
                    seed_value,
                    public_only,
                };
                self.objects
                    .insert(Object::Key(key))
                    .ok_or(TpmRc::OBJECT_MEMORY)
            }
            KIND_SESSION => {
                let s = self
                    .sessions
                    .get_any_mut(saved_handle)
                    .ok_or(TpmRc::HANDLE.at_param(1))?;
                if s.saved != Some(sequence) {
                    return Err(TpmRc::HANDLE.at_param(1));
                }
                s.saved = None;
                Ok(saved_handle)
            }
            _ => Err(TpmRc::BAD_CONTEXT),
        }
    }
}
