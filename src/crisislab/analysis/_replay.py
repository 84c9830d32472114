"""The observed record scored by the model: its exact likelihood and what the filter sees along it.

`replay` reads a record (`docs/replay.md`: the CSV columns and the rules that turn dated events into
moves), runs the forward pass of `crisislab.analysis._filter` under a solved policy and reports:

- the log-likelihood of the record, in total and per round (the sum over rounds is the total);
- the probability that the model ends the crisis before the record ends, by round and outcome
  (given the record up to each move: the record is not re-drawn, its moves are conditioned on);
- the holders' expected beliefs after each round and the posterior of each actor's true type;
- the conflict intensity by round on each action's declared scale: the model's one-step-ahead
  expectation (each move given everything the record shows before it), the record's own (the sum of
  its events' intensities), and the unconditional expectation (simulated runs still going);
- proper scores of the one-step-ahead forecasts against two baselines (`_scores`);
- the record's rank among simulated records of the same length observed the same way and scored
  by the same forward pass: the share of them that are less probable than the record.

Accuracy: configurations whose beliefs agree within `belief_tol` are merged (`_filter`); with
`belief_tol=0` the pass is exact (only identical configurations merge). The default's effect on
the flagship's log-likelihood is measured in `benchmarks/bench_replay.py`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crisislab.analysis._filter import FilterResult, forward, sample_records
from crisislab.analysis._record import Record, observe
from crisislab.analysis._scores import move_scores, score_table
from crisislab.analysis._tables import round_dates, round_spans, sum_by_period
from crisislab.errors import UserError
from crisislab.model import Model
from crisislab.simulation import Policy

__all__ = ["DEFAULT_BELIEF_TOL", "TimelineReplay", "intensities", "load_record", "rank_share", "replay", "replay_record", "simulate_records"]

DEFAULT_BELIEF_TOL = 0.01
# Simulated records ranked against the observed one (each a forward pass of its own), and the
# coarser merging they are scored with (the rank needs log-likelihoods to ~0.01, not 1e-6).
DEFAULT_RANK_RECORDS = 100
RANK_BELIEF_TOL = 0.05
# Simulated runs for the unconditional intensity by round.
INTENSITY_RUNS = 4000


def rank_share(sim: np.ndarray, obs: np.ndarray) -> float:
    """Share of (obs, sim) pairs with sim < obs, ties counting half (NaN if either is empty);
    -inf entries are ordinary values here (a path the model rules out is less likely than any)."""
    sim, obs = np.asarray(sim, float), np.asarray(obs, float)
    if sim.size == 0 or obs.size == 0:
        return float("nan")
    s = np.sort(sim)
    below = np.searchsorted(s, obs, side="left")
    ties = np.searchsorted(s, obs, side="right") - below
    return float((below + 0.5 * ties).sum() / (s.size * obs.size))


def round_start(model: Model, r: int) -> str:
    """ISO date of the first day of round r ('' without a calendar)."""
    return round_dates(model, r)[r - 1]


def intensities(scenario: Any, model: Model) -> np.ndarray:
    """float64 `(n_actions,)`: each action's declared intensity (NaN where none is declared)."""
    declared = {a.id: (float(a.intensity.value) if a.intensity is not None else np.nan) for a in scenario.actions}
    return np.array([declared.get(a.id, np.nan) for a in model.actions])


