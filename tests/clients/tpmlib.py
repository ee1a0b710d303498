"""Shared helpers for the real-client test scripts in tests/clients/.

Standard library only (run with Debian's /usr/bin/python3). Provides:
  - Failure / check(): every script exits non-zero with a one-line reason.
  - TCTI parsing ("mssim:host=H,port=P", "swtpm:host=H,port=P") and the
    "spawn:swtpm" / "spawn:host-sim[=PATH]" pseudo-TCTIs (see servers.py).
  - tool(): runs one tpm2-tools 5.4 program with TPM2TOOLS_TCTI set.
  - RawTpm: a tiny client that sends raw TPM command bytes, framed for the
    Microsoft simulator protocol (spec/clients.md §1) or as swtpm's raw stream.
  - TPM command builders, response parsing, PCR read-back and a PCR model
    computed with hashlib.
  - Parsers for the YAML-ish output of tpm2_pcrread and tpm2_getcap.
"""

import ctypes.util
import hashlib
import os
import re
import shutil
import socket
import struct
import subprocess
import sys

# Exit status meaning "a prerequisite is missing" (automake's SKIP convention).
EXIT_SKIP = 77

# --- response codes (spec/tpm2-wire.md §2) ---------------------------------
RC_SUCCESS = 0x000
RC_BAD_TAG = 0x01E
RC_INITIALIZE = 0x100
RC_COMMAND_SIZE = 0x142
RC_COMMAND_CODE = 0x143
RC_LOCALITY = 0x907

# --- command codes / tags / handles ----------------------------------------
ST_NO_SESSIONS = 0x8001
ST_SESSIONS = 0x8002
ST_RSP_COMMAND = 0x00C4
CC_STARTUP = 0x144
CC_SHUTDOWN = 0x145
CC_PCR_RESET = 0x13D
CC_PCR_EXTEND = 0x182
CC_PCR_READ = 0x17E
CC_GET_RANDOM = 0x17B
CC_GET_CAPABILITY = 0x17A
RS_PW = 0x40000009

ALG_IDS = {"sha1": 0x0004, "sha256": 0x000B, "sha384": 0x000C, "sha512": 0x000D}
ALG_NAMES = {v: k for k, v in ALG_IDS.items()}
DIGEST_SIZES = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}

PCR_COUNT = 24


class Failure(Exception):
    """A check failed; the message says what and why."""


class Skip(Exception):
    """A prerequisite (tool, package) is missing."""


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def log(msg):
    print(msg, flush=True)


def run_main(main):
    """Run main() and map outcomes to exit codes: 0 ok, 1 check failed, 77 skipped, 2 crash."""
    try:
        main()
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    except Skip as e:
        print(f"SKIP: {e}", file=sys.stderr, flush=True)
        sys.exit(EXIT_SKIP)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)


# --- prerequisites ----------------------------------------------------------
def require_programs(*names):
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        raise Skip("missing programs: " + ", ".join(missing)
                   + " (apt-get install tpm2-tools swtpm swtpm-tools)")


def require_tcti_library(kind):
    """tctildr dlopen()s libtss2-tcti-<kind>.so.0; fail early with a clear message."""
    if ctypes.util.find_library(f"tss2-tcti-{kind}") is None:
        # find_library may miss it when ldconfig's cache is stale; try dlopen itself.
        try:
            ctypes.CDLL(f"libtss2-tcti-{kind}.so.0")
        except OSError:
            raise Skip(f"missing libtss2-tcti-{kind}0 (apt-get install libtss2-tcti-{kind}0)")


# --- TCTI strings -------------------------------------------------------------
class Tcti:
    """A parsed TCTI configuration string (mssim or swtpm over TCP)."""

    def __init__(self, text):
        self.text = text
        kind, _, conf = text.partition(":")
        if kind not in ("mssim", "swtpm"):
            raise Failure(f"unsupported TCTI {text!r}: use mssim:host=H,port=P or swtpm:host=H,port=P")
        self.kind = kind
        self.host = "127.0.0.1"
        self.port = 2321
        for item in filter(None, conf.split(",")):
            key, _, value = item.partition("=")
            if key == "host":
                self.host = value
            elif key == "port":
                self.port = int(value, 0)
            else:
                raise Failure(f"unsupported TCTI option {item!r} in {text!r}")

    def __str__(self):
        return self.text


