"""The Monte Carlo engine on a small scenario: reproducibility, Bayes' rule, red lines, interventions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from crisislab.model import casualty_cdf, lower
from crisislab.scenario import load_scenario
from crisislab.simulation import FixedPolicy, simulate
from crisislab.simulation._rng import counter, run_keys, uniforms

MINI = Path(__file__).with_name("mini.yaml")
# σ(action | type), ladder order: US [us_wait, us_strike], Iran [ir_calm, ir_attack].
US_SIGMA = np.array([[0.3, 0.7], [0.8, 0.2]])
IRAN_SIGMA = np.array([[0.4, 0.6], [0.9, 0.1]])
Z_TOL = 4.5  # sampling checks: |estimate − truth| below 4.5 standard errors


@pytest.fixture(scope="module")
def mini():
    return load_scenario(MINI)


@pytest.fixture(scope="module")
def policy():
    return FixedPolicy({"US": US_SIGMA, "Iran": IRAN_SIGMA})


def test_results_do_not_depend_on_chunks_or_workers(mini, policy) -> None:
    a = simulate(mini, policy, 3000, seed=11, chunk=3000, workers=1)
    b = simulate(mini, policy, 3000, seed=11, chunk=701, workers=2)
    pd.testing.assert_frame_equal(a.runs, b.runs)
    np.testing.assert_array_equal(a.state_hist, b.state_hist)
    np.testing.assert_array_equal(a.belief_mean, b.belief_mean)
    assert a.path_counts == b.path_counts
    assert a.run_steps == b.run_steps


def test_a_different_seed_gives_different_runs(mini, policy) -> None:
    a = simulate(mini, policy, 500, seed=1)
    b = simulate(mini, policy, 500, seed=2)
    assert not a.runs["outcome"].equals(b.runs["outcome"])


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**63 - 1), start=st.integers(0, 10**9), split=st.integers(1, 63))
def test_uniforms_are_keyed_by_run_index_only(seed: int, start: int, split: int) -> None:
    runs = np.arange(start, start + 64)
    whole = uniforms(run_keys(seed, runs), counter(3, 1, 2))
    parts = np.concatenate(
        [uniforms(run_keys(seed, runs[:split]), counter(3, 1, 2)), uniforms(run_keys(seed, runs[split:]), counter(3, 1, 2))]
    )
    np.testing.assert_array_equal(whole, parts)
    assert ((whole >= 0) & (whole < 1)).all()


def test_uniforms_look_uniform_and_independent_across_counters() -> None:
    keys = run_keys(123, np.arange(100_000))
    u, v = uniforms(keys, counter(1, 0, 0)), uniforms(keys, counter(1, 0, 1))
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # Correlation of independent uniforms has sd 1/sqrt(n) ≈ 0.0032.
    assert abs(np.corrcoef(u, v)[0, 1]) < Z_TOL / np.sqrt(u.size)


def test_types_follow_the_true_prior(mini, policy) -> None:
    n = 20_000
    res = simulate(mini, policy, n, seed=5)
    share = (res.runs["type_US"] == "resolute").mean()
    assert abs(share - 0.6) < Z_TOL * np.sqrt(0.6 * 0.4 / n)  # prior 0.6 from mini.yaml


def test_beliefs_follow_bayes_rule_with_each_holders_prior(mini, policy) -> None:
    res = simulate(mini, policy, 400, seed=9, paths=True)
    p = res.paths
    # After the US's first move (round 1, slot 2), Iran (prior resolute 0.2, mini.yaml's
    # perception) and the US itself (true prior 0.6) hold posterior ∝ prior × σ(a | type).
    rows = p[(p["round"] == 1) & (p["actor"] == "US")]
    assert len(rows) > 50
    for prior, col in ((0.2, "belief_Iran_US_resolute"), (0.6, "belief_US_US_resolute")):
        a = np.where(rows["action"] == "us_strike", 1, 0)
        like_res, like_rest = US_SIGMA[0, a], US_SIGMA[1, a]
        expected = prior * like_res / (prior * like_res + (1 - prior) * like_rest)
        np.testing.assert_allclose(rows[col].to_numpy(), expected, rtol=1e-12)


def test_action_frequencies_match_the_policy(mini, policy) -> None:
    n = 20_000
    res = simulate(mini, policy, n, seed=4, paths=True)
    p = res.paths
    first = p[(p["round"] == 1) & (p["actor"] == "Iran")].merge(res.runs[["run", "type_Iran"]], on="run")
    for t, row in ((0, "hardline"), (1, "pragmatic")):
        sub = first[first["type_Iran"] == row]
        share = (sub["action"] == "ir_attack").mean()
        q = IRAN_SIGMA[t, 1]
        assert abs(share - q) < Z_TOL * np.sqrt(q * (1 - q) / len(sub))


def test_forbid_and_force(mini, policy) -> None:
    from crisislab.scenario import Forbid, ForbidSpec, Force, ForceSpec

    no = simulate(mini, policy, 2000, seed=3, interventions=[Forbid(forbid=ForbidSpec(actor="US", action="us_strike"))])
    assert not no.runs["took_us_strike"].any()
    yes = simulate(
        mini, policy, 2000, seed=3, paths=True, interventions=[Force(force=ForceSpec(actor="US", action="us_strike", round=2))]
    )
    p = yes.paths
    us2 = p[(p["round"] == 2) & (p["actor"] == "US")]
    assert len(us2) > 0 and (us2["action"] == "us_strike").all()


FEARON = Path(__file__).parents[2] / "scenarios" / "fearon-audience-costs.yaml"


def test_a_force_applies_only_where_the_action_is_available() -> None:
    """fearon-audience-costs.yaml: a_fight is available only at stage 3 (B resisted in round 1).
    Forced at round 1 (stage 0) or on `stage == 0` it never applies and the runs are the
    scenario's, common random numbers making them identical; forced at round 2 it is played at
    every A move of round 2 (all at stage 3: the other stages have ended the run by then)."""
    from crisislab.scenario import Force, ForceSpec, VarCondition

    sc = load_scenario(FEARON)
    # Ladders: A [a_back_down, a_status_quo, a_threaten, a_fight], B [b_concede, b_resist].
    pol = FixedPolicy({"A": np.array([[0.1, 0.3, 0.4, 0.2], [0.3, 0.2, 0.3, 0.2]]), "B": np.array([[0.45, 0.55]])})

    def run(**kw):
        ivs = [Force(force=ForceSpec(actor="A", action="a_fight", **kw))] if kw else []
        return simulate(sc, pol, 3000, seed=5, paths=True, interventions=ivs)

    base = run()
    for kw in ({"round": 1}, {"when": VarCondition(var="stage", op="eq", value=0)}):
        forced = run(**kw)
        pd.testing.assert_frame_equal(forced.paths, base.paths)
        pd.testing.assert_frame_equal(forced.runs, base.runs)
    p = base.paths
    assert not (p["action"] == "a_fight")[p["round"] == 1].any()
    # With this policy war is the share of runs where A threatens, B resists and A fights, far from 1.
    assert 0.0 < (base.runs["outcome"] == "war").mean() < 0.5
    forced = run(round=2).paths
    a2 = forced[(forced["round"] == 2) & (forced["actor"] == "A")]
    assert len(a2) > 0 and (a2["action"] == "a_fight").all()
    pd.testing.assert_frame_equal(forced[forced["round"] == 1], p[p["round"] == 1])


def test_audience_cost_is_paid_exactly_when_the_red_line_fails(mini, policy) -> None:
    res = simulate(mini, policy, 5000, seed=8).runs
    failed = res["red_line_american_deaths"] == "failed"
    assert failed.any() and (~failed).any()
    # mini.yaml: audience_cost resolute −3.0, restrained −2.0, scale 1.5.
    expected = np.where(res["type_US"] == "resolute", -4.5, -3.0)
    np.testing.assert_allclose(res.loc[failed, "audience_cost_US"], expected[failed.to_numpy()])
    assert (res.loc[~failed, "audience_cost_US"] == 0).all()


def test_runs_stop_at_their_outcome(mini, policy) -> None:
    res = simulate(mini, policy, 3000, seed=2, paths=True)
    last = res.paths.groupby("run")["round"].max()
    runs = res.runs.set_index("run")
    np.testing.assert_array_equal(last.to_numpy(), runs.loc[last.index, "end_round"].to_numpy())
    war = runs["outcome"] == "war"
    assert war.any()
    # After the final move of a war run the tension is at its max (mini.yaml: war when tension ≥ 4).
    final = res.paths.groupby("run").tail(1).set_index("run")
    assert (final.loc[war[war].index, "tension"] == 4).all()


@pytest.mark.parametrize(
    ("mean", "dispersion"),
    [pytest.param(2.0, 1.0, id="negbin"), pytest.param(0.5, None, id="poisson"), pytest.param(176.0, 50.0, id="airliner")],
)
def test_casualty_table_has_the_stated_mean_and_variance(mean: float, dispersion: float | None) -> None:
    cdf = casualty_cdf(mean, dispersion)
    pmf = np.diff(np.concatenate([[0.0], cdf]))
    k = np.arange(pmf.size)
    m = (k * pmf).sum()
    var = (k * k * pmf).sum() - m * m
    # scenario format: variance = mean + mean²/dispersion (Poisson: = mean).
    expected_var = mean + (0 if dispersion is None else mean**2 / dispersion)
    assert m == pytest.approx(mean, rel=1e-6)
    assert var == pytest.approx(expected_var, rel=1e-5)


def test_spec_reads_the_scenario(mini) -> None:
    spec = lower(mini)
    assert spec.actors == ("US", "Iran")
    assert [m.id for m in spec.movers] == ["Iran", "KH", "US"]
    # Iran's perceived prior about the US (0.2, 0.8) and the true priors elsewhere.
    np.testing.assert_allclose(spec.initial_beliefs[1], [0.2, 0.8, 0.5, 0.5])
    np.testing.assert_allclose(spec.initial_beliefs[0], [0.6, 0.4, 0.5, 0.5])


def test_contradictory_interventions_built_in_code_are_user_errors(mini) -> None:
    """The contradictions `validate` reports in claims, for intervention items passed to `simulate`."""
    from crisislab.errors import UserError
    from crisislab.scenario import Forbid, ForbidSpec, Force, ForceSpec
    from crisislab.simulation import InterventionError, compile_arm

    spec = lower(mini)
    strike = Forbid(forbid=ForbidSpec(actor="US", action="us_strike"))
    wait = Forbid(forbid=ForbidSpec(actor="US", action="us_wait"))
    with pytest.raises(InterventionError, match="'us_strike' is both forced and forbidden") as info:
        compile_arm(spec, mini, [strike, Force(force=ForceSpec(actor="US", action="us_strike", round=1))])
    assert isinstance(info.value, UserError)
    with pytest.raises(InterventionError, match="every action of US is forbidden"):
        compile_arm(spec, mini, [strike, wait])
    assert compile_arm(spec, mini, [strike]).forbidden == frozenset({spec.action_index("us_strike")})
