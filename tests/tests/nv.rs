//! NV indices (Part 3 §31) beyond define / read / write: the STCLEAR locks and what TPM
//! Reset, Restart and Resume do to them, TPM2_NV_GlobalWriteLock, CLEAR_STCLEAR and ORDERLY,
//! bit-field indices, PIN pass and PIN fail indices (pinCount after each authorization),
//! TPM2_NV_ChangeAuth and TPM2_NV_UndefineSpaceSpecial with their policies, TPM2_NV_Certify
//! (structure and an independent P-384 signature check) and the NV capacity GetCapability
//! reports. Every error case asserts the response code and that the index did not change.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use p384::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::Digest as _;
use vtpm_tests::*;

const NV_UNDEFINE_SPACE_SPECIAL: u32 = 0x11F;
const NV_UNDEFINE_SPACE: u32 = 0x122;
const NV_DEFINE_SPACE: u32 = 0x12A;
const NV_GLOBAL_WRITE_LOCK: u32 = 0x132;
const NV_SET_BITS: u32 = 0x135;
const NV_WRITE: u32 = 0x137;
const NV_WRITE_LOCK: u32 = 0x138;
const NV_CHANGE_AUTH: u32 = 0x13B;
const NV_READ: u32 = 0x14E;
const NV_READ_LOCK: u32 = 0x14F;
const NV_READ_PUBLIC: u32 = 0x169;
const NV_CERTIFY: u32 = 0x184;
const CREATE_PRIMARY: u32 = 0x131;
const POLICY_COMMAND_CODE: u32 = 0x16C;

// TPMA_NV bits (Part 2 §13.4).
const PPWRITE: u32 = 0x1;
const OWNERWRITE: u32 = 0x2;
const AUTHWRITE: u32 = 0x4;
const NT_COUNTER: u32 = 0x10;
const NT_BITS: u32 = 0x20;
const NT_PIN_FAIL: u32 = 0x80;
const NT_PIN_PASS: u32 = 0x90;
const POLICY_DELETE: u32 = 0x400;
const WRITELOCKED: u32 = 0x800;
const WRITEDEFINE: u32 = 0x2000;
const WRITE_STCLEAR: u32 = 0x4000;
const GLOBALLOCK: u32 = 0x8000;
const PPREAD: u32 = 0x1_0000;
const OWNERREAD: u32 = 0x2_0000;
const AUTHREAD: u32 = 0x4_0000;
const NO_DA: u32 = 0x200_0000;
const ORDERLY: u32 = 0x400_0000;
const CLEAR_STCLEAR: u32 = 0x800_0000;
const READLOCKED: u32 = 0x1000_0000;
const WRITTEN: u32 = 0x2000_0000;
const PLATFORMCREATE: u32 = 0x4000_0000;
const READ_STCLEAR: u32 = 0x8000_0000;
const OWNER_RW: u32 = OWNERREAD | OWNERWRITE;

// Response codes.
const ATTRIBUTES_H1: u32 = 0x182;
const ATTRIBUTES_H2: u32 = 0x282;
const ATTRIBUTES_P2: u32 = 0x2C2;
const SIZE_P1: u32 = 0x1D5;
const SIZE_P2: u32 = 0x2D5;
const NV_RANGE: u32 = 0x146;
const NV_LOCKED: u32 = 0x148;
const NV_AUTHORIZATION: u32 = 0x149;
const NV_UNINITIALIZED: u32 = 0x14A;
const NV_SPACE: u32 = 0x14B;
const AUTH_UNAVAILABLE: u32 = 0x12F;
const AUTH_TYPE: u32 = 0x124;
const AUTH_FAIL_S1: u32 = 0x98E;
const BAD_AUTH_S1: u32 = 0x9A2;
const POLICY_FAIL_S1: u32 = 0x99D;
const VALUE_P3: u32 = 0x3C4;
const AUTH_MISSING: u32 = 0x125;

fn public(index: u32, attrs: u32, policy: &[u8], size: u16) -> Vec<u8> {
    let mut p = index.to_be_bytes().to_vec();
    p.extend(SHA256.to_be_bytes());
    p.extend(attrs.to_be_bytes());
    tpm2b(&mut p, policy);
    p.extend(size.to_be_bytes());
    p
}

/// NV_DefineSpace by `by` (owner or platform); returns the response code.
fn define_full(
    h: &mut Harness,
    by: u32,
    index: u32,
    attrs: u32,
    size: u16,
    auth: &[u8],
    policy: &[u8],
) -> u32 {
    let mut p = Vec::new();
    tpm2b(&mut p, auth);
    tpm2b(&mut p, &public(index, attrs, policy, size));
    h.send(NV_DEFINE_SPACE, &[by], &[AuthCmd::pw(b"")], &p).rc()
}

fn define(h: &mut Harness, index: u32, attrs: u32, size: u16) {
    assert_eq!(define_full(h, RH_OWNER, index, attrs, size, b"", &[]), 0);
}

/// NV_ReadPublic's whole answer (TPM2B_NV_PUBLIC ‖ Name), or the response code.
fn read_public(h: &mut Harness, index: u32) -> Result<Vec<u8>, u32> {
    let r = h.send(NV_READ_PUBLIC, &[index], &[], &[]);
    if r.rc() == 0 {
        Ok(r.body().to_vec())
    } else {
        Err(r.rc())
    }
}