# --- running tpm2-tools -------------------------------------------------------
class ToolResult:
    def __init__(self, argv, proc):
        self.argv = argv
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr.decode(errors="replace")

    @property
    def text(self):
        return self.stdout.decode(errors="replace")

    def tpm_rc(self):
        """The TPM response code the tool reported on stderr, e.g. 'Esys_PCR_Reset(0x907)'."""
        m = re.search(r"\b(?:Esys|Tss2_Sys)_\w+\((0x[0-9A-Fa-f]+)\)", self.stderr)
        return int(m.group(1), 16) if m else None


def tool(tcti, *argv, ok=True, stdin=None, timeout=60):
    """Run one tpm2-tools program against `tcti`.

    ok=True: the tool must exit 0 (else Failure with its stderr).
    ok=False: the tool must exit non-zero.
    ok=None: no check.
    """
    argv = [str(a) for a in argv]
    env = dict(os.environ)
    env["TPM2TOOLS_TCTI"] = str(tcti)
    # Keep ESYS quiet unless something fails; its warnings land in stderr anyway.
    env.setdefault("TSS2_LOG", "all+ERROR")
    try:
        proc = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure(f"`{' '.join(argv)}` timed out after {timeout}s (server hung?)")
    except FileNotFoundError:
        raise Skip(f"{argv[0]} not installed")
    res = ToolResult(argv, proc)
    if ok is True and res.returncode != 0:
        raise Failure(f"`{' '.join(argv)}` exited {res.returncode}:\n{res.stderr.strip()}")
    if ok is False and res.returncode == 0:
        raise Failure(f"`{' '.join(argv)}` succeeded but must fail; stdout:\n{res.text.strip()}")
    return res


# --- raw TPM transport ----------------------------------------------------------
MSSIM_SEND_COMMAND = 8
MSSIM_POWER_ON = 1
MSSIM_NV_ON = 11


class Outcome:
    """What a server did with one raw command: answered, closed, or stayed silent."""

    def __init__(self, kind, data=b""):
        self.kind = kind  # "response" | "closed" | "timeout"
        self.data = data

    @property
    def ok(self):
        return self.kind == "response"

    def header(self):
        """(tag, size, rc) of a response."""
        check(len(self.data) >= 10, f"response shorter than a header: {self.data.hex()}")
        return struct.unpack(">HII", self.data[:10])

    @property
    def rc(self):
        return self.header()[2] if self.ok else None

    def describe(self):
        if self.kind != "response":
            return f"<{self.kind}>" + (f" after {self.data.hex()}" if self.data else "")
        tag, size, rc = self.header()
        s = f"tag {tag:#06x} rc {rc:#05x}"
        if size != 10:
            s += f" size {size}"
        return s


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError(buf)
        buf += chunk
    return buf


