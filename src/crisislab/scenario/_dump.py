"""Writing scenarios back to YAML: `to_data` (plain data) and `dump_scenario` (text).

The output loads back to an equal scenario (`loads_scenario(dump_scenario(s)) == s`, a property
test). Bare parameters are written as plain numbers, one-for-all `TypeValues` as one number,
fields left at their defaults and empty optional fields are omitted to keep files short.
"""

from __future__ import annotations

import io
import re
from typing import Any

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from crisislab.scenario._models import Param, TypeValues

__all__ = ["to_data", "dump_scenario"]

_PROVENANCE = ("source", "assumption")


def to_data(obj: Any) -> Any:
    """Plain YAML-ready data for a scenario model (or any part of one)."""
    if isinstance(obj, Param):
        if obj.is_bare:
            return obj.value
        out: dict[str, Any] = {"value": obj.value}
        if obj.source is not None:
            out["source"] = obj.source[0] if len(obj.source) == 1 else list(obj.source)
        if obj.assumption is not None:
            out["assumption"] = obj.assumption
        if obj.uncertainty is not None:
            out["uncertainty"] = to_data(obj.uncertainty)
        if obj.estimated is not None:
            out["estimated"] = to_data(obj.estimated)
        return out
    if isinstance(obj, TypeValues):
        if obj.is_uniform:
            return to_data(next(iter(obj.root.values())))
        return {k: to_data(v) for k, v in obj.root.items()}
    if isinstance(obj, BaseModel):
        out = {}
        fields = type(obj).model_fields
        # Provenance reads best after the fields it is about.
        names = [n for n in fields if n not in _PROVENANCE] + [n for n in fields if n in _PROVENANCE]
        for name in names:
            field = fields[name]
            value = getattr(obj, name)
            if value is None:
                continue
            # `kind` stays even at its default: it is what tells the consequence union apart.
            if name != "kind" and not field.is_required() and value == field.get_default(call_default_factory=True):
                continue
            if name == "source" and isinstance(value, tuple):
                out["source"] = value[0] if len(value) == 1 else list(value)
                continue
            out[field.alias or name] = to_data(value)
        return out
    if isinstance(obj, (tuple, list)):
        return [to_data(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_data(v) for k, v in obj.items()}
    return obj


def dump_scenario(scenario: BaseModel) -> str:
    """The scenario as YAML text that `loads_scenario` reads back to an equal object."""
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    buf = io.StringIO()
    yaml.dump(_styled(to_data(scenario)), buf)
    return buf.getvalue()


_SAFE_TEXT = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def _is_scalar(x: Any) -> bool:
    """A scalar that is safe inside flow style: ruamel does not always quote text there
    (`{a: ?0}` is written unquoted and cannot be read back), so only id-like text qualifies."""
    if isinstance(x, str):
        return bool(_SAFE_TEXT.match(x)) and x.lower() not in ("true", "false", "yes", "no", "on", "off", "null")
    return not isinstance(x, (dict, list))


def _styled(data: Any) -> Any:
    """Short lists of scalars and small flat mappings in flow style (`[a, b]`, `{var: x, add: 1}`)."""
    if isinstance(data, dict):
        out = CommentedMap((k, _styled(v)) for k, v in data.items())
        if len(data) <= 4 and all(_is_scalar(v) for v in data.values()) and sum(len(str(v)) for v in data.values()) < 60:
            out.fa.set_flow_style()
        return out
    if isinstance(data, list):
        seq = CommentedSeq(_styled(v) for v in data)
        if all(_is_scalar(v) for v in data) and sum(len(str(v)) for v in data) < 70:
            seq.fa.set_flow_style()
        return seq
    return data
