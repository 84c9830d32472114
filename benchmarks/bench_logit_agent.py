"""Logit tracer on random generic games: agent regret at the returned profile, and speed vs Gambit 17.

Games: `crisislab.efg.games.random_generic_game` (imperfect information with perfect recall,
chance moves, payoffs uniform in [−10, 10]), 127–511 nodes, 2 and 3 players, seeds fixed below.
For each game: our `solve_logit` with its default stop rule (agent and Nash max regret ≤ 1e-6 × payoff
range), timed in this process after one warm-up solve (compiled kernels load once per process),
median of `--repeats` runs;
pygambit 17's `logit_solve` with its defaults (Nash max regret ≤ 1e-8 × payoff range) timed in a
child process per game, killed after `--gambit-timeout` seconds. Both profiles' agent max regret and
Nash max regret are computed by pygambit (`agent_max_regret()`, `max_regret()`) and printed
divided by the payoff range. Ratio = Gambit time / our time; the first median is over all games,
a killed Gambit run counting at the timeout (which understates its ratio), the second over the
games where Gambit finished (with or without a profile).

    .venv/bin/python -m benchmarks logit_agent                   # 16 games, Gambit timeout 60 s
    .venv/bin/python -m benchmarks logit_agent --games 6 --gambit-timeout 20
    .venv/bin/python benchmarks/bench_logit_agent.py --games-dir DIR   # solve existing .efg files
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TOL = 1e-6  # agent (and Nash) max regret tolerance relative to the payoff range (our default stop rule)

# (nodes, players) of the benchmark set; seed = position in this list
GAME_SET = [(127, 2), (127, 3), (191, 2), (191, 3), (255, 2), (255, 3), (319, 2), (319, 3),
            (383, 2), (383, 3), (447, 2), (447, 3), (511, 2), (511, 3), (255, 2), (511, 3)]

_GAMBIT_CHILD = r"""
import json, sys, time
import pygambit as gbt
G = gbt.read_efg(sys.argv[1])
t = time.perf_counter()
res = gbt.nash.logit_solve(G)
sec = time.perf_counter() - t
eq = res.equilibrium  # None when Gambit's tracer gives up (REGRET_TARGET_NOT_REACHED)
rng = float(G.max_payoff - G.min_payoff) or 1.0
print(json.dumps({"seconds": sec, "success": bool(res.success), "reason": str(res.reason),
                  "agent": None if eq is None else float(eq.agent_max_regret()) / rng,
                  "nash": None if eq is None else float(eq.max_regret()) / rng,
                  "bifurcations": len(res.bifurcations)}))
