"""Reading and writing Gambit .efg files: agreement with pygambit, round trips, error messages."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisislab.efg import (
    GameBuilder,
    agent_max_regret,
    expected_payoffs,
    max_regret,
    parse_efg,
    read_efg,
    to_efg,
    write_efg,
)
from crisislab.errors import EfgFormatError, UserError

import pygambit as gbt  # noqa: E402  (test extra: the oracle)
CATALOG = sorted((Path(gbt.__file__).parent / "catalog_data").rglob("*.efg"))
AGREE = 1e-10  # floating-point agreement with Gambit on the same file


def _gambit_profile(game, G, sigma):
    """Our flat profile as a pygambit profile (Gambit orders a player's infosets by appearance)."""
    data = [
        [list(sigma[game.action_offset[i] : game.action_offset[i] + game.infoset_n_actions[i]])
         for i in np.flatnonzero(game.infoset_player == p)]
        for p in range(game.n_players)
    ]
    return G.mixed_behavior_profile(data=data, rational=False)


def test_catalog_is_found():
    assert len(CATALOG) >= 20


@pytest.mark.parametrize("path", CATALOG, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_catalog_agrees_with_gambit(path, tmp_path):
    game = read_efg(path)
    G = gbt.read_efg(str(path))
    assert game == parse_efg(to_efg(game))
    assert game.perfect_recall == G.is_perfect_recall
    assert list(game.players) == list(G.players)
    if not game.perfect_recall:
        return
    # our writer's output is read by Gambit as the same game: same payoffs under the same profile
    out = tmp_path / "copy.efg"
    write_efg(game, out)
    G2 = gbt.read_efg(str(out))
    rng = np.random.default_rng(abs(hash(path.name)) % 2**32)
    for _ in range(3):
        sigma = rng.random(game.n_actions_total) + 0.01
        sigma /= np.add.reduceat(sigma, game.action_offset)[game.action_infoset]
        for gg in (G, G2):
            prof = _gambit_profile(game, gg, sigma)
            pay = np.array([float(prof.payoffs[p]) for p in gg.players])
            np.testing.assert_allclose(expected_payoffs(game, sigma), pay, atol=AGREE)
            assert max_regret(game, sigma) == pytest.approx(float(prof.max_regret()), abs=AGREE)
            assert agent_max_regret(game, sigma) == pytest.approx(float(prof.agent_max_regret()), abs=AGREE)


# ---- round trip on random games -------------------------------------------------------------------

_labels = st.text(alphabet=st.sampled_from(list('ab "\\{}\n,éx1')), max_size=5)
_numbers = st.one_of(
    st.integers(-20, 20),
    st.fractions(min_value=-5, max_value=5, max_denominator=7),
    st.decimals(min_value=-5, max_value=5, places=2).map(lambda d: str(d)),
)


@st.composite
def random_games(draw):
    n_players = draw(st.integers(1, 3))
    players = [f"P{k} {draw(_labels)}" for k in range(n_players)]
    b = GameBuilder(players, title=draw(_labels), comment=draw(_labels))
    budget = [draw(st.integers(1, 25))]

    def payoffs():
        return [draw(_numbers) for _ in range(n_players)]

    def expand(node, depth):
        choice = draw(st.sampled_from(["t", "p", "c"])) if depth < 4 and budget[0] > 0 else "t"
        interior = payoffs() if draw(st.booleans()) and choice != "t" else None
        if choice == "t":
            b.terminal(node, payoffs() if draw(st.booleans()) else None, outcome=draw(_labels),
                       label=draw(_labels))
            return
        n = draw(st.integers(1, 3))
        budget[0] -= n
        if choice == "p":
            pl = draw(st.integers(0, n_players - 1))
            key = (depth, n, draw(st.integers(0, 1)))  # shared infosets: same key ⇒ same actions
            kids = b.decision(node, pl, key, [f"a{k}" for k in range(n)], label=draw(_labels),
                              payoffs=interior, outcome=draw(_labels))
        else:
            w = [draw(st.integers(1, 4)) for _ in range(n)]
            kids = b.chance(node, [draw(_labels) for _ in range(n)], [Fraction(x, sum(w)) for x in w],
                            label=draw(_labels), payoffs=interior)
        for kid in kids:
            expand(kid, depth + 1)

    expand(b.root, 0)
    return b.build()


@settings(max_examples=40, deadline=None)
@given(random_games())
def test_write_read_round_trip(game):
    text = to_efg(game)
    back = parse_efg(text)
    assert back == game
    assert to_efg(back) == text


def test_escapes_follow_gambit():
    g = parse_efg('EFG 2 R "a \\"q\\" b\\\\c \\w" { "P" }\n""\nt "" 1 "o" { 1/2 }\n')
    assert g.title == 'a "q" b\\c \\w'  # \" and \\ are escapes; other backslashes stay
    assert g.payoff[0, 0] == 0.5
    assert parse_efg(to_efg(g)) == g


def test_outcomes_by_number_and_interior_sums():
    text = """EFG 2 R "t" { "A" "B" }
"c"
p "" 1 1 "I" { "x" "y" } 1 "bonus" { 1, 0 }
t "" 2 "o" { 0.5, -1 }
p "" 2 1 "J" { "l" "r" } 0
t "" 2
t "" 1
"""
    g = parse_efg(text)
    np.testing.assert_allclose(g.payoff[g.terminals], [[1.5, -1], [1.5, -1], [2, 0]])
    assert g.outcome_payoff_text == (("1", "0"), ("0.5", "-1"))


BAD = [
    pytest.param('EFX 2 R "t" { "A" }\nt "" 0\n', 1, "expected 'EFG'", id="magic"),
    pytest.param('EFG 2 R "t" { "A" }\n\np "" 2 1 "" { "a" } 0\nt "" 0\n', 3, "player number 2 is out of range; expected 1..1", id="player"),
    pytest.param('EFG 2 R "t" { "A" }\np "" 1 1 "" { "a" "b" } 0\nt "" 0\n', 2, "ends before all 2 children", id="truncated"),
    pytest.param('EFG 2 R "t" { "A" "B" }\nt "" 1 "o" { 1 }\n', 2, "outcome 1 has 1 payoffs, expected 2", id="n-payoffs"),
    pytest.param('EFG 2 R "t" { "A" }\nt "" 1 "o" { x }\n', 2, "found 'x'", id="payoff-number"),
    pytest.param('EFG 2 R "t" { "A" }\nc "" 1 "" { "h" 1/2 "t" 1/3 } 0\nt "" 0\nt "" 0\n', 2, "sum to 5/6, expected 1", id="chance-sum"),
    pytest.param('EFG 2 R "t" { "A" }\nc "" 1 "" { "h" -1/2 "t" 3/2 } 0\nt "" 0\nt "" 0\n', 2, "negative", id="chance-negative"),
    pytest.param('EFG 2 R "t" { "A" }\np "" 1 1 "" { "a" "b" } 0\np "" 1 1 "" { "a" "c" } 0\n', 3, "declared with actions ['a', 'b'], here ['a', 'c']", id="infoset-actions"),
    pytest.param('EFG 2 R "t" { "A" }\np "" 1 1 0\n', 2, "first appears without its actions", id="infoset-undeclared"),
    pytest.param('EFG 2 R "t" { "A" }\nt "" 3\n', 2, "outcome 3 is used before it is defined", id="outcome-undefined"),
    pytest.param('EFG 2 R "t" { "A" }\nt "" 0\nt "" 0\n', 3, "after the last node", id="extra-node"),
    pytest.param('EFG 2 R "t" { "A" }\n\nt "open 0\n', 3, "unterminated quoted string", id="unterminated"),
    pytest.param('EFG 2 R "t" { "A" }\nx "" 0\n', 2, "expected a node ('p', 'c' or 't')", id="node-kind"),
    pytest.param('EFG 2 R "t" { "A" }\n', 2, "no nodes", id="empty"),
]


@pytest.mark.parametrize("text, line, message", BAD)
def test_errors_name_file_line_and_problem(text, line, message, tmp_path):
    path = tmp_path / "bad.efg"
    path.write_text(text)
    with pytest.raises(EfgFormatError) as info:
        read_efg(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert message in str(info.value)
    assert isinstance(info.value, UserError)


def test_missing_file():
    with pytest.raises(EfgFormatError, match="no such file"):
        read_efg("/nonexistent/x.efg")


# Limits: each a FILE:LINE error naming what was expected (see the module docstring of efg/_io.py).
_PENNIES = 'EFG 2 R "t" { "A" "B" }\n""\np "" 1 1 "" { "H" "T" } 0\nt "" 1 "o" { 1, -1 }\nt "" 2 "p" { -1, 1 }\n'


@pytest.mark.parametrize("old, new, line, what", [
    # an outcome number of 1e11 built a tuple that long (2.3 GB, MemoryError)
    ('t "" 1 "o"', 't "" 100000000000 "o"', 4, "an outcome number (0 for none) of at most 1,000,000"),
    # infoset numbers are int32 arrays: 2**40 raised OverflowError
    ('p "" 1 1 ""', f'p "" 1 {2**40} ""', 3, "the information set number of at most 2,147,483,647"),
    # 10**400 raised OverflowError in float()
    ("{ 1, -1 }", "{ 1" + "0" * 400 + ", -1 }", 4, "at most 200 characters"),
    # ±1e308 made the payoff range inf: a uniform profile with max_regret 1e+308, exit 0
    ("{ 1, -1 }", "{ 1e308, -1e308 }", 4, "within ±1e+12, found 1e308"),
    # a rational is exact: 1e999999999 would be a billion-digit integer
    ("{ 1, -1 }", "{ 1e999999999, -1 }", 4, "an exponent of at most 3 digits"),
    # Python refuses int() of more than 4,300 digits (sys.get_int_max_str_digits)
    ('p "" 1 1 ""', 'p "" ' + "1" * 5001 + ' 1 ""', 3, "found an integer of 5,001 digits"),
])
def test_numbers_beyond_the_limits_are_located_errors(old: str, new: str, line: int, what: str) -> None:
    assert old in _PENNIES
    with pytest.raises(EfgFormatError) as info:
        parse_efg(_PENNIES.replace(old, new, 1), "g.efg")
    assert str(info.value).startswith(f"g.efg:{line}: ") and what in str(info.value), str(info.value)


def test_payoffs_and_numbers_at_the_limit_are_read() -> None:
    game = parse_efg(_PENNIES.replace("{ 1, -1 }", "{ 1e12, -1e12 }").replace('t "" 2', 't "" ' + "0" * 5000 + "2"), "g.efg")
    assert game.payoff_range == 2e12


def test_a_directory_or_a_huge_file_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(EfgFormatError, match=f"^{tmp_path}: cannot read the file"):
        read_efg(tmp_path)
    big = tmp_path / "big.efg"
    big.write_text(_PENNIES + 't "" 0\n' * ((9 << 20) // 7))
    with pytest.raises(EfgFormatError, match=f"^{big}:1: file too large"):
        read_efg(big)


def test_nodes_and_outcomes_times_players_are_bounded() -> None:
    from crisislab.efg._io import MAX_EFG_CELLS

    n = 100_000  # players: every node and every outcome number holds a payoff for each
    header = 'EFG 2 R "t" { ' + '"p" ' * n + "}\n"
    with pytest.raises(EfgFormatError, match="^g.efg:2: outcome number 1,000 with 100,000 players"):
        parse_efg(header + 't "" 1000 "o" { ' + "0 " * n + "}\n", "g.efg")
    tree = 'p "" 1 1 "" { ' + '"a" ' * (MAX_EFG_CELLS // n) + "} 0\n" + 't "" 0\n' * (MAX_EFG_CELLS // n)
    with pytest.raises(EfgFormatError, match=f"^g.efg:{MAX_EFG_CELLS // n + 2}: too many nodes for 100,000 players"):
        parse_efg(header + tree, "g.efg")
