//! SEV-SNP end to end on the host: `platform_snp::SnpPlatform` over the simulated AMD-SP of
//! `host-sim`, the SVSM vTPM protocol carrying real TPM commands, SVSM attestation of the vTPM
//! service checked independently (the VCEK signature with `p384` directly, REPORT_DATA
//! recomputed with `sha2`, VMPL 0, the manifest against ReadPublic), and every guest-request
//! fault: each gives a clear error, and the ones that could reuse an IV leave no usable key.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use host_sim::amdsp::{AmdSp, Fault, SimAmdSp};
use host_sim::snp::{SimSnpPlatform, snp_platform};
use p384::ecdsa::signature::hazmat::PrehashVerifier;
use p384::ecdsa::{Signature, VerifyingKey};
use platform_snp::report::{self, REPORT_SIZE, ReportError};
use platform_snp::svsm::{
    AttestServicesOp, AttestSingleServiceOp, SVSM_SUCCESS, SvsmError, VTPM_SERVICE_GUID,
};
use platform_snp::transport::TransportError;
use platform_snp::{
    BootConfig, BootError, GuestMemory, RequestError, Requester, SvsmRegs, Vmpck, VtpmService,
    boot, boot_in_place,
};
use sha2::{Digest, Sha384, Sha512};
use vtpm::{Platform, PlatformError};
use vtpm_tests::{AuthCmd, SHA256, cc, command, digest_values};

type Service = VtpmService<SimSnpPlatform>;

/// TPM_CC_ReadPublic.
const CC_READ_PUBLIC: u32 = 0x173;
/// The H-3 EK's persistent handle.
const EK_HANDLE: u32 = 0x8101_0016;

fn booted(seed: u64) -> (SimAmdSp, Service) {
    let sp = SimAmdSp::new(seed);
    let svc = boot(snp_platform(&sp, seed), &BootConfig::default()).unwrap();
    (sp, svc)
}

/// The independent check of a report: ECDSA P-384 over SHA-384 of 0x000..0x29F with the VCEK,
/// R and S little-endian.
fn signature_ok(report: &[u8], vk: &VerifyingKey) -> bool {
    let digest = Sha384::digest(&report[..0x2A0]);
    let mut r = report[0x2A0..0x2A0 + 48].to_vec();
    let mut s = report[0x2E8..0x2E8 + 48].to_vec();
    r.reverse();
    s.reverse();
    let (Ok(r), Ok(s)) = (
        p384::FieldBytes::try_from(&r[..]),
        p384::FieldBytes::try_from(&s[..]),
    ) else {
        return false;
    };
    let Ok(sig) = Signature::from_scalars(r, s) else {
        return false;
    };
    vk.verify_prehash(&digest, &sig).is_ok()
}

fn u32_le(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

// ---- guest memory ------------------------------------------------------------------------

/// Guest memory: `size` bytes from guest-physical `base`.
struct Mem {
    base: u64,
    bytes: Vec<u8>,
}

impl Mem {
    fn new(base: u64, size: usize) -> Self {
        Self {
            base,
            bytes: vec![0; size],
        }
    }
    fn range(&self, gpa: u64, len: usize) -> Result<core::ops::Range<usize>, SvsmError> {
        let start = gpa
            .checked_sub(self.base)
            .ok_or(SvsmError::InvalidAddress)? as usize;
        let end = start.checked_add(len).ok_or(SvsmError::InvalidAddress)?;
        if end > self.bytes.len() {
            return Err(SvsmError::InvalidAddress);
        }
        Ok(start..end)
    }
    fn at(&self, gpa: u64, len: usize) -> &[u8] {
        &self.bytes[self.range(gpa, len).unwrap()]
    }
    fn put(&mut self, gpa: u64, data: &[u8]) {
        let r = self.range(gpa, data.len()).unwrap();
        self.bytes[r].copy_from_slice(data);
    }
}

impl GuestMemory for Mem {
    fn read(&mut self, gpa: u64, buf: &mut [u8]) -> Result<(), SvsmError> {
        let r = self.range(gpa, buf.len())?;
        buf.copy_from_slice(&self.bytes[r]);
        Ok(())
    }
    fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), SvsmError> {
        let r = self.range(gpa, data.len())?;
        self.bytes[r].copy_from_slice(data);
        Ok(())
    }
}

const BASE: u64 = 0x10_0000;

fn call(svc: &mut Service, mem: &mut Mem, protocol: u64, call: u64, rcx: u64) -> (u64, SvsmRegs) {
    let mut regs = SvsmRegs {
        rax: (protocol << 32) | call,
        rcx,
        ..SvsmRegs::default()
    };
    let rax = svc.handle_call(mem, &mut regs);
    assert_eq!(rax, regs.rax);
    (rax, regs)
}

/// Send a TPM command through SVSM_VTPM_CMD at `gpa`, as Linux tpm_svsm lays it out; returns
/// the TPM response.
fn tpm(svc: &mut Service, mem: &mut Mem, gpa: u64, cmd: &[u8]) -> Vec<u8> {
    let mut req = vec![0u8; 4096];
    req[..4].copy_from_slice(&8u32.to_le_bytes());
    req[4] = 0;
    req[5..9].copy_from_slice(&(cmd.len() as u32).to_le_bytes());
    req[9..9 + cmd.len()].copy_from_slice(cmd);
    mem.put(gpa, &req);
    let (rax, _) = call(svc, mem, 2, 1, gpa);
    assert_eq!(rax, SVSM_SUCCESS);
    let n = u32_le(mem.at(gpa, 4), 0) as usize;
    let rsp = mem.at(gpa + 4, n).to_vec();
    assert_eq!(
        u32::from_be_bytes(rsp[2..6].try_into().unwrap()) as usize,
        n
    );
    rsp
}

