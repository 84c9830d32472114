"""Commands that hold a scenario against an observed record: `replay` (the record's exact
likelihood and what the filter sees along it), `estimate` (maximum likelihood of the scenario's
parameters from one or more records) and `fit-check` (does the model fit the record: ending early,
typicality, the outcome across the estimates' intervals, intensity by calendar period). Each composes public library calls of
`crisislab.analysis`; docs/replay.md describes the record format and the rules.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from crisislab._json import dumps as json_dumps
from crisislab.errors import UserError

__all__ = ["register"]

TimelineOpt = Annotated[
    list[Path] | None,
    typer.Option("--timeline", help="Observed record CSV (docs/replay.md); default: the record bundled with the scenario."),
]
GridOpt = Annotated[str, typer.Option("--grid", help="Belief-grid points for the crisis engine, or 'auto'.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the simulated records and runs (the likelihood itself draws nothing).")]
UnobservedOpt = Annotated[
    list[str] | None,
    typer.Option("--unobserved", metavar="ACTOR", help="An actor whose moves the record does not observe (summed over). Repeatable."),
]
ObservedOpt = Annotated[
    list[str] | None,
    typer.Option("--observed", metavar="ACTOR", help="An actor the record observes though it has no event (it did nothing). Repeatable."),
]
DeathsOpt = Annotated[
    list[str] | None,
    typer.Option("--deaths", metavar="SIDE=COLUMN", help="Read a casualty side's deaths from this record column "
                 "(default deaths_<side>; several sides may share a column). Repeatable."),
]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Use the record up to this date (YYYY-MM-DD) or round only.")]
BeliefTolOpt = Annotated[float, typer.Option("--belief-tol", help="Merge hidden configurations whose beliefs agree within this (0: exact).")]


def _load(path: Path) -> Any:
    from crisislab.scenario import load_scenario

    return load_scenario(path)


def _name_pairs(items: list[str] | None, option: str, expected: str) -> dict[str, str]:
    """NAME=NAME options (`--deaths SIDE=COLUMN`, `--tie PATH=ESTIMATED_PATH`) as a mapping."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UserError(f"{option}: expected {expected} (got {item!r})")
        out[key.strip()] = value.strip()
    return out


def _deaths(items: list[str] | None) -> dict[str, str]:
    return _name_pairs(items, "--deaths", "SIDE=COLUMN")


def _until(text: str | None) -> Any:
    if text is None:
        return None
    return int(text) if text.strip().isdigit() else text.strip()


def _check_timelines(paths: list[Path] | None) -> None:
    from crisislab._output import check_input_file

    for p in paths or []:
        check_input_file(p, option="--timeline")


