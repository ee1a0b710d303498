//! TPMT_PUBLIC and its parts for the object types this TPM implements: ECC, KEYEDHASH, SYMCIPHER and,
//! with the `rsa` feature, RSA (Part 2 §12.2). Parsing checks only what Part 2 says about the wire form (selectors, sizes);
//! the semantic attribute and scheme rules of Part 1 §27 live in [`Public::validate`].

use super::constants::TpmAlgId;
use super::types::{Digest, MAX_DIGEST, Name, read_hash, read_hash_or_null};
use super::{Reader, WireError, Writer};
use crate::crypto::hash::HashAlg;
use crate::crypto::sym::{AesKeyBits, SymMode};
use crate::error::{TpmRc, TpmResult};

/// Largest ECC coordinate (P-384).
pub const MAX_ECC_KEY_BYTES: usize = 48;
/// An ECC coordinate or parameter (TPM2B_ECC_PARAMETER, Part 2 §11.2.5.1).
pub type EccParameter = super::types::Buf<MAX_ECC_KEY_BYTES>;

/// Largest RSA modulus (MAX_RSA_KEY_BYTES): RSA-2048 with the `rsa` feature. Without it no RSA
/// object exists and the buffer takes no room in the object slots.
pub const MAX_RSA_KEY_BYTES: usize = if cfg!(feature = "rsa") { 256 } else { 0 };
/// An RSA modulus or RSA signature / ciphertext (TPM2B_PUBLIC_KEY_RSA, Part 2 §11.2.4.5).
pub type RsaModulus = super::types::Buf<MAX_RSA_KEY_BYTES>;
/// The only RSA key size implemented (TPMI_RSA_KEY_BITS, Part 2 §11.2.4.6).
pub const RSA_KEY_BITS: u16 = 2048;

/// TPMA_OBJECT (Part 2 §8.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectAttrs(pub u32);

impl ObjectAttrs {
    /// fixedTPM.
    pub const FIXED_TPM: u32 = 0x2;
    /// stClear.
    pub const ST_CLEAR: u32 = 0x4;
    /// fixedParent.
    pub const FIXED_PARENT: u32 = 0x10;
    /// sensitiveDataOrigin.
    pub const SENSITIVE_DATA_ORIGIN: u32 = 0x20;
    /// userWithAuth.
    pub const USER_WITH_AUTH: u32 = 0x40;
    /// adminWithPolicy.
    pub const ADMIN_WITH_POLICY: u32 = 0x80;
    /// noDA.
    pub const NO_DA: u32 = 0x400;
    /// encryptedDuplication.
    pub const ENCRYPTED_DUPLICATION: u32 = 0x800;
    /// restricted.
    pub const RESTRICTED: u32 = 0x1_0000;
    /// decrypt.
    pub const DECRYPT: u32 = 0x2_0000;
    /// sign / encrypt.
    pub const SIGN: u32 = 0x4_0000;
    /// x509sign.
    pub const X509_SIGN: u32 = 0x8_0000;
    /// Reserved bits of Part 2 §8.3.2 (0, 3, 8, 9, 12-15, 20-31): TPM_RC_RESERVED_BITS when a
    /// TPMA_OBJECT is unmarshaled, as the reference implementation answers.
    pub const RESERVED: u32 = 0xFFF0_F309;
    /// Bits that are defined but not implemented here (x509sign): TPM_RC_ATTRIBUTES from
    /// [`Public::validate`].
    pub const UNSUPPORTED: u32 = Self::X509_SIGN;

    /// Whether `bit` is set.
    pub const fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
}

