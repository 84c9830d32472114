"""Compilation: reachable states, sparse transitions, payoff bookkeeping, state lookup."""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy import stats

from crisislab.crisis import compile_model, compile_scenario
from crisislab.crisis._compile import _compile_uncached
from crisislab.errors import SolverError
from crisislab.model import lower

from .conftest import bundled

TOL = 1e-12


def test_rows_are_distributions(spiral_cg):
    cg = spiral_cg
    for d in range(cg.n_decisions):
        S, A = cg.avail[d].shape
        rows = np.repeat(np.arange(S * A), np.diff(cg.row_ptr[d]))
        sums = np.bincount(rows, weights=cg.prob[d], minlength=S * A)
        avail = cg.avail[d].reshape(-1)
        np.testing.assert_allclose(sums[avail], 1.0, atol=TOL)
        assert (sums[~avail] == 0).all()
        assert (cg.avail[d].any(axis=1)).all()  # the default is used when nothing else is
        # next-state indices point into the next decision's states
        nxt = cg.nxt[d][cg.nxt[d] >= 0]
        if d + 1 < cg.n_decisions:
            assert nxt.max(initial=-1) < cg.n_states(d + 1)
        else:
            assert nxt.size == 0  # everything ends at the horizon


def test_lookup_round_trip(spiral_cg):
    cg = spiral_cg
    for d in range(cg.n_decisions):
        st = cg.states[cg.dec_states[d]]
        np.testing.assert_array_equal(cg.lookup(d, st), np.arange(st.shape[0]))
    # an unreachable state is -1: tension 3 ends the game (war), so it never reaches a decision
    bad = np.array([[3, 0, 0, 0]])
    assert cg.lookup(1, bad)[0] == -1


def test_red_line_failure_pays_audience_cost_once(spiral_cg):
    # State (tension 0, deaths 1, red line pending with 1 own move left) at A's round-2 move:
    # calming keeps tension at 0, which ends the game as `calm` (round >= 2). A (tough) gets the
    # terminal 1.0 plus the audience cost -1.0 x scale 1.5 (spiral.yaml), nothing else.
    cg = spiral_cg
    d = cg.decision_index(2, 0)
    s = cg.lookup(d, np.array([[0, 1, 1, 1]]))[0]
    assert s >= 0
    A = cg.avail[d].shape[1]
    r = s * A + 0  # a_calm
    lo, hi = cg.row_ptr[d][r], cg.row_ptr[d][r + 1]
    assert hi - lo == 1 and cg.nxt[d][lo] == -1 - cg.outcomes.index("calm")
    assert cg.reward[d][lo][0, 0] == pytest.approx(1.0 - 1.0 * 1.5, abs=TOL)
    assert cg.reward[d][lo][0, 1] == pytest.approx(1.0 - 0.5 * 1.5, abs=TOL)
    # answering with a_strike (rung 2 >= answer_rung 2) pays no audience cost: cost 0.3 only
    # on the branches that continue (tension 1 or 2 after the strike and the collateral error)
    r = s * A + 2
    lo, hi = cg.row_ptr[d][r], cg.row_ptr[d][r + 1]
    cont = cg.nxt[d][lo:hi] >= 0
    assert cont.any()


def test_casualty_buckets_follow_the_negative_binomial(spiral):
    # b_strike: deaths ~ NB(mean 0.5, size 1) into `deaths` (max 2): P(+0), P(+1), P(>=2).
    cg = compile_scenario(spiral, horizon=2)
    model = cg.model
    d = cg.decision_index(1, 2)  # B's move in round 1 (order A, P, B)
    n = 1.0
    pmf = stats.nbinom.pmf([0, 1], n, n / (n + 0.5))
    expected = {0: pmf[0], 1: pmf[1], 2: 1 - pmf.sum()}
    b_strike = [model.actions[x].id for x in model.ladder(1)].index("b_strike")
    A = cg.avail[d].shape[1]
    states = cg.states[cg.dec_states[d]]
    s = int(np.nonzero(states[:, 1] == 0)[0][0])  # a state with no deaths yet
    r = s * A + b_strike
    lo, hi = cg.row_ptr[d][r], cg.row_ptr[d][r + 1]
    by_deaths = {0: 0.0, 1: 0.0, 2: 0.0}
    total_alive = 0.0
    for j in range(lo, hi):
        nx = cg.nxt[d][j]
        if nx >= 0:
            deaths = cg.states[cg.dec_states[d + 1][nx]][1]
            by_deaths[int(deaths)] += cg.prob[d][j]
            total_alive += cg.prob[d][j]
    # war (tension 3) can end the game in the same move, independently of the deaths: condition on
    # continuing by comparing proportions
    for k in range(3):
        assert by_deaths[k] / total_alive == pytest.approx(expected[k], rel=1e-9)
    assert lo < hi


def test_more_than_two_types_is_rejected(tiny):
    from dataclasses import replace

    model = lower(tiny)
    three = replace(model, types=(("x", "y", "z"), *model.types[1:]),
                    true_prior=(np.array([0.2, 0.3, 0.5]), *model.true_prior[1:]))
    with pytest.raises(SolverError, match="at most 2 types"):
        compile_model(three)


