"""Which stage fixed point the solver keeps, on single-state stage games built by hand.

A mover with two types and three actions whose continuation values vary along its own belief
line: where the values are steep and λ large, the signalling stage game has several fixed points
and the full-λ iteration ("fast") can land on another one than the λ path from the uniform profile
("path"). `_unique`'s contraction bound must only ever certify nodes where the two agree.
"""

from __future__ import annotations

import numpy as np

import pytest
from scipy.interpolate import PchipInterpolator

from crisislab.crisis import BeliefGrid
from crisislab.crisis._kernels import SELECTION_MODES, _bordered, _pchip_slopes, _trace, _unique, stage_kernel

G, A = 9, 3
GRIDS = {
    "uniform-linear": BeliefGrid.uniform(G),
    "chebyshev-pchip": BeliefGrid.chebyshev(G, [0.3]),
    "chebyshev-hermite": BeliefGrid.chebyshev(G, [0.3], "hermite"),
}


def _stage(W: np.ndarray, lam: float, selection: str, grid: BeliefGrid, steps: int = 8, iters: np.ndarray | None = None) -> np.ndarray:
    """σ `(G, 2, A)` of one state whose action a leads to next state a with values `W` `(A, G, 2, 2)`
    (`iters`, shape (1,), receives the fixed-point iterations of all its nodes)."""
    g = grid.size
    sig = np.zeros((1, g, 2, A))
    iters = np.zeros(1, np.int64) if iters is None else iters
    stage_kernel(
        np.arange(A + 1, dtype=np.int64), np.arange(A, dtype=np.int64), np.ones(A), np.zeros((A, 2, 2)),
        np.ones((1, A), dtype=np.bool_), W, 1.0, np.array(grid.array), grid.is_uniform, grid.interp != "linear",
        grid.diff_matrix(),
        np.stack([np.arange(g), np.zeros(g, np.int64)], 1), np.array([1, 1], np.int64),
        np.array([[0, 0], [1, 0]], np.int64), np.ones((g, 2)), 0, 2, lam, steps, 1e-10, 500,
        SELECTION_MODES.index(selection), np.zeros((2, 2), np.int64), 0.0, 1.0, sig, np.zeros((1, g, 2, 2)), np.zeros(1),
        iters, np.zeros(1, np.int64),
    )
    return sig[0]


def test_hermite_slopes_are_the_interpolating_polynomials_derivative() -> None:
    # The differentiation matrix on the nodes differentiates polynomials of degree < G exactly.
    grid = BeliefGrid.chebyshev(9, [0.35], "hermite")
    x = grid.array
    coef = np.random.default_rng(2).normal(size=grid.size)
    p = np.polynomial.Polynomial(coef)
    np.testing.assert_allclose(grid.diff_matrix() @ p(x), p.deriv()(x), rtol=1e-8, atol=1e-8)


