"""`crisislab fit-check` / `crisislab.check_fit`: the four checks of a model against its record,
the period aggregation they use, and draws restricted to the estimated parameters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crisislab.scenario import load_scenario

MINI = Path(__file__).resolve().parents[1] / "simulation" / "mini.yaml"
HEADER = "date,actor,target,action,cameo,intensity,deaths_us,deaths_iran,deaths_iraqi,deaths_other,wounded,outlet,reference,uncertain,note"


def _record(tmp_path: Path, *rows: str) -> Path:
    p = tmp_path / "record.csv"
    p.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return p


def _row(date: str, actor: str, action: str, intensity: str = "-5.0", deaths_us: str = "0") -> str:
    return f"{date},{actor},x,{action},,{intensity},{deaths_us},,,,,test,fixture,0,event"


def test_draws_of_estimated_parameters_leave_the_others_alone(tmp_path) -> None:
    text = MINI.read_text(encoding="utf-8")
    # One parameter estimated (with its interval as uncertainty), one assumed with a range.
    text = text.replace("lam: {value: 2.0, source: toy}",
                        "lam: {value: 2.0, estimated: {records: [r.csv], method: maximum likelihood, se: 0.5, interval: [1.0, 3.0], loglik: -3.0}, uncertainty: {uniform: [1.0, 3.0]}}", 1)
    text = text.replace("lam: {value: 2.0, source: toy}", "lam: {value: 2.0, assumption: toy, uncertainty: {uniform: [0.5, 5.0]}}", 1)
    p = tmp_path / "est.yaml"
    p.write_text(text, encoding="utf-8")
    sc = load_scenario(p)
    assert [path for path, _ in sc.estimated_parameters()] == ["actors.US.lam"]
    seen_us, seen_iran = set(), set()
    for d in range(6):
        s = sc.sample_parameters(np.random.default_rng([1, d]), only_estimated=True)
        seen_us.add(float(s.actor("US").lam.value))
        seen_iran.add(float(s.actor("Iran").lam.value))
    assert seen_iran == {2.0}
    assert len(seen_us) == 6 and all(1.0 <= v <= 3.0 for v in seen_us)
    # Without the restriction both move.
    s = sc.sample_parameters(np.random.default_rng([1, 0]))
    assert float(s.actor("Iran").lam.value) != 2.0


def test_fit_check_json_and_findings(tmp_path, run_cli) -> None:
    rec = _record(tmp_path, _row("2019-12-02", "Iran", "ir_attack", "-9.0"), _row("2019-12-10", "US", "us_strike", "-10.0"),
                  _row("2019-12-11", "KH", "kh_rockets", "-10.0", "1"))
    code, out, err = run_cli("fit-check", MINI, "--timeline", rec, "--grid", "5", "--runs", "2000", "--draws", "0",
                             "--rank-records", "20", "--period-days", "7", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert 0.0 <= data["p_ended_early"] <= 1.0 and 0.0 <= data["percentile"] <= 1.0
    # The record stops in round 2 of 4 with nothing ended: its outcome is the horizon outcome.
    assert data["observed_outcome"] == "stalemate"
    shares = {o["outcome"]: o["share"] for o in data["outcomes"]}
    assert sum(shares.values()) == pytest.approx(1.0)
    # Two weekly periods, and the record's own intensity in each is the sum of its events.
    assert [p["observed"] for p in data["periods"]] == pytest.approx([-9.0, -20.0])
    assert {f["check"] for f in data["findings"]} == {"ending early", "typicality", "outcome", "intensity"}


def test_fit_check_refuses_bad_options(tmp_path, run_cli) -> None:
    code, out, err = run_cli("fit-check", MINI, "--period-days", "0")
    assert code == 2 and "--period-days" in err
    code, out, err = run_cli("fit-check", MINI, "--draw-runs", "1")
    assert code == 2 and "--draw-runs" in err


def test_robustness_of_estimated_needs_an_estimate(tmp_path, run_cli) -> None:
    code, out, err = run_cli("claims", MINI, "--grid", "5", "--runs", "200", "--robustness", "2", "--robustness-of", "estimated")
    assert code == 2 and "no parameter is estimated" in err
    code, out, err = run_cli("claims", MINI, "--robustness-of", "some")
    assert code == 2 and "--robustness-of" in err


def test_fit_check_without_a_calendar_compares_rounds(tmp_path, run_cli) -> None:
    text = MINI.read_text(encoding="utf-8").replace("calendar: {start: 2019-12-01, days_per_round: 7}\n", "")
    sc = tmp_path / "nocal.yaml"
    sc.write_text(text, encoding="utf-8")
    rec = tmp_path / "rounds.csv"
    rec.write_text("\n".join([HEADER.replace("date,", "round,"), _row("1", "Iran", "ir_attack", "-9.0"),
                              _row("2", "US", "us_strike", "-10.0"), _row("2", "KH", "kh_rockets", "-10.0", "1")]) + "\n",
                   encoding="utf-8")
    # A period in days asks for dates the scenario does not have: refused, as `replay` refuses it.
    code, out, err = run_cli("fit-check", sc, "--timeline", rec, "--grid", "5", "--period-days", "7")
    assert code == 2 and "--period-days" in err and "no calendar" in err
    code, out, err = run_cli("fit-check", sc, "--timeline", rec, "--grid", "5", "--runs", "500", "--draws", "0",
                             "--rank-records", "0")
    assert code == 0, err
    assert "Conflict intensity by round" in out and "period of 0 days" not in out
    code, out, err = run_cli("fit-check", sc, "--timeline", rec, "--grid", "5", "--runs", "500", "--draws", "0",
                             "--rank-records", "0", "--json")
    # One period per round of the record, each the sum of its events' intensities.
    assert [p["observed"] for p in json.loads(out)["periods"]] == pytest.approx([-9.0, -20.0])


def test_replay_of_a_record_the_model_rules_out_says_it_is_not_ranked(tmp_path, run_cli) -> None:
    # Iran, observed and with no event, played its default (calm), which lowers the tension to 0
    # before KH moves, and KH's rockets have probability 0 at tension 0: the record is impossible,
    # so there is nothing to rank it among.
    rec = _record(tmp_path, _row("2019-12-03", "KH", "kh_rockets"))
    code, out, err = run_cli("replay", MINI, "--timeline", rec, "--grid", "5", "--observed", "Iran")
    assert code == 0, err
    assert "rules the record out" in out and "the record is not ranked (no simulated records)" in out
    assert "than not ranked" not in out


def test_a_record_the_model_rules_out_is_named_by_file_and_line(tmp_path, run_cli) -> None:
    # The record of the test above: replay's JSON gives its log-likelihood, -inf, as null (strict
    # JSON has no infinity) beside the reason; estimate refuses it naming the file, round and line.
    rec = _record(tmp_path, _row("2019-12-03", "KH", "kh_rockets"))
    code, out, err = run_cli("replay", MINI, "--timeline", rec, "--grid", "5", "--observed", "Iran",
                             "--rank-records", "0", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["loglik"] is None and "rules the record out" in data["impossible"]
    code, out, err = run_cli("estimate", MINI, "--timeline", rec, "--grid", "5", "--observed", "Iran",
                             "--free", "actors.US.types.resolute.prior")
    assert code == 2
    assert f"{rec}: round " in err and "move of KH (lines 2)" in err, err


def test_fit_check_without_a_record_names_the_record_not_another_command(run_cli) -> None:
    code, out, err = run_cli("fit-check", MINI, "--grid", "5")
    assert code == 2 and err.startswith("record: crisislab bundles no record for scenario 'mini-crisis'"), err
