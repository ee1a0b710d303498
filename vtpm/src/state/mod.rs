//! All TPM state, in fixed-capacity tables (no allocation).

pub mod audit;
pub mod da;
pub mod hierarchy;
pub mod nv;
pub mod object;
pub mod pcr;
pub mod session;

use crate::crypto::drbg::{DrbgError, HmacDrbg};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::wire::types::ClockInfo;

/// Distinct handles in ascending order, at most `N` (the smallest ones). Selection, not a
/// sort: for the few slots of a table, and without `collect` (which panics on overflow) or
/// the standard sort (whose recursion has no static stack bound).
pub fn ascending<const N: usize>(
    handles: impl Iterator<Item = u32> + Clone,
) -> heapless::Vec<u32, N> {
    let mut out = heapless::Vec::new();
    let mut last: Option<u32> = None;
    while let Some(next) = handles
        .clone()
        .filter(|h| last.is_none_or(|l| *h > l))
        .min()
    {
        if out.push(next).is_err() {
            break;
        }
        last = Some(next);
    }
    out
}

/// Bytes of platform entropy drawn for each DRBG (re)seed.
pub const SEED_ENTROPY: usize = 48;

/// Where the TPM is in its life cycle (Part 1 §12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// After _TPM_Init: only TPM2_Startup is accepted.
    AwaitStartup,
    /// Started: all commands accepted.
    Operational,
}

/// What the last TPM2_Shutdown recorded (TPM_SU, Part 3 §9.4), consumed by the next Startup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orderly {
    /// No orderly shutdown since the last Startup.
    None,
    /// Shutdown(CLEAR).
    Clear,
    /// Shutdown(STATE): the saved PCRs are in [`pcr::PcrBanks`]'s saved copy.
    State,
}

/// Clock and boot counters (Part 1 §36, TPMS_CLOCK_INFO).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// Platform time of manufacture (this instance's creation), in ms.
    pub base_ms: u64,
    /// Platform time of the last _TPM_Init, in ms.
    pub init_ms: u64,
    /// Last platform time seen (the clock never goes back).
    pub last_ms: u64,
    /// TPM Reset count.
    pub reset_count: u32,
    /// TPM Restart / Resume count since the last TPM Reset.
    pub restart_count: u32,
    /// TPM Resets since manufacture (totalResetCount): never cleared, not even by
    /// TPM2_Clear; saved contexts are bound to it (Part 1 §30.3).
    pub total_resets: u64,
    /// What TPM2_ClockSet added to Clock (Part 3 §29.2): Clock only moves forward.
    pub clock_offset_ms: u64,
    /// Startup(CLEAR) count (the reference implementation's clearCount): saved contexts of
    /// stClear objects are bound to it, so they do not load after a TPM Restart.
    pub clear_count: u64,
}

impl Clock {
    /// TPMS_CLOCK_INFO now.
    pub fn info(&self) -> ClockInfo {
        ClockInfo {
            clock: self.clock(),
            reset_count: self.reset_count,
            restart_count: self.restart_count,
            safe: true,
        }
    }

    /// TPMS_CLOCK_INFO.clock: ms since manufacture, plus what ClockSet added.
    pub fn clock(&self) -> u64 {
        self.last_ms
            .saturating_sub(self.base_ms)
            .saturating_add(self.clock_offset_ms)
    }

    /// TPMS_TIME_INFO.time: ms since the last _TPM_Init.
    pub fn time(&self) -> u64 {
        self.last_ms.saturating_sub(self.init_ms)
    }
}

/// The commit state of the two-phase ECC operations (the reference implementation's
/// gr.commitNonce, gr.commitCounter and gr.commitArray; Part 3 §14.7–14.8): TPM2_EC_Ephemeral
/// derives r = KDFa(commitNonce, "ECDAA Commit", counter) and marks the counter outstanding,
/// TPM2_ZGen_2Phase re-derives r from the counter once. State Reset data: a TPM Reset draws a
/// new nonce and clears the counter and the array; Restart and Resume keep them.
pub struct Commits {
    /// commitNonce: the KDFa key of every r.
    pub nonce: hierarchy::Seed,
    /// commitCounter: incremented by each commitment.
    pub counter: u64,
    /// commitArray: bit `c mod 128` is set while counter value c is outstanding.
    pub array: u128,
}

impl Commits {
    /// Size of commitArray in bits (TPM_PT_SPLIT_MAX); the counter's low 7 bits index it.
    pub const BITS: u16 = 128;

    /// Before the first TPM Reset.
    pub const EMPTY: Self = Self {
        nonce: hierarchy::Seed::EMPTY,
        counter: 0,
        array: 0,
    };

