"""Mutants of crisislab's inputs and the outcome of reading each one.

Three kinds of input: the bundled scenarios (`scenarios/*.yaml`), every `.efg` file under `tests/`
and the bundled timeline (`data/*.csv`). A mutant is a seed file changed by a few random edits,
either on the text (delete, duplicate or swap spans and lines, insert hostile tokens, replace
numbers by extreme ones, truncate, flip bytes) or, for YAML, on the loaded tree (replace, delete or
nest a node, add unknown keys, aliases, huge lists). Everything is drawn from one `random.Random`,
so a mutant is reproduced by its kind, seed file and seed.

`run_case` reads a mutant as the CLI would and classifies the result:

- `valid`: read without error (and, for a scenario, lowered to its model — casualty tables built,
  effects composed into int64 — for a game, a finite payoff range, which the solvers divide by);
- `located`: a `crisislab.errors.UserError` whose every line names the file (`FILE:LINE: ...` or
  `FILE: ...`), or the closing `… and N more problems`;
- `failure`: anything else (another exception, an unlocated message), with the traceback's last line.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("scenario", "efg", "timeline")
# Mutants are cut to this size: twice the largest file any reader accepts (the .efg reader's
# 8 MiB), so that building and writing a mutant costs less than reading it.
MAX_MUTANT_CHARS = 16 << 20

# Tokens that have broken readers: huge or out-of-range numbers, YAML syntax and tags, control
# characters, markup, brackets that nest.
HOSTILE = (
    "9" * 5001, "1" * 23, str(2**63), str(-(2**63) - 1), str(2**40), "100000000000", "1e400", "-1e308", "1e308",
    "10" + "0" * 400, "1e999999999", "0x" + "f" * 300, "0o777777777777777777777777", "0b" + "1" * 200,
    "nan", ".nan", ".inf", "-.inf", "inf", "1/0", "0/0", "-0", "1e-400", "3.14.15", "1_000", "190:20:30",
    "&a", "*a", "*b", "&a [1, *a]", "<<: *a", "!!python/object:os.system", "!!int", "!!float", "!!binary",
    "!!set", "!!omap", "? ", ": ", "- ", "---", "...", "%YAML 1.1", "~", "null", "true", "yes", "2019-13-45",
    "[" * 200, "{" * 200, "]", "}", "{", "[", ",", '"', "'", "\\", "#", "|", ">", "\t", "\r", "\x00", "\x1b[31m",
    "\ufeff", "\u2028", "\x85", "💯", ":100:", "[bold]x[/bold]", "[/]", "\n" * 3, " " * 50, "p", "c", "t", "EFG",
)


def seed_files(kind: str) -> list[Path]:
    """The files whose mutants are read, sorted."""
    if kind == "scenario":
        return sorted((ROOT / "scenarios").glob("*.yaml"))
    if kind == "efg":
        return sorted((ROOT / "tests").rglob("*.efg"))
    if kind == "timeline":
        return sorted((ROOT / "data").glob("*.csv"))
    raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


# --------------------------------------------------------------------------------------------
# Mutation
# --------------------------------------------------------------------------------------------


def _span(rng: random.Random, text: str) -> tuple[int, int]:
    i = rng.randrange(len(text) + 1)
    return i, min(len(text), i + rng.choice((1, 2, 5, 20, 100, 1000)))


def _text_edit(rng: random.Random, text: str) -> str:
    op = rng.randrange(11)
    if not text:
        return rng.choice(HOSTILE)
    i, j = _span(rng, text)
    if op == 0:  # delete a span
        return text[:i] + text[j:]
    if op == 1:  # duplicate a span
        return text[:j] + text[i:j] + text[j:]
    if op == 2:  # insert a hostile token
        return text[:i] + rng.choice(HOSTILE) + text[i:]
    if op == 3:  # replace a number by an extreme one
        import re

        nums = [m.span() for m in re.finditer(r"-?\d+(\.\d+)?(e-?\d+)?", text)]
        if nums:
            a, b = rng.choice(nums)
            return text[:a] + rng.choice(HOSTILE[:30]) + text[b:]
        return text
    if op == 4:  # swap two lines
        lines = text.splitlines(keepends=True)
        a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[a], lines[b] = lines[b], lines[a]
        return "".join(lines)
    if op == 5:  # repeat a line many times
        lines = text.splitlines(keepends=True)
        k = rng.randrange(len(lines))
        times = min(rng.choice((2, 10, 1000, 20000)), 1 + MAX_MUTANT_CHARS // max(1, len(lines[k])))
        lines[k:k + 1] = [lines[k]] * times
        return "".join(lines)
    if op == 6:  # truncate
        return text[:i]
    if op == 7:  # flip a character
        return text[:i] + chr(rng.randrange(0x110000) if rng.random() < 0.2 else rng.randrange(128)) + text[i + 1:]
    if op == 8:  # delete a line
        lines = text.splitlines(keepends=True)
        del lines[rng.randrange(len(lines))]
        return "".join(lines)
    if op == 9:  # deep nesting around a span
        d = rng.choice((10, 150, 5000, 60000))
        return text[:i] + "[" * d + text[i:j] + "]" * d + text[j:]
    # replace a word by another word of the file (ids, keys)
    words = text.split()
    if len(words) > 1:
        a, b = rng.choice(words), rng.choice(words)
        return text.replace(a, b, 1)
    return text


_INTERESTING_VALUES: tuple[Any, ...] = (
    None, True, 0, -1, 1, 2**63, -(2**63) - 1, 10**12 + 1, 10**30, 1e308, -1e308, 1e9, 1e6, 0.5, -0.0, "", "x", "US",
    [], {}, [1, 2], {"a": 1}, "1/3", "2019-01-01", [[[[[]]]]],
)


def _walk(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_walk(v, path + (k,)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_walk(v, path + (i,)))
    return out


def _tree_edit(rng: random.Random, tree: Any) -> Any:
    paths = _walk(tree)
    path = rng.choice(paths)
    if not path:
        return tree
    parent = tree
    for seg in path[:-1]:
        parent = parent[seg]
    key = path[-1]
    op = rng.randrange(7)
    if op == 0:
        parent[key] = rng.choice(_INTERESTING_VALUES)
    elif op == 1:
        del parent[key]
    elif op == 2:
        nested: Any = parent[key]
        for _ in range(rng.choice((2, 50, 120))):
            nested = rng.choice(([nested], {"all": [nested]}, {"not": nested}))
        parent[key] = nested
    elif op == 3 and isinstance(parent, dict):
        for n in range(rng.choice((1, 5, 200, 20000))):
            parent[f"unknown_{n}"] = n
    elif op == 4 and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
        parent[key] = parent[key] * rng.choice((-1, 10**6, 10**13, 2**64, 1e300))
    elif op == 5 and isinstance(parent, list):
        parent.extend([parent[key]] * rng.choice((1, 10, 1000)))
    else:
        parent[key] = rng.choice(_INTERESTING_VALUES)
    return tree


def mutate(kind: str, text: str, rng: random.Random) -> str:
    """`text` changed by one to four random edits (on the YAML tree for some scenario mutants)."""
    if kind == "scenario" and rng.random() < 0.35:
        from io import StringIO

        from ruamel.yaml import YAML

        tree = YAML(typ="safe").load(text)
        for _ in range(rng.randint(1, 3)):
            tree = _tree_edit(rng, tree)
        out = StringIO()
        yaml = YAML(typ="safe")
        yaml.default_flow_style = rng.random() < 0.5
        if rng.random() < 0.3:
            yaml.representer.ignore_aliases = lambda data: False
        try:
            yaml.dump(tree, out)
        except Exception:  # noqa: BLE001 - an unrepresentable tree: fall back to a text edit
            return _text_edit(rng, text)
        text = out.getvalue()
        return (_text_edit(rng, text) if rng.random() < 0.3 else text)[:MAX_MUTANT_CHARS]
    for _ in range(rng.randint(1, 4)):
        text = _text_edit(rng, text)[:MAX_MUTANT_CHARS]
    return text


def make_case(kind: str, seed: int) -> tuple[str, str]:
    """(seed file name, mutant text) for `seed` (the seed file is chosen by the seed too)."""
    rng = random.Random(f"{kind}:{seed}")
    files = seed_files(kind)
    path = rng.choice(files)
    return path.name, mutate(kind, path.read_text(encoding="utf-8"), rng)


# --------------------------------------------------------------------------------------------
# Reading a mutant and classifying the outcome
# --------------------------------------------------------------------------------------------

_FLAGSHIP: Any = None


def _flagship() -> Any:
    global _FLAGSHIP
    if _FLAGSHIP is None:
        from crisislab.scenario import load_scenario

        _FLAGSHIP = load_scenario(ROOT / "scenarios" / "us-iran-2019-2020.yaml")
    return _FLAGSHIP


def _read(kind: str, path: str) -> None:
    if kind == "scenario":
        from crisislab.model import lower
        from crisislab.scenario import load_scenario

        lower(load_scenario(path))
    elif kind == "efg":
        from crisislab.efg import read_efg

        game = read_efg(path)
        if not math.isfinite(game.payoff_range):
            raise AssertionError(f"accepted a game whose payoff range is {game.payoff_range}")
    else:
        from crisislab.data import load_timeline

        load_timeline(path, _flagship())


def _located(message: str, path: str) -> bool:
    lines = [ln for ln in message.split("\n") if ln.strip()]
    return bool(lines) and all(
        ln.startswith(path + ":") or (ln.startswith("… and ") and ln.endswith((" more problem", " more problems"))) for ln in lines
    )


def run_case(kind: str, text: str, directory: str | None = None) -> tuple[str, str]:
    """Write `text` to a file of the right suffix, read it as crisislab does: (outcome, detail)."""
    from crisislab.errors import UserError

    suffix = {"scenario": ".yaml", "efg": ".efg", "timeline": ".csv"}[kind]
    fd, path = tempfile.mkstemp(suffix=suffix, dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(text)
        try:
            _read(kind, path)
        except UserError as exc:
            message = str(exc)
            if _located(message, path):
                return "located", message.split("\n")[0].replace(path, "FILE")[:300]
            return "failure", "unlocated: " + message.replace(path, "FILE")[:300]
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            return "failure", last.replace(path, "FILE")[:300]
        return "valid", ""
    finally:
        os.unlink(path)
