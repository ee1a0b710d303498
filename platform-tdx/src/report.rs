//! TDREPORT_STRUCT and TD Quote v4 / v5: layouts with compile-time size and offset checks, and
//! parsers that never panic.
//!
//! - TDREPORT_STRUCT (1024 bytes): Intel TDX Module Base Architecture Specification (ABI),
//!   §"TDREPORT_STRUCT" — REPORTMACSTRUCT (256), TEE_TCB_INFO (239), reserved (17), TDINFO (512).
//!   TDG.MR.REPORT writes it; TDG.MR.VERIFYREPORT checks the MAC over REPORTMACSTRUCT only, so
//!   [`TdReport::hashes_match`] must tie TEE_TCB_INFO and TDINFO to the hashes inside it.
//! - TD Quote v4 / v5: Intel TDX DCAP Quoting Library API, Appendix A.3 (v4) and A.4 (v5): a
//!   48-byte header, the TD 1.0 (584) or TD 1.5 (648) body, then the signature data: ECDSA P-256
//!   signature, attestation key, and certification data type 6 (QE report certification data:
//!   QE report, its PCK signature, QE authentication data, and type-5 PCK certificate chain).
//!
//! All structures are little-endian. Signatures and keys are big-endian `r ‖ s` / `x ‖ y`.

use core::mem::{offset_of, size_of};

use sha2::{Digest, Sha384};

use crate::layout::{get, put, u16_at, u32_at};

/// Size of TDREPORT_STRUCT.
pub const TDREPORT_SIZE: usize = 1024;
/// Size of REPORTMACSTRUCT: the part TDG.MR.VERIFYREPORT takes.
pub const REPORTMACSTRUCT_SIZE: usize = 256;
/// Size of TEE_TCB_INFO.
pub const TEE_TCB_INFO_SIZE: usize = 239;
/// Size of TDINFO.
pub const TDINFO_SIZE: usize = 512;
/// REPORTTYPE.TYPE of a TDX report (0x81; SGX is 0x00).
pub const REPORT_TYPE_TDX: u8 = 0x81;
/// TD ATTRIBUTES bit 0: DEBUG (the host can read and write the TD's memory).
pub const TD_ATTRIBUTES_DEBUG: u64 = 1;

/// REPORTMACSTRUCT (TDX module ABI, "REPORTMACSTRUCT"), 256 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportMacStruct {
    /// REPORTTYPE: TYPE (0x81), SUBTYPE (0), VERSION (0, or 1 when SERVTD_HASH is present),
    /// reserved.
    pub report_type: [u8; 4],
    /// Reserved, zero.
    pub reserved1: [u8; 12],
    /// CPUSVN.
    pub cpusvn: [u8; 16],
    /// SHA-384 of TEE_TCB_INFO.
    pub tee_tcb_info_hash: [u8; 48],
    /// SHA-384 of TDINFO.
    pub tee_info_hash: [u8; 48],
    /// REPORTDATA: 64 bytes chosen by the TD.
    pub report_data: [u8; 64],
    /// Reserved, zero.
    pub reserved2: [u8; 32],
    /// MAC over the preceding bytes under a key of the platform.
    pub mac: [u8; 32],
}

const _: () = {
    assert!(size_of::<ReportMacStruct>() == REPORTMACSTRUCT_SIZE);
    assert!(offset_of!(ReportMacStruct, report_type) == 0);
    assert!(offset_of!(ReportMacStruct, reserved1) == 4);
    assert!(offset_of!(ReportMacStruct, cpusvn) == 16);
    assert!(offset_of!(ReportMacStruct, tee_tcb_info_hash) == 32);
    assert!(offset_of!(ReportMacStruct, tee_info_hash) == 80);
    assert!(offset_of!(ReportMacStruct, report_data) == 128);
    assert!(offset_of!(ReportMacStruct, reserved2) == 192);
    assert!(offset_of!(ReportMacStruct, mac) == 224);
};

/// TEE_TCB_INFO (TDX module ABI, "TEE_TCB_INFO"), 239 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TeeTcbInfo {
    /// Which of the following fields are valid (bit mask).
    pub valid: [u8; 8],
    /// TEE_TCB_SVN of the TDX module.
    pub tee_tcb_svn: [u8; 16],
    /// MRSEAM: measurement of the TDX module.
    pub mrseam: [u8; 48],
    /// MRSIGNERSEAM: its signer (zero for Intel's modules).
    pub mrsignerseam: [u8; 48],
    /// ATTRIBUTES of the TDX module.
    pub attributes: [u8; 8],
    /// TEE_TCB_SVN2 (TDX 1.5).
    pub tee_tcb_svn2: [u8; 16],
    /// Reserved.
    pub reserved: [u8; 95],
}

const _: () = {
    assert!(size_of::<TeeTcbInfo>() == TEE_TCB_INFO_SIZE);
    assert!(offset_of!(TeeTcbInfo, valid) == 0);
    assert!(offset_of!(TeeTcbInfo, tee_tcb_svn) == 8);
    assert!(offset_of!(TeeTcbInfo, mrseam) == 24);
    assert!(offset_of!(TeeTcbInfo, mrsignerseam) == 72);
    assert!(offset_of!(TeeTcbInfo, attributes) == 120);
    assert!(offset_of!(TeeTcbInfo, tee_tcb_svn2) == 128);
    assert!(offset_of!(TeeTcbInfo, reserved) == 144);
};

