"""Numba kernel of the stage solver: one decision (all states × belief nodes) at a time.

For each reachable state s the kernel first forms the continuation table
`C[a, b, i, τ] = Σ_branches prob · (reward[i, θ_i(τ)] + disc · W_next[s', b, i, τ])` for every action a,
belief node b, actor i and type profile τ (a small per-state buffer, so the big `(S·A, B, n, T)`
array is never materialized), then at every belief node solves the mover's type-contingent logit
strategy and the posterior it induces as a fixed point (a fast full-λ iteration; else Newton;
else damped iteration along a λ schedule from 0 to λ_m, whose continuation keeps the node on the
principal branch; where those equal λ steps lose the branch, the branch traced by arc length in the
log-probabilities; else a long fixed-damping run), and finally the values of
every actor at that node. Compiled once (`cache=True`); a loop per node is the kernel's job here.
"""

from __future__ import annotations

import os

import numba as nb
import numpy as np

from crisislab._compiled import call

# GNU OpenMP, numba's first choice here, aborts a process forked after its threads started (as a
# process pool or Dask's process workers do). Unless the user chose a layer, take a fork-safe one.
if "NUMBA_THREADING_LAYER" not in os.environ:
    nb.config.THREADING_LAYER = "forksafe"

DIRECT_IT = 40
# Tolerance of the intermediate points of a node's λ path: they only carry the node along its branch
# to the next λ, whose first iterate starts from the log-linear extrapolation of the last two points
# (`_predict`); only the point at the node's own λ is solved to `tol`. benchmarks/RESULTS.md
# ("Following the λ path") measures the branch kept against a 256-step path.
PATH_TOL = 1e-4
# `_trace`, the arc-length fallback: the residual its corrector asks of the points before the last
# (the last one is solved to `tol`). It takes at most 4·maxit steps along a node's branch.
TRACE_TOL = 1e-7
SELECTION_MODES = ("path", "continuation", "fast", "trace")  # the kernel's `mode` is the index


@nb.njit(cache=True)
def _locate(grid, g_m, post):
    """Interval `i0` (0 .. g_m-2) of the sorted nodes `grid` holding `post` (binary search)."""
    lo = 0
    hi = g_m - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if grid[mid] <= post:
            lo = mid
        else:
            hi = mid
    return lo


@nb.njit(cache=True)
def _bayes_node(x, p0, p1, b, g, grid, uniform, g_m, st_m):
    """Posterior of the first type after an action it takes with probability `p0` (the second type:
    `p1`), from prior `x`, located on the mover's axis (nodes `grid[:g_m]`; `b` is the belief
    node at node index `g`, `st_m` the mover's node stride): its interval's nodes `b0` and
    `b1 = b0 + st_m`, its fraction `t` in that interval and the interval's inverse width `ih`.
    A `uniform` grid is located arithmetically (the dense reference grid).

    Returns (t, ih, b0, b1, den) with `den` the action's total probability (0: posterior = prior).
    """
    num = x * p0
    den = num + (1.0 - x) * p1
    post = num / den if den > 0.0 else x
    if uniform:
        pos = post * (g_m - 1)
        i0 = min(max(int(pos), 0), g_m - 2)
        t = pos - i0
        ih = float(g_m - 1)
    else:
        i0 = _locate(grid, g_m, post)
        ih = 1.0 / (grid[i0 + 1] - grid[i0])
        t = min(max((post - grid[i0]) * ih, 0.0), 1.0)
    b0 = b + (i0 - g) * st_m
    return t, ih, b0, b0 + st_m, den


@nb.njit(cache=True)
def _weights(t, ih, cubic, wq, a):
    """Interpolation weights of action a's posterior into `wq[:, a]`: on the values at the
    interval's two nodes, then (cubic Hermite only) on the slopes there."""
    if cubic:
        t2 = t * t
        t3 = t2 * t
        h = 1.0 / ih
        wq[0, a] = 2.0 * t3 - 3.0 * t2 + 1.0
        wq[1, a] = 3.0 * t2 - 2.0 * t3
        wq[2, a] = (t3 - 2.0 * t2 + t) * h
        wq[3, a] = (t3 - t2) * h
    else:
        wq[0, a] = 1.0 - t
        wq[1, a] = t
        wq[2, a] = 0.0
        wq[3, a] = 0.0


@nb.njit(cache=True)
def _dweights(t, ih, cubic, dw):
    """Derivatives of `_weights` with respect to the posterior, into `dw` (4,)."""
    if cubic:
        t2 = t * t
        dw[0] = (6.0 * t2 - 6.0 * t) * ih
        dw[1] = (6.0 * t - 6.0 * t2) * ih
        dw[2] = 3.0 * t2 - 4.0 * t + 1.0
        dw[3] = 3.0 * t2 - 2.0 * t
    else:
        dw[0] = -ih
        dw[1] = ih
        dw[2] = 0.0
        dw[3] = 0.0


@nb.njit(cache=True)
def _qval(D, dD, cubic, a, b0, b1, th, wq):
    """The mover's continuation of type th after action a at the posterior of weights `wq[:, a]`."""
    v = wq[0, a] * D[a, b0, th] + wq[1, a] * D[a, b1, th]
    if cubic:
        v += wq[2, a] * dD[a, b0, th] + wq[3, a] * dD[a, b1, th]
    return v


@nb.njit(cache=True)
def _pchip_edge(h0, h1, m0, m1):
    """End slope of the shape-preserving cubic (three-point formula, limited as Fritsch–Carlson)."""
    d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > 3.0 * abs(m0):
        return 3.0 * m0
    return d


@nb.njit(cache=True)
def _pchip_slopes(y, x, g, out, delta):
    """Slopes at the nodes `x[:g]` of the monotone piecewise cubic through `y[:g]` (Fritsch and
    Carlson 1980, the node rule of scipy's PchipInterpolator): zero at a local extremum, else the
    weighted harmonic mean of the neighbouring secants. Into `out[:g]`; `delta` is work space."""
    for k in range(g - 1):
        delta[k] = (y[k + 1] - y[k]) / (x[k + 1] - x[k])
    if g == 2:
        out[0] = delta[0]
        out[1] = delta[0]
        return
    for k in range(1, g - 1):
        hm = x[k] - x[k - 1]
        hp = x[k + 1] - x[k]
        if delta[k - 1] * delta[k] <= 0.0:
            out[k] = 0.0
        else:
            w1 = 2.0 * hp + hm
            w2 = hp + 2.0 * hm
            out[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])
    out[0] = _pchip_edge(x[1] - x[0], x[2] - x[1], delta[0], delta[1])
    out[g - 1] = _pchip_edge(x[g - 1] - x[g - 2], x[g - 2] - x[g - 3], delta[g - 2], delta[g - 3])


@nb.njit(cache=True)
def _slopes(y, x, g, out, work, dmat):
    """Node slopes of the values `y[:g]`: the shape-preserving ones, or `dmat @ y` when given."""
    if dmat.shape[0] == 0:
        _pchip_slopes(y, x, g, out, work)
        return
    for q in range(g):
        acc = 0.0
        for k in range(g):
            acc += dmat[q, k] * y[k]
        out[q] = acc


