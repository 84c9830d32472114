"""The scenario format's limits: hostile or oversized YAML is one located ScenarioError, quickly.

Where each limit comes from: Python's recursion limit (`sys.getrecursionlimit()`, 1,000) and
ruamel.yaml's C composer (which recurses without a check: 50,000 nested brackets crashed it) for
the depth; Python's limit on converting long digit strings to int (`sys.get_int_max_str_digits()`,
4,300) for the integer length; int64 (2**63 - 1) for the scenario's integers; the memory of the
simulator's inverse-CDF casualty tables (`model/_lower.casualty_cdf`) for the casualty means.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from crisislab.cli._scenario import register
from crisislab.errors import MAX_SHOWN_PROBLEMS
from crisislab.model import lower
from crisislab.scenario import ScenarioError, load_scenario, loads_scenario
from crisislab.scenario._check import MAX_CASUALTY_TABLE, casualty_table_length
from crisislab.scenario._load import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_INT_CHARS,
    MAX_NODES,
)
from crisislab.scenario._models import MAX_INTEGER

ROOT = Path(__file__).resolve().parents[2]
FEARON = (ROOT / "scenarios" / "fearon-audience-costs.yaml").read_text()
FLAGSHIP = (ROOT / "scenarios" / "us-iran-2019-2020.yaml").read_text()


def _problems(text: str, name: str = "f.yaml") -> list[str]:
    with pytest.raises(ScenarioError) as info:
        loads_scenario(text, name)
    return [str(p) for p in info.value.problems]


def _fearon(old: str, new: str) -> str:
    assert old in FEARON, old
    return FEARON.replace(old, new, 1)


def test_the_limits_are_below_what_python_and_int64_allow() -> None:
    assert MAX_DEPTH * 5 < sys.getrecursionlimit()  # pydantic and plain() recurse a few frames a level
    assert MAX_INT_CHARS < sys.get_int_max_str_digits()
    assert MAX_INTEGER * MAX_NODES < 2**63 - 1  # every integer of a file summed stays in int64
    assert MAX_INTEGER < 2**53  # exact as a float64


@pytest.mark.parametrize("text, line, what", [
    ("a: " + "[" * 50_000 + "]" * 50_000 + "\n", 1, "nested too deeply"),
    ("a: " + "{b: " * 50_000 + "1" + "}" * 50_000 + "\n", 1, "nested too deeply"),
    ("".join("  " * i + "k:\n" for i in range(MAX_DEPTH + 50)), MAX_DEPTH + 1, "nested too deeply"),
    ("a: &a [1, *a]\n", 1, "alias *a refers to a node that contains it"),
    ("x: 1\ny: " + "1" * 5001 + "\n", 2, "integer too long"),
    ("x: 1\ny: 0x" + "f" * 5001 + "\n", 2, "integer too long"),
    ("x: 1\ny: !!int '" + "1" * 5001 + "'\n", 2, "integer too long"),
])
def test_hostile_yaml_is_a_located_error(text: str, line: int, what: str) -> None:
    problems = _problems(text)
    assert len(problems) == 1
    assert problems[0].startswith(f"f.yaml:{line}: ") and what in problems[0], problems


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    # nine levels of nine aliases: 9**9 = 387 million nodes once expanded (4.3 GB in 60 s before)
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)
    )
    t0 = time.perf_counter()
    problems = _problems(text)
    assert time.perf_counter() - t0 < 2
    assert "too many values" in problems[0] and "aliases are expanded" in problems[0]


def test_many_aliases_are_refused() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    assert "too many aliases" in _problems(text)[0]


def test_a_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    # 1 M unknown keys (52 MB) took 186 s and 3 GB, and printed a million lines
    with path.open("w") as f:
        f.write(FEARON)
        for i in range(1_000_000):
            f.write(f"unknown_key_{i}: {i}\n")
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert time.perf_counter() - t0 < 2
    assert str(info.value).startswith(f"{path}:1: (top level): file too large")
    assert f"at most {MAX_FILE_BYTES:,} bytes" in str(info.value)


def test_the_problems_printed_are_capped_with_a_count_of_the_rest() -> None:
    text = FEARON + "".join(f"unknown_{i}: {i}\n" for i in range(5_000))
    with pytest.raises(ScenarioError) as info:
        loads_scenario(text, "f.yaml")
    assert len(info.value.problems) == 5_000
    lines = str(info.value).split("\n")
    assert len(lines) == MAX_SHOWN_PROBLEMS + 1
    assert lines[-1] == f"… and {5_000 - MAX_SHOWN_PROBLEMS:,} more problems"


def test_a_file_at_the_node_limit_is_answered_within_seconds() -> None:
    n = (MAX_NODES - 3_000) // 2  # unknown keys: two nodes each, beside the scenario
    text = FEARON + "".join(f"unknown_{i}: {i}\n" for i in range(n))
    t0 = time.perf_counter()
    problems = _problems(text)
    assert len(problems) == n
    assert time.perf_counter() - t0 < 20  # about 2 s on an idle core


@pytest.mark.parametrize("old, new, path", [
    ("rung: 0, available", f"rung: {2**63}, available", "actions.a_back_down.rung"),
    ("{var: stage, op: eq, value: 3}, effects: [{var: stage, set: 5}]",
     f"{{var: stage, op: eq, value: {2**63}}}, effects: [{{var: stage, set: 5}}]", "actions.a_back_down.available.value"),
    ("set: 5}", f"add: {-(2**63) - 1}}}", "actions.a_back_down.effects.0.add"),
    ("set: 5}", f"set: {MAX_INTEGER + 1}}}", "actions.a_back_down.effects.0.set"),
])
def test_integers_beyond_int64_are_validation_errors(old: str, new: str, path: str) -> None:
    problems = _problems(_fearon(old, new))
    assert any(p.startswith(f"f.yaml:54: {path}: out of range") and "-10**12 .. 10**12" in p for p in problems), problems


def test_the_integer_limit_itself_is_accepted() -> None:
    scenario = loads_scenario(_fearon("rung: 0, available", f"rung: {-MAX_INTEGER}, available"), "f.yaml")
    assert lower(scenario).actions[0].rung == -MAX_INTEGER


def test_a_plain_number_is_named_by_its_own_path() -> None:
    """A payoff written as a plain number (shorthand for {value: ...}) is reported at the field the
    file has, not at a `value` key it does not have."""
    problems = _problems(_fearon("concession: {A: 1.0, B: -1.0}", "concession: {A: .inf, B: -1.0}"))
    assert problems == ["f.yaml:85: payoffs.terminal.concession.A: not a finite number (got inf; expected a finite number)"]


def test_a_duplicated_actor_is_listed_once_among_the_known_ones() -> None:
    problems = _problems(_fearon("order: [A, B]", "order: [A, C]").replace("  - id: B\n", "  - id: A\n", 1))
    unknown = [p for p in problems if "order.1: unknown actor" in p]
    assert unknown and unknown[0].endswith("(got 'C'; expected one of A)")


def test_numbers_beyond_the_limit_are_validation_errors() -> None:
    problems = _problems(_fearon('lam: {value: 50.0, assumption: "near best response"}',
                                 'lam: {value: 1e308, assumption: "near best response"}'))
    assert problems == ["f.yaml:49: actors.B.lam.value: out of range (got 1e+308; expected a number within -1e12 .. 1e12)"]


@pytest.mark.parametrize("mean, dispersion", [(1e9, None), (1e6, None), (1e9, 2.0), (1e4, 0.01)])
def test_casualty_distributions_too_wide_to_sample_are_validation_errors(mean: float, dispersion: float | None) -> None:
    # a mean of 1e9 made `simulate` allocate 603 GiB for the casualty table (1e6: 55 s and 5 GB)
    text = _casualty_scenario(mean, dispersion)
    problems = _problems(text)
    assert any("casualty distribution too wide to sample" in p and f"at most {MAX_CASUALTY_TABLE:,} entries" in p
               for p in problems), problems


def _casualty_scenario(mean: float, dispersion: float | None) -> str:
    old = "effects: [{var: stage, set: 4}]"
    assert old in FEARON, "the war action of the Fearon scenario"
    disp = "null" if dispersion is None else repr(dispersion)
    return FEARON.replace(
        old, old + f"\n    consequences: [{{kind: casualties, side: A, mean: {mean!r}, dispersion: {disp}, source: fearon1994}}]", 1
    )


@pytest.mark.parametrize("mean, dispersion", [(90_000.0, None), (1_000.0, 0.3), (5.0, 0.05)])
def test_what_validates_lowers_within_the_table_limit(mean: float, dispersion: float | None) -> None:
    scenario = loads_scenario(_casualty_scenario(mean, dispersion), "f.yaml")
    model = lower(scenario)
    tables = [c for a in model.actions for _, c in a.other_consequences if hasattr(c, "cdf")]
    assert tables and all(t.cdf.size <= MAX_CASUALTY_TABLE for t in tables)


@pytest.mark.parametrize("mean, dispersion", [
    (0.3, None), (5.0, None), (1_000.0, None), (90_000.0, None), (1.0, 0.05), (10.0, 0.3), (2_000.0, 2.0), (5.0, 10.0),
])
def test_the_table_length_bound_is_an_upper_bound(mean: float, dispersion: float | None) -> None:
    from crisislab.model import casualty_cdf

    assert casualty_table_length(mean, dispersion) >= casualty_cdf(mean, dispersion).size


def test_the_calendar_must_end_by_the_year_9999() -> None:
    text = FLAGSHIP.replace("days_per_round: 14", "days_per_round: 99999999", 1)
    assert any("the calendar runs past the year 9999" in p for p in _problems(text))


def test_error_lines_print_without_emoji_or_markup(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(FEARON + "\n" * (100 - FEARON.count("\n") - 1) + "unknown: '[bold]1[/bold]'\n")
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:100: unknown: unknown field 'unknown'" in result.stderr
    assert "💯" not in result.stderr


@pytest.mark.parametrize("value, what", [
    ("2019-02-30", "day is out of range for month"),
    ("!!int abc", "invalid literal for int()"),
    ("!!bool maybe", "cannot read the value"),
    ("0x_", "cannot read the value"),
    ("9999-12-31T23:59:59.9999999+23:59", "cannot read the value"),
])
def test_values_yaml_cannot_build_are_located(value: str, what: str) -> None:
    problems = _problems(f"a: 1\nb: [1, {value}]\n")
    assert len(problems) == 1 and problems[0].startswith("f.yaml:2: (top level): YAML error: ") and what in problems[0], problems
