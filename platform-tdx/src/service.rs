//! The vTPM TD: a fixed number of vTPM instances, one per user TD, served over
//! TDVMCALL\<Service\> through the VMM relay.
//!
//! The loop is the one of intel/vtpm-td (spec/tdx.md §5): **WaitForRequest** (`ver 1, cmd 1,
//! rsvd[2], TPM_ID[16]`) returns an operation for a TPM_ID; the vTPM TD does it and answers with
//! **ReportStatus** (`ver 0, cmd 2, operation, status, TPM_ID, payload`).
//! - **Create**: manufacture a fresh TPM (its own seeds from the entropy source), Startup, and the
//!   EK (TCG H-3, persistent at 0x81010016).
//! - **Communicate**: the first payload from a user TD is its channel hello; the answer is ours.
//!   Once the channel stands, the user TD's TDREPORT digest is extended into PCR 0 (both banks),
//!   before any command of the user TD runs, so every quote names the TD the vTPM serves. Later
//!   payloads are sealed records: a TPM command (run through `Tpm::execute`) or an EK evidence
//!   request (a TD quote of this vTPM TD whose REPORTDATA is SHA-384(nonce ‖ EK public area) ‖
//!   16 zero bytes).
//! - **Destroy**: drop the instance; its seeds, keys and channel keys are wiped on drop.
//!
//! A failed handshake or record ends the channel (status 6 / 7). A new hello is accepted only
//! from a TD with the same build-time identity (its TDINFO without the RTMRs: MRTD,
//! configuration, owner, attributes, XFAM, SERVTD_HASH) as the one measured into PCR 0.

use sha2::{Digest, Sha256, Sha384};
use vtpm::{MAX_RESPONSE_SIZE, Platform, PlatformError, Tpm};

use platform_snp::boot::{BootConfig, Ek, create_ek, release_platform_hierarchy};

use crate::channel::{self, Channel, Handshake, HandshakeError, MAX_RECORD, Policy, Role};
use crate::report::TdReport;
use crate::servtd::{ServtdAttr, servtd_info_hash};
use crate::transport::{
    SERVICE_BUFFER_SIZE, ServiceCommand, ServiceError, TdxTransport, VTPMTD_GUID,
    parse_service_response,
};

/// Operations a WaitForRequest returns.
pub mod operation {
    /// Nothing to do.
    pub const NONE: u8 = 0;
    /// A message from the user TD.
    pub const COMMUNICATE: u8 = 1;
    /// Create the instance.
    pub const CREATE: u8 = 2;
    /// Destroy the instance.
    pub const DESTROY: u8 = 3;
}

/// ReportStatus status codes.
pub mod status {
    /// Success.
    pub const OK: u8 = 0;
    /// Invalid request.
    pub const INVALID: u8 = 1;
    /// Unsupported operation.
    pub const UNSUPPORTED: u8 = 2;
    /// No free instance slot.
    pub const OUT_OF_RESOURCES: u8 = 3;
    /// The secure channel failed (a record was refused); it is closed.
    pub const SECURE_SESSION: u8 = 6;
    /// Mutual attestation failed (the hello was refused).
    pub const MUTUAL_ATTESTATION: u8 = 7;
    /// Create for an instance that exists.
    pub const ALREADY_STARTED: u8 = 9;
    /// Communicate or Destroy for an instance that does not exist.
    pub const NOT_STARTED: u8 = 0x0A;
    /// Internal error (TPM manufacture, EK, evidence).
    pub const INTERNAL: u8 = 0xFF;
}

/// Offset of the payload in WaitForRequest responses and ReportStatus commands.
pub const OP_PAYLOAD_OFFSET: usize = 20;
/// Timeout passed with WaitForRequest (ms).
pub const WAIT_TIMEOUT_MS: u32 = 0;
/// Largest answer to an EK evidence request: EK public size u16, EK public, quote.
pub const MAX_EVIDENCE: usize = channel::MAX_PLAINTEXT;
/// Offset of the quote in an EK evidence answer is 2 + EK public length.
pub const EVIDENCE_NONCE_MAX: usize = 64;

/// A user TD identifier given by the VMM (the QEMU `vtpm-userid`).
pub type TpmId = [u8; 16];

