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

    Returns `lp` `(n_nodes,)` log-probability of the edge into each node (0 at root; −inf on a
    chance edge of probability 0); `logpi` `(n_nodes,)` log of the probability of reaching the node
    (all players and chance) over its edges of positive probability, and `nz` `(n_nodes,)` how many
    chance edges of probability 0 lie above it: the reach is 0 when `nz > 0`, and among the nodes of
    one infoset only those with the fewest such edges carry belief (a zero chance probability is
    the limit ε → 0, so an infoset reached only through such edges still has beliefs, and one also
    reached otherwise puts none on them, as Gambit's floating-point beliefs do);
    `logown` `(n_nodes, n_players)` log of each player's own contribution to that reach;
    `v` `(n_nodes, n_players)` expected payoff from the node on.
    Preorder guarantees `parent[n] < n`, so one forward and one backward sweep suffice.
    """
    nn = parent.shape[0]
    npl = payoff.shape[1]
    lp = np.zeros(nn)
    logpi = np.zeros(nn)
    nz = np.zeros(nn, dtype=np.int64)
    logown = np.zeros((nn, npl))
    for n in range(1, nn):
        p = parent[n]
        a = in_action[n]
        e = x[a] if a >= 0 else log_chance[n]
        lp[n] = e
        nz[n] = nz[p]
        if e == -np.inf:
            nz[n] += 1
            logpi[n] = logpi[p]
        else:
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
    return lp, logpi, nz, logown, v


@njit(cache=True)
def beliefs_and_q(logpi, nz, logown, v, inf_player, mem_start, members, action_offset, inf_n_act,
                  child_start, children, n_act):  # pragma: no cover
    """Beliefs μ `(n_nodes,)` (zero off decision nodes) and action values Q `(n_act,)`.

    μ(h) = ρ₋ᵢ(h) / Σ_{h'∈I} ρ₋ᵢ(h'), computed with a log-sum-exp so that deep, unlikely infosets
    (reach far below the smallest float) still get well-defined conditional beliefs; only the
    members with the fewest zero-probability chance edges above them (`nz`, `node_pass`) count.
    """
    nn = logpi.shape[0]
    mu = np.zeros(nn)
    q = np.zeros(n_act)
    n_inf = inf_player.shape[0]
    for inf in range(n_inf):
        i = inf_player[inf]
        s, e = mem_start[inf], mem_start[inf + 1]
        zmin = nz[members[s]]
        for k in range(s + 1, e):
            zmin = min(zmin, nz[members[k]])
        m = -np.inf
        for k in range(s, e):
            h = members[k]
            r = logpi[h] - logown[h, i]
            if nz[h] == zmin and r > m:
                m = r
        tot = 0.0
        for k in range(s, e):
            h = members[k]
            if nz[h] != zmin:
                w = 0.0
            else:
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
def jacobian_values(x, lam, q, mu, logpi, nz, v, node_player, in_action, node_infoset,
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
        c = pa_c[k]
        out[k] = 0.0 if nz[n] != nz[c] else -lam * mu[g] * np.exp(logpi[n] - logpi[c]) * v[n, node_player[g]]
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
    """Residual H `(N,)` and the Jacobian entry values `(n_entries,)` (empty unless `jac`)."""
    (log_chance, parent, in_action, edge_owner, payoff, inf_player, mem_start, members,
     action_offset, inf_n_act, child_start, children, action_infoset, node_player, node_infoset,
     pa_g, pa_n, pa_c, pb_g, pb_h, pb_c, flat, dec_depth) = S
    x = y[:n_act]
    n_inf = inf_player.shape[0]
    cc = y[n_act:n_act + n_inf]
    lam = y[n_act + n_inf]
    lp, logpi, nz, logown, v = node_pass(x, log_chance, parent, in_action, edge_owner, payoff)
    mu, q = beliefs_and_q(logpi, nz, logown, v, inf_player, mem_start, members, action_offset,
                          inf_n_act, child_start, children, n_act)
    h = residual(x, cc, lam, q, action_infoset, action_offset, inf_n_act)
    if jac:
        vals = jacobian_values(x, lam, q, mu, logpi, nz, v, node_player, in_action, node_infoset,
                               pa_g, pa_n, pa_c, pb_g, pb_h, pb_c, action_offset, inf_n_act,
                               child_start, children, action_infoset)
    else:
        vals = np.zeros(0)
    return h, vals


@njit(cache=True)
def rounding_floor(y, n_act, dec_depth):  # pragma: no cover
    """The rounding level of λ·Q in H at `y`, below which no corrector can push the residual.

    Beliefs at an infoset are exponentials of differences of log-reaches, sums of up to
    `dec_depth` log-probabilities each; at large λ those are large (|x| ~ λ·payoff gap), so their
    absolute rounding error ε·dec_depth·max|x| moves beliefs, hence Q, by that relative amount, and
    λ·Q by λ times it. A residual r in the logit rows moves the action-value differences the
    profile responds to by only r/λ, so accepting it costs no accuracy in the regret.
    """
    xmax = 0.0
    for k in range(n_act):
        a = abs(y[k])
        if a > xmax:
            xmax = a
    return 8.0 * 2.220446049250313e-16 * abs(y[y.shape[0] - 1]) * (1.0 + dec_depth * xmax)


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
        h, vals = evaluate(y, S, n_act, True)
        hmax = 0.0
        for k in range(m - 1):
            if not np.isfinite(h[k]):
                return False, y, vals, it + 1
            rhs[k] = -h[k]
            if abs(h[k]) > hmax:
                hmax = abs(h[k])
        floor = rounding_floor(y, n_act, S[22][0])
        if it > 0 and hmax <= res_tol * (1.0 + abs(y[m - 1])) + floor:
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
        tol = tol_abs + tol_rel * abs(y[m - 1]) + floor
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


# ---- exact max regret (Gambit's definition) for the stop test ------------------------------------


@njit(cache=True)
def exact_regret(x, R, action_offset, inf_n_act, inf_player):  # pragma: no cover
    """Gambit's max regret `max_p (BR_p − u_p)` of the profile exp(`x`) renormalised per infoset.

    `R = (term_seq (n_T, n_players), term_chance (n_T,), term_pay (n_T, n_players), inf_parent_seq
    (n_inf,), chance_prob (n_nodes,), n_children (n_nodes,))` (the last two for `agent_max_regret_x`), payoffs in the tracer's rescaled units. The sequence-form computation of
    `crisislab.efg._eval.max_regret`, in one pass: realization plan top-down (an infoset's parent
    sequence belongs to an infoset of smaller index, since infosets are numbered in preorder of first
    appearance), terminal contributions, then best responses folded bottom-up. O(n_T·n_players).
    """
    term_seq, term_chance, term_pay, inf_parent_seq = R[0], R[1], R[2], R[3]
    n_act = x.shape[0]
    n_inf = inf_n_act.shape[0]
    npl = term_pay.shape[1]
    r = np.ones(n_act + npl)
    for inf in range(n_inf):
        off = action_offset[inf]
        tot = 0.0
        for j in range(inf_n_act[inf]):
            tot += np.exp(x[off + j])
        base = r[inf_parent_seq[inf]]
        for j in range(inf_n_act[inf]):
            r[off + j] = base * np.exp(x[off + j]) / tot
    sv = np.zeros(n_act + npl)
    u = np.zeros(npl)
    for k in range(term_seq.shape[0]):
        for p in range(npl):
            cf = term_chance[k]
            for q in range(npl):
                if q != p:
                    cf *= r[term_seq[k, q]]
            w = cf * term_pay[k, p]
            sv[term_seq[k, p]] += w
            u[p] += w * r[term_seq[k, p]]
    for inf in range(n_inf - 1, -1, -1):
        off = action_offset[inf]
        best = -np.inf
        for j in range(inf_n_act[inf]):
            if sv[off + j] > best:
                best = sv[off + j]
        sv[inf_parent_seq[inf]] += best
    reg = 0.0
    for p in range(npl):
        d = sv[n_act + p] - u[p]
        if d > reg:
            reg = d
    return reg


@njit(cache=True)
def behaviour_profile(x, action_offset, inf_n_act):  # pragma: no cover
    """σ `(n_act,)` from log-probabilities `x`: exp, renormalised per infoset (as `_LogitSystem.profile`)."""
    s = np.exp(x)
    for inf in range(inf_n_act.shape[0]):
        off = action_offset[inf]
        tot = 0.0
        for j in range(inf_n_act[inf]):
            tot += s[off + j]
        for j in range(inf_n_act[inf]):
            s[off + j] = s[off + j] / tot
    return s


@njit(cache=True)
def agent_regrets(sigma, parent, in_action, chance_prob, payoff, n_children, child_start, children,
                  node_player, mem_start, members, action_offset, inf_n_act):  # pragma: no cover
    """Gambit's regret at every decision infoset of the behaviour profile `sigma`, `(n_inf,)`.

    Gambit 17's `MixedBehaviorProfile` computation, step for step in floating point: realization
    probabilities top-down (products of action and chance probabilities); an infoset's probability is
    the sum over its members; beliefs are member realization / infoset probability; node values
    bottom-up (payoff + Σ probability × child value, in action order); the value of action a is
    Σ_h belief(h)·value(h·a) for the infoset's player; regret = max_a value(a) − Σ_a σ_a value(a).
    An infoset reached with probability exactly 0 (after underflow, as Gambit sees it) has regret 0.
    `payoff` `(n_nodes, n_players)` may hold terminal sums of interior outcomes: an outcome above an
    infoset adds the same amount to all its action values and leaves regrets unchanged.
    """
    nn = parent.shape[0]
    npl = payoff.shape[1]
    n_inf = inf_n_act.shape[0]
    realiz = np.empty(nn)
    realiz[0] = 1.0
    for n in range(1, nn):
        a = in_action[n]
        realiz[n] = realiz[parent[n]] * (sigma[a] if a >= 0 else chance_prob[n])
    v = payoff.copy()
    for n in range(nn - 1, -1, -1):
        cs = child_start[n]
        for k in range(n_children[n]):
            c = children[cs + k]
            a = in_action[c]
            p = sigma[a] if a >= 0 else chance_prob[c]
            for q in range(npl):
                v[n, q] += p * v[c, q]
    reg = np.zeros(n_inf)
    for inf in range(n_inf):
        s, e = mem_start[inf], mem_start[inf + 1]
        prob = 0.0
        for k in range(s, e):
            prob += realiz[members[k]]
        if prob == 0.0:
            continue
        off = action_offset[inf]
        na = inf_n_act[inf]
        qv = np.zeros(na)
        for k in range(s, e):
            h = members[k]
            b = realiz[h] / prob
            if b == 0.0:
                continue
            i = node_player[h]
            cs = child_start[h]
            for j in range(na):
                qv[j] += b * v[children[cs + j], i]
        best = qv[0]
        val = 0.0
        for j in range(na):
            if qv[j] > best:
                best = qv[j]
            val += sigma[off + j] * qv[j]
        reg[inf] = best - val
    return reg


@njit(cache=True)
def agent_max_regret_x(x, S, R):  # pragma: no cover
    """Gambit's agent max regret (≥ 0) of the profile with log-probabilities `x`, tracer units."""
    (log_chance, parent, in_action, edge_owner, payoff, inf_player, mem_start, members,
     action_offset, inf_n_act, child_start, children, action_infoset, node_player, node_infoset,
     pa_g, pa_n, pa_c, pb_g, pb_h, pb_c, flat, dec_depth) = S
    chance_prob, n_children = R[4], R[5]
    sigma = behaviour_profile(x, action_offset, inf_n_act)
    reg = agent_regrets(sigma, parent, in_action, chance_prob, payoff, n_children, child_start,
                        children, node_player, mem_start, members, action_offset, inf_n_act)
    m = 0.0
    for k in range(reg.shape[0]):
        if reg[k] > m:
            m = reg[k]
    return m


@njit(cache=True)
def lu_det(A, perm):  # pragma: no cover
    """(sign, log|det|) of a matrix factored by `lu_factor_inplace` (unit L, U on the diagonal)."""
    n = A.shape[0]
    sign = 1.0
    logabs = 0.0
    for i in range(n):
        d = A[i, i]
        if d < 0:
            sign = -sign
        logabs += np.log(abs(d))
    seen = np.zeros(n, np.bool_)
    for i in range(n):  # parity of the row permutation: (length − 1) transpositions per cycle
        if not seen[i]:
            j = i
            length = 0
            while not seen[j]:
                seen[j] = True
                j = perm[j]
                length += 1
            if length % 2 == 0:
                sign = -sign
    return sign, logabs


# ---- dense bordered factorisation with the normaliser unknowns eliminated ------------------------
# The column of c_I has −1 in the logit rows of I's actions and the border's entry: pivoting on the
# first action's row (|−1| is the column's largest entry, so partial pivoting could pick it too)
# removes c_I with row subtractions that create no fill. What is left is an (n_act + 1)² system,
# (n_act + 1)/(N + 1) ≈ 2/3 of the size for binary games, ≈ 0.3× the LU flops.


@njit(cache=True)
def lu_factor_inplace(A):  # pragma: no cover
    """LU with partial pivoting of the square `A` in place (L unit-lower below the diagonal).

    Returns (perm `(n,)`, ok); row k of the factored matrix is row perm[k] of the input. The row
    update touches only the pivot row's nonzero columns: the bordered Jacobians of game trees keep
    most of their sparsity through elimination, so this costs far less than n³/3.
    """
    n = A.shape[0]
    perm = np.arange(n)
    nzc = np.empty(n, np.int64)
    for k in range(n):
        p = k
        best = abs(A[k, k])
        for i in range(k + 1, n):
            a = abs(A[i, k])
            if a > best:
                best = a
                p = i
        if best == 0.0 or not np.isfinite(best):
            return perm, False
        if p != k:
            for j in range(n):
                tmp = A[k, j]
                A[k, j] = A[p, j]
                A[p, j] = tmp
            tmp2 = perm[k]
            perm[k] = perm[p]
            perm[p] = tmp2
        cnt = 0
        for j in range(k + 1, n):
            if A[k, j] != 0.0:
                nzc[cnt] = j
                cnt += 1
        piv = A[k, k]
        dense_row = 4 * cnt > n - k  # filled-in rows: a contiguous (vectorised) update is faster
        for i in range(k + 1, n):
            if A[i, k] != 0.0:
                f = A[i, k] / piv
                A[i, k] = f
                if dense_row:
                    for j in range(k + 1, n):
                        A[i, j] -= f * A[k, j]
                else:
                    for jj in range(cnt):
                        j = nzc[jj]
                        A[i, j] -= f * A[k, j]
    return perm, True


@njit(cache=True)
def dense_factor(vals, flat, border, n_act, action_offset, inf_n_act):  # pragma: no cover
    """Factorise [J; borderᵀ] `(N+1, N+1)` with the normalisers c eliminated: returns (F, ok).

    The compact system has rows = logit rows of every action but each infoset's first (the pivot
    rows), the normalisation rows and the border; columns = (x, λ); size n_act + 1. Each pivot row
    (over the compact columns, `P0` `(n_inf, n_act+1)`) is subtracted from its siblings' rows and
    added, times the border's c entry `fN`, to the border row. `F` holds `crow` `(N+1,)` (compact row
    of each row, −1 for pivot rows), fN, P0, the compact LU factors and their row permutation.
    """
    m = border.shape[0]
    N = m - 1
    n_inf = inf_n_act.shape[0]
    nc = n_act + 1
    crow = np.full(m, -1, np.int64)
    rinf = np.full(m, -1, np.int64)
    k = 0
    for inf in range(n_inf):
        r0 = action_offset[inf]
        for a in range(r0, r0 + inf_n_act[inf]):
            rinf[a] = inf
            if a > r0:
                crow[a] = k
                k += 1
    for r in range(n_act, m):
        crow[r] = k
        k += 1
    A = np.zeros((nc, nc))
    P0 = np.zeros((n_inf, nc))
    for e in range(vals.shape[0]):
        r = flat[e] // m
        c = flat[e] - r * m
        if c < n_act:
            cc = c
        elif c == N:
            cc = n_act
        else:
            continue  # the −1 of c_I in its own logit rows: eliminated structurally
        if crow[r] >= 0:
            A[crow[r], cc] += vals[e]
        else:
            P0[rinf[r], cc] += vals[e]
    fN = np.empty(n_inf)
    for j in range(n_act):
        A[nc - 1, j] = border[j]
    A[nc - 1, n_act] = border[N]
    for inf in range(n_inf):
        r0 = action_offset[inf]
        for a in range(r0 + 1, r0 + inf_n_act[inf]):
            ra = crow[a]
            for j in range(nc):
                A[ra, j] -= P0[inf, j]
        f = border[n_act + inf]
        fN[inf] = f
        if f != 0.0:
            for j in range(nc):
                A[nc - 1, j] += f * P0[inf, j]
    perm, ok = lu_factor_inplace(A)
    return (crow, fN, P0, A, perm), ok


@njit(cache=True)
def dense_solve(F, b, n_act, action_offset, inf_n_act):  # pragma: no cover
    """Solve [J; borderᵀ] z = b `(N+1,)` with a factorisation `F` from `dense_factor`."""
    crow, fN, P0, A, perm = F
    m = b.shape[0]
    N = m - 1
    n_inf = inf_n_act.shape[0]
    nc = n_act + 1
    bc = np.empty(nc)
    for r in range(m):
        if crow[r] >= 0:
            bc[crow[r]] = b[r]
    for inf in range(n_inf):
        r0 = action_offset[inf]
        for a in range(r0 + 1, r0 + inf_n_act[inf]):
            bc[crow[a]] -= b[r0]
        bc[nc - 1] += fN[inf] * b[r0]
    # triangular solves on the dense factors: contiguous row dot products, vectorised
    zc = np.empty(nc)
    for i in range(nc):
        acc = bc[perm[i]]
        for j in range(i):
            acc -= A[i, j] * zc[j]
        zc[i] = acc
    for i in range(nc - 1, -1, -1):
        acc = zc[i]
        for j in range(i + 1, nc):
            acc -= A[i, j] * zc[j]
        zc[i] = acc / A[i, i]
    z = np.empty(m)
    for j in range(n_act):
        z[j] = zc[j]
    z[N] = zc[n_act]
    for inf in range(n_inf):
        # pivot row: Σ_j P0[j]·z_j − z_c = b_r0 over the compact columns (x, λ)
        acc = 0.0
        for j in range(nc):
            acc += P0[inf, j] * zc[j]
        z[n_act + inf] = acc - b[action_offset[inf]]
    return z


# ---- the whole trace in compiled code (dense path) -----------------------------------------------
# Per accepted step: one Jacobian and one factorisation, at the new point, serving both its tangent
# and (as a chord Jacobian) the next step's corrector; the corrector only evaluates residuals and
# refreshes the Jacobian if the chord iteration stops contracting. The factorisation's border is the
# previous tangent; the corrector's bordered system uses the current one, through a Sherman–Morrison
# correction with the tangent solve z = M⁻¹e_N, which the factorisation yields anyway.

STATUS_DONE, STATUS_SMALL_STEP, STATUS_MAX_STEPS, STATUS_LAM_CAP = 0, 1, 2, 3


@njit(cache=True)
def _bordered_solve(F, z, u, den, b, n_act, action_offset, inf_n_act):  # pragma: no cover
    """Solve [J; (border + u)ᵀ] d = b given F = factor of [J; borderᵀ] and z = F⁻¹e_N, den = 1 + u·z."""
    w = dense_solve(F, b, n_act, action_offset, inf_n_act)
    if den != 1.0 or np.any(u != 0.0):
        w = w - z * (np.sum(u * w) / den)
    return w


@njit(cache=True)
def chord_correct(y0, t, step, F, z, u, den, S, n_act, tol_abs, tol_rel, res_tol, newton_max,
                  contraction_max, chord_max):  # pragma: no cover
    """Corrector on [H(y) = 0; tᵀ(y − y₀) = 0] from the predicted point `y0`, chord Newton.

    Returns (ok, y, n_residual_evaluations, n_refactorisations). Fails on non-finite values, on a
    drift beyond `step` (likely heading to another branch) or when even a fresh Jacobian does not
    contract by `contraction_max` per iteration.
    """
    action_offset = S[8]
    inf_n_act = S[9]
    m = y0.shape[0]
    y = y0.copy()
    prev = np.inf
    refreshed = False
    n_eval = 0
    n_fact = 0
    b = np.empty(m)
    it = 0
    while it <= newton_max:
        h, _ = evaluate(y, S, n_act, False)
        n_eval += 1
        hmax = 0.0
        for k in range(m - 1):
            if not np.isfinite(h[k]):
                return False, y, n_eval, n_fact
            b[k] = -h[k]
            if abs(h[k]) > hmax:
                hmax = abs(h[k])
        floor = rounding_floor(y, n_act, S[22][0])
        if it > 0 and hmax <= res_tol * (1.0 + abs(y[m - 1])) + floor:
            return True, y, n_eval, n_fact  # residual at rounding level (see dense_correct)
        b[m - 1] = -np.sum(t * (y - y0))
        d = _bordered_solve(F, z, u, den, b, n_act, action_offset, inf_n_act)
        nd = 0.0
        for k in range(m):
            a = abs(d[k])
            if not np.isfinite(a):
                nd = np.inf
                break
            if a > nd:
                nd = a
        tol = tol_abs + tol_rel * abs(y[m - 1]) + floor
        # a chord iteration must contract by chord_max (else refactorise here); Newton by
        # contraction_max (else fail: the predicted point is outside the basin)
        limit = contraction_max if refreshed else chord_max
        if nd > tol and (nd > limit * prev or not np.isfinite(nd) or it >= newton_max):
            if refreshed:
                return False, y, n_eval, n_fact
            # the chord Jacobian is too far off: refactorise here, with the exact border t
            _, vals = evaluate(y, S, n_act, True)
            F, okf = dense_factor(vals, S[21], t, n_act, action_offset, inf_n_act)
            n_fact += 1
            if not okf:
                return False, y, n_eval, n_fact
            u = np.zeros(m)
            den = 1.0
            refreshed = True
            prev = np.inf
            it = 0
            continue
        dist = 0.0
        for k in range(m):
            y[k] += d[k]
            a = abs(y[k] - y0[k])
            if a > dist:
                dist = a
        if dist > max(step, 1e-8):
            return False, y, n_eval, n_fact
        if nd <= tol:
            return True, y, n_eval, n_fact
        # linear convergence at rate ρ leaves an error ≈ nd·ρ/(1 − ρ) after this update
        rho = nd / prev  # 0 at the first iteration (prev = ∞): no estimate yet
        if 0.0 < rho < 0.5 and nd * rho / (1.0 - rho) <= tol:
            return True, y, n_eval, n_fact
        prev = nd
        it += 1
    return False, y, n_eval, n_fact


@njit(cache=True)
def _tangent_at(y, prev_t, S, n_act):  # pragma: no cover
    """Jacobian at `y`, factor of [J; prev_tᵀ], z = M⁻¹e_N, unit tangent t (t·prev_t > 0), ok."""
    m = y.shape[0]
    _, vals = evaluate(y, S, n_act, True)
    F, ok = dense_factor(vals, S[21], prev_t, n_act, S[8], S[9])
    e = np.zeros(m)
    e[m - 1] = 1.0
    z = dense_solve(F, e, n_act, S[8], S[9])
    nz = np.sqrt(np.sum(z * z))
    if not (ok and np.isfinite(nz) and nz > 0.0):
        return F, z, z, False
    return F, z, z / nz, True


@njit(cache=True)
def bifurcation_lambda(lam0, lam1, log0, log1):  # pragma: no cover
    """λ where det[J; tᵀ] crosses zero between two points, linear in det (|det| from their logs)."""
    d = log1 - log0
    if d > 700.0:
        return lam0
    if d < -700.0:
        return lam1
    w = 1.0 / (1.0 + np.exp(d))
    return lam0 + w * (lam1 - lam0)


@njit(cache=True)
def locate_bifurcation(y, t, h, F, z, u, den, sign0, log0, y1, log1, S, n_act, tol_abs, tol_rel,
                       res_tol, newton_max, contraction_max, chord_max):  # pragma: no cover
    """λ of the bifurcation point between `y` and the accepted `y1` = corrected(y + h·t).

    Bisection on the arc-length parameter s ∈ (0, h): the point corrected from y + s·t, the sign of
    det[J; tᵀ] there; 40 halvings, or until the corrector fails, then linear interpolation in det
    between the bracketing points.
    """
    m = y.shape[0]
    lo, hi = 0.0, h
    lam_lo, lam_hi = y[m - 1], y1[m - 1]
    lg_lo, lg_hi = log0, log1
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        ok, ym, _, _ = chord_correct(y + mid * t, t, mid, F, z, u, den, S, n_act, tol_abs, tol_rel,
                                     res_tol, newton_max, contraction_max, chord_max)
        if not ok:
            break
        Fm, _, _, okm = _tangent_at(ym, t, S, n_act)
        if not okm:
            break
        sm, lm = lu_det(Fm[3], Fm[4])
        if sm == sign0:
            lo, lam_lo, lg_lo = mid, ym[m - 1], lm
        else:
            hi, lam_hi, lg_hi = mid, ym[m - 1], lm
    return bifurcation_lambda(lam_lo, lam_hi, lg_lo, lg_hi)


@njit(cache=True)
def dense_trace(y, S, R, n_act, first_step, max_accel, max_steps, tol_abs, tol_rel, res_tol,
                newton_max, contraction_max, chord_max, min_cos, grow_cos, min_step, mode,
                lam_target, regret_target, lam_cap, record):  # pragma: no cover
    """Trace the branch from `y` (λ = 0) in compiled code until the stop rule holds.

    `mode` 0: stop at the first point with exact (Nash) max regret ≤ `regret_target` (or λ >
    `lam_cap`); mode 1: stop at the first point with λ ≥ `lam_target`; mode 2: as 0 with Gambit's
    agent max regret and the Nash max regret both ≤ `regret_target`. Bifurcation points are where det[J; tᵀ] changes sign between accepted points
    (the tangent oriented by continuity keeps its sign through turning points); the trace goes on
    along the tangent (see `_logit.py`). Returns (status, y, y_prev, counts `[n_steps,
    n_rejected, n_newton, n_turns, n_factorisations]`, `[arc, lam_max]`, points `(n_recorded, N+1)`
    if `record`, bifurcation λs (tracer units)).
    """
    m = y.shape[0]
    action_offset = S[8]
    inf_n_act = S[9]
    inf_player = S[5]
    counts = np.zeros(5, np.int64)
    fl = np.zeros(2)
    cap = 64 if record else 1
    rec = np.empty((cap, m))
    n_rec = 0
    bif = np.empty(16)
    n_bif = 0
    if record:
        rec[0] = y
        n_rec = 1
    e = np.zeros(m)
    e[m - 1] = 1.0
    F, z, t, okt = _tangent_at(y, e, S, n_act)
    counts[4] += 1
    if not okt:
        return STATUS_SMALL_STEP, y, y, counts, fl, rec[:n_rec], bif[:n_bif]
    det_sign, det_log = lu_det(F[3], F[4])
    border = e
    h = first_step
    y_prev = y
    y_new, F2, z2, t2 = y, F, z, t
    while counts[0] < max_steps:
        # Sherman–Morrison data for the border t instead of the factor's border
        u = t - border
        den = 1.0 + np.sum(u * z)
        accepted = False
        while h >= min_step:
            ok, y_new, n_eval, n_fact = chord_correct(y + h * t, t, h, F, z, u, den, S, n_act,
                                                      tol_abs, tol_rel, res_tol, newton_max,
                                                      contraction_max, chord_max)
            counts[2] += n_eval
            counts[4] += n_fact
            if ok:
                F2, z2, t2, okt = _tangent_at(y_new, t, S, n_act)
                counts[4] += 1
                if okt and np.sum(t2 * t) >= min_cos:
                    accepted = True
                    break
            counts[1] += 1
            h *= 0.5
        if not accepted:
            return STATUS_SMALL_STEP, y, y_prev, counts, fl, rec[:n_rec], bif[:n_bif]
        counts[0] += 1
        fl[0] += np.sqrt(np.sum((y_new - y) * (y_new - y)))
        if t2[m - 1] * t[m - 1] < 0:
            counts[3] += 1
        cos = np.sum(t2 * t)
        sgn2, log2 = lu_det(F2[3], F2[4])
        if sgn2 != det_sign:
            if n_bif == bif.shape[0]:
                bigger = np.empty(2 * n_bif)
                bigger[:n_bif] = bif
                bif = bigger
            bif[n_bif] = locate_bifurcation(y, t, h, F, z, u, den, det_sign, det_log, y_new, log2,
                                            S, n_act, tol_abs, tol_rel, res_tol, newton_max,
                                            contraction_max, chord_max)
            n_bif += 1
        det_sign, det_log = sgn2, log2
        y_prev = y
        y = y_new
        border = t
        t = t2
        F = F2
        z = z2
        if y[m - 1] > fl[1]:
            fl[1] = y[m - 1]
        if record:
            if n_rec == cap:
                big = np.empty((2 * cap, m))
                big[:cap] = rec
                rec = big
                cap *= 2
            rec[n_rec] = y
            n_rec += 1
        if mode == 1:
            if y[m - 1] >= lam_target:
                return STATUS_DONE, y, y_prev, counts, fl, rec[:n_rec], bif[:n_bif]
        else:
            if y[m - 1] > 0:
                r = 0.0
                if mode == 2:
                    r = agent_max_regret_x(y[:n_act], S, R)
                if r <= regret_target:
                    r = exact_regret(y[:n_act], R, action_offset, inf_n_act, inf_player)
                if r <= regret_target:
                    return STATUS_DONE, y, y_prev, counts, fl, rec[:n_rec], bif[:n_bif]
            if y[m - 1] > lam_cap:
                return STATUS_LAM_CAP, y, y_prev, counts, fl, rec[:n_rec], bif[:n_bif]
        # Grow the step only where the curve is straight; the angle bound keeps folds resolved.
        if cos > grow_cos:
            h *= max_accel
    return STATUS_MAX_STEPS, y, y_prev, counts, fl, rec[:n_rec], bif[:n_bif]
