//! Attestation reports: MSG_REPORT_REQ / MSG_REPORT_RSP (AMD 56860 §8.26, Tables 22 and 25) and
//! the ATTESTATION_REPORT structure (AMD 56860 §8.18, Table 21) for versions 2, 3 and 5, with the
//! signature check: ECDSA P-384 over SHA-384 of bytes 0x000..0x29F, R and S little-endian
//! (AMD 56860 Table 139 "ECDSA Signature Format"), against a VCEK public key (AMD 57230).
//!
//! Version 4 is read as version 3 (an inference: no published report of that version is known).

use core::mem::{offset_of, size_of};

use vtpm::crypto::ecc::{Curve, ecdsa_verify, validate_point};
use vtpm::crypto::hash::HashAlg;

use crate::layout::{all_zero, get, put, put_u8, u8_at, u32_at, u64_at};
use crate::msg::MsgType;
use crate::requester::{RequestError, Requester};
use crate::transport::GuestRequestTransport;

/// Size of an ATTESTATION_REPORT (0x4A0).
pub const REPORT_SIZE: usize = 0x4A0;
/// Bytes covered by the signature: 0x000..0x29F.
pub const SIGNED_SIZE: usize = 0x2A0;
/// Size of MSG_REPORT_REQ.
pub const REPORT_REQ_SIZE: usize = 0x60;
/// Size of MSG_REPORT_RSP.
pub const REPORT_RSP_SIZE: usize = 0x4C0;
/// SIGNATURE_ALGO of ECDSA P-384 with SHA-384 (AMD 56860 Table 137).
pub const SIG_ALGO_ECDSA_P384_SHA384: u32 = 1;
/// Size of one scalar field (R or S) of the signature, zero-padded (Table 139).
pub const SIG_COMPONENT_SIZE: usize = 72;
/// Size of a P-384 scalar or coordinate.
pub const P384_SIZE: usize = 48;

/// MSG_REPORT_REQ (AMD 56860 Table 22), 0x60 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportRequest {
    /// REPORT_DATA: guest data bound into the report.
    pub report_data: [u8; 64],
    /// VMPL: the VMPL to put in the report; at least the requester's VMPL, at most 3.
    pub vmpl: u32,
    /// Bits 1:0 KEY_SEL: 0 VLEK if installed else VCEK, 1 VCEK, 2 VLEK; other bits reserved.
    pub key_sel: u32,
    /// Reserved, must be zero.
    pub reserved: [u8; 24],
}

const _: () = {
    assert!(size_of::<ReportRequest>() == REPORT_REQ_SIZE);
    assert!(offset_of!(ReportRequest, report_data) == 0x00);
    assert!(offset_of!(ReportRequest, vmpl) == 0x40);
    assert!(offset_of!(ReportRequest, key_sel) == 0x44);
    assert!(offset_of!(ReportRequest, reserved) == 0x48);
};

impl ReportRequest {
    /// A request for a report at `vmpl` over `report_data`, signed by the default key (KEY_SEL 0).
    pub const fn new(report_data: [u8; 64], vmpl: u32) -> Self {
        Self {
            report_data,
            vmpl,
            key_sel: 0,
            reserved: [0; 24],
        }
    }

    /// The wire bytes.
    pub fn to_bytes(&self) -> [u8; REPORT_REQ_SIZE] {
        let mut b = [0u8; REPORT_REQ_SIZE];
        put(&mut b, offset_of!(Self, report_data), &self.report_data);
        put(&mut b, offset_of!(Self, vmpl), &self.vmpl.to_le_bytes());
        put(
            &mut b,
            offset_of!(Self, key_sel),
            &self.key_sel.to_le_bytes(),
        );
        put(&mut b, offset_of!(Self, reserved), &self.reserved);
        b
    }

    /// From wire bytes (as the simulated AMD-SP reads them).
    pub fn from_bytes(b: &[u8; REPORT_REQ_SIZE]) -> Self {
        Self {
            report_data: get(b, offset_of!(Self, report_data)),
            vmpl: u32_at(b, offset_of!(Self, vmpl)),
            key_sel: u32_at(b, offset_of!(Self, key_sel)),
            reserved: get(b, offset_of!(Self, reserved)),
        }
    }
}

/// MSG_REPORT_RSP (AMD 56860 Table 25), 0x4C0 bytes: STATUS, REPORT_SIZE, the report.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportResponseHeader {
    /// STATUS: 0 success, 0x16 INVALID_PARAM, 0x27 INVALID_KEY.
    pub status: u32,
    /// REPORT_SIZE: 0x4A0.
    pub report_size: u32,
    /// Reserved.
    pub reserved: [u8; 24],
}

/// Offset of the report in MSG_REPORT_RSP.
pub const REPORT_RSP_REPORT_OFFSET: usize = 0x20;

const _: () = {
    assert!(size_of::<ReportResponseHeader>() == REPORT_RSP_REPORT_OFFSET);
    assert!(offset_of!(ReportResponseHeader, status) == 0x00);
    assert!(offset_of!(ReportResponseHeader, report_size) == 0x04);
    assert!(offset_of!(ReportResponseHeader, reserved) == 0x08);
    assert!(REPORT_RSP_REPORT_OFFSET + REPORT_SIZE == REPORT_RSP_SIZE);
};

