#!/usr/bin/python3
"""Duplication with tpm2-tools, then the error cases against swtpm 0.7.1 (libtpms 0.9.2).

    /usr/bin/python3 tests/clients/duplication.py --tcti mssim:host=127.0.0.1,port=N
        [--ref-tcti swtpm:host=127.0.0.1,port=M]      # default: spawn:swtpm (a fresh one)

On each TPM (ours and swtpm), with tpm2-tools 5.4 (needs `python3-cryptography`):

  - a P-256 signing key made with the policy PolicyCommandCode(TPM2_CC_Duplicate)
    (`tpm2_policycommandcode`) is duplicated with `tpm2_duplicate` to the public part of an
    endorsement storage key (`tpm2_loadexternal`), with an inner wrapper whose key the TPM
    makes (`-G aes -o`), imported there with `tpm2_import` and loaded; its signature
    (`tpm2_sign`) verifies with `cryptography` under the original key's public PEM;
  - the same key duplicated to TPM_RH_NULL (`-G null`, no wrappers) holds the scalar in
    clear: P-256 · d must give the key's public point (checked in Python);
  - a P-256 key made by openssl (`tpm2_import -G ecc -i key.pem`: tpm2-tools builds the
    duplication blob in software, seed by ECDH/KDFe "DUPLICATE") signs for `cryptography`,
    under an ECC and under an RSA-2048 parent (seed by OAEP "DUPLICATE\\0"); an RSA-2048
    key made by openssl (`-G rsa`) under the RSA parent signs too; an HMAC key
    (`-G hmac -i key.bin`) gives `hmac`'s HMAC-SHA256 through `tpm2_hmac`.

Then 25 error cases as raw commands, each TPM's keys and names read from its own answers:
Duplicate with a password (the DUP role takes a policy only), with a policy session whose
digest differs, with one that names no command (authPolicy = the empty policy's digest),
with one limited to another command; of a fixedParent key; to a signing key; of an
encryptedDuplication key without inner wrapper or to TPM_RH_NULL; an inner key of the wrong
size; Import of a fixedTPM object, under the wrong parent, of a changed blob, with another
public area, without the inner or outer wrapper an encryptedDuplication object needs, an
inner key of the wrong size, under a signing key, with a point off the curve; Rewrap with a
seed and no old parent, a changed blob, a seed the old parent cannot decrypt;
PolicyDuplicationSelect after PolicyCommandCode, twice, with includeObject 2, and used for
another new parent. The codes must be swtpm's (and swtpm must refuse each case).

Then 24 Import cases of sensitive areas made in Python and imported in clear (checked as
ObjectLoad / CryptValidateKeys check them): an authValue or a keyed-hash seedValue of the
wrong size, a byte after TPMT_SENSITIVE, another type, an HMAC key longer than a block, a
key that does not give unique, forbidden attributes (alone, and with a seedValue too long
or a truncated sensitive area: the sensitive area is unmarshaled first), an ECC storage
key's seedValue of 0, 8, 15 and 16 bytes, another scalar, 0, n, a zero before the
scalar, 17 zeros before it (49 bytes), a public x of 31, 32 and 33 bytes (coordinates are
integers); and under a movable (not fixedTPM) parent, where Import does not check
attributes, the Load that does. Cases at a check's boundary must be accepted by both.

Exit status: 0 passed, 1 a difference or failure, 77 a prerequisite is missing.
"""

import argparse
import hashlib
import hmac
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpmlib as T  # noqa: E402
from servers import open_target  # noqa: E402
from tpmlib import PW, auth, build  # noqa: E402

RH_OWNER, RH_ENDORSEMENT, RH_NULL = 0x40000001, 0x4000000B, 0x40000007
CC_CREATE_PRIMARY, CC_CREATE, CC_LOAD, CC_READ_PUBLIC = 0x131, 0x153, 0x157, 0x173
CC_START_AUTH_SESSION, CC_POLICY_COMMAND_CODE, CC_FLUSH = 0x176, 0x16C, 0x165
CC_DUPLICATE, CC_REWRAP, CC_IMPORT, CC_SIGN = 0x14B, 0x152, 0x156, 0x15D
CC_POLICY_DUPLICATION_SELECT = 0x188

