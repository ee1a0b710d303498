//! The SVSM vTPM protocol (AMD 58019 "Secure VM Service Module for SEV-SNP Guests" ch. 8) and
//! the SVSM attestation protocol for the vTPM service (ch. 7), as the Linux `tpm_svsm` driver
//! and configfs-tsm (`service_provider=svsm`) use them against COCONUT-SVSM.
//!
//! A call arrives as registers (RAX = protocol << 32 | call, RCX, RDX, R8) and guest-physical
//! addresses. [`VtpmService::handle_call`] copies every structure it reads out of guest memory
//! into private memory before looking at it ([`GuestMemory`] is the only access path), runs the
//! TPM, and copies results back. TPM errors travel inside the TPM response; only transport
//! errors become SVSM result codes.

use vtpm::crypto::hash::HashAlg;
use vtpm::{MAX_COMMAND_SIZE, MAX_RESPONSE_SIZE, Platform, Tpm};

use crate::PAGE_SIZE;
use crate::boot::{Ek, MAX_EK_PUBLIC};
use crate::layout::{all_zero, get, put, put_slice, u16_at, u32_at, u64_at};
use crate::platform::AttestationSource;
use crate::report::{REPORT_SIZE, ReportError, guid_bytes};
use crate::requester::RequestError;

/// SVSM protocol numbers (58019 Table 4).
pub mod protocol {
    /// SVSM_CORE_PROTOCOL.
    pub const CORE: u32 = 0;
    /// SVSM_ATTEST_PROTOCOL.
    pub const ATTEST: u32 = 1;
    /// SVSM_VTPM_PROTOCOL.
    pub const VTPM: u32 = 2;
}

/// SVSM_VTPM_QUERY (58019 §8.1).
pub const SVSM_VTPM_QUERY: u32 = 0;
/// SVSM_VTPM_CMD (58019 §8.2).
pub const SVSM_VTPM_CMD: u32 = 1;
/// SVSM_ATTEST_SERVICES (58019 §7.1).
pub const SVSM_ATTEST_SERVICES: u32 = 0;
/// SVSM_ATTEST_SINGLE_SERVICE (58019 §7.2).
pub const SVSM_ATTEST_SINGLE_SERVICE: u32 = 1;
/// vTPM protocol version (minimum = maximum = 1) for SVSM_CORE_QUERY_PROTOCOL.
pub const VTPM_PROTOCOL_VERSION: u32 = 1;
/// Attestation protocol version (minimum = maximum = 1).
pub const ATTEST_PROTOCOL_VERSION: u32 = 1;

/// TPM_SEND_COMMAND, the only vTPM platform command (MS simulator numbering, 58019 Table 15).
pub const TPM_SEND_COMMAND: u32 = 8;
/// SVSM_VTPM_QUERY's bitmap of supported platform commands: bit 8.
pub const SUPPORTED_PLATFORM_COMMANDS: u64 = 1 << TPM_SEND_COMMAND;
/// Offset of the TPM command in a TPM_SEND_COMMAND request (58019 Table 16).
pub const SEND_COMMAND_HEADER: usize = 9;
/// Largest TPM command in the page (4096 − 9).
pub const MAX_TPM_COMMAND: usize = PAGE_SIZE - SEND_COMMAND_HEADER;
/// Largest TPM response in the page (4096 − 4).
pub const MAX_TPM_RESPONSE: usize = PAGE_SIZE - 4;