@nb.njit(cache=True)
def _posterior_nodes(s, b, g, x, sig, wq, b0, b1, avail, k_mover, grid, uniform, cubic, g_m, st_m):
    """For each available action a: the mover's posterior after a (Bayes on `sig`, shape (2, A)) as
    interpolation weights `wq[:, a]` on the belief nodes `b0[a]` and `b1[a]` (in place).

    A one-type mover or a one-point grid keeps the belief node `b` (weight 1).
    """
    for a in range(sig.shape[1]):
        if not avail[s, a]:
            continue
        if k_mover == 2 and g_m > 1:
            t, ih, b0[a], b1[a], _ = _bayes_node(x, sig[0, a], sig[1, a], b, g, grid, uniform, g_m, st_m)
            _weights(t, ih, cubic, wq, a)
        else:
            wq[0, a] = 1.0
            wq[1, a] = 0.0
            wq[2, a] = 0.0
            wq[3, a] = 0.0
            b0[a] = b
            b1[a] = b


@nb.njit(cache=True)
def _logit_response(s, Q, new, ref, avail, lam, K):
    """The logit response to `Q` into `new` (rows of the K types over available actions; 0 on
    unavailable ones), and its largest distance from `ref` (sup norm)."""
    A = Q.shape[1]
    res = 0.0
    for th in range(K):
        mx = -1e300
        for a in range(A):
            if avail[s, a] and Q[th, a] > mx:
                mx = Q[th, a]
        z = 0.0
        for a in range(A):
            new[th, a] = np.exp(lam * (Q[th, a] - mx)) if avail[s, a] else 0.0
            z += new[th, a]
        for a in range(A):
            new[th, a] /= z
            dd = abs(new[th, a] - ref[th, a])
            if dd > res:
                res = dd
    return res


@nb.njit(cache=True)
def _iterate(s, b, g, x, sig, new, Q, wq, b0, b1, D, dD, avail, k_mover, grid, uniform, cubic, g_m, st_m,
             lam_k, tol_k, maxit, allow_damping, alpha0):
    """Damped fixed-point iteration σ ← σ + α(logit(λ_k Q(σ)) − σ) at one node, in place.

    Returns (final residual, iterations, whether damping was needed). Without `allow_damping`
    it stops as soon as the residual grows (the caller then falls back to continuation).
    """
    A = sig.shape[1]
    alpha = alpha0
    prev = 1e300
    res = 0.0
    damped = False
    it = 0
    for it in range(1, maxit + 1):
        _posterior_nodes(s, b, g, x, sig, wq, b0, b1, avail, k_mover, grid, uniform, cubic, g_m, st_m)
        for th in range(k_mover):
            for a in range(A):
                if not avail[s, a]:
                    continue
                Q[th, a] = _qval(D, dD, cubic, a, b0[a], b1[a], th, wq)
        res = _logit_response(s, Q, new, sig, avail, lam_k, k_mover)
        if res > prev and not allow_damping:
            return res, it, True
        for th in range(k_mover):
            for a in range(A):
                sig[th, a] += alpha * (new[th, a] - sig[th, a])
        if res < tol_k:
            return res, it, damped
        if res > prev and alpha0 == 1.0:
            # oscillating: damp harder
            alpha = max(alpha * 0.5, 1e-3)
            damped = True
        prev = res
    return res, it, damped


@nb.njit(cache=True)
def _predict(s, sig, prv, avail, k_mover):
    """Secant predictor along the λ path, in place: σ ← σ·(σ/σ_prev) normalized per type, the point
    whose log-probabilities extrapolate the last two points linearly (a logit strategy's logs are
    affine in λ where the continuation values do not move). `prv` receives the σ it started from."""
    A = sig.shape[1]
    for th in range(k_mover):
        z = 0.0
        for a in range(A):
            v = sig[th, a]
            if avail[s, a] and v > 0.0 and prv[th, a] > 0.0:
                sig[th, a] = v * (v / prv[th, a])
            prv[th, a] = v
            z += sig[th, a]
        for a in range(A):
            sig[th, a] /= z


@nb.njit(cache=True)
def _try_newton(s, b, g, x, sig, keep, new, Q, D, dD, avail, grid, uniform, cubic, g_m, st_m, lam, tol, maxit, res, bound):
    """Newton from σ (in place), kept when its residual falls below `bound`; otherwise σ is put
    back. Returns the residual of the σ kept (`res` is the current one)."""
    keep[:, :] = sig
    res_n = _newton(s, b, g, x, sig, new, Q, D, dD, avail, grid, uniform, cubic, g_m, st_m, lam, tol, min(50, maxit))
    if res_n < bound:
        return res_n
    sig[:, :] = keep
    return res


@nb.njit(cache=True)
def _hermite_slope_max(m, d0, d1):
    """max |p'| over an interval of the cubic Hermite p with secant slope m and end slopes d0, d1:
    p' = (3d0 + 3d1 − 6m) t² + (6m − 4d0 − 2d1) t + d0 for t in [0, 1], a quadratic, so the
    largest magnitude is at an end or at its vertex."""
    qa = 3.0 * d0 + 3.0 * d1 - 6.0 * m
    qb = 6.0 * m - 4.0 * d0 - 2.0 * d1
    best = max(abs(d0), abs(d1))
    if qa != 0.0:
        ts = -qb / (2.0 * qa)
        if 0.0 < ts < 1.0:
            best = max(best, abs((qa * ts + qb) * ts + d0))
    return best


@nb.njit(cache=True)
def _unique(s, b, g, D, dD, avail, k_mover, grid, uniform, cubic, g_m, st_m, lam):
    """True when the node's stage game has exactly one fixed point at every λ' ≤ λ (so the
    full-λ iteration, where it converges, finds the point λ-continuation would reach).

    In the log-odds ℓ'_a of the posteriors the fixed point is ℓ'_a = ℓ + λ(Q_0a − Q_1a)(x'_a) −
    (log Z_0 − log Z_1), with x' = logistic(ℓ') (dx'/dℓ' ≤ 1/4) and Q_θa piecewise linear in x'_a
    along the mover's belief line with slopes s_θa. Each row of the map's Jacobian sums to at most
    λ/4 (|s_0a − s_1a| + Σ_b σ_0b|s_0b| + σ_1b|s_1b|) ≤ λ/4 (max|s_0 − s_1| + 2 max|s|); below 1
    the map is a contraction in the sup norm for every λ' ≤ λ, hence one fixed point each.
    With the cubic Hermite interpolant the slopes are its largest |p'| on each interval
    (`_hermite_slope_max`; for the two types' difference, that of the difference's interpolant,
    which is linear in the data).
    """
    if k_mover != 2 or g_m < 2 or grid[g] <= 0.0 or grid[g] >= 1.0:
        return True  # the posterior cannot move (one type, or a certain belief): a plain logit response
    A = D.shape[0]
    first = b - g * st_m
    dmax = 0.0
    smax = 0.0
    for a in range(A):
        if not avail[s, a]:
            continue
        for i in range(g_m - 1):
            lo = first + i * st_m
            ih = float(g_m - 1) if uniform else 1.0 / (grid[i + 1] - grid[i])
            d0 = (D[a, lo + st_m, 0] - D[a, lo, 0]) * ih
            d1 = (D[a, lo + st_m, 1] - D[a, lo, 1]) * ih
            if cubic:
                p0, q0 = dD[a, lo, 0], dD[a, lo + st_m, 0]
                p1, q1 = dD[a, lo, 1], dD[a, lo + st_m, 1]
                dmax = max(dmax, _hermite_slope_max(d0 - d1, p0 - p1, q0 - q1))
                smax = max(smax, _hermite_slope_max(d0, p0, q0), _hermite_slope_max(d1, p1, q1))
            else:
                dmax = max(dmax, abs(d0 - d1))
                smax = max(smax, abs(d0), abs(d1))
    return 0.25 * lam * (dmax + 2.0 * smax) < 1.0


