//! The user TD's side: a small `no_std` client for the user TD's firmware (a TDVF-like
//! firmware measures into the vTPM through it) and later its OS driver.
//!
//! Every message goes out with TDVMCALL\<Service\> to the vTPM service GUID as SendMessage
//! (`ver 0, cmd 1, rsvd[2], message` → `ver, cmd 1, status, rsvd`) and comes back with
//! ReceiveMessage (`ver 0, cmd 2, rsvd[2]` → `ver, cmd 2, status, rsvd, message`) (spec/tdx.md
//! §5). The first message is the channel hello; after it, sealed records.

use vtpm::PlatformError;

use crate::channel::{
    self, Channel, ChannelError, Handshake, HandshakeError, MAX_RECORD, Policy, Role,
};
use crate::report::TdReport;
use crate::transport::{
    SERVICE_BUFFER_SIZE, ServiceCommand, ServiceError, TdxTransport, VTPM_GUID,
    parse_service_response,
};

/// Timeout the client passes with each Service call (ms).
pub const CLIENT_TIMEOUT_MS: u32 = 2000;

/// Why a client call failed. After any failure but [`ClientError::NotConnected`] and
/// [`ClientError::BufferTooSmall`] the channel is closed and its keys wiped; connect again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// No channel: call [`Client::connect`].
    NotConnected,
    /// The VMM door failed, or the relay answered with an error status (e.g. a timeout when a
    /// message was dropped).
    Service(ServiceError),
    /// The vTPM TD answered SendMessage / ReceiveMessage with a non-zero status.
    Refused(u8),
    /// The answer is not in the expected shape.
    Malformed,
    /// The handshake failed.
    Handshake(HandshakeError),
    /// A record was refused.
    Channel(ChannelError),
    /// The vTPM TD reported an error inside the channel (status byte).
    Remote(u8),
    /// The caller's buffer is too small for the answer.
    BufferTooSmall,
}

/// The user TD's vTPM client.
pub struct Client<T: TdxTransport> {
    transport: T,
    channel: Option<Channel>,
    cmd: [u8; SERVICE_BUFFER_SIZE],
    rsp: [u8; SERVICE_BUFFER_SIZE],
    record: [u8; MAX_RECORD],
}

