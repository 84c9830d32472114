"""`crisislab solve` and `crisislab export-efg`: output, saved files, exit status 2 on bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from crisislab.crisis import Solution
from crisislab.efg import read_efg
from crisislab.errors import SolverError

from .conftest import DATA, SCENARIOS


def _invoke(*args: str):
    """In-process run (the subprocess start-up costs seconds); user errors surface as exceptions."""
    from typer.testing import CliRunner

    from crisislab.cli import app

    return CliRunner().invoke(app, list(args))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from crisislab.cli import main; main()", *args],
        capture_output=True, text=True, check=False,
    )


def test_solve_prints_first_round_and_saves(tmp_path):
    out = tmp_path / "sol"
    r = _invoke("solve", str(DATA / "tiny.yaml"), "--grid", "11", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "a_press" in r.output and "tough" in r.output and "value" in r.output
    sol = Solution.load(out)
    assert sol.params["grid"] == 11
    # the printed round-1 strategy is the saved solution's
    first = sol.first_round(0)
    assert f"{first[0, 0, 0]:.3f}" in r.output


def test_solve_without_out_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = _invoke("solve", str(DATA / "tiny.yaml"), "--grid", "11")
    assert r.exit_code == 0, r.output
    assert "a_press" in r.output and "saved" not in r.output
    assert list(tmp_path.iterdir()) == []


def test_export_efg_writes_a_readable_game(tmp_path):
    path = tmp_path / "fearon.efg"
    r = _invoke("export-efg", str(SCENARIOS / "fearon-audience-costs.yaml"), "--horizon", "2", "-o", str(path))
    assert r.exit_code == 0, r.output
    game = read_efg(path)
    assert game.players == ("A", "B")
    # chance deals A's type with the scenario's prior 0.3 / 0.7 at the root
    kids = game.children[game.child_start[0] : game.child_start[0] + game.n_children[0]]
    np.testing.assert_allclose(game.chance_prob[kids], [0.3, 0.7])


def test_bad_grid_and_huge_tree_exit_2_without_traceback(tmp_path, monkeypatch):
    r = _run("solve", str(DATA / "tiny.yaml"), "--grid", "2", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "at least 3 points" in r.stderr and "Traceback" not in r.stderr
    from crisislab.crisis import _unroll

    monkeypatch.setattr(_unroll, "MAX_UNROLL_NODES", 100)  # tiny.yaml at H = 2 has 143 nodes
    r = _invoke("export-efg", str(DATA / "tiny.yaml"), "--horizon", "2", "-o", str(tmp_path / "x.efg"))
    assert isinstance(r.exception, SolverError) and "use a shorter horizon" in str(r.exception)


def test_solve_with_the_trace_selection_saves_what_the_api_solves(tmp_path):
    # `--selection trace` is passed through to `solve`: the saved tables are the API's, bit for bit,
    # and the solution records the selection it was solved with (the read-out re-solves with it).
    from crisislab.crisis import compile_scenario, solve
    from crisislab.scenario import load_scenario

    out = tmp_path / "sol"
    r = _invoke("solve", str(DATA / "tiny.yaml"), "--grid", "cheb:9", "--selection", "trace", "--out", str(out))
    assert r.exit_code == 0, r.output
    sol = Solution.load(out)
    api = solve(compile_scenario(load_scenario(DATA / "tiny.yaml")), grid="cheb:9", selection="trace")
    assert sol.params["selection"] == "trace"
    for a, b in zip(sol.sigma, api.sigma, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_solve_on_an_adaptive_grid_says_how_much_it_solved(tmp_path):
    r = _run("solve", str(DATA / "tiny.yaml"), "--grid", "adapt:21:1.5", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "'adapt:21:1.5' must be a probability in (0, 1)" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x").exists()
    out = tmp_path / "sol"
    r = _invoke("solve", str(DATA / "tiny.yaml"), "--grid", "adapt:21", "--out", str(out))
    assert r.exit_code == 0, r.output
    sol = Solution.load(out)
    assert sol.belief_grid.kind == "adaptive"
    text = " ".join(r.output.split())
    assert f"{sol.params['stage_problems']:,} of the lattice's {sol.params['lattice_problems']:,} stage problems solved" in text
    assert sol.params["stage_problems"] < sol.params["lattice_problems"]
