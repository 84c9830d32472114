"""Turn a `crisislab.scenario.Scenario` (plus interventions) into the simulator's `SimSpec` and `Arm`.

This is the only simulator module that reads the pydantic models. Conditions become closures over
arrays of runs (`Cond` in `_spec.py`), effects become per-variable add/set vectors, casualty
distributions become inverse-CDF tables, and `force`/`forbid` interventions become an `Arm`;
`set` interventions go through `Scenario.with_overrides` so that they also reach the solver.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from crisislab.errors import UserError
from crisislab.simulate._engine import Arm, Force
from crisislab.simulate._spec import (
    CMP_NAMES,
    OP_AND,
    OP_NOT,
    OP_OR,
    OP_RL,
    OP_ROUND,
    OP_VAR,
    RL_ANSWERED,
    RL_FAILED,
    RL_INACTIVE,
    RL_PENDING,
    ActionSpec,
    CasualtySpec,
    Cond,
    CondProgram,
    Effect,
    EnvRule,
    ErrorSpec,
    Mover,
    RedLineSpec,
    SimSpec,
)

__all__ = ["compile_arm", "compile_spec", "split_interventions", "InterventionError"]

_STATUS = {"inactive": RL_INACTIVE, "pending": RL_PENDING, "answered": RL_ANSWERED, "failed": RL_FAILED}
_OPS = {name: i for i, name in enumerate(CMP_NAMES)}
# Casualty counts whose upper tail is below this are never drawn (the table stops there).
_TAIL = 1e-12


class InterventionError(UserError):
    """An intervention names an actor or action that does not exist or does not belong together."""


def compile_cond(cond: Any, var_index: dict[str, int], rl_index: dict[str, int]) -> CondProgram:
    """A condition model → a `CondProgram`, callable as `f(state (n, n_vars), round_, rl_status (n, n_rl)) -> bool (n,)`."""
    code: list[tuple[int, int, int, int]] = []
    _emit(cond, var_index, rl_index, code)
    return CondProgram(np.array(code, dtype=np.int64))


def _emit(cond: Any, var_index: dict[str, int], rl_index: dict[str, int], code: list[tuple[int, int, int, int]]) -> None:
    from crisislab.scenario import _models as M

    if isinstance(cond, M.VarCondition):
        code.append((OP_VAR, var_index[cond.var], _OPS[cond.op], int(cond.value)))
    elif isinstance(cond, M.RoundCondition):
        code.append((OP_ROUND, 0, _OPS[cond.round.op], int(cond.round.value)))
    elif isinstance(cond, (M.AllCondition, M.AnyCondition)):
        parts = cond.all_ if isinstance(cond, M.AllCondition) else cond.any_
        for c in parts:
            _emit(c, var_index, rl_index, code)
        if len(parts) > 1:
            code.append((OP_AND if isinstance(cond, M.AllCondition) else OP_OR, len(parts), 0, 0))
    elif isinstance(cond, M.NotCondition):
        _emit(cond.not_, var_index, rl_index, code)
        code.append((OP_NOT, 0, 0, 0))
    elif isinstance(cond, M.RedLineCondition):
        code.append((OP_RL, rl_index[cond.red_line], 0, _STATUS[cond.is_]))
    else:
        raise TypeError(f"unknown condition {type(cond).__name__}")


def _effect(effects: Sequence[Any], var_index: dict[str, int], n_vars: int) -> Effect:
    add = np.zeros(n_vars, np.int64)
    set_mask = np.zeros(n_vars, bool)
    set_value = np.zeros(n_vars, np.int64)
    for e in effects:
        col = var_index[e.var]
        if e.set is not None:
            set_mask[col], set_value[col], add[col] = True, e.set, 0
        else:
            add[col] += e.add
    # With a set, later adds shift the set value (composition in list order).
    set_value = np.where(set_mask, set_value + add, 0)
    add = np.where(set_mask, 0, add)
    return Effect(add, set_mask, set_value)


def casualty_cdf(mean: float, dispersion: float | None) -> np.ndarray:
    """P(count <= j) for j = 0 .. k-1, float64 `(k,)`: negative binomial (mean, size) or Poisson.

    Negative binomial with mean μ and size ν has variance μ + μ²/ν (scenario format); scipy's
    parametrisation is n = ν, p = ν / (ν + μ).
    """
    if mean <= 0:
        return np.ones(1)
    dist = stats.poisson(mean) if dispersion is None else stats.nbinom(dispersion, dispersion / (dispersion + mean))
    k_max = int(dist.ppf(1.0 - _TAIL)) + 1
    cdf = dist.cdf(np.arange(k_max + 1))
    cdf[-1] = 1.0
    return cdf


def compile_spec(scenario: Any) -> SimSpec:
    """The simulator's arrays for a validated `Scenario`."""
    var_ids = scenario.state_ids
    var_index = {v: i for i, v in enumerate(var_ids)}
    n_vars = len(var_ids)
    rl_index = {rl.id: k for k, rl in enumerate(scenario.red_lines)}
    actors = scenario.strategic_ids
    actor_index = {a: j for j, a in enumerate(actors)}
    sides: list[str] = list(actors) + list(scenario.environment_ids)

    def side_of(s: str) -> int:
        if s not in sides:
            sides.append(s)
        return sides.index(s)

    def cond(c: Any) -> Cond | None:
        return None if c is None else compile_cond(c, var_index, rl_index)

    def casualties(c: Any) -> CasualtySpec:
        mean = float(c.mean.value)
        disp = None if c.dispersion is None else float(c.dispersion.value)
        return CasualtySpec(side_of(c.side), mean, disp, casualty_cdf(mean, disp), var_index.get(c.into, -1) if c.into else -1)

    # Global action order: each actor's ladder in ladder order, actors in `order`.
    ladder: list[Any] = []
    for who in scenario.order:
        ladder.extend(scenario.actions_of(who))
    seen = {a.id for a in ladder}
    ladder.extend(a for a in scenario.actions if a.id not in seen)
    action_index = {a.id: i for i, a in enumerate(ladder)}
    local_index: dict[str, int] = {}
    for who in {a.actor for a in ladder}:
        for i, a in enumerate(a for a in ladder if a.actor == who):
            local_index[a.id] = i

    actions: list[ActionSpec] = []
    for a in ladder:
        types = scenario.actor(a.actor).type_ids if scenario.is_strategic(a.actor) else ()
        cost = a.cost.vector(types) if (a.cost is not None and types) else np.zeros(len(types))
        attribution, unattr, attr_i = None, None, -1
        cas: list[CasualtySpec] = []
        errs: list[ErrorSpec] = []
        becomes_errors: list[tuple[int, ErrorSpec]] = []
        others: list[tuple[int, CasualtySpec | ErrorSpec]] = []
        if len(a.consequences) > 16:
            raise UserError(f"actions.{a.id}.consequences: the simulator handles at most 16 (got {len(a.consequences)})")
        for ci, c in enumerate(a.consequences):
            if c.kind == "casualties":
                cs = casualties(c)
                cas.append(cs)
                others.append((ci, cs))
            elif c.kind == "attribution":
                attribution, attr_i = float(c.probability.value), ci
                unattr = _effect(c.unattributed_effects, var_index, n_vars)
            else:
                es = ErrorSpec(
                    id=c.id,
                    probability=float(c.probability.value),
                    effect=_effect(c.effects, var_index, n_vars),
                    becomes=action_index[c.becomes] if c.becomes else -1,
                    casualties=tuple(casualties(x) for x in c.consequences),
                )
                errs.append(es)
                (becomes_errors if es.becomes >= 0 else others).append((ci, es))
        actions.append(
            ActionSpec(
                id=a.id,
                actor=a.actor,
                local=local_index[a.id],
                rung=a.rung if a.rung is not None else 0,
                default=a.default,
                cost=cost,
                effect=_effect(a.effects, var_index, n_vars),
                available=cond(a.available),
                attribution=attribution,
                unattributed=unattr,
                casualties=tuple(cas),
                errors=tuple(errs),
                intensity=None if a.intensity is None else float(a.intensity.value),
                becomes_errors=tuple(becomes_errors),
                other_consequences=tuple(others),
                attribution_index=attr_i,
            )
        )

    movers: list[Mover] = []
    for who in scenario.order:
        own = np.array([action_index[a.id] for a in scenario.actions_of(who)], dtype=np.int64)
        rungs = np.array([a.rung if a.rung is not None else 0 for a in scenario.actions_of(who)], dtype=np.int64)
        if scenario.is_strategic(who):
            movers.append(Mover(who, actor_index[who], (), own, rungs))
        else:
            env = scenario.environment_actor(who)
            rules = []
            for rule in env.rules:
                p = rule.probability
                if hasattr(p, "by"):
                    rules.append(EnvRule(cond(rule.when), action_index[rule.action], 0.0, var_index[p.by], np.asarray(p.table, float)))
                else:
                    rules.append(EnvRule(cond(rule.when), action_index[rule.action], float(p.value)))
            movers.append(Mover(who, -1, tuple(rules), own, rungs))

    types = tuple(scenario.actor(a).type_ids for a in actors)
    true_prior = tuple(scenario.actor(a).priors for a in actors)
    initial_beliefs = tuple(
        np.concatenate([true_prior[i] if i == h else scenario.perceived_prior(actors[h], actors[i]) for i in range(len(actors))])
        for h in range(len(actors))
    )
    red_lines = tuple(
        RedLineSpec(
            id=rl.id,
            owner=actor_index[rl.owner],
            crossed=compile_cond(rl.crossed_when, var_index, rl_index),
            answer_rung=rl.answer_rung,
            deadline=rl.deadline,
            audience_cost=np.array([rl.audience_cost_for(t) for t in types[actor_index[rl.owner]]]),
        )
        for rl in scenario.red_lines
    )
    outcome_ids = scenario.outcome_ids
    horizon_outcome = outcome_ids.index(scenario.horizon_outcome.id)
    cal = scenario.calendar
    return SimSpec(
        scenario_id=scenario.id,
        horizon=scenario.horizon,
        var_ids=var_ids,
        lo=np.array([v.min for v in scenario.state], np.int64),
        hi=np.array([v.max for v in scenario.state], np.int64),
        initial=np.array([v.initial for v in scenario.state], np.int64),
        actors=actors,
        types=types,
        true_prior=true_prior,
        initial_beliefs=initial_beliefs,
        movers=tuple(movers),
        actions=tuple(actions),
        red_lines=red_lines,
        outcomes=outcome_ids,
        outcome_conds=tuple(None if o.at_horizon else cond(o.when) for o in scenario.outcomes),
        horizon_outcome=horizon_outcome,
        sides=tuple(sides),
        calendar_start=None if cal is None else cal.start.isoformat(),
        days_per_round=None if cal is None else cal.days_per_round,
    )


def split_interventions(interventions: Sequence[Any]) -> tuple[dict[str, Any], list[Any]]:
    """(overrides for `with_overrides` from the `set` items, the remaining force/forbid items)."""
    overrides: dict[str, Any] = {}
    rest: list[Any] = []
    for iv in interventions:
        if hasattr(iv, "set"):
            s = iv.set
            overrides[s.param] = s.value if not s.value.is_bare else float(s.value.value)
        else:
            rest.append(iv)
    return overrides, rest


def compile_arm(spec: SimSpec, scenario: Any, interventions: Sequence[Any]) -> Arm:
    """The force/forbid interventions as an `Arm` (set interventions are ignored here)."""
    var_index = {v: i for i, v in enumerate(spec.var_ids)}
    rl_index = {rl.id: k for k, rl in enumerate(spec.red_lines)}
    forces: list[Force] = []
    forbidden: set[int] = set()
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
            forbidden.add(g)
        else:
            f = iv.force
            when = None if f.when is None else compile_cond(f.when, var_index, rl_index)
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
    return Arm(forces=tuple(forces), forbidden=frozenset(forbidden))
