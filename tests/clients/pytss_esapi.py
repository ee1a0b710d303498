#!/usr/bin/python3
"""tpm2-pytss 1.2.0 (ESAPI, libtss2-esys 3.2) drives the TPM; every result is checked
independently (hashlib, hmac, the `cryptography` package).

    /usr/bin/python3 tests/clients/pytss_esapi.py --tcti mssim:host=127.0.0.1,port=N
    /usr/bin/python3 tests/clients/pytss_esapi.py --tcti spawn:swtpm      # checks the script
    /usr/bin/python3 tests/clients/pytss_esapi.py --tcti spawn:host-sim   # target/debug/host-sim

ECC keys: pytss' helpers default to RSA templates ("rsa2048"), so every object here gets
an explicit ECC or KEYEDHASH template (RSA with real clients: rsa.py).

Steps (one `ok:` line each):
 1. Startup(CLEAR) (ESYS itself turns TPM_RC_INITIALIZE into success), GetRandom twice,
    GetCapability (algorithms, commands, PCR banks, fixed properties).
 2. PCR_Reset / PCR_Extend (sha256 + sha384 in one call) / PCR_Event on PCR 16, read back
    with PCR_Read and compared with a hashlib model; Hash and its ticket.
 3. An unbound, unsalted HMAC session with AES-128-CFB parameter encryption
    (decrypt|encrypt|continueSession) for GetRandom and CreatePrimary of an ECC P-256
    storage key; then a session salted with that key (ESYS: ECDH + KDFe). A TCP tap between
    ESYS and the server records the wire bytes: for the unsalted session (empty session
    key) the script derives the CFB key with its own KDFa and decrypts what the TPM sent
    and received, so ESYS' success is not the only witness.
 4. ECC P-256 / P-384 signing primaries: ReadPublic (name recomputed), Sign a SHA-256 /
    SHA-384 digest, ECDSA verified with `cryptography`, VerifySignature in the TPM
    (ticket), and a wrong digest rejected.
 5. A sealed KEYEDHASH object with a password under the storage primary (Create and Load
    through the salted session), Unseal through it with response encryption (the secret
    never crosses the wire in clear), a wrong password rejected.
 6. ContextSave / ContextLoad of a key and of a session, FlushContext, TR_FromTPMPublic
    (with and without a session) and TR_Serialize / TR_Deserialize round trips.

The TPM must be started or waiting for TPM2_Startup. At most three transient objects are
loaded at once (swtpm's limit).
--ours adds the rules that hold for our vTPM only (SHA-1 implemented, its bank not
allocated by default).

Exit status: 0 all checks passed, 1 a check failed (step, TPM response code and the last
command / response bytes on stderr), 77 a prerequisite (python3-tpm2-pytss,
python3-cryptography, a TCTI library) is missing.
"""

import argparse
import hashlib
import hmac
import os
import secrets
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpmlib as T  # noqa: E402
from servers import free_port_pair, open_target  # noqa: E402

# Filled in main() (exit 77 if missing): tpm2_pytss's names and cryptography's modules.
P = None
C = None

TPM_GENERATED = 0xFF544347
RH_OWNER, RH_NULL = 0x40000001, 0x40000007
ST_HASHCHECK, ST_VERIFIED = 0x8024, 0x8022
RC_INITIALIZE = 0x100
RC_SIGNATURE_P2 = 0x2DB     # VerifySignature: signature does not verify (parameter 2)
RC_BAD_AUTH_S1 = 0x9A2      # wrong authValue on a noDA object, session 1
ALG_SHA1 = 0x0004

HASHES = {"sha256": 0x000B, "sha384": 0x000C, "sha512": 0x000D}
PCR = 16  # debug PCR: resettable and extendable from locality 0


# --- a TCP tap between ESYS and the server ----------------------------------------------
class WireTap:
    """Listens on a free port pair (M, M+1), forwards to the server's pair (N, N+1) and
    records every TPM command and response that crosses the data port.

    framing "mssim": client → server u32 8 ‖ u8 locality ‖ u32 len ‖ command (u32 20 ends
    the session); server → client u32 len ‖ response ‖ u32 0. framing "raw" (swtpm TCTI):
    the bare command and response, each starting with its 10-byte header.
    """

    def __init__(self, tcti):
        self.target = T.Tcti(tcti)
        self.framing = "mssim" if self.target.kind == "mssim" else "raw"
        self.lock = threading.Lock()
        self.streams = {"cmd": bytearray(), "rsp": bytearray()}
        self.listeners = []
        self.port = None

    def start(self):
        for _ in range(20):
            port = free_port_pair()
            socks = []
            try:
                for p in (port, port + 1):
                    s = socket.socket()
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    socks.append(s)
                    s.bind(("127.0.0.1", p))
                    s.listen(4)
            except OSError:
                for s in socks:
                    s.close()
                continue
            self.listeners = socks
            self.port = port
            for i, s in enumerate(socks):
                threading.Thread(target=self._accept, args=(s, i), daemon=True).start()
            return self
        raise T.Failure("wire tap: no free port pair")

    @property
    def tcti(self):
        return f"{self.target.kind}:host=127.0.0.1,port={self.port}"

    def _accept(self, listener, offset):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection((self.target.host, self.target.port + offset))
            except OSError:
                client.close()
                continue
            record = offset == 0  # only the data port carries TPM commands
            for src, dst, name in ((client, server, "cmd"), (server, client, "rsp")):
                threading.Thread(target=self._pump, args=(src, dst, name if record else None),
                                 daemon=True).start()

    def _pump(self, src, dst, name):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if name:
                    with self.lock:  # record before forwarding: ESYS sees nothing earlier
                        self.streams[name] += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _frames(self, name):
        with self.lock:
            buf = bytes(self.streams[name])
        out, i = [], 0
        while True:
            if self.framing == "raw":
                if len(buf) - i < 10:
                    return out
                size = struct.unpack(">I", buf[i + 2:i + 6])[0]
                if size < 10 or len(buf) - i < size:
                    return out
                out.append(buf[i:i + size])
                i += size
            elif name == "cmd":
                if len(buf) - i < 4:
                    return out
                code = struct.unpack(">I", buf[i:i + 4])[0]
                if code != 8 or len(buf) - i < 9:
                    return out  # TPM_SESSION_END (20) or something this tap does not parse
                size = struct.unpack(">I", buf[i + 5:i + 9])[0]
                if len(buf) - i < 9 + size:
                    return out
                out.append(buf[i + 9:i + 9 + size])
                i += 9 + size
            else:
                if len(buf) - i < 8:
                    return out
                size = struct.unpack(">I", buf[i:i + 4])[0]
                if len(buf) - i < 8 + size:
                    return out
                out.append(buf[i + 4:i + 4 + size])
                i += 8 + size

    def exchanges(self):
        """[(command, response or None)] in order."""
        cmds, rsps = self._frames("cmd"), self._frames("rsp")
        return [(c, rsps[k] if k < len(rsps) else None) for k, c in enumerate(cmds)]

    def mark(self):
        return len(self._frames("cmd"))

    def since(self, mark, cc=None):
        """The exchanges after `mark`, optionally only those with command code `cc`."""
        got = self.exchanges()[mark:]
        if cc is not None:
            got = [x for x in got if struct.unpack(">I", x[0][6:10])[0] == cc]
        return got

    def last(self, n=2):
        lines = []
        for cmd, rsp in self.exchanges()[-n:]:
            lines.append(f"  command  {cmd.hex()}")
            lines.append(f"  response {rsp.hex() if rsp is not None else '<none>'}")
        return "\n".join(lines)

    def stop(self):
        for s in self.listeners:
            try:
                s.close()
            except OSError:
                pass


