//! TPM2_Hash and hash / event sequences (Part 3 §15.4, §17), and GetCapability's answers
//! that clients depend on (Part 3 §30.2).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use vtpm_tests::*;

fn seq_start(h: &mut Harness, alg: u16, auth: &[u8]) -> u32 {
    let mut p = Vec::new();
    tpm2b(&mut p, auth);
    p.extend(alg.to_be_bytes());
    let r = h.ok(cc::HASH_SEQUENCE_START, &[], &[], &p);
    u32::from_be_bytes(r.body()[..4].try_into().unwrap())
}

#[test]
fn hash_and_ticket() {
    let mut h = Harness::new();
    let data = b"attested data";
    let mut p = Vec::new();
    tpm2b(&mut p, data);
    p.extend(SHA384.to_be_bytes());
    p.extend(RH_OWNER.to_be_bytes());
    let r = h.ok(cc::HASH, &[], &[], &p);
    let b = r.body();
    assert_eq!(&b[..2], &48u16.to_be_bytes());
    assert_eq!(&b[2..50], digest(SHA384, &[data]).as_slice());
    // Ticket: tag HASHCHECK, hierarchy owner, a non-empty HMAC.
    assert_eq!(&b[50..52], &0x8024u16.to_be_bytes());
    assert_eq!(&b[52..56], &RH_OWNER.to_be_bytes());
    assert!(u16::from_be_bytes(b[56..58].try_into().unwrap()) > 0);
    // Data that starts with TPM_GENERATED_VALUE gets the NULL ticket.
    let mut p = Vec::new();
    tpm2b(&mut p, &[0xFF, 0x54, 0x43, 0x47, 1]);
    p.extend(SHA256.to_be_bytes());
    p.extend(RH_OWNER.to_be_bytes());
    let r = h.ok(cc::HASH, &[], &[], &p);
    assert_eq!(&r.body()[34..], &[0x80, 0x24, 0x40, 0, 0, 7, 0, 0]);
    // A bad hierarchy is TPM_RC_VALUE at parameter 3.
    let mut p = Vec::new();
    tpm2b(&mut p, data);
    p.extend(SHA256.to_be_bytes());
    p.extend(RH_LOCKOUT.to_be_bytes());
    assert_eq!(h.send(cc::HASH, &[], &[], &p).rc(), 0x3C4);
}

#[test]
fn hash_sequence_equals_one_shot_hash() {
    let mut h = Harness::new();
    let seq = seq_start(&mut h, SHA256, b"pw");
    let chunk = vec![0xA5u8; 1024];
    for _ in 0..100 {
        let mut p = Vec::new();
        tpm2b(&mut p, &chunk);
        h.ok(cc::SEQUENCE_UPDATE, &[seq], &[AuthCmd::pw(b"pw")], &p);
    }
    // Wrong sequence password: BAD_AUTH.
    assert_eq!(
        h.send(cc::SEQUENCE_UPDATE, &[seq], &[AuthCmd::pw(b"no")], &[0, 0])
            .rc(),
        0x9A2
    );
    let mut p = Vec::new();
    tpm2b(&mut p, b"tail");
    p.extend(RH_NULL.to_be_bytes());
    let r = h.ok(cc::SEQUENCE_COMPLETE, &[seq], &[AuthCmd::pw(b"pw")], &p);
    let (params, _) = r.split_sessions(0);
    let all: Vec<u8> = chunk
        .iter()
        .copied()
        .cycle()
        .take(102_400)
        .chain(*b"tail")
        .collect();
    assert_eq!(&params[2..34], digest(SHA256, &[&all]).as_slice());
    // The sequence is gone.
    assert_eq!(
        h.send(cc::FLUSH_CONTEXT, &[], &[], &seq.to_be_bytes()).rc(),
        0x1CB
    );
}

#[test]
fn event_sequence_extends_every_bank() {
    let mut h = Harness::new();
    let seq = seq_start(&mut h, 0x0010, b"");
    let mut p = Vec::new();
    tpm2b(&mut p, b"part one ");
    h.ok(cc::SEQUENCE_UPDATE, &[seq], &[AuthCmd::pw(b"")], &p);
    // An event sequence cannot be completed as a hash sequence: TPM_RC_MODE at handle 1.
    let mut q = Vec::new();
    tpm2b(&mut q, b"");
    q.extend(RH_NULL.to_be_bytes());
    assert_eq!(
        h.send(cc::SEQUENCE_COMPLETE, &[seq], &[AuthCmd::pw(b"")], &q)
            .rc(),
        0x189
    );
    let mut p = Vec::new();
    tpm2b(&mut p, b"part two");
    let pw = AuthCmd::pw(b"");
    h.ok(
        cc::EVENT_SEQUENCE_COMPLETE,
        &[23, seq],
        &[pw.clone(), pw],
        &p,
    );
    let d256 = digest(SHA256, &[b"part one part two"]);
    let d384 = digest(SHA384, &[b"part one part two"]);
    assert_eq!(h.pcr(SHA256, 23), digest(SHA256, &[&[0; 32], &d256]));
    assert_eq!(h.pcr(SHA384, 23), digest(SHA384, &[&[0; 48], &d384]));
}

