"""The crisis engine's own flat, resolved view of a scenario (plain tuples and floats).

`CrisisSpec` holds everything compilation needs with every `Param` resolved to its value, every id
resolved to an index and every condition turned into a small tagged tuple (`_cond.py`). It is built
from a `crisislab.scenario.Scenario` by `spec_from_scenario` (the only place that knows the pydantic
models' attribute names), or directly in tests. Perceived games (hypergame) are new specs made by
`perceived_spec`, which swaps priors and terminal payoffs and leaves everything else alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from crisislab.errors import SolverError

__all__ = [
    "ActionSpec",
    "ActorSpec",
    "Attribution",
    "Casualties",
    "CasualtyPay",
    "CrisisSpec",
    "EnvActorSpec",
    "EnvRule",
    "ErrorEvent",
    "FlowSpec",
    "OutcomeSpec",
    "PerceptionSpec",
    "RedLineSpec",
    "VarSpec",
]

# A condition is a tagged tuple (see `_cond.py`):
#   ("true",) | ("var", col, op, value) | ("round", op, value) | ("all", (c, ...))
#   | ("any", (c, ...)) | ("not", c) | ("red_line", index, status_code)
Cond = tuple
# An effect is (col, kind, value) with kind "add" or "set".
Effect = tuple[int, str, int]


@dataclass(frozen=True)
class VarSpec:
    id: str
    lo: int
    hi: int
    initial: int


@dataclass(frozen=True)
class Casualties:
    """Deaths of `side`: negative binomial with `mean` and size `dispersion` (None = Poisson).

    `into` is the state column increased by the count (clipped at its max), or -1.
    """

    side: str
    mean: float
    dispersion: float | None
    into: int = -1


@dataclass(frozen=True)
class ErrorEvent:
    """An operational error: with `probability`, `effects` and nested `consequences` happen too;
    with `becomes` (a global action index) the act executes as that action instead."""

    id: str
    probability: float
    effects: tuple[Effect, ...] = ()
    becomes: int = -1
    consequences: tuple = ()


@dataclass(frozen=True)
class Attribution:
    """With `probability` the act is attributed; otherwise `unattributed_effects` replace its effects."""

    probability: float
    unattributed_effects: tuple[Effect, ...] = ()


@dataclass(frozen=True)
class ActionSpec:
    """One action of a strategic or environment actor. `cost`: per type of the strategic actor
    (empty tuple for environment actors), signed payoff per use."""

    id: str
    actor: str
    rung: int
    cost: tuple[float, ...]
    effects: tuple[Effect, ...] = ()
    available: Cond | None = None
    consequences: tuple = ()
    default: bool = False


@dataclass(frozen=True)
class ActorSpec:
    """A strategic actor: logit precision, type ids, true prior, global indices of its ladder."""

    id: str
    lam: float
    types: tuple[str, ...]
    prior: tuple[float, ...]
    actions: tuple[int, ...]


@dataclass(frozen=True)
class EnvRule:
    """First rule whose `when` holds fires `action` (global index) with probability `p`, or with
    `table[state[by] - lo_by]` when `by` >= 0."""

    when: Cond | None
    action: int
    p: float = 0.0
    by: int = -1
    table: tuple[float, ...] = ()


@dataclass(frozen=True)
class EnvActorSpec:
    id: str
    rules: tuple[EnvRule, ...]


@dataclass(frozen=True)
class RedLineSpec:
    """`audience_cost` per type of the owner, already multiplied by the scale."""

    id: str
    owner: int
    crossed_when: Cond
    answer_rung: int
    deadline: int
    audience_cost: tuple[float, ...]


@dataclass(frozen=True)
class OutcomeSpec:
    id: str
    when: Cond | None
    at_horizon: bool = False


@dataclass(frozen=True)
class FlowSpec:
    actor: int
    when: Cond | None
    value: tuple[float, ...]


@dataclass(frozen=True)
class CasualtyPay:
    actor: int
    side: str
    per_death: tuple[float, ...]


@dataclass(frozen=True)
class PerceptionSpec:
    """`holder`'s view of actor `about`: a prior (or None) and terminal payoff overrides
    `{outcome index: per-type values}` (empty = as true)."""

    holder: int
    about: int
    prior: tuple[float, ...] | None
    terminal: tuple[tuple[int, tuple[float, ...]], ...] = ()


@dataclass(frozen=True)
class CrisisSpec:
    """A resolved scenario. `order`: tuple of ("actor", i) / ("env", e) slots.

    `terminal`: float64 `(n_outcomes, n_actors, k_max)`, payoff per outcome, actor and own type.
    """

    id: str
    horizon: int
    discount: float
    vars: tuple[VarSpec, ...]
    actors: tuple[ActorSpec, ...]
    env_actors: tuple[EnvActorSpec, ...]
    actions: tuple[ActionSpec, ...]
    order: tuple[tuple[str, int], ...]
    red_lines: tuple[RedLineSpec, ...]
    outcomes: tuple[OutcomeSpec, ...]
    terminal: np.ndarray
    flows: tuple[FlowSpec, ...] = ()
    casualty_pays: tuple[CasualtyPay, ...] = ()
    perceptions: tuple[PerceptionSpec, ...] = ()

    @property
    def n_actors(self) -> int:
        return len(self.actors)

    @property
    def k_max(self) -> int:
        return max(len(a.types) for a in self.actors)

    def with_horizon(self, horizon: int) -> CrisisSpec:
        """The same crisis truncated (or extended) to `horizon` rounds (SolverError if < 1)."""
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
            raise SolverError(f"--horizon: a crisis needs at least one round (got {horizon!r}; expected an integer ≥ 1)")
        from crisislab.scenario._check import MAX_HORIZON

        if horizon > MAX_HORIZON:
            raise SolverError(
                f"--horizon: at most {MAX_HORIZON:,} rounds, the limit of a scenario's horizon (got {int(horizon):,}); "
                f"the solver works round by round (docs/scenario-format.md, Limits)"
            )
        return replace(self, horizon=int(horizon))


def perceived_spec(spec: CrisisSpec, holder: int) -> tuple[CrisisSpec, np.ndarray]:
    """The common-prior game as `holder` perceives it, and its initial belief profile.

    Returns the perceived spec (terminal payoffs of others replaced by the holder's view) and
    `prior`: float64 `(n_actors, k_max)`, the holder's prior over each actor's types (about itself:
    the true prior, i.e. the holder assumes the others see it as it truly is distributed).
    """
    prior = np.zeros((spec.n_actors, spec.k_max))
    for i, a in enumerate(spec.actors):
        prior[i, : len(a.prior)] = a.prior
    terminal = spec.terminal.copy()
    changed = False
    for p in spec.perceptions:
        if p.holder != holder:
            continue
        if p.prior is not None:
            prior[p.about, : len(p.prior)] = p.prior
        for o, values in p.terminal:
            terminal[o, p.about, : len(values)] = values
            changed = True
    terminal.setflags(write=False)
    prior.setflags(write=False)
    return (replace(spec, terminal=terminal) if changed else spec), prior


# ------------------------------------------------------------------------------------------
# Adapter from the scenario layer's pydantic models (the only code that knows their names)
# ------------------------------------------------------------------------------------------


def _cond_from(c, var_index: dict, rl_index: dict) -> Cond | None:
    from crisislab.crisis._cond import RL_STATUS_CODES
    from crisislab.scenario import _models as M

    if c is None:
        return None
    if isinstance(c, M.VarCondition):
        return ("var", var_index[c.var], c.op, int(c.value))
    if isinstance(c, M.RoundCondition):
        return ("round", c.round.op, int(c.round.value))
    if isinstance(c, M.AllCondition):
        return ("all", tuple(_cond_from(x, var_index, rl_index) for x in c.all_))
    if isinstance(c, M.AnyCondition):
        return ("any", tuple(_cond_from(x, var_index, rl_index) for x in c.any_))
    if isinstance(c, M.NotCondition):
        return ("not", _cond_from(c.not_, var_index, rl_index))
    if isinstance(c, M.RedLineCondition):
        return ("red_line", rl_index[c.red_line], RL_STATUS_CODES[c.is_])
    raise TypeError(f"unknown condition {type(c).__name__}")


def spec_from_scenario(scn) -> CrisisSpec:
    """Resolve a checked `crisislab.scenario.Scenario` into a `CrisisSpec` (values, indices)."""
    from crisislab.scenario import _models as M

    var_index = {v.id: i for i, v in enumerate(scn.state)}
    rl_index = {r.id: i for i, r in enumerate(scn.red_lines)}
    actor_index = {a.id: i for i, a in enumerate(scn.actors)}
    env_index = {e.id: i for i, e in enumerate(scn.environment)}
    outcome_index = {o.id: i for i, o in enumerate(scn.outcomes)}
    cond = lambda c: _cond_from(c, var_index, rl_index)  # noqa: E731

    # Global action order: each actor's ladder in rung order (Scenario.actions_of), strategic first.
    ordered = []
    for a in scn.actors:
        ordered.extend(scn.actions_of(a.id))
    for e in scn.environment:
        ordered.extend(scn.actions_of(e.id))
    action_index = {a.id: i for i, a in enumerate(ordered)}

    def effects(items) -> tuple:
        return tuple((var_index[e.var], "add" if e.add is not None else "set", int(e.add if e.add is not None else e.set)) for e in items)

    def casualties(c) -> Casualties:
        return Casualties(
            side=c.side,
            mean=float(c.mean.value),
            dispersion=None if c.dispersion is None else float(c.dispersion.value),
            into=var_index[c.into] if c.into is not None else -1,
        )

    def consequence(c):
        if isinstance(c, M.Casualties):
            return casualties(c)
        if isinstance(c, M.ErrorEvent):
            return ErrorEvent(
                id=c.id,
                probability=float(c.probability.value),
                effects=effects(c.effects),
                becomes=action_index[c.becomes] if c.becomes is not None else -1,
                consequences=tuple(casualties(x) for x in c.consequences),
            )
        return Attribution(probability=float(c.probability.value), unattributed_effects=effects(c.unattributed_effects))

    types_of = {a.id: a.type_ids for a in scn.actors}
    actions = []
    for a in ordered:
        tids = types_of.get(a.actor, ())
        actions.append(
            ActionSpec(
                id=a.id,
                actor=a.actor,
                rung=int(a.rung) if a.rung is not None else 0,
                cost=tuple(a.cost_for(t) for t in tids),
                effects=effects(a.effects),
                available=cond(a.available),
                consequences=tuple(consequence(c) for c in a.consequences),
                default=bool(a.default),
            )
        )
    actors = tuple(
        ActorSpec(
            id=a.id,
            lam=float(a.lam.value),
            types=a.type_ids,
            prior=tuple(float(p) for p in a.priors),
            actions=tuple(action_index[x.id] for x in scn.actions_of(a.id)),
        )
        for a in scn.actors
    )
    env_actors = []
    for e in scn.environment:
        rules = []
        for r in e.rules:
            p = r.probability
            if isinstance(p, M.ProbTable):
                rules.append(EnvRule(cond(r.when), action_index[r.action], by=var_index[p.by], table=tuple(float(x) for x in p.table)))
            else:
                rules.append(EnvRule(cond(r.when), action_index[r.action], p=float(p.value)))
        env_actors.append(EnvActorSpec(e.id, tuple(rules)))
    order = tuple(("actor", actor_index[x]) if x in actor_index else ("env", env_index[x]) for x in scn.order)
    red_lines = tuple(
        RedLineSpec(
            id=r.id,
            owner=actor_index[r.owner],
            crossed_when=cond(r.crossed_when),
            answer_rung=int(r.answer_rung),
            deadline=int(r.deadline),
            audience_cost=tuple(r.audience_cost_for(t) for t in types_of[r.owner]),
        )
        for r in scn.red_lines
    )
    outcomes = tuple(OutcomeSpec(o.id, cond(o.when), bool(o.at_horizon)) for o in scn.outcomes)
    k_max = max(len(a.types) for a in actors)
    terminal = np.zeros((len(outcomes), len(actors), k_max))
    for o in scn.outcomes:
        for a in scn.actors:
            for ti, t in enumerate(a.type_ids):
                terminal[outcome_index[o.id], actor_index[a.id], ti] = scn.payoffs.terminal_for(o.id, a.id, t)
    terminal.setflags(write=False)
    flows = tuple(
        FlowSpec(actor_index[f.actor], cond(f.when), tuple(f.value.for_type(t) for t in types_of[f.actor]))
        for f in scn.payoffs.flow
    )
    pays = tuple(
        CasualtyPay(actor_index[c.actor], c.side, tuple(c.per_death.for_type(t) for t in types_of[c.actor]))
        for c in scn.payoffs.casualties
    )
    perceptions = []
    for p in scn.perceptions:
        tids = types_of[p.about]
        term = ()
        if p.terminal:
            term = tuple((outcome_index[o], tuple(tv.for_type(t) for t in tids)) for o, tv in p.terminal.items())
        perceptions.append(
            PerceptionSpec(actor_index[p.holder], actor_index[p.about], tuple(float(x) for x in p.prior_vector(tids)), term)
        )
    return CrisisSpec(
        id=scn.id,
        horizon=int(scn.horizon),
        discount=float(scn.payoffs.discount.value),
        vars=tuple(VarSpec(v.id, int(v.min), int(v.max), int(v.initial)) for v in scn.state),
        actors=actors,
        env_actors=tuple(env_actors),
        actions=tuple(actions),
        order=order,
        red_lines=red_lines,
        outcomes=outcomes,
        terminal=terminal,
        flows=flows,
        casualty_pays=pays,
        perceptions=tuple(perceptions),
    )
