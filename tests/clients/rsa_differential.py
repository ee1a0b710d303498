#!/usr/bin/python3
"""Differential test of RSA-2048: bad RSA inputs as raw commands, our TPM against swtpm 0.7.1
(libtpms 0.9.2), the response codes must be equal.

    /usr/bin/python3 tests/clients/rsa_differential.py --tcti mssim:host=127.0.0.1,port=N
        [--ref-tcti swtpm:host=127.0.0.1,port=M]      # default: spawn:swtpm (a fresh one)
        [--accept-libtpms-divergences]                 # when --tcti is swtpm too

The same commands go to both TPMs (Microsoft-simulator framing). Keys the TPMs make differ
(their seeds differ), so every ciphertext, salt, credential and signature is computed here
with the public key that TPM returned (`cryptography` for OAEP / PKCS#1 v1.5, pow() for the
bare RSA function and the broken paddings); a key made by `cryptography` is loaded with
LoadExternal into both. Cases:

  - RSA_Decrypt: a ciphertext of 255 bytes, one ≥ n (RSAES and NULL), bad OAEP and RSAES
    padding, another label, a label without its terminating zero, a restricted key, a
    signing key, the key's OAEP scheme against inScheme RSAES, a signing scheme as inScheme;
  - RSA_Encrypt: a message too long for OAEP-SHA256 and for RSAES, NULL with a value ≥ n,
    257 and 385 bytes, a label without its zero, a signing key; a restricted key and
    leading zeros (both accepted);
  - Sign / VerifySignature: an ECDSA scheme for an RSA key, NULL with a NULL-scheme key,
    RSAPSS / RSASSA-SHA384 against an RSASSA-SHA256 key, a digest of the wrong size; an
    RSAPSS signature relabelled RSASSA, one of 255 bytes, a tampered one, one ≥ n, another
    hash, an ECDSA signature on an RSA key;
  - LoadExternal of an RSA key: a 255-byte modulus, its top bit clear, exponent 3 and 5
    (< 7), a prime that does not divide n, a prime of the wrong size, a restricted key with
    its private part; the good key with and without its prime (accepted);
  - CreatePrimary: exponent 3, 65535, 65537 (explicit), 65539, 65541; keyBits 1024, 2047,
    3072, 4096; schemes that do not fit the key (OAEP / RSASSA on a storage key, RSASSA on a
    decryption key, OAEP on a signing key, ECDSA); a unique field of 100 and 257 bytes;
  - TestParms: RSA-2048 parameters (accepted, exponent 3 too), RSA-1024, RSA-4096, an ECDSA
    scheme, OAEP with SHA-1;
  - StartAuthSession salted with an RSA key: a good salt (accepted), a random one, one of
    255 bytes, an empty one, a public-only key, a signing key;
  - ActivateCredential under an RSA storage key: a good credential (accepted, the secret
    checked), the encrypted seed tampered, of 255 bytes, a seed longer than the nameAlg
    digest, the integrity HMAC tampered, another object as the credentialed key.

Every case names its expected answer: the reference implementation's
(microsoft/ms-tpm-20-ref), or ours where our vTPM is limited by design (key sizes,
exponents). Where swtpm is known to answer otherwise, ours must give the expected answer
and need not equal swtpm's; `--accept-libtpms-divergences` lets a swtpm under test answer
as swtpm does. The known divergences, listed in the output:
  - libtpms 0.9.2 runs RSA through OpenSSL and turns every EVP_PKEY_encrypt /
    EVP_PKEY_decrypt failure into TPM_RC_FAILURE (src/tpm2/crypto/openssl/CryptRsa.c): a
    value ≥ n (the reference's RSAEP / RSADP: TPM_RC_SIZE), a message too long for OAEP or
    RSAES and bad OAEP / RSAES padding or another label (OaepEncode, RSAES_PKCS1v1_5Encode,
    OaepDecode, RSAES_Decode: TPM_RC_VALUE) answer 0x101, and so does ActivateCredential
    with a tampered seed (the reference: TPM_RC_VALUE at parameter 2).
  - Key sizes (ours, by design): RSA-2048 only; libtpms also implements 1024 and 3072, so
    swtpm makes those keys where ours answers TPM_RC_VALUE (TPMI_RSA_KEY_BITS), and its
    TPM2B_PUBLIC_KEY_RSA holds 384 bytes where ours holds 256 (TPM_RC_SIZE here).
  - Exponents (ours, by design): keys are generated only with 2^16 + 1; the reference and
    libtpms accept any prime exponent ≥ 65537, so CreatePrimary with 65539 is TPM_RC_RANGE
    here (the reference's answer for one below 65537 or not prime).

Exit status: 0 identical (up to the listed divergences), 1 a difference or failure, 77 a
prerequisite is missing.
"""

