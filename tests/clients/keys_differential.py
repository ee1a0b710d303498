#!/usr/bin/python3
"""Differential test of keys and attestation: our TPM against swtpm 0.7.1 (libtpms 0.9.2).

    /usr/bin/python3 tests/clients/keys_differential.py --tcti mssim:host=127.0.0.1,port=N
        [--ref-tcti swtpm:host=127.0.0.1,port=M]      # default: spawn:swtpm (a fresh one)

The same raw commands go to both TPMs (Microsoft-simulator framing, which swtpm's data
port accepts too). Keys differ between the two TPMs (their seeds differ), so handles and
names are read from each TPM's own answers; what must be equal is:

  - the response code of each error case: bad attributes, wrong hierarchy, a symmetric
    algorithm on a signing key, a caller scheme that contradicts the key's, wrong auth
    (DA-protected and noDA keys), a flushed handle, a tampered context blob, a tampered
    private blob;
  - the response code of each conformance case: a non-duplicable storage child whose
    nameAlg or symmetric definition differs from its parent's (Create, CreateLoaded), a
    sealed object with no data, Sign with a forged ticket or a ticket naming no hierarchy
    for an unrestricted key, LoadExternal with reserved attribute bits / a scheme on a key
    that neither signs nor decrypts / restricted with a sensitive area / a private part
    that does not match (ECC scalar 1, 0 or n; keyed-hash unique) / a seed, an authValue
    or an HMAC key of the wrong size, StirRandom with 129 bytes, GetCapability(PCRS) with
    a property and (HANDLES) in an unsupported range, HierarchyChangeAuth with 65 bytes;
  - which handle types GetCapability(HANDLES) lists for a loaded HMAC and policy session
    (0x02…: both, each under its own type; 0x03…: none, nothing is saved);
  - the pcrDigest of a quote over the same PCR selection after the same extends, which
    must also equal the digest computed here with hashlib from PCR_Read.

Exit status: 0 identical, 1 a difference or failure, 77 a prerequisite is missing.
"""

import argparse
import hashlib
import hmac
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpmlib as T  # noqa: E402
from servers import open_target  # noqa: E402
from tpmlib import PW, auth, build  # noqa: E402

RH_OWNER, RH_LOCKOUT, RH_ENDORSEMENT, RH_NULL = 0x40000001, 0x4000000A, 0x4000000B, 0x40000007
RH_PLATFORM = 0x4000000C
CC_CREATE_PRIMARY, CC_CREATE, CC_LOAD = 0x131, 0x153, 0x157
CC_SIGN, CC_QUOTE, CC_READ_PUBLIC, CC_FLUSH = 0x15D, 0x158, 0x173, 0x165
CC_CONTEXT_SAVE, CC_CONTEXT_LOAD, CC_HASH = 0x162, 0x161, 0x17D
CC_CREATE_LOADED, CC_LOAD_EXTERNAL, CC_STIR_RANDOM = 0x191, 0x167, 0x146
CC_GET_CAPABILITY, CC_HIERARCHY_CHANGE_AUTH, CC_START_AUTH_SESSION = 0x17A, 0x129, 0x176
NULL_TICKET = bytes.fromhex("8024400000070000")


def b2(data):
    return struct.pack(">H", len(data)) + data


def ecc_template(attrs, sym=b"\x00\x10", scheme=b"\x00\x10", curve=4, name_alg=0x000C):
    return (struct.pack(">HHI", 0x0023, name_alg, attrs) + b2(b"") + sym + scheme
            + struct.pack(">HH", curve, 0x0010) + b2(b"") + b2(b""))


SIGNER = 0x00040072           # sign | fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth
SIGNER_NODA = SIGNER | 0x400  # + noDA
AK = 0x00050072               # + restricted
STORAGE = 0x00030072          # restricted | decrypt | ...
ECDSA_SHA384 = struct.pack(">HH", 0x0018, 0x000C)
ECDSA_SHA256 = struct.pack(">HH", 0x0018, 0x000B)
AES128CFB = struct.pack(">HHH", 0x0006, 128, 0x0043)


