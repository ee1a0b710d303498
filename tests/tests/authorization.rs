//! Attacks on authorization (Part 1 §19, Part 3 §5.6) and the spec's answer to each: bound
//! sessions, public-only objects, dictionary-attack accounting, encrypt-only sessions, policy
//! sessions after use, saved contexts after a reset, flushed sequences. Each test asserts the
//! response code and that the attack changed nothing.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use vtpm_tests::*;

const CREATE_PRIMARY: u32 = 0x131;
const CREATE: u32 = 0x153;
const LOAD: u32 = 0x157;
const LOAD_EXTERNAL: u32 = 0x167;
const READ_PUBLIC: u32 = 0x173;
const UNSEAL: u32 = 0x15E;
const SIGN: u32 = 0x15D;
const CERTIFY: u32 = 0x148;
const ACTIVATE_CREDENTIAL: u32 = 0x147;
const OBJECT_CHANGE_AUTH: u32 = 0x150;
const POLICY_SECRET: u32 = 0x151;
const POLICY_OR: u32 = 0x171;
const POLICY_GET_DIGEST: u32 = 0x189;
const POLICY_COMMAND_CODE: u32 = 0x16C;
const EVICT_CONTROL: u32 = 0x120;
const NV_DEFINE_SPACE: u32 = 0x12A;
const NV_WRITE: u32 = 0x137;
const CONTEXT_SAVE: u32 = 0x162;
const CONTEXT_LOAD: u32 = 0x161;
const DA_LOCK_RESET: u32 = 0x139;
const DA_PARAMETERS: u32 = 0x13A;
const RH_ENDORSEMENT: u32 = 0x4000_000B;

const AUTH_FAIL_S1: u32 = 0x98E;
const BAD_AUTH_S1: u32 = 0x9A2;
const AUTH_UNAVAILABLE: u32 = 0x12F;
const POLICY_FAIL_S1: u32 = 0x99D;
const LOCKOUT: u32 = 0x921;

/// fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | restricted | decrypt.
const STORAGE: u32 = 0x0003_0072;
const AES128CFB: [u8; 6] = [0, 6, 0, 0x80, 0, 0x43];
const NULL: [u8; 2] = [0, 0x10];

/// A sealed-data template: fixedTPM | fixedParent | attrs, with `policy`.
fn sealed_template(attrs: u32, policy: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(0x0008u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend((0x12 | attrs).to_be_bytes());
    tpm2b(&mut t, policy);
    t.extend(NULL);
    t.extend([0, 0]);
    t
}

/// CreatePrimary under `hierarchy` (empty auth); returns the handle.
fn primary(h: &mut Harness, hierarchy: u32, template: &[u8]) -> u32 {
    let mut p = vec![0, 4, 0, 0, 0, 0];
    tpm2b(&mut p, template);
    p.extend([0, 0, 0, 0, 0, 0]);
    let r = h.ok(CREATE_PRIMARY, &[hierarchy], &[AuthCmd::pw(b"")], &p);
    u32_at(r.body(), 0)
}

fn storage_primary(h: &mut Harness) -> u32 {
    primary(
        h,
        RH_OWNER,
        &ecc_p256_template(STORAGE, &[], &AES128CFB, &NULL),
    )
}

/// Create and Load a child with authValue `auth` and sensitive `data` under `parent`;
/// returns (handle, Name, TPM2B_PRIVATE, TPM2B_PUBLIC).
fn child(
    h: &mut Harness,
    parent: u32,
    template: &[u8],
    auth: &[u8],
    data: &[u8],
) -> (u32, Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut s = Vec::new();
    tpm2b(&mut s, auth);
    tpm2b(&mut s, data);
    let mut p = Vec::new();
    tpm2b(&mut p, &s);
    tpm2b(&mut p, template);
    p.extend([0, 0, 0, 0, 0, 0]);
    let r = h.ok(CREATE, &[parent], &[AuthCmd::pw(b"")], &p);
    let (params, _) = r.split_sessions(0);
    let (_, end_priv) = tpm2b_at(params, 0);
    let (_, end_pub) = tpm2b_at(params, end_priv);
    let private = params[..end_priv].to_vec();
    let public = params[end_priv..end_pub].to_vec();
    let (handle, name) = load(h, parent, &private, &public);
    (handle, name, private, public)
}

fn load(h: &mut Harness, parent: u32, private: &[u8], public: &[u8]) -> (u32, Vec<u8>) {
    let r = h.ok(
        LOAD,
        &[parent],
        &[AuthCmd::pw(b"")],
        &[private, public].concat(),
    );
    let handle = u32_at(r.body(), 0);
    let (params, _) = r.split_sessions(1);
    (handle, tpm2b_at(params, 0).0.to_vec())
}

/// LoadExternal of `public` (a TPM2B_PUBLIC) alone, in the null hierarchy.
fn load_public_only(h: &mut Harness, public: &[u8]) -> Rsp {
    let mut p = vec![0, 0];
    p.extend(public);
    p.extend(RH_NULL.to_be_bytes());
    h.send(LOAD_EXTERNAL, &[], &[], &p)
}

/// The TPM2B_PUBLIC of a loaded object, as ReadPublic returns it.
fn read_public(h: &mut Harness, handle: u32) -> Vec<u8> {
    let r = h.ok(READ_PUBLIC, &[handle], &[], &[]);
    let (_, end) = tpm2b_at(r.body(), 0);
    r.body()[..end].to_vec()
}

fn unseal(h: &mut Harness, obj: u32, auth: AuthCmd) -> Rsp {
    h.send(UNSEAL, &[obj], &[auth], &[])
}

fn lockout_counter(h: &mut Harness) -> u32 {
    let p = [6u32, 0x20E, 1].map(u32::to_be_bytes).concat();
    let r = h.ok(cc::GET_CAPABILITY, &[], &[], &p);
    u32_at(r.body(), 13)
}

fn change_owner_auth(h: &mut Harness, old: &[u8], new: &[u8]) {
    let mut p = Vec::new();
    tpm2b(&mut p, new);
    h.ok(
        cc::HIERARCHY_CHANGE_AUTH,
        &[RH_OWNER],
        &[AuthCmd::pw(old)],
        &p,
    );
}

/// The TCG PolicySecret(owner) digest for SHA-256 with an empty policyRef.
fn policy_secret_owner() -> Vec<u8> {
    let d = digest(
        SHA256,
        &[
            &[0; 32],
            &POLICY_SECRET.to_be_bytes(),
            &RH_OWNER.to_be_bytes(),
        ],
    );
    digest(SHA256, &[&d])
}

/// PolicySecret(authHandle = owner, empty password) on `session`.
fn policy_secret(h: &mut Harness, auth_handle: u32, session: u32, auth: AuthCmd) -> Rsp {
    let p = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    h.send(POLICY_SECRET, &[auth_handle, session], &[auth], &p)
}

#[test]
fn a_public_only_copy_cannot_be_bound_and_another_binding_does_not_carry_over() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h);
    let (obj, name, _, _) = child(
        &mut h,
        parent,
        &sealed_template(0x40, &[]),
        b"objpw",
        b"secret",
    );
    // The attacker loads the public area alone: same Name, no authValue.
    let public = read_public(&mut h, obj);
    let r = load_public_only(&mut h, &public);
    assert_eq!(r.rc(), 0);
    let copy = u32_at(r.body(), 0);
    let (copy_name, _) = tpm2b_at(r.body(), 4);
    assert_eq!(copy_name, name.as_slice(), "same Name");
    // Binding to it is refused: TPM_RC_HANDLE at the bind handle (as libtpms answers).
    let mut p = Vec::new();
    tpm2b(&mut p, &[1; 32]);
    p.extend([0, 0, 0, 0, 0x10, 0, 0x0B]);
    let r = h.send(cc::START_AUTH_SESSION, &[RH_NULL, copy], &[], &p);
    assert_eq!(r.rc(), 0x28B);
    // A session bound to something else (owner, empty auth) does not omit the object's
    // authValue: an HMAC without it fails and counts (the object is DA-protected).
    let before = lockout_counter(&mut h);
    let s = start_session(&mut h, RH_OWNER, b"", 0);
    let a = s.auth(UNSEAL, &[&name], &[], b"", 1);
    assert_eq!(unseal(&mut h, obj, a).rc(), AUTH_FAIL_S1);
    assert_eq!(lockout_counter(&mut h), before + 1);
    // With the authValue, the same session unseals.
    let a = s.auth(UNSEAL, &[&name], &[], b"objpw", 1);
    let r = unseal(&mut h, obj, a);
    assert_eq!(r.rc(), 0);
    assert_eq!(tpm2b_at(r.split_sessions(0).0, 0).0, b"secret");
}