@nb.njit(cache=True)
def _solve_small(M, rhs):
    """x with M x = rhs for a small dense system (`_solve_inplace` on copies of its inputs).
    Hand-written because np.linalg.solve's LAPACK binding triples the JIT time."""
    a = M.copy()
    x = rhs.copy()
    _solve_inplace(a, x, x.shape[0])
    return x


@nb.njit(cache=True)
def _q_slope(s, b, g, x, sig, a, D, dD, grid, uniform, cubic, g_m, st_m, wq, dw, Q, slope):
    """Action a's continuation Q[θ, a] for both types at the posterior `sig` induces, and its
    slope along the mover's belief line there into `slope[θ, a]`. Returns the action's total
    probability (0: the posterior is the prior)."""
    t, ih, b0, b1, den = _bayes_node(x, sig[0, a], sig[1, a], b, g, grid, uniform, g_m, st_m)
    _weights(t, ih, cubic, wq, a)
    _dweights(t, ih, cubic, dw)
    for th in range(2):
        Q[th, a] = _qval(D, dD, cubic, a, b0, b1, th, wq)
        if cubic:
            slope[th, a] = (dw[0] * D[a, b0, th] + dw[1] * D[a, b1, th]
                            + dw[2] * dD[a, b0, th] + dw[3] * dD[a, b1, th])
        else:
            slope[th, a] = (D[a, b1, th] - D[a, b0, th]) * ih
    return den


@nb.njit(cache=True)
def _newton(s, b, g, x, sig, new, Q, D, dD, avail, grid, uniform, cubic, g_m, st_m, lam, tol, maxit):
    """Newton's method on R(σ) = σ − logit(λQ(σ)) for a two-type mover, analytic Jacobian.

    Q(θ, a) depends on σ only through action a's posterior x'_a, piecewise (grid
    interpolation), so dQ/dσ is a 2×2 block per action and J = I − diag-softmax · dQ/dσ is cheap.
    Steps keep σ in the simplex (row sums are preserved by construction; the step is shortened
    to stay positive) and are backtracked until the residual falls. Returns the final residual.
    """
    A = sig.shape[1]
    N = 2 * A
    R = np.zeros(N)
    J = np.zeros((N, N))
    slope = np.zeros((2, A))
    dx = np.zeros((2, A))
    trial = np.zeros((2, A))
    wq = np.zeros((4, A))
    dw = np.zeros(4)
    res_now = 1e300
    for _it in range(maxit):
        # residual, posteriors, slopes
        for a in range(A):
            if not avail[s, a]:
                continue
            den = _q_slope(s, b, g, x, sig, a, D, dD, grid, uniform, cubic, g_m, st_m, wq, dw, Q, slope)
            if den > 0.0:
                dx[0, a] = x * (1.0 - x) * sig[1, a] / (den * den)
                dx[1, a] = -x * (1.0 - x) * sig[0, a] / (den * den)
            else:
                dx[0, a] = 0.0
                dx[1, a] = 0.0
        res_now = _logit_response(s, Q, new, sig, avail, lam, 2)
        for th in range(2):
            for a in range(A):
                R[th * A + a] = sig[th, a] - new[th, a]
        if res_now < tol:
            return res_now
        # Jacobian of R
        J[:, :] = 0.0
        for i in range(N):
            J[i, i] = 1.0
        for th in range(2):
            for a in range(A):
                if not avail[s, a]:
                    continue
                for bb in range(A):
                    if not avail[s, bb]:
                        continue
                    dF = lam * new[th, a] * ((1.0 if a == bb else 0.0) - new[th, bb]) * slope[th, bb]
                    for th2 in range(2):
                        J[th * A + a, th2 * A + bb] -= dF * dx[th2, bb]
        delta = _solve_small(J, -R)
        # longest step in (0, 1] that keeps σ > 0, then backtrack on the residual
        step = 1.0
        for th in range(2):
            for a in range(A):
                d_ = delta[th * A + a]
                if avail[s, a] and d_ < 0.0 and sig[th, a] + step * d_ <= 0.0:
                    step = 0.9 * sig[th, a] / (-d_)
        ok = False
        for _ls in range(30):
            for th in range(2):
                for a in range(A):
                    trial[th, a] = sig[th, a] + step * delta[th * A + a] if avail[s, a] else 0.0
            # residual at the trial point
            for a in range(A):
                if not avail[s, a]:
                    continue
                t, ih, b0, b1, _ = _bayes_node(x, trial[0, a], trial[1, a], b, g, grid, uniform, g_m, st_m)
                _weights(t, ih, cubic, wq, a)
                for th in range(2):
                    Q[th, a] = _qval(D, dD, cubic, a, b0, b1, th, wq)
            r_try = _logit_response(s, Q, new, trial, avail, lam, 2)
            if r_try < res_now:
                ok = True
                break
            step *= 0.5
        if not ok:
            return res_now
        for th in range(2):
            for a in range(A):
                sig[th, a] = trial[th, a]
    return res_now


@nb.njit(cache=True)
def _log_system(s, b, g, x, w, lam, D, dD, avail, grid, uniform, cubic, g_m, st_m, sig, F, Wv, Fl, new, Q, wq, dw, slope):
    """The branch's equations in the log-probabilities w (2A; σ = exp(w) on available actions, into
    `sig`): F = w − log logit(λQ(σ)) into `F` (0 for unavailable actions), ∂F/∂λ into `Fl`, and the
    Jacobian in w, J = I − XY, by its factors: X[θa, b] = (δ_ab − new[θ, b]) Wv[θ, b] with
    Wv[θ, b] = λ · ∂Q_θb/∂x'_b · x'_b(1 − x'_b) (0 for unavailable b; X's rows of unavailable a are 0)
    and Y = [I, −I] (action b's posterior moves with log σ_0b − log σ_1b only). `new` receives
    logit(λQ(σ)); `wq`, `dw`, `slope` are work space. Returns the sup norm of σ − logit(λQ(σ))."""
    A = sig.shape[1]
    for th in range(2):
        for a in range(A):
            sig[th, a] = np.exp(w[th * A + a]) if avail[s, a] else 0.0
    for a in range(A):
        Wv[0, a] = 0.0
        Wv[1, a] = 0.0
        if not avail[s, a]:
            continue
        den = _q_slope(s, b, g, x, sig, a, D, dD, grid, uniform, cubic, g_m, st_m, wq, dw, Q, slope)
        # d posterior / d log σ_θ: ±posterior · (1 − posterior)
        if den > 0.0:
            p = x * sig[0, a] / den
            e = p * (1.0 - p)
            Wv[0, a] = lam * slope[0, a] * e
            Wv[1, a] = lam * slope[1, a] * e
    res = _logit_response(s, Q, new, sig, avail, lam, 2)
    for th in range(2):
        mx = -1e300
        for a in range(A):
            if avail[s, a] and Q[th, a] > mx:
                mx = Q[th, a]
        z = 0.0
        qbar = 0.0
        for a in range(A):
            if avail[s, a]:
                z += np.exp(lam * (Q[th, a] - mx))
                qbar += new[th, a] * Q[th, a]
        lse = lam * mx + np.log(z)
        for a in range(A):
            if not avail[s, a]:
                F[th * A + a] = 0.0
                Fl[th * A + a] = 0.0
                continue
            F[th * A + a] = w[th * A + a] - (lam * Q[th, a] - lse)
            Fl[th * A + a] = -(Q[th, a] - qbar)
    return res


