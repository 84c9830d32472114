"""Reading scenario files: YAML with line numbers -> pydantic models -> semantic checks.

The YAML is parsed with ruamel.yaml's round-trip loader, which remembers the line of every mapping
key and list item; the tree is then validated by `_scenario.validate_tree`, which copies it into
plain Python data for pydantic and, when validation or the semantic checks fail, walks each error's
location (a tuple of field names and list indices) through the original tree to find its line and
to name it by id (`_locate`). Every problem of a file is collected and raised as one
`ScenarioError`; nothing a user can write makes this module raise anything else.

`_pydantic_problem`, `validate_data`, `data_issues`, `locate` and `describe` are re-exported from
the modules that define them, for the callers that import them from here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from crisislab.scenario._derived import data_issues
from crisislab.scenario._errors import Problem, ScenarioError
from crisislab.scenario._locate import describe, locate
from crisislab.scenario._locate import pydantic_problem as _pydantic_problem
from crisislab.scenario._scenario import Scenario, validate_data, validate_tree

__all__ = ["load_scenario", "loads_scenario", "validate_data", "data_issues", "locate", "describe"]


def _yaml_problem(exc: YAMLError, text: str, filename: str) -> Problem:
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        context = str(exc.context) if exc.context else ""
        if context and exc.context_mark is not None and mark is not exc.context_mark and exc.context_mark.line + 1 != line:
            context += f" started on line {exc.context_mark.line + 1}"
        what = ": ".join(p for p in (context, str(exc.problem) if exc.problem else "") if p)
        if type(exc).__name__ == "DuplicateKeyError":
            problem = str(exc.problem)
            key = problem.split('"')[1] if problem.count('"') >= 2 else None
            return Problem(filename, line, "", "duplicate key", got=key, expected="each key once per mapping")
        return Problem(filename, line, "", f"YAML syntax error: {what or type(exc).__name__}")
    if isinstance(exc, ReaderError):
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        return Problem(filename, line, "", f"not a text file: {exc.reason}",
                       got=f"character {exc.character!r}" if not isinstance(exc.character, int) else f"byte {exc.character:#04x}",
                       expected="printable UTF-8 text")
    return Problem(filename, 1, "", f"YAML error: {exc}")


def _parse(text: str, filename: str) -> Any:
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except YAMLError as exc:
        raise ScenarioError([_yaml_problem(exc, text, filename)]) from None
    except RecursionError:
        raise ScenarioError([Problem(filename, 1, "", "YAML nested too deeply")]) from None


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def loads_scenario(text: str | bytes, filename: str = "<string>") -> Scenario:
    """Parse and check a scenario from YAML text; ScenarioError lists every problem with its line."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = text.count(b"\n", 0, exc.start) + 1
            raise ScenarioError(
                [Problem(filename, line, "", "not UTF-8 text", got=f"byte {text[exc.start]:#04x}", expected="a UTF-8 YAML file")]
            ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise ScenarioError([Problem(filename, 1, "", "the file is empty", expected="a scenario mapping (crisislab: 1, id, ...)")])
    # Fast path: libyaml-based safe loader (about 8x faster than the round-trip loader on the
    # flagship). Line numbers are only needed when something is wrong, so any failure falls back
    # to the round-trip loader, which reports every problem with its line.
    fast = _fast_parse(text)
    if isinstance(fast, dict):
        try:
            return validate_tree(fast, filename)
        except ScenarioError:
            pass
    return validate_tree(_parse(text, filename), filename)


def _fast_parse(text: str) -> Any:
    try:
        return YAML(typ="safe", pure=False).load(text)
    except Exception:  # noqa: BLE001 - any failure means "use the slow path", which explains it
        return None


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and check the scenario file at `path`; ScenarioError (file, line, path) on any problem."""
    filename = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ScenarioError([Problem(filename, 1, "", "no such file", expected="an existing scenario file")]) from None
    except IsADirectoryError:
        raise ScenarioError([Problem(filename, 1, "", "is a directory", expected="a scenario file")]) from None
    except OSError as exc:
        raise ScenarioError([Problem(filename, 1, "", f"cannot read the file: {exc.strerror}")]) from None
    return loads_scenario(raw, filename)