def test_node_slopes_are_scipys_pchip_slopes() -> None:
    # Fritsch & Carlson (1980) with the three-point end rule: the slopes scipy's PchipInterpolator
    # uses at its nodes, on non-uniform nodes and data with extrema, flats and monotone runs.
    rng = np.random.default_rng(1)
    x = BeliefGrid.chebyshev(11, [0.35, 0.2]).array
    out, work = np.zeros(x.size), np.zeros(x.size)
    for _ in range(200):
        y = rng.normal(size=x.size).cumsum() * rng.choice([0.0, 1.0], size=x.size, p=[0.2, 0.8])
        _pchip_slopes(y, x, x.size, out, work)
        np.testing.assert_allclose(out, PchipInterpolator(x, y).derivative()(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", list(GRIDS))
def test_certified_nodes_have_the_fixed_point_of_the_lambda_path(kind: str) -> None:
    grid = GRIDS[kind]
    x = np.array(grid.array)
    cubic = grid.interp != "linear"
    rng = np.random.default_rng(0)
    several = certified = 0
    for _ in range(300):
        W = np.zeros((A, G, 2, 2))  # only the mover's (actor 0's) values matter to its choice
        steep = 10 ** rng.uniform(-3, 0.5)
        W[:, :, 0, :] = rng.normal(size=(A, 1, 2)) + steep * rng.normal(size=(A, G, 2)).cumsum(axis=1)
        lam = rng.uniform(0.5, 8.0)
        path, fast = _stage(W, lam, "path", grid), _stage(W, lam, "fast", grid)
        D = W[:, :, 0, :].copy()
        dD = np.zeros_like(D)
        if cubic:
            for a in range(A):
                for th in range(2):
                    dD[a, :, th] = (PchipInterpolator(x, D[a, :, th]).derivative()(x) if grid.interp == "pchip"
                                    else grid.diff_matrix() @ D[a, :, th])
        for b in range(G):
            differ = np.abs(path[b] - fast[b]).max()
            several += differ > 1e-3
            if _unique(0, b, b, D, dD, np.ones((1, A), np.bool_), 2, x, grid.is_uniform, cubic, G, 1, lam):
                certified += 1
                assert differ < 1e-6, (b, lam, steep)
    # the sample must contain both kinds, or the assertion above tests nothing
    assert several > 20 and certified > 500, (several, certified)


def test_lambda_path_predictor_lands_on_the_next_point_when_values_do_not_move() -> None:
    # Continuation values that do not depend on the posterior: the stage fixed point at every λ is
    # the plain logit response softmax(λQ), whose log-probabilities are affine in λ. From the
    # uniform profile the first step needs two iterations (one to reach softmax(λ₁Q), one to see
    # the residual vanish); the log-linear predictor then starts every later step on its point, so
    # each of the other steps stops after one iteration: 2 + (steps − 1) per node.
    grid = GRIDS["uniform-linear"]
    rng = np.random.default_rng(3)
    W = np.zeros((A, G, 2, 2))
    W[:, :, 0, :] = rng.normal(size=(A, 1, 2))
    for steps in (4, 8, 16):
        iters = np.zeros(1, np.int64)
        sig = _stage(W, 5.0, "path", grid, steps, iters)
        q = W[:, 0, 0, :].T  # (type, action)
        expect = np.exp(5.0 * (q - q.max(axis=1, keepdims=True)))
        expect /= expect.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(sig, np.broadcast_to(expect, sig.shape), atol=1e-12)
        assert iters[0] == G * (2 + (steps - 1)), (steps, iters[0])


def _pchip_dD(x: np.ndarray, D: np.ndarray) -> np.ndarray:
    dD = np.zeros_like(D)
    for a in range(D.shape[0]):
        for th in range(2):
            dD[a, :, th] = PchipInterpolator(x, D[a, :, th]).derivative()(x)
    return dD


def _random_line_values(rng: np.random.Generator, steep_lo: float) -> np.ndarray:
    """`_stage`'s W for a random stage game: the mover's values a random walk along its belief line,
    with steps of scale 10^U(steep_lo, 0.7) (steep enough for folds at the top of the range)."""
    W = np.zeros((A, G, 2, 2))
    steep = 10 ** rng.uniform(steep_lo, 0.7)
    W[:, :, 0, :] = rng.normal(size=(A, 1, 2)) + steep * rng.normal(size=(A, G, 2)).cumsum(axis=1)
    return W


def _assert_fixed_point(sig: np.ndarray, x: np.ndarray, D: np.ndarray, b: int, lam: float) -> None:
    """σ = softmax(λ Q(posteriors)) at node b, the values along the mover's line read with scipy's
    PchipInterpolator (an implementation independent of the kernel's)."""
    post = x[b] * sig[0] / (x[b] * sig[0] + (1 - x[b]) * sig[1])
    q = np.array([[PchipInterpolator(x, D[a, :, th])(post[a]) for a in range(A)] for th in range(2)])
    expect = np.exp(lam * (q - q.max(axis=1, keepdims=True)))
    np.testing.assert_allclose(sig, expect / expect.sum(axis=1, keepdims=True), atol=1e-8)


def test_arc_length_trace_ends_on_a_fixed_point_and_on_the_unique_one_where_it_is_unique() -> None:
    # `_trace` follows the node's logit branch from the uniform profile at λ = 0. Where it reports
    # success, its σ must be a fixed point: σ = softmax(λ Q(posteriors)), recomputed here with
    # scipy's PchipInterpolator for the values along the mover's belief line. Where the contraction
    # bound certifies one fixed point for every λ' ≤ λ, the branch can only end on that point, which
    # the full-λ iteration ("fast") also finds.
    grid = GRIDS["chebyshev-pchip"]
    x = np.array(grid.array)
    avail = np.ones((1, A), np.bool_)
    rng = np.random.default_rng(5)
    checked = certified = 0
    for _ in range(150):
        W = _random_line_values(rng, -3)
        lam = rng.uniform(0.5, 10.0)
        D = W[:, :, 0, :].copy()
        dD = _pchip_dD(x, D)
        fast = _stage(W, lam, "fast", grid)
        for b in range(1, G - 1):
            sig = np.zeros((2, A))
            res, _ = _trace(0, b, b, x[b], sig, D, dD, avail, x, False, True, G, 1, lam, 1e-10, 2000)
            if res >= 1e-10:
                continue
            checked += 1
            _assert_fixed_point(sig, x, D, b, lam)
            if _unique(0, b, b, D, dD, avail, 2, x, False, True, G, 1, lam):
                certified += 1
                np.testing.assert_allclose(sig, fast[b], atol=1e-7)
    assert checked > 600 and certified > 100, (checked, certified)


def test_arc_length_trace_is_the_logit_response_when_values_do_not_move() -> None:
    # Posterior-independent values: the branch is σ(λ) = softmax(λQ) (closed form).
    grid = GRIDS["uniform-linear"]
    x = np.array(grid.array)
    rng = np.random.default_rng(8)
    D = np.repeat(rng.normal(size=(A, 1, 2)), G, axis=1)
    for lam in (0.5, 4.0, 20.0):
        sig = np.zeros((2, A))
        res, _ = _trace(0, 4, 4, x[4], sig, D, np.zeros_like(D), np.ones((1, A), np.bool_), x, True, False, G, 1, lam, 1e-12, 2000)
        q = D[:, 0, :].T
        expect = np.exp(lam * (q - q.max(axis=1, keepdims=True)))
        np.testing.assert_allclose(sig, expect / expect.sum(axis=1, keepdims=True), atol=1e-12)
        assert res < 1e-12


def test_trace_selection_keeps_the_traced_point_where_the_trace_arrives_and_the_path_elsewhere() -> None:
    # selection="trace": every node's branch is traced by arc length from λ = 0 (`_trace`); where
    # the trace does not reach the node's λ the node falls back to the λ path ("path"). So node by
    # node the result is `_trace`'s σ or the path's, each a fixed point (recomputed with scipy's
    # PchipInterpolator as above). Where the equal λ steps jump across a fold the two selections
    # differ; the sample must contain such nodes, or the comparison tests nothing.
    grid = GRIDS["chebyshev-pchip"]
    x = np.array(grid.array)
    avail = np.ones((1, A), np.bool_)
    rng = np.random.default_rng(11)
    traced = differ = fell_back = 0
    for _ in range(60):
        W = _random_line_values(rng, -2)
        lam = rng.uniform(2.0, 12.0)
        D = W[:, :, 0, :].copy()
        dD = _pchip_dD(x, D)
        sel, path = _stage(W, lam, "trace", grid), _stage(W, lam, "path", grid)
        for b in range(1, G - 1):
            sig = np.zeros((2, A))
            res, _ = _trace(0, b, b, x[b], sig, D, dD, avail, x, False, True, G, 1, lam, 1e-10, 2000)
            if res < 1e-10:
                traced += 1
                np.testing.assert_allclose(sel[b], sig, atol=1e-9)  # node slopes: the kernel's vs scipy's
                differ += np.abs(sig - path[b]).max() > 1e-3
                _assert_fixed_point(sig, x, D, b, lam)
            else:
                fell_back += 1
                np.testing.assert_array_equal(sel[b], path[b])
    assert traced > 250 and differ > 3 and fell_back > 0, (traced, differ, fell_back)


def test_the_traces_bordered_newton_system_is_solved_as_numpys_dense_solve() -> None:
    # `_bordered` solves [[J, Fl], [rᵀ, r_λ]] [dv; dλ] = [rhs; ρ] for J = I − XY given by its factors
    # (X[θa, b] = (δ_ab − new[θ, b]) Wv[θ, b] on available a and b, Y = [I, −I]) through a reduced
    # system of A + 1 unknowns. Oracle: numpy.linalg.solve on the whole (2A + 1)-square matrix
    # built from the definition, with unavailable actions (identity rows of J) and with the
    # landing row (r = 0, r_λ = 1).
    rng = np.random.default_rng(21)
    for trial in range(300):
        a_n = int(rng.integers(2, 10))
        avail = rng.random((1, a_n)) < 0.7
        avail[0, :2] = True
        wv = rng.normal(size=(2, a_n)) * 10 ** rng.uniform(-2, 1) * avail
        new = rng.dirichlet(np.ones(a_n), size=2) * avail
        new /= new.sum(axis=1, keepdims=True)
        n = 2 * a_n
        X = np.zeros((n, a_n))
        for th in range(2):
            for a in range(a_n):
                if avail[0, a]:
                    X[th * a_n + a] = (np.eye(a_n)[a] - new[th]) * wv[th]
        Y = np.hstack([np.eye(a_n), -np.eye(a_n)])
        fl = rng.normal(size=n) * np.tile(avail[0], 2)
        land = trial % 4 == 0
        r = np.zeros(n) if land else rng.normal(size=n) * np.tile(avail[0], 2)
        r_lam = 1.0 if land else float(rng.normal())
        rhs, rho = rng.normal(size=n), float(rng.normal())
        M = np.zeros((n + 1, n + 1))
        M[:n, :n] = np.eye(n) - X @ Y
        M[:n, n] = fl
        M[n, :n], M[n, n] = r, r_lam
        if np.linalg.cond(M) > 1e8:
            continue
        out = np.zeros(n + 1)
        _bordered(0, avail, wv, new, fl, r, r_lam, rhs, rho, np.zeros((a_n + 1, a_n + 1)), np.zeros(a_n + 1), out)
        np.testing.assert_allclose(out, np.linalg.solve(M, np.append(rhs, rho)), rtol=1e-8, atol=1e-8 * (1 + np.abs(out).max()))
