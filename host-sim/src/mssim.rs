//! A TCP server speaking the Microsoft TPM 2.0 simulator protocol (`spec/clients.md` §1–2).
//!
//! Sources of the protocol: microsoft/ms-tpm-20-ref `TPMCmd/Simulator` (`TpmTcpProtocol.h`,
//! `TcpServer.c`, `TPMCmdp.c`) and the client side, tpm2-tss `tcti-mssim.c`.
//!
//! - Command port `P` carries TPM commands: `u32 8 ‖ u8 locality ‖ u32 len ‖ command`, answered
//!   `u32 rsplen ‖ response ‖ u32 0`. An unpowered TPM answers `u32 0 ‖ u32 0`.
//! - Platform port `P + 1` carries power, NV, reset and cancel signals as bare big-endian `u32`
//!   codes, each answered `u32 0` (an unknown code is answered `u32 1` and the connection closed).
//!
//! Both listeners are served concurrently, one thread per connection, and bind to 127.0.0.1
//! only. Connections are limited: at most [`DEFAULT_MAX_CONNECTIONS`] open at once on each
//! port (a client opens one per port per TCTI context; tpm2-tools one of each per tool run),
//! further ones are accepted and closed at once; and a connection that sends nothing for
//! [`DEFAULT_IDLE_TIMEOUT`] (or does not read its reply for as long) is closed. Both are
//! settable ([`Server::max_connections`], [`Server::idle_timeout`]; `host-sim serve
//! --max-connections N --idle-timeout SECONDS`). A resource manager that keeps one connection
//! open for its whole life (tpm2-abrmd) wants `--idle-timeout 0` (no timeout). The TPM outlives
//! connections: clients (tpm2-tools runs) connect, send POWER_ON and
//! NV_ON, a few commands, and disconnect, without ever sending SESSION_END (tpm2-tss before
//! 4.2.0). The server starts powered on with NV available, as IBM's `tpm_server` does; POWER_ON
//! is a no-op while powered, so the TPM waits for TPM2_Startup after the first connection.
//!
//! ```no_run
//! use host_sim::{mssim::Server, SimPlatform};
//! // Port 0: pick a free pair of ports (command port P, platform port P + 1).
//! let server = Server::bind(0, SimPlatform::new())?.quiet(true);
//! let port = server.command_port();
//! let running = server.spawn()?; // serve in a background thread
//! // ... connect to 127.0.0.1:port and 127.0.0.1:port + 1 ...
//! running.stop()?; // or drop it
//! # Ok::<(), std::io::Error>(())
//! ```

use core::fmt;
use core::net::{Ipv4Addr, SocketAddr};
use core::ops::Deref;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;
use std::collections::HashMap;
use std::io::{self, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use vtpm::{MAX_RESPONSE_SIZE, Platform, Tpm};

use crate::SimPlatform;

/// The default command port (the platform port is one above it).
pub const DEFAULT_PORT: u16 = 2321;

/// Largest length field the server accepts in SEND_COMMAND or HASH_DATA. A larger one drops the
/// connection (as the reference simulator's `ReadVarBytes` does); a smaller one that is still
/// above [`vtpm::MAX_COMMAND_SIZE`] is read and passed to the core, which answers
/// TPM_RC_COMMAND_SIZE.
pub const MAX_FRAME_LEN: u32 = 64 * 1024;

/// Command-port code: start of an H-CRTM hash sequence (acknowledged, no effect).
pub const TPM_SIGNAL_HASH_START: u32 = 5;
/// Command-port code: H-CRTM hash data, `u32 len ‖ bytes` (acknowledged, no effect).
pub const TPM_SIGNAL_HASH_DATA: u32 = 6;
/// Command-port code: end of an H-CRTM hash sequence (acknowledged, no effect).
pub const TPM_SIGNAL_HASH_END: u32 = 7;
/// Command-port code: a TPM command, `u8 locality ‖ u32 len ‖ command`.
pub const TPM_SEND_COMMAND: u32 = 8;
/// Command-port code: `u32 clientVersion`, answered with the server version and capabilities.
pub const TPM_REMOTE_HANDSHAKE: u32 = 15;
/// Command-port code: `u32 result` (not applicable to a simulator; acknowledged).
pub const TPM_SET_ALTERNATIVE_RESULT: u32 = 16;
/// Either port: the client ends its session; no reply, the connection is closed.
pub const TPM_SESSION_END: u32 = 20;
/// Either port: stop the server; no reply.
pub const TPM_STOP: u32 = 21;

/// Platform-port code: power on and _TPM_Init; no-op if already powered.
pub const TPM_SIGNAL_POWER_ON: u32 = 1;
/// Platform-port code: power off; SEND_COMMAND answers `u32 0 ‖ u32 0` until the next POWER_ON.
pub const TPM_SIGNAL_POWER_OFF: u32 = 2;
/// Platform-port code: assert physical presence (recorded; the core has no PP commands).
pub const TPM_SIGNAL_PHYS_PRES_ON: u32 = 3;
/// Platform-port code: deassert physical presence.
pub const TPM_SIGNAL_PHYS_PRES_OFF: u32 = 4;
/// Platform-port code: cancel the running command (recorded; the core does not cancel).
pub const TPM_SIGNAL_CANCEL_ON: u32 = 9;
/// Platform-port code: clear the cancel signal.
pub const TPM_SIGNAL_CANCEL_OFF: u32 = 10;
/// Platform-port code: NV available (ignored while powered off).
pub const TPM_SIGNAL_NV_ON: u32 = 11;
/// Platform-port code: NV unavailable (recorded; the core keeps NV in RAM).
pub const TPM_SIGNAL_NV_OFF: u32 = 12;
/// Platform-port code: RSA key cache on (acknowledged, no effect).
pub const TPM_SIGNAL_KEY_CACHE_ON: u32 = 13;
/// Platform-port code: RSA key cache off (acknowledged, no effect).
pub const TPM_SIGNAL_KEY_CACHE_OFF: u32 = 14;
/// Platform-port code: _TPM_Init without a power cycle, only if powered.
pub const TPM_SIGNAL_RESET: u32 = 17;
/// Platform-port code: clock restart (acknowledged; the clock belongs to the platform).
pub const TPM_SIGNAL_RESTART: u32 = 18;
/// Platform-port code: `u32 16 ‖ 16 bytes` of largest command / response statistics.
pub const TPM_GET_COMMAND_RESPONSE_SIZES: u32 = 25;
/// Platform-port code: `u32 handle` → `u32 signaled` (always 0: no ACT).
pub const TPM_ACT_GET_SIGNALED: u32 = 26;
/// Platform-port code: force failure mode at the next self test (acknowledged; not supported
/// by the core yet).
pub const TPM_TEST_FAILURE_MODE: u32 = 30;

/// Connections open at once on each port, by default. tpm2-tools holds one command and one
/// platform connection per tool run, and test scripts that open a connection per command can
/// have several closing while the next ones arrive: 64 keeps them all served on a loaded
/// machine while still bounding the threads and buffers a client can make the server hold. A
/// connection beyond the limit is accepted and closed at once, without a reply, and counted in
/// [`Status::refused_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;

/// How long a connection may go without sending a byte (or without taking a reply) before the
/// server closes it, by default; counted in [`Status::idle_closed`]. tpm2-tools and tpm2-pytss
/// talk continuously while connected; this only reaps clients that went away without closing.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Version this server reports in REMOTE_HANDSHAKE.
const SERVER_VERSION: u32 = 1;
/// REMOTE_HANDSHAKE capabilities: raw mode 0x04 | platform available 0x01 | supports PP 0x08.
const SERVER_CAPABILITIES: u32 = 0x0D;

/// Which of the two ports a connection came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Channel {
    Command,
    Platform,
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Command => "command",
            Self::Platform => "platform",
        })
    }
}

