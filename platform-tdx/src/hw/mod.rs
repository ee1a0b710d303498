//! The hardware door, built only for bare metal (`target_os = "none"`): TDCALL (TDG.MR.REPORT,
//! TDG.MR.RTMR.EXTEND, TDG.MR.VERIFYREPORT) and TDG.VP.VMCALL (GetQuote, Service). The only
//! `unsafe` code of the crate lives here, each block with a `// SAFETY:` comment; everything it
//! feeds is pure logic tested on the host against the simulated TDX module of `host-sim`.
//!
//! Entropy (RDSEED / RDRAND) and the TSC clock are `platform_snp::hw::{RdSeed, TscClock}`: the
//! same x86 instructions. In a TD the TSC is virtualised by the TDX module at a fixed frequency
//! the host cannot change after launch.
#![allow(unsafe_code)]

pub mod tdcall;

pub use tdcall::{SharedBuffers, TdcallTransport};
