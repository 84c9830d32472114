"""Reading scenario files: YAML with line numbers -> pydantic models -> semantic checks.

The YAML is parsed with ruamel.yaml's round-trip loader, which remembers the line of every mapping
key and list item; the tree is then validated by `_scenario.validate_tree`, which copies it into
plain Python data for pydantic and, when validation or the semantic checks fail, walks each error's
location (a tuple of field names and list indices) through the original tree to find its line and
to name it by id (`_locate`). Every problem of a file is collected and raised as one
`ScenarioError`; nothing a user can write makes this module raise anything else.

Before any of that, the text is checked against the limits below in one pass over the parser's
events (which is iterative: nothing recursive has run yet): its size, its nesting depth, its
aliases (how many, none that contains itself, and the size of the tree once they are expanded, as
`plain` copies them), and the length of its integers. A file beyond a limit is one located
`ScenarioError`, never a `RecursionError`, a crash of the C parser or an exhausted memory.

`_pydantic_problem`, `validate_data`, `data_issues`, `locate` and `describe` are re-exported from
the modules that define them, for the callers that import them from here.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.reader import ReaderError

from crisislab.scenario._derived import data_issues
from crisislab.scenario._errors import Problem, ScenarioError
from crisislab.scenario._locate import describe, locate
from crisislab.scenario._locate import pydantic_problem as _pydantic_problem
from crisislab.scenario._scenario import Scenario, validate_data, validate_tree

__all__ = [
    "MAX_ALIASES", "MAX_DEPTH", "MAX_FILE_BYTES", "MAX_INT_CHARS", "MAX_NODES",
    "load_scenario", "loads_scenario", "validate_data", "data_issues", "locate", "describe",
]

# Limits of a scenario file (docs/scenario-format.md, "Limits"). The flagship is 42 KB, nests 9
# levels deep, has 3,300 YAML nodes and no alias; each limit is six or more times that and low enough
# that a file at the limit still loads (or is refused with every problem) in a few seconds: the
# round-trip loader that finds lines reads about 12,000 nodes a second.
MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 100  # nested mappings and lists; Python's recursion limit (1,000) is ten times deeper
MAX_ALIASES = 1_000  # uses of `*anchor`
MAX_NODES = 20_000  # scalars, mappings and lists once every alias is expanded (an alias bomb)
MAX_INT_CHARS = 100  # characters of an integer; Python refuses to read more than 4,300 digits
# (sys.get_int_max_str_digits) and the scenario format refuses integers beyond ±10**12 anyway

# The integer forms of YAML 1.1 and 1.2 that ruamel.yaml reads: decimal, 0x / 0o / 0b, 1:20:30.
_INTEGER = re.compile(r"[-+]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*(:[0-9_]+)*)\Z")


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
        label = "YAML error" if isinstance(exc, ConstructorError) else "YAML syntax error"
        return Problem(filename, line, "", f"{label}: {what or type(exc).__name__}")
    if isinstance(exc, ReaderError):
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        return Problem(filename, line, "", f"not a text file: {exc.reason}",
                       got=f"character {exc.character!r}" if not isinstance(exc.character, int) else f"byte {exc.character:#04x}",
                       expected="printable UTF-8 text")
    return Problem(filename, 1, "", f"YAML error: {exc}")


def _limit_problem(filename: str, event: Any, message: str, got: str | None = None,
                   expected: str | None = None) -> ScenarioError:
    mark = getattr(event, "start_mark", None)
    line = mark.line + 1 if mark is not None else 1
    return ScenarioError([Problem(filename, line, "", message, got=got, expected=expected)])


def _scan(text: str, filename: str, pure: bool) -> None:
    """Check the limits on the parser's events; ScenarioError at the first one exceeded.

    A YAML syntax error ends the scan quietly: the loader reports it with its line.
    """
    depth = aliases = nodes = 0
    counts: list[int] = [0]  # expanded nodes in each open collection (the document at the bottom)
    open_anchors: list[Any] = [None]
    sizes: dict[Any, int] = {}  # expanded nodes of each closed anchored node
    for event in YAML(typ="safe", pure=pure).parse(text):
        cls = type(event)
        if cls is ScalarEvent:
            n = 1
            value = event.value
            if (len(value) > MAX_INT_CHARS and (not event.style or (event.tag or "").endswith(":int"))
                    and _INTEGER.match(value)):
                raise _limit_problem(filename, event, "integer too long", got=f"{len(value):,} characters",
                                     expected=f"at most {MAX_INT_CHARS} (integers in a scenario lie within ±10**12)")
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif cls is AliasEvent:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _limit_problem(filename, event, "too many aliases", got=f"more than {MAX_ALIASES:,}",
                                     expected=f"at most {MAX_ALIASES:,} uses of *anchor")
            if event.anchor in open_anchors:
                raise _limit_problem(filename, event, f"alias *{event.anchor} refers to a node that contains it",
                                     expected="an alias to a node defined before it: a scenario is a tree")
            n = sizes.get(event.anchor, 1)
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            depth += 1
            if depth > MAX_DEPTH:
                raise _limit_problem(filename, event, "nested too deeply", got=f"more than {MAX_DEPTH} levels",
                                     expected=f"at most {MAX_DEPTH} nested mappings and lists")
            nodes += 1
            counts.append(1)
            open_anchors.append(event.anchor)
            continue
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            depth -= 1
            n = counts.pop()
            anchor = open_anchors.pop()
            if anchor is not None:
                sizes[anchor] = n
            counts[-1] += n
            continue
        else:
            continue
        counts[-1] += n
        nodes += n
        if nodes > MAX_NODES:
            raise _limit_problem(filename, event, "too many values", got=f"more than {MAX_NODES:,}"
                                 + (" once its aliases are expanded" if aliases else ""),
                                 expected=f"at most {MAX_NODES:,} scalars, mappings and lists"
                                 + (", aliases counted as copies" if aliases else ""))


def check_limits(text: str, filename: str) -> None:
    """Raise a located ScenarioError if `text` exceeds a limit of the scenario format (size, depth,
    aliases, expanded size, integer length); runs no recursive code."""
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError([Problem(filename, 1, "", "file too large", got=f"{len(text):,} characters",
                                     expected=f"at most {MAX_FILE_BYTES:,} bytes")])
    # libyaml's parser (iterative, fast) first; if it stops at a syntax error, the pure-Python
    # parser, which is the one the round-trip loader below uses and may read further.
    for pure in (False, True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # reused anchors, which YAML allows (an alias takes the latest)
                _scan(text, filename, pure)
            return
        except ScenarioError:
            raise
        except Exception:  # noqa: BLE001, S112 - a syntax error: the loader locates it
            continue


class _Constructor(RoundTripConstructor):
    """The round-trip constructor, with a value it cannot build (`2019-02-30`, `!!int abc`,
    `!!bool maybe`) reported as a YAML error at the value's line instead of a bare exception."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (YAMLError, RecursionError):
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to build a value is the file's
            tag = f" {node.tag}" if getattr(node, "tag", None) and not str(node.tag).startswith("tag:yaml.org") else ""
            raise ConstructorError(
                None, None, f"cannot read the value{tag}: {exc or type(exc).__name__}", node.start_mark
            ) from None


