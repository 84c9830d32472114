"""The Game representation, the builder and profile evaluation on small hand-solved games."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from crisislab.efg import (
    GameBuilder,
    action_values,
    expected_payoffs,
    max_regret,
    node_values,
    profile_from_nested,
    profile_to_nested,
    uniform_profile,
)
from crisislab.errors import SolverError, UserError

TOL = 1e-12


def entry_game():
    """A moves L (1, −1) or R; then B moves x (0, 0) or y (2, −2)."""
    b = GameBuilder(["A", "B"], title="entry")
    l, r = b.decision(b.root, "A", "a", ["L", "R"])
    b.terminal(l, [1, -1])
    x, y = b.decision(r, "B", "b", ["x", "y"])
    b.terminal(x, [0, 0])
    b.terminal(y, [2, -2])
    return b.build()


def test_structure_arrays():
    g = entry_game()
    assert g.n_nodes == 5 and g.n_infosets == 2 and g.n_actions_total == 4
    np.testing.assert_array_equal(g.parent, [-1, 0, 0, 2, 2])
    np.testing.assert_array_equal(g.kind, [1, 0, 1, 0, 0])
    np.testing.assert_array_equal(g.depth, [0, 1, 1, 2, 2])
    np.testing.assert_array_equal(g.in_action, [-1, 0, 1, 2, 3])
    np.testing.assert_array_equal(g.payoff[g.terminals], [[1, -1], [0, 0], [2, -2]])
    assert g.is_zero_sum and g.is_perfect_information and g.perfect_recall
    with pytest.raises(ValueError):
        g.parent[0] = 3  # read-only arrays


@pytest.mark.parametrize(
    "sigma, payoffs, q, regret",
    [
        # uniform: A gets 1 from L and (0 + 2)/2 from R; B's best reply x gains 1/2 (hand computed)
        pytest.param([0.5, 0.5, 0.5, 0.5], [1, -1], [1, 1, 0, -2], 0.5, id="uniform"),
        # A plays R, B plays x: Nash equilibrium (A: 0 vs 1 from L → regret 1)
        pytest.param([0, 1, 1, 0], [0, 0], [1, 0, 0, -2], 1.0, id="R-x"),
        # A plays L, B's infoset unreached: fallback beliefs, A gains 2 − 1 by R
        pytest.param([1, 0, 0, 1], [1, -1], [1, 2, 0, -2], 1.0, id="L-y-unreached"),
        pytest.param([1, 0, 1, 0], [1, -1], [1, 0, 0, -2], 0.0, id="L-x-equilibrium"),
    ],
)
def test_evaluation_hand_solved(sigma, payoffs, q, regret):
    g = entry_game()
    np.testing.assert_allclose(expected_payoffs(g, sigma), payoffs, atol=TOL)
    np.testing.assert_allclose(action_values(g, sigma), q, atol=TOL)
    assert max_regret(g, sigma) == pytest.approx(regret, abs=TOL)
    np.testing.assert_allclose(node_values(g, sigma)[0], payoffs, atol=TOL)


def test_interior_outcomes_are_summed_and_chance_reach():
    b = GameBuilder(["A", "B"])
    h, t = b.chance(b.root, ["H", "T"], [Fraction(1, 3), Fraction(2, 3)], payoffs=[1, 1])
    b.terminal(h, [2, 0])
    l, r = b.decision(t, "A", "a", ["l", "r"], payoffs=["1/2", 0])
    b.terminal(l, [0, 3])
    b.terminal(r, None)
    g = b.build()
    np.testing.assert_allclose(g.payoff[g.terminals], [[3, 1], [1.5, 4], [1.5, 1]])
    np.testing.assert_allclose(g.reach_chance[g.terminals], [1 / 3, 2 / 3, 2 / 3])
    # closed form: 1/3·(3,1) + 2/3·(½(1.5,4) + ½(1.5,1)) = (1 + 1, 1/3 + 5/3)
    np.testing.assert_allclose(expected_payoffs(g, uniform_profile(g)), [2.0, 2.0], atol=TOL)


def test_imperfect_recall_is_detected():
    b = GameBuilder(["A", "B"])
    l, r = b.decision(b.root, "A", "first", ["L", "R"])
    for n in (l, r):
        x, y = b.decision(n, "A", "forgot", ["x", "y"])
        b.terminal(x, [1, 0])
        b.terminal(y, [0, 1])
    g = b.build()
    assert not g.perfect_recall
    assert "infoset 2" in g.recall_violation
    with pytest.raises(SolverError, match="perfect recall"):
        expected_payoffs(g, uniform_profile(g))


@pytest.mark.parametrize(
    "call, match",
    [
        pytest.param(lambda b: b.decision(b.root, "C", "a", ["x"]), "unknown player 'C'", id="player"),
        pytest.param(lambda b: b.terminal(b.root, [1]), "expected 2 payoffs", id="payoffs"),
        pytest.param(lambda b: b.chance(b.root, ["x", "y"], [0.5, 0.6]), "sum to 1", id="probs"),
        pytest.param(lambda b: b.build(), "node root is open", id="open"),
    ],
)
def test_builder_errors(call, match):
    b = GameBuilder(["A", "B"])
    with pytest.raises(UserError, match=match):
        call(b)


def test_builder_infoset_action_mismatch():
    b = GameBuilder(["A", "B"])
    l, r = b.chance(b.root, ["l", "r"], [0.5, 0.5])
    b.decision(l, "A", "I", ["x", "y"])
    with pytest.raises(UserError, match=r"infoset 'I' of player 'A' has actions \['x', 'y'\], here"):
        b.decision(r, "A", "I", ["x", "z"])


def test_profile_nested_round_trip_and_checks():
    g = entry_game()
    sigma = np.array([0.25, 0.75, 1.0, 0.0])
    nested = profile_to_nested(g, sigma)
    assert nested == {1: {1: [0.25, 0.75]}, 2: {1: [1.0, 0.0]}}
    np.testing.assert_array_equal(profile_from_nested(g, nested), sigma)
    with pytest.raises(UserError, match="player 1 infoset 1 sum to 1.5"):
        expected_payoffs(g, [0.75, 0.75, 1, 0])
    with pytest.raises(UserError, match="shape"):
        expected_payoffs(g, [1, 0])


@pytest.mark.parametrize("n, players, ternary", [(127, 2, 0.0), (511, 3, 0.0), (300, 3, 0.3)])
def test_random_generic_game(n, players, ternary):
    from crisislab.efg.games import random_generic_game

    g = random_generic_game(n, n_players=players, seed=3, ternary=ternary)
    assert g.n_nodes == n and g.n_players == players
    assert g.perfect_recall and g.n_chance_nodes >= 1
    pay = g.payoff[g.terminals]
    assert pay.min() >= -10 and pay.max() <= 10
    assert np.unique(pay).size == pay.size  # generic: no two payoffs equal
    dec = g.kind == 1
    assert np.bincount(g.infoset[dec]).max() > 1  # imperfect information
    assert g == random_generic_game(n, n_players=players, seed=3, ternary=ternary)
    assert set(np.unique(g.n_children[g.kind != 0])) <= {2, 3}


def test_random_generic_game_refuses_even_binary_sizes():
    from crisislab.efg.games import random_generic_game
    from crisislab.errors import UserError

    with pytest.raises(UserError, match="n_nodes = 128: expected an odd number"):
        random_generic_game(128)
