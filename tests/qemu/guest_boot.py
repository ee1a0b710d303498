#!/usr/bin/env python3
"""Boot a real guest on the vTPM: QEMU + OVMF measured boot + Linux, through `host-sim qemu`.

For each TPM interface (CRB, TIS) this starts `host-sim qemu --socket S`, boots QEMU (TCG,
-nic none) with Debian's OVMF, Debian's kernel and a tiny busybox initramfs against it, and
resets the guest once, so that two measured boots run on the same TPM:

- CRB: the guest reboots itself (`reboot -f`: Linux sends TPM2_Shutdown, QEMU resets). Once
  the second boot runs, QMP `set-action reboot=shutdown` turns its final reboot into QEMU's exit.
- TIS: QMP `system_reset` resets the machine after the first boot (no Shutdown), `quit` ends
  QEMU after the second.

The initramfs' /init prints every PCR the kernel shows in /sys/class/tpm/tpm0/pcr-sha256/* and
pcr-sha384/*, and the firmware event log /sys/kernel/security/tpm0/binary_bios_measurements in
base64, on the serial console. The script replays each boot's log with `tpm2_eventlog` and
fails unless, in both banks (SHA-256 and SHA-384), every PCR the log covers holds the replayed
value. It also fails if the core answered any TPM command with an error, or if host-sim did not
see two INITs and QEMU's SHUTDOWN (its per-command summary is printed).

Needs (Debian 12): qemu-system-x86, ovmf, busybox-static, tpm2-tools, and the kernel image of
linux-image-amd64, fetched with `apt-get download` + `dpkg -x` into a cache directory (nothing
is written to /boot). `--install` installs what is missing (as root) and fetches the kernel;
without it a missing prerequisite exits 77 (skip).

  python3 tests/qemu/guest_boot.py --install --install-only     # what .ci/run does first
  python3 tests/qemu/guest_boot.py --host-sim target/debug/host-sim [--keep DIR] [-v]

Everything the guest sees is fixed (kernel, OVMF, initramfs written as a deterministic cpio,
memory size, command line, no NIC), so PCRs and event logs repeat from run to run.
"""

import argparse
import base64
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

EXIT_SKIP = 77

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_CACHE = os.path.join(REPO, "target", "qemu-guest")

QEMU = "qemu-system-x86_64"
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
BUSYBOX = "/bin/busybox"
EVENTLOG = "tpm2_eventlog"
PACKAGES = {
    QEMU: "qemu-system-x86",
    OVMF_CODE: "ovmf",
    OVMF_VARS: "ovmf",
    BUSYBOX: "busybox-static",
    EVENTLOG: "tpm2-tools",
}
BANKS = ("sha256", "sha384")

# One boot: firmware, kernel, /init's dump. Observed ~11 s under TCG on 2 cores.
BOOT_TIMEOUT = 60.0

INIT_SCRIPT = r"""#!/bin/sh
# vTPM guest check: print the PCRs and the firmware event log, then reset or wait.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t securityfs securityfs /sys/kernel/security
echo "VTPM-BOOT-BEGIN"
for bank in sha256 sha384; do
  d=/sys/class/tpm/tpm0/pcr-$bank
  if [ -d $d ]; then
    for i in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23; do
      echo "VTPM-PCR $bank $i $(cat $d/$i)"
    done
  else
    echo "VTPM-NOBANK $bank"
  fi
done
log=/sys/kernel/security/tpm0/binary_bios_measurements
if [ -r $log ]; then
  cat $log > /log.bin
  echo "VTPM-LOG-BEGIN $(wc -c < /log.bin) $(sha256sum /log.bin | cut -d' ' -f1)"
  base64 /log.bin | sed 's/^/VTPM-B64 /'
  echo "VTPM-LOG-END"
else
  echo "VTPM-NOLOG"
  ls -l /sys/class/tpm /sys/kernel/security 2>&1 | sed 's/^/VTPM-INFO /'
  dmesg | grep -i tpm | sed 's/^/VTPM-INFO /'
fi
echo "VTPM-BOOT-END"
case "$(cat /proc/cmdline)" in
  *vtpm.after=reboot*) reboot -f ;;
esac
while true; do sleep 3600; done
"""


def log(msg):
    print(f"guest_boot: {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# Prerequisites


def missing_prerequisites():
    missing = []
    for path, package in PACKAGES.items():
        found = shutil.which(path) if "/" not in path else os.path.isfile(path)
        if not found and package not in missing:
            missing.append(package)
    return missing


def install_packages(packages):
    if os.geteuid() != 0:
        sys.exit(f"guest_boot: --install needs root to apt-get install {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log(f"apt-get install {' '.join(packages)}")
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *packages],
                   check=True, env=env)


