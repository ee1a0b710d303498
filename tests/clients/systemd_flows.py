#!/usr/bin/python3
"""What systemd-cryptenroll and systemd-pcrlock ask of a TPM, with tpm2-tools 5.4, on ours
and on swtpm 0.7.1 (libtpms 0.9.2), with identical outcomes required.

    /usr/bin/python3 tests/clients/systemd_flows.py --tcti mssim:host=127.0.0.1,port=N
        [--ref-tcti swtpm:host=127.0.0.1,port=M]      # default: spawn:swtpm (a fresh one)

On each TPM, under an ECC P-256 storage primary:

  1. cryptenroll's PCR + PIN enrolment: a trial session with `tpm2_policypcr -l sha256:7,11`
     and `tpm2_policyauthvalue` gives a policy digest equal to hashlib's (Part 3 §23.7 and
     §23.18); a secret sealed to it with a PIN (`tpm2_create -L -p`, `tpm2_load`) unseals
     through a policy session with `-p session:…+pin`; a wrong PIN and, after
     `tpm2_pcrextend 11`, the policy session's unseal fail (response codes recorded).
  2. pcrlock's NV-stored policy: an owner NV index of 34 bytes (a TPMT_HA) holds the PolicyPCR
     digest of the current PCR 7 / 11; an object sealed to PolicyAuthorizeNV(index) (digest
     recomputed with hashlib from the index's Name, itself recomputed from its public area)
     unseals through PolicyPCR + PolicyAuthorizeNV; after an extend of PCR 11 it fails; the
     index rewritten with the new PolicyPCR digest (pcrlock's update) makes it unseal again
     without sealing anew.
  3. an NV extend index (`nt=extend`): two `tpm2_nvextend`s give hashlib's chain; PolicyNV
     (operand eq the extended value) unseals an object, another operand fails.

Every outcome (digests, Names, unsealed bytes, response codes) is collected on each TPM and
the two lists must be identical.

Exit status: 0 passed, 1 a difference or failure, 77 a prerequisite is missing.
"""

import argparse
import hashlib
import os
import re
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpmlib as T  # noqa: E402
from servers import open_target  # noqa: E402

CC_POLICY_PCR, CC_POLICY_AUTH_VALUE = 0x17F, 0x16B
CC_POLICY_NV, CC_POLICY_AUTHORIZE_NV = 0x149, 0x192
TPM_ALG_SHA256 = 0x000B
ZERO = bytes(32)
SECRET = b"disk volume key 0123456789abcdef"
INDEX_POLICY = 0x1500020
INDEX_EXTEND = 0x1500021