@dataclass(frozen=True)
class TimelineReplay:
    """An observed record scored by a solved scenario (module docstring).

    `loglik`: natural log-likelihood of the record (-inf when the model rules it out; `impossible`
    then says where). `rounds_table`: one row per round: `round`, `start`, `end` (ISO first and
    last day, or ''), `days` (its length; 0 without a calendar), `loglik`, `p_end` (probability the model ends the crisis in that round) and `p_end_<outcome>`,
    `expected_intensity_<actor>` / `_total` (one-step-ahead), `observed_intensity_<actor>` /
    `_total` (the record's events), `unconditional_intensity_<actor>` / `_total` (simulated runs
    still going) and `alive` (their share). `p_ended_early`: probability the model ends the crisis
    before the record ends. `beliefs`: long table (round, date, holder, about, type, belief).
    `type_posterior`: (round, date, actor, type, probability). `scores`: per predictor and
    sample (`_scores.score_table`); `move_scores`: per move. `percentile`: share of simulated records
    of the same length less probable than this one (ties half; NaN without any); `sim_loglik`
    their log-likelihoods; `rank_loglik` the record's own, scored as they are. `n_configs`: the
    largest number of hidden configurations the filter carried. `reread`: a sentence for each
    event that repeats a step its actor already took and the state no longer offers, read as the
    actor's next move (docs/replay.md).
    """

    scenario_id: str
    source: str
    events: pd.DataFrame
    rounds: int
    loglik: float
    rounds_table: pd.DataFrame
    p_ended_early: float
    beliefs: pd.DataFrame
    type_posterior: pd.DataFrame
    scores: pd.DataFrame
    move_scores: pd.DataFrame
    percentile: float
    sim_loglik: np.ndarray
    rank_loglik: float
    n_simulated: int
    impossible: str | None
    unmodelled: tuple[tuple[int, str, int], ...]
    observed_actors: tuple[str, ...]
    unobserved_actors: tuple[str, ...]
    belief_tol: float
    n_configs: int
    seconds: float = 0.0
    extra: dict = field(default_factory=dict, compare=False)
    reread: tuple[str, ...] = ()

    @property
    def n_events(self) -> int:
        return int(len(self.events))

    def intensity_by_period(self, days: int = 14, start: Any = None) -> pd.DataFrame:
        """The intensity columns of `rounds_table` summed over fixed periods of `days` days from
        `start` (default: round 1's first day), for comparison with an outside daily or weekly
        event series: one row per period (`period`, `start`, `end`, `days_covered`, then
        `expected_intensity_<actor>` / `_total`, `observed_intensity_…`, `unconditional_intensity_…`).
        The model's columns are per-round expectations summed over the rounds, a round that
        straddles two periods split by its share of days (`sum_by_period`); the record's column
        sums its events by their own dates where the record has dates. UserError without a calendar."""
        t = self.rounds_table
        if not len(t) or not str(t["start"].iloc[0]):
            raise UserError(f"intensity by period: scenario {self.scenario_id} has no calendar, so rounds have no dates "
                            "(add `calendar` to the scenario, or compare by round)")
        cols = [c for c in t.columns if c.startswith(("expected_intensity_", "observed_intensity_", "unconditional_intensity_"))]
        out = sum_by_period(t, cols, days, start)
        ev = self.events
        if len(out) and "date" in ev.columns and "intensity" in ev.columns and ev["date"].notna().all():
            first = pd.Timestamp(out["start"].iloc[0]).date()
            actors = [c[len("observed_intensity_"):] for c in cols if c.startswith("observed_intensity_") and c != "observed_intensity_total"]
            obs = np.zeros((len(out), len(actors)))
            for row in ev.itertuples(index=False):
                if not 1 <= int(row.round) <= self.rounds or row.actor not in actors:
                    continue
                k = (pd.Timestamp(row.date).date() - first).days // int(days)
                v = float(row.intensity)
                if 0 <= k < len(out) and not math.isnan(v):
                    obs[k, actors.index(row.actor)] += v
            for i, a in enumerate(actors):
                out[f"observed_intensity_{a}"] = obs[:, i]
            out["observed_intensity_total"] = obs.sum(axis=1)
        return out

    def to_json(self, period_days: int | None = None, period_start: Any = None) -> dict[str, Any]:
        """The JSON of `crisislab replay --json` (with `period_days`, also `periods`: the
        intensity summed over periods of that many days, `intensity_by_period`)."""
        actors = [c[len("expected_intensity_"):] for c in self.rounds_table.columns if c.startswith("expected_intensity_")]
        rounds = []
        for row in self.rounds_table.itertuples(index=False):
            d = row._asdict()
            b = self.beliefs[self.beliefs["round"] == d["round"]]
            rounds.append({
                "round": int(d["round"]),
                "start": d["start"] or None,
                "end": d["end"] or None,
                "days": int(d["days"]) or None,
                "loglik": _num(d["loglik"]),
                "p_end": _num(d["p_end"]),
                "expected_intensity": {a: _num(d[f"expected_intensity_{a}"]) for a in actors},
                "observed_intensity": {a: _num(d[f"observed_intensity_{a}"]) for a in actors},
                "unconditional_intensity": {a: _num(d[f"unconditional_intensity_{a}"]) for a in actors},
                "beliefs": {f"{h}:{ab}:{t}": _num(v) for h, ab, t, v in zip(b["holder"], b["about"], b["type"], b["belief"], strict=True)},
            })
        return {
            "scenario": self.scenario_id,
            "record": self.source,
            "events": self.n_events,
            "loglik": _num(self.loglik),
            "p_ended_early": _num(self.p_ended_early),
            "p_ended_early_by_outcome": {c[len("p_end_"):]: _num(float(self.rounds_table[c].sum()))
                                         for c in self.rounds_table.columns if c.startswith("p_end_")},
            "percentile": _num(self.percentile),
            "simulated_records": self.n_simulated,
            "impossible": self.impossible,
            "reread": list(self.reread),
            "observed_actors": list(self.observed_actors),
            "unobserved_actors": list(self.unobserved_actors),
            "unmodelled_casualties": [{"line": ln, "column": c, "count": n} for ln, c, n in self.unmodelled],
            "belief_tol": self.belief_tol,
            "configurations": self.n_configs,
            "scores": {p: {s: {"moves": int(m), "log_score": _num(ls), "brier": _num(br)}
                           for s, m, ls, br in zip(g["sample"], g["moves"], g["log_score"], g["brier"], strict=True)}
                       for p, g in self.scores.groupby("predictor", sort=False)},
            "type_posterior": {f"{a}:{t}": _num(v) for a, t, v in
                               self.type_posterior[self.type_posterior["round"] == self.rounds][["actor", "type", "probability"]].itertuples(index=False)},
            "rounds": rounds,
            **({} if period_days is None else {"periods": self._periods_json(period_days, period_start)}),
        }

    def _periods_json(self, days: int, start: Any) -> dict[str, Any]:
        t = self.intensity_by_period(days, start)
        actors = [c[len("expected_intensity_"):] for c in t.columns if c.startswith("expected_intensity_")]
        return {
            "days": int(days),
            "rows": [{
                "period": int(d["period"]), "start": d["start"], "end": d["end"], "days_covered": int(d["days_covered"]),
                **{f"{kind}_intensity": {a: _num(d[f"{kind}_intensity_{a}"]) for a in actors}
                   for kind in ("expected", "observed", "unconditional")},
            } for d in t.to_dict("records")],
        }

    def _repr_html_(self) -> str:
        rank = ("not ranked (no simulated records)" if self.percentile != self.percentile else
                f"more probable than {self.percentile:.1%} of {self.n_simulated} simulated records of the same length")
        return (f"<div><b>Observed record</b> ({self.source}): {self.n_events} events over {self.rounds} rounds; "
                f"log-likelihood {self.loglik:.2f}; the model ends the crisis before the record ends with probability "
                f"{self.p_ended_early:.1%}; {rank}"
                f"{'; ' + self.impossible if self.impossible else ''}</div>")


