"""The model of a crisis: every number and index the engines read, as frozen records and arrays.

Built from a checked `crisislab.scenario.Scenario` by `crisislab.model.lower` (the only code that
reads the scenario's pydantic models), and read by the crisis compiler and solver, the unrolling to
`.efg`, the Monte Carlo simulator (numpy reference engine and numba kernel) and the timeline replay.
Every array is read-only. A model holds no pydantic object, so it pickles cheaply to worker
processes.

Indices used throughout:

- variable v: position in `var_ids` (the scenario's `state` list);
- strategic actor j: position in `actors` (the scenario's `actors` list);
- slot m: position in `movers` (the scenario's `order`; every actor, strategic or environment,
  moves once per round, in this order);
- action x (global): position in `actions`, which lists each mover's ladder (rung order, then
  list order) mover after mover in `order`; a mover's *local* action index is the position in its
  ladder (`Mover.actions`), the index of strategies and policy tables in every engine;
- red line k: position in `red_lines`; outcome o: position in `outcomes`;
- side s: position in `sides` (strategic actors, environment actors, then any other side that
  suffers casualties, in order of first mention).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from crisislab.errors import SolverError
from crisislab.model._cond import CondProgram
from crisislab.scenario import MAX_HORIZON

__all__ = [
    "Action",
    "CasualtyPay",
    "CasualtyTable",
    "Effect",
    "EnvRule",
    "ErrorEvent",
    "Flow",
    "Model",
    "Mover",
    "Perception",
    "RedLine",
]


def _ro(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Effect:
    """A list of state effects, composed: `new = clip(where(set_mask, set_value, old + add), lo, hi)`.

    `add`, `set_value`: int64 `(n_vars,)`; `set_mask`: bool `(n_vars,)`. The effects of one list are
    composed per variable in list order (the last `set`, shifted by the `add`s after it) and the
    result is clipped once, at the end. (Applying the list one effect at a time with a clip after
    each would differ only for two effects on one variable whose partial sum leaves the range.)
    """

    add: np.ndarray
    set_mask: np.ndarray
    set_value: np.ndarray

    @property
    def is_noop(self) -> bool:
        return not self.add.any() and not self.set_mask.any()

    def touched(self) -> tuple[tuple[int, bool, int], ...]:
        """The variables the effect changes: `(v, is_set, value)` (value: the set value or the add)."""
        out = []
        for v in range(self.add.size):
            if self.set_mask[v]:
                out.append((v, True, int(self.set_value[v])))
            elif self.add[v]:
                out.append((v, False, int(self.add[v])))
        return tuple(out)


@dataclass(frozen=True, eq=False)
class CasualtyTable:
    """Deaths of side `side` (index into `Model.sides`): negative binomial with `mean` and size
    `dispersion` (variance mean + mean²/dispersion), Poisson when `dispersion` is None.

    `cdf`: float64 `(k,)`, P(count <= j) for j < k, the simulator's inverse-CDF table (counts whose
    upper tail is below 1e-12 are never drawn; `cdf[-1] == 1`; a single entry when `mean <= 0`).
    `into`: the variable increased by the count (clipped at its max), or -1.
    """

    side: int
    mean: float
    dispersion: float | None
    cdf: np.ndarray
    into: int


@dataclass(frozen=True, eq=False)
class ErrorEvent:
    """An operational error: with `probability`, `effect` and the casualty tables `casualties`
    happen too; with `becomes` >= 0 (a global action index) the act executes as that action."""

    id: str
    probability: float
    effect: Effect
    becomes: int
    casualties: tuple[CasualtyTable, ...]


@dataclass(frozen=True, eq=False)
class Action:
    """One action of a strategic or environment actor.

    `local`: index in its actor's ladder; `cost`: float64 `(n_types,)`, the acting strategic
    actor's signed payoff per use for each own type (empty for environment actors); `effect`: its
    effects; `available`: None = always. Consequences, in the scenario's list order, split as both
    engines execute them: `becomes_errors` (consequence index, error) are tried first, in order,
    and the first that fires replaces the act; otherwise the act's effect (or, with `attribution`
    = P(attributed) not None and an unattributed draw, `unattributed`) applies and then
    `other_consequences` (casualty tables and errors without `becomes`) in order.
    `attribution_index` is the attribution's consequence index (-1 if none; the list's first
    attribution counts, a later one is ignored); consequence indices name RNG slots
    (`crisislab.model.rules`). `ends`: the outcome the crisis ends in once this action has
    executed (its effects, consequences and the red-line bookkeeping of the move), or -1; when an
    error turns an act into another, the executed action's `ends` counts.
    """

    id: str
    actor: str
    local: int
    rung: int
    default: bool
    cost: np.ndarray
    effect: Effect
    available: CondProgram | None
    attribution: float | None
    unattributed: Effect | None
    becomes_errors: tuple[tuple[int, ErrorEvent], ...] = ()
    other_consequences: tuple[tuple[int, CasualtyTable | ErrorEvent], ...] = ()
    attribution_index: int = -1
    ends: int = -1

    @property
    def has_consequences(self) -> bool:
        return bool(self.becomes_errors or self.other_consequences or self.attribution is not None)


@dataclass(frozen=True, eq=False)
class EnvRule:
    """The first rule of an environment actor whose `when` holds (None: always) fires `action`
    (global index) with probability `p`, or `table[state[by] - lo[by]]` when `by` >= 0 (`table`
    float64 `(hi[by] - lo[by] + 1,)`)."""

    when: CondProgram | None
    action: int
    p: float
    by: int = -1
    table: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Mover:
    """Slot of the move order: strategic actor `strategic` (index into `Model.actors`) or, with
    `strategic == -1`, an environment actor with `env_rules`. `actions`: int64 `(n_ladder,)`
    global indices of its ladder; `rungs`: int64 `(n_ladder,)` their rungs."""

    id: str
    strategic: int
    env_rules: tuple[EnvRule, ...] = ()
    actions: np.ndarray = field(default_factory=lambda: _ro(np.zeros(0, np.int64)))
    rungs: np.ndarray = field(default_factory=lambda: _ro(np.zeros(0, np.int64)))


@dataclass(frozen=True, eq=False)
class RedLine:
    """Crossed when `crossed` holds; the owner (strategic actor index) then has `deadline` own moves
    to play a rung >= `answer_rung`, or pays `audience_cost` (float64 `(n_types_owner,)`, payoff
    units, already multiplied by the scale) once. `on_answer`: the state effect applied at the move
    that answers it (after the act's effects and consequences, before crossings and outcome
    checks), or None. Once answered or failed a red line stays so (`crossed` is not tested again)."""

    id: str
    owner: int
    crossed: CondProgram
    answer_rung: int
    deadline: int
    audience_cost: np.ndarray
    on_answer: Effect | None = None


@dataclass(frozen=True, eq=False)
class Flow:
    """Payoff `value` (float64 `(n_types_actor,)`, payoff units per round) to strategic actor
    `actor` at the end of every round in which `when` holds (None: always)."""

    actor: int
    when: CondProgram | None
    value: np.ndarray


@dataclass(frozen=True, eq=False)
class CasualtyPay:
    """Payoff `per_death` (float64 `(n_types_actor,)`, payoff units per death) to strategic actor
    `actor` for each death of side `side` (index into `Model.sides`)."""

    actor: int
    side: int
    per_death: np.ndarray


@dataclass(frozen=True, eq=False)
class Perception:
    """`holder`'s view of `about` (strategic actor indices): its prior over `about`'s types
    (float64 `(n_types_about,)`, or None: the true prior) and terminal payoffs it attributes to
    `about`, `((outcome, float64 (n_types_about,)), ...)` (empty: as true)."""

    holder: int
    about: int
    prior: np.ndarray | None
    terminal: tuple[tuple[int, np.ndarray], ...] = ()


@dataclass(frozen=True, eq=False)
class Model:
    """A crisis, lowered once for every engine (indices: see the module docstring).

    State: `var_ids` (n_vars,); `lo`, `hi`, `initial`: int64 `(n_vars,)`. Rounds are 1-based,
    `horizon` of them; payoffs of round r count the product of `discount_after(q)` for q < r
    (`discount**(r-1)` when every round lasts the calendar's base period).

    Strategic actors: `actors` (ids), `types[j]` (type ids), `lam`: float64 `(n_actors,)` logit
    precision, `true_prior[j]`: float64 `(n_types_j,)`. Beliefs: a holder's belief vector is
    float64 `(n_belief,)`, `n_belief = sum(n_types)`, segment `belief_slices[j]` about actor j
    (about itself: what it thinks the others believe about it); `initial_beliefs[h]` is holder h's
    at the start (its perceived priors, the true prior about itself).

    Play: `movers` (the move order), `actions` (global order), `red_lines`. Outcomes: `outcomes`
    (ids), `outcome_conds[o]` (None for the horizon outcome `horizon_outcome` and for an outcome
    only actions end); after every move the executed action's `Action.ends`, else the first
    outcome (list order) whose condition holds, ends the run. `outcome_casualties[o]`: casualty
    tables drawn when a run ends in outcome o (`into` -1; empty tuple of tuples: none anywhere).

    Payoffs: `terminal`: float64 `(n_outcomes, n_actors, k_max)`, per outcome, actor and own type
    (zero-padded past an actor's types); `flows`, `casualty_pays`, the actions' `cost` and the red
    lines' `audience_cost`. `perceptions`: the hypergame's misperceptions (`perceived`).

    `sides`: who suffers casualties. `calendar_start` (ISO date of round 1) and `days_per_round`:
    the scenario's calendar, or None (`days_per_round` is the base period of a phased calendar).

    Calendar phases (rounds of different lengths; docs/scenario-format.md, `calendar`):
    `round_discount`: float64 `(horizon,)`, read-only, the factor applied to values of round r+1
    seen from round r (entry r-1), δ^(d_r/b) for a round of d_r days and base period b; None when
    every round lasts b (then `discount`). `round_starts`: ISO dates, `horizon + 1` entries, the
    first day of each round and the day after the last (None without a calendar). `base_days`: b.
    `phases`: `(id, first round, last round)` of each calendar phase (empty without phases). The
    per-round rates (environment probabilities, flows) are already converted to each round's
    length by `lower`.
    """

    scenario_id: str
    horizon: int
    discount: float
    var_ids: tuple[str, ...]
    lo: np.ndarray
    hi: np.ndarray
    initial: np.ndarray
    actors: tuple[str, ...]
    types: tuple[tuple[str, ...], ...]
    lam: np.ndarray
    true_prior: tuple[np.ndarray, ...]
    movers: tuple[Mover, ...]
    actions: tuple[Action, ...]
    red_lines: tuple[RedLine, ...]
    outcomes: tuple[str, ...]
    outcome_conds: tuple[CondProgram | None, ...]
    horizon_outcome: int
    sides: tuple[str, ...]
    terminal: np.ndarray
    flows: tuple[Flow, ...] = ()
    casualty_pays: tuple[CasualtyPay, ...] = ()
    perceptions: tuple[Perception, ...] = ()
    calendar_start: str | None = None
    days_per_round: int | None = None
    outcome_casualties: tuple[tuple[CasualtyTable, ...], ...] = ()
    round_discount: np.ndarray | None = None
    round_starts: tuple[str, ...] | None = None
    base_days: int | None = None
    phases: tuple[tuple[str, int, int], ...] = ()

    # ----- calendar ---------------------------------------------------------------------------
    def discount_after(self, round_: int) -> float:
        """The factor applied to values of round `round_ + 1` seen from round `round_`."""
        if self.round_discount is None:
            return self.discount
        return float(self.round_discount[min(max(round_, 1), self.horizon) - 1])

    @property
    def phase_rounds(self) -> dict[str, tuple[int, int]]:
        """Each calendar phase's first and last round (inclusive)."""
        return {p: (a, b) for p, a, b in self.phases}

    def round_dates(self, round_: int) -> tuple[str, str]:
        """ISO first and last day of round `round_` (1..horizon); ("", "") without a calendar."""
        if self.round_starts is None:
            return "", ""
        if not 1 <= round_ <= self.horizon:
            raise ValueError(f"round {round_} outside 1..{self.horizon}")
        import datetime as _dt

        end = _dt.date.fromisoformat(self.round_starts[round_]) - _dt.timedelta(days=1)
        return self.round_starts[round_ - 1], end.isoformat()

    def days_of_round(self, round_: int) -> int:
        """Length in days of round `round_` (1..horizon; 0 without a calendar)."""
        if self.round_starts is None:
            return 0
        import datetime as _dt

        a, b = (_dt.date.fromisoformat(self.round_starts[i]) for i in (round_ - 1, round_))
        return (b - a).days

    def round_of_date(self, day: object) -> int:
        """1-based round containing `day` (a date or ISO text): < 1 before the calendar, > horizon
        after it (counted at the first and last round's lengths). ValueError without a calendar."""
        import bisect
        import datetime as _dt

        if self.round_starts is None:
            raise ValueError(f"scenario {self.scenario_id} has no calendar")
        d = day if isinstance(day, _dt.date) else _dt.date.fromisoformat(str(day)[:10])
        if isinstance(d, _dt.datetime):
            d = d.date()
        iso = d.isoformat()  # ISO dates (four-digit years) sort as the days they name
        first, last = self.round_starts[0], self.round_starts[-1]
        if iso < first:
            return (d - _dt.date.fromisoformat(first)).days // self.days_of_round(1) + 1
        if iso >= last:
            return self.horizon + 1 + (d - _dt.date.fromisoformat(last)).days // self.days_of_round(self.horizon)
        return bisect.bisect_right(self.round_starts, iso)

    @property
    def round_offsets(self) -> np.ndarray:
        """float64 `(horizon + 1,)`: the time from round 1's start to the start of each round (the
        last entry: the end of the last round), in base periods (`base_days`; in rounds without a
        calendar). Rates "per round at risk" divide by it, so rounds of unequal length weigh by
        their duration."""
        if self.round_starts is None:
            return np.arange(self.horizon + 1, dtype=np.float64)
        return self.round_start_days() / float(self.base_days or self.days_per_round or 1)

    def round_start_days(self) -> np.ndarray:
        """float64 `(horizon + 1,)`: days from round 1's start to each round's start (rounds
        without a calendar: NaN)."""
        if self.round_starts is None:
            return np.full(self.horizon + 1, np.nan)
        import datetime as _dt

        t0 = _dt.date.fromisoformat(self.round_starts[0])
        return np.array([(_dt.date.fromisoformat(s) - t0).days for s in self.round_starts[: self.horizon + 1]], dtype=np.float64)

    # ----- sizes and indices ------------------------------------------------------------------
    @property
    def n_vars(self) -> int:
        return len(self.var_ids)

    @property
    def n_actors(self) -> int:
        return len(self.actors)

    @property
    def k_max(self) -> int:
        """The largest number of types of a strategic actor."""
        return max(len(t) for t in self.types)

    @property
    def n_types(self) -> np.ndarray:
        """int64 `(n_actors,)` number of types per strategic actor."""
        return np.array([len(t) for t in self.types], dtype=np.int64)

    @property
    def belief_slices(self) -> tuple[slice, ...]:
        out, start = [], 0
        for t in self.types:
            out.append(slice(start, start + len(t)))
            start += len(t)
        return tuple(out)

    @property
    def n_belief(self) -> int:
        return sum(len(t) for t in self.types)

    @property
    def slot_of(self) -> tuple[int, ...]:
        """Slot of each strategic actor in the move order: `(n_actors,)`."""
        out = [0] * self.n_actors
        for m, mv in enumerate(self.movers):
            if mv.strategic >= 0:
                out[mv.strategic] = m
        return tuple(out)

    def casualties_of(self, outcome: int) -> tuple[CasualtyTable, ...]:
        """The casualty tables outcome `outcome` carries (empty if none)."""
        return self.outcome_casualties[outcome] if self.outcome_casualties else ()

    def ladder(self, actor: int) -> np.ndarray:
        """Global indices of strategic actor `actor`'s ladder (its local order): int64 `(n_ladder,)`."""
        return self.movers[self.slot_of[actor]].actions

    def action_index(self, action_id: str) -> int:
        for i, a in enumerate(self.actions):
            if a.id == action_id:
                return i
        raise KeyError(action_id)

    # ----- priors and beliefs -----------------------------------------------------------------
    @property
    def prior(self) -> np.ndarray:
        """float64 `(n_actors, k_max)` true prior (zero-padded)."""
        out = np.zeros((self.n_actors, self.k_max))
        for j, p in enumerate(self.true_prior):
            out[j, : p.size] = p
        return out

    def perceived_prior(self, holder: int) -> np.ndarray:
        """float64 `(n_actors, k_max)`: `holder`'s prior over each actor's types (zero-padded;
        about itself the true prior: it assumes the others see it as it truly is distributed)."""
        prior = self.prior
        for p in self.perceptions:
            if p.holder == holder and p.prior is not None:
                prior[p.about, : p.prior.size] = p.prior
        return prior

    @property
    def initial_beliefs(self) -> tuple[np.ndarray, ...]:
        """Holder h's initial belief vector, float64 `(n_belief,)`, for each strategic actor h."""
        out = []
        for h in range(self.n_actors):
            prior = self.perceived_prior(h)
            out.append(_ro(np.concatenate([prior[j, : len(t)] for j, t in enumerate(self.types)])))
        return tuple(out)

    # ----- derived models ---------------------------------------------------------------------
    def perceived(self, holder: int) -> tuple[Model, np.ndarray]:
        """The common-prior game as strategic actor `holder` perceives it, and its prior.

        Returns the perceived model (the others' terminal payoffs replaced by the holder's view;
        `self` when it has none) and `holder`'s prior, float64 `(n_actors, k_max)` (see
        `perceived_prior`), read-only.
        """
        prior = self.perceived_prior(holder)
        terminal = self.terminal.copy()
        changed = False
        for p in self.perceptions:
            if p.holder != holder:
                continue
            for o, values in p.terminal:
                terminal[o, p.about, : values.size] = values
                changed = True
        prior.setflags(write=False)
        return (replace(self, terminal=_ro(terminal)) if changed else self), prior

    def with_terminal(self, terminal: np.ndarray) -> Model:
        """The same model with terminal payoffs `terminal` (float64 `(n_outcomes, n_actors, k_max)`)."""
        return replace(self, terminal=_ro(np.array(terminal, dtype=np.float64)))

    def with_horizon(self, horizon: int) -> Model:
        """The same crisis truncated (or extended) to `horizon` rounds (SolverError if < 1 or
        beyond the scenario format's limit). Extending a calendar adds rounds of the last round's
        length (the last phase goes on); its rates were lowered for that length already."""
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
            raise SolverError(f"horizon: a crisis needs at least one round (got {horizon!r}; expected an integer ≥ 1)")
        if horizon > MAX_HORIZON:
            raise SolverError(
                f"horizon: at most {MAX_HORIZON:,} rounds, the limit of a scenario's horizon (got {int(horizon):,}); "
                f"the solver works round by round (docs/scenario-format.md, Limits)"
            )
        horizon = int(horizon)
        changes: dict = {"horizon": horizon}
        if self.round_starts is not None:
            import datetime as _dt

            starts = [_dt.date.fromisoformat(x) for x in self.round_starts[: horizon + 1]]
            step = _dt.timedelta(days=self.days_of_round(self.horizon))
            try:
                while len(starts) < horizon + 1:
                    starts.append(starts[-1] + step)
            except OverflowError:
                raise SolverError(f"horizon: {horizon:,} rounds run the calendar past the year 9999") from None
            changes["round_starts"] = tuple(x.isoformat() for x in starts)
        if self.round_discount is not None:
            rd = self.round_discount[:horizon]
            if rd.size < horizon:
                rd = np.concatenate([rd, np.full(horizon - rd.size, rd[-1])])
            changes["round_discount"] = _ro(np.array(rd, dtype=np.float64))
        if self.phases:
            changes["phases"] = tuple((p, a, min(b, horizon)) for p, a, b in self.phases if a <= horizon)
            # the last phase goes on past its end
            if horizon > self.phases[-1][2]:
                p, a, _ = self.phases[-1]
                changes["phases"] = changes["phases"][:-1] + ((p, a, horizon),)
        return replace(self, **changes)
