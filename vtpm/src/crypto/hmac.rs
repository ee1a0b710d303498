//! HMAC (RFC 2104) over the implemented hashes, for session authorization, tickets and KDFa.

use super::hash::HashAlg;
use crate::wire::types::{Digest, MAX_DIGEST, Secret};
use hmac::{KeyInit, Mac};

/// A MAC keyed with a seed, proof or session key is itself secret (a KDFa block, a DRBG value),
/// and so is the running state that holds the padded key. The hash and HMAC crates wipe their
/// state, block buffers and MAC outputs on drop only with their `zeroize` features on (workspace
/// `Cargo.toml`); this fails to build if they are turned off. `hmac::Hmac<D>` is its two hash
/// cores (inner and outer padded key absorbed) and a block buffer, each checked here, as the
/// `hmac` crate does not mark the whole as `ZeroizeOnDrop` itself.
const _: () = {
    use hmac::EagerHash;
    use hmac::digest::block_api::Buffer;
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    #[allow(dead_code)]
    fn hmac_and_hash_states_are_wiped_on_drop() {
        #[cfg(feature = "sha1")]
        {
            wiped_on_drop::<<sha1::Sha1 as EagerHash>::Core>();
            wiped_on_drop::<Buffer<hmac::block_api::HmacCore<sha1::Sha1>>>();
            wiped_on_drop::<sha1::Sha1>();
        }
        wiped_on_drop::<<sha2::Sha256 as EagerHash>::Core>();
        wiped_on_drop::<<sha2::Sha384 as EagerHash>::Core>();
        wiped_on_drop::<<sha2::Sha512 as EagerHash>::Core>();
        wiped_on_drop::<Buffer<hmac::block_api::HmacCore<sha2::Sha256>>>();
        wiped_on_drop::<Buffer<hmac::block_api::HmacCore<sha2::Sha384>>>();
        wiped_on_drop::<Buffer<hmac::block_api::HmacCore<sha2::Sha512>>>();
        wiped_on_drop::<sha2::Sha256>();
        wiped_on_drop::<sha2::Sha384>();
        wiped_on_drop::<sha2::Sha512>();
        wiped_on_drop::<hmac::digest::CtOutput<hmac::Hmac<sha2::Sha256>>>();
    }
};

/// A running HMAC.
#[derive(Clone)]
pub enum HmacState {
    /// HMAC-SHA-1.
    #[cfg(feature = "sha1")]
    Sha1(hmac::Hmac<sha1::Sha1>),
    /// HMAC-SHA-256.
    Sha256(hmac::Hmac<sha2::Sha256>),
    /// HMAC-SHA-384.
    Sha384(hmac::Hmac<sha2::Sha384>),
    /// HMAC-SHA-512.
    Sha512(hmac::Hmac<sha2::Sha512>),
}

impl HmacState {
    /// Start an HMAC with `key` (any length, including empty).
    #[inline(never)]
    pub fn new(alg: HashAlg, key: &[u8]) -> Self {
        // `new_from_slice` accepts every key length for HMAC; the fallback is never taken.
        match alg {
            #[cfg(feature = "sha1")]
            HashAlg::Sha1 => Self::Sha1(
                hmac::Hmac::new_from_slice(key)
                    .unwrap_or_else(|_| hmac::Hmac::new(&Default::default())),
            ),
            HashAlg::Sha256 => Self::Sha256(
                hmac::Hmac::new_from_slice(key)
                    .unwrap_or_else(|_| hmac::Hmac::new(&Default::default())),
            ),
            HashAlg::Sha384 => Self::Sha384(
                hmac::Hmac::new_from_slice(key)
                    .unwrap_or_else(|_| hmac::Hmac::new(&Default::default())),
            ),
            HashAlg::Sha512 => Self::Sha512(
                hmac::Hmac::new_from_slice(key)
                    .unwrap_or_else(|_| hmac::Hmac::new(&Default::default())),
            ),
        }
    }

    /// Absorb `data`.
    #[inline(never)]
    pub fn update(&mut self, data: &[u8]) {
        match self {
            #[cfg(feature = "sha1")]
            Self::Sha1(m) => m.update(data),
            Self::Sha256(m) => m.update(data),
            Self::Sha384(m) => m.update(data),
            Self::Sha512(m) => m.update(data),
        }
    }

    /// The MAC.
    pub fn finish(self) -> Digest {
        // One finalization per hash for both outputs (firmware code size); the MAC output is
        // copied out of the crate's self-wiping value by reference in `finish_secret`.
        Digest::from_slice(self.finish_secret().expose()).unwrap_or_default()
    }

    /// The MAC as a [`Secret`], wiped on drop: for MACs that are key material (KDFa blocks,
    /// Part 1 §11.4.10.2; HMAC_DRBG K and V, SP 800-90A §10.1.2).
    #[inline(never)]
    pub fn finish_secret(self) -> Secret<MAX_DIGEST> {
        let mut d = Secret::EMPTY;
        match self {
            #[cfg(feature = "sha1")]
            Self::Sha1(m) => d.extend(m.finalize().as_bytes()),
            Self::Sha256(m) => d.extend(m.finalize().as_bytes()),
            Self::Sha384(m) => d.extend(m.finalize().as_bytes()),
            Self::Sha512(m) => d.extend(m.finalize().as_bytes()),
        };
        d
    }
}

/// One-shot HMAC over the concatenation of `parts`.
#[inline(never)]
pub fn hmac(alg: HashAlg, key: &[u8], parts: &[&[u8]]) -> Digest {
    let mut m = HmacState::new(alg, key);
    for p in parts {
        m.update(p);
    }
    m.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let d = hmac(
            HashAlg::Sha256,
            b"Jefe",
            &[b"what do ya want ", b"for nothing?"],
        );
        assert_eq!(
            d.as_slice()[..8],
            [0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e]
        );
        let d = hmac(HashAlg::Sha384, b"Jefe", &[b"what do ya want for nothing?"]);
        assert_eq!(
            d.as_slice()[..8],
            [0xaf, 0x45, 0xd2, 0xe3, 0x76, 0x48, 0x40, 0x31]
        );
    }

    #[test]
    fn finish_secret_is_the_same_mac() {
        for alg in HashAlg::ALL {
            let mut a = HmacState::new(alg, b"key");
            a.update(b"data");
            let b = a.clone();
            let public = a.finish();
            let secret = b.finish_secret();
            assert_eq!(secret.len(), alg.size());
            assert_eq!(public.as_slice(), secret.expose());
        }
    }
}
