"""Belief representations of the crisis engine against the dense uniform grid (the reference).

Part 1 (accuracy, one table). The flagship truncated to `--flagship-horizon` rounds and every other
bundled scenario at its full horizon are solved (every perceived game) on the dense uniform 51- and
101-point grids and on each representation of `--reps`. Per row: belief nodes per two-type actor,
stage problems (state classes x belief nodes x mover types, all games), solve wall seconds on every
core, peak memory of the solve's numpy allocations (tracemalloc); the largest strategy difference
from dense 51, max |Δσ|, over `--samples` random points (perceived game, decision, reachable state
and a belief drawn uniformly from [0, 1]^n; the same points for every row) and the share of those
points where it exceeds 0.02 (">0.02"; on the dense 101 row: dense 51 against 101), next to the dense 51-
vs 101-point difference at the same points, and the representation's difference from dense 101 ("vs 101":
below the 51-vs-101 figure, it is closer to the finer grid than dense 51 is); and outcome shares of `--runs` simulated runs with one
seed (common random numbers): the largest |Δ share| against dense 51 with its paired standard
error. "ok" when max |Δσ| ≤ the 51-vs-101 difference (or ≤ 1e-10, rounding) and every |Δ share| ≤ 3
paired SE.
(The flagship's full horizon has no dense 51-point reference: ~1,900 s and 6.7 GiB per game.)
`--readout resolve` reads every row's strategies, the references' included, by re-solving the stage
at each point from the kept continuation values (`Solution.strategy(..., readout="resolve")`)
instead of interpolating node strategies, and simulates every row that way too.

Part 2 (the flagship at its full horizon): each representation of `--full-reps` solves every
perceived game; wall seconds per game on every core, peak memory, stage problems, ns per stage
problem, fixed-point iterations per problem, and where the time goes (per round). `--full-drop`
drops each decision's strategies once it is solved (the same solve, only the kept tables are not
kept), to time a lattice whose tables do not fit in memory.

Part 3 (two vs three two-type strategic actors): tests/crisis/data/duo.yaml and trio.yaml (the same
crisis with a third actor) on each representation: belief nodes (G² vs G³), stage problems, time,
ns per problem, peak memory.

    python -m benchmarks belief [--reps auto,cheb:9,cheb:13,...] [--samples 100000] [--runs 20000]
                                [--flagship-horizon 4] [--full-reps auto,cheb:13,5] [--full-drop] [--parts 1,2,3] [--only NAME]
                                [--readout table|resolve] [--max-gib 8]

Representations are `solve`'s grid arguments: N (dense), cheb:N, cheb-linear:N, ..., adapt:N[:TOL]
(the N-point lattice solved adaptively; its "problems" are the stage problems it solved).
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# Strategy differences below this are rounding (a one-round game read by re-solving is exact at
# every belief: its rows differ from dense 51 by ~1e-15), not a representation's error.
ROUNDING = 1e-10
# The simulator's general kernel: a kernel specialised to each grid size would compile for ~30 s per size.
os.environ.setdefault("CRISISLAB_KERNEL", "general")


MAX_GIB = 8.0


def _solve(cg, grid, stats=None, hypergame=True, keep_values=False):
    from crisislab.crisis import solve

    tracemalloc.start()
    t0 = time.perf_counter()
    sol = solve(cg, grid=grid, stats=stats, hypergame=hypergame, keep_values=keep_values,
                max_gib=max(20.0, MAX_GIB) if keep_values else MAX_GIB)
    wall = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return sol, wall, peak


def _points(cg, n_games: int, samples: int, seed: int = 2024):
    """Random (game, decision, reachable state, belief) points, grouped by (game, decision)."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, n_games, samples)
    sizes = np.array([cg.n_states(int(x)) for x in range(cg.n_decisions)])
    live = np.nonzero(sizes > 0)[0]
    d = live[rng.integers(0, live.size, samples)]
    s = np.floor(rng.random(samples) * sizes[d]).astype(np.int64)
    x = rng.random((samples, cg.n_actors))
    return g, d, s, x


