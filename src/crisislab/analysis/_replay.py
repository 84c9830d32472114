"""Replaying the observed crisis against the model: log-likelihood, rank among simulated paths, beliefs.

The observed sequence (dated events, each an action id of the scenario) is mapped to rounds with the
scenario's calendar and turned into a script: at every move of every scripted round the mover plays
what it was observed to play (a strategic actor with no event plays its status-quo action; an
environment actor with none does nothing; of several events of one mover in one round, the highest
rung counts — a round is a fortnight in the flagship). The simulator then runs that script many
times: types are drawn from the true priors and chance consequences are sampled, while every
choice is scored by the probability the solved strategies (or environment rules) gave it. The
observed path's log-likelihood is log E[Π p(choice)] over those replays (types and chance
marginalised by Monte Carlo); the beliefs along it are the mean beliefs after each round over the
replays that the model has not yet ended.

Where the observed path ranks: each replay's log-likelihood (the observed choices given that
replay's types and chance draws; -inf where the model rules a choice out) is set against each free
simulated run's (its own choices given its own types and chance), counting only simulated runs
that went on for all the scripted rounds, so both sides score the same number of moves (a run that
ended early has fewer choices and so a higher log-likelihood). The percentile is the share of
(replay, simulated run) pairs in which the simulated path is the less likely one, ties counting
half: the chance that a path the model generates is less probable than the observed one, like for
like.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from crisislab.errors import UserError
from crisislab.model import Model
from crisislab.model.rules import DEFAULT_CHUNK, SCRIPT_FREE
from crisislab.simulation import Arm, Policy, simulate_model

__all__ = ["TimelineReplay", "events_to_script", "rank_share", "record_events", "replay", "replay_timeline"]


@dataclass(frozen=True)
class TimelineReplay:
    """The observed path scored by the model.

    `events`: the scripted events (round, date, actor, action). `loglik`: log-likelihood of the
    observed choices (natural log). `loglik_per_replay`: float64 `(n_replays,)`. `sim_loglik`: the
    free simulated runs' log-likelihoods, of the runs that lasted all the scripted rounds only.
    `percentile`: how the observed path ranks among them (module docstring; NaN when no simulated
    run lasted that long). `beliefs`: long table (round, date, holder, about, type, belief).
    `impossible_share`: share of replays in which some observed choice had probability 0 (e.g. an
    environment act no rule allows in the state the replay reached). `outcome_counts`: how the
    replays ended (an outcome can end a replay before the script does).
    """

    events: pd.DataFrame
    rounds: int
    loglik: float
    loglik_per_replay: np.ndarray
    sim_loglik: np.ndarray
    percentile: float
    beliefs: pd.DataFrame
    outcome_counts: pd.Series
    impossible_share: float
    n_replays: int

    def _repr_html_(self) -> str:
        pct = "not ranked (no simulated run lasted as long)" if self.percentile != self.percentile else f"{self.percentile:.1%}"
        return (f"<div><b>Observed record</b>: {len(self.events)} scripted moves over {self.rounds} rounds, "
                f"{self.n_replays} replays; log-likelihood {self.loglik:.2f}; more probable than {pct} of simulated "
                f"paths of the same length; an observed choice ruled out in {self.impossible_share:.1%} of replays</div>")  # fmt: skip


def rank_share(sim: np.ndarray, obs: np.ndarray) -> float:
    """Share of (obs, sim) pairs with sim < obs, ties counting half (NaN if either is empty);
    -inf entries are ordinary values here (a path the model rules out is less likely than any)."""
    if sim.size == 0 or obs.size == 0:
        return float("nan")
    s = np.sort(sim)
    below = np.searchsorted(s, obs, side="left")
    ties = np.searchsorted(s, obs, side="right") - below
    return float((below + 0.5 * ties).sum() / (s.size * obs.size))


def _round_of(spec: Model, day: Any) -> int:
    if spec.calendar_start is None or spec.days_per_round is None:
        raise UserError(f"scenario {spec.scenario_id}: a timeline needs `calendar:` to map dates to rounds")
    start = _dt.date.fromisoformat(spec.calendar_start)
    d = pd.Timestamp(day).date()
    return (d - start).days // spec.days_per_round + 1


def _date_of(spec: Model, round_: int) -> str:
    if spec.calendar_start is None or spec.days_per_round is None:
        return ""
    start = _dt.date.fromisoformat(spec.calendar_start)
    return (start + _dt.timedelta(days=(round_ - 1) * spec.days_per_round)).isoformat()


def events_to_script(spec: Model, events: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Script (int64 `(horizon, n_movers)`) and the events kept, from a table with columns
    `actor`, `action` and `round` or `date`. Rows whose action is empty are skipped. A kept event
    stands for all its mover's events in its round (`n_merged`; their `label`s joined by "; ")."""
    df = events.copy()
    if "round" not in df.columns:
        if "date" not in df.columns:
            raise UserError("timeline: needs a `round` or a `date` column")
        df["round"] = [_round_of(spec, d) for d in df["date"]]
    df = df[df["action"].notna() & (df["action"].astype(str) != "")]
    ids = {a.id: i for i, a in enumerate(spec.actions)}
    movers = {m.id: i for i, m in enumerate(spec.movers)}
    bad = sorted(set(df["action"]) - set(ids))
    if bad:
        raise UserError(f"timeline: actions not in scenario {spec.scenario_id}: {', '.join(map(str, bad))}")
    df = df[(df["round"] >= 1) & (df["round"] <= spec.horizon)]
    if df.empty:
        raise UserError("timeline: no event falls within the scenario's horizon")
    last = int(df["round"].max())
    script = np.full((spec.horizon, len(spec.movers)), SCRIPT_FREE, dtype=np.int64)
    script[:last, :] = -1
    kept = []
    for (r, actor), grp in df.groupby(["round", "actor"], sort=True):
        if actor not in movers:
            raise UserError(f"timeline: actor {actor!r} is not in the scenario's order ({', '.join(movers)})")
        rungs = [spec.actions[ids[a]].rung for a in grp["action"]]
        best = grp.iloc[int(np.argmax(rungs))].copy()
        script[int(r) - 1, movers[actor]] = ids[best["action"]]
        # The move stands for every event of the mover in the round: say so, and keep their labels.
        best["n_merged"] = len(grp)
        if "label" in grp.columns and len(grp) > 1:
            best["label"] = "; ".join(str(x) for x in grp["label"] if str(x))
        kept.append(best)
    kept_df = pd.DataFrame(kept).sort_values(["round"], kind="stable").reset_index(drop=True)
    return script, kept_df


