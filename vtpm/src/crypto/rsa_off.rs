//! RSA without the `rsa` feature: the API of `rsa.rs`, every operation refused with
//! [`RsaError::Key`]. Unmarshaling refuses TPM_ALG_RSA, so no RSA object reaches these.
#![allow(missing_docs, unused_variables)]
use super::drbg::HmacDrbg;
use super::hash::HashAlg;

pub const RSA_BYTES: usize = 256;
pub const PRIME_BYTES: usize = 128;
pub const DEFAULT_EXPONENT: u32 = 65537;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaError {
    Value,
    Padding,
    Signature,
    Key,
    Rng,
}

pub struct RsaPrime([u8; PRIME_BYTES]);
impl RsaPrime {
    pub fn expose(&self) -> &[u8; PRIME_BYTES] {
        &self.0
    }
}

pub fn generate_into(
    e: u32,
    rng: &mut HmacDrbg,
    n: &mut [u8; RSA_BYTES],
    prime: &mut [u8; PRIME_BYTES],
) -> Result<(), RsaError> {
    Err(RsaError::Key)
}
pub fn generate(e: u32, rng: &mut HmacDrbg) -> Result<([u8; RSA_BYTES], RsaPrime), RsaError> {
    Err(RsaError::Key)
}
pub fn public_op(n: &[u8], e: u32, input: &[u8]) -> Result<[u8; RSA_BYTES], RsaError> {
    Err(RsaError::Key)
}
pub struct RsaPrivate;
impl RsaPrivate {
    pub const EMPTY: Self = Self;
    pub fn load(&mut self, n: &[u8], e: u32, prime: &[u8]) -> Result<(), RsaError> {
        Err(RsaError::Key)
    }
    pub fn from_prime(n: &[u8], e: u32, prime: &[u8]) -> Result<Self, RsaError> {
        Err(RsaError::Key)
    }
    pub fn private_op(
        &self,
        input: &[u8],
        rng: &mut HmacDrbg,
    ) -> Result<[u8; RSA_BYTES], RsaError> {
        Err(RsaError::Key)
    }
}
pub fn pkcs1v15_sign(
    key: &RsaPrivate,
    hash: HashAlg,
    digest: &[u8],
    rng: &mut HmacDrbg,
) -> Result<[u8; RSA_BYTES], RsaError> {
    Err(RsaError::Key)
}
pub fn pkcs1v15_verify(
    n: &[u8],
    e: u32,
    hash: HashAlg,
    digest: &[u8],
    sig: &[u8],
) -> Result<(), RsaError> {
    Err(RsaError::Key)
}
pub fn pss_sign(
    key: &RsaPrivate,
    hash: HashAlg,
    digest: &[u8],
    rng: &mut HmacDrbg,
) -> Result<[u8; RSA_BYTES], RsaError> {
    Err(RsaError::Key)
}
pub fn pss_verify(
    n: &[u8],
    e: u32,
    hash: HashAlg,
    digest: &[u8],
    sig: &[u8],
) -> Result<(), RsaError> {
    Err(RsaError::Key)
}
pub fn oaep_encrypt(
    n: &[u8],
    e: u32,
    hash: HashAlg,
    label: &[u8],
    msg: &[u8],
    rng: &mut HmacDrbg,
) -> Result<[u8; RSA_BYTES], RsaError> {
    Err(RsaError::Key)
}
pub fn oaep_decrypt(
    key: &RsaPrivate,
    hash: HashAlg,
    label: &[u8],
    ct: &[u8],
    rng: &mut HmacDrbg,
    out: &mut [u8; RSA_BYTES],
) -> Result<usize, RsaError> {
    Err(RsaError::Key)
}
pub fn rsaes_encrypt(
    n: &[u8],
    e: u32,
    msg: &[u8],
    rng: &mut HmacDrbg,
) -> Result<[u8; RSA_BYTES], RsaError> {
    Err(RsaError::Key)
}
pub fn rsaes_decrypt(
    key: &RsaPrivate,
    ct: &[u8],
    rng: &mut HmacDrbg,
    out: &mut [u8; RSA_BYTES],
) -> Result<usize, RsaError> {
    Err(RsaError::Key)
}
