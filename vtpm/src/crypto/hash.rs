//! Hash algorithms the TPM implements: SHA-1, SHA-256, SHA-384, SHA-512 (Part 2 §6.3,
//! TPMI_ALG_HASH).

use crate::wire::constants::TpmAlgId;
use crate::wire::types::{Digest, MAX_DIGEST, Secret};
use sha2::Digest as _;
use zeroize::Zeroizing;

/// An implemented hash algorithm. SHA-1 is implemented for the SHA-1 PCR bank (allocated
/// only on request) and the clients that still use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HashAlg {
    /// SHA-1 (TPM_ALG_SHA1), with the `sha1` feature.
    #[cfg(feature = "sha1")]
    Sha1,
    /// SHA-256 (TPM_ALG_SHA256).
    Sha256,
    /// SHA-384 (TPM_ALG_SHA384).
    Sha384,
    /// SHA-512 (TPM_ALG_SHA512).
    Sha512,
}

impl HashAlg {
    /// All implemented hashes, in TPM_ALG_ID order.
    #[cfg(feature = "sha1")]
    pub const ALL: [Self; 4] = [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512];
    /// All implemented hashes, in TPM_ALG_ID order.
    #[cfg(not(feature = "sha1"))]
    pub const ALL: [Self; 3] = [Self::Sha256, Self::Sha384, Self::Sha512];

