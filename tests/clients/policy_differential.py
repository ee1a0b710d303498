#!/usr/bin/python3
"""The policy language, differentially: our TPM against swtpm 0.7.1 (libtpms 0.9.2).

    /usr/bin/python3 tests/clients/policy_differential.py --tcti mssim:host=127.0.0.1,port=N
        [--ref-tcti swtpm:host=127.0.0.1,port=M]      # default: spawn:swtpm (a fresh one)
        [--accept-libtpms-divergences]                 # when --tcti is swtpm too

Every case is a raw command sequence sent identically to both TPMs (handles, Names and
nonces are read from each TPM's own answers; signatures are made here with `cryptography`
over what each TPM's session needs):

  1. trial sessions: every policy command of Part 3 §23 with realistic arguments (PCR
     selections in the sha256 and sha384 banks, localities, cpHash / nameHash / template
     digests, an NV index defined identically on both TPMs, a P-256 key loaded with
     LoadExternal); PolicyGetDigest must be equal on both TPMs and equal to the digest
     recomputed here from the formulas of Part 3 §23 (written out in `Model`);
  2. real policy sessions, the assertions checked when the command runs: wrong pcrDigest,
     locality 0 and normal / extended mixed, cpHash size and conflicts, PolicyCommandCode of
     an unimplemented code and of two codes, PolicyNvWritten(2), PolicyTicket in a trial
     session and forged, PolicyAuthorize with approvedPolicy ≠ policyDigest and with a wrong
     ticket, PolicyNV with every TPM_EO true and false on an 8-byte NV value, PolicyCounterTimer
     out of range, PolicySigned with a bad signature, another session's nonceTPM, an
     expiration in the past;
  3. end to end (unsealed data checked): PolicySigned with a software P-256 key; a PolicySigned
     ticket used by PolicyTicket in another session; PolicyPCR sealing and TPM_RC_PCR_CHANGED;
     PolicyAuthorize with a VerifySignature ticket; PolicyAuthorizeNV; PolicyCommandCode with
     PolicyAuthValue / PolicyPassword; PolicyLocality at localities 0–3 (the mssim framing's
     locality byte, which swtpm honours); PolicyNameHash (approved through PolicyAuthorize,
     since an object's Name cannot be in its own authPolicy); PolicyTemplate authorizing
     Create under a parent whose only authorization is that policy.

Response codes and derived values (digest = the Part 3 formula, unsealed data, ...) must be
equal on both TPMs, and swtpm must give the outcome each case expects (so that an answer
equal to swtpm's is also the intended one).

Exit status: 0 identical, 1 a difference or failure, 77 a prerequisite is missing.
"""

import argparse
import hashlib
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpmlib as T  # noqa: E402
from attacks_differential import (  # noqa: E402
    ALG_ECDSA, ALG_KEYEDHASH, AES128CFB, DECRYPT_A, FIXED_PARENT,
    FIXED_TPM, NO_DA, RESTRICTED, RH_NULL, RH_OWNER, SE_POLICY, SENS_ORIGIN, SHA256, SIGN,
    SYM_NULL, USER_WITH_AUTH, Reader, Session, Target, Use, b2, ecc_public, sensitive)
from servers import open_target  # noqa: E402
from tpmlib import PW, auth  # noqa: E402

SE_TRIAL = 3
SHA384 = 0x000C

# --- command codes (Part 2 §6.5.2) -------------------------------------------------------
CC = dict(
    NV_UndefineSpace=0x122, NV_DefineSpace=0x12A, CreatePrimary=0x131, NV_Write=0x137,
    PolicyNV=0x149, Create=0x153, Load=0x157, Unseal=0x15E, PolicySigned=0x160,
    PolicyCpHash=0x16E, FlushContext=0x165, LoadExternal=0x167, NV_ReadPublic=0x169,
    PolicyAuthorize=0x16A, PolicyAuthValue=0x16B, PolicyCommandCode=0x16C,
    PolicyCounterTimer=0x16D, PolicyLocality=0x16F, PolicyNameHash=0x170, PolicyOR=0x171,
    PolicyTicket=0x172, ReadPublic=0x173, StartAuthSession=0x176, VerifySignature=0x177,
    GetCapability=0x17A, GetRandom=0x17B, PolicyPCR=0x17F, PolicyRestart=0x180,
    PCR_Extend=0x182, PolicyGetDigest=0x189, PolicyPassword=0x18C, PolicyNvWritten=0x18F,
    PolicyTemplate=0x190, PolicySecret=0x151, PolicyAuthorizeNV=0x192,
)
ST_AUTH_SIGNED, ST_VERIFIED = 0x8025, 0x8022

# --- response codes (Part 2 §6.6), compared without their handle / parameter / session part
RC = dict(
    SUCCESS=0x000, ATTRIBUTES=0x082, HASH=0x083, VALUE=0x084, RANGE=0x08D, AUTH_FAIL=0x08E,
    NONCE=0x08F, SIZE=0x095, INSUFFICIENT=0x09A, SIGNATURE=0x09B, POLICY_FAIL=0x09D,
    TICKET=0x0A0, BAD_AUTH=0x0A2, EXPIRED=0x0A3, POLICY_CC=0x0A4, POLICY=0x126, PCR_CHANGED=0x128,
    AUTH_UNAVAILABLE=0x12F, NV_UNINITIALIZED=0x14A, CPHASH=0x151, LOCALITY=0x907,
)
RC_NAMES = {v: k for k, v in RC.items()}

# NV attributes (Part 2 §13.4)
NV_AUTHWRITE, NV_AUTHREAD, NV_NO_DA = 0x4, 0x40000, 0x2000000
NV_COND, NV_POLICY, NV_EMPTY, NV_COUNTER, NV_WRITE_ONCE = (
    0x01500A10, 0x01500A11, 0x01500A12, 0x01500A13, 0x01500A14)
NV_POLICYWRITE, NT_COUNTER = 0x8, 0x10
SEALED_POLICY_ONLY = FIXED_TPM | FIXED_PARENT | NO_DA  # userWithAuth clear: policy only
PCR = 16  # the debug PCR: extendable at locality 0, in TPM_PT_PCR_NO_INCREMENT
PCR_COUNTED = 8  # extendable at locality 0, counted by pcrUpdateCounter


def rc_base(rc):
    """The error without its handle / parameter / session number (Part 2 §6.6.3)."""
    if rc is None or rc == 0:
        return rc
    return 0x080 | (rc & 0x3F) if rc & 0x080 else rc


def rc_text(rc):
    if rc is None:
        return "-"
    name = RC_NAMES.get(rc_base(rc))
    return f"{rc:#x}" + (f" {name}" if name and rc else "")


def H(*parts, alg="sha256"):
    return hashlib.new(alg, b"".join(parts)).digest()


def u16(v):
    return struct.pack(">H", v)


def u32(v):
    return struct.pack(">I", v)