#[test]
fn a_session_bound_to_an_object_omits_its_authvalue_only_for_that_object() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h);
    let t = sealed_template(0x40, &[]);
    let (obj, name, private, public) = child(&mut h, parent, &t, b"objpw", b"secret");
    let mut s = start_session(&mut h, obj, b"objpw", 0);
    let r = unseal(&mut h, obj, s.auth(UNSEAL, &[&name], &[], b"", 1));
    assert_eq!(r.rc(), 0, "bound: the authValue is omitted");
    s.roll(&r, 0);
    // ObjectChangeAuth gives a new private for the same public (same Name); loaded, the new
    // object has another authValue and the session is no longer bound to it.
    let mut p = Vec::new();
    tpm2b(&mut p, b"newpw");
    let r = h.ok(
        OBJECT_CHANGE_AUTH,
        &[obj, parent],
        &[AuthCmd::pw(b"objpw")],
        &p,
    );
    let (params, _) = r.split_sessions(0);
    let (_, end) = tpm2b_at(params, 0);
    let (obj2, name2) = load(&mut h, parent, &params[..end], &public);
    assert_eq!(name2, name);
    let a = s.auth(UNSEAL, &[&name], &[], b"", 1);
    assert_eq!(unseal(&mut h, obj2, a).rc(), AUTH_FAIL_S1);
    let r = unseal(&mut h, obj2, s.auth(UNSEAL, &[&name], &[], b"newpw", 1));
    assert_eq!(r.rc(), 0);
    let _ = private;
}

#[test]
fn a_session_bound_to_one_sequence_does_not_authorize_another() {
    let mut h = Harness::new();
    let start = |h: &mut Harness, auth: &[u8]| {
        let mut p = Vec::new();
        tpm2b(&mut p, auth);
        p.extend(SHA256.to_be_bytes());
        u32_at(h.ok(cc::HASH_SEQUENCE_START, &[], &[], &p).body(), 0)
    };
    let a = start(&mut h, b"aaaa");
    let b = start(&mut h, b"bbbb");
    let mut s = start_session(&mut h, a, b"aaaa", 0);
    let mut p = Vec::new();
    tpm2b(&mut p, b"data");
    // Sequences have an empty Name: only the authValue tells them apart.
    let r = h.send(
        cc::SEQUENCE_UPDATE,
        &[b],
        &[s.auth(cc::SEQUENCE_UPDATE, &[b""], &p, b"", 1)],
        &p,
    );
    assert_eq!(r.rc(), BAD_AUTH_S1, "sequences are DA-exempt");
    let r = h.send(
        cc::SEQUENCE_UPDATE,
        &[a],
        &[s.auth(cc::SEQUENCE_UPDATE, &[b""], &p, b"", 1)],
        &p,
    );
    assert_eq!(r.rc(), 0);
    s.roll(&r, 0);
    let r = h.send(
        cc::SEQUENCE_UPDATE,
        &[b],
        &[s.auth(cc::SEQUENCE_UPDATE, &[b""], &p, b"bbbb", 1)],
        &p,
    );
    assert_eq!(r.rc(), 0, "with B's authValue the same session works on B");
}

#[test]
fn a_binding_does_not_survive_a_change_of_the_hierarchy_auth() {
    let mut h = Harness::new();
    change_owner_auth(&mut h, b"", b"old");
    let s = start_session(&mut h, RH_OWNER, b"old", 0);
    change_owner_auth(&mut h, b"old", b"new");
    let mut p = Vec::new();
    tpm2b(&mut p, b"");
    let owner = RH_OWNER.to_be_bytes();
    let cmd = cc::HIERARCHY_CHANGE_AUTH;
    let a = s.auth(cmd, &[&owner], &p, b"", 1);
    assert_eq!(h.send(cmd, &[RH_OWNER], &[a], &p).rc(), BAD_AUTH_S1);
    let a = s.auth(cmd, &[&owner], &p, b"new", 1);
    assert_eq!(h.send(cmd, &[RH_OWNER], &[a], &p).rc(), 0);
    change_owner_auth(&mut h, b"", b"x");
}

#[test]
fn public_only_objects_have_no_authorization() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h);
    // A software key claiming fixedTPM | fixedParent | restricted | sign | userWithAuth.
    let ak = primary(
        &mut h,
        RH_ENDORSEMENT,
        &ecc_p256_template(0x0005_0072, &[], &NULL, &[0, 0x18, 0, 0x0B]),
    );
    let mut public = read_public(&mut h, ak);
    public[7] &= !0x20; // sensitiveDataOrigin off: as if made outside
    let r = load_public_only(&mut h, &public);
    assert_eq!(r.rc(), 0);
    let fake = u32_at(r.body(), 0);
    let pw = || AuthCmd::pw(b"");
    // Sign (USER role).
    let mut p = Vec::new();
    tpm2b(&mut p, &[7; 32]);
    p.extend(NULL);
    p.extend([0x80, 0x24, 0x40, 0, 0, 7, 0, 0]);
    assert_eq!(h.send(SIGN, &[fake], &[pw()], &p).rc(), AUTH_UNAVAILABLE);
    // Certify vouching for it (ADMIN role on objectHandle).
    let p = [0u8, 0, 0, 0x10];
    let r = h.send(CERTIFY, &[fake, ak], &[pw(), pw()], &p);
    assert_eq!(r.rc(), AUTH_UNAVAILABLE);
    // ActivateCredential releasing a credential for it.
    let mut p = Vec::new();
    tpm2b(&mut p, &[1; 40]);
    tpm2b(&mut p, &[2; 40]);
    let r = h.send(ACTIVATE_CREDENTIAL, &[fake, parent], &[pw(), pw()], &p);
    assert_eq!(r.rc(), AUTH_UNAVAILABLE);
    // PolicySecret naming it.
    let s = start_session(&mut h, RH_NULL, b"", 1);
    let r = policy_secret(&mut h, fake, s.handle, pw());
    assert_eq!(r.rc(), AUTH_UNAVAILABLE);
    let r = h.ok(POLICY_GET_DIGEST, &[s.handle], &[], &[]);
    assert_eq!(&r.body()[2..], &[0; 32], "the policy did not move");
}

