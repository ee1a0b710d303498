#!/usr/bin/python3
"""The Linux kernel's TPM HMAC sessions (CONFIG_TCG_TPM2_HMAC), replayed on two TPMs.

    /usr/bin/python3 tests/clients/kernel_hmac.py --tcti mssim:host=127.0.0.1,port=N
        [--ref-tcti swtpm:host=127.0.0.1,port=M]      # default: spawn:swtpm (a fresh one)

The commands are built as drivers/char/tpm (tpm2-cmd.c, tpm2-sessions.c, tpm2-space.c,
tpm-dev-common.c; HMAC sessions since Linux 6.10, the null key's integrity check as in current
mainline) builds them, byte for byte, and the responses are
parsed with the driver's checks; the cryptography (ECDH on P-256, KDFe, KDFa, HMAC-SHA256,
AES-128-CFB) is done here with `cryptography`, hashlib and hmac, as an independent check:

  boot        tpm2_auto_startup: SelfTest before Startup (TPM_RC_INITIALIZE), Startup(CLEAR),
              SelfTest; TPM_PT_TOTAL_COMMANDS and the whole TPM_CAP_COMMANDS list in one
              answer (the driver fails otherwise); the PCR allocation;
  null key    tpm2_sessions_init: CreatePrimary(TPM_RH_NULL) with the driver's P-256 template,
              every field of the answer checked as tpm2_parse_create_primary does, the Name
              (computed from outPublic) equal to the one the TPM returns, ContextSave and
              FlushContext of the key;
  sessions    tpm2_start_auth_session: ContextLoad of the saved null key, StartAuthSession
              salted by ECDH to it (KDFe "SECRET", 32-byte nonces, AES-128-CFB, SHA-256; the
              answer must be exactly handle + a 32-byte nonceTPM), FlushContext of the key;
              sessionKey = KDFa(salt, "ATH", nonceTPM, nonceCaller);
  PCR_Extend  tpm2_pcr_extend under the session (the PCR handle as its own Name, every
              allocated bank), the response HMAC checked as tpm_buf_check_hmac_response does,
              PCR 10 read back and compared with hashlib;
  GetRandom   tpm2_get_random with response encryption (more bytes than one answer holds, so
              the driver's loop runs twice), response HMAC checked, bytes decrypted; then the
              same decrypt/encrypt code on TPM2_Hash (parameter encryption both ways, the
              digest compared with hashlib);
  continue    the driver always sets continueSession: the session survives commands, a failed
              command (PCR 17 at locality 0: TPM_RC_LOCALITY; a digest changed in flight after
              the HMAC was computed: TPM_RC_BAD_AUTH, a PCR has no DA protection) leaves it and
              its nonceTPM unchanged and the next command goes through; without continueSession
              the TPM ends the session itself; tpm2_end_auth_session flushes it;
  tpm2-space  /dev/tpmrm0 as tpm_dev_transmit does it: the kernel's session flushed before a
              user command, the user's objects and sessions loaded (ContextLoad) before each
              command and saved after it (ContextSave; objects also flushed), virtual handles
              0x80FFFFFF.. mapped both ways (GetCapability(HANDLES) too), a session restored
              to its own handle, FlushContext from user space (ContextSave then answers
              TPM_RC_REFERENCE_H0, which the driver needs to forget the entry); the user flow:
              a P-256 primary, a session salted to it, Create of a sealed object (encrypted
              sensitive data), Load, Unseal with response encryption, interleaved with the
              kernel's own extends;
  suspend     tpm_pm_suspend / resume: Shutdown(STATE), _TPM_Init, Startup(STATE): the saved
              null key still loads (same null seed), PCR 10 keeps its value, a user's session
              saved in /dev/tpmrm0's space before the suspend loads and works; hibernation
              (Shutdown(STATE), then Startup(CLEAR): a TPM Restart): the same, PCR 10 reset;
  trusted     trusted_tpm2.c: seal (Create with decrypt) under a persistent SRK, Load, Unseal
              with encrypt; keyauth and blobauth with trailing zeros; wrong ones refused;
  capacity    /dev/tpmrm0 users keep saved sessions until the TPM has no handle left:
              TPM_RC_SESSION_HANDLES (ours after 16, swtpm after 64);
  attacks     a TPM Reset between uses: the saved null key no longer loads (TPM_RC_INTEGRITY,
              which the driver needs to try again), the recreated key has another Name and the
              driver disables the chip; the user's saved contexts fail too; a response whose
              HMAC or encrypted parameter was changed in flight is refused; a CreatePrimary
              answer with another public key fails the Name check.

Both TPMs run the same sequence; every response code and every checked value (PCR values,
counts, which checks held) must be identical, and each check must hold.

The TPM Reset and Resume need _TPM_Init: the mssim platform port (POWER_OFF, POWER_ON,
NV_ON) for our simulator, swtpm's control channel (CMD_INIT) for swtpm.

Exit status: 0 identical, 1 a difference or failure, 77 a prerequisite is missing.
"""

import argparse
import hashlib
import hmac
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpmlib as T  # noqa: E402
from servers import open_target  # noqa: E402

try:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
except ImportError:  # checked in main()
    ec = None

# --- constants (TCG TPM 2.0 Part 2; names as in include/linux/tpm.h) ----------------------
ST_NO_SESSIONS, ST_SESSIONS, ST_CREATION = 0x8001, 0x8002, 0x8021
RH_OWNER, RH_NULL, RS_PW = 0x40000001, 0x40000007, 0x40000009
ALG_AES, ALG_KEYEDHASH, ALG_SHA256, ALG_NULL = 0x0006, 0x0008, 0x000B, 0x0010
ALG_ECC, ALG_CFB, ECC_NIST_P256 = 0x0023, 0x0043, 0x0003
CC = dict(
    CreatePrimary=0x131, SelfTest=0x143, Startup=0x144, Shutdown=0x145, Create=0x153,
    Load=0x157, Unseal=0x15E, ContextLoad=0x161, ContextSave=0x162, FlushContext=0x165,
    StartAuthSession=0x176, ReadPublic=0x173, EvictControl=0x120, GetCapability=0x17A, GetRandom=0x17B, Hash=0x17D, PCR_Read=0x17E,
    PCR_Extend=0x182,
)
CC_NAME = {v: k for k, v in CC.items()}
CC_FIRST = 0x11F
CAP_HANDLES, CAP_COMMANDS, CAP_PCRS, CAP_TPM_PROPERTIES = 1, 2, 5, 6
PT_TOTAL_COMMANDS = 0x129
SU_CLEAR, SU_STATE = 0, 1
RC_INITIALIZE, RC_TESTING, RC_RETRY = 0x100, 0x90A, 0x922
RC_HANDLE, RC_REFERENCE_H0, RC_INTEGRITY = 0x08B, 0x910, 0x09F
SA_CONTINUE, SA_DECRYPT, SA_ENCRYPT = 0x01, 0x20, 0x40
SE_HMAC = 0x00
CC_ATTR_CHANDLES, CC_ATTR_RHANDLE, CC_ATTR_VENDOR = 25, 28, 29
# TPM2_OA_NULL_KEY: noDA, fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, decrypt,
# restricted.
OA_NULL_KEY = 0x400 | 0x2 | 0x10 | 0x20 | 0x40 | 0x20000 | 0x10000
OA_USER_SRK = 0x2 | 0x10 | 0x20 | 0x40 | 0x20000 | 0x10000
OA_SEALED = 0x2 | 0x10 | 0x40 | 0x400
AES_KEY_BYTES, EC_PT_SZ, DIGEST = 16, 32, 32
EINVAL, ENOENT, EFAULT, ENODEV, ENOMEM = 22, 2, 14, 19, 12
ERRNO = {EINVAL: "-EINVAL", ENOENT: "-ENOENT", EFAULT: "-EFAULT", ENODEV: "-ENODEV"}
IMA_PCR = 10
SRK_HANDLE = 0x81000001


def b2(data):
    return struct.pack(">H", len(data)) + data


def u16(v):
    return struct.pack(">H", v)


def u32(v):
    return struct.pack(">I", v)


def sha256(data):
    return hashlib.sha256(data).digest()


def rc_value(rc):
    """tpm2_rc_value(): the error number without the parameter / handle / session bits."""
    return rc & 0xBF if rc & 0x80 else rc


