"""Parameter sweep of the flagship: draws per minute and where a draw's time goes.

A sweep draw is: apply the draw's values to the scenario (validate), lower and compile it (or
patch the compiled game of a previous draw when only λ, priors or terminal payoffs changed,
`compile_variant`), solve every perceived game, simulate the scenario and each claim's arms. This
measures exactly that (the sweep's own per-draw function, in this process) on the first `--draws`
points of a Morris design over the flagship's stated uncertainty (one trajectory of D + 1 = 15
draws by default: consecutive points differ in one parameter, so the compiled-game reuse is
measured as a Morris screen gets it), then extrapolates to the target: a 1,000-draw Morris screen
in under an hour on this machine. The extrapolation assumes draws cost what the measured ones did
and that `--workers` processes share the cores without loss (the solver's threads are then
divided among them, as `sweep` does); it prints the assumption next to the figure.

    python -m benchmarks sweep [--draws 15] [--runs 2000] [--grid 5] [--workers 2] [--scenario PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_DRAWS, TARGET_SECONDS = 1000, 3600.0


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks sweep")
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "us-iran-2019-2020.yaml"))
    ap.add_argument("--draws", type=int, default=15, help="design points measured (default: one Morris trajectory of the flagship)")
    ap.add_argument("--runs", type=int, default=2000, help="runs per arm in each draw")
    ap.add_argument("--grid", default="5")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="processes the extrapolation assumes")
    ap.add_argument("--seed", type=int, default=2020)
    args = ap.parse_args(argv)

    from crisislab.analysis import SolverChoice, sweep_space
    from crisislab.analysis._sensitivity import design_sample
    from crisislab.analysis._sweep import _draw_task
    from crisislab.crisis import parse_grid
    from crisislab.scenario import load_scenario

    sc = load_scenario(args.scenario)
    space = sweep_space(sc)
    x = design_sample("morris", space.names, 1 + (args.draws - 1) // (len(space.names) + 1), args.seed)[: args.draws]
    t0 = time.perf_counter()
    solve = SolverChoice("crisis", parse_grid(args.grid)).for_scenario(sc)
    t_grid = time.perf_counter() - t0
    cores = len(os.sched_getaffinity(0))
    # each of `workers` processes solves with its share of the cores, as the sweep runs them
    job = {"scenario": sc, "solve": solve, "runs": args.runs, "seed": args.seed, "chunk": 65536,
           "claims": list(sc.claims), "level": 0.95, "threads": max(1, cores // args.workers)}  # fmt: skip
    print(f"{sc.id}: {len(space.names)} uncertain parameters, Morris design, {len(x)} draws measured, "
          f"grid {solve.grid}, {args.runs} runs per arm, {len(sc.claims)} claims, "
          f"{job['threads']} solver thread(s) per draw ({cores} cores, {args.workers} worker process(es) assumed)")
    print(f"fixing the grid once per sweep ('auto' compiles the scenario as written): {t_grid:.1f} s")
    rows = []
    print("wall seconds per phase, and the process's CPU seconds for the whole draw (less sensitive to other load)")
    print(f"{'draw':>4} {'status':>7} {'prepare':>8} {'compile':>8} {'solve':>8} {'simulate':>9} {'total':>8} {'cpu':>8}  solves")
    for i in range(len(x)):
        c0 = time.process_time()
        rec = _draw_task(job, (i, space.values(x[i])))
        s = dict(rec["seconds"], cpu=time.process_time() - c0)
        rows.append(s)
        solves = (rec.get("solver") or {}).get("solves", "-")
        print(f"{i:>4} {rec['status']:>7} {s['prepare']:>8.2f} {s['compile']:>8.2f} {s['solve']:>8.2f} "
              f"{s['simulate']:>9.2f} {s['total']:>8.2f} {s['cpu']:>8.2f}  {solves}" + (f"  {rec['error']}" if rec.get("error") else ""), flush=True)  # fmt: skip
    tot = {k: sum(r[k] for r in rows) for k in ("prepare", "compile", "solve", "simulate", "total", "cpu")}
    med = statistics.median(r["total"] for r in rows)
    mean = tot["total"] / len(rows)
    print("\nwhere a draw's time goes (share of the measured total):")
    for k in ("prepare", "compile", "solve", "simulate"):
        print(f"  {k:<9} {tot[k] / len(rows):7.2f} s per draw  {tot[k] / tot['total']:6.1%}")
    per_min = 60.0 / mean * args.workers
    hours = TARGET_DRAWS * mean / args.workers / 3600.0
    print(f"\nmean {mean:.2f} s, median {med:.2f} s of wall time per draw (one process, {job['threads']} solver thread(s)); "
          f"mean {tot['cpu'] / len(rows):.2f} s of CPU per draw; load average now {os.getloadavg()[0]:.1f} on {cores} cores")
    print(f"extrapolated: {per_min:.1f} draws per minute with {args.workers} worker process(es); a {TARGET_DRAWS:,}-draw "
          f"Morris screen ≈ {hours:.2f} h (target < {TARGET_SECONDS / 3600:.0f} h: "
          f"{'met' if hours * 3600 < TARGET_SECONDS else 'not met'}); assumes the measured draws are typical and "
          f"{args.workers} processes share the cores without loss")  # fmt: skip
