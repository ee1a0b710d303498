//! The L-1 RSA-2048 EK (`platform_snp::BootConfig::rsa2048`), judged by independent builders of
//! the TCG template and by real clients: tpm2-pytss assembles the L-1 template from the TCG EK
//! Credential Profile's fields (its policy recomputed with hashlib) and gets the firmware's
//! bytes; `tpm2_createek -G rsa` against the booted vTPM regenerates the manifest byte for
//! byte; OpenSSL reads the EK certificate as rsaEncryption, 2048 bits, and Python
//! `cryptography` finds the EK's modulus in it. Packages: `tpm2-tools`, `libtss2-tcti-mssim0`,
//! `python3-tpm2-pytss`, `python3-cryptography`, `openssl` (skipped with a message when absent,
//! unless `CI` is set).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::path::PathBuf;
use std::process::{Command, Output};

use host_sim::amdsp::SimAmdSp;
use host_sim::mssim::Server;
use host_sim::snp::{SimSnpPlatform, snp_platform};
use platform_snp::ekcert::{CA_CERT_INDEX, CERT_NV_ATTRIBUTES, EK_CERT_INDEX_RSA2048};
use platform_snp::{BootConfig, EkTemplate, VtpmService, boot};
use vtpm_tests::{AuthCmd, command};
use x509_cert::Certificate;
use x509_cert::der::Decode;

type Service = VtpmService<SimSnpPlatform>;

/// Debian's interpreter: it has python3-tpm2-pytss and python3-cryptography.
const PYTHON: &str = "/usr/bin/python3";
const RH_OWNER: u32 = 0x4000_0001;
const TPMA_NV_WRITTEN: u32 = 0x2000_0000;
const TPMA_NV_WRITELOCKED: u32 = 0x800;

fn booted(seed: u64) -> (SimAmdSp, Service) {
    let sp = SimAmdSp::new(seed);
    let svc = boot(snp_platform(&sp, seed), &BootConfig::rsa2048()).unwrap();
    (sp, svc)
}

fn send(svc: &mut Service, cmd: &[u8]) -> Vec<u8> {
    let mut rsp = [0u8; vtpm::MAX_RESPONSE_SIZE];
    let n = svc.tpm_mut().execute(0, cmd, &mut rsp);
    rsp[..n].to_vec()
}

fn rc(r: &[u8]) -> u32 {
    u32::from_be_bytes(r[6..10].try_into().unwrap())
}

/// TPMS_NV_PUBLIC of `index`: (attributes, dataSize).
fn nv_public(svc: &mut Service, index: u32) -> (u32, u16) {
    let r = send(svc, &command(0x169, &[index], &[], &[]));
    assert_eq!(rc(&r), 0, "NV_ReadPublic {index:#x}");
    let p = &r[12..];
    let attrs = u32::from_be_bytes(p[6..10].try_into().unwrap());
    let size = u16::from_be_bytes(p[12..14].try_into().unwrap());
    (attrs, size)
}

/// The whole index, read with ownerAuth in chunks of at most 1024 bytes.
fn nv_read_all(svc: &mut Service, index: u32) -> Vec<u8> {
    let (_, size) = nv_public(svc, index);
    let mut out = Vec::new();
    while out.len() < usize::from(size) {
        let chunk = (usize::from(size) - out.len()).min(1024) as u16;
        let mut p = chunk.to_be_bytes().to_vec();
        p.extend((out.len() as u16).to_be_bytes());
        let r = send(
            svc,
            &command(0x14E, &[RH_OWNER, index], &[AuthCmd::pw(b"")], &p),
        );
        assert_eq!(rc(&r), 0, "NV_Read {index:#x} at {}", out.len());
        let n = u16::from_be_bytes(r[14..16].try_into().unwrap()) as usize;
        out.extend(&r[16..16 + n]);
    }
    out
}

