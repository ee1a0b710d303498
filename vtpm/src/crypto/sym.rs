//! AES in CFB mode with full 128-bit feedback (CFB128, NIST SP 800-38A §6.3), the TPM's symmetric
//! mode for parameter encryption (Part 1 §21), credential and TPM2B_PRIVATE protection (Part 1
//! §22-§24) and context blobs (Part 1 §30). The last block may be partial: CFB is a stream mode,
//! so ciphertext and plaintext have the same length.

#[cfg(feature = "sym-modes")]
use cfb_mode::cipher;
use cfb_mode::cipher::KeyIvInit;

/// AES block size, and the size of a CFB IV (SP 800-38A §6.3).
pub const AES_BLOCK: usize = 16;

/// Largest AES key in bytes (AES-256).
pub const MAX_AES_KEY: usize = 32;

/// Key sizes this TPM implements for TPM_ALG_AES (Part 2 §11.1.6, TPMI_AES_KEY_BITS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AesKeyBits {
    /// AES-128.
    Aes128,
    /// AES-256.
    Aes256,
}

impl AesKeyBits {
    /// The size for a TPM keyBits value (128 / 256), if implemented.
    pub const fn from_bits(bits: u16) -> Option<Self> {
        match bits {
            128 => Some(Self::Aes128),
            256 => Some(Self::Aes256),
            _ => None,
        }
    }

    /// Key size in bits.
    pub const fn bits(self) -> u16 {
        match self {
            Self::Aes128 => 128,
            Self::Aes256 => 256,
        }
    }

    /// Key size in bytes (16 / 32).
    pub const fn key_bytes(self) -> usize {
        match self {
            Self::Aes128 => 16,
            Self::Aes256 => 32,
        }
    }
}

/// Encrypt `data` in place with AES-CFB128 (SP 800-38A §6.3), key size chosen by `key.len()`
/// (16 → AES-128, 32 → AES-256). `None` (leaving `data` unchanged) if the key is neither or the
/// IV is not [`AES_BLOCK`] bytes.
pub fn aes_cfb_encrypt(key: &[u8], iv: &[u8], data: &mut [u8]) -> Option<()> {
    match key.len() {
        16 => cfb_mode::BufEncryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()?
            .encrypt(data),
        32 => cfb_mode::BufEncryptor::<aes::Aes256>::new_from_slices(key, iv)
            .ok()?
            .encrypt(data),
        _ => return None,
    }
    Some(())
}

/// Decrypt `data` in place with AES-CFB128 (SP 800-38A §6.3); arguments as for
/// [`aes_cfb_encrypt`].
pub fn aes_cfb_decrypt(key: &[u8], iv: &[u8], data: &mut [u8]) -> Option<()> {
    match key.len() {
        16 => cfb_mode::BufDecryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()?
            .decrypt(data),
        32 => cfb_mode::BufDecryptor::<aes::Aes256>::new_from_slices(key, iv)
            .ok()?
            .decrypt(data),
        _ => return None,
    }
    Some(())
}

/// The block cipher modes of TPMI_ALG_SYM_MODE (Part 2 §9.30) for TPM2_EncryptDecrypt (Part 3
/// §15.2). CFB (which also serves storage and sessions) always; the others with the
/// `sym-modes` feature, which brings the AES inverse cipher and the RustCrypto mode crates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymMode {
    /// TPM_ALG_CTR (SP 800-38A §6.5, the whole block a big-endian counter).
    Ctr,
    /// TPM_ALG_OFB (SP 800-38A §6.4).
    Ofb,
    /// TPM_ALG_CBC (SP 800-38A §6.2), whole blocks only.
    Cbc,
    /// TPM_ALG_CFB (SP 800-38A §6.3, 128-bit feedback).
    Cfb,
    /// TPM_ALG_ECB (SP 800-38A §6.1), whole blocks only, no IV.
    Ecb,
}

impl SymMode {
    /// The mode for a TPM_ALG_ID (0x0040..=0x0044), if implemented.
    pub const fn from_alg(alg: u16) -> Option<Self> {
        Some(match alg {
            0x0043 => Self::Cfb,
            #[cfg(feature = "sym-modes")]
            0x0040 => Self::Ctr,
            #[cfg(feature = "sym-modes")]
            0x0041 => Self::Ofb,
            #[cfg(feature = "sym-modes")]
            0x0042 => Self::Cbc,
            #[cfg(feature = "sym-modes")]
            0x0044 => Self::Ecb,
            _ => return None,
        })
    }

