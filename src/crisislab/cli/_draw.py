"""`crisislab draw` and `crisislab efg draw`: a game tree drawn to SVG, PDF, PNG or TikZ.

`efg draw GAME.efg -o tree.svg` draws a Gambit file; `draw SCENARIO --horizon H -o tree.pdf`
unrolls a scenario (`crisislab.unroll_efg`) and draws that tree, with each decision node's
information set named by the mover's type. The output's suffix picks the format (.svg, .pdf,
.png, .tex); `--solve logit|spe|cfr` writes that solver's profile on the branches, `--profile FILE`
the profile of `efg solve --json`; `--max-nodes` bounds the drawn elements (subtrees past it are
collapsed into boxes that count their nodes). Both only compose library calls; the output is
checked before any work and written as one unit.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from crisislab.errors import SolverError, UserError


class DrawSolver(str, Enum):
    logit = "logit"
    spe = "spe"
    cfr = "cfr"


_OUTPUT_HELP = "The file to write: .svg, .pdf, .png or .tex (TikZ), by its suffix."
_SOLVE_HELP = "Write this solver's behaviour profile on the branches: logit (the traced logit QRE), spe or cfr."
_PROFILE_HELP = "Write this profile on the branches: the JSON that `crisislab efg solve --json` prints."
_MAX_NODES_HELP = ("Draw at most this many nodes (1 to 20,000): a larger tree is drawn down to the deepest level "
                   "that fits, the subtrees below it as boxes with their node count.")


def _check_outputs(output: Path, max_nodes: int, solve: DrawSolver | None, profile: Path | None) -> None:
    """Refuse a bad request before any work: output name and place, bounds, exclusive options."""
    from crisislab._output import check_input_file, check_output
    from crisislab.efg import MAX_DRAW_NODES, drawing_format

    drawing_format(output, name="--output")
    if not 1 <= max_nodes <= MAX_DRAW_NODES:
        raise UserError(f"--max-nodes: expected an integer from 1 to {MAX_DRAW_NODES:,} (got {max_nodes})")
    if solve is not None and profile is not None:
        raise UserError("--solve and --profile: give one of them (a profile to draw, or a solver to compute it)")
    if profile is not None:
        check_input_file(profile, option="--profile")
    check_output(output, directory=False, option="--output")


def _read_profile(game, path: Path):
    """The behaviour profile in `path` (the JSON of `efg solve --json`, or its `profile` member)."""
    from crisislab.efg import profile_from_nested

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"--profile: {path}: not a UTF-8 text file (expected the JSON of `crisislab efg solve --json`)") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"--profile: {path}:{exc.lineno}: not JSON ({exc.msg}, column {exc.colno})") from None
    nested = data.get("profile", data) if isinstance(data, dict) else None
    if not isinstance(nested, dict) or not all(isinstance(b, dict) for b in nested.values()):
        raise UserError(
            f"--profile: {path}: expected an object {{\"profile\": {{player: {{infoset: [probabilities]}}}}}} "
            f"as `crisislab efg solve --json` prints (got {type(data).__name__})"
        )
    try:
        return profile_from_nested(game, nested)
    except UserError as exc:
        raise UserError(f"--profile: {path}: {exc}") from None


def _solved_profile(game, solver: DrawSolver) -> tuple[object, str]:
    """(profile, one line saying what was solved) for `game` by `solver`."""
    import warnings

    from crisislab.efg import GeneralSumWarning, solve_cfr, solve_logit, solve_spe

    if solver is DrawSolver.spe:
        sol = solve_spe(game)
        return sol.profile, f"subgame-perfect profile (max regret {sol.max_regret:.3g})"
    if solver is DrawSolver.cfr:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GeneralSumWarning)
            sol = solve_cfr(game)
        for w in caught:
            Console(stderr=True, emoji=False).print(f"warning: {w.message}", markup=False, highlight=False)
        return sol.profile, f"CFR+ profile (max regret {sol.max_regret:.3g})"
    sol = solve_logit(game)
    if not sol.success:
        Console(stderr=True, emoji=False).print(
            f"warning: the logit trace stopped before reaching the tolerance: {sol.diagnostics.message}",
            markup=False, highlight=False,
        )
    return sol.profile, f"logit QRE at λ = {float(sol.lam):.4g} (max regret {sol.max_regret:.3g})"


def _draw_and_write(game, output: Path, *, solve: DrawSolver | None, profile: Path | None, max_nodes: int,
                    infoset_labels: dict[int, str] | None = None) -> None:
    from crisislab._output import writing_files
    from crisislab.efg import draw_tree

    note = ""
    sigma = None
    if profile is not None:
        sigma = _read_profile(game, profile)
        note = f"; profile from {profile}"
    elif solve is not None:
        sigma, what = _solved_profile(game, solve)
        note = f"; {what}"
    drawing = draw_tree(game, profile=sigma, max_nodes=max_nodes, infoset_labels=infoset_labels)
    with writing_files([output]) as (staged,):
        drawing.save(staged)
    shown = f"{game.n_nodes:,} nodes"
    if drawing.n_collapsed:
        shown = (f"{len(drawing.nodes):,} of {game.n_nodes:,} nodes drawn, {drawing.n_collapsed:,} subtrees "
                 f"collapsed (--max-nodes {max_nodes:,})")
    Console(emoji=False).print(f"wrote {output}: {shown}{note}", markup=False, highlight=False, soft_wrap=True)


def efg_draw_cmd(
    game_file: Path = typer.Argument(..., help="A Gambit .efg file."),
    output: Path = typer.Option(..., "-o", "--output", help=_OUTPUT_HELP),
    solve: DrawSolver | None = typer.Option(None, "--solve", help=_SOLVE_HELP),
    profile: Path | None = typer.Option(None, "--profile", help=_PROFILE_HELP),
    max_nodes: int = typer.Option(400, "--max-nodes", help=_MAX_NODES_HELP),
) -> None:
    """Draw GAME_FILE's tree: information sets joined, chance probabilities, payoffs, a profile if asked."""
    from crisislab.efg import read_efg

    _check_outputs(output, max_nodes, solve, profile)
    game = read_efg(game_file)
    _draw_and_write(game, output, solve=solve, profile=profile, max_nodes=max_nodes)


