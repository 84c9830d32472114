"""Numba kernel of the stage solver: one decision (all states × belief nodes) at a time.

For each reachable state s the kernel first forms the continuation table
`C[a, b, i, τ] = Σ_branches prob · (reward[i, θ_i(τ)] + disc · W_next[s', b, i, τ])` for every action a,
belief node b, actor i and type profile τ (a small per-state buffer, so the big `(S·A, B, n, T)`
array is never materialized), then at every belief node solves the mover's type-contingent logit
strategy and the posterior it induces as a fixed point (a fast full-λ iteration; else Newton;
else damped iteration along a λ schedule from 0 to λ_m, whose continuation keeps the node on the
principal branch; else a long fixed-damping run), and finally the values of
every actor at that node. Compiled once (`cache=True`); a loop per node is the kernel's job here.
"""

from __future__ import annotations

import os

import numba as nb
import numpy as np

# GNU OpenMP, numba's first choice here, aborts a process forked after its threads started (as a
# process pool or Dask's process workers do). Unless the user chose a layer, take a fork-safe one.
if "NUMBA_THREADING_LAYER" not in os.environ:
    nb.config.THREADING_LAYER = "forksafe"

DIRECT_IT = 40
SELECTION_MODES = ("path", "continuation", "fast")  # the kernel's `mode` is the index


@nb.njit(cache=True)
def _bayes_node(x, p0, p1, b, g, g_m, st_m):
    """Posterior of the first type after an action it takes with probability `p0` (the second type:
    `p1`), from prior `x`, as linear-interpolation weight `w` between the belief nodes `b0` and
    `b1 = b0 + st_m` of the mover's axis (grid of `g_m` points; `b` is the node at grid index `g`).

    Returns (w, b0, b1, den) with `den` the action's total probability (0: posterior = prior).
    """
    num = x * p0
    den = num + (1.0 - x) * p1
    post = num / den if den > 0.0 else x
    pos = post * (g_m - 1)
    i0 = min(max(int(pos), 0), g_m - 2)
    b0 = b + (i0 - g) * st_m
    return pos - i0, b0, b0 + st_m, den


