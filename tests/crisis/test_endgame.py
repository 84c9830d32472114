"""The crisis engine on endings: an action that ends the crisis (a choice, an error's `becomes`, an
environment hazard), the casualties an outcome carries, and a red line's `on_answer` effects —
compiled tables against closed forms of one move, and the solution against the exact engine on
the unrolled tree (tests/crisis/data/endgame.yaml)."""

from __future__ import annotations

import numpy as np
import pytest

from crisislab.crisis import compile_scenario, solve
from crisislab.crisis._unroll import crisis_profile, unroll
from crisislab.efg import logit_qre_at
from crisislab.scenario import load_scenario

from .conftest import DATA

EXACT = 1e-12  # closed forms of compiled tables: sums of a few products
AGREE = 1e-3  # crisis engine vs exact logit QRE at a fine grid (as tests/crisis/test_solve.py)


@pytest.fixture(scope="module")
def endgame():
    return load_scenario(DATA / "endgame.yaml")


@pytest.fixture(scope="module")
def cg1(endgame):
    return compile_scenario(endgame, horizon=1)


def _row(cg, d: int, state: dict, action: str):
    """Branches (next, prob, reward (n_actors, k_max), tdisc) of `action` at decision d in `state`."""
    m = cg.model
    cols = np.zeros((1, len(cg.columns)), np.int64)
    for name, v in state.items():
        cols[0, cg.columns.index(name)] = v
    s = int(cg.lookup(d, cols)[0])
    assert s >= 0, f"state {state} not reachable at decision {d}"
    mover = int(cg.dec_mover[d])
    a = [m.actions[g].id for g in m.ladder(mover)].index(action)
    A = cg.avail[d].shape[1]
    lo, hi = int(cg.row_ptr[d][s * A + a]), int(cg.row_ptr[d][s * A + a + 1])
    return cg.nxt[d][lo:hi], cg.prob[d][lo:hi], cg.reward[d][lo:hi], cg.tdisc[d][lo:hi]


def _o(cg, name: str) -> int:
    return -1 - cg.outcomes.index(name)


def test_an_ending_choice_pays_its_outcome_and_the_expected_cost_of_its_casualties(cg1) -> None:
    # A (round 1, initial state) chooses a_war: the crisis ends in war at once. Per actor and type:
    # the act's cost, war's terminal payoff, and Σ_side mean deaths × payoff per death
    # (A: 2.0 deaths of A × A's -0.2 / -0.4; B: 1.5 deaths of B × -0.3 + 2.0 deaths of A × 0.05).
    nxt, prob, rew, tdisc = _row(cg1, 0, {"tension": 1}, "a_war")
    assert list(nxt) == [_o(cg1, "war")] and prob[0] == pytest.approx(1.0, abs=EXACT)
    expect_a = [0.2 - 2.0 + 2.0 * -0.2, -1.5 - 4.0 + 2.0 * -0.4]
    expect_b = [-1.0 + 1.5 * -0.3 + 2.0 * 0.05, -5.0 + 1.5 * -0.3 + 2.0 * 0.05]
    np.testing.assert_allclose(rew[0, 0], expect_a, rtol=0, atol=EXACT)
    np.testing.assert_allclose(rew[0, 1], expect_b, rtol=0, atol=EXACT)
    assert tdisc[0] == pytest.approx(1.0, abs=EXACT)


def test_casualty_payoffs_stay_when_terminal_payoffs_are_swapped(cg1) -> None:
    # Perceived terminal payoffs replace the terminal part only: with every terminal payoff zero,
    # the branch keeps the act's cost and the expected casualty payoff.
    zero = cg1.with_terminal(np.zeros_like(cg1.model.terminal))
    _, _, rew, _ = _row(zero, 0, {"tension": 1}, "a_war")
    np.testing.assert_allclose(rew[0, 0], [0.2 + 2.0 * -0.2, -1.5 + 2.0 * -0.4], rtol=0, atol=EXACT)
    np.testing.assert_allclose(rew[0, 1], [1.5 * -0.3 + 2.0 * 0.05] * 2, rtol=0, atol=EXACT)