/// The vTPM service GUID `c476f1eb-0123-45a5-9641-b4e7dde5bfe3` (wire bytes).
pub const VTPM_SERVICE_GUID: [u8; 16] = guid_bytes(
    0xc476_f1eb,
    0x0123,
    0x45a5,
    [0x96, 0x41, 0xb4, 0xe7, 0xdd, 0xe5, 0xbf, 0xe3],
);
/// The services manifest GUID `63849ebb-3d92-4670-a1ff-58f9c94b87bb` (wire bytes).
pub const SERVICES_MANIFEST_GUID: [u8; 16] = guid_bytes(
    0x6384_9ebb,
    0x3d92,
    0x4670,
    [0xa1, 0xff, 0x58, 0xf9, 0xc9, 0x4b, 0x87, 0xbb],
);
/// Size of the nonce of an attestation request: 64 bytes (REPORT_DATA).
pub const NONCE_SIZE: usize = 64;
/// Largest certificate buffer accepted (Linux `SEV_FW_BLOB_MAX_SIZE`, COCONUT): 16 KiB.
pub const MAX_CERT_SIZE: usize = 0x4000;
/// Size of the services-table header and of each of its entries (GUID ‖ u32 ‖ u32).
pub const SERVICES_ENTRY_SIZE: usize = 24;
/// Largest services manifest: header, one entry, the EK.
pub const MAX_SERVICES_MANIFEST: usize = 2 * SERVICES_ENTRY_SIZE + MAX_EK_PUBLIC;

/// SVSM call result codes (58019 Table 5, "SVSM_ERR_*"), returned in RAX.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SvsmError {
    /// SVSM_ERR_INCOMPLETE.
    Incomplete,
    /// SVSM_ERR_UNSUPPORTED_PROTOCOL.
    UnsupportedProtocol,
    /// SVSM_ERR_UNSUPPORTED_CALL.
    UnsupportedCall,
    /// SVSM_ERR_INVALID_ADDRESS.
    InvalidAddress,
    /// SVSM_ERR_INVALID_FORMAT.
    InvalidFormat,
    /// SVSM_ERR_INVALID_PARAMETER.
    InvalidParameter,
    /// SVSM_ERR_INVALID_REQUEST.
    InvalidRequest,
    /// SVSM_ERR_BUSY.
    Busy,
}

impl SvsmError {
    /// The RAX value (0x8000_0000 + n).
    pub const fn code(self) -> u64 {
        match self {
            Self::Incomplete => 0x8000_0000,
            Self::UnsupportedProtocol => 0x8000_0001,
            Self::UnsupportedCall => 0x8000_0002,
            Self::InvalidAddress => 0x8000_0003,
            Self::InvalidFormat => 0x8000_0004,
            Self::InvalidParameter => 0x8000_0005,
            Self::InvalidRequest => 0x8000_0006,
            Self::Busy => 0x8000_0007,
        }
    }
}

/// SVSM_SUCCESS.
pub const SVSM_SUCCESS: u64 = 0;

/// Guest memory as the SVSM sees it: the only way this module touches guest pages. Reads copy
/// into private memory; an address the guest may not pass (not its memory, not mapped) is an
/// error, never a fault.
pub trait GuestMemory {
    /// Copy `buf.len()` bytes at guest-physical `gpa` into `buf`.
    fn read(&mut self, gpa: u64, buf: &mut [u8]) -> Result<(), SvsmError>;
    /// Copy `data` to guest-physical `gpa`.
    fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), SvsmError>;
}

/// The registers of an SVSM call (58019 §4: RAX in, RCX / RDX / R8 in and out).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SvsmRegs {
    /// Protocol << 32 | call number; the result code on return.
    pub rax: u64,
    /// First parameter / result.
    pub rcx: u64,
    /// Second parameter / result.
    pub rdx: u64,
    /// Third parameter / result.
    pub r8: u64,
}

/// The attestation services operation (58019 Table 11), 0x40 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttestServicesOp {
    /// Report buffer GPA (4 KiB aligned).
    pub report_gpa: u64,
    /// Report buffer size.
    pub report_size: u32,
    /// Reserved, MBZ.
    pub reserved1: [u8; 4],
    /// Nonce GPA.
    pub nonce_gpa: u64,
    /// Nonce size: 64.
    pub nonce_size: u16,
    /// Reserved, MBZ.
    pub reserved2: [u8; 6],
    /// Manifest buffer GPA (4 KiB aligned).
    pub manifest_gpa: u64,
    /// Manifest buffer size.
    pub manifest_size: u32,
    /// Reserved, MBZ.
    pub reserved3: [u8; 4],
    /// Certificate buffer GPA (4 KiB aligned if size > 0).
    pub certificate_gpa: u64,
    /// Certificate buffer size: 0 = no certificates (regular report), else ≤ 16 KiB.
    pub certificate_size: u32,
    /// Reserved, MBZ.
    pub reserved4: [u8; 4],
}

