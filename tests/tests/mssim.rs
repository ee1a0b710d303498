//! The mssim TCP server, driven over real sockets the way libtss2-tcti-mssim 3.2 drives it
//! (`spec/clients.md` §1–2): connect the command port, connect the platform port, POWER_ON and
//! NV_ON there, then SEND_COMMAND on the command port and read the response with its trailer.
//!
//! Written against the protocol bytes, not the server's own encoder. Works with the stub core
//! (every command answered by a 10-byte error) and with the real one.
// Test helpers sit outside `#[test]` functions, where clippy.toml's test allowances do not reach.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use core::net::Ipv4Addr;
use core::time::Duration;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;

use host_sim::SimPlatform;
use host_sim::mssim::{RunningServer, Server};

const SEND_COMMAND: u32 = 8;
const REMOTE_HANDSHAKE: u32 = 15;
const HASH_START: u32 = 5;
const HASH_DATA: u32 = 6;
const HASH_END: u32 = 7;
const SESSION_END: u32 = 20;
const STOP: u32 = 21;
const POWER_ON: u32 = 1;
const POWER_OFF: u32 = 2;
const NV_ON: u32 = 11;
const RESET: u32 = 17;
const GET_COMMAND_RESPONSE_SIZES: u32 = 25;

/// TPM2_Startup(TPM_SU_CLEAR).
const STARTUP_CLEAR: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0];
/// TPM2_GetRandom(8).
const GET_RANDOM_8: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7B, 0, 8];

const TIMEOUT: Duration = Duration::from_secs(10);

