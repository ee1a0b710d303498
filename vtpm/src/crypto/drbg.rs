//! The TPM's random bit generator: HMAC_DRBG with SHA-256 (NIST SP 800-90A Rev. 1 §10.1.2),
//! seeded and periodically reseeded from [`crate::Platform::fill_entropy`].

use super::hash::HashAlg;
use super::hmac::HmacState;
use zeroize::Zeroizing;

const OUTLEN: usize = 32;

/// Generate requests between reseeds from the platform (SP 800-90A allows 2^48; we reseed often
/// so that a failing entropy source is noticed and latches failure mode).
pub const RESEED_INTERVAL: u32 = 1 << 12;

/// Largest single request in bytes (SP 800-90A Table 2: 2^19 bits).
pub const MAX_REQUEST: usize = 1 << 16;

/// HMAC_DRBG state (K, V, reseed counter). Wiped on drop; `Debug` prints nothing secret.
pub struct HmacDrbg {
    k: [u8; OUTLEN],
    v: [u8; OUTLEN],
    reseed_counter: u32,
}

impl core::fmt::Debug for HmacDrbg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HmacDrbg")
            .field("reseed_counter", &self.reseed_counter)
            .finish_non_exhaustive()
    }
}

impl Drop for HmacDrbg {
    fn drop(&mut self) {
        crate::wire::types::wipe_bytes(&mut self.k);
        crate::wire::types::wipe_bytes(&mut self.v);
    }
}

/// Why a DRBG request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrbgError {
    /// The reseed interval is exhausted: reseed before generating.
    NeedsReseed,
    /// The request is larger than [`MAX_REQUEST`].
    TooLarge,
}

impl HmacDrbg {
    /// A DRBG that has not been instantiated: K and V hold their initial values (§10.1.2.3
    /// step 2-3) and the reseed counter is past the interval, so [`HmacDrbg::generate`] refuses
    /// until [`HmacDrbg::reseed`] supplies entropy. For a TPM not yet manufactured.
    pub const UNSEEDED: Self = Self {
        k: [0; OUTLEN],
        v: [1; OUTLEN],
        reseed_counter: RESEED_INTERVAL.saturating_add(1),
    };

    /// HMAC_DRBG_Instantiate (§10.1.2.3): seed material = entropy ‖ nonce ‖ personalization.
    pub fn new(entropy: &[u8], nonce: &[u8], personalization: &[u8]) -> Self {
        let mut d = Self {
            k: [0; OUTLEN],
            v: [1; OUTLEN],
            reseed_counter: 1,
        };
        d.update(&[entropy, nonce, personalization]);
        d
    }

    /// `out = HMAC(key, parts...)`. The MAC only ever lives in self-wiping values.
    fn hmac_into(key: &[u8; OUTLEN], parts: &[&[u8]], out: &mut [u8; OUTLEN]) {
        let mut m = HmacState::new(HashAlg::Sha256, key);
        for p in parts {
            m.update(p);
        }
        let d = m.finish_secret();
        if let Some(src) = d.expose().get(..OUTLEN) {
            out.copy_from_slice(src);
        }
    }

    /// V = HMAC(K, V), without leaving a copy of the old V behind.
    fn next_v(&mut self) {
        let v = Zeroizing::new(self.v);
        Self::hmac_into(&self.k, &[v.as_slice()], &mut self.v);
    }

    /// HMAC_DRBG_Update (§10.1.2.2) with provided data given as parts.
    fn update(&mut self, data: &[&[u8]]) {
        let empty = data.iter().all(|p| p.is_empty());
        for round in [0u8, 1u8] {
            if round == 1 && empty {
                break;
            }
            // K = HMAC(K, V ‖ round ‖ data). The MAC is a self-wiping Secret; HmacState copied
            // the old K into its own (self-wiping) state, so K can be overwritten in place.
            let mut m = HmacState::new(HashAlg::Sha256, &self.k);
            m.update(&self.v);
            m.update(&[round]);
            for p in data {
                m.update(p);
            }
            let k = m.finish_secret();
            if let Some(src) = k.expose().get(..OUTLEN) {
                self.k.copy_from_slice(src);
            }
            self.next_v();
        }
    }

    /// HMAC_DRBG_Reseed (§10.1.2.4).
    pub fn reseed(&mut self, entropy: &[u8], additional: &[u8]) {
        self.update(&[entropy, additional]);
        self.reseed_counter = 1;
    }

    /// Mix additional input into the state without counting a reseed (TPM2_StirRandom).
    pub fn mix(&mut self, data: &[u8]) {
        self.update(&[data]);
    }

    /// Force a reseed before the next generate.
    pub fn exhaust(&mut self) {
        self.reseed_counter = RESEED_INTERVAL.saturating_add(1);
    }

    /// Whether the next generate needs a reseed first.
    pub fn needs_reseed(&self) -> bool {
        self.reseed_counter > RESEED_INTERVAL
    }

    /// HMAC_DRBG_Generate (§10.1.2.5).
    pub fn generate(&mut self, out: &mut [u8], additional: &[u8]) -> Result<(), DrbgError> {
        if self.needs_reseed() {
            return Err(DrbgError::NeedsReseed);
        }
        if out.len() > MAX_REQUEST {
            return Err(DrbgError::TooLarge);
        }
        if !additional.is_empty() {
            self.update(&[additional]);
        }
        for chunk in out.chunks_mut(OUTLEN) {
            self.next_v();
            if let Some(src) = self.v.get(..chunk.len()) {
                chunk.copy_from_slice(src);
            }
        }
        self.update(&[additional]);
        self.reseed_counter = self.reseed_counter.saturating_add(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> heapless::Vec<u8, 256> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// NIST CAVP HMAC_DRBG.rsp, [SHA-256], PredictionResistance = False, no reseed, COUNT = 0.
    #[test]
    fn cavp_sha256_count0() {
        let entropy = hex("ca851911349384bffe89de1cbdc46e6831e44d34a4fb935ee285dd14b71a7488");
        let nonce = hex("659ba96c601dc69fc902940805ec0ca8");
        let mut d = HmacDrbg::new(&entropy, &nonce, &[]);
        let mut out = [0u8; 128];
        d.generate(&mut out, &[]).unwrap();
        d.generate(&mut out, &[]).unwrap();
        let expect = hex(concat!(
            "e528e9abf2dece54d47c7e75e5fe302149f817ea9fb4bee6f4199697d04d5b89",
            "d54fbb978a15b5c443c9ec21036d2460b6f73ebad0dc2aba6e624abf07745bc1",
            "07694bb7547bb0995f70de25d6b29e2d3011bb19d27676c07162c8b5ccde0668",
            "961df86803482cb37ed6d5c0bb8d50cf1f50d476aa0458bdaba806f48be9dcb8"
        ));
        assert_eq!(&out[..], &expect[..]);
    }

    #[test]
    fn reseed_interval_is_enforced() {
        let mut d = HmacDrbg::new(&[7; 32], &[], &[]);
        d.reseed_counter = RESEED_INTERVAL + 1;
        let mut out = [0u8; 4];
        assert_eq!(d.generate(&mut out, &[]), Err(DrbgError::NeedsReseed));
        d.reseed(&[9; 32], &[]);
        assert!(d.generate(&mut out, &[]).is_ok());
    }
}
