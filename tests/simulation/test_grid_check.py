"""`crisislab grid-check`: the same scenario solved on several belief grids, side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

MINI = Path(__file__).with_name("mini.yaml")


def test_each_column_is_the_simulation_on_that_grid(run_cli) -> None:
    code, stdout, stderr = run_cli("grid-check", str(MINI), "--grids", "3,9", "--runs", "600", "--seed", "4", "--json")
    assert code == 0, stderr
    out = json.loads(stdout)
    assert [c["grid"] for c in out["grids"]] == [3, 9]
    for col in out["grids"]:
        # same seed and runs: the column must equal a plain `simulate` on that grid, bit for bit
        code, s, err = run_cli("simulate", str(MINI), "--grid", str(col["grid"]), "--runs", "600", "--seed", "4", "--json")
        assert code == 0, err
        assert json.loads(s)["outcomes"] == col["outcomes"]
        assert {c["claim"] for c in col["claims"]} == {"strike-raises-war", "forbid-nothing-same"}
    a, b = (c["outcomes"] for c in out["grids"])
    assert out["finest_shift"] == max(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


@pytest.mark.parametrize("grids", ["5,3", "2,5", "3,x", "3,3", "cheb:2", "5,cheb:7,cheb:7"])
def test_bad_grid_lists_exit_2(run_cli, grids: str) -> None:
    code, _, stderr = run_cli("grid-check", str(MINI), "--grids", grids)
    assert code == 2 and "--grids" in stderr and "Traceback" not in stderr


def test_one_grid_says_there_is_nothing_to_compare(run_cli) -> None:
    code, stdout, _ = run_cli("grid-check", str(MINI), "--grids", "5", "--runs", "300", "--seed", "4")
    assert code == 0
    assert "nothing to compare" in stdout and "between grids 5 and 5" not in stdout


def test_a_representation_is_compared_with_the_dense_grid_run_by_run() -> None:
    """A Chebyshev representation beside a dense grid: each column is that grid's own simulation,
    and the shift's paired standard error is the one of the per-run differences of the outcome
    indicators (runs paired by index under the same seed), computed here from the two simulations."""
    import numpy as np

    import crisislab

    sc = crisislab.load_scenario(MINI)
    out = crisislab.grid_check(sc, [5, "cheb:5"], runs=800, seed=11)
    assert [c["grid"] for c in out["grids"]] == [5, "cheb:5"]
    assert "Chebyshev" in out["grids"][1]["label"] and out["grids"][0]["label"].startswith("5-point uniform grid")
    ends = [crisislab.simulate(sc, crisislab.solve(sc, grid=g), 800, 11).runs["outcome"].to_numpy().astype(str) for g in (5, "cheb:5")]
    best = 0.0
    for k in out["outcomes"]:
        d = (ends[1] == k).astype(float) - (ends[0] == k).astype(float)
        if d.any():
            best = max(best, abs(d.mean()) / (d.std(ddof=1) / np.sqrt(d.size)))
    assert out["finest_shift_z"] == pytest.approx(best, rel=1e-12)
    for col, e in zip(out["grids"], ends, strict=True):
        assert col["outcomes"] == {k: float((e == k).mean()) for k in col["outcomes"]}


def test_duplicate_or_unordered_grids_are_refused_by_the_api() -> None:
    import crisislab

    sc = crisislab.load_scenario(MINI)
    for bad in ([5, "5"], [9, "cheb:5", 5], ["cheb:x"]):
        with pytest.raises(crisislab.UserError, match="grids"):
            crisislab.grid_check(sc, bad, runs=10)
