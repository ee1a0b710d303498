#!/usr/bin/env python3
"""Write the seeds of the SEV-SNP fuzz targets (snp_msg, svsm) into fuzz/seeds/.

snp_msg: mode byte + data (see fuzz_targets/snp_msg.rs); svsm: RAX selector, RCX offset, then
the guest memory image from GPA 0x10000 (see fuzz_targets/svsm.rs).
"""
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent
REPORT = (ROOT.parent / "platform-snp/tests/data/snp/attestation.bin").read_bytes()
BASE = 0x10000
VTPM_GUID = bytes.fromhex("ebf176c42301a5459641b4e7dde5bfe3")


def write(target, name, data):
    d = ROOT / "seeds" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


# snp_msg --------------------------------------------------------------------------------------
rsp = struct.pack("<II", 0, 0x4A0) + bytes(24) + REPORT
write("snp_msg", "sealed_report_rsp", b"\x01" + rsp)
write("snp_msg", "sealed_report_rsp_extended", b"\x81" + rsp)
write("snp_msg", "status_invalid_param", b"\x01" + struct.pack("<II", 0x16, 0) + bytes(24))
hdr = bytearray(0x60)
struct.pack_into("<Q", hdr, 0x20, 2)
hdr[0x30:0x38] = bytes([1, 1, 0x60, 0, 6, 1]) + struct.pack("<H", 0x4C0)
write("snp_msg", "raw_response_header", b"\x00" + bytes(hdr) + rsp)
write("snp_msg", "busy", b"\x02" + struct.pack("<QQ", 2 << 32, 0))
write("snp_msg", "invalid_len_extended", b"\x82" + struct.pack("<QQ", 1 << 32, 3))
write("snp_msg", "genuine_report", b"\x00" + REPORT)


# svsm -----------------------------------------------------------------------------------------
def svsm(protocol, call, off, image):
    return bytes([protocol, call]) + struct.pack("<H", off) + b"\x00" + bytes(image)


def tpm_page(cmd, locality=0):
    return struct.pack("<IBI", 8, locality, len(cmd)) + cmd


get_random = bytes.fromhex("80010000000c0000017b0010")
startup = bytes.fromhex("80010000000c000001440000")
img = bytearray(0x200)
img[0x100:0x100 + 21] = tpm_page(get_random)
write("svsm", "vtpm_cmd_get_random", svsm(2, 1, 0x100, img))
img = bytearray(0x200)
img[0x10:0x10 + 21] = tpm_page(startup)
write("svsm", "vtpm_cmd_startup", svsm(2, 1, 0x10, img))
write("svsm", "vtpm_query", svsm(2, 0, 0, b""))


def op(cert_size=0):
    return struct.pack(
        "<QI4xQH6xQI4xQI4x",
        BASE + 0x1000, 0x1000,
        BASE + 0x3000, 64,
        BASE + 0x2000, 0x1000,
        BASE + 0x4000 if cert_size else 0, cert_size,
    )


for name, call, body in [
    ("attest_single_vtpm", 1, op() + VTPM_GUID + bytes(8)),
    ("attest_single_vtpm_certs", 1, op(0x1000) + VTPM_GUID + bytes(8)),
    ("attest_services", 0, op()),
]:
    img = bytearray(0x5000 + len(body))
    img[0x3000:0x3040] = bytes(range(64))
    img[0x5000:] = body
    write("svsm", name, svsm(1, call, 0x5000, img))