fn start() -> RunningServer {
    Server::bind(0, SimPlatform::seeded(1))
        .unwrap()
        .quiet(true)
        .spawn()
        .unwrap()
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.set_write_timeout(Some(TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

fn send_u32(s: &mut TcpStream, v: u32) {
    s.write_all(&v.to_be_bytes()).unwrap();
}

fn recv_u32(s: &mut TcpStream) -> u32 {
    let mut b = [0u8; 4];
    s.read_exact(&mut b).unwrap();
    u32::from_be_bytes(b)
}

/// The connection is closed by the server: EOF (or a reset) instead of data.
fn assert_closed(s: &mut TcpStream) {
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => {}
        Ok(_) => panic!("expected the server to close the connection, got data"),
        Err(e) => assert!(
            matches!(
                e.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ),
            "expected close, got {e}"
        ),
    }
}

/// What a libtss2-tcti-mssim client does at init: connect P, connect P+1, POWER_ON and NV_ON on
/// P+1, each answered 0.
fn tcti_init(port: u16) -> (TcpStream, TcpStream) {
    let cmd = connect(port);
    let mut plat = connect(port + 1);
    for code in [POWER_ON, NV_ON] {
        send_u32(&mut plat, code);
        assert_eq!(recv_u32(&mut plat), 0, "platform signal {code}");
    }
    (cmd, plat)
}

/// One SEND_COMMAND: returns the response, after checking the length prefix and the trailing
/// `u32 0`. An empty response is the unpowered answer.
fn transact(s: &mut TcpStream, locality: u8, command: &[u8]) -> Vec<u8> {
    let mut msg = SEND_COMMAND.to_be_bytes().to_vec();
    msg.push(locality);
    msg.extend_from_slice(&u32::try_from(command.len()).unwrap().to_be_bytes());
    msg.extend_from_slice(command);
    s.write_all(&msg).unwrap();
    let len = recv_u32(s) as usize;
    let mut rsp = vec![0u8; len];
    s.read_exact(&mut rsp).unwrap();
    assert_eq!(recv_u32(s), 0, "trailing u32 0 after the response");
    rsp
}

/// A well-formed response: tag TPM_ST_NO_SESSIONS (or SESSIONS on success), header size equal
/// to the bytes received. Returns the response code.
fn check_response(rsp: &[u8]) -> u32 {
    assert!(rsp.len() >= 10, "response too short: {rsp:02x?}");
    let tag = u16::from_be_bytes([rsp[0], rsp[1]]);
    let size = u32::from_be_bytes(rsp[2..6].try_into().unwrap()) as usize;
    let rc = u32::from_be_bytes(rsp[6..10].try_into().unwrap());
    assert!(tag == 0x8001 || tag == 0x8002, "tag {tag:#x}");
    assert_eq!(size, rsp.len(), "header size vs. bytes framed");
    if rc != 0 {
        // Error responses are exactly the 10-byte header with TPM_ST_NO_SESSIONS.
        assert_eq!((tag, size), (0x8001, 10), "error response {rsp:02x?}");
    }
    rc
}

#[test]
fn tcti_session_gets_framed_responses() {
    let server = start();
    assert_eq!(server.platform_port(), server.command_port() + 1);
    let (mut cmd, _plat) = tcti_init(server.command_port());
    check_response(&transact(&mut cmd, 0, &STARTUP_CLEAR));
    // Several commands on one connection, at another locality too.
    for locality in [0, 3] {
        check_response(&transact(&mut cmd, locality, &GET_RANDOM_8));
    }
    let status = server.status();
    assert!(status.powered && status.nv_available);
    assert_eq!(status.commands_executed, 3);
    assert_eq!(status.tpm_inits, 0, "POWER_ON while powered is a no-op");
}

#[test]
fn state_survives_reconnects_and_power_on_is_idempotent() {
    let server = start();
    let port = server.command_port();
    {
        let (mut cmd, _plat) = tcti_init(port);
        let first = check_response(&transact(&mut cmd, 0, &STARTUP_CLEAR));
        // Client goes away without SESSION_END (tpm2-tss < 4.2).
        drop(cmd);
        let (mut cmd, _plat) = tcti_init(port);
        let second = check_response(&transact(&mut cmd, 0, &STARTUP_CLEAR));
        if first == 0 {
            // Same TPM, not re-initialised by the second POWER_ON: Startup again is INITIALIZE.
            assert_eq!(second, 0x100, "second Startup after reconnect");
        }
    }
    // Power state is part of the state that outlives connections.
    {
        let mut plat = connect(port + 1);
        send_u32(&mut plat, POWER_OFF);
        assert_eq!(recv_u32(&mut plat), 0);
    }
    let mut cmd = connect(port);
    assert!(transact(&mut cmd, 0, &STARTUP_CLEAR).is_empty());
    assert!(!server.status().powered);
    let (mut cmd2, _plat) = tcti_init(port);
    check_response(&transact(&mut cmd2, 0, &STARTUP_CLEAR));
    // The old command connection sees the power-on as well.
    check_response(&transact(&mut cmd, 0, &STARTUP_CLEAR));
    let status = server.status();
    assert!(status.powered);
    assert_eq!(
        status.tpm_inits, 1,
        "power-on after power-off runs _TPM_Init once"
    );
    assert_eq!(status.commands_executed, 4);
}

#[test]
fn unpowered_send_command_answers_zero_zero() {
    let server = start();
    let port = server.command_port();
    let mut plat = connect(port + 1);
    send_u32(&mut plat, POWER_OFF);
    assert_eq!(recv_u32(&mut plat), 0);
    // RESET does nothing while off.
    send_u32(&mut plat, RESET);
    assert_eq!(recv_u32(&mut plat), 0);

    let mut cmd = connect(port);
    let mut msg = SEND_COMMAND.to_be_bytes().to_vec();
    msg.push(0);
    msg.extend_from_slice(&12u32.to_be_bytes());
    msg.extend_from_slice(&STARTUP_CLEAR);
    cmd.write_all(&msg).unwrap();
    let mut reply = [0xFFu8; 8];
    cmd.read_exact(&mut reply).unwrap();
    assert_eq!(reply, [0u8; 8], "u32 0 ‖ u32 0");
    // The connection stays usable and the answer stays the same.
    assert!(transact(&mut cmd, 0, &GET_RANDOM_8).is_empty());
    let status = server.status();
    assert_eq!(status.commands_executed, 0);
    assert_eq!(status.tpm_inits, 0);
}

#[test]
fn reset_runs_tpm_init_when_powered() {
    let server = start();
    let mut plat = connect(server.platform_port());
    send_u32(&mut plat, RESET);
    assert_eq!(recv_u32(&mut plat), 0);
    assert_eq!(server.status().tpm_inits, 1);
}

#[test]
fn unknown_platform_code_answers_one_and_closes() {
    let server = start();
    let port = server.command_port();
    let mut plat = connect(port + 1);
    send_u32(&mut plat, 0x1234);
    assert_eq!(recv_u32(&mut plat), 1);
    assert_closed(&mut plat);
    // The server still serves the platform port.
    let (mut cmd, _plat) = tcti_init(port);
    check_response(&transact(&mut cmd, 0, &STARTUP_CLEAR));
}

#[test]
fn oversized_length_drops_the_connection_but_not_the_server() {
    let server = start();
    let port = server.command_port();
    let (mut cmd, _plat) = tcti_init(port);
    let mut msg = SEND_COMMAND.to_be_bytes().to_vec();
    msg.push(0);
    msg.extend_from_slice(&0x0100_0000u32.to_be_bytes());
    msg.extend_from_slice(&STARTUP_CLEAR);
    cmd.write_all(&msg).unwrap();
    assert_closed(&mut cmd);
    assert_eq!(server.status().commands_executed, 0);

    let (mut cmd, _plat) = tcti_init(port);
    check_response(&transact(&mut cmd, 0, &STARTUP_CLEAR));
    assert_eq!(server.status().commands_executed, 1);
}

#[test]
fn command_larger_than_max_command_size_reaches_the_core() {
    let server = start();
    let (mut cmd, _plat) = tcti_init(server.command_port());
    let len = vtpm::MAX_COMMAND_SIZE + 904;
    let mut big = vec![0u8; len];
    big[..10].copy_from_slice(&STARTUP_CLEAR[..10]);
    big[2..6].copy_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
    let rc = check_response(&transact(&mut cmd, 0, &big));
    assert_ne!(rc, 0, "an over-long command cannot succeed");
    assert_eq!(server.status().commands_executed, 1);
    // The connection is still in sync.
    check_response(&transact(&mut cmd, 0, &STARTUP_CLEAR));
}

#[test]
fn handshake_hash_signals_and_session_end() {
    let server = start();
    let port = server.command_port();
    let mut cmd = connect(port);
    send_u32(&mut cmd, REMOTE_HANDSHAKE);
    send_u32(&mut cmd, 1);
    assert_eq!(
        [recv_u32(&mut cmd), recv_u32(&mut cmd), recv_u32(&mut cmd)],
        [1, 0x0D, 0]
    );
    send_u32(&mut cmd, HASH_START);
    assert_eq!(recv_u32(&mut cmd), 0);
    send_u32(&mut cmd, HASH_DATA);
    send_u32(&mut cmd, 5);
    cmd.write_all(b"hello").unwrap();
    assert_eq!(recv_u32(&mut cmd), 0);
    send_u32(&mut cmd, HASH_END);
    assert_eq!(recv_u32(&mut cmd), 0);
    // SESSION_END: no reply, connection closed, server still running.
    send_u32(&mut cmd, SESSION_END);
    assert_closed(&mut cmd);
    let mut plat = connect(port + 1);
    send_u32(&mut plat, SESSION_END);
    assert_closed(&mut plat);
    assert!(!server.is_stopping());
    let (mut cmd, _plat) = tcti_init(port);
    check_response(&transact(&mut cmd, 0, &STARTUP_CLEAR));
}

#[test]
fn command_response_sizes_report_the_largest_command() {
    let server = start();
    let (mut cmd, mut plat) = tcti_init(server.command_port());
    check_response(&transact(&mut cmd, 0, &STARTUP_CLEAR));
    send_u32(&mut plat, GET_COMMAND_RESPONSE_SIZES);
    assert_eq!(recv_u32(&mut plat), 16);
    let mut sizes = [0u8; 16];
    plat.read_exact(&mut sizes).unwrap();
    assert_eq!(recv_u32(&mut plat), 0);
    assert_eq!(sizes[..4], 12u32.to_le_bytes());
    assert_eq!(sizes[4..8], [0, 0, 0x01, 0x44]);
}

#[test]
fn platform_port_is_served_while_a_command_connection_is_open() {
    // The TCTI connects P first and then talks on P+1 before sending anything on P: a server
    // that served P sequentially would deadlock here (the read timeout turns that into a
    // failure).
    let server = start();
    let port = server.command_port();
    let _idle = connect(port);
    let _idle2 = connect(port);
    let (mut cmd, _plat) = tcti_init(port);
    check_response(&transact(&mut cmd, 0, &STARTUP_CLEAR));
}

#[test]
fn stop_ends_the_server_and_closes_its_ports() {
    let server = Server::bind(0, SimPlatform::seeded(2))
        .unwrap()
        .quiet(true)
        .spawn()
        .unwrap();
    let port = server.command_port();
    let (mut cmd, mut plat) = tcti_init(port);
    send_u32(&mut cmd, STOP);
    // `join` returns only if STOP made `run` return.
    server.join().unwrap();
    assert_closed(&mut cmd);
    assert_closed(&mut plat);
    for p in [port, port + 1] {
        assert!(
            TcpStream::connect((Ipv4Addr::LOCALHOST, p)).is_err(),
            "port {p} still listening"
        );
    }
}

#[test]
fn handle_stop_closes_open_connections() {
    let server = start();
    let port = server.command_port();
    let (mut cmd, mut plat) = tcti_init(port);
    server.stop().unwrap();
    assert_closed(&mut cmd);
    assert_closed(&mut plat);
    assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
}

#[test]
fn explicit_port_and_busy_port_error() {
    let a = start();
    let busy = Server::bind(a.command_port(), SimPlatform::seeded(0)).unwrap_err();
    assert_eq!(busy.kind(), ErrorKind::AddrInUse);
    let port = a.command_port();
    a.stop().unwrap();
    // The pair is free again and can be bound explicitly (SO_REUSEADDR: no TIME_WAIT trouble).
    let b = Server::bind(port, SimPlatform::seeded(0))
        .unwrap()
        .quiet(true);
    assert_eq!((b.command_port(), b.platform_port()), (port, port + 1));
    let b = b.spawn().unwrap();
    let (mut cmd, _plat) = tcti_init(port);
    check_response(&transact(&mut cmd, 0, &STARTUP_CLEAR));
    drop(b);
}

/// REMOTE_HANDSHAKE (client version 1) and its three-word answer: proof that the server is
/// serving this connection. False if the server closed it instead.
fn handshake(s: &mut TcpStream) -> bool {
    if s.write_all(&[REMOTE_HANDSHAKE.to_be_bytes(), 1u32.to_be_bytes()].concat())
        .is_err()
    {
        return false;
    }
    let mut reply = [0u8; 12];
    match s.read_exact(&mut reply) {
        Ok(()) => {
            assert_eq!(reply[8..], [0, 0, 0, 0], "handshake result");
            true
        }
        Err(e) => {
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::UnexpectedEof
                        | ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::BrokenPipe
                ),
                "{e}"
            );
            false
        }
    }
}