fn attrs_of(h: &mut Harness, index: u32) -> u32 {
    let b = read_public(h, index).unwrap();
    u32::from_be_bytes(b[8..12].try_into().unwrap())
}

fn write(h: &mut Harness, by: u32, index: u32, pw: &[u8], data: &[u8], offset: u16) -> u32 {
    let mut p = Vec::new();
    tpm2b(&mut p, data);
    p.extend(offset.to_be_bytes());
    h.send(NV_WRITE, &[by, index], &[AuthCmd::pw(pw)], &p).rc()
}

/// NV_Read: the data, or the response code.
fn read(h: &mut Harness, by: u32, index: u32, pw: &[u8], size: u16) -> Result<Vec<u8>, u32> {
    let mut p = size.to_be_bytes().to_vec();
    p.extend(0u16.to_be_bytes());
    let r = h.send(NV_READ, &[by, index], &[AuthCmd::pw(pw)], &p);
    if r.rc() != 0 {
        return Err(r.rc());
    }
    let (params, _) = r.split_sessions(0);
    Ok(params[2..].to_vec())
}

/// What must not change when a command fails: the public area, Name and data.
fn snapshot(
    h: &mut Harness,
    index: u32,
    size: u16,
) -> (Result<Vec<u8>, u32>, Result<Vec<u8>, u32>) {
    (read_public(h, index), read(h, RH_OWNER, index, b"", size))
}

fn simple(h: &mut Harness, code: u32, by: u32, index: u32) -> u32 {
    h.send(code, &[by, index], &[AuthCmd::pw(b"")], &[]).rc()
}

/// Shutdown(`su`), power cycle, Startup(`su`): CLEAR/CLEAR is a TPM Reset, STATE/CLEAR a
/// TPM Restart, STATE/STATE a TPM Resume.
fn reboot(h: &mut Harness, shutdown: u16, startup: u16) {
    h.ok(cc::SHUTDOWN, &[], &[], &shutdown.to_be_bytes());
    h.tpm.init();
    h.ok(cc::STARTUP, &[], &[], &startup.to_be_bytes());
}

/// The policy digest of PolicyCommandCode(`code`) from zeros.
fn policy_cc(code: u32) -> Vec<u8> {
    digest(
        SHA256,
        &[
            &[0; 32],
            &POLICY_COMMAND_CODE.to_be_bytes(),
            &code.to_be_bytes(),
        ],
    )
}

/// A policy session that has run PolicyCommandCode(`code`), and its use (empty HMAC).
fn policy_session_for(h: &mut Harness, code: u32) -> AuthCmd {
    let s = start_session(h, RH_NULL, b"", 1);
    h.ok(POLICY_COMMAND_CODE, &[s.handle], &[], &code.to_be_bytes());
    AuthCmd {
        handle: s.handle,
        nonce: vec![9; 16],
        attrs: 1,
        hmac: vec![],
    }
}

#[test]
fn write_stclear_and_read_stclear_locks_last_until_reset_or_restart() {
    let mut h = Harness::new();
    let ix = 0x0150_0001;
    define(&mut h, ix, OWNER_RW | WRITE_STCLEAR | READ_STCLEAR, 8);
    assert_eq!(write(&mut h, RH_OWNER, ix, b"", b"abcdefgh", 0), 0);
    // Locking works before the first write too; here after it.
    assert_eq!(simple(&mut h, NV_WRITE_LOCK, RH_OWNER, ix), 0);
    assert_eq!(attrs_of(&mut h, ix) & WRITELOCKED, WRITELOCKED);
    let before = snapshot(&mut h, ix, 8);
    assert_eq!(write(&mut h, RH_OWNER, ix, b"", b"XXXXXXXX", 0), NV_LOCKED);
    // Locked already: success, whatever else (reference implementation).
    assert_eq!(simple(&mut h, NV_WRITE_LOCK, RH_OWNER, ix), 0);
    assert_eq!(snapshot(&mut h, ix, 8), before);
    assert_eq!(simple(&mut h, NV_READ_LOCK, RH_OWNER, ix), 0);
    assert_eq!(read(&mut h, RH_OWNER, ix, b"", 8), Err(NV_LOCKED));
    assert_eq!(simple(&mut h, NV_READ_LOCK, RH_OWNER, ix), 0);
    // TPM Resume keeps both locks.
    reboot(&mut h, 1, 1);
    assert_eq!(
        attrs_of(&mut h, ix) & (READLOCKED | WRITELOCKED),
        READLOCKED | WRITELOCKED
    );
    // TPM Restart clears both; the data stays.
    reboot(&mut h, 1, 0);
    assert_eq!(attrs_of(&mut h, ix) & (READLOCKED | WRITELOCKED), 0);
    assert_eq!(read(&mut h, RH_OWNER, ix, b"", 8), Ok(b"abcdefgh".to_vec()));
    // And TPM Reset too.
    assert_eq!(simple(&mut h, NV_WRITE_LOCK, RH_OWNER, ix), 0);
    assert_eq!(simple(&mut h, NV_READ_LOCK, RH_OWNER, ix), 0);
    reboot(&mut h, 0, 0);
    assert_eq!(attrs_of(&mut h, ix) & (READLOCKED | WRITELOCKED), 0);
    assert_eq!(write(&mut h, RH_OWNER, ix, b"", b"12345678", 0), 0);
}

