//! `host-sim verify-snp-report` as a user runs it: the genuine AMD-signed report with its VCEK
//! certificate (DER, PEM), with the bare public key, a one-bit change, and a report and
//! self-issued certificate from the simulated AMD-SP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use host_sim::amdsp::SimAmdSp;
use host_sim::snp::snp_platform;
use platform_snp::report::REPORT_SIZE;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../platform-snp/tests/data/snp")
        .join(name)
}

fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("host-sim-snp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Run the command: (exit code, stdout, stderr).
fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_host-sim"))
        .arg("verify-snp-report")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn pem(label: &str, der: &[u8]) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in der.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    let lines: Vec<&str> = s
        .as_bytes()
        .chunks(64)
        .map(|l| core::str::from_utf8(l).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[test]
fn genuine_report_with_der_and_pem_certificate() {
    let (code, out, err) = run(&[&data("attestation.bin"), &data("vcek.der")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("version:            2"), "{out}");
    assert!(out.contains("vmpl:               0"));
    assert!(out.contains("report_data:        0102030405000000"));
    assert!(out.contains("(bootloader 2, tee 0, snp 5, microcode 68)"));
    assert!(out.contains("matches chip_id"));
    assert!(out.contains("matches reported_tcb"));
    assert!(out.contains("CN=SEV-VCEK"));
    assert!(out.contains("signature:          OK"));

    let der = std::fs::read(data("vcek.der")).unwrap();
    let p = tmp("vcek.pem", pem("CERTIFICATE", &der).as_bytes());
    let (code, out, _) = run(&[&data("attestation.bin"), &p]);
    assert_eq!(code, 0, "{out}");
    // The bare public key: the SEC1 point from the certificate's SPKI.
    let point = &der[392..489];
    assert_eq!(point[0], 4);
    let p = tmp("vcek.point", point);
    let (code, out, _) = run(&[&data("attestation.bin"), &p]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("vcek:               raw point"));
    let p = tmp("vcek.xy", &point[1..]);
    assert_eq!(run(&[&data("attestation.bin"), &p]).0, 0);
}

#[test]
fn one_bit_change_fails() {
    let mut report = std::fs::read(data("attestation.bin")).unwrap();
    report[0x90] ^= 0x01; // MEASUREMENT
    let p = tmp("flipped.bin", &report);
    let (code, out, _) = run(&[&p, &data("vcek.der")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("signature:          FAILED: signature does not verify"));
}

#[test]
fn unreadable_inputs() {
    let short = tmp("short.bin", &[0u8; 100]);
    let (code, _, err) = run(&[&short, &data("vcek.der")]);
    assert_eq!(code, 2);
    assert!(err.contains("1184"), "{err}");
    let junk = tmp("junk.der", b"not a key");
    let (code, _, err) = run(&[&data("attestation.bin"), &junk]);
    assert_eq!(code, 2);
    assert!(err.contains("VCEK"), "{err}");
    let (code, _, _) = run(&[&data("attestation.bin")]);
    assert_eq!(code, 2);
    let missing = Path::new("/nonexistent/report.bin");
    assert_eq!(run(&[missing, &data("vcek.der")]).0, 2);
}

#[test]
fn simulated_report_with_its_vcek_certificate() {
    let sp = SimAmdSp::new(5);
    let mut platform = snp_platform(&sp, 5);
    let mut report = [0u8; REPORT_SIZE];
    platform
        .attestation_report(&[0xEE; 64], &mut report, None)
        .unwrap();
    let cert = sp.lock().vcek_certificate().unwrap();
    let r = tmp("sim.bin", &report);
    let c = tmp("sim-vcek.der", &cert);
    let (code, out, err) = run(&[&r, &c]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("version:            3"));
    assert!(out.contains("cpuid:              family 0x19"));
    assert!(out.contains("matches chip_id"));
    assert!(out.contains("matches reported_tcb"));
    assert!(out.contains("signature:          OK"));
    // Against the genuine AMD VCEK it must fail.
    let (code, out, _) = run(&[&r, &data("vcek.der")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("DIFFERS from chip_id"));
}

#[test]
fn genuine_chain_up_to_the_pinned_milan_ark() {
    let report = data("attestation.bin");
    let vcek = data("vcek.der");
    let chain = data("ask_ark_milan.pem");
    let (code, out, err) = run(&[
        report.as_os_str(),
        vcek.as_os_str(),
        "--chain".as_ref(),
        chain.as_os_str(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("chain:              ARK-Milan (pinned) → SEV-Milan → SEV-VCEK: OK"),
        "{out}"
    );
    assert!(out.contains("signature:          OK"));
    // Genoa's chain is genuine but did not issue this VCEK.
    let genoa = data("ask_ark_genoa.pem");
    let (code, out, _) = run(&[
        report.as_os_str(),
        vcek.as_os_str(),
        "--chain".as_ref(),
        genoa.as_os_str(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("chain:              FAILED: VCEK certificate"),
        "{out}"
    );
}

#[test]
fn a_chain_ending_in_another_root_is_refused() {
    use host_sim::amd_chain::sim;
    // The simulated chain: a genuine shape, not a pinned AMD root.
    let sp = SimAmdSp::new(5);
    let mut platform = snp_platform(&sp, 5);
    let mut report = [0u8; REPORT_SIZE];
    platform
        .attestation_report(&[0xEE; 64], &mut report, None)
        .unwrap();
    let cert = sp.lock().vcek_certificate().unwrap();
    let r = tmp("chain-sim.bin", &report);
    let c = tmp("chain-sim-vcek.der", &cert);
    let chain = tmp(
        "chain-sim-ask-ark.der",
        &[sim::ASK_DER, sim::ARK_DER].concat(),
    );
    let (code, out, _) = run(&[
        r.as_os_str(),
        c.as_os_str(),
        "--chain".as_ref(),
        chain.as_os_str(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED: untrusted root"), "{out}");
    assert!(out.contains("signature:          OK"), "{out}");
    let (code, out, _) = run(&[
        r.as_os_str(),
        c.as_os_str(),
        "--chain".as_ref(),
        chain.as_os_str(),
        "--trust-simulated-root".as_ref(),
    ]);
    assert_eq!(code, 0, "{out}");
    // The genuine VCEK with the genuine ASK under the simulated ARK: refused.
    let mixed = tmp(
        "chain-mixed.der",
        &[
            host_sim::amd_chain::split_ask_ark(&std::fs::read(data("ask_ark_milan.pem")).unwrap())
                .unwrap()
                .0,
            sim::ARK_DER.to_vec(),
        ]
        .concat(),
    );
    let (code, out, _) = run(&[
        data("attestation.bin").as_os_str(),
        data("vcek.der").as_os_str(),
        "--chain".as_ref(),
        mixed.as_os_str(),
        "--trust-simulated-root".as_ref(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("chain:              FAILED: ASK certificate"),
        "{out}"
    );
}
