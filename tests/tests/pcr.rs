//! PCR commands: values, banks, locality rules of the PC Client profile, Startup types.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use vtpm_tests::*;

fn extend(h: &mut Harness, pcr: u32, ds: &[(u16, &[u8])]) -> u32 {
    h.send(
        cc::PCR_EXTEND,
        &[pcr],
        &[AuthCmd::pw(b"")],
        &digest_values(ds),
    )
    .rc()
}

#[test]
fn startup_values_follow_the_pc_client_profile() {
    let mut h = Harness::new();
    for alg in [SHA256, SHA384] {
        let n = if alg == SHA256 { 32 } else { 48 };
        for i in 0..24 {
            let expect = if (17..=22).contains(&i) {
                vec![0xFF; n]
            } else {
                vec![0; n]
            };
            assert_eq!(h.pcr(alg, i), expect, "alg {alg:#x} pcr {i}");
        }
    }
    // Localities 1, 2 and 4 cannot start the TPM (TPM_RC_LOCALITY, as the reference and
    // libtpms); a bad startupType is still TPM_RC_VALUE at parameter 1 first.
    let mut h = Harness::unstarted(3);
    for locality in [1, 2, 4] {
        h.locality = locality;
        assert_eq!(h.send(cc::STARTUP, &[], &[], &[0, 0]).rc(), 0x907);
        assert_eq!(h.send(cc::STARTUP, &[], &[], &[0, 1]).rc(), 0x907);
        assert_eq!(h.send(cc::STARTUP, &[], &[], &[0, 2]).rc(), 0x1C4);
    }
    h.locality = 0;
    h.ok(cc::STARTUP, &[], &[], &[0, 0]);
    // A locality-3 Startup puts the locality in PCR 0.
    let mut h = Harness::unstarted(3);
    h.locality = 3;
    h.ok(cc::STARTUP, &[], &[], &[0, 0]);
    let mut expect = vec![0u8; 32];
    expect[31] = 3;
    assert_eq!(h.pcr(SHA256, 0), expect);
}

#[test]
fn extend_computes_the_hash_chain_in_every_bank() {
    let mut h = Harness::new();
    let d256 = digest(SHA256, &[b"event"]);
    let d384 = digest(SHA384, &[b"event"]);
    assert_eq!(extend(&mut h, 10, &[(SHA256, &d256), (SHA384, &d384)]), 0);
    assert_eq!(h.pcr(SHA256, 10), digest(SHA256, &[&[0; 32], &d256]));
    assert_eq!(h.pcr(SHA384, 10), digest(SHA384, &[&[0; 48], &d384]));
    // One bank only: the other is untouched.
    assert_eq!(extend(&mut h, 11, &[(SHA384, &d384)]), 0);
    assert_eq!(h.pcr(SHA256, 11), vec![0; 32]);
    // TPM_RH_NULL: accepted, nothing extended.
    let before = h.all_pcrs();
    assert_eq!(extend(&mut h, RH_NULL, &[(SHA256, &d256)]), 0);
    assert_eq!(before, h.all_pcrs());
}

#[test]
fn event_extends_with_the_digest_of_the_data() {
    let mut h = Harness::new();
    let mut p = Vec::new();
    tpm2b(&mut p, b"hello");
    let r = h.ok(cc::PCR_EVENT, &[9], &[AuthCmd::pw(b"")], &p);
    let (params, _) = r.split_sessions(0);
    // Four implemented hashes: SHA-1, SHA-256, SHA-384, SHA-512.
    assert_eq!(u32::from_be_bytes(params[..4].try_into().unwrap()), 4);
    assert_eq!(&params[4..6], &0x0004u16.to_be_bytes());
    assert_eq!(&params[26..28], &SHA256.to_be_bytes());
    assert_eq!(&params[28..60], digest(SHA256, &[b"hello"]).as_slice());
    assert_eq!(
        h.pcr(SHA256, 9),
        digest(SHA256, &[&[0; 32], &digest(SHA256, &[b"hello"])])
    );
    assert_eq!(
        h.pcr(SHA384, 9),
        digest(SHA384, &[&[0; 48], &digest(SHA384, &[b"hello"])])
    );
}

