//! Conformance details where the command handlers answer as the TCG reference implementation
//! (and libtpms, which swtpm runs) does: each failing case checks the response code and that
//! the TPM's observable state did not change.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use vtpm_tests::*;

const CREATE: u32 = 0x153;
const CREATE_LOADED: u32 = 0x191;
const CREATE_PRIMARY: u32 = 0x131;
const LOAD_EXTERNAL: u32 = 0x167;
const READ_PUBLIC: u32 = 0x173;
const SIGN: u32 = 0x15D;
const QUOTE: u32 = 0x158;
const UNSEAL: u32 = 0x15E;
const CONTEXT_SAVE: u32 = 0x162;
const NV_DEFINE_SPACE: u32 = 0x12A;
const NV_UNDEFINE_SPACE: u32 = 0x122;
const NV_INCREMENT: u32 = 0x134;
const NV_READ: u32 = 0x14E;
const DA_LOCK_RESET: u32 = 0x139;
const DA_PARAMETERS: u32 = 0x13A;

const SHA512: u16 = 0x000D;
const STORAGE: u32 = 0x0003_0072; // fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|restricted|decrypt
const SIGNER: u32 = 0x0004_0072; // fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|sign
const AES128CFB: [u8; 6] = [0, 6, 0, 0x80, 0, 0x43];
const AES256CFB: [u8; 6] = [0, 6, 1, 0, 0, 0x43];
const NULL: [u8; 2] = [0, 0x10];
const ECDSA_SHA256: [u8; 4] = [0, 0x18, 0, 0x0B];

/// A format-one code at parameter `n`.
fn at_param(rc: u32, n: u32) -> u32 {
    rc | 0x40 | (n << 8)
}

/// An ECC P-256 template with empty unique fields.
fn ecc_template(name_alg: u16, attrs: u32, sym: &[u8], scheme: &[u8]) -> Vec<u8> {
    ecc_public(name_alg, attrs, sym, scheme, &[], &[])
}

/// An ECC P-256 public area with the given point.
fn ecc_public(name_alg: u16, attrs: u32, sym: &[u8], scheme: &[u8], x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(0x0023u16.to_be_bytes());
    t.extend(name_alg.to_be_bytes());
    t.extend(attrs.to_be_bytes());
    t.extend([0, 0]); // authPolicy
    t.extend(sym);
    t.extend(scheme);
    t.extend(3u16.to_be_bytes()); // NIST P-256
    t.extend(NULL); // kdf
    tpm2b(&mut t, x);
    tpm2b(&mut t, y);
    t
}

/// A sealed data object template (KEYEDHASH, no sign / decrypt, sensitiveDataOrigin CLEAR).
fn sealed_template() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(0x0008u16.to_be_bytes());
    t.extend(SHA256.to_be_bytes());
    t.extend(0x0000_0052u32.to_be_bytes()); // fixedTPM|fixedParent|userWithAuth
    t.extend([0, 0]);
    t.extend(NULL);
    t.extend([0, 0]);
    t
}

fn sensitive_create(data: &[u8]) -> Vec<u8> {
    let mut inner = Vec::new();
    tpm2b(&mut inner, b"");
    tpm2b(&mut inner, data);
    let mut p = Vec::new();
    tpm2b(&mut p, &inner);
    p
}

/// Parameters of CreatePrimary / Create.
fn create_params(data: &[u8], template: &[u8], outside: &[u8], pcrs: &[u8]) -> Vec<u8> {
    let mut p = sensitive_create(data);
    tpm2b(&mut p, template);
    tpm2b(&mut p, outside);
    if pcrs.is_empty() {
        p.extend(0u32.to_be_bytes());
    } else {
        p.extend(pcrs);
    }
    p
}

fn create_primary(h: &mut Harness, hierarchy: u32, data: &[u8], template: &[u8]) -> Rsp {
    let p = create_params(data, template, &[], &[]);
    h.send(CREATE_PRIMARY, &[hierarchy], &[AuthCmd::pw(b"")], &p)
}

/// (handle, TPM2B_PUBLIC contents) of a successful CreatePrimary / CreateLoaded.
fn loaded(r: &Rsp) -> (u32, Vec<u8>) {
    assert_eq!(r.rc(), 0, "rc {:#x}", r.rc());
    let handle = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
    let (params, _) = r.split_sessions(1);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    (handle, params[2..2 + n].to_vec())
}

fn primary(h: &mut Harness, template: &[u8]) -> (u32, Vec<u8>) {
    loaded(&create_primary(h, RH_OWNER, &[], template))
}