def _num(x: Any) -> float | None:
    """A number for strict JSON: a non-finite one (the log-likelihood of a record the model rules
    out is -inf; `impossible` then says where) is null, as `crisislab._json` writes them."""
    x = float(x)
    return x if math.isfinite(x) else None


def load_record(scenario: Any, record: Any) -> pd.DataFrame:
    """A record as an event table: None → the record bundled with the scenario, a path → read
    and checked, a DataFrame → as is."""
    from crisislab.data import bundled_timeline, load_timeline

    if record is None:
        path = bundled_timeline(scenario.id)
        if path is None:
            raise UserError(f"record: crisislab bundles no record for scenario {scenario.id!r}; give a record CSV (--timeline FILE, or the record argument in Python)")
        return load_timeline(path, scenario)
    if isinstance(record, pd.DataFrame):
        return record
    return load_timeline(record, scenario)


def replay_record(
    scenario: Any,
    model: Model,
    policy: Policy,
    record: Record,
    *,
    belief_tol: float = DEFAULT_BELIEF_TOL,
    rank_records: int = DEFAULT_RANK_RECORDS,
    intensity_runs: int = INTENSITY_RUNS,
    seed: int = 0,
    fit_rounds: int | None = None,
) -> TimelineReplay:
    """Score `record` under `policy` (module docstring)."""
    import time

    t0 = time.perf_counter()
    inten = intensities(scenario, model)
    res = forward(model, policy, record, intensity=inten, belief_tol=belief_tol)
    sim_ll = np.zeros(0)
    rank_ll = float("nan")
    n_sim = 0
    if rank_records > 0 and res.impossible is None:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5EC0]))
        sims, _ = sample_records(model, policy, record, rank_records, rng)
        sim_ll = np.array([forward(model, policy, s, belief_tol=RANK_BELIEF_TOL).loglik for s in sims])
        rank_ll = forward(model, policy, record, belief_tol=RANK_BELIEF_TOL).loglik if belief_tol != RANK_BELIEF_TOL else res.loglik
        n_sim = len(sims)
    percentile = rank_share(sim_ll, np.array([rank_ll])) if n_sim else float("nan")
    uncond = _unconditional_intensity(model, policy, inten, record.rounds, intensity_runs, seed) if intensity_runs > 0 else None
    table = _rounds_table(model, record, res, inten, uncond)
    per_move = move_scores(res.forecasts, [m.id for m in model.movers], fit_rounds)
    impossible = None
    if res.impossible is not None:
        r, mi, lines = res.impossible
        where = f"lines {', '.join(map(str, lines))}" if lines else "no event (the default move)"
        impossible = (f"the model rules the record out at round {r} ({round_start(model, r) or 'no calendar'}), "
                      f"move of {model.movers[mi].id} ({where})")
    return TimelineReplay(
        scenario_id=model.scenario_id,
        source=record.source,
        events=record.events,
        rounds=record.rounds,
        loglik=res.loglik,
        rounds_table=table,
        p_ended_early=float(res.ended.sum()),
        beliefs=_beliefs_table(model, res),
        type_posterior=_types_table(model, res),
        scores=score_table(per_move),
        move_scores=per_move,
        percentile=percentile,
        sim_loglik=sim_ll,
        rank_loglik=rank_ll,
        n_simulated=n_sim,
        impossible=impossible,
        unmodelled=record.unmodelled,
        observed_actors=tuple(m.id for m, o in zip(model.movers, record.observed, strict=True) if o),
        unobserved_actors=tuple(m.id for m, o in zip(model.movers, record.observed, strict=True) if not o),
        belief_tol=belief_tol,
        n_configs=res.n_configs,
        seconds=time.perf_counter() - t0,
        reread=tuple(
            f"{model.movers[mi].id}, round {r} ({round_start(model, r) or 'no calendar'}): {model.actions[g].id} "
            f"(lines {', '.join(map(str, lines))}) repeats a step it already took, which the state no longer offers: "
            f"read as {model.actions[g2].id}"
            for r, mi, lines, g, g2 in dict.fromkeys(res.reread)),
    )


