//! HMAC sessions and password authorization (Part 1 §19), checked against an independent
//! computation of cpHash, rpHash and both HMACs.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::too_many_arguments
)]

use vtpm_tests::*;

/// StartAuthSession(HMAC, SHA-256, unsalted) bound to `bind`; returns (handle, nonceTPM).
fn start(h: &mut Harness, bind: u32, nonce_caller: &[u8]) -> (u32, Vec<u8>) {
    let mut p = Vec::new();
    tpm2b(&mut p, nonce_caller);
    p.extend([0, 0]); // no salt
    p.push(0); // TPM_SE_HMAC
    p.extend(0x0010u16.to_be_bytes()); // symmetric NULL
    p.extend(SHA256.to_be_bytes());
    let r = h.ok(cc::START_AUTH_SESSION, &[RH_NULL, bind], &[], &p);
    let b = r.body();
    let handle = u32::from_be_bytes(b[..4].try_into().unwrap());
    let n = u16::from_be_bytes(b[4..6].try_into().unwrap()) as usize;
    (handle, b[6..6 + n].to_vec())
}

/// KDFa(SHA-256, key, label, u, v, 256) written out from Part 1 §11.4.10.2.
fn kdfa256(key: &[u8], label: &[u8], u: &[u8], v: &[u8]) -> Vec<u8> {
    hmac256(
        key,
        &[
            &1u32.to_be_bytes(),
            label,
            &[0],
            u,
            v,
            &256u32.to_be_bytes(),
        ],
    )
}

struct Session {
    handle: u32,
    nonce_tpm: Vec<u8>,
    key: Vec<u8>,
}

impl Session {
    /// An HMAC authorization for `code` on `names` with `params`, then checks the response
    /// HMAC and advances nonceTPM. Returns the response.
    fn run(
        &mut self,
        h: &mut Harness,
        code: u32,
        handles: &[u32],
        names: &[&[u8]],
        auth_value: &[u8],
        attrs: u8,
        params: &[u8],
    ) -> Rsp {
        let nonce_caller = digest(SHA256, &[&self.nonce_tpm, b"caller"]);
        let mut cp = code.to_be_bytes().to_vec();
        names.iter().for_each(|n| cp.extend(*n));
        cp.extend(params);
        let cp_hash = digest(SHA256, &[&cp]);
        let key = [&self.key[..], auth_value].concat();
        let mac = hmac256(&key, &[&cp_hash, &nonce_caller, &self.nonce_tpm, &[attrs]]);
        let auth = AuthCmd {
            handle: self.handle,
            nonce: nonce_caller.clone(),
            attrs,
            hmac: mac,
        };
        let r = h.send(code, handles, &[auth], params);
        if r.rc() != 0 {
            return r;
        }
        let (rp, area) = r.split_sessions(0);
        let n = u16::from_be_bytes(area[..2].try_into().unwrap()) as usize;
        let new_nonce = area[2..2 + n].to_vec();
        assert_eq!(area[2 + n], attrs);
        let m = u16::from_be_bytes(area[3 + n..5 + n].try_into().unwrap()) as usize;
        let rmac = &area[5 + n..5 + n + m];
        let rp_hash = digest(SHA256, &[&0u32.to_be_bytes(), &code.to_be_bytes(), rp]);
        let expect = hmac256(&key, &[&rp_hash, &new_nonce, &nonce_caller, &[attrs]]);
        assert_eq!(rmac, expect.as_slice(), "response HMAC");
        assert_ne!(new_nonce, self.nonce_tpm, "nonceTPM must change");
        self.nonce_tpm = new_nonce;
        r
    }
}

fn extend_params() -> Vec<u8> {
    digest_values(&[(SHA256, &[0x33; 32])])
}