/// TPMT_SYM_DEF_OBJECT (Part 2 §11.1.7): AES-CFB or NULL; a symmetric cipher key's may also
/// have another mode or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymDef {
    /// TPM_ALG_NULL.
    Null,
    /// AES in CFB mode with 128- or 256-bit keys.
    AesCfb {
        /// Key size in bits.
        key_bits: u16,
    },
    /// AES in a mode other than CFB, or with mode TPM_ALG_NULL (`None`): only the
    /// TPMS_SYMCIPHER_PARMS of a symmetric cipher key (Part 2 §12.2.3.7) carry one.
    Aes {
        /// Key size in bits.
        key_bits: u16,
        /// The mode (never CFB: that is [`SymDef::AesCfb`]).
        mode: Option<SymMode>,
    },
}

impl SymDef {
    /// Unmarshal; unknown algorithms are TPM_RC_SYMMETRIC, bad key sizes TPM_RC_VALUE,
    /// modes other than CFB TPM_RC_MODE.
    pub fn unmarshal(r: &mut Reader<'_>) -> TpmResult<Self> {
        match TpmAlgId(r.u16()?) {
            TpmAlgId::NULL => Ok(Self::Null),
            TpmAlgId::AES => {
                let key_bits = r.u16()?;
                if key_bits != 128 && key_bits != 256 {
                    // TPMI_AES_KEY_BITS: an unsupported size is TPM_RC_VALUE (as libtpms answers).
                    return Err(TpmRc::VALUE);
                }
                if TpmAlgId(r.u16()?) != TpmAlgId::CFB {
                    return Err(TpmRc::MODE);
                }
                Ok(Self::AesCfb { key_bits })
            }
            _ => Err(TpmRc::SYMMETRIC),
        }
    }

    /// Unmarshal the TPMT_SYM_DEF_OBJECT of TPMS_SYMCIPHER_PARMS (Part 2 §12.2.3.7), where
    /// TPM_ALG_NULL is not an algorithm (TPM_RC_SYMMETRIC, as other unknown algorithms) and
    /// the mode is any of TPMI_ALG_SYM_MODE+ (else TPM_RC_MODE); bad key sizes TPM_RC_VALUE.
    pub fn unmarshal_symcipher(r: &mut Reader<'_>) -> TpmResult<Self> {
        if TpmAlgId(r.u16()?) != TpmAlgId::AES {
            return Err(TpmRc::SYMMETRIC);
        }
        let key_bits = r.u16()?;
        if AesKeyBits::from_bits(key_bits).is_none() {
            return Err(TpmRc::VALUE);
        }
        let mode = match TpmAlgId(r.u16()?) {
            TpmAlgId::NULL => None,
            m => Some(SymMode::from_alg(m.0).ok_or(TpmRc::MODE)?),
        };
        Ok(match mode {
            Some(SymMode::Cfb) => Self::AesCfb { key_bits },
            mode => Self::Aes { key_bits, mode },
        })
    }

    /// The AES key size and mode (`None`: TPM_ALG_NULL), unless the algorithm is NULL.
    pub fn aes(&self) -> Option<(u16, Option<SymMode>)> {
        match *self {
            Self::Null => None,
            Self::AesCfb { key_bits } => Some((key_bits, Some(SymMode::Cfb))),
            Self::Aes { key_bits, mode } => Some((key_bits, mode)),
        }
    }

    /// Marshal.
    pub fn marshal(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        match self.aes() {
            None => w.u16(TpmAlgId::NULL.0),
            Some((key_bits, mode)) => {
                w.u16(TpmAlgId::AES.0)?;
                w.u16(key_bits)?;
                w.u16(mode.map_or(TpmAlgId::NULL.0, SymMode::alg))
            }
        }
    }
}