/// What the simulator knows about the simulated machine, for tests and diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The TPM is powered (SEND_COMMAND reaches the core).
    pub powered: bool,
    /// NV is available (NV_ON / NV_OFF).
    pub nv_available: bool,
    /// Physical presence is asserted.
    pub physical_presence: bool,
    /// The cancel signal is asserted.
    pub cancel: bool,
    /// How many times `Tpm::init` (_TPM_Init) has been called since the server started. The
    /// server starts powered, so the first POWER_ON does not count.
    pub tpm_inits: u64,
    /// TPM commands that reached the core since the server started.
    pub commands_executed: u64,
    /// Connections closed on arrival because [`Server::max_connections`] were already open on
    /// their port.
    pub refused_connections: u64,
    /// Connections closed because they stayed idle for [`Server::idle_timeout`].
    pub idle_closed: u64,
}

/// Largest command and response seen since the last GET_COMMAND_RESPONSE_SIZES, as the
/// reference simulator records them.
#[derive(Clone, Copy, Default)]
struct SizeRecord {
    largest_command_size: u32,
    largest_command: [u8; 4],
    largest_response_size: u32,
    largest_response: [u8; 4],
}

impl SizeRecord {
    /// The 16 bytes the reference simulator writes: its C struct as laid out on x86 (sizes
    /// little-endian, command code and response code as the bytes on the wire).
    fn to_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[0..4].copy_from_slice(&self.largest_command_size.to_le_bytes());
        out[4..8].copy_from_slice(&self.largest_command);
        out[8..12].copy_from_slice(&self.largest_response_size.to_le_bytes());
        out[12..16].copy_from_slice(&self.largest_response);
        out
    }
}

/// What a server can serve: a platform that can move to the connection threads.
pub trait Served: Platform + Send + 'static {}
impl<T: Platform + Send + 'static> Served for T {}

/// The simulated machine: the TPM and the signals around it.
struct Device<P: Platform = SimPlatform> {
    tpm: Tpm<P>,
    powered: bool,
    nv_available: bool,
    physical_presence: bool,
    cancel: bool,
    tpm_inits: u64,
    commands_executed: u64,
    sizes: SizeRecord,
}

impl<P: Platform> Device<P> {
    /// `tpm` (a freshly manufactured one, or one already in use), powered on with NV available
    /// (as `tpm_server` starts).
    fn new(tpm: Tpm<P>) -> Self {
        Self {
            tpm,
            powered: true,
            nv_available: true,
            physical_presence: false,
            cancel: false,
            tpm_inits: 0,
            commands_executed: 0,
            sizes: SizeRecord::default(),
        }
    }

    fn status(&self) -> Status {
        Status {
            powered: self.powered,
            nv_available: self.nv_available,
            physical_presence: self.physical_presence,
            cancel: self.cancel,
            tpm_inits: self.tpm_inits,
            commands_executed: self.commands_executed,
            refused_connections: 0,
            idle_closed: 0,
        }
    }

    fn init(&mut self) {
        self.tpm.init();
        self.tpm_inits += 1;
    }

    /// POWER_ON: no-op while powered; otherwise power up and _TPM_Init.
    fn power_on(&mut self) {
        if !self.powered {
            self.powered = true;
            self.init();
        }
    }

    /// POWER_OFF.
    fn power_off(&mut self) {
        self.powered = false;
    }

    /// RESET: _TPM_Init if powered, nothing otherwise.
    fn reset(&mut self) {
        if self.powered {
            self.init();
        }
    }

    /// Run one command and append the framed reply (`u32 rsplen ‖ response ‖ u32 0`).
    fn send_command(&mut self, locality: u8, command: &[u8], reply: &mut Vec<u8>) {
        if !self.powered {
            put_u32(reply, 0);
            put_u32(reply, 0);
            return;
        }
        let mut response = [0u8; MAX_RESPONSE_SIZE];
        let len = self
            .tpm
            .execute(locality, command, &mut response)
            .min(MAX_RESPONSE_SIZE);
        self.commands_executed += 1;
        let response = &response[..len];
        self.record_sizes(command, response);
        put_u32(reply, len_u32(len));
        reply.extend_from_slice(response);
        put_u32(reply, 0);
    }