STORAGE = 0x00030072          # fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | restricted | decrypt
SIGNER = 0x00040060           # sign | sensitiveDataOrigin | userWithAuth: duplicable
ENC_DUP = 0x800
AES128CFB = struct.pack(">HHH", 0x0006, 128, 0x0043)
NULL = b"\x00\x10"
ECDSA_SHA256 = struct.pack(">HH", 0x0018, 0x000B)


def b2(data):
    return struct.pack(">H", len(data)) + data


def ecc_template(attrs, policy=b"", sym=NULL, scheme=NULL):
    return (struct.pack(">HHI", 0x0023, 0x000B, attrs) + b2(policy) + sym + scheme
            + struct.pack(">HH", 3, 0x0010) + b2(b"") + b2(b""))


def rsa_storage_template():
    return (struct.pack(">HHI", 0x0001, 0x000B, STORAGE) + b2(b"") + AES128CFB + NULL
            + struct.pack(">HI", 2048, 0) + b2(b""))


def policy_cc(cc):
    return hashlib.sha256(bytes(32) + struct.pack(">II", CC_POLICY_COMMAND_CODE, cc)).digest()


def tpm2bs(data, n):
    """The first n TPM2Bs of data, each with its size field."""
    out, i = [], 0
    for _ in range(n):
        size = struct.unpack(">H", data[i:i + 2])[0]
        out.append(data[i:i + 2 + size])
        i += 2 + size
    return out


class Target:
    def __init__(self, label, tcti):
        self.label = label
        self.tcti = tcti
        self.raw = T.RawTpm(tcti)

    def run(self, cmd):
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

    def params(self, cmd, what, handle=False):
        """The response parameters of a command sent with sessions."""
        data = self.ok(cmd, what)
        i = 14 if handle else 10
        size = struct.unpack(">I", data[i:i + 4])[0]
        return data[i + 4:i + 4 + size]

    def primary(self, hierarchy, template):
        params = b2(b2(b"") + b2(b"")) + b2(template) + b2(b"") + struct.pack(">I", 0)
        data = self.ok(build(T.ST_SESSIONS, CC_CREATE_PRIMARY, [hierarchy], [PW], params),
                       "CreatePrimary")
        return struct.unpack(">I", data[10:14])[0]

    def create(self, parent, template):
        """(TPM2B_PRIVATE, TPM2B_PUBLIC) of a new child."""
        params = b2(b2(b"") + b2(b"")) + b2(template) + b2(b"") + struct.pack(">I", 0)
        return tpm2bs(self.params(build(T.ST_SESSIONS, CC_CREATE, [parent], [PW], params),
                                  "Create"), 2)

    def load(self, parent, blobs):
        data = self.ok(build(T.ST_SESSIONS, CC_LOAD, [parent], [PW], blobs[0] + blobs[1]),
                       "Load")
        return struct.unpack(">I", data[10:14])[0]

    def name(self, handle):
        data = self.ok(build(T.ST_NO_SESSIONS, CC_READ_PUBLIC, [handle]), "ReadPublic")
        pub, name, _ = tpm2bs(data[10:], 3)
        return name[2:]

    def flush(self, handle):
        self.ok(build(T.ST_NO_SESSIONS, CC_FLUSH, params=struct.pack(">I", handle)), "Flush")

    def policy_session(self, cc=None):
        params = b2(bytes(32)) + b2(b"") + bytes([1]) + NULL + struct.pack(">H", 0x000B)
        data = self.ok(build(T.ST_NO_SESSIONS, CC_START_AUTH_SESSION, [RH_NULL, RH_NULL],
                             params=params), "StartAuthSession")
        h = struct.unpack(">I", data[10:14])[0]
        if cc is not None:
            self.ok(build(T.ST_NO_SESSIONS, CC_POLICY_COMMAND_CODE, [h],
                          params=struct.pack(">I", cc)), "PolicyCommandCode")
        return h

    def select(self, session, obj, parent, include):
        return self.run(build(T.ST_NO_SESSIONS, CC_POLICY_DUPLICATION_SELECT, [session],
                              params=b2(obj) + b2(parent) + bytes([include]))).rc

    def duplicate(self, key, new_parent, session, key_in=b"", sym=NULL):
        """Duplicate authorized by the policy session `session` (None: a password); a policy
        session that failed is flushed (one that succeeded ended with the command)."""
        a = PW if session is None else auth(session, nonce=bytes(16), attrs=0)
        out = self.run(build(T.ST_SESSIONS, CC_DUPLICATE, [key, new_parent], [a],
                             b2(key_in) + sym))
        if session is not None and out.rc != 0:
            self.flush(session)
        return out


