"""Frozen pydantic models of the scenario format (docs/scenario-format.md, version 1).

These are the types every other layer reads: a scenario (`ScenarioModel`; `Scenario` adds the
operations that validate new scenarios, `_scenario.py`) with its sources, state variables,
strategic and environment actors, actions (escalation ladders with chance consequences), red lines,
outcomes, payoffs, perceptions and claims. Numbers that are model parameters are `Param`s (a value
with its provenance and optional uncertainty); per-type numbers are `TypeValues`. Conditions,
consequences and interventions are closed unions: the engines pattern-match on their classes and
nothing is ever passed to `eval`. Validation here is about types and shapes only; the meaning
(ids exist, priors sum to 1, provenance, ...) is checked in `_check.py`. Collections are tuples so
a built scenario cannot be changed in place; transformations return new objects.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    RootModel,
    Strict,
    StringConstraints,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

from crisislab.scenario._display import scenario_html
from crisislab.scenario._errors import Problem, ScenarioError

ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"

Id = Annotated[str, Strict(), StringConstraints(pattern=ID_PATTERN)]
"""An identifier: a letter, then letters, digits, `_` or `-`."""
# Every number of a scenario lies within ±MAX_INTEGER / ±MAX_NUMBER (docs/scenario-format.md,
# "Limits"). Integers become int64 (rungs, state bounds, effects, condition values; limit
# 2**63 - 1 ≈ 9.2e18): at 10**12 even the sum of every effect a file can hold (20,000 values, the
# loader's limit) stays a million times inside it, and each integer is exact as a float64 (2**53).
# Numbers are float64 payoffs, probabilities and parameters: at 1e12 a payoff times a horizon of
# 1,000 rounds, or its exponential in a logit choice, stays finite where 1e308 would overflow.
MAX_INTEGER = 10**12
MAX_NUMBER = 1e12


def _integer_in_range(value: int) -> int:
    if not -MAX_INTEGER <= value <= MAX_INTEGER:
        raise PydanticCustomError("integer_range", "integer out of range", {"bound": "-10**12 .. 10**12"})
    return value


def _number_in_range(value: float) -> float:
    if not -MAX_NUMBER <= value <= MAX_NUMBER:  # also false for nan (inf and nan are refused before)
        raise PydanticCustomError("number_range", "number out of range", {"bound": "-1e12 .. 1e12"})
    return value


# accepts ints, rejects bools and numeric strings
Num = Annotated[float, Strict(), AfterValidator(_number_in_range)]
# rejects floats and bools: rungs, bounds, horizon are structural
Int = Annotated[int, Strict(), AfterValidator(_integer_in_range)]
Text = Annotated[str, Strict()]
# true / false only: pydantic's lax bool would read "yes", "off", 1 or "0" as a switch
Bool = Annotated[bool, Strict()]

# Tags of the closed unions start with "=" so that the loader can drop them from pydantic's error
# locations (they are not keys of the YAML file).
SYNTHETIC_PREFIX = "="
ALL_TYPES = "*"  # key of a TypeValues that holds one Param for every type


def _as_source_tuple(value: Any) -> Any:
    """`source:` may be one id or a list of ids; store a tuple either way."""
    if isinstance(value, str):
        return (value,)
    return value


SourceRefs = Annotated[tuple[Id, ...], Field(min_length=1)]


class _Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False
    )


class _Provenanced(_Frozen):
    """An object that may state where its numbers come from (inherited by plain numbers inside)."""

    source: SourceRefs | None = None
    assumption: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _source_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and "source" in data:
            data = dict(data)
            data["source"] = _as_source_tuple(data["source"])
        return data

    @property
    def has_provenance(self) -> bool:
        return bool(self.source) or bool(self.assumption)


# --------------------------------------------------------------------------------------------
# Numbers with provenance and uncertainty
# --------------------------------------------------------------------------------------------

UncertaintyKind = Literal["uniform", "triangular", "normal", "beta", "choice"]
UNCERTAINTY_KINDS: tuple[str, ...] = ("uniform", "triangular", "normal", "beta", "choice")


class Uncertainty(_Frozen):
    """A distribution over a parameter's value, used only by robustness checks.

    Exactly one of `uniform: [lo, hi]`, `triangular: [lo, mode, hi]`, `normal: [mean, sd]`
    (optionally `clip: [lo, hi]`), `beta: [a, b]`, `choice: [v1, ...]`.
    """

    uniform: tuple[Num, Num] | None = None
    triangular: tuple[Num, Num, Num] | None = None
    normal: tuple[Num, Num] | None = None
    beta: tuple[Num, Num] | None = None
    choice: Annotated[tuple[Num, ...], Field(min_length=1)] | None = None
    clip: tuple[Num, Num] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Uncertainty:
        given = [k for k in UNCERTAINTY_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"an uncertainty needs exactly one of {', '.join(UNCERTAINTY_KINDS)}"
                f" (got {', '.join(given) if given else 'none'})"
            )
        if self.clip is not None and self.normal is None:
            raise ValueError("`clip` only applies to `normal`")
        if self.uniform is not None and not self.uniform[0] < self.uniform[1]:
            raise ValueError(f"uniform needs lo < hi (got {list(self.uniform)})")
        if self.triangular is not None:
            lo, mode, hi = self.triangular
            if not (lo <= mode <= hi and lo < hi):
                raise ValueError(f"triangular needs lo <= mode <= hi, lo < hi (got {[lo, mode, hi]})")
        if self.normal is not None and not self.normal[1] > 0:
            raise ValueError(f"normal needs sd > 0 (got {self.normal[1]})")
        if self.clip is not None and not self.clip[0] < self.clip[1]:
            raise ValueError(f"clip needs lo < hi (got {list(self.clip)})")
        if self.beta is not None and not (self.beta[0] > 0 and self.beta[1] > 0):
            raise ValueError(f"beta needs a > 0 and b > 0 (got {list(self.beta)})")
        return self

    @property
    def kind(self) -> UncertaintyKind:
        return next(k for k in UNCERTAINTY_KINDS if getattr(self, k) is not None)  # type: ignore[return-value]

    def support(self) -> tuple[float, float]:
        """Closed interval (lo, hi) that every draw lies in (may be infinite for an unclipped normal)."""
        if self.uniform is not None:
            return self.uniform
        if self.triangular is not None:
            return self.triangular[0], self.triangular[2]
        if self.normal is not None:
            return self.clip if self.clip is not None else (-np.inf, np.inf)
        if self.beta is not None:
            return 0.0, 1.0
        assert self.choice is not None
        return min(self.choice), max(self.choice)

    def contains(self, value: float) -> bool:
        """True if `value` can be drawn (for `choice`: is one of the choices)."""
        if self.choice is not None:
            return any(abs(value - c) <= 1e-12 for c in self.choice)
        lo, hi = self.support()
        return lo - 1e-12 <= value <= hi + 1e-12

    def sample(self, rng: np.random.Generator, size: int | None = None) -> float | np.ndarray:
        """Draw from the distribution with the given generator.

        Returns a float if `size` is None, else a float64 array of shape `(size,)`.
        """
        if self.uniform is not None:
            out = rng.uniform(self.uniform[0], self.uniform[1], size)
        elif self.triangular is not None:
            lo, mode, hi = self.triangular
            out = rng.triangular(lo, mode, hi, size)
        elif self.normal is not None:
            out = rng.normal(self.normal[0], self.normal[1], size)
            if self.clip is not None:
                out = np.clip(out, self.clip[0], self.clip[1])
        elif self.beta is not None:
            out = rng.beta(self.beta[0], self.beta[1], size)
        else:
            assert self.choice is not None
            out = rng.choice(np.asarray(self.choice, dtype=float), size)
        return float(out) if size is None else np.asarray(out, dtype=float)


class Estimated(_Frozen):
    """Where an estimated number comes from: maximum likelihood on the named `records` (record files
    of the scenario), with its standard error and the interval reported with it; `tied_to` names
    the parameter it was estimated together with (one value for both)."""

    records: Annotated[tuple[Text, ...], Field(min_length=1)]
    method: Text = "maximum likelihood"
    se: Num | None = None
    interval: tuple[Num, Num] | None = None
    loglik: Num | None = None
    # The field path of the estimated parameter whose value this one shares (estimated as one,
    # e.g. one logit precision for two actors): draws of the estimates move both together.
    tied_to: Text | None = None


class Param(_Provenanced):
    """A numeric model parameter: `value` plus where it comes from and how uncertain it is.

    Written in YAML as a plain number (provenance inherited from the enclosing object) or as
    `{value, source | assumption | estimated, uncertainty}`; `estimated` says which record the
    value was fitted to (`crisislab estimate --out`).
    """

    value: Num
    uncertainty: Uncertainty | None = None
    estimated: Estimated | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, data: Any) -> Any:
        if isinstance(data, bool):
            raise ValueError("expected a number or a mapping {value, source|assumption, uncertainty}")
        if isinstance(data, (int, float)):
            return {"value": data}
        if isinstance(data, (dict, Param)):
            return data
        raise ValueError("expected a number or a mapping {value, source|assumption, uncertainty}")

    def __float__(self) -> float:
        return float(self.value)

    @property
    def is_bare(self) -> bool:
        """True if written as a plain number (no provenance or uncertainty of its own)."""
        return self.source is None and self.assumption is None and self.uncertainty is None and self.estimated is None

    def with_value(self, value: float) -> Param:
        """Same provenance, new value; the uncertainty is dropped because the value is now pinned."""
        return Param(value=value, source=self.source, assumption=self.assumption)

    @property
    def has_provenance(self) -> bool:
        return super().has_provenance or self.estimated is not None


class TypeValues(RootModel[dict[str, Param]]):
    """Per-type numbers of one actor: type id -> Param, or one Param for every type.

    One Param for all types is stored under the key `"*"` (`ALL_TYPES`) and written back as that
    single Param. Use `for_type(tid)` rather than indexing.
    """

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _one_for_all(cls, data: Any) -> Any:
        if isinstance(data, dict) and "value" not in data:
            return data
        return {ALL_TYPES: data}

    @property
    def is_uniform(self) -> bool:
        return ALL_TYPES in self.root

    def param_for(self, type_id: str) -> Param:
        """The Param that applies to `type_id` (KeyError if neither it nor a one-for-all exists)."""
        if ALL_TYPES in self.root:
            return self.root[ALL_TYPES]
        return self.root[type_id]

    def for_type(self, type_id: str) -> float:
        """The value for `type_id` as a float."""
        return float(self.param_for(type_id).value)

    def vector(self, type_ids: tuple[str, ...] | list[str]) -> np.ndarray:
        """float64 array of shape `(len(type_ids),)`: the value of each type, in that order."""
        return np.array([self.for_type(t) for t in type_ids], dtype=float)

    def keys(self) -> tuple[str, ...]:
        return tuple(k for k in self.root if k != ALL_TYPES)

    def items(self) -> Iterator[tuple[str, Param]]:
        return iter(self.root.items())


# --------------------------------------------------------------------------------------------
# Conditions: a closed union, no eval
# --------------------------------------------------------------------------------------------

CompareOp = Literal["eq", "ne", "lt", "le", "gt", "ge"]
COMPARE_OPS: tuple[str, ...] = ("eq", "ne", "lt", "le", "gt", "ge")
RedLineStatus = Literal["inactive", "pending", "answered", "failed"]
RED_LINE_STATUSES: tuple[str, ...] = ("inactive", "pending", "answered", "failed")
CONDITION_KEYS: tuple[str, ...] = ("var", "round", "all", "any", "not", "red_line", "phase")


def _compare(lhs: Any, op: str, rhs: Any) -> Any:
    """Elementwise comparison; works on ints and on numpy arrays of any shape."""
    if op == "eq":
        return lhs == rhs
    if op == "ne":
        return lhs != rhs
    if op == "lt":
        return lhs < rhs
    if op == "le":
        return lhs <= rhs
    if op == "gt":
        return lhs > rhs
    return lhs >= rhs


class VarCondition(_Frozen):
    """`{var: tension, op: ge, value: 4}`: compare a state variable with an integer."""

    var: Id
    op: CompareOp
    value: Int

    def holds(self, lhs: Any) -> Any:
        """Apply the comparison to the variable's value(s) `lhs` (int or int array, any shape)."""
        return _compare(lhs, self.op, self.value)


