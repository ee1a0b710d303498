//! Platform administration of seeds and PCRs: TPM2_ChangeEPS / ChangePPS (Part 3 §24.4,
//! §24.5), TPM2_PCR_SetAuthValue / PCR_SetAuthPolicy (Part 3 §22.6, §22.7).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use vtpm_tests::*;

const CREATE_PRIMARY: u32 = 0x131;
const CONTEXT_SAVE: u32 = 0x162;
const CONTEXT_LOAD: u32 = 0x161;
const EVICT_CONTROL: u32 = 0x120;
const SET_PRIMARY_POLICY: u32 = 0x12E;
const CHANGE_EPS: u32 = 0x124;
const CHANGE_PPS: u32 = 0x125;
const PCR_SET_AUTH_POLICY: u32 = 0x12C;
const PCR_SET_AUTH_VALUE: u32 = 0x183;
const POLICY_COMMAND_CODE: u32 = 0x16C;
const RH_ENDORSEMENT: u32 = 0x4000_000B;
const READ_PUBLIC: u32 = 0x173;

/// A storage-key ECC P-256 template (nameAlg SHA-256, AES-128-CFB).
fn template() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(0x0023u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(0x0003_0072u32.to_be_bytes());
    t.extend([0, 0]);
    t.extend([0, 6, 0, 0x80, 0, 0x43]);
    t.extend([0, 0x10]);
    t.extend(3u16.to_be_bytes());
    t.extend(0x0010u16.to_be_bytes());
    t.extend([0, 0, 0, 0]);
    t
}

/// CreatePrimary in `hierarchy`: (handle, TPM2B_PUBLIC contents).
fn primary(h: &mut Harness, hierarchy: u32) -> (u32, Vec<u8>) {
    let mut p = vec![0, 4, 0, 0, 0, 0];
    tpm2b(&mut p, &template());
    p.extend([0, 0, 0, 0, 0, 0]);
    let r = h.ok(CREATE_PRIMARY, &[hierarchy], &[AuthCmd::pw(b"")], &p);
    let handle = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
    let (params, _) = r.split_sessions(1);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    (handle, params[2..2 + n].to_vec())
}

fn platform(h: &mut Harness, code: u32, params: &[u8]) -> Rsp {
    h.send(code, &[RH_PLATFORM], &[AuthCmd::pw(b"")], params)
}

fn change_auth(h: &mut Harness, hierarchy: u32, new: &[u8]) {
    let mut p = Vec::new();
    tpm2b(&mut p, new);
    h.ok(
        cc::HIERARCHY_CHANGE_AUTH,
        &[hierarchy],
        &[AuthCmd::pw(b"")],
        &p,
    );
}

fn set_policy(h: &mut Harness, hierarchy: u32, auth: &[u8]) {
    let mut p = Vec::new();
    tpm2b(&mut p, &[7; 32]);
    p.extend(SHA256.to_be_bytes());
    h.ok(SET_PRIMARY_POLICY, &[hierarchy], &[AuthCmd::pw(auth)], &p);
}

