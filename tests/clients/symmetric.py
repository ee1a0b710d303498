#!/usr/bin/python3
"""Symmetric cipher keys and TPM2_EncryptDecrypt / EncryptDecrypt2 with tpm2-tools 5.4, checked
independently with `cryptography` and against swtpm 0.7.1 (libtpms 0.9.2).

    /usr/bin/python3 tests/clients/symmetric.py --tcti mssim:host=127.0.0.1,port=N
        [--ref-tcti swtpm:host=127.0.0.1,port=M]      # default: spawn:swtpm (a fresh one)

The same flows run on both TPMs (ours and the reference); every result is checked with
`cryptography`, and where the spec makes them deterministic (a known key and IV) both TPMs'
outputs must be byte-identical.

 1. tpm2_getcap algorithms lists symcipher, cfb, cbc, ctr, ofb, ecb; tpm2_testparms
    aes128cfb / aes256cbc / aes128ecb pass.
 2. Known keys (AES-128 and AES-256, random bytes chosen here) loaded with
    tpm2_loadexternal -G aes -r: tpm2_encryptdecrypt in CFB, CBC, CTR, OFB and ECB with
    --iv in:out, the output equal to `cryptography`'s, ivOut the chaining value (CBC / CFB the
    last ciphertext block, a partial CFB block padded with zeros; CTR the next counter; OFB the
    last keystream block), a second call chained through ivOut continuing the stream, -d back
    to the plaintext, and -e (PKCS#7 padding) for CBC.
 3. tpm2_create -G aes128cfb / aes256 (mode NULL) / aes128cbc under an ECC storage primary,
    tpm2_load, every use a ContextLoad: encrypt and decrypt back; tpm2_createprimary -G
    aes256cfb (a symmetric storage parent) with an ECC signing child (tpm2_sign) and an AES
    child; tpm2_readpublic shows type, key size and mode.
 4. Raw commands on both TPMs, response codes equal (and the reference implementation's):
    EncryptDecrypt and EncryptDecrypt2 with another mode than the key's, no mode at all, IVs
    of 0, 8 and 17 bytes, an IV for ECB, CBC / ECB data of 17 bytes, decrypt = 2, a mode
    value 0x45, a restricted key, a key without sign (encrypt) or decrypt (decrypt), an ECC
    key; LoadExternal with a key or seed of the wrong size, a binding mismatch, a public area
    whose unique is not a digest; Create with a key of the wrong size, a restricted key with
    the caller's key, a fixedParent storage child with another symmetric definition;
    CreatePrimary of a key that neither signs nor decrypts or with a caller's key of the wrong
    size; TestParms of AES-192 (implemented by neither), mode 0x45, algorithm NULL.
    CertifyCreation of a child of a symmetric storage parent and of the parent (signed by an
    ECDSA key, unsigned with TPM_RH_NULL), with another creationHash, another object's ticket,
    another hierarchy, another tag, a hierarchy that is none, a storage key as signer and
    another scheme. The successful raw EncryptDecrypt(2) responses of a known key are
    byte-identical on both TPMs.

The known divergence (listed in the output): after a partial CFB block, ivOut is the partial
ciphertext padded with zeros here (the reference's CryptSymmetricEncrypt / Decrypt) and
OpenSSL's updated IV (the keystream's tail) in libtpms; both are checked, each against its own
rule.

Exit status: 0 all checks passed, 1 a check failed, 77 a prerequisite (tpm2-tools, swtpm,
python3-cryptography) is missing.
"""

import argparse
import hashlib
import os
import re
import secrets
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpmlib as T  # noqa: E402
from keys_differential import Target, b2, create_primary, ecc_template  # noqa: E402
from servers import open_target  # noqa: E402
from tpmlib import PW, build  # noqa: E402

crypto = None

