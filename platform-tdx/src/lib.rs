//! `platform-tdx`: the Intel TDX backend of the vtpm core. The vTPM runs in its own TD (a
//! partner / service TD) and serves user TDs over an attested channel that the VMM relays but
//! cannot read or change.
//!
//! `#![cfg_attr(not(test), no_std)]`, no `alloc`. All `unsafe` is in `hw` (built only for
//! `target_os = "none"`); everything else is pure logic that runs in `cargo test` against the
//! simulated TDX module, quoting service and VMM of `host-sim`.
//!
//! | module | what | spec |
//! |---|---|---|
//! | [`report`] | TDREPORT_STRUCT, TD Quote v4 / v5 (TD 1.0 / 1.5 bodies), QE report | TDX Module ABI; DCAP Quoting Library API A.3, A.4 |
//! | [`transport`] | [`transport::TdxTransport`]: TDCALL / TDVMCALL door; GetQuote and Service buffers | TDX Module ABI; GHCI §3.3, §3.13 |
//! | [`channel`] | attested channel: P-384 keys bound in REPORTDATA, HKDF, AES-256-GCM records | spec/tdx.md §6 |
//! | [`service`] | the vTPM TD: instances, Create / Destroy / Communicate, PCR 0, EK evidence | spec/tdx.md §5 |
//! | [`client`] | the user TD's client | spec/tdx.md §5 |
//! | [`servtd`] | TDX 1.5 service-TD binding: SERVTD_ATTR, SERVTD_INFO_HASH, SERVTD_HASH | TDX Module 1.5 ABI, TDH.SERVTD.BIND, TDH.MR.FINALIZE |
//! | [`platform`] | [`TdxPlatform`]: `vtpm::Platform` with TD quotes as evidence | |
//! | `hw` | TDCALL, TDG.VP.VMCALL (bare metal only) | |
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

pub mod channel;
pub mod client;
mod layout;
pub mod platform;
pub mod report;
pub mod service;
pub mod servtd;
pub mod transport;

#[cfg(target_os = "none")]
pub mod hw;

pub use channel::{
    Channel, ChannelError, Handshake, HandshakeError, Policy, PolicyViolation, Role,
};
pub use client::{Client, ClientError};
pub use platform::{EntropySource, MonotonicClock, TdxPlatform};
pub use report::{ParseError, Quote, TdQuoteBody, TdReport};
pub use service::{Event, PlatformFactory, ServerError, TpmId, VtpmServer};
pub use servtd::{SelfBinding, ServtdAttr, ServtdBinding};
pub use transport::{QuoteError, TdcallError, TdxTransport, VmcallError};
