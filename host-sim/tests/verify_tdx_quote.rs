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

/// `--bound-to`: the user TD's v5 quote names the vTPM TD it was bound to (SERVTD_HASH =
/// MRSERVICETD), recomputed from the vTPM TD's own quote; an unbound TD, a TD bound with other
/// attributes and a TD 1.0 body fail the `servtd binding` check.
#[test]
fn cli_checks_the_servtd_binding_against_the_service_td_quote() {
    use host_sim::tdx::{SimQuotingService, SimTdxModule, TdIdentity, VTPM_BINDING};
    use platform_tdx::report::TdReport;
    use platform_tdx::servtd::{SelfBinding, ServtdAttr};

    let exe = env!("CARGO_BIN_EXE_host-sim");
    let dir = std::env::temp_dir().join(format!("tdx-servtd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut m = SimTdxModule::new(3);
    let mut qs = SimQuotingService::new(3);
    qs.version = 5;
    let vt = m.launch(&TdIdentity::named("vtpm-td"));
    let user = TdIdentity::named("user-td");
    let bound = m.launch_bound(&user, vt, VTPM_BINDING).unwrap();
    let unbound = m.launch(&user);
    let strict = SelfBinding {
        attr: ServtdAttr(0),
        ..VTPM_BINDING
    };
    let strictly_bound = m.launch_bound(&user, vt, strict).unwrap();
    // The vTPM TD's RTMR grows after the bindings (ignored by VTPM_BINDING only).
    assert!(m.extend(vt, 0, &[5; 48]));
    let root = dir.join("root.der");
    std::fs::write(&root, qs.root_der()).unwrap();
    let write = |name: &str, td, qs: &SimQuotingService| {
        let r = TdReport::parse(&m.report(td, &[1; 64])).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, qs.quote(&r)).unwrap();
        p.to_str().unwrap().to_string()
    };
    let vq = write("vtpm.dat", vt, &qs);
    let run = |q: &str, extra: &[&str]| {
        let out = Command::new(exe)
            .args(["verify-tdx-quote", q, "--root", root.to_str().unwrap()])
            .args(["--bound-to", &vq])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, text) = run(&write("bound.dat", bound, &qs), &[]);
    assert!(ok, "{text}");
    assert!(text.contains("OK: servtd binding"), "{text}");
    // Explicit type and attributes, the same as the default.
    let (ok, text) = run(
        &write("bound.dat", bound, &qs),
        &["--servtd-type", "0x8000", "--servtd-attr", "0x3c000000000"],
    );
    assert!(ok, "{text}");
    for (name, td, extra) in [
        ("unbound.dat", unbound, &[][..]),
        ("bound.dat", bound, &["--servtd-attr", "0"][..]),
        ("bound.dat", bound, &["--servtd-type", "0"][..]),
        // Bound without ignoring the RTMRs: the vTPM TD's RTMR0 changed since.
        ("strict.dat", strictly_bound, &["--servtd-attr", "0"][..]),
    ] {
        let (ok, text) = run(&write(name, td, &qs), extra);
        assert!(!ok, "{name} {extra:?}: {text}");
        assert!(text.contains("FAILED: servtd binding"), "{text}");
    }
    // A v4 quote (TD 1.0 body) carries no SERVTD_HASH.
    let mut q4 = SimQuotingService::new(3);
    q4.version = 4;
    let (ok, text) = run(&write("v4.dat", bound, &q4), &[]);
    assert!(!ok && text.contains("TD 1.0 body"), "{text}");
}
