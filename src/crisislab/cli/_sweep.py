"""`crisislab sweep`: global sensitivity and scenario discovery over a scenario's parameters.

Composes `crisislab.analysis.sweep` (draws, indices, boxes, checkpoints in --out) and
`crisislab.report.sweep_page` (DIR/sweep-report.html). Everything the user asked is checked before
any draw is solved; a sweep cut short (Ctrl-C, a kill, a lost machine) resumes when the same command
is run again, and finished draws are never recomputed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crisislab.errors import UserError
from crisislab.model.rules import DEFAULT_CHUNK

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        out: Annotated[Path, typer.Option("--out", help="Directory for the checkpoints and the outputs (sweep.parquet, "
                                          "indices.parquet, boxes.parquet, sweep-report.html); the same command resumes there.")],  # fmt: skip
        design: Annotated[str, typer.Option("--design", help="sobol (first and total indices), morris (screening: μ*, σ) "
                                            "or lhs (Latin hypercube, RBD-FAST first-order indices).")] = "morris",  # fmt: skip
        n: Annotated[int, typer.Option("--n", help="sobol: base samples (a power of two; n·(D+2) draws); morris: "
                                       "trajectories (n·(D+1) draws); lhs: draws. D: the number of parameters.")] = 10,  # fmt: skip
        free: Annotated[list[str] | None, typer.Option("--free", metavar="PATH[=LO:HI]", help="Sweep this parameter: over "
                        "its stated uncertainty, or uniformly over LO:HI. Repeatable; default: every parameter with a "
                        "stated uncertainty.")] = None,  # fmt: skip
        order: Annotated[list[str] | None, typer.Option("--order", metavar="'LOW<HIGH'", help="Keep swept parameter LOW "
                         "at or below swept parameter HIGH in every draw. Repeatable.")] = None,  # fmt: skip
        runs: Annotated[int, typer.Option("--runs", help="Simulated runs per arm in each draw.")] = 2000,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the design, its bootstrap and every simulation.")] = 0,
        workers: Annotated[int | None, typer.Option("--workers", help="Local Dask worker processes (default: one per "
                           "core); results do not depend on it.")] = None,  # fmt: skip
        scheduler: Annotated[str | None, typer.Option("--scheduler", help="Address of a running dask.distributed "
                             "scheduler (tcp://host:port) to run the draws on instead.")] = None,  # fmt: skip
        policy: Annotated[str, typer.Option("--policy", help="crisis: the crisis engine's logit QRE; myopic: "
                          "one-step-lookahead stand-in.")] = "crisis",  # fmt: skip
        grid: Annotated[str, typer.Option("--grid", help="Belief-grid points, or 'auto' (fixed once from the scenario as "
                        "written, for every draw).")] = "auto",  # fmt: skip
        chunk: Annotated[int, typer.Option("--chunk", help="Runs per array batch (results do not depend on it).")] = DEFAULT_CHUNK,
    ) -> None:
        """Sweep a scenario's uncertain parameters with a SALib design: re-solve and simulate every draw
        (common random numbers), then sensitivity indices for every outcome share and claim difference
        and PRIM boxes where each claim holds and fails."""
        from crisislab._machine import check_scale
        from crisislab.analysis import sweep
        from crisislab.crisis import parse_grid
        from crisislab.report import sweep_page
        from crisislab.scenario import load_scenario
        from crisislab.simulation import progress_wanted

        for name, value in (("--chunk", chunk),):
            if value < 1:
                raise UserError(f"{name}: must be an integer >= 1 (got {value})")
        if workers is not None and workers < 1:
            raise UserError(f"--workers: must be an integer >= 1 (got {workers})")
        check_scale(runs, (workers or 1) if scheduler is None else 1, runs_name="--runs", workers_name="--workers")
        parse_grid(grid)
        sc = load_scenario(scenario)
        result = sweep(
            sc, design, n, free=free, order=order or (), runs=runs, seed=seed, policy=policy, grid=grid,
            workers=workers, scheduler=scheduler, chunk=chunk, out=out, progress=progress_wanted(), report=sweep_page,
        )  # fmt: skip
        t = result.timings.drop(columns=["draw"]).sum()
        typer.echo(f"{sc.id}: {result.design} design, {len(result.draws)} draws ({result.done} done, {result.failed} failed), "
                   f"{len(result.space.factors)} parameters, {runs} runs per arm, seed {seed}")  # fmt: skip
        for note in result.notes:
            typer.echo(f"  note: {note}")
        if t.get("total", 0.0) > 0:
            typer.echo(f"  time in the draws run now: compile {t['compile']:.1f} s, solve {t['solve']:.1f} s, "
                       f"simulate {t['simulate']:.1f} s (of {t['total']:.1f} s of work)")  # fmt: skip
        top = result.indices.dropna(subset=["value"])
        main = {"sobol": "ST", "morris": "mu_star", "lhs": "S1"}[result.design]
        top = top[top["index"] == main]
        for output, rows in top.groupby("output", sort=False):
            best = rows.loc[rows["value"].idxmax()]
            typer.echo(f"  {output}: most influential {best['parameter']} ({main} {best['value']:.3g})")
        for row in result.boxes.drop_duplicates(["claim", "target"]).itertuples():
            typer.echo(f"  {row.claim}: {row.description}")
        typer.echo(f"wrote {out}/sweep.parquet, indices.parquet, boxes.parquet, sweep-report.html")