def _strategies(sol, pts, readout: str = "table") -> np.ndarray:
    g, d, s, x = pts
    cg = sol.compiled
    a_max = max(int(cg.model.ladder(j).size) for j in range(cg.n_actors))
    out = np.zeros((g.size, cg.k_max, a_max))
    h_of = {int(sol.game_of[h]): h for h in range(len(sol.perceivers))}
    for gg in np.unique(g):
        for dd in np.unique(d):
            sel = np.nonzero((g == gg) & (d == dd))[0]
            if sel.size:
                v = sol.strategy(h_of[int(gg)], int(dd), s[sel], x[sel], readout=readout)
                out[sel, : v.shape[1], : v.shape[2]] = v
    return out


def _outcomes(scn, sol, runs: int, seed: int, readout: str = "table") -> np.ndarray:
    from crisislab.simulation import simulate

    res = simulate(scn, sol, runs, seed, readout=readout)
    names = list(sol.compiled.outcomes)
    return np.asarray(res.runs["outcome"].map({o: i for i, o in enumerate(names)}).to_numpy(), np.int64), names


def _share_gap(ref: np.ndarray, got: np.ndarray, n_out: int) -> tuple[float, float]:
    """(largest |Δ share| over outcomes, largest |Δ| / paired SE over outcomes). Runs are paired by
    index (same seed): the SE is that of the mean of per-run differences of the outcome indicators."""
    worst, z_worst = 0.0, 0.0
    for o in range(n_out):
        diff = (got == o).astype(float) - (ref == o).astype(float)
        gap = abs(diff.mean())
        se = diff.std(ddof=1) / np.sqrt(diff.size)
        worst = max(worst, gap)
        z_worst = max(z_worst, gap / se if se > 0 else (0.0 if gap == 0 else np.inf))
    return worst, z_worst


def accuracy(reps: list[str], samples: int, runs: int, seed: int, flagship_horizon: int, only: str | None = None,
             readout: str = "table") -> None:
    from crisislab.crisis import compile_scenario
    from crisislab.scenario import load_scenario

    cases = []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        if only and only not in path.stem:
            continue
        scn = load_scenario(path)
        if scn.id.startswith("us-iran"):
            scn = scn.model_copy(update={"horizon": min(flagship_horizon, scn.horizon)})
        cases.append(scn)
    print(f"Part 1: accuracy against the dense 51-point grid; {samples:,} random (game, decision, state, belief) "
          f"points, strategies read by '{readout}'; outcome shares of {runs:,} runs, seed {seed} for every row")
    hdr = (f"{'scenario':<24}{'H':>3}{'representation':<26}{'nodes':>6}{'problems':>12}{'solve s':>9}{'peak MB':>9}"
           f"{'max|Δσ|':>10}{'p99.9':>9}{'>0.02':>9}{'51v101':>9}{'vs 101':>9}{'max|Δshare|':>12}{'z':>6}{'ok':>4}")
    print(hdr)
    print("-" * len(hdr))
    verdicts = []
    for scn in cases:
        cg = compile_scenario(scn)
        rows = {}
        for rep in ["51", "101", *reps]:
            grid = int(rep) if rep.isdigit() else rep
            stats: list = []
            sol, wall, peak = _solve(cg, grid, stats, keep_values=readout == "resolve")
            rows[rep] = (sol, wall, peak, sum(s.nodes for s in stats))
        pts = _points(cg, len(rows["51"][0].sigma), samples)
        ref = _strategies(rows["51"][0], pts, readout)
        out_ref, names = _outcomes(scn, rows["51"][0], runs, seed, readout)
        ref101 = _strategies(rows["101"][0], pts, readout)
        gap101 = float(np.abs(ref101 - ref).max())
        for rep, (sol, wall, peak, problems) in rows.items():
            got_s = _strategies(sol, pts, readout)
            q = np.abs(got_s - ref).max(axis=(1, 2))
            q101 = float(np.abs(got_s - ref101).max())
            got, _ = _outcomes(scn, sol, runs, seed, readout)
            worst, z = _share_gap(out_ref, got, len(names))
            ok = "" if rep == "51" else ("yes" if q.max() <= max(gap101, ROUNDING) and z <= 3.0 else "no")
            if rep not in ("51", "101"):
                verdicts.append(ok == "yes")
            name = rep if rep != "auto" else f"auto={sol.belief_grid.kind[:4]}"
            print(f"{scn.id[:23]:<24}{scn.horizon:>3} {name[:25]:<25}{len(sol.grid):>6}{problems:>12,}"
                  f"{wall:>9.2f}{peak:>9.0f}{q.max():>10.2e}{np.quantile(q, 0.999):>9.1e}{np.mean(q > 0.02):>9.1e}"
                  f"{gap101:>9.2e}{q101:>9.2e}"
                  f"{worst:>12.4f}{z:>6.1f}{ok:>4}", flush=True)
    print(f"representations within the dense 51-vs-101 difference and sampling error on every case: "
          f"{sum(verdicts)} of {len(verdicts)} rows")


