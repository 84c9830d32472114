"""`crisislab simulate`, `crisislab claims` and `crisislab run`: library calls composed for the shell.

`run` is the main job: solve, simulate, evaluate every claim (with its robustness over the
scenario's stated parameter uncertainty, on by default), replay the real timeline (when the
scenario has one) and write DIR/results.parquet, DIR/claims.csv, DIR/robustness.parquet and a
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

from crisislab._json import dumps as json_dumps
from crisislab.errors import UserError

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
RobustnessRunsOpt = Annotated[
    int | None, typer.Option("--robustness-runs", help="Runs per arm in each draw (default: runs // 4, at least 1000).")
]
ChunkOpt = Annotated[int, typer.Option("--chunk", help="Runs per array batch (results do not depend on it).")]
PolicyOpt = Annotated[
    str,
    typer.Option("--policy", help="crisis: the crisis engine's logit QRE; myopic: one-step-lookahead logit stand-in."),
]
GridOpt = Annotated[str, typer.Option("--grid", help="Belief-grid points for the crisis engine, or 'auto': the finest grid within a work budget.")]
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


def _timeline_for(scenario: Any, path: Path | None) -> Any | None:
    from crisislab.data import BUNDLED_TIMELINE, bundled_data_path, load_timeline

    if path is not None:
        return load_timeline(path, scenario)
    if scenario.id == "us-iran-2019-2020":
        return load_timeline(bundled_data_path(BUNDLED_TIMELINE), scenario)
    return None


def _provenance(runner: Any) -> dict:
    """What a results file records about how it was made, beyond scenario, seed and runs."""
    solve = runner.solve
    return {"policy": getattr(solve, "kind", None) or getattr(solve, "name", None) or type(solve).__name__,
            "grid": getattr(solve, "grid", None)}


def _events(df: Any) -> Any:
    ev = df[["round", "date", "actor", "action"]].copy()
    ev["date"] = [str(d)[:10] for d in ev["date"]]
    ev["actor"] = ev["actor"].astype(str)
    ev["action"] = ev["action"].astype(str)
    if "note" in df.columns:
        ev["label"] = df["note"].astype(str).fillna("")
    return ev


def _runner(
    scenario: Any, policy: str, grid: str, runs: int, seed: int, workers: int, chunk: int, progress: bool,
    scheduler: str | None = None,
) -> Any:  # fmt: skip
    from crisislab.crisis import parse_grid
    from crisislab.simulate._claims import ArmRunner, SolverChoice
    from crisislab.simulate._run import check_scheduler

    check_scheduler(scheduler)
    # An "auto" grid is fixed by ArmRunner from the scenario as written, once for all arms and draws.
    return ArmRunner(
        scenario, SolverChoice(policy, parse_grid(grid)), runs, seed, workers=workers, chunk=chunk, progress=progress, scheduler=scheduler
    )


def _check_out(path: Path | None, *, directory: bool) -> None:
    # Checked before anything is solved, so a wrong path costs no time and loses no results.
    if path is None:
        return
    if directory and path.exists() and not path.is_dir():
        raise UserError(f"--out: {path} is a file (expected a directory to write the results into)")
    if not directory and path.is_dir():
        raise UserError(f"--out: {path} is a directory (expected a file name to write, e.g. {path / 'table.parquet'})")


def _check_robustness(robustness: int, robustness_runs: int | None) -> None:
    # Checked before anything is solved, so a typo costs no time.
    if robustness < 0:
        raise UserError(f"--robustness: must be an integer >= 0 parameter draws (0 turns robustness off; got {robustness})")
    if robustness_runs is not None and robustness_runs < 2:
        raise UserError(f"--robustness-runs: must be an integer >= 2 runs per draw (got {robustness_runs})")


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        runs: RunsOpt = 10_000,
        seed: SeedOpt = 0,
        workers: WorkersOpt = 1,
        chunk: ChunkOpt = 32_768,
        policy: PolicyOpt = "crisis",
        grid: GridOpt = "auto",
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
        from crisislab.simulate._run import progress_wanted

        _check_out(out, directory=False)
        if paths and out is None:
            raise UserError("--paths: the per-move table is written next to --out's file (OUT-stem.paths.parquet), "
                            "so it needs --out (got --paths without --out)")
        sc = _load(scenario)
        options = [("--force", v) for v in force or ()] + [("--forbid", v) for v in forbid or ()] + [("--set", v) for v in set_ or ()]
        if options:
            from crisislab.simulate._cli_interventions import parse_interventions

            interventions = parse_interventions(sc, options)  # every problem, before anything is solved
            runner = _runner(sc, policy, grid, runs, seed, workers, chunk, progress_wanted(json_output), scheduler)
            _paired_simulation(sc, runner, interventions, seed, paths, out, json_output)
            return
        runner = _runner(sc, policy, grid, runs, seed, workers, chunk, progress_wanted(json_output), scheduler)
        t0 = time.perf_counter()
        res = runner.results([], paths=paths)
        dt = time.perf_counter() - t0
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            res.to_parquet(out, **_provenance(runner))
            if res.paths is not None:
                res.paths.to_parquet(out.with_name(out.stem + ".paths.parquet"), index=False)
        counts = res.outcome_counts()
        summary = {
            "scenario": sc.id,
            "runs": res.n_runs,
            "seed": seed,
            "run_steps": res.run_steps,
            "seconds": dt,
            "outcomes": {k: int(v) / res.n_runs for k, v in counts.items()},
        }
        if json_output:
            typer.echo(json_dumps(summary))
            return
        typer.echo(f"{sc.id}: {res.n_runs} runs, seed {seed}, {res.run_steps} run-steps in {dt:.2f} s")
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
        chunk: ChunkOpt = 32_768,
        policy: PolicyOpt = "crisis",
        grid: GridOpt = "auto",
        robustness: RobustnessOpt = 8,
        robustness_runs: RobustnessRunsOpt = None,
        scheduler: SchedulerOpt = None,
        out: Annotated[Path | None, typer.Option("--out", help="Write the per-draw robustness rows as Parquet here.")] = None,
        json_output: JsonOpt = False,
    ) -> None:
        """Evaluate every claim of a scenario: estimates, paired difference with CI, verdict, robustness."""
        from crisislab.simulate._claims import evaluate_claims, robustness_table
        from crisislab.simulate._run import progress_wanted

        _check_robustness(robustness, robustness_runs)
        _check_out(out, directory=False)
        sc = _load(scenario)
        if not sc.claims:
            raise UserError(f"{scenario}: claims: the scenario states no claims (expected at least one)")
        runner = _runner(sc, policy, grid, runs, seed, workers, chunk, progress_wanted(json_output), scheduler)
        results = evaluate_claims(runner, robustness_draws=robustness, robustness_runs=robustness_runs)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            robustness_table(results).to_parquet(out, index=False)
        if json_output:
            typer.echo(json_dumps([r.as_row() for r in results]))
            return
        _print_claims(results, runs, seed)
        if out is not None:
            typer.echo(f"wrote {out}")

    @app.command("grid-check")
    def grid_check_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        grids: Annotated[str, typer.Option("--grids", help="Comma-separated belief grids to compare, coarse to fine.")] = "3,5,9",
        runs: RunsOpt = 10_000,
        seed: SeedOpt = 0,
        workers: WorkersOpt = 1,
        chunk: ChunkOpt = 32_768,
        scheduler: SchedulerOpt = None,
        json_output: JsonOpt = False,
    ) -> None:
        """Is the belief grid fine enough? Outcome shares and claim verdicts solved on each grid, same seed."""
        from crisislab.simulate._run import progress_wanted

        try:
            gs = [int(g) for g in grids.split(",")]
        except ValueError:
            raise UserError(f"--grids: expected comma-separated integers ≥ 3, coarse to fine (got {grids!r})") from None
        if not gs or min(gs) < 3 or gs != sorted(set(gs)):
            raise UserError(f"--grids: expected distinct integers ≥ 3 in increasing order, e.g. 3,5,9 (got {grids!r})")
        sc = _load(scenario)
        out = _grid_check(sc, gs, runs, seed, workers, chunk, progress_wanted(json_output), scheduler)
        if json_output:
            typer.echo(json_dumps(out))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{sc.id}: the crisis engine on each belief grid ({runs} runs, seed {seed}, common random numbers)")
        table.add_column("")
        for c in out["grids"]:
            table.add_column(f"grid {c['grid']}", justify="right")
        se = lambda p: 1.96 * (p * (1 - p) / runs) ** 0.5  # noqa: E731
        for k in out["outcomes"]:
            table.add_row(f"P({k})", *[f"{c['outcomes'].get(k, 0.0):.4f} ± {se(c['outcomes'].get(k, 0.0)):.4f}" for c in out["grids"]])
        for i, row in enumerate(out["grids"][0]["claims"]):
            table.add_row(
                row["claim"],
                *[f"{c['claims'][i]['difference']:+.4f} {c['claims'][i]['verdict']}" for c in out["grids"]],
            )
        Console(file=sys.stdout, width=160).print(table)
        last = out["grids"][-2:]
        if len(last) < 2:
            typer.echo(f"one grid ({last[0]['grid']}): nothing to compare it with (give --grids two or more, e.g. 3,5,9)")
            return
        typer.echo(
            f"between grids {last[0]['grid']} and {last[-1]['grid']}: outcome shares move by at most "
            f"{out['finest_shift']:.4f}; verdicts that change: {', '.join(out['finest_verdict_changes']) or 'none'}"
        )

    @app.command("run")
    def run_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        runs: RunsOpt = 10_000,
        seed: SeedOpt = 0,
        out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("out"),
        workers: WorkersOpt = 1,
        chunk: ChunkOpt = 32_768,
        policy: PolicyOpt = "crisis",
        grid: GridOpt = "auto",
        robustness: RobustnessOpt = 8,
        robustness_runs: RobustnessRunsOpt = None,
        scheduler: SchedulerOpt = None,
        timeline: Annotated[Path | None, typer.Option("--timeline", help="Observed timeline CSV (default: the bundled one for the flagship).")] = None,
        json_output: JsonOpt = False,
    ) -> None:
        """Solve, simulate, evaluate claims (with robustness), replay the timeline; write
        results.parquet, claims.csv, robustness.parquet and report.html."""
        from crisislab.report import write_report
        from crisislab.model import lower
        from crisislab.simulate._claims import evaluate_claims, robustness_table
        from crisislab.simulate._run import progress_wanted
        from crisislab.simulate._timeline import replay_timeline

        _check_robustness(robustness, robustness_runs)
        _check_out(out, directory=True)
        sc = _load(scenario)
        progress = progress_wanted(json_output)
        t0 = time.perf_counter()
        runner = _runner(sc, policy, grid, runs, seed, workers, chunk, progress, scheduler)
        base = runner.results([])
        claims = evaluate_claims(runner, robustness_draws=robustness, robustness_runs=robustness_runs) if sc.claims else []
        tl_df = _timeline_for(sc, timeline)
        replay = None
        if tl_df is not None:
            _, _, pol = runner.solved({})
            replay = replay_timeline(lower(sc), pol, _events(tl_df), min(runs, 20_000), seed, chunk=chunk)
        _, _, pol = runner.solved({})
        path = write_report(
            out, base, claims, replay, title=sc.title, description=sc.description, provenance=_provenance(runner),
            solver=getattr(pol, "description", type(pol).__name__),
        )
        rob_path = Path(out) / "robustness.parquet"
        robustness_table(claims).to_parquet(rob_path, index=False)
        dt = time.perf_counter() - t0
        summary = {
            "scenario": sc.id,
            "runs": runs,
            "seed": seed,
            "seconds": dt,
            "report": str(path),
            "results": str(Path(out) / "results.parquet"),
            "robustness_table": str(rob_path),
            "outcomes": {k: int(v) / base.n_runs for k, v in base.outcome_counts().items()},
            "claims": [
                {k: v for k, v in c.as_row().items() if k in _SUMMARY_KEYS} for c in claims
            ],
            "timeline_loglik": None if replay is None else replay.loglik,
            "timeline_percentile": None if replay is None else replay.percentile,
            "timeline_impossible_share": None if replay is None else replay.impossible_share,
            "claims_table": str(Path(out) / "claims.csv") if claims else None,
        }
        if json_output:
            typer.echo(json_dumps(summary))
            return
        typer.echo(f"{sc.id}: {runs} runs, seed {seed}, policy: {summary_policy(pol)} ({dt:.1f} s)")
        for k, v in summary["outcomes"].items():
            typer.echo(f"  P({k}) = {v:.4f}")
        if claims:
            _print_claims(claims, runs, seed)
        if replay is not None:
            typer.echo(f"real timeline: log-likelihood {replay.loglik:.2f}, more probable than {replay.percentile:.1%} of "
                       f"simulated paths of the same {replay.rounds} rounds; the model rules an observed choice out in "
                       f"{replay.impossible_share:.1%} of replays")
        typer.echo(f"report: {path}")


ARMS = ("baseline", "intervened")


def _paired_simulation(
    sc: Any, runner: Any, interventions: list[Any], seed: int, paths: bool, out: Path | None, json_output: bool
) -> None:
    """`simulate` with interventions: the scenario as written and intervened, same seed and run
    indices (common random numbers; the intervened arm re-solved when a `set` changes what the
    strategies depend on, as for claims), each outcome's paired difference with its 95% interval."""
    from crisislab.simulate._claims import describe_interventions
    from crisislab.simulate._stats import paired_difference

    level = 0.95
    t0 = time.perf_counter()
    arms = {"baseline": runner.results([], paths=paths), "intervened": runner.results(interventions, paths=paths)}
    dt = time.perf_counter() - t0
    base, arm = arms["baseline"], arms["intervened"]
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_arms(out, _with_arm([r.runs for r in arms.values()]), {
            "crisislab": _version(), "scenario": sc.id, "seed": seed, "runs": base.n_runs,
            "interventions": [describe_interventions(interventions)],
            "arms": {"baseline": describe_interventions([]), "intervened": describe_interventions(interventions)},
            **_provenance(runner),
        })  # fmt: skip
        if paths:
            _with_arm([r.paths for r in arms.values()]).to_parquet(out.with_name(out.stem + ".paths.parquet"), index=False)
    outcomes = list(base.spec.outcomes)
    diffs = {}
    for k in outcomes:
        e = paired_difference(
            (arm.runs["outcome"] == k).to_numpy(float), (base.runs["outcome"] == k).to_numpy(float), level
        )  # fmt: skip
        diffs[k] = {"difference": e.diff, "se": e.se, "ci_low": e.ci_low, "ci_high": e.ci_high}
    summary = {
        "scenario": sc.id,
        "runs": base.n_runs,
        "seed": seed,
        "seconds": dt,
        "level": level,
        "interventions": [iv.model_dump(mode="json", by_alias=True, exclude_none=True) for iv in interventions],
        "arms": {
            name: {
                "interventions": describe_interventions([] if name == "baseline" else interventions),
                "run_steps": r.run_steps,
                "outcomes": {k: int(v) / r.n_runs for k, v in r.outcome_counts().items()},
            }
            for name, r in arms.items()
        },
        "difference": diffs,
    }
    if json_output:
        typer.echo(json_dumps(summary))
        return
    typer.echo(
        f"{sc.id}: {base.n_runs} runs per arm, seed {seed}, common random numbers; "
        f"{base.run_steps + arm.run_steps} run-steps in {dt:.2f} s"
    )
    typer.echo(f"  baseline:   {summary['arms']['baseline']['interventions']}")
    typer.echo(f"  intervened: {summary['arms']['intervened']['interventions']}")
    width = max(16, *(len(k) for k in outcomes))
    typer.echo(f"  {'outcome':<{width}} {'baseline':>9} {'intervened':>11}   intervened − baseline [95% CI]")
    for k in outcomes:
        d = diffs[k]
        typer.echo(
            f"  {k:<{width}} {summary['arms']['baseline']['outcomes'][k]:>9.4f} {summary['arms']['intervened']['outcomes'][k]:>11.4f}"
            f"   {d['difference']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"
        )
    if out is not None:
        typer.echo(f"wrote {out} (both arms; column `arm`: {', '.join(ARMS)})")