#[test]
fn a_wrong_guess_through_a_lockout_bound_session_counts_against_lockout() {
    let mut h = Harness::new();
    let mut lp = Vec::new();
    tpm2b(&mut lp, b"lock");
    h.ok(
        cc::HIERARCHY_CHANGE_AUTH,
        &[RH_LOCKOUT],
        &[AuthCmd::pw(b"")],
        &lp,
    );
    // maxTries 3, recoveryTime 10 s, lockoutRecovery 1000 s.
    let p = [3u32, 10, 1000].map(u32::to_be_bytes).concat();
    h.ok(DA_PARAMETERS, &[RH_LOCKOUT], &[AuthCmd::pw(b"lock")], &p);
    // Bound to lockout, the attacker guesses its authValue and uses the session on the
    // owner hierarchy (DA-exempt): the failure is counted against lockoutAuth.
    let s = start_session(&mut h, RH_LOCKOUT, b"guess", 0);
    let owner = RH_OWNER.to_be_bytes();
    let mut p = Vec::new();
    tpm2b(&mut p, b"");
    let cmd = cc::HIERARCHY_CHANGE_AUTH;
    let a = s.auth(cmd, &[&owner], &p, b"", 1);
    assert_eq!(h.send(cmd, &[RH_OWNER], &[a], &p).rc(), AUTH_FAIL_S1);
    // lockoutAuth is now locked: the right password is refused, and so is the session.
    let r = h.send(DA_LOCK_RESET, &[RH_LOCKOUT], &[AuthCmd::pw(b"lock")], &[]);
    assert_eq!(r.rc(), LOCKOUT);
    let a = s.auth(cmd, &[&owner], &p, b"", 1);
    assert_eq!(h.send(cmd, &[RH_OWNER], &[a], &p).rc(), LOCKOUT);
}

#[test]
fn persistent_objects_are_da_protected_unless_no_da() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h);
    let (obj, _, _, _) = child(&mut h, parent, &sealed_template(0x40, &[]), b"pw", b"s");
    let persistent = 0x8100_0010u32;
    h.ok(
        EVICT_CONTROL,
        &[RH_OWNER, obj],
        &[AuthCmd::pw(b"")],
        &persistent.to_be_bytes(),
    );
    let before = lockout_counter(&mut h);
    let r = unseal(&mut h, persistent, AuthCmd::pw(b"wrong"));
    assert_eq!(r.rc(), AUTH_FAIL_S1);
    assert_eq!(lockout_counter(&mut h), before + 1);
    // noDA (0x400) makes the same mistake BAD_AUTH, uncounted.
    let (obj, _, _, _) = child(&mut h, parent, &sealed_template(0x440, &[]), b"pw", b"s");
    let persistent = 0x8100_0011u32;
    h.ok(
        EVICT_CONTROL,
        &[RH_OWNER, obj],
        &[AuthCmd::pw(b"")],
        &persistent.to_be_bytes(),
    );
    let r = unseal(&mut h, persistent, AuthCmd::pw(b"wrong"));
    assert_eq!(r.rc(), BAD_AUTH_S1);
    assert_eq!(lockout_counter(&mut h), before + 1);
    // Binding to a persistent object works and omits its authValue.
    let s = start_session(&mut h, persistent, b"pw", 0);
    let public = read_public(&mut h, persistent);
    let name = [&SHA256.to_be_bytes()[..], &digest(SHA256, &[&public[2..]])].concat();
    let r = unseal(&mut h, persistent, s.auth(UNSEAL, &[&name], &[], b"", 1));
    assert_eq!(r.rc(), 0);
}

#[test]
fn an_encrypt_only_session_must_carry_a_valid_hmac() {
    let mut h = Harness::new();
    change_owner_auth(&mut h, b"", b"o");
    // An HMAC session with AES-128-CFB bound to owner: its key is not empty.
    let nonce_caller = [0x5Au8; 32];
    let mut p = Vec::new();
    tpm2b(&mut p, &nonce_caller);
    p.extend([0, 0, 0]);
    p.extend(AES128CFB);
    p.extend(SHA256.to_be_bytes());
    let r = h.ok(cc::START_AUTH_SESSION, &[RH_NULL, RH_OWNER], &[], &p);
    let mut s = CallerSession {
        handle: u32_at(r.body(), 0),
        nonce_tpm: r.body()[6..38].to_vec(),
        key: vec![],
    };
    s.key = kdfa256(b"o", b"ATH", &s.nonce_tpm, &nonce_caller);
    let params = 16u16.to_be_bytes();
    let mut a = s.auth(cc::GET_RANDOM, &[], &params, b"", 0x41);
    a.hmac[0] ^= 1;
    assert_eq!(h.send(cc::GET_RANDOM, &[], &[a], &params).rc(), BAD_AUTH_S1);
    let a = s.auth(cc::GET_RANDOM, &[], &params, b"", 0x41);
    assert_eq!(h.send(cc::GET_RANDOM, &[], &[a], &params).rc(), 0);
}

#[test]
fn a_policy_session_authorizes_one_command_then_starts_over() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h);
    let policy = policy_secret_owner();
    // A sealed object that only a policy session may unseal (userWithAuth clear).
    let (obj, _, _, _) = child(&mut h, parent, &sealed_template(0, &policy), b"", b"s");
    let s = start_session(&mut h, RH_NULL, b"", 1);
    assert_eq!(
        policy_secret(&mut h, RH_OWNER, s.handle, AuthCmd::pw(b"")).rc(),
        0
    );
    let use_it = |h: &mut Harness| {
        let a = AuthCmd {
            handle: s.handle,
            nonce: vec![9; 16],
            attrs: 1,
            hmac: vec![],
        };
        unseal(h, obj, a)
    };
    assert_eq!(use_it(&mut h).rc(), 0);
    assert_eq!(use_it(&mut h).rc(), POLICY_FAIL_S1, "the policy was spent");
    let r = h.ok(POLICY_GET_DIGEST, &[s.handle], &[], &[]);
    assert_eq!(&r.body()[2..], &[0; 32]);
    assert_eq!(
        policy_secret(&mut h, RH_OWNER, s.handle, AuthCmd::pw(b"")).rc(),
        0
    );
    assert_eq!(use_it(&mut h).rc(), 0, "satisfied again");
}

#[test]
fn admin_role_needs_a_policy_limited_to_the_command() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h);
    let policy = policy_secret_owner();
    // adminWithPolicy (0x80): the ADMIN role must use a policy session.
    let (obj, _, _, _) = child(&mut h, parent, &sealed_template(0xC0, &policy), b"pw", b"s");
    let mut p = Vec::new();
    tpm2b(&mut p, b"new");
    let r = h.send(
        OBJECT_CHANGE_AUTH,
        &[obj, parent],
        &[AuthCmd::pw(b"pw")],
        &p,
    );
    assert_eq!(r.rc(), 0x124, "AUTH_TYPE (format zero: no position)");
    let s = start_session(&mut h, RH_NULL, b"", 1);
    assert_eq!(
        policy_secret(&mut h, RH_OWNER, s.handle, AuthCmd::pw(b"")).rc(),
        0
    );
    let a = AuthCmd {
        handle: s.handle,
        nonce: vec![9; 16],
        attrs: 1,
        hmac: vec![],
    };
    let r = h.send(OBJECT_CHANGE_AUTH, &[obj, parent], &[a], &p);
    assert_eq!(
        r.rc(),
        POLICY_FAIL_S1,
        "digest matches, but no PolicyCommandCode"
    );
    // PolicyCommandCode(ObjectChangeAuth) then PolicySecret: a different digest, so an
    // object whose policy includes the command code accepts it.
    let cc_then_secret = {
        let d = digest(
            SHA256,
            &[
                &[0; 32],
                &POLICY_COMMAND_CODE.to_be_bytes(),
                &OBJECT_CHANGE_AUTH.to_be_bytes(),
            ],
        );
        let d = digest(
            SHA256,
            &[&d, &POLICY_SECRET.to_be_bytes(), &RH_OWNER.to_be_bytes()],
        );
        digest(SHA256, &[&d])
    };
    let (obj2, _, _, _) = child(
        &mut h,
        parent,
        &sealed_template(0xC0, &cc_then_secret),
        b"pw",
        b"s",
    );
    let s = start_session(&mut h, RH_NULL, b"", 1);
    h.ok(
        POLICY_COMMAND_CODE,
        &[s.handle],
        &[],
        &OBJECT_CHANGE_AUTH.to_be_bytes(),
    );
    assert_eq!(
        policy_secret(&mut h, RH_OWNER, s.handle, AuthCmd::pw(b"")).rc(),
        0
    );
    let a = AuthCmd {
        handle: s.handle,
        nonce: vec![9; 16],
        attrs: 1,
        hmac: vec![],
    };
    assert_eq!(
        h.send(
            OBJECT_CHANGE_AUTH,
            &[obj2, parent],
            core::slice::from_ref(&a),
            &p
        )
        .rc(),
        0
    );
    // The same session may not Unseal: the command code does not match (POLICY_CC).
    assert_eq!(
        unseal(&mut h, obj2, a).rc(),
        POLICY_FAIL_S1,
        "the policy started over after ObjectChangeAuth"
    );
}