/// Poll `f` until it holds or 10 s pass.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !f() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn connections_beyond_the_limit_are_closed_and_slots_come_back() {
    let server = Server::bind(0, SimPlatform::seeded(3))
        .unwrap()
        .quiet(true)
        .max_connections(2)
        .spawn()
        .unwrap();
    let port = server.command_port();
    let mut first = connect(port);
    let mut second = connect(port);
    assert!(handshake(&mut first));
    assert!(handshake(&mut second));
    // The third is accepted and closed at once: EOF, no reply.
    let mut third = connect(port);
    assert_closed(&mut third);
    eventually("the refusal is counted", || {
        server.status().refused_connections == 1
    });
    // The limit is per port: a client's platform connection still gets in.
    let mut plat = connect(port + 1);
    send_u32(&mut plat, POWER_ON);
    assert_eq!(recv_u32(&mut plat), 0);
    // The open ones are unaffected.
    check_response(&transact(&mut first, 0, &STARTUP_CLEAR));
    // Once one closes, its slot comes back (after the server has seen the close).
    drop(second);
    eventually("a slot frees up", || handshake(&mut connect(port)));
    assert!(handshake(&mut first));
}

#[test]
fn the_default_limit_serves_several_tcti_clients_side_by_side() {
    let server = start();
    let port = server.command_port();
    let mut clients: Vec<(TcpStream, TcpStream)> = (0..host_sim::mssim::DEFAULT_MAX_CONNECTIONS)
        .map(|_| tcti_init(port))
        .collect();
    check_response(&transact(&mut clients[0].0, 0, &STARTUP_CLEAR));
    for (cmd, _plat) in &mut clients {
        assert_eq!(check_response(&transact(cmd, 0, &GET_RANDOM_8)), 0);
    }
    assert_closed(&mut connect(port));
    assert_closed(&mut connect(port + 1));
    assert_eq!(server.status().refused_connections, 2);
}

