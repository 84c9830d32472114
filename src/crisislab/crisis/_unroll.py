"""Unrolling a compiled crisis of short horizon into an exact extensive-form game (`.efg`).

Chance deals each two-type actor's type from the prior at the root (one chance node per actor);
then play follows the compiled tables: a decision node per strategic move (information set = the
mover's own type and the public history of actions and public states), a chance node per move's
compiled branch list (next public state, or the outcome that ends the game). Payoffs are the
discounted sums of the branches' conditional expected payoffs, paid at the leaves; replacing a
path's payoffs by their expectation given the public history leaves every information set's
expected values — hence the logit QRE — unchanged. Moves with a single available action are
passed through without a node. `crisis_profile` evaluates a crisis-engine `Solution` on the
same tree (beliefs updated along each public history with the solution's own strategies), so the
two engines can be compared information set by information set.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from crisislab.crisis._compile import CompiledGame
from crisislab.errors import SolverError

__all__ = ["MAX_UNROLL_NODES", "Unrolled", "crisis_profile", "unroll"]

MAX_UNROLL_NODES = 2_000_000


@dataclass(frozen=True)
class Unrolled:
    """An unrolled crisis: the exact `Game` and, per decision infoset label, where it comes from.

    `infosets`: label → (decision d, local state s, mover m, own type θ_m, available action
    indices of the mover's ladder); the label is also the infoset's label in the `.efg` file.
    `scale`: float64 `(n_actors,)` factor applied to each actor's payoffs.
    """

    game: object
    infosets: dict
    scale: np.ndarray


def _count_nodes(cg: CompiledGame) -> float:
    """Upper bound on the tree size, to refuse trees that cannot be built."""
    total = 1.0
    layer = {int(s): p for s, p in zip(cg.init_nxt, cg.init_prob, strict=True)}
    count = {s: 1.0 for s in layer}
    for d in range(cg.n_decisions):
        A = cg.avail[d].shape[1]
        nxt_count: dict = {}
        for s, c in count.items():
            for a in np.nonzero(cg.avail[d][s])[0]:
                r = s * A + a
                for j in range(cg.row_ptr[d][r], cg.row_ptr[d][r + 1]):
                    total += c * 2
                    s2 = int(cg.nxt[d][j])
                    if s2 >= 0:
                        nxt_count[s2] = nxt_count.get(s2, 0.0) + c
        count = nxt_count
    return total * float(np.prod(cg.n_types))


def unroll(cg: CompiledGame, *, scale: np.ndarray | None = None, title: str = "") -> Unrolled:
    """Build the exact game tree of the compiled crisis (use a short horizon).

    `scale`: optional float64 `(n_actors,)` multipliers of each actor's payoffs (e.g. λ_i / λ to
    compare per-actor precisions with a single-λ logit solver). Raises `SolverError` when the tree
    would exceed `MAX_UNROLL_NODES` nodes.
    """
    from crisislab.efg import GameBuilder

    model = cg.model
    n = cg.n_actors
    n_types = cg.n_types
    scale = np.ones(n) if scale is None else np.asarray(scale, dtype=np.float64)
    est = _count_nodes(cg)
    if est > MAX_UNROLL_NODES:
        raise SolverError(
            f"horizon: the unrolled tree of {model.scenario_id} at horizon {model.horizon} would have about "
            f"{est:.3g} nodes (limit {MAX_UNROLL_NODES:,}); use a shorter horizon"
        )
    b = GameBuilder(list(model.actors), title=title or f"{model.scenario_id} (horizon {model.horizon})",
                    comment="unrolled by crisislab.crisis: types dealt by chance; infosets = own type + public history")
    infosets: dict = {}
    ladders = [model.ladder(j) for j in range(n)]

    def play(node: int, d: int, s: int, hist: str, types: tuple, acc: np.ndarray, f: float) -> None:
        if d >= cg.n_decisions:
            raise SolverError("internal: play continued past the last decision")
        m = int(cg.dec_mover[d])
        A = cg.avail[d].shape[1]
        av = np.nonzero(cg.avail[d][s])[0]
        label = f"{model.actors[m]}:{model.types[m][types[m]]}|{hist}"
        if av.size > 1:
            kids = b.decision(node, m, label, [model.actions[ladders[m][a]].id for a in av])
            infosets[label] = (d, s, m, types[m], tuple(int(a) for a in av))
        else:
            kids = (node,)
        for kid, a in zip(kids, av, strict=True):
            r = s * A + int(a)
            lo, hi = int(cg.row_ptr[d][r]), int(cg.row_ptr[d][r + 1])
            branch_nodes = (kid,) if hi - lo == 1 else b.chance(
                kid, [_branch_label(cg, d, j) for j in range(lo, hi)], _exact_probs(cg.prob[d][lo:hi])
            )
            aid = model.actions[ladders[m][int(a)]].id
            for bn, j in zip(branch_nodes, range(lo, hi), strict=True):
                rew = cg.reward[d][j][np.arange(n), list(types)]
                acc2 = acc + f * rew * scale
                nx = int(cg.nxt[d][j])
                if nx < 0:
                    b.terminal(bn, [float(v) for v in acc2], outcome=cg.outcomes[-1 - nx])
                else:
                    play(bn, d + 1, nx, f"{hist}{aid}>{nx};", types, acc2, f * float(cg.disc[d]))

    def deal(node: int, j: int, types: tuple) -> None:
        if j == n:
            lo = cg.init_nxt.shape[0]
            kids = (node,) if lo == 1 else b.chance(node, [f"s{int(s)}" for s in cg.init_nxt], _exact_probs(cg.init_prob))
            for kid, k in zip(kids, range(lo), strict=True):
                rew = cg.init_reward[k][np.arange(n), list(types)] * scale
                play(kid, 0, int(cg.init_nxt[k]), f"s{int(cg.init_nxt[k])};", types, rew, 1.0)
            return
        if n_types[j] == 1:
            deal(node, j + 1, (*types, 0))
            return
        kids = b.chance(node, list(model.types[j]), _exact_probs(model.true_prior[j].tolist()))
        for t, kid in enumerate(kids):
            deal(kid, j + 1, (*types, t))

    deal(b.root, 0, ())
    return Unrolled(game=b.build(), infosets=infosets, scale=scale)


def _exact_probs(probs) -> list[Fraction]:
    """Decimal fractions that sum to exactly 1 (Gambit checks chance sums in exact arithmetic):
    each probability's shortest decimal, the last one taking the remainder."""
    fr = [Fraction(repr(float(p))) for p in probs[:-1]]
    last = 1 - sum(fr, Fraction(0))
    if last < 0:
        raise SolverError(f"internal: chance probabilities {list(probs)} sum above 1")
    return [*fr, last]


