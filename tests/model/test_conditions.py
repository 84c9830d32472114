"""Conditions: the postfix programs the engines evaluate say what the tagged-tuple oracle says,
per public state (the crisis compiler's closures) and over many runs at once (numpy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crisislab.model import lower, lower_condition, state_test
from crisislab.scenario import load_scenario

from .cond_oracle import OPS, evaluate, from_scenario, to_program

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml")) + [ROOT / "tests" / "crisis" / "data" / "spiral.yaml"]

_COND_LEAF = st.one_of(
    st.tuples(st.just("var"), st.integers(0, 2), st.sampled_from(sorted(OPS)), st.integers(-1, 3)),
    st.tuples(st.just("round"), st.sampled_from(sorted(OPS)), st.integers(0, 4)),
    st.tuples(st.just("red_line"), st.integers(0, 1), st.integers(0, 3)),
    st.just(("true",)),
)
_CONDS = st.recursive(
    _COND_LEAF,
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(["all", "any"]), st.lists(inner, min_size=1, max_size=3).map(tuple)),
        st.tuples(st.just("not"), inner),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    cond=st.one_of(st.none(), _CONDS),
    state=st.tuples(*[st.integers(-1, 3)] * 3, *[st.integers(0, 3)] * 2),
    round_=st.integers(1, 5),
)
def test_programs_agree_with_the_oracle(cond, state, round_):
    """On any condition tree (3 variables, 2 red lines): the per-state closure and the vectorized
    evaluation give the oracle's answer; the program's round tests are the tree's."""
    expected = evaluate(cond, state, round_, 3)
    prog = None if cond is None else to_program(cond)
    assert state_test(prog, 3)(state, round_) == expected
    if prog is not None:
        arr = np.array([state], dtype=np.int64)
        assert bool(prog(arr[:, :3], round_, arr[:, 3:])[0]) == expected


def test_scenario_conditions_lower_to_programs_that_agree_with_the_oracle():
    """Every condition of the bundled scenarios, at random public states and rounds."""
    rng = np.random.default_rng(0)
    for path in SCENARIOS:
        scn = load_scenario(path)
        model = lower(scn)
        var_index = {v: i for i, v in enumerate(model.var_ids)}
        rl_index = {r.id: k for k, r in enumerate(scn.red_lines)}
        conds = [a.available for a in scn.actions if a.available is not None]
        conds += [r.when for e in scn.environment for r in e.rules if r.when is not None]
        conds += [r.crossed_when for r in scn.red_lines] + [o.when for o in scn.outcomes if o.when is not None]
        conds += [f.when for f in scn.payoffs.flow if f.when is not None]
        assert conds
        states = np.column_stack(
            [rng.integers(lo, hi + 1, 64) for lo, hi in zip(model.lo, model.hi, strict=True)]
            + [rng.integers(0, 4, 64) for _ in scn.red_lines]
        ).astype(np.int64)
        for c in conds:
            tagged = from_scenario(c, var_index, rl_index)
            prog = lower_condition(c, var_index, rl_index)
            test = prog.state_test(model.n_vars)
            for r in (1, 2, 5):
                got = prog(states[:, : model.n_vars], r, states[:, model.n_vars :])
                for i, row in enumerate(map(tuple, states.tolist())):
                    expected = evaluate(tagged, row, r, model.n_vars)
                    assert test(row, r) == expected == bool(got[i]), (path.name, c)
