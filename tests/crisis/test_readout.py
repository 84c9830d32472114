"""Strategies between belief nodes re-solved from the kept continuation values (readout="resolve").

The oracle is an independent re-derivation in numpy/scipy: the mover's continuation rebuilt from the
lumped tables and the kept values, read between nodes with scipy's PchipInterpolator over whole node
lines (or np.interp on a grid with linear values), and the logit response recomputed at the Bayes
posteriors of the returned strategy. A returned strategy must be a fixed point of that map at the
belief asked for, and at the nodes it must be the solver's own strategy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.interpolate import PchipInterpolator

from crisislab.crisis import Solution, compile_scenario, solve
from crisislab.crisis._belief import grid_layout
from crisislab.crisis._compile import perceived_games
from crisislab.crisis._lump import lump
from crisislab.errors import UserError
from crisislab.scenario import load_scenario

DATA = Path(__file__).parent / "data"


def _solved(name: str, grid, horizon: int = 3) -> Solution:
    path = DATA / f"{name}.yaml"
    if not path.exists():  # a bundled scenario
        path = Path(__file__).parents[2] / "scenarios" / f"{name}.yaml"
    cg = compile_scenario(load_scenario(path), horizon=horizon)
    return solve(cg, grid=grid, keep_values=True)


def _points(sol: Solution, rng, per: int = 12, two_type_movers: bool = True):
    cg = sol.compiled
    for g in range(len(sol.sigma)):
        h = int(np.flatnonzero(sol.game_of == g)[0])
        for d in range(cg.n_decisions):
            S = cg.n_states(d)
            if S and (cg.n_types[cg.dec_mover[d]] == 2 or not two_type_movers):
                yield h, g, d, rng.integers(S, size=per), rng.random((per, cg.n_actors))


def _interp(grid: np.ndarray, y: np.ndarray, at: float, cubic: bool, axis: int) -> np.ndarray:
    if cubic:
        return PchipInterpolator(grid, y, axis=axis)(at)
    y = np.moveaxis(y, axis, -1)
    i = min(max(int(np.searchsorted(grid, at, side="right")) - 1, 0), grid.size - 2)
    t = (at - grid[i]) / (grid[i + 1] - grid[i])
    return (1 - t) * y[..., i] + t * y[..., i + 1]


def _residual(sol: Solution, g: int, d: int, state: int, x: np.ndarray, sig: np.ndarray) -> float:
    """sup |σ − logit(λ Q(posterior(σ)))| with Q rebuilt independently at belief x."""
    cg = sol.compiled
    games, _, _ = perceived_games(cg, True)
    L = lump(cg.with_terminal(games[g]))
    grid = sol.grid
    G = grid.size
    cubic = sol.belief_grid.interp != "linear"
    sizes, _bidx, _strides, tau = grid_layout(cg.n_types, G)
    n, T = cg.n_actors, tau.shape[0]
    m = int(cg.dec_mover[d])
    c = int(sol.class_of[g][d][state])
    A = L.avail[d].shape[1]
    Wn = sol.values[g][d + 1].reshape((-1, *sizes, n, T)) if d + 1 < cg.n_decisions else None
    # C[a, belief nodes..., t]: the mover's continuation per action and type profile on the whole grid
    C = np.zeros((A, *sizes, T))
    for a in range(A):
        r = c * A + a
        for j in range(L.row_ptr[d][r], L.row_ptr[d][r + 1]):
            C[a] += L.prob[d][j] * L.reward[d][j, m, tau[:, m]]
            if L.nxt[d][j] >= 0:
                C[a] += L.prob[d][j] * cg.disc[d] * Wn[L.nxt[d][j], ..., m, :]
    # read every other two-type axis at its coordinate (last first, as the grid is row-major)
    for j in range(n - 1, -1, -1):
        if j != m and sizes[j] > 1:
            C = _interp(grid, C, x[j], cubic, axis=1 + j)
    line = C  # (A, G, T) or (A, 1, T)... only the mover's axis is left
    line = line.reshape(A, G, T)
    wt = np.ones(T)
    for j in range(n):
        if j != m and sizes[j] > 1:
            wt *= np.where(tau[:, j] == 0, x[j], 1 - x[j])
    D = np.stack([(line[:, :, tau[:, m] == th] * wt[tau[:, m] == th]).sum(-1) for th in range(2)], axis=-1)
    lam = sol.lam[m] * np.concatenate([[1.0], np.cumprod(cg.disc[:-1])])[d]
    av = L.avail[d][c]
    xm = x[m]
    Q = np.zeros((2, A))
    for a in np.flatnonzero(av):
        den = xm * sig[0, a] + (1 - xm) * sig[1, a]
        post = xm * sig[0, a] / den if den > 0 else xm
        for th in range(2):
            Q[th, a] = float(_interp(grid, D[a, :, th], post, cubic, axis=0))
    z = np.where(av, lam * Q, -np.inf)
    z -= z.max(axis=1, keepdims=True)
    resp = np.exp(z)
    resp /= resp.sum(axis=1, keepdims=True)
    return float(np.abs(resp - sig).max())


@pytest.mark.parametrize(("name", "grid"), [("duo", "cheb:7"), ("duo", 9), ("trio", "cheb:5")])
def test_resolved_strategy_is_a_fixed_point_at_the_belief_asked_for(name: str, grid) -> None:
    sol = _solved(name, grid)
    rng = np.random.default_rng(7)
    checked = 0
    worst = 0.0
    for h, g, d, states, x in _points(sol, rng, per=30):
        sig = sol.strategy(h, d, states, x, readout="resolve")
        for k in range(states.size):
            worst = max(worst, _residual(sol, g, d, int(states[k]), x[k], sig[k]))
            checked += 1
    assert checked >= 100
    assert worst < 1e-7


@pytest.mark.parametrize(("name", "grid"), [("duo", "cheb:7"), ("duo", 9), ("trio", "cheb:5"), ("fearon-audience-costs", 11)])
def test_resolved_strategy_at_a_node_is_the_solvers(name: str, grid) -> None:
    # fearon: a two-type actor and a one-type one (whose strategy depends on the other's coordinate only)
    sol = _solved(name, grid)
    rng = np.random.default_rng(3)
    checked = 0
    for h, _g, d, states, _x in _points(sol, rng, per=40, two_type_movers=False):
        x = sol.grid[rng.integers(sol.grid.size, size=(states.size, sol.compiled.n_actors))]
        got = sol.strategy(h, d, states, x, readout="resolve")
        want = sol.strategy(h, d, states, x)
        np.testing.assert_allclose(got, want, atol=1e-6)  # the table is float32
        checked += states.size
    assert checked >= 100


def test_resolve_moves_strategies_between_nodes_where_the_table_interpolates() -> None:
    # Between nodes the two read-outs differ (otherwise the resolve read-out would be the table's):
    # on the coarse grid the resolved strategies are closer to a fine grid's than the table's are.
    coarse, fine = _solved("duo", "cheb:5"), _solved("duo", "cheb:17")
    rng = np.random.default_rng(11)
    err_table, err_resolve = [], []
    for h, _g, d, states, x in _points(coarse, rng, per=40):
        ref = fine.strategy(h, d, states, x, readout="resolve")
        err_table.append(np.abs(coarse.strategy(h, d, states, x) - ref).max())
        err_resolve.append(np.abs(coarse.strategy(h, d, states, x, readout="resolve") - ref).max())
    assert max(err_resolve) < max(err_table)


def test_resolve_needs_the_kept_values_and_survives_save_and_load(tmp_path: Path) -> None:
    cg = compile_scenario(load_scenario(DATA / "duo.yaml"), horizon=2)
    plain = solve(cg, grid="cheb:5")
    x = np.full((1, cg.n_actors), 0.3)
    with pytest.raises(UserError, match="keep_values=True"):
        plain.strategy(0, 0, np.array([0]), x, readout="resolve")
    with pytest.raises(UserError, match="readout must be"):
        plain.strategy(0, 0, np.array([0]), x, readout="exact")
    kept = solve(cg, grid="cheb:5", keep_values=True)
    back = Solution.load(kept.save(tmp_path / "sol"))
    np.testing.assert_array_equal(back.strategy(0, 0, np.array([0]), x, readout="resolve"),
                                  kept.strategy(0, 0, np.array([0]), x, readout="resolve"))
