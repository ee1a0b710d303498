//! `host-sim attest`: boot a simulated SEV-SNP confidential VM, measure its boot into the
//! ephemeral vTPM through the SVSM vTPM protocol, and attest it remotely end to end with
//! [`crate::verifier`].
//!
//! The simulated machine ([`SimVm`]) is the simulated AMD-SP of [`crate::amdsp`] with a launch
//! measurement, `platform_snp::boot` manufacturing the vTPM at VMPL0 (EK, EK and CA certificates
//! in NV), and a guest that measures firmware volume, boot variable, boot loader, kernel, command
//! line and initrd, writing a TCG crypto-agile event log ([`crate::eventlog`]). The host in
//! between can be made to cheat ([`Tamper`]): each attack must fail a named check.

// Lengths cast below are bounded by a 4 KiB page, a TPM2B or the event log's u32 fields.
#![allow(clippy::cast_possible_truncation)]
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use platform_snp::ekcert::CA_CERT_INDEX;
use platform_snp::svsm::{
    AttestServicesOp, AttestSingleServiceOp, SVSM_SUCCESS, SvsmRegs, VTPM_SERVICE_GUID,
};
use platform_snp::{BootConfig, EkTemplate, GuestMemory, SvsmError, VtpmService, boot};
use serde::Serialize;
use sha2::{Digest, Sha384};
use vtpm::Platform;

use crate::SimPlatform;
use crate::amd_chain::SIMULATED_ARK;
use crate::amdsp::{AmdSpConfig, SimAmdSp};
use crate::eventlog::{self, Event, Log};
use crate::snp::{SimSnpPlatform, snp_platform};
use crate::snp_verify::hex;
use crate::verifier::{
    self, AmdCertificates, Appraisal, Attester, Collected, ReferenceEvent, ReferencePolicy,
};

/// The EK the firmware creates (`--ek`), a TCG EK Credential Profile template.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EkKind {
    /// H-3: ECC NIST P-384, persistent at 0x81010016, certificate at NV 0x01C00016.
    #[default]
    Ecc384,
    /// L-2: ECC NIST P-256, transient (the profile assigns no handle), certificate at NV
    /// 0x01C0000A.
    Ecc256,
    /// L-1: RSA-2048, persistent at 0x81010001, certificate at NV 0x01C00002 (the EK of
    /// COCONUT-SVSM's vTPM).
    Rsa2048,
}

impl EkKind {
    /// The firmware's boot configuration for this EK (with its certificate).
    pub fn boot_config(self) -> BootConfig {
        match self {
            Self::Ecc384 => BootConfig::default(),
            Self::Ecc256 => BootConfig {
                ek_certificate: true,
                ..BootConfig::p256()
            },
            Self::Rsa2048 => BootConfig::rsa2048(),
        }
    }
}

/// The attacks `--tamper` demonstrates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tamper {
    /// Another kernel boots and the host rewrites the event log to show the reference one.
    EventLog,
    /// A different kernel boots (measured and logged faithfully).
    Kernel,
    /// A different firmware is launched (another launch measurement).
    Launch,
    /// The host forges the SVSM attestation report (one byte changed).
    Report,
    /// The host replays an attestation made for an old nonce.
    Nonce,
    /// The host answers the attestation from another VM: another EK.
    Ek,
    /// The host swaps the EK certificate in NV for another VM's.
    EkCert,
    /// The AK lives in another TPM.
    Ak,
    /// The host signs reports with its own key and certifies it under a forged AMD root (an
    /// ARK and ASK with AMD's names and other keys).
    Root,
}

impl Tamper {
    /// The check this attack must fail.
    pub fn expected_failure(self) -> &'static str {
        match self {
            Self::EventLog => "e.replay-matches-quote",
            Self::Kernel => "e.reference-policy",
            Self::Launch => "a.launch-measurement",
            Self::Report => "a.report-signature",
            Self::Nonce => "a.nonce-binding",
            Self::Ek => "b.ek-matches-manifest",
            Self::EkCert => "b.ek-certificate",
            Self::Ak => "c.activate-credential",
            Self::Root => "a.amd-chain",
        }
    }
}

/// The simulated boot components (their bytes are what is measured).
pub struct Components {
    /// The firmware volume.
    pub firmware: Vec<u8>,
    /// The boot loader image.
    pub bootloader: Vec<u8>,
    /// The kernel image.
    pub kernel: Vec<u8>,
    /// The initrd.
    pub initrd: Vec<u8>,
    /// The kernel command line.
    pub cmdline: String,
}

impl Components {
    /// The components of the reference image (`evil`: another kernel).
    pub fn reference(evil_kernel: bool) -> Self {
        let blob = |label: &str, n: usize| -> Vec<u8> {
            (0..n)
                .map(|i| label.as_bytes()[i % label.len()] ^ (i as u8))
                .collect()
        };
        Self {
            firmware: blob("OVMF.fd simulated firmware volume", 64 * 1024),
            bootloader: blob("grubx64.efi simulated boot loader", 32 * 1024),
            kernel: if evil_kernel {
                blob("vmlinuz with a backdoor", 96 * 1024)
            } else {
                blob("vmlinuz-6.1 simulated kernel", 96 * 1024)
            },
            initrd: blob("initrd.img simulated initrd", 48 * 1024),
            cmdline: "console=ttyS0 root=/dev/vda1 ro".into(),
        }
    }

