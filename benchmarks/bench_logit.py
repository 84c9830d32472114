"""Logit QRE tracer: crisislab's `solve_logit` vs pygambit's `logit_solve`, side by side.

Same `.efg` files, same stop rule (Nash max regret ≤ 1e-8 × payoff range, Gambit's default; our `regret="nash"`),
medians over repeats, ratios = Gambit time / our time. Games: Gambit's own `contrib/games` with
≥ 50 nodes (copied in `tests/efg/logit_games/gambit_contrib/`) and random Bayesian games of
growing size (two players with two private types each, alternating binary moves, each mover
seeing its own type and the move history). "agree" is the largest difference between Gambit's
final profile and our QRE at Gambit's final λ (same branch point); "regret" is Gambit's
`max_regret()` of our profile / payoff range. A second table shows how our cost grows with the
size of the game (10² … 6·10⁴ nodes): the cost of a factorisation (once per step) and of a chord
iteration, and full traces up to ~10³ nodes, Gambit 17 alongside (in a subprocess killed after
`--gambit-cap` s).

    .venv/bin/python -m benchmarks logit                       # pygambit 17 (installed) only
    .venv/bin/python -m benchmarks logit --gambit16 .bench-venv-gambit16/bin/python
    .venv/bin/python -m benchmarks logit --quick               # fewer repeats, smaller sizes

`--gambit16 PYTHON` also times pygambit 16.7 (built into its own venv with
`python3 -m venv .bench-venv-gambit16 && .bench-venv-gambit16/bin/pip install pygambit==16.7.0`)
in a subprocess on the same files and prints that ratio too.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from crisislab.efg import read_efg
from crisislab.efg._logit import logit_qre_at, solve_logit

ROOT = Path(__file__).resolve().parent.parent
CONTRIB = ROOT / "tests" / "efg" / "logit_games" / "gambit_contrib"
TOL = 1e-8

_GAMBIT16_SCRIPT = r"""
import json, sys, time
import pygambit as gbt
out = {}
for path in sys.argv[3:]:
    reps, cap = int(sys.argv[1]), float(sys.argv[2])
    g = gbt.read_efg(path)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        gbt.nash.logit_solve(g, maxregret=1e-8)
        ts.append(time.perf_counter() - t)
        if sum(ts) > cap:
            break
    ts.sort()
    out[path] = ts[len(ts) // 2]
print(json.dumps(out))
"""


def random_bayesian_efg(moves: int, seed: int, types: int = 2, actions: int = 2) -> str:
    """`.efg` text of a random two-player Bayesian game; nodes = 1 + types²·(aᵐ⁺¹ − 1)/(a − 1)."""
    rng = np.random.default_rng(seed)
    lines = ['EFG 2 R "random Bayesian game" { "P1" "P2" }', '""', ""]
    prior = rng.integers(1, 5, size=types * types)
    total = int(prior.sum())
    branches = " ".join(f'"t{a}{b}" {prior[a * types + b]}/{total}'
                        for a in range(types) for b in range(types))
    lines.append(f'c "" 1 "" {{ {branches} }} 0')
    infoset_ids: list[dict] = [{}, {}]
    acts = " ".join(f'"a{k}"' for k in range(actions))
    outcome = [0]

    def rec(tp: tuple[int, int], hist: tuple[int, ...]) -> None:
        d = len(hist)
        if d == moves:
            outcome[0] += 1
            u = rng.integers(0, 1000, size=2)  # wide range: ties make limits non-isolated
            lines.append(f't "" {outcome[0]} "" {{ {u[0]}, {u[1]} }}')
            return
        pl = d % 2
        key = (tp[pl], hist)
        num = infoset_ids[pl].setdefault(key, len(infoset_ids[pl]) + 1)
        lines.append(f'p "" {pl + 1} {num} "" {{ {acts} }} 0')
        for k in range(actions):
            rec(tp, hist + (k,))

    for a in range(types):
        for b in range(types):
            rec((a, b), ())
    return "\n".join(lines) + "\n"


def _median_time(fn, reps: int, cap: float) -> float:
    ts: list[float] = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
        if sum(ts) > cap:
            break
    ts.sort()
    return ts[len(ts) // 2]


def _flat(game, gambit_profile) -> np.ndarray:
    sigma = np.zeros(game.n_actions_total)
    for p, mb in enumerate(gambit_profile):
        infs = np.flatnonzero(game.infoset_player == p)
        for i, (_, ma) in zip(infs, mb):
            a = game.action_offset[i]
            sigma[a : a + game.infoset_n_actions[i]] = [float(x) for _, x in ma]
    return sigma


def _gambit_regret(gbt, game, G, sigma) -> float:
    data = [
        [list(sigma[game.action_offset[i] : game.action_offset[i] + game.infoset_n_actions[i]])
         for i in np.flatnonzero(game.infoset_player == p)]
        for p in range(game.n_players)
    ]
    return float(G.mixed_behavior_profile(data=data).max_regret())


def _row(path: Path, reps: int, cap: float, gbt, run_gambit: bool) -> dict:
    game = read_efg(path)
    solve_logit(game)  # warm-up: compiled kernels load from numba's cache once per process
    ours = _median_time(lambda: solve_logit(game, max_regret=TOL, regret="nash"), reps, cap)
    res = solve_logit(game, max_regret=TOL, regret="nash")
    row = {"game": path.stem, "nodes": game.n_nodes, "ours": ours, "ok": res.success,
           "gambit": None, "agree": None, "g_ok": None}
    if gbt is None:
        return row
    G = gbt.read_efg(str(path))
    rng = float(G.max_payoff - G.min_payoff) or 1.0
    row["regret"] = _gambit_regret(gbt, game, G, res.profile) / rng
    if not run_gambit:
        return row
    events: list = []
    ref = gbt.nash.logit_solve(G, maxregret=TOL, event_callback=events.append)
    row["gambit"] = _median_time(lambda: gbt.nash.logit_solve(G, maxregret=TOL), reps, cap)
    row["g_ok"] = bool(ref.success)
    path_events = [e for e in events if type(e).__name__ == "LogitPathEvent"]
    if ref.success and path_events and not ref.bifurcations:
        q = path_events[-1].qre
        row["agree"] = float(np.abs(logit_qre_at(game, float(q.lam)).profile - _flat(game, q.profile)).max())
    return row


def _fmt(x, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def _print_table(rows: list[dict], g16: dict[str, float | None] | None, cap: float) -> None:
    head = f"{'game':<14}{'nodes':>8}{'ours ms':>10}{'gbt17 ms':>10}{'×17':>8}"
    if g16 is not None:
        head += f"{'gbt16.7 ms':>12}{'×16.7':>9}"
    head += f"{'ok':>4}{'g17 ok':>7}{'regret':>10}{'agree':>10}"
    print(head)
    ratios17, ratios16 = [], []
    for r in rows:
        ms = r["ours"] * 1e3
        g = r["gambit"]
        ratio = g / r["ours"] if g is not None else None
        if ratio is not None:
            ratios17.append(ratio)
        line = f"{r['game']:<14}{r['nodes']:>8}{ms:>10.1f}{_fmt(g and g * 1e3, '.1f'):>10}{_fmt(ratio, '.1f'):>8}"
        if g16 is not None:
            t16 = g16.get(r["path"])
            r16 = t16 / r["ours"] if t16 is not None else None
            if r16 is not None:
                ratios16.append(r16)
            if t16 is None:  # killed after 2 × cap: the ratio is at least this
                lo = 2 * cap / r["ours"]
                ratios16.append(lo)
                line += f"{'>' + format(2 * cap * 1e3, '.0f'):>12}{'>' + format(lo, '.0f'):>9}"
            else:
                line += f"{t16 * 1e3:>12.0f}{r16:>9.0f}"
        line += f"{'y' if r['ok'] else 'n':>4}{_fmt(r['g_ok'] if r['g_ok'] is None else ('y' if r['g_ok'] else 'n'), 's'):>7}"
        line += f"{_fmt(r.get('regret'), '.1e'):>10}{_fmt(r['agree'], '.1e'):>10}"
        print(line)
    if ratios17:
        print(f"median ratio vs pygambit 17: {np.median(ratios17):.1f}×")
    if ratios16:
        print(f"median ratio vs pygambit 16.7: {np.median(ratios16):.0f}× (runs killed count at their cap)")


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks logit", description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="2 repeats, scaling up to ~10⁴ nodes")
    ap.add_argument("--gambit16", metavar="PYTHON", help="python of a venv with pygambit 16.7")
    ap.add_argument("--gambit-cap", type=float, default=20.0, help="seconds per Gambit measurement")
    args = ap.parse_args(argv)
    reps = 2 if args.quick else args.repeats
    try:
        import pygambit as gbt
    except ImportError:  # the bench extra is not installed: our side only
        gbt = None
    tmp = Path(tempfile.mkdtemp(prefix="crisislab-bench-logit-"))
    files = sorted(CONTRIB.glob("*.efg"))
    for m, seed in [(4, 1), (4, 2), (4, 3), (5, 4), (5, 5)]:
        p = tmp / f"bayes_m{m}_s{seed}.efg"
        p.write_text(random_bayesian_efg(m, seed))
        files.append(p)
    g16 = None
    if args.gambit16:
        # one child per file, killed after 2 × cap: pygambit 16.7 takes minutes on some games
        g16 = {}
        for f in files:
            try:
                out = subprocess.run(
                    [args.gambit16, "-c", _GAMBIT16_SCRIPT, str(min(reps, 3)), str(args.gambit_cap), str(f)],
                    capture_output=True, text=True, check=True, timeout=2 * args.gambit_cap,
                )
                g16.update(json.loads(out.stdout))
            except subprocess.TimeoutExpired:
                g16[str(f)] = None
    print(f"logit tracer, max regret ≤ {TOL:g} × payoff range; medians of ≤ {reps} runs "
          f"(capped at {args.gambit_cap:g} s per measurement)")
    rows = []
    for p in files:
        row = _row(p, reps, args.gambit_cap, gbt, True)
        row["path"] = str(p)
        rows.append(row)
    _print_table(rows, g16, args.gambit_cap)

    print("\ncost vs size: Jacobian + factorisation (once per step), chord iteration (residual + "
          "solve), full trace; Gambit 17 in a subprocess killed after --gambit-cap s")
    print(f"{'moves':>6}{'nodes':>9}{'N':>8}{'solver':>10}{'factor ms':>11}{'chord ms':>10}"
          f"{'trace s':>10}{'steps':>7}{'gbt17 s':>10}")
    sizes = [5, 7, 9, 11] if args.quick else [5, 7, 9, 11, 13]
    from crisislab.efg._logit import _LogitSystem

    gambit_alive = gbt is not None
    for m in sizes:
        p = tmp / f"scale_m{m}.efg"
        p.write_text(random_bayesian_efg(m, 100 + m))
        game = read_efg(p)
        sysm = _LogitSystem(game)
        y = sysm.start()
        y[-1] = 1.0
        t_dir = np.ones(sysm.N + 1) / np.sqrt(sysm.N + 1)
        from crisislab.efg import _logit_kernels as K

        if sysm.linear_solver == "sparse":
            def factor():
                return sysm.factor(sysm.evaluate(y)[1], t_dir)

            solve = factor()

            def chord():
                solve(np.append(-sysm.evaluate(y, False)[0], 0.0))
        else:
            def factor():
                return K.dense_factor(sysm.evaluate(y)[1], sysm.S[21], t_dir, sysm.n_act,
                                      sysm.action_offset, sysm.inf_n_act)[0]

            F = factor()

            def chord():
                K.dense_solve(F, np.append(-sysm.evaluate(y, False)[0], 0.0), sysm.n_act,
                              sysm.action_offset, sysm.inf_n_act)

        t_fact = _median_time(factor, 3, args.gambit_cap)
        t_chord = _median_time(chord, 5, args.gambit_cap)
        trace = steps = None
        g_cell = "—"
        if game.n_nodes <= (300 if args.quick else 1100):
            # larger random games: full traces take minutes (hundreds of folds), cut
            t = time.perf_counter()
            res = solve_logit(game, max_regret=TOL, regret="nash")
            trace, steps = time.perf_counter() - t, res.diagnostics.n_steps
            if gambit_alive:
                gt = _gambit_subprocess(sys.executable, p, args.gambit_cap)
                gambit_alive = gt is not None
                g_cell = f"{gt:.3f}" if gt is not None else f">{args.gambit_cap:g}"
        print(f"{m:>6}{game.n_nodes:>9}{sysm.N:>8}{sysm.linear_solver:>10}{t_fact * 1e3:>11.2f}"
              f"{t_chord * 1e3:>10.3f}{_fmt(trace, '.3f'):>10}{_fmt(steps, 'd'):>7}{g_cell:>10}",
              flush=True)


def _gambit_subprocess(python: str, path: Path, cap: float) -> float | None:
    """Time one pygambit `logit_solve` on `path` in a child process; None if it exceeds `cap` s."""
    code = ("import sys, time, pygambit as g; G = g.read_efg(sys.argv[1]); t = time.perf_counter(); "
            "g.nash.logit_solve(G, maxregret=1e-8); print(time.perf_counter() - t)")
    try:
        out = subprocess.run([python, "-c", code, str(path)], capture_output=True, text=True,
                             check=True, timeout=cap)
    except subprocess.TimeoutExpired:
        return None
    return float(out.stdout.strip())


if __name__ == "__main__":
    main(sys.argv[1:])