def test_compilation_is_cached_across_rounds(spiral):
    # states per decision stop growing once every reachable state has appeared, and the
    # tables of equal rounds are identical (round conditions only split rounds 1 and >= 2)
    cg = compile_scenario(spiral, horizon=4)
    counts = cg.node_counts()
    assert counts[4] == counts[6]
    np.testing.assert_array_equal(cg.nxt[4], cg.nxt[6])


def test_compile_cache_round_trip_and_key(spiral, tmp_path, monkeypatch):
    """The disk cache returns the same tables (read-only), and a changed model gets its own entry."""
    monkeypatch.setenv("CRISISLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("CRISISLAB_NO_CACHE", raising=False)
    model = lower(spiral)
    first = compile_model(model)  # miss: compiles and writes
    assert len(list((tmp_path / "compiled").glob("*.cg"))) == 1
    second = compile_model(lower(spiral))  # hit (an equal model, another object): read from disk
    assert second is not first
    for d in range(first.n_decisions):
        for name in ("avail", "row_ptr", "nxt", "prob", "reward"):
            a, b = getattr(first, name)[d], getattr(second, name)[d]
            np.testing.assert_array_equal(a, b)
            assert not b.flags.writeable
    compile_model(model.with_horizon(model.horizon - 1))  # another key, another entry
    assert len(list((tmp_path / "compiled").glob("*.cg"))) == 2
    monkeypatch.setenv("CRISISLAB_NO_CACHE", "1")
    compile_model(model.with_horizon(1))
    assert len(list((tmp_path / "compiled").glob("*.cg"))) == 2


def test_compile_cache_stays_under_its_budget(spiral, tmp_path, monkeypatch):
    """Past CRISISLAB_CACHE_GIB the least recently used entries go; the newest one always stays."""
    monkeypatch.setenv("CRISISLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("CRISISLAB_NO_CACHE", raising=False)
    model = lower(spiral)
    compile_model(model.with_horizon(3))
    (old,) = (tmp_path / "compiled").glob("*.cg")
    os.utime(old, (1, 1))  # long unused
    monkeypatch.setenv("CRISISLAB_CACHE_GIB", str(1.01 * old.stat().st_size / 2**30))  # room for one
    compile_model(model.with_horizon(2))
    (new,) = (tmp_path / "compiled").glob("*.cg")
    assert new != old
    compile_model(model.with_horizon(2))  # a hit marks the entry as used...
    monkeypatch.setenv("CRISISLAB_CACHE_GIB", "0")  # ...but a zero budget keeps only the entry just written
    compile_model(model.with_horizon(1))
    (last,) = (tmp_path / "compiled").glob("*.cg")
    assert last not in (old, new)


_TABLES = ("dec_states", "dec_keys", "avail", "row_ptr", "nxt", "prob", "reward", "exp_reward", "tdisc")


@pytest.mark.parametrize(
    ("name", "horizon", "draw"),
    [
        pytest.param("spiral", None, None, id="spiral"),
        pytest.param("us-iran-2019-2020", 3, None, id="flagship-h3"),
        pytest.param("us-iran-2019-2020", 2, 7, id="flagship-h2-draw"),
    ],
)
def test_reuse_gives_the_reference_tables_bit_for_bit(spiral, name, horizon, draw):
    """The fast path reuses whole decisions whose state set repeats, and lets the last round's
    first movers reuse earlier rounds' expansions (their chance never reaches the horizon). Both
    must give exactly the tables of the plain path (`reuse=False`), down to the last bit."""
    scn = spiral if name == "spiral" else bundled(name)
    if draw is not None:  # a robustness draw: other probabilities and dispersions
        scn = scn.sample_parameters(np.random.default_rng(draw))
    model = lower(scn)
    if horizon is not None:
        model = model.with_horizon(horizon)
    fast, ref = _compile_uncached(model), _compile_uncached(model, reuse=False)
    assert fast.n_decisions == ref.n_decisions
    for name_ in ("states", "disc", "init_nxt", "init_prob", "init_reward"):
        a, b = getattr(fast, name_), getattr(ref, name_)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name_
    for name_ in _TABLES:
        for d, (a, b) in enumerate(zip(getattr(fast, name_), getattr(ref, name_), strict=True)):
            assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), (name_, d)
            assert not a.flags.writeable
    # and the tables are what they claim: rows are distributions over valid next states
    for d in range(fast.n_decisions):
        S, A = fast.avail[d].shape
        rows = np.repeat(np.arange(S * A), np.diff(fast.row_ptr[d]))
        sums = np.bincount(rows, weights=fast.prob[d], minlength=S * A)
        np.testing.assert_allclose(sums[fast.avail[d].reshape(-1)], 1.0, atol=TOL)
        nxt = fast.nxt[d]
        n_next = fast.n_states(d + 1) if d + 1 < fast.n_decisions else 0
        assert ((nxt >= -len(fast.outcomes)) & (nxt < n_next)).all()
