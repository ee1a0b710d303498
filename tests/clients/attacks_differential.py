#!/usr/bin/python3
"""Authorization attacks, differentially: our TPM against swtpm 0.7.1 (libtpms 0.9.2).

    /usr/bin/python3 tests/clients/attacks_differential.py --tcti mssim:host=127.0.0.1,port=N
        [--ref-tcti swtpm:host=127.0.0.1,port=M]      # default: spawn:swtpm (a fresh one)

Every case is a raw command sequence (session HMACs, cpHash / rpHash, sessionKey = KDFa(…,
"ATH", …) and XOR parameter obfuscation computed here with hashlib / hmac) that tries to get
around the authorization rules of TCG TPM 2.0 Part 1 §19 and Part 3 §5:

  1. a session bound to a public-only copy of an object (same Name, no authValue), and an
     HMAC that leaves the authValue out although the session is not bound to the object;
  2. a session bound to one hash sequence used on another (different authValue);
  3. a session bound to the owner hierarchy / an object whose authValue then changed
     (HierarchyChangeAuth, ObjectChangeAuth and a Load of the new private area);
  4. public-only objects (LoadExternal) used where their authValue is needed:
     ActivateCredential, Certify, Sign, PolicySecret;
  5. dictionary-attack sidesteps: a session bound to lockoutAuth with a wrong guess used on
     a DA-exempt entity (counts as a lockout failure), a wrong password on a persistent key
     without noDA (counted: TPM_PT_LOCKOUT_COUNTER read back from both TPMs);
  6. a parameter-decryption session (not an authorization) whose HMAC is garbage;
  7. policy sessions: reuse without re-running the policy, an ADMIN-role command without
     PolicyCommandCode, PolicySecret authorized by a policy session / with TPM_RH_NULL,
     PolicyOR and PolicySecret with an expiration in trial sessions;
  8. object contexts across TPM Reset and TPM Restart (a stClear object and a normal one);
  9. SequenceComplete / EventSequenceComplete authorized by an HMAC session (response HMAC);
 10. one session listed twice in a command, two decrypt sessions in a command;
 11. StartAuthSession bound to a public-only object;
and the legitimate flows next to them (a bound session used on its own object with the
authValue omitted, a policy session used once, tpm2_startauthsession --bind-context with
tpm2_unseal, …), so that a refusal is known to come from the rule under test and not from a
wrong HMAC computed here.

For every case the response code of the TPM under test must equal swtpm's, and swtpm must
refuse every attack (and accept every legitimate flow). Handles, names and nonces are read
from each TPM's own answers; what must be equal is the response code and, where a case has
one, a derived value (response HMAC valid, a digest, the lockout counter).

The TPM Reset / Restart cases need _TPM_Init: the mssim platform port (POWER_OFF, POWER_ON,
NV_ON) for our simulator, swtpm's control channel (CMD_INIT) for swtpm.

Exit status: 0 identical, 1 a difference or failure, 77 a prerequisite is missing.
"""

import argparse
import hashlib
import hmac
import os
import shutil
import socket
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpmlib as T  # noqa: E402
from servers import open_target  # noqa: E402
from tpmlib import PW, auth, build  # noqa: E402

# --- constants (Part 2) -------------------------------------------------------------------
RH_OWNER, RH_NULL, RH_LOCKOUT, RH_ENDORSEMENT = 0x40000001, 0x40000007, 0x4000000A, 0x4000000B
RH_PLATFORM = 0x4000000C
SHA256, ALG_NULL, ALG_XOR, ALG_AES, ALG_CFB = 0x000B, 0x0010, 0x000A, 0x0006, 0x0043
ALG_ECC, ALG_KEYEDHASH, ALG_ECDSA = 0x0023, 0x0008, 0x0018
CC = dict(
    EvictControl=0x120, HierarchyChangeAuth=0x129, CreatePrimary=0x131,
    DictionaryAttackParameters=0x13A, SequenceComplete=0x13E, Startup=0x144, Shutdown=0x145,
    ActivateCredential=0x147, Certify=0x148, ObjectChangeAuth=0x150, PolicySecret=0x151,
    Create=0x153, Load=0x157, MakeCredential=0x168, SequenceUpdate=0x15C, Sign=0x15D, Unseal=0x15E,
    ContextLoad=0x161, ContextSave=0x162, FlushContext=0x165, LoadExternal=0x167,
    PolicyCommandCode=0x16C, PolicyOR=0x171, ReadPublic=0x173, StartAuthSession=0x176,
    GetCapability=0x17A, EventSequenceComplete=0x185, HashSequenceStart=0x186,
    PolicyGetDigest=0x189,
)
CONT, DECRYPT = 0x01, 0x20          # TPMA_SESSION continueSession, decrypt
SE_HMAC, SE_POLICY, SE_TRIAL = 0, 1, 3
SYM_NULL = struct.pack(">H", ALG_NULL)
SYM_XOR = struct.pack(">HH", ALG_XOR, SHA256)
AES128CFB = struct.pack(">HHH", ALG_AES, 128, ALG_CFB)
NULL_TICKET = struct.pack(">HIH", 0x8024, RH_NULL, 0)
PT_LOCKOUT_COUNTER = 0x20E
PERSISTENT = 0x81000123

