#!/usr/bin/env python3
"""Write the seed corpora (seeds/execute, seeds/sequence) and the libFuzzer dictionary (tpm2.dict).

seeds/execute/<cc>_<name>: locality 0 ‖ one valid command per implemented command code
(vtpm::dispatch::COMMANDS), bytes per shared/spec/tpm2-wire.md. Commands that need state (a
sequence object at 0x80000000) are valid bytes but answer REFERENCE_H0 alone; the sequence
seeds create that state first.

seeds/sequence/<name>: records `locality u8 ‖ length u16 ‖ command`; length 0 = _TPM_Init.

Run from anywhere: python3 fuzz/gen_seeds.py
"""
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

ST_NO, ST_S = 0x8001, 0x8002
RS_PW, RH_OWNER, RH_NULL, RH_LOCKOUT, RH_ENDORSEMENT, RH_PLATFORM = (
    0x40000009, 0x40000001, 0x40000007, 0x4000000A, 0x4000000B, 0x4000000C)
SHA256, SHA384, SHA512, ALG_NULL = 0x000B, 0x000C, 0x000D, 0x0010
SEQ = 0x80000000       # first transient handle: the first sequence object
HMAC_S = 0x02000000    # first HMAC session handle
POLICY_S = 0x03000000  # first policy session handle
PCR = 16


def u8(v): return struct.pack(">B", v)
def u16(v): return struct.pack(">H", v)
def u32(v): return struct.pack(">I", v)
def b2(data): return u16(len(data)) + data


def auth(handle=RS_PW, nonce=b"", attrs=0, hmac=b""):
    return u32(handle) + b2(nonce) + u8(attrs) + b2(hmac)


def cmd(cc, handles=(), sessions=None, params=b""):
    body = b"".join(u32(h) for h in handles)
    if sessions is not None:
        area = b"".join(sessions)
        body += u32(len(area)) + area
    tag = ST_S if sessions is not None else ST_NO
    return u16(tag) + u32(10 + len(body) + len(params)) + u32(cc) + body + params


PW = [auth()]
pcr_sel = u32(1) + u16(SHA256) + u8(3) + bytes([0xFF, 0, 0])
digests = u32(2) + u16(SHA256) + b"\xab" * 32 + u16(SHA384) + b"\xab" * 48


def start_auth_session(se=0, bind=RH_NULL):
    return cmd(0x176, (RH_NULL, bind), None,
               b2(b"\x33" * 32) + b2(b"") + u8(se) + u16(ALG_NULL) + u16(SHA256))


# One valid command per implemented command code.
EXECUTE = {
    0x126: ("Clear", cmd(0x126, (RH_LOCKOUT,), PW)),
    0x127: ("ClearControl", cmd(0x127, (RH_PLATFORM,), PW, u8(0))),
    0x129: ("HierarchyChangeAuth", cmd(0x129, (RH_OWNER,), PW, b2(b"pass"))),
    0x13C: ("PCR_Event", cmd(0x13C, (PCR,), PW, b2(b"event data"))),
    0x13D: ("PCR_Reset", cmd(0x13D, (PCR,), PW)),
    0x13E: ("SequenceComplete", cmd(0x13E, (SEQ,), PW, b2(b"abc") + u32(RH_NULL))),
    0x142: ("IncrementalSelfTest", cmd(0x142, (), None, u32(2) + u16(SHA256) + u16(SHA384))),
    0x143: ("SelfTest", cmd(0x143, (), None, u8(1))),
    0x144: ("Startup", cmd(0x144, (), None, u16(0))),
    0x145: ("Shutdown", cmd(0x145, (), None, u16(1))),
    0x146: ("StirRandom", cmd(0x146, (), None, b2(b"\x01" * 16))),
    0x15C: ("SequenceUpdate", cmd(0x15C, (SEQ,), PW, b2(b"abc"))),
    0x165: ("FlushContext", cmd(0x165, (), None, u32(HMAC_S))),
    0x176: ("StartAuthSession", start_auth_session()),
    0x17A: ("GetCapability", cmd(0x17A, (), None, u32(6) + u32(0x100) + u32(127))),
    0x17B: ("GetRandom", cmd(0x17B, (), None, u16(32))),
    0x17C: ("GetTestResult", cmd(0x17C)),
    0x17D: ("Hash", cmd(0x17D, (), None, b2(b"\x5a" * 64) + u16(SHA256) + u32(RH_OWNER))),
    0x17E: ("PCR_Read", cmd(0x17E, (), None, pcr_sel)),
    0x181: ("ReadClock", cmd(0x181)),
    0x182: ("PCR_Extend", cmd(0x182, (PCR,), PW, digests)),
    0x185: ("EventSequenceComplete", cmd(0x185, (PCR, SEQ), PW + PW, b2(b"abc"))),
    0x186: ("HashSequenceStart", cmd(0x186, (), None, b2(b"") + u16(SHA256))),
}


def rec(c, locality=0):
    return u8(locality) + u16(len(c)) + c


INIT = u8(0) + u16(0)

