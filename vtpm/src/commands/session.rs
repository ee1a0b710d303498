//! Session commands (Part 3 §11).

use crate::Tpm;
use crate::crypto::ecc::{self, Curve};
use crate::crypto::kdf::{kdfa, kdfe};
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::object::Object;
use crate::state::session::{MAX_SESSIONS, PolicyState, Session, SessionKind, SessionSym};
use crate::wire::Reader;
use crate::wire::Writer;
use crate::wire::constants::handle::{RH_LOCKOUT, RH_NULL};
use crate::wire::constants::{TpmAlgId, TpmSe};
use crate::wire::public::{MAX_ECC_KEY_BYTES, ObjectAttrs, PublicKind};
use crate::wire::types::{Digest, MAX_DIGEST, Nonce, Secret, read_hash};

/// Unmarshal TPMT_SYM_DEF+ for a session (Part 2 §11.1.6): NULL, XOR with a hash, or AES-128
/// / AES-256 in CFB mode.
fn read_session_sym(r: &mut Reader<'_>) -> TpmResult<SessionSym> {
    match TpmAlgId(r.u16()?) {
        TpmAlgId::NULL => Ok(SessionSym::Null),
        TpmAlgId::XOR => Ok(SessionSym::Xor(read_hash(r)?)),
        TpmAlgId::AES => {
            let key_bits = r.u16()?;
            if key_bits != 128 && key_bits != 256 {
                // TPMI_AES_KEY_BITS: an unsupported size is TPM_RC_VALUE (as libtpms answers).
                return Err(TpmRc::VALUE);
            }
            if TpmAlgId(r.u16()?) != TpmAlgId::CFB {
                return Err(TpmRc::MODE);
            }
            Ok(SessionSym::AesCfb { key_bits })
        }
        _ => Err(TpmRc::SYMMETRIC),
    }
}

impl<P: Platform> Tpm<P> {
    /// The salt of a session salted with the ECC key `tpm_key` (Part 1 Annex C.6.1):
    /// `KDFe(nameAlg, (d·Q_salt).x, "SECRET", Q_salt.x, Q_key.x, digest bits)`.
    fn ecc_salt(&self, tpm_key: u32, encrypted: &[u8]) -> TpmResult<Secret<MAX_DIGEST>> {
        let Some(Object::Key(k)) = self.objects.get(tpm_key) else {
            return Err(TpmRc::HANDLE.at_handle(1));
        };
        let PublicKind::Ecc { curve, x, .. } = &k.public.kind else {
            return Err(TpmRc::KEY.at_handle(1));
        };
        if !k.public.attrs.has(ObjectAttrs::DECRYPT) || k.public_only {
            return Err(TpmRc::ATTRIBUTES.at_handle(1));
        }
        let curve = Curve::from_id(*curve).ok_or(TpmRc::CURVE)?;
        let name_alg = k.public.name_alg.ok_or(TpmRc::HASH)?;
        let mut r = Reader::new(encrypted);
        let qx = r
            .tpm2b(MAX_ECC_KEY_BYTES)
            .map_err(|_| TpmRc::SIZE.at_param(2))?;
        let qy = r
            .tpm2b(MAX_ECC_KEY_BYTES)
            .map_err(|_| TpmRc::SIZE.at_param(2))?;
        if !r.is_empty() {
            return Err(TpmRc::SIZE.at_param(2));
        }
        let z =
            ecc::ecdh(curve, k.sensitive.expose(), qx, qy).ok_or(TpmRc::ECC_POINT.at_param(2))?;
        let mut qx_padded = [0u8; MAX_ECC_KEY_BYTES];
        let qx_padded = qx_padded.get_mut(..curve.size()).ok_or(TpmRc::FAILURE)?;
        let off = curve
            .size()
            .checked_sub(qx.len())
            .ok_or(TpmRc::ECC_POINT.at_param(2))?;
        qx_padded
            .get_mut(off..)
            .ok_or(TpmRc::FAILURE)?
            .copy_from_slice(qx);
        let mut salt = Secret::<MAX_DIGEST>::zeroed(name_alg.size()).ok_or(TpmRc::FAILURE)?;
        kdfe(
            name_alg,
            z.expose(),
            b"SECRET",
            qx_padded,
            x.as_slice(),
            salt.expose_mut(),
        )
        .ok_or(TpmRc::FAILURE)?;
        Ok(salt)
    }

    /// Whether `handle` is a loaded RSA key.
    fn rsa_key(&self, handle: u32) -> bool {
        matches!(
            self.objects.get(handle),
            Some(Object::Key(k)) if matches!(k.public.kind, PublicKind::Rsa { .. })
        )
    }

    /// The salt of a session salted with the RSA key `tpm_key` (Part 1 Annex B.10.3): the
    /// OAEP decryption of encryptedSalt with the label "SECRET\0". The key must have its
    /// private part (TPM_RC_HANDLE) and be a decryption key (TPM_RC_ATTRIBUTES), both at
    /// handle 1, checked in the reference's order; any decryption failure is TPM_RC_VALUE at parameter 2, as in the reference
    /// implementation (no detail for a padding oracle).
    fn rsa_salt(&mut self, tpm_key: u32, encrypted: &[u8]) -> TpmResult<Secret<MAX_DIGEST>> {
        let mut drbg = self.rsa_drbg()?;
        let Some(Object::Key(k)) = self.objects.get(tpm_key) else {
            return Err(TpmRc::HANDLE.at_handle(1));
        };
        if encrypted.is_empty() {
            return Err(TpmRc::VALUE.at_param(2));
        }
        if k.public_only {
            return Err(TpmRc::HANDLE.at_handle(1));
        }
        if !k.public.attrs.has(ObjectAttrs::DECRYPT) {
            return Err(TpmRc::ATTRIBUTES.at_handle(1));
        }
        crate::commands::rsa::rsa_secret_decrypt(&mut drbg, k, b"SECRET\0", encrypted)
            .map_err(|_| TpmRc::VALUE.at_param(2))
    }