/// STATUS values of MSG_REPORT_RSP (AMD 56860 Table 25).
pub mod status {
    /// Success.
    pub const SUCCESS: u32 = 0;
    /// INVALID_PARAM: e.g. a VMPL below the requester's, or reserved bits set.
    pub const INVALID_PARAM: u32 = 0x16;
    /// INVALID_KEY: the requested key (VLEK) is not installed.
    pub const INVALID_KEY: u32 = 0x27;
}

/// TCB_VERSION (AMD 56860 Table 3): security patch levels of the firmware components, one byte
/// each. The byte positions differ by CPU generation: use [`TcbVersion::milan_genoa`] or
/// [`TcbVersion::turin`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcbVersion(pub u64);

/// The components of a TCB_VERSION, named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcbParts {
    /// FMC SPL (Turin only).
    pub fmc: Option<u8>,
    /// BOOT_LOADER SPL.
    pub bootloader: u8,
    /// TEE SPL.
    pub tee: u8,
    /// SNP firmware SPL.
    pub snp: u8,
    /// Microcode SPL.
    pub microcode: u8,
}

impl TcbVersion {
    fn byte(self, i: usize) -> u8 {
        u8_at(&self.0.to_le_bytes(), i)
    }

    /// Milan / Genoa layout: [0] BOOT_LOADER, [1] TEE, [6] SNP, [7] MICROCODE.
    pub fn milan_genoa(self) -> TcbParts {
        TcbParts {
            fmc: None,
            bootloader: self.byte(0),
            tee: self.byte(1),
            snp: self.byte(6),
            microcode: self.byte(7),
        }
    }

    /// Turin layout: [0] FMC, [1] BOOT_LOADER, [2] TEE, [3] SNP, [7] MICROCODE.
    pub fn turin(self) -> TcbParts {
        TcbParts {
            fmc: Some(self.byte(0)),
            bootloader: self.byte(1),
            tee: self.byte(2),
            snp: self.byte(3),
            microcode: self.byte(7),
        }
    }

    /// Build a Milan / Genoa TCB_VERSION.
    pub fn from_milan_genoa(bootloader: u8, tee: u8, snp: u8, microcode: u8) -> Self {
        Self(u64::from_le_bytes([
            bootloader, tee, 0, 0, 0, 0, snp, microcode,
        ]))
    }
}

/// Guest POLICY (AMD 56860 Table 9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct GuestPolicy(pub u64);

impl GuestPolicy {
    /// Bit 17 is reserved and must be one in every policy.
    pub const RESERVED_ONE: u64 = 1 << 17;

    /// ABI_MINOR (bits 7:0).
    pub fn abi_minor(self) -> u8 {
        u8_at(&self.0.to_le_bytes(), 0)
    }
    /// ABI_MAJOR (bits 15:8).
    pub fn abi_major(self) -> u8 {
        u8_at(&self.0.to_le_bytes(), 1)
    }
    /// SMT allowed (bit 16).
    pub fn smt(self) -> bool {
        self.0 & (1 << 16) != 0
    }
    /// MIGRATE_MA allowed (bit 18).
    pub fn migrate_ma(self) -> bool {
        self.0 & (1 << 18) != 0
    }
    /// DEBUG allowed (bit 19).
    pub fn debug(self) -> bool {
        self.0 & (1 << 19) != 0
    }
    /// SINGLE_SOCKET required (bit 20).
    pub fn single_socket(self) -> bool {
        self.0 & (1 << 20) != 0
    }
    /// CXL_ALLOW (bit 21).
    pub fn cxl_allow(self) -> bool {
        self.0 & (1 << 21) != 0
    }
    /// MEM_AES_256_XTS required (bit 22).
    pub fn mem_aes_256_xts(self) -> bool {
        self.0 & (1 << 22) != 0
    }
    /// RAPL_DIS required (bit 23).
    pub fn rapl_dis(self) -> bool {
        self.0 & (1 << 23) != 0
    }
    /// CIPHERTEXT_HIDING required (bit 24).
    pub fn ciphertext_hiding(self) -> bool {
        self.0 & (1 << 24) != 0
    }
    /// PAGE_SWAP_DISABLE (bit 25).
    pub fn page_swap_disable(self) -> bool {
        self.0 & (1 << 25) != 0
    }
}

/// PLATFORM_INFO (AMD 56860 Table 23).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PlatformInfo(pub u64);

impl PlatformInfo {
    /// SMT_EN (bit 0).
    pub fn smt_enabled(self) -> bool {
        self.0 & 1 != 0
    }
    /// TSME_EN (bit 1).
    pub fn tsme_enabled(self) -> bool {
        self.0 & (1 << 1) != 0
    }
    /// ECC_EN (bit 2).
    pub fn ecc_enabled(self) -> bool {
        self.0 & (1 << 2) != 0
    }
    /// RAPL_DIS (bit 3).
    pub fn rapl_disabled(self) -> bool {
        self.0 & (1 << 3) != 0
    }
    /// CIPHERTEXT_HIDING_EN (bit 4).
    pub fn ciphertext_hiding_enabled(self) -> bool {
        self.0 & (1 << 4) != 0
    }
    /// ALIAS_CHECK_COMPLETE (bit 5).
    pub fn alias_check_complete(self) -> bool {
        self.0 & (1 << 5) != 0
    }
    /// SEV-TIO_EN (bit 7).
    pub fn tio_enabled(self) -> bool {
        self.0 & (1 << 7) != 0
    }
}

