//! A simulated AMD Secure Processor (and the bit of hypervisor in front of it) for SEV-SNP guest
//! requests, written independently of `platform-snp`'s message code from the AMD tables (AMD
//! 56860 §8.26 Tables 98/100, Tables 21/22/25; AMD 56421 §4.1.8), so that the two check each
//! other.
//!
//! It holds a VCEK P-384 key, VMPCK0-3, a launch measurement, a guest policy, a chip id and TCB
//! values. Each request is checked as the firmware would (header fields, the exact next
//! sequence number for that VMPCK, the AES-256-GCM tag, VMPL permissions: a VMPCKn request may
//! only ask for VMPL n..3), answered with a version-3 ATTESTATION_REPORT signed by the VCEK, and
//! encrypted back. A rejected request leaves the page and the counter untouched and returns a
//! non-zero firmware status (0x16), as the hypervisor would pass it in SW_EXITINFO2.
//!
//! Faults can be injected for tests: BUSY, INVALID_LEN, a corrupted tag, a replayed or skipped
//! sequence number, a response under the wrong key, a firmware error.

// Simulator code: every cast below is of a value bounded by a page or a 4-entry table.
#![allow(clippy::cast_possible_truncation)]

use core::fmt;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit, Nonce, Tag};
use p384::ecdsa::signature::hazmat::PrehashSigner;
use p384::ecdsa::{Signature, SigningKey, VerifyingKey};
use platform_snp::transport::{GuestRequestTransport, TransportError};
use sha2::{Digest, Sha384, Sha512};

/// Page size.
pub const PAGE: usize = 4096;
/// PSP status INVALID_PARAM.
pub const STATUS_INVALID_PARAM: u32 = 0x16;
/// PSP status INVALID_KEY.
pub const STATUS_INVALID_KEY: u32 = 0x27;
/// SW_EXITINFO2 for BUSY (vmm_error 2).
pub const EXIT_BUSY: u64 = 2 << 32;
/// SW_EXITINFO2 for INVALID_LEN (vmm_error 1).
pub const EXIT_INVALID_LEN: u64 = 1 << 32;
/// Size of an ATTESTATION_REPORT.
pub const REPORT_SIZE: usize = 0x4A0;
/// MSG_REPORT_RSP size.
pub const REPORT_RSP_SIZE: usize = 0x4C0;

/// A fault to inject into the next request(s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The hypervisor answers BUSY this many times (the request is not forwarded).
    Busy(u32),
    /// The hypervisor answers INVALID_LEN with this page count (on any request).
    InvalidLen(u64),
    /// The request is processed but one bit of the response tag is flipped.
    CorruptTag,
    /// The request is processed, but the host hands back the previous response page.
    ReplayResponse,
    /// The request is processed, but the response carries sequence number request + 3.
    SkipSeqno,
    /// The request is processed, but the response is encrypted under another key.
    WrongKey,
    /// The hypervisor fails the request with this SW_EXITINFO2 (not forwarded).
    Exit(u64),
}

/// How a request failed, as the GHCB would report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpExit {
    /// SW_EXITINFO2.
    pub exitinfo2: u64,
    /// RBX (pages needed, for INVALID_LEN).
    pub rbx: u64,
}

/// The platform's identity and the guest's launch parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AmdSpConfig {
    /// Launch MEASUREMENT.
    pub measurement: [u8; 48],
    /// Guest POLICY.
    pub policy: u64,
    /// CHIP_ID.
    pub chip_id: [u8; 64],
    /// TCB_VERSION for current / committed / launch / reported TCB (Milan layout).
    pub tcb: u64,
    /// PLATFORM_INFO.
    pub platform_info: u64,
    /// HOST_DATA.
    pub host_data: [u8; 32],
    /// FAMILY_ID.
    pub family_id: [u8; 16],
    /// IMAGE_ID.
    pub image_id: [u8; 16],
    /// GUEST_SVN.
    pub guest_svn: u32,
    /// ID_KEY_DIGEST.
    pub id_key_digest: [u8; 48],
    /// Firmware (build, minor, major).
    pub firmware: (u8, u8, u8),
    /// CPUID family, model, stepping (0x19 = Milan / Genoa).
    pub cpuid: (u8, u8, u8),
}