def error_cases(t):
    """(name, rc) of each error case on TPM t; every session it starts is used or flushed."""
    rows = []

    def row(name, rc):
        rows.append((name, rc))

    # swtpm holds three objects (and Create needs a free slot): every key is made first under
    # the owner primary alone, then at most three objects are loaded at once. Primaries are
    # derived again as needed (the same seed gives the same key).
    src = t.primary(RH_OWNER, ecc_template(STORAGE, sym=AES128CFB))
    dst = t.primary(RH_ENDORSEMENT, ecc_template(STORAGE, sym=AES128CFB))
    dst_name = t.name(dst)
    t.flush(dst)
    sel = hashlib.sha256(bytes(32) + struct.pack(">I", CC_POLICY_DUPLICATION_SELECT)
                         + dst_name + b"\x00").digest()
    blobs = {
        "key": t.create(src, ecc_template(SIGNER, policy_cc(CC_DUPLICATE), scheme=ECDSA_SHA256)),
        "empty": t.create(src, ecc_template(SIGNER, bytes(32), scheme=ECDSA_SHA256)),
        "sign": t.create(src, ecc_template(SIGNER, policy_cc(CC_SIGN), scheme=ECDSA_SHA256)),
        "fixed": t.create(src, ecc_template(SIGNER | 0x12, policy_cc(CC_DUPLICATE),
                                            scheme=ECDSA_SHA256)),
        "encdup": t.create(src, ecc_template(SIGNER | ENC_DUP, policy_cc(CC_DUPLICATE),
                                             scheme=ECDSA_SHA256)),
        "select": t.create(src, ecc_template(SIGNER, sel, scheme=ECDSA_SHA256)),
    }
    key_pub, ked_pub = blobs["key"][1], blobs["encdup"][1]
    dst = t.primary(RH_ENDORSEMENT, ecc_template(STORAGE, sym=AES128CFB))

    def with_key(which, f):
        h = t.load(src, blobs[which])
        try:
            return f(h)
        finally:
            t.flush(h)

    # Authorization of the DUP role.
    key = t.load(src, blobs["key"])
    row("Duplicate with a password", t.duplicate(key, dst, None).rc)
    s = t.policy_session()
    row("Duplicate, policy digest differs", t.duplicate(key, dst, s).rc)
    t.flush(key)
    s = t.policy_session()
    row("Duplicate, policy names no command",
        with_key("empty", lambda k: t.duplicate(k, dst, s).rc))
    s = t.policy_session(CC_SIGN)
    row("Duplicate, policy limited to Sign",
        with_key("sign", lambda k: t.duplicate(k, dst, s).rc))

    # Duplicate's checks.
    s = t.policy_session(CC_DUPLICATE)
    row("Duplicate of a fixedParent key",
        with_key("fixed", lambda k: t.duplicate(k, dst, s).rc))
    key = t.load(src, blobs["key"])
    s = t.policy_session(CC_DUPLICATE)
    row("Duplicate to a signing key", t.duplicate(key, key, s).rc)
    s = t.policy_session(CC_DUPLICATE)
    row("Duplicate, inner key of 5 bytes",
        t.duplicate(key, dst, s, b"\x01" * 5, AES128CFB).rc)
    s = t.policy_session(CC_DUPLICATE)
    out = t.duplicate(key, dst, s)
    T.check(out.rc == 0, f"[{t.label}] Duplicate: {out.rc:#x}")
    size = struct.unpack(">I", out.data[10:14])[0]
    _, dup, seed = tpm2bs(out.data[14:14 + size], 3)
    name = t.name(key)
    t.flush(key)
    ked = t.load(src, blobs["encdup"])
    s = t.policy_session(CC_DUPLICATE)
    row("Duplicate encryptedDuplication, no inner wrapper",
        t.duplicate(ked, dst, s).rc)
    s = t.policy_session(CC_DUPLICATE)
    row("Duplicate encryptedDuplication to TPM_RH_NULL",
        t.duplicate(ked, RH_NULL, s, sym=AES128CFB).rc)

    # Import's checks, on blobs made by Duplicate.
    s = t.policy_session(CC_DUPLICATE)
    out = t.duplicate(ked, dst, s, sym=AES128CFB)
    T.check(out.rc == 0, f"[{t.label}] Duplicate: {out.rc:#x}")
    t.flush(ked)
    size = struct.unpack(">I", out.data[10:14])[0]
    ekey, edup, eseed = tpm2bs(out.data[14:14 + size], 3)

    def imp(parent, key_in, public, dup, seed, sym):
        return t.run(build(T.ST_SESSIONS, CC_IMPORT, [parent], [PW],
                           key_in + public + dup + seed + sym)).rc

    row("Import encryptedDuplication, no inner wrapper",
        imp(dst, b2(b""), ked_pub, edup, eseed, NULL))
    row("Import encryptedDuplication, no outer wrapper",
        imp(dst, ekey, ked_pub, edup, b2(b""), AES128CFB))
    row("Import, inner key of 1 byte", imp(dst, b2(b"\x01"), ked_pub, edup, eseed, AES128CFB))
    row("Import of a fixedTPM object",
        imp(dst, b2(b""), b2(ecc_template(SIGNER | 0x12, scheme=ECDSA_SHA256)), b2(b""),
            b2(b""), NULL))
    row("Import under the wrong parent", imp(src, b2(b""), key_pub, dup, seed, NULL))
    changed = dup[:-1] + bytes([dup[-1] ^ 1])
    row("Import of a changed blob", imp(dst, b2(b""), key_pub, changed, seed, NULL))
    row("Import with another public area",
        imp(dst, b2(b""), blobs["empty"][1], dup, seed, NULL))
    row("Import under a signing key",
        with_key("key", lambda k: imp(k, b2(b""), key_pub, dup, seed, NULL)))
    off_curve = seed[:10] + bytes([seed[10] ^ 1]) + seed[11:]
    row("Import, seed point off the curve", imp(dst, b2(b""), key_pub, dup, off_curve, NULL))

    # Rewrap.
    t.flush(src)
    rsa_parent = t.primary(RH_OWNER, rsa_storage_template())

    def rewrap(old, new, dup, seed):
        return t.run(build(T.ST_SESSIONS, CC_REWRAP, [old, new], [PW],
                           dup + b2(name) + seed)).rc

    row("Rewrap, a seed without old parent", rewrap(RH_NULL, rsa_parent, dup, seed))
    row("Rewrap, a changed blob", rewrap(dst, RH_NULL, changed, seed))
    row("Rewrap, an RSA seed that does not decrypt",
        rewrap(rsa_parent, RH_NULL, dup, b2(bytes([0x5A]) * 256)))

    # PolicyDuplicationSelect.
    t.flush(rsa_parent)
    src = t.primary(RH_OWNER, ecc_template(STORAGE, sym=AES128CFB))
    s = t.policy_session(CC_DUPLICATE)
    row("PolicyDuplicationSelect after PolicyCommandCode", t.select(s, name, dst_name, 1))
    t.flush(s)
    s = t.policy_session()
    T.check(t.select(s, name, dst_name, 1) == 0, f"[{t.label}] PolicyDuplicationSelect")
    row("PolicyDuplicationSelect twice", t.select(s, name, dst_name, 1))
    row("PolicyDuplicationSelect includeObject 2", t.select(s, name, dst_name, 2))
    t.flush(s)
    ks = t.load(src, blobs["select"])
    ks_name = t.name(ks)
    s = t.policy_session()
    T.check(t.select(s, ks_name, dst_name, 0) == 0, f"[{t.label}] PolicyDuplicationSelect")
    row("PolicyDuplicationSelect, Duplicate to another parent",
        t.duplicate(ks, src, s).rc)
    s = t.policy_session()
    T.check(t.select(s, ks_name, dst_name, 0) == 0, f"[{t.label}] PolicyDuplicationSelect")
    out = t.duplicate(ks, dst, s)
    T.check(out.rc == 0, f"[{t.label}] Duplicate to the selected parent: {out.rc:#x}")
    for h in (ks, dst, src):
        t.flush(h)
    return rows