# objectAttributes (Part 2 §8.3)
FIXED_TPM, FIXED_PARENT, SENS_ORIGIN, USER_WITH_AUTH = 0x2, 0x10, 0x20, 0x40
ADMIN_WITH_POLICY, NO_DA, RESTRICTED, DECRYPT_A, SIGN = 0x80, 0x400, 0x10000, 0x20000, 0x40000
ST_CLEAR = 0x4
STORAGE = FIXED_TPM | FIXED_PARENT | SENS_ORIGIN | USER_WITH_AUTH | RESTRICTED | DECRYPT_A | NO_DA
SIGNER = FIXED_TPM | FIXED_PARENT | SENS_ORIGIN | USER_WITH_AUTH | SIGN
SEALED = FIXED_TPM | FIXED_PARENT | USER_WITH_AUTH | NO_DA
EK_ATTRS = FIXED_TPM | FIXED_PARENT | SENS_ORIGIN | ADMIN_WITH_POLICY | RESTRICTED | DECRYPT_A

# --- expected outcomes ----------------------------------------------------------------------
REFUSE, ACCEPT = "refuse", "accept"


def b2(data):
    return struct.pack(">H", len(data)) + data


def sha256(data):
    return hashlib.sha256(data).digest()


def kdfa(key, label, u, v, bits):
    """KDFa with SHA-256 (Part 1 §11.4.10.2)."""
    out, i = b"", 1
    while len(out) * 8 < bits:
        out += hmac.new(key, struct.pack(">I", i) + label + b"\0" + u + v
                        + struct.pack(">I", bits), "sha256").digest()
        i += 1
    return out[:(bits + 7) // 8]


def policy_update(old, cc, name, ref=b""):
    """PolicyUpdate() for PolicySecret / PolicySigned (Part 3 §23.2.3)."""
    return sha256(sha256(old + struct.pack(">I", cc) + name) + ref)


POLICY_SECRET_OWNER = policy_update(bytes(32), CC["PolicySecret"], struct.pack(">I", RH_OWNER))
POLICY_A = policy_update(bytes(32), CC["PolicySecret"], struct.pack(">I", RH_ENDORSEMENT))


# --- a software P-256 point (for a public area that no TPM has the private key of) ----------
P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
P256_A = P256_P - 3
P256_G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
          0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)


def _ec_add(p, q):
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % P256_P == 0:
        return None
    if p == q:
        lam = (3 * p[0] * p[0] + P256_A) * pow(2 * p[1], -1, P256_P)
    else:
        lam = (q[1] - p[1]) * pow(q[0] - p[0], -1, P256_P)
    x = (lam * lam - p[0] - q[0]) % P256_P
    return x, (lam * (p[0] - x) - p[1]) % P256_P


def p256_point(k):
    r, p = None, P256_G
    while k:
        if k & 1:
            r = _ec_add(r, p)
        p = _ec_add(p, p)
        k >>= 1
    return r


# --- public areas ---------------------------------------------------------------------------
def ecc_public(attrs, sym=SYM_NULL, scheme=SYM_NULL, policy=b"", x=b"", y=b""):
    return (struct.pack(">HHI", ALG_ECC, SHA256, attrs) + b2(policy) + sym + scheme
            + struct.pack(">HH", 0x0003, ALG_NULL) + b2(x) + b2(y))


def sealed_public(attrs=SEALED, policy=b""):
    return struct.pack(">HHI", ALG_KEYEDHASH, SHA256, attrs) + b2(policy) + SYM_NULL + b2(b"")


def name_of_public(public):
    return struct.pack(">H", SHA256) + sha256(public)


def sensitive(user_auth=b"", data=b""):
    return b2(b2(user_auth) + b2(data))


class Reader:
    def __init__(self, data):
        self.data, self.off = data, 0

    def take(self, n):
        T.check(self.off + n <= len(self.data), f"short response {self.data.hex()}")
        out = self.data[self.off:self.off + n]
        self.off += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def b2b(self):
        return self.take(self.u16())


# --- sessions -------------------------------------------------------------------------------
class Session:
    """An auth session as the caller sees it: handle, last nonceTPM, sessionKey."""

    def __init__(self, handle, nonce_tpm, key, kind, sym):
        self.handle, self.nonce_tpm, self.key, self.kind, self.sym = (
            handle, nonce_tpm, key, kind, sym)


class Use:
    """One session in a command.

    auth: the authValue of the entity that goes into the HMAC key (b"" when the caller
    treats the session as bound to the entity, or for a session that authorizes nothing);
    mac: an HMAC to send instead of the computed one. Target.call(encrypt_with=use) XORs the
    first parameter with the session of `use` (which then carries the decrypt attribute).
    """

    def __init__(self, sess, auth=b"", attrs=CONT, mac=None, crypt_auth=None):
        self.sess, self.auth, self.attrs, self.mac = sess, auth, attrs, mac
        # Parameter encryption keys with sessionKey ‖ the entity's authValue even when the
        # HMAC leaves it out because the session is bound (Part 1 §21.1).
        self.crypt_auth = auth if crypt_auth is None else crypt_auth
        self.nonce = os.urandom(32)


class Result:
    def __init__(self, out, rsp_handles, uses, cc):
        self.rc = out.rc
        self.data = out.data
        self.handles, self.params, self.rsp_hmac_ok = [], b"", None
        if self.rc != 0:
            return
        r = Reader(out.data)
        tag, _, _ = struct.unpack(">HII", r.take(10))
        self.handles = [r.u32() for _ in range(rsp_handles)]
        if tag == T.ST_SESSIONS:
            self.params = r.take(r.u32())
            self.rsp_hmac_ok = True
            for use in uses:
                nonce, attrs, mac = r.b2b(), r.u8(), r.b2b()
                if isinstance(use, bytes):
                    continue
                s = use.sess
                s.nonce_tpm = nonce
                if s.kind == SE_HMAC:
                    rp = sha256(struct.pack(">II", 0, cc) + self.params)
                    want = hmac.new(s.key + use.auth, rp + nonce + use.nonce + bytes([attrs]),
                                    "sha256").digest()
                    self.rsp_hmac_ok &= hmac.compare_digest(want, mac)
            T.check(r.off == len(out.data), f"trailing bytes in {out.data.hex()}")
        else:
            self.params = out.data[r.off:]

    def handle(self):
        return self.handles[0]


