"""`crisislab simulate`, `crisislab claims` and `crisislab run`: library calls composed for the shell.

`run` is the main job: solve, simulate, evaluate every claim, replay the real timeline (when the
scenario has one) and write DIR/results.parquet, DIR/claims.csv and a self-contained
DIR/report.html. Progress bars appear only on an interactive terminal and never under --json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from crisislab.errors import UserError

__all__ = ["register"]

RunsOpt = Annotated[int, typer.Option("--runs", help="Number of simulated runs per arm.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed; results are a function of (scenario, seed, run index).")]
WorkersOpt = Annotated[int, typer.Option("--workers", help="Local worker processes (results do not depend on it).")]
ChunkOpt = Annotated[int, typer.Option("--chunk", help="Runs per array batch (results do not depend on it).")]
PolicyOpt = Annotated[
    str,
    typer.Option("--policy", help="crisis: the crisis engine's logit QRE; myopic: one-step-lookahead logit stand-in."),
]
GridOpt = Annotated[int, typer.Option("--grid", help="Belief-grid points for the crisis engine.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout (no progress bar).")]


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


def _events(df: Any) -> Any:
    ev = df[["round", "date", "actor", "action"]].copy()
    ev["date"] = [str(d)[:10] for d in ev["date"]]
    ev["actor"] = ev["actor"].astype(str)
    ev["action"] = ev["action"].astype(str)
    if "note" in df.columns:
        ev["label"] = df["note"].astype(str).fillna("")
    return ev


def _runner(scenario: Any, policy: str, grid: int, runs: int, seed: int, workers: int, chunk: int, progress: bool) -> Any:
    from crisislab.simulate import ArmRunner
    from crisislab.simulate._solution_policy import make_solver

    solve = make_solver(policy, grid)  # type: ignore[arg-type]
    return ArmRunner(scenario, solve, runs, seed, workers=workers, chunk=chunk, progress=progress)


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        runs: RunsOpt = 10_000,
        seed: SeedOpt = 0,
        workers: WorkersOpt = 1,
        chunk: ChunkOpt = 32_768,
        policy: PolicyOpt = "crisis",
        grid: GridOpt = 21,
        paths: Annotated[bool, typer.Option("--paths", help="Also write the per-move table (PATH-stem.paths.parquet).")] = False,
        out: Annotated[Path | None, typer.Option("--out", help="Write the per-run table as Parquet here.")] = None,
        json_output: JsonOpt = False,
    ) -> None:
        """Simulate a scenario as written; print outcome probabilities."""
        from crisislab.simulate._run import progress_wanted

        sc = _load(scenario)
        runner = _runner(sc, policy, grid, runs, seed, workers, chunk, progress_wanted(json_output))
        t0 = time.perf_counter()
        res = runner.results([], paths=paths)
        dt = time.perf_counter() - t0
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            res.to_parquet(out)
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
            typer.echo(json.dumps(summary))
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
        grid: GridOpt = 21,
        robustness: Annotated[int, typer.Option("--robustness", help="Parameter draws for robustness (0: skip).")] = 0,
        json_output: JsonOpt = False,
    ) -> None:
        """Evaluate every claim of a scenario: estimates, paired difference with CI, verdict, robustness."""
        from crisislab.simulate import evaluate_claims
        from crisislab.simulate._run import progress_wanted

        sc = _load(scenario)
        if not sc.claims:
            raise UserError(f"{scenario}: claims: the scenario states no claims (expected at least one)")
        runner = _runner(sc, policy, grid, runs, seed, workers, chunk, progress_wanted(json_output))
        results = evaluate_claims(runner, robustness_draws=robustness)
        if json_output:
            typer.echo(json.dumps([r.as_row() for r in results], default=float))
            return
        _print_claims(results, runs, seed)

    @app.command("run")
    def run_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        runs: RunsOpt = 10_000,
        seed: SeedOpt = 0,
        out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("out"),
        workers: WorkersOpt = 1,
        chunk: ChunkOpt = 32_768,
        policy: PolicyOpt = "crisis",
        grid: GridOpt = 21,
        robustness: Annotated[int, typer.Option("--robustness", help="Parameter draws for robustness (0: skip).")] = 0,
        timeline: Annotated[Path | None, typer.Option("--timeline", help="Observed timeline CSV (default: the bundled one for the flagship).")] = None,
        json_output: JsonOpt = False,
    ) -> None:
        """Solve, simulate, evaluate claims, replay the timeline; write results.parquet and report.html."""
        from crisislab.report import write_report
        from crisislab.simulate import compile_spec, evaluate_claims
        from crisislab.simulate._run import progress_wanted
        from crisislab.simulate._timeline import replay_timeline

        sc = _load(scenario)
        progress = progress_wanted(json_output)
        t0 = time.perf_counter()
        runner = _runner(sc, policy, grid, runs, seed, workers, chunk, progress)
        base = runner.results([])
        claims = evaluate_claims(runner, robustness_draws=robustness) if sc.claims else []
        tl_df = _timeline_for(sc, timeline)
        replay = None
        if tl_df is not None:
            _, _, pol = runner.solved({})
            replay = replay_timeline(compile_spec(sc), pol, _events(tl_df), min(runs, 20_000), seed, chunk=chunk)
        _, _, pol = runner.solved({})
        path = write_report(
            out, base, claims, replay, title=sc.title, description=sc.description,
            solver=getattr(pol, "description", type(pol).__name__),
        )
        dt = time.perf_counter() - t0
        summary = {
            "scenario": sc.id,
            "runs": runs,
            "seed": seed,
            "seconds": dt,
            "report": str(path),
            "results": str(Path(out) / "results.parquet"),
            "outcomes": {k: int(v) / base.n_runs for k, v in base.outcome_counts().items()},
            "claims": [{"claim": c.id, "verdict": c.verdict, "difference": c.estimate.diff} for c in claims],
            "timeline_loglik": None if replay is None else replay.loglik,
        }
        if json_output:
            typer.echo(json.dumps(summary))
            return
        typer.echo(f"{sc.id}: {runs} runs, seed {seed}, policy: {summary_policy(pol)} ({dt:.1f} s)")
        for k, v in summary["outcomes"].items():
            typer.echo(f"  P({k}) = {v:.4f}")
        if claims:
            _print_claims(claims, runs, seed)
        if replay is not None:
            typer.echo(f"real timeline: log-likelihood {replay.loglik:.2f}, more probable than {replay.percentile:.1%} of simulated paths")
        typer.echo(f"report: {path}")


def summary_policy(pol: Any) -> str:
    return getattr(pol, "description", type(pol).__name__)


def _print_claims(results: Any, runs: int, seed: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Claims ({runs} runs per arm, seed {seed}, common random numbers)", show_lines=True)
    for col in ("claim", "seed file / quote", "metric", "treatment", "baseline", "diff [95% CI]", "verdict", "robust"):
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
            "–" if r.robustness is None else f"{r.robustness:.0%} of {r.robustness_draws}",
        )
    Console(file=sys.stdout, width=160).print(table)
