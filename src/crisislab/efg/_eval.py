"""Evaluate any behaviour profile on a `Game`: reach, expected payoffs, action values, regrets.

A behaviour profile `sigma` is a float64 array of shape `(n_actions_total,)`: the probability of
each action at its information set, one block per infoset (blocks sum to 1). Everything here works
in the sequence form, which is exact for games with perfect recall: a profile's realization plan
`r` (shape `(n_seq,)` = every action plus one empty sequence per player) is built with one gather
per own-depth level, the probability of reaching a terminal node is `chance × Π_p r[seq_p]`, and
counterfactual values are a `bincount` over terminals followed by a bottom-up pass over own-depth
levels. No Python loop runs per node; the loops are over levels (a handful) and players.

Conventions (documented because solvers and tests depend on them):
- `action_values` are conditional on reaching the infoset, with beliefs proportional to the
  counterfactual reach (chance × other players' probabilities). At an infoset that σ makes
  unreachable for the others, beliefs fall back to the counterfactual reach of the uniform profile
  (chance × uniform moves of the others) while continuation values still use σ: the limit of the
  uniform tremble σ_ε = (1−ε)σ + ε·uniform as ε → 0 when all nodes are equally far from σ's path.
- `max_regret` is Gambit 17's `MixedBehaviorProfile.max_regret`: the largest gain any one player
  can make by a unilateral deviation, `max_p (BR_p − u_p)` (0 exactly at a Nash equilibrium).
- `agent_max_regret` is Gambit 17's `MixedBehaviorProfile.agent_max_regret`: the largest gain from
  changing the move at one infoset, conditional on reaching it; infosets σ reaches with probability
  0 count 0 (Gambit's convention; `unreached="uniform"` counts them with the fallback beliefs).
- `exploitability` is OpenSpiel's: `nash_conv / n_players` with `nash_conv = Σ_p (BR_p − u_p)`.
"""

from __future__ import annotations

import numpy as np

from crisislab._compiled import call
from crisislab.efg._game import PLAYER, Game
from crisislab.errors import UserError

PROFILE_TOL = 1e-6


def check_profile(game: Game, sigma: object, *, name: str = "sigma") -> np.ndarray:
    """Return `sigma` as a float64 `(n_actions_total,)` array, or raise `UserError` saying what is wrong."""
    s = np.asarray(sigma, dtype=np.float64)
    if s.shape != (game.n_actions_total,):
        raise UserError(
            f"{name}: expected a behaviour profile of shape ({game.n_actions_total},) "
            f"(one probability per action), got shape {s.shape}"
        )
    if s.size == 0:
        return s
    if not np.all(np.isfinite(s)) or s.min() < -PROFILE_TOL:
        k = int(np.flatnonzero(~np.isfinite(s) | (s < -PROFILE_TOL))[0])
        raise UserError(f"{name}[{k}] = {float(s[k])!r}: probabilities must be finite and ≥ 0")
    sums = np.add.reduceat(s, game.action_offset)
    bad = np.flatnonzero(np.abs(sums - 1.0) > PROFILE_TOL)
    if bad.size:
        i = int(bad[0])
        pl, num = game.infoset_key(i)
        raise UserError(
            f"{name}: probabilities at player {pl} infoset {num} sum to {float(sums[i])!r}, expected 1"
        )
    return s


def uniform_profile(game: Game) -> np.ndarray:
    """The profile playing every action of an infoset with equal probability, `(n_actions_total,)`."""
    return 1.0 / game.infoset_n_actions[game.action_infoset].astype(np.float64)


def profile_to_nested(game: Game, sigma: np.ndarray) -> dict[int, dict[int, list[float]]]:
    """`{player number (1-based): {infoset number as in the file: [prob per action]}}`."""
    sigma = np.asarray(sigma, dtype=np.float64)
    out: dict[int, dict[int, list[float]]] = {p + 1: {} for p in range(game.n_players)}
    for i in range(game.n_infosets):
        pl, num = game.infoset_key(i)
        a = int(game.action_offset[i])
        out[pl][num] = [float(x) for x in sigma[a : a + int(game.infoset_n_actions[i])]]
    return out


