//! [`SnpPlatform`]: the [`vtpm::Platform`] of a vTPM running at VMPL0 in an SEV-SNP guest.

use vtpm::{Platform, PlatformError};

use crate::report::{self, CertLength, REPORT_SIZE, ReportError};
use crate::requester::{RequestError, Requester};
use crate::transport::GuestRequestTransport;

/// A source of full-entropy bytes (on hardware: RDSEED with bounded retries, `hw::rng`).
pub trait EntropySource {
    /// Fill `buf`, or fail with [`PlatformError::EntropyUnavailable`].
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), PlatformError>;
}

/// A monotonic millisecond clock (on hardware: the TSC, `hw::tsc`).
pub trait MonotonicClock {
    /// Milliseconds since an arbitrary fixed point; never decreases.
    fn now_ms(&mut self) -> Result<u64, PlatformError>;
}

/// The VMPL the vTPM runs at and asks reports for: 0 (AMD 56860 §8.26: a VMPL0 report proves
/// that REPORT_DATA came from VMPL0 software).
pub const VTPM_VMPL: u32 = 0;

/// The vTPM's platform on SEV-SNP (AMD 56860): entropy, a clock, and evidence = an
/// ATTESTATION_REPORT at VMPL 0 over the report data, requested with VMPCK0.
pub struct SnpPlatform<T: GuestRequestTransport, E: EntropySource, C: MonotonicClock> {
    requester: Requester<T>,
    entropy: E,
    clock: C,
    last_error: Option<ReportError>,
}

impl<T: GuestRequestTransport, E: EntropySource, C: MonotonicClock> core::fmt::Debug
    for SnpPlatform<T, E, C>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SnpPlatform")
            .field("requester", &self.requester)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

impl<T: GuestRequestTransport, E: EntropySource, C: MonotonicClock> SnpPlatform<T, E, C> {
    /// A platform over a VMPCK0 requester, an entropy source and a clock.
    pub fn new(requester: Requester<T>, entropy: E, clock: C) -> Self {
        Self {
            requester,
            entropy,
            clock,
            last_error: None,
        }
    }

    /// The requester (its sequence number, whether its key is wiped).
    pub fn requester(&self) -> &Requester<T> {
        &self.requester
    }

    /// The requester, mutably.
    pub fn requester_mut(&mut self) -> &mut Requester<T> {
        &mut self.requester
    }

    /// Why the last [`Platform::evidence`] call failed (the trait's error is coarser).
    pub fn last_error(&self) -> Option<ReportError> {
        self.last_error
    }

    /// A VMPL0 attestation report over `report_data` into `report`; with `certs`, an extended
    /// request that also fetches the host's certificate table (returns its length).
    pub fn attestation_report(
        &mut self,
        report_data: &[u8; 64],
        report: &mut [u8; REPORT_SIZE],
        certs: Option<&mut [u8]>,
    ) -> Result<CertLength, ReportError> {
        let r = report::request_report(&mut self.requester, report_data, VTPM_VMPL, report, certs);
        self.last_error = r.err();
        r
    }
}

impl<T: GuestRequestTransport, E: EntropySource, C: MonotonicClock> Platform
    for SnpPlatform<T, E, C>
{
    fn fill_entropy(&mut self, buf: &mut [u8]) -> Result<(), PlatformError> {
        self.entropy.fill(buf)
    }

    fn now_ms(&mut self) -> Result<u64, PlatformError> {
        self.clock.now_ms()
    }

    /// The raw 0x4A0-byte ATTESTATION_REPORT (VMPL 0, KEY_SEL 0) over `report_data`.
    fn evidence(&mut self, report_data: &[u8; 64], out: &mut [u8]) -> Result<usize, PlatformError> {
        let dst = out
            .get_mut(..REPORT_SIZE)
            .ok_or(PlatformError::BufferTooSmall)?;
        let mut report = [0u8; REPORT_SIZE];
        match self.attestation_report(report_data, &mut report, None) {
            Ok(_) => {
                dst.copy_from_slice(&report);
                Ok(REPORT_SIZE)
            }
            Err(ReportError::Request(RequestError::BufferTooSmall)) => {
                Err(PlatformError::BufferTooSmall)
            }
            Err(_) => Err(PlatformError::EvidenceUnavailable),
        }
    }
}

/// Source of attestation reports for the SVSM attestation protocol: implemented by
/// [`SnpPlatform`]; a test double can stand in for it.
pub trait AttestationSource {
    /// See [`SnpPlatform::attestation_report`].
    fn attestation_report(
        &mut self,
        report_data: &[u8; 64],
        report: &mut [u8; REPORT_SIZE],
        certs: Option<&mut [u8]>,
    ) -> Result<CertLength, ReportError>;
}

impl<T: GuestRequestTransport, E: EntropySource, C: MonotonicClock> AttestationSource
    for SnpPlatform<T, E, C>
{
    fn attestation_report(
        &mut self,
        report_data: &[u8; 64],
        report: &mut [u8; REPORT_SIZE],
        certs: Option<&mut [u8]>,
    ) -> Result<CertLength, ReportError> {
        SnpPlatform::attestation_report(self, report_data, report, certs)
    }
}