/// What one turn of the loop did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// WaitForRequest returned nothing.
    Idle,
    /// An instance was created (slot).
    Created(usize),
    /// An instance was destroyed.
    Destroyed(usize),
    /// A channel was established and the user TD measured into PCR 0.
    Connected(usize),
    /// A TPM command was run.
    Command(usize),
    /// EK evidence was produced.
    Evidence(usize),
    /// A request was refused with this ReportStatus status.
    Refused(u8),
}

/// Why the loop itself failed (the VMM door, not a request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerError {
    /// TDVMCALL\<Service\> failed or returned a bad buffer.
    Service(ServiceError),
    /// The WaitForRequest answer is malformed.
    Malformed,
}

/// The state of one user TD's channel (inline: no heap; every slot has room for a channel).
#[allow(clippy::large_enum_variant)]
enum Link {
    /// No hello yet (or the last channel failed).
    Waiting,
    /// Established.
    Open(Channel),
}

/// One vTPM instance.
struct Instance<P: Platform> {
    id: TpmId,
    tpm: Tpm<P>,
    ek: Ek,
    link: Link,
    /// Build-time identity of the user TD measured into PCR 0 (set by the first handshake).
    bound: Option<[u8; 48]>,
}

/// The vTPM TD's service: `N` instance slots, the transport, the user-TD policy and the buffers.
pub struct VtpmServer<P: Platform, T: TdxTransport, const N: usize> {
    transport: T,
    slots: [Option<Instance<P>>; N],
    policy: Policy,
    ek_config: BootConfig,
    cmd: [u8; SERVICE_BUFFER_SIZE],
    rsp: [u8; SERVICE_BUFFER_SIZE],
    out: [u8; MAX_RECORD],
    plain: [u8; MAX_EVIDENCE],
}

impl<P: Platform, T: TdxTransport, const N: usize> core::fmt::Debug for VtpmServer<P, T, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VtpmServer")
            .field("instances", &self.instances())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Makes the [`Platform`] of a new instance (its own entropy stream, clock and evidence door).
pub trait PlatformFactory<P: Platform> {
    /// A platform for the instance of `id`.
    fn make(&mut self, id: &TpmId) -> Result<P, PlatformError>;
}

impl<P: Platform, F: FnMut(&TpmId) -> Result<P, PlatformError>> PlatformFactory<P> for F {
    fn make(&mut self, id: &TpmId) -> Result<P, PlatformError> {
        self(id)
    }
}

impl<P: Platform, T: TdxTransport, const N: usize> VtpmServer<P, T, N> {
    /// A server with no instances. `policy` is what each user TD's report must satisfy;
    /// `ek_config` chooses each instance's EK (template, persistent handle, platform-hierarchy
    /// release). Its `ek_certificate` is not used here: on TDX the EK's binding is the vTPM TD's
    /// quote ([`ek_report_data`]), not an SNP-rooted certificate.
    pub fn new(transport: T, policy: Policy, ek_config: BootConfig) -> Self {
        Self {
            transport,
            slots: [const { None }; N],
            policy,
            ek_config,
            cmd: [0; SERVICE_BUFFER_SIZE],
            rsp: [0; SERVICE_BUFFER_SIZE],
            out: [0; MAX_RECORD],
            plain: [0; MAX_EVIDENCE],
        }
    }