#[test]
fn object_slots_run_out_at_sixteen() {
    let mut h = Harness::new();
    let handles: Vec<u32> = (0..16).map(|_| seq_start(&mut h, SHA256, b"")).collect();
    let mut p = Vec::new();
    tpm2b(&mut p, b"");
    p.extend(SHA256.to_be_bytes());
    assert_eq!(h.send(cc::HASH_SEQUENCE_START, &[], &[], &p).rc(), 0x902);
    h.ok(cc::FLUSH_CONTEXT, &[], &[], &handles[5].to_be_bytes());
    assert_eq!(seq_start(&mut h, SHA256, b""), handles[5]);
}

fn getcap(h: &mut Harness, cap: u32, prop: u32, count: u32) -> Vec<u8> {
    let p = [cap.to_be_bytes(), prop.to_be_bytes(), count.to_be_bytes()].concat();
    h.ok(cc::GET_CAPABILITY, &[], &[], &p).body().to_vec()
}

#[test]
fn capabilities_follow_the_kernels_rules() {
    let mut h = Harness::new();
    // TOTAL_COMMANDS = N, and COMMANDS answers exactly N entries with correct cHandles.
    let b = getcap(&mut h, 6, 0x129, 1);
    assert_eq!(&b[5..13], &[0, 0, 0, 1, 0, 0, 1, 0x29]);
    let n = u32::from_be_bytes(b[13..17].try_into().unwrap());
    let b = getcap(&mut h, 2, 0x11F, n);
    assert_eq!(b[0], 0, "moreData");
    assert_eq!(u32::from_be_bytes(b[5..9].try_into().unwrap()), n);
    let ccs: Vec<u32> = b[9..]
        .chunks(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
        .collect();
    assert!(ccs.contains(&0x0240_0182), "PCR_Extend 1 handle");
    assert!(
        ccs.contains(&0x1400_0176),
        "StartAuthSession 2 handles + rHandle"
    );
    // PCRS with count 1 still lists every implemented hash, allocated (SHA-256, SHA-384) or
    // not (SHA-1, SHA-512), as swtpm does.
    let b = getcap(&mut h, 5, 0, 1);
    assert_eq!(&b[5..9], &4u32.to_be_bytes());
    assert_eq!(&b[9..15], &[0, 0x04, 3, 0, 0, 0]);
    assert_eq!(&b[15..21], &[0, 0x0B, 3, 0xFF, 0xFF, 0xFF]);
    assert_eq!(&b[21..27], &[0, 0x0C, 3, 0xFF, 0xFF, 0xFF]);
    assert_eq!(&b[27..33], &[0, 0x0D, 3, 0, 0, 0]);
    // ALGS: SHA-256 carries exactly `hash`; SHA-1 is listed as a hash.
    let b = getcap(&mut h, 0, 0, 127);
    let algs: Vec<(u16, u32)> = b[9..]
        .chunks(6)
        .map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                u32::from_be_bytes(c[2..6].try_into().unwrap()),
            )
        })
        .collect();
    assert!(algs.contains(&(0x000B, 0x4)));
    assert!(algs.contains(&(0x0004, 0x4)));
    // Properties ascend from the one asked; the vendor string is not "SW  ".
    let b = getcap(&mut h, 6, 0x106, 1);
    assert_eq!(&b[9..13], &0x106u32.to_be_bytes());
    assert_ne!(&b[13..17], b"SW  ");
    assert_eq!(b[0], 1, "more properties follow");
    // An unknown capability is TPM_RC_VALUE at parameter 1.
    let p = [
        0x7Fu32.to_be_bytes(),
        0u32.to_be_bytes(),
        1u32.to_be_bytes(),
    ]
    .concat();
    assert_eq!(h.send(cc::GET_CAPABILITY, &[], &[], &p).rc(), 0x1C4);
}
