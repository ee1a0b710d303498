#!/usr/bin/python3
"""tpm2-abrmd (the TSS resource manager daemon) in front of our TPM and in front of swtpm.

    /usr/bin/python3 tests/clients/abrmd.py --tcti mssim:host=127.0.0.1,port=N
        [--ref-tcti swtpm:host=127.0.0.1,port=M]      # default: spawn:swtpm (a fresh one)

The script starts a private D-Bus session bus (`dbus-daemon --session`) and one
`tpm2-abrmd --session --flush-all` per TPM, each under its own bus name, and runs the same
flows through both with tpm2-tools 5.4 and tpm2-pytss (TCTI
`tabrmd:bus_name=…,bus_type=session`). The broker keeps every client's objects and sessions
as saved contexts and loads them for each command (ContextSave / ContextLoad / FlushContext
on the TPM), so the flows exercise exactly those commands and the rules for saved sessions:

  1. tpm2_getrandom; the TPM's object and session slot counts (reported, not compared);
  2. tpm2_createprimary (ECC) + tpm2_create + tpm2_load of keys whose contexts live in files
     and are loaded by the next process; tpm2_sign with each, verified with `cryptography`
     against tpm2_readpublic's PEM;
  3. one tpm2-pytss connection holding 20 loaded keys at once (more than either TPM has
     transient slots: the broker swaps them), each signing twice in turn, every ECDSA
     signature verified with `cryptography`; GetCapability(HANDLES) shows the connection's
     21 virtual handles;
  4. a policy session across three processes (tpm2_startauthsession --policy-session,
     tpm2_policypcr, tpm2_unseal: the broker keeps the saved session in between) unseals
     data sealed to PCR 23; after tpm2_pcrextend the unseal fails with TPM_RC_POLICY_FAIL,
     after tpm2_pcrreset it works again;
  5. an HMAC session salted to the primary (tpm2_startauthsession --hmac-session -c):
     tpm2_sign authorized by it (verified), tpm2_getrandom -S with response encryption;
     tpm2_flushcontext of the session, after which using it fails;
  6. six tool processes at once, each createprimary + create + load + sign (verified);
  7. tpm2_flushcontext -t / -l / -s and tpm2_getcap handles-* from a fresh connection;
  8. tpm2-pytss connections holding four sessions each until the TPM runs out of session
     handles (ours after 16, swtpm after 64: reported, not compared): StartAuthSession then
     answers TPM_RC_SESSION_HANDLES on both; once the connections close, a session starts.

Every outcome (success or the response code a tool reports, counts, which checks held) must
be the same through both brokers, and every check must hold.

Exit status: 0 identical, 1 a difference or failure, 77 a prerequisite is missing
(tpm2-abrmd, libtss2-tcti-tabrmd0, dbus-daemon, python3-tpm2-pytss, python3-cryptography).
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpmlib as T  # noqa: E402
from servers import open_target  # noqa: E402

PCR = 23  # resettable and extendable at locality 0
LOADED_KEYS = 20
DISTINCT_KEYS = 5
WORKERS = 6


def which(program):
    """A program on PATH or in the sbin directories (tpm2-abrmd is in /usr/sbin)."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    return shutil.which(program, path=path)