#[test]
fn change_eps_renews_the_endorsement_hierarchy() {
    let mut h = Harness::new();
    let (ek, before) = primary(&mut h, RH_ENDORSEMENT);
    let ctx = h.ok(CONTEXT_SAVE, &[ek], &[], &[]).body().to_vec();
    // A persistent endorsement key, and a storage key that must survive.
    let persistent = 0x8101_0001u32;
    let mut p = Vec::new();
    p.extend(persistent.to_be_bytes());
    h.ok(EVICT_CONTROL, &[RH_OWNER, ek], &[AuthCmd::pw(b"")], &p);
    let (srk, srk_public) = primary(&mut h, RH_OWNER);
    set_policy(&mut h, RH_ENDORSEMENT, b"");
    change_auth(&mut h, RH_ENDORSEMENT, b"eh");

    // Owner or endorsement authorization is not platform: VALUE at handle 1.
    assert_eq!(
        h.send(CHANGE_EPS, &[RH_OWNER], &[AuthCmd::pw(b"")], &[])
            .rc(),
        0x184
    );
    // No authorization: AUTH_MISSING. Wrong platform auth: AUTH_FAIL at session 1.
    assert_eq!(h.send(CHANGE_EPS, &[RH_PLATFORM], &[], &[]).rc(), 0x125);
    assert_eq!(
        h.send(CHANGE_EPS, &[RH_PLATFORM], &[AuthCmd::pw(b"x")], &[])
            .rc(),
        0x9A2
    );
    // A parameter where none is expected: SIZE.
    assert_eq!(platform(&mut h, CHANGE_EPS, &[0]).rc(), 0x95);
    // Nothing changed by the failures.
    assert_eq!(h.send(READ_PUBLIC, &[ek], &[], &[]).rc(), 0);

    assert_eq!(platform(&mut h, CHANGE_EPS, &[]).rc(), 0);
    // The loaded and the persistent endorsement keys are gone, the storage key stays.
    assert_eq!(h.send(READ_PUBLIC, &[ek], &[], &[]).rc(), 0x910);
    assert_eq!(h.send(READ_PUBLIC, &[persistent], &[], &[]).rc(), 0x18B);
    let r = h.ok(READ_PUBLIC, &[srk], &[], &[]);
    assert_eq!(&r.body()[2..2 + srk_public.len()], srk_public.as_slice());
    // The saved context no longer loads (the ehProof changed).
    assert_eq!(h.send(CONTEXT_LOAD, &[], &[], &ctx).rc(), 0x1DF);
    // endorsementAuth and endorsementPolicy are empty again: the empty password works.
    let (ek2, after) = primary(&mut h, RH_ENDORSEMENT);
    assert_ne!(before, after, "a new EPS gives a new primary");
    // The storage primary is the same as before.
    let (_, srk2) = primary(&mut h, RH_OWNER);
    assert_eq!(srk_public, srk2);
    h.ok(cc::FLUSH_CONTEXT, &[], &[], &ek2.to_be_bytes());
    // TPM_PT_PERMANENT: endorsementAuthSet clear.
    assert_eq!(permanent(&mut h) & 2, 0);
}

/// TPM_PT_PERMANENT.
fn permanent(h: &mut Harness) -> u32 {
    let mut p = Vec::new();
    p.extend(6u32.to_be_bytes());
    p.extend(0x200u32.to_be_bytes());
    p.extend(1u32.to_be_bytes());
    let r = h.ok(cc::GET_CAPABILITY, &[], &[], &p);
    u32::from_be_bytes(r.body()[13..17].try_into().unwrap())
}

#[test]
fn change_eps_re_enables_the_endorsement_hierarchy() {
    let mut h = Harness::new();
    // HierarchyControl(endorsement, NO) by the platform.
    let mut p = Vec::new();
    p.extend(RH_ENDORSEMENT.to_be_bytes());
    p.push(0);
    assert_eq!(platform(&mut h, 0x121, &p).rc(), 0);
    let mut p = vec![0, 4, 0, 0, 0, 0];
    tpm2b(&mut p, &template());
    p.extend([0, 0, 0, 0, 0, 0]);
    assert_eq!(
        h.send(CREATE_PRIMARY, &[RH_ENDORSEMENT], &[AuthCmd::pw(b"")], &p)
            .rc(),
        0x185
    );
    assert_eq!(platform(&mut h, CHANGE_EPS, &[]).rc(), 0);
    primary(&mut h, RH_ENDORSEMENT);
}

