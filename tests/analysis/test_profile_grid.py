"""`estimate(profile_grid=...)` / `crisislab estimate --profile-grid`: the profile log-likelihood of a
parameter on a grid of values, the estimated parameters fitted again at each, and the interval it
gives."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crisislab.analysis import estimate
from crisislab.analysis._estimate import grid_profile_interval
from crisislab.errors import UserError
from crisislab.scenario import load_scenario

MINI = Path(__file__).resolve().parents[1] / "simulation" / "mini.yaml"
PRIOR = "actors.Iran.types.hardline.prior=0.02:0.98"
LAM = "actors.US.lam"
VALUES = [0.5, 2.0, 6.0]


@pytest.fixture(scope="module")
def record(four_move_record) -> Path:
    """conftest's four-move record of mini.yaml, by a shorter name."""
    return four_move_record


def test_each_row_is_the_fit_with_the_parameter_held_there(record) -> None:
    """A second path: each row's log-likelihood and refitted prior equal a separate `estimate` of the
    prior on the scenario with λ set to that value (the same maximisation, a fresh solve)."""
    mini = load_scenario(MINI)
    est = estimate(mini, [str(record)], free=[PRIOR], grid=3, profile_grid={LAM: VALUES})
    table = est.profiles
    assert list(table["value"]) == VALUES and set(table["path"]) == {LAM}
    for row in table.itertuples(index=False):
        alone = estimate(mini.with_overrides({LAM: row.value}), [str(record)], free=[PRIOR], grid=3)
        assert row.loglik == pytest.approx(alone.loglik, abs=1e-6)
        assert row.at["actors.Iran.types.hardline.prior"] == pytest.approx(alone.params[0].estimate, abs=1e-3)
    # The log-likelihood moves with λ on this record: the table is not flat.
    assert table["loglik"].max() - table["loglik"].min() > 0.05
    with pytest.raises(UserError, match="has no profile table"):
        est.profile_grid_interval(PRIOR.split("=")[0])


def test_the_grid_interval_interpolates_the_crossings() -> None:
    """Closed form: a profile -(v - 2)² crosses max - χ²₁(0.95)/2 = -1.9207 at 2 ± 1.3859; linear
    interpolation between grid points 0, 1, 2, 3, 4 puts the crossings where the chords do."""
    x = np.arange(5.0)
    table = pd.DataFrame({"path": "p", "value": x, "loglik": -(x - 2) ** 2})
    lo, hi = grid_profile_interval(table, "p", 0.0)
    cut = -1.920729410347062  # -chi2.ppf(0.95, 1) / 2
    # chord from (0, -4) to (1, -1) and from (3, -1) to (4, -4)
    assert lo == pytest.approx((cut + 4) / 3, abs=1e-12)
    assert hi == pytest.approx(3 + (-1 - cut) / 3, abs=1e-12)
    # A profile that never drops far enough on one side leaves that side open.
    flat = pd.DataFrame({"path": "p", "value": x, "loglik": [0.0, 0.0, 0.0, -1.0, -5.0]})
    lo, hi = grid_profile_interval(flat, "p", 0.0)
    assert np.isnan(lo) and 3 < hi < 4


def test_the_command_line_prints_and_writes_the_profile(record, run_cli) -> None:
    code, out, err = run_cli("estimate", MINI, "--timeline", record, "--grid", "3", "--free", PRIOR,
                             "--profile-grid", f"{LAM}=0.5,2,6", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert [r["value"] for r in data["profile_grid"]] == VALUES
    assert set(data["profile_grid_intervals"]) == {LAM}
    code, out, err = run_cli("estimate", MINI, "--timeline", record, "--grid", "3", "--free", PRIOR,
                             "--profile-grid", f"{LAM}=0.5,2,6")
    assert code == 0, err
    assert f"Profile log-likelihood of {LAM}" in out


@pytest.mark.parametrize(
    ("grid", "expect"),
    [
        ({LAM: [1.0]}, "at least two distinct values"),
        ({LAM: [-1.0, 2.0]}, "outside the parameter's domain"),
        ({"actors.US.nope": [1.0, 2.0]}, "--profile-grid actors.US.nope"),
    ],
)
def test_bad_grids_are_refused_before_any_solve(record, grid, expect) -> None:
    with pytest.raises(UserError, match=expect):
        estimate(load_scenario(MINI), [str(record)], free=[PRIOR], grid=3, profile_grid=grid)


def test_a_grid_that_is_not_numbers_exits_2(record, run_cli, tmp_path) -> None:
    code, _out, err = run_cli("estimate", MINI, "--timeline", record, "--grid", "3", "--free", PRIOR,
                              "--profile-grid", f"{LAM}=low,high", "--out", tmp_path / "never.yaml")
    assert code == 2 and "--profile-grid: expected PATH=V1,V2" in err and "Traceback" not in err
    assert not (tmp_path / "never.yaml").exists()
