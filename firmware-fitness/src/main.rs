//! Example SVSM-like firmware around the vTPM, for the firmware-fitness check (`check.sh`).
//!
//! What a VMPL0 firmware does with the vTPM, and nothing else: the service lives in a `static`
//! from the image on (`VtpmService::unbooted` is a `const fn`); at boot the firmware builds the
//! [`SnpPlatform`] from the real `hw` types (GHCB transport, RDSEED, TSC) and manufactures the
//! vTPM in place ([`platform_snp::boot_in_place`]); then it serves SVSM calls in a loop. The
//! binary is built, never run: the addresses below stand for what a real firmware's memory map
//! hands over. The entry points the check measures are the `fitness_*` functions.
#![no_std]
#![no_main]

use core::ptr;

use platform_snp::hw::{GhcbTransport, RdSeed, SharedPages, TscClock};
use platform_snp::report::{CertLength, REPORT_SIZE, ReportError};
use platform_snp::requester::{SECRETS_SEQNO0_OFFSET, SECRETS_VMPCK0_OFFSET};
use platform_snp::{
    AttestationSource, BootConfig, GuestMemory, Requester, SnpPlatform, SvsmError, SvsmRegs, Vmpck,
    VtpmService,
};
use vtpm::{Platform, PlatformError};

/// The firmware's view of the machine (stand-ins for its memory map).
mod map {
    /// GHCB page (shared): virtual address = guest-physical address (identity map).
    pub const GHCB: u64 = 0x0010_0000;
    /// Shared guest-request request page.
    pub const REQUEST: u64 = 0x0010_1000;
    /// Shared guest-request response page.
    pub const RESPONSE: u64 = 0x0010_2000;
    /// Shared certificate buffer (4 pages).
    pub const CERTS: u64 = 0x0010_4000;
    /// Pages in the certificate buffer.
    pub const CERT_PAGES: usize = 4;
    /// The SNP secrets page (private).
    pub const SECRETS: u64 = 0x0010_8000;
    /// Where the next SVSM call's registers are found (the firmware's call gate).
    pub const CALL_AREA: u64 = 0x0010_9000;
    /// The guest memory the SVSM may touch on the guest's behalf: [BASE, BASE + SIZE).
    pub const GUEST_BASE: u64 = 0x1000_0000;
    /// Size of the guest window.
    pub const GUEST_SIZE: u64 = 0x1000_0000;
    /// TSC frequency in kHz (from the firmware's calibration).
    pub const TSC_KHZ: u64 = 2_000_000;
}

type Snp = SnpPlatform<GhcbTransport, RdSeed, TscClock>;

/// The platform slot of the static service: empty in the image, filled once at boot. An empty
/// slot answers every request with an error (the TPM stays in failure mode).
pub struct FwPlatform(Option<Snp>);

impl Platform for FwPlatform {
    fn fill_entropy(&mut self, buf: &mut [u8]) -> Result<(), PlatformError> {
        self.0
            .as_mut()
            .ok_or(PlatformError::EntropyUnavailable)?
            .fill_entropy(buf)
    }

    fn now_ms(&mut self) -> Result<u64, PlatformError> {
        self.0
            .as_mut()
            .ok_or(PlatformError::ClockUnavailable)?
            .now_ms()
    }

    fn evidence(&mut self, report_data: &[u8; 64], out: &mut [u8]) -> Result<usize, PlatformError> {
        self.0
            .as_mut()
            .ok_or(PlatformError::EvidenceUnavailable)?
            .evidence(report_data, out)
    }
}

impl AttestationSource for FwPlatform {
    fn attestation_report(
        &mut self,
        report_data: &[u8; 64],
        report: &mut [u8; REPORT_SIZE],
        certs: Option<&mut [u8]>,
    ) -> Result<CertLength, ReportError> {
        match self.0.as_mut() {
            Some(p) => p.attestation_report(report_data, report, certs),
            None => Err(ReportError::Request(
                platform_snp::RequestError::InvalidArgument,
            )),
        }
    }
}