import argparse
import hashlib
import hmac
import os
import secrets
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keys as K  # noqa: E402
import rsa as R  # noqa: E402
import tpmlib as T  # noqa: E402
from keys_differential import Target, b2, create_primary  # noqa: E402
from servers import open_target  # noqa: E402
from tpmlib import PW, build  # noqa: E402

RH_OWNER, RH_ENDORSEMENT, RH_NULL = 0x40000001, 0x4000000B, 0x40000007
CC = {"RSA_Encrypt": 0x174, "RSA_Decrypt": 0x159, "Sign": 0x15D, "VerifySignature": 0x177,
      "LoadExternal": 0x167, "StartAuthSession": 0x176, "ActivateCredential": 0x147,
      "FlushContext": 0x165, "TestParms": 0x18A}
ALG_RSA, ALG_SHA256, ALG_SHA384, ALG_NULL = 0x0001, 0x000B, 0x000C, 0x0010
ALG_RSASSA, ALG_RSAES, ALG_RSAPSS, ALG_OAEP, ALG_ECDSA = 0x14, 0x15, 0x16, 0x17, 0x18
AES128CFB = struct.pack(">HHH", 0x0006, 128, 0x0043)
NULL_SYM = struct.pack(">H", ALG_NULL)
NULL_TICKET = bytes.fromhex("8024400000070000")

STORAGE = 0x00030072    # restricted | decrypt | fixedTPM | fixedParent | sdo | userWithAuth
DECRYPTER = 0x00020072  # decrypt
SIGNER = 0x00040072     # sign

# Response codes by name (Part 2 §6.6); positions are added where a case expects one.
RCS = {"SUCCESS": 0x000, "FAILURE": 0x101, "ATTRIBUTES": 0x082, "HASH": 0x083, "VALUE": 0x084,
       "HANDLE": 0x08B, "KEY_SIZE": 0x087, "RANGE": 0x08D, "SCHEME": 0x092, "SIZE": 0x095,
       "SIGNATURE": 0x09B, "KEY": 0x09C, "INTEGRITY": 0x09F, "BINDING": 0x0A5}


def rc_of(text):
    """'VALUE@P2' → 0x2C4, 'ATTRIBUTES@H1' → 0x182, 'SIZE' → 0x095."""
    name, _, pos = text.partition("@")
    rc = RCS[name]
    if pos:
        kind, n = pos[0], int(pos[1:])
        rc |= {"P": 0x040 | n << 8, "H": n << 8, "S": 0x800 | n << 8}[kind]
    return rc


def rc_text(rc):
    if rc is None:
        return "-"
    for name, base in RCS.items():
        for pos in ("", "@P1", "@P2", "@P3", "@H1", "@H2"):
            if rc_of(name + pos) == rc:
                return f"{rc:#05x} {name}{pos}"
    return f"{rc:#05x}"


# Known divergences: why ours answers as the reference implementation and swtpm does not.
OPENSSL = ("libtpms 0.9.2 turns every EVP_PKEY_encrypt / EVP_PKEY_decrypt failure into "
           "TPM_RC_FAILURE (openssl/CryptRsa.c CryptRsaEncrypt / CryptRsaDecrypt); the "
           "reference's RSAEP / RSADP answer TPM_RC_SIZE for a value ≥ n, OaepEncode / "
           "RSAES_PKCS1v1_5Encode TPM_RC_VALUE for a message too long, OaepDecode / "
           "RSAES_Decode TPM_RC_VALUE for bad padding")
KEY_SIZES = ("RSA key sizes: ours implements 2048 bits only, libtpms also 1024 and 3072 "
             "(TPMI_RSA_KEY_BITS: TPM_RC_VALUE for a size the TPM does not implement; "
             "TPM2B_PUBLIC_KEY_RSA holds MAX_RSA_KEY_BYTES, 256 here and 384 in libtpms)")
EXPONENTS = ("RSA exponents: ours generates keys only with 2^16 + 1 (TPM_RC_RANGE otherwise, "
             "as the reference does for one below 65537 or not prime); libtpms accepts any "
             "prime exponent ≥ 65537")


def u16(v):
    return struct.pack(">H", v)


def scheme(alg, hash_alg=None):
    return u16(alg) + (u16(hash_alg) if hash_alg is not None else b"")


def rsa_template(attrs, sym=NULL_SYM, sch=scheme(ALG_NULL), key_bits=2048, exponent=0,
                 unique=b"", name_alg=ALG_SHA256):
    return (struct.pack(">HHI", ALG_RSA, name_alg, attrs) + b2(b"") + sym + sch
            + struct.pack(">HI", key_bits, exponent) + b2(unique))


def tpm2b_param(rsp):
    """The first response parameter, a TPM2B, of a response with sessions and no handle."""
    (n,) = struct.unpack(">H", rsp[14:16])
    return rsp[16:16 + n]


def public_of(out, what):
    """The RsaPublic in a CreatePrimary / ReadPublic-like response after handle + paramSize."""
    (n,) = struct.unpack(">H", out[18:20])
    return R.RsaPublic(out[20:20 + n], what)