class RawTpm:
    """Sends raw TPM commands, one TCP connection per command.

    framing "mssim": u32 8 ‖ u8 locality ‖ u32 len ‖ bytes; reply u32 len ‖ rsp ‖ u32 0.
        Our host-sim speaks it; swtpm's data port accepts it too (it auto-detects
        the framing and honours the locality byte; the locality then sticks for
        later commands, so callers must switch back to 0).
    framing "raw": the bytes as they are; the reply is a 10-byte header and the rest
        (what libtss2-tcti-swtpm does). Only for swtpm.
    """

    def __init__(self, tcti, timeout=10.0):
        self.tcti = tcti if isinstance(tcti, Tcti) else Tcti(tcti)
        self.timeout = timeout
        self.default_framing = "mssim" if self.tcti.kind == "mssim" else "raw"
        if self.tcti.kind == "mssim":
            self.power_on()

    def _connect(self, port):
        try:
            s = socket.create_connection((self.tcti.host, port), timeout=self.timeout)
        except OSError as e:
            raise Failure(f"cannot connect to {self.tcti.host}:{port}: {e}")
        s.settimeout(self.timeout)
        return s

    def power_on(self):
        """Platform port P+1: POWER_ON, NV_ON, as libtss2-tcti-mssim does at init."""
        with self._connect(self.tcti.port + 1) as s:
            for code in (MSSIM_POWER_ON, MSSIM_NV_ON):
                s.sendall(struct.pack(">I", code))
                try:
                    reply = _recv_exact(s, 4)
                except (EOFError, OSError) as e:
                    raise Failure(f"platform port: no reply to code {code}: {e!r}")
                check(reply == b"\0\0\0\0", f"platform port: code {code} answered {reply.hex()}")

    def send(self, data, locality=0, framing=None, timeout=None):
        """Send `data` (a whole, possibly malformed, command); return an Outcome."""
        framing = framing or self.default_framing
        with self._connect(self.tcti.port) as s:
            s.settimeout(timeout or self.timeout)
            try:
                if framing == "mssim":
                    s.sendall(struct.pack(">IBI", MSSIM_SEND_COMMAND, locality, len(data)) + data)
                    got = b""
                    got += _recv_exact(s, 4)
                    (size,) = struct.unpack(">I", got)
                    check(size <= 1 << 20, f"absurd mssim response length {size}")
                    rsp = _recv_exact(s, size)
                    got += rsp
                    trailer = _recv_exact(s, 4)
                    check(trailer == b"\0\0\0\0",
                          f"mssim trailer must be u32 0, got {trailer.hex()}")
                    if size == 0:
                        # An unpowered mssim TPM answers u32 0 ‖ u32 0 (clients.md §1).
                        return Outcome("closed", got)
                    return Outcome("response", rsp)
                if framing == "raw":
                    check(locality == 0, "raw framing cannot carry a locality")
                    s.sendall(data)
                    hdr = _recv_exact(s, 10)
                    (_, size, _) = struct.unpack(">HII", hdr)
                    check(10 <= size <= 1 << 20, f"bad response size {size} in {hdr.hex()}")
                    return Outcome("response", hdr + _recv_exact(s, size - 10))
                raise Failure(f"unknown framing {framing}")
            except EOFError as e:
                return Outcome("closed", e.args[0] if e.args else b"")
            except socket.timeout:
                return Outcome("timeout")
            except ConnectionResetError:
                return Outcome("closed")

    def execute(self, data, locality=0, what=None, expect_rc=RC_SUCCESS):
        """Send a well-formed command; require a response (with rc == expect_rc unless None)."""
        out = self.send(data, locality=locality)
        what = what or f"command {data[6:10].hex()}"
        check(out.ok, f"{what}: no response ({out.describe()})")
        tag, size, rc = out.header()
        check(size == len(out.data), f"{what}: responseSize {size} but {len(out.data)} bytes")
        if expect_rc is not None:
            check(rc == expect_rc, f"{what}: rc {rc:#x}, expected {expect_rc:#x}")
        return out

    # Convenience wrappers -------------------------------------------------------
    def startup_clear(self, expect_rc=RC_SUCCESS):
        return self.execute(cmd_startup(0), what="Startup(CLEAR)", expect_rc=expect_rc).rc

    def get_random(self, n=8):
        out = self.execute(cmd_get_random(n), what=f"GetRandom({n})")
        data = out.data
        check(len(data) >= 12, f"GetRandom: short response {data.hex()}")
        (count,) = struct.unpack(">H", data[10:12])
        check(count == n and len(data) == 12 + n,
              f"GetRandom({n}): got {count} bytes in a {len(data)}-byte response")
        return data[12:]

    def pcr_read(self, banks, pcrs=range(PCR_COUNT)):
        """Read PCRs with PCR_Read (≤ 8 digests per call); returns {bank: {idx: bytes}}."""
        result = {}
        for bank in banks:
            wanted = set(pcrs)
            got = {}
            while wanted:
                out = self.execute(cmd_pcr_read({bank: wanted}), what=f"PCR_Read({bank})")
                sel, digests = parse_pcr_read_response(out.data)
                returned = [(b, i) for b, idxs in sel for i in idxs]
                check(len(returned) == len(digests),
                      f"PCR_Read: {len(returned)} selected but {len(digests)} digests")
                check(returned, f"PCR_Read({bank}): no PCRs returned for {sorted(wanted)}")
                for (b, i), d in zip(returned, digests):
                    check(b == bank and i in wanted, f"PCR_Read returned unrequested {b}:{i}")
                    check(len(d) == DIGEST_SIZES[bank], f"PCR_Read {bank}:{i} digest size {len(d)}")
                    got[i] = d
                    wanted.discard(i)
            result[bank] = got
        return result


