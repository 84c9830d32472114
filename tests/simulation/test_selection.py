"""The crisis engine's stage fixed-point selection chosen from the simulator, the analyses and the CLI.

`crisislab.crisis.solve(selection=...)` decides which fixed point a node keeps where its stage game
has several (tests/crisis/test_selection.py tests what each selection returns). Here: a selection
asked of `simulate`, `SolverChoice`, `make_runner`, `grid_check`, `run_study` and the commands
reaches every solve they make, is recorded where the results say how they were made, and a
selection that cannot apply is refused with the fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crisislab.analysis import SolverChoice, grid_check, make_runner, run_study
from crisislab.crisis import solve_scenario
from crisislab.errors import UserError
from crisislab.scenario import load_scenario
from crisislab.simulation import simulate

DUO = Path(__file__).parents[1] / "crisis" / "data" / "duo.yaml"


@pytest.fixture(scope="module")
def duo():
    sc = load_scenario(DUO)
    return sc, solve_scenario(sc, grid="cheb:5", selection="trace")


def test_solver_choice_solves_with_the_selection_and_refuses_what_cannot_apply(duo) -> None:
    sc, _ = duo
    policy = SolverChoice("crisis", "cheb:5", selection="trace")(sc)
    assert policy.solution.params["selection"] == "trace"
    assert "selected by trace" in policy.description
    assert SolverChoice("crisis", "cheb:5")(sc).solution.params["selection"] == "continuation"
    with pytest.raises(UserError, match="selection: expected one of .*trace"):
        SolverChoice("crisis", 5, selection="best")
    with pytest.raises(UserError, match="only the crisis engine"):
        SolverChoice("myopic", selection="trace")


def test_simulate_solves_with_the_selection_asked(duo) -> None:
    # "crisis" solved inside simulate with selection="trace" plays the same runs as the solution
    # solved with it outside (same seed), and a solved policy cannot be given another selection.
    sc, sol = duo
    inside = simulate(sc, "crisis", 400, 6, grid="cheb:5", selection="trace").runs
    outside = simulate(sc, sol, 400, 6).runs
    assert inside["outcome"].astype(str).tolist() == outside["outcome"].astype(str).tolist()
    np.testing.assert_array_equal(inside.select_dtypes("number").to_numpy(), outside.select_dtypes("number").to_numpy())
    from crisislab.simulation import as_policy

    assert as_policy("crisis", sc, "cheb:5", selection="trace").solution.params["selection"] == "trace"
    with pytest.raises(UserError, match="only a policy solved here"):
        simulate(sc, sol, 10, 1, selection="trace")


def test_a_runner_for_a_solution_re_solves_arms_with_its_own_selection(duo) -> None:
    sc, sol = duo
    runner = make_runner(sc, sol, runs=100, seed=1)
    assert runner.solve.selection == "trace"
    assert runner.provenance["selection"] == "trace"
    assert "selection" not in make_runner(sc, "crisis", "cheb:5", runs=100, seed=1).provenance
    with pytest.raises(UserError, match="solved with selection 'trace'"):
        make_runner(sc, sol, runs=100, seed=1, selection="path")


def test_grid_check_and_run_study_solve_every_grid_with_the_selection(duo) -> None:
    sc, sol = duo
    out = grid_check(sc, ["cheb:3", "cheb:5"], 300, 4, selection="trace")
    for col in out["grids"]:
        counts = simulate(sc, solve_scenario(sc, grid=col["grid"], selection="trace"), 300, 4).outcome_counts()
        assert col["outcomes"] == pytest.approx({k: v / 300 for k, v in counts.items()}, abs=1e-12)
    study = run_study(sc, runs=300, seed=3, grid="cheb:5", robustness=0, record=False, selection="trace")
    assert "selected by trace" in study.solver
    assert study.results.outcome_counts().to_dict() == simulate(sc, sol, 300, 3).outcome_counts().to_dict()


def test_cli_takes_the_selection_and_refuses_a_bad_one(run_cli, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "runs.parquet"
    code, stdout, err = run_cli("simulate", DUO, "--grid", "cheb:5", "--runs", "200", "--seed", "2", "--selection", "trace",
                                "--json", "--out", out)
    assert code == 0, err
    assert json.loads(stdout)["selection"] == "trace"
    meta = json.dumps({k.decode(): v.decode() for k, v in pq.read_schema(out).metadata.items()})
    assert "trace" in meta
    code, _, err = run_cli("simulate", DUO, "--grid", "cheb:5", "--runs", "10", "--selection", "best")
    assert code == 2
    assert "selection" in err and "best" in err
    code, _, err = run_cli("simulate", DUO, "--policy", "myopic", "--runs", "10", "--selection", "trace")
    assert code == 2
    assert "only the crisis engine" in err