#[test]
fn unbound_session_authorizes_and_answers_with_a_verifiable_hmac() {
    let mut h = Harness::new();
    let (handle, nonce_tpm) = start(&mut h, RH_NULL, &[1; 32]);
    assert_eq!(handle >> 24, 0x02);
    assert_eq!(nonce_tpm.len(), 32);
    let mut s = Session {
        handle,
        nonce_tpm,
        key: vec![],
    };
    let name = 16u32.to_be_bytes();
    for _ in 0..3 {
        let r = s.run(
            &mut h,
            cc::PCR_EXTEND,
            &[16],
            &[&name],
            b"",
            0x01,
            &extend_params(),
        );
        assert_eq!(r.rc(), 0);
    }
    // A wrong HMAC: BAD_AUTH at session 1, and the session is unchanged (the next correct
    // command, with the same nonceTPM, succeeds).
    let before = h.all_pcrs();
    let bad = AuthCmd {
        handle,
        nonce: vec![5; 32],
        attrs: 1,
        hmac: vec![0; 32],
    };
    assert_eq!(
        h.send(cc::PCR_EXTEND, &[16], &[bad], &extend_params()).rc(),
        0x9A2
    );
    assert_eq!(before, h.all_pcrs());
    assert_eq!(
        s.run(
            &mut h,
            cc::PCR_EXTEND,
            &[16],
            &[&name],
            b"",
            0x01,
            &extend_params()
        )
        .rc(),
        0
    );
    // continueSession clear: the session is flushed after the command.
    assert_eq!(
        s.run(
            &mut h,
            cc::PCR_EXTEND,
            &[16],
            &[&name],
            b"",
            0x00,
            &extend_params()
        )
        .rc(),
        0
    );
    assert_eq!(
        h.send(cc::FLUSH_CONTEXT, &[], &[], &handle.to_be_bytes())
            .rc(),
        0x1CB
    );
}

#[test]
fn authvalue_enters_the_hmac_key_and_binding_replaces_it() {
    let mut h = Harness::new();
    // Owner auth "secret" (trailing zeros are not significant).
    let mut p = Vec::new();
    tpm2b(&mut p, b"secret\0\0");
    h.ok(
        cc::HIERARCHY_CHANGE_AUTH,
        &[RH_OWNER],
        &[AuthCmd::pw(b"")],
        &p,
    );
    assert_eq!(
        h.send(
            cc::HIERARCHY_CHANGE_AUTH,
            &[RH_OWNER],
            &[AuthCmd::pw(b"")],
            &p
        )
        .rc(),
        0x9A2
    );
    let name = RH_OWNER.to_be_bytes();
    let mut p2 = Vec::new();
    tpm2b(&mut p2, b"secret");
    // Unbound: key = authValue.
    let (handle, nonce_tpm) = start(&mut h, RH_NULL, &[2; 16]);
    let mut s = Session {
        handle,
        nonce_tpm,
        key: vec![],
    };
    let r = s.run(
        &mut h,
        cc::HIERARCHY_CHANGE_AUTH,
        &[RH_OWNER],
        &[&name],
        b"wrong",
        1,
        &p2,
    );
    assert_eq!(r.rc(), 0x9A2);
    let r = s.run(
        &mut h,
        cc::HIERARCHY_CHANGE_AUTH,
        &[RH_OWNER],
        &[&name],
        b"secret",
        1,
        &p2,
    );
    assert_eq!(r.rc(), 0);
    // Bound to the owner: sessionKey = KDFa(SHA256, authValue, "ATH", nonceTPM, nonceCaller)
    // and the authValue is not appended for the bound entity.
    let nonce_caller = [3u8; 32];
    let (handle, nonce_tpm) = start(&mut h, RH_OWNER, &nonce_caller);
    let key = kdfa256(b"secret", b"ATH", &nonce_tpm, &nonce_caller);
    let mut s = Session {
        handle,
        nonce_tpm,
        key,
    };
    let r = s.run(
        &mut h,
        cc::HIERARCHY_CHANGE_AUTH,
        &[RH_OWNER],
        &[&name],
        b"",
        1,
        &p2,
    );
    assert_eq!(r.rc(), 0);
    // Used on another entity (PCR 16, empty auth) the key is sessionKey ‖ authValue(empty).
    let pcr = 16u32.to_be_bytes();
    assert_eq!(
        s.run(
            &mut h,
            cc::PCR_EXTEND,
            &[16],
            &[&pcr],
            b"",
            1,
            &extend_params()
        )
        .rc(),
        0
    );
}

