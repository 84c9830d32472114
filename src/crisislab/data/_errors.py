"""Problems found in a data file, and the one exception that carries all of them.

A `DataProblem` is one thing wrong at one place of one file (file, line, column, message, the value
we got and what was expected). `DataError` bundles every problem found in one read so the user can
fix them all in one pass; its message is the problems, one per line, in file order.
"""

from __future__ import annotations

from dataclasses import dataclass

from crisislab.errors import UserError

__all__ = ["DataError", "DataProblem"]


@dataclass(frozen=True)
class DataProblem:
    """One problem in a data file. `line` is 1-based (the header is line 1), or None for the whole
    file; `column` is the CSV column name, or a short description of the place when none applies."""

    file: str
    line: int | None
    column: str
    message: str
    got: str | None = None
    expected: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        text = f"{where}: {self.column}: {self.message}"
        details = []
        if self.got is not None:
            details.append(f"got {self.got}")
        if self.expected is not None:
            details.append(f"expected {self.expected}")
        if details:
            text += " (" + "; ".join(details) + ")"
        return text


class DataError(UserError):
    """Every problem found in a data file, reported together; `problems` is in file order."""

    def __init__(self, problems: list[DataProblem]):
        if not problems:
            raise ValueError("DataError needs at least one problem")
        self.problems: list[DataProblem] = sorted(
            problems, key=lambda p: (p.file, p.line if p.line is not None else 0)
        )
        super().__init__("\n".join(str(p) for p in self.problems))