def oaep_pad(hname, label, message, k=256):
    """EME-OAEP encoding (RFC 8017 §7.1.1) done here, so that it can be broken on purpose."""
    hlen = hashlib.new(hname).digest_size
    lhash = hashlib.new(hname, label).digest()
    db = lhash + bytes(k - len(message) - 2 * hlen - 2) + b"\x01" + message
    seed = secrets.token_bytes(hlen)
    db_mask = mgf1(hname, seed, k - hlen - 1)
    masked_db = bytes(a ^ b for a, b in zip(db, db_mask))
    seed_mask = mgf1(hname, masked_db, hlen)
    return b"\x00" + bytes(a ^ b for a, b in zip(seed, seed_mask)) + masked_db


def mgf1(hname, seed, length):
    out, i = b"", 0
    while len(out) < length:
        out += hashlib.new(hname, seed + struct.pack(">I", i)).digest()
        i += 1
    return out[:length]


def raw_encrypt(pub, em):
    """The bare RSA function on a 256-byte encoded message."""
    return pow(int.from_bytes(em, "big"), pub.e, pub.n_int).to_bytes(256, "big")


class RTarget(Target):
    def __init__(self, label, tcti):
        super().__init__(label, tcti)
        self.rows = []

    def case(self, name, expect, rc, divergence=None, extra=None):
        """expect: 'NAME[@Pn|@Hn]' (the specification's answer). divergence: why libtpms is
        known to answer otherwise; ours must then give `expect`."""
        self.rows.append((name, rc_of(expect), rc, divergence, extra))
        return rc

    def send(self, name, expect, cmd, divergence=None, flush_handle=False):
        out = self.run(cmd)
        if out.rc == 0 and flush_handle:  # an object or session made by an accepted case
            self.flush(struct.unpack(">I", out.data[10:14])[0])
        return self.case(name, expect, out.rc, divergence), out

    def rsa_primary(self, hierarchy, template):
        out = self.ok(create_primary(hierarchy, template), "CreatePrimary (RSA)")
        return struct.unpack(">I", out[10:14])[0], public_of(out, f"[{self.label}] primary")


def decrypt_cmd(key, ct, sch=scheme(ALG_NULL), label=b""):
    return build(T.ST_SESSIONS, CC["RSA_Decrypt"], [key], [PW], b2(ct) + sch + b2(label))


def encrypt_cmd(key, msg, sch=scheme(ALG_NULL), label=b""):
    return build(T.ST_NO_SESSIONS, CC["RSA_Encrypt"], [key], params=b2(msg) + sch + b2(label))


def sign_cmd(key, digest, sch):
    return build(T.ST_SESSIONS, CC["Sign"], [key], [PW], b2(digest) + sch + NULL_TICKET)


def verify_cmd(key, digest, sig):
    return build(T.ST_NO_SESSIONS, CC["VerifySignature"], [key], params=b2(digest) + sig)


def rsa_sig(alg, hash_alg, sig):
    return struct.pack(">HH", alg, hash_alg) + b2(sig)


