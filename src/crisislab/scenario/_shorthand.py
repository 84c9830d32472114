"""Interventions in shorthand (`US:us_strike@3`, `actors.US.lam=3`) → the scenario's `Intervention` models.

The command line's `--force`, `--forbid` and `--set` and the library's `parse_interventions`
(`force=`, `forbid=`, `set=` lists) read the same shorthand. Each value is turned into the plain
data of one scenario-format intervention
(docs/scenario-format.md, "Interventions") and validated by the same pydantic model
(`crisislab.scenario.Intervention`) and the same meaning checks as a claim's interventions
(`crisislab.scenario._check.check_interventions`); a `--set` value is also applied once
(`Scenario.with_overrides`) so that an impossible value is refused before anything is solved.
Every problem is a `UserError` naming the option (`--force` on the command line, `force` in the
library), its text, the field, the bad value and what was expected.

Shorthand (docs/scenario-format.md, "Interventions on the command line", has the full grammar):

    --force ACTOR:ACTION                 at every move of ACTOR where ACTION is available
    --force ACTOR:ACTION@ROUND           at round ROUND (1-based)
    --force 'ACTOR:ACTION@when:COND'     whenever COND holds
    --forbid ACTOR:ACTION                at every move
    --forbid 'ACTOR:ACTION@when:COND'    where COND holds
    --set PATH=VALUE                     PATH as in a claim's `set` (actors.US.lam, …), VALUE a number

COND is `VAR OP INT`, `round OP INT` or `RED_LINE is STATUS`, combined with `not`, `and`, `or`
(that precedence, no parentheses), OP one of `>= <= > < == = !=` or `ge le gt lt eq ne`; or a
condition of the scenario format written as a YAML flow mapping, e.g.
`when:{any: [{var: tension, op: ge, value: 4}, {round: {op: ge, value: 10}}]}`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from crisislab.errors import UserError
from crisislab.scenario._check import check_interventions
from crisislab.scenario._errors import ScenarioError
from crisislab.scenario._locate import pydantic_problem
from crisislab.scenario._models import Intervention

__all__ = ["InterventionSyntaxError", "parse_condition", "parse_interventions", "parse_option", "parse_shorthand"]


class InterventionSyntaxError(UserError):
    """A force, forbid or set shorthand that is malformed or does not fit the scenario."""


_ID = r"[A-Za-z][A-Za-z0-9_-]*"
_OPS = {">=": "ge", "<=": "le", ">": "gt", "<": "lt", "==": "eq", "=": "eq", "!=": "ne",
        "ge": "ge", "le": "le", "gt": "gt", "lt": "lt", "eq": "eq", "ne": "ne"}  # fmt: skip
_COMPARE = re.compile(rf"^({_ID})\s*(>=|<=|==|!=|=|<|>|\s(?:ge|le|gt|lt|eq|ne)\s)\s*([+-]?\d+)$")
_RED_LINE = re.compile(rf"^({_ID})\s+is\s+({_ID})$")
_PHASE = re.compile(rf"^phase\s*(?:==|=)\s*({_ID})$")
_ACTOR_ACTION = re.compile(rf"^({_ID}):({_ID})$")
_CONDITION_HELP = (
    "VAR OP INT, round OP INT, phase = PHASE or RED_LINE is STATUS, joined by not/and/or (OP: >= <= > < == !=), "
    "or a YAML condition mapping such as {var: tension, op: ge, value: 4}"
)
_FORCE_HELP = "ACTOR:ACTION, ACTOR:ACTION@ROUND or ACTOR:ACTION@when:CONDITION"


def _fail(
    option: str, text: str, place: str | None, message: str, got: str | None = None, expected: str | None = None
) -> InterventionSyntaxError:
    where = f"{option} {text!r}" + (f": {place}" if place else "")
    details = ([f"got {got}"] if got is not None else []) + ([f"expected {expected}"] if expected is not None else [])
    return InterventionSyntaxError(f"{where}: {message}" + (f" ({'; '.join(details)})" if details else ""))


def parse_condition(text: str) -> dict[str, Any]:
    """A condition as the scenario format's plain data; ValueError(message) if it does not parse."""
    text = text.strip()
    if text.startswith("{"):
        return _yaml_mapping(text, "condition")
    ors = re.split(r"\s+or\s+", text)
    if len(ors) > 1:
        return {"any": [parse_condition(p) for p in ors]}
    ands = re.split(r"\s+and\s+", text)
    if len(ands) > 1:
        return {"all": [parse_condition(p) for p in ands]}
    if re.match(r"^not\s", text):
        return {"not": parse_condition(text[3:])}
    m = _COMPARE.match(text)
    if m:
        lhs, op, value = m.group(1), _OPS[m.group(2).strip()], int(m.group(3))
        if lhs == "round":
            return {"round": {"op": op, "value": value}}
        return {"var": lhs, "op": op, "value": value}
    m = _PHASE.match(text)
    if m:
        return {"phase": m.group(1)}
    m = _RED_LINE.match(text)
    if m:
        return {"red_line": m.group(1), "is": m.group(2)}
    raise ValueError(f"cannot read the condition {text!r}" if text else "empty condition")