#[test]
fn policy_secret_rules() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h);
    let policy = policy_secret_owner();
    let (obj, _, _, _) = child(&mut h, parent, &sealed_template(0, &policy), b"", b"s");
    // authHandle TPM_RH_NULL is not a TPMI_DH_ENTITY: TPM_RC_VALUE at handle 1.
    let s = start_session(&mut h, RH_NULL, b"", 1);
    let r = policy_secret(&mut h, RH_NULL, s.handle, AuthCmd::pw(b""));
    assert_eq!(r.rc(), 0x184);
    // PolicySecret on the object authorized by a satisfied policy session: the policy did
    // not prove knowledge of the authValue (TPM_RC_MODE at session 1).
    let p1 = start_session(&mut h, RH_NULL, b"", 1);
    assert_eq!(
        policy_secret(&mut h, RH_OWNER, p1.handle, AuthCmd::pw(b"")).rc(),
        0
    );
    let a = AuthCmd {
        handle: p1.handle,
        nonce: vec![9; 16],
        attrs: 1,
        hmac: vec![],
    };
    assert_eq!(policy_secret(&mut h, obj, s.handle, a).rc(), 0x989);
    // In a trial session the nonce, expiration and cpHash are not checked.
    let t = start_session(&mut h, RH_NULL, b"", 3);
    let mut p = Vec::new();
    tpm2b(&mut p, &[1; 32]); // a nonce that is not the session's
    tpm2b(&mut p, &[2; 32]);
    tpm2b(&mut p, b"");
    p.extend((-5i32).to_be_bytes());
    let r = h.send(
        POLICY_SECRET,
        &[RH_OWNER, t.handle],
        &[AuthCmd::pw(b"")],
        &p,
    );
    assert_eq!(r.rc(), 0);
    // A non-zero expiration is accepted in a policy session; a negative one returns a
    // ticket in the owner hierarchy with an 8-byte timeout.
    let mut p = Vec::new();
    tpm2b(&mut p, &s.nonce_tpm);
    tpm2b(&mut p, b"");
    tpm2b(&mut p, b"");
    p.extend((-60i32).to_be_bytes());
    let r = h.send(
        POLICY_SECRET,
        &[RH_OWNER, s.handle],
        &[AuthCmd::pw(b"")],
        &p,
    );
    assert_eq!(r.rc(), 0);
    let (out, _) = r.split_sessions(0);
    let (timeout, i) = tpm2b_at(out, 0);
    assert_eq!(timeout.len(), 8);
    assert_eq!(&out[i..i + 2], &0x8023u16.to_be_bytes());
    assert_eq!(u32_at(out, i + 2), RH_OWNER);
    assert!(tpm2b_at(out, i + 6).0.len() == 48, "ticket HMAC");
    // cpHashA of the wrong size: TPM_RC_SIZE at parameter 2.
    let mut p = Vec::new();
    tpm2b(&mut p, b"");
    tpm2b(&mut p, &[0; 20]);
    tpm2b(&mut p, b"");
    p.extend(0u32.to_be_bytes());
    let r = h.send(
        POLICY_SECRET,
        &[RH_OWNER, s.handle],
        &[AuthCmd::pw(b"")],
        &p,
    );
    assert_eq!(r.rc(), 0x2D5);
}

#[test]
fn policy_or_in_a_trial_session_computes_the_digest() {
    let mut h = Harness::new();
    let t = start_session(&mut h, RH_NULL, b"", 3);
    let (d1, d2) = ([1u8; 32], [2u8; 32]);
    let mut p = 2u32.to_be_bytes().to_vec();
    tpm2b(&mut p, &d1);
    tpm2b(&mut p, &d2);
    h.ok(POLICY_OR, &[t.handle], &[], &p);
    let r = h.ok(POLICY_GET_DIGEST, &[t.handle], &[], &[]);
    let expect = digest(SHA256, &[&[0; 32], &POLICY_OR.to_be_bytes(), &d1, &d2]);
    assert_eq!(&r.body()[2..], expect.as_slice());
}

#[test]
fn saved_contexts_do_not_survive_a_reset_nor_stclear_ones_a_restart() {
    let mut h = Harness::new();
    let plain = storage_primary(&mut h);
    let stclear = primary(
        &mut h,
        RH_OWNER,
        &ecc_p256_template(STORAGE | 0x4, &[], &AES128CFB, &NULL),
    );
    let save = |h: &mut Harness, k: u32| h.ok(CONTEXT_SAVE, &[k], &[], &[]).body().to_vec();
    let (c1, c2) = (save(&mut h, plain), save(&mut h, stclear));
    assert_eq!(
        u32_at(&c2, 8),
        0x8000_0002,
        "savedHandle of an stClear object"
    );
    // TPM Restart: Shutdown(STATE), _TPM_Init, Startup(CLEAR).
    h.ok(cc::SHUTDOWN, &[], &[], &[0, 1]);
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &[0, 0]);
    assert_eq!(h.send(CONTEXT_LOAD, &[], &[], &c1).rc(), 0);
    assert_eq!(h.send(CONTEXT_LOAD, &[], &[], &c2).rc(), 0x1DF);
    // TPM Resume keeps both.
    let plain = storage_primary(&mut h);
    let stclear = primary(
        &mut h,
        RH_OWNER,
        &ecc_p256_template(STORAGE | 0x4, &[], &AES128CFB, &NULL),
    );
    let (c1, c2) = (save(&mut h, plain), save(&mut h, stclear));
    h.ok(cc::SHUTDOWN, &[], &[], &[0, 1]);
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &[0, 1]);
    assert_eq!(h.send(CONTEXT_LOAD, &[], &[], &c2).rc(), 0);
    // TPM Reset: an owner-hierarchy context no longer loads.
    h.ok(cc::SHUTDOWN, &[], &[], &[0, 0]);
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &[0, 0]);
    assert_eq!(h.send(CONTEXT_LOAD, &[], &[], &c1).rc(), 0x1DF);
}

#[test]
fn sequence_complete_under_an_hmac_session_succeeds_and_flushes() {
    let mut h = Harness::new();
    for code in [cc::SEQUENCE_COMPLETE, cc::EVENT_SEQUENCE_COMPLETE] {
        let event = code == cc::EVENT_SEQUENCE_COMPLETE;
        let mut p = Vec::new();
        tpm2b(&mut p, b"sq");
        p.extend(if event { 0x0010 } else { SHA256 }.to_be_bytes());
        let seq = u32_at(h.ok(cc::HASH_SEQUENCE_START, &[], &[], &p).body(), 0);
        let s = start_session(&mut h, RH_NULL, b"", 0);
        let mut p = Vec::new();
        tpm2b(&mut p, b"abc");
        let (handles, auths): (Vec<u32>, Vec<AuthCmd>) = if event {
            let pcr = 16u32.to_be_bytes();
            (
                vec![16, seq],
                vec![AuthCmd::pw(b""), s.auth(code, &[&pcr, b""], &p, b"sq", 1)],
            )
        } else {
            p.extend(RH_OWNER.to_be_bytes());
            (vec![seq], vec![s.auth(code, &[b""], &p, b"sq", 1)])
        };
        let r = h.send(code, &handles, &auths, &p);
        assert_eq!(r.rc(), 0, "{code:#x}");
        let r = h.send(cc::FLUSH_CONTEXT, &[], &[], &seq.to_be_bytes());
        assert_eq!(r.rc(), 0x1CB, "the sequence was flushed");
    }
}

