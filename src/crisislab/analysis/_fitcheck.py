"""Does the model fit the record? Four checks of a solved scenario against its observed record.

`check_fit` answers, in one call (`crisislab fit-check`):

1. **Ending early.** The probability that the model ends the crisis before the record ends, given
   the record up to each move (the exact forward pass of `replay`: the record is conditioned on,
   never re-drawn). A model that would almost surely have ended the crisis is refuted by a record
   that went on.
2. **Typicality.** The record's rank among simulated records of the same length, observed the same
   way and scored by the same forward pass: the share of them less probable than the record.
   Extreme ranks (below 5% or above 95%) mean the record is unlike what the model produces.
3. **The outcome.** The record's own outcome (the one it ended with, or, when it stops before any
   outcome, the crisis still unresolved: the horizon outcome) against the simulated outcome shares
   at the scenario's values and across draws of its estimated parameters over their intervals
   (`Scenario.sample_parameters(only_estimated=True)`, each draw re-solved): is it the modal
   outcome, and how much probability does it get?
4. **Intensity.** The conflict intensity (each action's declared scale) by calendar period: the
   model's one-step-ahead expectation along the record against the record's own, compared by rank
   correlation (Spearman) over the periods; the unconditional expectation (simulated runs still
   going) is the baseline a model that ignores the record would reach.

Nothing here is tuned: the thresholds quoted in the summary are conventions (5%/95% for an extreme
rank, 10% for ending early), reported beside the numbers rather than instead of them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crisislab import _progress
from crisislab.analysis._claims import evaluate_claims_and_draws, make_runner
from crisislab.analysis._record import observe
from crisislab.analysis._replay import DEFAULT_RANK_RECORDS, load_record, replay_record
from crisislab.analysis._stats import wilson_interval
from crisislab.errors import UserError

__all__ = ["FitCheck", "check_fit"]

ENDED_EARLY_LIMIT = 0.10
RANK_BAND = (0.05, 0.95)


def _spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from scipy.stats import spearmanr

    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return math.nan, math.nan
    r = spearmanr(x[ok], y[ok])
    return float(r.statistic), float(r.pvalue)


@dataclass(frozen=True)
class FitCheck:
    """The four checks of `check_fit` (module docstring).

    `loglik`, `p_ended_early`, `percentile`, `n_simulated`: the replay's. `observed_outcome`: the
    record's outcome (`observed_outcome_reason` says how it was read). `outcomes`: one row per
    outcome: `outcome`, `share` at the scenario's values (`runs` runs), its Wilson interval
    `ci_low`/`ci_high`, and over the parameter draws `draw_min`, `draw_median`, `draw_max`,
    `draw_modal` (share of draws where it is the most frequent outcome). `draws`: one row per draw
    (the estimated parameters' values and the shares). `estimated`: the parameters drawn.
    `periods`: intensity by calendar period (`TimelineReplay.intensity_by_period`: `period`,
    `start`, `end`, `days_covered`) with `expected` (one step
    ahead along the record), `observed` and `unconditional`. `rho_expected` / `rho_unconditional`:
    Spearman correlation of each with `observed` over the periods (and p-values).
    """

    scenario_id: str
    record: str
    loglik: float
    p_ended_early: float
    percentile: float
    n_simulated: int
    observed_outcome: str
    observed_outcome_reason: str
    outcomes: pd.DataFrame
    draws: pd.DataFrame
    estimated: tuple[str, ...]
    runs: int
    period_days: int
    periods: pd.DataFrame
    rho_expected: float
    p_expected: float
    rho_unconditional: float
    p_unconditional: float
    seconds: float = 0.0

    @property
    def observed_share(self) -> float:
        row = self.outcomes[self.outcomes["outcome"] == self.observed_outcome]
        return float(row["share"].iloc[0]) if len(row) else math.nan

    @property
    def observed_modal(self) -> bool:
        return bool(self.outcomes.loc[self.outcomes["share"].idxmax(), "outcome"] == self.observed_outcome)

    def findings(self) -> list[tuple[str, str, bool | None]]:
        """(check, what was found, whether it passes the conventional threshold; None: not assessed)."""
        out: list[tuple[str, str, bool | None]] = [
            ("ending early", (f"the model ends the crisis before the record ends with probability {self.p_ended_early:.3g} "
                             f"(convention: under {ENDED_EARLY_LIMIT:.0%})"), self.p_ended_early < ENDED_EARLY_LIMIT),
        ]
        if math.isnan(self.percentile):
            out.append(("typicality", "not ranked (no simulated records)", None))
        else:
            lo, hi = RANK_BAND
            out.append(("typicality", (f"the record is more probable than {self.percentile:.0%} of {self.n_simulated} simulated records "
                                      f"of its length (convention: between {lo:.0%} and {hi:.0%})"), lo <= self.percentile <= hi))
        modal = self.outcomes.set_index("outcome")
        txt = (f"'{self.observed_outcome}' ({self.observed_outcome_reason}) has share {self.observed_share:.3f} at the scenario's values"
               f"{' and is' if self.observed_modal else ', not'} the most frequent outcome")
        if len(self.draws):
            dm = float(modal.loc[self.observed_outcome, "draw_modal"])
            txt += (f"; over {len(self.draws)} draws of the estimated parameters its share runs "
                    f"{modal.loc[self.observed_outcome, 'draw_min']:.3f}–{modal.loc[self.observed_outcome, 'draw_max']:.3f} "
                    f"and it is modal in {dm:.0%} of them")
        out.append(("outcome", txt, self.observed_modal))
        if math.isnan(self.rho_expected):
            out.append(("intensity", "not assessed (fewer than three periods, or a constant series)", None))
        else:
            span = f"periods of {self.period_days} days" if self.period_days else "rounds"
            out.append(("intensity", (f"over {len(self.periods)} {span}, Spearman ρ = {self.rho_expected:+.2f} "
                                     f"(p = {self.p_expected:.2g}) between the model's one-step expectation and the record's own intensity; "
                                     f"the unconditional expectation reaches ρ = {self.rho_unconditional:+.2f}"), self.rho_expected > 0))
        return out

    def to_json(self) -> dict[str, Any]:
        def num(x: Any) -> float | None:
            x = float(x)
            return x if math.isfinite(x) else None

        return {
            "scenario": self.scenario_id,
            "record": self.record,
            "loglik": num(self.loglik),
            "p_ended_early": num(self.p_ended_early),
            "percentile": num(self.percentile),
            "simulated_records": self.n_simulated,
            "observed_outcome": self.observed_outcome,
            "observed_outcome_reason": self.observed_outcome_reason,
            "runs": self.runs,
            "outcomes": [{k: (num(v) if isinstance(v, float | np.floating) else v) for k, v in row.items()}
                         for row in self.outcomes.to_dict("records")],
            "estimated": list(self.estimated),
            "draws": [{k: (num(v) if isinstance(v, float | np.floating) else v) for k, v in row.items()}
                      for row in self.draws.to_dict("records")],
            "period_days": self.period_days,
            "periods": [{k: (num(v) if isinstance(v, float | np.floating) else v) for k, v in row.items()}
                        for row in self.periods.to_dict("records")],
            "rho_expected": num(self.rho_expected), "p_expected": num(self.p_expected),
            "rho_unconditional": num(self.rho_unconditional), "p_unconditional": num(self.p_unconditional),
            "findings": [{"check": c, "finding": f, "passes": p} for c, f, p in self.findings()],
            "seconds": self.seconds,
        }


def check_fit(
    scenario: Any,
    policy: Any = None,
    record: Any = None,
    *,
    grid: int | str = "auto",
    runs: int = 20_000,
    draws: int = 10,
    draw_runs: int | None = None,
    seed: int = 0,
    period_days: int = 14,
    rank_records: int = DEFAULT_RANK_RECORDS,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
) -> FitCheck:
    """The four checks of the module docstring for `scenario` against `record` (None: the record
    bundled with the scenario). `policy`: a solved `Solution`/`Policy` of the scenario as written,
    or None to solve on `grid`. `runs` simulated runs at the scenario's values; `draws` draws of
    its estimated parameters (0: none; skipped when nothing is estimated), each re-solved on the
    same grid and simulated with `draw_runs` runs (default runs // 4, at least 1000).
    `period_days`: the calendar period of the intensity comparison (without a calendar the periods
    are the rounds, and `period_days` is reported as 0).
    """
    t0 = time.perf_counter()
    for name, v in (("runs", runs), ("draws", draws), ("period_days", period_days), ("rank_records", rank_records)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < (1 if name in ("runs", "period_days") else 0):
            raise UserError(f"{name}: expected an integer ≥ {1 if name in ('runs', 'period_days') else 0} (got {v!r})")
    events = load_record(scenario, record)
    with _progress.shown(progress):
        runner = make_runner(scenario, "crisis" if policy is None else policy, grid, runs, seed, workers=workers,
                             scheduler=scheduler, progress=progress)  # fmt: skip
        pol = runner.policy
        from crisislab.model import lower

        model = lower(scenario)
        rec = observe(model, events)
        with _progress.phase("replaying the observed record"):
            rep = replay_record(scenario, model, pol, rec, seed=seed, rank_records=rank_records)
        with _progress.phase("simulating the scenario as written (chunks)"):
            base = runner.results([])
        estimated = tuple(p for p, prm in scenario.parameters_with_uncertainty()
                          if prm.estimated is not None and prm.estimated.tied_to is None)
        draw_table = pd.DataFrame()
        if draws and estimated:
            _, draw_table = evaluate_claims_and_draws(runner, [], robustness=int(draws), robustness_runs=draw_runs,
                                                      uncertain="estimated")  # fmt: skip
    if rec.end is not None:
        observed, why = model.outcomes[rec.end[2]], "the record ends with it"
    elif rec.rounds >= model.horizon:
        observed, why = model.outcomes[model.horizon_outcome], "the record reaches the horizon without an outcome"
    else:
        observed, why = model.outcomes[model.horizon_outcome], f"the record stops in round {rec.rounds} of {model.horizon} with the crisis unresolved"
    counts = base.outcome_counts()
    n = int(base.n_runs)
    rows = []
    share_cols = [f"P({o})" for o in model.outcomes]
    if len(draw_table):
        shares = draw_table.reindex(columns=share_cols, fill_value=0.0).to_numpy(np.float64)
        modal = shares.argmax(axis=1)
    for o, name in enumerate(model.outcomes):
        k = int(counts.get(name, 0))
        lo, hi = wilson_interval(k, n, 0.95)
        row = {"outcome": name, "share": k / n, "ci_low": float(lo), "ci_high": float(hi)}
        if len(draw_table):
            col = shares[:, o]
            row.update(draw_min=float(col.min()), draw_median=float(np.median(col)), draw_max=float(col.max()),
                       draw_modal=float((modal == o).mean()))
        else:
            row.update(draw_min=math.nan, draw_median=math.nan, draw_max=math.nan, draw_modal=math.nan)
        rows.append(row)
    cols = {"expected_intensity_total": "expected", "observed_intensity_total": "observed",
            "unconditional_intensity_total": "unconditional"}
    if scenario.calendar is not None:
        periods = rep.intensity_by_period(int(period_days)).rename(columns=cols)
    else:  # no calendar: the periods are the rounds
        rt = rep.rounds_table.rename(columns=cols).iloc[: rec.rounds]
        periods = pd.DataFrame({"period": rt["round"].astype(int), "start": "", "end": "", "days_covered": 0,
                                **{c: rt[c].astype(float) for c in cols.values()}}).reset_index(drop=True)
        period_days = 0
    periods = periods[["period", "start", "end", "days_covered", *cols.values()]]
    rho_e, p_e = _spearman(periods["expected"].to_numpy(), periods["observed"].to_numpy())
    rho_u, p_u = _spearman(periods["unconditional"].to_numpy(), periods["observed"].to_numpy())
    return FitCheck(
        scenario_id=scenario.id, record=rep.source, loglik=rep.loglik, p_ended_early=rep.p_ended_early, percentile=rep.percentile,
        n_simulated=rep.n_simulated, observed_outcome=observed, observed_outcome_reason=why, outcomes=pd.DataFrame(rows),
        draws=draw_table, estimated=estimated, runs=n, period_days=int(period_days), periods=periods,
        rho_expected=rho_e, p_expected=p_e, rho_unconditional=rho_u, p_unconditional=p_u, seconds=time.perf_counter() - t0,
    )  # fmt: skip
