"""The simulator on endings (tests/crisis/data/endgame.yaml): an action that ends the crisis, the
casualties an outcome carries, a red line's `on_answer` effects — the numba kernel and the numpy
reference give the same bits, and the draws match the distributions they come from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crisislab.model import lower
from crisislab.scenario import Force, ForceSpec, VarCondition, load_scenario, loads_scenario
from crisislab.simulation import Arm, FixedPolicy, MyopicLogitPolicy, compile_arm, simulate
from crisislab.simulation._engine import simulate_chunk

ENDGAME = Path(__file__).resolve().parents[1] / "crisis" / "data" / "endgame.yaml"
# A: a_calm, a_strike, a_war; B: b_calm, b_deal, b_strike (rows: types tough, soft).
A_SIGMA = np.array([[0.3, 0.6, 0.1], [0.7, 0.25, 0.05]])
B_SIGMA = np.array([[0.4, 0.1, 0.5], [0.6, 0.3, 0.1]])
EXACT = ("types", "outcome", "end_round", "casualties", "audience", "rl_status", "taken", "rounds_taken", "state_max",
         "state_min", "state_hist", "belief_sum", "belief_sum_alive", "n_alive", "path_hash", "actions")
SE = 4.0  # Monte Carlo checks: within 4 standard errors (seeded, so a fixed outcome)


@pytest.fixture(scope="module")
def endgame():
    return load_scenario(ENDGAME)


@pytest.fixture(scope="module")
def long_game():
    """The same game over 6 rounds, so that red lines are crossed, answered and runs end in every way."""
    return loads_scenario(ENDGAME.read_text(encoding="utf-8").replace("horizon: 2", "horizon: 6"), "<endgame-6>")


def _both(spec, policy, arm, n=3000, seed=11):
    runs = np.arange(50, 50 + n)
    k = simulate_chunk(spec, policy, seed, runs, arm, record_actions=True, record_paths=True, engine="kernel")
    r = simulate_chunk(spec, policy, seed, runs, arm, record_actions=True, record_paths=True, engine="reference")
    return k, r


def _assert_same(k, r) -> None:
    for name in EXACT:
        np.testing.assert_array_equal(getattr(k, name), getattr(r, name), err_msg=name)
    assert k.run_steps == r.run_steps
    ok = np.lexsort((k.path_rows["move"], k.path_rows["round"], k.path_rows["run"]))
    orf = np.lexsort((r.path_rows["move"], r.path_rows["round"], r.path_rows["run"]))
    for col in ("run", "round", "move", "action", "executed", "state"):
        np.testing.assert_array_equal(np.asarray(k.path_rows[col])[ok], np.asarray(r.path_rows[col])[orf], err_msg=col)


@pytest.mark.parametrize("policy", ["fixed", "myopic"])
def test_kernel_and_reference_give_the_same_bits(long_game, policy) -> None:
    spec = lower(long_game)
    pol = FixedPolicy({"A": A_SIGMA, "B": B_SIGMA}) if policy == "fixed" else MyopicLogitPolicy(long_game)
    k, r = _both(spec, pol, Arm())
    _assert_same(k, r)
    # The features are exercised: runs end in war (by choice, by error, by hazard, by condition),
    # in the deal (no condition of its own), red lines are answered, war kills on both sides.
    outcomes = list(spec.outcomes)
    counts = np.bincount(r.outcome, minlength=len(outcomes))
    assert counts[outcomes.index("war")] > 100 and counts[outcomes.index("deal")] > 50
    assert (r.rl_status[:, 0] == 2).sum() > 20
    war = r.outcome == outcomes.index("war")
    assert r.casualties[war, spec.sides.index("B")].sum() > 0
    assert r.casualties[~war, spec.sides.index("B")].sum() == 0  # B's deaths come only with war


def test_an_ending_choice_draws_the_outcome_s_casualties(endgame) -> None:
    # A plays a_war at its first move: every run ends in war in round 1 before anyone else moves,
    # so a run's deaths are the outcome's draws alone: A ~ NB(mean 2, size 1), B ~ Poisson(1.5).
    pol = FixedPolicy({"A": np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]), "B": B_SIGMA})
    n = 20_000
    res = simulate(endgame, pol, runs=n, seed=3)
    df = res.runs
    assert (df["outcome"] == "war").all() and (df["end_round"] == 1).all()
    a, b = df["casualties_A"].to_numpy(float), df["casualties_B"].to_numpy(float)
    # negative binomial variance mean + mean²/size = 2 + 4 = 6; Poisson variance = mean
    assert abs(a.mean() - 2.0) < SE * np.sqrt(6.0 / n)
    assert abs(b.mean() - 1.5) < SE * np.sqrt(1.5 / n)
    assert abs(a.var() - 6.0) < 0.5 and abs(b.var() - 1.5) < 0.15
    assert np.corrcoef(a, b)[0, 1] == pytest.approx(0.0, abs=SE / np.sqrt(n))  # independent slots
    # The claims' metric counts them: mean deaths of B are war's deaths.
    from crisislab.scenario import Metric

    assert res.metric_value(Metric.model_validate({"mean_casualties": "B"})) == pytest.approx(b.mean(), abs=1e-12)


def test_outcome_casualties_do_not_depend_on_chunking(long_game) -> None:
    spec = lower(long_game)
    pol = FixedPolicy({"A": A_SIGMA, "B": B_SIGMA})
    runs = np.arange(0, 2000)
    whole = simulate_chunk(spec, pol, 5, runs, Arm(), engine="reference")
    parts = [simulate_chunk(spec, pol, 5, runs[i : i + 700], Arm(), engine="kernel") for i in range(0, 2000, 700)]
    np.testing.assert_array_equal(whole.casualties, np.concatenate([p.casualties for p in parts]))
    np.testing.assert_array_equal(whole.outcome, np.concatenate([p.outcome for p in parts]))


def test_the_action_s_ending_wins_over_an_outcome_condition(long_game) -> None:
    # B forced to b_deal where tension is 2: tension becomes 3, war's condition, yet the run ends
    # in the deal at that move (the action's ending wins).
    spec = lower(long_game)
    pol = FixedPolicy({"A": A_SIGMA, "B": B_SIGMA})
    arm = compile_arm(spec, long_game, [Force(force=ForceSpec(actor="B", action="b_deal",
                                                             when=VarCondition(var="tension", op="eq", value=2)))])
    for engine in ("reference", "kernel"):
        res = simulate_chunk(spec, pol, 9, np.arange(3000), arm, record_paths=True, engine=engine)
        rows = res.path_rows
        deal = spec.action_index("b_deal")
        at = np.flatnonzero(rows["executed"] == deal)
        assert at.size > 100
        assert (rows["state"][at, spec.var_ids.index("tension")] == 3).any()
        ended = res.outcome[np.searchsorted(res.runs, rows["run"][at])]
        assert (ended == list(spec.outcomes).index("deal")).all()


def test_an_answer_saves_face(long_game) -> None:
    # A calms, except that it is forced to a_strike (rung 2) while its red line is pending, which
    # answers it; B calms or strikes (which kills). At an answering move a_strike adds 1 to tension and on_answer takes 1
    # away: with no error (0.85 × 0.8 of the moves where a_strike executes, 0.8 once the runaway
    # error has not fired) tension is unchanged, with collateral it rises by at most 1. Without
    # on_answer it would rise at every such move.
    from crisislab.scenario import RedLineCondition

    spec = lower(long_game)
    calm = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    pol = FixedPolicy({"A": calm, "B": np.array([[0.5, 0.0, 0.5], [0.5, 0.0, 0.5]])})
    arm = compile_arm(spec, long_game, [Force(force=ForceSpec(actor="A", action="a_strike",
                                                             when=RedLineCondition(red_line="a_deaths", is_="pending")))])
    t = spec.var_ids.index("tension")
    strike = spec.action_index("a_strike")
    for engine in ("reference", "kernel"):
        res = simulate_chunk(spec, pol, 2, np.arange(6000), arm, record_paths=True, engine=engine)
        rows = res.path_rows
        order = np.lexsort((rows["move"], rows["round"], rows["run"]))
        run, ex, st = rows["run"][order], rows["executed"][order], rows["state"][order]
        at = np.flatnonzero((ex == strike) & np.concatenate([[False], run[1:] == run[:-1]]))
        changes = st[at, t] - st[at - 1, t]
        assert changes.size > 100
        assert (changes <= 1).all()
        assert abs(np.mean(changes == 0) - 0.8) < SE * np.sqrt(0.8 * 0.2 / changes.size)
