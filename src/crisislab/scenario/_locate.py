"""The loaded YAML tree: locations, plain copies, and pydantic errors as `Problem`s.

A pydantic-style location (a tuple of field names and list indices, as pydantic and the checks
report them) is walked through the tree the YAML was loaded into to find its line and to name it by
id (`actors.US.types.resolute.prior` rather than `actors[0].types[1]`). Used by the loader, the
checks of implied scenarios (`_derived`) and the overrides (`_paths`); it needs only the models.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, RootModel
from ruamel.yaml.comments import CommentedBase, TaggedScalar

from crisislab.scenario._errors import Problem
from crisislab.scenario._models import ALL_TYPES, SYNTHETIC_PREFIX, ScenarioModel

__all__ = ["describe", "is_synthetic", "locate", "plain", "pydantic_errors", "pydantic_problem"]


# --------------------------------------------------------------------------------------------
# Locations: pydantic-style loc -> (line, id-addressed path)
# --------------------------------------------------------------------------------------------


def is_synthetic(seg: Any) -> bool:
    return isinstance(seg, str) and (seg.startswith(SYNTHETIC_PREFIX) or seg in (ALL_TYPES, "[key]"))


def _item_label(list_key: Any, item: Any, index: int) -> str:
    """How a list item is named in a field path: its id, `holder.about` for perceptions, or its index."""
    if isinstance(item, dict):
        ident = item.get("id")
        if isinstance(ident, str) and ident:
            return ident
        if list_key == "perceptions":
            holder, about = item.get("holder"), item.get("about")
            if isinstance(holder, str) and isinstance(about, str):
                return f"{holder}.{about}"
    return str(index)


def _key_line(node: Any, key: Any) -> int | None:
    if isinstance(node, CommentedBase):
        try:
            return node.lc.key(key)[0] + 1
        except (KeyError, TypeError, AttributeError, IndexError):
            return None
    return None


def _item_line(node: Any, index: int) -> int | None:
    if isinstance(node, CommentedBase):
        try:
            return node.lc.item(index)[0] + 1
        except (KeyError, TypeError, AttributeError, IndexError):
            return None
    return None


def locate(tree: Any, loc: tuple[Any, ...]) -> tuple[int | None, str]:
    """Line (1-based, None if unknown) and id-addressed field path of `loc` in `tree`.

    `tree` is the loaded YAML (ruamel nodes carry lines; plain data gives None). Segments that are
    not in the file (a missing field) are still named in the path; the line is then that of the
    nearest parent that exists.
    """
    node: Any = tree
    present = True
    line: int | None = 1 if isinstance(tree, CommentedBase) else None
    parts: list[str] = []
    parent_key: Any = None
    for seg in loc:
        if is_synthetic(seg):
            continue
        if present and isinstance(node, dict) and not isinstance(seg, int) and seg in node:
            line = _key_line(node, seg) or line
            parts.append(str(seg))
            parent_key, node = seg, node[seg]
        elif present and isinstance(node, dict) and isinstance(seg, int) and seg in node:
            line = _key_line(node, seg) or line
            parts.append(str(seg))
            parent_key, node = seg, node[seg]
        elif present and isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node):
            line = _item_line(node, seg) or line
            parts.append(_item_label(parent_key, node[seg], seg))
            parent_key, node = seg, node[seg]
        elif present and seg == "value" and not isinstance(node, dict | list):
            continue  # a plain number written for a {value: ...} field: the number is the value
        else:
            present = False
            parts.append(str(seg))
    return line, ".".join(parts)


# --------------------------------------------------------------------------------------------
# Describing values and types in messages
# --------------------------------------------------------------------------------------------


def describe(value: Any, limit: int = 60) -> str:
    """A short, YAML-flavoured rendering of a bad value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) >= 10**30:
        # repr of an int beyond 4,300 digits raises ValueError (sys.get_int_max_str_digits)
        return f"{'-' if value < 0 else ''}an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= limit else text[: limit - 4] + "...'"
    if isinstance(value, dict):
        keys = ", ".join(str(k) for k in list(value)[:8])
        more = ", ..." if len(value) > 8 else ""
        return f"a mapping {{{keys}{more}}}"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return type(value).__name__


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional from a type."""
    while True:
        origin = get_origin(tp)
        if origin is not None and getattr(tp, "__metadata__", None) is not None:
            tp = get_args(tp)[0]
            continue
        if origin is Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


def _union_member(tp: Any, tag: str) -> Any:
    for arg in get_args(tp):
        for meta in getattr(arg, "__metadata__", ()):
            if getattr(meta, "tag", None) == tag:
                return get_args(arg)[0]
    return None


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class at `loc` inside a Scenario (best effort; None if it cannot be told)."""
    tp: Any = ScenarioModel
    for seg in loc:
        tp = _unwrap(tp)
        if isinstance(seg, str) and seg.startswith(SYNTHETIC_PREFIX):
            tp = _union_member(tp, seg)
            if tp is None:
                return None
            continue
        if isinstance(tp, type) and issubclass(tp, RootModel):
            tp = tp.model_fields["root"].annotation
            tp = _unwrap(tp)
            if seg == ALL_TYPES or get_origin(tp) is dict:
                tp = get_args(tp)[1]
                continue
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = next(
                (f for n, f in tp.model_fields.items() if (f.alias or n) == seg or n == seg), None
            )
            if field is None:
                return None
            tp = field.annotation
            continue
        origin = get_origin(tp)
        if origin is tuple or origin is list:
            tp = get_args(tp)[0]
        elif origin is dict:
            tp = get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _field_names(model: type[BaseModel]) -> list[str]:
    names = [f.alias or n for n, f in model.model_fields.items()]
    # provenance fields last, as they are written
    return [n for n in names if n not in ("source", "assumption")] + [n for n in names if n in ("source", "assumption")]


