"""Where the simulator kernel's time goes, by compiled function, kernel section and source line.

A sampling profile of `run_chunk` on the flagship, for work on its speed. This VM has no
hardware counters and valgrind cannot see numba's JIT code, so: a child process compiles the kernel
with numba's debug line tables (`NUMBA_DEBUGINFO=1`, in a fresh cache directory: code loaded from
numba's cache carries no object code to read, and the normal cache stays untouched), writes each compiled kernel function's object code and load address, and plays
the same chunk in a loop while `perf record -e cpu-clock` samples it. Each sampled instruction
address is mapped to its function (load address + size) and, through `objdump -dl` on the object
code, to a line of `_kernels.py`; lines inside `run_chunk` are grouped by the kernel's
`# --- section ---` comments, lines of inlined helpers by the helper. Needs `perf` and `objdump`
(Debian: linux-perf, binutils). Timer-based samples land on or just after a stalled instruction,
so read a line's share as "time spent around here". Usage:

    python -m benchmarks kernel_profile [--policy crisis|myopic|fixed] [--grid G] [--runs N]
                                        [--seconds S] [--top K]
"""

from __future__ import annotations

import argparse
import ast
import bisect
import collections
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNEL = ROOT / "src/crisislab/simulation/_kernels.py"
_SECTION = re.compile(r"^\s*# --- (.+?) -+\s*$")


def _child(work: Path, seconds: float) -> None:
    """Compile with line tables, write the functions' object code and addresses, then loop."""
    import numba

    from crisislab.simulation import _kernel_engine as ke
    from crisislab.simulation import _kernels as K

    spec, packed, table, keys = pickle.loads((work / "inputs.pkl").read_bytes())
    ke._call(spec, packed, table, keys, False, False)  # compile
    funcs = []
    for name in dir(K):
        disp = getattr(K, name)
        if not isinstance(disp, numba.core.registry.CPUDispatcher):
            continue
        for i, cres in enumerate(disp.overloads.values()):
            symbol = cres.fndesc.llvm_func_name
            try:
                addr = cres.library.get_pointer_to_function(symbol)
            except Exception:  # noqa: BLE001 - an overload inlined everywhere has no symbol
                continue
            obj = work / f"{name}.{i}.o"
            obj.write_bytes(cres.library.serialize_using_object_code()[2][0])
            funcs.append(dict(name=name, addr=addr, obj=str(obj), symbol=symbol))
    (work / "funcs.json").write_text(json.dumps(funcs))
    print("ready", flush=True)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds and not (work / "stop").exists():
        ke._call(spec, packed, table, keys, False, False)


