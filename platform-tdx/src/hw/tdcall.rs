//! TDCALL and TDG.VP.VMCALL (Intel TDX Module ABI "TDCALL leaves"; GHCI §2.4, §3.3 GetQuote,
//! §3.13 Service). TDCALL is `66 0F 01 CC`: leaf in RAX, completion status back in RAX.

use core::arch::asm;

use crate::report::{REPORTMACSTRUCT_SIZE, TDREPORT_SIZE};
use crate::transport::{TdcallError, TdxTransport, VmcallError};

/// TDG.VP.VMCALL (leaf 0).
const TDG_VP_VMCALL: u64 = 0;
/// TDG.MR.RTMR.EXTEND.
const TDG_MR_RTMR_EXTEND: u64 = 2;
/// TDG.MR.REPORT.
const TDG_MR_REPORT: u64 = 4;
/// TDG.MR.VERIFYREPORT.
const TDG_MR_VERIFYREPORT: u64 = 22;
/// TDG.VP.VMCALL sub-function GetQuote.
const VMCALL_GET_QUOTE: u64 = 0x10002;
/// TDG.VP.VMCALL sub-function Service.
const VMCALL_SERVICE: u64 = 0x10005;
/// RCX bitmap: R10-R15 exposed to the VMM (as td-shim and Linux pass).
const VMCALL_EXPOSE: u64 = 0xFC00;

#[repr(C, align(1024))]
struct AlignedReport([u8; TDREPORT_SIZE]);
#[repr(C, align(64))]
struct Aligned64([u8; 64]);
#[repr(C, align(64))]
struct Aligned48([u8; 48]);
#[repr(C, align(256))]
struct AlignedMac([u8; REPORTMACSTRUCT_SIZE]);

const _: () = {
    assert!(core::mem::size_of::<AlignedReport>() == TDREPORT_SIZE);
    assert!(core::mem::align_of::<AlignedReport>() == 1024);
    assert!(core::mem::size_of::<AlignedMac>() == REPORTMACSTRUCT_SIZE);
};

/// A TDCALL with RCX, RDX, R8; returns RAX.
///
/// # Safety
/// The caller guarantees the leaf and its operands are valid for the TDX module: every GPA
/// names private memory of this TD, identity-mapped, aligned as the leaf requires, and live for
/// the call.
unsafe fn tdcall(leaf: u64, rcx: u64, rdx: u64, r8: u64) -> u64 {
    let rax: u64;
    // SAFETY: the caller's contract; TDCALL only touches the registers named here and the
    // memory the operands name.
    unsafe {
        asm!(".byte 0x66, 0x0f, 0x01, 0xcc",
             inout("rax") leaf => rax, inout("rcx") rcx => _, inout("rdx") rdx => _,
             inout("r8") r8 => _, out("r9") _, out("r10") _, out("r11") _,
             options(nostack));
    }
    rax
}

/// TDG.VP.VMCALL with R11 = `subfn` and R12..R15; returns (RAX, R10).
///
/// # Safety
/// Every GPA passed names shared memory set up for this call (converted with MapGPA, the
/// shared bit set), of the size the sub-function implies.
unsafe fn vmcall(subfn: u64, r12: u64, r13: u64, r14: u64, r15: u64) -> (u64, u64) {
    let rax: u64;
    let r10: u64;
    // SAFETY: the caller's contract; the VMM sees only R10-R15 (RCX bitmap) and the shared
    // buffers; all of R10-R15 are declared clobbered.
    unsafe {
        asm!(".byte 0x66, 0x0f, 0x01, 0xcc",
             inout("rax") TDG_VP_VMCALL => rax, inout("rcx") VMCALL_EXPOSE => _,
             inout("r10") 0u64 => r10, inout("r11") subfn => _,
             inout("r12") r12 => _, inout("r13") r13 => _, inout("r14") r14 => _,
             inout("r15") r15 => _,
             options(nostack));
    }
    (rax, r10)
}

/// The shared buffers the firmware set aside for the VMM: the GetQuote buffer and the Service
/// command and response buffers, with their guest-physical addresses (shared bit included).
#[derive(Debug)]
pub struct SharedBuffers {
    /// GetQuote buffer.
    pub quote: &'static mut [u8],
    /// Its GPA.
    pub quote_gpa: u64,
    /// Service command buffer.
    pub command: &'static mut [u8],
    /// Its GPA.
    pub command_gpa: u64,
    /// Service response buffer.
    pub response: &'static mut [u8],
    /// Its GPA.
    pub response_gpa: u64,
}

/// [`TdxTransport`] over the real TDX module and VMM.
#[derive(Debug)]
pub struct TdcallTransport {
    shared: SharedBuffers,
}

