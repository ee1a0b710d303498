//! PCR banks with the PC Client attributes (TCG PC Client Platform TPM Profile §4.6, Table 3;
//! Part 1 §17).

use crate::crypto::hash::{HashAlg, HashState};
use crate::wire::types::{Auth, Digest, PCR_COUNT};

/// The banks allocated at manufacture unless the firmware chooses others: SHA-256 and
/// SHA-384 (no SHA-1 bank; TPM2_PCR_Allocate or [`crate::Tpm::manufacture_pcr_banks`] adds it).
pub const DEFAULT_BANKS: [HashAlg; 2] = [HashAlg::Sha256, HashAlg::Sha384];

/// Bytes of PCR values the TPM holds: 24 PCRs of SHA-1, SHA-256 and SHA-384 (2400 bytes),
/// with or without the `sha1` feature. Any allocation that fits may be chosen (a SHA-512
/// bank fits only in place of others); TPM2_PCR_Allocate reports it as sizeAvailable.
pub const PCR_POOL: usize = PCR_COUNT * (20 + 32 + 48);

/// Bytes kept for Shutdown(STATE): the state-saved PCRs 0-15 of the same banks.
const SAVED_POOL: usize = STATE_SAVED * (20 + 32 + 48);

/// Which PCRs of which implemented hash are allocated (TPML_PCR_SELECTION of Part 3 §22.5
/// folded per hash): bit i of `masks[k]` = PCR i of bank `HashAlg::ALL[k]`. Values are stored
/// packed in that order, only for the allocated PCRs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcrAllocation {
    masks: [u32; HashAlg::ALL.len()],
}

/// All 24 PCRs.
const ALL_PCRS: u32 = (1 << PCR_COUNT) - 1;

impl PcrAllocation {
    /// No bank.
    pub const NONE: Self = Self {
        masks: [0; HashAlg::ALL.len()],
    };

    /// SHA-256 and SHA-384, all PCRs ([`DEFAULT_BANKS`]).
    #[cfg(feature = "sha1")]
    pub const DEFAULT: Self = Self {
        masks: [0, ALL_PCRS, ALL_PCRS, 0],
    };
    /// SHA-256 and SHA-384, all PCRs ([`DEFAULT_BANKS`]).
    #[cfg(not(feature = "sha1"))]
    pub const DEFAULT: Self = Self {
        masks: [ALL_PCRS, ALL_PCRS, 0],
    };

    fn slot(alg: HashAlg) -> usize {
        HashAlg::ALL.iter().position(|a| *a == alg).unwrap_or(0)
    }

    /// The bitmap of bank `alg`.
    pub fn mask(&self, alg: HashAlg) -> u32 {
        self.masks.get(Self::slot(alg)).copied().unwrap_or(0)
    }

    /// Set the bitmap of bank `alg` (bits beyond the PCRs ignored).
    pub fn set(&mut self, alg: HashAlg, mask: u32) {
        if let Some(m) = self.masks.get_mut(Self::slot(alg)) {
            *m = mask & ALL_PCRS;
        }
    }

    /// Whether PCR `i` of bank `alg` is allocated.
    pub fn has(&self, alg: HashAlg, i: usize) -> bool {
        i < PCR_COUNT && self.mask(alg) & (1u32 << i) != 0
    }

    /// Bytes the allocated PCRs below `limit` take.
    fn size_below(&self, limit: usize) -> usize {
        let below = (1u32 << limit.min(PCR_COUNT)).wrapping_sub(1);
        HashAlg::ALL
            .iter()
            .map(|a| popcount(self.mask(*a) & below).saturating_mul(a.size()))
            .fold(0usize, usize::saturating_add)
    }

    /// Bytes the allocation needs (sizeNeeded of TPM2_PCR_Allocate).
    pub fn size_needed(&self) -> usize {
        self.size_below(PCR_COUNT)
    }