fn rc(rsp: &[u8]) -> u32 {
    u32::from_be_bytes(rsp[6..10].try_into().unwrap())
}

/// ReadPublic(handle): the TPMT_PUBLIC bytes.
fn read_public(svc: &mut Service, mem: &mut Mem, handle: u32) -> Vec<u8> {
    let rsp = tpm(
        svc,
        mem,
        BASE,
        &command(CC_READ_PUBLIC, &[handle], &[], &[]),
    );
    assert_eq!(rc(&rsp), 0, "ReadPublic {handle:#x}");
    let n = u16::from_be_bytes(rsp[10..12].try_into().unwrap()) as usize;
    rsp[12..12 + n].to_vec()
}

// ---- boot and evidence -------------------------------------------------------------------

#[test]
fn boot_creates_the_h3_ek_and_evidence_verifies() {
    let (sp, mut svc) = booted(7);
    let ek = *svc.ek();
    assert_eq!(ek.handle(), EK_HANDLE);
    assert_eq!(ek.public().len(), 170, "H-3 TPMT_PUBLIC is 170 bytes");
    assert_eq!(&ek.public()[..4], &[0x00, 0x23, 0x00, 0x0C]);
    // The persistent EK is what ReadPublic returns; the transient copy was flushed.
    let mut mem = Mem::new(BASE, 0x4000);
    assert_eq!(read_public(&mut svc, &mut mem, EK_HANDLE), ek.public());
    let rsp = tpm(
        &mut svc,
        &mut mem,
        BASE,
        &command(CC_READ_PUBLIC, &[0x8000_0000], &[], &[]),
    );
    assert_ne!(rc(&rsp), 0, "the transient EK was flushed");

    // Evidence through the vtpm::Platform trait: a VMPL0 report over the report data.
    let rd: [u8; 64] = core::array::from_fn(|i| i as u8 ^ 0x5A);
    let mut out = [0u8; 2048];
    let n = svc
        .tpm_mut()
        .platform_mut()
        .evidence(&rd, &mut out)
        .unwrap();
    assert_eq!(n, REPORT_SIZE);
    let raw = &out[..n];
    let vk = sp.lock().vcek_verifying_key();
    assert!(signature_ok(raw, &vk));
    assert_eq!(u32_le(raw, 0), 3, "version 3");
    assert_eq!(u32_le(raw, 0x30), 0, "VMPL 0");
    assert_eq!(&raw[0x50..0x90], &rd);
    assert_eq!(&raw[0x90..0xC0], &sp.lock().config().measurement);
    assert_eq!(&raw[0x1A0..0x1E0], &sp.lock().config().chip_id);
    // The crate's own verifier agrees.
    let key = platform_snp::VcekPublicKey::from_sec1(&sp.lock().vcek_public_sec1()).unwrap();
    let parsed = report::verify(raw, &key).unwrap();
    assert_eq!(parsed.report_data, rd);
    assert_eq!(parsed.cpuid().unwrap().family, 0x19);
    // Two round trips (the boot's report for the EK CA, then this one): PSP counter 4,
    // requester in step.
    assert_eq!(sp.lock().counter(0), 4);
    assert_eq!(svc.tpm().platform().requester().last_seqno(), 4);
    // The next report uses seqno 5 / 6.
    svc.tpm_mut()
        .platform_mut()
        .evidence(&rd, &mut out)
        .unwrap();
    assert_eq!(sp.lock().counter(0), 6);
    // Too small a buffer: refused before any request.
    let mut small = [0u8; 100];
    assert_eq!(
        svc.tpm_mut().platform_mut().evidence(&rd, &mut small),
        Err(PlatformError::BufferTooSmall)
    );
    assert_eq!(sp.lock().counter(0), 6);
}

#[test]
fn boot_with_p256_ek() {
    let sp = SimAmdSp::new(3);
    let mut svc = boot(snp_platform(&sp, 3), &BootConfig::p256()).unwrap();
    let ek = *svc.ek();
    assert_eq!(ek.public().len(), 122);
    assert_eq!(ek.handle() >> 24, 0x80, "kept transient");
    let mut mem = Mem::new(BASE, 0x2000);
    assert_eq!(read_public(&mut svc, &mut mem, ek.handle()), ek.public());
    // The EK derives from the endorsement seed: two TPMs on different entropy differ.
    let svc2 = boot(snp_platform(&SimAmdSp::new(3), 4), &BootConfig::p256()).unwrap();
    assert_ne!(svc2.ek().public(), ek.public());
}