def _unconditional_intensity(model: Model, policy: Policy, inten: np.ndarray, rounds: int, runs: int, seed: int) -> pd.DataFrame:
    """Mean intensity of each mover's move by round over simulated runs still going, and the share still going."""
    from crisislab.simulation import simulate_model

    short = model.with_horizon(rounds)
    res = simulate_model(short, policy, runs, seed, paths=True, record_actions=False, label="simulating (intensity)")
    p = res.paths
    codes = p["action"].cat.codes.to_numpy()
    vals = np.append(np.nan_to_num(inten), 0.0)[np.where(codes < 0, len(inten), codes)]
    df = pd.DataFrame({"round": p["round"].to_numpy(), "actor": p["actor"].astype(str).to_numpy(), "intensity": vals})
    n_alive = df[df["actor"] == model.movers[0].id].groupby("round").size()
    mean = df.groupby(["round", "actor"])["intensity"].sum().unstack("actor").div(n_alive, axis=0)
    mean["alive"] = n_alive / runs
    return mean


def _rounds_table(model: Model, record: Record, res: FilterResult, inten: np.ndarray, uncond: pd.DataFrame | None) -> pd.DataFrame:
    movers = [m.id for m in model.movers]
    R = record.rounds
    exp = np.zeros((R, len(movers)))
    for fc in res.forecasts:
        exp[fc.round - 1, fc.mover] = fc.intensity
    obs = np.zeros((R, len(movers)))
    ev = record.events
    if "intensity" in ev.columns:
        for row in ev.itertuples(index=False):
            if 1 <= int(row.round) <= R and row.actor in movers:
                v = float(row.intensity)
                obs[int(row.round) - 1, movers.index(row.actor)] += 0.0 if math.isnan(v) else v
    rows = []
    starts, ends, lengths = round_spans(model, R)
    for r in range(1, R + 1):
        d: dict[str, Any] = {"round": r, "start": starts[r - 1], "end": ends[r - 1], "days": lengths[r - 1], "loglik": res.round_loglik[r - 1] if r - 1 < res.round_loglik.size else np.nan,
                             "p_end": float(res.ended[r - 1].sum())}
        for o, name in enumerate(model.outcomes):
            if o != model.horizon_outcome:
                d[f"p_end_{name}"] = float(res.ended[r - 1, o])
        for k, a in enumerate(movers):
            d[f"expected_intensity_{a}"] = exp[r - 1, k]
        d["expected_intensity_total"] = exp[r - 1].sum()
        for k, a in enumerate(movers):
            d[f"observed_intensity_{a}"] = obs[r - 1, k]
        d["observed_intensity_total"] = obs[r - 1].sum()
        for a in movers:
            d[f"unconditional_intensity_{a}"] = float(uncond[a].get(r, np.nan)) if uncond is not None and a in uncond else np.nan
        d["unconditional_intensity_total"] = float(np.nansum([d[f"unconditional_intensity_{a}"] for a in movers])) if uncond is not None else np.nan
        d["alive"] = float(uncond["alive"].get(r, 0.0)) if uncond is not None else np.nan
        rows.append(d)
    return pd.DataFrame(rows)


