#!/usr/bin/python3
"""RSA-2048 with tpm2-tools 5.4 and their defaults (no -G: the tools default to RSA), every
cryptographic result checked independently with `cryptography` and hashlib.

    /usr/bin/python3 tests/clients/rsa.py --tcti mssim:host=127.0.0.1,port=N [--ours]
    /usr/bin/python3 tests/clients/rsa.py --tcti spawn:swtpm        # checks the script
    /usr/bin/python3 tests/clients/rsa.py --tcti spawn:host-sim     # target/debug/host-sim

Steps (one `ok:` line each):
 1. GetCapability(ALGS) lists rsa, rsassa, rsaes, rsapss, oaep, mgf1; tpm2_testparms rsa2048
    passes and rsa4096 fails.
 2. tpm2_createprimary (default rsa2048:null:aes128cfb) in the owner, endorsement and null
    hierarchies: the tools' storage template, a 2048-bit modulus with its top bit set, the
    PEM from tpm2_readpublic -f pem equals the TPM2B_PUBLIC, the name is nameAlg ‖
    H(TPMT_PUBLIC), the same template twice gives the same key, the hierarchies differ.
 3. tpm2_create (default: sign|decrypt, scheme NULL) + tpm2_load, tpm2_create -c
    (CreateLoaded) of keys with fixed schemes (rsapss-sha384, rsassa-sha384, oaep-sha384).
 4. tpm2_sign (default rsassa-sha256, and -g sha384, -s rsapss, -f plain, -d digest):
    PKCS#1 v1.5 and PSS (salt = digest size) verified by `cryptography` with the PEM key;
    RSASSA is deterministic, PSS is not; tpm2_verifysignature accepts them (ticket) and
    rejects a modified message; a key loaded from a PEM private key (tpm2_loadexternal -r)
    signs for `cryptography`, and a signature made by `cryptography` verifies in the TPM.
 5. tpm2_rsaencrypt / tpm2_rsadecrypt: the default scheme (RSAES-PKCS1-v1_5), -s oaep with a
    label (the tools append its zero byte), -s null (c = m^e mod n, checked with pow());
    data encrypted by `cryptography` decrypts in the TPM, data the TPM encrypts under a key
    whose private part only Python holds decrypts in `cryptography`; a wrong label fails.
 6. tpm2_createek (default RSA, the TCG L-1 template; and -G rsa) + tpm2_createak (default
    RSA AK, rsassa-sha256), names and qualified names recomputed; tpm2_makecredential with
    the TPM, with -T none, and in Python (OAEP "IDENTITY\\0", KDFa, AES-128-CFB, HMAC) +
    tpm2_activatecredential through the EK's policy session recover the secret; a tampered
    encrypted seed fails.
 7. tpm2_quote with the RSA AK + tpm2_checkquote; TPMS_ATTEST parsed, pcrDigest = hashlib's
    over tpm2_pcrread, the RSASSA signature verified by `cryptography`; another nonce fails.
    tpm2_certify and tpm2_gettime with the RSA AK: the attested names / time and the
    signatures checked likewise.
 8. tpm2_startauthsession --tpmkey-context with the RSA storage primary and with the RSA EK
    (salted: OAEP "SECRET\\0"), then tpm2_getrandom with response encryption and
    tpm2_unseal of a sealed object through the salted session (ESYS checks the TPM's
    response HMACs, which need the salt the TPM decrypted).

--ours adds what only our vTPM must do: RSA-1024 and RSA-3072 are refused (tpm2_testparms,
tpm2_createprimary -G rsa1024 answers TPM_RC_VALUE at parameter 2), and failed OAEP
decryptions answer the reference implementation's TPM_RC_VALUE (RSA_Decrypt) and
TPM_RC_VALUE at parameter 2 (ActivateCredential). libtpms accepts both key sizes and
answers TPM_RC_FAILURE to the decryptions: known divergences (rsa_differential.py).

Exit status: 0 all checks passed, 1 a check failed, 77 a prerequisite (tpm2-tools, a TCTI
library, python3-cryptography) is missing.
"""

import argparse
import hashlib
import hmac
import os
import secrets
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keys as K  # noqa: E402
import tpmlib as T  # noqa: E402
from servers import open_target  # noqa: E402

crypto = None  # set in main(): cryptography's modules

ALG_RSA, ALG_AES, ALG_CFB, ALG_NULL = 0x0001, 0x0006, 0x0043, 0x0010
ALG_RSASSA, ALG_RSAES, ALG_RSAPSS, ALG_OAEP = 0x0014, 0x0015, 0x0016, 0x0017
SCHEME_NAMES = {ALG_RSASSA: "rsassa", ALG_RSAES: "rsaes", ALG_RSAPSS: "rsapss",
                ALG_OAEP: "oaep", ALG_NULL: "null"}
HASH_NAMES = K.HASH_NAMES
RH_OWNER, RH_ENDORSEMENT, RH_NULL = K.RH_OWNER, K.RH_ENDORSEMENT, K.RH_NULL
FIXED_TPM, FIXED_PARENT, SENSITIVE_DATA_ORIGIN = K.FIXED_TPM, K.FIXED_PARENT, \
    K.SENSITIVE_DATA_ORIGIN
USER_WITH_AUTH, ADMIN_WITH_POLICY = K.USER_WITH_AUTH, K.ADMIN_WITH_POLICY
RESTRICTED, DECRYPT, SIGN = K.RESTRICTED, K.DECRYPT, K.SIGN
KEY_ATTRS = FIXED_TPM | FIXED_PARENT | SENSITIVE_DATA_ORIGIN | USER_WITH_AUTH
ST_ATTEST_CERTIFY, ST_ATTEST_QUOTE, ST_ATTEST_TIME = 0x8017, 0x8018, 0x8019

