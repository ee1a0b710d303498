//! [`TdxPlatform`]: the [`vtpm::Platform`] of a vTPM running in a TD.
//!
//! Entropy and the clock are the same x86 sources as on SEV-SNP (RDSEED with bounded retries,
//! the TSC), so the traits and bare-metal implementations of `platform-snp` serve here too.
//! Evidence is a TD quote: TDG.MR.REPORT over the report data, then TDVMCALL\<GetQuote\>.

use vtpm::{Platform, PlatformError};

pub use platform_snp::{EntropySource, MonotonicClock};

use crate::report::TDREPORT_SIZE;
use crate::transport::{QuoteError, TdxTransport, get_quote};

/// The vTPM's platform in a TD: entropy, a clock, and evidence = a TD quote (v4 or v5, as the
/// quoting service makes them) whose REPORTDATA is the given report data.
pub struct TdxPlatform<T: TdxTransport, E: EntropySource, C: MonotonicClock> {
    transport: T,
    entropy: E,
    clock: C,
    last_error: Option<QuoteError>,
}

impl<T: TdxTransport, E: EntropySource, C: MonotonicClock> core::fmt::Debug
    for TdxPlatform<T, E, C>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TdxPlatform")
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

impl<T: TdxTransport, E: EntropySource, C: MonotonicClock> TdxPlatform<T, E, C> {
    /// A platform over a transport, an entropy source and a clock.
    pub fn new(transport: T, entropy: E, clock: C) -> Self {
        Self {
            transport,
            entropy,
            clock,
            last_error: None,
        }
    }

    /// Why the last [`Platform::evidence`] call failed (the trait's error is coarser).
    pub fn last_error(&self) -> Option<QuoteError> {
        self.last_error
    }

    /// The transport.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// A TD quote over `report_data` into `out` (which also serves as the private copy of the
    /// GetQuote buffer, so it needs 24 bytes more than the quote); returns the quote length.
    pub fn quote(&mut self, report_data: &[u8; 64], out: &mut [u8]) -> Result<usize, QuoteError> {
        let r = (|| {
            let mut report = [0u8; TDREPORT_SIZE];
            self.transport
                .tdreport(report_data, &mut report)
                .map_err(QuoteError::Report)?;
            get_quote(&mut self.transport, &report, out)
        })();
        self.last_error = r.err();
        r
    }
}

impl<T: TdxTransport, E: EntropySource, C: MonotonicClock> Platform for TdxPlatform<T, E, C> {
    fn fill_entropy(&mut self, buf: &mut [u8]) -> Result<(), PlatformError> {
        self.entropy.fill(buf)
    }

    fn now_ms(&mut self) -> Result<u64, PlatformError> {
        self.clock.now_ms()
    }

    /// A TD quote whose REPORTDATA is `report_data`.
    fn evidence(&mut self, report_data: &[u8; 64], out: &mut [u8]) -> Result<usize, PlatformError> {
        match self.quote(report_data, out) {
            Ok(n) => Ok(n),
            Err(QuoteError::BufferTooSmall) => Err(PlatformError::BufferTooSmall),
            Err(_) => Err(PlatformError::EvidenceUnavailable),
        }
    }
}