def _version() -> str:
    import crisislab

    return crisislab.__version__


def _write_arms(path: Path, df: Any, meta: dict) -> None:
    """`df` as Parquet with `meta` as JSON under the file's metadata key `crisislab`, as
    `Results.to_parquet` records a single arm (here with `arms`: each arm's interventions)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"crisislab": json_dumps(meta)})
    pq.write_table(table, path)


def _with_arm(frames: list[Any]) -> Any:
    """The arms' tables stacked, baseline first, with a leading categorical `arm` column."""
    import pandas as pd

    parts = []
    for name, df in zip(ARMS, frames, strict=True):
        df = df.copy()
        df.insert(0, "arm", pd.Categorical([name] * len(df), categories=list(ARMS)))
        parts.append(df)
    return pd.concat(parts, ignore_index=True)


def _grid_check(
    sc: Any, grids: list[int], runs: int, seed: int, workers: int, chunk: int, progress: bool, scheduler: str | None
) -> dict:
    """Outcome shares and claim estimates of `sc` solved on each grid, same seed (common random
    numbers), so the differences between columns are the grid's, not sampling noise's."""
    from crisislab.simulate._claims import evaluate_claims

    cols = []
    for G in grids:
        runner = _runner(sc, "crisis", str(G), runs, seed, workers, chunk, progress, scheduler)
        base = runner.results([])
        claims = evaluate_claims(runner, robustness_draws=0) if sc.claims else []
        cols.append({
            "grid": G,
            "outcomes": {k: int(v) / base.n_runs for k, v in base.outcome_counts().items()},
            "claims": [{k: v for k, v in c.as_row().items() if k in ("claim", "verdict", "difference", "ci_low", "ci_high")} for c in claims],
        })
    names = sorted({k for c in cols for k in c["outcomes"]})
    fine, finer = (cols[-2], cols[-1]) if len(cols) > 1 else (cols[-1], cols[-1])
    shift = max((abs(fine["outcomes"].get(k, 0.0) - finer["outcomes"].get(k, 0.0)) for k in names), default=0.0)
    flips = [a["claim"] for a, b in zip(fine["claims"], finer["claims"], strict=True) if a["verdict"] != b["verdict"]]
    return {"scenario": sc.id, "runs": runs, "seed": seed, "grids": cols, "outcomes": names,
            "finest_shift": shift, "finest_verdict_changes": flips}


