"""Exact lumping of a compiled game: states whose futures are identical share one solver row.

Two reachable states at the same decision are equivalent when they offer the same actions and,
for every action, the same distribution over equivalence classes of the next decision (or the
same outcomes) with the same conditional payoffs. By backward induction their values and logit
strategies are then equal at every belief, so the solver only needs one row per class. Classes
are found from the last decision backwards (one pass: a class of decision d is a set of states
with equal merged rows over the classes of d+1). Payoffs and probabilities are compared after
rounding to `DIGITS` decimals. On the flagship this removes more than half of the rows.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from crisislab.crisis._compile import CompiledGame

__all__ = ["DIGITS", "Lumped", "lump"]

DIGITS = 12


@dataclass(frozen=True, eq=False)
class Lumped:
    """Per decision d (tuples indexed by d), with C_d classes and A = actions of the mover:
    `class_of[d]` int64 `(S_d,)` class of each reachable state; `avail[d]` bool `(C_d, A)`;
    `row_ptr[d]` int64 `(C_d*A + 1,)`; `nxt[d]` int64 `(nnz,)` class at d+1 or `-1 - outcome`;
    `prob[d]` float64 `(nnz,)`; `reward[d]` float64 `(nnz, n_actors, k_max)`."""

    class_of: tuple[np.ndarray, ...]
    avail: tuple[np.ndarray, ...]
    row_ptr: tuple[np.ndarray, ...]
    nxt: tuple[np.ndarray, ...]
    prob: tuple[np.ndarray, ...]
    reward: tuple[np.ndarray, ...]

    def n_classes(self, d: int) -> int:
        return int(self.avail[d].shape[0])


_memo: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def lump(cg: CompiledGame) -> Lumped:
    """Equivalence classes of states per decision and the solver tables over classes (memoized per
    compiled game while it lives: choosing a grid and solving both need it)."""
    hit = _memo.get(cg)
    if hit is None:
        hit = _memo[cg] = _lump(cg)
    return hit


def _lump(cg: CompiledGame) -> Lumped:
    nd = cg.n_decisions
    class_of: list = [None] * nd
    avails: list = [None] * nd
    ptrs: list = [None] * nd
    nxts: list = [None] * nd
    probs: list = [None] * nd
    rewards: list = [None] * nd
    nxt_class = None
    n, k = cg.n_actors, cg.k_max
    for d in range(nd - 1, -1, -1):
        S, A = cg.avail[d].shape
        raw = cg.nxt[d]
        cls = raw.copy()
        if nxt_class is not None:
            cls[raw >= 0] = nxt_class[raw[raw >= 0]]
        rows = np.repeat(np.arange(S * A), np.diff(cg.row_ptr[d]))
        # merge branches of one row that reach the same class (probability-weighted payoffs)
        order = np.lexsort((cls, rows))
        r_s, c_s = rows[order], cls[order]
        first = np.ones(r_s.size, dtype=bool)
        first[1:] = (r_s[1:] != r_s[:-1]) | (c_s[1:] != c_s[:-1])
        idx = np.flatnonzero(first)
        p_sorted = cg.prob[d][order]
        p = np.add.reduceat(p_sorted, idx) if idx.size else np.zeros(0)
        pr = (
            np.add.reduceat(p_sorted[:, None] * cg.reward[d].reshape(raw.size, -1)[order], idx, axis=0)
            if idx.size else np.zeros((0, n * k))
        )
        rew = pr / p[:, None] if idx.size else pr
        r_u, c_u = r_s[idx], c_s[idx]
        key_data = np.column_stack([r_u % A, c_u, np.round(p, DIGITS), np.round(rew, DIGITS)]) if idx.size else np.zeros((0, 3 + n * k))
        bounds = np.searchsorted(r_u // A, np.arange(S + 1))
        av = cg.avail[d]
        seen: dict = {}
        out = np.empty(S, dtype=np.int64)
        reps: list[int] = []
        for s in range(S):
            key = av[s].tobytes() + key_data[bounds[s] : bounds[s + 1]].tobytes()
            c = seen.get(key)
            if c is None:
                c = seen[key] = len(reps)
                reps.append(s)
            out[s] = c
        reps_a = np.asarray(reps, dtype=np.int64)
        # tables of the representatives, rows in class order
        counts = bounds[reps_a + 1] - bounds[reps_a]
        sel = np.concatenate([np.arange(bounds[s], bounds[s + 1]) for s in reps_a]) if reps_a.size else np.zeros(0, np.int64)
        lens = np.zeros(reps_a.size * A, dtype=np.int64)
        np.add.at(lens, np.repeat(np.arange(reps_a.size), counts) * A + r_u[sel] % A, 1)
        row_ptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        arrays = (av[reps_a].copy(), row_ptr, c_u[sel].astype(np.int64), p[sel].copy(),
                  rew[sel].reshape(-1, n, k).copy(), out)
        for arr in arrays:
            arr.setflags(write=False)
        avails[d], ptrs[d], nxts[d], probs[d], rewards[d], class_of[d] = arrays
        nxt_class = out
    return Lumped(tuple(class_of), tuple(avails), tuple(ptrs), tuple(nxts), tuple(probs), tuple(rewards))
