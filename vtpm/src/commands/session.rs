//! Session commands (Part 3 §11).

use crate::Tpm;
use crate::crypto::kdf::kdfa;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::state::session::{Session, SessionKind};
use crate::wire::Writer;
use crate::wire::constants::handle::RH_NULL;
use crate::wire::constants::{TpmAlgId, TpmSe};
use crate::wire::types::{Digest, MAX_DIGEST, Nonce, Secret, read_hash};

impl<P: Platform> Tpm<P> {
    /// TPM2_StartAuthSession (Part 3 §11.1): unsalted sessions, bound or unbound. The
    /// sessionKey is KDFa(authHash, bind.authValue, "ATH", nonceTPM, nonceCaller) for a bound
    /// session and empty otherwise (Part 1 §19.6.8). Salted sessions (tpmKey) and session
    /// symmetric algorithms are not offered: a tpmKey is TPM_RC_HANDLE / TPM_RC_VALUE, a
    /// symmetric other than TPM_ALG_NULL is TPM_RC_SYMMETRIC.
    pub(crate) fn start_auth_session(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<u32> {
        let nonce_caller = p.tpm2b(MAX_DIGEST)?;
        let salt = p.tpm2b(crate::wire::types::MAX_BUFFER)?;
        let se = TpmSe(p.u8()?);
        let kind = SessionKind::from_se(se).ok_or(TpmRc::VALUE.at_param(3))?;
        p.next(|r| {
            let alg = TpmAlgId(r.u16()?);
            if alg == TpmAlgId::NULL {
                Ok(())
            } else {
                Err(TpmRc::SYMMETRIC)
            }
        })?;
        let auth_hash = p.next(read_hash)?;
        p.finish()?;
        if c.handle(0) != RH_NULL {
            // Only asymmetric decrypt keys can salt a session; none can be loaded yet.
            return Err(TpmRc::ATTRIBUTES.at_handle(1));
        }
        if !salt.is_empty() {
            return Err(TpmRc::VALUE.at_param(2));
        }
        if nonce_caller.len() < 16 || nonce_caller.len() > auth_hash.size() {
            return Err(TpmRc::SIZE.at_param(1));
        }
        if !self.sessions.has_free() {
            return Err(TpmRc::SESSION_MEMORY);
        }
        let bind = c.handle(1);
        let bind_auth = if bind == RH_NULL {
            None
        } else {
            let mut a = self.entity_auth(bind).ok_or(TpmRc::HANDLE.at_handle(2))?;
            a.strip_trailing_zeros();
            Some(a)
        };
        let mut nonce_tpm = Nonce::zeroed(auth_hash.size()).ok_or(TpmRc::FAILURE)?;
        self.random(nonce_tpm.as_mut_slice())?;
        let session_key = match &bind_auth {
            None => Secret::EMPTY,
            Some(a) => {
                let mut k = Secret::<MAX_DIGEST>::zeroed(auth_hash.size()).ok_or(TpmRc::FAILURE)?;
                kdfa(
                    auth_hash,
                    a.expose(),
                    b"ATH",
                    nonce_tpm.as_slice(),
                    nonce_caller,
                    k.expose_mut(),
                )
                .ok_or(TpmRc::FAILURE)?;
                k
            }
        };
        let session = Session {
            kind,
            auth_hash,
            nonce_tpm,
            session_key,
            bind_name: bind_auth.map(|_| self.entity_name(bind)),
            policy_digest: Digest::zeroed(auth_hash.size()).ok_or(TpmRc::FAILURE)?,
            saved: None,
        };
        w.tpm2b(nonce_tpm.as_slice())?;
        self.sessions.insert(session).ok_or(TpmRc::SESSION_MEMORY)
    }
}