    /// Call `f(i, range in the values, range in the saved copy for PCRs 0-15)` for every
    /// allocated PCR, in storage order.
    fn walk(
        &self,
        mut f: impl FnMut(usize, core::ops::Range<usize>, Option<core::ops::Range<usize>>),
    ) {
        let (mut off, mut saved) = (0usize, 0usize);
        for alg in HashAlg::ALL {
            let n = alg.size();
            for i in (0..PCR_COUNT).filter(|i| self.has(alg, *i)) {
                let value = off..off.saturating_add(n);
                off = value.end;
                let save = (i < STATE_SAVED).then(|| saved..saved.saturating_add(n));
                if let Some(r) = &save {
                    saved = r.end;
                }
                f(i, value, save);
            }
        }
    }

    /// Where PCR `i` of `alg` starts in a pool holding the allocated PCRs below `limit`.
    fn offset(&self, alg: HashAlg, i: usize, limit: usize) -> Option<usize> {
        if !self.has(alg, i) || i >= limit {
            return None;
        }
        let below = (1u32 << limit.min(PCR_COUNT)).wrapping_sub(1);
        let mut off = 0usize;
        for a in HashAlg::ALL {
            if a == alg {
                let before = self.mask(a) & ((1u32 << i).wrapping_sub(1));
                return off.checked_add(popcount(before).checked_mul(a.size())?);
            }
            off = off.checked_add(popcount(self.mask(a) & below).checked_mul(a.size())?)?;
        }
        None
    }
}

/// Copy `src` into `dst` (equal lengths here; a zip has no length-mismatch panic path).
fn copy(dst: &mut [u8], src: &[u8]) {
    dst.iter_mut().zip(src).for_each(|(d, s)| *d = *s);
}

fn popcount(x: u32) -> usize {
    usize::try_from(x.count_ones()).unwrap_or(0)
}

/// First PCR that Shutdown(STATE) does not preserve.
const STATE_SAVED: usize = 16;

/// Per-PCR attributes (PC Client profile): which localities may reset / extend it, as bitmaps
/// (bit n = locality n), and whether it is preserved by Shutdown(STATE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcrAttrs {
    /// Preserved across Shutdown(STATE) / Startup(STATE).
    pub state_save: bool,
    /// Localities allowed to TPM2_PCR_Reset this PCR.
    pub reset_localities: u8,
    /// Localities allowed to TPM2_PCR_Extend / PCR_Event this PCR.
    pub extend_localities: u8,
}

/// The attributes of PCR `i` (0..24).
pub const fn attrs(i: usize) -> PcrAttrs {
    let (state_save, reset_localities, extend_localities) = match i {
        0..=15 => (true, 0x00, 0x1F),
        16 | 23 => (false, 0x0F, 0x1F),
        17 | 18 => (false, 0x10, 0x1C),
        19 => (false, 0x10, 0x0C),
        20 => (false, 0x14, 0x0E),
        21 | 22 => (false, 0x14, 0x04),
        _ => (false, 0, 0),
    };
    PcrAttrs {
        state_save,
        reset_localities,
        extend_localities,
    }
}

/// Whether `locality` appears in the bitmap `mask` (only localities 0-4 exist for PCRs).
pub const fn locality_in(mask: u8, locality: u8) -> bool {
    locality < 5 && mask & (1u8 << locality) != 0
}

/// PCRs whose change does not increment pcrUpdateCounter (TPM_PT_PCR_NO_INCREMENT).
pub const fn no_increment(i: usize) -> bool {
    matches!(i, 16 | 21..=23)
}

/// Whether PCR `i` is in the authValue group and the policy group (PC Client profile; the
/// reference implementation's PCRBelongsAuthGroup / PCRBelongsPolicyGroup and libtpms: one
/// group of each, PCRs 20-22).
pub const fn in_auth_group(i: usize) -> bool {
    matches!(i, 20..=22)
}

