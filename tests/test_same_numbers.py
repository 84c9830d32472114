"""The numbers the project prints do not move by accident.

For the flagship and two small scenarios, with a fixed seed, `crisislab run` writes `results.parquet`
and `claims.csv` and `crisislab solve` the solution arrays; this test recomputes their digests and
compares them with `data/same_numbers.json`. The expected digests are the output of the
implementation when they were recorded (`CRISISLAB_RECORD_DIGESTS=1 pytest tests/test_same_numbers.py`
writes them anew): a change that moves any of these numbers must be deliberate, and its commit
must say what changed and why. Refactors must leave them bit-identical.

Digests hash the values, dtypes and column names of each table (not the file bytes, whose
metadata holds the version), the CSV's bytes, each solution array's dtype, shape and bytes, and the
numbers `run --json` prints (outcome shares, claims, the timeline replay).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crisislab.cli import app

REPO = Path(__file__).resolve().parents[1]
EXPECTED = Path(__file__).resolve().parent / "data" / "same_numbers.json"
RECORD = os.environ.get("CRISISLAB_RECORD_DIGESTS") == "1"

# (scenario file, grid, runs, robustness draws, robustness runs): small enough for the suite, and
# covering claims with `set` interventions (re-solves), robustness draws and the timeline replay.
CASES = [
    pytest.param("fearon-audience-costs", "11", 4000, 2, 1000, id="fearon"),
    pytest.param("kydd-trust-spiral", "11", 4000, 2, 1000, id="kydd"),
    pytest.param("us-iran-2019-2020", "3", 3000, 1, 1000, id="flagship", marks=pytest.mark.slow),
]
SEED = 2020


def _frame_digest(df: pd.DataFrame) -> str:
    h = hashlib.sha256()
    for col in df.columns:
        s = df[col]
        h.update(f"{col}:{s.dtype}".encode())
        h.update(pd.util.hash_pandas_object(s, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _npz_digest(path: Path) -> str:
    h = hashlib.sha256()
    with np.load(path, allow_pickle=False) as z:
        for name in sorted(z.files):
            a = np.ascontiguousarray(z[name])
            h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
            h.update(a.tobytes())
    return h.hexdigest()


def _invoke(args: list[str]) -> str:
    res = CliRunner().invoke(app, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.mark.parametrize(("name", "grid", "runs", "draws", "draw_runs"), CASES)
def test_outputs_are_bit_identical(tmp_path, name, grid, runs, draws, draw_runs):
    scenario = str(REPO / "scenarios" / f"{name}.yaml")
    out = tmp_path / "run"
    summary = _invoke(["run", scenario, "--runs", str(runs), "--seed", str(SEED), "--grid", grid, "--out", str(out),
             "--robustness", str(draws), "--robustness-runs", str(draw_runs), "--rank-records", "10", "--json"])
    _invoke(["solve", scenario, "--grid", grid, "--out", str(tmp_path / "solution"), "--threads", "1"])
    # The printed summary: outcome shares, claims and the timeline replay's statistics.
    printed = {k: v for k, v in json.loads(summary).items() if k.startswith(("outcomes", "claims", "timeline_"))}
    printed.pop("claims_table", None)
    printed.pop("timeline_path", None)
    got = {
        "run --json": hashlib.sha256(json.dumps(printed, sort_keys=True).encode()).hexdigest(),
        "results.parquet": _frame_digest(pd.read_parquet(out / "results.parquet")),
        "robustness.parquet": _frame_digest(pd.read_parquet(out / "robustness.parquet")),
        "solution.npz": _npz_digest(tmp_path / "solution" / "solution.npz"),
    }
    if (out / "claims.csv").exists():
        got["claims.csv"] = hashlib.sha256((out / "claims.csv").read_bytes()).hexdigest()
    expected = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else {}
    if RECORD:
        expected[name] = got
        EXPECTED.parent.mkdir(exist_ok=True)
        EXPECTED.write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    assert name in expected, f"no recorded digests for {name}: run with CRISISLAB_RECORD_DIGESTS=1 once"
    assert got == expected[name]