def errname(rc):
    if rc < 0:
        return ERRNO.get(-rc, f"-{-rc}")
    return f"{rc:#x}"


# --- the cryptography, written from the specification (Part 1 §11.4.10) -----------------
def kdfa(key, label, u, v, nbytes):
    """KDFa(SHA-256, key, label, contextU, contextV, 8 * nbytes)."""
    out, counter = b"", 1
    while len(out) < nbytes:
        out += hmac.new(key, u32(counter) + label + b"\0" + u + v + u32(8 * nbytes),
                        "sha256").digest()
        counter += 1
    return out[:nbytes]


def kdfe(z, label, party_u, party_v):
    """KDFe(SHA-256, Z, label, PartyUInfo, PartyVInfo, 256): one hash block."""
    return sha256(u32(1) + z + label + b"\0" + party_u + party_v)


def aes_cfb(key, iv, data, encrypt):
    c = Cipher(algorithms.AES(key), modes.CFB(iv))
    op = c.encryptor() if encrypt else c.decryptor()
    return op.update(data) + op.finalize()


def ecdh_salt(x, y):
    """An ephemeral P-256 key: (encrypted salt TPM2B bytes, salt) for the TPM key (x, y)."""
    tpm_key = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                            ec.SECP256R1()).public_key()
    eph = ec.generate_private_key(ec.SECP256R1())
    z = eph.exchange(ec.ECDH(), tpm_key)
    pub = eph.public_key().public_numbers()
    qx, qy = pub.x.to_bytes(EC_PT_SZ, "big"), pub.y.to_bytes(EC_PT_SZ, "big")
    secret = b2(b2(qx) + b2(qy))
    return secret, kdfe(z, b"SECRET", qx, x)


class KernelError(Exception):
    """A check of the driver failed: what the driver returns (a negative errno)."""

    def __init__(self, errno, why):
        super().__init__(why)
        self.errno = -errno
        self.why = why


class Reader:
    def __init__(self, data, off=0):
        self.data, self.off = data, off

    def take(self, n):
        if self.off + n > len(self.data):
            raise KernelError(EINVAL, f"read past the end of {self.data.hex()}")
        out = self.data[self.off:self.off + n]
        self.off += n
        return out

    def u8(self):
        return self.take(1)[0]

    def skip(self):
        """Skip a TPM2B."""
        n = self.u16()
        self.off += n

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]


def command(tag, cc, body):
    return struct.pack(">HII", tag, 10 + len(body), cc) + body


# --- a TPM behind a socket, with a transcript -----------------------------------------------
class Tpm:
    def __init__(self, label, tcti):
        self.label = label
        self.tcti = T.Tcti(tcti)
        self.raw = T.RawTpm(self.tcti)
        self.rows = []          # (what, value): every response code and checked value
        self.info = []          # what may differ (capacities), printed only
        self.quiet = False      # while set, commands are not recorded one by one
        self.mitm_cmd = None    # callables that change bytes in flight (attack cases)
        self.mitm_rsp = None

    def transmit(self, cmd, what=None, locality=0):
        if self.mitm_cmd:
            cmd, self.mitm_cmd = self.mitm_cmd(cmd), None
        for _ in range(3):  # TPM_RC_RETRY is resubmitted (tpm_transmit does so)
            out = self.raw.send(cmd, locality=locality, framing="mssim")
            T.check(out.ok, f"[{self.label}] no response to {cmd.hex()}: {out.describe()}")
            if out.rc != RC_RETRY:
                break
        data = out.data
        if self.mitm_rsp:
            data, self.mitm_rsp = self.mitm_rsp(data), None
        cc = struct.unpack(">I", cmd[6:10])[0]
        self.row(what or CC_NAME.get(cc, f"{cc:#x}"), f"{out.rc:#x}")
        return out.rc, data

    def row(self, what, value):
        if not self.quiet:
            self.rows.append((what, value))

    def expect(self, what, cond, detail=""):
        """A check that must hold on every TPM (recorded, and failed at once)."""
        self.row(what, "yes" if cond else "NO")
        T.check(cond, f"[{self.label}] {what}: does not hold {detail}")

    def init(self):
        """_TPM_Init: power-cycle (mssim platform port) or CMD_INIT (swtpm control port)."""
        with socket.create_connection((self.tcti.host, self.tcti.port + 1), 10) as s:
            if self.tcti.kind == "mssim":
                for code in (2, 1, 11):  # POWER_OFF, POWER_ON, NV_ON
                    s.sendall(u32(code))
                    T.check(T._recv_exact(s, 4) == bytes(4), f"platform code {code} refused")
            else:
                s.sendall(struct.pack(">II", 2, 0))  # CMD_INIT, no flags
                (res,) = struct.unpack(">I", T._recv_exact(s, 4))
                T.check(res == 0, f"swtpm CMD_INIT answered {res:#x}")
        self.row("_TPM_Init", "done")


# --- an HMAC session as the caller keeps it (struct tpm2_auth) -----------------------------
class Auth:
    def __init__(self, handle, our_nonce, tpm_nonce, session_key):
        self.handle = handle
        self.our_nonce = our_nonce
        self.tpm_nonce = tpm_nonce
        self.session_key = session_key
        self.passphrase = b""
        self.attrs = 0


def hmac_command(cc, handles, names, auth, attrs, params, passphrase=b""):
    """tpm_buf_append_name / tpm_buf_append_hmac_session / tpm_buf_fill_hmac_session.

    A fresh 32-byte nonceCaller per command; the first parameter (a TPM2B) encrypted with
    AES-128-CFB when `attrs` has decrypt; cpHash over the Names and the encrypted parameters.
    """
    auth.attrs = attrs
    auth.passphrase = passphrase.rstrip(b"\0")
    auth.our_nonce = os.urandom(DIGEST)
    if attrs & SA_DECRYPT:
        kiv = kdfa(auth.session_key + auth.passphrase, b"CFB", auth.our_nonce, auth.tpm_nonce,
                   AES_KEY_BYTES + 16)
        (n,) = struct.unpack(">H", params[:2])
        params = params[:2] + aes_cfb(kiv[:16], kiv[16:], params[2:2 + n], True) + params[2 + n:]
    cp = sha256(u32(cc) + b"".join(names) + params)
    key = auth.session_key + auth.passphrase
    mac = hmac.new(key, cp + auth.our_nonce + auth.tpm_nonce + bytes([attrs]), "sha256").digest()
    area = u32(auth.handle) + b2(auth.our_nonce) + bytes([attrs]) + b2(mac)
    body = b"".join(u32(h) for h in handles) + u32(len(area)) + area + params
    return command(ST_SESSIONS, cc, body)


def check_hmac_response(cc, rsp, rsp_handles, auth):
    """tpm_buf_check_hmac_response for a successful answer: (params, decrypted).

    Raises KernelError(EINVAL) where the driver answers -EINVAL (and logs "HMAC check
    failed"). nonceTPM is taken from the answer before the HMAC is checked, as the driver does.
    """
    r = Reader(rsp)
    tag, size, rc = struct.unpack(">HII", r.take(10))
    if tag != ST_SESSIONS:
        raise KernelError(EINVAL, "HMAC response check has no sessions tag")
    r.take(4 * rsp_handles)
    parm_len = r.u32()
    params = r.take(parm_len)
    nonce_len = r.u16()
    if nonce_len != DIGEST or r.off + nonce_len > len(rsp):
        raise KernelError(EINVAL, f"nonceTPM of {nonce_len} bytes")
    auth.tpm_nonce = r.take(nonce_len)
    rsp_attrs = r.u8()
    mac_len = r.u16()
    if r.off + mac_len != len(rsp) or mac_len != DIGEST:
        raise KernelError(EINVAL, f"response HMAC of {mac_len} bytes not at the end")
    mac = r.take(mac_len)
    rp = sha256(u32(rc) + u32(cc) + params)
    key = auth.session_key + auth.passphrase
    want = hmac.new(key, rp + auth.tpm_nonce + auth.our_nonce + bytes([auth.attrs]),
                    "sha256").digest()
    if not hmac.compare_digest(want, mac):
        raise KernelError(EINVAL, f"TPM: HMAC check failed (response attributes "
                                  f"{rsp_attrs:#x}, sent {auth.attrs:#x})")
    plain = params
    if auth.attrs & SA_ENCRYPT:
        kiv = kdfa(key, b"CFB", auth.tpm_nonce, auth.our_nonce, AES_KEY_BYTES + 16)
        (n,) = struct.unpack(">H", params[:2])
        plain = params[:2] + aes_cfb(kiv[:16], kiv[16:], params[2:2 + n], False) + params[2 + n:]
    return params, plain


