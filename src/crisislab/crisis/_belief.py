"""Belief representations: the nodes of a two-type actor's belief coordinate and how values are read
between them.

A two-type actor's belief is one coordinate x = P(first type) in [0, 1]; the public belief is the
tensor product of these coordinates (one axis per two-type actor, all axes share one node vector).
The solver computes strategies and values at the nodes; between nodes along the mover's axis
(where Bayes' rule moves the posterior) values are read either linearly or by the shape-preserving
piecewise cubic of Fritsch and Carlson (1980), which is C¹, never overshoots the node values and
is O(h³) accurate where the value is smooth. Strategies at beliefs between nodes
(`Solution.strategy`, the simulator) are read either multilinearly in the probabilities (the dense
reference grid) or multilinearly in their logarithms, then normalized over the actions ("logit"):
a logit strategy is softmax(λQ) with Q as smooth as the values, so its log-probabilities are
smooth where the probabilities themselves are steep sigmoids of the belief (near best response),
and a one-round game's strategies are read exactly between nodes.

Three node families:

* `uniform(G)`: G equally spaced nodes, linear values (the dense reference grid of `--grid G`).
* `chebyshev(G, priors)`: the G Chebyshev–Lobatto points (1 − cos(πk/(G−1)))/2, dense near 0 and 1
  where posteriors move fastest (a belief near certainty changes most per observed action, and the
  strategies bend there), with every prior coordinate of the scenario made a node (the nearest
  interior node moved onto it when it is close, else the prior inserted), so starting values are
  read at a node, never interpolated.
* `adaptive(G, priors)`: the G-point uniform lattice with the priors inserted, of which each state
  solves only the nodes its strategies need and reads the others from the corners of the box of
  nodes that holds them (`_kernels._adaptive`); its tables are the whole lattice's, read as the
  dense grid's are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from crisislab.errors import SolverError

__all__ = ["INTERPS", "LOG_ZERO", "BeliefGrid", "chebyshev_nodes", "grid_layout", "log_table", "parse_grid_spec", "parse_refine", "type_probs"]

INTERPS = ("linear", "pchip", "hermite")
KINDS = ("uniform", "chebyshev", "adaptive")
# `adaptive`: the node indices every state starts from on each axis (0, 1/2, 1 and the priors; 5 or
# 2 of them instead cost more stage problems on the flagship for the same accuracy, benchmarks/RESULTS.md),
# and the default tolerance of its midpoint tests (a strategy probability).
ADAPT_START = 3
ADAPT_REFINE = 0.01
STRATEGIES = ("linear", "logit", "logit-cubic")
# Log-probability stored for an action of probability 0 (unavailable): exp of any convex combination
# of it with log-probabilities of float32 numbers (≥ −104) underflows to exactly 0.
LOG_ZERO = -1.0e4
# A prior closer than this fraction of the local node spacing to an interior node moves that node
# onto it (keeps the family's spacing); farther, the prior is inserted as an extra node.
_SNAP = 0.3
_SPEC = re.compile(r"^(cheb|chebyshev|uniform)(?:-(linear|pchip|hermite|cubic))?:(\d+)$")
_ADAPT = re.compile(r"^adapt(?:ive)?:(\d+)(?::([^:]*))?$")


def chebyshev_nodes(G: int) -> np.ndarray:
    """float64 `(G,)`: the Chebyshev–Lobatto points of [0, 1], (1 − cos(πk/(G−1)))/2, k = 0..G−1."""
    k = np.arange(G)
    x = 0.5 * (1.0 - np.cos(np.pi * k / (G - 1)))
    x[0], x[-1] = 0.0, 1.0
    if G % 2 == 1:
        x[G // 2] = 0.5
    return x


def _with_priors(nodes: np.ndarray, priors: list[float]) -> np.ndarray:
    x = nodes.copy()
    moved = np.zeros(x.size, dtype=bool)
    extra = []
    for p in sorted({round(float(p), 15) for p in priors}):
        if not 0.0 < p < 1.0 or np.isclose(x, p, rtol=0, atol=1e-12).any():
            continue
        i = int(np.searchsorted(x, p))  # x[i-1] < p < x[i]
        near = i - 1 if p - x[i - 1] <= x[i] - p else i
        span = x[min(near + 1, x.size - 1)] - x[max(near - 1, 0)]
        if 0 < near < x.size - 1 and not moved[near] and abs(p - x[near]) <= _SNAP * 0.5 * span:
            x[near] = p
            moved[near] = True
        else:
            extra.append(p)
    return np.unique(np.concatenate([x, np.asarray(extra, dtype=np.float64)]))


@dataclass(frozen=True)
class BeliefGrid:
    """Nodes of every two-type actor's belief coordinate and the reading of values between them.

    `nodes`: sorted floats in [0, 1] with 0 and 1 (a tuple, so the grid is hashable and compares by
    value: a runner fixes it once and its draws share it). `interp`: "linear" or "pchip" (values
    along the mover's axis between nodes, `_kernels`). `kind`: the node family ("uniform",
    "chebyshev" or "adaptive", the latter two with the priors they were built for made nodes).
    `refine`: an adaptive grid's tolerance (0 otherwise); `anchors`: per actor, the prior
    coordinates an adaptive grid starts every state from (`start_nodes`).
    """

    nodes: tuple[float, ...]
    interp: Literal["linear", "pchip", "hermite"] = "linear"
    kind: Literal["uniform", "chebyshev", "adaptive"] = "uniform"
    strategies: Literal["linear", "logit", "logit-cubic"] = "linear"
    refine: float = 0.0
    anchors: tuple[tuple[float, ...], ...] = ()

    def __post_init__(self) -> None:
        x = np.asarray(self.nodes, dtype=np.float64)
        if x.ndim != 1 or x.size < 3 or x[0] != 0.0 or x[-1] != 1.0 or (np.diff(x) <= 0).any():
            raise SolverError(f"grid: belief nodes must be increasing from 0 to 1, at least 3 of them (got {self.nodes!r})")
        if self.interp not in INTERPS:
            raise SolverError(f"grid: interpolation must be one of {', '.join(INTERPS)} (got {self.interp!r})")
        if self.strategies not in STRATEGIES:
            raise SolverError(f"grid: strategy reading must be one of {', '.join(STRATEGIES)} (got {self.strategies!r})")
        if self.kind not in KINDS:
            raise SolverError(f"grid: node family must be one of {', '.join(KINDS)} (got {self.kind!r})")
        if self.kind == "adaptive" and not (isinstance(self.refine, float) and 0.0 < self.refine < 1.0):
            raise SolverError(f"grid: an adaptive grid's refinement tolerance must be a probability in (0, 1) (got {self.refine!r})")
        if self.kind == "adaptive" and (self.interp, self.strategies) != ("linear", "linear"):
            raise SolverError(f"grid: an adaptive grid reads values and strategies linearly, as the boxes it reads nodes from (got {self.interp!r}, {self.strategies!r})")
        if self.kind != "adaptive" and self.anchors:
            raise SolverError(f"grid: only an adaptive grid has anchors (got {self.anchors!r} for a {self.kind} grid)")
        if self.kind != "adaptive" and self.refine != 0.0:
            raise SolverError(f"grid: only an adaptive grid has a refinement tolerance (got {self.refine!r} for a {self.kind} grid)")

    @classmethod
    def uniform(cls, G: int, interp: Literal["linear", "pchip"] = "linear", strategies: str | None = None) -> BeliefGrid:
        """G equally spaced nodes; strategies read linearly (the reference) unless values are cubic."""
        strategies = strategies or ("linear" if interp == "linear" else "logit")
        return cls(tuple(np.linspace(0.0, 1.0, int(G)).tolist()), interp, "uniform", strategies)

    @classmethod
    def chebyshev(cls, G: int, priors=(), interp: Literal["linear", "pchip"] = "pchip", strategies: str = "logit") -> BeliefGrid:
        """G Chebyshev–Lobatto nodes with the `priors` made nodes; strategies read in log space."""
        return cls(tuple(_with_priors(chebyshev_nodes(int(G)), list(priors)).tolist()), interp, "chebyshev", strategies)

    @classmethod
    def adaptive(cls, G: int, priors=(), refine: float = ADAPT_REFINE) -> BeliefGrid:
        """The G-point uniform lattice with the prior coordinates inserted as nodes, of which each state
        solves only the nodes it needs (`_kernels._adaptive`: boxes split where their midpoints differ
        from their corners' reading by more than `refine`); the others are read multilinearly from the
        corners of the box that holds them. Values and strategies are linear, as on the dense grid.
        `priors`: per actor, the coordinates of its first type's prior (every perceiver's; empty for an
        actor with one type). They are the grid's `anchors`: every state starts from them on that
        actor's axis, whatever prior a solve on this grid starts from, so the tables do not depend on it."""
        anchors = tuple(tuple(sorted({float(v) for v in pj if 0.0 < float(v) < 1.0})) for pj in priors)
        flat = [v for pj in anchors for v in pj]
        x = np.unique(np.concatenate([np.linspace(0.0, 1.0, int(G)), np.asarray(flat, dtype=np.float64)]))
        keep = np.concatenate([[True], np.diff(x) > 1e-12])
        return cls(tuple(x[keep].tolist()), "linear", "adaptive", "linear", float(refine), anchors)

    def lattice_size(self) -> int:
        """The uniform lattice an adaptive grid was built on (its nodes without the inserted priors)."""
        x = self.array
        for L in range(self.size, 2, -1):
            pts = np.linspace(0.0, 1.0, L)
            if np.isclose(x[None, :], pts[:, None], rtol=0, atol=1e-12).any(axis=1).all():
                return L
        return self.size

    def start_nodes(self, n_actors: int) -> np.ndarray:
        """int64 `(n_actors, K)`: per actor, the node indices every state of an adaptive grid starts
        from on its axis (sorted, padded with −1): the `ADAPT_START` nodes nearest 0 … 1 and the nodes
        of that actor's `anchors`."""
        x = self.array
        rows = []
        for j in range(n_actors):
            pj = self.anchors[j] if j < len(self.anchors) else ()
            want = np.concatenate([np.linspace(0.0, 1.0, ADAPT_START), np.asarray(pj, dtype=np.float64)])
            idx = np.abs(x[None, :] - want[:, None]).argmin(axis=1)
            rows.append(np.unique(np.concatenate([[0, x.size - 1], idx])))
        out = np.full((len(rows), max(r.size for r in rows)), -1, dtype=np.int64)
        for j, r in enumerate(rows):
            out[j, : r.size] = r
        return out

    @property
    def array(self) -> np.ndarray:
        a = np.asarray(self.nodes, dtype=np.float64)
        a.setflags(write=False)
        return a

    @property
    def size(self) -> int:
        return len(self.nodes)

    def diff_matrix(self) -> np.ndarray:
        """float64 `(G, G)` for "hermite" values (the derivative at the nodes of the polynomial through
        all of them: D_ij = (w_j / w_i) / (x_i − x_j), D_ii = −Σ_j D_ij, barycentric weights
        w_i = 1 / Π_{j≠i} (x_i − x_j); Berrut and Trefethen 2004), else empty `(0, 0)`."""
        if self.interp != "hermite":
            return np.zeros((0, 0))
        x = self.array
        diff = x[:, None] - x[None, :]
        np.fill_diagonal(diff, 1.0)
        w = 1.0 / diff.prod(axis=1)
        D = (w[None, :] / w[:, None]) / diff
        np.fill_diagonal(D, 0.0)
        np.fill_diagonal(D, -D.sum(axis=1))
        return D

    @property
    def is_uniform(self) -> bool:
        """Equally spaced nodes (the kernel then locates a belief arithmetically, as the dense grid always has)."""
        if self.kind == "adaptive":
            return bool(np.allclose(np.diff(self.array), 1.0 / (self.size - 1), rtol=0, atol=1e-12))
        return self.kind == "uniform"

    def holds(self, x: float) -> bool:
        """True when the coordinate x is a node."""
        if self.is_uniform:
            pos = x * (self.size - 1)
            return abs(pos - round(pos)) < 1e-9
        return bool(np.isclose(self.array, x, rtol=0, atol=1e-12).any())

    def label(self) -> str:
        """Short description, e.g. "51-point uniform grid, linear" or "11-node Chebyshev grid, pchip"."""
        tail = f"{self.interp}" + {"linear": "", "logit": ", logit strategies", "logit-cubic": ", cubic logit strategies"}[self.strategies]
        if self.kind == "adaptive":
            return f"{self.size}-node lattice (uniform, priors added) solved adaptively to {self.refine:g}, {tail}"
        if self.is_uniform:
            return f"{self.size}-point uniform grid, {tail}"
        return f"{self.size}-node Chebyshev grid (priors as nodes), {tail}"

    def to_json(self) -> dict:
        out = {"nodes": list(self.nodes), "interp": self.interp, "kind": self.kind, "strategies": self.strategies}
        if self.kind == "adaptive":
            out["refine"] = self.refine
            out["anchors"] = [list(a) for a in self.anchors]
        return out

    @classmethod
    def from_json(cls, d: dict) -> BeliefGrid:
        return cls(tuple(float(v) for v in d["nodes"]), d["interp"], d["kind"], d.get("strategies", "linear"), float(d.get("refine", 0.0)),
                   tuple(tuple(float(v) for v in a) for a in d.get("anchors", ())))


