"""Field paths addressed by id, parameter overrides and draws from the stated uncertainty.

A path names a place in the scenario the way the YAML is written, with id-keyed lists addressed by
id (`actors.US.lam`, `perceptions.Iran.US.prior.resolute`, `actions.kh_rockets.consequences.0.mean`).
Overrides work on the scenario's plain data (`to_data`); `_scenario.apply_overrides` re-validates
the result, so an override can never produce a scenario that `load_scenario` would reject.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from crisislab.scenario._dump import to_data
from crisislab.scenario._locate import locate
from crisislab.scenario._models import Param, ScenarioModel
from crisislab.scenario._walk import walk_numbers

__all__ = ["PathError", "resolve_param_path", "overridden_data", "params_with_uncertainty"]


class PathError(Exception):
    """A field path that does not lead anywhere; `expected` says what exists there."""

    def __init__(self, message: str, expected: str):
        super().__init__(message)
        self.expected = expected


def _labels(items: list[Any], list_key: str | None) -> list[str]:
    out = []
    for i, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            out.append(item["id"])
        elif list_key == "perceptions" and isinstance(item, dict):
            out.append(f"{item.get('holder')}.{item.get('about')}")
        else:
            out.append(str(i))
    return out


def _true_prior(data: dict[str, Any], actor_id: str) -> dict[str, Any] | None:
    for actor in data.get("actors", []):
        if actor.get("id") == actor_id:
            return {t["id"]: (t["prior"]["value"] if isinstance(t["prior"], dict) else t["prior"]) for t in actor["types"]}
    return None


def _navigate(data: dict[str, Any], path: str, create: bool) -> tuple[Any, Any]:
    """(container, key) of the last segment of `path` in `data`; PathError if there is none.

    With `create`, a missing perception `perceptions.H.A` between two strategic actors is added,
    holding the true prior (correct perception is the default).
    """
    segs = path.split(".")
    if not path or any(not s for s in segs):
        raise PathError(f"malformed path {path!r}", "dot-separated field names and ids")
    node: Any = data
    list_key: str | None = None
    walked: list[str] = []
    i = 0
    while True:
        seg = segs[i]
        here = ".".join(walked) or "the top level"
        if isinstance(node, dict):
            if seg == "prior" and seg not in node and create and "holder" in node and "about" in node:
                node["prior"] = _true_prior(data, node["about"])  # a perception of payoffs only: the true prior until set
            if seg not in node and create and node is data and seg == "perceptions" and i < len(segs) - 1:
                node["perceptions"] = []  # omitted when empty (`to_data`); the perception is created below
            if seg not in node:
                raise PathError(f"no {seg!r} under {here}", "one of " + (", ".join(map(str, node)) or "nothing"))
            if i == len(segs) - 1:
                return node, seg
            list_key, node = seg, node[seg]
            walked.append(seg)
            i += 1
        elif isinstance(node, list):
            if list_key == "perceptions":
                if i + 1 >= len(segs):
                    raise PathError(f"a perception is named holder.about under {here}", "perceptions.HOLDER.ABOUT.…")
                holder, about = segs[i], segs[i + 1]
                found = [p for p in node if p.get("holder") == holder and p.get("about") == about]
                if not found:
                    prior = _true_prior(data, about)
                    if not create or prior is None or _true_prior(data, holder) is None or holder == about:
                        raise PathError(f"no perception {holder}.{about}", "one of " + (", ".join(_labels(node, list_key)) or "none"))
                    node.append({"holder": holder, "about": about, "prior": prior,
                                 "assumption": "created by an override from the true prior"})
                    found = [node[-1]]
                target, consumed = found[0], 2
                index = node.index(target)
            else:
                labels = _labels(node, list_key)
                if seg in labels:
                    index = labels.index(seg)
                elif seg.isdigit() and int(seg) < len(node):
                    index = int(seg)
                else:
                    raise PathError(f"no item {seg!r} in {here}", "one of " + (", ".join(labels) or "none"))
                consumed = 1
            if i + consumed - 1 == len(segs) - 1:
                return node, index
            walked.extend(segs[i : i + consumed])
            node = node[index]
            i += consumed
        else:
            raise PathError(f"{here} is a single value; there is nothing under it", f"the path {here}")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def resolve_param_path(scenario: ScenarioModel, path: str) -> Any:
    """The value (number or Param mapping) at `path`; PathError if it is not a numeric parameter."""
    data = to_data(scenario)
    container, key = _navigate(data, path, create=True)
    value = container[key]
    if _is_number(value) or (isinstance(value, dict) and _is_number(value.get("value"))):
        return value
    raise PathError(f"{path} is not a number", "a path to a numeric parameter")


def _prior_group(segs: list[str]) -> tuple[tuple[str, ...], str] | None:
    """If `segs` names one prior entry, (group key, type id); else None."""
    if len(segs) >= 5 and segs[0] == "actors" and segs[2] == "types" and segs[4] == "prior":
        return ("actors", segs[1]), segs[3]
    if len(segs) >= 5 and segs[0] == "perceptions" and segs[3] == "prior":
        return ("perceptions", segs[1], segs[2]), segs[4]
    return None


def _num(x: Any) -> float:
    return float(x["value"] if isinstance(x, dict) else x)


def _with_num(old: Any, value: float) -> Any:
    if isinstance(old, dict):
        new = {k: v for k, v in old.items() if k != "uncertainty"}
        new["value"] = value
        return new
    return value


def _prior_entries(data: dict[str, Any], group: tuple[str, ...]) -> list[tuple[Any, Any, str]]:
    """(container, key, type id) of each entry of one prior."""
    if group[0] == "actors":
        for actor in data["actors"]:
            if actor.get("id") == group[1]:
                return [(t, "prior", t["id"]) for t in actor["types"]]
        return []
    for p in data.get("perceptions", []):
        if p.get("holder") == group[1] and p.get("about") == group[2]:
            return [(p["prior"], k, k) for k in p.get("prior") or {}]
    return []


def _rescale_priors(data: dict[str, Any], touched: dict[tuple[str, ...], set[str]], normalize_all: bool) -> None:
    """Rescale the untouched entries of each touched prior so it sums to 1 again."""
    for group, types in touched.items():
        entries = _prior_entries(data, group)
        fixed = [e for e in entries if e[2] in types]
        free = [e for e in entries if e[2] not in types]
        fixed_sum = sum(_num(c[k]) for c, k, _ in fixed)
        if free:
            free_sum = sum(_num(c[k]) for c, k, _ in free)
            rest = 1.0 - fixed_sum
            for c, k, _ in free:
                share = _num(c[k]) / free_sum if free_sum > 0 else 1.0 / len(free)
                c[k] = _with_num(c[k], rest * share)
        elif normalize_all and fixed_sum > 0:
            for c, k, _ in fixed:
                c[k] = _with_num(c[k], _num(c[k]) / fixed_sum)


def overridden_data(
    scenario: ScenarioModel, overrides: dict[str, Any], normalize_priors: bool = False
) -> tuple[dict[str, Any], list[tuple[str, PathError]]]:
    """The scenario's plain data with `overrides` applied (priors rescaled), not yet validated,
    and the (path, PathError) of every override whose path leads nowhere (those are skipped)."""
    data = copy.deepcopy(to_data(scenario))
    bad: list[tuple[str, PathError]] = []
    touched: dict[tuple[str, ...], set[str]] = {}
    for path, value in overrides.items():
        if isinstance(value, Param):
            value = to_data(value)
        if isinstance(value, np.generic):
            value = value.item()
        try:
            container, key = _navigate(data, str(path), create=True)
        except PathError as exc:
            bad.append((str(path), exc))
            continue
        old = container[key]
        if _is_number(value) and isinstance(old, dict) and "value" in old:
            container[key] = _with_num(old, float(value))
        else:
            container[key] = value
        group = _prior_group(str(path).split("."))
        if group is not None:
            touched.setdefault(group[0], set()).add(group[1])
    _rescale_priors(data, touched, normalize_priors)
    return data, bad


def params_with_uncertainty(scenario: ScenarioModel) -> list[tuple[str, Param]]:
    """(field path, Param) of every parameter that states an `uncertainty`, in file order."""
    data = to_data(scenario)
    out = []
    for loc, param, _ in walk_numbers(scenario):
        if isinstance(param, Param) and param.uncertainty is not None:
            out.append((locate(data, loc)[1], param))
    return out


def estimated_params(scenario: ScenarioModel) -> list[tuple[str, Param]]:
    """(field path, Param) of every parameter estimated from a record (`estimated`), in file order."""
    data = to_data(scenario)
    return [(locate(data, loc)[1], param) for loc, param, _ in walk_numbers(scenario)
            if isinstance(param, Param) and getattr(param, "estimated", None) is not None]