class Model:
    """policyDigest updates of TCG TPM 2.0 Part 3 §23, written out (SHA-256 sessions).

    Where the Part 3 text and libtpms (and the reference code) agree, it says so; every
    formula is also checked against both TPMs in the trial cases.
    """

    @staticmethod
    def update(old, cc, name, ref):
        # §23.2.3 PolicyUpdate (PolicySigned / PolicySecret / PolicyTicket / PolicyAuthorize):
        #   policyDigest' = H(policyDigest ‖ commandCode ‖ name)
        #   policyDigest'' = H(policyDigest' ‖ policyRef)
        # The second hash is always done, also for an empty policyRef (Part 3 text and
        # libtpms agree: PolicyContextUpdate hashes the empty TPM2B's buffer).
        return H(H(old, u32(cc), name), ref)

    @staticmethod
    def signed(old, key_name, ref=b""):        # §23.3
        return Model.update(old, CC["PolicySigned"], key_name, ref)

    @staticmethod
    def secret(old, auth_name, ref=b""):       # §23.4
        return Model.update(old, CC["PolicySecret"], auth_name, ref)

    @staticmethod
    def or_(digests):                          # §23.6: the old digest is replaced by zeros
        return H(bytes(32), u32(CC["PolicyOR"]), *digests)

    @staticmethod
    def pcr(old, selection, pcr_digest):       # §23.7: pcrs as marshaled (TPML_PCR_SELECTION);
        # pcrDigest = H_session(the selected PCR values, bank by bank in the order listed,
        # PCRs ascending), given by the caller or computed by the TPM when empty.
        return H(old, u32(CC["PolicyPCR"]), selection, pcr_digest)

    @staticmethod
    def locality(old, loc):                    # §23.8: the TPMA_LOCALITY byte
        return H(old, u32(CC["PolicyLocality"]), bytes([loc]))

    @staticmethod
    def nv(old, operand, offset, op, nv_name):  # §23.9: args = H(operandB ‖ offset ‖ op)
        return H(old, u32(CC["PolicyNV"]), H(operand, u16(offset), u16(op)), nv_name)

    @staticmethod
    def counter_timer(old, operand, offset, op):  # §23.10: no Name
        return H(old, u32(CC["PolicyCounterTimer"]), H(operand, u16(offset), u16(op)))

    @staticmethod
    def command_code(old, code):               # §23.11
        return H(old, u32(CC["PolicyCommandCode"]), u32(code))

    @staticmethod
    def cp_hash(old, cp):                      # §23.13: cpHashA's buffer, no size
        return H(old, u32(CC["PolicyCpHash"]), cp)

    @staticmethod
    def name_hash(old, nh):                    # §23.14
        return H(old, u32(CC["PolicyNameHash"]), nh)

    @staticmethod
    def authorize(key_name, ref):              # §23.16: starts from zeros, then PolicyUpdate
        return Model.update(bytes(32), CC["PolicyAuthorize"], key_name, ref)

    @staticmethod
    def auth_value(old):                       # §23.17 and §23.18: PolicyPassword extends
        return H(old, u32(CC["PolicyAuthValue"]))  # with TPM_CC_PolicyAuthValue as well

    @staticmethod
    def nv_written(old, yes):                  # §23.20: the TPMI_YES_NO byte
        return H(old, u32(CC["PolicyNvWritten"]), bytes([yes]))

    @staticmethod
    def template(old, th):                     # §23.21
        return H(old, u32(CC["PolicyTemplate"]), th)

    @staticmethod
    def authorize_nv(nv_name):                 # §23.22: zeros, then H(… ‖ nvIndex Name);
        # no policyRef (Part 3 text and the reference's PolicyContextUpdate(…, NULL, …) agree)
        return H(bytes(32), u32(CC["PolicyAuthorizeNV"]), nv_name)