/// The point (x, y) of an ECC P-256 public area (its last two TPM2Bs).
fn point(public: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let n = public.len();
    (public[n - 66..n - 34].to_vec(), public[n - 32..].to_vec())
}

/// GetCapability(cap, property, count): the raw capability data after moreData ‖ cap.
fn get_cap(h: &mut Harness, cap: u32, property: u32, count: u32) -> Rsp {
    let mut p = cap.to_be_bytes().to_vec();
    p.extend(property.to_be_bytes());
    p.extend(count.to_be_bytes());
    h.send(cc::GET_CAPABILITY, &[], &[], &p)
}

/// The handles GetCapability(TPM_CAP_HANDLES, property) lists.
fn handles(h: &mut Harness, property: u32) -> Vec<u32> {
    let r = get_cap(h, 1, property, 64);
    assert_eq!(r.rc(), 0);
    let b = &r.body()[5..];
    let n = u32::from_be_bytes(b[..4].try_into().unwrap()) as usize;
    (0..n)
        .map(|i| u32::from_be_bytes(b[4 + 4 * i..8 + 4 * i].try_into().unwrap()))
        .collect()
}

/// TPM_PT values from `first`, `count` of them.
fn properties(h: &mut Harness, first: u32, count: u32) -> Vec<(u32, u32)> {
    let r = get_cap(h, 6, first, count);
    assert_eq!(r.rc(), 0);
    let b = &r.body()[5..];
    let n = u32::from_be_bytes(b[..4].try_into().unwrap()) as usize;
    (0..n)
        .map(|i| {
            let e = &b[4 + 8 * i..12 + 8 * i];
            (
                u32::from_be_bytes(e[..4].try_into().unwrap()),
                u32::from_be_bytes(e[4..].try_into().unwrap()),
            )
        })
        .collect()
}

fn pcr_update_counter(h: &mut Harness) -> u32 {
    let mut p = 1u32.to_be_bytes().to_vec();
    p.extend(SHA256.to_be_bytes());
    p.extend([3, 1, 0, 0]);
    let r = h.ok(cc::PCR_READ, &[], &[], &p);
    u32::from_be_bytes(r.body()[..4].try_into().unwrap())
}

/// What a failing command must leave alone: loaded objects, persistent objects, NV indices,
/// sessions, the variable TPM properties, the PCRs and pcrUpdateCounter.
fn snapshot(h: &mut Harness) -> Vec<u8> {
    let mut v = Vec::new();
    for ht in [
        0x8000_0000,
        0x8100_0000,
        0x0100_0000,
        0x0200_0000,
        0x0300_0000,
    ] {
        for x in handles(h, ht) {
            v.extend(x.to_be_bytes());
        }
        v.push(0xFF);
    }
    for (t, x) in properties(h, 0x200, 32) {
        v.extend(t.to_be_bytes());
        v.extend(x.to_be_bytes());
    }
    v.extend(h.all_pcrs());
    v.extend(pcr_update_counter(h).to_be_bytes());
    v
}

/// Send a command that must fail with `rc` and change nothing.
fn refused(h: &mut Harness, code: u32, hs: &[u32], auths: &[AuthCmd], params: &[u8], rc: u32) {
    let before = snapshot(h);
    let r = h.send(code, hs, auths, params);
    assert_eq!(
        r.rc(),
        rc,
        "command {code:#x}: {:#x}, expected {rc:#x}",
        r.rc()
    );
    assert_eq!(snapshot(h), before, "command {code:#x} changed the TPM");
}

#[test]
fn a_non_duplicable_storage_child_has_its_parents_name_alg_and_symmetric() {
    let mut h = Harness::new();
    let (parent, _) = primary(&mut h, &ecc_template(SHA256, STORAGE, &AES128CFB, &NULL));
    let pw = [AuthCmd::pw(b"")];
    // Part 3 §12.1: TPM_RC_HASH / TPM_RC_SYMMETRIC at inPublic (parameter 2).
    for (template, rc) in [
        (
            ecc_template(SHA384, STORAGE, &AES128CFB, &NULL),
            at_param(0x083, 2),
        ),
        (
            ecc_template(SHA256, STORAGE, &AES256CFB, &NULL),
            at_param(0x096, 2),
        ),
    ] {
        let p = create_params(&[], &template, &[], &[]);
        refused(&mut h, CREATE, &[parent], &pw, &p, rc);
        let mut p = sensitive_create(&[]);
        tpm2b(&mut p, &template);
        refused(&mut h, CREATE_LOADED, &[parent], &pw, &p, rc);
    }
    // The same template is fine as a duplicable child (fixedParent and fixedTPM CLEAR).
    let dup = ecc_template(SHA384, STORAGE & !0x12, &AES256CFB, &NULL);
    h.ok(CREATE, &[parent], &pw, &create_params(&[], &dup, &[], &[]));
    let same = ecc_template(SHA256, STORAGE, &AES128CFB, &NULL);
    h.ok(CREATE, &[parent], &pw, &create_params(&[], &same, &[], &[]));
}