def _parse(text: str, filename: str) -> Any:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # reused anchors, which YAML allows
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
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError([Problem(filename, 1, "", "file too large", got=f"{len(text):,} bytes",
                                     expected=f"at most {MAX_FILE_BYTES:,} bytes")])
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
    check_limits(text, filename)
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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return YAML(typ="safe", pure=False).load(text)
    except Exception:  # noqa: BLE001 - any failure means "use the slow path", which explains it
        return None


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and check the scenario file at `path`; ScenarioError (file, line, path) on any problem."""
    filename = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # no more than that is read, however large the file
            if len(raw) > MAX_FILE_BYTES:
                size = os.fstat(f.fileno()).st_size
                raise ScenarioError([Problem(filename, 1, "", "file too large",
                                             got=f"{size:,} bytes" if size > MAX_FILE_BYTES else f"more than {MAX_FILE_BYTES:,} bytes",
                                             expected=f"at most {MAX_FILE_BYTES:,} bytes")])
    except ScenarioError:
        raise
    except FileNotFoundError:
        raise ScenarioError([Problem(filename, 1, "", "no such file", expected="an existing scenario file")]) from None
    except IsADirectoryError:
        raise ScenarioError([Problem(filename, 1, "", "is a directory", expected="a scenario file")]) from None
    except OSError as exc:
        raise ScenarioError([Problem(filename, 1, "", f"cannot read the file: {exc.strerror or exc}")]) from None
    except ValueError as exc:  # e.g. a NUL character in the path
        raise ScenarioError([Problem(filename, 1, "", f"cannot open the file: {exc}")]) from None
    return loads_scenario(raw, filename)


def locate_in_file(path: str | os.PathLike[str], loc: tuple[Any, ...]) -> tuple[int | None, str]:
    """Line (None if unknown) and id-addressed field path of `loc` (positions, as the checks give
    them: `("claims", 1, "compare", "baseline")`) in the scenario file at `path`, for messages about
    a file that loaded (e.g. `validate`'s warnings): `(95, "claims.c2.compare.baseline")`."""
    with open(path, "rb") as f:
        text = f.read(MAX_FILE_BYTES + 1).decode("utf-8", errors="replace").removeprefix("\ufeff")
    try:
        tree = _parse(text, str(path))
    except ScenarioError:
        tree = None
    return locate(tree, loc)