impl TdcallTransport {
    /// The transport over `shared`.
    ///
    /// # Safety
    /// The code runs in a TD with an identity mapping of its private memory (stack included:
    /// the TDCALL operands are stack buffers whose addresses are used as GPAs); each buffer in
    /// `shared` is 4 KiB aligned, converted to shared memory (TDG.VP.VMCALL\<MapGPA\>), used by
    /// nothing else, and its `*_gpa` is its guest-physical address with the shared bit set.
    pub unsafe fn new(shared: SharedBuffers) -> Self {
        Self { shared }
    }

    fn addr<T>(p: &T) -> u64 {
        // Identity mapping (the constructor's contract): the address is the GPA.
        core::ptr::from_ref(p) as u64
    }
}

fn copy_in(dst: &mut [u8], src: &[u8]) -> Result<(), VmcallError> {
    let d = dst.get_mut(..src.len()).ok_or(VmcallError::Unavailable)?;
    d.copy_from_slice(src);
    Ok(())
}

impl TdxTransport for TdcallTransport {
    fn tdreport(
        &mut self,
        report_data: &[u8; 64],
        out: &mut [u8; TDREPORT_SIZE],
    ) -> Result<(), TdcallError> {
        let mut report = AlignedReport([0; TDREPORT_SIZE]);
        let data = Aligned64(*report_data);
        // SAFETY: both operands are private, identity-mapped stack buffers with the alignment
        // TDG.MR.REPORT requires (1024 and 64), live across the call; subtype 0.
        let rax = unsafe { tdcall(TDG_MR_REPORT, Self::addr(&report), Self::addr(&data), 0) };
        TdcallError::from_status(rax)?;
        *out = report.0;
        report.0.fill(0);
        Ok(())
    }

    fn verify_report(
        &mut self,
        mac_struct: &[u8; REPORTMACSTRUCT_SIZE],
    ) -> Result<(), TdcallError> {
        let mac = AlignedMac(*mac_struct);
        // SAFETY: a private, 256-byte aligned stack copy of REPORTMACSTRUCT, read only.
        let rax = unsafe { tdcall(TDG_MR_VERIFYREPORT, Self::addr(&mac), 0, 0) };
        TdcallError::from_status(rax)
    }

    fn rtmr_extend(&mut self, index: u8, digest: &[u8; 48]) -> Result<(), TdcallError> {
        let d = Aligned48(*digest);
        // SAFETY: a private, 64-byte aligned 48-byte buffer, read only; the index is checked by
        // the TDX module (operand invalid otherwise).
        let rax = unsafe { tdcall(TDG_MR_RTMR_EXTEND, Self::addr(&d), u64::from(index), 0) };
        TdcallError::from_status(rax)
    }

    fn get_quote_submit(&mut self, buffer: &[u8]) -> Result<(), VmcallError> {
        copy_in(self.shared.quote, buffer)?;
        let len = self.shared.quote.len() as u64;
        // SAFETY: the shared quote buffer of `len` bytes at `quote_gpa` (constructor contract).
        let (rax, r10) = unsafe { vmcall(VMCALL_GET_QUOTE, self.shared.quote_gpa, len, 0, 0) };
        if rax != 0 {
            return Err(VmcallError::Other(rax));
        }
        VmcallError::from_r10(r10)
    }

    fn get_quote_poll(&mut self, buffer: &mut [u8], attempt: u32) -> Result<(), VmcallError> {
        if attempt > 1 {
            // GHCI: completion by polling the status field; wait a little between reads.
            for _ in 0..1_000_000u32 {
                core::hint::spin_loop();
            }
        }
        let n = buffer.len().min(self.shared.quote.len());
        let (d, s) = (buffer.get_mut(..n), self.shared.quote.get(..n));
        match (d, s) {
            (Some(d), Some(s)) => {
                // The VMM may write the shared buffer concurrently: a volatile-free copy is
                // fine here because the result is re-validated by `get_quote` and the quote
                // verifier; nothing is parsed in place.
                d.copy_from_slice(s);
                Ok(())
            }
            _ => Err(VmcallError::Unavailable),
        }
    }

    fn service(
        &mut self,
        command: &[u8],
        response: &mut [u8],
        timeout_ms: u32,
    ) -> Result<(), VmcallError> {
        self.shared.response.fill(0);
        copy_in(self.shared.command, command)?;
        // SAFETY: the shared command and response buffers (constructor contract); no notify
        // vector (0): the call returns when the VMM has written the response.
        let (rax, r10) = unsafe {
            vmcall(
                VMCALL_SERVICE,
                self.shared.command_gpa,
                self.shared.response_gpa,
                0,
                u64::from(timeout_ms),
            )
        };
        if rax != 0 {
            return Err(VmcallError::Other(rax));
        }
        VmcallError::from_r10(r10)?;
        let n = response.len().min(self.shared.response.len());
        copy_in(response, self.shared.response.get(..n).unwrap_or(&[]))
    }
}