/// TDINFO_STRUCT (TDX module ABI, "TDINFO_STRUCT"), 512 bytes: the TD's measurements.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TdInfo {
    /// TD ATTRIBUTES (bit 0 DEBUG).
    pub attributes: [u8; 8],
    /// XFAM: extended features allowed.
    pub xfam: [u8; 8],
    /// MRTD: the build-time measurement of the TD.
    pub mrtd: [u8; 48],
    /// MRCONFIGID: software-defined configuration.
    pub mrconfigid: [u8; 48],
    /// MROWNER.
    pub mrowner: [u8; 48],
    /// MROWNERCONFIG.
    pub mrownerconfig: [u8; 48],
    /// RTMR0..3: run-time extendable measurement registers.
    pub rtmr: [[u8; 48]; 4],
    /// SERVTD_HASH (TDX 1.5): SHA-384 over the bound service TDs' binding entries
    /// ([`crate::servtd`]); zero when none is bound.
    pub servtd_hash: [u8; 48],
    /// Reserved.
    pub reserved: [u8; 64],
}

const _: () = {
    assert!(size_of::<TdInfo>() == TDINFO_SIZE);
    assert!(offset_of!(TdInfo, attributes) == 0);
    assert!(offset_of!(TdInfo, xfam) == 8);
    assert!(offset_of!(TdInfo, mrtd) == 16);
    assert!(offset_of!(TdInfo, mrconfigid) == 64);
    assert!(offset_of!(TdInfo, mrowner) == 112);
    assert!(offset_of!(TdInfo, mrownerconfig) == 160);
    assert!(offset_of!(TdInfo, rtmr) == 208);
    assert!(offset_of!(TdInfo, servtd_hash) == 400);
    assert!(offset_of!(TdInfo, reserved) == 448);
};

/// TDREPORT_STRUCT (TDX module ABI, "TDREPORT_STRUCT"), 1024 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TdReport {
    /// REPORTMACSTRUCT.
    pub mac_struct: ReportMacStruct,
    /// TEE_TCB_INFO.
    pub tee_tcb_info: TeeTcbInfo,
    /// Reserved.
    pub reserved: [u8; 17],
    /// TDINFO.
    pub td_info: TdInfo,
}

const _: () = {
    assert!(size_of::<TdReport>() == TDREPORT_SIZE);
    assert!(offset_of!(TdReport, mac_struct) == 0);
    assert!(offset_of!(TdReport, tee_tcb_info) == 256);
    assert!(offset_of!(TdReport, reserved) == 495);
    assert!(offset_of!(TdReport, td_info) == 512);
};

/// Why a TDREPORT or a quote was refused by a parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer bytes than the structure needs (or a length field points past the end).
    Truncated,
    /// REPORTTYPE.TYPE is not 0x81 (TDX).
    NotTdx,
    /// The quote version is not 4 or 5.
    UnsupportedVersion(u16),
    /// The attestation key type is not 2 (ECDSA P-256).
    UnsupportedKeyType(u16),
    /// The TEE type is not 0x81 (TDX).
    NotTdxQuote(u32),
    /// A v5 body type other than 2 (TD 1.0) or 3 (TD 1.5), or a body size that does not match it.
    UnsupportedBody(u16),
    /// Certification data of a type other than the one expected at that place.
    UnexpectedCertType(u16),
}

impl ReportMacStruct {
    /// Parse the first 256 bytes of `b`.
    pub fn parse(b: &[u8]) -> Result<Self, ParseError> {
        let b = b.get(..REPORTMACSTRUCT_SIZE).ok_or(ParseError::Truncated)?;
        Ok(Self {
            report_type: get(b, offset_of!(Self, report_type)),
            reserved1: get(b, offset_of!(Self, reserved1)),
            cpusvn: get(b, offset_of!(Self, cpusvn)),
            tee_tcb_info_hash: get(b, offset_of!(Self, tee_tcb_info_hash)),
            tee_info_hash: get(b, offset_of!(Self, tee_info_hash)),
            report_data: get(b, offset_of!(Self, report_data)),
            reserved2: get(b, offset_of!(Self, reserved2)),
            mac: get(b, offset_of!(Self, mac)),
        })
    }

    /// Write into `out` (256 bytes).
    pub fn write(&self, out: &mut [u8; REPORTMACSTRUCT_SIZE]) {
        put(out, offset_of!(Self, report_type), &self.report_type);
        put(out, offset_of!(Self, reserved1), &self.reserved1);
        put(out, offset_of!(Self, cpusvn), &self.cpusvn);
        put(
            out,
            offset_of!(Self, tee_tcb_info_hash),
            &self.tee_tcb_info_hash,
        );
        put(out, offset_of!(Self, tee_info_hash), &self.tee_info_hash);
        put(out, offset_of!(Self, report_data), &self.report_data);
        put(out, offset_of!(Self, reserved2), &self.reserved2);
        put(out, offset_of!(Self, mac), &self.mac);
    }
}