@nb.njit(cache=True)
def _bordered(s, avail, Wv, new, Fl, r, r_lam, rhs, rho, K, kr, out):
    """Solve [[J, Fl], [rᵀ, r_lam]] [dv; dλ] = [rhs; rho] (2A + 1 unknowns, into `out`) for the
    branch's J = I − XY (`_log_system`'s factors `Wv`, `new`). With z = Y dv, dv = rhs + Xz − Fl dλ,
    which leaves A + 1 unknowns: [[I − YX, Y Fl], [rᵀX, r_lam − rᵀFl]] [z; dλ] = [Y rhs; rho − rᵀrhs].
    YX[a, b] = δ_ab (Wv[0, b] − Wv[1, b]) − (new[0, b] Wv[0, b] − new[1, b] Wv[1, b]), so the
    reduced matrix costs O(A²) and its solve (`_solve_inplace`, partial pivoting) (A + 1)³/3,
    against (2A + 1)³/3 for the whole system: the same solution, without the zeros of J's blocks.
    `K` (A + 1, A + 1) and `kr` (A + 1,) are work space."""
    A = Wv.shape[1]
    N = 2 * A
    K[:, :] = 0.0
    rr = 0.0
    rf = 0.0
    for k in range(N):
        rr += r[k] * rhs[k]
        rf += r[k] * Fl[k]
    for a in range(A):
        K[a, a] = 1.0
        kr[a] = rhs[a] - rhs[A + a]
        if not avail[s, a]:
            continue
        K[a, a] -= Wv[0, a] - Wv[1, a]
        K[a, A] = Fl[a] - Fl[A + a]
    sr0 = 0.0
    sr1 = 0.0
    for a in range(A):
        if avail[s, a]:
            sr0 += r[a]
            sr1 += r[A + a]
    for bb in range(A):
        if not avail[s, bb]:
            continue
        gb = new[0, bb] * Wv[0, bb] - new[1, bb] * Wv[1, bb]
        for a in range(A):
            if avail[s, a]:
                K[a, bb] += gb
        K[A, bb] = Wv[0, bb] * (r[bb] - new[0, bb] * sr0) + Wv[1, bb] * (r[A + bb] - new[1, bb] * sr1)
    K[A, A] = r_lam - rf
    kr[A] = rho - rr
    _solve_inplace(K, kr, A + 1)
    dl = kr[A]
    xz0 = 0.0
    xz1 = 0.0
    for bb in range(A):
        if avail[s, bb]:
            xz0 += new[0, bb] * Wv[0, bb] * kr[bb]
            xz1 += new[1, bb] * Wv[1, bb] * kr[bb]
    for a in range(A):
        if avail[s, a]:
            out[a] = rhs[a] + Wv[0, a] * kr[a] - xz0 - Fl[a] * dl
            out[A + a] = rhs[A + a] + Wv[1, a] * kr[a] - xz1 - Fl[A + a] * dl
        else:
            out[a] = rhs[a]
            out[A + a] = rhs[A + a]
    out[N] = dl


@nb.njit(cache=True)
def _solve_inplace(a, x, n):
    """x ← a⁻¹ x for the leading n × n block (Gaussian elimination with partial pivoting, in place;
    a singular pivot column leaves its unknown 0)."""
    for c in range(n):
        p = c
        for r in range(c + 1, n):
            if abs(a[r, c]) > abs(a[p, c]):
                p = r
        if a[p, c] == 0.0:
            continue
        if p != c:
            for k in range(n):
                a[c, k], a[p, k] = a[p, k], a[c, k]
            x[c], x[p] = x[p], x[c]
        for r in range(c + 1, n):
            f = a[r, c] / a[c, c]
            if f != 0.0:
                for k in range(c, n):
                    a[r, k] -= f * a[c, k]
                x[r] -= f * x[c]
    for c in range(n - 1, -1, -1):
        acc = x[c]
        for k in range(c + 1, n):
            acc -= a[c, k] * x[k]
        x[c] = acc / a[c, c] if a[c, c] != 0.0 else 0.0


@nb.njit(cache=True)
def _tangent(s, avail, Wv, new, Fl, prev, zero, K, kr, t):
    """Unit tangent of the branch {R(σ, λ) = 0} at a point, into `t` (2A + 1; λ last): the null
    vector of [J | Fl], oriented along `prev`. Solves [[J, Fl], [prevᵀ]] t = e_{2A+1} (`_bordered`;
    `zero` is a zero vector of 2A)."""
    N = zero.shape[0]
    _bordered(s, avail, Wv, new, Fl, prev, prev[N], zero, 1.0, K, kr, t)
    nrm = np.sqrt((t * t).sum())
    if nrm > 0.0:
        for k in range(N + 1):
            t[k] /= nrm