# --- wire parsing and independent crypto (Part 1 §11.4.10.2, §21) -------------------------
def tpm2b(buf, off):
    (n,) = struct.unpack(">H", buf[off:off + 2])
    return buf[off + 2:off + 2 + n], off + 2 + n


def parse_command_sessions(cmd, n_handles):
    """(handles, [(handle, nonce, attrs, hmac)], parameters) of a ST_SESSIONS command."""
    T.check(struct.unpack(">H", cmd[:2])[0] == T.ST_SESSIONS, f"no sessions in {cmd.hex()}")
    off = 10
    handles = list(struct.unpack(f">{n_handles}I", cmd[off:off + 4 * n_handles]))
    off += 4 * n_handles
    (auth_size,) = struct.unpack(">I", cmd[off:off + 4])
    off += 4
    end = off + auth_size
    sessions = []
    while off < end:
        (h,) = struct.unpack(">I", cmd[off:off + 4])
        nonce, off = tpm2b(cmd, off + 4)
        attrs = cmd[off]
        mac, off = tpm2b(cmd, off + 1)
        sessions.append((h, nonce, attrs, mac))
    return handles, sessions, cmd[end:]


def parse_response_sessions(rsp, n_handles):
    """(rc, handles, parameters, [(nonce, attrs, hmac)]) of a ST_SESSIONS response."""
    tag, size, rc = struct.unpack(">HII", rsp[:10])
    T.check(size == len(rsp), f"response size {size} but {len(rsp)} bytes")
    if rc != 0:
        return rc, [], b"", []
    T.check(tag == T.ST_SESSIONS, f"response tag {tag:#x}, expected ST_SESSIONS")
    off = 10
    handles = list(struct.unpack(f">{n_handles}I", rsp[off:off + 4 * n_handles]))
    off += 4 * n_handles
    (psize,) = struct.unpack(">I", rsp[off:off + 4])
    params = rsp[off + 4:off + 4 + psize]
    off += 4 + psize
    sessions = []
    while off < len(rsp):
        nonce, off = tpm2b(rsp, off)
        attrs = rsp[off]
        mac, off = tpm2b(rsp, off + 1)
        sessions.append((nonce, attrs, mac))
    return rc, handles, params, sessions


