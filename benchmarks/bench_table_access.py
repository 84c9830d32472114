"""What one interpolated strategy row costs on this machine, with the table in cache and out of it.

The simulator's crisis policy reads, at each strategic move, the mover's own-type strategy at the
4 corners of its belief cell (9 actions x 4 corners of float32, multiply-added into float64 with the
bilinear weights). This benchmark does exactly that arithmetic on random rows of a float32 table of
a given size, in one numba loop with nothing else in it, so it gives a floor for that part of a
strategic move: once with a table that sits in L1 (pure arithmetic), once with a table as large as
the flagship's at grid 3 (50 MB) or grid 5 (140 MB), where each row is a random read from memory.
Compare with the kernel's whole run-step cost (`python -m benchmarks simulate`). Usage:

    python -m benchmarks table_access [--rows N] [--repeats K] [--sizes-mb 0.004,50,140]
"""

from __future__ import annotations

import argparse
import statistics
import time

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


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks table_access")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes-mb", default="0.004,50,140", help="table sizes in MB, comma-separated")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    out = np.zeros(N_ACTIONS)
    print(f"one own-type strategy row = {N_ACTIONS} actions x {N_CORNERS} corners, random rows, "
          f"{args.rows:,} rows, thread-CPU median of {args.repeats}")
    print(f"{'table':>10} | {'ns per row':>10} | {'vs in-cache':>11}")
    base = None
    for mb in (float(x) for x in args.sizes_mb.split(",")):
        size = max(int(mb * 1e6 / 4), 64)
        sig = rng.random(size, dtype=np.float32)
        # A row's 4 corners: two pairs of adjacent belief nodes, as on a 2-actor grid (the second
        # pair one grid row further on), each node N_ACTIONS * 2 types of floats.
        node = 2 * N_ACTIONS
        start = rng.integers(0, max(size - 8 * node, 1), args.rows)
        offs = np.stack([start, start + node, start + 3 * node, start + 4 * node], axis=1).astype(np.int64)
        w = rng.random((args.rows, N_CORNERS))
        _own_rows(sig, offs[:10], w[:10], out)  # compile
        times = []
        for _ in range(args.repeats):
            t = time.thread_time()
            _own_rows(sig, offs, w, out)
            times.append(time.thread_time() - t)
        ns = statistics.median(times) / args.rows * 1e9
        base = base or ns
        print(f"{mb:>7.3f} MB | {ns:>10.1f} | {ns / base:>10.1f}x", flush=True)