def _fmt(x: float, spec: str = ".2f") -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def _print_replay(rep: Any, console: Console, period_days: int | None = None, period_start: Any = None) -> None:
    t = Table(title=f"{rep.scenario_id}: the record {rep.source} ({rep.n_events} events, {rep.rounds} rounds)",
              title_justify="left")
    for c in ("round", "start", "days", "log-lik", "P(end)", "intensity: model", "record", "unconditional"):
        t.add_column(c, justify="right" if c != "start" else "left", no_wrap=c == "start", min_width=10 if c == "start" else None)
    for row in rep.rounds_table.itertuples(index=False):
        t.add_row(str(row.round), row.start or "", str(row.days or ""), _fmt(row.loglik), _fmt(row.p_end, ".3f"),
                  _fmt(row.expected_intensity_total), _fmt(row.observed_intensity_total), _fmt(row.unconditional_intensity_total))
    console.print(t)
    if period_days is not None:
        p = Table(title=f"Intensity by period of {period_days} days (model rounds split by their share of days; "
                  "the record by its events' dates)", title_justify="left")
        for c in ("period", "start", "end", "days covered", "intensity: model", "record", "unconditional"):
            p.add_column(c, justify="right" if c not in ("start", "end") else "left", no_wrap=c in ("start", "end"),
                         min_width=10 if c in ("start", "end") else None)
        for row in rep.intensity_by_period(period_days, period_start).itertuples(index=False):
            p.add_row(str(row.period), row.start, row.end, str(row.days_covered), _fmt(row.expected_intensity_total),
                      _fmt(row.observed_intensity_total), _fmt(row.unconditional_intensity_total))
        console.print(p)
    s = Table(title="One-step-ahead scores (log score: higher is better; Brier: lower is better)", title_justify="left")
    for c in ("predictor", "sample", "moves", "log score", "Brier"):
        s.add_column(c)
    for row in rep.scores.itertuples(index=False):
        s.add_row(row.predictor, row.sample, str(row.moves), _fmt(row.log_score), _fmt(row.brier, ".3f"))
    console.print(s)
    rank = ("the record is not ranked (no simulated records)" if rep.percentile != rep.percentile else
            f"the record is more probable than {rep.percentile:.1%} of {rep.n_simulated} simulated records of the same length")
    console.print(Text(
        f"log-likelihood {rep.loglik:.3f}; the model ends the crisis before the record ends with probability "
        f"{rep.p_ended_early:.2%}; {rank}; not observed: {', '.join(rep.unobserved_actors) or 'none'}"
        + (f"; {rep.impossible}" if rep.impossible else "")))
    for text in rep.reread:
        console.print(Text(f"note: {rep.source}: {text}"))
    for line, col, n in rep.unmodelled:
        console.print(Text(f"note: {rep.source}:{line}: {col} = {n}: no act of the model causes these deaths; not conditioned on"))


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        timeline: TimelineOpt = None,
        grid: GridOpt = "auto",
        seed: SeedOpt = 0,
        unobserved: UnobservedOpt = None,
        observed: ObservedOpt = None,
        deaths: DeathsOpt = None,
        until: UntilOpt = None,
        fit_until: Annotated[str | None, typer.Option("--fit-until", help="Fit the baselines on the record up to this date (or round) and score them, and the model, out of sample after it.")] = None,
        rank_records: Annotated[int, typer.Option("--rank-records", help="Simulated records of the same length ranked against the record (0: none).")] = 100,
        belief_tol: BeliefTolOpt = 0.01,
        period_days: Annotated[int | None, typer.Option("--period-days", help="Also sum the intensity by round over periods of this many days (a round straddling two split by its share of days), to compare with an outside daily or weekly event series.")] = None,
        period_start: Annotated[str | None, typer.Option("--period-start", help="First day (YYYY-MM-DD) of the first period of --period-days (default: the first round's).")] = None,
        json_output: JsonOpt = False,
    ) -> None:
        """The exact log-likelihood of an observed record under the solved scenario, per round, with
        the probability that the model ends the crisis early, beliefs, intensity, scores and rank."""
        from crisislab.analysis import replay
        from crisislab.crisis import parse_grid

        if timeline and len(timeline) > 1:
            raise UserError("--timeline: replay scores one record at a time (estimate pools several)")
        _check_timelines(timeline)
        if rank_records < 0:
            raise UserError(f"--rank-records: must be an integer >= 0 (got {rank_records})")
        if not 0 <= belief_tol < 1:
            raise UserError(f"--belief-tol: must be in [0, 1) (got {belief_tol})")
        if period_days is not None and period_days < 1:
            raise UserError(f"--period-days: must be an integer >= 1 (got {period_days})")
        if period_start is not None:
            import datetime as _dt

            if period_days is None:
                raise UserError("--period-start: needs --period-days")
            try:
                _dt.date.fromisoformat(period_start)
            except ValueError:
                raise UserError(f"--period-start: not a date (got {period_start!r}; expected YYYY-MM-DD)") from None
        grid_arg = parse_grid(grid)
        sc = _load(scenario)
        if period_days is not None and sc.calendar is None:
            raise UserError(f"--period-days: scenario {sc.id} has no calendar, so its rounds have no dates")
        if period_start is not None and period_start > sc.calendar.start.isoformat():
            raise UserError(f"--period-start: {period_start} is after the calendar's start {sc.calendar.start.isoformat()} "
                            "(expected a date on or before it)")
        rep = replay(sc, None, timeline[0] if timeline else None, grid=grid_arg, seed=seed, unobserved=unobserved or (),
                     observed=observed or (), deaths=_deaths(deaths), until=_until(until), fit_until=_until(fit_until),
                     rank_records=rank_records, belief_tol=belief_tol)
        if json_output:
            typer.echo(json_dumps(rep.to_json(period_days, period_start)))
            return
        _print_replay(rep, Console(soft_wrap=True, emoji=False), period_days, period_start)

    _register_estimate(app)
    _register_fit_check(app)


def _pairs(items: list[str] | None, option: str) -> dict[str, float]:
    out = {}
    for item in items or []:
        path, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[path.strip()] = float(value)
        except ValueError:
            raise UserError(f"{option}: expected PATH=NUMBER (got {item!r})") from None
    return out


def _tie_pairs(items: list[str] | None) -> dict[str, str]:
    return _name_pairs(items, "--tie", "PATH=ESTIMATED_PATH, e.g. actors.Iran.lam=actors.US.lam")