/// The PCR values of every allocated bank.
#[derive(Clone, Debug)]
pub struct PcrBanks {
    /// The banks in use.
    alloc: PcrAllocation,
    /// What TPM2_PCR_Allocate asked for, in use from the next Startup(CLEAR).
    pending: Option<PcrAllocation>,
    values: [u8; PCR_POOL],
    saved: [u8; SAVED_POOL],
    /// pcrUpdateCounter (Part 3 §22.4).
    pub update_counter: u32,
    /// The authValue of the PCR authValue group (TPM2_PCR_SetAuthValue, Part 3 §22.7):
    /// emptied by Startup(CLEAR) and TPM2_Clear.
    pub group_auth: Auth,
    /// The authPolicy of the PCR policy group (TPM2_PCR_SetAuthPolicy, Part 3 §22.6):
    /// emptied only by TPM2_ChangePPS.
    pub group_policy: Digest,
}

impl Default for PcrBanks {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl PcrBanks {
    /// Every PCR empty (TPM2_Startup sets their values), the default banks allocated.
    pub const EMPTY: Self = Self {
        alloc: PcrAllocation::DEFAULT,
        pending: None,
        values: [0; PCR_POOL],
        saved: [0; SAVED_POOL],
        update_counter: 0,
        group_auth: Auth::EMPTY,
        group_policy: Digest::EMPTY,
    };

    /// The banks in use.
    pub fn allocation(&self) -> &PcrAllocation {
        &self.alloc
    }

    /// Whether a TPM2_PCR_Allocate waits for the next Startup(CLEAR).
    pub fn reallocation_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Use `alloc` from the next Startup(CLEAR) (TPM2_PCR_Allocate), or at once before the
    /// first Startup (manufacture). The caller checked that it fits [`PCR_POOL`].
    pub fn allocate(&mut self, alloc: PcrAllocation, now: bool) {
        if now {
            self.alloc = alloc;
            self.pending = None;
        } else {
            self.pending = Some(alloc);
        }
    }

    /// PCR `i` of bank `alg`, mutably.
    fn slot_mut(&mut self, alg: HashAlg, i: usize) -> Option<&mut [u8]> {
        let off = self.alloc.offset(alg, i, PCR_COUNT)?;
        self.values.get_mut(off..off.checked_add(alg.size())?)
    }
}

/// Whether bank `alg` has any allocated PCR.
pub fn bank_allocated(banks: &PcrBanks, alg: HashAlg) -> bool {
    banks.alloc.mask(alg) != 0
}

impl PcrBanks {
    /// Set every PCR to its Startup value (Part 1 §17.6; PC Client profile): zero, all-ones
    /// for the D-RTM PCRs 17-22, PCR 0 ending in the locality for a locality-3 startup, or the
    /// saved value on TPM Resume. A Startup(CLEAR) first puts a pending TPM2_PCR_Allocate into
    /// use.
    pub fn startup(&mut self, resume: bool, locality: u8) {
        if !resume && let Some(p) = self.pending.take() {
            self.alloc = p;
        }
        let (values, saved) = (&mut self.values, &self.saved);
        self.alloc.walk(|i, value, save| {
            let Some(slot) = values.get_mut(value) else {
                return;
            };
            match save.and_then(|r| saved.get(r)) {
                Some(saved) if resume && attrs(i).state_save => copy(slot, saved),
                _ if (17..=22).contains(&i) => slot.fill(0xFF),
                _ => {
                    slot.fill(0);
                    if let Some(last) = slot.last_mut().filter(|_| i == 0 && locality == 3) {
                        *last = 3;
                    }
                }
            }
        });
        if !resume {
            self.update_counter = 0;
            // Startup(CLEAR) empties the PCR authValue (the reference implementation's
            // PCR_ClearAuth).
            self.group_auth = Auth::EMPTY;
        }
    }

    /// Copy the state-saved PCRs for a later Startup(STATE) (TPM2_Shutdown(STATE)).
    pub fn save(&mut self) {
        let (values, saved) = (&self.values, &mut self.saved);
        self.alloc.walk(|_, value, save| {
            if let (Some(src), Some(dst)) = (values.get(value), save.and_then(|r| saved.get_mut(r)))
            {
                copy(dst, src);
            }
        });
    }

