#!/usr/bin/python3
"""Keys and objects with tpm2-tools 5.4, checked independently of the TPM where possible:
ECC primaries, child keys, signing, EK/AK, quotes, credentials, sealing, contexts.

    /usr/bin/python3 tests/clients/keys.py --tcti mssim:host=127.0.0.1,port=N
    /usr/bin/python3 tests/clients/keys.py --tcti spawn:swtpm        # checks the script
    /usr/bin/python3 tests/clients/keys.py --tcti spawn:host-sim     # target/debug/host-sim

ECC keys (the tools default to RSA, so every command here names its ECC algorithm; RSA
with the tools' defaults is rsa.py). Public keys are parsed from the tools' TPM2B_PUBLIC
files and loaded into `cryptography`; names, qualified names, policy digests, quote PCR
digests and signatures are recomputed in Python; one credential blob is made in Python
(Part 1 Annex C.6.1) and must activate on the TPM. Every tool run is a new connection, so
every use of a saved context is a ContextLoad in a later session. Transient objects are
flushed after every tool run (the tools leak them without a resource manager; swtpm has 3
slots).

The TPM may or may not have seen TPM2_Startup (tpm2_startup -c tolerates both). The script
causes two dictionary-attack failures (MAX_AUTH_FAIL is 3 on swtpm) and, when the lockout
counter shows them, resets it with tpm2_dictionarylockout -c (empty lockout auth).
--ours adds the rules that hold for our vTPM only: none left here since RSA-2048 arrived
(its vTPM-only rules are in rsa.py); the flag is accepted like the other scripts'.

Exit status: 0 all checks passed, 1 a check failed (the command, its stderr and the TPM
response code on stderr), 77 a prerequisite (tpm2-tools, a TCTI library, swtpm,
python3-cryptography) is missing.
"""

import argparse
import hashlib
import hmac
import os
import re
import secrets
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpmlib as T  # noqa: E402
from servers import open_target  # noqa: E402

# Imported in main() (exit 77 if missing): cryptography's ec, hashes, serialization, ...
crypto = None

# --- algorithm and structure constants (spec/tpm2-wire.md §3) -------------------------
ALG_RSA, ALG_KEYEDHASH, ALG_ECC = 0x0001, 0x0008, 0x0023
ALG_AES, ALG_CFB, ALG_NULL, ALG_ECDSA = 0x0006, 0x0043, 0x0010, 0x0018
HASH_NAMES = {0x0004: "sha1", 0x000B: "sha256", 0x000C: "sha384", 0x000D: "sha512"}
HASH_IDS = {v: k for k, v in HASH_NAMES.items()}
CURVES = {0x0003: ("P-256", "secp256r1", 32), 0x0004: ("P-384", "secp384r1", 48),
          0x0005: ("P-521", "secp521r1", 66)}
# TPMA_OBJECT bits
FIXED_TPM, FIXED_PARENT, SENSITIVE_DATA_ORIGIN = 0x2, 0x10, 0x20
USER_WITH_AUTH, ADMIN_WITH_POLICY, NO_DA = 0x40, 0x80, 0x400
RESTRICTED, DECRYPT, SIGN = 0x10000, 0x20000, 0x40000

RH_OWNER, RH_ENDORSEMENT, RH_NULL = 0x40000001, 0x4000000B, 0x40000007
CC_CREATE_PRIMARY, CC_FLUSH_CONTEXT = 0x131, 0x165
CC_POLICY_SECRET, CC_POLICY_OR = 0x151, 0x171
TPM_GENERATED = 0xFF544347
ST_ATTEST_QUOTE = 0x8018
PERSISTENT = 0x81000001
CONTEXT_MAGIC = 0xBADCC0DE  # tpm2-tools' file header for contexts and credential blobs

# --- response codes this script expects (the table in the module's report) ------------
RC = {
    "AUTH_FAIL_S1": 0x98E,        # wrong authValue, DA-protected entity, session 1
    "BAD_AUTH_S1": 0x9A2,         # wrong authValue, noDA entity, session 1
    "REFERENCE_H0": 0x910,        # transient handle not loaded (flushed)
    "VALUE_H1": 0x184,            # transient handle beyond the object slots
    "HANDLE_H1": 0x18B,           # persistent handle that does not exist
    "INTEGRITY_P1": 0x1DF,        # tampered context blob / credential HMAC / wrong AK
    "VALUE_P1": 0x1C4,            # TPMS_CONTEXT.hierarchy not a hierarchy
    "TYPE_P2": 0x2CA,             # CreatePrimary inPublic.type not implemented (RSA here)
    "CURVE_P2": 0x2E6,            # CreatePrimary with an unimplemented curve
    "SIZE_P1": 0x1D5,             # sealed data > 128 bytes (MAX_SYM_DATA)
    "TYPE_H1": 0x18A,             # Unseal of a signing key
    "TICKET_P3": 0x3E0,           # restricted key signing a TPM_GENERATED message
    "ECC_POINT_P2": 0x2E7,        # credential secret off the curve
    "POLICY_FAIL_S2": 0xA9D,      # H-3 EK policy session without the PolicyOR
    "AUTH_UNAVAILABLE": 0x12F,    # EK (userWithAuth clear) with a password
    "SIGNATURE_P2": 0x2DB,        # VerifySignature of a modified message
}

# TCG EK Credential Profile policies (spec/tpm2-wire.md §13). PolicyC cannot be recomputed
# here (PolicyAuthorizeNV over an NV index's name); A and B are recomputed and compared.
POLICY_A_SHA256 = bytes.fromhex(
    "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa")
POLICY_A_SHA384 = bytes.fromhex(
    "8bbf2266537c171cb56e403c4dc1d4b64f432611dc386e6f532050c3278c930e"
    "143e8bb1133824ccb431053871c6db53")
POLICY_C_SHA384 = bytes.fromhex(
    "d6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5"
    "b4947c2d73e63005eed2dc2b3593d165")
POLICY_B_SHA384 = bytes.fromhex(
    "b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419ca"
    "cb47ba09699646150f9fc000f3f80e12")


def h(alg, data):
    return hashlib.new(alg, data).digest()


def tool_rc(stderr):
    """(rc, text) of the last 'Esys_X(0x…) - layer:…' the tools printed, or (None, None).

    Matches any function name: tpm2_sign prints 'Eys_Sign(0x3E0)' (sic) in 5.4."""
    found = re.findall(r"\b\w+\((0x[0-9A-Fa-f]+)\) - (\S.*)", stderr)
    if not found:
        return None, None
    rc, text = found[-1]
    return int(rc, 16), text.strip()


# --- binary structures ------------------------------------------------------------------
class Reader:
    def __init__(self, data, what):
        self.data = bytes(data)
        self.off = 0
        self.what = what

    def take(self, n):
        T.check(self.off + n <= len(self.data),
                f"{self.what}: truncated at offset {self.off} (want {n} more bytes of "
                f"{len(self.data)}): {self.data.hex()}")
        out = self.data[self.off:self.off + n]
        self.off += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def b2b(self):
        return self.take(self.u16())

    def end(self):
        T.check(self.off == len(self.data),
                f"{self.what}: {len(self.data) - self.off} trailing bytes")


class Public:
    """A parsed TPMT_PUBLIC (ECC or KEYEDHASH; RSA only as far as the type)."""

    def __init__(self, tpmt, what):
        self.tpmt = bytes(tpmt)
        self.what = what
        r = Reader(tpmt, what)
        self.type = r.u16()
        self.name_alg = HASH_NAMES.get(r.u16())
        T.check(self.name_alg is not None, f"{what}: unknown nameAlg")
        self.attrs = r.u32()
        self.policy = r.b2b()
        self.sym = self.scheme = self.curve = self.kdf = None
        self.x = self.y = self.unique = None
        if self.type == ALG_ECC:
            self.sym = self._sym(r)
            self.scheme = self._scheme(r)
            self.curve = r.u16()
            self.kdf = self._scheme(r)
            self.x = r.b2b()
            self.y = r.b2b()
        elif self.type == ALG_KEYEDHASH:
            scheme = r.u16()
            T.check(scheme == ALG_NULL, f"{what}: keyedhash scheme {scheme:#x} (expected NULL)")
            self.scheme = (ALG_NULL, None)
            self.unique = r.b2b()
        else:
            raise T.Failure(f"{what}: type {self.type:#06x} is neither ECC nor KEYEDHASH")
        r.end()

    @staticmethod
    def _sym(r):
        alg = r.u16()
        if alg == ALG_NULL:
            return None
        return (alg, r.u16(), r.u16())

    @staticmethod
    def _scheme(r):
        alg = r.u16()
        if alg == ALG_NULL:
            return (ALG_NULL, None)
        return (alg, HASH_NAMES.get(r.u16()))

    @classmethod
    def from_file(cls, path, what=None):
        """A tpm2-tools public file (TPM2B_PUBLIC, as -u/-o write by default)."""
        with open(path, "rb") as f:
            data = f.read()
        what = what or os.path.basename(path)
        r = Reader(data, what)
        tpmt = r.b2b()
        r.end()
        return cls(tpmt, what)

    @property
    def name(self):
        return struct.pack(">H", HASH_IDS[self.name_alg]) + h(self.name_alg, self.tpmt)

    def curve_info(self):
        T.check(self.curve in CURVES, f"{self.what}: curve {self.curve} not P-256/384/521")
        return CURVES[self.curve]

    def key(self):
        """The public key as a cryptography object; rejects points off the curve."""
        T.check(self.type == ALG_ECC, f"{self.what}: not an ECC key")
        _, cname, size = self.curve_info()
        T.check(len(self.x) == size and len(self.y) == size,
                f"{self.what}: x/y of {len(self.x)}/{len(self.y)} bytes, expected {size}")
        curve = getattr(crypto.ec, cname.upper())()
        try:
            return crypto.ec.EllipticCurvePublicNumbers(
                int.from_bytes(self.x, "big"), int.from_bytes(self.y, "big"), curve).public_key()
        except ValueError as e:
            raise T.Failure(f"{self.what}: public point rejected by cryptography: {e}")

    def describe(self):
        s = f"type {self.type:#x} nameAlg {self.name_alg} attrs {self.attrs:#010x}"
        if self.type == ALG_ECC:
            s += f" curve {self.curve} scheme {self.scheme} sym {self.sym} kdf {self.kdf}"
        return s


