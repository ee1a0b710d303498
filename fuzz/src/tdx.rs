//! Scaffolding of the TDX targets: a simulated TDX module with the vTPM TD and a user TD bound
//! to it, a transport that reaches only that module (TDCALLs; no VMM), and fixed entropy, so a
//! genuine hello is the same bytes in the seed generator and in the fuzz target.

use host_sim::tdx::{SimTdxModule, TdHandle, TdIdentity, VTPM_BINDING};
use platform_tdx::report::{REPORTMACSTRUCT_SIZE, TDREPORT_SIZE};
use platform_tdx::transport::{TdcallError, TdxTransport, VmcallError};
use platform_tdx::{Handshake, Policy, Role};
use vtpm::PlatformError;

/// Seed of the simulated platform (its report MAC key).
pub const MODULE_SEED: u64 = 7;

/// The simulated module and the two TDs on it.
pub struct TdxWorld {
    /// The module.
    pub module: SimTdxModule,
    /// The vTPM TD (server).
    pub vtpm: TdHandle,
    /// The user TD (client), bound to the vTPM TD (SERVTD_HASH).
    pub user: TdHandle,
}

/// The vTPM TD's identity.
pub fn vtpm_identity() -> TdIdentity {
    TdIdentity::named("vtpm-td")
}

/// The user TD's identity.
pub fn user_identity() -> TdIdentity {
    TdIdentity::named("user-td (TDVF)")
}

impl TdxWorld {
    /// A fresh module with both TDs launched and bound.
    pub fn new() -> Self {
        let mut module = SimTdxModule::new(MODULE_SEED);
        let vtpm = module.launch(&vtpm_identity());
        let user = module
            .launch_bound(&user_identity(), vtpm, VTPM_BINDING)
            .expect("the vTPM TD binds");
        Self { module, vtpm, user }
    }

    /// The door of the TD playing `role`.
    pub fn door(&mut self, role: Role) -> Door<'_> {
        let td = match role {
            Role::Client => self.user,
            Role::Server => self.vtpm,
        };
        Door {
            module: &mut self.module,
            td,
        }
    }

    /// A handshake of `role` on fixed entropy (`tag` varies the key).
    pub fn handshake(&mut self, role: Role, tag: u8) -> Handshake {
        Handshake::start(role, &mut self.door(role), fixed_entropy(role, tag))
            .expect("a handshake starts on the simulated module")
    }
}

impl Default for TdxWorld {
    fn default() -> Self {
        Self::new()
    }
}

/// What each side requires of the other: the user TD admits the vTPM TD's MRTD; the vTPM TD
/// admits production TDs whose RTMR3 is zero and whose SERVTD_HASH names it (as a value and
/// recomputed from its own TDREPORT for `VTPM_BINDING`).
pub fn policy(world: &TdxWorld, role: Role) -> Policy {
    match role {
        Role::Client => Policy {
            mrtd: Some(vtpm_identity().mrtd),
            ..Policy::default()
        },
        Role::Server => Policy {
            rtmr: [None, None, None, Some([0; 48])],
            servtd_hash: Some(world.module.td_info(world.user).servtd_hash),
            bound_to_self: Some(VTPM_BINDING),
            ..Policy::default()
        },
    }
}

/// Deterministic bytes for an ephemeral key (test scaffolding, not entropy).
pub fn fixed_entropy(role: Role, tag: u8) -> impl FnOnce(&mut [u8]) -> Result<(), PlatformError> {
    move |b: &mut [u8]| {
        let r = match role {
            Role::Client => 0x35u8,
            Role::Server => 0x53,
        };
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i as u8).wrapping_mul(0x9d).wrapping_add(r ^ tag);
        }
        Ok(())
    }
}

/// A TD's door to the simulated module: TDG.MR.REPORT and TDG.MR.VERIFYREPORT; no VMM.
pub struct Door<'a> {
    module: &'a mut SimTdxModule,
    td: TdHandle,
}

impl TdxTransport for Door<'_> {
    fn tdreport(
        &mut self,
        report_data: &[u8; 64],
        out: &mut [u8; TDREPORT_SIZE],
    ) -> Result<(), TdcallError> {
        *out = self.module.report(self.td, report_data);
        Ok(())
    }

    fn verify_report(
        &mut self,
        mac_struct: &[u8; REPORTMACSTRUCT_SIZE],
    ) -> Result<(), TdcallError> {
        if self.module.verify(mac_struct) {
            Ok(())
        } else {
            Err(TdcallError::OperandInvalid)
        }
    }

    fn rtmr_extend(&mut self, index: u8, digest: &[u8; 48]) -> Result<(), TdcallError> {
        if self.module.extend(self.td, index, digest) {
            Ok(())
        } else {
            Err(TdcallError::OperandInvalid)
        }
    }

    fn get_quote_submit(&mut self, _buffer: &[u8]) -> Result<(), VmcallError> {
        Err(VmcallError::Unavailable)
    }

    fn get_quote_poll(&mut self, _buffer: &mut [u8], _attempt: u32) -> Result<(), VmcallError> {
        Err(VmcallError::Unavailable)
    }

    fn service(
        &mut self,
        _command: &[u8],
        _response: &mut [u8],
        _timeout_ms: u32,
    ) -> Result<(), VmcallError> {
        Err(VmcallError::Unavailable)
    }
}
