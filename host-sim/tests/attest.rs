//! `host-sim attest` end to end, judged by real clients: the honest run is TRUSTED and its
//! `--out` artifacts pass `tpm2_eventlog` (its replay equals the quoted PCR values),
//! `tpm2_checkquote` (AK signature and nonce), `openssl verify` (EK certificate under the CA
//! certificate) and `host-sim verify-snp-report`; every `--tamper` mode exits non-zero and names
//! the check it fails. Packages: `tpm2-tools`, `openssl` (skipped with a message when absent,
//! unless `CI` is set).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn host_sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_host-sim"))
}

fn have(tool: &str) -> bool {
    let ok = Command::new(tool).arg("--version").output().is_ok();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing (apt-get install tpm2-tools openssl)"
        );
        eprintln!("skipped: {tool} is not installed");
    }
    ok
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run_in(dir: &Path, prog: &str, args: &[&str]) -> Output {
    Command::new(prog)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vtpm-attest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn honest_run_is_trusted_and_third_party_tools_agree() {
    let dir = out_dir("honest");
    let o = host_sim()
        .args(["attest", "--seed", "5", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("verdict  TRUSTED (16/16 checks)"), "{t}");
    for name in [
        "report.bin",
        "vcek.der",
        "ask.der",
        "ark.der",
        "eventlog.bin",
        "quote.msg",
        "quote.sig",
        "quote.pcrs",
        "ak.pem",
        "ek.pem",
        "ek-cert.der",
        "ca-cert.der",
        "nonce.bin",
        "manifest.bin",
    ] {
        assert!(
            std::fs::metadata(dir.join(name)).unwrap().len() > 0,
            "{name}"
        );
    }
    // The JSON form says the same.
    let o = host_sim()
        .args(["attest", "--seed", "5", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["appraisal"]["verdict"], true);
    assert_eq!(v["boot"]["ek_handle"], "0x81010016");

    let o = host_sim()
        .arg("verify-snp-report")
        .arg(dir.join("report.bin"))
        .arg(dir.join("vcek.der"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // AMD's chain: the simulated root is refused unless trusted explicitly.
    let chain = dir.join("ask_ark.der");
    let mut bundle = std::fs::read(dir.join("ask.der")).unwrap();
    bundle.extend(std::fs::read(dir.join("ark.der")).unwrap());
    std::fs::write(&chain, bundle).unwrap();
    let verify_chain = |trust: bool| {
        let mut c = host_sim();
        c.arg("verify-snp-report")
            .arg(dir.join("report.bin"))
            .arg(dir.join("vcek.der"))
            .arg("--chain")
            .arg(&chain);
        if trust {
            c.arg("--trust-simulated-root");
        }
        c.output().unwrap()
    };
    let o = verify_chain(false);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("untrusted root"), "{}", text(&o));
    let o = verify_chain(true);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("simulated ARK-Milan (pinned) → SEV-Milan → SEV-VCEK: OK"),
        "{}",
        text(&o)
    );

    if have("openssl") {
        // openssl walks the simulated AMD chain too (RSASSA-PSS / SHA-384).
        for n in ["ark", "ask", "vcek"] {
            let o = run_in(
                &dir,
                "openssl",
                &[
                    "x509",
                    "-inform",
                    "DER",
                    "-in",
                    &format!("{n}.der"),
                    "-out",
                    &format!("{n}.pem"),
                ],
            );
            assert!(o.status.success(), "{}", text(&o));
        }
        let o = run_in(
            &dir,
            "openssl",
            &[
                "verify",
                "-CAfile",
                "ark.pem",
                "-untrusted",
                "ask.pem",
                "vcek.pem",
            ],
        );
        assert!(text(&o).contains("vcek.pem: OK"), "{}", text(&o));
        for n in ["ca-cert", "ek-cert"] {
            let o = run_in(
                &dir,
                "openssl",
                &[
                    "x509",
                    "-inform",
                    "DER",
                    "-in",
                    &format!("{n}.der"),
                    "-out",
                    &format!("{n}.pem"),
                ],
            );
            assert!(o.status.success(), "{}", text(&o));
        }
        let o = run_in(
            &dir,
            "openssl",
            &[
                "verify",
                "-partial_chain",
                "-CAfile",
                "ca-cert.pem",
                "ek-cert.pem",
            ],
        );
        assert!(
            o.status.success() && text(&o).contains("ek-cert.pem: OK"),
            "{}",
            text(&o)
        );
        // The EK certificate's key is ek.pem.
        let cert_key = run_in(
            &dir,
            "openssl",
            &["x509", "-in", "ek-cert.pem", "-noout", "-pubkey"],
        );
        let ek = std::fs::read_to_string(dir.join("ek.pem")).unwrap();
        assert_eq!(String::from_utf8_lossy(&cert_key.stdout), ek);
    }

    if have("tpm2_checkquote") {
        let nonce: String = std::fs::read(dir.join("nonce.bin"))
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let args = [
            "-u",
            "ak.pem",
            "-m",
            "quote.msg",
            "-s",
            "quote.sig",
            "-g",
            "sha256",
            "-q",
        ];
        let o = run_in(
            &dir,
            "tpm2_checkquote",
            &[&args[..], &[nonce.as_str()]].concat(),
        );
        assert!(o.status.success(), "{}", text(&o));
        // Another nonce: refused.
        let o = run_in(
            &dir,
            "tpm2_checkquote",
            &[&args[..], &["00112233"]].concat(),
        );
        assert!(!o.status.success());

        // tpm2_eventlog parses the log and its SHA-256 replay is the quoted PCR values.
        let o = run_in(&dir, "tpm2_eventlog", &["eventlog.bin"]);
        let t = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(o.status.success(), "{}", text(&o));
        assert!(t.contains("EV_EFI_BOOT_SERVICES_APPLICATION"), "{t}");
        let pcrs = std::fs::read(dir.join("quote.pcrs")).unwrap();
        let sha256 = t.split("sha256:").last().unwrap();
        for i in 0..10 {
            let want: String = pcrs[i * 32..i * 32 + 32]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert!(
                sha256.contains(&format!("{i:<3}: 0x{want}")),
                "PCR {i} {want} not in\n{sha256}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_tamper_mode_fails_its_check() {
    for (mode, check) in [
        ("event-log", "e.replay-matches-quote"),
        ("kernel", "e.reference-policy"),
        ("launch", "a.launch-measurement"),
        ("report", "a.report-signature"),
        ("nonce", "a.nonce-binding"),
        ("ek", "b.ek-matches-manifest"),
        ("ek-cert", "b.ek-certificate"),
        ("ak", "c.activate-credential"),
        ("root", "a.amd-chain"),
    ] {
        let o = host_sim()
            .args(["attest", "--seed", "6", "--tamper", mode])
            .output()
            .unwrap();
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{mode}: {t}");
        assert!(t.contains("NOT TRUSTED"), "{mode}: {t}");
        assert!(t.contains(&format!("failed   {check}:")), "{mode}: {t}");
    }
}

#[test]
fn a_policy_file_is_read_and_a_wrong_one_refuses() {
    let dir = out_dir("policy");
    let o = host_sim()
        .args(["attest", "--seed", "7", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success());
    let p = dir.join("policy.json");
    let o = host_sim()
        .args(["attest", "--seed", "7", "--policy"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // The policy of another machine: another launch measurement.
    let o = host_sim()
        .args(["attest", "--seed", "8", "--policy"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        text(&o).contains("failed   a.launch-measurement"),
        "{}",
        text(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
