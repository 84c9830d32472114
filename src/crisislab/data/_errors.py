"""Problems found in a data file, and the one exception that carries all of them.

A `DataProblem` is one thing wrong at one place of one file (file, line, column, message, the value
we got and what was expected). `DataError` bundles every problem found in one read so the user can
fix them all in one pass; its message is the problems, one per line, in file order.
"""

from __future__ import annotations

from dataclasses import dataclass

from crisislab.errors import FileProblem, ProblemsError

__all__ = ["DataError", "DataProblem"]


@dataclass(frozen=True)
class DataProblem(FileProblem):
    """One problem in a data file. `line` is 1-based (the header is line 1), or None for the whole
    file; `column` is the CSV column name, or a short description of the place when none applies."""


class DataError(ProblemsError):
    """Every problem found in a data file, reported together; `problems` is in file order."""