def profile_from_nested(game: Game, nested: dict) -> np.ndarray:
    """Inverse of `profile_to_nested` (keys may be ints or strings, as in JSON)."""
    sigma = np.full(game.n_actions_total, np.nan)
    for i in range(game.n_infosets):
        pl, num = game.infoset_key(i)
        block = nested.get(pl, nested.get(str(pl), {}))
        probs = block.get(num, block.get(str(num)))
        if probs is None:
            raise UserError(f"profile: no probabilities for player {pl} infoset {num}")
        n = int(game.infoset_n_actions[i])
        if len(probs) != n:
            raise UserError(f"profile: player {pl} infoset {num} has {n} actions, got {len(probs)} probabilities")
        a = int(game.action_offset[i])
        sigma[a : a + n] = probs
    return check_profile(game, sigma, name="profile")


# ---- sequence-form kernels ---------------------------------------------------------------------


def realization_plan(game: Game, sigma: np.ndarray) -> np.ndarray:
    """Realization probability of every sequence, float64 `(n_seq,)`.

    `r[a]` is the product of the owner's own probabilities along the sequence ending with action
    `a`; `r[n_actions_total + p] = 1` (empty sequences). Needs perfect recall.
    """
    r = np.ones(game.n_seq, dtype=np.float64)
    for acts, par, _ in game.action_seq_levels:
        r[acts] = r[par] * sigma[acts]
    return r


def _exclusive_product(R: np.ndarray) -> np.ndarray:
    """`out[:, p] = Π_{q≠p} R[:, q]` without division (zeros allowed). Shapes `(m, n_players)`."""
    m, k = R.shape
    if k == 1:
        return np.ones_like(R)
    if k == 2:
        return R[:, ::-1].copy()
    left = np.ones_like(R)
    right = np.ones_like(R)
    left[:, 1:] = np.cumprod(R[:, :-1], axis=1)
    right[:, :-1] = np.cumprod(R[:, :0:-1], axis=1)[:, ::-1]
    return left * right