RC = {
    "SIGNATURE_P2": 0x2DB,   # VerifySignature of a modified message
    "VALUE_P2": 0x2C4,       # ours: keyBits 1024 (TPMI_RSA_KEY_BITS); a tampered credential seed
    "VALUE": 0x084,          # ours: OAEP decryption with another label (OaepDecode)
}


def h(alg, data):
    return hashlib.new(alg, data).digest()


class RsaPublic:
    """A parsed RSA TPMT_PUBLIC."""

    def __init__(self, tpmt, what):
        self.tpmt = bytes(tpmt)
        self.what = what
        r = K.Reader(tpmt, what)
        self.type = r.u16()
        T.check(self.type == ALG_RSA, f"{what}: type {self.type:#06x}, not RSA")
        self.name_alg = HASH_NAMES.get(r.u16())
        T.check(self.name_alg is not None, f"{what}: unknown nameAlg")
        self.attrs = r.u32()
        self.policy = r.b2b()
        alg = r.u16()
        self.sym = None if alg == ALG_NULL else (alg, r.u16(), r.u16())
        alg = r.u16()
        if alg in (ALG_NULL, ALG_RSAES):
            self.scheme = (SCHEME_NAMES[alg], None)
        else:
            T.check(alg in SCHEME_NAMES, f"{what}: unknown scheme {alg:#06x}")
            self.scheme = (SCHEME_NAMES[alg], HASH_NAMES.get(r.u16()))
        self.key_bits = r.u16()
        self.exponent = r.u32()
        self.n = r.b2b()
        r.end()

    @classmethod
    def from_file(cls, path, what=None):
        with open(path, "rb") as f:
            data = f.read()
        r = K.Reader(data, what or os.path.basename(path))
        tpmt = r.b2b()
        r.end()
        return cls(tpmt, what or os.path.basename(path))

    @property
    def name(self):
        return struct.pack(">H", K.HASH_IDS[self.name_alg]) + h(self.name_alg, self.tpmt)

    @property
    def e(self):
        return self.exponent or 65537

    @property
    def n_int(self):
        return int.from_bytes(self.n, "big")

    def key(self):
        return crypto.rsa.RSAPublicNumbers(self.e, self.n_int).public_key()

    def check_modulus(self):
        T.check(self.key_bits == 2048 and len(self.n) == 256 and self.n[0] & 0x80
                and self.n[-1] & 1, f"{self.what}: keyBits {self.key_bits}, modulus of "
                f"{len(self.n)} bytes starting {self.n[:2].hex()}")
        # No small factor (a cheap sanity check that the modulus is a product of big primes).
        small = 3 * 5 * 7 * 11 * 13 * 17 * 19 * 23 * 29 * 31 * 37 * 41 * 43 * 47
        T.check(_gcd(self.n_int, small) == 1, f"{self.what}: modulus with a small factor")

    def describe(self):
        return (f"nameAlg {self.name_alg} attrs {self.attrs:#010x} sym {self.sym} scheme "
                f"{self.scheme} keyBits {self.key_bits} exponent {self.exponent} "
                f"n {len(self.n)} B policy {self.policy.hex() or '-'}")


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def parse_signature(data, what):
    """TPMT_SIGNATURE (RSASSA / RSAPSS) → (scheme name, hash name, signature bytes)."""
    r = K.Reader(data, what)
    alg = r.u16()
    T.check(alg in (ALG_RSASSA, ALG_RSAPSS), f"{what}: sigAlg {alg:#06x}, not RSASSA/RSAPSS")
    hname = HASH_NAMES.get(r.u16())
    T.check(hname is not None, f"{what}: unknown signature hash")
    sig = r.b2b()
    r.end()
    return SCHEME_NAMES[alg], hname, sig


def rsa_verify(key, scheme, hname, sig, data, prehashed=False):
    """True if `sig` is a valid RSASSA / RSAPSS (salt = digest size) signature of data."""
    algo = getattr(crypto.hashes, hname.upper())()
    if scheme == "rsassa":
        pad = crypto.padding.PKCS1v15()
    else:
        pad = crypto.padding.PSS(crypto.padding.MGF1(algo), algo.digest_size)
    if prehashed:
        algo = crypto.utils.Prehashed(algo)
    try:
        key.verify(sig, data, pad, algo)
        return True
    except crypto.InvalidSignature:
        return False


def oaep(hname, label):
    algo = getattr(crypto.hashes, hname.upper())()
    return crypto.padding.OAEP(crypto.padding.MGF1(algo), algo, label)


