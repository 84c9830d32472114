"""A/B of the general kernel against kernels specialised to the flagship's dimensions and flags.

Like `kernel_ab`: one chunk of flagship runs on the same packed inputs, every output compared
first, then thread-CPU medians of interleaved calls. Variants: `all` (every constant), `dims`
(trip counts only), `flags` (call-wide branches only), `none` (the general kernel rendered
as a second module: the control), or a `+`-joined list of constant names
(`_specialise.kernel_constants`). Usage:

    python -m benchmarks spec_ab [--policy crisis|myopic|fixed] [--grid G] [--runs N] [--repeats K]
                                 [--variants all,dims,flags]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main(argv: list[str]) -> None:
    from benchmarks.bench_kernel_ab import _outputs, flagship_chunk, play
    from crisislab.simulation import _kernel_engine as ke
    from crisislab.simulation import _specialise as sp

    ap = argparse.ArgumentParser(prog="python -m benchmarks spec_ab")
    ap.add_argument("--policy", choices=("crisis", "myopic", "fixed"), default="crisis")
    ap.add_argument("--grid", type=int, default=3)
    ap.add_argument("--runs", type=int, default=32_768)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--variants", default="all")
    args = ap.parse_args(argv)

    spec, inp, keys = flagship_chunk(args.policy, args.grid, args.runs)
    general = ke.run_chunk
    consts = sp.kernel_constants(spec, inp.packed, inp.table, False, False)
    print("constants:", consts, flush=True)

    def call(kernel):
        return play(spec, inp, keys, kernel)

    kernels = {"general": general}
    for v in args.variants.split(","):
        use = {"dims": set(sp.DIMS), "flags": set(sp.FLAGS), "shape": set(sp.SHAPE), "all": None, "none": set()}.get(v, set(v.split("+")))
        t = time.perf_counter()
        mod = sp.load(consts, use)
        t_imp = time.perf_counter() - t
        kernels[v] = mod.run_chunk
        t = time.perf_counter()
        call(mod.run_chunk)
        print(f"variant {v}: import {t_imp:.1f} s, first call (compile or cache load + run) {time.perf_counter() - t:.1f} s",
              flush=True)

    ref = call(general)
    steps = ref[0]
    ref = _outputs(ref)
    for name, k in kernels.items():
        for i, (a, b) in enumerate(zip(ref, _outputs(call(k)), strict=True)):
            if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
                raise SystemExit(f"spec_ab: output {i} differs between general and {name}")
    times: dict[str, list[float]] = {k: [] for k in kernels}
    for _ in range(args.repeats):
        for name, k in kernels.items():
            t = time.thread_time()
            call(k)
            times[name].append(time.thread_time() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"flagship, policy {args.policy}" + (f" (grid {args.grid})" if args.policy == "crisis" else "")
          + f", {args.runs:,} runs, {steps:,} run-steps, thread-CPU medians of {args.repeats}, outputs identical")
    print(f"{'kernel':>28} | {'M run-steps/CPU-s':>17} | vs general")
    for name in kernels:
        print(f"{name:>28} | {steps / med[name] / 1e6:>17.2f} | {med['general'] / med[name]:.3f}x")
