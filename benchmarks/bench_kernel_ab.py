"""A/B of the simulator kernel: the working tree's `run_chunk` against the one at a git revision.

For work on the kernel's speed: both kernels play the same chunk of flagship runs on the
same packed inputs in one process, interleaved, and the thread-CPU medians are compared, so a
neighbour slowing the machine slows both alike (on a shared VM a single figure moves by +-8%
between identical kernels; an A/B does not). Every output array is compared first: a change that
alters a single bit fails loudly instead of being timed. The base revision's `_kernels.py` is taken
with `git show` and must accept the same inputs as the working tree's (`_kernel_engine._call`).
Usage:

    python -m benchmarks kernel_ab [--base REV] [--policy crisis|myopic|fixed] [--grid G]
                                   [--runs N] [--repeats K]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "src/crisislab/simulation/_kernels.py"


def _load_base(rev: str, tmp: Path):
    """The kernel module at `rev`, imported from a copy in `tmp` (numba compiles it there)."""
    try:
        text = subprocess.run(["git", "show", f"{rev}:{KERNEL}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"kernel_ab: cannot read {KERNEL} at revision {rev!r} with git ({e})") from None
    name = f"_kernels_base_{abs(hash(rev)) % 10**8}"
    path = tmp / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _outputs(res) -> list[np.ndarray]:
    steps, misses, _, out, agg, _ = res
    # out[8], out[9] (the miss lists) are scratch beyond their first `misses` rows.
    return [np.asarray(steps)] + list(out[:8]) + [out[8][:misses], out[9][:misses]] + list(agg)


def flagship_chunk(policy: str, grid: int, runs: int):
    """(spec, kernel inputs, run keys) of one chunk of flagship runs under `policy` (crisis solved on
    `grid`), after one call that compiles the kernel and fills a lazily tabulated policy."""
    from benchmarks.bench_simulate import FLAGSHIP, _policy
    from crisislab.model import lower
    from crisislab.scenario import load_scenario
    from crisislab.simulation import _kernel_engine as ke
    from crisislab.simulation import Arm
    from crisislab.simulation._rng import run_keys

    scenario = load_scenario(ROOT / FLAGSHIP)
    spec = lower(scenario)
    inp = ke.kernel_inputs(spec, _policy(policy, scenario, spec, grid), Arm())
    idx = np.arange(runs, dtype=np.int64)
    with general_kernel():
        ke.kernel_chunk(spec, inp, 1, idx, False, False)
    return spec, inp, run_keys(1, idx)


@contextlib.contextmanager
def general_kernel():
    """`CRISISLAB_KERNEL=general` inside: `_kernel_engine._call` then plays `run_chunk` (whatever it
    is patched to), never a specialised kernel this machine has compiled."""
    old = os.environ.get("CRISISLAB_KERNEL")
    os.environ["CRISISLAB_KERNEL"] = "general"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("CRISISLAB_KERNEL", None)
        else:
            os.environ["CRISISLAB_KERNEL"] = old


def play(spec, inp, keys, kernel):
    """One `_kernel_engine._call` of the chunk with `kernel` in place of `run_chunk`."""
    from crisislab.simulation import _kernel_engine as ke

    general = ke.run_chunk
    ke.run_chunk = kernel
    try:
        with general_kernel():
            return ke._call(spec, inp.packed, inp.table, keys, False, False)
    finally:
        ke.run_chunk = general


def main(argv: list[str]) -> None:
    from crisislab.simulation import _kernel_engine as ke

    ap = argparse.ArgumentParser(prog="python -m benchmarks kernel_ab")
    ap.add_argument("--base", default="HEAD", help="git revision of the base kernel (default HEAD)")
    ap.add_argument("--policy", choices=("crisis", "myopic", "fixed"), default="crisis")
    ap.add_argument("--grid", type=int, default=3, help="belief grid of the crisis policy")
    ap.add_argument("--runs", type=int, default=32_768)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)

    spec, inp, keys = flagship_chunk(args.policy, args.grid, args.runs)
    new_kernel = ke.run_chunk

    with tempfile.TemporaryDirectory() as tmp:
        base = _load_base(args.base, Path(tmp))

        def call(kernel):
            return play(spec, inp, keys, kernel)

        rb, rn = call(base.run_chunk), call(new_kernel)
        for i, (a, b) in enumerate(zip(_outputs(rb), _outputs(rn), strict=True)):
            if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
                raise SystemExit(f"kernel_ab: output {i} differs between {args.base} and the working tree")
        tb, tn = [], []
        for _ in range(args.repeats):
            for times, kernel in ((tb, base.run_chunk), (tn, new_kernel)):
                t = time.thread_time()
                call(kernel)
                times.append(time.thread_time() - t)
    steps = rb[0]
    mb, mn = statistics.median(tb), statistics.median(tn)
    print(f"flagship, policy {args.policy}" + (f" (grid {args.grid})" if args.policy == "crisis" else "")
          + f", {args.runs:,} runs, {steps:,} run-steps, thread-CPU medians of {args.repeats}, outputs identical")
    print(f"{'kernel':>14} | {'M run-steps/CPU-s':>17}")
    print(f"{args.base:>14} | {steps / mb / 1e6:>17.2f}")
    print(f"{'working tree':>14} | {steps / mn / 1e6:>17.2f}")
    print(f"speed-up (working tree / base): {mb / mn:.3f}x")