#[test]
fn lockout_failures_are_dictionary_attack_protected() {
    let mut h = Harness::new();
    let mut p = Vec::new();
    tpm2b(&mut p, b"lock");
    h.ok(
        cc::HIERARCHY_CHANGE_AUTH,
        &[RH_LOCKOUT],
        &[AuthCmd::pw(b"")],
        &p,
    );
    // lockoutRecovery 0: a failed lockoutAuth locks it until the next TPM Reset.
    h.ok(
        0x13A,
        &[RH_LOCKOUT],
        &[AuthCmd::pw(b"lock")],
        &[0, 0, 0, 3, 0, 0, 3, 0xE8, 0, 0, 0, 0],
    );
    assert_eq!(
        h.send(cc::CLEAR, &[RH_LOCKOUT], &[AuthCmd::pw(b"bad")], &[])
            .rc(),
        0x98E
    );
    // Now even the right value is refused: TPM_RC_LOCKOUT.
    assert_eq!(
        h.send(cc::CLEAR, &[RH_LOCKOUT], &[AuthCmd::pw(b"lock")], &[])
            .rc(),
        0x921
    );
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &[0, 0]);
    h.ok(cc::CLEAR, &[RH_LOCKOUT], &[AuthCmd::pw(b"lock")], &[]);
    // Clear emptied the lockout auth.
    h.ok(cc::CLEAR, &[RH_LOCKOUT], &[AuthCmd::pw(b"")], &[]);
    // ClearControl(YES) disables Clear; lockout may not re-enable it.
    h.ok(cc::CLEAR_CONTROL, &[RH_LOCKOUT], &[AuthCmd::pw(b"")], &[1]);
    assert_eq!(
        h.send(cc::CLEAR, &[RH_LOCKOUT], &[AuthCmd::pw(b"")], &[])
            .rc(),
        0x120
    );
    assert_eq!(
        h.send(cc::CLEAR_CONTROL, &[RH_LOCKOUT], &[AuthCmd::pw(b"")], &[0])
            .rc(),
        0x08E
    );
    h.ok(cc::CLEAR_CONTROL, &[RH_PLATFORM], &[AuthCmd::pw(b"")], &[0]);
    h.ok(cc::CLEAR, &[RH_PLATFORM], &[AuthCmd::pw(b"")], &[]);
}

#[test]
fn start_auth_session_checks_its_parameters() {
    let mut h = Harness::new();
    let sas = |h: &mut Harness, nonce: &[u8], salt: &[u8], se: u8, sym: u16, hash: u16| {
        let mut p = Vec::new();
        tpm2b(&mut p, nonce);
        tpm2b(&mut p, salt);
        p.push(se);
        p.extend(sym.to_be_bytes());
        p.extend(hash.to_be_bytes());
        h.send(cc::START_AUTH_SESSION, &[RH_NULL, RH_NULL], &[], &p)
            .rc()
    };
    assert_eq!(sas(&mut h, &[0; 15], &[], 0, 0x10, SHA256), 0x1D5); // nonce too short
    assert_eq!(sas(&mut h, &[0; 33], &[], 0, 0x10, SHA256), 0x1D5); // longer than digest
    assert_eq!(sas(&mut h, &[0; 16], &[1], 0, 0x10, SHA256), 0x2C4); // salt without tpmKey
    assert_eq!(sas(&mut h, &[0; 16], &[], 2, 0x10, SHA256), 0x3C4); // bad session type
    assert_eq!(sas(&mut h, &[0; 16], &[], 0, 0x0004, SHA256), 0x4D6); // symmetric
    assert_eq!(sas(&mut h, &[0; 16], &[], 0, 0x10, 0x0012), 0x5C3); // SM3_256
    // 16 slots, then TPM_RC_SESSION_MEMORY while all 16 are loaded; FlushContext frees one.
    for _ in 0..16 {
        assert_eq!(sas(&mut h, &[0; 16], &[], 0, 0x10, SHA256), 0);
    }
    assert_eq!(sas(&mut h, &[0; 16], &[], 0, 0x10, SHA256), 0x903);
    h.ok(cc::FLUSH_CONTEXT, &[], &[], &0x0200_0003u32.to_be_bytes());
    assert_eq!(sas(&mut h, &[0; 48], &[], 1, 0x10, SHA384), 0);
    // With one of them saved, saving more frees no slot: TPM_RC_SESSION_HANDLES (as the
    // reference implementation when its active sessions run out; /dev/tpmrm0 keeps every
    // session saved between commands).
    h.ok(0x162, &[0x0200_0000], &[], &[]); // ContextSave
    assert_eq!(sas(&mut h, &[0; 16], &[], 0, 0x10, SHA256), 0x905);
}

/// KDFa(SHA-256, key, label, u, v, bits) for any length, from Part 1 §11.4.10.2.
fn kdfa256_n(key: &[u8], label: &[u8], u: &[u8], v: &[u8], bytes: usize) -> Vec<u8> {
    let bits = (bytes as u32 * 8).to_be_bytes();
    let mut out = Vec::new();
    let mut i = 1u32;
    while out.len() < bytes {
        out.extend(hmac256(key, &[&i.to_be_bytes(), label, &[0], u, v, &bits]));
        i += 1;
    }
    out.truncate(bytes);
    out
}