/// TPM2_Sign parameters: digest, scheme, validation ticket.
fn sign_params(digest: &[u8], tag: u16, hierarchy: u32, ticket: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    tpm2b(&mut p, digest);
    p.extend(ECDSA_SHA256);
    p.extend(tag.to_be_bytes());
    p.extend(hierarchy.to_be_bytes());
    tpm2b(&mut p, ticket);
    p
}

#[test]
fn sign_checks_a_ticket_offered_for_an_unrestricted_key() {
    let mut h = Harness::new();
    let (key, _) = primary(&mut h, &ecc_template(SHA256, SIGNER, &NULL, &NULL));
    let pw = [AuthCmd::pw(b"")];
    let digest = digest(SHA256, &[b"message"]);
    // A forged ticket: TPM_RC_TICKET at parameter 3 (libtpms Sign.c checks any non-empty
    // ticket, restricted key or not).
    let p = sign_params(&digest, 0x8024, RH_OWNER, &[0x55; 32]);
    refused(&mut h, SIGN, &[key], &pw, &p, at_param(0x0A0, 3));
    // A ticket naming no hierarchy: TPM_RC_VALUE at parameter 3 (TPMI_RH_HIERARCHY+).
    let p = sign_params(&digest, 0x8024, 0x4000_0002, &[]);
    refused(&mut h, SIGN, &[key], &pw, &p, at_param(0x084, 3));
    // A wrong tag: TPM_RC_TAG at parameter 3.
    let p = sign_params(&digest, 0x8022, RH_NULL, &[]);
    refused(&mut h, SIGN, &[key], &pw, &p, at_param(0x097, 3));
    // A genuine ticket from TPM2_Hash, and the empty null ticket, are accepted.
    let mut hp = Vec::new();
    tpm2b(&mut hp, b"message");
    hp.extend(SHA256.to_be_bytes());
    hp.extend(RH_OWNER.to_be_bytes());
    let r = h.ok(cc::HASH, &[], &[], &hp);
    let ticket = &r.body()[2 + 32..];
    let mut p = Vec::new();
    tpm2b(&mut p, &digest);
    p.extend(ECDSA_SHA256);
    p.extend(ticket);
    h.ok(SIGN, &[key], &pw, &p);
    h.ok(
        SIGN,
        &[key],
        &pw,
        &sign_params(&digest, 0x8024, RH_NULL, &[]),
    );
}

fn load_external_params(private: &[u8], public: &[u8], hierarchy: u32) -> Vec<u8> {
    let mut p = Vec::new();
    tpm2b(&mut p, private);
    tpm2b(&mut p, public);
    p.extend(hierarchy.to_be_bytes());
    p
}

#[test]
fn load_external_checks_attributes_and_schemes() {
    let mut h = Harness::new();
    let (_, public) = primary(&mut h, &ecc_template(SHA256, SIGNER, &NULL, &NULL));
    let (x, y) = point(&public);
    // A reserved TPMA_OBJECT bit: TPM_RC_RESERVED_BITS at parameter 2.
    let p = ecc_public(SHA256, 0x0004_0041, &NULL, &ECDSA_SHA256, &x, &y);
    let p = load_external_params(&[], &p, RH_OWNER);
    refused(&mut h, LOAD_EXTERNAL, &[], &[], &p, at_param(0x0A1, 2));
    // Neither sign nor decrypt, with a signing scheme: TPM_RC_SCHEME at parameter 2.
    let p = ecc_public(SHA256, 0x0000_0040, &NULL, &ECDSA_SHA256, &x, &y);
    let p = load_external_params(&[], &p, RH_OWNER);
    refused(&mut h, LOAD_EXTERNAL, &[], &[], &p, at_param(0x092, 2));
    // With a sensitive area: restricted, fixedTPM or fixedParent are TPM_RC_ATTRIBUTES.
    let mut private = Vec::new();
    private.extend(0x0023u16.to_be_bytes());
    tpm2b(&mut private, b"");
    tpm2b(&mut private, b"");
    tpm2b(&mut private, &[1; 32]);
    for attrs in [0x0005_0040, 0x0004_0042, 0x0004_0050] {
        let p = ecc_public(SHA256, attrs, &NULL, &ECDSA_SHA256, &x, &y);
        let p = load_external_params(&private, &p, RH_NULL);
        refused(&mut h, LOAD_EXTERNAL, &[], &[], &p, at_param(0x082, 2));
    }
    // The public part alone loads.
    let p = ecc_public(SHA256, 0x0004_0040, &NULL, &ECDSA_SHA256, &x, &y);
    h.ok(
        LOAD_EXTERNAL,
        &[],
        &[],
        &load_external_params(&[], &p, RH_OWNER),
    );
}

