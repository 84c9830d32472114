"""Logit agent quantal response equilibria of an extensive game, and the traced principal branch.

An agent logit QRE at precision λ is a behaviour profile σ with σ_a ∝ exp(λ·Q_a(σ)) at every
decision infoset, Q_a being the mover's expected payoff of action a conditional on reaching the
infoset (McKelvey & Palfrey 1998). Starting from the uniform profile at λ = 0, the QREs form a
curve (the principal branch, Turocy 2005, 2010) whose limit as λ → ∞ is a sequential
equilibrium. `solve_logit` follows that curve with arc-length predictor–corrector continuation
(Allgower & Georg 1990): tangents from the null space of the Jacobian via a bordered system, so
turning points (where λ goes back down) are followed rather than jumped, step sizes controlled by
the corrector's convergence and the angle between tangents, and the orientation kept by the sign
of successive tangents' dot product. By default it stops at the first point whose agent max regret
and Nash max regret, both as Gambit 17 computes them (`crisislab.efg.agent_max_regret`,
`crisislab.efg.max_regret`), are below a tolerance relative to the payoff range: the agent regret
is conditional on reaching each information set, so play where the profile rarely goes must be a
best response too, which the Nash regret (weighted by reach) does not see. An exact QRE meets that
rule by a λ known in advance (`agent_lambda_bound`), which caps the trace.

Bifurcation points of the branch (non-generic: symmetric games) are where det[J; tᵀ], with the
tangent t oriented by continuity, changes sign; at turning points it does not (Allgower & Georg
1990, ch. 8). The tracer checks that sign at every accepted point, locates a change by bisection
on the arc between the two points, records λ there, and continues along the tangent: the
predictor–corrector with the angle test stays on the branch whose tangent is continuous through
the bifurcation point (the one it arrived on), which is again a QRE branch whose limit points are
Nash equilibria. Whether the returned profile meets the tolerance is checked as at any other point.
`logit_qre_at` returns the QRE at a given λ on that same branch (the fixed-λ equations can have
several solutions; continuation from 0 picks the principal one). The equations and Jacobian are
in `_logit_kernels.py`; payoffs are rescaled to [0, 1] internally (λ reported in the game's units).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal, Mapping

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from crisislab.efg import _logit_kernels as K
from crisislab.efg._eval import expected_payoffs
from crisislab.efg._eval import agent_max_regret as _agent_max_regret
from crisislab.efg._eval import max_regret as _max_regret
from crisislab.efg._game import PLAYER, Game
from crisislab.errors import SolverError

# Bordered systems of size N + 1 ≤ COMPILED_MAX are traced entirely in compiled code
# (`_logit_kernels.dense_trace`: Python overhead per step dominated small games) with a
# sparsity-aware dense LU of the system with the normalisers eliminated; above, the same algorithm
# runs in Python around SuperLU, faster for large systems (random generic games of 767 and 1023
# nodes: N = 675, compiled 4.5 s vs sparse 9.8 s; N = 1065, 7.0 s vs 3.7 s; a random Bayesian game
# with N = 762, 43 s vs 54 s). (LAPACK through scipy was measured slower than both: thread start-up
# per small factorisation.)
COMPILED_MAX = 800

LinearSolver = Literal["auto", "compiled", "sparse"]


def _perm_sign(perm: np.ndarray) -> float:
    """Sign (±1.0) of a permutation given as an index array."""
    perm = np.asarray(perm)
    seen = np.zeros(perm.size, dtype=bool)
    sign = 1.0
    for i in range(perm.size):
        if not seen[i]:
            j, length = i, 0
            while not seen[j]:
                seen[j] = True
                j = int(perm[j])
                length += 1
            if length % 2 == 0:
                sign = -sign
    return sign


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class LogitPath:
    """Points of the traced branch: `lam` `(n_points,)` and `profiles` `(n_points, n_actions_total)`."""

    lam: np.ndarray
    profiles: np.ndarray


@dataclass(frozen=True)
class LogitDiagnostics:
    """How the trace went. `converged` is False when a limit was hit; `message` then says what to change.

    `bifurcations`: λ (payoff units⁻¹) of each bifurcation point the trace passed, where the
    determinant of the bordered Jacobian [J; tᵀ] changes sign (located by bisection on the arc
    between the two accepted points around it); the trace continues along the tangent there (see
    the module docstring). `stop_rule`: "agent" (agent and Nash max regret within tolerance),
    "nash" (Nash max regret only) or "lambda" (`logit_qre_at`: the requested λ).
    """

    converged: bool
    message: str
    n_steps: int
    n_rejected_steps: int
    n_corrector_iterations: int
    n_turning_points: int
    max_lambda_seen: float
    arc_length: float
    linear_solver: str
    n_factorizations: int = 0
    bifurcations: tuple[float, ...] = ()
    stop_rule: str = "agent"


@dataclass(frozen=True)
class LogitResult:
    """A point of the logit QRE correspondence.

    `profile`: float64 `(n_actions_total,)` behaviour profile; `lam`: its precision λ (payoff units⁻¹);
    `max_regret`: the Nash max regret of `profile`, Gambit's `max_regret()` (the most any player
    gains by changing their whole strategy; payoff units); `agent_max_regret`: Gambit's
    `agent_max_regret()` (the most a player gains by changing the move at one information set,
    conditional on reaching it; 0 at infosets the profile reaches with probability 0);
    `payoffs`: `(n_players,)`; `method`: "logit"; `parameters`: the arguments used; `seconds`: time
    of the solve in this call; `path`: traced points if `record_path`.
    """

    profile: np.ndarray
    lam: float
    max_regret: float
    payoffs: np.ndarray
    method: str
    parameters: Mapping[str, Any]
    diagnostics: LogitDiagnostics
    path: LogitPath | None = field(default=None)
    agent_max_regret: float = 0.0
    seconds: float = 0.0

    @property
    def nash_max_regret(self) -> float:
        """The Nash max regret (same as `max_regret`)."""
        return self.max_regret

    @property
    def success(self) -> bool:
        return self.diagnostics.converged


class _LogitSystem:
    """H(y) and its Jacobian for one game; `y = (x (n_act), c (n_inf), λ_internal)`, length N + 1.

    λ_internal is λ × payoff range, since payoffs are rescaled to [0, 1] for conditioning.
    """

    def __init__(self, game: Game, linear_solver: LinearSolver = "auto") -> None:
        game.require_perfect_recall("the logit QRE tracer")
        self.game = game
        n_act, n_inf = game.n_actions_total, game.n_infosets
        self.n_act, self.n_inf = n_act, n_inf
        self.N = N = n_act + n_inf
        T = game.terminals
        pay = game.payoff[T]
        self.umin = float(pay.min()) if pay.size else 0.0
        self.scale = game.payoff_range
        P = np.zeros_like(game.payoff)
        P[T] = (pay - self.umin) / self.scale
        self.payoff = P
        # −inf on a chance edge of probability 0: `node_pass` counts such edges apart, so beliefs
        # at an infoset reached only through them stay defined (the limit of a small ε)
        with np.errstate(divide="ignore"):
            self.log_chance = np.log(game.chance_prob)
        self.parent = np.asarray(game.parent, dtype=np.int64)
        self.in_action = np.asarray(game.in_action, dtype=np.int64)
        par = np.maximum(self.parent, 0)
        self.edge_owner = np.where(self.in_action >= 0, game.player[par], -1).astype(np.int64)
        is_dec = np.asarray(game.kind == PLAYER)
        dec = np.flatnonzero(is_dec)
        self.node_infoset = np.asarray(game.infoset, dtype=np.int64)
        self.node_player = np.asarray(game.player, dtype=np.int64)
        order = np.argsort(self.node_infoset[dec], kind="stable")
        self.members = dec[order].astype(np.int64)
        self.mem_start = np.zeros(n_inf + 1, dtype=np.int64)
        self.mem_start[1:] = np.cumsum(np.bincount(self.node_infoset[dec], minlength=n_inf))
        self.inf_player = np.asarray(game.infoset_player, dtype=np.int64)
        self.action_offset = np.asarray(game.action_offset, dtype=np.int64)
        self.inf_n_act = np.asarray(game.infoset_n_actions, dtype=np.int64)
        self.action_infoset = np.asarray(game.action_infoset, dtype=np.int64)
        self.child_start = np.asarray(game.child_start, dtype=np.int64)
        self.children = np.asarray(game.children, dtype=np.int64)

        # Ancestor/descendant pairs and the fixed sparsity pattern of the Jacobian.
        pg, pn, pc = K.build_pairs(self.parent, is_dec)
        # most decision nodes on a root-to-node path (for `_logit_kernels.rounding_floor`)
        self.dec_depth = int(np.bincount(pn, minlength=1).max()) if pn.size else 0
        a_mask = (self.in_action[pn] >= 0) & (self.parent[pn] != pg)
        b_mask = is_dec[pn] & (self.node_player[pg] != self.node_player[pn])
        self.pa_g, self.pa_n, self.pa_c = pg[a_mask], pn[a_mask], pc[a_mask]
        self.pb_g, self.pb_h, self.pb_c = pg[b_mask], pn[b_mask], pc[b_mask]
        rows_a = self.in_action[self.pa_c]
        cols_a = self.in_action[self.pa_n]
        k_b = self.inf_n_act[self.node_infoset[self.pb_h]]
        start_b = np.repeat(self.action_offset[self.node_infoset[self.pb_h]], k_b)
        within = np.arange(int(k_b.sum())) - np.repeat(np.cumsum(k_b) - k_b, k_b)
        rows_b = start_b + within
        cols_b = np.repeat(self.in_action[self.pb_c], k_b)
        acts = np.arange(n_act, dtype=np.int64)
        rows = np.concatenate([rows_a, rows_b, acts, acts, acts, n_act + self.action_infoset])
        cols = np.concatenate(
            [cols_a, cols_b, acts, n_act + self.action_infoset, np.full(n_act, N), acts]
        )
        self.n_entries = rows.size
        if linear_solver == "auto":
            linear_solver = "compiled" if N + 1 <= COMPILED_MAX else "sparse"
        self.linear_solver = linear_solver
        if linear_solver == "compiled":
            self.flat = rows * (N + 1) + cols
        else:
            # Bordered (N+1)×(N+1) matrix in CSC: Jacobian entries, then the border row (row N).
            rows_all = np.concatenate([rows, np.full(N + 1, N)])
            cols_all = np.concatenate([cols, np.arange(N + 1)])
            key = cols_all * (N + 1) + rows_all
            uniq, self.csc_pos = np.unique(key, return_inverse=True)
            self.csc_indices = (uniq % (N + 1)).astype(np.int32)
            self.csc_indptr = np.searchsorted(uniq // (N + 1), np.arange(N + 2)).astype(np.int32)
            self.nnz = uniq.size
        self.S = self.kernel_args()
        # Terminal data for the exact max regret of the stop test (`_logit_kernels.exact_regret`).
        self.R = (
            np.ascontiguousarray(game.node_seq[T], dtype=np.int64),
            np.ascontiguousarray(game.reach_chance[T], dtype=np.float64),
            np.ascontiguousarray(P[T]),
            np.asarray(game.infoset_parent_seq, dtype=np.int64),
            np.ascontiguousarray(game.chance_prob, dtype=np.float64),
            np.asarray(game.n_children, dtype=np.int64),
        )

    # ---- evaluation ---------------------------------------------------------------------------
    def start(self) -> np.ndarray:
        """The λ = 0 solution: uniform σ, c_I = −log |A(I)|. Shape `(N + 1,)`."""
        x = -np.log(self.inf_n_act[self.action_infoset].astype(np.float64))
        c = -np.log(self.inf_n_act.astype(np.float64))
        return np.concatenate([x, c, [0.0]])

    def kernel_args(self) -> tuple:
        """The structure arrays as one tuple, in the order `_logit_kernels.evaluate` unpacks them."""
        flat = self.flat if self.linear_solver != "sparse" else np.zeros(0, dtype=np.int64)
        return (
            self.log_chance, self.parent, self.in_action, self.edge_owner, self.payoff,
            self.inf_player, self.mem_start, self.members, self.action_offset, self.inf_n_act,
            self.child_start, self.children, self.action_infoset, self.node_player,
            self.node_infoset, self.pa_g, self.pa_n, self.pa_c, self.pb_g, self.pb_h, self.pb_c,
            flat.astype(np.int64), np.array([self.dec_depth], dtype=np.int64),
        )

    def evaluate(self, y: np.ndarray, jacobian: bool = True):
        """(H `(N,)`, Jacobian entry values `(n_entries,)`, empty unless `jacobian`)."""
        return K.evaluate(y, self.S, self.n_act, jacobian)

    def factor(self, vals: np.ndarray, border: np.ndarray):
        """Factorise the bordered matrix [J; borderᵀ], `(N+1, N+1)`, with SuperLU.

        Returns (its solve, sign of its determinant, log |det|).
        """
        N = self.N
        data = np.bincount(self.csc_pos, weights=np.concatenate([vals, border]), minlength=self.nnz)
        A = sp.csc_matrix((data, self.csc_indices, self.csc_indptr), shape=(N + 1, N + 1))
        lu = spla.splu(A, permc_spec="COLAMD")
        d = lu.U.diagonal()
        sign = float(np.prod(np.sign(d))) * _perm_sign(lu.perm_r) * _perm_sign(lu.perm_c)
        with np.errstate(divide="ignore"):
            logabs = float(np.sum(np.log(np.abs(d))))
        return lu.solve, sign, logabs

    def regret(self, y: np.ndarray) -> float:
        """Gambit's max regret of the profile at `y`, in rescaled payoff units (compiled)."""
        return float(K.exact_regret(y[: self.n_act], self.R, self.action_offset, self.inf_n_act,
                                    self.inf_player))

    def agent_regret(self, y: np.ndarray) -> float:
        """Gambit's agent max regret of the profile at `y`, in rescaled payoff units (compiled)."""
        return float(K.agent_max_regret_x(np.ascontiguousarray(y[: self.n_act]), self.S, self.R))

    def profile(self, y: np.ndarray) -> np.ndarray:
        """σ `(n_act,)` from the log-profile, renormalised per infoset against rounding."""
        s = np.exp(y[: self.n_act])
        if self.n_inf:
            s = s / np.add.reduceat(s, self.action_offset)[self.action_infoset]
        return s