#[test]
fn boot_in_place_matches_boot_and_happens_once() {
    let sp = SimAmdSp::new(5);
    // Held where the "firmware" chooses (here a box), built by the const constructor.
    let mut svc: Box<Service> = Box::new(VtpmService::unbooted(snp_platform(&sp, 5)));
    let mut mem = Mem::new(BASE, 0x2000);
    // Not booted: TPM commands answer TPM_RC_FAILURE, attestation is refused.
    let rsp = tpm(
        &mut svc,
        &mut mem,
        BASE,
        &vtpm_tests::command(0x17B, &[], &[], &8u16.to_be_bytes()),
    );
    assert_eq!(rc(&rsp), 0x101);
    assert!(svc.ek().public().is_empty());

    boot_in_place(&mut svc, &BootConfig::default()).unwrap();
    let (_, by_value) = booted(5);
    assert_eq!(
        svc.ek().public(),
        by_value.ek().public(),
        "same entropy, same EK"
    );
    assert_eq!(svc.ek().handle(), EK_HANDLE);
    assert_eq!(
        read_public(&mut svc, &mut mem, EK_HANDLE),
        svc.ek().public()
    );
    // The firmware's own commands run in the service's buffers.
    let rsp = svc.execute(
        0,
        &vtpm_tests::command(0x17B, &[], &[], &8u16.to_be_bytes()),
    );
    assert_eq!(rsp.len(), 20);
    assert_eq!(rc(rsp), 0);

    let ek = *svc.ek();
    assert_eq!(
        boot_in_place(&mut svc, &BootConfig::default()),
        Err(BootError::AlreadyBooted)
    );
    assert_eq!(*svc.ek(), ek, "a second boot changes nothing");
}

#[test]
fn boot_fails_cleanly_without_entropy() {
    let sp = SimAmdSp::new(1);
    let platform = snp_platform(&sp, 1);
    // Make the platform's entropy fail through a wrapper that never yields entropy.
    struct NoEntropy(SimSnpPlatform);
    impl Platform for NoEntropy {
        fn fill_entropy(&mut self, _buf: &mut [u8]) -> Result<(), PlatformError> {
            Err(PlatformError::EntropyUnavailable)
        }
        fn now_ms(&mut self) -> Result<u64, PlatformError> {
            self.0.now_ms()
        }
        fn evidence(&mut self, rd: &[u8; 64], out: &mut [u8]) -> Result<usize, PlatformError> {
            self.0.evidence(rd, out)
        }
    }
    assert_eq!(
        boot(NoEntropy(platform), &BootConfig::default()).err(),
        Some(BootError::FailureMode)
    );
}

// ---- SVSM vTPM protocol ------------------------------------------------------------------

#[test]
fn svsm_vtpm_query_and_real_tpm_commands() {
    let (_sp, mut svc) = booted(11);
    let mut mem = Mem::new(BASE, 0x4000);
    let (rax, regs) = call(&mut svc, &mut mem, 2, 0, 0);
    assert_eq!(rax, SVSM_SUCCESS);
    assert_eq!(regs.rcx, 1 << 8, "TPM_SEND_COMMAND only");
    assert_eq!(regs.rdx, 0);

    // The guest's Startup after our boot: TPM_RC_INITIALIZE, which firmware treats as success.
    let rsp = tpm(
        &mut svc,
        &mut mem,
        BASE,
        &command(cc::STARTUP, &[], &[], &[0, 0]),
    );
    assert_eq!(rc(&rsp), 0x100);

    // GetRandom through a page that is not page-aligned and crosses into the next page.
    let gpa = BASE + 0x810;
    let rsp = tpm(
        &mut svc,
        &mut mem,
        gpa,
        &command(cc::GET_RANDOM, &[], &[], &32u16.to_be_bytes()),
    );
    assert_eq!(rc(&rsp), 0);
    assert_eq!(u16::from_be_bytes(rsp[10..12].try_into().unwrap()), 32);

    // PCR_Extend then PCR_Read, with a password session.
    let d = [0xAB; 32];
    let rsp = tpm(
        &mut svc,
        &mut mem,
        BASE,
        &command(
            cc::PCR_EXTEND,
            &[16],
            &[AuthCmd::pw(b"")],
            &digest_values(&[(SHA256, &d)]),
        ),
    );
    assert_eq!(rc(&rsp), 0);
    let mut sel = Vec::new();
    sel.extend(1u32.to_be_bytes());
    sel.extend(SHA256.to_be_bytes());
    sel.extend([3, 0, 0, 1]);
    let rsp = tpm(
        &mut svc,
        &mut mem,
        BASE,
        &command(cc::PCR_READ, &[], &[], &sel),
    );
    assert_eq!(rc(&rsp), 0);
    let expected = sha2::Sha256::digest([[0u8; 32], d].concat());
    assert_eq!(&rsp[rsp.len() - 32..], expected.as_slice());

    // A TPM error travels inside the response: SVSM success, TPM_RC_COMMAND_CODE.
    let rsp = tpm(
        &mut svc,
        &mut mem,
        BASE,
        &[0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x0F, 0xFF],
    );
    assert_eq!(rc(&rsp), 0x143);
    // The EK is still there for the guest.
    assert_eq!(
        read_public(&mut svc, &mut mem, EK_HANDLE),
        svc.ek().public()
    );
}

