"""Size limits of the crisis engine: the finest belief grid, and the memory estimate checked against
`max_gib` (`--max-gib`) for all perceived games together, before any solving."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from crisislab.crisis import MAX_GRID, compile_scenario, parse_grid, solve, solve_estimate
from crisislab.crisis import _solve as solve_module
from crisislab.crisis._lump import lump
from crisislab.errors import SolverError

from .conftest import DATA, SCENARIOS


def _invoke(*args: str):
    from typer.testing import CliRunner

    from crisislab.cli import app

    return CliRunner().invoke(app, list(args))


def test_grid_limit():
    assert parse_grid(str(MAX_GRID)) == MAX_GRID == 1001
    for bad in (str(MAX_GRID + 1), "100001"):
        with pytest.raises(SolverError, match=r"grid: at most 1001 belief-grid points \(got \d+\): the interpolation error"):
            parse_grid(bad)
    with pytest.raises(SolverError, match="at least 3 points"):
        parse_grid("2")


def test_grid_limit_in_the_library_and_the_commands(tiny):
    with pytest.raises(SolverError, match=r"^grid: at most 1001"):
        solve(compile_scenario(tiny), grid=MAX_GRID + 1)
    for cmd in ("solve", "simulate"):
        r = _invoke(cmd, str(SCENARIOS / "fearon-audience-costs.yaml"), "--grid", "100001")
        assert isinstance(r.exception, SolverError) and "grid: at most 1001 belief-grid points (got 100001)" in str(r.exception)


def test_the_estimate_is_what_solve_keeps(spiral):
    # Kept bytes = every game's float32 policy tables (what Solution.sigma holds) + the float64
    # values at decision 0 of each game (C_0 × B × n × T × 8 bytes).
    cg = compile_scenario(spiral, horizon=3)
    G = 11
    sol = solve(cg, grid=G)
    games, _, _ = solve_module._perceived_games(cg, True)
    lumps = [lump(cg.with_terminal(t)) for t in games]
    assert len(sol.sigma) == len(lumps) == 2  # spiral's B sees A's war payoffs differently
    kept, peak = solve_module._solve_bytes(cg, lumps, G)
    B = int(np.prod(np.where(cg.n_types == 2, G, 1)))  # belief nodes: G per two-type actor (both here)
    n, T = cg.n_actors, int(np.prod(cg.n_types))
    w0 = sum(L.n_classes(0) * B * n * T * 8 for L in lumps)
    assert kept - w0 == sum(s.nbytes for game in sol.sigma for s in game)
    assert 0 < peak < kept
    gib, problems = solve_estimate(cg, G)
    assert gib == pytest.approx((kept + peak) / 2**30)
    assert problems == sum(L.n_classes(d) * B * int(cg.n_types[cg.dec_mover[d]]) for L in lumps for d in range(cg.n_decisions))


def test_max_gib_counts_every_perceived_game_and_refuses_before_solving(spiral, monkeypatch):
    # The flagship at grid 51 needs ~7 GiB per perceived game, 14 GiB for its two: the old check,
    # one game at a time against 8 GiB, let it run. A limit between one game's need and both
    # games' need must now refuse, before any game is solved.
    cg = compile_scenario(spiral, horizon=3)
    G = 21
    games, _, _ = solve_module._perceived_games(cg, True)
    lumps = [lump(cg.with_terminal(t)) for t in games]
    one = sum(solve_module._solve_bytes(cg, lumps[:1], G)) / 2**30
    both = sum(solve_module._solve_bytes(cg, lumps, G)) / 2**30
    assert both > one * 1.2
    limit = (one + both) / 2

    def no_solving(*args, **kwargs):
        raise AssertionError("solve_game ran before the memory check")

    monkeypatch.setattr(solve_module, "solve_game", no_solving)
    with pytest.raises(SolverError) as info:
        solve(cg, grid=G, max_gib=limit)
    msg = str(info.value)
    assert f"with a {G}-point belief grid needs about" in msg and "for 2 perceived games" in msg
    assert f"more than max_gib = {limit:g} GiB" in msg and "use grid" in msg


def test_solve_command_refuses_a_tiny_budget_with_the_estimate():
    r = subprocess.run(
        [sys.executable, "-c", "from crisislab.cli import main; main()", "solve", str(DATA / "tiny.yaml"),
         "--grid", "51", "--max-gib", "0.000001", "--out", "/nonexistent/never-written"],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "with a 51-point belief grid needs about" in r.stderr and "more than max_gib = 1e-06 GiB" in r.stderr
    # the need is printed to two significant digits, so a small need is not shown as 0.0
    need = float(re.search(r"needs about ([0-9.e+-]+) GiB", r.stderr).group(1))
    assert need > 1e-6, r.stderr
    r = _invoke("solve", str(DATA / "tiny.yaml"), "--grid", "5", "--max-gib", "0")
    assert isinstance(r.exception, SolverError) and "--max-gib: expected a number of GiB > 0" in str(r.exception)


def test_a_horizon_beyond_the_scenario_limit_is_refused(tiny):
    with pytest.raises(SolverError, match=r"horizon: at most 1,000 rounds.*got 100,000,000"):
        compile_scenario(tiny, horizon=100_000_000)