    /// The measured events, as firmware and boot loader log them (TCG PC Client PFP §3.3.4,
    /// §10.4), separators EV_SEPARATOR in PCRs 0-7 before the boot loader runs.
    pub fn events(&self) -> Vec<Event> {
        let image_load = |len: usize| {
            // UEFI_IMAGE_LOAD_EVENT: location, length, link-time address, device path length.
            let mut d = Vec::new();
            d.extend(0x7E00_0000u64.to_le_bytes());
            d.extend((len as u64).to_le_bytes());
            d.extend(0u64.to_le_bytes());
            d.extend(0u64.to_le_bytes());
            d
        };
        let mut fv = Vec::new();
        // UEFI_PLATFORM_FIRMWARE_BLOB: base, length.
        fv.extend(0xFFC0_0000u64.to_le_bytes());
        fv.extend((self.firmware.len() as u64).to_le_bytes());
        // UEFI_VARIABLE_DATA for BootOrder = {0000} (EFI_GLOBAL_VARIABLE GUID).
        let mut var = Vec::new();
        var.extend([
            0x61, 0xDF, 0xE4, 0x8B, 0xCA, 0x93, 0xD2, 0x11, 0xAA, 0x0D, 0x00, 0xE0, 0x98, 0x03,
            0x2B, 0x8C,
        ]);
        var.extend(9u64.to_le_bytes());
        var.extend(2u64.to_le_bytes());
        for u in "BootOrder".encode_utf16() {
            var.extend(u.to_le_bytes());
        }
        var.extend([0, 0]);
        let mut events = vec![
            Event::new(
                0,
                eventlog::EV_EFI_PLATFORM_FIRMWARE_BLOB,
                &self.firmware,
                fv,
            ),
            Event::new(1, eventlog::EV_EFI_VARIABLE_BOOT, &var.clone(), var),
        ];
        for pcr in 0..8 {
            events.push(Event::new(pcr, eventlog::EV_SEPARATOR, &[0; 4], vec![0; 4]));
        }
        events.push(Event::new(
            4,
            eventlog::EV_EFI_BOOT_SERVICES_APPLICATION,
            &self.bootloader,
            image_load(self.bootloader.len()),
        ));
        events.push(Event::new(
            4,
            eventlog::EV_EFI_BOOT_SERVICES_APPLICATION,
            &self.kernel,
            image_load(self.kernel.len()),
        ));
        let cmdline = format!("kernel_cmdline: {}\0", self.cmdline).into_bytes();
        events.push(Event::new(8, eventlog::EV_IPL, &cmdline.clone(), cmdline));
        events.push(Event::new(
            9,
            eventlog::EV_IPL,
            &self.initrd,
            b"/boot/initrd.img\0".to_vec(),
        ));
        events
    }
}

/// The reference policy for the machine of `seed` booting the reference image: what a
/// verifier's operator writes down once (here computed from the same simulated components).
pub fn reference_policy(seed: u64) -> ReferencePolicy {
    let names = [
        "firmware volume",
        "BootOrder",
        "boot loader",
        "kernel",
        "kernel command line",
        "initrd",
    ];
    let measured = Components::reference(false)
        .events()
        .into_iter()
        .filter(|e| e.event_type != eventlog::EV_SEPARATOR);
    ReferencePolicy {
        launch_measurement: hex(&AmdSpConfig::from_seed(seed).measurement),
        allow_debug: false,
        quoted_pcrs: (0..10).collect(),
        events: measured
            .zip(names)
            .map(|(e, name)| ReferenceEvent {
                name: name.into(),
                pcr: e.pcr,
                event_type: eventlog::type_name(e.event_type).into(),
                sha384: hex(&e.sha384),
            })
            .collect(),
    }
}

// ---- the simulated guest ------------------------------------------------------------------------

/// Guest memory for SVSM attestation calls: a few pages at [`MEM_BASE`].
struct Mem(Vec<u8>);
const MEM_BASE: u64 = 0x10_0000;
const REPORT_GPA: u64 = MEM_BASE;
const MANIFEST_GPA: u64 = MEM_BASE + 0x1000;
const NONCE_GPA: u64 = MEM_BASE + 0x2000;
const OP_GPA: u64 = MEM_BASE + 0x3000;

impl GuestMemory for Mem {
    fn read(&mut self, gpa: u64, buf: &mut [u8]) -> Result<(), SvsmError> {
        let at = gpa.checked_sub(MEM_BASE).ok_or(SvsmError::InvalidAddress)? as usize;
        buf.copy_from_slice(
            self.0
                .get(at..at + buf.len())
                .ok_or(SvsmError::InvalidAddress)?,
        );
        Ok(())
    }
    fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), SvsmError> {
        let at = gpa.checked_sub(MEM_BASE).ok_or(SvsmError::InvalidAddress)? as usize;
        self.0
            .get_mut(at..at + data.len())
            .ok_or(SvsmError::InvalidAddress)?
            .copy_from_slice(data);
        Ok(())
    }
}

