"""Crisis engine: speed against the exact engines on unrolled trees, and how the flagship's cost grows.

Part 1 (side by side, same process): small scenarios truncated to a short horizon are solved by
the crisis engine (stage-wise, belief grid G) and, on the unrolled `.efg` of the same game, by
crisislab's exact logit tracer (`logit_qre_at`) and by Gambit's `logit_solve_lambda` (pygambit,
bench extra) at the same λ. We print median wall times over repeats, speed ratios and the largest
strategy difference against the exact QRE.

Part 2 (scaling, crisis engine only): the flagship compiled and solved at several horizons and
belief-grid sizes: reachable (state, decision) pairs, belief-state nodes, compile and solve time
(one thread, and all cores), time per round, peak memory (tracemalloc, numpy allocations included),
and the measured cost per node; the full-horizon G = 51 figure is extrapolated from that per-node
cost, next to the arithmetic floor of any full-grid solver at that size.

Part 3 (state size): every bundled scenario at its full horizon and one grid, so the cost per node
can be compared across state spaces from a handful of states to the flagship's.

    python -m benchmarks crisis [--repeats 3] [--horizons 2,4,8,24] [--grids 3,5] [--scenario-grid 9] [--skip-peers]
    python -m benchmarks crisis --compile [--repeats 3]   # cold compile of the flagship only
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _median(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def peers(repeats: int) -> None:
    from crisislab.crisis import compile_scenario, solve
    from crisislab.crisis._unroll import crisis_profile, unroll
    from crisislab.efg import write_efg
    from crisislab.efg._logit import logit_qre_at
    from crisislab.scenario import load_scenario

    try:
        import pygambit as gbt
    except ImportError:  # bench extra not installed
        gbt = None
    cases = [
        ("tests/crisis/data/tiny.yaml", 2, 41),
        ("tests/crisis/data/tiny.yaml", 3, 41),
        ("scenarios/chicken-brinkmanship.yaml", 2, 41),
        ("scenarios/chicken-brinkmanship.yaml", 3, 41),
        ("scenarios/crisis-bargaining-2type.yaml", 3, 41),
    ]
    print("Part 1: crisis engine vs exact logit QRE on the unrolled tree (same λ), median of", repeats)
    hdr = f"{'scenario':<26}{'H':>2}{'nodes':>8}{'G':>4}{'crisis s':>10}{'exact s':>9}{'gambit s':>9}{'exact/crisis':>13}{'gambit/crisis':>14}{'max |Δσ|':>10}"
    print(hdr)
    print("-" * len(hdr))
    warm = compile_scenario(load_scenario(ROOT / cases[0][0]), horizon=1)
    solve(warm, grid=3)  # load the compiled kernels once, outside the timings
    for path, H, G in cases:
        scn = load_scenario(ROOT / path)
        cg = compile_scenario(scn, horizon=H)
        lam = np.array(cg.model.lam)
        u = unroll(cg, scale=lam / lam.max())
        t_c, sol = _median(lambda: solve(cg, grid=G, hypergame=False), repeats)  # noqa: B023
        t_e, q = _median(lambda: logit_qre_at(u.game, float(lam.max())), repeats)  # noqa: B023
        err = float(np.abs(crisis_profile(sol, u) - q.profile).max())
        t_g = float("nan")
        if gbt is not None:
            efg = Path("/tmp") / f"crisis_bench_{scn.id}_{H}.efg"
            write_efg(u.game, efg)
            gg = gbt.read_efg(str(efg))
            t_g, _ = _median(lambda: gbt.qre.logit_solve_lambda(gg, lam=float(lam.max())), repeats)  # noqa: B023
        print(f"{scn.id[:25]:<26}{H:>2}{u.game.parent.shape[0]:>8}{G:>4}{t_c:>10.3f}{t_e:>9.3f}{t_g:>9.3f}"
              f"{t_e / t_c:>13.1f}{t_g / t_c:>14.1f}{err:>10.1e}")


def _solve_timed(cg, G: int, threads: int):
    from crisislab.crisis import solve

    stats: list = []
    tracemalloc.start()
    t0 = time.perf_counter()
    sol = solve(cg, grid=G, stats=stats, hypergame=False, threads=threads)
    wall = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return sol, stats, wall, peak


def flagship(horizons: list[int], grids: list[int]) -> None:
    import numba

    from crisislab.crisis import compile_scenario
    from crisislab.crisis._lump import lump
    from crisislab.scenario import load_scenario

    cores = numba.config.NUMBA_NUM_THREADS
    scn = load_scenario(ROOT / "scenarios/us-iran-2019-2020.yaml")
    print(f"\nPart 2: flagship {scn.id} (horizon {scn.horizon}); 'solve s' on one thread, 'all cores' on {cores}")
    hdr = (f"{'H':>3}{'G':>4}{'state-dec':>10}{'classes':>9}{'nodes':>13}{'compile s':>10}{'solve s':>9}"
           f"{'all cores':>10}{'s/round':>9}{'peak MB':>9}{'ns/node':>9}{'it/node':>8}{'max resid':>10}")
    print(hdr)
    print("-" * len(hdr))
    per_node, its_node = [], []
    rows_per_round = None
    for H in horizons:
        t0 = time.perf_counter()
        cg = compile_scenario(scn, horizon=H)
        t_comp = time.perf_counter() - t0
        for G in grids:
            sol, stats, t_solve, peak = _solve_timed(cg, G, 1)
            t_par = _solve_timed(cg, G, cores)[2] if cores > 1 else t_solve
            nodes = sum(s.nodes for s in stats)
            per_node.append(t_solve / nodes)
            its_node.append(sum(s.iterations for s in stats) / nodes)
            classes = sum(st.classes for st in stats)
            print(f"{H:>3}{G:>4}{int(cg.node_counts().sum()):>10,}{classes:>9,}{nodes:>13,}{t_comp:>10.2f}{t_solve:>9.2f}"
                  f"{t_par:>10.2f}{t_solve / H:>9.3f}{peak:>9.0f}{1e9 * t_solve / nodes:>9.0f}{its_node[-1]:>8.1f}"
                  f"{sol.max_residual:>10.1e}")
            if H == max(horizons) and G == max(grids):
                rows_per_round = stats
    if rows_per_round:
        print(f"\nper round at H = {max(horizons)}, G = {max(grids)}: (state, belief, type) nodes and seconds")
        by_round: dict = {}
        for s in rows_per_round:
            n, t = by_round.get(s.round, (0, 0.0))
            by_round[s.round] = (n + s.nodes, t + s.seconds)
        print("  " + "  ".join(f"r{r}: {n:,} / {t:.2f}s" for r, (n, t) in sorted(by_round.items())))
    # The target (full horizon, G = 51, < 5 s on one core) against what any full-grid
    # solver must do: nodes scale with G², and before a single fixed point, the expectation over
    # chance reads W_next (n actors × T type profiles values per belief node) once per branch.
    cg = compile_scenario(scn)
    L = lump(cg)
    classes = int(sum(L.n_classes(d) for d in range(cg.n_decisions)))
    nnz = int(sum(L.nxt[d].shape[0] for d in range(cg.n_decisions)))
    B = 51 * 51
    nT = cg.n_actors * int(np.prod(cg.n_types))
    nodes51 = classes * B * 2
    a_max = max(int(cg.model.ladder(j).size) for j in range(cg.n_actors))
    cost = statistics.median(per_node)
    its = statistics.median(its_node)
    fma = nnz * B * nT
    print(f"\nG = 51 at the full horizon H = {scn.horizon}: {classes:,} state classes x 51² beliefs x 2 types = {nodes51:,} "
          f"stage problems; at the measured {1e9 * cost:.0f} ns/node that is about {nodes51 * cost:,.0f} s on one core "
          f"({nodes51 * cost / cores:,.0f} s on {cores}), policy table {nodes51 * a_max * 4 / 2**30:.1f} GiB (float32) per perceived game.")
    print(f"floor of any full-grid solver: the chance expectations alone are {nnz:,} branches x {B:,} belief nodes x {nT} values "
          f"= {fma / 1e9:.1f} G multiply-adds streaming {fma * 4 / 2**30:.0f} GiB of float32 values; the fixed points are "
          f"{nodes51:,} nodes x {its:.1f} iterations x {2 * a_max} exponentials = {nodes51 * its * 2 * a_max / 1e9:.0f} G exp. "
          f"Target: < 5 s.")


def scenarios(grid: int) -> None:
    """Every bundled scenario at its full horizon: the per-node cost is comparable across state sizes."""
    from crisislab.crisis import compile_scenario
    from crisislab.scenario import load_scenario

    print(f"\nPart 3: every bundled scenario, full horizon, G = {grid}, one thread")
    hdr = f"{'scenario':<26}{'H':>3}{'classes':>9}{'nodes':>12}{'solve s':>9}{'peak MB':>9}{'ns/node':>9}{'it/node':>8}"
    print(hdr)
    print("-" * len(hdr))
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        scn = load_scenario(path)
        cg = compile_scenario(scn)
        _sol, stats, t, peak = _solve_timed(cg, grid, 1)
        nodes = sum(s.nodes for s in stats)
        its = sum(s.iterations for s in stats) / nodes
        print(f"{scn.id[:25]:<26}{scn.horizon:>3}{sum(s.classes for s in stats):>9,}{nodes:>12,}{t:>9.2f}{peak:>9.0f}"
              f"{1e9 * t / nodes:>9.0f}{its:>8.1f}")


def compile_times(repeats: int) -> None:
    """Cold compiles of the flagship (no disk cache): the full horizon, a robustness draw (new
    probabilities, so a new compile), and the plain reference path without reuse (`reuse=False`)."""
    from crisislab.model import lower
    from crisislab.crisis._compile import _compile_uncached
    from crisislab.scenario import load_scenario

    scn = load_scenario(ROOT / "scenarios" / "us-iran-2019-2020.yaml")
    cases = [
        ("flagship", lower(scn), True),
        ("flagship, robustness draw", lower(scn.sample_parameters(np.random.default_rng(1))), True),
        ("flagship, reuse=False", lower(scn), False),
    ]
    print(f"Compile (no disk cache), median of {repeats}")
    hdr = f"{'case':<28}{'states':>8}{'branches':>10}{'wall s':>8}{'cpu s':>8}"
    print(hdr)
    print("-" * len(hdr))
    for label, spec, reuse in cases:
        walls, cpus, cg = [], [], None
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            cg = _compile_uncached(spec, reuse=reuse)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        nnz = sum(x.shape[0] for x in cg.nxt)
        print(f"{label:<28}{cg.states.shape[0]:>8,}{nnz:>10,}{statistics.median(walls):>8.2f}{statistics.median(cpus):>8.2f}")


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks crisis")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--horizons", default="2,4,8,24")
    ap.add_argument("--grids", default="3,5")
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--scenario-grid", type=int, default=9, help="belief grid of Part 3 (every bundled scenario)")
    ap.add_argument("--compile", action="store_true", help="only time compiling the flagship (cold)")
    args = ap.parse_args(argv)
    if args.compile:
        compile_times(args.repeats)
        return
    if not args.skip_peers:
        peers(args.repeats)
    flagship([int(h) for h in args.horizons.split(",")], [int(g) for g in args.grids.split(",")])
    scenarios(args.scenario_grid)
