"""The tables a study's report shows beyond the outcome shares: what the scenario cites and
assumes, how the outcome shares move over the parameter draws, which claims cannot fail, deaths by
outcome, and the calendar date of each round.

Each function returns a pandas table (or plain values) computed here, so that the report only
formats (`crisislab.report`).
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "assumption_table",
    "casualty_table",
    "claim_flags",
    "outcome_draw_summary",
    "round_dates",
    "round_spans",
    "sensitivity_table",
    "source_table",
    "sum_by_period",
]

_SOURCE_FIELDS = ("kind", "title", "author", "outlet", "date", "url", "file", "pages", "accessed", "note")


def _path(scenario: Any, loc: tuple[Any, ...]) -> str:
    """`loc` as the field path `--set` takes: list items named by their `id` where they have one
    (`actors.US.lam`, not `actors.0.lam`)."""
    from pydantic import BaseModel

    parts, obj = [], scenario
    for key in loc:
        if isinstance(obj, tuple | list) and isinstance(key, int):
            obj = obj[key]
            parts.append(str(getattr(obj, "id", key)))
            continue
        parts.append(str(key))
        if isinstance(obj, BaseModel):
            name = next((n for n, f in type(obj).model_fields.items() if (f.alias or n) == key), key)
            obj = getattr(obj, name, None)
        elif isinstance(obj, dict):
            obj = obj.get(key)
        else:
            obj = getattr(obj, "root", {}).get(key) if hasattr(obj, "root") else None
    return ".".join(parts)


def source_table(scenario: Any) -> pd.DataFrame:
    """Every source the scenario lists, in its order: `id`, the source's fields (`kind`, `title`,
    `author`, `outlet`, `date`, `url`, `file`, `pages`, `accessed`, `note`; "" where absent) and
    `cited` (how many numbers and claims cite it)."""
    from crisislab.scenario import walk_source_refs

    cited = Counter(ref for _loc, ref in walk_source_refs(scenario))
    rows = []
    for sid, src in scenario.sources.items():
        rows.append({"id": sid, **{f: getattr(src, f) or "" for f in _SOURCE_FIELDS}, "cited": int(cited.get(sid, 0))})
    return pd.DataFrame(rows, columns=["id", *_SOURCE_FIELDS, "cited"])


def assumption_table(scenario: Any) -> pd.DataFrame:
    """Every number marked `assumption` (its own mark, or the nearest enclosing object's): `parameter`
    (field path), `value` (as the scenario format writes it), `assumption` (the stated rationale),
    `sources` (ids it also cites, comma-separated) and `uncertainty` ("" when none is stated)."""
    from crisislab.scenario import Param, number_text, walk_numbers

    rows = []
    for loc, p, _has in walk_numbers(scenario):
        text = getattr(p, "assumption", None) or _enclosing_assumption(scenario, loc)
        if not text:
            continue
        unc = ""
        if isinstance(p, Param) and p.uncertainty is not None:
            lo, hi = p.uncertainty.support()
            unc = f"{lo:g} – {hi:g}"
        value = f"{p.value:g}" if isinstance(p, Param) else number_text(p)
        rows.append({"parameter": _path(scenario, loc), "value": value, "assumption": str(text),
                     "sources": ", ".join(getattr(p, "source", None) or ()), "uncertainty": unc})  # fmt: skip
    return pd.DataFrame(rows, columns=["parameter", "value", "assumption", "sources", "uncertainty"])


def _enclosing_assumption(scenario: Any, loc: tuple[Any, ...]) -> str | None:
    """The `assumption` of the nearest object enclosing `loc` that states one (None if none does)."""
    from pydantic import BaseModel

    found = None
    obj: Any = scenario
    for key in loc[:-1]:
        if isinstance(obj, BaseModel):
            name = next((n for n, f in type(obj).model_fields.items() if (f.alias or n) == key), key)
            obj = getattr(obj, name, None)
        elif isinstance(obj, tuple | list):
            obj = obj[key]
        elif isinstance(obj, dict):
            obj = obj.get(key)
        else:
            obj = getattr(obj, "root", {}).get(key) if hasattr(obj, "root") else None
        if obj is None:
            break
        if getattr(obj, "source", None):  # a closer source-only object: the number is sourced, not assumed
            found = getattr(obj, "assumption", None)
        elif getattr(obj, "assumption", None):
            found = obj.assumption
    return found


def round_dates(spec: Any, n: int) -> list[str]:
    """ISO date on which each of rounds 1..n starts ("" for every round without a calendar); index
    0 is round 1. The state "after round r" is dated by round r + 1's start. Rounds of different
    lengths (calendar phases) follow the model's `round_starts`; past them, the last round's length."""
    starts = getattr(spec, "round_starts", None)
    if starts is None:
        if spec.calendar_start is None or spec.days_per_round is None:
            return [""] * n
        start = _dt.date.fromisoformat(spec.calendar_start)
        return [(start + _dt.timedelta(days=r * spec.days_per_round)).isoformat() for r in range(n)]
    out = list(starts[:n])
    if len(out) < n:
        last = _dt.date.fromisoformat(starts[-1])
        step = last - _dt.date.fromisoformat(starts[-2])
        out += [(last + step * (i + 1)).isoformat() for i in range(n - len(out))]
    return out


def round_spans(spec: Any, n: int) -> tuple[list[str], list[str], list[int]]:
    """First day, last day (ISO) and days of each of rounds 1..n (past the horizon, at the last
    round's length); empty strings and zero days without a calendar."""
    starts = round_dates(spec, n + 1)
    if not starts or not starts[0]:
        return [""] * n, [""] * n, [0] * n
    d = [_dt.date.fromisoformat(x) for x in starts]
    ends = [(d[i + 1] - _dt.timedelta(days=1)).isoformat() for i in range(n)]
    return starts[:n], ends, [(d[i + 1] - d[i]).days for i in range(n)]


def sum_by_period(table: pd.DataFrame, columns: list[str], days: int, start: Any = None, *,
                  start_col: str = "start") -> pd.DataFrame:
    """Per-round quantities summed over consecutive periods of `days` days.

    `table`: one row per round with `start_col` and `end` (ISO first and last day of the round)
    and the `columns` to sum. Periods run from `start` (a date or ISO text; default the first
    round's first day) and cover every round of the table; a round that straddles periods is split
    by its share of days (a round of d days with k of them in a period gives the period k/d of its
    value), so each column's total over the periods equals its total over the rounds covered.
    A period gets NaN in a column where every round that contributes to it is NaN.

    Returns one row per period: `period` (1-based), `start`, `end` (ISO first and last day),
    `days_covered` (days of the table's rounds in the period; fewer than `days` at the edges),
    then the columns.
    """
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 1:
        from crisislab.errors import UserError

        raise UserError(f"period days: expected an integer >= 1 (got {days!r})")
    if table.empty:
        return pd.DataFrame(columns=["period", "start", "end", "days_covered", *columns])
    r0 = [_dt.date.fromisoformat(str(x)) for x in table[start_col]]
    r1 = [_dt.date.fromisoformat(str(x)) + _dt.timedelta(days=1) for x in table["end"]]  # exclusive ends
    p0 = r0[0] if start is None else (start if isinstance(start, _dt.date) else _dt.date.fromisoformat(str(start)))
    if p0 > r0[0]:
        from crisislab.errors import UserError

        raise UserError(f"period start: {p0.isoformat()} is after the first round's start {r0[0].isoformat()} "
                        f"(expected a date on or before it)")
    n_periods = -(-(max(r1) - p0).days // days)
    lo = np.array([(a - p0).days for a in r0])[None, :]
    hi = np.array([(b - p0).days for b in r1])[None, :]
    pa = (np.arange(n_periods) * days)[:, None]
    overlap = np.clip(np.minimum(hi, pa + days) - np.maximum(lo, pa), 0, None).astype(np.float64)  # (P, R) days
    weight = overlap / (hi - lo)
    out: dict[str, Any] = {
        "period": np.arange(1, n_periods + 1),
        "start": [(p0 + _dt.timedelta(days=int(k) * days)).isoformat() for k in range(n_periods)],
        "end": [(p0 + _dt.timedelta(days=(int(k) + 1) * days - 1)).isoformat() for k in range(n_periods)],
        "days_covered": overlap.sum(axis=1).astype(np.int64),
    }
    for c in columns:
        v = table[c].to_numpy(dtype=np.float64)
        total = weight @ np.nan_to_num(v)
        some = (weight > 0) @ ~np.isnan(v)
        out[c] = np.where(some > 0, total, np.nan)
    return pd.DataFrame(out)


def casualty_table(results: Any) -> tuple[pd.DataFrame, list[str]]:
    """Deaths per side (of the sides with a death in some run): `quantity`, `mean_per_run`,
    `p_any` (share of runs with at least one), then `mean_if_<outcome>` (mean over the runs that
    ended in that outcome; NaN where none did); then each actor's audience cost paid per run.
    Also the sides left out (no death in any run)."""
    spec = results.spec
    runs = results.runs
    outcomes = list(results.outcome_counts().index)
    rows, left_out = [], []
    for side in spec.sides:
        x = runs[f"casualties_{side}"].to_numpy(dtype=np.float64)
        if not (x > 0).any():
            left_out.append(side)
            continue
        row = {"quantity": f"deaths: {side}", "mean_per_run": float(x.mean()), "p_any": float((x > 0).mean())}
        for o in outcomes:
            sel = (runs["outcome"] == o).to_numpy()
            row[f"mean_if_{o}"] = float(x[sel].mean()) if sel.any() else float("nan")
        rows.append(row)
    for a in spec.actors:
        x = runs[f"audience_cost_{a}"].to_numpy(dtype=np.float64)
        row = {"quantity": f"audience cost paid: {a}", "mean_per_run": float(x.mean()), "p_any": float((x != 0).mean())}
        for o in outcomes:
            sel = (runs["outcome"] == o).to_numpy()
            row[f"mean_if_{o}"] = float(x[sel].mean()) if sel.any() else float("nan")
        rows.append(row)
    cols = ["quantity", "mean_per_run", "p_any", *(f"mean_if_{o}" for o in outcomes)]
    return pd.DataFrame(rows, columns=cols), left_out


def _share_columns(draws: pd.DataFrame) -> list[str]:
    return [c for c in draws.columns if c.startswith("P(") and c.endswith(")")]


def _param_columns(draws: pd.DataFrame) -> list[str]:
    return [c for c in draws.columns if c not in ("draw", "seed", "n") and c not in _share_columns(draws)]


def outcome_draw_summary(outcomes: pd.DataFrame, draws: pd.DataFrame) -> pd.DataFrame:
    """`outcomes` (one row per outcome) with the spread of its share over the parameter draws:
    `draws` (how many), `draws_low`, `draws_median`, `draws_high` (the smallest, median and largest
    share over the draws; NaN without draws)."""
    out = outcomes.copy()
    k = len(draws)
    lo, med, hi = [], [], []
    for o in out["outcome"]:
        col = f"P({o})"
        if k and col in draws.columns:
            x = draws[col].to_numpy(dtype=np.float64)
        elif k:
            x = np.zeros(k)
        else:
            x = np.array([])
        lo.append(float(x.min()) if x.size else float("nan"))
        med.append(float(np.median(x)) if x.size else float("nan"))
        hi.append(float(x.max()) if x.size else float("nan"))
    out["draws"] = k
    out["draws_low"], out["draws_median"], out["draws_high"] = lo, med, hi
    return out


def sensitivity_table(draws: pd.DataFrame) -> pd.DataFrame:
    """How each outcome share moves with each sampled parameter over the draws: `parameter`,
    `outcome`, `rho` (Spearman's rank correlation; NaN with fewer than 3 draws or a constant
    input), `value_low`/`value_high` (the parameter's smallest and largest sampled value) and
    `share_at_low`/`share_at_high` (the outcome share at those two draws). Rows ordered by |ρ|."""
    from scipy.stats import spearmanr

    cols = ["parameter", "outcome", "rho", "value_low", "value_high", "share_at_low", "share_at_high"]
    if draws.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for p in _param_columns(draws):
        x = draws[p].to_numpy(dtype=np.float64)
        i_lo, i_hi = int(np.argmin(x)), int(np.argmax(x))
        for c in _share_columns(draws):
            y = draws[c].to_numpy(dtype=np.float64)
            rho = float("nan")
            if x.size >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
                rho = float(spearmanr(x, y).statistic)
            rows.append({"parameter": p, "outcome": c[2:-1], "rho": rho, "value_low": float(x[i_lo]),
                         "value_high": float(x[i_hi]), "share_at_low": float(y[i_lo]), "share_at_high": float(y[i_hi])})  # fmt: skip
    table = pd.DataFrame(rows, columns=cols)
    order = np.argsort(-np.nan_to_num(np.abs(table["rho"].to_numpy(dtype=np.float64)), nan=-1.0), kind="stable")
    return table.iloc[order].reset_index(drop=True)


def claim_flags(results: Any) -> pd.DataFrame:
    """Which evaluated claims (`ClaimResult`s) are settled by how they are written: `claim`,
    `degenerate` (bool), `why` ("" when not) and `verdict` ("cannot fail" where the claim could not
    have failed). The test is `crisislab.analysis.claim_degeneracy`, made when the claims were
    evaluated: the metric is the same number in every run of an arm (e.g. the probability of an
    action the treatment forces is identically 1, or a baseline that is exactly 0 because it
    forbids what the metric counts), or undefined in every run of an arm."""
    rows = [{"claim": r.id, "degenerate": r.degenerate is not None, "why": r.degenerate or "", "verdict": r.verdict}
            for r in results]  # fmt: skip
    return pd.DataFrame(rows, columns=["claim", "degenerate", "why", "verdict"])