SEQUENCES = {
    "hmac_session_pcr_extend": [
        start_auth_session(),
        # Unbound, unsalted session on a PCR (empty authValue): the empty HMAC is accepted.
        cmd(0x182, (PCR,), [auth(HMAC_S, b"\x44" * 32, 1)], digests),
        cmd(0x182, (PCR,), [auth(HMAC_S, b"\x45" * 32, 0)], digests),  # no continueSession
        cmd(0x17E, (), None, u32(1) + u16(SHA384) + u8(3) + bytes([0, 0, 1])),
    ],
    "policy_session_flush": [
        start_auth_session(se=1),
        start_auth_session(se=3),
        cmd(0x165, (), None, u32(POLICY_S)),
        cmd(0x17A, (), None, u32(1) + u32(0x02000000) + u32(16)),
    ],
    "bound_session": [
        start_auth_session(bind=RH_OWNER),
        cmd(0x17A, (), None, u32(1) + u32(0x02000000) + u32(16)),
    ],
    "hash_sequence": [
        cmd(0x186, (), None, b2(b"seqauth") + u16(SHA384)),
        cmd(0x15C, (SEQ,), [auth(hmac=b"seqauth")], b2(b"hello ")),
        cmd(0x13E, (SEQ,), [auth(hmac=b"seqauth")], b2(b"world") + u32(RH_OWNER)),
    ],
    "event_sequence": [
        cmd(0x186, (), None, b2(b"") + u16(ALG_NULL)),
        cmd(0x15C, (SEQ,), PW, b2(b"event ")),
        cmd(0x185, (PCR, SEQ), PW + PW, b2(b"data")),
    ],
    "shutdown_state_resume": [
        cmd(0x182, (0,), PW, digests),
        cmd(0x145, (), None, u16(1)),
        None,  # _TPM_Init
        cmd(0x144, (), None, u16(1)),
        cmd(0x17E, (), None, pcr_sel),
    ],
    "restart_clear": [
        cmd(0x145, (), None, u16(1)),
        None,
        cmd(0x144, (), None, u16(0)),
        cmd(0x181),
    ],
    "hierarchy_auth_clear": [
        cmd(0x129, (RH_OWNER,), PW, b2(b"pass")),
        cmd(0x129, (RH_OWNER,), [auth(hmac=b"pass")], b2(b"")),
        cmd(0x129, (RH_LOCKOUT,), PW, b2(b"lock")),
        cmd(0x127, (RH_LOCKOUT,), [auth(hmac=b"lock")], u8(1)),  # lockout may only disable
        cmd(0x126, (RH_LOCKOUT,), [auth(hmac=b"lock")]),  # DISABLED
        cmd(0x127, (RH_PLATFORM,), PW, u8(0)),
        cmd(0x126, (RH_LOCKOUT,), [auth(hmac=b"lock")]),
    ],
    "pcr_locality": [
        cmd(0x182, (17,), PW, digests),  # LOCALITY at locality 0
        (3, cmd(0x182, (17,), PW, digests)),
        (4, cmd(0x13D, (17,), PW)),
        cmd(0x13D, (16,), PW),
    ],
    "all_commands": [c for _, (_, c) in sorted(EXECUTE.items())],
}


def implemented_codes():
    """Command codes in vtpm::dispatch::COMMANDS (names resolved through wire/constants.rs)."""
    root = os.path.join(HERE, "..", "vtpm", "src")
    try:
        dispatch = open(os.path.join(root, "dispatch.rs")).read()
        consts = open(os.path.join(root, "wire", "constants.rs")).read()
    except OSError:
        return None
    table = dispatch.split("pub const COMMANDS", 1)[1].split("];", 1)[0]
    cc_block = consts.split("TpmCc(u32) {", 1)[1].split("\n    }", 1)[0]
    values = dict(re.findall(r"(\w+) = (0x[0-9A-Fa-f_]+);", cc_block))
    codes = set()
    for name in re.findall(r"TpmCc::(\w+)", table):
        if name in values:
            codes.add(int(values[name].replace("_", ""), 16))
    return codes or None


def write(dirname, name, data):
    path = os.path.join(HERE, "seeds", dirname)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), "wb") as f:
        f.write(data)


def main():
    for cc, (name, c) in EXECUTE.items():
        write("execute", f"{cc:03x}_{name}", b"\x00" + c)
    write("execute", "locality3_PCR_Extend", b"\x03" + EXECUTE[0x182][1])
    for name, cmds in SEQUENCES.items():
        write("sequence", name, b"".join(
            INIT if c is None else rec(c[1], c[0]) if isinstance(c, tuple) else rec(c)
            for c in cmds))

    tokens = {f"cc_{n}": u32(cc) for cc, (n, _) in EXECUTE.items()}
    tokens.update(tag_no=u16(ST_NO), tag_s=u16(ST_S), rs_pw=u32(RS_PW), rh_owner=u32(RH_OWNER),
                  rh_null=u32(RH_NULL), rh_lockout=u32(RH_LOCKOUT), rh_platform=u32(RH_PLATFORM),
                  rh_endorsement=u32(RH_ENDORSEMENT), seq=u32(SEQ), hmac_s=u32(HMAC_S),
                  policy_s=u32(POLICY_S), sha256=u16(SHA256), sha384=u16(SHA384),
                  sha512=u16(SHA512), alg_null=u16(ALG_NULL))
    with open(os.path.join(HERE, "tpm2.dict"), "w") as f:
        f.write("# TPM 2.0 tokens for libFuzzer -dict= (generated by gen_seeds.py)\n")
        for k, v in tokens.items():
            f.write(f'{k}="' + "".join(f"\\x{b:02X}" for b in v) + '"\n')

    codes = implemented_codes()
    if codes is not None:
        missing = sorted(codes - set(EXECUTE))
        if missing:
            print("warning: no seed for implemented command codes:",
                  ", ".join(f"{c:#x}" for c in missing), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
