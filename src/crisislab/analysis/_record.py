"""An observed record as the likelihood reads it: per round and mover, what the record allows.

A record (`crisislab.data.load_timeline`: one row per dated event, coded as a scenario action) is
turned into a `Record`: for each round of the record and each mover of the model's move order,
either `None` (the record does not observe this mover: everything it may do is summed over) or the
tuple of `Candidate` moves the record allows, each with the chance results the record observes.

The rules (docs/replay.md says the same for users):

- **Rounds.** The record covers rounds 1 … R, R the round of its last event (or the round of
  `until`). Events after `until` are not used.
- **Observed movers.** A mover is observed when it has at least one event in the record (the
  record then also says when it did nothing), unless listed in `unobserved`; `observed` adds movers
  with no events (observed to do nothing throughout). A mover the record never mentions (in the
  flagship: the mediators standing for the passage of time) is not observed: its moves and their
  chance results are summed over, not scripted as "did nothing".
- **No event** of an observed mover in a round: a strategic actor played its default action (the
  status quo); an environment actor did nothing.
- **Several events of one mover in one round** (rounds are coarse): the highest rung is the move
  (on equal rungs, the first in file order); the reported casualties of those events add up. The
  order of events within a round is not used: within a round the model's move order holds.
- **Uncertain events** (`uncertain` = 1) happened or not, each branch weighted by the model: the
  move is the highest rung among the certain events (or the default / nothing), or an uncertain
  event of a higher rung; each such event gives one more candidate, with its own casualties added to
  those of the certain events. An uncertain event whose rung is not above the certain move changes
  nothing and is ignored.
- **A repeated one-time step.** A certain move whose action the record already shows the same
  mover taking in an earlier round carries `fallbacks`: where the model no longer offers that action
  in the state reached (a step taken once, such as sanctions already in force), the event adds
  nothing, and the move is the mover's next-highest certain event of the round, else its default.
  The likelihood lists every such reading (`FilterResult.reread`). Any other move the state does not
  offer still rules the record out, which says where model and record disagree.
- **Casualties.** A casualty side of the scenario is read from the record's column
  `deaths_<side in lower case>` when it exists, or from the column `deaths` maps it to (several
  sides may share one column: their deaths add up). A count is conditioned on only when every event
  merged into the move reports it; an empty cell means not reported (summed over). A reported death
  of a side that the executed act cannot cause is listed in `Record.unmodelled`, not conditioned on.
- **Attribution and errors** (optional columns `attributed`, `error`): conditioned on when given,
  summed over when empty.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crisislab.data import DataError, DataProblem
from crisislab.errors import UserError
from crisislab.model import CasualtyTable, ErrorEvent, Model

__all__ = ["Candidate", "Record", "observe", "record_from_moves", "side_columns"]

NOTHING = -1
"""`Candidate.action` of an environment actor that did nothing."""


@dataclass(frozen=True)
class Candidate:
    """One move the record allows at (round, mover), with the chance results it observes.

    `action`: global action index (`NOTHING` for an environment actor that did nothing).
    `casualties`: `((column, count), ...)`, the deaths observed in the record's column `column`
    (an index into `Record.columns`) for this move. `attributed`: None (not observed) or whether the
    act was attributed. `error`: None (not observed), "none", or the id of the error that happened.
    `lines`: the record's lines this move stands for. `fallbacks`: the moves to read instead, in
    order, in a state where the model does not offer `action` (a repeated one-time step; see the
    module's rules); empty otherwise.
    """

    action: int
    casualties: tuple[tuple[int, int], ...] = ()
    attributed: bool | None = None
    error: str | None = None
    lines: tuple[int, ...] = ()
    fallbacks: tuple[Candidate, ...] = ()


@dataclass(frozen=True)
class Record:
    """An observed record of one scenario, as the likelihood reads it (see the module docstring).

    `moves[r - 1][m]`: None (mover m not observed) or the candidates at round r. `columns`: the
    casualty columns the record observes; `side_column[s]`: the column index of model side s, or -1.
    `observed[m]`: whether mover m is observed. `events`: the events used (one row per event, with
    `round`, `actor`, `action`, `line`, ...). `unmodelled`: reported deaths that no act of the model
    can cause, as (line, column, count). `source`: the file (or a description). `end`: None (the
    crisis was still going when the record ends) or (round, mover index, outcome index): the move
    after which the crisis ended with that outcome (a simulated record that ended, for example).
    """

    scenario_id: str
    rounds: int
    moves: tuple[tuple[tuple[Candidate, ...] | None, ...], ...]
    columns: tuple[str, ...]
    side_column: tuple[int, ...]
    observed: tuple[bool, ...]
    source: str = ""
    events: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False)
    unmodelled: tuple[tuple[int, str, int], ...] = ()
    end: tuple[int, int, int] | None = None

    @property
    def n_observed_moves(self) -> int:
        """Moves the record observes (round × observed mover)."""
        return sum(c is not None for row in self.moves for c in row)

    def truncated(self, rounds: int) -> Record:
        """The record of rounds 1 … `rounds` only."""
        rounds = int(min(max(rounds, 0), self.rounds))
        ev = self.events[self.events["round"] <= rounds] if "round" in self.events.columns else self.events
        return Record(self.scenario_id, rounds, self.moves[:rounds], self.columns, self.side_column, self.observed,
                      self.source, ev, tuple(u for u in self.unmodelled if u[0] <= rounds))


def side_columns(model: Model, available: Iterable[str], deaths: Mapping[str, str] | None = None) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The casualty columns read and each model side's column index (-1: not read).

    `deaths`: side id → column, overriding the default `deaths_<side in lower case>`.
    """
    available = list(available)
    deaths = dict(deaths or {})
    bad = sorted(set(deaths) - set(model.sides))
    if bad:
        raise UserError(f"deaths: {', '.join(map(repr, bad))} is not a casualty side of scenario {model.scenario_id} "
                        f"(expected one of {', '.join(model.sides)})")
    columns: list[str] = []
    out = []
    for side in model.sides:
        col = deaths.get(side, f"deaths_{side.lower()}")
        if col not in available:
            if side in deaths:
                raise UserError(f"deaths: column {col!r} for side {side} is not in the record "
                                f"(expected one of {', '.join(c for c in available if c.startswith('deaths'))})")
            out.append(-1)
            continue
        if col not in columns:
            columns.append(col)
        out.append(columns.index(col))
    return tuple(columns), tuple(out)


def _sides_caused(model: Model, g: int, seen: frozenset[int] = frozenset()) -> set[int]:
    """The sides whose deaths action g can cause (through errors and `becomes` too)."""
    act = model.actions[g]
    out: set[int] = set()
    for _, item in (*act.becomes_errors, *act.other_consequences):
        if isinstance(item, CasualtyTable):
            out.add(item.side)
        elif isinstance(item, ErrorEvent):
            out.update(c.side for c in item.casualties)
            if item.becomes >= 0 and item.becomes not in seen:
                out |= _sides_caused(model, item.becomes, seen | {g})
    return out


def _round_of(model: Model, day: Any) -> int:
    if model.round_starts is None:  # a model built without the calendar's round starts
        start = _dt.date.fromisoformat(str(model.calendar_start))
        return (pd.Timestamp(day).date() - start).days // int(model.days_per_round or 1) + 1
    return model.round_of_date(pd.Timestamp(day).date())


def until_round(model: Model, until: Any) -> int:
    """The last round of a record cut at `until` (an ISO date within the calendar, or a round)."""
    if isinstance(until, int | np.integer) and not isinstance(until, bool):
        r = int(until)
    else:
        if model.calendar_start is None:
            raise UserError(f"until: scenario {model.scenario_id} has no calendar; give a round number (got {until!r})")
        try:
            r = _round_of(model, _dt.date.fromisoformat(str(until)))
        except ValueError:
            raise UserError(f"until: not a date (got {until!r}; expected YYYY-MM-DD or a round number)") from None
    if not 1 <= r <= model.horizon:
        raise UserError(f"until: {until!r} is round {r}, outside the scenario's rounds (expected 1 … {model.horizon})")
    return r


def observe(
    model: Model,
    events: pd.DataFrame,
    *,
    unobserved: Iterable[str] = (),
    observed: Iterable[str] = (),
    deaths: Mapping[str, str] | None = None,
    until: Any = None,
    source: str = "",
) -> Record:
    """The `Record` of an event table (`crisislab.data.load_timeline`'s frame, or any table with
    `round`, `actor`, `action` and optionally `line`, `uncertain`, `deaths_*`, `attributed`,
    `error`), read by the rules of the module docstring. Problems are a `DataError` with the
    record's lines."""
    source = source or str(events.attrs.get("source", "record"))
    ev = events.copy()
    if "line" not in ev.columns:
        ev["line"] = np.arange(2, len(ev) + 2)
    if "uncertain" not in ev.columns:
        ev["uncertain"] = False
    if "round" not in ev.columns:
        if "date" not in ev.columns or model.calendar_start is None:
            raise UserError(f"{source}: a record needs a `round` column, or `date` with a scenario calendar")
        ev["round"] = [_round_of(model, d) for d in ev["date"]]
    mover_index = {mv.id: m for m, mv in enumerate(model.movers)}
    action_index = {a.id: i for i, a in enumerate(model.actions)}
    unobserved, observed = set(unobserved), set(observed)
    for name, given in (("unobserved", unobserved), ("observed", observed)):
        bad = sorted(given - set(mover_index))
        if bad:
            raise UserError(f"{name}: {', '.join(map(repr, bad))} is not an actor of scenario {model.scenario_id} "
                            f"(expected one of {', '.join(mover_index)})")
    problems: list[DataProblem] = []
    for row in ev.itertuples(index=False):
        line = int(row.line)
        if row.actor not in mover_index:
            problems.append(DataProblem(source, line, "actor", "not an actor of the scenario", repr(row.actor),
                                        f"one of {', '.join(mover_index)}"))
            continue
        if row.action not in action_index:
            problems.append(DataProblem(source, line, "action", "not an action of the scenario", repr(row.action),
                                        f"an action of {row.actor}"))
            continue
        mv = model.movers[mover_index[row.actor]]
        g = action_index[row.action]
        if g not in set(int(x) for x in mv.actions):
            problems.append(DataProblem(source, line, "action", f"not an action of {row.actor}", repr(row.action),
                                        f"one of {', '.join(model.actions[int(x)].id for x in mv.actions)}"))
        elif mv.strategic < 0 and all(rule.action != g for rule in mv.env_rules):
            problems.append(DataProblem(source, line, "action", f"the model gives {row.actor} no rule that plays this act",
                                        repr(row.action), f"an act of a rule of {row.actor}: "
                                        f"{', '.join(sorted({model.actions[r.action].id for r in mv.env_rules}))}"))
        if not 1 <= int(row.round) <= model.horizon:
            problems.append(DataProblem(source, line, "round", "outside the scenario's rounds", str(int(row.round)),
                                        f"1 … {model.horizon}"))
    if problems:
        raise DataError(problems)
    if ev.empty:
        raise DataError([DataProblem(source, None, "row", "no events", expected="at least one event")])
    last = int(ev["round"].max()) if until is None else until_round(model, until)
    ev = ev[ev["round"] <= last].sort_values(["round", "line"], kind="stable")
    columns, side_col = side_columns(model, [c for c in events.columns if str(c).startswith("deaths")], deaths)
    is_obs = tuple((mv.id in set(ev["actor"]) or mv.id in observed) and mv.id not in unobserved for mv in model.movers)
    by_key = {k: g for k, g in ev.groupby(["round", "actor"], sort=False)}
    unmodelled: list[tuple[int, str, int]] = []
    moves = []
    taken: list[set[int]] = [set() for _ in model.movers]  # each mover's certain moves in earlier rounds
    for r in range(1, last + 1):
        row_moves: list[tuple[Candidate, ...] | None] = []
        for m, mv in enumerate(model.movers):
            if not is_obs[m]:
                row_moves.append(None)
                continue
            grp = by_key.get((r, mv.id))
            cands = _candidates(model, mv, grp, columns, side_col, unmodelled, taken[m])
            row_moves.append(cands)
            if grp is not None and not grp["uncertain"].astype(bool).all():
                taken[m].add(cands[0].action)
        moves.append(tuple(row_moves))
    return Record(model.scenario_id, last, tuple(moves), columns, side_col, is_obs, source,
                  ev.reset_index(drop=True), tuple(unmodelled))


def _default_move(model: Model, mv: Any) -> int:
    if mv.strategic < 0:
        return NOTHING
    for g in mv.actions:
        if model.actions[int(g)].default:
            return int(g)
    return int(mv.actions[0])


def _rung(model: Model, g: int) -> float:
    return -np.inf if g == NOTHING else model.actions[g].rung


def _counts(model: Model, g: int, rows: list[Any], columns: tuple[str, ...], side_col: tuple[int, ...],
            unmodelled: list[tuple[int, str, int]]) -> tuple[tuple[int, int], ...]:
    """Observed deaths per column for act g standing for the events `rows` (all must report)."""
    if g == NOTHING:
        return ()
    caused = {side_col[s] for s in _sides_caused(model, g) if side_col[s] >= 0}
    out = []
    for c, col in enumerate(columns):
        vals = [getattr(row, col) for row in rows]
        if any(v is pd.NA or v is None or (isinstance(v, float) and np.isnan(v)) for v in vals):
            continue
        total = int(sum(int(v) for v in vals))
        if c in caused:
            out.append((c, total))
        elif total > 0:
            unmodelled.extend((int(row.line), col, int(getattr(row, col))) for row in rows if int(getattr(row, col)) > 0)
    return tuple(out)


def _flag(row: Any, name: str) -> Any:
    v = getattr(row, name, None)
    return None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v


def _candidates(model: Model, mv: Any, grp: pd.DataFrame | None, columns: tuple[str, ...], side_col: tuple[int, ...],
                unmodelled: list[tuple[int, str, int]], taken: set[int] = frozenset()) -> tuple[Candidate, ...]:
    default = _default_move(model, mv)
    if grp is None or grp.empty:
        return (Candidate(default),)
    rows = list(grp.itertuples(index=False))
    action_index = {a.id: i for i, a in enumerate(model.actions)}
    certain = [row for row in rows if not bool(row.uncertain)]
    unsure = [row for row in rows if bool(row.uncertain)]
    if certain:
        best = max(range(len(certain)), key=lambda i: (_rung(model, action_index[certain[i].action]), -i))
        top = certain[best]
        g0 = action_index[top.action]
        lines = tuple(int(row.line) for row in certain)
        fallbacks: tuple[Candidate, ...] = ()
        if g0 in taken and mv.strategic >= 0:
            # a repeat: the other certain events by rung (first in the file on equal rungs), then the default
            order = sorted(range(len(certain)), key=lambda i: (-_rung(model, action_index[certain[i].action]), i))
            chain = list(dict.fromkeys([*(action_index[certain[i].action] for i in order), default]))[1:]
            fallbacks = tuple(Candidate(g, _counts(model, g, certain, columns, side_col, []), None, None, lines)
                              for g in chain if g != g0)
        base = Candidate(g0, _counts(model, g0, certain, columns, side_col, unmodelled), _flag(top, "attributed"),
                         _flag(top, "error"), lines, fallbacks)
    else:
        base = Candidate(default)
    out = [base]
    seen = {base.action}
    for row in unsure:
        g = action_index[row.action]
        if _rung(model, g) <= _rung(model, base.action) or g in seen:
            continue
        seen.add(g)
        out.append(Candidate(g, _counts(model, g, [*certain, row], columns, side_col, unmodelled), _flag(row, "attributed"),
                             _flag(row, "error"), tuple(int(x.line) for x in [*certain, row])))
    return tuple(out)


def record_from_moves(model: Model, moves: Any, *, columns: tuple[str, ...] = (), side_column: tuple[int, ...] | None = None,
                      source: str = "simulated", end: tuple[int, int, int] | None = None) -> Record:
    """A `Record` from explicit candidates (`moves[r][m]`: None or a tuple of `Candidate`), e.g.
    a simulated record; `side_column` defaults to no casualty column."""
    moves = tuple(tuple(None if c is None else tuple(c) for c in row) for row in moves)
    observed = tuple(any(row[m] is not None for row in moves) for m in range(len(model.movers)))
    sc = side_column if side_column is not None else tuple(-1 for _ in model.sides)
    return Record(model.scenario_id, len(moves), moves, tuple(columns), tuple(sc), observed, source, end=end)