/// The single-service operation (58019 Table 13), 0x58 bytes: the services operation, the
/// service GUID, the manifest version.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttestSingleServiceOp {
    /// The common part.
    pub op: AttestServicesOp,
    /// Service GUID (wire bytes).
    pub guid: [u8; 16],
    /// Manifest version: 0.
    pub manifest_version: u32,
    /// Reserved, MBZ.
    pub reserved: [u8; 4],
}

/// Size of [`AttestServicesOp`].
pub const SERVICES_OP_SIZE: usize = 0x40;
/// Size of [`AttestSingleServiceOp`].
pub const SINGLE_SERVICE_OP_SIZE: usize = 0x58;

const _: () = {
    use core::mem::{offset_of, size_of};
    type S = AttestServicesOp;
    assert!(size_of::<S>() == SERVICES_OP_SIZE);
    assert!(offset_of!(S, report_gpa) == 0x00);
    assert!(offset_of!(S, report_size) == 0x08);
    assert!(offset_of!(S, reserved1) == 0x0C);
    assert!(offset_of!(S, nonce_gpa) == 0x10);
    assert!(offset_of!(S, nonce_size) == 0x18);
    assert!(offset_of!(S, reserved2) == 0x1A);
    assert!(offset_of!(S, manifest_gpa) == 0x20);
    assert!(offset_of!(S, manifest_size) == 0x28);
    assert!(offset_of!(S, reserved3) == 0x2C);
    assert!(offset_of!(S, certificate_gpa) == 0x30);
    assert!(offset_of!(S, certificate_size) == 0x38);
    assert!(offset_of!(S, reserved4) == 0x3C);
    type T = AttestSingleServiceOp;
    assert!(size_of::<T>() == SINGLE_SERVICE_OP_SIZE);
    assert!(offset_of!(T, op) == 0x00);
    assert!(offset_of!(T, guid) == 0x40);
    assert!(offset_of!(T, manifest_version) == 0x50);
    assert!(offset_of!(T, reserved) == 0x54);
    assert!(SEND_COMMAND_HEADER + MAX_TPM_COMMAND == PAGE_SIZE);
};

impl AttestServicesOp {
    /// From its 0x40 wire bytes.
    pub fn from_bytes(b: &[u8]) -> Self {
        use core::mem::offset_of;
        Self {
            report_gpa: u64_at(b, offset_of!(Self, report_gpa)),
            report_size: u32_at(b, offset_of!(Self, report_size)),
            reserved1: get(b, offset_of!(Self, reserved1)),
            nonce_gpa: u64_at(b, offset_of!(Self, nonce_gpa)),
            nonce_size: u16_at(b, offset_of!(Self, nonce_size)),
            reserved2: get(b, offset_of!(Self, reserved2)),
            manifest_gpa: u64_at(b, offset_of!(Self, manifest_gpa)),
            manifest_size: u32_at(b, offset_of!(Self, manifest_size)),
            reserved3: get(b, offset_of!(Self, reserved3)),
            certificate_gpa: u64_at(b, offset_of!(Self, certificate_gpa)),
            certificate_size: u32_at(b, offset_of!(Self, certificate_size)),
            reserved4: get(b, offset_of!(Self, reserved4)),
        }
    }