#[test]
fn xor_parameter_encryption_both_ways() {
    let mut h = Harness::new();
    // An HMAC session bound to the owner (so the sessionKey is not empty), XOR with SHA-256.
    let mut p = Vec::new();
    tpm2b(&mut p, b"ownerpw");
    h.ok(
        cc::HIERARCHY_CHANGE_AUTH,
        &[RH_OWNER],
        &[AuthCmd::pw(b"")],
        &p,
    );
    let nonce_caller0 = [4u8; 32];
    let mut sp = Vec::new();
    tpm2b(&mut sp, &nonce_caller0);
    sp.extend([0, 0, 0]); // no salt, HMAC
    sp.extend([0, 0x0A, 0, 0x0B]); // XOR, SHA-256
    sp.extend(SHA256.to_be_bytes());
    let r = h.ok(cc::START_AUTH_SESSION, &[RH_NULL, RH_OWNER], &[], &sp);
    let handle = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
    let nonce_tpm = r.body()[6..38].to_vec();
    let session_key = hmac256(
        b"ownerpw",
        &[
            &1u32.to_be_bytes(),
            b"ATH",
            &[0],
            &nonce_tpm,
            &nonce_caller0,
            &256u32.to_be_bytes(),
        ],
    );
    // GetRandom(16) with encrypt (0x40) | continueSession: the session authorizes nothing,
    // so the key is the sessionKey alone.
    let nonce_caller = [5u8; 32];
    let attrs = 0x41u8;
    let params = 16u16.to_be_bytes();
    let cp = digest(SHA256, &[&cc::GET_RANDOM.to_be_bytes(), &params]);
    let mac = hmac256(&session_key, &[&cp, &nonce_caller, &nonce_tpm, &[attrs]]);
    let auth = AuthCmd {
        handle,
        nonce: nonce_caller.to_vec(),
        attrs,
        hmac: mac,
    };
    let r = h.ok(cc::GET_RANDOM, &[], &[auth], &params);
    let (rp, area) = r.split_sessions(0);
    let new_nonce = area[2..34].to_vec();
    // The response HMAC covers the ciphertext.
    let rp_hash = digest(
        SHA256,
        &[&0u32.to_be_bytes(), &cc::GET_RANDOM.to_be_bytes(), rp],
    );
    let expect = hmac256(
        &session_key,
        &[&rp_hash, &new_nonce, &nonce_caller, &[attrs]],
    );
    assert_eq!(&area[37..], expect.as_slice());
    // Unmask: newer = the new nonceTPM, older = nonceCaller.
    let mask = kdfa256_n(&session_key, b"XOR", &new_nonce, &nonce_caller, 16);
    let plain: Vec<u8> = rp[2..18].iter().zip(&mask).map(|(a, b)| a ^ b).collect();
    assert_ne!(plain, rp[2..18].to_vec());
    // Command side: HierarchyChangeAuth(owner) with the new auth masked (decrypt 0x20),
    // authorized by this bound session: the HMAC key is the sessionKey alone (the owner's
    // auth is omitted because the session is bound to it), but the parameter-encryption key
    // is sessionKey ‖ ownerAuth all the same (Part 1 §21.1, as the reference implementation
    // and ESYS compute it).
    let nonce_tpm = new_nonce;
    let nonce_caller = [6u8; 32];
    let attrs = 0x21u8;
    let new_auth = b"second";
    let mask = kdfa256_n(
        &[session_key.as_slice(), b"ownerpw"].concat(),
        b"XOR",
        &nonce_caller,
        &nonce_tpm,
        new_auth.len(),
    );
    let enc: Vec<u8> = new_auth.iter().zip(&mask).map(|(a, b)| a ^ b).collect();
    let mut params = Vec::new();
    tpm2b(&mut params, &enc);
    let cp = digest(
        SHA256,
        &[
            &cc::HIERARCHY_CHANGE_AUTH.to_be_bytes(),
            &RH_OWNER.to_be_bytes(),
            &params,
        ],
    );
    let mac = hmac256(&session_key, &[&cp, &nonce_caller, &nonce_tpm, &[attrs]]);
    let auth = AuthCmd {
        handle,
        nonce: nonce_caller.to_vec(),
        attrs,
        hmac: mac,
    };
    // Through a caller-owned scratch buffer, as firmware runs commands: the decrypted copy of
    // the parameters is wiped before execute_with_scratch returns, the rest is not touched.
    let mut scratch = [0xAAu8; vtpm::MAX_COMMAND_SIZE];
    let mut rsp = [0u8; vtpm::MAX_RESPONSE_SIZE];
    let cmd = command(cc::HIERARCHY_CHANGE_AUTH, &[RH_OWNER], &[auth], &params);
    let n = h.tpm.execute_with_scratch(0, &cmd, &mut rsp, &mut scratch);
    assert_eq!(&rsp[6..10], &[0, 0, 0, 0], "{:02x?}", &rsp[..n]);
    assert!(
        scratch[..params.len()].iter().all(|&b| b == 0),
        "decrypted copy wiped"
    );
    assert!(scratch[params.len()..].iter().all(|&b| b == 0xAA));
    // The owner auth is now the decrypted value.
    let mut p = Vec::new();
    tpm2b(&mut p, b"");
    h.ok(
        cc::HIERARCHY_CHANGE_AUTH,
        &[RH_OWNER],
        &[AuthCmd::pw(b"second")],
        &p,
    );
}