#[test]
fn svsm_vtpm_bad_calls() {
    let (_sp, mut svc) = booted(12);
    let mut mem = Mem::new(BASE, 0x3000);
    let page = |cmd: u32, loc: u8, size: u32| {
        let mut p = vec![0u8; 4096];
        p[..4].copy_from_slice(&cmd.to_le_bytes());
        p[4] = loc;
        p[5..9].copy_from_slice(&size.to_le_bytes());
        p
    };
    let invalid = SvsmError::InvalidParameter.code();
    for (p, why) in [
        (page(9, 0, 10), "unknown platform command"),
        (page(0, 0, 10), "platform command 0"),
        (page(8, 1, 10), "locality 1"),
        (page(8, 0, 4088), "command larger than the page"),
        (page(8, 0, u32::MAX), "huge size"),
    ] {
        mem.put(BASE, &p);
        let before = mem.at(BASE, 4096).to_vec();
        let (rax, _) = call(&mut svc, &mut mem, 2, 1, BASE);
        assert_eq!(rax, invalid, "{why}");
        assert_eq!(mem.at(BASE, 4096), &before[..], "{why}: page untouched");
    }
    // Exactly 4087 bytes is accepted (and is a TPM-level error, not an SVSM one).
    mem.put(BASE, &page(8, 0, 4087));
    assert_eq!(call(&mut svc, &mut mem, 2, 1, BASE).0, SVSM_SUCCESS);
    // GPA 0, outside guest memory, or a page running off its end.
    assert_eq!(call(&mut svc, &mut mem, 2, 1, 0).0, invalid);
    assert_eq!(
        call(&mut svc, &mut mem, 2, 1, 0xDEAD_0000).0,
        SvsmError::InvalidAddress.code()
    );
    mem.put(BASE + 0x2800, &8u32.to_le_bytes());
    assert_eq!(
        call(&mut svc, &mut mem, 2, 1, BASE + 0x2800).0,
        SvsmError::InvalidAddress.code()
    );
    // Unknown calls and protocols.
    assert_eq!(
        call(&mut svc, &mut mem, 2, 2, BASE).0,
        SvsmError::UnsupportedCall.code()
    );
    assert_eq!(
        call(&mut svc, &mut mem, 1, 7, BASE).0,
        SvsmError::UnsupportedCall.code()
    );
    assert_eq!(
        call(&mut svc, &mut mem, 0, 0, BASE).0,
        SvsmError::UnsupportedProtocol.code()
    );
    assert_eq!(
        call(&mut svc, &mut mem, 3, 0, BASE).0,
        SvsmError::UnsupportedProtocol.code()
    );
}

// ---- SVSM attestation --------------------------------------------------------------------

const REPORT_GPA: u64 = BASE;
const MANIFEST_GPA: u64 = BASE + 0x1000;
const NONCE_GPA: u64 = BASE + 0x2000;
const OP_GPA: u64 = BASE + 0x3000;
const CERT_GPA: u64 = BASE + 0x4000;

fn services_op(cert_size: u32) -> AttestServicesOp {
    AttestServicesOp {
        report_gpa: REPORT_GPA,
        report_size: 0x1000,
        reserved1: [0; 4],
        nonce_gpa: NONCE_GPA,
        nonce_size: 64,
        reserved2: [0; 6],
        manifest_gpa: MANIFEST_GPA,
        manifest_size: 0x1000,
        reserved3: [0; 4],
        certificate_gpa: CERT_GPA,
        certificate_size: cert_size,
        reserved4: [0; 4],
    }
}

fn single_op(cert_size: u32) -> AttestSingleServiceOp {
    AttestSingleServiceOp {
        op: services_op(cert_size),
        guid: VTPM_SERVICE_GUID,
        manifest_version: 0,
        reserved: [0; 4],
    }
}

fn attest_mem(nonce: &[u8; 64]) -> Mem {
    let mut mem = Mem::new(BASE, 0x8000);
    mem.put(NONCE_GPA, nonce);
    mem
}

/// The verifier's side: report signature with the VCEK, REPORT_DATA = SHA-512(nonce ‖
/// manifest), VMPL 0.
fn check_attestation(sp: &SimAmdSp, report: &[u8], nonce: &[u8; 64], manifest: &[u8]) {
    let vk = sp.lock().vcek_verifying_key();
    assert!(signature_ok(report, &vk), "VCEK signature");
    let want = Sha512::digest([&nonce[..], manifest].concat());
    assert_eq!(&report[0x50..0x90], want.as_slice(), "REPORT_DATA");
    assert_eq!(u32_le(report, 0x30), 0, "VMPL 0");
}

#[test]
fn svsm_attest_single_service_vtpm() {
    let (sp, mut svc) = booted(21);
    let nonce: [u8; 64] = core::array::from_fn(|i| (i * 3) as u8);
    let mut mem = attest_mem(&nonce);
    mem.put(OP_GPA, &single_op(0).to_bytes());
    let (rax, regs) = call(&mut svc, &mut mem, 1, 1, OP_GPA);
    assert_eq!(rax, SVSM_SUCCESS);
    assert_eq!(regs.rcx, 170, "manifest length");
    assert_eq!(regs.rdx, 0, "no certificates");
    assert_eq!(regs.r8, REPORT_SIZE as u64);
    let report = mem.at(REPORT_GPA, REPORT_SIZE).to_vec();
    let manifest = mem.at(MANIFEST_GPA, 170).to_vec();
    check_attestation(&sp, &report, &nonce, &manifest);
    // The manifest is the EK the guest can read at its TCG handle.
    assert_eq!(read_public(&mut svc, &mut mem, EK_HANDLE), manifest);
}

