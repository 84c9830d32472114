"""The rules' constants, in one place: every engine imports them from here.

Nothing here depends on numpy or numba, so reading a constant costs no import time.

Red-line status codes
    A red line's status is one small integer per red line, in the public state of both engines and
    in conditions (`red_line: {is: pending}`): `RL_INACTIVE` (not crossed yet), `RL_PENDING`
    (crossed, the owner has `deadline` own moves to answer), `RL_ANSWERED`, `RL_FAILED`.
    `RL_STATUS_NAMES[code]` is the scenario language's name of a code.

Conditions
    A condition is a postfix program (`crisislab.model.CondProgram`), one row `(op, a, b, c)` per
    instruction; the opcodes `OP_*` and comparison codes (`CMP_NAMES[b]`) are listed here.

Random numbers (`crisislab.simulation._rng`)
    A draw is named by a counter `(round, move, slot)` packed as
    `(round * MAX_MOVES + move) * MAX_SLOTS + slot`. Round 0, move j, slot 0 draws strategic actor
    j's type. At a move, slot `SLOT_ACTION` draws the action; consequence ci of an action executed
    at `becomes` nesting depth `depth` draws in slot `1 + depth * SLOTS_PER_DEPTH + 8 * ci + sub`
    (`sub` 0 for the consequence itself, 1 + k for the k-th casualty table of a fired error), which
    is why an action has at most `MAX_CONSEQUENCES` consequences and `becomes` chains are at most
    `MAX_BECOMES_DEPTH` long. When a move ends a run in an outcome that carries casualties, its
    k-th casualty table draws in slot `SLOT_OUTCOME_CASUALTIES + k` of that move (above every
    consequence slot; the scenario format allows at most 16 tables per outcome).
"""

from __future__ import annotations

__all__ = [
    "BELIEF_QUANTUM",
    "CMP_NAMES",
    "DEFAULT_CHUNK",
    "MAX_BECOMES_DEPTH",
    "MAX_CONSEQUENCES",
    "MAX_MOVES",
    "MAX_SLOTS",
    "OP_AND",
    "OP_NOT",
    "OP_OR",
    "OP_RL",
    "OP_ROUND",
    "OP_TRUE",
    "OP_VAR",
    "RL_ANSWERED",
    "RL_FAILED",
    "RL_INACTIVE",
    "RL_PENDING",
    "RL_STATUS_CODES",
    "RL_STATUS_NAMES",
    "SCRIPT_FREE",
    "SLOTS_PER_DEPTH",
    "SLOT_ACTION",
    "SLOT_OUTCOME_CASUALTIES",
    "consequence_slot",
]

# ----- red lines ---------------------------------------------------------------------------------
RL_INACTIVE, RL_PENDING, RL_ANSWERED, RL_FAILED = 0, 1, 2, 3
RL_STATUS_NAMES: tuple[str, ...] = ("inactive", "pending", "answered", "failed")
RL_STATUS_CODES: dict[str, int] = {name: code for code, name in enumerate(RL_STATUS_NAMES)}

# ----- conditions (postfix programs) -------------------------------------------------------------
# OP_VAR pushes `state[a] <cmp b> c`; OP_ROUND pushes `round <cmp b> c`; OP_RL pushes
# `status[a] == c`; OP_AND / OP_OR pop `a` values and push their conjunction / disjunction;
# OP_NOT negates the top; OP_TRUE pushes True.
OP_VAR, OP_ROUND, OP_RL, OP_AND, OP_OR, OP_NOT, OP_TRUE = 0, 1, 2, 3, 4, 5, 6
# Comparison codes (b of OP_VAR / OP_ROUND), in this order.
CMP_NAMES: tuple[str, ...] = ("eq", "ne", "lt", "le", "gt", "ge")

# ----- execution of an action --------------------------------------------------------------------
# A `becomes` chain (an error turning an action into another, which may err in turn) longer than
# this is refused by the crisis compiler and cut by the simulator.
MAX_BECOMES_DEPTH = 8
# Consequences per action (each owns 8 consecutive RNG slots at a nesting depth).
MAX_CONSEQUENCES = 16

# ----- random-number counters --------------------------------------------------------------------
MAX_MOVES = 1 << 12
MAX_SLOTS = 1 << 11
SLOT_ACTION = 0
SLOTS_PER_DEPTH = 128  # MAX_CONSEQUENCES consequences × 8 slots (the consequence, 7 nested casualties)
# The casualties of the outcome a move ends a run in: past the last consequence slot
# (1 + (MAX_BECOMES_DEPTH + 1) * SLOTS_PER_DEPTH = 1153), with room for 64 tables below MAX_SLOTS.
SLOT_OUTCOME_CASUALTIES = MAX_SLOTS - 64


def consequence_slot(depth: int, ci: int, sub: int = 0) -> int:
    """The RNG slot of consequence `ci` (its `sub`-th draw) of an action executed at nesting `depth`."""
    return 1 + depth * SLOTS_PER_DEPTH + 8 * ci + sub


# ----- simulation --------------------------------------------------------------------------------
# A scripted move (timeline replay) left to the model: `Arm.script[round - 1, move]`.
SCRIPT_FREE = -2
# Beliefs are summed over runs as integers in units of 2**-30 so that per-round means are
# bit-identical whatever the chunking (float sums depend on the order of addition).
BELIEF_QUANTUM = 2.0**30
# Runs per chunk: large enough that per-move numpy overheads vanish, small enough to stay in
# cache-friendly memory (a chunk's state is a few MB).
DEFAULT_CHUNK = 32_768
