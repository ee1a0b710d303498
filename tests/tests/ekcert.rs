//! EK certificates rooted in the SEV-SNP report (`platform_snp::ekcert`), as a guest finds them:
//! read from NV in TPM_PT_NV_BUFFER_MAX chunks, the indices platform-created and write-locked,
//! the CA certificate's embedded report signed by the VCEK with REPORT_DATA binding the CA key,
//! the EK certificate's key equal to the EK's, and OpenSSL (a real client) accepting the chain
//! and showing the TCG fields. Packages: `openssl` (skipped with a message when absent, unless
//! `CI` is set).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::path::Path;
use std::process::Command;

use host_sim::amdsp::SimAmdSp;
use host_sim::snp::{SimSnpPlatform, snp_platform};
use p384::ecdsa::signature::hazmat::PrehashVerifier;
use p384::ecdsa::{Signature, VerifyingKey};
use platform_snp::ekcert::{CA_CERT_INDEX, CERT_NV_ATTRIBUTES, EK_CERT_INDEX_P384};
use platform_snp::{BootConfig, VtpmService, boot};
use sha2::{Digest, Sha384};
use vtpm_tests::{AuthCmd, command, tpm2b};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

type Service = VtpmService<SimSnpPlatform>;

const RH_PLATFORM: u32 = 0x4000_000C;
const RH_OWNER: u32 = 0x4000_0001;
const TPMA_NV_WRITTEN: u32 = 0x2000_0000;
const TPMA_NV_WRITELOCKED: u32 = 0x800;

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
    assert_eq!(u32::from_be_bytes(p[..4].try_into().unwrap()), index);
    let attrs = u32::from_be_bytes(p[6..10].try_into().unwrap());
    let size = u16::from_be_bytes(p[12..14].try_into().unwrap());
    (attrs, size)
}

/// The whole index, read with ownerAuth in chunks of at most 1024 bytes as tpm2_nvread does.
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

fn booted(seed: u64) -> (SimAmdSp, Service) {
    let sp = SimAmdSp::new(seed);
    let svc = boot(snp_platform(&sp, seed), &BootConfig::default()).unwrap();
    (sp, svc)
}

/// The VCEK's ECDSA P-384 signature over bytes 0x000..0x29F (R, S little-endian).
fn report_signed_by(report: &[u8], vk: &VerifyingKey) -> bool {
    let mut r = report[0x2A0..0x2A0 + 48].to_vec();
    let mut s = report[0x2E8..0x2E8 + 48].to_vec();
    r.reverse();
    s.reverse();
    let sig = Signature::from_scalars(
        p384::FieldBytes::try_from(&r[..]).unwrap(),
        p384::FieldBytes::try_from(&s[..]).unwrap(),
    )
    .unwrap();
    vk.verify_prehash(&Sha384::digest(&report[..0x2A0]), &sig)
        .is_ok()
}

#[test]
fn certificates_are_in_platform_created_locked_nv() {
    let (_sp, mut svc) = booted(21);
    for index in [EK_CERT_INDEX_P384, CA_CERT_INDEX] {
        let (attrs, size) = nv_public(&mut svc, index);
        assert_eq!(
            attrs,
            CERT_NV_ATTRIBUTES | TPMA_NV_WRITTEN | TPMA_NV_WRITELOCKED,
            "{index:#x}"
        );
        assert!(size > 300, "{index:#x}: {size}");
        println!("NV {index:#010x}: {size} bytes");
        // Out of the guest's reach: boot disabled the platform hierarchy (TPM_RC_HIERARCHY
        // at handle 1 for the platform's authorization), the index is write-locked anyway,
        // and the owner cannot undefine a platform index.
        let mut p = Vec::new();
        tpm2b(&mut p, b"forged");
        p.extend(0u16.to_be_bytes());
        let r = send(
            &mut svc,
            &command(0x137, &[RH_PLATFORM, index], &[AuthCmd::pw(b"")], &p),
        );
        assert_eq!(rc(&r), 0x185, "NV_Write {index:#x} through the platform");
        let r = send(
            &mut svc,
            &command(0x122, &[RH_OWNER, index], &[AuthCmd::pw(b"")], &[]),
        );
        assert_eq!(
            rc(&r),
            0x149,
            "UndefineSpace by owner: TPM_RC_NV_AUTHORIZATION"
        );
    }
    // The CA certificate carries a 1184-byte report: larger than one NV buffer.
    assert!(nv_public(&mut svc, CA_CERT_INDEX).1 > 1184);
}