def parse_grid_spec(text: str) -> tuple[str, str | None, int] | None:
    """("chebyshev" | "uniform" | "adaptive", interpolation or None for the family's default, G) of
    a spec such as "cheb:9", "cheb-linear:9", "uniform-pchip:21" or "adapt:51" ("adapt:51:0.02"
    gives the refinement tolerance, `parse_refine`); None when `text` is not of that form."""
    a = _ADAPT.match(text.strip().lower())
    if a is not None:
        return "adaptive", None, int(a.group(1))
    m = _SPEC.match(text.strip().lower())
    if m is None:
        return None
    kind = "uniform" if m.group(1) == "uniform" else "chebyshev"
    return kind, m.group(2), int(m.group(3))


def parse_refine(text: str) -> float:
    """The refinement tolerance of an "adapt:G[:TOL]" spec (`ADAPT_REFINE` when not given); SolverError
    when it is not a number in (0, 1)."""
    a = _ADAPT.match(text.strip().lower())
    if a is None or a.group(2) is None:
        return ADAPT_REFINE
    try:
        v = float(a.group(2))
    except ValueError:
        v = float("nan")
    if not np.isfinite(v):
        v = float("nan")
    if not 0.0 < v < 1.0:
        raise SolverError(f"grid: the refinement tolerance of {text!r} must be a probability in (0, 1) (got {a.group(2)!r}; e.g. adapt:51:0.01)")
    return v


