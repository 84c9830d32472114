"""`Results`: the tidy tables and aggregates of one simulated arm, and the metrics claims read.

One row per run (types, outcome, end round, casualties by side, audience costs, which actions were
taken), optional per-move paths, and per-round aggregates that merge exactly across chunks
(state histograms, quantized belief sums, path counts). Everything the report shows is computed
from these, so the numbers in the report equal the numbers in results.parquet.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crisislab.model import Model
from crisislab.model.rules import BELIEF_QUANTUM, RL_STATUS_NAMES
from crisislab.simulation._chunk import ChunkResult

__all__ = ["Results", "merge_chunks", "write_table"]

_TOP_PATHS = 50  # paths kept (with exact counts) for the most-frequent-paths table


@dataclass(frozen=True)
class Results:
    """A simulated arm.

    `runs`: one row per run, sorted by `run`. `state_hist`: int64 `(horizon + 1, n_vars, n_levels)`
    counts of each variable's value (offset by its min) after each round, round 0 = initial.
    `belief_mean`: float64 `(horizon + 1, n_actors, n_belief)` mean belief of each holder after
    each round. `path_counts`: exact counts of the most frequent executed-action sequences (tuples, one entry per
    move, -1 = none); every run's sequence hash is the `path_hash` column.
    `paths`: per-move rows if requested. `run_steps`: (run, move) pairs simulated.
    """

    spec: Model
    seed: int
    n_runs: int
    interventions: tuple[str, ...]
    runs: pd.DataFrame
    state_hist: np.ndarray
    belief_mean: np.ndarray
    path_counts: Counter = field(default_factory=Counter)
    paths: pd.DataFrame | None = None
    run_steps: int = 0
    taken: np.ndarray | None = None  # bool (n_runs, n_actions)
    # Mean belief over the runs still going after each round (NaN when none is): same shape as
    # `belief_mean`; `n_alive` int64 `(horizon + 1,)`.
    belief_mean_alive: np.ndarray | None = None
    n_alive: np.ndarray | None = None
    # The rounds each action was chosen in, packed bits: uint8 `(n_runs, n_actions, ceil(horizon / 8))`
    # (`rounds_chosen` unpacks one action); each variable's largest and smallest value over the
    # run, int16 `(n_runs, n_vars)`.
    rounds_taken: np.ndarray | None = None
    state_max: np.ndarray | None = None
    state_min: np.ndarray | None = None

    def _repr_html_(self) -> str:
        from crisislab.simulation._display import results_html

        return results_html(self)

    # ----- metrics (per run, float64 (n_runs,)) -----------------------------------------------

    def metric_parts(self, metric: Any) -> tuple[np.ndarray, np.ndarray]:
        """A scenario `Metric` as (numerator, denominator), float64 `(n_runs,)` each: the arm's
        value is `numerator.sum() / denominator.sum()` (`metric_value`).

        A plain metric is a mean over runs (denominator 1; numerator the run's indicator or
        quantity). `given` and `after` make the denominator the indicator of the runs where the
        metric is defined (the condition holds; the trigger was chosen), and zero the numerator
        elsewhere: the value is the mean over those runs. `per_round` makes the denominator the
        rounds the run was at risk (its end round, the round it ended in counted; times the
        `given` indicator): the value is events per round at risk, so runs that end earlier do not
        count as fewer events.
        """
        kind = metric.kind
        target = metric.target
        df = self.runs
        n = self.n_runs
        end = df["end_round"].to_numpy(np.float64)
        after = getattr(metric, "after", None)
        if kind == "outcome_probability":
            hit = (df["outcome"] == target).to_numpy()
            if metric.within is not None:  # a new array: pandas may hand out a read-only view
                hit = hit & (df["end_round"] <= metric.within).to_numpy()
            num = hit.astype(np.float64)
        elif kind == "mean_casualties":
            num = df[f"casualties_{target}"].to_numpy(np.float64)
        elif kind == "mean_audience_cost":
            num = df[f"audience_cost_{target}"].to_numpy(np.float64)
        elif kind == "mean_end_round":
            num = end.copy()
        elif kind == "action_probability":
            num = df[f"took_{target}"].to_numpy(np.float64)
            if getattr(metric, "per_round", False):
                num = self.rounds_chosen(str(target)).sum(axis=1).astype(np.float64)
        else:
            raise ValueError(f"unknown metric kind {kind!r}")
        den = np.ones(n, dtype=np.float64)
        if after is not None:
            first = self.first_round(after.action)
            defined = first >= 0
            last = self._window_end(first, after)
            if kind == "outcome_probability":
                num = ((df["outcome"] == target).to_numpy() & (end <= last) & defined).astype(np.float64)
            else:
                num = self._chosen_in_window(str(target), after.action, first, last).astype(np.float64)
            den = defined.astype(np.float64)
        if getattr(metric, "per_round", False):
            # Rounds at risk, each weighed by its length in base periods (a calendar's base_days):
            # with rounds of one length, the end round itself.
            off = self.spec.round_offsets
            den = off[np.clip(end.astype(np.int64), 0, self.spec.horizon)]
        given = getattr(metric, "given", None)
        if given is not None:
            ok = self.given_mask(given)
            num = np.where(ok, num, 0.0)
            den = np.where(ok, den, 0.0)
        return num, den

    def metric_values(self, metric: Any) -> np.ndarray:
        """Per-run values of a scenario `Metric`: float64 `(n_runs,)` (indicators for
        probabilities; a `per_round` metric's value is the run's own rate), NaN in the runs where
        the metric is undefined (`given` does not hold; `after`'s trigger never chosen)."""
        num, den = self.metric_parts(metric)
        if getattr(metric, "is_plain", True):
            return num
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)

    def metric_value(self, metric: Any) -> float:
        """The arm's value of `metric`: the mean over the runs where it is defined, or for
        `per_round` the quantity summed over runs per round at risk; NaN where it is defined in no run."""
        num, den = self.metric_parts(metric)
        total = den.sum()
        return float(num.sum() / total) if total > 0 else float("nan")

    def rounds_chosen(self, action: str) -> np.ndarray:
        """bool `(n_runs, horizon)`: whether `action` was chosen in each round (column r - 1 is round r)."""
        a = self.spec.action_index(action)
        if self.rounds_taken is None:
            raise ValueError("these results carry no per-round record of the actions chosen")
        bits = np.unpackbits(self.rounds_taken[:, a, :], axis=1, bitorder="little")
        return bits[:, : self.spec.horizon].astype(bool)

    def intensity_by_round(self, intensity: np.ndarray) -> pd.DataFrame:
        """Expected conflict intensity by round and mover over the runs still going at the start of
        the round: one row per round (`round`, one column per mover, `total`, `alive`: the share of
        runs still going). `intensity`: float64 `(n_actions,)`, each action's declared intensity
        (NaN counts as 0); a mover that did nothing adds 0."""
        if self.rounds_taken is None:
            raise ValueError("these results carry no per-round record of the actions chosen")
        spec = self.spec
        H = spec.horizon
        inten = np.nan_to_num(np.asarray(intensity, dtype=np.float64))
        bits = np.unpackbits(self.rounds_taken, axis=2, bitorder="little")[:, :, :H]  # (n, A, H)
        end = self.runs["end_round"].to_numpy()  # rows in run order, as `rounds_taken`
        alive = end[:, None] >= np.arange(1, H + 1)[None, :]  # (n, H)
        n_alive = alive.sum(axis=0)
        rows: dict[str, Any] = {"round": np.arange(1, H + 1)}
        total = np.zeros(H)
        for mv in spec.movers:
            acts = mv.actions
            per_run = np.einsum("nah,a->nh", bits[:, acts, :].astype(np.float64), inten[acts])
            mean = np.where(n_alive > 0, (per_run * alive).sum(axis=0) / np.maximum(n_alive, 1), np.nan)
            rows[mv.id] = mean
            total = total + np.nan_to_num(mean)
        rows["total"] = np.where(n_alive > 0, total, np.nan)
        rows["alive"] = n_alive / max(self.n_runs, 1)
        return pd.DataFrame(rows)

    def first_round(self, action: str) -> np.ndarray:
        """int64 `(n_runs,)`: the first round in which `action` was chosen, -1 where it never was."""
        chosen = self.rounds_chosen(action)
        first = np.argmax(chosen, axis=1).astype(np.int64) + 1
        return np.where(chosen.any(axis=1), first, -1)

    def _window_end(self, first: np.ndarray, after: Any) -> np.ndarray:
        """int64 `(n_runs,)`: the last round of an `after` window opened in round `first` (−1 where
        the trigger was never chosen): `within` rounds later, or the last round that starts at
        most `within_days` days after round `first` starts."""
        if getattr(after, "within_days", None) is None:
            return np.where(first >= 1, first + int(after.within), -1)
        starts = self.spec.round_start_days()[: self.spec.horizon]
        t0 = np.where(first >= 1, starts[np.clip(first - 1, 0, self.spec.horizon - 1)], np.nan)
        last = np.searchsorted(starts, t0 + float(after.within_days), side="right")  # rounds starting by then
        return np.where(first >= 1, last, -1).astype(np.int64)

    def _chosen_in_window(self, action: str, trigger: str, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """`action` chosen at a move after `trigger`'s first one, in a round up to `last` (`_window_end`)."""
        spec = self.spec
        chosen = self.rounds_chosen(action)
        rounds = np.arange(1, spec.horizon + 1)[None, :]
        t = first[:, None]
        window = (rounds > t) & (rounds <= last[:, None])
        slot = {m.id: i for i, m in enumerate(spec.movers)}
        a_slot = slot[spec.actions[spec.action_index(action)].actor]
        t_slot = slot[spec.actions[spec.action_index(trigger)].actor]
        if a_slot > t_slot:  # its actor moves after the trigger's in the round's order
            window |= rounds == t
        return (chosen & window & (t >= 1)).any(axis=1)

    def given_mask(self, given: Any) -> np.ndarray:
        """bool `(n_runs,)`: the runs where a metric's `given` (a `MetricGiven`) holds."""
        ok = np.ones(self.n_runs, dtype=bool)
        if given.reached is not None:
            r = given.reached
            if self.state_max is None or self.state_min is None:
                raise ValueError("these results carry no record of each variable's extremes")
            v = self.spec.var_ids.index(r.var)
            extreme = self.state_max[:, v] if r.op in ("ge", "gt") else self.state_min[:, v]
            ok &= np.asarray(r.holds(extreme.astype(np.int64)), dtype=bool)
        if given.took is not None:
            ok &= self.runs[f"took_{given.took}"].to_numpy(bool)
        if given.not_took is not None:
            ok &= ~self.runs[f"took_{given.not_took}"].to_numpy(bool)
        return ok

    def outcome_counts(self) -> pd.Series:
        """Runs per outcome, in the scenario's outcome order (zeros included)."""
        return self.runs["outcome"].value_counts().reindex(list(self.spec.outcomes), fill_value=0)

    def state_quantiles(self, var: str, qs: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> np.ndarray:
        """Quantiles of state variable `var` after each round: float64 `(horizon + 1, len(qs))`."""
        v = self.spec.var_ids.index(var)
        hist = self.state_hist[:, v, :]
        cdf = np.cumsum(hist, axis=1) / hist.sum(axis=1, keepdims=True)
        out = np.empty((hist.shape[0], len(qs)))
        for i, q in enumerate(qs):
            out[:, i] = (cdf < q).sum(axis=1) + self.spec.lo[v]
        return out

    def state_mean(self, var: str) -> np.ndarray:
        v = self.spec.var_ids.index(var)
        hist = self.state_hist[:, v, :]
        levels = np.arange(hist.shape[1]) + self.spec.lo[v]
        return (hist * levels).sum(axis=1) / hist.sum(axis=1)

    def top_paths(self, k: int = 10) -> list[tuple[str, int]]:
        """The k most frequent action sequences as readable strings, with their counts."""
        names = [a.id for a in self.spec.actions]
        n_moves = len(self.spec.movers)
        out = []
        for path, count in sorted(self.path_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]:
            steps = []
            for i, a in enumerate(path):
                if a >= 0 and not self.spec.actions[a].default:
                    steps.append(f"r{i // n_moves + 1}:{names[a]}")
            out.append((" → ".join(steps) if steps else "(status quo throughout)", count))
        return out

    def to_parquet(self, path: str | Path, **provenance: Any) -> None:
        """Write the per-run table with where it came from in the file's metadata (key `crisislab`,
        JSON: crisislab version, scenario id, seed, runs, interventions, plus `provenance`, e.g. the
        policy and grid); `pyarrow.parquet.read_schema(path).metadata[b"crisislab"]` reads it back.
        The file is written beside and renamed into place: a failure leaves an older one whole."""
        meta = {"scenario": self.spec.scenario_id, "seed": self.seed, "runs": self.n_runs,
                "interventions": list(self.interventions), **provenance}  # fmt: skip
        write_table(self.runs, path, meta)


def write_table(df: pd.DataFrame, path: str | Path, meta: dict[str, Any]) -> None:
    """`df` as Parquet with `meta` and the crisislab version as strict JSON under the file's metadata
    key `crisislab` (the provenance every table of runs carries)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from crisislab._json import dumps
    from crisislab._output import writing_files
    from crisislab._version import __version__

    table = pa.Table.from_pandas(df, preserve_index=False)
    blob = dumps({"crisislab": __version__, **meta}, default=str)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"crisislab": blob})
    with writing_files([path]) as (staged,):  # renamed into place: a failure leaves an older file whole
        pq.write_table(table, staged)


def merge_chunks(
    spec: Model, seed: int, chunks: list[ChunkResult], interventions: tuple[str, ...] = (), with_paths: bool = False
) -> Results:
    """Concatenate chunk results (any order) into one `Results`, sorted by run index."""
    chunks = sorted(chunks, key=lambda c: int(c.runs[0]) if c.runs.size else -1)
    runs = np.concatenate([c.runs for c in chunks])
    n = runs.size
    types = np.concatenate([c.types for c in chunks])
    cols: dict[str, Any] = {"run": runs}
    for j, actor in enumerate(spec.actors):
        cols[f"type_{actor}"] = pd.Categorical.from_codes(types[:, j].astype(np.int64), categories=list(spec.types[j]))
    outcome = np.concatenate([c.outcome for c in chunks]).astype(np.int64)
    cols["outcome"] = pd.Categorical.from_codes(outcome, categories=list(spec.outcomes))
    cols["end_round"] = np.concatenate([c.end_round for c in chunks]).astype(np.int64)
    cas = np.concatenate([c.casualties for c in chunks])
    for s, side in enumerate(spec.sides):
        cols[f"casualties_{side}"] = cas[:, s]
    aud = np.concatenate([c.audience for c in chunks])
    for j, actor in enumerate(spec.actors):
        cols[f"audience_cost_{actor}"] = aud[:, j]
    rls = np.concatenate([c.rl_status for c in chunks])

    for k, rl in enumerate(spec.red_lines):
        cols[f"red_line_{rl.id}"] = pd.Categorical.from_codes(rls[:, k].astype(np.int64), categories=list(RL_STATUS_NAMES))
    cols["loglik"] = np.concatenate([c.loglik for c in chunks])
    taken = np.concatenate([c.taken for c in chunks])
    for a, act in enumerate(spec.actions):
        cols[f"took_{act.id}"] = taken[:, a]

    state_hist = np.sum([c.state_hist for c in chunks], axis=0)
    belief_mean = np.sum([c.belief_sum for c in chunks], axis=0) / BELIEF_QUANTUM / max(n, 1)
    n_alive = np.sum([c.n_alive for c in chunks], axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        belief_alive = np.sum([c.belief_sum_alive for c in chunks], axis=0) / BELIEF_QUANTUM / n_alive[:, None, None]
    counts: Counter = Counter()
    hashes = [c.path_hash for c in chunks if c.path_hash is not None]
    if hashes:
        all_h = np.concatenate(hashes)
        cols["path_hash"] = all_h
        uniq, cnt = np.unique(all_h, return_counts=True)
        reps: dict[int, tuple[int, ...]] = {}
        for c in chunks:
            reps.update(c.path_reps)
        order = np.argsort(-cnt, kind="stable")
        for i in order[:_TOP_PATHS]:
            row = reps.get(int(uniq[i]))
            if row is not None:
                counts[row] = int(cnt[i])
    df = pd.DataFrame(cols)
    paths = _paths_frame(spec, chunks) if with_paths else None
    return Results(
        spec=spec,
        seed=seed,
        n_runs=n,
        interventions=interventions,
        runs=df,
        state_hist=state_hist,
        belief_mean=belief_mean,
        path_counts=counts,
        paths=paths,
        run_steps=int(sum(c.run_steps for c in chunks)),
        taken=taken,
        belief_mean_alive=belief_alive,
        rounds_taken=_cat([c.rounds_taken for c in chunks]),
        state_max=_cat([c.state_max for c in chunks]),
        state_min=_cat([c.state_min for c in chunks]),
        n_alive=n_alive,
    )


def _cat(parts: list[np.ndarray | None]) -> np.ndarray | None:
    return None if any(p is None for p in parts) else np.concatenate(parts)


def _paths_frame(spec: Model, chunks: list[ChunkResult]) -> pd.DataFrame | None:
    parts = [c.path_rows for c in chunks if c.path_rows is not None]
    if not parts:
        return None
    names = [a.id for a in spec.actions] + ["(none)"]
    movers = [m.id for m in spec.movers]

    def cat(key: str) -> np.ndarray:
        return np.concatenate([p[key] for p in parts])

    action = cat("action").astype(np.int64)
    executed = cat("executed").astype(np.int64)
    cols: dict[str, Any] = {
        "run": cat("run").astype(np.int64),
        "round": cat("round").astype(np.int64),
        "move": cat("move").astype(np.int64),
        "actor": pd.Categorical.from_codes(cat("actor").astype(np.int64), categories=movers),
        "action": pd.Categorical.from_codes(np.where(action < 0, len(names) - 1, action), categories=names),
        "executed": pd.Categorical.from_codes(np.where(executed < 0, len(names) - 1, executed), categories=names),
    }
    state = cat("state")
    for v, var in enumerate(spec.var_ids):
        cols[var] = state[:, v]
    beliefs = cat("beliefs")  # (rows, n_actors, n_belief)
    for h, holder in enumerate(spec.actors):
        for j, about in enumerate(spec.actors):
            sl = spec.belief_slices[j]
            for t, tid in enumerate(spec.types[j]):
                cols[f"belief_{holder}_{about}_{tid}"] = beliefs[:, h, sl.start + t]
    df = pd.DataFrame(cols)
    return df.sort_values(["run", "round", "move"], kind="stable").reset_index(drop=True)
