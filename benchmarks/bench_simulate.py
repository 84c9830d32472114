"""Monte Carlo throughput: crisislab's compiled kernel against its numpy engine and a Mesa peer.

The kernel is timed twice, interleaved: specialised to the flagship's shape (`CRISISLAB_KERNEL=
specialised`; compiled in the warm-up if this machine has not yet) and general; they give the same
bits (checked). All three run the flagship scenario (same compiled rules, same policy object) in one process, one
core: medians over repeats of wall time and of the thread's CPU time (run-steps per CPU-second is
the per-core figure; a loaded machine inflates wall time more, though neighbours sharing the
memory system and L3 cache slow the CPU time too), run-steps per second (one run-step = one move of one run still going), ratios,
and a chi-square test that the kernel and Mesa give the same outcome distribution. Then how time
grows with the number of runs N and with the horizon. Usage:

    python -m benchmarks simulate [--runs N] [--ref-runs R] [--mesa-runs M] [--repeats K]
                                  [--policy crisis|myopic|fixed] [--grid G]

`crisis` is the policy users run (`crisislab run --policy crisis`): the crisis engine's solved
agent QRE (`crisislab.crisis.solve_scenario(..., grid=G)`, default grid 3; solving is outside the
timing), read by the kernel from its table and by the Mesa peer through `SolutionPolicy.strategy`
(belief interpolation included). `myopic` is the one-step-lookahead logit stand-in (tabulated
lazily on the states runs reach; the warm-up fills the table); `fixed` is a state-independent
policy, which isolates the engine's own cost.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time

import numpy as np
from scipy import stats

from crisislab.scenario import load_scenario
from crisislab.model import lower
from crisislab.simulation import FixedPolicy
from crisislab.simulation import Arm
from crisislab.simulation._engine import simulate_chunk
from crisislab.simulation import MyopicLogitPolicy
from crisislab.simulation import SolutionPolicy
from crisislab.simulation import simulate_model

FLAGSHIP = "scenarios/us-iran-2019-2020.yaml"


def _median_time(fn, repeats: int) -> tuple[float, float, object]:
    """(median wall seconds, median thread-CPU seconds, last result)."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.thread_time()
        out = fn()
        cpus.append(time.thread_time() - c)
        walls.append(time.perf_counter() - w)
    return statistics.median(walls), statistics.median(cpus), out


def _interleaved(fns, repeats: int) -> list[tuple[float, float, object]]:
    """`_median_time` of each of `fns`, their calls interleaved."""
    walls, cpus, outs = [[] for _ in fns], [[] for _ in fns], [None] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            w, c = time.perf_counter(), time.thread_time()
            outs[i] = fn()
            cpus[i].append(time.thread_time() - c)
            walls[i].append(time.perf_counter() - w)
    return [(statistics.median(w), statistics.median(c), o) for w, c, o in zip(walls, cpus, outs, strict=True)]


def _policy(kind: str, scenario, spec, grid: int = 3):
    if kind == "myopic":
        return MyopicLogitPolicy(scenario)
    if kind == "crisis":
        from crisislab.crisis import solve_scenario

        t0 = time.perf_counter()
        sol = solve_scenario(scenario, grid=grid)
        print(f"solved the flagship with the crisis engine at grid {grid} in {time.perf_counter() - t0:.1f} s "
              "(not timed below)", flush=True)
        return SolutionPolicy(sol, scenario)
    probs = {}
    for j, actor in enumerate(spec.actors):
        mover = next(m for m in spec.movers if m.id == actor)
        k = len(mover.actions)
        # Mostly the status quo, a little of everything else: runs last long enough to measure.
        p = np.full((len(spec.types[j]), k), 0.02 / max(k - 1, 1))
        default = next(i for i, g in enumerate(mover.actions) if spec.actions[g].default)
        p[:, default] = 0.98
        probs[actor] = p / p.sum(axis=1, keepdims=True)
    return FixedPolicy(probs)


