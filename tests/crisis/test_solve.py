"""The stage-wise solver: agreement with the exact engine, grid convergence, hypergame, I/O, errors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from crisislab.crisis import BeliefGrid, Solution, compile_model, compile_scenario, solve
from crisislab.crisis._solution import _to_json
from crisislab.crisis._unroll import crisis_profile, unroll
from crisislab.efg import logit_qre_at
from crisislab.errors import SolverError
from crisislab.model import canonical_bytes, lower

AGREE = 1e-3  # crisis engine vs exact logit QRE at a fine grid


def _table(sol, g, d):
    """Policy table of game g at decision d per reachable state: `(S_d, B, K, A)`."""
    return sol.sigma[g][d][sol.class_of[g][d]]


@pytest.fixture(scope="module")
def tiny_exact(tiny):
    """Exact agent logit QRE (efg layer, traced principal branch) of the tiny crisis at H = 2."""
    cg = compile_scenario(tiny, horizon=2)
    u = unroll(cg)
    lam = float(cg.model.lam[0])
    assert all(x == lam for x in cg.model.lam)  # one λ: no payoff scaling needed
    q = logit_qre_at(u.game, lam)
    assert q.success
    return cg, u, q.profile


def test_agrees_with_exact_engine_and_converges_in_the_grid(tiny_exact):
    cg, u, exact = tiny_exact
    errors = []
    for G in (6, 11, 21, 41):
        sol = solve(cg, grid=G)
        assert sol.max_residual < 1e-8
        errors.append(float(np.abs(crisis_profile(sol, u) - exact).max()))
    # linear interpolation on the belief grid: the error shrinks as the grid is refined
    assert errors[-1] < AGREE / 10
    assert errors[0] > errors[-1] * 5
    assert all(b < a for a, b in zip(errors[1:], errors[2:], strict=False)), errors


def test_agreement_at_three_rounds_with_a_red_line_and_chance(spiral):
    # one round of the richer game: proxy chance, casualties, attribution, red-line bookkeeping
    cg = compile_scenario(spiral, horizon=1)
    u = unroll(cg)
    q = logit_qre_at(u.game, 3.0)
    sol = solve(cg, grid=21, hypergame=False)  # the true game (B misperceives A in spiral.yaml)
    assert np.abs(crisis_profile(sol, u) - q.profile).max() < AGREE


def test_correct_perception_is_the_common_prior_solution(tiny):
    sol = solve(compile_scenario(tiny), grid=11)
    assert list(sol.game_of) == [0, 0]
    prior = [p[0] for p in sol.compiled.model.true_prior]
    np.testing.assert_allclose(sol.mu0, [prior, prior])


def test_hypergame_solves_each_perceived_game(spiral):
    # spiral.yaml: B thinks A is tough with probability 0.2 (truth 0.6) and dreads war more.
    cg = compile_scenario(spiral, horizon=2)
    sol = solve(cg, grid=11)
    assert list(sol.game_of) == [0, 1]
    np.testing.assert_allclose(sol.mu0[1], [0.2, 0.3])
    np.testing.assert_allclose(sol.mu0[0], [0.6, 0.3])
    # B's game equals solving B's perceived scenario from scratch (payoffs patched == recompiled)
    model_b, _ = cg.model.perceived(1)
    direct = solve(compile_model(model_b), grid=11)
    for d in range(cg.n_decisions):
        np.testing.assert_allclose(_table(sol, 1, d), _table(direct, 0, d), atol=1e-6)
    # and it differs from A's (true) game where war payoffs matter
    assert max(np.abs(_table(sol, 0, d) - _table(sol, 1, d)).max() for d in range(cg.n_decisions)) > 1e-3


@pytest.mark.parametrize("name", ["tiny", "spiral"])
def test_unique_nodes_skip_the_lambda_path_without_changing_the_answer(name, request):
    # Where `_unique`'s contraction bound holds there is one fixed point, so the full-λ iteration
    # and the λ path must land on the same strategies (to the fixed-point tolerance); a wrong bound
    # would let the iteration keep another fixed point somewhere.
    cg = compile_scenario(request.getfixturevalue(name), horizon=3)
    ref = solve(cg, grid=21, selection="path")
    got = solve(cg, grid=21)
    for g1, g2 in zip(ref.sigma, got.sigma, strict=True):
        for a, b in zip(g1, g2, strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert ref.params["selection"] == "path" and got.params["selection"] == "continuation"


def test_any_thread_count_gives_the_same_bits(spiral):
    # States of a decision are solved in parallel, each on its own buffers: the thread count may
    # change the order of work but not one bit of the result.
    cg = compile_scenario(spiral, horizon=3)
    one = solve(cg, grid=9, threads=1)
    two = solve(cg, grid=9, threads=2)
    for g1, g2 in zip(one.sigma, two.sigma, strict=True):
        for a, b in zip(g1, g2, strict=True):
            assert np.array_equal(a, b)
    assert np.array_equal(one.values0, two.values0)


def _solve_values(cg):
    return solve(cg, grid=5, threads=2).values0


def test_a_process_forked_after_a_parallel_solve_can_solve_again(spiral):
    # GNU OpenMP's threads abort a forked child; the kernels pick a fork-safe threading layer so
    # that process pools (and Dask's process workers) work after a solve in the parent.
    import multiprocessing

    cg = compile_scenario(spiral, horizon=2)
    here = _solve_values(cg)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        there = pool.apply_async(_solve_values, (cg,)).get(timeout=120)  # a dead child would hang
    assert np.array_equal(here, there)


def test_save_load_round_trip(tmp_path, spiral):
    sol = solve(compile_scenario(spiral, horizon=2), grid=7)
    sol.save(tmp_path / "sol")
    back = Solution.load(tmp_path / "sol")
    assert back.perceivers == sol.perceivers
    np.testing.assert_array_equal(back.values0, sol.values0)
    for g in range(len(sol.sigma)):
        for d in range(sol.compiled.n_decisions):
            np.testing.assert_array_equal(_table(back, g, d), _table(sol, g, d))
    x = np.array([[0.37, 0.52]])
    np.testing.assert_array_equal(back.strategy("B", 1, np.array([0]), x), sol.strategy("B", 1, np.array([0]), x))
    # the model travels in the JSON metadata, unchanged (dtypes, read-only arrays, condition programs)
    assert _to_json(back.compiled.model) == _to_json(sol.compiled.model)
    assert canonical_bytes(back.compiled.model) == canonical_bytes(sol.compiled.model)
    assert not back.compiled.model.lo.flags.writeable


def test_strategy_rows_are_distributions_over_available_actions(spiral):
    sol = solve(compile_scenario(spiral, horizon=2), grid=9)
    cg = sol.compiled
    rng = np.random.default_rng(4)
    for d in range(cg.n_decisions):
        S = cg.n_states(d)
        s = rng.integers(0, S, 50)
        x = rng.random((50, 2))
        p = sol.strategy("A", d, s, x)
        np.testing.assert_allclose(p.sum(axis=2), 1.0, atol=1e-6)
        assert (p[~np.broadcast_to(cg.avail[d][s][:, None, :], p.shape)] == 0).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"grid": 2}, "at least 3 points", id="grid-too-coarse"),
        pytest.param({"grid": 11, "lam_steps": 0}, "lam_steps", id="no-lambda-steps"),
        pytest.param({"grid": 5, "threads": 0}, "threads", id="no-threads"),
        pytest.param({"grid": 5, "selection": "best"}, "selection: expected one of path, continuation, fast", id="bad-selection"),
    ],
)
def test_bad_arguments_are_user_errors(tiny, kwargs, match):
    with pytest.raises(SolverError, match=match):
        solve(compile_scenario(tiny), **kwargs)


def test_a_horizon_below_one_round_is_refused(tiny):
    with pytest.raises(SolverError, match=r"horizon: a crisis needs at least one round \(got 0"):
        compile_scenario(tiny, horizon=0)


def test_lambda_beyond_continuation_is_refused(tiny):
    model = lower(tiny)
    huge = replace(model, lam=np.array([1e9, *model.lam[1:]]))
    with pytest.raises(SolverError, match=r"actors\.A\.lam.*smaller λ"):
        solve(compile_model(huge), grid=11)


def test_non_convergence_is_flagged_with_advice(tiny):
    sol = solve(compile_scenario(tiny), grid=11, maxit=1, lam_steps=1)
    assert not sol.ok
    assert any("raise lam_steps" in d for d in sol.diagnostics)
    # a dense grid's values are linear between nodes: the advice names the cubic representation
    assert all("--grid cheb:N" in d for d in sol.diagnostics if "did not converge" in d)
    cheb = solve(compile_scenario(tiny), grid="cheb:9", maxit=1, lam_steps=1)
    assert not cheb.ok and not any("--grid cheb:N" in d for d in cheb.diagnostics)


def test_off_grid_prior_is_flagged(tiny):
    # priors 0.6 and 0.3 are points of an 11-point grid but not of a 5-point grid (step 0.25)
    assert solve(compile_scenario(tiny), grid=11).ok
    coarse = solve(compile_scenario(tiny), grid=5)
    assert any("not a point of the 5-point uniform grid" in d and "11 points" in d for d in coarse.diagnostics)
    # the Chebyshev representation makes every prior (0.6, 0.3 and the perceived ones) a node
    cheb = solve(compile_scenario(tiny), grid="cheb:5")
    assert cheb.ok and cheb.belief_grid.kind == "chebyshev"
    assert all(cheb.belief_grid.holds(float(x)) for x in cheb.mu0.ravel())
    # a representation built for other priors flags this scenario's
    other = BeliefGrid.chebyshev(7, [0.25])
    flagged = solve(compile_scenario(tiny), grid=other)
    assert any("P(A is tough) = 0.6 is not a point of the 7-node Chebyshev grid" in d for d in flagged.diagnostics)


def test_grid_too_large_for_memory_names_a_grid_that_fits(spiral):
    cg = compile_scenario(spiral, horizon=2)
    with pytest.raises(SolverError, match=r"needs about .* GiB .* use grid \d+ or less"):
        solve(cg, grid=201, max_gib=0.001)


def test_auto_grid_is_dense_when_small_else_chebyshev_with_the_priors_as_nodes(spiral):
    from crisislab.crisis import AUTO_CHEB, auto_grid, chebyshev_nodes, grid_nodes

    cg = compile_scenario(spiral, horizon=3)
    games = len(solve(cg, grid=3).sigma)
    assert auto_grid(cg) == BeliefGrid.uniform(51)  # a small game: the dense reference grid
    g = auto_grid(cg, budget=grid_nodes(cg, 49, games))  # 51 no longer fits
    assert (g.kind, g.interp, g.strategies) == ("chebyshev", "pchip", "logit")
    # spiral's priors 0.6, 0.3 and 0.2 (perceived) are nodes; every other node is a Chebyshev–Lobatto point
    assert all(g.holds(p) for p in (0.6, 0.3, 0.2))
    cheb = chebyshev_nodes(AUTO_CHEB)
    assert sum(bool(np.isclose(cheb, x, atol=1e-12).any()) for x in g.nodes) >= AUTO_CHEB - 3
    assert g.nodes[0] == 0.0 and g.nodes[-1] == 1.0 and np.all(np.diff(g.nodes) > 0)
    assert auto_grid(cg, budget=1) == g  # the Chebyshev grid has its own, larger work budget
    assert solve(cg, grid="auto", hypergame=False).belief_grid == auto_grid(cg, hypergame=False)


def test_grid_specs_name_representations(spiral):
    from crisislab.crisis import resolve_grid

    cg = compile_scenario(spiral, horizon=2)
    assert resolve_grid(cg, 9) == BeliefGrid.uniform(9)
    assert resolve_grid(cg, "cheb-linear:9").interp == "linear"
    assert resolve_grid(cg, "uniform-pchip:9") == BeliefGrid.uniform(9, "pchip")
    assert resolve_grid(cg, "cheb:9").holds(0.6)
    with pytest.raises(SolverError, match=r"grid: expected 'auto', a number .* or a representation cheb:N.*got 'cheb:x'"):
        resolve_grid(cg, "cheb:x")


def test_grid_argument_is_auto_or_a_number():
    from crisislab.crisis import parse_grid

    assert parse_grid("auto") == "auto" and parse_grid("9") == 9
    assert parse_grid("Cheb:13") == "cheb:13"
    with pytest.raises(SolverError, match=r"grid: expected 'auto', a number.*got 'fine'"):
        parse_grid("fine")


def test_solves_from_several_threads_at_once(spiral):
    # A Dask worker with several threads solves robustness draws concurrently; numba's fork-safe
    # threading layer aborts the whole process if two threads enter a parallel kernel at once, so
    # this runs in a child process and checks it survives with the sequential answers.
    import subprocess
    import sys
    from pathlib import Path

    code = f"""
