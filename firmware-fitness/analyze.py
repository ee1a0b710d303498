#!/usr/bin/env python3
"""Measure the firmware-fitness binary: code size, RAM, panic call sites, stack per entry point.

Usage: analyze.py BINARY REPO_ROOT [--attribution BINARY2] [--budgets FILE] [--allow FILE]
                  [--json OUT]

Reads the ELF with binutils (readelf, nm, objdump, addr2line), no other dependency.

- Code: .text + .rodata + .data.rel.ro (what a firmware image carries as code and constants).
- RAM: .data + .bss, and the size of the vTPM service static alone.
- Panic call sites (from BINARY2 when given: the same build with LLVM's tail merging off, so
  that no two sites share one call and each keeps its own source line): every call or jump (conditional or not) from a function outside the panic
  machinery into it. The machinery is core's diverging panic entry points (names below) and
  the panic handler. Each site is attributed with addr2line's inlining chain: the innermost
  frame outside the Rust standard library names the source file; a file in this repository is
  a project site, a file from a crate registry a dependency site.
- Stack: LLVM's per-function frame sizes (`-Z emit-stack-sizes`, section .stack_sizes) on the
  call graph from the disassembly (direct calls and tail jumps; an indirect call or jump,
  including the PIE's calls through the GOT, may reach any function whose address is taken:
  a RELATIVE relocation's target or a `lea` of a function start). The worst path from each entry point, with 8 bytes per
  return address. Recursion (a cycle) is reported and fails the check.
"""

import json
import re
import subprocess
import sys
from collections import defaultdict

PANIC_ENTRY = re.compile(
    r"^(rust_begin_unwind$|core::panicking::|core::option::(expect|unwrap)_failed|"
    r"core::result::unwrap_failed|core::slice::index::|"
    r"core::slice::copy_from_slice_impl::len_mismatch_fail|core::str::slice_error_fail|"
    r"core::cell::panic_|core::.*::panic_|core::hint::unreachable_unchecked::precondition)"
)

ENTRY_POINTS = {
    "boot": "fitness_boot",
    "handle_call": "fitness_handle_call",
    "execute": "fitness_execute",
    "firmware (_start)": "_start",
}


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def panic_sites_of(binary, repo):
    """The panic call sites of `binary`, each attributed (see the module docs)."""
    funcs = functions(binary)
    starts = sorted(funcs)
    by_raw = {v[2]: a for a, v in funcs.items()}
    import bisect

    def owner(addr):
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < starts[i] + max(funcs[starts[i]][0], 1):
            return starts[i]
        return None

    machinery = {a for a, v in funcs.items() if PANIC_ENTRY.match(v[1])}
    if "rust_begin_unwind" in by_raw:
        machinery.add(by_raw["rust_begin_unwind"])
    sites = []
    for addr, mn, ops in disassemble(binary):
        m = TARGET.match(ops)
        if (mn.startswith("call") or mn.startswith("j")) and m:
            t = int(m.group(1), 16)
            c = owner(addr)
            if t in machinery and c is not None and c not in machinery:
                sites.append((addr, c, t))
    out = []
    for s, c, t in sites:
        kind, where, _ = attribute(binary, repo, s)
        out.append({"site": hex(s), "kind": kind, "where": where, "in": funcs[c][1],
                    "calls": funcs[t][1]})
    return out


def attribute(binary, repo, addr):
    """(kind, file:line, function) of the innermost frame outside the standard library."""
    out = run("addr2line", "-i", "-f", "-C", "-e", binary, hex(addr)).splitlines()
    frames = list(zip(out[0::2], out[1::2]))
    for fn, loc in frames:
        path, _, line = loc.rpartition(":")
        line = line.split()[0] if line else "?"
        if path.startswith("/rustc/"):
            continue
        if path.startswith(repo):
            return "project", path[len(repo):] + ":" + line, fn
        m = re.search(r"/registry/src/[^/]+/([^/]+)/(.*)", path)
        if m:
            return "dependency", m.group(1) + "/" + m.group(2) + ":" + line, fn
        return "unknown", loc, fn
    fn, loc = frames[-1] if frames else ("?", "?")
    return "std", loc, fn


def sections(binary):
    out = {}
    for line in run("readelf", "-SW", binary).splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if m:
            out[m.group(1)] = (int(m.group(2), 16), int(m.group(3), 16), int(m.group(4), 16))
    return out


def functions(binary):
    """address -> (size, demangled name); also name -> address."""
    funcs = {}
    raw = run("nm", "-S", "--defined-only", binary).splitlines()
    dem = run("nm", "-S", "-C", "--defined-only", binary).splitlines()
    for r, d in zip(raw, dem):
        f = r.split(maxsplit=3)
        g = d.split(maxsplit=3)
        if len(f) == 4 and f[2] in "tTW":
            funcs[int(f[0], 16)] = (int(f[1], 16), g[3], f[3])
    return funcs