def decrypt_cases(t):
    d, dp = t.rsa_primary(RH_OWNER, rsa_template(DECRYPTER))
    dk = dp.key()
    msg = b"differential RSA message"
    ok_oaep = dk.encrypt(msg, R.oaep("sha256", b"label\0"))
    rc, out = t.send("RSA_Decrypt: OAEP-SHA256 with its label (accepted)", "SUCCESS",
                     decrypt_cmd(d, ok_oaep, scheme(ALG_OAEP, ALG_SHA256), b"label\0"))
    T.check(rc != 0 or tpm2b_param(out.data) == msg, f"[{t.label}] OAEP decrypt: wrong data")
    t.send("RSA_Decrypt: a ciphertext of 255 bytes", "SIZE",
           decrypt_cmd(d, ok_oaep[1:], scheme(ALG_OAEP, ALG_SHA256), b"label\0"))
    t.send("RSA_Decrypt (RSAES): a ciphertext ≥ n", "SIZE",
           decrypt_cmd(d, dp.n, scheme(ALG_RSAES)), divergence=OPENSSL)
    t.send("RSA_Decrypt (NULL): a ciphertext ≥ n", "SIZE",
           decrypt_cmd(d, b"\xff" * 256, scheme(ALG_NULL)), divergence=OPENSSL)
    bad = bytearray(oaep_pad("sha256", b"", msg))
    bad[40] ^= 0x01  # inside maskedDB: lHash' ≠ lHash
    t.send("RSA_Decrypt (OAEP): bad padding (lHash)", "VALUE",
           decrypt_cmd(d, raw_encrypt(dp, bad), scheme(ALG_OAEP, ALG_SHA256)),
           divergence=OPENSSL)
    em = b"\x00\x02" + b"\x11" * 253 + b"\x01"  # no zero after the padding string
    t.send("RSA_Decrypt (RSAES): bad padding (no zero separator)", "VALUE",
           decrypt_cmd(d, raw_encrypt(dp, em), scheme(ALG_RSAES)), divergence=OPENSSL)
    t.send("RSA_Decrypt (OAEP): another label", "VALUE",
           decrypt_cmd(d, ok_oaep, scheme(ALG_OAEP, ALG_SHA256), b"other\0"),
           divergence=OPENSSL)
    t.send("RSA_Decrypt (OAEP): label without its terminating zero", "VALUE@P3",
           decrypt_cmd(d, ok_oaep, scheme(ALG_OAEP, ALG_SHA256), b"label"))
    t.send("RSA_Decrypt: a signing scheme (RSASSA) as inScheme", "VALUE@P2",
           decrypt_cmd(d, ok_oaep, scheme(ALG_RSASSA, ALG_SHA256)))
    t.send("RSA_Decrypt (NULL): a value < n (accepted)", "SUCCESS",
           decrypt_cmd(d, b"\x00" + b"\x42" * 255))

    # RSA_Encrypt with the same key.
    t.send("RSA_Encrypt (OAEP-SHA256): 191 bytes (max 190)", "VALUE",
           encrypt_cmd(d, b"\x01" * 191, scheme(ALG_OAEP, ALG_SHA256)), divergence=OPENSSL)
    t.send("RSA_Encrypt (OAEP-SHA256): 190 bytes (accepted)", "SUCCESS",
           encrypt_cmd(d, b"\x01" * 190, scheme(ALG_OAEP, ALG_SHA256)))
    t.send("RSA_Encrypt (RSAES): 246 bytes (max 245)", "VALUE",
           encrypt_cmd(d, b"\x01" * 246, scheme(ALG_RSAES)), divergence=OPENSSL)
    t.send("RSA_Encrypt (NULL): a value ≥ n", "SIZE", encrypt_cmd(d, b"\xff" * 256),
           divergence=OPENSSL)
    t.send("RSA_Encrypt (NULL): 257 bytes (a leading zero)", "SIZE@P1",
           encrypt_cmd(d, b"\x00" + b"\x42" * 256), divergence=KEY_SIZES)
    t.send("RSA_Encrypt (NULL): 385 bytes", "SIZE@P1", encrypt_cmd(d, b"\x00" * 385))
    t.send("RSA_Encrypt (NULL): 3 leading zeros + 253 bytes (accepted)", "SUCCESS",
           encrypt_cmd(d, b"\x00" * 3 + b"\x42" * 253))
    t.send("RSA_Encrypt (OAEP): label without its terminating zero", "VALUE@P3",
           encrypt_cmd(d, msg, scheme(ALG_OAEP, ALG_SHA256), b"label"))
    t.flush(d)

    do, dop = t.rsa_primary(RH_OWNER, rsa_template(DECRYPTER, sch=scheme(ALG_OAEP, ALG_SHA256)))
    ct = dop.key().encrypt(msg, R.oaep("sha256", b""))
    t.send("RSA_Decrypt: key scheme OAEP, inScheme RSAES", "SCHEME@P2",
           decrypt_cmd(do, ct, scheme(ALG_RSAES)))
    t.send("RSA_Decrypt: key scheme OAEP-SHA256, inScheme OAEP-SHA384", "SCHEME@P2",
           decrypt_cmd(do, ct, scheme(ALG_OAEP, ALG_SHA384)))
    t.send("RSA_Decrypt: key scheme OAEP, inScheme NULL (accepted)", "SUCCESS",
           decrypt_cmd(do, ct))
    t.flush(do)

    st, stp = t.rsa_primary(RH_OWNER, rsa_template(STORAGE, sym=AES128CFB))
    ct = stp.key().encrypt(msg, R.oaep("sha256", b""))
    t.send("RSA_Decrypt with a restricted decryption key", "ATTRIBUTES@H1",
           decrypt_cmd(st, ct, scheme(ALG_OAEP, ALG_SHA256)))
    t.send("RSA_Encrypt with a restricted decryption key (accepted)", "SUCCESS",
           encrypt_cmd(st, msg, scheme(ALG_OAEP, ALG_SHA256)))
    t.flush(st)


