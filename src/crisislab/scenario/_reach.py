"""What an arm's interventions make impossible, seen from the scenario's structure alone.

A claim whose arm forbids the only route to what its metric counts is settled before anything is
simulated: the metric is identically 0 there. `metric_never` proves this where it can, soundly:
it over-approximates what can happen in an arm and says "never" only when even the
over-approximation excludes the event, so a "never" is always right and a None proves nothing.

The over-approximation: an action a strategic actor is not forbidden (by a `forbid` without
`when`) may be chosen once its `available` condition can hold on the values reached so far (a
default action always may: the engine plays it when nothing else is allowed), an environment
action once one of its rules' conditions can, and every chance consequence may happen
(probabilities and `set` interventions are ignored, since they only change numbers). A chosen action executes its own effects or, through an
operational error's `becomes`, another action's (transitively, forbidden or not); its casualties
may add any count to their `into` variable. Each state variable's reachable values are the
closure of its initial value under those changes (variables taken independently), and a red
line's `on_answer` effects may always apply; an outcome is reached when an action that may execute
`ends` the crisis in it, or when its condition can hold on some combination of reachable values
(any round; red-line leaves are taken as possibly either), and otherwise never. Deaths an outcome
carries count as possible on their side whatever the outcome's reachability.

Not detected (None): routes removed by a conditional forbid or a probability of 0; conditions
on red-line status; variables that can each reach a value but not together; outcomes preempted by
others; metrics made constant but not 0 (a forced action taken in every run); constancy that
comes from the solved strategies (the claims' simulated check catches those).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from crisislab.scenario._models import (
    Action,
    AllCondition,
    AnyCondition,
    Attribution,
    Casualties,
    ErrorEvent,
    Forbid,
    NotCondition,
    RoundCondition,
    VarCondition,
)

__all__ = ["claim_warnings", "metric_never"]


def _forbidden(interventions: Iterable[Any]) -> set[str]:
    """Actions an arm forbids everywhere (a forbid with `when` removes no route for good)."""
    return {iv.forbid.action for iv in interventions if isinstance(iv, Forbid) and getattr(iv.forbid, "when", None) is None}


def _closure(scenario: Any, chosen: Iterable[Action]) -> list[Action]:
    """The chosen actions and every action they may execute as (operational errors' `becomes`)."""
    by_id = {a.id: a for a in scenario.actions}
    todo = list(chosen)
    seen: dict[str, Action] = {}
    while todo:
        a = todo.pop()
        if a.id in seen:
            continue
        seen[a.id] = a
        for c in a.consequences:
            if isinstance(c, ErrorEvent) and c.becomes is not None and c.becomes in by_id:
                todo.append(by_id[c.becomes])
    return list(seen.values())


def _changes(actions: Sequence[Action]) -> tuple[dict[str, set[int]], dict[str, set[int]], set[str], set[str]]:
    """Per variable: the amounts it may be `add`ed, the values it may be `set` to, the variables
    casualties may count into; and the sides that may suffer casualties."""
    adds: dict[str, set[int]] = {}
    sets: dict[str, set[int]] = {}
    into: set[str] = set()
    sides: set[str] = set()

    def effects(es: Iterable[Any]) -> None:
        for e in es:
            if e.add is not None:
                adds.setdefault(e.var, set()).add(int(e.add))
            else:
                sets.setdefault(e.var, set()).add(int(e.set))

    def casualties(c: Casualties) -> None:
        sides.add(c.side)
        if c.into is not None:
            into.add(c.into)

    for a in actions:
        effects(a.effects)
        for c in a.consequences:
            if isinstance(c, Casualties):
                casualties(c)
            elif isinstance(c, ErrorEvent):
                effects(c.effects)
                for cc in c.consequences:
                    casualties(cc)
            elif isinstance(c, Attribution):
                effects(c.unattributed_effects)
    return adds, sets, into, sides


def _step(scenario: Any, values: dict[str, set[int]], adds: dict[str, set[int]], sets: dict[str, set[int]],
          into: set[str]) -> dict[str, set[int]]:
    """Each variable's values closed under the changes (from every value it may already take)."""
    out: dict[str, set[int]] = {}
    for v in scenario.state:
        seen = set(values[v.id])
        frontier = list(seen)
        while frontier:
            x = frontier.pop()
            nxt = {min(max(x + d, v.min), v.max) for d in adds.get(v.id, ())}
            nxt |= {min(max(s, v.min), v.max) for s in sets.get(v.id, ())}
            if v.id in into:
                nxt |= set(range(x, v.max + 1))
            for y in nxt - seen:
                seen.add(y)
                frontier.append(y)
        out[v.id] = seen
    return out


def _reachable(scenario: Any, forbidden: set[str]) -> tuple[dict[str, set[int]], set[str], set[str]]:
    """(each variable's possibly reachable values, the sides that may suffer casualties, the
    outcomes an action that may execute `ends` the crisis in) in an
    arm forbidding `forbidden`: a fixed point where an action counts once its gate (a strategic
    action's `available`, an environment action's rule conditions) can hold on the values reached
    so far. A strategic actor's default action always counts: the engine plays it when every
    other action is masked, forbidden or not."""
    strategic = set(scenario.strategic_ids)
    rules: dict[str, list[Any]] = {}
    for e in scenario.environment:
        for rule in e.rules:
            rules.setdefault(rule.action, []).append(rule.when)
    values = {v.id: {v.initial} for v in scenario.state}
    enabled: dict[str, Action] = {}
    while True:
        grew = False
        for a in scenario.actions:
            if a.id in enabled:
                continue
            if a.actor in strategic:
                ok = a.default or (a.id not in forbidden and (a.available is None or _can(a.available, values, scenario.horizon)[0]))
            else:
                ok = any(w is None or _can(w, values, scenario.horizon)[0] for w in rules.get(a.id, ()))
            if ok:
                enabled[a.id] = a
                grew = True
        executed = _closure(scenario, enabled.values())
        adds, sets, into, sides = _changes(executed)
        for rl in scenario.red_lines:
            for e in rl.on_answer:
                (adds.setdefault(e.var, set()).add(int(e.add)) if e.add is not None
                 else sets.setdefault(e.var, set()).add(int(e.set)))
        new = _step(scenario, values, adds, sets, into)
        if new == values and not grew:
            sides |= {c.side for o in scenario.outcomes for c in o.casualties}
            return values, sides, {a.ends for a in executed if a.ends is not None}
        values = new


def _can(cond: Any, values: dict[str, set[int]], horizon: int) -> tuple[bool, bool]:
    """(can hold, can fail to hold) over the reachable values, any round, red lines unknown."""
    if isinstance(cond, VarCondition):
        got = {bool(cond.holds(x)) for x in values.get(cond.var, {0})}
        return True in got, False in got
    if isinstance(cond, RoundCondition):
        got = {bool(cond.holds(r)) for r in range(1, horizon + 1)}
        return True in got, False in got
    if isinstance(cond, AllCondition):
        parts = [_can(c, values, horizon) for c in cond.all_]
        return all(t for t, _ in parts), any(f for _, f in parts)
    if isinstance(cond, AnyCondition):
        parts = [_can(c, values, horizon) for c in cond.any_]
        return any(t for t, _ in parts), all(f for _, f in parts)
    if isinstance(cond, NotCondition):
        t, f = _can(cond.not_, values, horizon)
        return f, t
    return True, True  # a red line's status: not followed here


def metric_never(scenario: Any, metric: Any, interventions: Sequence[Any]) -> str | None:
    """Why the arm `interventions` makes `metric` identically 0 or undefined in every run, when the
    scenario's structure proves it (see the module's docstring for what counts), else None."""
    forbidden = _forbidden(interventions)
    strategic = set(scenario.strategic_ids)

    def never_chosen(action_id: str) -> bool:
        a = next((x for x in scenario.actions if x.id == action_id), None)
        return a is not None and a.actor in strategic and not a.default and action_id in forbidden

    after = getattr(metric, "after", None)
    if after is not None and never_chosen(after.action):
        return f"the arm forbids {after.action}, so the window after it never opens (undefined in every run)"
    given = getattr(metric, "given", None)
    if given is not None and given.took is not None and never_chosen(given.took):
        return f"the arm forbids {given.took}, so the metric's condition never holds (undefined in every run)"
    kind = metric.kind
    if kind == "action_probability" and never_chosen(metric.target):
        return f"the arm forbids {metric.target}, the action the metric counts"
    values, sides, ended = _reachable(scenario, forbidden)
    if given is not None and given.reached is not None:
        if not any(bool(given.reached.holds(x)) for x in values.get(given.reached.var, ())):
            return (f"no action left moves {given.reached.var} to {given.reached.op} {given.reached.value}, "
                    "so the metric's condition never holds (undefined in every run)")
    if kind == "mean_casualties" and metric.target not in sides:
        gone = sorted(forbidden)
        return f"no action left causes deaths on side {metric.target}" + (f" (the arm forbids {', '.join(gone)})" if gone else "")
    if kind == "outcome_probability":
        out = next((o for o in scenario.outcomes if o.id == metric.target), None)
        if out is None or out.at_horizon or out.id in ended:
            return None
        can_hold = out.when is not None and _can(out.when, values, scenario.horizon)[0]
        if not can_hold:
            gone = sorted(forbidden)
            return (f"no action left can bring about {metric.target}'s condition or end the crisis in it"
                    + (f" (the arm forbids {', '.join(gone)})" if gone else ""))
    return None


def claim_warnings(scenario: Any) -> list[tuple[tuple[Any, ...], str]]:
    """(field path, message) for every claim arm whose metric `metric_never` proves identically 0
    or undefined, saying whether the claim then cannot fail or cannot hold."""
    out = []
    for i, c in enumerate(scenario.claims):
        for arm in ("treatment", "baseline"):
            why = metric_never(scenario, c.metric, getattr(c.compare, arm))
            if why is None:
                continue
            if "undefined in every run" in why:
                verdict = "the claim can be neither held nor failed"
            elif (arm == "baseline") == (c.expect == "higher"):
                verdict = "the claim cannot fail"
            else:
                verdict = "the claim cannot hold"
            out.append((("claims", i, "compare", arm), f"claim {c.id}: in the {arm} arm {why}: {verdict}"))
    return out
