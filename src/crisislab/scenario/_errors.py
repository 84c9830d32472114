"""Structured scenario problems and the one exception that carries all of them.

A `Problem` is one thing wrong in one scenario file (file, line, field path, message, the value we
got and what was expected); `ScenarioError` bundles every problem found in a load so the user can
fix them all in one pass. Its message is the problems, one per line, in the form
`FILE:LINE: field.path: message (got X; expected Y)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from crisislab.errors import ProblemsError, problem_line

__all__ = ["Problem", "ScenarioError"]


@dataclass(frozen=True)
class Problem:
    """One problem in a scenario file.

    `line` is 1-based, or None when the scenario was not read from text (e.g. built by
    `with_overrides`). `path` is the field path with id-keyed lists addressed by id
    (`actors.US.types.resolute.prior`); the empty string means the top level.
    """

    file: str
    line: int | None
    path: str
    message: str
    got: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        return problem_line(self.file, self.line, self.path or '(top level)', self.message, self.got, self.expected)


class ScenarioError(ProblemsError):
    """Every problem found in one or more scenario files, reported together.

    `problems` is the list of `Problem` records, sorted by file then line.
    """
