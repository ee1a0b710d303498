#!/usr/bin/python3
"""Foundation checks with tpm2-tools 5.4: startup, self test, random, PCRs, hashing,
capabilities, clock, clear, shutdown.

    /usr/bin/python3 tests/clients/foundation.py --tcti mssim:host=127.0.0.1,port=N
    /usr/bin/python3 tests/clients/foundation.py --tcti swtpm:host=127.0.0.1,port=N
    /usr/bin/python3 tests/clients/foundation.py --tcti spawn:swtpm        # starts its own
    /usr/bin/python3 tests/clients/foundation.py --tcti spawn:host-sim     # target/debug/host-sim

Expects a freshly powered-on TPM that has not seen TPM2_Startup yet; pass --started if
the server sent Startup(CLEAR) itself (swtpm --flags startup-clear): then the
"already initialized" answer 0x100 to our Startup is tolerated. --ours adds the checks
that hold for our vTPM only (SHA-2 only, never vendor "SW  ", ≥ 16 object slots,
MAX_COMMAND_SIZE ≤ 4087). Every expected PCR value is computed here with hashlib.

Exit status: 0 all checks passed, 1 a check failed (reason on stderr), 77 a
prerequisite (tpm2-tools, a TCTI library, swtpm) is missing.
"""

import argparse
import hashlib
import os
import re
import sys
import struct
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpmlib as T  # noqa: E402
from servers import open_target  # noqa: E402

# Commands the checks below need (names as tpm2_getcap prints them).
NEEDED_COMMANDS = [
    "TPM2_CC_Startup", "TPM2_CC_Shutdown", "TPM2_CC_SelfTest", "TPM2_CC_GetRandom",
    "TPM2_CC_PCR_Read", "TPM2_CC_PCR_Extend", "TPM2_CC_PCR_Event", "TPM2_CC_PCR_Reset",
    "TPM2_CC_Hash", "TPM2_CC_HashSequenceStart", "TPM2_CC_SequenceUpdate",
    "TPM2_CC_SequenceComplete", "TPM2_CC_EventSequenceComplete", "TPM2_CC_GetCapability",
    "TPM2_CC_ReadClock", "TPM2_CC_Clear", "TPM2_CC_StartAuthSession", "TPM2_CC_FlushContext",
]
# cHandles per command (Part 3; spec/tpm2-wire.md §3.5): what the kernel and abrmd rely on.
EXPECTED_CHANDLES = {"TPM2_CC_PCR_Extend": 1, "TPM2_CC_PCR_Event": 1, "TPM2_CC_PCR_Reset": 1,
                     "TPM2_CC_GetRandom": 0, "TPM2_CC_Clear": 1, "TPM2_CC_PCR_Read": 0,
                     "TPM2_CC_EventSequenceComplete": 2, "TPM2_CC_SequenceComplete": 1}


