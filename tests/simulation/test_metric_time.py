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


def test_rate_and_window_in_days_end_to_end_match_closed_forms() -> None:
    """hazard_phases.yaml: a hazard of 0.3 per 14 days ends the crisis in war, through two 14-day
    rounds and two 2-day rounds (p = 1 − 0.7^(1/7) each); A plays a1 with probability 1/2 each round.
    With S_r the chance of being alive at round r's start and w_r its length in fortnights:
    - the war hazard per fortnight at risk is Σ S_r p_r / Σ S_r w_r;
    - a window of 15 days after A's first a1 (rounds start on days 0, 14, 28, 30) holds the next
      round only: P = Σ_{t≤3} S_t 2^-t (1 − p_t) / 2 over the runs where a1 is ever played,
      Σ_t S_t 2^-t."""
    from crisislab.simulation import FixedPolicy, simulate

    sc = loads_scenario((Path(__file__).with_name("hazard_phases.yaml")).read_text(encoding="utf-8"))
    q = 1 - 0.7 ** (1 / 7)
    p, w = [0.3, 0.3, q, q], [1, 1, 1 / 7, 1 / 7]
    alive = np.cumprod([1.0] + [1 - x for x in p[:-1]])
    rate = float(np.dot(alive, p) / np.dot(alive, w))
    defined = sum(alive[t] * 0.5 ** (t + 1) for t in range(4))
    window = sum(alive[t] * 0.5 ** (t + 1) * (1 - p[t]) * 0.5 for t in range(3)) / defined
    n = 40_000
    res = simulate(sc, FixedPolicy({"A": np.array([[0.5, 0.5]])}), n, 11)
    by_id = {c.id: c.metric for c in sc.claims}
    got_rate = res.metric_value(by_id["rate"])
    num, den = res.metric_parts(by_id["win"])
    got_defined = float(np.mean(den))
    # Five standard errors: a ratio of binomial-ish sums; the rate's se is below 0.5/sqrt(n)/Σ S w.
    assert got_rate == pytest.approx(rate, abs=5 * 0.5 / np.sqrt(n) / float(np.dot(alive, w)))
    assert got_defined == pytest.approx(defined, abs=5 * np.sqrt(defined * (1 - defined) / n))
    assert res.metric_value(by_id["win"]) == pytest.approx(window, abs=5 * np.sqrt(window * (1 - window) / (defined * n)))