_SUMMARY_KEYS = (
    "claim", "verdict", "difference", "ci_low", "ci_high", "robustness", "robustness_low", "robustness_high",
    "robustness_fails", "robustness_draws", "influential", "influential_rho",
)  # fmt: skip


def summary_policy(pol: Any) -> str:
    return getattr(pol, "description", type(pol).__name__)


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
            r.verdict,
            _robust_cell(r),
        )
    Console(file=sys.stdout, width=160).print(table)
    for r in results:
        if r.robustness is not None:
            typer.echo(f"{r.id}: most influential parameter: {_influential_text(r)}")


def _robust_cell(r: Any) -> str:
    """Share of draws where the claim holds [Wilson 95%], where it fails, and how many draws."""
    if r.robustness is None:
        return "–"
    return f"holds {r.robustness:.0%}\n[{r.robustness_low:.0%}, {r.robustness_high:.0%}]\nfails {r.robustness_fails:.0%}\nof {r.robustness_draws}"


def _influential_text(r: Any) -> str:
    if r.influential is None:
        if (r.robustness_draws or 0) < 3:
            return f"not computed: a rank correlation needs at least 3 draws (got {r.robustness_draws}; raise --robustness)"
        return "none (the difference or every parameter is constant across draws)"
    return f"{r.influential} (Spearman ρ = {r.influential_rho:+.2f} with the difference over {r.robustness_draws} draws)"