    fn record_sizes(&mut self, command: &[u8], response: &[u8]) {
        let code = |buf: &[u8]| -> [u8; 4] {
            buf.get(6..10)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .unwrap_or_default()
        };
        let s = &mut self.sizes;
        if len_u32(command.len()) > s.largest_command_size {
            s.largest_command_size = len_u32(command.len());
            s.largest_command = code(command);
        }
        if len_u32(response.len()) > s.largest_response_size {
            s.largest_response_size = len_u32(response.len());
            s.largest_response = code(response);
        }
    }
}

/// A length that is known to fit (frames are capped at [`MAX_FRAME_LEN`]).
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn lock<P: Platform>(device: &Mutex<Device<P>>) -> MutexGuard<'_, Device<P>> {
    // The core promises never to panic; if it did, the state it left is still the best we have.
    device.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a connection ended.
#[derive(Debug)]
enum Close {
    /// EOF at a message boundary: the usual end of a tpm2-tss session.
    PeerClosed,
    /// The client sent SESSION_END.
    SessionEnd,
    /// The client sent STOP: the server stops.
    Stop,
    /// The server dropped the connection because of what the client sent.
    Dropped(String),
    /// Nothing read (or no reply taken) for the idle timeout.
    Idle,
    /// The connection failed (truncated message, reset, ...).
    Io(io::Error),
}

impl Close {
    fn from_io(e: io::Error) -> Self {
        match e.kind() {
            ErrorKind::UnexpectedEof => {
                Self::Dropped("connection closed in the middle of a message".into())
            }
            // A socket read or write timeout: `WouldBlock` on Unix, `TimedOut` on Windows.
            ErrorKind::WouldBlock | ErrorKind::TimedOut => Self::Idle,
            _ => Self::Io(e),
        }
    }
}

/// Read a message code, or `None` on EOF before its first byte.
fn read_code(r: &mut impl Read) -> io::Result<Option<u32>> {
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(u32::from_be_bytes(buf)))
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut buf = [0u8; 4];
    r.read_exact(&mut buf)?;
    Ok(u32::from_be_bytes(buf))
}

fn read_u8(r: &mut impl Read) -> io::Result<u8> {
    let mut buf = [0u8; 1];
    r.read_exact(&mut buf)?;
    Ok(buf[0])
}

/// Read `u32 len ‖ bytes`, dropping the connection if `len` exceeds [`MAX_FRAME_LEN`].
fn read_var_bytes(r: &mut impl Read, what: &str) -> io::Result<Result<Vec<u8>, Close>> {
    let len = read_u32(r)?;
    if len > MAX_FRAME_LEN {
        return Ok(Err(Close::Dropped(format!(
            "{what} length {len} exceeds the {MAX_FRAME_LEN}-byte limit"
        ))));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf)?;
    Ok(Ok(buf))
}

/// Serve the command port until the connection ends. `served` counts TPM commands.
fn serve_command<P: Platform>(
    r: &mut impl Read,
    w: &mut impl Write,
    device: &Mutex<Device<P>>,
    served: &mut u64,
) -> Close {
    serve_command_inner(r, w, device, served).unwrap_or_else(Close::from_io)
}

fn serve_command_inner<P: Platform>(
    r: &mut impl Read,
    w: &mut impl Write,
    device: &Mutex<Device<P>>,
    served: &mut u64,
) -> io::Result<Close> {
    let mut reply = Vec::with_capacity(MAX_RESPONSE_SIZE + 8);
    loop {
        let Some(code) = read_code(r)? else {
            return Ok(Close::PeerClosed);
        };
        reply.clear();
        match code {
            TPM_SEND_COMMAND => {
                let locality = read_u8(r)?;
                let command = match read_var_bytes(r, "SEND_COMMAND")? {
                    Ok(c) => c,
                    Err(close) => return Ok(close),
                };
                lock(device).send_command(locality, &command, &mut reply);
                *served += 1;
            }
            TPM_REMOTE_HANDSHAKE => {
                let client_version = read_u32(r)?;
                if client_version == 0 {
                    return Ok(Close::Dropped(
                        "REMOTE_HANDSHAKE with unsupported client version 0".into(),
                    ));
                }
                put_u32(&mut reply, SERVER_VERSION);
                put_u32(&mut reply, SERVER_CAPABILITIES);
                put_u32(&mut reply, 0);
            }
            TPM_SIGNAL_HASH_START | TPM_SIGNAL_HASH_END => put_u32(&mut reply, 0),
            TPM_SIGNAL_HASH_DATA => {
                if let Err(close) = read_var_bytes(r, "HASH_DATA")? {
                    return Ok(close);
                }
                put_u32(&mut reply, 0);
            }
            TPM_SET_ALTERNATIVE_RESULT => {
                read_u32(r)?;
                put_u32(&mut reply, 0);
            }
            TPM_SESSION_END => return Ok(Close::SessionEnd),
            TPM_STOP => return Ok(Close::Stop),
            other => {
                return Ok(Close::Dropped(format!("unknown command-port code {other}")));
            }
        }
        w.write_all(&reply)?;
        w.flush()?;
    }
}

/// Serve the platform port until the connection ends. `served` counts signals.
fn serve_platform<P: Platform>(
    r: &mut impl Read,
    w: &mut impl Write,
    device: &Mutex<Device<P>>,
    served: &mut u64,
) -> Close {
    serve_platform_inner(r, w, device, served).unwrap_or_else(Close::from_io)
}