#[test]
fn svsm_attest_services_table() {
    let (sp, mut svc) = booted(22);
    let nonce = [0x42u8; 64];
    let mut mem = attest_mem(&nonce);
    mem.put(OP_GPA, &services_op(0).to_bytes());
    let (rax, regs) = call(&mut svc, &mut mem, 1, 0, OP_GPA);
    assert_eq!(rax, SVSM_SUCCESS);
    let len = regs.rcx as usize;
    assert_eq!(len, 48 + 170);
    let table = mem.at(MANIFEST_GPA, len).to_vec();
    let services_guid = [
        0xbb, 0x9e, 0x84, 0x63, 0x92, 0x3d, 0x70, 0x46, 0xa1, 0xff, 0x58, 0xf9, 0xc9, 0x4b, 0x87,
        0xbb,
    ];
    assert_eq!(&table[..16], &services_guid);
    assert_eq!(u32_le(&table, 16) as usize, len, "total length");
    assert_eq!(u32_le(&table, 20), 1, "one service");
    assert_eq!(&table[24..40], &VTPM_SERVICE_GUID);
    let (off, n) = (u32_le(&table, 40) as usize, u32_le(&table, 44) as usize);
    assert_eq!(&table[off..off + n], svc.ek().public());
    check_attestation(&sp, mem.at(REPORT_GPA, REPORT_SIZE), &nonce, &table);
}

#[test]
fn svsm_attest_bad_requests() {
    let (sp, mut svc) = booted(23);
    let nonce = [7u8; 64];
    let invalid = SvsmError::InvalidParameter.code();
    let cases: Vec<(AttestSingleServiceOp, u64, &str)> = vec![
        (
            AttestSingleServiceOp {
                guid: [0x11; 16],
                ..single_op(0)
            },
            SvsmError::UnsupportedProtocol.code(),
            "unknown service GUID",
        ),
        (
            AttestSingleServiceOp {
                manifest_version: 1,
                ..single_op(0)
            },
            invalid,
            "manifest version 1",
        ),
        (
            AttestSingleServiceOp {
                reserved: [1, 0, 0, 0],
                ..single_op(0)
            },
            invalid,
            "reserved bytes",
        ),
        (
            AttestSingleServiceOp {
                op: AttestServicesOp {
                    reserved2: [0, 0, 0, 0, 0, 1],
                    ..services_op(0)
                },
                ..single_op(0)
            },
            invalid,
            "reserved bytes of the common part",
        ),
        (
            AttestSingleServiceOp {
                op: AttestServicesOp {
                    nonce_size: 32,
                    ..services_op(0)
                },
                ..single_op(0)
            },
            invalid,
            "nonce of 32 bytes",
        ),
        (
            AttestSingleServiceOp {
                op: AttestServicesOp {
                    nonce_gpa: NONCE_GPA + 0xFC1,
                    ..services_op(0)
                },
                ..single_op(0)
            },
            invalid,
            "nonce crossing a page",
        ),
        (
            AttestSingleServiceOp {
                op: AttestServicesOp {
                    report_gpa: REPORT_GPA + 8,
                    ..services_op(0)
                },
                ..single_op(0)
            },
            invalid,
            "unaligned report buffer",
        ),
        (
            AttestSingleServiceOp {
                op: AttestServicesOp {
                    manifest_size: 100,
                    ..services_op(0)
                },
                ..single_op(0)
            },
            invalid,
            "manifest buffer too small",
        ),
        (
            AttestSingleServiceOp {
                op: AttestServicesOp {
                    report_size: 0x49F,
                    ..services_op(0)
                },
                ..single_op(0)
            },
            invalid,
            "report buffer too small",
        ),
        (
            AttestSingleServiceOp {
                op: AttestServicesOp {
                    certificate_size: 0x4001,
                    ..services_op(0)
                },
                ..single_op(0)
            },
            invalid,
            "certificate buffer over 16 KiB",
        ),
    ];
    for (op, want, why) in cases {
        let mut mem = attest_mem(&nonce);
        mem.put(OP_GPA, &op.to_bytes());
        let (rax, regs) = call(&mut svc, &mut mem, 1, 1, OP_GPA);
        assert_eq!(rax, want, "{why}");
        if why.ends_with("too small") {
            // The sizes the guest needs come back in RCX / R8.
            assert_eq!((regs.rcx, regs.r8), (170, REPORT_SIZE as u64), "{why}");
        }
        assert_eq!(mem.at(REPORT_GPA, 16), &[0; 16], "{why}: nothing written");
    }
    // None of them cost a guest request: the PSP counter is where boot left it (one report
    // for the EK CA certificate).
    assert_eq!(sp.lock().counter(0), 2);
    assert_eq!(sp.lock().stats(), (1, 0));
}