/// Which key signed the report: KEY_INFO bits 4:2 (AMD 56860 Table 21).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigningKey {
    /// 0: the VCEK.
    Vcek,
    /// 1: the VLEK.
    Vlek,
    /// 7: none (the report is not signed).
    None,
    /// Any other (reserved) value.
    Reserved(u8),
}

/// KEY_INFO (AMD 56860 Table 21, offset 0x48).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct KeyInfo(pub u32);

impl KeyInfo {
    /// AUTHOR_KEY_EN (bit 0): AUTHOR_KEY_DIGEST is present.
    pub fn author_key_en(self) -> bool {
        self.0 & 1 != 0
    }
    /// MASK_CHIP_KEY (bit 1): the signature is zeros.
    pub fn mask_chip_key(self) -> bool {
        self.0 & (1 << 1) != 0
    }
    /// SIGNING_KEY (bits 4:2).
    pub fn signing_key(self) -> SigningKey {
        match (self.0 >> 2) & 7 {
            0 => SigningKey::Vcek,
            1 => SigningKey::Vlek,
            7 => SigningKey::None,
            v => SigningKey::Reserved(u8::try_from(v).unwrap_or(0)),
        }
    }
}

/// CPUID family, model and stepping of the chip (version 3 and later).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuidId {
    /// CPUID_FAM_ID (extended family + base family), e.g. 0x19 Milan/Genoa, 0x1A Turin.
    pub family: u8,
    /// CPUID_MOD_ID.
    pub model: u8,
    /// CPUID_STEP.
    pub stepping: u8,
}

/// ATTESTATION_REPORT (AMD 56860 §7.3 / §8.18, Table 21), 0x4A0 bytes, little-endian.
///
/// The layout is that of version 5; in versions 2 and 3 the fields that came later are reserved
/// (CPUID in version 2, the mitigation vectors before version 5): read them through
/// [`AttestationReport::cpuid`] and [`AttestationReport::mit_vectors`], which honor the version.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttestationReport {
    /// VERSION: 2, 3, 4 or 5.
    pub version: u32,
    /// GUEST_SVN.
    pub guest_svn: u32,
    /// POLICY.
    pub policy: u64,
    /// FAMILY_ID.
    pub family_id: [u8; 16],
    /// IMAGE_ID.
    pub image_id: [u8; 16],
    /// VMPL the report was requested for.
    pub vmpl: u32,
    /// SIGNATURE_ALGO: 1 = ECDSA P-384 with SHA-384.
    pub signature_algo: u32,
    /// CURRENT_TCB.
    pub current_tcb: u64,
    /// PLATFORM_INFO.
    pub platform_info: u64,
    /// KEY_INFO (AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY).
    pub key_info: u32,
    /// Reserved.
    pub reserved0: u32,
    /// REPORT_DATA: the guest's 64 bytes.
    pub report_data: [u8; 64],
    /// MEASUREMENT: the launch digest.
    pub measurement: [u8; 48],
    /// HOST_DATA.
    pub host_data: [u8; 32],
    /// ID_KEY_DIGEST: SHA-384 of the ID public key.
    pub id_key_digest: [u8; 48],
    /// AUTHOR_KEY_DIGEST.
    pub author_key_digest: [u8; 48],
    /// REPORT_ID.
    pub report_id: [u8; 32],
    /// REPORT_ID_MA (all 0xFF without a migration agent).
    pub report_id_ma: [u8; 32],
    /// REPORTED_TCB (the TCB the VCEK is derived from).
    pub reported_tcb: u64,
    /// CPUID_FAM_ID (version 3+; reserved in version 2).
    pub cpuid_fam_id: u8,
    /// CPUID_MOD_ID (version 3+).
    pub cpuid_mod_id: u8,
    /// CPUID_STEP (version 3+).
    pub cpuid_step: u8,
    /// Reserved.
    pub reserved1: [u8; 21],
    /// CHIP_ID (zeros if MASK_CHIP_ID; Turin: 8 bytes, then zeros).
    pub chip_id: [u8; 64],
    /// COMMITTED_TCB.
    pub committed_tcb: u64,
    /// CURRENT_BUILD.
    pub current_build: u8,
    /// CURRENT_MINOR.
    pub current_minor: u8,
    /// CURRENT_MAJOR.
    pub current_major: u8,
    /// Reserved.
    pub reserved2: u8,
    /// COMMITTED_BUILD.
    pub committed_build: u8,
    /// COMMITTED_MINOR.
    pub committed_minor: u8,
    /// COMMITTED_MAJOR.
    pub committed_major: u8,
    /// Reserved.
    pub reserved3: u8,
    /// LAUNCH_TCB.
    pub launch_tcb: u64,
    /// LAUNCH_MIT_VECTOR (version 5; reserved before).
    pub launch_mit_vector: u64,
    /// CURRENT_MIT_VECTOR (version 5; reserved before).
    pub current_mit_vector: u64,
    /// Reserved.
    pub reserved4: [u8; 152],
    /// SIGNATURE R, little-endian, in the low 48 bytes; the rest zero.
    pub signature_r: [u8; 72],
    /// SIGNATURE S, little-endian, in the low 48 bytes; the rest zero.
    pub signature_s: [u8; 72],
    /// Reserved part of the signature field.
    pub signature_reserved: [u8; 368],
}

