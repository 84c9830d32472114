"""The scenario format's endings: `ends` on actions, outcomes' `casualties`, red lines' `on_answer`,
and the two-type limit — each mistake reported with its file, line, field path, the bad value and
what was expected (exit status 2 from `crisislab validate`), and what `validate` infers about
outcomes an `ends` action reaches."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from crisislab.cli._scenario import register
from crisislab.scenario import loads_scenario, metric_never

ENDGAME = Path(__file__).resolve().parents[1] / "crisis" / "data" / "endgame.yaml"
TEXT = ENDGAME.read_text(encoding="utf-8")
runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _validate(tmp_path: Path, text: str):
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(_app(), ["validate", str(path)])
    return path, result


def _line(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_the_endgame_scenario_validates(tmp_path: Path) -> None:
    _, result = _validate(tmp_path, TEXT)
    assert result.exit_code == 0, result.output


BAD = [
    pytest.param("{id: a_war, actor: A, rung: 3, ends: war,", "{id: a_war, actor: A, rung: 3, ends: peace,",
                 "{id: a_war", "actions.a_war.ends: unknown outcome (got 'peace'; expected one of war, deal, calm)",
                 id="ends-unknown-outcome"),
    pytest.param("{id: h_war, actor: H, ends: war,", "{id: h_war, actor: H, ends: stalemate,", "{id: h_war",
                 "actions.h_war.ends: the at_horizon outcome is reached by the horizon, not by an action "
                 "(got 'stalemate'; expected one of war, deal, calm)", id="ends-at-horizon"),
    pytest.param("      - {side: B, mean: 1.5, source: test}", "      - {side: B, mean: 1.5, source: test, into: deaths}",
                 "side: B, mean: 1.5", "outcomes.war.casualties.1.into:", id="outcome-casualties-into"),
    pytest.param("      - {side: B, mean: 1.5, source: test}", "      - {side: Nobody, mean: 1.5, source: test}",
                 "side: Nobody", "outcomes.war.casualties.1.side: unknown side (got 'Nobody'", id="outcome-casualties-side"),
    pytest.param("      - {side: B, mean: 1.5, source: test}", "      - {side: B, mean: -1.5, source: test}",
                 "side: B, mean: -1.5", "outcomes.war.casualties.1.mean: mean deaths must be non-negative (got -1.5; expected >= 0)",
                 id="outcome-casualties-mean"),
    pytest.param("  - {id: stalemate, at_horizon: true}", "  - {id: stalemate, at_horizon: true, casualties: [{side: A, mean: 1, source: test}]}",
                 "id: stalemate", "outcomes.stalemate.casualties: the at_horizon outcome carries no casualties", id="horizon-casualties"),
    pytest.param("ends: deal, effects", "effects", "{id: deal,",
                 "outcomes.deal: an outcome needs a `when`, an action that `ends` the crisis in it, or at_horizon: true",
                 id="outcome-unreachable"),
    pytest.param("    on_answer: [{var: tension, add: -1}]", "    on_answer: [{var: tensoin, add: -1}]", "on_answer",
                 "red_lines.a_deaths.on_answer.0.var: unknown state variable (got 'tensoin'", id="on-answer-unknown-var"),
    pytest.param("    on_answer: [{var: tension, add: -1}]", "    on_answer: [{var: tension, set: 7}]", "on_answer",
                 "red_lines.a_deaths.on_answer.0.set: outside the bounds of tension (got 7; expected 0..3)", id="on-answer-out-of-bounds"),
    pytest.param("      - {id: soft, prior: {value: 0.4, source: test}}",
                 "      - {id: soft, prior: {value: 0.3, source: test}}\n      - {id: mad, prior: {value: 0.1, source: test}}",
                 "    types:", "actors.A.types: A has 3 types; the engines represent a belief about an actor as one probability "
                 "(its first type's), which holds two types (got 3 types (tough, soft, mad); expected at most 2: merge types, "
                 "or split the actor into two strategic actors)", id="three-types"),
]


@pytest.mark.parametrize(("old", "new", "at", "message"), BAD)
def test_a_mistake_is_located_and_exits_2(tmp_path: Path, old: str, new: str, at: str, message: str) -> None:
    assert old in TEXT
    text = TEXT.replace(old, new, 1)
    path, result = _validate(tmp_path, text)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"{path}:{_line(text, at)}: {message}" in result.stderr, result.stderr


def test_an_ends_action_reaches_its_outcome_for_the_reachability_warnings() -> None:
    s = loads_scenario(TEXT, "<endgame>")
    from crisislab.scenario import Forbid, ForbidSpec, Metric

    deal = Metric.model_validate({"outcome_probability": "deal"})
    # `deal` has no `when`: B's b_deal is its only route.
    assert metric_never(s, deal, []) is None
    why = metric_never(s, deal, [Forbid(forbid=ForbidSpec(actor="B", action="b_deal"))])
    assert why is not None and "deal" in why and "b_deal" in why
    # War is reached by A's choice, by the hazard H and by a_strike's runaway error even with a_war forbidden.
    war = Metric.model_validate({"outcome_probability": "war"})
    assert metric_never(s, war, [Forbid(forbid=ForbidSpec(actor="A", action="a_war"))]) is None
    # Deaths on B come only from war's casualties: a side an outcome kills may suffer deaths.
    deaths_b = Metric.model_validate({"mean_casualties": "B"})
    assert metric_never(s, deaths_b, []) is None


def test_the_notebook_summary_names_endings_and_outcome_casualties() -> None:
    html = loads_scenario(TEXT, "endgame.yaml")._repr_html_()
    # war: A's choice and H's hazard end the crisis in it, and its casualties fall on A and B;
    # deal is B's choice only; calm is reached by its `when` alone.
    assert "war (ended by a_war, h_war; deaths of A, B), deal (ended by b_deal), calm, stalemate;" in html
