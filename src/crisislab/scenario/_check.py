"""Semantic checks of a type-valid scenario: what pydantic cannot see.

Ids that must exist do, priors sum to 1, probabilities are in [0, 1], ladders are ordered, every
strategic actor has one default action and a terminal payoff per outcome, state effects can respect
the bounds, every number has a source or an assumption, and so on (docs/scenario-format.md). Each
check yields an `Issue` whose `loc` is a pydantic-style location (field names by alias, list
indices); the loader turns it into a line and an id-addressed path. All issues are collected.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from crisislab.scenario._models import (
    AllCondition,
    AnyCondition,
    Attribution,
    Casualties,
    Effect,
    ErrorEvent,
    Force,
    Forbid,
    NotCondition,
    OutcomeCasualties,
    Param,
    PhaseCondition,
    ProbTable,
    RedLineCondition,
    RoundCondition,
    ScenarioModel,
    SetParam,
    TypeValues,
    VarCondition,
)
from crisislab.scenario._paths import PathError, resolve_param_path
from crisislab.scenario._walk import Loc, walk_numbers, walk_source_refs

PRIOR_TOLERANCE = 1e-9  # contract: priors sum to 1 within 1e-9

# Size limits (docs/scenario-format.md, "Limits"): far above any crisis the engines are built for
# (the flagship: horizon 24, at most 7 values per variable, 100,800 public states), low enough that
# a typo is refused at validation instead of exhausting memory or running for hours.
MAX_HORIZON = 1000  # rounds; the simulator and the solver work round by round
MAX_VAR_VALUES = 1001  # values of one state variable (max - min + 1); tables are per value
MAX_PUBLIC_STATES = 1_000_000  # product of the variables' values and the red lines' statuses
# The simulator draws a casualty count from an inverse-CDF table that runs to the count whose upper
# tail is below CASUALTY_TAIL (model/_lower.casualty_cdf); its length grows with the mean and, for a
# negative binomial, with mean / dispersion. A Poisson mean up to about 97,000 fits (8 bytes an
# entry: 800 KB); a mean of 1e9 would need 8 GB and more than a minute to build.
MAX_CASUALTY_TABLE = 100_000
CASUALTY_TAIL = 1e-12
# Types per strategic actor: every engine represents a belief about an actor as one probability
# (its belief grid has one axis per actor), which holds two types.
MAX_TYPES = 2
# Casualty distributions of one outcome (each draws in its own random-number slot of the move that ends the run).
MAX_OUTCOME_CASUALTIES = 16
CIVILIAN = "civilian"  # the non-actor side of casualties


@dataclass(frozen=True)
class Issue:
    """One semantic problem at a pydantic-style location."""

    loc: Loc
    message: str
    got: str | None = None
    expected: str | None = None


def _fmt(x: float) -> str:
    return f"{x:.12g}"


def _ids(items: Any) -> str:
    items = list(dict.fromkeys(items))  # each once, in order (a duplicated id is reported on its own)
    return ", ".join(items) if items else "none"


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------


def _leaves(loc: Loc, cond: Any) -> Iterator[tuple[Loc, Any]]:
    """(location, condition) of every leaf of `cond` (all/any/not opened), depth first, each at the
    field path the file uses (`all.0`, `any.1`, `not`)."""
    if isinstance(cond, AllCondition):
        for i, c in enumerate(cond.all_):
            yield from _leaves(loc + ("all", i), c)
    elif isinstance(cond, AnyCondition):
        for i, c in enumerate(cond.any_):
            yield from _leaves(loc + ("any", i), c)
    elif isinstance(cond, NotCondition):
        yield from _leaves(loc + ("not",), cond.not_)
    else:
        yield loc, cond


class _Checker:
    def __init__(self, s: ScenarioModel, filename: str, ties: bool = True):
        self.s = s
        self.filename = filename
        self.ties = ties
        self.issues: list[Issue] = []
        self.strategic = {a.id: a for a in s.actors}
        self.env = {e.id: e for e in s.environment}
        self.vars = {v.id: v for v in s.state}
        self.actions = {a.id: a for a in s.actions}
        self.outcomes = {o.id: o for o in s.outcomes}
        self.red_lines = {r.id: r for r in s.red_lines}

    def add(self, loc: Loc, message: str, got: Any = None, expected: str | None = None) -> None:
        self.issues.append(Issue(loc, message, None if got is None else str(got), expected))

    # ----- helpers --------------------------------------------------------------------------

    def prob(self, loc: Loc, p: Param | ProbTable) -> None:
        if isinstance(p, ProbTable):
            self.table(loc, p)
            return
        if not 0.0 <= p.value <= 1.0:
            self.add(loc, "probability out of range", _fmt(p.value), "a number in [0, 1]")

    def table(self, loc: Loc, t: ProbTable) -> None:
        var = self.vars.get(t.by)
        if var is None:
            self.add(loc + ("by",), "unknown state variable", repr(t.by), f"one of {_ids(self.vars)}")
        elif len(t.table) != var.size:
            self.add(loc + ("table",), f"needs one entry per value of {t.by} ({var.min}..{var.max})",
                     f"{len(t.table)} entries", f"{var.size} entries")
        for i, p in enumerate(t.table):
            if not 0.0 <= p <= 1.0:
                self.add(loc + ("table", i), "probability out of range", _fmt(p), "a number in [0, 1]")

    def var_ref(self, loc: Loc, var_id: str) -> bool:
        if var_id not in self.vars:
            self.add(loc, "unknown state variable", repr(var_id), f"one of {_ids(self.vars)}")
            return False
        return True

    def condition(self, loc: Loc, cond: Any) -> None:
        for at, leaf in _leaves(loc, cond):
            if isinstance(leaf, VarCondition):
                self.var_ref(at + ("var",), leaf.var)
            elif isinstance(leaf, RedLineCondition) and leaf.red_line not in self.red_lines:
                self.add(at + ("red_line",), "unknown red line", repr(leaf.red_line), f"one of {_ids(self.red_lines)}")
            elif isinstance(leaf, PhaseCondition):
                cal = self.s.calendar
                phases = cal.phase_rounds if cal is not None else {}
                if leaf.phase not in phases:
                    self.add(at + ("phase",), "unknown calendar phase", repr(leaf.phase),
                             f"one of {_ids(phases)}" if phases else "a phase of `calendar.phases` (the scenario has none)")

    def condition_ranges(self, loc: Loc, cond: Any) -> None:
        """Comparisons in `cond` with a value outside the variable's bounds (or the rounds
        1..horizon): such a comparison never or always holds, whatever happens."""
        for at, leaf in _leaves(loc, cond):
            if isinstance(leaf, VarCondition):
                var = self.vars.get(leaf.var)
                if var is None:
                    continue  # reported by `condition`
                what, lo, hi, op, value, vloc = leaf.var, var.min, var.max, leaf.op, leaf.value, at + ("value",)
            elif isinstance(leaf, RoundCondition):
                what, lo, hi, op = "the round", 1, self.s.horizon, leaf.round.op
                value, vloc = leaf.round.value, at + ("round", "value")
            else:
                continue
            if not lo <= value <= hi:
                holds = {bool(VarCondition(var="x", op=op, value=value).holds(x)) for x in range(lo, hi + 1)}
                always = "always" if holds == {True} else "never"
                self.add(vloc, f"compares {what} with a value outside its range, so `{op}` {always} holds",
                         value, f"{lo}..{hi}")

    def interventions(self, loc: Loc, items: tuple[Any, ...]) -> None:
        """Force/forbid items of one arm that contradict each other: an action both forced and
        forbidden, or every action of an actor forbidden (the engine would then play the
        forbidden default action)."""
        forbidden: dict[str, set[str]] = {}
        every: set[str] = set()
        for j, iv in enumerate(items):
            if isinstance(iv, Forbid) and iv.forbid.when is None:  # a conditional forbid leaves the action elsewhere
                act = self.actions.get(iv.forbid.action)
                if act is None or act.actor != iv.forbid.actor:
                    continue  # reported by check_claims
                forbidden.setdefault(act.actor, set()).add(act.id)
                ladder = [a.id for a in self.s.actions if a.actor == act.actor]
                if forbidden[act.actor] == set(ladder) and act.actor not in every:
                    every.add(act.actor)
                    default = next((a.id for a in self.s.actions if a.actor == act.actor and a.default), None)
                    self.add(loc + (j, "forbid", "action"),
                             f"the arm forbids every action of {act.actor} (the simulation would fall back to "
                             f"its default action{'' if default is None else ' ' + default}, forbidden or not)",
                             f"{_ids(ladder)} all forbidden", f"at least one action of {act.actor} left allowed")
        for j, iv in enumerate(items):
            if isinstance(iv, Force) and iv.force.action in forbidden.get(iv.force.actor, ()):
                self.add(loc + (j, "force", "action"), "forced and forbidden in the same arm", repr(iv.force.action),
                         "either a force or a forbid of an action in one arm")

    def effects(self, loc: Loc, effects: tuple[Effect, ...]) -> None:
        for i, e in enumerate(effects):
            if not self.var_ref(loc + (i, "var"), e.var):
                continue
            var = self.vars[e.var]
            if e.set is not None and not var.min <= e.set <= var.max:
                self.add(loc + (i, "set"), f"outside the bounds of {e.var}", e.set, f"{var.min}..{var.max}")
            if e.add is not None and abs(e.add) > var.max - var.min:
                self.add(loc + (i, "add"), f"can never stay inside the bounds of {e.var}", e.add,
                         f"|add| <= {var.max - var.min}")

    def type_values(self, loc: Loc, tv: TypeValues, actor_id: str) -> None:
        actor = self.strategic.get(actor_id)
        if actor is None or tv.is_uniform:
            return
        missing = [t for t in actor.type_ids if t not in tv.root]
        if missing:
            self.add(loc, f"no value for type{'s' if len(missing) > 1 else ''} {', '.join(missing)} of {actor_id}",
                     _ids(tv.root), f"one value per type of {actor_id} ({_ids(actor.type_ids)}) or one for all")
        for key in tv.root:
            if key not in actor.type_ids:
                self.add(loc + (key,), f"unknown type of {actor_id}", repr(key), f"one of {_ids(actor.type_ids)}")

    def strategic_ref(self, loc: Loc, actor_id: str, what: str = "strategic actor") -> bool:
        if actor_id not in self.strategic:
            self.add(loc, f"unknown {what}", repr(actor_id), f"one of {_ids(self.strategic)}")
            return False
        return True

    def side_ref(self, loc: Loc, side: str) -> None:
        if side != CIVILIAN and side not in self.strategic and side not in self.env:
            self.add(loc, "unknown side", repr(side), f"one of {_ids([*self.strategic, *self.env, CIVILIAN])}")

    def unique(self, loc_of: Any, ids: list[str], what: str) -> None:
        counts = Counter(ids)
        seen: set[str] = set()
        for i, ident in enumerate(ids):
            if counts[ident] > 1 and ident in seen:
                self.add(loc_of(i), f"duplicate {what} id", repr(ident), f"ids unique among {what}s")
            seen.add(ident)

    # ----- sections -------------------------------------------------------------------------

    def run(self) -> list[Issue]:
        s = self.s
        self.unique(lambda i: ("actors", i, "id"), [a.id for a in s.actors], "actor")
        all_actor_ids = [a.id for a in s.actors] + [e.id for e in s.environment]
        for i, e in enumerate(s.environment):
            if e.id in self.strategic:
                self.add(("environment", i, "id"), "an environment actor has the id of a strategic actor",
                         repr(e.id), "ids unique among all actors")
        self.unique(lambda i: ("environment", i, "id"), [e.id for e in s.environment], "environment actor")
        self.unique(lambda i: ("state", i, "id"), [v.id for v in s.state], "state variable")
        self.unique(lambda i: ("actions", i, "id"), [a.id for a in s.actions], "action")
        self.unique(lambda i: ("outcomes", i, "id"), [o.id for o in s.outcomes], "outcome")
        self.unique(lambda i: ("red_lines", i, "id"), [r.id for r in s.red_lines], "red line")
        self.unique(lambda i: ("claims", i, "id"), [c.id for c in s.claims], "claim")
        self.check_order(all_actor_ids)
        self.check_state()
        self.check_size()
        self.check_actors()
        self.check_environment()
        self.check_actions()
        self.check_red_lines()
        self.check_outcomes()
        self.check_payoffs()
        self.check_perceptions()
        self.check_claims()
        self.check_sources()
        self.check_numbers()
        return self.issues

    def check_order(self, all_actor_ids: list[str]) -> None:
        counts = Counter(self.s.order)
        for i, ident in enumerate(self.s.order):
            if ident not in all_actor_ids:
                self.add(("order", i), "unknown actor", repr(ident), f"one of {_ids(all_actor_ids)}")
            elif counts[ident] > 1 and ident in self.s.order[:i]:
                self.add(("order", i), "actor listed twice", repr(ident), "each actor once")
        missing = [a for a in all_actor_ids if a not in counts]
        if missing:
            self.add(("order",), f"actor{'s' if len(missing) > 1 else ''} missing from the move order",
                     _ids(missing), "every strategic and environment actor once")

    def check_state(self) -> None:
        for i, v in enumerate(self.s.state):
            if v.min > v.max:
                self.add(("state", i, "max"), "max is below min", v.max, f">= {v.min}")
            elif not v.min <= v.initial <= v.max:
                self.add(("state", i, "initial"), "initial value outside the bounds", v.initial, f"{v.min}..{v.max}")

    def check_calendar(self) -> None:
        """Phases: unique ids, rounds that add up to the horizon."""
        cal = self.s.calendar
        if cal is None or cal.phases is None:
            return
        seen: set[str] = set()
        for i, ph in enumerate(cal.phases):
            if ph.id in seen:
                self.add(("calendar", "phases", i, "id"), "duplicate phase id", repr(ph.id), "a phase id used once")
            seen.add(ph.id)
        total = sum(ph.rounds for ph in cal.phases)
        if total != self.s.horizon:
            self.add(("calendar", "phases"), f"the phases' rounds add up to {total:,}, the horizon is {self.s.horizon:,}",
                     f"{total:,} rounds ({' + '.join(str(ph.rounds) for ph in cal.phases)})",
                     f"rounds that sum to the horizon, {self.s.horizon:,}")

    def check_size(self) -> None:
        s = self.s
        cal = s.calendar
        self.check_calendar()
        if cal is not None and s.horizon <= MAX_HORIZON:
            lengths = cal.round_days(s.horizon)
            days = sum(lengths)
            if days > (_dt.date.max - cal.start).days + 1:
                field = ("calendar", "days_per_round") if cal.phases is None else ("calendar", "phases")
                what = (f"{s.horizon:,} rounds of {cal.days_per_round:,} days" if cal.phases is None
                        else f"{s.horizon:,} rounds, {days:,} days")
                self.add(field, "the calendar runs past the year 9999", f"{what} from {cal.start.isoformat()}",
                         "a last round that ends by 9999-12-31")
        if s.horizon > MAX_HORIZON:
            self.add(("horizon",), f"too many rounds: crisislab simulates and solves a crisis round by round, up to "
                     f"{MAX_HORIZON:,} rounds", f"{s.horizon:,}",
                     f"<= {MAX_HORIZON:,}; for a longer crisis, use longer rounds (calendar.days_per_round)")
        too_big = False
        for i, v in enumerate(s.state):
            if v.min <= v.max and v.size > MAX_VAR_VALUES:
                too_big = True
                self.add(("state", i, "max"), f"too many values ({v.min}..{v.max}): a state variable is a small bounded "
                         f"integer, with tables per value, of at most {MAX_VAR_VALUES:,} values", f"{v.size:,} values",
                         f"max - min + 1 <= {MAX_VAR_VALUES:,}; bucket large quantities, e.g. deaths in bands")
        if too_big or any(v.min > v.max for v in s.state):
            return
        states = 1
        for v in s.state:
            states *= v.size
        for r in s.red_lines:
            states *= 3 + r.deadline  # inactive, answered, failed, or pending with 1..deadline moves left
        if states > MAX_PUBLIC_STATES:
            sizes = " x ".join([f"{v.id} {v.size}" for v in s.state] + [f"{r.id} {3 + r.deadline}" for r in s.red_lines])
            self.add(("state",), f"too many public states ({sizes}): the crisis engine enumerates them, up to "
                     f"{MAX_PUBLIC_STATES:,}", f"{states:,}",
                     f"<= {MAX_PUBLIC_STATES:,}; use fewer values per variable, fewer variables or shorter red-line deadlines")

    def check_actors(self) -> None:
        for i, a in enumerate(self.s.actors):
            self.unique(lambda j, i=i: ("actors", i, "types", j, "id"), [t.id for t in a.types], f"type of {a.id}")
            if a.lam.value < 0:
                self.add(("actors", i, "lam"), "logit precision must be non-negative", _fmt(a.lam.value), ">= 0")
            bad = False
            for j, t in enumerate(a.types):
                if not 0.0 <= t.prior.value <= 1.0:
                    bad = True
                    self.add(("actors", i, "types", j, "prior"), "prior out of range", _fmt(t.prior.value), "a number in [0, 1]")
            if len(a.types) > MAX_TYPES:
                self.add(("actors", i, "types"), f"{a.id} has {len(a.types)} types; the engines represent a belief about "
                         "an actor as one probability (its first type's), which holds two types",
                         f"{len(a.types)} types ({', '.join(t.id for t in a.types)})",
                         f"at most {MAX_TYPES}: merge types, or split the actor into two strategic actors")
            total = sum(t.prior.value for t in a.types)
            if not bad and abs(total - 1.0) > PRIOR_TOLERANCE:
                self.add(("actors", i, "types"), f"priors of {a.id}'s types do not sum to 1", f"sum {_fmt(total)}",
                         "sum 1 (within 1e-9)")

    def check_environment(self) -> None:
        for i, e in enumerate(self.s.environment):
            for j, r in enumerate(e.rules):
                loc = ("environment", i, "rules", j)
                if r.when is not None:
                    self.condition(loc + ("when",), r.when)
                act = self.actions.get(r.action)
                if act is None:
                    self.add(loc + ("action",), "unknown action", repr(r.action), f"an action of {e.id}")
                elif act.actor != e.id:
                    self.add(loc + ("action",), f"action belongs to {act.actor}, not {e.id}", repr(r.action),
                             f"one of {_ids(a.id for a in self.s.actions if a.actor == e.id)}")
                self.prob(loc + ("probability",), r.probability)

    def check_actions(self) -> None:
        s = self.s
        error_ids: list[tuple[Loc, str]] = []
        last_rung: dict[str, tuple[int, str]] = {}
        for i, a in enumerate(s.actions):
            loc: Loc = ("actions", i)
            strategic = a.actor in self.strategic
            if not strategic and a.actor not in self.env:
                self.add(loc + ("actor",), "unknown actor", repr(a.actor), f"one of {_ids([*self.strategic, *self.env])}")
            if strategic:
                if a.rung is None:
                    self.add(loc, "a strategic actor's action needs a `rung`", None, "an integer rung")
                else:
                    prev = last_rung.get(a.actor)
                    if prev is not None and a.rung <= prev[0]:
                        self.add(loc + ("rung",), f"rungs of {a.actor}'s ladder must strictly increase in list order",
                                 a.rung, f"> {prev[0]} (rung of {prev[1]})")
                    last_rung[a.actor] = (a.rung, a.id)
                if a.cost is not None:
                    self.type_values(loc + ("cost",), a.cost, a.actor)
            elif a.actor in self.env:
                if a.cost is not None:
                    self.add(loc + ("cost",), "environment actors' actions have no cost", None, "no `cost`")
                if a.default:
                    self.add(loc + ("default",), "environment actors have no default action", None, "no `default`")
            if a.intensity is not None and a.intensity.scale in ("goldstein", "plover"):
                if not -10.0 <= a.intensity.value <= 10.0:
                    self.add(loc + ("intensity", "value"), f"outside the {a.intensity.scale} scale",
                             _fmt(a.intensity.value), "a number in [-10, 10]")
            self.effects(loc + ("effects",), a.effects)
            if a.available is not None:
                self.condition(loc + ("available",), a.available)
            if a.ends is not None:
                ended = self.outcomes.get(a.ends)
                if ended is None or ended.at_horizon:
                    self.add(loc + ("ends",), "unknown outcome" if ended is None else
                             "the at_horizon outcome is reached by the horizon, not by an action", repr(a.ends),
                             f"one of {_ids(o.id for o in self.s.outcomes if not o.at_horizon)}")
            for j, c in enumerate(a.consequences):
                cl = loc + ("consequences", j)
                if isinstance(c, Casualties):
                    self.casualties(cl, c)
                elif isinstance(c, ErrorEvent):
                    error_ids.append((cl + ("id",), c.id))
                    self.prob(cl + ("probability",), c.probability)
                    self.effects(cl + ("effects",), c.effects)
                    if c.becomes is not None:
                        target = self.actions.get(c.becomes)
                        if target is None:
                            self.add(cl + ("becomes",), "unknown action", repr(c.becomes),
                                     f"an action of {a.actor} or of an environment actor")
                        elif target.actor != a.actor and target.actor not in self.env:
                            self.add(cl + ("becomes",), f"action belongs to {target.actor}", repr(c.becomes),
                                     f"an action of {a.actor} or of an environment actor")
                    for k, cc in enumerate(c.consequences):
                        self.casualties(cl + ("consequences", k), cc)
                elif isinstance(c, Attribution):
                    self.prob(cl + ("probability",), c.probability)
                    self.effects(cl + ("unattributed_effects",), c.unattributed_effects)
        seen: set[str] = set()
        for loc, ident in error_ids:
            if ident in seen:
                self.add(loc, "duplicate error event id", repr(ident), "ids unique among error events")
            seen.add(ident)
        for actor_id in self.strategic:
            own = [(i, a) for i, a in enumerate(s.actions) if a.actor == actor_id]
            if len(own) < 2:
                self.add(("actions",), f"strategic actor {actor_id} needs at least two actions", len(own), ">= 2")
            defaults = [i for i, a in own if a.default]
            if len(defaults) != 1:
                loc = ("actions", defaults[1], "default") if len(defaults) > 1 else ("actions",)
                self.add(loc, f"strategic actor {actor_id} needs exactly one default action",
                         f"{len(defaults)} defaults", "exactly one action with default: true")

    def casualties(self, loc: Loc, c: Casualties | OutcomeCasualties) -> None:
        self.side_ref(loc + ("side",), c.side)
        if c.mean.value < 0:
            self.add(loc + ("mean",), "mean deaths must be non-negative", _fmt(c.mean.value), ">= 0")
        if c.dispersion is not None and not c.dispersion.value > 0:
            self.add(loc + ("dispersion",), "dispersion must be positive", _fmt(c.dispersion.value), "> 0 (or null for Poisson)")
        elif c.mean.value > 0:
            disp = None if c.dispersion is None else c.dispersion.value
            length = casualty_table_length(c.mean.value, disp)
            if length > MAX_CASUALTY_TABLE:
                what = "mean" if disp is None else "mean / dispersion"
                self.add(loc + ("mean",), f"casualty distribution too wide to sample: its table of counts up to the "
                         f"1 - {CASUALTY_TAIL:g} quantile would have more than {MAX_CASUALTY_TABLE:,} entries "
                         f"(lower the {what})",
                         _fmt(c.mean.value) + ("" if disp is None else f" with dispersion {_fmt(disp)}"),
                         f"a table of at most {MAX_CASUALTY_TABLE:,} entries: a Poisson mean up to about 97,000")
        if getattr(c, "into", None) is not None:
            self.var_ref(loc + ("into",), c.into)

    def check_red_lines(self) -> None:
        for i, r in enumerate(self.s.red_lines):
            loc: Loc = ("red_lines", i)
            if self.strategic_ref(loc + ("owner",), r.owner):
                rungs = [a.rung for a in self.s.actions if a.actor == r.owner and a.rung is not None]
                if rungs and r.answer_rung > max(rungs):
                    self.add(loc + ("answer_rung",), f"no action of {r.owner} reaches this rung, so it can never be answered",
                             r.answer_rung, f"<= {max(rungs)}")
                self.type_values(loc + ("audience_cost",), r.audience_cost, r.owner)
            self.condition(loc + ("crossed_when",), r.crossed_when)
            self.effects(loc + ("on_answer",), r.on_answer)
            if r.scale is not None and r.scale.value < 0:
                self.add(loc + ("scale",), "scale must be non-negative", _fmt(r.scale.value), ">= 0")

    def check_outcomes(self) -> None:
        horizon = [i for i, o in enumerate(self.s.outcomes) if o.at_horizon]
        if len(horizon) != 1:
            loc = ("outcomes", horizon[1], "at_horizon") if len(horizon) > 1 else ("outcomes",)
            self.add(loc, "exactly one outcome must have at_horizon: true", f"{len(horizon)}", "1")
        for i, o in enumerate(self.s.outcomes):
            if o.at_horizon and o.when is not None:
                self.add(("outcomes", i, "when"), "the at_horizon outcome has no `when`", None, "no `when`")
            if not o.at_horizon and o.when is None and not any(a.ends == o.id for a in self.s.actions):
                self.add(("outcomes", i), "an outcome needs a `when`, an action that `ends` the crisis in it, or "
                         "at_horizon: true", None, "a `when` condition or an action with `ends: " + o.id + "`")
            if o.when is not None:
                self.condition(("outcomes", i, "when"), o.when)
            if o.casualties and o.at_horizon:
                self.add(("outcomes", i, "casualties"), "the at_horizon outcome carries no casualties (deaths during the "
                         "crisis are the acts' consequences)", f"{len(o.casualties)} distributions", "no `casualties`")
            if len(o.casualties) > MAX_OUTCOME_CASUALTIES:
                self.add(("outcomes", i, "casualties"), "too many casualty distributions for one outcome",
                         len(o.casualties), f"at most {MAX_OUTCOME_CASUALTIES}")
            for j, c in enumerate(o.casualties):
                self.casualties(("outcomes", i, "casualties", j), c)

    def check_payoffs(self) -> None:
        p = self.s.payoffs
        if not 0.0 < p.discount.value <= 1.0:
            self.add(("payoffs", "discount"), "discount out of range", _fmt(p.discount.value), "a number in (0, 1]")
        for out_id, per_actor in p.terminal.items():
            loc: Loc = ("payoffs", "terminal", out_id)
            if out_id not in self.outcomes:
                self.add(loc, "unknown outcome", repr(out_id), f"one of {_ids(self.outcomes)}")
                continue
            for actor_id, tv in per_actor.items():
                if self.strategic_ref(loc + (actor_id,), actor_id):
                    self.type_values(loc + (actor_id,), tv, actor_id)
        for out_id in self.outcomes:
            for actor_id in self.strategic:
                if actor_id not in p.terminal.get(out_id, {}):
                    where = ("payoffs", "terminal", out_id) if out_id in p.terminal else ("payoffs", "terminal")
                    self.add(where, f"no terminal payoff for {actor_id} at outcome {out_id}", None,
                             "a terminal payoff for every strategic actor x outcome")
        for i, f in enumerate(p.flow):
            loc = ("payoffs", "flow", i)
            if self.strategic_ref(loc + ("actor",), f.actor):
                self.type_values(loc + ("value",), f.value, f.actor)
            if f.when is not None:
                self.condition(loc + ("when",), f.when)
        for i, c in enumerate(p.casualties):
            loc = ("payoffs", "casualties", i)
            if self.strategic_ref(loc + ("actor",), c.actor):
                self.type_values(loc + ("per_death",), c.per_death, c.actor)
            self.side_ref(loc + ("side",), c.side)

    def check_perceptions(self) -> None:
        seen: set[tuple[str, str]] = set()
        for i, pc in enumerate(self.s.perceptions):
            loc: Loc = ("perceptions", i)
            ok = self.strategic_ref(loc + ("holder",), pc.holder)
            ok = self.strategic_ref(loc + ("about",), pc.about) and ok
            if pc.holder == pc.about:
                self.add(loc + ("about",), "an actor's perception of itself is its truth", repr(pc.about), "another strategic actor")
            if (pc.holder, pc.about) in seen:
                self.add(loc, "duplicate perception", f"{pc.holder} about {pc.about}", "one perception per holder and about")
            seen.add((pc.holder, pc.about))
            if not ok:
                continue
            about = self.strategic[pc.about]
            if pc.prior is None and not pc.terminal:
                self.add(loc, "the perception states nothing", f"{pc.holder} about {pc.about}",
                         "a `prior`, `terminal` payoffs, or both (omit the perception to perceive the truth)")
            prior = pc.prior or {t: None for t in about.type_ids}
            missing = [t for t in about.type_ids if t not in prior]
            if missing:
                self.add(loc + ("prior",), f"no prior for type{'s' if len(missing) > 1 else ''} {', '.join(missing)} of {pc.about}",
                         _ids(prior), f"one entry per type ({_ids(about.type_ids)})")
            bad = bool(missing)
            for key, param in (pc.prior or {}).items():
                if key not in about.type_ids:
                    bad = True
                    self.add(loc + ("prior", key), f"unknown type of {pc.about}", repr(key), f"one of {_ids(about.type_ids)}")
                elif not 0.0 <= param.value <= 1.0:
                    bad = True
                    self.add(loc + ("prior", key), "prior out of range", _fmt(param.value), "a number in [0, 1]")
            total = sum(param.value for param in (pc.prior or {}).values()) if pc.prior is not None else 1.0
            if not bad and abs(total - 1.0) > PRIOR_TOLERANCE:
                self.add(loc + ("prior",), f"perceived priors of {pc.about}'s types do not sum to 1", f"sum {_fmt(total)}",
                         "sum 1 (within 1e-9)")
            for out_id, tv in (pc.terminal or {}).items():
                if out_id not in self.outcomes:
                    self.add(loc + ("terminal", out_id), "unknown outcome", repr(out_id), f"one of {_ids(self.outcomes)}")
                else:
                    self.type_values(loc + ("terminal", out_id), tv, pc.about)

    def check_claims(self) -> None:
        seed_files = {src.file for src in self.s.sources.values() if src.kind == "seed" and src.file}
        for i, c in enumerate(self.s.claims):
            loc: Loc = ("claims", i)
            if c.seed is not None and c.seed not in seed_files:
                self.add(loc + ("seed",), "not the file of any source of kind: seed", repr(c.seed),
                         f"one of {_ids(sorted(seed_files))}")
            m = c.metric
            ml = loc + ("metric",)
            if m.outcome_probability is not None and m.outcome_probability not in self.outcomes:
                self.add(ml + ("outcome_probability",), "unknown outcome", repr(m.outcome_probability), f"one of {_ids(self.outcomes)}")
            if m.within is not None and m.within > self.s.horizon:
                self.add(ml + ("within",), "beyond the horizon", m.within, f"<= {self.s.horizon}")
            if m.mean_casualties is not None:
                self.side_ref(ml + ("mean_casualties",), m.mean_casualties)
            if m.mean_audience_cost is not None:
                self.strategic_ref(ml + ("mean_audience_cost",), m.mean_audience_cost)
            if m.action_probability is not None and m.action_probability not in self.actions:
                self.add(ml + ("action_probability",), "unknown action", repr(m.action_probability), "an action id")
            if m.after is not None:
                if m.after.action not in self.actions:
                    self.add(ml + ("after", "action"), "unknown action", repr(m.after.action), f"one of {_ids(self.actions)}")
                if m.after.within_days is not None and self.s.calendar is None:
                    self.add(ml + ("after", "within_days"), "a window in days needs a calendar", m.after.within_days,
                             "`within` (rounds), or a `calendar` in the scenario")
                elif m.after.within_days is not None:
                    span = sum(self.s.calendar.round_days(self.s.horizon))  # type: ignore[union-attr]
                    if m.after.within_days >= span:
                        self.add(ml + ("after", "within_days"), f"a window at least as long as the calendar's {span} days "
                                 "counts every later round", m.after.within_days, f"0..{span - 1}")
                if m.after.within is not None and m.after.within >= self.s.horizon:
                    self.add(ml + ("after", "within"), "a window at least as long as the horizon counts every later "
                             "round", m.after.within, f"0..{self.s.horizon - 1}")
            if m.given is not None:
                g = m.given
                if g.reached is not None:
                    self.condition(ml + ("given", "reached"), g.reached)
                    self.condition_ranges(ml + ("given", "reached"), g.reached)
                for key in ("took", "not_took"):
                    ident = getattr(g, key)
                    if ident is not None and ident not in self.actions:
                        self.add(ml + ("given", key), "unknown action", repr(ident), f"one of {_ids(self.actions)}")
            for arm in ("treatment", "baseline"):
                for j, iv in enumerate(getattr(c.compare, arm)):
                    self.intervention(loc + ("compare", arm, j), iv)
                self.interventions(loc + ("compare", arm), getattr(c.compare, arm))

    def intervention(self, il: Loc, iv: Any) -> None:
        """An intervention's actor, action, round, condition and parameter path exist."""
        if isinstance(iv, (Force, Forbid)):
            spec = iv.force if isinstance(iv, Force) else iv.forbid
            il = il + (("force",) if isinstance(iv, Force) else ("forbid",))
            if self.strategic_ref(il + ("actor",), spec.actor):
                act = self.actions.get(spec.action)
                if act is None or act.actor != spec.actor:
                    self.add(il + ("action",), f"not an action of {spec.actor}", repr(spec.action),
                             f"one of {_ids(a.id for a in self.s.actions if a.actor == spec.actor)}")
            if isinstance(iv, Forbid) and iv.forbid.when is not None:
                self.condition(il + ("when",), iv.forbid.when)
                self.condition_ranges(il + ("when",), iv.forbid.when)
            if isinstance(iv, Force):
                if iv.force.round is not None and iv.force.round > self.s.horizon:
                    self.add(il + ("round",), "beyond the horizon", iv.force.round, f"1..{self.s.horizon}")
                if iv.force.when is not None:
                    self.condition(il + ("when",), iv.force.when)
                    self.condition_ranges(il + ("when",), iv.force.when)
        elif isinstance(iv, SetParam):
            try:
                resolve_param_path(self.s, iv.set.param)
            except PathError as exc:
                self.add(il + ("set", "param"), str(exc), repr(iv.set.param), exc.expected)

    def check_sources(self) -> None:
        for loc, ref in walk_source_refs(self.s):
            if ref not in self.s.sources:
                self.add(loc, "unknown source", repr(ref), f"one of {_ids(self.s.sources)}")
        for sid, src in self.s.sources.items():
            if src.kind == "seed" and not src.file:
                self.add(("sources", sid), "a seed source needs `file` (its file name in shared/seeds)", None, "file: NNN_xxxx.txt")

    def check_numbers(self) -> None:
        for loc, p, has_prov in walk_numbers(self.s):
            if not has_prov:
                got = _fmt(p.value) if isinstance(p, Param) else "a table"
                self.add(loc, "every number has a source or is marked assumption", got,
                         "a `source:` or `assumption:` on it or on an enclosing object")
            if isinstance(p, Param) and p.uncertainty is not None and not p.uncertainty.contains(p.value):
                lo, hi = p.uncertainty.support()
                self.add(loc + ("uncertainty",), "the value is outside the uncertainty's support", _fmt(p.value),
                         f"one of {list(p.uncertainty.choice)}" if p.uncertainty.choice is not None else f"in [{_fmt(lo)}, {_fmt(hi)}]")
            tied = getattr(getattr(p, "estimated", None), "tied_to", None)
            if tied is not None and self.ties:
                self.check_tie(loc + ("estimated", "tied_to"), p, tied)

    def check_tie(self, loc: tuple, p: Param, path: str) -> None:
        """A parameter tied to another shares its estimated value, and the other is estimated
        (and tied to nothing itself)."""
        try:
            other = resolve_param_path(self.s, path)
        except PathError as exc:
            self.add(loc, str(exc), repr(path), exc.expected)
            return
        est = other.get("estimated") if isinstance(other, dict) else None
        if not est:
            self.add(loc, "a parameter is tied to an estimated one (with `estimated`)", repr(path), "the path of an estimated parameter")
        elif est.get("tied_to") is not None:
            self.add(loc, "a parameter is tied to the parameter that was estimated, not to another tied one", repr(path),
                     f"{est['tied_to']!r}")
        elif float(other["value"]) != float(p.value):
            self.add(loc, "a tied parameter has the value of the one it is tied to", _fmt(p.value), f"{_fmt(float(other['value']))} (the value of {path})")