#[test]
fn svsm_attest_extended_with_certificates() {
    let (sp, mut svc) = booted(24);
    let nonce = [9u8; 64];
    let mut mem = attest_mem(&nonce);
    mem.put(OP_GPA, &single_op(0x2000).to_bytes());
    let (rax, regs) = call(&mut svc, &mut mem, 1, 1, OP_GPA);
    assert_eq!(rax, SVSM_SUCCESS);
    let cert_len = regs.rdx as usize;
    assert!(cert_len > 48, "a certificate table came back");
    let table = mem.at(CERT_GPA, cert_len).to_vec();
    let cert = report::find_cert(&table, &report::GUID_VCEK).unwrap();
    assert_eq!(Some(cert.to_vec()), sp.lock().vcek_certificate());
    // The certificate's key verifies the report (the CLI's parser reads it).
    let vcek = host_sim::snp_verify::parse_vcek(cert).unwrap();
    assert_eq!(vcek.hw_id.as_deref(), Some(&sp.lock().config().chip_id[..]));
    let report = mem.at(REPORT_GPA, REPORT_SIZE).to_vec();
    report::verify(&report, &vcek.key).unwrap();
    check_attestation(&sp, &report, &nonce, svc.ek().public());

    // A certificate table larger than the guest's buffer: INVALID_LEN from the host, the
    // request is resent as a regular one (its sequence number consumed), the guest learns the
    // size in RDX, and the key survives.
    sp.lock()
        .set_certificates(&[(report::GUID_VCEK, vec![0x30; 5000])]);
    let before = sp.lock().counter(0);
    mem.put(OP_GPA, &single_op(0x1000).to_bytes());
    let (rax, regs) = call(&mut svc, &mut mem, 1, 1, OP_GPA);
    assert_eq!(rax, SvsmError::InvalidParameter.code());
    assert_eq!(regs.rdx, 0x2000, "two pages needed");
    assert_eq!(
        sp.lock().counter(0),
        before + 2,
        "the sequence number was consumed"
    );
    assert!(!svc.tpm().platform().requester().is_disabled());
    // The guest retries with a bigger buffer and succeeds.
    mem.put(OP_GPA, &single_op(0x2000).to_bytes());
    let (rax, regs) = call(&mut svc, &mut mem, 1, 1, OP_GPA);
    assert_eq!(rax, SVSM_SUCCESS);
    assert_eq!(regs.rdx as usize, 48 + 5000);
}

// ---- guest-request faults ----------------------------------------------------------------

fn request(platform: &mut SimSnpPlatform) -> Result<[u8; REPORT_SIZE], ReportError> {
    let mut report = [0u8; REPORT_SIZE];
    platform
        .attestation_report(&[1; 64], &mut report, None)
        .map(|_| report)
}

/// After a wipe: refused without touching the hypervisor, forever, through every path.
fn assert_no_reusable_key(sp: &SimAmdSp, platform: &mut SimSnpPlatform) {
    let channel = platform.requester().transport().clone();
    assert!(platform.requester().is_disabled());
    assert!(channel.wiped(0), "the transport was told to wipe VMPCK0");
    let sends = channel.sends();
    let counter = sp.lock().counter(0);
    for _ in 0..3 {
        assert_eq!(
            request(platform).err(),
            Some(ReportError::Request(RequestError::KeyDisabled))
        );
    }
    let mut out = [0u8; REPORT_SIZE];
    assert_eq!(
        platform.evidence(&[0; 64], &mut out),
        Err(PlatformError::EvidenceUnavailable)
    );
    assert_eq!(channel.sends(), sends, "nothing more was sent");
    assert_eq!(sp.lock().counter(0), counter);
    assert!(format!("{:?}", platform.requester()).contains("REDACTED"));
}

#[test]
fn busy_is_retried_with_the_same_page() {
    let sp = SimAmdSp::new(31);
    let mut p = snp_platform(&sp, 31);
    sp.lock().inject(Fault::Busy(3));
    let report = request(&mut p).unwrap();
    assert!(signature_ok(&report, &sp.lock().vcek_verifying_key()));
    assert_eq!(p.requester().transport().sends(), 4);
    assert_eq!(
        sp.lock().counter(0),
        2,
        "one sequence number for four sends"
    );
    // And the next request is in step.
    request(&mut p).unwrap();
    assert_eq!(sp.lock().counter(0), 4);
}

#[test]
fn busy_forever_wipes_the_key() {
    let sp = SimAmdSp::new(32);
    let mut p = snp_platform(&sp, 32);
    p.requester_mut().set_busy_retries(5);
    sp.lock().inject(Fault::Busy(1000));
    assert_eq!(
        request(&mut p).err(),
        Some(ReportError::Request(RequestError::Busy { attempts: 6 }))
    );
    assert_no_reusable_key(&sp, &mut p);
}

#[test]
fn corrupted_tag_wipes_the_key() {
    let sp = SimAmdSp::new(33);
    let mut p = snp_platform(&sp, 33);
    request(&mut p).unwrap();
    sp.lock().inject(Fault::CorruptTag);
    assert_eq!(
        request(&mut p).err(),
        Some(ReportError::Request(RequestError::Response(
            platform_snp::msg::MsgError::Authentication
        )))
    );
    assert_no_reusable_key(&sp, &mut p);
}

#[test]
fn replayed_response_wipes_the_key() {
    let sp = SimAmdSp::new(34);
    let mut p = snp_platform(&sp, 34);
    request(&mut p).unwrap();
    sp.lock().inject(Fault::ReplayResponse);
    assert_eq!(
        request(&mut p).err(),
        Some(ReportError::Request(RequestError::Response(
            platform_snp::msg::MsgError::Header(platform_snp::msg::HeaderField::Seqno)
        )))
    );
    assert_no_reusable_key(&sp, &mut p);
}

#[test]
fn skipped_sequence_number_wipes_the_key() {
    let sp = SimAmdSp::new(35);
    let mut p = snp_platform(&sp, 35);
    sp.lock().inject(Fault::SkipSeqno);
    assert_eq!(
        request(&mut p).err(),
        Some(ReportError::Request(RequestError::Response(
            platform_snp::msg::MsgError::Header(platform_snp::msg::HeaderField::Seqno)
        )))
    );
    assert_no_reusable_key(&sp, &mut p);
}