/// The vTPM, where the firmware keeps it: in its image (.bss), never moved.
static SERVICE: spin::Mutex<VtpmService<FwPlatform>> =
    spin::Mutex::new(VtpmService::unbooted(FwPlatform(None)));

/// Guest memory through the identity map, limited to the guest window.
struct IdentityGuestMemory;

fn guest_range(gpa: u64, len: usize) -> Result<*mut u8, SvsmError> {
    let len = u64::try_from(len).map_err(|_| SvsmError::InvalidAddress)?;
    let end = gpa.checked_add(len).ok_or(SvsmError::InvalidAddress)?;
    if gpa < map::GUEST_BASE || end > map::GUEST_BASE + map::GUEST_SIZE {
        return Err(SvsmError::InvalidAddress);
    }
    Ok(gpa as usize as *mut u8)
}

impl GuestMemory for IdentityGuestMemory {
    fn read(&mut self, gpa: u64, buf: &mut [u8]) -> Result<(), SvsmError> {
        let src = guest_range(gpa, buf.len())?;
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: the guest window is mapped for the firmware (its memory map); volatile,
            // because the guest may change it concurrently; `i < buf.len()` stays in the range
            // checked above.
            *b = unsafe { ptr::read_volatile(src.add(i)) };
        }
        Ok(())
    }

    fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), SvsmError> {
        let dst = guest_range(gpa, data.len())?;
        for (i, b) in data.iter().enumerate() {
            // SAFETY: as for `read`.
            unsafe { ptr::write_volatile(dst.add(i), *b) };
        }
        Ok(())
    }
}

/// The EK this firmware makes: H-3 (P-384), or L-1 (RSA-2048) in the `rsa` build.
fn boot_config() -> BootConfig {
    #[cfg(feature = "rsa")]
    return BootConfig::rsa2048();
    #[cfg(not(feature = "rsa"))]
    return BootConfig::default();
}

/// Boot: build the SNP platform from the real `hw` types into the service's slot, then
/// manufacture the vTPM in place (Startup, EK). Returns whether the vTPM came up.
#[unsafe(no_mangle)]
#[inline(never)]
pub fn fitness_boot(service: &mut VtpmService<FwPlatform>) -> bool {
    install_platform(&mut service.tpm_mut().platform_mut().0)
        && platform_snp::boot_in_place(service, &boot_config()).is_ok()
}

/// Build the SNP platform (GHCB transport, RDSEED, TSC, VMPCK0 from the secrets page) into
/// `slot`. A step of its own: its frame (the requester's two private pages) is gone before the
/// vTPM boots.
#[inline(never)]
fn install_platform(slot: &mut Option<Snp>) -> bool {
    let secrets = map::SECRETS as usize as *mut u8;
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        // SAFETY: the secrets page is mapped private at `map::SECRETS` (firmware memory map);
        // VMPCK0 is 32 bytes at 0x20.
        *b = unsafe { ptr::read_volatile(secrets.add(SECRETS_VMPCK0_OFFSET + i)) };
    }
    let mut seqno = [0u8; 4];
    for (i, b) in seqno.iter_mut().enumerate() {
        // SAFETY: as above; msg_seqno_0 is 4 bytes at 0xA0.
        *b = unsafe { ptr::read_volatile(secrets.add(SECRETS_SEQNO0_OFFSET + i)) };
    }
    let pages = SharedPages {
        ghcb: (map::GHCB as usize as *mut u8, map::GHCB),
        request: (map::REQUEST as usize as *mut u8, map::REQUEST),
        response: (map::RESPONSE as usize as *mut u8, map::RESPONSE),
        certs: (map::CERTS as usize as *mut u8, map::CERTS, map::CERT_PAGES),
        secrets,
    };
    // SAFETY: the pages are mapped as the memory map says (shared except the secrets page),
    // used by nothing else, and the GHCB protocol was negotiated by the firmware's early boot.
    let transport = unsafe { GhcbTransport::new(pages) };
    // SAFETY: every SEV-SNP capable CPU implements RDSEED and RDRAND.
    let entropy = unsafe { RdSeed::new() };
    let Some(clock) = TscClock::new(map::TSC_KHZ) else {
        return false;
    };
    let Ok(requester) = Requester::new(
        transport,
        Vmpck::take(&mut key),
        0,
        u64::from(u32::from_le_bytes(seqno)),
    ) else {
        return false;
    };
    *slot = Some(SnpPlatform::new(requester, entropy, clock));
    true
}