def _solve_dropping(cg, grid, stats):
    """Every perceived game of `cg` solved as `solve` solves it, each decision's strategies dropped
    once solved (`solve_game(keep_strategies=False)`): the time of a lattice whose kept tables
    exceed the memory. Returns (an object with the fields Part 2 prints, wall s, peak MB)."""
    from types import SimpleNamespace

    import inspect

    from crisislab.crisis import solve
    from crisislab.crisis._compile import perceived_games
    from crisislab.crisis._solve import resolve_grid, solve_game

    defaults = inspect.signature(solve).parameters  # the stage settings `solve` uses by default
    lam_steps, tol, maxit, selection = (defaults[k].default for k in ("lam_steps", "tol", "maxit", "selection"))
    bgrid = resolve_grid(cg, grid)
    games, _game_of, _mu0 = perceived_games(cg, True)
    lam = np.array(cg.model.lam, dtype=np.float64)
    tracemalloc.start()
    t0 = time.perf_counter()
    worst = 0.0
    for terminal in games:
        *_, r = solve_game(cg.with_terminal(terminal), bgrid, lam, lam_steps, tol, maxit, stats, None, selection,
                           keep_strategies=False)
        worst = max(worst, r)
    wall = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return SimpleNamespace(sigma=games, grid=bgrid.array, belief_grid=bgrid, max_residual=worst), wall, peak


def full_horizon(reps: list[str], drop: bool = False) -> None:
    import numba

    from crisislab.crisis import compile_scenario
    from crisislab.scenario import load_scenario

    scn = load_scenario(ROOT / "scenarios/us-iran-2019-2020.yaml")
    cg = compile_scenario(scn)
    cores = numba.get_num_threads()
    print(f"\nPart 2: flagship {scn.id} at its full horizon {scn.horizon}, every perceived game, {cores} threads"
          + ("; each decision's strategies dropped once solved (peak MB: working arrays only)" if drop else ""))
    hdr = (f"{'representation':<72}{'nodes':>6}{'games':>6}{'problems/game':>14}{'s/game':>8}{'total s':>9}"
           f"{'peak MB':>9}{'ns/problem':>11}{'it/problem':>11}{'max resid':>10}")
    print(hdr)
    print("-" * len(hdr))
    for rep in reps:
        grid = int(rep) if rep.isdigit() else rep
        stats: list = []
        sol, wall, peak = _solve_dropping(cg, grid, stats) if drop else _solve(cg, grid, stats)
        games = len(sol.sigma)
        problems = sum(s.nodes for s in stats)
        its = sum(s.iterations for s in stats)
        per_game = [sum(s.seconds for s in stats[k * cg.n_decisions:(k + 1) * cg.n_decisions]) for k in range(games)]
        print(f"{sol.belief_grid.label()[:71]:<72}{len(sol.grid):>6}{games:>6}{problems // games:>14,}{max(per_game):>8.2f}"
              f"{wall:>9.2f}{peak:>9.0f}{1e9 * sum(per_game) * cores / problems:>11.0f}{its / problems:>11.1f}"
              f"{sol.max_residual:>10.1e}", flush=True)
        by_round: dict = {}
        for s in stats[: cg.n_decisions]:
            n, t = by_round.get(s.round, (0, 0.0))
            by_round[s.round] = (n + s.nodes, t + s.seconds)
        print("    first game, per round (problems / s): " + "  ".join(
            f"r{r} {n / 1e3:.0f}k/{t:.2f}" for r, (n, t) in sorted(by_round.items())))


