//! The `Platform` trait: everything the core needs from the machine it runs on.

/// Why a platform service failed. Portable across backends, as embedded-hal's error kinds are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformError {
    /// The entropy source gave no output (e.g. RDSEED kept failing past its retry bound).
    EntropyUnavailable,
    /// The clock could not be read.
    ClockUnavailable,
    /// The hardware evidence (attestation report) could not be produced.
    EvidenceUnavailable,
    /// The output buffer is too small for the evidence.
    BufferTooSmall,
}

/// What the TPM core needs from its host: full-entropy bytes, a monotonic millisecond clock, and
/// hardware evidence binding 64 bytes of report data.
///
/// Implemented by `platform-snp` (RDSEED, TSC, SNP attestation report), `platform-tdx` and the
/// host simulator. All methods are fallible; an entropy failure puts the TPM in failure mode.
pub trait Platform {
    /// Fill `buf` with full-entropy bytes (used to seed and reseed the DRBG).
    fn fill_entropy(&mut self, buf: &mut [u8]) -> Result<(), PlatformError>;

    /// Milliseconds since an arbitrary fixed point; never decreases.
    fn now_ms(&mut self) -> Result<u64, PlatformError>;

    /// Produce hardware evidence (e.g. an SNP attestation report) over `report_data` into `out`;
    /// returns the number of bytes written.
    fn evidence(&mut self, report_data: &[u8; 64], out: &mut [u8]) -> Result<usize, PlatformError>;
}