"""


def write_game_set(directory: Path, n_games: int) -> list[Path]:
    from crisislab.efg import write_efg
    from crisislab.efg.games import random_generic_game

    paths = []
    for seed, (n, pl) in enumerate(GAME_SET[:n_games]):
        p = directory / f"gen_{n}n_{pl}p_s{seed}.efg"
        write_efg(random_generic_game(n, n_players=pl, seed=seed), p)
        paths.append(p)
    return paths


def gambit_regrets(gbt, game, G, sigma) -> tuple[float, float]:
    """(agent max regret, Nash max regret) of our flat profile, by pygambit, / payoff range."""
    data = [
        [list(sigma[game.action_offset[i] : game.action_offset[i] + game.infoset_n_actions[i]])
         for i in np.flatnonzero(game.infoset_player == p)]
        for p in range(game.n_players)
    ]
    prof = G.mixed_behavior_profile(data=data, rational=False)
    rng = float(G.max_payoff - G.min_payoff) or 1.0
    return float(prof.agent_max_regret()) / rng, float(prof.max_regret()) / rng


def run_gambit(path: Path, timeout: float) -> dict | None:
    try:
        out = subprocess.run([sys.executable, "-c", _GAMBIT_CHILD, str(path)], capture_output=True,
                             text=True, check=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as e:
        return {"error": (e.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout)


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks logit_agent", description=__doc__.split("\n")[0])
    ap.add_argument("--games", type=int, default=len(GAME_SET), help="how many of the fixed game set")
    ap.add_argument("--games-dir", type=Path, help="solve these .efg files instead of generating")
    ap.add_argument("--gambit-timeout", type=float, default=60.0, help="seconds per Gambit solve")
    ap.add_argument("--no-gambit", action="store_true", help="our side only (regrets still by pygambit)")
    ap.add_argument("--repeats", type=int, default=3, help="our solves per game (median time)")
    args = ap.parse_args(argv)
    import pygambit as gbt

    from crisislab.efg import read_efg, solve_logit

    if args.games_dir:
        paths = sorted(args.games_dir.glob("*.efg"))
    else:
        paths = write_game_set(Path(tempfile.mkdtemp(prefix="crisislab-bench-agent-")), args.games)
    t0 = time.perf_counter()
    solve_logit(read_efg(paths[0]))  # warm-up: compiled kernels load from numba's cache
    print(f"warm-up (kernel loading + first solve): {time.perf_counter() - t0:.2f} s")
    print(f"logit tracer on random generic games; regrets by pygambit {gbt.__version__}, / payoff range; "
          f"ours stops at agent and Nash regret ≤ {TOL:g}, Gambit at its default (Nash regret ≤ 1e-8)")
    head = (f"{'game':<20}{'nodes':>6}{'pl':>4}{'ours s':>9}{'gambit s':>10}{'ratio':>8}"
            f"{'our agent':>11}{'gbt agent':>11}{'our nash':>10}{'gbt nash':>10}{'ok':>4}{'bif':>5}  status")
    print(head)
    ratios, finished, fails = [], [], 0
    for p in paths:
        game = read_efg(p)
        G = gbt.read_efg(str(p))
        times = []
        for _ in range(max(1, args.repeats)):
            t = time.perf_counter()
            res = solve_logit(game)
            times.append(time.perf_counter() - t)
        ours = statistics.median(times)
        agent, nash = gambit_regrets(gbt, game, G, res.profile)
        within = agent <= TOL * (1 + 1e-9)
        fails += not within
        bif = len(getattr(res.diagnostics, "bifurcations", ()))
        g = None if args.no_gambit else run_gambit(p, args.gambit_timeout)
        if g is None:
            g_cell, r_cell, ga, gn = (">" + format(args.gambit_timeout, "g")) if not args.no_gambit else "—", "—", "—", "—"
            if not args.no_gambit:
                ratios.append(args.gambit_timeout / ours)
                r_cell = f">{args.gambit_timeout / ours:.0f}"
        elif "error" in g:
            g_cell, r_cell, ga, gn = "error", "—", "—", "—"
        else:
            ratios.append(g["seconds"] / ours)
            finished.append(g["seconds"] / ours)
            g_cell, r_cell = f"{g['seconds']:.3f}", f"{g['seconds'] / ours:.1f}"
            ga = "failed" if g["agent"] is None else f"{g['agent']:.1e}"
            gn = "failed" if g["nash"] is None else f"{g['nash']:.1e}"
        status = "converged" if res.success else res.diagnostics.message[:60]
        print(f"{p.stem:<20}{game.n_nodes:>6}{game.n_players:>4}{ours:>9.3f}{g_cell:>10}{r_cell:>8}"
              f"{agent:>11.1e}{ga:>11}{nash:>10.1e}{gn:>10}{'y' if within else 'n':>4}{bif:>5}  {status}",
              flush=True)
    print(f"agent regret above {TOL:g} × range on {fails} of {len(paths)} games")
    if ratios:
        print(f"median ratio (Gambit time / ours): {statistics.median(ratios):.1f}× over all {len(ratios)} "
              f"games (killed runs at the timeout)" + (f", {statistics.median(finished):.1f}× over the "
              f"{len(finished)} Gambit finished" if finished else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
