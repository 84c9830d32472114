"""Metrics that isolate a mechanism: a window after a trigger, a rate per round at risk, a metric
given a state reached; the ratio comparison they use; conditional forbids.

Every per-run value is checked against the per-move path table of the same runs (an independent
record: one row per move with the action chosen and the state after it), so the simulator's
compact per-run record (rounds each action was chosen in, each variable's extremes) is tested
against what happened move by move.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crisislab.analysis import paired_difference, paired_ratio_difference
from crisislab.scenario import Forbid, ForbidSpec, Metric, VarCondition, load_scenario
from crisislab.simulation import FixedPolicy, simulate

MINI = Path(__file__).with_name("mini.yaml")
RUNS = 3000
# The mini scenario's policies: rows are types, columns the ladder (US [wait, strike], Iran [calm, attack]).
POLICY = FixedPolicy({"US": np.array([[0.3, 0.7], [0.8, 0.2]]), "Iran": np.array([[0.4, 0.6], [0.9, 0.1]])})


@pytest.fixture(scope="module")
def mini():
    return load_scenario(MINI)


@pytest.fixture(scope="module")
def results(mini):
    return simulate(mini, POLICY, RUNS, 5, paths=True)


def _moves(results) -> pd.DataFrame:
    p = results.paths.copy()
    p["action"] = p["action"].astype(str)
    return p.sort_values(["run", "round", "move"], kind="stable")


def _window_from_paths(results, target: str, trigger: str, within: int) -> np.ndarray:
    """Per run: NaN if `trigger` never chosen, else 1 if `target` is chosen at a later move no
    more than `within` rounds after the trigger's first round."""
    out = np.full(results.n_runs, np.nan)
    for run, g in _moves(results).groupby("run", sort=True):
        hits = g[g["action"] == trigger]
        if hits.empty:
            continue
        t_round, t_move = int(hits.iloc[0]["round"]), int(hits.iloc[0]["move"])
        later = (g["round"] > t_round) | ((g["round"] == t_round) & (g["move"] > t_move))
        near = g["round"] <= t_round + within
        out[run] = float(((g["action"] == target) & later & near).any())
    return out


@pytest.mark.parametrize(
    ("target", "trigger", "within"),
    [
        # Iran moves first, the US last: a strike in the round of Iran's attack comes after it.
        pytest.param("us_strike", "ir_attack", 1, id="later-in-the-same-round-counts"),
        # The militia moves before the US: its rockets in the strike's own round came before it.
        pytest.param("kh_rockets", "us_strike", 1, id="earlier-in-the-same-round-does-not"),
        pytest.param("ir_attack", "ir_attack", 2, id="the-trigger-again"),
        pytest.param("kh_rockets", "us_strike", 0, id="window-of-zero-rounds"),
    ],
)
def test_window_after_a_trigger_matches_the_move_record(mini, results, target, trigger, within) -> None:
    m = Metric(action_probability=target, after={"action": trigger, "within": within})
    got = results.metric_values(m)
    want = _window_from_paths(results, target, trigger, within)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])
    assert 0 < np.isnan(got).sum() < RUNS  # the trigger happens in some runs, not all
    assert results.metric_value(m) == pytest.approx(np.nanmean(want), abs=0, rel=1e-15)


@pytest.mark.parametrize("within", [1, 2, 4])
def test_outcome_within_rounds_of_the_start(results, within) -> None:
    """`{outcome_probability: war, within: k}`: the share of runs that end in war by round k, read
    from the per-run record (outcome and end round) directly."""
    m = Metric(outcome_probability="war", within=within)
    runs = results.runs
    want = ((runs["outcome"] == "war") & (runs["end_round"] <= within)).to_numpy(np.float64)
    np.testing.assert_array_equal(results.metric_values(m), want)
    assert results.metric_value(m) == pytest.approx(want.mean(), abs=0, rel=1e-15)


def test_outcome_within_rounds_after_a_trigger(mini, results) -> None:
    m = Metric(outcome_probability="war", after={"action": "us_strike", "within": 1})
    got = results.metric_values(m)
    first = results.first_round("us_strike")
    runs = results.runs
    want = np.where(first < 0, np.nan, ((runs["outcome"] == "war") & (runs["end_round"] <= first + 1)).to_numpy(float))
    np.testing.assert_array_equal(got, want)


def test_first_round_matches_the_move_record(results) -> None:
    moves = _moves(results)
    for action in ("us_strike", "ir_attack", "kh_rockets"):
        first = moves[moves["action"] == action].groupby("run")["round"].min()
        want = np.full(results.n_runs, -1)
        want[first.index.to_numpy()] = first.to_numpy()
        np.testing.assert_array_equal(results.first_round(action), want)


def test_given_a_state_reached_matches_the_move_record(mini, results) -> None:
    moves = _moves(results)
    reached = (moves.groupby("run")["tension"].max() >= 3).reindex(range(RUNS), fill_value=False).to_numpy()
    # tension starts at 1 (< 3): the initial value never qualifies on its own
    m = Metric(mean_casualties="US", given={"reached": {"var": "tension", "op": "ge", "value": 3}})
    got = results.metric_values(m)
    np.testing.assert_array_equal(~np.isnan(got), reached)
    deaths = results.runs["casualties_US"].to_numpy(float)
    assert results.metric_value(m) == pytest.approx(deaths[reached].mean(), rel=1e-15)
    low = Metric(mean_casualties="US", given={"reached": {"var": "tension", "op": "le", "value": 0}})
    reached_low = (np.minimum(moves.groupby("run")["tension"].min(), 1) <= 0).reindex(range(RUNS), fill_value=False)
    np.testing.assert_array_equal(~np.isnan(results.metric_values(low)), reached_low.to_numpy())