/// TPM_PT_LOCKOUT_COUNTER and TPMA_PERMANENT.inLockout.
fn da_state(h: &mut Harness) -> (u32, bool) {
    let p = [
        6u32.to_be_bytes(),
        0x200u32.to_be_bytes(),
        1u32.to_be_bytes(),
    ]
    .concat();
    let r = h.ok(cc::GET_CAPABILITY, &[], &[], &p);
    let permanent = u32::from_be_bytes(r.body()[13..17].try_into().unwrap());
    let p = [
        6u32.to_be_bytes(),
        0x20Eu32.to_be_bytes(),
        1u32.to_be_bytes(),
    ]
    .concat();
    let r = h.ok(cc::GET_CAPABILITY, &[], &[], &p);
    let counter = u32::from_be_bytes(r.body()[13..17].try_into().unwrap());
    (counter, permanent & (1 << 9) != 0)
}

#[test]
fn dictionary_attack_lockout_of_protected_entities() {
    let mut h = Harness::new();
    // A DA-protected sequence object is not available (sequences are exempt); use a key.
    let mut t = Vec::new();
    t.extend(0x0023u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(0x0004_0072u32.to_be_bytes()); // sign, no noDA
    t.extend([0, 0, 0, 0x10, 0, 0x18, 0, 0x0B, 0, 3, 0, 0x10, 0, 0, 0, 0]);
    let mut p = Vec::new();
    tpm2b(&mut p, &[[0, 2].as_slice(), b"pw", &[0, 0]].concat());
    tpm2b(&mut p, &t);
    p.extend([0, 0, 0, 0, 0, 0]);
    let r = h.ok(0x131, &[RH_OWNER], &[AuthCmd::pw(b"")], &p);
    let key = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
    let sign = |h: &mut Harness, pw: &[u8]| {
        let mut p = Vec::new();
        tpm2b(&mut p, &[7; 32]);
        p.extend([0, 0x10, 0x80, 0x24, 0x40, 0, 0, 7, 0, 0]);
        h.send(0x15D, &[key], &[AuthCmd::pw(pw)], &p).rc()
    };
    assert_eq!(da_state(&mut h), (0, false));
    assert_eq!(sign(&mut h, b"x"), 0x98E);
    assert_eq!(sign(&mut h, b"y"), 0x98E);
    assert_eq!(da_state(&mut h), (2, false));
    assert_eq!(sign(&mut h, b"z"), 0x98E);
    assert_eq!(da_state(&mut h), (3, true));
    // In lockout: even the right password is refused; exempt entities still work.
    assert_eq!(sign(&mut h, b"pw"), 0x921);
    let dv = digest_values(&[(SHA256, &[1; 32])]);
    h.ok(cc::PCR_EXTEND, &[16], &[AuthCmd::pw(b"")], &dv);
    // DictionaryAttackLockReset with lockoutAuth ends it.
    h.ok(0x139, &[RH_LOCKOUT], &[AuthCmd::pw(b"")], &[]);
    assert_eq!(da_state(&mut h), (0, false));
    assert_eq!(sign(&mut h, b"pw"), 0);
}

/// Saved session contexts survive _TPM_Init for a TPM Resume and a TPM Restart, loaded ones do
/// not, and a TPM Reset drops them all (Part 1 §30; the reference's SessionStartup): the
/// kernel's /dev/tpmrm0 keeps user sessions saved across suspend and hibernation.
#[test]
fn saved_sessions_survive_resume_and_restart_not_reset() {
    const CONTEXT_SAVE: u32 = 0x162;
    const CONTEXT_LOAD: u32 = 0x161;
    const SHUTDOWN: u32 = 0x145;
    let mut h = Harness::new();
    let cycle = |h: &mut Harness, startup: u16| {
        h.ok(SHUTDOWN, &[], &[], &1u16.to_be_bytes()); // Shutdown(STATE)
        h.tpm.init();
        h.ok(cc::STARTUP, &[], &[], &startup.to_be_bytes());
    };
    for startup in [1u16, 0] {
        // STATE: a TPM Resume; CLEAR after Shutdown(STATE): a TPM Restart.
        let (saved, _) = start(&mut h, RH_NULL, &[7; 16]);
        let (loaded, _) = start(&mut h, RH_NULL, &[8; 16]);
        let ctx = h.ok(CONTEXT_SAVE, &[saved], &[], &[]).body().to_vec();
        cycle(&mut h, startup);
        let r = h.ok(CONTEXT_LOAD, &[], &[], &ctx);
        assert_eq!(r.body()[..4], saved.to_be_bytes(), "restored to its handle");
        let flush =
            |h: &mut Harness, s: u32| h.send(cc::FLUSH_CONTEXT, &[], &[], &s.to_be_bytes()).rc();
        assert_eq!(flush(&mut h, loaded), 0x1CB, "the loaded session is gone");
        assert_eq!(flush(&mut h, saved), 0);
    }
    // Shutdown(CLEAR) and Startup(CLEAR): a TPM Reset; nothing loads.
    let (saved, _) = start(&mut h, RH_NULL, &[9; 16]);
    let ctx = h.ok(CONTEXT_SAVE, &[saved], &[], &[]).body().to_vec();
    h.ok(SHUTDOWN, &[], &[], &0u16.to_be_bytes());
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &0u16.to_be_bytes());
    assert_ne!(h.send(CONTEXT_LOAD, &[], &[], &ctx).rc(), 0);
}