#[test]
fn lock_errors_change_nothing() {
    let mut h = Harness::new();
    let (plain, stclear, ppw) = (0x0150_0002, 0x0150_0003, 0x0150_0004);
    define(&mut h, plain, OWNER_RW, 8);
    define(&mut h, stclear, OWNER_RW | WRITE_STCLEAR | READ_STCLEAR, 8);
    define(
        &mut h,
        ppw,
        AUTHWRITE | AUTHREAD | WRITE_STCLEAR | READ_STCLEAR,
        8,
    );
    assert_eq!(write(&mut h, RH_OWNER, plain, b"", b"abcdefgh", 0), 0);
    let before = [
        snapshot(&mut h, plain, 8),
        (read_public(&mut h, stclear), Ok(vec![])),
        (read_public(&mut h, ppw), Ok(vec![])),
    ];
    // No WRITEDEFINE / WRITE_STCLEAR, no READ_STCLEAR: TPM_RC_ATTRIBUTES at handle 2.
    assert_eq!(
        simple(&mut h, NV_WRITE_LOCK, RH_OWNER, plain),
        ATTRIBUTES_H2
    );
    assert_eq!(simple(&mut h, NV_READ_LOCK, RH_OWNER, plain), ATTRIBUTES_H2);
    // The owner may not write / read an index without OWNERWRITE / OWNERREAD.
    assert_eq!(
        simple(&mut h, NV_WRITE_LOCK, RH_OWNER, ppw),
        NV_AUTHORIZATION
    );
    assert_eq!(
        simple(&mut h, NV_READ_LOCK, RH_OWNER, ppw),
        NV_AUTHORIZATION
    );
    // The platform may not either.
    assert_eq!(
        simple(&mut h, NV_WRITE_LOCK, RH_PLATFORM, stclear),
        NV_AUTHORIZATION
    );
    let after = [
        snapshot(&mut h, plain, 8),
        (read_public(&mut h, stclear), Ok(vec![])),
        (read_public(&mut h, ppw), Ok(vec![])),
    ];
    assert_eq!(before, after);
    // With the index's own authorization: unwritten, still lockable (read lock too).
    assert_eq!(simple(&mut h, NV_READ_LOCK, ppw, ppw), 0);
    assert_eq!(simple(&mut h, NV_WRITE_LOCK, ppw, ppw), 0);
    assert_eq!(
        attrs_of(&mut h, ppw) & (READLOCKED | WRITELOCKED),
        READLOCKED | WRITELOCKED
    );
}

#[test]
fn writedefine_lock_lasts_once_written_and_global_lock_until_startup() {
    let mut h = Harness::new();
    let (wd, wd_unwritten, global, other) = (0x0150_0005, 0x0150_0006, 0x0150_0007, 0x0150_0008);
    define(&mut h, wd, OWNER_RW | WRITEDEFINE, 4);
    define(&mut h, wd_unwritten, OWNER_RW | WRITEDEFINE, 4);
    define(&mut h, global, OWNER_RW | GLOBALLOCK, 4);
    define(&mut h, other, OWNER_RW, 4);
    assert_eq!(write(&mut h, RH_OWNER, wd, b"", b"wd!!", 0), 0);
    assert_eq!(simple(&mut h, NV_WRITE_LOCK, RH_OWNER, wd), 0);
    assert_eq!(simple(&mut h, NV_WRITE_LOCK, RH_OWNER, wd_unwritten), 0);
    // GlobalWriteLock with the platform's authorization (owner works alike).
    h.ok(
        NV_GLOBAL_WRITE_LOCK,
        &[RH_PLATFORM],
        &[AuthCmd::pw(b"")],
        &[],
    );
    assert_eq!(write(&mut h, RH_OWNER, global, b"", b"glob", 0), NV_LOCKED);
    assert_eq!(write(&mut h, RH_OWNER, other, b"", b"free", 0), 0);
    // A globally locked index answers NV_WriteLock with success (locked already), though
    // it has neither WRITEDEFINE nor WRITE_STCLEAR.
    assert_eq!(simple(&mut h, NV_WRITE_LOCK, RH_OWNER, global), 0);
    // TPM Restart: the global lock and the lock of the unwritten WRITEDEFINE index go.
    reboot(&mut h, 1, 0);
    assert_eq!(attrs_of(&mut h, wd) & WRITELOCKED, WRITELOCKED);
    assert_eq!(attrs_of(&mut h, wd_unwritten) & WRITELOCKED, 0);
    assert_eq!(attrs_of(&mut h, global) & WRITELOCKED, 0);
    assert_eq!(write(&mut h, RH_OWNER, global, b"", b"glob", 0), 0);
    // The written WRITEDEFINE index stays locked through a TPM Reset too.
    reboot(&mut h, 0, 0);
    assert_eq!(write(&mut h, RH_OWNER, wd, b"", b"XXXX", 0), NV_LOCKED);
    assert_eq!(read(&mut h, RH_OWNER, wd, b"", 4), Ok(b"wd!!".to_vec()));
    // GlobalWriteLock needs a Provision handle.
    assert_eq!(
        h.send(
            NV_GLOBAL_WRITE_LOCK,
            &[RH_LOCKOUT],
            &[AuthCmd::pw(b"")],
            &[]
        )
        .rc(),
        0x184
    );
}

