"""The checked `Scenario`: validation of plain data or a loaded tree, overrides and draws.

`Scenario` is `ScenarioModel` (the fields and lookups, `_models`) plus the operations that build
new checked scenarios: `from_data`, `with_overrides`, `sample_parameters` (and `to_data`,
`parameters_with_uncertainty` beside them). Building one runs pydantic, then the semantic checks
(`_check`), then — for a file as written — the checks of the scenarios it implies (`_derived`);
every problem is raised at once as a `ScenarioError`. This module sits above all of those, so each
of them needs only the models.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import ValidationError

from crisislab.scenario._check import Issue, base_issues
from crisislab.scenario._derived import derived_issues
from crisislab.scenario._dump import to_data
from crisislab.scenario._errors import Problem, ScenarioError
from crisislab.scenario._locate import describe, locate, plain, pydantic_errors, pydantic_problem
from crisislab.scenario._models import Param, ScenarioModel
from crisislab.scenario._paths import estimated_params, overridden_data, params_with_uncertainty

__all__ = [
    "Scenario", "apply_overrides", "check_scenario", "sample_parameters", "validate_data", "validate_tree",
]


class Scenario(ScenarioModel):
    """A whole crisis scenario (docs/scenario-format.md). Build it with `load_scenario`,
    `loads_scenario` or `Scenario.from_data` so that the meaning is checked too."""

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """A new, re-validated scenario with the parameters at the given field paths replaced.

        Paths are addressed by id (`perceptions.Iran.US.prior.resolute`, `actors.US.lam`,
        `actions.kh_rockets.consequences.0.mean`). A number replacing a Param keeps its provenance
        and drops its uncertainty. Setting some of a prior's entries rescales the others so the
        prior still sums to 1. A perception that does not exist yet is created from the truth.
        A bad path is a ScenarioError naming the path and what exists there.
        """
        return apply_overrides(self, overrides)

    def parameters_with_uncertainty(self) -> list[tuple[str, Param]]:
        """Every Param that states an `uncertainty`, as (field path, Param), in file order."""
        return params_with_uncertainty(self)

    def sample_parameters(self, rng: np.random.Generator, only_estimated: bool = False) -> Scenario:
        """One draw of every uncertain parameter from its stated distribution (priors rescaled
        to sum to 1), as a new validated scenario. `rng` is the only source of randomness.
        `only_estimated`: draw only the parameters estimated from a record (`estimated`), whose
        uncertainty is their interval; the others keep their values."""
        return sample_parameters(self, rng, only_estimated)

    def estimated_parameters(self) -> list[tuple[str, Param]]:
        """Every Param estimated from a record (it has `estimated`), as (field path, Param), in file order."""
        return estimated_params(self)

    def to_data(self) -> dict[str, Any]:
        """Plain YAML-ready data (dicts, lists, numbers, strings, dates) that loads back to an equal scenario."""
        return to_data(self)

    @classmethod
    def from_data(cls, data: Any, filename: str = "<data>") -> Scenario:
        """Validate plain data (types and meaning); ScenarioError with every problem otherwise."""
        return validate_data(data, filename)


def check_scenario(scenario: ScenarioModel, filename: str = "<scenario>", derived: bool = True) -> list[Issue]:
    """All semantic issues of a type-valid scenario (empty list if it is sound).

    With `derived` (the default) this includes the scenarios the file implies: each claim arm with
    its `set` entries applied, and the ends of every stated uncertainty range (`_derived`).
    """
    issues = base_issues(scenario, filename)
    if derived:
        issues.extend(derived_issues(scenario, issues))
    return issues


def validate_tree(tree: Any, filename: str, derived: bool = True) -> Scenario:
    """A checked Scenario from a loaded YAML tree (ruamel nodes carry lines; plain data gives
    none), or ScenarioError with every problem located in `tree`."""
    if tree is None:
        raise ScenarioError([Problem(filename, 1, "", "the file is empty", expected="a scenario mapping (crisislab: 1, id, ...)")])
    if not isinstance(tree, dict):
        raise ScenarioError(
            [Problem(filename, 1, "", "the top level is not a mapping", got=describe(plain(tree)), expected="a mapping (crisislab: 1, id, ...)")]
        )
    try:
        data = plain(tree)
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [pydantic_problem(e, tree, filename) for e in pydantic_errors(exc)]
        raise ScenarioError(_dedupe(problems)) from None
    except RecursionError:
        raise ScenarioError([Problem(filename, 1, "", "scenario nested too deeply")]) from None

    issues = check_scenario(scenario, filename, derived=derived)
    if issues:
        problems = []
        for issue in issues:
            line, path = locate(tree, issue.loc)
            problems.append(Problem(filename, line, path, issue.message, issue.got, issue.expected))
        raise ScenarioError(_dedupe(problems))
    return scenario


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def validate_data(data: Any, filename: str = "<data>", derived: bool = True) -> Scenario:
    """Validate plain data (no line numbers) into a checked Scenario, or raise ScenarioError.

    `derived=False` skips the checks of the scenarios the data implies (its claims' `set` arms and
    the ends of its uncertainty ranges, `_derived`): for data made from an already checked scenario.
    """
    return validate_tree(data, filename, derived)


def apply_overrides(scenario: ScenarioModel, overrides: dict[str, Any], normalize_priors: bool = False) -> Scenario:
    """See `Scenario.with_overrides`. With `normalize_priors`, a prior whose every entry was set
    is divided by its sum (used for draws from the uncertainty)."""
    name = f"<overrides of {scenario.id}>"
    data, bad = overridden_data(scenario, overrides, normalize_priors)
    if bad:
        raise ScenarioError([Problem(name, None, path, str(exc), got=repr(path), expected=exc.expected) for path, exc in bad])
    # The file's own claims and uncertainty ranges were checked when it was loaded (`_derived`).
    return validate_data(data, name, derived=False)


def sample_parameters(scenario: Scenario, rng: np.random.Generator, only_estimated: bool = False) -> Scenario:
    """One joint draw of all uncertain parameters (independent, in file order; a parameter tied to
    an estimated one takes its draw) as a new scenario; with `only_estimated`, of those estimated
    from a record only."""
    drawn = [(path, param) for path, param in params_with_uncertainty(scenario)
             if not only_estimated or getattr(param, "estimated", None) is not None]
    # A parameter estimated together with another (`estimated.tied_to`) takes the other's draw.
    ties = {path: param.estimated.tied_to for path, param in drawn  # type: ignore[union-attr]
            if getattr(getattr(param, "estimated", None), "tied_to", None) is not None}
    overrides = {path: param.uncertainty.sample(rng) for path, param in drawn if path not in ties}  # type: ignore[union-attr]
    for path, leader in ties.items():
        if leader in overrides:
            overrides[path] = overrides[leader]
    if not overrides:
        return scenario
    return apply_overrides(scenario, overrides, normalize_priors=True)
