"""Errors a user can cause. Each is a `ValueError` whose message says where, what and what was expected.

`UserError` is the base the CLI catches (exit status 2, no traceback). Layers subclass it:
`ScenarioError` (scenario files, in `crisislab.scenario`), `DataError` (data files, in
`crisislab.data`), `EfgFormatError` (.efg files), `SolverError` (a solver asked to do something it
cannot, with advice on how to fix it). Files with several problems report them all at once through
`ProblemsError`, one `FILE:LINE: place: message (got X; expected Y)` line each (`problem_line`).

`EnvironmentFault` is not a mistake of the user's: the machine failed the command (a full disk, a
read-only file system, a worker process that died, a cluster that lost its workers). The CLI
prints it as one line and exits with status 3.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SHOWN_PROBLEMS = 100
"""At most this many problems are listed in a message; the rest are counted (`problem_lines`)."""


class UserError(ValueError):
    """A mistake in the user's input; the message is complete and meant to be printed as is."""


class EnvironmentFault(RuntimeError):
    """The environment failed a command that was asked correctly; the message is one complete line."""


class EfgFormatError(UserError):
    """A malformed Gambit `.efg` file; the message starts with `FILE:LINE:`."""


class SolverError(UserError):
    """A solver was asked to do something it cannot; the message says how to fix it."""


def problem_line(
    file: str, line: int | None, place: str, message: str, got: str | None = None, expected: str | None = None
) -> str:
    """One problem as `FILE:LINE: place: message (got X; expected Y)`; parts that are None are left
    out, line breaks in any part are written as `\\n`."""
    where = f"{file}:{line}" if line is not None else file
    text = f"{where}: {place}: {message}"
    details = [f"got {got}"] if got is not None else []
    if expected is not None:
        details.append(f"expected {expected}")
    text += " (" + "; ".join(details) + ")" if details else ""
    return text.replace("\r", "\\r").replace("\n", "\\n")  # one line, whatever the values hold


def problem_lines(problems: list, limit: int = MAX_SHOWN_PROBLEMS) -> list[str]:
    """The first `limit` problems, one line each, then `… and N more problems` if there are more."""
    lines = [str(p) for p in problems[:limit]]
    if len(problems) > limit:
        rest = len(problems) - limit
        lines.append(f"… and {rest:,} more problem{'s' if rest != 1 else ''}")
    return lines


@dataclass(frozen=True)
class FileProblem:
    """One problem in a data file: `line` is 1-based (None for the whole file); `column` is the
    column or field at fault, or a short description of the place when none applies."""

    file: str
    line: int | None
    column: str
    message: str
    got: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        return problem_line(self.file, self.line, self.column, self.message, self.got, self.expected)


class ProblemsError(UserError):
    """Every problem found in one read of one or more files; `problems` is sorted by file, then line.

    Each problem needs `file` and `line` attributes and a `__str__` giving its one-line message.
    The message lists the first `MAX_SHOWN_PROBLEMS` of them and counts the rest; `problems` has all.
    """

    def __init__(self, problems: list) -> None:
        if not problems:
            raise ValueError(f"{type(self).__name__} needs at least one problem")
        self.problems = sorted(problems, key=lambda p: (p.file, p.line if p.line is not None else 0))
        super().__init__("\n".join(problem_lines(self.problems)))
