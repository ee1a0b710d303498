#!/usr/bin/python3
"""NV indices through tpm2-tools 5.4, checked with hashlib, plus raw error cases.

    /usr/bin/python3 tests/clients/nv.py --tcti mssim:host=127.0.0.1,port=N | spawn:host-sim

Ordinary (define / write with the index's own auth / read as owner / readpublic with the
Name recomputed here / undefine), counter (increment twice → 2) and extend indices
(H(0…0 ‖ data) by hashlib), getcap handles-nv-index; then raw commands whose response codes
were taken from swtpm 0.7.1 (the script passes against both): an index defined twice, a read
before the first write, writes and reads out of range, a wrong password, reads that the index's
attributes do not allow (through the index: AUTH_UNAVAILABLE; as owner: NV_AUTHORIZATION), Increment on an ordinary index, and an index handle that
is not an NV handle. Then, as the reference implementation does: a counter undefined at 2 and
defined again counts on from 3 (maxCounter: counters never roll back); ownerAuth cannot
undefine a platform-created index (NV_AUTHORIZATION) but platformAuth may undefine an
owner's index.

Exit status: 0 passed, 1 a check failed, 77 a prerequisite is missing.
"""

import argparse
import hashlib
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpmlib as T  # noqa: E402
from servers import open_target  # noqa: E402
from tpmlib import PW, auth, build  # noqa: E402

RH_OWNER, RH_PLATFORM = 0x40000001, 0x4000000C
ORDINARY, COUNTER, EXTEND = 0x1500016, 0x1500020, 0x1500030
ATTRS = 0x00060006  # ownerwrite | authwrite | ownerread | authread
WRITTEN = 0x20000000


def b2(data):
    return struct.pack(">H", len(data)) + data


