//! PCR banks with the PC Client attributes (TCG PC Client Platform TPM Profile §4.6, Table 3;
//! Part 1 §17).

use crate::crypto::hash::{HashAlg, HashState};
use crate::wire::types::{Auth, Digest, PCR_COUNT};

/// The allocated banks, in the order they are reported and extended. No SHA-1 bank.
pub const BANKS: [HashAlg; 2] = [HashAlg::Sha256, HashAlg::Sha384];

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
    values: [[Digest; PCR_COUNT]; BANKS.len()],
    saved: [[Digest; STATE_SAVED]; BANKS.len()],
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
    /// Every PCR empty (TPM2_Startup sets their values).
    pub const EMPTY: Self = Self {
        values: [[Digest::EMPTY; PCR_COUNT]; BANKS.len()],
        saved: [[Digest::EMPTY; STATE_SAVED]; BANKS.len()],
        update_counter: 0,
        group_auth: Auth::EMPTY,
        group_policy: Digest::EMPTY,
    };
}

/// The index of `alg` in [`BANKS`], if allocated.
pub fn bank_index(alg: HashAlg) -> Option<usize> {
    BANKS.iter().position(|b| *b == alg)
}

impl PcrBanks {
    /// Set every PCR to its Startup value (Part 1 §17.6; PC Client profile): zero, all-ones
    /// for the D-RTM PCRs 17-22, PCR 0 ending in the locality for a locality-3 startup, or the
    /// saved value on TPM Resume.
    pub fn startup(&mut self, resume: bool, locality: u8) {
        for (b, alg) in BANKS.iter().enumerate() {
            let size = alg.size();
            for i in 0..PCR_COUNT {
                let saved = self.saved.get(b).and_then(|s| s.get(i)).copied();
                let v = match (resume, saved) {
                    (true, Some(saved)) if attrs(i).state_save => saved,
                    _ if (17..=22).contains(&i) => {
                        let mut d = Digest::zeroed(size).unwrap_or_default();
                        d.as_mut_slice().fill(0xFF);
                        d
                    }
                    _ => {
                        let mut d = Digest::zeroed(size).unwrap_or_default();
                        if let Some(last) = d
                            .as_mut_slice()
                            .last_mut()
                            .filter(|_| i == 0 && locality == 3)
                        {
                            *last = 3;
                        }
                        d
                    }
                };
                if let Some(slot) = self.values.get_mut(b).and_then(|bank| bank.get_mut(i)) {
                    *slot = v;
                }
            }
        }
        if !resume {
            self.update_counter = 0;
            // Startup(CLEAR) empties the PCR authValue (the reference implementation's
            // PCR_ClearAuth).
            self.group_auth = Auth::EMPTY;
        }
    }

    /// Copy the state-saved PCRs for a later Startup(STATE) (TPM2_Shutdown(STATE)).
    pub fn save(&mut self) {
        for (saved, values) in self.saved.iter_mut().zip(self.values.iter()) {
            for (s, v) in saved.iter_mut().zip(values.iter()) {
                *s = *v;
            }
        }
    }

    /// The value of PCR `i` in bank `alg`.
    pub fn get(&self, alg: HashAlg, i: usize) -> Option<&Digest> {
        self.values.get(bank_index(alg)?)?.get(i)
    }

    /// PCR[i] := H(PCR[i] ‖ digest) in the bank of `alg` (Part 1 §17.2). `digest` must be of the
    /// bank's size (the caller checked it).
    pub fn extend(&mut self, alg: HashAlg, i: usize, digest: &[u8]) {
        let Some(slot) = bank_index(alg)
            .and_then(|b| self.values.get_mut(b))
            .and_then(|bank| bank.get_mut(i))
        else {
            return;
        };
        let mut h = HashState::new(alg);
        h.update(slot.as_slice());
        h.update(digest);
        *slot = h.finish();
    }

    /// Count one change of PCR `i` (pcrUpdateCounter rule).
    pub fn count_update(&mut self, i: usize) {
        if !no_increment(i) {
            self.update_counter = self.update_counter.wrapping_add(1);
        }
    }

    /// Reset PCR `i` to zero in every bank.
    pub fn reset(&mut self, i: usize) {
        for (b, alg) in BANKS.iter().enumerate() {
            if let Some(slot) = self.values.get_mut(b).and_then(|bank| bank.get_mut(i)) {
                *slot = Digest::zeroed(alg.size()).unwrap_or_default();
            }
        }
    }
}