def _end(v: float) -> str:
    """An interval end from a profile grid: "open" where the grid never drops far enough (NaN)."""
    return "open" if math.isnan(v) else format(v, ".4g")


def _profile_grid(items: list[str] | None) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for item in items or []:
        path, sep, values = item.partition("=")
        try:
            if not sep or not path.strip():
                raise ValueError
            out[path.strip()] = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise UserError(f"--profile-grid: expected PATH=V1,V2,... with numbers, e.g. payoffs.terminal.war.US.resolute=-8,-6,-4 "
                            f"(got {item!r})") from None
    return out


def _print_estimation(est: Any, console: Console) -> None:
    t = Table(title=f"{est.scenario_id}: maximum likelihood on {', '.join(est.records)}", title_justify="left")
    for c in ("parameter", "start", "estimate", "se", f"{est.level:.0%} Wald", "profile", "bootstrap", "flag"):
        t.add_column(c, overflow="fold")
    for p in est.params:
        prof = f"[{_fmt(p.profile_low, '.4g')}, {_fmt(p.profile_high, '.4g')}]" if p.profile_low == p.profile_low else "–"
        boot = f"[{_fmt(p.boot_low, '.4g')}, {_fmt(p.boot_high, '.4g')}]" if p.boot_low == p.boot_low else "–"
        t.add_row(Text(p.path), _fmt(p.start, ".4g"), _fmt(p.estimate, ".4g"), _fmt(p.se, ".3g"),
                  f"[{_fmt(p.ci_low, '.4g')}, {_fmt(p.ci_high, '.4g')}]", prof, boot, Text(p.flag or ""))
    console.print(t)
    for p in est.params:
        if p.note:
            console.print(Text(f"{p.path}: {p.note}"))
    console.print(Text(
        f"log-likelihood {est.loglik:.3f} (at the scenario's values {est.start_loglik:.3f}); "
        f"{'converged' if est.converged else 'NOT converged'}: {est.message}; AIC {est.aic:.2f}, BIC {est.bic:.2f} "
        f"(n = {est.n_moves} observed moves); {est.n_evaluations} evaluations, {est.n_solves} solves, {est.seconds:.1f} s"))
    for row in est.tests.itertuples(index=False):
        console.print(Text(f"likelihood-ratio test of {row.restriction}: LR = {row.lr:.3f}, df = {row.df}, p = {row.p_value:.4f}"))
    for follower, leader in est.ties.items():
        console.print(Text(f"{follower} is tied to {leader} (one value, estimated as {leader})"))
    if est.profiles is not None:
        for path in dict.fromkeys(est.profiles["path"]):
            rows = est.profiles[est.profiles["path"] == path]
            lo, hi = est.profile_grid_interval(path)
            g = Table(title=f"Profile log-likelihood of {path} (the other estimated parameters fitted again at each value); "
                            f"{est.level:.0%} interval from the grid: [{_end(lo)}, {_end(hi)}]", title_justify="left")
            for c in ("value", "log-likelihood", "converged", "others at their best"):
                g.add_column(c, overflow="fold")
            for r in rows.itertuples(index=False):
                g.add_row(f"{r.value:g}", f"{r.loglik:.3f}", "yes" if r.converged else "NO",
                          Text(", ".join(f"{k.split('.', 1)[-1]} {v:.4g}" for k, v in r.at.items()) or "–"))
            console.print(g)
    if est.scores is not None:
        s = Table(title=f"One-step-ahead scores: fitted through round {est.fit_until}, scored after it (out)", title_justify="left")
        for c in ("record", "predictor", "sample", "moves", "log score", "Brier"):
            s.add_column(c)
        for row in est.scores.itertuples(index=False):
            s.add_row(Text(Path(row.record).name), row.predictor, row.sample, str(row.moves), _fmt(row.log_score), _fmt(row.brier, ".3f"))
        console.print(s)