class Attest:
    """A parsed TPMS_ATTEST of type CERTIFY, QUOTE or TIME."""

    def __init__(self, data, what):
        r = K.Reader(data, what)
        T.check(r.u32() == K.TPM_GENERATED, f"{what}: magic is not TPM_GENERATED")
        self.type = r.u16()
        self.signer = r.b2b()
        self.extra = r.b2b()
        self.clock, self.reset_count, self.restart_count, self.safe = r.u64(), r.u32(), \
            r.u32(), r.u8()
        self.firmware = r.u64()
        if self.type == ST_ATTEST_CERTIFY:
            self.name, self.qualified_name = r.b2b(), r.b2b()
        elif self.type == ST_ATTEST_QUOTE:
            self.selection = []
            for _ in range(r.u32()):
                hname = HASH_NAMES.get(r.u16())
                bitmap = r.take(r.u8())
                self.selection.append((hname, [i for i in range(8 * len(bitmap))
                                               if bitmap[i // 8] >> (i % 8) & 1]))
            self.pcr_digest = r.b2b()
        elif self.type == ST_ATTEST_TIME:
            self.time = r.u64()
            self.time_clock, self.time_reset, self.time_restart, self.time_safe = \
                r.u64(), r.u32(), r.u32(), r.u8()
            self.time_firmware = r.u64()
        else:
            raise T.Failure(f"{what}: attestation type {self.type:#x}")
        r.end()


def make_credential(ek, ak_name, credential):
    """RSA MakeCredential in software (Part 1 Annex B.10.4, §24): a tpm2-tools blob."""
    hname = ek.name_alg
    T.check(ek.sym is not None and ek.sym[0] == ALG_AES and ek.sym[2] == ALG_CFB,
            f"EK symmetric {ek.sym} is not AES-CFB")
    digest_bits = 8 * hashlib.new(hname).digest_size
    seed = secrets.token_bytes(digest_bits // 8)
    secret = ek.key().encrypt(seed, oaep(hname, b"IDENTITY\0"))
    sym_key = K.kdfa(hname, seed, b"STORAGE", ak_name, b"", ek.sym[1])
    enc = crypto.Cipher(crypto.algorithms.AES(sym_key), crypto.CFB(bytes(16))).encryptor()
    enc_identity = enc.update(struct.pack(">H", len(credential)) + credential) + enc.finalize()
    hmac_key = K.kdfa(hname, seed, b"INTEGRITY", b"", b"", digest_bits)
    integrity = hmac.new(hmac_key, enc_identity + ak_name, hname).digest()
    id_object = struct.pack(">H", len(integrity)) + integrity + enc_identity
    return (struct.pack(">II", K.CONTEXT_MAGIC, 1) + struct.pack(">H", len(id_object))
            + id_object + struct.pack(">H", len(secret)) + secret)


class Rsa(K.Keys):
    """The checks; tool running, flushing and files come from keys.py."""

    def readpublic(self, ctx, stem):
        """tpm2_readpublic -c ctx: (RsaPublic, name, qualified name); the PEM must match."""
        pem = self.path(stem + ".pem")
        self.tool("tpm2_readpublic", "-c", ctx, "-o", self.path(stem + ".rp"),
                  "-n", self.path(stem + ".name"), "-q", self.path(stem + ".qname"))
        self.tool("tpm2_readpublic", "-c", ctx, "-o", pem, "-f", "pem")
        pub = RsaPublic.from_file(self.path(stem + ".rp"), f"readpublic {ctx}")
        name = self.read(stem + ".name")
        T.check(name == pub.name, f"readpublic {ctx}: name {name.hex()} but "
                f"nameAlg ‖ H(TPMT_PUBLIC) = {pub.name.hex()}")
        with open(pem, "rb") as f:
            key = crypto.serialization.load_pem_public_key(f.read())
        T.check(isinstance(key, crypto.rsa.RSAPublicKey), f"{ctx}: PEM is not an RSA key")
        nums = key.public_numbers()
        T.check(nums.n == pub.n_int and nums.e == pub.e,
                f"{ctx}: PEM (n, e) differs from the TPM2B_PUBLIC's (e {nums.e} vs {pub.e})")
        self.pem_keys[stem] = key
        return pub, name, self.read(stem + ".qname")

    def run(self):
        self.pem_keys = {}
        self.tool("tpm2_startup", "-c", flush=False)
        self.capabilities()
        self.primaries()
        self.children()
        self.signing()
        self.encryption()
        self.ek_ak()
        self.attestation()
        self.salted_sessions()
        self.reset_lockout()
        T.check(not self.transient_handles(), "transient handles left at the end")
        left = self.sessions()
        T.check(not left, f"sessions left at the end: {left}")
        width = max(len(c) for c, _, _ in self.codes)
        for case, rc, text in self.codes:
            T.log(f"ok: error  {case:<{width}}  {rc:#05x}  {text}")
        T.log("rsa: all checks passed")

    # --- 1 -----------------------------------------------------------------------------
    def capabilities(self):
        algs = T.parse_toplevel(T.tool(self.tcti, "tpm2_getcap", "algorithms").text)
        want = ("rsa", "rsassa", "rsaes", "rsapss", "oaep", "mgf1")
        missing = [a for a in want if a not in algs]
        T.check(not missing, f"getcap algorithms lacks {missing}")
        props = T.subfields(algs["rsa"][1])
        T.check(props.get("asymmetric") == "1" and props.get("object") == "1",
                f"getcap algorithms: rsa is not asymmetric|object: {props}")
        for a in ("rsassa", "rsapss"):
            T.check(T.subfields(algs[a][1]).get("signing") == "1", f"{a} lacks signing: 1")
        for a in ("rsaes", "oaep"):
            T.check(T.subfields(algs[a][1]).get("encrypting") == "1", f"{a} lacks encrypting")
        self.tool("tpm2_testparms", "rsa2048")
        self.tool("tpm2_testparms", "rsa2048:aes128cfb")
        self.tool("tpm2_testparms", "rsa2048:rsassa")
        self.tool("tpm2_testparms", "rsa4096", ok=False)
        checked = "rsa4096"
        if self.ours:
            # libtpms implements RSA-1024 and -3072; our vTPM only RSA-2048.
            for bits in ("rsa1024", "rsa3072"):
                self.tool("tpm2_testparms", bits, ok=False)
            self.tool("tpm2_createprimary", "-C", "o", "-G", "rsa1024", "-c",
                      self.path("r1024.ctx"), ok=False, expect_rc=RC["VALUE_P2"],
                      case="createprimary -G rsa1024 (ours: RSA-2048 only)")
            checked = "rsa1024, rsa3072, rsa4096"
        if K.PERSISTENT in self.persistent_handles():
            self.tool("tpm2_evictcontrol", "-C", "o", "-c", hex(K.PERSISTENT))
        T.log("ok: 1 getcap algorithms lists rsa (asymmetric|object), rsassa, rsapss (signing), "
              f"rsaes, oaep (encrypting), mgf1; tpm2_testparms rsa2048[:aes128cfb|:rsassa] "
              f"passes, {checked} fail")

    # --- 2 -----------------------------------------------------------------------------
    def primaries(self):
        seen = {}
        for hier, handle in (("o", RH_OWNER), ("e", RH_ENDORSEMENT), ("n", RH_NULL)):
            stem = f"p-{hier}"
            self.tool("tpm2_createprimary", "-C", hier, "-c", self.path(stem + ".ctx"))
            pub, name, qname = self.readpublic(self.path(stem + ".ctx"), stem)
            what = f"tpm2_createprimary -C {hier} (default rsa2048:null:aes128cfb)"
            T.check(pub.name_alg == "sha256" and pub.attrs == 0x00030072 and pub.policy == b""
                    and pub.sym == (ALG_AES, 128, ALG_CFB) and pub.scheme == ("null", None)
                    and pub.exponent in (0, 65537), f"{what}: {pub.describe()}")
            pub.check_modulus()
            T.check(qname == K.qualified_name(struct.pack(">I", handle), name),
                    f"{what}: qualified name != H(hierarchy ‖ name)")
            self.tool("tpm2_createprimary", "-C", hier, "-c", self.path(stem + "-again.ctx"))
            again, _, _ = self.readpublic(self.path(stem + "-again.ctx"), stem + "-again")
            T.check(again.tpmt == pub.tpmt, f"{what} twice gave different keys (must be "
                    "deterministic from the hierarchy's seed)")
            T.check(pub.n not in seen, f"{what}: same modulus as {seen.get(pub.n)}")
            seen[pub.n] = what
            if hier == "o":
                self.p, self.p_pub, self.p_name = self.path(stem + ".ctx"), pub, name
        T.log("ok: 2 tpm2_createprimary -C o|e|n (defaults): RSA-2048 storage keys (sha256, "
              "0x30072, AES-128-CFB, scheme NULL), modulus odd with its top bit set and no "
              "small factor, PEM = TPM2B_PUBLIC, names recomputed, deterministic, all distinct")

    # --- 3 -----------------------------------------------------------------------------
    def children(self):
        p = self.p
        k_pub, k_priv, k = self.path("k.pub"), self.path("k.priv"), self.path("k.ctx")
        self.tool("tpm2_create", "-C", p, "-u", k_pub, "-r", k_priv)
        kp = RsaPublic.from_file(k_pub)
        T.check(kp.name_alg == "sha256" and kp.attrs == KEY_ATTRS | SIGN | DECRYPT
                and kp.sym is None and kp.scheme == ("null", None),
                f"tpm2_create (defaults): {kp.describe()}")
        kp.check_modulus()
        T.check(kp.n != self.p_pub.n, "the child has its parent's modulus")
        self.tool("tpm2_load", "-C", p, "-u", k_pub, "-r", k_priv, "-c", k,
                  "-n", self.path("k.loadname"))
        T.check(self.read("k.loadname") == kp.name, "tpm2_load -n != nameAlg ‖ H(k.pub)")
        rp, name, qname = self.readpublic(k, "k")
        T.check(rp.tpmt == kp.tpmt, "readpublic of the loaded key != tpm2_create's public")
        T.check(qname == K.qualified_name(K.qualified_name(struct.pack(">I", RH_OWNER),
                                                           self.p_name), name),
                "k: qualified name != H(QN(parent) ‖ name)")
        self.k = kp
        self.fixed = {}
        for stem, alg, attrs, scheme in (
                ("kpss", "rsa2048:rsapss-sha384:null", SIGN, ("rsapss", "sha384")),
                ("kssa", "rsa2048:rsassa-sha384", SIGN, ("rsassa", "sha384")),
                ("koaep", "rsa2048:oaep-sha384", DECRYPT, ("oaep", "sha384"))):
            self.tool("tpm2_create", "-C", p, "-G", alg, "-c", self.path(stem + ".ctx"),
                      "-u", self.path(stem + ".pub"), "-r", self.path(stem + ".priv"))
            pub = RsaPublic.from_file(self.path(stem + ".pub"))
            T.check(pub.attrs == KEY_ATTRS | attrs and pub.scheme == scheme and pub.sym is None,
                    f"tpm2_create -G {alg}: {pub.describe()}")
            pub.check_modulus()
            rp, _, _ = self.readpublic(self.path(stem + ".ctx"), stem)
            T.check(rp.tpmt == pub.tpmt, f"{stem}: readpublic != tpm2_create -c's public")
            self.fixed[stem] = pub
        T.log("ok: 3 tpm2_create (defaults: sign|decrypt, scheme NULL) + tpm2_load; "
              "tpm2_create -c (CreateLoaded) -G rsa2048:rsapss-sha384:null | rsassa-sha384 | "
              "oaep-sha384; names and qualified names recomputed, PEMs match")

    # --- 4 -----------------------------------------------------------------------------
    def sign(self, key_ctx, msg, *extra, stem="sig"):
        out = self.path(stem)
        self.tool("tpm2_sign", "-c", key_ctx, *extra, "-o", out, msg)
        return parse_signature(self.read(stem), stem)

    def signing(self):
        k, key = self.path("k.ctx"), self.pem_keys["k"]
        data = b"message to be signed with RSA by the vTPM\n"
        msg, bad = self.write("msg", data), self.write("msg-bad", data + b"!")
        scheme, hname, sig = self.sign(k, msg)
        T.check((scheme, hname, len(sig)) == ("rsassa", "sha256", 256),
                f"tpm2_sign (defaults): {scheme}-{hname}, {len(sig)} bytes")
        T.check(rsa_verify(key, scheme, hname, sig, data),
                "cryptography rejects the TPM's RSASSA-SHA256 signature")
        T.check(not rsa_verify(key, scheme, hname, sig, data + b"!"),
                "cryptography accepts the RSASSA signature for a modified message")
        T.check(self.sign(k, msg, stem="sig2") == (scheme, hname, sig),
                "RSASSA signed the same message twice with different signatures")
        self.tool("tpm2_verifysignature", "-c", k, "-m", msg, "-s", self.path("sig"),
                  "-t", self.path("tk"))
        tk = K.Reader(self.read("tk"), "verifysignature -t")
        tag, hier, digest = tk.u16(), tk.u32(), tk.b2b()
        tk.end()
        T.check(tag == 0x8022 and hier == RH_OWNER and len(digest) in (32, 48, 64),
                f"TPMT_TK_VERIFIED: tag {tag:#x} hierarchy {hier:#x} digest {digest.hex()}")
        self.tool("tpm2_verifysignature", "-c", k, "-m", bad, "-s", self.path("sig"), ok=False,
                  expect_rc=RC["SIGNATURE_P2"], case="VerifySignature (RSASSA), modified message")

        sigs = []
        for extra, want in ((["-g", "sha384"], ("rsassa", "sha384")),
                            (["-s", "rsapss"], ("rsapss", "sha256")),
                            (["-s", "rsapss", "-g", "sha384"], ("rsapss", "sha384")),
                            (["-s", "rsapss"], ("rsapss", "sha256"))):
            scheme, hname, sig = self.sign(k, msg, *extra, stem="s")
            T.check((scheme, hname) == want, f"tpm2_sign {extra}: {scheme}-{hname}")
            T.check(rsa_verify(key, scheme, hname, sig, data),
                    f"cryptography rejects the tpm2_sign {' '.join(extra)} signature")
            T.check(not rsa_verify(key, scheme, hname, sig, data + b"!"),
                    f"tpm2_sign {' '.join(extra)}: the signature verifies a modified message")
            self.tool("tpm2_verifysignature", "-c", k, "-g", hname, "-m", msg,
                      "-s", self.path("s"))
            sigs.append(sig)
        T.check(sigs[1] != sigs[3], "two RSAPSS signatures of one message are equal (no salt)")
        self.tool("tpm2_verifysignature", "-c", k, "-g", "sha256", "-m", bad, "-s", self.path("s"),
                  ok=False, expect_rc=RC["SIGNATURE_P2"],
                  case="VerifySignature (RSAPSS), modified message")
        # -f plain (the bare signature) and -d (a digest computed here).
        self.tool("tpm2_sign", "-c", k, "-f", "plain", "-o", self.path("plain"), msg)
        T.check(rsa_verify(key, "rsassa", "sha256", self.read("plain"), data),
                "tpm2_sign -f plain: cryptography rejects the signature")
        self.write("digest", h("sha384", data))
        scheme, hname, sig = self.sign(k, self.path("digest"), "-d", "-g", "sha384", "-s",
                                       "rsapss", stem="dsig")
        T.check(rsa_verify(key, scheme, hname, sig, h("sha384", data), prehashed=True),
                "tpm2_sign -d: cryptography rejects the RSAPSS signature of the digest")
        # Keys with a fixed scheme sign with it.
        for stem, scheme_name in (("kpss", "rsapss"), ("kssa", "rsassa")):
            scheme, hname, sig = self.sign(self.path(stem + ".ctx"), msg, "-g", "sha384",
                                           "-s", scheme_name, stem=stem + ".sig")
            T.check((scheme, hname) == (scheme_name, "sha384")
                    and rsa_verify(self.pem_keys[stem], scheme, hname, sig, data),
                    f"{stem}: the {scheme_name}-sha384 signature does not verify")

        # A key made by cryptography, loaded with its private part (tpm2_loadexternal -r).
        self.ext = crypto.rsa.generate_private_key(65537, 2048)
        self.write("ext.pem", self.ext.private_bytes(
            crypto.serialization.Encoding.PEM, crypto.serialization.PrivateFormat.PKCS8,
            crypto.serialization.NoEncryption()))
        self.write("ext-pub.pem", self.ext.public_key().public_bytes(
            crypto.serialization.Encoding.PEM,
            crypto.serialization.PublicFormat.SubjectPublicKeyInfo))
        ext = self.path("ext.ctx")
        self.tool("tpm2_loadexternal", "-C", "n", "-G", "rsa", "-r", self.path("ext.pem"),
                  "-c", ext)
        pub, _, _ = self.readpublic(ext, "ext")
        T.check(pub.n_int == self.ext.public_key().public_numbers().n, "ext: another modulus")
        for extra in ([], ["-s", "rsapss", "-g", "sha384"]):
            scheme, hname, sig = self.sign(ext, msg, *extra, stem="ext.sig")
            T.check(rsa_verify(self.ext.public_key(), scheme, hname, sig, data),
                    f"the LoadExternal key's {scheme}-{hname} signature does not verify")
        # A signature made by cryptography verifies in the TPM (TPMT_SIGNATURE built here).
        self.tool("tpm2_loadexternal", "-C", "o", "-G", "rsa", "-u", self.path("ext-pub.pem"),
                  "-c", self.path("ext-pub.ctx"))
        for scheme, alg, pad in (
                ("rsassa", ALG_RSASSA, crypto.padding.PKCS1v15()),
                ("rsapss", ALG_RSAPSS, crypto.padding.PSS(
                    crypto.padding.MGF1(crypto.hashes.SHA256()), 32))):
            sig = self.ext.sign(data, pad, crypto.hashes.SHA256())
            self.write("py.sig", struct.pack(">HHH", alg, 0x000B, len(sig)) + sig)
            self.tool("tpm2_verifysignature", "-c", self.path("ext-pub.ctx"), "-m", msg,
                      "-s", self.path("py.sig"))
            self.tool("tpm2_verifysignature", "-c", self.path("ext-pub.ctx"), "-m", bad,
                      "-s", self.path("py.sig"), ok=False, expect_rc=RC["SIGNATURE_P2"],
                      case=f"VerifySignature of a cryptography {scheme} signature, modified "
                           "message")
        T.log("ok: 4 tpm2_sign (defaults rsassa-sha256; -g sha384; -s rsapss [-g sha384]; "
              "-f plain; -d digest) verified by cryptography with the PEM key (PKCS#1 v1.5, "
              "PSS salt = digest size), RSASSA deterministic, PSS salted; tpm2_verifysignature "
              "ticket for the owner, 0x2db for a modified message; fixed-scheme keys; a "
              "cryptography key via tpm2_loadexternal -r signs for cryptography, and "
              "cryptography's signatures verify in the TPM (tpm2_loadexternal -u)")

    # --- 5 -----------------------------------------------------------------------------
    def encrypt(self, key_ctx, plain, *extra):
        self.write("pt", plain)
        self.tool("tpm2_rsaencrypt", "-c", key_ctx, *extra, "-o", self.path("ct"),
                  self.path("pt"))
        return self.read("ct")

    def decrypt(self, key_ctx, cipher, *extra, ok=True, case=None, expect_rc=None):
        self.write("ct-in", cipher)
        out = self.path("pt-out")
        if os.path.exists(out):
            os.unlink(out)
        self.tool("tpm2_rsadecrypt", "-c", key_ctx, *extra, "-o", out, self.path("ct-in"),
                  ok=ok, case=case, expect_rc=expect_rc)
        return self.read("pt-out") if ok else None

    def encryption(self):
        k, key = self.path("k.ctx"), self.pem_keys["k"]
        msg = secrets.token_bytes(48)
        # Default scheme: RSAES-PKCS1-v1_5 (randomized padding).
        c1, c2 = self.encrypt(k, msg), self.encrypt(k, msg)
        T.check(len(c1) == 256 and c1 != c2, "tpm2_rsaencrypt (RSAES): not a fresh 256-byte "
                "ciphertext each time")
        for c in (c1, c2):
            T.check(self.decrypt(k, c) == msg, "tpm2_rsadecrypt of tpm2_rsaencrypt's RSAES")
        c = key.encrypt(msg, crypto.padding.PKCS1v15())
        T.check(self.decrypt(k, c) == msg, "RSAES by cryptography: the TPM decrypts otherwise")
        T.check(self.decrypt(k, c, "-s", "rsaes") == msg, "-s rsaes: other plaintext")
        # OAEP with a label (the tools add the terminating zero the TPM requires).
        c = self.encrypt(k, msg, "-s", "oaep", "-l", "vtpm-label")
        T.check(self.decrypt(k, c, "-s", "oaep", "-l", "vtpm-label") == msg, "OAEP round trip")
        c = key.encrypt(msg, oaep("sha256", b"vtpm-label\0"))
        T.check(self.decrypt(k, c, "-s", "oaep", "-l", "vtpm-label") == msg,
                "OAEP-SHA256 by cryptography (label 'vtpm-label\\0'): the TPM decrypts otherwise")
        c = key.encrypt(msg, oaep("sha256", b""))
        T.check(self.decrypt(k, c, "-s", "oaep") == msg, "OAEP without a label")
        self.decrypt(k, key.encrypt(msg, oaep("sha256", b"other\0")), "-s", "oaep",
                     "-l", "vtpm-label", ok=False, case="RSA_Decrypt OAEP, another label",
                     expect_rc=RC["VALUE"] if self.ours else None)
        # NULL: the bare RSA function, checked with pow().
        m = int.from_bytes(secrets.token_bytes(255), "big") | 1
        c = self.encrypt(k, m.to_bytes(256, "big"), "-s", "null")
        T.check(int.from_bytes(c, "big") == pow(m, self.k.e, self.k.n_int),
                "tpm2_rsaencrypt -s null != m^e mod n")
        T.check(self.decrypt(k, c, "-s", "null") == m.to_bytes(256, "big"),
                "tpm2_rsadecrypt -s null: not m")
        # The OAEP-SHA384 key decrypts with its own scheme (NULL in the command).
        ko = self.fixed["koaep"]
        c = ko.key().encrypt(msg, oaep("sha384", b""))
        T.check(self.decrypt(self.path("koaep.ctx"), c, "-s", "null") == msg,
                "the oaep-sha384 key: the TPM decrypts cryptography's OAEP-SHA384 otherwise")
        # The TPM encrypts under cryptography's key; cryptography decrypts.
        ext = self.path("ext-pub.ctx")
        c = self.encrypt(ext, msg)
        T.check(self.ext.decrypt(c, crypto.padding.PKCS1v15()) == msg,
                "cryptography decrypts the TPM's RSAES ciphertext otherwise")
        c = self.encrypt(ext, msg, "-s", "oaep", "-l", "lbl")
        T.check(self.ext.decrypt(c, oaep("sha256", b"lbl\0")) == msg,
                "cryptography decrypts the TPM's OAEP-SHA256 ciphertext otherwise")
        c = self.encrypt(ext, m.to_bytes(256, "big"), "-s", "null")
        T.check(pow(int.from_bytes(c, "big"), self.ext.private_numbers().d,
                    self.ext.public_key().public_numbers().n) == m,
                "the TPM's NULL encryption under cryptography's key: c^d != m")
        # And the key loaded with its private part decrypts what cryptography encrypted.
        c = self.ext.public_key().encrypt(msg, oaep("sha256", b"x\0"))
        T.check(self.decrypt(self.path("ext.ctx"), c, "-s", "oaep", "-l", "x") == msg,
                "tpm2_loadexternal -r key: OAEP decrypt")
        T.log("ok: 5 tpm2_rsaencrypt / tpm2_rsadecrypt: default RSAES (fresh padding each "
              "time), -s oaep -l (label + 0), -s null (= pow(m, e, n)); cryptography's RSAES and "
              "OAEP-SHA256/384 ciphertexts decrypt in the TPM, the TPM's decrypt in "
              "cryptography; another label is refused")

    # --- 6 -----------------------------------------------------------------------------
    def ek_ak(self):
        endorsement = struct.pack(">I", RH_ENDORSEMENT)
        T.check(K.policy_secret("sha256", endorsement) == K.POLICY_A_SHA256, "PolicyA_SHA256")
        ek = None
        for extra in ([], ["-G", "rsa"]):
            self.tool("tpm2_createek", *extra, "-c", self.path("ek.ctx"),
                      "-u", self.path("ek.pub"))
            pub = RsaPublic.from_file(self.path("ek.pub"), "EK")
            what = f"tpm2_createek {' '.join(extra) or '(defaults)'}"
            # TCG EK Credential Profile, template L-1 (RSA 2048, storage, PolicyA).
            T.check(pub.name_alg == "sha256" and pub.attrs == 0x000300B2
                    and pub.policy == K.POLICY_A_SHA256 and pub.sym == (ALG_AES, 128, ALG_CFB)
                    and pub.scheme == ("null", None) and pub.key_bits == 2048
                    and pub.exponent == 0 and len(pub.tpmt) == 314,
                    f"{what}: not the L-1 template: {pub.describe()}")
            pub.check_modulus()
            T.check(ek is None or pub.tpmt == ek.tpmt, f"{what}: another EK")
            ek = pub
        rp, ek_name, _ = self.readpublic(self.path("ek.ctx"), "ek")
        T.check(rp.tpmt == ek.tpmt, "EK: readpublic != -u")
        self.ek = ek
        self.tool("tpm2_createak", "-C", self.path("ek.ctx"), "-c", self.path("ak.ctx"),
                  "-u", self.path("ak.pub"), "-n", self.path("ak.name"))
        ak = RsaPublic.from_file(self.path("ak.pub"), "AK")
        T.check(ak.name_alg == "sha256" and ak.attrs == KEY_ATTRS | RESTRICTED | SIGN
                and ak.scheme == ("rsassa", "sha256") and ak.sym is None,
                f"tpm2_createak (defaults): {ak.describe()}")
        ak.check_modulus()
        T.check(self.read("ak.name") == ak.name, "tpm2_createak -n != nameAlg ‖ H(ak.pub)")
        rp, _, qname = self.readpublic(self.path("ak.ctx"), "ak")
        T.check(rp.tpmt == ak.tpmt, "AK: readpublic != -u")
        T.check(qname == K.qualified_name(K.qualified_name(endorsement, ek_name), ak.name),
                "AK: qualified name != H(QN(EK) ‖ name)")
        self.ak, self.ak_qname = ak, qname

        secret = secrets.token_bytes(32)
        self.write("secret", secret)
        self.tool("tpm2_makecredential", "-u", self.path("ek.pub"), "-s", self.path("secret"),
                  "-n", ak.name.hex(), "-o", self.path("cred-tpm"))
        T.tool("none", "tpm2_makecredential", "-T", "none", "-u", self.path("ek.pub"),
               "-s", self.path("secret"), "-n", ak.name.hex(), "-o", self.path("cred-offline"))
        self.write("cred-python", make_credential(ek, ak.name, secret))
        for blob in ("cred-tpm", "cred-offline", "cred-python"):
            r = K.Reader(self.read(blob), blob)
            T.check(r.u32() == K.CONTEXT_MAGIC and r.u32() == 1, f"{blob}: not a tools blob")
            r.b2b()
            T.check(len(r.b2b()) == 256, f"{blob}: the encrypted seed is not 256 bytes")
            r.end()
            got = self.activate(self.path(blob))
            T.check(got == secret, f"tpm2_activatecredential of {blob}: {got.hex()}")
        bad = bytearray(self.read("cred-python"))
        bad[-100] ^= 0x01
        self.write("cred-bad", bad)
        self.activate(self.path("cred-bad"), ok=False,
                      case="ActivateCredential, encrypted seed tampered (OAEP fails)",
                      expect_rc=RC["VALUE_P2"] if self.ours else None)
        T.log("ok: 6 tpm2_createek (defaults and -G rsa): the L-1 template (sha256, 0x300b2, "
              "PolicyA, AES-128-CFB, RSA-2048, 314 B), deterministic; tpm2_createak "
              "(defaults): restricted rsassa-sha256 AK, names and QN recomputed; "
              "makecredential by the TPM, -T none and Python (OAEP 'IDENTITY\\0') activate "
              "to the secret through the EK policy session; a tampered seed is refused")

    def activate(self, blob, ok=True, case=None, expect_rc=None):
        s = self.path("session.ctx")
        self.tool("tpm2_startauthsession", "--policy-session", "-S", s, flush=False)
        self.tool("tpm2_policysecret", "-S", s, "-c", "e", flush=False)
        out = self.path("activated")
        if os.path.exists(out):
            os.unlink(out)
        try:
            self.tool("tpm2_activatecredential", "-c", self.path("ak.ctx"),
                      "-C", self.path("ek.ctx"), "-i", blob, "-o", out,
                      "-P", f"session:{s}", ok=ok, case=case, expect_rc=expect_rc)
        finally:
            T.tool(self.tcti, "tpm2_flushcontext", s, ok=None)
        return self.read("activated") if ok else None

    # --- 7 -----------------------------------------------------------------------------
    def verify_attest(self, stem, what):
        att = Attest(self.read(stem + ".msg"), what)
        scheme, hname, sig = parse_signature(self.read(stem + ".sig"), what + " signature")
        T.check((scheme, hname) == ("rsassa", "sha256"), f"{what}: {scheme}-{hname}")
        T.check(rsa_verify(self.ak.key(), scheme, hname, sig, self.read(stem + ".msg")),
                f"{what}: cryptography rejects the AK's signature")
        T.check(att.signer == self.ak_qname, f"{what}: qualifiedSigner != the AK's QN")
        return att

    def attestation(self):
        ak, ak_pub = self.path("ak.ctx"), self.path("ak.pub")
        x = h("sha256", b"rsa-quote")
        self.tool("tpm2_pcrextend", f"16:sha256={x.hex()}", flush=False)
        nonce = secrets.token_bytes(20)
        pcrs = "sha256:0,1,2,16+sha384:16"
        self.tool("tpm2_quote", "-c", ak, "-l", pcrs, "-q", nonce.hex(), "-m",
                  self.path("q.msg"), "-s", self.path("q.sig"), "-o", self.path("q.pcrs"))
        self.tool("tpm2_checkquote", "-u", ak_pub, "-m", self.path("q.msg"), "-s",
                  self.path("q.sig"), "-f", self.path("q.pcrs"), "-q", nonce.hex(), flush=False)
        self.tool("tpm2_checkquote", "-u", ak_pub, "-m", self.path("q.msg"), "-s",
                  self.path("q.sig"), "-f", self.path("q.pcrs"), "-q", "00" + nonce.hex()[2:],
                  ok=False, flush=False)
        att = self.verify_attest("q", "tpm2_quote")
        T.check(att.type == ST_ATTEST_QUOTE and att.extra == nonce, "quote: type / nonce")
        T.check(att.selection == [("sha256", [0, 1, 2, 16]), ("sha384", [16])],
                f"quote selection {att.selection}")
        values = T.parse_pcrread(self.tool("tpm2_pcrread", pcrs, flush=False).text)
        blob = b"".join(values[b][i] for b, idxs in att.selection for i in idxs)
        T.check(att.pcr_digest == h("sha256", blob), "quote pcrDigest != H(tpm2_pcrread values)")

        self.tool("tpm2_certify", "-c", self.path("k.ctx"), "-C", ak, "-g", "sha256",
                  "-o", self.path("c.msg"), "-s", self.path("c.sig"))
        att = self.verify_attest("c", "tpm2_certify")
        T.check(att.type == ST_ATTEST_CERTIFY and att.name == self.k.name,
                "certify: not the certified key's name")
        T.check(att.qualified_name == self.read("k.qname"), "certify: not the key's QN")

        q = secrets.token_bytes(16)
        self.tool("tpm2_gettime", "-c", ak, "-q", q.hex(), "-o", self.path("t.sig"),
                  "--attestation", self.path("t.msg"))
        att = self.verify_attest("t", "tpm2_gettime")
        T.check(att.type == ST_ATTEST_TIME and att.extra == q and att.time > 0
                and att.time_clock >= att.clock - 1000, "gettime: type / qualifying data / time")
        T.log("ok: 7 tpm2_quote (RSA AK, sha256:0,1,2,16+sha384:16) passes tpm2_checkquote and "
              "fails with another nonce; pcrDigest = H(pcrread); tpm2_certify of k (name, QN) "
              "and tpm2_gettime (qualifying data, time): TPMS_ATTEST parsed, RSASSA-SHA256 "
              "signatures verified by cryptography, qualifiedSigner = the AK's QN")

    # --- 8 -----------------------------------------------------------------------------
    def salted_sessions(self):
        data = secrets.token_bytes(32)
        self.tool("tpm2_create", "-C", self.p, "-i", self.write("sealed", data),
                  "-c", self.path("seal.ctx"))
        for label, key in (("the RSA storage primary", self.p),
                           ("the RSA EK", self.path("ek.ctx"))):
            s = self.path("salted.ctx")
            self.tool("tpm2_startauthsession", "--hmac-session", "--tpmkey-context", key,
                      "-S", s, flush=False)
            try:
                self.tool("tpm2_sessionconfig", s, "--enable-encrypt", flush=False)
                rnd = self.tool("tpm2_getrandom", "-S", s, "16", "--hex", flush=False)
                T.check(len(bytes.fromhex(rnd.text.strip())) == 16, "getrandom -S salted")
                out = self.tool("tpm2_unseal", "-c", self.path("seal.ctx"), "-p",
                                f"session:{s}", flush=False).stdout
                T.check(out == data, f"tpm2_unseal through the session salted with {label}")
            finally:
                T.tool(self.tcti, "tpm2_flushcontext", s, ok=None)
                self.flush()
        T.log("ok: 8 tpm2_startauthsession --tpmkey-context (salt OAEP-encrypted to the RSA "
              "storage primary, then to the RSA EK): tpm2_getrandom with response encryption "
              "and tpm2_unseal through the salted session (ESYS verifies the response HMACs "
              "keyed with the salt)")


def load_crypto():
    """Import `cryptography` (a Skip if it is missing) for this module and keys.py."""
    global crypto
    try:
        import types
        from cryptography import exceptions as cexc
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    except ImportError as e:
        raise T.Skip(f"python3-cryptography missing ({e}): apt-get install python3-cryptography")
    try:  # cryptography ≥ 47 moved CFB here (and warns on the old name)
        from cryptography.hazmat.decrepit.ciphers.modes import CFB
    except ImportError:
        CFB = modes.CFB
    crypto = types.SimpleNamespace(rsa=rsa, padding=padding, utils=utils, hashes=hashes,
                                   serialization=serialization, Cipher=Cipher,
                                   algorithms=algorithms, CFB=CFB,
                                   InvalidSignature=cexc.InvalidSignature)
    K.crypto = crypto
    return crypto


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tcti", required=True,
                    help="mssim:host=H,port=P | swtpm:host=H,port=P | spawn:swtpm | "
                         "spawn:host-sim[=PATH]")
    ap.add_argument("--ours", action="store_true", help="also check vTPM-specific rules")
    args = ap.parse_args()
    T.require_programs("tpm2_startup", "tpm2_createprimary", "tpm2_create", "tpm2_load",
                       "tpm2_sign", "tpm2_verifysignature", "tpm2_rsaencrypt",
                       "tpm2_rsadecrypt", "tpm2_loadexternal", "tpm2_createek",
                       "tpm2_createak", "tpm2_makecredential", "tpm2_activatecredential",
                       "tpm2_quote", "tpm2_checkquote", "tpm2_certify", "tpm2_gettime",
                       "tpm2_startauthsession", "tpm2_sessionconfig", "tpm2_testparms")
    load_crypto()
    with open_target(args.tcti) as tcti, tempfile.TemporaryDirectory(prefix="vtpm-rsa-") as d:
        T.require_tcti_library(T.Tcti(tcti).kind)
        T.log(f"rsa: TCTI {tcti}")
        Rsa(tcti, args.ours, d).run()


if __name__ == "__main__":
    T.run_main(main)