@dataclass
class _Tracer:
    """Mutable state of one trace (private); the public functions turn it into a frozen result.

    Dense games are traced inside one compiled call (`_logit_kernels.dense_trace`); large games use
    the same algorithm here in Python around SuperLU, whose cost dominates anyway. Per accepted
    step: one Jacobian and factorisation at the new point (its tangent, and the chord Jacobian of
    the next corrector), residual-only corrector iterations, a refactorisation only if they stop
    contracting, and the exact max regret for the stop test.
    """

    system: _LogitSystem
    first_step: float
    max_accel: float
    max_steps: int
    newton_max: int = 8
    contraction_max: float = 0.6
    # A chord iteration (Jacobian from the previous point) must shrink the correction at least this
    # much, else the Jacobian is refreshed where the corrector stands.
    chord_max: float = 0.25
    max_angle_cos: float = math.cos(math.radians(30.0))
    grow_cos: float = math.cos(math.radians(10.0))
    min_step: float = 1e-10
    # Newton stops when the max-norm correction is ≤ tol_abs + tol_rel·λ: λ·Q is computed with
    # relative error ~ε, so log-probabilities cannot be more accurate than ~ε·λ.
    tol_abs: float = 1e-11
    tol_rel: float = 1e-13
    # ... or when the residual is at rounding level, ≤ res_tol·(1 + λ) (terms of H are ~λ).
    res_tol: float = 1e-13
    n_steps: int = 0
    n_rejected: int = 0
    n_newton: int = 0
    n_turns: int = 0
    n_fact: int = 0
    arc: float = 0.0
    lam_max: float = 0.0
    bifurcations: tuple = ()

    # ---- sparse (Python) path: the algorithm of `_logit_kernels.dense_trace` around SuperLU ----
    def _tangent_at(self, y: np.ndarray, prev_t: np.ndarray):
        """Factor [J(y); prev_tᵀ] once: (its solve, z = M⁻¹e_N, unit tangent, (det sign, log|det|))."""
        sysm = self.system
        _, vals = sysm.evaluate(y)
        solve, sign, logabs = sysm.factor(vals, prev_t)
        self.n_fact += 1
        e = np.zeros(sysm.N + 1)
        e[-1] = 1.0
        z = solve(e)
        return solve, z, z / np.linalg.norm(z), (sign, logabs)

    def _chord_correct(self, y0, t, step, solve, z, u, den):
        """Chord Newton on [H = 0; tᵀ(y − y₀) = 0] (see `_logit_kernels.chord_correct`); y or None."""
        sysm = self.system
        y = y0.copy()
        prev = math.inf
        refreshed = False
        it = 0
        while it <= self.newton_max:
            h = sysm.evaluate(y, False)[0]
            self.n_newton += 1
            if not np.all(np.isfinite(h)):
                return None
            floor = float(K.rounding_floor(y, sysm.n_act, sysm.dec_depth))
            if it > 0 and np.abs(h).max() <= self.res_tol * (1.0 + abs(float(y[-1]))) + floor:
                return y
            b = np.append(-h, -float(t @ (y - y0)))
            d = solve(b)
            if u is not None:
                d = d - z * (float(u @ d) / den)
            nd = float(np.abs(d).max())
            tol = self.tol_abs + self.tol_rel * abs(float(y[-1])) + floor
            limit = self.contraction_max if refreshed else self.chord_max
            if nd > tol and (not math.isfinite(nd) or nd > limit * prev or it >= self.newton_max):
                if refreshed:
                    return None
                _, vals = sysm.evaluate(y)
                solve = sysm.factor(vals, t)[0]
                self.n_fact += 1
                u = None
                refreshed = True
                prev = math.inf
                it = 0
                continue
            y += d
            if np.abs(y - y0).max() > max(step, 1e-8):
                return None
            rho = nd / prev
            if nd <= tol or (0.0 < rho < 0.5 and nd * rho / (1.0 - rho) <= tol):
                return y
            prev = nd
            it += 1
        return None

    def correct(self, y: np.ndarray, border: np.ndarray, step: float):
        """Full Newton on [H(y) = 0, borderᵀ(y − y₀) = 0] from y₀ = `y`; None if it fails to contract.

        Used for the final fixed-λ solve of `logit_qre_at`. Returns (corrected point, Jacobian values).
        """
        sysm = self.system
        if sysm.linear_solver == "compiled":
            ok, y_new, vals, it = K.dense_correct(
                y, border, step, sysm.S, sysm.n_act, self.tol_abs, self.tol_rel, self.res_tol,
                self.newton_max, self.contraction_max,
            )
            self.n_newton += it
            return (y_new, vals) if ok else None
        y = y.copy()
        y0 = y.copy()
        prev = math.inf
        for it in range(self.newton_max):
            h, vals = sysm.evaluate(y)
            self.n_newton += 1
            if not np.all(np.isfinite(h)):
                return None
            floor = float(K.rounding_floor(y, sysm.n_act, sysm.dec_depth))
            if it > 0 and np.abs(h).max() <= self.res_tol * (1.0 + abs(float(y[-1]))) + floor:
                return y, vals  # residual at rounding level (see the compiled twin)
            d = sysm.factor(vals, border)[0](np.append(-h, 0.0))
            nd = float(np.abs(d).max())
            tol = self.tol_abs + self.tol_rel * abs(float(y[-1])) + floor
            if not np.isfinite(nd) or (nd > tol and nd > self.contraction_max * prev):
                return None
            y += d
            if np.abs(y - y0).max() > max(step, 1e-8):
                # the corrector moved further than the step itself: likely heading to another branch
                return None
            if nd <= tol:
                return y, vals
            prev = nd
        return None

    def _locate_bifurcation(self, y, t, h, solve, z, u, den, det0, y1, det1) -> float:
        """λ of the bifurcation point between y and y1 (see `_logit_kernels.locate_bifurcation`)."""
        lo, hi = 0.0, h
        a = (float(y[-1]), det0[1])
        b = (float(y1[-1]), det1[1])
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if mid <= lo or mid >= hi:
                break
            ym = self._chord_correct(y + mid * t, t, mid, solve, z, u, den)
            if ym is None:
                break
            _, _, _, dm = self._tangent_at(ym, t)
            if dm[0] == det0[0]:
                lo, a = mid, (float(ym[-1]), dm[1])
            else:
                hi, b = mid, (float(ym[-1]), dm[1])
        return float(K.bifurcation_lambda(a[0], b[0], a[1], b[1]))

    def run(self, mode: int, lam_target: float, regret_target: float, lam_cap: float,
            record: list | None):
        """Trace from λ = 0 until the stop rule of `mode` holds (see `_logit_kernels.dense_trace`).

        Returns (status, final y, previous y).
        """
        sysm = self.system
        y = sysm.start()
        if sysm.linear_solver == "compiled":
            status, y, y_prev, counts, fl, rec, bif = K.dense_trace(
                y, sysm.S, sysm.R, sysm.n_act, self.first_step, self.max_accel, self.max_steps,
                self.tol_abs, self.tol_rel, self.res_tol, self.newton_max, self.contraction_max,
                self.chord_max, self.max_angle_cos, self.grow_cos, self.min_step, mode, lam_target, regret_target,
                lam_cap, record is not None,
            )
            self.n_steps, self.n_rejected, self.n_newton, self.n_turns, self.n_fact = map(int, counts)
            self.arc, self.lam_max = float(fl[0]), float(fl[1])
            if record is not None:
                record.extend(rec)
            self.bifurcations = tuple(float(b) for b in bif)
            return int(status), y, y_prev
        e = np.zeros(sysm.N + 1)
        e[-1] = 1.0
        solve, z, t, det = self._tangent_at(y, e)
        bifs: list[float] = []
        border = e
        if record is not None:
            record.append(y.copy())
        h = self.first_step
        y_prev = y
        while self.n_steps < self.max_steps:
            u = t - border
            den = 1.0 + float(u @ z)
            while h >= self.min_step:
                y_new = self._chord_correct(y + h * t, t, h, solve, z, u, den)
                if y_new is not None:
                    solve2, z2, t2, det2 = self._tangent_at(y_new, t)
                    if float(t2 @ t) >= self.max_angle_cos:
                        break
                self.n_rejected += 1
                h *= 0.5
            else:
                self.bifurcations = tuple(bifs)
                return K.STATUS_SMALL_STEP, y, y_prev
            self.n_steps += 1
            self.arc += float(np.linalg.norm(y_new - y))
            if t2[-1] * t[-1] < 0:
                self.n_turns += 1
            if det2[0] != det[0]:
                bifs.append(self._locate_bifurcation(y, t, h, solve, z, u, den, det, y_new, det2))
            det = det2
            cos = float(t2 @ t)
            y_prev, y, border, t, solve, z = y, y_new, t, t2, solve2, z2
            self.lam_max = max(self.lam_max, float(y[-1]))
            if record is not None:
                record.append(y.copy())
            status = -1
            if mode == 1:
                if y[-1] >= lam_target:
                    status = K.STATUS_DONE
            else:
                if y[-1] > 0:
                    r = sysm.agent_regret(y) if mode == 2 else 0.0
                    if r <= regret_target and sysm.regret(y) <= regret_target:
                        status = K.STATUS_DONE
                if status < 0 and y[-1] > lam_cap:
                    status = K.STATUS_LAM_CAP
            if status >= 0:
                self.bifurcations = tuple(bifs)
                return status, y, y_prev
            if cos > self.grow_cos:
                h *= self.max_accel
        self.bifurcations = tuple(bifs)
        return K.STATUS_MAX_STEPS, y, y_prev

    def message(self, status: int, y: np.ndarray) -> str:
        """The diagnostic for a trace that ended with `status` at `y` (empty on success)."""
        lam = y[-1] / self.system.scale
        if status == K.STATUS_SMALL_STEP:
            return (
                f"step size fell below {self.min_step:g} at λ = {lam:.6g} "
                "(the branch may bifurcate here, or the limit is not isolated); "
                "try a smaller first_step or max_accel, or a looser max_regret"
            )
        if status == K.STATUS_MAX_STEPS:
            return (
                f"max_steps = {self.max_steps} reached at λ = {lam:.6g}; "
                "increase max_steps or loosen max_regret"
            )
        return ""


