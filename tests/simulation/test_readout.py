"""Simulating a crisis solution whose strategies are re-solved at each run's beliefs (readout="resolve")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crisislab.crisis import solve_scenario
from crisislab.errors import UserError
from crisislab.scenario import load_scenario
from crisislab.simulation import SolutionPolicy, simulate

DUO = Path(__file__).parents[1] / "crisis" / "data" / "duo.yaml"


@pytest.fixture(scope="module")
def duo():
    sc = load_scenario(DUO)
    return sc, solve_scenario(sc, grid="cheb:5", keep_values=True)


def test_first_moves_are_the_tables_where_the_beliefs_are_still_nodes(duo) -> None:
    # Runs start at the priors, which the Chebyshev grid makes nodes; there the re-solved stage is
    # the solver's own (tests/crisis/test_readout.py), so with common random numbers the first
    # strategic move of every run is the same under both read-outs. Later moves start from
    # posteriors between nodes, where the two read-outs differ.
    sc, sol = duo
    table = simulate(sc, sol, 1500, 5, paths=True).paths
    resolve = simulate(sc, sol, 1500, 5, paths=True, readout="resolve").paths
    key = ["run", "round", "move"]
    first = table.sort_values(key).groupby("run").head(1).reset_index(drop=True)
    first_r = resolve.sort_values(key).groupby("run").head(1).reset_index(drop=True)
    assert len(first) == 1500
    assert (first["action"].astype(str).to_numpy() == first_r["action"].astype(str).to_numpy()).all()
    later = table.merge(resolve, on=key, suffixes=("_t", "_r"))
    assert (later["action_t"].astype(str) != later["action_r"].astype(str)).any()


def test_resolved_runs_do_not_depend_on_the_workers(duo) -> None:
    sc, sol = duo
    one = simulate(sc, sol, 400, 9, readout="resolve").runs
    two = simulate(sc, sol, 400, 9, readout="resolve", workers=2, chunk=100).runs
    assert one["outcome"].astype(str).tolist() == two["outcome"].astype(str).tolist()
    np.testing.assert_array_equal(one.select_dtypes("number").to_numpy(), two.select_dtypes("number").to_numpy())


def test_resolve_without_kept_values_is_refused_with_the_fix() -> None:
    sc = load_scenario(DUO)
    sol = solve_scenario(sc, grid="cheb:5", horizon=2)
    with pytest.raises(UserError, match="keep_values=True"):
        SolutionPolicy(sol, sc.model_copy(update={"horizon": 2}), readout="resolve")


def test_cli_simulates_with_resolve_and_refuses_an_unknown_readout(run_cli) -> None:
    code, out, err = run_cli("simulate", DUO, "--grid", "cheb:5", "--runs", "300", "--seed", "2", "--readout", "resolve", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["readout"] == "resolve"
    assert abs(sum(summary["outcomes"].values()) - 1.0) < 1e-12
    code, _, err = run_cli("simulate", DUO, "--grid", "cheb:5", "--runs", "300", "--readout", "exact")
    assert code == 2
    assert "readout" in err and "exact" in err


def test_a_results_file_says_its_strategies_were_re_solved(run_cli, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "runs.parquet"
    code, _, err = run_cli("simulate", DUO, "--grid", "cheb:5", "--runs", "200", "--readout", "resolve", "--out", out)
    assert code == 0, err
    meta = json.dumps({k.decode(): v.decode() for k, v in pq.read_schema(out).metadata.items()})
    assert "resolve" in meta


def test_resolve_is_refused_for_a_policy_that_is_not_a_crisis_solution(duo, run_cli) -> None:
    sc, _sol = duo
    with pytest.raises(UserError, match="only a crisis solution"):
        simulate(sc, "myopic", 10, 1, readout="resolve")
    code, _, err = run_cli("simulate", DUO, "--policy", "myopic", "--runs", "10", "--readout", "resolve")
    assert code == 2
    assert "only the crisis policy" in err


def test_grid_check_reads_every_grid_by_the_readout_asked(duo) -> None:
    # Each column equals a plain simulate of that grid's solution read the same way (same seed).
    from crisislab.analysis import grid_check

    sc, _ = duo
    out = grid_check(sc, ["cheb:3", "cheb:5"], 300, 4, readout="resolve")
    for col in out["grids"]:
        sol = solve_scenario(sc, grid=col["grid"], keep_values=True)
        counts = simulate(sc, sol, 300, 4, readout="resolve").outcome_counts()
        assert col["outcomes"] == pytest.approx({k: v / 300 for k, v in counts.items()}, abs=1e-12)


def test_run_study_and_claims_take_the_readout(duo) -> None:
    # The study's policy reads by the readout asked, and its outcome shares are those of a plain
    # simulate read the same way (same seed, same runs).
    from crisislab.analysis import run_study

    sc, _ = duo
    study = run_study(sc, runs=300, seed=3, grid="cheb:5", robustness=0, record=False, readout="resolve")
    sol = solve_scenario(sc, grid="cheb:5", keep_values=True)
    counts = simulate(sc, sol, 300, 3, readout="resolve").outcome_counts()
    assert study.results.outcome_counts().to_dict() == counts.to_dict()
    assert "re-solved" in study.solver