#[test]
fn change_pps_renews_the_platform_hierarchy() {
    let mut h = Harness::new();
    let (pk, before) = primary(&mut h, RH_PLATFORM);
    let ctx = h.ok(CONTEXT_SAVE, &[pk], &[], &[]).body().to_vec();
    let (ek, ek_public) = primary(&mut h, RH_ENDORSEMENT);
    set_policy(&mut h, RH_PLATFORM, b"");
    change_auth(&mut h, RH_PLATFORM, b"pa");
    // A PCR policy, emptied by ChangePPS.
    let mut p = Vec::new();
    tpm2b(&mut p, &[9; 32]);
    p.extend(SHA256.to_be_bytes());
    p.extend(20u32.to_be_bytes());
    h.ok(
        PCR_SET_AUTH_POLICY,
        &[RH_PLATFORM],
        &[AuthCmd::pw(b"pa")],
        &p,
    );
    assert_eq!(
        h.send(CHANGE_PPS, &[RH_OWNER], &[AuthCmd::pw(b"")], &[])
            .rc(),
        0x184
    );
    assert_eq!(
        h.send(CHANGE_PPS, &[RH_PLATFORM], &[AuthCmd::pw(b"")], &[])
            .rc(),
        0x9A2
    );
    assert_eq!(
        h.send(CHANGE_PPS, &[RH_PLATFORM], &[AuthCmd::pw(b"pa")], &[])
            .rc(),
        0
    );
    assert_eq!(h.send(READ_PUBLIC, &[pk], &[], &[]).rc(), 0x910);
    assert_eq!(h.send(CONTEXT_LOAD, &[], &[], &ctx).rc(), 0x1DF);
    let r = h.ok(READ_PUBLIC, &[ek], &[], &[]);
    assert_eq!(&r.body()[2..2 + ek_public.len()], ek_public.as_slice());
    // platformAuth stays; the platform policy is gone (a policy session would need it).
    let mut p = vec![0, 4, 0, 0, 0, 0];
    tpm2b(&mut p, &template());
    p.extend([0, 0, 0, 0, 0, 0]);
    let r = h.ok(CREATE_PRIMARY, &[RH_PLATFORM], &[AuthCmd::pw(b"pa")], &p);
    let (params, _) = r.split_sessions(1);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    assert_ne!(
        before,
        params[2..2 + n].to_vec(),
        "a new PPS gives a new primary"
    );
    // The PCR policy is empty again: a policy session cannot satisfy PCR 20 any more
    // (POLICY_FAIL at session 1), the empty authValue still works.
    let mut s = start_session(&mut h, RH_NULL, b"", 1);
    policy_cc(&mut h, &mut s, cc::PCR_EXTEND);
    let params = digest_values(&[(SHA256, &[1; 32])]);
    let a = s.auth(cc::PCR_EXTEND, &[&20u32.to_be_bytes()], &params, b"", 1);
    assert_eq!(h.send(cc::PCR_EXTEND, &[20], &[a], &params).rc(), 0x99D);
}

/// PolicyCommandCode(code) in policy session `s`.
fn policy_cc(h: &mut Harness, s: &mut CallerSession, code: u32) {
    h.ok(POLICY_COMMAND_CODE, &[s.handle], &[], &code.to_be_bytes());
}

/// The policy digest of PolicyCommandCode(code) alone, SHA-256.
fn policy_cc_digest(code: u32) -> Vec<u8> {
    digest(
        SHA256,
        &[
            &[0; 32],
            &POLICY_COMMAND_CODE.to_be_bytes(),
            &code.to_be_bytes(),
        ],
    )
}

fn set_pcr_auth(h: &mut Harness, pcr: u32, auth: &[u8], with: &[u8]) -> u32 {
    let mut p = Vec::new();
    tpm2b(&mut p, auth);
    h.send(PCR_SET_AUTH_VALUE, &[pcr], &[AuthCmd::pw(with)], &p)
        .rc()
}

fn extend_with(h: &mut Harness, pcr: u32, auth: &[u8]) -> u32 {
    h.send(
        cc::PCR_EXTEND,
        &[pcr],
        &[AuthCmd::pw(auth)],
        &digest_values(&[(SHA256, &[3; 32])]),
    )
    .rc()
}

