"""Shared fixtures of the crisis-engine tests: small scenarios and their compiled games."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisislab.crisis import compile_scenario
from crisislab.scenario import load_scenario

DATA = Path(__file__).parent / "data"
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture(scope="session")
def tiny():
    """Two-type signalling game, two actions each, an operational error; unrollable at H ≤ 3."""
    return load_scenario(DATA / "tiny.yaml")


@pytest.fixture(scope="session")
def spiral():
    """Three-action game with a proxy, casualties, attribution, a red line and a misperception."""
    return load_scenario(DATA / "spiral.yaml")


@pytest.fixture(scope="session")
def spiral_cg(spiral):
    return compile_scenario(spiral)


def bundled(name: str):
    return load_scenario(SCENARIOS / f"{name}.yaml")