fn serve_platform_inner<P: Platform>(
    r: &mut impl Read,
    w: &mut impl Write,
    device: &Mutex<Device<P>>,
    served: &mut u64,
) -> io::Result<Close> {
    let mut reply = Vec::with_capacity(32);
    loop {
        let Some(code) = read_code(r)? else {
            return Ok(Close::PeerClosed);
        };
        reply.clear();
        match code {
            TPM_SESSION_END => return Ok(Close::SessionEnd),
            TPM_STOP => return Ok(Close::Stop),
            TPM_ACT_GET_SIGNALED => {
                let _act_handle = read_u32(r)?;
                put_u32(&mut reply, 0);
            }
            _ => {
                let mut d = lock(device);
                match code {
                    TPM_SIGNAL_POWER_ON => d.power_on(),
                    TPM_SIGNAL_POWER_OFF => d.power_off(),
                    TPM_SIGNAL_RESET => d.reset(),
                    TPM_SIGNAL_RESTART
                    | TPM_SIGNAL_KEY_CACHE_ON
                    | TPM_SIGNAL_KEY_CACHE_OFF
                    | TPM_TEST_FAILURE_MODE => {}
                    TPM_SIGNAL_PHYS_PRES_ON => d.physical_presence = true,
                    TPM_SIGNAL_PHYS_PRES_OFF => d.physical_presence = false,
                    TPM_SIGNAL_CANCEL_ON => d.cancel = true,
                    TPM_SIGNAL_CANCEL_OFF => d.cancel = false,
                    TPM_SIGNAL_NV_ON => {
                        if d.powered {
                            d.nv_available = true;
                        }
                    }
                    TPM_SIGNAL_NV_OFF => d.nv_available = false,
                    TPM_GET_COMMAND_RESPONSE_SIZES => {
                        put_u32(&mut reply, 16);
                        reply.extend_from_slice(&d.sizes.to_bytes());
                        d.sizes = SizeRecord::default();
                    }
                    other => {
                        drop(d);
                        w.write_all(&1u32.to_be_bytes())?;
                        w.flush()?;
                        return Ok(Close::Dropped(format!(
                            "unknown platform-port code {other} (answered 1)"
                        )));
                    }
                }
            }
        }
        put_u32(&mut reply, 0);
        w.write_all(&reply)?;
        w.flush()?;
        *served += 1;
    }
}

/// State shared by the listeners, the connection threads and the handles.
struct Shared<P: Platform = SimPlatform> {
    device: Mutex<Device<P>>,
    command_addr: SocketAddr,
    platform_addr: SocketAddr,
    quiet: AtomicBool,
    stopping: AtomicBool,
    connections: Mutex<HashMap<u64, TcpStream>>,
    next_connection: AtomicU64,
    /// Open connections on the command port and on the platform port.
    open: [AtomicUsize; 2],
    /// Most open connections per port.
    max_connections: AtomicUsize,
    /// Idle timeout in milliseconds; 0: none.
    idle_timeout_ms: AtomicU64,
    refused_connections: AtomicU64,
    idle_closed: AtomicU64,
}

/// An open connection's place under [`Server::max_connections`], given back on drop (also if
/// the connection's thread panics or cannot be started).
struct Slot<P: Platform = SimPlatform> {
    shared: Arc<Shared<P>>,
    channel: Channel,
}

impl<P: Platform> Drop for Slot<P> {
    fn drop(&mut self) {
        self.shared
            .open_on(self.channel)
            .fetch_sub(1, Ordering::SeqCst);
    }
}

impl<P: Platform> Shared<P> {
    fn log(&self, args: fmt::Arguments<'_>) {
        if !self.quiet.load(Ordering::Relaxed) {
            eprintln!("host-sim: {args}");
        }
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn open_on(&self, channel: Channel) -> &AtomicUsize {
        match channel {
            Channel::Command => &self.open[0],
            Channel::Platform => &self.open[1],
        }
    }

    /// A slot for a new connection on `channel`, or `None` if the port is full. Only the
    /// port's accept loop takes slots, so the check and the increment cannot race each other.
    fn take_slot(self: &Arc<Self>, channel: Channel) -> Option<Slot<P>> {
        let open = self.open_on(channel);
        if open.load(Ordering::SeqCst) >= self.max_connections.load(Ordering::Relaxed) {
            return None;
        }
        open.fetch_add(1, Ordering::SeqCst);
        Some(Slot {
            shared: Arc::clone(self),
            channel,
        })
    }

    fn idle_timeout(&self) -> Option<Duration> {
        match self.idle_timeout_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    fn connections(&self) -> MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Remember a connection so that [`Shared::stop`] can shut it down.
    fn register(&self, stream: &TcpStream) -> u64 {
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            self.connections().insert(id, clone);
        }
        // `stop` sets the flag before it drains the table: either it saw this entry or we see
        // the flag.
        if self.is_stopping() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        id
    }

    fn unregister(&self, id: u64) {
        self.connections().remove(&id);
    }

    /// Stop accepting, and end every open connection. Idempotent.
    fn stop(&self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the accept loops: each sees the flag after its accept returns.
        for addr in [self.command_addr, self.platform_addr] {
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        }
        let open: Vec<TcpStream> = self.connections().drain().map(|(_, s)| s).collect();
        for stream in open {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// A bound, not yet running mssim server: command port `P` and platform port `P + 1` on
/// 127.0.0.1.
pub struct Server<P: Platform = SimPlatform> {
    command: TcpListener,
    platform: TcpListener,
    shared: Arc<Shared<P>>,
}

impl<P: Served> fmt::Debug for Server<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("command_port", &self.command_port())
            .field("platform_port", &self.platform_port())
            .finish_non_exhaustive()
    }
}

fn bind_error(e: io::Error, port: u16, which: &str) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("cannot listen on 127.0.0.1:{port} ({which} port): {e}"),
    )
}

fn bind_pair(port: u16) -> io::Result<(TcpListener, TcpListener)> {
    let platform_port = port.checked_add(1).ok_or_else(|| {
        io::Error::new(
            ErrorKind::InvalidInput,
            format!("command port {port} leaves no room for the platform port (port + 1)"),
        )
    })?;
    let command = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .map_err(|e| bind_error(e, port, "command"))?;
    let platform = TcpListener::bind((Ipv4Addr::LOCALHOST, platform_port))
        .map_err(|e| bind_error(e, platform_port, "platform"))?;
    Ok((command, platform))
}