/// A signing, key-exchange, decryption or keyed-hash scheme: TPMT_ECC_SCHEME /
/// TPMT_RSA_SCHEME / TPMT_RSA_DECRYPT / TPMT_KEYEDHASH_SCHEME / TPMT_SIG_SCHEME (Part 2 §11.2).
/// Only the schemes this TPM implements are representable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// TPM_ALG_NULL.
    Null,
    /// ECDSA with a hash.
    Ecdsa(HashAlg),
    /// ECDH with a hash (for the KDF of the key exchange).
    Ecdh(HashAlg),
    /// ECDAA (TPMS_SCHEME_ECDAA, Part 2 §11.2.3.2): hashAlg and count, the commit counter
    /// value of TPM2_Commit (Part 1 §C).
    Ecdaa(HashAlg, u16),
    /// HMAC with a hash.
    Hmac(HashAlg),
    /// RSASSA-PKCS1-v1_5 with a hash.
    RsaSsa(HashAlg),
    /// RSASSA-PSS with a hash.
    RsaPss(HashAlg),
    /// RSAES-OAEP with a hash.
    Oaep(HashAlg),
    /// RSAES-PKCS1-v1_5 (no hash).
    RsaEs,
}

impl Scheme {
    /// Unmarshal an ECC or keyed-hash scheme; unimplemented schemes are TPM_RC_SCHEME
    /// (TPMI_ALG_ECC_SCHEME, Part 2 §11.2.5.4).
    pub fn unmarshal(r: &mut Reader<'_>) -> TpmResult<Self> {
        match TpmAlgId(r.u16()?) {
            TpmAlgId::NULL => Ok(Self::Null),
            TpmAlgId::ECDSA => Ok(Self::Ecdsa(read_hash(r)?)),
            TpmAlgId::ECDH => Ok(Self::Ecdh(read_hash(r)?)),
            TpmAlgId::ECDAA if cfg!(feature = "ecdaa") => Ok(Self::Ecdaa(read_hash(r)?, r.u16()?)),
            TpmAlgId::HMAC => Ok(Self::Hmac(read_hash(r)?)),
            _ => Err(TpmRc::SCHEME),
        }
    }

    /// Unmarshal a TPMT_RSA_SCHEME (Part 2 §11.2.4.2): TPMI_ALG_RSA_SCHEME answers
    /// TPM_RC_VALUE for anything but RSASSA, RSAPSS, RSAES, OAEP and NULL.
    pub fn unmarshal_rsa(r: &mut Reader<'_>) -> TpmResult<Self> {
        match TpmAlgId(r.u16()?) {
            TpmAlgId::NULL => Ok(Self::Null),
            TpmAlgId::RSASSA => Ok(Self::RsaSsa(read_hash(r)?)),
            TpmAlgId::RSAPSS => Ok(Self::RsaPss(read_hash(r)?)),
            TpmAlgId::OAEP => Ok(Self::Oaep(read_hash(r)?)),
            TpmAlgId::RSAES => Ok(Self::RsaEs),
            _ => Err(TpmRc::VALUE),
        }
    }

    /// Unmarshal a TPMT_RSA_DECRYPT (Part 2 §11.2.4.4): RSAES, OAEP or NULL, else
    /// TPM_RC_VALUE (TPMI_ALG_RSA_DECRYPT).
    pub fn unmarshal_rsa_decrypt(r: &mut Reader<'_>) -> TpmResult<Self> {
        match TpmAlgId(r.u16()?) {
            TpmAlgId::NULL => Ok(Self::Null),
            TpmAlgId::OAEP => Ok(Self::Oaep(read_hash(r)?)),
            TpmAlgId::RSAES => Ok(Self::RsaEs),
            _ => Err(TpmRc::VALUE),
        }
    }

    /// Marshal.
    pub fn marshal(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        let (alg, hash) = match self {
            Self::Null => return w.u16(TpmAlgId::NULL.0),
            Self::RsaEs => return w.u16(TpmAlgId::RSAES.0),
            Self::Ecdsa(h) => (TpmAlgId::ECDSA, h),
            Self::Ecdh(h) => (TpmAlgId::ECDH, h),
            Self::Hmac(h) => (TpmAlgId::HMAC, h),
            Self::RsaSsa(h) => (TpmAlgId::RSASSA, h),
            Self::RsaPss(h) => (TpmAlgId::RSAPSS, h),
            Self::Oaep(h) => (TpmAlgId::OAEP, h),
            Self::Ecdaa(h, count) => {
                w.u16(TpmAlgId::ECDAA.0)?;
                w.u16(h.alg_id().0)?;
                return w.u16(*count);
            }
        };
        w.u16(alg.0)?;
        w.u16(hash.alg_id().0)
    }
}