const _: () = {
    type R = AttestationReport;
    assert!(size_of::<R>() == REPORT_SIZE);
    assert!(offset_of!(R, version) == 0x000);
    assert!(offset_of!(R, guest_svn) == 0x004);
    assert!(offset_of!(R, policy) == 0x008);
    assert!(offset_of!(R, family_id) == 0x010);
    assert!(offset_of!(R, image_id) == 0x020);
    assert!(offset_of!(R, vmpl) == 0x030);
    assert!(offset_of!(R, signature_algo) == 0x034);
    assert!(offset_of!(R, current_tcb) == 0x038);
    assert!(offset_of!(R, platform_info) == 0x040);
    assert!(offset_of!(R, key_info) == 0x048);
    assert!(offset_of!(R, reserved0) == 0x04C);
    assert!(offset_of!(R, report_data) == 0x050);
    assert!(offset_of!(R, measurement) == 0x090);
    assert!(offset_of!(R, host_data) == 0x0C0);
    assert!(offset_of!(R, id_key_digest) == 0x0E0);
    assert!(offset_of!(R, author_key_digest) == 0x110);
    assert!(offset_of!(R, report_id) == 0x140);
    assert!(offset_of!(R, report_id_ma) == 0x160);
    assert!(offset_of!(R, reported_tcb) == 0x180);
    assert!(offset_of!(R, cpuid_fam_id) == 0x188);
    assert!(offset_of!(R, cpuid_mod_id) == 0x189);
    assert!(offset_of!(R, cpuid_step) == 0x18A);
    assert!(offset_of!(R, reserved1) == 0x18B);
    assert!(offset_of!(R, chip_id) == 0x1A0);
    assert!(offset_of!(R, committed_tcb) == 0x1E0);
    assert!(offset_of!(R, current_build) == 0x1E8);
    assert!(offset_of!(R, current_minor) == 0x1E9);
    assert!(offset_of!(R, current_major) == 0x1EA);
    assert!(offset_of!(R, reserved2) == 0x1EB);
    assert!(offset_of!(R, committed_build) == 0x1EC);
    assert!(offset_of!(R, committed_minor) == 0x1ED);
    assert!(offset_of!(R, committed_major) == 0x1EE);
    assert!(offset_of!(R, reserved3) == 0x1EF);
    assert!(offset_of!(R, launch_tcb) == 0x1F0);
    assert!(offset_of!(R, launch_mit_vector) == 0x1F8);
    assert!(offset_of!(R, current_mit_vector) == 0x200);
    assert!(offset_of!(R, reserved4) == 0x208);
    assert!(offset_of!(R, signature_r) == SIGNED_SIZE);
    assert!(offset_of!(R, signature_s) == 0x2E8);
    assert!(offset_of!(R, signature_reserved) == 0x330);
};

/// Why a report could not be parsed or did not verify: each check has its own variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The input is not 0x4A0 bytes.
    Size {
        /// The length given.
        len: usize,
    },
    /// VERSION is not 2, 3, 4 or 5.
    UnsupportedVersion(u32),
    /// SIGNATURE_ALGO is not 1 (ECDSA P-384 with SHA-384).
    UnsupportedSignatureAlgo(u32),
    /// KEY_INFO says the report is unsigned (MASK_CHIP_KEY, or SIGNING_KEY = none).
    NotSigned,
    /// Bytes 48..72 of R or S, or the reserved part of the signature field, are not zero.
    SignaturePadding,
    /// R or S is zero or not below the group order.
    SignatureRange,
    /// The public key is not a point on P-384.
    InvalidPublicKey,
    /// The signature does not verify over SHA-384 of bytes 0x000..0x29F with this key.
    SignatureMismatch,
}

impl AttestationReport {
    /// Parse the raw 0x4A0 bytes of a report (no signature check). Versions 2 to 5.
    pub fn parse(b: &[u8]) -> Result<Self, VerifyError> {
        let b: &[u8; REPORT_SIZE] = b
            .try_into()
            .map_err(|_| VerifyError::Size { len: b.len() })?;
        let r = Self::from_bytes(b);
        if !(2..=5).contains(&r.version) {
            return Err(VerifyError::UnsupportedVersion(r.version));
        }
        Ok(r)
    }

