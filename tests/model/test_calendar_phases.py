"""Rounds of different lengths (calendar phases) in the model and the engines.

Closed forms, with b the base period and a round of d days:
- the discount from a round to the next is δ^(d/b), a flow is worth value · d/b in the round, so a
  crisis of rounds (14, 7, 7) days at b = 14 is worth v·(1 + δ/2 + δ^1.5/2) + T·δ^1.5 to an actor
  with flow v per 14 days and terminal payoff T at the horizon;
- an environment probability p per b days is 1 − (1 − p)^(d/b) per round (a constant hazard), so
  b/d rounds of d days leave the act undone with probability exactly 1 − p, as one round of b days;
- a calendar whose rounds all last b lowers, solves and simulates bit for bit as the one-length one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from crisislab.errors import SolverError
from crisislab.model import canonical_bytes, lower
from crisislab.scenario import Scenario, load_scenario, loads_scenario

MINI = Path(__file__).resolve().parents[1] / "simulation" / "mini.yaml"

TOY = """
crisislab: 1
id: phase-toy
title: "Flows, discount and hazards over rounds of different lengths"
calendar:
  start: 2020-01-01
  base_days: 14
  phases:
    - {id: slow, days_per_round: 14, rounds: 1}
    - {id: fast, days_per_round: 7, rounds: 2}
horizon: 3
order: [A, B]
state:
  - {id: x, min: 0, max: 1, initial: 0, assumption: fixture}
actors:
  - id: A
    lam: {value: 1.0, assumption: fixture}
    types: [{id: only, prior: 1.0}]
    assumption: fixture
  - id: B
    lam: {value: 1.0, assumption: fixture}
    types: [{id: only, prior: 1.0}]
    assumption: fixture
actions:
  - {id: a_wait, actor: A, rung: 0, default: true, assumption: fixture}
  - {id: a_same, actor: A, rung: 1, assumption: fixture}
  - {id: b_wait, actor: B, rung: 0, default: true, assumption: fixture}
  - {id: b_same, actor: B, rung: 1, assumption: fixture}
outcomes:
  - {id: end, at_horizon: true}
payoffs:
  discount: {value: 0.9, assumption: fixture}
  assumption: fixture
  terminal:
    end: {A: 2.0, B: 0}
  flow:
    - {actor: A, value: 1.0}
"""

HAZARD = """
crisislab: 1
id: hazard-toy
title: "A chance act at a constant hazard"
calendar:
  start: 2020-01-01
  phases:
    - {id: slow, days_per_round: 14, rounds: 1}
    - {id: fast, days_per_round: 2, rounds: 7}
horizon: 8
order: [E, A]
state:
  - {id: x, min: 0, max: 1, initial: 0, assumption: fixture}
actors:
  - id: A
    lam: {value: 1.0, assumption: fixture}
    types: [{id: only, prior: 1.0}]
    assumption: fixture
environment:
  - id: E
    assumption: fixture
    rules:
      - when: {var: x, op: ge, value: 1}
        action: e_idle
        probability: {value: 1.0, assumption: fixture}
      - action: e_fire
        probability: {by: x, table: [0.3, 0.0], assumption: fixture}
actions:
  - {id: a_wait, actor: A, rung: 0, default: true, assumption: fixture}
  - {id: a_same, actor: A, rung: 1, assumption: fixture}
  - {id: e_idle, actor: E, assumption: fixture}
  - {id: e_fire, actor: E, effects: [{var: x, add: 1}], assumption: fixture}
outcomes:
  - {id: fired, when: {all: [{var: x, op: ge, value: 1}, {phase: fast}]}}
  - {id: early, when: {var: x, op: ge, value: 1}}
  - {id: quiet, at_horizon: true}
payoffs:
  discount: {value: 0.95, assumption: fixture}
  assumption: fixture
  terminal:
    fired: {A: 0}
    early: {A: 0}
    quiet: {A: 0}
