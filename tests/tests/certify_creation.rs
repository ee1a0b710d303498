//! TPM2_CertifyCreation (Part 3 §18.3): the creation ticket of Create / CreatePrimary checked
//! and the TPMS_CREATION_INFO signed (the ECDSA P-384 signature verified with the `p384`
//! crate), and every error in its position.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use p384::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha384};
use vtpm_tests::*;

const CREATE_PRIMARY: u32 = 0x131;
const CREATE: u32 = 0x153;
const LOAD: u32 = 0x157;
const CERTIFY_CREATION: u32 = 0x14A;

const SIGNER: u32 = 0x0004_0072;
const STORAGE: u32 = 0x0003_0072;
const ST_CREATION: u16 = 0x8021;
const ST_ATTEST_CREATION: u16 = 0x801A;

/// An ECC P-384 template: ECDSA-SHA384 for a signer, AES-128-CFB for a storage key.
fn ecc_template(attrs: u32) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(0x0023u16.to_be_bytes());
    t.extend(SHA384.to_be_bytes());
    t.extend(attrs.to_be_bytes());
    t.extend([0, 0]);
    if attrs == STORAGE {
        t.extend([0, 6, 0, 0x80, 0, 0x43, 0, 0x10]);
    } else {
        t.extend([0, 0x10, 0, 0x18]);
        t.extend(SHA384.to_be_bytes());
    }
    t.extend([0, 4, 0, 0x10, 0, 0, 0, 0]);
    t
}

fn creation_params(template: &[u8]) -> Vec<u8> {
    let mut p = vec![0, 4, 0, 0, 0, 0];
    tpm2b(&mut p, template);
    p.extend([0, 0]);
    p.extend(0u32.to_be_bytes());
    p
}

fn take2b<'a>(b: &mut &'a [u8]) -> &'a [u8] {
    let n = u16::from_be_bytes(b[..2].try_into().unwrap()) as usize;
    let v = &b[2..2 + n];
    *b = &b[2 + n..];
    v
}

/// What creation returned: (TPMT_PUBLIC, creationHash, TPMT_TK_CREATION bytes).
struct Created {
    public: Vec<u8>,
    hash: Vec<u8>,
    ticket: Vec<u8>,
}

fn parse_creation(mut b: &[u8]) -> Created {
    let public = take2b(&mut b).to_vec();
    take2b(&mut b); // creationData
    let hash = take2b(&mut b).to_vec();
    let n = u16::from_be_bytes(b[6..8].try_into().unwrap()) as usize;
    let ticket = b[..8 + n].to_vec();
    assert_eq!(&ticket[..2], &ST_CREATION.to_be_bytes());
    Created {
        public,
        hash,
        ticket,
    }
}

fn primary(h: &mut Harness, template: &[u8]) -> (u32, Created) {
    let r = h.send(
        CREATE_PRIMARY,
        &[RH_OWNER],
        &[AuthCmd::pw(b"")],
        &creation_params(template),
    );
    assert_eq!(r.rc(), 0, "CreatePrimary {:#x}", r.rc());
    let handle = u32::from_be_bytes(r.body()[..4].try_into().unwrap());
    (handle, parse_creation(r.split_sessions(1).0))
}

/// Create + Load under `parent`: (handle, creation results).
fn child(h: &mut Harness, parent: u32, template: &[u8]) -> (u32, Created) {
    let r = h.send(
        CREATE,
        &[parent],
        &[AuthCmd::pw(b"")],
        &creation_params(template),
    );
    assert_eq!(r.rc(), 0, "Create {:#x}", r.rc());
    let (mut b, _) = r.split_sessions(0);
    let n = u16::from_be_bytes(b[..2].try_into().unwrap()) as usize;
    let private = b[..2 + n].to_vec();
    b = &b[2 + n..];
    let created = parse_creation(b);
    let mut p = private;
    tpm2b(&mut p, &created.public);
    let r = h.send(LOAD, &[parent], &[AuthCmd::pw(b"")], &p);
    assert_eq!(r.rc(), 0, "Load {:#x}", r.rc());
    (
        u32::from_be_bytes(r.body()[..4].try_into().unwrap()),
        created,
    )
}

fn certify_creation(
    h: &mut Harness,
    signer: u32,
    object: u32,
    hash: &[u8],
    scheme: &[u8],
    ticket: &[u8],
) -> Rsp {
    let mut p = Vec::new();
    tpm2b(&mut p, b"qualifying");
    tpm2b(&mut p, hash);
    p.extend(scheme);
    p.extend(ticket);
    h.send(CERTIFY_CREATION, &[signer, object], &[AuthCmd::pw(b"")], &p)
}

const NULL_SCHEME: [u8; 2] = [0, 0x10];