#[test]
fn locality_rules_for_extend_and_reset() {
    let mut h = Harness::new();
    let d = [0x42u8; 32];
    let reset =
        |h: &mut Harness, pcr: u32| h.send(cc::PCR_RESET, &[pcr], &[AuthCmd::pw(b"")], &[]).rc();
    // Locality 0 extends 0-16 and 23, not the D-RTM PCRs.
    for pcr in 0..24 {
        let expect = if (17..=22).contains(&pcr) { 0x907 } else { 0 };
        assert_eq!(extend(&mut h, pcr, &[(SHA256, &d)]), expect, "extend {pcr}");
    }
    // Locality 0 resets only 16 and 23.
    for pcr in 0..24 {
        let expect = if pcr == 16 || pcr == 23 { 0 } else { 0x907 };
        assert_eq!(reset(&mut h, pcr), expect, "reset {pcr}");
    }
    assert_eq!(h.pcr(SHA256, 16), vec![0; 32]);
    assert_eq!(h.pcr(SHA384, 23), vec![0; 48]);
    // Locality 4 resets nothing (D-RTM: only _TPM_Hash_Start resets 17-22; the reference and
    // libtpms answer TPM_RC_LOCALITY), though it may extend 17; locality 2 extends 21.
    h.locality = 4;
    assert_eq!(extend(&mut h, 17, &[(SHA256, &d)]), 0);
    let pcr17 = h.pcr(SHA256, 17);
    for pcr in 0..24 {
        assert_eq!(reset(&mut h, pcr), 0x907, "reset {pcr} at locality 4");
    }
    assert_eq!(h.pcr(SHA256, 17), pcr17);
    h.locality = 2;
    assert_eq!(extend(&mut h, 21, &[(SHA256, &d)]), 0);
    assert_eq!(reset(&mut h, 21), 0);
    h.locality = 1;
    assert_eq!(extend(&mut h, 21, &[(SHA256, &d)]), 0x907);
    assert_eq!(extend(&mut h, 20, &[(SHA256, &d)]), 0);
    // Localities above 4 do not exist for PCRs.
    h.locality = 5;
    assert_eq!(extend(&mut h, 16, &[(SHA256, &d)]), 0x907);
}

#[test]
fn pcr_read_returns_at_most_eight_digests_and_trims_the_selection() {
    let mut h = Harness::new();
    let mut p = Vec::new();
    p.extend(2u32.to_be_bytes());
    p.extend(SHA256.to_be_bytes());
    p.extend([3, 0xFF, 0x0F, 0]);
    p.extend(SHA384.to_be_bytes());
    p.extend([3, 0xFF, 0, 0]);
    let r = h.ok(cc::PCR_READ, &[], &[], &p);
    let b = r.body();
    // Selection out: sha256 0-7 only, sha384 nothing.
    assert_eq!(&b[4..8], &2u32.to_be_bytes());
    assert_eq!(&b[8..14], &[0, 0x0B, 3, 0xFF, 0, 0]);
    assert_eq!(&b[14..20], &[0, 0x0C, 3, 0, 0, 0]);
    assert_eq!(&b[20..24], &8u32.to_be_bytes());
    // sizeofSelect other than 3 is TPM_RC_VALUE at parameter 1.
    let bad = [0, 0, 0, 1, 0, 0x0B, 2, 0xFF, 0xFF];
    assert_eq!(h.send(cc::PCR_READ, &[], &[], &bad).rc(), 0x1C4);
}

#[test]
fn shutdown_state_and_resume_keep_pcrs_0_to_15() {
    let mut h = Harness::new();
    let d = [9u8; 32];
    assert_eq!(extend(&mut h, 5, &[(SHA256, &d)]), 0);
    assert_eq!(extend(&mut h, 16, &[(SHA256, &d)]), 0);
    let pcr5 = h.pcr(SHA256, 5);
    h.ok(cc::SHUTDOWN, &[], &[], &1u16.to_be_bytes());
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &1u16.to_be_bytes());
    assert_eq!(h.pcr(SHA256, 5), pcr5);
    assert_eq!(h.pcr(SHA256, 16), vec![0; 32]);
    // A plain reboot (Startup(CLEAR) without Shutdown(STATE)) clears them.
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &0u16.to_be_bytes());
    assert_eq!(h.pcr(SHA256, 5), vec![0; 32]);
    // And Startup(STATE) is refused without a fresh Shutdown(STATE).
    h.tpm.init();
    assert_eq!(
        h.send(cc::STARTUP, &[], &[], &1u16.to_be_bytes()).rc(),
        0x1C4
    );
}