class Target:
    def __init__(self, label, tcti):
        self.label = label
        self.tcti = T.Tcti(tcti)
        self.raw = T.RawTpm(self.tcti)

    # -- transport -------------------------------------------------------------------------
    def send(self, cmd):
        for _ in range(3):  # TPM_RC_RETRY is resubmitted, as ESYS does
            out = self.raw.send(cmd, framing="mssim")
            T.check(out.ok, f"[{self.label}] no response: {out.describe()}")
            if out.rc != 0x922:
                break
        return out

    def init(self):
        """_TPM_Init: power-cycle (mssim platform port) or CMD_INIT (swtpm control port)."""
        if self.tcti.kind == "mssim":
            with socket.create_connection((self.tcti.host, self.tcti.port + 1), 10) as s:
                for code in (2, 1, 11):  # POWER_OFF, POWER_ON, NV_ON
                    s.sendall(struct.pack(">I", code))
                    T.check(T._recv_exact(s, 4) == bytes(4), f"platform code {code} refused")
        else:
            with socket.create_connection((self.tcti.host, self.tcti.port + 1), 10) as s:
                s.sendall(struct.pack(">II", 2, 0))  # CMD_INIT, no flags
                (res,) = struct.unpack(">I", T._recv_exact(s, 4))
                T.check(res == 0, f"swtpm CMD_INIT answered {res:#x}")

    # -- commands ----------------------------------------------------------------------------
    def name(self, h):
        if h >> 24 in (0x80, 0x81):
            out = self.send(build(T.ST_NO_SESSIONS, CC["ReadPublic"], [h]))
            if out.rc == 0:
                r = Reader(out.data[10:])
                r.b2b()
                return r.b2b()
            return b""  # a sequence object: no public area, an empty Name
        return struct.pack(">I", h)

    def call(self, cc, handles=(), uses=None, params=b"", rsp_handles=0, names=None,
             encrypt_with=None):
        """Run one command; uses is None (no sessions) or a list of PW-style bytes / Use."""
        cc = CC[cc] if isinstance(cc, str) else cc
        if uses is None:
            return Result(self.send(build(T.ST_NO_SESSIONS, cc, handles, None, params)),
                          rsp_handles, [], cc)
        if encrypt_with is not None:  # XOR the first TPM2B parameter (Part 1 §21.2)
            u = encrypt_with
            (n,) = struct.unpack(">H", params[:2])
            mask = kdfa(u.sess.key + u.crypt_auth, b"XOR", u.nonce, u.sess.nonce_tpm, 8 * n)
            params = params[:2] + bytes(a ^ b for a, b in zip(params[2:2 + n], mask)) \
                + params[2 + n:]
        if names is None:
            names = [self.name(h) for h in handles]
        cp = sha256(struct.pack(">I", cc) + b"".join(names) + params)
        areas = []
        for i, use in enumerate(uses):
            if isinstance(use, bytes):
                areas.append(use)
                continue
            s = use.sess
            mac = b""
            if s.kind == SE_HMAC:
                extra = b""
                if i == 0 and encrypt_with is not None and encrypt_with is not use:
                    extra = encrypt_with.sess.nonce_tpm  # nonceTPMdecrypt (Part 1 §19.6.5)
                mac = hmac.new(s.key + use.auth, cp + use.nonce + s.nonce_tpm + extra
                               + bytes([use.attrs]), "sha256").digest()
            if use.mac is not None:
                mac = use.mac
            areas.append(auth(s.handle, use.nonce, use.attrs, mac))
        return Result(self.send(build(T.ST_SESSIONS, cc, handles, areas, params)),
                      rsp_handles, uses, cc)

    def ok(self, what, *args, **kwargs):
        res = self.call(*args, **kwargs)
        T.check(res.rc == 0, f"[{self.label}] {what}: rc {res.rc:#x}")
        return res

    def start(self, se=SE_HMAC, bind=RH_NULL, bind_auth=b"", sym=SYM_NULL, expect_ok=True):
        nonce = os.urandom(32)
        res = self.call("StartAuthSession", [RH_NULL, bind], None,
                        b2(nonce) + b2(b"") + bytes([se]) + sym + struct.pack(">H", SHA256),
                        rsp_handles=1)
        if res.rc != 0:
            T.check(not expect_ok, f"[{self.label}] StartAuthSession: rc {res.rc:#x}")
            return res
        nonce_tpm = Reader(res.params).b2b()
        key = kdfa(bind_auth, b"ATH", nonce_tpm, nonce, 256) if bind_auth else b""
        return Session(res.handle(), nonce_tpm, key, se, sym)

    def flush(self, h):
        h = h.handle if isinstance(h, Session) else h
        self.call("FlushContext", params=struct.pack(">I", h))

    def flush_all(self):
        for first in (0x80000000, 0x02000000, 0x03000000):
            res = self.ok("GetCapability(handles)", "GetCapability",
                          params=struct.pack(">III", 1, first, 64))
            r = Reader(res.params)
            r.u8(), r.u32()
            for h in [r.u32() for _ in range(r.u32())]:
                self.flush(h)

    def primary(self, hierarchy=RH_OWNER, public=None, user_auth=b""):
        public = public or ecc_public(STORAGE, sym=AES128CFB)
        res = self.ok("CreatePrimary", "CreatePrimary", [hierarchy], [PW],
                      sensitive(user_auth) + b2(public) + b2(b"") + struct.pack(">I", 0),
                      rsp_handles=1)
        return res.handle()

    def create(self, parent, public, user_auth=b"", data=b""):
        res = self.ok("Create", "Create", [parent], [PW],
                      sensitive(user_auth, data) + b2(public) + b2(b"") + struct.pack(">I", 0))
        r = Reader(res.params)
        return r.b2b(), r.b2b()  # private, public

    def load(self, parent, private, public):
        res = self.ok("Load", "Load", [parent], [PW], b2(private) + b2(public), rsp_handles=1)
        return res.handle()

    def load_public(self, public, hierarchy=RH_NULL):
        res = self.ok("LoadExternal", "LoadExternal", params=b2(b"") + b2(public)
                      + struct.pack(">I", hierarchy), rsp_handles=1)
        return res.handle(), Reader(res.params).b2b()

    def owner_auth(self, new, old=b""):
        return self.call("HierarchyChangeAuth", [RH_OWNER], [auth(hmac=old)], b2(new)).rc

    def lockout_counter(self):
        res = self.ok("GetCapability(TPM_PT_LOCKOUT_COUNTER)", "GetCapability",
                      params=struct.pack(">III", 6, PT_LOCKOUT_COUNTER, 1))
        r = Reader(res.params)
        r.u8(), r.u32(), r.u32()
        T.check(r.u32() == PT_LOCKOUT_COUNTER, "GetCapability: another property")
        return r.u32()


