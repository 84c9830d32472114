"""The scenarios a file implies are checked when it is loaded: each claim arm with its `set`
entries applied, and the ends of every stated uncertainty range. Problems are reported at the line
of the `set` value or the `uncertainty`, with the value the user wrote; a value the user did not
write (the complement of a prior, rescaled to keep the sum 1) gives no line of its own.
Also the size limits (horizon, values per state variable, public states)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crisislab.scenario import ScenarioError, load_scenario
from crisislab.scenario import MAX_HORIZON, MAX_PUBLIC_STATES, MAX_VAR_VALUES

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
FEARON_SET = "treatment: [{set: {param: payoffs.terminal.backdown.A, value: -1.0}}]"


def _variant(tmp_path: Path, name: str, old: str, new: str) -> tuple[Path, list[str]]:
    """A copy of bundled scenario `name` with `old` replaced by `new` (which must occur once)."""
    text = (SCENARIOS / f"{name}.yaml").read_text()
    assert text.count(old) == 1, old
    path = tmp_path / f"{name}.yaml"
    path.write_text(text.replace(old, new))
    return path, path.read_text().splitlines()


def _line_of(lines: list[str], needle: str) -> int:
    hits = [i + 1 for i, line in enumerate(lines) if needle in line]
    assert len(hits) == 1, needle
    return hits[0]


def _problems(path: Path) -> list:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value.problems


def test_claim_sets_a_prior_out_of_range_one_line_at_the_set_entry(tmp_path):
    path, lines = _variant(tmp_path, "fearon-audience-costs", FEARON_SET,
                           "treatment: [{set: {param: actors.A.types.resolved.prior, value: 1.5}}]")
    (p,) = _problems(path)  # exactly one: no second line about the derived complement (-0.5)
    assert (p.file, p.line) == (str(path), _line_of(lines, "actors.A.types.resolved.prior"))
    assert p.path == "claims.audience-cost-deters-resistance.compare.treatment.0.set.value"
    assert p.message == "sets actors.A.types.resolved.prior: prior out of range"
    assert (p.got, p.expected) == ("1.5", "a number in [0, 1]")
    assert "-0.5" not in str(p) and "irresolute" not in str(p)


def test_claim_sets_an_error_probability_named_as_the_user_wrote_it(tmp_path):
    path, lines = _variant(tmp_path, "chicken-brinkmanship",
                           "{set: {param: actions.a_escalate.consequences.0.probability, value: 0.3}}",
                           "{set: {param: actions.a_escalate.consequences.0.probability, value: 1.5}}")
    (p,) = _problems(path)
    assert p.line == _line_of(lines, "actions.a_escalate.consequences.0.probability")
    assert p.path == "claims.errors-raise-disaster.compare.treatment.0.set.value"
    assert str(p).endswith(
        "sets actions.a_escalate.consequences.0.probability: probability out of range (got 1.5; expected a number in [0, 1])"
    )


def test_claim_sets_a_perceived_prior_and_a_negative_lambda(tmp_path):
    path, lines = _variant(tmp_path, "chicken-brinkmanship",
                           "treatment: [{set: {param: perceptions.A.B.prior.tough, value: 0.5}}]",
                           "treatment: [{set: {param: perceptions.A.B.prior.tough, value: 1.5}}, "
                           "{set: {param: actors.B.lam, value: -3}}]")
    problems = _problems(path)
    line = _line_of(lines, "perceptions.A.B.prior.tough")
    got = [(p.line, p.path, p.message, p.got, p.expected) for p in problems]
    arm = "claims.correct-perception-lowers-disaster.compare.treatment"
    assert got == [
        (line, f"{arm}.0.set.value", "sets perceptions.A.B.prior.tough: prior out of range", "1.5", "a number in [0, 1]"),
        (line, f"{arm}.1.set.value", "sets actors.B.lam: logit precision must be non-negative", "-3", ">= 0"),
    ]


def test_a_prior_problem_only_the_rescaling_causes_is_reported_once_with_its_cause(tmp_path):
    # Both entries set (no entry left to rescale) to values that do not sum to 1.
    path, lines = _variant(tmp_path, "chicken-brinkmanship",
                           "treatment: [{set: {param: perceptions.A.B.prior.tough, value: 0.5}}]",
                           "treatment: [{set: {param: perceptions.A.B.prior.tough, value: 0.3}}, "
                           "{set: {param: perceptions.A.B.prior.soft, value: 0.3}}]")
    (p,) = _problems(path)
    assert p.line == _line_of(lines, "perceptions.A.B.prior.soft")
    assert p.path == "claims.correct-perception-lowers-disaster.compare.treatment.0.set.value"
    assert "perceptions.A.B.prior: perceived priors of B's types do not sum to 1" in p.message
    assert p.got == "sum 0.6"


def test_a_set_value_with_its_own_uncertainty_is_checked_too(tmp_path):
    path, _ = _variant(tmp_path, "fearon-audience-costs", FEARON_SET,
                       "treatment: [{set: {param: actors.A.lam, value: {value: 2.0, assumption: x, "
                       "uncertainty: {uniform: [3.0, 4.0]}}}}]")
    (p,) = _problems(path)
    assert p.message == "sets actors.A.lam: the value is outside the uncertainty's support"
    assert (p.got, p.expected) == ("2", "in [3, 4]")


def test_validate_and_claims_exit_2_before_any_work(tmp_path):
    from crisislab.cli import app

    path, lines = _variant(tmp_path, "fearon-audience-costs", FEARON_SET,
                           "treatment: [{set: {param: actors.A.types.resolved.prior, value: 1.5}}]")
    expected = (f"{path}:{_line_of(lines, 'resolved.prior')}: claims.audience-cost-deters-resistance.compare.treatment.0.set.value: "
                "sets actors.A.types.resolved.prior: prior out of range (got 1.5; expected a number in [0, 1])")
    r = CliRunner().invoke(app, ["validate", str(path)])
    assert r.exit_code == 2 and expected in r.stderr and "OK" not in r.output
    r = CliRunner().invoke(app, ["claims", str(path), "--runs", "100", "--robustness", "0"])
    assert isinstance(r.exception, ScenarioError) and str(r.exception) == expected


# ----- uncertainty ranges ----------------------------------------------------------------------


def test_an_uncertainty_that_draws_priors_above_one(tmp_path):
    path, lines = _variant(tmp_path, "fearon-audience-costs", "prior: 0.3",
                           "prior: {value: 0.3, assumption: x, uncertainty: {uniform: [0.1, 1.4]}}")
    (p,) = _problems(path)  # the complement (-0.4 at the high end) gives no line of its own
    assert (p.line, p.path) == (_line_of(lines, "uniform: [0.1, 1.4]"), "actors.A.types.resolved.prior.uncertainty")
    assert p.message == "draws at the high end of the range (1.4) make an invalid scenario: prior out of range"
    assert (p.got, p.expected) == ("uniform [0.1, 1.4]", "a range whose every draw is a number in [0, 1]")


def test_an_unclipped_normal_on_lambda_and_a_probability_range_beyond_one(tmp_path):
    path, _ = _variant(tmp_path, "chicken-brinkmanship", "uncertainty: {uniform: [1.0, 8.0]}",
                       "uncertainty: {normal: [4.0, 1.0]}")
    path.write_text(path.read_text().replace("uncertainty: {uniform: [0.0, 0.3]}", "uncertainty: {uniform: [0.0, 1.3]}"))
    got = [(p.path, p.message, p.got, p.expected) for p in _problems(path)]
    assert got == [
        ("actors.A.lam.uncertainty",
         "draws at the low end of the range (an unbounded end) make an invalid scenario: logit precision must be non-negative",
         "normal [4, 1] without clip", "a range whose every draw is >= 0 (give the normal a `clip: [lo, hi]`)"),
        ("actions.a_escalate.consequences.a_misfire.probability.uncertainty",
         "draws at the high end of the range (1.3) make an invalid scenario: probability out of range",
         "uniform [0, 1.3]", "a range whose every draw is a number in [0, 1]"),
    ]
    # clipped at 0 it is fine
    path.write_text(path.read_text().replace("normal: [4.0, 1.0]}", "normal: [4.0, 1.0], clip: [0.0, 9.0]}")
                    .replace("[0.0, 1.3]", "[0.0, 0.3]"))
    assert load_scenario(path).actors[0].lam.uncertainty.clip == (0.0, 9.0)


def test_draws_of_a_valid_range_are_valid_scenarios():
    # The robustness draws of the flagship (16 uncertain parameters) load without a problem.
    import numpy as np

    s = load_scenario(SCENARIOS / "us-iran-2019-2020.yaml")
    rng = np.random.default_rng(0)
    for _ in range(5):
        s.sample_parameters(rng)


# ----- size limits -------------------------------------------------------------------------------


def test_horizon_limit(tmp_path):
    path, lines = _variant(tmp_path, "fearon-audience-costs", "\nhorizon: 2\n", "\nhorizon: 100000000\n")
    (p,) = _problems(path)
    assert (p.line, p.path, p.got) == (_line_of(lines, "horizon: 100000000"), "horizon", "100,000,000")
    assert f"up to {MAX_HORIZON:,} rounds" in p.message
    assert p.expected == f"<= {MAX_HORIZON:,}; for a longer crisis, use longer rounds (calendar.days_per_round)"


def test_variable_range_limit(tmp_path):
    path, lines = _variant(tmp_path, "fearon-audience-costs", "    max: 6\n", "    max: 60000000\n")
    (p,) = _problems(path)
    assert (p.line, p.path, p.got) == (_line_of(lines, "max: 60000000"), "state.stage.max", "60,000,001 values")
    assert f"at most {MAX_VAR_VALUES:,} values" in p.message and "bucket" in p.expected


def test_public_state_limit(tmp_path):
    # Four variables of 1001 values each are each allowed, but together make 1001**4 public states.
    text = (SCENARIOS / "fearon-audience-costs.yaml").read_text()
    extra = "".join(f"  - {{id: v{i}, min: 0, max: 1000, initial: 0, assumption: x}}\n" for i in range(4))
    text = text.replace("\nstate:\n", "\nstate:\n" + extra, 1)
    path = tmp_path / "wide.yaml"
    path.write_text(text)
    (p,) = _problems(path)
    assert p.path == "state" and p.got == f"{7 * 1001**4:,}"
    assert f"up to {MAX_PUBLIC_STATES:,}" in p.message and "(v0 1001 x v1 1001 x v2 1001 x v3 1001 x stage 7)" in p.message


def test_bundled_scenarios_are_far_inside_the_limits():
    # The limits leave room: the flagship's public states (6·2·2·2·3·2·3 values × (3+2)(3+1)(3+4)
    # red-line statuses = 120,960) are an eighth of the limit, its horizon 38 rounds.
    for path in SCENARIOS.glob("*.yaml"):
        s = load_scenario(path)
        states = 1
        for v in s.state:
            states *= v.size
            assert v.size * 100 <= MAX_VAR_VALUES
        for r in s.red_lines:
            states *= 3 + r.deadline
        assert states * 8 <= MAX_PUBLIC_STATES and s.horizon * 25 <= MAX_HORIZON, path.name