RH_OWNER, RH_NULL = 0x40000001, 0x40000007
CC_CREATE, CC_LOAD_EXTERNAL, CC_TEST_PARMS = 0x153, 0x167, 0x18A
CC_ENCRYPT_DECRYPT, CC_ENCRYPT_DECRYPT2 = 0x164, 0x193
SYMCIPHER, AES, NULL = 0x0025, 0x0006, 0x0010
MODES = {"ctr": 0x40, "ofb": 0x41, "cbc": 0x42, "cfb": 0x43, "ecb": 0x44}
SIGN_DECRYPT = 0x00060040     # userWithAuth | decrypt | sign (loadable with a sensitive area)
SYM_KEY = 0x00060072          # + fixedTPM | fixedParent | sensitiveDataOrigin
SYM_STORAGE = 0x00030072      # restricted | decrypt | fixedTPM | fixedParent | origin | user
ECC_STORAGE = 0x00030072
RC = {"VALUE": 0x084, "ATTRIBUTES": 0x082, "MODE": 0x089, "SIZE": 0x095, "KEY": 0x09C,
      "KEY_SIZE": 0x087, "BINDING": 0x0A5, "SYMMETRIC": 0x096, "TICKET": 0x0A0, "TAG": 0x097,
      "SCHEME": 0x092}
CC_CERTIFY_CREATION = 0x14A


def rc_of(text):
    """'SIZE@P3' → the response code (parameter / handle positions of Part 2 §6.6)."""
    name, _, pos = text.partition("@")
    rc = RC[name]
    if pos.startswith("P"):
        rc += 0x40 + (int(pos[1:]) << 8)
    elif pos.startswith("H"):
        rc += int(pos[1:]) << 8
    return rc


def rc_text(rc):
    if rc is None:
        return "-"
    if rc == 0:
        return "0 (success)"
    for name in RC:
        for pos in ("", "@P1", "@P2", "@P3", "@P4", "@H1"):
            if rc_of(name + pos) == rc:
                return f"{rc:#05x} {name}{pos}"
    return f"{rc:#05x}"


def load_crypto():
    global crypto
    try:
        import types
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    except ImportError as e:
        raise T.Skip(f"python3-cryptography missing ({e}): apt-get install python3-cryptography")
    try:  # cryptography ≥ 47 moved CFB here (and warns on the old name)
        from cryptography.hazmat.decrepit.ciphers.modes import CFB
    except ImportError:
        CFB = modes.CFB
    crypto = types.SimpleNamespace(Cipher=Cipher, AES=algorithms.AES, modes=modes, CFB=CFB,
                                   padding=padding)


def aes(key, mode, iv, data, decrypt=False):
    """AES in `mode` with `cryptography` (data of any length for the stream modes)."""
    m = {"cfb": lambda: crypto.CFB(iv), "cbc": lambda: crypto.modes.CBC(iv),
         "ctr": lambda: crypto.modes.CTR(iv), "ofb": lambda: crypto.modes.OFB(iv),
         "ecb": lambda: crypto.modes.ECB()}[mode]()
    c = crypto.Cipher(crypto.AES(key), m)
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(data) + op.finalize()


def expected_iv_out(key, mode, iv, plain, cipher):
    """The reference implementation's ivOut (CryptSymmetricEncrypt): the chaining value."""
    if mode == "ecb" or not plain:
        return b"" if mode == "ecb" else iv
    blocks = (len(plain) + 15) // 16
    if mode in ("cbc", "cfb"):
        last = cipher[(blocks - 1) * 16:]
        return last + bytes(16 - len(last))
    if mode == "ctr":
        return ((int.from_bytes(iv, "big") + blocks) % (1 << 128)).to_bytes(16, "big")
    # OFB: the last keystream block, the OFB encryption of zeros.
    return aes(key, "ofb", iv, bytes(16 * blocks))[-16:]


