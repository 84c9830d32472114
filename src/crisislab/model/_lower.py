"""`lower`: a checked `Scenario` → its `Model`. The only code that reads the scenario's models for
the engines: every `Param` is resolved to its value, every id to an index, every condition to a
`CondProgram`, every effect list to one composed `Effect`, every casualty distribution to an
inverse-CDF table."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

import numpy as np

from crisislab.errors import UserError
from crisislab.model._cond import CondProgram
from crisislab.model._model import (
    Action,
    CasualtyPay,
    CasualtyTable,
    Effect,
    EnvRule,
    ErrorEvent,
    Flow,
    Model,
    Mover,
    Perception,
    RedLine,
)
from crisislab.model.rules import CMP_NAMES, MAX_CONSEQUENCES, OP_AND, OP_NOT, OP_OR, OP_RL, OP_ROUND, OP_VAR, RL_STATUS_CODES
from crisislab.scenario import AllCondition, AnyCondition, NotCondition, PhaseCondition, ProbTable, RedLineCondition, RoundCondition, VarCondition
from crisislab.scenario import CASUALTY_TAIL, MAX_CASUALTY_TABLE

__all__ = ["casualty_cdf", "lower", "lower_condition"]

_CMP = {name: i for i, name in enumerate(CMP_NAMES)}
# Casualty counts whose upper tail is below this are never drawn (the table stops there). The
# scenario checks refuse distributions whose table would be longer than MAX_CASUALTY_TABLE.
_TAIL = CASUALTY_TAIL


def _ro(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def lower_condition(
    cond: Any, var_index: dict[str, int], rl_index: dict[str, int], phases: dict[str, tuple[int, int]] | None = None
) -> CondProgram:
    """A scenario condition → its `CondProgram` (variables and red lines resolved by the indices,
    calendar phases by `phases`, `{id: (first round, last round)}` as `Model.phase_rounds`)."""
    code: list[tuple[int, int, int, int]] = []
    _emit(cond, var_index, rl_index, code, phases or {})
    return CondProgram(np.array(code, dtype=np.int64))


def _emit(
    cond: Any, var_index: dict[str, int], rl_index: dict[str, int], code: list[tuple[int, int, int, int]],
    phases: dict[str, tuple[int, int]],
) -> None:
    if isinstance(cond, PhaseCondition):
        if cond.phase not in phases:
            raise UserError(f"condition: unknown calendar phase {cond.phase!r} (expected one of {', '.join(phases) or 'none'})")
        first, last = phases[cond.phase]
        code.append((OP_ROUND, 0, _CMP["ge"], first))
        if last < max(b for _, b in phases.values()):  # the last phase goes on past the horizon
            code.append((OP_ROUND, 0, _CMP["le"], last))
            code.append((OP_AND, 2, 0, 0))
    elif isinstance(cond, VarCondition):
        code.append((OP_VAR, var_index[cond.var], _CMP[cond.op], int(cond.value)))
    elif isinstance(cond, RoundCondition):
        code.append((OP_ROUND, 0, _CMP[cond.round.op], int(cond.round.value)))
    elif isinstance(cond, (AllCondition, AnyCondition)):
        parts = cond.all_ if isinstance(cond, AllCondition) else cond.any_
        for c in parts:
            _emit(c, var_index, rl_index, code, phases)
        if len(parts) > 1:
            code.append((OP_AND if isinstance(cond, AllCondition) else OP_OR, len(parts), 0, 0))
    elif isinstance(cond, NotCondition):
        _emit(cond.not_, var_index, rl_index, code, phases)
        code.append((OP_NOT, 0, 0, 0))
    elif isinstance(cond, RedLineCondition):
        code.append((OP_RL, rl_index[cond.red_line], 0, RL_STATUS_CODES[cond.is_]))
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
    return Effect(_ro(add), _ro(set_mask), _ro(set_value))


def casualty_cdf(mean: float, dispersion: float | None) -> np.ndarray:
    """P(count <= j) for j = 0 .. k-1, float64 `(k,)`: negative binomial (mean, size) or Poisson.

    Negative binomial with mean μ and size ν has variance μ + μ²/ν (scenario format); scipy's
    parametrisation is n = ν, p = ν / (ν + μ).
    """
    if mean <= 0:
        return np.ones(1)
    # scipy.stats costs ~0.6 s to import: only a scenario with casualties pays it, when lowered.
    from scipy import stats

    dist = stats.poisson(mean) if dispersion is None else stats.nbinom(dispersion, dispersion / (dispersion + mean))
    q = float(dist.ppf(1.0 - _TAIL))
    if not q <= 2 * MAX_CASUALTY_TABLE:  # checked scenarios never get here (scenario._check)
        raise UserError(
            f"casualty distribution (mean {mean:g}, dispersion {dispersion}) too wide to sample: its table "
            f"would have more than {MAX_CASUALTY_TABLE:,} entries; lower the mean or raise the dispersion"
        )
    k_max = int(q) + 1
    cdf = dist.cdf(np.arange(k_max + 1))
    cdf[-1] = 1.0
    return cdf


def lower(scenario: Any) -> Model:
    """The `Model` of a checked `crisislab.scenario.Scenario`."""
    var_ids = scenario.state_ids
    var_index = {v: i for i, v in enumerate(var_ids)}
    n_vars = len(var_ids)
    rl_index = {rl.id: k for k, rl in enumerate(scenario.red_lines)}
    actors = scenario.strategic_ids
    actor_index = {a: j for j, a in enumerate(actors)}
    outcome_index = {o: i for i, o in enumerate(scenario.outcome_ids)}
    types = tuple(scenario.actor(a).type_ids for a in actors)
    sides: list[str] = list(actors) + list(scenario.environment_ids)

    def side_of(s: str) -> int:
        if s not in sides:
            sides.append(s)
        return sides.index(s)

    cal = scenario.calendar
    phase_rounds = {} if cal is None else cal.phase_rounds
    # Rounds grouped by length: (length in days, conversion exponent d/b, round condition or None).
    groups = _length_groups(cal, int(scenario.horizon))

    def cond(c: Any) -> CondProgram | None:
        return None if c is None else lower_condition(c, var_index, rl_index, phase_rounds)

    def cond_in(c: Any, rounds: Any) -> CondProgram | None:
        if rounds is None:
            return cond(c)
        return cond(rounds if c is None else AllCondition(all=(c, rounds)))

    def casualties(c: Any) -> CasualtyTable:
        mean = float(c.mean.value)
        disp = None if c.dispersion is None else float(c.dispersion.value)
        into = var_index.get(c.into, -1) if getattr(c, "into", None) else -1
        return CasualtyTable(side_of(c.side), mean, disp, _ro(casualty_cdf(mean, disp)), into)

    def per_type(values: Any, actor: str) -> np.ndarray:
        return _ro(np.array([values.for_type(t) for t in types[actor_index[actor]]], dtype=np.float64))

    # The global action order: each mover's ladder in ladder order, movers in `order`.
    ladder: list[Any] = []
    for who in scenario.order:
        ladder.extend(scenario.actions_of(who))
    action_index = {a.id: i for i, a in enumerate(ladder)}
    local_index: dict[str, int] = {}
    for who in scenario.order:
        for i, a in enumerate(scenario.actions_of(who)):
            local_index[a.id] = i

    actions: list[Action] = []
    for a in ladder:
        own_types = types[actor_index[a.actor]] if a.actor in actor_index else ()
        cost = a.cost.vector(own_types) if (a.cost is not None and own_types) else np.zeros(len(own_types))
        attribution, unattr, attr_i = None, None, -1
        becomes_errors: list[tuple[int, ErrorEvent]] = []
        others: list[tuple[int, CasualtyTable | ErrorEvent]] = []
        if len(a.consequences) > MAX_CONSEQUENCES:
            raise UserError(
                f"actions.{a.id}.consequences: the simulator handles at most {MAX_CONSEQUENCES} (got {len(a.consequences)})"
            )
        for ci, c in enumerate(a.consequences):
            if c.kind == "casualties":
                others.append((ci, casualties(c)))
            elif c.kind == "attribution":
                if attribution is None:  # a second attribution of one action is ignored
                    attribution, attr_i = float(c.probability.value), ci
                    unattr = _effect(c.unattributed_effects, var_index, n_vars)
            else:
                es = ErrorEvent(
                    id=c.id,
                    probability=float(c.probability.value),
                    effect=_effect(c.effects, var_index, n_vars),
                    becomes=action_index[c.becomes] if c.becomes else -1,
                    casualties=tuple(casualties(x) for x in c.consequences),
                )
                (becomes_errors if es.becomes >= 0 else others).append((ci, es))
        actions.append(
            Action(
                id=a.id,
                actor=a.actor,
                local=local_index[a.id],
                rung=a.rung if a.rung is not None else 0,
                default=bool(a.default),
                cost=_ro(np.asarray(cost, dtype=np.float64)),
                effect=_effect(a.effects, var_index, n_vars),
                available=cond(a.available),
                attribution=attribution,
                unattributed=unattr,
                becomes_errors=tuple(becomes_errors),
                other_consequences=tuple(others),
                attribution_index=attr_i,
                ends=outcome_index[a.ends] if a.ends is not None else -1,
            )
        )

    movers: list[Mover] = []
    for who in scenario.order:
        own = _ro(np.array([action_index[a.id] for a in scenario.actions_of(who)], dtype=np.int64))
        rungs = _ro(np.array([a.rung if a.rung is not None else 0 for a in scenario.actions_of(who)], dtype=np.int64))
        if who in actor_index:
            movers.append(Mover(who, actor_index[who], (), own, rungs))
        else:
            rules = []
            for rule in scenario.environment_actor(who).rules:
                p = rule.probability
                # one rule per round length, in turn: the length groups partition the rounds, so the
                # first rule that holds in a round is the scenario's first, at that round's rate
                for k, rounds in groups:
                    if isinstance(p, ProbTable):
                        table = _ro(_hazard(np.asarray(p.table, dtype=np.float64), k))
                        rules.append(EnvRule(cond_in(rule.when, rounds), action_index[rule.action], 0.0, var_index[p.by], table))
                    else:
                        prob = float(_hazard(np.asarray(float(p.value)), k))
                        rules.append(EnvRule(cond_in(rule.when, rounds), action_index[rule.action], prob))
            movers.append(Mover(who, -1, tuple(rules), own, rungs))

    red_lines = tuple(
        RedLine(
            id=rl.id,
            owner=actor_index[rl.owner],
            crossed=lower_condition(rl.crossed_when, var_index, rl_index, phase_rounds),
            answer_rung=int(rl.answer_rung),
            deadline=int(rl.deadline),
            audience_cost=_ro(np.array([rl.audience_cost_for(t) for t in types[actor_index[rl.owner]]], dtype=np.float64)),
            on_answer=_effect(rl.on_answer, var_index, n_vars) if rl.on_answer else None,
        )
        for rl in scenario.red_lines
    )

    outcome_casualties = tuple(tuple(casualties(c) for c in o.casualties) for o in scenario.outcomes)
    if not any(outcome_casualties):
        outcome_casualties = ()
    k_max = max(len(t) for t in types)
    terminal = np.zeros((len(outcome_index), len(actors), k_max))
    for o in scenario.outcome_ids:
        for j, a in enumerate(actors):
            for ti, t in enumerate(types[j]):
                terminal[outcome_index[o], j, ti] = scenario.payoffs.terminal_for(o, a, t)
    flows = tuple(
        Flow(actor_index[f.actor], cond_in(f.when, rounds), _flow_value(per_type(f.value, f.actor), k))
        for f in scenario.payoffs.flow
        for k, rounds in groups
    )
    pays = tuple(
        CasualtyPay(actor_index[c.actor], sides.index(c.side), per_type(c.per_death, c.actor))
        for c in scenario.payoffs.casualties
        if c.side in sides  # no consequence kills this side: the payoff never applies
    )
    perceptions = []
    for p in scenario.perceptions:
        about = actor_index[p.about]
        term: tuple = ()
        if p.terminal:
            term = tuple((outcome_index[o], per_type(tv, p.about)) for o, tv in p.terminal.items())
        pv = p.prior_vector(types[about])
        perceptions.append(Perception(actor_index[p.holder], about, None if pv is None else _ro(pv), term))

    horizon = int(scenario.horizon)
    round_discount, round_starts, base = None, None, None
    discount = float(scenario.payoffs.discount.value)
    if cal is not None:
        base = cal.base
        lengths = cal.round_days(horizon)
        if any(d != base for d in lengths):
            round_discount = _ro(np.array([discount ** (d / base) for d in lengths], dtype=np.float64))
        starts = [cal.start]
        for d in lengths:
            starts.append(starts[-1] + _dt.timedelta(days=d))
        round_starts = tuple(x.isoformat() for x in starts)
    return Model(
        scenario_id=scenario.id,
        horizon=int(scenario.horizon),
        discount=float(scenario.payoffs.discount.value),
        var_ids=var_ids,
        lo=_ro(np.array([v.min for v in scenario.state], np.int64)),
        hi=_ro(np.array([v.max for v in scenario.state], np.int64)),
        initial=_ro(np.array([v.initial for v in scenario.state], np.int64)),
        actors=actors,
        types=types,
        lam=_ro(np.array([float(scenario.actor(a).lam.value) for a in actors], dtype=np.float64)),
        true_prior=tuple(_ro(np.array(scenario.actor(a).priors, dtype=np.float64)) for a in actors),
        movers=tuple(movers),
        actions=tuple(actions),
        red_lines=red_lines,
        outcomes=scenario.outcome_ids,
        outcome_conds=tuple(None if o.at_horizon else cond(o.when) for o in scenario.outcomes),
        outcome_casualties=outcome_casualties,
        horizon_outcome=scenario.outcome_ids.index(scenario.horizon_outcome.id),
        sides=tuple(sides),
        terminal=_ro(terminal),
        flows=flows,
        casualty_pays=pays,
        perceptions=tuple(perceptions),
        calendar_start=None if cal is None else cal.start.isoformat(),
        days_per_round=None if cal is None else (cal.days_per_round if cal.phases is None else cal.base),
        round_discount=round_discount,
        round_starts=round_starts,
        base_days=base,
        phases=tuple((p, a, b) for p, (a, b) in phase_rounds.items()),
    )


def _length_groups(cal: Any, horizon: int) -> list[tuple[float, Any]]:
    """`(d/b, rounds)` for each distinct round length d (base period b), in order of first use:
    `rounds` is the scenario condition that holds exactly in those rounds (None: every round). A
    scenario without a calendar, or whose rounds all last b, has one group `(1.0, None)`. The last
    round's range stays open, so a model extended past its horizon keeps the last length's rates."""
    if cal is None:
        return [(1.0, None)]
    lengths = cal.round_days(horizon)
    order = list(dict.fromkeys(lengths))
    if len(order) == 1:
        return [(order[0] / cal.base, None)]
    out = []
    for d in order:
        ranges, r = [], 1
        while r <= horizon:
            if lengths[r - 1] == d:
                e = r
                while e < horizon and lengths[e] == d:
                    e += 1
                ranges.append((r, e))
                r = e + 1
            else:
                r += 1
        parts = []
        for a, e in ranges:
            tests = [RoundCondition(round={"op": "ge", "value": a})] if a > 1 else []
            if e < horizon:
                tests.append(RoundCondition(round={"op": "le", "value": e}))
            parts.append(tests[0] if len(tests) == 1 else AllCondition(all=tuple(tests)))
        out.append((d / cal.base, parts[0] if len(parts) == 1 else AnyCondition(any=tuple(parts))))
    return out


def _hazard(p: np.ndarray, k: float) -> np.ndarray:
    """A per-base-period probability p over a round of k base periods at a constant hazard:
    1 − (1 − p)^k (p itself when k == 1)."""
    if k == 1.0:
        return p
    with np.errstate(divide="ignore"):
        return -np.expm1(k * np.log1p(-p))


def _flow_value(value: np.ndarray, k: float) -> np.ndarray:
    """A flow payoff per base period over a round of k base periods: value · k."""
    return value if k == 1.0 else _ro(value * k)