/// FlushContext finds a session by its slot, whatever the handle's type (the reference's
/// SessionIsLoaded / SessionIsSaved): a saved policy session, listed by
/// GetCapability(HANDLES, TPM_HT_SAVED_SESSION) under 0x02000000 + slot, is flushed by that
/// handle (tpm2_flushcontext -s does this; swtpm answers success), and so is a loaded one;
/// its context then no longer loads. A free slot is TPM_RC_HANDLE.
#[test]
fn flush_context_finds_a_session_by_its_slot() {
    let mut h = Harness::new();
    let s = start_session(&mut h, RH_NULL, b"", 1);
    assert_eq!(s.handle >> 24, 0x03);
    let slot = s.handle & 0x00FF_FFFF;
    let ctx = h.ok(0x162, &[s.handle], &[], &[]).body().to_vec();
    let mut p = 1u32.to_be_bytes().to_vec(); // TPM_CAP_HANDLES
    p.extend(0x0300_0000u32.to_be_bytes());
    p.extend(16u32.to_be_bytes());
    let listed = h.ok(cc::GET_CAPABILITY, &[], &[], &p).body().to_vec();
    assert_eq!(&listed[5..9], &1u32.to_be_bytes());
    assert_eq!(&listed[9..13], &(0x0200_0000 | slot).to_be_bytes());
    h.ok(0x165, &[], &[], &(0x0200_0000 | slot).to_be_bytes());
    assert_eq!(h.send(0x161, &[], &[], &ctx).rc() & 0xFF, 0xCB & 0xFF); // ContextLoad: gone
    assert_eq!(
        h.send(0x165, &[], &[], &(0x0200_0000 | slot).to_be_bytes())
            .rc(),
        0x1CB
    );
    // A loaded policy session, by its HMAC-type handle.
    let s = start_session(&mut h, RH_NULL, b"", 1);
    let slot = s.handle & 0x00FF_FFFF;
    h.ok(0x165, &[], &[], &(0x0200_0000 | slot).to_be_bytes());
    assert_eq!(h.send(0x165, &[], &[], &s.handle.to_be_bytes()).rc(), 0x1CB);
}
