//! [`TdxTransport`]: the one door to the TDX module and to the VMM, and the byte formats that go
//! through it.
//!
//! On hardware it is `hw::TdcallTransport`: TDCALL leaves TDG.MR.REPORT (4), TDG.MR.RTMR.EXTEND
//! (2) and TDG.MR.VERIFYREPORT (22) (Intel TDX Module ABI, "TDG.MR.*"), and TDG.VP.VMCALL
//! sub-functions GetQuote (0x10002) and Service (0x10005) (Intel TDX Guest-Hypervisor
//! Communication Interface (GHCI) §3.3 and §3.13). In tests it is the simulated TDX module, quoting
//! service and VMM relay of `host-sim`. The transport moves whole buffers between private and
//! shared memory; it never looks inside them. The formats ([`get_quote`], [`ServiceCommand`],
//! [`parse_service_response`]) are pure code here.

use crate::report::{REPORTMACSTRUCT_SIZE, TDREPORT_SIZE};

/// Size of the shared buffers of TDVMCALL\<Service\>: three 4 KiB pages each way, enough for a
/// sealed TPM message (4 KiB) or a sealed TD quote (8 KiB).
pub const SERVICE_BUFFER_SIZE: usize = 3 * 4096;
/// Size of the TDVMCALL\<Service\> buffer header: GUID, length, reserved / status.
pub const SERVICE_HEADER_SIZE: usize = 24;
/// Size of the GetQuote buffer header: version u64, status u64, in_len u32, out_len u32.
pub const GET_QUOTE_HEADER_SIZE: usize = 24;
/// GetQuote buffer version.
pub const GET_QUOTE_VERSION: u64 = 1;
/// GetQuote status: the VMM still owns the buffer.
pub const GET_QUOTE_IN_FLIGHT: u64 = 0xFFFF_FFFF_FFFF_FFFF;
/// GetQuote status: error.
pub const GET_QUOTE_ERROR: u64 = 0x8000_0000_0000_0000;
/// GetQuote status: the quote generation service is unavailable.
pub const GET_QUOTE_SERVICE_UNAVAILABLE: u64 = 0x8000_0000_0000_0001;
/// How many times [`get_quote`] polls an in-flight request before giving up.
pub const GET_QUOTE_MAX_POLLS: u32 = 30;

/// GUID of the user TD's vTPM service `64590793-7852-4e52-be45-cdbb116f20f3` (wire bytes).
pub const VTPM_GUID: [u8; 16] = guid(
    0x6459_0793,
    0x7852,
    0x4e52,
    [0xbe, 0x45, 0xcd, 0xbb, 0x11, 0x6f, 0x20, 0xf3],
);
/// GUID of the vTPM TD's service `c3c87a08-3b4a-41ad-a52d-96f13cf89a66` (wire bytes).
pub const VTPMTD_GUID: [u8; 16] = guid(
    0xc3c8_7a08,
    0x3b4a,
    0x41ad,
    [0xa5, 0x2d, 0x96, 0xf1, 0x3c, 0xf8, 0x9a, 0x66],
);

/// A GUID in its little-endian wire form (EFI_GUID).
pub const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

/// A TDCALL that did not succeed (TDX module ABI, "Completion status codes": class in RAX
/// bits 63:32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TdcallError {
    /// TDX_OPERAND_INVALID (0xC000_0100…): e.g. a report whose MAC does not verify.
    OperandInvalid,
    /// TDX_OPERAND_BUSY (0x8000_0200…).
    OperandBusy,
    /// Any other completion status.
    Other(u64),
    /// No TDX module (not built for bare metal, or a test double refusing).
    Unavailable,
}

impl TdcallError {
    /// The outcome of a TDCALL from RAX.
    pub fn from_status(rax: u64) -> Result<(), Self> {
        match rax >> 32 {
            0 => Ok(()),
            0xC000_0100 => Err(Self::OperandInvalid),
            0x8000_0200 => Err(Self::OperandBusy),
            _ => Err(Self::Other(rax)),
        }
    }
}