@nb.njit(cache=True)
def _trace(s, b, g, x, sig, D, dD, avail, grid, uniform, cubic, g_m, st_m, lam_target, tol, max_steps):
    """The principal branch of the node's logit correspondence traced by arc length from the
    uniform profile at λ = 0 to `lam_target`, in the log-probabilities (predictor along the
    tangent, Newton corrector on the branch and the plane through the predicted point normal to
    the tangent, step length adapted to the corrector's work; the last step lands on the target
    λ and is corrected there). Unlike equal steps in λ, it follows the branch around its folds,
    where λ turns back, so the point it ends on is the branch's own. Writes σ into `sig` when it
    reaches `lam_target` with residual < `tol`; returns (residual, Newton iterations), residual
    1.0 when it did not get there."""
    A = sig.shape[1]
    N = 2 * A
    F = np.zeros(N)
    Wv = np.zeros((2, A))
    Fl = np.zeros(N)
    new = np.zeros((2, A))
    Q = np.zeros((2, A))
    cur = np.zeros((2, A))
    wq = np.zeros((4, A))
    dw = np.zeros(4)
    slope = np.zeros((2, A))
    K = np.zeros((A + 1, A + 1))
    kr = np.zeros(A + 1)
    zero = np.zeros(N)
    r = np.zeros(N)
    n_av = 0
    for a in range(A):
        if avail[s, a]:
            n_av += 1
    u = np.zeros(N + 1)
    for th in range(2):
        for a in range(A):
            u[th * A + a] = -np.log(n_av) if avail[s, a] else 0.0
    prev = np.zeros(N + 1)
    prev[N] = 1.0
    _log_system(s, b, g, x, u, 0.0, D, dD, avail, grid, uniform, cubic, g_m, st_m, cur, F, Wv, Fl, new, Q, wq, dw, slope)
    t = np.zeros(N + 1)
    _tangent(s, avail, Wv, new, Fl, prev, zero, K, kr, t)
    h = max(lam_target, 1.0) / 8.0
    h_min = 1e-9 * max(lam_target, 1.0)
    total = 0
    rhs = np.zeros(N)
    dv = np.zeros(N + 1)
    v = np.zeros(N + 1)
    vp = np.zeros(N + 1)
    land = False
    for _step in range(max_steps):
        ok = False
        its = 0
        while h >= h_min:
            for k in range(N + 1):
                v[k] = u[k] + h * t[k]
            land = v[N] >= lam_target
            if land:  # shorten the step to reach λ = target, and correct at that λ
                f = (lam_target - u[N]) / t[N]
                for k in range(N + 1):
                    v[k] = u[k] + f * t[k]
                v[N] = lam_target
            for k in range(N + 1):
                vp[k] = v[k]
            ok = False
            for its in range(1, 11):
                bad = v[N] < 0.0
                for k in range(N):
                    bad = bad or v[k] > 1.0 or v[k] != v[k]
                if bad:
                    break
                res = _log_system(s, b, g, x, v, v[N], D, dD, avail, grid, uniform, cubic, g_m, st_m, cur, F, Wv, Fl, new,
                                  Q, wq, dw, slope)
                if res < (tol if land else TRACE_TOL):
                    ok = True
                    break
                # Newton on the branch and, before landing, on the plane through the predicted point
                # normal to the tangent; when landing, at fixed λ (last row e_λ)
                dot = 0.0
                for k in range(N):
                    r[k] = 0.0 if land else t[k]
                    rhs[k] = -F[k]
                if not land:
                    for k in range(N + 1):
                        dot += t[k] * (v[k] - vp[k])
                _bordered(s, avail, Wv, new, Fl, r, 1.0 if land else t[N], rhs, -dot, K, kr, dv)
                for k in range(N + 1):
                    v[k] += dv[k]
            total += its
            if ok:
                break
            h *= 0.5
        if not ok:
            return 1.0, total
        if land:
            for th in range(2):
                for a in range(A):
                    sig[th, a] = cur[th, a]
            return res, total
        for k in range(N + 1):
            prev[k] = t[k]
            u[k] = v[k]
        _tangent(s, avail, Wv, new, Fl, prev, zero, K, kr, t)
        if its <= 3:
            h *= 1.5
    return 1.0, total


@nb.njit(cache=True)
def _select_node(s, b, g, x, sig, new, Q, keep, prv, wq, b0, b1, D, dD, avail, k_mover, grid, uniform, cub, g_m, st_m,
                 lam, n_steps, tol, maxit, mode, n_av):
    """The fixed point one node keeps (`stage_kernel`'s `mode`), into `sig` (k_mover, A): the node's
    prior on the mover's axis is `x` (node index `g` of belief node `b`; any x in [0, 1] when `D` holds
    one line of nodes, as `_readout` uses it). Returns (final residual, iterations)."""
    A = sig.shape[1]
    total_it = 0
    for th in range(k_mover):
        for a in range(A):
            sig[th, a] = 1.0 / n_av if avail[s, a] else 0.0
    # (No warm start from the neighbouring belief node: the stage game can have several
    # fixed points and a warm start picks another branch at ~10% of the flagship's nodes.)
    if mode == 3 and k_mover == 2 and g_m > 1 and 0.0 < x < 1.0 and lam > 0.0:
        # the branch traced by arc length from λ = 0 at every node; the λ path only where it fails
        res, its = _trace(s, b, g, x, keep, D, dD, avail, grid, uniform, cub, g_m, st_m, lam, tol, 4 * maxit)
        total_it += its
        if res < tol:
            sig[:, :] = keep
            return res, total_it
    if mode == 2 or (mode == 1 and _unique(s, b, g, D, dD, avail, k_mover, grid, uniform, cub, g_m, st_m, lam)):
        res, its, damped = _iterate(
            s, b, g, x, sig, new, Q, wq, b0, b1, D, dD, avail, k_mover, grid, uniform, cub, g_m, st_m,
            lam, tol, min(DIRECT_IT, maxit), False, 1.0,
        )
        total_it += its
    else:  # several fixed points possible: keep the one on the λ path (below)
        res, damped = 1.0, True
    if mode == 2 and (damped or res >= tol) and k_mover == 2 and g_m > 1 and 0.0 < x < 1.0:
        # Newton from where the fast path stopped; kept only if it converges
        res = _try_newton(s, b, g, x, sig, keep, new, Q, D, dD, avail, grid, uniform, cub, g_m, st_m, lam, tol, maxit, res, tol)
        total_it += 1
        if res < tol:
            damped = False
    if damped or res >= tol:
        for th in range(k_mover):
            for a in range(A):
                sig[th, a] = 1.0 / n_av if avail[s, a] else 0.0
        steps = n_steps if lam > 0.0 else 1
        for step in range(1, steps + 1):
            lam_k = lam * step / steps
            tol_k = tol if step == steps else PATH_TOL
            if step >= 2:
                _predict(s, sig, prv, avail, k_mover)
            else:
                prv[:, :] = sig
            res, its, damped = _iterate(
                s, b, g, x, sig, new, Q, wq, b0, b1, D, dD, avail, k_mover, grid, uniform, cub, g_m,
                st_m, lam_k, tol_k, maxit, True, 1.0,
            )
            total_it += its
        if res >= tol and k_mover == 2 and g_m > 1 and 0.0 < x < 1.0:
            # Newton from where continuation stopped: a local corrector, so it finishes the
            # point on this branch (stiff nodes at large λ stall the damped iteration near it)
            res = _try_newton(s, b, g, x, sig, keep, new, Q, D, dD, avail, grid, uniform, cub, g_m, st_m, lam, tol, maxit, res, res)
            total_it += 1
        if res >= tol and k_mover == 2 and g_m > 1 and 0.0 < x < 1.0:
            # The path in equal λ steps lost its branch: trace the branch by arc length
            res2, its = _trace(s, b, g, x, keep, D, dD, avail, grid, uniform, cub, g_m, st_m, lam, tol, 4 * maxit)
            total_it += its
            if res2 < res:
                res = res2
                sig[:, :] = keep
        if res >= tol:
            # Last resort: a long run with fixed moderate damping from where continuation
            # stopped (adaptive damping can shrink the step until it stalls on maps with
            # strong, non-monotone feedback).
            keep[:, :] = sig
            res2, its, damped = _iterate(
                s, b, g, x, sig, new, Q, wq, b0, b1, D, dD, avail, k_mover, grid, uniform, cub, g_m,
                st_m, lam, tol, 20 * maxit, True, 0.05,
            )
            total_it += its
            if res2 < res:
                res = res2
            else:  # no better: keep the continuation's point
                sig[:, :] = keep
    return res, total_it