#[test]
fn pcr_auth_value_guards_the_group_until_startup_clear() {
    let mut h = Harness::new();
    h.locality = 2; // PCR 20 is extendable from locality 1-3, 21 and 22 only from 2.
    // Outside the group (PCR 0, 16, 23): VALUE, without a position.
    for pcr in [0, 16, 19, 23] {
        assert_eq!(set_pcr_auth(&mut h, pcr, b"s", b""), 0x84, "pcr {pcr}");
    }
    // Beyond the PCRs: VALUE at handle 1.
    assert_eq!(set_pcr_auth(&mut h, 24, b"s", b""), 0x184);
    // Longer than a digest: SIZE at parameter 1.
    assert_eq!(set_pcr_auth(&mut h, 20, &[1; 65], b""), 0x1D5);
    assert_eq!(set_pcr_auth(&mut h, 20, b"secret\0\0", b""), 0);
    // The group shares it: 20, 21, 22 need "secret" (trailing zeros not significant).
    for pcr in [20, 21, 22] {
        assert_eq!(extend_with(&mut h, pcr, b""), 0x9A2, "pcr {pcr}");
        assert_eq!(extend_with(&mut h, pcr, b"secret"), 0, "pcr {pcr}");
        assert_eq!(extend_with(&mut h, pcr, b"secret\0"), 0, "pcr {pcr}");
    }
    // Other PCRs keep the empty authValue.
    assert_eq!(extend_with(&mut h, 19, b""), 0);
    // PCR_Event and PCR_Reset (PCR 21 is resettable from locality 2).
    let mut ev = Vec::new();
    tpm2b(&mut ev, b"e");
    assert_eq!(
        h.send(cc::PCR_EVENT, &[21], &[AuthCmd::pw(b"")], &ev).rc(),
        0x9A2
    );
    assert_eq!(
        h.send(cc::PCR_EVENT, &[21], &[AuthCmd::pw(b"secret")], &ev)
            .rc(),
        0
    );
    assert_eq!(
        h.send(cc::PCR_RESET, &[21], &[AuthCmd::pw(b"")], &[]).rc(),
        0x9A2
    );
    h.ok(cc::PCR_RESET, &[21], &[AuthCmd::pw(b"secret")], &[]);
    assert_eq!(h.pcr(SHA256, 21), vec![0; 32]);
    // Changing it needs the current one.
    assert_eq!(set_pcr_auth(&mut h, 22, b"other", b""), 0x9A2);
    assert_eq!(set_pcr_auth(&mut h, 22, b"other", b"secret"), 0);
    assert_eq!(extend_with(&mut h, 20, b"other"), 0);
    // PCR auth failures are exempt from dictionary-attack protection.
    let mut p = Vec::new();
    p.extend(6u32.to_be_bytes());
    p.extend(0x20Eu32.to_be_bytes());
    p.extend(1u32.to_be_bytes());
    let r = h.ok(cc::GET_CAPABILITY, &[], &[], &p);
    assert_eq!(u32::from_be_bytes(r.body()[13..17].try_into().unwrap()), 0);
    // Shutdown(STATE) + Startup(STATE) keeps it, Startup(CLEAR) empties it.
    // (Startup is accepted from locality 0 or 3 only, as the reference and libtpms do.)
    h.locality = 0;
    h.ok(cc::SHUTDOWN, &[], &[], &[0, 1]);
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &[0, 1]);
    h.locality = 2;
    assert_eq!(extend_with(&mut h, 20, b""), 0x9A2);
    h.locality = 0;
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &[0, 0]);
    h.locality = 2;
    assert_eq!(extend_with(&mut h, 20, b""), 0);
    // TPM2_Clear empties it as well.
    assert_eq!(set_pcr_auth(&mut h, 20, b"x", b""), 0);
    h.ok(cc::CLEAR, &[RH_PLATFORM], &[AuthCmd::pw(b"")], &[]);
    assert_eq!(extend_with(&mut h, 20, b""), 0);
}

