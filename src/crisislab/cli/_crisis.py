"""`crisislab solve` and `crisislab export-efg`: the crisis engine from the command line.

`solve` compiles and solves a scenario (every perceived game), prints per actor and type the
round-1 strategy it plays in its own perceived game and its expected value there, and with
`--out DIR` saves the `Solution` (`solution.npz` + `solution.json`) for the simulator; without
`--out` it writes nothing. Compile and solve show progress (per decision) on a terminal. `export-efg` unrolls the
scenario truncated to a short horizon into Gambit's `.efg` format. Both only compose library calls.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

DEFAULT_MAX_GIB = 8.0


def check_max_gib(max_gib: float | None) -> float:
    """`--max-gib` as given (a finite number of GiB > 0, at most the machine's memory), or the
    default: 8 GiB, or the machine's memory where that is less."""
    import math

    from crisislab._machine import memory_bytes
    from crisislab.errors import SolverError

    machine = memory_bytes()
    machine_gib = None if machine is None else machine / 2**30
    if max_gib is None:
        return DEFAULT_MAX_GIB if machine_gib is None else min(DEFAULT_MAX_GIB, machine_gib)
    if not (math.isfinite(max_gib) and max_gib > 0):
        raise SolverError(f"--max-gib: expected a number of GiB > 0 and at most the machine's memory (got {max_gib:g})")
    if machine_gib is not None and max_gib > machine_gib:
        raise SolverError(
            f"--max-gib: {max_gib:g} GiB is more than this machine's memory ({machine_gib:.1f} GiB), so a solve "
            f"the limit lets through could still run out of memory (expected at most {machine_gib:.1f})"
        )
    return float(max_gib)


def solve_cmd(
    scenario: Path = typer.Argument(..., help="Scenario YAML file."),
    grid: str = typer.Option("auto", "--grid", help="Belief representation: 'auto' (the dense 51-point grid when it fits a work budget of ~4M stage problems, else Chebyshev nodes holding the priors with shape-preserving cubic values), N (the dense uniform N-point grid, the reference), adapt:N[:TOL] (the N-point lattice, each state solving only the nodes its strategies need to within TOL, default 0.01, the others read from their box), or cheb:N, cheb-linear:N, cheb-hermite:N, cheb-cubic:N, uniform-pchip:N."),
    horizon: int | None = typer.Option(None, "--horizon", help="Solve this many rounds: fewer truncates the scenario, more extends it (a calendar then repeats its last round's length; default: the scenario's)."),
    lam_steps: int = typer.Option(8, "--lam-steps", help="λ-continuation steps per node."),
    out: Path | None = typer.Option(None, "--out", help="Save the solution in this directory (solution.npz, solution.json); without it nothing is written."),
    max_gib: float | None = typer.Option(None, "--max-gib", show_default="8, or the machine's memory if less", help="Refuse, before solving, a grid whose estimated memory (every perceived game's policy tables and the working arrays) exceeds this many GiB (default: 8, or the machine's memory if less; at most the machine's memory)."),
    selection: str = typer.Option("continuation", "--selection", help="Stage fixed point kept where there are several: continuation (the λ path from λ = 0 in equal steps, skipped where the point is provably unique), path (continuation at every node), trace (every node's branch traced by arc length around its folds: the principal branch itself, ~3.4x slower) or fast (quicker, may keep another)."),
    threads: int | None = typer.Option(None, "--threads", help="Threads for the states of a decision (default: every core; same result for any number)."),
) -> None:
    """Solve a scenario's perceived games (agent logit QRE on a belief grid) and save the solution."""
    from crisislab._output import check_output
    from crisislab.crisis import parse_grid
    from crisislab.scenario import load_scenario

    grid_arg = parse_grid(grid)
    max_gib = check_max_gib(max_gib)
    scn = load_scenario(scenario)
    if out is not None:
        check_output(out, directory=True, option="--out")  # before solving: a wrong path loses nothing
    from crisislab import _progress
    from crisislab.simulation import progress_wanted

    with _progress.shown(progress_wanted()):
        sol, cg, t0, t1, t2 = _compile_and_solve(scn, horizon, grid_arg, max_gib, lam_steps, threads, selection)
    console = Console(emoji=False)
    model = cg.model
    console.print(
        f"[bold]{model.scenario_id}[/bold]: {model.horizon} round{'s' if model.horizon != 1 else ''}"
        f"{f' (the scenario has {scn.horizon}: extended)' if model.horizon > scn.horizon else ''}, {int(cg.node_counts().sum()):,} (decision, state) pairs, "
        f"{sol.belief_grid.label()}{' (auto)' if grid_arg == 'auto' else ''}, {len(sol.sigma)} perceived game(s); compiled in {t1 - t0:.2f} s, solved in {t2 - t1:.2f} s"
        + (f"; {sol.params['stage_problems']:,} of the lattice's {sol.params['lattice_problems']:,} stage problems solved"
           if sol.belief_grid.kind == "adaptive" else "")
    )
    _print_first_round(console, cg, sol)
    for msg in sol.diagnostics:
        Console(stderr=True, emoji=False).print(f"diagnostic: {msg}", markup=False, highlight=False)
    if out is not None:
        sol.save(out)
        console.print(f"solution saved to {out}/ (solution.npz, solution.json)")


def _compile_and_solve(scn, horizon, grid_arg, max_gib, lam_steps, threads, selection):  # type: ignore[no-untyped-def]
    from crisislab.crisis import AUTO_NODES, compile_scenario, solve, solve_estimate

    t0 = time.perf_counter()
    cg = compile_scenario(scn, horizon)
    if grid_arg != "auto":
        gib, problems = solve_estimate(cg, grid_arg)
        if problems > AUTO_NODES and gib <= max_gib:
            # Say what a long solve will cost before starting it (`solve` refuses beyond --max-gib).
            Console(stderr=True, emoji=False).print(
                f"estimate: {'at most ' if str(grid_arg).startswith('adapt') else ''}{problems:,} stage problems at grid {grid_arg} (roughly {problems * 4e-6 / 60:.0f}–"
                f"{problems * 7e-6 / 60:.0f} min of CPU at 4–7 µs each, shared by the threads) and about {gib:.2f} GiB "
                f"of memory (limit --max-gib {max_gib:g})", markup=False, highlight=False, soft_wrap=True)
    t1 = time.perf_counter()
    sol = solve(cg, grid=grid_arg, lam_steps=lam_steps, max_gib=max_gib, threads=threads, selection=selection)
    t2 = time.perf_counter()
    return sol, cg, t0, t1, t2


def _print_first_round(console, cg, sol):  # type: ignore[no-untyped-def]
    model = cg.model
    for h, actor in enumerate(model.actors):
        first = sol.first_round(h)
        ladder = [model.actions[x].id for x in model.ladder(h)]
        types = model.types[h]
        # Actions as rows: ladders run to ~10 rungs, which do not fit a terminal as columns.
        table = Table(title=f"{actor} in its own perceived game: round-1 strategy and expected value")
        table.add_column("action")
        for tid in types:
            table.add_column(tid, justify="right")
        for j, a in enumerate(ladder):
            table.add_row(a, *[f"{first[h, th, j]:.3f}" for th in range(len(types))])
        table.add_row("expected value", *[f"{sol.values0[h, h, th]:.3f}" for th in range(len(types))], style="bold")
        console.print(table)


def export_efg_cmd(
    scenario: Path = typer.Argument(..., help="Scenario YAML file."),
    horizon: int = typer.Option(..., "--horizon", help="Rounds to unroll (keep it short: the tree grows exponentially)."),
    output: Path = typer.Option(..., "-o", "--output", help="The .efg file to write."),
    scale_lam: bool = typer.Option(
        False, "--scale-lam", help="Multiply each actor's payoffs by λ_i / max λ (then solve the tree at max λ)."
    ),
) -> None:
    """Unroll a scenario truncated to a short horizon into an exact extensive-form game (.efg)."""
    from crisislab._output import check_output, writing_files
    from crisislab.errors import SolverError

    if horizon < 1:
        raise SolverError(f"--horizon: expected an integer ≥ 1 (got {horizon})")
    check_output(output, directory=False, option="--output")  # before unrolling
    from crisislab.crisis import unroll_scenario
    from crisislab.efg import write_efg
    from crisislab.scenario import load_scenario

    scn = load_scenario(scenario)
    u = unroll_scenario(scn, horizon, scale_lam=scale_lam)
    with writing_files([output]) as (staged,):
        write_efg(u.game, staged)
    lam = {a.id: float(a.lam.value) for a in scn.actors}
    Console(emoji=False).print(
        f"wrote {output}: {u.game.parent.shape[0]:,} nodes, {len(u.infosets):,} information sets, "
        f"horizon {min(horizon, scn.horizon)}; λ per actor {lam}"
    )


def register(app: typer.Typer) -> None:
    """Add `solve` and `export-efg` to the crisislab app."""
    app.command("solve")(solve_cmd)
    app.command("export-efg")(export_efg_cmd)
