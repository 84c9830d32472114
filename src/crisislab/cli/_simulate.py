"""`crisislab simulate`, `crisislab claims` and `crisislab run`: library calls composed for the shell.

`run` is the main job: solve, simulate, evaluate every claim (with its robustness over the
scenario's stated parameter uncertainty, on by default), replay the real timeline (when the
scenario has one) and write DIR/results.parquet, DIR/claims.csv (when the scenario states claims), DIR/robustness.parquet and a
self-contained DIR/report.html. `--workers N` runs simulation chunks and robustness draws on N local
Dask processes, `--scheduler ADDRESS` on a dask.distributed cluster; results do not depend on
either. Progress bars appear only on an interactive terminal and never under --json.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from crisislab import _progress
from crisislab._json import dumps as json_dumps
from crisislab.errors import UserError
from crisislab.model.rules import DEFAULT_CHUNK

__all__ = ["register"]

RunsOpt = Annotated[int, typer.Option("--runs", help="Number of simulated runs per arm.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed; results are a function of (scenario, seed, run index).")]
WorkersOpt = Annotated[
    int, typer.Option("--workers", help="Local Dask worker processes for chunks and robustness draws (results do not depend on it).")
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", help="Address of a running dask.distributed scheduler (tcp://host:port) to run on instead."),
]
RobustnessOpt = Annotated[
    int,
    typer.Option("--robustness", help="Parameter draws from the scenario's stated uncertainty, each re-solved (0: off)."),
]
RobustnessOfOpt = Annotated[
    str,
    typer.Option("--robustness-of", help="Which parameters the robustness draws vary: 'all' that state an uncertainty, or 'estimated' (only those estimated from a record, over their interval)."),
]
RobustnessRunsOpt = Annotated[
    int | None, typer.Option("--robustness-runs", help="Runs per arm in each draw (default: runs // 4, at least 1000).")
]
ChunkOpt = Annotated[int, typer.Option("--chunk", help="Runs per array batch (results do not depend on it).")]
PolicyOpt = Annotated[
    str,
    typer.Option("--policy", help="crisis: the crisis engine's logit QRE; myopic: one-step-lookahead logit stand-in."),
]
ReadoutOpt = Annotated[str, typer.Option(
    "--readout",
    help="How the crisis policy reads strategies between belief nodes: 'table' (interpolated node strategies, "
         "fast) or 'resolve' (each move's stage game solved at the run's beliefs from the kept values; "
         "places the steps where a strategy jumps between nodes; about 10x slower to simulate).",
)]
SelectionOpt = Annotated[str, typer.Option(
    "--selection",
    help="Stage fixed point the crisis engine keeps where there are several: continuation (default: the λ path in "
         "equal steps), trace (every node's branch traced by arc length around its folds: the principal branch "
         "itself, ~3.4x the solve time), path or fast (as `crisislab solve --selection`).",
)]
GridOpt = Annotated[str, typer.Option("--grid", help="Belief representation: 'auto' (the dense 51-point grid when it fits a work budget of ~4M stage problems, else Chebyshev nodes holding the priors with shape-preserving cubic values), N (the dense uniform N-point grid, the reference), adapt:N[:TOL] (the N-point lattice, each state solving only the nodes its strategies need to within TOL, default 0.01, the others read from their box), or cheb:N, cheb-linear:N, cheb-hermite:N, cheb-cubic:N, uniform-pchip:N.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout (no progress bar).")]
ForceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--force", metavar="ACTOR:ACTION[@R|@when:C]",
        help="Force an action: at every move where it is available, at a round (@3), or whenever a condition holds "
        "(@when:'tension >= 4 and round > 2', @when:'american_deaths is pending'; docs/scenario-format.md has the "
        "syntax). Repeatable.",
    ),
]
ForbidOpt = Annotated[
    list[str] | None, typer.Option("--forbid", metavar="ACTOR:ACTION", help="Forbid an action. Repeatable.")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", metavar="PATH=VALUE",
        help="Override a parameter by its field path, as a claim's `set` (actors.US.types.resolute.prior=0.7, actors.US.lam=3); "
        "the intervened arm is re-solved. Repeatable.",
    ),
]


def _load(path: Path) -> Any:
    from crisislab.scenario import load_scenario

    return load_scenario(path)


def _runner(
    scenario: Any, policy: str, grid: str, runs: int, seed: int, workers: int, chunk: int, progress: bool,
    scheduler: str | None = None, readout: str = "table", selection: str = "continuation",
) -> Any:  # fmt: skip
    from crisislab.analysis import ArmRunner, SolverChoice
    from crisislab.crisis import parse_grid
    from crisislab.simulation import check_scheduler

    check_scheduler(scheduler)
    # An "auto" grid is fixed by ArmRunner from the scenario as written, once for all arms and draws.
    return ArmRunner(
        scenario, SolverChoice(policy, parse_grid(grid), readout=readout, selection=selection), runs, seed, workers=workers, chunk=chunk, progress=progress, scheduler=scheduler
    )


def _check_out(path: Path | None, *, directory: bool) -> None:
    # Checked before anything is solved, so a wrong path costs no time and loses no results.
    from crisislab._output import check_output, paths_file

    if path is None:
        return
    check_output(path, directory=directory, option="--out")
    if not directory and paths_file(path).is_dir():
        raise UserError(f"--out: {paths_file(path)} (where the per-move table goes) is a directory")


def _check_scale(runs: int, workers: int, chunk: int, scheduler: str | None) -> None:
    # Checked before anything is solved: a size that cannot run costs no time.
    from crisislab._machine import check_scale

    for name, value in (("--runs", runs), ("--workers", workers), ("--chunk", chunk)):
        if value < 1:
            raise UserError(f"{name}: must be an integer >= 1 (got {value})")
    check_scale(runs, workers if scheduler is None else 1, runs_name="--runs", workers_name="--workers")


def _check_robustness(robustness: int, robustness_runs: int | None, robustness_of: str = "all") -> None:
    # Checked before anything is solved, so a typo costs no time.
    if robustness < 0:
        raise UserError(f"--robustness: must be an integer >= 0 parameter draws (0 turns robustness off; got {robustness})")
    if robustness_runs is not None and robustness_runs < 2:
        raise UserError(f"--robustness-runs: must be an integer >= 2 runs per draw (got {robustness_runs})")
    if robustness_of not in ("all", "estimated"):
        raise UserError(f"--robustness-of: expected 'all' or 'estimated' (got {robustness_of!r})")


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        runs: RunsOpt = 10_000,
        seed: SeedOpt = 0,
        workers: WorkersOpt = 1,
        chunk: ChunkOpt = DEFAULT_CHUNK,
        policy: PolicyOpt = "crisis",
        grid: GridOpt = "auto",
        readout: ReadoutOpt = "table",
        selection: SelectionOpt = "continuation",
        scheduler: SchedulerOpt = None,
        paths: Annotated[bool, typer.Option("--paths", help="Also write the per-move table (PATH-stem.paths.parquet).")] = False,
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Write the per-run table as Parquet here (with interventions: both arms, an `arm` column)."),
        ] = None,
        json_output: JsonOpt = False,
        force: ForceOpt = None,
        forbid: ForbidOpt = None,
        set_: SetOpt = None,
    ) -> None:
        """Simulate a scenario as written; print outcome probabilities. With --force/--forbid/--set,
        simulate it as written and intervened on the same runs (common random numbers) and print
        both arms and their paired differences with 95% intervals."""
        _check_scale(runs, workers, chunk, scheduler)
        _check_out(out, directory=False)
        if paths and out is None:
            raise UserError("--paths: the per-move table is written next to --out's file (OUT-stem.paths.parquet), "
                            "so it needs --out (got --paths without --out)")
        from crisislab.simulation import progress_wanted

        sc = _load(scenario)
        options = [("--force", v) for v in force or ()] + [("--forbid", v) for v in forbid or ()] + [("--set", v) for v in set_ or ()]
        if options:
            from crisislab.scenario import parse_shorthand

            interventions = parse_shorthand(sc, options)  # every problem, before anything is solved
            runner = _runner(sc, policy, grid, runs, seed, workers, chunk, progress_wanted(json_output), scheduler, readout, selection)
            with _progress.shown(progress_wanted(json_output)):  # compile, solve (each arm that needs it), chunks
                _paired_simulation(runner, interventions, paths, out, json_output)
            return
        runner = _runner(sc, policy, grid, runs, seed, workers, chunk, progress_wanted(json_output), scheduler, readout, selection)
        t0 = time.perf_counter()
        with _progress.shown(progress_wanted(json_output)):
            _ = runner.policy  # compile and solve first: their own phases
            res = runner.results([], paths=paths)
        dt = time.perf_counter() - t0
        if out is not None:
            from crisislab._output import paths_file, writing_files

            # the runs and, with --paths, the per-move table: one unit (an older table of moves goes)
            with writing_files([out, paths_file(out)]) as (runs_out, paths_out):
                res.to_parquet(runs_out, **runner.provenance)
                if res.paths is not None:
                    res.paths.to_parquet(paths_out, index=False)
        counts = res.outcome_counts()
        summary = {
            "scenario": sc.id,
            "runs": res.n_runs,
            "seed": seed,
            "run_steps": res.run_steps,
            "seconds": dt,
            "readout": readout,
            "selection": selection,
            "outcomes": {k: int(v) / res.n_runs for k, v in counts.items()},
        }
        if json_output:
            typer.echo(json_dumps(summary))
            return
        typer.echo(f"{sc.id}: {res.n_runs} runs, seed {seed}, {res.run_steps} run-steps in {dt:.2f} s"
                   + (", strategies re-solved at each belief" if readout == "resolve" else "")
                   + (f", stage fixed points selected by {selection}" if selection != "continuation" else ""))
        for k, v in summary["outcomes"].items():
            typer.echo(f"  {k:<16} {v:.4f}")
        if out is not None:
            typer.echo(f"wrote {out}")

    @app.command("claims")
    def claims_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        runs: RunsOpt = 10_000,
        seed: SeedOpt = 0,
        workers: WorkersOpt = 1,
        chunk: ChunkOpt = DEFAULT_CHUNK,
        policy: PolicyOpt = "crisis",
        grid: GridOpt = "auto",
        readout: ReadoutOpt = "table",
        selection: SelectionOpt = "continuation",
        robustness: RobustnessOpt = 8,
        robustness_runs: RobustnessRunsOpt = None,
        robustness_of: RobustnessOfOpt = "all",
        scheduler: SchedulerOpt = None,
        out: Annotated[Path | None, typer.Option("--out", help="Write the per-draw robustness rows as Parquet here.")] = None,
        json_output: JsonOpt = False,
    ) -> None:
        """Evaluate every claim of a scenario: estimates, paired difference with CI, verdict, robustness."""
        _check_robustness(robustness, robustness_runs, robustness_of)
        _check_scale(runs, workers, chunk, scheduler)
        _check_out(out, directory=False)
        from crisislab.analysis import evaluate_claims, robustness_table
        from crisislab.simulation import progress_wanted

        sc = _load(scenario)
        if not sc.claims:
            raise UserError(f"{scenario}: claims: the scenario states no claims (expected at least one)")
        runner = _runner(sc, policy, grid, runs, seed, workers, chunk, progress_wanted(json_output), scheduler, readout, selection)
        results = evaluate_claims(runner, robustness=robustness, robustness_runs=robustness_runs, uncertain=robustness_of)
        if not json_output:
            _print_diagnostics(getattr(getattr(runner.policy, "solution", None), "diagnostics", ()))
        if out is not None:
            from crisislab._output import writing_files

            with writing_files([out]) as (table_out,):
                robustness_table(results).to_parquet(table_out, index=False)
        if json_output:
            typer.echo(json_dumps([r.as_row() for r in results]))
            return
        _print_claims(results, runs, seed)
        if out is not None:
            typer.echo(f"wrote {out}")

    @app.command("grid-check")
    def grid_check_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        grids: Annotated[str, typer.Option("--grids", help="Comma-separated belief grids to compare, coarse to fine: dense N, adapt:N, cheb:N, cheb-linear:N, ... or auto; the last two are compared.")] = "3,5,9",
        runs: RunsOpt = 10_000,
        seed: SeedOpt = 0,
        workers: WorkersOpt = 1,
        chunk: ChunkOpt = DEFAULT_CHUNK,
        scheduler: SchedulerOpt = None,
        readout: ReadoutOpt = "table",
        selection: SelectionOpt = "continuation",
        json_output: JsonOpt = False,
    ) -> None:
        """Is the belief grid fine enough? Outcome shares and claim verdicts solved on each grid, same seed."""
        from crisislab.analysis import grid_check, parse_grids
        from crisislab.simulation import check_scheduler, progress_wanted

        gs = parse_grids(grids.split(","), "--grids", grids)
        _check_scale(runs, workers, chunk, scheduler)
        check_scheduler(scheduler)
        sc = _load(scenario)
        note = _stderr_note(json_output)
        out = grid_check(sc, gs, runs, seed, workers=workers, chunk=chunk, scheduler=scheduler, readout=readout, selection=selection,
                         progress=progress_wanted(json_output), on_grid=lambda g: note(f"grid {g}: solving and simulating"))
        if json_output:
            typer.echo(json_dumps(out))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{sc.id}: the crisis engine on each belief grid ({runs} runs, seed {seed}, common random numbers"
                            + (", strategies re-solved at each belief" if readout == "resolve" else "")
                            + (f", stage fixed points selected by {selection})" if selection != "continuation" else ")"))
        table.add_column("")
        for c in out["grids"]:
            table.add_column(f"grid {c['grid']}", justify="right")
        for k in out["outcomes"]:
            table.add_row(f"P({k})", *[f"{c['outcomes'].get(k, 0.0):.4f} ± {c['half_width'].get(k, 0.0):.4f}" for c in out["grids"]])
        for i, row in enumerate(out["grids"][0]["claims"]):
            table.add_row(
                row["claim"],
                *[f"{c['claims'][i]['difference']:+.4f} {c['claims'][i]['verdict']}" for c in out["grids"]],
            )
        Console(file=sys.stdout, width=160, emoji=False).print(table)
        last = out["grids"][-2:]
        if len(last) < 2:
            typer.echo(f"one grid ({last[0]['grid']}): nothing to compare it with (give --grids two or more, e.g. 3,5,9)")
            return
        for c in out["grids"]:
            typer.echo(f"grid {c['grid']}: {c['label']}" + "".join(f"\n  solver: {d}" for d in c["diagnostics"]))
        z = out["finest_shift_z"]
        typer.echo(
            f"between grids {last[0]['grid']} and {last[-1]['grid']}: outcome shares move by at most "
            f"{out['finest_shift']:.4f}"
            + (f" (largest against its paired standard error: {out['finest_outcome']}, {z:.1f} SE"
               + (", more than sampling error" if z > 3.0 else ", within sampling error") + ")" if z > 0 else " (no run changed outcome)")
            + f"; verdicts that change: {', '.join(out['finest_verdict_changes']) or 'none'}"
        )

    @app.command("run")
    def run_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        runs: RunsOpt = 10_000,
        seed: SeedOpt = 0,
        out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("out"),
        workers: WorkersOpt = 1,
        chunk: ChunkOpt = DEFAULT_CHUNK,
        policy: PolicyOpt = "crisis",
        grid: GridOpt = "auto",
        readout: ReadoutOpt = "table",
        selection: SelectionOpt = "continuation",
        robustness: RobustnessOpt = 8,
        robustness_runs: RobustnessRunsOpt = None,
        robustness_of: RobustnessOfOpt = "all",
        scheduler: SchedulerOpt = None,
        timeline: Annotated[Path | None, typer.Option("--timeline", help="Observed record CSV (docs/replay.md; default: the record bundled with the scenario, if any).")] = None,
        rank_records: Annotated[int, typer.Option("--rank-records", help="Simulated records of the same length ranked against the observed record (0: none).")] = 100,
        formats: Annotated[str, typer.Option("--format", help="Report formats, comma-separated: html (always), md and tex (claims and outcome tables), svg and pdf (every figure).")] = "html",
        json_output: JsonOpt = False,
    ) -> None:
        """Solve, simulate, evaluate claims (with robustness), replay the timeline; write
        results.parquet, claims.csv (if there are claims), robustness.parquet and report.html (and, with --format, the
        tables as Markdown/LaTeX and the figures as SVG/PDF)."""
        from crisislab.report import parse_formats

        fmts = parse_formats(formats)
        _check_robustness(robustness, robustness_runs, robustness_of)
        _check_scale(runs, workers, chunk, scheduler)
        _check_out(out, directory=True)
        if timeline is not None:
            from crisislab._output import check_input_file

            check_input_file(timeline, option="--timeline")
        if rank_records < 0:
            raise UserError(f"--rank-records: must be an integer >= 0 (got {rank_records})")

        from crisislab.analysis import run_study
        from crisislab.crisis import parse_grid
        from crisislab.report import write_report
        from crisislab.simulation import check_scheduler, progress_wanted

        check_scheduler(scheduler)
        grid_arg = parse_grid(grid)
        sc = _load(scenario)
        study = run_study(
            sc, runs=runs, seed=seed, policy=policy, grid=grid_arg, robustness=robustness, robustness_runs=robustness_runs,
            record=timeline, rank_records=rank_records, workers=workers, chunk=chunk, scheduler=scheduler, progress=progress_wanted(json_output),
            uncertain=robustness_of, readout=readout, selection=selection,
        )  # fmt: skip
        path = write_report(study, out, fmts)
        summary = {
            **study.summary(),
            "report": str(path),
            "results": str(Path(out) / "results.parquet"),
            "robustness_table": str(Path(out) / "robustness.parquet"),
            "claims_table": str(Path(out) / "claims.csv") if study.claims else None,
        }
        replay, claims, dt = study.replay, study.claims, study.seconds
        written = [f"{n}" for n in sorted(p.name for p in Path(out).iterdir()) if n in _exports(fmts)]
        if written:
            summary["exports"] = [str(Path(out) / n) for n in written]
        if json_output:
            typer.echo(json_dumps(summary))
            return
        typer.echo(f"{sc.id}: {runs} runs, seed {seed}, policy: {study.solver} ({dt:.1f} s)")
        for k, v in summary["outcomes"].items():
            typer.echo(f"  P({k}) = {v:.4f}")
        if claims:
            _print_claims(claims, runs, seed)
        if replay is not None:
            rank = ("not ranked (no simulated records)" if replay.percentile != replay.percentile else
                    f"more probable than {replay.percentile:.1%} of {replay.n_simulated} simulated records of the same "
                    f"{replay.rounds} rounds")
            typer.echo(f"observed record: log-likelihood {replay.loglik:.2f}; the model ends the crisis before the record ends "
                       f"with probability {replay.p_ended_early:.1%}; {rank}"
                       + (f"; {replay.impossible}" if replay.impossible else ""))
        _print_diagnostics(study.diagnostics)
        typer.echo(f"report: {path}" + (f" (and {', '.join(written)})" if written else ""))


def _paired_simulation(runner: Any, interventions: list[Any], paths: bool, out: Path | None, json_output: bool) -> None:
    """`simulate` with interventions: both arms on the same runs and each outcome's paired difference."""
    from crisislab.analysis import ARMS, compare_arms

    t0 = time.perf_counter()
    cmp = compare_arms(runner, interventions, paths=paths)
    dt = time.perf_counter() - t0
    if out is not None:
        cmp.to_parquet(out)  # both arms and the per-move table, as one unit
    summary = {**cmp.summary(), "seconds": dt}
    if json_output:
        typer.echo(json_dumps(summary))
        return
    base, arm = cmp.baseline, cmp.intervened
    typer.echo(
        f"{cmp.scenario_id}: {base.n_runs} runs per arm, seed {cmp.seed}, common random numbers; "
        f"{base.run_steps + arm.run_steps} run-steps in {dt:.2f} s"
    )
    typer.echo(f"  baseline:   {summary['arms']['baseline']['interventions']}")
    typer.echo(f"  intervened: {summary['arms']['intervened']['interventions']}")
    d = cmp.differences
    width = max(16, *(len(k) for k in d["outcome"]))
    typer.echo(f"  {'outcome':<{width}} {'baseline':>9} {'intervened':>11}   intervened − baseline [95% CI]")
    for r in d.itertuples(index=False):
        typer.echo(
            f"  {r.outcome:<{width}} {summary['arms']['baseline']['outcomes'][r.outcome]:>9.4f} "
            f"{summary['arms']['intervened']['outcomes'][r.outcome]:>11.4f}"
            f"   {r.difference:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}]"
        )
    if out is not None:
        typer.echo(f"wrote {out} (both arms; column `arm`: {', '.join(ARMS)})")