/// The type-specific parameters and unique field (TPMU_PUBLIC_PARMS, TPMU_PUBLIC_ID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicKind {
    /// TPM_ALG_ECC: TPMS_ECC_PARMS ‖ TPMS_ECC_POINT.
    Ecc {
        /// symmetric (for storage parents).
        symmetric: SymDef,
        /// scheme.
        scheme: Scheme,
        /// curveID (TPM_ECC_CURVE), checked by [`Public::validate`].
        curve: u16,
        /// kdf (only TPM_ALG_NULL is implemented).
        kdf: u16,
        /// unique.x.
        x: EccParameter,
        /// unique.y.
        y: EccParameter,
    },
    /// TPM_ALG_RSA: TPMS_RSA_PARMS ‖ TPM2B_PUBLIC_KEY_RSA (Part 2 §12.2.3.5).
    Rsa {
        /// symmetric (for storage parents).
        symmetric: SymDef,
        /// scheme (TPMT_RSA_SCHEME).
        scheme: Scheme,
        /// keyBits (only 2048).
        key_bits: u16,
        /// exponent (0 = 2^16 + 1).
        exponent: u32,
        /// unique: the modulus n.
        n: RsaModulus,
    },
    /// TPM_ALG_SYMCIPHER: TPMS_SYMCIPHER_PARMS ‖ TPM2B_DIGEST (Part 2 §12.2.3.7; Part 1
    /// §27.7): an AES key for TPM2_EncryptDecrypt, or a storage parent if restricted decrypt.
    SymCipher {
        /// sym (TPMT_SYM_DEF_OBJECT, never NULL).
        sym: SymDef,
        /// unique: H(seedValue ‖ key), or HMAC(seedValue, key) for a storage parent, once
        /// created.
        unique: Digest,
    },
    /// TPM_ALG_KEYEDHASH: TPMS_KEYEDHASH_PARMS ‖ TPM2B_DIGEST.
    KeyedHash {
        /// scheme (HMAC or NULL).
        scheme: Scheme,
        /// unique: H(seedValue ‖ sensitive) once created.
        unique: Digest,
    },
}

impl PublicKind {
    /// Unmarshal the TPMU_PUBLIC_PARMS of `ty` (Part 2 §12.2.3.7), with an empty unique
    /// field: what TPM2_TestParms checks and what TPMT_PUBLIC carries before its unique field.
    /// An unimplemented type is TPM_RC_TYPE, an unimplemented curve TPM_RC_CURVE
    /// (TPMI_ECC_CURVE), a KDF other than NULL TPM_RC_KDF, an RSA key size other than 2048
    /// or an RSA scheme outside TPMI_ALG_RSA_SCHEME TPM_RC_VALUE.
    pub fn unmarshal_parms(ty: TpmAlgId, r: &mut Reader<'_>) -> TpmResult<Self> {
        Ok(match ty {
            TpmAlgId::ECC => {
                let symmetric = SymDef::unmarshal(r)?;
                let scheme = Scheme::unmarshal(r)?;
                let curve = r.u16()?;
                if crate::crypto::ecc::Curve::from_id(curve).is_none() {
                    return Err(TpmRc::CURVE);
                }
                let kdf = r.u16()?;
                if TpmAlgId(kdf) != TpmAlgId::NULL {
                    return Err(TpmRc::KDF);
                }
                PublicKind::Ecc {
                    symmetric,
                    scheme,
                    curve,
                    kdf,
                    x: EccParameter::EMPTY,
                    y: EccParameter::EMPTY,
                }
            }
            TpmAlgId::RSA if cfg!(feature = "rsa") => {
                let symmetric = SymDef::unmarshal(r)?;
                let scheme = Scheme::unmarshal_rsa(r)?;
                let key_bits = r.u16()?;
                if key_bits != RSA_KEY_BITS {
                    // TPMI_RSA_KEY_BITS: an unimplemented size is TPM_RC_VALUE.
                    return Err(TpmRc::VALUE);
                }
                let exponent = r.u32()?;
                PublicKind::Rsa {
                    symmetric,
                    scheme,
                    key_bits,
                    exponent,
                    n: RsaModulus::EMPTY,
                }
            }
            TpmAlgId::KEYEDHASH => PublicKind::KeyedHash {
                scheme: Scheme::unmarshal(r)?,
                unique: Digest::EMPTY,
            },
            TpmAlgId::SYMCIPHER => PublicKind::SymCipher {
                sym: SymDef::unmarshal_symcipher(r)?,
                unique: Digest::EMPTY,
            },
            _ => return Err(TpmRc::TYPE),
        })
    }
}