def kdfa(hash_name, key, label, context_u, context_v, bits):
    """SP 800-108 counter-mode KDF with HMAC (Part 1 §11.4.10.2)."""
    out = b""
    counter = 0
    while len(out) * 8 < bits:
        counter += 1
        out += hmac.new(key, struct.pack(">I", counter) + label + b"\0" + context_u + context_v
                        + struct.pack(">I", bits), hash_name).digest()
    return out[:bits // 8]


def cfb_decrypt(session_value, nonce_newer, nonce_older, data):
    """AES-128-CFB parameter decryption (Part 1 §21.4) with a key from our own KDFa."""
    kiv = kdfa("sha256", session_value, b"CFB", nonce_newer, nonce_older, 128 + 128)
    dec = C.Cipher(C.algorithms.AES(kiv[:16]), C.CFB(kiv[16:])).decryptor()
    return dec.update(data) + dec.finalize()


# --- the test ------------------------------------------------------------------------------
def alg_name(alg):
    try:
        return str(P.TPM2_ALG(alg))
    except Exception:
        return f"{alg:#06x}"


class EsapiTest:
    def __init__(self, ectx, tap, ours):
        self.e = ectx
        self.tap = tap
        self.ours = ours
        self.step = "setup"

    # -- calling ESAPI with clear failures ---------------------------------------------
    def tpm(self, what, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except P.TSS2_Exception as ex:
            raise T.Failure(f"[{self.step}] {what}: {ex} (rc {int(ex.rc):#x})\n"
                            f"last exchanges on the wire:\n{self.tap.last()}") from None

    def tpm_rc(self, what, fn, *args, **kwargs):
        """Call fn; return its TPM response code (0 on success)."""
        try:
            fn(*args, **kwargs)
            return 0
        except P.TSS2_Exception as ex:
            return int(ex.rc)

    def check(self, cond, msg):
        if not cond:
            raise T.Failure(f"[{self.step}] {msg}\nlast exchanges on the wire:\n{self.tap.last()}")

    def ok(self, msg):
        T.log(f"ok: {msg}")

    # -- helpers ------------------------------------------------------------------------
    def capability(self, cap, first, field):
        """All entries of one capability, following moreData, as Python values: ints for
        handles and commands (TPMA_CC), (alg, attributes) / (property, value) pairs,
        (hash, pcrSelect bytes) for PCR banks."""
        convert, next_prop = {
            "algorithms": (lambda x: (int(x.alg), int(x.algProperties)), lambda v: v[0] + 1),
            "command": (int, lambda v: (v & 0xFFFF) + 1),
            "tpmProperties": (lambda x: (int(x.property), int(x.value)), lambda v: v[0] + 1),
            "handles": (int, lambda v: v + 1),
            "assignedPCR": (lambda x: (int(x.hash), bytes(x.pcrSelect)[:int(x.sizeofSelect)]),
                            lambda v: v[0] + 1),
        }[field]
        items = []
        prop = first
        for _ in range(64):
            more, data = self.tpm(f"GetCapability({cap}, {prop:#x})", self.e.get_capability,
                                  cap, prop, 64)
            # Convert at once: the list entries point into `data`'s C memory.
            got = [convert(x) for x in getattr(data.data, field)]
            items += got
            if not more or not got:
                return items
            prop = next_prop(got[-1])
        raise T.Failure(f"GetCapability({cap}) keeps answering moreData")

    def pcr_read(self, banks):
        sel = P.TPML_PCR_SELECTION.parse("+".join(f"{b}:{PCR}" for b in banks))
        _, out_sel, digests = self.tpm("PCR_Read", self.e.pcr_read, sel)
        got = [bytes(d) for d in digests]
        returned = []
        for s in out_sel:
            bitmap = bytes(s.pcrSelect)[:s.sizeofSelect]
            idx = [i for i in range(8 * len(bitmap)) if bitmap[i // 8] >> (i % 8) & 1]
            returned += [(int(s.hash), i) for i in idx]
        self.check(returned == [(HASHES[b], PCR) for b in banks],
                   f"PCR_Read returned selection {returned} for {banks}:{PCR}")
        self.check(len(got) == len(banks), f"PCR_Read returned {len(got)} digests")
        return dict(zip(banks, got))

    def ecc_template(self, curve_bits, hash_name, sign=True):
        attrs = (P.TPMA_OBJECT.FIXEDTPM | P.TPMA_OBJECT.FIXEDPARENT
                 | P.TPMA_OBJECT.SENSITIVEDATAORIGIN | P.TPMA_OBJECT.USERWITHAUTH)
        if sign:
            return P.TPM2B_PUBLIC.parse(f"ecc{curve_bits}:ecdsa-{hash_name}",
                                        objectAttributes=attrs | P.TPMA_OBJECT.SIGN_ENCRYPT)
        return P.TPM2B_PUBLIC.parse(f"ecc{curve_bits}:null:aes128cfb",
                                    objectAttributes=attrs | P.TPMA_OBJECT.RESTRICTED
                                    | P.TPMA_OBJECT.DECRYPT | P.TPMA_OBJECT.NODA)

    @staticmethod
    def sensitive(auth=b"", data=b""):
        return P.TPM2B_SENSITIVE_CREATE(P.TPMS_SENSITIVE_CREATE(
            userAuth=P.TPM2B_AUTH(auth), data=P.TPM2B_SENSITIVE_DATA(data)))

    def check_name(self, handle, public, what):
        """ReadPublic: the public area is the one we know and the name is nameAlg ‖ H(public)."""
        pub, name, qname = self.tpm(f"ReadPublic({what})", self.e.read_public, handle)
        area = pub.publicArea.marshal()
        self.check(area == public.publicArea.marshal(),
                   f"ReadPublic({what}) returned a different public area")
        expect = struct.pack(">H", 0x000B) + hashlib.sha256(area).digest()
        self.check(bytes(name) == expect,
                   f"ReadPublic({what}) name {bytes(name).hex()}, recomputed {expect.hex()}")
        esys_name = bytes(self.tpm("TR_GetName", self.e.tr_get_name, handle))
        self.check(esys_name == expect, f"ESYS name of {what} {esys_name.hex()} != {expect.hex()}")
        self.check(len(bytes(qname)) == 34, f"qualified name of {what}: {bytes(qname).hex()}")
        return expect

    def public_key(self, public):
        area = public.publicArea
        curve = int(area.parameters.eccDetail.curveID)
        ccurve = {0x0003: C.ec.SECP256R1(), 0x0004: C.ec.SECP384R1()}[curve]
        x = int.from_bytes(bytes(area.unique.ecc.x), "big")
        y = int.from_bytes(bytes(area.unique.ecc.y), "big")
        try:  # from_public_numbers checks that the point is on the curve
            return C.ec.EllipticCurvePublicNumbers(x, y, ccurve).public_key()
        except ValueError as ex:
            raise T.Failure(f"[{self.step}] TPM public point is not on the curve: {ex}")

    def ecdsa_verify(self, public, sig, digest, hash_cls, what):
        self.check(int(sig.sigAlg) == 0x0018, f"{what}: sigAlg {alg_name(sig.sigAlg)}")
        r = int.from_bytes(bytes(sig.signature.ecdsa.signatureR), "big")
        s = int.from_bytes(bytes(sig.signature.ecdsa.signatureS), "big")
        der = C.utils.encode_dss_signature(r, s)
        try:
            self.public_key(public).verify(der, digest, C.ec.ECDSA(C.utils.Prehashed(hash_cls())))
        except C.InvalidSignature:
            raise T.Failure(f"[{self.step}] {what}: ECDSA signature does not verify with "
                            f"cryptography (r={r:x}, s={s:x}, digest {digest.hex()})")

    def null_ticket(self):
        return P.TPMT_TK_HASHCHECK(tag=P.TPM2_ST.HASHCHECK, hierarchy=P.TPM2_RH.NULL)

    def sig_scheme(self, hash_alg):
        sch = P.TPMT_SIG_SCHEME(scheme=P.TPM2_ALG.ECDSA)
        sch.details.ecdsa.hashAlg = hash_alg
        return sch

    def aes_cfb_session(self, tpm_key=None, attrs=None):
        sym = P.TPMT_SYM_DEF(algorithm=P.TPM2_ALG.AES)
        sym.keyBits.aes = 128
        sym.mode.aes = P.TPM2_ALG.CFB
        sess = self.tpm("StartAuthSession(HMAC, AES-128-CFB, SHA256)", self.e.start_auth_session,
                        tpm_key if tpm_key is not None else P.ESYS_TR.NONE, P.ESYS_TR.NONE,
                        P.TPM2_SE.HMAC, sym, P.TPM2_ALG.SHA256)
        if attrs is None:
            attrs = (P.TPMA_SESSION.DECRYPT | P.TPMA_SESSION.ENCRYPT
                     | P.TPMA_SESSION.CONTINUESESSION)
        self.tpm("TRSess_SetAttributes", self.e.trsess_set_attributes, sess, attrs)
        return sess

    def transient_handles(self):
        return [h for h in self.capability(P.TPM2_CAP.HANDLES, 0x80000000, "handles")
                if h >> 24 == 0x80]

    # -- steps --------------------------------------------------------------------------
    def run(self):
        self.step1_startup_caps()
        self.step2_pcrs_hash()
        storage, salted = self.step3_sessions()
        self.step4_signing()
        self.step5_sealing(storage, salted)
        self.step6_contexts(storage, salted)

    def step1_startup_caps(self):
        self.step = "1 startup"
        # ESYS' Esys_Startup maps TPM_RC_INITIALIZE to success; tolerate both.
        for i in range(2):
            rc = self.tpm_rc("Startup(CLEAR)", self.e.startup, P.TPM2_SU.CLEAR)
            self.check(rc in (0, RC_INITIALIZE), f"Startup(CLEAR) #{i + 1}: rc {rc:#x}")
        startups = self.tap.since(0, T.CC_STARTUP)
        self.check(len(startups) == 2, f"{len(startups)} Startup commands on the wire")
        second = startups[1][1]
        self.check(second is not None and struct.unpack(">I", second[6:10])[0] == RC_INITIALIZE,
                   f"second Startup answered {second.hex() if second else None}, "
                   "expected TPM_RC_INITIALIZE")
        self.ok("Startup(CLEAR); the second one answered TPM_RC_INITIALIZE on the wire "
                "(ESYS reports success)")
        self.initial_transients = self.transient_handles()

        a = bytes(self.tpm("GetRandom(32)", self.e.get_random, 32))
        b = bytes(self.tpm("GetRandom(32)", self.e.get_random, 32))
        self.check(len(a) == 32 and len(b) == 32, f"GetRandom(32) gave {len(a)}, {len(b)} bytes")
        self.check(a != b, "two GetRandom(32) calls returned the same bytes")
        self.check(a != bytes(32), "GetRandom returned zeros")
        self.ok(f"GetRandom(32) twice: {a.hex()[:16]}… / {b.hex()[:16]}…")

        algs = dict(self.capability(P.TPM2_CAP.ALGS, 0, "algorithms"))
        need = {0x000B: "sha256", 0x000C: "sha384", 0x0023: "ecc", 0x0018: "ecdsa",
                0x0006: "aes", 0x0043: "cfb", 0x0008: "keyedhash", 0x0005: "hmac"}
        missing = [n for a_, n in need.items() if a_ not in algs]
        self.check(not missing, f"GetCapability(ALGS) lacks {missing}: {sorted(algs)}")
        self.check(algs[0x000B] & 0x4, "sha256 not marked as a hash algorithm")
        self.check(algs[0x0023] & 0x1 and algs[0x0023] & 0x8,
                   f"ecc properties {algs[0x0023]:#x}: expected asymmetric|object")
        if self.ours:
            self.check(algs.get(ALG_SHA1, 0) & 0x4, "--ours: sha1 not listed as a hash")

        cmds = {int(c) & 0xFFFF for c in self.capability(P.TPM2_CAP.COMMANDS, 0x11F, "command")}
        used = {"Startup": 0x144, "GetRandom": 0x17B, "GetCapability": 0x17A, "PCR_Extend": 0x182,
                "PCR_Read": 0x17E, "PCR_Event": 0x13C, "PCR_Reset": 0x13D, "Hash": 0x17D,
                "StartAuthSession": 0x176, "CreatePrimary": 0x131, "Create": 0x153,
                "Load": 0x157, "ReadPublic": 0x173, "Sign": 0x15D, "VerifySignature": 0x177,
                "Unseal": 0x15E, "ContextSave": 0x162, "ContextLoad": 0x161,
                "FlushContext": 0x165}
        missing = [n for n, cc in used.items() if cc not in cmds]
        self.check(not missing, f"GetCapability(COMMANDS) lacks {missing}")

        banks = dict(self.capability(P.TPM2_CAP.PCRS, 0, "assignedPCR"))
        for name in ("sha256", "sha384"):
            bm = banks.get(HASHES[name], b"")
            self.check(len(bm) >= 3 and bm[PCR // 8] >> (PCR % 8) & 1,
                       f"bank {name} not allocated with PCR {PCR}: {bm.hex()}")

        props = dict(self.capability(P.TPM2_CAP.TPM_PROPERTIES, 0x100, "tpmProperties"))
        self.check(int(P.TPM2_PT.MAX_COMMAND_SIZE) in props,
                   "TPM_PT_MAX_COMMAND_SIZE missing from GetCapability(TPM_PROPERTIES)")
        self.check(props[int(P.TPM2_PT.MAX_COMMAND_SIZE)] >= 1024,
                   f"MAX_COMMAND_SIZE {props[int(P.TPM2_PT.MAX_COMMAND_SIZE)]}")
        self.check(props.get(int(P.TPM2_PT.MAX_DIGEST), 0) >= 48,
                   f"MAX_DIGEST {props.get(int(P.TPM2_PT.MAX_DIGEST))}")
        self.ok(f"GetCapability: {len(algs)} algorithms (sha256 listed), {len(cmds)} commands, "
                f"banks {sorted(alg_name(h) for h, bm in banks.items() if any(bm))}, "
                f"{len(props)} fixed properties, "
                f"MAX_COMMAND_SIZE {props[int(P.TPM2_PT.MAX_COMMAND_SIZE)]}")

    def step2_pcrs_hash(self):
        self.step = "2 pcrs"
        banks = ("sha256", "sha384")
        self.tpm("PCR_Reset(16)", self.e.pcr_reset, P.ESYS_TR.PCR16)
        model = {b: bytes(hashlib.new(b).digest_size) for b in banks}
        got = self.pcr_read(banks)
        self.check(got == model, f"PCR 16 after PCR_Reset: {got}")

        d256 = hashlib.sha256(b"pytss extend 256").digest()
        d384 = hashlib.sha384(b"pytss extend 384").digest()
        digests = P.TPML_DIGEST_VALUES([
            P.TPMT_HA(hashAlg=P.TPM2_ALG.SHA256, digest=P.TPMU_HA(sha256=d256)),
            P.TPMT_HA(hashAlg=P.TPM2_ALG.SHA384, digest=P.TPMU_HA(sha384=d384)),
        ])
        self.tpm("PCR_Extend(16, sha256+sha384)", self.e.pcr_extend, P.ESYS_TR.PCR16, digests)
        model["sha256"] = hashlib.sha256(model["sha256"] + d256).digest()
        model["sha384"] = hashlib.sha384(model["sha384"] + d384).digest()
        got = self.pcr_read(banks)
        for b in banks:
            self.check(got[b] == model[b],
                       f"PCR 16 {b} after PCR_Extend: {got[b].hex()}, hashlib {model[b].hex()}")
        self.ok(f"PCR_Extend(16, sha256+sha384) and PCR_Read match hashlib: "
                f"sha256 {model['sha256'].hex()[:16]}…")

        event = b"pytss event data \x00\x01\x02" * 3
        out = self.tpm("PCR_Event(16)", self.e.pcr_event, P.ESYS_TR.PCR16, event)
        seen = {}
        for ha in out:
            name = {0x0004: "sha1", **{v: k for k, v in HASHES.items()}}.get(int(ha.hashAlg))
            self.check(name is not None, f"PCR_Event returned a digest of {alg_name(ha.hashAlg)}")
            self.check(bytes(ha) == hashlib.new(name, event).digest(),
                       f"PCR_Event {name} digest {bytes(ha).hex()} != hashlib")
            seen[name] = bytes(ha)
        for b in banks:
            self.check(b in seen, f"PCR_Event returned no {b} digest (got {sorted(seen)})")
            model[b] = hashlib.new(b, model[b] + seen[b]).digest()
        if self.ours:
            self.check("sha1" in seen, "--ours: PCR_Event returned no sha1 digest")
        got = self.pcr_read(banks)
        for b in banks:
            self.check(got[b] == model[b], f"PCR 16 {b} after PCR_Event: {got[b].hex()}, "
                                           f"hashlib {model[b].hex()}")
        self.ok(f"PCR_Event(16) digests {sorted(seen)} and PCR values match hashlib")

        self.step = "2 hash"
        data = b"hash me with pytss" * 5
        for name, alg in HASHES.items():
            digest, ticket = self.tpm(f"Hash({name})", self.e.hash, data,
                                      P.TPM2_ALG(alg), P.ESYS_TR.OWNER)
            self.check(bytes(digest) == hashlib.new(name, data).digest(),
                       f"Hash({name}) {bytes(digest).hex()} != hashlib")
            # The ticket's HMAC uses the proof's hash, an implementation choice (libtpms: sha512)
            self.check(int(ticket.tag) == ST_HASHCHECK and int(ticket.hierarchy) == RH_OWNER
                       and len(bytes(ticket.digest)) in (32, 48, 64),
                       f"Hash({name}) ticket tag {int(ticket.tag):#x} hierarchy "
                       f"{int(ticket.hierarchy):#x} digest {bytes(ticket.digest).hex()}")
        # Data that starts with TPM_GENERATED_VALUE gets the null ticket (Part 3 §15.4).
        generated = struct.pack(">I", TPM_GENERATED) + data
        digest, ticket = self.tpm("Hash(TPM_GENERATED…)", self.e.hash, generated,
                                  P.TPM2_ALG.SHA256, P.ESYS_TR.OWNER)
        self.check(bytes(digest) == hashlib.sha256(generated).digest(),
                   "Hash(TPM_GENERATED…) digest != hashlib")
        self.check(int(ticket.hierarchy) == RH_NULL and bytes(ticket.digest) == b"",
                   f"Hash of data starting with TPM_GENERATED_VALUE: ticket hierarchy "
                   f"{int(ticket.hierarchy):#x} digest {bytes(ticket.digest).hex()} (must be null)")
        self.ok("Hash(sha256/384/512) matches hashlib; owner tickets, null ticket for "
                "TPM_GENERATED data")

    def check_session_hmacs(self, what, ex, cmd_names, n_rsp_handles, nonce_tpm_before,
                            key=b""):
        """Recompute both HMACs of a one-session exchange (Part 1 §19.6): command
        HMAC(key, cpHash ‖ nonceCaller ‖ nonceTPM(before) ‖ attrs), response
        HMAC(key, rpHash ‖ nonceTPM(new) ‖ nonceCaller ‖ attrs), cpHash / rpHash over the
        (encrypted) parameters as they crossed the wire. Returns the wire pieces."""
        cmd, rsp = ex
        cc = cmd[6:10]
        _, sessions, cparams = parse_command_sessions(cmd, len(cmd_names))
        self.check(len(sessions) == 1, f"{what}: {len(sessions)} sessions")
        _, nonce_caller, cattrs, cmac = sessions[0]
        cp_hash = hashlib.sha256(cc + b"".join(cmd_names) + cparams).digest()
        expect = hmac.new(key, cp_hash + nonce_caller + nonce_tpm_before + bytes([cattrs]),
                          "sha256").digest()
        self.check(cmac == expect, f"{what}: command HMAC {cmac.hex()}, recomputed {expect.hex()}")
        rc, _, rparams, rsessions = parse_response_sessions(rsp, n_rsp_handles)
        self.check(rc == 0 and len(rsessions) == 1, f"{what}: response rc {rc:#x}")
        nonce_tpm, rattrs, rmac = rsessions[0]
        rp_hash = hashlib.sha256(b"\0\0\0\0" + cc + rparams).digest()
        expect = hmac.new(key, rp_hash + nonce_tpm + nonce_caller + bytes([rattrs]),
                          "sha256").digest()
        self.check(rmac == expect, f"{what}: response HMAC {rmac.hex()}, recomputed "
                                   f"{expect.hex()} (empty session key)")
        self.check(len(nonce_tpm) == 32 and nonce_tpm != nonce_tpm_before,
                   f"{what}: nonceTPM {nonce_tpm.hex()} (before {nonce_tpm_before.hex()})")
        return nonce_caller, cattrs, cparams, nonce_tpm, rattrs, rparams

    def step3_sessions(self):
        self.step = "3 encrypted session"
        sess = self.aes_cfb_session()
        handle = int(self.tpm("TR_GetTpmHandle", self.e.tr_get_tpm_handle, sess))
        self.check(handle >> 24 == 0x02, f"HMAC session handle {handle:#x}")

        # GetRandom: the response's randomBytes go CFB-encrypted. bytesRequested is no TPM2B,
        # so ESYS clears decrypt in this command's session attributes.
        nonce_before = bytes(self.tpm("TRSess_GetNonceTPM", self.e.trsess_get_nonce_tpm, sess))
        mark = self.tap.mark()
        rnd = bytes(self.tpm("GetRandom(32) with the AES-CFB session", self.e.get_random, 32,
                             session1=sess))
        self.check(len(rnd) == 32, f"GetRandom gave {len(rnd)} bytes")
        (ex,) = self.tap.since(mark, T.CC_GET_RANDOM)
        # Unbound, unsalted: sessionKey is empty; GetRandom authorizes nothing, so the HMAC
        # key and the sessionValue of the CFB key are empty too.
        nonce_caller, attrs, _, nonce_tpm, _, params = self.check_session_hmacs(
            "GetRandom", ex, [], 0, nonce_before)
        self.check(attrs & 0x41 == 0x41, f"GetRandom session attributes {attrs:#x}: "
                                         "expected continueSession|encrypt")
        wire, _ = tpm2b(params, 0)
        self.check(wire != rnd, "GetRandom response parameter was not encrypted on the wire")
        plain = cfb_decrypt(b"", nonce_tpm, nonce_caller, wire)
        self.check(plain == rnd, f"GetRandom: decrypting the wire bytes {wire.hex()} with our "
                                 f"KDFa key gives {plain.hex()}, ESYS returned {rnd.hex()}")
        self.ok(f"GetRandom(32) through an HMAC session (AES-128-CFB, SHA256, handle "
                f"{handle:#x}, attributes {attrs:#04x} on the wire): both HMACs recomputed, the "
                "response decrypts with our own KDFa/AES-CFB to what ESYS returned")

        # CreatePrimary: inSensitive (with a userAuth) goes encrypted, outPublic comes back so.
        auth = secrets.token_bytes(16)
        nonce_before = bytes(self.tpm("TRSess_GetNonceTPM", self.e.trsess_get_nonce_tpm, sess))
        self.check(nonce_before == nonce_tpm, "ESYS' nonceTPM is not the one on the wire")
        mark = self.tap.mark()
        template = self.ecc_template(256, "sha256", sign=False)
        storage, pub, _, _, _ = self.tpm("CreatePrimary(ECC P-256 storage) with the AES-CFB "
                                         "session", self.e.create_primary,
                                         self.sensitive(auth), template, P.ESYS_TR.OWNER,
                                         session1=sess)
        (ex,) = self.tap.since(mark, 0x131)
        self.check(auth not in ex[0], "userAuth crossed the wire in clear")
        # The owner hierarchy's name is its handle; its authValue is empty, so the HMAC key
        # (sessionKey ‖ authValue) and the CFB sessionValue stay empty.
        nonce_caller2, attrs, cparams, nonce_tpm2, _, rparams = self.check_session_hmacs(
            "CreatePrimary", ex, [struct.pack(">I", RH_OWNER)], 1, nonce_before)
        self.check(nonce_caller2 != nonce_caller, "ESYS reused nonceCaller")
        self.check(attrs & 0x61 == 0x61, f"CreatePrimary session attributes {attrs:#x}: "
                                         "expected continueSession|decrypt|encrypt")
        wire_sens, _ = tpm2b(cparams, 0)
        plain = cfb_decrypt(b"", nonce_caller2, nonce_before, wire_sens)
        expect_sens = self.sensitive(auth).marshal()[2:]
        self.check(plain == expect_sens, f"CreatePrimary inSensitive: wire {wire_sens.hex()} "
                                         f"decrypts to {plain.hex()}, sent {expect_sens.hex()}")
        wire_pub, _ = tpm2b(rparams, 0)
        plain = cfb_decrypt(b"", nonce_tpm2, nonce_caller2, wire_pub)
        self.check(plain == pub.publicArea.marshal(),
                   "CreatePrimary outPublic: the wire bytes do not decrypt (with our KDFa) to "
                   "the public area ESYS returned")
        self.check(wire_pub != plain, "CreatePrimary outPublic was not encrypted on the wire")
        self.check_name(storage, pub, "storage primary")
        self.check(int(pub.publicArea.type) == 0x0023
                   and int(pub.publicArea.parameters.eccDetail.curveID) == 0x0003,
                   "storage primary is not ECC P-256")
        self.public_key(pub)
        self.tpm("TR_SetAuth(storage)", self.e.tr_set_auth, storage, auth)
        self.storage_auth = auth
        self.ok("CreatePrimary(ECC P-256 storage key, userAuth) through the AES-CFB session: "
                "HMACs recomputed, inSensitive and outPublic encrypted on the wire and decrypted "
                "independently; name checked")

        self.step = "3 salted session"
        storage_handle = int(self.tpm("TR_GetTpmHandle", self.e.tr_get_tpm_handle, storage))
        mark = self.tap.mark()
        salted = self.aes_cfb_session(tpm_key=storage)
        (ex,) = self.tap.since(mark, 0x176)
        cmd = ex[0]
        tpm_key, bind = struct.unpack(">II", cmd[10:18])
        self.check(tpm_key == storage_handle and bind == RH_NULL,
                   f"StartAuthSession tpmKey {tpm_key:#x} bind {bind:#x}")
        _, off = tpm2b(cmd, 18)                     # nonceCaller
        salt, off = tpm2b(cmd, off)                 # encryptedSalt: TPMS_ECC_POINT
        x, o = tpm2b(salt, 0)
        y, o = tpm2b(salt, o)
        self.check(o == len(salt) and len(x) == 32 and len(y) == 32,
                   f"encryptedSalt is not a P-256 point: {salt.hex()}")
        try:  # ESYS' ephemeral point must be on the curve (cryptography checks)
            C.ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                            C.ec.SECP256R1()).public_key()
        except ValueError as ex_:
            raise T.Failure(f"[{self.step}] encryptedSalt point not on P-256: {ex_}")
        self.check(cmd[off:] == bytes.fromhex("00" "0006" "0080" "0043" "000b"),
                   f"StartAuthSession tail {cmd[off:].hex()}: expected HMAC, AES-128-CFB, SHA256")
        mark = self.tap.mark()
        r1 = bytes(self.tpm("GetRandom(48) with the salted session", self.e.get_random, 48,
                            session1=salted))
        r2 = bytes(self.tpm("GetRandom(48) with the salted session", self.e.get_random, 48,
                            session1=salted))
        self.check(len(r1) == 48 and len(r2) == 48 and r1 != r2, "salted GetRandom results")
        # With a salt the session key is not empty: the empty-key HMAC must not match, and the
        # empty-key CFB key must not decrypt the response.
        ex = self.tap.since(mark, T.CC_GET_RANDOM)[0]
        _, sessions, _ = parse_command_sessions(ex[0], 0)
        _, _, params, rsessions = parse_response_sessions(ex[1], 0)
        wire, _ = tpm2b(params, 0)
        self.check(wire != r1 and cfb_decrypt(b"", rsessions[0][0], sessions[0][1], wire) != r1,
                   "the salted session encrypts as if its session key were empty")
        self.flush_session(sess)
        self.ok("StartAuthSession salted with the ECC storage key (ESYS: ephemeral P-256 point "
                "on the wire, ECDH + KDFe): ESYS verifies the TPM's response HMACs and decrypts "
                "its responses, which the empty key does not")
        return storage, salted

    def flush_session(self, sess):
        self.tpm("FlushContext(session)", self.e.flush_context, sess)

    def step4_signing(self):
        for bits, hname, alg, hcls in ((256, "sha256", P.TPM2_ALG.SHA256, C.hashes.SHA256),
                                       (384, "sha384", P.TPM2_ALG.SHA384, C.hashes.SHA384)):
            self.step = f"4 signing P-{bits}"
            template = self.ecc_template(bits, hname)
            key, pub, _, _, _ = self.tpm(f"CreatePrimary(ECC P-{bits} signing)",
                                         self.e.create_primary, self.sensitive(), template,
                                         P.ESYS_TR.OWNER)
            self.check(int(pub.publicArea.parameters.eccDetail.curveID) == {256: 3, 384: 4}[bits],
                       f"curve {pub.publicArea.parameters.eccDetail.curveID}")
            self.check_name(key, pub, f"P-{bits} key")
            # Primaries are deterministic: the same template gives the same key.
            key2, pub2, _, _, _ = self.tpm(f"CreatePrimary(ECC P-{bits} signing) again",
                                           self.e.create_primary, self.sensitive(), template,
                                           P.ESYS_TR.OWNER)
            self.check(pub2.publicArea.marshal() == pub.publicArea.marshal(),
                       "CreatePrimary with the same template gave a different key")
            self.tpm("FlushContext", self.e.flush_context, key2)

            message = f"signed by P-{bits} through pytss".encode()
            digest = hashlib.new(hname, message).digest()
            sig = self.tpm(f"Sign(P-{bits}, {hname})", self.e.sign, key, digest,
                           self.sig_scheme(alg), self.null_ticket())
            self.ecdsa_verify(pub, sig, digest, hcls, f"P-{bits}")
            self.check(int(sig.signature.ecdsa.hash) == int(alg),
                       f"signature hash {alg_name(sig.signature.ecdsa.hash)}")
            ticket = self.tpm("VerifySignature", self.e.verify_signature, key, digest, sig)
            self.check(int(ticket.tag) == ST_VERIFIED and int(ticket.hierarchy) == RH_OWNER
                       and len(bytes(ticket.digest)) in (32, 48, 64),
                       f"VerifySignature ticket tag {int(ticket.tag):#x} hierarchy "
                       f"{int(ticket.hierarchy):#x} digest {bytes(ticket.digest).hex()}")
            wrong = bytes([digest[0] ^ 1]) + digest[1:]
            rc = self.tpm_rc("VerifySignature(wrong digest)", self.e.verify_signature, key,
                             wrong, sig)
            self.check(rc == RC_SIGNATURE_P2,
                       f"VerifySignature of a wrong digest: rc {rc:#x}, expected "
                       f"{RC_SIGNATURE_P2:#x} (TPM_RC_SIGNATURE, parameter 2)")
            self.tpm("FlushContext", self.e.flush_context, key)
            self.ok(f"ECC P-{bits} primary: Sign({hname}) verified by cryptography and by "
                    f"VerifySignature (ticket); wrong digest → {rc:#x}")

    def step5_sealing(self, storage, salted):
        self.step = "5 sealing"
        secret = b"pytss sealed secret " + secrets.token_bytes(12)
        password = b"seal-" + secrets.token_hex(6).encode()
        attrs = (P.TPMA_OBJECT.FIXEDTPM | P.TPMA_OBJECT.FIXEDPARENT
                 | P.TPMA_OBJECT.USERWITHAUTH | P.TPMA_OBJECT.NODA)
        template = P.TPM2B_PUBLIC.parse("keyedhash", objectAttributes=attrs)
        mark = self.tap.mark()
        priv, pub, _, _, _ = self.tpm("Create(sealed KEYEDHASH) with the salted session",
                                      self.e.create, storage, self.sensitive(password, secret),
                                      template, session1=salted)
        create_cmd = self.tap.since(mark, 0x153)[0][0]
        self.check(secret not in create_cmd and password not in create_cmd,
                   "the sealed data or its password crossed the wire in clear")
        area = pub.publicArea
        self.check(int(area.type) == 0x0008
                   and int(area.parameters.keyedHashDetail.scheme.scheme) == 0x0010,
                   "sealed object is not a KEYEDHASH with the null scheme")
        # unique = H(seedValue ‖ data): 32 bytes we cannot recompute (seedValue stays inside)
        self.check(len(bytes(area.unique.keyedHash)) == 32, "sealed object unique size")
        sealed = self.tpm("Load(sealed) with the salted session", self.e.load, storage, priv, pub,
                          session1=salted)
        self.check_name(sealed, pub, "sealed object")

        self.tpm("TR_SetAuth(wrong)", self.e.tr_set_auth, sealed, password + b"x")
        rc = self.tpm_rc("Unseal(wrong password)", self.e.unseal, sealed)
        self.check(rc == RC_BAD_AUTH_S1, f"Unseal with a wrong password: rc {rc:#x}, expected "
                                         f"{RC_BAD_AUTH_S1:#x} (TPM_RC_BAD_AUTH, session 1)")
        self.tpm("TR_SetAuth", self.e.tr_set_auth, sealed, password)
        mark = self.tap.mark()
        out = bytes(self.tpm("Unseal with the salted session", self.e.unseal, sealed,
                             session1=salted))
        self.check(out == secret, f"Unseal returned {out!r}, sealed {secret!r}")
        (ex,) = self.tap.since(mark, 0x15E)
        self.check(ex[1] is not None and secret not in ex[1],
                   "the unsealed secret crossed the wire in clear despite response encryption")
        out = bytes(self.tpm("Unseal with a password session", self.e.unseal, sealed))
        self.check(out == secret, f"Unseal (password) returned {out!r}")
        self.tpm("FlushContext(sealed)", self.e.flush_context, sealed)
        self.ok(f"sealed {len(secret)} bytes under the ECC storage key (Create/Load through the "
                f"salted session), Unseal with response encryption returns them (not in clear "
                f"on the wire); wrong password → {rc:#x}")

    def step6_contexts(self, storage, salted):
        self.step = "6 contexts"
        template = self.ecc_template(256, "sha256")
        key, pub, _, _, _ = self.tpm("CreatePrimary(ECC P-256 signing)", self.e.create_primary,
                                     self.sensitive(), template, P.ESYS_TR.OWNER)
        name = self.check_name(key, pub, "key to save")
        handle = int(self.tpm("TR_GetTpmHandle", self.e.tr_get_tpm_handle, key))
        self.check(handle >> 24 == 0x80, f"transient handle {handle:#x}")
        ctx = self.tpm("ContextSave(key)", self.e.context_save, key)
        self.check(int(ctx.hierarchy) == RH_OWNER, f"context hierarchy {int(ctx.hierarchy):#x}")
        self.check(int(ctx.savedHandle) == 0x80000000,
                   f"saved handle of an ordinary object {int(ctx.savedHandle):#x}")
        self.tpm("FlushContext(key)", self.e.flush_context, key)
        self.check(handle not in self.transient_handles(), "key still loaded after FlushContext")
        loaded = self.tpm("ContextLoad(key)", self.e.context_load, ctx)
        self.check_name(loaded, pub, "reloaded key")
        digest = hashlib.sha256(b"signed after ContextLoad").digest()
        sig = self.tpm("Sign(reloaded)", self.e.sign, loaded, digest,
                       self.sig_scheme(P.TPM2_ALG.SHA256), self.null_ticket())
        self.ecdsa_verify(pub, sig, digest, C.hashes.SHA256, "reloaded key")
        # An object context can be loaded again (a second copy).
        copy = self.tpm("ContextLoad(key) again", self.e.context_load, ctx)
        self.check_name(copy, pub, "second copy")
        self.tpm("FlushContext(copy)", self.e.flush_context, copy)
        self.ok(f"ContextSave (savedHandle {int(ctx.savedHandle):#x}) / FlushContext / "
                "ContextLoad (twice) of an ECC key; the reloaded key signs (verified)")

        # TR_FromTPMPublic: forget the key in ESYS (TR_Close, nothing sent), then build a new
        # ESYS_TR from the TPM handle (ESYS reads the public area and computes the name).
        # While ESYS still knows the handle, TR_FromTPMPublic hands back the same ESYS_TR.
        tpm_handle = int(self.tpm("TR_GetTpmHandle", self.e.tr_get_tpm_handle, loaded))
        self.tpm("TR_Close", self.e.tr_close, loaded)
        mark = self.tap.mark()
        tr = self.tpm("TR_FromTPMPublic", self.e.tr_from_tpmpublic, tpm_handle)
        self.check(self.tap.since(mark, 0x173), "TR_FromTPMPublic sent no ReadPublic")
        self.check(bytes(self.tpm("TR_GetName", self.e.tr_get_name, tr)) == name,
                   "TR_FromTPMPublic name differs")
        sig = self.tpm("Sign(TR_FromTPMPublic)", self.e.sign, tr, digest,
                       self.sig_scheme(P.TPM2_ALG.SHA256), self.null_ticket())
        self.ecdsa_verify(pub, sig, digest, C.hashes.SHA256, "key via TR_FromTPMPublic")
        self.tpm("TR_Close", self.e.tr_close, tr)
        # The same with a session: ESYS reads the public area a second time with the session
        # (ReadPublic authorizes nothing: the session only encrypts the response).
        enc = self.aes_cfb_session(attrs=P.TPMA_SESSION.ENCRYPT | P.TPMA_SESSION.CONTINUESESSION)
        mark = self.tap.mark()
        tr = self.tpm("TR_FromTPMPublic(encrypt session)", self.e.tr_from_tpmpublic, tpm_handle,
                      enc)
        reads = self.tap.since(mark, 0x173)
        self.check(any(struct.unpack(">H", c[:2])[0] == T.ST_SESSIONS for c, _ in reads),
                   "TR_FromTPMPublic with a session sent no ReadPublic with sessions")
        self.check(bytes(self.tpm("TR_GetName", self.e.tr_get_name, tr)) == name,
                   "TR_FromTPMPublic (with a session) name differs")
        blob = self.tpm("TR_Serialize", self.e.tr_serialize, tr)
        self.tpm("TR_Close", self.e.tr_close, tr)
        loaded = self.tpm("TR_Deserialize", self.e.tr_deserialize, blob)
        self.check(bytes(self.tpm("TR_GetName", self.e.tr_get_name, loaded)) == name,
                   "TR_Deserialize name differs")
        self.ok("TR_Close + TR_FromTPMPublic (without and with an encrypt session), "
                "TR_Serialize / TR_Deserialize: same name; the new ESYS_TR signs (verified)")

        # Session contexts: save the salted session, load it back, keep using it.
        sess_handle = int(self.tpm("TR_GetTpmHandle", self.e.tr_get_tpm_handle, salted))
        sctx = self.tpm("ContextSave(salted session)", self.e.context_save, salted)
        self.check(int(sctx.savedHandle) == sess_handle,
                   f"session context savedHandle {int(sctx.savedHandle):#x}, "
                   f"session {sess_handle:#x}")
        salted2 = self.tpm("ContextLoad(salted session)", self.e.context_load, sctx)
        self.check(int(self.tpm("TR_GetTpmHandle", self.e.tr_get_tpm_handle, salted2))
                   == sess_handle, "reloaded session has another handle")
        r = bytes(self.tpm("GetRandom(16) with the reloaded salted session", self.e.get_random,
                           16, session1=salted2))
        self.check(len(r) == 16, "GetRandom length")
        # ... and still authorizes with the storage key's password (HMAC keyed with it).
        digest2 = hashlib.sha256(b"after reloading the session").digest()
        self.tpm("TR_SetAuth(storage)", self.e.tr_set_auth, storage, self.storage_auth)
        child_pub = self.ecc_template(256, "sha256")
        priv, cpub, _, _, _ = self.tpm("Create(child signing key) with the reloaded session",
                                       self.e.create, storage, self.sensitive(), child_pub,
                                       session1=salted2)
        child = self.tpm("Load(child) with the reloaded session", self.e.load, storage, priv,
                         cpub, session1=salted2)
        sig = self.tpm("Sign(child)", self.e.sign, child, digest2,
                       self.sig_scheme(P.TPM2_ALG.SHA256), self.null_ticket())
        self.ecdsa_verify(cpub, sig, digest2, C.hashes.SHA256, "child key")
        self.tpm("FlushContext(child)", self.e.flush_context, child)
        self.ok(f"ContextSave / ContextLoad of the salted session (handle {sess_handle:#x}); "
                "it still encrypts and authorizes Create/Load of a child key (signature verified)")

        for h in (loaded, storage):
            self.tpm("FlushContext", self.e.flush_context, h)
        for s in (salted2, enc):
            self.flush_session(s)
        after = self.transient_handles()
        self.check(sorted(after) == sorted(self.initial_transients),
                   f"transient objects now {[hex(h) for h in after]}, at the start "
                   f"{[hex(h) for h in self.initial_transients]}")
        self.ok("FlushContext of everything: the transient objects are those at the start "
                f"({len(after)})")


def main():
    global P, C
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tcti", required=True,
                    help="mssim:host=H,port=P | swtpm:host=H,port=P | spawn:swtpm | "
                         "spawn:host-sim[=PATH]")
    ap.add_argument("--ours", action="store_true", help="also check vTPM-specific rules")
    args = ap.parse_args()
    # ESYS logs every TPM error at ERROR level; the expected ones would clutter the output
    # (failures are reported with their response code and wire bytes anyway).
    os.environ.setdefault("TSS2_LOG", "all+NONE")
    try:
        import tpm2_pytss
        import tpm2_pytss.types  # noqa: F401
    except ImportError as ex:
        raise T.Skip(f"tpm2-pytss missing ({ex}): apt-get install python3-tpm2-pytss "
                     f"(and run Debian's /usr/bin/python3)")
    try:
        import types
        from cryptography import exceptions as cexc
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, utils
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    except ImportError as ex:
        raise T.Skip(f"python3-cryptography missing ({ex}): apt-get install python3-cryptography")
    try:  # cryptography ≥ 47 moved CFB here (and warns on the old name)
        from cryptography.hazmat.decrepit.ciphers.modes import CFB
    except ImportError:
        CFB = modes.CFB
    P = types.SimpleNamespace(**{n: getattr(tpm2_pytss, n) for n in dir(tpm2_pytss)
                                 if not n.startswith("_")})
    C = types.SimpleNamespace(ec=ec, utils=utils, hashes=hashes, Cipher=Cipher,
                              algorithms=algorithms, CFB=CFB,
                              InvalidSignature=cexc.InvalidSignature)
    with open_target(args.tcti) as tcti:
        T.require_tcti_library(T.Tcti(tcti).kind)
        try:
            from importlib.metadata import version
            pytss_version = version("tpm2-pytss")
        except Exception:
            pytss_version = "?"
        T.log(f"pytss_esapi: tpm2-pytss {pytss_version}, TCTI {tcti}")
        tap = WireTap(tcti).start()
        try:
            try:
                ectx = P.ESAPI(tap.tcti)
            except P.TSS2_Exception as ex:
                raise T.Failure(f"ESAPI({tap.tcti}) (via a tap on {tcti}): {ex}")
            with ectx:
                EsapiTest(ectx, tap, args.ours).run()
        finally:
            tap.stop()
        T.log("pytss_esapi: all checks passed")


if __name__ == "__main__":
    T.run_main(main)
