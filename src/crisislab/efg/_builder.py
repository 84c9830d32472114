"""A small builder for writing extensive-form games in Python.

Nodes are plain integer handles. Start from `builder.root`, expand a node with `decision` (a
player's move at an information set named by any hashable key) or `chance` (probabilities as
Fractions, ints, decimal strings or floats), and close branches with `terminal`. Payoffs may also be
attached to interior nodes (`payoffs=`), which Gambit sums along the path. `build()` lays the nodes
out in preorder, numbers infosets per player in order of first appearance and returns a frozen
`Game`; every mistake raises `UserError` naming the node by its path of action labels.

    b = GameBuilder(["Alice", "Bob"])
    l, r = b.decision(b.root, "Alice", "a", ["L", "R"])
    b.terminal(l, [1, -1])
    x, y = b.decision(r, "Bob", "b", ["x", "y"])
    b.terminal(x, [0, 0]); b.terminal(y, [2, -2])
    game = b.build()
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from crisislab.errors import UserError
from crisislab.efg._game import CHANCE, PLAYER, TERMINAL, Game, assemble_game


def number_text(x: object) -> str:
    """Exact text for a payoff or probability: int/Fraction as `n` or `n/d`, float as a decimal."""
    if isinstance(x, bool):
        raise UserError(f"expected a number, got the boolean {x!r}")
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, Fraction):
        return str(x)
    if isinstance(x, (float, np.floating)):
        if not np.isfinite(x):
            raise UserError(f"expected a finite number, got {x!r}")
        return np.format_float_positional(float(x), trim="-")
    if isinstance(x, str):
        try:
            Fraction(x)
        except (ValueError, ZeroDivisionError):
            raise UserError(f"expected a number such as 3, -1/2 or 0.25, got {x!r}") from None
        return x
    raise UserError(f"expected a number, got {x!r} of type {type(x).__name__}")


@dataclass
class _Node:
    parent: int
    action: int
    kind: int = TERMINAL
    player: int = -1
    key: Hashable = None
    actions: tuple[str, ...] = ()
    probs: tuple[str, ...] = ()
    children: list[int] = field(default_factory=list)
    label: str = ""
    outcome: tuple[str, tuple[str, ...]] | None = None
    closed: bool = False


class GameBuilder:
    """Mutable helper that produces an immutable `Game`; see the module docstring."""

    def __init__(self, players: Sequence[str], title: str = "", comment: str = "") -> None:
        if len(players) < 1:
            raise UserError("a game needs at least one player")
        if len(set(players)) != len(players):
            raise UserError(f"player names must be distinct, got {list(players)!r}")
        self.players = tuple(str(p) for p in players)
        self.title = title
        self.comment = comment
        self._nodes: list[_Node] = [_Node(parent=-1, action=-1)]
        self._infosets: dict[tuple[int, Hashable], tuple[str, ...]] = {}

    @property
    def root(self) -> int:
        return 0

    # ---- helpers ---------------------------------------------------------------------------
    def path(self, node: int) -> str:
        """The node's path from the root as action labels, e.g. `root/L/x`."""
        parts = []
        while node > 0:
            nd = self._nodes[node]
            p = self._nodes[nd.parent]
            parts.append(p.actions[nd.action] if p.actions else str(nd.action))
            node = nd.parent
        return "/".join(["root", *reversed(parts)])

    def _open(self, node: int) -> _Node:
        if not isinstance(node, (int, np.integer)) or not 0 <= node < len(self._nodes):
            raise UserError(f"unknown node handle {node!r}")
        nd = self._nodes[node]
        if nd.closed:
            raise UserError(f"node {self.path(node)} already has a move or is terminal")
        return nd

    def _player_index(self, player: str | int) -> int:
        if isinstance(player, str):
            if player not in self.players:
                raise UserError(f"unknown player {player!r}; expected one of {list(self.players)!r}")
            return self.players.index(player)
        if isinstance(player, (int, np.integer)) and 0 <= player < len(self.players):
            return int(player)
        raise UserError(
            f"player must be a name in {list(self.players)!r} or a 0-based index below "
            f"{len(self.players)}, got {player!r}"
        )

    def _payoffs(self, node: int, payoffs: Sequence[object] | None, outcome: str) -> None:
        if payoffs is None:
            return
        if len(payoffs) != len(self.players):
            raise UserError(
                f"node {self.path(node)}: expected {len(self.players)} payoffs (one per player), "
                f"got {len(payoffs)}: {list(payoffs)!r}"
            )
        self._nodes[node].outcome = (outcome, tuple(number_text(x) for x in payoffs))

    def _expand(self, node: int, n: int) -> tuple[int, ...]:
        start = len(self._nodes)
        self._nodes.extend(_Node(parent=node, action=a) for a in range(n))
        kids = tuple(range(start, start + n))
        self._nodes[node].children = list(kids)
        return kids

    # ---- public API ------------------------------------------------------------------------
    def decision(
        self,
        node: int,
        player: str | int,
        infoset: Hashable,
        actions: Sequence[str],
        *,
        label: str = "",
        payoffs: Sequence[object] | None = None,
        outcome: str = "",
    ) -> tuple[int, ...]:
        """Make `node` a move of `player` at information set `infoset` (any hashable key, per
        player). Returns the child handles in action order. Nodes sharing a key must offer the
        same actions. `payoffs` attaches an interior outcome (summed along the path)."""
        nd = self._open(node)
        p = self._player_index(player)
        acts = tuple(str(a) for a in actions)
        if len(acts) < 1:
            raise UserError(f"node {self.path(node)}: a decision needs at least one action")
        prev = self._infosets.setdefault((p, infoset), acts)
        if prev != acts:
            raise UserError(
                f"node {self.path(node)}: infoset {infoset!r} of player {self.players[p]!r} has actions "
                f"{list(prev)!r}, here {list(acts)!r}"
            )
        nd.kind, nd.player, nd.key, nd.actions, nd.label, nd.closed = PLAYER, p, infoset, acts, label, True
        self._payoffs(node, payoffs, outcome)
        return self._expand(node, len(acts))

    def chance(
        self,
        node: int,
        actions: Sequence[str],
        probs: Sequence[object],
        *,
        label: str = "",
        payoffs: Sequence[object] | None = None,
        outcome: str = "",
    ) -> tuple[int, ...]:
        """Make `node` a chance move; `probs` (exact numbers preferred) must sum to 1."""
        nd = self._open(node)
        acts = tuple(str(a) for a in actions)
        if len(acts) != len(probs) or not acts:
            raise UserError(
                f"node {self.path(node)}: expected one probability per action ({len(acts)}), got {len(probs)}"
            )
        texts = tuple(number_text(x) for x in probs)
        vals = [Fraction(t) for t in texts]
        if any(v < 0 for v in vals) or abs(float(sum(vals)) - 1.0) > 1e-12:
            raise UserError(
                f"node {self.path(node)}: chance probabilities must be ≥ 0 and sum to 1, got {list(texts)!r}"
            )
        nd.kind, nd.actions, nd.probs, nd.label, nd.closed = CHANCE, acts, texts, label, True
        self._payoffs(node, payoffs, outcome)
        return self._expand(node, len(acts))

    def terminal(
        self, node: int, payoffs: Sequence[object] | None, *, outcome: str = "", label: str = ""
    ) -> None:
        """Close `node` as a terminal node with the given payoffs (one per player; None = zeros)."""
        nd = self._open(node)
        nd.kind, nd.label, nd.closed = TERMINAL, label, True
        self._payoffs(node, payoffs, outcome)

    def build(self) -> Game:
        """Lay the tree out in preorder and return the frozen `Game`."""
        nodes = self._nodes
        order: list[int] = []
        stack = [0]
        while stack:  # iterative DFS: deep trees must not hit the recursion limit
            i = stack.pop()
            nd = nodes[i]
            if not nd.closed:
                raise UserError(
                    f"node {self.path(i)} is open: give it a decision, a chance move or a terminal payoff"
                )
            order.append(i)
            stack.extend(reversed(nd.children))
        new = {old: k for k, old in enumerate(order)}
        n = len(order)
        n_players = len(self.players)
        parent = np.empty(n, np.int64)
        kind = np.empty(n, np.int8)
        player = np.full(n, -1, np.int32)
        infoset = np.full(n, -1, np.int32)
        action = np.empty(n, np.int32)
        chance_inf = np.full(n, -1, np.int32)
        node_outcome = np.zeros(n, np.int32)
        inf_index: dict[tuple[int, Hashable], int] = {}
        inf_player: list[int] = []
        inf_number: list[int] = []
        inf_labels: list[str] = []
        act_labels: list[tuple[str, ...]] = []
        per_player = [0] * n_players
        ch_labels: list[tuple[str, ...]] = []
        ch_probs: list[tuple[str, ...]] = []
        out_names: list[str] = []
        out_text: list[tuple[str, ...]] = []
        labels: list[str] = []
        for k, old in enumerate(order):
            nd = nodes[old]
            parent[k] = new[nd.parent] if nd.parent >= 0 else -1
            kind[k] = nd.kind
            action[k] = nd.action
            labels.append(nd.label)
            if nd.kind == PLAYER:
                key = (nd.player, nd.key)
                if key not in inf_index:
                    inf_index[key] = len(inf_player)
                    per_player[nd.player] += 1
                    inf_player.append(nd.player)
                    inf_number.append(per_player[nd.player])
                    inf_labels.append(nd.key if isinstance(nd.key, str) else "")
                    act_labels.append(nd.actions)
                player[k] = nd.player
                infoset[k] = inf_index[key]
            elif nd.kind == CHANCE:
                chance_inf[k] = len(ch_labels)
                ch_labels.append(nd.actions)
                ch_probs.append(nd.probs)
            if nd.outcome is not None:
                out_names.append(nd.outcome[0])
                out_text.append(nd.outcome[1])
                node_outcome[k] = len(out_names)
        return assemble_game(
            title=self.title,
            comment=self.comment,
            players=self.players,
            parent=parent,
            kind=kind,
            player=player,
            infoset=infoset,
            action=action,
            infoset_player=np.array(inf_player, np.int32),
            infoset_number=np.array(inf_number, np.int32),
            infoset_labels=tuple(inf_labels),
            action_labels=tuple(act_labels),
            chance_infoset=chance_inf,
            chance_infoset_number=np.arange(1, len(ch_labels) + 1, dtype=np.int32),
            chance_infoset_label=("",) * len(ch_labels),
            chance_action_labels=tuple(ch_labels),
            chance_prob_text=tuple(ch_probs),
            node_label=tuple(labels),
            node_outcome=node_outcome,
            outcome_names=tuple(out_names),
            outcome_payoff_text=tuple(out_text),
        )
