//! The SEV-SNP backend on the host: `platform_snp::SnpPlatform` over the simulated AMD-SP, with
//! [`SimPlatform`]'s entropy and clock.

use platform_snp::{EntropySource, MonotonicClock, Requester, SnpPlatform, Vmpck};
use vtpm::{Platform, PlatformError};

use crate::SimPlatform;
use crate::amdsp::{SimAmdSp, SimGuestChannel};

/// [`SimPlatform`]'s entropy and clock as `platform-snp` sources.
#[derive(Debug)]
pub struct SimMachine(pub SimPlatform);

impl EntropySource for SimMachine {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), PlatformError> {
        self.0.fill_entropy(buf)
    }
}

impl MonotonicClock for SimMachine {
    fn now_ms(&mut self) -> Result<u64, PlatformError> {
        self.0.now_ms()
    }
}

/// The SNP platform of a simulated guest.
pub type SimSnpPlatform = SnpPlatform<SimGuestChannel, SimMachine, SimMachine>;

/// An [`SnpPlatform`] whose VMPCK0 requester talks to `sp` (key and sequence number as a fresh
/// launch gives them), with deterministic entropy from `seed`.
pub fn snp_platform(sp: &SimAmdSp, seed: u64) -> SimSnpPlatform {
    let key = Vmpck::new(sp.lock().vmpck(0));
    let last_seqno = sp.lock().counter(0);
    let requester = match Requester::new(sp.channel(), key, 0, last_seqno) {
        Ok(r) => r,
        // VMPCK index 0 is always valid.
        Err(_) => unreachable_requester(),
    };
    SnpPlatform::new(
        requester,
        SimMachine(SimPlatform::seeded(seed)),
        SimMachine(SimPlatform::new()),
    )
}

#[allow(clippy::panic)]
fn unreachable_requester() -> ! {
    panic!("VMPCK0 is a valid key index")
}