/// The key checks of the reference's ObjectLoad / CryptValidateKeys for an external keyed-hash
/// object with its sensitive area (what libtpms answers too): a seed longer than a nameAlg
/// digest or of another size, an HMAC key longer than the hash's block, an authValue longer
/// than a digest are size errors at the sensitive area (parameter 1); a unique field that is
/// not H(seed ‖ data) is TPM_RC_BINDING without a position.
#[test]
fn load_external_checks_a_keyed_hash_sensitive_area() {
    let mut h = Harness::new();
    let data = b"external sealed data";
    let public = |scheme: &[u8], attrs: u32, unique: &[u8]| {
        let mut t = Vec::new();
        t.extend(0x0008u16.to_be_bytes());
        t.extend(SHA256.to_be_bytes());
        t.extend(attrs.to_be_bytes());
        tpm2b(&mut t, b"");
        t.extend(scheme);
        tpm2b(&mut t, unique);
        t
    };
    let sensitive = |auth: &[u8], seed: &[u8], bits: &[u8]| {
        let mut s = Vec::new();
        s.extend(0x0008u16.to_be_bytes());
        tpm2b(&mut s, auth);
        tpm2b(&mut s, seed);
        tpm2b(&mut s, bits);
        s
    };
    let hmac_sha256 = [0, 5, 0, 0x0B];
    let seed = [1u8; 32];
    let unique = |seed: &[u8], bits: &[u8]| digest(SHA256, &[seed, bits]);
    for (what, private, public, rc) in [
        (
            "a 16-byte seed",
            sensitive(b"", &seed[..16], data),
            public(&NULL, 0x40, &unique(&seed[..16], data)),
            at_param(0x087, 1),
        ),
        (
            "a 33-byte seed",
            sensitive(b"", &[1; 33], data),
            public(&NULL, 0x40, &unique(&[1; 33], data)),
            at_param(0x087, 1),
        ),
        (
            "a 65-byte HMAC-SHA256 key",
            sensitive(b"", &seed, &[7; 65]),
            public(&hmac_sha256, 0x0004_0040, &unique(&seed, &[7; 65])),
            at_param(0x087, 1),
        ),
        (
            "a 33-byte authValue",
            sensitive(&[1; 33], &seed, data),
            public(&NULL, 0x40, &unique(&seed, data)),
            at_param(0x095, 1),
        ),
        (
            "unique is not H(seed ‖ data)",
            sensitive(b"", &seed, data),
            public(&NULL, 0x40, &[0; 32]),
            0x0A5,
        ),
    ] {
        let p = load_external_params(&private, &public, RH_NULL);
        assert_eq!(
            h.send(LOAD_EXTERNAL, &[], &[], &p).rc(),
            rc,
            "LoadExternal with {what}"
        );
    }
    let p = load_external_params(
        &sensitive(b"", &seed, data),
        &public(&NULL, 0x40, &unique(&seed, data)),
        RH_NULL,
    );
    h.ok(LOAD_EXTERNAL, &[], &[], &p);
}

/// A public-only ECC key whose coordinates are not exactly the curve's size is TPM_RC_KEY at
/// parameter 2 before the on-curve check (the reference's CryptValidateKeys; libtpms alike),
/// whether the point would be valid or not.
#[test]
fn external_ecc_public_coordinates_must_have_the_curves_size() {
    let mut h = Harness::new();
    let (_, public) = primary(&mut h, &ecc_template(SHA256, SIGNER, &NULL, &NULL));
    let (x, y) = point(&public);
    let load = |h: &mut Harness, x: &[u8], y: &[u8]| {
        let p = ecc_public(SHA256, 0x0004_0040, &NULL, &ECDSA_SHA256, x, y);
        h.send(
            LOAD_EXTERNAL,
            &[],
            &[],
            &load_external_params(&[], &p, RH_NULL),
        )
        .rc()
    };
    assert_eq!(load(&mut h, &[], &[]), at_param(0x09C, 2));
    assert_eq!(load(&mut h, &x[..31], &y), at_param(0x09C, 2));
    let mut x33 = vec![0];
    x33.extend(&x);
    assert_eq!(load(&mut h, &x33, &y), at_param(0x09C, 2));
    // The right sizes, off the curve: TPM_RC_ECC_POINT.
    let mut bad = y.clone();
    bad[31] ^= 1;
    assert_eq!(load(&mut h, &x, &bad), at_param(0x0A7, 2));
    assert_eq!(load(&mut h, &x, &y), 0);
}