#[test]
fn a_session_listed_twice_or_two_decrypt_sessions_are_refused() {
    let mut h = Harness::new();
    let s = start_session(&mut h, RH_NULL, b"", 0);
    let pcr = 16u32.to_be_bytes();
    let p = digest_values(&[(SHA256, &[1; 32])]);
    let a = s.auth(cc::PCR_EXTEND, &[&pcr], &p, b"", 1);
    let r = h.send(cc::PCR_EXTEND, &[16], &[a.clone(), a], &p);
    assert_eq!(r.rc(), 0xA8B, "TPM_RC_HANDLE at session 2");
    let before = h.pcr(SHA256, 16);
    assert_eq!(before, vec![0; 32]);
}

#[test]
fn binding_to_an_nv_index_omits_its_authvalue() {
    let mut h = Harness::new();
    let index = 0x0150_0001u32;
    let mut public = index.to_be_bytes().to_vec();
    public.extend(SHA256.to_be_bytes());
    public.extend(0x0004_0004u32.to_be_bytes()); // AUTHWRITE | AUTHREAD
    tpm2b(&mut public, b"");
    public.extend(8u16.to_be_bytes());
    let mut p = Vec::new();
    tpm2b(&mut p, b"nvpw");
    tpm2b(&mut p, &public);
    h.ok(NV_DEFINE_SPACE, &[RH_OWNER], &[AuthCmd::pw(b"")], &p);
    let s = start_session(&mut h, index, b"nvpw", 0);
    // The Name as NV_ReadPublic reports it, checked against nameAlg ‖ H(nvPublic).
    let r = h.ok(0x169, &[index], &[], &[]);
    let (nv_public, i) = tpm2b_at(r.body(), 0);
    let name = tpm2b_at(r.body(), i).0.to_vec();
    assert_eq!(nv_public, public.as_slice());
    assert_eq!(
        name,
        [&SHA256.to_be_bytes()[..], &digest(SHA256, &[&public])].concat()
    );
    let mut p = Vec::new();
    tpm2b(&mut p, &[7; 8]);
    p.extend(0u16.to_be_bytes());
    let a = s.auth(NV_WRITE, &[&name, &name], &p, b"", 1);
    assert_eq!(h.send(NV_WRITE, &[index, index], &[a], &p).rc(), 0);
}

#[test]
fn the_platform_may_evict_an_owner_object_but_the_owner_not_a_platform_one() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h);
    let persistent = 0x8100_0020u32;
    h.ok(
        EVICT_CONTROL,
        &[RH_OWNER, parent],
        &[AuthCmd::pw(b"")],
        &persistent.to_be_bytes(),
    );
    // The platform may not put an owner object in its range (HIERARCHY at handle 2) ...
    let r = h.send(
        EVICT_CONTROL,
        &[RH_PLATFORM, parent],
        &[AuthCmd::pw(b"")],
        &0x8180_0001u32.to_be_bytes(),
    );
    assert_eq!(r.rc(), 0x285);
    // ... but may evict the owner's persistent object (Part 3 §28.5).
    h.ok(
        EVICT_CONTROL,
        &[RH_PLATFORM, persistent],
        &[AuthCmd::pw(b"")],
        &persistent.to_be_bytes(),
    );
    let r = h.send(READ_PUBLIC, &[persistent], &[], &[]);
    assert_eq!(r.rc(), 0x18B, "gone");
    // A platform primary made persistent cannot be evicted by the owner.
    let pp = primary(
        &mut h,
        RH_PLATFORM,
        &ecc_p256_template(STORAGE, &[], &AES128CFB, &NULL),
    );
    let ph = 0x8180_0002u32;
    h.ok(
        EVICT_CONTROL,
        &[RH_PLATFORM, pp],
        &[AuthCmd::pw(b"")],
        &ph.to_be_bytes(),
    );
    let r = h.send(
        EVICT_CONTROL,
        &[RH_OWNER, ph],
        &[AuthCmd::pw(b"")],
        &ph.to_be_bytes(),
    );
    assert_eq!(r.rc(), 0x285);
    assert_eq!(h.send(READ_PUBLIC, &[ph], &[], &[]).rc(), 0);
}

const GET_SESSION_AUDIT_DIGEST: u32 = 0x14D;

/// GetSessionAuditDigest(endorsement, TPM_RH_NULL signer, `session`): (exclusive, digest)
/// from the unsigned TPMS_SESSION_AUDIT_INFO.
fn session_audit(h: &mut Harness, session: u32) -> Result<(u8, Vec<u8>), u32> {
    let r = h.send(
        GET_SESSION_AUDIT_DIGEST,
        &[RH_ENDORSEMENT, RH_NULL, session],
        &[AuthCmd::pw(b""), AuthCmd::pw(b"")],
        &[0, 0, 0, 0x10],
    );
    if r.rc() != 0 {
        return Err(r.rc());
    }
    let (params, _) = r.split_sessions(0);
    let (attest, _) = tpm2b_at(params, 0);
    assert_eq!(&attest[..6], &[0xFF, 0x54, 0x43, 0x47, 0x80, 0x16]);
    let (_, i) = tpm2b_at(attest, 6); // qualifiedSigner
    let (_, i) = tpm2b_at(attest, i); // extraData
    let i = i + 17 + 8; // clockInfo, firmwareVersion
    let (d, end) = tpm2b_at(attest, i + 1);
    assert_eq!(end, attest.len());
    Ok((attest[i], d.to_vec()))
}

#[test]
fn session_audit_digest_and_exclusivity() {
    let mut h = Harness::new();
    let s = start_session(&mut h, RH_NULL, b"", 0);
    assert_eq!(
        session_audit(&mut h, s.handle),
        Err(0x38A),
        "TYPE at handle 3"
    );
    // GetCapability(TPM_PROPERTIES, TPM_PT_FAMILY_INDICATOR, 1) audited (audit | continue).
    let params = [6u32, 0x100, 1].map(u32::to_be_bytes).concat();
    let audit = |h: &mut Harness, attrs: u8| {
        let a = AuthCmd {
            handle: s.handle,
            nonce: vec![3; 16],
            attrs,
            hmac: vec![],
        };
        h.send(cc::GET_CAPABILITY, &[], &[a], &params)
    };
    let r = audit(&mut h, 0x81);
    assert_eq!(r.rc(), 0);
    let (rp, area) = r.split_sessions(0);
    let n = u16::from_be_bytes(area[..2].try_into().unwrap()) as usize;
    assert_eq!(area[2 + n], 0x83, "auditExclusive reported");
    let cp = digest(SHA256, &[&cc::GET_CAPABILITY.to_be_bytes(), &params]);
    let rp_hash = digest(
        SHA256,
        &[&0u32.to_be_bytes(), &cc::GET_CAPABILITY.to_be_bytes(), rp],
    );
    let d1 = digest(SHA256, &[&[0; 32], &cp, &rp_hash]);
    assert_eq!(session_audit(&mut h, s.handle), Ok((1, d1.clone())));
    // GetSessionAuditDigest ran outside the session: no longer exclusive.
    assert_eq!(session_audit(&mut h, s.handle), Ok((0, d1.clone())));
    // Asking for exclusivity now fails (TPM_RC_EXCLUSIVE) and changes nothing.
    assert_eq!(audit(&mut h, 0x83).rc(), 0x121);
    let r = audit(&mut h, 0x81);
    let (rp, area) = r.split_sessions(0);
    assert_eq!(area[2 + n], 0x81, "not exclusive");
    let rp_hash = digest(
        SHA256,
        &[&0u32.to_be_bytes(), &cc::GET_CAPABILITY.to_be_bytes(), rp],
    );
    let d2 = digest(SHA256, &[&d1, &cp, &rp_hash]);
    assert_eq!(session_audit(&mut h, s.handle), Ok((0, d2)));
    // auditReset starts over and makes it exclusive again.
    audit(&mut h, 0x85);
    assert_eq!(session_audit(&mut h, s.handle).unwrap().0, 1);
    // A password session cannot audit; a policy session cannot either.
    let a = AuthCmd {
        handle: RS_PW,
        nonce: vec![],
        attrs: 0x80,
        hmac: vec![],
    };
    let p = digest_values(&[(SHA256, &[1; 32])]);
    assert_eq!(h.send(cc::PCR_EXTEND, &[16], &[a], &p).rc(), 0x982);
    // Sessions on a command that takes none: TPM_RC_AUTH_CONTEXT.
    let r = h.send(
        cc::FLUSH_CONTEXT,
        &[],
        &[AuthCmd::pw(b"")],
        &s.handle.to_be_bytes(),
    );
    assert_eq!(r.rc(), 0x145);
}

