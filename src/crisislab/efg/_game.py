"""The flat, immutable extensive-form game every exact solver works on.

A `Game` is a structure of read-only numpy arrays over the nodes of the tree, stored in the preorder
of a Gambit `.efg` file (root = node 0), plus tables over decision information sets and flattened
actions. Besides the raw tree it carries the derived arrays the solvers share: tree levels for
top-down / bottom-up passes, chance reach, payoffs summed along each path (Gambit sums interior
outcomes), and the sequence-form view (for every node the last action of each player on its path)
that lets reach probabilities and counterfactual values be computed with a handful of gathers and
`bincount`s instead of a Python loop per node. It also keeps the exact data of the file (labels,
outcome payoffs and chance probabilities as written) so that writing and reading back gives an
identical game. Build one with `GameBuilder`, `read_efg` or `assemble_game`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from fractions import Fraction
from functools import cached_property

import numpy as np

from crisislab.errors import SolverError, UserError

TERMINAL, PLAYER, CHANCE = 0, 1, 2


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Game:
    """A finite extensive-form game as a structure of arrays (all arrays are read-only).

    Per node, shape `(n_nodes,)`, preorder (root = 0, a node's subtree follows it):
      `parent` int64 (−1 at root); `kind` int8 (0 terminal, 1 player, 2 chance); `player` int32
      (0-based, −1 unless a decision node); `infoset` int32 (global decision-infoset index, −1
      otherwise); `action` int32 (index of the edge from the parent, −1 at root); `depth` int32;
      `chance_prob` float64 (probability of the edge from a chance parent, else 1.0);
      `reach_chance` float64 (product of chance probabilities on the path); `in_action` int64 (global
      action index of the edge into the node, −1 if the parent is chance or the node is the root);
      `child_start` int64 / `n_children` int32: the children of node `i` are
      `children[child_start[i] : child_start[i] + n_children[i]]`, in action order.
    `payoff`: float64 `(n_nodes, n_players)`, for terminal nodes the sum of all outcomes on the path,
      zeros elsewhere.
    `node_seq`: int64 `(n_nodes, n_players)`: sequence of player p at the node = global index of p's
      last action on the path, or `n_actions_total + p` for p's empty sequence.
    `levels`: node index arrays grouped by depth (each sorted, hence grouped by parent).
    `terminals`: int64 indices of terminal nodes.

    Per decision infoset, shape `(n_infosets,)`, in order of first appearance in preorder:
      `infoset_player`, `infoset_number` (as written in the file, per player), `infoset_n_actions`,
      `action_offset` (first global action index), `infoset_parent_seq` (the player's sequence
      leading to it; meaningful under perfect recall), `infoset_own_depth` (number of the player's
      own moves before it); labels `infoset_labels`, `action_labels`.
    Per action, shape `(n_actions_total,)`: `action_infoset`, `action_player`.

    Exact data for faithful `.efg` round trips: `node_label`, `node_outcome` (0 = none, k = outcome
    k, 1-based), `outcome_names`, `outcome_payoff_text` (payoffs as written), the chance-infoset
    table (`chance_infoset` per node, `chance_infoset_number`, `chance_infoset_label`,
    `chance_action_labels`, `chance_prob_text`).
    """

    title: str
    comment: str
    players: tuple[str, ...]
    # per node
    parent: np.ndarray
    kind: np.ndarray
    player: np.ndarray
    infoset: np.ndarray
    action: np.ndarray
    depth: np.ndarray
    chance_prob: np.ndarray
    reach_chance: np.ndarray
    in_action: np.ndarray
    child_start: np.ndarray
    n_children: np.ndarray
    children: np.ndarray
    payoff: np.ndarray
    node_seq: np.ndarray
    levels: tuple[np.ndarray, ...]
    terminals: np.ndarray
    # per decision infoset / action
    infoset_player: np.ndarray
    infoset_number: np.ndarray
    infoset_n_actions: np.ndarray
    action_offset: np.ndarray
    infoset_parent_seq: np.ndarray
    infoset_own_depth: np.ndarray
    infoset_labels: tuple[str, ...]
    action_labels: tuple[tuple[str, ...], ...]
    action_infoset: np.ndarray
    action_player: np.ndarray
    # exact file data
    node_label: tuple[str, ...]
    node_outcome: np.ndarray
    outcome_names: tuple[str, ...]
    outcome_payoff_text: tuple[tuple[str, ...], ...]
    chance_infoset: np.ndarray
    chance_infoset_number: np.ndarray
    chance_infoset_label: tuple[str, ...]
    chance_action_labels: tuple[tuple[str, ...], ...]
    chance_prob_text: tuple[tuple[str, ...], ...]
    # perfect recall
    perfect_recall: bool
    recall_violation: str

    __hash__ = None  # type: ignore[assignment]

    # ---- sizes -------------------------------------------------------------------------------
    @property
    def n_players(self) -> int:
        return len(self.players)

    @property
    def n_nodes(self) -> int:
        return int(self.parent.shape[0])

    @property
    def n_infosets(self) -> int:
        return int(self.infoset_player.shape[0])

    @property
    def n_actions_total(self) -> int:
        return int(self.action_infoset.shape[0])

    @property
    def max_actions(self) -> int:
        return int(self.infoset_n_actions.max()) if self.n_infosets else 0

    @property
    def n_seq(self) -> int:
        """Length of sequence-indexed arrays: every action plus one empty sequence per player."""
        return self.n_actions_total + self.n_players

    # ---- properties of the game ---------------------------------------------------------------
    @cached_property
    def is_perfect_information(self) -> bool:
        """True if every decision infoset holds exactly one node."""
        dec = self.infoset[self.kind == PLAYER]
        return bool(np.bincount(dec, minlength=self.n_infosets).max(initial=1) <= 1)

    @cached_property
    def is_constant_sum(self) -> bool:
        """True if payoffs sum to the same constant at every terminal node (tolerance 1e-9 × range)."""
        s = self.payoff[self.terminals].sum(axis=1)
        scale = max(1.0, float(np.abs(self.payoff).max(initial=0.0)))
        return bool(s.size == 0 or np.ptp(s) <= 1e-9 * scale)

    @cached_property
    def is_zero_sum(self) -> bool:
        """True if payoffs sum to 0 at every terminal node (tolerance 1e-9 × payoff range)."""
        s = self.payoff[self.terminals].sum(axis=1)
        scale = max(1.0, float(np.abs(self.payoff).max(initial=0.0)))
        return bool(np.all(np.abs(s) <= 1e-9 * scale))

    @cached_property
    def payoff_range(self) -> float:
        """max − min terminal payoff over all players (1.0 if the game has constant payoffs)."""
        p = self.payoff[self.terminals]
        r = float(p.max() - p.min()) if p.size else 0.0
        return r if r > 0 else 1.0

    @cached_property
    def n_chance_nodes(self) -> int:
        return int(np.count_nonzero(self.kind == CHANCE))

    @cached_property
    def infosets_per_player(self) -> np.ndarray:
        """int64 `(n_players,)`: number of decision infosets of each player."""
        return np.bincount(self.infoset_player, minlength=self.n_players)

    # ---- cached helpers for level passes ---------------------------------------------------------
    @cached_property
    def seq_levels(self) -> tuple[np.ndarray, ...]:
        """Infoset indices grouped by own depth (all players together), shallowest first."""
        if self.n_infosets == 0:
            return ()
        order = np.argsort(self.infoset_own_depth, kind="stable")
        counts = np.bincount(self.infoset_own_depth)
        return tuple(_ro(x) for x in np.split(order, np.cumsum(counts)[:-1]) if x.size)

    @cached_property
    def action_seq_levels(self) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
        """Per own-depth level: (actions, their parent sequences, reduceat starts per infoset).

        `actions` concatenates the action blocks of that level's infosets (ascending infoset order),
        `starts` are the block offsets inside `actions`, ready for `np.maximum.reduceat`.
        """
        out = []
        for infs in self.seq_levels:
            n = self.infoset_n_actions[infs]
            starts = np.concatenate(([0], np.cumsum(n)[:-1]))
            acts = np.repeat(self.action_offset[infs], n) + (np.arange(n.sum()) - np.repeat(starts, n))
            out.append((_ro(acts), _ro(self.infoset_parent_seq[self.action_infoset[acts]]), _ro(starts)))
        return tuple(out)

    @cached_property
    def edge_index(self) -> np.ndarray:
        """int64 `(n_nodes,)`: index into `append(sigma, 1.0)` giving each node's strategy factor."""
        return _ro(np.where(self.in_action >= 0, self.in_action, self.n_actions_total))

    @cached_property
    def level_groups(self) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
        """Per depth ≥ 1: (nodes, reduceat starts of runs with equal parent, those parents)."""
        out = []
        for lvl in self.levels[1:]:
            par = self.parent[lvl]
            brk = np.flatnonzero(np.diff(par)) + 1
            starts = np.concatenate(([0], brk))
            out.append((lvl, _ro(starts), _ro(par[starts])))
        return tuple(out)

    # ---- checks ------------------------------------------------------------------------------
    def require_perfect_recall(self, what: str = "this solver") -> None:
        """Raise `SolverError` naming the offending infoset if the game lacks perfect recall."""
        if not self.perfect_recall:
            raise SolverError(
                f"{what} needs a game with perfect recall: {self.recall_violation}. "
                "Split the information set so that each player remembers their own past moves."
            )

    def infoset_key(self, i: int) -> tuple[int, int]:
        """(1-based player number, infoset number as in the file) of global infoset `i`."""
        return int(self.infoset_player[i]) + 1, int(self.infoset_number[i])

    # ---- equality ----------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Game):
            return NotImplemented
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray):
                if a.shape != b.shape or a.dtype != b.dtype or not np.array_equal(a, b):
                    return False
            elif f.name == "levels":
                if len(a) != len(b) or any(not np.array_equal(x, y) for x, y in zip(a, b)):
                    return False
            elif a != b:
                return False
        return True

    def _repr_svg_(self) -> str:
        """The tree drawn (`crisislab.efg.draw_tree(self).svg`), so that a notebook shows the game."""
        from crisislab.efg import draw_tree

        return draw_tree(self).svg

    def __repr__(self) -> str:
        return (
            f"Game(title={self.title!r}, players={self.players!r}, n_nodes={self.n_nodes}, "
            f"n_infosets={self.n_infosets}, n_actions_total={self.n_actions_total})"
        )