@nb.njit(cache=True)
def _posterior_nodes(s, b, g, x, sig, w, b0, b1, avail, k_mover, g_m, st_m):
    """For each available action a: the mover's posterior after a (Bayes on `sig`, shape (2, A)) as
    linear-interpolation weights `w[a]` between belief nodes `b0[a]` and `b1[a]` (in place).

    A one-type mover or a one-point grid keeps the belief node `b` (weight 0).
    """
    for a in range(sig.shape[1]):
        if not avail[s, a]:
            continue
        if k_mover == 2 and g_m > 1:
            w[a], b0[a], b1[a], _ = _bayes_node(x, sig[0, a], sig[1, a], b, g, g_m, st_m)
        else:
            w[a] = 0.0
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
def _iterate(s, b, g, x, sig, new, Q, w, b0, b1, D, avail, k_mover, g_m, st_m,
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
        _posterior_nodes(s, b, g, x, sig, w, b0, b1, avail, k_mover, g_m, st_m)
        for th in range(k_mover):
            for a in range(A):
                if not avail[s, a]:
                    continue
                Q[th, a] = (1.0 - w[a]) * D[a, b0[a], th] + w[a] * D[a, b1[a], th]
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
def _try_newton(s, b, g, x, sig, keep, new, Q, D, avail, g_m, st_m, lam, tol, maxit, res, bound):
    """Newton from σ (in place), kept when its residual falls below `bound`; otherwise σ is put
    back. Returns the residual of the σ kept (`res` is the current one)."""
    keep[:, :] = sig
    res_n = _newton(s, b, g, x, sig, new, Q, D, avail, g_m, st_m, lam, tol, min(50, maxit))
    if res_n < bound:
        return res_n
    sig[:, :] = keep
    return res


@nb.njit(cache=True)
def _unique(s, b, g, D, avail, k_mover, g_m, st_m, lam):
    """True when the node's stage game has exactly one fixed point at every λ' ≤ λ (so the
    full-λ iteration, where it converges, finds the point λ-continuation would reach).

    In the log-odds ℓ'_a of the posteriors the fixed point is ℓ'_a = ℓ + λ(Q_0a − Q_1a)(x'_a) −
    (log Z_0 − log Z_1), with x' = logistic(ℓ') (dx'/dℓ' ≤ 1/4) and Q_θa piecewise linear in x'_a
    along the mover's belief line with slopes s_θa. Each row of the map's Jacobian sums to at most
    λ/4 (|s_0a − s_1a| + Σ_b σ_0b|s_0b| + σ_1b|s_1b|) ≤ λ/4 (max|s_0 − s_1| + 2 max|s|); below 1
    the map is a contraction in the sup norm for every λ' ≤ λ, hence one fixed point each.
    """
    if k_mover != 2 or g_m < 2:
        return True  # the posterior cannot move: a plain logit response
    A = D.shape[0]
    first = b - g * st_m
    dmax = 0.0
    smax = 0.0
    for a in range(A):
        if not avail[s, a]:
            continue
        for i in range(g_m - 1):
            lo = first + i * st_m
            d0 = (D[a, lo + st_m, 0] - D[a, lo, 0]) * (g_m - 1)
            d1 = (D[a, lo + st_m, 1] - D[a, lo, 1]) * (g_m - 1)
            dmax = max(dmax, abs(d0 - d1))
            smax = max(smax, abs(d0), abs(d1))
    return 0.25 * lam * (dmax + 2.0 * smax) < 1.0


@nb.njit(cache=True)
def _solve_small(M, rhs):
    """x with M x = rhs for a small dense system (Gaussian elimination, partial pivoting); copies
    its inputs. Hand-written because np.linalg.solve's LAPACK binding triples the JIT time."""
    N = rhs.shape[0]
    a = M.copy()
    x = rhs.copy()
    for c in range(N):
        p = c
        for r in range(c + 1, N):
            if abs(a[r, c]) > abs(a[p, c]):
                p = r
        if a[p, c] == 0.0:
            continue
        if p != c:
            for k in range(N):
                a[c, k], a[p, k] = a[p, k], a[c, k]
            x[c], x[p] = x[p], x[c]
        for r in range(c + 1, N):
            f = a[r, c] / a[c, c]
            if f != 0.0:
                for k in range(c, N):
                    a[r, k] -= f * a[c, k]
                x[r] -= f * x[c]
    for c in range(N - 1, -1, -1):
        acc = x[c]
        for k in range(c + 1, N):
            acc -= a[c, k] * x[k]
        x[c] = acc / a[c, c] if a[c, c] != 0.0 else 0.0
    return x


@nb.njit(cache=True)
def _newton(s, b, g, x, sig, new, Q, D, avail, g_m, st_m, lam, tol, maxit):
    """Newton's method on R(σ) = σ − logit(λQ(σ)) for a two-type mover, analytic Jacobian.

    Q(θ, a) depends on σ only through action a's posterior x'_a, piecewise linearly (grid
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
    res_now = 1e300
    for _it in range(maxit):
        # residual, posteriors, slopes
        for a in range(A):
            if not avail[s, a]:
                continue
            w, b0, b1, den = _bayes_node(x, sig[0, a], sig[1, a], b, g, g_m, st_m)
            for th in range(2):
                lo_v = D[a, b0, th]
                hi_v = D[a, b1, th]
                Q[th, a] = (1.0 - w) * lo_v + w * hi_v
                slope[th, a] = (hi_v - lo_v) * (g_m - 1)
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
                w, b0, b1, _ = _bayes_node(x, trial[0, a], trial[1, a], b, g, g_m, st_m)
                for th in range(2):
                    Q[th, a] = (1.0 - w) * D[a, b0, th] + w * D[a, b1, th]
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


@nb.njit(cache=True, parallel=True)
def stage_kernel(
    row_ptr, nxt, prob, reward, avail, W_next, disc, grid, bidx, bstride, tau_types, wt,
    mover, k_mover, lam, n_steps, tol, maxit, mode,
    sigma_out, W_out, res_out, iters_out,
):
    """Solve one decision: every state on its own (states run in parallel over numba's threads;
    each state writes only its own rows, so the result does not depend on the thread count).

    Shapes: `row_ptr` (S*A+1,), `nxt`/`prob` (nnz,), `reward` (nnz, n, k_max), `avail` (S, A) bool,
    `W_next` (S', B, n, T), `grid` (G,), `bidx` (B, n) grid index of each actor at node b,
    `bstride` (n,), `tau_types` (T, n), `wt` (B, T) weight of the others' types at b (mover excluded).
    `mode`: which fixed point a node keeps (`SELECTION_MODES`). 0, "path": λ-continuation from the
    uniform profile at every node. 1, "continuation": the same, except at nodes that `_unique`
    proves to have one fixed point, where the full-λ iteration reaches it faster. 2, "fast": the
    full-λ iteration (then Newton) everywhere, continuation only where both fail.
    Outputs: `sigma_out` (S, B, k_mover, A), `W_out` (S, B, n, T), `res_out` (S,) max final
    residual, `iters_out` (S,) total iterations.
    """
    S = avail.shape[0]
    for s in nb.prange(S):
        _solve_state(
            s, row_ptr, nxt, prob, reward, avail, W_next, disc, grid, bidx, bstride, tau_types, wt,
            mover, k_mover, lam, n_steps, tol, maxit, mode, sigma_out, W_out, res_out, iters_out,
        )


@nb.njit(cache=True)
def _solve_state(
    s, row_ptr, nxt, prob, reward, avail, W_next, disc, grid, bidx, bstride, tau_types, wt,
    mover, k_mover, lam, n_steps, tol, maxit, mode,
    sigma_out, W_out, res_out, iters_out,
):
    """State s of `stage_kernel` (same arguments), with its own work buffers."""
    A = avail.shape[1]
    B = bidx.shape[0]
    n = W_out.shape[2]
    T = W_out.shape[3]
    G = grid.shape[0]
    g_m = G if k_mover == 2 else 1
    st_m = bstride[mover]
    C = np.zeros((A, B, n, T))
    D = np.zeros((A, B, k_mover))
    sig = np.zeros((k_mover, A))
    new = np.zeros((k_mover, A))
    Q = np.zeros((k_mover, A))
    keep = np.zeros((k_mover, A))
    b0 = np.zeros(A, np.int64)
    b1 = np.zeros(A, np.int64)
    w = np.zeros(A)
    # continuation table of this state
    for a in range(A):
        if not avail[s, a]:
            continue
        r = s * A + a
        for j in range(row_ptr[r], row_ptr[r + 1]):
            p = prob[j]
            for i in range(n):
                for t in range(T):
                    rv = p * reward[j, i, tau_types[t, i]]
                    for b in range(B):
                        C[a, b, i, t] += rv
            if nxt[j] >= 0:
                q = p * disc
                sn = nxt[j]
                for b in range(B):
                    for i in range(n):
                        for t in range(T):
                            C[a, b, i, t] += q * W_next[sn, b, i, t]
    # The mover's own continuation per own type: D[a, b', θ] = Σ_{τ: τ_m=θ} wt[b', τ] C[a, b', m, τ].
    # The weights of the others' types depend only on the others' coordinates, which the
    # posterior node b' shares with b, so the fixed point below reads D alone (one value
    # per action and corner instead of a sum over type profiles).
    for a in range(A):
        for b in range(B):
            for th in range(k_mover):
                D[a, b, th] = 0.0
            if not avail[s, a]:
                continue
            for t in range(T):
                D[a, b, tau_types[t, mover]] += wt[b, t] * C[a, b, mover, t]
    n_av = 0
    for a in range(A):
        if avail[s, a]:
            n_av += 1
    worst = 0.0
    total_it = 0
    for b in range(B):
        g = bidx[b, mover]
        x = grid[g] if k_mover == 2 else 1.0
        for th in range(k_mover):
            for a in range(A):
                sig[th, a] = 1.0 / n_av if avail[s, a] else 0.0
        # (No warm start from the neighbouring belief node: the stage game can have several
        # fixed points and a warm start picks another branch at ~10% of the flagship's nodes.)
        if mode == 2 or (mode == 1 and _unique(s, b, g, D, avail, k_mover, g_m, st_m, lam)):
            res, its, damped = _iterate(
                s, b, g, x, sig, new, Q, w, b0, b1, D, avail, k_mover, g_m, st_m,
                lam, tol, min(DIRECT_IT, maxit), False, 1.0,
            )
            total_it += its
        else:  # several fixed points possible: keep the one on the λ path (below)
            res, damped = 1.0, True
        if mode == 2 and (damped or res >= tol) and k_mover == 2 and g_m > 1 and 0.0 < x < 1.0:
            # Newton from where the fast path stopped; kept only if it converges
            res = _try_newton(s, b, g, x, sig, keep, new, Q, D, avail, g_m, st_m, lam, tol, maxit, res, tol)
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
                tol_k = tol if step == steps else 1e-7
                res, its, damped = _iterate(
                    s, b, g, x, sig, new, Q, w, b0, b1, D, avail, k_mover, g_m,
                    st_m, lam_k, tol_k, maxit, True, 1.0,
                )
                total_it += its
            if res >= tol and k_mover == 2 and g_m > 1 and 0.0 < x < 1.0:
                # Newton from where continuation stopped: a local corrector, so it finishes the
                # point on this branch (stiff nodes at large λ stall the damped iteration near it)
                res = _try_newton(s, b, g, x, sig, keep, new, Q, D, avail, g_m, st_m, lam, tol, maxit, res, res)
                total_it += 1
            if res >= tol:
                # Last resort: a long run with fixed moderate damping from where continuation
                # stopped (adaptive damping can shrink the step until it stalls on maps with
                # strong, non-monotone feedback).
                keep[:, :] = sig
                res2, its, damped = _iterate(
                    s, b, g, x, sig, new, Q, w, b0, b1, D, avail, k_mover, g_m,
                    st_m, lam, tol, 20 * maxit, True, 0.05,
                )
                total_it += its
                if res2 < res:
                    res = res2
                else:  # no better: keep the continuation's point
                    sig[:, :] = keep
        if res > worst:
            worst = res
        # final posteriors at the converged strategy, then values of every actor
        _posterior_nodes(s, b, g, x, sig, w, b0, b1, avail, k_mover, g_m, st_m)
        for i in range(n):
            for t in range(T):
                th = tau_types[t, mover]
                acc = 0.0
                for a in range(A):
                    if avail[s, a] and sig[th, a] > 0.0:
                        acc += sig[th, a] * ((1.0 - w[a]) * C[a, b0[a], i, t] + w[a] * C[a, b1[a], i, t])
                W_out[s, b, i, t] = acc
        for th in range(k_mover):
            for a in range(A):
                sigma_out[s, b, th, a] = sig[th, a]
    res_out[s] = worst
    iters_out[s] = total_it