/// The hash of a keyed-hash key: its HMAC scheme's, else its nameAlg (Part 1 §27.2.6, as the
/// reference implementation sizes a generated HMAC key).
pub fn keyed_hash_alg(scheme: Scheme, name_alg: HashAlg) -> HashAlg {
    match scheme {
        Scheme::Hmac(h) => h,
        _ => name_alg,
    }
}

/// TPMT_PUBLIC (Part 2 §12.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Public {
    /// nameAlg (TPM_ALG_NULL is refused by validation).
    pub name_alg: Option<HashAlg>,
    /// objectAttributes.
    pub attrs: ObjectAttrs,
    /// authPolicy.
    pub auth_policy: Digest,
    /// Parameters and unique field.
    pub kind: PublicKind,
}

impl Public {
    /// Unmarshal a TPMT_PUBLIC. An unimplemented type is TPM_RC_TYPE, reserved TPMA_OBJECT
    /// bits TPM_RC_RESERVED_BITS (Part 2 §8.3), an unimplemented curve TPM_RC_CURVE
    /// (TPMI_ECC_CURVE, Part 2 §11.2.5.5): all found while unmarshaling, before any semantic
    /// check, as the reference implementation does.
    pub fn unmarshal(r: &mut Reader<'_>) -> TpmResult<Self> {
        let ty = TpmAlgId(r.u16()?);
        let name_alg = read_hash_or_null(r)?;
        let attrs = ObjectAttrs(r.u32()?);
        if attrs.0 & ObjectAttrs::RESERVED != 0 {
            return Err(TpmRc::RESERVED_BITS);
        }
        let auth_policy = Digest::from_slice(r.tpm2b(MAX_DIGEST)?).ok_or(TpmRc::SIZE)?;
        let mut kind = PublicKind::unmarshal_parms(ty, r)?;
        match &mut kind {
            PublicKind::Ecc { x, y, .. } => {
                *x = EccParameter::from_slice(r.tpm2b(MAX_ECC_KEY_BYTES)?).ok_or(TpmRc::SIZE)?;
                *y = EccParameter::from_slice(r.tpm2b(MAX_ECC_KEY_BYTES)?).ok_or(TpmRc::SIZE)?;
            }
            PublicKind::Rsa { n, .. } => {
                *n = RsaModulus::from_slice(r.tpm2b(MAX_RSA_KEY_BYTES)?).ok_or(TpmRc::SIZE)?;
            }
            PublicKind::KeyedHash { unique, .. } | PublicKind::SymCipher { unique, .. } => {
                *unique = Digest::from_slice(r.tpm2b(MAX_DIGEST)?).ok_or(TpmRc::SIZE)?;
            }
        }
        Ok(Self {
            name_alg,
            attrs,
            auth_policy,
            kind,
        })
    }