    /// The bit of commitArray that counter value `c` indexes.
    fn bit(c: u16) -> u128 {
        1u128.wrapping_shl(u32::from(c & Self::BITS.wrapping_sub(1)))
    }

    /// The low 16 bits of a counter value.
    fn low(v: u64) -> u16 {
        u16::try_from(v & 0xFFFF).unwrap_or(0)
    }

    /// The full 64-bit counter value of an outstanding 16-bit `c` (CryptGenerateR): `None` if
    /// its bit is clear or `c` is older than the array's window.
    pub fn outstanding(&self, c: u16) -> Option<u64> {
        let mask = Self::BITS.wrapping_sub(1);
        if self.array & Self::bit(c) == 0 {
            return None;
        }
        let mut cur = self.counter;
        if c & mask >= Self::low(cur) & mask {
            cur = cur.wrapping_sub(u64::from(Self::BITS));
        }
        if Self::low(cur) & !mask != c & !mask {
            return None;
        }
        Some((cur & !0xFFFF) | u64::from(c))
    }

    /// CryptCommit: mark the current counter outstanding and advance it; its low 16 bits.
    pub fn commit(&mut self) -> u16 {
        let c = Self::low(self.counter);
        self.array |= Self::bit(c);
        self.counter = self.counter.wrapping_add(1);
        c
    }

    /// CryptEndCommit: counter value `c` can no longer be used.
    pub fn end(&mut self, c: u16) {
        self.array &= !Self::bit(c);
    }
}

impl core::fmt::Debug for Commits {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Commits")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// The random number generator with its reseed policy.
pub struct Rng {
    drbg: HmacDrbg,
}

impl core::fmt::Debug for Rng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.drbg.fmt(f)
    }
}

impl Rng {
    /// A generator with no entropy yet: it never answers (`generate` refuses) until it is
    /// replaced by [`Rng::new`] at manufacture.
    pub const UNSEEDED: Self = Self {
        drbg: HmacDrbg::UNSEEDED,
    };

    /// Instantiate from platform entropy.
    pub fn new<P: Platform>(platform: &mut P) -> Result<Self, crate::PlatformError> {
        let mut entropy =
            crate::wire::types::Secret::<SEED_ENTROPY>::zeroed(SEED_ENTROPY).unwrap_or_default();
        platform.fill_entropy(entropy.expose_mut())?;
        Ok(Self {
            drbg: HmacDrbg::new(entropy.expose(), &[], b"vtpm DRBG"),
        })
    }

    /// A DRBG that is never used to answer a command: the placeholder of a TPM whose entropy
    /// failed at manufacture (it is in failure mode from the start).
    pub fn from_fixed() -> Self {
        let mut drbg = HmacDrbg::new(&[0; SEED_ENTROPY], &[], b"vtpm failure mode");
        drbg.exhaust();
        Self { drbg }
    }

    /// Mix caller-provided data into the DRBG state (TPM2_StirRandom).
    pub fn stir(&mut self, data: &[u8]) {
        self.drbg.mix(data);
    }

    /// Fill `out`, reseeding from the platform when due. An entropy failure is
    /// TPM_RC_FAILURE; the caller latches failure mode.
    pub fn fill<P: Platform>(&mut self, platform: &mut P, out: &mut [u8]) -> TpmResult<()> {
        if self.drbg.needs_reseed() {
            let mut entropy = crate::wire::types::Secret::<SEED_ENTROPY>::zeroed(SEED_ENTROPY)
                .unwrap_or_default();
            platform
                .fill_entropy(entropy.expose_mut())
                .map_err(|_| TpmRc::FAILURE)?;
            self.drbg.reseed(entropy.expose(), &[]);
        }
        for chunk in out.chunks_mut(crate::crypto::drbg::MAX_REQUEST) {
            self.drbg.generate(chunk, &[]).map_err(|e| match e {
                DrbgError::NeedsReseed | DrbgError::TooLarge => TpmRc::FAILURE,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::ascending;

    #[test]
    fn ascending_sorts_and_caps() {
        let v: heapless::Vec<u32, 8> =
            ascending([0x8100_0003u32, 0x8100_0001, 0x8100_0002].into_iter());
        assert_eq!(v.as_slice(), &[0x8100_0001, 0x8100_0002, 0x8100_0003]);
        let v: heapless::Vec<u32, 2> = ascending([5u32, 1, 9, 3].into_iter());
        assert_eq!(v.as_slice(), &[1, 3]);
        let v: heapless::Vec<u32, 2> = ascending(core::iter::empty());
        assert!(v.is_empty());
    }
}