    /// Number of live instances.
    pub fn instances(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// The EK of the instance for `id`.
    pub fn ek(&self, id: &TpmId) -> Option<&Ek> {
        self.slot(id)
            .and_then(|i| self.slots.get(i)?.as_ref().map(|x| &x.ek))
    }

    /// The transport (the simulator inspects it).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Whether the instance for `id` has an open channel.
    pub fn is_connected(&self, id: &TpmId) -> bool {
        self.slot(id)
            .and_then(|i| self.slots.get(i)?.as_ref())
            .is_some_and(|x| matches!(x.link, Link::Open(_)))
    }

    fn slot(&self, id: &TpmId) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|x| &x.id == id))
    }

    /// One turn: WaitForRequest, do it, ReportStatus.
    pub fn serve_one(
        &mut self,
        factory: &mut impl PlatformFactory<P>,
    ) -> Result<Event, ServerError> {
        // WaitForRequest: ver 1, cmd 1, rsvd[2], TPM_ID (0 = any).
        let mut c = ServiceCommand::new(&mut self.cmd, &VTPMTD_GUID);
        c.push(&[1, 1, 0, 0]);
        c.push(&[0; 16]);
        let cmd = c.finish().map_err(ServerError::Service)?;
        self.transport
            .service(cmd, &mut self.rsp, WAIT_TIMEOUT_MS)
            .map_err(|e| ServerError::Service(ServiceError::Vmcall(e)))?;
        let data = parse_service_response(&self.rsp, &VTPMTD_GUID).map_err(ServerError::Service)?;
        let (hdr, rest) = data
            .split_first_chunk::<4>()
            .ok_or(ServerError::Malformed)?;
        if hdr[1] != 1 {
            return Err(ServerError::Malformed);
        }
        let op = hdr[2];
        if op == operation::NONE {
            return Ok(Event::Idle);
        }
        let (id, payload) = rest
            .split_first_chunk::<16>()
            .ok_or(ServerError::Malformed)?;
        let id = *id;
        // The payload moves to `plain` so `rsp` is free; it is at most a record or a hello.
        let plen = payload.len();
        let dst = self.plain.get_mut(..plen).ok_or(ServerError::Malformed)?;
        dst.copy_from_slice(payload);

        let (event, st, out_len) = match op {
            operation::CREATE => self.create(&id, factory),
            operation::DESTROY => self.destroy(&id),
            operation::COMMUNICATE => self.communicate(&id, plen),
            _ => (Event::Refused(status::UNSUPPORTED), status::UNSUPPORTED, 0),
        };
        self.report_status(op, st, &id, out_len)?;
        Ok(event)
    }

    fn report_status(
        &mut self,
        op: u8,
        st: u8,
        id: &TpmId,
        out_len: usize,
    ) -> Result<(), ServerError> {
        let payload = self.out.get(..out_len).unwrap_or(&[]);
        let mut c = ServiceCommand::new(&mut self.cmd, &VTPMTD_GUID);
        c.push(&[0, 2, op, st]);
        c.push(id);
        c.push(payload);
        let cmd = c.finish().map_err(ServerError::Service)?;
        self.transport
            .service(cmd, &mut self.rsp, WAIT_TIMEOUT_MS)
            .map_err(|e| ServerError::Service(ServiceError::Vmcall(e)))?;
        parse_service_response(&self.rsp, &VTPMTD_GUID).map_err(ServerError::Service)?;
        Ok(())
    }

    fn create(&mut self, id: &TpmId, factory: &mut impl PlatformFactory<P>) -> (Event, u8, usize) {
        if self.slot(id).is_some() {
            return refuse(status::ALREADY_STARTED);
        }
        let Some(free) = self.slots.iter().position(Option::is_none) else {
            return refuse(status::OUT_OF_RESOURCES);
        };
        let Ok(platform) = factory.make(id) else {
            return refuse(status::INTERNAL);
        };
        let mut tpm = Tpm::new(platform);
        if tpm.in_failure_mode() {
            return refuse(status::INTERNAL);
        }
        let ek = match create_ek(&mut tpm, &self.ek_config) {
            Ok(ek) => ek,
            Err(_) => return refuse(status::INTERNAL),
        };
        // The user TD gets no platform authority (see `BootConfig::release_platform`).
        if self.ek_config.release_platform && release_platform_hierarchy(&mut tpm).is_err() {
            return refuse(status::INTERNAL);
        }
        if let Some(s) = self.slots.get_mut(free) {
            *s = Some(Instance {
                id: *id,
                tpm,
                ek,
                link: Link::Waiting,
                bound: None,
            });
        }
        (Event::Created(free), status::OK, 0)
    }

    fn destroy(&mut self, id: &TpmId) -> (Event, u8, usize) {
        match self
            .slot(id)
            .and_then(|i| Some((i, self.slots.get_mut(i)?)))
        {
            Some((i, s)) => {
                // Dropping the instance wipes its seeds, keys and channel keys.
                *s = None;
                (Event::Destroyed(i), status::OK, 0)
            }
            None => refuse(status::NOT_STARTED),
        }
    }

    fn communicate(&mut self, id: &TpmId, plen: usize) -> (Event, u8, usize) {
        let Some(i) = self.slot(id) else {
            return refuse(status::NOT_STARTED);
        };
        let Some(Some(inst)) = self.slots.get_mut(i) else {
            return refuse(status::NOT_STARTED);
        };
        let payload = self.plain.get_mut(..plen).unwrap_or(&mut []);
        // A hello on an open channel starts a new one (the user TD rebooted its firmware or
        // lost the channel); the old keys are wiped. Only the TD measured into PCR 0 passes.
        if matches!(inst.link, Link::Open(_)) && is_hello(payload) {
            inst.link = Link::Waiting;
        }
        match &mut inst.link {
            Link::Waiting => match accept(inst, payload, &self.policy, &mut self.transport) {
                Ok(hello) => {
                    let n = hello.len();
                    if let Some(d) = self.out.get_mut(..n) {
                        d.copy_from_slice(&hello);
                    }
                    (Event::Connected(i), status::OK, n)
                }
                Err(_) => refuse(status::MUTUAL_ATTESTATION),
            },
            Link::Open(ch) => {
                let (kind, n) = match ch.open(payload) {
                    Ok((k, p)) => (k, p.len()),
                    Err(_) => {
                        inst.link = Link::Waiting;
                        return refuse(status::SECURE_SESSION);
                    }
                };
                // The plaintext is at RECORD_HEADER_SIZE..+n of `payload`.
                let start = channel::RECORD_HEADER_SIZE;
                let end = start.saturating_add(n);
                let mut rsp = [0u8; MAX_RESPONSE_SIZE];
                let (reply_kind, event, reply): (u8, Event, &[u8]) = match kind {
                    channel::kind::TPM => {
                        let cmd = self.plain.get(start..end).unwrap_or(&[]);
                        let len = inst.tpm.execute(0, cmd, &mut rsp);
                        (
                            channel::kind::TPM,
                            Event::Command(i),
                            rsp.get(..len).unwrap_or(&[]),
                        )
                    }
                    channel::kind::EK_EVIDENCE => {
                        let mut nonce = [0u8; EVIDENCE_NONCE_MAX];
                        let nlen = n.min(EVIDENCE_NONCE_MAX);
                        if let (Some(d), Some(s)) = (
                            nonce.get_mut(..nlen),
                            self.plain.get(start..start.saturating_add(nlen)),
                        ) {
                            d.copy_from_slice(s);
                        }
                        let nonce = nonce.get(..nlen).unwrap_or(&[]);
                        match ek_evidence(&mut inst.tpm, &inst.ek, nonce, &mut self.plain) {
                            Ok(len) => (
                                channel::kind::EK_EVIDENCE,
                                Event::Evidence(i),
                                self.plain.get(..len).unwrap_or(&[]),
                            ),
                            Err(_) => (
                                channel::kind::ERROR,
                                Event::Refused(status::INTERNAL),
                                &[status::INTERNAL][..],
                            ),
                        }
                    }
                    _ => (
                        channel::kind::ERROR,
                        Event::Refused(status::INVALID),
                        &[status::INVALID][..],
                    ),
                };
                match ch.seal(reply_kind, reply, &mut self.out) {
                    Ok(len) => (event, status::OK, len),
                    Err(_) => {
                        inst.link = Link::Waiting;
                        refuse(status::SECURE_SESSION)
                    }
                }
            }
        }
    }
}