    /// Its 0x40 wire bytes.
    pub fn to_bytes(&self) -> [u8; SERVICES_OP_SIZE] {
        use core::mem::offset_of;
        let mut b = [0u8; SERVICES_OP_SIZE];
        put(
            &mut b,
            offset_of!(Self, report_gpa),
            &self.report_gpa.to_le_bytes(),
        );
        put(
            &mut b,
            offset_of!(Self, report_size),
            &self.report_size.to_le_bytes(),
        );
        put(&mut b, offset_of!(Self, reserved1), &self.reserved1);
        put(
            &mut b,
            offset_of!(Self, nonce_gpa),
            &self.nonce_gpa.to_le_bytes(),
        );
        put(
            &mut b,
            offset_of!(Self, nonce_size),
            &self.nonce_size.to_le_bytes(),
        );
        put(&mut b, offset_of!(Self, reserved2), &self.reserved2);
        put(
            &mut b,
            offset_of!(Self, manifest_gpa),
            &self.manifest_gpa.to_le_bytes(),
        );
        put(
            &mut b,
            offset_of!(Self, manifest_size),
            &self.manifest_size.to_le_bytes(),
        );
        put(&mut b, offset_of!(Self, reserved3), &self.reserved3);
        put(
            &mut b,
            offset_of!(Self, certificate_gpa),
            &self.certificate_gpa.to_le_bytes(),
        );
        put(
            &mut b,
            offset_of!(Self, certificate_size),
            &self.certificate_size.to_le_bytes(),
        );
        put(&mut b, offset_of!(Self, reserved4), &self.reserved4);
        b
    }

    fn reserved_clear(&self) -> bool {
        all_zero(&self.reserved1)
            && all_zero(&self.reserved2)
            && all_zero(&self.reserved3)
            && all_zero(&self.reserved4)
    }
}

impl AttestSingleServiceOp {
    /// From its 0x58 wire bytes.
    pub fn from_bytes(b: &[u8]) -> Self {
        use core::mem::offset_of;
        Self {
            op: AttestServicesOp::from_bytes(b),
            guid: get(b, offset_of!(Self, guid)),
            manifest_version: u32_at(b, offset_of!(Self, manifest_version)),
            reserved: get(b, offset_of!(Self, reserved)),
        }
    }

    /// Its 0x58 wire bytes.
    pub fn to_bytes(&self) -> [u8; SINGLE_SERVICE_OP_SIZE] {
        use core::mem::offset_of;
        let mut b = [0u8; SINGLE_SERVICE_OP_SIZE];
        put(&mut b, 0, &self.op.to_bytes());
        put(&mut b, offset_of!(Self, guid), &self.guid);
        put(
            &mut b,
            offset_of!(Self, manifest_version),
            &self.manifest_version.to_le_bytes(),
        );
        put(&mut b, offset_of!(Self, reserved), &self.reserved);
        b
    }
}

fn page_offset(gpa: u64) -> u64 {
    gpa & 0xFFF
}

/// The vTPM as an SVSM service: the TPM, its EK (the manifest), and the private buffers every
/// request is handled in.
pub struct VtpmService<P: Platform> {
    tpm: Tpm<P>,
    ek: Ek,
    page: [u8; PAGE_SIZE],
    rsp: [u8; MAX_RESPONSE_SIZE],
    /// Where the TPM decrypts parameters (so that a command's stack holds no copy of one).
    scratch: [u8; MAX_COMMAND_SIZE],
    certs: [u8; MAX_CERT_SIZE],
}

impl<P: Platform> core::fmt::Debug for VtpmService<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VtpmService")
            .field("tpm", &self.tpm)
            .field("ek", &self.ek)
            .finish_non_exhaustive()
    }
}

impl<P: Platform> VtpmService<P> {
    /// A service whose TPM is not manufactured yet: a `const fn`, so firmware can hold the
    /// service in a `static` (or memory it owns) and boot it there with
    /// [`crate::boot::boot_in_place`], never moving it. Until then TPM commands answer
    /// TPM_RC_FAILURE and attestation is refused (there is no EK to attest).
    pub const fn unbooted(platform: P) -> Self {
        Self {
            tpm: Tpm::unmanufactured(platform),
            ek: Ek::NONE,
            page: [0; PAGE_SIZE],
            rsp: [0; MAX_RESPONSE_SIZE],
            scratch: [0; MAX_COMMAND_SIZE],
            certs: [0; MAX_CERT_SIZE],
        }
    }

    /// What booting in place writes: the TPM, the EK, the response and scratch buffers its
    /// commands run in, and the page the certificates are encoded in.
    pub(crate) fn boot_parts(
        &mut self,
    ) -> (
        &mut Tpm<P>,
        &mut Ek,
        crate::boot::Buffers<'_>,
        &mut [u8; PAGE_SIZE],
    ) {
        (
            &mut self.tpm,
            &mut self.ek,
            crate::boot::Buffers {
                rsp: &mut self.rsp,
                scratch: &mut self.scratch,
            },
            &mut self.page,
        )
    }