#[test]
fn rewrapping_an_object_never_reuses_a_keystream_nor_shows_the_auth_length() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h);
    let t = sealed_template(0x40, &[]);
    let (obj, _, private, _) = child(&mut h, parent, &t, b"a", b"secret");
    let change = |h: &mut Harness, new: &[u8]| {
        let mut p = Vec::new();
        tpm2b(&mut p, new);
        let r = h.ok(OBJECT_CHANGE_AUTH, &[obj, parent], &[AuthCmd::pw(b"a")], &p);
        let (params, _) = r.split_sessions(0);
        let (_, end) = tpm2b_at(params, 0);
        params[..end].to_vec()
    };
    let (p1, p2) = (
        change(&mut h, b"known-bytes"),
        change(&mut h, b"known-bytes"),
    );
    assert_ne!(
        p1, p2,
        "the same object and authValue wrapped twice differ (fresh IV)"
    );
    let p3 = change(&mut h, b"a-much-longer-authvalue-of-32-by");
    assert_eq!(p1.len(), private.len(), "authValue length does not show");
    assert_eq!(p3.len(), private.len());
    // XOR of two wraps of the same object with a known new authValue reveals nothing of
    // the first: the ciphertexts after the IV differ in more than the authValue bytes.
    let diff = p1
        .iter()
        .zip(&p2)
        .skip(2 + 2 + 32 + 2 + 16)
        .filter(|(a, b)| a != b)
        .count();
    assert!(diff > 40, "ciphertexts differ throughout ({diff} bytes)");
}

const POLICY_PCR: u32 = 0x17F;
const POLICY_LOCALITY: u32 = 0x16F;
const POLICY_CP_HASH: u32 = 0x16E;

fn policy_use(s: &CallerSession) -> AuthCmd {
    AuthCmd {
        handle: s.handle,
        nonce: vec![9; 16],
        attrs: 1,
        hmac: vec![],
    }
}

#[test]
fn policy_pcr_fails_once_a_selected_pcr_changes() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h);
    // sha256:15 (PCR 16 and 23 do not move pcrUpdateCounter, PC Client TPM_PT_PCR_NO_INCREMENT)
    let sel = [
        &1u32.to_be_bytes()[..],
        &SHA256.to_be_bytes(),
        &[3, 0, 0x80, 0],
    ]
    .concat();
    let pcr_digest = digest(SHA256, &[&[0; 32]]);
    let policy = digest(
        SHA256,
        &[&[0; 32], &POLICY_PCR.to_be_bytes(), &sel, &pcr_digest],
    );
    let (obj, _, _, _) = child(&mut h, parent, &sealed_template(0, &policy), b"", b"s");
    let pcr_policy = |h: &mut Harness, given: &[u8]| {
        let s = start_session(h, RH_NULL, b"", 1);
        let mut p = Vec::new();
        tpm2b(&mut p, given);
        p.extend(&sel);
        (h.send(POLICY_PCR, &[s.handle], &[], &p).rc(), s)
    };
    let (rc, s) = pcr_policy(&mut h, &pcr_digest);
    assert_eq!(rc, 0);
    assert_eq!(unseal(&mut h, obj, policy_use(&s)).rc(), 0);
    let (rc, s) = pcr_policy(&mut h, b"");
    assert_eq!(rc, 0);
    let p = digest_values(&[(SHA256, &[1; 32])]);
    h.ok(cc::PCR_EXTEND, &[15], &[AuthCmd::pw(b"")], &p);
    assert_eq!(
        unseal(&mut h, obj, policy_use(&s)).rc(),
        0x128,
        "PCR_CHANGED"
    );
    let (rc, _) = pcr_policy(&mut h, &pcr_digest);
    assert_eq!(rc, 0x1C4, "the old PCR digest: VALUE at parameter 1");
}

#[test]
fn policy_locality_and_cp_hash_are_checked_at_use() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h);
    // Locality 1 only (TPMA_LOCALITY bit 1).
    let policy = digest(SHA256, &[&[0; 32], &POLICY_LOCALITY.to_be_bytes(), &[0x02]]);
    let (obj, _, _, _) = child(&mut h, parent, &sealed_template(0, &policy), b"", b"s");
    let s = start_session(&mut h, RH_NULL, b"", 1);
    h.ok(POLICY_LOCALITY, &[s.handle], &[], &[0x02]);
    assert_eq!(unseal(&mut h, obj, policy_use(&s)).rc(), 0x907, "LOCALITY");
    h.locality = 1;
    assert_eq!(unseal(&mut h, obj, policy_use(&s)).rc(), 0);
    h.locality = 0;
    assert_eq!(
        h.send(POLICY_LOCALITY, &[s.handle], &[], &[0x40]).rc(),
        0,
        "extended locality on a fresh policy"
    );
    assert_eq!(
        h.send(POLICY_LOCALITY, &[s.handle], &[], &[0x01]).rc(),
        0x1CD,
        "mixing normal and extended: RANGE"
    );
    // PolicyCpHash: the policy allows Unseal of this object only.
    let name = {
        let public = read_public(&mut h, obj);
        [&SHA256.to_be_bytes()[..], &digest(SHA256, &[&public[2..]])].concat()
    };
    let cp = digest(SHA256, &[&UNSEAL.to_be_bytes(), &name]);
    let policy = digest(SHA256, &[&[0; 32], &POLICY_CP_HASH.to_be_bytes(), &cp]);
    let (obj2, _, _, _) = child(&mut h, parent, &sealed_template(0, &policy), b"", b"t");
    let s = start_session(&mut h, RH_NULL, b"", 1);
    let mut p = Vec::new();
    tpm2b(&mut p, &cp);
    h.ok(POLICY_CP_HASH, &[s.handle], &[], &p);
    assert_eq!(
        unseal(&mut h, obj2, policy_use(&s)).rc(),
        POLICY_FAIL_S1,
        "cpHash names the first object"
    );
}

const HIERARCHY_CONTROL: u32 = 0x121;

