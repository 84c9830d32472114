"""Verdicts of claims settled by how they are written ("cannot fail"), claims judged on
conditional metrics, and what `claims --json` prints for them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from crisislab.analysis import VERDICTS, ArmRunner, evaluate_claims
from crisislab.cli import app
from crisislab.scenario import load_scenario, validate_data
from crisislab.simulation import FixedPolicy

MINI = Path(__file__).parents[1] / "simulation" / "mini.yaml"
SEED_FILE = "000_2c2ddc19b08502fb.txt"
US_SIGMA = np.array([[0.3, 0.7], [0.8, 0.2]])
IRAN_SIGMA = np.array([[0.4, 0.6], [0.9, 0.1]])


def _scenario(*claims: dict):
    data = load_scenario(MINI).model_dump(by_alias=True, exclude_none=True, mode="json")
    data["claims"] = list(claims)
    return validate_data(data, "<claims>")


def _claim(cid: str, metric: dict, treatment: list, baseline: list, expect: str) -> dict:
    return {"id": cid, "seed": SEED_FILE, "quote": "q", "metric": metric,
            "compare": {"treatment": treatment, "baseline": baseline}, "expect": expect}  # fmt: skip


def _fixed(_scn):
    return FixedPolicy({"US": US_SIGMA, "Iran": IRAN_SIGMA})


def _judge(sc, solve=_fixed, runs=1500):
    return {c.id: c for c in evaluate_claims(ArmRunner(sc, solve, runs, seed=3), robustness=0)}


FORBID_STRIKE = [{"forbid": {"actor": "US", "action": "us_strike"}}]
FORCE_STRIKE = [{"force": {"actor": "US", "action": "us_strike", "round": 1}}]


def test_a_baseline_that_forbids_what_the_metric_counts_cannot_fail() -> None:
    sc = _scenario(_claim("forced", {"action_probability": "us_strike"}, FORCE_STRIKE, FORBID_STRIKE, "higher"))
    r = _judge(sc)["forced"]
    # the interval alone says "holds": the treatment forces the strike, the baseline forbids it
    assert r.estimate.ci_low > 0
    assert r.verdict == "cannot fail"
    assert "baseline arm the arm forbids us_strike" in r.degenerate


def test_the_opposite_claim_on_the_same_arms_still_fails() -> None:
    sc = _scenario(_claim("forced", {"action_probability": "us_strike"}, FORCE_STRIKE, FORBID_STRIKE, "lower"))
    r = _judge(sc)["forced"]
    assert r.verdict == "fails" and r.degenerate is not None


def test_a_constant_the_model_produces_is_flagged_but_judged() -> None:
    """A `set` that leads the solver to a policy that never strikes: P(strike) is 0 in every
    treatment run, a result of the model, so the interval's verdict stands."""
    never = np.array([[1.0, 0.0], [1.0, 0.0]])

    def solve(scn):
        lam = scn.actor("US").lam.value
        return FixedPolicy({"US": never if lam > 5 else US_SIGMA, "Iran": IRAN_SIGMA})

    sc = _scenario(_claim("model", {"action_probability": "us_strike"}, [{"set": {"param": "actors.US.lam", "value": 9.0}}],
                          [], "lower"))  # fmt: skip
    r = _judge(sc, solve)["model"]
    assert r.verdict == "holds"
    assert "0 in every run of the treatment arm" in r.degenerate and "result of the model" in r.degenerate


def test_a_window_whose_trigger_an_arm_forbids_is_undetermined_and_flagged() -> None:
    metric = {"action_probability": "ir_attack", "after": {"action": "us_strike", "within": 1}}
    sc = _scenario(_claim("window", metric, [], FORBID_STRIKE, "higher"))
    r = _judge(sc)["window"]
    assert r.verdict == "undetermined"
    assert np.isnan(r.estimate.baseline) and r.estimate.n_baseline == 0
    assert "window after it never opens" in r.degenerate


def test_a_window_claim_compares_conditional_means_over_each_arms_runs() -> None:
    """Treatment: Iran attacks whenever tension is at most 1; the window metric counts US strikes
    after Iran's first attack. Each arm's value is the mean over its own runs with an attack."""
    metric = {"action_probability": "us_strike", "after": {"action": "ir_attack", "within": 1}}
    force = [{"force": {"actor": "Iran", "action": "ir_attack", "when": {"var": "tension", "op": "le", "value": 1}}}]
    sc = _scenario(_claim("window", metric, force, [], "higher"))
    runner = ArmRunner(sc, _fixed, 1500, seed=3)
    r = evaluate_claims(runner, robustness=0)[0]
    c = sc.claims[0]
    t = runner.results(c.compare.treatment).metric_values(c.metric)
    b = runner.results(c.compare.baseline).metric_values(c.metric)
    assert r.estimate.treatment == np.nanmean(t) and r.estimate.baseline == np.nanmean(b)
    assert r.estimate.n_treatment == (~np.isnan(t)).sum() > r.estimate.n_baseline == (~np.isnan(b)).sum()
    assert r.verdict in VERDICTS and r.degenerate is None


def test_claims_json_gives_each_claim_a_verdict_beside_its_seed(tmp_path) -> None:
    sc = _scenario(
        _claim("forced", {"action_probability": "us_strike"}, FORCE_STRIKE, FORBID_STRIKE, "higher"),
        _claim("rate", {"mean_casualties": "US", "per_round": True}, FORCE_STRIKE, [], "higher"),
    )
    path = tmp_path / "claims.yaml"
    from crisislab.scenario import dump_scenario

    path.write_text(dump_scenario(sc), encoding="utf-8")
    res = CliRunner().invoke(app, ["claims", str(path), "--policy", "myopic", "--runs", "800", "--robustness", "0", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["claim"]: r for r in json.loads(res.stdout)}
    assert rows["forced"]["verdict"] == "cannot fail" and rows["forced"]["seed"] == SEED_FILE
    assert rows["rate"]["verdict"] in VERDICTS and rows["rate"]["degenerate"] is None
    assert rows["rate"]["defined_treatment"] == rows["rate"]["n"] == 800