def _symbol_range(obj: str, symbol: str) -> tuple[int, int]:
    """(offset, size) of `symbol` in object file `obj` (nm -S)."""
    out = subprocess.run(["nm", "-S", obj], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == symbol:
            return int(parts[0], 16), int(parts[1], 16)
    raise SystemExit(f"kernel_profile: symbol of {obj} not found by nm")


def _line_table(obj: str) -> tuple[list[int], list[tuple[str, int]]]:
    """Sorted instruction offsets of `obj` and the (file name, line) each comes from."""
    out = subprocess.run(["objdump", "-dl", "--no-show-raw-insn", obj], capture_output=True, text=True, check=True).stdout
    offs, where, cur = [], [], ("?", 0)
    for line in out.splitlines():
        m = re.match(r"^(/\S+):(\d+)", line)
        if m:
            cur = (Path(m.group(1)).name, int(m.group(2)))
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s", line)
        if m:
            offs.append(int(m.group(1), 16))
            where.append(cur)
    return offs, where


def _regions(source: str) -> dict[int, str]:
    """Line number of `_kernels.py` -> region: `run_chunk: <section>` inside the kernel (by its
    `# --- section ---` comments), else the name of the enclosing function."""
    lines = source.splitlines()
    region: dict[int, str] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        section = "setup (once per chunk)"
        for ln in range(node.lineno, node.end_lineno + 1):
            if node.name == "run_chunk":
                m = _SECTION.match(lines[ln - 1])
                if m:
                    section = m.group(1)
                region[ln] = f"run_chunk: {section}"
            else:
                region[ln] = node.name
    return region


def _table(title: str, rows: list[tuple[str, int]], total: int, width: int = 60) -> None:
    print(f"\n{title}")
    print(f"{'share':>6} | {'samples':>7} | what")
    for what, k in rows:
        print(f"{100 * k / total:>5.1f}% | {k:>7} | {what[:width]}")


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks kernel_profile")
    ap.add_argument("--policy", choices=("crisis", "myopic", "fixed"), default="crisis")
    ap.add_argument("--grid", type=int, default=3, help="belief grid of the crisis policy")
    ap.add_argument("--runs", type=int, default=32_768)
    ap.add_argument("--seconds", type=float, default=15.0, help="how long perf samples the kernel")
    ap.add_argument("--top", type=int, default=25, help="how many source lines to list")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(Path(args.child), args.seconds + 120)
        return
    for tool in ("perf", "objdump", "nm"):
        if shutil.which(tool) is None:
            raise SystemExit(f"kernel_profile: `{tool}` is not on PATH (Debian: apt-get install linux-perf binutils)")

    from benchmarks.bench_kernel_ab import flagship_chunk

    spec, inp, keys = flagship_chunk(args.policy, args.grid, args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "inputs.pkl").write_bytes(pickle.dumps((spec, inp.packed, inp.table, keys)))
        # The general kernel (`_kernels.py`'s lines), whatever this machine has specialised.
        env = dict(os.environ, NUMBA_DEBUGINFO="1", NUMBA_CACHE_DIR=str(work / "cache"), CRISISLAB_KERNEL="general",
                   PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]))
        print("compiling the kernel with line tables (about a minute) ...", flush=True)
        child = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_kernel_profile", "--child", tmp,
                                  "--seconds", str(args.seconds)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        try:
            if child.stdout.readline().strip() != "ready":
                raise SystemExit("kernel_profile: the profiled process failed (see its error above)")
            perf = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "2000", "-p", str(child.pid),
                                   "-o", str(work / "perf.data"), "--", "sleep", str(args.seconds)],
                                  capture_output=True, text=True)
            if perf.returncode != 0:
                raise SystemExit(f"kernel_profile: perf record failed: {perf.stderr.strip()[-400:]}")
        finally:
            (work / "stop").touch()
            child.wait()
        ips = subprocess.run(["perf", "script", "-i", str(work / "perf.data"), "-F", "ip"],
                             capture_output=True, text=True, check=True).stdout.split()
        funcs = json.loads((work / "funcs.json").read_text())
        spans = []
        for f in funcs:
            off, size = _symbol_range(f["obj"], f["symbol"])
            spans.append((f["addr"], f["addr"] + size, off, f["name"], _line_table(f["obj"])))

    regions = _regions(KERNEL.read_text(encoding="utf-8"))
    src = KERNEL.read_text(encoding="utf-8").splitlines()
    by_func, by_region, by_line = collections.Counter(), collections.Counter(), collections.Counter()
    for text in ips:
        ip = int(text, 16)
        span = next((s for s in spans if s[0] <= ip < s[1]), None)
        if span is None:
            by_func["(outside the kernel: numpy, libm, Python)"] += 1
            continue
        start, _, off, name, (offs, where) = span
        by_func[name] += 1
        k = bisect.bisect_right(offs, ip - start + off) - 1
        fname, line = where[k] if k >= 0 else ("?", 0)
        if fname == KERNEL.name and line in regions:
            by_region[regions[line]] += 1
            by_line[line] += 1
        else:
            by_region[f"{name} ({fname})"] += 1
    total = len(ips)
    print(f"flagship, policy {args.policy}" + (f" (grid {args.grid})" if args.policy == "crisis" else "")
          + f", {args.runs:,} runs per call, {total:,} cpu-clock samples over {args.seconds:g} s")
    _table("by compiled function (a helper numba inlines counts in its caller)", by_func.most_common(), total)
    _table("by region (run_chunk's `# --- ` sections; inlined helpers by name)", by_region.most_common(), total)
    _table(f"top {args.top} source lines of {KERNEL.name}",
           [(f"{ln:>5}  {src[ln - 1].strip()}", k) for ln, k in by_line.most_common(args.top)], total, width=100)


if __name__ == "__main__":
    main(sys.argv[1:])
