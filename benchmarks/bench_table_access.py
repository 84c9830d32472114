"""What one interpolated strategy row costs on this machine, with the table in cache and out of it.

The simulator's crisis policy reads, at each strategic move, the mover's own-type strategy at the
4 corners of its belief cell (9 actions x 4 corners of float32, multiply-added into float64 with the
bilinear weights). This benchmark does exactly that arithmetic on random rows of a float32 table of
a given size, in one numba loop with nothing else in it, so it gives a floor for that part of a
strategic move: once with a table that sits in L1 (pure arithmetic), once with a table as large as
the flagship's at grid 3 (50 MB) or grid 5 (140 MB), where each row is a random read from memory.
The 3 MB size is the flagship's hot set (90% of a run's table reads, RESULTS.md). With `--c` the same
loop is also compiled from C (gcc -O2 -march=native -ffp-contract=off, i.e. the same operations in
the same order, no fused multiply-add; checked equal) and timed beside numba's, to see how much of
the cost is numba's code rather than the machine. Compare with the kernel's whole run-step cost
(`python -m benchmarks simulate`). Usage:

    python -m benchmarks table_access [--rows N] [--repeats K] [--sizes-mb 0.004,3,50,140] [--c]
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit

N_ACTIONS, N_CORNERS = 9, 4


@njit(cache=True)
def _own_rows(sig, offs, w, out):  # pragma: no cover - compiled
    """For each i: out[a] = sum_c w[i, c] * sig[offs[i, c] + a] (the kernel's summation order);
    returns the sum of all rows' totals so the work cannot be optimised away. `sig` float32 `(S,)`,
    `offs` int64 `(n, 4)`, `w` float64 `(n, 4)`, `out` float64 `(9,)`."""
    acc = 0.0
    for i in range(offs.shape[0]):
        tot = 0.0
        for a in range(N_ACTIONS):
            x = 0.0
            for c in range(N_CORNERS):
                x += w[i, c] * sig[offs[i, c] + a]
            out[a] = x
            tot += x
        acc += tot
    return acc


_C_SOURCE = r"""
#include <stdint.h>
double own_rows(const float *sig, const int64_t *offs, const double *w, double *out, int64_t n) {
    double acc = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t *o = offs + 4 * i;
        const double *wi = w + 4 * i;
        double tot = 0.0;
        for (int a = 0; a < 9; a++) {
            double x = 0.0;
            for (int c = 0; c < 4; c++) x += wi[c] * (double)sig[o[c] + a];
            out[a] = x;
            tot += x;
        }
        acc += tot;
    }
    return acc;
}
"""


def _c_own_rows(tmp: Path):
    """The same loop compiled from C with gcc, or None (with a note) when gcc is not there."""
    if shutil.which("gcc") is None:
        print("(--c: gcc not found, C column skipped)")
        return None
    src, lib = tmp / "own.c", tmp / "own.so"
    src.write_text(_C_SOURCE)
    subprocess.run(["gcc", "-O2", "-march=native", "-ffp-contract=off", "-shared", "-fPIC", str(src), "-o", str(lib)], check=True)
    fn = ctypes.CDLL(str(lib)).own_rows
    fn.restype = ctypes.c_double

    def call(sig, offs, w, out):
        p = [a.ctypes.data_as(ctypes.c_void_p) for a in (sig, offs, w, out)]
        return fn(*p, ctypes.c_int64(offs.shape[0]))

    return call


def _median_cpu(fn, repeats: int) -> tuple[float, object]:
    times, res = [], None
    for _ in range(repeats):
        t = time.thread_time()
        res = fn()
        times.append(time.thread_time() - t)
    return statistics.median(times), res


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks table_access")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes-mb", default="0.004,3,50,140", help="table sizes in MB, comma-separated")
    ap.add_argument("--c", action="store_true", help="also time the same loop compiled from C (needs gcc)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    out = np.zeros(N_ACTIONS)
    with tempfile.TemporaryDirectory() as tmp:
        c_fn = _c_own_rows(Path(tmp)) if args.c else None
        print(f"one own-type strategy row = {N_ACTIONS} actions x {N_CORNERS} corners, random rows, "
              f"{args.rows:,} rows, thread-CPU median of {args.repeats}")
        head = f"{'table':>10} | {'numba ns/row':>12} | {'vs in-cache':>11}"
        print(head + (f" | {'C ns/row':>8} | {'numba / C':>9}" if c_fn else ""))
        base = None
        for mb in (float(x) for x in args.sizes_mb.split(",")):
            size = max(int(mb * 1e6 / 4), 64)
            sig = rng.random(size, dtype=np.float32)
            # A row's 4 corners: two pairs of adjacent belief nodes, as on a 2-actor 3-point grid
            # (the second pair one grid row further on), each node N_ACTIONS * 2 types of floats.
            node = 2 * N_ACTIONS
            start = rng.integers(0, max(size - 8 * node, 1), args.rows)
            offs = np.stack([start, start + node, start + 3 * node, start + 4 * node], axis=1).astype(np.int64)
            w = rng.random((args.rows, N_CORNERS))
            _own_rows(sig, offs[:10], w[:10], out)  # compile
            t_nb, r_nb = _median_cpu(lambda: _own_rows(sig, offs, w, out), args.repeats)  # noqa: B023
            ns = t_nb / args.rows * 1e9
            base = base or ns
            line = f"{mb:>7.3f} MB | {ns:>12.1f} | {ns / base:>10.1f}x"
            if c_fn:
                t_c, r_c = _median_cpu(lambda: c_fn(sig, offs, w, out), args.repeats)  # noqa: B023
                if r_c != r_nb:
                    raise AssertionError("the C loop and the numba loop disagree")
                line += f" | {t_c / args.rows * 1e9:>8.1f} | {t_nb / t_c:>8.2f}x"
            print(line, flush=True)