class RoundTest(_Frozen):
    op: CompareOp
    value: Int


class RoundCondition(_Frozen):
    """`{round: {op: ge, value: 10}}`: compare the 1-based round number."""

    round: RoundTest

    def holds(self, round_number: Any) -> Any:
        return _compare(round_number, self.round.op, self.round.value)


class AllCondition(_Frozen):
    """`{all: [COND, ...]}`: every listed condition holds."""

    all_: Annotated[tuple[Condition, ...], Field(alias="all", min_length=1)]


class AnyCondition(_Frozen):
    """`{any: [COND, ...]}`: at least one listed condition holds."""

    any_: Annotated[tuple[Condition, ...], Field(alias="any", min_length=1)]


class NotCondition(_Frozen):
    """`{not: COND}`."""

    not_: Annotated[Condition, Field(alias="not")]


class RedLineCondition(_Frozen):
    """`{red_line: ID, is: STATUS}`: a red line's status (inactive, pending, answered, failed)."""

    red_line: Id
    is_: Annotated[RedLineStatus, Field(alias="is")]


class PhaseCondition(_Frozen):
    """`{phase: climax}`: the round lies in a phase of the scenario's calendar."""

    phase: Id


def _key_discriminator(keys: tuple[str, ...]):
    """Callable discriminator: the tag is the first of `keys` present in the input mapping."""

    def pick(data: Any) -> str | None:
        if isinstance(data, dict):
            present = [k for k in keys if k in data]
            if len(present) == 1:
                return SYNTHETIC_PREFIX + present[0]
            return None
        if isinstance(data, BaseModel):
            for k in keys:
                fields = type(data).model_fields
                if any((f.alias or n) == k for n, f in fields.items()):
                    return SYNTHETIC_PREFIX + k
        return None

    return pick