def log_table(sigma: np.ndarray) -> np.ndarray:
    """float32 log-probabilities of a float32 strategy table (`LOG_ZERO` where the probability is 0):
    what `Solution.strategy` and the simulator's kernel both interpolate for "logit" strategies."""
    s = np.asarray(sigma, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(s > 0.0, np.log(s), LOG_ZERO).astype(np.float32)


def cubic_stencil(x: np.ndarray, grid: np.ndarray, grid_sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tensor-product 4-point Lagrange stencil on the belief nodes (cubic in each coordinate, exact
    for cubics; the 4 nodes around the interval holding the coordinate, shifted inwards at the ends).

    `x`: float64 `(N, n_actors)`; returns (`idx` int64 `(N, 4**m)`, `wts` float64 `(N, 4**m)`) with m
    the number of actors whose grid size is > 1 (weights sum to 1; some are negative)."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    N, n = x.shape
    G = grid.shape[0]
    sizes = np.asarray(grid_sizes, dtype=np.int64)
    strides = np.ones(n, dtype=np.int64)
    for j in range(n - 2, -1, -1):
        strides[j] = strides[j + 1] * sizes[j + 1]
    idx = np.zeros((N, 1), dtype=np.int64)
    wts = np.ones((N, 1))
    for j in range(n):
        if sizes[j] == 1:
            continue
        i0 = np.clip(np.searchsorted(grid, x[:, j], side="right") - 1, 0, G - 2)
        st = np.clip(i0 - 1, 0, G - 4)
        xs = grid[st[:, None] + np.arange(4)]  # (N, 4)
        lw = np.ones((N, 4))
        for k in range(4):
            for m in range(4):
                if m != k:
                    lw[:, k] *= (x[:, j] - xs[:, m]) / (xs[:, k] - xs[:, m])
        idx = (idx[:, :, None] + (st[:, None, None] + np.arange(4)[None, None, :]) * strides[j]).reshape(N, -1)
        wts = (wts[:, :, None] * lw[:, None, :]).reshape(N, -1)
    return idx, wts


def grid_layout(n_types: np.ndarray, G: int):
    """(nodes per actor, node index per actor of each flat belief node `(B, n)`, flat strides `(n,)`,
    type profiles `(T, n)`) of a G-node grid: one axis per two-type actor, row-major, actor 0 slowest."""
    n = n_types.shape[0]
    sizes = np.where(n_types == 2, G, 1).astype(np.int64)
    bidx = np.indices(tuple(sizes)).reshape(n, -1).T.astype(np.int64)
    strides = np.ones(n, dtype=np.int64)
    for j in range(n - 2, -1, -1):
        strides[j] = strides[j + 1] * sizes[j + 1]
    tau = np.indices(tuple(n_types)).reshape(n, -1).T.astype(np.int64)
    return sizes, bidx, strides, tau


def type_probs(x: np.ndarray, n_types: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """float64 `(N, n, T)`: P(actor j has type τ_j) under belief coordinates x `(N, n)`."""
    N, n = x.shape
    out = np.ones((N, n, tau.shape[0]))
    for j in range(n):
        if n_types[j] == 2:
            out[:, j, :] = np.where(tau[None, :, j] == 0, x[:, j : j + 1], 1.0 - x[:, j : j + 1])
    return out
