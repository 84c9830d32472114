"""Rates per round at risk and `after` windows under rounds of different lengths (calendar phases)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crisislab.model import lower
from crisislab.scenario import MetricAfter, loads_scenario
from crisislab.simulation import Results

MINI = Path(__file__).resolve().parent / "mini.yaml"


def _phased() -> object:
    # mini.yaml's 4 weekly rounds become rounds of 7, 7, 2 and 2 days (base period 7 days).
    text = MINI.read_text(encoding="utf-8").replace(
        "calendar: {start: 2019-12-01, days_per_round: 7}",
        "calendar: {start: 2019-12-01, base_days: 7, phases: [{id: a, days_per_round: 7, rounds: 2}, {id: b, days_per_round: 2, rounds: 2}]}")
    return loads_scenario(text)


def test_round_offsets_in_base_periods() -> None:
    model = lower(_phased())
    # Starts on days 0, 7, 14, 16 and the end on day 18, in weeks.
    np.testing.assert_allclose(model.round_offsets, [0, 1, 2, 16 / 7, 18 / 7])
    np.testing.assert_allclose(model.round_start_days(), [0, 7, 14, 16, 18])
    plain = lower(loads_scenario(MINI.read_text(encoding="utf-8")))
    np.testing.assert_array_equal(plain.round_offsets, [0, 1, 2, 3, 4])


def test_per_round_rate_weighs_rounds_by_length_and_windows_count_days() -> None:
    model = lower(_phased())
    # Results built by hand: two runs that end in rounds 3 and 4, US deaths 1 and 2.
    class Fake:
        spec = model
        runs = pd.DataFrame({"end_round": [3, 4], "casualties_US": [1.0, 2.0], "outcome": ["war", "stalemate"]})
        n_runs = 2
    metric = type("M", (), {"kind": "mean_casualties", "target": "US", "per_round": True, "after": None, "given": None,
                            "within": None, "is_plain": False})()
    num, den = Results.metric_parts(Fake(), metric)
    # At risk 16/7 and 18/7 weeks: the rate is 3 deaths over 34/7 weeks.
    np.testing.assert_allclose(den, [16 / 7, 18 / 7])
    assert num.sum() / den.sum() == pytest.approx(3 / (34 / 7))
    # A window of 8 days from round 2 (day 7) covers rounds starting by day 15: rounds 2 and 3.
    first = np.array([2, 1, -1])
    last = Results._window_end(Fake(), first, MetricAfter(action="us_strike", within_days=8))
    assert last.tolist() == [3, 2, -1]
    assert Results._window_end(Fake(), first, MetricAfter(action="us_strike", within=1)).tolist() == [3, 2, -1]


def test_after_needs_exactly_one_window() -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        MetricAfter(action="x")
    with pytest.raises(ValueError, match="exactly one of"):
        MetricAfter(action="x", within=1, within_days=3)
