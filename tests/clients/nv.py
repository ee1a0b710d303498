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

Then the rest of Part 3 §31 through tpm2-tools: tpm2_nvwritelock / tpm2_nvreadlock on
WRITE_STCLEAR / READ_STCLEAR indices and tpm2_nvwritelock --global, across TPM Resume (locks
kept) and TPM Restart (locks gone, CLEAR_STCLEAR unwritten) by power cycles (the mssim platform
port or swtpm's CMD_INIT); tpm2_nvsetbits; PIN pass and PIN fail indices (nt=pinpass /
nt=pinfail) with pinCount after each use; tpm2_changeauth of an index whose policy is
PolicyCommandCode(NV_ChangeAuth); tpm2_nvundefine --with-policydelete; tpm2_nvcertify with the
TPMS_NV_CERTIFY_INFO parsed and the ECDSA signature verified with python3-cryptography; then 25
raw error cases (locks, bits, the definition rules of the new types and attributes, ADMIN role,
NV_UndefineSpaceSpecial without POLICY_DELETE, NV_Certify range / access / size) with swtpm's
codes, NV_Certify's digest form and an ORDERLY index after TPM Restart and Reset.

Exit status: 0 passed, 1 a check failed, 77 a prerequisite is missing.
"""

import argparse
import hashlib
import os
import socket
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
    try:
        import cryptography  # noqa: F401
    except ImportError:
        raise T.Skip("python3-cryptography is missing (apt-get install python3-cryptography)")
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
        locks_bits_pins(raw, tool, rc_of, d)
        T.check(not tool("tpm2_getcap", "handles-nv-index").text.strip(),
                "indices left after the lock / bits / PIN / policy checks")
        T.log("nv: all checks passed")


def power_cycle(raw):
    """_TPM_Init: the mssim platform port (POWER_OFF, POWER_ON, NV_ON) or swtpm's CMD_INIT."""
    t = raw.tcti
    with socket.create_connection((t.host, t.port + 1), 10) as s:
        if t.kind == "mssim":
            for code in (2, 1, 11):
                s.sendall(struct.pack(">I", code))
                T.check(T._recv_exact(s, 4) == bytes(4), f"platform code {code} refused")
        else:
            s.sendall(struct.pack(">II", 2, 0))
            (res,) = struct.unpack(">I", T._recv_exact(s, 4))
            T.check(res == 0, f"swtpm CMD_INIT answered {res:#x}")


def reboot(raw, shutdown, startup):
    """Shutdown(shutdown), _TPM_Init, Startup(startup): 0/0 TPM Reset, 1/0 TPM Restart."""
    raw.execute(build(T.ST_NO_SESSIONS, 0x145, params=struct.pack(">H", shutdown)),
                what="Shutdown")
    power_cycle(raw)
    raw.execute(T.cmd_startup(startup), what="Startup")


def policy_session(raw, cc):
    """An unsalted, unbound SHA-256 policy session after PolicyCommandCode(cc); returns its
    use as TPMS_AUTH_COMMAND (empty HMAC: the session key is empty)."""
    rsp = raw.execute(build(T.ST_NO_SESSIONS, 0x176, [0x40000007, 0x40000007],
                            params=b2(bytes(range(16))) + b2(b"") + bytes([1])
                            + struct.pack(">HH", 0x0010, 0x000B)),
                      what="StartAuthSession").data
    (handle,) = struct.unpack(">I", rsp[10:14])
    raw.execute(build(T.ST_NO_SESSIONS, 0x16C, [handle], params=struct.pack(">I", cc)),
                what="PolicyCommandCode")
    return handle, auth(handle, nonce=bytes(16), attrs=0)


def policy_cc_digest(cc):
    return hashlib.sha256(bytes(32) + struct.pack(">II", 0x16C, cc)).digest()