#[test]
fn clear_stclear_and_orderly_lose_written_at_startup() {
    let mut h = Harness::new();
    let (clear, orderly, orderly_counter) = (0x0150_0009, 0x0150_000A, 0x0150_000B);
    define(&mut h, clear, OWNER_RW | CLEAR_STCLEAR, 4);
    define(&mut h, orderly, OWNER_RW | ORDERLY, 4);
    define(&mut h, orderly_counter, OWNER_RW | ORDERLY | NT_COUNTER, 8);
    for ix in [clear, orderly] {
        assert_eq!(write(&mut h, RH_OWNER, ix, b"", b"data", 0), 0);
    }
    h.ok(
        0x134,
        &[RH_OWNER, orderly_counter],
        &[AuthCmd::pw(b"")],
        &[],
    );
    // TPM Resume: nothing changes.
    reboot(&mut h, 1, 1);
    assert_eq!(read(&mut h, RH_OWNER, clear, b"", 4), Ok(b"data".to_vec()));
    // TPM Restart: CLEAR_STCLEAR unwritten; ORDERLY keeps its data.
    reboot(&mut h, 1, 0);
    assert_eq!(read(&mut h, RH_OWNER, clear, b"", 4), Err(NV_UNINITIALIZED));
    assert_eq!(
        read(&mut h, RH_OWNER, orderly, b"", 4),
        Ok(b"data".to_vec())
    );
    // TPM Reset: an orderly index is unwritten too (the reference implementation's RAM
    // indices); an orderly counter is not.
    reboot(&mut h, 0, 0);
    assert_eq!(
        read(&mut h, RH_OWNER, orderly, b"", 4),
        Err(NV_UNINITIALIZED)
    );
    assert_eq!(
        read(&mut h, RH_OWNER, orderly_counter, b"", 8),
        Ok(1u64.to_be_bytes().to_vec())
    );
    // Attribute rules at definition.
    for (attrs, size) in [
        (OWNER_RW | NT_COUNTER | CLEAR_STCLEAR, 8),
        (OWNER_RW | CLEAR_STCLEAR | WRITEDEFINE, 4),
        (OWNER_RW | POLICY_DELETE, 4),
    ] {
        assert_eq!(
            define_full(&mut h, RH_OWNER, 0x0150_00F0, attrs, size, b"", &[]),
            ATTRIBUTES_P2,
            "{attrs:#x}"
        );
        assert_eq!(read_public(&mut h, 0x0150_00F0), Err(0x18B));
    }
    // Reserved TPMA_NV bits (8, 9, 20-24): TPM_RC_RESERVED_BITS at parameter 2, found while
    // the public area unmarshals, so before a bad policy size (reference, libtpms).
    for bit in [8, 9, 20, 24] {
        let attrs = OWNER_RW | (1 << bit);
        assert_eq!(
            define_full(&mut h, RH_OWNER, 0x0150_00F0, attrs, 4, b"", &[]),
            0x2E1,
            "bit {bit}"
        );
        assert_eq!(
            define_full(&mut h, RH_OWNER, 0x0150_00F0, attrs, 4, b"", &[1; 7]),
            0x2E1,
            "bit {bit}, 7-byte policy"
        );
    }
    assert_eq!(read_public(&mut h, 0x0150_00F0), Err(0x18B));
}

#[test]
fn set_bits_ors_into_a_bit_field() {
    let mut h = Harness::new();
    let (bits, plain) = (0x0150_000C, 0x0150_000D);
    assert_eq!(
        define_full(&mut h, RH_OWNER, bits, OWNER_RW | NT_BITS, 4, b"", &[]),
        SIZE_P2
    );
    define(&mut h, bits, OWNER_RW | NT_BITS, 8);
    define(&mut h, plain, OWNER_RW, 8);
    let set = |h: &mut Harness, ix: u32, v: u64| {
        h.send(
            NV_SET_BITS,
            &[RH_OWNER, ix],
            &[AuthCmd::pw(b"")],
            &v.to_be_bytes(),
        )
        .rc()
    };
    assert_eq!(read(&mut h, RH_OWNER, bits, b"", 8), Err(NV_UNINITIALIZED));
    assert_eq!(set(&mut h, bits, 0x1), 0);
    assert_eq!(attrs_of(&mut h, bits) & WRITTEN, WRITTEN);
    assert_eq!(set(&mut h, bits, 0x8000_0000_0000_0080), 0);
    assert_eq!(
        read(&mut h, RH_OWNER, bits, b"", 8),
        Ok(0x8000_0000_0000_0081u64.to_be_bytes().to_vec())
    );
    let before = (snapshot(&mut h, bits, 8), snapshot(&mut h, plain, 8));
    // SetBits on an ordinary index: TPM_RC_ATTRIBUTES at handle 2; NV_Write on a bit field:
    // TPM_RC_ATTRIBUTES without a position (reference implementation, libtpms).
    assert_eq!(set(&mut h, plain, 1), ATTRIBUTES_H2);
    assert_eq!(write(&mut h, RH_OWNER, bits, b"", &[0xFF; 8], 0), 0x082);
    // The platform has no PPWRITE.
    assert_eq!(
        h.send(
            NV_SET_BITS,
            &[RH_PLATFORM, bits],
            &[AuthCmd::pw(b"")],
            &[0; 8]
        )
        .rc(),
        NV_AUTHORIZATION
    );
    assert_eq!(
        (snapshot(&mut h, bits, 8), snapshot(&mut h, plain, 8)),
        before
    );
}

