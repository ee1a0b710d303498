//! A self-issued VCEK certificate for the simulated AMD-SP, shaped like AMD's (AMD 57230
//! "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface Specification" §3):
//! subject CN "SEV-VCEK", a secp384r1 key, and the AMD extensions 1.3.6.1.4.1.3704.1.3.x (TCB
//! SPLs as INTEGERs) and .1.4 (hwID = CHIP_ID). It is self-signed with ECDSA P-384 / SHA-384
//! (AMD's are signed by the ASK with RSASSA-PSS): relying parties must pin the key, not the chain.
//!
//! A minimal DER writer is enough for this fixed structure.

// DER lengths below 64 KiB: the casts of `len` cannot truncate.
#![allow(clippy::cast_possible_truncation)]

use p384::ecdsa::signature::hazmat::PrehashSigner;
use p384::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha384};

use crate::amdsp::AmdSpConfig;

/// OID 1.2.840.10045.4.3.3 ecdsa-with-SHA384.
const OID_ECDSA_SHA384: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03];
/// OID 1.2.840.10045.2.1 id-ecPublicKey.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
/// OID 1.3.132.0.34 secp384r1.
const OID_SECP384R1: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
/// OID 2.5.4.3 commonName.
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
/// OID 1.3.6.1.4.1.3704.1 (AMD SEV), without the last arcs.
const OID_AMD_SEV: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0x9C, 0x78, 0x01];

fn len(out: &mut Vec<u8>, n: usize) {
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    len(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A DER INTEGER from big-endian magnitude bytes (non-negative).
fn integer(be: &[u8]) -> Vec<u8> {
    let mut v: &[u8] = be;
    while v.len() > 1 && v[0] == 0 {
        v = &v[1..];
    }
    let mut body = Vec::new();
    if v.first().is_some_and(|&b| b & 0x80 != 0) {
        body.push(0);
    }
    body.extend_from_slice(v);
    tlv(0x02, &body)
}

/// OID 2.5.4.10 organizationName.
const OID_O: &[u8] = &[0x55, 0x04, 0x0A];

/// `O=host-sim simulated AMD-SP, CN=SEV-VCEK`: both issuer and subject (self-issued).
fn name() -> Vec<u8> {
    let rdn = |oid: &[u8], v: &str| tlv(0x31, &seq(&[tlv(0x06, oid), tlv(0x0C, v.as_bytes())]));
    seq(&[
        rdn(OID_O, "host-sim simulated AMD-SP"),
        rdn(OID_CN, "SEV-VCEK"),
    ])
}

fn extension(oid_suffix: &[u8], value: &[u8]) -> Vec<u8> {
    let oid = [OID_AMD_SEV, oid_suffix].concat();
    seq(&[tlv(0x06, &oid), tlv(0x04, value)])
}

/// The DER of a self-issued VCEK certificate for `key` and the platform in `config`.
pub fn self_issued_vcek(key: &SigningKey, config: &AmdSpConfig) -> Vec<u8> {
    let alg = seq(&[tlv(0x06, OID_ECDSA_SHA384)]);
    let point = crate::amdsp::sec1_point(key.verifying_key());
    let spki = seq(&[
        seq(&[tlv(0x06, OID_EC_PUBLIC_KEY), tlv(0x06, OID_SECP384R1)]),
        tlv(0x03, &[&[0u8][..], &point].concat()),
    ]);
    let tcb = config.tcb.to_le_bytes();
    // Milan / Genoa SPL positions: [0] boot loader, [1] TEE, [6] SNP, [7] microcode.
    let spl = |b: u8| integer(&[b]);
    let extensions = seq(&[
        extension(&[0x03, 0x01], &spl(tcb[0])),
        extension(&[0x03, 0x02], &spl(tcb[1])),
        extension(&[0x03, 0x03], &spl(tcb[6])),
        extension(&[0x03, 0x08], &spl(tcb[7])),
        extension(&[0x04], &config.chip_id),
    ]);
    let tbs = seq(&[
        tlv(0xA0, &integer(&[2])),
        integer(&[1]),
        alg.clone(),
        name(),
        seq(&[tlv(0x17, b"250101000000Z"), tlv(0x18, b"99991231235959Z")]),
        name(),
        spki,
        tlv(0xA3, &extensions),
    ]);
    let digest = Sha384::digest(&tbs);
    let sig: Option<Signature> = key.sign_prehash(&digest).ok();
    let sig_der = match sig {
        Some(s) => {
            let (r, s) = s.split_bytes();
            seq(&[integer(&r), integer(&s)])
        }
        None => Vec::new(),
    };
    seq(&[tbs, alg, tlv(0x03, &[&[0u8][..], &sig_der].concat())])
}
