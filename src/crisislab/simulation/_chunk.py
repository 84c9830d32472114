"""What both simulation engines exchange: an arm's interventions (`Arm`, `Force`) and a chunk's
results (`ChunkResult`), shared by the numpy reference engine (`_engine`) and the compiled kernel's
glue (`_kernel_engine`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numba import njit

__all__ = ["REPS_PER_CHUNK", "Arm", "ChunkResult", "Cond", "Force", "hash_rows", "any_round", "path_representatives", "round_mask_bytes"]

# A condition over all runs at once: `cond(state (n, n_vars), round_, rl_status (n, n_rl)) -> bool (n,)`.
# The model's conditions are `CondProgram`s; an arm's force may also be given as a Python callable
# (the numpy reference engine then plays it, the compiled kernel cannot).
Cond = Callable[[np.ndarray, int, np.ndarray], np.ndarray]

# Representative action sequences kept per chunk for the most-frequent-paths table (counts are
# exact for every path via its hash; only the readable sequence is kept for the chunk's top paths).
REPS_PER_CHUNK = 64


@njit(cache=True)
def hash_rows(rows: np.ndarray) -> np.ndarray:
    """FNV-1a-style 64-bit hash of each row of an int16 array `(n, L)` → uint64 `(n,)`."""
    n, L = rows.shape
    out = np.empty(n, dtype=np.uint64)
    prime = np.uint64(1099511628211)
    for i in range(n):
        h = np.uint64(14695981039346656037)
        for j in range(L):
            h = (h ^ np.uint64(rows[i, j] + 2)) * prime
        out[i] = h
    return out


def path_representatives(actions_rec: np.ndarray | None) -> tuple[np.ndarray | None, dict[int, tuple[int, ...]]]:
    """Each run's action-sequence hash (uint64 `(n,)`, from int16 `actions_rec` `(n, L)`) and one
    sequence per hash for the `REPS_PER_CHUNK` most frequent ones (None, {} without a record)."""
    if actions_rec is None:
        return None, {}
    path_hash = hash_rows(actions_rec)
    uniq, first, counts = np.unique(path_hash, return_index=True, return_counts=True)
    top = np.argsort(-counts, kind="stable")[:REPS_PER_CHUNK]
    return path_hash, {int(uniq[i]): tuple(int(x) for x in actions_rec[first[i]]) for i in top}


@dataclass(frozen=True)
class Force:
    """Force `action` (global index) for mover `actor` at round `round_` (if set) or when `when` holds."""

    actor: str
    action: int
    round_: int | None = None
    when: Cond | None = None


@dataclass(frozen=True)
class Arm:
    """Interventions that act inside the loop (parameter changes are lowered into the model)."""

    forces: tuple[Force, ...] = ()
    forbidden: frozenset[int] = frozenset()
    # Conditional forbids: (global action, condition); the action is forbidden where it holds.
    # One entry per action (several `when`s of one action are joined by `any`).
    forbidden_when: tuple[tuple[int, Cond], ...] = ()
    # A scripted path (timeline replay): int64 `(horizon, n_movers)`, the global action each move
    # must take (-1: an environment actor does nothing / a strategic actor plays its default),
    # or SCRIPT_FREE to leave the move to the model.
    script: np.ndarray | None = None


@dataclass
class ChunkResult:
    """Per-run arrays of one chunk plus additive aggregates.

    `runs` int64 `(n,)`; `types` int8 `(n, n_actors)`; `outcome` int16 `(n,)`; `end_round` int16;
    `casualties` int64 `(n, n_sides)`; `audience` float64 `(n, n_actors)`; `rl_status` int8
    `(n, n_red_lines)` at the end; `actions` int16 `(n, horizon * n_movers)` executed action per
    move (-1: none / run over) when paths were requested, else None; `state_hist` int64
    `(horizon + 1, n_vars, n_levels)` counts of each variable's value after each round (runs that
    ended keep their final state); `belief_sum` int64 `(horizon + 1, n_actors, n_belief)` sums of
    quantized beliefs (`belief_sum_alive` over runs still going after the round, `n_alive` of
    them, int64 `(horizon + 1,)`); `taken` bool `(n, n_actions)` whether each action was chosen at least once;
    `run_steps` number of (run, move) pairs simulated; `loglik` float64 `(n,)` log-probability of
    each run's choices (strategic actions under the mover's own strategy and true type, environment
    moves under their rules; a forced action counts with the probability the model gave it);
    `path_rows` per-move records when requested. `rounds_taken` uint8 `(n, n_actions,
    round_mask_bytes(horizon))`: the rounds in which each action was chosen, as packed bits (bit
    r - 1 of the little-endian bit string, `numpy.unpackbits(..., bitorder="little")`, is round r);
    `state_max`, `state_min` int16 `(n, n_vars)`: the largest and smallest value each variable
    took after any move of the run (initial value included).
    """

    runs: np.ndarray
    types: np.ndarray
    outcome: np.ndarray
    end_round: np.ndarray
    casualties: np.ndarray
    audience: np.ndarray
    rl_status: np.ndarray
    taken: np.ndarray
    actions: np.ndarray | None
    state_hist: np.ndarray
    belief_sum: np.ndarray
    belief_sum_alive: np.ndarray
    n_alive: np.ndarray
    run_steps: int
    loglik: np.ndarray
    path_hash: np.ndarray | None = None
    path_reps: dict[int, tuple[int, ...]] = field(default_factory=dict)
    path_rows: dict[str, np.ndarray] | None = None
    rounds_taken: np.ndarray | None = None
    state_max: np.ndarray | None = None
    state_min: np.ndarray | None = None


def any_round(rounds: np.ndarray) -> np.ndarray:
    """bool `(n, n_actions)`: whether each action was chosen in any round, from the packed round
    masks uint8 `(n, n_actions, n_bytes)` (byte by byte: numpy's `any` over a short last axis is
    several times slower)."""
    out = rounds[:, :, 0] != 0
    for w in range(1, rounds.shape[2]):
        out |= rounds[:, :, w] != 0
    return out


def round_mask_bytes(horizon: int) -> int:
    """Bytes of one action's packed round mask over `horizon` rounds (one bit per round)."""
    return (int(horizon) + 7) // 8
