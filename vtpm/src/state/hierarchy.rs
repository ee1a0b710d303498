//! Hierarchies: primary seeds, proofs, authorization values and enables (Part 1 §14).
//!
//! Ephemeral by design: every seed is drawn fresh when the TPM is manufactured (each boot of
//! the confidential VM) and never persisted; the null seed is redrawn at every TPM Reset.

use crate::wire::constants::handle::{RH_ENDORSEMENT, RH_LOCKOUT, RH_NULL, RH_OWNER, RH_PLATFORM};
use crate::wire::types::{Auth, Digest, Secret};

/// Size of primary seeds and proofs (PRIMARY_SEED_SIZE, PROOF_SIZE).
pub const SEED_SIZE: usize = 64;

/// A primary seed or proof value.
pub type Seed = Secret<SEED_SIZE>;

/// The hierarchies' secrets and settings.
#[derive(Debug, Default)]
pub struct Hierarchies {
    /// Endorsement primary seed (EPS).
    pub eps: Seed,
    /// Storage primary seed (SPS).
    pub sps: Seed,
    /// Platform primary seed (PPS).
    pub pps: Seed,
    /// Null seed, new at every TPM Reset.
    pub null_seed: Seed,
    /// Endorsement hierarchy proof (ehProof).
    pub eh_proof: Seed,
    /// Storage (owner) hierarchy proof (shProof).
    pub sh_proof: Seed,
    /// Platform hierarchy proof (phProof).
    pub ph_proof: Seed,
    /// Null hierarchy proof, new at every TPM Reset.
    pub null_proof: Seed,
    /// ownerAuth.
    pub owner_auth: Auth,
    /// endorsementAuth.
    pub endorsement_auth: Auth,
    /// platformAuth (cleared at every Startup(CLEAR)).
    pub platform_auth: Auth,
    /// lockoutAuth.
    pub lockout_auth: Auth,
    /// ownerPolicy.
    pub owner_policy: Digest,
    /// endorsementPolicy.
    pub endorsement_policy: Digest,
    /// platformPolicy.
    pub platform_policy: Digest,
    /// lockoutPolicy.
    pub lockout_policy: Digest,
    /// shEnable.
    pub sh_enable: bool,
    /// ehEnable.
    pub eh_enable: bool,
    /// phEnable.
    pub ph_enable: bool,
    /// phEnableNV.
    pub ph_enable_nv: bool,
    /// disableClear (TPM2_ClearControl).
    pub disable_clear: bool,
}

impl Hierarchies {
    /// All seeds, proofs, auth values and policies empty, every hierarchy disabled: the state
    /// before manufacture (the same as `Default`, usable in a `const`).
    pub const EMPTY: Self = Self {
        eps: Seed::EMPTY,
        sps: Seed::EMPTY,
        pps: Seed::EMPTY,
        null_seed: Seed::EMPTY,
        eh_proof: Seed::EMPTY,
        sh_proof: Seed::EMPTY,
        ph_proof: Seed::EMPTY,
        null_proof: Seed::EMPTY,
        owner_auth: Auth::EMPTY,
        endorsement_auth: Auth::EMPTY,
        platform_auth: Auth::EMPTY,
        lockout_auth: Auth::EMPTY,
        owner_policy: Digest::EMPTY,
        endorsement_policy: Digest::EMPTY,
        platform_policy: Digest::EMPTY,
        lockout_policy: Digest::EMPTY,
        sh_enable: false,
        eh_enable: false,
        ph_enable: false,
        ph_enable_nv: false,
        disable_clear: false,
    };

    /// The authValue of a permanent handle, if it has one.
    pub fn auth(&self, handle: u32) -> Option<&Auth> {
        match handle {
            RH_OWNER => Some(&self.owner_auth),
            RH_ENDORSEMENT => Some(&self.endorsement_auth),
            RH_PLATFORM => Some(&self.platform_auth),
            RH_LOCKOUT => Some(&self.lockout_auth),
            _ => None,
        }
    }

    /// The authValue of a permanent handle, mutably.
    pub fn auth_mut(&mut self, handle: u32) -> Option<&mut Auth> {
        match handle {
            RH_OWNER => Some(&mut self.owner_auth),
            RH_ENDORSEMENT => Some(&mut self.endorsement_auth),
            RH_PLATFORM => Some(&mut self.platform_auth),
            RH_LOCKOUT => Some(&mut self.lockout_auth),
            _ => None,
        }
    }

    /// The proof value of a hierarchy (for tickets).
    pub fn proof(&self, hierarchy: u32) -> Option<&Seed> {
        match hierarchy {
            RH_OWNER => Some(&self.sh_proof),
            RH_ENDORSEMENT => Some(&self.eh_proof),
            RH_PLATFORM => Some(&self.ph_proof),
            RH_NULL => Some(&self.null_proof),
            _ => None,
        }
    }

    /// Whether a hierarchy is enabled (TPMA_STARTUP_CLEAR); the null hierarchy always is.
    pub fn enabled(&self, hierarchy: u32) -> bool {
        match hierarchy {
            RH_OWNER => self.sh_enable,
            RH_ENDORSEMENT => self.eh_enable,
            RH_PLATFORM => self.ph_enable,
            _ => true,
        }
    }
}
