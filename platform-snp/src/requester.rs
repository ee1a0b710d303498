//! The guest requester: one VMPCK, its message sequence numbers, and the rules that keep an
//! AES-GCM IV from ever being used twice (AMD 56860 §8.26 "Guest Messages"; AMD 56421 §4.1.8).
//!
//! - Sequence numbers: the PSP keeps one counter per VMPCK and accepts only the next value. A
//!   request carries `last + 1`, its response `last + 2`, and the next request `last + 3`. The
//!   first request of a fresh guest is 1; 0 is never used.
//! - The counter advances only when the PSP processed the request. After a failure the only
//!   safe moves are to resend the *identical* sealed page (same ciphertext, same IV) or never
//!   to use the key again.
//! - BUSY: resend the same page, a bounded number of times, then wipe.
//! - INVALID_LEN on an extended request (certificate buffer too small): resend the same page as
//!   a regular request so the PSP consumes the sequence number; report the pages needed; the key
//!   is kept.
//! - Anything else — another hypervisor or firmware error, an exception, a response whose header
//!   or tag does not check out — wipes the VMPCK and the requester refuses every later request.
//!
//! Linux (`snp_issue_guest_request`) and COCONUT (`greq/driver.rs`) follow the same rules.

use crate::PAGE_SIZE;
use crate::layout::{get, u32_at};
use crate::msg::{self, Expected, MSG_VERSION, MsgError, MsgType, VMPCK_SIZE, Vmpck};
use crate::transport::{GuestRequestTransport, TransportError};

/// Default number of resends after BUSY before giving up (Linux retries for 60 s every 2 s).
pub const DEFAULT_BUSY_RETRIES: u32 = 16;
/// Number of VMPCKs (VMPCK0..3).
pub const VMPCK_COUNT: u8 = 4;

/// Offset of VMPCK0 in the secrets page (AMD 56860 Table 71 "Secrets Page Format"); VMPCKn is
/// at `0x20 + 0x20·n`.
pub const SECRETS_VMPCK0_OFFSET: usize = 0x20;
/// Offset of the OS area's `msg_seqno_0` (u32) in the secrets page (Linux `snp_secrets_page`);
/// `msg_seqno_n` is at `0xA0 + 4·n`.
pub const SECRETS_SEQNO0_OFFSET: usize = 0xA0;

/// Why a guest request failed. [`RequestError::wipes_key`] tells whether the VMPCK is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// The VMPCK was wiped earlier (or is zero): nothing is sent, ever again.
    KeyDisabled,
    /// The caller's request is unusable (payload larger than a page, no response type, VMPCK
    /// index above 3); nothing was sent and the key is kept.
    InvalidArgument,
    /// The response payload does not fit the caller's buffer; the round trip itself succeeded
    /// and the key is kept.
    BufferTooSmall,
    /// The sequence number space is exhausted: the key is wiped.
    SeqnoExhausted,
    /// The hypervisor stayed BUSY through every resend: the key is wiped.
    Busy {
        /// How many times the page was sent.
        attempts: u32,
    },
    /// The extended request's certificate buffer is too small: `pages` 4 KiB pages are
    /// needed. The request was resent as a regular one so its sequence number is consumed; the
    /// key is kept and the next request works.
    CertificatesTooSmall {
        /// Pages the certificate table needs.
        pages: u64,
    },
    /// The hypervisor or the PSP refused the request (or the transport failed): the key is wiped.
    Transport(TransportError),
    /// The response failed its header checks or did not authenticate: the key is wiped.
    Response(MsgError),
}

impl RequestError {
    /// Whether this failure wiped (or found wiped) the VMPCK.
    pub fn wipes_key(&self) -> bool {
        !matches!(
            self,
            Self::InvalidArgument | Self::BufferTooSmall | Self::CertificatesTooSmall { .. }
        )
    }
}

/// Sends guest messages protected by one VMPCK through a [`GuestRequestTransport`], owning
/// the key, the sequence number and the private pages messages are built and checked in.
pub struct Requester<T: GuestRequestTransport> {
    transport: T,
    key: Vmpck,
    vmpck_id: u8,
    last_seqno: u64,
    disabled: bool,
    busy_retries: u32,
    request_page: [u8; PAGE_SIZE],
    response_page: [u8; PAGE_SIZE],
}

