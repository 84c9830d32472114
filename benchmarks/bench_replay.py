"""The exact replay and the estimation on the flagship: time, accuracy of merging, solves.

    python -m benchmarks replay [--grid 5] [--exact] [--estimate] [--free PATH ...]

Prints three tables:

1. the forward pass of the bundled record given a solution, at several `belief_tol` (0 = exact,
   with `--exact`: minutes and several GB on the flagship), with the log-likelihood's difference
   from the finest setting run and the number of configurations carried; side by side, the Monte
   Carlo estimate of the same likelihood from the simulator (the record's moves forced, chance
   drawn; the estimator the exact pass replaces) at the same wall time;
2. one likelihood evaluation including the solve (a new λ), and one with a new prior (no re-solve);
3. with `--estimate`: a full estimation of the named parameters (default: both λ and both priors),
   with evaluations, solves, time and the estimates.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np


def _table(rows: list[dict], cols: list[str]) -> None:
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for r in rows:
        print("  ".join(str(r[c]).ljust(w) for c, w in zip(cols, widths, strict=True)))


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks replay")
    ap.add_argument("--grid", default="5")
    ap.add_argument("--exact", action="store_true", help="also run belief_tol=0 (slow)")
    ap.add_argument("--estimate", action="store_true", help="also run a full estimation")
    ap.add_argument("--free", action="append", default=None)
    args = ap.parse_args(argv)
    grid = int(args.grid) if args.grid.isdigit() else args.grid

    import crisislab
    from crisislab.analysis import observe
    from crisislab.analysis._filter import forward
    from crisislab.analysis._replay import intensities, load_record
    from crisislab.model import lower
    from crisislab.simulation import as_policy

    scn = crisislab.bundled_scenario("us-iran-2019-2020")
    t = time.perf_counter()
    sol = crisislab.solve(scn, grid=grid)
    t_solve = time.perf_counter() - t
    pol = as_policy(sol, scn)
    model = lower(scn)
    rec = observe(model, load_record(scn, None))
    inten = intensities(scn, model)
    forward(model, pol, rec, belief_tol=0.1)  # warm up imports and caches

    print(f"flagship, grid {grid}: solve {t_solve:.1f} s; record: {len(rec.events)} events, {rec.rounds} rounds, "
          f"{rec.n_observed_moves} observed moves; not observed: {', '.join(m.id for m, o in zip(model.movers, rec.observed, strict=True) if not o)}")
    print("\n1. forward pass of the record given the solution")
    tols = [0.1, 0.05, 0.02, 0.01, 0.005] + ([0.0] if args.exact else [])
    rows = []
    ref = None
    for tol in tols:
        tracemalloc.start()
        t = time.perf_counter()
        res = forward(model, pol, rec, intensity=inten, belief_tol=tol)
        dt = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        rows.append({"belief_tol": tol, "seconds": f"{dt:.2f}", "configurations": res.n_configs, "loglik": f"{res.loglik:.8f}",
                     "peak MiB": f"{peak:.0f}", "_ll": res.loglik})
        ref = res.loglik
    for r in rows:
        r["diff vs finest"] = f"{r['_ll'] - ref:+.2e}"
    _table(rows, ["belief_tol", "seconds", "configurations", "peak MiB", "loglik", "diff vs finest"])

    # The Monte Carlo estimator the forward pass replaces: replays of the record by the simulator
    # (moves forced by a script, chance and hidden moves drawn), the likelihood as the mean over
    # replays of the product of the forced moves' probabilities. Its spread over seeds at equal
    # wall time is what the exact pass saves.
    print("\n   side by side: the Monte Carlo estimator (forced replays) at the same wall time, over 5 seeds")
    from crisislab.model.rules import SCRIPT_FREE
    from crisislab.simulation import Arm, simulate_model
    from dataclasses import replace as dc_replace
    from scipy.special import logsumexp

    script = np.full((rec.rounds, len(model.movers)), SCRIPT_FREE, dtype=np.int64)
    for r in range(rec.rounds):
        for m, cands in enumerate(rec.moves[r]):
            if cands is not None:
                a = cands[0].action
                script[r, m] = a if a >= 0 else -1
    short = dc_replace(model, horizon=rec.rounds)
    budget = float(rows[3]["seconds"])
    n = 2000
    t = time.perf_counter()
    simulate_model(short, pol, n, 0, Arm(script=script), record_actions=False)
    per_run = (time.perf_counter() - t) / n
    n_equal = max(100, int(budget / per_run))
    ests = []
    for seed in range(5):
        res = simulate_model(short, pol, n_equal, seed, Arm(script=script), record_actions=False)
        ll = res.runs["loglik"].to_numpy()
        ests.append(float(logsumexp(ll) - np.log(ll.size)))
    print(f"   {n_equal} replays per estimate ({budget:.2f} s): log-likelihood {np.mean(ests):.3f} ± {np.std(ests):.3f} "
          f"(seeds: {', '.join(f'{e:.2f}' for e in ests)}); it scores only the observed moves, not the observed deaths, "
          f"and counts uncertain events as certain")

    print("\n2. one evaluation of the likelihood including the solve")
    from crisislab.analysis._estimate import _Objective, free_parameters

    params = free_parameters(scn, ["actors.US.lam", "actors.US.types.resolute.prior"])
    obj = _Objective(scn, [rec], params, grid, 0.01)
    theta = np.array([p[1] for p in params])
    t = time.perf_counter()
    obj(theta + np.array([0.1, 0.0]))
    t_new_lam = time.perf_counter() - t
    t = time.perf_counter()
    obj(theta + np.array([0.1, 0.05]))
    t_new_prior = time.perf_counter() - t
    _table([{"change": "λ of the US (re-solve)", "seconds": f"{t_new_lam:.1f}"},
            {"change": "prior of the US (no re-solve)", "seconds": f"{t_new_prior:.2f}"}], ["change", "seconds"])

    if args.estimate:
        print("\n3. a full estimation")
        free = args.free or ["actors.US.lam", "actors.Iran.lam", "actors.US.types.resolute.prior", "actors.Iran.types.hardline.prior"]
        t = time.perf_counter()
        est = crisislab.estimate(scn, free=free, grid=grid)
        dt = time.perf_counter() - t
        print(f"{len(free)} parameters: {dt / 60:.1f} min, {est.n_evaluations} evaluations, {est.n_solves} solves; "
              f"log-likelihood {est.start_loglik:.3f} -> {est.loglik:.3f}; {'converged' if est.converged else 'NOT converged'}: {est.message}")
        _table([{"parameter": p.path, "start": f"{p.start:.4g}", "estimate": f"{p.estimate:.4g}", "se": f"{p.se:.3g}",
                 "95% Wald": f"[{p.ci_low:.4g}, {p.ci_high:.4g}]", "flag": p.flag or "-"} for p in est.params],
               ["parameter", "start", "estimate", "se", "95% Wald", "flag"])