class Foundation:
    def __init__(self, tcti, started, ours, workdir):
        self.tcti = tcti
        self.started = started
        self.ours = ours
        self.dir = workdir
        self.raw = None
        self.model = None
        self.banks = None  # allocated banks, in the order tpm2_pcrread prints them
        self.algorithms = None

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)
        return self.path(name)

    def tool(self, *argv, **kw):
        return T.tool(self.tcti, *argv, **kw)

    # -------------------------------------------------------------------------
    def run(self):
        self.raw = T.RawTpm(self.tcti)
        self.startup()
        self.selftest()
        self.getrandom()
        self.pcrread_initial()
        self.pcrextend()
        self.pcrevent()
        self.pcrreset()
        self.hash()
        self.getcap()
        self.readclock()
        self.setclock()
        self.primary_policy()
        self.dictionarylockout()
        self.clear()
        self.shutdown()
        T.log("foundation: all checks passed")

    def read_pcrs(self, what):
        """tpm2_pcrread of everything, compared with the model."""
        banks = T.parse_pcrread(self.tool("tpm2_pcrread").text)
        self.model.compare(banks, what)
        return banks

    # -------------------------------------------------------------------------
    def startup(self):
        if not self.started:
            # Before TPM2_Startup every command answers TPM_RC_INITIALIZE.
            out = self.raw.send(T.cmd_get_random(8))
            T.check(out.ok, f"GetRandom before Startup: no response ({out.describe()})")
            T.check(out.data == bytes.fromhex("80010000000a00000100"),
                    f"GetRandom before Startup must answer 8001 0000000a 00000100 (INITIALIZE), "
                    f"got {out.data.hex()}")
        self.tool("tpm2_startup", "-c")
        T.log("ok: tpm2_startup -c")
        # tpm2_startup hides 0x100 (it treats INITIALIZE as success), so check the TPM's
        # own answer to a second Startup: INITIALIZE, exactly, as a 10-byte error.
        out = self.raw.execute(T.cmd_startup(0), what="second Startup(CLEAR)", expect_rc=None)
        T.check(out.data == bytes.fromhex("80010000000a00000100"),
                f"second Startup(CLEAR) must answer 8001 0000000a 00000100, got {out.data.hex()}")
        T.log("ok: a second Startup answers TPM_RC_INITIALIZE (0x100)")

    def selftest(self):
        self.tool("tpm2_selftest")
        self.tool("tpm2_selftest", "--fulltest")
        T.log("ok: tpm2_selftest, tpm2_selftest --fulltest")

    def getrandom(self):
        a = self.tool("tpm2_getrandom", "32").stdout
        T.check(len(a) == 32, f"tpm2_getrandom 32 wrote {len(a)} bytes")
        b = self.tool("tpm2_getrandom", "32").stdout
        T.check(a != b, "two tpm2_getrandom 32 calls returned the same bytes")
        h = self.tool("tpm2_getrandom", "--hex", "32").text
        T.check(re.fullmatch(r"[0-9a-f]{64}", h) is not None,
                f"tpm2_getrandom --hex 32 must print 64 hex chars, got {h!r}")
        T.check(bytes.fromhex(h) not in (a, b), "tpm2_getrandom --hex repeated earlier bytes")
        out = self.path("rand.bin")
        self.tool("tpm2_getrandom", "-o", out, "16")
        with open(out, "rb") as f:
            T.check(len(f.read()) == 16, "tpm2_getrandom -o out 16: file is not 16 bytes")
        T.check(a != bytes(32) and b != bytes(32), "GetRandom returned zeros")
        T.log("ok: tpm2_getrandom 32 / --hex 32 / -o (sizes, two calls differ)")

    def pcrread_initial(self):
        self.algorithms = self.getcap_algorithms()
        text = self.tool("tpm2_pcrread").text
        listed = T.parse_pcrread(text)
        # A bank listed with no PCRs is an implemented but unallocated hash (swtpm lists sha1
        # that way). A listed bank the TPM cannot hash breaks the kernel and the tools.
        for bank in listed:
            T.check(bank in self.algorithms,
                    f"tpm2_pcrread lists bank {bank} but getcap algorithms has no {bank}")
        self.banks = [b for b, v in listed.items() if v]
        for need in ("sha256", "sha384"):
            T.check(need in self.banks, f"bank {need} not allocated; banks: {self.banks}")
        T.check("sha1" not in self.banks, "sha1 bank is allocated (must not be by default)")
        if self.ours:
            # SHA-1 is implemented, its bank not allocated by default: listed empty, as swtpm.
            T.check("sha1" in listed and not listed["sha1"], "our TPM must list an empty sha1 bank")
        for bank in self.banks:
            T.check(sorted(listed[bank]) == list(range(T.PCR_COUNT)),
                    f"bank {bank} lists PCRs {sorted(listed[bank])}, expected 0-23")
        self.model = T.PcrModel(self.banks)
        self.model.compare(listed, "PCRs after Startup(CLEAR) (0-16, 23 zero; 17-22 all-FF)")
        # Read-back through raw PCR_Read must agree with the tool.
        raw = self.raw.pcr_read(self.banks)
        self.model.compare(raw, "raw PCR_Read after Startup")
        T.log(f"ok: tpm2_pcrread: banks {self.banks} x 24 PCRs at their Startup values"
              + (f" (also listed, unallocated: {[b for b in listed if not listed[b]]})"
                 if len(listed) > len(self.banks) else ""))

    def pcrextend(self):
        d = {}
        for i, bank in enumerate(self.banks):
            d[bank] = hashlib.new(bank, b"extend-%d" % i).digest()
        args = []
        for pcr in (16, 23):
            args.append(f"{pcr}:" + ",".join(f"{b}={d[b].hex()}" for b in self.banks))
        self.tool("tpm2_pcrextend", *args)
        for pcr in (16, 23):
            for b in self.banks:
                self.model.extend(b, pcr, d[b])
        self.read_pcrs("after tpm2_pcrextend 16 and 23 (all banks)")
        # A third PCR: two sha256 digests in one TPML_DIGEST_VALUES (applied in order),
        # then sha384 alone as a second spec on the same PCR.
        x = hashlib.sha256(b"x").digest()
        y = hashlib.sha256(b"y").digest()
        z = hashlib.sha384(b"z").digest()
        self.tool("tpm2_pcrextend", f"8:sha256={x.hex()},sha256={y.hex()}", f"8:sha384={z.hex()}")
        self.model.extend("sha256", 8, x)
        self.model.extend("sha256", 8, y)
        self.model.extend("sha384", 8, z)
        self.read_pcrs("after tpm2_pcrextend 8 (sha256 twice, then sha384)")
        # PCR 17 is extendable only from localities 2-4 (PC Client); the tools use locality 0.
        res = self.tool("tpm2_pcrextend", f"17:sha256={x.hex()}", ok=False)
        T.check(res.tpm_rc() == T.RC_LOCALITY,
                f"tpm2_pcrextend 17 at locality 0 must fail with 0x907, got {res.tpm_rc()}: "
                f"{res.stderr.strip()}")
        self.read_pcrs("after the refused extend of PCR 17")
        T.log("ok: tpm2_pcrextend into PCR 16, 23 (every bank) and 8; PCR 17 refused (0x907)")

    def pcrevent(self):
        small = bytes(range(100))
        large = (hashlib.sha512(b"large").digest() * 1600)[:100 * 1024]
        for name, data in (("small (100 B: PCR_Event)", small),
                           ("large (100 KiB: HashSequenceStart/SequenceUpdate/"
                            "EventSequenceComplete)", large)):
            path = self.write("event.bin", data)
            res = self.tool("tpm2_pcrevent", path, "16")
            self.check_event_output(res.text, data, name)
            self.model.event(16, data)
            self.read_pcrs(f"after tpm2_pcrevent {name} into PCR 16")
            # Without a PCR index: hash only (pcrHandle TPM_RH_NULL), no PCR changes.
            res = self.tool("tpm2_pcrevent", path)
            self.check_event_output(res.text, data, name + " without a PCR")
            self.read_pcrs(f"after tpm2_pcrevent {name} without a PCR index")
        T.log("ok: tpm2_pcrevent 100 B and 100 KiB into PCR 16 (every bank gets H_bank(data)) "
              "and without a PCR")

    def check_event_output(self, text, data, what):
        printed = {}
        for line in text.splitlines():
            m = re.fullmatch(r"\s*(\w+)\s*:\s*([0-9a-fA-F]+)\s*", line)
            T.check(m is not None, f"tpm2_pcrevent {what}: cannot parse {line!r}")
            printed[m.group(1)] = bytes.fromhex(m.group(2))
        for bank in self.banks:
            T.check(bank in printed, f"tpm2_pcrevent {what}: no {bank} digest printed: {text!r}")
        for alg, digest in printed.items():
            T.check(alg in T.DIGEST_SIZES, f"tpm2_pcrevent {what}: unexpected algorithm {alg}")
            T.check(digest == T.hash_of(alg, data),
                    f"tpm2_pcrevent {what}: {alg} digest {digest.hex()} != hashlib "
                    f"{T.hash_of(alg, data).hex()}")
        if self.ours:
            # PCR_Event returns a digest of every implemented hash, SHA-1 included.
            T.check("sha1" in printed, f"tpm2_pcrevent {what}: our TPM printed no sha1 digest")

    def pcrreset(self):
        self.tool("tpm2_pcrreset", "16")
        self.model.reset(16)
        banks = self.read_pcrs("after tpm2_pcrreset 16")
        for b in self.banks:
            T.check(banks[b][16] == bytes(T.DIGEST_SIZES[b]), f"{b}:16 not zero after reset")
        # PCR 17 is resettable from locality 4 only via _TPM_Hash_Start: 0x907 here.
        res = self.tool("tpm2_pcrreset", "17", ok=False)
        T.check(res.tpm_rc() == T.RC_LOCALITY,
                f"tpm2_pcrreset 17 at locality 0 must fail with 0x907, got {res.tpm_rc()}: "
                f"{res.stderr.strip()}")
        self.read_pcrs("after the refused reset of PCR 17")
        T.log("ok: tpm2_pcrreset 16 zeroes every bank; tpm2_pcrreset 17 refused (0x907)")

    def hash(self):
        small = self.write("hash-small.bin", b"The quick brown fox jumps over the lazy dog" * 10)
        large = self.write("hash-large.bin", bytes(range(256)) * 40)  # 10 KiB: hash sequence
        for path in (small, large):
            with open(path, "rb") as f:
                data = f.read()
            for alg in ("sha256", "sha384"):
                want = hashlib.new(alg, data)
                out = self.tool("tpm2_hash", "-g", alg, path).stdout
                T.check(out == want.digest(),
                        f"tpm2_hash -g {alg} ({len(data)} B) printed {out.hex()}, "
                        f"hashlib {want.hexdigest()}")
                hexout = self.tool("tpm2_hash", "-g", alg, "--hex", path).text.strip()
                T.check(hexout.lower() == want.hexdigest(),
                        f"tpm2_hash --hex -g {alg}: {hexout} != {want.hexdigest()}")
                digest_file = self.path("digest.bin")
                ticket_file = self.path("ticket.bin")
                for f in (digest_file, ticket_file):
                    if os.path.exists(f):
                        os.unlink(f)
                self.tool("tpm2_hash", "-g", alg, "-o", digest_file, "-t", ticket_file, path)
                with open(digest_file, "rb") as f:
                    T.check(f.read() == want.digest(), f"tpm2_hash -o: wrong digest ({alg})")
                self.check_ticket(ticket_file, 0x40000001, f"tpm2_hash -g {alg} -t "
                                  f"({len(data)} B, owner)")
        # A ticket for the null hierarchy is the empty TPMT_TK_HASHCHECK.
        ticket_file = self.path("ticket-null.bin")
        self.tool("tpm2_hash", "-C", "n", "-g", "sha256", "-t", ticket_file, small)
        self.check_ticket(ticket_file, 0x40000007, "tpm2_hash -C n -t")
        T.log("ok: tpm2_hash sha256/sha384 of 430 B and 10 KiB (= hashlib), -o, --hex, "
              "-t tickets (owner, null)")

    def check_ticket(self, path, hierarchy, what):
        T.check(os.path.exists(path), f"{what}: no ticket file written")
        with open(path, "rb") as f:
            t = f.read()
        T.check(len(t) >= 8, f"{what}: ticket of {len(t)} bytes")
        tag, hier, size = int.from_bytes(t[0:2], "big"), int.from_bytes(t[2:6], "big"), \
            int.from_bytes(t[6:8], "big")
        T.check(tag == 0x8024, f"{what}: ticket tag {tag:#06x}, expected TPM_ST_HASHCHECK 0x8024")
        T.check(hier == hierarchy, f"{what}: ticket hierarchy {hier:#x}, expected {hierarchy:#x}")
        T.check(len(t) == 8 + size, f"{what}: ticket digest size {size} but file has {len(t)} B")
        if hierarchy == 0x40000007:
            T.check(size == 0, f"{what}: null-hierarchy ticket must be empty, has {size} bytes")
        else:
            T.check(size in (32, 48, 64), f"{what}: ticket HMAC of {size} bytes")
            T.check(t[8:] != bytes(size), f"{what}: ticket HMAC is all zero")

    # --- capabilities -------------------------------------------------------------
    def getcap_algorithms(self):
        entries = T.parse_toplevel(self.tool("tpm2_getcap", "algorithms").text)
        algs = {}
        for name, (_, lines) in entries.items():
            f = T.subfields(lines)
            T.check("value" in f, f"getcap algorithms: {name} has no value")
            algs[name] = f
        return algs

    def getcap(self):
        T.check(self.tool("tpm2_getcap", "-l").text.split()[:2] == ["-", "algorithms"],
                "tpm2_getcap -l output unexpected")
        algs = self.getcap_algorithms()
        for alg in ("sha256", "sha384", "hmac"):
            T.check(alg in algs, f"getcap algorithms: {alg} missing (have {sorted(algs)})")
        for h in ("sha256", "sha384"):
            T.check(algs[h].get("hash") == "1", f"getcap algorithms: {h} lacks hash: 1")
            T.check(int(algs[h]["value"], 16) == T.ALG_IDS[h], f"getcap algorithms: {h} value")
        if self.ours:
            T.check(algs.get("sha1", {}).get("hash") == "1", "our TPM must list sha1 as a hash")
            # RSA is listed when the core is built with its `rsa` feature (host-sim is).
            if "rsa" in algs:
                T.check(algs["rsa"].get("asymmetric") == "1" and algs["rsa"].get("object") == "1",
                        f"getcap algorithms: rsa {algs['rsa']}")

        props = {k: (v, T.subfields(ls)) for k, (v, ls) in
                 T.parse_toplevel(self.tool("tpm2_getcap", "properties-fixed").text).items()}

        def fixed(name):
            T.check(name in props, f"getcap properties-fixed: {name} missing")
            return int(props[name][1]["raw"], 0)

        T.check(props.get("TPM2_PT_FAMILY_INDICATOR", ("", {}))[1].get("value") == '"2.0"',
                "TPM2_PT_FAMILY_INDICATOR is not \"2.0\"")
        max_cmd = fixed("TPM2_PT_MAX_COMMAND_SIZE")
        max_rsp = fixed("TPM2_PT_MAX_RESPONSE_SIZE")
        T.check(1024 <= max_cmd and 1024 <= max_rsp,
                f"MAX_COMMAND_SIZE {max_cmd} / MAX_RESPONSE_SIZE {max_rsp} too small")
        T.check(fixed("TPM2_PT_PCR_COUNT") == 24, "TPM2_PT_PCR_COUNT is not 24")
        T.check(fixed("TPM2_PT_PCR_SELECT_MIN") == 3, "TPM2_PT_PCR_SELECT_MIN is not 3")
        T.check(fixed("TPM2_PT_MAX_DIGEST") >= 48, "TPM2_PT_MAX_DIGEST < 48")
        total = fixed("TPM2_PT_TOTAL_COMMANDS")
        T.check(fixed("TPM2_PT_VENDOR_COMMANDS") == 0, "TPM2_PT_VENDOR_COMMANDS is not 0")
        if self.ours:
            T.check(max_cmd <= 4087 and max_rsp <= 4092,
                    "MAX_COMMAND/RESPONSE_SIZE larger than the SVSM page carries (4087 / 4092)")
            T.check(fixed("TPM2_PT_VENDOR_STRING_1") != 0x53572020,
                    "vendor string \"SW  \" makes the tools' tests fail hard (tpm2-wire.md §11)")
            T.check(fixed("TPM2_PT_HR_TRANSIENT_MIN") >= 16, "HR_TRANSIENT_MIN < 16")
            T.check(fixed("TPM2_PT_MAX_DIGEST") == 64, "MAX_DIGEST must be 64 (tpm2_getrandom)")

        var = T.parse_toplevel(self.tool("tpm2_getcap", "properties-variable").text)
        for name in ("TPM2_PT_PERMANENT", "TPM2_PT_STARTUP_CLEAR", "TPM2_PT_LOCKOUT_COUNTER",
                     "TPM2_PT_MAX_AUTH_FAIL", "TPM2_PT_LOCKOUT_INTERVAL",
                     "TPM2_PT_LOCKOUT_RECOVERY"):
            T.check(name in var, f"getcap properties-variable: {name} missing")
        sc = T.subfields(var["TPM2_PT_STARTUP_CLEAR"][1])
        for bit in ("shEnable", "ehEnable"):
            T.check(sc.get(bit) == "1", f"TPM2_PT_STARTUP_CLEAR.{bit} is not 1 after Startup")

        cmds = T.parse_toplevel(self.tool("tpm2_getcap", "commands").text)
        T.check(len(cmds) == total,
                f"getcap commands lists {len(cmds)} commands, TPM2_PT_TOTAL_COMMANDS says {total}")
        for name in NEEDED_COMMANDS:
            T.check(name in cmds, f"getcap commands: {name} missing")
        indices = []
        for name, (_, lines) in cmds.items():
            f = T.subfields(lines)
            indices.append(int(f["commandIndex"], 16))
            if name in EXPECTED_CHANDLES:
                T.check(int(f["cHandles"], 16) == EXPECTED_CHANDLES[name],
                        f"getcap commands: {name} cHandles {f['cHandles']}, "
                        f"expected {EXPECTED_CHANDLES[name]}")
        T.check(indices == sorted(indices) and len(set(indices)) == len(indices),
                "getcap commands: not in ascending command-code order")

        pcrs = self.tool("tpm2_getcap", "pcrs").text
        all24 = "[ " + ", ".join(str(i) for i in range(24)) + " ]"
        for bank in self.banks:
            T.check(f"- {bank}: {all24}" in pcrs, f"getcap pcrs: {bank} not allocated 0-23:\n{pcrs}")
        for m in re.finditer(r"^\s*-\s*(\w+):", pcrs, re.M):
            T.check(m.group(1) in self.algorithms, f"getcap pcrs lists {m.group(1)}, not a "
                    "listed algorithm")

        # A TPM lists curves only when it implements ECC keys (TPM_ALG_ECC in ALGS).
        curves = T.parse_toplevel(self.tool("tpm2_getcap", "ecc-curves").text)
        if "ecc" in self.algorithms:
            for c, v in (("TPM2_ECC_NIST_P256", 3), ("TPM2_ECC_NIST_P384", 4)):
                T.check(c in curves and int(curves[c][0], 16) == v,
                        f"getcap ecc-curves: {c} missing")
        else:
            T.check(not curves, f"getcap ecc-curves lists {list(curves)} without TPM_ALG_ECC")

        handles = self.tool("tpm2_getcap", "handles-transient").text
        for line in handles.splitlines():
            T.check(re.fullmatch(r"- 0x80[0-9A-Fa-f]{6}", line.strip()) is not None,
                    f"getcap handles-transient: unexpected line {line!r}")
        T.check(not handles.strip(), f"transient handles left over: {handles.strip()}")
        T.log(f"ok: tpm2_getcap algorithms/commands ({total})/pcrs/properties-fixed/"
              f"properties-variable/ecc-curves/handles-transient")

    def readclock(self):
        def read():
            top = T.parse_toplevel(self.tool("tpm2_readclock").text)
            T.check("time" in top and "clock_info" in top, "tpm2_readclock: time/clock_info missing")
            info = T.subfields(top["clock_info"][1])
            for k in ("clock", "reset_count", "restart_count", "safe"):
                T.check(k in info, f"tpm2_readclock: clock_info.{k} missing")
            return int(top["time"][0]), info

        t1, c1 = read()
        t2, c2 = read()
        T.check(t2 >= t1 and int(c2["clock"]) >= int(c1["clock"]),
                f"tpm2_readclock went backwards: {t1}/{c1['clock']} then {t2}/{c2['clock']}")
        T.check(c1["safe"] in ("yes", "no"), f"tpm2_readclock: safe is {c1['safe']!r}")
        T.log(f"ok: tpm2_readclock (time {t1} -> {t2} ms, reset_count {c1['reset_count']})")

    def setclock(self):
        """tpm2_setclock moves Clock forward (never back: TPM_RC_VALUE), tpm2_clockrateadjust
        takes a valid adjustment (TPM2_ClockSet / ClockRateAdjust, Part 3 §29)."""
        def clock():
            top = T.parse_toplevel(self.tool("tpm2_readclock").text)
            return int(T.subfields(top["clock_info"][1])["clock"])

        target = clock() + 50_000_000
        self.tool("tpm2_setclock", str(target))
        after = clock()
        T.check(target <= after < target + 60_000, f"tpm2_setclock {target}: clock {after}")
        res = self.tool("tpm2_setclock", "5", ok=False)
        T.check("0x1c4" in res.stderr.lower() or "0x1C4" in res.stderr,
                f"tpm2_setclock backwards must fail with TPM_RC_VALUE (0x1C4): {res.stderr}")
        self.tool("tpm2_clockrateadjust", "ss")
        self.tool("tpm2_clockrateadjust", "f")
        T.log(f"ok: tpm2_setclock (clock {after}), backwards refused, tpm2_clockrateadjust")

    def primary_policy(self):
        """tpm2_setprimarypolicy gives the owner hierarchy an authPolicy
        (PolicyCommandCode(NV_DefineSpace), computed in a trial session and with hashlib);
        a policy session satisfying it defines an index, one for another command code
        cannot; the policy is then removed (TPM2_SetPrimaryPolicy, Part 3 §24.6)."""
        trial, pol = self.path("trial.ctx"), self.path("owner.pol")
        self.tool("tpm2_startauthsession", "-S", trial)
        self.tool("tpm2_policycommandcode", "-S", trial, "-L", pol, "TPM2_CC_NV_DefineSpace")
        self.tool("tpm2_flushcontext", trial)
        with open(pol, "rb") as f:
            digest = f.read()
        want = hashlib.sha256(bytes(32) + struct.pack(">II", 0x16C, 0x12A)).digest()
        T.check(digest == want, f"PolicyCommandCode digest {digest.hex()} != {want.hex()}")
        self.tool("tpm2_setprimarypolicy", "-C", "o", "-L", pol, "-g", "sha256")
        for cc, index, ok in (("TPM2_CC_NV_DefineSpace", "0x1500100", True),
                              ("TPM2_CC_NV_UndefineSpace", "0x1500101", False)):
            sess = self.path("policy.ctx")
            self.tool("tpm2_startauthsession", "--policy-session", "-S", sess)
            self.tool("tpm2_policycommandcode", "-S", sess, cc)
            res = self.tool("tpm2_nvdefine", index, "-C", "o", "-s", "8",
                            "-a", "ownerread|ownerwrite", "-P", f"session:{sess}", ok=ok)
            self.tool("tpm2_flushcontext", sess, ok=None)
            if not ok:
                T.check("0x99d" in res.stderr.lower(),
                        f"a policy for another command must fail with POLICY_FAIL: {res.stderr}")
        self.tool("tpm2_nvundefine", "0x1500100", "-C", "o")
        self.tool("tpm2_setprimarypolicy", "-C", "o")
        T.log("ok: tpm2_setprimarypolicy (owner policy = PolicyCommandCode(NV_DefineSpace)), "
              "a policy session defines an index, a wrong command code is refused")

    def dictionarylockout(self):
        """tpm2_dictionarylockout sets the DA parameters and clears the counter; getcap reads
        them back (TPM2_DictionaryAttackParameters / LockReset)."""
        self.tool("tpm2_dictionarylockout", "-s", "-n", "5", "-t", "6", "-l", "7")
        var = T.parse_toplevel(self.tool("tpm2_getcap", "properties-variable").text)
        for name, want in (("TPM2_PT_MAX_AUTH_FAIL", 5), ("TPM2_PT_LOCKOUT_INTERVAL", 6),
                           ("TPM2_PT_LOCKOUT_RECOVERY", 7), ("TPM2_PT_LOCKOUT_COUNTER", 0)):
            got = int(var[name][0], 16)
            T.check(got == want, f"{name} is {got} after tpm2_dictionarylockout, expected {want}")
        self.tool("tpm2_dictionarylockout", "-c")
        T.log("ok: tpm2_dictionarylockout -s -n 5 -t 6 -l 7 read back by getcap; -c")

    def clear(self):
        before = self.raw.pcr_read(self.banks)
        self.tool("tpm2_clear")  # TPM2_Clear(TPM_RH_LOCKOUT) with an empty password (HMAC session)
        self.read_pcrs("after tpm2_clear (PCRs are not affected)")
        T.check(self.raw.pcr_read(self.banks) == before, "PCRs changed across tpm2_clear")
        self.tool("tpm2_getrandom", "8")
        self.tool("tpm2_clear")  # twice: the lockout auth is still empty
        T.log("ok: tpm2_clear (twice); PCRs untouched")

    def shutdown(self):
        self.tool("tpm2_shutdown", "-c")
        T.log("ok: tpm2_shutdown -c")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tcti", required=True,
                    help="mssim:host=H,port=P | swtpm:host=H,port=P | spawn:swtpm | "
                         "spawn:host-sim[=PATH]")
    ap.add_argument("--started", action="store_true",
                    help="the server already sent Startup(CLEAR); tolerate 0x100")
    ap.add_argument("--ours", action="store_true", help="also check vTPM-specific rules")
    args = ap.parse_args()
    T.require_programs("tpm2_startup", "tpm2_pcrread", "tpm2_getcap")
    with open_target(args.tcti) as tcti, tempfile.TemporaryDirectory(prefix="vtpm-fnd-") as d:
        started = args.started or args.tcti == "spawn:swtpm-started"
        T.require_tcti_library(T.Tcti(tcti).kind)
        T.log(f"foundation: TCTI {tcti}")
        Foundation(tcti, started, args.ours, d).run()


if __name__ == "__main__":
    T.run_main(main)