fn is_hello(b: &[u8]) -> bool {
    b.len() == channel::HELLO_SIZE
        && b.first() == Some(&channel::VERSION)
        && b.get(1) == Some(&channel::kind::HELLO)
}

fn refuse(st: u8) -> (Event, u8, usize) {
    (Event::Refused(st), st, 0)
}

/// The server side of the handshake for `inst`; on success the channel is stored, the user TD
/// measured (first time), and our hello returned.
fn accept<P: Platform, T: TdxTransport>(
    inst: &mut Instance<P>,
    peer_hello: &[u8],
    policy: &Policy,
    transport: &mut T,
) -> Result<[u8; channel::HELLO_SIZE], HandshakeError> {
    let platform = inst.tpm.platform_mut();
    let hs = Handshake::start(Role::Server, transport, |b| platform.fill_entropy(b))?;
    let hello = *hs.hello();
    let (ch, report) = hs.finish(peer_hello, policy, transport)?;
    // The user TD's build-time identity: its TDINFO without the run-time RTMRs (the same
    // selection a service-TD binding makes with IGNORE_RTMR0..3).
    let identity = servtd_info_hash(&report.td_info, ServtdAttr(ServtdAttr::IGNORE_RTMRS));
    match inst.bound {
        Some(b) if b != identity => {
            return Err(HandshakeError::Policy(channel::PolicyViolation::Mrtd));
        }
        Some(_) => {}
        None => {
            measure_user_td(&mut inst.tpm, &report).map_err(|_| HandshakeError::KeyDerivation)?;
            inst.bound = Some(identity);
        }
    }
    inst.link = Link::Open(ch);
    Ok(hello)
}

