//! The SVSM request handler of `platform-snp` (vTPM protocol and vTPM service attestation) on
//! hostile calls: arbitrary registers and guest memory.
//!
//! Input: RAX selector (byte 0: protocol 0-3, byte 1: call 0-3), RCX offset (bytes 2-3, into the
//! guest memory, or a wild address when byte 4 is odd), then the guest memory image (0x6000
//! bytes from GPA 0x10000). A fresh vTPM (P-256 EK, transient) on a deterministic platform whose
//! "attestation reports" are a fixed pattern, so each input reproduces alone.
//!
//! Invariants: no panic; RAX is SVSM_SUCCESS or one of the SVSM_ERR codes; after a successful
//! SVSM_VTPM_CMD the page holds `u32 size ‖ TPM response` with size ≤ 4092 and equal to the
//! response's own size field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_snp::report::{CertLength, REPORT_SIZE, ReportError};
use platform_snp::svsm::SVSM_SUCCESS;
use platform_snp::{AttestationSource, BootConfig, GuestMemory, SvsmError, SvsmRegs, boot};
use vtpm::{Platform, PlatformError};
use vtpm_fuzz::FuzzPlatform;

const BASE: u64 = 0x1_0000;
const SIZE: usize = 0x6000;

struct FuzzSnp(FuzzPlatform);

impl Platform for FuzzSnp {
    fn fill_entropy(&mut self, buf: &mut [u8]) -> Result<(), PlatformError> {
        self.0.fill_entropy(buf)
    }
    fn now_ms(&mut self) -> Result<u64, PlatformError> {
        self.0.now_ms()
    }
    fn evidence(&mut self, _rd: &[u8; 64], _out: &mut [u8]) -> Result<usize, PlatformError> {
        Err(PlatformError::EvidenceUnavailable)
    }
}

impl AttestationSource for FuzzSnp {
    fn attestation_report(
        &mut self,
        report_data: &[u8; 64],
        report: &mut [u8; REPORT_SIZE],
        certs: Option<&mut [u8]>,
    ) -> Result<CertLength, ReportError> {
        report.fill(0xA5);
        report[0x50..0x90].copy_from_slice(report_data);
        match certs {
            Some(c) if c.len() >= 100 => {
                c[..100].fill(1);
                Ok(100)
            }
            Some(_) => Err(ReportError::Request(
                platform_snp::RequestError::CertificatesTooSmall { pages: 1 },
            )),
            None => Ok(0),
        }
    }
}

struct Mem(Vec<u8>);

impl GuestMemory for Mem {
    fn read(&mut self, gpa: u64, buf: &mut [u8]) -> Result<(), SvsmError> {
        let start = gpa.checked_sub(BASE).ok_or(SvsmError::InvalidAddress)? as usize;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.0.get(start..end))
            .ok_or(SvsmError::InvalidAddress)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), SvsmError> {
        let start = gpa.checked_sub(BASE).ok_or(SvsmError::InvalidAddress)? as usize;
        let dst = start
            .checked_add(data.len())
            .and_then(|end| self.0.get_mut(start..end))
            .ok_or(SvsmError::InvalidAddress)?;
        dst.copy_from_slice(data);
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let (head, image) = data.split_at(5);
    let protocol = u64::from(head[0] % 4);
    let call = u64::from(head[1] % 4);
    let off = u64::from(u16::from_le_bytes([head[2], head[3]]));
    let rcx = if head[4] & 1 == 0 {
        BASE + off
    } else {
        off.wrapping_mul(0x1_0001_0001)
    };
    let mut mem = Mem(vec![0; SIZE]);
    let n = image.len().min(SIZE);
    mem.0[..n].copy_from_slice(&image[..n]);

    let mut svc = boot(FuzzSnp(FuzzPlatform::seeded(1)), &BootConfig::p256()).unwrap();
    let mut regs = SvsmRegs {
        rax: (protocol << 32) | call,
        rcx,
        rdx: 0,
        r8: 0,
    };
    let rax = svc.handle_call(&mut mem, &mut regs);
    assert!(
        rax == SVSM_SUCCESS || (0x8000_0000..=0x8000_0007).contains(&rax),
        "result {rax:#x}"
    );
    if rax == SVSM_SUCCESS && protocol == 2 && call == 1 {
        let start = (rcx - BASE) as usize;
        let size = u32::from_le_bytes(mem.0[start..start + 4].try_into().unwrap()) as usize;
        assert!((10..=4092).contains(&size), "response size {size}");
        let rsp = &mem.0[start + 4..start + 4 + size];
        assert_eq!(
            u32::from_be_bytes(rsp[2..6].try_into().unwrap()) as usize,
            size
        );
    }
});