const RH_OWNER: u32 = 0x4000_0001;
const RH_ENDORSEMENT: u32 = 0x4000_000B;
const RH_NULL: u32 = 0x4000_0007;
const RS_PW: u32 = 0x4000_0009;
/// PolicyA_SHA384 and PolicyC_SHA384 (TCG EK Credential Profile §B.6): the branches of the
/// H-3 EK's PolicyOR.
const POLICY_A_SHA384: &str = "8bbf2266537c171cb56e403c4dc1d4b64f432611dc386e6f532050c3278c930e143e8bb1133824ccb431053871c6db53";
const POLICY_C_SHA384: &str = "d6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5b4947c2d73e63005eed2dc2b3593d165";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
        .collect()
}

fn tpm2b(out: &mut Vec<u8>, b: &[u8]) {
    out.extend((b.len() as u16).to_be_bytes());
    out.extend(b);
}

/// A TPM command: header, handles, authorization area (each `(handle, attrs)` with empty
/// nonce and empty HMAC / password), parameters.
fn command(cc: u32, handles: &[u32], auths: &[(u32, u8)], params: &[u8]) -> Vec<u8> {
    let mut c = Vec::new();
    c.extend(if auths.is_empty() { 0x8001u16 } else { 0x8002 }.to_be_bytes());
    c.extend([0; 4]);
    c.extend(cc.to_be_bytes());
    for h in handles {
        c.extend(h.to_be_bytes());
    }
    if !auths.is_empty() {
        let mut area = Vec::new();
        for (h, attrs) in auths {
            area.extend(h.to_be_bytes());
            area.extend([0, 0, *attrs, 0, 0]);
        }
        c.extend((area.len() as u32).to_be_bytes());
        c.extend(area);
    }
    c.extend(params);
    let n = c.len() as u32;
    c[2..6].copy_from_slice(&n.to_be_bytes());
    c
}

/// A booted, measured simulated SEV-SNP VM.
pub struct SimVm {
    /// The simulated AMD-SP (the machine).
    pub sp: SimAmdSp,
    /// The vTPM service at VMPL0.
    pub svc: VtpmService<SimSnpPlatform>,
    /// The event log the guest wrote.
    pub log: Log,
    ak: Option<(u32, Vec<u8>)>,
}

impl SimVm {
    /// Launch a VM on the machine of `seed` (with another launch measurement if
    /// `other_firmware`), boot the vTPM with entropy from `entropy_seed` and the EK `ek`, and
    /// measure `components` through the SVSM vTPM protocol.
    pub fn boot(
        seed: u64,
        entropy_seed: u64,
        other_firmware: bool,
        ek: EkKind,
        components: &Components,
    ) -> Result<Self, String> {
        let sp = SimAmdSp::new(seed);
        if other_firmware {
            sp.lock().config_mut().measurement = Sha384::digest(b"another firmware").into();
        }
        let svc = boot(snp_platform(&sp, entropy_seed), &ek.boot_config())
            .map_err(|e| format!("vTPM boot failed: {e:?}"))?;
        let mut vm = Self {
            sp,
            svc,
            log: Log::default(),
            ak: None,
        };
        for e in components.events() {
            vm.measure(e)?;
        }
        Ok(vm)
    }

    /// One TPM command through the SVSM vTPM protocol (SVSM_VTPM_CMD, TPM_SEND_COMMAND page).
    pub fn tpm(&mut self, cmd: &[u8]) -> Result<Vec<u8>, String> {
        let mut page = [0u8; 4096];
        page[..4].copy_from_slice(&8u32.to_le_bytes());
        page[5..9].copy_from_slice(&(cmd.len() as u32).to_le_bytes());
        page[9..9 + cmd.len()].copy_from_slice(cmd);
        self.svc
            .send_command_page(&mut page)
            .map_err(|e| format!("SVSM_VTPM_CMD: {e:?}"))?;
        let n = u32::from_le_bytes(page[..4].try_into().unwrap_or_default()) as usize;
        Ok(page[4..4 + n].to_vec())
    }

    /// A command that must succeed: its response parameters (after handles and parameterSize).
    fn ok(&mut self, cmd: &[u8], rsp_handles: usize, what: &str) -> Result<Vec<u8>, String> {
        let r = self.tpm(cmd)?;
        let rc = u32::from_be_bytes(r[6..10].try_into().unwrap_or_default());
        if rc != 0 {
            return Err(format!("{what}: TPM_RC {rc:#05x}"));
        }
        let mut at = 10 + 4 * rsp_handles;
        if r[..2] == [0x80, 0x02] {
            at += 4;
        }
        Ok(r[at..].to_vec())
    }

    /// PCR_Extend both banks and log the event.
    fn measure(&mut self, e: Event) -> Result<(), String> {
        let mut p = 2u32.to_be_bytes().to_vec();
        p.extend(eventlog::ALG_SHA256.to_be_bytes());
        p.extend(e.sha256);
        p.extend(eventlog::ALG_SHA384.to_be_bytes());
        p.extend(e.sha384);
        self.ok(
            &command(0x182, &[e.pcr], &[(RS_PW, 0)], &p),
            0,
            "PCR_Extend",
        )?;
        self.log.events.push(e);
        Ok(())
    }