/// A TDG.VP.VMCALL that the VMM refused (GHCI Table 3-3, R10 on return).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmcallError {
    /// TDG.VP.VMCALL_RETRY (1).
    Retry,
    /// TDG.VP.VMCALL_INVALID_OPERAND.
    InvalidOperand,
    /// TDG.VP.VMCALL_GPA_INUSE.
    GpaInUse,
    /// TDG.VP.VMCALL_ALIGN_ERROR.
    AlignError,
    /// Any other value.
    Other(u64),
    /// No VMM door (no shared pages set up) or the buffer does not fit them.
    Unavailable,
}

impl VmcallError {
    /// The outcome of a TDVMCALL from R10.
    pub fn from_r10(r10: u64) -> Result<(), Self> {
        match r10 {
            0 => Ok(()),
            1 => Err(Self::Retry),
            0x8000_0000_0000_0000 => Err(Self::InvalidOperand),
            0x8000_0000_0000_0001 => Err(Self::GpaInUse),
            0x8000_0000_0000_0002 => Err(Self::AlignError),
            v => Err(Self::Other(v)),
        }
    }
}

/// The one door to the TDX module (TDCALL) and the VMM (TDVMCALL).
pub trait TdxTransport {
    /// TDG.MR.REPORT (leaf 4, subtype 0): a TDREPORT_STRUCT of this TD over `report_data`.
    fn tdreport(
        &mut self,
        report_data: &[u8; 64],
        out: &mut [u8; TDREPORT_SIZE],
    ) -> Result<(), TdcallError>;

    /// TDG.MR.VERIFYREPORT (leaf 22): whether the MAC of REPORTMACSTRUCT (the first 256 bytes of
    /// a TDREPORT) was made on this platform. It covers only those 256 bytes.
    fn verify_report(&mut self, mac_struct: &[u8; REPORTMACSTRUCT_SIZE])
    -> Result<(), TdcallError>;

    /// TDG.MR.RTMR.EXTEND (leaf 2): RTMR\[index\] = SHA-384(RTMR\[index\] ‖ digest).
    fn rtmr_extend(&mut self, index: u8, digest: &[u8; 48]) -> Result<(), TdcallError>;

    /// TDVMCALL\<GetQuote\> (0x10002): copy `buffer` (header and TDREPORT, built by
    /// [`get_quote`]) into the shared quote buffer and ask the VMM for a quote.
    fn get_quote_submit(&mut self, buffer: &[u8]) -> Result<(), VmcallError>;

    /// Copy the shared quote buffer into `buffer` (private memory) for [`get_quote`] to read its
    /// status; `attempt` counts polls from 1 so firmware can wait between them.
    fn get_quote_poll(&mut self, buffer: &mut [u8], attempt: u32) -> Result<(), VmcallError>;

    /// TDVMCALL\<Service\> (0x10005): copy `command` into the shared command buffer, zero the
    /// shared response buffer, call the VMM with `timeout_ms`, and copy the response buffer
    /// into `response` (private memory).
    fn service(
        &mut self,
        command: &[u8],
        response: &mut [u8],
        timeout_ms: u32,
    ) -> Result<(), VmcallError>;
}

impl<T: TdxTransport + ?Sized> TdxTransport for &mut T {
    fn tdreport(
        &mut self,
        report_data: &[u8; 64],
        out: &mut [u8; TDREPORT_SIZE],
    ) -> Result<(), TdcallError> {
        (**self).tdreport(report_data, out)
    }
    fn verify_report(
        &mut self,
        mac_struct: &[u8; REPORTMACSTRUCT_SIZE],
    ) -> Result<(), TdcallError> {
        (**self).verify_report(mac_struct)
    }
    fn rtmr_extend(&mut self, index: u8, digest: &[u8; 48]) -> Result<(), TdcallError> {
        (**self).rtmr_extend(index, digest)
    }
    fn get_quote_submit(&mut self, buffer: &[u8]) -> Result<(), VmcallError> {
        (**self).get_quote_submit(buffer)
    }
    fn get_quote_poll(&mut self, buffer: &mut [u8], attempt: u32) -> Result<(), VmcallError> {
        (**self).get_quote_poll(buffer, attempt)
    }
    fn service(
        &mut self,
        command: &[u8],
        response: &mut [u8],
        timeout_ms: u32,
    ) -> Result<(), VmcallError> {
        (**self).service(command, response, timeout_ms)
    }
}

