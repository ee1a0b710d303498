//! `vtpm`: an ephemeral TPM 2.0 core for confidential-VM firmware.
//!
//! `#![no_std]`, no `alloc`, no `unsafe`. A transport (the SVSM page, a TDX service channel, the
//! simulator's TCP server) copies a command out of shared memory, calls [`Tpm::execute`], and
//! copies the response back.
//!
//! # The panic contract
//! [`Tpm::execute`] never panics and always writes a well-formed TPM response: malformed input
//! gets the TCG response code (TCG TPM 2.0 Part 2 §6.6), and a command that fails changes no
//! state. The workspace clippy lints (`unwrap_used`, `indexing_slicing`,
//! `arithmetic_side_effects`, ...) are fatal for this crate.
#![no_std]
#![forbid(unsafe_code)]

pub mod error;
pub mod platform;
pub mod wire;

pub use error::{TpmRc, TpmResult};
pub use platform::{Platform, PlatformError};

/// Largest command the core accepts (TPM_PT_MAX_COMMAND_SIZE).
pub const MAX_COMMAND_SIZE: usize = 4096;
/// Largest response the core produces (TPM_PT_MAX_RESPONSE_SIZE).
pub const MAX_RESPONSE_SIZE: usize = 4096;

/// The TPM: all state of one ephemeral instance, owned by the firmware (or the simulator).
pub struct Tpm<P: Platform> {
    platform: P,
}

impl<P: Platform> Tpm<P> {
    /// Manufacture a fresh ephemeral TPM: draw new seeds from `platform` and power it on. The
    /// first command must be TPM2_Startup. If the entropy source fails, the TPM starts in
    /// failure mode.
    pub fn new(platform: P) -> Self {
        Self { platform }
    }

    /// _TPM_Init (Part 1 §12.2): the power-on / reset signal. Volatile state (loaded objects,
    /// sessions) is lost and the next command must be TPM2_Startup. Seeds are kept: this is a
    /// reboot of the same TPM, not a new one.
    pub fn init(&mut self) {}

    /// Execute one command received at `locality` and write the response into `response`;
    /// returns the response length (always ≥ 10). Never panics.
    pub fn execute(
        &mut self,
        locality: u8,
        command: &[u8],
        response: &mut [u8; MAX_RESPONSE_SIZE],
    ) -> usize {
        let _ = (locality, command);
        let rsp = [0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x01, 0x43];
        if let Some(dst) = response.get_mut(..10) {
            dst.copy_from_slice(&rsp);
        }
        10
    }

    /// The platform this TPM runs on.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Mutable access to the platform.
    pub fn platform_mut(&mut self) -> &mut P {
        &mut self.platform
    }
}