    /// The AK: a restricted ECDSA P-256 / SHA-256 signing primary in the owner hierarchy.
    fn ak(&mut self) -> Result<(u32, Vec<u8>), String> {
        if let Some(ak) = &self.ak {
            return Ok(ak.clone());
        }
        let mut t = Vec::new();
        t.extend(0x0023u16.to_be_bytes()); // ECC
        t.extend(0x000Bu16.to_be_bytes()); // SHA-256
        t.extend(0x0005_0072u32.to_be_bytes()); // fixedTPM fixedParent sDO userWithAuth restricted sign
        t.extend([0, 0]); // authPolicy
        t.extend(0x0010u16.to_be_bytes()); // symmetric NULL
        t.extend([0x00, 0x18, 0x00, 0x0B]); // ECDSA SHA-256
        t.extend(0x0003u16.to_be_bytes()); // P-256
        t.extend(0x0010u16.to_be_bytes()); // kdf NULL
        t.extend([0, 0, 0, 0]);
        let mut p = vec![0, 4, 0, 0, 0, 0];
        tpm2b(&mut p, &t);
        p.extend([0, 0, 0, 0, 0, 0]);
        let cmd = command(0x131, &[RH_OWNER], &[(RS_PW, 0)], &p);
        let r = self.tpm(&cmd)?;
        let rc = u32::from_be_bytes(r[6..10].try_into().unwrap_or_default());
        if rc != 0 {
            return Err(format!("CreatePrimary(AK): TPM_RC {rc:#05x}"));
        }
        let handle = u32::from_be_bytes(r[10..14].try_into().unwrap_or_default());
        let n = u16::from_be_bytes([r[18], r[19]]) as usize;
        let public = r[20..20 + n].to_vec();
        self.ak = Some((handle, public.clone()));
        Ok((handle, public))
    }

    fn read_nv(&mut self, index: u32) -> Result<Vec<u8>, String> {
        let r = self.ok(&command(0x169, &[index], &[], &[]), 0, "NV_ReadPublic")?;
        let size = u16::from_be_bytes([r[14], r[15]]) as usize;
        let mut out = Vec::new();
        while out.len() < size {
            let chunk = (size - out.len()).min(1024) as u16;
            let mut p = chunk.to_be_bytes().to_vec();
            p.extend((out.len() as u16).to_be_bytes());
            let cmd = command(0x14E, &[RH_OWNER, index], &[(RS_PW, 0)], &p);
            let r = self.ok(&cmd, 0, "NV_Read")?;
            let n = u16::from_be_bytes([r[0], r[1]]) as usize;
            out.extend(&r[2..2 + n]);
        }
        Ok(out)
    }

    fn attest(&mut self, nonce: &[u8; 64]) -> Result<(Vec<u8>, Vec<u8>), String> {
        let mut mem = Mem(vec![0; 0x4000]);
        mem.write(NONCE_GPA, nonce).map_err(|e| format!("{e:?}"))?;
        let op = AttestSingleServiceOp {
            op: AttestServicesOp {
                report_gpa: REPORT_GPA,
                report_size: 0x1000,
                reserved1: [0; 4],
                nonce_gpa: NONCE_GPA,
                nonce_size: 64,
                reserved2: [0; 6],
                manifest_gpa: MANIFEST_GPA,
                manifest_size: 0x1000,
                reserved3: [0; 4],
                certificate_gpa: 0,
                certificate_size: 0,
                reserved4: [0; 4],
            },
            guid: VTPM_SERVICE_GUID,
            manifest_version: 0,
            reserved: [0; 4],
        };
        mem.write(OP_GPA, &op.to_bytes())
            .map_err(|e| format!("{e:?}"))?;
        let mut regs = SvsmRegs {
            rax: (1 << 32) | 1,
            rcx: OP_GPA,
            ..SvsmRegs::default()
        };
        let rax = self.svc.handle_call(&mut mem, &mut regs);
        if rax != SVSM_SUCCESS {
            return Err(format!("SVSM_ATTEST_SINGLE_SERVICE: {rax:#x}"));
        }
        let mut report = vec![0u8; regs.r8 as usize];
        mem.read(REPORT_GPA, &mut report)
            .map_err(|e| format!("{e:?}"))?;
        let mut manifest = vec![0u8; regs.rcx as usize];
        mem.read(MANIFEST_GPA, &mut manifest)
            .map_err(|e| format!("{e:?}"))?;
        Ok((report, manifest))
    }

