"""Read an observed event timeline (CSV) and check it against a scenario.

A timeline is what happened, coded in a scenario's vocabulary: one row per event with the acting
actor, the scenario action it is coded as, its CAMEO code and Goldstein intensity, casualties by
nationality and the outlet that reported it (columns in `data/README.md`). `load_timeline` checks
every row (the action exists and belongs to that actor, dates parse and fall inside the scenario's
calendar, numbers are non-negative, intensities match the Goldstein table) and reports every
problem at once, so that a hand-written file can be fixed in one pass. It is the input of the
simulator's timeline replay and of later estimation.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import re
from typing import Any

import pandas as pd

from crisislab.data._errors import DataError, DataProblem

__all__ = ["MAX_COUNT", "MAX_TIMELINE_BYTES", "OPTIONAL_COLUMNS", "TIMELINE_COLUMNS", "load_timeline"]

TIMELINE_COLUMNS: tuple[str, ...] = (
    "date",
    "actor",
    "target",
    "action",
    "cameo",
    "intensity",
    "deaths_us",
    "deaths_iran",
    "deaths_iraqi",
    "deaths_other",
    "wounded",
    "outlet",
    "reference",
    "uncertain",
    "note",
)
"""The columns of a timeline file, in the order the returned DataFrame has them (order in the file is free)."""

OPTIONAL_COLUMNS: tuple[str, ...] = ("attributed", "error")
"""Columns a timeline may add, for chance results the record observes: `attributed` (0/1, or
empty: not known) says whether an act with an `attribution` consequence was blamed on its actor;
`error` names the operational error (an `error` consequence's id) that happened in the act, or
`none` when it is known that none did (empty: not known)."""

COUNT_COLUMNS: tuple[str, ...] = ("deaths_us", "deaths_iran", "deaths_iraqi", "deaths_other", "wounded")
_REQUIRED_TEXT: tuple[str, ...] = ("target", "outlet", "reference")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CAMEO_RE = re.compile(r"^\d{2,4}$")
_COUNT_RE = re.compile(r"^\d+$")
_INTENSITY_TOL = 1e-9  # the file repeats the table's value; only typing slips should differ
# Limits (each a located error): the file is read whole (16 MiB is a hundred thousand events and
# 2,500 times the bundled timeline); a count is stored as Int64 (limit 2**63 - 1) and no event has
# killed or wounded a billion people, so a larger count is a typing slip.
MAX_TIMELINE_BYTES = 16 << 20
MAX_COUNT = 10**9


def _short(value: str, limit: int = 60) -> str:
    text = value if len(value) <= limit else value[: limit - 1] + "…"
    return repr(text)


def _as_scenario(scenario: Any) -> Any:
    """Accept a `Scenario` or a path to a scenario file (loaded and validated)."""
    if isinstance(scenario, (str, os.PathLike)):
        from crisislab.scenario import load_scenario

        return load_scenario(scenario)
    return scenario


def _goldstein_by_code() -> dict[str, float]:
    from crisislab.data._scales import scale

    table = scale("goldstein")
    return dict(zip(table["code"].astype(str), table["goldstein"].astype(float), strict=True))


def load_timeline(path: str | os.PathLike[str], scenario: Any) -> pd.DataFrame:
    """Read the timeline CSV at `path`, check each row against `scenario`, return it typed.

    `scenario` is a `crisislab.scenario.Scenario` or the path of a scenario file; it must have a
    `calendar` (a scenario without one reads a `round` column, 1 … horizon, instead of `date`). Returns a DataFrame with one row per event and columns
    `TIMELINE_COLUMNS` plus `round` (int64: the 1-based scenario round of `date`) and `line`
    (int64: the event's line in the file), in time order (rows of one date in file order). Dtypes: `date` datetime64[ns]; `actor`, `target`,
    `action`, `cameo`, `outlet`, `reference`, `note` string (`cameo` <NA> when empty);
    `intensity` float64; casualty counts Int64 (<NA> = not reported); `uncertain` bool.
    `df.attrs` records `source` (the path) and `scenario` (the scenario id).

    Every problem in the file is collected and raised together as one `DataError`, one line each:
    `FILE:LINE: column: message (got X; expected Y)`.
    """
    scn = _as_scenario(scenario)
    fname = str(path)
    problems: list[DataProblem] = []

    def problem(line: int | None, column: str, message: str, got: str | None = None,
                expected: str | None = None) -> None:
        problems.append(DataProblem(fname, line, column, message, got, expected))

    calendar = getattr(scn, "calendar", None)
    reader = csv.reader(read_text(path, fname).splitlines(keepends=True))
    try:
        return _check_rows(reader, fname, scn, calendar, problems, problem)
    except csv.Error as exc:  # a field over csv's size limit, a NUL byte, ...
        line = reader.line_num or 1
        raise DataError([*problems, DataProblem(fname, line, "file", f"not a readable CSV file: {exc}",
                                                expected="a comma-separated file as described in data/README.md")]) from None


def read_text(path: str | os.PathLike[str], fname: str) -> str:
    """The UTF-8 text of a data file of at most MAX_TIMELINE_BYTES; DataError (file) otherwise."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_TIMELINE_BYTES + 1)
        if len(raw) > MAX_TIMELINE_BYTES:
            raise DataError([DataProblem(fname, None, "file", "file too large", got=f"more than {MAX_TIMELINE_BYTES:,} bytes",
                                         expected=f"at most {MAX_TIMELINE_BYTES:,} bytes")])
        return raw.decode("utf-8-sig")  # a byte-order mark (Excel's "CSV UTF-8") is not part of the text
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError([DataProblem(fname, None, "file", "no such file")]) from None
    except IsADirectoryError:
        raise DataError([DataProblem(fname, None, "file", "is a directory", expected="a timeline CSV file")]) from None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError([DataProblem(fname, line, "file", "not UTF-8 text", got=str(exc.reason),
                                     expected="a UTF-8 CSV file")]) from None
    except OSError as exc:
        raise DataError([DataProblem(fname, None, "file", f"cannot read the file: {exc.strerror or exc}")]) from None
    except ValueError as exc:  # e.g. a NUL character in the path
        raise DataError([DataProblem(fname, None, "file", f"cannot open the file: {exc}")]) from None


def _check_rows(reader: Any, fname: str, scn: Any, calendar: Any, problems: list[DataProblem], problem: Any) -> pd.DataFrame:
    header = next(reader, None)
    if header is None:
        raise DataError([DataProblem(fname, 1, "header", "the file is empty",
                                     expected=f"a header line with {', '.join(TIMELINE_COLUMNS)}")])
    header = [h.strip() for h in header]
    if len(header) == 1:
        for sep in (";", "\t", "|"):
            if sep in header[0]:
                name = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}[sep]
                raise DataError([DataProblem(fname, 1, "header", f"the columns are separated by {name}",
                                             got=_short(header[0]), expected="a comma-separated file (CSV)")])
    # A scenario without a calendar counts in rounds: its records give `round` instead of `date`.
    time_col = "date" if calendar is not None else "round"
    required = [time_col if c == "date" else c for c in TIMELINE_COLUMNS]
    if calendar is None and "date" in header:
        raise DataError([DataProblem(fname, 1, "date", f"scenario {scn.id!r} has no calendar, so dates cannot be mapped to rounds",
                                     expected="a `round` column (1 … horizon) instead of `date`, or a scenario with "
                                              "`calendar: {start, days_per_round}`")])
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in required and c not in OPTIONAL_COLUMNS]
    for c in missing:
        problem(1, c, "missing column", expected=f"a header with {', '.join(required)}")
    for c in unknown:
        problem(1, c, "unknown column", got=repr(c),
                expected=f"one of {', '.join(TIMELINE_COLUMNS)} (optional: {', '.join(OPTIONAL_COLUMNS)})")
    dupes = sorted({c for c in header if header.count(c) > 1})
    for c in dupes:
        problem(1, c, "column given more than once")
    if missing or dupes:
        raise DataError(problems)
    index = {c: header.index(c) for c in (*required, *OPTIONAL_COLUMNS) if c in header}
    optional = [c for c in OPTIONAL_COLUMNS if c in header]

    actors = tuple(scn.strategic_ids) + tuple(scn.environment_ids)
    actions = {a.id: a for a in scn.actions}
    goldstein = _goldstein_by_code()
    horizon = scn.horizon
    if calendar is not None:
        start = calendar.start
        last_day = start + dt.timedelta(days=sum(calendar.round_days(horizon)) - 1)

    records: list[dict[str, Any]] = []
    prev_end = 1  # csv's line_num after the header; a record starts on the next physical line
    for row in reader:
        line = prev_end + 1
        prev_end = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines are allowed (e.g. a trailing newline)
        if len(row) != len(header):
            problem(line, "row", f"row has {len(row)} fields", got=str(len(row)),
                    expected=f"{len(header)} fields, as in the header")
            continue
        cell = {c: row[i].strip() for c, i in index.items()}
        rec: dict[str, Any] = {"line": line}

        # date and round
        if calendar is None:
            raw = cell["round"]
            r = int(raw) if raw.isdigit() and len(raw) <= 6 else None
            if r is None or not 1 <= r <= horizon:
                problem(line, "round", "not a round of the scenario", got=_short(raw), expected=f"an integer 1 … {horizon}")
            rec["date"], rec["round"] = None, r
        raw = cell.get("date", "")
        day: dt.date | None = None
        if _DATE_RE.match(raw):
            try:
                day = dt.date.fromisoformat(raw)
            except ValueError:
                day = None
        if calendar is None:
            pass
        elif day is None:
            problem(line, "date", "not a date", got=_short(raw), expected="YYYY-MM-DD")
        elif day < start or day > last_day:
            problem(line, "date", "outside the scenario calendar", got=repr(raw),
                    expected=f"{start.isoformat()} … {last_day.isoformat()} (rounds 1 … {horizon})")
        if calendar is not None:
            rec["date"] = day
            rec["round"] = calendar.round_of(day) if day is not None else None

        # actor and action
        actor = cell["actor"]
        if actor not in actors:
            problem(line, "actor", "unknown actor", got=_short(actor),
                    expected=f"an actor of scenario {scn.id}: {', '.join(actors)}")
        action = cell["action"]
        if action not in actions:
            own = [a.id for a in scn.actions if a.actor == actor]
            expected = (f"an action of {actor}: {', '.join(own)}" if own
                        else f"an action id of scenario {scn.id}")
            problem(line, "action", "unknown action", got=_short(action), expected=expected)
        elif actor in actors and actions[action].actor != actor:
            own = [a.id for a in scn.actions if a.actor == actor]
            problem(line, "action", f"action belongs to {actions[action].actor}, not to {actor}",
                    got=repr(action), expected=f"an action of {actor}: {', '.join(own)}")
        rec["actor"], rec["action"] = actor, action

        # cameo and intensity
        cameo = cell["cameo"]
        if cameo and not _CAMEO_RE.match(cameo):
            problem(line, "cameo", "not a CAMEO code", got=_short(cameo),
                    expected="2 to 4 digits (leading zeros kept) or empty")
        elif cameo and not 1 <= int(cameo[:2]) <= 20:
            problem(line, "cameo", "not a CAMEO code", got=_short(cameo),
                    expected="a code whose first two digits are a CAMEO event root, 01 … 20")
        rec["cameo"] = cameo or None
        raw = cell["intensity"]
        try:
            intensity = float(raw)
            if not math.isfinite(intensity):
                raise ValueError
        except ValueError:
            problem(line, "intensity", "not a number", got=_short(raw), expected="a Goldstein score in -10 … 10")
            intensity = math.nan
        else:
            if not -10.0 <= intensity <= 10.0:
                problem(line, "intensity", "outside the Goldstein scale", got=raw, expected="-10 … 10")
            elif cameo in goldstein and abs(intensity - goldstein[cameo]) > _INTENSITY_TOL:
                problem(line, "intensity", f"does not match the Goldstein score of CAMEO {cameo}",
                        got=raw, expected=f"{goldstein[cameo]}")
        rec["intensity"] = intensity

        # counts
        for c in COUNT_COLUMNS:
            raw = cell[c]
            if raw == "":
                rec[c] = None
            elif _COUNT_RE.match(raw) and len(raw.lstrip("0")) <= 10 and int(raw.lstrip("0") or "0") <= MAX_COUNT:
                rec[c] = int(raw.lstrip("0") or "0")  # int() refuses 4,300 digits, leading zeros too
            elif _COUNT_RE.match(raw):
                problem(line, c, "count too large", got=_short(raw),
                        expected=f"an integer from 0 to {MAX_COUNT:,}, or empty if not reported")
                rec[c] = None
            else:
                problem(line, c, "not a count", got=_short(raw), expected="an integer >= 0, or empty if not reported")
                rec[c] = None

        # text
        for c in _REQUIRED_TEXT:
            if not cell[c]:
                problem(line, c, "empty", got="''", expected="a non-empty text")
            rec[c] = cell[c]
        raw = cell["uncertain"]
        if raw not in ("0", "1"):
            problem(line, "uncertain", "not a 0/1 flag", got=_short(raw), expected="0 or 1")
        rec["uncertain"] = raw == "1"
        rec["note"] = cell["note"]
        act = actions.get(action)
        kinds = [getattr(c, "kind", None) for c in (act.consequences if act is not None else ())]
        if "attributed" in optional:
            raw = cell["attributed"]
            if raw not in ("", "0", "1"):
                problem(line, "attributed", "not a 0/1 flag", got=_short(raw), expected="0, 1 or empty (not known)")
            elif raw and act is not None and "attribution" not in kinds:
                problem(line, "attributed", f"action {action} has no attribution consequence", got=repr(raw),
                        expected="empty (only an act with `kind: attribution` can be attributed or not)")
            rec["attributed"] = None if raw not in ("0", "1") else raw == "1"
        if "error" in optional:
            raw = cell["error"]
            ids = [c.id for c in (act.consequences if act is not None else ()) if getattr(c, "kind", None) == "error"]
            if raw and raw != "none" and act is not None and raw not in ids:
                problem(line, "error", f"not an operational error of action {action}", got=_short(raw),
                        expected=f"one of {', '.join(ids)}, none, or empty" if ids else "none or empty (the action has no error consequence)")
            rec["error"] = raw or None
        records.append(rec)

    if not records and not problems:
        problem(None, "row", "no events", expected="at least one row after the header")
    if problems:
        raise DataError(problems)
    # Event exports are often sorted by actor or source: read the rows in time order (stable, so
    # rows of one date, or of one round without a calendar, keep their order in the file)
    records.sort(key=lambda r: (r["round"], r["date"] or dt.date.min))
    return _frame(records, fname, scn.id)


