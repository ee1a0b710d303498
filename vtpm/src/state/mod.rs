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