#[test]
fn response_under_the_wrong_key_wipes_the_key() {
    let sp = SimAmdSp::new(36);
    let mut p = snp_platform(&sp, 36);
    sp.lock().inject(Fault::WrongKey);
    assert_eq!(
        request(&mut p).err(),
        Some(ReportError::Request(RequestError::Response(
            platform_snp::msg::MsgError::Authentication
        )))
    );
    assert_no_reusable_key(&sp, &mut p);
}

#[test]
fn firmware_and_hypervisor_errors_wipe_the_key() {
    for (fault, want) in [
        (
            Fault::Exit(0x16),
            TransportError::Failed { exitinfo2: 0x16 },
        ),
        (
            Fault::Exit(0xFFFF_FFFF_0000_0000),
            TransportError::Failed {
                exitinfo2: 0xFFFF_FFFF_0000_0000,
            },
        ),
        // INVALID_LEN on a regular request has no meaning: treated as any other error.
        (
            Fault::InvalidLen(2),
            TransportError::InvalidLength { pages: 2 },
        ),
    ] {
        let sp = SimAmdSp::new(37);
        let mut p = snp_platform(&sp, 37);
        sp.lock().inject(fault);
        assert_eq!(
            request(&mut p).err(),
            Some(ReportError::Request(RequestError::Transport(want))),
            "{fault:?}"
        );
        assert_no_reusable_key(&sp, &mut p);
    }
}

#[test]
fn out_of_step_sequence_number_is_rejected_by_the_psp_and_wipes_the_key() {
    let sp = SimAmdSp::new(38);
    // A requester that believes 4 sequence numbers were used (the PSP has seen none).
    let key = Vmpck::new(sp.lock().vmpck(0));
    let requester = Requester::new(sp.channel(), key, 0, 4).unwrap();
    let mut p = platform_snp::SnpPlatform::new(
        requester,
        host_sim::snp::SimMachine(host_sim::SimPlatform::seeded(1)),
        host_sim::snp::SimMachine(host_sim::SimPlatform::new()),
    );
    let err = request(&mut p).err();
    assert_eq!(
        err,
        Some(ReportError::Request(RequestError::Transport(
            TransportError::Failed { exitinfo2: 0x16 }
        )))
    );
    assert_eq!(sp.lock().stats(), (0, 1), "the PSP rejected it");
    assert_no_reusable_key(&sp, &mut p);
}

#[test]
fn wiped_key_fails_svsm_attestation_cleanly() {
    let (sp, mut svc) = booted(39);
    sp.lock().inject(Fault::CorruptTag);
    let nonce = [1u8; 64];
    let mut mem = attest_mem(&nonce);
    mem.put(OP_GPA, &single_op(0).to_bytes());
    let (rax, _) = call(&mut svc, &mut mem, 1, 1, OP_GPA);
    assert_eq!(rax, SvsmError::InvalidRequest.code());
    assert_eq!(mem.at(REPORT_GPA, 16), &[0; 16]);
    let (rax, _) = call(&mut svc, &mut mem, 1, 1, OP_GPA);
    assert_eq!(rax, SvsmError::InvalidRequest.code());
    assert_no_reusable_key(&sp, svc.tpm_mut().platform_mut());
    // The TPM itself keeps working.
    let rsp = tpm(
        &mut svc,
        &mut mem,
        BASE,
        &command(cc::GET_RANDOM, &[], &[], &8u16.to_be_bytes()),
    );
    assert_eq!(rc(&rsp), 0);
}

#[test]
fn vmpl_permissions_of_the_psp() {
    // A VMPCK1 requester may ask for VMPL 1..3, not VMPL 0.
    let sp = SimAmdSp::new(40);
    let key = Vmpck::new(sp.lock().vmpck(1));
    let mut req = Requester::new(sp.channel(), key, 1, 0).unwrap();
    let mut out = [0u8; REPORT_SIZE];
    assert_eq!(
        report::request_report(&mut req, &[2; 64], 0, &mut out, None),
        Err(ReportError::Status(0x16))
    );
    assert!(!req.is_disabled(), "a STATUS error is a clean round trip");
    report::request_report(&mut req, &[2; 64], 1, &mut out, None).unwrap();
    assert_eq!(u32_le(&out, 0x30), 1);
    assert!(signature_ok(&out, &sp.lock().vcek_verifying_key()));
    assert_eq!(sp.lock().counter(1), 4);
    assert_eq!(sp.lock().counter(0), 0, "VMPCK0's counter is separate");
    // VLEK requested but not installed: STATUS INVALID_KEY.
    let mut payload = report::ReportRequest::new([0; 64], 1);
    payload.key_sel = 2;
    let mut rsp = [0u8; 0x4C0];
    req.request(
        platform_snp::msg::MsgType::REPORT_REQ,
        &payload.to_bytes(),
        &mut rsp,
        None,
    )
    .unwrap();
    assert_eq!(u32_le(&rsp, 0), 0x27);
    // VMPCK index 4 does not exist.
    assert_eq!(
        Requester::new(sp.channel(), Vmpck::new([1; 32]), 4, 0).err(),
        Some(RequestError::InvalidArgument)
    );
    // A zeroed key (as Linux and COCONUT leave a retired VMPCK) is refused outright.
    let mut z = Requester::new(sp.channel(), Vmpck::new([0; 32]), 2, 0).unwrap();
    assert!(z.is_disabled());
    assert_eq!(
        report::request_report(&mut z, &[0; 64], 2, &mut out, None),
        Err(ReportError::Request(RequestError::KeyDisabled))
    );
}