#[test]
fn hierarchy_control_takes_the_platform_away_until_the_next_boot() {
    let mut h = Harness::new();
    let pw = || [AuthCmd::pw(b"")];
    let ctl = |h: &mut Harness, auth: u32, enable: u32, state: u8| {
        let p = [&enable.to_be_bytes()[..], &[state]].concat();
        h.send(HIERARCHY_CONTROL, &[auth], &pw(), &p).rc()
    };
    // Only the platform may touch the platform hierarchy.
    assert_eq!(ctl(&mut h, RH_OWNER, RH_PLATFORM, 0), 0x124, "AUTH_TYPE");
    // The owner may disable its own hierarchy, not enable it again.
    let parent = storage_primary(&mut h);
    h.ok(
        EVICT_CONTROL,
        &[RH_OWNER, parent],
        &pw(),
        &0x8100_0030u32.to_be_bytes(),
    );
    assert_eq!(ctl(&mut h, RH_OWNER, RH_OWNER, 0), 0);
    assert_eq!(
        h.send(READ_PUBLIC, &[parent], &[], &[]).rc(),
        0x910,
        "flushed"
    );
    assert_eq!(
        h.send(READ_PUBLIC, &[0x8100_0030], &[], &[]).rc(),
        0x18B,
        "a persistent owner object is out of reach"
    );
    assert_eq!(
        ctl(&mut h, RH_OWNER, RH_OWNER, 1),
        0x185,
        "HIERARCHY at handle 1"
    );
    assert_eq!(ctl(&mut h, RH_PLATFORM, RH_OWNER, 1), 0);
    assert_eq!(h.send(READ_PUBLIC, &[0x8100_0030], &[], &[]).rc(), 0);
    // The platform disables itself: its authorization is gone until Startup(CLEAR).
    assert_eq!(ctl(&mut h, RH_PLATFORM, RH_PLATFORM, 0), 0);
    assert_eq!(ctl(&mut h, RH_PLATFORM, RH_PLATFORM, 1), 0x185);
    let r = h.send(cc::CLEAR, &[RH_PLATFORM], &pw(), &[]);
    assert_eq!(r.rc(), 0x185, "no Clear through the platform");
    assert_eq!(ctl(&mut h, RH_OWNER, RH_PLATFORM_NV, 0), 0x124);
    assert_eq!(
        h.send(
            HIERARCHY_CONTROL,
            &[RH_OWNER],
            &pw(),
            &[0x40, 0, 0, 0x0D, 2]
        )
        .rc(),
        0x2C4,
        "state 2: VALUE at parameter 2"
    );
    h.ok(cc::SHUTDOWN, &[], &[], &[0, 0]);
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &[0, 0]);
    assert_eq!(
        ctl(&mut h, RH_PLATFORM, RH_PLATFORM, 1),
        0,
        "back after the reboot"
    );
}

const RH_PLATFORM_NV: u32 = 0x4000_000D;
/// NV_DefineSpace of `index` (nameAlg SHA-256, empty authValue and authPolicy).
fn define_nv(h: &mut Harness, index: u32, attrs: u32, size: u16) {
    let mut public = index.to_be_bytes().to_vec();
    public.extend(SHA256.to_be_bytes());
    public.extend(attrs.to_be_bytes());
    tpm2b(&mut public, b"");
    public.extend(size.to_be_bytes());
    let mut p = Vec::new();
    tpm2b(&mut p, b"");
    tpm2b(&mut p, &public);
    h.ok(NV_DEFINE_SPACE, &[RH_OWNER], &[AuthCmd::pw(b"")], &p);
}

/// Part 3 §23.22: PolicyAuthorizeNV reads a TPMT_HA from the index whatever its type. A
/// counter is not refused for being a counter (libtpms and the reference code alike): its
/// value is not a TPMT_HA of the session's hash (TPM_RC_HASH); an ordinary index holding
/// sha256 ‖ policyDigest is accepted, one too short for the digest is TPM_RC_INSUFFICIENT.
#[test]
fn policy_authorize_nv_reads_a_tpmt_ha_from_any_index_type() {
    const POLICY_AUTHORIZE_NV: u32 = 0x192;
    const NV_INCREMENT: u32 = 0x134;
    const HASH: u32 = 0x083;
    const INSUFFICIENT: u32 = 0x09A;
    // AUTHWRITE | AUTHREAD | NO_DA, and TPM_NT_COUNTER for the counter.
    let (ordinary, short, counter) = (0x0150_0010u32, 0x0150_0011u32, 0x0150_0012u32);
    let mut h = Harness::new();
    define_nv(&mut h, ordinary, 0x0204_0004, 34);
    define_nv(&mut h, short, 0x0204_0004, 8);
    define_nv(&mut h, counter, 0x0204_0014, 8);
    h.ok(NV_INCREMENT, &[counter, counter], &[AuthCmd::pw(b"")], &[]);
    let write = |h: &mut Harness, index: u32, data: &[u8]| {
        let mut p = Vec::new();
        tpm2b(&mut p, data);
        p.extend(0u16.to_be_bytes());
        h.ok(NV_WRITE, &[index, index], &[AuthCmd::pw(b"")], &p);
    };
    write(
        &mut h,
        ordinary,
        &[&SHA256.to_be_bytes()[..], &[0; 32]].concat(),
    );
    write(
        &mut h,
        short,
        &[&SHA256.to_be_bytes()[..], &[0; 6]].concat(),
    );
    let s = start_session(&mut h, RH_NULL, b"", 1);
    let mut authorize_nv = |index: u32| {
        h.send(
            POLICY_AUTHORIZE_NV,
            &[index, index, s.handle],
            &[AuthCmd::pw(b"")],
            &[],
        )
        .rc()
    };
    assert_eq!(authorize_nv(counter), HASH, "counter value is no TPMT_HA");
    assert_eq!(authorize_nv(short), INSUFFICIENT, "digest cut short");
    // policyDigest is still all zeros: the ordinary index holds exactly that.
    assert_eq!(authorize_nv(ordinary), 0);
}

const HMAC: u32 = 0x155;
const HMAC_START: u32 = 0x15B;

/// A keyed-hash HMAC key template: fixedTPM | fixedParent | userWithAuth | sign (and
/// sensitiveDataOrigin when the TPM makes the key), HMAC-SHA256.
fn hmac_template(generated: bool) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(0x0008u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend((0x0004_0052u32 | if generated { 0x20 } else { 0 }).to_be_bytes());
    tpm2b(&mut t, b"");
    t.extend(0x0005u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend([0, 0]);
    t
}

#[test]
fn hmac_keys_compute_hmac_in_one_shot_and_as_a_sequence() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h);
    let key = b"0123456789abcdef0123456789abcdef";
    let (k, _, _, _) = child(&mut h, parent, &hmac_template(false), b"kpw", key);
    let data: Vec<u8> = (0..1500u32).map(|i| i as u8).collect();
    let want = hmac256(key, &[&data]);
    // TPM2_HMAC over the first 1024 bytes (TPM2B_MAX_BUFFER), hashAlg NULL = the key's.
    let mut p = Vec::new();
    tpm2b(&mut p, &data[..1024]);
    p.extend(0x0010u16.to_be_bytes());
    let r = h.ok(HMAC, &[k], &[AuthCmd::pw(b"kpw")], &p);
    let (out, _) = r.split_sessions(0);
    assert_eq!(
        tpm2b_at(out, 0).0,
        hmac256(key, &[&data[..1024]]).as_slice()
    );
    // A different hash than the key's scheme: VALUE at parameter 2.
    let mut p = Vec::new();
    tpm2b(&mut p, b"abc");
    p.extend(SHA384.to_be_bytes());
    assert_eq!(h.send(HMAC, &[k], &[AuthCmd::pw(b"kpw")], &p).rc(), 0x2C4);
    // HMAC_Start + SequenceUpdate + SequenceComplete over all 1500 bytes.
    let mut p = Vec::new();
    tpm2b(&mut p, b"seq");
    p.extend(0x0010u16.to_be_bytes());
    let r = h.ok(HMAC_START, &[k], &[AuthCmd::pw(b"kpw")], &p);
    let seq = u32_at(r.body(), 0);
    let mut p = Vec::new();
    tpm2b(&mut p, &data[..1000]);
    h.ok(cc::SEQUENCE_UPDATE, &[seq], &[AuthCmd::pw(b"seq")], &p);
    let mut p = Vec::new();
    tpm2b(&mut p, &data[1000..]);
    p.extend(RH_OWNER.to_be_bytes());
    let r = h.ok(cc::SEQUENCE_COMPLETE, &[seq], &[AuthCmd::pw(b"seq")], &p);
    let (out, _) = r.split_sessions(0);
    let (mac, i) = tpm2b_at(out, 0);
    assert_eq!(mac, want.as_slice());
    assert_eq!(&out[i..i + 6], &[0x80, 0x24, 0x40, 0, 0, 7], "null ticket");
    // Not an HMAC key: a sealed object (KEY at handle 1), an ECC key (TYPE at handle 1).
    let (sealed, _, _, _) = child(&mut h, parent, &sealed_template(0x40, &[]), b"", b"s");
    let mut p = Vec::new();
    tpm2b(&mut p, b"abc");
    p.extend(SHA256.to_be_bytes());
    assert_eq!(h.send(HMAC, &[sealed], &[AuthCmd::pw(b"")], &p).rc(), 0x19C);
    assert_eq!(h.send(HMAC, &[parent], &[AuthCmd::pw(b"")], &p).rc(), 0x18A);
    // A generated HMAC key (no data): digest-size key, HMAC works.
    let (g, _, _, _) = child(&mut h, parent, &hmac_template(true), b"", b"");
    assert_eq!(h.send(HMAC, &[g], &[AuthCmd::pw(b"")], &p).rc(), 0);
}

