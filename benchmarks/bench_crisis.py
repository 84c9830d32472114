"""Crisis engine: speed against the exact engines on unrolled trees, and how the flagship's cost grows.

Part 1 (side by side, same process): small scenarios truncated to a short horizon are solved by
the crisis engine (stage-wise, belief grid G) and, on the unrolled `.efg` of the same game, by
crisislab's exact logit tracer (`logit_qre_at`) and by Gambit's `logit_solve_lambda` (pygambit,
bench extra) at the same λ. We print median wall times over repeats, speed ratios and the largest
strategy difference against the exact QRE.

Part 2 (scaling, crisis engine only): the flagship compiled and solved at several horizons and
belief-grid sizes: reachable (state, decision) pairs, belief-state nodes, compile and solve time,
time per round, peak memory (tracemalloc, numpy allocations included), and the measured cost per
node; the full-horizon G = 51 row is extrapolated from that per-node cost when it is out of reach.

    python -m benchmarks crisis [--repeats 3] [--horizons 2,4,8,24] [--grids 3,5] [--skip-peers]
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
        lam = np.array([a.lam for a in cg.spec.actors])
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


def flagship(horizons: list[int], grids: list[int]) -> None:
    from crisislab.crisis import compile_scenario, solve
    from crisislab.scenario import load_scenario

    scn = load_scenario(ROOT / "scenarios/us-iran-2019-2020.yaml")
    print(f"\nPart 2: flagship {scn.id} (horizon {scn.horizon}), one core")
    hdr = (f"{'H':>3}{'G':>4}{'state-dec':>10}{'classes':>9}{'nodes':>13}{'compile s':>10}{'solve s':>9}"
           f"{'s/round':>9}{'peak MB':>9}{'ns/node':>9}{'max resid':>10}")
    print(hdr)
    print("-" * len(hdr))
    per_node = []
    rows_per_round = None
    for H in horizons:
        t0 = time.perf_counter()
        cg = compile_scenario(scn, horizon=H)
        t_comp = time.perf_counter() - t0
        for G in grids:
            stats: list = []
            tracemalloc.start()
            t0 = time.perf_counter()
            sol = solve(cg, grid=G, stats=stats, hypergame=False)
            t_solve = time.perf_counter() - t0
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            nodes = sum(s.nodes for s in stats)
            per_node.append(t_solve / nodes)
            classes = sum(st.classes for st in stats)
            print(f"{H:>3}{G:>4}{int(cg.node_counts().sum()):>10,}{classes:>9,}{nodes:>13,}{t_comp:>10.2f}{t_solve:>9.2f}"
                  f"{t_solve / H:>9.3f}{peak:>9.0f}{1e9 * t_solve / nodes:>9.0f}{sol.max_residual:>10.1e}")
            if H == max(horizons) and G == max(grids):
                rows_per_round = stats
    if rows_per_round:
        print(f"\nper round at H = {max(horizons)}, G = {max(grids)}: (state, belief, type) nodes and seconds")
        by_round: dict = {}
        for s in rows_per_round:
            n, t = by_round.get(s.round, (0, 0.0))
            by_round[s.round] = (n + s.nodes, t + s.seconds)
        print("  " + "  ".join(f"r{r}: {n:,} / {t:.2f}s" for r, (n, t) in sorted(by_round.items())))
    # extrapolation to the target (full horizon, G = 51): nodes scale with G², σ is stored as float32
    cg = compile_scenario(scn)
    from crisislab.crisis._lump import lump

    states = int(sum(lump(cg).n_classes(d) for d in range(cg.n_decisions)))
    nodes51 = states * 51 * 51 * 2
    a_max = max(len(a.actions) for a in cg.spec.actors)
    cost = statistics.median(per_node)
    print(f"\nextrapolated full horizon H = {scn.horizon}, G = 51: {states:,} (state class, decision) pairs x 51² beliefs x 2 types"
          f" = {nodes51:,} nodes; at the measured median {1e9 * cost:.0f} ns/node about {nodes51 * cost:,.0f} s,"
          f" policy table {nodes51 * a_max * 4 / 2**30:.1f} GiB (float32). Target: < 5 s.")


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks crisis")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--horizons", default="2,4,8,24")
    ap.add_argument("--grids", default="3,5")
    ap.add_argument("--skip-peers", action="store_true")
    args = ap.parse_args(argv)
    if not args.skip_peers:
        peers(args.repeats)
    flagship([int(h) for h in args.horizons.split(",")], [int(g) for g in args.grids.split(",")])
