"""Calendar phases in the scenario format: what loads, what is refused (file, line, field path, the
bad value and what was expected; exit 2 from `validate`), dates → rounds at phase boundaries, and
the `{phase: ID}` condition and its command-line shorthand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from crisislab.scenario import (
    Calendar,
    PhaseCondition,
    ScenarioError,
    loads_scenario,
    parse_condition,
)

SMALL = (Path(__file__).parent / "small.yaml").read_text()
PLAIN = "calendar: {start: 2019-05-05, days_per_round: 14}"
# small.yaml has horizon 4: phases of 2 + 2 rounds
PHASED = ("calendar:\n  start: 2019-05-05\n  phases:\n"
          "    - {id: build-up, days_per_round: 14, rounds: 2, label: slow}\n"
          "    - {id: climax, days_per_round: 2, rounds: 2}")


def _with_calendar(calendar: str) -> str:
    assert PLAIN in SMALL
    return SMALL.replace(PLAIN, calendar)


def _problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        loads_scenario(text, "s.yaml")
    return [str(p) for p in info.value.problems]


def test_a_phased_calendar_loads_and_maps_rounds() -> None:
    scn = loads_scenario(_with_calendar(PHASED))
    cal = scn.calendar
    assert cal.base == 14 and cal.phase_rounds == {"build-up": (1, 2), "climax": (3, 4)}
    assert cal.round_days(4) == (14, 14, 2, 2)
    assert cal.round_days(6) == (14, 14, 2, 2, 2, 2)  # past the last phase: its length goes on
    start = dt.date(2019, 5, 5)
    # Round 2 is 2019-05-19 … 06-01; round 3 (the climax) 06-02 … 06-03; round 4 06-04 … 06-05.
    days = {start + dt.timedelta(days=k): cal.round_of(start + dt.timedelta(days=k)) for k in (-1, 0, 13, 14, 27, 28, 29, 30, 31, 32)}
    assert list(days.values()) == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5]
    assert "climax 2 × 2 days" in cal.text and "(rates per 14 days)" in cal.text


def test_a_one_length_calendar_is_unchanged() -> None:
    cal = Calendar(start=dt.date(2019, 5, 5), days_per_round=14)
    assert cal.base == 14 and cal.phase_rounds == {} and cal.round_days(3) == (14, 14, 14)
    assert cal.round_of(dt.date(2019, 5, 19)) == 2 and cal.text == "from 2019-05-05 at 14 days per round"


@pytest.mark.parametrize(
    ("calendar", "expected"),
    [
        (PHASED.replace("rounds: 2}", "rounds: 3}"),
         "calendar.phases: the phases' rounds add up to 5, the horizon is 4 (got 5 rounds (2 + 3); expected rounds that sum to the horizon, 4)"),
        (PHASED.replace("id: climax", "id: build-up"),
         "calendar.phases.build-up.id: duplicate phase id (got 'build-up'; expected a phase id used once)"),
        (PHASED.replace("days_per_round: 2,", "days_per_round: 0,"),
         "calendar.phases.climax.days_per_round: out of range (got 0; expected >= 1)"),
        (PHASED.replace("rounds: 2}", "rounds: 0}"), "calendar.phases.climax.rounds: out of range (got 0; expected >= 1)"),
        (PHASED.replace("  start: 2019-05-05", "  start: 2019-05-05\n  days_per_round: 14"),
         "calendar: a calendar needs exactly one of days_per_round, phases (got both)"),
        ("calendar: {start: 2019-05-05}", "calendar: a calendar needs exactly one of days_per_round, phases (got neither)"),
        (PHASED.replace("  start: 2019-05-05", "  start: 2019-05-05\n  base_days: 0"),
         "calendar.base_days: out of range (got 0; expected >= 1)"),
    ],
    ids=["sum", "duplicate", "days", "rounds", "both", "neither", "base"],
)
def test_bad_calendars_are_located(calendar: str, expected: str) -> None:
    problems = _problems(_with_calendar(calendar))
    assert len(problems) == 1, problems
    assert problems[0].startswith("s.yaml:") and problems[0].split(": ", 1)[1] == expected


def test_an_unknown_phase_is_refused_where_it_is_used() -> None:
    text = _with_calendar(PHASED).replace("when: {var: tension, op: ge, value: 2}", "when: {phase: climaks}")
    problems = _problems(text)
    assert len(problems) == 1
    assert problems[0].endswith("payoffs.flow.0.when.phase: unknown calendar phase (got 'climaks'; expected one of build-up, climax)")
    # without phases, no phase exists
    plain = SMALL.replace("when: {var: tension, op: ge, value: 2}", "when: {phase: climax}")
    assert _problems(plain)[0].endswith("(got 'climax'; expected a phase of `calendar.phases` (the scenario has none))")


def test_the_phase_condition_and_its_shorthand() -> None:
    scn = loads_scenario(_with_calendar(PHASED).replace("when: {var: tension, op: ge, value: 2}", "when: {phase: climax}"))
    assert isinstance(scn.payoffs.flow[0].when, PhaseCondition)
    assert parse_condition("phase = climax") == {"phase": "climax"}
    assert parse_condition("phase == climax and tension >= 2") == {"all": [{"phase": "climax"}, {"var": "tension", "op": "ge", "value": 2}]}


def test_validate_exits_2_on_a_bad_calendar(tmp_path, run_cli) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(_with_calendar(PHASED.replace("rounds: 2}", "rounds: 3}")), encoding="utf-8")
    code, out, err = run_cli("validate", p)
    assert code == 2
    assert "calendar.phases: the phases' rounds add up to 5, the horizon is 4" in out + err
    assert "Traceback" not in out + err


@pytest.mark.parametrize(("calendar", "per"), [
    pytest.param(PLAIN, "per round", id="one-length"),
    pytest.param(PHASED, "per 14 days", id="phases"),
    pytest.param("calendar: {start: 2019-05-05, days_per_round: 7, base_days: 14}", "per 14 days", id="base-days"),
])
def test_show_says_which_period_flows_and_rates_are_written_for(tmp_path, run_cli, monkeypatch, calendar: str, per: str) -> None:
    # A flow's value and a `per_round` rate are per base period; under phases a round is worth d/b of
    # it, so "per round" would mislead.
    monkeypatch.setenv("COLUMNS", "250")
    rate = ("  - id: rate\n    metric: {mean_casualties: Blue, per_round: true}\n"
            "    compare: {treatment: [], baseline: [{forbid: {actor: Blue, action: blue_strike}}]}\n    expect: higher\n")
    p = tmp_path / "s.yaml"
    p.write_text(_with_calendar(calendar) + rate, encoding="utf-8")
    code, out, err = run_cli("show", p)
    assert code == 0, err
    rows = [line for line in out.splitlines() if "Red" in line and "tension ≥ 2" in line]
    assert rows and all(per in r for r in rows), rows
    assert f"deaths of Blue {per} at risk" in out


def test_a_list_of_one_wrong_phase_reports_the_phase_only() -> None:
    # pydantic also counts the list as too short (it counts the items that validated): not reported.
    problems = _problems(_with_calendar("calendar:\n  start: 2019-05-05\n  phases: [climax]"))
    assert len(problems) == 1, problems
    assert "calendar.phases.0: wrong type (got 'climax'; expected a mapping)" in problems[0]


def test_show_lists_the_phases_with_their_rounds_dates_and_labels(tmp_path, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    p = tmp_path / "s.yaml"
    p.write_text(_with_calendar(PHASED), encoding="utf-8")
    code, out, err = run_cli("show", p)
    assert code == 0, err
    # 2 rounds of 14 days from 2019-05-05 (to 2019-06-01), then 2 of 2 days (2019-06-02 to 2019-06-05).
    rows = [" ".join(line.replace("│", " ").split()) for line in out.splitlines() if line.startswith("│ build-up") or line.startswith("│ climax")]
    assert rows == ["build-up 1–2 14 2019-05-05 – 2019-06-01 slow", "climax 3–4 2 2019-06-02 – 2019-06-05"], rows