def _branch_label(cg: CompiledGame, d: int, j: int) -> str:
    nx = int(cg.nxt[d][j])
    return f"s{nx}" if nx >= 0 else f"end:{cg.outcomes[-1 - nx]}"


def crisis_profile(sol, unrolled: Unrolled, perceiver: int = 0) -> np.ndarray:
    """The crisis engine's strategies at every decision infoset of the unrolled game.

    Beliefs along each public history start at the true prior and are updated by Bayes' rule with
    the solution's own (interpolated) strategies. Returns float64 `(n_actions_total,)` in the
    game's action order, for comparison with an exact-engine profile.
    """
    cg = sol.compiled
    game = unrolled.game
    n_types = cg.n_types
    labels = game.infoset_labels
    out = np.zeros(int(game.action_offset[-1] + game.infoset_n_actions[-1])) if len(labels) else np.zeros(0)
    where = {lab: i for i, lab in enumerate(labels)}
    model = cg.model
    x0 = np.array([p[0] for p in model.true_prior], dtype=np.float64)

    # walk public histories once (types do not change the public tree)
    def walk(d: int, s: int, hist: str, x: np.ndarray) -> None:
        m = int(cg.dec_mover[d])
        ladder = model.ladder(m)
        A = cg.avail[d].shape[1]
        av = np.nonzero(cg.avail[d][s])[0]
        sig = sol.strategy(perceiver, d, np.array([s]), x[None, :])[0]  # (K_m, A)
        if av.size > 1:
            for th in range(n_types[m]):
                lab = f"{model.actors[m]}:{model.types[m][th]}|{hist}"
                i = where[lab]
                off = int(game.action_offset[i])
                p = sig[th, av]
                out[off : off + av.size] = p / p.sum()
        for a in av:
            x2 = x.copy()
            if n_types[m] == 2 and av.size > 1:
                den = x[m] * sig[0, a] + (1 - x[m]) * sig[1, a]
                x2[m] = x[m] * sig[0, a] / den if den > 0 else x[m]
            r = s * A + int(a)
            aid = model.actions[ladder[int(a)]].id
            for j in range(int(cg.row_ptr[d][r]), int(cg.row_ptr[d][r + 1])):
                nx = int(cg.nxt[d][j])
                if nx >= 0:
                    walk(d + 1, nx, f"{hist}{aid}>{nx};", x2)

    for k in range(cg.init_nxt.shape[0]):
        s0 = int(cg.init_nxt[k])
        walk(0, s0, f"s{s0};", x0.copy())
    return out