    fn activate(&mut self, id: &[u8], secret: &[u8]) -> Result<Vec<u8>, String> {
        let (ak, _) = self.ak()?;
        let ek = self.svc.ek();
        let (ek_handle, h3) = (ek.handle(), ek.template() == EkTemplate::EccP384H3);
        // The EK's authPolicy in a policy session of its nameAlg (TCG EK Credential Profile
        // §B.6): H-3 PolicySecret(endorsement), PolicyOR(A, C) with SHA-384; L-1 and L-2
        // PolicySecret(endorsement) alone with SHA-256.
        let (digest_size, hash_alg) = if h3 { (48, 0x0C) } else { (32, 0x0B) };
        let mut p = Vec::new();
        tpm2b(&mut p, &vec![0x11; digest_size]);
        p.extend([0, 0, 0x01, 0x00, 0x10, 0x00, hash_alg]);
        let cmd = command(0x176, &[RH_NULL, RH_NULL], &[], &p);
        let r = self.tpm(&cmd)?;
        if r[6..10] != [0, 0, 0, 0] {
            return Err("StartAuthSession failed".into());
        }
        let session = u32::from_be_bytes(r[10..14].try_into().unwrap_or_default());
        let cmd = command(
            0x151,
            &[RH_ENDORSEMENT, session],
            &[(RS_PW, 0)],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        self.ok(&cmd, 0, "PolicySecret")?;
        if h3 {
            let mut p = 2u32.to_be_bytes().to_vec();
            tpm2b(&mut p, &unhex(POLICY_A_SHA384));
            tpm2b(&mut p, &unhex(POLICY_C_SHA384));
            self.ok(&command(0x171, &[session], &[], &p), 0, "PolicyOR")?;
        }
        let mut p = Vec::new();
        tpm2b(&mut p, id);
        tpm2b(&mut p, secret);
        let cmd = command(0x147, &[ak, ek_handle], &[(RS_PW, 0), (session, 0)], &p);
        let r = self.ok(&cmd, 0, "ActivateCredential")?;
        let n = u16::from_be_bytes([r[0], r[1]]) as usize;
        Ok(r[2..2 + n].to_vec())
    }

    fn quote(&mut self, nonce: &[u8], pcrs: &[u32]) -> Result<(Vec<u8>, Vec<u8>), String> {
        let (ak, _) = self.ak()?;
        let mut bitmap = [0u8; 3];
        for &i in pcrs {
            bitmap[(i / 8) as usize] |= 1 << (i % 8);
        }
        let mut p = Vec::new();
        tpm2b(&mut p, nonce);
        p.extend([0x00, 0x18, 0x00, 0x0B]);
        p.extend(1u32.to_be_bytes());
        p.extend([0x00, 0x0B, 3]);
        p.extend(bitmap);
        let r = self.ok(&command(0x158, &[ak], &[(RS_PW, 0)], &p), 0, "Quote")?;
        let n = u16::from_be_bytes([r[0], r[1]]) as usize;
        let msg = r[2..2 + n].to_vec();
        // TPMT_SIGNATURE: sigAlg, hash, r (TPM2B), s (TPM2B).
        let rest = &r[2 + n..];
        let rn = u16::from_be_bytes([rest[4], rest[5]]) as usize;
        let sn = u16::from_be_bytes([rest[6 + rn], rest[7 + rn]]) as usize;
        Ok((msg, rest[..8 + rn + sn].to_vec()))
    }
}

/// The host between the verifier and the VM, honest unless told to tamper.
pub struct Host {
    /// The attested VM.
    pub vm: SimVm,
    /// Another VM on the same kind of machine (for the swap attacks).
    pub other: Option<SimVm>,
    /// The attack.
    pub tamper: Option<Tamper>,
}

/// The forged VCEK key of `--tamper root`.
fn forged_vcek() -> p384::ecdsa::SigningKey {
    crate::amdsp::AmdSp::derived_key(b"host-sim forged vcek")
}

impl Attester for Host {
    fn amd_certificates(&mut self) -> Result<AmdCertificates, String> {
        use crate::amd_chain::sim;
        use platform_snp::report::{GUID_ARK, GUID_ASK, GUID_VCEK};
        if self.tamper == Some(Tamper::Root) {
            let point = crate::amdsp::sec1_point(forged_vcek().verifying_key());
            let config = self.vm.sp.lock().config().clone();
            return Ok(AmdCertificates {
                vcek: sim::issue_vcek(
                    sim::FORGED_ASK_KEY_PEM,
                    sim::FORGED_ASK_DER,
                    &point,
                    &config,
                )?,
                ask: sim::FORGED_ASK_DER.to_vec(),
                ark: sim::FORGED_ARK_DER.to_vec(),
            });
        }
        let mut sp = self.vm.sp.lock();
        let mut get = |guid: &[u8; 16], what: &str| {
            sp.certificate(guid)
                .ok_or_else(|| format!("no {what} certificate in the host's table"))
        };
        Ok(AmdCertificates {
            vcek: get(&GUID_VCEK, "VCEK")?,
            ask: get(&GUID_ASK, "ASK")?,
            ark: get(&GUID_ARK, "ARK")?,
        })
    }
    fn svsm_attest(&mut self, nonce: &[u8; 64]) -> Result<(Vec<u8>, Vec<u8>), String> {
        match (self.tamper, &mut self.other) {
            (Some(Tamper::Root), _) => {
                // A report the host made: another launch measurement, signed with its key.
                let (mut report, manifest) = self.vm.attest(nonce)?;
                report[0x90..0xC0].copy_from_slice(&Sha384::digest(b"the host's firmware"));
                crate::amdsp::AmdSp::sign_report_with(&forged_vcek(), &mut report);
                Ok((report, manifest))
            }
            (Some(Tamper::Ek), Some(other)) => other.attest(nonce),
            (Some(Tamper::Nonce), _) => self.vm.attest(&[0x5A; 64]),
            (Some(Tamper::Report), _) => {
                let (mut report, manifest) = self.vm.attest(nonce)?;
                report[0x90] ^= 1;
                Ok((report, manifest))
            }
            _ => self.vm.attest(nonce),
        }
    }
    fn nv_read(&mut self, index: u32) -> Result<Vec<u8>, String> {
        match (self.tamper, &mut self.other) {
            (Some(Tamper::EkCert), Some(other))
                if index == self.vm.svc.ek().template().certificate_index() =>
            {
                other.read_nv(index)
            }
            _ => self.vm.read_nv(index),
        }
    }
    fn ak_public(&mut self) -> Result<Vec<u8>, String> {
        match (self.tamper, &mut self.other) {
            (Some(Tamper::Ak), Some(other)) => Ok(other.ak()?.1),
            _ => Ok(self.vm.ak()?.1),
        }
    }
    fn activate_credential(&mut self, id: &[u8], secret: &[u8]) -> Result<Vec<u8>, String> {
        match (self.tamper, &mut self.other) {
            (Some(Tamper::Ak), Some(other)) => other.activate(id, secret),
            _ => self.vm.activate(id, secret),
        }
    }
    fn quote(&mut self, nonce: &[u8], pcrs: &[u32]) -> Result<(Vec<u8>, Vec<u8>), String> {
        match (self.tamper, &mut self.other) {
            (Some(Tamper::Ak), Some(other)) => other.quote(nonce, pcrs),
            _ => self.vm.quote(nonce, pcrs),
        }
    }
    fn event_log(&mut self) -> Result<Vec<u8>, String> {
        let mut log = self.vm.log.clone();
        if self.tamper == Some(Tamper::EventLog) {
            // Claim the reference kernel was measured.
            let good = Components::reference(false).events();
            for (e, g) in log.events.iter_mut().zip(good) {
                *e = g;
            }
        }
        Ok(log.to_bytes())
    }
}

// ---- the command --------------------------------------------------------------------------------

/// `host-sim attest`: boot, measure and attest a simulated SEV-SNP VM end to end.
#[derive(Debug, Parser)]
#[command(name = "host-sim attest")]
pub struct Args {
    /// Machine seed (VCEK, chip, launch measurement, vTPM entropy): reproducible runs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The EK the firmware creates (TCG EK Credential Profile): H-3 P-384, L-2 P-256 or L-1
    /// RSA-2048 (COCONUT-SVSM's EK). The manifest is its TPMT_PUBLIC either way.
    #[arg(long, value_enum, default_value_t = EkKind::Ecc384)]
    pub ek: EkKind,
    /// Print the appraisal as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the artifacts a third party checks with their own tools into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Demonstrate an attack; the verifier must name the failing check.
    #[arg(long, value_enum)]
    pub tamper: Option<Tamper>,
    /// The reference policy (JSON); default: the reference image of this seed's machine.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// After attesting, keep serving the attested vTPM on the Microsoft TPM simulator protocol
    /// (command port PORT, platform port PORT + 1, on 127.0.0.1; 0 picks a free pair) until a
    /// client sends STOP: `tpm2_createek -T mssim:port=PORT -G ecc384 …` (`-G ecc` with
    /// `--ek ecc256`, `-G rsa` with `--ek rsa2048`) regenerates the EK of manifest.bin.
    #[arg(long, value_name = "PORT")]
    pub serve: Option<u16>,
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
pub struct Output<'a> {
    /// The machine seed.
    pub seed: u64,
    /// The attack, if any.
    pub tamper: Option<Tamper>,
    /// The EK template.
    pub ek: EkKind,
    /// Sizes and handles of what the firmware made.
    pub boot: BootInfo,
    /// The verifier's result.
    pub appraisal: &'a Appraisal,
    /// Milliseconds from launch to verdict.
    pub boot_to_verdict_ms: f64,
}

/// What the firmware made at boot.
#[derive(Debug, Serialize)]
pub struct BootInfo {
    /// Launch measurement (hex).
    pub launch_measurement: String,
    /// The EK's handle (persistent, or transient for P-256).
    pub ek_handle: String,
    /// The EK certificate's NV index.
    pub ek_cert_index: String,
    /// EK certificate size.
    pub ek_cert_bytes: usize,
    /// CA certificate size.
    pub ca_cert_bytes: usize,
    /// Events measured.
    pub events: usize,
}

/// Everything one run produced.
pub struct Run {
    /// The appraisal.
    pub appraisal: Appraisal,
    /// The artifacts.
    pub collected: Collected,
    /// The host (and the VMs).
    pub host: Host,
    /// Milliseconds from launch to verdict.
    pub ms: f64,
}

/// Boot with the EK `ek`, measure and verify once.
pub fn run(
    seed: u64,
    ek: EkKind,
    tamper: Option<Tamper>,
    policy: &ReferencePolicy,
) -> Result<Run, String> {
    let start = Instant::now();
    // A different kernel boots: logged faithfully (kernel), or hidden by a rewritten log
    // (event-log).
    let components =
        Components::reference(matches!(tamper, Some(Tamper::Kernel | Tamper::EventLog)));
    let vm = SimVm::boot(seed, seed, tamper == Some(Tamper::Launch), ek, &components)?;
    let other = match tamper {
        Some(Tamper::Ek | Tamper::EkCert | Tamper::Ak) => {
            // Another VM on the same machine: its own vTPM seeds.
            Some(SimVm::boot(
                seed,
                !seed,
                false,
                ek,
                &Components::reference(false),
            )?)
        }
        _ => None,
    };
    let mut host = Host { vm, other, tamper };
    let mut os = SimPlatform::new();
    let mut random = |b: &mut [u8]| {
        let _ = os.fill_entropy(b);
    };
    let (appraisal, collected) = verifier::verify(&mut host, &[SIMULATED_ARK], policy, &mut random);
    Ok(Run {
        appraisal,
        collected,
        host,
        ms: start.elapsed().as_secs_f64() * 1000.0,
    })
}

/// The PEM SubjectPublicKeyInfo of an ECC or RSA TPMT_PUBLIC (what `openssl x509 -pubkey`
/// prints for a certificate of that key).
fn spki_pem(public: &[u8]) -> Option<String> {
    use x509_cert::der::asn1::{BitString, ObjectIdentifier};
    use x509_cert::der::{Any, Decode, EncodePem, pem::LineEnding};
    use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
    if let Some(verifier::EkPublic::Rsa { n, e, .. }) = verifier::parse_ek_public(public) {
        use rsa::pkcs8::EncodePublicKey;
        let key = rsa::PublicKey::new(
            rsa::BoxedUint::from_be_slice(&n, (n.len() * 8) as u32).ok()?,
            rsa::BoxedUint::from(u64::from(e)),
        )
        .ok()?;
        let der = key.to_public_key_der().ok()?;
        return SubjectPublicKeyInfoOwned::from_der(der.as_bytes())
            .ok()?
            .to_pem(LineEnding::LF)
            .ok();
    }
    let (x, y) = verifier::ecc_public_xy(public)?;
    let curve = match x.len() {
        32 => "1.2.840.10045.3.1.7",
        _ => "1.3.132.0.34",
    };
    let spki = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new("1.2.840.10045.2.1").ok()?,
            parameters: Some(Any::encode_from(&ObjectIdentifier::new(curve).ok()?).ok()?),
        },
        subject_public_key: BitString::from_bytes(&[&[4u8][..], &x, &y].concat()).ok()?,
    };
    spki.to_pem(LineEnding::LF).ok()
}