fn pin(count: u32, limit: u32) -> Vec<u8> {
    [count.to_be_bytes(), limit.to_be_bytes()].concat()
}

#[test]
fn pin_pass_counts_successes_up_to_the_limit() {
    let mut h = Harness::new();
    let ix = 0x0150_0010;
    for (attrs, size) in [
        (OWNER_RW | AUTHREAD | AUTHWRITE | NT_PIN_PASS, 8),
        (OWNER_RW | NT_PIN_PASS | GLOBALLOCK, 8),
        (OWNER_RW | NT_PIN_PASS | WRITEDEFINE, 8),
    ] {
        assert_eq!(
            define_full(&mut h, RH_OWNER, ix, attrs, size, b"pin", &[]),
            ATTRIBUTES_P2
        );
    }
    assert_eq!(
        define_full(&mut h, RH_OWNER, ix, OWNER_RW | NT_PIN_PASS, 4, b"pin", &[]),
        SIZE_P2
    );
    assert_eq!(
        define_full(&mut h, RH_OWNER, ix, OWNER_RW | NT_PIN_PASS, 8, b"pin", &[]),
        0
    );
    // Unwritten, the authValue is not available.
    assert_eq!(read(&mut h, ix, ix, b"pin", 8), Err(AUTH_UNAVAILABLE));
    assert_eq!(write(&mut h, RH_OWNER, ix, b"", &pin(0, 2), 0), 0);
    // Each use of the PIN counts, before the command reads the value.
    assert_eq!(read(&mut h, ix, ix, b"pin", 8), Ok(pin(1, 2)));
    assert_eq!(read(&mut h, ix, ix, b"pin", 8), Ok(pin(2, 2)));
    let before = snapshot(&mut h, ix, 8);
    assert_eq!(read(&mut h, ix, ix, b"pin", 8), Err(AUTH_UNAVAILABLE));
    assert_eq!(snapshot(&mut h, ix, 8), before);
    // A wrong PIN does not count (and is a DA failure: the index has no NO_DA).
    assert_eq!(write(&mut h, RH_OWNER, ix, b"", &pin(0, 5), 0), 0);
    assert_eq!(read(&mut h, ix, ix, b"nope", 8), Err(AUTH_FAIL_S1));
    assert_eq!(read(&mut h, RH_OWNER, ix, b"", 8), Ok(pin(0, 5)));
}

#[test]
fn pin_fail_counts_failures_and_resets_on_success() {
    let mut h = Harness::new();
    let ix = 0x0150_0011;
    assert_eq!(
        define_full(&mut h, RH_OWNER, ix, OWNER_RW | NT_PIN_FAIL, 8, b"pin", &[]),
        ATTRIBUTES_P2,
        "a PIN fail index needs NO_DA"
    );
    assert_eq!(
        define_full(
            &mut h,
            RH_OWNER,
            ix,
            OWNER_RW | NT_PIN_FAIL | NO_DA,
            8,
            b"pin",
            &[]
        ),
        0
    );
    assert_eq!(write(&mut h, RH_OWNER, ix, b"", &pin(0, 2), 0), 0);
    // NO_DA: a wrong PIN is TPM_RC_BAD_AUTH, and counts.
    assert_eq!(read(&mut h, ix, ix, b"nope", 8), Err(BAD_AUTH_S1));
    assert_eq!(read(&mut h, RH_OWNER, ix, b"", 8), Ok(pin(1, 2)));
    // The right PIN starts over at zero.
    assert_eq!(read(&mut h, ix, ix, b"pin", 8), Ok(pin(0, 2)));
    assert_eq!(read(&mut h, ix, ix, b"nope", 8), Err(BAD_AUTH_S1));
    assert_eq!(read(&mut h, ix, ix, b"nope", 8), Err(BAD_AUTH_S1));
    // At the limit even the right PIN is refused, and nothing changes.
    let before = snapshot(&mut h, ix, 8);
    assert_eq!(read(&mut h, ix, ix, b"pin", 8), Err(AUTH_UNAVAILABLE));
    assert_eq!(snapshot(&mut h, ix, 8), before);
    assert_eq!(read(&mut h, RH_OWNER, ix, b"", 8), Ok(pin(2, 2)));
    // No DA failure was counted (TPM_PT_LOCKOUT_COUNTER).
    let mut p = 6u32.to_be_bytes().to_vec();
    p.extend(0x20Eu32.to_be_bytes());
    p.extend(1u32.to_be_bytes());
    let r = h.ok(cc::GET_CAPABILITY, &[], &[], &p);
    assert_eq!(&r.body()[13..17], &0u32.to_be_bytes());
}

