"""The scenarios shipped with crisislab (`crisislab/bundled/scenarios`, the repo's `scenarios/`)."""

from __future__ import annotations

from pathlib import Path

from crisislab.scenario._errors import Problem, ScenarioError
from crisislab.scenario._load import load_scenario
from crisislab.scenario._scenario import Scenario

__all__ = ["bundled_dir", "bundled_scenario", "bundled_scenarios"]


def bundled_dir() -> Path:
    """Directory of the bundled scenario files."""
    return Path(__file__).resolve().parent.parent / "bundled" / "scenarios"


def bundled_scenarios() -> list[Path]:
    """Paths of the bundled `*.yaml` scenario files, sorted by name (empty if none)."""
    root = bundled_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*.yaml") if p.is_file())


def bundled_scenario(name: str) -> Scenario:
    """The bundled scenario `name` (its id, e.g. "us-iran-2019-2020"), loaded and checked.

    Raises `ScenarioError` naming the bundled scenarios when there is no such file."""
    path = bundled_dir() / f"{name}.yaml"
    if not path.is_file():
        names = ", ".join(p.stem for p in bundled_scenarios()) or "none"
        raise ScenarioError([Problem(str(bundled_dir()), None, "name", "no such bundled scenario", got=repr(name), expected=f"one of {names}")])
    return load_scenario(path)
