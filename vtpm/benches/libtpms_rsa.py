#!/usr/bin/python3
"""The peer for the RSA rows of `cargo bench -p vtpm --features rsa --bench commands -- rsa`:
the same command bytes sent to libtpms (the engine inside swtpm) in-process through
TPMLIB_Process, loaded with ctypes (Debian's libtpms0; no headers, no swtpm, no socket).

Every call is timed around TPMLIB_Process alone (time.perf_counter_ns; the ctypes call costs
about a microsecond, against milliseconds of RSA), after a warm-up; every response code is
checked (TPM_RC_RETRY, which libtpms answers on the first use of a DA-protected object, is
resubmitted and not timed). Prints median / min / p10 / p90 / max in microseconds per case.

Cases (the same as the Rust bench):
  createprimary_rsa2048   CreatePrimary of the tpm2-tools default RSA-2048 storage key, a
                          different inSensitive.data each time (a new key each time: the spread
                          is the prime search), then FlushContext (not timed)
  sign_rsassa2048_sha256  Sign of a 32-byte digest, RSASSA-SHA256, password
  rsa_decrypt_oaep2048    RSA_Decrypt of a 256-byte OAEP-SHA256 ciphertext, password
  activatecredential_rsa  ActivateCredential under an RSA-2048 storage (EK-like) key, two
                          passwords

Run: python3 vtpm/benches/libtpms_rsa.py [--iters N] [--primaries N] [--json FILE]
"""

import argparse
import ctypes
import json
import os
import struct
import statistics
import sys
import tempfile
import time

RS_PW = 0x40000009
RH_OWNER = 0x40000001
RH_ENDORSEMENT = 0x4000000B


def tpm2b(b):
    return struct.pack(">H", len(b)) + b


def command(cc, handles=(), auths=(), params=b""):
    body = b"".join(struct.pack(">I", h) for h in handles)
    tag = 0x8001
    if auths:
        tag = 0x8002
        area = b"".join(struct.pack(">I", RS_PW) + tpm2b(b"") + b"\x00" + tpm2b(a) for a in auths)
        body += struct.pack(">I", len(area)) + area
    body += params
    return struct.pack(">HII", tag, 10 + len(body), cc) + body


def rsa_template(attrs, scheme=b"\x00\x10"):
    sym = b"\x00\x06\x00\x80\x00\x43" if attrs & 0x30000 == 0x30000 else b"\x00\x10"
    return (struct.pack(">HHI", 0x0001, 0x000B, attrs) + tpm2b(b"") + sym + scheme
            + struct.pack(">HI", 2048, 0) + tpm2b(b""))


def create_primary(hierarchy, template, data=b""):
    sens = tpm2b(tpm2b(b"") + tpm2b(data))
    return command(0x131, [hierarchy], [b""], sens + tpm2b(template) + tpm2b(b"") + b"\0\0\0\0")


class Libtpms:
    def __init__(self):
        self.state = tempfile.mkdtemp(prefix="libtpms-bench-")
        os.environ["TPM_PATH"] = self.state
        # libtpms' TPM 2.0 keeps its NV in ./NVChip: keep it in the temporary folder.
        os.chdir(self.state)
        self.lib = ctypes.CDLL("libtpms.so.0")
        if self.lib.TPMLIB_ChooseTPMVersion(1) != 0:
            sys.exit("libtpms: no TPM 2.0")
        if self.lib.TPMLIB_MainInit() != 0:
            sys.exit("libtpms: MainInit failed")
        self.rsp = ctypes.POINTER(ctypes.c_ubyte)()
        self.rsp_len = ctypes.c_uint32(0)
        self.rsp_size = ctypes.c_uint32(0)
        self.ok(struct.pack(">HIIH", 0x8001, 12, 0x144, 0))

    def send(self, cmd):
        buf = (ctypes.c_ubyte * len(cmd)).from_buffer_copy(cmd)
        t0 = time.perf_counter_ns()
        rc = self.lib.TPMLIB_Process(ctypes.byref(self.rsp), ctypes.byref(self.rsp_len),
                                     ctypes.byref(self.rsp_size), buf, len(cmd))
        t1 = time.perf_counter_ns()
        if rc != 0:
            sys.exit(f"TPMLIB_Process failed: {rc:#x}")
        return bytes(self.rsp[:self.rsp_len.value]), (t1 - t0) / 1000.0

    def ok(self, cmd):
        while True:
            r, us = self.send(cmd)
            code = struct.unpack(">I", r[6:10])[0]
            if code == 0x922:
                continue
            if code != 0:
                sys.exit(f"command {struct.unpack('>I', cmd[6:10])[0]:#x} answered {code:#x}")
            return r, us