/// Why [`get_quote`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuoteError {
    /// TDG.MR.REPORT failed.
    Report(TdcallError),
    /// The VMM refused the TDVMCALL.
    Vmcall(VmcallError),
    /// Still in flight after [`GET_QUOTE_MAX_POLLS`] polls: the quote service stays busy.
    Busy,
    /// Status 0x8000_0000_0000_0001: no quote generation service.
    ServiceUnavailable,
    /// Any other error status.
    Failed(u64),
    /// The buffer is too small for the header and the TDREPORT, or for the quote returned.
    BufferTooSmall,
    /// The VMM wrote a header that does not make sense (version, lengths).
    Malformed,
}

/// Fetch a TD quote for `tdreport` through TDVMCALL\<GetQuote\> (GHCI §3.3): `buffer` is the
/// private copy of the shared buffer (header ‖ data); on success the quote is moved to the start
/// of `buffer` and its length returned.
pub fn get_quote<T: TdxTransport + ?Sized>(
    t: &mut T,
    tdreport: &[u8; TDREPORT_SIZE],
    buffer: &mut [u8],
) -> Result<usize, QuoteError> {
    let data_off = GET_QUOTE_HEADER_SIZE;
    let end = data_off
        .checked_add(TDREPORT_SIZE)
        .ok_or(QuoteError::BufferTooSmall)?;
    let req = buffer.get_mut(..end).ok_or(QuoteError::BufferTooSmall)?;
    let (hdr, data) = req.split_at_mut(data_off);
    hdr.fill(0);
    write_le(hdr, 0, &GET_QUOTE_VERSION.to_le_bytes());
    // status 0, in_len 1024, out_len 0.
    write_le(hdr, 16, &1024u32.to_le_bytes());
    data.copy_from_slice(tdreport);
    t.get_quote_submit(req).map_err(QuoteError::Vmcall)?;

    let mut attempt: u32 = 0;
    let status = loop {
        attempt = attempt.saturating_add(1);
        t.get_quote_poll(buffer, attempt)
            .map_err(QuoteError::Vmcall)?;
        let status = read_u64(buffer, 8).ok_or(QuoteError::Malformed)?;
        if status != GET_QUOTE_IN_FLIGHT {
            break status;
        }
        if attempt >= GET_QUOTE_MAX_POLLS {
            return Err(QuoteError::Busy);
        }
    };
    match status {
        0 => {}
        GET_QUOTE_SERVICE_UNAVAILABLE => return Err(QuoteError::ServiceUnavailable),
        s => return Err(QuoteError::Failed(s)),
    }
    if read_u64(buffer, 0) != Some(GET_QUOTE_VERSION) {
        return Err(QuoteError::Malformed);
    }
    let out_len = read_u32(buffer, 20).ok_or(QuoteError::Malformed)?;
    let out_len = usize::try_from(out_len).map_err(|_| QuoteError::Malformed)?;
    let quote_end = data_off
        .checked_add(out_len)
        .ok_or(QuoteError::BufferTooSmall)?;
    if out_len == 0 {
        return Err(QuoteError::Malformed);
    }
    if quote_end > buffer.len() {
        return Err(QuoteError::BufferTooSmall);
    }
    buffer.copy_within(data_off..quote_end, 0);
    Ok(out_len)
}

fn write_le(buf: &mut [u8], off: usize, v: &[u8]) {
    if let Some(d) = off
        .checked_add(v.len())
        .and_then(|end| buf.get_mut(off..end))
    {
        d.copy_from_slice(v);
    }
}

fn read_u64(buf: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(*buf.get(off..)?.first_chunk::<8>()?))
}

fn read_u32(buf: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(*buf.get(off..)?.first_chunk::<4>()?))
}

/// Status of a TDVMCALL\<Service\> response buffer (spec/tdx.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceStatus {
    /// 0.
    Ok,
    /// 1: device error.
    DeviceError,
    /// 2: timeout (nothing came back in time).
    Timeout,
    /// 3: response buffer too small.
    ResponseTooSmall,
    /// 4: bad command size.
    BadCommandSize,
    /// 5: bad response size.
    BadResponseSize,
    /// 6: busy.
    Busy,
    /// 7: invalid parameter.
    InvalidParameter,
    /// 8: out of resources.
    OutOfResources,
    /// 0xFFFF_FFFF: unsupported (no such service).
    Unsupported,
    /// Any other value.
    Other(u32),
}