from concurrent.futures import ThreadPoolExecutor
import numpy as np
from crisislab.crisis import compile_scenario, solve
from crisislab.scenario import load_scenario
cg = compile_scenario(load_scenario({str(Path(__file__).parent / 'data' / 'spiral.yaml')!r}), horizon=3)
one = solve(cg, grid=21).values0
with ThreadPoolExecutor(4) as ex:
    many = list(ex.map(lambda _: solve(cg, grid=21).values0, range(8)))
assert all(np.array_equal(one, v) for v in many)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


def test_cubic_strategy_stencil_is_exact_for_cubic_polynomials():
    # 4-point Lagrange interpolation in each coordinate reproduces any polynomial of degree ≤ 3 in
    # each (the tensor product of the 1-D exactness); weights sum to 1.
    from crisislab.crisis._belief import cubic_stencil

    grid = BeliefGrid.chebyshev(9, [0.35]).array
    sizes = np.array([grid.size, grid.size])
    xg, yg = np.meshgrid(grid, grid, indexing="ij")
    f = lambda x, y: 1 + 2 * x - 3 * x**3 + x * y**2 - 4 * (x * y) ** 3  # noqa: E731
    table = f(xg, yg).reshape(-1)
    pts = np.random.default_rng(3).random((500, 2))
    idx, wts = cubic_stencil(pts, grid, sizes)
    np.testing.assert_allclose(wts.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose((wts * table[idx]).sum(axis=1), f(pts[:, 0], pts[:, 1]), atol=1e-10)


def test_cubic_logit_strategies_are_distributions_and_match_the_nodes(tiny):
    cg = compile_scenario(tiny)
    sol = solve(cg, grid="cheb-cubic:7")
    assert sol.belief_grid.strategies == "logit-cubic"
    rng = np.random.default_rng(4)
    for d in range(cg.n_decisions):
        S = cg.n_states(d)
        s = rng.integers(0, S, 300)
        p = sol.strategy(0, d, s, rng.random((300, cg.n_actors)))
        np.testing.assert_allclose(p.sum(axis=2), 1.0, atol=1e-12)
        assert (p >= 0).all()
        # at the nodes: the solved strategies (float32 tables)
        g = sol.grid
        x = np.stack([g[rng.integers(0, g.size, 300)], g[rng.integers(0, g.size, 300)]], axis=1)
        at = sol.strategy(0, d, s, x)
        b = np.searchsorted(g, x[:, 0]) * g.size + np.searchsorted(g, x[:, 1])
        np.testing.assert_allclose(at, sol.sigma[0][d][sol.class_of[0][d][s], b], atol=1e-6)