def keep_owner_auth(current=b""):
    """HierarchyChangeAuth(owner) to the authValue it already has: a command that needs
    ownerAuth and changes nothing (both TPMs implement it)."""
    return b2(current)


def policy_secret_params(nonce_tpm=b"", expiration=0):
    return b2(nonce_tpm) + b2(b"") + b2(b"") + struct.pack(">i", expiration)


# --- the cases ------------------------------------------------------------------------------
def cases(t):
    """[(name, expected on swtpm, rc or None, extra)] for target t, in order."""
    rows = []

    def row(name, expect, res, extra=None):
        """Record a case; res is a Result, a Session (StartAuthSession succeeded), a response
        code or None (not run)."""
        rc = (res if res is None or isinstance(res, int)
              else 0 if isinstance(res, Session) else res.rc)
        rows.append((name, expect, rc, extra))
        return res

    def note(extra):
        """Attach a derived value (compared between the TPMs) to the last case."""
        rows[-1] = rows[-1][:3] + (extra,)

    def hmac_ok(res):
        return None if res.rc != 0 else ("rsp HMAC ok" if res.rsp_hmac_ok else "rsp HMAC BAD")

    secret, data = b"secret", b"sealed data"
    unseal_want = b2(data)

    # 1 / 11: a bound session matched on the Name alone ------------------------------------
    srk = t.primary()
    priv, pub = t.create(srk, sealed_public(), secret, data)
    obj = t.load(srk, priv, pub)
    t.flush(srk)
    copy, copy_name = t.load_public(pub)
    T.check(copy_name == name_of_public(pub) == t.name(obj),
            f"[{t.label}] the public-only copy has another Name")
    s = t.start(bind=obj, bind_auth=secret)
    res = row("legit: session bound to the sealed object, Unseal with authValue omitted",
              ACCEPT, t.call("Unseal", [obj], [Use(s)]))
    if res.rc == 0:
        note(("data ok" if res.params == unseal_want else "data BAD") + ", " + hmac_ok(res))
    t.flush(s)
    s = t.start()
    row("legit: unbound session, Unseal with authValue in the HMAC key", ACCEPT,
        t.call("Unseal", [obj], [Use(s, auth=secret)]))
    row("1 Unseal: unbound session, HMAC key without the authValue", REFUSE,
        t.call("Unseal", [obj], [Use(s)]))
    t.flush(s)
    sp = t.start(bind=copy, expect_ok=False)
    row("1 StartAuthSession bound to a public-only copy (same Name)", REFUSE, sp)
    if isinstance(sp, Session):
        row("1 Unseal with the session bound to the public-only copy", REFUSE,
            t.call("Unseal", [obj], [Use(sp)]))
        t.flush(sp)
    else:
        row("1 Unseal with the session bound to the public-only copy", REFUSE, None)
    t.flush_all()

    # 2: a session bound to hash sequence A used on sequence B -------------------------------
    def seq_start(a, alg=SHA256):
        """HashSequenceStart: a hash sequence, or an event sequence with TPM_ALG_NULL."""
        return t.ok("HashSequenceStart", "HashSequenceStart", params=b2(a)
                    + struct.pack(">H", alg), rsp_handles=1).handle()

    seq_a, seq_b = seq_start(b"auth-A"), seq_start(b"auth-B")
    s = t.start(bind=seq_a, bind_auth=b"auth-A")
    row("legit: session bound to sequence A, SequenceUpdate(A) with authValue omitted", ACCEPT,
        t.call("SequenceUpdate", [seq_a], [Use(s)], b2(b"abc")))
    row("2 SequenceUpdate(B) with the session bound to A, authValue omitted", REFUSE,
        t.call("SequenceUpdate", [seq_b], [Use(s)], b2(b"abc")))
    t.flush_all()

    # 3: bound session after HierarchyChangeAuth / ObjectChangeAuth --------------------------
    T.check(t.owner_auth(b"old-owner") == 0, f"[{t.label}] HierarchyChangeAuth(owner)")
    s = t.start(bind=RH_OWNER, bind_auth=b"old-owner")
    row("legit: session bound to owner, HierarchyChangeAuth(owner) with authValue omitted",
        ACCEPT, t.call("HierarchyChangeAuth", [RH_OWNER], [Use(s)],
                       keep_owner_auth(b"old-owner")))
    T.check(t.owner_auth(b"new-owner", b"old-owner") == 0, f"[{t.label}] change ownerAuth")
    row("3 owner session bound before HierarchyChangeAuth, authValue omitted", REFUSE,
        t.call("HierarchyChangeAuth", [RH_OWNER], [Use(s)], keep_owner_auth(b"new-owner")))
    row("legit: the same session with the new ownerAuth in the HMAC key", ACCEPT,
        t.call("HierarchyChangeAuth", [RH_OWNER], [Use(s, auth=b"new-owner")],
               keep_owner_auth(b"new-owner")))
    if t.owner_auth(b"", b"new-owner") != 0:
        T.check(t.owner_auth(b"", b"old-owner") == 0, f"[{t.label}] cannot reset ownerAuth")
    t.flush(s)

    srk = t.primary()
    priv, pub = t.create(srk, sealed_public(), b"old-obj", data)
    obj = t.load(srk, priv, pub)
    s = t.start(bind=obj, bind_auth=b"old-obj")
    res = t.ok("ObjectChangeAuth", "ObjectChangeAuth", [obj, srk], [auth(hmac=b"old-obj")],
               b2(b"new-obj"))
    obj2 = t.load(srk, Reader(res.params).b2b(), pub)
    row("3 ObjectChangeAuth: old-auth bound session on the reloaded object, authValue omitted",
        REFUSE, t.call("Unseal", [obj2], [Use(s)]))
    row("legit: the old-auth bound session on the original object, authValue omitted", ACCEPT,
        t.call("Unseal", [obj], [Use(s)]))
    t.flush_all()

    # 4 / 11: public-only objects used where their authValue is needed -----------------------
    x, y = p256_point(0x1234567890ABCDEF)
    soft = ecc_public(FIXED_TPM | FIXED_PARENT | RESTRICTED | SIGN | USER_WITH_AUTH,
                      scheme=struct.pack(">HH", ALG_ECDSA, SHA256),
                      x=x.to_bytes(32, "big"), y=y.to_bytes(32, "big"))
    pub_only, _ = t.load_public(soft)
    if isinstance(row("11 StartAuthSession bound to a public-only P-256 key", REFUSE,
                      t.start(bind=pub_only, expect_ok=False)), Session):
        # accepted: flush the session (swtpm has three session slots) and reload the key
        t.flush_all()
        pub_only, _ = t.load_public(soft)
    ek = t.primary(RH_ENDORSEMENT, ecc_public(EK_ATTRS, sym=AES128CFB, policy=POLICY_A,
                                              x=bytes(32), y=bytes(32)))
    p = t.start(se=SE_POLICY)
    t.ok("PolicySecret(endorsement)", "PolicySecret", [RH_ENDORSEMENT, p.handle], [PW],
         policy_secret_params())
    # A genuine credential for the public-only key's Name, made by the TPM itself.
    cred = t.ok("MakeCredential", "MakeCredential", [ek], None,
                b2(b"credential") + b2(t.name(pub_only))).params
    row("4 ActivateCredential: activateHandle public-only, EK with PolicySecret", REFUSE,
        t.call("ActivateCredential", [pub_only, ek], [PW, Use(p)], cred))
    t.flush(p.handle)
    t.flush(ek)
    signer = t.primary(public=ecc_public(SIGNER | NO_DA,
                                         scheme=struct.pack(">HH", ALG_ECDSA, SHA256)))
    row("4 Certify: objectHandle public-only", REFUSE,
        t.call("Certify", [pub_only, signer], [PW, PW], b2(b"q") + SYM_NULL))
    t.flush(signer)
    row("4 Sign with a public-only key (password)", REFUSE,
        t.call("Sign", [pub_only], [PW], b2(bytes(32)) + SYM_NULL + NULL_TICKET))
    s = t.start()
    row("4 Sign with a public-only key (HMAC session, empty authValue)", REFUSE,
        t.call("Sign", [pub_only], [Use(s)], b2(bytes(32)) + SYM_NULL + NULL_TICKET))
    t.flush(s.handle)
    p = t.start(se=SE_POLICY)
    row("4 PolicySecret: authHandle public-only", REFUSE,
        t.call("PolicySecret", [pub_only, p.handle], [PW], policy_secret_params()))
    t.flush_all()

    # 6: a decrypt-only session whose HMAC is garbage -----------------------------------------
    srk = t.primary()
    priv, pub = t.create(srk, sealed_public(), secret, data)
    obj = t.load(srk, priv, pub)
    t.flush(srk)
    for label, garbage, expect in (
            ("legit: HierarchyChangeAuth(owner) with password + XOR decrypt session", False,
             ACCEPT),
            ("6 HierarchyChangeAuth(owner): decrypt session (non-empty key) HMAC garbage", True,
             REFUSE)):
        s = t.start(bind=obj, bind_auth=secret, sym=SYM_XOR)
        u = Use(s, attrs=CONT | DECRYPT, mac=b"\x5a" * 32 if garbage else None)
        res = row(label, expect, t.call("HierarchyChangeAuth", [RH_OWNER], [PW, u],
                                        b2(b"enc-owner"), encrypt_with=u))
        if res.rc == 0:
            note(hmac_ok(res))
            # the new ownerAuth must be what was encrypted: change it back with it
            T.check(t.owner_auth(b"", b"enc-owner") == 0,
                    f"[{t.label}] ownerAuth is not the decrypted parameter")
        t.flush(s.handle)
    # A session bound to the owner, with XOR, authorizes HierarchyChangeAuth(owner) and
    # decrypts its newAuth: the HMAC key omits ownerAuth, the XOR key includes it.
    T.check(t.owner_auth(b"bo") == 0, f"[{t.label}] set ownerAuth")
    s = t.start(bind=RH_OWNER, bind_auth=b"bo", sym=SYM_XOR)
    u = Use(s, auth=b"", attrs=CONT | DECRYPT, crypt_auth=b"bo")
    res = row("legit: owner-bound XOR session decrypts newAuth (key = sessionKey ‖ ownerAuth)",
              ACCEPT, t.call("HierarchyChangeAuth", [RH_OWNER], [u], b2(b"enc-bound"),
                             encrypt_with=u))
    if res.rc == 0:
        note(hmac_ok(res))
        T.check(t.owner_auth(b"", b"enc-bound") == 0,
                f"[{t.label}] ownerAuth is not the decrypted parameter")
    t.flush(s.handle)
    t.flush_all()

    # 7: policy sessions -----------------------------------------------------------------------
    srk = t.primary()
    priv, pub = t.create(srk, sealed_public(FIXED_TPM | FIXED_PARENT | NO_DA | ADMIN_WITH_POLICY,
                                            POLICY_SECRET_OWNER), b"", data)
    pobj = t.load(srk, priv, pub)
    p = t.start(se=SE_POLICY)
    t.ok("PolicySecret(owner)", "PolicySecret", [RH_OWNER, p.handle], [PW],
         policy_secret_params())
    row("legit: Unseal with a PolicySecret(owner) session, continueSession", ACCEPT,
        t.call("Unseal", [pobj], [Use(p)]))
    row("7 Unseal again with the same policy session, policy not re-run", REFUSE,
        t.call("Unseal", [pobj], [Use(p)]))
    t.ok("PolicySecret(owner)", "PolicySecret", [RH_OWNER, p.handle], [PW],
         policy_secret_params())
    row("7 ObjectChangeAuth (ADMIN role, adminWithPolicy) without PolicyCommandCode", REFUSE,
        t.call("ObjectChangeAuth", [pobj, srk], [Use(p)], b2(b"x")))
    p2 = t.start(se=SE_POLICY)
    t.ok("PolicyRestart", 0x180, [p.handle])
    t.ok("PolicySecret(owner)", "PolicySecret", [RH_OWNER, p.handle], [PW],
         policy_secret_params())
    # Part 3 §23.4: PolicySecret needs proof of the authValue; a policy session without
    # PolicyAuthValue / PolicyPassword gives none (TPM_RC_MODE in libtpms).
    row("7 PolicySecret whose authHandle is authorized by a policy session",
        REFUSE, t.call("PolicySecret", [pobj, p2.handle], [Use(p)], policy_secret_params()))
    row("7 PolicySecret with authHandle TPM_RH_NULL", REFUSE,
        t.call("PolicySecret", [RH_NULL, p2.handle], [PW], policy_secret_params()))
    t.flush(p.handle)
    t.flush(p2.handle)
    tr = t.start(se=SE_TRIAL)
    other = sha256(b"another branch")
    res = row("legit: PolicyOR in a trial session", ACCEPT,
              t.call("PolicyOR", [tr.handle], None, struct.pack(">I", 2) + b2(bytes(32))
                     + b2(other)))
    dig = t.call("PolicyGetDigest", [tr.handle]).params[2:]
    want = sha256(bytes(32) + struct.pack(">I", CC["PolicyOR"]) + bytes(32) + other)
    note("digest = hashlib's" if dig == want else f"digest {dig.hex()}")
    t.flush(tr.handle)
    tr = t.start(se=SE_TRIAL)
    res = row("legit: PolicySecret(owner) with expiration 100 in a trial session", ACCEPT,
              t.call("PolicySecret", [RH_OWNER, tr.handle], [PW],
                     policy_secret_params(tr.nonce_tpm, 100)))
    dig = t.call("PolicyGetDigest", [tr.handle]).params[2:]
    note("digest = hashlib's" if dig == POLICY_SECRET_OWNER else f"digest {dig.hex()}")
    t.flush_all()

    # 9: SequenceComplete / EventSequenceComplete with an HMAC session -----------------------
    for cc, handles, extra_uses, alg in (("SequenceComplete", [], [], SHA256),
                                         ("EventSequenceComplete", [RH_NULL], [PW], ALG_NULL)):
        seq = seq_start(b"seq-auth", alg)
        s = t.start()
        t.ok("SequenceUpdate", "SequenceUpdate", [seq], [Use(s, auth=b"seq-auth")],
             b2(b"first part, "))
        params = b2(b"last part") + (struct.pack(">I", RH_NULL) if not handles else b"")
        res = row(f"legit: {cc} authorized by an HMAC session", ACCEPT,
                  t.call(cc, handles + [seq], extra_uses + [Use(s, auth=b"seq-auth")], params))
        if res.rc == 0:
            d = sha256(b"first part, last part")
            note(hmac_ok(res) + (", digest ok" if d in res.params else ", digest BAD"))
        t.flush_all()

    # 10: one session listed twice; two decrypt sessions ------------------------------------
    s = t.start()
    row("10 HierarchyChangeAuth(owner) with the same HMAC session listed twice", REFUSE,
        t.call("HierarchyChangeAuth", [RH_OWNER], [Use(s), Use(s)], keep_owner_auth()))
    s1, s2 = t.start(sym=SYM_XOR), t.start(sym=SYM_XOR)
    u1, u2 = Use(s1, attrs=CONT | DECRYPT), Use(s2, attrs=CONT | DECRYPT)
    res = row("10 HierarchyChangeAuth(owner) with two decrypt sessions", REFUSE,
              t.call("HierarchyChangeAuth", [RH_OWNER], [u1, u2], b2(b"two-dec"),
                     encrypt_with=u1))
    if res.rc == 0:
        t.owner_auth(b"", b"two-dec")
    t.flush_all()

    # 5: dictionary-attack sidesteps (locks lockoutAuth until the TPM Reset of case 8) -------
    t.ok("DictionaryAttackParameters", "DictionaryAttackParameters", [RH_LOCKOUT], [PW],
         struct.pack(">III", 5, 1000, 0))
    t.ok("HierarchyChangeAuth(lockout)", "HierarchyChangeAuth", [RH_LOCKOUT], [PW],
         b2(b"lockout-auth"))
    before = t.lockout_counter()
    s = t.start(bind=RH_LOCKOUT, bind_auth=b"wrong-guess")
    row("5 session bound to lockout with a wrong guess, used on owner (DA-exempt)", REFUSE,
        t.call("HierarchyChangeAuth", [RH_OWNER], [Use(s)], keep_owner_auth()))
    t.flush(s.handle)
    row("5 correct lockoutAuth after that failure", REFUSE,
        t.call("HierarchyChangeAuth", [RH_LOCKOUT], [auth(hmac=b"lockout-auth")],
               b2(b"lockout-auth")))
    key = t.primary(public=ecc_public(SIGNER, scheme=struct.pack(">HH", ALG_ECDSA, SHA256)),
                    user_auth=b"key-auth")
    t.ok("EvictControl", "EvictControl", [RH_OWNER, key], [PW], struct.pack(">I", PERSISTENT))
    t.flush(key)
    row("5 wrong password on a persistent key without noDA", REFUSE,
        t.call("Sign", [PERSISTENT], [auth(hmac=b"wrong")],
               b2(bytes(32)) + SYM_NULL + NULL_TICKET))
    note(f"lockout counter +{t.lockout_counter() - before}")
    t.ok("EvictControl (remove)", "EvictControl", [RH_OWNER, PERSISTENT], [PW],
         struct.pack(">I", PERSISTENT))

    # 8: object contexts across TPM Restart and TPM Reset ------------------------------------
    def saved_contexts():
        srk = t.primary()
        blobs = []
        for attrs in (SIGNER | NO_DA, SIGNER | NO_DA | ST_CLEAR):
            priv, pub = t.create(srk, ecc_public(attrs, scheme=struct.pack(
                ">HH", ALG_ECDSA, SHA256)))
            h = t.load(srk, priv, pub)
            blobs.append(t.ok("ContextSave", "ContextSave", [h]).params)
            t.flush(h)
        t.flush(srk)
        return blobs

    # Part 1 §30.2 (TPM Reset / Restart / Resume): Shutdown(STATE) + Startup(STATE) is a TPM
    # Resume, Shutdown(STATE) + Startup(CLEAR) a TPM Restart, Startup(CLEAR) after
    # Shutdown(CLEAR) a TPM Reset. Restart and Reset advance clearCount (stClear contexts
    # die); only Reset changes the context key (every object context dies).
    for event, shutdown, startup, outcomes in (
            ("TPM Resume", 1, 1, (ACCEPT, ACCEPT)),
            ("TPM Restart", 1, 0, (ACCEPT, REFUSE)),
            ("TPM Reset", 0, 0, (REFUSE, REFUSE))):
        normal, stclear = saved_contexts()
        t.ok("Shutdown", "Shutdown", params=struct.pack(">H", shutdown))
        t.init()
        t.ok("Startup", "Startup", params=struct.pack(">H", startup))
        for what, blob, expect in (("an object", normal, outcomes[0]),
                                   ("an stClear object", stclear, outcomes[1])):
            row(("8 " if expect == REFUSE else "legit: ")
                + f"ContextLoad of {what} after {event}", expect,
                t.call("ContextLoad", params=blob, rsp_handles=1))
        t.flush_all()
    row("legit: lockoutAuth usable again after TPM Reset (lockoutRecovery 0)", ACCEPT,
        t.call("HierarchyChangeAuth", [RH_LOCKOUT], [auth(hmac=b"lockout-auth")], b2(b"")))
    t.flush_all()

    # Session audit (Part 1 §19.6.14): a deterministic command audited by an HMAC session;
    # the digest GetSessionAuditDigest reports equals hashlib's on both TPMs.
    s = t.start()
    cap = struct.pack(">III", 6, 0x100, 1)  # TPM_PT_FAMILY_INDICATOR
    res = row("legit: GetCapability audited by an HMAC session (audit | continueSession)", ACCEPT,
              t.call(0x17A, [], [Use(s, attrs=CONT | 0x80)], cap))
    want = None
    if res.rc == 0:
        cp = sha256(struct.pack(">I", 0x17A) + cap)
        rp = sha256(struct.pack(">II", 0, 0x17A) + res.params)
        want = sha256(bytes(32) + cp + rp)
    res = row("legit: GetSessionAuditDigest of that session (unsigned)", ACCEPT,
              t.call(0x14D, [RH_ENDORSEMENT, RH_NULL, s.handle], [PW, PW], b2(b"") + b"\x00\x10"))
    if res.rc == 0:
        r = Reader(res.params)
        a = Reader(r.b2b())
        a.take(6)
        a.b2b(), a.b2b(), a.take(17 + 8)
        exclusive, dig = a.u8(), a.b2b()
        note(f"exclusive={exclusive}, digest " + ("= hashlib's" if dig == want else dig.hex()))
    row("audit: auditExclusive requested after another command ran (TPM_RC_EXCLUSIVE)", REFUSE,
        t.call(0x17A, [], [Use(s, attrs=CONT | 0x80 | 0x02)], cap))
    row("audit: a password session with the audit attribute", REFUSE,
        t.call("HierarchyChangeAuth", [RH_OWNER], [auth(attrs=0x80)], b2(b"")))
    row("audit: sessions on FlushContext (TPM_RC_AUTH_CONTEXT)", REFUSE,
        t.call(0x165, [], [PW], struct.pack(">I", s.handle)))
    t.flush(s.handle)

    # tpm2-tools: a session bound with --bind-context, used by tpm2_unseal (ESYS leaves the
    # authValue out of the HMAC because the session is bound to the object).
    rc, out = tools_bound_unseal(t.tcti.text)
    row("legit: tpm2_startauthsession --bind-context, tpm2_unseal with that session", ACCEPT, rc)
    if rc == 0:
        note("data ok" if out == b"tools sealed" else f"data {out!r}")

    # HierarchyControl (Part 3 §24.2): firmware takes platform authority away from the guest
    # until the next boot; nobody else may.
    def hctl(auth_handle, enable, state):
        return t.call(0x121, [auth_handle], [PW], struct.pack(">IB", enable, state))

    row("hierarchy: the owner disables the platform hierarchy (AUTH_TYPE)", REFUSE,
        hctl(RH_OWNER, RH_PLATFORM, 0))
    row("legit: the platform disables itself", ACCEPT, hctl(RH_PLATFORM, RH_PLATFORM, 0))
    row("hierarchy: the disabled platform enables itself again", REFUSE,
        hctl(RH_PLATFORM, RH_PLATFORM, 1))
    row("hierarchy: Clear through the disabled platform", REFUSE,
        t.call(0x126, [RH_PLATFORM], [PW]))
    t.init()
    t.ok("Startup", "Startup", params=struct.pack(">H", 0))
    row("legit: the platform hierarchy is back after _TPM_Init + Startup(CLEAR)", ACCEPT,
        hctl(RH_PLATFORM, RH_PLATFORM, 1))
    return rows