    /// All fields from the raw bytes, whatever the version.
    pub fn from_bytes(b: &[u8; REPORT_SIZE]) -> Self {
        Self {
            version: u32_at(b, offset_of!(Self, version)),
            guest_svn: u32_at(b, offset_of!(Self, guest_svn)),
            policy: u64_at(b, offset_of!(Self, policy)),
            family_id: get(b, offset_of!(Self, family_id)),
            image_id: get(b, offset_of!(Self, image_id)),
            vmpl: u32_at(b, offset_of!(Self, vmpl)),
            signature_algo: u32_at(b, offset_of!(Self, signature_algo)),
            current_tcb: u64_at(b, offset_of!(Self, current_tcb)),
            platform_info: u64_at(b, offset_of!(Self, platform_info)),
            key_info: u32_at(b, offset_of!(Self, key_info)),
            reserved0: u32_at(b, offset_of!(Self, reserved0)),
            report_data: get(b, offset_of!(Self, report_data)),
            measurement: get(b, offset_of!(Self, measurement)),
            host_data: get(b, offset_of!(Self, host_data)),
            id_key_digest: get(b, offset_of!(Self, id_key_digest)),
            author_key_digest: get(b, offset_of!(Self, author_key_digest)),
            report_id: get(b, offset_of!(Self, report_id)),
            report_id_ma: get(b, offset_of!(Self, report_id_ma)),
            reported_tcb: u64_at(b, offset_of!(Self, reported_tcb)),
            cpuid_fam_id: u8_at(b, offset_of!(Self, cpuid_fam_id)),
            cpuid_mod_id: u8_at(b, offset_of!(Self, cpuid_mod_id)),
            cpuid_step: u8_at(b, offset_of!(Self, cpuid_step)),
            reserved1: get(b, offset_of!(Self, reserved1)),
            chip_id: get(b, offset_of!(Self, chip_id)),
            committed_tcb: u64_at(b, offset_of!(Self, committed_tcb)),
            current_build: u8_at(b, offset_of!(Self, current_build)),
            current_minor: u8_at(b, offset_of!(Self, current_minor)),
            current_major: u8_at(b, offset_of!(Self, current_major)),
            reserved2: u8_at(b, offset_of!(Self, reserved2)),
            committed_build: u8_at(b, offset_of!(Self, committed_build)),
            committed_minor: u8_at(b, offset_of!(Self, committed_minor)),
            committed_major: u8_at(b, offset_of!(Self, committed_major)),
            reserved3: u8_at(b, offset_of!(Self, reserved3)),
            launch_tcb: u64_at(b, offset_of!(Self, launch_tcb)),
            launch_mit_vector: u64_at(b, offset_of!(Self, launch_mit_vector)),
            current_mit_vector: u64_at(b, offset_of!(Self, current_mit_vector)),
            reserved4: get(b, offset_of!(Self, reserved4)),
            signature_r: get(b, offset_of!(Self, signature_r)),
            signature_s: get(b, offset_of!(Self, signature_s)),
            signature_reserved: get(b, offset_of!(Self, signature_reserved)),
        }
    }

    /// The raw 0x4A0 bytes.
    pub fn to_bytes(&self) -> [u8; REPORT_SIZE] {
        let mut b = [0u8; REPORT_SIZE];
        let o = &mut b;
        put(o, offset_of!(Self, version), &self.version.to_le_bytes());
        put(
            o,
            offset_of!(Self, guest_svn),
            &self.guest_svn.to_le_bytes(),
        );
        put(o, offset_of!(Self, policy), &self.policy.to_le_bytes());
        put(o, offset_of!(Self, family_id), &self.family_id);
        put(o, offset_of!(Self, image_id), &self.image_id);
        put(o, offset_of!(Self, vmpl), &self.vmpl.to_le_bytes());
        put(
            o,
            offset_of!(Self, signature_algo),
            &self.signature_algo.to_le_bytes(),
        );
        put(
            o,
            offset_of!(Self, current_tcb),
            &self.current_tcb.to_le_bytes(),
        );
        put(
            o,
            offset_of!(Self, platform_info),
            &self.platform_info.to_le_bytes(),
        );
        put(o, offset_of!(Self, key_info), &self.key_info.to_le_bytes());
        put(
            o,
            offset_of!(Self, reserved0),
            &self.reserved0.to_le_bytes(),
        );
        put(o, offset_of!(Self, report_data), &self.report_data);
        put(o, offset_of!(Self, measurement), &self.measurement);
        put(o, offset_of!(Self, host_data), &self.host_data);
        put(o, offset_of!(Self, id_key_digest), &self.id_key_digest);
        put(
            o,
            offset_of!(Self, author_key_digest),
            &self.author_key_digest,
        );
        put(o, offset_of!(Self, report_id), &self.report_id);
        put(o, offset_of!(Self, report_id_ma), &self.report_id_ma);
        put(
            o,
            offset_of!(Self, reported_tcb),
            &self.reported_tcb.to_le_bytes(),
        );
        put_u8(o, offset_of!(Self, cpuid_fam_id), self.cpuid_fam_id);
        put_u8(o, offset_of!(Self, cpuid_mod_id), self.cpuid_mod_id);
        put_u8(o, offset_of!(Self, cpuid_step), self.cpuid_step);
        put(o, offset_of!(Self, reserved1), &self.reserved1);
        put(o, offset_of!(Self, chip_id), &self.chip_id);
        put(
            o,
            offset_of!(Self, committed_tcb),
            &self.committed_tcb.to_le_bytes(),
        );
        put_u8(o, offset_of!(Self, current_build), self.current_build);
        put_u8(o, offset_of!(Self, current_minor), self.current_minor);
        put_u8(o, offset_of!(Self, current_major), self.current_major);
        put_u8(o, offset_of!(Self, reserved2), self.reserved2);
        put_u8(o, offset_of!(Self, committed_build), self.committed_build);
        put_u8(o, offset_of!(Self, committed_minor), self.committed_minor);
        put_u8(o, offset_of!(Self, committed_major), self.committed_major);
        put_u8(o, offset_of!(Self, reserved3), self.reserved3);
        put(
            o,
            offset_of!(Self, launch_tcb),
            &self.launch_tcb.to_le_bytes(),
        );
        put(
            o,
            offset_of!(Self, launch_mit_vector),
            &self.launch_mit_vector.to_le_bytes(),
        );
        put(
            o,
            offset_of!(Self, current_mit_vector),
            &self.current_mit_vector.to_le_bytes(),
        );
        put(o, offset_of!(Self, reserved4), &self.reserved4);
        put(o, offset_of!(Self, signature_r), &self.signature_r);
        put(o, offset_of!(Self, signature_s), &self.signature_s);
        put(
            o,
            offset_of!(Self, signature_reserved),
            &self.signature_reserved,
        );
        b
    }