    /// TPM2_StartAuthSession (Part 3 §11.1): HMAC, policy and trial sessions, bound and/or
    /// salted with an ECC or RSA key, with XOR or AES-CFB parameter encryption. The sessionKey is
    /// KDFa(authHash, bind.authValue ‖ salt, "ATH", nonceTPM, nonceCaller) when either is
    /// present, empty otherwise (Part 1 §19.6.8).
    pub(crate) fn start_auth_session(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<u32> {
        let nonce_caller = p.tpm2b(MAX_DIGEST)?;
        let encrypted_salt = p.tpm2b(crate::wire::types::MAX_BUFFER)?;
        let se = TpmSe(p.u8()?);
        let kind = SessionKind::from_se(se).ok_or(TpmRc::VALUE.at_param(3))?;
        let symmetric = p.next(read_session_sym)?;
        let auth_hash = p.next(read_hash)?;
        p.finish()?;
        // nonceCaller first, as the reference does: no private-key operation for a command that
        // fails anyway.
        if nonce_caller.len() < 16 || nonce_caller.len() > auth_hash.size() {
            return Err(TpmRc::SIZE.at_param(1));
        }
        let tpm_key = c.handle(0);
        let salt = if tpm_key == RH_NULL {
            if !encrypted_salt.is_empty() {
                return Err(TpmRc::VALUE.at_param(2));
            }
            None
        } else if self.rsa_key(tpm_key) {
            Some(self.rsa_salt(tpm_key, encrypted_salt)?)
        } else {
            Some(self.ecc_salt(tpm_key, encrypted_salt)?)
        };
        let bind = c.handle(1);
        // An object loaded without its sensitive area has no authValue to bind to: a
        // public-only copy of someone's key must not stand in for it (as the reference
        // implementation: TPM_RC_HANDLE at bind).
        if matches!(self.objects.get(bind), Some(Object::Key(k)) if k.public_only) {
            return Err(TpmRc::HANDLE.at_handle(2));
        }
        let bind_auth = if bind == RH_NULL {
            None
        } else {
            let mut a = self.entity_auth(bind).ok_or(TpmRc::HANDLE.at_handle(2))?;
            a.strip_trailing_zeros();
            Some(a)
        };
        // No room (the reference's SessionCreate, after the parameter checks): every slot
        // holding a loaded session is TPM_RC_SESSION_MEMORY (a resource manager may save one
        // and retry); otherwise saved sessions hold the slots, and saving more frees nothing
        // here (a saved session keeps its slot): TPM_RC_SESSION_HANDLES, a session must be
        // flushed (Part 2 §6.6.3).
        if !self.sessions.has_free() {
            return Err(if self.sessions.loaded() == MAX_SESSIONS {
                TpmRc::SESSION_MEMORY
            } else {
                TpmRc::SESSION_HANDLES
            });
        }
        let mut nonce_tpm = Nonce::zeroed(auth_hash.size()).ok_or(TpmRc::FAILURE)?;
        self.random(nonce_tpm.as_mut_slice())?;
        let session_key = if bind_auth.is_none() && salt.is_none() {
            Secret::EMPTY
        } else {
            let mut secret = Secret::<{ 2 * MAX_DIGEST }>::EMPTY;
            if let Some(a) = &bind_auth {
                secret.extend(a.expose()).ok_or(TpmRc::FAILURE)?;
            }
            if let Some(s) = &salt {
                secret.extend(s.expose()).ok_or(TpmRc::FAILURE)?;
            }
            let mut k = Secret::<MAX_DIGEST>::zeroed(auth_hash.size()).ok_or(TpmRc::FAILURE)?;
            kdfa(
                auth_hash,
                secret.expose(),
                b"ATH",
                nonce_tpm.as_slice(),
                nonce_caller,
                k.expose_mut(),
            )
            .ok_or(TpmRc::FAILURE)?;
            k
        };
        let session = Session {
            kind,
            auth_hash,
            nonce_tpm,
            session_key,
            // Only an HMAC session is bound for its HMAC (Part 1 §19.6.10); any session bound
            // to a DA-protected entity is subject to DA (its sessionKey holds that authValue).
            bound: (bind != RH_NULL && kind == SessionKind::Hmac).then(|| self.bind_value(bind)),
            da_bound: bind != RH_NULL && !self.da_exempt(bind),
            lockout_bound: bind == RH_LOCKOUT,
            policy_digest: Digest::zeroed(auth_hash.size()).ok_or(TpmRc::FAILURE)?,
            policy: PolicyState::default(),
            start_ms: self.clock.time(),
            audit_digest: None,
            symmetric,
            saved: None,
        };
        w.tpm2b(nonce_tpm.as_slice())?;
        self.sessions.insert(session).ok_or(TpmRc::SESSION_MEMORY)
    }
}
