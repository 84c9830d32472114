"""Conditions as data: a small postfix program, evaluated over many runs at once, per run in the
compiled kernel, or per public state in the crisis compiler."""

from __future__ import annotations

import operator
from collections.abc import Callable

import numpy as np

from crisislab.model.rules import OP_AND, OP_NOT, OP_OR, OP_RL, OP_ROUND, OP_TRUE, OP_VAR

__all__ = ["CondProgram", "StateTest", "compare", "state_test"]

# Comparison functions in the order of `rules.CMP_NAMES`.
_CMP_FUNCS = (np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal)
_CMP_SCALAR = (operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge)

# f(state, round_) -> bool on one public state (a tuple: variables, then red-line statuses, ...).
StateTest = Callable[[tuple, int], bool]


def _always(state: tuple, round_: int) -> bool:
    return True


class CondProgram:
    """A condition as a postfix program.

    `code`: read-only int64 array of shape `(n_instr, 4)`, rows `(op, a, b, c)` with the opcodes
    of `crisislab.model.rules`: `OP_VAR` pushes `state[a] <cmp b> c`; `OP_ROUND` pushes
    `round <cmp b> c`; `OP_RL` pushes `status[a] == c` (red line a, a status code `RL_*`);
    `OP_AND`/`OP_OR` pop `a` values and push their conjunction/disjunction; `OP_NOT` negates the
    top; `OP_TRUE` pushes True. Rounds are 1-based.

    The same program is evaluated three ways: called (`cond(state, round_, rl_status)`) over all
    runs at once with numpy, per run inside the compiled simulation kernel (which cannot call
    Python closures: that is why conditions are data), and per public state by the crisis
    compiler (`state_test`).
    """

    __slots__ = ("code",)

    def __init__(self, code: np.ndarray):
        arr = np.ascontiguousarray(np.asarray(code, dtype=np.int64).reshape(-1, 4))
        arr.setflags(write=False)
        self.code = arr

    def __repr__(self) -> str:
        return f"CondProgram({self.code.tolist()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CondProgram) and np.array_equal(self.code, other.code)

    def __hash__(self) -> int:
        return hash(self.code.tobytes())

    def __getstate__(self):
        return self.code

    def __setstate__(self, state) -> None:
        arr = np.ascontiguousarray(np.asarray(state, dtype=np.int64).reshape(-1, 4))
        arr.setflags(write=False)
        self.code = arr

    @staticmethod
    def true() -> CondProgram:
        return CondProgram(np.array([[OP_TRUE, 0, 0, 0]]))

    def __and__(self, other: CondProgram) -> CondProgram:
        return CondProgram(np.concatenate([self.code, other.code, [[OP_AND, 2, 0, 0]]]))

    @property
    def uses_round(self) -> bool:
        return bool((self.code[:, 0] == OP_ROUND).any())

    def round_tests(self) -> set[tuple[int, int]]:
        """The `(comparison code, value)` round comparisons anywhere in the program."""
        return {(int(b), int(c)) for op, _a, b, c in self.code.tolist() if op == OP_ROUND}

    def __call__(self, state: np.ndarray, round_: int, rl_status: np.ndarray) -> np.ndarray:
        """bool `(n,)`: the condition for n runs; `state` int `(n, n_vars)`, `rl_status` int
        `(n, n_red_lines)`, `round_` the round (1-based)."""
        n = state.shape[0]
        stack: list[np.ndarray] = []
        for op, a, b, c in self.code.tolist():
            if op == OP_VAR:
                stack.append(_CMP_FUNCS[b](state[:, a], c))
            elif op == OP_ROUND:
                stack.append(np.full(n, bool(_CMP_FUNCS[b](round_, c))))
            elif op == OP_RL:
                stack.append(rl_status[:, a] == c)
            elif op == OP_AND or op == OP_OR:
                parts = stack[len(stack) - a :]
                del stack[len(stack) - a :]
                out = parts[0]
                for p in parts[1:]:
                    out = (out & p) if op == OP_AND else (out | p)
                stack.append(out)
            elif op == OP_NOT:
                stack.append(~stack.pop())
            else:
                stack.append(np.ones(n, dtype=bool))
        return stack[-1]

    def state_test(self, n_vars: int) -> StateTest:
        """The program as a closure `f(state, round_) -> bool` on one public state: a tuple of ints
        whose first `n_vars` entries are the variables and the next ones the red-line statuses.
        The crisis compiler tests each condition at ~10^5 states, so the program is turned into
        closures once rather than interpreted at every state."""
        stack: list[StateTest] = []
        for op, a, b, c in self.code.tolist():
            if op == OP_VAR:
                stack.append(_var_test(_CMP_SCALAR[b], a, c))
            elif op == OP_ROUND:
                stack.append(_round_test(_CMP_SCALAR[b], c))
            elif op == OP_RL:
                stack.append(_status_test(n_vars + a, c))
            elif op == OP_AND or op == OP_OR:
                parts = tuple(stack[len(stack) - a :])
                del stack[len(stack) - a :]
                stack.append(_all_test(parts) if op == OP_AND else _any_test(parts))
            elif op == OP_NOT:
                stack.append(_not_test(stack.pop()))
            else:
                stack.append(_always)
        return stack[-1]


def _var_test(op, col: int, value: int) -> StateTest:
    return lambda s, r: op(s[col], value)


def _round_test(op, value: int) -> StateTest:
    return lambda s, r: op(r, value)


def _status_test(col: int, code: int) -> StateTest:
    return lambda s, r: s[col] == code


def _all_test(parts: tuple) -> StateTest:
    return lambda s, r: all(f(s, r) for f in parts)


def _any_test(parts: tuple) -> StateTest:
    return lambda s, r: any(f(s, r) for f in parts)


def _not_test(inner: StateTest) -> StateTest:
    return lambda s, r: not inner(s, r)


def state_test(cond: CondProgram | None, n_vars: int) -> StateTest:
    """`cond.state_test(n_vars)`, or a test that always holds for an absent condition (None)."""
    return _always if cond is None else cond.state_test(n_vars)


def compare(cmp: int, x: int, y: int) -> bool:
    """`x <cmp> y` for a comparison code (`CMP_NAMES[cmp]`)."""
    return _CMP_SCALAR[cmp](x, y)