/// TPM2_PCR_Extend(PCR 0) with the user TD's report digest: SHA-256 / SHA-384 of the TDREPORT
/// with REPORTDATA and MAC zeroed (TCG TPM 2.0 Part 3 §22.2).
pub fn measure_user_td<P: Platform>(tpm: &mut Tpm<P>, report: &TdReport) -> Result<(), u32> {
    let mut r = *report;
    r.mac_struct.report_data = [0; 64];
    r.mac_struct.mac = [0; 32];
    let bytes = r.to_bytes();
    let d256: [u8; 32] = Sha256::digest(bytes).into();
    let d384: [u8; 48] = Sha384::digest(bytes).into();
    let mut cmd = [0u8; 128];
    let mut w = W {
        buf: &mut cmd,
        pos: 0,
    };
    w.put(&0x8002u16.to_be_bytes()); // TPM_ST_SESSIONS
    w.put(&[0; 4]); // size, patched
    w.put(&0x0000_0182u32.to_be_bytes()); // TPM_CC_PCR_Extend
    w.put(&0u32.to_be_bytes()); // PCR 0
    w.put(&9u32.to_be_bytes()); // authorization size: password session, empty
    w.put(&0x4000_0009u32.to_be_bytes());
    w.put(&[0, 0, 0, 0, 0]);
    w.put(&2u32.to_be_bytes()); // TPML_DIGEST_VALUES.count
    w.put(&0x000Bu16.to_be_bytes());
    w.put(&d256);
    w.put(&0x000Cu16.to_be_bytes());
    w.put(&d384);
    let n = w.pos;
    let size = u32::try_from(n).map_err(|_| u32::MAX)?.to_be_bytes();
    if let Some(d) = cmd.get_mut(2..6) {
        d.copy_from_slice(&size);
    }
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    let len = tpm.execute(0, cmd.get(..n).unwrap_or(&[]), &mut rsp);
    let rc = rsp
        .get(6..10)
        .and_then(|b| b.first_chunk::<4>())
        .map_or(u32::MAX, |b| u32::from_be_bytes(*b));
    if len >= 10 && rc == 0 {
        Ok(())
    } else {
        Err(rc)
    }
}

struct W<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl W<'_> {
    fn put(&mut self, b: &[u8]) {
        if let Some(end) = self.pos.checked_add(b.len())
            && let Some(d) = self.buf.get_mut(self.pos..end)
        {
            d.copy_from_slice(b);
            self.pos = end;
        }
    }
}

/// REPORTDATA that binds an EK to a verifier's nonce: SHA-384(nonce ‖ EK TPMT_PUBLIC) ‖ 16 zero
/// bytes.
pub fn ek_report_data(nonce: &[u8], ek_public: &[u8]) -> [u8; 64] {
    let mut h = Sha384::new();
    h.update(nonce);
    h.update(ek_public);
    let d = h.finalize();
    let mut rd = [0u8; 64];
    if let Some(x) = rd.get_mut(..48) {
        x.copy_from_slice(&d);
    }
    rd
}

/// EK evidence into `out`: `EK public length u16 LE ‖ EK public ‖ TD quote`.
fn ek_evidence<P: Platform>(
    tpm: &mut Tpm<P>,
    ek: &Ek,
    nonce: &[u8],
    out: &mut [u8],
) -> Result<usize, PlatformError> {
    let ek = ek.public();
    let rd = ek_report_data(nonce, ek);
    let head = 2usize.saturating_add(ek.len());
    let (h, q) = out
        .split_at_mut_checked(head)
        .ok_or(PlatformError::BufferTooSmall)?;
    let len16 = u16::try_from(ek.len()).map_err(|_| PlatformError::BufferTooSmall)?;
    let (l, e) = h.split_at_mut(2);
    l.copy_from_slice(&len16.to_le_bytes());
    e.copy_from_slice(ek);
    let n = tpm.platform_mut().evidence(&rd, q)?;
    head.checked_add(n).ok_or(PlatformError::BufferTooSmall)
}

/// Split an EK evidence answer into (EK public, quote).
pub fn parse_ek_evidence(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (l, rest) = b.split_first_chunk::<2>()?;
    rest.split_at_checked(usize::from(u16::from_le_bytes(*l)))
}
