"""Models and accessors of the scenario layer, on the small fixture `small.yaml`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from crisislab.scenario import (
    AnyCondition,
    Casualties,
    ErrorEvent,
    Param,
    ProbTable,
    Scenario,
    ScenarioError,
    TypeValues,
    Uncertainty,
    VarCondition,
    load_scenario,
)

HERE = Path(__file__).parent
SMALL = HERE / "small.yaml"


@pytest.fixture(scope="module")
def small() -> Scenario:
    return load_scenario(SMALL)


def test_accessors(small: Scenario) -> None:
    assert small.strategic_ids == ("Blue", "Red")
    assert small.environment_ids == ("Proxy",)
    assert [a.id for a in small.actions_of("Blue")] == ["blue_wait", "blue_strike"]
    assert small.default_action("Red").id == "red_wait"
    assert small.var("tension").size == 5
    assert small.actor("Blue").type_ids == ("resolute", "restrained")
    np.testing.assert_allclose(small.actor("Red").priors, [0.3, 0.7])
    assert small.horizon_outcome.id == "stalemate"
    assert small.is_strategic("Blue") and not small.is_strategic("Proxy")


def test_param_and_type_values(small: Scenario) -> None:
    strike = small.action("blue_strike")
    assert strike.cost_for("restrained") == -1.5
    assert small.action("red_missiles").cost is not None
    assert small.action("red_missiles").cost.is_uniform
    assert small.action("red_missiles").cost_for("hardline") == -0.4
    assert small.action("blue_wait").cost_for("resolute") == 0.0
    lam = small.actor("Blue").lam
    assert lam.value == 2.0 and float(lam) == 2.0 and lam.assumption == "moderate precision"
    assert small.red_line("blue_deaths_line").audience_cost_for("resolute") == pytest.approx(-4.5)  # -3.0 * 1.5
    assert TypeValues.model_validate({"a": 1, "b": {"value": 2, "source": "x"}}).vector(["b", "a"]).tolist() == [2.0, 1.0]


def test_perceptions(small: Scenario) -> None:
    np.testing.assert_allclose(small.perceived_prior("Red", "Blue"), [0.2, 0.8])
    # No stated perception means correct perception (docs/scenario-format.md, perceptions).
    np.testing.assert_allclose(small.perceived_prior("Blue", "Red"), [0.3, 0.7])
    assert small.perceived_terminal("Red", "war", "Blue", "resolute") == -6.0
    assert small.perceived_terminal("Blue", "war", "Blue", "resolute") == -8.0


def test_closed_unions(small: Scenario) -> None:
    war = small.outcome("war")
    assert isinstance(war.when, AnyCondition)
    assert isinstance(war.when.any_[0], VarCondition)
    cons = small.action("red_missiles").consequences
    assert isinstance(cons[0], ErrorEvent) and isinstance(cons[0].consequences[0], Casualties)
    rule = small.environment_actor("Proxy").rules[1]
    assert isinstance(rule.probability, ProbTable)
    assert rule.probability.at(np.array([0, 4]), 0).tolist() == [0.0, 0.3]


def test_frozen(small: Scenario) -> None:
    with pytest.raises(ValidationError):
        small.horizon = 5  # type: ignore[misc]
    assert isinstance(small.actors, tuple)


def test_unknown_id_lists_valid_ones(small: Scenario) -> None:
    with pytest.raises(ScenarioError, match="one of Blue, Red"):
        small.actor("Green")


@pytest.mark.parametrize(
    "spec, lo, hi",
    [
        pytest.param({"uniform": [1.0, 4.0]}, 1.0, 4.0, id="uniform"),
        pytest.param({"triangular": [0.0, 0.2, 1.0]}, 0.0, 1.0, id="triangular"),
        pytest.param({"normal": [0.5, 0.1], "clip": [0.0, 1.0]}, 0.0, 1.0, id="normal-clipped"),
        pytest.param({"beta": [2.0, 5.0]}, 0.0, 1.0, id="beta"),
        pytest.param({"choice": [0.1, 0.5, 0.9]}, 0.1, 0.9, id="choice"),
    ],
)
def test_uncertainty_draws_stay_in_support(spec: dict, lo: float, hi: float) -> None:
    u = Uncertainty.model_validate(spec)
    draws = u.sample(np.random.default_rng(7), size=500)
    assert draws.shape == (500,)
    assert draws.min() >= lo and draws.max() <= hi
    # Same generator state, same draws: randomness only comes from the generator passed in.
    assert np.array_equal(draws, u.sample(np.random.default_rng(7), size=500))
    assert isinstance(u.sample(np.random.default_rng(0)), float)


def test_uncertainty_mean_uniform() -> None:
    # Mean of U(1, 4) is 2.5 (closed form); 20 000 draws give a standard error of ~0.006.
    draws = Uncertainty.model_validate({"uniform": [1.0, 4.0]}).sample(np.random.default_rng(1), 20_000)
    assert abs(draws.mean() - 2.5) < 0.03


def test_param_plain_number_and_bool() -> None:
    assert Param.model_validate(3).value == 3.0
    assert Param.model_validate(3).is_bare
    with pytest.raises(ValidationError):
        Param.model_validate(True)