    /// The TPM_ALG_ID.
    pub const fn alg(self) -> u16 {
        match self {
            Self::Ctr => 0x0040,
            Self::Ofb => 0x0041,
            Self::Cbc => 0x0042,
            Self::Cfb => 0x0043,
            Self::Ecb => 0x0044,
        }
    }
}

/// Encrypt or decrypt `data` in place with AES (key size by `key.len()`, 16 or 32) in `mode`,
/// and leave in `iv` the chaining value a following call continues from, as the reference
/// implementation's CryptSymmetricEncrypt / CryptSymmetricDecrypt return it for
/// TPM2_EncryptDecrypt (Part 3 §15.2): CBC the last ciphertext block, CFB the last ciphertext
/// block (a partial one padded with zeros), CTR the counter after the last block used, OFB the
/// last keystream block; ECB and empty data leave it unchanged. `None` (nothing changed) for
/// another key size, a mode not built in, or CBC / ECB data that is not whole blocks.
pub fn aes_mode(
    key: &[u8],
    mode: SymMode,
    decrypt: bool,
    iv: &mut [u8; AES_BLOCK],
    data: &mut [u8],
) -> Option<()> {
    if data.is_empty() {
        return (key.len() == 16 || key.len() == 32).then_some(());
    }
    // The last ciphertext block, for CBC and CFB (zero-padded when partial). Plaintext when
    // encrypting: wiped on return.
    let input_last = zeroize::Zeroizing::new(last_block(data));
    match mode {
        SymMode::Cfb if decrypt => aes_cfb_decrypt(key, iv, data)?,
        SymMode::Cfb => aes_cfb_encrypt(key, iv, data)?,
        #[cfg(feature = "sym-modes")]
        _ => {
            if matches!(mode, SymMode::Cbc | SymMode::Ecb) && !data.len().is_multiple_of(AES_BLOCK)
            {
                return None;
            }
            match key.len() {
                16 => modes::run::<aes::Aes128>(key, mode, decrypt, iv, data)?,
                32 => modes::run::<aes::Aes256>(key, mode, decrypt, iv, data)?,
                _ => return None,
            }
        }
        #[cfg(not(feature = "sym-modes"))]
        _ => return None,
    }
    if matches!(mode, SymMode::Cbc | SymMode::Cfb) {
        *iv = if decrypt {
            *input_last
        } else {
            last_block(data)
        };
    }
    Some(())
}

/// The last (possibly partial) block of `data`, zero-padded.
fn last_block(data: &[u8]) -> [u8; AES_BLOCK] {
    let mut b = [0u8; AES_BLOCK];
    let rem = match data.len() % AES_BLOCK {
        0 => AES_BLOCK,
        r => r,
    };
    if let Some(tail) = data.len().checked_sub(rem).and_then(|s| data.get(s..)) {
        b.iter_mut().zip(tail).for_each(|(o, i)| *o = *i);
    }
    b
}

/// CBC, CTR, OFB and ECB through the RustCrypto crates (`sym-modes`).
#[cfg(feature = "sym-modes")]
mod modes {
    use super::{AES_BLOCK, cipher};