def _exports(formats: tuple[str, ...]) -> set[str]:
    """The file names the report's exports in `formats` may have."""
    from crisislab.report import REPORT_FILES

    return {n for n in REPORT_FILES if n.rsplit(".", 1)[-1] in set(formats) - {"html"}}


def _print_diagnostics(diagnostics: Any) -> None:
    """The solver's diagnostics for the scenario as written, one line each on stderr."""
    from crisislab.cli import err_console

    for msg in diagnostics or ():
        err_console.print(f"diagnostic: {msg}", markup=False, highlight=False, soft_wrap=True)


def _stderr_note(json_output: bool) -> Any:
    """A function printing a progress note on stderr (silent under --json or off a terminal)."""
    from crisislab.simulation import progress_wanted

    if not progress_wanted(json_output):
        return lambda _msg: None
    from rich.console import Console

    console = Console(stderr=True, emoji=False)
    return lambda msg: console.print(f"[dim]{msg} …[/dim]", highlight=False)


def _print_claims(results: Any, runs: int, seed: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Claims ({runs} runs per arm, seed {seed}, common random numbers)", show_lines=True)
    for col in ("claim", "seed file / quote", "metric", "treatment", "baseline", "diff [95% CI]", "verdict", "robustness"):
        table.add_column(col)
    for r in results:
        e = r.estimate
        quote = (r.seed_file or "") + (f'\n"{r.quote}"' if r.quote else "")
        table.add_row(
            r.id,
            quote,
            r.metric + f" ({r.expect})",
            f"{r.treatment}\n{e.treatment:.4f}",
            f"{r.baseline}\n{e.baseline:.4f}",
            f"{e.diff:+.4f}\n[{e.ci_low:+.4f}, {e.ci_high:+.4f}]",
            r.verdict + (f"\n(degenerate: {r.degenerate}"
                         + ("; settled by how the claim is written" if r.verdict == "cannot fail" else "") + ")"
                         if r.degenerate else ""),
            _robust_cell(r),
        )
    Console(file=sys.stdout, width=160, emoji=False).print(table)
    for r in results:
        if r.robustness is not None:
            typer.echo(f"{r.id}: most influential parameter: {_influential_text(r)}")


def _robust_cell(r: Any) -> str:
    """Share of draws where the claim holds [Wilson 95%], where it fails, where it cannot fail (when
    any), and how many draws."""
    if r.robustness is None:
        return "–"
    cannot = f"\ncannot fail {r.robustness_cannot_fail:.0%}" if r.robustness_cannot_fail else ""
    return (f"holds {r.robustness:.0%}\n[{r.robustness_low:.0%}, {r.robustness_high:.0%}]\nfails {r.robustness_fails:.0%}"
            f"{cannot}\nof {r.robustness_draws}")


def _influential_text(r: Any) -> str:
    if r.influential is None:
        if (r.robustness_draws or 0) < 3:
            return f"not computed: a rank correlation needs at least 3 draws (got {r.robustness_draws}; raise --robustness)"
        return "none (the difference or every parameter is constant across draws)"
    return f"{r.influential} (Spearman ρ = {r.influential_rho:+.2f} with the difference over {r.robustness_draws} draws)"