def terminal_reach(game: Game, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From a realization plan: (reach `(n_T,)`, counterfactual reach per player `(n_T, n_players)`)."""
    T = game.terminals
    R = r[game.node_seq[T]]
    c = game.reach_chance[T]
    excl = _exclusive_product(R)
    cf = c[:, None] * excl
    return cf[:, 0] * R[:, 0], cf


def _bottom_up(game: Game, v: np.ndarray, sigma: np.ndarray | None) -> np.ndarray:
    """Fold sequence values upward in place: mean under `sigma`, or best response if `sigma` is None.

    `v`: float64 `(n_seq,)` holding terminal contributions per sequence on entry; on exit `v[a]` is
    the counterfactual value of action `a` (under σ or best responses below it) and
    `v[n_actions_total + p]` player p's total (expected payoff, or best-response value).
    """
    n_seq = game.n_seq
    for acts, par, starts in reversed(game.action_seq_levels):
        if sigma is None:
            best = np.maximum.reduceat(v[acts], starts)
            v += np.bincount(par[starts], weights=best, minlength=n_seq)
        else:
            v += np.bincount(par, weights=sigma[acts] * v[acts], minlength=n_seq)
    return v


def _terminal_contributions(game: Game, cf: np.ndarray) -> np.ndarray:
    """`g[s] = Σ_z cf_p(z) u_p(z)` over terminals whose last move of p is sequence s, `(n_seq,)`."""
    U = game.payoff[game.terminals]
    return np.bincount(game.node_seq[game.terminals].ravel(), weights=(cf * U).ravel(), minlength=game.n_seq)


def expected_payoffs(game: Game, sigma: np.ndarray) -> np.ndarray:
    """Expected payoff of each player under `sigma`, float64 `(n_players,)`."""
    sigma = check_profile(game, sigma)
    game.require_perfect_recall("expected_payoffs")
    reach, _ = terminal_reach(game, realization_plan(game, sigma))
    return reach @ game.payoff[game.terminals]


def counterfactual_values(game: Game, sigma: np.ndarray) -> np.ndarray:
    """Counterfactual value of every sequence, float64 `(n_seq,)` (see `_bottom_up`).

    `v[a] = Σ_{h∈I(a)} π_{−p}(h) · E[u_p | h, a, σ]`: not conditional on reaching the infoset.
    """
    sigma = check_profile(game, sigma)
    game.require_perfect_recall("counterfactual_values")
    _, cf = terminal_reach(game, realization_plan(game, sigma))
    return _bottom_up(game, _terminal_contributions(game, cf), sigma)


def infoset_cf_reach(game: Game, r: np.ndarray) -> np.ndarray:
    """Counterfactual reach of every decision infoset (chance × others' probabilities), `(n_infosets,)`."""
    dec = np.flatnonzero(game.kind == PLAYER)
    excl = _exclusive_product(r[game.node_seq[dec]])
    w = game.reach_chance[dec] * excl[np.arange(dec.size), game.player[dec]]
    return np.bincount(game.infoset[dec], weights=w, minlength=game.n_infosets)


def node_values(game: Game, sigma: np.ndarray) -> np.ndarray:
    """Expected payoff of every player from every node on under σ, float64 `(n_nodes, n_players)`.

    A bottom-up pass over tree levels (`np.add.reduceat` over runs of siblings).
    """
    sigma = check_profile(game, sigma)
    w = np.append(sigma, 1.0)[game.edge_index] * game.chance_prob
    V = game.payoff.copy()
    for lvl, starts, parents in reversed(game.level_groups):
        V[parents] += np.add.reduceat(w[lvl, None] * V[lvl], starts, axis=0)
    return V


def action_values(game: Game, sigma: np.ndarray) -> np.ndarray:
    """Expected payoff to the mover of each action, conditional on reaching its infoset, `(n_actions_total,)`.

    Beliefs come from σ and chance; unreachable infosets use the fallback in the module docstring.
    """
    sigma = check_profile(game, sigma)
    game.require_perfect_recall("action_values")
    r = realization_plan(game, sigma)
    _, cf = terminal_reach(game, r)
    v = _bottom_up(game, _terminal_contributions(game, cf), sigma)
    reach = infoset_cf_reach(game, r)
    q = np.zeros(game.n_actions_total)
    ok = reach[game.action_infoset] > 0
    q[ok] = v[: game.n_actions_total][ok] / reach[game.action_infoset][ok]
    if not ok.all():
        q[~ok] = _fallback_values(game, sigma, ~ok)
    return q


def _fallback_values(game: Game, sigma: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Action values at infosets σ does not reach: beliefs from the uniform profile (see module doc)."""
    V = node_values(game, sigma)
    dec = np.flatnonzero(game.kind == PLAYER)
    r_u = realization_plan(game, uniform_profile(game))
    excl = _exclusive_product(r_u[game.node_seq[dec]])
    b = game.reach_chance[dec] * excl[np.arange(dec.size), game.player[dec]]
    inf = game.infoset[dec]
    tot = np.bincount(inf, weights=b, minlength=game.n_infosets)
    # nodes whose infoset has no uniform reach either (zero-probability chance edges): equal weights
    zero = tot[inf] <= 0
    b = np.where(zero, 1.0, b)
    tot = np.bincount(inf, weights=b, minlength=game.n_infosets)
    # per (node, action): value of the child for the node's player
    n_act = game.n_children[dec]
    node_rep = np.repeat(dec, n_act)
    k = np.arange(n_act.sum()) - np.repeat(np.cumsum(n_act) - n_act, n_act)
    child = game.children[game.child_start[node_rep] + k]
    glob = game.action_offset[game.infoset[node_rep]] + k
    val = V[child, game.player[node_rep]] * np.repeat(b / tot[inf], n_act)
    q = np.bincount(glob, weights=val, minlength=game.n_actions_total)
    return q[mask]


def best_response_values(game: Game, sigma: np.ndarray) -> np.ndarray:
    """Each player's best-response payoff against the others' σ, float64 `(n_players,)`."""
    sigma = check_profile(game, sigma)
    game.require_perfect_recall("best_response_values")
    _, cf = terminal_reach(game, realization_plan(game, sigma))
    v = _bottom_up(game, _terminal_contributions(game, cf), None)
    return v[game.n_actions_total :].copy()


def max_regret(game: Game, sigma: np.ndarray) -> float:
    """Gambit 17's max regret: `max_p (BR_p − u_p)` ≥ 0, zero exactly at a Nash equilibrium."""
    sigma = check_profile(game, sigma)
    reg = best_response_values(game, sigma) - expected_payoffs(game, sigma)
    return float(max(0.0, reg.max(initial=0.0)))


def nash_conv(game: Game, sigma: np.ndarray) -> float:
    """`Σ_p (BR_p − u_p)` (OpenSpiel's NashConv)."""
    sigma = check_profile(game, sigma)
    return float(np.sum(best_response_values(game, sigma) - expected_payoffs(game, sigma)))


def exploitability(game: Game, sigma: np.ndarray) -> float:
    """OpenSpiel's exploitability `nash_conv / n_players` (for two-player zero-sum: mean BR value)."""
    return nash_conv(game, sigma) / game.n_players


def agent_regrets(game: Game, sigma: np.ndarray) -> np.ndarray:
    """Gambit 17's regret at every decision infoset, float64 `(n_infosets,)`.

    `max_a Q_a − Σ_a σ_a Q_a` with Q conditional on reaching the infoset (beliefs ∝ realization
    probability), computed as Gambit computes it in floating point; an infoset σ reaches with
    probability exactly 0 (including after underflow) has regret 0, Gambit's convention.
    """
    from crisislab.efg import _logit_kernels as K

    sigma = check_profile(game, sigma)
    game.require_perfect_recall("agent_regrets")
    dec = np.flatnonzero(game.kind == PLAYER)
    members = dec[np.argsort(game.infoset[dec], kind="stable")].astype(np.int64)
    mem_start = np.zeros(game.n_infosets + 1, dtype=np.int64)
    mem_start[1:] = np.cumsum(np.bincount(game.infoset[dec], minlength=game.n_infosets))
    i64 = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
    return call(
        K.agent_regrets, np.asarray(sigma, dtype=np.float64), i64(game.parent), i64(game.in_action),
        np.asarray(game.chance_prob, dtype=np.float64), np.asarray(game.payoff, dtype=np.float64),
        i64(game.n_children), i64(game.child_start), i64(game.children), i64(game.player), mem_start, members,
        i64(game.action_offset), i64(game.infoset_n_actions), outputs=0,
    )


def agent_max_regret(game: Game, sigma: np.ndarray, *, unreached: str = "zero") -> float:
    """Largest gain from changing the move at a single infoset, conditional on reaching it (≥ 0).

    `unreached="zero"` (default): Gambit 17's `agent_max_regret()`, infosets that σ reaches with
    probability 0 count as regret 0 (see `agent_regrets`). `unreached="uniform"`: every infoset
    counts, with the belief fallback of `action_values` at unreached ones (in a perfect-information
    game: regret 0 iff σ is subgame perfect).
    """
    sigma = check_profile(game, sigma)
    if game.n_actions_total == 0:
        return 0.0
    if unreached == "zero":
        return float(max(0.0, agent_regrets(game, sigma).max(initial=0.0)))
    if unreached != "uniform":
        raise UserError(f"unreached = {unreached!r}: expected 'zero' (Gambit's convention) or 'uniform'")
    q = action_values(game, sigma)
    best = np.maximum.reduceat(q, game.action_offset)
    mean = np.add.reduceat(sigma * q, game.action_offset)
    return float(max(0.0, (best - mean).max()))
