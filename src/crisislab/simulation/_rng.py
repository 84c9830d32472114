"""Counter-based random numbers keyed by run index, so simulations are bit-identical under any chunking.

Every uniform the simulator uses is a pure function of (seed, run index, counter), where the
counter names the draw's place in the run: (round, move, slot). No generator state is carried
from one run to the next, so splitting N runs into chunks, or over worker processes, cannot change
a single number; and two simulations of the same scenario under different interventions draw the
same uniform at the same place (common random numbers for paired comparisons).

The hash is SplitMix64's finaliser (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
generators") applied twice, first to derive a per-run key from (seed, run), then to mix that key
with the counter; it passes BigCrush as a counter-based generator in that form. It is written in
numba so that a draw for a million runs is one tight loop, not a dozen numpy temporaries.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from crisislab.model.rules import MAX_MOVES, MAX_SLOTS  # the counter's layout

__all__ = ["counter", "run_keys", "uniforms"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TO_UNIT = 2.0**-53



@njit(cache=True, inline="always")
def _fmix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def _run_keys(seed_key: np.uint64, runs: np.ndarray) -> np.ndarray:
    out = np.empty(runs.shape[0], dtype=np.uint64)
    for i in range(runs.shape[0]):
        out[i] = _fmix(seed_key ^ _fmix(np.uint64(runs[i]) * _GOLDEN + _GOLDEN))
    return out


@njit(cache=True)
def _uniforms(keys: np.ndarray, ctr: np.uint64) -> np.ndarray:
    out = np.empty(keys.shape[0], dtype=np.float64)
    c = _fmix(ctr * _GOLDEN + _M2)
    for i in range(keys.shape[0]):
        out[i] = np.float64(_fmix(keys[i] ^ c) >> _S11) * _TO_UNIT
    return out


def run_keys(seed: int, runs: np.ndarray) -> np.ndarray:
    """Per-run keys for `runs`.

    `seed`: a non-negative integer below 2**64. `runs`: int64 array of shape `(n,)` of global run
    indices. Returns a uint64 array of shape `(n,)`; the key of run r depends on (seed, r) only.
    """
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64) (got {seed!r})")
    seed_key = _fmix(np.uint64(int(seed)) ^ _M1)
    return _run_keys(np.uint64(seed_key), np.ascontiguousarray(runs, dtype=np.int64))


def counter(round_: int, move: int, slot: int) -> int:
    """The counter of the `slot`-th draw at (`round_`, `move`); round 0 is before the first round."""
    if not (0 <= move < MAX_MOVES and 0 <= slot < MAX_SLOTS and round_ >= 0):
        raise ValueError(f"counter out of range (round={round_}, move={move}, slot={slot})")
    return (round_ * MAX_MOVES + move) * MAX_SLOTS + slot


def uniforms(keys: np.ndarray, ctr: int) -> np.ndarray:
    """Uniforms in [0, 1) with 53 random bits: float64 array of shape `keys.shape`.

    `keys`: uint64 array from `run_keys`; `ctr`: a counter from `counter`.
    """
    return _uniforms(keys, np.uint64(ctr))