impl AmdSpConfig {
    /// Plausible values derived from `seed`.
    pub fn from_seed(seed: u64) -> Self {
        let h = |label: &str| Sha512::digest([label.as_bytes(), &seed.to_le_bytes()].concat());
        let mut measurement = [0u8; 48];
        measurement.copy_from_slice(&h("measurement")[..48]);
        let mut chip_id = [0u8; 64];
        chip_id.copy_from_slice(&h("chip id"));
        let mut host_data = [0u8; 32];
        host_data.copy_from_slice(&h("host data")[..32]);
        Self {
            measurement,
            // ABI 1.55, SMT allowed, reserved bit 17 set.
            policy: 0x0003_0137,
            chip_id,
            // BL 3, TEE 0, SNP 8, microcode 115 (Milan layout).
            tcb: u64::from_le_bytes([3, 0, 0, 0, 0, 0, 8, 115]),
            // SMT_EN | TSME_EN.
            platform_info: 0x3,
            host_data,
            family_id: [0; 16],
            image_id: [0; 16],
            guest_svn: 0,
            id_key_digest: [0; 48],
            firmware: (23, 55, 1),
            cpuid: (0x19, 0x01, 0x01),
        }
    }
}

/// The simulated AMD-SP.
pub struct AmdSp {
    vcek: SigningKey,
    vmpck: [[u8; 32]; 4],
    counters: [u64; 4],
    config: AmdSpConfig,
    report_id: [u8; 32],
    faults: VecDeque<Fault>,
    last_response: Option<Box<[u8; PAGE]>>,
    certs: Vec<u8>,
    /// The default table (VCEK, ASK, ARK) is issued on first use: an RSA-4096 signature.
    certs_pending: bool,
    processed: u64,
    rejected: u64,
}

impl fmt::Debug for AmdSp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmdSp")
            .field("vcek", &"[REDACTED]")
            .field("vmpck", &"[REDACTED]")
            .field("counters", &self.counters)
            .field("processed", &self.processed)
            .field("rejected", &self.rejected)
            .finish_non_exhaustive()
    }
}

fn derive_signing_key(seed: u64) -> SigningKey {
    let mut counter = 0u32;
    loop {
        let d = Sha384::digest(
            [
                b"host-sim amd-sp vcek".as_slice(),
                &seed.to_le_bytes(),
                &counter.to_le_bytes(),
            ]
            .concat(),
        );
        if let Ok(k) = SigningKey::from_slice(&d) {
            return k;
        }
        counter = counter.wrapping_add(1);
    }
}

/// A P-384 public key as a SEC1 uncompressed point (`04 ‖ X ‖ Y`, 97 bytes).
pub fn sec1_point(vk: &VerifyingKey) -> Vec<u8> {
    use p384::elliptic_curve::point::AffineCoordinates;
    let a = vk.as_affine();
    [&[0x04][..], &a.x(), &a.y()].concat()
}

fn le_u16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn le_u32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap_or([0; 4]))
}

fn le_u64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap_or([0; 8]))
}

fn gcm_iv(seqno: u64) -> Nonce<Aes256Gcm> {
    let mut iv = [0u8; 12];
    iv[..8].copy_from_slice(&seqno.to_le_bytes());
    Nonce::<Aes256Gcm>::from(iv)
}

fn fw_error(status: u32) -> SpExit {
    SpExit {
        exitinfo2: u64::from(status),
        rbx: 0,
    }
}

impl AmdSp {
    /// A simulated AMD-SP whose keys and identity derive from `seed` (deterministic).
    pub fn new(seed: u64) -> Self {
        let mut vmpck = [[0u8; 32]; 4];
        for (i, k) in vmpck.iter_mut().enumerate() {
            let d = Sha512::digest(
                [
                    b"host-sim amd-sp vmpck".as_slice(),
                    &seed.to_le_bytes(),
                    &[i as u8],
                ]
                .concat(),
            );
            k.copy_from_slice(&d[..32]);
        }
        let mut report_id = [0u8; 32];
        report_id.copy_from_slice(
            &Sha512::digest([b"host-sim report id".as_slice(), &seed.to_le_bytes()].concat())[..32],
        );
        Self {
            vcek: derive_signing_key(seed),
            vmpck,
            counters: [0; 4],
            config: AmdSpConfig::from_seed(seed),
            report_id,
            faults: VecDeque::new(),
            last_response: None,
            certs: Vec::new(),
            certs_pending: true,
            processed: 0,
            rejected: 0,
        }
    }