impl TeeTcbInfo {
    /// Parse the first 239 bytes of `b`.
    pub fn parse(b: &[u8]) -> Result<Self, ParseError> {
        let b = b.get(..TEE_TCB_INFO_SIZE).ok_or(ParseError::Truncated)?;
        Ok(Self {
            valid: get(b, offset_of!(Self, valid)),
            tee_tcb_svn: get(b, offset_of!(Self, tee_tcb_svn)),
            mrseam: get(b, offset_of!(Self, mrseam)),
            mrsignerseam: get(b, offset_of!(Self, mrsignerseam)),
            attributes: get(b, offset_of!(Self, attributes)),
            tee_tcb_svn2: get(b, offset_of!(Self, tee_tcb_svn2)),
            reserved: get(b, offset_of!(Self, reserved)),
        })
    }

    /// Write into `out` (239 bytes).
    pub fn write(&self, out: &mut [u8; TEE_TCB_INFO_SIZE]) {
        put(out, offset_of!(Self, valid), &self.valid);
        put(out, offset_of!(Self, tee_tcb_svn), &self.tee_tcb_svn);
        put(out, offset_of!(Self, mrseam), &self.mrseam);
        put(out, offset_of!(Self, mrsignerseam), &self.mrsignerseam);
        put(out, offset_of!(Self, attributes), &self.attributes);
        put(out, offset_of!(Self, tee_tcb_svn2), &self.tee_tcb_svn2);
        put(out, offset_of!(Self, reserved), &self.reserved);
    }

    /// SHA-384 of the 239 bytes: REPORTMACSTRUCT.TEE_TCB_INFO_HASH.
    pub fn hash(&self) -> [u8; 48] {
        let mut b = [0u8; TEE_TCB_INFO_SIZE];
        self.write(&mut b);
        Sha384::digest(b).into()
    }
}

impl TdInfo {
    /// Parse the first 512 bytes of `b`.
    pub fn parse(b: &[u8]) -> Result<Self, ParseError> {
        let b = b.get(..TDINFO_SIZE).ok_or(ParseError::Truncated)?;
        let r = offset_of!(Self, rtmr);
        Ok(Self {
            attributes: get(b, offset_of!(Self, attributes)),
            xfam: get(b, offset_of!(Self, xfam)),
            mrtd: get(b, offset_of!(Self, mrtd)),
            mrconfigid: get(b, offset_of!(Self, mrconfigid)),
            mrowner: get(b, offset_of!(Self, mrowner)),
            mrownerconfig: get(b, offset_of!(Self, mrownerconfig)),
            rtmr: [
                get(b, r),
                get(b, r.saturating_add(48)),
                get(b, r.saturating_add(96)),
                get(b, r.saturating_add(144)),
            ],
            servtd_hash: get(b, offset_of!(Self, servtd_hash)),
            reserved: get(b, offset_of!(Self, reserved)),
        })
    }

    /// Write into `out` (512 bytes).
    pub fn write(&self, out: &mut [u8; TDINFO_SIZE]) {
        put(out, offset_of!(Self, attributes), &self.attributes);
        put(out, offset_of!(Self, xfam), &self.xfam);
        put(out, offset_of!(Self, mrtd), &self.mrtd);
        put(out, offset_of!(Self, mrconfigid), &self.mrconfigid);
        put(out, offset_of!(Self, mrowner), &self.mrowner);
        put(out, offset_of!(Self, mrownerconfig), &self.mrownerconfig);
        let mut off = offset_of!(Self, rtmr);
        for r in &self.rtmr {
            put(out, off, r);
            off = off.saturating_add(48);
        }
        put(out, offset_of!(Self, servtd_hash), &self.servtd_hash);
        put(out, offset_of!(Self, reserved), &self.reserved);
    }

    /// SHA-384 of the 512 bytes: REPORTMACSTRUCT.TEE_INFO_HASH.
    pub fn hash(&self) -> [u8; 48] {
        let mut b = [0u8; TDINFO_SIZE];
        self.write(&mut b);
        Sha384::digest(b).into()
    }

    /// TD ATTRIBUTES as a number.
    pub fn attributes_u64(&self) -> u64 {
        u64::from_le_bytes(self.attributes)
    }
}

impl TdReport {
    /// Parse a TDREPORT_STRUCT from the first 1024 bytes of `b` (REPORTTYPE.TYPE must be 0x81).
    pub fn parse(b: &[u8]) -> Result<Self, ParseError> {
        let b = b.get(..TDREPORT_SIZE).ok_or(ParseError::Truncated)?;
        let (mac, rest) = b
            .split_at_checked(REPORTMACSTRUCT_SIZE)
            .ok_or(ParseError::Truncated)?;
        let (tcb, rest) = rest
            .split_at_checked(TEE_TCB_INFO_SIZE)
            .ok_or(ParseError::Truncated)?;
        let (reserved, td) = rest.split_at_checked(17).ok_or(ParseError::Truncated)?;
        let r = Self {
            mac_struct: ReportMacStruct::parse(mac)?,
            tee_tcb_info: TeeTcbInfo::parse(tcb)?,
            reserved: get(reserved, 0),
            td_info: TdInfo::parse(td)?,
        };
        if r.mac_struct.report_type.first() != Some(&REPORT_TYPE_TDX) {
            return Err(ParseError::NotTdx);
        }
        Ok(r)
    }

