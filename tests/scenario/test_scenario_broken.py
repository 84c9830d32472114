"""The broken-file suite: every file in broken/ fails with exactly the problems listed in
broken/expected.yaml, and random mutations of a valid file never raise anything but ScenarioError."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from crisislab.scenario import ScenarioError, load_scenario, loads_scenario

HERE = Path(__file__).parent
BROKEN = HERE / "broken"
EXPECTED: dict[str, list[str]] = dict(YAML(typ="safe").load((BROKEN / "expected.yaml").read_text()))
SMALL_TEXT = (HERE / "small.yaml").read_text()


def test_every_broken_file_has_an_expectation() -> None:
    files = {p.stem for p in BROKEN.glob("*.yaml") if p.name != "expected.yaml"}
    assert files == set(EXPECTED)
    assert len(files) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=str)
def test_broken_file(name: str) -> None:
    path = BROKEN / f"{name}.yaml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    got = [str(p).removeprefix(f"{path}:") for p in err.problems]
    assert got == EXPECTED[name]
    assert all(p.file == str(path) and p.line is not None for p in err.problems)
    assert isinstance(err, ValueError)
    # The message is the problems, one per line, each starting with FILE:LINE.
    assert str(err).splitlines() == [str(p) for p in err.problems]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError, match=r"nope\.yaml:1: \(top level\): no such file"):
        load_scenario(path)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="is a directory"):
        load_scenario(tmp_path)


def _mutations(text: str) -> st.SearchStrategy[str]:
    lines = text.splitlines(keepends=True)
    junk = st.sampled_from(["\x00", "\xff", ": :", "- ", "{", "]", "\t", "&a", "*a", "!!binary", "~", "---\n", "'", '"', "%"])
    values = st.sampled_from(["null", "[]", "{}", "-1", "1e400", "true", "abc", "0.5", "[1, 2]", "{a: 1}", "''", "9999999999999999999999"])

    @st.composite
    def mutate(draw: st.DrawFn) -> str:
        out = list(lines)
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(out) - 1))
            op = draw(st.sampled_from(["delete", "value", "junk", "swap", "indent", "dup"]))
            line = out[i]
            if op == "delete":
                out.pop(i)
            elif op == "value" and ":" in line:
                head = line.split(":", 1)[0]
                out[i] = f"{head}: {draw(values)}\n"
            elif op == "junk":
                pos = draw(st.integers(0, len(line)))
                out[i] = line[:pos] + draw(junk) + line[pos:]
            elif op == "swap":
                j = draw(st.integers(0, len(out) - 1))
                out[i], out[j] = out[j], out[i]
            elif op == "indent":
                out[i] = "  " + line
            else:
                out.insert(i, line)
            if not out:
                break
        return "".join(out)

    return mutate()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations(SMALL_TEXT))
def test_mutations_only_raise_scenario_error(text: str) -> None:
    try:
        loads_scenario(text, "mutant.yaml")
    except ScenarioError as err:
        assert err.problems
        for p in err.problems:
            assert p.file == "mutant.yaml" and p.line is not None and p.line >= 1


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_scenario_error(data: bytes) -> None:
    with pytest.raises(ScenarioError):
        loads_scenario(data, "junk.yaml")


SWAPPABLE = ["Blue", "Red", "Proxy", "tension", "blue_deaths", "war", "stalemate", "blue_strike", "resolute", "hardline"]


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(SWAPPABLE), st.sampled_from(SWAPPABLE))
def test_swapped_ids_only_raise_scenario_error(a: str, b: str) -> None:
    text = SMALL_TEXT.replace(a, "\0TMP").replace(b, a).replace("\0TMP", b)
    try:
        loads_scenario(text, "swapped.yaml")
    except ScenarioError as err:
        assert all(p.line is not None for p in err.problems)