#[test]
fn ca_certificate_carries_the_report_that_binds_its_key() {
    let (sp, mut svc) = booted(22);
    let ca_der = nv_read_all(&mut svc, CA_CERT_INDEX);
    let ek_der = nv_read_all(&mut svc, EK_CERT_INDEX_P384);
    let ca = Certificate::from_der(&ca_der).unwrap();
    let ek = Certificate::from_der(&ek_der).unwrap();
    // The firmware's own DER writer: x509-cert's strict decoder took both, and its encoder
    // gives back the same bytes (definite lengths in the fewest octets, DEFAULTs omitted).
    assert_eq!(ca.to_der().unwrap(), ca_der);
    assert_eq!(ek.to_der().unwrap(), ek_der);

    // The report: in the extension 1.3.6.1.4.1.58270.1.1, signed by this chip's VCEK, at
    // VMPL 0 with the launch measurement, REPORT_DATA = SHA-384(CA key) ‖ 0^16.
    let ext = ca
        .tbs_certificate()
        .extensions()
        .unwrap()
        .iter()
        .find(|e| e.extn_id.to_string() == "1.3.6.1.4.1.58270.1.1")
        .expect("report extension");
    assert!(!ext.critical);
    // extnValue holds the DER of an OCTET STRING (RFC 5280 §4.1): the report bytes.
    let report = x509_cert::der::asn1::OctetString::from_der(ext.extn_value.as_bytes()).unwrap();
    let report = report.as_bytes();
    assert_eq!(report.len(), 1184);
    assert!(report_signed_by(report, &sp.lock().vcek_verifying_key()));
    assert_eq!(&report[0x30..0x34], &[0, 0, 0, 0], "VMPL 0");
    assert_eq!(&report[0x90..0xC0], &sp.lock().config().measurement);
    let ca_key = ca
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes();
    assert_eq!(ca_key.len(), 97);
    assert_eq!(&report[0x50..0x80], &Sha384::digest(ca_key)[..]);
    assert_eq!(&report[0x80..0x90], &[0; 16]);

    // The EK certificate: issued by the CA, for the EK the boot made (its TPMT_PUBLIC's x, y).
    assert_eq!(
        ek.tbs_certificate().issuer(),
        ca.tbs_certificate().subject()
    );
    let ek_key = ek
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes();
    let public = svc.ek().public();
    let n = public.len();
    assert_eq!(&ek_key[1..49], &public[n - 98..n - 50]);
    assert_eq!(&ek_key[49..], &public[n - 48..]);
    // The CA's signature over the EK certificate, checked with p384 directly.
    let vk = VerifyingKey::from_sec1_bytes(ca_key).unwrap();
    let tbs = ek.tbs_certificate().to_der().unwrap();
    let sig = Signature::from_der(ek.signature().raw_bytes()).unwrap();
    assert!(vk.verify_prehash(&Sha384::digest(&tbs), &sig).is_ok());

    // A second boot: another CA key, another report.
    let (_sp2, mut svc2) = booted(23);
    assert_ne!(nv_read_all(&mut svc2, CA_CERT_INDEX), ca_der);
}

fn openssl() -> Option<()> {
    if Command::new("openssl").arg("version").output().is_ok() {
        return Some(());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "openssl is missing (apt-get install openssl)"
    );
    eprintln!("skipped: openssl is not installed");
    None
}

