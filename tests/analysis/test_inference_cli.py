"""`crisislab replay` and `crisislab estimate` from the command line: outputs, JSON, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

MINI = Path(__file__).resolve().parents[1] / "simulation" / "mini.yaml"
HEADER = "date,actor,target,action,cameo,intensity,deaths_us,deaths_iran,deaths_iraqi,deaths_other,wounded,outlet,reference,uncertain,note"


def _row(date: str, actor: str, action: str, deaths_us: str = "0", uncertain: str = "0") -> str:
    return f"{date},{actor},x,{action},,0.0,{deaths_us},,,,,test,fixture,{uncertain},event"


def _record(tmp_path: Path, *rows: str, name: str = "record.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return p


GOOD = [_row("2019-12-02", "Iran", "ir_attack"), _row("2019-12-10", "US", "us_strike"), _row("2019-12-11", "KH", "kh_rockets", "1", "1")]


def test_replay_json_has_the_documented_fields(tmp_path, run_cli) -> None:
    rec = _record(tmp_path, *GOOD)
    code, out, err = run_cli("replay", MINI, "--timeline", rec, "--grid", "5", "--rank-records", "20", "--json")
    assert code == 0, err
    data = json.loads(out)
    for key in ("loglik", "p_ended_early", "percentile", "rounds", "scores", "type_posterior"):
        assert key in data
    assert len(data["rounds"]) == 2
    r1 = data["rounds"][0]
    assert r1["round"] == 1 and r1["start"] == "2019-12-01"
    assert set(r1["expected_intensity"]) == {"Iran", "KH", "US", "total"}
    assert {"loglik", "beliefs", "expected_intensity"} <= set(r1)
    # The per-round log-likelihoods add up to the total.
    assert sum(r["loglik"] for r in data["rounds"]) == pytest.approx(data["loglik"], abs=1e-9)
    assert set(data["scores"]) == {"model", "empirical", "markov"}
    assert 0.0 <= data["percentile"] <= 1.0


def test_replay_prints_a_table(tmp_path, run_cli) -> None:
    rec = _record(tmp_path, *GOOD)
    code, out, err = run_cli("replay", MINI, "--timeline", rec, "--grid", "5", "--rank-records", "0")
    assert code == 0, err
    assert "log-likelihood" in out and "empirical" in out and "2019-12-08" in out


@pytest.mark.parametrize(
    ("rows", "expect"),
    [
        ([_row("2019-12-02", "Iran", "no_such_act")], ":2: action: unknown action (got 'no_such_act'"),
        ([_row("2019-11-02", "Iran", "ir_attack")], ":2: date: outside the scenario calendar"),
        ([_row("2019-12-02", "US", "ir_attack")], ":2: action: action belongs to Iran, not to US"),
    ],
)
def test_bad_records_are_located(tmp_path, run_cli, rows, expect) -> None:
    rec = _record(tmp_path, *rows)
    code, out, err = run_cli("replay", MINI, "--timeline", rec, "--grid", "5")
    assert code == 2
    assert expect in err
    assert "Traceback" not in err


def test_estimate_json_and_out(tmp_path, run_cli) -> None:
    rec = _record(tmp_path, *GOOD, _row("2019-12-16", "Iran", "ir_attack"), _row("2019-12-23", "US", "us_strike"))
    out_yaml = tmp_path / "estimated.yaml"
    code, out, err = run_cli("estimate", MINI, "--timeline", rec, "--grid", "3", "--free", "actors.US.types.resolute.prior",
                             "--out", out_yaml, "--json")
    assert code == 0, err
    data = json.loads(out)
    p = data["params"]["actors.US.types.resolute.prior"]
    assert {"estimate", "se", "ci_low", "ci_high"} <= set(p)
    assert data["converged"] in (True, False) and isinstance(data["loglik"], float)
    assert data["loglik"] >= data["start_loglik"] - 1e-9
    from crisislab.scenario import load_scenario

    est = load_scenario(out_yaml)
    prior = est.actor("US").types[0].prior
    assert prior.value == pytest.approx(p["estimate"])
    assert prior.estimated is not None and prior.estimated.records == ("record.csv",)


def test_estimate_bad_path_and_nothing_written(tmp_path, run_cli) -> None:
    rec = _record(tmp_path, *GOOD)
    out_yaml = tmp_path / "estimated.yaml"
    code, out, err = run_cli("estimate", MINI, "--timeline", rec, "--free", "actors.US.nope", "--out", out_yaml)
    assert code == 2
    assert "--free actors.US.nope" in err and "Traceback" not in err
    assert not out_yaml.exists()


def test_estimate_without_stated_uncertainty_asks_for_free(tmp_path, run_cli) -> None:
    rec = _record(tmp_path, *GOOD)
    code, out, err = run_cli("estimate", MINI, "--timeline", rec)
    assert code == 2
    assert "--free PATH" in err


def test_estimated_prior_is_the_maximum_of_the_likelihood(tmp_path) -> None:
    """The US's first move observed in ten records (3 strikes, 7 waits): the estimated prior of
    its first type is where the same likelihood, evaluated directly on a grid of 99 priors, is
    largest (within the grid's spacing), and its log-likelihood is at least the grid's best."""
    from crisislab.analysis import estimate
    from crisislab.analysis._filter import forward
    from crisislab.analysis._record import Candidate, record_from_moves
    from crisislab.model import lower
    from crisislab.scenario import load_scenario

    # The US's move in round 1 only, with the prior's likelihood evaluated directly on a grid.
    mini = load_scenario(MINI)
    model = lower(mini)
    us = [m.id for m in model.movers].index("US")
    strike = model.action_index("us_strike")
    wait = model.action_index("us_wait")
    from crisislab.analysis import SolverChoice

    pol = SolverChoice("crisis", 3)(mini)
    recs = []
    for k in range(10):
        row = [None, None, None]
        row[us] = (Candidate(strike if k < 3 else wait),)
        recs.append(record_from_moves(model, [row]))
    est = estimate(mini, recs, free=["actors.US.types.resolute.prior"], grid=3)
    grid = np.linspace(0.01, 0.99, 99)
    lls = [sum(forward(lower(mini.with_overrides({"actors.US.types.resolute.prior": g})), pol, r).loglik for r in recs) for g in grid]
    best = grid[int(np.argmax(lls))]
    assert abs(est.params[0].estimate - best) <= 0.011
    assert est.loglik >= max(lls) - 1e-6


def test_estimate_until_scores_out_of_sample(tmp_path, run_cli) -> None:
    rows = [*GOOD, _row("2019-12-16", "Iran", "ir_attack"), _row("2019-12-23", "US", "us_strike")]
    rec = _record(tmp_path, *rows)
    code, out, err = run_cli("estimate", MINI, "--timeline", rec, "--grid", "3", "--free", "actors.Iran.types.hardline.prior",
                             "--until", "2019-12-14", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["fit_until_round"] == 2
    samples = {(s["predictor"], s["sample"]) for s in data["scores"]}
    assert samples == {(p, s) for p in ("model", "empirical", "markov") for s in ("in", "out")}
    # The fit used rounds 1-2 only: 6 moves of the 3 observed movers.
    assert data["n_moves"] == 6


def test_bootstrap_and_restriction_through_the_api(tmp_path) -> None:
    import crisislab

    rec = _record(tmp_path, *GOOD, _row("2019-12-16", "Iran", "ir_attack"), _row("2019-12-23", "US", "us_strike"))
    scn = crisislab.load_scenario(MINI)
    path = "actors.Iran.types.hardline.prior"
    est = crisislab.estimate(scn, rec, free=[path], grid=3, bootstrap=3, restrict={path: 0.5}, seed=4)
    assert est.bootstrap is not None and len(est.bootstrap) == 3
    p = est.params[0]
    assert p.boot_low <= p.boot_high
    t = est.tests.iloc[0]
    # The restricted fit cannot beat the full one; LR = 2 (L̂ - L_r) with one degree of freedom.
    assert t["lr"] >= 0 and t["df"] == 1 and 0 <= t["p_value"] <= 1
    assert t["lr"] == pytest.approx(2 * (est.loglik - t["loglik_restricted"]), abs=1e-9)
    # Same seed, same bootstrap.
    again = crisislab.estimate(scn, rec, free=[path], grid=3, bootstrap=3, seed=4)
    assert np.array_equal(again.bootstrap["estimate"].to_numpy(), est.bootstrap["estimate"].to_numpy(), equal_nan=True)