# --- the driver -----------------------------------------------------------------------------
def null_key_template():
    """The driver's TPM2B_PUBLIC template (TCG SRK template H: P-256, zero-size unique)."""
    t = (u16(ALG_ECC) + u16(ALG_SHA256) + u32(OA_NULL_KEY) + u16(0)
         + u16(ALG_AES) + u16(128) + u16(ALG_CFB) + u16(ALG_NULL)
         + u16(ECC_NIST_P256) + u16(ALG_NULL) + u16(0) + u16(0))
    return b2(t)


def parse_ecc_public(pub, attrs):
    """The field checks of tpm2_parse_create_primary on TPMT_PUBLIC: (x, y)."""
    r = Reader(pub)
    for want, what in ((ALG_ECC, "type"), (ALG_SHA256, "nameAlg")):
        if r.u16() != want:
            raise KernelError(EINVAL, f"outPublic {what}")
    if r.u32() != attrs:
        raise KernelError(EINVAL, "outPublic objectAttributes")
    for want, what in ((0, "authPolicy size"), (ALG_AES, "symmetric"), (128, "keyBits"),
                       (ALG_CFB, "mode"), (ALG_NULL, "scheme"), (ECC_NIST_P256, "curve"),
                       (ALG_NULL, "kdf"), (EC_PT_SZ, "x size")):
        if r.u16() != want:
            raise KernelError(EINVAL, f"outPublic {what}")
    x = r.take(EC_PT_SZ)
    if r.u16() != EC_PT_SZ:
        raise KernelError(EINVAL, "outPublic y size")
    y = r.take(EC_PT_SZ)
    if r.off != len(pub):
        raise KernelError(EINVAL, "outPublic not consumed exactly")
    return x, y


