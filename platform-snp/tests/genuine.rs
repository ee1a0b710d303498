//! The genuine AMD-signed report (tests/data/snp, from go-sev-guest): it verifies with its VCEK,
//! and any one-bit change in the signed range (or in the signature) makes it fail.
#![allow(
    missing_docs,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects
)]

use platform_snp::report::{self, AttestationReport, SIGNED_SIZE, VerifyError};

const REPORT: &[u8] = include_bytes!("data/snp/attestation.bin");
const VCEK_DER: &[u8] = include_bytes!("data/snp/vcek.der");

fn vcek() -> platform_snp::VcekPublicKey {
    host_sim::snp_verify::parse_vcek(VCEK_DER).unwrap().key
}

#[test]
fn genuine_report_verifies() {
    let r = report::verify(REPORT, &vcek()).unwrap();
    assert_eq!(r.version, 2);
    assert_eq!(r.vmpl, 0);
    assert_eq!(r.signature_algo, 1);
    assert_eq!(&r.report_data[..5], &[1, 2, 3, 4, 5]);
    assert_eq!(r.cpuid(), None);
    assert_eq!(r.reported_tcb, 0x4405_0000_0000_0002);
    assert_eq!(r.tcb_parts(r.reported_tcb).snp, 5);
    assert!(!r.reserved_nonzero());
    assert_eq!(
        AttestationReport::parse(REPORT).unwrap().to_bytes()[..],
        REPORT[..]
    );
}

/// Every bit of 0x000..0x29F flipped, one at a time: each must fail (5376 verifications, split
/// over the available cores; the flips that change VERSION / SIGNATURE_ALGO / KEY_INFO fail
/// before the ECDSA check, with their own error).
#[test]
fn every_signed_bit_flip_fails() {
    let key = vcek();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bytes: Vec<usize> = (0..SIGNED_SIZE).collect();
    std::thread::scope(|scope| {
        for chunk in bytes.chunks(SIGNED_SIZE.div_ceil(threads)) {
            scope.spawn(move || {
                let mut buf = REPORT.to_vec();
                for &byte in chunk {
                    for bit in 0..8 {
                        buf[byte] ^= 1 << bit;
                        let r = report::verify(&buf, &key);
                        assert!(
                            r.is_err(),
                            "flip of byte {byte:#x} bit {bit} still verifies"
                        );
                        buf[byte] ^= 1 << bit;
                    }
                }
                assert!(report::verify(&buf, &key).is_ok());
            });
        }
    });
}

#[test]
fn signature_changes_fail() {
    let key = vcek();
    // R and S (little-endian, low 48 bytes of each 72-byte field).
    for off in [0x2A0, 0x2A0 + 47, 0x2E8, 0x2E8 + 47] {
        let mut b = REPORT.to_vec();
        b[off] ^= 1;
        assert!(matches!(
            report::verify(&b, &key),
            Err(VerifyError::SignatureMismatch | VerifyError::SignatureRange)
        ));
    }
    // Padding and reserved bytes of the signature field.
    for off in [0x2A0 + 48, 0x2E8 + 71, 0x330, 0x49F] {
        let mut b = REPORT.to_vec();
        b[off] ^= 1;
        assert_eq!(report::verify(&b, &key), Err(VerifyError::SignaturePadding));
    }
    // R and S swapped, and big-endian instead of little-endian.
    let mut b = REPORT.to_vec();
    let (r, s) = (REPORT[0x2A0..0x2D0].to_vec(), REPORT[0x2E8..0x318].to_vec());
    b[0x2A0..0x2D0].copy_from_slice(&s);
    b[0x2E8..0x318].copy_from_slice(&r);
    assert_eq!(
        report::verify(&b, &key),
        Err(VerifyError::SignatureMismatch)
    );
    let mut b = REPORT.to_vec();
    b[0x2A0..0x2D0].reverse();
    b[0x2E8..0x318].reverse();
    assert!(report::verify(&b, &key).is_err());
    // Another key.
    let other = host_sim::amdsp::AmdSp::new(1).vcek_public_sec1();
    let other = platform_snp::VcekPublicKey::from_sec1(&other).unwrap();
    assert_eq!(
        report::verify(REPORT, &other),
        Err(VerifyError::SignatureMismatch)
    );
    // Truncated / extended input.
    assert_eq!(
        report::verify(&REPORT[..0x49F], &key),
        Err(VerifyError::Size { len: 0x49F })
    );
}

#[test]
fn which_check_failed() {
    let key = vcek();
    let mut b = REPORT.to_vec();
    b[0] = 9;
    assert_eq!(
        report::verify(&b, &key),
        Err(VerifyError::UnsupportedVersion(9))
    );
    let mut b = REPORT.to_vec();
    b[0x34] = 2;
    assert_eq!(
        report::verify(&b, &key),
        Err(VerifyError::UnsupportedSignatureAlgo(2))
    );
    let mut b = REPORT.to_vec();
    b[0x48] = 2; // MASK_CHIP_KEY
    assert_eq!(report::verify(&b, &key), Err(VerifyError::NotSigned));
    let mut b = REPORT.to_vec();
    b[0x2A0..0x2E8].fill(0);
    assert_eq!(report::verify(&b, &key), Err(VerifyError::SignatureRange));
}