    /// A service around a started TPM and its EK (see [`crate::boot::boot`]).
    pub fn new(tpm: Tpm<P>, ek: Ek) -> Self {
        Self {
            tpm,
            ek,
            page: [0; PAGE_SIZE],
            rsp: [0; MAX_RESPONSE_SIZE],
            scratch: [0; MAX_COMMAND_SIZE],
            certs: [0; MAX_CERT_SIZE],
        }
    }

    /// Execute one TPM command from the firmware itself (e.g. measurements into PCRs before the
    /// guest runs) in the service's buffers; returns the response.
    pub fn execute(&mut self, locality: u8, command: &[u8]) -> &[u8] {
        let n = self
            .tpm
            .execute_with_scratch(locality, command, &mut self.rsp, &mut self.scratch);
        self.rsp.get(..n).unwrap_or(&[])
    }

    /// The TPM.
    pub fn tpm(&self) -> &Tpm<P> {
        &self.tpm
    }

    /// The TPM, mutably (firmware measuring into PCRs before the guest runs).
    pub fn tpm_mut(&mut self) -> &mut Tpm<P> {
        &mut self.tpm
    }

    /// The endorsement key created at boot.
    pub fn ek(&self) -> &Ek {
        &self.ek
    }

    /// The TPM and its EK, ending the service (a host simulator that goes on serving the same
    /// TPM over another transport).
    pub fn into_parts(self) -> (Tpm<P>, Ek) {
        (self.tpm, self.ek)
    }

    /// The vTPM service manifest, version 0: the EK's TPMT_PUBLIC.
    pub fn manifest(&self) -> &[u8] {
        self.ek.public()
    }

    /// SVSM_VTPM_QUERY (58019 §8.1): RCX = supported platform commands (bit 8), RDX = features
    /// (none).
    pub fn vtpm_query(&self, regs: &mut SvsmRegs) {
        regs.rcx = SUPPORTED_PLATFORM_COMMANDS;
        regs.rdx = 0;
    }

    /// Handle a TPM_SEND_COMMAND request in `page` (a private copy of the guest's page) and
    /// write the response into it: `u32 size ‖ response` (58019 Tables 16 and 17).
    ///
    /// Errors: unknown platform command, locality ≠ 0 or command size > 4087 →
    /// INVALID_PARAMETER; a response that does not fit the page → INVALID_REQUEST.
    pub fn send_command_page(&mut self, page: &mut [u8; PAGE_SIZE]) -> Result<usize, SvsmError> {
        send_command(&mut self.tpm, &mut self.rsp, &mut self.scratch, page)
    }

    /// SVSM_VTPM_CMD (58019 §8.2): RCX = GPA of the request/response buffer (one page, not
    /// necessarily aligned). The page is copied into private memory, handled, and the response
    /// (`4 + size` bytes) copied back.
    pub fn vtpm_cmd(
        &mut self,
        mem: &mut impl GuestMemory,
        regs: &mut SvsmRegs,
    ) -> Result<(), SvsmError> {
        let gpa = regs.rcx;
        if gpa == 0 {
            return Err(SvsmError::InvalidParameter);
        }
        let Self {
            tpm,
            page,
            rsp,
            scratch,
            ..
        } = self;
        // The platform command first: an unknown one is refused before the page is read.
        let mut command = [0u8; 4];
        mem.read(gpa, &mut command)?;
        if u32::from_le_bytes(command) != TPM_SEND_COMMAND {
            return Err(SvsmError::InvalidParameter);
        }
        mem.read(gpa, page)?;
        let n = send_command(tpm, rsp, scratch, page)?;
        let out = page.get(..n).ok_or(SvsmError::InvalidRequest)?;
        mem.write(gpa, out)
    }

