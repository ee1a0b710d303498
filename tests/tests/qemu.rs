//! A real guest decides: QEMU 7.2 + OVMF measured boot + Linux 6.1 on the vTPM, through
//! `host-sim qemu` (QEMU's tpm-emulator protocol), with CRB and with TIS, each booted twice on
//! the same TPM (a guest reset between). The event log of every boot must replay to the PCRs
//! the guest reads, in the SHA-256 and the SHA-384 bank. The work is done by
//! `tests/qemu/guest_boot.py`; this test builds host-sim and runs it.
//!
//! Packages needed (Debian 12): `qemu-system-x86 ovmf busybox-static tpm2-tools`, and the kernel
//! image of `linux-image-amd64` in `target/qemu-guest/` (or `$VTPM_QEMU_CACHE`), which
//! `python3 tests/qemu/guest_boot.py --install --install-only` fetches with `apt-get download` +
//! `dpkg -x`. `.ci/run` does both. When something is missing the test prints a skip message and
//! passes, unless the environment variable `CI` is set: then it fails.
//!
//! Set `VTPM_HOST_SIM_BIN=/path/to/host-sim` to use that binary instead of building one.
//! About 25 s per interface (two boots of ~11 s each under TCG).

use core::time::Duration;
use std::env;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const PYTHON: &str = "/usr/bin/python3";
/// Exit status with which the script reports a missing prerequisite.
const EXIT_SKIP: i32 = 77;
/// Upper bound for the whole script (it times out each boot itself after 60 s).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(400);

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// `CI` set to anything but "" / "0" / "false": missing prerequisites are failures.
fn in_ci() -> bool {
    env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn skip_or_fail(why: &str) {
    assert!(
        !in_ci(),
        "guest boot: {why} (CI is set, so this is a failure: run `python3 \
         tests/qemu/guest_boot.py --install --install-only` as root)"
    );
    // Straight to stderr, past the test harness' output capture, so the skip is visible.
    let _ = writeln!(std::io::stderr(), "SKIP measured_boot_on_qemu: {why}");
}

/// The host-sim binary: `$VTPM_HOST_SIM_BIN`, or `cargo build -p host-sim` (a no-op when it is
/// up to date) and its path in the target directory.
fn host_sim_binary() -> Result<PathBuf, String> {
    if let Some(path) = env::var_os("VTPM_HOST_SIM_BIN") {
        return Ok(PathBuf::from(path));
    }
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "-p", "host-sim", "--bin", "host-sim"])
        .current_dir(workspace_root())
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("`cargo build -p host-sim` failed ({status})"));
    }
    let target = env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from);
    let path = target.join("debug").join("host-sim");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} not found after the build", path.display()))
    }
}

#[test]
fn measured_boot_on_qemu() {
    if !Path::new(PYTHON).is_file() {
        skip_or_fail(&format!("{PYTHON} not found (apt-get install python3)"));
        return;
    }
    let binary = match host_sim_binary() {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    let script = workspace_root()
        .join("tests")
        .join("qemu")
        .join("guest_boot.py");
    let log = env::temp_dir().join(format!("vtpm-guest-boot-{}.log", std::process::id()));
    let out = File::create(&log).unwrap();
    let err = out.try_clone().unwrap();
    let mut child = Command::new(PYTHON)
        .arg(&script)
        .arg("--host-sim")
        .arg(&binary)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut output = String::new();
    File::open(&log)
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    let _ = fs::remove_file(&log);
    match status.and_then(|s| s.code()) {
        Some(0) => println!("{output}"),
        Some(EXIT_SKIP) => skip_or_fail(output.trim()),
        code => panic!(
            "{} failed (exit {code:?}; killed after {} s if None):\n{output}",
            script.display(),
            SCRIPT_TIMEOUT.as_secs()
        ),
    }
}