#[test]
fn simulated_psp_rejects_bad_requests_without_advancing() {
    // The firmware's own checks, driven with hand-made pages.
    let mut sp = AmdSp::new(41);
    let key = Vmpck::new(sp.vmpck(0));
    let mut page = [0u8; 4096];
    let payload = report::ReportRequest::new([3; 64], 0).to_bytes();
    platform_snp::msg::seal(
        &key,
        platform_snp::msg::MsgType::REPORT_REQ,
        1,
        0,
        &payload,
        &mut page,
    )
    .unwrap();
    let mut rsp = [0u8; 4096];
    for (off, v, why) in [
        (0x30, 2u8, "algo"),
        (0x31, 2, "header version"),
        (0x32, 0x70, "header size"),
        (0x35, 2, "message version"),
        (0x3C, 4, "VMPCK 4"),
        (0x20, 2, "sequence number ahead"),
        (0x20, 0, "sequence number 0"),
        (0x60, 0x55, "ciphertext"),
        (0x00, 0x55, "tag"),
    ] {
        let mut p = page;
        p[off] ^= v;
        if off == 0x20 && v == 0 {
            p[0x20] = 0;
        }
        assert!(sp.guest_request(&p, &mut rsp, None).is_err(), "{why}");
        assert_eq!(sp.counter(0), 0, "{why}");
    }
    sp.guest_request(&page, &mut rsp, None).unwrap();
    assert_eq!(sp.counter(0), 2);
    // The same page again is a replay: rejected.
    assert!(sp.guest_request(&page, &mut rsp, None).is_err());
    assert_eq!(sp.stats().0, 1);
}

/// After boot the guest holds no platform authority (BootConfig::release_platform): the
/// platform hierarchy is disabled (TPM_RC_HIERARCHY at handle 1 for Clear, HierarchyControl
/// and HierarchyChangeAuth through TPM_RH_PLATFORM), so a guest program cannot Clear the owner
/// hierarchy to reset the dictionary-attack counters; the EK certificate in the platform's NV
/// stays readable, and the owner's authority works as before.
#[test]
fn the_guest_gets_no_platform_authority() {
    let (_sp, mut svc) = booted(12);
    let mut mem = Mem::new(BASE, 0x4000);
    let platform = 0x4000_000Cu32;
    for (code, params) in [
        (cc::CLEAR, vec![]),
        (0x121u32, [&platform.to_be_bytes()[..], &[1]].concat()),
        (cc::HIERARCHY_CHANGE_AUTH, vec![0, 0]),
    ] {
        let rsp = tpm(
            &mut svc,
            &mut mem,
            BASE,
            &command(code, &[platform], &[AuthCmd::pw(b"")], &params),
        );
        assert_eq!(rc(&rsp), 0x185, "command {code:#x}");
    }
    // TPM_PT_STARTUP_CLEAR: phEnable clear, shEnable, ehEnable, phEnableNV set.
    let p = [6u32, 0x201, 1].map(u32::to_be_bytes).concat();
    let rsp = tpm(
        &mut svc,
        &mut mem,
        BASE,
        &command(cc::GET_CAPABILITY, &[], &[], &p),
    );
    let startup_clear = u32::from_be_bytes(rsp[23..27].try_into().unwrap());
    assert_eq!(startup_clear & 0xF, 0b1110);
    // The EK certificate (platform NV) is still readable.
    let rsp = tpm(
        &mut svc,
        &mut mem,
        BASE,
        &command(0x169, &[0x01C0_0016], &[], &[]),
    );
    assert_eq!(rc(&rsp), 0, "NV_ReadPublic of the EK certificate");
    let rsp = tpm(
        &mut svc,
        &mut mem,
        BASE,
        &command(
            cc::HIERARCHY_CHANGE_AUTH,
            &[0x4000_0001],
            &[AuthCmd::pw(b"")],
            &[0, 0],
        ),
    );
    assert_eq!(rc(&rsp), 0, "the owner is the guest's");
}

#[test]
fn boot_chooses_the_pcr_banks() {
    use vtpm::crypto::hash::HashAlg;
    let sp = SimAmdSp::new(6);
    let config = BootConfig {
        pcr_banks: &[HashAlg::Sha1, HashAlg::Sha256],
        ..BootConfig::p256()
    };
    let mut svc = boot(snp_platform(&sp, 6), &config).unwrap();
    // GetCapability(PCRS): sha1 and sha256 allocated, sha384 and sha512 not.
    let p = [5u32.to_be_bytes(), 0u32.to_be_bytes(), 8u32.to_be_bytes()].concat();
    let rsp = svc
        .execute(0, &vtpm_tests::command(0x17A, &[], &[], &p))
        .to_vec();
    assert_eq!(rc(&rsp), 0);
    assert_eq!(
        &rsp[19..43],
        &[
            0, 4, 3, 0xFF, 0xFF, 0xFF, 0, 0x0B, 3, 0xFF, 0xFF, 0xFF, 0, 0x0C, 3, 0, 0, 0, 0, 0x0D,
            3, 0, 0, 0
        ]
    );
    let bad = BootConfig {
        pcr_banks: &[],
        ..BootConfig::p256()
    };
    assert_eq!(
        boot(snp_platform(&sp, 7), &bad).err(),
        Some(BootError::PcrBanks)
    );
}
