"""Standard games as `Game` objects: Kuhn and Leduc poker, a centipede, random trees for benchmarks.

`kuhn_poker()` and `leduc_poker()` follow OpenSpiel's rules exactly (same chance order, action order
and information sets), so node and infoset counts and values can be compared with OpenSpiel.
`random_game()` builds large trees directly as arrays (no per-node Python work beyond labels) for
scaling benchmarks. `random_generic_game()` draws generic games with imperfect information, perfect
recall, chance moves and 2+ players (random shapes, real-valued payoffs): the test bed of the logit
tracer's stop rule against Gambit.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from crisislab.efg._builder import GameBuilder
from crisislab.efg._game import CHANCE, PLAYER, TERMINAL, Game, assemble_game
from crisislab.errors import UserError

_KUHN_CARDS = ("J", "Q", "K")


def kuhn_poker() -> Game:
    """Kuhn poker (Kuhn 1950) as in OpenSpiel: ante 1, bet 1, cards J < Q < K.

    Chance deals player 1's card (1/3 each), then player 2's (1/2 each); actions are "Pass", "Bet".
    The value for player 1 is −1/18.
    """
    b = GameBuilder(["Player 1", "Player 2"], title="Kuhn poker")
    deals = b.chance(b.root, list(_KUHN_CARDS), [Fraction(1, 3)] * 3)
    for c1, n1 in enumerate(deals):
        others = [c for c in range(3) if c != c1]
        deals2 = b.chance(n1, [_KUHN_CARDS[c] for c in others], [Fraction(1, 2)] * 2)
        for c2, n2 in zip(others, deals2):
            win = 1 if c1 > c2 else -1
            k1, k2 = _KUHN_CARDS[c1], _KUHN_CARDS[c2]
            p, bet = b.decision(n2, 0, (k1, ""), ["Pass", "Bet"])
            pp, pb = b.decision(p, 1, (k2, "p"), ["Pass", "Bet"])
            b.terminal(pp, [win, -win])
            pbp, pbb = b.decision(pb, 0, (k1, "pb"), ["Pass", "Bet"])
            b.terminal(pbp, [-1, 1])
            b.terminal(pbb, [2 * win, -2 * win])
            bp, bb = b.decision(bet, 1, (k2, "b"), ["Pass", "Bet"])
            b.terminal(bp, [1, -1])
            b.terminal(bb, [2 * win, -2 * win])
    return b.build()


def leduc_poker() -> Game:
    """Leduc poker (Southey et al. 2005) as in OpenSpiel's default `leduc_poker`.

    Six cards (J, Q, K in two suits; card id c has rank c // 2), ante 1, raise 2 in round 1 and 4 in
    round 2, at most 2 raises per round, fold only when facing a bet; actions in order
    Fold, Call, Raise. Chance deals player 1's card, player 2's, and after round 1 a public card.
    A pair with the public card wins, else the higher rank, equal ranks split.
    """
    b = GameBuilder(["Player 1", "Player 2"], title="Leduc poker")
    names = [f"{'JQK'[c // 2]}{'sh'[c % 2]}" for c in range(6)]

    def showdown(cards: tuple[int, int], public: int, contrib: tuple[int, int]) -> list[int]:
        def strength(c: int) -> int:
            return 10 + c // 2 if c // 2 == public // 2 else c // 2

        s0, s1 = strength(cards[0]), strength(cards[1])
        if s0 == s1:
            return [0, 0]
        w = 0 if s0 > s1 else 1
        pay = [0, 0]
        pay[w], pay[1 - w] = contrib[1 - w], -contrib[1 - w]
        return pay

    def betting(node, cards, public, rnd, contrib, raises, hist, history_all):
        cur = len(hist) % 2  # player 1 opens each round
        stakes = max(contrib)
        acts = []
        if stakes > contrib[cur]:
            acts.append("Fold")
        acts.append("Call")
        if raises < 2:
            acts.append("Raise")
        key = (cards[cur], public, history_all + hist)
        kids = b.decision(node, cur, key, acts)
        for a, kid in zip(acts, kids):
            c = list(contrib)
            if a == "Fold":
                pay = [0, 0]
                pay[cur], pay[1 - cur] = -c[cur], c[cur]
                b.terminal(kid, pay)
                continue
            if a == "Call":
                c[cur] = stakes
                h = hist + "c"
                if len(h) >= 2:  # round over: check-check or a call of a raise
                    if rnd == 1:
                        deal_public(kid, cards, tuple(c), history_all + h + "/")
                    else:
                        b.terminal(kid, showdown(cards, public, tuple(c)))
                    continue
                betting(kid, cards, public, rnd, tuple(c), raises, h, history_all)
            else:
                c[cur] = stakes + (2 if rnd == 1 else 4)
                betting(kid, cards, public, rnd, tuple(c), raises + 1, hist + "r", history_all)

    def deal_public(node, cards, contrib, history_all):
        rest = [c for c in range(6) if c not in cards]
        kids = b.chance(node, [names[c] for c in rest], [Fraction(1, 4)] * 4)
        for pub, kid in zip(rest, kids):
            betting(kid, cards, pub, 2, contrib, 0, "", history_all)

    deal1 = b.chance(b.root, names, [Fraction(1, 6)] * 6)
    for c1, n1 in enumerate(deal1):
        rest = [c for c in range(6) if c != c1]
        deal2 = b.chance(n1, [names[c] for c in rest], [Fraction(1, 5)] * 5)
        for c2, n2 in zip(rest, deal2):
            betting(n2, (c1, c2), -1, 1, (1, 1), 0, "", "")
    return b.build()


def centipede(n_moves: int = 6, *, growth: int = 2) -> Game:
    """Rosenthal's centipede: players alternate Take/Pass; the pot grows each Pass.

    Taking at move k (0-based) pays `growth^(k+2)` to the mover and `growth^k` to the other; after
    the last Pass the last mover gets `growth^n_moves` and the other `growth^(n_moves+2)`. The
    unique subgame-perfect equilibrium takes at every move (backward induction).
    """
    b = GameBuilder(["Player 1", "Player 2"], title=f"Centipede ({n_moves} moves)")
    node = b.root
    for k in range(n_moves):
        mover = k % 2
        take, pas = b.decision(node, mover, f"move {k + 1}", ["Take", "Pass"])
        big, small = growth ** (k + 2), growth**k
        pay = [0, 0]
        pay[mover], pay[1 - mover] = big, small
        b.terminal(take, pay)
        node = pas
    last = (n_moves - 1) % 2
    pay = [0, 0]
    pay[last], pay[1 - last] = growth**n_moves, growth ** (n_moves + 2)
    b.terminal(node, pay)
    return b.build()


def random_game(
    depth: int,
    *,
    branching: int = 2,
    seed: int | np.random.Generator = 0,
    observe: bool = False,
    chance_root: bool = True,
) -> Game:
    """A complete `branching`-ary two-player zero-sum tree of the given depth, built as arrays.

    Players alternate by depth (the root is a uniform chance move if `chance_root`). With
    `observe=False` a player sees only their own past moves (imperfect information, perfect
    recall); with `observe=True` every node is its own infoset (perfect information). Terminal
    payoffs are integers in [−10, 10] drawn from `seed`. Nodes: (b^(depth+1) − 1)/(b − 1).
    """
    rng = np.random.default_rng(seed)
    bb = int(branching)
    D = int(depth)
    sizes = [bb**d for d in range(D + 1)]
    sub = [(bb ** (h + 1) - 1) // (bb - 1) for h in range(D + 1)]  # size of a subtree of height h
    n = sum(sizes)
    mover = [(-1 if (chance_root and k == 0) else (k - (1 if chance_root else 0)) % 2) for k in range(D)]
    # per level (level order): preorder index, own-history codes per player, infoset keys
    pre = [np.zeros(1, np.int64)]
    codes = [np.zeros((1, 2), np.int64)]
    for d in range(1, D + 1):
        j = np.arange(sizes[d], dtype=np.int64)
        par, a = j // bb, j % bb
        pre.append(pre[-1][par] + 1 + a * sub[D - d])
        c = codes[-1][par].copy()
        m = mover[d - 1]
        if m >= 0:
            c[:, m] = c[:, m] * bb + a + 1  # base-(b+1) digits keep histories of different length apart
        codes.append(c)
    parent = np.empty(n, np.int64)
    kind = np.empty(n, np.int8)
    player = np.full(n, -1, np.int32)
    action = np.empty(n, np.int32)
    inf_key = np.full(n, -1, np.int64)
    chance_inf = np.full(n, -1, np.int32)
    for d in range(D + 1):
        idx = pre[d]
        j = np.arange(sizes[d], dtype=np.int64)
        parent[idx] = pre[d - 1][j // bb] if d else -1
        action[idx] = j % bb if d else -1
        if d == D:
            kind[idx] = TERMINAL
            continue
        m = mover[d]
        if m < 0:
            kind[idx] = CHANCE
            chance_inf[idx] = 0
            continue
        kind[idx] = PLAYER
        player[idx] = m
        key = j if observe else codes[d][:, m]
        inf_key[idx] = (key * (D + 1) + d) * 2 + m
    dec = np.flatnonzero(kind == PLAYER)
    uniq, first = np.unique(inf_key[dec], return_index=True)
    order = np.argsort(first)  # number infosets by first appearance in preorder, like the reader
    rank = np.empty(uniq.size, np.int64)
    rank[order] = np.arange(uniq.size)
    infoset = np.full(n, -1, np.int32)
    infoset[dec] = rank[np.searchsorted(uniq, inf_key[dec])]
    n_inf = uniq.size
    inf_player = np.empty(n_inf, np.int32)
    inf_player[infoset[dec]] = player[dec]
    inf_number = np.empty(n_inf, np.int32)
    for p in range(2):
        m = inf_player == p
        inf_number[m] = np.arange(1, m.sum() + 1)
    acts = tuple(str(a) for a in range(bb))
    T = np.flatnonzero(kind == TERMINAL)
    u = rng.integers(-10, 11, size=T.size)
    node_outcome = np.zeros(n, np.int32)
    node_outcome[T] = np.arange(1, T.size + 1)
    has_chance = bool(chance_root and D > 0)
    return assemble_game(
        title=f"random depth {D} branching {bb}",
        comment="",
        players=("Player 1", "Player 2"),
        parent=parent,
        kind=kind,
        player=player,
        infoset=infoset,
        action=action,
        infoset_player=inf_player,
        infoset_number=inf_number,
        infoset_labels=("",) * n_inf,
        action_labels=(acts,) * n_inf,
        chance_infoset=chance_inf,
        chance_infoset_number=np.array([1] if has_chance else [], np.int32),
        chance_infoset_label=("",) * int(has_chance),
        chance_action_labels=(acts,) * int(has_chance),
        chance_prob_text=((f"1/{bb}",) * bb,) * int(has_chance),
        node_label=("",) * n,
        node_outcome=node_outcome,
        outcome_names=("",) * T.size,
        outcome_payoff_text=tuple((str(x), str(-x)) for x in u.tolist()),
        chance_prob_values=np.full(bb if has_chance else 0, 1.0 / bb),
        outcome_values=np.stack([u, -u], axis=1).astype(np.float64),
    )


def random_generic_game(
    n_nodes: int,
    *,
    n_players: int = 2,
    seed: int | np.random.Generator = 0,
    chance: float = 0.15,
    public: float = 0.25,
    ternary: float = 0.0,
) -> Game:
    """A random generic extensive game with imperfect information, perfect recall and chance moves.

    Exactly `n_nodes` nodes (odd when `ternary` = 0). The shape grows from the root by expanding
    a uniformly drawn leaf into 2 children (3 with probability `ternary`), so depths vary like a
    random binary search tree. Each interior node is a chance move with probability `chance` (the
    root always is), else a move of a uniformly drawn player; chance probabilities are drawn as
    k/Σk with k ∈ {1, …, 9}. Each move is public with probability `public` (every later mover sees
    its mover and action) and otherwise seen by its mover only (a chance move: by one drawn player).
    A decision node's information set is its player's view of the path — the ordered list of their
    own (information set, action) pairs and of the moves they saw — so nodes with the same view share
    an infoset and perfect recall holds by construction. Terminal payoffs are drawn uniformly from
    [−10, 10] with six decimals (generic: no ties with probability one).
    """
    if n_nodes < 1 or (ternary == 0.0 and n_nodes % 2 == 0):
        raise UserError(f"n_nodes = {n_nodes}: expected an odd number ≥ 1 for binary trees (or ternary > 0)")
    if n_players < 1:
        raise UserError(f"n_players = {n_players}: expected ≥ 1")
    rng = np.random.default_rng(seed)
    # shape: children lists by node id (creation order), grown from random leaves
    kids: list[list[int]] = [[]]
    leaves = [0]
    total = 1
    while total < n_nodes:
        left = n_nodes - total
        b = 3 if (ternary > 0 and rng.random() < ternary) else 2
        if left in (2, 3):
            b = left
        elif left - b == 1:
            b = 2 if b == 3 else 3
        leaf = leaves.pop(int(rng.integers(len(leaves))))
        new = list(range(total, total + b))
        kids[leaf] = new
        kids.extend([] for _ in new)
        leaves.extend(new)
        total += b
    names = [f"Player {p + 1}" for p in range(n_players)]
    bld = GameBuilder(names, title=f"random generic game, {n_nodes} nodes, {n_players} players")

    def grow(src: int, handle: int, views: tuple[tuple, ...], root: bool) -> None:
        ch = kids[src]
        if not ch:
            u = np.round(rng.uniform(-10.0, 10.0, size=n_players), 6)
            bld.terminal(handle, [float(x) for x in u])
            return
        b = len(ch)
        acts = [f"a{k}" for k in range(b)]
        if root or rng.random() < chance:
            k = rng.integers(1, 10, size=b)
            probs = [Fraction(int(x), int(k.sum())) for x in k]
            subs = bld.chance(handle, acts, probs)
            seen_by = None if rng.random() < public else int(rng.integers(n_players))
            for a, h in enumerate(subs):
                ev = ("c", a)
                nv = tuple(v + (ev,) if seen_by is None or seen_by == q else v
                           for q, v in enumerate(views))
                grow(ch[a], h, nv, False)
            return
        p = int(rng.integers(n_players))
        key = (b, views[p])
        subs = bld.decision(handle, p, key, acts)
        pub = rng.random() < public
        for a, h in enumerate(subs):
            nv = tuple(v + (("own", key, a),) if q == p else (v + ((p, a),) if pub else v)
                       for q, v in enumerate(views))
            grow(ch[a], h, nv, False)

    grow(0, bld.root, ((),) * n_players, True)
    return bld.build()
