"""Paired differences, verdicts and claim evaluation with common random numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crisislab.scenario import load_scenario
from crisislab.analysis import ArmRunner, evaluate_claims, paired_difference, verdict, wilson_interval
from crisislab.simulation import FixedPolicy
from crisislab.analysis import PairedEstimate

MINI = Path(__file__).with_name("mini.yaml")


def _est(lo: float, hi: float) -> PairedEstimate:
    return PairedEstimate(0.0, 0.0, (lo + hi) / 2, 0.0, lo, hi, 100, 0.95)


def test_paired_difference_closed_form() -> None:
    # d = [1, 0, 0, 1]: mean 0.5, sample sd sqrt(1/3), se = sqrt(1/3)/2.
    est = paired_difference(np.array([1, 1, 0, 1.0]), np.array([0, 1, 0, 0.0]))
    assert est.diff == pytest.approx(0.5)
    assert est.se == pytest.approx(np.sqrt(1 / 3) / 2)
    assert est.ci_high - est.ci_low == pytest.approx(2 * 1.959963984540054 * est.se)


@pytest.mark.parametrize(
    ("lo", "hi", "expect", "margin", "want"),
    [
        pytest.param(-0.3, -0.1, "lower", 0.0, "holds", id="lower-holds"),
        pytest.param(-0.3, -0.1, "lower", 0.2, "undetermined", id="lower-margin"),
        pytest.param(-0.1, 0.1, "lower", 0.0, "undetermined", id="straddles"),
        pytest.param(0.0, 0.0, "lower", 0.0, "fails", id="no-effect-fails"),
        pytest.param(0.1, 0.2, "higher", 0.0, "holds", id="higher-holds"),
        pytest.param(-0.2, -0.1, "higher", 0.0, "fails", id="higher-fails"),
    ],
)
def test_verdicts(lo: float, hi: float, expect: str, margin: float, want: str) -> None:
    assert verdict(_est(lo, hi), expect, margin) == want  # type: ignore[arg-type]


def test_wilson_interval_closed_form() -> None:
    # 0 successes of n: upper bound z²/(n + z²) (Wilson 1927); n = 10, z = 1.95996.
    lo, hi = wilson_interval(0, 10)
    z2 = 1.959963984540054**2
    assert float(lo) == 0.0
    assert float(hi) == pytest.approx(z2 / (10 + z2))


def test_claims_of_the_mini_scenario() -> None:
    sc = load_scenario(MINI)
    pol = FixedPolicy({"US": np.array([[0.3, 0.7], [0.8, 0.2]]), "Iran": np.array([[0.4, 0.6], [0.9, 0.1]])})
    runner = ArmRunner(sc, lambda s: pol, 4000, seed=21)
    out = {c.id: c for c in evaluate_claims(runner, robustness=0)}
    strike = out["strike-raises-war"]
    # Forcing a strike adds a tension step in round 1 and forbidding strikes removes later ones:
    # war must be more likely; the CRN interval is far from 0 at N = 4000.
    assert strike.verdict == "holds" and strike.estimate.diff > 0.05
    assert strike.seed_file == "000_2c2ddc19b08502fb.txt"
    same = out["forbid-nothing-same"]
    # Identical arms with common random numbers: every paired difference is exactly zero.
    assert same.estimate.diff == 0.0 and same.estimate.se == 0.0 and same.verdict == "fails"


def test_common_random_numbers_shrink_the_interval() -> None:
    sc = load_scenario(MINI)
    pol = FixedPolicy({"US": np.array([[0.3, 0.7], [0.8, 0.2]]), "Iran": np.array([[0.4, 0.6], [0.9, 0.1]])})
    claim = sc.claim("strike-raises-war")
    runner = ArmRunner(sc, lambda s: pol, 4000, seed=21)
    t = runner.results(claim.compare.treatment).metric_values(claim.metric)
    b = runner.results(claim.compare.baseline).metric_values(claim.metric)
    other = ArmRunner(sc, lambda s: pol, 4000, seed=22).results(claim.compare.baseline).metric_values(claim.metric)
    paired = paired_difference(t, b).se
    independent = paired_difference(t, other).se
    assert paired < independent


def test_robustness_is_a_share_of_draws() -> None:
    sc = load_scenario(MINI)
    sc = sc.with_overrides({"actors.US.types.resolute.prior": {"value": 0.6, "source": "toy", "uncertainty": {"uniform": [0.4, 0.8]}}})
    pol = FixedPolicy({"US": np.array([[0.3, 0.7], [0.8, 0.2]]), "Iran": np.array([[0.4, 0.6], [0.9, 0.1]])})
    runner = ArmRunner(sc, lambda s: pol, 1000, seed=1)
    (res,) = evaluate_claims(runner, [sc.claim("strike-raises-war")], robustness=3, robustness_runs=500)
    assert res.robustness_draws == 3
    assert res.robustness in (0.0, 1 / 3, 2 / 3, 1.0)


FEARON = Path(__file__).parents[2] / "scenarios" / "fearon-audience-costs.yaml"
FORCED_FIGHT_CLAIMS = """
  - id: fight-at-round-1
    metric: {outcome_probability: war}
    compare:
      treatment: [{force: {actor: A, action: a_fight, round: 1}}]
      baseline: []
    expect: higher
  - id: fight-at-round-2
    metric: {outcome_probability: war}
    compare:
      treatment: [{force: {actor: A, action: a_fight, round: 2}}]
      baseline: []
    expect: higher