def base_issues(scenario: ScenarioModel, filename: str = "<scenario>", ties: bool = True) -> list[Issue]:
    """All semantic issues of a type-valid scenario itself (empty list if it is sound); the
    scenarios it implies are checked on top of these by `_derived` (`_scenario.check_scenario`),
    without `ties` (a claim arm or a range end may move one tied parameter alone)."""
    return _Checker(scenario, filename, ties).run()


def casualty_table_length(mean: float, dispersion: float | None) -> float:
    """Entries of the simulator's inverse-CDF table for a casualty distribution (as
    `model._lower.casualty_cdf` builds it: counts 0 .. the 1 - CASUALTY_TAIL quantile, plus one):
    an upper bound of it when that is within MAX_CASUALTY_TABLE, else MAX_CASUALTY_TABLE if the
    table fits in it, else inf.

    The bound is Chernoff's, P(X >= k) <= G(s) / s**k for the generating function G and any s > 1
    where G is finite (Poisson: exp(mean (s - 1)); negative binomial: (p / (1 - (1 - p) s))**size),
    tried at a few s; scipy (0.6 s to import) is used only when the bound is too wide.
    """
    if mean <= 0:
        return 1.0
    log_tail = math.log(1 / CASUALTY_TAIL)
    best = math.inf
    if dispersion is None:
        s_max = 1.0 + max(1.0, 100.0 / max(mean, 1e-300) ** 0.5)
    else:
        p = dispersion / (dispersion + mean)
        s_max = 1 / (1 - p) if p < 1 else math.inf
    for t in (0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.85, 0.95):
        s = 1 + t * (min(s_max, 1e6) - 1)
        if not s > 1:
            continue
        if dispersion is None:
            log_g = mean * (s - 1)
        else:
            inner = 1 - (1 - p) * s
            if not inner > 0:
                continue
            log_g = dispersion * math.log(p / inner)
        best = min(best, (log_g + log_tail) / math.log(s) + 2)
    if best <= MAX_CASUALTY_TABLE:
        return best
    # The table is longer than the limit iff the tail beyond its last allowed count is above
    # CASUALTY_TAIL: one survival function, where a quantile search can take a minute. scipy takes
    # ~0.6 s to import: only distributions wider than the bound pay it.
    from scipy import stats

    dist = stats.poisson(mean) if dispersion is None else stats.nbinom(dispersion, dispersion / (dispersion + mean))
    tail = float(dist.sf(MAX_CASUALTY_TABLE - 2))
    return math.inf if not tail <= CASUALTY_TAIL else float(MAX_CASUALTY_TABLE)


def check_interventions(scenario: ScenarioModel, interventions: Any) -> list[Issue]:
    """The issues of interventions given outside the file (e.g. on the command line) against a
    valid scenario, by the same rules as a claim's; each issue's `loc` starts with the
    intervention's index in `interventions`."""
    checker = _Checker(scenario, "<interventions>")
    for i, iv in enumerate(interventions):
        checker.intervention((i,), iv)
    checker.interventions((), tuple(interventions))
    return checker.issues


__all__ = [
    "Issue", "base_issues", "check_interventions", "walk_numbers", "walk_source_refs", "CIVILIAN", "PRIOR_TOLERANCE",
    "MAX_HORIZON", "MAX_VAR_VALUES", "MAX_PUBLIC_STATES", "MAX_CASUALTY_TABLE", "CASUALTY_TAIL",
    "casualty_table_length",
]
