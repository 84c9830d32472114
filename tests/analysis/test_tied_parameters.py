"""Parameters estimated as one (`estimate(tie=...)`, `crisislab estimate --tie`): one logit precision
for two actors is a maximum of the likelihood over common values, is written into the scenario
with `estimated.tied_to`, is checked at load, and is drawn as one value."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crisislab.analysis import SolverChoice, estimate
from crisislab.analysis._filter import forward
from crisislab.analysis._record import observe
from crisislab.analysis._replay import load_record
from crisislab.errors import UserError
from crisislab.model import lower
from crisislab.scenario import ScenarioError, dump_scenario, load_scenario

MINI = Path(__file__).resolve().parents[1] / "simulation" / "mini.yaml"
LEADER, FOLLOWER = "actors.US.lam", "actors.Iran.lam"


@pytest.fixture(scope="module")
def fitted(four_move_record):
    path = four_move_record
    mini = load_scenario(MINI)
    est = estimate(mini, [str(path)], free=[f"{LEADER}=0.2:12"], tie={FOLLOWER: LEADER}, grid=3)
    rec = observe(lower(mini), load_record(mini, str(path)))
    return mini, rec, est, path


def _loglik(mini, rec, lam: float) -> float:
    scn = mini.with_overrides({LEADER: lam, FOLLOWER: lam})
    return forward(lower(scn), SolverChoice("crisis", 3)(scn), rec).loglik


def test_the_tied_estimate_is_the_maximum_over_common_values(fitted) -> None:
    """Evaluated directly with both actors at the same λ (a second path through the solver and the
    forward pass), the log-likelihood at the estimate is what `estimate` reports, and no value on a
    grid of common λ beats it; with the two λ free apart, it could."""
    mini, rec, est, _ = fitted
    lam_hat = est.params[0].estimate
    assert est.ties == {FOLLOWER: LEADER}
    assert _loglik(mini, rec, lam_hat) == pytest.approx(est.loglik, abs=1e-9)
    grid = np.linspace(0.25, 12.0, 24)
    lls = [_loglik(mini, rec, g) for g in grid]
    assert est.loglik >= max(lls) - 1e-4
    # The tie is a restriction: Iran's λ alone moved from the estimate changes the likelihood.
    alone = forward(lower(mini.with_overrides({LEADER: lam_hat, FOLLOWER: lam_hat * 2})),
                    SolverChoice("crisis", 3)(mini.with_overrides({LEADER: lam_hat, FOLLOWER: lam_hat * 2})), rec).loglik
    assert alone != pytest.approx(est.loglik, abs=1e-6)


def test_the_written_scenario_marks_the_tie_and_loads(fitted, tmp_path) -> None:
    _mini, _rec, est, _ = fitted
    out = tmp_path / "fitted.yaml"
    out.write_text(dump_scenario(est.scenario), encoding="utf-8")
    back = load_scenario(out)
    params = dict(back.estimated_parameters())
    assert params[FOLLOWER].value == params[LEADER].value == pytest.approx(est.params[0].estimate)
    assert params[FOLLOWER].estimated.tied_to == LEADER
    assert params[LEADER].estimated.tied_to is None
    # Draws of the estimates move both together.
    for seed in range(5):
        drawn = dict(back.sample_parameters(np.random.default_rng(seed), only_estimated=True).estimated_parameters())
        assert drawn[FOLLOWER].value == drawn[LEADER].value
    lo, hi = params[LEADER].uncertainty.support()
    values = {dict(back.sample_parameters(np.random.default_rng(s), only_estimated=True).estimated_parameters())[LEADER].value for s in range(5)}
    assert len(values) == 5 and all(lo <= v <= hi for v in values)


def test_a_tie_whose_values_differ_is_a_located_error(fitted, tmp_path) -> None:
    _mini, _rec, est, _ = fitted
    data = est.scenario.to_data()
    iran = next(a for a in data["actors"] if a["id"] == "Iran")
    iran["lam"]["value"] = est.params[0].estimate + 1.0
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps(data, default=str), encoding="utf-8")  # JSON is YAML
    with pytest.raises(ScenarioError) as err:
        load_scenario(bad)
    msg = str(err.value)
    assert "bad.yaml:" in msg and "estimated.tied_to: a tied parameter has the value of the one it is tied to" in msg


@pytest.mark.parametrize(
    ("free", "tie", "expect"),
    [
        ([LEADER], {FOLLOWER: "actors.Iran.types.hardline.prior"}, "is not among the estimated parameters"),
        ([LEADER, FOLLOWER], {FOLLOWER: LEADER}, "is estimated on its own"),
        ([LEADER], {"actors.Iran.nope": LEADER}, "--tie actors.Iran.nope=actors.US.lam"),
    ],
)
def test_bad_ties_are_refused_before_any_solve(fitted, free, tie, expect) -> None:
    mini, _rec, _est, path = fitted
    with pytest.raises(UserError, match=expect):
        estimate(mini, [str(path)], free=free, tie=tie, grid=3)


def test_the_command_line_ties_and_refuses_a_bad_tie(fitted, tmp_path, run_cli) -> None:
    _mini, _rec, est, path = fitted
    out = tmp_path / "fitted.yaml"
    code, stdout, err = run_cli("estimate", MINI, "--timeline", path, "--grid", "3", "--free", f"{LEADER}=0.2:12",
                                "--tie", f"{FOLLOWER}={LEADER}", "--json", "--out", out)
    assert code == 0, err
    data = json.loads(stdout)
    assert data["ties"] == {FOLLOWER: LEADER}
    assert data["params"][LEADER]["estimate"] == pytest.approx(est.params[0].estimate)
    assert out.is_file()
    code, _stdout, err = run_cli("estimate", MINI, "--timeline", path, "--grid", "3", "--free", LEADER, "--tie", FOLLOWER,
                                 "--out", tmp_path / "never.yaml")
    assert code == 2 and "--tie: expected PATH=ESTIMATED_PATH" in err and "Traceback" not in err
    assert not (tmp_path / "never.yaml").exists()