def pcr_selection(sel):
    """TPML_PCR_SELECTION from [(bank, [pcr…])…] in that order, sizeofSelect 3."""
    out = u32(len(sel))
    for bank, idxs in sel:
        bits = bytearray(3)
        for i in idxs:
            bits[i // 8] |= 1 << (i % 8)
        out += u16(T.ALG_IDS[bank]) + b"\x03" + bytes(bits)
    return out


# --- software keys (cryptography) ------------------------------------------------------------
class SoftKey:
    """A P-256 ECDSA key held here; its public area goes to the TPM with LoadExternal."""

    def __init__(self, crypto):
        self.c = crypto
        self.key = crypto.ec.generate_private_key(crypto.ec.SECP256R1())
        nums = self.key.public_key().public_numbers()
        self.public = ecc_public(SIGN | USER_WITH_AUTH,
                                 scheme=struct.pack(">HH", ALG_ECDSA, SHA256),
                                 x=nums.x.to_bytes(32, "big"), y=nums.y.to_bytes(32, "big"))
        self.name = u16(SHA256) + H(self.public)

    def sign(self, digest):
        """TPMT_SIGNATURE (ECDSA, SHA-256) over a digest."""
        der = self.key.sign(digest, self.c.ec.ECDSA(self.c.Prehashed(self.c.hashes.SHA256())))
        r, s = self.c.decode_dss_signature(der)
        return struct.pack(">HH", ALG_ECDSA, SHA256) + b2(r.to_bytes(32, "big")) \
            + b2(s.to_bytes(32, "big"))


def eo_libtpms(op, a, b):
    """TPM_EO as libtpms 0.9.2 evaluates it (its SignedCompareB: different signs → the
    non-negative one is larger; both negative → the unsigned comparison negated)."""
    ua, ub = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    unsigned = (ua > ub) - (ua < ub)
    na, nb = a[0] >> 7, b[0] >> 7
    signed = (nb - na) if na != nb else (-unsigned if na else unsigned)
    return {0: unsigned == 0, 1: unsigned != 0, 2: signed > 0, 3: unsigned > 0, 4: signed < 0,
            5: unsigned < 0, 6: signed >= 0, 7: unsigned >= 0, 8: signed <= 0, 9: unsigned <= 0,
            0xA: ua & ub == ub, 0xB: ua & ub == 0}[op]


def dummy_signature():
    return struct.pack(">HH", ALG_ECDSA, SHA256) + b2(bytes(32)) + b2(bytes(32))


def a_hash(nonce_tpm, expiration, cp_hash=b"", ref=b""):
    """PolicySigned's aHash (Part 3 §23.3): H(nonceTPM ‖ expiration ‖ cpHashA ‖ policyRef)"""
    return H(nonce_tpm, struct.pack(">i", expiration), cp_hash, ref)


def sealed_public(attrs, policy=b""):
    return struct.pack(">HHI", ALG_KEYEDHASH, SHA256, attrs) + b2(policy) + SYM_NULL + b2(b"")


# --- the TPM as this script drives it ---------------------------------------------------------
class PTarget(Target):
    """attacks_differential's Target, plus a locality per command and HMACs on policy
    sessions (PolicyAuthValue)."""

    def __init__(self, label, tcti):
        super().__init__(label, tcti)
        self.locality = 0

    def send(self, cmd):
        for _ in range(3):  # TPM_RC_RETRY is resubmitted, as ESYS does
            out = self.raw.send(cmd, locality=self.locality, framing="mssim")
            T.check(out.ok, f"[{self.label}] no response: {out.describe()}")
            if out.rc != 0x922:
                break
        return out

    def call(self, cc, handles=(), uses=None, params=b"", rsp_handles=0, names=None,
             locality=0, hmac_policy=False):
        """One command; hmac_policy: the policy session of uses[0] carries an HMAC keyed
        with sessionKey ‖ authValue (PolicyAuthValue)."""
        cc = CC[cc] if isinstance(cc, str) else cc
        policy = uses[0].sess if hmac_policy else None
        if policy is not None:
            policy.kind = 0  # computed (and the response HMAC checked) as for an HMAC session
        if names is None:
            names = [self.name(h) for h in handles]
        self.locality = locality
        try:
            return super().call(cc, handles, uses, params, rsp_handles, names)
        finally:
            self.locality = 0
            if policy is not None:
                policy.kind = SE_POLICY
            if locality:
                # swtpm keeps the last locality for later commands: back to 0
                super().call(CC["GetRandom"], params=u16(1))

    def name(self, h):
        if h >> 24 == 0x01:
            res = self.call("NV_ReadPublic", [h], names=[])
            if res.rc == 0:
                r = Reader(res.params)
                r.b2b()
                return r.b2b()
            return b""
        return super().name(h)

    def start(self, se=SE_POLICY, **kw):
        return super().start(se=se, **kw)

    def digest(self, s):
        res = self.call("PolicyGetDigest", [s.handle], names=[])
        T.check(res.rc == 0, f"[{self.label}] PolicyGetDigest: rc {res.rc:#x}")
        return Reader(res.params).b2b()

    def nv_define(self, index, size, attrs, auth_value=b""):
        self.call("NV_UndefineSpace", [RH_OWNER, index], [PW])  # left over from a run before
        pub = u32(index) + u16(SHA256) + u32(attrs) + b2(b"") + u16(size)
        self.ok("NV_DefineSpace", "NV_DefineSpace", [RH_OWNER], [PW], b2(auth_value) + b2(pub))

    def nv_write(self, index, data, auth_value=b""):
        self.ok("NV_Write", "NV_Write", [index, index], [auth(hmac=auth_value)],
                b2(data) + u16(0))

    def create_sealed(self, parent, attrs, policy, data, user_auth=b""):
        priv, pub = self.create(parent, sealed_public(attrs, policy), user_auth, data)
        return self.load(parent, priv, pub)


# --- the cases ---------------------------------------------------------------------------
class Rows:
    def __init__(self):
        self.rows = []

    def add(self, name, expect, rc, extra=None, divergence=None):
        """expect: an RC name ('SUCCESS', 'VALUE', …), 'refuse', or None (no expectation).
        divergence: why swtpm's answer is known to be wrong here; the TPM under test must
        then give `expect` (the specification's answer) and need not equal swtpm."""
        self.rows.append([name, expect, rc, extra, divergence])
        return rc

    def note(self, extra):
        self.rows[-1][3] = extra


def model_check(got, want):
    return "= Part 3 formula" if got == want else f"{got.hex()} (Part 3: {want.hex()})"


def trial_cases(t, rows, crypto, ctx):
    """Part 1: every policy command in a trial session; digest vs the Part 3 formula."""
    prefix_code = CC["Unseal"]
    # Every case starts with PolicyCommandCode(Unseal), so that the old digest is not zeros
    # (the commands that reset it must be seen to do so); except PolicyCommandCode itself.

    def trial(name, steps, model, prefix=True):
        s = t.start(se=SE_TRIAL)
        old = bytes(32)
        if prefix:
            t.ok("PolicyCommandCode", "PolicyCommandCode", [s.handle], params=u32(prefix_code))
            old = Model.command_code(old, prefix_code)
        rc = 0
        for cc, handles, uses, params in steps:
            res = t.call(cc, list(handles) + [s.handle], uses, params)
            rc = res.rc
            if rc:
                break
        rows.add("1 trial " + name, "SUCCESS", rc)
        if rc == 0:
            rows.note(model_check(t.digest(s), model(old)))
        t.flush(s)

    sig_params = b2(b"") + b2(b"") + b2(b"signed-ref") + struct.pack(">i", 0)
    signer = t.load_public(ctx["soft_null"].public, RH_NULL)[0]
    trial("PolicySigned (P-256 key via LoadExternal, policyRef)",
          [("PolicySigned", [signer], None, sig_params + dummy_signature())],
          lambda o: Model.signed(o, ctx["soft_null"].name, b"signed-ref"))
    t.flush(signer)
    trial("PolicySecret (owner, password, policyRef)",
          [("PolicySecret", [RH_OWNER], [PW], b2(b"") + b2(b"") + b2(b"secret-ref")
            + struct.pack(">i", 0))],
          lambda o: Model.secret(o, u32(RH_OWNER), b"secret-ref"))
    branches = [H(b"branch a"), H(b"branch b"), H(b"branch c")]
    trial("PolicyOR (three branches)",
          [("PolicyOR", [], None, u32(3) + b"".join(b2(d) for d in branches))],
          lambda o: Model.or_(branches))
    pcrs = t.raw.pcr_read(["sha256", "sha384"], [0, PCR])
    sel = pcr_selection([("sha256", [0, PCR])])
    trial("PolicyPCR sha256 {0,16}, pcrDigest empty (TPM computes it)",
          [("PolicyPCR", [], None, b2(b"") + sel)],
          lambda o: Model.pcr(o, sel, H(pcrs["sha256"][0], pcrs["sha256"][PCR])))
    sel2 = pcr_selection([("sha384", [PCR]), ("sha256", [0])])
    trial("PolicyPCR sha384 {16} + sha256 {0}, pcrDigest empty",
          [("PolicyPCR", [], None, b2(b"") + sel2)],
          lambda o: Model.pcr(o, sel2, H(pcrs["sha384"][PCR], pcrs["sha256"][0])))
    given = H(b"some future PCR state")
    sel3 = pcr_selection([("sha384", [0, PCR])])
    trial("PolicyPCR sha384 {0,16}, pcrDigest given",
          [("PolicyPCR", [], None, b2(given) + sel3)], lambda o: Model.pcr(o, sel3, given))
    trial("PolicyLocality 0x03 (localities 0, 1)",
          [("PolicyLocality", [], None, b"\x03")], lambda o: Model.locality(o, 3))
    trial("PolicyLocality 0x1C then 0x08 (narrowed to 3)",
          [("PolicyLocality", [], None, b"\x1c"), ("PolicyLocality", [], None, b"\x08")],
          lambda o: Model.locality(Model.locality(o, 0x1C), 0x08))
    trial("PolicyLocality 0x20 (extended locality 32)",
          [("PolicyLocality", [], None, b"\x20")], lambda o: Model.locality(o, 0x20))
    cp = H(u32(CC["Unseal"]) + b"some object name")
    trial("PolicyCpHash", [("PolicyCpHash", [], None, b2(cp))], lambda o: Model.cp_hash(o, cp))
    nh = H(b"some object name")
    trial("PolicyNameHash", [("PolicyNameHash", [], None, b2(nh))],
          lambda o: Model.name_hash(o, nh))
    th = H(sealed_public(SEALED_POLICY_ONLY))
    trial("PolicyTemplate", [("PolicyTemplate", [], None, b2(th))],
          lambda o: Model.template(o, th))
    trial("PolicyCommandCode(Unseal)",
          [("PolicyCommandCode", [], None, u32(CC["Unseal"]))],
          lambda o: Model.command_code(o, CC["Unseal"]), prefix=False)
    trial("PolicyAuthValue", [("PolicyAuthValue", [], None, b"")], Model.auth_value)
    trial("PolicyPassword (extends with TPM_CC_PolicyAuthValue)",
          [("PolicyPassword", [], None, b"")], Model.auth_value)
    trial("PolicyNvWritten(YES)", [("PolicyNvWritten", [], None, b"\x01")],
          lambda o: Model.nv_written(o, 1))
    trial("PolicyNvWritten(NO)", [("PolicyNvWritten", [], None, b"\x00")],
          lambda o: Model.nv_written(o, 0))
    operand = bytes.fromhex("0000000000000100")
    trial("PolicyNV (index auth, 8-byte operand, offset 0, UNSIGNED_GE)",
          [("PolicyNV", [NV_COND, NV_COND], [PW], b2(operand) + u16(0) + u16(7))],
          lambda o: Model.nv(o, operand, 0, 7, t.name(NV_COND)))
    trial("PolicyNV (4-byte operand at offset 4, BITSET)",
          [("PolicyNV", [NV_COND, NV_COND], [PW], b2(b"\x00\x00\x01\x00") + u16(4) + u16(0xA))],
          lambda o: Model.nv(o, b"\x00\x00\x01\x00", 4, 0xA, t.name(NV_COND)))
    trial("PolicyCounterTimer (clock ≥ 1, offset 8)",
          [("PolicyCounterTimer", [], None, b2(u32(0) + u32(1)) + u16(8) + u16(7))],
          lambda o: Model.counter_timer(o, u32(0) + u32(1), 8, 7))
    approved = H(b"an approved policy")
    null_verified = struct.pack(">HIH", ST_VERIFIED, RH_NULL, 0)
    trial("PolicyAuthorize (keySign Name, policyRef; digest restarts from zeros)",
          [("PolicyAuthorize", [], None, b2(approved) + b2(b"auth-ref")
            + b2(ctx["signer_owner_name"]) + null_verified)],
          lambda o: Model.authorize(ctx["signer_owner_name"], b"auth-ref"))
    trial("PolicyAuthorizeNV (restarts from zeros, no policyRef)",
          [("PolicyAuthorizeNV", [NV_POLICY, NV_POLICY], [PW], b"")],
          lambda o: Model.authorize_nv(t.name(NV_POLICY)))
    trial("PolicyRestart (digest back to zeros)",
          [("PolicyRestart", [], None, b"")], lambda o: bytes(32))
    # A chain: PolicySecret, PolicyPCR, PolicyCommandCode, PolicyAuthValue in one session.
    trial("chain PolicySecret, PolicyPCR, PolicyCommandCode, PolicyAuthValue",
          [("PolicySecret", [RH_OWNER], [PW], b2(b"") * 3 + struct.pack(">i", 0)),
           ("PolicyPCR", [], None, b2(b"") + sel),
           ("PolicyCommandCode", [], None, u32(CC["Unseal"])),
           ("PolicyAuthValue", [], None, b"")],
          lambda o: Model.auth_value(Model.command_code(Model.pcr(
              Model.secret(o, u32(RH_OWNER)), sel,
              H(pcrs["sha256"][0], pcrs["sha256"][PCR])), CC["Unseal"])), prefix=False)


def assertion_cases(t, rows, crypto, ctx):
    """Part 2: real policy sessions, the assertions checked when the command runs."""
    def one(name, expect, cc, params=b"", handles=(), uses=None, se=SE_POLICY, setup=()):
        s = t.start(se=se)
        for scc, sparams in setup:
            t.ok(f"{name}: setup", scc, [s.handle], params=sparams)
        res = t.call(cc, list(handles) + [s.handle], uses, params)
        rows.add("2 " + name, expect, res.rc)
        t.flush(s)
        return res

    sel = pcr_selection([("sha256", [PCR])])
    one("PolicyPCR with a wrong pcrDigest", "VALUE", "PolicyPCR", b2(H(b"wrong")) + sel)
    one("PolicyPCR with a pcrDigest of the wrong size", "refuse", "PolicyPCR",
        b2(b"\x01" * 20) + sel)
    one("PolicyLocality 0", "RANGE", "PolicyLocality", b"\x00")
    one("PolicyLocality 0x01 then extended 0x20", "RANGE", "PolicyLocality", b"\x20",
        setup=[("PolicyLocality", b"\x01")])
    one("PolicyLocality 0x20 then normal 0x01", "RANGE", "PolicyLocality", b"\x01",
        setup=[("PolicyLocality", b"\x20")])
    one("PolicyLocality 0x03 then 0x0C (no locality left)", "RANGE", "PolicyLocality",
        b"\x0c", setup=[("PolicyLocality", b"\x03")])
    one("PolicyLocality 0x20 then 0x21 (two extended)", "RANGE", "PolicyLocality", b"\x21",
        setup=[("PolicyLocality", b"\x20")])
    cp1, cp2 = H(b"cp one"), H(b"cp two")
    one("PolicyCpHash of 20 bytes (session hash SHA-256)", "SIZE", "PolicyCpHash",
        b2(b"\x01" * 20))
    one("PolicyCpHash twice, different cpHashes", "CPHASH", "PolicyCpHash", b2(cp2),
        setup=[("PolicyCpHash", b2(cp1))])
    one("PolicyCpHash twice, the same cpHash", "SUCCESS", "PolicyCpHash", b2(cp1),
        setup=[("PolicyCpHash", b2(cp1))])
    one("PolicyNameHash after PolicyCpHash", "CPHASH", "PolicyNameHash", b2(cp2),
        setup=[("PolicyCpHash", b2(cp1))])
    one("PolicyCpHash after PolicyNameHash", "CPHASH", "PolicyCpHash", b2(cp2),
        setup=[("PolicyNameHash", b2(cp1))])
    one("PolicyNameHash twice", "CPHASH", "PolicyNameHash", b2(cp1),
        setup=[("PolicyNameHash", b2(cp1))])
    one("PolicyTemplate after PolicyCpHash", "CPHASH", "PolicyTemplate", b2(cp2),
        setup=[("PolicyCpHash", b2(cp1))])
    one("PolicyTemplate twice, different templates", "VALUE", "PolicyTemplate", b2(cp2),
        setup=[("PolicyTemplate", b2(cp1))])
    one("PolicyCommandCode of an unimplemented code (0x11E)", "POLICY_CC",
        "PolicyCommandCode", u32(0x11E))
    one("PolicyCommandCode(Unseal) then PolicyCommandCode(Sign)", "VALUE",
        "PolicyCommandCode", u32(0x15D), setup=[("PolicyCommandCode", u32(CC["Unseal"]))])
    one("PolicyNvWritten(2)", "VALUE", "PolicyNvWritten", b"\x02")
    one("PolicyNvWritten(YES) then PolicyNvWritten(NO)", "VALUE", "PolicyNvWritten", b"\x00",
        setup=[("PolicyNvWritten", b"\x01")])

    # PolicyTicket: a trial session; a forged ticket; a ticket for another policyRef.
    tk = ctx["ticket"]  # (timeout, policyRef, ticket bytes) from a PolicySigned, per TPM
    key_name = ctx["signer_owner_name"]
    tparams = b2(tk[0]) + b2(b"") + b2(tk[1]) + b2(key_name)
    one("PolicyTicket in a trial session", "ATTRIBUTES", "PolicyTicket", tparams + tk[2],
        se=SE_TRIAL)
    forged = tk[2][:-1] + bytes([tk[2][-1] ^ 1])
    one("PolicyTicket with a forged ticket (one bit flipped)", "TICKET", "PolicyTicket",
        tparams + forged)
    one("PolicyTicket with another policyRef", "TICKET", "PolicyTicket",
        b2(tk[0]) + b2(b"") + b2(b"other") + b2(key_name) + tk[2])
    one("PolicyTicket with a timeout of 4 bytes", "SIZE", "PolicyTicket",
        b2(tk[0][4:]) + b2(b"") + b2(tk[1]) + b2(key_name) + tk[2])
    one("PolicyTicket with the genuine ticket", "SUCCESS", "PolicyTicket", tparams + tk[2])

    # PolicyAuthorize: approvedPolicy ≠ policyDigest; a wrong ticket; a null-hierarchy one.
    soft, ref = ctx["soft_owner"], b"authz-ref"
    approved = Model.command_code(bytes(32), CC["Unseal"])
    ticket = ctx["verified"]  # VerifySignature over H(approved ‖ ref), per TPM
    setup = [("PolicyCommandCode", u32(CC["Unseal"]))]
    one("PolicyAuthorize with approvedPolicy ≠ policyDigest", "VALUE", "PolicyAuthorize",
        b2(H(b"not it")) + b2(ref) + b2(key_name) + ticket, setup=setup)
    bad = ticket[:-1] + bytes([ticket[-1] ^ 1])
    one("PolicyAuthorize with a wrong ticket", "VALUE", "PolicyAuthorize",
        b2(approved) + b2(ref) + b2(key_name) + bad, setup=setup)
    one("PolicyAuthorize with the ticket of another policyRef", "VALUE", "PolicyAuthorize",
        b2(approved) + b2(b"other") + b2(key_name) + ticket, setup=setup)
    one("PolicyAuthorize with a null-hierarchy ticket", "VALUE", "PolicyAuthorize",
        b2(approved) + b2(ref) + b2(key_name) + struct.pack(">HIH", ST_VERIFIED, RH_NULL, 0),
        setup=setup)
    one("PolicyAuthorize with a keySign of 33 bytes", "SIZE", "PolicyAuthorize",
        b2(approved) + b2(ref) + b2(key_name + b"\0") + ticket, setup=setup)
    one("PolicyAuthorize with the genuine ticket", "SUCCESS", "PolicyAuthorize",
        b2(approved) + b2(ref) + b2(key_name) + ticket, setup=setup)
    del soft

    # PolicyNV: every TPM_EO true and false on the 8-byte NV value (negative when signed).
    value = ctx["nv_value"]  # 0xFFFFFFFFFFFFFF00: -256 signed, 2^64 - 256 unsigned
    zero, ones, m512 = bytes(8), b"\xff" * 8, (2**64 - 512).to_bytes(8, "big")
    eo = [  # (name, code, operandB true, operandB false)
        ("EQ", 0x0, value, zero), ("NEQ", 0x1, zero, value),
        ("SIGNED_GT", 0x2, m512, zero), ("UNSIGNED_GT", 0x3, zero, ones),
        ("SIGNED_LT", 0x4, zero, m512), ("UNSIGNED_LT", 0x5, ones, zero),
        ("SIGNED_GE", 0x6, value, zero), ("UNSIGNED_GE", 0x7, value, ones),
        ("SIGNED_LE", 0x8, value, m512), ("UNSIGNED_LE", 0x9, value, zero),
        ("BITSET", 0xA, bytes.fromhex("0f000000000000ff")[:7] + b"\x00", b"\x00" * 7 + b"\x01"),
        ("BITCLEAR", 0xB, b"\x00" * 7 + b"\x01", b"\x80" + b"\x00" * 7),
    ]
    s = t.start()
    for name, op, yes, no in eo:
        for truth, operand in (("true", yes), ("false", no)):
            res = t.call("PolicyNV", [NV_COND, NV_COND, s.handle], [PW],
                         b2(operand) + u16(0) + u16(op))
            why = None
            if eo_libtpms(op, value, operand) != (truth == "true"):
                why = ("libtpms 0.9.2 SignedCompareB negates the comparison of two negative "
                       "numbers; two's complement (Part 2 §6.8) and the reference code's "
                       "SignedCompareB compare them unsigned")
            rows.add(f"2 PolicyNV {name} ({truth})", "SUCCESS" if truth == "true" else "POLICY",
                     res.rc, divergence=why)
            t.ok("PolicyRestart", "PolicyRestart", [s.handle])
    for name, expect, params in (
            ("PolicyNV 2 bytes at offset 6 (0xFF00 UNSIGNED_GE 0xFF00)", "SUCCESS",
             b2(b"\xff\x00") + u16(6) + u16(7)),
            ("PolicyNV offset 9 past the 8-byte index", "VALUE", b2(b"\x00") + u16(9) + u16(0)),
            ("PolicyNV 4 bytes at offset 6", "SIZE", b2(b"\x00" * 4) + u16(6) + u16(0)),
            ("PolicyNV operation 0x000C", "VALUE", b2(zero) + u16(0) + u16(0xC)),
            ("PolicyNV with a wrong index password", "refuse", None)):
        uses = [PW] if params is not None else [auth(hmac=b"wrong")]
        params = params if params is not None else b2(zero) + u16(0) + u16(0)
        res = t.call("PolicyNV", [NV_COND, NV_COND, s.handle], uses, params)
        rows.add("2 " + name, expect, res.rc)
        t.ok("PolicyRestart", "PolicyRestart", [s.handle])
    t.flush(s)

    # PolicyCounterTimer: out of range and false.
    # PolicyAuthorizeNV on indices that do not hold a TPMT_HA of the session's hash.
    t.nv_write(NV_COND, u16(SHA256) + b"\x01" * 6)
    for name, expect, index, setup_steps in (
            ("PolicyAuthorizeNV: 8-byte index holding sha256 ‖ 6 bytes", "INSUFFICIENT",
             NV_COND, ()),
            ("PolicyAuthorizeNV: index not written", "NV_UNINITIALIZED", NV_EMPTY, ()),
            ("PolicyAuthorizeNV: counter index (value 1: hashAlg 0)", "HASH", NV_COUNTER, ())):
        one(name, expect, "PolicyAuthorizeNV", b"", handles=[index, index], uses=[PW],
            setup=setup_steps)
    t.nv_write(NV_COND, ctx["nv_value"])

    one("PolicyCounterTimer 2 bytes at offset 24 (past TPMS_TIME_INFO)", "RANGE",
        "PolicyCounterTimer", b2(b"\x00\x00") + u16(24) + u16(7))
    one("PolicyCounterTimer time UNSIGNED_LT 0 (false)", "POLICY", "PolicyCounterTimer",
        b2(zero) + u16(0) + u16(5))
    one("PolicyCounterTimer time UNSIGNED_GT 0 (true)", "SUCCESS", "PolicyCounterTimer",
        b2(zero) + u16(0) + u16(3))
    one("PolicyCounterTimer safe (offset 24) EQ 1", None, "PolicyCounterTimer",
        b2(b"\x01") + u16(24) + u16(0))

    # PolicySigned: bad signature, another session's nonceTPM, expiration in the past.
    sk = ctx["soft_null"]
    signer = t.load_public(sk.public, RH_NULL)[0]
    s, other = t.start(), t.start()
    for name, expect, nonce, exp, sig in (
            ("PolicySigned with a bad signature", "SIGNATURE", s.nonce_tpm, 0,
             sk.sign(a_hash(s.nonce_tpm, 1))),
            ("PolicySigned with the nonceTPM of another session", "NONCE", other.nonce_tpm, 0,
             sk.sign(a_hash(other.nonce_tpm, 0))),
            ("PolicySigned with a nonceTPM of 16 bytes", "NONCE", s.nonce_tpm[:16], 0,
             sk.sign(a_hash(s.nonce_tpm[:16], 0))),
            ("PolicySigned with a signature by the wrong hash (SHA-384 tag)", "refuse",
             s.nonce_tpm, 0, struct.pack(">HH", ALG_ECDSA, SHA384)
             + sk.sign(a_hash(s.nonce_tpm, 0))[4:]),
            ("PolicySigned with cpHashA of 20 bytes", "SIZE", s.nonce_tpm, 0, None)):
        cp = b"\x01" * 20 if sig is None else b""
        if sig is None:
            sig = sk.sign(a_hash(s.nonce_tpm, 0, cp))
        res = t.call("PolicySigned", [signer, s.handle], None,
                     b2(nonce) + b2(cp) + b2(b"") + struct.pack(">i", exp) + sig)
        rows.add("2 " + name, expect, res.rc)
    t.flush(other)
    res = t.call("PolicySigned", [signer, s.handle], None,
                 b2(s.nonce_tpm) + b2(b"") + b2(b"") + struct.pack(">i", -600)
                 + sk.sign(a_hash(s.nonce_tpm, -600)))
    rows.add("2 PolicySigned by a TPM_RH_NULL key, expiration -600", "SUCCESS", res.rc)
    if res.rc == 0:
        r = Reader(res.params)
        timeout = r.b2b()
        tag, hier = struct.unpack(">HI", r.take(6))
        rows.note(f"timeout {len(timeout)} bytes, ticket hierarchy {hier:#x}, "
                  f"HMAC {'empty' if not r.b2b() else 'present'}")
    t.ok("PolicyRestart", "PolicyRestart", [s.handle])
    sko = ctx["soft_owner"]
    signer_o = t.load_public(sko.public, RH_OWNER)[0]
    res = t.ok("PolicySigned", "PolicySigned", [signer_o, s.handle], None,
               b2(s.nonce_tpm) + b2(b"") + b2(b"") + struct.pack(">i", -1)
               + sko.sign(a_hash(s.nonce_tpm, -1)))
    t.flush(signer_o)
    r = Reader(res.params)
    short_timeout = r.b2b()
    short_ticket = r.take(6) + b2(r.b2b())
    t.ok("PolicyRestart", "PolicyRestart", [s.handle])
    time.sleep(1.3)  # the session started over a second ago: expiration 1 is past
    one("PolicyTicket with a ticket whose expiration (1 s after its session) has passed",
        "EXPIRED", "PolicyTicket", b2(short_timeout) + b2(b"") + b2(b"") + b2(sko.name)
        + short_ticket)
    res = t.call("PolicySigned", [signer, s.handle], None,
                 b2(s.nonce_tpm) + b2(b"") + b2(b"") + struct.pack(">i", 1)
                 + sk.sign(a_hash(s.nonce_tpm, 1)))
    rows.add("2 PolicySigned, nonceTPM given, expiration 1 s, 1.3 s after the session start",
             "EXPIRED", res.rc)
    res = t.call("PolicySigned", [signer, s.handle], None,
                 b2(s.nonce_tpm) + b2(b"") + b2(b"") + struct.pack(">i", 10)
                 + sk.sign(a_hash(s.nonce_tpm, 10)))
    rows.add("2 PolicySigned, nonceTPM given, expiration 10 s (not yet past)", "SUCCESS", res.rc)
    t.flush(s)
    t.flush(signer)


def end_to_end(t, rows, crypto, ctx):
    """Part 3: real sessions authorizing Unseal / Create; the data comes back."""
    data = b"policy sealed data"
    srk = t.primary()  # swtpm holds three transient objects: load what each flow needs

    def unseal(name, expect, obj, s, want=data, **kw):
        res = t.call("Unseal", [obj], [Use(s, **{k: v for k, v in kw.items()
                                                 if k in ("auth", "mac", "attrs")})],
                     locality=kw.get("locality", 0), hmac_policy=kw.get("hmac_policy", False))
        rows.add("3 " + name, expect, res.rc)
        if res.rc == 0:
            rows.note("data ok" if Reader(res.params).b2b() == want else "data BAD")
        return res

    # PolicySigned with a key made here.
    sk = ctx["soft_null"]
    signer = t.load_public(sk.public, RH_NULL)[0]
    policy = Model.signed(bytes(32), sk.name)
    obj = t.create_sealed(srk, SEALED_POLICY_ONLY, policy, data)
    s = t.start()
    res = t.call("PolicySigned", [signer, s.handle], None,
                 b2(s.nonce_tpm) + b2(b"") + b2(b"") + struct.pack(">i", 0)
                 + sk.sign(a_hash(s.nonce_tpm, 0)))
    rows.add("3 PolicySigned (P-256, cryptography) over H(nonceTPM ‖ 0 ‖ ‖ )", "SUCCESS",
             res.rc)
    unseal("Unseal authorized by PolicySigned", "SUCCESS", obj, s)
    unseal("Unseal again, the policy not re-run", "POLICY_FAIL", obj, s)
    t.flush(s)
    t.flush(obj)
    t.flush(signer)

    # PolicySigned with a negative expiration: a ticket; PolicyTicket in a new session.
    sko = ctx["soft_owner"]
    signer_o = t.load_public(sko.public, RH_OWNER)[0]
    policy = Model.signed(bytes(32), sko.name, b"ticket-ref")
    obj = t.create_sealed(srk, SEALED_POLICY_ONLY, policy, data)
    s = t.start()
    res = t.call("PolicySigned", [signer_o, s.handle], None,
                 b2(s.nonce_tpm) + b2(b"") + b2(b"ticket-ref") + struct.pack(">i", -600)
                 + sko.sign(a_hash(s.nonce_tpm, -600, b"", b"ticket-ref")))
    rows.add("3 PolicySigned, expiration -600: a TPMT_TK_AUTH", "SUCCESS", res.rc)
    if res.rc == 0:
        r = Reader(res.params)
        timeout = r.b2b()
        tag, hier = struct.unpack(">HI", r.take(6))
        digest = r.b2b()
        # the HMAC's size is the TPM's own (libtpms: SHA-512, ours: SHA-384)
        rows.note(f"timeout {len(timeout)} bytes, tag {tag:#x}, hierarchy {hier:#x}")
        ticket = struct.pack(">HI", tag, hier) + b2(digest)
        t.flush(s)
        s = t.start()
        res = t.call("PolicyTicket", [s.handle], None, b2(timeout) + b2(b"") + b2(b"ticket-ref")
                     + b2(sko.name) + ticket)
        rows.add("3 PolicyTicket with that ticket in a new session", "SUCCESS", res.rc)
        if res.rc == 0:
            rows.note(model_check(t.digest(s), policy))
        unseal("Unseal authorized by PolicyTicket", "SUCCESS", obj, s)
    t.flush(s)
    t.flush(obj)
    t.flush(signer_o)

    # PolicyPCR sealing, to PCR 8 (counted by pcrUpdateCounter) and to PCR 16 (in
    # TPM_PT_PCR_NO_INCREMENT, PC Client profile: its change does not end the session's
    # policy, the digest of a new session does).
    for pcr, after in ((PCR_COUNTED, "PCR_CHANGED"), (PCR, "SUCCESS")):
        sel = pcr_selection([("sha256", [pcr]), ("sha384", [pcr])])
        pcrs = t.raw.pcr_read(["sha256", "sha384"], [pcr])
        old_digest = H(pcrs["sha256"][pcr], pcrs["sha384"][pcr])
        policy = Model.pcr(bytes(32), sel, old_digest)
        obj = t.create_sealed(srk, SEALED_POLICY_ONLY, policy, data)
        s = t.start()
        rows.add(f"3 PolicyPCR sha256+sha384 {{{pcr}}}, current pcrDigest", "SUCCESS",
                 t.call("PolicyPCR", [s.handle], None, b2(old_digest) + sel).rc)
        unseal(f"Unseal sealed to PCR {pcr} (sha256 + sha384)", "SUCCESS", obj, s)
        t.ok("PolicyPCR", "PolicyPCR", [s.handle], None, b2(b"") + sel)
        t.ok("PCR_Extend", "PCR_Extend", [pcr], [PW], u32(1) + u16(SHA256) + H(b"a change"))
        unseal(f"Unseal after PCR_Extend({pcr}) in the same session", after, obj, s)
        t.flush(s)
        s = t.start()
        rows.add(f"3 PolicyPCR {{{pcr}}} in a fresh session with the old pcrDigest", "VALUE",
                 t.call("PolicyPCR", [s.handle], None, b2(old_digest) + sel).rc)
        t.flush(s)
        t.flush(obj)

    # PolicyAuthorize: approved = PolicyCommandCode(Unseal), signed by a software key.
    ref = b"authz-ref"
    approved = Model.command_code(bytes(32), CC["Unseal"])
    policy = Model.authorize(sko.name, ref)
    obj = t.create_sealed(srk, SEALED_POLICY_ONLY, policy, data)
    s = t.start()
    t.ok("PolicyCommandCode", "PolicyCommandCode", [s.handle], params=u32(CC["Unseal"]))
    rows.add("3 PolicyAuthorize of PolicyCommandCode(Unseal) with the VerifySignature ticket",
             "SUCCESS", t.call("PolicyAuthorize", [s.handle], None, b2(approved) + b2(ref)
                               + b2(sko.name) + ctx["verified"]).rc)
    unseal("Unseal authorized by PolicyAuthorize", "SUCCESS", obj, s)
    t.flush(s)
    t.flush(obj)

    # PolicyAuthorizeNV: the policy stored as a TPMT_HA in an ordinary index.
    policy = Model.authorize_nv(t.name(NV_POLICY))
    obj = t.create_sealed(srk, SEALED_POLICY_ONLY, policy, data)
    s = t.start()
    t.ok("PolicyCommandCode", "PolicyCommandCode", [s.handle], params=u32(CC["Unseal"]))
    rows.add("3 PolicyAuthorizeNV (index holds sha256 ‖ PolicyCommandCode(Unseal))", "SUCCESS",
             t.call("PolicyAuthorizeNV", [NV_POLICY, NV_POLICY, s.handle], [PW]).rc)
    unseal("Unseal authorized by PolicyAuthorizeNV", "SUCCESS", obj, s)
    t.ok("PolicyAuthValue", "PolicyAuthValue", [s.handle])
    rows.add("3 PolicyAuthorizeNV when policyDigest is another policy", "VALUE",
             t.call("PolicyAuthorizeNV", [NV_POLICY, NV_POLICY, s.handle], [PW]).rc)
    t.flush(s)
    t.flush(obj)

    # PolicyCommandCode + PolicyAuthValue / PolicyPassword.
    secret = b"object-auth"
    policy = Model.auth_value(Model.command_code(bytes(32), CC["Unseal"]))
    obj = t.create_sealed(srk, SEALED_POLICY_ONLY, policy, data, user_auth=secret)
    for name, cmd_cc, kw, expect in (
            ("PolicyAuthValue, HMAC keyed with the authValue", "PolicyAuthValue",
             dict(auth=secret, hmac_policy=True), "SUCCESS"),
            ("PolicyAuthValue, HMAC keyed without the authValue", "PolicyAuthValue",
             dict(hmac_policy=True), "BAD_AUTH"),
            ("PolicyAuthValue, no HMAC", "PolicyAuthValue", dict(), "BAD_AUTH"),
            ("PolicyPassword, authValue in clear", "PolicyPassword", dict(mac=secret),
             "SUCCESS"),
            ("PolicyPassword, a wrong password", "PolicyPassword", dict(mac=b"wrong"),
             "BAD_AUTH")):
        s = t.start()
        t.ok("PolicyCommandCode", "PolicyCommandCode", [s.handle], params=u32(CC["Unseal"]))
        t.ok(cmd_cc, cmd_cc, [s.handle])
        unseal(f"PolicyCommandCode(Unseal) + {name}", expect, obj, s, **kw)
        t.flush(s)
    t.flush(obj)

    # PolicyLocality: the locality byte of the mssim framing.
    for loc_bits in (0x03, 0x08):
        policy = Model.locality(bytes(32), loc_bits)
        obj = t.create_sealed(srk, SEALED_POLICY_ONLY, policy, data)
        for loc in range(4):
            allowed = loc_bits >> loc & 1
            s = t.start()
            t.ok("PolicyLocality", "PolicyLocality", [s.handle], params=bytes([loc_bits]))
            unseal(f"PolicyLocality({loc_bits:#04x}), Unseal at locality {loc}",
                   "SUCCESS" if allowed else "LOCALITY", obj, s, locality=loc)
            t.flush(s)
        t.flush(obj)

    t.flush(srk)

    # PolicyNameHash and PolicyCpHash through PolicyAuthorize (an object's Name cannot be in
    # its own authPolicy): only object A may be unsealed.
    for kind in ("PolicyNameHash", "PolicyCpHash"):
        ref = b"namehash-ref"
        policy = Model.authorize(sko.name, ref)
        srk = t.primary()
        obj_a = t.create_sealed(srk, SEALED_POLICY_ONLY, policy, data)
        obj_b = t.create_sealed(srk, SEALED_POLICY_ONLY, policy, b"other object")
        t.flush(srk)
        if kind == "PolicyNameHash":
            value = H(t.name(obj_a))
            approved = Model.name_hash(bytes(32), value)
        else:
            value = H(u32(CC["Unseal"]), t.name(obj_a))
            approved = Model.cp_hash(bytes(32), value)
        signer_o = t.load_public(sko.public, RH_OWNER)[0]
        ticket = t.verify(signer_o, H(approved, ref), sko.sign(H(approved, ref)))
        t.flush(signer_o)
        for label, obj, expect in (("object A (the one named)", obj_a, "SUCCESS"),
                                   ("object B (same authPolicy)", obj_b, "POLICY_FAIL")):
            s = t.start()
            t.ok(kind, kind, [s.handle], params=b2(value))
            t.ok("PolicyAuthorize", "PolicyAuthorize", [s.handle],
                 params=b2(approved) + b2(ref) + b2(sko.name) + ticket)
            unseal(f"{kind}(of Unseal A) via PolicyAuthorize, Unseal {label}", expect, obj, s)
            t.flush(s)
        t.flush(obj_a)
        t.flush(obj_b)

    # PolicyNvWritten at use: an index written only once, by policy.
    policy = Model.command_code(Model.nv_written(bytes(32), 0), 0x137)
    t.call("NV_UndefineSpace", [RH_OWNER, NV_WRITE_ONCE], [PW])
    t.ok("NV_DefineSpace", "NV_DefineSpace", [RH_OWNER], [PW], b2(b"") + b2(
        u32(NV_WRITE_ONCE) + u16(SHA256) + u32(NV_POLICYWRITE | NV_AUTHREAD | NV_NO_DA)
        + b2(policy) + u16(8)))
    for attempt, expect in (("first", "SUCCESS"), ("second", "POLICY_FAIL")):
        s = t.start()
        t.ok("PolicyNvWritten", "PolicyNvWritten", [s.handle], params=b"\x00")
        t.ok("PolicyCommandCode", "PolicyCommandCode", [s.handle], params=u32(0x137))
        rows.add(f"3 PolicyNvWritten(NO) + PolicyCommandCode(NV_Write): {attempt} NV_Write",
                 expect, t.call("NV_Write", [NV_WRITE_ONCE, NV_WRITE_ONCE], [Use(s)],
                                b2(b"once") + u16(0)).rc)
        t.flush(s)

    # PolicyTemplate: Create under a parent whose only authorization is the template policy.
    tpl = sealed_public(FIXED_TPM | FIXED_PARENT | USER_WITH_AUTH | NO_DA)
    other_tpl = sealed_public(FIXED_TPM | FIXED_PARENT | USER_WITH_AUTH)
    policy = Model.template(bytes(32), H(tpl))
    parent = t.primary(public=ecc_public(
        FIXED_TPM | FIXED_PARENT | SENS_ORIGIN | RESTRICTED | DECRYPT_A | NO_DA,
        sym=AES128CFB, policy=policy))
    for label, public, expect in (("that template", tpl, "SUCCESS"),
                                  ("another template", other_tpl, "POLICY_FAIL")):
        s = t.start()
        t.ok("PolicyTemplate", "PolicyTemplate", [s.handle], params=b2(H(tpl)))
        res = t.call("Create", [parent], [Use(s)],
                     sensitive(b"", b"t") + b2(public) + b2(b"") + u32(0))
        rows.add(f"3 PolicyTemplate(H(template)), Create of {label} (parent: policy only)",
                 expect, res.rc)
        if res.rc == 0:
            r = Reader(res.params)
            r.b2b()
            out_public = r.b2b()
            same = out_public[:-34] == tpl[:-2] and out_public[-34:-32] == b"\x00\x20"
            rows.note("outPublic = template (+ unique)" if same else "outPublic differs")
        t.flush(s)
    rows.add("3 Create under that parent with a password (userWithAuth clear)", "AUTH_UNAVAILABLE",
             t.call("Create", [parent], [PW], sensitive(b"", b"t") + b2(tpl) + b2(b"")
                    + u32(0)).rc)
    t.flush(parent)


def setup(t, crypto, keys):
    """What every part uses: PCR 16 extended (so pcrUpdateCounter moved), the NV indices,
    the storage key, the software keys loaded, a ticket and a VerifySignature ticket."""
    ctx = {}
    # pcrUpdateCounter away from 0: libtpms (as the reference, Session.c
    # SessionPCRValueIsCurrent) skips the PCR_CHANGED check for a session that recorded 0.
    for pcr in (PCR, PCR_COUNTED):
        t.ok("PCR_Extend", "PCR_Extend", [pcr], [PW],
             u32(2) + u16(SHA256) + H(b"policy") + u16(SHA384) + H(b"policy", alg="sha384"))
    t.nv_define(NV_COND, 8, NV_AUTHWRITE | NV_AUTHREAD | NV_NO_DA)
    ctx["nv_value"] = b"\xff" * 7 + b"\x00"
    t.nv_write(NV_COND, ctx["nv_value"])
    t.nv_define(NV_POLICY, 34, NV_AUTHWRITE | NV_AUTHREAD | NV_NO_DA)
    t.nv_write(NV_POLICY, u16(SHA256) + Model.command_code(bytes(32), CC["Unseal"]))
    t.nv_define(NV_EMPTY, 34, NV_AUTHWRITE | NV_AUTHREAD | NV_NO_DA)
    t.nv_define(NV_COUNTER, 8, NV_AUTHWRITE | NV_AUTHREAD | NV_NO_DA | NT_COUNTER)
    t.ok("NV_Increment", 0x134, [NV_COUNTER, NV_COUNTER], [PW])
    ctx["soft_null"], ctx["soft_owner"] = keys
    signer, name = t.load_public(keys[1].public, RH_OWNER)
    T.check(name == keys[1].name, f"[{t.label}] LoadExternal Name differs from ours")
    ctx["signer_owner_name"] = name
    # A PolicySigned ticket (owner hierarchy, nonceTPM given, expiration -600).
    s = t.start()
    res = t.ok("PolicySigned", "PolicySigned", [signer, s.handle], None,
               b2(s.nonce_tpm) + b2(b"") + b2(b"tk") + struct.pack(">i", -600)
               + keys[1].sign(a_hash(s.nonce_tpm, -600, b"", b"tk")))
    r = Reader(res.params)
    timeout = r.b2b()
    tag, hier = struct.unpack(">HI", r.take(6))
    ctx["ticket"] = (timeout, b"tk", struct.pack(">HI", tag, hier) + b2(r.b2b()))
    t.flush(s)
    approved = Model.command_code(bytes(32), CC["Unseal"])
    digest = H(approved, b"authz-ref")
    ctx["verified"] = t.verify(signer, digest, keys[1].sign(digest))
    t.flush(signer)
    return ctx


def verify(t, key, digest, sig):
    res = t.ok("VerifySignature", "VerifySignature", [key], None, b2(digest) + sig)
    r = Reader(res.params)
    tag, hier = struct.unpack(">HI", r.take(6))
    T.check(tag == ST_VERIFIED and hier == RH_OWNER, f"[{t.label}] VerifySignature ticket")
    return struct.pack(">HI", tag, hier) + b2(r.b2b())


PTarget.verify = verify


def cases(t, crypto, keys):
    rows = Rows()
    ctx = setup(t, crypto, keys)
    trial_cases(t, rows, crypto, ctx)
    assertion_cases(t, rows, crypto, ctx)
    end_to_end(t, rows, crypto, ctx)
    t.flush_all()
    for index in (NV_COND, NV_POLICY, NV_EMPTY, NV_COUNTER, NV_WRITE_ONCE):
        t.call("NV_UndefineSpace", [RH_OWNER, index], [PW])
    return rows.rows


def load_crypto():
    try:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import (
            Prehashed, decode_dss_signature)
    except ImportError:
        raise T.Skip("python3-cryptography is missing (apt-get install python3-cryptography)")

    class Crypto:
        pass
    c = Crypto()
    c.hashes, c.ec, c.Prehashed, c.decode_dss_signature = (
        hashes, ec, Prehashed, decode_dss_signature)
    return c


def matches(expect, rc):
    if expect is None:
        return True
    if expect == "refuse":
        return rc not in (None, 0)
    return rc_base(rc) == RC[expect]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tcti", required=True, help="TPM under test (mssim:/spawn:host-sim)")
    ap.add_argument("--ref-tcti", default="spawn:swtpm", help="reference (default spawn:swtpm)")
    ap.add_argument("--accept-libtpms-divergences", action="store_true",
                    help="the TPM under test may answer as libtpms where libtpms is known to "
                         "differ from the specification (to check the script on swtpm)")
    args = ap.parse_args()
    T.require_programs("swtpm", "swtpm_setup")
    crypto = load_crypto()
    keys = (SoftKey(crypto), SoftKey(crypto))
    with open_target(args.tcti) as tcti, open_target(args.ref_tcti) as ref_tcti:
        ours, ref = PTarget("ours", tcti), PTarget("swtpm", ref_tcti)
        for t in (ours, ref):
            rc = t.send(T.cmd_startup(0)).rc
            T.check(rc in (0, T.RC_INITIALIZE), f"[{t.label}] Startup: {rc:#x}")
        rows = {t.label: cases(t, crypto, keys) for t in (ours, ref)}
        differ, wrong_ref, known = [], [], []
        print(f"{'case':96} {'ours':>17} {'swtpm':>17}")
        for (name, expect, mine, x_mine, why), (_, _, theirs, x_theirs, _) in zip(
                rows["ours"], rows["swtpm"]):
            same = mine == theirs and x_mine == x_theirs
            note = "" if same else "  DIFFERS"
            if why is not None:
                # swtpm is known to be wrong here: ours must give the specification's answer
                same = (matches(expect, mine) or (args.accept_libtpms_divergences
                                                  and mine == theirs)) and x_mine == x_theirs
                note = ("  libtpms divergence (ours = spec)" if same
                        else f"  DIFFERS from the spec ({expect})")
                known.append(why)
            elif not matches(expect, theirs):
                note += f"  (swtpm: not the expected {expect})"
                wrong_ref.append(name)
            print(f"{name:96} {rc_text(mine):>17} {rc_text(theirs):>17}{note}")
            if x_mine is not None or x_theirs is not None:
                print(f"{'':4}ours: {x_mine}" + ("" if x_mine == x_theirs
                                                   else f"; swtpm: {x_theirs}"))
            if not same:
                differ.append(name)
            elif x_mine is not None and "Part 3:" in str(x_mine):
                differ.append(name + " (both differ from the Part 3 formula)")
            elif x_mine is not None and "BAD" in str(x_mine):
                differ.append(name + " (data)")
        for why in dict.fromkeys(known):
            print(f"libtpms divergence: {why}")
        T.check(len(rows["ours"]) == len(rows["swtpm"]), "the case lists differ in length")
        T.check(not wrong_ref, f"swtpm did not answer as the case expects: {wrong_ref}")
        T.check(not differ, f"{len(differ)} case(s) differ: {differ}")
        T.log(f"ok: {len(rows['ours'])} policy cases answer as swtpm ({len(known)} where libtpms "
              "is known to differ: as the specification); every trial digest equals the Part 3 "
              "formula")


if __name__ == "__main__":
    T.run_main(main)
