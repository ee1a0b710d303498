//! The panic contract and the command-processing order (Part 3 §5): malformed input gets the
//! spec's response code, the TPM keeps working, and nothing changes.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use host_sim::SimPlatform;
use vtpm::{MAX_RESPONSE_SIZE, Tpm};
use vtpm_tests::*;

#[test]
fn commands_before_startup_get_initialize_and_second_startup_too() {
    let mut h = Harness::unstarted(7);
    assert_eq!(
        h.send(cc::GET_RANDOM, &[], &[], &8u16.to_be_bytes()).rc(),
        0x100
    );
    h.ok(cc::STARTUP, &[], &[], &0u16.to_be_bytes());
    assert_eq!(
        h.send(cc::STARTUP, &[], &[], &0u16.to_be_bytes()).rc(),
        0x100
    );
}

#[test]
fn startup_state_without_saved_state_is_value() {
    let mut h = Harness::unstarted(7);
    assert_eq!(
        h.send(cc::STARTUP, &[], &[], &1u16.to_be_bytes()).rc(),
        0x1C4
    );
    assert_eq!(
        h.send(cc::STARTUP, &[], &[], &7u16.to_be_bytes()).rc(),
        0x1C4
    );
    h.ok(cc::STARTUP, &[], &[], &0u16.to_be_bytes());
}

#[test]
fn malformed_headers() {
    let mut h = Harness::new();
    let before = h.all_pcrs();
    let good = command(cc::GET_RANDOM, &[], &[], &8u16.to_be_bytes());
    // Truncated below a header.
    for n in 0..10 {
        let r = h.raw(&good[..n]);
        assert_eq!(r.rc(), 0x09A, "{n} bytes");
    }
    // commandSize disagrees with the bytes received.
    let mut bad = good.clone();
    bad[5] += 1;
    assert_eq!(h.raw(&bad).rc(), 0x142);
    let mut long = good.clone();
    long.push(0);
    assert_eq!(h.raw(&long).rc(), 0x142);
    // Larger than MAX_COMMAND_SIZE, consistent size field.
    let mut big = command(cc::STIR_RANDOM, &[], &[], &[]);
    big.resize(5000, 0);
    let n = big.len() as u32;
    big[2..6].copy_from_slice(&n.to_be_bytes());
    assert_eq!(h.raw(&big).rc(), 0x142);
    // Wrong tag: TPM_RC_BAD_TAG with TPM_ST_RSP_COMMAND.
    let mut t = good.clone();
    t[1] = 0x03;
    let r = h.raw(&t);
    assert_eq!((r.tag(), r.rc()), (0x00C4, 0x01E));
    // Unknown command code.
    assert_eq!(h.send(0x0000_0199, &[], &[], &[]).rc(), 0x143);
    assert_eq!(h.send(0x2000_0001, &[], &[], &[]).rc(), 0x143);
    // Trailing bytes after the parameters.
    let mut p = 8u16.to_be_bytes().to_vec();
    p.push(0);
    assert_eq!(h.send(cc::GET_RANDOM, &[], &[], &p).rc(), 0x095);
    // Missing parameter: INSUFFICIENT at parameter 1.
    assert_eq!(h.send(cc::GET_RANDOM, &[], &[], &[0]).rc(), 0x1DA);
    assert_eq!(before, h.all_pcrs());
    h.ok(cc::GET_RANDOM, &[], &[], &8u16.to_be_bytes());
}