def create_primary(hierarchy, template, user_auth=b""):
    sensitive = b2(b2(user_auth) + b2(b""))
    params = sensitive + b2(template) + b2(b"") + struct.pack(">I", 0)
    return build(T.ST_SESSIONS, CC_CREATE_PRIMARY, [hierarchy], [PW], params)


class Target:
    def __init__(self, label, tcti):
        self.label = label
        self.raw = T.RawTpm(tcti)

    def run(self, cmd):
        # TPM_RC_RETRY (0x922) is resubmitted, as ESYS does: libtpms answers it to the first
        # password use of a DA-protected key.
        for _ in range(3):
            out = self.raw.send(cmd, framing="mssim")
            T.check(out.ok, f"[{self.label}] no response: {out.describe()}")
            if out.rc != 0x922:
                break
        return out

    def ok(self, cmd, what):
        out = self.run(cmd)
        T.check(out.rc == 0, f"[{self.label}] {what}: rc {out.rc:#x}")
        return out.data

    def primary(self, hierarchy, template, user_auth=b""):
        data = self.ok(create_primary(hierarchy, template, user_auth), "CreatePrimary")
        return struct.unpack(">I", data[10:14])[0]

    def flush(self, handle):
        self.ok(build(T.ST_NO_SESSIONS, CC_FLUSH, params=struct.pack(">I", handle)), "Flush")


def sign_params(digest, scheme=b"\x00\x10", ticket=NULL_TICKET):
    return b2(digest) + scheme + ticket