# --- tpm2-tools flows ---------------------------------------------------------------
class Tools:
    def __init__(self, label, tcti, workdir, libtpms_cfb_iv):
        self.label, self.tcti, self.dir = label, tcti, workdir
        # Whether ivOut after a partial CFB block may be libtpms' (the known divergence).
        self.libtpms_cfb_iv = libtpms_cfb_iv

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)
        return self.path(name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def tool(self, *argv, ok=True):
        try:
            res = T.tool(self.tcti, *argv, ok=ok)
        finally:
            # The tools leave every ContextLoad'ed object loaded (swtpm has 3 slots).
            T.tool(self.tcti, "tpm2_flushcontext", "-t")
        return res

    def encdec(self, key_ctx, mode, iv, data, decrypt=False, pad=False, stem="x"):
        """tpm2_encryptdecrypt: (output, ivOut)."""
        argv = ["tpm2_encryptdecrypt", "-c", key_ctx, "-o", self.path(stem + ".out")]
        if mode:
            argv += ["-G", mode]
        if decrypt:
            argv.append("-d")
        if pad:
            argv.append("-e")
        if iv is not None:
            argv += ["-t", self.write(stem + ".iv", iv) + ":" + self.path(stem + ".ivout")]
            if os.path.exists(self.path(stem + ".ivout")):
                os.remove(self.path(stem + ".ivout"))
        argv.append(self.write(stem + ".in", data))
        self.tool(*argv)
        iv_out = self.read(stem + ".ivout") if os.path.exists(self.path(stem + ".ivout")) else b""
        return self.read(stem + ".out"), iv_out

    def run(self, keys, iv, plain):
        """Every flow; returns the deterministic results (known keys) for the comparison."""
        T.tool(self.tcti, "tpm2_startup", "-c", ok=None)
        results = {}
        self.capabilities()
        for key in keys:
            results.update(self.known_key(key, iv, plain))
        self.created_keys(plain)
        return results

    def capabilities(self):
        text = T.tool(self.tcti, "tpm2_getcap", "algorithms").text
        names = set(re.findall(r"^(\w+):", text, re.M))
        for alg in ("symcipher", "aes", "cfb", "cbc", "ctr", "ofb", "ecb"):
            T.check(alg in names, f"[{self.label}] getcap algorithms lacks {alg}")
        for parms in ("aes128cfb", "aes256cbc", "aes128ecb", "aes256ctr", "aes128ofb"):
            T.tool(self.tcti, "tpm2_testparms", parms)
        T.log(f"ok: [{self.label}] getcap lists symcipher and the five modes; testparms passes")

    def known_key(self, key, iv, plain):
        bits = len(key) * 8
        ctx = self.path(f"k{bits}.ctx")
        self.tool("tpm2_loadexternal", "-G", "aes", "-r", self.write(f"k{bits}.bin", key),
                  "-c", ctx)
        out = {}
        for mode, n in [(m, n) for m in MODES for n in (64, 37) if n == 64 or m not in
                        ("cbc", "ecb")]:
            data = plain[:n]
            miv = None if mode == "ecb" else iv
            c, iv_out = self.encdec(ctx, mode, miv, data, stem=f"e{bits}{mode}")
            T.check(c == aes(key, mode, iv, data),
                    f"[{self.label}] AES-{bits}-{mode}: the TPM's ciphertext is not "
                    "cryptography's")
            expect = [expected_iv_out(key, mode, iv, data, c)]
            if mode == "cfb" and n % 16 and self.libtpms_cfb_iv:
                # libtpms (OpenSSL's updated IV) keeps the keystream's tail after a partial
                # CFB block where the reference pads with zeros (a known divergence).
                prev = c[(n // 16 - 1) * 16:(n // 16) * 16]
                expect = [c[(n // 16) * 16:] + aes(key, "ecb", b"", prev)[n % 16:]]
            T.check(iv_out in expect,
                    f"[{self.label}] AES-{bits}-{mode} ({n} bytes): ivOut {iv_out.hex()} is "
                    f"not the chaining value {expect[0].hex()}")
            # Chained: two calls through ivOut give the one-call result (block-aligned cut).
            a, mid = self.encdec(ctx, mode, miv, data[:32], stem=f"a{bits}{mode}")
            b, _ = self.encdec(ctx, mode, None if mode == "ecb" else mid, data[32:],
                               stem=f"b{bits}{mode}")
            T.check(a + b == c, f"[{self.label}] AES-{bits}-{mode}: chaining through ivOut")
            p, _ = self.encdec(ctx, mode, miv, c, decrypt=True, stem=f"d{bits}{mode}")
            T.check(p == data, f"[{self.label}] AES-{bits}-{mode}: decryption")
            # A partial CFB block's ivOut is the known divergence: compared above only.
            out[(bits, mode, n)] = (c, b"" if mode == "cfb" and n % 16 else iv_out)
        # PKCS#7 padding (the tool pads, the TPM encrypts whole blocks).
        c, _ = self.encdec(ctx, "cbc", iv, plain[:20], pad=True, stem=f"p{bits}")
        padder = crypto.padding.PKCS7(128).padder()
        padded = padder.update(plain[:20]) + padder.finalize()
        T.check(c == aes(key, "cbc", iv, padded), f"[{self.label}] CBC with -e (PKCS#7)")
        out[(bits, "cbc-pad")] = (c, b"")
        T.log(f"ok: [{self.label}] AES-{bits} known key: CFB, CBC, CTR, OFB, ECB equal "
              "cryptography's, ivOut chains, decryption and PKCS#7 padding")
        return out

    def created_keys(self, plain):
        iv = secrets.token_bytes(16)
        prim = self.path("prim.ctx")
        self.tool("tpm2_createprimary", "-C", "o", "-G", "ecc256", "-c", prim)
        for alg, mode, bits in (("aes128cfb", "cfb", 128), ("aes256", "null", 256),
                                ("aes128cbc", "cbc", 128)):
            stem = self.path("c_" + alg)
            self.tool("tpm2_create", "-C", prim, "-G", alg, "-u", stem + ".pub",
                      "-r", stem + ".priv")
            self.tool("tpm2_load", "-C", prim, "-u", stem + ".pub", "-r", stem + ".priv",
                      "-c", stem + ".ctx")
            text = self.tool("tpm2_readpublic", "-c", stem + ".ctx").text
            T.check("symcipher" in text and f"sym-keybits: {bits}" in text
                    and re.search(rf"sym-mode:\s*\n\s*value: {mode}", text) is not None,
                    f"[{self.label}] readpublic of {alg}:\n{text}")
            use = "cbc" if mode == "cbc" else "cfb"
            c, _ = self.encdec(stem + ".ctx", None if mode != "null" else "ofb", iv, plain[:48],
                               stem="c" + alg)
            p, _ = self.encdec(stem + ".ctx", None if mode != "null" else "ofb", iv, c,
                               decrypt=True, stem="d" + alg)
            T.check(p == plain[:48] and c != p, f"[{self.label}] {alg} ({use}) round trip")
        # A symmetric storage primary with an ECC signing child and an AES child.
        sprim = self.path("sprim.ctx")
        self.tool("tpm2_createprimary", "-C", "o", "-G", "aes256cfb", "-c", sprim)
        self.tool("tpm2_create", "-C", sprim, "-G", "ecc256:ecdsa", "-u", self.path("s.pub"),
                  "-r", self.path("s.priv"))
        self.tool("tpm2_load", "-C", sprim, "-u", self.path("s.pub"), "-r", self.path("s.priv"),
                  "-c", self.path("s.ctx"))
        self.tool("tpm2_sign", "-c", self.path("s.ctx"), "-g", "sha256",
                  "-o", self.path("s.sig"), self.write("msg", b"signed under an AES parent"))
        self.tool("tpm2_create", "-C", sprim, "-G", "aes128ctr", "-u", self.path("a.pub"),
                  "-r", self.path("a.priv"))
        self.tool("tpm2_load", "-C", sprim, "-u", self.path("a.pub"), "-r", self.path("a.priv"),
                  "-c", self.path("a.ctx"))
        c, _ = self.encdec(self.path("a.ctx"), None, iv, plain[:33], stem="actr")
        p, _ = self.encdec(self.path("a.ctx"), None, iv, c, decrypt=True, stem="dctr")
        T.check(p == plain[:33], f"[{self.label}] AES-128-CTR child of an AES parent")
        T.log(f"ok: [{self.label}] tpm2_create aes128cfb / aes256 / aes128cbc, an aes256cfb "
              "storage primary with ECC and AES children: loaded, used, read back")


# --- raw commands -----------------------------------------------------------------
def sym_template(attrs, bits=128, mode="cfb", unique=b""):
    m = NULL if mode is None else (MODES[mode] if isinstance(mode, str) else mode)
    return (struct.pack(">HHI", SYMCIPHER, 0x000B, attrs) + b2(b"")
            + struct.pack(">HHH", AES, bits, m) + b2(unique))


def load_external(sensitive, public):
    return build(T.ST_NO_SESSIONS, CC_LOAD_EXTERNAL,
                 params=sensitive + b2(public) + struct.pack(">I", RH_NULL))


def sym_sensitive(seed, key):
    return b2(struct.pack(">H", SYMCIPHER) + b2(b"") + b2(seed) + b2(key))


def known_external(key, attrs=SIGN_DECRYPT, mode="cfb", seed=b"\x5a" * 32):
    unique = hashlib.sha256(seed + key).digest()
    return load_external(sym_sensitive(seed, key), sym_template(attrs, len(key) * 8, mode,
                                                                unique))


def enc_dec(handle, two, decrypt, mode, iv, data):
    m = NULL if mode is None else (MODES[mode] if isinstance(mode, str) else mode)
    if two:
        params = b2(data) + struct.pack(">BH", decrypt, m) + b2(iv)
    else:
        params = struct.pack(">BH", decrypt, m) + b2(iv) + b2(data)
    return build(T.ST_SESSIONS, CC_ENCRYPT_DECRYPT2 if two else CC_ENCRYPT_DECRYPT, [handle],
                 [PW], params)


def create(parent, template, data=b""):
    params = b2(b2(b"") + b2(data)) + b2(template) + b2(b"") + struct.pack(">I", 0)
    return build(T.ST_SESSIONS, CC_CREATE, [parent], [PW], params)


CFB_IV = ("ivOut after a partial CFB block: the reference (CryptSymmetricEncrypt / Decrypt) "
          "pads the partial ciphertext with zeros, libtpms 0.9.2 returns OpenSSL's updated IV "
          "(the keystream's tail); the response codes agree, the ivOut bytes do not")


def cases(t, key):
    """(name, expected rc, rc, divergence or None, response bytes of a success)."""
    rows = []

    def case(name, cmd, expect, why=None, same_bytes=True):
        """same_bytes: a success answers the same bytes on both TPMs (no fresh key)."""
        if why is None and "cfb" in name and "partial" in name:
            why = CFB_IV
        out = t.run(cmd)
        rows.append((name, expect if isinstance(expect, int) else rc_of(expect), out.rc, why,
                     out.data if out.rc == 0 and same_bytes else b""))
        return out

    def loaded(cmd):
        return struct.unpack(">I", t.ok(cmd, "LoadExternal")[10:14])[0]

    iv, b32 = bytes(range(16)), bytes(range(32))
    # Deterministic outputs: every mode, both commands, encrypt and decrypt, key mode NULL.
    h = loaded(known_external(key, mode=None))
    for two in (False, True):
        for mode in MODES:
            miv = b"" if mode == "ecb" else iv
            for d in (0, 1):
                case(f"EncryptDecrypt{'2' if two else ''} {mode} {'dec' if d else 'enc'}"
                     + ("" if mode in ("cbc", "ecb") else " (37 bytes: partial block)"),
                     enc_dec(h, two, d, mode, miv, b32 + b32[:(0 if mode in ('cbc', 'ecb')
                                                               else 5)]), 0)
        n = "EncryptDecrypt2" if two else "EncryptDecrypt"
        pd, pm, pi, pdata = ("P2", "P3", "P4", "P1") if two else ("P1", "P2", "P3", "P4")
        case(f"{n}: key mode NULL, command mode NULL", enc_dec(h, two, 0, None, iv, b32),
             f"MODE@{pm}")
        case(f"{n}: decrypt = 2", enc_dec(h, two, 2, "cfb", iv, b32), f"VALUE@{pd}")
        case(f"{n}: mode 0x45", enc_dec(h, two, 0, 0x45, iv, b32), f"MODE@{pm}")
        case(f"{n}: IV of 17 bytes", enc_dec(h, two, 0, "cfb", bytes(17), b32), f"SIZE@{pi}")
        case(f"{n}: IV of 8 bytes", enc_dec(h, two, 0, "cbc", bytes(8), b32), f"SIZE@{pi}")
        case(f"{n}: no IV (CTR)", enc_dec(h, two, 0, "ctr", b"", b32), f"SIZE@{pi}")
        case(f"{n}: an IV for ECB", enc_dec(h, two, 0, "ecb", iv, b32), f"SIZE@{pi}")
        case(f"{n}: CBC with 17 bytes", enc_dec(h, two, 0, "cbc", iv, bytes(17)),
             f"SIZE@{pdata}")
        case(f"{n}: ECB with 17 bytes", enc_dec(h, two, 1, "ecb", b"", bytes(17)),
             f"SIZE@{pdata}")
        case(f"{n}: empty data (CFB)", enc_dec(h, two, 0, "cfb", iv, b""), 0)
    t.flush(h)
    h = loaded(known_external(key, mode="cbc"))
    for two in (False, True):
        n = "EncryptDecrypt2" if two else "EncryptDecrypt"
        pm = "P3" if two else "P2"
        case(f"{n}: CBC key, CFB in the command", enc_dec(h, two, 0, "cfb", iv, b32),
             f"MODE@{pm}")
        case(f"{n}: CBC key, CBC in the command", enc_dec(h, two, 0, "cbc", iv, b32), 0)
        case(f"{n}: CBC key, NULL in the command", enc_dec(h, two, 1, None, iv, b32), 0)
    t.flush(h)
    for attrs, what, d, expect in ((0x00040040, "sign only", 1, "ATTRIBUTES@H1"),
                                   (0x00040040, "sign only", 0, 0),
                                   (0x00020040, "decrypt only", 0, "ATTRIBUTES@H1"),
                                   (0x00020040, "decrypt only", 1, 0)):
        h = loaded(known_external(key, attrs=attrs, mode=None))
        case(f"EncryptDecrypt: a {what} key, {'decrypt' if d else 'encrypt'}",
             enc_dec(h, False, d, "cfb", iv, b32), expect)
        case(f"EncryptDecrypt2: a {what} key, {'decrypt' if d else 'encrypt'}, mode 0x42",
             enc_dec(h, True, d, "cbc", iv, bytes(17)), expect or "SIZE@P1")
        t.flush(h)
    h = t.primary(RH_OWNER, sym_template(SYM_STORAGE, 128, "cfb"))
    case("EncryptDecrypt: a restricted (storage) key", enc_dec(h, False, 1, "cfb", iv, b32),
         "ATTRIBUTES@H1")
    # Children of a symmetric storage parent: the caller's key, its size, restricted.
    case("Create: a symmetric key with 15 key bytes",
         create(h, sym_template(SYM_KEY & ~0x20), bytes(15)), "KEY_SIZE")
    case("Create: a symmetric key with the caller's 16 bytes",
         create(h, sym_template(SYM_KEY & ~0x20), bytes(16)), 0, same_bytes=False)
    case("Create: a restricted symmetric key with the caller's key",
         create(h, sym_template(SYM_STORAGE & ~0x20), bytes(16)), "ATTRIBUTES@P2")
    case("Create: a fixedParent storage child with AES-256",
         create(h, sym_template(SYM_STORAGE, 256)), "SYMMETRIC@P2")
    case("Create: a fixedParent storage child in CBC",
         create(h, sym_template(SYM_STORAGE, 128, "cbc")), "SYMMETRIC@P2")
    case("Create: a storage child in CFB", create(h, sym_template(SYM_STORAGE, 128)), 0,
         same_bytes=False)
    t.flush(h)
    h = t.primary(RH_OWNER, ecc_template(0x00040072, scheme=struct.pack(">HH", 0x18, 0x0B),
                                         curve=3))
    case("EncryptDecrypt2: an ECC key", enc_dec(h, True, 0, "cfb", iv, b32), "KEY@H1")
    t.flush(h)
    case("CreatePrimary: a symmetric key neither sign nor decrypt",
         create_primary(RH_OWNER, sym_template(0x00000072)), "ATTRIBUTES@P2")
    case("CreatePrimary: a symmetric key with 32 bytes for AES-128",
         create_primary_data(sym_template(SYM_KEY & ~0x20), bytes(32)), "KEY_SIZE")
    # LoadExternal: sizes, binding, a public area alone.
    seed = b"\x33" * 32
    unique = hashlib.sha256(seed + key).digest()
    tmpl = sym_template(SIGN_DECRYPT, len(key) * 8, "cfb", unique)
    case("LoadExternal: a key one byte short",
         load_external(sym_sensitive(seed, key[:-1]), tmpl), "KEY_SIZE@P1")
    case("LoadExternal: a seedValue one byte short",
         load_external(sym_sensitive(seed[:-1], key), tmpl), "KEY_SIZE@P1")
    case("LoadExternal: another key than unique binds",
         load_external(sym_sensitive(seed, bytes(len(key))), tmpl), "BINDING")
    case("LoadExternal: a public area whose unique is 20 bytes",
         load_external(b2(b""), sym_template(SIGN_DECRYPT, 128, "cfb", bytes(20))), "KEY@P2")
    # AES-192: neither ours nor libtpms 0.9.2 implements it (TPMI_AES_KEY_BITS).
    for bits, mode, expect, why in ((192, "cfb", "VALUE@P1", None),
                                    (128, 0x45, "MODE@P1", None),
                                    (256, None, 0, None), (128, "ecb", 0, None)):
        m = NULL if mode is None else (MODES[mode] if isinstance(mode, str) else mode)
        case(f"TestParms: symcipher AES-{bits} mode {m:#x}",
             build(T.ST_NO_SESSIONS, CC_TEST_PARMS,
                   params=struct.pack(">HHHH", SYMCIPHER, AES, bits, m)), expect, why)
    # CertifyCreation of a child of the symmetric storage parent (and of the parent itself),
    # signed by an ECDSA P-256 primary: the creation tickets are each TPM's own.
    sp_rsp = t.ok(create_primary(RH_OWNER, sym_template(SYM_STORAGE, 128, "cfb")), "CreatePrimary")
    sp = struct.unpack(">I", sp_rsp[10:14])[0]
    sp_hash, sp_ticket = creation_results(sp_rsp[18:])
    signer = t.primary(RH_OWNER, ecc_template(0x00040072,
                                              scheme=struct.pack(">HH", 0x18, 0x0B), curve=3))
    rsp = t.ok(create(sp, sym_template(SYM_KEY, 128, "cbc")), "Create")
    body = rsp[14:]
    n = struct.unpack(">H", body[:2])[0]
    private = body[:2 + n]
    m = struct.unpack(">H", body[2 + n:4 + n])[0]
    public = body[2 + n:4 + n + m]
    o_hash, o_ticket = creation_results(body[2 + n:])
    obj = struct.unpack(">I", t.ok(build(T.ST_SESSIONS, 0x157, [sp], [PW], private + public),
                                   "Load")[10:14])[0]

    def cc(sign, obj_h, chash, ticket, scheme=b"\x00\x10"):
        return build(T.ST_SESSIONS, CC_CERTIFY_CREATION, [sign, obj_h], [PW],
                     b2(b"nonce") + b2(chash) + scheme + ticket)

    bad_hash = bytes([o_hash[0] ^ 1]) + o_hash[1:]
    case("CertifyCreation: the child's ticket", cc(signer, obj, o_hash, o_ticket), 0,
         same_bytes=False)
    case("CertifyCreation: the parent's ticket, unsigned (TPM_RH_NULL)",
         cc(RH_NULL, sp, sp_hash, sp_ticket), 0, same_bytes=False)
    case("CertifyCreation: another creationHash", cc(signer, obj, bad_hash, o_ticket),
         "TICKET@P4")
    case("CertifyCreation: the parent's ticket for the child", cc(signer, obj, sp_hash, sp_ticket),
         "TICKET@P4")
    case("CertifyCreation: a ticket of another hierarchy",
         cc(signer, obj, o_hash, o_ticket[:2] + struct.pack(">I", 0x4000000B) + o_ticket[6:]),
         "TICKET@P4")
    case("CertifyCreation: a ticket with the tag of a verified ticket",
         cc(signer, obj, o_hash, struct.pack(">H", 0x8022) + o_ticket[2:]), "TAG@P4")
    case("CertifyCreation: a ticket of hierarchy 0x40000002",
         cc(signer, obj, o_hash, o_ticket[:2] + struct.pack(">I", 0x40000002) + o_ticket[6:]),
         "VALUE@P4")
    case("CertifyCreation: a storage key signs (before the ticket)",
         cc(sp, obj, bad_hash, o_ticket), "KEY@H1")
    case("CertifyCreation: ECDSA-SHA384 with an ECDSA-SHA256 key",
         cc(signer, obj, bad_hash, o_ticket, struct.pack(">HH", 0x18, 0x0C)), "SCHEME@P3")
    for h in (obj, signer, sp):
        t.flush(h)
    case("TestParms: symcipher with algorithm NULL",
         build(T.ST_NO_SESSIONS, CC_TEST_PARMS, params=struct.pack(">HH", SYMCIPHER, NULL)),
         "SYMMETRIC@P1")
    return rows


def creation_results(b):
    """(creationHash, TPMT_TK_CREATION bytes) from the parameters after outPrivate, starting
    at outPublic."""
    for _ in range(2):  # outPublic, creationData
        b = b[2 + struct.unpack(">H", b[:2])[0]:]
    n = struct.unpack(">H", b[:2])[0]
    chash, b = b[2:2 + n], b[2 + n:]
    m = struct.unpack(">H", b[6:8])[0]
    return chash, b[:8 + m]


def create_primary_data(template, data):
    params = b2(b2(b"") + b2(data)) + b2(template) + b2(b"") + struct.pack(">I", 0)
    return build(T.ST_SESSIONS, 0x131, [RH_OWNER], [PW], params)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tcti", required=True, help="TPM under test (mssim:/spawn:host-sim)")
    ap.add_argument("--ref-tcti", default="spawn:swtpm", help="reference (default spawn:swtpm)")
    ap.add_argument("--ours", action="store_true", help="accepted like the other scripts'")
    ap.add_argument("--accept-libtpms-divergences", action="store_true",
                    help="the TPM under test may answer as swtpm where the known divergences "
                         "are (to check the script on swtpm)")
    args = ap.parse_args()
    T.require_programs("tpm2_encryptdecrypt", "swtpm", "swtpm_setup")
    T.require_tcti_library("mssim")
    load_crypto()
    keys = [secrets.token_bytes(16), secrets.token_bytes(32)]
    iv, plain = secrets.token_bytes(16), secrets.token_bytes(64)
    with open_target(args.tcti) as tcti, open_target(args.ref_tcti) as ref_tcti, \
            tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
        results = {}
        for label, tc, d, lib in (("ours", tcti, d1, args.accept_libtpms_divergences),
                                  ("swtpm", ref_tcti, d2, True)):
            results[label] = Tools(label, tc, d, lib).run(keys, iv, plain)
        T.check(results["ours"] == results["swtpm"],
                "tpm2_encryptdecrypt outputs or ivOut differ between ours and swtpm")
        T.log(f"ok: {len(results['ours'])} tpm2_encryptdecrypt results byte-identical on both")

        ours, ref = Target("ours", tcti), Target("swtpm", ref_tcti)
        rows = {t.label: cases(t, keys[0]) for t in (ours, ref)}
        T.check(len(rows["ours"]) == len(rows["swtpm"]), "the case lists differ in length")
        differ, wrong_ref, known = [], [], []
        print(f"{'case':66} {'expected':>18} {'swtpm':>18} {'ours':>18}")
        for (name, expect, mine, why, rsp), (_, _, theirs, _, rsp_ref) in zip(rows["ours"],
                                                                           rows["swtpm"]):
            note = ""
            if why is None:
                if mine != theirs or rsp != rsp_ref:
                    note = "  DIFFERS"
                    differ.append(name)
                if theirs != expect:
                    note += "  (swtpm: not the expected answer)"
                    wrong_ref.append(name)
                if mine != expect:
                    differ.append(name)
            else:
                good = mine == expect or (args.accept_libtpms_divergences and mine == theirs)
                note = "  known divergence (below)" if good else "  DIFFERS from the expected"
                if not good:
                    differ.append(name)
                if theirs != expect or rsp != rsp_ref:
                    known.append((name, why))
            print(f"{name:66} {rc_text(expect):>18} {rc_text(theirs):>18} "
                  f"{rc_text(mine):>18}{note}")
        for why in dict.fromkeys(w for _, w in known):
            print(f"known divergence: {why}")
        T.check(not wrong_ref, f"swtpm did not answer as the case expects: {wrong_ref}")
        T.check(not differ, f"{len(set(differ))} case(s) differ: {sorted(set(differ))}")
        T.log(f"ok: {len(rows['ours'])} raw cases; {len(rows['ours']) - len(known)} answer "
              f"exactly as swtpm (successful responses byte-identical), {len(known)} known "
              "divergence(s)")


if __name__ == "__main__":
    T.run_main(main)
