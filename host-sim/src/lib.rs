//! `host-sim`: the vtpm core on an ordinary host.
//!
//! - [`SimPlatform`]: the [`vtpm::Platform`] of the simulator (OS entropy, or a seeded
//!   deterministic stream for reproducible tests; a monotonic clock; no hardware evidence yet).
//! - [`mssim`]: a TCP server speaking the Microsoft TPM simulator protocol, so tpm2-tools,
//!   tpm2-pytss and tpm2-abrmd can talk to the core (`spec/clients.md` §1–4).
//!
//! The server binds to 127.0.0.1 only.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

pub mod mssim;
mod platform;

pub use platform::{EntropyFault, SimPlatform};