def _parse_number(text: str) -> Fraction:
    return Fraction(text)


def _depth_by_doubling(parent: np.ndarray) -> np.ndarray:
    """Depth of every node by pointer doubling: O(n log depth), no loop per node."""
    n = parent.shape[0]
    dist = (parent >= 0).astype(np.int64)
    anc = parent.copy()
    while True:
        m = np.flatnonzero(anc >= 0)
        if m.size == 0:
            break
        a = anc[m]
        dist[m] += dist[a]
        anc[m] = anc[a]
    return dist.astype(np.int32) if n else dist.astype(np.int32)


def assemble_game(
    *,
    title: str,
    comment: str,
    players: tuple[str, ...],
    parent: np.ndarray,
    kind: np.ndarray,
    player: np.ndarray,
    infoset: np.ndarray,
    action: np.ndarray,
    infoset_player: np.ndarray,
    infoset_number: np.ndarray,
    infoset_labels: tuple[str, ...],
    action_labels: tuple[tuple[str, ...], ...],
    chance_infoset: np.ndarray,
    chance_infoset_number: np.ndarray,
    chance_infoset_label: tuple[str, ...],
    chance_action_labels: tuple[tuple[str, ...], ...],
    chance_prob_text: tuple[tuple[str, ...], ...],
    node_label: tuple[str, ...],
    node_outcome: np.ndarray,
    outcome_names: tuple[str, ...],
    outcome_payoff_text: tuple[tuple[str, ...], ...],
    chance_prob_values: np.ndarray | None = None,
    outcome_values: np.ndarray | None = None,
) -> Game:
    """Build a `Game` from raw per-node arrays in preorder and derive everything else, vectorized.

    The caller (builder, reader, random generator) guarantees preorder (`parent[i] < i`, a node's
    children in action order) and consistent tables; structural mismatches raise `UserError`.
    `chance_prob_values` (flattened per chance infoset) and `outcome_values` `(n_outcomes, n_players)`
    may be passed to skip parsing the texts (fast path for large generated games).
    """
    n = int(parent.shape[0])
    n_players = len(players)
    parent = np.asarray(parent, dtype=np.int64)
    kind = np.asarray(kind, dtype=np.int8)
    player = np.asarray(player, dtype=np.int32)
    infoset = np.asarray(infoset, dtype=np.int32)
    action = np.asarray(action, dtype=np.int32)
    infoset_player = np.asarray(infoset_player, dtype=np.int32)
    infoset_number = np.asarray(infoset_number, dtype=np.int32)
    chance_infoset = np.asarray(chance_infoset, dtype=np.int32)
    chance_infoset_number = np.asarray(chance_infoset_number, dtype=np.int32)
    node_outcome = np.asarray(node_outcome, dtype=np.int32)
    if n == 0 or parent[0] != -1 or np.any(parent[1:] < 0) or np.any(parent[1:] >= np.arange(1, n)):
        raise UserError("game arrays are not a tree in preorder (parent[0] must be -1, parent[i] < i)")

    n_inf = int(infoset_player.shape[0])
    inf_n_act = np.array([len(a) for a in action_labels], dtype=np.int32).reshape(n_inf)
    action_offset = np.zeros(n_inf, dtype=np.int64)
    if n_inf:
        action_offset[1:] = np.cumsum(inf_n_act)[:-1]
    n_act = int(inf_n_act.sum())
    action_infoset = np.repeat(np.arange(n_inf, dtype=np.int32), inf_n_act)
    action_player = infoset_player[action_infoset] if n_inf else np.zeros(0, np.int32)

    # children in CSR: preorder lists the children of a node in action order, so a stable sort by
    # parent groups them contiguously and keeps that order.
    n_children = np.bincount(parent[1:], minlength=n).astype(np.int32)
    children = (np.argsort(parent[1:], kind="stable") + 1).astype(np.int64)
    child_start = np.zeros(n, dtype=np.int64)
    child_start[1:] = np.cumsum(n_children)[:-1]

    # structural consistency
    dec = np.flatnonzero(kind == PLAYER)
    ch = np.flatnonzero(kind == CHANCE)
    if np.any(n_children[kind == TERMINAL] != 0):
        raise UserError("a terminal node has children")
    if dec.size and np.any(n_children[dec] != inf_n_act[infoset[dec]]):
        raise UserError("a decision node's number of children differs from its infoset's actions")
    if dec.size and np.any(player[dec] != infoset_player[infoset[dec]]):
        raise UserError("a decision node's player differs from its infoset's player")
    ch_n_act = np.array([len(a) for a in chance_action_labels], dtype=np.int64)
    if ch.size and np.any(n_children[ch] != ch_n_act[chance_infoset[ch]]):
        raise UserError("a chance node's number of children differs from its actions")

    # edge attributes
    par = parent[1:]
    in_action = np.full(n, -1, dtype=np.int64)
    from_dec = np.flatnonzero(kind[par] == PLAYER) + 1
    in_action[from_dec] = action_offset[infoset[parent[from_dec]]] + action[from_dec]
    if chance_prob_values is None:
        chance_prob_values = np.array(
            [float(_parse_number(t)) for probs in chance_prob_text for t in probs], dtype=np.float64
        )
    ch_off = np.zeros(len(chance_action_labels), dtype=np.int64)
    if len(chance_action_labels):
        ch_off[1:] = np.cumsum(ch_n_act)[:-1]
    chance_prob = np.ones(n, dtype=np.float64)
    from_ch = np.flatnonzero(kind[par] == CHANCE) + 1
    chance_prob[from_ch] = chance_prob_values[ch_off[chance_infoset[parent[from_ch]]] + action[from_ch]]

    if outcome_values is None:
        outcome_values = np.array(
            [[float(_parse_number(t)) for t in row] for row in outcome_payoff_text], dtype=np.float64
        ).reshape(len(outcome_payoff_text), n_players)
    ov = np.vstack([np.zeros((1, n_players)), np.asarray(outcome_values, dtype=np.float64)])
    node_pay = ov[node_outcome]

    # levels and top-down passes (one vectorized step per depth)
    depth = _depth_by_doubling(parent)
    order = np.argsort(depth, kind="stable")
    counts = np.bincount(depth)
    levels = tuple(_ro(x.astype(np.int64)) for x in np.split(order, np.cumsum(counts)[:-1]))
    reach_chance = np.ones(n, dtype=np.float64)
    cum_pay = node_pay.copy()
    node_seq = np.empty((n, n_players), dtype=np.int64)
    node_seq[0] = n_act + np.arange(n_players)
    own_count = np.zeros((n, n_players), dtype=np.int32)
    for lvl in levels[1:]:
        p = parent[lvl]
        reach_chance[lvl] = reach_chance[p] * chance_prob[lvl]
        cum_pay[lvl] += cum_pay[p]
        node_seq[lvl] = node_seq[p]
        own_count[lvl] = own_count[p]
        m = lvl[in_action[lvl] >= 0]
        pl = player[parent[m]]
        node_seq[m, pl] = in_action[m]
        own_count[m, pl] += 1
    terminals = np.flatnonzero(kind == TERMINAL).astype(np.int64)
    payoff = np.zeros((n, n_players), dtype=np.float64)
    payoff[terminals] = cum_pay[terminals]

    # perfect recall: every node of an infoset has the same own sequence (by induction this makes
    # the whole own history equal; it also rules out absent-mindedness).
    own_seq = node_seq[dec, player[dec]] if dec.size else np.zeros(0, np.int64)
    infoset_parent_seq = np.full(n_inf, -1, dtype=np.int64)
    infoset_own_depth = np.zeros(n_inf, dtype=np.int32)
    perfect_recall, violation = True, ""
    if dec.size:
        first = np.full(n_inf, -1, dtype=np.int64)
        first[infoset[dec][::-1]] = dec[::-1]  # first node of each infoset in preorder
        infoset_parent_seq = node_seq[first, infoset_player]
        infoset_own_depth = own_count[first, infoset_player]
        bad = np.flatnonzero(own_seq != infoset_parent_seq[infoset[dec]])
        if bad.size:
            perfect_recall = False
            node = int(dec[bad[0]])
            i = int(infoset[node])
            violation = (
                f"player {int(infoset_player[i]) + 1} ({players[infoset_player[i]]!r}) infoset "
                f"{int(infoset_number[i])} holds nodes {int(first[i]) + 1} and {node + 1} (in file order) whose own past "
                f"moves differ ({_seq_name(int(infoset_parent_seq[i]), n_act, action_infoset, action_offset, action_labels, infoset_number)}"
                f" vs {_seq_name(int(own_seq[bad[0]]), n_act, action_infoset, action_offset, action_labels, infoset_number)})"
            )

    return Game(
        title=title,
        comment=comment,
        players=tuple(players),
        parent=_ro(parent),
        kind=_ro(kind),
        player=_ro(player),
        infoset=_ro(infoset),
        action=_ro(action),
        depth=_ro(depth),
        chance_prob=_ro(chance_prob),
        reach_chance=_ro(reach_chance),
        in_action=_ro(in_action),
        child_start=_ro(child_start),
        n_children=_ro(n_children),
        children=_ro(children),
        payoff=_ro(payoff),
        node_seq=_ro(node_seq),
        levels=levels,
        terminals=_ro(terminals),
        infoset_player=_ro(infoset_player),
        infoset_number=_ro(infoset_number),
        infoset_n_actions=_ro(inf_n_act),
        action_offset=_ro(action_offset),
        infoset_parent_seq=_ro(infoset_parent_seq.astype(np.int64)),
        infoset_own_depth=_ro(infoset_own_depth.astype(np.int32)),
        infoset_labels=tuple(infoset_labels),
        action_labels=tuple(tuple(a) for a in action_labels),
        action_infoset=_ro(action_infoset),
        action_player=_ro(action_player.astype(np.int32)),
        node_label=tuple(node_label),
        node_outcome=_ro(node_outcome),
        outcome_names=tuple(outcome_names),
        outcome_payoff_text=tuple(tuple(r) for r in outcome_payoff_text),
        chance_infoset=_ro(chance_infoset),
        chance_infoset_number=_ro(chance_infoset_number),
        chance_infoset_label=tuple(chance_infoset_label),
        chance_action_labels=tuple(tuple(a) for a in chance_action_labels),
        chance_prob_text=tuple(tuple(p) for p in chance_prob_text),
        perfect_recall=perfect_recall,
        recall_violation=violation,
    )


def _seq_name(seq: int, n_act: int, action_infoset, action_offset, action_labels, infoset_number) -> str:
    if seq >= n_act:
        return "no move yet"
    i = int(action_infoset[seq])
    label = action_labels[i][seq - int(action_offset[i])]
    return f"last move {label!r} at their infoset {int(infoset_number[i])}"
