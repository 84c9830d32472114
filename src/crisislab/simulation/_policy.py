"""What the simulator needs from a solved game: type-contingent strategies at a batch of nodes.

A `Policy` answers, for the perceived game of holder `game`, the mover's strategy for each of its
types at n nodes at once. The simulator asks it twice per move: in the mover's own game (to draw
the mover's action from the row of its true type), and in each observer's game (to update that
observer's belief by Bayes' rule with the mover's strategy *as the observer perceives it*).
`crisislab.simulation.policy_from_solution` adapts the crisis engine's `Solution`; `FixedPolicy` is a
state-independent policy for tests, benchmarks and quick what-ifs. A policy that can also hand the
compiled kernel a dense table implements `kernel_table(spec) -> PolicyTable` (all policies of this
package do); any other `Policy` is simulated by the numpy reference engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from crisislab.model import Model

__all__ = ["FixedPolicy", "LazyTable", "Node", "Policy", "PolicyTable", "StaticTable", "belief_arrays"]


@dataclass(frozen=True)
class Node:
    """A batch of n decision nodes, all at the same round and move.

    `state`: int64 `(n, n_vars)`; `rl_status`: int8 `(n, n_red_lines)`; `rl_left`: int64
    `(n, n_red_lines)` own moves left to answer a pending red line; `beliefs`: float64
    `(n, n_belief)`, the holder's belief vector (segments per strategic actor, `Model.belief_slices`).
    """

    round: int
    move: int
    state: np.ndarray
    rl_status: np.ndarray
    rl_left: np.ndarray
    beliefs: np.ndarray


@runtime_checkable
class Policy(Protocol):
    def strategy(self, game: str, mover: str, node: Node) -> np.ndarray:
        """σ(a | node, θ) of `mover` in holder `game`'s perceived game.

        Returns float64 `(n, n_types_mover, n_actions_mover)`, rows summing to 1 (actions in ladder
        order; unavailable actions may carry any mass, the simulator masks them).
        """
        ...

    def same_game(self, holder_a: str, holder_b: str) -> bool:
        """True when the two holders' perceived games (and hence strategies) coincide."""
        ...


class FixedPolicy:
    """The same type-contingent strategy at every node and in every perceived game.

    `probs`: actor id → float64 `(n_types, n_actions)`, each row a distribution over the ladder.
    """

    def __init__(self, probs: Mapping[str, np.ndarray]):
        self._probs: dict[str, np.ndarray] = {}
        for actor, p in probs.items():
            arr = np.asarray(p, dtype=np.float64)
            if arr.ndim != 2 or (arr < 0).any() or not np.allclose(arr.sum(axis=1), 1.0):
                raise ValueError(f"FixedPolicy[{actor!r}] must be (n_types, n_actions) rows of probabilities")
            arr.setflags(write=False)
            self._probs[actor] = arr

    def strategy(self, game: str, mover: str, node: Node) -> np.ndarray:
        p = self._probs[mover]
        return np.broadcast_to(p, (node.state.shape[0], *p.shape))

    def same_game(self, holder_a: str, holder_b: str) -> bool:
        return True

    def kernel_table(self, spec) -> PolicyTable:
        return StaticTable(spec, self._probs)


class PolicyTable:
    """A policy as arrays for the compiled kernel (`_kernels.run_chunk`).

    Decisions: `decisions(spec)` gives int64 `(horizon + 1, n_movers)`, the decision index of
    (round, slot) (-1 for environment slots), `n_dec` of them. Public states: when `keyed`, a
    state's key is `sum((col - offset) * radix)` over the columns (state variables, red-line
    statuses, red-line counters counted only while pending) and its index s is its position in
    `state_keys` (int64 `(n_states,)`, sorted, unique); otherwise s = 0 always. Rows: the table
    row of (state s, decision d) is `s * n_dec + d`. `block`: int64 `(n_games, n_states * n_dec)`,
    the strategy block of each row in each perceived game (-1: not tabulated; all games of a row are
    tabulated together). `sigma`: float64 or float32 `(n_blocks, n_belief_nodes, k_max, a_max)`,
    the mover's strategy per block, belief-grid node, own type and action (the model's local
    action index: the mover's ladder order, which every engine shares).
    Rows with the same future share a block. Belief nodes: `grid_points` nodes on [0, 1] per actor
    with `grid_sizes[j] > 1` (coordinate: the probability of the actor's first type; uniform, or
    the sorted nodes `grid_x` when set), flattened row-major, interpolated multilinearly (with `logit`,
    `sigma` holds log-probabilities, interpolated and then normalized per type); one node when the policy ignores
    beliefs. `holder_game`: int64 `(n_actors,)` table game of each holder's perceived game.
    `miss_mode`: 0 = a state not in the table is played uniformly and counted (`note_fallbacks`),
    1 = the run is replayed after `extend` has added the missing states. The kernel reads
    `sigma`/`block` only through `_kernels._table_sigma`.
    """

    keyed: bool = False
    miss_mode: int = 0
    grid_points: int = 1
    logit: bool = False
    radix: np.ndarray
    offset: np.ndarray
    state_keys: np.ndarray
    n_dec: int
    block: np.ndarray
    grid_sizes: np.ndarray
    sigma: np.ndarray
    holder_game: np.ndarray

    def decisions(self, spec) -> np.ndarray:
        raise NotImplementedError

    def extend(self, spec, decisions: np.ndarray, states: np.ndarray) -> None:
        raise NotImplementedError

    def note_fallbacks(self, count: int) -> None:
        pass

    def grid_nodes(self) -> np.ndarray:
        """float64 `(grid_points,)`: the belief nodes when they are not the uniform grid (`grid_x`),
        else empty (the kernel then locates beliefs arithmetically)."""
        x = getattr(self, "grid_x", None)
        return np.zeros(0) if x is None else np.asarray(x, np.float64)

    def grid_strides(self) -> np.ndarray:
        sizes = np.asarray(self.grid_sizes, np.int64)
        strides = np.ones(sizes.size, np.int64)
        for j in range(sizes.size - 2, -1, -1):
            strides[j] = strides[j + 1] * sizes[j + 1]
        return strides


