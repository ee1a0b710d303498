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
#![cfg_attr(
    test,
    allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)
)]

pub mod authorization;
pub mod commands;
pub mod crypto;
pub mod dispatch;
pub mod error;
pub mod platform;
pub mod state;
pub mod wire;

pub use error::{TpmRc, TpmResult};
pub use platform::{Platform, PlatformError};

/// Largest command the core accepts (TPM_PT_MAX_COMMAND_SIZE): what every transport carries.
/// The SVSM vTPM page is the tightest: 4096 bytes less the 9-byte TPM_SEND_COMMAND header
/// (AMD 58019, SVSM_VTPM_CMD).
pub const MAX_COMMAND_SIZE: usize = 4087;
/// Largest response the core produces (TPM_PT_MAX_RESPONSE_SIZE): the SVSM page less its
/// 4-byte response size field.
pub const MAX_RESPONSE_SIZE: usize = 4092;

/// TPM_GENERATED_VALUE (Part 2 §6.2): the first four bytes of every TPMS_ATTEST.
pub const TPM_GENERATED_VALUE: u32 = 0xFF54_4347;

use state::hierarchy::{Hierarchies, Seed};
use state::object::Objects;
use state::pcr::PcrBanks;
use state::session::Sessions;
use state::{Clock, Orderly, Phase, Rng};

/// The TPM: all state of one ephemeral instance, owned by the firmware (or the simulator).
///
/// Generic over its [`Platform`], not `dyn`, not a global. Firmware that needs a shared
/// instance wraps it in [`SharedTpm`].
pub struct Tpm<P: Platform> {
    platform: P,
    pub(crate) phase: Phase,
    pub(crate) failure: bool,
    /// Whether [`Tpm::manufacture_in_place`] succeeded (seeds drawn).
    manufactured: bool,
    pub(crate) orderly: Orderly,
    pub(crate) rng: Rng,
    pub(crate) hier: Hierarchies,
    pub(crate) pcrs: PcrBanks,
    pub(crate) objects: Objects,
    pub(crate) sessions: Sessions,
    pub(crate) clock: Clock,
    /// Next TPMS_CONTEXT.sequence.
    pub(crate) context_sequence: u64,
    /// Dictionary-attack protection.
    pub(crate) da: state::da::DictionaryAttack,
    /// NV indices.
    pub(crate) nv: state::nv::NvIndices,
    /// The code of the command being executed (for per-command authorization rules).
    pub(crate) current_cc: wire::constants::TpmCc,
    /// The exclusive audit session (Part 1 §19.6.14: no command ran outside it since its
    /// audit started).
    pub(crate) exclusive_audit: Option<u32>,
    /// Command audit (Part 1 §32).
    pub(crate) audit: state::audit::CommandAudit,
    /// Two-phase ECC commit state (Part 3 §14.7–14.8).
    pub(crate) commits: state::Commits,
    /// TPM_PT_ALGORITHM_SET, as TPM2_SetAlgorithmSet left it (Part 3 §26.3).
    pub(crate) algorithm_set: u32,
}

impl<P: Platform> core::fmt::Debug for Tpm<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tpm")
            .field("phase", &self.phase)
            .field("failure", &self.failure)
            .field("free_objects", &self.objects.free())
            .field("sessions", &self.sessions.count())
            .finish_non_exhaustive()
    }
}

impl<P: Platform> Tpm<P> {
    /// Manufacture a fresh ephemeral TPM: seed the DRBG from `platform`, draw every primary
    /// seed and proof, and power on (_TPM_Init). The first command must be TPM2_Startup. If
    /// the entropy source fails, the TPM starts in failure mode.
    ///
    /// Returns the TPM by value (about 48 KB): for hosts. Firmware keeps the TPM where it
    /// chooses and uses [`Tpm::unmanufactured`] + [`Tpm::manufacture_in_place`].
    pub fn new(platform: P) -> Self {
        let mut tpm = Self::unmanufactured(platform);
        // An entropy failure leaves the TPM in failure mode, which `in_failure_mode` reports.
        let _ = tpm.manufacture_in_place();
        tpm
    }

