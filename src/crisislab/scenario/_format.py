"""Short human-readable text for scenario elements (conditions, effects, interventions, metrics).

Used by `crisislab show` and available to reports; one line each, no markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crisislab.scenario._models import (
    AllCondition,
    AnyCondition,
    Attribution,
    Casualties,
    Effect,
    ErrorEvent,
    Forbid,
    Force,
    Metric,
    NotCondition,
    Param,
    PhaseCondition,
    ProbTable,
    RedLineCondition,
    RoundCondition,
    SetParam,
    TypeValues,
    VarCondition,
)

__all__ = [
    "describe_interventions",
    "describe_metric",
    "condition_text", "effect_text", "consequence_text", "intervention_text", "metric_text",
    "number_text", "rate_period", "type_values_text",
]

_OPS = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥"}


def condition_text(cond: Any) -> str:
    """`tension ≥ 4`, `round ≥ 10`, `(a and b)`, `(a or b)`, `not a`, `red line X is pending`."""
    if cond is None:
        return "always"
    if isinstance(cond, VarCondition):
        return f"{cond.var} {_OPS[cond.op]} {cond.value}"
    if isinstance(cond, RoundCondition):
        return f"round {_OPS[cond.round.op]} {cond.round.value}"
    if isinstance(cond, AllCondition):
        return "(" + " and ".join(condition_text(c) for c in cond.all_) + ")"
    if isinstance(cond, AnyCondition):
        return "(" + " or ".join(condition_text(c) for c in cond.any_) + ")"
    if isinstance(cond, NotCondition):
        return "not " + condition_text(cond.not_)
    if isinstance(cond, RedLineCondition):
        return f"red line {cond.red_line} is {cond.is_}"
    if isinstance(cond, PhaseCondition):
        return f"phase = {cond.phase}"
    return repr(cond)


def number_text(p: Param | ProbTable | float | None) -> str:
    """`0.3`, `0.3 [rep1]`, `0.3 (assumption)`, `2 ~ uniform[1, 4]`, `by tension: 0, 0.1, …`."""
    if p is None:
        return "—"
    if isinstance(p, ProbTable):
        return f"by {p.by}: " + ", ".join(f"{x:g}" for x in p.table)
    if not isinstance(p, Param):
        return f"{p:g}"
    text = f"{p.value:g}"
    if p.uncertainty is not None:
        u = p.uncertainty
        args = getattr(u, u.kind)
        text += f" ~ {u.kind}[{', '.join(f'{x:g}' for x in args)}]"
    if p.source:
        text += " [" + ", ".join(p.source) + "]"
    elif p.assumption:
        text += " (assumed)"
    return text


def type_values_text(tv: TypeValues | None, type_ids: tuple[str, ...] = ()) -> str:
    if tv is None:
        return "0"
    if tv.is_uniform:
        return number_text(tv.param_for(""))
    ids = type_ids or tv.keys()
    return ", ".join(f"{t}: {number_text(tv.param_for(t))}" for t in ids if t in tv.root)


def effect_text(e: Effect) -> str:
    if e.set is not None:
        return f"{e.var} := {e.set}"
    return f"{e.var} {'+' if e.add is not None and e.add >= 0 else '−'}{abs(e.add or 0)}"


def consequence_text(c: Any) -> str:
    if isinstance(c, Casualties):
        dist = "Poisson" if c.dispersion is None else f"NB(size {number_text(c.dispersion)})"
        into = f" → {c.into}" if c.into else ""
        return f"deaths of {c.side}: mean {number_text(c.mean)}, {dist}{into}"
    if isinstance(c, ErrorEvent):
        parts = [f"error {c.id} p={number_text(c.probability)}"]
        if c.becomes:
            parts.append(f"becomes {c.becomes}")
        if c.effects:
            parts.append(", ".join(effect_text(e) for e in c.effects))
        parts += [consequence_text(x) for x in c.consequences]
        return "; ".join(parts)
    if isinstance(c, Attribution):
        text = f"attributed p={number_text(c.probability)}"
        if c.unattributed_effects:
            text += "; else " + ", ".join(effect_text(e) for e in c.unattributed_effects)
        return text
    return repr(c)


def intervention_text(iv: Any) -> str:
    if isinstance(iv, Force):
        f = iv.force
        when = f" at round {f.round}" if f.round is not None else (f" when {condition_text(f.when)}" if f.when else "")
        return f"force {f.actor}: {f.action}{when}"
    if isinstance(iv, Forbid):
        when = f" when {condition_text(iv.forbid.when)}" if iv.forbid.when is not None else ""
        return f"forbid {iv.forbid.actor}: {iv.forbid.action}{when}"
    if isinstance(iv, SetParam):
        return f"set {iv.set.param} = {number_text(iv.set.value)}"
    return repr(iv)


def metric_text(m: Metric, period: str = "round") -> str:
    """One line for a metric; `period` names what a `per_round` rate is per (`"14 days"` under calendar
    phases, whose rates are per base period)."""
    if m.per_round:
        return _per_round_text(m, "of ", period) + _given_text(m)
    if m.outcome_probability is not None:
        within = f" within {m.within} round{'s' if m.within != 1 else ''}" if m.within is not None else _after_text(m)
        return f"P({m.outcome_probability}{within})" + _given_text(m)
    if m.mean_casualties is not None:
        return f"mean deaths of {m.mean_casualties}" + _given_text(m)
    if m.mean_audience_cost is not None:
        return f"mean audience cost of {m.mean_audience_cost}" + _given_text(m)
    if m.mean_end_round is not None:
        return "mean end round" + _given_text(m)
    return f"P({m.action_probability} taken{_after_text(m)})" + _given_text(m)


_REACHED_SIGNS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}


def _after_text(m: Any) -> str:
    a = m.after
    if a is None:
        return ""
    if a.within_days is not None:
        later = f"within {a.within_days} day{'s' if a.within_days != 1 else ''}"
    else:
        later = "later in the same round" if a.within == 0 else f"within {a.within} round{'s' if a.within != 1 else ''}"
    return f" {later} after {a.action}"


def _given_text(m: Any) -> str:
    g = m.given
    if g is None:
        return ""
    parts = []
    if g.reached is not None:
        parts.append(f"{g.reached.var} reached {_REACHED_SIGNS.get(g.reached.op, g.reached.op)} {g.reached.value}")
    if g.took is not None:
        parts.append(f"{g.took} taken")
    if g.not_took is not None:
        parts.append(f"{g.not_took} never taken")
    return " | " + ", ".join(parts)


def _per_round_text(m: Any, of: str, period: str = "round") -> str:
    if m.outcome_probability is not None:
        what = f"{m.outcome_probability} hazard"
    elif m.mean_casualties is not None:
        what = f"deaths {of}{m.mean_casualties}"
    elif m.mean_audience_cost is not None:
        what = f"audience cost {of}{m.mean_audience_cost}"
    else:
        what = f"rounds with {m.action_probability} taken"
    return f"{what} per {period} at risk"


def describe_interventions(interventions: Sequence[Any]) -> str:
    """A short human-readable description ("as written" for an empty list)."""
    if not interventions:
        return "as written"
    parts = []
    for iv in interventions:
        if hasattr(iv, "force"):
            f = iv.force
            when = f" at round {f.round}" if f.round is not None else (" when " + condition_text(f.when) if f.when else "")
            parts.append(f"force {f.actor} {f.action}{when}")
        elif hasattr(iv, "forbid"):
            when = " when " + condition_text(iv.forbid.when) if getattr(iv.forbid, "when", None) is not None else ""
            parts.append(f"forbid {iv.forbid.actor} {iv.forbid.action}{when}")
        else:
            parts.append(f"set {iv.set.param} = {iv.set.value.value:g}")
    return "; ".join(parts)


def rate_period(scenario: Any) -> str:
    """What a `per_round` rate of `scenario` is per: "round", or "N days" (the base period) when its
    calendar has phases or rounds of another length than the base period."""
    cal = getattr(scenario, "calendar", None)
    if cal is None or (cal.phases is None and cal.base == cal.days_per_round):
        return "round"
    return f"{cal.base} days"


def describe_metric(metric: Any, period: str = "round") -> str:
    """A short label of a metric (the claims table's `metric` column); `period` as `rate_period`."""
    if getattr(metric, "per_round", False):
        kind = metric.kind
        return _per_round_text(metric, "", period) + _given_text(metric) if kind != "mean_casualties" else (
            f"deaths ({metric.target}) per {period} at risk" + _given_text(metric))
    return _describe_plain(metric) + _given_text(metric)


def _describe_plain(metric: Any) -> str:
    kind, target = metric.kind, metric.target
    if kind == "outcome_probability":
        return f"P({target}" + (f" within {metric.within} round{'s' if metric.within != 1 else ''})" if metric.within else _after_text(metric) + ")")
    if kind == "mean_casualties":
        return f"mean deaths ({target})"
    if kind == "mean_audience_cost":
        return f"mean audience cost ({target})"
    if kind == "mean_end_round":
        return "mean end round"
    return f"P({target} taken{_after_text(metric)})"