    /// The 1024 bytes.
    pub fn to_bytes(&self) -> [u8; TDREPORT_SIZE] {
        let mut out = [0u8; TDREPORT_SIZE];
        let mut mac = [0u8; REPORTMACSTRUCT_SIZE];
        self.mac_struct.write(&mut mac);
        put(&mut out, offset_of!(Self, mac_struct), &mac);
        let mut tcb = [0u8; TEE_TCB_INFO_SIZE];
        self.tee_tcb_info.write(&mut tcb);
        put(&mut out, offset_of!(Self, tee_tcb_info), &tcb);
        put(&mut out, offset_of!(Self, reserved), &self.reserved);
        let mut td = [0u8; TDINFO_SIZE];
        self.td_info.write(&mut td);
        put(&mut out, offset_of!(Self, td_info), &td);
        out
    }

    /// Whether TEE_TCB_INFO and TDINFO hash to the values inside REPORTMACSTRUCT. The MAC that
    /// TDG.MR.VERIFYREPORT checks covers only REPORTMACSTRUCT; without this check the rest of
    /// the report (MRTD, RTMRs, SERVTD_HASH) is not authenticated.
    pub fn hashes_match(&self) -> bool {
        use subtle::ConstantTimeEq;
        let a = self.tee_tcb_info.hash();
        let b = self.td_info.hash();
        bool::from(a.ct_eq(&self.mac_struct.tee_tcb_info_hash))
            & bool::from(b.ct_eq(&self.mac_struct.tee_info_hash))
    }

    /// REPORTDATA.
    pub fn report_data(&self) -> &[u8; 64] {
        &self.mac_struct.report_data
    }

    /// The digest a vTPM measures for the TD it serves: SHA-384 of the report with REPORTDATA
    /// and MAC zeroed (so it names the TD, not one report of it).
    pub fn measurement_digest(&self) -> [u8; 48] {
        let mut r = *self;
        r.mac_struct.report_data = [0; 64];
        r.mac_struct.mac = [0; 32];
        Sha384::digest(r.to_bytes()).into()
    }
}

// ---------------------------------------------------------------------------------------------
// TD Quote v4 / v5.

/// Size of the quote header.
pub const QUOTE_HEADER_SIZE: usize = 48;
/// Size of the TD 1.0 quote body (TD10_REPORT_BODY).
pub const TD10_BODY_SIZE: usize = 584;
/// Size of the TD 1.5 quote body (TD15_REPORT_BODY).
pub const TD15_BODY_SIZE: usize = 648;
/// Size of the SGX enclave report (the QE report).
pub const QE_REPORT_SIZE: usize = 384;
/// Attestation key type 2: ECDSA P-256 with SHA-256.
pub const ATT_KEY_TYPE_ECDSA_P256: u16 = 2;
/// TEE type of TDX.
pub const TEE_TYPE_TDX: u32 = 0x81;
/// Intel's QE vendor ID `939A7233-F79C-4CA9-940A-0DB3957F0607`.
pub const INTEL_QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
];
/// v5 body type of a TD 1.0 body.
pub const BODY_TYPE_TD10: u16 = 2;
/// v5 body type of a TD 1.5 body.
pub const BODY_TYPE_TD15: u16 = 3;
/// Certification data type 5: PCK certificate chain, PEM, leaf first.
pub const CERT_TYPE_PCK_CHAIN: u16 = 5;
/// Certification data type 6: QE report certification data.
pub const CERT_TYPE_QE_REPORT: u16 = 6;

/// The quote header (DCAP Quoting Library API A.3.1), 48 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuoteHeader {
    /// 4 or 5.
    pub version: u16,
    /// 2: ECDSA P-256.
    pub att_key_type: u16,
    /// 0x81: TDX.
    pub tee_type: u32,
    /// Reserved.
    pub reserved: [u8; 4],
    /// QE vendor ID (Intel: [`INTEL_QE_VENDOR_ID`]).
    pub qe_vendor_id: [u8; 16],
    /// User data (the first 16 bytes are the platform identifier in Intel's QE).
    pub user_data: [u8; 20],
}

const _: () = {
    assert!(size_of::<QuoteHeader>() == QUOTE_HEADER_SIZE);
    assert!(offset_of!(QuoteHeader, version) == 0);
    assert!(offset_of!(QuoteHeader, att_key_type) == 2);
    assert!(offset_of!(QuoteHeader, tee_type) == 4);
    assert!(offset_of!(QuoteHeader, reserved) == 8);
    assert!(offset_of!(QuoteHeader, qe_vendor_id) == 12);
    assert!(offset_of!(QuoteHeader, user_data) == 28);
};

impl QuoteHeader {
    /// Parse 48 bytes.
    pub fn parse(b: &[u8]) -> Result<Self, ParseError> {
        let b = b.get(..QUOTE_HEADER_SIZE).ok_or(ParseError::Truncated)?;
        Ok(Self {
            version: u16_at(b, offset_of!(Self, version)),
            att_key_type: u16_at(b, offset_of!(Self, att_key_type)),
            tee_type: u32_at(b, offset_of!(Self, tee_type)),
            reserved: get(b, offset_of!(Self, reserved)),
            qe_vendor_id: get(b, offset_of!(Self, qe_vendor_id)),
            user_data: get(b, offset_of!(Self, user_data)),
        })
    }