_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string (quote it)",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "dict_type": "a mapping",
    "tuple_type": "a list",
    "list_type": "a list",
    "date_type": "a date (YYYY-MM-DD)",
    "date_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
}


def pydantic_errors(exc: Any) -> list[dict[str, Any]]:
    """The errors of a pydantic `ValidationError`, without the "too few items" of a list whose own
    items are wrong: pydantic counts only the items that validated, so a list of one bad item would
    also read "too few items (got a list of 1 item; expected at least 1)"."""
    errs = exc.errors(include_url=False)

    def inside(outer: tuple[Any, ...], e: dict[str, Any]) -> bool:
        return len(e["loc"]) > len(outer) and tuple(e["loc"][: len(outer)]) == outer

    return [e for e in errs if not (e["type"] == "too_short" and any(inside(tuple(e["loc"]), o) for o in errs))]


def pydantic_problem(err: dict[str, Any], tree: Any, filename: str) -> Problem:
    kind = err["type"]
    loc = tuple(err["loc"])
    value = err.get("input")
    ctx = err.get("ctx") or {}
    got: str | None = describe(value)
    expected: str | None = None
    message = err["msg"]

    if kind == "missing":
        message, got = "required field is missing", None
        model = _model_at(loc[:-1])
        if model is not None:
            field = next(
                (f for n, f in model.model_fields.items() if (f.alias or n) == loc[-1]), None
            )
            if field is not None and field.description:
                expected = field.description
    elif kind == "extra_forbidden":
        message = f"unknown field {describe(loc[-1])}"
        got = None
        model = _model_at(loc[:-1])
        if model is not None:
            expected = "one of " + ", ".join(_field_names(model))
    elif kind == "literal_error":
        message = "invalid value"
        expected = "one of " + str(ctx.get("expected", "")).replace("'", "")
    elif kind == "consequence_kind":
        message = "unknown consequence kind"
        loc = loc + ("kind",)
        got = describe(value.get("kind")) if isinstance(value, dict) else describe(value)
        expected = "one of casualties, error, attribution"
    elif kind in ("condition_shape", "intervention_shape"):
        message = err["msg"]
        keys = {
            "condition_shape": "exactly one of var, round, all, any, not, red_line",
            "intervention_shape": "exactly one of force, forbid, set",
        }[kind]
        expected = keys
        message = "not a valid condition" if kind == "condition_shape" else "not a valid intervention"
    elif kind in _TYPE_WORDS:
        message = "wrong type"
        expected = _TYPE_WORDS[kind]
    elif kind == "string_pattern_mismatch":
        message = "not a valid id"
        expected = "a letter followed by letters, digits, _ or -"
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        message = "out of range"
        sym = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()), "")
        expected = f"{sym} {bound}"
    elif kind in ("too_short", "too_long"):
        message = "too few items" if kind == "too_short" else "too many items"
        if "min_length" in ctx and kind == "too_short":
            expected = f"at least {ctx['min_length']}"
        if "max_length" in ctx and kind == "too_long":
            expected = f"at most {ctx['max_length']}"
    elif kind == "value_error":
        message = str(ctx.get("error", message))
        if isinstance(value, dict):
            got = None
        if message.startswith("expected "):
            message, expected = "wrong type", message.removeprefix("expected ")
    elif kind in ("integer_range", "number_range"):
        message = "out of range"
        what = "an integer" if kind == "integer_range" else "a number"
        expected = f"{what} within {ctx.get('bound')}"
    elif kind == "finite_number":
        message = "not a finite number"
        expected = "a finite number"
    line, path = locate(tree, loc)
    return Problem(filename, line, path, message, got, expected)


# --------------------------------------------------------------------------------------------
# YAML -> plain data
# --------------------------------------------------------------------------------------------


def plain(node: Any) -> Any:
    """Copy a ruamel tree into plain dicts, lists, str, int, float, bool, date, None."""
    if isinstance(node, dict):
        return {_plain_key(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, _dt.datetime):
        return _dt.datetime(node.year, node.month, node.day, node.hour, node.minute, node.second)
    if isinstance(node, _dt.date):
        return _dt.date(node.year, node.month, node.day)
    if isinstance(node, TaggedScalar):
        return f"{node.tag.value} {node.value}"
    return repr(node)


def _plain_key(key: Any) -> Any:
    if isinstance(key, (str, int, bool)) or key is None:
        return plain(key)
    return str(key)
