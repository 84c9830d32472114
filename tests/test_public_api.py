"""The public Python API: `import crisislab` does the whole job without private imports.

What is checked: every public name resolves and says what it does; `simulate` accepts what `solve`
returns and gives one row per run, with the same numbers as the command line's `simulate` (same
scenario, grid and seed: both are the one code path); core objects show themselves in a notebook;
library errors name parameters, not command-line flags; the tutorial runs.
"""

from __future__ import annotations

import inspect
import json
import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import crisislab
from crisislab.cli import app

REPO = Path(__file__).resolve().parents[1]
FEARON = REPO / "scenarios" / "fearon-audience-costs.yaml"


@pytest.mark.parametrize("name", crisislab.__all__)
def test_every_public_name_resolves_and_has_a_docstring(name: str) -> None:
    obj = getattr(crisislab, name)
    if name == "__version__":
        assert isinstance(obj, str)
        return
    assert inspect.getdoc(obj), f"crisislab.{name} has no docstring"
    assert name in dir(crisislab)


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'simulat'"):
        crisislab.simulat  # noqa: B018


@pytest.fixture(scope="module")
def fearon():
    return crisislab.load_scenario(FEARON)


@pytest.fixture(scope="module")
def fearon_solution(fearon):
    return crisislab.solve(fearon, grid=11)


def test_simulate_accepts_what_solve_returns(fearon, fearon_solution, tmp_path) -> None:
    res = crisislab.simulate(fearon, fearon_solution, runs=3000, seed=1)
    assert isinstance(res.runs, pd.DataFrame)
    assert len(res.runs) == 3000 and res.runs["run"].tolist() == list(range(3000))
    # The command line's `simulate` on the same scenario, grid and seed gives the same per-run table.
    out = tmp_path / "runs.parquet"
    r = CliRunner().invoke(app, ["simulate", str(FEARON), "--runs", "3000", "--seed", "1", "--grid", "11", "--out", str(out)])
    assert r.exit_code == 0, r.output
    pd.testing.assert_frame_equal(pd.read_parquet(out), res.runs)


def test_core_objects_show_themselves_in_a_notebook(fearon, fearon_solution) -> None:
    res = crisislab.simulate(fearon, fearon_solution, runs=500, seed=2)
    claims = crisislab.evaluate_claims(fearon, runs=500, seed=2, policy=fearon_solution, robustness=0)
    study = crisislab.run_study(fearon, runs=500, seed=2, policy=fearon_solution, robustness=0)
    from crisislab.analysis import compare_arms, make_runner

    cmp = compare_arms(make_runner(fearon, fearon_solution, runs=500, seed=2),
                       crisislab.scenario.parse_interventions(fearon, forbid="A:a_threaten"))
    for obj, needle in ((fearon, fearon.title), (fearon_solution, "belief grid"), (res, "500 runs"),
                        (claims[0], claims[0].verdict), (study, "Study of"), (cmp, "common random numbers")):  # fmt: skip
        html = obj._repr_html_()
        assert isinstance(html, str) and needle in html, (type(obj).__name__, html[:200])


def test_library_errors_name_parameters_not_flags(fearon, fearon_solution) -> None:
    with pytest.raises(crisislab.UserError) as err:
        crisislab.simulate(fearon, fearon_solution, runs=0, seed=1)
    assert str(err.value).startswith("runs: must be an integer >= 1 (got 0)")
    with pytest.raises(crisislab.UserError) as err:
        crisislab.evaluate_claims(fearon, runs=100, seed=1, policy="oracle")
    assert str(err.value).startswith("policy: must be one of crisis, myopic (got 'oracle')")
    with pytest.raises(crisislab.UserError) as err:
        crisislab.run_study(fearon, runs=100, robustness=-1)
    assert str(err.value).startswith("robustness: must be an integer >= 0")


def test_wrong_arguments_are_named(fearon, fearon_solution) -> None:
    with pytest.raises(crisislab.UserError, match=r"^policy: expected what crisislab.solve\(scenario\) returns"):
        crisislab.simulate(fearon, None, runs=10, seed=1)
    with pytest.raises(crisislab.UserError, match="parse_interventions"):
        crisislab.simulate(fearon, fearon_solution, runs=10, seed=1, interventions=["A:a_threaten"])
    stale = fearon.with_overrides({"payoffs.terminal.backdown.A": -3.0})
    with pytest.raises(crisislab.UserError, match="solved for other parameters"):
        crisislab.simulate(stale, fearon_solution, runs=10, seed=1)
    # one shorthand item on its own is one item, not a list of characters
    assert crisislab.scenario.parse_interventions(fearon, forbid="A:a_threaten") == crisislab.scenario.parse_interventions(
        fearon, forbid=["A:a_threaten"])
    with pytest.raises(crisislab.UserError, match=r"^force: expected a list of strings"):
        crisislab.scenario.parse_interventions(fearon, force=[123])


def test_simulate_solves_by_name_as_the_command_line(fearon, fearon_solution) -> None:
    by_name = crisislab.simulate(fearon, "crisis", runs=500, seed=3, grid=11)
    pd.testing.assert_frame_equal(by_name.runs, crisislab.simulate(fearon, fearon_solution, runs=500, seed=3).runs)


def test_a_set_intervention_in_simulate_says_how_to_compare(fearon, fearon_solution) -> None:
    iv = crisislab.scenario.parse_interventions(fearon, set=["payoffs.terminal.backdown.A=-0.75"])
    with pytest.raises(crisislab.UserError, match="compare_arms"):
        crisislab.simulate(fearon, fearon_solution, runs=10, seed=1, interventions=iv)


def test_compare_arms_matches_the_command_line(fearon) -> None:
    """Fearon's audience-cost counterfactual, library and command line: the same paired differences."""
    from crisislab.analysis import compare_arms, make_runner

    iv = crisislab.scenario.parse_interventions(fearon, set=["payoffs.terminal.backdown.A=-0.75"])
    lib = compare_arms(make_runner(fearon, "crisis", 11, 4000, 1), iv).summary()
    r = CliRunner().invoke(app, ["simulate", str(FEARON), "--runs", "4000", "--seed", "1", "--grid", "11",
                                 "--set", "payoffs.terminal.backdown.A=-0.75", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    cli = json.loads(r.stdout)
    assert cli["difference"] == lib["difference"] and cli["arms"] == lib["arms"]


def test_bundled_scenario_by_id_and_a_clear_error_for_a_wrong_one() -> None:
    assert crisislab.bundled_scenario("fearon-audience-costs").id == "fearon-audience-costs"
    with pytest.raises(crisislab.ScenarioError, match="no such bundled scenario.*fearon-audience-costs"):
        crisislab.bundled_scenario("fearon")


def test_replay_without_a_record_says_so(fearon) -> None:
    with pytest.raises(crisislab.UserError, match="bundles no record for scenario 'fearon-audience-costs'"):
        crisislab.replay(fearon, grid=3)


@pytest.mark.slow
def test_the_tutorial_runs(monkeypatch, capsys) -> None:
    """docs/tutorial.py (the flagship end to end through the public API) runs as a script."""
    monkeypatch.setenv("CRISISLAB_TUTORIAL_RUNS", "2000")
    ns = runpy.run_path(str(REPO / "docs" / "tutorial.py"), run_name="__main__")
    study = ns["study"]
    assert study.scenario_id == "us-iran-2019-2020"
    assert Path(ns["path"]).is_file()
    assert np.isclose(study.outcomes["probability"].sum(), 1.0)
    assert "report:" in capsys.readouterr().out
    assert "Observed record" in ns["rep"]._repr_html_()