def sha256(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


def policy_pcr(old, pcr_values):
    """Part 3 §23.7: H(old ‖ TPM_CC_PolicyPCR ‖ TPML_PCR_SELECTION ‖ H(values)), PCRs 7, 11."""
    sel = struct.pack(">IHB", 1, TPM_ALG_SHA256, 3) + bytes([0x80, 0x08, 0x00])
    return sha256(old, struct.pack(">I", CC_POLICY_PCR), sel, sha256(pcr_values))


def policy_auth_value(old):
    """Part 3 §23.18: H(old ‖ TPM_CC_PolicyAuthValue)."""
    return sha256(old, struct.pack(">I", CC_POLICY_AUTH_VALUE))


def policy_authorize_nv(name):
    """Part 3 §23.22: the digest starts over: H(0… ‖ TPM_CC_PolicyAuthorizeNV ‖ nvIndexName)."""
    return sha256(ZERO, struct.pack(">I", CC_POLICY_AUTHORIZE_NV), name)


def policy_nv(old, operand, offset, op, name):
    """Part 3 §23.9: H(old ‖ TPM_CC_PolicyNV ‖ H(operandB ‖ offset ‖ operation) ‖ nvIndexName)."""
    args = sha256(operand, struct.pack(">HH", offset, op))
    return sha256(old, struct.pack(">I", CC_POLICY_NV), args, name)


def flows(tcti, work, label):
    """The three flows on one TPM; returns the outcomes to compare with the other TPM."""
    out = []

    def p(name):
        return os.path.join(work, name)

    def tool(*argv, **kw):
        return T.tool(tcti, *argv, **kw)

    def put(name, data):
        with open(p(name), "wb") as f:
            f.write(data)
        return p(name)

    def get(name):
        with open(p(name), "rb") as f:
            return f.read()

    def note(what, value):
        out.append((what, value))
        T.log(f"[{label}] {what}: {value}")

    def pcrs():
        tool("tpm2_pcrread", "sha256:7,11", "-o", p("pcrs.bin"))
        data = get("pcrs.bin")
        T.check(len(data) == 64, f"[{label}] tpm2_pcrread -o gave {len(data)} bytes")
        return data

    def failing(*argv):
        """A tool that must fail with a TPM response code; the code."""
        res = tool(*argv, ok=False)
        rc = res.tpm_rc()
        T.check(rc is not None, f"[{label}] `{' '.join(argv)}` gave no response code:\n"
                f"{res.stderr.strip()}")
        return rc

    def flush_sessions():
        # The policy session, saved to its file by the last tool that used it.
        tool("tpm2_flushcontext", p("s.ctx"), ok=None)
        tool("tpm2_flushcontext", "-t")  # the sealed object tpm2_unseal loaded

    def trial(*steps):
        """A trial session through `steps` (each an argv without -S); the policy digest."""
        tool("tpm2_startauthsession", "-S", p("trial.ctx"))
        for step in steps:
            tool(*step, "-S", p("trial.ctx"), "-L", p("trial.pol"))
        tool("tpm2_flushcontext", p("trial.ctx"))
        return get("trial.pol")

    def policy_session(*steps):
        tool("tpm2_startauthsession", "--policy-session", "-S", p("s.ctx"))
        for step in steps:
            tool(*step, "-S", p("s.ctx"))
        return p("s.ctx")

    def seal(name, policy, *extra):
        tool("tpm2_create", "-C", p("prim.ctx"), "-L", policy, *extra, "-i", put("secret",
             SECRET), "-u", p(name + ".pub"), "-r", p(name + ".priv"))
        tool("tpm2_flushcontext", "-t")
        tool("tpm2_load", "-C", p("prim.ctx"), "-u", p(name + ".pub"), "-r",
             p(name + ".priv"), "-c", p(name + ".ctx"))
        tool("tpm2_flushcontext", "-t")
        return p(name + ".ctx")

    def nv_name(index):
        text = tool("tpm2_nvreadpublic", hex(index)).text
        m = re.search(r"name:\s*([0-9a-fA-F]+)", text)
        a = re.search(r"attributes:\s*\n(?:.*\n)*?\s*value:\s*(0x[0-9a-fA-F]+)", text)
        s = re.search(r"size:\s*(\d+)", text)
        T.check(m and a and s, f"[{label}] tpm2_nvreadpublic output not understood:\n{text}")
        name = bytes.fromhex(m.group(1))
        # TPMS_NV_PUBLIC: nvIndex, nameAlg, attributes, authPolicy (empty), dataSize.
        public = struct.pack(">IHIHH", index, TPM_ALG_SHA256, int(a.group(1), 16), 0,
                             int(s.group(1)))
        T.check(name == struct.pack(">H", TPM_ALG_SHA256) + sha256(public),
                f"[{label}] NV Name {name.hex()} is not hashlib's")
        return name

    PCR_SEL = ("-l", "sha256:7,11")
    tool("tpm2_startup", "-c", ok=None)
    tool("tpm2_createprimary", "-C", "o", "-G", "ecc256", "-c", p("prim.ctx"))
    tool("tpm2_flushcontext", "-t")

    # 1. PolicyPCR + PolicyAuthValue (cryptenroll --tpm2-pcrs=7+11 --tpm2-with-pin).
    pol1 = trial(("tpm2_policypcr", *PCR_SEL), ("tpm2_policyauthvalue",))
    want = policy_auth_value(policy_pcr(ZERO, pcrs()))
    T.check(pol1 == want, f"[{label}] PolicyPCR + PolicyAuthValue {pol1.hex()}, hashlib "
            f"{want.hex()}")
    note("1 policy digest", pol1.hex())
    obj = seal("pin", put("pol1", pol1), "-p", "pin")
    s = policy_session(("tpm2_policypcr", *PCR_SEL), ("tpm2_policyauthvalue",))
    got = tool("tpm2_unseal", "-c", obj, "-p", f"session:{s}+pin").stdout
    T.check(got == SECRET, f"[{label}] unsealed {got!r}")
    note("1 unseal with the PIN", got)
    flush_sessions()
    s = policy_session(("tpm2_policypcr", *PCR_SEL), ("tpm2_policyauthvalue",))
    note("1 unseal with a wrong PIN rc", hex(failing("tpm2_unseal", "-c", obj, "-p",
                                                      f"session:{s}+wrong")))
    flush_sessions()
    tool("tpm2_pcrextend", "11:sha256=" + sha256(b"systemd-flows").hex())
    s = policy_session(("tpm2_policypcr", *PCR_SEL), ("tpm2_policyauthvalue",))
    note("1 unseal after extending PCR 11 rc", hex(failing("tpm2_unseal", "-c", obj, "-p",
                                                            f"session:{s}+pin")))
    flush_sessions()
    T.log(f"ok [{label}]: PolicyPCR + PolicyAuthValue sealing, wrong PIN, changed PCR 11")

    # 2. PolicyAuthorizeNV with the PCR policy in an NV index (pcrlock).
    idx = hex(INDEX_POLICY)
    tool("tpm2_nvdefine", idx, "-C", "o", "-s", "34", "-a",
         "ownerread|ownerwrite|authread|authwrite")
    pcr_pol = trial(("tpm2_policypcr", *PCR_SEL))
    T.check(pcr_pol == policy_pcr(ZERO, pcrs()), f"[{label}] PolicyPCR digest")
    tool("tpm2_nvwrite", idx, "-C", "o", "-i",
         put("tpmt_ha", struct.pack(">H", TPM_ALG_SHA256) + pcr_pol))
    name = nv_name(INDEX_POLICY)
    note("2 NV index Name", name.hex())
    pol2 = trial(("tpm2_policyauthorizenv", "-C", idx, idx))
    T.check(pol2 == policy_authorize_nv(name), f"[{label}] PolicyAuthorizeNV {pol2.hex()}, "
            f"hashlib {policy_authorize_nv(name).hex()}")
    note("2 policy digest", pol2.hex())
    obj = seal("nvpol", put("pol2", pol2))
    steps = (("tpm2_policypcr", *PCR_SEL), ("tpm2_policyauthorizenv", "-C", idx, idx))
    s = policy_session(*steps)
    got = tool("tpm2_unseal", "-c", obj, "-p", f"session:{s}").stdout
    T.check(got == SECRET, f"[{label}] unsealed {got!r}")
    note("2 unseal", got)
    flush_sessions()
    tool("tpm2_pcrextend", "11:sha256=" + sha256(b"next boot phase").hex())
    s = policy_session(("tpm2_policypcr", *PCR_SEL))
    note("2 PolicyAuthorizeNV after extending PCR 11 rc",
         hex(failing("tpm2_policyauthorizenv", "-S", s, "-C", idx, idx)))
    flush_sessions()
    new_pol = policy_pcr(ZERO, pcrs())
    tool("tpm2_nvwrite", idx, "-C", "o", "-i",
         put("tpmt_ha", struct.pack(">H", TPM_ALG_SHA256) + new_pol))
    T.check(nv_name(INDEX_POLICY) == name, f"[{label}] the rewrite changed the index's Name")
    s = policy_session(*steps)
    got = tool("tpm2_unseal", "-c", obj, "-p", f"session:{s}").stdout
    T.check(got == SECRET, f"[{label}] unsealed after the update {got!r}")
    note("2 unseal after rewriting the NV policy", got)
    flush_sessions()
    T.log(f"ok [{label}]: PolicyAuthorizeNV sealing, PCR change, NV policy update")

    # 3. An NV extend index and PolicyNV on its value.
    idx = hex(INDEX_EXTEND)
    tool("tpm2_nvdefine", idx, "-C", "o", "-s", "32", "-g", "sha256", "-a",
         "ownerread|ownerwrite|authread|nt=extend")
    tool("tpm2_nvextend", idx, "-C", "o", "-i", put("a", b"phase a"))
    tool("tpm2_nvextend", idx, "-C", "o", "-i", put("b", b"phase b"))
    value = tool("tpm2_nvread", idx, "-C", "o", "-s", "32").stdout
    chain = sha256(sha256(ZERO, b"phase a"), b"phase b")
    T.check(value == chain, f"[{label}] extend index {value.hex()}, hashlib {chain.hex()}")
    note("3 extend index value", value.hex())
    name = nv_name(INDEX_EXTEND)
    note("3 NV index Name", name.hex())
    operand = put("operand", value)
    pol3 = trial(("tpm2_policynv", "-C", "o", "-i", operand, idx, "eq"))
    T.check(pol3 == policy_nv(ZERO, value, 0, 0, name), f"[{label}] PolicyNV {pol3.hex()}, "
            f"hashlib {policy_nv(ZERO, value, 0, 0, name).hex()}")
    note("3 policy digest", pol3.hex())
    obj = seal("nvext", put("pol3", pol3))
    s = policy_session(("tpm2_policynv", "-C", "o", "-i", operand, idx, "eq"))
    got = tool("tpm2_unseal", "-c", obj, "-p", f"session:{s}").stdout
    T.check(got == SECRET, f"[{label}] unsealed {got!r}")
    note("3 unseal", got)
    flush_sessions()
    s = policy_session()
    note("3 PolicyNV with another operand rc",
         hex(failing("tpm2_policynv", "-S", s, "-C", "o", "-i", put("other", chain[::-1]),
                     idx, "eq")))
    flush_sessions()
    T.log(f"ok [{label}]: NV extend chain, PolicyNV sealing, a mismatch refused")
    for index in (INDEX_POLICY, INDEX_EXTEND):
        tool("tpm2_nvundefine", hex(index), "-C", "o")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tcti", required=True, help="TPM under test (mssim:/spawn:host-sim)")
    ap.add_argument("--ref-tcti", default="spawn:swtpm", help="reference (default spawn:swtpm)")
    args = ap.parse_args()
    T.require_programs("swtpm", "swtpm_setup", "tpm2_policyauthorizenv", "tpm2_nvextend")
    with open_target(args.tcti) as tcti, open_target(args.ref_tcti) as ref_tcti:
        rows = {}
        for label, t in (("ours", tcti), ("swtpm", ref_tcti)):
            with tempfile.TemporaryDirectory() as work:
                rows[label] = flows(t, work, label)
        diffs = [(a, b) for a, b in zip(rows["ours"], rows["swtpm"]) if a != b]
        T.check(len(rows["ours"]) == len(rows["swtpm"]) and not diffs,
                f"ours and swtpm differ: {diffs}")
        T.log(f"ok: {len(rows['ours'])} outcomes identical on ours and swtpm")


if __name__ == "__main__":
    T.run_main(main)
