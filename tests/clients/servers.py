#!/usr/bin/python3
"""Start and stop TPM servers on free loopback ports for the client scripts.

As a library:
    with spawn("swtpm") as tcti: ...            # fresh swtpm, banks sha256+sha384
    with spawn("host-sim") as tcti: ...         # target/debug/host-sim serve --port N
    with spawn("host-sim=/path/to/host-sim") as tcti: ...
    with open_target("mssim:host=127.0.0.1,port=2321") as tcti: ...   # no spawn
Each yields the TCTI string for tpm2-tools. The scripts accept "spawn:swtpm",
"spawn:host-sim" and "spawn:host-sim=PATH" wherever they take a TCTI.

As a program (for running things by hand):
    /usr/bin/python3 tests/clients/servers.py swtpm [--startup-clear]
    /usr/bin/python3 tests/clients/servers.py host-sim [--bin PATH]
prints `TPM2TOOLS_TCTI=…` and serves until interrupted.

swtpm is set up with swtpm_setup (package swtpm-tools) so that exactly the banks we
allocate (sha256, sha384) are active, and is started with `--flags not-need-init`
(so the client, not swtpm, sends TPM2_Startup, like our simulator which starts
powered on and waiting for Startup). Its state directory is a temporary directory,
removed on stop.
"""

import argparse
import contextlib
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tpmlib import Failure, Skip, require_programs, require_tcti_library  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent.parent  # tests/clients/ -> repo
DEFAULT_HOST_SIM = REPO_ROOT / "target" / "debug" / "host-sim"
DEFAULT_BANKS = "sha256,sha384"


def free_port_pair():
    """A port N with N and N+1 both free on 127.0.0.1 (racy, so callers retry)."""
    for _ in range(100):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise Failure("no free port pair on 127.0.0.1")


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Server:
    """A child process serving on ports N and N+1 of 127.0.0.1."""

    name = "server"

    def __init__(self):
        self.proc = None
        self.port = None
        self.tmpdir = tempfile.mkdtemp(prefix=f"vtpm-{self.name}-")
        self.logpath = os.path.join(self.tmpdir, "server.log")

    def argv(self, port):
        raise NotImplementedError

    @property
    def tcti(self):
        raise NotImplementedError

    def prepare(self):
        pass

    def log_text(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def start(self, attempts=5, wait=15.0):
        self.prepare()
        for _ in range(attempts):
            port = free_port_pair()
            with open(self.logpath, "ab") as logf:
                self.proc = subprocess.Popen(self.argv(port), stdin=subprocess.DEVNULL,
                                             stdout=logf, stderr=subprocess.STDOUT,
                                             start_new_session=True)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break  # died (port taken in the meantime?): retry on another pair
                if _port_open(port) and _port_open(port + 1):
                    self.port = port
                    return self
                time.sleep(0.05)
            self._kill()
        raise Failure(f"{self.name} did not come up; last command {' '.join(self.argv(port))}\n"
                      f"log:\n{self.log_text()}")

    def _kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def stop(self):
        self._kill()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Swtpm(Server):
    name = "swtpm"

    def __init__(self, banks=DEFAULT_BANKS, startup_clear=False):
        self.banks = banks
        self.startup_clear = startup_clear
        super().__init__()
        self.statedir = os.path.join(self.tmpdir, "state")

    def prepare(self):
        require_programs("swtpm", "swtpm_setup")
        require_tcti_library("swtpm")
        os.makedirs(self.statedir, exist_ok=True)
        argv = ["swtpm_setup", "--tpm2", "--tpmstate", self.statedir,
                "--pcr-banks", self.banks, "--overwrite"]
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if proc.returncode != 0:
            raise Failure(f"`{' '.join(argv)}` exited {proc.returncode}:\n"
                          f"{proc.stdout.decode(errors='replace')}")

    def argv(self, port):
        flags = "not-need-init" + (",startup-clear" if self.startup_clear else "")
        return ["swtpm", "socket", "--tpm2",
                "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
                "--ctrl", f"type=tcp,port={port + 1},bindaddr=127.0.0.1",
                "--tpmstate", f"dir={self.statedir}",
                "--flags", flags,
                "--log", f"file={self.logpath},level=1"]

    @property
    def tcti(self):
        return f"swtpm:host=127.0.0.1,port={self.port}"


class HostSim(Server):
    name = "host-sim"

    def __init__(self, binary=None):
        self.binary = pathlib.Path(binary) if binary else DEFAULT_HOST_SIM
        super().__init__()

    def prepare(self):
        require_tcti_library("mssim")
        if not self.binary.is_file():
            raise Failure(f"host-sim binary {self.binary} not found: run `cargo build -p host-sim`")

    def argv(self, port):
        return [str(self.binary), "serve", "--port", str(port)]

    @property
    def tcti(self):
        return f"mssim:host=127.0.0.1,port={self.port}"


def make_server(spec):
    """'swtpm' | 'swtpm-started' | 'host-sim' | 'host-sim=PATH' → an unstarted Server."""
    name, _, arg = spec.partition("=")
    if name == "swtpm":
        return Swtpm()
    if name == "swtpm-started":
        return Swtpm(startup_clear=True)
    if name == "host-sim":
        return HostSim(arg or None)
    raise Failure(f"unknown server {spec!r} (swtpm, swtpm-started, host-sim[=PATH])")


@contextlib.contextmanager
def open_target(tcti):
    """Yield a TCTI string; "spawn:<server>" starts (and afterwards stops) a server."""
    if tcti.startswith("spawn:"):
        server = make_server(tcti[len("spawn:"):])
        with server:
            try:
                yield server.tcti
            except Failure as e:
                log = server.log_text().strip()
                if log:
                    raise Failure(f"{e}\n--- {server.name} log (tail) ---\n{log}") from None
                raise
    else:
        yield tcti


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("server", choices=["swtpm", "host-sim"])
    ap.add_argument("--startup-clear", action="store_true",
                    help="swtpm: send Startup(CLEAR) itself (--flags startup-clear)")
    ap.add_argument("--bin", help="host-sim binary (default target/debug/host-sim)")
    args = ap.parse_args()
    if args.server == "swtpm":
        server = Swtpm(startup_clear=args.startup_clear)
    else:
        server = HostSim(args.bin)
    try:
        with server:
            print(f"TPM2TOOLS_TCTI={server.tcti}", flush=True)
            print(f"state/log directory: {server.tmpdir}; Ctrl-C to stop", flush=True)
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            while server.proc.poll() is None:
                time.sleep(0.5)
            print(f"{server.name} exited with {server.proc.returncode}\n{server.log_text()}")
    except (Failure, Skip) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