def parse_signature(data, what):
    """TPMT_SIGNATURE (ECDSA) → (hash name, r, s)."""
    r = Reader(data, what)
    alg = r.u16()
    T.check(alg == ALG_ECDSA, f"{what}: sigAlg {alg:#06x}, expected ECDSA 0x0018")
    hname = HASH_NAMES.get(r.u16())
    T.check(hname is not None, f"{what}: unknown signature hash")
    sig_r = r.b2b()
    sig_s = r.b2b()
    r.end()
    return hname, int.from_bytes(sig_r, "big"), int.from_bytes(sig_s, "big")


def verify_ecdsa(pub, hname, r_int, s_int, data, what, prehashed=False):
    """True if (r, s) is a valid ECDSA signature of data (or of the digest data) under pub."""
    algo = getattr(crypto.hashes, hname.upper())()
    if prehashed:
        algo = crypto.utils.Prehashed(algo)
    der = crypto.utils.encode_dss_signature(r_int, s_int)
    try:
        pub.key().verify(der, data, crypto.ec.ECDSA(algo))
        return True
    except crypto.InvalidSignature:
        return False


class Attest:
    """A parsed TPMS_ATTEST of type QUOTE."""

    def __init__(self, data, what):
        r = Reader(data, what)
        self.magic = r.u32()
        self.type = r.u16()
        T.check(self.magic == TPM_GENERATED, f"{what}: magic {self.magic:#x}, not 0xFF544347")
        T.check(self.type == ST_ATTEST_QUOTE, f"{what}: type {self.type:#x}, not QUOTE 0x8018")
        self.signer = r.b2b()
        self.extra = r.b2b()
        self.clock = r.u64()
        self.reset_count = r.u32()
        self.restart_count = r.u32()
        self.safe = r.u8()
        self.firmware = r.u64()
        self.selection = []
        for _ in range(r.u32()):
            hname = HASH_NAMES.get(r.u16())
            T.check(hname is not None, f"{what}: unknown bank in the PCR selection")
            bitmap = r.take(r.u8())
            self.selection.append(
                (hname, [i for i in range(8 * len(bitmap)) if bitmap[i // 8] >> (i % 8) & 1]))
        self.pcr_digest = r.b2b()
        r.end()


# --- KDFs and MakeCredential in Python (spec/tpm2-wire.md §5, §8) -----------------------
def kdfa(hname, key, label, u, v, bits):
    out, i = b"", 1
    while len(out) * 8 < bits:
        out += hmac.new(key, struct.pack(">I", i) + label + b"\0" + u + v
                        + struct.pack(">I", bits), hname).digest()
        i += 1
    return out[:(bits + 7) // 8]


def kdfe(hname, z, label, u, v, bits):
    out, i = b"", 1
    while len(out) * 8 < bits:
        out += h(hname, struct.pack(">I", i) + z + label + b"\0" + u + v)
        i += 1
    return out[:(bits + 7) // 8]


def make_credential(ek, ak_name, credential):
    """ECC MakeCredential in software; returns a tpm2-tools credential blob file."""
    _, cname, size = ek.curve_info()
    T.check(ek.sym is not None and ek.sym[0] == ALG_AES and ek.sym[2] == ALG_CFB,
            f"EK symmetric {ek.sym} is not AES-CFB")
    hname, sym_bits = ek.name_alg, ek.sym[1]
    digest_bits = 8 * hashlib.new(hname).digest_size
    eph = crypto.ec.generate_private_key(getattr(crypto.ec, cname.upper())())
    z = eph.exchange(crypto.ec.ECDH(), ek.key())
    q = eph.public_key().public_numbers()
    qx, qy = q.x.to_bytes(size, "big"), q.y.to_bytes(size, "big")
    seed = kdfe(hname, z, b"IDENTITY", qx, ek.x, digest_bits)
    sym_key = kdfa(hname, seed, b"STORAGE", ak_name, b"", sym_bits)
    enc = crypto.Cipher(crypto.algorithms.AES(sym_key), crypto.CFB(bytes(16))).encryptor()
    enc_identity = enc.update(struct.pack(">H", len(credential)) + credential) + enc.finalize()
    hmac_key = kdfa(hname, seed, b"INTEGRITY", b"", b"", digest_bits)
    integrity = hmac.new(hmac_key, enc_identity + ak_name, hname).digest()
    id_object = struct.pack(">H", len(integrity)) + integrity + enc_identity
    secret = struct.pack(">H", size) + qx + struct.pack(">H", size) + qy
    return (struct.pack(">II", CONTEXT_MAGIC, 1) + struct.pack(">H", len(id_object)) + id_object
            + struct.pack(">H", len(secret)) + secret)


def parse_credential_file(data, ek, what):
    """Sanity of a tpm2_makecredential output: header, TPM2B_ID_OBJECT, a point on the curve."""
    r = Reader(data, what)
    T.check(r.u32() == CONTEXT_MAGIC and r.u32() == 1, f"{what}: not a tpm2-tools blob")
    idr = Reader(r.b2b(), what + " idObject")
    integrity = idr.b2b()
    T.check(len(integrity) == hashlib.new(ek.name_alg).digest_size,
            f"{what}: integrity HMAC of {len(integrity)} bytes for a {ek.name_alg} EK")
    sr = Reader(r.b2b(), what + " secret")
    x, y = sr.b2b(), sr.b2b()
    sr.end()
    r.end()
    _, cname, size = ek.curve_info()
    try:
        crypto.ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                             getattr(crypto.ec, cname.upper())()).public_key()
    except ValueError as e:
        raise T.Failure(f"{what}: encrypted secret is not a point on {cname}: {e}")
    return len(data)


def policy_secret(hname, entity_name, old=None):
    """PolicySecret(entity) with an empty policyRef, from `old` (default all zero)."""
    old = old if old is not None else bytes(hashlib.new(hname).digest_size)
    return h(hname, h(hname, old + struct.pack(">I", CC_POLICY_SECRET) + entity_name))


def policy_or(hname, digests):
    return h(hname, bytes(hashlib.new(hname).digest_size) + struct.pack(">I", CC_POLICY_OR)
             + b"".join(digests))


def qualified_name(parent_qn, name):
    """Part 1 §16: QN = nameAlg ‖ H_nameAlg(parent QN ‖ Name); a hierarchy's QN = its handle."""
    alg = HASH_NAMES[struct.unpack(">H", name[:2])[0]]
    return name[:2] + h(alg, parent_qn + name)


# --- the checks ----------------------------------------------------------------------------
class Keys:
    def __init__(self, tcti, ours, workdir):
        self.tcti = tcti
        self.ours = ours
        self.dir = workdir
        self.codes = []  # (case, rc) of the provoked errors
        self.algorithms = set()
        self.curves = set()
        self.da_failures = 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)
        return self.path(name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def tool(self, *argv, ok=True, flush=True, expect_rc=None, case=None, stdin=None):
        """Run a tool. ok=True: must succeed. ok=False: must fail; with expect_rc, with that
        TPM response code (recorded under `case` for the report). Afterwards all transient
        objects are flushed (the tools leave every ContextLoad'ed object loaded)."""
        argv = [str(a) for a in argv]
        try:
            res = T.tool(self.tcti, *argv, ok=None, stdin=stdin)
        finally:
            if flush:
                self.flush()
        rc, text = tool_rc(res.stderr)
        cmd = " ".join(argv)
        if ok is True and res.returncode != 0:
            raise T.Failure(f"`{cmd}` exited {res.returncode}"
                            + (f"; TPM response code {rc:#x} ({text})" if rc is not None else
                               "; no TPM response code (a tool-side error)")
                            + f"\nstderr:\n{res.stderr.strip()}")
        if ok is False:
            T.check(res.returncode != 0,
                    f"`{cmd}` succeeded but must fail"
                    + (f" with {expect_rc:#x}" if expect_rc is not None else "")
                    + f"; stdout:\n{res.text.strip()}")
            if expect_rc is not None:
                T.check(rc == expect_rc,
                        f"`{cmd}` failed with response code "
                        + (f"{rc:#x} ({text})" if rc is not None else "<none>")
                        + f", expected {expect_rc:#x}\nstderr:\n{res.stderr.strip()}")
            if case:
                self.codes.append((case, rc, text))
        return res

    def flush(self):
        T.tool(self.tcti, "tpm2_flushcontext", "-t")

    def transient_handles(self):
        text = T.tool(self.tcti, "tpm2_getcap", "handles-transient").text
        return [int(m, 16) for m in re.findall(r"0x[0-9A-Fa-f]+", text)]

    def persistent_handles(self):
        text = T.tool(self.tcti, "tpm2_getcap", "handles-persistent").text
        return [int(m, 16) for m in re.findall(r"0x[0-9A-Fa-f]+", text)]

    def sessions(self):
        return (T.tool(self.tcti, "tpm2_getcap", "handles-loaded-session").text.strip()
                + T.tool(self.tcti, "tpm2_getcap", "handles-saved-session").text.strip())

    def readpublic(self, ctx, stem):
        """tpm2_readpublic -c ctx: (Public, name file bytes, qualified-name bytes, pem path)."""
        pem = self.path(stem + ".pem")
        self.tool("tpm2_readpublic", "-c", ctx, "-o", self.path(stem + ".rp"),
                  "-n", self.path(stem + ".name"), "-q", self.path(stem + ".qname"))
        self.tool("tpm2_readpublic", "-c", ctx, "-o", pem, "-f", "pem")
        pub = Public.from_file(self.path(stem + ".rp"), f"readpublic {ctx}")
        name = self.read(stem + ".name")
        T.check(name == pub.name, f"readpublic {ctx}: name {name.hex()} but "
                f"nameAlg ‖ H(TPMT_PUBLIC) = {pub.name.hex()}")
        return pub, name, self.read(stem + ".qname"), pem

    def two_phase(self):
        """tpm2_ecephemeral then tpm2_zgen2phase (C(2e, 2s) ECDH, Part 3 §14.7-14.8) with an
        ecdh-sha256 P-256 primary: Z1 = dsA·QsB and Z2 = r·QeB checked from party B's side
        with cryptography (dsB·QsA, deB·QeA); the counter is then used up (TPM_RC_VALUE)."""
        ec = crypto.ec
        key = self.path("zgen.ctx")
        self.tool("tpm2_createprimary", "-C", "o", "-G", "ecc256:ecdh-sha256", "-a",
                  "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|decrypt", "-c", key)
        pub, _, _, _ = self.readpublic(key, "zgen")
        qs_a = ec.EllipticCurvePublicNumbers(int.from_bytes(pub.x, "big"),
                                             int.from_bytes(pub.y, "big"), ec.SECP256R1())
        self.tool("tpm2_ecephemeral", "-u", self.path("qe_a.bin"), "-t", self.path("ctr.bin"),
                  "ecc256")
        q = self.read("qe_a.bin")
        xl = int.from_bytes(q[2:4], "big")
        qe_a = ec.EllipticCurvePublicNumbers(int.from_bytes(q[4:4 + xl], "big"),
                                             int.from_bytes(q[6 + xl:], "big"), ec.SECP256R1())
        ctr = self.read("ctr.bin")
        T.check(len(ctr) == 2, f"tpm2_ecephemeral counter file {ctr.hex()}")
        counter = int.from_bytes(ctr, "little")

        def point_file(name, numbers):
            inner = b"".join(struct.pack(">H", 32) + v.to_bytes(32, "big")
                             for v in (numbers.x, numbers.y))
            return self.write(name, struct.pack(">H", len(inner)) + inner)

        ds_b = ec.generate_private_key(ec.SECP256R1())
        de_b = ec.generate_private_key(ec.SECP256R1())
        qs_b = point_file("qs_b.bin", ds_b.public_key().public_numbers())
        qe_b = point_file("qe_b.bin", de_b.public_key().public_numbers())
        args = ["tpm2_zgen2phase", "-c", key, "-t", counter, "--static-public",
                qs_b, "--ephemeral-public", qe_b, "--output-Z1", self.path("z1.bin"),
                "--output-Z2", self.path("z2.bin")]
        # tpm2_zgen2phase (tpm2-tools 5.x) leaves the HMAC session it starts loaded, on swtpm
        # as here: flush it after each run.
        self.tool(*args)
        self.tool("tpm2_flushcontext", "-l")
        for name, d, peer in (("Z1", ds_b, qs_a), ("Z2", de_b, qe_a)):
            z = self.read(name.lower() + ".bin")
            xl = int.from_bytes(z[2:4], "big")
            want = d.exchange(ec.ECDH(), peer.public_key())
            T.check(z[4:4 + xl] == want, f"tpm2_zgen2phase {name}.x {z[4:4 + xl].hex()} but "
                    f"party B computes {want.hex()}")
            # The whole point must be on the curve: cryptography refuses it otherwise.
            ec.EllipticCurvePublicNumbers(int.from_bytes(z[4:4 + xl], "big"),
                                          int.from_bytes(z[6 + xl:], "big"),
                                          ec.SECP256R1()).public_key()
        self.tool(*args, ok=False, expect_rc=0x4C4, case="ZGen_2Phase: counter used twice")
        self.tool("tpm2_flushcontext", "-l")
        T.log(f"ok: tpm2_ecephemeral + tpm2_zgen2phase (counter {counter}): Z1.x and Z2.x equal "
              "party B's ECDH with cryptography; the counter is then refused (TPM_RC_VALUE)")

    def hmac_keys(self):
        """tpm2_create -G hmac (a keyed-hash key the TPM makes) and tpm2_hmac on 3 bytes (one
        TPM2_HMAC) and on 5000 bytes (HMAC_Start + SequenceUpdate + SequenceComplete): the
        same key gives the same HMAC either way, and another message another HMAC."""
        parent = self.path("hmac-parent.ctx")
        self.tool("tpm2_createprimary", "-C", "o", "-G", "ecc", "-c", parent)
        self.tool("tpm2_create", "-C", parent, "-G", "hmac", "-u", self.path("hmac.pub"),
                  "-r", self.path("hmac.priv"))
        key = self.path("hmac.ctx")
        self.tool("tpm2_load", "-C", parent, "-u", self.path("hmac.pub"),
                  "-r", self.path("hmac.priv"), "-c", key)
        macs = {}
        for name, data in (("short", b"abc"), ("long", bytes(i % 253 for i in range(5000))),
                           ("long2", bytes(i % 251 for i in range(5000)))):
            path = self.write(f"hmac-{name}.bin", data)
            macs[name] = self.tool("tpm2_hmac", "-c", key, "--hex", path).text.strip()
            T.check(re.fullmatch(r"[0-9a-f]{64}", macs[name]) is not None,
                    f"tpm2_hmac {name}: {macs[name]!r}")
        again = self.tool("tpm2_hmac", "-c", key, "--hex", self.path("hmac-long.bin")).text.strip()
        T.check(again == macs["long"], "tpm2_hmac of the same 5000 bytes twice differs")
        T.check(len(set(macs.values())) == 3, f"different messages, same HMAC: {macs}")
        T.log("hmac: tpm2_create -G hmac, tpm2_hmac one-shot and sequence")

    def session_audit(self):
        """tpm2_getrandom through an audit session (tpm2_startauthsession --audit-session),
        then tpm2_getsessionauditdigest signed by an ECDSA P-256 key: the signature verifies
        with `cryptography`, and the digest equals H(0…0 ‖ cpHash ‖ rpHash) from hashlib
        (Part 1 §19.6.14)."""
        ak = self.path("audit-ak.ctx")
        self.tool("tpm2_createprimary", "-C", "e", "-g", "sha256", "-G", "ecc256:ecdsa-sha256",
                  "-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign", "-c", ak)
        _, _, _, pem = self.readpublic(ak, "audit-ak")
        sess = self.path("audit.ctx")
        self.tool("tpm2_startauthsession", "-S", sess, "--audit-session")
        rnd = bytes.fromhex(self.tool("tpm2_getrandom", "8", "--hex", "-S", sess).text.strip())
        T.check(len(rnd) == 8, f"getrandom through the audit session: {rnd.hex()}")
        msg, sig = self.path("audit.msg"), self.path("audit.sig")
        self.tool("tpm2_getsessionauditdigest", "-S", sess, "-c", ak, "-g", "sha256",
                  "-m", msg, "-s", sig, "-f", "plain")
        with open(pem, "rb") as f:
            key = crypto.serialization.load_pem_public_key(f.read())
        data = self.read("audit.msg")
        try:
            key.verify(self.read("audit.sig"), data,
                       crypto.ec.ECDSA(crypto.hashes.SHA256()))
        except crypto.InvalidSignature:
            raise T.Failure("getsessionauditdigest: the signature does not verify")
        r = Reader(data, "TPMS_ATTEST (session audit)")
        T.check(r.u32() == 0xFF544347 and r.u16() == 0x8016,
                "getsessionauditdigest: not a TPM_ST_ATTEST_SESSION_AUDIT")
        r.b2b(), r.b2b(), r.take(17), r.u64()
        r.u8()  # exclusiveSession: the tools' own commands may have ended exclusivity
        digest = r.b2b()
        cp = h("sha256", struct.pack(">IH", 0x17B, 8))
        rp = h("sha256", struct.pack(">IIH", 0, 0x17B, 8) + rnd)
        T.check(digest == h("sha256", bytes(32) + cp + rp),
                f"session audit digest {digest.hex()} != H(0 ‖ cpHash ‖ rpHash)")
        self.tool("tpm2_flushcontext", sess)
        T.log("session audit: getrandom audited, digest = hashlib's, signature verified")

    def check_pem(self, pem, pub, what):
        with open(pem, "rb") as f:
            key = crypto.serialization.load_pem_public_key(f.read())
        T.check(isinstance(key, crypto.ec.EllipticCurvePublicKey),
                f"{what}: PEM is not an EC public key")
        T.check(key.curve.name == pub.curve_info()[1],
                f"{what}: PEM curve {key.curve.name}, expected {pub.curve_info()[1]}")
        n = key.public_numbers()
        T.check(n.x == int.from_bytes(pub.x, "big") and n.y == int.from_bytes(pub.y, "big"),
                f"{what}: PEM point differs from the TPM2B_PUBLIC's")
        T.check(key.public_numbers() == pub.key().public_numbers(), f"{what}: key mismatch")

    # -----------------------------------------------------------------------------------
    def run(self):
        self.tool("tpm2_startup", "-c", flush=False)
        self.capabilities()
        self.primaries()
        self.children()
        self.signing()
        self.ek_ak()
        self.quotes()
        self.credentials()
        self.sealing()
        self.contexts()
        self.session_audit()
        self.hmac_keys()
        self.two_phase()
        self.errors()
        T.check(not self.transient_handles(), "transient handles left at the end")
        left = self.sessions()
        T.check(not left, f"sessions left at the end: {left}")
        T.log("keys: all checks passed")

    def capabilities(self):
        algs = T.parse_toplevel(T.tool(self.tcti, "tpm2_getcap", "algorithms").text)
        self.algorithms = set(algs)
        # Only ECC itself up front: everything else shows up as the failing step's TPM error.
        T.check("ecc" in self.algorithms, f"getcap algorithms: ecc missing ({self.algorithms})")
        curves = T.parse_toplevel(T.tool(self.tcti, "tpm2_getcap", "ecc-curves").text)
        self.curves = {int(v, 16) for v, _ in curves.values()}
        T.check({3, 4} <= self.curves, f"getcap ecc-curves lacks P-256/P-384: {sorted(curves)}")
        # A previous run against the same server may have left the persistent handle.
        if PERSISTENT in self.persistent_handles():
            self.tool("tpm2_evictcontrol", "-C", "o", "-c", hex(PERSISTENT))
        self.flush()

    # --- 1 -----------------------------------------------------------------------------
    def primaries(self):
        def primary(hier, alg, stem):
            self.tool("tpm2_createprimary", "-C", hier, "-G", alg, "-c", self.path(stem + ".ctx"))
            pub, name, qname, pem = self.readpublic(self.path(stem + ".ctx"), stem)
            self.check_pem(pem, pub, f"createprimary -C {hier} -G {alg}")
            return pub, name, qname

        seen = {}
        self.primary = {}
        for hier, handle in (("o", RH_OWNER), ("e", RH_ENDORSEMENT), ("n", RH_NULL)):
            for alg, curve in (("ecc384", 4), ("ecc256", 3)):
                pub, name, qname = primary(hier, alg, f"p-{hier}-{alg}")
                what = f"tpm2_createprimary -C {hier} -G {alg}"
                # The tools' default ECC storage template (tpm2-wire.md / clients.md §6).
                T.check(pub.type == ALG_ECC and pub.curve == curve, f"{what}: {pub.describe()}")
                T.check(pub.name_alg == "sha256" and pub.attrs == 0x00030072,
                        f"{what}: nameAlg/attributes {pub.describe()}, expected sha256/0x30072")
                T.check(pub.sym == (ALG_AES, 128, ALG_CFB) and pub.scheme == (ALG_NULL, None)
                        and pub.kdf == (ALG_NULL, None) and pub.policy == b"",
                        f"{what}: {pub.describe()}")
                T.check(qname == qualified_name(struct.pack(">I", handle), name),
                        f"{what}: qualified name {qname.hex()} != H(hierarchy ‖ name)")
                again = primary(hier, alg, f"p-{hier}-{alg}-again")
                T.check(again[1] == name and again[0].x == pub.x and again[0].y == pub.y,
                        f"{what} twice gave different keys (must be deterministic within a "
                        f"boot): {name.hex()} vs {again[1].hex()}")
                T.check(pub.x not in seen, f"{what}: same key as {seen.get(pub.x)}")
                seen[pub.x] = what
                self.primary[(hier, alg)] = (pub, name)
        # AES-256 for the symmetric part of a storage key.
        pub, _, _ = primary("o", "ecc384:null:aes256cfb", "p-aes256")
        T.check(pub.sym == (ALG_AES, 256, ALG_CFB) and pub.curve == 4,
                f"createprimary -G ecc384:null:aes256cfb: {pub.describe()}")
        T.check(pub.x not in seen, "ecc384:null:aes256cfb gave the same key as aes128cfb")
        self.p = self.path("p-o-ecc384.ctx")
        self.p_pub, self.p_name = self.primary[("o", "ecc384")]
        T.log("ok: 1 tpm2_createprimary -C o|e|n -G ecc384|ecc256 (+ ecc384:null:aes256cfb): "
              "P-384/P-256 PEM keys load in cryptography, names = nameAlg ‖ H(TPMT_PUBLIC), "
              "same template twice = same key and name, all 7 keys distinct")

    # --- 2 -----------------------------------------------------------------------------
    def children(self):
        p = self.p
        k_pub, k_priv, k = self.path("k.pub"), self.path("k.priv"), self.path("k.ctx")
        self.tool("tpm2_create", "-C", p, "-G", "ecc384:ecdsa-sha384", "-u", k_pub, "-r", k_priv)
        kp = Public.from_file(k_pub)
        T.check(kp.type == ALG_ECC and kp.curve == 4 and kp.scheme == (ALG_ECDSA, "sha384")
                and kp.sym is None and kp.name_alg == "sha256", f"k.pub: {kp.describe()}")
        T.check(kp.attrs & SIGN and not kp.attrs & (DECRYPT | RESTRICTED)
                and kp.attrs & FIXED_TPM and kp.attrs & SENSITIVE_DATA_ORIGIN,
                f"k.pub: attributes {kp.attrs:#x}")
        kp.key()
        self.tool("tpm2_load", "-C", p, "-u", k_pub, "-r", k_priv, "-c", k,
                  "-n", self.path("k.loadname"))
        T.check(self.read("k.loadname") == kp.name, "tpm2_load -n: name != computed from k.pub")
        rp, name, qname, pem = self.readpublic(k, "k")
        T.check(rp.tpmt == kp.tpmt, "readpublic of the loaded key != tpm2_create's public")
        T.check(qname == qualified_name(qualified_name(struct.pack(">I", RH_OWNER), self.p_name),
                                        name), "k: qualified name != H(QN(parent) ‖ name)")
        self.check_pem(pem, kp, "k")
        self.k_pub, self.k_pem = kp, pem

        # CreateLoaded (tpm2_create -c; 5.4 has no tpm2_createloaded), P-256/ecdsa-sha256.
        self.tool("tpm2_create", "-C", p, "-G", "ecc256:ecdsa-sha256", "-c", self.path("k256.ctx"),
                  "-u", self.path("k256.pub"), "-r", self.path("k256.priv"))
        k256 = Public.from_file(self.path("k256.pub"))
        T.check(k256.curve == 3 and k256.scheme == (ALG_ECDSA, "sha256"), k256.describe())
        rp, _, _, _ = self.readpublic(self.path("k256.ctx"), "k256")
        T.check(rp.tpmt == k256.tpmt, "readpublic of the CreateLoaded key != its -u public")
        # The same private blob loads again (a second object with the same name).
        self.tool("tpm2_load", "-C", p, "-u", self.path("k256.pub"), "-r", self.path("k256.priv"),
                  "-c", self.path("k256b.ctx"), "-n", self.path("k256b.name"))
        T.check(self.read("k256b.name") == k256.name, "reloaded k256: different name")
        self.k256 = k256
        # A key without a fixed scheme (the tools' default attributes: sign|decrypt).
        self.tool("tpm2_create", "-C", p, "-G", "ecc256", "-c", self.path("kn.ctx"),
                  "-u", self.path("kn.pub"), "-r", self.path("kn.priv"))
        kn = Public.from_file(self.path("kn.pub"))
        T.check(kn.scheme == (ALG_NULL, None) and kn.attrs & SIGN and kn.attrs & DECRYPT,
                f"kn.pub: {kn.describe()}")
        self.kn = kn

        # Transient objects: the tools leave them loaded; flushcontext -t removes all.
        self.tool("tpm2_readpublic", "-c", k, flush=False)
        self.tool("tpm2_readpublic", "-c", self.path("k256.ctx"), flush=False)
        T.check(len(self.transient_handles()) == 2, "two ContextLoads: not 2 transient handles")
        self.tool("tpm2_flushcontext", "-t", flush=False)
        T.check(not self.transient_handles(), "tpm2_flushcontext -t left transient handles")

        # Persistent: EvictControl, readpublic by handle, a child under it, evict again.
        self.tool("tpm2_evictcontrol", "-C", "o", "-c", p, hex(PERSISTENT))
        T.check(PERSISTENT in self.persistent_handles(), "0x81000001 not listed after evict")
        rp, name, _, pem = self.readpublic(hex(PERSISTENT), "persistent")
        T.check(name == self.p_name and rp.tpmt == self.p_pub.tpmt,
                "readpublic 0x81000001 != the primary that was made persistent")
        self.tool("tpm2_load", "-C", hex(PERSISTENT), "-u", k_pub, "-r", k_priv,
                  "-c", self.path("k-under-persistent.ctx"), "-n", self.path("kp.name"))
        T.check(self.read("kp.name") == kp.name, "key loaded under 0x81000001: other name")
        self.tool("tpm2_evictcontrol", "-C", "o", "-c", hex(PERSISTENT))
        T.check(PERSISTENT not in self.persistent_handles(), "0x81000001 still listed")
        T.log("ok: 2 tpm2_create -G ecc384:ecdsa-sha384 + tpm2_load, tpm2_create -c "
              "(CreateLoaded) ecc256:ecdsa-sha256 and ecc256 (scheme NULL); names match "
              "nameAlg ‖ H(public) and H(QN(parent) ‖ name); flushcontext -t empties the "
              "transient handles; evictcontrol 0x81000001, readpublic, load under it, evict")

    # --- 3 -----------------------------------------------------------------------------
    def signing(self):
        k = self.path("k.ctx")
        msg = self.write("msg", b"message to be signed by the vTPM\n")
        bad = self.write("msg-bad", b"message to be signed by the vTPM!\n")
        data = self.read("msg")
        sig = self.path("sig.bin")
        self.tool("tpm2_sign", "-c", k, "-g", "sha384", "-o", sig, msg)
        hname, r_int, s_int = parse_signature(self.read("sig.bin"), "sig.bin")
        T.check(hname == "sha384", f"sig.bin: hash {hname}")
        T.check(verify_ecdsa(self.k_pub, hname, r_int, s_int, data, "sig.bin"),
                "cryptography rejects the TPM's ECDSA-SHA384 signature")
        T.check(not verify_ecdsa(self.k_pub, hname, r_int, s_int, self.read("msg-bad"), "x"),
                "cryptography accepts the signature for a modified message")
        self.tool("tpm2_verifysignature", "-c", k, "-g", "sha384", "-m", msg, "-s", sig,
                  "-t", self.path("verified.tk"))
        tk = Reader(self.read("verified.tk"), "verifysignature -t")
        tag, hier, digest = tk.u16(), tk.u32(), tk.b2b()
        tk.end()
        T.check(tag == 0x8022 and hier == RH_OWNER and len(digest) in (32, 48, 64)
                and digest != bytes(len(digest)),
                f"TPMT_TK_VERIFIED: tag {tag:#x} hierarchy {hier:#x} digest {digest.hex()}")
        self.tool("tpm2_verifysignature", "-c", k, "-g", "sha384", "-m", bad, "-s", sig,
                  ok=False, expect_rc=RC["SIGNATURE_P2"], case="VerifySignature, modified message")

        # -f plain: tpm2-tools 5.4 writes ECDSA as DER (not r ‖ s); accept either.
        plain = self.path("sig.plain")
        self.tool("tpm2_sign", "-c", k, "-g", "sha384", "-f", "plain", "-o", plain, msg)
        raw = self.read("sig.plain")
        try:
            pr, ps = crypto.utils.decode_dss_signature(raw)
            fmt = "DER"
        except ValueError:
            T.check(len(raw) == 96, f"-f plain: {len(raw)} bytes, neither DER nor r ‖ s")
            pr, ps = int.from_bytes(raw[:48], "big"), int.from_bytes(raw[48:], "big")
            fmt = "r ‖ s"
        T.check(verify_ecdsa(self.k_pub, "sha384", pr, ps, data, "sig.plain"),
                f"cryptography rejects the -f plain ({fmt}) signature")
        with open(self.k_pem, "rb") as f:  # and through the PEM, as a verifier would
            pem_key = crypto.serialization.load_pem_public_key(f.read())
        pem_key.verify(crypto.utils.encode_dss_signature(pr, ps), data,
                       crypto.ec.ECDSA(crypto.hashes.SHA384()))
        try:
            pem_key.verify(crypto.utils.encode_dss_signature(pr, ps), self.read("msg-bad"),
                           crypto.ec.ECDSA(crypto.hashes.SHA384()))
            raise T.Failure("PEM key verifies the signature for a modified message")
        except crypto.InvalidSignature:
            pass

        # A 3 KiB message (hashed with HashSequenceStart/SequenceUpdate/SequenceComplete),
        # a precomputed digest (-d), P-256/sha256, and a scheme-NULL key (-s ecdsa).
        big = bytes(range(256)) * 12
        self.write("big", big)
        self.tool("tpm2_sign", "-c", k, "-g", "sha384", "-o", self.path("big.sig"),
                  self.path("big"))
        hn, r1, s1 = parse_signature(self.read("big.sig"), "big.sig")
        T.check(verify_ecdsa(self.k_pub, hn, r1, s1, big, "big.sig"), "3 KiB message: bad sig")
        self.write("digest", h("sha384", data))
        self.tool("tpm2_sign", "-c", k, "-g", "sha384", "-d", "-o", self.path("d.sig"),
                  self.path("digest"))
        hn, r1, s1 = parse_signature(self.read("d.sig"), "d.sig")
        T.check(verify_ecdsa(self.k_pub, hn, r1, s1, h("sha384", data), "d.sig", prehashed=True),
                "tpm2_sign -d: cryptography rejects the signature of the digest")
        self.tool("tpm2_verifysignature", "-c", k, "-d", self.path("digest"),
                  "-s", self.path("d.sig"))
        for key, pub, extra in (("k256.ctx", self.k256, []), ("kn.ctx", self.kn, ["-s", "ecdsa"])):
            self.tool("tpm2_sign", "-c", self.path(key), "-g", "sha256", *extra,
                      "-o", self.path("s256.sig"), msg)
            hn, r1, s1 = parse_signature(self.read("s256.sig"), key + " signature")
            T.check(hn == "sha256" and verify_ecdsa(pub, hn, r1, s1, data, key),
                    f"{key}: cryptography rejects the ECDSA-SHA256 signature")
            self.tool("tpm2_verifysignature", "-c", self.path(key), "-g", "sha256", "-m", msg,
                      "-s", self.path("s256.sig"))
        T.log(f"ok: 3 tpm2_sign -g sha384 (tss, -f plain = {fmt}, -d digest, 3 KiB message), "
              "P-256 ecdsa-sha256 and scheme-NULL keys: cryptography and tpm2_verifysignature "
              "accept, and reject a modified message (0x2db); TPMT_TK_VERIFIED for the owner")

    # --- 4 -----------------------------------------------------------------------------
    def ek_ak(self):
        self.ek = {}
        self.ak = {}
        specs = {
            # label: createek -G, nameAlg, attrs, policy, sym bits, curve, TPMT_PUBLIC size
            "H-3": ("ecc384", "sha384", 0x000300F2, POLICY_B_SHA384, 256, 4, 170),
            "L-2": ("ecc", "sha256", 0x000300B2, POLICY_A_SHA256, 128, 3, 122),
        }
        # The profile's policies, recomputed: A = PolicySecret(TPM_RH_ENDORSEMENT).
        endorsement = struct.pack(">I", RH_ENDORSEMENT)
        T.check(policy_secret("sha256", endorsement) == POLICY_A_SHA256, "PolicyA_SHA256")
        T.check(policy_secret("sha384", endorsement) == POLICY_A_SHA384, "PolicyA_SHA384")
        T.check(policy_or("sha384", [POLICY_A_SHA384, POLICY_C_SHA384]) == POLICY_B_SHA384,
                "PolicyB_SHA384 != PolicyOR(A, C)")
        for label, (alg, name_alg, attrs, policy, bits, curve, size) in specs.items():
            stem = "ek-" + label
            self.tool("tpm2_createek", "-G", alg, "-c", self.path(stem + ".ctx"),
                      "-u", self.path(stem + ".pub"))
            ek = Public.from_file(self.path(stem + ".pub"), f"{label} EK")
            what = f"tpm2_createek -G {alg} ({label})"
            T.check(ek.type == ALG_ECC and ek.name_alg == name_alg and ek.attrs == attrs
                    and ek.policy == policy and ek.sym == (ALG_AES, bits, ALG_CFB)
                    and ek.scheme == (ALG_NULL, None) and ek.kdf == (ALG_NULL, None)
                    and ek.curve == curve and len(ek.tpmt) == size,
                    f"{what}: not the TCG template: {ek.describe()}, policy {ek.policy.hex()}, "
                    f"{len(ek.tpmt)} B")
            ek.key()
            rp, name, _, pem = self.readpublic(self.path(stem + ".ctx"), stem)
            T.check(rp.tpmt == ek.tpmt, f"{what}: readpublic != -u output")
            self.check_pem(pem, ek, what)
            self.tool("tpm2_createek", "-G", alg, "-c", self.path(stem + "-again.ctx"),
                      "-u", self.path(stem + "-again.pub"))
            T.check(Public.from_file(self.path(stem + "-again.pub")).tpmt == ek.tpmt,
                    f"{what} twice gave different EKs")
            self.ek[label] = (ek, self.path(stem + ".ctx"), self.path(stem + ".pub"))

        # AKs: P-256/ecdsa-sha256 under both EKs, P-384/ecdsa-sha384 under H-3.
        for label, ek_label, g, s_hash, curve in (("H-3", "H-3", "ecc", "sha256", 3),
                                                   ("L-2", "L-2", "ecc", "sha256", 3),
                                                   ("H-3/384", "H-3", "ecc384", "sha384", 4)):
            ek, ek_ctx, _ = self.ek[ek_label]
            stem = "ak-" + label.replace("/", "-")
            self.tool("tpm2_createak", "-C", ek_ctx, "-c", self.path(stem + ".ctx"), "-G", g,
                      "-s", "ecdsa", "-g", s_hash, "-u", self.path(stem + ".pub"),
                      "-n", self.path(stem + ".name"))
            ak = Public.from_file(self.path(stem + ".pub"), f"AK {label}")
            what = f"tpm2_createak -G {g} -s ecdsa -g {s_hash} under the {ek_label} EK"
            # createak 5.4 gives the AK the EK's nameAlg (sha384 under H-3).
            T.check(ak.type == ALG_ECC and ak.curve == curve and ak.name_alg == ek.name_alg
                    and ak.scheme == (ALG_ECDSA, s_hash) and ak.sym is None
                    and ak.attrs == FIXED_TPM | FIXED_PARENT | SENSITIVE_DATA_ORIGIN
                    | USER_WITH_AUTH | RESTRICTED | SIGN,
                    f"{what}: {ak.describe()}")
            ak.key()
            name = self.read(stem + ".name")
            T.check(name == ak.name, f"{what}: -n {name.hex()} != computed {ak.name.hex()}")
            rp, rname, qname, _ = self.readpublic(self.path(stem + ".ctx"), stem)
            T.check(rp.tpmt == ak.tpmt, f"{what}: readpublic != -u output")
            ek_qn = qualified_name(struct.pack(">I", RH_ENDORSEMENT), ek.name)
            T.check(qname == qualified_name(ek_qn, ak.name),
                    f"{what}: qualified name {qname.hex()} != H(QN(EK) ‖ name)")
            self.ak[label] = (ak, self.path(stem + ".ctx"), self.path(stem + ".pub"), qname)
        T.log("ok: 4 tpm2_createek -G ecc384 (H-3: sha384, 0x300f2, PolicyB, AES-256-CFB, "
              "170 B) and -G ecc (L-2: sha256, 0x300b2, PolicyA, AES-128-CFB, 122 B), "
              "deterministic; tpm2_createak -G ecc|ecc384 -s ecdsa: restricted signing keys "
              "with the EK's nameAlg, names and qualified names recomputed")

    # --- 5 -----------------------------------------------------------------------------
    def pcr_values(self, selection):
        """{bank: {idx: bytes}} from tpm2_pcrread for selection [(bank, [idx…])…]."""
        spec = "+".join(f"{b}:" + ",".join(str(i) for i in idxs) for b, idxs in selection)
        return T.parse_pcrread(self.tool("tpm2_pcrread", spec, flush=False).text)

    def pcr_digest(self, selection, hname):
        values = self.pcr_values(selection)
        blob = b""
        for bank, idxs in selection:
            for i in idxs:
                T.check(i in values.get(bank, {}), f"tpm2_pcrread: {bank}:{i} missing")
                blob += values[bank][i]
        return h(hname, blob)

    def quote(self, ak_label, pcrs, hname, nonce, stem):
        ak, ak_ctx, ak_pub, qname = self.ak[ak_label]
        msg, sig, pcrfile = (self.path(stem + e) for e in (".msg", ".sig", ".pcrs"))
        self.tool("tpm2_quote", "-c", ak_ctx, "-l", pcrs, "-q", nonce.hex(), "-m", msg,
                  "-s", sig, "-o", pcrfile, "-g", hname)
        self.tool("tpm2_checkquote", "-u", ak_pub, "-m", msg, "-s", sig, "-f", pcrfile,
                  "-g", hname, "-q", nonce.hex(), flush=False)
        att = Attest(self.read(stem + ".msg"), stem + ".msg")
        what = f"tpm2_quote -c AK {ak_label} -l {pcrs} -g {hname}"
        T.check(att.signer == qname, f"{what}: qualifiedSigner {att.signer.hex()} != the AK's "
                f"qualified name {qname.hex()}")
        T.check(att.extra == nonce, f"{what}: extraData {att.extra.hex()} != nonce")
        want_sel = [(b, sorted(int(i) for i in idxs.split(",")))
                    for b, idxs in (part.split(":") for part in pcrs.split("+"))]
        T.check(att.selection == want_sel, f"{what}: selection {att.selection} != {want_sel}")
        digest = self.pcr_digest(att.selection, hname)
        T.check(att.pcr_digest == digest,
                f"{what}: pcrDigest {att.pcr_digest.hex()} != {hname}(tpm2_pcrread values) "
                f"{digest.hex()}")
        shash, r_int, s_int = parse_signature(self.read(stem + ".sig"), stem + ".sig")
        T.check(shash == hname, f"{what}: signature hash {shash}")
        T.check(verify_ecdsa(ak, shash, r_int, s_int, self.read(stem + ".msg"), stem),
                f"{what}: cryptography rejects the quote signature")
        return att

    def quotes(self):
        x256, x384 = h("sha256", b"quote-16"), h("sha384", b"quote-16")
        self.tool("tpm2_pcrextend", f"16:sha256={x256.hex()},sha384={x384.hex()}",
                  f"1:sha256={h('sha256', b'quote-1').hex()}", flush=False)
        nonce = secrets.token_bytes(16)
        pcrs = "sha256:0,1,2,16+sha384:0,16"
        att = self.quote("H-3", pcrs, "sha256", nonce, "quote")
        # Keys in the endorsement hierarchy see the clock unobfuscated (tpm2-wire.md §7).
        top = T.parse_toplevel(self.tool("tpm2_readclock", flush=False).text)
        info = T.subfields(top["clock_info"][1])
        T.check(int(info["reset_count"]) == att.reset_count
                and int(info["restart_count"]) == att.restart_count
                and int(info["clock"]) >= att.clock and att.safe in (0, 1),
                f"quote clockInfo {att.clock}/{att.reset_count}/{att.restart_count}/{att.safe} "
                f"vs tpm2_readclock {info}")
        fixed = {k: T.subfields(ls) for k, (_, ls) in
                 T.parse_toplevel(self.tool("tpm2_getcap", "properties-fixed", flush=False)
                                  .text).items()}
        fw = (int(fixed["TPM2_PT_FIRMWARE_VERSION_1"]["raw"], 16) << 32
              | int(fixed["TPM2_PT_FIRMWARE_VERSION_2"]["raw"], 16))
        T.check(att.firmware == fw, f"quote firmwareVersion {att.firmware:#x} != getcap {fw:#x}")

        msg, sig, pcrfile = (self.path("quote" + e) for e in (".msg", ".sig", ".pcrs"))
        ak_pub = self.ak["H-3"][2]
        check = ["tpm2_checkquote", "-u", ak_pub, "-m", msg, "-s", sig, "-f", pcrfile,
                 "-g", "sha256"]
        other = bytes([nonce[0] ^ 1]) + nonce[1:]
        self.tool(*check, "-q", other.hex(), ok=False, flush=False)
        tampered = bytearray(self.read("quote.msg"))
        tampered[-1] ^= 1  # the last byte of pcrDigest
        self.write("quote-t1.msg", tampered)
        tampered = bytearray(self.read("quote.msg"))
        tampered[len(tampered) - len(att.pcr_digest) - 30] ^= 1  # in the clock/selection
        self.write("quote-t2.msg", tampered)
        for t in ("quote-t1.msg", "quote-t2.msg"):
            self.tool("tpm2_checkquote", "-u", ak_pub, "-m", self.path(t), "-s", sig,
                      "-f", pcrfile, "-g", "sha256", "-q", nonce.hex(), ok=False, flush=False)
        # checkquote against the L-2 AK's public (wrong key) fails too.
        self.tool("tpm2_checkquote", "-u", self.ak["L-2"][2], "-m", msg, "-s", sig, "-f", pcrfile,
                  "-g", "sha256", "-q", nonce.hex(), ok=False, flush=False)

        # After an extend of PCR 16 the old quote no longer matches the PCRs.
        y256 = h("sha256", b"after")
        self.tool("tpm2_pcrextend", f"16:sha256={y256.hex()}", flush=False)
        new_digest = self.pcr_digest(att.selection, "sha256")
        T.check(new_digest != att.pcr_digest, "PCR digest unchanged after extending PCR 16")
        self.tool("tpm2_pcrread", "-F", "serialized", "-o", self.path("now.pcrs"), pcrs,
                  flush=False)
        self.tool(*check[:8], self.path("now.pcrs"), "-g", "sha256", "-q", nonce.hex(),
                  ok=False, flush=False)
        att2 = self.quote("H-3", pcrs, "sha256", nonce, "quote2")
        T.check(att2.pcr_digest == new_digest != att.pcr_digest, "new quote: old PCR digest")
        # A quote by the L-2 AK and by the P-384 AK over sha384.
        self.quote("L-2", "sha256:16,23", "sha256", secrets.token_bytes(20), "quote-l2")
        self.quote("H-3/384", "sha384:0,16+sha256:16", "sha384", secrets.token_bytes(32),
                   "quote-384")
        T.log("ok: 5 tpm2_quote -l sha256:0,1,2,16+sha384:0,16 -g sha256 (+ L-2 AK, P-384 AK "
              "-g sha384): tpm2_checkquote passes; TPMS_ATTEST parsed (magic, QUOTE, "
              "qualifiedSigner = AK QN, nonce, clock = readclock, firmware = getcap, "
              "selection), pcrDigest = H(tpm2_pcrread values), ECDSA checked by cryptography; "
              "another nonce, a tampered quote, the wrong AK, PCRs after an extend all fail")

    # --- 6 -----------------------------------------------------------------------------
    def policy_session(self, label, with_or=True):
        """A policy session satisfying the EK's policy; returns the session context path."""
        s = self.path("session.ctx")
        hname = "sha384" if label == "H-3" else "sha256"
        self.tool("tpm2_startauthsession", "--policy-session", "-g", hname, "-S", s, flush=False)
        out = self.tool("tpm2_policysecret", "-S", s, "-c", "e", flush=False).text.strip()
        want = POLICY_A_SHA384 if hname == "sha384" else POLICY_A_SHA256
        T.check(out.lower() == want.hex(), f"tpm2_policysecret printed {out}, expected PolicyA")
        if label == "H-3" and with_or:
            a = self.write("polA", POLICY_A_SHA384)
            c = self.write("polC", POLICY_C_SHA384)
            out = self.tool("tpm2_policyor", "-S", s, "-l", f"sha384:{a},{c}",
                            flush=False).text.strip()
            T.check(out.lower() == POLICY_B_SHA384.hex(),
                    f"tpm2_policyor printed {out}, expected PolicyB_SHA384")
        return s

    def activate(self, label, ak_ctx, blob, ok=True, expect_rc=None, case=None, with_or=True):
        _, ek_ctx, _ = self.ek[label]
        s = self.policy_session(label, with_or)
        out = self.path("activated")
        if os.path.exists(out):
            os.unlink(out)
        try:
            self.tool("tpm2_activatecredential", "-c", ak_ctx, "-C", ek_ctx, "-i", blob,
                      "-o", out, "-P", f"session:{s}", ok=ok, expect_rc=expect_rc, case=case)
        finally:
            T.tool(self.tcti, "tpm2_flushcontext", s, ok=None)
        return self.read("activated") if ok else None

    def credentials(self):
        for label, ak_label in (("H-3", "H-3"), ("L-2", "L-2")):
            ek, _, ek_pub = self.ek[label]
            _, ak_ctx, _, _ = self.ak[ak_label]
            ak_name = self.ak[ak_label][0].name
            secret = secrets.token_bytes(hashlib.new(ek.name_alg).digest_size)
            sfile = self.write("secret", secret)
            made = []
            # With the TPM (LoadExternal + MakeCredential), offline (-T none), and in Python.
            self.tool("tpm2_makecredential", "-u", ek_pub, "-s", sfile, "-n", ak_name.hex(),
                      "-o", self.path("cred-tpm"))
            made.append("cred-tpm")
            T.tool("none", "tpm2_makecredential", "-T", "none", "-u", ek_pub, "-s", sfile,
                   "-n", ak_name.hex(), "-o", self.path("cred-offline"))
            made.append("cred-offline")
            self.write("cred-python", make_credential(ek, ak_name, secret))
            made.append("cred-python")
            for blob in made:
                parse_credential_file(self.read(blob), ek, f"{label} {blob}")
                got = self.activate(label, ak_ctx, self.path(blob))
                T.check(got == secret, f"{label} activatecredential of {blob}: got {got.hex()}, "
                        f"expected {secret.hex()}")
            self.cred = (label, ak_ctx, self.path("cred-tpm"))
        T.log("ok: 6 tpm2_makecredential (TPM, -T none, and in Python per Annex C.6.1) + "
              "tpm2_activatecredential recover the secret byte for byte with the H-3 EK "
              "(sha384 policy session: policysecret -c e + policyor PolicyA|PolicyC) and the "
              "L-2 EK (sha256 session: policysecret -c e)")

    # --- 7 -----------------------------------------------------------------------------
    def sealing(self):
        p = self.p
        data = secrets.token_bytes(100)
        sfile = self.write("secret.dat", data)
        self.tool("tpm2_create", "-C", p, "-i", sfile, "-u", self.path("s.pub"),
                  "-r", self.path("s.priv"), "-p", "pw")
        sp = Public.from_file(self.path("s.pub"))
        T.check(sp.type == ALG_KEYEDHASH and sp.name_alg == "sha256"
                and sp.attrs == FIXED_TPM | FIXED_PARENT | USER_WITH_AUTH
                and len(sp.unique) == 32, f"sealed object: {sp.describe()}")
        self.tool("tpm2_load", "-C", p, "-u", self.path("s.pub"), "-r", self.path("s.priv"),
                  "-c", self.path("s.ctx"), "-n", self.path("s.name"))
        T.check(self.read("s.name") == sp.name, "sealed object: load name != computed")
        out = self.tool("tpm2_unseal", "-c", self.path("s.ctx"), "-p", "pw").stdout
        T.check(out == data, f"tpm2_unseal returned {out.hex()}, sealed {data.hex()}")
        self.tool("tpm2_unseal", "-c", self.path("s.ctx"), "-p", "pw", "-o", self.path("u.dat"))
        T.check(self.read("u.dat") == data, "tpm2_unseal -o: wrong data")
        self.tool("tpm2_unseal", "-c", self.path("s.ctx"), "-p", "wrong", ok=False,
                  expect_rc=RC["AUTH_FAIL_S1"], case="Unseal, wrong password (DA object)")
        self.da_failures += 1
        # CreateLoaded path, 128 bytes (MAX_SYM_DATA), empty password.
        data2 = secrets.token_bytes(128)
        self.tool("tpm2_create", "-C", p, "-i", self.write("s128", data2),
                  "-c", self.path("s2.ctx"))
        T.check(self.tool("tpm2_unseal", "-c", self.path("s2.ctx")).stdout == data2,
                "tpm2_unseal of 128 bytes (CreateLoaded) returned other data")
        T.log("ok: 7 tpm2_create -i (KEYEDHASH, sha256, fixedtpm|fixedparent|userwithauth) "
              "-p pw, load, tpm2_unseal returns the 100 bytes; wrong password 0x98e; "
              "128 bytes via tpm2_create -c")

    # --- 8 -----------------------------------------------------------------------------
    def contexts(self):
        # One saved context, loaded in two separate connections, gives two objects.
        self.tool("tpm2_readpublic", "-c", self.p, flush=False)
        self.tool("tpm2_readpublic", "-c", self.p, flush=False)
        handles = self.transient_handles()
        T.check(len(handles) == 2, f"two ContextLoads of p.ctx: handles {handles}")
        for hd in handles:
            out = self.tool("tpm2_readpublic", "-c", hex(hd), flush=False).text
            T.check(f"name: {self.p_name.hex()}" in out, f"handle {hd:#x} is not p's object")
        for hd in handles:
            self.tool("tpm2_flushcontext", hex(hd), flush=False)
        T.check(not self.transient_handles(), "flushcontext by handle left objects")
        # Contexts saved at the start are still good (every tool run was a new connection).
        self.tool("tpm2_sign", "-c", self.path("k.ctx"), "-g", "sha384",
                  "-o", self.path("late.sig"), self.path("msg"))
        hn, r_int, s_int = parse_signature(self.read("late.sig"), "late.sig")
        T.check(verify_ecdsa(self.k_pub, hn, r_int, s_int, self.read("msg"), "late"),
                "a late signature with k.ctx does not verify")
        self.tool("tpm2_readpublic", "-c", self.path("p-n-ecc384.ctx"))
        self.tool("tpm2_readpublic", "-c", self.ek["H-3"][1])
        # Context blobs stay well under 4 KiB (tpm2-wire.md §12).
        sizes = {}
        for f in ("p-o-ecc384.ctx", "k.ctx", "ek-H-3.ctx", "ak-H-3.ctx", "s.ctx"):
            r = Reader(self.read(f), f)
            T.check(r.u32() == CONTEXT_MAGIC and r.u32() == 1, f"{f}: not a tpm2-tools context")
            r.take(16)
            outer = Reader(r.b2b(), f + " contextBlob")
            outer.u32()
            sizes[f] = len(outer.b2b())
            T.check(sizes[f] < 4096, f"{f}: TPM context blob of {sizes[f]} bytes")
        T.log("ok: 8 saved contexts load in later connections (p.ctx twice = 2 objects with "
              "p's name; k.ctx signs at the end); TPM context blobs "
              + ", ".join(f"{k} {v} B" for k, v in sizes.items()))

    # --- error codes ------------------------------------------------------------------------
    def errors(self):
        p = self.p
        msg = self.path("msg")
        # Wrong authValue: DA-protected key and a noDA key.
        self.tool("tpm2_create", "-C", p, "-G", "ecc256:ecdsa-sha256", "-p", "keypw",
                  "-c", self.path("kda.ctx"))
        self.tool("tpm2_sign", "-c", self.path("kda.ctx"), "-p", "keypw", "-g", "sha256",
                  "-o", self.path("kda.sig"), msg)
        self.tool("tpm2_sign", "-c", self.path("kda.ctx"), "-p", "wrong", "-g", "sha256",
                  "-o", self.path("kda.sig"), msg, ok=False, expect_rc=RC["AUTH_FAIL_S1"],
                  case="Sign, wrong key password (DA key)")
        self.da_failures += 1
        self.tool("tpm2_create", "-C", p, "-G", "ecc256:ecdsa-sha256", "-p", "keypw",
                  "-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|sign",
                  "-c", self.path("knoda.ctx"))
        self.tool("tpm2_sign", "-c", self.path("knoda.ctx"), "-p", "wrong", "-g", "sha256",
                  "-o", self.path("knoda.sig"), msg, ok=False, expect_rc=RC["BAD_AUTH_S1"],
                  case="Sign, wrong key password (noDA key)")
        # Flushed, out-of-range and missing handles.
        self.tool("tpm2_readpublic", "-c", self.p, flush=False)
        (hd,) = self.transient_handles()
        self.tool("tpm2_flushcontext", hex(hd), flush=False)
        self.tool("tpm2_readpublic", "-c", hex(hd), ok=False, expect_rc=RC["REFERENCE_H0"],
                  case=f"ReadPublic of a flushed transient handle ({hd:#x})")
        self.tool("tpm2_readpublic", "-c", "0x80ffffff", ok=False, expect_rc=RC["VALUE_H1"],
                  case="ReadPublic 0x80FFFFFF (beyond the object slots)")
        self.tool("tpm2_readpublic", "-c", hex(PERSISTENT), ok=False, expect_rc=RC["HANDLE_H1"],
                  case="ReadPublic of an absent persistent handle 0x81000001")
        # Tampered context files: the TPM's blob (middle), the sequence, the hierarchy.
        ctx = bytearray(self.read("p-o-ecc384.ctx"))
        r = Reader(ctx, "p.ctx")
        r.take(24)
        r.u16()
        inner_start = r.off
        r.u32()
        tpm_blob_len = r.u16()
        for case, off, want in (
                ("ContextLoad, a byte flipped in the middle of the TPM blob",
                 inner_start + 6 + tpm_blob_len // 2, "INTEGRITY_P1"),
                ("ContextLoad, TPMS_CONTEXT.sequence changed", 23, "INTEGRITY_P1"),
                ("ContextLoad, TPMS_CONTEXT.hierarchy 0x40000001 -> 0x40000101", 10,
                 "VALUE_P1")):
            bad = bytearray(ctx)
            bad[off] ^= 1
            self.write("bad.ctx", bad)
            self.tool("tpm2_readpublic", "-c", self.path("bad.ctx"), ok=False,
                      expect_rc=RC[want], case=case)
        # Templates: RSA (implemented by swtpm and by a vTPM built with RSA), unknown
        # type/curve (raw).
        if "rsa" in self.algorithms:
            self.tool("tpm2_createprimary", "-C", "o", "-G", "rsa", "-c", self.path("rsa.ctx"))
            self.codes.append(("createprimary -G rsa (RSA implemented)", 0, "success"))
        else:
            self.tool("tpm2_createprimary", "-C", "o", "-G", "rsa", "-c", self.path("rsa.ctx"),
                      ok=False, expect_rc=RC["TYPE_P2"],
                      case="createprimary -G rsa (RSA not implemented)")
        if 5 in self.curves:
            self.tool("tpm2_createprimary", "-C", "o", "-G", "ecc521", "-c", self.path("521.ctx"))
            self.codes.append(("createprimary -G ecc521 (P-521 implemented)", 0, "success"))
        else:
            self.tool("tpm2_createprimary", "-C", "o", "-G", "ecc521", "-c", self.path("521.ctx"),
                      ok=False, expect_rc=RC["CURVE_P2"],
                      case="createprimary -G ecc521 (P-521 not implemented)")
        raw = T.RawTpm(self.tcti)
        template = bytes.fromhex("0023000b00030072000000060080004300100004001000000000")
        for case, tpmt, want in (
                ("raw CreatePrimary, type 0x7FFF", b"\x7f\xff" + template[2:], "TYPE_P2"),
                ("raw CreatePrimary, curve 0x007F", template[:18] + b"\x00\x7f" + template[20:],
                 "CURVE_P2")):
            params = (struct.pack(">H", 4) + bytes(4) + struct.pack(">H", len(tpmt)) + tpmt
                      + bytes(2) + bytes(4))
            out = raw.execute(T.build(T.ST_SESSIONS, CC_CREATE_PRIMARY, [RH_OWNER], [T.PW],
                                      params), what=case, expect_rc=None)
            if out.rc == 0:  # do not leak the object
                raw.execute(T.build(T.ST_NO_SESSIONS, CC_FLUSH_CONTEXT,
                                    params=out.data[10:14]), what="FlushContext")
            T.check(out.data == struct.pack(">HII", 0x8001, 10, RC[want]),
                    f"{case}: answered {out.data.hex()}, expected 8001 0000000a {RC[want]:08x}")
            self.codes.append((case, out.rc, want))
        # Sealing more than 128 bytes; Unseal of a signing key.
        self.tool("tpm2_create", "-C", p, "-i", self.write("s129", bytes(129)),
                  "-u", self.path("x.pub"), "-r", self.path("x.priv"), ok=False,
                  expect_rc=RC["SIZE_P1"], case="Create, 129 bytes to seal")
        self.tool("tpm2_unseal", "-c", self.path("k.ctx"), ok=False, expect_rc=RC["TYPE_H1"],
                  case="Unseal of an ECC signing key")
        # A restricted key must not sign a message that starts with TPM_GENERATED.
        forged = self.write("forged", struct.pack(">I", TPM_GENERATED) + b"\x80\x18forged")
        self.tool("tpm2_sign", "-c", self.ak["L-2"][1], "-g", "sha256", "-o",
                  self.path("forged.sig"), forged, ok=False, expect_rc=RC["TICKET_P3"],
                  case="Sign with a restricted AK, message starts with 0xFF544347")
        # Credentials: tampered HMAC, secret off the curve, another key as the AK,
        # the H-3 EK without PolicyOR, the L-2 EK with a password instead of its policy.
        label, ak_ctx, blob = self.ek_and_cred_l2()
        good = bytearray(self.read(blob))
        for case, off, want in (("ActivateCredential, credential HMAC tampered", 20,
                                 "INTEGRITY_P1"),
                                ("ActivateCredential, secret's y coordinate tampered",
                                 len(good) - 3, "ECC_POINT_P2")):
            bad = bytearray(good)
            bad[off] ^= 1
            self.write("cred-bad", bad)
            self.activate(label, ak_ctx, self.path("cred-bad"), ok=False, expect_rc=RC[want],
                          case=case)
        self.activate(label, self.path("k.ctx"), blob, ok=False, expect_rc=RC["INTEGRITY_P1"],
                      case="ActivateCredential with a key other than the credentialed AK")
        h3_ak = self.ak["H-3"][1]
        self.write("cred-h3", make_credential(self.ek["H-3"][0], self.ak["H-3"][0].name, b"x"))
        self.activate("H-3", h3_ak, self.path("cred-h3"), ok=False, with_or=False,
                      expect_rc=RC["POLICY_FAIL_S2"],
                      case="ActivateCredential, H-3 EK, PolicySecret without PolicyOR")
        self.tool("tpm2_activatecredential", "-c", ak_ctx, "-C", self.ek["L-2"][1], "-i", blob,
                  "-o", self.path("activated"), ok=False, expect_rc=RC["AUTH_UNAVAILABLE"],
                  case="ActivateCredential, L-2 EK with a password (no policy session)")
        self.reset_lockout()
        width = max(len(c) for c, _, _ in self.codes)
        for case, rc, text in self.codes:
            T.log(f"ok: error  {case:<{width}}  {rc:#05x}  {text}")

    def ek_and_cred_l2(self):
        ek, _, ek_pub = self.ek["L-2"]
        _, ak_ctx, _, _ = self.ak["L-2"]
        self.tool("tpm2_makecredential", "-u", ek_pub, "-s", self.write("secret", b"0123456789"),
                  "-n", self.ak["L-2"][0].name.hex(), "-o", self.path("cred-l2"))
        return "L-2", ak_ctx, self.path("cred-l2")

    def reset_lockout(self):
        """Undo the dictionary-attack failures caused here, if the TPM counted them."""
        var = T.parse_toplevel(T.tool(self.tcti, "tpm2_getcap", "properties-variable").text)
        counter = int(var.get("TPM2_PT_LOCKOUT_COUNTER", ("0", []))[0], 0)
        T.check(counter <= self.da_failures + 1,
                f"lockout counter {counter} after {self.da_failures} DA failures")
        if counter:
            self.tool("tpm2_dictionarylockout", "-c")
            var = T.parse_toplevel(T.tool(self.tcti, "tpm2_getcap", "properties-variable").text)
            T.check(int(var["TPM2_PT_LOCKOUT_COUNTER"][0], 0) == 0,
                    "tpm2_dictionarylockout -c did not reset the lockout counter")
        self.codes.append((f"lockout counter after {self.da_failures} DA failures", counter,
                           "reset with tpm2_dictionarylockout -c" if counter else "not counted"))


def main():
    global crypto
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tcti", required=True,
                    help="mssim:host=H,port=P | swtpm:host=H,port=P | spawn:swtpm | "
                         "spawn:host-sim[=PATH]")
    ap.add_argument("--ours", action="store_true", help="also check vTPM-specific rules")
    args = ap.parse_args()
    T.require_programs("tpm2_startup", "tpm2_createprimary", "tpm2_create", "tpm2_load",
                       "tpm2_sign", "tpm2_verifysignature", "tpm2_createek", "tpm2_createak",
                       "tpm2_quote", "tpm2_checkquote", "tpm2_makecredential",
                       "tpm2_activatecredential", "tpm2_unseal", "tpm2_evictcontrol",
                       "tpm2_policysecret", "tpm2_policyor", "tpm2_startauthsession")
    try:
        import types
        from cryptography import exceptions as cexc
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, utils
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    except ImportError as e:
        raise T.Skip(f"python3-cryptography missing ({e}): apt-get install python3-cryptography")
    try:  # cryptography ≥ 47 moved CFB here (and warns on the old name)
        from cryptography.hazmat.decrepit.ciphers.modes import CFB
    except ImportError:
        CFB = modes.CFB
    crypto = types.SimpleNamespace(ec=ec, utils=utils, hashes=hashes, serialization=serialization,
                                   Cipher=Cipher, algorithms=algorithms, CFB=CFB,
                                   InvalidSignature=cexc.InvalidSignature)
    with open_target(args.tcti) as tcti, tempfile.TemporaryDirectory(prefix="vtpm-keys-") as d:
        T.require_tcti_library(T.Tcti(tcti).kind)
        T.log(f"keys: TCTI {tcti}")
        Keys(tcti, args.ours, d).run()


if __name__ == "__main__":
    T.run_main(main)
