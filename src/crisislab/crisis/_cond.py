"""Evaluation of the crisis engine's tagged-tuple conditions on one public state.

Compilation enumerates reachable public states one by one (each is a tuple of ints: the scenario's
state variables, then one red-line status code per red line, then one "own moves left" counter per
red line), so conditions are evaluated per state here; the hot paths (solving) never call this.
"""

from __future__ import annotations

import operator

__all__ = ["OPS", "RL_ANSWERED", "RL_FAILED", "RL_INACTIVE", "RL_PENDING", "evaluate", "round_tests"]

# Same codes as the simulator (`crisislab.simulate._spec.RL_*`).
RL_INACTIVE, RL_PENDING, RL_ANSWERED, RL_FAILED = 0, 1, 2, 3
RL_STATUS_CODES = {"inactive": RL_INACTIVE, "pending": RL_PENDING, "answered": RL_ANSWERED, "failed": RL_FAILED}

OPS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def evaluate(cond: tuple | None, state: tuple[int, ...], round_: int, n_vars: int) -> bool:
    """True if `cond` holds at `state` in round `round_` (1-based). None means always."""
    if cond is None:
        return True
    tag = cond[0]
    if tag == "var":
        return OPS[cond[2]](state[cond[1]], cond[3])
    if tag == "round":
        return OPS[cond[1]](round_, cond[2])
    if tag == "all":
        return all(evaluate(c, state, round_, n_vars) for c in cond[1])
    if tag == "any":
        return any(evaluate(c, state, round_, n_vars) for c in cond[1])
    if tag == "not":
        return not evaluate(cond[1], state, round_, n_vars)
    if tag == "red_line":
        return state[n_vars + cond[1]] == cond[2]
    if tag == "true":
        return True
    raise ValueError(f"unknown condition tag {tag!r}")


def round_tests(cond: tuple | None) -> set:
    """The (op, value) round comparisons anywhere inside the condition."""
    if cond is None:
        return set()
    tag = cond[0]
    if tag == "round":
        return {(cond[1], cond[2])}
    if tag in ("all", "any"):
        out: set = set()
        for c in cond[1]:
            out |= round_tests(c)
        return out
    if tag == "not":
        return round_tests(cond[1])
    return set()