def actors(reps: list[str]) -> None:
    from crisislab.crisis import compile_scenario
    from crisislab.scenario import load_scenario

    print("\nPart 3: two vs three two-type strategic actors (tests/crisis/data duo.yaml, trio.yaml), every perceived game")
    hdr = (f"{'scenario':<12}{'actors':>7}{'representation':<40}{'nodes':>6}{'belief nodes':>13}{'problems':>12}"
           f"{'solve s':>9}{'ns/problem':>11}{'peak MB':>9}")
    print(hdr)
    print("-" * len(hdr))
    for name in ("duo", "trio"):
        scn = load_scenario(ROOT / "tests/crisis/data" / f"{name}.yaml")
        cg = compile_scenario(scn)
        for rep in reps:
            grid = int(rep) if rep.isdigit() else rep
            stats: list = []
            sol, wall, peak = _solve(cg, grid, stats)
            problems = sum(s.nodes for s in stats)
            print(f"{name:<12}{cg.n_actors:>7} {sol.belief_grid.label()[:38]:<39}{len(sol.grid):>6}"
                  f"{int(np.prod(sol.grid_sizes)):>13,}{problems:>12,}{wall:>9.2f}{1e9 * wall / problems:>11.0f}{peak:>9.0f}",
                  flush=True)


def _warm_up() -> None:
    """Load the compiled kernels (both value readings) once, outside the timings."""
    from crisislab.crisis import compile_scenario, solve
    from crisislab.scenario import load_scenario

    cg = compile_scenario(load_scenario(ROOT / "tests/crisis/data/tiny.yaml"), horizon=1)
    for grid in (3, "cheb:5", "cheb-linear:5", "adapt:5"):
        solve(cg, grid=grid)


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks belief")
    ap.add_argument("--reps", default="auto,cheb:13,cheb-linear:13,cheb-cubic:9,cheb-cubic:13,cheb-cubic:17,17",
                    help="representations to compare with the dense 51-point grid (solve's grid argument)")
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--flagship-horizon", type=int, default=4)
    ap.add_argument("--full-reps", default="auto,cheb:13,5")
    ap.add_argument("--full-drop", action="store_true",
                    help="Part 2: drop each decision's strategies once solved, to time lattices whose tables do not fit")
    ap.add_argument("--actor-reps", default="cheb:9,cheb:13,9,17")
    ap.add_argument("--parts", default="1,2,3")
    ap.add_argument("--max-gib", type=float, default=8.0, help="the solver's memory limit (solve's max_gib)")
    ap.add_argument("--only", default=None, help="Part 1: only bundled scenarios whose file name contains this")
    ap.add_argument("--readout", choices=("table", "resolve"), default="table",
                    help="Part 1: strategies between nodes as the simulator reads them (table) or re-solved "
                         "at each belief from the kept values (resolve), for every row and both references")
    args = ap.parse_args(argv)
    parts = {int(p) for p in args.parts.split(",")}
    global MAX_GIB
    MAX_GIB = args.max_gib
    _warm_up()
    if 1 in parts:
        accuracy(args.reps.split(","), args.samples, args.runs, args.seed, args.flagship_horizon, args.only,
                 args.readout)
    if 2 in parts:
        full_horizon(args.full_reps.split(","), args.full_drop)
    if 3 in parts:
        actors(args.actor_reps.split(","))
