//! The hardware door, built only for bare metal (`target_os = "none"`): the GHCB guest-request
//! VMGEXIT (AMD 56421), RDSEED / RDRAND entropy, and the TSC clock. The only `unsafe` code of the
//! crate lives here, each block with a `// SAFETY:` comment; everything it feeds is pure logic
//! tested on the host against the simulated AMD-SP.
#![allow(unsafe_code)]

pub mod ghcb;
pub mod rng;
pub mod tsc;

pub use ghcb::{GhcbTransport, SharedPages};
pub use rng::RdSeed;
pub use tsc::TscClock;
