"""Exact solvers on a `Game`: backward induction (subgame perfection) and CFR+.

Each solver checks its arguments first, runs a vectorized kernel, and returns a frozen `Solution`
recording the method, its parameters, the profile, expected payoffs, max regret and the solve time.

- `solve_spe`: backward induction for games of perfect information, one vectorized step per tree
  level (argmax over each run of siblings with `np.maximum.reduceat`). Ties go to the first action
  in file order. Imperfect information raises `SolverError` pointing to CFR+ or logit.
- `solve_cfr` / `CFRPlus`: CFR+ (Tammelin 2014; Tammelin et al. 2015) with alternating updates,
  regret matching+ (regrets clipped at 0) and linear averaging (iteration t weighs t), in the
  sequence form: one iteration is a few gathers and `bincount`s over terminal nodes plus a pass
  over own-depth levels. Meant for two-player zero-sum (or constant-sum) games; elsewhere it runs but
  warns (`GeneralSumWarning`), since its average need not approach an equilibrium.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from crisislab.efg._eval import (
    _exclusive_product,
    expected_payoffs,
    exploitability,
    max_regret,
    nash_conv,
)
from crisislab.efg._game import CHANCE, PLAYER, Game, _ro
from crisislab.errors import SolverError

# The most CFR+ iterations one solve may ask for: each walks the whole tree in Python (about 75 µs
# on a 13-node game, more on larger ones), so 10⁷ already take a quarter of an hour on the smallest
# tree; more cannot finish in a useful time. For a precise equilibrium, logit or spe are the tools.
MAX_CFR_ITERATIONS = 10_000_000


class GeneralSumWarning(UserWarning):
    """CFR+ was used on a game that is not two-player constant-sum: no convergence guarantee."""


@dataclass(frozen=True, eq=False)
class Solution:
    """What a solver returns: the profile and how it was obtained.

    `profile`: float64 `(n_actions_total,)` behaviour profile (read-only); `payoffs`: `(n_players,)`;
    `max_regret`: Gambit's max regret of `profile` (0 at a Nash equilibrium); `seconds`: solve time
    alone; `params`: the solver's parameters; `info`: extra diagnostics (e.g. exploitability).
    """

    method: str
    profile: np.ndarray
    payoffs: np.ndarray
    max_regret: float
    seconds: float
    params: Mapping[str, object] = field(default_factory=dict)
    info: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "profile", _ro(np.asarray(self.profile, dtype=np.float64).copy()))
        object.__setattr__(self, "payoffs", _ro(np.asarray(self.payoffs, dtype=np.float64).copy()))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))


# ---- backward induction -------------------------------------------------------------------------


def solve_spe(game: Game) -> Solution:
    """Subgame-perfect equilibrium of a perfect-information game by backward induction.

    Returns a pure profile (ties broken towards the first action in file order).
    """
    if not game.is_perfect_information:
        dec = game.infoset[game.kind == PLAYER]
        counts = np.bincount(dec, minlength=game.n_infosets)
        i = int(np.argmax(counts))
        pl, num = game.infoset_key(i)
        raise SolverError(
            f"backward induction (method 'spe') needs perfect information, but player {pl} "
            f"infoset {num} holds {int(counts[i])} nodes; use method 'cfr' (two-player zero-sum) "
            "or 'logit' for games of imperfect information"
        )
    t0 = time.perf_counter()
    V, sigma = _backward_induction(game)
    seconds = time.perf_counter() - t0
    return Solution(
        method="spe",
        profile=sigma,
        payoffs=V[0],
        max_regret=max_regret(game, sigma),
        seconds=seconds,
        params={},
        info={"tie_break": "first action"},
    )


def _backward_induction(game: Game) -> tuple[np.ndarray, np.ndarray]:
    """Values `(n_nodes, n_players)` and pure profile `(n_actions_total,)`, one step per level."""
    V = game.payoff.copy()
    sigma = np.zeros(game.n_actions_total)
    kind, player = game.kind, game.player
    for lvl, starts, parents in reversed(game.level_groups):
        pk = kind[parents]
        run_len = np.diff(np.append(starts, lvl.size))
        # chance parents: probability-weighted sum of the children's values
        ch = pk == CHANCE
        if ch.any():
            w = game.chance_prob[lvl, None] * V[lvl]
            sums = np.add.reduceat(w, starts, axis=0)
            V[parents[ch]] = sums[ch]
        dec = pk == PLAYER
        if dec.any():
            mover = np.repeat(player[parents], run_len)
            own = V[lvl, np.maximum(mover, 0)]
            best = np.maximum.reduceat(own, starts)
            pos = np.arange(lvl.size)
            cand = np.where(own >= np.repeat(best, run_len), pos, lvl.size)
            first = np.minimum.reduceat(cand, starts)  # first maximiser in each run
            sel = first[dec]
            V[parents[dec]] = V[lvl[sel]]
            sigma[game.in_action[lvl[sel]]] = 1.0
    return V, sigma


# ---- CFR+ ----------------------------------------------------------------------------------------


class CFRPlus:
    """CFR+ state for one game: cumulative regrets+, linearly weighted average strategy.

    `regrets`, `avg_weights`: float64 `(n_actions_total,)`. Call `iterate(n)`, then read
    `average_profile()` (the output with guarantees) or `current_profile()`.
    """

    def __init__(self, game: Game) -> None:
        game.require_perfect_recall("CFR+")
        if game.n_actions_total == 0:
            raise SolverError("CFR+ needs at least one decision; this game has none")
        self.game = game
        self.iteration = 0
        self.regrets = np.zeros(game.n_actions_total)
        self.avg_weights = np.zeros(game.n_actions_total)
        T = game.terminals
        self._seq = game.node_seq[T]  # (n_T, n_players)
        self._chance = game.reach_chance[T]
        self._util = game.payoff[T]
        n_a = game.n_actions_total
        self._ninf_act = game.infoset_n_actions[game.action_infoset].astype(np.float64)
        # per player: its actions, and its own-depth levels (actions, parents, infoset starts)
        self._player_actions = []
        self._player_levels = []
        for p in range(game.n_players):
            self._player_actions.append(np.flatnonzero(game.action_player == p))
            lv = []
            for acts, par, starts in game.action_seq_levels:
                m = game.action_player[acts] == p
                if m.any():
                    lv.append((acts[m], par[m]))
            self._player_levels.append(lv)
        self._all_levels = [(a, p) for a, p, _ in game.action_seq_levels]
        self._n_seq = game.n_seq
        self._n_a = n_a

    def current_profile(self) -> np.ndarray:
        """Regret-matching+ profile from the current regrets, `(n_actions_total,)`."""
        g = self.game
        tot = np.add.reduceat(self.regrets, g.action_offset)[g.action_infoset]
        return np.where(tot > 0, self.regrets / np.where(tot > 0, tot, 1.0), 1.0 / self._ninf_act)

    def average_profile(self) -> np.ndarray:
        """Average strategy (realization weights × iteration, normalized per infoset)."""
        g = self.game
        tot = np.add.reduceat(self.avg_weights, g.action_offset)[g.action_infoset]
        return np.where(tot > 0, self.avg_weights / np.where(tot > 0, tot, 1.0), 1.0 / self._ninf_act)

    def _realization(self, sigma: np.ndarray) -> np.ndarray:
        r = np.ones(self._n_seq)
        for acts, par in self._all_levels:
            r[acts] = r[par] * sigma[acts]
        return r

    def iterate(self, n: int = 1) -> None:
        """Run `n` iterations (each updates every player once, in turn)."""
        g = self.game
        n_p = g.n_players
        for _ in range(n):
            self.iteration += 1
            t = float(self.iteration)
            for p in range(n_p):
                sigma = self.current_profile()
                r = self._realization(sigma)
                R = r[self._seq]
                if n_p == 2:
                    cf = self._chance * R[:, 1 - p]
                else:
                    cf = self._chance * _exclusive_product(R)[:, p]
                v = np.bincount(self._seq[:, p], weights=cf * self._util[:, p], minlength=self._n_seq)
                for acts, par in reversed(self._player_levels[p]):
                    v += np.bincount(par, weights=sigma[acts] * v[acts], minlength=self._n_seq)
                acts = self._player_actions[p]
                va = v[:self._n_a]
                ev = np.add.reduceat(sigma * va, g.action_offset)[g.action_infoset]
                self.avg_weights[acts] += t * r[acts]
                self.regrets[acts] = np.maximum(self.regrets[acts] + va[acts] - ev[acts], 0.0)


def cfr_iterations_message(name: str, iterations: int) -> str:
    """Why `iterations` above `MAX_CFR_ITERATIONS` is refused."""
    return (
        f"{name}: at most {MAX_CFR_ITERATIONS:,} CFR+ iterations (got {iterations:,}): each walks the whole tree "
        f"(about 75 µs on a 13-node game), so more could not finish in a useful time; for a precise "
        f"equilibrium use the logit method (its tolerance) or spe"
    )


def solve_cfr(game: Game, iterations: int = 1000) -> Solution:
    """Run CFR+ for `iterations` iterations and return the average profile.

    Warns `GeneralSumWarning` unless the game is two-player constant-sum.
    """
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise SolverError(f"iterations must be a positive integer, got {iterations!r}")
    if iterations > MAX_CFR_ITERATIONS:
        raise SolverError(cfr_iterations_message("iterations", int(iterations)))
    if game.n_players != 2 or not game.is_constant_sum:
        warnings.warn(
            GeneralSumWarning(
                f"CFR+ converges to equilibrium only in two-player zero-sum games; this game has "
                f"{game.n_players} players and is {'constant' if game.is_constant_sum else 'general'}-sum, "
                "so the average profile may be far from an equilibrium (check its max_regret)"
            ),
            stacklevel=2,
        )
    t0 = time.perf_counter()
    solver = CFRPlus(game)
    solver.iterate(int(iterations))
    sigma = solver.average_profile()
    seconds = time.perf_counter() - t0
    return Solution(
        method="cfr",
        profile=sigma,
        payoffs=expected_payoffs(game, sigma),
        max_regret=max_regret(game, sigma),
        seconds=seconds,
        params={"iterations": int(iterations), "variant": "CFR+", "alternating": True,
                "averaging": "linear"},
        info={"exploitability": exploitability(game, sigma), "nash_conv": nash_conv(game, sigma)},
    )
