#!/usr/bin/python3
"""Differential test of sessions and policy: our TPM against swtpm 0.7.1 (libtpms 0.9.2).

    /usr/bin/python3 tests/clients/sessions_differential.py --tcti mssim:host=127.0.0.1,port=N
        [--ref-tcti swtpm:host=127.0.0.1,port=M]      # default: spawn:swtpm (a fresh one)

The same raw commands go to both TPMs (session handles are read from each TPM's own
answers); every response code must be equal: StartAuthSession's parameter checks, a wrong
HMAC, an unloaded session, decrypt / encrypt attributes where they are not allowed, a saved
session context loaded twice, FlushContext of a handle that is not a context, PolicyOR with a
digest not in its list or with a single digest, PolicyGetDigest's answer after PolicySecret
(recomputed here with hashlib) and PolicyRestart.

Exit status: 0 identical, 1 a difference or failure, 77 a prerequisite is missing.
"""

import argparse
import hashlib
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpmlib as T  # noqa: E402
from servers import open_target  # noqa: E402
from tpmlib import PW, auth, build  # noqa: E402

RH_NULL, RH_OWNER, RH_ENDORSEMENT = 0x40000007, 0x40000001, 0x4000000B
SHA256 = 0x000B
CC_SAS, CC_FLUSH, CC_SAVE, CC_LOAD = 0x176, 0x165, 0x162, 0x161
CC_POLICY_SECRET, CC_POLICY_OR, CC_POLICY_GET_DIGEST, CC_POLICY_RESTART = 0x151, 0x171, 0x189, 0x180
SYM_NULL = struct.pack(">H", 0x0010)
AES128CFB = struct.pack(">HHH", 0x0006, 128, 0x0043)


def b2(data):
    return struct.pack(">H", len(data)) + data


def sas(nonce=b"\x11" * 32, salt=b"", se=0, sym=SYM_NULL, hash_alg=SHA256):
    params = b2(nonce) + b2(salt) + bytes([se]) + sym + struct.pack(">H", hash_alg)
    return build(T.ST_NO_SESSIONS, CC_SAS, [RH_NULL, RH_NULL], None, params)


class Target:
    def __init__(self, label, tcti):
        self.label = label
        self.raw = T.RawTpm(tcti)

    def run(self, cmd):
        for _ in range(3):  # TPM_RC_RETRY is resubmitted, as ESYS does
            out = self.raw.send(cmd, framing="mssim")
            T.check(out.ok, f"[{self.label}] no response: {out.describe()}")
            if out.rc != 0x922:
                break
        return out

    def start(self, **kw):
        out = self.run(sas(**kw))
        T.check(out.rc == 0, f"[{self.label}] StartAuthSession: {out.rc:#x}")
        handle = struct.unpack(">I", out.data[10:14])[0]
        (n,) = struct.unpack(">H", out.data[14:16])
        return handle, out.data[16:16 + n]

    def flush(self, h):
        self.run(build(T.ST_NO_SESSIONS, CC_FLUSH, params=struct.pack(">I", h)))


