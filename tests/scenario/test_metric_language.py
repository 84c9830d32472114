"""The scenario language's mechanism metrics (`after`, `per_round`, `given`) and conditional
forbids: what loads, what is refused (with file, line, field path, value and what was expected),
and what `validate` warns about statically (`metric_never`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crisislab.cli import app
from crisislab.scenario import ScenarioError, describe_metric, loads_scenario, metric_never

MINI_TEXT = (Path(__file__).parents[1] / "simulation" / "mini.yaml").read_text(encoding="utf-8")
FLAGSHIP = Path(__file__).parents[2] / "scenarios" / "us-iran-2019-2020.yaml"


def _with_claim(metric: str, compare: str = "{treatment: [], baseline: []}") -> str:
    return MINI_TEXT + f"""  - id: added
    metric: {metric}
    compare: {compare}
    expect: higher
"""


def _line_of_added() -> int:
    return len(MINI_TEXT.splitlines()) + 2  # the `metric:` line of the appended claim


@pytest.mark.parametrize(
    ("metric", "label"),
    [
        pytest.param("{action_probability: us_strike, after: {action: ir_attack, within: 1}}",
                     "P(us_strike taken within 1 round after ir_attack)", id="window"),
        pytest.param("{outcome_probability: war, after: {action: us_strike, within: 0}}",
                     "P(war later in the same round after us_strike)", id="outcome-window"),
        pytest.param("{mean_casualties: US, per_round: true}", "deaths (US) per round at risk", id="rate"),
        pytest.param("{outcome_probability: war, given: {reached: {var: tension, op: ge, value: 3}, took: us_strike}}",
                     "P(war) | tension reached ≥ 3, us_strike taken", id="given"),
    ],
)
def test_mechanism_metrics_load_and_describe(metric: str, label: str) -> None:
    sc = loads_scenario(_with_claim(metric), "mini.yaml")
    assert describe_metric(sc.claims[-1].metric) == label


@pytest.mark.parametrize(
    ("metric", "path", "message"),
    [
        pytest.param("{mean_casualties: US, after: {action: us_strike, within: 1}}", "claims.added.metric",
                     "`after` applies to `outcome_probability` or `action_probability`", id="after-on-casualties"),
        pytest.param("{mean_end_round: true, per_round: true}", "claims.added.metric",
                     "`per_round` does not apply to `mean_end_round`", id="rate-of-end-round"),
        pytest.param("{outcome_probability: war, within: 2, after: {action: us_strike, within: 1}}", "claims.added.metric",
                     "not both", id="within-and-after"),
        pytest.param("{outcome_probability: war, given: {reached: {var: tension, op: eq, value: 3}}}",
                     "claims.added.metric.given", "compares with one of ge, gt, le, lt", id="reached-eq"),
        pytest.param("{action_probability: us_strike, after: {action: us_nuke, within: 1}}",
                     "claims.added.metric.after.action", "unknown action", id="unknown-trigger"),
        pytest.param("{action_probability: us_strike, after: {action: ir_attack, within: 4}}",
                     "claims.added.metric.after.within", "at least as long as the horizon", id="window-too-long"),
        pytest.param('{mean_casualties: US, per_round: "yes"}', "claims.added.metric.per_round",
                     "wrong type (got 'yes'; expected true or false)", id="per-round-not-a-boolean"),
        # mini.yaml's calendar: 4 rounds of 7 days, 28 days from round 1's start to the horizon's end
        pytest.param("{action_probability: us_strike, after: {action: ir_attack, within_days: 28}}",
                     "claims.added.metric.after.within_days", "as long as the calendar's 28 days counts every later round (got 28; expected 0..27)",
                     id="window-in-days-too-long"),
        pytest.param("{outcome_probability: war, given: {reached: {var: anger, op: ge, value: 3}}}",
                     "claims.added.metric.given.reached.var", "unknown state variable", id="unknown-var"),
        pytest.param("{outcome_probability: war, given: {not_took: us_nuke}}",
                     "claims.added.metric.given.not_took", "unknown action", id="unknown-given-action"),
    ],
)
def test_bad_mechanism_metrics_are_refused_where_they_are(metric: str, path: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        loads_scenario(_with_claim(metric), "mini.yaml")
    hits = [p for p in err.value.problems if p.path.startswith(path) and message in str(p)]
    assert hits, [str(p) for p in err.value.problems]
    assert hits[0].file == "mini.yaml" and hits[0].line is not None and hits[0].line >= _line_of_added()


def test_a_conditional_forbid_loads_and_its_condition_is_checked() -> None:
    ok = loads_scenario(_with_claim("{outcome_probability: war}",
                                    "{treatment: [{forbid: {actor: US, action: us_strike, when: {var: tension, op: ge, value: 2}}}], baseline: []}"),
                        "mini.yaml")  # fmt: skip
    assert ok.claims[-1].compare.treatment[0].forbid.when.value == 2
    with pytest.raises(ScenarioError, match="unknown state variable"):
        loads_scenario(_with_claim("{outcome_probability: war}",
                                   "{treatment: [{forbid: {actor: US, action: us_strike, when: {var: anger, op: ge, value: 2}}}], baseline: []}"),
                       "mini.yaml")  # fmt: skip


# ----- what the structure settles -------------------------------------------------------------


def _claim_scenario(metric: str, baseline: str):
    return loads_scenario(_with_claim(metric, f"{{treatment: [], baseline: {baseline}}}"), "mini.yaml")


@pytest.mark.parametrize(
    ("metric", "baseline", "never"),
    [
        # us_deaths only grows through the militia's rockets, which no forbid can stop
        pytest.param("{mean_casualties: US}", "[{forbid: {actor: US, action: us_strike}}]", False, id="route-left"),
        pytest.param("{action_probability: us_strike}", "[{forbid: {actor: US, action: us_strike}}]", True, id="forbidden-action"),
        pytest.param("{mean_casualties: civilian}",
                     "[{forbid: {actor: US, action: us_strike}}, {forbid: {actor: Iran, action: ir_attack}}]", True,
                     id="every-route-to-deaths-forbidden"),
        # a forbid with `when` removes no route for good
        pytest.param("{action_probability: us_strike}",
                     "[{forbid: {actor: US, action: us_strike, when: {var: tension, op: ge, value: 2}}}]", False,
                     id="conditional-forbid"),
        pytest.param("{action_probability: ir_attack, after: {action: us_strike, within: 1}}",
                     "[{forbid: {actor: US, action: us_strike}}]", True, id="trigger-forbidden"),
    ],
)
def test_metric_never_only_where_the_structure_proves_it(metric: str, baseline: str, never: bool) -> None:
    sc = _claim_scenario(metric, baseline)
    c = sc.claims[-1]
    assert (metric_never(sc, c.metric, c.compare.baseline) is not None) is never
    assert metric_never(sc, c.metric, c.compare.treatment) is None


def test_a_forbid_that_removes_the_only_route_is_seen_to_settle_the_claim(tmp_path) -> None:
    """The flagship's talks claim written with a baseline that forbids us_talks_no_preconditions,
    the only action that sets `talks` to 1 (iran_accept_talks, the only one that sets it to 2, the
    settlement, is available only at 1): settled by how it is written. The flagship as bundled
    keeps the US's own choice in the baseline, and validate has nothing to say about it."""
    from crisislab.scenario import Scenario, dump_scenario, load_scenario

    sc = load_scenario(FLAGSHIP)
    res = CliRunner().invoke(app, ["validate", str(FLAGSHIP)])
    assert res.exit_code == 0, res.output
    assert not [line for line in res.output.splitlines() if line.startswith("warning:")]
    data = sc.to_data()
    for claim in data["claims"]:
        if claim["id"] == "talks-without-preconditions-settle":
            claim["metric"] = {"outcome_probability": "settlement"}
            claim["compare"]["baseline"] = [{"forbid": {"actor": "US", "action": "us_talks_no_preconditions"}}]
    forbidding = Scenario.from_data(data, "<flagship, talks claim with a global forbid>")
    c = forbidding.claim("talks-without-preconditions-settle")
    why = metric_never(forbidding, c.metric, c.compare.baseline)
    assert why is not None and "us_talks_no_preconditions" in why
    assert metric_never(forbidding, c.metric, c.compare.treatment) is None
    path = tmp_path / "flagship-forbid.yaml"
    path.write_text(dump_scenario(forbidding), encoding="utf-8")
    res = CliRunner().invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    warnings = [line for line in res.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "talks-without-preconditions-settle" in warnings[0] and "cannot fail" in warnings[0]


def test_a_window_in_days_just_inside_the_calendar_loads() -> None:
    sc = loads_scenario(_with_claim("{action_probability: us_strike, after: {action: ir_attack, within_days: 27}}"), "mini.yaml")
    assert sc.claims[-1].metric.after.within_days == 27


def test_a_validate_warning_names_the_claim_by_id_with_its_line(tmp_path) -> None:
    # The baseline forbids the window's trigger: undefined in every run of that arm.
    text = _with_claim("{action_probability: ir_attack, after: {action: us_strike, within: 1}}",
                       "{treatment: [], baseline: [{forbid: {actor: US, action: us_strike}}]}")
    path = tmp_path / "mini.yaml"
    path.write_text(text, encoding="utf-8")
    res = CliRunner().invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    warnings = [line for line in res.output.splitlines() if line.startswith("warning:")]
    compare_line = _line_of_added() + 1  # the appended claim's `compare:` line
    assert len(warnings) == 1, res.output
    assert warnings[0].startswith(f"warning: {path}:{compare_line}: claims.added.compare.baseline: claim added:"), warnings[0]


@pytest.mark.parametrize(("old", "new", "path", "got"), [
    ("{id: us_wait, actor: US, rung: 0, default: true,", "{id: us_wait, actor: US, rung: 0, default: 1,", "actions.us_wait.default", "1"),
    ("{id: stalemate, at_horizon: true}", "{id: stalemate, at_horizon: 'on'}", "outcomes.stalemate.at_horizon", "'on'"),
])
def test_switches_are_true_or_false(old: str, new: str, path: str, got: str) -> None:
    # YAML 1.2 reads `yes`/`on` as text and `1` as a number: neither is a switch.
    assert old in MINI_TEXT
    with pytest.raises(ScenarioError) as err:
        loads_scenario(MINI_TEXT.replace(old, new), "mini.yaml")
    assert any(p.path == path and f"wrong type (got {got}; expected true or false)" in str(p) for p in err.value.problems), \
        [str(p) for p in err.value.problems]


def test_claim_labels_say_the_rate_period_and_read_conditions_as_text() -> None:
    """Under calendar phases a rate is per base period (14 days in the flagship), and an
    intervention's condition reads as the validate table writes it, not as serialized data."""
    from crisislab.scenario import describe_interventions, load_scenario, rate_period

    sc = load_scenario(FLAGSHIP)
    assert rate_period(sc) == "14 days"
    assert rate_period(loads_scenario(MINI_TEXT)) == "round"
    rates = [describe_metric(c.metric, rate_period(sc)) for c in sc.claims if c.metric.per_round]
    assert rates and all("per 14 days at risk" in r for r in rates)
    forced = [describe_interventions(c.compare.treatment) for c in sc.claims
              if any(getattr(getattr(iv, "force", None), "when", None) is not None for iv in c.compare.treatment)]
    assert forced and all("{" not in t for t in forced)
    assert "force US us_kill_commander when red line american_deaths is pending" in forced