Condition = Annotated[
    Union[
        Annotated[VarCondition, Tag("=var")],
        Annotated[RoundCondition, Tag("=round")],
        Annotated[AllCondition, Tag("=all")],
        Annotated[AnyCondition, Tag("=any")],
        Annotated[NotCondition, Tag("=not")],
        Annotated[RedLineCondition, Tag("=red_line")],
        Annotated[PhaseCondition, Tag("=phase")],
    ],
    Discriminator(
        _key_discriminator(CONDITION_KEYS),
        custom_error_type="condition_shape",
        custom_error_message="a condition has exactly one of the keys var, round, all, any, not, red_line, phase",
    ),
]
"""A condition on the public state and the round: one of the seven classes above."""

AllCondition.model_rebuild()
AnyCondition.model_rebuild()
NotCondition.model_rebuild()


def iter_conditions(cond: Any) -> Iterator[Any]:
    """Yield `cond` and every condition nested inside it (depth first)."""
    yield cond
    if isinstance(cond, AllCondition):
        for c in cond.all_:
            yield from iter_conditions(c)
    elif isinstance(cond, AnyCondition):
        for c in cond.any_:
            yield from iter_conditions(c)
    elif isinstance(cond, NotCondition):
        yield from iter_conditions(cond.not_)


# --------------------------------------------------------------------------------------------
# Sources, state, actors
# --------------------------------------------------------------------------------------------

