"""CFR+ speed: crisislab's sequence-form CFR+ vs OpenSpiel's C++ `CFRPlusSolver`, same process.

For Kuhn and Leduc poker, both run the same number of iterations (default 1000); we report the
median wall time per iteration over repeats, the exploitability each reaches (OpenSpiel's
convention, NashConv / 2) and the speed ratio. Then how our cost grows with the size of random
trees (10² … 10⁶ nodes): one full bottom-up tree pass (`node_values`) and one CFR+ iteration.

    python -m benchmarks cfr [--iterations 1000] [--repeats 3] [--max-depth 19]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _ours(game, iterations: int):
    from crisislab.efg import CFRPlus, exploitability

    state = {}

    def run():
        s = CFRPlus(game)
        s.iterate(iterations)
        state["avg"] = s.average_profile()

    return run, lambda: exploitability(game, state["avg"])


def _openspiel(name: str, iterations: int):
    import pyspiel

    game = pyspiel.load_game(name)
    state = {}

    def run():
        s = pyspiel.CFRPlusSolver(game)
        for _ in range(iterations):
            s.evaluate_and_update_policy()
        state["solver"] = s

    return run, lambda: pyspiel.exploitability(game, state["solver"].average_policy())


def poker_table(iterations: int, repeats: int) -> None:
    from crisislab.efg.games import kuhn_poker, leduc_poker

    try:
        import pyspiel  # noqa: F401
    except ImportError:
        pyspiel = None
    rows = []
    for name, build in (("kuhn_poker", kuhn_poker), ("leduc_poker", leduc_poker)):
        game = build()
        run, expl = _ours(game, iterations)
        run()  # warm-up (caches, allocator)
        ours = _median_time(run, repeats)
        ours_expl = expl()
        if pyspiel is not None:
            orun, oexpl = _openspiel(name, iterations)
            theirs = _median_time(orun, repeats)
            theirs_expl = oexpl()
        else:
            theirs = theirs_expl = float("nan")
        rows.append((name, game.n_nodes, game.n_infosets, ours, theirs, ours_expl, theirs_expl))
    print(f"CFR+ {iterations} iterations, median of {repeats} repeats (same process)")
    head = f"{'game':12} {'nodes':>6} {'infosets':>8} {'ours ms/it':>11} {'OpenSpiel ms/it':>16} " \
           f"{'speed-up':>9} {'expl ours':>11} {'expl OpenSpiel':>15}"
    print(head)
    print("-" * len(head))
    for name, n, ni, ours, theirs, e1, e2 in rows:
        print(f"{name:12} {n:6d} {ni:8d} {1e3 * ours / iterations:11.4f} {1e3 * theirs / iterations:16.4f} "
              f"{theirs / ours:8.2f}x {e1:11.3e} {e2:15.3e}")


def scaling_table(repeats: int, max_depth: int) -> None:
    from crisislab.efg import CFRPlus, node_values, uniform_profile
    from crisislab.efg.games import random_game

    print("\nscaling on random binary trees (chance root, imperfect information, perfect recall)")
    head = f"{'nodes':>9} {'infosets':>9} {'build s':>8} {'tree pass ms':>13} {'ns/node':>8} " \
           f"{'CFR+ it ms':>11} {'ns/node':>8}"
    print(head)
    print("-" * len(head))
    for depth in (6, 9, 13, 16, 19):
        if depth > max_depth:
            break
        t0 = time.perf_counter()
        g = random_game(depth, seed=depth)
        build = time.perf_counter() - t0
        sigma = uniform_profile(g)
        node_values(g, sigma)
        tp = _median_time(lambda: node_values(g, sigma), repeats)
        s = CFRPlus(g)
        s.iterate(1)
        it = _median_time(lambda: s.iterate(1), repeats)
        print(f"{g.n_nodes:9d} {g.n_infosets:9d} {build:8.2f} {1e3 * tp:13.3f} {1e9 * tp / g.n_nodes:8.1f} "
              f"{1e3 * it:11.3f} {1e9 * it / g.n_nodes:8.1f}")


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks cfr", description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-depth", type=int, default=19, help="largest random tree: 2^(d+1)-1 nodes")
    args = ap.parse_args(argv)
    np.seterr(all="raise")
    poker_table(args.iterations, args.repeats)
    scaling_table(args.repeats, args.max_depth)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