#[test]
fn pcr_auth_policy_lets_a_policy_session_extend_the_group() {
    let mut h = Harness::new();
    h.locality = 2;
    let policy = policy_cc_digest(cc::PCR_EXTEND);
    let set = |h: &mut Harness, policy: &[u8], alg: u16, pcr: u32| {
        let mut p = Vec::new();
        tpm2b(&mut p, policy);
        p.extend(alg.to_be_bytes());
        p.extend(pcr.to_be_bytes());
        platform(h, PCR_SET_AUTH_POLICY, &p).rc()
    };
    // Owner authorization: VALUE at handle 1.
    let mut p = Vec::new();
    tpm2b(&mut p, &policy);
    p.extend(SHA256.to_be_bytes());
    p.extend(20u32.to_be_bytes());
    assert_eq!(
        h.send(PCR_SET_AUTH_POLICY, &[RH_OWNER], &[AuthCmd::pw(b"")], &p)
            .rc(),
        0x184
    );
    // The policy's size must be the hash's: SIZE at parameter 1.
    assert_eq!(set(&mut h, &policy[..20], SHA256, 20), 0x1D5);
    assert_eq!(set(&mut h, &policy, SHA384, 20), 0x1D5);
    // Not a hash: HASH at parameter 2.
    assert_eq!(set(&mut h, &policy, 0x0006, 20), 0x2C3);
    // A PCR outside the group or beyond the PCRs: VALUE at parameter 3.
    assert_eq!(set(&mut h, &policy, SHA256, 23), 0x3C4);
    assert_eq!(set(&mut h, &policy, SHA256, 24), 0x3C4);
    // A PCR in the group without a policy: POLICY_FAIL at session 1.
    let mut s = start_session(&mut h, RH_NULL, b"", 1);
    policy_cc(&mut h, &mut s, cc::PCR_EXTEND);
    let params = digest_values(&[(SHA256, &[1; 32])]);
    let a = s.auth(cc::PCR_EXTEND, &[&21u32.to_be_bytes()], &params, b"", 1);
    assert_eq!(h.send(cc::PCR_EXTEND, &[21], &[a], &params).rc(), 0x99D);

    assert_eq!(set(&mut h, &policy, SHA256, 22), 0);
    let before = h.pcr(SHA256, 21);
    let mut s = start_session(&mut h, RH_NULL, b"", 1);
    policy_cc(&mut h, &mut s, cc::PCR_EXTEND);
    let a = s.auth(cc::PCR_EXTEND, &[&21u32.to_be_bytes()], &params, b"", 1);
    h.ok(cc::PCR_EXTEND, &[21], &[a], &params);
    assert_eq!(h.pcr(SHA256, 21), digest(SHA256, &[&before, &[1; 32]]));
    // Outside the group a policy session has no policy to satisfy: AUTH_UNAVAILABLE.
    let mut s = start_session(&mut h, RH_NULL, b"", 1);
    policy_cc(&mut h, &mut s, cc::PCR_EXTEND);
    let a = s.auth(cc::PCR_EXTEND, &[&5u32.to_be_bytes()], &params, b"", 1);
    assert_eq!(h.send(cc::PCR_EXTEND, &[5], &[a], &params).rc(), 0x12F);
    // With a group policy, only a policy session will do: AUTH_TYPE (the reference
    // implementation's IsPolicySessionRequired; swtpm answers the same); PCRs outside the
    // group still take the password.
    assert_eq!(extend_with(&mut h, 21, b""), 0x124);
    assert_eq!(extend_with(&mut h, 19, b""), 0);
    // TPM_ALG_NULL with an empty policy removes it.
    assert_eq!(set(&mut h, &[], 0x0010, 20), 0);
    let mut s = start_session(&mut h, RH_NULL, b"", 1);
    policy_cc(&mut h, &mut s, cc::PCR_EXTEND);
    let a = s.auth(cc::PCR_EXTEND, &[&21u32.to_be_bytes()], &params, b"", 1);
    assert_eq!(h.send(cc::PCR_EXTEND, &[21], &[a], &params).rc(), 0x99D);
}

#[test]
fn pcr_auth_and_policy_groups_are_reported() {
    let mut h = Harness::new();
    for tag in [0x13u32, 0x14] {
        let mut p = Vec::new();
        p.extend(7u32.to_be_bytes());
        p.extend(tag.to_be_bytes());
        p.extend(1u32.to_be_bytes());
        let r = h.ok(cc::GET_CAPABILITY, &[], &[], &p);
        // moreData, capability, count, tag, sizeofSelect, select.
        assert_eq!(&r.body()[9..13], &tag.to_be_bytes());
        assert_eq!(&r.body()[13..17], &[3, 0, 0, 0x70]);
    }
}

const PCR_ALLOCATE: u32 = 0x12B;
const SHA1: u16 = 0x0004;
const SHA512: u16 = 0x000D;

/// TPML_PCR_SELECTION of (hash, 24-bit mask).
fn selection(banks: &[(u16, u32)]) -> Vec<u8> {
    let mut p = (banks.len() as u32).to_be_bytes().to_vec();
    for (alg, mask) in banks {
        p.extend(alg.to_be_bytes());
        p.push(3);
        p.extend(&mask.to_le_bytes()[..3]);
    }
    p
}