    /// The 48 bytes.
    pub fn to_bytes(&self) -> [u8; QUOTE_HEADER_SIZE] {
        let mut b = [0u8; QUOTE_HEADER_SIZE];
        put(
            &mut b,
            offset_of!(Self, version),
            &self.version.to_le_bytes(),
        );
        put(
            &mut b,
            offset_of!(Self, att_key_type),
            &self.att_key_type.to_le_bytes(),
        );
        put(
            &mut b,
            offset_of!(Self, tee_type),
            &self.tee_type.to_le_bytes(),
        );
        put(&mut b, offset_of!(Self, reserved), &self.reserved);
        put(&mut b, offset_of!(Self, qe_vendor_id), &self.qe_vendor_id);
        put(&mut b, offset_of!(Self, user_data), &self.user_data);
        b
    }
}

/// The TD quote body (TD10_REPORT_BODY, 584 bytes; TD15_REPORT_BODY adds the last two fields).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TdQuoteBody {
    /// TEE_TCB_SVN.
    pub tee_tcb_svn: [u8; 16],
    /// MRSEAM.
    pub mrseam: [u8; 48],
    /// MRSIGNERSEAM.
    pub mrsignerseam: [u8; 48],
    /// SEAMATTRIBUTES.
    pub seam_attributes: [u8; 8],
    /// TDATTRIBUTES.
    pub td_attributes: [u8; 8],
    /// XFAM.
    pub xfam: [u8; 8],
    /// MRTD.
    pub mrtd: [u8; 48],
    /// MRCONFIGID.
    pub mrconfigid: [u8; 48],
    /// MROWNER.
    pub mrowner: [u8; 48],
    /// MROWNERCONFIG.
    pub mrownerconfig: [u8; 48],
    /// RTMR0..3.
    pub rtmr: [[u8; 48]; 4],
    /// REPORTDATA.
    pub report_data: [u8; 64],
    /// TEE_TCB_SVN2 (TD 1.5 body only; zero in a TD 1.0 body).
    pub tee_tcb_svn2: [u8; 16],
    /// MRSERVICETD (TD 1.5 body only): the SERVTD_HASH of the TD.
    pub mrservicetd: [u8; 48],
}

const _: () = {
    assert!(size_of::<TdQuoteBody>() == TD15_BODY_SIZE);
    assert!(offset_of!(TdQuoteBody, tee_tcb_svn) == 0);
    assert!(offset_of!(TdQuoteBody, mrseam) == 16);
    assert!(offset_of!(TdQuoteBody, mrsignerseam) == 64);
    assert!(offset_of!(TdQuoteBody, seam_attributes) == 112);
    assert!(offset_of!(TdQuoteBody, td_attributes) == 120);
    assert!(offset_of!(TdQuoteBody, xfam) == 128);
    assert!(offset_of!(TdQuoteBody, mrtd) == 136);
    assert!(offset_of!(TdQuoteBody, mrconfigid) == 184);
    assert!(offset_of!(TdQuoteBody, mrowner) == 232);
    assert!(offset_of!(TdQuoteBody, mrownerconfig) == 280);
    assert!(offset_of!(TdQuoteBody, rtmr) == 328);
    assert!(offset_of!(TdQuoteBody, report_data) == 520);
    assert!(offset_of!(TdQuoteBody, tee_tcb_svn2) == TD10_BODY_SIZE);
    assert!(offset_of!(TdQuoteBody, mrservicetd) == 600);
};

impl TdQuoteBody {
    /// Parse a body of `len` bytes ([`TD10_BODY_SIZE`] or [`TD15_BODY_SIZE`]).
    fn parse(b: &[u8], td15: bool) -> Result<Self, ParseError> {
        let n = if td15 { TD15_BODY_SIZE } else { TD10_BODY_SIZE };
        let b = b.get(..n).ok_or(ParseError::Truncated)?;
        let r = offset_of!(Self, rtmr);
        let (svn2, mrservicetd) = if td15 {
            (
                get(b, offset_of!(Self, tee_tcb_svn2)),
                get(b, offset_of!(Self, mrservicetd)),
            )
        } else {
            ([0; 16], [0; 48])
        };
        Ok(Self {
            tee_tcb_svn: get(b, offset_of!(Self, tee_tcb_svn)),
            mrseam: get(b, offset_of!(Self, mrseam)),
            mrsignerseam: get(b, offset_of!(Self, mrsignerseam)),
            seam_attributes: get(b, offset_of!(Self, seam_attributes)),
            td_attributes: get(b, offset_of!(Self, td_attributes)),
            xfam: get(b, offset_of!(Self, xfam)),
            mrtd: get(b, offset_of!(Self, mrtd)),
            mrconfigid: get(b, offset_of!(Self, mrconfigid)),
            mrowner: get(b, offset_of!(Self, mrowner)),
            mrownerconfig: get(b, offset_of!(Self, mrownerconfig)),
            rtmr: [
                get(b, r),
                get(b, r.saturating_add(48)),
                get(b, r.saturating_add(96)),
                get(b, r.saturating_add(144)),
            ],
            report_data: get(b, offset_of!(Self, report_data)),
            tee_tcb_svn2: svn2,
            mrservicetd,
        })
    }