fn run(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn openssl_verifies_the_ek_certificate_and_shows_the_tcg_fields() {
    if openssl().is_none() {
        return;
    }
    let (_sp, mut svc) = booted(24);
    let dir = std::env::temp_dir().join(format!("vtpm-ekcert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ca-cert.der"),
        nv_read_all(&mut svc, CA_CERT_INDEX),
    )
    .unwrap();
    std::fs::write(
        dir.join("ek-cert.der"),
        nv_read_all(&mut svc, EK_CERT_INDEX_P384),
    )
    .unwrap();
    for name in ["ca-cert", "ek-cert"] {
        let (ok, text) = run(
            &dir,
            &[
                "x509",
                "-inform",
                "DER",
                "-in",
                &format!("{name}.der"),
                "-out",
                &format!("{name}.pem"),
            ],
        );
        assert!(ok, "{text}");
    }
    let (ok, text) = run(
        &dir,
        &[
            "verify",
            "-partial_chain",
            "-CAfile",
            "ca-cert.pem",
            "ek-cert.pem",
        ],
    );
    assert!(ok && text.contains("ek-cert.pem: OK"), "{text}");
    // The CA verifies itself (self-issued, keyCertSign).
    let (ok, text) = run(&dir, &["verify", "-CAfile", "ca-cert.pem", "ca-cert.pem"]);
    assert!(ok, "{text}");

    let (ok, text) = run(&dir, &["x509", "-in", "ek-cert.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    for needle in [
        "Signature Algorithm: ecdsa-with-SHA384",
        "Issuer: O = vtpm, CN = vTPM EK CA (SEV-SNP), serialNumber = ",
        "NIST CURVE: P-384",
        "X509v3 Subject Alternative Name: critical",
        "DirName:/2.23.133.2.1=id:5654504D/2.23.133.2.2=ephemeral vTPM/2.23.133.2.3=id:",
        "X509v3 Basic Constraints: critical",
        "CA:FALSE",
        "X509v3 Key Usage: critical",
        "Key Agreement",
        "2.23.133.8.1",
        "X509v3 Subject Directory Attributes",
        "X509v3 Authority Key Identifier",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let (ok, text) = run(&dir, &["x509", "-in", "ca-cert.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    for needle in [
        "CA:TRUE, pathlen:0",
        "Certificate Sign, CRL Sign",
        "1.3.6.1.4.1.58270.1.1",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// TPM2_NV_WriteLock (Part 3 §31.11) on an owner index: refused without TPMA_NV_WRITEDEFINE
/// (TPM_RC_ATTRIBUTES at handle 2); with it, writes stop (TPM_RC_NV_LOCKED), reads go on, a
/// second lock succeeds, and undefining frees the index.
#[test]
fn nv_write_lock_with_writedefine() {
    use vtpm_tests::Harness;
    let mut h = Harness::new();
    let define = |h: &mut Harness, index: u32, attrs: u32| {
        let mut public = Vec::new();
        public.extend(index.to_be_bytes());
        public.extend(0x000Bu16.to_be_bytes());
        public.extend(attrs.to_be_bytes());
        public.extend([0, 0]);
        public.extend(16u16.to_be_bytes());
        let mut p = vec![0, 0];
        tpm2b(&mut p, &public);
        h.ok(0x12A, &[RH_OWNER], &[AuthCmd::pw(b"")], &p);
    };
    // OWNERWRITE | OWNERREAD (| WRITEDEFINE).
    define(&mut h, 0x0150_0001, 0x2 | 0x2_0000);
    define(&mut h, 0x0150_0002, 0x2 | 0x2_0000 | 0x2000);
    let lock = |h: &mut Harness, index: u32| {
        h.send(0x138, &[RH_OWNER, index], &[AuthCmd::pw(b"")], &[])
            .rc()
    };
    assert_eq!(lock(&mut h, 0x0150_0001), 0x282);
    let mut w = Vec::new();
    tpm2b(&mut w, b"certificate data");
    w.extend(0u16.to_be_bytes());
    h.ok(0x137, &[RH_OWNER, 0x0150_0002], &[AuthCmd::pw(b"")], &w);
    assert_eq!(lock(&mut h, 0x0150_0002), 0);
    assert_eq!(lock(&mut h, 0x0150_0002), 0, "already locked: success");
    assert_eq!(
        h.send(0x137, &[RH_OWNER, 0x0150_0002], &[AuthCmd::pw(b"")], &w)
            .rc(),
        0x148
    );
    let r = h.ok(
        0x14E,
        &[RH_OWNER, 0x0150_0002],
        &[AuthCmd::pw(b"")],
        &[0, 16, 0, 0],
    );
    assert!(r.bytes.windows(16).any(|x| x == b"certificate data"));
    h.ok(0x122, &[RH_OWNER, 0x0150_0002], &[AuthCmd::pw(b"")], &[]);
    define(&mut h, 0x0150_0002, 0x2 | 0x2_0000 | 0x2000);
    h.ok(0x137, &[RH_OWNER, 0x0150_0002], &[AuthCmd::pw(b"")], &w);
}