SourceKind = Literal["seed", "report", "dataset", "book", "article"]


class Source(_Frozen):
    """A reference that parameters cite by id. `file` is a seed file name for `kind: seed`."""

    kind: SourceKind
    title: Text | None = None
    file: Text | None = None
    author: Text | None = None
    outlet: Text | None = None
    url: Text | None = None
    date: Text | None = None
    accessed: Text | None = None
    pages: Text | None = None
    note: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _dates_as_text(cls, data: Any) -> Any:
        # YAML reads 2019-12-27 as a date; a source's dates are documentation, kept as ISO text.
        if isinstance(data, dict):
            data = {k: (v.isoformat() if isinstance(v, _dt.date) else v) for k, v in data.items()}
        return data


class Phase(_Frozen):
    """A calendar phase: `rounds` consecutive rounds of `days_per_round` days each."""

    id: Id
    days_per_round: Annotated[Int, Field(ge=1)]
    rounds: Annotated[Int, Field(ge=1)]
    label: Text | None = None


class Calendar(_Frozen):
    """Maps dates to rounds. Either every round lasts `days_per_round` days (round r starts at
    `start + (r - 1) * days_per_round`), or the rounds run through `phases` in order, each phase
    `rounds` rounds of its own length. `base_days` (default: `days_per_round`, or the first
    phase's) is the period every per-round rate of the scenario is written for
    (docs/scenario-format.md, `calendar`)."""

    start: _dt.date
    days_per_round: Annotated[Int, Field(ge=1)] | None = None
    phases: Annotated[tuple[Phase, ...], Field(min_length=1)] | None = None
    base_days: Annotated[Int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _one_length(self) -> Calendar:
        if (self.days_per_round is None) == (self.phases is None):
            got = "both" if self.phases is not None else "neither"
            raise ValueError(f"a calendar needs exactly one of days_per_round, phases (got {got})")
        return self

    @property
    def base(self) -> int:
        """Days of the period the scenario's per-round rates are written for."""
        if self.base_days is not None:
            return self.base_days
        return self.days_per_round if self.days_per_round is not None else self.phases[0].days_per_round  # type: ignore[index]

    @property
    def phase_rounds(self) -> dict[str, tuple[int, int]]:
        """Each phase's first and last round (1-based, inclusive); empty without phases."""
        out: dict[str, tuple[int, int]] = {}
        first = 1
        for ph in self.phases or ():
            out.setdefault(ph.id, (first, first + ph.rounds - 1))
            first += ph.rounds
        return out

    @property
    def text(self) -> str:
        """`from 2019-05-05 at 14 days per round`, or the phases: `from 2019-05-05 in phases
        build-up 17 × 14 days, climax 8 × 2 days (rates per 14 days)`."""
        head = f"from {self.start.isoformat()}"
        if self.phases is None:
            body = f"{head} at {self.days_per_round} days per round"
        else:
            body = f"{head} in phases " + ", ".join(f"{p.id} {p.rounds} × {p.days_per_round} days" for p in self.phases)
        if self.phases is not None or self.base != self.days_per_round:
            body += f" (rates per {self.base} days)"
        return body

    def round_days(self, horizon: int) -> tuple[int, ...]:
        """Days of each of rounds 1..horizon (past the last phase, the last phase's length)."""
        if self.phases is None:
            return (int(self.days_per_round),) * horizon  # type: ignore[arg-type]
        out: list[int] = []
        for ph in self.phases:
            out.extend([ph.days_per_round] * ph.rounds)
        out.extend([self.phases[-1].days_per_round] * max(0, horizon - len(out)))
        return tuple(out[:horizon])

    def round_of(self, day: _dt.date) -> int:
        """1-based round containing `day` (may be < 1 or > horizon; the caller decides). Before the
        start rounds count back at the first length, past the last phase on at the last's."""
        offset = (day - self.start).days
        if self.phases is None:
            return offset // self.days_per_round + 1  # type: ignore[operator]
        if offset < 0:
            return offset // self.phases[0].days_per_round + 1
        first = 1
        for ph in self.phases:
            span = ph.rounds * ph.days_per_round
            if offset < span:
                return first + offset // ph.days_per_round
            offset -= span
            first += ph.rounds
        return first + offset // self.phases[-1].days_per_round


class StateVar(_Provenanced):
    """A bounded integer public-state variable. Values are `min..max` inclusive."""

    id: Id
    label: Text | None = None
    min: Int
    max: Int
    initial: Int

    @property
    def size(self) -> int:
        """Number of values the variable can take."""
        return self.max - self.min + 1

    def clip(self, value: Any) -> Any:
        return np.clip(value, self.min, self.max)


class TypeSpec(_Provenanced):
    """One private type of a strategic actor, with its true prior probability."""

    id: Id
    prior: Param
    label: Text | None = None


class Actor(_Provenanced):
    """A strategic actor: its logit precision `lam` and its private types."""

    id: Id
    name: Text | None = None
    lam: Param
    types: Annotated[tuple[TypeSpec, ...], Field(min_length=1)]
    description: Text | None = None

    @property
    def type_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.types)

    @property
    def priors(self) -> np.ndarray:
        """float64 array of shape `(n_types,)`: the true prior, in `types` order."""
        return np.array([t.prior.value for t in self.types], dtype=float)

    def type_index(self, type_id: str) -> int:
        return self.type_ids.index(type_id)