# --- command builders ------------------------------------------------------------
def build(tag, cc, handles=(), sessions=None, params=b""):
    """Assemble a command; sessions is a list of encoded TPMS_AUTH_COMMAND or None."""
    body = b"".join(struct.pack(">I", h) for h in handles)
    if sessions is not None:
        area = b"".join(sessions)
        body += struct.pack(">I", len(area)) + area
    body += params
    return struct.pack(">HII", tag, 10 + len(body), cc) + body


def auth(handle=RS_PW, nonce=b"", attrs=0, hmac=b""):
    """TPMS_AUTH_COMMAND."""
    return (struct.pack(">IH", handle, len(nonce)) + nonce + bytes([attrs])
            + struct.pack(">H", len(hmac)) + hmac)


PW = auth()


def cmd_startup(su=0):
    return build(ST_NO_SESSIONS, CC_STARTUP, params=struct.pack(">H", su))


def cmd_get_random(n):
    return build(ST_NO_SESSIONS, CC_GET_RANDOM, params=struct.pack(">H", n))


def tpml_digest_values(digests):
    """digests: list of (bank name, bytes)."""
    return struct.pack(">I", len(digests)) + b"".join(
        struct.pack(">H", ALG_IDS[b]) + d for b, d in digests)


def cmd_pcr_extend(pcr, digests, sessions=None):
    return build(ST_SESSIONS, CC_PCR_EXTEND, [pcr], [PW] if sessions is None else sessions,
                 tpml_digest_values(digests))


def cmd_pcr_reset(pcr, sessions=None):
    return build(ST_SESSIONS, CC_PCR_RESET, [pcr], [PW] if sessions is None else sessions)