/// Find a free pair of consecutive ports: let the kernel pick the command port, then try the
/// one above it.
fn bind_free_pair() -> io::Result<(TcpListener, TcpListener)> {
    const ATTEMPTS: usize = 64;
    for _ in 0..ATTEMPTS {
        let command =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| bind_error(e, 0, "command"))?;
        let port = command.local_addr()?.port();
        let Some(platform_port) = port.checked_add(1) else {
            continue;
        };
        match TcpListener::bind((Ipv4Addr::LOCALHOST, platform_port)) {
            Ok(platform) => return Ok((command, platform)),
            Err(e) if e.kind() == ErrorKind::AddrInUse => continue,
            Err(e) => return Err(bind_error(e, platform_port, "platform")),
        }
    }
    Err(io::Error::new(
        ErrorKind::AddrInUse,
        format!("found no free pair of consecutive ports on 127.0.0.1 in {ATTEMPTS} attempts"),
    ))
}

impl Server {
    /// Bind command port `port` and platform port `port + 1` on 127.0.0.1, with a freshly
    /// manufactured TPM on `platform`, powered on. `port` 0 picks a free pair; ask
    /// [`Server::command_port`] which.
    pub fn bind(port: u16, platform: SimPlatform) -> io::Result<Self> {
        Self::bind_tpm(port, Tpm::new(platform))
    }
}

impl<P: Served> Server<P> {
    /// [`Server::bind`] serving an existing TPM (one a firmware booted and a verifier
    /// attested, say): its state, seeds and persistent objects stay as they are.
    pub fn bind_tpm(port: u16, tpm: Tpm<P>) -> io::Result<Self> {
        let (command, platform_listener) = if port == 0 {
            bind_free_pair()?
        } else {
            bind_pair(port)?
        };
        let shared = Arc::new(Shared {
            device: Mutex::new(Device::new(tpm)),
            command_addr: command.local_addr()?,
            platform_addr: platform_listener.local_addr()?,
            quiet: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(0),
            open: [AtomicUsize::new(0), AtomicUsize::new(0)],
            max_connections: AtomicUsize::new(DEFAULT_MAX_CONNECTIONS),
            idle_timeout_ms: AtomicU64::new(duration_ms(Some(DEFAULT_IDLE_TIMEOUT))),
            refused_connections: AtomicU64::new(0),
            idle_closed: AtomicU64::new(0),
        });
        Ok(Self {
            command,
            platform: platform_listener,
            shared,
        })
    }

    /// Silence (or restore) the log lines on stderr: one per connection when it closes.
    #[must_use]
    pub fn quiet(self, quiet: bool) -> Self {
        self.shared.quiet.store(quiet, Ordering::Relaxed);
        self
    }

    /// At most `max` connections open at once on each port (at least 1; default
    /// [`DEFAULT_MAX_CONNECTIONS`]). A connection beyond it is accepted and closed at once.
    #[must_use]
    pub fn max_connections(self, max: usize) -> Self {
        self.shared
            .max_connections
            .store(max.max(1), Ordering::Relaxed);
        self
    }

    /// Close a connection that sends nothing (or takes no reply) for `timeout`; `None`: never
    /// (default [`DEFAULT_IDLE_TIMEOUT`]). Applies to connections accepted afterwards.
    #[must_use]
    pub fn idle_timeout(self, timeout: Option<Duration>) -> Self {
        self.shared
            .idle_timeout_ms
            .store(duration_ms(timeout), Ordering::Relaxed);
        self
    }

    /// The command port `P`.
    pub fn command_port(&self) -> u16 {
        self.shared.command_addr.port()
    }

    /// The platform port, `P + 1`.
    pub fn platform_port(&self) -> u16 {
        self.shared.platform_addr.port()
    }

    /// A handle to stop the server or look at its TPM from another thread.
    pub fn handle(&self) -> ServerHandle<P> {
        ServerHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Serve both ports until a client sends STOP or [`ServerHandle::stop`] is called. Each
    /// connection gets its own thread.
    pub fn run(self) -> io::Result<()> {
        let Self {
            command,
            platform,
            shared,
        } = self;
        let platform_shared = Arc::clone(&shared);
        let platform_thread = thread::Builder::new()
            .name("mssim-platform-accept".into())
            .spawn(move || accept_loop(&platform, Channel::Platform, &platform_shared))?;
        accept_loop(&command, Channel::Command, &shared);
        // `accept_loop` only returns once stopping; make sure the other loop wakes too.
        shared.stop();
        platform_thread
            .join()
            .map_err(|_| io::Error::other("platform accept thread panicked"))?;
        Ok(())
    }

    /// Run the server in a background thread. Dropping the returned [`RunningServer`] stops it.
    pub fn spawn(self) -> io::Result<RunningServer<P>> {
        let handle = self.handle();
        let thread = thread::Builder::new()
            .name("mssim-server".into())
            .spawn(move || self.run())?;
        Ok(RunningServer {
            handle,
            thread: Some(thread),
        })
    }
}

/// A timeout in milliseconds for [`Shared::idle_timeout_ms`]: `None` is 0; a timeout that
/// rounds to 0 ms is 1 ms (a zero socket timeout is an error).
fn duration_ms(timeout: Option<Duration>) -> u64 {
    timeout.map_or(0, |t| {
        u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1)
    })
}

