"""Checks of the scenarios a file implies, reported where the user wrote their cause.

A scenario file implies other scenarios: each claim arm with `set` entries is the scenario with
those parameters replaced (`Scenario.with_overrides`), and each robustness draw takes every
parameter with an `uncertainty` somewhere in its range (`Scenario.sample_parameters`). These are
built and checked here, when the file is loaded, so that a bad value is reported by `validate`
(and before any work by every other command) at the line of the `set` entry or the `uncertainty`
that causes it, with the value the user wrote, instead of failing later in a scenario with no file.

A problem is traced to its cause by where it lies in the implied scenario's data: at (or inside)
the parameter a `set` entry names, it is that entry's (`direct`); elsewhere in a prior one of the
entries touched, it comes from the rescaling of the prior's other entries and is dropped when the
prior has a direct problem already (the user wrote 1.5, not the complement -0.5); anything else is
reported against the arm's first `set` entry, naming where it arises. For uncertainty ranges the
implied scenarios are two: every uncertain parameter at the low end of its range, and every one at
the high end (drawn values lie between; an unclipped normal's ends are taken as ±1e12, a beta's as
the nearest numbers inside (0, 1)); the problems are reported at the parameter's `uncertainty`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from pydantic import ValidationError

from crisislab.scenario._check import Issue, _fmt, base_issues
from crisislab.scenario._dump import to_data
from crisislab.scenario._locate import is_synthetic, locate, pydantic_errors, pydantic_problem
from crisislab.scenario._models import Param, ScenarioModel, SetParam, Uncertainty
from crisislab.scenario._paths import PathError, _navigate, _prior_group, overridden_data
from crisislab.scenario._walk import walk_numbers

__all__ = ["data_issues", "derived_issues"]

Target = tuple[int, Any]  # (id of a container in the data, key or index in it)

# Stand-in for an infinite end of a range (an unclipped normal): finite, so that the checks judge it.
_HUGE = 1e12


def data_issues(data: dict[str, Any]) -> tuple[ScenarioModel | None, list[Issue]]:
    """(scenario or None, every problem of plain scenario data as an `Issue` at a pydantic-style
    location), without the derived checks: what `_trace` needs to map problems back to a cause."""
    try:
        scenario = ScenarioModel.model_validate(data)
    except ValidationError as exc:
        issues = []
        for err in pydantic_errors(exc):
            p = pydantic_problem(err, data, "<data>")
            loc = tuple(seg for seg in err["loc"] if not is_synthetic(seg))
            issues.append(Issue(loc, p.message, p.got, p.expected))
        return None, issues
    except RecursionError:
        return None, [Issue((), "scenario nested too deeply")]
    return scenario, base_issues(scenario, ties=False)


def _walk(data: Any, loc: tuple[Any, ...]) -> list[Target]:
    """The (container, key) of every step of `loc` in plain data, as far as it leads."""
    out: list[Target] = []
    node = data
    for seg in loc:
        if is_synthetic(seg):
            continue
        if isinstance(node, dict) and seg in node:
            out.append((id(node), seg))
            node = node[seg]
        elif isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node):
            out.append((id(node), seg))
            node = node[seg]
        else:
            break
    return out


def _target(data: dict[str, Any], path: str) -> Target | None:
    try:
        container, key = _navigate(data, path, create=False)
    except PathError:
        return None
    return id(container), key


def _prior_targets(data: dict[str, Any], path: str) -> frozenset[Target]:
    """The place of the whole prior that `path` is one entry of (empty if it is not a prior entry)."""
    found = _prior_group(path.split("."))
    if found is None:
        return frozenset()
    group = found[0]
    if group[0] == "actors":
        for actor in data.get("actors", []):
            if actor.get("id") == group[1]:
                return frozenset({(id(actor), "types")})
        return frozenset()
    for p in data.get("perceptions", []):
        if p.get("holder") == group[1] and p.get("about") == group[2]:
            return frozenset({(id(p), "prior")})
    return frozenset()


def _base_keys(scenario: ScenarioModel, base: Iterable[Issue]) -> set[tuple[str, str]]:
    data = to_data(scenario)
    return {(locate(data, i.loc)[1], i.message) for i in base}


class _Cause:
    """One thing the user wrote that changes the implied scenario: where to report it, the
    parameter's path, and what the user wrote."""

    def __init__(self, loc: tuple[Any, ...], path: str, written: str | None):
        self.loc, self.path, self.written = loc, path, written


def _trace(
    scenario: ScenarioModel,
    base: set[tuple[str, str]],
    overrides: dict[str, Any],
    causes: dict[str, _Cause],
    normalize_priors: bool,
) -> list[tuple[_Cause, str, Issue, str]]:
    """Apply `overrides`, check the result, and give each new problem its cause: (cause, kind,
    the problem in the implied scenario, its id-addressed path there). `kind` is "exact" (at the
    parameter), "direct" (inside it), "prior" (elsewhere in a prior it is an entry of) or "other"."""
    data, bad = overridden_data(scenario, overrides, normalize_priors)
    skipped = {p for p, _ in bad}  # a path that leads nowhere is reported by the claim checks
    _, issues = data_issues(data)
    issues = [i for i in issues if (locate(data, i.loc)[1], i.message) not in base]
    if not issues:
        return []
    live = [p for p in overrides if p not in skipped]
    targets = {p: _target(data, p) for p in live}
    priors = {p: _prior_targets(data, p) for p in live}
    traced: list[tuple[_Cause, str, Issue, str]] = []
    direct_priors: set[Target] = set()
    pending: list[tuple[_Cause, frozenset[Target], Issue, str]] = []
    for issue in issues:
        where = locate(data, issue.loc)[1] or "(top level)"
        walked = _walk(data, issue.loc)
        steps = set(walked)
        hit = [p for p in live if targets[p] is not None and targets[p] in steps]
        if hit:
            path = hit[-1]
            traced.append((causes[path], "exact" if walked[-1] == targets[path] else "direct", issue, where))
            direct_priors |= priors[path]
            continue
        in_prior = [p for p in live if priors[p] & steps]
        if in_prior:
            pending.append((causes[in_prior[0]], priors[in_prior[0]], issue, where))
        else:
            traced.append((causes[live[0]] if live else next(iter(causes.values())), "other", issue, where))
    for cause, prior, issue, where in pending:
        if not prior & direct_priors:
            traced.append((cause, "prior", issue, where))
    return traced