"""


def test_discount_and_flows_follow_each_rounds_length() -> None:
    from crisislab.crisis import solve_scenario

    scn = loads_scenario(TOY)
    m = lower(scn)
    d = 0.9
    np.testing.assert_array_equal(m.round_discount, [d, d**0.5, d**0.5])
    assert m.round_starts == ("2020-01-01", "2020-01-15", "2020-01-22", "2020-01-29")
    assert [m.days_of_round(r) for r in (1, 2, 3)] == [14, 7, 7]
    assert m.phases == (("slow", 1, 1), ("fast", 2, 3)) and m.base_days == 14
    # one flow per round length, worth value · d/b
    assert sorted(float(f.value[0]) for f in m.flows) == [0.5, 1.0]
    sol = solve_scenario(scn, grid=3)
    a = m.actors.index("A")
    expected = 1.0 * (1 + d / 2 + d**1.5 / 2) + 2.0 * d**1.5
    assert sol.values0[a, a, 0] == pytest.approx(expected, abs=1e-12)


def test_environment_probabilities_are_a_constant_hazard() -> None:
    m = lower(loads_scenario(HAZARD))
    (env,) = [mv for mv in m.movers if mv.strategic < 0]
    # two rules per scenario rule (14-day round, 2-day rounds), in the scenario's order
    assert len(env.env_rules) == 4
    fast = 1 - 0.7 ** (2 / 14)
    x0 = np.zeros((1, 1), np.int64)
    rl = np.zeros((1, 0), np.int64)
    for r, p_expected in [(1, 0.3)] + [(r, fast) for r in range(2, 9)]:
        hold = [rule for rule in env.env_rules if rule.when is None or rule.when(x0, r, rl)[0]]
        first = hold[0]
        assert m.actions[first.action].id == "e_fire"
        assert first.table[0] == pytest.approx(p_expected, rel=1e-13) and first.table[1] == 0.0
    # the fast phase's seven 2-day rounds leave the act undone with probability 1 − 0.3, as 14 days do
    assert (1 - fast) ** 7 == pytest.approx(0.7, rel=1e-13)
    # a probability of 1 stays 1 in any round
    idle = [rule for rule in env.env_rules if m.actions[rule.action].id == "e_idle"]
    assert [rule.p for rule in idle] == [1.0, 1.0]


def test_simulated_hazard_matches_the_closed_form() -> None:
    from crisislab.simulation import simulate

    scn = loads_scenario(HAZARD)
    res = simulate(scn, "myopic", runs=20_000, seed=3)  # A's choice changes nothing here
    share = res.runs["outcome"].astype(str).value_counts(normalize=True)
    # P(early) = 0.3 (round 1); P(fired) = 0.7 · (1 − 0.7) = 0.21 (the fast phase); P(quiet) = 0.49.
    n = 20_000
    for outcome, p in (("early", 0.3), ("fired", 0.21), ("quiet", 0.49)):
        assert abs(share.get(outcome, 0.0) - p) < 4 * np.sqrt(p * (1 - p) / n), (outcome, share.get(outcome, 0.0))


def _phased_copy(path: Path, phases: list[dict], **cal) -> Scenario:
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(path.read_text())
    data["calendar"] = {"start": data["calendar"]["start"], "phases": phases, **cal}
    return Scenario.from_data(data)


def test_phases_of_the_base_length_change_nothing_bit_for_bit() -> None:
    from crisislab.crisis import solve_scenario
    from crisislab.simulation import simulate

    plain = load_scenario(MINI)
    phased = _phased_copy(MINI, [{"id": "a", "days_per_round": 7, "rounds": 1}, {"id": "b", "days_per_round": 7, "rounds": 3}])
    m1, m2 = lower(plain), lower(phased)
    assert m2.round_discount is None and m2.phases == (("a", 1, 1), ("b", 2, 4))
    assert canonical_bytes(dataclasses.replace(m2, phases=())) == canonical_bytes(m1)
    # an explicit base period equal to the rounds' length changes nothing either
    based = _phased_copy(MINI, [{"id": "a", "days_per_round": 7, "rounds": 4}], base_days=7)
    assert canonical_bytes(dataclasses.replace(lower(based), phases=())) == canonical_bytes(m1)
    s1, s2 = solve_scenario(plain, grid=5), solve_scenario(phased, grid=5)
    np.testing.assert_array_equal(s1.values0, s2.values0)
    for g1, g2 in zip(s1.sigma, s2.sigma, strict=True):
        for a, b in zip(g1, g2, strict=True):
            np.testing.assert_array_equal(a, b)
    r1, r2 = simulate(plain, s1, runs=2000, seed=5), simulate(phased, s2, runs=2000, seed=5)
    assert r1.runs.equals(r2.runs)


def test_dates_and_rounds_at_phase_boundaries() -> None:
    m = lower(_phased_copy(MINI, [{"id": "a", "days_per_round": 7, "rounds": 2}, {"id": "b", "days_per_round": 2, "rounds": 2}]))
    assert m.round_starts == ("2019-12-01", "2019-12-08", "2019-12-15", "2019-12-17", "2019-12-19")
    got = [m.round_of_date(d) for d in ("2019-11-30", "2019-12-01", "2019-12-14", "2019-12-15", "2019-12-16",
                                         "2019-12-17", "2019-12-18", "2019-12-19", "2019-12-20", "2019-12-21")]
    assert got == [0, 1, 2, 3, 3, 4, 4, 5, 5, 6]
    assert m.round_dates(2) == ("2019-12-08", "2019-12-14") and m.round_dates(3) == ("2019-12-15", "2019-12-16")
    # the discount into the next round is by the length of the round left: 7 days after round 2, 2 after round 3
    assert m.discount_after(2) == 0.95 and m.discount_after(3) == 0.95 ** (2 / 7)
    # truncated: the calendar and the discounts follow; extended: the last phase goes on
    short = m.with_horizon(3)
    assert short.round_starts == m.round_starts[:4] and short.round_discount.size == 3 and short.phases == (("a", 1, 2), ("b", 3, 3))
    long = m.with_horizon(6)
    assert long.round_starts[-3:] == ("2019-12-19", "2019-12-21", "2019-12-23")
    assert long.round_discount[-1] == m.round_discount[-1] and long.phases[-1] == ("b", 3, 6)
    with pytest.raises(SolverError):
        m.with_horizon(0)


def test_the_phase_condition_lowers_to_its_rounds() -> None:
    from crisislab.model import lower_condition
    from crisislab.scenario import PhaseCondition

    phases = {"a": (1, 2), "b": (3, 4), "c": (5, 6)}
    x = np.zeros((1, 0), np.int64)
    for pid, rounds in (("a", {1, 2}), ("b", {3, 4}), ("c", {5, 6, 7, 8})):  # the last phase goes on
        prog = lower_condition(PhaseCondition(phase=pid), {}, {}, phases)
        assert {r for r in range(1, 9) if prog(x, r, x)[0]} == rounds


def test_interventions_by_phase_from_the_command_line_shorthand() -> None:
    from crisislab.scenario import InterventionSyntaxError, parse_interventions
    from crisislab.simulation import compile_arm

    scn = _phased_copy(MINI, [{"id": "weeks", "days_per_round": 7, "rounds": 2}, {"id": "days", "days_per_round": 2, "rounds": 2}])
    m = lower(scn)
    items = parse_interventions(scn, force=["US:us_strike@when:phase = days"], forbid=["Iran:ir_attack@when:phase == weeks"])
    arm = compile_arm(m, scn, items)
    x = np.zeros((1, m.n_vars), np.int64)
    rl = np.zeros((1, len(m.red_lines)), np.int64)
    (force,) = arm.forces
    assert [r for r in range(1, 5) if force.when(x, r, rl)[0]] == [3, 4]
    ((_, forbid_when),) = arm.forbidden_when
    assert [r for r in range(1, 5) if forbid_when(x, r, rl)[0]] == [1, 2]
    with pytest.raises(InterventionSyntaxError, match="unknown calendar phase"):
        parse_interventions(scn, forbid=["Iran:ir_attack@when:phase = months"])