def _register_estimate(app: typer.Typer) -> None:
    @app.command("estimate")
    def estimate_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        timeline: TimelineOpt = None,
        free: Annotated[list[str] | None, typer.Option("--free", metavar="PATH", help="A parameter to estimate, by its field path as --set takes it, optionally with its range PATH=LO:HI (default range: its `uncertainty`; default parameters: every one with an `uncertainty`). Repeatable.")] = None,
        grid: GridOpt = "auto",
        profile: Annotated[list[str] | None, typer.Option("--profile", metavar="PATH", help="Also give the profile-likelihood interval of this estimated parameter. Repeatable.")] = None,
        tie: Annotated[list[str] | None, typer.Option("--tie", metavar="PATH=ESTIMATED_PATH", help="Give PATH the value of the estimated parameter ESTIMATED_PATH throughout (one value for both, e.g. actors.Iran.lam=actors.US.lam); --out marks it `estimated.tied_to`. Repeatable.")] = None,
        profile_grid: Annotated[list[str] | None, typer.Option("--profile-grid", metavar="PATH=V1,V2,...", help="The profile log-likelihood of PATH at each value (re-solved where it is not a prior), every estimated parameter fitted again there; PATH need not be --free (e.g. a payoff, with the priors free). Prints the table and the interval it gives. Repeatable.")] = None,
        restrict: Annotated[list[str] | None, typer.Option("--restrict", metavar="PATH=VALUE", help="Test this restriction of an estimated parameter by a likelihood ratio. Repeatable (one joint test).")] = None,
        bootstrap: Annotated[int, typer.Option("--bootstrap", help="Parametric-bootstrap draws (each simulates records at the estimate and refits).")] = 0,
        workers: Annotated[int, typer.Option("--workers", help="Local Dask processes for the bootstrap draws.")] = 1,
        scheduler: Annotated[str | None, typer.Option("--scheduler", help="Address of a running dask.distributed scheduler for the bootstrap draws.")] = None,
        until: Annotated[str | None, typer.Option("--until", help="Fit on the records up to this date (or round) and score the forecasts after it, against the baselines.")] = None,
        level: Annotated[float, typer.Option("--level", help="Confidence level of the intervals.")] = 0.95,
        seed: SeedOpt = 0,
        unobserved: UnobservedOpt = None,
        observed: ObservedOpt = None,
        deaths: DeathsOpt = None,
        belief_tol: BeliefTolOpt = 0.01,
        out: Annotated[Path | None, typer.Option("--out", help="Write the scenario with the estimates in place (YAML), each marked as estimated from the records with its interval as the uncertainty.")] = None,
        json_output: JsonOpt = False,
    ) -> None:
        """Estimate the scenario's parameters from observed records by maximum likelihood, with
        standard errors, intervals, identification flags, tests and AIC/BIC."""
        from crisislab.analysis import estimate
        from crisislab.crisis import parse_grid
        from crisislab.simulation import check_scheduler, progress_wanted

        _check_timelines(timeline)
        if out is not None:
            from crisislab._output import check_output

            check_output(out, directory=False, option="--out")
        if bootstrap < 0:
            raise UserError(f"--bootstrap: must be an integer >= 0 (got {bootstrap})")
        if workers < 1:
            raise UserError(f"--workers: must be an integer >= 1 (got {workers})")
        if not 0 < level < 1:
            raise UserError(f"--level: must be in (0, 1) (got {level})")
        if not 0 <= belief_tol < 1:
            raise UserError(f"--belief-tol: must be in [0, 1) (got {belief_tol})")
        check_scheduler(scheduler)
        grid_arg = parse_grid(grid)
        sc = _load(scenario)
        est = estimate(sc, list(timeline) if timeline else None, free=free or None, grid=grid_arg, belief_tol=belief_tol,
                       level=level, profile=profile or (), restrict=_pairs(restrict, "--restrict"), bootstrap=bootstrap,
                       seed=seed, workers=workers, scheduler=scheduler, fit_until=_until(until), unobserved=unobserved or (),
                       observed=observed or (), deaths=_deaths(deaths), progress=progress_wanted(json_output),
                       tie=_tie_pairs(tie), profile_grid=_profile_grid(profile_grid))
        if out is not None:
            from crisislab._output import writing_files
            from crisislab.scenario import dump_scenario

            text = dump_scenario(est.scenario)
            with writing_files([out]) as (stage,):
                stage.write_text(text, encoding="utf-8")
        if json_output:
            data = est.to_json()
            data["out"] = None if out is None else str(out)
            typer.echo(json_dumps(data))
            return
        _print_estimation(est, Console(soft_wrap=True, emoji=False))
        if out is not None:
            Console(soft_wrap=True, emoji=False).print(Text(f"wrote {out}"))