    /// The body of a quote over `report` (what a quoting enclave copies from the TDREPORT).
    pub fn from_report(report: &TdReport) -> Self {
        let t = &report.tee_tcb_info;
        let i = &report.td_info;
        Self {
            tee_tcb_svn: t.tee_tcb_svn,
            mrseam: t.mrseam,
            mrsignerseam: t.mrsignerseam,
            seam_attributes: t.attributes,
            td_attributes: i.attributes,
            xfam: i.xfam,
            mrtd: i.mrtd,
            mrconfigid: i.mrconfigid,
            mrowner: i.mrowner,
            mrownerconfig: i.mrownerconfig,
            rtmr: i.rtmr,
            report_data: report.mac_struct.report_data,
            tee_tcb_svn2: t.tee_tcb_svn2,
            mrservicetd: i.servtd_hash,
        }
    }

    /// The TD's TDINFO_STRUCT as the body carries it: every TDINFO field is in the body
    /// (SERVTD_HASH as MRSERVICETD, zero in a TD 1.0 body); the reserved bytes are zero. A
    /// verifier computes a service TD's SERVTD_INFO_HASH from its quote with this.
    pub fn td_info(&self) -> TdInfo {
        TdInfo {
            attributes: self.td_attributes,
            xfam: self.xfam,
            mrtd: self.mrtd,
            mrconfigid: self.mrconfigid,
            mrowner: self.mrowner,
            mrownerconfig: self.mrownerconfig,
            rtmr: self.rtmr,
            servtd_hash: self.mrservicetd,
            reserved: [0; 64],
        }
    }

    /// The 648 bytes of a TD 1.5 body; a TD 1.0 body is the first 584.
    pub fn to_bytes(&self) -> [u8; TD15_BODY_SIZE] {
        let mut b = [0u8; TD15_BODY_SIZE];
        put(&mut b, offset_of!(Self, tee_tcb_svn), &self.tee_tcb_svn);
        put(&mut b, offset_of!(Self, mrseam), &self.mrseam);
        put(&mut b, offset_of!(Self, mrsignerseam), &self.mrsignerseam);
        put(
            &mut b,
            offset_of!(Self, seam_attributes),
            &self.seam_attributes,
        );
        put(&mut b, offset_of!(Self, td_attributes), &self.td_attributes);
        put(&mut b, offset_of!(Self, xfam), &self.xfam);
        put(&mut b, offset_of!(Self, mrtd), &self.mrtd);
        put(&mut b, offset_of!(Self, mrconfigid), &self.mrconfigid);
        put(&mut b, offset_of!(Self, mrowner), &self.mrowner);
        put(&mut b, offset_of!(Self, mrownerconfig), &self.mrownerconfig);
        let mut off = offset_of!(Self, rtmr);
        for r in &self.rtmr {
            put(&mut b, off, r);
            off = off.saturating_add(48);
        }
        put(&mut b, offset_of!(Self, report_data), &self.report_data);
        put(&mut b, offset_of!(Self, tee_tcb_svn2), &self.tee_tcb_svn2);
        put(&mut b, offset_of!(Self, mrservicetd), &self.mrservicetd);
        b
    }
}

/// The SGX REPORT body of the quoting enclave (SGX `sgx_report_body_t`), 384 bytes. Only the
/// fields a verifier uses are named; the rest are kept as reserved byte ranges.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QeReport {
    /// CPUSVN.
    pub cpu_svn: [u8; 16],
    /// MISCSELECT.
    pub misc_select: [u8; 4],
    /// Reserved.
    pub reserved1: [u8; 28],
    /// ATTRIBUTES.
    pub attributes: [u8; 16],
    /// MRENCLAVE.
    pub mr_enclave: [u8; 32],
    /// Reserved.
    pub reserved2: [u8; 32],
    /// MRSIGNER.
    pub mr_signer: [u8; 32],
    /// Reserved.
    pub reserved3: [u8; 96],
    /// ISVPRODID.
    pub isv_prod_id: [u8; 2],
    /// ISVSVN.
    pub isv_svn: [u8; 2],
    /// Reserved.
    pub reserved4: [u8; 60],
    /// REPORTDATA: SHA-256(attestation key ‖ QE authentication data) ‖ 32 zero bytes.
    pub report_data: [u8; 64],
}

const _: () = {
    assert!(size_of::<QeReport>() == QE_REPORT_SIZE);
    assert!(offset_of!(QeReport, misc_select) == 16);
    assert!(offset_of!(QeReport, attributes) == 48);
    assert!(offset_of!(QeReport, mr_enclave) == 64);
    assert!(offset_of!(QeReport, mr_signer) == 128);
    assert!(offset_of!(QeReport, isv_prod_id) == 256);
    assert!(offset_of!(QeReport, isv_svn) == 258);
    assert!(offset_of!(QeReport, report_data) == 320);
};

