//! AES in CFB mode with full 128-bit feedback (CFB128, NIST SP 800-38A §6.3), the TPM's symmetric
//! mode for parameter encryption (Part 1 §21), credential and TPM2B_PRIVATE protection (Part 1
//! §22-§24) and context blobs (Part 1 §30). The last block may be partial: CFB is a stream mode,
//! so ciphertext and plaintext have the same length.

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
        16 => cfb_mode::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()?
            .encrypt(data),
        32 => cfb_mode::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
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
        16 => cfb_mode::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()?
            .decrypt(data),
        32 => cfb_mode::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .ok()?
            .decrypt(data),
        _ => return None,
    }
    Some(())
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