/// PCR_Allocate: (allocationSuccess, maxPCR, sizeNeeded, sizeAvailable), or the error.
fn allocate(h: &mut Harness, banks: &[(u16, u32)]) -> Result<(u8, u32, u32, u32), u32> {
    let r = platform(h, PCR_ALLOCATE, &selection(banks));
    if r.rc() != 0 {
        return Err(r.rc());
    }
    let (b, _) = r.split_sessions(0);
    let u = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().unwrap());
    Ok((b[0], u(1), u(5), u(9)))
}

/// GetCapability(PCRS): (hash, mask) of each listed bank.
fn pcr_banks(h: &mut Harness) -> Vec<(u16, u32)> {
    let mut p = Vec::new();
    p.extend(5u32.to_be_bytes());
    p.extend(0u32.to_be_bytes());
    p.extend(8u32.to_be_bytes());
    let r = h.ok(cc::GET_CAPABILITY, &[], &[], &p);
    let b = &r.body()[5..];
    let n = u32::from_be_bytes(b[..4].try_into().unwrap()) as usize;
    (0..n)
        .map(|k| {
            let e = &b[4 + 6 * k..10 + 6 * k];
            (
                u16::from_be_bytes([e[0], e[1]]),
                u32::from_le_bytes([e[3], e[4], e[5], 0]),
            )
        })
        .collect()
}

fn reset(h: &mut Harness) {
    h.ok(cc::SHUTDOWN, &[], &[], &[0, 0]);
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &[0, 0]);
}

const ALL: u32 = 0xFF_FFFF;

#[test]
fn pcr_allocate_takes_effect_at_the_next_startup_clear() {
    let mut h = Harness::new();
    let default = vec![(SHA1, 0), (SHA256, ALL), (SHA384, ALL), (SHA512, 0)];
    assert_eq!(pcr_banks(&mut h), default);
    // Owner authorization: VALUE at handle 1. No auth: AUTH_MISSING.
    assert_eq!(
        h.send(
            PCR_ALLOCATE,
            &[RH_OWNER],
            &[AuthCmd::pw(b"")],
            &selection(&[])
        )
        .rc(),
        0x184
    );
    assert_eq!(
        h.send(PCR_ALLOCATE, &[RH_PLATFORM], &[], &selection(&[]))
            .rc(),
        0x125
    );
    // An unimplemented hash: HASH at parameter 1; a bad sizeofSelect: VALUE at parameter 1.
    let mut bad = selection(&[(SHA256, ALL)]);
    bad[4..6].copy_from_slice(&0x0012u16.to_be_bytes());
    assert_eq!(platform(&mut h, PCR_ALLOCATE, &bad).rc(), 0x1C3);
    let mut bad = selection(&[(SHA256, ALL)]);
    bad[6] = 2;
    assert_eq!(platform(&mut h, PCR_ALLOCATE, &bad).rc(), 0x1C4);
    // No bank left with PCR 0 or PCR 17: TPM_RC_PCR.
    assert_eq!(allocate(&mut h, &[(SHA256, 0), (SHA384, 0)]), Err(0x127));
    assert_eq!(
        allocate(&mut h, &[(SHA256, ALL & !(1 << 17)), (SHA384, 0)]),
        Err(0x127)
    );
    // Everything, with SHA-512: more than we hold, allocationSuccess NO, nothing pending.
    let full = [(SHA1, ALL), (SHA256, ALL), (SHA384, ALL), (SHA512, ALL)];
    assert_eq!(allocate(&mut h, &full), Ok((0, 24, 24 * 164, 2400)));
    h.ok(cc::SHUTDOWN, &[], &[], &[0, 1]); // Shutdown(STATE) is still allowed
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &[0, 1]);
    // SHA-1 added (the other banks named or not keep theirs): YES, 2400 of 2400 bytes.
    assert_eq!(allocate(&mut h, &[(SHA1, ALL)]), Ok((1, 24, 2400, 2400)));
    // Still the old banks until the Startup(CLEAR); Shutdown(STATE) refused (TYPE at
    // parameter 1).
    assert_eq!(pcr_banks(&mut h), default);
    assert_eq!(h.send(cc::SHUTDOWN, &[], &[], &[0, 1]).rc(), 0x1CA);
    let d1 = digest(SHA1, &[b"ima"]);
    reset(&mut h);
    assert_eq!(
        pcr_banks(&mut h),
        vec![(SHA1, ALL), (SHA256, ALL), (SHA384, ALL), (SHA512, 0)]
    );
    // The SHA-1 bank starts as the others and extends with SHA-1.
    assert_eq!(h.pcr(SHA1, 10), vec![0; 20]);
    assert_eq!(h.pcr(SHA1, 17), vec![0xFF; 20]);
    let d256 = digest(SHA256, &[b"ima"]);
    h.ok(
        cc::PCR_EXTEND,
        &[10],
        &[AuthCmd::pw(b"")],
        &digest_values(&[(SHA1, &d1), (SHA256, &d256)]),
    );
    assert_eq!(h.pcr(SHA1, 10), digest(SHA1, &[&[0; 20], &d1]));
    assert_eq!(h.pcr(SHA256, 10), digest(SHA256, &[&[0; 32], &d256]));
    // Resume keeps the SHA-1 values (state-saved PCRs 0-15).
    h.ok(cc::SHUTDOWN, &[], &[], &[0, 1]);
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &[0, 1]);
    assert_eq!(h.pcr(SHA1, 10), digest(SHA1, &[&[0; 20], &d1]));
    // A partial bank: SHA-384 without PCRs 8-15, SHA-1 dropped.
    let part = ALL & !0xFF00;
    assert_eq!(
        allocate(&mut h, &[(SHA384, part), (SHA1, 0)]),
        Ok((1, 24, 24 * 32 + 16 * 48, 2400))
    );
    reset(&mut h);
    assert_eq!(
        pcr_banks(&mut h),
        vec![(SHA1, 0), (SHA256, ALL), (SHA384, part), (SHA512, 0)]
    );
    // PCR_Read leaves out what is not allocated.
    let mut p = Vec::new();
    p.extend(1u32.to_be_bytes());
    p.extend(SHA384.to_be_bytes());
    p.extend([3, 0x00, 0x03, 0x00]); // PCRs 8 and 9
    let r = h.ok(cc::PCR_READ, &[], &[], &p);
    assert_eq!(&r.body()[4..14], &[0, 0, 0, 1, 0, 0x0C, 3, 0, 0, 0]);
    assert_eq!(h.pcr(SHA384, 16), vec![0; 48]);
}