    /// Unmarshal a TPM2B_PUBLIC: the size must match the structure exactly (TPM_RC_SIZE).
    pub fn unmarshal_2b(r: &mut Reader<'_>) -> TpmResult<Self> {
        let bytes = r.tpm2b(crate::MAX_COMMAND_SIZE)?;
        if bytes.is_empty() {
            return Err(TpmRc::SIZE);
        }
        let mut inner = Reader::new(bytes);
        let p = Self::unmarshal(&mut inner)?;
        if !inner.is_empty() {
            return Err(TpmRc::SIZE);
        }
        Ok(p)
    }

    /// TPM_ALG_ID of the type.
    pub fn type_alg(&self) -> TpmAlgId {
        match self.kind {
            PublicKind::Ecc { .. } => TpmAlgId::ECC,
            PublicKind::Rsa { .. } => TpmAlgId::RSA,
            PublicKind::KeyedHash { .. } => TpmAlgId::KEYEDHASH,
            PublicKind::SymCipher { .. } => TpmAlgId::SYMCIPHER,
        }
    }

    /// Marshal a TPMT_PUBLIC.
    pub fn marshal(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        w.u16(self.type_alg().0)?;
        w.u16(self.name_alg.map_or(TpmAlgId::NULL, HashAlg::alg_id).0)?;
        w.u32(self.attrs.0)?;
        w.tpm2b(self.auth_policy.as_slice())?;
        match &self.kind {
            PublicKind::Ecc {
                symmetric,
                scheme,
                curve,
                kdf,
                x,
                y,
            } => {
                symmetric.marshal(w)?;
                scheme.marshal(w)?;
                w.u16(*curve)?;
                w.u16(*kdf)?;
                w.tpm2b(x.as_slice())?;
                w.tpm2b(y.as_slice())
            }
            PublicKind::Rsa {
                symmetric,
                scheme,
                key_bits,
                exponent,
                n,
            } => {
                symmetric.marshal(w)?;
                scheme.marshal(w)?;
                w.u16(*key_bits)?;
                w.u32(*exponent)?;
                w.tpm2b(n.as_slice())
            }
            PublicKind::KeyedHash { scheme, unique } => {
                scheme.marshal(w)?;
                w.tpm2b(unique.as_slice())
            }
            PublicKind::SymCipher { sym, unique } => {
                sym.marshal(w)?;
                w.tpm2b(unique.as_slice())
            }
        }
    }

    /// Marshal a TPM2B_PUBLIC.
    pub fn marshal_2b(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        w.tpm2b_with(|w| self.marshal(w))
    }

    /// The Name: nameAlg ‖ H_nameAlg(TPMT_PUBLIC) (Part 1 §16).
    pub fn name(&self) -> TpmResult<Name> {
        let alg = self.name_alg.ok_or(TpmRc::HASH)?;
        let mut buf = [0u8; 512];
        let mut w = Writer::new(&mut buf);
        self.marshal(&mut w)?;
        let d = alg.digest(&[w.written()]);
        let mut n = Name::from_slice(&alg.alg_id().0.to_be_bytes()).ok_or(TpmRc::FAILURE)?;
        n.extend(d.as_slice()).ok_or(TpmRc::FAILURE)?;
        Ok(n)
    }
}

/// What the checks of a new or loaded object need to know about its parent (Part 1 §27.2;
/// the reference implementation's PublicAttributesValidation and SchemeChecks take the parent
/// object). A primary object has no parent object: its parent is a seed, treated as fixedTPM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParentParams {
    /// The parent's fixedTPM.
    pub fixed_tpm: bool,
    /// The parent's encryptedDuplication.
    pub encrypted_duplication: bool,
    /// The parent's nameAlg.
    pub name_alg: HashAlg,
    /// The parent's symmetric definition.
    pub symmetric: SymDef,
}

