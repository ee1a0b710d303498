//! `platform-snp`: the AMD SEV-SNP backend of the vtpm core, for firmware at VMPL0.
//!
//! `#![cfg_attr(not(test), no_std)]`, no `alloc`. All `unsafe` is in [`hw`] (built only for `target_os = "none"`);
//! everything else is pure logic that runs in `cargo test` against the simulated AMD-SP of
//! `host-sim`.
//!
//! | module | what | spec |
//! |---|---|---|
//! | [`msg`] | guest message header, AES-256-GCM seal / open with a VMPCK | AMD 56860 §8.26 |
//! | [`report`] | MSG_REPORT_REQ / RSP, ATTESTATION_REPORT v2/v3/v5, signature check | AMD 56860 Table 21 |
//! | [`requester`] | sequence numbers, BUSY / INVALID_LEN rules, VMPCK wipe | AMD 56421 §4.1.8 |
//! | [`transport`] | [`transport::GuestRequestTransport`]: the door to the hypervisor | AMD 56421 |
//! | [`svsm`] | SVSM vTPM protocol and vTPM service attestation | AMD 58019 ch. 7, 8 |
//! | [`boot`] | manufacture the vTPM and create the EK | TCG EK Credential Profile |
//! | [`ekcert`] | per-boot CA bound in REPORT_DATA, CA and EK certificates in NV | TCG EK Credential Profile §2.2, §3.2; RFC 5280 |
//! | `hw` | GHCB VMGEXIT, RDSEED / RDRAND, TSC (bare metal only) | AMD 56421, APM |
//!
//! # Panics
//! None: the workspace lints (`unwrap_used`, `indexing_slicing`, `arithmetic_side_effects`,
//! `panic`, ...) are fatal for this crate.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![cfg_attr(
    test,
    allow(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)
)]

pub mod boot;
pub mod ekcert;
mod layout;
pub mod msg;
mod platform;
pub mod report;
pub mod requester;
pub mod svsm;
pub mod transport;

#[cfg(target_os = "none")]
pub mod hw;

pub use boot::{BootConfig, BootError, Ek, EkTemplate, boot, boot_in_place};
pub use msg::Vmpck;
pub use platform::{AttestationSource, EntropySource, MonotonicClock, SnpPlatform, VTPM_VMPL};
pub use report::{AttestationReport, VcekPublicKey, VerifyError};
pub use requester::{RequestError, Requester};
pub use svsm::{GuestMemory, SvsmError, SvsmRegs, VtpmService};
pub use transport::{GuestRequestTransport, TransportError};

/// Size of a page: guest messages, the SVSM vTPM buffer and the secrets page are one page each.
pub const PAGE_SIZE: usize = 4096;