/// One SVSM call (vTPM and attestation protocols).
#[unsafe(no_mangle)]
#[inline(never)]
pub fn fitness_handle_call(service: &mut VtpmService<FwPlatform>, regs: &mut SvsmRegs) -> u64 {
    service.handle_call(&mut IdentityGuestMemory, regs)
}

/// One TPM command from the firmware itself (measurements into PCRs before the guest runs).
#[unsafe(no_mangle)]
#[inline(never)]
pub fn fitness_execute(service: &mut VtpmService<FwPlatform>, command: &[u8]) -> usize {
    service.execute(0, command).len()
}

fn read_call() -> SvsmRegs {
    let area = map::CALL_AREA as usize as *const u64;
    // SAFETY: the call area is four mapped, aligned u64 (the firmware's call gate).
    unsafe {
        SvsmRegs {
            rax: ptr::read_volatile(area),
            rcx: ptr::read_volatile(area.add(1)),
            rdx: ptr::read_volatile(area.add(2)),
            r8: ptr::read_volatile(area.add(3)),
        }
    }
}

fn complete_call(regs: &SvsmRegs) {
    let area = map::CALL_AREA as usize as *mut u64;
    // SAFETY: as for `read_call`.
    unsafe {
        ptr::write_volatile(area, regs.rax);
        ptr::write_volatile(area.add(1), regs.rcx);
        ptr::write_volatile(area.add(2), regs.rdx);
        ptr::write_volatile(area.add(3), regs.r8);
    }
}

/// The firmware's own measurement: PCR_Extend(0, SHA-256 of nothing in particular).
const MEASURE: [u8; 65] = {
    let mut c = [0u8; 65];
    let head: [u8; 33] = [
        0x80, 0x02, 0, 0, 0, 65, 0, 0, 0x01, 0x82, 0, 0, 0, 0, 0, 0, 0, 9, 0x40, 0, 0, 9, 0, 0, 0,
        0, 0, 0, 0, 0, 1, 0, 0x0B,
    ];
    let mut i = 0;
    while i < head.len() {
        c[i] = head[i];
        i += 1;
    }
    c
};

/// The firmware's entry: boot the vTPM, measure, serve calls forever.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut service = SERVICE.lock();
    if fitness_boot(&mut service) {
        fitness_execute(&mut service, &MEASURE);
    }
    loop {
        let mut regs = read_call();
        fitness_handle_call(&mut service, &mut regs);
        complete_call(&regs);
    }
}

/// The critical section of the lazily built precomputed tables: this firmware serves the vTPM
/// from one CPU with interrupts it may mask, so masking them is enough.
#[cfg(feature = "precomputed-tables")]
mod critical {
    struct InterruptsOff;
    critical_section::set_impl!(InterruptsOff);

    // SAFETY: `acquire` saves RFLAGS and masks interrupts, `release` restores the saved IF;
    // nothing else runs on this CPU meanwhile, and the vTPM runs on one CPU only.
    unsafe impl critical_section::Impl for InterruptsOff {
        unsafe fn acquire() -> critical_section::RawRestoreState {
            let flags: u64;
            // SAFETY: pushfq / pop / cli touch only the stack slot they push and RFLAGS.
            unsafe { core::arch::asm!("pushfq", "pop {}", "cli", out(reg) flags) };
            (flags & (1 << 9)) != 0
        }

        unsafe fn release(was_enabled: critical_section::RawRestoreState) {
            if was_enabled {
                // SAFETY: re-enables interrupts that `acquire` found enabled.
                unsafe { core::arch::asm!("sti", options(nomem, nostack)) };
            }
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