def locks_bits_pins(raw, tool, rc_of, d):
    """STCLEAR locks, GlobalWriteLock, CLEAR_STCLEAR, NV_SetBits, PIN pass / fail, NV_ChangeAuth
    and NV_UndefineSpaceSpecial through policy sessions, NV_Certify verified with
    `cryptography`, then the error codes swtpm gives for each."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    locks, glob, clear, bits, pinpass, pinfail, admin, special = (
        0x1500100, 0x1500101, 0x1500102, 0x1500103, 0x1500104, 0x1500105, 0x1500106,
        0x1400107)
    path = os.path.join(d, "in")
    out = os.path.join(d, "out")

    def put(data):
        with open(path, "wb") as f:
            f.write(data)
        return path

    def nvread(index, size, *auth_args):
        tool("tpm2_nvread", hex(index), *auth_args, "-s", str(size), "-o", out)
        with open(out, "rb") as f:
            return f.read()

    def attrs_of(index):
        rsp = raw.execute(build(T.ST_NO_SESSIONS, 0x169, [index]), what="NV_ReadPublic").data
        return struct.unpack(">I", rsp[18:22])[0]

    # STCLEAR locks: locked until TPM Restart / Reset, not past TPM Resume.
    tool("tpm2_nvdefine", hex(locks), "-C", "o", "-s", "8", "-a",
         "ownerread|ownerwrite|write_stclear|read_stclear")
    tool("tpm2_nvwrite", hex(locks), "-C", "o", "-i", put(b"stclear!"))
    tool("tpm2_nvwritelock", hex(locks), "-C", "o")
    tool("tpm2_nvreadlock", hex(locks), "-C", "o")
    T.check(attrs_of(locks) & 0x10000800 == 0x10000800, "NV_WriteLock / ReadLock did not lock")
    r = tool("tpm2_nvwrite", hex(locks), "-C", "o", "-i", path, ok=False)
    T.check(r.tpm_rc() == 0x148, f"write to a write-locked index: {r.tpm_rc()}")
    r = tool("tpm2_nvread", hex(locks), "-C", "o", "-s", "8", "-o", out, ok=False)
    T.check(r.tpm_rc() == 0x148, f"read of a read-locked index: {r.tpm_rc()}")
    # GLOBALLOCK, CLEAR_STCLEAR.
    tool("tpm2_nvdefine", hex(glob), "-C", "o", "-s", "4", "-a",
         "ownerread|ownerwrite|globallock")
    tool("tpm2_nvdefine", hex(clear), "-C", "o", "-s", "4", "-a",
         "ownerread|ownerwrite|clear_stclear")
    tool("tpm2_nvwrite", hex(clear), "-C", "o", "-i", put(b"clr!"))
    tool("tpm2_nvwritelock", "--global", "-C", "o")
    r = tool("tpm2_nvwrite", hex(glob), "-C", "o", "-i", put(b"glob"), ok=False)
    T.check(r.tpm_rc() == 0x148, f"write after GlobalWriteLock: {r.tpm_rc()}")
    reboot(raw, 1, 1)
    T.check(attrs_of(locks) & 0x10000800 == 0x10000800, "TPM Resume dropped the locks")
    T.check(nvread(clear, 4, "-C", "o") == b"clr!", "TPM Resume unwrote CLEAR_STCLEAR")
    reboot(raw, 1, 0)
    T.check(attrs_of(locks) & 0x10000800 == 0, "TPM Restart kept the STCLEAR locks")
    T.check(attrs_of(glob) & 0x800 == 0, "TPM Restart kept the global lock")
    T.check(nvread(locks, 8, "-C", "o") == b"stclear!", "the locked data changed")
    T.check(attrs_of(clear) & 0x20000000 == 0, "CLEAR_STCLEAR index still written")
    tool("tpm2_nvwrite", hex(glob), "-C", "o", "-i", put(b"glob"))
    T.log("ok: nvwritelock / nvreadlock (STCLEAR), nvwritelock --global, CLEAR_STCLEAR across "
          "TPM Resume and Restart")

    # Bit field.
    tool("tpm2_nvdefine", hex(bits), "-C", "o", "-s", "8", "-a", "ownerread|ownerwrite|nt=bits")
    tool("tpm2_nvsetbits", hex(bits), "-C", "o", "-i", "0x1")
    tool("tpm2_nvsetbits", hex(bits), "-C", "o", "-i", "0x8000000000000080")
    T.check(nvread(bits, 8, "-C", "o") == struct.pack(">Q", 0x8000000000000081),
            "nvsetbits did not OR the bits")
    T.log("ok: nvsetbits ORs into a bit field")

    # PIN pass: each successful use counts, up to pinLimit. PIN fail: failures count, a
    # success starts over.
    tool("tpm2_nvdefine", hex(pinpass), "-C", "o", "-s", "8", "-p", "pin", "-a",
         "ownerread|ownerwrite|nt=pinpass")
    tool("tpm2_nvdefine", hex(pinfail), "-C", "o", "-s", "8", "-p", "pin", "-a",
         "ownerread|ownerwrite|no_da|nt=pinfail")
    pinrd = build(T.ST_SESSIONS, 0x14E, [pinpass, pinpass], [auth(hmac=b"pin")],
                  struct.pack(">HH", 8, 0))
    T.check(rc_of(pinrd) == 0x12F, "an unwritten PIN index's auth is available")
    tool("tpm2_nvwrite", hex(pinpass), "-C", "o", "-i", put(struct.pack(">II", 0, 2)))
    tool("tpm2_nvwrite", hex(pinfail), "-C", "o", "-i", put(struct.pack(">II", 0, 2)))
    for want in (1, 2):
        got = nvread(pinpass, 8, "-C", hex(pinpass), "-P", "pin")
        T.check(got == struct.pack(">II", want, 2), f"PIN pass read {got.hex()}")
    T.check(rc_of(pinrd) == 0x12F, "PIN pass index usable past pinLimit")
    pf = lambda pw: build(T.ST_SESSIONS, 0x14E, [pinfail, pinfail], [auth(hmac=pw)],
                          struct.pack(">HH", 8, 0))
    T.check(rc_of(pf(b"bad")) == 0x9A2, "PIN fail: a wrong PIN is not BAD_AUTH")
    T.check(nvread(pinfail, 8, "-C", "o") == struct.pack(">II", 1, 2), "PIN fail not counted")
    T.check(nvread(pinfail, 8, "-C", hex(pinfail), "-P", "pin") == struct.pack(">II", 0, 2),
            "PIN fail did not start over after the right PIN")
    rc_of(pf(b"bad"))
    rc_of(pf(b"bad"))
    T.check(rc_of(pf(b"pin")) == 0x12F, "PIN fail index usable at pinLimit")
    T.log("ok: PIN pass counts uses up to pinLimit; PIN fail counts failures, restarts on "
          "success and locks at pinLimit")

    # NV_ChangeAuth: ADMIN role, a policy with PolicyCommandCode(NV_ChangeAuth).
    trial = os.path.join(d, "trial.ctx")
    sess = os.path.join(d, "sess.ctx")
    pol = os.path.join(d, "pol.dat")
    tool("tpm2_startauthsession", "-S", trial)
    tool("tpm2_policycommandcode", "-S", trial, "-L", pol, "TPM2_CC_NV_ChangeAuth")
    tool("tpm2_flushcontext", trial)
    with open(pol, "rb") as f:
        T.check(f.read() == policy_cc_digest(0x13B), "PolicyCommandCode digest")
    tool("tpm2_nvdefine", hex(admin), "-C", "o", "-s", "8", "-p", "old", "-L", pol, "-a",
         "authread|authwrite")
    tool("tpm2_startauthsession", "--policy-session", "-S", sess)
    tool("tpm2_policycommandcode", "-S", sess, "TPM2_CC_NV_ChangeAuth")
    tool("tpm2_changeauth", "-c", hex(admin), "-p", f"session:{sess}", "new")
    tool("tpm2_flushcontext", sess)
    tool("tpm2_nvwrite", hex(admin), "-C", hex(admin), "-P", "new", "-i", put(b"changed!"))
    T.check(nvread(admin, 8, "-C", hex(admin), "-P", "new") == b"changed!",
            "the new authValue does not read")
    T.log("ok: tpm2_changeauth of an NV index with a PolicyCommandCode session")

    # NV_UndefineSpaceSpecial: POLICY_DELETE, platform-created, the index's policy + platform.
    tool("tpm2_startauthsession", "-S", trial)
    tool("tpm2_policycommandcode", "-S", trial, "-L", pol, "TPM2_CC_NV_UndefineSpaceSpecial")
    tool("tpm2_flushcontext", trial)
    # ppread | ppwrite | platformcreate | POLICY_DELETE (no keyword for it in tpm2-tools 5.4).
    tool("tpm2_nvdefine", hex(special), "-C", "p", "-s", "8", "-L", pol, "-a", "0x40010401")
    T.check(rc_of(build(T.ST_SESSIONS, 0x122, [RH_PLATFORM, special], [PW])) == 0x282,
            "NV_UndefineSpace of a POLICY_DELETE index")
    tool("tpm2_startauthsession", "--policy-session", "-S", sess)
    tool("tpm2_policycommandcode", "-S", sess, "TPM2_CC_NV_UndefineSpaceSpecial")
    tool("tpm2_nvundefine", hex(special), "-C", "p", "--with-policydelete", "-S", sess)
    tool("tpm2_flushcontext", sess, ok=None)
    T.check(raw.send(build(T.ST_NO_SESSIONS, 0x169, [special])).rc == 0x18B,
            "the POLICY_DELETE index is still there")
    T.log("ok: tpm2_nvundefine --with-policydelete through a PolicyCommandCode session")

    # NV_Certify by a P-256 signing key, the signature checked with `cryptography`.
    key = os.path.join(d, "sign.ctx")
    pem = os.path.join(d, "sign.pem")
    tool("tpm2_createprimary", "-C", "o", "-G", "ecc256:ecdsa-sha256", "-a",
         "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign", "-c", key)
    tool("tpm2_readpublic", "-c", key, "-f", "pem", "-o", pem)
    attest = os.path.join(d, "attest.bin")
    sig = os.path.join(d, "sig.bin")
    tool("tpm2_nvcertify", "-C", key, "-g", "sha256", "-c", "o", "--size", "6", "--offset",
         "1", "-q", "abcd", "-o", sig, "--attestation", attest, hex(locks))
    with open(attest, "rb") as f:
        attest_b = f.read()
    with open(sig, "rb") as f:
        sig_b = f.read()
    with open(pem, "rb") as f:
        pub = serialization.load_pem_public_key(f.read())
    T.check(attest_b[:6] == struct.pack(">IH", 0xFF544347, 0x8014), "not a TPMS_ATTEST NV")
    T.check(attest_b.endswith(struct.pack(">H", 1) + b2(b"tclear")),
            f"TPMS_NV_CERTIFY_INFO tail {attest_b[-10:].hex()}")
    T.check(sig_b[:4] == struct.pack(">HH", 0x0018, 0x000B), "not an ECDSA-SHA256 signature")
    (n,) = struct.unpack(">H", sig_b[4:6])
    r_ = int.from_bytes(sig_b[6:6 + n], "big")
    (m,) = struct.unpack(">H", sig_b[6 + n:8 + n])
    s_ = int.from_bytes(sig_b[8 + n:8 + n + m], "big")
    try:
        pub.verify(encode_dss_signature(r_, s_), attest_b, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise T.Failure("NV_Certify signature does not verify")
    T.log("ok: tpm2_nvcertify, TPMS_NV_CERTIFY_INFO parsed, signature verified")

    # Error cases, codes from swtpm 0.7.1.
    unwritten, ownerless, big, nodelete = 0x1500108, 0x1500109, 0x150010A, 0x150010C

    def define(index, attrs, size=8, by=RH_OWNER, auth_value=b"", policy=b""):
        return build(T.ST_SESSIONS, 0x12A, [by], [PW],
                     b2(auth_value) + b2(nv_public(index, attrs, size, policy=policy)))

    raw.execute(define(unwritten, 0x00020002 | 0x4000, 8), what="define")
    raw.execute(define(ownerless, 0x00050004, 8), what="define")  # authread|authwrite|ppread
    raw.execute(define(big, 0x00020002, 2048), what="define")
    raw.execute(define(nodelete, 0x00040004, 8, policy=policy_cc_digest(0x11F)), what="define")
    raw.execute(build(T.ST_SESSIONS, 0x137, [RH_OWNER, big], [PW], b2(b"x") + b"\0\0"),
                what="write")
    _, pol_cc = policy_session(raw, 0x13B)
    certify = lambda index, size, offset, by=RH_OWNER: build(
        T.ST_SESSIONS, 0x184, [0x40000007, by, index], [PW, PW],
        b2(b"") + struct.pack(">HHH", 0x0010, size, offset))
    cases = [
        ("NV_WriteLock without WRITEDEFINE / WRITE_STCLEAR",
         build(T.ST_SESSIONS, 0x138, [RH_OWNER, bits], [PW]), 0x282),
        ("NV_ReadLock without READ_STCLEAR",
         build(T.ST_SESSIONS, 0x14F, [RH_OWNER, bits], [PW]), 0x282),
        ("NV_WriteLock by the owner without OWNERWRITE",
         build(T.ST_SESSIONS, 0x138, [RH_OWNER, ownerless], [PW]), 0x149),
        ("NV_ReadLock by the owner without OWNERREAD",
         build(T.ST_SESSIONS, 0x14F, [RH_OWNER, ownerless], [PW]), 0x149),
        ("NV_WriteLock of an unwritten WRITE_STCLEAR index",
         build(T.ST_SESSIONS, 0x138, [RH_OWNER, unwritten], [PW]), 0),
        ("NV_WriteLock of a locked index",
         build(T.ST_SESSIONS, 0x138, [RH_OWNER, unwritten], [PW]), 0),
        ("NV_Write of a write-locked index",
         build(T.ST_SESSIONS, 0x137, [RH_OWNER, unwritten], [PW], b2(b"x") + b"\0\0"),
         0x148),
        ("NV_GlobalWriteLock with the lockout handle",
         build(T.ST_SESSIONS, 0x132, [0x4000000A], [PW]), 0x184),
        ("NV_SetBits of an ordinary index",
         build(T.ST_SESSIONS, 0x135, [RH_OWNER, locks], [PW], struct.pack(">Q", 1)), 0x282),
        ("NV_Write of a bit field",
         build(T.ST_SESSIONS, 0x137, [RH_OWNER, bits], [PW], b2(b"x") + b"\0\0"), 0x082),
        ("NV_SetBits by the platform (no PPWRITE)",
         build(T.ST_SESSIONS, 0x135, [RH_PLATFORM, bits], [PW], struct.pack(">Q", 1)), 0x149),
        ("NV_DefineSpace of a 4-byte bit field", define(0x150010B, 0x00020022, 4), 0x2D5),
        ("NV_DefineSpace of a counter with CLEAR_STCLEAR",
         define(0x150010B, 0x08020012, 8), 0x2C2),
        ("NV_DefineSpace with CLEAR_STCLEAR and WRITEDEFINE",
         define(0x150010B, 0x08022002, 8), 0x2C2),
        ("NV_DefineSpace of POLICY_DELETE by the owner",
         define(0x150010B, 0x00020402, 8), 0x2C2),
        ("NV_DefineSpace of a PIN pass index with AUTHWRITE",
         define(0x150010B, 0x00020096, 8), 0x2C2),
        ("NV_DefineSpace of a PIN fail index without NO_DA",
         define(0x150010B, 0x00020082, 8), 0x2C2),
        ("NV_DefineSpace of a 4-byte PIN pass index", define(0x150010B, 0x00020092, 4), 0x2D5),
        ("NV_ChangeAuth with a password",
         build(T.ST_SESSIONS, 0x13B, [admin], [auth(hmac=b"new")], b2(b"x")), 0x124),
        ("NV_ChangeAuth, newAuth longer than the nameAlg digest",
         build(T.ST_SESSIONS, 0x13B, [admin], [pol_cc], b2(b"\1" * 33)), 0x1D5),
        ("NV_UndefineSpaceSpecial without POLICY_DELETE",
         build(T.ST_SESSIONS, 0x11F, [nodelete, RH_PLATFORM],
               [policy_session(raw, 0x11F)[1], PW]), 0x182),
        ("NV_Certify past the end", certify(locks, 6, 3), 0x146),
        ("NV_Certify of an unwritten index", certify(unwritten, 4, 0), 0x14A),
        ("NV_Certify by the owner without OWNERREAD", certify(ownerless, 4, 0), 0x149),
        ("NV_Certify of more than MAX_NV_BUFFER", certify(big, 1025, 0), 0x3C4),
    ]
    for what, cmd, want in cases:
        got = rc_of(cmd)
        T.check(got == want, f"{what}: rc {got:#x}, expected {want:#x}")
        T.log(f"ok: {what:56} {got:#x}")
    # Size and offset 0: TPMS_NV_DIGEST_CERTIFY_INFO with the scheme's hash (none here: an
    # empty digest, as no key signs).
    rsp = raw.execute(certify(locks, 0, 0), what="NV_Certify of the digest").data
    T.check(rsp[20:22] == struct.pack(">H", 0x801C),
            f"NV_Certify(size 0, offset 0) gave TPMS_ATTEST type {rsp[20:22].hex()}")
    T.log("ok: NV_Certify with size and offset 0 certifies the digest (TPM_ST_ATTEST_NV_DIGEST)")
    # ORDERLY: kept over TPM Restart, unwritten at TPM Reset (the reference implementation's
    # RAM-backed indices). Sessions left by the error cases go with the TPM Reset, and so do
    # the remaining locks.
    orderly = 0x150010D
    raw.execute(define(orderly, 0x04020002, 4), what="define orderly")
    raw.execute(build(T.ST_SESSIONS, 0x137, [RH_OWNER, orderly], [PW], b2(b"ordr") + b"\0\0"),
                what="write orderly")
    reboot(raw, 1, 0)
    T.check(attrs_of(orderly) & 0x20000000, "TPM Restart unwrote an ORDERLY index")
    reboot(raw, 0, 0)
    T.check(not attrs_of(orderly) & 0x20000000, "TPM Reset kept an ORDERLY index written")
    T.log("ok: ORDERLY index written after TPM Restart, unwritten after TPM Reset")
    for h in (locks, glob, clear, bits, pinpass, pinfail, admin, unwritten, ownerless, big,
              nodelete, orderly):
        raw.execute(build(T.ST_SESSIONS, 0x122, [RH_OWNER, h], [PW]), what=f"undefine {h:#x}")


if __name__ == "__main__":
    T.run_main(main)
