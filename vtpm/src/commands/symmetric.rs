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

/// TPMI_ALG_CIPHER_MODE+ (Part 2 §9.29): CTR, OFB, CBC, CFB, ECB or NULL (`None`), else
/// TPM_RC_MODE.
fn read_mode(r: &mut crate::wire::Reader<'_>) -> TpmResult<Option<SymMode>> {
    match TpmAlgId(r.u16()?) {
        TpmAlgId::NULL => Ok(None),
        m => SymMode::from_alg(m.0).map(Some).ok_or(TpmRc::MODE),
    }
}

/// TPMI_YES_NO (Part 2 §9.2): 0 or 1, else TPM_RC_VALUE.
fn read_yes_no(r: &mut crate::wire::Reader<'_>) -> TpmResult<bool> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(TpmRc::VALUE),
    }
}

/// The parameters of TPM2_EncryptDecrypt / TPM2_EncryptDecrypt2 and where each is in the
/// command (its parameter number), for the response codes.
struct EncryptDecryptIn<'a> {
    decrypt: bool,
    mode: Option<SymMode>,
    iv: &'a [u8],
    data: &'a [u8],
    /// Parameter numbers of mode, ivIn and inData.
    pos: [u8; 3],
}

impl<P: Platform> Tpm<P> {
    /// TPM2_EncryptDecrypt (Part 3 §15.2): `decrypt ‖ mode ‖ ivIn ‖ inData`.
    pub(crate) fn encrypt_decrypt(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let decrypt = p.next(read_yes_no)?;
        let mode = p.next(read_mode)?;
        let iv = p.tpm2b(AES_BLOCK)?;
        let data = p.tpm2b(MAX_BUFFER)?;
        p.finish()?;
        let args = EncryptDecryptIn {
            decrypt,
            mode,
            iv,
            data,
            pos: [2, 3, 4],
        };
        self.encrypt_decrypt_shared(c, &args, w)
    }

    /// TPM2_EncryptDecrypt2 (Part 3 §15.3): `inData ‖ decrypt ‖ mode ‖ ivIn`, inData first so
    /// that a session can encrypt it.
    pub(crate) fn encrypt_decrypt2(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let data = p.tpm2b(MAX_BUFFER)?;
        let decrypt = p.next(read_yes_no)?;
        let mode = p.next(read_mode)?;
        let iv = p.tpm2b(AES_BLOCK)?;
        p.finish()?;
        let args = EncryptDecryptIn {
            decrypt,
            mode,
            iv,
            data,
            pos: [3, 4, 1],
        };
        self.encrypt_decrypt_shared(c, &args, w)
    }

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
    fn encrypt_decrypt_shared(
        &mut self,
        c: &Cmd,
        args: &EncryptDecryptIn<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        let [mode_pos, iv_pos, data_pos] = args.pos;
        let k = self.key(c, 0)?;
        let PublicKind::SymCipher { sym, .. } = k.public.kind else {
            return Err(TpmRc::KEY.at_handle(1));
        };
        let key_mode = sym.aes().ok_or(TpmRc::KEY.at_handle(1))?.1;
        let a = k.public.attrs;
        let allowed = if args.decrypt {
            a.has(ObjectAttrs::DECRYPT)
        } else {
            a.has(ObjectAttrs::SIGN)
        };
        if a.has(ObjectAttrs::RESTRICTED) || !allowed {
            return Err(TpmRc::ATTRIBUTES.at_handle(1));
        }
        let mode = match (key_mode, args.mode) {
            (Some(km), Some(m)) if m != km => return Err(TpmRc::MODE.at_param(mode_pos)),
            (Some(km), _) => km,
            (None, Some(m)) => m,
            (None, None) => return Err(TpmRc::MODE.at_param(mode_pos)),
        };
        let iv_len = if mode == SymMode::Ecb { 0 } else { AES_BLOCK };
        if args.iv.len() != iv_len {
            return Err(TpmRc::SIZE.at_param(iv_pos));
        }
        if matches!(mode, SymMode::Cbc | SymMode::Ecb) && !args.data.len().is_multiple_of(AES_BLOCK)
        {
            return Err(TpmRc::SIZE.at_param(data_pos));
        }
        if k.public_only {
            return Err(TpmRc::KEY.at_handle(1));
        }
        let mut iv = [0u8; AES_BLOCK];
        iv.iter_mut().zip(args.iv).for_each(|(o, i)| *o = *i);
        // Plaintext on one side or the other: wiped when dropped.
        let mut buf = Secret::<MAX_BUFFER>::from_slice(args.data).ok_or(TpmRc::FAILURE)?;
        aes_mode(
            k.sensitive.expose(),
            mode,
            args.decrypt,
            &mut iv,
            buf.expose_mut(),
        )
        .ok_or(TpmRc::FAILURE)?;
        w.tpm2b(buf.expose())?;
        w.tpm2b(iv.get(..iv_len).ok_or(TpmRc::FAILURE)?)?;
        Ok(())
    }
}