#[test]
fn idle_connections_are_closed_after_the_timeout() {
    let server = Server::bind(0, SimPlatform::seeded(4))
        .unwrap()
        .quiet(true)
        .idle_timeout(Some(Duration::from_millis(400)))
        .spawn()
        .unwrap();
    let port = server.command_port();
    let (mut cmd, mut plat) = tcti_init(port);
    check_response(&transact(&mut cmd, 0, &STARTUP_CLEAR));
    // Busy for longer than the timeout in all, but never idle that long: kept open.
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(check_response(&transact(&mut cmd, 0, &GET_RANDOM_8)), 0);
    }
    // Silent for longer than the timeout: both connections are closed.
    std::thread::sleep(Duration::from_millis(1200));
    assert_closed(&mut cmd);
    assert_closed(&mut plat);
    eventually("both idle closes are counted", || {
        server.status().idle_closed == 2
    });
    // The server itself keeps serving.
    let (mut cmd, _plat) = tcti_init(port);
    assert_eq!(check_response(&transact(&mut cmd, 0, &GET_RANDOM_8)), 0);
}

#[test]
fn no_idle_timeout_keeps_a_silent_connection() {
    let server = Server::bind(0, SimPlatform::seeded(5))
        .unwrap()
        .quiet(true)
        .idle_timeout(None)
        .spawn()
        .unwrap();
    let (mut cmd, _plat) = tcti_init(server.command_port());
    std::thread::sleep(Duration::from_millis(600));
    check_response(&transact(&mut cmd, 0, &STARTUP_CLEAR));
    assert_eq!(server.status().idle_closed, 0);
}