#[test]
fn change_auth_needs_a_policy_with_the_command_code() {
    let mut h = Harness::new();
    let ix = 0x0150_0012;
    let policy = policy_cc(NV_CHANGE_AUTH);
    assert_eq!(
        define_full(
            &mut h,
            RH_OWNER,
            ix,
            AUTHREAD | AUTHWRITE,
            8,
            b"old",
            &policy
        ),
        0
    );
    let mut p = Vec::new();
    tpm2b(&mut p, b"new");
    let before = read_public(&mut h, ix);
    // A password is not enough for the ADMIN role.
    assert_eq!(
        h.send(NV_CHANGE_AUTH, &[ix], &[AuthCmd::pw(b"old")], &p)
            .rc(),
        AUTH_TYPE
    );
    // A policy session for another command does not match the index's policy.
    let other = policy_session_for(&mut h, NV_WRITE);
    assert_eq!(
        h.send(NV_CHANGE_AUTH, &[ix], &[other], &p).rc(),
        POLICY_FAIL_S1
    );
    // newAuth longer than SHA-256's digest: TPM_RC_SIZE at parameter 1.
    let s = policy_session_for(&mut h, NV_CHANGE_AUTH);
    let mut long = Vec::new();
    tpm2b(&mut long, &[1; 33]);
    assert_eq!(h.send(NV_CHANGE_AUTH, &[ix], &[s], &long).rc(), SIZE_P1);
    assert_eq!(read_public(&mut h, ix), before);
    assert_eq!(write(&mut h, ix, ix, b"old", b"12345678", 0), 0);
    let s = policy_session_for(&mut h, NV_CHANGE_AUTH);
    h.ok(NV_CHANGE_AUTH, &[ix], &[s], &p);
    assert_eq!(write(&mut h, ix, ix, b"old", b"12345678", 0), AUTH_FAIL_S1);
    assert_eq!(read(&mut h, ix, ix, b"new", 8), Ok(b"12345678".to_vec()));
}

#[test]
fn undefine_space_special_needs_policy_delete_and_the_index_policy() {
    let mut h = Harness::new();
    let (ix, plain) = (0x0150_0013, 0x0150_0014);
    let policy = policy_cc(NV_UNDEFINE_SPACE_SPECIAL);
    let attrs = PLATFORMCREATE | PPWRITE | PPREAD | POLICY_DELETE;
    assert_eq!(
        define_full(&mut h, RH_PLATFORM, ix, attrs, 4, b"", &policy),
        0
    );
    assert_eq!(
        define_full(
            &mut h,
            RH_PLATFORM,
            plain,
            attrs & !POLICY_DELETE,
            4,
            b"",
            &policy
        ),
        0
    );
    let before = (read_public(&mut h, ix), read_public(&mut h, plain));
    // POLICY_DELETE: not through NV_UndefineSpace.
    assert_eq!(
        simple(&mut h, NV_UNDEFINE_SPACE, RH_PLATFORM, ix),
        ATTRIBUTES_H2
    );
    // Without POLICY_DELETE: TPM_RC_ATTRIBUTES at handle 1.
    let s = policy_session_for(&mut h, NV_UNDEFINE_SPACE_SPECIAL);
    assert_eq!(
        h.send(
            NV_UNDEFINE_SPACE_SPECIAL,
            &[plain, RH_PLATFORM],
            &[s, AuthCmd::pw(b"")],
            &[]
        )
        .rc(),
        ATTRIBUTES_H1
    );
    // A password for the index: the ADMIN role needs a policy session.
    assert_eq!(
        h.send(
            NV_UNDEFINE_SPACE_SPECIAL,
            &[ix, RH_PLATFORM],
            &[AuthCmd::pw(b""), AuthCmd::pw(b"")],
            &[]
        )
        .rc(),
        AUTH_TYPE
    );
    // The platform's authorization is needed too.
    let s = policy_session_for(&mut h, NV_UNDEFINE_SPACE_SPECIAL);
    assert_eq!(
        h.send(NV_UNDEFINE_SPACE_SPECIAL, &[ix, RH_PLATFORM], &[s], &[])
            .rc(),
        AUTH_MISSING
    );
    assert_eq!(
        (read_public(&mut h, ix), read_public(&mut h, plain)),
        before
    );
    let s = policy_session_for(&mut h, NV_UNDEFINE_SPACE_SPECIAL);
    h.ok(
        NV_UNDEFINE_SPACE_SPECIAL,
        &[ix, RH_PLATFORM],
        &[s, AuthCmd::pw(b"")],
        &[],
    );
    assert_eq!(read_public(&mut h, ix), Err(0x18B));
}

