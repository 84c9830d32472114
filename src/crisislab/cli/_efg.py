"""`crisislab efg ...` commands: solve a Gambit `.efg` file, describe one, draw one (`_draw`).

The JSON printed by `efg solve --json` is a contract read by tools outside the project:
`{"method", "profile": {"<player number>": {"<infoset number>": [prob per action, in file order]}},
"max_regret", "agent_max_regret", "payoffs", "seconds", "load_seconds"}`, with player and infoset
numbers as written in the file. `max_regret` is the Nash max regret and `agent_max_regret` the agent
max regret of the profile, both as Gambit 17 computes them (`MixedBehaviorProfile.max_regret()` and
`.agent_max_regret()`, payoff units). `seconds` is the solve time alone; `load_seconds` the one-time
cost before it (reading the file, loading the compiled kernels), not counted in `seconds`.
Logit adds `"lambda"`, `"converged"`, `"stop_rule"` ("agent" or "nash"), `"tolerance"` (relative to
the payoff range), `"bifurcations"` (λ of each bifurcation point passed) and `"message"`.
"""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from crisislab._json import dumps as json_dumps
from crisislab.cli._draw import efg_draw_cmd
from crisislab.errors import SolverError


class Method(str, Enum):
    logit = "logit"
    spe = "spe"
    cfr = "cfr"


class StopRule(str, Enum):
    agent = "agent"
    nash = "nash"


def _solve(game, method: Method, iterations: int, tol: float, regret: str = "agent") -> dict:
    from crisislab.efg import agent_max_regret, profile_to_nested
    from crisislab.efg import solve_cfr, solve_spe

    extra: dict = {}
    if method is Method.spe:
        sol = solve_spe(game)
        seconds = sol.seconds
    elif method is Method.cfr:
        import warnings

        from crisislab.efg import GeneralSumWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GeneralSumWarning)
            sol = solve_cfr(game, iterations=iterations)
        for w in caught:
            Console(stderr=True, emoji=False).print(f"warning: {w.message}", markup=False, highlight=False)
        seconds = sol.seconds
    else:
        from crisislab.efg import solve_logit

        sol = solve_logit(game, max_regret=tol, regret=regret)
        seconds = sol.seconds
        if not sol.success:
            Console(stderr=True, emoji=False).print(
                f"warning: the logit trace stopped before reaching the tolerance: {sol.diagnostics.message}",
                markup=False,
                highlight=False,
            )
        extra = {
            "lambda": float(sol.lam), "converged": bool(sol.success), "stop_rule": regret,
            "tolerance": tol, "bifurcations": [float(b) for b in sol.diagnostics.bifurcations],
            "message": sol.diagnostics.message,
        }
    out = {
        "method": method.value,
        "profile": {
            str(p): {str(i): probs for i, probs in block.items()}
            for p, block in profile_to_nested(game, sol.profile).items()
        },
        "max_regret": float(sol.max_regret),
        "agent_max_regret": float(sol.agent_max_regret) if method is Method.logit
        else agent_max_regret(game, sol.profile),
        "payoffs": [float(x) for x in sol.payoffs],
        "seconds": float(seconds),
    }
    out.update(extra)
    return out


def _about(game_file: Path, err: SolverError) -> SolverError:
    """A solver's refusal of the game, naming the file it came from."""
    return SolverError(f"{game_file}: {err}")


