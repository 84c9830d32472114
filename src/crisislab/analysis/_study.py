"""The study that `crisislab run` performs: solve, simulate, claims with robustness, the replay of the
observed record, and every table the report shows, as one frozen `Study`.

`run_study` computes; `crisislab.report.write_report(study, out_dir)` only formats and writes. Each
number in the report is a cell of one of the study's tables, computed from the same arrays that
are written to results.parquet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crisislab import _progress
from crisislab.analysis import _tables
from crisislab.analysis._claims import (
    DEFAULT_ROBUSTNESS_DRAWS,
    ClaimResult,
    evaluate_claims_and_draws,
    make_runner,
    robustness_table,
)
from crisislab.analysis._replay import TimelineReplay, replay_record
from crisislab.analysis._stats import wilson_interval
from crisislab.errors import UserError

__all__ = ["FAN_QUANTILES", "Study", "outcome_table", "run_study"]

FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_TOP_PATHS = 10


@dataclass(frozen=True)
class Study:
    """Everything one `run` produced, and the tables its report shows.

    `results`: the scenario as written (`crisislab.simulation.Results`). `claims`: evaluated claims.
    `replay`: the observed record scored by the model (None without a record).
    Report tables (pandas, one row per displayed row):
    `outcomes` (outcome, runs, probability, ci_low, ci_high: Wilson at `level`);
    `casualties` (quantity, mean_per_run); `fan` (round, mean, and one column per quantile in
    `FAN_QUANTILES` of the state variable `fan_var`); `beliefs` (round, then one column per
    "holder: P(about first-type)", the mean belief over all runs); `top_paths` (path, runs, share);
    `replay_beliefs` (round, date, one column per "holder: P(about first-type)", over the replays
    still going; None without a record); `intensity` (round, date, end, days: the round's first
    and last day and length, '' and 0 without a calendar; one column per mover, `total`,
    `alive`: the expected intensity of each mover's move on its action's declared scale, over the
    simulated runs still going; `Results.intensity_by_round`). `robustness`: the per-draw rows (`robustness_table`).
    `run_steps`: (run, move) pairs simulated for the scenario as written; `replay_choices`: moves
    the replay scores per replay (scripted rounds × movers; 0 without a record).

    What the report says about certainty and provenance: `outcomes` also has `draws`,
    `draws_low`, `draws_median`, `draws_high` (the share's smallest, median and largest value over
    the robustness draws, NaN without draws; `_tables.outcome_draw_summary`); `outcome_draws`: one
    row per draw (sampled parameters and outcome shares); `sensitivity`: each outcome share
    against each sampled parameter (Spearman ρ; `_tables.sensitivity_table`); `claim_flags`: the
    claims settled by how they are written (`_tables.claim_flags`); `diagnostics`: the solver's
    messages for the scenario as written; `sources` and `assumptions`: every source the scenario
    lists and every number it marks `assumption`; `round_dates`: the ISO start date of each round
    1..horizon + 1 ("" without a calendar); `casualties_left_out`: sides with no death in any run
    (not in `casualties`, whose columns are `quantity`, `mean_per_run`, `p_any` and
    `mean_if_<outcome>`).
    """

    scenario_id: str
    title: str
    description: str | None
    horizon: int
    runs: int
    seed: int
    solver: str
    provenance: dict[str, Any]
    level: float
    results: Any
    claims: tuple[ClaimResult, ...]
    replay: TimelineReplay | None
    outcomes: pd.DataFrame
    casualties: pd.DataFrame
    fan_var: str
    fan: pd.DataFrame
    beliefs: pd.DataFrame
    top_paths: pd.DataFrame
    replay_beliefs: pd.DataFrame | None
    robustness: pd.DataFrame
    run_steps: int
    replay_choices: int
    seconds: float = field(default=0.0, compare=False)
    outcome_draws: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False)
    sensitivity: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False)
    claim_flags: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False)
    diagnostics: tuple[str, ...] = ()
    sources: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False)
    assumptions: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False)
    round_dates: tuple[str, ...] = ()
    casualties_left_out: tuple[str, ...] = ()
    intensity: pd.DataFrame | None = None
    robustness_of: str = "all"

    def intensity_by_period(self, days: int = 14, start: Any = None) -> pd.DataFrame:
        """The simulated intensity by round (`intensity`: each mover's column and `total`) summed
        over periods of `days` days from `start` (default: round 1's first day), a round that
        straddles two periods split by its share of days (`_tables.sum_by_period`). UserError
        without a calendar or without the per-round table."""
        t = self.intensity
        if t is None or not len(t) or not str(t["date"].iloc[0]):
            raise UserError(f"intensity by period: study of {self.scenario_id} has no dated intensity by round "
                            "(the scenario needs a calendar)")
        cols = [c for c in t.columns if c not in ("round", "date", "end", "days", "alive")]
        return _tables.sum_by_period(t, cols, days, start, start_col="date")

    @property
    def claims_table(self) -> pd.DataFrame:
        """One row per claim (`ClaimResult.as_row`), as written to claims.csv."""
        return pd.DataFrame([c.as_row() for c in self.claims])

    def summary(self) -> dict[str, Any]:
        """Plain data for `run --json`: outcome shares, each claim's verdict, difference, interval
        and robustness, the replay's log-likelihood, percentile and probability of ending early, and
        the solver's diagnostics."""
        keys = ("claim", "verdict", "difference", "ci_low", "ci_high", "robustness", "robustness_low", "robustness_high",
                "robustness_fails", "robustness_cannot_fail", "robustness_draws", "influential", "influential_rho")  # fmt: skip
        r = self.replay
        return {
            "scenario": self.scenario_id,
            "runs": self.runs,
            "seed": self.seed,
            "seconds": self.seconds,
            "outcomes": dict(zip(self.outcomes["outcome"], self.outcomes["probability"].astype(float), strict=True)),
            "claims": [{k: v for k, v in c.as_row().items() if k in keys} for c in self.claims],
            "timeline_loglik": None if r is None else r.loglik,
            "timeline_percentile": None if r is None else r.percentile,
            "timeline_p_ended_early": None if r is None else r.p_ended_early,
            "diagnostics": list(self.diagnostics),
        }

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{o}</td><td>{p:.4f}</td><td>[{lo:.4f}, {hi:.4f}]</td></tr>"
                       for o, p, lo, hi in self.outcomes[["outcome", "probability", "ci_low", "ci_high"]].itertuples(index=False))  # fmt: skip
        claims = "".join(f"<tr><td>{c.id}</td><td>{c.verdict}</td><td>{c.estimate.diff:+.4f} [{c.estimate.ci_low:+.4f}, {c.estimate.ci_high:+.4f}]</td></tr>"
                         for c in self.claims)  # fmt: skip
        return (f"<b>Study of {self.scenario_id}</b>: {self.runs} runs, seed {self.seed}, {self.solver}"
                f"<table><tr><th>outcome</th><th>probability</th><th>{self.level:.0%} CI</th></tr>{rows}</table>"
                + (f"<table><tr><th>claim</th><th>verdict</th><th>difference</th></tr>{claims}</table>" if claims else ""))


def _fan_var(spec: Any) -> str:
    return "tension" if "tension" in spec.var_ids else spec.var_ids[0]


def _first_type_columns(spec: Any) -> list[tuple[str, int, int]]:
    """(label, holder index, belief column) of each holder's belief in each other actor's first type."""
    cols = []
    for h, holder in enumerate(spec.actors):
        for j, about in enumerate(spec.actors):
            if j != h:
                cols.append((f"{holder}: P({about} {spec.types[j][0]})", h, spec.belief_slices[j].start))
    return cols


def outcome_table(results: Any, level: float = 0.95) -> pd.DataFrame:
    """Runs per outcome, the share and its Wilson interval at `level` (scenario's outcome order)."""
    counts = results.outcome_counts()
    n = results.n_runs
    lo, hi = wilson_interval(counts.to_numpy(), n, level)
    return pd.DataFrame({"outcome": list(counts.index), "runs": counts.to_numpy().astype(np.int64),
                         "probability": counts.to_numpy() / n, "ci_low": lo, "ci_high": hi})  # fmt: skip


def _tables_of(results: Any, replay: TimelineReplay | None, level: float) -> dict[str, Any]:
    spec = results.spec
    casualties, left_out = _tables.casualty_table(results)
    dates = _tables.round_dates(spec, spec.horizon + 1)
    var = _fan_var(spec)
    q = results.state_quantiles(var, FAN_QUANTILES)
    fan = pd.DataFrame({"round": np.arange(q.shape[0]), "date": dates[: q.shape[0]], "mean": results.state_mean(var)})
    for i, level_q in enumerate(FAN_QUANTILES):
        fan[f"q{level_q:g}"] = q[:, i]
    cols = _first_type_columns(spec)
    beliefs = pd.DataFrame({"round": np.arange(results.belief_mean.shape[0]), "date": dates[: results.belief_mean.shape[0]]})
    for label, h, c in cols:
        beliefs[label] = results.belief_mean[:, h, c]
    paths = results.top_paths(_TOP_PATHS)
    top = pd.DataFrame({"path": [p for p, _ in paths], "runs": [c for _, c in paths],
                        "share": [c / results.n_runs for _, c in paths]})  # fmt: skip
    replay_beliefs = None
    if replay is not None:
        b = replay.beliefs
        b = b.assign(col=b["holder"] + ": P(" + b["about"] + " " + b["type"] + ")")
        first_types = {a: t[0] for a, t in zip(spec.actors, spec.types, strict=True)}
        b = b[b["type"] == b["about"].map(first_types)]
        replay_beliefs = b.pivot_table(index=["round", "date"], columns="col", values="belief", sort=True).reset_index()
        replay_beliefs.columns.name = None
    return {"outcomes": outcome_table(results, level), "casualties": casualties, "fan_var": var, "fan": fan,
            "beliefs": beliefs, "top_paths": top, "replay_beliefs": replay_beliefs, "round_dates": tuple(dates),
            "casualties_left_out": tuple(left_out)}  # fmt: skip


def _record(scenario: Any, record: Any) -> pd.DataFrame | None:
    from crisislab.data import bundled_timeline, load_timeline

    if record is False:
        return None
    if record is None:
        path = bundled_timeline(scenario.id)
        return None if path is None else load_timeline(path, scenario)
    if isinstance(record, pd.DataFrame):
        return record
    from crisislab._output import check_input_file

    check_input_file(record, option="record")
    return load_timeline(Path(record), scenario)


def run_study(
    scenario: Any,
    *,
    runs: int = 10_000,
    seed: int = 0,
    policy: Any = "crisis",
    grid: int | str = "auto",
    robustness: int = DEFAULT_ROBUSTNESS_DRAWS,
    robustness_runs: int | None = None,
    record: Any = None,
    rank_records: int | None = None,
    workers: int = 1,
    chunk: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    level: float = 0.95,
    on_step: Callable[[str], None] | None = None,
    uncertain: str = "all",
    readout: str = "table",
    selection: str = "continuation",
) -> Study:
    """Solve `scenario`, simulate it as written (`runs` runs, `seed`), evaluate every claim with
    `robustness` parameter draws (each with `robustness_runs` runs per arm, default runs // 4 and at
    least 1000; 0 turns robustness off), and replay the observed record. `uncertain`: which
    parameters the draws vary, "all" with a stated uncertainty or only those "estimated" from a
    record (`evaluate_claims_and_draws`).

    `policy`: "crisis" (the crisis engine's logit QRE on a `grid`-point belief grid; "auto" picks
    the finest grid within the solver's work budget), "myopic", a solved `Solution` of the
    scenario as written (what `crisislab.solve` returns), or a function `solve(scenario) ->
    Policy` (see `make_runner`). `record`: None for the record
    bundled with the scenario (`<id>-timeline.csv`, if any), a path to a record CSV, a table from
    `crisislab.data.load_timeline`, or False for no replay; `rank_records` simulated records
    ranked against it (default `crisislab.analysis.replay`'s). `workers`/`scheduler` distribute
    simulation chunks and robustness draws (results do not depend on them). `on_step(message)` is
    called as each stage starts (for progress messages). `progress`: show each phase (compile,
    solve, simulations, robustness draws, replay) as a bar on stderr. `readout`: how the crisis
    policy reads strategies between belief nodes ("table", or "resolve": each move's stage solved at
    the run's beliefs, in the simulations, the claims and the replay; `crisislab.simulate`).
    `selection`: the stage fixed point the crisis engine keeps (`crisislab.crisis.solve`'s), in every
    solve of the study.
    """
    if int(robustness) < 0:
        raise UserError(f"robustness: must be an integer >= 0 parameter draws (0 turns robustness off; got {robustness})")
    if robustness_runs is not None and int(robustness_runs) < 2:
        raise UserError(f"robustness_runs: must be an integer >= 2 runs per draw (got {robustness_runs})")
    with _progress.shown(progress):
        return _run_study(scenario, runs, seed, policy, grid, robustness, robustness_runs, record, workers, chunk, scheduler,
                          progress, level, on_step, rank_records, uncertain, readout, selection)  # fmt: skip


def _run_study(
    scenario: Any, runs: int, seed: int, policy: Any, grid: int | str, robustness: int, robustness_runs: int | None,
    record: Any, workers: int, chunk: int | None, scheduler: str | None, progress: bool, level: float,
    on_step: Callable[[str], None] | None, rank_records: int | None = None, uncertain: str = "all",
    readout: str = "table", selection: str = "continuation",
) -> Study:  # fmt: skip
    from crisislab.model.rules import DEFAULT_CHUNK

    step = on_step or (lambda _msg: None)
    t0 = time.perf_counter()
    tl = _record(scenario, record)
    runner = make_runner(scenario, policy, grid, runs, seed, readout=readout, selection=selection, workers=workers,
                         chunk=DEFAULT_CHUNK if chunk is None else chunk, progress=progress, scheduler=scheduler)  # fmt: skip
    step("solving and simulating the scenario as written")
    pol = runner.policy  # compile and solve first: their own phases
    with _progress.phase("simulating the scenario as written (chunks)"):
        base = runner.results([])
    claims: list[ClaimResult] = []
    outcome_draws = pd.DataFrame()
    if scenario.claims:
        step(f"evaluating {len(scenario.claims)} claims" + (f" with {robustness} robustness draws" if robustness else ""))
        claims, outcome_draws = evaluate_claims_and_draws(runner, robustness=robustness, robustness_runs=robustness_runs,
                                                          level=level, uncertain=uncertain)  # fmt: skip
    replay = None
    if tl is not None:
        step("replaying the observed record")
        from crisislab.analysis._record import observe
        from crisislab.model import lower

        model = lower(scenario)
        from crisislab.analysis._replay import DEFAULT_RANK_RECORDS

        with _progress.phase("replaying the observed record"):
            replay = replay_record(scenario, model, pol, observe(model, tl), seed=seed,
                                   rank_records=DEFAULT_RANK_RECORDS if rank_records is None else int(rank_records))
    tables = _tables_of(base, replay, level)
    tables["outcomes"] = _tables.outcome_draw_summary(tables["outcomes"], outcome_draws)
    if base.rounds_taken is not None:
        from crisislab.analysis._replay import intensities
        from crisislab.model import lower as _lower

        inten = base.intensity_by_round(intensities(scenario, _lower(scenario)))
        starts, ends, lengths = _tables.round_spans(base.spec, len(inten))
        inten.insert(1, "date", starts)
        inten.insert(2, "end", ends)
        inten.insert(3, "days", lengths)
        tables["intensity"] = inten
    solution = getattr(pol, "solution", None)
    return Study(
        scenario_id=scenario.id, title=scenario.title or scenario.id, description=scenario.description,
        horizon=scenario.horizon, runs=runs, seed=seed, solver=getattr(pol, "description", type(pol).__name__),
        provenance=runner.provenance, level=level, results=base, claims=tuple(claims), replay=replay,
        robustness=robustness_table(claims), run_steps=base.run_steps,
        replay_choices=0 if replay is None else replay.rounds * len(replay.observed_actors),
        seconds=time.perf_counter() - t0, **tables, outcome_draws=outcome_draws,
        sensitivity=_tables.sensitivity_table(outcome_draws), robustness_of=uncertain, claim_flags=_tables.claim_flags(claims),
        diagnostics=tuple(getattr(solution, "diagnostics", ()) or ()), sources=_tables.source_table(scenario),
        assumptions=_tables.assumption_table(scenario),
    )  # fmt: skip