/// A PCR file as tpm2-tools 5.x writes and `tpm2_checkquote -f` reads it (its default
/// "serialized" format: the C structures in little-endian host layout): TPML_PCR_SELECTION
/// (u32 count, 16 × TPMS_PCR_SELECTION of 8 bytes: u16 hash, u8 sizeofSelect, 4 select bytes,
/// 1 padding byte), u32 count of TPML_DIGEST, and each TPML_DIGEST (u32 count, 8 × TPM2B_DIGEST
/// of u16 size + 64 bytes). PCR_Read answers at most 8 digests, so the values go 8 to a list.
/// One SHA-256 bank with `pcrs` selected (each below 24), `values` in PCR order.
pub fn tpm2_tools_pcrs(pcrs: &[u32], values: &[[u8; 32]]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(1u32.to_le_bytes());
    let mut select = [0u8; 4];
    for &i in pcrs {
        if let Some(b) = select.get_mut((i / 8) as usize) {
            *b |= 1 << (i % 8);
        }
    }
    for bank in 0..16 {
        if bank == 0 {
            out.extend(eventlog::ALG_SHA256.to_le_bytes());
            out.push(3);
            out.extend(select);
            out.push(0);
        } else {
            out.extend([0; 8]);
        }
    }
    let lists: Vec<&[[u8; 32]]> = values.chunks(8).collect();
    out.extend((lists.len() as u32).to_le_bytes());
    for list in lists {
        out.extend((list.len() as u32).to_le_bytes());
        for slot in 0..8 {
            match list.get(slot) {
                Some(v) => {
                    out.extend(32u16.to_le_bytes());
                    out.extend(v);
                    out.extend([0; 32]);
                }
                None => out.extend([0; 66]),
            }
        }
    }
    out
}

