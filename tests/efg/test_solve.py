"""Backward induction and CFR+, and the poker builders, checked against closed forms, Gambit and OpenSpiel."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from crisislab.efg import (
    GeneralSumWarning,
    agent_max_regret,
    exploitability,
    expected_payoffs,
    read_efg,
    solve_cfr,
    solve_spe,
    uniform_profile,
    write_efg,
)
from crisislab.efg.games import centipede, kuhn_poker, leduc_poker, random_game
from crisislab.errors import SolverError

GAMES = Path(__file__).parent / "games"
KUHN_VALUE = -1 / 18  # Kuhn (1950); OpenSpiel's cfr_test.py asserts the same value for player 1
CFR_TOL = 1e-3


def test_kuhn_cfr_plus_reaches_the_game_value():
    sol = solve_cfr(kuhn_poker(), iterations=1000)
    assert sol.payoffs[0] == pytest.approx(KUHN_VALUE, abs=CFR_TOL)
    assert sol.info["exploitability"] < CFR_TOL
    assert sol.method == "cfr" and sol.params["iterations"] == 1000
    assert sol.max_regret >= 0
    with pytest.raises(ValueError):
        sol.profile[0] = 1.0  # frozen result


def test_cfr_plus_exploitability_falls_on_leduc():
    game = leduc_poker()
    few = solve_cfr(game, iterations=10).info["exploitability"]
    many = solve_cfr(game, iterations=200).info["exploitability"]
    assert many < few / 5
    assert exploitability(game, uniform_profile(game)) > few


def test_cfr_warns_on_general_sum():
    game = centipede(4)
    with pytest.warns(GeneralSumWarning, match="general-sum"):
        solve_cfr(game, iterations=5)


def test_cfr_argument_checks():
    with pytest.raises(SolverError, match="iterations must be a positive integer, got 0"):
        solve_cfr(kuhn_poker(), iterations=0)


@pytest.mark.parametrize("n_moves", [2, 5, 6])
def test_centipede_takes_immediately(n_moves):
    # closed form: backward induction takes at every move; player 1 gets growth^2 = 4, player 2 gets 1
    sol = solve_spe(centipede(n_moves))
    assert sol.profile.reshape(-1, 2).tolist() == [[1.0, 0.0]] * n_moves
    np.testing.assert_array_equal(sol.payoffs, [4, 1])
    assert sol.max_regret == 0.0


def test_spe_rejects_imperfect_information():
    with pytest.raises(SolverError, match="needs perfect information.*use method 'cfr'"):
        solve_spe(kuhn_poker())


def _flat(game, gambit_profile):
    """pygambit profile → our flat array (Gambit lists a player's infosets in order of appearance)."""
    sigma = np.zeros(game.n_actions_total)
    for p, mb in enumerate(gambit_profile):
        infs = np.flatnonzero(game.infoset_player == p)
        for i, (_, ma) in zip(infs, mb):
            a = game.action_offset[i]
            sigma[a : a + game.infoset_n_actions[i]] = [float(x) for _, x in ma]
    return sigma


@pytest.mark.parametrize(
    "game",
    [
        # small games only: Gambit enumerates every pure agent profile (2^decision nodes)
        pytest.param(centipede(4), id="centipede4"),
        pytest.param(random_game(3, seed=1, observe=True), id="random-d3-b2-chance"),
        pytest.param(random_game(3, seed=5, observe=True, chance_root=False), id="random-d3-b2"),
    ],
)
def test_spe_is_among_gambits_agent_equilibria(game, tmp_path):
    """Gambit 17 has no SPE routine; its pure agent equilibria contain every SPE, and in a
    perfect-information game an agent equilibrium is subgame perfect iff no node's mover gains
    by deviating there (agent_max_regret with beliefs 1 at one-node infosets)."""
    import pygambit as gbt

    path = tmp_path / "g.efg"
    write_efg(game, path)
    eqs = [_flat(game, e) for e in gbt.nash.enumpure_agent_solve(gbt.read_efg(str(path))).equilibria]
    sol = solve_spe(game)
    subgame_perfect = [e for e in eqs if agent_max_regret(game, e, unreached="uniform") == 0.0]
    assert subgame_perfect  # Gambit's list holds at least one SPE (it exists by Kuhn's theorem)
    assert any(np.array_equal(sol.profile, e) for e in subgame_perfect)
    assert agent_max_regret(game, sol.profile, unreached="uniform") == 0.0


def _openspiel_sizes(name):
    import pyspiel

    game = pyspiel.load_game(name)
    histories, infosets, stack = 0, set(), [game.new_initial_state()]
    while stack:
        s = stack.pop()
        histories += 1
        if s.is_terminal():
            continue
        if not s.is_chance_node():
            infosets.add(s.information_state_string())
        stack.extend(s.child(a) for a in s.legal_actions())
    return game, histories, len(infosets)


@pytest.mark.parametrize("name, build", [("kuhn_poker", kuhn_poker), ("leduc_poker", leduc_poker)])
def test_poker_matches_openspiel(name, build):
    osg, histories, infosets = _openspiel_sizes(name)
    game = build()
    assert game.n_nodes == histories and game.n_infosets == infosets
    # same rules and payoffs: value of the uniform profile equals OpenSpiel's expected game score
    from open_spiel.python import policy
    from open_spiel.python.algorithms import expected_game_score

    uniform = policy.UniformRandomPolicy(osg)
    value = expected_game_score.policy_value(osg.new_initial_state(), [uniform, uniform])
    np.testing.assert_allclose(expected_payoffs(game, uniform_profile(game)), value, atol=1e-12)


def _run_cli(args, capsys):
    """Run the `crisislab` entry point in-process; returns (exit status, stdout, stderr)."""
    from crisislab import cli

    argv = sys.argv
    sys.argv = ["crisislab", *args]
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = argv
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_solve_json_contract(capsys):
    code, stdout, stderr = _run_cli(
        ["efg", "solve", str(GAMES / "kuhn.efg"), "--method", "cfr", "--iterations", "300", "--json"], capsys
    )
    assert code == 0, stderr
    data = json.loads(stdout)
    assert set(data) == {"method", "profile", "max_regret", "agent_max_regret", "payoffs", "seconds",
                         "load_seconds"}
    assert data["method"] == "cfr"
    assert set(data["profile"]) == {"1", "2"} and set(data["profile"]["1"]) == {str(k) for k in range(1, 7)}
    assert all(abs(sum(p) - 1) < 1e-9 for b in data["profile"].values() for p in b.values())
    assert data["payoffs"][0] == pytest.approx(KUHN_VALUE, abs=5e-3)


def test_cli_spe_json_and_show(capsys):
    code, stdout, _ = _run_cli(["efg", "solve", str(GAMES / "centipede6.efg"), "--method", "spe", "--json"], capsys)
    assert code == 0
    data = json.loads(stdout)
    assert data["profile"]["1"] == {"1": [1.0, 0.0], "2": [1.0, 0.0], "3": [1.0, 0.0]}
    assert data["payoffs"] == [4.0, 1.0] and data["max_regret"] == 0.0
    code, stdout, _ = _run_cli(["efg", "show", str(GAMES / "kuhn.efg")], capsys)
    assert code == 0 and "58" in stdout and "perfect information" in stdout


def test_cli_bad_file_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.efg"
    bad.write_text('EFG 2 R "t" { "A" }\np "" 2 1 "" { "a" } 0\n')
    code, _, stderr = _run_cli(["efg", "show", str(bad)], capsys)
    assert code == 2
    assert "player number 2 is out of range" in stderr and ":2:" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("method, says", [("logit", "perfect recall"), ("cfr", "perfect recall"),
                                          ("spe", "perfect information")])
def test_cli_refusal_of_a_game_names_its_file(method, says, tmp_path, capsys):
    """A game every solver refuses (player 1 forgets its own first move): exit 2, one line that
    starts with the file's path and says what the game lacks."""
    path = tmp_path / "forgetful.efg"
    path.write_text(
        'EFG 2 R "forgets" { "a" "b" }\n""\n\n'
        'p "" 1 1 "" { "L" "R" } 0\n'
        'p "" 1 2 "" { "l" "r" } 0\nt "" 1 "" { 1, 0 }\nt "" 2 "" { 0, 1 }\n'
        'p "" 1 2 "" { "l" "r" } 0\nt "" 3 "" { 0, 1 }\nt "" 4 "" { 1, 0 }\n'
    )
    code, _, stderr = _run_cli(["efg", "solve", str(path), "--method", method], capsys)
    assert code == 2
    assert stderr.strip().startswith(f"{path}: ") and says in stderr
    assert "Traceback" not in stderr


def test_centipede_file_matches_builder():
    assert read_efg(GAMES / "centipede6.efg") == centipede(6)


@pytest.mark.parametrize(
    "name, build, iterations",
    [("kuhn_poker", kuhn_poker, 1), ("kuhn_poker", kuhn_poker, 100), ("leduc_poker", leduc_poker, 5)],
)
def test_cfr_plus_matches_openspiel(name, build, iterations):
    """Same algorithm (alternating updates, RM+, linear averaging): OpenSpiel's C++ CFRPlusSolver
    reaches the same exploitability after the same number of iterations."""
    import pyspiel

    osg = pyspiel.load_game(name)
    solver = pyspiel.CFRPlusSolver(osg)
    for _ in range(iterations):
        solver.evaluate_and_update_policy()
    theirs = pyspiel.exploitability(osg, solver.average_policy())
    ours = solve_cfr(build(), iterations=iterations).info["exploitability"]
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)
