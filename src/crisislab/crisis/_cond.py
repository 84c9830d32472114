"""Evaluation of the crisis engine's tagged-tuple conditions on one public state.

Compilation enumerates reachable public states one by one (each is a tuple of ints: the scenario's
state variables, then one red-line status code per red line, then one "own moves left" counter per
red line), so conditions are evaluated per state here; the hot paths (solving) never call this.
"""

from __future__ import annotations

import operator

__all__ = ["OPS", "RL_ANSWERED", "RL_FAILED", "RL_INACTIVE", "RL_PENDING", "compile_cond", "evaluate", "round_tests"]

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


def _always(state: tuple[int, ...], round_: int) -> bool:
    return True


def compile_cond(cond: tuple | None, n_vars: int):
    """`evaluate` specialised to one condition: a closure `f(state, round_) -> bool` with the same
    result as `evaluate(cond, state, round_, n_vars)`. Compilation tests each condition at ~10^5
    states, so the tagged tuple is interpreted once here rather than at every state."""
    if cond is None:
        return _always
    tag = cond[0]
    if tag == "var":
        op, col, value = OPS[cond[2]], cond[1], cond[3]
        return lambda s, r: op(s[col], value)
    if tag == "round":
        op, value = OPS[cond[1]], cond[2]
        return lambda s, r: op(r, value)
    if tag == "all":
        parts = tuple(compile_cond(c, n_vars) for c in cond[1])
        return lambda s, r: all(f(s, r) for f in parts)
    if tag == "any":
        parts = tuple(compile_cond(c, n_vars) for c in cond[1])
        return lambda s, r: any(f(s, r) for f in parts)
    if tag == "not":
        inner = compile_cond(cond[1], n_vars)
        return lambda s, r: not inner(s, r)
    if tag == "red_line":
        col, code = n_vars + cond[1], cond[2]
        return lambda s, r: s[col] == code
    if tag == "true":
        return _always

    def unknown(s: tuple[int, ...], r: int) -> bool:  # raised when reached, like `evaluate`
        raise ValueError(f"unknown condition tag {tag!r}")

    return unknown