    /// The algorithm for a TPM_ALG_ID, if implemented.
    pub fn from_alg(alg: TpmAlgId) -> Option<Self> {
        match alg {
            #[cfg(feature = "sha1")]
            TpmAlgId::SHA1 => Some(Self::Sha1),
            TpmAlgId::SHA256 => Some(Self::Sha256),
            TpmAlgId::SHA384 => Some(Self::Sha384),
            TpmAlgId::SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// TPM_ALG_ID of this hash.
    pub const fn alg_id(self) -> TpmAlgId {
        match self {
            #[cfg(feature = "sha1")]
            Self::Sha1 => TpmAlgId::SHA1,
            Self::Sha256 => TpmAlgId::SHA256,
            Self::Sha384 => TpmAlgId::SHA384,
            Self::Sha512 => TpmAlgId::SHA512,
        }
    }

    /// Digest size in bytes.
    pub const fn size(self) -> usize {
        match self {
            #[cfg(feature = "sha1")]
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Block size in bytes.
    pub const fn block_size(self) -> usize {
        match self {
            #[cfg(feature = "sha1")]
            Self::Sha1 => 64,
            Self::Sha256 => 64,
            Self::Sha384 | Self::Sha512 => 128,
        }
    }

    /// One-shot digest of the concatenation of `parts`.
    #[inline(never)]
    pub fn digest(self, parts: &[&[u8]]) -> Digest {
        let mut h = HashState::new(self);
        for p in parts {
            h.update(p);
        }
        h.finish()
    }
}

/// A running hash (used by hash sequences and for cpHash / rpHash).
#[derive(Clone)]
pub enum HashState {
    /// SHA-1 state.
    #[cfg(feature = "sha1")]
    Sha1(sha1::Sha1),
    /// SHA-256 state.
    Sha256(sha2::Sha256),
    /// SHA-384 state.
    Sha384(sha2::Sha384),
    /// SHA-512 state.
    Sha512(sha2::Sha512),
}

impl HashState {
    /// A fresh state for `alg`.
    #[inline(never)]
    pub fn new(alg: HashAlg) -> Self {
        match alg {
            #[cfg(feature = "sha1")]
            HashAlg::Sha1 => Self::Sha1(sha1::Sha1::new()),
            HashAlg::Sha256 => Self::Sha256(sha2::Sha256::new()),
            HashAlg::Sha384 => Self::Sha384(sha2::Sha384::new()),
            HashAlg::Sha512 => Self::Sha512(sha2::Sha512::new()),
        }
    }

    /// The algorithm.
    pub fn alg(&self) -> HashAlg {
        match self {
            #[cfg(feature = "sha1")]
            Self::Sha1(_) => HashAlg::Sha1,
            Self::Sha256(_) => HashAlg::Sha256,
            Self::Sha384(_) => HashAlg::Sha384,
            Self::Sha512(_) => HashAlg::Sha512,
        }
    }

    /// Absorb `data`.
    #[inline(never)]
    pub fn update(&mut self, data: &[u8]) {
        match self {
            #[cfg(feature = "sha1")]
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    /// The digest.
    pub fn finish(self) -> Digest {
        // One finalization per hash for both outputs (firmware code size).
        Digest::from_slice(self.finish_secret().expose()).unwrap_or_default()
    }

    /// The digest as a [`Secret`], wiped on drop: for hashes that are key material (KDFe
    /// blocks over an ECDH secret, Part 1 §11.4.10.3).
    #[inline(never)]
    pub fn finish_secret(self) -> Secret<MAX_DIGEST> {
        let mut d = Secret::EMPTY;
        // The crates' output arrays are plain values: wrapped so that they are wiped too.
        match self {
            #[cfg(feature = "sha1")]
            Self::Sha1(h) => d.extend(Zeroizing::new(h.finalize()).as_slice()),
            Self::Sha256(h) => d.extend(Zeroizing::new(h.finalize()).as_slice()),
            Self::Sha384(h) => d.extend(Zeroizing::new(h.finalize()).as_slice()),
            Self::Sha512(h) => d.extend(Zeroizing::new(h.finalize()).as_slice()),
        };
        d
    }
}

/// One running digest per implemented hash, for event sequences (Part 3 §17.3, §17.7).
/// With the `sha1` feature each state is only as large as its own hash needs (an array of
/// four [`HashState`]s would size SHA-1's for SHA-512, 128 bytes more in every object slot);
/// without it, the three [`HashState`]s share the enum's code.
#[derive(Clone)]
pub struct AllHashes {
    #[cfg(feature = "sha1")]
    sha1: sha1::Sha1,
    #[cfg(feature = "sha1")]
    sha256: sha2::Sha256,
    #[cfg(feature = "sha1")]
    sha384: sha2::Sha384,
    #[cfg(feature = "sha1")]
    sha512: sha2::Sha512,
    #[cfg(not(feature = "sha1"))]
    states: [HashState; 3],
}

impl Default for AllHashes {
    fn default() -> Self {
        Self::new()
    }
}

impl AllHashes {
    /// Fresh states.
    pub fn new() -> Self {
        #[cfg(feature = "sha1")]
        return Self {
            sha1: sha1::Sha1::new(),
            sha256: sha2::Sha256::new(),
            sha384: sha2::Sha384::new(),
            sha512: sha2::Sha512::new(),
        };
        #[cfg(not(feature = "sha1"))]
        Self {
            states: HashAlg::ALL.map(HashState::new),
        }
    }

    /// Absorb `data` into every state.
    pub fn update(&mut self, data: &[u8]) {
        #[cfg(feature = "sha1")]
        {
            self.sha1.update(data);
            self.sha256.update(data);
            self.sha384.update(data);
            self.sha512.update(data);
        }
        #[cfg(not(feature = "sha1"))]
        self.states.iter_mut().for_each(|h| h.update(data));
    }

    /// The digests, in [`HashAlg::ALL`] order.
    pub fn finish(self) -> [Digest; HashAlg::ALL.len()] {
        #[cfg(feature = "sha1")]
        return [
            Digest::from_slice(&self.sha1.finalize()).unwrap_or_default(),
            Digest::from_slice(&self.sha256.finalize()).unwrap_or_default(),
            Digest::from_slice(&self.sha384.finalize()).unwrap_or_default(),
            Digest::from_slice(&self.sha512.finalize()).unwrap_or_default(),
        ];
        #[cfg(not(feature = "sha1"))]
        self.states.map(HashState::finish)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fips180_abc() {
        // FIPS 180-2 Appendix B.1 / C.1 / D.1 ("abc").
        let d = HashAlg::Sha256.digest(&[b"a", b"bc"]);
        assert_eq!(
            d.as_slice(),
            &[
                0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
                0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
                0xf2, 0x00, 0x15, 0xad
            ]
        );
        assert_eq!(HashAlg::Sha384.digest(&[b"abc"]).len(), 48);
        assert_eq!(
            HashAlg::Sha384.digest(&[b"abc"]).as_slice()[..4],
            [0xcb, 0x00, 0x75, 0x3f]
        );
        assert_eq!(
            HashAlg::Sha512.digest(&[b"abc"]).as_slice()[..4],
            [0xdd, 0xaf, 0x35, 0xa1]
        );
        #[cfg(feature = "sha1")]
        // FIPS 180-2 Appendix A.1: SHA-1("abc") = a9993e36 4706816a ba3e2571 7850c26c 9cd0d89d.
        assert_eq!(
            HashAlg::Sha1.digest(&[b"ab", b"c"]).as_slice(),
            &[
                0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e, 0x25, 0x71, 0x78, 0x50,
                0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d
            ]
        );
    }

    #[test]
    fn all_hashes_match_each_hash() {
        let mut all = AllHashes::new();
        all.update(b"ev");
        all.update(b"ent");
        for (alg, d) in HashAlg::ALL.into_iter().zip(all.finish()) {
            assert_eq!(d, alg.digest(&[b"event"]), "{alg:?}");
        }
    }

    #[test]
    fn finish_secret_is_the_same_digest() {
        for alg in HashAlg::ALL {
            let mut h = HashState::new(alg);
            h.update(b"abc");
            let secret = h.clone().finish_secret();
            assert_eq!(secret.expose(), h.finish().as_slice());
        }
    }
}