class ProbTable(_Provenanced):
    """`{by: VAR, table: [p for VAR = min .. max]}`: a probability that depends on a state variable."""

    by: Id
    table: Annotated[tuple[Num, ...], Field(min_length=1)]

    def at(self, value: Any, var_min: int) -> Any:
        """Probability when the variable equals `value` (int or int array of any shape)."""
        return np.asarray(self.table, dtype=float)[np.asarray(value) - var_min]


def _prob_discriminator(data: Any) -> str:
    if isinstance(data, dict) and "by" in data:
        return "=table"
    if isinstance(data, ProbTable):
        return "=table"
    return "=param"


Probability = Annotated[
    Union[Annotated[Param, Tag("=param")], Annotated[ProbTable, Tag("=table")]],
    Discriminator(_prob_discriminator),
]


class Rule(_Frozen):
    """An environment actor's rule: when `when` holds (or always), play `action` with `probability`."""

    when: Condition | None = None
    action: Id
    probability: Probability


EnvironmentRole = Literal["proxy", "host_government", "air_defence", "other"]


class EnvironmentActor(_Provenanced):
    """A non-strategic actor (chance): the first rule whose condition holds fires."""

    id: Id
    name: Text | None = None
    role: EnvironmentRole = "other"
    rules: tuple[Rule, ...] = ()
    description: Text | None = None


# --------------------------------------------------------------------------------------------
# Actions and chance consequences
# --------------------------------------------------------------------------------------------

IntensityScale = Literal["goldstein", "plover", "rivera", "kahn"]


class Intensity(_Frozen):
    """Where an action sits on a documented conflict scale (reference/scales.md)."""

    scale: IntensityScale
    value: Num
    cameo: Text | None = None
    plover: Text | None = None


class Effect(_Frozen):
    """`{var: X, add: N}` or `{var: X, set: N}`: a change of a state variable (clipped at bounds)."""

    var: Id
    add: Int | None = None
    set: Int | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Effect:
        if (self.add is None) == (self.set is None):
            raise ValueError("an effect has exactly one of `add` or `set`")
        return self


class Casualties(_Provenanced):
    """Deaths on `side`: negative binomial with `mean` and size `dispersion` (null: Poisson)."""

    kind: Literal["casualties"] = "casualties"
    side: Id
    mean: Param
    dispersion: Param | None = None
    into: Id | None = None


class ErrorEvent(_Provenanced):
    """An operational error: with `probability`, extra `effects` happen and the action may
    execute as `becomes` instead; nested `consequences` are casualties of the error."""

    kind: Literal["error"] = "error"
    id: Id
    probability: Param
    effects: tuple[Effect, ...] = ()
    becomes: Id | None = None
    consequences: tuple[Casualties, ...] = ()


class Attribution(_Provenanced):
    """With `probability` the act is attributed to its author; otherwise `unattributed_effects`
    replace the action's effects."""

    kind: Literal["attribution"] = "attribution"
    probability: Param
    unattributed_effects: tuple[Effect, ...] = ()


CONSEQUENCE_KINDS: tuple[str, ...] = ("casualties", "error", "attribution")


def _kind_discriminator(data: Any) -> str | None:
    kind = data.get("kind") if isinstance(data, dict) else getattr(data, "kind", None)
    if isinstance(kind, str) and kind in CONSEQUENCE_KINDS:
        return SYNTHETIC_PREFIX + kind
    return None


Consequence = Annotated[
    Union[
        Annotated[Casualties, Tag("=casualties")],
        Annotated[ErrorEvent, Tag("=error")],
        Annotated[Attribution, Tag("=attribution")],
    ],
    Discriminator(
        _kind_discriminator,
        custom_error_type="consequence_kind",
        custom_error_message="unknown consequence kind",
    ),
]


class Action(_Provenanced):
    """One action of one actor: a rung of its escalation ladder with effects and consequences."""

    id: Id
    actor: Id
    label: Text | None = None
    rung: Int | None = None
    intensity: Intensity | None = None
    cost: TypeValues | None = None
    effects: tuple[Effect, ...] = ()
    available: Condition | None = None
    consequences: tuple[Consequence, ...] = ()
    default: Bool = False
    description: Text | None = None
    ends: Id | None = None

    def cost_for(self, type_id: str) -> float:
        """Per-use payoff of this action for the actor of type `type_id` (0 if no cost given)."""
        return 0.0 if self.cost is None else self.cost.for_type(type_id)


# --------------------------------------------------------------------------------------------
# Red lines, outcomes, payoffs, perceptions
# --------------------------------------------------------------------------------------------


