"""A one-step-lookahead logit policy: a stand-in for the crisis engine's solved strategies.

At a node, an actor of type θ scores each available action by what it sees one move ahead: the
action's cost for θ, plus the terminal payoff (as the game's holder perceives it) of the outcome
the action's deterministic effects would trigger (the outcome it `ends` the crisis in, if any), plus the audience cost it would incur by not
answering a red line whose deadline is this move. It then plays the logit response with its
precision λ. It ignores continuation values and beliefs, so it is *not* the equilibrium the crisis
engine computes; it exists so that the simulator, claims and report run end to end (and are
benchmarked) on any scenario, and is labelled as such wherever it is used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crisislab.model import lower
from crisislab.model.rules import RL_PENDING
from crisislab.simulation._policy import LazyTable, Node

__all__ = ["MyopicLogitPolicy"]


class MyopicLogitPolicy:
    """σ(a | node, θ) ∝ exp(λ · Q₁(a, θ)) with the one-move lookahead Q₁ described above."""

    description = "one-step-lookahead logit (interim stand-in for the crisis engine's solution)"

    def __init__(self, scenario: Any):
        self._spec = spec = lower(scenario)
        self._lam = {a: float(spec.lam[j]) for j, a in enumerate(spec.actors)}
        # terminal[holder][mover]: float64 (n_outcomes, n_types_mover), the holder's view.
        self._terminal: dict[str, dict[str, np.ndarray]] = {}
        for h, holder in enumerate(spec.actors):
            seen = spec.perceived(h)[0].terminal
            self._terminal[holder] = {m: seen[:, j, : len(spec.types[j])] for j, m in enumerate(spec.actors)}
        self._ladder = {m.id: m.actions for m in spec.movers if m.strategic >= 0}
        sizes = np.concatenate([spec.hi - spec.lo + 1, np.full(len(spec.red_lines), 4), np.full(len(spec.red_lines), 2)])
        self._radix = np.concatenate([[1], np.cumprod(sizes)[:-1]]).astype(np.int64)

    def same_game(self, holder_a: str, holder_b: str) -> bool:
        return all(np.array_equal(self._terminal[holder_a][m], self._terminal[holder_b][m]) for m in self._spec.actors)

    def kernel_table(self, spec) -> LazyTable:
        """The strategy tabulated lazily on reached states (it ignores beliefs; it depends on the
        round only through outcome conditions that test it). Kept across calls: states found by
        one chunk serve the next."""
        table = getattr(self, "_table", None)
        if table is None or (table.round_dependent and spec.horizon > table._horizon):
            by_round = any(c is not None and c.uses_round for c in self._spec.outcome_conds)
            table = LazyTable(self, self._spec, round_dependent=by_round)
            self._table = table
        return table

    def strategy(self, game: str, mover: str, node: Node) -> np.ndarray:
        """float64 `(n, n_types_mover, n_actions_mover)`.

        The strategy depends on the public state only (not on beliefs), so it is computed once per
        distinct state of the batch (a few hundred at most) and gathered back.
        """
        spec = self._spec
        nv, nr = node.state.shape[1], node.rl_status.shape[1]
        full = np.concatenate(
            [node.state - spec.lo, node.rl_status.astype(np.int64), np.minimum(node.rl_left, 1)], axis=1
        )
        # Mixed-radix key of each node (a few thousand distinct values at most), then 1-d unique:
        # far cheaper than np.unique(axis=0), which sorts rows as opaque records.
        key = full @ self._radix
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        uniq = full[first]
        sub = Node(
            node.round, node.move, uniq[:, :nv] + spec.lo, uniq[:, nv : nv + nr].astype(np.int8), uniq[:, nv + nr :], node.beliefs[:0]
        )
        return self._strategy(game, mover, sub)[inverse.reshape(-1)]

    def _strategy(self, game: str, mover: str, node: Node) -> np.ndarray:
        spec = self._spec
        j = spec.actors.index(mover)
        ladder = self._ladder[mover]
        n = node.state.shape[0]
        term = self._terminal[game][mover]
        q = np.zeros((n, len(spec.types[j]), ladder.size))
        for a_local, g in enumerate(ladder):
            act = spec.actions[g]
            eff = act.effect
            nxt = np.clip(np.where(eff.set_mask, eff.set_value, node.state + eff.add), spec.lo, spec.hi)
            pay = np.zeros((n, term.shape[1]))
            done = np.zeros(n, dtype=bool)
            for o, cond in enumerate(spec.outcome_conds):
                if cond is None:
                    continue
                hit = ~done & cond(nxt, node.round, node.rl_status)
                pay[hit] = term[o]
                done |= hit
            if act.ends >= 0:
                pay[:] = term[act.ends]
            q[:, :, a_local] = pay + act.cost[None, :]
            for k, rl in enumerate(spec.red_lines):
                if rl.owner != j or act.rung >= rl.answer_rung:
                    continue
                last = (node.rl_status[:, k] == RL_PENDING) & (node.rl_left[:, k] <= 1)
                q[last, :, a_local] += rl.audience_cost[None, :]
        z = self._lam[mover] * q
        z -= z.max(axis=2, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=2, keepdims=True)
