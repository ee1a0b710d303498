//! `host-sim attest` end to end, judged by real clients: the honest run is TRUSTED and its
//! `--out` artifacts pass `tpm2_eventlog` (its replay equals the quoted PCR values),
//! `tpm2_checkquote` (AK signature and nonce), `openssl verify` (EK certificate under the CA
//! certificate) and `host-sim verify-snp-report`; every `--tamper` mode exits non-zero and names
//! the check it fails. With `--ek rsa2048` (COCONUT-SVSM's L-1 RSA EK) and `--ek ecc256` the same
//! holds, and `tpm2_createek -G rsa` against the served vTPM regenerates manifest.bin. Packages:
//! `tpm2-tools`, `openssl` (skipped with a message when absent, unless `CI` is set).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The SHA-256 values of a tpm2-tools "serialized" PCR file (TPML_PCR_SELECTION of 132 bytes,
/// u32 list count, TPML_DIGESTs of 532 bytes: u32 count, 8 × (u16 size, 64 bytes)).
fn pcr_file_values(f: &[u8]) -> Vec<Vec<u8>> {
    let u32_at = |o: usize| u32::from_le_bytes(f[o..o + 4].try_into().unwrap()) as usize;
    let mut v = Vec::new();
    for list in 0..u32_at(132) {
        let at = 136 + list * 532;
        for d in 0..u32_at(at) {
            let o = at + 4 + d * 66;
            let n = u16::from_le_bytes([f[o], f[o + 1]]) as usize;
            v.push(f[o + 2..o + 2 + n].to_vec());
        }
    }
    v
}

/// `PCR : 0xHEX` lines of a tpm2-tools listing (the part after `sha256:`), lower-case.
fn listed_pcrs(text: &str) -> Vec<(u32, String)> {
    let sha256 = text.split("sha256:").nth(1).unwrap_or_default();
    sha256
        .lines()
        .filter_map(|l| {
            let (i, v) = l.split_once(": 0x")?;
            Some((i.trim().parse().ok()?, v.trim().to_lowercase()))
        })
        .take_while(|(i, _)| *i < 24)
        .collect()
}

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
        let pcrs = pcr_file_values(&std::fs::read(dir.join("quote.pcrs")).unwrap());
        let sha256 = t.split("sha256:").last().unwrap();
        for (i, value) in pcrs.iter().enumerate() {
            let want = hex(value);
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

/// `host-sim attest ARGS --serve 0` started: the child, its command port and the report it
/// printed before serving.
fn serve(args: &[&str], dir: &Path) -> (std::process::Child, u16, String) {
    let mut child = host_sim()
        .arg("attest")
        .args(args)
        .arg("--out")
        .arg(dir)
        .args(["--serve", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut port = None;
    let mut report = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        report += &line;
        report.push('\n');
        if let Some(p) = line.split("port=").nth(1) {
            port = p.trim().parse::<u16>().ok();
            break;
        }
    }
    let port = port.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("no serving line in\n{report}")
    });
    (child, port, report)
}