#[test]
fn creation_tickets_certify_and_the_signature_verifies() {
    let mut h = Harness::new();
    let (signer, s) = primary(&mut h, &ecc_template(SIGNER));
    let (parent, p) = primary(&mut h, &ecc_template(STORAGE));
    let (obj, o) = child(&mut h, parent, &ecc_template(SIGNER));
    // The signer's public key, for an independent check.
    let xy = &s.public[s.public.len() - 100..];
    let mut sec1 = vec![4u8];
    sec1.extend(&xy[2..50]);
    sec1.extend(&xy[52..100]);
    let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap();
    let name = |public: &[u8]| {
        let mut n = SHA384.to_be_bytes().to_vec();
        n.extend(Sha384::digest(public));
        n
    };
    for (handle, created) in [(obj, &o), (parent, &p), (signer, &s)] {
        let r = certify_creation(
            &mut h,
            signer,
            handle,
            &created.hash,
            &NULL_SCHEME,
            &created.ticket,
        );
        assert_eq!(r.rc(), 0, "CertifyCreation {:#x}", r.rc());
        let (mut b, _) = r.split_sessions(0);
        let attest = take2b(&mut b).to_vec();
        assert_eq!(&attest[..4], &0xFF54_4347u32.to_be_bytes());
        assert_eq!(&attest[4..6], &ST_ATTEST_CREATION.to_be_bytes());
        // TPMS_CREATION_INFO at the end: objectName ‖ creationHash.
        let mut tail = Vec::new();
        tpm2b(&mut tail, &name(&created.public));
        tpm2b(&mut tail, &created.hash);
        assert!(attest.ends_with(&tail));
        let mut a = &attest[6..];
        take2b(&mut a); // qualifiedSigner
        assert_eq!(take2b(&mut a), b"qualifying");
        // TPMT_SIGNATURE: ECDSA, SHA-384, r, s.
        assert_eq!(&b[..4], &[0, 0x18, 0, 0x0C]);
        let mut sig = &b[4..];
        let (rr, ss) = (take2b(&mut sig).to_vec(), take2b(&mut sig).to_vec());
        let sig = p384::ecdsa::Signature::from_scalars(
            <[u8; 48]>::try_from(&rr[..]).unwrap(),
            <[u8; 48]>::try_from(&ss[..]).unwrap(),
        )
        .unwrap();
        vk.verify_prehash(&Sha384::digest(&attest), &sig).unwrap();
    }
    // Unsigned with TPM_RH_NULL.
    let r = certify_creation(&mut h, RH_NULL, obj, &o.hash, &NULL_SCHEME, &o.ticket);
    assert_eq!(r.rc(), 0);
    let (mut b, _) = r.split_sessions(0);
    take2b(&mut b);
    assert_eq!(b, [0, 0x10]);
}

#[test]
fn certify_creation_errors_in_their_positions() {
    let mut h = Harness::new();
    let (signer, _) = primary(&mut h, &ecc_template(SIGNER));
    let (parent, p) = primary(&mut h, &ecc_template(STORAGE));
    let (obj, o) = child(&mut h, parent, &ecc_template(SIGNER));
    let (_, o2) = child(&mut h, parent, &ecc_template(SIGNER));
    // Another creationHash, another object's ticket and hash, a ticket of another hierarchy.
    let mut hash = o.hash.clone();
    hash[0] ^= 1;
    let ticket_rc = 0x0A0 + 0x40 + 0x400;
    assert_eq!(
        certify_creation(&mut h, signer, obj, &hash, &NULL_SCHEME, &o.ticket).rc(),
        ticket_rc
    );
    assert_eq!(
        certify_creation(&mut h, signer, obj, &o2.hash, &NULL_SCHEME, &o2.ticket).rc(),
        ticket_rc
    );
    assert_eq!(
        certify_creation(&mut h, signer, parent, &o.hash, &NULL_SCHEME, &o.ticket).rc(),
        ticket_rc
    );
    let mut t = o.ticket.clone();
    t[2..6].copy_from_slice(&0x4000_000Bu32.to_be_bytes());
    assert_eq!(
        certify_creation(&mut h, signer, obj, &o.hash, &NULL_SCHEME, &t).rc(),
        ticket_rc
    );
    let mut t = o.ticket.clone();
    t[9] ^= 1;
    assert_eq!(
        certify_creation(&mut h, RH_NULL, obj, &o.hash, &NULL_SCHEME, &t).rc(),
        ticket_rc
    );
    // Unmarshaling: another tag (TPM_RC_TAG), a hierarchy that is none (TPM_RC_VALUE).
    let mut t = o.ticket.clone();
    t[..2].copy_from_slice(&0x8022u16.to_be_bytes());
    assert_eq!(
        certify_creation(&mut h, signer, obj, &o.hash, &NULL_SCHEME, &t).rc(),
        0x097 + 0x40 + 0x400
    );
    let mut t = o.ticket.clone();
    t[2..6].copy_from_slice(&0x4000_0002u32.to_be_bytes());
    assert_eq!(
        certify_creation(&mut h, signer, obj, &o.hash, &NULL_SCHEME, &t).rc(),
        0x084 + 0x40 + 0x400
    );
    // The signer: not a signing key (KEY at handle 1), another scheme (SCHEME at inScheme);
    // both before the ticket.
    assert_eq!(
        certify_creation(&mut h, parent, obj, &hash, &NULL_SCHEME, &o.ticket).rc(),
        0x09C + 0x100
    );
    let ecdsa256 = [0, 0x18, 0, 0x0B];
    assert_eq!(
        certify_creation(&mut h, signer, obj, &hash, &ecdsa256, &o.ticket).rc(),
        0x092 + 0x40 + 0x300
    );
    assert_eq!(
        certify_creation(
            &mut h,
            signer,
            parent,
            &p.hash,
            &[0, 0x18, 0, 0x0C],
            &p.ticket
        )
        .rc(),
        0
    );
    // An object handle that names nothing: TPM_RC_REFERENCE_H1 (the second handle).
    assert_eq!(
        certify_creation(
            &mut h,
            signer,
            0x8000_000F,
            &o.hash,
            &NULL_SCHEME,
            &o.ticket
        )
        .rc(),
        0x911
    );
}