def _beliefs_table(model: Model, res: FilterResult) -> pd.DataFrame:
    rows = []
    for r in range(res.beliefs.shape[0]):
        for h, holder in enumerate(model.actors):
            for j, about in enumerate(model.actors):
                if j == h:
                    continue
                sl = model.belief_slices[j]
                for t, tid in enumerate(model.types[j]):
                    rows.append({"round": r, "date": round_start(model, r + 1), "holder": holder, "about": about, "type": tid,
                                 "belief": float(res.beliefs[r, h, sl.start + t])})
    return pd.DataFrame(rows, columns=["round", "date", "holder", "about", "type", "belief"])


def _types_table(model: Model, res: FilterResult) -> pd.DataFrame:
    rows = []
    for r in range(res.types.shape[0]):
        for j, actor in enumerate(model.actors):
            for t, tid in enumerate(model.types[j]):
                rows.append({"round": r, "date": round_start(model, r + 1), "actor": actor, "type": tid, "probability": float(res.types[r, j, t])})
    return pd.DataFrame(rows, columns=["round", "date", "actor", "type", "probability"])


def replay(
    scenario: Any,
    policy: Any = None,
    record: Any = None,
    *,
    grid: int | str = "auto",
    belief_tol: float = DEFAULT_BELIEF_TOL,
    rank_records: int = DEFAULT_RANK_RECORDS,
    intensity_runs: int = INTENSITY_RUNS,
    seed: int = 0,
    unobserved: Iterable[str] = (),
    observed: Iterable[str] = (),
    deaths: Mapping[str, str] | None = None,
    until: Any = None,
    fit_until: Any = None,
) -> TimelineReplay:
    """Score an observed record of `scenario` under a solved policy (`TimelineReplay`).

    `policy`: what `crisislab.solve(scenario)` returns, any simulator `Policy`, or None to solve
    here on `grid`. `record`: a record CSV path, a table from `crisislab.data.load_timeline`, or
    None for the record bundled with the scenario. `unobserved` / `observed`: actors whose moves
    the record does (not) observe, overriding the default (an actor is observed when the record
    mentions it). `deaths`: casualty side → record column (default `deaths_<side>`). `until`: the
    last date (or round) of the record to use. `fit_until`: scores of the baselines fitted on the
    record up to that date (or round) and compared out of sample after it. `rank_records`
    simulated records of the same length ranked against it; `intensity_runs` simulated runs for the
    unconditional intensity; `seed` their random numbers. `belief_tol`: see the module docstring.
    """
    from crisislab.analysis._record import until_round
    from crisislab.model import lower
    from crisislab.simulation import as_policy

    if not (isinstance(belief_tol, int | float) and 0 <= belief_tol < 1):
        raise UserError(f"belief_tol: expected a number in [0, 1) (got {belief_tol!r})")
    for name, v in (("rank_records", rank_records), ("intensity_runs", intensity_runs)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            raise UserError(f"{name}: expected an integer ≥ 0 (got {v!r})")
    events = load_record(scenario, record)
    model = lower(scenario)
    rec = observe(model, events, unobserved=unobserved, observed=observed, deaths=deaths, until=until)
    fit_rounds = None if fit_until is None else until_round(model, fit_until)
    if policy is None:
        from crisislab.crisis import solve_scenario

        policy = solve_scenario(scenario, grid=grid)
    policy = as_policy(policy, scenario)
    return replay_record(scenario, model, policy, rec, belief_tol=belief_tol, rank_records=rank_records,
                         intensity_runs=intensity_runs, seed=seed, fit_rounds=fit_rounds)


def simulate_records(
    scenario: Any,
    policy: Any = None,
    n: int = 100,
    *,
    seed: int = 0,
    rounds: int | None = None,
    grid: int | str = "auto",
    ended: bool = True,
) -> list[Record]:
    """`n` records simulated from `scenario` under a solved policy (None: solved here on `grid`),
    every mover observed, of `rounds` rounds (default: the horizon): what a sample of crises of
    this kind would look like, e.g. to check that `estimate` recovers known parameters. With
    `ended`, a crisis the model ends earlier is a record that ends there with its outcome
    (`Record.end`); without, such runs are discarded (records of the same length only). Each
    record depends only on (scenario, policy, seed, n)."""
    from crisislab.model import lower
    from crisislab.simulation import as_policy

    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise UserError(f"n: expected an integer ≥ 1 (got {n!r})")
    model = lower(scenario)
    R = model.horizon if rounds is None else int(rounds)
    if not 1 <= R <= model.horizon:
        raise UserError(f"rounds: expected 1 … {model.horizon} (got {rounds!r})")
    if policy is None:
        from crisislab.crisis import solve_scenario

        policy = solve_scenario(scenario, grid=grid)
    policy = as_policy(policy, scenario)
    template = Record(model.scenario_id, R, tuple(tuple(() for _ in model.movers) for _ in range(R)), (),
                      tuple(-1 for _ in model.sides), tuple(True for _ in model.movers))
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x2EC0]))
    records, _ = sample_records(model, policy, template, int(n), rng, keep_ended=ended)
    return records
