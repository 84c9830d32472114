"""Structured scenario problems and the one exception that carries all of them.

A `Problem` is one thing wrong in one scenario file (file, line, field path, message, the value we
got and what was expected); `ScenarioError` bundles every problem found in a load so the user can
fix them all in one pass. Its message is the problems, one per line, in the form
`FILE:LINE: field.path: message (got X; expected Y)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from crisislab.errors import UserError

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
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        text = f"{where}: {self.path or '(top level)'}: {self.message}"
        details = []
        if self.got is not None:
            details.append(f"got {self.got}")
        if self.expected is not None:
            details.append(f"expected {self.expected}")
        if details:
            text += " (" + "; ".join(details) + ")"
        return text


class ScenarioError(UserError):
    """Every problem found in one or more scenario files, reported together.

    `problems` is the list of `Problem` records, sorted by file then line.
    """

    def __init__(self, problems: list[Problem]):
        if not problems:
            raise ValueError("ScenarioError needs at least one problem")
        self.problems: list[Problem] = sorted(
            problems, key=lambda p: (p.file, p.line if p.line is not None else 0)
        )
        super().__init__("\n".join(str(p) for p in self.problems))
