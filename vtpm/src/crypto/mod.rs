//! Our small API over RustCrypto. Nothing outside this module names a RustCrypto type.

pub mod drbg;
pub mod ecc;
pub mod hash;
pub mod hmac;
pub mod kdf;
#[cfg(feature = "rsa")]
pub mod rsa;
pub mod sym;