#[test]
fn handle_and_session_errors_carry_their_position() {
    let mut h = Harness::new();
    let before = h.all_pcrs();
    let d = [0x11u8; 32];
    let dv = digest_values(&[(SHA256, &d)]);
    // PCR handle out of range: TPM_RC_VALUE at handle 1.
    assert_eq!(
        h.send(cc::PCR_EXTEND, &[0x20], &[AuthCmd::pw(b"")], &dv)
            .rc(),
        0x184
    );
    // No authorization area for a command that needs one.
    assert_eq!(h.send(cc::PCR_EXTEND, &[16], &[], &dv).rc(), 0x125);
    // Session handle of the wrong type: TPM_RC_VALUE at session 1.
    let mut s = AuthCmd::pw(b"");
    s.handle = 0x8000_0000;
    assert_eq!(h.send(cc::PCR_EXTEND, &[16], &[s], &dv).rc(), 0x984);
    // An HMAC session that is not loaded: TPM_RC_REFERENCE_S0.
    let mut s = AuthCmd::pw(b"");
    s.handle = 0x0200_0005;
    assert_eq!(h.send(cc::PCR_EXTEND, &[16], &[s], &dv).rc(), 0x918);
    // Wrong password for a PCR (no DA protection): TPM_RC_BAD_AUTH at session 1.
    assert_eq!(
        h.send(cc::PCR_EXTEND, &[16], &[AuthCmd::pw(b"x")], &dv)
            .rc(),
        0x9A2
    );
    // Unimplemented hash (SM3_256) in a digest: TPM_RC_HASH at parameter 1.
    let sm3 = digest_values(&[(0x0012, &[0u8; 32])]);
    assert_eq!(
        h.send(cc::PCR_EXTEND, &[16], &[AuthCmd::pw(b"")], &sm3)
            .rc(),
        0x1C3
    );
    // A transient handle that is not loaded: TPM_RC_REFERENCE_H0.
    assert_eq!(
        h.send(
            cc::SEQUENCE_UPDATE,
            &[0x8000_0003],
            &[AuthCmd::pw(b"")],
            &[0, 0]
        )
        .rc(),
        0x910
    );
    // Authorization size smaller than one session.
    let mut c = command(cc::PCR_EXTEND, &[16], &[AuthCmd::pw(b"")], &dv);
    c[14..18].copy_from_slice(&4u32.to_be_bytes());
    assert_eq!(h.raw(&c).rc(), 0x095);
    // A password session that authorizes nothing: TPM_RC_HANDLE at its position.
    let r = h.send(
        cc::GET_RANDOM,
        &[],
        &[AuthCmd::pw(b"")],
        &8u16.to_be_bytes(),
    );
    assert_eq!(r.rc(), 0x98B);
    assert_eq!(before, h.all_pcrs());
}

#[test]
fn failure_mode_after_entropy_failure() {
    let platform = SimPlatform::failing_entropy();
    let mut tpm = Tpm::new(platform);
    assert!(tpm.in_failure_mode());
    let mut buf = [0u8; MAX_RESPONSE_SIZE];
    let rc = |buf: &[u8]| u32::from_be_bytes(buf[6..10].try_into().unwrap());
    tpm.execute(0, &command(cc::STARTUP, &[], &[], &[0, 0]), &mut buf);
    assert_eq!(rc(&buf), 0x101);
    tpm.execute(0, &command(cc::GET_RANDOM, &[], &[], &[0, 8]), &mut buf);
    assert_eq!(rc(&buf), 0x101);
    let n = tpm.execute(0, &command(cc::GET_TEST_RESULT, &[], &[], &[]), &mut buf);
    assert_eq!(rc(&buf), 0);
    assert_eq!(u32::from_be_bytes(buf[n - 4..n].try_into().unwrap()), 0x101);
    let p = [
        &6u32.to_be_bytes()[..],
        &0x100u32.to_be_bytes(),
        &1u32.to_be_bytes(),
    ]
    .concat();
    tpm.execute(0, &command(cc::GET_CAPABILITY, &[], &[], &p), &mut buf);
    assert_eq!(rc(&buf), 0);
}

#[test]
fn entropy_failure_while_running_latches_failure_mode() {
    let mut h = Harness::new();
    let fault = h.tpm.platform().entropy_fault();
    fault.set(true);
    // The DRBG reseeds from the platform periodically; keep asking until it does.
    let mut failed = false;
    for _ in 0..10_000 {
        let r = h.send(cc::GET_RANDOM, &[], &[], &32u16.to_be_bytes());
        if r.rc() == 0x101 {
            failed = true;
            break;
        }
    }
    assert!(failed, "the reseed never reached the platform");
    fault.set(false);
    assert!(h.tpm.in_failure_mode());
    assert_eq!(
        h.send(cc::GET_RANDOM, &[], &[], &32u16.to_be_bytes()).rc(),
        0x101
    );
}