def signature_cases(t):
    s, sp = t.rsa_primary(RH_OWNER, rsa_template(SIGNER))
    digest = hashlib.sha256(b"signed").digest()
    t.send("Sign: ECDSA-SHA256 scheme with an RSA key", "SCHEME@P2",
           sign_cmd(s, digest, scheme(ALG_ECDSA, ALG_SHA256)))
    t.send("Sign: scheme NULL with a NULL-scheme RSA key", "SCHEME@P2",
           sign_cmd(s, digest, scheme(ALG_NULL)))
    t.send("Sign (RSASSA-SHA256): a digest of 20 bytes", "SIZE@P1",
           sign_cmd(s, digest[:20], scheme(ALG_RSASSA, ALG_SHA256)))
    out = t.ok(sign_cmd(s, digest, scheme(ALG_RSAPSS, ALG_SHA256)), "Sign (RSAPSS)")
    pss = out[14:]  # TPMT_SIGNATURE after handle-less header + paramSize
    (n,) = struct.unpack(">H", pss[4:6])
    pss_sig = pss[6:6 + n]
    out = t.ok(sign_cmd(s, digest, scheme(ALG_RSASSA, ALG_SHA256)), "Sign (RSASSA)")
    ssa_sig = out[20:20 + struct.unpack(">H", out[18:20])[0]]
    T.check(R.rsa_verify(sp.key(), "rsassa", "sha256", ssa_sig, digest, prehashed=True),
            f"[{t.label}] RSASSA signature does not verify in cryptography")
    T.check(R.rsa_verify(sp.key(), "rsapss", "sha256", pss_sig, digest, prehashed=True),
            f"[{t.label}] RSAPSS signature does not verify in cryptography")
    t.send("VerifySignature: RSASSA-SHA256 (accepted)", "SUCCESS",
           verify_cmd(s, digest, rsa_sig(ALG_RSASSA, ALG_SHA256, ssa_sig)))
    t.send("VerifySignature: RSAPSS signature labelled RSASSA", "SIGNATURE@P2",
           verify_cmd(s, digest, rsa_sig(ALG_RSASSA, ALG_SHA256, pss_sig)))
    t.send("VerifySignature: RSASSA signature labelled RSAPSS", "SIGNATURE@P2",
           verify_cmd(s, digest, rsa_sig(ALG_RSAPSS, ALG_SHA256, ssa_sig)))
    t.send("VerifySignature: a signature of 255 bytes", "SIGNATURE@P2",
           verify_cmd(s, digest, rsa_sig(ALG_RSASSA, ALG_SHA256, ssa_sig[1:])))
    tampered = bytearray(ssa_sig)
    tampered[100] ^= 0x04
    t.send("VerifySignature: a tampered RSASSA signature", "SIGNATURE@P2",
           verify_cmd(s, digest, rsa_sig(ALG_RSASSA, ALG_SHA256, bytes(tampered))))
    tampered = bytearray(pss_sig)
    tampered[-1] ^= 0x01
    t.send("VerifySignature: a tampered RSAPSS signature", "SIGNATURE@P2",
           verify_cmd(s, digest, rsa_sig(ALG_RSAPSS, ALG_SHA256, bytes(tampered))))
    t.send("VerifySignature: a signature ≥ n", "SIGNATURE@P2",
           verify_cmd(s, digest, rsa_sig(ALG_RSASSA, ALG_SHA256, b"\xff" * 256)))
    t.send("VerifySignature: RSASSA-SHA256 signature labelled SHA-384 (48-byte digest)",
           "SIGNATURE@P2", verify_cmd(s, hashlib.sha384(b"signed").digest(),
                                      rsa_sig(ALG_RSASSA, ALG_SHA384, ssa_sig)))
    t.send("VerifySignature: an ECDSA signature on an RSA key", "SCHEME@P2",
           verify_cmd(s, digest, struct.pack(">HH", ALG_ECDSA, ALG_SHA256)
                      + b2(b"\x01" * 32) + b2(b"\x01" * 32)))
    t.send("RSA_Decrypt with a signing key", "ATTRIBUTES@H1",
           decrypt_cmd(s, ssa_sig, scheme(ALG_RSAES)))
    t.send("RSA_Encrypt with a signing key", "ATTRIBUTES@H1",
           encrypt_cmd(s, b"m", scheme(ALG_RSAES)))
    t.flush(s)

    ss, _ = t.rsa_primary(RH_OWNER, rsa_template(SIGNER, sch=scheme(ALG_RSASSA, ALG_SHA256)))
    t.send("Sign: key scheme RSASSA-SHA256, inScheme RSAPSS-SHA256", "SCHEME@P2",
           sign_cmd(ss, digest, scheme(ALG_RSAPSS, ALG_SHA256)))
    t.send("Sign: key scheme RSASSA-SHA256, inScheme RSASSA-SHA384", "SCHEME@P2",
           sign_cmd(ss, hashlib.sha384(b"x").digest(), scheme(ALG_RSASSA, ALG_SHA384)))
    t.send("Sign: key scheme RSASSA-SHA256, inScheme NULL (accepted)", "SUCCESS",
           sign_cmd(ss, digest, scheme(ALG_NULL)))
    t.flush(ss)


def external_public(n, attrs=0x00060040, exponent=0, key_bits=2048):
    return rsa_template(attrs, key_bits=key_bits, exponent=exponent, unique=n)


def rsa_sensitive(prime):
    return b2(struct.pack(">H", ALG_RSA) + b2(b"") + b2(b"") + b2(prime))