class Kernel:
    """struct tpm_chip with CONFIG_TCG_TPM2_HMAC, talking to one TPM."""

    def __init__(self, tpm):
        self.tpm = tpm
        self.cc_attrs = []
        self.banks = []
        self.null_key_context = None
        self.null_key_name = None
        self.null_x = self.null_y = None
        self.auth = None
        self.disabled = False
        self.last_name = None

    # tpm2_find_cc and the handle counts of TPMA_CC ---------------------------------------
    def cc_attr(self, cc):
        mask = 1 << CC_ATTR_VENDOR | 0xFFFF
        for a in self.cc_attrs:
            if a & mask == cc:
                return a
        raise KernelError(EINVAL, f"command {cc:#x} not found in TPM")

    def chandles(self, cc):
        return (self.cc_attr(cc) >> CC_ATTR_CHANDLES) & 7

    def rhandle(self, cc):
        return (self.cc_attr(cc) >> CC_ATTR_RHANDLE) & 1

    # boot ------------------------------------------------------------------------------------
    def selftest(self):
        for full in (0, 1):
            rc, _ = self.tpm.transmit(command(ST_NO_SESSIONS, CC["SelfTest"], bytes([full])),
                                      f"SelfTest(fullTest={full})")
            if rc == RC_TESTING:
                rc = 0
            if rc in (RC_INITIALIZE, 0):
                return rc
        return rc

    def get_tpm_pt(self, prop):
        rc, data = self.tpm.transmit(command(ST_NO_SESSIONS, CC["GetCapability"],
                                             u32(CAP_TPM_PROPERTIES) + u32(prop) + u32(1)),
                                     f"GetCapability(TPM_PROPERTIES, {prop:#x})")
        T.check(rc == 0, f"[{self.tpm.label}] GetCapability(TPM_PROPERTIES): {rc:#x}")
        r = Reader(data, 10)
        r.u8()
        r.u32()
        T.check(r.u32() > 0, "no property returned")
        r.u32()
        return r.u32()

    def get_cc_attrs_tbl(self):
        n = self.get_tpm_pt(PT_TOTAL_COMMANDS)
        rc, data = self.tpm.transmit(command(ST_NO_SESSIONS, CC["GetCapability"],
                                             u32(CAP_COMMANDS) + u32(CC_FIRST) + u32(n)),
                                     "GetCapability(COMMANDS, TPM_CC_FIRST, TOTAL_COMMANDS)")
        T.check(rc == 0, f"[{self.tpm.label}] GetCapability(COMMANDS): {rc:#x}")
        r = Reader(data, 10 + 5)
        count = r.u32()
        self.tpm.expect("TPM_CAP_COMMANDS lists TPM_PT_TOTAL_COMMANDS commands in one answer "
                        "(else the driver gives up: -EFAULT)", count == n,
                        f"({count} of {n})")
        for _ in range(count):
            a = r.u32()
            if a & 0xFFFF in (CC["ContextSave"], CC["FlushContext"]):
                a = (a & ~(7 << CC_ATTR_CHANDLES)) | 1 << CC_ATTR_CHANDLES
            self.cc_attrs.append(a)
        for name in ("CreatePrimary", "Create", "Load", "Unseal", "ContextLoad",
                     "StartAuthSession", "GetCapability", "GetRandom", "Hash", "PCR_Read",
                     "PCR_Extend"):
            a = self.cc_attr(CC[name])
            self.tpm.row(f"TPMA_CC({name}): cHandles, rHandle, nv, extensive, flushed",
                         ((a >> 25) & 7, (a >> 28) & 1, (a >> 22) & 1, (a >> 23) & 1,
                          (a >> 24) & 1))

    def get_pcr_allocation(self):
        rc, data = self.tpm.transmit(command(ST_NO_SESSIONS, CC["GetCapability"],
                                             u32(CAP_PCRS) + u32(0) + u32(1)),
                                     "GetCapability(PCRS)")
        T.check(rc == 0, f"GetCapability(PCRS): {rc:#x}")
        r = Reader(data, 10 + 5)
        for _ in range(r.u32()):
            alg, n = r.u16(), r.u8()
            if any(r.take(n)):
                self.banks.append(alg)
        self.tpm.row("allocated banks", tuple(T.ALG_NAMES.get(a, hex(a)) for a in self.banks))

    def auto_startup(self):
        rc = self.selftest()
        self.tpm.expect("SelfTest before Startup answers TPM_RC_INITIALIZE", rc == RC_INITIALIZE)
        rc, _ = self.tpm.transmit(command(ST_NO_SESSIONS, CC["Startup"], u16(SU_CLEAR)))
        T.check(rc == 0, f"[{self.tpm.label}] Startup: {rc:#x}")
        T.check(self.selftest() == 0, "SelfTest after Startup failed")
        self.get_cc_attrs_tbl()
        self.get_pcr_allocation()
        self.sessions_init()

    # the null primary -----------------------------------------------------------------------
    def create_primary(self, hierarchy, init_name, mitm=None):
        """tpm2_create_primary + tpm2_parse_create_primary: (rc or -errno, handle, name)."""
        pw = u32(9) + u32(RS_PW) + u16(0) + b"\0" + u16(0)  # tpm_buf_append_empty_auth
        body = (u32(hierarchy) + pw + u16(4) + u16(0) + u16(0) + null_key_template()
                + u16(0) + u32(0))
        self.tpm.mitm_rsp = mitm
        rc, data = self.tpm.transmit(command(ST_SESSIONS, CC["CreatePrimary"], body),
                                     "CreatePrimary(TPM_RH_NULL, the driver's template)")
        if rc:
            return rc, None, None
        try:
            handle, name = self.parse_create_primary(data, hierarchy, init_name)
        except KernelError as e:
            self.tpm.row(f"tpm2_parse_create_primary: {e.why}", errname(e.errno))
            return e.errno, None, None
        return 0, handle, name

    def parse_create_primary(self, data, hierarchy, init_name):
        r = Reader(data, 10)
        (total_len,) = struct.unpack(">I", data[2:6])
        handle = r.u32()
        param_len = r.u32() + 10
        if param_len + 8 > total_len:
            raise KernelError(EINVAL, "parameterSize larger than the answer")
        n = r.u16()
        pub = data[r.off:r.off + n]
        name = u16(ALG_SHA256) + sha256(pub)
        self.last_name = name
        if init_name:
            self.null_key_name = name
        self.null_x, self.null_y = parse_ecc_public(pub, OA_NULL_KEY)
        r.off += n
        if r.off > param_len:
            raise KernelError(EINVAL, "outPublic past the parameters")
        r.skip()  # creationData
        if r.off > param_len:
            raise KernelError(EINVAL, "creationData past the parameters")
        n = r.u16()
        r.off += n
        if n != DIGEST or r.off > param_len:
            raise KernelError(EINVAL, f"creationHash of {n} bytes")
        if r.u16() != ST_CREATION or r.off > param_len:
            raise KernelError(EINVAL, "creationTicket tag")
        if r.u32() != hierarchy or r.off > param_len:
            raise KernelError(EINVAL, "creationTicket hierarchy")
        r.skip()
        if r.off > param_len:
            raise KernelError(EINVAL, "creationTicket digest past the parameters")
        n = r.u16()
        if r.off + n != param_len + 8 or n != DIGEST + 2:
            raise KernelError(EINVAL, "name is not the last parameter or not a SHA-256 Name")
        if not hmac.compare_digest(self.null_key_name, data[r.off:r.off + n]):
            raise KernelError(EINVAL, "NULL Seed name comparison failed")
        return handle, name

    def save_context(self, handle):
        """tpm2_save_context: (0 or -errno, TPMS_CONTEXT bytes)."""
        rc, data = self.tpm.transmit(command(ST_NO_SESSIONS, CC["ContextSave"], u32(handle)))
        if rc == RC_REFERENCE_H0:
            return -ENOENT, None
        if rc:
            return -EFAULT, None
        return 0, data[10:]

    def load_context(self, blob):
        """tpm2_load_context: (0 or -errno, handle)."""
        (n,) = struct.unpack(">H", blob[16:18])
        rc, data = self.tpm.transmit(command(ST_NO_SESSIONS, CC["ContextLoad"], blob[:18 + n]))
        if rc_value(rc) == RC_HANDLE or rc == RC_REFERENCE_H0:
            return -ENOENT, 0
        if rc_value(rc) == RC_INTEGRITY:
            return -EINVAL, 0
        if rc:
            return -EFAULT, 0
        return 0, struct.unpack(">I", data[10:14])[0]

    def flush(self, handle):
        rc, _ = self.tpm.transmit(command(ST_NO_SESSIONS, CC["FlushContext"], u32(handle)))
        return rc

    def sessions_init(self):
        rc, handle, _ = self.create_primary(RH_NULL, init_name=True)
        T.check(rc == 0, f"[{self.tpm.label}] null key creation failed with {errname(rc)}")
        self.tpm.expect("null key: Name from outPublic equals the returned Name", True)
        rc, self.null_key_context = self.save_context(handle)
        T.check(rc == 0, f"[{self.tpm.label}] ContextSave(null key): {errname(rc)}")
        self.flush(handle)

    def load_null(self):
        rc, handle = self.load_context(self.null_key_context)
        if rc != -EINVAL:
            if rc == 0:
                return handle
        else:
            # An integrity failure: create the key again; its Name must not have changed.
            rc, handle, name = self.create_primary(RH_NULL, init_name=False)
            if rc == 0 and name == self.null_key_name:
                return handle
            if rc == 0:
                self.flush(handle)
        self.disabled = True
        self.tpm.row("null key integrity check failed: chip disabled", errname(-ENODEV))
        raise KernelError(ENODEV, "null key integrity check failed")

    def start_auth_session(self):
        if self.auth:
            return
        null_key = self.load_null()
        our_nonce = os.urandom(DIGEST)
        secret, salt = ecdh_salt(self.null_x, self.null_y)
        body = (u32(null_key) + u32(RH_NULL) + b2(our_nonce) + secret + bytes([SE_HMAC])
                + u16(ALG_AES) + u16(128) + u16(ALG_CFB) + u16(ALG_SHA256))
        rc, data = self.tpm.transmit(command(ST_NO_SESSIONS, CC["StartAuthSession"], body),
                                     "StartAuthSession(salted by ECDH to the null key)")
        self.flush(null_key)
        if rc:
            raise KernelError(EFAULT, f"StartAuthSession {rc:#x}")
        if len(data) != 10 + 4 + 2 + DIGEST:
            raise KernelError(EINVAL, f"StartAuthSession answer of {len(data)} bytes")
        r = Reader(data, 10)
        handle = r.u32()
        if r.u16() != DIGEST:
            raise KernelError(EINVAL, "nonceTPM is not 32 bytes")
        tpm_nonce = r.take(DIGEST)
        self.auth = Auth(handle, our_nonce, tpm_nonce,
                         kdfa(salt, b"ATH", tpm_nonce, our_nonce, DIGEST))

    def end_auth_session(self):
        if self.auth:
            self.flush(self.auth.handle)
            self.auth = None

    def run_hmac(self, cc, handles, names, attrs, params, what, passphrase=b"", locality=0):
        """Fill, transmit, check: (rc or -errno, decrypted parameters)."""
        attrs |= SA_CONTINUE  # "The first write to /dev/tpm{rm0} will flush the session."
        return self.run_session(cc, handles, names, attrs, params, what, passphrase, locality)

    def run_session(self, cc, handles, names, attrs, params, what, passphrase=b"",
                    locality=0):
        auth = self.auth
        cmd = hmac_command(cc, handles, names, auth, attrs, params, passphrase)
        rc, data = self.tpm.transmit(cmd, what, locality=locality)
        self.last_rsp = data
        out = None
        if rc == 0:
            try:
                _, out = check_hmac_response(cc, data, self.rhandle(cc), auth)
            except KernelError as e:
                self.tpm.row(f"{what}: response check: {e.why.split(' (')[0]}", "-EINVAL")
                rc = -EINVAL
        if not auth.attrs & SA_CONTINUE:
            if rc:
                self.flush(auth.handle)  # close the session if it was not consumed
            self.auth = None
        return rc, out

    # the users of sessions in the driver --------------------------------------------------
    def read_public_name(self, handle):
        """tpm2_read_public (tpm_buf_append_name without a Name): the Name, size-checked."""
        rc, data = self.tpm.transmit(command(ST_NO_SESSIONS, CC["ReadPublic"], u32(handle)),
                                     "ReadPublic (the Name for the HMAC)")
        if rc:
            raise KernelError(EFAULT, f"ReadPublic {rc:#x}")
        r = Reader(data, 10)
        r.skip()
        n = r.u16()
        alg = struct.unpack(">H", data[r.off:r.off + 2])[0]
        if n != NAME_SIZE.get(alg, 0):
            raise KernelError(EINVAL, f"Name of {n} bytes for algorithm {alg:#x}")
        return r.take(n)

    def seal_trusted(self, keyhandle, keyauth, blobauth, key):
        """tpm2_seal_trusted: (rc or -errno, outPrivate, outPublic)."""
        self.start_auth_session()
        name = self.read_public_name(keyhandle)
        sens = b2(b2(blobauth) + b2(key))
        pub = b2(u16(ALG_KEYEDHASH) + u16(ALG_SHA256) + u32(0x40 | 0x2 | 0x10) + u16(0)
                 + u16(ALG_NULL) + u16(0))
        rc, out = self.run_hmac(CC["Create"], [keyhandle], [name], SA_DECRYPT,
                                sens + pub + u16(0) + u32(0), "Create (seal a trusted key)",
                                passphrase=keyauth)
        if rc:
            return rc, None, None
        r = Reader(out)
        return 0, r.take(r.u16()), r.take(r.u16())

    def unseal_trusted(self, keyhandle, keyauth, blobauth, priv, pub):
        """tpm2_load_cmd + tpm2_unseal_cmd + FlushContext: the key, or rc / -errno."""
        self.start_auth_session()
        name = self.read_public_name(keyhandle)
        rc, _ = self.run_hmac(CC["Load"], [keyhandle], [name], 0, b2(priv) + b2(pub),
                              "Load (trusted key blob)", passphrase=keyauth)
        if rc:
            return rc
        blob_handle = struct.unpack(">I", self.last_rsp[10:14])[0]
        self.start_auth_session()
        name = self.read_public_name(blob_handle)
        rc, out = self.run_hmac(CC["Unseal"], [blob_handle], [name], SA_ENCRYPT, b"",
                                "Unseal (trusted key) with response encryption",
                                passphrase=blobauth)
        self.flush(blob_handle)
        if rc:
            return rc
        (n,) = struct.unpack(">H", out[:2])
        if not 32 <= n <= 128 or len(out) < 2 + n:
            return -EFAULT
        return out[2:2 + n]

    def pcr_extend(self, pcr, digests, locality=0):
        """tpm2_pcr_extend: digests {alg: bytes} for every allocated bank."""
        try:
            self.start_auth_session()
        except KernelError as e:
            return e.errno
        params = u32(len(self.banks)) + b"".join(u16(a) + digests[a] for a in self.banks)
        rc, _ = self.run_hmac(CC["PCR_Extend"], [pcr], [u32(pcr)], 0, params,
                              f"PCR_Extend({pcr}) under the HMAC session", locality=locality)
        return rc

    def get_random(self, nbytes):
        """tpm2_get_random: the bytes (decrypted), or -errno."""
        try:
            self.start_auth_session()
        except KernelError as e:
            return e.errno
        got, retries = b"", 5
        while True:
            rc, plain = self.run_hmac(CC["GetRandom"], [], [], SA_ENCRYPT,
                                      u16(nbytes - len(got)),
                                      f"GetRandom({nbytes - len(got)}) with response encryption")
            if rc:
                self.end_auth_session()
                return rc
            (n,) = struct.unpack(">H", plain[:2])
            got += plain[2:2 + min(n, nbytes - len(got))]
            if not retries or len(got) >= nbytes:
                return got
            retries -= 1

    def pcr_read(self, pcr, alg):
        sel = bytearray(3)
        sel[pcr >> 3] = 1 << (pcr & 7)
        rc, data = self.tpm.transmit(command(ST_NO_SESSIONS, CC["PCR_Read"],
                                             u32(1) + u16(alg) + b"\x03" + bytes(sel)),
                                     f"PCR_Read({pcr})")
        T.check(rc == 0, f"PCR_Read: {rc:#x}")
        r = Reader(data, 10 + 4 + 4 + 6)
        T.check(r.u32() == 1, "PCR_Read: not one digest")
        return r.take(r.u16())