def _claim_issues(scenario: ScenarioModel, base: set[tuple[str, str]]) -> list[Issue]:
    out: list[Issue] = []
    for i, claim in enumerate(scenario.claims):
        for arm in ("treatment", "baseline"):
            overrides: dict[str, Any] = {}
            causes: dict[str, _Cause] = {}
            for j, iv in enumerate(getattr(claim.compare, arm)):
                if not isinstance(iv, SetParam):
                    continue
                value = iv.set.value
                # As the simulator applies it (`simulate._compile.split_interventions`).
                overrides[iv.set.param] = float(value.value) if value.is_bare else value
                causes[iv.set.param] = _Cause(("claims", i, "compare", arm, j, "set", "value"), iv.set.param, _fmt(value.value))
            if not overrides:
                continue
            traced = _trace(scenario, base, overrides, causes, normalize_priors=False)
            for cause, kind, issue, where in sorted(traced, key=lambda t: t[0].loc[4]):  # in `set` entry order
                if kind in ("exact", "direct"):
                    out.append(Issue(cause.loc, f"sets {cause.path}: {issue.message}",
                                     cause.written if kind == "exact" else issue.got, issue.expected))
                elif kind == "prior":
                    out.append(Issue(
                        cause.loc,
                        f"sets {cause.path}, and the prior's other entries are rescaled to keep its sum 1: "
                        f"{where}: {issue.message}",
                        issue.got, issue.expected,
                    ))
                else:
                    out.append(Issue(cause.loc, f"with the `set` entries of this arm, {where}: {issue.message}",
                                     issue.got, issue.expected))
    return out


def _ends(u: Uncertainty) -> tuple[float, float]:
    """The lowest and highest values a draw can take (stand-ins for ends that cannot be drawn)."""
    if u.beta is not None:
        return float(np.nextafter(0.0, 1.0)), float(np.nextafter(1.0, 0.0))
    lo, hi = u.support()
    return (float(lo) if np.isfinite(lo) else -_HUGE), (float(hi) if np.isfinite(hi) else _HUGE)


def _range_text(u: Uncertainty) -> str:
    kind = u.kind
    values = getattr(u, kind)
    text = f"{kind} [{', '.join(_fmt(v) for v in values)}]"
    if kind == "normal":
        text += f" clipped to [{_fmt(u.clip[0])}, {_fmt(u.clip[1])}]" if u.clip is not None else " without clip"
    return text


def _uncertainty_issues(scenario: ScenarioModel, base: set[tuple[str, str]]) -> list[Issue]:
    data = to_data(scenario)
    params = [(loc, p) for loc, p, _ in walk_numbers(scenario) if isinstance(p, Param) and p.uncertainty is not None]
    if not params:
        return []
    causes: dict[str, _Cause] = {}
    ends: dict[str, tuple[float, float]] = {}
    for loc, p in params:
        path = locate(data, loc)[1]
        causes[path] = _Cause(loc + ("uncertainty",), path, _range_text(p.uncertainty))  # type: ignore[arg-type]
        ends[path] = _ends(p.uncertainty)  # type: ignore[arg-type]
    out: list[Issue] = []
    seen: set[tuple[Any, str]] = set()
    for side, name in ((0, "low"), (1, "high")):
        overrides = {path: e[side] for path, e in ends.items()}
        for cause, kind, issue, where in _trace(scenario, base, overrides, causes, normalize_priors=True):
            end = _fmt(ends[cause.path][side])
            if abs(ends[cause.path][side]) >= _HUGE:
                end = "an unbounded end"
            if kind in ("exact", "direct"):
                message = f"draws at the {name} end of the range ({end}) make an invalid scenario: {issue.message}"
            elif kind == "prior":
                message = (f"draws at the {name} end of the range ({end}), with the prior's other entries rescaled "
                           f"to keep its sum 1, make an invalid scenario: {where}: {issue.message}")
            else:
                message = f"draws at the {name} ends of the ranges make an invalid scenario: {where}: {issue.message}"
            if (cause.loc, message) in seen:
                continue
            seen.add((cause.loc, message))
            expected = f"a range whose every draw is {issue.expected}" if issue.expected else "a narrower range"
            if end == "an unbounded end":
                expected += " (give the normal a `clip: [lo, hi]`)"
            out.append(Issue(cause.loc, message, cause.written, expected))
    return out


def derived_issues(scenario: ScenarioModel, base: list[Issue]) -> list[Issue]:
    """Problems of the scenarios `scenario` implies (claim arms with `set`, the ends of the
    uncertainty ranges) that the scenario itself does not have (`base`: its own problems),
    each located at the `set` value or `uncertainty` that causes it."""
    keys = _base_keys(scenario, base)
    return _claim_issues(scenario, keys) + _uncertainty_issues(scenario, keys)