/// Deterministic garbage and mutations of valid commands: every response is well formed (the
/// harness checks it) and the TPM still answers afterwards.
#[test]
fn garbage_never_breaks_the_tpm() {
    let mut h = Harness::new();
    let seeds = [
        command(
            cc::PCR_EXTEND,
            &[16],
            &[AuthCmd::pw(b"")],
            &digest_values(&[(SHA256, &[1; 32])]),
        ),
        command(
            cc::GET_CAPABILITY,
            &[],
            &[],
            &[0, 0, 0, 6, 0, 0, 1, 0, 0, 0, 0, 127],
        ),
        command(cc::HASH_SEQUENCE_START, &[], &[], &[0, 0, 0, 0x10]),
        command(cc::START_AUTH_SESSION, &[RH_NULL, RH_NULL], &[], &{
            let mut p = Vec::new();
            tpm2b(&mut p, &[7; 32]);
            p.extend([0, 0, 0, 0, 0x10, 0, 0x0B]);
            p
        }),
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..200_000u32 {
        let mut c = seeds[(i % 4) as usize].clone();
        let flips = next() % 4 + 1;
        for _ in 0..flips {
            let pos = (next() as usize) % c.len();
            c[pos] = next() as u8;
        }
        if next() % 8 == 0 {
            let cut = (next() as usize) % c.len();
            c.truncate(cut);
        }
        h.locality = (next() % 6) as u8;
        h.raw(&c);
    }
    h.locality = 0;
    // Flush whatever the mutations created, then the TPM must still work normally.
    for handle in (0x8000_0000u32..0x8000_0010).chain(0x0200_0000..0x0200_0010) {
        h.send(cc::FLUSH_CONTEXT, &[], &[], &handle.to_be_bytes());
    }
    h.ok(cc::GET_RANDOM, &[], &[], &16u16.to_be_bytes());
    h.ok(cc::HASH_SEQUENCE_START, &[], &[], &[0, 0, 0, 0x0B]);
}

// ---- Firmware owns the memory: a TPM in a `static`, manufactured in place ----------------

/// A platform a `static` can hold: a counter as entropy (tests only), a fixed clock.
struct StaticPlatform(u8);

impl vtpm::Platform for StaticPlatform {
    fn fill_entropy(&mut self, buf: &mut [u8]) -> Result<(), vtpm::PlatformError> {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
    fn now_ms(&mut self) -> Result<u64, vtpm::PlatformError> {
        Ok(1000)
    }
    fn evidence(&mut self, _: &[u8; 64], _: &mut [u8]) -> Result<usize, vtpm::PlatformError> {
        Err(vtpm::PlatformError::EvidenceUnavailable)
    }
}

static STATIC_TPM: std::sync::Mutex<Tpm<StaticPlatform>> =
    std::sync::Mutex::new(Tpm::unmanufactured(StaticPlatform(0)));

#[test]
fn a_static_tpm_is_manufactured_in_place_once() {
    let mut tpm = STATIC_TPM.lock().unwrap();
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    let startup = command(cc::STARTUP, &[], &[], &0u16.to_be_bytes());
    // Not manufactured: failure mode, no seeds drawn, nothing answers but the failure code.
    assert!(tpm.in_failure_mode());
    let n = tpm.execute(0, &startup, &mut rsp);
    assert_eq!(&rsp[6..10], &0x101u32.to_be_bytes()[..], "TPM_RC_FAILURE");
    assert_eq!(n, 10);
    assert_eq!(tpm.platform().0, 0, "no entropy drawn before manufacture");

    tpm.manufacture_in_place().unwrap();
    assert!(!tpm.in_failure_mode());
    assert!(tpm.platform().0 > 0);
    let n = tpm.execute(0, &startup, &mut rsp);
    assert_eq!(&rsp[..n], &[0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0][..]);
    let get_random = command(0x17B, &[], &[], &8u16.to_be_bytes());
    let mut scratch = [0u8; vtpm::MAX_COMMAND_SIZE];
    let n = tpm.execute_with_scratch(0, &get_random, &mut rsp, &mut scratch);
    assert_eq!(n, 10 + 2 + 8);
    assert_eq!(&rsp[6..12], &[0, 0, 0, 0, 0, 8][..]);

    // Seeds are never redrawn under a live TPM.
    let drawn = tpm.platform().0;
    assert_eq!(tpm.manufacture_in_place(), Err(vtpm::TpmRc::INITIALIZE));
    assert_eq!(tpm.platform().0, drawn);
    assert!(!tpm.in_failure_mode());
}

#[test]
fn manufacture_in_place_equals_new() {
    // The same entropy gives the same TPM: the EK-style primary of both is identical.
    let mut a = Tpm::new(SimPlatform::seeded(11));
    let mut b = Tpm::unmanufactured(SimPlatform::seeded(11));
    b.manufacture_in_place().unwrap();
    let mut ra = [0u8; MAX_RESPONSE_SIZE];
    let mut rb = [0u8; MAX_RESPONSE_SIZE];
    let startup = command(cc::STARTUP, &[], &[], &0u16.to_be_bytes());
    a.execute(0, &startup, &mut ra);
    b.execute(0, &startup, &mut rb);
    let get_random = command(0x17B, &[], &[], &16u16.to_be_bytes());
    let na = a.execute(0, &get_random, &mut ra);
    let nb = b.execute(0, &get_random, &mut rb);
    assert_eq!(&ra[..na], &rb[..nb]);
}