    /// A TPM that is not manufactured yet: no entropy drawn, no seeds, no state; it is in
    /// failure mode (every command but GetTestResult and GetCapability answers
    /// TPM_RC_FAILURE) until [`Tpm::manufacture_in_place`]. A `const fn`, so firmware can hold
    /// the TPM in a `static` (or memory it owns) and manufacture it there through `&mut`
    /// without ever moving it.
    pub const fn unmanufactured(platform: P) -> Self {
        Self {
            platform,
            phase: Phase::AwaitStartup,
            failure: true,
            manufactured: false,
            orderly: Orderly::None,
            rng: Rng::UNSEEDED,
            hier: Hierarchies::EMPTY,
            pcrs: PcrBanks::EMPTY,
            objects: Objects::EMPTY,
            sessions: Sessions::EMPTY,
            clock: Clock {
                base_ms: 0,
                init_ms: 0,
                last_ms: 0,
                reset_count: 0,
                restart_count: 0,
                total_resets: 0,
                clock_offset_ms: 0,
                clear_count: 0,
            },
            context_sequence: 1,
            da: state::da::DictionaryAttack::MANUFACTURED,
            nv: state::nv::NvIndices::EMPTY,
            current_cc: wire::constants::TpmCc(0),
            exclusive_audit: None,
            audit: state::audit::CommandAudit::new(crate::crypto::hash::HashAlg::Sha384),
            commits: state::Commits::EMPTY,
            algorithm_set: 0,
        }
    }

    /// Manufacture a TPM from [`Tpm::unmanufactured`] where it lies: seed the DRBG from the
    /// platform, draw every primary seed and proof, and power on (_TPM_Init); the first command
    /// must then be TPM2_Startup. Nothing larger than the DRBG state and the hierarchies' seeds
    /// is built on the stack.
    ///
    /// Errors: TPM_RC_FAILURE if the entropy source fails (the TPM stays in failure mode; a
    /// later call may retry); TPM_RC_INITIALIZE if this TPM was already manufactured (it is
    /// left as it was: its seeds are never redrawn under live objects).
    pub fn manufacture_in_place(&mut self) -> TpmResult<()> {
        if self.manufactured {
            return Err(TpmRc::INITIALIZE);
        }
        let now = self.platform.now_ms().unwrap_or(0);
        self.clock.base_ms = now;
        self.clock.init_ms = now;
        self.clock.last_ms = now;
        self.rng = Rng::new(&mut self.platform).map_err(|_| TpmRc::FAILURE)?;
        self.manufacture()?;
        self.failure = false;
        self.manufactured = true;
        Ok(())
    }

    /// Draw the seeds and proofs and set the hierarchies to their manufactured state.
    fn manufacture(&mut self) -> TpmResult<()> {
        let mut h = Hierarchies {
            sh_enable: true,
            eh_enable: true,
            ph_enable: true,
            ph_enable_nv: true,
            ..Hierarchies::default()
        };
        for seed in [
            &mut h.eps,
            &mut h.sps,
            &mut h.pps,
            &mut h.null_seed,
            &mut h.eh_proof,
            &mut h.sh_proof,
            &mut h.ph_proof,
            &mut h.null_proof,
        ] {
            *seed = self.new_seed()?;
        }
        self.hier = h;
        Ok(())
    }

    /// A fresh 64-byte seed from the DRBG.
    pub(crate) fn new_seed(&mut self) -> TpmResult<Seed> {
        let mut s = Seed::zeroed(state::hierarchy::SEED_SIZE).ok_or(TpmRc::FAILURE)?;
        self.random(s.expose_mut())?;
        Ok(s)
    }