@nb.njit(cache=True)
def _continuation(s, row_ptr, nxt, prob, reward, avail, W_next, disc, tau_types, nodes, i_lo, i_hi, C, at_node=False):
    """Continuation table of state s, added into `C` (A, len(nodes), i_hi - i_lo, T): for each available
    action, belief node `nodes[k]` (of `W_next`'s), actor i_lo ≤ i < i_hi and type profile, the
    expected reward of the move plus the discounted value of the state it leads to. `at_node`: `C`
    is indexed by the node itself, `C[a, nodes[k]]`, instead of by its position k."""
    A = avail.shape[1]
    T = tau_types.shape[0]
    K = nodes.shape[0]
    for a in range(A):
        if not avail[s, a]:
            continue
        r = s * A + a
        for j in range(row_ptr[r], row_ptr[r + 1]):
            p = prob[j]
            for i in range(i_lo, i_hi):
                for t in range(T):
                    rv = p * reward[j, i, tau_types[t, i]]
                    for k in range(K):
                        C[a, nodes[k] if at_node else k, i - i_lo, t] += rv
            if nxt[j] >= 0:
                q = p * disc
                sn = nxt[j]
                for k in range(K):
                    b = nodes[k]
                    kc = b if at_node else k
                    for i in range(i_lo, i_hi):
                        for t in range(T):
                            C[a, kc, i - i_lo, t] += q * W_next[sn, b, i, t]


def stage_kernel(
    row_ptr, nxt, prob, reward, avail, W_next, disc, grid, uniform, cubic, dmat, bidx, bstride, tau_types, wt,
    mover, k_mover, lam, n_steps, tol, maxit, mode, cuts, refine, wtol,
    sigma_out, W_out, res_out, iters_out, solved_out,
):
    """Solve one decision: `_stage_kernel` called through `crisislab._compiled.call`, so it is compiled
    for one signature whatever arrays (read-only, F-ordered) its caller holds."""
    call(
        _stage_kernel, row_ptr, nxt, prob, reward, avail, W_next, disc, grid, uniform, cubic, dmat, bidx, bstride,
        tau_types, wt, mover, k_mover, lam, n_steps, tol, maxit, mode, cuts, refine, wtol,
        sigma_out, W_out, res_out, iters_out, solved_out, outputs=5,
    )


@nb.njit(cache=True, parallel=True)
def _stage_kernel(
    row_ptr, nxt, prob, reward, avail, W_next, disc, grid, uniform, cubic, dmat, bidx, bstride, tau_types, wt,
    mover, k_mover, lam, n_steps, tol, maxit, mode, cuts, refine, wtol,
    sigma_out, W_out, res_out, iters_out, solved_out,
):
    """Solve one decision: every state on its own (states run in parallel over numba's threads;
    each state writes only its own rows, so the result does not depend on the thread count).

    Shapes: `row_ptr` (S*A+1,), `nxt`/`prob` (nnz,), `reward` (nnz, n, k_max), `avail` (S, A) bool,
    `W_next` (S', B, n, T), `grid` (G,) the mover's belief nodes (sorted, 0 and 1 included; `uniform`:
    equally spaced, located arithmetically), `cubic`: values between nodes on the mover's axis by the
    shape-preserving cubic (`_pchip_slopes`) instead of linearly, or, when `dmat` (G, G) is not empty,
    by the cubic Hermite whose node slopes are `dmat @ values` (the derivative of the polynomial
    through all the nodes), `bidx` (B, n) node index of each actor at b,
    `bstride` (n,), `tau_types` (T, n), `wt` (B, T) weight of the others' types at b (mover excluded).
    `mode`: which fixed point a node keeps (`SELECTION_MODES`). 0, "path": λ-continuation from the
    uniform profile at every node. 1, "continuation": the same, except at nodes that `_unique`
    proves to have one fixed point, where the full-λ iteration reaches it faster. 2, "fast": the
    full-λ iteration (then Newton) everywhere, continuation only where both fail. 3, "trace": the
    node's branch traced by arc length from λ = 0 (`_trace`) everywhere, the λ path where it fails.
    `refine` > 0: solve only the nodes a state needs (`_adaptive`: boxes of the node lattice from the
    node indices `cuts` (n, K) on every two-type axis, split where a box's midpoints differ from its corners'
    multilinear reading by more than `refine` in a strategy or `wtol` in a value; the other nodes are
    read from the corners); 0: every node.
    Outputs: `sigma_out` (S, B, k_mover, A), `W_out` (S, B, n, T), `res_out` (S,) max final
    residual, `iters_out` (S,) total iterations, `solved_out` (S,) belief nodes solved.
    """
    S = avail.shape[0]
    for s in nb.prange(S):
        _solve_state(
            s, row_ptr, nxt, prob, reward, avail, W_next, disc, grid, uniform, cubic, dmat, bidx, bstride, tau_types, wt,
            mover, k_mover, lam, n_steps, tol, maxit, mode, cuts, refine, wtol, sigma_out, W_out, res_out, iters_out,
            solved_out,
        )


@nb.njit(cache=True)
def _solve_state(
    s, row_ptr, nxt, prob, reward, avail, W_next, disc, grid, uniform, cubic, dmat, bidx, bstride, tau_types, wt,
    mover, k_mover, lam, n_steps, tol, maxit, mode, cuts, refine, wtol,
    sigma_out, W_out, res_out, iters_out, solved_out,
):
    """State s of `stage_kernel` (same arguments), with its own work buffers."""
    A = avail.shape[1]
    B = bidx.shape[0]
    n = W_out.shape[2]
    T = W_out.shape[3]
    G = grid.shape[0]
    g_m = G if k_mover == 2 else 1
    st_m = bstride[mover]
    adapt = refine > 0.0 and B > 1
    C = np.empty((A, B, n, T)) if adapt else np.zeros((A, B, n, T))
    D = np.empty((A, B, k_mover)) if adapt else np.zeros((A, B, k_mover))
    sig = np.zeros((k_mover, A))
    new = np.zeros((k_mover, A))
    Q = np.zeros((k_mover, A))
    keep = np.zeros((k_mover, A))
    prv = np.zeros((k_mover, A))
    b0 = np.zeros(A, np.int64)
    b1 = np.zeros(A, np.int64)
    wq = np.zeros((4, A))
    if not adapt:  # (an adaptive grid forms the tables of a line of nodes when it first solves on it)
        _tables(s, np.arange(B), row_ptr, nxt, prob, reward, avail, W_next, disc, tau_types, wt, mover, k_mover, C, D)
    # Slopes along the mover's axis for the cubic: per line of nodes that differ only in the
    # mover's coordinate (it starts where the mover's node index is 0).
    cub = cubic and k_mover == 2 and g_m > 2 and not adapt
    if cub:
        dD = np.zeros((A, B, k_mover))
        dC = np.zeros((A, B, n, T))
        ybuf = np.zeros(g_m)
        dbuf = np.zeros(g_m)
        wbuf = np.zeros(g_m)
        for a in range(A):
            if not avail[s, a]:
                continue
            for b in range(B):
                if bidx[b, mover] != 0:
                    continue
                for th in range(k_mover):
                    for q in range(g_m):
                        ybuf[q] = D[a, b + q * st_m, th]
                    _slopes(ybuf, grid, g_m, dbuf, wbuf, dmat)
                    for q in range(g_m):
                        dD[a, b + q * st_m, th] = dbuf[q]
                for i in range(n):
                    for t in range(T):
                        for q in range(g_m):
                            ybuf[q] = C[a, b + q * st_m, i, t]
                        _slopes(ybuf, grid, g_m, dbuf, wbuf, dmat)
                        for q in range(g_m):
                            dC[a, b + q * st_m, i, t] = dbuf[q]
    else:
        dD = np.zeros((1, 1, 1))
        dC = np.zeros((1, 1, 1, 1))
    n_av = 0
    for a in range(A):
        if avail[s, a]:
            n_av += 1
    worst = 0.0
    total_it = 0
    if adapt:
        worst, total_it, n_solved = _adaptive(
            s, row_ptr, nxt, prob, reward, W_next, disc, wt, C, dC, D, dD, avail, k_mover, grid, uniform, cub, g_m,
            st_m, bidx, bstride, tau_types, mover, lam, n_steps, tol, maxit, mode, n_av, sig, new, Q, keep, prv, wq,
            b0, b1, cuts, refine, wtol, sigma_out, W_out,
        )
        solved_out[s] = n_solved
    else:
        for b in range(B):
            res, its = _node(s, b, C, dC, D, dD, avail, k_mover, grid, uniform, cub, g_m, st_m, bidx, tau_types, mover,
                             lam, n_steps, tol, maxit, mode, n_av, sig, new, Q, keep, prv, wq, b0, b1, sigma_out, W_out)
            total_it += its
            if res > worst:
                worst = res
        solved_out[s] = B
    res_out[s] = worst
    iters_out[s] = total_it