def nv_public(handle, attrs, size, name_alg=0x000B, policy=b""):
    return struct.pack(">IHI", handle, name_alg, attrs) + b2(policy) + struct.pack(">H", size)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tcti", required=True)
    args = ap.parse_args()
    T.require_programs("tpm2_nvdefine", "tpm2_nvread", "tpm2_nvwrite")
    with open_target(args.tcti) as tcti, tempfile.TemporaryDirectory(prefix="vtpm-nv-") as d:
        T.require_tcti_library(T.Tcti(tcti).kind)
        raw = T.RawTpm(tcti)
        rc = raw.send(T.cmd_startup(0)).rc
        T.check(rc in (0, T.RC_INITIALIZE), f"Startup: {rc:#x}")

        def tool(*argv, **kw):
            return T.tool(tcti, *argv, **kw)

        data = bytes(range(48, 80))
        path = os.path.join(d, "data")
        with open(path, "wb") as f:
            f.write(data)
        tool("tpm2_nvdefine", hex(ORDINARY), "-C", "o", "-s", "32", "-a",
             "ownerread|ownerwrite|authread|authwrite", "-p", "nvpw")
        tool("tpm2_nvwrite", hex(ORDINARY), "-C", hex(ORDINARY), "-P", "nvpw", "-i", path)
        out = os.path.join(d, "out")
        tool("tpm2_nvread", hex(ORDINARY), "-C", "o", "-s", "32", "-o", out)
        with open(out, "rb") as f:
            T.check(f.read() == data, "tpm2_nvread returned other bytes than written")
        tool("tpm2_nvread", hex(ORDINARY), "-C", hex(ORDINARY), "-P", "nvpw", "-s", "8",
             "--offset", "4", "-o", out)
        with open(out, "rb") as f:
            T.check(f.read() == data[4:12], "a partial read returned the wrong bytes")
        # NV_ReadPublic: the Name is nameAlg ‖ H(TPMS_NV_PUBLIC), WRITTEN now set.
        rsp = raw.execute(build(T.ST_NO_SESSIONS, 0x169, [ORDINARY]), what="NV_ReadPublic").data
        (n,) = struct.unpack(">H", rsp[10:12])
        public = rsp[12:12 + n]
        T.check(public == nv_public(ORDINARY, ATTRS | WRITTEN, 32),
                f"TPMS_NV_PUBLIC {public.hex()}")
        name = rsp[14 + n:]
        T.check(name == b"\x00\x0b" + hashlib.sha256(public).digest(), "NV Name mismatch")
        T.log("ok: tpm2_nvdefine / nvwrite (index auth) / nvread (owner, offset) / "
              "NV_ReadPublic with the Name recomputed")

        tool("tpm2_nvdefine", hex(COUNTER), "-C", "o", "-s", "8", "-a",
             "ownerread|ownerwrite|nt=counter")
        tool("tpm2_nvincrement", hex(COUNTER), "-C", "o")
        tool("tpm2_nvincrement", hex(COUNTER), "-C", "o")
        tool("tpm2_nvread", hex(COUNTER), "-C", "o", "-s", "8", "-o", out)
        with open(out, "rb") as f:
            T.check(f.read() == struct.pack(">Q", 2), "counter is not 2 after two increments")
        tool("tpm2_nvdefine", hex(EXTEND), "-C", "o", "-g", "sha256", "-a",
             "ownerread|ownerwrite|nt=extend")
        with open(path, "wb") as f:
            f.write(b"measured")
        tool("tpm2_nvextend", hex(EXTEND), "-C", "o", "-i", path)
        tool("tpm2_nvread", hex(EXTEND), "-C", "o", "-o", out)
        with open(out, "rb") as f:
            T.check(f.read() == hashlib.sha256(bytes(32) + b"measured").digest(),
                    "extend index is not H(0…0 ‖ data)")
        listed = tool("tpm2_getcap", "handles-nv-index").text
        for h in (ORDINARY, COUNTER, EXTEND):
            T.check(f"{h:#x}" in listed, f"getcap handles-nv-index misses {h:#x}")
        T.log("ok: counter index (2 after two increments), extend index (hashlib), "
              "getcap handles-nv-index")

        def rc_of(cmd):
            for _ in range(3):  # libtpms answers RETRY to a first DA-protected password use
                out = raw.send(cmd)
                T.check(out.ok, f"no response: {out.describe()}")
                if out.rc != 0x922:
                    return out.rc
            return out.rc

        fresh, fresh2 = 0x1500040, 0x1500041
        raw.execute(build(T.ST_SESSIONS, 0x12A, [RH_OWNER], [PW],
                          b2(b"") + b2(nv_public(fresh2, 0x00040004, 4))), what="define")
        define = build(T.ST_SESSIONS, 0x12A, [RH_OWNER], [PW],
                       b2(b"") + b2(nv_public(fresh, ATTRS, 16)))
        cases = [
            ("NV_DefineSpace", define, 0),
            ("NV_DefineSpace of a defined index", define, 0x14C),
            ("NV_Read before the first write",
             build(T.ST_SESSIONS, 0x14E, [RH_OWNER, fresh], [PW], struct.pack(">HH", 4, 0)),
             0x14A),
            ("NV_Write past the end",
             build(T.ST_SESSIONS, 0x137, [RH_OWNER, fresh], [PW], b2(b"x" * 8) + b"\x00\x0c"),
             0x146),
            ("NV_Write with the index's auth, wrong password",
             build(T.ST_SESSIONS, 0x137, [fresh, fresh], [auth(hmac=b"no")], b2(b"x") + b"\0\0"),
             0x98E),
            ("NV_Increment of an ordinary index",
             build(T.ST_SESSIONS, 0x134, [RH_OWNER, fresh], [PW]), 0x282),
            ("NV_Read of a counter through the index (no AUTHREAD)",
             build(T.ST_SESSIONS, 0x14E, [COUNTER, COUNTER], [PW], struct.pack(">HH", 8, 0)),
             0x12F),
            ("NV_Read as owner of an index without OWNERREAD",
             build(T.ST_SESSIONS, 0x14E, [RH_OWNER, fresh2], [PW], struct.pack(">HH", 4, 0)),
             0x149),
            ("NV_DefineSpace with a non-NV handle",
             build(T.ST_SESSIONS, 0x12A, [RH_OWNER], [PW],
                   b2(b"") + b2(nv_public(0x81000001, ATTRS, 16))), 0x2C4),
            ("NV_ReadPublic of an undefined index",
             build(T.ST_NO_SESSIONS, 0x169, [0x1500099]), 0x18B),
        ]
        for what, cmd, want in cases:
            got = rc_of(cmd)
            T.check(got == want, f"{what}: rc {got:#x}, expected {want:#x}")
            T.log(f"ok: {what:56} {got:#x}")

        # Undefine the counter (now 2) and define it again: the first increment gives 3.
        counter_public = nv_public(COUNTER, 0x00020012, 8)
        raw.execute(build(T.ST_SESSIONS, 0x122, [RH_OWNER, COUNTER], [PW]), what="undefine")
        raw.execute(build(T.ST_SESSIONS, 0x12A, [RH_OWNER], [PW], b2(b"") + b2(counter_public)),
                    what="define the counter again")
        raw.execute(build(T.ST_SESSIONS, 0x134, [RH_OWNER, COUNTER], [PW]), what="increment")
        rsp = raw.execute(build(T.ST_SESSIONS, 0x14E, [RH_OWNER, COUNTER], [PW],
                                struct.pack(">HH", 8, 0)), what="read the counter").data
        T.check(rsp[16:24] == struct.pack(">Q", 3),
                f"a counter defined again restarted at {rsp[16:24].hex()}, not 3")
        T.log("ok: a counter undefined at 2 and defined again counts on from 3")
        platform_index = 0x1400050
        raw.execute(build(T.ST_SESSIONS, 0x12A, [RH_PLATFORM], [PW],
                          b2(b"") + b2(nv_public(platform_index, 0x40030003, 8))),
                    what="define a platform index")
        for what, cmd, want in (
                ("NV_UndefineSpace of a platform index by the owner",
                 build(T.ST_SESSIONS, 0x122, [RH_OWNER, platform_index], [PW]), 0x149),
                ("NV_UndefineSpace of an owner index by the platform",
                 build(T.ST_SESSIONS, 0x122, [RH_PLATFORM, fresh2], [PW]), 0),
                ("NV_UndefineSpace of a platform index by the platform",
                 build(T.ST_SESSIONS, 0x122, [RH_PLATFORM, platform_index], [PW]), 0)):
            got = rc_of(cmd)
            T.check(got == want, f"{what}: rc {got:#x}, expected {want:#x}")
            T.log(f"ok: {what:56} {got:#x}")
        for h in (ORDINARY, COUNTER, EXTEND, fresh):
            tool("tpm2_nvundefine", hex(h), "-C", "o")
        T.check(not tool("tpm2_getcap", "handles-nv-index").text.strip(),
                "indices left after tpm2_nvundefine")
        T.log("nv: all checks passed")


if __name__ == "__main__":
    T.run_main(main)