def pcr_selection(sel):
    """TPML_PCR_SELECTION from {bank: iterable of PCR indices}, sizeofSelect 3."""
    out = struct.pack(">I", len(sel))
    for bank, idxs in sel.items():
        bitmap = bytearray(3)
        for i in idxs:
            bitmap[i // 8] |= 1 << (i % 8)
        out += struct.pack(">HB", ALG_IDS[bank], 3) + bytes(bitmap)
    return out


def cmd_pcr_read(sel):
    return build(ST_NO_SESSIONS, CC_PCR_READ, params=pcr_selection(sel))


def parse_pcr_read_response(data):
    """Returns ([(bank, [idx…])…], [digest…]) from a PCR_Read response."""
    try:
        off = 10 + 4  # header, pcrUpdateCounter
        (count,) = struct.unpack_from(">I", data, off)
        off += 4
        sel = []
        for _ in range(count):
            alg, n = struct.unpack_from(">HB", data, off)
            off += 3
            bitmap = data[off:off + n]
            off += n
            idxs = [i for i in range(8 * n) if bitmap[i // 8] >> (i % 8) & 1]
            check(alg in ALG_NAMES, f"PCR_Read: unknown bank alg {alg:#06x}")
            sel.append((ALG_NAMES[alg], idxs))
        (count,) = struct.unpack_from(">I", data, off)
        off += 4
        digests = []
        for _ in range(count):
            (n,) = struct.unpack_from(">H", data, off)
            off += 2
            digests.append(bytes(data[off:off + n]))
            check(len(digests[-1]) == n, "PCR_Read: truncated digest")
            off += n
    except struct.error as e:
        raise Failure(f"PCR_Read: malformed response {data.hex()}: {e}")
    check(off == len(data), f"PCR_Read: {len(data) - off} trailing bytes")
    return sel, digests


# --- PCR model ---------------------------------------------------------------------
def hash_of(bank, data):
    if bank not in DIGEST_SIZES:
        raise Failure(f"bank {bank} cannot be checked with hashlib")
    return hashlib.new(bank, data).digest()


def initial_pcr(bank, idx):
    """PC Client values after Startup(CLEAR): 17–22 all-FF (no DRTM yet), others zero."""
    fill = 0xFF if 17 <= idx <= 22 else 0x00
    return bytes([fill]) * DIGEST_SIZES[bank]


class PcrModel:
    """Expected PCR values, maintained with hashlib alongside the TPM."""

    def __init__(self, banks):
        self.banks = list(banks)
        self.values = {b: [initial_pcr(b, i) for i in range(PCR_COUNT)] for b in self.banks}

    def extend(self, bank, idx, digest):
        check(len(digest) == DIGEST_SIZES[bank], f"model: {bank} digest of {len(digest)} bytes")
        if bank in self.values:  # extends of unallocated banks are ignored by the TPM
            self.values[bank][idx] = hash_of(bank, self.values[bank][idx] + digest)

    def event(self, idx, data):
        """PCR_Event / EventSequenceComplete: every allocated bank gets H_bank(data)."""
        for bank in self.banks:
            self.extend(bank, idx, hash_of(bank, data))

    def reset(self, idx):
        for bank in self.banks:
            self.values[bank][idx] = bytes(DIGEST_SIZES[bank])

    def compare(self, actual, what):
        """actual: {bank: {idx: bytes}}; every modelled PCR must match."""
        for bank in self.banks:
            check(bank in actual, f"{what}: bank {bank} missing from read-back")
            for idx in range(PCR_COUNT):
                got = actual[bank].get(idx)
                want = self.values[bank][idx]
                check(got is not None, f"{what}: {bank}:{idx} missing from read-back")
                check(got == want, f"{what}: {bank}:{idx} is {got.hex()}, expected {want.hex()}")


# --- parsing tool output ----------------------------------------------------------
def parse_pcrread(text):
    """tpm2_pcrread output → {bank: {idx: bytes}} (an empty dict for a listed, unallocated bank)."""
    banks = {}
    current = None
    for line in text.splitlines():
        if not line.strip():
            continue
        m = re.match(r"^\s*([A-Za-z0-9_]+)\s*:\s*$", line)
        if m:
            current = m.group(1)
            check(current not in banks, f"tpm2_pcrread: bank {current} listed twice")
            banks[current] = {}
            continue
        m = re.match(r"^\s*(\d+)\s*:\s*(?:0x)?([0-9A-Fa-f]+)\s*$", line)
        check(m is not None and current is not None, f"tpm2_pcrread: cannot parse line {line!r}")
        idx = int(m.group(1))
        check(idx not in banks[current], f"tpm2_pcrread: {current}:{idx} listed twice")
        banks[current][idx] = bytes.fromhex(m.group(2))
    return banks


def parse_toplevel(text):
    """Split YAML-ish tool output into {top-level key: (inline value, [indented lines])}.

    Keeps order; top-level lines are the unindented `key:` / `key: value` lines.
    """
    entries = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            k, sep, v = line.partition(":")
            check(sep, f"unexpected top-level line {line!r}")
            key = k.strip()
            check(key not in entries, f"key {key} listed twice")
            entries[key] = (v.strip(), [])
        else:
            check(key is not None, f"indented line before any key: {line!r}")
            entries[key][1].append(line.strip())
    return entries


def subfields(lines):
    """['raw: 0x1', 'value: "2.0"'] → {'raw': '0x1', 'value': '"2.0"'}."""
    out = {}
    for line in lines:
        k, sep, v = line.partition(":")
        if sep:
            out[k.strip()] = v.strip()
    return out