def test_given_took_and_not_took_split_the_runs(results) -> None:
    took = Metric(mean_end_round=True, given={"took": "us_strike"})
    never = Metric(mean_end_round=True, given={"not_took": "us_strike"})
    a, b = results.metric_values(took), results.metric_values(never)
    assert (np.isnan(a) != np.isnan(b)).all()


def test_rate_per_round_at_risk_is_events_over_rounds(results) -> None:
    runs = results.runs
    m = Metric(mean_casualties="US", per_round=True)
    # the rate: all deaths over all rounds the runs were going (a run ending in round r was at risk r rounds)
    want = runs["casualties_US"].sum() / runs["end_round"].sum()
    assert results.metric_value(m) == pytest.approx(want, rel=1e-15)
    # rounds in which the action was chosen, per round at risk, from the move record
    moves = _moves(results)
    rounds = moves[moves["action"] == "kh_rockets"].groupby("run")["round"].nunique().sum()
    act = Metric(action_probability="kh_rockets", per_round=True)
    assert results.metric_value(act) == pytest.approx(rounds / runs["end_round"].sum(), rel=1e-15)


def test_plain_metrics_are_unchanged_by_the_ratio_form(results) -> None:
    m = Metric(outcome_probability="war")
    num, den = results.metric_parts(m)
    assert (den == 1).all()
    np.testing.assert_array_equal(results.metric_values(m), (results.runs["outcome"] == "war").to_numpy(float))


# ----- the paired ratio comparison ----------------------------------------------------------


def test_ratio_difference_with_unit_denominators_is_the_paired_difference() -> None:
    rng = np.random.default_rng(3)
    t, b = rng.random(50), rng.random(50)
    ones = np.ones(50)
    r = paired_ratio_difference(t, ones, b, ones)
    p = paired_difference(t, b)
    assert (r.diff, r.se, r.ci_low, r.ci_high) == (p.diff, p.se, p.ci_low, p.ci_high)


def test_ratio_difference_standard_error_is_the_ratio_estimators() -> None:
    """Against a constant-zero baseline the standard error is the ratio estimator's,
    sd(y − R x) / (mean(x) sqrt(n)) (Cochran 1977, Sampling Techniques, §6.3, eq. 6.9 with the
    finite-population correction dropped)."""
    rng = np.random.default_rng(4)
    x = rng.integers(1, 20, 400).astype(float)
    y = rng.poisson(0.3 * x).astype(float)
    zero = np.zeros(400)
    est = paired_ratio_difference(y, x, zero, np.ones(400))
    r = y.sum() / x.sum()
    assert est.diff == pytest.approx(r, rel=1e-15)
    assert est.se == pytest.approx((y - r * x).std(ddof=1) / (x.mean() * np.sqrt(400)), rel=1e-12)


def test_conditional_mean_difference_covers_the_truth() -> None:
    """Coverage of the 95% interval for a difference of conditional means where the conditioning
    event differs between arms (treatment defined in 70% of runs, baseline in 40%): over 400
    synthetic studies the interval holds the true difference (0.2) in 95% ± 3.3% of them (3 binomial
    standard errors at n = 400)."""
    rng = np.random.default_rng(6)
    covered = 0
    for _ in range(400):
        n = 300
        u = rng.random(n)  # a shared draw, as common random numbers make
        dt, db = (u < 0.7).astype(float), (u < 0.4).astype(float)
        yt = (rng.random(n) < 0.5).astype(float) * dt
        yb = (rng.random(n) < 0.3).astype(float) * db
        e = paired_ratio_difference(yt, dt, yb, db)
        covered += e.ci_low <= 0.2 <= e.ci_high
    assert abs(covered / 400 - 0.95) <= 3 * np.sqrt(0.95 * 0.05 / 400)


def test_an_arm_defined_nowhere_has_no_value() -> None:
    e = paired_ratio_difference(np.zeros(5), np.zeros(5), np.ones(5), np.ones(5))
    assert np.isnan(e.treatment) and np.isnan(e.diff) and e.n_treatment == 0 and e.n_baseline == 5


# ----- conditional forbids --------------------------------------------------------------------


def test_a_conditional_forbid_applies_only_where_its_condition_holds(mini) -> None:
    when = VarCondition(var="tension", op="ge", value=2)
    res = simulate(mini, POLICY, 2000, 8, [Forbid(forbid=ForbidSpec(actor="Iran", action="ir_attack", when=when))], paths=True)
    moves = _moves(res)
    # the state before each move is the state after the previous one (the initial state first)
    moves["before"] = moves.groupby("run")["tension"].shift(1).fillna(1).astype(int)
    iran = moves[moves["actor"] == "Iran"]
    assert not ((iran["action"] == "ir_attack") & (iran["before"] >= 2)).any()
    assert ((iran["action"] == "ir_attack") & (iran["before"] < 2)).any()
    everywhere = simulate(mini, POLICY, 2000, 8, [Forbid(forbid=ForbidSpec(actor="Iran", action="ir_attack"))])
    assert not everywhere.runs["took_ir_attack"].any()