#[test]
fn an_external_objects_qualified_name_is_its_name() {
    let mut h = Harness::new();
    let (_, public) = primary(&mut h, &ecc_template(SHA256, SIGNER, &NULL, &NULL));
    let (x, y) = point(&public);
    let p = ecc_public(SHA256, 0x0004_0040, &NULL, &ECDSA_SHA256, &x, &y);
    for hierarchy in [RH_NULL, RH_OWNER] {
        let r = h.ok(
            LOAD_EXTERNAL,
            &[],
            &[],
            &load_external_params(&[], &p, hierarchy),
        );
        let handle = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
        let r = h.ok(READ_PUBLIC, &[handle], &[], &[]);
        let b = r.body();
        let n = u16::from_be_bytes(b[..2].try_into().unwrap()) as usize;
        let rest = &b[2 + n..];
        let m = u16::from_be_bytes(rest[..2].try_into().unwrap()) as usize;
        let name = &rest[2..2 + m];
        let qn = &rest[2 + m + 2..];
        assert_eq!(name[2..], digest(SHA256, &[&p])[..]);
        assert_eq!(qn, name, "QN = Name for an external object (libtpms)");
    }
}

#[test]
fn a_sealed_object_needs_data_when_the_tpm_does_not_supply_it() {
    let mut h = Harness::new();
    let (parent, _) = primary(&mut h, &ecc_template(SHA256, STORAGE, &AES128CFB, &NULL));
    let pw = [AuthCmd::pw(b"")];
    let p = create_params(&[], &sealed_template(), &[], &[]);
    refused(&mut h, CREATE, &[parent], &pw, &p, at_param(0x082, 2));
    // An asymmetric ordinary key takes no data from the caller: ATTRIBUTES as well.
    let signer = ecc_template(SHA256, SIGNER, &NULL, &NULL);
    let p = create_params(b"data", &signer, &[], &[]);
    refused(&mut h, CREATE, &[parent], &pw, &p, at_param(0x082, 2));
    h.ok(
        CREATE,
        &[parent],
        &pw,
        &create_params(b"secret", &sealed_template(), &[], &[]),
    );
}

#[test]
fn stir_random_takes_at_most_128_bytes() {
    let mut h = Harness::new();
    let mut p = Vec::new();
    tpm2b(&mut p, &[7; 129]);
    refused(&mut h, cc::STIR_RANDOM, &[], &[], &p, at_param(0x095, 1));
    let mut p = Vec::new();
    tpm2b(&mut p, &[7; 128]);
    h.ok(cc::STIR_RANDOM, &[], &[], &p);
}

fn start_session(h: &mut Harness, ty: u8) -> u32 {
    let mut p = Vec::new();
    tpm2b(&mut p, &[0x11; 16]);
    tpm2b(&mut p, b"");
    p.push(ty);
    p.extend(NULL);
    p.extend(SHA256.to_be_bytes());
    let r = h.ok(cc::START_AUTH_SESSION, &[RH_NULL, RH_NULL], &[], &p);
    u32::from_be_bytes(r.body()[..4].try_into().unwrap())
}

#[test]
fn get_capability_checks_its_property_and_lists_sessions_as_libtpms() {
    let mut h = Harness::new();
    refused(
        &mut h,
        cc::GET_CAPABILITY,
        &[],
        &[],
        &{
            let mut p = 5u32.to_be_bytes().to_vec(); // TPM_CAP_PCRS
            p.extend(1u32.to_be_bytes());
            p.extend(1u32.to_be_bytes());
            p
        },
        at_param(0x084, 2),
    );
    for property in [0x0500_0000, 0x4100_0000, 0xFF00_0000] {
        let mut p = 1u32.to_be_bytes().to_vec(); // TPM_CAP_HANDLES
        p.extend(u32::to_be_bytes(property));
        p.extend(8u32.to_be_bytes());
        refused(&mut h, cc::GET_CAPABILITY, &[], &[], &p, at_param(0x08B, 2));
    }
    let hmac = start_session(&mut h, 0);
    let policy = start_session(&mut h, 1);
    assert_eq!((hmac >> 24, policy >> 24), (2, 3));
    // Loaded sessions (0x02…): HMAC and policy, each under its own handle.
    assert_eq!(handles(&mut h, 0x0200_0000), vec![hmac, policy]);
    assert_eq!(handles(&mut h, 0x0300_0000), Vec::<u32>::new());
    // A saved session is listed under 0x03… as 0x02000000 + slot, and no longer as loaded.
    h.ok(CONTEXT_SAVE, &[policy], &[], &[]);
    assert_eq!(handles(&mut h, 0x0200_0000), vec![hmac]);
    assert_eq!(
        handles(&mut h, 0x0300_0000),
        vec![0x0200_0000 | (policy & 0xFF_FFFF)]
    );
}

