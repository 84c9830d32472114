"""Compiled kernels of the logit QRE tracer: the system H(x, c, λ) = 0 and its Jacobian on a game tree.

The tracer (`_logit.py`) works in log-probabilities. Unknowns, one vector `y` of length `N + 1`:
`x` (log σ, one per action, `n_act`), `c` (log-normaliser, one per decision infoset, `n_inf`) and λ,
with `N = n_act + n_inf`. Equations, `N` of them:

    H_a     = x_a − λ·Q_a(σ) − c_I       for every action a of infoset I   (logit response)
    H_{n_act+I} = Σ_{a∈I} exp(x_a) − 1   for every infoset I               (probabilities sum to 1)

where `Q_a` is the expected payoff to I's player of taking a, conditional on reaching I, with
beliefs μ(h) ∝ reach of node h by chance and the *other* players (perfect recall makes the own
part equal across I). The extra unknown c_I keeps every logit row local to its own action (no
reference action), which keeps the Jacobian as sparse as the tree.

Derivatives, per (ancestor decision node g, descendant node n) pair, with a = the action at g on
the way to n, c = g's child on that path, i = player(g), P(n|c) = reach of n from c:
  * descendant term (n's in-edge α is a player's action below c):  ∂Q_a/∂x_α += μ(g)·P(n|c)·v_i(n)
  * belief term (n = h is a decision node of a player j ≠ i, so x_a moves j's beliefs at h's
    infoset J): for every action a' of J, ∂Q_{a'}/∂x_a += μ(h)·(v_j(h·a') − Q_{a'})
These pairs are enumerated once per game (`build_pairs`); their count is Σ_n (decision ancestors
of n), i.e. n_nodes × mean depth. Everything is a flat loop over nodes, infosets or pairs.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def build_pairs(parent, is_dec):  # pragma: no cover - compiled
    """All (decision ancestor g, node n) pairs, n strictly below g.

    Returns int64 arrays of shape `(n_pairs,)`: `g`, `n`, and `c` (the child of g on the path to n).
    """
    nn = parent.shape[0]
    cnt = np.zeros(nn, np.int64)
    for n in range(1, nn):
        p = parent[n]
        cnt[n] = cnt[p] + (1 if is_dec[p] else 0)
    total = 0
    for n in range(nn):
        total += cnt[n]
    pg = np.empty(total, np.int64)
    pn = np.empty(total, np.int64)
    pc = np.empty(total, np.int64)
    k = 0
    for n in range(1, nn):
        child = n
        anc = parent[n]
        while anc >= 0:
            if is_dec[anc]:
                pg[k] = anc
                pn[k] = n
                pc[k] = child
                k += 1
            child = anc
            anc = parent[anc]
    return pg, pn, pc


@njit(cache=True)
def node_pass(x, log_chance, parent, in_action, edge_owner, payoff):  # pragma: no cover
    """Reach (in logs) top-down and values bottom-up, for log-profile `x` `(n_act,)`.

    Returns `lp` `(n_nodes,)` log-probability of the edge into each node (0 at root);
    `logpi` `(n_nodes,)` log of the probability of reaching the node (all players and chance);
    `logown` `(n_nodes, n_players)` log of each player's own contribution to that reach;
    `v` `(n_nodes, n_players)` expected payoff from the node on.
    Preorder guarantees `parent[n] < n`, so one forward and one backward sweep suffice.
    """
    nn = parent.shape[0]
    npl = payoff.shape[1]
    lp = np.zeros(nn)
    logpi = np.zeros(nn)
    logown = np.zeros((nn, npl))
    for n in range(1, nn):
        p = parent[n]
        a = in_action[n]
        e = x[a] if a >= 0 else log_chance[n]
        lp[n] = e
        logpi[n] = logpi[p] + e
        for q in range(npl):
            logown[n, q] = logown[p, q]
        if a >= 0:
            logown[n, edge_owner[n]] += e
    v = payoff.copy()
    for n in range(nn - 1, 0, -1):
        p = parent[n]
        w = np.exp(lp[n])
        if w != 0.0:
            for q in range(npl):
                v[p, q] += w * v[n, q]
    return lp, logpi, logown, v


@njit(cache=True)
def beliefs_and_q(logpi, logown, v, inf_player, mem_start, members, action_offset, inf_n_act,
                  child_start, children, n_act):  # pragma: no cover
    """Beliefs μ `(n_nodes,)` (zero off decision nodes) and action values Q `(n_act,)`.

    μ(h) = ρ₋ᵢ(h) / Σ_{h'∈I} ρ₋ᵢ(h'), computed with a log-sum-exp so that deep, unlikely infosets
    (reach far below the smallest float) still get well-defined conditional beliefs.
    """
    nn = logpi.shape[0]
    mu = np.zeros(nn)
    q = np.zeros(n_act)
    n_inf = inf_player.shape[0]
    for inf in range(n_inf):
        i = inf_player[inf]
        s, e = mem_start[inf], mem_start[inf + 1]
        m = -np.inf
        for k in range(s, e):
            h = members[k]
            r = logpi[h] - logown[h, i]
            if r > m:
                m = r
        tot = 0.0
        for k in range(s, e):
            h = members[k]
            w = np.exp(logpi[h] - logown[h, i] - m) if m > -np.inf else 1.0
            mu[h] = w
            tot += w
        off = action_offset[inf]
        for k in range(s, e):
            h = members[k]
            mu[h] /= tot
            cs = child_start[h]
            for j in range(inf_n_act[inf]):
                q[off + j] += mu[h] * v[children[cs + j], i]
    return mu, q


@njit(cache=True)
def residual(x, cc, lam, q, action_infoset, action_offset, inf_n_act):  # pragma: no cover
    """H `(n_act + n_inf,)`: logit rows then normalisation rows."""
    n_act = x.shape[0]
    n_inf = cc.shape[0]
    h = np.empty(n_act + n_inf)
    for a in range(n_act):
        h[a] = x[a] - lam * q[a] - cc[action_infoset[a]]
    for inf in range(n_inf):
        s = 0.0
        for j in range(inf_n_act[inf]):
            s += np.exp(x[action_offset[inf] + j])
        h[n_act + inf] = s - 1.0
    return h


@njit(cache=True)
def jacobian_values(x, lam, q, mu, logpi, v, node_player, in_action, node_infoset,
                    pa_g, pa_n, pa_c, pb_g, pb_h, pb_b, action_offset, inf_n_act,
                    child_start, children, action_infoset):  # pragma: no cover
    """Values of the Jacobian entries, in the fixed order of `jacobian_pattern`. Shape `(n_entries,)`.

    Layout: [descendant terms (pairs A) | belief terms (pairs B × actions of h's infoset) |
    ∂H_a/∂x_a = 1 | ∂H_a/∂c_I = −1 | ∂H_a/∂λ = −Q_a | ∂(Σσ)/∂x_a = σ_a].
    """
    na = pa_g.shape[0]
    n_act = x.shape[0]
    nb_tot = 0
    for k in range(pb_h.shape[0]):
        nb_tot += inf_n_act[node_infoset[pb_h[k]]]
    out = np.empty(na + nb_tot + 4 * n_act)
    for k in range(na):
        g = pa_g[k]
        n = pa_n[k]
        out[k] = -lam * mu[g] * np.exp(logpi[n] - logpi[pa_c[k]]) * v[n, node_player[g]]
    pos = na
    for k in range(pb_h.shape[0]):
        h = pb_h[k]
        inf = node_infoset[h]
        j_pl = node_player[h]
        off = action_offset[inf]
        cs = child_start[h]
        f = -lam * mu[h]
        for j in range(inf_n_act[inf]):
            out[pos] = f * (v[children[cs + j], j_pl] - q[off + j])
            pos += 1
    for a in range(n_act):
        out[pos + a] = 1.0
        out[pos + n_act + a] = -1.0
        out[pos + 2 * n_act + a] = -q[a]
        out[pos + 3 * n_act + a] = np.exp(x[a])
    return out


# ---- fused evaluation and one dense predictor–corrector step ------------------------------------
# `S` is the tuple of structure arrays built by `_LogitSystem.kernel_args()`; passing it as one
# tuple keeps the call overhead of a step at a few microseconds, which matters on small games
# where a step costs less than a Python-level call sequence would.


@njit(cache=True)
def evaluate(y, S, n_act, jac):  # pragma: no cover
    """Residual H `(N,)`, Jacobian entry values, σ `(n_act,)` and the regret bound per player.

    The bound is Σ over the player's infosets of counterfactual reach × (max_a Q_a − Σ σ_a Q_a),
    which dominates the player's regret (Zinkevich et al. 2007, Thm. 3); in rescaled payoff units.
    """
    (log_chance, parent, in_action, edge_owner, payoff, inf_player, mem_start, members,
     action_offset, inf_n_act, child_start, children, action_infoset, node_player, node_infoset,
     pa_g, pa_n, pa_c, pb_g, pb_h, pb_c, flat) = S
    x = y[:n_act]
    n_inf = inf_player.shape[0]
    cc = y[n_act:n_act + n_inf]
    lam = y[n_act + n_inf]
    lp, logpi, logown, v = node_pass(x, log_chance, parent, in_action, edge_owner, payoff)
    mu, q = beliefs_and_q(logpi, logown, v, inf_player, mem_start, members, action_offset,
                          inf_n_act, child_start, children, n_act)
    h = residual(x, cc, lam, q, action_infoset, action_offset, inf_n_act)
    npl = payoff.shape[1]
    bound = np.zeros(npl)
    sigma = np.exp(x)
    for inf in range(n_inf):
        i = inf_player[inf]
        d = 0.0
        for k in range(mem_start[inf], mem_start[inf + 1]):
            hh = members[k]
            d += np.exp(logpi[hh] - logown[hh, i])
        off = action_offset[inf]
        best = -np.inf
        mean = 0.0
        tot = 0.0
        for j in range(inf_n_act[inf]):
            if q[off + j] > best:
                best = q[off + j]
            mean += sigma[off + j] * q[off + j]
            tot += sigma[off + j]
        bound[i] += d * (best - mean / tot)
    if jac:
        vals = jacobian_values(x, lam, q, mu, logpi, v, node_player, in_action, node_infoset,
                               pa_g, pa_n, pa_c, pb_g, pb_h, pb_c, action_offset, inf_n_act,
                               child_start, children, action_infoset)
    else:
        vals = np.zeros(0)
    return h, vals, sigma, bound


@njit(cache=True)
def lu_solve_inplace(M, b):  # pragma: no cover
    """Solve M z = b by Gaussian elimination with partial pivoting; overwrites M and b, returns z.

    Written out rather than `np.linalg.solve` because numba compiles LAPACK bindings very slowly
    (seconds per caller) and this path only serves small bordered systems (N ≤ COMPILED_MAX).
    """
    m = M.shape[0]
    for k in range(m):
        p = k
        best = abs(M[k, k])
        for i in range(k + 1, m):
            a = abs(M[i, k])
            if a > best:
                best = a
                p = i
        if best == 0.0:
            b[:] = np.nan
            return b
        if p != k:
            for j in range(m):
                tmp = M[k, j]
                M[k, j] = M[p, j]
                M[p, j] = tmp
            tmp = b[k]
            b[k] = b[p]
            b[p] = tmp
        piv = M[k, k]
        for i in range(k + 1, m):
            f = M[i, k] / piv
            if f != 0.0:
                for j in range(k + 1, m):
                    M[i, j] -= f * M[k, j]
                b[i] -= f * b[k]
    for k in range(m - 1, -1, -1):
        acc = b[k]
        for j in range(k + 1, m):
            acc -= M[k, j] * b[j]
        b[k] = acc / M[k, k]
    return b


@njit(cache=True)
def dense_bordered(vals, flat, border):  # pragma: no cover
    """The bordered matrix [J; borderᵀ] `(N+1, N+1)` from entry values (duplicates summed)."""
    m = border.shape[0]
    M = np.zeros((m, m))
    Mf = M.reshape(m * m)
    for k in range(vals.shape[0]):
        Mf[flat[k]] += vals[k]
    for j in range(m):
        M[m - 1, j] = border[j]
    return M


@njit(cache=True)
def dense_correct(y, border, step, S, n_act, tol_abs, tol_rel, res_tol, newton_max, contraction_max):  # pragma: no cover
    """Newton on [H = 0; borderᵀ(y − y₀) = 0] from y₀ = `y`.

    Returns (ok, y, vals, iterations); `vals` are the Jacobian values at the last iterate.
    Fails when a step does not contract, leaves the finite range, or drifts further than `step`.
    """
    m = y.shape[0]
    y0 = y.copy()
    y = y.copy()
    prev = np.inf
    rhs = np.zeros(m)
    vals = np.zeros(0)
    for it in range(newton_max):
        h, vals, sigma, bound = evaluate(y, S, n_act, True)
        hmax = 0.0
        for k in range(m - 1):
            if not np.isfinite(h[k]):
                return False, y, vals, it + 1
            rhs[k] = -h[k]
            if abs(h[k]) > hmax:
                hmax = abs(h[k])
        if it > 0 and hmax <= res_tol * (1.0 + abs(y[m - 1])):
            # residual at rounding level: near-singular Jacobians (degenerate limits) make the
            # Newton step noisy long before the point stops solving the equations
            return True, y, vals, it + 1
        rhs[m - 1] = 0.0
        M = dense_bordered(vals, S[21], border)
        d = lu_solve_inplace(M, rhs.copy())
        nd = 0.0
        for k in range(m):
            a = abs(d[k])
            if not np.isfinite(a):
                return False, y, vals, it + 1
            if a > nd:
                nd = a
        tol = tol_abs + tol_rel * abs(y[m - 1])
        if nd > tol and nd > contraction_max * prev:
            return False, y, vals, it + 1
        dist = 0.0
        for k in range(m):
            y[k] += d[k]
            a = abs(y[k] - y0[k])
            if a > dist:
                dist = a
        if dist > max(step, 1e-8):
            return False, y, vals, it + 1
        if nd <= tol:
            return True, y, vals, it + 1
        prev = nd
    return False, y, vals, newton_max


@njit(cache=True)
def dense_tangent(vals, prev, flat):  # pragma: no cover
    """Unit tangent: solve [J; prevᵀ] t = e_N (so t·prev = 1 > 0 keeps the orientation), normalise."""
    m = prev.shape[0]
    M = dense_bordered(vals, flat, prev)
    rhs = np.zeros(m)
    rhs[m - 1] = 1.0
    t = lu_solve_inplace(M, rhs)
    return t / np.sqrt(np.sum(t * t))


@njit(cache=True)
def dense_step(y, t, h, S, n_act, tol_abs, tol_rel, res_tol, newton_max, contraction_max, min_cos,
               min_step):  # pragma: no cover
    """One accepted predictor–corrector step of arc length ≤ `h`, halving `h` on rejection.

    Returns (ok, y_new, t_new, h_used, n_rejected, n_newton). `ok` is False when `h` fell below
    `min_step` without an accepted step.
    """
    n_rej = 0
    n_newton = 0
    while h >= min_step:
        ok, y_new, vals, it = dense_correct(y + h * t, t, h, S, n_act, tol_abs, tol_rel, res_tol,
                                            newton_max, contraction_max)
        n_newton += it
        if ok:
            t_new = dense_tangent(vals, t, S[21])
            if np.sum(t_new * t) >= min_cos:
                return True, y_new, t_new, h, n_rej, n_newton
        n_rej += 1
        h *= 0.5
    return False, y, t, h, n_rej, n_newton