class RedLine(_Provenanced):
    """A condition that, once crossed, obliges `owner` to answer at rung >= `answer_rung` within
    `deadline` of its own moves, or pay `audience_cost * scale` once."""

    id: Id
    owner: Id
    label: Text | None = None
    crossed_when: Condition
    answer_rung: Int
    deadline: Annotated[Int, Field(ge=1)]
    audience_cost: TypeValues
    scale: Param | None = None
    on_answer: tuple[Effect, ...] = ()

    @property
    def scale_value(self) -> float:
        return 1.0 if self.scale is None else float(self.scale.value)

    def audience_cost_for(self, type_id: str) -> float:
        """Scaled audience cost the owner of type `type_id` pays on failure."""
        return self.audience_cost.for_type(type_id) * self.scale_value


class OutcomeCasualties(_Provenanced):
    """Deaths on `side` when the crisis ends in the outcome: negative binomial with `mean` and size
    `dispersion` (null: Poisson), as a casualties consequence without `into`."""

    side: Id
    mean: Param
    dispersion: Param | None = None


class Outcome(_Provenanced):
    """A named terminal condition; exactly one outcome is `at_horizon` (and has no `when`). An
    outcome may have no `when` when an action `ends` the crisis in it. `casualties`: deaths drawn
    when a run ends in it."""

    id: Id
    label: Text | None = None
    when: Condition | None = None
    at_horizon: Bool = False
    description: Text | None = None
    casualties: tuple[OutcomeCasualties, ...] = ()


class FlowPayoff(_Provenanced):
    """Per-round payoff to `actor` while `when` holds (always, if no `when`)."""

    actor: Id
    when: Condition | None = None
    value: TypeValues


class CasualtyPayoff(_Provenanced):
    """Payoff to `actor` per death suffered by `side`."""

    actor: Id
    side: Id
    per_death: TypeValues


class Payoffs(_Provenanced):
    """Terminal payoffs (outcome -> actor -> TypeValues), flow payoffs, casualty costs, discount."""

    discount: Param
    terminal: dict[Id, dict[Id, TypeValues]]
    flow: tuple[FlowPayoff, ...] = ()
    casualties: tuple[CasualtyPayoff, ...] = ()

    def terminal_for(self, outcome: str, actor: str, type_id: str) -> float:
        return self.terminal[outcome][actor].for_type(type_id)


class Perception(_Provenanced):
    """How `holder` sees `about`: its prior over `about`'s types (omitted: the true prior) and/or
    its terminal payoffs."""

    holder: Id
    about: Id
    prior: dict[Id, Param] | None = None
    terminal: dict[Id, TypeValues] | None = None

    def prior_vector(self, type_ids: tuple[str, ...]) -> np.ndarray | None:
        """float64 array of shape `(len(type_ids),)`: the perceived prior in that order (None: the true prior)."""
        if self.prior is None:
            return None
        return np.array([self.prior[t].value for t in type_ids], dtype=float)


# --------------------------------------------------------------------------------------------
# Claims and interventions
# --------------------------------------------------------------------------------------------

METRIC_KEYS: tuple[str, ...] = (
    "outcome_probability",
    "mean_casualties",
    "mean_audience_cost",
    "mean_end_round",
    "action_probability",
)
MetricKind = Literal[
    "outcome_probability", "mean_casualties", "mean_audience_cost", "mean_end_round", "action_probability"
]