def tools_bound_unseal(tcti):
    """(0 or the failing step's response code / exit status, unsealed bytes) with tpm2-tools."""
    work = tempfile.mkdtemp(prefix="vtpm-attacks-")
    try:
        def f(name):
            return os.path.join(work, name)
        steps = [
            ("tpm2_createprimary", "-Q", "-C", "o", "-g", "sha256", "-G", "ecc256",
             "-c", f("prim.ctx")),
            ("tpm2_create", "-Q", "-C", f("prim.ctx"), "-g", "sha256", "-i-", "-p", "secret",
             "-u", f("seal.pub"), "-r", f("seal.priv")),
            ("tpm2_load", "-Q", "-C", f("prim.ctx"), "-u", f("seal.pub"), "-r", f("seal.priv"),
             "-c", f("seal.ctx")),
            ("tpm2_startauthsession", "-S", f("session.ctx"), "--hmac-session",
             "--bind-context", f("seal.ctx"), "--bind-auth", "secret"),
            ("tpm2_unseal", "-c", f("seal.ctx"), "-p", "session:" + f("session.ctx")),
            ("tpm2_flushcontext", f("session.ctx")),
        ]
        out = b""
        for argv in steps:
            res = T.tool(tcti, *argv, ok=None, stdin=b"tools sealed")
            if res.returncode != 0:
                return res.tpm_rc() or res.returncode, b""
            if argv[0] == "tpm2_unseal":
                out = res.stdout
            # without a resource manager the tools leave transient objects loaded
            T.tool(tcti, "tpm2_flushcontext", "-t", ok=True)
        return 0, out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fmt(rc):
    return "-" if rc is None else f"{rc:#x}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tcti", required=True, help="TPM under test (mssim:/spawn:host-sim)")
    ap.add_argument("--ref-tcti", default="spawn:swtpm", help="reference (default spawn:swtpm)")
    args = ap.parse_args()
    T.require_programs("swtpm", "swtpm_setup", "tpm2_startauthsession", "tpm2_unseal")
    with open_target(args.tcti) as tcti, open_target(args.ref_tcti) as ref_tcti:
        ours, ref = Target("ours", tcti), Target("swtpm", ref_tcti)
        for t in (ours, ref):
            rc = t.send(T.cmd_startup(0)).rc
            T.check(rc in (0, T.RC_INITIALIZE), f"[{t.label}] Startup: {rc:#x}")
        rows = {t.label: cases(t) for t in (ours, ref)}
        differ, wrong_ref = [], []
        print(f"{'case':86} {'ours':>7} {'swtpm':>7}")
        for (name, expect, mine, x_mine), (_, _, theirs, x_theirs) in zip(rows["ours"],
                                                                         rows["swtpm"]):
            same = mine == theirs and x_mine == x_theirs
            ref_right = (theirs != 0) if expect == REFUSE else (theirs == 0)
            note = "" if same else "  DIFFERS"
            if not ref_right:
                note += "  (swtpm: not the expected " + expect + ")"
                wrong_ref.append(name)
            print(f"{name:86} {fmt(mine):>7} {fmt(theirs):>7}{note}")
            if x_mine is not None or x_theirs is not None:
                print(f"{'':4}ours: {x_mine}; swtpm: {x_theirs}")
            if not same:
                differ.append(name)
        T.check(not wrong_ref, f"swtpm did not answer as the attack expects: {wrong_ref}")
        T.check(not differ, f"{len(differ)} case(s) differ from swtpm: {differ}")
        T.log(f"ok: {len(rows['ours'])} attack and legitimate cases answer exactly as swtpm")


if __name__ == "__main__":
    T.run_main(main)