def _strategic_slots(spec) -> list[int]:
    return [m for m, mv in enumerate(spec.movers) if mv.strategic >= 0]


class StaticTable(PolicyTable):
    """One row per strategic slot: the same strategy at every node (`FixedPolicy`)."""

    def __init__(self, spec, probs: Mapping[str, np.ndarray]):
        slots = _strategic_slots(spec)
        k_max = max(len(t) for t in spec.types)
        a_max = max([m.actions.size for m in spec.movers] + [1])
        self.sigma = np.zeros((len(slots), 1, k_max, a_max))
        for i, m in enumerate(slots):
            p = probs[spec.movers[m].id]
            self.sigma[i, 0, : p.shape[0], : p.shape[1]] = p
        self._index = {m: i for i, m in enumerate(slots)}
        self.holder_game = np.zeros(len(spec.actors), np.int64)
        self.grid_sizes = np.ones(len(spec.actors), np.int64)
        n_cols = spec.n_vars + 2 * len(spec.red_lines)
        self.radix = self.offset = np.zeros(n_cols, np.int64)
        self.state_keys = np.zeros(1, np.int64)
        self.n_dec = len(slots)
        self.block = np.arange(len(slots), dtype=np.int64)[None, :]

    def decisions(self, spec) -> np.ndarray:
        dec = np.full((spec.horizon + 1, len(spec.movers)), -1, np.int64)
        for m, i in self._index.items():
            dec[1:, m] = i
        return dec