#[test]
fn create_primary_accepts_sensitive_data_and_a_tpmt_ha_of_outside_info() {
    let mut h = Harness::new();
    let t = ecc_template(SHA256, STORAGE, &AES128CFB, &NULL);
    let (_, plain) = loaded(&create_primary(&mut h, RH_OWNER, b"", &t));
    let (_, with_data) = loaded(&create_primary(&mut h, RH_OWNER, b"extra", &t));
    let (_, again) = loaded(&create_primary(&mut h, RH_OWNER, b"extra", &t));
    assert_ne!(plain, with_data, "the data is part of the derivation");
    assert_eq!(with_data, again);
    // A sealed primary: its data comes back from Unseal.
    let (sealed, _) = loaded(&create_primary(
        &mut h,
        RH_OWNER,
        b"sealed!",
        &sealed_template(),
    ));
    let r = h.ok(UNSEAL, &[sealed], &[AuthCmd::pw(b"")], &[]);
    let (params, _) = r.split_sessions(0);
    assert_eq!(params, b"\x00\x07sealed!");
    // outsideInfo / qualifyingData of 66 bytes (a TPMT_HA with a SHA-512 digest).
    let outside = [0xAB; 66];
    let p = create_params(b"", &t, &outside, &[]);
    h.ok(CREATE_PRIMARY, &[RH_OWNER], &[AuthCmd::pw(b"")], &p);
    let (key, _) = primary(&mut h, &ecc_template(SHA256, SIGNER, &NULL, &ECDSA_SHA256));
    let mut p = Vec::new();
    tpm2b(&mut p, &outside);
    p.extend(NULL);
    p.extend(0u32.to_be_bytes());
    h.ok(QUOTE, &[key], &[AuthCmd::pw(b"")], &p);
    let mut p = Vec::new();
    tpm2b(&mut p, &[0xAB; 67]);
    p.extend(NULL);
    p.extend(0u32.to_be_bytes());
    refused(
        &mut h,
        QUOTE,
        &[key],
        &[AuthCmd::pw(b"")],
        &p,
        at_param(0x095, 1),
    );
}

#[test]
fn pcr_update_counter_counts_each_bank_extended() {
    let mut h = Harness::new();
    let before = pcr_update_counter(&mut h);
    let d256 = [1u8; 32];
    let d384 = [2u8; 48];
    let p = digest_values(&[(SHA256, &d256), (SHA384, &d384)]);
    h.ok(cc::PCR_EXTEND, &[0], &[AuthCmd::pw(b"")], &p);
    assert_eq!(pcr_update_counter(&mut h), before + 2);
    let p = digest_values(&[(SHA384, &d384)]);
    h.ok(cc::PCR_EXTEND, &[1], &[AuthCmd::pw(b"")], &p);
    assert_eq!(pcr_update_counter(&mut h), before + 3);
    // PCR 16 is in the no-increment set.
    let p = digest_values(&[(SHA256, &d256), (SHA384, &d384)]);
    h.ok(cc::PCR_EXTEND, &[16], &[AuthCmd::pw(b"")], &p);
    assert_eq!(pcr_update_counter(&mut h), before + 3);
}

#[test]
fn creation_data_selects_only_allocated_banks() {
    let mut h = Harness::new();
    let t = ecc_template(SHA256, STORAGE, &AES128CFB, &NULL);
    let mut pcrs = 2u32.to_be_bytes().to_vec();
    pcrs.extend(SHA256.to_be_bytes());
    pcrs.extend([3, 1, 0, 0]);
    pcrs.extend(SHA512.to_be_bytes()); // implemented, not allocated
    pcrs.extend([3, 1, 0, 0]);
    let p = create_params(b"", &t, &[], &pcrs);
    let r = h.ok(CREATE_PRIMARY, &[RH_OWNER], &[AuthCmd::pw(b"")], &p);
    let (params, _) = r.split_sessions(1);
    let n = u16::from_be_bytes(params[..2].try_into().unwrap()) as usize;
    let creation = &params[2 + n + 2..];
    let mut expect = 2u32.to_be_bytes().to_vec();
    expect.extend(SHA256.to_be_bytes());
    expect.extend([3, 1, 0, 0]);
    expect.extend(SHA512.to_be_bytes());
    expect.extend([3, 0, 0, 0]);
    assert_eq!(&creation[..expect.len()], &expect[..]);
    let pcr0 = h.pcr(SHA256, 0);
    let d = &creation[expect.len()..];
    assert_eq!(&d[2..34], digest(SHA256, &[&pcr0]).as_slice());
}

