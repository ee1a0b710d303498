//! `host-sim`: the vtpm core on an ordinary host.
//!
//! - [`SimPlatform`]: the [`vtpm::Platform`] of the simulator (OS entropy, or a seeded
//!   deterministic stream for reproducible tests; a monotonic clock; no hardware evidence yet).
//! - [`mssim`]: a TCP server speaking the Microsoft TPM simulator protocol, so tpm2-tools,
//!   tpm2-pytss and tpm2-abrmd can talk to the core (`spec/clients.md` §1–4).
//! - [`qemu`]: QEMU's `tpm-emulator` backend protocol over a unix socket, so a QEMU guest
//!   (OVMF measured boot, Linux) uses the core (`spec/qemu-tpm-emulator.md`).
//! - [`amdsp`]: a simulated AMD-SP for SEV-SNP guest requests (VCEK, VMPCKs, version-3 reports,
//!   fault injection); [`snp`]: `platform_snp::SnpPlatform` over it; [`snp_verify`]: the
//!   `verify-snp-report` command; [`amd_chain`]: AMD's certificate chain ARK → ASK → VCEK
//!   (RSASSA-PSS / SHA-384), AMD's pinned roots and the simulated one the simulated AMD-SP uses.
//!
//! - [`attest`]: `host-sim attest`, a simulated SEV-SNP VM measured into the vTPM and attested
//!   end to end by [`verifier`] (the remote verifier as a library), with the TCG crypto-agile
//!   event log of [`eventlog`].
//!
//! The server binds to 127.0.0.1 only.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

pub mod amd_chain;
pub mod amdsp;
pub mod attest;
pub mod eventlog;
pub mod mssim;
mod platform;
pub mod qemu;
pub mod snp;
pub mod snp_verify;
pub mod tdx;
pub mod tdx_verify;
pub mod verifier;

pub use platform::{EntropyFault, SimPlatform};

/// A seed on the command line (`--seed N`): decimal, or hex with `0x`.
pub fn parse_seed(value: &str) -> Result<u64, String> {
    let parsed = match value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse::<u64>(),
    };
    parsed.map_err(|_| "not a 64-bit number (decimal or 0x hex)".to_owned())
}