    /// The services manifest (58019 §7.1): `GUID ‖ u32 total ‖ u32 count`, one entry
    /// `GUID ‖ u32 offset ‖ u32 length` for the vTPM, then the EK's TPMT_PUBLIC.
    pub fn services_manifest(&self, out: &mut [u8; MAX_SERVICES_MANIFEST]) -> usize {
        services_manifest_of(self.manifest(), out)
    }
}

/// The services manifest around the EK's TPMT_PUBLIC `ek` (see
/// [`VtpmService::services_manifest`]).
fn services_manifest_of(ek: &[u8], out: &mut [u8; MAX_SERVICES_MANIFEST]) -> usize {
    let header = 2 * SERVICES_ENTRY_SIZE;
    let total = header.saturating_add(ek.len());
    let (Ok(total32), Ok(ek32), Ok(off32)) = (
        u32::try_from(total),
        u32::try_from(ek.len()),
        u32::try_from(header),
    ) else {
        return 0;
    };
    out.fill(0);
    put(out, 0, &SERVICES_MANIFEST_GUID);
    put(out, 16, &total32.to_le_bytes());
    put(out, 20, &1u32.to_le_bytes());
    put(out, 24, &VTPM_SERVICE_GUID);
    put(out, 40, &off32.to_le_bytes());
    put(out, 44, &ek32.to_le_bytes());
    if put_slice(out, header, ek) { total } else { 0 }
}

/// TPM_SEND_COMMAND on a private page (see [`VtpmService::send_command_page`]).
fn send_command<P: Platform>(
    tpm: &mut Tpm<P>,
    rsp: &mut [u8; MAX_RESPONSE_SIZE],
    scratch: &mut [u8; MAX_COMMAND_SIZE],
    page: &mut [u8; PAGE_SIZE],
) -> Result<usize, SvsmError> {
    let command = u32_at(page, 0);
    if command != TPM_SEND_COMMAND {
        return Err(SvsmError::InvalidParameter);
    }
    let locality = page.get(4).copied().unwrap_or(u8::MAX);
    let size = usize::try_from(u32_at(page, 5)).map_err(|_| SvsmError::InvalidParameter)?;
    if locality != 0 || size > MAX_TPM_COMMAND {
        return Err(SvsmError::InvalidParameter);
    }
    let cmd = page
        .get(SEND_COMMAND_HEADER..)
        .and_then(|c| c.get(..size))
        .ok_or(SvsmError::InvalidParameter)?;
    let n = tpm.execute_with_scratch(0, cmd, rsp, scratch);
    if n > MAX_TPM_RESPONSE {
        return Err(SvsmError::InvalidRequest);
    }
    let out = rsp.get(..n).ok_or(SvsmError::InvalidRequest)?;
    let n32 = u32::try_from(n).map_err(|_| SvsmError::InvalidRequest)?;
    put(page, 0, &n32.to_le_bytes());
    if !put_slice(page, 4, out) {
        return Err(SvsmError::InvalidRequest);
    }
    n.checked_add(4).ok_or(SvsmError::InvalidRequest)
}

/// Where an attestation call's manifest is: the EK's TPMT_PUBLIC itself (single service), or
/// the first bytes of the service's page (the services manifest built there).
#[derive(Clone, Copy)]
enum Manifest {
    /// The EK's TPMT_PUBLIC.
    Ek,
    /// `page[..n]`.
    Page(usize),
}

/// REPORT_DATA of an SVSM attestation: SHA-512(nonce ‖ manifest) (58019 §7.1).
pub fn attestation_report_data(nonce: &[u8; NONCE_SIZE], manifest: &[u8]) -> [u8; 64] {
    let d = HashAlg::Sha512.digest(&[nonce, manifest]);
    get(d.as_slice(), 0)
}