fn nv_public(index: u32, attrs: u32, size: u16) -> Vec<u8> {
    let mut p = Vec::new();
    tpm2b(&mut p, b"");
    let mut public = index.to_be_bytes().to_vec();
    public.extend(SHA256.to_be_bytes());
    public.extend(attrs.to_be_bytes());
    public.extend([0, 0]);
    public.extend(size.to_be_bytes());
    tpm2b(&mut p, &public);
    p
}

const NV_COUNTER: u32 = 0x0004_0014; // AUTHWRITE | TPM_NT_COUNTER | AUTHREAD

#[test]
fn a_counter_defined_again_does_not_roll_back() {
    let mut h = Harness::new();
    let pw = [AuthCmd::pw(b"")];
    let idx = 0x0150_0000;
    let read = |h: &mut Harness| {
        let r = h.ok(NV_READ, &[idx, idx], &[AuthCmd::pw(b"")], &[0, 8, 0, 0]);
        let (params, _) = r.split_sessions(0);
        u64::from_be_bytes(params[2..10].try_into().unwrap())
    };
    h.ok(
        NV_DEFINE_SPACE,
        &[RH_OWNER],
        &pw,
        &nv_public(idx, NV_COUNTER, 8),
    );
    for _ in 0..3 {
        h.ok(NV_INCREMENT, &[idx, idx], &pw, &[]);
    }
    assert_eq!(read(&mut h), 3);
    h.ok(NV_UNDEFINE_SPACE, &[RH_OWNER, idx], &pw, &[]);
    h.ok(
        NV_DEFINE_SPACE,
        &[RH_OWNER],
        &pw,
        &nv_public(idx, NV_COUNTER, 8),
    );
    h.ok(NV_INCREMENT, &[idx, idx], &pw, &[]);
    assert_eq!(read(&mut h), 4);
    // Another counter starts above every counter undefined so far as well.
    let other = 0x0150_0001;
    h.ok(NV_INCREMENT, &[idx, idx], &pw, &[]);
    h.ok(NV_UNDEFINE_SPACE, &[RH_OWNER, idx], &pw, &[]);
    h.ok(
        NV_DEFINE_SPACE,
        &[RH_OWNER],
        &pw,
        &nv_public(other, NV_COUNTER, 8),
    );
    h.ok(NV_INCREMENT, &[other, other], &pw, &[]);
    let r = h.ok(NV_READ, &[other, other], &pw, &[0, 8, 0, 0]);
    let (params, _) = r.split_sessions(0);
    assert_eq!(u64::from_be_bytes(params[2..10].try_into().unwrap()), 6);
}

#[test]
fn the_platform_may_undefine_an_owner_index_but_not_the_reverse() {
    let mut h = Harness::new();
    let pw = [AuthCmd::pw(b"")];
    let owner_idx = 0x0150_0010;
    let platform_idx = 0x0140_0010;
    h.ok(
        NV_DEFINE_SPACE,
        &[RH_OWNER],
        &pw,
        &nv_public(owner_idx, 0x0006_0006, 8),
    );
    h.ok(
        NV_DEFINE_SPACE,
        &[RH_PLATFORM],
        &pw,
        &nv_public(platform_idx, 0x4006_0006, 8),
    );
    refused(
        &mut h,
        NV_UNDEFINE_SPACE,
        &[RH_OWNER, platform_idx],
        &pw,
        &[],
        0x149,
    );
    h.ok(NV_UNDEFINE_SPACE, &[RH_PLATFORM, owner_idx], &pw, &[]);
    h.ok(NV_UNDEFINE_SPACE, &[RH_PLATFORM, platform_idx], &pw, &[]);
    assert_eq!(handles(&mut h, 0x0100_0000), Vec::<u32>::new());
}

