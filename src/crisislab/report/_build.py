"""From a study's tables to what the report shows: rows of plain values and `FigureSpec`s.

Nothing here computes a statistic: it selects, orders (events by date), labels (a claim's seed by
its source's title and file name, dates of rounds) and formats numbers that the study holds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from crisislab.report._figures import FigureSpec, Trace

__all__ = ["claim_rows", "figures", "outcome_rows", "replay_view", "sensitivity_rows", "verdict_label"]

VERDICT_COLORS = {"holds": "#2ca02c", "fails": "#d62728", "undetermined": "#b8860b", "cannot fail": "#7f7f7f"}


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def verdict_label(verdict: str, degenerate: bool) -> str:
    """What the report calls a verdict: the claim's own (`ClaimResult.verdict`, which is already
    "cannot fail" where the claim could not have failed); `degenerate` claims are flagged beside it."""
    return verdict


def _seed_source(study: Any, seed_file: str | None) -> dict[str, str]:
    src = study.sources
    if seed_file and not src.empty and "file" in src.columns:
        hit = src[src["file"] == seed_file]
        if len(hit):
            r = hit.iloc[0]
            who = ", ".join(str(v) for v in (r["author"], r["outlet"], r["date"]) if str(v))
            return {"id": str(r["id"]), "title": str(r["title"]), "who": who, "file": seed_file}
    return {"id": "", "title": "", "who": "", "file": seed_file or ""}


def claim_rows(study: Any) -> list[dict[str, Any]]:
    flags = {}
    if not study.claim_flags.empty:
        flags = {r.claim: (bool(r.degenerate), str(r.why)) for r in study.claim_flags.itertuples(index=False)}
    rows = []
    for c in study.claims:
        row = c.as_row()
        degenerate, why = flags.get(c.id, (False, ""))
        row.update(label=c.label or c.id, degenerate=degenerate, why=why, shown_verdict=verdict_label(c.verdict, degenerate),
                   source=_seed_source(study, c.seed_file))  # fmt: skip
        rows.append(row)
    return rows


def outcome_rows(study: Any) -> list[dict[str, Any]]:
    rows = []
    for r in study.outcomes.to_dict("records"):
        rows.append({
            "id": r["outcome"], "count": int(r["runs"]), "p": float(r["probability"]), "lo": float(r["ci_low"]),
            "hi": float(r["ci_high"]), "draws": int(r.get("draws", 0) or 0), "d_lo": _num(r.get("draws_low")),
            "d_med": _num(r.get("draws_median")), "d_hi": _num(r.get("draws_high")),
        })  # fmt: skip
    return rows


def sensitivity_rows(study: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows about a precision λ, the other rows with a defined ρ), as the study orders them."""
    t = study.sensitivity
    if t.empty:
        return [], []
    rows = [{k: (v if not isinstance(v, float) or not math.isnan(v) else None) for k, v in r.items()} for r in t.to_dict("records")]
    lam = [r for r in rows if str(r["parameter"]).endswith(".lam")]
    other = [r for r in rows if not str(r["parameter"]).endswith(".lam") and r["rho"] is not None]
    return lam, other


def _x(study: Any, table: pd.DataFrame, offset: int = 0) -> tuple[list[Any], bool, str]:
    """x values of a by-round table: the round's date where the scenario has a calendar."""
    if "date" in table.columns and all(str(d) for d in table["date"]):
        return [str(d) for d in table["date"]], True, "date"
    return [int(r) + offset for r in table["round"]], False, "round"


def figures(study: Any) -> list[FigureSpec]:
    """Every figure of the report, in the order it shows them (ids are stable)."""
    out = [_outcome_figure(study)]
    if study.claims:
        out.append(_claims_figure(study))
    if not study.outcome_draws.empty and any(str(c).endswith(".lam") for c in study.outcome_draws.columns):
        out.append(_lam_figure(study))
    out.append(_fan_figure(study))
    out.append(_beliefs_figure(study))
    if getattr(study, "intensity", None) is not None and len(study.intensity):
        out.append(_sim_intensity_figure(study))
    if study.replay_beliefs is not None and len(study.replay_beliefs):
        out.append(_real_path_figure(study))
    if study.replay is not None and len(getattr(study.replay, "rounds_table", ())):
        out.append(_intensity_figure(study))
    return out


def _outcome_figure(study: Any) -> FigureSpec:
    rows = outcome_rows(study)
    ids = [r["id"] for r in rows]
    traces = [Trace("probability (Monte Carlo 95% interval)", ids, [r["p"] for r in rows], "bar",
                    [r["lo"] for r in rows], [r["hi"] for r in rows], color="#1f77b4",
                    hover=[f"{r['id']}: {r['p']:.4f} [{r['lo']:.4f}, {r['hi']:.4f}] (Monte Carlo)" for r in rows])]  # fmt: skip
    if rows and rows[0]["draws"]:
        traces.append(Trace(f"median and range over {rows[0]['draws']} parameter draws", ids, [r["d_med"] for r in rows], "points",
                            [r["d_lo"] for r in rows], [r["d_hi"] for r in rows], color="#d62728",
                            hover=[f"{r['id']}: median {r['d_med']:.4f}, range {r['d_lo']:.4f} – {r['d_hi']:.4f} over parameter draws" for r in rows]))  # fmt: skip
    return FigureSpec("outcomes", "Outcome probabilities", "outcome", "probability", tuple(traces), y_range=(0.0, 1.0))


