"""The simulator's own flat view of a scenario: arrays and small records, ready for vectorized runs.

`SimSpec` is what the Monte Carlo loop reads. It is built from a `crisislab.scenario` model by
`crisislab.simulate._compile.compile_spec`, and holds no pydantic objects, so a spec pickles cheaply
to worker processes. Conditions are compiled to functions of the public state over all runs at once:
`cond(state, round_, rl_status) -> bool array of shape (n,)`, where `state` is an int array of shape
`(n, n_vars)` and `rl_status` an int8 array of shape `(n, n_red_lines)` with codes `RL_*`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "RL_ANSWERED",
    "RL_FAILED",
    "RL_INACTIVE",
    "RL_PENDING",
    "ActionSpec",
    "CasualtySpec",
    "Cond",
    "CondProgram",
    "Effect",
    "EnvRule",
    "ErrorSpec",
    "Mover",
    "RedLineSpec",
    "SimSpec",
]

RL_INACTIVE, RL_PENDING, RL_ANSWERED, RL_FAILED = 0, 1, 2, 3
RL_STATUS_NAMES = ("inactive", "pending", "answered", "failed")

Cond = Callable[[np.ndarray, int, np.ndarray], np.ndarray]

# Opcodes of `CondProgram` (postfix; one row (op, a, b, c) per instruction).
OP_VAR, OP_ROUND, OP_RL, OP_AND, OP_OR, OP_NOT, OP_TRUE = 0, 1, 2, 3, 4, 5, 6
# Comparison codes (b of OP_VAR / OP_ROUND), in this order.
CMP_NAMES = ("eq", "ne", "lt", "le", "gt", "ge")
_CMP_FUNCS = (np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal)


class CondProgram:
    """A condition as a small postfix program, callable like a `Cond`.

    `code`: int64 array of shape `(n_instr, 4)`, rows `(op, a, b, c)`:
    `OP_VAR` pushes `state[:, a] <cmp b> c`; `OP_ROUND` pushes `round <cmp b> c`; `OP_RL` pushes
    `rl_status[:, a] == c`; `OP_AND`/`OP_OR` pop `a` values and push their conjunction/disjunction;
    `OP_NOT` negates the top; `OP_TRUE` pushes True. The same program is evaluated here over all
    runs at once (numpy) and per run inside the compiled simulation kernel, which cannot call
    Python closures: that is why conditions are data rather than lambdas.
    """

    __slots__ = ("code",)

    def __init__(self, code: np.ndarray):
        arr = np.ascontiguousarray(np.asarray(code, dtype=np.int64).reshape(-1, 4))
        arr.setflags(write=False)
        self.code = arr

    @staticmethod
    def true() -> CondProgram:
        return CondProgram(np.array([[OP_TRUE, 0, 0, 0]]))

    def __and__(self, other: CondProgram) -> CondProgram:
        return CondProgram(np.concatenate([self.code, other.code, [[OP_AND, 2, 0, 0]]]))

    @property
    def uses_round(self) -> bool:
        return bool((self.code[:, 0] == OP_ROUND).any())

    def __call__(self, state: np.ndarray, round_: int, rl_status: np.ndarray) -> np.ndarray:
        n = state.shape[0]
        stack: list[np.ndarray] = []
        for op, a, b, c in self.code.tolist():
            if op == OP_VAR:
                stack.append(_CMP_FUNCS[b](state[:, a], c))
            elif op == OP_ROUND:
                stack.append(np.full(n, bool(_CMP_FUNCS[b](round_, c))))
            elif op == OP_RL:
                stack.append(rl_status[:, a] == c)
            elif op == OP_AND or op == OP_OR:
                parts = stack[len(stack) - a :]
                del stack[len(stack) - a :]
                out = parts[0]
                for p in parts[1:]:
                    out = (out & p) if op == OP_AND else (out | p)
                stack.append(out)
            elif op == OP_NOT:
                stack.append(~stack.pop())
            else:
                stack.append(np.ones(n, dtype=bool))
        return stack[-1]


@dataclass(frozen=True)
class Effect:
    """A composed list of state effects: `new = clip(where(set_mask, set_value, old + add), lo, hi)`.

    `add`, `set_value`: int64 arrays of shape `(n_vars,)`; `set_mask`: bool array `(n_vars,)`.
    Effects of one list are composed per variable (the last `set`, then the `add`s after it), and
    clipped once at the end; the two differ only for an add and a subtract of the same variable in
    one list, which no scenario needs.
    """

    add: np.ndarray
    set_mask: np.ndarray
    set_value: np.ndarray

    @staticmethod
    def none(n_vars: int) -> Effect:
        return Effect(np.zeros(n_vars, np.int64), np.zeros(n_vars, bool), np.zeros(n_vars, np.int64))

    @property
    def is_noop(self) -> bool:
        return not self.add.any() and not self.set_mask.any()


@dataclass(frozen=True)
class CasualtySpec:
    """Deaths drawn by inverse CDF: `cdf` is float64 of shape `(k,)`, P(count <= j) for j < k.

    Counts above k-1 have probability below 1e-12 and are capped at k-1. `side` indexes
    `SimSpec.sides`; `into` a state variable (or -1).
    """

    side: int
    mean: float
    dispersion: float | None
    cdf: np.ndarray
    into: int


@dataclass(frozen=True)
class ErrorSpec:
    id: str
    probability: float
    effect: Effect
    becomes: int  # global action index, or -1
    casualties: tuple[CasualtySpec, ...]


@dataclass(frozen=True)
class ActionSpec:
    """One action. `cost`: float64 `(n_types,)` of the acting strategic actor (empty for environment)."""

    id: str
    actor: str
    local: int  # index in its actor's ladder
    rung: int
    default: bool
    cost: np.ndarray
    effect: Effect
    available: Cond | None
    attribution: float | None  # probability the act is attributed; None = always
    unattributed: Effect | None
    casualties: tuple[CasualtySpec, ...]
    errors: tuple[ErrorSpec, ...]
    intensity: float | None = None
    # Consequences in list order, split as the executor needs them: (index in the list, item).
    becomes_errors: tuple[tuple[int, ErrorSpec], ...] = ()
    other_consequences: tuple[tuple[int, CasualtySpec | ErrorSpec], ...] = ()
    attribution_index: int = -1


@dataclass(frozen=True)
class EnvRule:
    """First matching rule fires `action` with probability `p` (constant) or `table[state[:, by]-lo]`."""

    when: Cond | None
    action: int
    p: float
    by: int = -1
    table: np.ndarray | None = None


@dataclass(frozen=True)
class RedLineSpec:
    id: str
    owner: int  # strategic actor index
    crossed: Cond
    answer_rung: int
    deadline: int
    audience_cost: np.ndarray  # float64 (n_types_owner,), already multiplied by the scale


@dataclass(frozen=True)
class Mover:
    """One slot of the move order: a strategic actor (`strategic` index) or an environment actor."""

    id: str
    strategic: int  # index into SimSpec.actors, or -1
    env_rules: tuple[EnvRule, ...] = ()
    actions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # global indices of its ladder
    rungs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # rung of each ladder action


@dataclass(frozen=True)
class SimSpec:
    """Everything the simulator needs, as arrays.

    Belief vectors: every strategic holder keeps a float64 array of shape `(n, n_belief)` where
    `n_belief = sum(n_types)`, the segment `belief_slices[j]` being its belief about actor j's type
    (about itself: what it thinks the others believe about it).
    """

    scenario_id: str
    horizon: int
    var_ids: tuple[str, ...]
    lo: np.ndarray
    hi: np.ndarray
    initial: np.ndarray
    actors: tuple[str, ...]
    types: tuple[tuple[str, ...], ...]
    true_prior: tuple[np.ndarray, ...]
    # initial_beliefs[h]: float64 (n_belief,), holder h's perceived priors over everyone's types
    initial_beliefs: tuple[np.ndarray, ...]
    movers: tuple[Mover, ...]
    actions: tuple[ActionSpec, ...]
    red_lines: tuple[RedLineSpec, ...]
    outcomes: tuple[str, ...]
    outcome_conds: tuple[Cond | None, ...]
    horizon_outcome: int
    sides: tuple[str, ...]
    calendar_start: str | None = None
    days_per_round: int | None = None

    @property
    def n_vars(self) -> int:
        return len(self.var_ids)

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

    def action_index(self, action_id: str) -> int:
        for i, a in enumerate(self.actions):
            if a.id == action_id:
                return i
        raise KeyError(action_id)

    def actor_actions(self, actor: str) -> np.ndarray:
        """Global indices of `actor`'s ladder, in ladder order: int64 `(n_actions_actor,)`."""
        return np.array([i for i, a in enumerate(self.actions) if a.actor == actor], dtype=np.int64)