def _reference(spec, pol, runs: int, seed: int):
    """The numpy engine on the same runs (one chunk)."""
    return simulate_chunk(spec, pol, seed, np.arange(runs, dtype=np.int64), Arm(), engine="reference")


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks simulate")
    ap.add_argument("--runs", type=int, default=200_000)
    ap.add_argument("--ref-runs", type=int, default=20_000)
    ap.add_argument("--mesa-runs", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--policy", choices=("crisis", "myopic", "fixed"), default="crisis")
    ap.add_argument("--grid", type=int, default=3, help="belief grid of the crisis policy")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    from benchmarks.mesa_crisis import run_mesa

    sc = load_scenario(FLAGSHIP)
    spec = lower(sc)
    pol = _policy(args.policy, sc, spec, args.grid)
    # Warm-up: numba compilation (cached on disk after the first time) and, for the myopic
    # policy, its lazily built table on the states the runs reach. Both kernels give the same bits
    # (tests/simulation/test_kernel_specialise.py); the specialised one is compiled for the
    # flagship's shape here if this machine has not done it yet (`_kernel_engine`).
    def ours(kernel: str):
        os.environ["CRISISLAB_KERNEL"] = kernel
        return simulate_model(spec, pol, args.runs, args.seed, Arm(), record_actions=False)

    warm = {}
    for kernel in ("general", "specialised"):
        t0 = time.perf_counter()
        ours(kernel)
        warm[kernel] = time.perf_counter() - t0

    # Interleaved, so that a slower minute on this shared VM slows both alike.
    (t_k, c_k, res), (t_s, c_s, res_s) = _interleaved([lambda: ours("general"), lambda: ours("specialised")],
                                                      args.repeats)
    same_kernels = res.runs.equals(res_s.runs)
    t_r, c_r, ref = _median_time(lambda: _reference(spec, pol, args.ref_runs, args.seed), max(1, args.repeats // 2))
    t_m, c_m, (mesa_out, mesa_steps) = _median_time(
        lambda: run_mesa(spec, pol, args.mesa_runs, args.seed), max(1, args.repeats // 2)
    )
    rows = [
        ("crisislab kernel, specialised", args.runs, res_s.run_steps, t_s, c_s),
        ("crisislab kernel, general", args.runs, res.run_steps, t_k, c_k),
        ("crisislab numpy engine", args.ref_runs, ref.run_steps, t_r, c_r),
        ("Mesa (agent-based)", args.mesa_runs, mesa_steps, t_m, c_m),
    ]
    mesa_rate = mesa_steps / t_m
    print(f"flagship {sc.id}, policy {args.policy}, horizon {spec.horizon}, {len(spec.movers)} movers per round; "
          f"1 process, medians of {args.repeats} repeats (first call incl. compile/table warm-up: general "
          f"{warm['general']:.2f} s, then specialised {warm['specialised']:.2f} s)")
    print(f"{'implementation':<28}{'runs':>9}{'run-steps':>13}{'median s':>10}{'steps/s (wall)':>16}"
          f"{'steps/s (cpu)':>15}{'vs Mesa':>10}")
    for name, n, steps, t, c in rows:
        print(f"{name:<28}{n:>9}{steps:>13}{t:>10.3f}{steps / t:>16,.0f}{steps / max(c, 1e-9):>15,.0f}"
              f"{(steps / t) / mesa_rate:>9,.0f}x")

    # Same model, same policies: the outcome distributions must agree within sampling error.
    ours_counts = res.outcome_counts().to_numpy()
    mesa_counts = np.bincount(mesa_out, minlength=len(spec.outcomes))
    table = np.array([ours_counts, mesa_counts])
    keep = table.sum(axis=0) > 0
    chi2, p, dof, _ = stats.chi2_contingency(table[:, keep])
    print("outcome shares (kernel vs Mesa): " + "  ".join(
        f"{o}: {a / args.runs:.3f} vs {b / args.mesa_runs:.3f}"
        for o, a, b in zip(spec.outcomes, ours_counts, mesa_counts, strict=True)
    ))
    print(f"chi-square test of equal outcome distributions: chi2 = {chi2:.2f}, dof = {dof}, p = {p:.3f} "
          f"({'consistent' if p > 0.01 else 'DIFFERENT'})")
    same = np.array_equal(res.runs["outcome"].cat.codes.to_numpy()[: args.ref_runs], ref.outcome)
    print(f"kernel and numpy engine give the same outcome for each of the first {args.ref_runs} runs: {same}")
    print(f"specialised and general kernel give identical per-run tables: {same_kernels}")

    os.environ["CRISISLAB_KERNEL"] = "specialised"
    print("\nscaling with N (horizon as written), specialised kernel:")
    print(f"{'runs':>10}{'run-steps':>14}{'median s':>11}{'steps/s':>15}{'steps/cpu-s':>15}")
    for n in (1_000, 10_000, 100_000, args.runs):
        t, c, r = _median_time(lambda n=n: simulate_model(spec, pol, n, args.seed, Arm(), record_actions=False), args.repeats)
        print(f"{n:>10}{r.run_steps:>14}{t:>11.3f}{r.run_steps / t:>15,.0f}{r.run_steps / max(c, 1e-9):>15,.0f}")
    # Each horizon is another shape for a specialised kernel (another compile): the general one here.
    os.environ["CRISISLAB_KERNEL"] = "general"
    print("\nscaling with the horizon (N = 100,000), general kernel:")
    print(f"{'horizon':>10}{'run-steps':>14}{'median s':>11}{'steps/s':>15}{'steps/cpu-s':>15}")
    for h in sorted({max(1, spec.horizon // 4), spec.horizon // 2, spec.horizon}):
        short = dataclasses.replace(spec, horizon=h)
        simulate_model(short, pol, 2_000, args.seed, Arm(), record_actions=False)  # same table; new spec packing
        t, c, r = _median_time(
            lambda s=short: simulate_model(s, pol, 100_000, args.seed, Arm(), record_actions=False), args.repeats
        )
        print(f"{h:>10}{r.run_steps:>14}{t:>11.3f}{r.run_steps / t:>15,.0f}{r.run_steps / max(c, 1e-9):>15,.0f}")