def _print_fit_check(fc: Any, console: Console) -> None:
    console.print(Text(f"{fc.scenario_id} against {fc.record}: log-likelihood {fc.loglik:.2f}"))
    t = Table(title="Checks", title_justify="left")
    for c in ("check", "passes", "finding"):
        t.add_column(c, overflow="fold")
    for check, finding, ok in fc.findings():
        t.add_row(check, "–" if ok is None else ("yes" if ok else "NO"), Text(finding))
    console.print(t)
    o = Table(title=f"Outcome shares: {fc.runs} runs at the scenario's values"
                    + (f"; {len(fc.draws)} draws of the estimated parameters ({', '.join(fc.estimated)})" if len(fc.draws) else
                       "; no estimated parameters drawn"), title_justify="left")
    for c in ("outcome", "share", "95% CI", "draws: min", "median", "max", "modal in"):
        o.add_column(c)
    for r in fc.outcomes.itertuples(index=False):
        drawn = len(fc.draws) > 0
        o.add_row(r.outcome + (" (observed)" if r.outcome == fc.observed_outcome else ""), f"{r.share:.4f}",
                  f"[{r.ci_low:.4f}, {r.ci_high:.4f}]", *((f"{r.draw_min:.4f}", f"{r.draw_median:.4f}", f"{r.draw_max:.4f}",
                  f"{r.draw_modal:.0%}") if drawn else ("–",) * 4))
    console.print(o)
    span = f"by period of {fc.period_days} days" if fc.period_days else "by round (the scenario has no calendar)"
    p = Table(title=f"Conflict intensity {span} (sums of the actions' declared intensities)", title_justify="left")
    for c in ("period", "start", "days", "expected (one step)", "observed", "unconditional"):
        p.add_column(c)
    for r in fc.periods.itertuples(index=False):
        p.add_row(str(r.period), r.start, str(r.days_covered), f"{r.expected:.2f}", f"{r.observed:.2f}", f"{r.unconditional:.2f}")
    console.print(p)


def _register_fit_check(app: typer.Typer) -> None:
    @app.command("fit-check")
    def fit_check_cmd(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML file (with a calendar).")],
        timeline: TimelineOpt = None,
        grid: GridOpt = "auto",
        seed: SeedOpt = 0,
        runs: Annotated[int, typer.Option("--runs", help="Simulated runs at the scenario's values.")] = 20_000,
        draws: Annotated[int, typer.Option("--draws", help="Draws of the estimated parameters over their intervals, each re-solved (0: none).")] = 10,
        draw_runs: Annotated[int | None, typer.Option("--draw-runs", help="Runs per draw (default runs // 4, at least 1000).")] = None,
        period_days: Annotated[int | None, typer.Option("--period-days", help="Calendar period of the intensity comparison, in days (default 14; without a calendar the periods are the rounds).")] = None,
        rank_records: Annotated[int, typer.Option("--rank-records", help="Simulated records of the same length ranked against the record (0: none).")] = 100,
        workers: Annotated[int, typer.Option("--workers", help="Local Dask worker processes for the draws (results do not depend on it).")] = 1,
        json_output: JsonOpt = False,
    ) -> None:
        """Does the model fit the record? The probability it ends the crisis early, the record's rank
        among simulated records, the record's outcome across the estimates' intervals, and conflict
        intensity by calendar period against the record's (docs/replay.md)."""
        from crisislab.analysis import check_fit
        from crisislab.crisis import parse_grid
        from crisislab.simulation import progress_wanted

        if timeline and len(timeline) > 1:
            raise UserError("--timeline: fit-check holds the scenario against one record at a time")
        _check_timelines(timeline)
        for name, v, least in (("--runs", runs, 1), ("--draws", draws, 0), ("--period-days", period_days, 1),
                               ("--rank-records", rank_records, 0), ("--workers", workers, 1)):
            if v is not None and v < least:
                raise UserError(f"{name}: must be an integer >= {least} (got {v})")
        if draw_runs is not None and draw_runs < 2:
            raise UserError(f"--draw-runs: must be an integer >= 2 (got {draw_runs})")
        grid_arg = parse_grid(grid)
        sc = _load(scenario)
        if period_days is not None and sc.calendar is None:
            raise UserError(f"--period-days: scenario {sc.id} has no calendar, so its rounds have no dates "
                            "(without it the intensity is compared round by round)")
        fc = check_fit(sc, None, timeline[0] if timeline else None, grid=grid_arg, runs=runs, draws=draws, draw_runs=draw_runs,
                       seed=seed, period_days=14 if period_days is None else period_days, rank_records=rank_records, workers=workers,
                       progress=progress_wanted(json_output))
        if json_output:
            typer.echo(json_dumps(fc.to_json()))
            return
        _print_fit_check(fc, Console(soft_wrap=True, emoji=False))
