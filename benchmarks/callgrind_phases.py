#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Instruction counts of one training step by layer and phase, from a callgrind profile of
benchmarks/step_profile_avx2 (see step_profile.cpp for the valgrind command; it needs
--dump-instr=yes --compress-strings=no --compress-pos=no).

The engine's kernels are inlined into the step, so callgrind's per-function totals say little.
This script maps every instruction address of the driver to its chain of inlined frames
(addr2line -i) and files its cost under the phase the chain names (the layer comes from the
template arguments, e.g. backward_block<true, 1ul>); calls from the driver into OpenBLAS and libc
count their inclusive cost at the call site, so each GEMM lands on its layer and pass (dW or dX
told apart by the source line of the call). Output: a Markdown table, instructions per step.

  callgrind_phases.py PROFILE BINARY STEPS
"""
import collections
import re
import subprocess
import sys
from pathlib import Path


# Functions of the driver that are not inlined but are only parts of a phase: a call to one
# counts its inclusive cost at the call site (whose frames name the layer and pass), and nothing
# inside them is counted again.
EXPAND = ("kernels::cpu::gemm<", "kernels::cpu::blas_gemm", "gather_row<")


def parse(path, binary_name):
    """Self costs by address in the binary, and calls counted at their call site: (address,
    callee name, inclusive cost)."""
    self_cost = collections.Counter()
    calls = []
    ob = fn = cob = cfn = None
    pending_call = False

    def name_of(value, table):
        m = re.match(r"\((\d+)\)(?: (.*))?", value)
        if m:
            if m.group(2) is not None:
                table[m.group(1)] = m.group(2)
            return table.get(m.group(1), value)
        return value

    obs, fns = {}, {}
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("ob="):
            ob = name_of(line[3:], obs)
        elif line.startswith("fn="):
            fn = name_of(line[3:], fns)
            cob = None
        elif line.startswith("cob="):
            cob = name_of(line[4:], obs)
        elif line.startswith("cfn="):
            cfn = name_of(line[4:], fns)
        elif line.startswith("calls="):
            pending_call = True
        elif line[:2] == "0x" or line[:1].isdigit():
            parts = line.split()
            addr = int(parts[0], 16) if parts[0].startswith("0x") else int(parts[0])
            cost = int(parts[-1]) if len(parts) > 1 else 0  # "addr [line] cost"
            in_binary = ob is not None and ob.endswith(binary_name)
            inside_expanded = any(e in (fn or "") for e in EXPAND)
            measured = in_binary and "below main" not in (fn or "") and not inside_expanded
            if pending_call:
                pending_call = False
                callee_ob = cob if cob is not None else ob
                foreign = not callee_ob.endswith(binary_name)
                if measured and (foreign or any(e in cfn for e in EXPAND)):
                    calls.append((addr, cfn, cost))
                cob = None
            elif measured:
                self_cost[addr] += cost
    return self_cost, calls


def inline_chains(binary, addresses):
    """address -> [(function, file:line)] innermost first."""
    addrs = sorted(set(addresses))
    out = subprocess.run(["addr2line", "-C", "-f", "-i", "-a", "-e", binary],
                         input="\n".join(hex(a) for a in addrs), capture_output=True, text=True,
                         check=True).stdout.splitlines()
    chains, cur, i = {}, None, 0
    while i < len(out):
        if out[i].startswith("0x") and (i + 1 >= len(out) or not out[i].startswith("0x0x")):
            try:
                cur = int(out[i], 16)
                chains[cur] = []
                i += 1
                continue
            except ValueError:
                pass
        if i + 1 < len(out):
            chains[cur].append((out[i], out[i + 1]))
        i += 2
    return chains


SOURCE_CACHE = {}


def source_line(loc):
    m = re.match(r"(.*):(\d+)", loc)
    if not m:
        return ""
    path = m.group(1)
    if path not in SOURCE_CACHE:
        try:
            SOURCE_CACHE[path] = Path(path).read_text().splitlines()
        except OSError:
            SOURCE_CACHE[path] = []
    lines = SOURCE_CACHE[path]
    n = int(m.group(2))
    return "\n".join(lines[n - 1:n + 1]) if 0 < n <= len(lines) else ""


def layer_arg(name, template):
    m = re.search(template + r"<(?:true|false), (?:(?:true|false), )?(\d+)ul", name)
    return int(m.group(1)) if m else None


def phase(chain, callee=None):
    """The phase a chain of frames (innermost first) belongs to."""
    names = [f for f, _ in chain]
    joined = " | ".join(names)
    kind = None
    if callee is not None:
        kind = "GEMM" if "gemm" in callee or "gemv" in callee else callee.split("@")[0]
    for f, loc in chain:  # innermost first: the first recognised frame wins
        if re.search(r"::(rmsprop|sgd|adam)<.*>::update", f):
            owner = next((layer_arg(g, "backward_block") for g in names
                          if layer_arg(g, "backward_block") is not None), None)
            return f"optimizer (L{owner})" if owner is not None else "optimizer"
        if "compress_rows" in f:
            return "batch: compress (CSR)"
        if "transpose_compressed" in f:
            return "batch: transpose (CSC)"
        if "gather_features" in f:
            return "batch: gather u8→float"
        if "load_batch" in f:
            return "batch: labels"
        if "softmax_xent" in f or "::fused(" in f:
            return "softmax-CE"
        if "sparse_gemm_tn" in f:
            return "L0 dW (sparse)"
        if "sparse_gemm<" in f:
            return "L0 fwd (sparse)"
        if "activation_backward_bias" in f or "column_sums" in f:
            owner = next((layer_arg(g, "backward_block") for g in names
                          if layer_arg(g, "backward_block") is not None), None)
            if owner is None:
                return "output db"
            return f"L{owner} dX epilogue (relu' + db)"
        if "bias_activation" in f:
            lay = next((layer_arg(g, "forward_epilogue") for g in names
                        if layer_arg(g, "forward_epilogue") is not None), None)
            return f"L{lay} fwd epilogue (bias+act)"
        if "thread_pool::run" in f or "thread_pool::work" in f:
            return "pool sync"
        if "backward_block" in f and kind == "GEMM":
            src = source_line(loc)
            lay = layer_arg(f, "backward_block")
            return f"L{lay} dW GEMM" if "trans::yes, trans::no" in src else f"L{lay} dX GEMM"
        if "forward_layer" in f and kind == "GEMM":
            return f"L{layer_arg(f, 'forward_layer')} fwd GEMM"
    if kind is not None and kind != "GEMM":
        return f"libc/other: {kind}"
    last = names[-1] if names else "?"
    return "other: " + re.sub(r"<.*", "", last.split("(")[0])[-60:]


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    profile, binary, steps = argv[1], argv[2], int(argv[3])
    self_cost, calls = parse(profile, Path(binary).name)
    chains = inline_chains(binary, list(self_cost) + [a for a, _, _ in calls])
    total = collections.Counter()
    for addr, cost in self_cost.items():
        total[phase(chains.get(addr, []))] += cost
    for addr, callee, cost in calls:
        total[phase(chains.get(addr, []), callee)] += cost
    grand = sum(total.values())
    print(f"| phase | instructions per step | share |\n|---|---:|---:|")
    for name, cost in sorted(total.items(), key=lambda kv: -kv[1]):
        if cost / grand < 0.001:
            continue
        print(f"| {name} | {cost / steps:,.0f} | {100 * cost / grand:.1f}% |")
    print(f"| **total** | **{grand / steps:,.0f}** | 100% |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
