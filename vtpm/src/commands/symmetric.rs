//! Symmetric cipher keys (TPM_ALG_SYMCIPHER, Part 1 §27.7; Part 2 §12.2.3.7) and the
//! symmetric primitives of Part 3 §15: TPM2_EncryptDecrypt and TPM2_EncryptDecrypt2.
//!
//! A symmetric cipher key is an AES-128 or AES-256 key. Its sensitive part is the key and a
//! seedValue of the nameAlg's digest size; its unique field binds both (the reference
//! implementation's CryptComputeSymmetricUnique): `H_nameAlg(seedValue ‖ key)`, or
//! `HMAC_nameAlg(seedValue, key)` for a storage parent (restricted decrypt), whose seedValue
//! also protects its children as an asymmetric parent's does.

use crate::Tpm;
use crate::crypto::hash::HashAlg;
use crate::crypto::hmac::hmac;
use crate::crypto::sym::{AES_BLOCK, AesKeyBits, SymMode, aes_mode};
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::wire::Writer;
use crate::wire::constants::TpmAlgId;
use crate::wire::public::{ObjectAttrs, Public, PublicKind};
use crate::wire::types::{Digest, MAX_BUFFER, Secret};

/// The AES key size of a symmetric cipher key's public area (`None` for other types).
pub(crate) fn sym_key_bits(public: &Public) -> Option<AesKeyBits> {
    match public.kind {
        PublicKind::SymCipher { sym, .. } => AesKeyBits::from_bits(sym.aes()?.0),
        _ => None,
    }
}

/// The unique field of a symmetric cipher key (Part 1 §27.7; the reference's
/// CryptComputeSymmetricUnique): `HMAC_nameAlg(seedValue, key)` for a storage parent
/// (restricted decrypt), `H_nameAlg(seedValue ‖ key)` otherwise.
pub(crate) fn sym_unique(public: &Public, name_alg: HashAlg, seed: &[u8], key: &[u8]) -> Digest {
    let a = public.attrs;
    if a.has(ObjectAttrs::RESTRICTED) && a.has(ObjectAttrs::DECRYPT) {
        hmac(name_alg, seed, &[key])
    } else {
        name_alg.digest(&[seed, key])
    }
}

/// How many key bytes the TPM makes for a new keyed-hash or symmetric cipher object, 0 when
/// the caller's data is the key or the sealed data (Part 1 §27.2.6, §27.7; the reference's
/// CryptGenerateKeyedHash / CryptGenerateKeySymmetric). Keyed hash: an HMAC key without data
/// gets a digest of its hash, the caller's at most a hash block (TPM_RC_SIZE at parameter 1);
/// XOR decryption keys are not offered (TPM_RC_TYPE at parameter 2). Symmetric: with
/// sensitiveDataOrigin a key of keyBits / 8 bytes, else the caller's of exactly that size
/// (TPM_RC_KEY_SIZE, unpositioned as the reference answers).
pub(crate) fn generated_key_len(template: &Public, data: &[u8]) -> TpmResult<usize> {
    let a = template.attrs;
    match template.kind {
        PublicKind::SymCipher { .. } => {
            let bytes = sym_key_bits(template).ok_or(TpmRc::FAILURE)?.key_bytes();
            if a.has(ObjectAttrs::SENSITIVE_DATA_ORIGIN) {
                Ok(bytes)
            } else if data.len() == bytes {
                Ok(0)
            } else {
                Err(TpmRc::KEY_SIZE)
            }
        }
        PublicKind::KeyedHash { scheme, .. } => {
            if a.has(ObjectAttrs::DECRYPT) {
                return Err(TpmRc::TYPE.at_param(2));
            }
            let hash =
                crate::wire::public::keyed_hash_alg(scheme, template.name_alg.ok_or(TpmRc::HASH)?);
            let sign = a.has(ObjectAttrs::SIGN);
            if sign && data.len() > hash.block_size() {
                return Err(TpmRc::SIZE.at_param(1));
            }
            Ok(if sign && data.is_empty() {
                hash.size()
            } else {
                0
            })
        }
        _ => Err(TpmRc::FAILURE),
    }
}

/// The sensitive part of a symmetric cipher key checked against its public area (the
/// reference's CryptValidateKeys): a key of exactly keyBits / 8 bytes and a seedValue of the
/// nameAlg's digest size (TPM_RC_KEY_SIZE at `sens_param`), then the binding of both to the
/// unique field (TPM_RC_BINDING, unpositioned as the reference answers).
pub(crate) fn check_sym_private(
    public: &Public,
    seed: &[u8],
    key: &[u8],
    sens_param: u8,
) -> TpmResult<()> {
    let name_alg = public.name_alg.ok_or(TpmRc::HASH)?;
    let bits = sym_key_bits(public).ok_or(TpmRc::TYPE)?;
    if key.len() != bits.key_bytes() || seed.len() != name_alg.size() {
        return Err(TpmRc::KEY_SIZE.at_param(sens_param));
    }
    let PublicKind::SymCipher { unique, .. } = &public.kind else {
        return Err(TpmRc::TYPE);
    };
    if sym_unique(public, name_alg, seed, key) != *unique {
        return Err(TpmRc::BINDING);
    }
    Ok(())
}