def _claims_figure(study: Any) -> FigureSpec:
    rows = claim_rows(study)
    traces, vis = [], []
    verdicts = [v for v in VERDICT_COLORS if any(r["shown_verdict"] == v for r in rows)]
    for v in verdicts:
        sel = [r for r in rows if r["shown_verdict"] == v]
        traces.append(Trace(f"difference: {v}", [r["claim"] for r in sel], [r["difference"] for r in sel], "points",
                            [r["ci_low"] for r in sel], [r["ci_high"] for r in sel], color=VERDICT_COLORS[v],
                            hover=[f"{r['claim']}: {r['metric']} treatment − baseline = {r['difference']:+.4f} "
                                   f"[{r['ci_low']:+.4f}, {r['ci_high']:+.4f}], {v}" for r in sel]))  # fmt: skip
    ids = [r["claim"] for r in rows]
    traces.append(Trace("treatment arm", ids, [r["treatment_value"] for r in rows], "bar", color="#9467bd", visible=False,
                        hover=[f"{r['claim']}: {r['metric']} = {r['treatment_value']:.4f} under {r['treatment']}" for r in rows]))  # fmt: skip
    traces.append(Trace("baseline arm", ids, [r["baseline_value"] for r in rows], "bar", color="#8c564b", visible=False,
                        hover=[f"{r['claim']}: {r['metric']} = {r['baseline_value']:.4f} under {r['baseline']}" for r in rows]))  # fmt: skip
    n = len(verdicts)
    vis = (("difference", tuple([True] * n + [False, False])), ("both arms", tuple([False] * n + [True, True])),
           ("treatment arm", tuple([False] * n + [True, False])), ("baseline arm", tuple([False] * n + [False, True])))  # fmt: skip
    return FigureSpec("claims", "Claims: treatment − baseline with its 95% interval", "",
                      "difference (in the claim's metric)", tuple(traces), views=vis, horizontal=True,
                      height=max(320, 90 + 40 * len(rows)))  # fmt: skip


def _lam_figure(study: Any) -> FigureSpec:
    d = study.outcome_draws
    lams = [c for c in d.columns if str(c).endswith(".lam")]
    shares = [c for c in d.columns if str(c).startswith("P(")]
    traces = []
    for lam in lams:
        order = np.argsort(d[lam].to_numpy(dtype=np.float64), kind="stable")
        x = d[lam].to_numpy(dtype=np.float64)[order].tolist()
        for s in shares:
            y = d[s].to_numpy(dtype=np.float64)[order].tolist()
            # markers, not lines: the other parameters vary between draws too
            traces.append(Trace(f"{s} vs {lam}", x, y, "points",
                                hover=[f"{lam} = {a:.3g}: {s} = {b:.4f} (draw)" for a, b in zip(x, y, strict=True)]))  # fmt: skip
    return FigureSpec("lambda", "Outcome shares against each actor's precision λ over the parameter draws",
                      "λ (sampled value)", "share of runs", tuple(traces), y_range=(0.0, 1.0))  # fmt: skip