NAME_SIZE = {0x0004: 22, 0x000B: 34, 0x000C: 50, 0x000D: 66}
HASH_OF = {0x0004: "sha1", 0x000B: "sha256", 0x000C: "sha384", 0x000D: "sha512"}


def event_digests(banks, text):
    return {a: hashlib.new(HASH_OF[a], text).digest() for a in banks}


class PcrModel:
    def __init__(self, kernel, pcr):
        self.pcr = pcr
        self.values = {a: kernel.pcr_read(pcr, a) for a in kernel.banks}

    def reset(self):
        self.values = {a: bytes(len(v)) for a, v in self.values.items()}

    def extend(self, digests):
        for a, d in digests.items():
            self.values[a] = hashlib.new(HASH_OF[a], self.values[a] + d).digest()

    def check(self, kernel, what):
        got = {a: kernel.pcr_read(self.pcr, a) for a in kernel.banks}
        kernel.tpm.expect(f"{what}: PCR {self.pcr} equals hashlib's", got == self.values,
                          f"{ {HASH_OF[a]: v.hex() for a, v in got.items()} }")
        kernel.tpm.row(f"{what}: PCR {self.pcr}",
                       tuple(got[a].hex() for a in kernel.banks))


# --- /dev/tpmrm0 (tpm2-space.c) -------------------------------------------------------------
class Space:
    """struct tpm_space: three object slots, three session slots, the saved contexts."""

    HT_TRANSIENT = 0x80000000

    def __init__(self, kernel):
        self.k = kernel
        self.context_tbl = [0, 0, 0]
        self.session_tbl = [0, 0, 0]
        self.context_buf = []
        self.session_buf = []

    def load_space(self):
        blobs = iter(self.context_buf)
        for i, h in enumerate(self.context_tbl):
            if not h:
                continue
            T.check(h == 0xFFFFFFFF, "context table is inconsistent")
            rc, handle = self.k.load_context(next(blobs))
            if rc:
                return rc
            self.context_tbl[i] = handle
        blobs = iter(self.session_buf)
        for i, h in enumerate(self.session_tbl):
            if not h:
                continue
            rc, handle = self.k.load_context(next(blobs))
            if rc == -ENOENT:
                self.session_tbl[i] = 0
            elif rc:
                self.flush_space()
                return rc
            if rc == 0 and handle != h:
                self.k.tpm.row("session restored to wrong handle", "-EFAULT")
                self.flush_space()
                return -EFAULT
        return 0

    def flush_space(self):
        for h in self.context_tbl:
            if h and h != 0xFFFFFFFF:
                self.k.flush(h)
        for h in self.session_tbl:
            if h:
                self.k.flush(h)

    def map_command(self, cc, cmd):
        cmd = bytearray(cmd)
        for i in range(self.k.chandles(cc)):
            off = 10 + 4 * i
            (h,) = struct.unpack(">I", cmd[off:off + 4])
            if h & 0xFF000000 == self.HT_TRANSIENT:
                slot = 0xFFFFFF - (h & 0xFFFFFF)
                if slot >= 3 or not self.context_tbl[slot]:
                    return None
                cmd[off:off + 4] = u32(self.context_tbl[slot])
        return bytes(cmd)

    def map_response(self, cc, rsp):
        rsp = bytearray(rsp)
        rc = struct.unpack(">I", rsp[6:10])[0]
        if rc:
            return bytes(rsp)
        if self.k.rhandle(cc):
            (h,) = struct.unpack(">I", rsp[10:14])
            if h & 0xFF000000 == self.HT_TRANSIENT:
                slot = self.context_tbl.index(0)
                self.context_tbl[slot] = h
                rsp[10:14] = u32(self.HT_TRANSIENT | (0xFFFFFF - slot))
            elif h >> 24 in (2, 3):
                self.session_tbl[self.session_tbl.index(0)] = h
        if cc == CC["GetCapability"] and struct.unpack(">I", rsp[11:15])[0] == CAP_HANDLES:
            (n,) = struct.unpack(">I", rsp[15:19])
            out = []
            for i in range(n):
                (h,) = struct.unpack(">I", rsp[19 + 4 * i:23 + 4 * i])
                if h & 0xFF000000 == self.HT_TRANSIENT:
                    if h in self.context_tbl:
                        out.append(self.HT_TRANSIENT | (0xFFFFFF - self.context_tbl.index(h)))
                else:
                    out.append(h)
            rsp = rsp[:15] + u32(len(out)) + b"".join(u32(h) for h in out)
            rsp[2:6] = u32(len(rsp))
        return bytes(rsp)

    def save_space(self):
        self.context_buf = []
        for i, h in enumerate(self.context_tbl):
            if not h or h == 0xFFFFFFFF:
                continue
            rc, blob = self.k.save_context(h)
            if rc == -ENOENT:
                self.context_tbl[i] = 0
                continue
            T.check(rc == 0, f"[{self.k.tpm.label}] tpm2_save_space: {errname(rc)}")
            self.k.flush(h)
            self.context_tbl[i] = 0xFFFFFFFF
            self.context_buf.append(blob)
        self.session_buf = []
        for i, h in enumerate(self.session_tbl):
            if not h:
                continue
            rc, blob = self.k.save_context(h)
            if rc == -ENOENT:
                self.session_tbl[i] = 0
            else:
                T.check(rc == 0, f"[{self.k.tpm.label}] tpm2_save_space: {errname(rc)}")
                self.session_buf.append(blob)

    def transmit(self, cmd):
        """tpm_dev_transmit(): (rc or -errno, the mapped answer)."""
        self.k.end_auth_session()
        cc = struct.unpack(">I", cmd[6:10])[0]
        rc = self.load_space()
        mapped = self.map_command(cc, cmd) if rc == 0 else None
        if rc == 0 and mapped is None:
            rc = -EINVAL
        if rc:
            self.flush_space()
            self.k.tpm.row(f"tpmrm write of {CC_NAME.get(cc, hex(cc))}", errname(rc))
            return rc, None
        rc, rsp = self.k.tpm.transmit(mapped, f"{CC_NAME.get(cc, hex(cc))} (through tpmrm)")
        rsp = self.map_response(cc, rsp)
        self.save_space()
        return rc, rsp

    def close(self):
        """tpm2_del_space: only the sessions are flushed."""
        for h in self.session_tbl:
            if h:
                self.k.flush(h)