impl Public {
    /// The consistency rules of Part 1 §27.2 and Part 2 §12.2.3 (the reference
    /// implementation's PublicAttributesValidation, in its order), then [`Public::scheme_checks`],
    /// for an object under `parent` (`None`: a primary object, or an external object with a
    /// sensitive area). Errors are unpositioned; the caller marks them as about inPublic.
    pub fn validate(&self, parent: Option<&ParentParams>) -> TpmResult<()> {
        use ObjectAttrs as A;
        let a = self.attrs;
        let name_alg = self.name_alg.ok_or(TpmRc::HASH)?;
        if !self.auth_policy.is_empty() && self.auth_policy.len() != name_alg.size() {
            return Err(TpmRc::SIZE);
        }
        if a.0 & (A::RESERVED | A::UNSUPPORTED) != 0 {
            return Err(TpmRc::ATTRIBUTES);
        }
        if parent.is_none_or(|p| p.fixed_tpm) {
            if a.has(A::FIXED_PARENT) != a.has(A::FIXED_TPM) {
                return Err(TpmRc::ATTRIBUTES);
            }
        } else if a.has(A::FIXED_TPM) {
            return Err(TpmRc::ATTRIBUTES);
        }
        if a.has(A::SIGN) == a.has(A::DECRYPT) {
            // A restricted key is exactly one of sign / decrypt; only a data object (keyed
            // hash) may be neither. An unrestricted key may be both (with no scheme).
            if a.has(A::RESTRICTED)
                || (!a.has(A::SIGN) && !matches!(self.kind, PublicKind::KeyedHash { .. }))
            {
                return Err(TpmRc::ATTRIBUTES);
            }
        }
        if a.has(A::FIXED_TPM) && a.has(A::ENCRYPTED_DUPLICATION) {
            return Err(TpmRc::ATTRIBUTES);
        }
        // Under a parent that is not fixedTPM, encryptedDuplication is inherited.
        if let Some(p) = parent.filter(|p| !p.fixed_tpm)
            && a.has(A::ENCRYPTED_DUPLICATION) != p.encrypted_duplication
        {
            return Err(TpmRc::ATTRIBUTES);
        }
        self.scheme_checks(parent)
    }