def _fan_figure(study: Any) -> FigureSpec:
    fan = study.fan
    x, dates, xl = _x(study, fan)
    qcols = [c for c in fan.columns if str(c).startswith("q")]
    qs = [float(c[1:]) for c in qcols]
    traces = []
    k = len(qcols)
    for i in range(k // 2):
        traces.append(Trace(f"{qs[i]:.0%}–{qs[k - 1 - i]:.0%} of runs", x, [], "band", fan[qcols[i]].tolist(),
                            fan[qcols[k - 1 - i]].tolist(), color="#ff7f0e"))  # fmt: skip
    traces.append(Trace("mean", x, fan["mean"].tolist(), "line", color="#000000"))
    if k % 2:
        traces.append(Trace("median", x, fan[qcols[k // 2]].tolist(), "line", color="#8c4a1f", dash=True))
    label = "start of round (date)" if dates else "round"
    return FigureSpec("fan", f"{study.fan_var} over time, all runs (runs that ended keep their final state)", label if xl else "round",
                      study.fan_var, tuple(traces), x_dates=dates)  # fmt: skip


def _beliefs_figure(study: Any) -> FigureSpec:
    b = study.beliefs
    x, dates, _ = _x(study, b)
    cols = [c for c in b.columns if c not in ("round", "date")]
    traces = tuple(Trace(c, x, b[c].tolist(), "line") for c in cols)
    return FigureSpec("beliefs", "Mean belief about the other's type, over all simulated runs",
                      "start of round (date)" if dates else "round", "mean belief", traces, x_dates=dates, y_range=(0.0, 1.0))  # fmt: skip


def _real_path_figure(study: Any) -> FigureSpec:
    b = study.replay_beliefs
    x, dates, _ = _x(study, b)
    cols = [c for c in b.columns if c not in ("round", "date")]
    traces = tuple(Trace(c, x, b[c].tolist(), "line") for c in cols)
    return FigureSpec("real-path-beliefs", "Beliefs along the observed record (expected over the hidden states, given the record)",
                      "date (start of the next round)" if dates else "after round", "belief", traces, x_dates=dates,
                      y_range=(0.0, 1.0))  # fmt: skip


def _sim_intensity_figure(study: Any) -> FigureSpec:
    t = study.intensity
    dates = bool(len(t)) and bool(t["date"].iloc[0])
    x = t["date"].tolist() if dates else t["round"].tolist()
    movers = [c for c in t.columns if c not in ("round", "date", "end", "days", "total", "alive")]
    traces = (Trace("all actors", x, t["total"].tolist(), "line", color="#000000"),
              *(Trace(m, x, t[m].tolist(), "line") for m in movers))
    return FigureSpec("intensity", "Expected conflict intensity by round, simulated (runs still going; negative is hostile)",
                      "start of round (date)" if dates else "round", "intensity (declared scale)", traces, x_dates=dates)


def _intensity_figure(study: Any) -> FigureSpec:
    t = study.replay.rounds_table
    dates = bool(len(t)) and bool(t["start"].iloc[0])
    x = t["start"].tolist() if dates else t["round"].tolist()
    traces = (
        Trace("model, one step ahead (given the record before each move)", x, t["expected_intensity_total"].tolist(), "line", color="#1f77b4"),
        Trace("the record (its events' intensities, summed)", x, t["observed_intensity_total"].tolist(), "line", color="#d62728"),
        Trace("model, unconditional (simulated runs still going)", x, t["unconditional_intensity_total"].tolist(), "line",
              color="#7f7f7f", dash=True),
    )
    return FigureSpec("replay-intensity", "Conflict intensity by round (Goldstein scale; negative is hostile)",
                      "start of round (date)" if dates else "round", "intensity (sum over actors)", traces, x_dates=dates)


def replay_view(study: Any) -> dict[str, Any] | None:
    """What the report shows of the replay of the observed record: a verdict in words, the scores
    of the one-step-ahead forecasts against the baselines, the rounds table and the events in date
    order (with their notes)."""
    r = study.replay
    if r is None:
        return None
    name = str(r.source).replace("\\", "/").rsplit("/", 1)[-1]  # the file's name, not the machine's path
    sentence = [f"Log-likelihood of the record {name} ({r.n_events} event{'s' if r.n_events != 1 else ''} in {r.rounds} "
                f"round{'s' if r.rounds != 1 else ''}): {r.loglik:.2f}."]
    sentence.append(f"Given the record up to each move, the model ends the crisis before the record ends with probability "
                    f"{r.p_ended_early:.2%}.")
    if _num(r.percentile) is not None:
        sentence.append(f"The record is more probable than {r.percentile:.0%} of {r.n_simulated} records of the same length "
                        "simulated from the model and scored the same way.")
    if r.impossible:
        sentence.append(r.impossible[0].upper() + r.impossible[1:] + ".")
    for text in getattr(r, "reread", ()):
        sentence.append(f"Read as another move: {text}.")
    if r.unobserved_actors:
        sentence.append(f"Not observed by the record (summed over): {', '.join(r.unobserved_actors)}.")
    scores = [{"predictor": s.predictor, "sample": s.sample, "moves": int(s.moves), "log_score": float(s.log_score),
               "brier": _num(s.brier)} for s in r.scores.itertuples(index=False)]
    rounds = [{"round": int(x.round), "start": x.start, "loglik": _num(x.loglik), "p_end": float(x.p_end),
               "model": _num(x.expected_intensity_total), "record": _num(x.observed_intensity_total)}
              for x in r.rounds_table.itertuples(index=False)]
    ev_rows: list[dict[str, Any]] = []
    events = r.events
    has_label = isinstance(events, pd.DataFrame) and "note" in events.columns
    if isinstance(events, pd.DataFrame) and len(events):
        keys = [c for c in ("date", "round", "line") if c in events.columns]
        ev = events.sort_values(keys, kind="stable") if keys else events
        for e in ev.to_dict("records"):
            d = e.get("date", "")
            ev_rows.append({"round": e.get("round", ""), "date": "" if d is None or d is pd.NaT else str(d)[:10],
                            "actor": e.get("actor", ""), "action": e.get("action", ""),
                            "label": str(e.get("note", "") or "") + (" (uncertain)" if e.get("uncertain") else "")})
    wide = study.replay_beliefs
    belief_cols = [c for c in wide.columns if c not in ("round", "date")] if wide is not None else []
    belief_rows = [] if wide is None else [
        {"round": int(row["round"]), "date": row.get("date", ""), "vals": [float(row[c]) for c in belief_cols]}
        for row in wide.to_dict("records")
    ]  # fmt: skip
    return {"sentence": " ".join(sentence), "scores": scores, "rounds": rounds, "events": ev_rows, "has_label": has_label,
            "belief_cols": belief_cols, "belief_rows": belief_rows}
