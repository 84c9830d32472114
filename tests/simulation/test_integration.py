"""The simulator with the crisis engine's solution, the timeline replay, and the CLI commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crisislab.scenario import load_scenario
from crisislab.model import lower
from crisislab.simulation import FixedPolicy, simulate

MINI = Path(__file__).with_name("mini.yaml")
US_SIGMA = np.array([[0.3, 0.7], [0.8, 0.2]])
IRAN_SIGMA = np.array([[0.4, 0.6], [0.9, 0.1]])


def test_simulator_reaches_only_states_the_crisis_engine_enumerated() -> None:
    # Both engines implement the same rules (docs/scenario-format.md); a state the simulator
    # reaches that the compiler did not enumerate would show a mismatch.
    from crisislab.analysis import SolverChoice

    sc = load_scenario(MINI)
    pol = SolverChoice("crisis", 5)(sc)
    res = simulate(sc, pol, 3000, seed=3)
    assert pol.unreachable == 0
    assert res.outcome_counts().sum() == 3000


def test_cli_run_writes_report_and_results(tmp_path: Path, run_cli) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        "run", str(MINI), "--runs", "500", "--seed", "3", "--out", str(out), "--policy", "myopic", "--json"
    )
    assert code == 0, stderr
    summary = json.loads(stdout)
    runs = pd.read_parquet(out / "results.parquet")
    assert len(runs) == 500 and (out / "report.html").is_file()
    for outcome, p in summary["outcomes"].items():
        assert p == (runs["outcome"] == outcome).mean()
    assert {c["claim"] for c in summary["claims"]} == {"strike-raises-war", "forbid-nothing-same"}
    import pyarrow.parquet as pq

    meta = json.loads(pq.read_schema(out / "results.parquet").metadata[b"crisislab"])
    assert meta["scenario"] == load_scenario(MINI).id and meta["seed"] == 3 and meta["runs"] == 500
    assert meta["policy"] == "myopic" and meta["interventions"] == ["as written"] and meta["crisislab"]


def test_unknown_policy_lists_the_valid_ones() -> None:
    from crisislab.errors import UserError
    from crisislab.analysis import SolverChoice

    with pytest.raises(UserError, match="crisis, myopic"):
        SolverChoice("oracle")  # type: ignore[arg-type]


def test_cli_rejects_bad_numbers_without_traceback(run_cli) -> None:
    code, _, stderr = run_cli("simulate", str(MINI), "--runs", "0", "--policy", "myopic")
    assert code == 2
    assert "runs: must be an integer >= 1" in stderr and "got 0" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize(
    ("command", "kind", "needle"),
    [("claims", "dir", "is a directory"), ("simulate", "dir", "is a directory"), ("run", "file", "is a file")],
)
def test_a_wrong_out_path_is_refused_before_any_work(run_cli, tmp_path: Path, command: str, kind: str, needle: str) -> None:
    target = tmp_path / "taken"
    target.mkdir() if kind == "dir" else target.write_text("keep me")
    code, _, stderr = run_cli(command, str(MINI), "--policy", "myopic", "--runs", "50", "--out", str(target))
    assert code == 2 and needle in stderr and "Traceback" not in stderr
    assert kind == "dir" or target.read_text() == "keep me"  # nothing lost


def test_json_output_is_strict_json_even_with_infinite_values(run_cli) -> None:
    """`--json` is strict JSON (no NaN/Infinity, which JSON.parse and jq refuse): on one run of
    crisis-bargaining-2type the paired statistics are undefined and come out as null."""
    scenario = Path(__file__).parents[2] / "scenarios" / "crisis-bargaining-2type.yaml"
    code, stdout, _ = run_cli("claims", str(scenario), "--runs", "1", "--robustness", "0", "--json", "--policy", "myopic")
    assert code == 0

    def refuse(token: str):
        raise AssertionError(f"non-finite number {token} in --json output")

    rows = json.loads(stdout, parse_constant=refuse)
    assert rows and any(v is None for row in rows for v in row.values())


def test_strict_json_dumps_numpy_and_non_finite_values() -> None:
    import numpy as np

    from crisislab._json import dumps

    text = dumps({"a": np.float64("-inf"), "b": [np.int64(3), np.nan, 0.5], "c": np.array([1.0, np.inf]), "d": np.bool_(True)})
    assert json.loads(text) == {"a": None, "b": [3, None, 0.5], "c": [1.0, None], "d": True}


def test_paths_without_out_is_refused_before_any_work(run_cli) -> None:
    code, _, err = run_cli("simulate", str(MINI), "--runs", "10", "--paths")
    assert code == 2 and "--paths" in err and "--out" in err and "Traceback" not in err


def test_rank_share_counts_pairs_with_ties_half() -> None:
    from crisislab.analysis import rank_share

    # obs -1: below it sim -3, -2 (2 of 4), one tie (-1) -> 2.5/4; obs -inf: below nothing -> 0;
    # mean over the two observations: (0.625 + 0) / 2.
    sim = np.array([-3.0, -1.0, -2.0, 0.0])
    assert rank_share(sim, np.array([-1.0, -np.inf])) == pytest.approx(0.3125)
    assert np.isnan(rank_share(np.array([]), np.array([-1.0])))