    /// Fill `out` from the DRBG; an entropy failure latches failure mode.
    pub(crate) fn random(&mut self, out: &mut [u8]) -> TpmResult<()> {
        let r = self.rng.fill(&mut self.platform, out);
        if r.is_err() {
            self.failure = true;
        }
        r
    }

    /// Advance the clock from the platform (a failing clock keeps the last value).
    pub(crate) fn tick(&mut self) {
        if let Ok(now) = self.platform.now_ms() {
            self.clock.last_ms = self.clock.last_ms.max(now);
        }
        self.da.tick(self.clock.last_ms);
    }

    /// _TPM_Init (Part 1 §12.2): the power-on / reset signal. Volatile state (loaded objects,
    /// loaded sessions) is lost and the next command must be TPM2_Startup. Seeds are kept: this
    /// is a reboot of the same TPM, not a new one. Saved sessions stay for a TPM Resume or
    /// Restart (Part 1 §30, the reference's SessionStartup; TPM2_Startup drops them at a TPM
    /// Reset).
    pub fn init(&mut self) {
        self.objects.clear();
        self.sessions.drop_loaded();
        self.exclusive_audit = None;
        self.phase = Phase::AwaitStartup;
        self.tick();
        self.clock.init_ms = self.clock.last_ms;
    }

    /// Execute one command received at `locality` and write the response into `response`;
    /// returns the response length (always ≥ 10). Never panics; a failing command changes no
    /// state and gets the 10-byte error response.
    ///
    /// Decrypted parameters go to a [`MAX_COMMAND_SIZE`] scratch buffer on the stack (touched
    /// only by a command that decrypts): firmware that counts its stack uses
    /// [`Tpm::execute_with_scratch`] with a buffer it owns.
    pub fn execute(
        &mut self,
        locality: u8,
        command: &[u8],
        response: &mut [u8; MAX_RESPONSE_SIZE],
    ) -> usize {
        self.tick();
        let mut scratch = dispatch::LazyScratch(None);
        match self.run(locality, command, response, &mut scratch) {
            Ok(n) => n,
            Err(rc) => wire::header::write_error(response, rc),
        }
    }

    /// [`Tpm::execute`] with the caller's scratch buffer for decrypted parameters (Part 1 §21),
    /// so that a command's stack holds no copy of the command. The buffer carries nothing
    /// between commands: what a command decrypted into it is wiped before this returns.
    pub fn execute_with_scratch(
        &mut self,
        locality: u8,
        command: &[u8],
        response: &mut [u8; MAX_RESPONSE_SIZE],
        scratch: &mut [u8; MAX_COMMAND_SIZE],
    ) -> usize {
        self.tick();
        let mut scratch = dispatch::BorrowedScratch {
            buf: scratch,
            len: 0,
        };
        match self.run(locality, command, response, &mut scratch) {
            Ok(n) => n,
            Err(rc) => wire::header::write_error(response, rc),
        }
    }

    /// Whether the TPM is in failure mode (only GetTestResult and GetCapability answer).
    pub fn in_failure_mode(&self) -> bool {
        self.failure
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

/// A [`Tpm`] behind a spin lock, for firmware that serves it from more than one context.
pub struct SharedTpm<P: Platform>(spin::Mutex<Tpm<P>>);

impl<P: Platform> SharedTpm<P> {
    /// Wrap a TPM.
    pub const fn new(tpm: Tpm<P>) -> Self {
        Self(spin::Mutex::new(tpm))
    }

    /// Execute one command under the lock (see [`Tpm::execute`]).
    pub fn execute(
        &self,
        locality: u8,
        command: &[u8],
        response: &mut [u8; MAX_RESPONSE_SIZE],
    ) -> usize {
        self.0.lock().execute(locality, command, response)
    }

    /// Run `f` with the TPM locked.
    pub fn with<R>(&self, f: impl FnOnce(&mut Tpm<P>) -> R) -> R {
        f(&mut self.0.lock())
    }
}