    /// The guest policy.
    pub fn policy(&self) -> GuestPolicy {
        GuestPolicy(self.policy)
    }

    /// PLATFORM_INFO.
    pub fn platform_info(&self) -> PlatformInfo {
        PlatformInfo(self.platform_info)
    }

    /// KEY_INFO.
    pub fn key_info(&self) -> KeyInfo {
        KeyInfo(self.key_info)
    }

    /// CPUID family / model / stepping: version 3 and later only.
    pub fn cpuid(&self) -> Option<CpuidId> {
        (self.version >= 3).then_some(CpuidId {
            family: self.cpuid_fam_id,
            model: self.cpuid_mod_id,
            stepping: self.cpuid_step,
        })
    }

    /// (LAUNCH_MIT_VECTOR, CURRENT_MIT_VECTOR): version 5 and later only.
    pub fn mit_vectors(&self) -> Option<(u64, u64)> {
        (self.version >= 5).then_some((self.launch_mit_vector, self.current_mit_vector))
    }

    /// Whether the chip is a Turin (family 0x1A), whose TCB_VERSION layout differs. Version 2
    /// reports carry no CPUID and are read with the Milan / Genoa layout.
    pub fn is_turin(&self) -> bool {
        self.cpuid().is_some_and(|c| c.family == 0x1A)
    }

    /// Split a TCB_VERSION of this report with the layout of its chip generation.
    pub fn tcb_parts(&self, tcb: u64) -> TcbParts {
        if self.is_turin() {
            TcbVersion(tcb).turin()
        } else {
            TcbVersion(tcb).milan_genoa()
        }
    }

    /// Whether any reserved byte of the report body (for its version) is non-zero. Informative:
    /// the signature covers them, but strict verifiers (go-sev-guest) refuse such reports.
    pub fn reserved_nonzero(&self) -> bool {
        let cpuid_reserved =
            self.version < 3 && (self.cpuid_fam_id | self.cpuid_mod_id | self.cpuid_step) != 0;
        let mit_reserved =
            self.version < 5 && (self.launch_mit_vector | self.current_mit_vector) != 0;
        self.reserved0 != 0
            || !all_zero(&self.reserved1)
            || self.reserved2 != 0
            || self.reserved3 != 0
            || !all_zero(&self.reserved4)
            || cpuid_reserved
            || mit_reserved
    }
}

/// A VCEK (or VLEK) public key: a P-384 point, big-endian coordinates (AMD 57230: the
/// certificate's SubjectPublicKeyInfo, secp384r1, uncompressed point).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcekPublicKey {
    x: [u8; P384_SIZE],
    y: [u8; P384_SIZE],
}

impl VcekPublicKey {
    /// From big-endian coordinates; `None` unless the point is on P-384.
    pub fn from_xy(x: &[u8; P384_SIZE], y: &[u8; P384_SIZE]) -> Option<Self> {
        validate_point(Curve::P384, x, y).then_some(Self { x: *x, y: *y })
    }

    /// From a SEC1 uncompressed point `04 ‖ X ‖ Y` (97 bytes), as in the certificate's BIT STRING.
    pub fn from_sec1(b: &[u8]) -> Option<Self> {
        let (tag, xy) = b.split_first()?;
        if *tag != 4 || xy.len() != 2 * P384_SIZE {
            return None;
        }
        let (x, y) = xy.split_at_checked(P384_SIZE)?;
        Self::from_xy(x.try_into().ok()?, y.try_into().ok()?)
    }

    /// X coordinate, big-endian.
    pub fn x(&self) -> &[u8; P384_SIZE] {
        &self.x
    }

    /// Y coordinate, big-endian.
    pub fn y(&self) -> &[u8; P384_SIZE] {
        &self.y
    }
}

/// The low 48 bytes of a 72-byte little-endian signature component, as a big-endian scalar;
/// `None` if the padding is not zero.
fn le_component(c: &[u8; SIG_COMPONENT_SIZE]) -> Option<[u8; P384_SIZE]> {
    let (low, pad) = c.split_at_checked(P384_SIZE)?;
    if !all_zero(pad) {
        return None;
    }
    let mut be: [u8; P384_SIZE] = low.try_into().ok()?;
    be.reverse();
    Some(be)
}

/// Verify a raw report's signature with `key` and return the parsed report. Checks, in order:
/// size, version (2..=5), SIGNATURE_ALGO = 1, KEY_INFO says signed, signature padding and
/// reserved bytes zero, R and S in range, ECDSA P-384 over SHA-384(bytes 0x000..0x29F).
///
/// It does not judge the contents (policy, TCB, measurement, VMPL, REPORT_DATA): that is the
/// relying party's decision.
pub fn verify(raw: &[u8], key: &VcekPublicKey) -> Result<AttestationReport, VerifyError> {
    let report = AttestationReport::parse(raw)?;
    if report.signature_algo != SIG_ALGO_ECDSA_P384_SHA384 {
        return Err(VerifyError::UnsupportedSignatureAlgo(report.signature_algo));
    }
    let ki = report.key_info();
    if ki.mask_chip_key() || ki.signing_key() == SigningKey::None {
        return Err(VerifyError::NotSigned);
    }
    let (Some(r), Some(s)) = (
        le_component(&report.signature_r),
        le_component(&report.signature_s),
    ) else {
        return Err(VerifyError::SignaturePadding);
    };
    if !all_zero(&report.signature_reserved) {
        return Err(VerifyError::SignaturePadding);
    }
    if all_zero(&r) || all_zero(&s) {
        return Err(VerifyError::SignatureRange);
    }
    if !validate_point(Curve::P384, &key.x, &key.y) {
        return Err(VerifyError::InvalidPublicKey);
    }
    let signed = raw
        .get(..SIGNED_SIZE)
        .ok_or(VerifyError::Size { len: raw.len() })?;
    let digest = HashAlg::Sha384.digest(&[signed]);
    if ecdsa_verify(Curve::P384, &key.x, &key.y, digest.as_slice(), &r, &s) {
        Ok(report)
    } else {
        Err(VerifyError::SignatureMismatch)
    }
}