class LazyTable(PolicyTable):
    """A belief-independent policy tabulated on the public states the runs actually reach.

    The table starts empty; the kernel reports the (decision, state) pairs it lacks, `extend` asks
    the policy for its strategy there (one batched `strategy` call per decision and game), and the
    chunk is replayed. The strategy must not depend on `Node.beliefs`, nor on the round when
    `round_dependent` is False (then a decision is a strategic slot, shared by all rounds), nor
    on a red-line counter while its red line is not pending.
    """

    keyed = True
    miss_mode = 1

    def __init__(self, policy: Policy, spec, *, round_dependent: bool):
        self.policy = policy
        self.round_dependent = round_dependent
        self._slots = _strategic_slots(spec)
        self._slot_index = {m: i for i, m in enumerate(self._slots)}
        actors = spec.actors
        game_ids: list[int] = []
        for h in range(len(actors)):
            g = next((game_ids[q] for q in range(h) if policy.same_game(actors[q], actors[h])), None)
            game_ids.append(len(set(game_ids)) if g is None else g)
        self.holder_game = np.array(game_ids, np.int64)
        self._game_holder = [actors[game_ids.index(g)] for g in range(max(game_ids) + 1)]
        n_rl = len(spec.red_lines)
        sizes = np.concatenate([spec.hi - spec.lo + 1, np.full(n_rl, 4), [rl.deadline + 1 for rl in spec.red_lines]])
        sizes = np.asarray(sizes, dtype=object)
        if int(np.prod(sizes)) >= 2**62:
            raise OverflowError("public-state space too large for 64-bit keys")
        self.radix = np.concatenate([[1], np.cumprod(sizes[:-1])]).astype(np.int64) if sizes.size else np.zeros(0, np.int64)
        self.offset = np.concatenate([spec.lo, np.zeros(2 * n_rl, np.int64)]).astype(np.int64)
        self.grid_sizes = np.ones(len(actors), np.int64)
        self._k_max = max(len(t) for t in spec.types)
        self._a_max = max([m.actions.size for m in spec.movers] + [1])
        self._n_dec = len(self._slots) * (spec.horizon if round_dependent else 1)
        self._horizon = spec.horizon
        self._keys: list[dict[int, int]] = [{} for _ in range(self._n_dec)]
        self._blocks: list[np.ndarray] = []
        self._n_rows = 0
        self._rebuild()

    def decisions(self, spec) -> np.ndarray:
        if self.round_dependent and spec.horizon > self._horizon:
            raise ValueError("LazyTable built for a shorter horizon")
        n_s = len(self._slots)
        dec = np.full((spec.horizon + 1, len(spec.movers)), -1, np.int64)
        for m, i in self._slot_index.items():
            dec[1:, m] = (np.arange(spec.horizon) * n_s + i) if self.round_dependent else i
        return dec

    def _encode(self, states: np.ndarray, n_vars: int, n_rl: int) -> np.ndarray:
        st = np.asarray(states, np.int64).copy()
        if n_rl:
            st[:, n_vars + n_rl :] = np.where(st[:, n_vars : n_vars + n_rl] == 1, st[:, n_vars + n_rl :], 0)
        return (st - self.offset) @ self.radix

    def extend(self, spec, decisions: np.ndarray, states: np.ndarray) -> None:
        nv, n_rl = spec.n_vars, len(spec.red_lines)
        keys = self._encode(states, nv, n_rl)
        n_s = len(self._slots)
        new_blocks = []
        for d in np.unique(decisions):
            sel = decisions == d
            uk, first = np.unique(keys[sel], return_index=True)
            fresh = np.array([k not in self._keys[d] for k in uk.tolist()], bool)
            if not fresh.any():
                continue
            st = states[sel][first[fresh]]
            m = self._slots[int(d) % n_s]
            r = int(d) // n_s + 1 if self.round_dependent else 1
            node = Node(round=r, move=m, state=st[:, :nv], rl_status=st[:, nv : nv + n_rl].astype(np.int8),
                        rl_left=st[:, nv + n_rl :], beliefs=np.zeros((st.shape[0], spec.n_belief)))
            mover = spec.movers[m].id
            block = np.zeros((len(self._game_holder), st.shape[0], 1, self._k_max, self._a_max))
            for g, holder in enumerate(self._game_holder):
                s = np.asarray(self.policy.strategy(holder, mover, node), dtype=np.float64)
                block[g, :, 0, : s.shape[1], : s.shape[2]] = s
            for q, k in enumerate(uk[fresh].tolist()):
                self._keys[int(d)][k] = self._n_rows + q
            self._n_rows += st.shape[0]
            new_blocks.append(block)
        self._blocks.extend(new_blocks)
        self._rebuild()

    def _rebuild(self) -> None:
        n_g = len(self._game_holder)
        by_game = (
            np.concatenate(self._blocks, axis=1) if self._blocks else np.zeros((n_g, 1, 1, self._k_max, self._a_max))
        )
        self._blocks = [by_game] if self._blocks else []
        # Block of (game g, tabulated row r) = g * n_rows + r.
        n_rows = by_game.shape[1]
        self.sigma = by_game.reshape(n_g * n_rows, 1, self._k_max, self._a_max)
        keys = [np.fromiter(t.keys(), np.int64, len(t)) for t in self._keys]
        self.state_keys = np.unique(np.concatenate(keys + [np.zeros(0, np.int64)]))
        if self.state_keys.size == 0:
            self.state_keys = np.full(1, -1, np.int64)  # no state yet: every key misses
        self.n_dec = self._n_dec
        self.block = np.full((n_g, self.state_keys.size * self._n_dec), -1, np.int64)
        for d, table in enumerate(self._keys):
            if not table:
                continue
            s = np.searchsorted(self.state_keys, keys[d])
            r = np.fromiter(table.values(), np.int64, len(table))
            for g in range(n_g):
                self.block[g, s * self._n_dec + d] = g * n_rows + r


def belief_arrays(spec: Model, table: PolicyTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Holders whose perceived games and initial beliefs coincide share one belief array.

    Returns (array of each holder int64 `(n_actors,)`, table game of each array int64 `(n_bg,)`,
    initial beliefs float64 `(n_bg, n_belief)`).
    """
    n = len(spec.actors)
    initial = spec.initial_beliefs
    of = list(range(n))
    for h in range(n):
        for g in range(h):
            if of[g] == g and table.holder_game[g] == table.holder_game[h] and np.array_equal(initial[g], initial[h]):
                of[h] = g
                break
    reps = sorted(set(of))
    bg_of_holder = np.array([reps.index(of[h]) for h in range(n)], np.int64)
    bg_game = np.array([table.holder_game[g] for g in reps], np.int64)
    init = np.array([initial[g] for g in reps], np.float64)
    return bg_of_holder, bg_game, init