    /// The certificate table the host hands out with extended requests, by default the chain
    /// AMD's KDS serves: this chip's VCEK certificate (issued now by the simulated ASK, for the
    /// VCEK key, CHIP_ID and TCB of the configuration), the ASK and the ARK
    /// ([`crate::amd_chain::sim`]).
    fn ensure_certificates(&mut self) {
        if !self.certs_pending {
            return;
        }
        use crate::amd_chain::sim;
        use platform_snp::report::{GUID_ARK, GUID_ASK, GUID_VCEK};
        let vcek = sim::issue_vcek(
            sim::ASK_KEY_PEM,
            sim::ASK_DER,
            &self.vcek_public_sec1(),
            &self.config,
        )
        .unwrap_or_default();
        self.set_certificates(&[
            (GUID_VCEK, vcek),
            (GUID_ASK, sim::ASK_DER.to_vec()),
            (GUID_ARK, sim::ARK_DER.to_vec()),
        ]);
    }

    /// VMPCK `n` (what the launch puts in the guest's secrets page).
    pub fn vmpck(&self, n: usize) -> [u8; 32] {
        self.vmpck[n]
    }

    /// The VCEK public key as a SEC1 uncompressed point (`04 ‖ X ‖ Y`, 97 bytes).
    pub fn vcek_public_sec1(&self) -> Vec<u8> {
        sec1_point(self.vcek.verifying_key())
    }

    /// The VCEK verifying key.
    pub fn vcek_verifying_key(&self) -> VerifyingKey {
        *self.vcek.verifying_key()
    }

    /// The VCEK certificate (DER, signed by the simulated ASK) the host returns with extended
    /// requests.
    pub fn vcek_certificate(&mut self) -> Option<Vec<u8>> {
        self.certificate(&platform_snp::report::GUID_VCEK)
    }

    /// The certificate under `guid` in the table the host returns with extended requests
    /// (`GUID_VCEK`, `GUID_ASK`, `GUID_ARK`).
    pub fn certificate(&mut self, guid: &[u8; 16]) -> Option<Vec<u8>> {
        self.ensure_certificates();
        platform_snp::report::find_cert(&self.certs, guid).map(<[u8]>::to_vec)
    }

    /// Sign a report (bytes 0x000..0x29F) with `key` as the firmware signs with the VCEK:
    /// ECDSA P-384 / SHA-384, R and S little-endian. What a host holding another key (a forged
    /// VCEK) would do.
    pub fn sign_report_with(key: &SigningKey, r: &mut [u8]) {
        let Some(body) = r.get(..0x2A0) else {
            return;
        };
        let digest = Sha384::digest(body);
        // A prehash signature cannot fail for a 48-byte digest with a valid key.
        let sig: Option<Signature> = key.sign_prehash(&digest).ok();
        if let (Some(sig), Some(field)) = (sig, r.get_mut(0x2A0..0x330)) {
            let (rb, sb) = sig.split_bytes();
            field.fill(0);
            for (i, b) in rb.iter().rev().enumerate() {
                field[i] = *b;
            }
            for (i, b) in sb.iter().rev().enumerate() {
                field[72 + i] = *b;
            }
        }
    }

    /// A P-384 signing key derived from `label` (deterministic): a forged VCEK.
    pub fn derived_key(label: &[u8]) -> SigningKey {
        let mut counter = 0u32;
        loop {
            let d = Sha384::digest([label, &counter.to_le_bytes()].concat());
            if let Ok(k) = SigningKey::from_slice(&d) {
                return k;
            }
            counter = counter.wrapping_add(1);
        }
    }

    /// The configuration (measurement, policy, chip id, TCB ...).
    pub fn config(&self) -> &AmdSpConfig {
        &self.config
    }

    /// Change the configuration (before the guest asks for reports).
    pub fn config_mut(&mut self) -> &mut AmdSpConfig {
        &mut self.config
    }

    /// The last sequence number the firmware accepted for VMPCK `n`.
    pub fn counter(&self, n: usize) -> u64 {
        self.counters[n]
    }