    /// The value of PCR `i` in bank `alg`, if allocated.
    pub fn get(&self, alg: HashAlg, i: usize) -> Option<Digest> {
        let off = self.alloc.offset(alg, i, PCR_COUNT)?;
        Digest::from_slice(self.values.get(off..off.checked_add(alg.size())?)?)
    }

    /// PCR[i] := H(PCR[i] ‖ digest) in the bank of `alg` (Part 1 §17.2), if allocated; returns
    /// whether it was. `digest` must be of the bank's size (the caller checked it).
    pub fn extend(&mut self, alg: HashAlg, i: usize, digest: &[u8]) -> bool {
        let Some(slot) = self.slot_mut(alg, i) else {
            return false;
        };
        let mut h = HashState::new(alg);
        h.update(slot);
        h.update(digest);
        let d = h.finish();
        if let Some(src) = d.as_slice().get(..slot.len()) {
            copy(slot, src);
        }
        true
    }

    /// Count one change of PCR `i` (pcrUpdateCounter rule).
    pub fn count_update(&mut self, i: usize) {
        if !no_increment(i) {
            self.update_counter = self.update_counter.wrapping_add(1);
        }
    }

    /// Reset PCR `i` to zero in every bank.
    pub fn reset(&mut self, i: usize) {
        for alg in HashAlg::ALL {
            if let Some(slot) = self.slot_mut(alg, i) {
                slot.fill(0);
            }
        }
    }
}

#[cfg(all(test, feature = "sha1"))]
mod tests {
    use super::*;

    #[test]
    fn packed_offsets() {
        let a = PcrAllocation::DEFAULT;
        assert_eq!(a.size_needed(), 24 * 80);
        assert_eq!(a.offset(HashAlg::Sha256, 0, PCR_COUNT), Some(0));
        assert_eq!(a.offset(HashAlg::Sha256, 23, PCR_COUNT), Some(23 * 32));
        assert_eq!(a.offset(HashAlg::Sha384, 0, PCR_COUNT), Some(24 * 32));
        assert_eq!(
            a.offset(HashAlg::Sha384, 1, STATE_SAVED),
            Some(16 * 32 + 48)
        );
        assert_eq!(a.offset(HashAlg::Sha384, 16, STATE_SAVED), None);
        assert_eq!(a.offset(HashAlg::Sha1, 0, PCR_COUNT), None);
        let mut b = PcrAllocation::NONE;
        b.set(HashAlg::Sha1, ALL_PCRS);
        b.set(HashAlg::Sha256, ALL_PCRS);
        b.set(HashAlg::Sha384, ALL_PCRS);
        assert_eq!(b.size_needed(), PCR_POOL);
        assert_eq!(b.size_below(STATE_SAVED), SAVED_POOL);
        assert_eq!(b.offset(HashAlg::Sha256, 0, PCR_COUNT), Some(480));
        b.set(HashAlg::Sha512, 1);
        assert_eq!(b.size_needed(), PCR_POOL + 64);
    }
}

#[cfg(test)]
mod size {
    struct Nothing;
    impl crate::Platform for Nothing {
        fn fill_entropy(&mut self, _: &mut [u8]) -> Result<(), crate::PlatformError> {
            Err(crate::PlatformError::EntropyUnavailable)
        }
        fn now_ms(&mut self) -> Result<u64, crate::PlatformError> {
            Ok(0)
        }
        fn evidence(&mut self, _: &[u8; 64], _: &mut [u8]) -> Result<usize, crate::PlatformError> {
            Err(crate::PlatformError::EvidenceUnavailable)
        }
    }

    /// The PCR state and the whole TPM, printed with `--nocapture` (README, state size).
    #[test]
    fn state_sizes() {
        extern crate std;
        std::println!(
            "size_of PcrBanks {} Tpm<zero-sized platform> {}",
            core::mem::size_of::<super::PcrBanks>(),
            core::mem::size_of::<crate::Tpm<Nothing>>()
        );
    }
}