#[test]
fn sha1_is_an_implemented_hash() {
    let mut h = Harness::new();
    // TPM2_Hash with SHA-1 (FIPS 180-2 A.1).
    let mut p = Vec::new();
    tpm2b(&mut p, b"abc");
    p.extend(SHA1.to_be_bytes());
    p.extend(RH_NULL.to_be_bytes());
    let r = h.ok(0x17D, &[], &[], &p);
    assert_eq!(&r.body()[..2], &[0, 20]);
    assert_eq!(&r.body()[2..22], digest(SHA1, &[b"abc"]).as_slice());
    // A SHA-1 HMAC session authorizes (the session's HMAC is SHA-1's).
    let mut p = Vec::new();
    tpm2b(&mut p, &[1; 20]);
    p.extend([0, 0, 0]);
    p.extend(0x0010u16.to_be_bytes());
    p.extend(SHA1.to_be_bytes());
    let r = h.ok(cc::START_AUTH_SESSION, &[RH_NULL, RH_NULL], &[], &p);
    assert_eq!(&r.body()[4..6], &[0, 20], "nonceTPM of SHA-1's size");
}

#[test]
fn firmware_chooses_the_banks_at_manufacture() {
    use vtpm::crypto::hash::HashAlg;
    let mut h = Harness::unstarted(7);
    assert_eq!(h.tpm.manufacture_pcr_banks(&[]), Err(vtpm::TpmRc::VALUE));
    assert_eq!(
        h.tpm.manufacture_pcr_banks(&HashAlg::ALL),
        Err(vtpm::TpmRc::VALUE),
        "four banks do not fit"
    );
    h.tpm
        .manufacture_pcr_banks(&[HashAlg::Sha1, HashAlg::Sha256])
        .unwrap();
    h.ok(cc::STARTUP, &[], &[], &[0, 0]);
    assert_eq!(
        pcr_banks(&mut h),
        vec![(SHA1, ALL), (SHA256, ALL), (SHA384, 0), (SHA512, 0)]
    );
    assert_eq!(
        h.tpm.manufacture_pcr_banks(&[HashAlg::Sha256]),
        Err(vtpm::TpmRc::INITIALIZE)
    );
}