def sensitive_blob(ty, auth_value, seed, key, extra=b""):
    """TPM2B_PRIVATE of a duplication blob in clear: TPM2B(u16 size || TPMT_SENSITIVE)."""
    return b2(b2(struct.pack(">H", ty) + b2(auth_value) + b2(seed) + b2(key) + extra))


def keyed_hash_public(attrs, scheme, seed, key):
    return b2(struct.pack(">HHI", 0x0008, 0x000B, attrs) + b2(b"") + scheme
              + b2(hashlib.sha256(seed + key).digest()))


def ecc_public(d, attrs, sym=NULL, scheme=NULL):
    from cryptography.hazmat.primitives.asymmetric import ec
    q = ec.derive_private_key(d, ec.SECP256R1()).public_key().public_numbers()
    return b2(struct.pack(">HHI", 0x0023, 0x000B, attrs) + b2(b"") + sym + scheme
              + struct.pack(">HH", 3, 0x0010) + b2(q.x.to_bytes(32, "big"))
              + b2(q.y.to_bytes(32, "big")))


# Crafted cases that are not errors (the boundary of a check): both TPMs must accept them.
ACCEPTED = ("Import, ECC storage key, seedValue of 16 bytes",
            "Import, ECC storage key, a zero before the scalar",
            "Import under a movable parent, restricted sign+decrypt",
            "Import, ECC key, x of 31 bytes", "Import, ECC key, x of 32 bytes",
            "Import, ECC key, x of 33 bytes",
            "Import, ECC storage key, a scalar of 49 bytes")

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def crafted_cases(t):
    """(name, rc) of Import of sensitive areas made outside the TPM, in clear, under a fixedTPM
    parent (checked at Import) and under a movable one (checked at Load)."""
    rows = []
    parent = t.primary(RH_OWNER, ecc_template(STORAGE, sym=AES128CFB))

    def imp(public, dup, under=parent):
        return t.run(build(T.ST_SESSIONS, CC_IMPORT, [under], [PW],
                           b2(b"") + public + dup + b2(b"") + NULL))

    seed, key = b"\x44" * 32, b"\x33" * 32
    hmac_sha256 = struct.pack(">HH", 0x0005, 0x000B)

    def hkey(seed, key, attrs=0x00040040, scheme=hmac_sha256):
        return keyed_hash_public(attrs, scheme, seed, key)

    T.check(imp(hkey(seed, key), sensitive_blob(8, b"", seed, key)).rc == 0,
            f"[{t.label}] Import of an HMAC key in clear")
    for name, public, dup in [
        ("authValue of 33 bytes", hkey(seed, key), sensitive_blob(8, b"\x01" * 33, seed, key)),
        ("keyed hash, seedValue of 16 bytes", hkey(seed[:16], key),
         sensitive_blob(8, b"", seed[:16], key)),
        ("keyed hash, seedValue of 33 bytes", hkey(seed + b"\x44", key),
         sensitive_blob(8, b"", seed + b"\x44", key)),
        ("a byte after TPMT_SENSITIVE", hkey(seed, key),
         sensitive_blob(8, b"", seed, key, b"\x00")),
        ("an ECC sensitive area for a keyed hash", hkey(seed, key),
         sensitive_blob(0x23, b"", seed, key)),
        ("an HMAC key of 65 bytes", hkey(seed, b"\x33" * 65),
         sensitive_blob(8, b"", seed, b"\x33" * 65)),
        ("keyed hash, unique of another key", hkey(seed, key),
         sensitive_blob(8, b"", seed, b"\x34" * 32)),
        ("restricted sign+decrypt HMAC key", hkey(seed, key, 0x00070040),
         sensitive_blob(8, b"", seed, key)),
        ("restricted sign+decrypt, seedValue of 33 bytes", hkey(seed + b"\x44", key, 0x00070040),
         sensitive_blob(8, b"", seed + b"\x44", key)),
        ("restricted sign+decrypt, truncated sensitive", hkey(seed, key, 0x00070040),
         b2(b2(struct.pack(">H", 8) + b2(b"") + b"\x00"))),
    ]:
        rows.append((f"Import, {name}", imp(public, dup).rc))
    d = 0x1234567
    storage = ecc_public(d, 0x00030060, sym=AES128CFB)
    for n in (0, 8, 15, 16):
        rows.append((f"Import, ECC storage key, seedValue of {n} bytes",
                     imp(storage, sensitive_blob(0x23, b"", b"\x55" * n,
                                                 d.to_bytes(32, "big"))).rc))
    for name, scalar in [("another scalar", (d + 1).to_bytes(32, "big")),
                         ("scalar 0", bytes(32)), ("scalar n", P256_N.to_bytes(32, "big")),
                         ("a zero before the scalar", b"\x00" + d.to_bytes(32, "big")),
                         ("a scalar of 49 bytes", bytes(17) + d.to_bytes(32, "big"))]:
        rows.append((f"Import, ECC storage key, {name}",
                     imp(storage, sensitive_blob(0x23, b"", b"\x55" * 32, scalar)).rc))
    # Coordinates are integers: d = 379 gives an x with a leading zero byte.
    from cryptography.hazmat.primitives.asymmetric import ec
    q = ec.derive_private_key(379, ec.SECP256R1()).public_key().public_numbers()
    for n in (31, 32, 33):
        public = b2(struct.pack(">HHI", 0x0023, 0x000B, SIGNER) + b2(b"") + NULL + ECDSA_SHA256
                    + struct.pack(">HH", 3, 0x0010) + b2(q.x.to_bytes(n, "big"))
                    + b2(q.y.to_bytes(32, "big")))
        rows.append((f"Import, ECC key, x of {n} bytes",
                     imp(public, sensitive_blob(0x23, b"", b"", (379).to_bytes(32, "big"))).rc))
    # Under a movable storage parent (fixedTPM CLEAR) Import leaves the checks to Load.
    movable = t.load(parent, t.create(parent, ecc_template(0x00030060, sym=AES128CFB)))
    public = hkey(seed, key, 0x00070040)
    out = imp(public, sensitive_blob(8, b"", seed, key), movable)
    rows.append(("Import under a movable parent, restricted sign+decrypt", out.rc))
    if out.rc == 0:
        size = struct.unpack(">I", out.data[10:14])[0]
        private = tpm2bs(out.data[14:14 + size], 1)[0]
        rows.append(("Load of it", t.run(build(T.ST_SESSIONS, CC_LOAD, [movable], [PW],
                                               private + public)).rc))
    for h in (movable, parent):
        t.flush(h)
    return rows