def uleb(b, i):
    v = 0
    shift = 0
    while True:
        byte = b[i]
        i += 1
        v |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return v, i


def stack_sizes(binary, secs):
    if ".stack_sizes" not in secs:
        return {}
    _, off, size = secs[".stack_sizes"]
    data = open(binary, "rb").read()[off : off + size]
    out = {}
    i = 0
    while i + 8 <= len(data):
        addr = int.from_bytes(data[i : i + 8], "little")
        s, i = uleb(data, i + 8)
        out[addr] = s
    return out


INSN = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")
TARGET = re.compile(r"^([0-9a-f]+) <")


def disassemble(binary):
    """Yield (address, mnemonic, operands) for .text."""
    out = run("objdump", "-d", "--no-show-raw-insn", "-j", ".text", binary)
    for line in out.splitlines():
        m = INSN.match(line)
        if m:
            yield int(m.group(1), 16), m.group(2), m.group(3)


def prologue_frame(insns):
    """Frame size from a prologue (pushes and `sub $n,%rsp`), for functions LLVM did not size."""
    frame = 0
    for _, mn, ops in insns[:12]:
        if mn.startswith("push"):
            frame += 8
        elif mn.startswith("sub") and ops.endswith(",%rsp"):
            m = re.match(r"\$0x([0-9a-f]+),%rsp", ops)
            if m:
                frame += int(m.group(1), 16)
            break
    return frame


