"""Compiled pieces of the logit tracer against independent computations.

`exact_regret` (the stop test) against the efg layer's `max_regret` (sequence form in numpy, itself
checked against Gambit in test_logit.py); the compact bordered solve (normalisers eliminated,
sparsity-aware LU) against `numpy.linalg.solve` on the full dense bordered matrix.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crisislab.efg import _logit_kernels as K
from crisislab.efg import max_regret, read_efg
from crisislab.efg._logit import _LogitSystem
from crisislab.efg.games import random_game

from .test_logit import HERE

REGRET_TOL = 1e-12  # both are exact sums over terminals; differences are rounding only
SOLVE_TOL = 1e-9  # relative to the solution's size; the bordered matrices are well conditioned here


def _random_point(sysm: _LogitSystem, rng: np.random.Generator, lam: float) -> np.ndarray:
    """A point y = (x, c, λ) with x = log of a random interior profile (not on the QRE branch)."""
    sigma = rng.dirichlet(np.ones(2), size=sysm.n_act)[:, 0]  # rescaled per infoset below
    sigma = sigma / np.add.reduceat(sigma, sysm.action_offset)[sysm.action_infoset]
    c = rng.normal(size=sysm.n_inf)
    return np.concatenate([np.log(sigma), c, [lam]])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), observe=st.booleans())
def test_exact_regret_matches_max_regret(seed, observe):
    game = random_game(3, seed=seed, observe=observe)
    sysm = _LogitSystem(game)
    y = _random_point(sysm, np.random.default_rng(seed), 1.0)
    expected = max_regret(game, sysm.profile(y)) / sysm.scale  # the kernel works in rescaled units
    assert sysm.regret(y) == pytest.approx(expected, abs=REGRET_TOL)


@pytest.mark.parametrize("name", ["bayes_interior.efg", "beer_quiche.efg", "gambit_contrib/cs.efg"])
def test_compact_solve_matches_dense_solve(name):
    sysm = _LogitSystem(read_efg(HERE / name), "compiled")
    rng = np.random.default_rng(7)
    y = _random_point(sysm, rng, 3.0)
    _, vals = sysm.evaluate(y)
    border = rng.normal(size=sysm.N + 1)
    b = rng.normal(size=sysm.N + 1)
    full = K.dense_bordered(vals, sysm.S[21], border)
    expected = np.linalg.solve(full, b)
    F, ok = K.dense_factor(vals, sysm.S[21], border, sysm.n_act, sysm.action_offset, sysm.inf_n_act)
    assert ok
    z = K.dense_solve(F, b, sysm.n_act, sysm.action_offset, sysm.inf_n_act)
    np.testing.assert_allclose(z, expected, atol=SOLVE_TOL * np.abs(expected).max())