impl QeReport {
    /// Parse 384 bytes.
    pub fn parse(b: &[u8]) -> Result<Self, ParseError> {
        let b = b.get(..QE_REPORT_SIZE).ok_or(ParseError::Truncated)?;
        Ok(Self {
            cpu_svn: get(b, offset_of!(Self, cpu_svn)),
            misc_select: get(b, offset_of!(Self, misc_select)),
            reserved1: get(b, offset_of!(Self, reserved1)),
            attributes: get(b, offset_of!(Self, attributes)),
            mr_enclave: get(b, offset_of!(Self, mr_enclave)),
            reserved2: get(b, offset_of!(Self, reserved2)),
            mr_signer: get(b, offset_of!(Self, mr_signer)),
            reserved3: get(b, offset_of!(Self, reserved3)),
            isv_prod_id: get(b, offset_of!(Self, isv_prod_id)),
            isv_svn: get(b, offset_of!(Self, isv_svn)),
            reserved4: get(b, offset_of!(Self, reserved4)),
            report_data: get(b, offset_of!(Self, report_data)),
        })
    }

    /// The 384 bytes.
    pub fn to_bytes(&self) -> [u8; QE_REPORT_SIZE] {
        let mut b = [0u8; QE_REPORT_SIZE];
        put(&mut b, offset_of!(Self, cpu_svn), &self.cpu_svn);
        put(&mut b, offset_of!(Self, misc_select), &self.misc_select);
        put(&mut b, offset_of!(Self, reserved1), &self.reserved1);
        put(&mut b, offset_of!(Self, attributes), &self.attributes);
        put(&mut b, offset_of!(Self, mr_enclave), &self.mr_enclave);
        put(&mut b, offset_of!(Self, reserved2), &self.reserved2);
        put(&mut b, offset_of!(Self, mr_signer), &self.mr_signer);
        put(&mut b, offset_of!(Self, reserved3), &self.reserved3);
        put(&mut b, offset_of!(Self, isv_prod_id), &self.isv_prod_id);
        put(&mut b, offset_of!(Self, isv_svn), &self.isv_svn);
        put(&mut b, offset_of!(Self, reserved4), &self.reserved4);
        put(&mut b, offset_of!(Self, report_data), &self.report_data);
        b
    }
}

/// Which body a quote carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// TD 1.0 (v4, or v5 body type 2), 584 bytes.
    Td10,
    /// TD 1.5 (v5 body type 3), 648 bytes: TEE_TCB_SVN2 and MRSERVICETD.
    Td15,
}

/// A parsed TD quote: typed header and body, and the sub-slices a verifier checks.
#[derive(Clone, Copy, Debug)]
pub struct Quote<'a> {
    /// The header.
    pub header: QuoteHeader,
    /// Which body.
    pub body_kind: BodyKind,
    /// The body.
    pub body: TdQuoteBody,
    /// The bytes the attestation key signs: header, (v5 type and size,) body.
    pub signed: &'a [u8],
    /// ECDSA P-256 signature `r ‖ s`, big-endian.
    pub signature: [u8; 64],
    /// Attestation public key `x ‖ y`, big-endian.
    pub attestation_key: [u8; 64],
    /// The QE report bytes (signed by the PCK key).
    pub qe_report_bytes: &'a [u8],
    /// The QE report.
    pub qe_report: QeReport,
    /// The QE report signature `r ‖ s` under the PCK leaf key.
    pub qe_report_signature: [u8; 64],
    /// QE authentication data.
    pub qe_auth_data: &'a [u8],
    /// Type of the inner certification data (5: PCK chain in PEM).
    pub cert_type: u16,
    /// The inner certification data (for type 5: the PEM chain, leaf first).
    pub cert_data: &'a [u8],
    /// Total length of the quote (bytes after it are ignored, e.g. buffer padding).
    pub len: usize,
}

fn take(b: &[u8], n: usize) -> Result<(&[u8], &[u8]), ParseError> {
    b.split_at_checked(n).ok_or(ParseError::Truncated)
}

fn take_array<const N: usize>(b: &[u8]) -> Result<([u8; N], &[u8]), ParseError> {
    let (a, rest) = b.split_first_chunk::<N>().ok_or(ParseError::Truncated)?;
    Ok((*a, rest))
}

fn take_u16(b: &[u8]) -> Result<(u16, &[u8]), ParseError> {
    let (a, rest) = take_array::<2>(b)?;
    Ok((u16::from_le_bytes(a), rest))
}

fn take_u32(b: &[u8]) -> Result<(usize, &[u8]), ParseError> {
    let (a, rest) = take_array::<4>(b)?;
    let n = usize::try_from(u32::from_le_bytes(a)).map_err(|_| ParseError::Truncated)?;
    Ok((n, rest))
}

