"""A perception may state terminal payoffs only: the holder then shares the true prior."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crisislab.model import lower
from crisislab.scenario import ScenarioError, loads_scenario

MINI = Path(__file__).resolve().parents[1] / "simulation" / "mini.yaml"


def _with_perception(block: str) -> str:
    text = MINI.read_text(encoding="utf-8")
    head, _, _ = text.partition("perceptions:")
    return head + "perceptions:\n" + block


def test_terminal_only_perception_uses_and_follows_the_true_prior() -> None:
    sc = loads_scenario(_with_perception(
        "  - holder: Iran\n    about: US\n    terminal: {war: {resolute: -5, restrained: -9}}\n    assumption: toy\n"))
    np.testing.assert_array_equal(sc.perceived_prior("Iran", "US"), [0.6, 0.4])
    model = lower(sc)
    assert model.perceptions[0].prior is None
    np.testing.assert_array_equal(model.perceived_prior(1)[0, :2], [0.6, 0.4])
    # Setting the true prior moves the holder's view with it.
    moved = sc.with_overrides({"actors.US.types.resolute.prior": 0.3})
    np.testing.assert_allclose(moved.perceived_prior("Iran", "US"), [0.3, 0.7])
    # Setting the perceived prior creates it from the truth and then differs from it.
    own = sc.with_overrides({"perceptions.Iran.US.prior.resolute": 0.1})
    np.testing.assert_allclose(own.perceived_prior("Iran", "US"), [0.1, 0.9])
    np.testing.assert_allclose(own.actor("US").priors, [0.6, 0.4])


def test_a_perception_that_states_nothing_is_refused() -> None:
    with pytest.raises(ScenarioError, match="the perception states nothing"):
        loads_scenario(_with_perception("  - holder: Iran\n    about: US\n    assumption: toy\n"))