# --- tpm2-tools flows ------------------------------------------------------------------
def tools_flows(tcti, work, label):
    """The tpm2-tools flows of the docstring on one TPM; results checked in Python."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    def p(name):
        return os.path.join(work, name)

    def tool(*argv, **kw):
        return T.tool(tcti, *argv, **kw)

    def flush():
        tool("tpm2_flushcontext", "-t")
        tool("tpm2_flushcontext", "-s")

    msg = b"duplicated key signs this"
    with open(p("msg"), "wb") as f:
        f.write(msg)

    def verify_ecdsa(pem_path, sig_path, what):
        with open(pem_path, "rb") as f:
            pub = serialization.load_pem_public_key(f.read())
        with open(sig_path, "rb") as f:
            sig = f.read()
        try:
            pub.verify(sig, msg, ec.ECDSA(hashes.SHA256()))
        except Exception as e:  # noqa: BLE001
            raise T.Failure(f"[{label}] {what}: signature does not verify: {e!r}")

    tool("tpm2_createprimary", "-C", "o", "-g", "sha256", "-G", "ecc256:aes128cfb",
         "-c", p("src.ctx"))
    tool("tpm2_createprimary", "-C", "e", "-g", "sha256", "-G", "ecc256:aes128cfb",
         "-c", p("dst.ctx"))
    tool("tpm2_readpublic", "-c", p("dst.ctx"), "-o", p("dst.pub"))
    flush()
    tool("tpm2_startauthsession", "-S", p("trial.ctx"))
    tool("tpm2_policycommandcode", "-S", p("trial.ctx"), "-L", p("dup.policy"),
         "TPM2_CC_Duplicate")
    tool("tpm2_flushcontext", p("trial.ctx"))
    with open(p("dup.policy"), "rb") as f:
        T.check(f.read() == policy_cc(CC_DUPLICATE), f"[{label}] PolicyCommandCode digest")
    tool("tpm2_create", "-C", p("src.ctx"), "-g", "sha256", "-G", "ecc256",
         "-a", "sensitivedataorigin|userwithauth|sign", "-L", p("dup.policy"),
         "-u", p("key.pub"), "-r", p("key.priv"))
    flush()
    tool("tpm2_load", "-C", p("src.ctx"), "-u", p("key.pub"), "-r", p("key.priv"),
         "-c", p("key.ctx"))
    tool("tpm2_readpublic", "-c", p("key.ctx"), "-f", "pem", "-o", p("key.pem"))
    flush()
    tool("tpm2_loadexternal", "-C", "o", "-u", p("dst.pub"), "-c", p("dstpub.ctx"))
    flush()
    tool("tpm2_startauthsession", "--policy-session", "-S", p("s.ctx"))
    tool("tpm2_policycommandcode", "-S", p("s.ctx"), "TPM2_CC_Duplicate")
    tool("tpm2_duplicate", "-C", p("dstpub.ctx"), "-c", p("key.ctx"), "-G", "aes",
         "-o", p("inner.key"), "-p", "session:" + p("s.ctx"), "-r", p("dup.priv"),
         "-s", p("dup.seed"))
    tool("tpm2_flushcontext", p("s.ctx"))
    T.check(os.path.getsize(p("inner.key")) == 16, f"[{label}] inner key size")
    flush()
    tool("tpm2_import", "-C", p("dst.ctx"), "-u", p("key.pub"), "-i", p("dup.priv"),
         "-r", p("imp.priv"), "-s", p("dup.seed"), "-k", p("inner.key"), "-G", "aes")
    flush()
    tool("tpm2_load", "-C", p("dst.ctx"), "-u", p("key.pub"), "-r", p("imp.priv"),
         "-c", p("imp.ctx"))
    tool("tpm2_sign", "-c", p("imp.ctx"), "-g", "sha256", "-f", "plain", "-o", p("imp.sig"),
         p("msg"))
    verify_ecdsa(p("key.pem"), p("imp.sig"), "imported duplicate")
    T.log(f"ok [{label}]: tpm2_duplicate (policy session, inner + outer wrapper) -> "
          "tpm2_import -> tpm2_sign verifies with cryptography")
    flush()

    # To TPM_RH_NULL without wrappers: the scalar in clear must make the key's point.
    tool("tpm2_startauthsession", "--policy-session", "-S", p("s.ctx"))
    tool("tpm2_policycommandcode", "-S", p("s.ctx"), "TPM2_CC_Duplicate")
    tool("tpm2_duplicate", "-C", "null", "-c", p("key.ctx"), "-G", "null",
         "-p", "session:" + p("s.ctx"), "-r", p("clear.priv"), "-s", p("clear.seed"))
    tool("tpm2_flushcontext", p("s.ctx"))
    with open(p("clear.priv"), "rb") as f:
        blob = f.read()
    # TPM2B_PRIVATE(u16 size ‖ TPMT_SENSITIVE(type, authValue, seedValue, sensitive)).
    inner = tpm2bs(blob, 1)[0][2:]
    sens = tpm2bs(inner, 1)[0][2:]
    T.check(sens[:2] == b"\x00\x23", f"[{label}] sensitiveType {sens[:2].hex()}")
    _, _, d = tpm2bs(sens[2:], 3)
    priv = ec.derive_private_key(int.from_bytes(d[2:], "big"), ec.SECP256R1())
    with open(p("key.pem"), "rb") as f:
        want = serialization.load_pem_public_key(f.read()).public_numbers()
    T.check(priv.public_key().public_numbers() == want,
            f"[{label}] the clear duplicate's scalar does not make the key's point")
    T.log(f"ok [{label}]: a duplicate to TPM_RH_NULL holds the key's scalar in clear")
    flush()

    # Keys made outside the TPM: tpm2-tools builds the duplication blob itself.
    tool("tpm2_createprimary", "-C", "o", "-g", "sha256", "-G", "rsa2048:aes128cfb",
         "-c", p("rsap.ctx"))
    flush()
    eckey = ec.generate_private_key(ec.SECP256R1())
    with open(p("ext.pem"), "wb") as f:
        f.write(eckey.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()))
    rkey = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(p("rsa.pem"), "wb") as f:
        f.write(rkey.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.TraditionalOpenSSL,
                                   serialization.NoEncryption()))
    for parent, alg, pem in (("dst.ctx", "ecc", "ext.pem"), ("rsap.ctx", "ecc", "ext.pem"),
                             ("rsap.ctx", "rsa", "rsa.pem")):
        tool("tpm2_import", "-C", p(parent), "-G", alg, "-i", p(pem), "-u", p("x.pub"),
             "-r", p("x.priv"))
        flush()
        tool("tpm2_load", "-C", p(parent), "-u", p("x.pub"), "-r", p("x.priv"),
             "-c", p("x.ctx"))
        if alg == "ecc":
            tool("tpm2_sign", "-c", p("x.ctx"), "-g", "sha256", "-f", "plain",
                 "-o", p("x.sig"), p("msg"))
            with open(p("x.sig"), "rb") as f:
                eckey.public_key().verify(f.read(), msg, ec.ECDSA(hashes.SHA256()))
        else:
            tool("tpm2_sign", "-c", p("x.ctx"), "-g", "sha256", "-s", "rsassa", "-f", "plain",
                 "-o", p("x.sig"), p("msg"))
            with open(p("x.sig"), "rb") as f:
                rkey.public_key().verify(f.read(), msg, padding.PKCS1v15(), hashes.SHA256())
        T.log(f"ok [{label}]: tpm2_import -G {alg} -i {pem} under {parent}: the key signs "
              "for cryptography")
        flush()
    hkey = os.urandom(32)
    with open(p("hmac.key"), "wb") as f:
        f.write(hkey)
    tool("tpm2_import", "-C", p("dst.ctx"), "-G", "hmac", "-i", p("hmac.key"), "-u", p("h.pub"),
         "-r", p("h.priv"))
    flush()
    tool("tpm2_load", "-C", p("dst.ctx"), "-u", p("h.pub"), "-r", p("h.priv"), "-c", p("h.ctx"))
    got = tool("tpm2_hmac", "-c", p("h.ctx"), "-g", "sha256", "-o", p("h.out"), p("msg"))
    with open(p("h.out"), "rb") as f:
        got = f.read()
    T.check(got == hmac.new(hkey, msg, "sha256").digest(), f"[{label}] tpm2_hmac of the "
            "imported key differs from hmac's")
    T.log(f"ok [{label}]: tpm2_import -G hmac: tpm2_hmac equals hmac's HMAC-SHA256")
    flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tcti", required=True, help="TPM under test (mssim:/spawn:host-sim)")
    ap.add_argument("--ref-tcti", default="spawn:swtpm", help="reference (default spawn:swtpm)")
    args = ap.parse_args()
    T.require_programs("swtpm", "swtpm_setup", "tpm2_duplicate", "tpm2_import")
    try:
        import cryptography  # noqa: F401
    except ImportError:
        raise T.Skip("python3-cryptography is not installed")
    with open_target(args.tcti) as tcti, open_target(args.ref_tcti) as ref_tcti:
        ours, ref = Target("ours", tcti), Target("swtpm", ref_tcti)
        for t in (ours, ref):
            rc = t.run(T.cmd_startup(0)).rc
            T.check(rc in (0, T.RC_INITIALIZE), f"[{t.label}] Startup: {rc:#x}")
        for t in (ours, ref):
            with tempfile.TemporaryDirectory() as work:
                tools_flows(t.tcti, work, t.label)
        rows = {t.label: error_cases(t) + crafted_cases(t) for t in (ours, ref)}
        failures = []
        print(f"{'case':56} {'swtpm':>7} {'ours':>7}")
        for (name, mine), (_, theirs) in zip(rows["ours"], rows["swtpm"]):
            verdict = "" if mine == theirs else "  DIFFERS"
            print(f"{name:56} {theirs:#7x} {mine:#7x}{verdict}")
            T.check(theirs != 0 or name in ACCEPTED, f"swtpm accepted the error case {name!r}")
            if mine != theirs:
                failures.append(name)
        T.check(not failures, f"response codes differ from swtpm: {failures}")
        T.log(f"ok: {len(rows['ours'])} duplication error cases answer swtpm's response codes")


if __name__ == "__main__":
    T.run_main(main)