/// Write the artifacts under the names third-party tools are pointed at.
pub fn write_artifacts(dir: &Path, r: &Run, policy: &ReferencePolicy) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let c = &r.collected;
    let w = |name: &str, data: &[u8]| std::fs::write(dir.join(name), data);
    w("report.bin", &c.report)?;
    w("vcek.der", &c.amd.vcek)?;
    w("ask.der", &c.amd.ask)?;
    w("ark.der", &c.amd.ark)?;
    w("eventlog.bin", &c.event_log)?;
    w("quote.msg", &c.quote_msg)?;
    w("quote.sig", &c.quote_sig)?;
    let events = eventlog::parse(&c.event_log).unwrap_or_default();
    let (b256, _) = eventlog::replay(&events);
    let values: Vec<[u8; 32]> = policy
        .quoted_pcrs
        .iter()
        .map(|&i| b256[i as usize])
        .collect();
    w("quote.pcrs", &tpm2_tools_pcrs(&policy.quoted_pcrs, &values))?;
    w(
        "ak.pem",
        spki_pem(&c.ak_public).unwrap_or_default().as_bytes(),
    )?;
    w(
        "ek.pem",
        spki_pem(&c.manifest).unwrap_or_default().as_bytes(),
    )?;
    w("ek-cert.der", &c.ek_cert)?;
    w("ca-cert.der", &c.ca_cert)?;
    w("nonce.bin", &c.quote_nonce)?;
    w("svsm-nonce.bin", &c.nonce)?;
    w("manifest.bin", &c.manifest)?;
    w(
        "policy.json",
        serde_json::to_string_pretty(policy)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    Ok(())
}

