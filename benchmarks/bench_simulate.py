"""Monte Carlo throughput: crisislab's vectorized simulator against a Mesa agent-based peer.

Both run the flagship scenario (same compiled rules, same policy object) in the same process:
medians over repeats, run-steps per second (one run-step = one move of one run still going),
the ratio, and a chi-square test that both give the same outcome distribution. Then how time
grows with the number of runs N and with the horizon. Usage:

    python -m benchmarks simulate [--runs N] [--mesa-runs M] [--repeats R] [--policy myopic|fixed]

`myopic` is the one-step-lookahead logit stand-in (the crisis engine's flagship solve is too slow
for a benchmark today); `fixed` is a state-independent policy, which isolates the engine's own cost.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np
from scipy import stats

from crisislab.scenario import load_scenario
from crisislab.simulate import FixedPolicy, compile_spec
from crisislab.simulate._engine import Arm
from crisislab.simulate._myopic import MyopicLogitPolicy
from crisislab.simulate._run import simulate_spec

FLAGSHIP = "scenarios/us-iran-2019-2020.yaml"


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _policy(kind: str, scenario, spec):
    if kind == "myopic":
        return MyopicLogitPolicy(scenario)
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


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks simulate")
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--mesa-runs", type=int, default=1_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--policy", choices=("myopic", "fixed"), default="myopic")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    from benchmarks.mesa_crisis import run_mesa

    sc = load_scenario(FLAGSHIP)
    spec = compile_spec(sc)
    pol = _policy(args.policy, sc, spec)
    simulate_spec(spec, pol, 2_000, args.seed, Arm(), record_actions=False)  # JIT warm-up

    def ours():
        return simulate_spec(spec, pol, args.runs, args.seed, Arm(), record_actions=False)

    t_ours, res = _median_time(ours, args.repeats)
    t_mesa, (mesa_out, mesa_steps) = _median_time(lambda: run_mesa(spec, pol, args.mesa_runs, args.seed), max(1, args.repeats // 2))
    r_ours = res.run_steps / t_ours
    r_mesa = mesa_steps / t_mesa
    print(f"flagship {sc.id}, policy {args.policy}, horizon {spec.horizon}, {len(spec.movers)} movers per round; 1 process")
    print(f"{'implementation':<28}{'runs':>10}{'run-steps':>14}{'median s':>11}{'run-steps/s':>15}")
    print(f"{'crisislab (vectorized)':<28}{args.runs:>10}{res.run_steps:>14}{t_ours:>11.3f}{r_ours:>15,.0f}")
    print(f"{'Mesa 3.3.1 (agent-based)':<28}{args.mesa_runs:>10}{mesa_steps:>14}{t_mesa:>11.3f}{r_mesa:>15,.0f}")
    print(f"speed-up (run-steps/s): {r_ours / r_mesa:,.0f}x")

    # Same model, same policies: the outcome distributions must agree within sampling error.
    ours_counts = res.outcome_counts().to_numpy()
    mesa_counts = np.bincount(mesa_out, minlength=len(spec.outcomes))
    table = np.array([ours_counts, mesa_counts])
    keep = table.sum(axis=0) > 0
    chi2, p, dof, _ = stats.chi2_contingency(table[:, keep])
    print("outcome shares:   " + "  ".join(f"{o}: {a / args.runs:.3f} vs {b / args.mesa_runs:.3f}" for o, a, b in zip(spec.outcomes, ours_counts, mesa_counts, strict=True)))
    print(f"chi-square test of equal outcome distributions: chi2 = {chi2:.2f}, dof = {dof}, p = {p:.3f} ({'consistent' if p > 0.01 else 'DIFFERENT'})")

    print("\nscaling with N (horizon as written):")
    print(f"{'runs':>10}{'run-steps':>14}{'median s':>11}{'run-steps/s':>15}")
    for n in (1_000, 10_000, args.runs):
        t, r = _median_time(lambda n=n: simulate_spec(spec, pol, n, args.seed, Arm(), record_actions=False), args.repeats)
        print(f"{n:>10}{r.run_steps:>14}{t:>11.3f}{r.run_steps / t:>15,.0f}")
    print("\nscaling with the horizon (N = 10,000):")
    print(f"{'horizon':>10}{'run-steps':>14}{'median s':>11}{'run-steps/s':>15}")
    for h in sorted({max(1, spec.horizon // 4), spec.horizon // 2, spec.horizon}):
        short = dataclasses.replace(spec, horizon=h)
        t, r = _median_time(lambda s=short: simulate_spec(s, pol, 10_000, args.seed, Arm(), record_actions=False), args.repeats)
        print(f"{h:>10}{r.run_steps:>14}{t:>11.3f}{r.run_steps / t:>15,.0f}")