def main():
    binary, repo = sys.argv[1], sys.argv[2].rstrip("/") + "/"
    budgets = {}
    if "--budgets" in sys.argv:
        for line in open(sys.argv[sys.argv.index("--budgets") + 1]):
            line = line.split("#")[0].strip()
            if "=" in line:
                k, v = line.split("=", 1)
                budgets[k.strip()] = int(v.strip())

    secs = sections(binary)
    funcs = functions(binary)
    starts = sorted(funcs)
    by_name = {v[1]: a for a, v in funcs.items()}
    by_raw = {v[2]: a for a, v in funcs.items()}

    def owner(addr):
        import bisect

        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0:
            a = starts[i]
            if addr < a + max(funcs[a][0], 1):
                return a
        return None

    # Call graph.
    body = defaultdict(list)
    for addr, mn, ops in disassemble(binary):
        f = owner(addr)
        if f is not None:
            body[f].append((addr, mn, ops))
    address_taken = set()
    for line in run("readelf", "-rW", binary).splitlines():
        f = line.split()
        if len(f) >= 4 and "RELATIVE" in f[2]:
            a = int(f[-1], 16)
            if a in funcs:
                address_taken.add(a)
    calls = defaultdict(set)  # caller -> callees (direct)
    sites = []  # (site address, caller, callee)
    indirect = set()
    for f, insns in body.items():
        for addr, mn, ops in insns:
            m = TARGET.match(ops)
            if mn.startswith("lea"):
                m2 = re.search(r"# ([0-9a-f]+) <", ops)
                if m2 and int(m2.group(1), 16) in funcs:
                    address_taken.add(int(m2.group(1), 16))
                continue
            if mn.startswith("call"):
                if m:
                    t = int(m.group(1), 16)
                    calls[f].add(t)
                    sites.append((addr, f, t))
                else:
                    indirect.add(f)
            elif mn.startswith("jmp") and "*" in ops:
                # An indirect tail call (through the GOT) or a jump table: conservatively both.
                indirect.add(f)
            elif mn.startswith("j") and m:
                t = int(m.group(1), 16)
                if t in funcs and t != f:
                    calls[f].add(t)  # tail call
                    sites.append((addr, f, t))

    machinery = {a for a, v in funcs.items() if PANIC_ENTRY.match(v[1])}
    if "rust_begin_unwind" in by_raw:
        machinery.add(by_raw["rust_begin_unwind"])
    attribution = binary
    if "--attribution" in sys.argv:
        attribution = sys.argv[sys.argv.index("--attribution") + 1]
    attributed = sorted(panic_sites_of(attribution, repo), key=lambda x: (x["kind"], x["where"]))
    allowed = {}
    if "--allow" in sys.argv:
        for line in open(sys.argv[sys.argv.index("--allow") + 1]):
            line = line.strip()
            if line and not line.startswith("#"):
                loc, _, why = line.partition(" ")
                allowed[loc] = why.strip()

    # Stack.
    frames = stack_sizes(binary, secs)
    unsized = []
    frame = {}
    for a in funcs:
        if a in frames:
            frame[a] = frames[a]
        else:
            frame[a] = prologue_frame(body.get(a, []))
            unsized.append(funcs[a][1])
    cycles = set()
    memo = {}

    def worst(f, stack):
        if f in memo:
            return memo[f]
        if f in stack:
            cycles.add(funcs[f][1])
            return 0, []
        stack.add(f)
        best, path = 0, []
        callees = set(calls.get(f, ()))
        if f in indirect:
            callees |= address_taken
        for t in callees:
            if t not in funcs or t in machinery:
                continue
            w, p = worst(t, stack)
            if w + 8 > best:
                best, path = w + 8, p
        stack.discard(f)
        memo[f] = (frame[f] + best, [f] + path)
        return memo[f]

    stacks = {}
    for label, sym in ENTRY_POINTS.items():
        a = by_raw.get(sym)
        if a is None:
            continue
        memo.clear()
        w, p = worst(a, set())
        stacks[label] = {
            "bytes": w + 8,
            "path": [f"{funcs[x][1]} ({frame[x]})" for x in p],
        }

    def size(name):
        return secs.get(name, (0, 0, 0))[2]

    code = size(".text") + size(".rodata") + size(".data.rel.ro")
    ram = size(".data") + size(".bss")
    service = 0
    for line in run("nm", "-S", "-C", "--defined-only", binary).splitlines():
        f = line.split(maxsplit=3)
        if len(f) == 4 and f[3].endswith("::SERVICE"):
            service = int(f[1], 16)
    project_sites = [x for x in attributed if x["kind"] != "dependency"]
    dep_sites = [x for x in attributed if x["kind"] == "dependency"]
    dep_locations = sorted({x["where"] for x in dep_sites})
    unargued = [loc for loc in dep_locations if loc not in allowed]

    report = {
        "code_bytes": code,
        "text": size(".text"),
        "rodata": size(".rodata"),
        "data_rel_ro": size(".data.rel.ro"),
        "ram_bytes": ram,
        "data": size(".data"),
        "bss": size(".bss"),
        "service_static": service,
        "panic_sites_project": len(project_sites),
        "panic_sites_dependency": len(dep_sites),
        "panic_locations_dependency": dep_locations,
        "panic_sites": attributed,
        "stack": stacks,
        "recursion": sorted(cycles),
        "indirect_callers": sorted(funcs[f][1] for f in indirect),
        "address_taken": len(address_taken),
        "unsized_functions": sorted(unsized),
    }
    if "--json" in sys.argv:
        json.dump(report, open(sys.argv[sys.argv.index("--json") + 1], "w"), indent=1)

    kib = lambda n: f"{n / 1024:.1f} KiB"
    print(f"code  {code} B ({kib(code)}): .text {size('.text')}, .rodata {size('.rodata')}, "
          f".data.rel.ro {size('.data.rel.ro')}")
    print(f"RAM   {ram} B ({kib(ram)}): .data {size('.data')}, .bss {size('.bss')}; "
          f"the VtpmService static {service} B")
    for label, s in stacks.items():
        print(f"stack {label:18} {s['bytes']:6} B ({kib(s['bytes'])})")
        for step in s["path"][:12]:
            print(f"        {step}")
    print(f"panic call sites: project {len(project_sites)}, dependencies {len(dep_sites)} "
          f"at {len(dep_locations)} source locations")
    for x in project_sites:
        print(f"  PROJECT {x['where']}  [in {x['in']} -> {x['calls']}]")
    for loc in dep_locations:
        mark = "argued " if loc in allowed else "NOT ARGUED"
        print(f"  {mark} {loc}")
    if cycles:
        print("recursion through: " + ", ".join(sorted(cycles)))
    if unsized:
        print(f"frames from the prologue (no .stack_sizes entry): {len(unsized)} functions")

    failures = []
    checks = [
        ("code_bytes", code),
        ("boot_stack_bytes", stacks.get("boot", {}).get("bytes", 1 << 30)),
        ("execute_stack_bytes", stacks.get("execute", {}).get("bytes", 1 << 30)),
        ("handle_call_stack_bytes", stacks.get("handle_call", {}).get("bytes", 1 << 30)),
        ("project_panic_sites", len(project_sites)),
        ("dependency_panic_locations", len(dep_locations)),
    ]
    for key, value in checks:
        if key in budgets and value > budgets[key]:
            failures.append(f"{key} = {value} > budget {budgets[key]}")
    if "--allow" in sys.argv and unargued:
        failures.append(f"dependency panic sites not argued in the allow list: {len(unargued)}")
    if cycles:
        failures.append("recursion in the call graph: the stack bound does not hold")
    for f in failures:
        print("OVER BUDGET: " + f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
