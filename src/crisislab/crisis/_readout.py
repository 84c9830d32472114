"""Strategies between belief nodes by re-solving the stage there ("resolve" read-out).

The solver computes each decision's strategies at the belief nodes. Between nodes the table
read-out (`Solution.strategy`, the simulator) interpolates those strategies. Where a node's
principal branch folds, the strategy changes by most of its range between two neighbouring
nodes, and no interpolation of node strategies can place that step: the largest read-out errors
of every grid sit there (benchmarks/RESULTS.md, "Reading strategies between nodes").

The continuation values are smoother than the strategies: a fold's position is a function of them.
So this read-out keeps the values and solves the stage game at the belief asked for:

1. the mover's continuation per action and type profile, C[a, q, t], on the line of nodes along
   the mover's axis at the other actors' coordinates, each read between nodes as the solver reads
   values (linearly on a grid with linear values, else by the shape-preserving cubic over the four
   nearest nodes of each other axis, which gives the same node slopes as the whole line);
2. the mover's own continuation D[a, q, θ] with the others' type weights at their coordinates;
3. the stage fixed point at the mover's own coordinate, any point of [0, 1], with the same
   selection as the solver (`_kernels._select_node`): posteriors read on the line's nodes.

At a node it reproduces the solver's strategy (the same continuation and the same selection).
Where the values are exact it is exact between nodes in the mover's own coordinate.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from crisislab._compiled import call
from crisislab.crisis._kernels import (
    _continuation,
    _locate,
    _pchip_slopes,
    _select_node,
    _slopes,
)

__all__ = ["resolve_kernel"]


@nb.njit(cache=True)
def _window(grid, G, y, cubic):
    """(first node, number of nodes) of the nodes an axis reads y from: the interval holding it,
    and for the cubic one more node on each side where the axis has one."""
    lo = _locate(grid, G, y)
    if not cubic:
        return lo, 2
    first = max(lo - 1, 0)
    last = min(lo + 2, G - 1)
    return first, last - first + 1


@nb.njit(cache=True)
def _interp1(vals, nodes, k, y, cubic, slope, work):
    """Value at y of the data `vals[:k]` at the sorted `nodes[:k]`: linear, or the shape-preserving
    cubic Hermite with node slopes from `_pchip_slopes` (work arrays `slope`, `work`)."""
    i = 0
    while i < k - 2 and nodes[i + 1] <= y:
        i += 1
    h = nodes[i + 1] - nodes[i]
    t = min(max((y - nodes[i]) / h, 0.0), 1.0)
    if not cubic or k < 3:
        return (1.0 - t) * vals[i] + t * vals[i + 1]
    _pchip_slopes(vals, nodes, k, slope, work)
    t2 = t * t
    t3 = t2 * t
    return ((2.0 * t3 - 3.0 * t2 + 1.0) * vals[i] + (3.0 * t2 - 2.0 * t3) * vals[i + 1]
            + (t3 - 2.0 * t2 + t) * h * slope[i] + (t3 - t2) * h * slope[i + 1])


def resolve_kernel(
    row_ptr, nxt, prob, reward, avail, W_next, disc, grid, uniform, cubic, dmat, grid_sizes, bstride, tau_types,
    mover, lam, n_steps, tol, maxit, mode, cls, x, sigma_out, res_out,
):
    """`_resolve_kernel` through `crisislab._compiled.call`: compiled for one signature whatever arrays
    its caller holds."""
    call(_resolve_kernel, row_ptr, nxt, prob, reward, avail, W_next, disc, grid, uniform, cubic, dmat, grid_sizes,
         bstride, tau_types, mover, lam, n_steps, tol, maxit, mode, cls, x, sigma_out, res_out, outputs=2)


@nb.njit(cache=True, parallel=True)
def _resolve_kernel(
    row_ptr, nxt, prob, reward, avail, W_next, disc, grid, uniform, cubic, dmat, grid_sizes, bstride, tau_types,
    mover, lam, n_steps, tol, maxit, mode, cls, x, sigma_out, res_out,
):
    """The mover's strategies at arbitrary beliefs, one decision.

    Table arguments as `_kernels.stage_kernel` (`row_ptr`, `nxt`, `prob`, `reward`, `avail`, `W_next`
    `(S', B, n, T)` the next decision's values, `disc`, `grid`, `uniform`, `cubic`, `dmat`,
    `bstride`, `tau_types`); `grid_sizes` (n,) nodes per actor (1 for a one-type actor). `cls` (N,)
    state class of each point, `x` (N, n) its belief coordinates. Outputs: `sigma_out` (N, K_m, A),
    `res_out` (N,) the fixed point's final residual. Points run in parallel; each writes its own row.
    """
    N = cls.shape[0]
    for p in nb.prange(N):
        _resolve_point(p, row_ptr, nxt, prob, reward, avail, W_next, disc, grid, uniform, cubic, dmat, grid_sizes,
                       bstride, tau_types, mover, lam, n_steps, tol, maxit, mode, cls, x, sigma_out, res_out)


@nb.njit(cache=True)
def _resolve_point(p, row_ptr, nxt, prob, reward, avail, W_next, disc, grid, uniform, cubic, dmat, grid_sizes,
                   bstride, tau_types, mover, lam, n_steps, tol, maxit, mode, cls, x, sigma_out, res_out):
    A = avail.shape[1]
    n = grid_sizes.shape[0]
    T = tau_types.shape[0]
    G = grid.shape[0]
    Gm = grid_sizes[mover]  # nodes on the mover's line (1 for a one-type mover)
    k_m = 2 if Gm > 1 else 1
    c = cls[p]
    # the other two-type actors' axes: the window of nodes each is read from
    n_ax = 0
    axes = np.zeros(n, np.int64)
    first = np.zeros(n, np.int64)
    width = np.ones(n, np.int64)
    for j in range(n):
        if j != mover and grid_sizes[j] > 1:
            axes[n_ax] = j
            first[n_ax], width[n_ax] = _window(grid, G, x[p, j], cubic)
            n_ax += 1
    P = 1
    for k in range(n_ax):
        P *= width[k]
    # the mover's continuation C[a, q, stencil node, t] on the line × the others' windows
    stencil = np.zeros(Gm * P, np.int64)
    for q in range(Gm):
        for pp in range(P):
            off = q * bstride[mover]
            rem = pp
            for k in range(n_ax - 1, -1, -1):
                off += (first[k] + rem % width[k]) * bstride[axes[k]]
                rem //= width[k]
            stencil[q * P + pp] = off
    Cm = np.zeros((A, Gm * P, 1, T))
    _continuation(c, row_ptr, nxt, prob, reward, avail, W_next, disc, tau_types, stencil, mover, mover + 1, Cm)
    Cm = Cm.reshape((A, Gm, P, T))
    # read each other axis at its coordinate, the last axis first
    vals = np.zeros(4)
    nodes = np.zeros(4)
    slope = np.zeros(4)
    work = np.zeros(4)
    Cl = np.zeros((A, Gm, T))
    cur = Cm
    size = P
    for k in range(n_ax - 1, -1, -1):
        w = width[k]
        size //= w
        red = np.zeros((A, Gm, size, T))
        for i in range(w):
            nodes[i] = grid[first[k] + i]
        y = x[p, axes[k]]
        for a in range(A):
            for q in range(Gm):
                for pp in range(size):
                    for t in range(T):
                        for i in range(w):
                            vals[i] = cur[a, q, pp * w + i, t]
                        red[a, q, pp, t] = _interp1(vals, nodes, w, y, cubic, slope, work)
        cur = red
    for a in range(A):
        for q in range(Gm):
            for t in range(T):
                Cl[a, q, t] = cur[a, q, 0, t]
    # the mover's own continuation with the others' type weights at their coordinates
    D = np.zeros((A, Gm, k_m))
    for t in range(T):
        wt = 1.0
        for j in range(n):
            if j != mover and grid_sizes[j] > 1:
                wt *= x[p, j] if tau_types[t, j] == 0 else 1.0 - x[p, j]
        th = tau_types[t, mover]
        for a in range(A):
            for q in range(Gm):
                D[a, q, th] += wt * Cl[a, q, t]
    cub = cubic and Gm > 2
    if cub:
        dD = np.zeros((A, Gm, k_m))
        ybuf = np.zeros(G)
        dbuf = np.zeros(G)
        wbuf = np.zeros(G)
        for a in range(A):
            if not avail[c, a]:
                continue
            for th in range(k_m):
                for q in range(Gm):
                    ybuf[q] = D[a, q, th]
                _slopes(ybuf, grid, Gm, dbuf, wbuf, dmat)
                for q in range(Gm):
                    dD[a, q, th] = dbuf[q]
    else:
        dD = np.zeros((1, 1, 1))
    n_av = 0
    for a in range(A):
        if avail[c, a]:
            n_av += 1
    sig = np.zeros((k_m, A))
    new = np.zeros((k_m, A))
    Q = np.zeros((k_m, A))
    keep = np.zeros((k_m, A))
    prv = np.zeros((k_m, A))
    wq = np.zeros((4, A))
    b0 = np.zeros(A, np.int64)
    b1 = np.zeros(A, np.int64)
    xm = min(max(x[p, mover], 0.0), 1.0) if k_m == 2 else 1.0
    # one line of nodes: node b = q, stride 1; the point's own prior xm sits anywhere on it
    res, _its = _select_node(c, 0, 0, xm, sig, new, Q, keep, prv, wq, b0, b1, D, dD, avail, k_m, grid, uniform, cub, Gm,
                             1, lam, n_steps, tol, maxit, mode, n_av)
    for th in range(k_m):
        for a in range(A):
            sigma_out[p, th, a] = sig[th, a]
    res_out[p] = res
