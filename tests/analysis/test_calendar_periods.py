"""Replay on a calendar with phases, and intensity summed over fixed periods.

Closed form of the period sum: a round of d days with k of them in a period gives the period k/d of
its value, so a period's value is Σ_r value_r · overlap_r / d_r and the periods' total equals the
rounds' total."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crisislab.analysis import round_dates
from crisislab.errors import UserError

MINI = Path(__file__).resolve().parents[1] / "simulation" / "mini.yaml"
HEADER = "date,actor,target,action,cameo,intensity,deaths_us,deaths_iran,deaths_iraqi,deaths_other,wounded,outlet,reference,uncertain,note"


def test_sum_by_period_closed_form() -> None:
    from crisislab.analysis._tables import sum_by_period

    # rounds of 7, 7, 2, 2 days from 2019-12-01, values 7, 14, 2, nan
    t = pd.DataFrame({
        "start": ["2019-12-01", "2019-12-08", "2019-12-15", "2019-12-17"],
        "end": ["2019-12-07", "2019-12-14", "2019-12-16", "2019-12-18"],
        "v": [7.0, 14.0, 2.0, np.nan],
    })
    out = sum_by_period(t, ["v"], 5)
    # periods 12-01..05, 06..10, 11..15, 16..20: round 1 gives 5/7 and 2/7 of 7; round 2 gives 3/7 and
    # 4/7 of 14; round 3 gives 1/2 and 1/2 of 2; round 4 (NaN) adds nothing.
    assert out["start"].tolist() == ["2019-12-01", "2019-12-06", "2019-12-11", "2019-12-16"]
    assert out["end"].tolist() == ["2019-12-05", "2019-12-10", "2019-12-15", "2019-12-20"]
    assert out["days_covered"].tolist() == [5, 5, 5, 3]
    np.testing.assert_allclose(out["v"], [5.0, 2.0 + 6.0, 8.0 + 1.0, 1.0], rtol=1e-15)
    assert out["v"].sum() == pytest.approx(23.0)
    # a period with only NaN rounds is NaN; an earlier start adds a leading period
    nan_only = sum_by_period(t.iloc[3:], ["v"], 5)
    assert np.isnan(nan_only["v"].iloc[0])
    early = sum_by_period(t, ["v"], 14, "2019-11-24")
    assert early["start"].tolist() == ["2019-11-24", "2019-12-08"] and early["v"].tolist() == [7.0, 16.0]
    with pytest.raises(UserError):
        sum_by_period(t, ["v"], 0)
    with pytest.raises(UserError):
        sum_by_period(t, ["v"], 5, "2019-12-02")


def _phased_mini(tmp_path: Path) -> Path:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    data = yaml.load(MINI.read_text())
    data["calendar"] = {"start": data["calendar"]["start"], "phases": [
        {"id": "weeks", "days_per_round": 7, "rounds": 2}, {"id": "days", "days_per_round": 2, "rounds": 2}]}
    for a in data["actions"]:
        if a["id"] in ("ir_attack", "us_strike", "kh_rockets"):
            a["intensity"] = {"scale": "goldstein", "value": {"ir_attack": -7.0, "us_strike": -10.0, "kh_rockets": -4.0}[a["id"]]}
    p = tmp_path / "phased.yaml"
    with p.open("w") as f:
        yaml.dump(data, f)
    return p


def test_replay_on_phases(tmp_path, run_cli) -> None:
    from crisislab.analysis import replay
    from crisislab.model import lower
    from crisislab.scenario import load_scenario

    scn_path = _phased_mini(tmp_path)
    rec = tmp_path / "rec.csv"
    # 12-02 round 1; 12-10 round 2; 12-16 round 3 (the first 2-day round, 12-15..16); 12-17 round 4
    rows = ("2019-12-02,Iran,x,ir_attack,,-7.0,0,,,,,t,f,0,e", "2019-12-10,Iran,x,ir_attack,,-7.0,0,,,,,t,f,0,e",
            "2019-12-16,KH,x,kh_rockets,,-4.0,0,,,,,t,f,0,e", "2019-12-17,Iran,x,ir_attack,,-7.0,0,,,,,t,f,0,e")
    rec.write_text("\n".join((HEADER, *rows)) + "\n")
    scn = load_scenario(scn_path)
    model = lower(scn)
    rep = replay(scn, None, rec, grid=5, rank_records=0, intensity_runs=500, seed=1)
    t = rep.rounds_table
    assert t["start"].tolist() == ["2019-12-01", "2019-12-08", "2019-12-15", "2019-12-17"]
    assert t["end"].tolist() == ["2019-12-07", "2019-12-14", "2019-12-16", "2019-12-18"]
    assert t["days"].tolist() == [7, 7, 2, 2]
    assert t["observed_intensity_total"].tolist() == [-7.0, -7.0, -4.0, -7.0]
    assert round_dates(model, 5) == list(model.round_starts)
    per = rep.intensity_by_period(7)
    # 7-day periods from 12-01: the record by its events' dates: -7 | -7 | -4 - 7
    assert per["observed_intensity_total"].tolist() == [-7.0, -7.0, -11.0]
    assert per["days_covered"].tolist() == [7, 7, 4]
    # the model's columns: rounds 1 and 2 fill periods 1 and 2; rounds 3 and 4 fall into period 3
    e = t["expected_intensity_total"].to_numpy()
    np.testing.assert_allclose(per["expected_intensity_total"], [e[0], e[1], e[2] + e[3]], rtol=1e-12)
    assert per["unconditional_intensity_total"].sum() == pytest.approx(t["unconditional_intensity_total"].sum(), rel=1e-12)

    code, out, err = run_cli("replay", scn_path, "--timeline", rec, "--grid", "5", "--rank-records", "0",
                             "--period-days", "14", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert [r["days"] for r in data["rounds"]] == [7, 7, 2, 2] and data["rounds"][2]["end"] == "2019-12-16"
    assert data["periods"]["days"] == 14
    rows = data["periods"]["rows"]
    assert [r["start"] for r in rows] == ["2019-12-01", "2019-12-15"]
    assert [r["observed_intensity"]["total"] for r in rows] == [-14.0, -11.0]
    code, out, err = run_cli("replay", scn_path, "--timeline", rec, "--grid", "5", "--rank-records", "0", "--period-days", "14")
    assert code == 0, err
    assert "Intensity by period of 14 days" in out
    code, _, err = run_cli("replay", scn_path, "--timeline", rec, "--period-days", "0")
    assert code == 2 and "--period-days: must be an integer >= 1 (got 0)" in err
    code, _, err = run_cli("replay", scn_path, "--timeline", rec, "--period-days", "7", "--period-start", "2019-12-05")
    assert code == 2 and "--period-start: 2019-12-05 is after the calendar's start 2019-12-01" in err


def test_a_date_beyond_the_phases_is_outside_the_calendar(tmp_path, run_cli) -> None:
    scn_path = _phased_mini(tmp_path)
    rec = tmp_path / "rec.csv"
    # the calendar's last day is 2019-12-18 (7 + 7 + 2 + 2 days)
    rec.write_text(HEADER + "\n2019-12-19,Iran,x,ir_attack,,-7.0,0,,,,,t,f,0,e\n")
    code, _, err = run_cli("replay", scn_path, "--timeline", rec, "--grid", "5")
    assert code == 2
    assert ":2: date: outside the scenario calendar (got '2019-12-19'; expected 2019-12-01 … 2019-12-18 (rounds 1 … 4))" in err


def test_study_intensity_by_round_and_period(tmp_path) -> None:
    from crisislab.analysis import run_study
    from crisislab.scenario import load_scenario

    scn = load_scenario(_phased_mini(tmp_path))
    study = run_study(scn, runs=400, seed=2, policy="myopic", robustness=0, record=False)
    t = study.intensity
    assert t["date"].tolist() == ["2019-12-01", "2019-12-08", "2019-12-15", "2019-12-17"]
    assert t["end"].tolist() == ["2019-12-07", "2019-12-14", "2019-12-16", "2019-12-18"] and t["days"].tolist() == [7, 7, 2, 2]
    per = study.intensity_by_period(14)
    tot = t["total"].to_numpy()
    np.testing.assert_allclose(per["total"], [tot[0] + tot[1], tot[2] + tot[3]], rtol=1e-12)
    assert "alive" not in per.columns and "US" in per.columns