// ---- Under load ----------------------------------------------------------------------------

/// Resident memory of this process in KiB (Linux /proc; None elsewhere).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One hostile connection: garbage, truncated frames, huge lengths, or a frame cut off midway;
/// whatever the server answers (or closes) is fine as long as it keeps serving the others.
/// (Random bytes are truncated from the generator's words on purpose.)
#[allow(clippy::cast_possible_truncation)]
fn hostile_round(port: u16, rng: &mut u64) {
    let mut next = || {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    };
    let Ok(mut s) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return;
    };
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.set_write_timeout(Some(TIMEOUT)).unwrap();
    let kind = next() % 5;
    let mut msg = Vec::new();
    match kind {
        // Random bytes.
        0 => (0..(next() % 256)).for_each(|_| msg.push(next() as u8)),
        // SEND_COMMAND with a length far past the frame limit.
        1 => {
            msg.extend_from_slice(&SEND_COMMAND.to_be_bytes());
            msg.push(0);
            msg.extend_from_slice(&(0xFFFF_FFF0u32 - (next() as u32 % 16)).to_be_bytes());
        }
        // SEND_COMMAND announcing more bytes than it sends, then closing.
        2 => {
            msg.extend_from_slice(&SEND_COMMAND.to_be_bytes());
            msg.push(0);
            msg.extend_from_slice(&4000u32.to_be_bytes());
            msg.extend_from_slice(&GET_RANDOM_8);
        }
        // A TPM command with a lying header size and random trailing bytes.
        3 => {
            let mut cmd = GET_RANDOM_8.to_vec();
            cmd[2..6].copy_from_slice(&(next() as u32).to_be_bytes());
            (0..(next() % 64)).for_each(|_| cmd.push(next() as u8));
            msg.extend_from_slice(&SEND_COMMAND.to_be_bytes());
            msg.push(next() as u8);
            msg.extend_from_slice(&u32::try_from(cmd.len()).unwrap().to_be_bytes());
            msg.extend_from_slice(&cmd);
        }
        // Half a length prefix.
        _ => msg.extend_from_slice(&SEND_COMMAND.to_be_bytes()[..2]),
    }
    let _ = s.write_all(&msg);
    let mut sink = [0u8; 8192];
    let _ = s.read(&mut sink);
}