def primary_handle(r):
    return struct.unpack(">I", r[10:14])[0]


def stats(name, xs):
    xs = sorted(xs)
    q = lambda f: xs[min(len(xs) - 1, int(f * len(xs)))]
    row = {"case": name, "n": len(xs), "median_us": statistics.median(xs), "min_us": xs[0],
           "p10_us": q(0.1), "p90_us": q(0.9), "max_us": xs[-1]}
    print(f"{name:26} n={row['n']:4}  median {row['median_us']:10.1f} µs  min {row['min_us']:10.1f}"
          f"  p10 {row['p10_us']:10.1f}  p90 {row['p90_us']:10.1f}  max {row['max_us']:10.1f}")
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--primaries", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--json")
    a = ap.parse_args()
    t = Libtpms()
    rows = []

    storage = rsa_template(0x00030072)
    times = []
    for i in range(a.primaries + a.warmup):
        r, us = t.ok(create_primary(RH_OWNER, storage, struct.pack(">I", i)))
        t.ok(command(0x165, params=struct.pack(">I", primary_handle(r))))
        if i >= a.warmup:
            times.append(us)
    rows.append(stats("createprimary_rsa2048", times))

    signer = primary_handle(t.ok(create_primary(RH_OWNER, rsa_template(0x00040072)))[0])
    sign = command(0x15D, [signer], [b""], tpm2b(bytes(range(32))) + b"\x00\x14\x00\x0b"
                   + b"\x80\x24" + struct.pack(">I", 0x40000007) + tpm2b(b""))
    times = [t.ok(sign)[1] for _ in range(a.iters + a.warmup)][a.warmup:]
    rows.append(stats("sign_rsassa2048_sha256", times))

    dec = primary_handle(t.ok(create_primary(RH_OWNER, rsa_template(0x00020072)))[0])
    oaep = b"\x00\x17\x00\x0b"
    r, _ = t.ok(command(0x174, [dec], [], tpm2b(b"a 32-byte secret for the bench.") + oaep
                        + tpm2b(b"")))
    ct = r[12:12 + 256]
    decrypt = command(0x159, [dec], [b""], tpm2b(ct) + oaep + tpm2b(b""))
    times = [t.ok(decrypt)[1] for _ in range(a.iters + a.warmup)][a.warmup:]
    rows.append(stats("rsa_decrypt_oaep2048", times))

    ek = primary_handle(t.ok(create_primary(RH_ENDORSEMENT, storage))[0])
    r, _ = t.ok(command(0x173, [signer]))
    n = struct.unpack(">H", r[10:12])[0]
    name_len = struct.unpack(">H", r[12 + n:14 + n])[0]
    name = r[14 + n:14 + n + name_len]
    r, _ = t.ok(command(0x168, [ek], [], tpm2b(b"credential") + tpm2b(name)))
    out = r[10:]
    blob_len = struct.unpack(">H", out[:2])[0]
    blob = out[:2 + blob_len]
    secret = out[2 + blob_len:]
    activate = command(0x147, [signer, ek], [b"", b""], blob + secret)
    times = [t.ok(activate)[1] for _ in range(a.iters + a.warmup)][a.warmup:]
    rows.append(stats("activatecredential_rsa", times))

    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
