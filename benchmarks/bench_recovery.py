"""Parameter recovery: records simulated from known parameters, estimated again.

    python -m benchmarks recovery [--reps 200] [--records 20] [--scenario crisis-bargaining-2type]
                                  [--free actors.C.lam] [--truth 4.0] [--workers 2]

Each replication simulates `--records` records of the scenario's full horizon (every mover
observed) at the true value, fits the parameter by `crisislab.estimate` from the scenario's
stated value, and checks whether the 95% Wald interval covers the truth. Prints the coverage with
its binomial standard error (nominal 0.95), the mean and spread of the estimates against the mean
reported standard error, and the time per replication. Replications run on local processes;
replication i uses the seed (0, i) whatever the number of workers.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _one(job: dict, i: int) -> tuple[float, float, float, float, bool, str]:
    from crisislab.analysis import SolverChoice, estimate
    from crisislab.analysis._filter import sample_records
    from crisislab.analysis._record import Record
    from crisislab.model import lower
    from crisislab.scenario import bundled_scenario

    scn = bundled_scenario(job["scenario"])
    truth = scn.with_overrides({job["free"]: job["truth"]})
    model = lower(truth)
    pol = SolverChoice("crisis", job["grid"])(truth)
    tmpl = Record(model.scenario_id, model.horizon, tuple(tuple(() for _ in model.movers) for _ in range(model.horizon)), (),
                  tuple(-1 for _ in model.sides), tuple(True for _ in model.movers))
    recs, _ = sample_records(model, pol, tmpl, job["records"], np.random.default_rng([0, i]), keep_ended=True)
    t = time.perf_counter()
    est = estimate(scn, recs, free=[job["free"]], grid=job["grid"], belief_tol=0.0)
    p = est.params[0]
    covered = bool(p.ci_low <= job["truth"] <= p.ci_high)
    return p.estimate, p.se, time.perf_counter() - t, est.n_evaluations, covered, p.flag


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks recovery")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--records", type=int, default=20)
    ap.add_argument("--scenario", default="crisis-bargaining-2type")
    ap.add_argument("--free", default="actors.C.lam")
    ap.add_argument("--truth", type=float, default=4.0)
    ap.add_argument("--grid", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    from crisislab.simulation import map_tasks

    job = {"scenario": args.scenario, "free": args.free, "truth": args.truth, "records": args.records, "grid": args.grid}
    t = time.perf_counter()
    out = map_tasks(_one, list(range(args.reps)), job, workers=args.workers, start="spawn", progress=True, label="replications")
    wall = time.perf_counter() - t
    est = np.array([o[0] for o in out])
    se = np.array([o[1] for o in out])
    cov = np.array([o[4] for o in out])
    flags = [o[5] for o in out if o[5]]
    n = cov.size
    c = cov.mean()
    print(f"{args.scenario}: {args.free} = {args.truth}, {args.records} records of the full horizon per replication, "
          f"{n} replications ({wall / 60:.1f} min wall, {np.mean([o[2] for o in out]):.1f} s and {np.mean([o[3] for o in out]):.0f} "
          f"evaluations per estimation)")
    print("quantity                         value")
    print(f"coverage of the 95% Wald interval  {c:.3f} ± {np.sqrt(c * (1 - c) / n):.3f} (nominal 0.950)")
    print(f"mean estimate                      {est.mean():.4f} (truth {args.truth})")
    print(f"sd of the estimates                {est.std(ddof=1):.4f}")
    print(f"mean reported se                   {np.nanmean(se):.4f}")
    print(f"flagged (boundary / not identified) {len(flags)}")