#[test]
fn clear_starts_dictionary_attack_protection_over() {
    let mut h = Harness::new();
    let pw = [AuthCmd::pw(b"")];
    let mut p = 5u32.to_be_bytes().to_vec();
    p.extend(10u32.to_be_bytes());
    p.extend(20u32.to_be_bytes());
    h.ok(DA_PARAMETERS, &[RH_LOCKOUT], &pw, &p);
    // One failure on a DA-protected key, one on lockoutAuth.
    let (key, _) = primary(&mut h, &ecc_template(SHA256, SIGNER, &NULL, &NULL));
    let d = digest(SHA256, &[b"m"]);
    let r = h.send(
        SIGN,
        &[key],
        &[AuthCmd::pw(b"wrong")],
        &sign_params(&d, 0x8024, RH_NULL, &[]),
    );
    assert_ne!(r.rc(), 0);
    let r = h.send(DA_LOCK_RESET, &[RH_LOCKOUT], &[AuthCmd::pw(b"wrong")], &[]);
    assert_ne!(r.rc(), 0);
    assert_eq!(properties(&mut h, 0x20E, 1), vec![(0x20E, 1)]);
    let counter = pcr_update_counter(&mut h);
    h.ok(cc::CLEAR, &[RH_PLATFORM], &pw, &[]);
    assert_eq!(
        properties(&mut h, 0x20E, 4),
        vec![(0x20E, 0), (0x20F, 3), (0x210, 1000), (0x211, 1000)]
    );
    // lockoutAuth is usable again at once.
    h.ok(DA_LOCK_RESET, &[RH_LOCKOUT], &pw, &[]);
    assert_eq!(pcr_update_counter(&mut h), counter + 1);
}

/// newAuth is bounded by the context integrity digest (Part 3 §24.8), SHA-512 here
/// (TPM_PT_CONTEXT_HASH): 64 significant bytes are taken (OVMF sizes a random platformAuth by
/// the longest PCR bank listed), 65 bytes are TPM_RC_SIZE at parameter 1 while unmarshaling,
/// and trailing zeros do not count.
#[test]
fn hierarchy_auth_is_at_most_the_context_integrity_digest() {
    let mut h = Harness::new();
    let mut p = 6u32.to_be_bytes().to_vec();
    p.extend(0x11Au32.to_be_bytes());
    p.extend(1u32.to_be_bytes());
    let r = h.ok(cc::GET_CAPABILITY, &[], &[], &p);
    assert_eq!(
        &r.body()[13..17],
        &0x000Du32.to_be_bytes(),
        "TPM_PT_CONTEXT_HASH"
    );
    let mut p = Vec::new();
    tpm2b(&mut p, &[0x5A; 65]);
    refused(
        &mut h,
        cc::HIERARCHY_CHANGE_AUTH,
        &[RH_OWNER],
        &[AuthCmd::pw(b"")],
        &p,
        at_param(0x095, 1),
    );
    let mut p = Vec::new();
    tpm2b(&mut p, &[0x5A; 64]);
    h.ok(
        cc::HIERARCHY_CHANGE_AUTH,
        &[RH_OWNER],
        &[AuthCmd::pw(b"")],
        &p,
    );
    // Trailing zeros do not count.
    let mut auth = vec![0x5A; 48];
    auth.extend([0; 16]);
    let mut p = Vec::new();
    tpm2b(&mut p, &auth);
    h.ok(
        cc::HIERARCHY_CHANGE_AUTH,
        &[RH_OWNER],
        &[AuthCmd::pw(&[0x5A; 64])],
        &p,
    );
    let t = ecc_template(SHA256, STORAGE, &AES128CFB, &NULL);
    let r = h.send(
        CREATE_PRIMARY,
        &[RH_OWNER],
        &[AuthCmd::pw(&[0x5A; 48])],
        &create_params(b"", &t, &[], &[]),
    );
    assert_eq!(r.rc(), 0);
}

/// TPM2_IncrementalSelfTest: toTest is one parameter, so an algorithm this TPM does not
/// implement is TPM_RC_VALUE at parameter 1 (the reference adds RC_IncrementalSelfTest_toTest,
/// libtpms answers 0x1C4 too) and a list longer than MAX_ALG_LIST_SIZE (64) TPM_RC_SIZE there.
#[test]
fn incremental_self_test_blames_its_only_parameter() {
    let mut h = Harness::new();
    let list = |algs: &[u16]| {
        let mut p = u32::try_from(algs.len()).unwrap().to_be_bytes().to_vec();
        for a in algs {
            p.extend(a.to_be_bytes());
        }
        p
    };
    let r = h.ok(0x142, &[], &[], &list(&[SHA256, 0x0023]));
    assert_eq!(r.body(), 0u32.to_be_bytes(), "nothing left to test");
    h.ok(0x142, &[], &[], &list(&[SHA256; 64]));
    for (algs, rc) in [
        (list(&[0x7FFF]), at_param(0x084, 1)),
        (list(&[SHA256, 0x0010]), at_param(0x084, 1)),
        (list(&[SHA256; 65]), at_param(0x095, 1)),
    ] {
        assert_eq!(h.send(0x142, &[], &[], &algs).rc(), rc);
    }
}