def register(app: typer.Typer) -> None:
    """Add the `efg` sub-command group to the main app."""
    efg = typer.Typer(help="Extensive-form games in Gambit's .efg format: describe, solve, estimate λ from play, draw.",
                      no_args_is_help=True)

    @efg.command("solve")
    def solve_cmd(
        game_file: Path = typer.Argument(..., help="A Gambit .efg file."),
        method: Method = typer.Option(Method.logit, "--method", help="Solver: logit, spe or cfr."),
        json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
        iterations: int = typer.Option(1000, "--iterations", help="CFR+ iterations (method cfr; at most 10,000,000)."),
        tol: float = typer.Option(
            1e-6, "--tol", help="Regret tolerance relative to the payoff range (method logit)."
        ),
        regret: StopRule = typer.Option(
            StopRule.agent, "--regret",
            help="Which max regret the logit tolerance applies to: agent (Gambit's agent_max_regret, one "
                 "infoset at a time conditional on reaching it, and its max_regret too) or nash (max_regret only, "
                 "Gambit's own logit stop rule).",
        ),
    ) -> None:
        """Solve GAME_FILE and print the profile, Nash and agent max regret, payoffs and solve time."""
        from crisislab.efg import read_efg, warm_up
        from crisislab.efg import MAX_CFR_ITERATIONS, cfr_iterations_message

        if iterations < 1:
            raise SolverError(f"--iterations must be a positive integer, got {iterations}")
        if iterations > MAX_CFR_ITERATIONS:
            raise SolverError(cfr_iterations_message("--iterations", iterations))
        if not tol > 0:
            raise SolverError(f"--tol must be a positive number, got {tol}")
        t0 = time.perf_counter()
        game = read_efg(game_file)
        try:
            if method is Method.logit:
                warm_up(game)  # compiled kernels load once per process: not part of the solve's time
            load = time.perf_counter() - t0
            out = _solve(game, method, iterations, tol, regret.value)
        except SolverError as err:  # the arguments were checked above: this is about the game
            raise _about(game_file, err) from None
        out["load_seconds"] = load
        if json_out:
            typer.echo(json_dumps(out))
            return
        console = Console(emoji=False)
        head = Table(title=f"{game.title or game_file.name}: method {out['method']}", show_header=False)
        head.add_row("payoffs", ", ".join(f"{p}: {x:.6g}" for p, x in zip(game.players, out["payoffs"])))
        head.add_row("max regret (Nash)", f"{out['max_regret']:.3g}")
        head.add_row("agent max regret", f"{out['agent_max_regret']:.3g}")
        if "lambda" in out:
            head.add_row("lambda", f"{out['lambda']:.6g}")
            rule = "agent and Nash" if out["stop_rule"] == "agent" else "Nash"
            head.add_row("stop rule", f"{rule} max regret ≤ {out['tolerance']:g} × payoff range: "
                         + ("reached" if out["converged"] else "NOT reached"))
            if out["bifurcations"]:
                head.add_row("bifurcations passed at lambda",
                             ", ".join(f"{b:.6g}" for b in out["bifurcations"]))
        head.add_row("seconds", f"{out['seconds']:.4f} (+ {out['load_seconds']:.3f} loading)")
        console.print(head)
        t = Table(title="behaviour profile")
        for col in ("player", "infoset", "label", "probabilities"):
            t.add_column(col)
        for i in range(game.n_infosets):
            pl, num = game.infoset_key(i)
            probs = out["profile"][str(pl)][str(num)]
            acts = game.action_labels[i]
            t.add_row(game.players[pl - 1], str(num), game.infoset_labels[i],
                      "  ".join(f"{a or k + 1}: {p:.4f}" for k, (a, p) in enumerate(zip(acts, probs))))
        console.print(t)

    @efg.command("estimate")
    def estimate_cmd(
        game_file: Path = typer.Argument(..., help="A Gambit .efg file."),
        counts: Path = typer.Option(..., "--counts", help="CSV of observed play: player, infoset, action, count."),
        json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
        max_lambda: float = typer.Option(1e6, "--max-lambda", help="Stop tracing the branch at this λ."),
    ) -> None:
        """Fit λ by maximum likelihood: the agent logit QRE that best explains the observed counts."""
        from crisislab.efg import estimate_logit, read_counts, read_efg

        if not (max_lambda > 0 and max_lambda < float("inf")):
            raise SolverError(f"--max-lambda: expected a finite number > 0 (got {max_lambda:g})")
        game = read_efg(game_file)
        data = read_counts(counts, game)
        t0 = time.perf_counter()
        try:
            fit = estimate_logit(game, data, max_lambda=max_lambda)
        except SolverError as err:
            raise _about(game_file, err) from None
        out = {
            "lambda": fit.lam, "se": fit.se, "log_like": fit.log_like, "n_obs": fit.n_obs,
            "identified": fit.identified, "message": fit.message, "seconds": time.perf_counter() - t0,
            "profile": {f"{pl}:{num}": fit.profile[int(game.action_offset[i]): int(game.action_offset[i]) + int(game.infoset_n_actions[i])].tolist()
                        for i in range(game.n_infosets) for pl, num in [game.infoset_key(i)]},
        }  # fmt: skip
        if json_out:
            typer.echo(json_dumps(out))
            return
        console = Console(emoji=False)
        head = Table(title=f"{game.title or game_file.name}: maximum-likelihood logit QRE", show_header=False)
        se = "–" if fit.se is None else f"{fit.se:.4g}"
        head.add_row("lambda", f"{fit.lam:.6g} (standard error {se})")
        head.add_row("log-likelihood", f"{fit.log_like:.6f} over {fit.n_obs:g} observations")
        head.add_row("status", fit.message)
        console.print(head)
        t = Table(title="fitted behaviour profile")
        for col in ("player", "infoset", "probabilities"):
            t.add_column(col)
        for i in range(game.n_infosets):
            pl, num = game.infoset_key(i)
            probs = out["profile"][f"{pl}:{num}"]
            acts = game.action_labels[i]
            t.add_row(game.players[pl - 1], str(num), "  ".join(f"{a or k + 1}: {p:.4f}" for k, (a, p) in enumerate(zip(acts, probs))))
        console.print(t)

    @efg.command("show")
    def show_cmd(game_file: Path = typer.Argument(..., help="A Gambit .efg file.")) -> None:
        """Describe GAME_FILE: players, infosets, nodes, depth, chance, information and payoff structure."""
        from crisislab.efg import read_efg

        g = read_efg(game_file)
        t = Table(title=g.title or game_file.name, show_header=False)
        t.add_row("players", ", ".join(f"{k + 1}: {p}" for k, p in enumerate(g.players)))
        t.add_row("infosets per player",
                  ", ".join(f"{p}: {int(n)}" for p, n in zip(g.players, g.infosets_per_player)))
        t.add_row("nodes", str(g.n_nodes))
        t.add_row("terminal nodes", str(int(g.terminals.size)))
        t.add_row("depth", str(int(g.depth.max())))
        t.add_row("chance nodes", str(g.n_chance_nodes))
        t.add_row("perfect information", "yes" if g.is_perfect_information else "no")
        t.add_row("perfect recall", "yes" if g.perfect_recall else f"no ({g.recall_violation})")
        t.add_row("zero-sum", "yes" if g.is_zero_sum else
                  ("constant-sum" if g.is_constant_sum else "no"))
        Console(emoji=False).print(t)

    efg.command("draw")(efg_draw_cmd)
    app.add_typer(efg, name="efg")