def load_external(private, public, hierarchy=RH_NULL):
    return build(T.ST_NO_SESSIONS, CC["LoadExternal"],
                 params=private + b2(public) + struct.pack(">I", hierarchy))


def load_external_cases(t, ext):
    nums = ext.private_numbers()
    n = nums.public_numbers.n.to_bytes(256, "big")
    p = nums.p.to_bytes(128, "big")
    none = b2(b"")
    t.send("LoadExternal: the key, public only (accepted)", "SUCCESS",
           load_external(none, external_public(n)), flush_handle=True)
    t.send("LoadExternal: the key with its prime (accepted)", "SUCCESS",
           load_external(rsa_sensitive(p), external_public(n)), flush_handle=True)
    t.send("LoadExternal: a 255-byte modulus for keyBits 2048", "KEY@P2",
           load_external(none, external_public(n[1:])))
    t.send("LoadExternal: the modulus' top bit clear", "KEY@P2",
           load_external(none, external_public(bytes([n[0] & 0x7F]) + n[1:])))
    t.send("LoadExternal: exponent 3", "VALUE@P2",
           load_external(none, external_public(n, exponent=3)))
    t.send("LoadExternal: exponent 5, with the prime", "VALUE@P2",
           load_external(rsa_sensitive(p), external_public(n, exponent=5)))
    t.send("LoadExternal: exponent 7, public only (accepted)", "SUCCESS",
           load_external(none, external_public(n, exponent=7)), flush_handle=True)
    other = (nums.p + 2).to_bytes(128, "big")
    t.send("LoadExternal: a prime that does not divide n", "BINDING",
           load_external(rsa_sensitive(other), external_public(n)))
    t.send("LoadExternal: a prime of 127 bytes", "KEY_SIZE@P1",
           load_external(rsa_sensitive(p[1:]), external_public(n)))
    t.send("LoadExternal: a 128-byte prime with its top bit clear", "KEY_SIZE@P1",
           load_external(rsa_sensitive(b"\x01" + p[1:]), external_public(n)))
    t.send("LoadExternal: restricted, with the prime", "ATTRIBUTES@P2",
           load_external(rsa_sensitive(p), external_public(n, attrs=0x00030040)))


def primary_cases(t):
    for what, exponent, expect, why in (
            ("exponent 3", 3, "RANGE", None),
            ("exponent 65535", 65535, "RANGE", None),
            ("exponent 65537 given explicitly (accepted)", 65537, "SUCCESS", None),
            ("exponent 65539 (prime)", 65539, "RANGE", EXPONENTS),
            ("exponent 65541 (not prime)", 65541, "RANGE", None)):
        t.send(f"CreatePrimary RSA: {what}", expect,
               create_primary(RH_OWNER, rsa_template(SIGNER, exponent=exponent)),
               divergence=why, flush_handle=True)
    for bits, expect, why in ((1024, "VALUE@P2", KEY_SIZES), (3072, "VALUE@P2", KEY_SIZES),
                              (4096, "VALUE@P2", None), (2047, "VALUE@P2", None)):
        t.send(f"CreatePrimary RSA: keyBits {bits}", expect,
               create_primary(RH_OWNER, rsa_template(SIGNER, key_bits=bits)),
               divergence=why, flush_handle=True)
    for what, template, expect, why in (
            ("storage key with scheme OAEP-SHA256",
             rsa_template(STORAGE, sym=AES128CFB, sch=scheme(ALG_OAEP, ALG_SHA256)), "SCHEME@P2",
             None),
            ("storage key with scheme RSASSA-SHA256",
             rsa_template(STORAGE, sym=AES128CFB, sch=scheme(ALG_RSASSA, ALG_SHA256)),
             "SCHEME@P2", None),
            ("decryption key with scheme RSASSA-SHA256",
             rsa_template(DECRYPTER, sch=scheme(ALG_RSASSA, ALG_SHA256)), "SCHEME@P2", None),
            ("signing key with scheme OAEP-SHA256",
             rsa_template(SIGNER, sch=scheme(ALG_OAEP, ALG_SHA256)), "SCHEME@P2", None),
            ("signing key with scheme ECDSA-SHA256",
             rsa_template(SIGNER, sch=scheme(ALG_ECDSA, ALG_SHA256)), "VALUE@P2", None),
            ("restricted signing key with scheme RSAPSS-SHA384 (accepted)",
             rsa_template(0x00050072, sch=scheme(ALG_RSAPSS, ALG_SHA384)), "SUCCESS", None),
            ("signing key with a 100-byte unique (accepted)",
             rsa_template(SIGNER, unique=b"\x5a" * 100), "SUCCESS", None),
            ("signing key with a 257-byte unique", rsa_template(SIGNER, unique=b"\x5a" * 257),
             "SIZE@P2", KEY_SIZES)):
        t.send(f"CreatePrimary RSA: {what}", expect, create_primary(RH_OWNER, template),
               divergence=why, flush_handle=True)
    for what, parms, expect, why in (
            ("RSA-2048, AES-128-CFB, scheme NULL (accepted)",
             AES128CFB + scheme(ALG_NULL) + struct.pack(">HI", 2048, 0), "SUCCESS", None),
            ("RSA-2048, RSAPSS-SHA256, exponent 3 (accepted)",
             NULL_SYM + scheme(ALG_RSAPSS, ALG_SHA256) + struct.pack(">HI", 2048, 3),
             "SUCCESS", None),
            ("RSA-1024", NULL_SYM + scheme(ALG_NULL) + struct.pack(">HI", 1024, 0),
             "VALUE@P1", KEY_SIZES),
            ("RSA-4096", NULL_SYM + scheme(ALG_NULL) + struct.pack(">HI", 4096, 0),
             "VALUE@P1", None),
            ("RSA-2048 with scheme ECDSA", NULL_SYM + scheme(ALG_ECDSA, ALG_SHA256)
             + struct.pack(">HI", 2048, 0), "VALUE@P1", None),
            ("RSA-2048 with scheme OAEP-SHA1", NULL_SYM + scheme(ALG_OAEP, 0x0004)
             + struct.pack(">HI", 2048, 0), "SUCCESS", None)):
        t.send(f"TestParms: {what}", expect,
               build(T.ST_NO_SESSIONS, CC["TestParms"], params=u16(ALG_RSA) + parms),
               divergence=why)


