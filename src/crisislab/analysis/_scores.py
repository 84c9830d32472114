"""Proper scores of one-step-ahead predictions along a record: the model against two baselines.

Each observed move of the record is a prediction problem: given everything the record shows
before it, what does the mover do? The model's forecast is the forward pass's (`MoveForecast`);
the baselines ignore strategy:

- **empirical**: each mover's action frequencies over the fitting rounds;
- **markov**: a first-order Markov chain on the mover's own previous move (its transition
  frequencies over the fitting rounds; a mover's first move uses its empirical frequencies).

Both are fitted on the same record (in sample) or on its first rounds (`fit_rounds`, out of
sample), with add-one (Laplace) smoothing over the mover's possible moves so that no move gets
probability 0. Scores per move: the log score `log p(observed)` (higher is better; with an
uncertain event, the probability of any of the moves the record allows) and the Brier score
`Σ_k (p_k - 1[k observed])²` (lower is better; undefined, and left out, for a move the record
leaves uncertain).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np
import pandas as pd

from crisislab.analysis._filter import MoveForecast

__all__ = ["PREDICTORS", "move_scores", "score_table"]

PREDICTORS: tuple[str, ...] = ("model", "empirical", "markov")


def _observed_move(fc: MoveForecast) -> int | None:
    return fc.observed[0] if len(fc.observed) == 1 else None


def move_scores(forecasts: Sequence[MoveForecast], movers: Sequence[str], fit_rounds: int | None = None) -> pd.DataFrame:
    """One row per (observed move, predictor): round, actor, predictor, log_score, brier, in_fit.

    `fit_rounds`: the baselines are fitted on rounds ≤ fit_rounds (None: all rounds); `in_fit`
    says whether the move lies in the fitting rounds.
    """
    obs = [fc for fc in forecasts if fc.observed]
    last = max((fc.round for fc in obs), default=0)
    fit_to = last if fit_rounds is None else int(fit_rounds)
    freq: dict[int, Counter] = defaultdict(Counter)
    trans: dict[tuple[int, int], Counter] = defaultdict(Counter)
    prev: dict[int, int] = {}
    for fc in obs:
        if fc.round > fit_to:
            continue
        a = fc.observed[0]  # of an uncertain move, the certain part counts
        freq[fc.mover][a] += 1
        if fc.mover in prev:
            trans[(fc.mover, prev[fc.mover])][a] += 1
        prev[fc.mover] = a
    rows = []
    prev = {}
    for fc in obs:
        choices = [int(c) for c in fc.choices]
        k = len(choices)

        def smoothed(counts: Counter, choices: list[int] = choices, k: int = k) -> np.ndarray:
            n = sum(counts[c] for c in choices)
            return np.array([(counts[c] + 1.0) / (n + k) for c in choices])

        p_emp = smoothed(freq[fc.mover])
        p_mk = smoothed(trans[(fc.mover, prev[fc.mover])]) if fc.mover in prev else p_emp
        single = _observed_move(fc)
        for name, p in (("model", np.asarray(fc.probs, float)), ("empirical", p_emp), ("markov", p_mk)):
            allowed = np.isin(choices, fc.observed)
            p_obs = float(p[allowed].sum())
            brier = float(((p - (np.array(choices) == single)) ** 2).sum()) if single is not None else np.nan
            rows.append({"round": fc.round, "actor": movers[fc.mover], "predictor": name,
                         "log_score": np.log(p_obs) if p_obs > 0 else -np.inf, "brier": brier,
                         "in_fit": fc.round <= fit_to})
        prev[fc.mover] = fc.observed[0]
    return pd.DataFrame(rows, columns=["round", "actor", "predictor", "log_score", "brier", "in_fit"])


def score_table(per_move: pd.DataFrame) -> pd.DataFrame:
    """Totals per predictor and sample: predictor, sample (`in` / `out` of the fitting rounds, or
    `all`), moves, log_score (sum), brier (mean over moves with one observed move)."""
    rows = []
    samples = [("all", per_move)]
    if (~per_move["in_fit"]).any():
        samples = [("in", per_move[per_move["in_fit"]]), ("out", per_move[~per_move["in_fit"]])]
    for label, df in samples:
        for name in PREDICTORS:
            d = df[df["predictor"] == name]
            rows.append({"predictor": name, "sample": label, "moves": int(len(d)), "log_score": float(d["log_score"].sum()),
                         "brier": float(d["brier"].mean()) if d["brier"].notna().any() else float("nan")})
    return pd.DataFrame(rows)