class User:
    """A user-space program on /dev/tpmrm0, building its own commands and sessions."""

    def __init__(self, space):
        self.space = space
        self.tpm = space.k.tpm

    def run(self, cc, handles, names, auth, attrs, params, what):
        cmd = hmac_command(cc, handles, names, auth, attrs, params)
        rc, rsp = self.space.transmit(cmd)
        self.tpm.row(f"user: {what}", errname(rc))
        if rc:
            return rc, None, None
        _, plain = check_hmac_response(cc, rsp, self.space.k.rhandle(cc), auth)
        handle = struct.unpack(">I", rsp[10:14])[0] if self.space.k.rhandle(cc) else None
        return 0, handle, plain


def user_flow(k, model):
    """A sealed secret made, loaded and unsealed through tpmrm, between kernel extends."""
    tpm = k.tpm
    space = Space(k)
    user = User(space)
    k.pcr_extend(IMA_PCR, ev := event_digests(k.banks, b"before tpmrm"))
    model.extend(ev)

    # CreatePrimary(owner) with a P-256 storage template, password authorization.
    tmpl = b2(u16(ALG_ECC) + u16(ALG_SHA256) + u32(OA_USER_SRK) + u16(0) + u16(ALG_AES)
              + u16(128) + u16(ALG_CFB) + u16(ALG_NULL) + u16(ECC_NIST_P256) + u16(ALG_NULL)
              + u16(0) + u16(0))
    pw = u32(9) + u32(RS_PW) + u16(0) + b"\0" + u16(0)
    rc, rsp = space.transmit(command(ST_SESSIONS, CC["CreatePrimary"],
                                     u32(RH_OWNER) + pw + u16(4) + u32(0) + tmpl + u16(0) + u32(0)))
    T.check(rc == 0, f"[{tpm.label}] user CreatePrimary: {errname(rc)}")
    vprimary = struct.unpack(">I", rsp[10:14])[0]
    tpm.expect("tpmrm: the primary answers virtual handle 0x80FFFFFF", vprimary == 0x80FFFFFF)
    r = Reader(rsp, 18)
    pub = r.take(r.u16())
    primary_name = u16(ALG_SHA256) + sha256(pub)
    px, py = parse_ecc_public(pub, OA_USER_SRK)

    # A session salted to the primary (tpmKey is a virtual handle, mapped by the space).
    k.pcr_extend(IMA_PCR, ev := event_digests(k.banks, b"between user commands"))
    model.extend(ev)
    nonce = os.urandom(DIGEST)
    secret, salt = ecdh_salt(px, py)
    body = (u32(vprimary) + u32(RH_NULL) + b2(nonce) + secret + bytes([SE_HMAC])
            + u16(ALG_AES) + u16(128) + u16(ALG_CFB) + u16(ALG_SHA256))
    rc, rsp = space.transmit(command(ST_NO_SESSIONS, CC["StartAuthSession"], body))
    T.check(rc == 0, f"[{tpm.label}] user StartAuthSession: {errname(rc)}")
    r = Reader(rsp, 10)
    sh = r.u32()
    tpm.expect("tpmrm: the session handle is an HMAC session in the space's table",
               sh >> 24 == 2 and sh in space.session_tbl)
    tpm_nonce = r.take(r.u16())
    uauth = Auth(sh, nonce, tpm_nonce, kdfa(salt, b"ATH", tpm_nonce, nonce, DIGEST))

    # Create a sealed object: the sensitive data goes encrypted (decrypt attribute).
    secret_data = b"sealed through /dev/tpmrm0"
    sens = b2(u16(0) + b2(secret_data))
    sealed_pub = b2(u16(ALG_KEYEDHASH) + u16(ALG_SHA256) + u32(OA_SEALED) + u16(0)
                    + u16(ALG_NULL) + u16(0))
    rc, _, plain = user.run(CC["Create"], [vprimary], [primary_name], uauth,
                            SA_CONTINUE | SA_DECRYPT, sens + sealed_pub + u16(0) + u32(0),
                            "Create(sealed) with an encrypted inSensitive")
    T.check(rc == 0, f"[{tpm.label}] user Create: {errname(rc)}")
    r = Reader(plain)
    priv = r.take(r.u16())
    pub = r.take(r.u16())
    sealed_name = u16(ALG_SHA256) + sha256(pub)

    k.pcr_extend(IMA_PCR, ev := event_digests(k.banks, b"after Create"))
    model.extend(ev)
    rc, vitem, plain = user.run(CC["Load"], [vprimary], [primary_name], uauth, SA_CONTINUE,
                                b2(priv) + b2(pub), "Load(sealed)")
    T.check(rc == 0, f"[{tpm.label}] user Load: {errname(rc)}")
    tpm.expect("tpmrm: the loaded object answers virtual handle 0x80FFFFFE",
               vitem == 0x80FFFFFE)
    tpm.expect("Load returns the Name of the public area", plain[2:] == sealed_name)

    rc, _, plain = user.run(CC["Unseal"], [vitem], [sealed_name], uauth,
                            SA_CONTINUE | SA_ENCRYPT, b"", "Unseal with response encryption")
    T.check(rc == 0, f"[{tpm.label}] user Unseal: {errname(rc)}")
    tpm.expect("Unseal decrypts (AES-128-CFB, our KDFa) to the sealed data",
               plain == b2(secret_data), plain.hex())

    getcap = command(ST_NO_SESSIONS, CC["GetCapability"],
                     u32(CAP_HANDLES) + u32(0x80000000) + u32(16))
    rc, rsp = space.transmit(getcap)
    tpm.row("user: GetCapability(HANDLES, transient) through tpmrm", (rc, rsp[15:].hex()))
    tpm.expect("tpmrm: the transient handles are the two virtual ones",
               rsp[15:] == u32(2) + u32(0x80FFFFFF) + u32(0x80FFFFFE), rsp[15:].hex())

    # FlushContext from user space: the space's ContextSave then answers REFERENCE_H0.
    rc, _ = space.transmit(command(ST_NO_SESSIONS, CC["FlushContext"], u32(vitem)))
    tpm.row("user: FlushContext(virtual handle of the sealed object)", errname(rc))
    tpm.expect("tpmrm: the flushed object left the space", space.context_tbl[1] == 0)
    rc, rsp = space.transmit(getcap)
    tpm.expect("tpmrm: one transient handle left", rsp[15:] == u32(1) + u32(0x80FFFFFF),
               rsp[15:].hex())
    k.pcr_extend(IMA_PCR, ev := event_digests(k.banks, b"after FlushContext"))
    model.extend(ev)
    rc, _ = space.transmit(command(ST_NO_SESSIONS, CC["FlushContext"], u32(sh)))
    tpm.row("user: FlushContext(its session)", errname(rc))
    tpm.expect("tpmrm: the flushed session left the space", sh not in space.session_tbl)

    # A session used without continueSession: the TPM ends it, the space's ContextSave then
    # answers TPM_RC_REFERENCE_H0 and the space forgets it.
    nonce = os.urandom(DIGEST)
    rc, rsp = space.transmit(command(ST_NO_SESSIONS, CC["StartAuthSession"],
                                     u32(RH_NULL) + u32(RH_NULL) + b2(nonce) + u16(0)
                                     + bytes([SE_HMAC]) + u16(ALG_AES) + u16(128) + u16(ALG_CFB)
                                     + u16(ALG_SHA256)))
    T.check(rc == 0, f"[{tpm.label}] user StartAuthSession (unsalted): {errname(rc)}")
    r = Reader(rsp, 10)
    sh2 = r.u32()
    tpm_nonce = r.take(r.u16())
    plain_auth = Auth(sh2, nonce, tpm_nonce, b"")  # unsalted, unbound: an empty sessionKey
    rc, _, plain = user.run(CC["GetRandom"], [], [], plain_auth, SA_ENCRYPT, u16(16),
                            "GetRandom with an unsalted, unbound session, no continueSession")
    tpm.expect("the GetRandom answer decrypts to 16 bytes", rc == 0 and plain[:2] == u16(16))
    tpm.expect("tpmrm: the session the TPM ended left the space", sh2 not in space.session_tbl)
    return space, uauth, vprimary, primary_name