    /// Requests processed (answered) and rejected so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.processed, self.rejected)
    }

    /// Queue a fault for the next request(s).
    pub fn inject(&mut self, fault: Fault) {
        self.faults.push_back(fault);
    }

    /// The certificate table (GUID ‖ offset ‖ length entries, a zero entry, the blobs) the
    /// hypervisor returns for extended requests.
    pub fn set_certificates(&mut self, certs: &[([u8; 16], Vec<u8>)]) {
        let header = (certs.len() + 1) * 24;
        let mut table = vec![0u8; header];
        let mut off = header;
        for (i, (guid, blob)) in certs.iter().enumerate() {
            let e = &mut table[i * 24..i * 24 + 24];
            e[..16].copy_from_slice(guid);
            e[16..20].copy_from_slice(&(off as u32).to_le_bytes());
            e[20..24].copy_from_slice(&(blob.len() as u32).to_le_bytes());
            off += blob.len();
        }
        for (_, blob) in certs {
            table.extend_from_slice(blob);
        }
        if certs.is_empty() {
            table.clear();
        }
        self.certs = table;
        self.certs_pending = false;
    }

    /// One SNP_GUEST_REQUEST (or, with `certs`, SNP_EXTENDED_GUEST_REQUEST): the hypervisor's
    /// part (BUSY, INVALID_LEN, the certificate table) and the firmware's.
    pub fn guest_request(
        &mut self,
        request: &[u8; PAGE],
        response: &mut [u8; PAGE],
        certs: Option<&mut [u8]>,
    ) -> Result<(), SpExit> {
        let mut fault = self.faults.pop_front();
        match fault {
            Some(Fault::Busy(n)) => {
                if n > 1 {
                    self.faults.push_front(Fault::Busy(n - 1));
                }
                return Err(SpExit {
                    exitinfo2: EXIT_BUSY,
                    rbx: 0,
                });
            }
            Some(Fault::InvalidLen(pages)) => {
                return Err(SpExit {
                    exitinfo2: EXIT_INVALID_LEN,
                    rbx: pages,
                });
            }
            Some(Fault::Exit(info2)) => {
                return Err(SpExit {
                    exitinfo2: info2,
                    rbx: 0,
                });
            }
            _ => {}
        }
        if certs.is_some() {
            self.ensure_certificates();
        }
        if let Some(buf) = &certs {
            let needed = self.certs.len().div_ceil(PAGE);
            if buf.len() / PAGE < needed {
                // Put the fault back: it was meant for the request that gets through.
                if let Some(f) = fault.take() {
                    self.faults.push_front(f);
                }
                return Err(SpExit {
                    exitinfo2: EXIT_INVALID_LEN,
                    rbx: needed as u64,
                });
            }
        }
        let page = match self.firmware(request, fault) {
            Ok(p) => p,
            Err(e) => {
                self.rejected += 1;
                return Err(e);
            }
        };
        self.processed += 1;
        let mut page = page;
        match fault {
            Some(Fault::CorruptTag) => page[5] ^= 0x10,
            Some(Fault::ReplayResponse) => {
                if let Some(prev) = &self.last_response {
                    page = **prev;
                }
            }
            _ => {}
        }
        self.last_response = Some(Box::new(page));
        *response = page;
        if let Some(buf) = certs {
            buf.fill(0);
            buf[..self.certs.len()].copy_from_slice(&self.certs);
        }
        Ok(())
    }

    /// The firmware: check, decrypt, answer. On failure nothing changes.
    fn firmware(&mut self, req: &[u8; PAGE], fault: Option<Fault>) -> Result<[u8; PAGE], SpExit> {
        let bad = || fw_error(STATUS_INVALID_PARAM);
        // Header (Table 98).
        let algo = req[0x30];
        let hdr_version = req[0x31];
        let hdr_size = le_u16(req, 0x32);
        let msg_type = req[0x34];
        let msg_version = req[0x35];
        let msg_size = usize::from(le_u16(req, 0x36));
        let vmpck_id = usize::from(req[0x3C]);
        let seqno = le_u64(req, 0x20);
        if algo != 1 || hdr_version != 1 || hdr_size != 0x60 || vmpck_id > 3 {
            return Err(bad());
        }
        if msg_size > PAGE - 0x60 || msg_version != 1 {
            return Err(bad());
        }
        // Exactly the next sequence number for this VMPCK; 0 is never valid.
        if seqno == 0 || Some(seqno) != self.counters[vmpck_id].checked_add(1) {
            return Err(bad());
        }
        let key = self.vmpck[vmpck_id];
        if key == [0; 32] {
            return Err(fw_error(STATUS_INVALID_KEY));
        }
        let cipher = Aes256Gcm::new_from_slice(&key).map_err(|_| bad())?;
        let mut payload = req[0x60..0x60 + msg_size].to_vec();
        let tag = Tag::<Aes256Gcm>::try_from(&req[..16]).map_err(|_| bad())?;
        cipher
            .decrypt_inout_detached(
                &gcm_iv(seqno),
                &req[0x30..0x60],
                payload.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| bad())?;
        if msg_type != 5 {
            // Only MSG_REPORT_REQ is simulated.
            return Err(bad());
        }
        if payload.len() != 0x60 {
            return Err(bad());
        }

        // MSG_REPORT_REQ (Table 22) → MSG_REPORT_RSP (Table 25).
        let mut report_data = [0u8; 64];
        report_data.copy_from_slice(&payload[..64]);
        let vmpl = le_u32(&payload, 0x40);
        let key_sel = le_u32(&payload, 0x44);
        let mut rsp = vec![0u8; REPORT_RSP_SIZE];
        let status = if (vmpl as usize) < vmpck_id
            || vmpl > 3
            || key_sel & !3 != 0
            || payload[0x48..].iter().any(|&b| b != 0)
        {
            STATUS_INVALID_PARAM
        } else if key_sel & 3 == 2 {
            // No VLEK installed.
            STATUS_INVALID_KEY
        } else if key_sel & 3 == 3 {
            STATUS_INVALID_PARAM
        } else {
            0
        };
        rsp[..4].copy_from_slice(&status.to_le_bytes());
        if status == 0 {
            rsp[4..8].copy_from_slice(&(REPORT_SIZE as u32).to_le_bytes());
            let report = self.build_report(&report_data, vmpl);
            rsp[0x20..].copy_from_slice(&report);
        }

        // Response header: seqno + 1, type + 1, same version and VMPCK, non-zero reserved
        // bytes (as real PSPs write them).
        let resp_seqno = match fault {
            Some(Fault::SkipSeqno) => seqno + 3,
            _ => seqno + 1,
        };
        let mut page = [0u8; PAGE];
        page[0x20..0x28].copy_from_slice(&resp_seqno.to_le_bytes());
        page[0x28..0x30].copy_from_slice(&[0xA5; 8]);
        page[0x30] = 1;
        page[0x31] = 1;
        page[0x32..0x34].copy_from_slice(&0x60u16.to_le_bytes());
        page[0x34] = msg_type + 1;
        page[0x35] = msg_version;
        page[0x36..0x38].copy_from_slice(&(REPORT_RSP_SIZE as u16).to_le_bytes());
        page[0x38..0x3C].copy_from_slice(&[0x5A; 4]);
        page[0x3C] = vmpck_id as u8;
        page[0x40] = 0x01;
        let key = match fault {
            Some(Fault::WrongKey) => self.vmpck[(vmpck_id + 1) % 4],
            _ => key,
        };
        let cipher = Aes256Gcm::new_from_slice(&key).map_err(|_| bad())?;
        let (hdr, body) = page.split_at_mut(0x60);
        let ct = &mut body[..REPORT_RSP_SIZE];
        ct.copy_from_slice(&rsp);
        let tag = cipher
            .encrypt_inout_detached(&gcm_iv(resp_seqno), &hdr[0x30..0x60], ct.into())
            .map_err(|_| bad())?;
        hdr[..16].copy_from_slice(&tag);
        self.counters[vmpck_id] = seqno + 1;
        Ok(page)
    }

    /// A version-3 ATTESTATION_REPORT (Table 21), signed with the VCEK.
    fn build_report(&self, report_data: &[u8; 64], vmpl: u32) -> [u8; REPORT_SIZE] {
        let c = &self.config;
        let mut r = [0u8; REPORT_SIZE];
        r[0x000..0x004].copy_from_slice(&3u32.to_le_bytes());
        r[0x004..0x008].copy_from_slice(&c.guest_svn.to_le_bytes());
        r[0x008..0x010].copy_from_slice(&c.policy.to_le_bytes());
        r[0x010..0x020].copy_from_slice(&c.family_id);
        r[0x020..0x030].copy_from_slice(&c.image_id);
        r[0x030..0x034].copy_from_slice(&vmpl.to_le_bytes());
        r[0x034..0x038].copy_from_slice(&1u32.to_le_bytes());
        r[0x038..0x040].copy_from_slice(&c.tcb.to_le_bytes());
        r[0x040..0x048].copy_from_slice(&c.platform_info.to_le_bytes());
        // KEY_INFO: signed by the VCEK, no author key, chip key not masked.
        r[0x048..0x04C].copy_from_slice(&0u32.to_le_bytes());
        r[0x050..0x090].copy_from_slice(report_data);
        r[0x090..0x0C0].copy_from_slice(&c.measurement);
        r[0x0C0..0x0E0].copy_from_slice(&c.host_data);
        r[0x0E0..0x110].copy_from_slice(&c.id_key_digest);
        r[0x140..0x160].copy_from_slice(&self.report_id);
        r[0x160..0x180].copy_from_slice(&[0xFF; 32]);
        r[0x180..0x188].copy_from_slice(&c.tcb.to_le_bytes());
        r[0x188] = c.cpuid.0;
        r[0x189] = c.cpuid.1;
        r[0x18A] = c.cpuid.2;
        r[0x1A0..0x1E0].copy_from_slice(&c.chip_id);
        r[0x1E0..0x1E8].copy_from_slice(&c.tcb.to_le_bytes());
        r[0x1E8] = c.firmware.0;
        r[0x1E9] = c.firmware.1;
        r[0x1EA] = c.firmware.2;
        r[0x1EC] = c.firmware.0;
        r[0x1ED] = c.firmware.1;
        r[0x1EE] = c.firmware.2;
        r[0x1F0..0x1F8].copy_from_slice(&c.tcb.to_le_bytes());
        let digest = Sha384::digest(&r[..0x2A0]);
        // A prehash signature cannot fail for a 48-byte digest with a valid key.
        let sig: Option<Signature> = self.vcek.sign_prehash(&digest).ok();
        if let Some(sig) = sig {
            let (rb, sb) = sig.split_bytes();
            let mut rl: Vec<u8> = rb.to_vec();
            let mut sl: Vec<u8> = sb.to_vec();
            rl.reverse();
            sl.reverse();
            r[0x2A0..0x2A0 + 48].copy_from_slice(&rl);
            r[0x2E8..0x2E8 + 48].copy_from_slice(&sl);
        }
        r
    }
}

