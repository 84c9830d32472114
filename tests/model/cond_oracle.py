"""A test oracle for conditions: the scenario's condition trees as tagged tuples, and a direct
recursive interpreter of them. `CondProgram` (postfix, as the engines evaluate it) must agree.

    ("true",) | ("var", col, op, value) | ("round", op, value) | ("all", (c, ...))
    | ("any", (c, ...)) | ("not", c) | ("red_line", index, status_code)

A public state is a tuple: the variables, then one red-line status code per red line.
"""

from __future__ import annotations

import operator

import numpy as np

from crisislab.model import CondProgram
from crisislab.model.rules import CMP_NAMES, OP_AND, OP_NOT, OP_OR, OP_RL, OP_ROUND, OP_TRUE, OP_VAR, RL_STATUS_CODES
from crisislab.scenario import _models as M

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


def from_scenario(c, var_index: dict, rl_index: dict) -> tuple:
    """A scenario condition model as a tagged tuple."""
    if isinstance(c, M.VarCondition):
        return ("var", var_index[c.var], c.op, int(c.value))
    if isinstance(c, M.RoundCondition):
        return ("round", c.round.op, int(c.round.value))
    if isinstance(c, M.AllCondition):
        return ("all", tuple(from_scenario(x, var_index, rl_index) for x in c.all_))
    if isinstance(c, M.AnyCondition):
        return ("any", tuple(from_scenario(x, var_index, rl_index) for x in c.any_))
    if isinstance(c, M.NotCondition):
        return ("not", from_scenario(c.not_, var_index, rl_index))
    if isinstance(c, M.RedLineCondition):
        return ("red_line", rl_index[c.red_line], RL_STATUS_CODES[c.is_])
    raise TypeError(f"unknown condition {type(c).__name__}")


def to_program(cond: tuple) -> CondProgram:
    """A tagged tuple (with non-empty all/any lists) as a `CondProgram`."""
    code: list[tuple[int, int, int, int]] = []

    def emit(c: tuple) -> None:
        tag = c[0]
        if tag == "var":
            code.append((OP_VAR, c[1], CMP_NAMES.index(c[2]), c[3]))
        elif tag == "round":
            code.append((OP_ROUND, 0, CMP_NAMES.index(c[1]), c[2]))
        elif tag == "red_line":
            code.append((OP_RL, c[1], 0, c[2]))
        elif tag == "true":
            code.append((OP_TRUE, 0, 0, 0))
        elif tag == "not":
            emit(c[1])
            code.append((OP_NOT, 0, 0, 0))
        else:
            for x in c[1]:
                emit(x)
            if len(c[1]) > 1:
                code.append((OP_AND if tag == "all" else OP_OR, len(c[1]), 0, 0))

    emit(cond)
    return CondProgram(np.array(code, dtype=np.int64))