@nb.njit(cache=True)
def _tables(s, nodes, row_ptr, nxt, prob, reward, avail, W_next, disc, tau_types, wt, mover, k_mover, C, D):
    """State s's continuation table `C` (`_continuation`) and the mover's own continuation per own
    type `D` at the belief nodes `nodes` (written there, zeroed first):
    D[a, b', θ] = Σ_{τ: τ_m=θ} wt[b', τ] C[a, b', m, τ]. The weights of the others' types depend
    only on the others' coordinates, which a posterior node b' shares with b, so a node's fixed
    point reads D alone (one value per action and corner instead of a sum over type profiles)."""
    A = C.shape[0]
    T = C.shape[3]
    K = nodes.shape[0]
    for a in range(A):
        for k in range(K):
            C[a, nodes[k], :, :] = 0.0
            D[a, nodes[k], :] = 0.0
    _continuation(s, row_ptr, nxt, prob, reward, avail, W_next, disc, tau_types, nodes, 0, C.shape[2], C, True)
    for a in range(A):
        if not avail[s, a]:
            continue
        for k in range(nodes.shape[0]):
            b = nodes[k]
            for t in range(T):
                D[a, b, tau_types[t, mover]] += wt[b, t] * C[a, b, mover, t]


@nb.njit(cache=True)
def _node(s, b, C, dC, D, dD, avail, k_mover, grid, uniform, cub, g_m, st_m, bidx, tau_types, mover,
          lam, n_steps, tol, maxit, mode, n_av, sig, new, Q, keep, prv, wq, b0, b1, sigma_out, W_out):
    """Solve belief node b of state s (`_solve_state`'s tables and buffers): the mover's strategy
    (`_select_node`) and every actor's value there, into `sigma_out[s, b]` and `W_out[s, b]`.
    Returns (final residual, iterations)."""
    A = avail.shape[1]
    n = W_out.shape[2]
    T = W_out.shape[3]
    g = bidx[b, mover]
    x = grid[g] if k_mover == 2 else 1.0
    res, its = _select_node(s, b, g, x, sig, new, Q, keep, prv, wq, b0, b1, D, dD, avail, k_mover, grid, uniform,
                            cub, g_m, st_m, lam, n_steps, tol, maxit, mode, n_av)
    # final posteriors at the converged strategy, then values of every actor
    _posterior_nodes(s, b, g, x, sig, wq, b0, b1, avail, k_mover, grid, uniform, cub, g_m, st_m)
    for i in range(n):
        for t in range(T):
            th = tau_types[t, mover]
            acc = 0.0
            for a in range(A):
                if avail[s, a] and sig[th, a] > 0.0:
                    v = wq[0, a] * C[a, b0[a], i, t] + wq[1, a] * C[a, b1[a], i, t]
                    if cub:
                        v += wq[2, a] * dC[a, b0[a], i, t] + wq[3, a] * dC[a, b1[a], i, t]
                    acc += sig[th, a] * v
            W_out[s, b, i, t] = acc
    for th in range(k_mover):
        for a in range(A):
            sigma_out[s, b, th, a] = sig[th, a]
    return res, its


@nb.njit(cache=True)
def _box_weights(p, lo, hi, axes, m, grid, wts, corner):
    """Multilinear weights `wts` (2**m,) of the box lo..hi's corners at point p (node indices per
    actor), over the `m` varying actors `axes[:m]`, at the node coordinates `grid`; corner c takes
    `hi` on axis k where `corner[c, k]` is 1."""
    for c in range(1 << m):
        w = 1.0
        for k in range(m):
            j = axes[k]
            t = (grid[p[j]] - grid[lo[j]]) / (grid[hi[j]] - grid[lo[j]])
            w *= t if corner[c, k] else 1.0 - t
        wts[c] = w