def test_the_action_s_ending_wins_over_an_outcome_condition(cg1) -> None:
    # B's b_deal adds 2 to tension 2: tension 3 is war's condition, but the deal ends the crisis.
    nxt, prob, _, _ = _row(cg1, 1, {"tension": 2}, "b_deal")
    assert list(nxt) == [_o(cg1, "deal")] and prob[0] == pytest.approx(1.0, abs=EXACT)


def test_the_hazard_ends_the_crisis_with_its_probability(cg1) -> None:
    # B calms from tension 2 to 1; the hazard H then fires with table[1] = 0.05 and ends in war
    # (same round: discount factor 1), else the horizon of this one-round game is reached.
    nxt, prob, rew, tdisc = _row(cg1, 1, {"tension": 2}, "b_calm")
    war = nxt == _o(cg1, "war")
    assert prob[war].sum() == pytest.approx(0.05, abs=EXACT)
    assert prob[nxt == _o(cg1, "stalemate")].sum() == pytest.approx(0.95, abs=EXACT)
    np.testing.assert_allclose(rew[war][0, 1], [-1.0 - 0.45 + 0.1, -5.0 - 0.45 + 0.1], rtol=0, atol=EXACT)
    assert tdisc[war][0] == pytest.approx(1.0, abs=EXACT)


def test_an_error_that_becomes_an_ending_act_ends_with_it(cg1) -> None:
    # a_strike at tension 1 with no deaths: the runaway error (0.15) executes a_war instead, which
    # ends in war; otherwise tension 2 (3 after collateral, 0.2: war by the condition). Then P
    # attacks (table[2] = 0.5) and may kill; B has not moved yet, so only those two routes end it.
    nxt, prob, _, _ = _row(cg1, 0, {"tension": 1}, "a_strike")
    p_war = prob[nxt == _o(cg1, "war")].sum()
    # war: runaway 0.15; or collateral 0.85 × 0.2 (tension 3); or tension 2 (0.85 × 0.8) and P's attack (0.5) → 3
    assert p_war == pytest.approx(0.15 + 0.85 * 0.2 + 0.85 * 0.8 * 0.5, abs=EXACT)


def test_an_answer_applies_its_on_answer_effects(endgame) -> None:
    # Round 2, A's red line pending (deaths 1, one move left): a_strike answers it, so after the
    # act's +1 the answer's -1 applies: tension stays 1 unless an error or P moves it.
    cg = compile_scenario(endgame, horizon=2)
    d = cg.decision_index(2, 0)
    st = {"tension": 1, "deaths": 1, "red_line:a_deaths:status": 1, "red_line:a_deaths:left": 1}
    nxt, prob, _, _ = _row(cg, d, st, "a_strike")
    alive = nxt >= 0
    nxt_states = cg.states[cg.dec_states[d + 1][nxt[alive]]]
    tension = nxt_states[:, cg.columns.index("tension")]
    status = nxt_states[:, cg.columns.index("red_line:a_deaths:status")]
    assert (status == 2).all()  # answered
    # no error (0.85 × 0.8) and P quiet (1 - table[1] = 0.7): tension 1 + 1 - 1 = 1
    assert prob[alive][tension == 1].sum() == pytest.approx(0.85 * 0.8 * 0.7, abs=EXACT)


@pytest.mark.parametrize("horizon", [1, 2])
def test_the_solution_agrees_with_the_exact_engine_on_the_unrolled_tree(endgame, horizon) -> None:
    cg = compile_scenario(endgame, horizon=horizon)
    u = unroll(cg)
    q = logit_qre_at(u.game, 3.0)
    assert q.success
    sol = solve(cg, grid=21, hypergame=False)
    assert np.abs(crisis_profile(sol, u) - q.profile).max() < AGREE