/// Why a report request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportError {
    /// The guest request itself failed (see [`RequestError`]; it says whether the key is gone).
    Request(RequestError),
    /// The PSP answered with a non-zero STATUS (0x16 INVALID_PARAM, 0x27 INVALID_KEY).
    Status(u32),
    /// The response is not MSG_REPORT_RSP-shaped (size, REPORT_SIZE ≠ 0x4A0).
    MalformedResponse,
}

impl From<RequestError> for ReportError {
    fn from(e: RequestError) -> Self {
        Self::Request(e)
    }
}

/// Certificates returned with an extended report: how many bytes of the caller's buffer the
/// certificate table fills (0 if the host supplied none).
pub type CertLength = usize;

/// Ask the PSP for an attestation report at `vmpl` over `report_data` (MSG_REPORT_REQ, KEY_SEL 0)
/// and write the raw 0x4A0-byte report into `report`. With `certs`, the extended request also
/// fetches the host's certificate table into it. The report is not verified here (the guest
/// holds no trusted VCEK key); its VMPL and REPORT_DATA are checked against the request.
pub fn request_report<T: GuestRequestTransport>(
    requester: &mut Requester<T>,
    report_data: &[u8; 64],
    vmpl: u32,
    report: &mut [u8; REPORT_SIZE],
    certs: Option<&mut [u8]>,
) -> Result<CertLength, ReportError> {
    let req = ReportRequest::new(*report_data, vmpl).to_bytes();
    let mut rsp = [0u8; REPORT_RSP_SIZE];
    let mut certs = certs;
    let n = requester.request(MsgType::REPORT_REQ, &req, &mut rsp, certs.as_deref_mut())?;
    let status = u32_at(&rsp, offset_of!(ReportResponseHeader, status));
    if status != status::SUCCESS {
        return Err(ReportError::Status(status));
    }
    let size = u32_at(&rsp, offset_of!(ReportResponseHeader, report_size));
    if n < REPORT_RSP_SIZE || usize::try_from(size).ok() != Some(REPORT_SIZE) {
        return Err(ReportError::MalformedResponse);
    }
    *report = get(&rsp, REPORT_RSP_REPORT_OFFSET);
    let parsed = AttestationReport::from_bytes(report);
    if parsed.vmpl != vmpl || parsed.report_data != *report_data {
        return Err(ReportError::MalformedResponse);
    }
    let cert_len = certs.map_or(0, |c| cert_table_length(c));
    Ok(cert_len)
}

/// GUID of the VCEK entry in a certificate table (AMD 56421 §4.1.8.1), wire (mixed-endian) bytes
/// of `63da758d-e664-4564-adc5-f4b93be8accd`.
pub const GUID_VCEK: [u8; 16] = guid_bytes(
    0x63da_758d,
    0xe664,
    0x4564,
    [0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd],
);
/// GUID of the VLEK entry: `a8074bc2-a25a-483e-aae6-39c045a0b8a1`.
pub const GUID_VLEK: [u8; 16] = guid_bytes(
    0xa807_4bc2,
    0xa25a,
    0x483e,
    [0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1],
);
/// GUID of the ASK entry: `4ab7b379-bbac-4fe4-a02f-05aef327c782`.
pub const GUID_ASK: [u8; 16] = guid_bytes(
    0x4ab7_b379,
    0xbbac,
    0x4fe4,
    [0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82],
);
/// GUID of the ARK entry: `c0b406a4-a803-4952-9743-3fb6014cd0ae`.
pub const GUID_ARK: [u8; 16] = guid_bytes(
    0xc0b4_06a4,
    0xa803,
    0x4952,
    [0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae],
);

/// The wire form of a GUID (EFI / Microsoft mixed endian: the first three fields little-endian).
pub const fn guid_bytes(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

/// Size of one certificate-table entry: GUID ‖ offset u32 ‖ length u32.
pub const CERT_ENTRY_SIZE: usize = 24;

/// One entry of a certificate table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertEntry {
    /// The GUID's wire bytes.
    pub guid: [u8; 16],
    /// Offset of the certificate from the start of the table.
    pub offset: u32,
    /// Its length.
    pub length: u32,
}

/// Iterate the entries of a certificate table (AMD 56421 §4.1.8.1) up to the all-zero entry.
pub fn cert_entries(table: &[u8]) -> impl Iterator<Item = CertEntry> + '_ {
    table
        .chunks_exact(CERT_ENTRY_SIZE)
        .map(|e| CertEntry {
            guid: get(e, 0),
            offset: u32_at(e, 16),
            length: u32_at(e, 20),
        })
        .take_while(|e| !(all_zero(&e.guid) && e.offset == 0 && e.length == 0))
}