impl ServiceStatus {
    /// From the wire value.
    pub const fn from_u32(v: u32) -> Self {
        match v {
            0 => Self::Ok,
            1 => Self::DeviceError,
            2 => Self::Timeout,
            3 => Self::ResponseTooSmall,
            4 => Self::BadCommandSize,
            5 => Self::BadResponseSize,
            6 => Self::Busy,
            7 => Self::InvalidParameter,
            8 => Self::OutOfResources,
            0xFFFF_FFFF => Self::Unsupported,
            v => Self::Other(v),
        }
    }

    /// The wire value.
    pub const fn to_u32(self) -> u32 {
        match self {
            Self::Ok => 0,
            Self::DeviceError => 1,
            Self::Timeout => 2,
            Self::ResponseTooSmall => 3,
            Self::BadCommandSize => 4,
            Self::BadResponseSize => 5,
            Self::Busy => 6,
            Self::InvalidParameter => 7,
            Self::OutOfResources => 8,
            Self::Unsupported => 0xFFFF_FFFF,
            Self::Other(v) => v,
        }
    }
}

/// Why a TDVMCALL\<Service\> exchange failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceError {
    /// The VMM refused the TDVMCALL.
    Vmcall(VmcallError),
    /// The response buffer carried a non-zero status.
    Status(ServiceStatus),
    /// The response is for another service, or its length is impossible.
    Malformed,
    /// The command does not fit the buffer.
    TooLarge,
}

/// Builds a TDVMCALL\<Service\> command buffer: GUID ‖ length u32 ‖ reserved u32 ‖ data.
#[derive(Debug)]
pub struct ServiceCommand<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> ServiceCommand<'a> {
    /// Start a command for the service `guid` in `buf`.
    pub fn new(buf: &'a mut [u8], guid: &[u8; 16]) -> Self {
        let mut c = Self {
            buf,
            len: 0,
            overflow: false,
        };
        c.push(guid);
        c.push(&[0; 8]);
        c
    }

    /// Append bytes to the data.
    pub fn push(&mut self, b: &[u8]) {
        match self
            .len
            .checked_add(b.len())
            .and_then(|end| Some((end, self.buf.get_mut(self.len..end)?)))
        {
            Some((end, d)) if !self.overflow => {
                d.copy_from_slice(b);
                self.len = end;
            }
            _ => self.overflow = true,
        }
    }

    /// Patch the length and return the finished command.
    pub fn finish(self) -> Result<&'a [u8], ServiceError> {
        if self.overflow {
            return Err(ServiceError::TooLarge);
        }
        let n = u32::try_from(self.len).map_err(|_| ServiceError::TooLarge)?;
        write_le(self.buf, 16, &n.to_le_bytes());
        self.buf.get(..self.len).ok_or(ServiceError::TooLarge)
    }
}

/// Check a TDVMCALL\<Service\> response buffer for `guid` and return its data (after the
/// 24-byte header, up to its length field).
pub fn parse_service_response<'a>(
    buf: &'a [u8],
    guid: &[u8; 16],
) -> Result<&'a [u8], ServiceError> {
    let (g, rest) = buf
        .split_first_chunk::<16>()
        .ok_or(ServiceError::Malformed)?;
    let (len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or(ServiceError::Malformed)?;
    let (status, _) = rest
        .split_first_chunk::<4>()
        .ok_or(ServiceError::Malformed)?;
    let status = ServiceStatus::from_u32(u32::from_le_bytes(*status));
    if status != ServiceStatus::Ok {
        return Err(ServiceError::Status(status));
    }
    if g != guid {
        return Err(ServiceError::Malformed);
    }
    let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| ServiceError::Malformed)?;
    if len < SERVICE_HEADER_SIZE {
        return Err(ServiceError::Malformed);
    }
    buf.get(SERVICE_HEADER_SIZE..len)
        .ok_or(ServiceError::Malformed)
}