"""


def test_a_forced_action_that_is_unavailable_is_not_played(tmp_path: Path, run_cli) -> None:
    """The reviewer's case: forcing a_fight (available only at stage 3) at round 1 (stage 0) used
    to give P(war) = 1. Closed forms (the scenario's header, lambda -> infinity): P(war) = 0.2;
    P(threat) = q + (1 - q) b* = 0.3 + 0.7 * 3/7 = 0.6 and B resists with r* = 2/3, so a fight
    forced wherever it is possible (round 2, stage 3) gives P(war) = 0.6 * 2/3 = 0.4. Tolerance
    0.05: 4.5 binomial standard errors at N = 2000 (0.04) plus the finite-lambda gap."""
    path = tmp_path / "fearon-forced.yaml"
    path.write_text(FEARON.read_text().rstrip("\n") + "\n" + FORCED_FIGHT_CLAIMS.lstrip("\n"))
    code, stdout, stderr = run_cli("claims", str(path), "--runs", "2000", "--robustness", "0", "--json")
    assert code == 0, stderr
    res = {c["claim"]: c for c in json.loads(stdout)}
    r1, r2 = res["fight-at-round-1"], res["fight-at-round-2"]
    # Never possible at round 1: the treatment arm is the scenario, run for run (common random numbers).
    assert r1["treatment_value"] == r1["baseline_value"] and r1["difference"] == 0.0
    assert abs(r1["baseline_value"] - 0.2) < 0.05
    assert abs(r2["treatment_value"] - 0.4) < 0.05 and r2["verdict"] == "holds"


def test_intensity_by_round_is_the_mean_over_runs_still_going() -> None:
    """Results.intensity_by_round against a direct count from the per-move table of the same runs."""
    from pathlib import Path

    import numpy as np

    from crisislab.analysis._replay import intensities
    from crisislab.model import lower
    from crisislab.scenario import load_scenario
    from crisislab.simulation import FixedPolicy, simulate

    sc = load_scenario(Path(__file__).with_name("mini.yaml"))
    pol = FixedPolicy({"US": np.array([[0.3, 0.7], [0.8, 0.2]]), "Iran": np.array([[0.4, 0.6], [0.9, 0.1]])})
    res = simulate(sc, pol, 3000, seed=5, paths=True)
    model = lower(sc)
    # mini.yaml declares no intensities: give each action one, so that the test has numbers to add.
    inten = np.arange(1.0, len(model.actions) + 1.0)
    table = res.intensity_by_round(inten)
    p = res.paths
    codes = p["action"].cat.codes.to_numpy()
    vals = np.append(inten, 0.0)[np.where(codes >= len(model.actions), len(model.actions), codes)]
    for r in range(1, model.horizon + 1):
        rows = p["round"].to_numpy() == r
        alive = np.unique(p["run"].to_numpy()[rows]).size
        assert table.loc[r - 1, "alive"] == alive / 3000
        for m in (mv.id for mv in model.movers):
            sel = rows & (p["actor"].astype(str).to_numpy() == m)
            assert table.loc[r - 1, m] == pytest.approx(vals[sel].sum() / alive, abs=1e-12)
    assert intensities(sc, model).shape == (len(model.actions),)
