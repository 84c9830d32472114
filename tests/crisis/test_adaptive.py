"""The adaptive belief grid (`--grid adapt:N[:TOL]`): each state solves the nodes of the N-point
lattice it needs and reads the others from the corners of the box that holds them.

The reference is the dense grid on the same lattice, solved in the same test: where every node is
solved the two are the same computation, and where boxes are read the difference from the dense
grid must stay within what the acceptance rule of `benchmarks/bench_belief.py` allows (no larger
than the dense N- vs 2N−1-point difference)."""

from __future__ import annotations

import numpy as np
import pytest

from crisislab.crisis import BeliefGrid, compile_scenario, solve
from crisislab.crisis._solve import parse_grid, resolve_grid
from crisislab.errors import SolverError

from .conftest import bundled


def _lattice(G: int, refine: float) -> BeliefGrid:
    return BeliefGrid(tuple(np.linspace(0.0, 1.0, G).tolist()), "linear", "adaptive", "linear", refine)


def _points(cg, n: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    sizes = np.array([cg.n_states(d) for d in range(cg.n_decisions)])
    live = np.flatnonzero(sizes > 0)
    d = live[rng.integers(0, live.size, n)]
    s = np.floor(rng.random(n) * sizes[d]).astype(np.int64)
    return d, s, rng.random((n, cg.n_actors))


def _gap(a, b, pts) -> float:
    """Largest |Δσ| between two solutions at the points, over every perceived game and type."""
    d, s, x = pts
    worst = 0.0
    for dd in np.unique(d):
        sel = d == dd
        for h in a.perceivers:
            pa = a.strategy(h, int(dd), s[sel], x[sel])
            pb = b.strategy(h, int(dd), s[sel], x[sel])
            worst = max(worst, float(np.abs(pa - pb).max()))
    return worst


def test_a_tolerance_at_rounding_is_the_dense_grid(spiral):
    """A tolerance at rounding splits every box whose midpoints are not exactly its corners'
    reading, down to neighbouring nodes: the nodes are solved from the same tables as on the dense
    grid, and only boxes whose midpoints the corners predict to rounding (a strategy constant in the
    belief) are read, so the strategies are the dense grid's to float32 rounding."""
    cg = compile_scenario(spiral)
    st_a, st_d = [], []
    a = solve(cg, grid=_lattice(11, 1e-15), stats=st_a)
    d = solve(cg, grid=11, stats=st_d)
    assert sum(x.nodes for x in st_a) < sum(x.nodes for x in st_d)
    for ga, gd in zip(a.sigma, d.sigma, strict=True):
        for sa, sd in zip(ga, gd, strict=True):
            np.testing.assert_allclose(sa, sd, rtol=0, atol=1e-6)


def test_nodes_solved_at_the_last_decision_are_the_dense_nodes(spiral):
    """At the last decision there is no continuation to read, so a node the adaptive grid solves is
    solved exactly as on the dense grid; it solves fewer nodes than the lattice has."""
    cg = compile_scenario(spiral)
    st = []
    a = solve(cg, grid=_lattice(21, 0.01), stats=st, hypergame=False)
    d = solve(cg, grid=21, hypergame=False)
    last = cg.n_decisions - 1
    k_m = int(cg.n_types[cg.dec_mover[last]])
    solved = next(x for x in st if x.decision == last).nodes // k_m
    sa, sd = a.sigma[0][last], d.sigma[0][last]
    same = np.all(sa == sd, axis=(2, 3)).sum()
    assert solved < sa.shape[0] * sa.shape[1]
    assert same >= solved
    # the others are read from boxes: distributions over the available actions all the same
    assert np.allclose(sa.sum(axis=3), 1.0, atol=1e-6)
    assert ((sa > 0) <= (sd > 0)).all()


def test_meets_the_dense_grids_accuracy_at_a_fraction_of_its_nodes():
    """The acceptance rule of benchmarks/bench_belief.py on crisis-bargaining-2type: the largest
    strategy difference from the dense 51-point solution at random beliefs is no larger than the dense
    51- vs 101-point difference, with fewer stage problems than the dense grid solves."""
    cg = compile_scenario(bundled("crisis-bargaining-2type"))
    st_a, st_d = [], []
    a = solve(cg, grid="adapt:51:0.0001", stats=st_a)
    d51 = solve(cg, grid=51, stats=st_d)
    d101 = solve(cg, grid=101)
    pts = _points(cg, 20_000)
    ref_gap = _gap(d51, d101, pts)
    assert ref_gap > 0.0
    assert _gap(a, d51, pts) <= ref_gap
    assert sum(x.nodes for x in st_a) < 0.7 * sum(x.nodes for x in st_d)


def test_any_thread_count_gives_the_same_bits(spiral):
    cg = compile_scenario(spiral)
    one = solve(cg, grid="adapt:21:0.02", threads=1)
    two = solve(cg, grid="adapt:21:0.02", threads=2)
    for ga, gb in zip(one.sigma, two.sigma, strict=True):
        for sa, sb in zip(ga, gb, strict=True):
            assert np.array_equal(sa, sb)


def test_priors_are_nodes_and_the_grid_round_trips(tmp_path, spiral):
    cg = compile_scenario(spiral)
    sol = solve(cg, grid="adapt:11")
    g = sol.belief_grid
    assert (g.kind, g.refine) == ("adaptive", 0.01)
    assert all(g.holds(float(x)) for x in sol.mu0.ravel())
    assert not any("not a point" in m for m in sol.diagnostics)
    back = type(sol).load(sol.save(tmp_path / "sol"))
    assert back.belief_grid == g


def test_specs_and_their_errors(spiral):
    cg = compile_scenario(spiral)
    assert parse_grid("Adapt:51:0.02") == "adapt:51:0.02"
    assert resolve_grid(cg, "adaptive:31").refine == 0.01
    assert resolve_grid(cg, "adapt:31:0.003").refine == 0.003
    with pytest.raises(SolverError, match=r"refinement tolerance of 'adapt:51:2' must be a probability in \(0, 1\) \(got '2'"):
        parse_grid("adapt:51:2")
    with pytest.raises(SolverError, match="at most 1001"):
        parse_grid("adapt:2001")
    with pytest.raises(SolverError, match="only an adaptive grid has a refinement tolerance"):
        BeliefGrid((0.0, 0.5, 1.0), refine=0.1)


def test_three_two_type_actors_split_cubes():
    """With three two-type actors the boxes are cubes of the lattice (27 start nodes, 19 midpoints
    per box): at a tolerance at rounding the result is the dense grid's, as with two."""
    from crisislab.scenario import load_scenario

    from .conftest import DATA

    cg = compile_scenario(load_scenario(DATA / "trio.yaml"), horizon=2)
    assert int((cg.n_types == 2).sum()) == 3
    st_a, st_d = [], []
    a = solve(cg, grid=_lattice(7, 1e-15), stats=st_a)
    d = solve(cg, grid=7, stats=st_d)
    assert sum(x.nodes for x in st_a) <= sum(x.nodes for x in st_d)
    for ga, gd in zip(a.sigma, d.sigma, strict=True):
        for sa, sd in zip(ga, gd, strict=True):
            np.testing.assert_allclose(sa, sd, rtol=0, atol=1e-6)
    loose = []
    solve(cg, grid=_lattice(7, 0.05), stats=loose)
    assert sum(x.nodes for x in loose) < sum(x.nodes for x in st_d)


def test_simulated_outcomes_agree_with_the_dense_grid():
    """Common random numbers: runs played from the adaptive tables end as the dense grid's do,
    up to the runs a strategy difference of the tolerance's size can move."""
    from crisislab import simulate

    scn = bundled("chicken-brinkmanship")
    cg = compile_scenario(scn)
    runs = 4000
    a = simulate(scn, solve(cg, grid="adapt:51:0.001"), runs=runs, seed=11)
    d = simulate(scn, solve(cg, grid=51), runs=runs, seed=11)
    oa, od = a.runs["outcome"].to_numpy(), d.runs["outcome"].to_numpy()
    assert (oa != od).mean() <= 0.005


def test_a_lattice_too_large_for_memory_names_one_that_fits(spiral):
    cg = compile_scenario(spiral, horizon=2)
    with pytest.raises(SolverError, match=r"with an adaptive 201-node lattice \(its tables are the whole lattice's\) needs about .* "
                                          r"stage problems on the lattice\), more than max_gib = 0.001 GiB; use a lattice of \d+ points or less \(adapt:\d+\)"):
        solve(cg, grid=_lattice(201, 0.01), max_gib=0.001)


def test_tables_do_not_depend_on_the_prior_a_solve_starts_from():
    """An adaptive grid starts every state from its own anchors (the priors it was built for), so
    a scenario that differs only in a prior, solved on the same grid, has the same tables; and an arm
    that changes a prior under a grid named by a spec is solved on its own grid, as a fresh solve is."""
    from crisislab import ArmRunner
    from crisislab.analysis import SolverChoice

    scn = bundled("crisis-bargaining-2type")
    other = scn.with_overrides({"actors.C.types.greedy.prior": 0.17, "actors.C.types.modest.prior": 0.83})
    grid = resolve_grid(compile_scenario(scn), "adapt:21")
    a = solve(compile_scenario(scn), grid=grid)
    b = solve(compile_scenario(other), grid=grid)
    for ga, gb in zip(a.sigma, b.sigma, strict=True):
        for sa, sb in zip(ga, gb, strict=True):
            assert np.array_equal(sa, sb)
    runner = ArmRunner(scn, SolverChoice("crisis", "adapt:21"), runs=100, seed=1)
    arm = runner.solved({"actors.C.types.greedy.prior": 0.17, "actors.C.types.modest.prior": 0.83})[2]
    fresh = solve(compile_scenario(other), grid="adapt:21")
    assert arm.solution.belief_grid == fresh.belief_grid != grid
    for ga, gb in zip(arm.solution.sigma, fresh.sigma, strict=True):
        for sa, sb in zip(ga, gb, strict=True):
            assert np.array_equal(sa, sb)
