"""Traversals of a scenario model: every parameter (`walk_numbers`) and every source reference
(`walk_source_refs`) with its pydantic-style location (field names by alias, list indices).

Shared by the checks (`_check`), the overrides (`_paths`) and the derived checks (`_derived`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from crisislab.scenario._models import Claim, Param, ProbTable, TypeValues

__all__ = ["Loc", "walk_numbers", "walk_source_refs"]

Loc = tuple[Any, ...]




def walk_numbers(obj: Any, loc: Loc = (), inherited: bool = False) -> Iterator[tuple[Loc, Any, bool]]:
    """Yield (loc, Param | ProbTable, has_provenance) for every model parameter inside `obj`.

    `has_provenance` is True if the number itself or its nearest enclosing object with a
    `source`/`assumption` states one (docs/scenario-format.md, "Numbers carry their provenance").
    Claims are skipped: their numbers are intervention values and thresholds, sourced by `seed`.
    """
    if isinstance(obj, Param):
        yield loc, obj, inherited or obj.has_provenance
        return
    if isinstance(obj, ProbTable):
        yield loc, obj, inherited or obj.has_provenance
        return
    if isinstance(obj, TypeValues):
        for key, param in obj.root.items():
            yield from walk_numbers(param, loc + (key,), inherited)
        return
    if isinstance(obj, Claim):
        return
    if isinstance(obj, BaseModel):
        here = inherited or bool(getattr(obj, "source", None)) or bool(getattr(obj, "assumption", None))
        for name, field in type(obj).model_fields.items():
            value = getattr(obj, name)
            if value is None:
                continue
            yield from walk_numbers(value, loc + (field.alias or name,), here)
        return
    if isinstance(obj, tuple):
        for i, v in enumerate(obj):
            yield from walk_numbers(v, loc + (i,), inherited)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from walk_numbers(v, loc + (k,), inherited)


def walk_source_refs(obj: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Yield (loc of the `source` field, source id) for every source reference inside `obj`."""
    if isinstance(obj, TypeValues):
        for key, param in obj.root.items():
            yield from walk_source_refs(param, loc + (key,))
        return
    if isinstance(obj, BaseModel):
        for name, field in type(obj).model_fields.items():
            value = getattr(obj, name)
            if value is None:
                continue
            if name == "source" and isinstance(value, tuple):
                for ref in value:
                    yield loc + ("source",), ref
                continue
            yield from walk_source_refs(value, loc + (field.alias or name,))
        return
    if isinstance(obj, tuple):
        for i, v in enumerate(obj):
            yield from walk_source_refs(v, loc + (i,))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from walk_source_refs(v, loc + (k,))