def replay_timeline(
    spec: Model,
    policy: Policy,
    events: pd.DataFrame,
    runs: int,
    seed: int,
    *,
    chunk: int = DEFAULT_CHUNK,
) -> TimelineReplay:
    """Score the observed `events` under `policy`; `runs` replays and as many free simulated runs."""
    script, kept = events_to_script(spec, events)
    rounds = int((script[:, 0] != SCRIPT_FREE).sum())
    short = dataclasses.replace(spec, horizon=rounds)
    script = script[:rounds]
    replay = simulate_model(short, policy, runs, seed, Arm(script=script), chunk=chunk, record_actions=False, label="replaying")
    ll = replay.runs["loglik"].to_numpy()
    loglik = float(logsumexp(ll) - np.log(ll.size))
    free = simulate_model(short, policy, runs, seed, Arm(), chunk=chunk, record_actions=False, label="simulating")
    full = free.runs["end_round"].to_numpy() >= rounds
    sim_ll = free.runs["loglik"].to_numpy()[full]
    percentile = rank_share(sim_ll, ll)
    rows = []
    for r in range(rounds + 1):
        for h, holder in enumerate(spec.actors):
            for j, about in enumerate(spec.actors):
                if j == h:
                    continue
                sl = spec.belief_slices[j]
                for t, tid in enumerate(spec.types[j]):
                    rows.append(
                        {
                            "round": r,
                            "date": _date_of(spec, r + 1) if r < rounds else _date_of(spec, rounds + 1),
                            "holder": holder,
                            "about": about,
                            "type": tid,
                            "belief": float(replay.belief_mean_alive[r, h, sl.start + t]),
                        }
                    )
    return TimelineReplay(
        events=kept,
        rounds=rounds,
        loglik=loglik,
        loglik_per_replay=ll,
        sim_loglik=sim_ll,
        percentile=percentile,
        beliefs=pd.DataFrame(rows),
        outcome_counts=replay.outcome_counts(),
        impossible_share=float((~np.isfinite(ll)).mean()),
        n_replays=runs,
    )


def record_events(record: pd.DataFrame) -> pd.DataFrame:
    """The events of an observed record (a table from `crisislab.data.load_timeline`: one row per
    event with `round` and/or `date`, `actor`, `action` and optionally `note` or `label`) as the
    replay reads them: `round` and/or `date` (ISO day), `actor`, `action` and `label`."""
    ev = record[[c for c in ("round", "date", "actor", "action") if c in record.columns]].copy()
    if "date" in ev.columns:
        ev["date"] = [str(d)[:10] for d in ev["date"]]
    ev["actor"] = ev["actor"].astype(str)
    ev["action"] = ev["action"].astype(str)
    if "note" in record.columns:
        ev["label"] = record["note"].astype(str).fillna("")
    elif "label" in record.columns:
        ev["label"] = record["label"].astype(str).fillna("")
    return ev


def replay(
    scenario: Any,
    policy: Any = None,
    record: Any = None,
    *,
    runs: int = 20_000,
    seed: int = 0,
    grid: int | str = "auto",
    chunk: int = DEFAULT_CHUNK,
) -> TimelineReplay:
    """Score an observed record of `scenario` under a solved policy (`TimelineReplay`).

    `policy`: what `crisislab.solve(scenario)` returns, any simulator `Policy`, or None to solve
    here on `grid`. `record`: a record CSV path, a table from `crisislab.data.load_timeline`, or
    None for the record bundled with the scenario (`<id>-timeline.csv`; an error if there is none).
    `runs` replays of the record and as many free simulated runs, with `seed`.
    """
    from crisislab.data import bundled_timeline, load_timeline
    from crisislab.model import lower
    from crisislab.simulation import as_policy

    if record is None:
        path = bundled_timeline(scenario.id)
        if path is None:
            raise UserError(f"replay: crisislab bundles no record for scenario {scenario.id!r}; pass record= (a record CSV path)")
        record = load_timeline(path, scenario)
    elif not isinstance(record, pd.DataFrame):
        record = load_timeline(record, scenario)
    if policy is None:
        from crisislab.crisis import solve_scenario

        policy = solve_scenario(scenario, grid=grid)
    policy = as_policy(policy, scenario)
    return replay_timeline(lower(scenario), policy, record_events(record), runs, seed, chunk=chunk)
