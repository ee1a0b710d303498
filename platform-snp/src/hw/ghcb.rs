//! SNP_GUEST_REQUEST / SNP_EXTENDED_GUEST_REQUEST through the GHCB (AMD 56421 "SEV-ES
//! Guest-Hypervisor Communication Block Standardization" v2, §2.3.1 GHCB layout, §4.1.8 guest
//! requests): the [`GuestRequestTransport`] of real hardware.
//!
//! The firmware hands over pages it has already made shared (page-state change to shared,
//! C-bit clear in its page tables): the GHCB, the request and response message pages, and
//! optionally the certificate buffer. The transport writes them only with volatile copies and
//! reads the response back into private memory before anything looks at it.

use core::arch::asm;
use core::ptr;

use crate::PAGE_SIZE;
use crate::requester::SECRETS_VMPCK0_OFFSET;
use crate::transport::{
    GuestRequestTransport, SNP_EXTENDED_GUEST_REQUEST, SNP_GUEST_REQUEST, TransportError,
};

/// The GHCB MSR (MSR_AMD64_SEV_ES_GHCB, AMD 56421 §2.2).
const MSR_GHCB: u32 = 0xC001_0130;
/// GHCB offsets (AMD 56421 Table 3).
const GHCB_RAX: usize = 0x1F8;
const GHCB_RBX: usize = 0x318;
const GHCB_SW_EXITCODE: usize = 0x390;
const GHCB_SW_EXITINFO1: usize = 0x398;
const GHCB_SW_EXITINFO2: usize = 0x3A0;
const GHCB_VALID_BITMAP: usize = 0x3F0;
const GHCB_PROTOCOL_VERSION: usize = 0xFFA;
const GHCB_USAGE: usize = 0xFFC;
/// GHCB protocol version 2 (the version with SNP guest requests).
const GHCB_VERSION: u16 = 2;

/// The shared pages the transport uses, as (virtual pointer, guest-physical address) pairs.
#[derive(Debug)]
pub struct SharedPages {
    /// The GHCB page.
    pub ghcb: (*mut u8, u64),
    /// The shared request message page.
    pub request: (*mut u8, u64),
    /// The shared response message page.
    pub response: (*mut u8, u64),
    /// The shared certificate buffer for extended requests and its size in pages (0: none).
    pub certs: (*mut u8, u64, usize),
    /// The secrets page (private, mapped), to zero a wiped VMPCK in; null for none.
    pub secrets: *mut u8,
}

/// The GHCB guest-request transport.
#[derive(Debug)]
pub struct GhcbTransport {
    pages: SharedPages,
}

// SAFETY: the transport is the only user of its pages (`new`'s contract) and every access
// goes through `&mut self` (or `&self` for reads of the GHCB it alone writes); moving it to
// another CPU moves that exclusive ownership with it. This lets firmware keep the vTPM that owns
// it in a `static` behind a lock.
unsafe impl Send for GhcbTransport {}

impl GhcbTransport {
    /// A transport over `pages`.
    ///
    /// # Safety
    /// Every pointer in `pages` must be valid for reads and writes of its size (one page each,
    /// `certs.2` pages for the certificate buffer), page-aligned, mapped shared (unencrypted)
    /// except the secrets page, with the matching guest-physical address, and used by nothing
    /// else while the transport exists. The CPU must run as an SEV-SNP guest with a GHCB
    /// protocol version ≥ 2 negotiated.
    pub const unsafe fn new(pages: SharedPages) -> Self {
        Self { pages }
    }

    fn ghcb_write_u64(&mut self, off: usize, v: u64) {
        // SAFETY: `off` is one of the GHCB field offsets above, all < PAGE_SIZE - 8 and
        // 8-aligned; the GHCB pointer is valid for a page (`new`'s contract).
        unsafe { ptr::write_volatile(self.pages.ghcb.0.add(off).cast::<u64>(), v) }
    }

    fn ghcb_read_u64(&self, off: usize) -> u64 {
        // SAFETY: as for `ghcb_write_u64`.
        unsafe { ptr::read_volatile(self.pages.ghcb.0.add(off).cast::<u64>()) }
    }

    fn set_valid(&mut self, off: usize) {
        let bit = off / 8;
        let byte = GHCB_VALID_BITMAP.saturating_add(bit / 8);
        // SAFETY: the bitmap is 16 bytes at 0x3F0 (fields up to 0x7F8 / 8 = 255 bits).
        unsafe {
            let p = self.pages.ghcb.0.add(byte);
            ptr::write_volatile(p, ptr::read_volatile(p) | (1u8 << (bit % 8)));
        }
    }