def scenario(tpm):
    k = Kernel(tpm)
    k.auto_startup()
    model = PcrModel(k, IMA_PCR)

    # IMA-like extends under the HMAC session.
    for i in range(3):
        ev = event_digests(k.banks, b"ima event %d" % i)
        rc = k.pcr_extend(IMA_PCR, ev)
        tpm.row(f"tpm2_pcr_extend #{i}", errname(rc))
        T.check(rc == 0, f"[{tpm.label}] tpm2_pcr_extend: {errname(rc)}")
        model.extend(ev)
    model.check(k, "after three HMAC-protected extends")
    session = k.auth.handle

    got = k.get_random(96)
    tpm.expect("tpm2_get_random(96): 96 bytes after the response HMAC checks",
               isinstance(got, bytes) and len(got) == 96)
    tpm.expect("the session continued (same handle)", k.auth and k.auth.handle == session)

    # The same encryption code on a known plaintext: TPM2_Hash with decrypt and encrypt.
    data = b"kernel parameter encryption, both ways"
    rc, plain = k.run_hmac(CC["Hash"], [], [], SA_DECRYPT | SA_ENCRYPT,
                           b2(data) + u16(ALG_SHA256) + u32(RH_NULL),
                           "Hash with decrypt and encrypt")
    tpm.expect("Hash: the encrypted data hashes, the encrypted digest decrypts, to hashlib's",
               rc == 0 and plain[:34] == b2(sha256(data)), plain.hex() if plain else rc)

    # continueSession: a failed command leaves the session and its nonceTPM alone.
    nonce_before = k.auth.tpm_nonce
    ev = event_digests(k.banks, b"locality")
    rc = k.pcr_extend(17, ev)
    tpm.row("tpm2_pcr_extend(17) at locality 0", errname(rc))
    tpm.expect("the failed command kept the session and its nonceTPM",
               k.auth is not None and k.auth.tpm_nonce == nonce_before)
    ev = event_digests(k.banks, b"after a failure")
    tpm.expect("the next extend goes through with the old nonceTPM",
               k.pcr_extend(IMA_PCR, ev) == 0)
    model.extend(ev)

    # An HMAC-protected command changed in flight: TPM_RC_AUTH_FAIL, PCR unchanged.
    def flip_digest(cmd):
        return cmd[:-1] + bytes([cmd[-1] ^ 1])
    tpm.mitm_cmd = flip_digest
    rc = k.pcr_extend(IMA_PCR, event_digests(k.banks, b"tampered"))
    tpm.row("tpm2_pcr_extend with its digest changed in flight", errname(rc))
    tpm.expect("a command changed in flight is refused", rc > 0)
    ev = event_digests(k.banks, b"after tampering")
    tpm.expect("the next extend goes through", k.pcr_extend(IMA_PCR, ev) == 0)
    model.extend(ev)
    model.check(k, "after a failed and a tampered extend")

    # Answers changed in flight: the response HMAC check refuses them.
    def flip_hmac(rsp):
        return rsp[:-1] + bytes([rsp[-1] ^ 0x80])
    tpm.mitm_rsp = flip_hmac
    ev = event_digests(k.banks, b"response tampered")
    rc = k.pcr_extend(IMA_PCR, ev)
    model.extend(ev)  # the TPM did extend; only the answer was changed
    tpm.expect("PCR_Extend answer with a changed HMAC: -EINVAL", rc == -EINVAL)

    def flip_random(rsp):
        return rsp[:20] + bytes([rsp[20] ^ 1]) + rsp[21:]
    tpm.mitm_rsp = flip_random
    rc = k.get_random(16)
    tpm.expect("GetRandom answer with a changed (encrypted) byte: -EINVAL", rc == -EINVAL)
    tpm.expect("the driver ended the session after the failed GetRandom", k.auth is None)

    # Without continueSession the TPM ends the session after a success.
    k.start_auth_session()
    h = k.auth.handle
    ev = event_digests(k.banks, b"no continueSession")
    rc, _ = k.run_session(CC["PCR_Extend"], [IMA_PCR], [u32(IMA_PCR)], 0,
                          u32(len(k.banks)) + b"".join(u16(a) + ev[a] for a in k.banks),
                          "PCR_Extend without continueSession")
    model.extend(ev)
    tpm.expect("PCR_Extend without continueSession succeeds", rc == 0)
    rc = k.flush(h)
    tpm.row("FlushContext of the session the TPM ended", f"{rc:#x}")
    tpm.expect("the TPM ended the session itself", rc != 0)
    model.check(k, "after the continueSession cases")

    # /dev/tpmrm0.
    space, uauth, vprimary, primary_name = user_flow(k, model)
    model.check(k, "after the tpmrm flow")

    # Many /dev/tpmrm0 users, three saved sessions each, until the TPM has no session handle
    # left: the driver hands the TPM's code to user space; it must say which resource ran out
    # (TPM_RC_SESSION_HANDLES: the sessions are saved, none is loaded; not
    # TPM_RC_SESSION_MEMORY, which tells a resource manager to save a loaded one).
    spaces, full, started = [], None, 0
    tpm.quiet = True  # how many fit differs (ours 16, swtpm 64); only the final code counts
    while full is None and started < 100:
        sp = Space(k)
        spaces.append(sp)
        for _ in range(3):
            rc, _ = sp.transmit(command(ST_NO_SESSIONS, CC["StartAuthSession"],
                                        u32(RH_NULL) + u32(RH_NULL) + b2(os.urandom(DIGEST))
                                        + u16(0) + bytes([SE_HMAC]) + u16(ALG_NULL)
                                        + u16(ALG_SHA256)))
            if rc:
                full = rc
                break
            started += 1
    for sp in spaces:
        sp.close()
    tpm.quiet = False
    tpm.info.append(f"{started} saved sessions in {len(spaces)} tpmrm spaces before "
                    f"StartAuthSession failed")
    tpm.row("tpmrm: StartAuthSession when every session handle is taken (all saved)",
            errname(full) if full is not None else "no limit hit")
    ev = event_digests(k.banks, b"after the sessions were flushed")
    tpm.expect("after the users closed /dev/tpmrm0 the kernel starts a session again",
               k.pcr_extend(IMA_PCR, ev) == 0)
    model.extend(ev)

    # Trusted keys (security/keys/trusted-keys/trusted_tpm2.c) under a persistent parent
    # whose authValue, like blobauth, has trailing zeros: the kernel strips them from the
    # HMAC key, the TPM must not count them either.
    srk_auth = b"srk auth\0\0"
    tmpl = b2(u16(ALG_ECC) + u16(ALG_SHA256) + u32(OA_USER_SRK) + u16(0) + u16(ALG_AES)
              + u16(128) + u16(ALG_CFB) + u16(ALG_NULL) + u16(ECC_NIST_P256) + u16(ALG_NULL)
              + u16(0) + u16(0))
    pw = u32(9) + u32(RS_PW) + u16(0) + b"\0" + u16(0)
    rc, data = tpm.transmit(command(ST_SESSIONS, CC["CreatePrimary"],
                                    u32(RH_OWNER) + pw + b2(b2(srk_auth) + u16(0)) + tmpl
                                    + u16(0) + u32(0)), "CreatePrimary (SRK with an authValue)")
    T.check(rc == 0, f"[{tpm.label}] CreatePrimary(SRK): {rc:#x}")
    srk = struct.unpack(">I", data[10:14])[0]
    rc, _ = tpm.transmit(command(ST_SESSIONS, CC["EvictControl"],
                                 u32(RH_OWNER) + u32(srk) + pw + u32(SRK_HANDLE)),
                         "EvictControl (SRK to 0x81000001)")
    T.check(rc == 0, f"[{tpm.label}] EvictControl: {rc:#x}")
    k.flush(srk)
    keyauth = srk_auth.ljust(20, b"\0")  # TPM_DIGEST_SIZE bytes, as the option parser keeps it
    blobauth = b"blob auth\0\0\0"
    payload = hashlib.sha256(b"trusted key payload").digest()
    rc, priv, pub = k.seal_trusted(SRK_HANDLE, keyauth, blobauth, payload)
    tpm.expect("tpm2_seal_trusted (Create under the SRK, encrypted sensitive) succeeds", rc == 0)
    got = k.unseal_trusted(SRK_HANDLE, keyauth, blobauth, priv, pub)
    tpm.expect("tpm2_unseal_trusted gives the payload back (response encryption)",
               got == payload)
    got = k.unseal_trusted(SRK_HANDLE, keyauth, b"wrong", priv, pub)
    tpm.row("tpm2_unseal_trusted with a wrong blobauth", errname(got) if isinstance(got, int)
            else "unsealed")
    tpm.expect("a wrong blobauth is refused", isinstance(got, int) and got > 0)
    got = k.unseal_trusted(SRK_HANDLE, srk_auth.rstrip(b"\0") + b"x", blobauth, priv, pub)
    tpm.row("tpm2_unseal_trusted with a wrong keyauth", errname(got) if isinstance(got, int)
            else "unsealed")
    k.end_auth_session()
    rc, _ = tpm.transmit(command(ST_SESSIONS, CC["EvictControl"],
                                 u32(RH_OWNER) + u32(SRK_HANDLE) + pw + u32(SRK_HANDLE)),
                         "EvictControl (remove the SRK)")

    # Suspend and resume: the null seed survives, the saved null key still loads, and so do
    # the user's saved contexts (a session started before the suspend, with AES-CFB).
    nonce = os.urandom(DIGEST)
    rc, rsp = space.transmit(command(ST_NO_SESSIONS, CC["StartAuthSession"],
                                     u32(RH_NULL) + u32(RH_NULL) + b2(nonce) + u16(0)
                                     + bytes([SE_HMAC]) + u16(ALG_AES) + u16(128) + u16(ALG_CFB)
                                     + u16(ALG_SHA256)))
    T.check(rc == 0, f"[{tpm.label}] user StartAuthSession before suspend: {errname(rc)}")
    r = Reader(rsp, 10)
    sh3 = r.u32()
    resumed = Auth(sh3, nonce, r.take(r.u16()), b"")
    k.end_auth_session()
    rc, _ = k.tpm.transmit(command(ST_NO_SESSIONS, CC["Shutdown"], u16(SU_STATE)),
                           "Shutdown(STATE)")
    tpm.init()
    rc, _ = k.tpm.transmit(command(ST_NO_SESSIONS, CC["Startup"], u16(SU_STATE)),
                           "Startup(STATE)")
    tpm.expect("Startup(STATE) after Shutdown(STATE)", rc == 0)
    ev = event_digests(k.banks, b"after resume")
    tpm.expect("after resume the saved null key loads and the extend goes through",
               k.pcr_extend(IMA_PCR, ev) == 0)
    model.extend(ev)
    model.check(k, "after suspend / resume")
    rc, _, plain = User(space).run(CC["GetRandom"], [], [], resumed, SA_CONTINUE | SA_ENCRYPT,
                                   u16(16), "GetRandom with the session saved across resume")
    tpm.expect("tpmrm: the saved primary and the session saved before the suspend load "
               "after resume; the answer decrypts", rc == 0 and plain[:2] == u16(16))

    # Hibernation: Shutdown(STATE), then the firmware's Startup(CLEAR) (a TPM Restart). The
    # null seed stays, so the kernel's saved null key loads; PCRs start over; the user's saved
    # primary and session load too.
    k.end_auth_session()
    rc, _ = k.tpm.transmit(command(ST_NO_SESSIONS, CC["Shutdown"], u16(SU_STATE)),
                           "Shutdown(STATE) (hibernate)")
    tpm.init()
    rc, _ = k.tpm.transmit(command(ST_NO_SESSIONS, CC["Startup"], u16(SU_CLEAR)),
                           "Startup(CLEAR) (TPM Restart)")
    tpm.expect("Startup(CLEAR) after Shutdown(STATE)", rc == 0)
    model.reset()
    ev = event_digests(k.banks, b"after hibernation")
    tpm.expect("after a TPM Restart the saved null key loads and the extend goes through",
               k.pcr_extend(IMA_PCR, ev) == 0)
    model.extend(ev)
    model.check(k, "after a TPM Restart")
    rc, _, plain = User(space).run(CC["GetRandom"], [], [], resumed, SA_CONTINUE | SA_ENCRYPT,
                                   u16(16), "GetRandom with the session saved across a Restart")
    tpm.expect("tpmrm: the saved primary and session load after a TPM Restart",
               rc == 0 and plain[:2] == u16(16))

    # A TPM Reset between uses: the null seed changed.
    old_name = k.null_key_name
    k.end_auth_session()
    tpm.init()
    rc, _ = k.tpm.transmit(command(ST_NO_SESSIONS, CC["Startup"], u16(SU_CLEAR)),
                           "Startup(CLEAR) (TPM Reset)")
    T.check(rc == 0, f"Startup(CLEAR): {rc:#x}")
    rc = k.pcr_extend(IMA_PCR, event_digests(k.banks, b"after reset"))
    tpm.expect("after a TPM Reset the driver refuses (null key integrity): -ENODEV",
               rc == -ENODEV and k.disabled)
    tpm.expect("the recreated null key has another Name",
               k.last_name is not None and k.last_name != old_name)

    # The user's saved contexts do not come back either.
    rc, _ = space.transmit(command(ST_NO_SESSIONS, CC["GetCapability"],
                                   u32(CAP_HANDLES) + u32(0x80000000) + u32(16)))
    tpm.row("user: a command after the TPM Reset", errname(rc))
    tpm.expect("tpmrm: the saved primary does not load after the reset", rc < 0)

    # A CreatePrimary answer with another public key fails the Name check.
    def swap_x(rsp):
        off = 20 + 2 + 2 + 4 + 2 + 6 + 2 + 2 + 2 + 2  # outPublic.unique.x
        return rsp[:off] + bytes([rsp[off] ^ 1]) + rsp[off + 1:]
    k.null_key_name = None
    rc, h, _ = k.create_primary(RH_NULL, init_name=True)
    T.check(rc == 0, f"CreatePrimary after reset: {errname(rc)}")
    k.flush(h)
    rc, h, _ = k.create_primary(RH_NULL, init_name=True, mitm=swap_x)
    tpm.expect("a CreatePrimary answer with a changed public key fails the Name check",
               rc == -EINVAL)
    # The TPM did create it; the driver leaked the handle, we flush it.
    rc, data = k.tpm.transmit(command(ST_NO_SESSIONS, CC["GetCapability"],
                                      u32(CAP_HANDLES) + u32(0x80000000) + u32(16)),
                              "GetCapability(HANDLES, transient)")
    for i in range(struct.unpack(">I", data[15:19])[0]):
        k.flush(struct.unpack(">I", data[19 + 4 * i:23 + 4 * i])[0])
    return tpm.rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tcti", required=True, help="TPM under test (mssim:/spawn:host-sim)")
    ap.add_argument("--ref-tcti", default="spawn:swtpm", help="reference (default spawn:swtpm)")
    args = ap.parse_args()
    if ec is None:
        raise T.Skip("python3-cryptography is not installed (apt-get install python3-cryptography)")
    T.require_programs("swtpm", "swtpm_setup")
    with open_target(args.tcti) as tcti, open_target(args.ref_tcti) as ref_tcti:
        rows, infos = {}, {}
        for label, t in (("ours", tcti), ("swtpm", ref_tcti)):
            tpm = Tpm(label, t)
            try:
                rows[label] = scenario(tpm)
                infos[label] = tpm.info
            except T.Failure as e:
                steps = "\n  ".join(f"{w}: {v}" for w, v in tpm.rows[-12:])
                raise T.Failure(f"{e}\n[{label}] last steps:\n  {steps}") from None
        ours, ref = rows["ours"], rows["swtpm"]
        for label in rows:
            T.log(f"[{label}] " + "; ".join(infos[label]))
        failures = []
        print(f"{'step':78} {'swtpm':>8} {'ours':>8}")
        for i in range(max(len(ours), len(ref))):
            a = ours[i] if i < len(ours) else ("<missing>", None)
            b = ref[i] if i < len(ref) else ("<missing>", None)
            same = a == b
            va, vb = str(a[1]), str(b[1])
            if len(va) > 8 or len(vb) > 8:
                print(f"{a[0][:78]:78} {'same' if same else 'DIFFERS'}")
                if not same:
                    print(f"    swtpm: {b}\n    ours:  {a}")
            else:
                print(f"{a[0][:78]:78} {vb:>8} {va:>8}{'' if same else '  DIFFERS ' + b[0]}")
            if not same:
                failures.append(f"step {i}: ours {a} swtpm {b}")
        T.check(not failures, "differs from swtpm:\n  " + "\n  ".join(failures[:10]))
        T.log(f"ok: {len(ours)} steps of the kernel's HMAC-session sequence identical on both "
              "TPMs, every check held")


if __name__ == "__main__":
    T.run_main(main)