def start_auth_session(tpm_key, salt):
    return build(T.ST_NO_SESSIONS, CC["StartAuthSession"], [tpm_key, RH_NULL],
                 params=b2(secrets.token_bytes(32)) + b2(salt) + b"\x00" + NULL_SYM
                 + u16(ALG_SHA256))


def session_cases(t, ext):
    st, stp = t.rsa_primary(RH_OWNER, rsa_template(STORAGE, sym=AES128CFB))
    good = stp.key().encrypt(secrets.token_bytes(32), R.oaep("sha256", b"SECRET\0"))
    t.send("StartAuthSession salted with an RSA key (accepted)", "SUCCESS",
           start_auth_session(st, good), flush_handle=True)
    t.send("StartAuthSession: encryptedSalt with another label", "VALUE@P2",
           start_auth_session(st, stp.key().encrypt(b"s" * 32, R.oaep("sha256", b"IDENTITY\0"))))
    t.send("StartAuthSession: encryptedSalt random", "VALUE@P2",
           start_auth_session(st, b"\x00" + secrets.token_bytes(255)))
    t.send("StartAuthSession: encryptedSalt of 255 bytes", "VALUE@P2",
           start_auth_session(st, good[1:]))
    t.send("StartAuthSession: encryptedSalt empty", "VALUE@P2", start_auth_session(st, b""))
    t.send("StartAuthSession: a salt longer than the nameAlg digest", "VALUE@P2",
           start_auth_session(st, stp.key().encrypt(b"s" * 33, R.oaep("sha256", b"SECRET\0"))))
    n = ext.public_key().public_numbers().n.to_bytes(256, "big")
    out = t.ok(load_external(b2(b""), external_public(n)), "LoadExternal (public only)")
    pub_only = struct.unpack(">I", out[10:14])[0]
    salt = ext.public_key().encrypt(b"s" * 32, R.oaep("sha256", b"SECRET\0"))
    t.send("StartAuthSession salted with a public-only RSA key", "HANDLE@H1",
           start_auth_session(pub_only, salt))
    t.flush(pub_only)
    s, sp = t.rsa_primary(RH_OWNER, rsa_template(SIGNER))
    t.send("StartAuthSession salted with an RSA signing key", "ATTRIBUTES@H1",
           start_auth_session(s, sp.key().encrypt(b"s" * 32, R.oaep("sha256", b"SECRET\0"))))
    t.flush(s)
    return st, stp


def credential(ek, name, secret, seed=None, label=b"IDENTITY\0"):
    """(TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET) for `name` under the RSA key `ek`."""
    seed = seed if seed is not None else secrets.token_bytes(32)
    enc_seed = ek.key().encrypt(seed, R.oaep("sha256", label))
    sym_key = K.kdfa("sha256", seed, b"STORAGE", name, b"", 128)
    enc = R.crypto.Cipher(R.crypto.algorithms.AES(sym_key), R.crypto.CFB(bytes(16))).encryptor()
    enc_identity = enc.update(b2(secret)) + enc.finalize()
    integrity = hmac.new(K.kdfa("sha256", seed, b"INTEGRITY", b"", b"", 256),
                         enc_identity + name, "sha256").digest()
    return b2(b2(integrity) + enc_identity), b2(enc_seed)