/// The certificate with `guid` from a table, if present and in range.
pub fn find_cert<'a>(table: &'a [u8], guid: &[u8; 16]) -> Option<&'a [u8]> {
    let e = cert_entries(table).find(|e| e.guid == *guid)?;
    let start = usize::try_from(e.offset).ok()?;
    let end = start.checked_add(usize::try_from(e.length).ok()?)?;
    table.get(start..end)
}

/// How many bytes of `table` the certificate table and its certificates fill (0 if empty).
pub fn cert_table_length(table: &[u8]) -> usize {
    let mut end = 0usize;
    let mut entries = 0usize;
    for e in cert_entries(table) {
        entries = entries.saturating_add(1);
        let cert_end = usize::try_from(e.offset)
            .unwrap_or(usize::MAX)
            .saturating_add(usize::try_from(e.length).unwrap_or(usize::MAX));
        end = end.max(cert_end);
    }
    if entries == 0 {
        return 0;
    }
    let header = entries.saturating_add(1).saturating_mul(CERT_ENTRY_SIZE);
    end.max(header).min(table.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let mut rd = [0u8; 64];
        rd[0] = 0xAA;
        rd[63] = 0xBB;
        let b = ReportRequest::new(rd, 2).to_bytes();
        assert_eq!(b[0], 0xAA);
        assert_eq!(b[63], 0xBB);
        assert_eq!(&b[0x40..0x44], &[2, 0, 0, 0]);
        assert_eq!(&b[0x44..], &[0; 28]);
        assert_eq!(ReportRequest::from_bytes(&b), ReportRequest::new(rd, 2));
    }

    #[test]
    fn report_round_trip_and_versions() {
        let mut raw = [0u8; REPORT_SIZE];
        for (i, b) in raw.iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        raw[..4].copy_from_slice(&3u32.to_le_bytes());
        let r = AttestationReport::parse(&raw).unwrap();
        assert_eq!(r.to_bytes(), raw);
        assert_eq!(r.cpuid().unwrap().family, raw[0x188]);
        assert_eq!(r.mit_vectors(), None);
        assert_eq!(&r.report_data[..], &raw[0x50..0x90]);
        assert_eq!(&r.chip_id[..], &raw[0x1A0..0x1E0]);
        assert_eq!(
            r.reported_tcb,
            u64::from_le_bytes(raw[0x180..0x188].try_into().unwrap())
        );
        raw[..4].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(AttestationReport::parse(&raw).unwrap().cpuid(), None);
        raw[..4].copy_from_slice(&5u32.to_le_bytes());
        let r5 = AttestationReport::parse(&raw).unwrap();
        assert_eq!(
            r5.mit_vectors(),
            Some((
                u64::from_le_bytes(raw[0x1F8..0x200].try_into().unwrap()),
                u64::from_le_bytes(raw[0x200..0x208].try_into().unwrap())
            ))
        );
        for v in [0u32, 1, 6, 0xFFFF_FFFF] {
            raw[..4].copy_from_slice(&v.to_le_bytes());
            assert_eq!(
                AttestationReport::parse(&raw),
                Err(VerifyError::UnsupportedVersion(v))
            );
        }
        assert_eq!(
            AttestationReport::parse(&raw[..100]),
            Err(VerifyError::Size { len: 100 })
        );
    }

    #[test]
    fn tcb_and_bits() {
        let t = TcbVersion::from_milan_genoa(3, 0, 8, 115);
        assert_eq!(t.0, 0x7308_0000_0000_0003);
        let p = t.milan_genoa();
        assert_eq!((p.bootloader, p.tee, p.snp, p.microcode), (3, 0, 8, 115));
        let tu = TcbVersion(u64::from_le_bytes([1, 2, 3, 4, 0, 0, 0, 9])).turin();
        assert_eq!(
            (tu.fmc, tu.bootloader, tu.tee, tu.snp, tu.microcode),
            (Some(1), 2, 3, 4, 9)
        );
        assert_eq!(KeyInfo(0).signing_key(), SigningKey::Vcek);
        assert_eq!(KeyInfo(1 << 2).signing_key(), SigningKey::Vlek);
        assert_eq!(KeyInfo(7 << 2).signing_key(), SigningKey::None);
        let pol = GuestPolicy(0x3_0000 | 0x0100 | (1 << 19));
        assert!(pol.smt() && pol.debug() && !pol.migrate_ma());
        assert_eq!((pol.abi_major(), pol.abi_minor()), (1, 0));
    }

    #[test]
    fn guids_match_the_text_form() {
        assert_eq!(
            GUID_VCEK,
            [
                0x8d, 0x75, 0xda, 0x63, 0x64, 0xe6, 0x64, 0x45, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8,
                0xac, 0xcd
            ]
        );
    }

    #[test]
    fn cert_table_walk() {
        let mut t = [0u8; 200];
        t[..16].copy_from_slice(&GUID_VCEK);
        t[16..20].copy_from_slice(&48u32.to_le_bytes());
        t[20..24].copy_from_slice(&10u32.to_le_bytes());
        t[48..58].copy_from_slice(b"0123456789");
        assert_eq!(find_cert(&t, &GUID_VCEK), Some(&b"0123456789"[..]));
        assert_eq!(find_cert(&t, &GUID_ASK), None);
        assert_eq!(cert_table_length(&t), 58);
        assert_eq!(cert_table_length(&[0u8; 48]), 0);
        // Out-of-range entries are not returned.
        t[20..24].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(find_cert(&t, &GUID_VCEK), None);
        assert_eq!(cert_table_length(&t), 200);
    }
}