impl<T: TdxTransport> core::fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl<T: TdxTransport> Client<T> {
    /// A client over `transport`, not connected.
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            channel: None,
            cmd: [0; SERVICE_BUFFER_SIZE],
            rsp: [0; SERVICE_BUFFER_SIZE],
            record: [0; MAX_RECORD],
        }
    }

    /// The transport.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The channel, if connected.
    pub fn channel(&self) -> Option<&Channel> {
        self.channel.as_ref()
    }

    /// Whether a channel is open.
    pub fn is_connected(&self) -> bool {
        self.channel.as_ref().is_some_and(Channel::is_open)
    }

    /// Drop the channel (keys wiped).
    pub fn disconnect(&mut self) {
        self.channel = None;
    }

    /// Establish the channel: our hello out, the vTPM TD's hello back, checked against `policy`
    /// (its MRTD, ...). Returns the vTPM TD's verified TDREPORT.
    pub fn connect(
        &mut self,
        policy: &Policy,
        entropy: impl FnOnce(&mut [u8]) -> Result<(), PlatformError>,
    ) -> Result<TdReport, ClientError> {
        self.channel = None;
        let hs = Handshake::start(Role::Client, &mut self.transport, entropy)
            .map_err(ClientError::Handshake)?;
        let hello = *hs.hello();
        let n = self.exchange(&hello)?;
        let peer = self.record.get(..n).ok_or(ClientError::Malformed)?;
        let (ch, report) = hs
            .finish(peer, policy, &mut self.transport)
            .map_err(ClientError::Handshake)?;
        self.channel = Some(ch);
        Ok(report)
    }

    /// Send a TPM command and receive the response into `response`; returns its length.
    pub fn execute(&mut self, command: &[u8], response: &mut [u8]) -> Result<usize, ClientError> {
        self.call(channel::kind::TPM, command, response)
    }

    /// Ask for EK evidence over `nonce` (≤ 64 bytes): the answer is `EK public length u16 ‖ EK
    /// public ‖ TD quote` ([`crate::service::parse_ek_evidence`]).
    pub fn ek_evidence(&mut self, nonce: &[u8], out: &mut [u8]) -> Result<usize, ClientError> {
        self.call(channel::kind::EK_EVIDENCE, nonce, out)
    }

    fn call(&mut self, kind: u8, msg: &[u8], out: &mut [u8]) -> Result<usize, ClientError> {
        let r = self.call_inner(kind, msg, out);
        if let Err(e) = r
            && !matches!(e, ClientError::NotConnected | ClientError::BufferTooSmall)
        {
            if let Some(ch) = self.channel.as_mut() {
                ch.close();
            }
            self.channel = None;
        }
        r
    }

    fn call_inner(&mut self, kind: u8, msg: &[u8], out: &mut [u8]) -> Result<usize, ClientError> {
        let ch = self.channel.as_mut().ok_or(ClientError::NotConnected)?;
        let mut sealed = [0u8; MAX_RECORD];
        let n = ch
            .seal(kind, msg, &mut sealed)
            .map_err(ClientError::Channel)?;
        let m = self.exchange(sealed.get(..n).unwrap_or(&[]))?;
        let ch = self.channel.as_mut().ok_or(ClientError::NotConnected)?;
        let rec = self.record.get_mut(..m).ok_or(ClientError::Malformed)?;
        let (rkind, plain) = ch.open(rec).map_err(ClientError::Channel)?;
        if rkind == channel::kind::ERROR {
            return Err(ClientError::Remote(plain.first().copied().unwrap_or(0xFF)));
        }
        if rkind != kind {
            return Err(ClientError::Malformed);
        }
        let dst = out
            .get_mut(..plain.len())
            .ok_or(ClientError::BufferTooSmall)?;
        dst.copy_from_slice(plain);
        Ok(plain.len())
    }

    /// SendMessage(`msg`) then ReceiveMessage into `self.record`; returns the message length.
    fn exchange(&mut self, msg: &[u8]) -> Result<usize, ClientError> {
        let mut c = ServiceCommand::new(&mut self.cmd, &VTPM_GUID);
        c.push(&[0, 1, 0, 0]);
        c.push(msg);
        let cmd = c.finish().map_err(ClientError::Service)?;
        self.transport
            .service(cmd, &mut self.rsp, CLIENT_TIMEOUT_MS)
            .map_err(|e| ClientError::Service(ServiceError::Vmcall(e)))?;
        let d = parse_service_response(&self.rsp, &VTPM_GUID).map_err(ClientError::Service)?;
        let (h, _) = d.split_first_chunk::<4>().ok_or(ClientError::Malformed)?;
        if h[1] != 1 {
            return Err(ClientError::Malformed);
        }
        if h[2] != 0 {
            return Err(ClientError::Refused(h[2]));
        }

        let mut c = ServiceCommand::new(&mut self.cmd, &VTPM_GUID);
        c.push(&[0, 2, 0, 0]);
        let cmd = c.finish().map_err(ClientError::Service)?;
        self.transport
            .service(cmd, &mut self.rsp, CLIENT_TIMEOUT_MS)
            .map_err(|e| ClientError::Service(ServiceError::Vmcall(e)))?;
        let d = parse_service_response(&self.rsp, &VTPM_GUID).map_err(ClientError::Service)?;
        let (h, m) = d.split_first_chunk::<4>().ok_or(ClientError::Malformed)?;
        if h[1] != 2 {
            return Err(ClientError::Malformed);
        }
        if h[2] != 0 {
            return Err(ClientError::Refused(h[2]));
        }
        let dst = self
            .record
            .get_mut(..m.len())
            .ok_or(ClientError::Malformed)?;
        dst.copy_from_slice(m);
        Ok(m.len())
    }
}