impl<T: GuestRequestTransport> core::fmt::Debug for Requester<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Requester")
            .field("key", &self.key)
            .field("vmpck_id", &self.vmpck_id)
            .field("last_seqno", &self.last_seqno)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl<T: GuestRequestTransport> Requester<T> {
    /// A requester for VMPCK `vmpck_id` (0 for VMPL0 firmware), whose PSP counter last consumed
    /// `last_seqno` (0 for a guest that never used this key; firmware inheriting the key from
    /// an earlier VMPL0 component passes its count, e.g. the secrets page's `msg_seqno_0`).
    /// An all-zero key yields a requester that refuses everything.
    pub fn new(
        transport: T,
        key: Vmpck,
        vmpck_id: u8,
        last_seqno: u64,
    ) -> Result<Self, RequestError> {
        if vmpck_id >= VMPCK_COUNT {
            return Err(RequestError::InvalidArgument);
        }
        let disabled = key.is_zero();
        Ok(Self {
            transport,
            key,
            vmpck_id,
            last_seqno,
            disabled,
            busy_retries: DEFAULT_BUSY_RETRIES,
            request_page: [0; PAGE_SIZE],
            response_page: [0; PAGE_SIZE],
        })
    }

    /// How many times a BUSY request is resent before the key is wiped.
    pub fn set_busy_retries(&mut self, retries: u32) {
        self.busy_retries = retries;
    }

    /// The last sequence number the PSP consumed (the next request carries this + 1).
    pub fn last_seqno(&self) -> u64 {
        self.last_seqno
    }

    /// Whether the key was wiped (every request is now refused).
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// The VMPCK index.
    pub fn vmpck_id(&self) -> u8 {
        self.vmpck_id
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Zero the key, tell the transport, and refuse from now on.
    pub fn wipe(&mut self) {
        self.key.wipe();
        if !self.disabled {
            self.disabled = true;
            self.transport.vmpck_wiped(self.vmpck_id);
        }
    }

    fn fail(&mut self, e: RequestError) -> RequestError {
        if e.wipes_key() {
            self.wipe();
        }
        e
    }

    /// Send one message of type `msg_type` with `payload` and write the response payload into
    /// `out`; returns its length. With `certs` the request is an extended one and the host's
    /// certificate table is written there.
    pub fn request(
        &mut self,
        msg_type: MsgType,
        payload: &[u8],
        out: &mut [u8],
        certs: Option<&mut [u8]>,
    ) -> Result<usize, RequestError> {
        if self.disabled || self.key.is_zero() {
            return Err(self.fail(RequestError::KeyDisabled));
        }
        let resp_type = msg_type.response().ok_or(RequestError::InvalidArgument)?;
        if payload.len() > msg::MAX_PAYLOAD {
            return Err(RequestError::InvalidArgument);
        }
        let (Some(seqno), Some(resp_seqno)) = (
            self.last_seqno.checked_add(1),
            self.last_seqno.checked_add(2),
        ) else {
            return Err(self.fail(RequestError::SeqnoExhausted));
        };
        // Sealed in private memory; the transport copies the finished page out.
        msg::seal(
            &self.key,
            msg_type,
            seqno,
            self.vmpck_id,
            payload,
            &mut self.request_page,
        )
        .map_err(|e| match e {
            MsgError::KeyDisabled => RequestError::KeyDisabled,
            _ => RequestError::InvalidArgument,
        })?;

        let mut certs = certs;
        let mut too_small: Option<u64> = None;
        let mut sends: u32 = 0;
        loop {
            let extended = too_small.is_none() && certs.is_some();
            let c = if extended { certs.as_deref_mut() } else { None };
            sends = sends.saturating_add(1);
            let r = self
                .transport
                .guest_request(&self.request_page, &mut self.response_page, c);
            match r {
                Ok(()) => break,
                Err(TransportError::Busy) => {
                    // The hypervisor did not forward it: resend the identical page.
                    if sends > self.busy_retries {
                        return Err(self.fail(RequestError::Busy { attempts: sends }));
                    }
                    self.transport.busy_backoff(sends);
                }
                Err(TransportError::InvalidLength { pages }) if extended => {
                    // Resend the identical page as a regular request so the PSP consumes
                    // this sequence number; then report the size needed.
                    too_small = Some(pages);
                }
                Err(e) => return Err(self.fail(RequestError::Transport(e))),
            }
        }
        // The PSP consumed `seqno` and answered with `resp_seqno`.
        self.last_seqno = resp_seqno;

        let expected = Expected {
            msg_type: resp_type,
            msg_version: MSG_VERSION,
            seqno: resp_seqno,
            vmpck: self.vmpck_id,
        };
        let n = match msg::open(&self.key, &self.response_page, &expected, out) {
            Ok(n) => n,
            Err(MsgError::BufferTooSmall) => return Err(RequestError::BufferTooSmall),
            Err(MsgError::KeyDisabled) => return Err(self.fail(RequestError::KeyDisabled)),
            Err(e) => return Err(self.fail(RequestError::Response(e))),
        };
        match too_small {
            Some(pages) => Err(RequestError::CertificatesTooSmall { pages }),
            None => Ok(n),
        }
    }
}

/// VMPCK `n` from a copy of the secrets page (AMD 56860 Table 71); `None` for n > 3.
pub fn vmpck_from_secrets(page: &[u8; PAGE_SIZE], n: u8) -> Option<Vmpck> {
    let off = SECRETS_VMPCK0_OFFSET.checked_add(usize::from(n).checked_mul(VMPCK_SIZE)?)?;
    (n < VMPCK_COUNT).then(|| Vmpck::new(get::<VMPCK_SIZE>(page, off)))
}

/// `msg_seqno_n` (u32, the OS area Linux keeps in the secrets page) from a copy of the page.
pub fn seqno_from_secrets(page: &[u8; PAGE_SIZE], n: u8) -> Option<u32> {
    let off = SECRETS_SEQNO0_OFFSET.checked_add(usize::from(n).checked_mul(4)?)?;
    (n < VMPCK_COUNT).then(|| u32_at(page, off))
}
