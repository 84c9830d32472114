"""What the simulator needs from a solved game: type-contingent strategies at a batch of nodes.

A `Policy` answers, for the perceived game of holder `game`, the mover's strategy for each of its
types at n nodes at once. The simulator asks it twice per move: in the mover's own game (to draw
the mover's action from the row of its true type), and in each observer's game (to update that
observer's belief by Bayes' rule with the mover's strategy *as the observer perceives it*).
`crisislab.simulate.policy_from_solution` adapts the crisis engine's `Solution`; `FixedPolicy` is a
state-independent policy for tests, benchmarks and quick what-ifs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["FixedPolicy", "Node", "Policy"]


@dataclass(frozen=True)
class Node:
    """A batch of n decision nodes, all at the same round and move.

    `state`: int64 `(n, n_vars)`; `rl_status`: int8 `(n, n_red_lines)`; `rl_left`: int64
    `(n, n_red_lines)` own moves left to answer a pending red line; `beliefs`: float64
    `(n, n_belief)`, the holder's belief vector (segments per strategic actor, `SimSpec.belief_slices`).
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