/// Whether `program` runs; outside CI a missing one skips the test with a message.
fn have(program: &str, args: &[&str], package: &str) -> bool {
    let ok = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{program} is missing (apt-get install {package})"
        );
        eprintln!("skipped: {program} {args:?} failed (apt-get install {package})");
    }
    ok
}

fn have_python_module(module: &str, package: &str) -> bool {
    have(PYTHON, &["-c", &format!("import {module}")], package)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vtpm-ek-rsa-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The boot made an L-1 EK: 314-byte TPMT_PUBLIC at 0x81010001 whose fields are the template's
/// and whose unique is a full 2048-bit modulus; ReadPublic at the persistent handle agrees.
#[test]
fn l1_ek_is_persistent_and_its_public_area_is_314_bytes() {
    let (_sp, mut svc) = booted(31);
    let ek = *svc.ek();
    assert_eq!(ek.template(), EkTemplate::RsaL1);
    assert_eq!(ek.handle(), 0x8101_0001);
    let public = ek.public();
    assert_eq!(public.len(), 314);
    let mut template = [0u8; 314];
    assert_eq!(EkTemplate::RsaL1.write_template(&mut template), Some(314));
    // Everything but unique.n is the template; n is 256 bytes with its top bit set.
    assert_eq!(&public[..58], &template[..58]);
    assert!(public[58] & 0x80 != 0 && public[313] & 1 == 1);
    assert_eq!(svc.manifest(), public);
    // TPM2_ReadPublic(0x81010001): the same TPMT_PUBLIC.
    let r = send(&mut svc, &command(0x173, &[0x8101_0001], &[], &[]));
    assert_eq!(rc(&r), 0);
    let n = u16::from_be_bytes(r[10..12].try_into().unwrap()) as usize;
    assert_eq!(&r[12..12 + n], public);
    // The certificate index: platform-created, written, write-locked.
    let (attrs, size) = nv_public(&mut svc, EK_CERT_INDEX_RSA2048);
    assert_eq!(
        attrs,
        CERT_NV_ATTRIBUTES | TPMA_NV_WRITTEN | TPMA_NV_WRITELOCKED
    );
    assert!(size > 700, "{size}");
    // No P-384 EK certificate besides it.
    let r = send(
        &mut svc,
        &command(0x169, &[platform_snp::ekcert::EK_CERT_INDEX_P384], &[], &[]),
    );
    assert_ne!(rc(&r), 0);
}

/// tpm2-pytss builds TPMT_PUBLIC from the TCG EK Credential Profile's L-1 fields (Table 2:
/// RSA, SHA-256, fixedTPM | fixedParent | sensitiveDataOrigin | adminWithPolicy | restricted |
/// decrypt, PolicyA_SHA256 = PolicySecret(TPM_RH_ENDORSEMENT) computed here with hashlib,
/// AES-128-CFB, scheme NULL, 2048 bits, exponent 0, 256 zero bytes of unique) and marshals it:
/// the firmware's template byte for byte, and the manifest's public area but for unique.n.
#[test]
fn tpm2_pytss_builds_the_same_l1_template() {
    if !have_python_module("tpm2_pytss", "python3-tpm2-pytss") {
        return;
    }
    let script = r#"
import hashlib, struct, sys
from tpm2_pytss.constants import TPM2_ALG, TPMA_OBJECT, TPM2_CC, TPM2_RH
from tpm2_pytss.types import (TPMT_PUBLIC, TPMU_PUBLIC_PARMS, TPMS_RSA_PARMS,
    TPMT_SYM_DEF_OBJECT, TPMU_SYM_KEY_BITS, TPMU_SYM_MODE, TPMT_RSA_SCHEME, TPMU_PUBLIC_ID,
    TPM2B_PUBLIC_KEY_RSA, TPM2B_DIGEST)
# PolicySecret(TPM_RH_ENDORSEMENT), policyRef empty (Part 3 §23.4): two PolicyUpdate steps.
d = hashlib.sha256(b"\0" * 32 + struct.pack(">II", TPM2_CC.PolicySecret, TPM2_RH.ENDORSEMENT)).digest()
policy_a = hashlib.sha256(d).digest()
public = TPMT_PUBLIC(
    type=TPM2_ALG.RSA,
    nameAlg=TPM2_ALG.SHA256,
    objectAttributes=TPMA_OBJECT.FIXEDTPM | TPMA_OBJECT.FIXEDPARENT
        | TPMA_OBJECT.SENSITIVEDATAORIGIN | TPMA_OBJECT.ADMINWITHPOLICY
        | TPMA_OBJECT.RESTRICTED | TPMA_OBJECT.DECRYPT,
    authPolicy=TPM2B_DIGEST(policy_a),
    parameters=TPMU_PUBLIC_PARMS(rsaDetail=TPMS_RSA_PARMS(
        symmetric=TPMT_SYM_DEF_OBJECT(algorithm=TPM2_ALG.AES,
            keyBits=TPMU_SYM_KEY_BITS(aes=128), mode=TPMU_SYM_MODE(aes=TPM2_ALG.CFB)),
        scheme=TPMT_RSA_SCHEME(scheme=TPM2_ALG.NULL),
        keyBits=2048,
        exponent=0)),
    unique=TPMU_PUBLIC_ID(rsa=TPM2B_PUBLIC_KEY_RSA(b"\0" * 256)))
sys.stdout.write(bytes(public.marshal()).hex())
"#;
    let o = Command::new(PYTHON).args(["-c", script]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let pytss = String::from_utf8(o.stdout).unwrap();

    let mut template = [0u8; 400];
    let n = EkTemplate::RsaL1.write_template(&mut template).unwrap();
    assert_eq!(n, 314);
    assert_eq!(
        pytss,
        hex(&template[..n]),
        "tpm2-pytss vs EkTemplate::RsaL1"
    );

    let (_sp, svc) = booted(32);
    let manifest = svc.manifest();
    assert_eq!(manifest.len(), 314);
    let mut zeroed = manifest.to_vec();
    zeroed[58..].fill(0);
    assert_eq!(
        pytss,
        hex(&zeroed),
        "tpm2-pytss vs the manifest, unique.n zeroed"
    );
}

/// `tpm2_createek -G rsa` (tpm2-tools' own L-1 template) against the vTPM the firmware booted,
/// served on the simulator protocol: its outPublic is the manifest byte for byte, and
/// `tpm2_readpublic` of the persistent EK agrees.
#[test]
fn tpm2_createek_rsa_regenerates_the_manifest() {
    if !have(
        "tpm2_createek",
        &["--version"],
        "tpm2-tools libtss2-tcti-mssim0",
    ) {
        return;
    }
    let (_sp, svc) = booted(33);
    let manifest = svc.manifest().to_vec();
    let (tpm, _ek) = svc.into_parts();
    let server = Server::bind_tpm(0, tpm)
        .unwrap()
        .quiet(true)
        .spawn()
        .unwrap();
    let dir = temp_dir("createek");
    let tcti = format!("mssim:host=127.0.0.1,port={}", server.command_port());
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
    assert_eq!(
        u16::from_be_bytes([ek_pub[0], ek_pub[1]]) as usize,
        ek_pub.len() - 2
    );
    assert_eq!(
        hex(&ek_pub[2..]),
        hex(&manifest),
        "tpm2_createek -G rsa outPublic vs the manifest"
    );
    let o = tool(
        "tpm2_readpublic",
        &["-c", "0x81010001", "-f", "tss", "-o", "persistent.pub"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let persistent = std::fs::read(dir.join("persistent.pub")).unwrap();
    assert_eq!(&persistent[2..], &manifest[..]);
    server.stop().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The RSA EK certificate as OpenSSL and Python `cryptography` read it: rsaEncryption, a 2048
/// bit key with exponent 65537, keyUsage keyEncipherment, tcg-kp-EKCertificate, issued by the
/// CA certificate (which verifies it), and the modulus is unique.n of the EK's TPMT_PUBLIC.
#[test]
fn openssl_and_cryptography_read_the_rsa_ek_certificate() {
    if !have("openssl", &["version"], "openssl")
        || !have_python_module("cryptography", "python3-cryptography")
    {
        return;
    }
    let (_sp, mut svc) = booted(34);
    let manifest = svc.manifest().to_vec();
    let ek_der = nv_read_all(&mut svc, EK_CERT_INDEX_RSA2048);
    let ca_der = nv_read_all(&mut svc, CA_CERT_INDEX);
    // The ecosystem's Rust parser agrees on the algorithm.
    let cert = Certificate::from_der(&ek_der).unwrap();
    assert_eq!(
        cert.tbs_certificate()
            .subject_public_key_info()
            .algorithm
            .oid
            .to_string(),
        "1.2.840.113549.1.1.1"
    );
    let dir = temp_dir("openssl");
    std::fs::write(dir.join("ek-cert.der"), &ek_der).unwrap();
    std::fs::write(dir.join("ca-cert.der"), &ca_der).unwrap();
    std::fs::write(dir.join("manifest.bin"), &manifest).unwrap();
    let openssl = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let o = openssl(&[
        "x509",
        "-in",
        "ek-cert.der",
        "-inform",
        "DER",
        "-noout",
        "-text",
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for needle in [
        "Public Key Algorithm: rsaEncryption",
        "Public-Key: (2048 bit)",
        "Exponent: 65537 (0x10001)",
        "Signature Algorithm: ecdsa-with-SHA384",
        "X509v3 Key Usage: critical",
        "Key Encipherment",
        "2.23.133.8.1",
        "X509v3 Subject Alternative Name: critical",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in:\n{t}");
    }
    assert!(!t.contains("Key Agreement"), "{t}");
    for n in ["ca-cert", "ek-cert"] {
        let o = openssl(&[
            "x509",
            "-inform",
            "DER",
            "-in",
            &format!("{n}.der"),
            "-out",
            &format!("{n}.pem"),
        ]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = openssl(&[
        "verify",
        "-partial_chain",
        "-CAfile",
        "ca-cert.pem",
        "ek-cert.pem",
    ]);
    assert!(text(&o).contains("ek-cert.pem: OK"), "{}", text(&o));

    let script = r#"
import sys
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
cert = x509.load_der_x509_certificate(open("ek-cert.der", "rb").read())
key = cert.public_key()
assert isinstance(key, rsa.RSAPublicKey), type(key)
numbers = key.public_numbers()
public = open("manifest.bin", "rb").read()
assert len(public) == 314, len(public)
# TPMT_PUBLIC: type RSA, ..., keyBits 2048, exponent 0 (= 65537), unique.n (TPM2B, 256 bytes).
assert public[:2] == b"\x00\x01" and public[50:52] == (2048).to_bytes(2, "big"), public[:60].hex()
assert public[52:56] == b"\0\0\0\0" and public[56:58] == (256).to_bytes(2, "big")
n = int.from_bytes(public[58:], "big")
assert key.key_size == 2048, key.key_size
assert numbers.e == 65537, numbers.e
assert numbers.n == n, "certificate modulus != the EK's"
print("modulus matches", hex(n)[:18])
"#;
    let o = Command::new(PYTHON)
        .args(["-c", script])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("modulus matches"), "{}", text(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A different boot: another RSA EK (fresh seeds), another certificate.
#[test]
fn each_boot_has_its_own_rsa_ek() {
    let (_sp, mut a) = booted(35);
    let (_sp2, mut b) = booted(36);
    assert_ne!(a.manifest(), b.manifest());
    assert_eq!(&a.manifest()[..58], &b.manifest()[..58]);
    assert_ne!(
        nv_read_all(&mut a, EK_CERT_INDEX_RSA2048),
        nv_read_all(&mut b, EK_CERT_INDEX_RSA2048)
    );
}