def kernel_path(cache):
    found = sorted(glob.glob(os.path.join(cache, "vmlinuz-*")))
    return found[-1] if found else None


def fetch_kernel(cache):
    """The vmlinuz of Debian's linux-image-amd64, via apt-get download + dpkg -x."""
    os.makedirs(cache, exist_ok=True)
    depends = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], check=True,
                             capture_output=True, text=True).stdout
    match = re.search(r"Depends:\s*(linux-image-[0-9][^\s]*)", depends)
    if not match:
        sys.exit(f"guest_boot: cannot tell which kernel linux-image-amd64 depends on:\n{depends}")
    package = match.group(1)
    version = package[len("linux-image-"):]
    want = os.path.join(cache, f"vmlinuz-{version}")
    if os.path.isfile(want):
        return want
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        log(f"apt-get download {package}")
        # _apt cannot write to a private temporary directory: download as root.
        subprocess.run(["apt-get", "-o", "APT::Sandbox::User=root", "download", package],
                       check=True, cwd=tmp,
                       stdout=subprocess.DEVNULL)
        debs = glob.glob(os.path.join(tmp, "*.deb"))
        if len(debs) != 1:
            sys.exit(f"guest_boot: apt-get download gave {debs}")
        root = os.path.join(tmp, "root")
        subprocess.run(["dpkg", "-x", debs[0], root], check=True)
        images = glob.glob(os.path.join(root, "boot", "vmlinuz-*"))
        if len(images) != 1:
            sys.exit(f"guest_boot: {package} holds no single boot/vmlinuz-*: {images}")
        shutil.copyfile(images[0], want + ".part")
        os.replace(want + ".part", want)
    log(f"kernel {want}")
    return want


# ---------------------------------------------------------------------------------------------
# The initramfs: a deterministic newc cpio written here (no mtimes, fixed inodes and owners).


def cpio_newc(entries):
    """entries: (name, mode, data, rdev_major, rdev_minor) in archive order."""
    out = bytearray()

    def pad4():
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, mode, data, major, minor) in enumerate(entries + [("TRAILER!!!", 0, b"", 0, 0)],
                                                           start=1):
        nameb = name.encode() + b"\0"
        fields = [ino if name != "TRAILER!!!" else 0, mode, 0, 0, 1, 0, len(data), 0, 0,
                  major, minor, len(nameb), 0]
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields))
        out.extend(nameb)
        pad4()
        out.extend(data)
        pad4()
    out.extend(b"\0" * (-len(out) % 512))
    return bytes(out)


