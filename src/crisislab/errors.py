"""Errors a user can cause. Each is a `ValueError` whose message says where, what and what was expected.

`UserError` is the base the CLI catches (exit status 2, no traceback). Layers subclass it:
`ScenarioError` (scenario files), `EfgFormatError` (.efg files), `DataError` (data files),
`SolverError` (a solver asked to do something it cannot, with advice on how to fix it).
"""

from __future__ import annotations


class UserError(ValueError):
    """A mistake in the user's input; the message is complete and meant to be printed as is."""


class EfgFormatError(UserError):
    """A malformed Gambit `.efg` file; the message starts with `FILE:LINE:`."""


class SolverError(UserError):
    """A solver was asked to do something it cannot; the message says how to fix it."""
