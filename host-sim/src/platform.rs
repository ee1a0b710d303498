//! [`SimPlatform`]: the simulator's implementation of [`vtpm::Platform`].

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};
use std::fs::File;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};
use vtpm::{Platform, PlatformError};

/// Domain-separation label of the seeded stream; changing it changes every seeded test vector.
const SEEDED_LABEL: &[u8] = b"host-sim seeded entropy v1";

/// Where [`SimPlatform`] takes its entropy from.
enum Entropy {
    /// The kernel's CSPRNG, read from `/dev/urandom`.
    Os,
    /// SHA-256 in counter mode: block `i` is `SHA-256(label ‖ seed ‖ i)` (big-endian u64s).
    Seeded(SeededStream),
}

/// A deterministic byte stream: the same seed gives the same bytes however the reads are split.
struct SeededStream {
    seed: u64,
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl SeededStream {
    fn new(seed: u64) -> Self {
        Self {
            seed,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for byte in buf {
            if self.used == self.block.len() {
                let mut h = Sha256::new();
                h.update(SEEDED_LABEL);
                h.update(self.seed.to_be_bytes());
                h.update(self.counter.to_be_bytes());
                self.block.copy_from_slice(h.finalize().as_slice());
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }
}

/// The platform the simulated TPM runs on.
///
/// - Entropy: `/dev/urandom` ([`SimPlatform::new`]) or a deterministic SHA-256 counter-mode
///   stream ([`SimPlatform::seeded`]). Either can be made to fail on demand through an
///   [`EntropyFault`] switch, to drive the core into failure mode in tests.
/// - Clock: milliseconds since the platform was created, from [`std::time::Instant`].
/// - Evidence: none yet; always [`PlatformError::EvidenceUnavailable`].
pub struct SimPlatform {
    entropy: Entropy,
    fault: Arc<AtomicBool>,
    start: Instant,
}

impl SimPlatform {
    /// A platform drawing entropy from the operating system (`/dev/urandom`).
    pub fn new() -> Self {
        Self::with_entropy(Entropy::Os)
    }

    /// A platform whose entropy is a deterministic stream derived from `seed`: two TPMs built on
    /// the same seed draw the same seeds and keys. For reproducible tests only.
    pub fn seeded(seed: u64) -> Self {
        Self::with_entropy(Entropy::Seeded(SeededStream::new(seed)))
    }

    /// A platform whose entropy source fails from the start ([`Platform::fill_entropy`] returns
    /// [`PlatformError::EntropyUnavailable`] until the fault is cleared through
    /// [`SimPlatform::entropy_fault`]). Once cleared it draws from the operating system.
    pub fn failing_entropy() -> Self {
        let p = Self::new();
        p.fault.store(true, Ordering::SeqCst);
        p
    }

    fn with_entropy(entropy: Entropy) -> Self {
        Self {
            entropy,
            fault: Arc::new(AtomicBool::new(false)),
            start: Instant::now(),
        }
    }

    /// A switch that makes this platform's entropy source fail (or work again). It can be cloned
    /// and kept after the platform has been moved into a `Tpm` or a server.
    pub fn entropy_fault(&self) -> EntropyFault {
        EntropyFault(Arc::clone(&self.fault))
    }

    /// Whether entropy comes from a seeded deterministic stream.
    pub fn is_seeded(&self) -> bool {
        matches!(self.entropy, Entropy::Seeded(_))
    }
}

impl Default for SimPlatform {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SimPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.entropy {
            Entropy::Os => "os",
            Entropy::Seeded(_) => "seeded",
        };
        f.debug_struct("SimPlatform")
            .field("entropy", &source)
            .field("entropy_failing", &self.fault.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl Platform for SimPlatform {
    fn fill_entropy(&mut self, buf: &mut [u8]) -> Result<(), PlatformError> {
        if self.fault.load(Ordering::SeqCst) {
            return Err(PlatformError::EntropyUnavailable);
        }
        match &mut self.entropy {
            Entropy::Os => File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(buf))
                .map_err(|_| PlatformError::EntropyUnavailable),
            Entropy::Seeded(stream) => {
                stream.fill(buf);
                Ok(())
            }
        }
    }

    fn now_ms(&mut self) -> Result<u64, PlatformError> {
        u64::try_from(self.start.elapsed().as_millis()).map_err(|_| PlatformError::ClockUnavailable)
    }

    fn evidence(
        &mut self,
        _report_data: &[u8; 64],
        _out: &mut [u8],
    ) -> Result<usize, PlatformError> {
        Err(PlatformError::EvidenceUnavailable)
    }
}

/// A shared switch that makes a [`SimPlatform`]'s entropy source fail on demand.
#[derive(Clone, Debug)]
pub struct EntropyFault(Arc<AtomicBool>);

impl EntropyFault {
    /// Make every later [`Platform::fill_entropy`] call fail (`true`) or succeed again (`false`).
    pub fn set(&self, failing: bool) {
        self.0.store(failing, Ordering::SeqCst);
    }

    /// Whether the entropy source is currently failing.
    pub fn is_failing(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_stream_is_deterministic_and_split_independent() {
        let mut a = SimPlatform::seeded(42);
        let mut b = SimPlatform::seeded(42);
        let mut whole = [0u8; 100];
        a.fill_entropy(&mut whole).unwrap();
        let mut parts = [0u8; 100];
        let (x, rest) = parts.split_at_mut(7);
        let (y, z) = rest.split_at_mut(32);
        b.fill_entropy(x).unwrap();
        b.fill_entropy(y).unwrap();
        b.fill_entropy(z).unwrap();
        assert_eq!(whole, parts);
        // The stream advances: the next bytes differ from the first ones.
        let mut next = [0u8; 100];
        a.fill_entropy(&mut next).unwrap();
        assert_ne!(whole, next);
    }

    #[test]
    fn seeded_stream_matches_its_definition() {
        let mut p = SimPlatform::seeded(7);
        let mut got = [0u8; 40];
        p.fill_entropy(&mut got).unwrap();
        let block = |i: u64| {
            let mut h = Sha256::new();
            h.update(SEEDED_LABEL);
            h.update(7u64.to_be_bytes());
            h.update(i.to_be_bytes());
            h.finalize()
        };
        assert_eq!(&got[..32], block(0).as_slice());
        assert_eq!(&got[32..], &block(1).as_slice()[..8]);
    }

    #[test]
    fn different_seeds_differ() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        SimPlatform::seeded(1).fill_entropy(&mut a).unwrap();
        SimPlatform::seeded(2).fill_entropy(&mut b).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn os_entropy_works_and_is_not_constant() {
        let mut p = SimPlatform::new();
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        p.fill_entropy(&mut a).unwrap();
        p.fill_entropy(&mut b).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }

    #[test]
    fn entropy_fails_on_demand_and_recovers() {
        let mut p = SimPlatform::seeded(3);
        let fault = p.entropy_fault();
        let mut buf = [0u8; 16];
        fault.set(true);
        assert!(fault.is_failing());
        assert_eq!(
            p.fill_entropy(&mut buf),
            Err(PlatformError::EntropyUnavailable)
        );
        assert_eq!(buf, [0u8; 16], "a failed fill leaves the buffer alone");
        fault.set(false);
        p.fill_entropy(&mut buf).unwrap();
        // A failed call does not advance the stream.
        let mut fresh = [0u8; 16];
        SimPlatform::seeded(3).fill_entropy(&mut fresh).unwrap();
        assert_eq!(buf, fresh);

        let mut f = SimPlatform::failing_entropy();
        assert_eq!(
            f.fill_entropy(&mut buf),
            Err(PlatformError::EntropyUnavailable)
        );
        f.entropy_fault().set(false);
        assert!(f.fill_entropy(&mut buf).is_ok());
    }

    #[test]
    fn clock_is_monotonic_and_evidence_unavailable() {
        let mut p = SimPlatform::new();
        let t0 = p.now_ms().unwrap();
        std::thread::sleep(core::time::Duration::from_millis(20));
        let t1 = p.now_ms().unwrap();
        assert!(t1 >= t0 + 20, "{t0} -> {t1}");
        let mut out = [0u8; 64];
        assert_eq!(
            p.evidence(&[0; 64], &mut out),
            Err(PlatformError::EvidenceUnavailable)
        );
    }
}