    /// Apply `mode` (not CFB); CTR and OFB leave their chaining value in `iv`, CBC's is
    /// taken by the caller.
    pub(super) fn run<C>(
        key: &[u8],
        mode: super::SymMode,
        decrypt: bool,
        iv: &mut [u8; AES_BLOCK],
        data: &mut [u8],
    ) -> Option<()>
    where
        C: cipher::BlockCipherEncrypt
            + cipher::BlockCipherDecrypt
            + cipher::KeyInit
            + cipher::BlockSizeUser<BlockSize = cipher::consts::U16>,
    {
        use super::SymMode as M;
        use cipher::{BlockModeDecrypt, BlockModeEncrypt, IvState, KeyIvInit, StreamCipher};
        let (blocks, _) = cipher::Block::<C>::slice_as_chunks_mut(data);
        match mode {
            M::Ecb => {
                let c = C::new_from_slice(key).ok()?;
                if decrypt {
                    c.decrypt_blocks(blocks);
                } else {
                    c.encrypt_blocks(blocks);
                }
            }
            M::Cbc if decrypt => cbc::Decryptor::<C>::new_from_slices(key, iv)
                .ok()?
                .decrypt_blocks(blocks),
            M::Cbc => cbc::Encryptor::<C>::new_from_slices(key, iv)
                .ok()?
                .encrypt_blocks(blocks),
            M::Ctr => {
                // The whole block counts (wrapping at 2^128, as the reference's increment):
                // the keystream never ends, so the fallible call never fails.
                let mut c = ctr::Ctr128BE::<C>::new_from_slices(key, iv).ok()?;
                c.try_apply_keystream(data).ok()?;
                *iv = c.get_core().iv_state().into();
            }
            M::Ofb => {
                let mut c = ofb::Ofb::<C>::new_from_slices(key, iv).ok()?;
                c.try_apply_keystream(data).ok()?;
                *iv = c.get_core().iv_state().into();
            }
            M::Cfb => return None,
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> heapless::Vec<u8, 64> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const IV: &str = "000102030405060708090a0b0c0d0e0f";
    const PLAIN: &str = concat!(
        "6bc1bee22e409f96e93d7e117393172a",
        "ae2d8a571e03ac9c9eb76fac45af8e51",
        "30c81c46a35ce411e5fbc1191a0a52ef",
        "f69f2445df4f9b17ad2b417be66c3710"
    );

    /// NIST SP 800-38A F.3.13 / F.3.14 (CFB128-AES128) and F.3.15 / F.3.16 (CFB128-AES256).
    #[test]
    fn sp800_38a_cfb128() {
        let cases = [
            (
                "2b7e151628aed2a6abf7158809cf4f3c",
                concat!(
                    "3b3fd92eb72dad20333449f8e83cfb4a",
                    "c8a64537a0b3a93fcde3cdad9f1ce58b",
                    "26751f67a3cbb140b1808cf187a4f4df",
                    "c04b05357c5d1c0eeac4c66f9ff7f2e6"
                ),
            ),
            (
                "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
                concat!(
                    "dc7e84bfda79164b7ecd8486985d3860",
                    "39ffed143b28b1c832113c6331e5407b",
                    "df10132415e54b92a13ed0a8267ae2f9",
                    "75a385741ab9cef82031623d55b1e471"
                ),
            ),
        ];
        for (key, cipher) in cases {
            let (key, iv, plain, cipher) = (hex(key), hex(IV), hex(PLAIN), hex(cipher));
            let mut buf = plain.clone();
            aes_cfb_encrypt(&key, &iv, &mut buf).unwrap();
            assert_eq!(buf, cipher);
            aes_cfb_decrypt(&key, &iv, &mut buf).unwrap();
            assert_eq!(buf, plain);

            // A partial last block (CFB is a stream mode): every length is a prefix of the
            // full-block result, in both directions.
            for len in [0, 1, 15, 17, 37, 63] {
                let mut buf = plain.clone();
                aes_cfb_encrypt(&key, &iv, &mut buf[..len]).unwrap();
                assert_eq!(buf[..len], cipher[..len]);
                assert_eq!(buf[len..], plain[len..]);
                aes_cfb_decrypt(&key, &iv, &mut buf[..len]).unwrap();
                assert_eq!(buf, plain);
            }
        }
    }

    /// NIST SP 800-38A F.1.1 (ECB), F.2.1 (CBC), F.3.13 (CFB128), F.4.1 (OFB), F.5.1 (CTR),
    /// AES-128, both directions, with the chaining value each leaves for the next call.
    #[cfg(feature = "sym-modes")]
    #[test]
    fn sp800_38a_modes_and_chaining_values() {
        let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
        let plain = hex(PLAIN);
        let ctr_iv = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
        let cases = [
            (
                SymMode::Ecb,
                IV,
                "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4",
            ),
            (
                SymMode::Cbc,
                IV,
                "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b273bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
            ),
            (
                SymMode::Cfb,
                IV,
                "3b3fd92eb72dad20333449f8e83cfb4ac8a64537a0b3a93fcde3cdad9f1ce58b26751f67a3cbb140b1808cf187a4f4dfc04b05357c5d1c0eeac4c66f9ff7f2e6",
            ),
            (
                SymMode::Ofb,
                IV,
                "3b3fd92eb72dad20333449f8e83cfb4a7789508d16918f03f53c52dac54ed8259740051e9c5fecf64344f7a82260edcc304c6528f659c77866a510d9c1d6ae5e",
            ),
            (
                SymMode::Ctr,
                ctr_iv,
                "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
            ),
        ];
        for (mode, iv_hex, cipher) in cases {
            let iv0: [u8; 16] = hex(iv_hex)[..].try_into().unwrap();
            let cipher = hex(cipher);
            let mut buf = plain.clone();
            let mut iv = iv0;
            aes_mode(&key, mode, false, &mut iv, &mut buf).unwrap();
            assert_eq!(buf, cipher, "{mode:?}");
            let last: [u8; 16] = cipher[48..].try_into().unwrap();
            let expect_iv: [u8; 16] = match mode {
                SymMode::Ecb => iv0,
                SymMode::Cbc | SymMode::Cfb => last,
                // The last keystream block: ciphertext XOR plaintext.
                SymMode::Ofb => core::array::from_fn(|i| last[i] ^ plain[48 + i]),
                SymMode::Ctr => (u128::from_be_bytes(iv0) + 4).to_be_bytes(),
            };
            assert_eq!(iv, expect_iv, "{mode:?}");
            // Two calls chained through the returned value give the one-call result.
            let mut iv = iv0;
            let mut two = plain.clone();
            aes_mode(&key, mode, false, &mut iv, &mut two[..32]).unwrap();
            aes_mode(&key, mode, false, &mut iv, &mut two[32..]).unwrap();
            assert_eq!(two, cipher, "{mode:?} chained");
            let mut iv = iv0;
            aes_mode(&key, mode, true, &mut iv, &mut buf).unwrap();
            assert_eq!(buf, plain, "{mode:?} decrypt");
            assert_eq!(iv, expect_iv, "{mode:?} decrypt chaining value");
        }
        // Partial last blocks: CFB's chaining value is the partial ciphertext padded with zeros;
        // CTR and OFB count the partial block as used.
        for mode in [SymMode::Cfb, SymMode::Ofb, SymMode::Ctr] {
            let mut buf = plain.clone();
            let mut iv = hex(IV)[..].try_into().unwrap();
            aes_mode(&key, mode, false, &mut iv, &mut buf[..20]).unwrap();
            let mut full = plain.clone();
            let mut iv_full = hex(IV)[..].try_into().unwrap();
            aes_mode(&key, mode, false, &mut iv_full, &mut full[..32]).unwrap();
            assert_eq!(buf[..20], full[..20]);
            match mode {
                SymMode::Cfb => {
                    assert_eq!(iv[..4], full[16..20]);
                    assert_eq!(iv[4..], [0; 12]);
                }
                _ => assert_eq!(iv, iv_full, "{mode:?}"),
            }
        }
        // CBC / ECB need whole blocks; nothing changes otherwise. Empty data keeps the IV.
        for mode in [SymMode::Cbc, SymMode::Ecb] {
            let mut buf = plain.clone();
            let mut iv = [7u8; 16];
            assert!(aes_mode(&key, mode, false, &mut iv, &mut buf[..17]).is_none());
            assert_eq!((buf.clone(), iv), (plain.clone(), [7; 16]));
        }
        // CTR wraps its 128-bit counter, as the reference's big-endian increment does.
        let mut iv = [0xFF; 16];
        let mut buf = [0u8; 32];
        aes_mode(&key, SymMode::Ctr, false, &mut iv, &mut buf).unwrap();
        assert_eq!(iv, 1u128.to_be_bytes());
        let mut iv = [7u8; 16];
        aes_mode(&key, SymMode::Cfb, false, &mut iv, &mut []).unwrap();
        assert_eq!(iv, [7; 16]);
        assert!(aes_mode(&[0; 24], SymMode::Cfb, false, &mut iv, &mut [0; 4]).is_none());
    }

    #[test]
    fn bad_key_or_iv_changes_nothing() {
        let mut buf = [0x42u8; 20];
        assert!(aes_cfb_encrypt(&[0; 24], &[0; 16], &mut buf).is_none());
        assert!(aes_cfb_encrypt(&[0; 16], &[0; 15], &mut buf).is_none());
        assert!(aes_cfb_decrypt(&[0; 32], &[0; 17], &mut buf).is_none());
        assert!(aes_cfb_decrypt(&[], &[0; 16], &mut buf).is_none());
        assert_eq!(buf, [0x42; 20]);
    }

    #[test]
    fn key_bits() {
        assert_eq!(AesKeyBits::from_bits(128), Some(AesKeyBits::Aes128));
        assert_eq!(AesKeyBits::from_bits(256), Some(AesKeyBits::Aes256));
        assert_eq!(AesKeyBits::from_bits(192), None);
        for k in [AesKeyBits::Aes128, AesKeyBits::Aes256] {
            assert_eq!(usize::from(k.bits()) / 8, k.key_bytes());
            assert!(k.key_bytes() <= MAX_AES_KEY);
        }
    }
}