/// Write a Service response buffer (what the VMM does): GUID ‖ length ‖ status ‖ data. Returns
/// the length, or `None` if it does not fit.
pub fn write_service_response(
    buf: &mut [u8],
    guid: &[u8; 16],
    status: ServiceStatus,
    data: &[u8],
) -> Option<usize> {
    let len = SERVICE_HEADER_SIZE.checked_add(data.len())?;
    let out = buf.get_mut(..len)?;
    let (hdr, body) = out.split_at_mut(SERVICE_HEADER_SIZE);
    hdr.get_mut(..16)?.copy_from_slice(guid);
    hdr.get_mut(16..20)?
        .copy_from_slice(&u32::try_from(len).ok()?.to_le_bytes());
    hdr.get_mut(20..24)?
        .copy_from_slice(&status.to_u32().to_le_bytes());
    body.copy_from_slice(data);
    Some(len)
}

/// Split a Service command buffer (what the VMM reads): (GUID, data).
pub fn parse_service_command(buf: &[u8]) -> Option<([u8; 16], &[u8])> {
    let (g, rest) = buf.split_first_chunk::<16>()?;
    let (len, _) = rest.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    if len < SERVICE_HEADER_SIZE {
        return None;
    }
    Some((*g, buf.get(SERVICE_HEADER_SIZE..len)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_wire_bytes() {
        // spec/tdx.md §5: Service.Query wire bytes.
        let q = guid(
            0xfb6f_c5e1,
            0x3378,
            0x4acb,
            [0x89, 0x64, 0xfa, 0x5e, 0xe4, 0x3b, 0x9c, 0x8a],
        );
        assert_eq!(
            q,
            [
                0xe1, 0xc5, 0x6f, 0xfb, 0x78, 0x33, 0xcb, 0x4a, 0x89, 0x64, 0xfa, 0x5e, 0xe4, 0x3b,
                0x9c, 0x8a
            ]
        );
    }

    #[test]
    fn status_decoding() {
        assert_eq!(TdcallError::from_status(0), Ok(()));
        assert_eq!(
            TdcallError::from_status(0xC000_0100_0000_0000),
            Err(TdcallError::OperandInvalid)
        );
        assert_eq!(
            TdcallError::from_status(0x8000_0200_0000_0001),
            Err(TdcallError::OperandBusy)
        );
        assert_eq!(VmcallError::from_r10(1), Err(VmcallError::Retry));
        assert_eq!(
            VmcallError::from_r10(0x8000_0000_0000_0002),
            Err(VmcallError::AlignError)
        );
    }

    #[test]
    fn service_buffers_round_trip() {
        let mut buf = [0u8; 64];
        let mut c = ServiceCommand::new(&mut buf, &VTPM_GUID);
        c.push(&[1, 2, 3]);
        let cmd = c.finish().unwrap();
        assert_eq!(cmd.len(), 27);
        let (g, data) = parse_service_command(cmd).unwrap();
        assert_eq!(g, VTPM_GUID);
        assert_eq!(data, &[1, 2, 3]);

        let mut rsp = [0u8; 64];
        let n = write_service_response(&mut rsp, &VTPM_GUID, ServiceStatus::Ok, &[4, 5]).unwrap();
        assert_eq!(
            parse_service_response(&rsp[..n], &VTPM_GUID).unwrap(),
            &[4, 5]
        );
        assert_eq!(
            parse_service_response(&rsp[..n], &VTPMTD_GUID),
            Err(ServiceError::Malformed)
        );
        let n = write_service_response(&mut rsp, &VTPM_GUID, ServiceStatus::Timeout, &[]).unwrap();
        assert_eq!(
            parse_service_response(&rsp[..n], &VTPM_GUID),
            Err(ServiceError::Status(ServiceStatus::Timeout))
        );
        // A length past the buffer is refused.
        rsp[16] = 200;
        assert!(parse_service_response(&rsp, &VTPM_GUID).is_err());
        let mut small = [0u8; 30];
        let mut c = ServiceCommand::new(&mut small, &VTPM_GUID);
        c.push(&[0; 7]);
        assert_eq!(c.finish(), Err(ServiceError::TooLarge));
    }
}
