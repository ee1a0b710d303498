//! Our small API over RustCrypto. Nothing outside this module names a RustCrypto type.

pub mod drbg;
pub mod ecc;
pub mod hash;
pub mod hmac;
pub mod kdf;
/// RSA-2048 (the `rsa` feature): keys, PKCS #1 v1.5, PSS and OAEP.
#[cfg(feature = "rsa")]
pub mod rsa;
/// Without the `rsa` feature: the same API, every operation refused (no RSA object can exist).
#[cfg(not(feature = "rsa"))]
#[path = "rsa_off.rs"]
pub mod rsa;
pub mod sym;