impl<P: Platform + AttestationSource> VtpmService<P> {
    /// Handle one SVSM call for the protocols this service implements (vTPM and attestation)
    /// and return the result code for RAX (also stored in `regs.rax`). The SVSM core protocol
    /// belongs to the firmware's dispatcher: other protocols answer UNSUPPORTED_PROTOCOL.
    pub fn handle_call(&mut self, mem: &mut impl GuestMemory, regs: &mut SvsmRegs) -> u64 {
        let protocol = regs.rax >> 32;
        let call = regs.rax & 0xFFFF_FFFF;
        let r = match (u32::try_from(protocol), u32::try_from(call)) {
            (Ok(protocol::VTPM), Ok(SVSM_VTPM_QUERY)) => {
                self.vtpm_query(regs);
                Ok(())
            }
            (Ok(protocol::VTPM), Ok(SVSM_VTPM_CMD)) => self.vtpm_cmd(mem, regs),
            (Ok(protocol::ATTEST), Ok(SVSM_ATTEST_SERVICES)) => self.attest_services(mem, regs),
            (Ok(protocol::ATTEST), Ok(SVSM_ATTEST_SINGLE_SERVICE)) => {
                self.attest_single_service(mem, regs)
            }
            (Ok(protocol::VTPM | protocol::ATTEST), _) => Err(SvsmError::UnsupportedCall),
            _ => Err(SvsmError::UnsupportedProtocol),
        };
        regs.rax = match r {
            Ok(()) => SVSM_SUCCESS,
            Err(e) => e.code(),
        };
        regs.rax
    }

    /// SVSM_ATTEST_SERVICES (58019 §7.1): a report over SHA-512(nonce ‖ services manifest).
    pub fn attest_services(
        &mut self,
        mem: &mut impl GuestMemory,
        regs: &mut SvsmRegs,
    ) -> Result<(), SvsmError> {
        let mut raw = [0u8; SERVICES_OP_SIZE];
        mem.read(regs.rcx, &mut raw)?;
        let op = AttestServicesOp::from_bytes(&raw);
        if !op.reserved_clear() {
            return Err(SvsmError::InvalidParameter);
        }
        // Built in the service's page (free between calls): no copy on this stack.
        let Self { ek, page, .. } = self;
        let out = page
            .first_chunk_mut::<MAX_SERVICES_MANIFEST>()
            .ok_or(SvsmError::InvalidRequest)?;
        let n = services_manifest_of(ek.public(), out);
        self.attest(mem, regs, &op, Manifest::Page(n))
    }

    /// SVSM_ATTEST_SINGLE_SERVICE (58019 §7.2) for the vTPM GUID, manifest version 0: a report
    /// over SHA-512(nonce ‖ EK TPMT_PUBLIC). Another GUID → UNSUPPORTED_PROTOCOL (as COCONUT);
    /// another manifest version or non-zero reserved bytes → INVALID_PARAMETER.
    pub fn attest_single_service(
        &mut self,
        mem: &mut impl GuestMemory,
        regs: &mut SvsmRegs,
    ) -> Result<(), SvsmError> {
        let mut raw = [0u8; SINGLE_SERVICE_OP_SIZE];
        mem.read(regs.rcx, &mut raw)?;
        let op = AttestSingleServiceOp::from_bytes(&raw);
        if !op.op.reserved_clear() || !all_zero(&op.reserved) || op.manifest_version != 0 {
            return Err(SvsmError::InvalidParameter);
        }
        if op.guid != VTPM_SERVICE_GUID {
            return Err(SvsmError::UnsupportedProtocol);
        }
        self.attest(mem, regs, &op.op, Manifest::Ek)
    }

