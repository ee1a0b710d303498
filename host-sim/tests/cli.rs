//! The `host-sim` binary: usage, bind errors, and the `tpm_server` personality that the
//! tpm2-tools and tpm2-pytss harnesses start (`spec/clients.md` §4).
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
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use host_sim::SimPlatform;
use host_sim::mssim::Server;

const BIN: &str = env!("CARGO_BIN_EXE_host-sim");
const STARTUP_CLEAR: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0];

/// Kills the child if a test fails half-way.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A pair of ports that were free a moment ago.
fn free_port() -> u16 {
    let s = Server::bind(0, SimPlatform::seeded(0)).unwrap();
    s.command_port()
}

fn connect_retrying(port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
            Ok(s) => {
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                return s;
            }
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("server on port {port} never came up: {e}"),
        }
    }
}

fn u32_at(s: &mut TcpStream) -> u32 {
    let mut b = [0u8; 4];
    s.read_exact(&mut b).unwrap();
    u32::from_be_bytes(b)
}

/// TCTI-style session: power on, NV on, Startup; checks the framing. Then STOP.
fn talk_and_stop(port: u16) {
    let mut cmd = connect_retrying(port);
    let mut plat = connect_retrying(port + 1);
    for code in [1u32, 11] {
        plat.write_all(&code.to_be_bytes()).unwrap();
        assert_eq!(u32_at(&mut plat), 0);
    }
    let mut msg = 8u32.to_be_bytes().to_vec();
    msg.push(0);
    msg.extend_from_slice(&12u32.to_be_bytes());
    msg.extend_from_slice(&STARTUP_CLEAR);
    cmd.write_all(&msg).unwrap();
    let len = u32_at(&mut cmd) as usize;
    let mut rsp = vec![0u8; len];
    cmd.read_exact(&mut rsp).unwrap();
    assert_eq!(u32_at(&mut cmd), 0, "trailer");
    assert!(len >= 10, "response {rsp:02x?}");
    assert!(
        rsp[..2] == [0x80, 0x01] || rsp[..2] == [0x80, 0x02],
        "tag {rsp:02x?}"
    );
    cmd.write_all(&21u32.to_be_bytes()).unwrap();
}

fn wait_exit(child: &mut Guard) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "server did not exit after STOP");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("host-sim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn help_and_usage_errors() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("host-sim serve [--port N] [--seed N] [--quiet]"));

    for bad in [&[][..], &["bogus"]] {
        let out = Command::new(BIN).args(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("Usage:"));
    }
    // A bad value names the option and the rule (clap shows no usage after it).
    let out = Command::new(BIN)
        .args(["serve", "--port", "99999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'99999' for '--port <N>'"), "{err}");
    assert!(out.stdout.is_empty());

    let out = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for option in [
        "--port",
        "--seed",
        "--quiet",
        "--max-connections",
        "--idle-timeout",
    ] {
        assert!(text.contains(option), "{option} not in:\n{text}");
    }
}

#[test]
fn bind_failure_is_a_clear_error() {
    let busy = Server::bind(0, SimPlatform::seeded(0)).unwrap();
    let port = busy.command_port();
    let out = Command::new(BIN)
        .args(["serve", "--port", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port} (command port)")),
        "{err}"
    );
}

#[test]
fn serve_port_zero_prints_the_port_and_stops_on_stop() {
    let child = Command::new(BIN)
        .args(["serve", "--port", "0", "--seed", "5", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().unwrap();
    talk_and_stop(port);
    assert!(wait_exit(&mut child).success());
    let mut err = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.is_empty(), "--quiet but stderr has: {err}");
}

#[test]
fn tpm_server_symlink_takes_ibm_flags() {
    let dir = scratch_dir("tpm_server");
    let link = dir.join("tpm_server");
    std::os::unix::fs::symlink(BIN, &link).unwrap();

    let help = Command::new(&link).arg("-h").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("tpm_server [-port N] [-rm] [-h]"));
    let bad = Command::new(&link).arg("--port").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));

    let port = free_port();
    let child = Command::new(&link)
        .args(["-rm", "-port", &port.to_string()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    let pid = child.0.id();
    // Wait for both listeners.
    drop(connect_retrying(port));
    drop(connect_retrying(port + 1));

    // The harness looks for the process by name.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "tpm_server");
    // tpm2-tools' helpers.sh: `ss -lntp4` shows tpm_server on IPv4 N and N+1 (skip without ss).
    if let Ok(ss) = Command::new("ss").arg("-lntp4").output() {
        let table = String::from_utf8_lossy(&ss.stdout);
        for p in [port, port + 1] {
            let row = table
                .lines()
                .find(|l| l.contains(&format!("127.0.0.1:{p} ")))
                .unwrap_or_else(|| panic!("no IPv4 listener on {p} in:\n{table}"));
            assert!(
                row.contains(&format!("\"tpm_server\",pid={pid},")),
                "ss row: {row}"
            );
        }
    }

    talk_and_stop(port);
    assert!(wait_exit(&mut child).success());
    let mut err = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.contains(&format!("127.0.0.1:{port} (TPM commands)")),
        "{err}"
    );
    assert!(err.contains("STOP"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// REMOTE_HANDSHAKE on a fresh command connection: whether the server served it (rather than
/// closing it on arrival).
fn handshake_served(s: &mut TcpStream) -> bool {
    let msg = [15u32.to_be_bytes(), 1u32.to_be_bytes()].concat();
    if s.write_all(&msg).is_err() {
        return false;
    }
    let mut reply = [0u8; 12];
    s.read_exact(&mut reply).is_ok()
}

#[test]
fn serve_connection_limits_from_the_command_line() {
    let child = Command::new(BIN)
        .args([
            "serve",
            "--port",
            "0",
            "--quiet",
            "--max-connections",
            "1",
            "--idle-timeout",
            "1",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().unwrap();
    let mut first = connect_retrying(port);
    assert!(handshake_served(&mut first));
    // One connection per port: the second is closed on arrival.
    let mut second = connect_retrying(port);
    assert!(!handshake_served(&mut second));
    // Idle for over a second: closed.
    std::thread::sleep(Duration::from_millis(1500));
    let mut b = [0u8; 1];
    assert!(matches!(first.read(&mut b), Ok(0) | Err(_)));
    // Its slot comes back once the server has seen it go.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut third = loop {
        let mut s = connect_retrying(port);
        if handshake_served(&mut s) {
            break s;
        }
        assert!(Instant::now() < deadline, "the slot never came back");
        std::thread::sleep(Duration::from_millis(20));
    };
    // STOP on the connection that holds the only slot.
    third.write_all(&21u32.to_be_bytes()).unwrap();
    assert!(wait_exit(&mut child).success());
}