def cases(t):
    """(name, rc, extra) for every case on target t."""
    rows = []

    def case(name, cmd, extra=b""):
        out = t.run(cmd)
        rows.append((name, out.rc, extra(out) if callable(extra) else extra))

    case("StartAuthSession: nonceCaller of 15 bytes", sas(nonce=b"\x01" * 15))
    case("StartAuthSession: nonceCaller longer than the digest", sas(nonce=b"\x01" * 33))
    case("StartAuthSession: a salt without tpmKey", sas(salt=b"\x01" * 8))
    case("StartAuthSession: session type 2", sas(se=2))
    case("StartAuthSession: AES with 192-bit keys", sas(sym=struct.pack(">HHH", 6, 192, 0x43)))
    case("StartAuthSession: AES in CTR mode", sas(sym=struct.pack(">HHH", 6, 128, 0x40)))
    case("StartAuthSession: symmetric algorithm SHA256", sas(sym=struct.pack(">HH", SHA256, 0)))

    # An unbound, unsalted HMAC session with AES: PCR_Extend with a wrong HMAC, then decrypt
    # on a command whose first parameter is not a TPM2B, then encrypt on one whose response's
    # first parameter is not a TPM2B.
    h, nonce_tpm = t.start(sym=AES128CFB)
    digest = struct.pack(">IH", 1, SHA256) + hashlib.sha256(b"x").digest()
    case("PCR_Extend with a wrong HMAC",
         build(T.ST_SESSIONS, 0x182, [16], [auth(h, b"\x02" * 32, 1, b"\x00" * 32)], digest))
    case("GetRandom with decrypt (first parameter is not a TPM2B)",
         build(T.ST_SESSIONS, 0x17B, [], [auth(h, b"\x03" * 32, 0x21, b"")],
               struct.pack(">H", 8)))
    case("PCR_Read with encrypt (first response parameter is not a TPM2B)",
         build(T.ST_SESSIONS, 0x17E, [], [auth(h, b"\x04" * 32, 0x41, b"")],
               struct.pack(">I", 0)))
    plain, _ = t.start()
    case("GetRandom with encrypt on a session without a symmetric algorithm",
         build(T.ST_SESSIONS, 0x17B, [], [auth(plain, b"\x05" * 32, 0x41, b"")],
               struct.pack(">H", 8)))
    t.flush(plain)
    case("PCR_Extend with a flushed session",
         build(T.ST_SESSIONS, 0x182, [16], [auth(plain, b"\x06" * 32, 1, b"\x00" * 32)],
               digest))

    # A saved session context loads once.
    save = t.run(build(T.ST_NO_SESSIONS, CC_SAVE, [h]))
    T.check(save.rc == 0, f"[{t.label}] ContextSave of a session: {save.rc:#x}")
    ctx = save.data[10:]
    case("ContextLoad of a saved session", build(T.ST_NO_SESSIONS, CC_LOAD, params=ctx))
    case("ContextLoad of the same session context again",
         build(T.ST_NO_SESSIONS, CC_LOAD, params=ctx))
    t.flush(h)
    case("FlushContext of a permanent handle",
         build(T.ST_NO_SESSIONS, CC_FLUSH, params=struct.pack(">I", RH_OWNER)))
    case("FlushContext of a PCR handle",
         build(T.ST_NO_SESSIONS, CC_FLUSH, params=struct.pack(">I", 0)))

    # Policy: PolicySecret(endorsement) then the digest; PolicyOR rules; PolicyRestart.
    p, _ = t.start(se=1)
    secret = b2(b"") + b2(b"") + b2(b"") + struct.pack(">i", 0)
    case("PolicySecret(endorsement)",
         build(T.ST_SESSIONS, CC_POLICY_SECRET, [RH_ENDORSEMENT, p], [PW], secret))
    get = build(T.ST_NO_SESSIONS, CC_POLICY_GET_DIGEST, [p])
    case("PolicyGetDigest after PolicySecret", get, lambda out: out.data[12:])
    one = struct.pack(">I", 1) + b2(b"\x00" * 32)
    case("PolicyOR with a single digest", build(T.ST_NO_SESSIONS, CC_POLICY_OR, [p], None, one))
    two = struct.pack(">I", 2) + b2(b"\x01" * 32) + b2(b"\x02" * 32)
    case("PolicyOR whose list lacks the current digest",
         build(T.ST_NO_SESSIONS, CC_POLICY_OR, [p], None, two))
    case("PolicyRestart", build(T.ST_NO_SESSIONS, CC_POLICY_RESTART, [p]))
    case("PolicyGetDigest after PolicyRestart", get, lambda out: out.data[12:])
    hmac_s, _ = t.start()
    case("PolicyGetDigest of an HMAC session",
         build(T.ST_NO_SESSIONS, CC_POLICY_GET_DIGEST, [hmac_s]))
    for s in (p, hmac_s):
        t.flush(s)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tcti", required=True, help="TPM under test (mssim:/spawn:host-sim)")
    ap.add_argument("--ref-tcti", default="spawn:swtpm", help="reference (default spawn:swtpm)")
    args = ap.parse_args()
    T.require_programs("swtpm", "swtpm_setup")
    with open_target(args.tcti) as tcti, open_target(args.ref_tcti) as ref_tcti:
        ours, ref = Target("ours", tcti), Target("swtpm", ref_tcti)
        for t in (ours, ref):
            rc = t.run(T.cmd_startup(0)).rc
            T.check(rc in (0, T.RC_INITIALIZE), f"[{t.label}] Startup: {rc:#x}")
        rows = {t.label: cases(t) for t in (ours, ref)}
        failures = []
        print(f"{'case':68} {'swtpm':>7} {'ours':>7}")
        for (name, mine, x_mine), (_, theirs, x_theirs) in zip(rows["ours"], rows["swtpm"]):
            same = mine == theirs and x_mine == x_theirs
            print(f"{name:68} {theirs:#7x} {mine:#7x}{'' if same else '  DIFFERS'}")
            if not same:
                failures.append(name)
        T.check(not failures, f"differs from swtpm: {failures}")
        # The policy digest after PolicySecret(endorsement) is PolicyA (TCG EK profile).
        policy_a = hashlib.sha256(hashlib.sha256(
            b"\x00" * 32 + struct.pack(">II", CC_POLICY_SECRET, RH_ENDORSEMENT)).digest()
        ).digest()
        got = dict((n, x) for n, _, x in rows["ours"])["PolicyGetDigest after PolicySecret"]
        T.check(got == policy_a, f"PolicyGetDigest {got.hex()}, expected PolicyA {policy_a.hex()}")
        T.log("ok: every session and policy case answers swtpm's response code; PolicySecret "
              "gives PolicyA")


if __name__ == "__main__":
    T.run_main(main)