    /// The common part of both attestation calls: check the buffers, get the report, write
    /// report, manifest and certificates, and set RCX / RDX / R8 to their lengths.
    fn attest(
        &mut self,
        mem: &mut impl GuestMemory,
        regs: &mut SvsmRegs,
        op: &AttestServicesOp,
        manifest: Manifest,
    ) -> Result<(), SvsmError> {
        let Self {
            tpm,
            ek,
            page,
            certs,
            ..
        } = self;
        // Not booted: no EK, nothing to attest.
        if ek.public().is_empty() {
            return Err(SvsmError::InvalidRequest);
        }
        let manifest = match manifest {
            Manifest::Ek => ek.public(),
            Manifest::Page(n) => page.get(..n).ok_or(SvsmError::InvalidRequest)?,
        };
        // Nonce: 64 bytes, not crossing a page.
        if usize::from(op.nonce_size) != NONCE_SIZE
            || page_offset(op.nonce_gpa).saturating_add(64) > 4096
        {
            return Err(SvsmError::InvalidParameter);
        }
        if page_offset(op.report_gpa) != 0 || page_offset(op.manifest_gpa) != 0 {
            return Err(SvsmError::InvalidParameter);
        }
        let cert_size =
            usize::try_from(op.certificate_size).map_err(|_| SvsmError::InvalidParameter)?;
        if cert_size > MAX_CERT_SIZE || (cert_size > 0 && page_offset(op.certificate_gpa) != 0) {
            return Err(SvsmError::InvalidParameter);
        }
        let mut nonce = [0u8; NONCE_SIZE];
        mem.read(op.nonce_gpa, &mut nonce)?;

        // Lengths first: the guest resizes its buffers from these on INVALID_PARAMETER.
        regs.rcx = manifest.len() as u64;
        regs.rdx = 0;
        regs.r8 = REPORT_SIZE as u64;
        let report_size = usize::try_from(op.report_size).unwrap_or(0);
        let manifest_size = usize::try_from(op.manifest_size).unwrap_or(0);
        if manifest.len() > manifest_size || REPORT_SIZE > report_size {
            // Checked before the PSP is asked: a report request costs a sequence number.
            return Err(SvsmError::InvalidParameter);
        }

        let report_data = attestation_report_data(&nonce, manifest);
        let mut report = [0u8; REPORT_SIZE];
        // Extended request: a whole number of pages, at most 16 KiB.
        let cert_pages = cert_size.div_ceil(PAGE_SIZE).saturating_mul(PAGE_SIZE);
        certs.fill(0);
        let cert_buf = if cert_size > 0 {
            Some(
                certs
                    .get_mut(..cert_pages)
                    .ok_or(SvsmError::InvalidParameter)?,
            )
        } else {
            None
        };
        let cert_len =
            match tpm
                .platform_mut()
                .attestation_report(&report_data, &mut report, cert_buf)
            {
                Ok(n) => n,
                Err(ReportError::Request(RequestError::CertificatesTooSmall { pages })) => {
                    regs.rdx = pages.saturating_mul(PAGE_SIZE as u64);
                    return Err(SvsmError::InvalidParameter);
                }
                Err(_) => return Err(SvsmError::InvalidRequest),
            };
        if cert_len > cert_size {
            regs.rdx = cert_len as u64;
            return Err(SvsmError::InvalidParameter);
        }
        regs.rdx = cert_len as u64;
        mem.write(op.report_gpa, &report)?;
        mem.write(op.manifest_gpa, manifest)?;
        if cert_len > 0 {
            let c = certs.get(..cert_len).ok_or(SvsmError::InvalidRequest)?;
            mem.write(op.certificate_gpa, c)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids() {
        assert_eq!(
            VTPM_SERVICE_GUID,
            [
                0xeb, 0xf1, 0x76, 0xc4, 0x23, 0x01, 0xa5, 0x45, 0x96, 0x41, 0xb4, 0xe7, 0xdd, 0xe5,
                0xbf, 0xe3
            ]
        );
        assert_eq!(
            SERVICES_MANIFEST_GUID,
            [
                0xbb, 0x9e, 0x84, 0x63, 0x92, 0x3d, 0x70, 0x46, 0xa1, 0xff, 0x58, 0xf9, 0xc9, 0x4b,
                0x87, 0xbb
            ]
        );
    }

    #[test]
    fn op_round_trip() {
        let op = AttestSingleServiceOp {
            op: AttestServicesOp {
                report_gpa: 0x1000,
                report_size: 0x1000,
                reserved1: [0; 4],
                nonce_gpa: 0x2040,
                nonce_size: 64,
                reserved2: [0; 6],
                manifest_gpa: 0x3000,
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
        let b = op.to_bytes();
        assert_eq!(&b[0x18..0x1A], &[64, 0]);
        assert_eq!(&b[0x40..0x50], &VTPM_SERVICE_GUID);
        assert_eq!(AttestSingleServiceOp::from_bytes(&b), op);
    }
}