#[test]
fn command_audit_digest_counter_and_reset() {
    let mut h = Harness::new();
    let pw = || [AuthCmd::pw(b"")];
    // SetCommandCodeAuditStatus: changing the hash and the list at once is VALUE at 1.
    let both = [
        &SHA256.to_be_bytes()[..],
        &1u32.to_be_bytes(),
        &0x17Bu32.to_be_bytes(),
        &0u32.to_be_bytes(),
    ]
    .concat();
    assert_eq!(h.send(0x140, &[RH_OWNER], &pw(), &both).rc(), 0x1C4);
    let alg = [
        &SHA256.to_be_bytes()[..],
        &0u32.to_be_bytes(),
        &0u32.to_be_bytes(),
    ]
    .concat();
    h.ok(0x140, &[RH_OWNER], &pw(), &alg);
    let add = [
        &0x10u16.to_be_bytes()[..],
        &1u32.to_be_bytes(),
        &0x17Bu32.to_be_bytes(),
        &0u32.to_be_bytes(),
    ]
    .concat();
    h.ok(0x140, &[RH_OWNER], &pw(), &add);
    let r = h.ok(cc::GET_RANDOM, &[], &[], &4u16.to_be_bytes());
    let report = |h: &mut Harness, signer: u32| {
        let r = h.ok(
            0x133,
            &[RH_ENDORSEMENT, signer],
            &[AuthCmd::pw(b""), AuthCmd::pw(b"")],
            &[0, 0, 0, 0x10],
        );
        let (params, _) = r.split_sessions(0);
        let attest = tpm2b_at(params, 0).0.to_vec();
        let (_, i) = tpm2b_at(&attest, 6);
        let (_, i) = tpm2b_at(&attest, i);
        let i = i + 25;
        let counter = u64::from_be_bytes(attest[i..i + 8].try_into().unwrap());
        let (d, j) = tpm2b_at(&attest, i + 10);
        (counter, d.to_vec(), tpm2b_at(&attest, j).0.to_vec())
    };
    let (counter, d, cmds) = report(&mut h, RH_NULL);
    let sha = |p: &[&[u8]]| digest(SHA256, p);
    let d1 = sha(&[
        &[0; 32],
        &sha(&[&0x140u32.to_be_bytes(), &RH_OWNER.to_be_bytes(), &add]),
        &sha(&[&0u32.to_be_bytes(), &0x140u32.to_be_bytes()]),
    ]);
    let d2 = sha(&[
        &d1,
        &sha(&[&0x17Bu32.to_be_bytes(), &4u16.to_be_bytes()]),
        &sha(&[&0u32.to_be_bytes(), &0x17Bu32.to_be_bytes(), r.body()]),
    ]);
    assert_eq!(
        (counter, d),
        (1, d2),
        "one digest started, two commands in it"
    );
    assert_eq!(
        cmds,
        sha(&[&0x140u32.to_be_bytes(), &0x17Bu32.to_be_bytes()])
    );
    // A signed report starts a new digest: the next audited command bumps the counter.
    let ak = primary(
        &mut h,
        RH_ENDORSEMENT,
        &ecc_p256_template(0x0004_0072, &[], &NULL, &[0, 0x18, 0, 0x0B]),
    );
    report(&mut h, ak);
    assert_eq!(
        report(&mut h, RH_NULL).1,
        Vec::<u8>::new(),
        "empty after a signed report"
    );
    h.ok(cc::GET_RANDOM, &[], &[], &4u16.to_be_bytes());
    assert_eq!(report(&mut h, RH_NULL).0, 2);
    // GetCapability(TPM_CAP_AUDIT_COMMANDS) lists both.
    let p = [4u32, 0, 8].map(u32::to_be_bytes).concat();
    let r = h.ok(cc::GET_CAPABILITY, &[], &[], &p);
    assert_eq!(
        &r.body()[5..17],
        &[0, 0, 0, 2, 0, 0, 1, 0x40, 0, 0, 1, 0x7B]
    );
}

const POLICY_PHYSICAL_PRESENCE: u32 = 0x187;
const POLICY_RESTART: u32 = 0x180;

/// TPM2_PolicyPhysicalPresence (Part 3 §23.13): policyDigest ← H(policyDigest ‖ 0x187) in a
/// trial and in a policy session; at use isPPRequired asks for physical presence, which a vTPM
/// never has (the reference's _plat__PhysicalPresenceAsserted() is FALSE, as in swtpm), so
/// the policy never authorizes: TPM_RC_PP (format one) at session 1, as swtpm answers.
#[test]
fn policy_physical_presence_extends_the_digest_and_is_never_satisfied() {
    let mut h = Harness::new();
    let parent = storage_primary(&mut h);
    let policy = digest(SHA256, &[&[0; 32], &POLICY_PHYSICAL_PRESENCE.to_be_bytes()]);
    let trial = start_session(&mut h, RH_NULL, b"", 3);
    h.ok(POLICY_PHYSICAL_PRESENCE, &[trial.handle], &[], &[]);
    let r = h.ok(POLICY_GET_DIGEST, &[trial.handle], &[], &[]);
    assert_eq!(&r.body()[2..], &policy[..]);
    assert_eq!(
        h.send(POLICY_PHYSICAL_PRESENCE, &[trial.handle], &[], &[0])
            .rc(),
        0x095,
        "a byte after the (empty) parameters: TPM_RC_SIZE"
    );
    assert_eq!(
        h.send(POLICY_PHYSICAL_PRESENCE, &[parent], &[], &[]).rc(),
        0x184,
        "not a policy session (TPMI_SH_POLICY): VALUE at handle 1"
    );

    let (obj, _, _, _) = child(&mut h, parent, &sealed_template(0, &policy), b"", b"s");
    let s = start_session(&mut h, RH_NULL, b"", 1);
    h.ok(POLICY_PHYSICAL_PRESENCE, &[s.handle], &[], &[]);
    let r = h.ok(POLICY_GET_DIGEST, &[s.handle], &[], &[]);
    assert_eq!(&r.body()[2..], &policy[..]);
    assert_eq!(
        unseal(&mut h, obj, policy_use(&s)).rc(),
        0x990,
        "TPM_RC_PP at session 1"
    );
    // PolicyRestart forgets isPPRequired with the digest.
    h.ok(POLICY_RESTART, &[s.handle], &[], &[]);
    assert_eq!(
        unseal(&mut h, obj, policy_use(&s)).rc(),
        POLICY_FAIL_S1,
        "the empty policy is not the object's"
    );
}