    /// The scheme rules (the reference implementation's SchemeChecks, in its order; Part 2
    /// §12.2.3.6, Part 1 §27.2): all that TPM2_LoadExternal checks for a public area loaded
    /// without its sensitive part.
    ///
    /// - A key that is both or neither sign and decrypt has no scheme (TPM_RC_SCHEME).
    /// - A signing key has a signing scheme, or none if it is unrestricted; a restricted
    ///   decryption key has none; an unrestricted one a decryption scheme or none.
    /// - Only a storage parent (restricted decrypt) has a symmetric algorithm, and it must
    ///   have one (TPM_RC_SYMMETRIC).
    /// - A storage parent that cannot be duplicated (fixedParent) has its parent's nameAlg
    ///   (TPM_RC_HASH) and symmetric definition (TPM_RC_SYMMETRIC) (Part 3 §12.1).
    pub fn scheme_checks(&self, parent: Option<&ParentParams>) -> TpmResult<()> {
        use ObjectAttrs as A;
        let a = self.attrs;
        let (sign, decrypt, restricted) = (a.has(A::SIGN), a.has(A::DECRYPT), a.has(A::RESTRICTED));
        let symmetric = match &self.kind {
            // Every mode that unmarshals is a block cipher mode (not SMAC), so decryption keys
            // have no scheme error here (the reference's CryptSymModeIsValid).
            PublicKind::SymCipher { sym, .. } => sym,
            PublicKind::KeyedHash { scheme, .. } => {
                let ok = match (sign, decrypt) {
                    (true, true) | (false, false) => *scheme == Scheme::Null,
                    (true, false) => matches!(scheme, Scheme::Hmac(_)),
                    // XOR (the only keyed-hash decryption scheme) is not implemented.
                    (false, true) => false,
                };
                if !ok {
                    return Err(TpmRc::SCHEME);
                }
                return Ok(());
            }
            PublicKind::Ecc {
                symmetric, scheme, ..
            }
            | PublicKind::Rsa {
                symmetric, scheme, ..
            } => {
                let rsa = matches!(self.kind, PublicKind::Rsa { .. });
                let ok = match (sign, decrypt) {
                    (true, true) | (false, false) => *scheme == Scheme::Null,
                    (true, false) => match scheme {
                        Scheme::Ecdsa(_) | Scheme::Ecdaa(..) => !rsa,
                        Scheme::RsaSsa(_) | Scheme::RsaPss(_) => rsa,
                        Scheme::Null => !restricted,
                        _ => false,
                    },
                    (false, true) => match scheme {
                        Scheme::Null => true,
                        Scheme::Ecdh(_) => !restricted && !rsa,
                        Scheme::Oaep(_) | Scheme::RsaEs => !restricted && rsa,
                        _ => false,
                    },
                };
                if !ok {
                    return Err(TpmRc::SCHEME);
                }
                if !(restricted && decrypt) {
                    if *symmetric != SymDef::Null {
                        return Err(TpmRc::SYMMETRIC);
                    }
                    return Ok(());
                }
                symmetric
            }
        };
        // A storage parent (restricted decrypt).
        if !(restricted && decrypt) {
            return Ok(());
        }
        if *symmetric == SymDef::Null {
            return Err(TpmRc::SYMMETRIC);
        }
        if let Some(p) = parent.filter(|_| a.has(A::FIXED_PARENT)) {
            if self.name_alg != Some(p.name_alg) {
                return Err(TpmRc::HASH);
            }
            if *symmetric != p.symmetric {
                return Err(TpmRc::SYMMETRIC);
            }
        }
        Ok(())
    }

    /// The symmetric definition a storage parent protects its children with: an
    /// asymmetric key's `symmetric`, a symmetric cipher key's `sym`; `None` for a keyed hash.
    pub fn parent_symmetric(&self) -> Option<SymDef> {
        match self.kind {
            PublicKind::SymCipher { sym, .. } => Some(sym),
            _ => self.symmetric(),
        }
    }

    /// The symmetric definition of an asymmetric key (ECC or RSA); `None` for a keyed hash.
    pub fn symmetric(&self) -> Option<SymDef> {
        match self.kind {
            PublicKind::Ecc { symmetric, .. } | PublicKind::Rsa { symmetric, .. } => {
                Some(symmetric)
            }
            PublicKind::KeyedHash { .. } | PublicKind::SymCipher { .. } => None,
        }
    }

    /// The curve of an ECC key.
    pub fn curve(&self) -> Option<crate::crypto::ecc::Curve> {
        match self.kind {
            PublicKind::Ecc { curve, .. } => crate::crypto::ecc::Curve::from_id(curve),
            PublicKind::Rsa { .. }
            | PublicKind::KeyedHash { .. }
            | PublicKind::SymCipher { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TCG EK template H-3 (ECC P-384), as tpm2-wire.md §13 gives it.
    const EK_H3: &str = "0023000c000300f20030b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419cacb47ba09699646150f9fc000f3f80e12000601000043001000040010000000000";

    fn hex(s: &str) -> heapless::Vec<u8, 512> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn ek_template_round_trips() {
        let bytes = hex(&EK_H3[..EK_H3.len() - 1]);
        let mut r = Reader::new(&bytes);
        let p = Public::unmarshal(&mut r).unwrap();
        assert!(r.is_empty());
        assert_eq!(p.attrs.0, 0x000300F2);
        assert_eq!(p.name_alg, Some(HashAlg::Sha384));
        let mut out = [0u8; 256];
        let mut w = Writer::new(&mut out);
        p.marshal(&mut w).unwrap();
        assert_eq!(w.written(), &bytes[..]);
    }
}