/// A P-384 ECDSA-SHA384 signing primary in the owner hierarchy: (handle, SEC1 point).
fn signing_key(h: &mut Harness) -> (u32, Vec<u8>) {
    let mut t = Vec::new();
    t.extend(0x0023u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(0x0004_0072u32.to_be_bytes());
    tpm2b(&mut t, b"");
    t.extend(0x0010u16.to_be_bytes());
    t.extend([0, 0x18, 0, 0x0C, 0, 4, 0, 0x10, 0, 0, 0, 0]);
    let mut p = vec![0, 4, 0, 0, 0, 0];
    tpm2b(&mut p, &t);
    p.extend([0, 0, 0, 0, 0, 0]);
    let r = h.ok(CREATE_PRIMARY, &[RH_OWNER], &[AuthCmd::pw(b"")], &p);
    let handle = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
    let (params, _) = r.split_sessions(1);
    let public = &params[2..];
    let mut point = vec![4];
    point.extend(&public[22..70]);
    point.extend(&public[72..120]);
    (handle, point)
}

fn certify(h: &mut Harness, key: u32, ix: u32, size: u16, offset: u16, scheme: &[u8]) -> Rsp {
    let mut p = Vec::new();
    tpm2b(&mut p, b"nonce");
    p.extend(scheme);
    p.extend(size.to_be_bytes());
    p.extend(offset.to_be_bytes());
    h.send(
        NV_CERTIFY,
        &[key, RH_OWNER, ix],
        &[AuthCmd::pw(b""), AuthCmd::pw(b"")],
        &p,
    )
}

/// The attested part of TPMS_ATTEST after the header: (type, bytes after firmwareVersion).
fn attested(attest: &[u8]) -> (u16, Vec<u8>) {
    assert_eq!(&attest[..4], &0xFF54_4347u32.to_be_bytes());
    let ty = u16::from_be_bytes(attest[4..6].try_into().unwrap());
    let mut i = 6;
    for _ in 0..2 {
        let n = u16::from_be_bytes(attest[i..i + 2].try_into().unwrap()) as usize;
        i += 2 + n;
    }
    // clockInfo (17) ‖ firmwareVersion (8).
    (ty, attest[i + 25..].to_vec())
}

#[test]
fn nv_certify_signs_the_contents_or_their_digest() {
    let mut h = Harness::new();
    let ix = 0x0150_0015;
    define(&mut h, ix, OWNER_RW, 16);
    let (key, point) = signing_key(&mut h);
    // Unwritten: TPM_RC_NV_UNINITIALIZED.
    assert_eq!(
        certify(&mut h, key, ix, 4, 0, &[0, 0x10]).rc(),
        NV_UNINITIALIZED
    );
    let data: Vec<u8> = (0..16).collect();
    assert_eq!(write(&mut h, RH_OWNER, ix, b"", &data, 0), 0);
    let name = {
        let b = read_public(&mut h, ix).unwrap();
        let n = u16::from_be_bytes(b[0..2].try_into().unwrap()) as usize;
        b[2 + n + 2..].to_vec()
    };
    let r = certify(&mut h, key, ix, 6, 3, &[0, 0x10]);
    assert_eq!(r.rc(), 0);
    let (params, _) = r.split_sessions(0);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    let attest = &params[2..2 + n];
    let sig = &params[2 + n..];
    let (ty, body) = attested(attest);
    assert_eq!(ty, 0x8014);
    let mut expect = Vec::new();
    tpm2b(&mut expect, &name);
    expect.extend(3u16.to_be_bytes());
    tpm2b(&mut expect, &data[3..9]);
    assert_eq!(body, expect);
    // TPMT_SIGNATURE: ECDSA, SHA-384, r, s; verified here with the p384 crate.
    assert_eq!(&sig[..4], &[0, 0x18, 0, 0x0C]);
    let (r_, s_) = (&sig[6..54], &sig[56..104]);
    let sig = p384::ecdsa::Signature::from_scalars(
        p384::FieldBytes::try_from(r_).unwrap(),
        p384::FieldBytes::try_from(s_).unwrap(),
    )
    .unwrap();
    let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
    assert!(
        vk.verify_prehash(&sha2::Sha384::digest(attest), &sig)
            .is_ok()
    );
    // Size and offset zero: the digest of all the data with the scheme's hash.
    let r = certify(&mut h, key, ix, 0, 0, &[0, 0x10]);
    let (params, _) = r.split_sessions(0);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    let (ty, body) = attested(&params[2..2 + n]);
    assert_eq!(ty, 0x801C);
    let mut expect = Vec::new();
    tpm2b(&mut expect, &name);
    tpm2b(&mut expect, &sha2::Sha384::digest(&data));
    assert_eq!(body, expect);
    // Without a key: unsigned (TPM_ALG_NULL).
    let r = certify(&mut h, RH_NULL, ix, 2, 0, &[0, 0x10]);
    let (params, _) = r.split_sessions(0);
    assert_eq!(&params[params.len() - 2..], &[0, 0x10]);
    // Errors.
    let before = snapshot(&mut h, ix, 16);
    assert_eq!(certify(&mut h, key, ix, 10, 7, &[0, 0x10]).rc(), NV_RANGE);
    assert_eq!(
        certify(&mut h, key, ix, 4, 0, &[0, 0x18, 0, 0x0B]).rc(),
        0x2D2,
        "the key's scheme is SHA-384: TPM_RC_SCHEME at parameter 2"
    );
    let ppread = 0x0150_0016;
    define(&mut h, ppread, PPREAD | OWNERWRITE, 4);
    assert_eq!(
        certify(&mut h, key, ppread, 4, 0, &[0, 0x10]).rc(),
        NV_AUTHORIZATION
    );
    // More than MAX_NV_BUFFER bytes: TPM_RC_VALUE at parameter 3 (after the range check).
    let big = 0x0150_0017;
    define(&mut h, big, OWNER_RW, 2048);
    assert_eq!(write(&mut h, RH_OWNER, big, b"", b"x", 0), 0);
    assert_eq!(
        certify(&mut h, key, big, 1025, 0, &[0, 0x10]).rc(),
        VALUE_P3
    );
    assert_eq!(
        certify(&mut h, key, big, 1024, 1025, &[0, 0x10]).rc(),
        NV_RANGE
    );
    assert_eq!(snapshot(&mut h, ix, 16), before);
}

/// GetCapability(TPM_CAP_TPM_PROPERTIES, `property`, 1): the value.
fn property(h: &mut Harness, property: u32) -> u32 {
    let mut p = 6u32.to_be_bytes().to_vec();
    p.extend(property.to_be_bytes());
    p.extend(1u32.to_be_bytes());
    let r = h.ok(cc::GET_CAPABILITY, &[], &[], &p);
    let b = r.body();
    assert_eq!(u32::from_be_bytes(b[9..13].try_into().unwrap()), property);
    u32::from_be_bytes(b[13..17].try_into().unwrap())
}

#[test]
fn sixteen_indices_fit_and_capabilities_count_them() {
    let mut h = Harness::new();
    assert_eq!(property(&mut h, 0x117), 2048, "TPM_PT_NV_INDEX_MAX");
    assert_eq!(property(&mut h, 0x20A), 0, "TPM_PT_NV_COUNTERS");
    assert_eq!(property(&mut h, 0x20B), 16, "TPM_PT_NV_COUNTERS_AVAIL");
    for i in 0..4 {
        define(&mut h, 0x0150_0100 + i, OWNER_RW | NT_COUNTER, 8);
    }
    for i in 4..16 {
        define(&mut h, 0x0150_0100 + i, OWNER_RW, 256);
    }
    assert_eq!(property(&mut h, 0x202), 16, "TPM_PT_HR_NV_INDEX");
    assert_eq!(property(&mut h, 0x20A), 4);
    assert_eq!(property(&mut h, 0x20B), 0);
    assert_eq!(
        define_full(&mut h, RH_OWNER, 0x0150_0200, OWNER_RW, 1, b"", &[]),
        NV_SPACE
    );
    assert_eq!(read_public(&mut h, 0x0150_0200), Err(0x18B));
    simple(&mut h, NV_UNDEFINE_SPACE, RH_OWNER, 0x0150_0100);
    assert_eq!(property(&mut h, 0x20A), 3);
    assert_eq!(property(&mut h, 0x20B), 1);
}

/// The indices share a 16 KiB pool: eight indices of the largest size (2048 bytes) fill it,
/// one more byte is TPM_RC_NV_SPACE, and undefining one gives its bytes back.
#[test]
fn the_pool_holds_sixteen_kib() {
    let mut h = Harness::new();
    for i in 0..8 {
        define(&mut h, 0x0150_0300 + i, OWNER_RW, 2048);
    }
    assert_eq!(
        define_full(&mut h, RH_OWNER, 0x0150_0310, OWNER_RW, 1, b"", &[]),
        NV_SPACE
    );
    simple(&mut h, NV_UNDEFINE_SPACE, RH_OWNER, 0x0150_0307);
    define(&mut h, 0x0150_0310, OWNER_RW, 2048);
}

/// The usual use of a PIN index: PolicySecret with the index as authHandle. Each attempt
/// updates pinCount as an NV_Read through the index does.
#[test]
fn policy_secret_with_a_pin_fail_index() {
    const POLICY_SECRET: u32 = 0x151;
    let mut h = Harness::new();
    let ix = 0x0150_0018;
    assert_eq!(
        define_full(
            &mut h,
            RH_OWNER,
            ix,
            OWNER_RW | NT_PIN_FAIL | NO_DA,
            8,
            b"pin",
            &[]
        ),
        0
    );
    assert_eq!(write(&mut h, RH_OWNER, ix, b"", &pin(0, 1), 0), 0);
    let s = start_session(&mut h, RH_NULL, b"", 1);
    let secret = |h: &mut Harness, pw: &[u8]| {
        h.send(POLICY_SECRET, &[ix, s.handle], &[AuthCmd::pw(pw)], &[0; 10])
            .rc()
    };
    assert_eq!(secret(&mut h, b"pin"), 0);
    assert_eq!(read(&mut h, RH_OWNER, ix, b"", 8), Ok(pin(0, 1)));
    assert_eq!(secret(&mut h, b"nope"), BAD_AUTH_S1);
    assert_eq!(read(&mut h, RH_OWNER, ix, b"", 8), Ok(pin(1, 1)));
    // pinCount reached pinLimit: the right PIN is refused, nothing changes.
    assert_eq!(secret(&mut h, b"pin"), AUTH_UNAVAILABLE);
    assert_eq!(read(&mut h, RH_OWNER, ix, b"", 8), Ok(pin(1, 1)));
    // The owner resets it by writing the parameters again.
    assert_eq!(write(&mut h, RH_OWNER, ix, b"", &pin(0, 1), 0), 0);
    assert_eq!(secret(&mut h, b"pin"), 0);
}