def build_initramfs(path):
    with open(BUSYBOX, "rb") as f:
        busybox = f.read()
    d, reg, lnk, chr_ = 0o040755, 0o100755, 0o120777, 0o020600
    entries = [
        ("bin", d, b"", 0, 0),
        ("bin/busybox", reg, busybox, 0, 0),
        ("bin/sh", lnk, b"busybox", 0, 0),
        ("dev", d, b"", 0, 0),
        ("dev/console", chr_, b"", 5, 1),
        ("dev/null", 0o020666, b"", 1, 3),
        ("init", reg, INIT_SCRIPT.encode(), 0, 0),
        ("proc", d, b"", 0, 0),
        ("sys", d, b"", 0, 0),
    ]
    data = cpio_newc(entries)
    with open(path, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# One guest: host-sim qemu + QEMU, two measured boots.


class Guest:
    def __init__(self, args, device, workdir, kernel, initrd):
        self.args = args
        self.device = device
        self.dir = os.path.join(workdir, device)
        os.makedirs(self.dir, exist_ok=True)
        self.kernel = kernel
        self.initrd = initrd
        self.sock = os.path.join(self.dir, "tpm.sock")
        self.qmp_path = os.path.join(self.dir, "qmp.sock")
        self.console = os.path.join(self.dir, "console.log")
        self.simlog = os.path.join(self.dir, "host-sim.log")
        self.qemulog = os.path.join(self.dir, "qemu.log")
        self.sim = None
        self.qemu = None

    def start(self):
        after = "reboot" if self.device == "crb" else "wait"
        vars_copy = os.path.join(self.dir, "OVMF_VARS.fd")
        shutil.copyfile(OVMF_VARS, vars_copy)
        sim_cmd = [self.args.host_sim, "qemu", "--socket", self.sock, "--verbose"]
        self.sim = subprocess.Popen(sim_cmd, stdin=subprocess.DEVNULL,
                                    stdout=open(self.simlog, "wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.sock):
            if self.sim.poll() is not None or time.monotonic() > deadline:
                raise Failure(f"{self.device}: host-sim qemu did not listen on {self.sock}",
                              self)
            time.sleep(0.02)
        tpm_device = {"crb": "tpm-crb", "tis": "tpm-tis"}[self.device]
        qemu_cmd = [
            QEMU, "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "512",
            "-nodefaults", "-no-user-config", "-display", "none",
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}",
            "-chardev", f"socket,id=chrtpm,path={self.sock}",
            "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
            "-device", f"{tpm_device},tpmdev=tpm0",
            "-kernel", self.kernel, "-initrd", self.initrd,
            "-append", f"console=ttyS0 loglevel=3 panic=-1 rdinit=/init vtpm.after={after}",
            "-nic", "none",
            "-serial", f"file:{self.console}",
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
        ]
        self.started = time.monotonic()
        self.qemu = subprocess.Popen(qemu_cmd, stdin=subprocess.DEVNULL,
                                     stdout=open(self.qemulog, "wb"), stderr=subprocess.STDOUT)

    def qmp(self, command, **arguments):
        """One QMP command on a fresh connection; returns its "return" value."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.qmp_path)
            f = s.makefile("rwb")

            def call(name, args=None):
                msg = {"execute": name}
                if args:
                    msg["arguments"] = args
                f.write(json.dumps(msg).encode() + b"\n")
                f.flush()
                while True:
                    line = f.readline()
                    if not line:
                        return None  # QEMU went away (quit)
                    reply = json.loads(line)
                    if "error" in reply:
                        raise Failure(f"{self.device}: QMP {name}: {reply['error']}", self)
                    if "return" in reply:
                        return reply["return"]

            json.loads(f.readline())  # greeting
            call("qmp_capabilities")
            return call(command, arguments)

    def console_text(self):
        try:
            with open(self.console, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_boots(self, n):
        """Wait until the console shows n complete dumps and QEMU is told to end."""
        deadline = time.monotonic() + BOOT_TIMEOUT * n
        times = []
        seen = 0
        last_armed = False
        while True:
            text = self.console_text()
            if (self.device == "crb" and not last_armed
                    and text.count("VTPM-BOOT-BEGIN") >= n):
                # The last boot's `reboot -f` shall end QEMU instead of starting another boot.
                self.qmp("set-action", reboot="shutdown")
                last_armed = True
            count = text.count("VTPM-BOOT-END")
            while seen < count:
                seen += 1
                times.append(time.monotonic() - self.started)
                how = ("system_reset through QMP" if self.device == "tis"
                       else "the guest reboots itself")
                if seen < n:
                    log(f"{self.device}: boot {seen} done after {times[-1]:.1f} s; {how}")
                    if self.device == "tis":
                        self.qmp("system_reset")
            if seen >= n:
                if self.device == "tis":
                    self.qmp("quit")
                try:
                    self.qemu.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    raise Failure(f"{self.device}: QEMU still running 20 s after the last "
                                  "boot", self)
                return times
            if self.qemu.poll() is not None:
                raise Failure(f"{self.device}: QEMU exited ({self.qemu.returncode}) after "
                              f"{seen} boot(s)", self)
            if self.sim.poll() is not None:
                raise Failure(f"{self.device}: host-sim exited ({self.sim.returncode}) after "
                              f"{seen} boot(s)", self)
            if time.monotonic() > deadline:
                raise Failure(f"{self.device}: {seen} of {n} boots after "
                              f"{BOOT_TIMEOUT * n:.0f} s", self)
            time.sleep(0.1)

    def stop(self):
        if self.qemu and self.qemu.poll() is None:
            try:
                self.qmp("quit")
                self.qemu.wait(timeout=10)
            except (OSError, ValueError, Failure, subprocess.TimeoutExpired):
                self.qemu.kill()
                self.qemu.wait()
        if self.sim and self.sim.poll() is None:
            try:
                self.sim.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.sim.kill()
                self.sim.wait()

    def tail(self, path, n=60):
        try:
            with open(path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            return "(none)"
        return "\n".join(lines[-n:])


class Failure(Exception):
    def __init__(self, message, guest=None):
        super().__init__(message)
        self.guest = guest


# ---------------------------------------------------------------------------------------------
# Checking a boot


def parse_dumps(text):
    """The dumps on the console, in order: {pcrs: {bank: {i: bytes}}, log: bytes|None, ...}."""
    dumps = []
    cur = None
    b64 = []
    for raw in text.splitlines():
        line = raw.strip("\r\n ")
        # Kernel messages may precede a marker on the same line: find the marker.
        pos = line.find("VTPM-")
        if pos < 0:
            continue
        line = line[pos:]
        if line.startswith("VTPM-BOOT-BEGIN"):
            cur = {"pcrs": {}, "log": None, "log_meta": None, "info": [], "nobank": []}
        elif cur is None:
            continue
        elif line.startswith("VTPM-PCR "):
            parts = line.split()
            if len(parts) == 4:
                cur["pcrs"].setdefault(parts[1], {})[int(parts[2])] = bytes.fromhex(parts[3])
        elif line.startswith("VTPM-NOBANK "):
            cur["nobank"].append(line.split()[1])
        elif line.startswith("VTPM-LOG-BEGIN "):
            parts = line.split()
            cur["log_meta"] = (int(parts[1]), parts[2])
            b64 = []
        elif line.startswith("VTPM-B64 "):
            b64.append(line[len("VTPM-B64 "):].strip())
        elif line.startswith("VTPM-LOG-END"):
            cur["log"] = base64.b64decode("".join(b64))
        elif line.startswith("VTPM-INFO "):
            cur["info"].append(line[len("VTPM-INFO "):])
        elif line.startswith("VTPM-BOOT-END"):
            dumps.append(cur)
            cur = None
    return dumps


def replay(log_path):
    """tpm2_eventlog's replayed PCR values: {bank: {i: bytes}}, and its whole output."""
    run = subprocess.run([EVENTLOG, log_path], capture_output=True, text=True)
    if run.returncode != 0:
        raise Failure(f"tpm2_eventlog {log_path} failed ({run.returncode}):\n"
                      f"{run.stderr}\n{run.stdout[-3000:]}")
    pcrs = {}
    in_pcrs = False
    bank = None
    for line in run.stdout.splitlines():
        if line.strip() == "pcrs:":
            in_pcrs = True
            continue
        if not in_pcrs:
            continue
        m = re.match(r"^\s+(\w+):\s*$", line)
        if m:
            bank = m.group(1)
            pcrs[bank] = {}
            continue
        m = re.match(r"^\s+(\d+)\s*:\s*0x([0-9A-Fa-f]+)\s*$", line)
        if m and bank:
            pcrs[bank][int(m.group(1))] = bytes.fromhex(m.group(2))
    if not pcrs:
        raise Failure(f"tpm2_eventlog printed no pcrs section:\n{run.stdout[-3000:]}")
    return pcrs, run.stdout


def event_summary(yaml_text):
    """(PCR index, event type) of each event, from tpm2_eventlog's YAML."""
    events = []
    pcr = None
    for line in yaml_text.splitlines():
        m = re.match(r"^\s*PCRIndex:\s*(\d+)", line)
        if m:
            pcr = int(m.group(1))
        m = re.match(r"^\s*EventType:\s*(\S+)", line)
        if m and pcr is not None:
            events.append((pcr, m.group(1)))
            pcr = None
    return events


def check_boot(guest, index, dump):
    where = f"{guest.device} boot {index}"
    if dump["log"] is None:
        info = "\n".join(dump["info"])
        raise Failure(f"{where}: no event log in the guest\n{info}", guest)
    size, digest = dump["log_meta"]
    data = dump["log"]
    if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
        raise Failure(f"{where}: event log garbled on the console ({len(data)} of {size} bytes, "
                      f"sha256 {hashlib.sha256(data).hexdigest()} vs {digest})", guest)
    for bank in BANKS:
        if bank not in dump["pcrs"]:
            raise Failure(f"{where}: the guest shows no {bank} bank", guest)
    log_path = os.path.join(guest.dir, f"eventlog-{index}.bin")
    with open(log_path, "wb") as f:
        f.write(data)
    replayed, yaml_text = replay(log_path)
    with open(log_path + ".yaml", "w") as f:
        f.write(yaml_text)
    results = []
    for bank in BANKS:
        if bank not in replayed:
            raise Failure(f"{where}: the event log has no {bank} digests "
                          f"(replayed banks: {sorted(replayed)})", guest)
        bad = []
        for i, want in sorted(replayed[bank].items()):
            got = dump["pcrs"][bank].get(i)
            if got != want:
                bad.append(f"PCR {i}: guest {got.hex() if got else None}, log {want.hex()}")
        if bad:
            raise Failure(f"{where}: {bank} replay mismatch:\n  " + "\n  ".join(bad), guest)
        results.append(f"{bank} PCRs {','.join(str(i) for i in sorted(replayed[bank]))} match")
    extra = sorted(set(replayed) - set(BANKS))
    events = event_summary(yaml_text)
    counts = {}
    for pcr, _ in events:
        counts[pcr] = counts.get(pcr, 0) + 1
    log(f"{where}: event log {size} bytes, {len(events)} events "
        f"({', '.join(f'PCR{p}x{n}' for p, n in sorted(counts.items()))}); "
        + "; ".join(results)
        + (f"; other banks in the log: {extra}" if extra else ""))
    return replayed


def summarize_host_sim(guest):
    """host-sim's summary lines (after 'session ended')."""
    text = guest.tail(guest.simlog, 100000)
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "session ended" in line:
            return lines[i:]
    return []


def run_guest(args, device, workdir, kernel, initrd):
    guest = Guest(args, device, workdir, kernel, initrd)
    try:
        guest.start()
        times = guest.wait_boots(2)
    except Failure:
        guest.stop()
        raise
    guest.stop()
    dumps = parse_dumps(guest.console_text())
    if len(dumps) < 2:
        raise Failure(f"{device}: {len(dumps)} complete dumps on the console", guest)
    per_boot = [times[0]] + [b - a for a, b in zip(times, times[1:])]
    log(f"{device}: boot times {', '.join(f'{t:.1f} s' for t in per_boot)}")
    first = check_boot(guest, 1, dumps[0])
    second = check_boot(guest, 2, dumps[1])
    same = first == second
    log(f"{device}: boot 2 replays {'the same' if same else 'different'} PCR values as boot 1")
    summary = summarize_host_sim(guest)
    if not summary:
        raise Failure(f"{device}: host-sim printed no session summary", guest)
    for line in summary:
        log(f"{device}: {line.strip()}")
    if "session ended (SHUTDOWN): 2 INIT(s)" not in summary[0]:
        raise Failure(f"{device}: expected QEMU's SHUTDOWN after two INITs (machine start and "
                      f"one reset) on the same TPM: {summary[0].strip()}", guest)
    # Whatever OVMF and Linux send must work: any TPM error response fails the run.
    rejected = [line.split("qemu:", 1)[-1].strip() for line in summary if " rc 0x" in line]
    if rejected:
        raise Failure(f"{device}: the core answered errors:\n  " + "\n  ".join(rejected), guest)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host-sim", help="the host-sim binary")
    ap.add_argument("--cache", default=os.environ.get("VTPM_QEMU_CACHE", DEFAULT_CACHE),
                    help="where the kernel is kept (default target/qemu-guest)")
    ap.add_argument("--install", action="store_true",
                    help="apt-get install missing packages and fetch the kernel")
    ap.add_argument("--install-only", action="store_true", help="stop after --install")
    ap.add_argument("--devices", default="crb,tis", help="comma-separated: crb, tis")
    ap.add_argument("--keep", help="keep the work files (consoles, logs, event logs) here")
    args = ap.parse_args()

    missing = missing_prerequisites()
    if missing and args.install:
        install_packages(missing)
        missing = missing_prerequisites()
    if missing:
        print(f"missing Debian packages: {' '.join(missing)} "
              f"(apt-get install {' '.join(missing)}, or run with --install)")
        return EXIT_SKIP
    kernel = kernel_path(args.cache)
    if args.install:
        kernel = fetch_kernel(args.cache)
    if args.install_only:
        return 0
    if not kernel:
        print(f"no kernel in {args.cache} (run with --install: apt-get download "
              "linux-image-amd64's image + dpkg -x)")
        return EXIT_SKIP
    if not args.host_sim or not os.access(args.host_sim, os.X_OK):
        print(f"--host-sim {args.host_sim}: not an executable")
        return 2

    workdir = args.keep or tempfile.mkdtemp(prefix="vtpm-guest-")
    os.makedirs(workdir, exist_ok=True)
    initrd = os.path.join(workdir, "initramfs.cpio")
    digest = build_initramfs(initrd)
    log(f"kernel {os.path.basename(kernel)}, OVMF {OVMF_CODE}, initramfs sha256 {digest[:16]}")
    started = time.monotonic()
    ok = True
    try:
        for device in args.devices.split(","):
            try:
                run_guest(args, device, workdir, kernel, initrd)
            except Failure as e:
                ok = False
                print(f"FAIL {e}")
                if e.guest:
                    g = e.guest
                    print(f"---- console ({g.console}) ----\n{g.tail(g.console)}")
                    print(f"---- host-sim ({g.simlog}) ----\n{g.tail(g.simlog, 80)}")
                    print(f"---- qemu ({g.qemulog}) ----\n{g.tail(g.qemulog)}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    log(f"total {time.monotonic() - started:.1f} s")
    if not ok:
        return 1
    log("PASS: every PCR the event log covers matches in every bank, on both boots, "
        f"for {args.devices}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
