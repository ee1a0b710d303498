//! `verify-tdx-quote` against genuine Intel quotes (platform-tdx/tests/data/tdx, from
//! go-tdx-guest): v4 and v5 verify up to the pinned Intel SGX Root CA; a change in the signed
//! range, the QE report or the chain fails, naming the check.
#![allow(missing_docs, clippy::indexing_slicing, clippy::unwrap_used)]

use std::process::Command;

use host_sim::tdx_verify::{Check, INTEL_SGX_ROOT_CA_KEY, verify_quote};
use platform_tdx::report::{BodyKind, Quote};

const V4: &[u8] = include_bytes!("../../platform-tdx/tests/data/tdx/quote_v4_spr_e4.dat");
const V5: &[u8] = include_bytes!("../../platform-tdx/tests/data/tdx/quote_v5_td15.dat");
const COS: &[u8] = include_bytes!("../../platform-tdx/tests/data/tdx/quote_v4_cos113.dat");

/// 2026-05-29: inside every certificate's validity period.
const WHEN: u64 = 1_780_000_000;

#[test]
fn genuine_quotes_verify() {
    for q in [V4, V5, COS] {
        let v = verify_quote(q, &INTEL_SGX_ROOT_CA_KEY, Some(WHEN)).unwrap();
        assert_eq!(v.chain.len(), 3);
        assert!(v.chain[2].contains("Intel SGX Root CA"));
    }
    assert_eq!(
        verify_quote(V5, &INTEL_SGX_ROOT_CA_KEY, None)
            .unwrap()
            .quote
            .body_kind,
        BodyKind::Td15
    );
    // Outside the validity period.
    let e = verify_quote(V4, &INTEL_SGX_ROOT_CA_KEY, Some(0)).unwrap_err();
    assert_eq!(e.check, Check::Validity);
}

#[test]
fn another_root_is_refused() {
    let mut other = INTEL_SGX_ROOT_CA_KEY;
    other[64] ^= 1;
    assert_eq!(
        verify_quote(V4, &other, None).unwrap_err().check,
        Check::RootPinned
    );
}

fn flip_fails(quote: &[u8], range: core::ops::Range<usize>, step: usize) {
    for i in range.step_by(step) {
        let mut q = quote.to_vec();
        q[i] ^= 1 << (i % 8);
        assert!(
            verify_quote(&q, &INTEL_SGX_ROOT_CA_KEY, None).is_err(),
            "byte {i} flipped still verifies"
        );
    }
}

#[test]
fn every_signed_byte_changed_fails() {
    let q = Quote::parse(V4).unwrap();
    flip_fails(V4, 0..q.signed.len(), 1);
    let q = Quote::parse(V5).unwrap();
    flip_fails(V5, 0..q.signed.len(), 1);
}

#[test]
fn qe_report_signature_and_chain_changes_fail() {
    let b: &[u8] = V4;
    let q = Quote::parse(b).unwrap();
    let off = |s: &[u8]| s.as_ptr() as usize - b.as_ptr() as usize;
    let qe = off(q.qe_report_bytes);
    // Quote signature and attestation key, the QE report and its signature.
    flip_fails(V4, 636..700 + 64, 1);
    flip_fails(V4, qe..qe + 384 + 64, 1);
    let mut one = V4.to_vec();
    one[qe + 100] ^= 0x80;
    assert_eq!(
        verify_quote(&one, &INTEL_SGX_ROOT_CA_KEY, None)
            .unwrap_err()
            .check,
        Check::QeReportSignature
    );
    let mut one = V4.to_vec();
    one[qe + 384 + 64 + 2] ^= 1; // QE auth data
    assert_eq!(
        verify_quote(&one, &INTEL_SGX_ROOT_CA_KEY, None)
            .unwrap_err()
            .check,
        Check::QeReportData
    );
    // The PEM chain, every 13th byte.
    let chain = off(q.cert_data);
    flip_fails(V4, chain..chain + q.cert_data.len(), 13);
}

#[test]
fn cli_prints_fields_and_names_the_failed_check() {
    let exe = env!("CARGO_BIN_EXE_host-sim");
    let dir = std::env::temp_dir().join(format!("tdx-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("v5.dat");
    std::fs::write(&good, V5).unwrap();
    let out = Command::new(exe)
        .args(["verify-tdx-quote", good.to_str().unwrap(), "--ignore-time"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("MRTD:") && text.contains("RTMR3:") && text.contains("SERVTD_HASH:"));
    assert!(text.contains("out of scope"));
    let mut bad = V5.to_vec();
    bad[300] ^= 4;
    let badp = dir.join("bad.dat");
    std::fs::write(&badp, bad).unwrap();
    let out = Command::new(exe)
        .args(["verify-tdx-quote", badp.to_str().unwrap(), "--ignore-time"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAILED: quote signature"));
}
