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


@pytest.mark.parametrize("grids", ["5,3", "2,5", "3,x", "3,3"])
def test_bad_grid_lists_exit_2(run_cli, grids: str) -> None:
    code, _, stderr = run_cli("grid-check", str(MINI), "--grids", grids)
    assert code == 2 and "--grids" in stderr and "Traceback" not in stderr


def test_one_grid_says_there_is_nothing_to_compare(run_cli) -> None:
    code, stdout, _ = run_cli("grid-check", str(MINI), "--grids", "5", "--runs", "300", "--seed", "4")
    assert code == 0
    assert "nothing to compare" in stdout and "between grids 5 and 5" not in stdout