@nb.njit(cache=True)
def _adaptive(s, row_ptr, nxt, prob, reward, W_next, disc, wt, C, dC, D, dD, avail, k_mover, grid, uniform, cub, g_m,
              st_m, bidx, bstride, tau_types, mover, lam, n_steps, tol, maxit, mode, n_av, sig, new, Q, keep, prv, wq,
              b0, b1, cuts, refine, wtol, sigma_out, W_out):
    """The belief nodes of state s solved where they are needed: boxes of the node lattice, starting
    from the tensor product of the node indices `cuts[j]` on every two-type actor j's axis (sorted,
    from 0 to the last node, padded with −1), are solved at
    their corners and tested at their midpoints (every point of the box with at least one coordinate
    at an axis's middle node); a box whose tested strategies differ from the multilinear reading of
    its corners by more than `refine`, or its values by more than `wtol`, is split at the midpoints,
    down to neighbouring nodes. Every node never solved is then read multilinearly from the corners
    of the smallest box holding it, so the outputs are full lattice tables, as the dense grid's.
    Each node's solve depends on nothing but its own state's tables, so the result does not depend
    on the order in which boxes are taken. Returns (worst residual, iterations, nodes solved)."""
    B = bidx.shape[0]
    n = bidx.shape[1]
    axes = np.zeros(n, np.int64)
    m = 0
    for j in range(n):
        if bidx[B - 1, j] > 0:
            axes[m] = j
            m += 1
    corner = np.zeros((1 << m, m), np.int64)
    for c in range(1 << m):
        for k in range(m):
            corner[c, k] = (c >> k) & 1
    n_test = 1
    for k in range(m):
        n_test *= 3
    n_init = 1
    for k in range(m):
        K = 0
        while K < cuts.shape[1] and cuts[axes[k], K] >= 0:
            K += 1
        n_init *= K - 1
    # boxes are taken last in, first out: the stack holds the start boxes and, per level of
    # splitting (at most ~log2 of the nodes per axis), the siblings of the box being split
    cap = n_init + 64 * (1 << m) + 16
    lo_st = np.zeros((cap, n), np.int64)
    hi_st = np.zeros((cap, n), np.int64)
    top = 0
    # the initial boxes: the tensor product of consecutive cuts on every varying axis
    for q in range(n_init):
        r = q
        for k in range(m):
            j = axes[k]
            K = 0
            while K < cuts.shape[1] and cuts[j, K] >= 0:
                K += 1
            i = r % (K - 1)
            r //= K - 1
            lo_st[top, j] = cuts[j, i]
            hi_st[top, j] = cuts[j, i + 1]
        top += 1
    done = np.zeros(B, np.bool_)
    vol = np.full(B, np.inf)
    line = np.zeros(B, np.bool_)  # at a line's first node (mover's index 0): its tables are formed
    lnodes = np.zeros(g_m, np.int64)
    wts = np.zeros(1 << m)
    cflat = np.zeros(1 << m, np.int64)
    p = np.zeros(n, np.int64)
    lo = np.zeros(n, np.int64)
    hi = np.zeros(n, np.int64)
    mid = np.zeros(n, np.int64)
    acc = np.zeros(3)  # worst residual, iterations, nodes solved
    while top > 0:
        top -= 1
        for j in range(n):
            lo[j] = lo_st[top, j]
            hi[j] = hi_st[top, j]
        for c in range(1 << m):
            f = 0
            for k in range(m):
                j = axes[k]
                f += (hi[j] if corner[c, k] else lo[j]) * bstride[j]
            cflat[c] = f
            _once(s, f, done, line, lnodes, acc, row_ptr, nxt, prob, reward, W_next, disc, wt, C, dC, D, dD, avail,
                  k_mover, grid, uniform, cub, g_m, st_m, bidx, tau_types, mover, lam, n_steps, tol, maxit, mode, n_av,
                  sig, new, Q, keep, prv, wq, b0, b1, sigma_out, W_out)
        split = False
        for k in range(m):
            j = axes[k]
            mid[j] = (lo[j] + hi[j]) >> 1
            if hi[j] - lo[j] >= 2:
                split = True
        if split:
            err = 0.0
            for q in range(n_test):
                r = q
                at_mid = False
                ok = True
                f = 0
                for k in range(m):
                    j = axes[k]
                    d3 = r % 3
                    r //= 3
                    if d3 == 1:
                        if hi[j] - lo[j] < 2:
                            ok = False
                        at_mid = True
                        p[j] = mid[j]
                    else:
                        p[j] = hi[j] if d3 == 2 else lo[j]
                    f += p[j] * bstride[j]
                if not ok or not at_mid:
                    continue
                _once(s, f, done, line, lnodes, acc, row_ptr, nxt, prob, reward, W_next, disc, wt, C, dC, D, dD,
                      avail, k_mover, grid, uniform, cub, g_m, st_m, bidx, tau_types, mover, lam, n_steps, tol, maxit,
                      mode, n_av, sig, new, Q, keep, prv, wq, b0, b1, sigma_out, W_out)
                _box_weights(p, lo, hi, axes, m, grid, wts, corner)
                err = max(err, _box_read(sigma_out, s, f, cflat, wts, refine, False),
                          _box_read(W_out, s, f, cflat, wts, wtol, False))
            if err > 1.0:
                for c in range(1 << m):
                    ok = True
                    for k in range(m):
                        j = axes[k]
                        if hi[j] - lo[j] < 2:
                            if corner[c, k]:
                                ok = False
                            lo_st[top, j] = lo[j]
                            hi_st[top, j] = hi[j]
                        elif corner[c, k]:
                            lo_st[top, j] = mid[j]
                            hi_st[top, j] = hi[j]
                        else:
                            lo_st[top, j] = lo[j]
                            hi_st[top, j] = mid[j]
                    if ok:
                        top += 1
                continue
        # a leaf: its nodes not solved are read from its corners (a node on a face shared with a
        # smaller box keeps that box's reading; a node solved later overwrites its reading)
        v_box = 1.0
        n_pts = 1
        for k in range(m):
            j = axes[k]
            v_box *= grid[hi[j]] - grid[lo[j]]
            n_pts *= hi[j] - lo[j] + 1
        for r0 in range(n_pts):
            r = r0
            f = 0
            for k in range(m):
                j = axes[k]
                span = hi[j] - lo[j] + 1
                p[j] = lo[j] + r % span
                r //= span
                f += p[j] * bstride[j]
            if done[f] or vol[f] <= v_box:
                continue
            vol[f] = v_box
            _box_weights(p, lo, hi, axes, m, grid, wts, corner)
            _box_read(sigma_out, s, f, cflat, wts, 1.0, True)
            _box_read(W_out, s, f, cflat, wts, 1.0, True)
    return acc[0], int(acc[1]), int(acc[2])


@nb.njit(cache=True)
def _box_read(tab, s, f, cflat, wts, scale, write):
    """The multilinear reading of state s's table `tab` (S, B, ·, ·) at node f from the box corners
    `cflat` with weights `wts`: written at f when `write` (returns 0), else the largest
    |tab[s, f] − reading| / scale."""
    worst = 0.0
    for x in range(tab.shape[2]):
        for y in range(tab.shape[3]):
            v = 0.0
            for c in range(cflat.shape[0]):
                v += wts[c] * tab[s, cflat[c], x, y]
            if write:
                tab[s, f, x, y] = v
            else:
                worst = max(worst, abs(tab[s, f, x, y] - v) / scale)
    return worst


@nb.njit(cache=True)
def _once(s, f, done, line, lnodes, acc, row_ptr, nxt, prob, reward, W_next, disc, wt, C, dC, D, dD, avail,
          k_mover, grid, uniform, cub, g_m, st_m, bidx, tau_types, mover, lam, n_steps, tol, maxit, mode, n_av, sig,
          new, Q, keep, prv, wq, b0, b1, sigma_out, W_out):
    """`_adaptive`'s solve of node f, unless it is `done`: the tables of its line first if no node of
    that line was solved yet (`line` flags a line at its first node; `lnodes` a buffer), then the
    node (`_node`); `acc` keeps the worst residual, the iterations and the nodes solved."""
    if done[f]:
        return
    base = f - bidx[f, mover] * st_m
    if not line[base]:
        for q in range(g_m):
            lnodes[q] = base + q * st_m
        _tables(s, lnodes, row_ptr, nxt, prob, reward, avail, W_next, disc, tau_types, wt, mover, k_mover, C, D)
        line[base] = True
    res, its = _node(s, f, C, dC, D, dD, avail, k_mover, grid, uniform, cub, g_m, st_m, bidx, tau_types, mover,
                     lam, n_steps, tol, maxit, mode, n_av, sig, new, Q, keep, prv, wq, b0, b1, sigma_out, W_out)
    done[f] = True
    acc[0] = max(acc[0], res)
    acc[1] += its
    acc[2] += 1