/// 64 tpm2-tss-like clients run command loops side by side while hostile clients hammer the
/// same port: every response is well formed and succeeds, nothing deadlocks (each client keeps
/// completing commands), memory stays bounded, and the server still takes a new client after.
/// `VTPM_LOAD_SECS` sets the duration (default 3 s; the reliability runs use 60).
#[test]
fn sixty_four_clients_and_hostile_ones_under_load() {
    const CLIENTS: usize = 64;
    const HOSTILE: usize = 4;
    let secs: u64 = std::env::var("VTPM_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let server = Server::bind(0, SimPlatform::seeded(64))
        .unwrap()
        .quiet(true)
        .max_connections(CLIENTS + HOSTILE + 8)
        .spawn()
        .unwrap();
    let port = server.command_port();
    let (mut first, _plat) = tcti_init(port);
    assert_eq!(check_response(&transact(&mut first, 0, &STARTUP_CLEAR)), 0);
    let rss_before = rss_kib();

    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let stop = std::sync::Arc::new(core::sync::atomic::AtomicBool::new(false));
    let hostile: Vec<_> = (0..HOSTILE)
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (i as u64 + 1);
                let mut rounds = 0u64;
                while !stop.load(core::sync::atomic::Ordering::Relaxed) {
                    hostile_round(port, &mut rng);
                    rounds += 1;
                }
                rounds
            })
        })
        .collect();
    // TPM2_GetCapability(TPM_CAP_TPM_PROPERTIES, TPM_PT_MANUFACTURER, 1) and PCR_Read(SHA-256, 0-7).
    let get_cap: [u8; 22] = [
        0x80, 0x01, 0, 0, 0, 22, 0, 0, 0x01, 0x7A, 0, 0, 0, 6, 0, 0, 0x01, 0x05, 0, 0, 0, 1,
    ];
    let pcr_read: [u8; 20] = [
        0x80, 0x01, 0, 0, 0, 20, 0, 0, 0x01, 0x7E, 0, 0, 0, 1, 0, 0x0B, 3, 0xFF, 0, 0,
    ];
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                let (mut cmd, _plat) = tcti_init(port);
                let mut done = 0u64;
                while std::time::Instant::now() < deadline {
                    for c in [&GET_RANDOM_8[..], &get_cap[..], &pcr_read[..]] {
                        assert_eq!(check_response(&transact(&mut cmd, 0, c)), 0);
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    let counts: Vec<u64> = clients.into_iter().map(|t| t.join().unwrap()).collect();
    stop.store(true, core::sync::atomic::Ordering::Relaxed);
    let hostile_rounds: u64 = hostile.into_iter().map(|t| t.join().unwrap()).sum();

    // No client starved (a deadlock or a stuck lock would leave some at 0).
    assert!(
        counts.iter().all(|&n| n >= 3),
        "per-client commands: {counts:?}"
    );
    assert!(hostile_rounds > 0);
    // The server still serves, on an old connection and on a new one.
    assert_eq!(check_response(&transact(&mut first, 0, &GET_RANDOM_8)), 0);
    let (mut late, _p) = tcti_init(port);
    assert_eq!(check_response(&transact(&mut late, 0, &GET_RANDOM_8)), 0);
    // Memory bounded: 64 client threads' stacks and buffers come and go; the server keeps
    // nothing per command.
    if let (Some(before), Some(after)) = (rss_before, rss_kib()) {
        assert!(
            after < before + 64 * 1024,
            "RSS grew from {before} to {after} KiB"
        );
    }
    eprintln!(
        "load: {} commands from {CLIENTS} clients in {secs} s, {hostile_rounds} hostile connections",
        counts.iter().sum::<u64>()
    );
}