impl<'a> Quote<'a> {
    /// Parse a TD quote v4 or v5 from the start of `b` (trailing bytes are ignored; [`Quote::len`]
    /// says where it ends). Checks version, key type, TEE type and every length; no signature.
    pub fn parse(b: &'a [u8]) -> Result<Self, ParseError> {
        let header = QuoteHeader::parse(b)?;
        match header.version {
            4 | 5 => {}
            v => return Err(ParseError::UnsupportedVersion(v)),
        }
        if header.att_key_type != ATT_KEY_TYPE_ECDSA_P256 {
            return Err(ParseError::UnsupportedKeyType(header.att_key_type));
        }
        if header.tee_type != TEE_TYPE_TDX {
            return Err(ParseError::NotTdxQuote(header.tee_type));
        }
        let (_, rest) = take(b, QUOTE_HEADER_SIZE)?;
        let (body_kind, body_bytes, rest) = if header.version == 4 {
            let (body, rest) = take(rest, TD10_BODY_SIZE)?;
            (BodyKind::Td10, body, rest)
        } else {
            let (ty, rest) = take_u16(rest)?;
            let (size, rest) = take_u32(rest)?;
            let kind = match (ty, size) {
                (BODY_TYPE_TD10, TD10_BODY_SIZE) => BodyKind::Td10,
                (BODY_TYPE_TD15, TD15_BODY_SIZE) => BodyKind::Td15,
                _ => return Err(ParseError::UnsupportedBody(ty)),
            };
            let (body, rest) = take(rest, size)?;
            (kind, body, rest)
        };
        let body = TdQuoteBody::parse(body_bytes, body_kind == BodyKind::Td15)?;
        let signed_len = b
            .len()
            .checked_sub(rest.len())
            .ok_or(ParseError::Truncated)?;
        let (signed, _) = take(b, signed_len)?;

        let (sig_len, rest) = take_u32(rest)?;
        let (sig_data, _) = take(rest, sig_len)?;
        let len = signed_len
            .checked_add(4)
            .and_then(|n| n.checked_add(sig_len))
            .ok_or(ParseError::Truncated)?;

        let (signature, s) = take_array::<64>(sig_data)?;
        let (attestation_key, s) = take_array::<64>(s)?;
        let (outer_type, s) = take_u16(s)?;
        if outer_type != CERT_TYPE_QE_REPORT {
            return Err(ParseError::UnexpectedCertType(outer_type));
        }
        let (outer_size, s) = take_u32(s)?;
        let (outer, _) = take(s, outer_size)?;
        let (qe_report_bytes, o) = take(outer, QE_REPORT_SIZE)?;
        let qe_report = QeReport::parse(qe_report_bytes)?;
        let (qe_report_signature, o) = take_array::<64>(o)?;
        let (auth_len, o) = take_u16(o)?;
        let (qe_auth_data, o) = take(o, usize::from(auth_len))?;
        let (cert_type, o) = take_u16(o)?;
        let (cert_size, o) = take_u32(o)?;
        let (cert_data, _) = take(o, cert_size)?;
        Ok(Self {
            header,
            body_kind,
            body,
            signed,
            signature,
            attestation_key,
            qe_report_bytes,
            qe_report,
            qe_report_signature,
            qe_auth_data,
            cert_type,
            cert_data,
            len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_report() -> TdReport {
        let mut b = [0u8; TDREPORT_SIZE];
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i % 251) as u8;
        }
        b[0] = REPORT_TYPE_TDX;
        TdReport::parse(&b).unwrap()
    }

    #[test]
    fn tdreport_round_trip_and_offsets() {
        let r = sample_report();
        let b = r.to_bytes();
        assert_eq!(TdReport::parse(&b).unwrap(), r);
        // MRTD at 528, RTMR3 at 864, SERVTD_HASH at 912, REPORTDATA at 128 (spec/tdx.md §2).
        assert_eq!(&r.td_info.mrtd[..], &b[528..576]);
        assert_eq!(&r.td_info.rtmr[3][..], &b[864..912]);
        assert_eq!(&r.td_info.servtd_hash[..], &b[912..960]);
        assert_eq!(&r.report_data()[..], &b[128..192]);
        assert_eq!(&r.tee_tcb_info.mrseam[..], &b[280..328]);
    }

    #[test]
    fn tdreport_refuses_short_and_non_tdx() {
        let b = sample_report().to_bytes();
        assert_eq!(TdReport::parse(&b[..1023]), Err(ParseError::Truncated));
        let mut c = b;
        c[0] = 0;
        assert_eq!(TdReport::parse(&c), Err(ParseError::NotTdx));
    }

    #[test]
    fn hashes_bind_tdinfo_and_tcb_info() {
        let mut r = sample_report();
        assert!(!r.hashes_match());
        r.mac_struct.tee_info_hash = r.td_info.hash();
        r.mac_struct.tee_tcb_info_hash = r.tee_tcb_info.hash();
        assert!(r.hashes_match());
        r.td_info.rtmr[2][5] ^= 1;
        assert!(!r.hashes_match());
    }

    #[test]
    fn measurement_ignores_report_data_and_mac() {
        let r = sample_report();
        let mut s = r;
        s.mac_struct.report_data = [9; 64];
        s.mac_struct.mac = [7; 32];
        assert_eq!(r.measurement_digest(), s.measurement_digest());
        s.td_info.mrtd[0] ^= 1;
        assert_ne!(r.measurement_digest(), s.measurement_digest());
    }

    #[test]
    fn body_from_report_copies_fields() {
        let r = sample_report();
        let body = TdQuoteBody::from_report(&r);
        assert_eq!(body.mrtd, r.td_info.mrtd);
        assert_eq!(body.rtmr, r.td_info.rtmr);
        assert_eq!(body.mrservicetd, r.td_info.servtd_hash);
        assert_eq!(body.report_data, r.mac_struct.report_data);
        let b = body.to_bytes();
        assert_eq!(TdQuoteBody::parse(&b, true).unwrap(), body);
        let mut info = r.td_info;
        info.reserved = [0; 64];
        assert_eq!(body.td_info(), info);
    }
}