impl<P: Platform> Tpm<P> {
    /// TPM2_EncryptDecrypt (Part 3 §15.2: `decrypt ‖ mode ‖ ivIn ‖ inData`) and, with `two`,
    /// TPM2_EncryptDecrypt2 (Part 3 §15.3: `inData ‖ decrypt ‖ mode ‖ ivIn`, inData first so
    /// that a session can encrypt it); each reports errors at its own parameter numbers.
    /// decrypt is a TPMI_YES_NO (0 or 1, else TPM_RC_VALUE), mode a TPMI_ALG_CIPHER_MODE+
    /// (an implemented mode or NULL, else TPM_RC_MODE).
    ///
    /// The checks and the operation of Part 3 §15.2.1, in the reference implementation's
    /// order (EncryptDecryptShared):
    ///
    /// - the key is a symmetric cipher key (TPM_RC_KEY at handle 1), unrestricted and with
    ///   `decrypt` to decrypt, `sign` to encrypt (TPM_RC_ATTRIBUTES at handle 1);
    /// - the mode is the key's, or the command's if the key has none: a command mode that
    ///   differs from the key's, or none at all, is TPM_RC_MODE at `mode`;
    /// - ivIn is empty for ECB and one block otherwise (TPM_RC_SIZE at ivIn);
    /// - CBC and ECB take whole blocks (TPM_RC_SIZE at inData).
    ///
    /// Response: `outData ‖ ivOut`, ivOut the chaining value for a next call
    /// ([`aes_mode`]).
    pub(crate) fn encrypt_decrypt(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
        two: bool,
    ) -> TpmResult<()> {
        let mut data: &[u8] = &[];
        if two {
            data = p.tpm2b(MAX_BUFFER)?;
        }
        let decrypt = match p.u8()? {
            0 => false,
            1 => true,
            _ => return Err(TpmRc::VALUE.at_param(p.index())),
        };
        let mode = match TpmAlgId(p.u16()?) {
            TpmAlgId::NULL => None,
            m => Some(SymMode::from_alg(m.0).ok_or(TpmRc::MODE.at_param(p.index()))?),
        };
        let iv_in = p.tpm2b(AES_BLOCK)?;
        if !two {
            data = p.tpm2b(MAX_BUFFER)?;
        }
        p.finish()?;
        let [mode_pos, iv_pos, data_pos] = if two { [3, 4, 1] } else { [2, 3, 4] };
        let k = self.key(c, 0)?;
        let PublicKind::SymCipher { sym, .. } = k.public.kind else {
            return Err(TpmRc::KEY.at_handle(1));
        };
        let key_mode = sym.aes().ok_or(TpmRc::KEY.at_handle(1))?.1;
        let a = k.public.attrs;
        let allowed = if decrypt {
            a.has(ObjectAttrs::DECRYPT)
        } else {
            a.has(ObjectAttrs::SIGN)
        };
        if a.has(ObjectAttrs::RESTRICTED) || !allowed {
            return Err(TpmRc::ATTRIBUTES.at_handle(1));
        }
        let mode = match (key_mode, mode) {
            (Some(km), Some(m)) if m != km => return Err(TpmRc::MODE.at_param(mode_pos)),
            (Some(km), _) => km,
            (None, Some(m)) => m,
            (None, None) => return Err(TpmRc::MODE.at_param(mode_pos)),
        };
        let iv_len = if mode == SymMode::Ecb { 0 } else { AES_BLOCK };
        if iv_in.len() != iv_len {
            return Err(TpmRc::SIZE.at_param(iv_pos));
        }
        if matches!(mode, SymMode::Cbc | SymMode::Ecb) && !data.len().is_multiple_of(AES_BLOCK) {
            return Err(TpmRc::SIZE.at_param(data_pos));
        }
        if k.public_only {
            return Err(TpmRc::KEY.at_handle(1));
        }
        let mut iv = [0u8; AES_BLOCK];
        iv.iter_mut().zip(iv_in).for_each(|(o, i)| *o = *i);
        // Plaintext on one side or the other: wiped when dropped.
        let mut buf = Secret::<MAX_BUFFER>::from_slice(data).ok_or(TpmRc::FAILURE)?;
        aes_mode(
            k.sensitive.expose(),
            mode,
            decrypt,
            &mut iv,
            buf.expose_mut(),
        )
        .ok_or(TpmRc::FAILURE)?;
        w.tpm2b(buf.expose())?;
        w.tpm2b(iv.get(..iv_len).ok_or(TpmRc::FAILURE)?)?;
        Ok(())
    }
}