    fn clear_ghcb(&mut self) {
        for i in 0..16 {
            // SAFETY: the 16 bytes of the valid bitmap.
            unsafe {
                ptr::write_volatile(self.pages.ghcb.0.add(GHCB_VALID_BITMAP.wrapping_add(i)), 0)
            }
        }
        // SAFETY: 2- and 4-byte fields at 0xFFA / 0xFFC, inside the page and aligned.
        unsafe {
            ptr::write_volatile(
                self.pages.ghcb.0.add(GHCB_PROTOCOL_VERSION).cast::<u16>(),
                GHCB_VERSION,
            );
            ptr::write_volatile(self.pages.ghcb.0.add(GHCB_USAGE).cast::<u32>(), 0);
        }
    }

    fn vmgexit(&mut self) {
        let [l0, l1, l2, l3, h0, h1, h2, h3] = self.pages.ghcb.1.to_le_bytes();
        let lo = u32::from_le_bytes([l0, l1, l2, l3]);
        let hi = u32::from_le_bytes([h0, h1, h2, h3]);
        // SAFETY: writing the GHCB MSR with the GHCB's GPA and VMGEXIT (REP VMMCALL) is the
        // GHCB protocol; the hypervisor reads and writes only the GHCB and the pages named in
        // it. `asm!` without `nomem` is a compiler barrier for the volatile accesses around it.
        unsafe {
            asm!("wrmsr", in("ecx") MSR_GHCB, in("eax") lo, in("edx") hi,
                 options(nostack, preserves_flags));
            asm!("rep vmmcall", options(nostack));
        }
    }
}

impl GuestRequestTransport for GhcbTransport {
    fn guest_request(
        &mut self,
        request: &[u8; PAGE_SIZE],
        response: &mut [u8; PAGE_SIZE],
        certs: Option<&mut [u8]>,
    ) -> Result<(), TransportError> {
        let cert_pages = match &certs {
            Some(c) => {
                let pages = c.len().div_ceil(PAGE_SIZE);
                if pages == 0 || pages > self.pages.certs.2 || self.pages.certs.0.is_null() {
                    return Err(TransportError::Unavailable);
                }
                pages
            }
            None => 0,
        };
        // At most `self.pages.certs.2` pages, which the firmware mapped: no overflow.
        let cert_bytes = cert_pages.saturating_mul(PAGE_SIZE);
        // SAFETY: request / response pages are valid shared pages of PAGE_SIZE bytes (`new`);
        // the private buffers are distinct Rust arrays of the same size.
        unsafe {
            ptr::copy_nonoverlapping(request.as_ptr(), self.pages.request.0, PAGE_SIZE);
            ptr::write_bytes(self.pages.response.0, 0, PAGE_SIZE);
            if cert_pages > 0 {
                ptr::write_bytes(self.pages.certs.0, 0, cert_bytes);
            }
        }
        self.clear_ghcb();
        let code = if cert_pages > 0 {
            self.ghcb_write_u64(GHCB_RAX, self.pages.certs.1);
            self.set_valid(GHCB_RAX);
            self.ghcb_write_u64(GHCB_RBX, cert_pages as u64);
            self.set_valid(GHCB_RBX);
            SNP_EXTENDED_GUEST_REQUEST
        } else {
            SNP_GUEST_REQUEST
        };
        self.ghcb_write_u64(GHCB_SW_EXITCODE, code);
        self.set_valid(GHCB_SW_EXITCODE);
        self.ghcb_write_u64(GHCB_SW_EXITINFO1, self.pages.request.1);
        self.set_valid(GHCB_SW_EXITINFO1);
        self.ghcb_write_u64(GHCB_SW_EXITINFO2, self.pages.response.1);
        self.set_valid(GHCB_SW_EXITINFO2);

        self.vmgexit();

        let info1 = self.ghcb_read_u64(GHCB_SW_EXITINFO1);
        let info2 = self.ghcb_read_u64(GHCB_SW_EXITINFO2);
        let rbx = self.ghcb_read_u64(GHCB_RBX);
        TransportError::from_exit(info1, info2, rbx)?;
        // SAFETY: as above; the copy lands in private memory before anything parses it.
        unsafe {
            ptr::copy_nonoverlapping(self.pages.response.0, response.as_mut_ptr(), PAGE_SIZE);
        }
        if let Some(c) = certs {
            let n = c.len().min(cert_bytes);
            // SAFETY: the certificate buffer holds `cert_pages` pages (checked above).
            unsafe { ptr::copy_nonoverlapping(self.pages.certs.0, c.as_mut_ptr(), n) }
        }
        Ok(())
    }

    fn busy_backoff(&mut self, _attempt: u32) {
        for _ in 0..100_000 {
            core::hint::spin_loop();
        }
    }

    fn vmpck_wiped(&mut self, vmpck: u8) {
        if self.pages.secrets.is_null() || vmpck > 3 {
            return;
        }
        let off = SECRETS_VMPCK0_OFFSET.saturating_add(usize::from(vmpck).saturating_mul(32));
        for i in off..off.saturating_add(32) {
            // SAFETY: the secrets page is a valid mapped page (`new`); VMPCKn spans
            // 0x20 + 0x20n .. +0x20 < PAGE_SIZE.
            unsafe { ptr::write_volatile(self.pages.secrets.add(i), 0) }
        }
    }
}