def pcr_select(sel):
    """{bank: [pcrs]} → TPML_PCR_SELECTION."""
    out = struct.pack(">I", len(sel))
    for bank, pcrs in sel.items():
        bits = bytearray(3)
        for i in pcrs:
            bits[i // 8] |= 1 << (i % 8)
        out += struct.pack(">HB", T.ALG_IDS[bank], 3) + bytes(bits)
    return out


def error_cases(t):
    """(name, rc) of every error case on target t, in order."""
    rows = []

    def case(name, cmd):
        rows.append((name, t.run(cmd).rc))

    case("CreatePrimary: restricted with sign and decrypt (attributes)",
         create_primary(RH_OWNER, ecc_template(AK | 0x20000, scheme=ECDSA_SHA384)))
    case("CreatePrimary: restricted signing key without a scheme",
         create_primary(RH_OWNER, ecc_template(AK)))
    case("CreatePrimary: fixedTPM without fixedParent",
         create_primary(RH_OWNER, ecc_template(STORAGE & ~0x10, sym=AES128CFB)))
    case("CreatePrimary: signing key with a symmetric algorithm",
         create_primary(RH_OWNER, ecc_template(SIGNER, sym=AES128CFB, scheme=ECDSA_SHA384)))
    case("CreatePrimary: storage key without a symmetric algorithm",
         create_primary(RH_OWNER, ecc_template(STORAGE)))
    case("CreatePrimary on the lockout hierarchy (wrong hierarchy)",
         create_primary(RH_LOCKOUT, ecc_template(STORAGE, sym=AES128CFB)))
    case("CreatePrimary: authPolicy of the wrong size",
         create_primary(RH_OWNER, ecc_template(SIGNER, scheme=ECDSA_SHA384)[:8] + b2(b"\x01" * 20)
                        + ecc_template(SIGNER, scheme=ECDSA_SHA384)[10:]))

    key = t.primary(RH_OWNER, ecc_template(SIGNER, scheme=ECDSA_SHA384), user_auth=b"pw")
    digest = hashlib.sha384(b"message").digest()
    case("Sign: caller scheme ECDSA-SHA256 against the key's ECDSA-SHA384 (scheme)",
         build(T.ST_SESSIONS, CC_SIGN, [key], [auth(hmac=b"pw")],
               sign_params(hashlib.sha256(b"m").digest(), ECDSA_SHA256)))
    case("Sign: wrong password on a DA-protected key",
         build(T.ST_SESSIONS, CC_SIGN, [key], [auth(hmac=b"nope")], sign_params(digest)))
    noda = t.primary(RH_OWNER, ecc_template(SIGNER_NODA, scheme=ECDSA_SHA384), user_auth=b"pw")
    case("Sign: wrong password on a noDA key",
         build(T.ST_SESSIONS, CC_SIGN, [noda], [auth(hmac=b"nope")], sign_params(digest)))
    ak = t.primary(RH_ENDORSEMENT, ecc_template(AK, scheme=ECDSA_SHA384))
    case("Sign: restricted key, digest without a ticket",
         build(T.ST_SESSIONS, CC_SIGN, [ak], [PW], sign_params(digest)))
    t.flush(noda)
    case("ReadPublic of a flushed handle", build(T.ST_NO_SESSIONS, CC_READ_PUBLIC, [noda]))
    # swtpm has three object slots: free them before the storage-key cases.
    for h in (key, ak):
        t.flush(h)

    storage = t.primary(RH_OWNER, ecc_template(STORAGE, sym=AES128CFB))
    ctx = t.ok(build(T.ST_NO_SESSIONS, CC_CONTEXT_SAVE, [storage]), "ContextSave")[10:]
    bad = bytearray(ctx)
    bad[len(bad) // 2 + 8] ^= 0x01  # inside the blob's encrypted part
    case("ContextLoad: tampered blob", build(T.ST_NO_SESSIONS, CC_CONTEXT_LOAD,
                                             params=bytes(bad)))
    child = ecc_template(SIGNER, scheme=ECDSA_SHA384)
    created = t.ok(build(T.ST_SESSIONS, CC_CREATE, [storage], [PW],
                         b2(b2(b"") + b2(b"")) + b2(child) + b2(b"") + struct.pack(">I", 0)),
                   "Create")
    (psize,) = struct.unpack(">I", created[10:14])
    params = created[14:14 + psize]
    (n,) = struct.unpack(">H", params[:2])
    private, rest = bytearray(params[:2 + n]), params[2 + n:]
    (m,) = struct.unpack(">H", rest[:2])
    public = rest[:2 + m]
    private[-1] ^= 0x01
    case("Load: tampered private blob",
         build(T.ST_SESSIONS, CC_LOAD, [storage], [PW], bytes(private) + public))
    t.flush(storage)

    # EC_Ephemeral / ZGen_2Phase (Part 3 §14.7-14.8): EC_Ephemeral's Q is a valid P-256 point
    # for both of B's points.
    case("EC_Ephemeral: TPM_ECC_NONE (curve)",
         build(T.ST_NO_SESSIONS, 0x18E, params=struct.pack(">H", 0)))

    def ephemeral():
        r = t.ok(build(T.ST_NO_SESSIONS, 0x18E, params=struct.pack(">H", 3)), "EC_Ephemeral")
        (n,) = struct.unpack(">H", r[10:12])
        return r[10:12 + n], struct.unpack(">H", r[12 + n:14 + n])[0]

    def zgen(key, qs, qe, scheme, counter):
        return build(T.ST_SESSIONS, 0x18D, [key], [PW],
                     qs + qe + struct.pack(">HH", scheme, counter))

    xkey = t.primary(RH_OWNER, ecc_template(0x00020072, scheme=b"\x00\x19\x00\x0b", curve=3))
    q, c = ephemeral()
    bad = bytearray(q)
    bad[5] ^= 1
    case("ZGen_2Phase: inQsB off the curve", zgen(xkey, bytes(bad), q, 0x19, c))
    case("ZGen_2Phase: inQeB off the curve", zgen(xkey, q, bytes(bad), 0x19, c))
    case("ZGen_2Phase: inScheme NULL (scheme)", zgen(xkey, q, q, 0x10, c))
    case("ZGen_2Phase: inScheme ECMQV (scheme)", zgen(xkey, q, q, 0x1D, c))
    case("ZGen_2Phase: counter never issued (value)", zgen(xkey, q, q, 0x19, c ^ 0x4000))
    t.ok(zgen(xkey, q, q, 0x19, c), "ZGen_2Phase")
    case("ZGen_2Phase: counter used twice (value)", zgen(xkey, q, q, 0x19, c))
    signer = t.primary(RH_OWNER, ecc_template(SIGNER, scheme=ECDSA_SHA384))
    case("ZGen_2Phase: signing key (attributes)", zgen(signer, q, q, 0x19, c))
    t.flush(xkey)

    # Commit (Part 3 §19.2): the key's scheme, P1 on the curve, s2 and y2 together.
    def commit(key, p1, s2, y2):
        return build(T.ST_SESSIONS, 0x18B, [key], [PW], p1 + b2(s2) + b2(y2))

    empty = b2(b2(b"") + b2(b""))
    case("Commit: ECDSA key (scheme)", commit(signer, empty, b"", b""))
    daa = t.primary(RH_OWNER, ecc_template(SIGNER, scheme=b"\x00\x1a\x00\x0b\x00\x00",
                                           curve=3))
    case("Commit: P1 off the curve", commit(daa, bytes(bad), b"", b""))
    case("Commit: s2 without y2 (size)", commit(daa, empty, b"s2", b""))
    case("Commit: y2 without s2 (size)", commit(daa, empty, b"", b"\x01" * 32))
    t.ok(commit(daa, empty, b"", b""), "Commit")
    t.ok(commit(daa, q, b"", b""), "Commit")
    for h in (daa, signer):
        t.flush(h)
    return rows


def sensitive_create(data=b""):
    return b2(b2(b"") + b2(data))


def create_params(template, data=b""):
    return sensitive_create(data) + b2(template) + b2(b"") + struct.pack(">I", 0)


def sealed_template():
    return struct.pack(">HHI", 0x0008, 0x000B, 0x00000052) + b2(b"") + b"\x00\x10" + b2(b"")


def get_cap(cap, prop, count):
    return build(T.ST_NO_SESSIONS, CC_GET_CAPABILITY, params=struct.pack(">III", cap, prop, count))


def conformance_cases(t):
    """(name, rc) of the conformance cases on target t, in order (three object slots)."""
    rows = []

    def case(name, cmd):
        rows.append((name, t.run(cmd).rc))

    storage = t.primary(RH_OWNER, ecc_template(STORAGE, sym=AES128CFB))
    aes256 = struct.pack(">HHH", 0x0006, 256, 0x0043)
    for what, template in (
            ("nameAlg SHA-256 under a SHA-384 parent",
             ecc_template(STORAGE, sym=AES128CFB, name_alg=0x000B)),
            ("AES-256 under an AES-128 parent", ecc_template(STORAGE, sym=aes256))):
        case(f"Create: fixedParent storage child, {what}",
             build(T.ST_SESSIONS, CC_CREATE, [storage], [PW], create_params(template)))
        case(f"CreateLoaded: fixedParent storage child, {what}",
             build(T.ST_SESSIONS, CC_CREATE_LOADED, [storage], [PW],
                   sensitive_create() + b2(template)))
    case("Create: sealed data object with no data (sensitiveDataOrigin CLEAR)",
         build(T.ST_SESSIONS, CC_CREATE, [storage], [PW], create_params(sealed_template())))
    case("Create: signing key with caller data (sensitiveDataOrigin SET)",
         build(T.ST_SESSIONS, CC_CREATE, [storage], [PW],
               create_params(ecc_template(SIGNER, scheme=ECDSA_SHA384), b"data")))
    t.flush(storage)

    out = t.ok(create_primary(RH_OWNER, ecc_template(SIGNER, scheme=ECDSA_SHA384)),
               "CreatePrimary")
    key = struct.unpack(">I", out[10:14])[0]
    (n,) = struct.unpack(">H", out[18:20])
    public = out[20:20 + n]
    x, y = public[-98:-50], public[-48:]
    digest = hashlib.sha384(b"message").digest()
    case("Sign: unrestricted key, forged HASHCHECK ticket",
         build(T.ST_SESSIONS, CC_SIGN, [key], [PW],
               sign_params(digest, ticket=struct.pack(">HI", 0x8024, RH_OWNER) + b2(b"\x55" * 48))))
    case("Sign: unrestricted key, ticket naming no hierarchy",
         build(T.ST_SESSIONS, CC_SIGN, [key], [PW],
               sign_params(digest, ticket=struct.pack(">HI", 0x8024, 0x40000002) + b2(b""))))
    t.flush(key)

    def ecc_public(attrs):
        return (struct.pack(">HHI", 0x0023, 0x000C, attrs) + b2(b"") + b"\x00\x10"
                + ECDSA_SHA384 + struct.pack(">HH", 4, 0x0010) + b2(x) + b2(y))

    def load_external(private, public, hierarchy):
        return build(T.ST_NO_SESSIONS, CC_LOAD_EXTERNAL,
                     params=b2(private) + b2(public) + struct.pack(">I", hierarchy))

    case("LoadExternal: reserved TPMA_OBJECT bit 0",
         load_external(b"", ecc_public(0x00040041), RH_OWNER))
    case("LoadExternal: neither sign nor decrypt, with a signing scheme",
         load_external(b"", ecc_public(0x00000040), RH_OWNER))
    sensitive = struct.pack(">H", 0x0023) + b2(b"") + b2(b"") + b2(b"\x01" * 48)
    case("LoadExternal: restricted, with a sensitive area",
         load_external(sensitive, ecc_public(0x00050040), RH_NULL))
    case("LoadExternal: fixedParent, with a sensitive area",
         load_external(sensitive, ecc_public(0x00040050), RH_NULL))
    # The key checks of the reference's ObjectLoad / CryptValidateKeys: a private part that
    # does not make the public one is TPM_RC_BINDING and an ECC scalar outside [1, n - 1]
    # TPM_RC_KEY_SIZE, both without a position; sizes of the sensitive area are at parameter 1.
    n384 = bytes.fromhex("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
                         "581a0db248b0a77aecec196accc52973")

    def ecc_sensitive(d, seed=b"", auth=b""):
        return struct.pack(">H", 0x0023) + b2(auth) + b2(seed) + b2(d)

    for what, priv in (("d = 1, not the key's scalar", ecc_sensitive(bytes(47) + b"\x01")),
                       ("d = 0", ecc_sensitive(bytes(48))),
                       ("d = n", ecc_sensitive(n384)),
                       ("a seed of 49 bytes (nameAlg SHA-384)",
                        ecc_sensitive(bytes(47) + b"\x01", seed=b"\x01" * 49)),
                       ("an authValue of 49 bytes", ecc_sensitive(bytes(47) + b"\x01",
                                                                  auth=b"\x01" * 49))):
        case(f"LoadExternal: P-384 key, {what}", load_external(priv, ecc_public(0x00040040),
                                                               RH_NULL))
    seed, data = b"\x01" * 32, b"external sealed data"

    def keyedhash(unique, scheme=b"\x00\x10", attrs=0x00000040):
        return struct.pack(">HHI", 0x0008, 0x000B, attrs) + b2(b"") + scheme + b2(unique)

    def kh_sensitive(seed, data):
        return struct.pack(">H", 0x0008) + b2(b"") + b2(seed) + b2(data)

    good = hashlib.sha256(seed + data).digest()
    for what, priv, public in (
            ("unique is not H(seed ‖ data)", kh_sensitive(seed, data), keyedhash(bytes(32))),
            ("a seed of 16 bytes", kh_sensitive(seed[:16], data),
             keyedhash(hashlib.sha256(seed[:16] + data).digest())),
            ("HMAC-SHA256 key of 65 bytes", kh_sensitive(seed, b"k" * 65),
             keyedhash(hashlib.sha256(seed + b"k" * 65).digest(), b"\x00\x05\x00\x0b",
                       0x00040040))):
        case(f"LoadExternal: keyed hash, {what}", load_external(priv, public, RH_NULL))
    out = t.ok(load_external(kh_sensitive(seed, data), keyedhash(good), RH_NULL),
               "LoadExternal (keyed hash)")
    t.flush(struct.unpack(">I", out[10:14])[0])
    case("StirRandom: 129 bytes",
         build(T.ST_NO_SESSIONS, CC_STIR_RANDOM, params=b2(b"\x07" * 129)))
    case("GetCapability(PCRS) with property 1", get_cap(5, 1, 1))
    case("GetCapability(HANDLES) of handle type 0x05", get_cap(1, 0x05000000, 8))
    case("HierarchyChangeAuth: 65 bytes",
         build(T.ST_SESSIONS, CC_HIERARCHY_CHANGE_AUTH, [RH_OWNER], [PW], b2(b"\x5a" * 65)))

    # EvictControl (Part 3 §28.5): the platform may evict an owner's persistent object, but
    # may not persist one; the owner may not evict a platform object.
    def evict(auth, obj, target):
        return build(T.ST_SESSIONS, 0x120, [auth, obj], [PW], struct.pack(">I", target))

    storage = t.primary(RH_OWNER, ecc_template(STORAGE, sym=AES128CFB))
    t.ok(evict(RH_OWNER, storage, 0x81000020), "EvictControl(owner) to 0x81000020")
    case("EvictControl(platform): owner primary to 0x81800001",
         evict(RH_PLATFORM, storage, 0x81800001))
    # Allowed on both (a success checked here): the platform evicts the owner's object.
    t.ok(evict(RH_PLATFORM, 0x81000020, 0x81000020), "EvictControl(platform) of 0x81000020")
    case("ReadPublic of the evicted 0x81000020",
         build(T.ST_NO_SESSIONS, 0x173, [0x81000020]))
    t.flush(storage)
    pp = t.primary(RH_PLATFORM, ecc_template(STORAGE, sym=AES128CFB))
    t.ok(evict(RH_PLATFORM, pp, 0x81800002), "EvictControl(platform) to 0x81800002")
    case("EvictControl(owner): evict the platform's 0x81800002",
         evict(RH_OWNER, 0x81800002, 0x81800002))
    t.ok(evict(RH_PLATFORM, 0x81800002, 0x81800002), "EvictControl(platform) of 0x81800002")
    t.flush(pp)
    return rows


def hmac_with_a_known_key(t, key, data):
    """TPM2_HMAC and HMAC_Start + SequenceComplete with a keyed-hash HMAC-SHA256 key whose key
    the caller chose (Create with sensitive data); returns both HMACs."""
    storage = t.primary(RH_OWNER, ecc_template(STORAGE, sym=AES128CFB))
    template = (struct.pack(">HHI", 0x0008, 0x000B, 0x00040052) + b2(b"")
                + struct.pack(">HH", 0x0005, 0x000B) + b2(b""))
    out = t.ok(build(T.ST_SESSIONS, CC_CREATE, [storage], [PW], create_params(template, key)),
               "Create (HMAC key)")
    r = out[14:]
    (n,) = struct.unpack(">H", r[:2])
    private = r[:2 + n]
    (m,) = struct.unpack(">H", r[2 + n:4 + n])
    public = r[2 + n:4 + n + m]
    out = t.ok(build(T.ST_SESSIONS, CC_LOAD, [storage], [PW], private + public), "Load")
    k = struct.unpack(">I", out[10:14])[0]
    out = t.ok(build(T.ST_SESSIONS, 0x155, [k], [PW], b2(data[:1024]) + struct.pack(">H", 0x10)),
               "HMAC")
    one = out[16:16 + struct.unpack(">H", out[14:16])[0]]
    out = t.ok(build(T.ST_SESSIONS, 0x15B, [k], [PW], b2(b"") + struct.pack(">H", 0x10)),
               "HMAC_Start")
    seq = struct.unpack(">I", out[10:14])[0]
    t.ok(build(T.ST_SESSIONS, 0x15C, [seq], [PW], b2(data[:1000])), "SequenceUpdate")
    out = t.ok(build(T.ST_SESSIONS, 0x13E, [seq], [PW],
                     b2(data[1000:]) + struct.pack(">I", RH_OWNER)), "SequenceComplete")
    seq_mac = out[16:16 + struct.unpack(">H", out[14:16])[0]]
    t.flush(k)
    t.flush(storage)
    return one, seq_mac


def command_audit(t):
    """SetCommandCodeAuditStatus (hash SHA-256, then GetCapability audited), GetCapability of a
    fixed property twice, GetCommandAuditDigest unsigned: (auditCounter step, digestAlg,
    auditDigest, commandDigest)."""
    owner = struct.pack(">I", RH_OWNER)
    change_alg = struct.pack(">HII", 0x000B, 0, 0)
    t.ok(build(T.ST_SESSIONS, 0x140, [RH_OWNER], [PW], change_alg), "SetCommandCodeAuditStatus")
    add = struct.pack(">HIII", 0x0010, 1, 0x17A, 0)
    t.ok(build(T.ST_SESSIONS, 0x140, [RH_OWNER], [PW], add), "SetCommandCodeAuditStatus")
    cap = struct.pack(">III", 6, 0x100, 1)
    caps = [t.ok(build(T.ST_NO_SESSIONS, 0x17A, params=cap), "GetCapability")[10:]
            for _ in range(2)]
    out = t.ok(build(T.ST_SESSIONS, 0x133, [RH_ENDORSEMENT, RH_NULL], [PW, PW],
                     b2(b"") + struct.pack(">H", 0x10)), "GetCommandAuditDigest")
    attest = out[16:16 + struct.unpack(">H", out[14:16])[0]]
    i = 6
    for _ in range(2):  # qualifiedSigner, extraData
        i += 2 + struct.unpack(">H", attest[i:i + 2])[0]
    i += 17 + 8  # clockInfo, firmwareVersion
    counter, alg = struct.unpack(">QH", attest[i:i + 10])
    i += 10
    n = struct.unpack(">H", attest[i:i + 2])[0]
    digest = attest[i + 2:i + 2 + n]
    i += 2 + n
    m = struct.unpack(">H", attest[i:i + 2])[0]
    command_digest = attest[i + 2:i + 2 + m]
    # Remove GetCapability again so later cases are not audited.
    t.ok(build(T.ST_SESSIONS, 0x140, [RH_OWNER], [PW], struct.pack(">HIII", 0x10, 0, 1, 0x17A)),
         "SetCommandCodeAuditStatus")
    sha = lambda b: hashlib.sha256(b).digest()  # noqa: E731
    d = bytes(32)
    d = sha(d + sha(struct.pack(">I", 0x140) + owner + add) + sha(struct.pack(">II", 0, 0x140)))
    for c in caps:
        d = sha(d + sha(struct.pack(">I", 0x17A) + cap) + sha(struct.pack(">II", 0, 0x17A) + c))
    want_cmds = sha(struct.pack(">II", 0x140, 0x17A))
    T.check(alg == 0x000B and digest == d and command_digest == want_cmds,
            f"[{t.label}] command audit: alg {alg:#x}, digest {digest.hex()} (hashlib "
            f"{d.hex()}), commandDigest {command_digest.hex()} (hashlib {want_cmds.hex()})")
    return counter


def session_listing(t):
    """Handle types listed for 0x02… and 0x03… with one HMAC and one policy session."""
    sessions = []
    for se in (0, 1):
        out = t.ok(build(T.ST_NO_SESSIONS, CC_START_AUTH_SESSION, [RH_NULL, RH_NULL],
                         params=b2(b"\x11" * 16) + b2(b"") + bytes([se]) + b"\x00\x10"
                         + struct.pack(">H", 0x000B)), "StartAuthSession")
        sessions.append(struct.unpack(">I", out[10:14])[0])
    listed = []
    for prop in (0x02000000, 0x03000000):
        out = t.ok(get_cap(1, prop, 16), "GetCapability")
        (n,) = struct.unpack(">I", out[15:19])
        listed.append([struct.unpack(">I", out[19 + 4 * i:23 + 4 * i])[0] >> 24
                       for i in range(n)])
    for h in sessions:
        t.flush(h)
    return listed


def quote_digest(t, sel):
    """Quote `sel` with a fresh P-384 AK; returns (pcrDigest from TPMS_ATTEST, PCR values)."""
    ak = t.primary(RH_ENDORSEMENT, ecc_template(AK, scheme=ECDSA_SHA384))
    data = t.ok(build(T.ST_SESSIONS, CC_QUOTE, [ak], [PW],
                      b2(b"nonce-1234") + b"\x00\x10" + pcr_select(sel)), "Quote")
    t.flush(ak)
    (size,) = struct.unpack(">H", data[14:16])
    attest = data[16:16 + size]
    T.check(attest[:6] == bytes.fromhex("ff5443478018"), f"[{t.label}] not a quote: {attest[:6]}")
    (dsize,) = struct.unpack(">H", attest[-50:-48])
    T.check(dsize == 48, f"[{t.label}] pcrDigest size {dsize}")
    values = t.raw.pcr_read(list(sel), pcrs=range(24))
    return attest[-48:], values


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
        rows = {t.label: error_cases(t) + conformance_cases(t) for t in (ours, ref)}
        failures = []
        print(f"{'case':72} {'swtpm':>7} {'ours':>7}")
        for (name, mine), (_, theirs) in zip(rows["ours"], rows["swtpm"]):
            verdict = "" if mine == theirs else "  DIFFERS"
            print(f"{name:72} {theirs:#7x} {mine:#7x}{verdict}")
            T.check(theirs != 0, f"swtpm accepted the error case {name!r}")
            if mine != theirs:
                failures.append(name)
        T.check(not failures, f"response codes differ from swtpm: {failures}")
        T.log("ok: every error case answers swtpm's response code")
        l_ours, l_ref = session_listing(ours), session_listing(ref)
        T.check(l_ours == l_ref == [[2, 3], []],
                f"GetCapability(HANDLES) sessions: ours {l_ours}, swtpm {l_ref}")
        T.log("ok: loaded HMAC and policy sessions are listed under 0x02… as swtpm lists them")

        key, data = b"0123456789abcdef0123456789abcdef", bytes(i % 251 for i in range(1500))
        want = (hmac.new(key, data[:1024], "sha256").digest(),
                hmac.new(key, data, "sha256").digest())
        for t in (ours, ref):
            got = hmac_with_a_known_key(t, key, data)
            T.check(got == want, f"[{t.label}] HMAC / HMAC sequence {got} != hashlib's")
        T.log("ok: HMAC and HMAC_Start sequences with a caller's key equal hashlib's on both TPMs")

        counters = [command_audit(t) for t in (ours, ref)]
        T.log(f"ok: command audit digest and command digest equal hashlib's on both TPMs "
              f"(auditCounter {counters[0]} / {counters[1]})")

        ext = {b: hashlib.new(b, b"quoted").digest() for b in ("sha256", "sha384")}
        params = struct.pack(">I", 2) + b"".join(struct.pack(">H", T.ALG_IDS[b]) + d
                                                 for b, d in ext.items())
        for t in (ours, ref):
            t.ok(build(T.ST_SESSIONS, 0x182, [16], [PW], params), "PCR_Extend")
        sel = {"sha256": [0, 1, 2, 16], "sha384": [0, 16, 23]}
        (d_ours, v_ours), (d_ref, v_ref) = quote_digest(ours, sel), quote_digest(ref, sel)
        h = hashlib.sha384()
        for bank, pcrs in sel.items():
            for i in pcrs:
                h.update(v_ours[bank][i])
        T.check(d_ours == h.digest(), "our pcrDigest is not H(selected PCR values)")
        T.check(d_ours == d_ref, f"pcrDigest differs: ours {d_ours.hex()}, swtpm {d_ref.hex()}")
        T.log("ok: the quote's pcrDigest is identical on both TPMs and equals hashlib's")


if __name__ == "__main__":
    T.run_main(main)