class Bus:
    """A private D-Bus session bus for the brokers and their clients."""

    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(
            [which("dbus-daemon"), "--session", "--nofork", "--nopidfile", "--print-address=1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True)
        address = self.proc.stdout.readline().decode().strip()
        T.check(address.startswith("unix:"), f"dbus-daemon printed {address!r}")
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
        return self

    def __exit__(self, *exc):
        stop(self.proc)


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class Broker:
    """`tpm2-abrmd --session` for one TPM; yields the TCTI string for its clients."""

    counter = 0

    def __init__(self, label, tpm_tcti, tmpdir):
        Broker.counter += 1
        self.label = label
        self.name = f"com.intel.tss2.Tabrmd.vtpm{os.getpid()}n{Broker.counter}"
        self.tpm_tcti = tpm_tcti
        self.log = os.path.join(tmpdir, f"abrmd-{label}.log")
        self.proc = None
        self.tcti = f"tabrmd:bus_name={self.name},bus_type=session"

    def __enter__(self):
        argv = [which("tpm2-abrmd"), "--session", f"--dbus-name={self.name}",
                f"--tcti={self.tpm_tcti}", "--flush-all", "--max-transients=64",
                "--logger=stdout"]
        if os.geteuid() == 0:
            argv.append("--allow-root")
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise T.Failure(f"tpm2-abrmd for {self.label} exited {self.proc.returncode}: "
                                f"{self.log_text()}")
            res = T.tool(self.tcti, "tpm2_getrandom", "--hex", "4", ok=None, timeout=10)
            if res.returncode == 0:
                return self
            if time.monotonic() > deadline:
                raise T.Failure(f"tpm2-abrmd for {self.label} not answering: {res.stderr}\n"
                                f"{self.log_text()}")
            time.sleep(0.2)

    def __exit__(self, *exc):
        stop(self.proc)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""


class Flows:
    """The flows against one broker; `rows` collects (what, outcome)."""

    def __init__(self, label, tcti, workdir):
        self.label = label
        self.tcti = tcti
        self.dir = workdir
        self.rows = []
        self.info = []

    def path(self, name):
        return os.path.join(self.dir, name)

    def row(self, what, value):
        self.rows.append((what, value))

    def expect(self, what, cond, detail=""):
        self.row(what, "yes" if cond else "NO")
        T.check(cond, f"[{self.label}] {what}: does not hold {detail}")

    def tool(self, *argv, ok=True, stdin=None, what=None):
        """Run a tool; record its outcome (ok, or the response code it reports)."""
        res = T.tool(self.tcti, *argv, ok=ok, stdin=stdin)
        if res.returncode == 0:
            outcome = "ok"
        else:
            rc = res.tpm_rc()
            outcome = f"{rc:#x}" if rc is not None else f"exit {res.returncode}"
        # The label: the program and its options (paths differ between the two runs).
        label = " ".join([str(argv[0])] + [str(a) for a in argv[1:] if str(a).startswith("-")])
        self.row(what or label, outcome)
        return res

    def verify_file_signature(self, key_ctx, message_path, sig_path, what):
        pem = self.path(os.path.basename(str(key_ctx)) + ".pem")
        self.tool("tpm2_readpublic", "-c", key_ctx, "-f", "pem", "-o", pem,
                  what="tpm2_readpublic -f pem")
        self.expect(what, verify_der(pem, message_path, sig_path))

    # -- 1 ------------------------------------------------------------------------------------
    def basics(self):
        res = self.tool("tpm2_getrandom", "--hex", "16")
        self.expect("tpm2_getrandom --hex 16 gives 16 bytes", len(bytes.fromhex(res.text)) == 16)
        res = self.tool("tpm2_getcap", "properties-fixed")
        props = T.parse_toplevel(res.text)
        for name in ("TPM2_PT_HR_TRANSIENT_MIN", "TPM2_PT_HR_LOADED_MIN",
                     "TPM2_PT_ACTIVE_SESSIONS_MAX"):
            raw = T.subfields(props.get(name, ("", []))[1]).get("raw", "?")
            self.info.append(f"{name} {int(raw, 16) if raw != '?' else raw}")

    # -- 2 ------------------------------------------------------------------------------------
    def keys_in_files(self):
        self.tool("tpm2_createprimary", "-C", "o", "-G", "ecc", "-c", self.path("prim.ctx"))
        with open(self.path("msg"), "wb") as f:
            f.write(b"signed through tpm2-abrmd")
        for i in range(3):
            self.tool("tpm2_create", "-C", self.path("prim.ctx"), "-G", "ecc",
                      "-u", self.path(f"k{i}.pub"), "-r", self.path(f"k{i}.priv"))
            self.tool("tpm2_load", "-C", self.path("prim.ctx"), "-u", self.path(f"k{i}.pub"),
                      "-r", self.path(f"k{i}.priv"), "-c", self.path(f"k{i}.ctx"))
        for i in range(3):
            self.tool("tpm2_sign", "-c", self.path(f"k{i}.ctx"), "-g", "sha256", "-f", "plain",
                      "-o", self.path(f"k{i}.sig"), self.path("msg"))
            self.verify_file_signature(self.path(f"k{i}.ctx"), self.path("msg"),
                                       self.path(f"k{i}.sig"),
                                       f"key {i} (context file): ECDSA signature verifies")

    # -- 3 ------------------------------------------------------------------------------------
    def many_keys_one_connection(self):
        import tpm2_pytss as P
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
        from cryptography.exceptions import InvalidSignature

        o = P.TPMA_OBJECT
        base = o.FIXEDTPM | o.FIXEDPARENT | o.SENSITIVEDATAORIGIN | o.USERWITHAUTH
        storage = P.TPM2B_PUBLIC.parse("ecc256:null:aes128cfb",
                                       objectAttributes=base | o.RESTRICTED | o.DECRYPT | o.NODA)
        signer = P.TPM2B_PUBLIC.parse("ecc256:ecdsa-sha256", objectAttributes=base | o.SIGN_ENCRYPT)
        esys = P.ESAPI(self.tcti)  # loaded (and closed) by ESAPI itself
        try:
            prim = esys.create_primary(P.TPM2B_SENSITIVE_CREATE(), storage)[0]
            blobs = [esys.create(prim, P.TPM2B_SENSITIVE_CREATE(), signer)[:2]
                     for _ in range(DISTINCT_KEYS)]
            loaded = []
            for i in range(LOADED_KEYS):
                priv, pub = blobs[i % DISTINCT_KEYS]
                loaded.append((esys.load(prim, priv, pub), pub))
            self.row(f"pytss: {LOADED_KEYS} keys loaded in one connection", "ok")
            more, data = esys.get_capability(P.TPM2_CAP.HANDLES, 0x80000000, 64)
            count = len(data.data.handles)
            self.expect(f"pytss: GetCapability(HANDLES) lists the primary and the "
                        f"{LOADED_KEYS} keys", count == LOADED_KEYS + 1, f"({count})")
            good = 0
            for rnd in range(2):
                for i, (h, pub) in enumerate(loaded):
                    digest = hashlib.sha256(b"key %d round %d" % (i, rnd)).digest()
                    sig = esys.sign(h, P.TPM2B_DIGEST(digest),
                                    P.TPMT_SIG_SCHEME(scheme=P.TPM2_ALG.NULL),
                                    P.TPMT_TK_HASHCHECK(tag=P.TPM2_ST.HASHCHECK,
                                                        hierarchy=P.TPM2_RH.NULL))
                    point = pub.publicArea.unique.ecc
                    key = ec.EllipticCurvePublicNumbers(
                        int.from_bytes(bytes(point.x), "big"),
                        int.from_bytes(bytes(point.y), "big"), ec.SECP256R1()).public_key()
                    der = encode_dss_signature(
                        int.from_bytes(bytes(sig.signature.ecdsa.signatureR), "big"),
                        int.from_bytes(bytes(sig.signature.ecdsa.signatureS), "big"))
                    try:
                        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
                        key.verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
                        good += 1
                    except InvalidSignature:
                        pass
            self.expect(f"pytss: {2 * LOADED_KEYS} signatures, two rounds over the "
                        f"{LOADED_KEYS} keys, all verify", good == 2 * LOADED_KEYS, f"({good})")
            for h, _ in loaded:
                esys.flush_context(h)
            esys.flush_context(prim)
            more, data = esys.get_capability(P.TPM2_CAP.HANDLES, 0x80000000, 64)
            self.expect("pytss: no transient handles after FlushContext of all",
                        len(data.data.handles) == 0)
        finally:
            esys.close()

    # -- 4 ------------------------------------------------------------------------------------
    def policy_pcr(self):
        sel = f"sha256:{PCR}"
        self.tool("tpm2_pcrreset", PCR)
        self.tool("tpm2_pcrread", "-o", self.path("pcr.bin"), sel)
        self.tool("tpm2_createpolicy", "--policy-pcr", "-l", sel, "-f", self.path("pcr.bin"),
                  "-L", self.path("pcr.policy"))
        secret = b"sealed to PCR 23 behind tpm2-abrmd"
        with open(self.path("secret"), "wb") as f:
            f.write(secret)
        self.tool("tpm2_create", "-C", self.path("prim.ctx"), "-L", self.path("pcr.policy"),
                  "-i", self.path("secret"), "-u", self.path("seal.pub"),
                  "-r", self.path("seal.priv"))
        self.tool("tpm2_load", "-C", self.path("prim.ctx"), "-u", self.path("seal.pub"),
                  "-r", self.path("seal.priv"), "-c", self.path("seal.ctx"))

        def unseal(tag, ok):
            ps = self.path(f"ps-{tag}.ctx")
            self.tool("tpm2_startauthsession", "--policy-session", "-S", ps)
            self.tool("tpm2_policypcr", "-S", ps, "-l", sel)
            res = self.tool("tpm2_unseal", "-p", f"session:{ps}", "-c", self.path("seal.ctx"),
                            ok=ok, what=f"tpm2_unseal ({tag})")
            self.tool("tpm2_flushcontext", ps)
            return res

        res = unseal("PCR as sealed", True)
        self.expect("the policy session (three processes) unseals the secret",
                    res.stdout == secret)
        self.tool("tpm2_pcrextend", f"{PCR}:sha256=" + hashlib.sha256(b"changed").hexdigest())
        res = unseal("PCR extended", False)
        self.expect("after the extend the unseal fails with TPM_RC_POLICY_FAIL",
                    res.tpm_rc() == 0x99D, f"({res.stderr.strip()})")
        self.tool("tpm2_pcrreset", PCR)
        res = unseal("PCR reset", True)
        self.expect("after the reset it unseals again", res.stdout == secret)

    # -- 5 ------------------------------------------------------------------------------------
    def hmac_session(self):
        hs = self.path("hs.ctx")
        self.tool("tpm2_startauthsession", "--hmac-session", "-c", self.path("prim.ctx"),
                  "-S", hs)
        self.tool("tpm2_sign", "-c", self.path("k0.ctx"), "-p", f"session:{hs}", "-g", "sha256",
                  "-f", "plain", "-o", self.path("hs.sig"), self.path("msg"),
                  what="tpm2_sign -p session: (salted HMAC session)")
        self.verify_file_signature(self.path("k0.ctx"), self.path("msg"), self.path("hs.sig"),
                                   "a signature authorized by the HMAC session verifies")
        res = self.tool("tpm2_getrandom", "-S", hs, "--hex", "32",
                        what="tpm2_getrandom -S (response encryption)")
        self.expect("tpm2_getrandom -S gives 32 bytes", len(bytes.fromhex(res.text)) == 32)
        self.tool("tpm2_flushcontext", hs)
        res = self.tool("tpm2_getrandom", "-S", hs, "--hex", "8", ok=False,
                        what="tpm2_getrandom -S with the flushed session")

    # -- 6 ------------------------------------------------------------------------------------
    def concurrent(self):
        env = dict(os.environ, TPM2TOOLS_TCTI=self.tcti, TSS2_LOG="all+ERROR")
        procs = []
        for w in range(WORKERS):
            d = self.path(f"w{w}")
            os.makedirs(d, exist_ok=True)
            script = (f"cd {d} && printf 'worker {w}' > msg"
                      " && tpm2_createprimary -C o -G ecc -c p.ctx >/dev/null"
                      " && tpm2_create -C p.ctx -G ecc -u k.pub -r k.priv >/dev/null"
                      " && tpm2_load -C p.ctx -u k.pub -r k.priv -c k.ctx >/dev/null"
                      " && tpm2_sign -c k.ctx -g sha256 -f plain -o k.sig msg"
                      " && tpm2_readpublic -c k.ctx -f pem -o k.pem >/dev/null")
            procs.append(subprocess.Popen(["sh", "-c", script], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        ok = 0
        errors = []
        for w, p in enumerate(procs):
            out, err = p.communicate(timeout=300)
            d = self.path(f"w{w}")
            if p.returncode == 0 and verify_der(os.path.join(d, "k.pem"),
                                                os.path.join(d, "msg"),
                                                os.path.join(d, "k.sig")):
                ok += 1
            else:
                errors.append(err.decode(errors="replace").strip()[-400:])
        self.expect(f"{WORKERS} concurrent tool processes: each signature verifies",
                    ok == WORKERS, "; ".join(errors))

    # -- 7 ------------------------------------------------------------------------------------
    def flush_and_handles(self):
        for flag in ("-t", "-l", "-s"):
            self.tool("tpm2_flushcontext", flag)
        for kind in ("handles-transient", "handles-loaded-session", "handles-saved-session"):
            res = self.tool("tpm2_getcap", kind)
            lines = [ln for ln in res.text.splitlines() if ln.strip()]
            self.row(f"tpm2_getcap {kind} from a fresh connection: entries", len(lines))

    # -- 8 ------------------------------------------------------------------------------------
    def sessions_until_full(self):
        import tpm2_pytss as P
        conns, started, rc = [], 0, None
        try:
            while rc is None and started < 100:
                esys = P.ESAPI(self.tcti)  # loaded (and closed) by ESAPI itself
                conns.append(esys)
                for _ in range(4):  # the broker's default --max-sessions per connection
                    try:
                        esys.start_auth_session(P.ESYS_TR.NONE, P.ESYS_TR.NONE, P.TPM2_SE.HMAC,
                                                P.TPMT_SYM_DEF(algorithm=P.TPM2_ALG.NULL),
                                                P.TPM2_ALG.SHA256)
                        started += 1
                    except P.TSS2_Exception as e:
                        rc = int(e.rc)
                        break
        finally:
            for esys in conns:
                esys.close()
        self.info.append(f"{started} sessions in {len(conns)} connections until the TPM "
                         "refused")
        self.row("pytss: StartAuthSession once every session handle is taken",
                 f"{rc:#x}" if rc is not None else "no limit hit")
        # The broker notices closed connections asynchronously: give it a few seconds.
        deadline = time.monotonic() + 20
        while True:
            res = T.tool(self.tcti, "tpm2_startauthsession", "-S", self.path("last.ctx"),
                         ok=None)
            if res.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.info.append(f"a session starts again after {time.monotonic() - deadline + 20:.1f} s")
        self.expect("the broker flushed the closed connections' sessions: a new one starts",
                    res.returncode == 0, res.stderr.strip()[-300:])
        self.tool("tpm2_flushcontext", self.path("last.ctx"))

    def run(self):
        for step in (self.basics, self.keys_in_files, self.many_keys_one_connection,
                     self.policy_pcr, self.hmac_session, self.concurrent,
                     self.flush_and_handles, self.sessions_until_full):
            t0 = time.monotonic()
            step()
            self.info.append(f"{step.__name__}: {time.monotonic() - t0:.1f} s")
        return self.rows


def verify_der(pem_path, message_path, sig_path):
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    try:
        with open(pem_path, "rb") as f:
            key = serialization.load_pem_public_key(f.read())
        with open(message_path, "rb") as f:
            message = f.read()
        with open(sig_path, "rb") as f:
            sig = f.read()
        key.verify(sig, message, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError, OSError):
        return False


def prerequisites():
    missing = [p for p in ("tpm2-abrmd", "dbus-daemon") if which(p) is None]
    if missing:
        raise T.Skip("missing " + ", ".join(missing)
                     + " (apt-get install tpm2-abrmd libtss2-tcti-tabrmd0 dbus-daemon)")
    T.require_programs("tpm2_createprimary", "swtpm", "swtpm_setup")
    T.require_tcti_library("tabrmd")
    try:
        import tpm2_pytss  # noqa: F401
        import cryptography  # noqa: F401
    except ImportError as e:
        raise T.Skip(f"{e} (apt-get install python3-tpm2-pytss python3-cryptography)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tcti", required=True, help="TPM under test (mssim:/spawn:host-sim)")
    ap.add_argument("--ref-tcti", default="spawn:swtpm", help="reference (default spawn:swtpm)")
    args = ap.parse_args()
    # ESYS in this process (tpm2-pytss) logs expected TPM errors on stderr otherwise.
    os.environ.setdefault("TSS2_LOG", "all+NONE")
    prerequisites()
    with tempfile.TemporaryDirectory(prefix="vtpm-abrmd-") as tmp, Bus(tmp), \
            open_target(args.tcti) as tcti, open_target(args.ref_tcti) as ref_tcti:
        rows, infos = {}, {}
        for label, t in (("ours", tcti), ("swtpm", ref_tcti)):
            work = os.path.join(tmp, label)
            os.makedirs(work)
            with Broker(label, t, tmp) as broker:
                flows = Flows(label, broker.tcti, work)
                try:
                    rows[label] = flows.run()
                except T.Failure as e:
                    steps = "\n  ".join(f"{w}: {v}" for w, v in flows.rows[-8:])
                    raise T.Failure(f"{e}\n[{label}] last steps:\n  {steps}\n"
                                    f"--- tpm2-abrmd log (tail) ---\n{broker.log_text()}") \
                        from None
                infos[label] = flows.info
        for label in rows:
            T.log(f"[{label}] " + "; ".join(infos[label]))
        ours, ref = rows["ours"], rows["swtpm"]
        failures = []
        print(f"{'step':70} {'swtpm':>8} {'ours':>8}")
        for i in range(max(len(ours), len(ref))):
            a = ours[i] if i < len(ours) else ("<missing>", None)
            b = ref[i] if i < len(ref) else ("<missing>", None)
            same = a == b
            print(f"{a[0][:70]:70} {str(b[1]):>8} {str(a[1]):>8}"
                  f"{'' if same else '  DIFFERS ' + b[0]}")
            if not same:
                failures.append(f"step {i}: ours {a} swtpm {b}")
        T.check(not failures, "differs from swtpm:\n  " + "\n  ".join(failures[:10]))
        T.log(f"ok: {len(ours)} steps through tpm2-abrmd identical on both TPMs, every check "
              "held")


if __name__ == "__main__":
    T.run_main(main)