fn accept_loop<P: Served>(listener: &TcpListener, channel: Channel, shared: &Arc<Shared<P>>) {
    while !shared.is_stopping() {
        let accepted = listener.accept();
        if shared.is_stopping() {
            break;
        }
        match accepted {
            Ok((stream, peer)) => {
                let Some(slot) = shared.take_slot(channel) else {
                    // Counted first, so that a client that sees the close sees the count.
                    shared.refused_connections.fetch_add(1, Ordering::SeqCst);
                    // Closing the stream: the client reads EOF.
                    let _ = stream.shutdown(Shutdown::Both);
                    drop(stream);
                    shared.log(format_args!(
                        "mssim {channel} port: closed {peer} on arrival: {} connection(s) \
                         already open (the limit)",
                        shared.max_connections.load(Ordering::Relaxed)
                    ));
                    continue;
                };
                let id = shared.register(&stream);
                let conn_shared = Arc::clone(shared);
                let spawned = thread::Builder::new()
                    .name(format!("mssim-{channel}-{id}"))
                    .spawn(move || {
                        serve_connection(&conn_shared, stream, peer, channel, id);
                        drop(slot);
                    });
                if let Err(e) = spawned {
                    shared.unregister(id);
                    shared.log(format_args!(
                        "mssim {channel} port: cannot serve {peer}: no thread: {e}"
                    ));
                }
            }
            Err(e) => {
                shared.log(format_args!("mssim {channel} port: accept failed: {e}"));
                if !matches!(
                    e.kind(),
                    ErrorKind::ConnectionAborted | ErrorKind::Interrupted
                ) {
                    // E.g. out of file descriptors: do not spin.
                    thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

fn serve_connection<P: Served>(
    shared: &Shared<P>,
    stream: TcpStream,
    peer: SocketAddr,
    channel: Channel,
    id: u64,
) {
    let _ = stream.set_nodelay(true);
    let idle = shared.idle_timeout();
    if stream.set_read_timeout(idle).is_err() || stream.set_write_timeout(idle).is_err() {
        shared.log(format_args!(
            "mssim {channel} port, peer {peer}: cannot set the idle timeout; closed"
        ));
        shared.unregister(id);
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let mut served = 0u64;
    let close = {
        let mut reader = BufReader::new(&stream);
        let mut writer = &stream;
        match channel {
            Channel::Command => {
                serve_command(&mut reader, &mut writer, &shared.device, &mut served)
            }
            Channel::Platform => {
                serve_platform(&mut reader, &mut writer, &shared.device, &mut served)
            }
        }
    };
    shared.unregister(id);
    let _ = stream.shutdown(Shutdown::Both);
    drop(stream);

    let port = match channel {
        Channel::Command => shared.command_addr.port(),
        Channel::Platform => shared.platform_addr.port(),
    };
    let what = match (channel, served) {
        (Channel::Command, 1) => "TPM command",
        (Channel::Command, _) => "TPM commands",
        (Channel::Platform, 1) => "signal",
        (Channel::Platform, _) => "signals",
    };
    let stopping = shared.is_stopping();
    let how = match &close {
        Close::Stop => "STOP: server stopping".to_owned(),
        Close::PeerClosed | Close::Io(_) if stopping => "closed: server stopping".to_owned(),
        Close::PeerClosed => "closed by peer".to_owned(),
        Close::SessionEnd => "SESSION_END".to_owned(),
        Close::Dropped(why) => format!("dropped: {why}"),
        Close::Idle => {
            shared.idle_closed.fetch_add(1, Ordering::Relaxed);
            format!(
                "closed: idle for {} ms (the idle timeout)",
                idle.map_or(0, |t| t.as_millis())
            )
        }
        Close::Io(e) => format!("connection error: {e}"),
    };
    shared.log(format_args!(
        "mssim {channel} port {port}, peer {peer}: {how}; served {served} {what}"
    ));
    if matches!(close, Close::Stop) {
        shared.stop();
    }
}

/// A handle on a server (bound or running): stop it, or look at the simulated machine.
#[derive(Clone)]
pub struct ServerHandle<P: Platform = SimPlatform> {
    shared: Arc<Shared<P>>,
}

impl<P: Platform> fmt::Debug for ServerHandle<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("command_port", &self.command_port())
            .field("platform_port", &self.platform_port())
            .finish_non_exhaustive()
    }
}

impl<P: Platform> ServerHandle<P> {
    /// The command port `P`.
    pub fn command_port(&self) -> u16 {
        self.shared.command_addr.port()
    }

    /// The platform port, `P + 1`.
    pub fn platform_port(&self) -> u16 {
        self.shared.platform_addr.port()
    }

    /// Stop accepting connections and close the open ones; [`Server::run`] then returns.
    /// Idempotent.
    pub fn stop(&self) {
        self.shared.stop();
    }

    /// Whether the server has been told to stop.
    pub fn is_stopping(&self) -> bool {
        self.shared.is_stopping()
    }

    /// Power, NV and counters of the simulated machine and of the connections.
    pub fn status(&self) -> Status {
        let mut status = lock(&self.shared.device).status();
        status.refused_connections = self.shared.refused_connections.load(Ordering::Relaxed);
        status.idle_closed = self.shared.idle_closed.load(Ordering::Relaxed);
        status
    }

    /// Run `f` on the TPM, holding the lock that serialises commands.
    pub fn with_tpm<R>(&self, f: impl FnOnce(&mut Tpm<P>) -> R) -> R {
        f(&mut lock(&self.shared.device).tpm)
    }
}

/// A server running in a background thread ([`Server::spawn`]). Dereferences to its
/// [`ServerHandle`]; dropping it stops the server and waits for it.
pub struct RunningServer<P: Platform = SimPlatform> {
    handle: ServerHandle<P>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl<P: Platform> fmt::Debug for RunningServer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RunningServer").field(&self.handle).finish()
    }
}

impl<P: Platform> RunningServer<P> {
    /// Stop the server and wait for its accept loops to end.
    pub fn stop(mut self) -> io::Result<()> {
        self.stop_and_join()
    }

    /// Wait until the server stops on its own (a client sent STOP) or is stopped through a
    /// handle.
    pub fn join(mut self) -> io::Result<()> {
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("mssim server thread panicked"))?,
            None => Ok(()),
        }
    }

    fn stop_and_join(&mut self) -> io::Result<()> {
        self.handle.stop();
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("mssim server thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl<P: Platform> Deref for RunningServer<P> {
    type Target = ServerHandle<P>;

    fn deref(&self) -> &ServerHandle<P> {
        &self.handle
    }
}

impl<P: Platform> Drop for RunningServer<P> {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// TPM2_Startup(CLEAR).
    const STARTUP_CLEAR: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0];

    fn device() -> Mutex<Device> {
        Mutex::new(Device::new(Tpm::new(SimPlatform::seeded(0))))
    }

    fn be(v: u32) -> [u8; 4] {
        v.to_be_bytes()
    }

    fn send_command(locality: u8, cmd: &[u8]) -> Vec<u8> {
        let mut m = be(TPM_SEND_COMMAND).to_vec();
        m.push(locality);
        m.extend_from_slice(&be(u32::try_from(cmd.len()).unwrap()));
        m.extend_from_slice(cmd);
        m
    }

    fn run_command(dev: &Mutex<Device>, input: &[u8]) -> (Vec<u8>, Close, u64) {
        let mut out = Vec::new();
        let mut served = 0;
        let close = serve_command(&mut Cursor::new(input), &mut out, dev, &mut served);
        (out, close, served)
    }

    fn run_platform(dev: &Mutex<Device>, codes: &[u32]) -> (Vec<u8>, Close, u64) {
        let input: Vec<u8> = codes.iter().flat_map(|c| be(*c)).collect();
        let mut out = Vec::new();
        let mut served = 0;
        let close = serve_platform(&mut Cursor::new(input), &mut out, dev, &mut served);
        (out, close, served)
    }

    /// Split a SEND_COMMAND reply into the response, checking the length prefix and trailer.
    fn unframe(reply: &[u8]) -> (&[u8], &[u8]) {
        let len = u32::from_be_bytes(reply[..4].try_into().unwrap()) as usize;
        let (rsp, rest) = reply[4..].split_at(len);
        assert_eq!(&rest[..4], &[0, 0, 0, 0], "trailer");
        (rsp, &rest[4..])
    }

    fn assert_tpm_header(rsp: &[u8]) {
        assert!(rsp.len() >= 10);
        assert_eq!(&rsp[..2], &[0x80, 0x01], "tag TPM_ST_NO_SESSIONS");
        assert_eq!(
            u32::from_be_bytes(rsp[2..6].try_into().unwrap()) as usize,
            rsp.len(),
            "header size = response length"
        );
    }

    #[test]
    fn send_command_is_framed_with_length_and_trailer() {
        let dev = device();
        let mut input = send_command(0, &STARTUP_CLEAR);
        input.extend(send_command(3, &STARTUP_CLEAR));
        let (out, close, served) = run_command(&dev, &input);
        assert!(matches!(close, Close::PeerClosed), "{close:?}");
        assert_eq!(served, 2);
        let (rsp1, rest) = unframe(&out);
        assert_tpm_header(rsp1);
        let (rsp2, rest) = unframe(rest);
        assert_tpm_header(rsp2);
        assert!(rest.is_empty());
        assert_eq!(lock(&dev).commands_executed, 2);
    }

    #[test]
    fn unpowered_send_command_answers_zero_zero() {
        let dev = device();
        lock(&dev).power_off();
        let (out, close, served) = run_command(&dev, &send_command(0, &STARTUP_CLEAR));
        assert!(matches!(close, Close::PeerClosed));
        assert_eq!(out, [0u8; 8]);
        assert_eq!(served, 1);
        assert_eq!(lock(&dev).commands_executed, 0);
    }

    #[test]
    fn oversized_length_drops_without_reading_or_replying() {
        let dev = device();
        let mut input = be(TPM_SEND_COMMAND).to_vec();
        input.push(0);
        input.extend(be(MAX_FRAME_LEN + 1));
        let (out, close, _) = run_command(&dev, &input);
        assert!(out.is_empty());
        assert!(
            matches!(&close, Close::Dropped(why) if why.contains("exceeds")),
            "{close:?}"
        );
    }

    #[test]
    fn length_at_the_frame_limit_reaches_the_core() {
        let dev = device();
        let mut cmd = vec![0u8; MAX_FRAME_LEN as usize];
        cmd[..10].copy_from_slice(&STARTUP_CLEAR[..10]);
        cmd[2..6].copy_from_slice(&be(MAX_FRAME_LEN));
        let (out, close, served) = run_command(&dev, &send_command(0, &cmd));
        assert!(matches!(close, Close::PeerClosed));
        assert_eq!(served, 1);
        let (rsp, rest) = unframe(&out);
        assert_tpm_header(rsp);
        assert!(rest.is_empty());
    }

    #[test]
    fn truncated_command_is_reported() {
        let dev = device();
        let mut input = send_command(0, &STARTUP_CLEAR);
        input.truncate(input.len() - 3);
        let (out, close, served) = run_command(&dev, &input);
        assert!(out.is_empty());
        assert_eq!(served, 0);
        assert!(matches!(close, Close::Dropped(_)), "{close:?}");
        // A partial code is truncation too, not a clean end.
        let (_, close, _) = run_command(&dev, &[0, 0]);
        assert!(matches!(close, Close::Dropped(_)), "{close:?}");
    }

    #[test]
    fn handshake_hash_and_alternative_result() {
        let dev = device();
        let mut input = Vec::new();
        input.extend(be(TPM_REMOTE_HANDSHAKE));
        input.extend(be(1));
        input.extend(be(TPM_SIGNAL_HASH_START));
        input.extend(be(TPM_SIGNAL_HASH_DATA));
        input.extend(be(3));
        input.extend([1, 2, 3]);
        input.extend(be(TPM_SIGNAL_HASH_END));
        input.extend(be(TPM_SET_ALTERNATIVE_RESULT));
        input.extend(be(7));
        input.extend(be(TPM_SESSION_END));
        input.extend(send_command(0, &STARTUP_CLEAR)); // never read
        let (out, close, served) = run_command(&dev, &input);
        assert!(matches!(close, Close::SessionEnd), "{close:?}");
        assert_eq!(served, 0);
        let mut want = Vec::new();
        for v in [1, 0x0D, 0, 0, 0, 0, 0] {
            want.extend(be(v));
        }
        assert_eq!(out, want);
    }

    #[test]
    fn handshake_version_zero_and_unknown_code_drop() {
        let dev = device();
        let mut input = be(TPM_REMOTE_HANDSHAKE).to_vec();
        input.extend(be(0));
        let (out, close, _) = run_command(&dev, &input);
        assert!(out.is_empty());
        assert!(matches!(close, Close::Dropped(_)));
        let (out, close, _) = run_command(&dev, &be(99));
        assert!(out.is_empty());
        assert!(matches!(close, Close::Dropped(_)));
        let (out, close, _) = run_command(&dev, &be(TPM_STOP));
        assert!(out.is_empty());
        assert!(matches!(close, Close::Stop));
    }

    #[test]
    fn power_on_is_idempotent_and_power_cycle_inits() {
        let dev = device();
        let (out, close, served) = run_platform(
            &dev,
            &[TPM_SIGNAL_POWER_ON, TPM_SIGNAL_NV_ON, TPM_SIGNAL_POWER_ON],
        );
        assert!(matches!(close, Close::PeerClosed));
        assert_eq!(out, [0u8; 12]);
        assert_eq!(served, 3);
        assert_eq!(lock(&dev).status().tpm_inits, 0);

        run_platform(&dev, &[TPM_SIGNAL_POWER_OFF, TPM_SIGNAL_NV_OFF]);
        let s = lock(&dev).status();
        assert!(!s.powered && !s.nv_available);
        // NV_ON is ignored while off; RESET does nothing while off.
        run_platform(&dev, &[TPM_SIGNAL_NV_ON, TPM_SIGNAL_RESET]);
        let s = lock(&dev).status();
        assert!(!s.nv_available);
        assert_eq!(s.tpm_inits, 0);

        run_platform(&dev, &[TPM_SIGNAL_POWER_ON, TPM_SIGNAL_NV_ON]);
        let s = lock(&dev).status();
        assert!(s.powered && s.nv_available);
        assert_eq!(s.tpm_inits, 1);

        run_platform(&dev, &[TPM_SIGNAL_RESET]);
        assert_eq!(lock(&dev).status().tpm_inits, 2);
    }

    #[test]
    fn platform_flags_and_acknowledged_signals() {
        let dev = device();
        let (out, _, served) = run_platform(
            &dev,
            &[
                TPM_SIGNAL_PHYS_PRES_ON,
                TPM_SIGNAL_CANCEL_ON,
                TPM_SIGNAL_KEY_CACHE_ON,
                TPM_SIGNAL_KEY_CACHE_OFF,
                TPM_SIGNAL_RESTART,
                TPM_TEST_FAILURE_MODE,
            ],
        );
        assert_eq!(out, [0u8; 24]);
        assert_eq!(served, 6);
        let s = lock(&dev).status();
        assert!(s.physical_presence && s.cancel);
        run_platform(&dev, &[TPM_SIGNAL_PHYS_PRES_OFF, TPM_SIGNAL_CANCEL_OFF]);
        let s = lock(&dev).status();
        assert!(!s.physical_presence && !s.cancel);
    }

    #[test]
    fn act_get_signaled_reads_its_handle() {
        let dev = device();
        let (out, close, served) = run_platform(
            &dev,
            &[TPM_ACT_GET_SIGNALED, 0x4000_0110, TPM_SIGNAL_POWER_ON],
        );
        assert!(matches!(close, Close::PeerClosed));
        assert_eq!(served, 2);
        assert_eq!(out, [0u8; 12]);
    }

    #[test]
    fn unknown_platform_code_answers_one_and_closes() {
        let dev = device();
        let (out, close, served) = run_platform(&dev, &[99, TPM_SIGNAL_POWER_ON]);
        assert_eq!(out, be(1));
        assert_eq!(served, 0);
        assert!(matches!(close, Close::Dropped(_)), "{close:?}");
        // HASH_START is a command-port code only.
        let (out, _, _) = run_platform(&dev, &[TPM_SIGNAL_HASH_START]);
        assert_eq!(out, be(1));
    }

    #[test]
    fn session_end_and_stop_on_platform_port() {
        let dev = device();
        let (out, close, _) = run_platform(&dev, &[TPM_SESSION_END, TPM_SIGNAL_POWER_OFF]);
        assert!(out.is_empty());
        assert!(matches!(close, Close::SessionEnd));
        assert!(lock(&dev).powered, "nothing after SESSION_END is read");
        let (out, close, _) = run_platform(&dev, &[TPM_STOP]);
        assert!(out.is_empty());
        assert!(matches!(close, Close::Stop));
    }

    #[test]
    fn command_response_sizes_are_recorded_and_reset() {
        let dev = device();
        run_command(&dev, &send_command(0, &STARTUP_CLEAR));
        let (out, _, _) = run_platform(&dev, &[TPM_GET_COMMAND_RESPONSE_SIZES]);
        assert_eq!(out.len(), 4 + 16 + 4);
        assert_eq!(&out[..4], &be(16));
        assert_eq!(&out[4..8], &12u32.to_le_bytes());
        assert_eq!(&out[8..12], &[0, 0, 0x01, 0x44], "TPM_CC_Startup");
        assert_eq!(&out[12..16], &10u32.to_le_bytes());
        assert_eq!(&out[20..], &[0, 0, 0, 0]);
        let (out, _, _) = run_platform(&dev, &[TPM_GET_COMMAND_RESPONSE_SIZES]);
        assert_eq!(&out[4..20], &[0u8; 16], "reset after reading");
    }

    #[test]
    fn bind_rejects_the_last_port_and_reports_busy_ports() {
        let e = Server::bind(u16::MAX, SimPlatform::seeded(0)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);

        let a = Server::bind(0, SimPlatform::seeded(0)).unwrap();
        assert_eq!(a.platform_port(), a.command_port() + 1);
        let e = Server::bind(a.command_port(), SimPlatform::seeded(0)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AddrInUse);
        assert!(
            e.to_string()
                .contains(&format!("127.0.0.1:{} (command port)", a.command_port())),
            "{e}"
        );
        // One below: its platform port is our command port, so this cannot bind either.
        let e = Server::bind(a.command_port() - 1, SimPlatform::seeded(0)).unwrap_err();
        assert!(e.to_string().contains("cannot listen on 127.0.0.1:"), "{e}");
    }
}