def draw_cmd(
    scenario: Path = typer.Argument(..., help="Scenario YAML file."),
    horizon: int = typer.Option(2, "--horizon", help="Rounds to unroll (keep it short: the tree grows exponentially)."),
    output: Path = typer.Option(..., "-o", "--output", help=_OUTPUT_HELP),
    solve: DrawSolver | None = typer.Option(None, "--solve", help=_SOLVE_HELP),
    profile: Path | None = typer.Option(None, "--profile", help=_PROFILE_HELP),
    max_nodes: int = typer.Option(400, "--max-nodes", help=_MAX_NODES_HELP),
    scale_lam: bool = typer.Option(
        False, "--scale-lam", help="Multiply each actor's payoffs by λ_i / max λ (as export-efg --scale-lam)."
    ),
) -> None:
    """Draw the exact game tree of SCENARIO unrolled to a short horizon (as export-efg writes it)."""
    import crisislab

    if horizon < 1:
        raise SolverError(f"--horizon: expected an integer ≥ 1 (got {horizon})")
    _check_outputs(output, max_nodes, solve, profile)
    scn = crisislab.load_scenario(scenario)
    unrolled = crisislab.unroll_efg(scn, horizon, scale_lam=scale_lam)
    game = unrolled.game
    # under each decision node, the mover's type (the rest of the infoset is the path drawn)
    index = {label: i for i, label in enumerate(game.infoset_labels)}
    tags = {index[label]: scn.actors[m].type_ids[theta]
            for label, (_d, _s, m, theta, _acts) in unrolled.infosets.items() if label in index}
    _draw_and_write(game, output, solve=solve, profile=profile, max_nodes=max_nodes, infoset_labels=tags)


def register(app: typer.Typer) -> None:
    """Add `draw` to the crisislab app."""
    app.command("draw")(draw_cmd)
