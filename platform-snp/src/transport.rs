//! [`GuestRequestTransport`]: the one door to the hypervisor.
//!
//! On hardware it is the GHCB `SNP_GUEST_REQUEST` / `SNP_EXTENDED_GUEST_REQUEST` VMGEXIT (AMD
//! 56421 "SEV-ES Guest-Hypervisor Communication Block Standardization" §4.1.8, Table 7:
//! SW_EXITCODE 0x8000_0011 / 0x8000_0012), in `hw::ghcb`. In tests it is the simulated AMD-SP of
//! `host-sim`. The transport moves whole pages: it copies the sealed request (built in private
//! memory) into the shared request page, clears the shared response page, exits to the
//! hypervisor, and copies the shared response page back into private memory. It never looks
//! inside the messages.

use crate::PAGE_SIZE;

/// SW_EXITCODE of SNP_GUEST_REQUEST (AMD 56421 Table 7).
pub const SNP_GUEST_REQUEST: u64 = 0x8000_0011;
/// SW_EXITCODE of SNP_EXTENDED_GUEST_REQUEST (AMD 56421 Table 7).
pub const SNP_EXTENDED_GUEST_REQUEST: u64 = 0x8000_0012;
/// SW_EXITINFO2 bits 63:32 for "certificate buffer too small" (AMD 56421 §4.1.8.2).
pub const VMM_ERR_INVALID_LEN: u32 = 1;
/// SW_EXITINFO2 bits 63:32 for "hypervisor busy, retry" (AMD 56421 §4.1.8).
pub const VMM_ERR_BUSY: u32 = 2;

/// How a guest request failed at the transport (AMD 56421 §4.1.8: SW_EXITINFO1 / SW_EXITINFO2).
///
/// Which of these leave the VMPCK usable is the requester's decision (see
/// [`crate::requester`]); the transport only reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// SW_EXITINFO2[63:32] = 2: the hypervisor did not forward the request; resend it.
    Busy,
    /// SW_EXITINFO2[63:32] = 1 on an extended request: the certificate buffer is too small;
    /// RBX holds the number of pages needed. The request was not forwarded.
    InvalidLength {
        /// Pages the certificate data needs (RBX).
        pages: u64,
    },
    /// Any other non-zero SW_EXITINFO2: bits 31:0 the PSP's status (e.g. 0x16 INVALID_PARAM),
    /// bits 63:32 a hypervisor error.
    Failed {
        /// The raw SW_EXITINFO2.
        exitinfo2: u64,
    },
    /// SW_EXITINFO1 = 1: the hypervisor asked for an exception to be injected (SW_EXITINFO2).
    Exception {
        /// SW_EXITINFO2: the exception to inject (#GP or #UD).
        exitinfo2: u64,
    },
    /// The transport is not set up (no GHCB, no shared pages) or the certificate buffer is larger
    /// than it can pass; nothing was sent.
    Unavailable,
}

impl TransportError {
    /// The outcome of a guest-request VMGEXIT from the GHCB fields the hypervisor wrote.
    pub fn from_exit(exitinfo1: u64, exitinfo2: u64, rbx: u64) -> Result<(), Self> {
        // SW_EXITINFO1[31:0]: 0 ok; 1 exception; anything else a hypervisor error (then SW_EXITINFO2).
        match exitinfo1 & 0xFFFF_FFFF {
            0 => {}
            1 => return Err(Self::Exception { exitinfo2 }),
            _ => return Err(Self::Failed { exitinfo2 }),
        }
        let vmm = exitinfo2 >> 32;
        match (vmm, exitinfo2) {
            (_, 0) => Ok(()),
            (v, _) if v == u64::from(VMM_ERR_BUSY) => Err(Self::Busy),
            (v, _) if v == u64::from(VMM_ERR_INVALID_LEN) => {
                Err(Self::InvalidLength { pages: rbx })
            }
            _ => Err(Self::Failed { exitinfo2 }),
        }
    }

    /// The PSP status (SW_EXITINFO2 bits 31:0) of a [`TransportError::Failed`], if any.
    pub fn firmware_status(&self) -> Option<u32> {
        match *self {
            Self::Failed { exitinfo2 } => u32::try_from(exitinfo2 & 0xFFFF_FFFF).ok(),
            _ => None,
        }
    }
}

/// The one door to the hypervisor for SNP guest requests (AMD 56421 §4.1.8).
pub trait GuestRequestTransport {
    /// Send the sealed `request` page and receive the response page.
    ///
    /// With `certs = None` this is SNP_GUEST_REQUEST. With `Some(buf)` it is
    /// SNP_EXTENDED_GUEST_REQUEST: the hypervisor writes the certificate table (GUID ‖ offset ‖
    /// length entries, then the certificates) into a shared buffer of `buf.len() / 4096` pages,
    /// which the transport copies into `buf`.
    ///
    /// The transport copies `request` into the shared page, zeroes the shared response page,
    /// exits, and on success copies the shared response page into `response` (private memory).
    fn guest_request(
        &mut self,
        request: &[u8; PAGE_SIZE],
        response: &mut [u8; PAGE_SIZE],
        certs: Option<&mut [u8]>,
    ) -> Result<(), TransportError>;

    /// Called before resending a request the hypervisor answered BUSY (`attempt` counts from
    /// 1). Firmware may wait here; the default does not.
    fn busy_backoff(&mut self, _attempt: u32) {}

    /// Called once when the requester wipes VMPCK `vmpck`: a transport that knows where the
    /// secrets page is zeroes the key there too, so nothing later in the boot can reuse it.
    fn vmpck_wiped(&mut self, _vmpck: u8) {}
}

impl<T: GuestRequestTransport + ?Sized> GuestRequestTransport for &mut T {
    fn guest_request(
        &mut self,
        request: &[u8; PAGE_SIZE],
        response: &mut [u8; PAGE_SIZE],
        certs: Option<&mut [u8]>,
    ) -> Result<(), TransportError> {
        (**self).guest_request(request, response, certs)
    }

    fn busy_backoff(&mut self, attempt: u32) {
        (**self).busy_backoff(attempt);
    }

    fn vmpck_wiped(&mut self, vmpck: u8) {
        (**self).vmpck_wiped(vmpck);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_decoding() {
        assert_eq!(TransportError::from_exit(0, 0, 0), Ok(()));
        assert_eq!(
            TransportError::from_exit(0, 2 << 32, 0),
            Err(TransportError::Busy)
        );
        assert_eq!(
            TransportError::from_exit(0, 1 << 32, 4),
            Err(TransportError::InvalidLength { pages: 4 })
        );
        let e = TransportError::from_exit(0, 0x16, 0).unwrap_err();
        assert_eq!(e, TransportError::Failed { exitinfo2: 0x16 });
        assert_eq!(e.firmware_status(), Some(0x16));
        // KVM's generic error (bit 31 set in the VMM half) is an error, not BUSY.
        assert!(matches!(
            TransportError::from_exit(0, 0xFFFF_FFFF << 32, 0),
            Err(TransportError::Failed { .. })
        ));
        assert_eq!(
            TransportError::from_exit(1, 13, 0),
            Err(TransportError::Exception { exitinfo2: 13 })
        );
        assert!(matches!(
            TransportError::from_exit(5, 0, 0),
            Err(TransportError::Failed { .. })
        ));
    }
}