/// A shareable handle on a simulated AMD-SP: the transport a guest's requester uses, kept
/// alive by the test after the platform has moved into a `Tpm`.
#[derive(Clone, Debug)]
pub struct SimAmdSp(Arc<Mutex<AmdSp>>);

impl SimAmdSp {
    /// A new simulated AMD-SP from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(Arc::new(Mutex::new(AmdSp::new(seed))))
    }

    /// Lock it (to inject faults, read counters, export the VCEK).
    pub fn lock(&self) -> MutexGuard<'_, AmdSp> {
        match self.0.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A transport for a guest requester.
    pub fn channel(&self) -> SimGuestChannel {
        SimGuestChannel {
            sp: self.clone(),
            sends: Arc::new(Mutex::new(0)),
            wiped: Arc::new(Mutex::new([false; 4])),
        }
    }
}

/// The guest side of the simulated GHCB: a [`GuestRequestTransport`] into a [`SimAmdSp`]. It
/// records how many pages were sent and which VMPCKs the requester wiped.
#[derive(Clone, Debug)]
pub struct SimGuestChannel {
    sp: SimAmdSp,
    sends: Arc<Mutex<u64>>,
    wiped: Arc<Mutex<[bool; 4]>>,
}

impl SimGuestChannel {
    /// How many times a page was handed to the "hypervisor".
    pub fn sends(&self) -> u64 {
        self.sends.lock().map(|g| *g).unwrap_or(0)
    }

    /// Whether the requester reported VMPCK `n` wiped.
    pub fn wiped(&self, n: usize) -> bool {
        self.wiped.lock().map(|g| g[n]).unwrap_or(false)
    }
}

impl GuestRequestTransport for SimGuestChannel {
    fn guest_request(
        &mut self,
        request: &[u8; PAGE],
        response: &mut [u8; PAGE],
        certs: Option<&mut [u8]>,
    ) -> Result<(), TransportError> {
        if let Ok(mut n) = self.sends.lock() {
            *n += 1;
        }
        // The shared response page is cleared before the exit, as Linux does.
        let mut shared = [0u8; PAGE];
        let r = self.sp.lock().guest_request(request, &mut shared, certs);
        match r {
            Ok(()) => {
                *response = shared;
                Ok(())
            }
            Err(e) => TransportError::from_exit(0, e.exitinfo2, e.rbx),
        }
    }

    fn vmpck_wiped(&mut self, vmpck: u8) {
        if let Ok(mut w) = self.wiped.lock()
            && let Some(f) = w.get_mut(usize::from(vmpck))
        {
            *f = true;
        }
    }
}