def _check_solver(linear_solver: str) -> None:
    if linear_solver not in ("auto", "compiled", "sparse"):
        raise SolverError(
            f"logit: linear_solver = {linear_solver!r}, expected one of 'auto', 'compiled', 'sparse'"
        )


def _check_positive(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise SolverError(f"logit: {name} = {value!r}, expected a finite number > 0")
    return v


def _result(sysm: _LogitSystem, tracer: _Tracer, y: np.ndarray, message: str, params: dict,
            record: list | None, t0: float, stop_rule: str = "agent") -> LogitResult:
    game = sysm.game
    sigma = sysm.profile(y)
    path = None
    if record is not None:
        pts = np.array(record)
        path = LogitPath(lam=_ro(pts[:, -1] / sysm.scale),
                         profiles=_ro(np.exp(pts[:, : sysm.n_act])))
    diag = LogitDiagnostics(
        converged=not message,
        message=message or "converged",
        n_steps=tracer.n_steps,
        n_rejected_steps=tracer.n_rejected,
        n_corrector_iterations=tracer.n_newton,
        n_turning_points=tracer.n_turns,
        max_lambda_seen=tracer.lam_max / sysm.scale,
        arc_length=tracer.arc,
        linear_solver=sysm.linear_solver,
        n_factorizations=tracer.n_fact,
        bifurcations=tuple(b / sysm.scale for b in tracer.bifurcations),
        stop_rule=stop_rule,
    )
    return LogitResult(
        profile=_ro(sigma),
        lam=float(y[-1]) / sysm.scale,
        max_regret=_max_regret(game, sigma),
        payoffs=_ro(expected_payoffs(game, sigma)),
        method="logit",
        parameters=MappingProxyType(dict(params)),
        diagnostics=diag,
        path=path,
        agent_max_regret=_agent_max_regret(game, sigma),
        seconds=time.perf_counter() - t0,
    )


def agent_lambda_bound(game: Game, tol: float) -> float:
    """λ (payoff units⁻¹) beyond which every logit QRE has agent and Nash max regret ≤ `tol` × range.

    At an infoset with action values Q and σ ∝ exp(λQ), the regret Σ_a σ_a (max Q − Q_a) is at most
    Σ_{a not best} Δ_a·exp(−λΔ_a) ≤ (k − 1)/(e·λ) for k actions (Δ·exp(−λΔ) peaks at Δ = 1/λ). A
    player's Nash regret is the sum, over their infosets, of these regrets weighted by the
    probability that their best response reaches the infoset: at most D of them on any path, D the
    most moves of one player on a path, so at most D·(k − 1)/(e·λ).
    """
    if not game.n_infosets:
        return 1.0 / (math.e * tol * game.payoff_range)
    k = int(game.infoset_n_actions.max())
    d = int(game.infoset_own_depth.max()) + 1
    return d * max(k - 1, 1) / (math.e * tol * game.payoff_range)


def solve_logit(
    game: Game,
    *,
    max_regret: float = 1e-6,
    regret: Literal["agent", "nash"] = "agent",
    first_step: float = 0.03,
    max_accel: float = 1.5,
    max_steps: int = 20_000,
    max_lambda: float | None = None,
    record_path: bool = False,
    linear_solver: LinearSolver = "auto",
) -> LogitResult:
    """Trace the principal branch of the agent logit QRE correspondence to an approximate equilibrium.

    Stops at the first traced point whose `regret` is ≤ `max_regret` × (max − min terminal payoff):
    with `regret="agent"` (default) Gambit's agent max regret, the largest gain from changing the
    move at one information set conditional on reaching it, which bounds the distance to the
    sequential equilibrium the branch tends to, and the Nash max regret too (a player deviating at
    several infosets on a path can gain up to their sum); with "nash", Gambit's (Nash) max regret
    alone, the criterion of Gambit's own `logit_solve(maxregret=...)`, which ignores what happens
    at information sets reached with small probability. `first_step` is the initial arc length,
    `max_accel` the factor by which a step may grow. λ is in the game's payoff units⁻¹.
    `max_lambda` caps the trace; by default, for the agent rule, 10 × `agent_lambda_bound` (beyond
    which an exactly solved QRE meets the tolerance, so not meeting it means the equations were not
    solved accurately enough), for the Nash rule 1e12. If a limit is hit first, the last point is
    returned with `success == False` and a message saying why and what to change.
    Raises `SolverError` for games without perfect recall or invalid arguments.
    """
    t0 = time.perf_counter()
    tol = _check_positive("max_regret", max_regret)
    _check_positive("first_step", first_step)
    if regret not in ("agent", "nash"):
        raise SolverError(f"logit: regret = {regret!r}, expected 'agent' or 'nash'")
    if max_lambda is None:
        max_lambda = 10.0 * agent_lambda_bound(game, tol) if regret == "agent" else 1e12
    _check_positive("max_lambda", max_lambda)
    if max_accel < 1.0:
        raise SolverError(f"logit: max_accel = {max_accel!r}, expected a number ≥ 1")
    _check_solver(linear_solver)
    params = dict(max_regret=tol, regret=regret, first_step=first_step, max_accel=max_accel,
                  max_steps=max_steps, max_lambda=max_lambda, record_path=record_path,
                  linear_solver=linear_solver)
    sysm = _LogitSystem(game, linear_solver)
    tracer = _Tracer(sysm, first_step, max_accel, max_steps)
    if sysm.n_act == 0:
        return _result(sysm, tracer, sysm.start(), "", params, None, t0, regret)
    record: list | None = [] if record_path else None
    mode = 2 if regret == "agent" else 0
    status, y, _ = tracer.run(mode, 0.0, tol, max_lambda * sysm.scale, record)
    message = tracer.message(status, y)
    if status == K.STATUS_LAM_CAP:
        message = (
            f"λ passed max_lambda = {max_lambda:g} before the "
            f"{'agent and Nash' if regret == 'agent' else 'Nash'} max regret fell to {tol:g} × "
            "payoff range; "
            + ("the logit equations were not solved accurately enough at large λ (beliefs at "
               "infosets reached with probability below the float range?): loosen max_regret"
               if regret == "agent" else
               "the limit may be a non-isolated equilibrium: loosen max_regret or raise max_lambda")
        )
    if message:
        message += (f" (at the returned point: agent max regret {sysm.agent_regret(y):.3g}, Nash max "
                    f"regret {sysm.regret(y):.3g} × payoff range)")
    res = _result(sysm, tracer, y, message, params, record, t0, regret)
    # The stop test ran in the tracer's rescaled payoffs on its own copy of the profile; check the
    # returned profile in the game's payoffs too, so that success always means what it says.
    bound = tol * game.payoff_range * (1.0 + 1e-6)  # rounding of the two computations: ~1e-16
    worst = max(res.agent_max_regret if regret == "agent" else 0.0, res.max_regret)
    if res.success and worst > bound:
        diag = replace(res.diagnostics, converged=False, message=(
            f"the returned profile's agent max regret {res.agent_max_regret:.3g} or Nash max regret "
            f"{res.max_regret:.3g} exceeds {tol:g} × payoff range in the game's payoffs, although the "
            "trace's stop test passed: report this game"))
        res = replace(res, diagnostics=diag)
    return res


def warm_up(game: Game | None = None) -> float:
    """Load the tracer's compiled kernels (from numba's cache) by solving a 2×2 game; returns seconds.

    Called before timing a solve, so that `seconds` measures the solve and not this one-time cost.
    With `game`, only the kernels `solve_logit(game)` uses (its linear-solver path) are loaded.
    """
    from crisislab.efg._builder import GameBuilder

    t0 = time.perf_counter()
    solvers: tuple[str, ...] = ("compiled", "sparse")
    if game is not None:
        n = game.n_actions_total + game.n_infosets + 1
        solvers = ("compiled",) if n <= COMPILED_MAX else ("sparse",)
    b = GameBuilder(["1", "2"])
    kids = b.decision(b.root, 0, "a", ["H", "T"])
    for k, n in enumerate(kids):
        h, t = b.decision(n, 1, "b", ["H", "T"])
        b.terminal(h, [3 - 2 * k, 0])
        b.terminal(t, [0, 1 + k])
    g = b.build()
    for solver in solvers:
        solve_logit(g, linear_solver=solver)
    if game is None:
        solve_logit(g, regret="nash")
        logit_qre_at(g, 1.0)
    return time.perf_counter() - t0


def logit_qre_at(
    game: Game,
    lam: float,
    *,
    first_step: float = 0.03,
    max_accel: float = 1.5,
    max_steps: int = 20_000,
    record_path: bool = False,
    linear_solver: LinearSolver = "auto",
) -> LogitResult:
    """The agent logit QRE at precision `lam` on the principal branch (first crossing of λ = lam).

    Traces from λ = 0 until the branch first passes `lam`, then solves H = 0 with λ held at `lam`
    by Newton's method from the interpolated point. λ is in the game's payoff units⁻¹.
    """
    t0 = time.perf_counter()
    lam = float(lam)
    if not math.isfinite(lam) or lam < 0:
        raise SolverError(f"logit: lam = {lam!r}, expected a finite number ≥ 0")
    _check_positive("first_step", first_step)
    _check_solver(linear_solver)
    params = dict(lam=lam, first_step=first_step, max_accel=max_accel, max_steps=max_steps,
                  record_path=record_path, linear_solver=linear_solver)
    sysm = _LogitSystem(game, linear_solver)
    tracer = _Tracer(sysm, first_step, max_accel, max_steps)
    target = lam * sysm.scale
    if sysm.n_act == 0 or target == 0.0:
        return _result(sysm, tracer, sysm.start(), "", params, [sysm.start()] if record_path else None, t0,
                       "lambda")
    e = np.zeros(sysm.N + 1)
    e[-1] = 1.0
    record: list | None = [] if record_path else None
    status, y, y_prev = tracer.run(1, target, math.inf, math.inf, record)
    message = tracer.message(status, y)
    if status == K.STATUS_DONE:
        w = (target - y_prev[-1]) / (y[-1] - y_prev[-1])
        y0 = y_prev + w * (y - y_prev)
        y0[-1] = target
        # Fixed-λ Newton: the border row eᵀ_λ keeps λ where it is.
        out = tracer.correct(y0, e, math.inf)
        if out is not None:
            y = out[0]
    if not message and abs(y[-1] - target) > 1e-9 * max(1.0, target):
        message = (
            f"could not solve the logit equations at λ = {lam:g} from the traced branch; "
            "try a smaller first_step"
        )
    return _result(sysm, tracer, y, message, params, record, t0, "lambda")