class MetricAfter(_Frozen):
    """`{action: ID, within: K}` or `{action: ID, within_days: D}`: count only what happens after
    the first time `action` is chosen (later in that round's move order) and at most `within`
    rounds later, or in rounds that start at most `within_days` days after the start of that
    round (a window of the same length whatever the rounds' lengths; it needs a calendar); the
    metric is undefined in runs where `action` is never chosen."""

    action: Id
    within: Annotated[Int, Field(ge=0)] | None = None
    within_days: Annotated[Int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _one_window(self) -> MetricAfter:
        if (self.within is None) == (self.within_days is None):
            raise ValueError("`after` needs exactly one of `within` (rounds) and `within_days` (days)")
        return self


REACHED_OPS: tuple[str, ...] = ("ge", "gt", "le", "lt")


class MetricGiven(_Frozen):
    """The runs a metric is computed over (every stated key must hold; the metric is undefined in
    the other runs): `reached` (a state variable reached a value at some point of the run:
    `{var: tension, op: ge, value: 4}`, op one of ge, gt, le, lt), `took` (the action was chosen
    at least once), `not_took` (it never was)."""

    reached: VarCondition | None = None
    took: Id | None = None
    not_took: Id | None = None

    @model_validator(mode="after")
    def _some(self) -> MetricGiven:
        if self.reached is None and self.took is None and self.not_took is None:
            raise ValueError("`given` needs at least one of reached, took, not_took")
        if self.reached is not None and self.reached.op not in REACHED_OPS:
            raise ValueError(
                f"`given.reached` compares with one of {', '.join(REACHED_OPS)} (got {self.reached.op!r}): the "
                "simulator records each variable's largest and smallest value, which says whether a bound was "
                "reached, not whether one exact value was passed"
            )
        return self


class Metric(_Frozen):
    """Exactly one of the metric keys, with modifiers: `within` (only with `outcome_probability`:
    the outcome by that round), `after` (a window after a trigger action, with
    `outcome_probability` or `action_probability`), `per_round` (a rate per round at risk: the
    quantity summed over runs divided by the rounds the runs were still going; not with
    `mean_end_round` or `after`), `given` (only the runs where a condition on the run holds)."""

    outcome_probability: Id | None = None
    within: Annotated[Int, Field(ge=1)] | None = None
    mean_casualties: Id | None = None
    mean_audience_cost: Id | None = None
    mean_end_round: Literal[True] | None = None
    action_probability: Id | None = None
    after: MetricAfter | None = None
    per_round: Bool = False
    given: MetricGiven | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Metric:
        given = [k for k in METRIC_KEYS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a metric has exactly one of {', '.join(METRIC_KEYS)} (got {', '.join(given) or 'none'})"
            )
        if self.within is not None and self.outcome_probability is None:
            raise ValueError("`within` only applies to `outcome_probability`")
        if self.after is not None:
            if self.outcome_probability is None and self.action_probability is None:
                raise ValueError("`after` applies to `outcome_probability` or `action_probability`")
            if self.within is not None:
                raise ValueError("a metric has `within` (rounds from the start) or `after` (rounds after a trigger), not both")
        if self.per_round:
            if self.mean_end_round is not None:
                raise ValueError("`per_round` does not apply to `mean_end_round` (rounds per round at risk is 1)")
            if self.after is not None:
                raise ValueError("a metric has `per_round` or `after`, not both")
        return self

    @property
    def kind(self) -> MetricKind:
        return next(k for k in METRIC_KEYS if getattr(self, k) is not None)  # type: ignore[return-value]

    @property
    def target(self) -> str | bool:
        """The id the metric is about (outcome, side, actor or action), or True for mean_end_round."""
        return getattr(self, self.kind)

    @property
    def is_plain(self) -> bool:
        """A mean over every run (no window, rate or condition)."""
        return self.after is None and not self.per_round and self.given is None


class ForceSpec(_Frozen):
    """Force `actor` to play `action` at round `round`, whenever `when` holds, or (neither given)
    at every one of its moves where the action is available."""

    actor: Id
    action: Id
    round: Annotated[Int, Field(ge=1)] | None = None
    when: Condition | None = None

    @model_validator(mode="after")
    def _not_both(self) -> ForceSpec:
        if self.round is not None and self.when is not None:
            raise ValueError("a force has `round` or `when`, not both")
        return self


class ForbidSpec(_Frozen):
    """Forbid `actor` to choose `action`: at every move, or (with `when`) at the moves where the
    condition holds. A forbidden action's probability is set to 0 and the rest renormalised (the
    strategies are not re-solved: a forbid is simulated, not anticipated)."""

    actor: Id
    action: Id
    when: Condition | None = None


class SetSpec(_Frozen):
    """Set the parameter at field path `param` (as in `Scenario.with_overrides`) to `value`."""

    param: Annotated[Text, Field(min_length=1)]
    value: Param


class Force(_Frozen):
    force: ForceSpec


class Forbid(_Frozen):
    forbid: ForbidSpec


class SetParam(_Frozen):
    set: SetSpec


INTERVENTION_KEYS: tuple[str, ...] = ("force", "forbid", "set")

Intervention = Annotated[
    Union[
        Annotated[Force, Tag("=force")],
        Annotated[Forbid, Tag("=forbid")],
        Annotated[SetParam, Tag("=set")],
    ],
    Discriminator(
        _key_discriminator(INTERVENTION_KEYS),
        custom_error_type="intervention_shape",
        custom_error_message="an intervention has exactly one of the keys force, forbid, set",
    ),
]


class Compare(_Frozen):
    """The two arms of a claim; an empty list is the scenario as written."""

    treatment: tuple[Intervention, ...] = ()
    baseline: tuple[Intervention, ...] = ()


class Claim(_Frozen):
    """A sourced statement: the treatment's metric is `expect` (lower/higher) than the baseline's
    by more than `margin`."""

    id: Id
    label: Text | None = None
    seed: Text | None = None
    quote: Text | None = None
    source: SourceRefs | None = None
    metric: Metric
    compare: Compare
    expect: Literal["lower", "higher"]
    margin: Annotated[Num, Field(ge=0)] = 0.0

    @model_validator(mode="before")
    @classmethod
    def _source_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and "source" in data:
            data = dict(data)
            data["source"] = _as_source_tuple(data["source"])
        return data


# --------------------------------------------------------------------------------------------
# The scenario
# --------------------------------------------------------------------------------------------


class ScenarioModel(_Frozen):
    """The fields of a whole crisis scenario (docs/scenario-format.md) with their lookups.

    `crisislab.scenario.Scenario` (in `_scenario.py`) is this model plus the operations that build
    new checked scenarios (`from_data`, `with_overrides`, `sample_parameters`); the checks and the
    override machinery below it read only this model, so they need nothing above `_models`. Build
    scenarios with `load_scenario`, `loads_scenario` or `Scenario.from_data` so that the meaning is
    checked too."""

    crisislab: Literal[1]
    id: Id
    title: Text
    description: Text | None = None
    calendar: Calendar | None = None
    horizon: Annotated[Int, Field(ge=1)]
    order: Annotated[tuple[Id, ...], Field(min_length=1)]
    sources: dict[Id, Source] = {}
    state: tuple[StateVar, ...] = ()
    actors: Annotated[tuple[Actor, ...], Field(min_length=1)]
    environment: tuple[EnvironmentActor, ...] = ()
    actions: Annotated[tuple[Action, ...], Field(min_length=1)]
    red_lines: tuple[RedLine, ...] = ()
    outcomes: Annotated[tuple[Outcome, ...], Field(min_length=1)]
    payoffs: Payoffs
    perceptions: tuple[Perception, ...] = ()
    claims: tuple[Claim, ...] = ()

    _index: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        # First occurrence wins, so that duplicate ids (reported by the checks) do not crash here.
        index: dict[str, dict[str, Any]] = {
            k: {} for k in ("actor", "env", "action", "var", "outcome", "red_line", "claim")
        }
        for kind, items in (
            ("actor", self.actors),
            ("env", self.environment),
            ("action", self.actions),
            ("var", self.state),
            ("outcome", self.outcomes),
            ("red_line", self.red_lines),
            ("claim", self.claims),
        ):
            for item in items:
                index[kind].setdefault(item.id, item)
        self._index = index

    # ----- lookups -------------------------------------------------------------------------

    def _get(self, kind: str, what: str, ident: str) -> Any:
        try:
            return self._index[kind][ident]
        except KeyError:
            known = ", ".join(self._index[kind]) or "none"
            raise ScenarioError(
                [Problem(f"<scenario {self.id}>", None, what, f"no {what} {ident!r}",
                         got=repr(ident), expected=f"one of {known}")]
            ) from None

    def actor(self, actor_id: str) -> Actor:
        """The strategic actor `actor_id` (ScenarioError listing the valid ids otherwise)."""
        return self._get("actor", "actor", actor_id)

    def environment_actor(self, actor_id: str) -> EnvironmentActor:
        return self._get("env", "environment actor", actor_id)

    def action(self, action_id: str) -> Action:
        return self._get("action", "action", action_id)

    def var(self, var_id: str) -> StateVar:
        return self._get("var", "state variable", var_id)

    def outcome(self, outcome_id: str) -> Outcome:
        return self._get("outcome", "outcome", outcome_id)

    def red_line(self, red_line_id: str) -> RedLine:
        return self._get("red_line", "red line", red_line_id)

    def claim(self, claim_id: str) -> Claim:
        return self._get("claim", "claim", claim_id)

    def source_of(self, source_id: str) -> Source:
        if source_id not in self.sources:
            raise ScenarioError([Problem(f"<scenario {self.id}>", None, "sources", f"no source {source_id!r}",
                                         got=repr(source_id), expected=f"one of {', '.join(self.sources)}")])
        return self.sources[source_id]

    def is_strategic(self, actor_id: str) -> bool:
        return actor_id in self._index["actor"]

    @property
    def strategic_ids(self) -> tuple[str, ...]:
        """Ids of the strategic actors, in `actors` order (the index order engines use)."""
        return tuple(a.id for a in self.actors)

    @property
    def environment_ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.environment)

    @property
    def state_ids(self) -> tuple[str, ...]:
        return tuple(v.id for v in self.state)

    @property
    def outcome_ids(self) -> tuple[str, ...]:
        return tuple(o.id for o in self.outcomes)

    def actions_of(self, actor_id: str) -> tuple[Action, ...]:
        """The actions of `actor_id` (strategic or environment) in ladder order (rung, then list order)."""
        if actor_id not in self._index["actor"] and actor_id not in self._index["env"]:
            self._get("actor", "actor", actor_id)
        own = [a for a in self.actions if a.actor == actor_id]
        return tuple(sorted(own, key=lambda a: (a.rung if a.rung is not None else 0)))

    def default_action(self, actor_id: str) -> Action:
        """The strategic actor's status-quo action (`default: true`)."""
        for a in self.actions_of(actor_id):
            if a.default:
                return a
        raise ScenarioError([Problem(f"<scenario {self.id}>", None, "actions", f"actor {actor_id!r} has no default action")])

    @property
    def horizon_outcome(self) -> Outcome:
        """The outcome reached when the horizon passes (`at_horizon: true`)."""
        return next(o for o in self.outcomes if o.at_horizon)

    def perception(self, holder: str, about: str) -> Perception | None:
        """The stated perception of `about` by `holder`, or None (correct perception)."""
        for p in self.perceptions:
            if p.holder == holder and p.about == about:
                return p
        return None

    def perceived_prior(self, holder: str, about: str) -> np.ndarray:
        """float64 array `(n_types of about,)`: `holder`'s prior over `about`'s types (true one if unstated)."""
        target = self.actor(about)
        p = self.perception(holder, about)
        if p is None or p.prior is None:
            return target.priors
        return p.prior_vector(target.type_ids)

    def perceived_terminal(self, holder: str, outcome: str, about: str, type_id: str) -> float:
        """Terminal payoff of `about` (type `type_id`) at `outcome` as `holder` sees it."""
        p = self.perception(holder, about) if holder != about else None
        if p is not None and p.terminal is not None and outcome in p.terminal:
            return p.terminal[outcome].for_type(type_id)
        return self.payoffs.terminal_for(outcome, about, type_id)

    def _repr_html_(self) -> str:
        return scenario_html(self)