/// GetCapability(TPM_CAP_AUTH_POLICIES) (Part 2 §10.9.13; the reference's
/// PermanentHandleGetPolicy): the four hierarchies in handle order, each with its authPolicy
/// and the policy's hash (TPM_ALG_NULL and no digest without one); a property that is not a
/// permanent handle is TPM_RC_VALUE at parameter 2.
#[test]
fn auth_policies_capability_lists_the_hierarchy_policies() {
    let mut h = Harness::new();
    let cap = |h: &mut Harness, property: u32, count: u32| {
        let mut p = 9u32.to_be_bytes().to_vec();
        p.extend(property.to_be_bytes());
        p.extend(count.to_be_bytes());
        h.send(0x17A, &[], &[], &p)
    };
    set_policy(&mut h, RH_ENDORSEMENT, b"");
    let r = cap(&mut h, 0x4000_0000, 14);
    assert_eq!(r.rc(), 0);
    let mut want = vec![0u8, 0, 0, 0, 9, 0, 0, 0, 4];
    for handle in [0x4000_0001u32, 0x4000_000A] {
        want.extend(handle.to_be_bytes());
        want.extend([0x00, 0x10]);
    }
    want.extend(0x4000_000Bu32.to_be_bytes());
    want.extend([0x00, 0x0B]);
    want.extend([7; 32]);
    want.extend(0x4000_000Cu32.to_be_bytes());
    want.extend([0x00, 0x10]);
    assert_eq!(r.body(), &want[..]);
    // From the platform on, one entry: no more data.
    let r = cap(&mut h, 0x4000_000C, 14);
    assert_eq!(&r.body()[..9], &[0, 0, 0, 0, 9, 0, 0, 0, 1]);
    // One of four: more data.
    let r = cap(&mut h, 0x4000_0001, 1);
    assert_eq!(&r.body()[..9], &[1, 0, 0, 0, 9, 0, 0, 0, 1]);
    assert_eq!(cap(&mut h, 0x0100_0000, 14).rc(), 0x2C4);
    assert_eq!(cap(&mut h, 0x8000_0000, 14).rc(), 0x2C4);
}

/// TPM2_PP_Commands (Part 3 §26.2) always needs physical presence, which a vTPM never has:
/// TPM_RC_PP at session 1, before the platform's authorization is looked at (the reference's
/// CheckAuthSession). TPM2_SetAlgorithmSet (§26.3) keeps the value it is given and
/// TPM_PT_ALGORITHM_SET reports it.
#[test]
fn pp_commands_needs_presence_and_set_algorithm_set_is_reported() {
    let mut h = Harness::new();
    let lists = [0u32.to_be_bytes(), 0u32.to_be_bytes()].concat();
    let r = h.send(0x12D, &[RH_PLATFORM], &[AuthCmd::pw(b"")], &lists);
    assert_eq!(r.rc(), 0x990);
    let r = h.send(0x12D, &[RH_PLATFORM], &[AuthCmd::pw(b"wrong")], &lists);
    assert_eq!(r.rc(), 0x990);
    let property = |h: &mut Harness| {
        let p = [
            6u32.to_be_bytes(),
            0x20Cu32.to_be_bytes(),
            1u32.to_be_bytes(),
        ]
        .concat();
        let r = h.ok(cc::GET_CAPABILITY, &[], &[], &p);
        assert_eq!(&r.body()[9..13], &0x20Cu32.to_be_bytes());
        u32::from_be_bytes(r.body()[13..17].try_into().unwrap())
    };
    assert_eq!(property(&mut h), 0);
    h.ok(
        0x13F,
        &[RH_PLATFORM],
        &[AuthCmd::pw(b"")],
        &5u32.to_be_bytes(),
    );
    assert_eq!(property(&mut h), 5);
    // Only the platform may set it.
    let r = h.send(0x13F, &[RH_OWNER], &[AuthCmd::pw(b"")], &1u32.to_be_bytes());
    assert_eq!(r.rc(), 0x184);
}