def _frame(records: list[dict[str, Any]], fname: str, scenario_id: str) -> pd.DataFrame:
    """Typed DataFrame of checked records (columns as documented in `load_timeline`)."""
    cols: dict[str, Any] = {
        "date": pd.to_datetime([r["date"] for r in records]).astype("datetime64[ns]"),
        "round": pd.array([r["round"] for r in records], dtype="int64"),
        "actor": pd.array([r["actor"] for r in records], dtype="string"),
        "target": pd.array([r["target"] for r in records], dtype="string"),
        "action": pd.array([r["action"] for r in records], dtype="string"),
        "cameo": pd.array([r["cameo"] for r in records], dtype="string"),
        "intensity": pd.array([r["intensity"] for r in records], dtype="float64"),
    }
    for c in COUNT_COLUMNS:
        cols[c] = pd.array([r[c] for r in records], dtype="Int64")
    for c in ("outlet", "reference"):
        cols[c] = pd.array([r[c] for r in records], dtype="string")
    cols["uncertain"] = pd.array([r["uncertain"] for r in records], dtype="bool")
    cols["note"] = pd.array([r["note"] for r in records], dtype="string")
    if records and "attributed" in records[0]:
        cols["attributed"] = pd.array([r["attributed"] for r in records], dtype="boolean")
    if records and "error" in records[0]:
        cols["error"] = pd.array([r["error"] for r in records], dtype="string")
    cols["line"] = pd.array([r["line"] for r in records], dtype="int64")
    df = pd.DataFrame(cols)
    df = df[["date", "round", *[c for c in TIMELINE_COLUMNS if c != "date"], "line",
             *[c for c in OPTIONAL_COLUMNS if c in df.columns]]]
    df.attrs["source"] = fname
    df.attrs["scenario"] = scenario_id
    return df