def _force_data(text: str) -> dict[str, Any]:
    head, at, tail = text.partition("@")
    m = _ACTOR_ACTION.match(head.strip())
    if not m:
        raise ValueError(f"cannot read {head.strip()!r} as ACTOR:ACTION")
    body: dict[str, Any] = {"actor": m.group(1), "action": m.group(2)}
    if at:
        tail = tail.strip()
        if tail.startswith("when:"):
            body["when"] = parse_condition(tail[len("when:"):])
        elif re.fullmatch(r"[+-]?\d+", tail):
            body["round"] = int(tail)
        else:
            raise ValueError(f"after '@' expected a round number or when:CONDITION, not {tail!r}")
    return {"force": body}


def _set_value(text: str) -> Any:
    try:
        x = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(x):
            raise ValueError(f"{text!r} is not a finite number")
        return int(x) if re.fullmatch(r"[+-]?\d+", text.strip()) else x
    if text.strip().startswith("{"):
        return _yaml_mapping(text, "value")
    raise ValueError(f"{text!r} is not a number")


def _yaml_mapping(text: str, what: str) -> dict[str, Any]:
    """A YAML flow mapping (`{var: tension, op: ge, value: 4}`) as plain data."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise ValueError(f"the {what} is not a readable YAML mapping ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ValueError(f"the {what} is not a YAML mapping")
    return data


def parse_option(option: str, text: str) -> dict[str, Any]:
    """One option value as an intervention's plain data (not yet validated by pydantic).

    `option` is "force", "forbid" or "set" (or the same with "--"); raises InterventionSyntaxError on a malformed value.
    """
    kind = option.removeprefix("--")
    if kind not in ("force", "forbid", "set"):
        raise ValueError(f"unknown intervention option {option!r} (expected force, forbid or set)")
    try:
        if kind == "force":
            return _force_data(text)
        if kind == "forbid":
            head, at, tail = text.partition("@")
            m = _ACTOR_ACTION.match(head.strip())
            if not m:
                raise ValueError(f"cannot read {head.strip()!r} as ACTOR:ACTION")
            body: dict[str, Any] = {"actor": m.group(1), "action": m.group(2)}
            if at:
                if not tail.strip().startswith("when:"):
                    raise ValueError(f"after '@' a forbid takes when:CONDITION, not {tail.strip()!r}")
                body["when"] = parse_condition(tail.strip()[len("when:"):])
            return {"forbid": body}
        if kind == "set":
            path, eq, value = text.partition("=")
            if not eq or not path.strip():
                raise ValueError("no '=' between a field path and a value")
            return {"set": {"param": path.strip(), "value": _set_value(value.strip())}}
    except ValueError as exc:
        expected = {"force": _FORCE_HELP, "forbid": "ACTOR:ACTION or 'ACTOR:ACTION@when:CONDITION'",
                    "set": "PATH=NUMBER, e.g. actors.US.lam=3.0"}[kind]  # fmt: skip
        if kind in ("force", "forbid") and "condition" in str(exc):
            expected = _CONDITION_HELP
        raise _fail(option, text, None, str(exc), expected=expected) from None


_EXAMPLES = {"force": "US:us_strike@3", "forbid": "US:us_strike", "set": "actors.US.lam=3"}


def parse_interventions(
    scenario: Any, force: Sequence[str] | str | None = (), forbid: Sequence[str] | str | None = (),
    set: Sequence[str] | str | None = (),  # noqa: A002
) -> list[Any]:
    """Shorthand interventions → validated `Intervention` models for `scenario`: the `force` items,
    then `forbid`, then `set`, each in the given order.

    `force`: "ACTOR:ACTION" (at every move where the action is available), "ACTOR:ACTION@ROUND" or
    "ACTOR:ACTION@when:CONDITION" (docs/scenario-format.md has the grammar); `forbid`:
    "ACTOR:ACTION"; `set`: "PATH=VALUE" with PATH a parameter's field path (`actors.US.lam`).
    Every problem of every item is reported together in one `InterventionSyntaxError`.
    """
    options: list[tuple[str, str]] = []
    for kind, items in (("force", force), ("forbid", forbid), ("set", set)):
        if items is None:
            continue
        if isinstance(items, str):  # one item given on its own
            items = [items]
        if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
            raise InterventionSyntaxError(f"{kind}: expected a list of strings such as {_EXAMPLES[kind]!r} (got {items!r})")
        options += [(kind, v) for v in items]
    return parse_shorthand(scenario, options)


def parse_shorthand(scenario: Any, options: Sequence[tuple[str, str]]) -> list[Any]:
    """`(option, text)` pairs → validated `Intervention` models for `scenario`, in the given order.
    `option` is "force", "forbid" or "set", or the command line's "--force", "--forbid", "--set"
    (it names the item in error messages).

    Shape errors come from the scenario format's pydantic models, meaning errors (unknown actor,
    action, state variable, red line or field path, a round beyond the horizon) from the same
    checks as a claim's interventions, bad `--set` values from `Scenario.with_overrides`. All
    problems of all options are reported together, one line each.
    """
    adapter = TypeAdapter(Intervention)
    problems: list[str] = []
    models: list[Any] = []
    where: list[tuple[str, str]] = []
    for option, text in options:
        try:
            data = parse_option(option, text)
        except InterventionSyntaxError as exc:
            problems.append(str(exc))
            continue
        try:
            models.append(adapter.validate_python(data))
            where.append((option, text))
        except ValidationError as exc:
            for err in exc.errors():
                p = pydantic_problem(err, data, "")
                problems.append(str(_fail(option, text, p.path, p.message, p.got, p.expected)))
    for issue in check_interventions(scenario, models):
        i, *rest = issue.loc
        option, text = where[i]
        problems.append(str(_fail(option, text, ".".join(map(str, rest)), issue.message, issue.got, issue.expected)))
    sets = [(w, iv) for w, iv in zip(where, models, strict=True) if hasattr(iv, "set")]
    seen: dict[str, str] = {}
    for (option, text), iv in sets:
        if iv.set.param in seen:
            problems.append(str(_fail(option, text, "set.param", "the same parameter is set twice",
                                      repr(iv.set.param), f"one {option} per parameter (first: {seen[iv.set.param]!r})")))
        seen.setdefault(iv.set.param, text)
    if not problems and sets:
        # All sets at once, as the arm applies them (two entries of one prior interact).
        overrides = {iv.set.param: iv.set.value if not iv.set.value.is_bare else float(iv.set.value.value) for _, iv in sets}
        try:
            scenario.with_overrides(overrides)
        except ScenarioError as exc:
            def own(p: Any) -> list[tuple[str, str]]:
                return [w for w, iv in sets if p.path == iv.set.param or p.path.startswith(iv.set.param + ".")]

            # A problem at a value the user set explains the derived ones (the other entries of a
            # prior, rescaled to keep its sum 1): report only it, as `validate` does for a claim.
            direct = [p for p in exc.problems if own(p)]
            for p in direct or exc.problems:
                mine = own(p)
                option, text = mine[0] if len(mine) == 1 else (sets[0][0][0], ", ".join(t for (_, t), _ in sets))
                problems.append(str(_fail(option, text, p.path, p.message, p.got, p.expected)))
    if problems:
        raise InterventionSyntaxError("\n".join(problems))
    return models
