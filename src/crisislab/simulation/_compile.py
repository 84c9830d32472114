"""A scenario's interventions as simulator input: `force`/`forbid` items become an `Arm` read
against the scenario's `crisislab.model.Model`; `set` items go through `Scenario.with_overrides`
(`split_interventions`) so that they also reach the solver."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crisislab.errors import UserError
from crisislab.model import CondProgram, Model, lower_condition
from crisislab.simulation._chunk import Arm, Force

__all__ = ["compile_arm", "split_interventions", "InterventionError"]


class InterventionError(UserError):
    """An intervention names an actor or action that does not exist or does not belong together."""


def split_interventions(interventions: Sequence[Any]) -> tuple[dict[str, Any], list[Any]]:
    """(overrides for `with_overrides` from the `set` items, the remaining force/forbid items)."""
    overrides: dict[str, Any] = {}
    rest: list[Any] = []
    if isinstance(interventions, str | bytes) or not isinstance(interventions, Sequence):
        raise InterventionError(f"interventions: expected a list of Intervention models (got {type(interventions).__name__})")
    for iv in interventions:
        if not any(hasattr(iv, k) for k in ("set", "force", "forbid")):
            raise InterventionError(
                f"interventions: expected Intervention models, got {iv!r}; "
                "crisislab.scenario.parse_interventions(scenario, force=[...], forbid=[...], set=[...]) reads the shorthand"
            )
        if hasattr(iv, "set"):
            s = iv.set
            overrides[s.param] = s.value if not s.value.is_bare else float(s.value.value)
        else:
            rest.append(iv)
    return overrides, rest


def compile_arm(spec: Model, scenario: Any, interventions: Sequence[Any]) -> Arm:
    """The force/forbid interventions as an `Arm` (set interventions are ignored here)."""
    var_index = {v: i for i, v in enumerate(spec.var_ids)}
    rl_index = {rl.id: k for k, rl in enumerate(spec.red_lines)}
    forces: list[Force] = []
    forbidden: set[int] = set()
    when_forbidden: dict[int, list[Any]] = {}
    for iv in interventions:
        body = getattr(iv, "force", None) or getattr(iv, "forbid", None)
        if body is None:
            continue
        if body.actor not in spec.actors:
            raise InterventionError(
                f"intervention: actor {body.actor!r} is not a strategic actor (expected one of {', '.join(spec.actors)})"
            )
        try:
            g = spec.action_index(body.action)
        except KeyError:
            raise InterventionError(f"intervention: no action {body.action!r} (actor {body.actor})") from None
        if spec.actions[g].actor != body.actor:
            raise InterventionError(
                f"intervention: action {body.action!r} belongs to {spec.actions[g].actor}, not {body.actor}"
            )
        if hasattr(iv, "forbid"):
            if getattr(iv.forbid, "when", None) is None:
                forbidden.add(g)
            else:
                when_forbidden.setdefault(g, []).append(iv.forbid.when)
        else:
            f = iv.force
            when = None if f.when is None else lower_condition(f.when, var_index, rl_index, spec.phase_rounds)
            if f.round is None and when is None:
                # Neither round nor condition: at every move (the engines apply every force only
                # where the action is available and not forbidden, so this is the availability).
                avail = spec.actions[g].available
                when = avail if avail is not None else CondProgram.true()
            forces.append(Force(actor=f.actor, action=g, round_=f.round, when=when))
    # The contradictions `crisislab validate` reports in a scenario's claims, for items built in code.
    for f in forces:
        if f.action in forbidden:
            raise InterventionError(f"intervention: {spec.actions[f.action].id!r} is both forced and forbidden in one arm")
    for mv in spec.movers:
        if mv.strategic >= 0 and len(mv.actions) and all(int(g) in forbidden for g in mv.actions):
            raise InterventionError(f"intervention: every action of {mv.id} is forbidden (leave at least one allowed)")
    from crisislab.scenario import AnyCondition

    conditional = tuple(
        (g, lower_condition(conds[0] if len(conds) == 1 else AnyCondition(any=tuple(conds)), var_index, rl_index, spec.phase_rounds))
        for g, conds in sorted(when_forbidden.items())
        if g not in forbidden
    )
    return Arm(forces=tuple(forces), forbidden=frozenset(forbidden), forbidden_when=conditional)