/// The readable report.
pub fn render(r: &Run, seed: u64, tamper: Option<Tamper>) -> String {
    let mut s = String::new();
    let c = &r.collected;
    let vm = &r.host.vm;
    let cfg = vm.sp.lock().config().clone();
    s += &format!(
        "boot     simulated SEV-SNP VM (seed {seed}{}): launch measurement {}…\n",
        tamper
            .map(|t| format!(", tamper {t:?}"))
            .unwrap_or_default(),
        &hex(&cfg.measurement)[..24]
    );
    let ek = vm.svc.ek();
    let ek_label = match ek.template() {
        EkTemplate::EccP384H3 => "P-384",
        EkTemplate::EccP256L2 => "P-256",
        EkTemplate::RsaL1 => "RSA-2048",
    };
    s += &format!(
        "         vTPM at VMPL0: EK {ek_label} {:#010x}, EK cert {} B at NV 0x{:08X}, CA cert {} B at NV 0x{:08X}\n",
        ek.handle(),
        c.ek_cert.len(),
        ek.template().certificate_index(),
        c.ca_cert.len(),
        CA_CERT_INDEX
    );
    s += &format!(
        "measure  {} events through the SVSM vTPM protocol into SHA-256 and SHA-384 PCRs\n",
        vm.log.events.len()
    );
    s += &format!(
        "verify   trusting only the pinned AMD root ({}) and the reference policy\n",
        SIMULATED_ARK.name
    );
    for ch in &r.appraisal.checks {
        s += &format!(
            "  {} {:<24} {}\n",
            if ch.ok { "ok  " } else { "FAIL" },
            ch.name,
            ch.detail
        );
    }
    let passed = r.appraisal.checks.iter().filter(|c| c.ok).count();
    s += &format!(
        "verdict  {} ({passed}/{} checks) in {:.0} ms from launch\n",
        if r.appraisal.verdict {
            "TRUSTED"
        } else {
            "NOT TRUSTED"
        },
        r.appraisal.checks.len(),
        r.ms
    );
    if let Some(f) = r.appraisal.first_failure() {
        s += &format!("failed   {}: {}\n", f.name, f.detail);
    }
    s
}

/// `host-sim attest ARGS...`.
pub fn main(args: &[String]) -> ExitCode {
    let args = match Args::try_parse_from(
        core::iter::once("host-sim attest".to_string()).chain(args.iter().cloned()),
    ) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let policy = match &args.policy {
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(p) => p,
            Err(e) => {
                eprintln!("host-sim attest: {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
        None => reference_policy(args.seed),
    };
    let r = match run(args.seed, args.ek, args.tamper, &policy) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("host-sim attest: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(dir) = &args.out
        && let Err(e) = write_artifacts(dir, &r, &policy)
    {
        eprintln!("host-sim attest: {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let o = Output {
            seed: args.seed,
            tamper: args.tamper,
            ek: args.ek,
            boot: BootInfo {
                launch_measurement: hex(&r.host.vm.sp.lock().config().measurement),
                ek_handle: format!("{:#010x}", r.host.vm.svc.ek().handle()),
                ek_cert_index: format!(
                    "{:#010x}",
                    r.host.vm.svc.ek().template().certificate_index()
                ),
                ek_cert_bytes: r.collected.ek_cert.len(),
                ca_cert_bytes: r.collected.ca_cert.len(),
                events: r.host.vm.log.events.len(),
            },
            appraisal: &r.appraisal,
            boot_to_verdict_ms: r.ms,
        };
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&o).unwrap_or_default()
        );
    } else {
        let _ = write!(out, "{}", render(&r, args.seed, args.tamper));
    }
    let _ = out.flush();
    drop(out);
    let verdict = r.appraisal.verdict;
    if let Some(port) = args.serve
        && let Err(e) = serve(r, port)
    {
        eprintln!("host-sim attest: --serve {port}: {e}");
        return ExitCode::FAILURE;
    }
    if verdict {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `--serve`: hand the attested vTPM (state, seeds, EK, PCRs as measured) to an mssim server
/// and serve until a client sends STOP.
fn serve(r: Run, port: u16) -> std::io::Result<()> {
    let (tpm, _ek) = r.host.vm.svc.into_parts();
    let server = crate::mssim::Server::bind_tpm(port, tpm)?.quiet(true);
    let port = server.command_port();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "serving  the attested vTPM on mssim port {port} (platform {}): tpm2-tools -T mssim:host=127.0.0.1,port={port}",
        port.saturating_add(1)
    )?;
    out.flush()?;
    drop(out);
    server.run()
}