/// TPM_STOP on the platform port ends the server.
fn stop(mut child: std::process::Child, port: u16) {
    let mut platform = std::net::TcpStream::connect(("127.0.0.1", port + 1)).unwrap();
    platform.write_all(&21u32.to_be_bytes()).unwrap();
    drop(platform);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// `attest --out DIR --serve PORT`, then tpm2-tools against the served, attested vTPM: the EK
/// `tpm2_createek -G ecc384` regenerates is manifest.bin byte for byte, `tpm2_pcrread` equals
/// `tpm2_eventlog`'s replay of eventlog.bin, `tpm2_checkquote -f quote.pcrs` accepts the quote
/// (and refuses a changed PCR file), openssl verifies the EK certificate under the CA's.
#[test]
fn served_vtpm_agrees_with_the_artifacts() {
    if !have("tpm2_createek") || !have("openssl") {
        return;
    }
    let dir = out_dir("serve");
    let (child, port, report) = serve(&["--seed", "9"], &dir);
    assert!(report.contains("verdict  TRUSTED"), "{report}");
    let tcti = format!("mssim:host=127.0.0.1,port={port}");
    let tool = |prog: &str, args: &[&str]| {
        Command::new(prog)
            .args(args)
            .env("TPM2TOOLS_TCTI", &tcti)
            .current_dir(&dir)
            .output()
            .unwrap()
    };

    // The EK: the standard H-3 template regenerates the manifest's TPMT_PUBLIC.
    let o = tool(
        "tpm2_createek",
        &["-G", "ecc384", "-c", "ek.ctx", "-u", "ek.pub"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let ek_pub = std::fs::read(dir.join("ek.pub")).unwrap();
    let manifest = std::fs::read(dir.join("manifest.bin")).unwrap();
    assert_eq!(
        &ek_pub[2..],
        &manifest[..],
        "tpm2_createek's TPM2B_PUBLIC vs manifest.bin"
    );

    // The PCRs: what the TPM holds is what the event log replays to.
    let o = tool("tpm2_pcrread", &["sha256:0,1,2,3,4,5,6,7,8,9"]);
    assert!(o.status.success(), "{}", text(&o));
    let read = listed_pcrs(&String::from_utf8_lossy(&o.stdout));
    let o = tool("tpm2_eventlog", &["eventlog.bin"]);
    assert!(o.status.success(), "{}", text(&o));
    let replayed = listed_pcrs(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(read.len(), 10, "{read:?}");
    for (i, v) in &read {
        assert!(
            replayed.contains(&(*i, v.clone())),
            "PCR {i} = {v} is not the replayed {replayed:?}"
        );
    }

    // The quote with its PCR file.
    let nonce = hex(&std::fs::read(dir.join("nonce.bin")).unwrap());
    let check = |pcrs: &str| {
        tool(
            "tpm2_checkquote",
            &[
                "-u",
                "ak.pem",
                "-m",
                "quote.msg",
                "-s",
                "quote.sig",
                "-g",
                "sha256",
                "-q",
                &nonce,
                "-f",
                pcrs,
            ],
        )
    };
    let o = check("quote.pcrs");
    assert!(o.status.success(), "{}", text(&o));
    let mut forged = std::fs::read(dir.join("quote.pcrs")).unwrap();
    forged[136 + 4 + 4 * 66 + 2] ^= 1; // PCR 4's value
    std::fs::write(dir.join("forged.pcrs"), forged).unwrap();
    assert!(!check("forged.pcrs").status.success());

    // The EK certificate under the CA certificate, with the TCG fields.
    for n in ["ca-cert", "ek-cert"] {
        let o = tool(
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
    let o = tool(
        "openssl",
        &[
            "verify",
            "-partial_chain",
            "-CAfile",
            "ca-cert.pem",
            "ek-cert.pem",
        ],
    );
    assert!(text(&o).contains("ek-cert.pem: OK"), "{}", text(&o));
    let o = tool(
        "openssl",
        &["x509", "-in", "ek-cert.pem", "-noout", "-text"],
    );
    let t = text(&o);
    assert!(
        t.contains("2.23.133.8.1") && t.contains("Key Agreement"),
        "{t}"
    );

    stop(child, port);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `attest --ek rsa2048` (the L-1 RSA-2048 EK at 0x81010001, its certificate at NV 0x01C00002)
/// and `--ek ecc256` (L-2, transient, certificate at 0x01C0000A): TRUSTED, 16/16 checks, with
/// a 314- or 122-byte manifest; the EK certificate's key (as openssl prints it) is ek.pem.
#[test]
fn rsa2048_and_ecc256_runs_are_trusted() {
    for (ek, manifest_len, handle, index, key_line) in [
        (
            "rsa2048",
            314,
            "0x81010001",
            "0x01c00002",
            "ok   b.ek-matches-manifest    EK RSA-2048 n = ",
        ),
        (
            "ecc256",
            122,
            "0x800000",
            "0x01c0000a",
            "ok   b.ek-matches-manifest    EK P-256 x = ",
        ),
    ] {
        let dir = out_dir(&format!("ek-{ek}"));
        let o = host_sim()
            .args(["attest", "--seed", "10", "--ek", ek, "--out"])
            .arg(&dir)
            .output()
            .unwrap();
        let t = text(&o);
        assert!(o.status.success(), "{ek}: {t}");
        assert!(t.contains("verdict  TRUSTED (16/16 checks)"), "{ek}: {t}");
        assert!(t.contains(key_line), "{ek}: {t}");
        assert!(
            t.contains("ok   c.activate-credential    ActivateCredential returned our secret"),
            "{ek}: {t}"
        );
        let manifest = std::fs::read(dir.join("manifest.bin")).unwrap();
        assert_eq!(manifest.len(), manifest_len, "{ek}");
        let o = host_sim()
            .args(["attest", "--seed", "10", "--ek", ek, "--json"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{ek}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["appraisal"]["verdict"], true, "{ek}");
        assert_eq!(v["ek"], ek);
        assert!(
            v["boot"]["ek_handle"].as_str().unwrap().starts_with(handle),
            "{ek}: {v}"
        );
        assert_eq!(v["boot"]["ek_cert_index"], index, "{ek}");

        if have("openssl") {
            let o = run_in(
                &dir,
                "openssl",
                &[
                    "x509",
                    "-inform",
                    "DER",
                    "-in",
                    "ek-cert.der",
                    "-noout",
                    "-text",
                ],
            );
            let t = text(&o);
            assert!(o.status.success(), "{t}");
            if ek == "rsa2048" {
                assert!(
                    t.contains("rsaEncryption") && t.contains("Public-Key: (2048 bit)"),
                    "{t}"
                );
                assert!(t.contains("Key Encipherment"), "{t}");
            } else {
                assert!(t.contains("NIST CURVE: P-256"), "{t}");
            }
            let o = run_in(
                &dir,
                "openssl",
                &[
                    "x509",
                    "-inform",
                    "DER",
                    "-in",
                    "ek-cert.der",
                    "-noout",
                    "-pubkey",
                ],
            );
            let ek_pem = std::fs::read_to_string(dir.join("ek.pem")).unwrap();
            assert_eq!(String::from_utf8_lossy(&o.stdout), ek_pem, "{ek}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The attacks on the EK's links fail their checks with an RSA EK too.
#[test]
fn rsa2048_tamper_modes_fail_their_checks() {
    for (mode, check) in [
        ("ek", "b.ek-matches-manifest"),
        ("ek-cert", "b.ek-certificate"),
        ("ak", "c.activate-credential"),
        ("nonce", "a.nonce-binding"),
    ] {
        let o = host_sim()
            .args([
                "attest", "--seed", "12", "--ek", "rsa2048", "--tamper", mode,
            ])
            .output()
            .unwrap();
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{mode}: {t}");
        assert!(t.contains("NOT TRUSTED"), "{mode}: {t}");
        assert!(t.contains(&format!("failed   {check}:")), "{mode}: {t}");
    }
}

/// `attest --ek rsa2048 --serve PORT`: `tpm2_createek -G rsa` (tpm2-tools' L-1 template)
/// regenerates manifest.bin byte for byte, and tpm2_readpublic of 0x81010001 agrees.
#[test]
fn served_rsa_vtpm_createek_regenerates_the_manifest() {
    if !have("tpm2_createek") {
        return;
    }
    let dir = out_dir("serve-rsa");
    let (child, port, report) = serve(&["--seed", "13", "--ek", "rsa2048"], &dir);
    assert!(report.contains("verdict  TRUSTED"), "{report}");
    let tcti = format!("mssim:host=127.0.0.1,port={port}");
    let tool = |prog: &str, args: &[&str]| {
        Command::new(prog)
            .args(args)
            .env("TPM2TOOLS_TCTI", &tcti)
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let o = tool(
        "tpm2_createek",
        &["-G", "rsa", "-c", "ek.ctx", "-u", "ek.pub"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let ek_pub = std::fs::read(dir.join("ek.pub")).unwrap();
    let manifest = std::fs::read(dir.join("manifest.bin")).unwrap();
    assert_eq!(manifest.len(), 314);
    assert_eq!(
        hex(&ek_pub[2..]),
        hex(&manifest),
        "tpm2_createek -G rsa's TPM2B_PUBLIC vs manifest.bin"
    );
    let o = tool(
        "tpm2_readpublic",
        &["-c", "0x81010001", "-f", "tss", "-o", "persistent.pub"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read(dir.join("persistent.pub")).unwrap()[2..],
        manifest[..]
    );
    stop(child, port);
    std::fs::remove_dir_all(&dir).unwrap();
}