def activate_cmd(obj, key, blob, secret):
    return build(T.ST_SESSIONS, CC["ActivateCredential"], [obj, key], [PW, PW], blob + secret)


def credential_cases(t, st, stp):
    s, sp = t.rsa_primary(RH_OWNER, rsa_template(SIGNER))
    value = secrets.token_bytes(20)
    blob, secret = credential(stp, sp.name, value)
    rc, out = t.send("ActivateCredential under an RSA key (accepted)", "SUCCESS",
                     activate_cmd(s, st, blob, secret))
    T.check(rc != 0 or tpm2b_param(out.data) == value,
            f"[{t.label}] ActivateCredential: wrong secret")
    bad = bytearray(secret)
    bad[100] ^= 0x01
    t.send("ActivateCredential: the encrypted seed tampered", "VALUE@P2",
           activate_cmd(s, st, blob, bytes(bad)), divergence=OPENSSL)
    t.send("ActivateCredential: an encrypted seed of 255 bytes", "SIZE@P2",
           activate_cmd(s, st, blob, b2(secret[3:])))
    blob2, secret2 = credential(stp, sp.name, value, seed=secrets.token_bytes(33))
    t.send("ActivateCredential: a seed of 33 bytes (> SHA-256)", "VALUE@P2",
           activate_cmd(s, st, blob2, secret2))
    blob3, secret3 = credential(stp, sp.name, value, label=b"SECRET\0")
    t.send("ActivateCredential: the seed encrypted with label SECRET", "VALUE@P2",
           activate_cmd(s, st, blob3, secret3), divergence=OPENSSL)
    bad = bytearray(blob)
    bad[5] ^= 0x01
    t.send("ActivateCredential: the integrity HMAC tampered", "INTEGRITY@P1",
           activate_cmd(s, st, bytes(bad), secret))
    other, _ = t.rsa_primary(RH_ENDORSEMENT, rsa_template(SIGNER))
    t.flush(s)
    t.send("ActivateCredential: another object than the credentialed one", "INTEGRITY@P1",
           activate_cmd(other, st, blob, secret))
    t.flush(other)
    t.flush(st)


def cases(t, ext):
    decrypt_cases(t)
    signature_cases(t)
    load_external_cases(t, ext)
    primary_cases(t)
    st, stp = session_cases(t, ext)
    credential_cases(t, st, stp)
    return t.rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tcti", required=True, help="TPM under test (mssim:/spawn:host-sim)")
    ap.add_argument("--ref-tcti", default="spawn:swtpm", help="reference (default spawn:swtpm)")
    ap.add_argument("--accept-libtpms-divergences", action="store_true",
                    help="the TPM under test may answer as swtpm where the known divergences "
                         "are (to check the script on swtpm)")
    args = ap.parse_args()
    T.require_programs("swtpm", "swtpm_setup")
    crypto = R.load_crypto()
    ext = crypto.rsa.generate_private_key(65537, 2048)
    with open_target(args.tcti) as tcti, open_target(args.ref_tcti) as ref_tcti:
        ours, ref = RTarget("ours", tcti), RTarget("swtpm", ref_tcti)
        for t in (ours, ref):
            rc = t.run(T.cmd_startup(0)).rc
            T.check(rc in (0, T.RC_INITIALIZE), f"[{t.label}] Startup: {rc:#x}")
        rows = {t.label: cases(t, ext) for t in (ours, ref)}
        T.check(len(rows["ours"]) == len(rows["swtpm"]), "the case lists differ in length")
        differ, wrong_ref, known = [], [], []
        print(f"{'case':72} {'expected':>20} {'swtpm':>20} {'ours':>20}")
        for (name, expect, mine, why, _), (_, _, theirs, _, _) in zip(rows["ours"],
                                                                      rows["swtpm"]):
            note = ""
            if why is None:
                if mine != theirs:
                    note = "  DIFFERS"
                    differ.append(name)
                if theirs != expect:
                    note += "  (swtpm: not the expected answer)"
                    wrong_ref.append(name)
            else:
                good = mine == expect or (args.accept_libtpms_divergences and mine == theirs)
                note = ("  known divergence (below)" if good
                        else "  DIFFERS from the reference's answer")
                if not good:
                    differ.append(name)
                if theirs != expect:
                    known.append((name, why))
            print(f"{name:72} {rc_text(expect):>20} {rc_text(theirs):>20} "
                  f"{rc_text(mine):>20}{note}")
        for why in dict.fromkeys(w for _, w in known):
            print(f"known divergence: {why}")
        T.check(not wrong_ref, f"swtpm did not answer as the case expects: {wrong_ref}")
        T.check(not differ, f"{len(differ)} case(s) differ: {differ}")
        T.log(f"ok: {len(rows['ours'])} RSA cases; {len(rows['ours']) - len(known)} answer "
              f"exactly as swtpm, {len(known)} are the known divergences listed above")


if __name__ == "__main__":
    T.run_main(main)
