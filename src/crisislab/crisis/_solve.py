"""Backward induction over decisions: the stage-wise agent logit QRE of each perceived game.

`solve` checks its arguments, compiles the scenario if needed, builds one perceived game per
distinct view (hypergame; correct perception shares the true game), and runs the numba stage kernel
(`_kernels.stage_kernel`) from the last decision back to the first. Values carried between
decisions are `W[s, b, i, τ]`: actor i's expected continuation given the full type profile τ at
state s and belief node b, so no expectation over types sits inside a value (they are linear in the
strategies); expectations over the others' types are taken only where a mover chooses.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from crisislab import _progress
from crisislab.crisis._belief import BeliefGrid, parse_grid_spec, parse_refine
from crisislab.crisis._belief import grid_layout as _grid_layout
from crisislab.crisis._belief import type_probs as _type_probs
from crisislab.crisis._compile import CompiledGame, compile_model
from crisislab.crisis._compile import perceived_games as _perceived_games
from crisislab.crisis._kernels import SELECTION_MODES, stage_kernel
from crisislab.crisis._lump import lump
from crisislab.crisis._solution import Solution, belief_corners
from crisislab.errors import SolverError
from crisislab.model import Model

__all__ = ["AUTO_CHEB", "MAX_GRID", "StageStats", "auto_grid", "grid_nodes", "parse_grid", "resolve_grid", "solve", "solve_estimate", "solve_game"]

# numba's fork-safe threading layer (workqueue, `_kernels`) must not be entered by two threads at
# once; solves from a thread pool (a Dask worker with several threads) take turns at the kernel.
_KERNEL_LOCK = threading.Lock()

MAX_LAM = 1e4
RESIDUAL_WARN = 1e-6
# `grid="auto"` (`auto_grid`): the dense 51-point grid when its stage problems (state classes × belief
# nodes × mover types, summed over the perceived games) stay within AUTO_NODES — about 10–30 s of
# one core at the measured 4–7 µs per problem; otherwise Chebyshev–Lobatto nodes (priors made nodes,
# shape-preserving cubic values, logit strategies), at most AUTO_CHEB of them and at most
# AUTO_CHEB_NODES stage problems (about a minute of two cores). benchmarks/bench_belief.py measures
# the representations against the dense 51- and 101-point grids.
AUTO_NODES = 4_000_000
AUTO_MAX_GRID = 51
AUTO_CHEB = 13
AUTO_CHEB_NODES = 16_000_000
# The finest belief grid accepted. Linear interpolation's error falls as 1/G², so at 1001 points it
# is 1/400 of that at 51 (the auto grid of the small scenarios), far below Monte Carlo noise; the
# work grows with G per two-type actor (G² with two), so finer grids only cost time.
MAX_GRID = 1001


@dataclass(frozen=True)
class StageStats:
    """Per-decision work record (for benchmarks): nodes = stage problems solved, state classes ×
    belief nodes × mover types (an adaptive grid solves fewer belief nodes than it has; `states`:
    reachable states; `classes`: after exact lumping)."""

    decision: int
    round: int
    states: int
    classes: int
    nodes: int
    seconds: float
    max_residual: float
    iterations: int


def _solve_bytes(cg: CompiledGame, lumps: list, G: int, values: bool = False) -> tuple[float, float]:
    """(bytes kept, peak bytes of working arrays) of solving the perceived games whose lumped
    tables are `lumps` on a G-point grid, as `solve_game` allocates them: every game's float32
    policy tables and float64 values at decision 0 are kept to the end; while a decision is solved,
    its float64 strategies and the float64 value layers of it and of the next decision are alive.
    `values`: every decision's float64 values are kept too (`solve(keep_values=True)`)."""
    sizes = np.where(cg.n_types == 2, G, 1)
    B = float(np.prod(sizes))
    T = float(np.prod(cg.n_types))
    n = cg.n_actors
    kept = 0.0
    peak = 0.0
    for L in lumps:
        C = [L.n_classes(d) for d in range(cg.n_decisions)] + [0]
        for d in range(cg.n_decisions):
            pol = C[d] * B * cg.n_types[cg.dec_mover[d]] * L.avail[d].shape[1]
            kept += pol * 4.0
            if values:
                kept += C[d] * B * n * T * 8.0
            peak = max(peak, pol * 8.0 + (C[d] + C[d + 1]) * B * n * T * 8.0)
        kept += C[0] * B * n * T * 8.0
    return kept, peak


def _stage_problems(cg: CompiledGame, lumps: list, G: int) -> int:
    B = int(np.prod(np.where(cg.n_types == 2, G, 1)))
    return sum(L.n_classes(d) * int(cg.n_types[cg.dec_mover[d]]) for L in lumps for d in range(cg.n_decisions)) * B


def _gib(x: float) -> str:
    """GiB to print: one decimal, two significant digits below 0.1 (never "0.0" for a real need)."""
    return f"{x:.1f}" if x >= 0.1 or x == 0 else f"{x:.2g}"


def _check_memory(cg: CompiledGame, lumps: list, G: int, max_gib: float, values: bool = False,
                  bgrid: BeliefGrid | None = None) -> None:
    """Refuse, before any solving, a grid whose tables and working arrays would exceed `max_gib`
    (`bgrid` adaptive: its G nodes are a uniform lattice with its anchors added, whose tables are
    the whole lattice's; the hint names a lattice whose nodes, anchors added, fit)."""
    adaptive = bgrid is not None and bgrid.kind == "adaptive"
    kept, peak = _solve_bytes(cg, lumps, G, values)
    need = (kept + peak) / 2**30
    if need <= max_gib:
        return
    def size(g: int) -> int:  # nodes of the grid asked for as g points
        return BeliefGrid.adaptive(g, bgrid.anchors, bgrid.refine).size if adaptive else g

    fits = [g for g in range(3, bgrid.lattice_size() if adaptive else G, 2)
            if sum(_solve_bytes(cg, lumps, size(g), values)) / 2**30 <= max_gib]
    if adaptive:
        hint = f"use a lattice of {fits[-1]} points or less (adapt:{fits[-1]})" if fits else "shorten the horizon"
    else:
        hint = f"use grid {fits[-1]} or less" if fits else "shorten the horizon"
    games = len(lumps)
    what = f"an adaptive {G}-node lattice (its tables are the whole lattice's)" if adaptive else f"a {G}-point belief grid"
    raise SolverError(
        f"grid: solving {cg.model.scenario_id} at horizon {cg.model.horizon} with {what} needs about "
        f"{_gib(need)} GiB ({_gib(kept / 2**30)} GiB of policy tables{' and kept values' if values else ''} for {games} perceived game{'s' if games != 1 else ''} "
        f"and {_gib(peak / 2**30)} GiB of working arrays; {_stage_problems(cg, lumps, G):,} stage problems{' on the lattice' if adaptive else ''}), more than "
        f"max_gib = {max_gib:g} GiB; {hint}, or raise max_gib"
    )


def solve_estimate(cg: CompiledGame, grid, *, hypergame: bool = True) -> tuple[float, int]:
    """(GiB of memory, number of stage problems) that `solve(cg, grid=grid)` will need: the
    estimate `max_gib` is checked against. Stage problems take about 4–7 µs each with continuation.
    For an adaptive grid the problems are the lattice's, the most it can solve."""
    G = resolve_grid(cg, grid, hypergame=hypergame).size
    games, _game_of, _mu0 = _perceived_games(cg, hypergame)
    lumps = [lump(cg.with_terminal(t)) for t in games]
    return sum(_solve_bytes(cg, lumps, G)) / 2**30, _stage_problems(cg, lumps, G)


def solve_game(
    cg: CompiledGame, bgrid: BeliefGrid, lam: np.ndarray, lam_steps: int, tol: float, maxit: int,
    stats: list | None = None, max_gib: float | None = 8.0, selection: str = "continuation",
    progress: Any = None, values: list | None = None, keep_strategies: bool = True,
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...], np.ndarray, list[str], float]:
    """Backward induction on one (perceived) compiled game, over exactly lumped state classes.

    Returns (sigma per decision float32 `(C_d, B, K_m, A_m)`, class of each reachable state per
    decision int64 `(S_d,)`, W at decision 0 float64 `(C_0, B, n, T)`, diagnostics, max residual).
    `progress`: a `crisislab._progress.Phase` advanced once per decision solved. `values`: a list
    of length n_decisions that receives each decision's values W (read-only float64 `(C_d, B, n, T)`).
    `keep_strategies=False`: each decision's strategies are dropped once it is solved (None in the
    result), so only two decisions' values are alive at once: the benchmarks time lattices whose
    kept tables would not fit in memory this way.
    """
    L = lump(cg)
    n_types = cg.n_types
    n = cg.n_actors
    grid = bgrid.array
    dmat = bgrid.diff_matrix()
    G = grid.shape[0]
    sizes, bidx, bstride, tau = _grid_layout(n_types, G)
    B, T = bidx.shape[0], tau.shape[0]
    if max_gib is not None:  # `solve` checks all its games at once, before solving any
        _check_memory(cg, [L], G, max_gib, bgrid=bgrid)
    xg = np.where(n_types[None, :] == 2, grid[np.minimum(bidx, G - 1)], 1.0)
    tp = _type_probs(xg, n_types, tau)  # (B, n, T)
    W_next = np.zeros((0, B, n, T))
    sigmas: list = [None] * cg.n_decisions
    if bgrid.kind == "adaptive":
        cuts = bgrid.start_nodes(n)
        # a value error δ moves a logit strategy by at most λδ/2: values are held to the strategies' tolerance / λ
        wtol = bgrid.refine / max(1.0, float(np.max(lam)))
    else:
        cuts, wtol = np.zeros((n, 2), dtype=np.int64), 1.0
    # Payoffs of the game are discounted sums from round 1, so a mover at decision d weighs its
    # round-d continuation by the discount accrued so far: its effective precision is λ·Π disc.
    # (This is what the agent QRE of the unrolled tree does; without it the engines disagree.)
    present = np.concatenate([[1.0], np.cumprod(cg.disc[:-1])])
    diags: list[str] = []
    worst = 0.0
    for d in range(cg.n_decisions - 1, -1, -1):
        t0 = time.perf_counter()
        m = int(cg.dec_mover[d])
        k_m = int(n_types[m])
        S, A = L.avail[d].shape
        others = [j for j in range(n) if j != m]
        wt = np.prod(tp[:, others, :], axis=1) if others else np.ones((B, T))
        sigma = np.zeros((S, B, k_m, A))
        W_out = np.zeros((S, B, n, T))
        res = np.zeros(S)
        iters = np.zeros(S, dtype=np.int64)
        solved = np.zeros(S, dtype=np.int64)
        with _KERNEL_LOCK:
            stage_kernel(
                L.row_ptr[d], L.nxt[d], L.prob[d], L.reward[d], L.avail[d],
                W_next, float(cg.disc[d]), grid, bgrid.is_uniform, bgrid.interp != "linear", dmat, bidx, bstride, tau,
                wt, m, k_m, float(lam[m] * present[d]), int(lam_steps), float(tol), int(maxit),
                SELECTION_MODES.index(selection), cuts, float(bgrid.refine), wtol, sigma, W_out, res, iters, solved,
            )
        r = float(res.max()) if S else 0.0
        worst = max(worst, r)
        if r > RESIDUAL_WARN:
            diags.append(
                f"decision {d} (round {int(cg.dec_round[d])}, mover {cg.model.actors[m]}): the stage fixed "
                f"point did not converge (max residual {r:.2e} after {maxit} iterations per λ step); "
                f"raise lam_steps (now {lam_steps}) or maxit, or lower actors.{cg.model.actors[m]}.lam "
                f"(now {lam[m]:g})"
                + ("" if bgrid.interp != "linear" else
                   "; values linear between belief nodes leave kinks where the fallback that traces a node's "
                   "branch stalls more often: a representation with cubic values (--grid cheb:N) avoids them")
            )
        if keep_strategies:
            sigmas[d] = sigma.astype(np.float32)
            sigmas[d].setflags(write=False)
        del sigma
        if values is not None:
            W_out.setflags(write=False)
            values[d] = W_out
        W_next = W_out
        if stats is not None:
            stats.append(StageStats(d, int(cg.dec_round[d]), cg.n_states(d), S, int(solved.sum()) * k_m,
                                    time.perf_counter() - t0, r, int(iters.sum())))
        if progress is not None:
            progress.advance()
    return tuple(sigmas), L.class_of, W_next, diags, worst


def grid_nodes(cg: CompiledGame, G: int, n_games: int = 1) -> int:
    """Stage problems of a solve at grid G: Σ_d classes × belief nodes × mover types, × games."""
    L = lump(cg)
    B = int(np.prod(np.where(cg.n_types == 2, G, 1)))
    per = sum(L.n_classes(d) * int(cg.n_types[cg.dec_mover[d]]) for d in range(cg.n_decisions))
    return per * B * n_games


def _prior_coords(cg: CompiledGame, hypergame: bool) -> list[float]:
    _games, _game_of, mu0 = _perceived_games(cg, hypergame)
    return [float(mu0[h, j]) for h in range(cg.n_actors) for j in range(cg.n_actors) if cg.n_types[j] == 2]


def auto_grid(cg: CompiledGame, *, hypergame: bool = True, budget: int | None = None, max_gib: float = 8.0) -> BeliefGrid:
    """The default belief representation of `cg`.

    A game small enough that the dense 51-point grid's stage problems (summed over the perceived
    games) stay within `budget` (default `AUTO_NODES`) is solved on it: there it costs about a second, and it is the
    reference the other representations are measured against (benchmarks/bench_belief.py: on the
    near-best-response games the Chebyshev grid does not reach its accuracy). A larger game gets
    the Chebyshev–Lobatto grid with every prior coordinate (true and perceived) made a node,
    shape-preserving cubic values and strategies read in log space (`BeliefGrid.chebyshev`), with
    the most nodes up to `AUTO_CHEB` whose stage problems stay within `AUTO_CHEB_NODES` (at least
    the 3-node family). Both within `max_gib`."""
    budget = AUTO_NODES if budget is None else budget
    games, _game_of, _mu0 = _perceived_games(cg, hypergame)
    lumps = [lump(cg)] * len(games)

    def fits(G: int, limit: int) -> bool:
        return grid_nodes(cg, G, len(games)) <= limit and sum(_solve_bytes(cg, lumps, G)) / 2**30 <= max_gib

    if fits(AUTO_MAX_GRID, budget):
        return BeliefGrid.uniform(AUTO_MAX_GRID)
    priors = _prior_coords(cg, hypergame)
    best = BeliefGrid.chebyshev(3, priors)
    for N in range(4, AUTO_CHEB + 1):
        g = BeliefGrid.chebyshev(N, priors)
        if fits(g.size, max(budget, AUTO_CHEB_NODES)):
            best = g
    return best


def resolve_grid(cg: CompiledGame, grid, *, hypergame: bool = True, max_gib: float = 8.0) -> BeliefGrid:
    """The `BeliefGrid` a `grid` argument names for `cg`: "auto" (`auto_grid`), an integer G (the
    dense uniform G-point grid, linear), a spec "cheb:N" / "cheb-linear:N" / "cheb-hermite:N" / "uniform-pchip:N"
    (Chebyshev nodes hold the scenario's priors) or "adapt:N[:TOL]" (the lattice holds them too),
    or a `BeliefGrid` itself."""
    if isinstance(grid, BeliefGrid):
        return grid
    if isinstance(grid, str):
        if grid == "auto":
            return auto_grid(cg, hypergame=hypergame, max_gib=max_gib)
        spec = parse_grid_spec(grid)
        if spec is None:
            raise SolverError(_bad_grid(grid))
        kind, interp, G = spec
        _check_size(G)
        if kind == "adaptive":
            _games, _game_of, mu0 = _perceived_games(cg, hypergame)
            per_actor = [list(mu0[:, j]) if cg.n_types[j] == 2 else [] for j in range(cg.n_actors)]
            return BeliefGrid.adaptive(G, per_actor, parse_refine(grid))
        strategies = "logit-cubic" if interp == "cubic" else None
        interp = "pchip" if interp == "cubic" else interp
        if kind == "uniform":
            return BeliefGrid.uniform(G, interp or "linear", strategies)
        return BeliefGrid.chebyshev(G, _prior_coords(cg, hypergame), interp or "pchip", strategies or "logit")
    if isinstance(grid, bool) or not isinstance(grid, int | np.integer) or grid < 3:
        raise SolverError(
            f"grid: a belief grid needs at least 3 points to interpolate a prior (got {grid!r}; expected an integer ≥ 3, e.g. 51, or 'auto')"
        )
    _check_size(int(grid))
    return BeliefGrid.uniform(int(grid))


def _check_size(G: int) -> None:
    if G < 3:
        raise SolverError(f"grid: a belief grid needs at least 3 points to interpolate a prior (got {G}; expected 3 to {MAX_GRID}, or 'auto')")
    if G > MAX_GRID:
        raise SolverError(_too_fine(G, "grid"))


def _bad_grid(text) -> str:
    return (
        f"grid: expected 'auto', a number of belief-grid points from 3 to {MAX_GRID} (the dense uniform grid), "
        f"or a representation cheb:N, cheb-linear:N, cheb-hermite:N, cheb-cubic:N, uniform-pchip:N or adapt:N[:TOL] (got {text!r})"
    )


def parse_grid(text: str | int) -> int | str:
    """A `--grid` value: "auto", a representation spec ("cheb:N", "cheb-linear:N",
    "uniform-pchip:N", see `resolve_grid`; returned as given), or an odd integer from 3 to
    `MAX_GRID`, the dense uniform grid (SolverError otherwise).

    The command line asks for odd grids: an odd grid contains 1/2 (where the auto grid and
    grid-check's grids also have a point). `solve(grid=G)` itself takes any G ≥ 3: the grid is
    uniform on [0, 1] and beliefs between its points are interpolated linearly (error ∝ 1/G²
    whatever the parity; a prior that is not a grid point gets a diagnostic), which studies of
    the interpolation error use."""
    if text == "auto":
        return text
    if isinstance(text, str) and parse_grid_spec(text) is not None:
        _check_size(parse_grid_spec(text)[2])
        parse_refine(text)
        return text.strip().lower()
    if isinstance(text, int):
        G = text
    else:
        try:
            G = int(text)
        except ValueError:
            raise SolverError(_bad_grid(text)) from None
    if G < 3:
        raise SolverError(f"grid: a belief grid needs at least 3 points to interpolate a prior (got {G}; expected 3 to {MAX_GRID}, or 'auto')")
    if G > MAX_GRID:
        raise SolverError(_too_fine(G, "grid"))
    if G % 2 == 0:
        raise SolverError(_even(G, "grid"))
    return G


def _even(G: int, name: str) -> str:
    return (
        f"{name}: a belief grid has an odd number of points (got {G}; use {G - 1} or {G + 1}): an odd grid "
        f"contains 1/2, the belief of an actor that cannot tell two types apart and the prior of many "
        f"scenarios, which an even grid can only interpolate; the auto grid is odd too"
    )


def _too_fine(G: int, name: str) -> str:
    return (
        f"{name}: at most {MAX_GRID} belief-grid points (got {G}): the interpolation error falls as 1/G², so at "
        f"{MAX_GRID} points it is already 1/400 of that at 51, while the work and memory grow with G for each "
        f"two-type actor; a finer grid cannot be asked for (compare grids with crisislab grid-check to see "
        f"whether the results still move)"
    )


def _check_args(model: Model, lam_steps: int, tol: float, maxit: int) -> None:
    if not isinstance(lam_steps, int | np.integer) or lam_steps < 1:
        raise SolverError(f"lam_steps: expected an integer ≥ 1 (got {lam_steps!r})")
    if not (0 < tol < 1e-3):
        raise SolverError(f"tol: expected a tolerance in (0, 1e-3) (got {tol!r})")
    if not isinstance(maxit, int | np.integer) or maxit < 1:
        raise SolverError(f"maxit: expected an integer ≥ 1 (got {maxit!r})")
    for a, lam in zip(model.actors, model.lam.tolist(), strict=True):
        if not math.isfinite(lam) or lam < 0:
            raise SolverError(f"actors.{a}.lam: a logit precision must be finite and ≥ 0 (got {lam!r})")
        if lam > MAX_LAM:
            raise SolverError(
                f"actors.{a}.lam: λ = {lam:g} is beyond what the λ-continuation can follow "
                f"(expected ≤ {MAX_LAM:g}); use a smaller λ (λ ≈ 10–50 is already close to best response)"
            )


def _grid_advice(prior: float, G: int) -> str | None:
    """Diagnostic when a prior coordinate is not a grid point of the G-point grid."""
    pos = prior * (G - 1)
    if abs(pos - round(pos)) < 1e-9:
        return None
    for G2 in range(G | 1, 2002, 2):  # grids are odd
        if abs(prior * (G2 - 1) - round(prior * (G2 - 1))) < 1e-9:
            return f"a grid of {G2} points contains it"
    return "no odd grid up to 2001 points contains it"


def solve(
    game: CompiledGame | Model,
    *,
    grid: int | str | BeliefGrid = "auto",
    lam_steps: int = 8,
    tol: float = 1e-10,
    maxit: int = 500,
    stats: list | None = None,
    hypergame: bool = True,
    max_gib: float = 8.0,
    threads: int | None = None,
    selection: str = "continuation",
    keep_values: bool = False,
) -> Solution:
    """Solve a crisis: every perceived game's stage-wise agent logit QRE on a belief grid.

    `game`: a `CompiledGame` or a `crisislab.model.Model` (compiled here). `grid`: the belief
    representation (`resolve_grid`): "auto" (the default; `auto_grid`: Chebyshev–Lobatto nodes with
    every prior a node, values read between nodes by the shape-preserving cubic), an integer G (the
    dense uniform G-point grid with linear values, the reference), a spec "adapt:N[:TOL]" (the
    N-point lattice with the priors added, each state solving only the nodes whose strategies its
    boxes' corners do not predict to within TOL, default 0.01; `BeliefGrid.adaptive`), "cheb:N",
    "cheb-linear:N", "uniform-pchip:N", or a `BeliefGrid`. `lam_steps`: λ-continuation steps per node (0 → λ_m).
    `tol`, `maxit`: fixed-point tolerance (sup-norm on strategies) and iterations per step.
    `stats`: optional list that receives one `StageStats` per decision and game.
    `hypergame`: solve each actor's perceived game (default); False solves only the true
    common-prior game (every perceiver then shares it, starting from the true prior).
    `max_gib`: refuse, before solving, a grid whose estimated memory (`solve_estimate`: every
    perceived game's policy tables plus the working arrays of one decision) exceeds it, with a
    SolverError giving the estimate and naming a grid that fits. `grid` is at most `MAX_GRID`.
    `selection`: which stage fixed point a node keeps where there are several. "continuation"
    (default) follows the λ path from the uniform profile at λ = 0 in `lam_steps` equal steps, the
    principal branch of the node's logit correspondence where no step jumps across a fold, except where a contraction bound proves
    the node's fixed point unique (then the full-λ iteration reaches the same point faster); "path"
    follows the λ path at every node. "trace" traces every node's branch by arc length from λ = 0,
    around the folds where equal λ steps can jump to another fixed point (the principal branch
    itself; the λ path only where the trace does not arrive): the reference, about 3.4× slower on
    the flagship, where it keeps another point than "continuation" at ~1.6–2.0% of nodes by more
    than 0.01 without moving outcome shares (benchmarks/RESULTS.md). "fast" first iterates at full λ from the
    uniform profile (then Newton) and continues along λ only where that fails: 2–3× faster, but on
    the flagship it keeps another fixed point at ~3% of nodes, which moves outcome shares by up to
    3 points (benchmarks/RESULTS.md), so it is for quick looks only.
    `threads`: worker threads for the states of a decision (default: numba's, i.e. every core);
    the result is bit-identical for any number, since each state is solved on its own.
    `keep_values`: keep every decision's continuation values in `Solution.values` (float64, about
    twice the strategies' memory; counted against `max_gib`), so `Solution.strategy(..., readout="resolve")`
    can solve a stage at any belief instead of interpolating the node strategies.
    Raises `SolverError` for bad arguments; `Solution.diagnostics` reports, as sentences that say
    the fix, a prior coordinate that is not a node (its starting values are interpolated) and
    stage fixed points that did not converge.
    """
    cg = game if isinstance(game, CompiledGame) else compile_model(game)
    model = cg.model
    if selection not in SELECTION_MODES:
        raise SolverError(f"selection: expected one of {', '.join(SELECTION_MODES)} (got {selection!r})")
    if not (isinstance(max_gib, int | float) and not isinstance(max_gib, bool) and max_gib > 0):
        raise SolverError(f"max_gib: expected a number of GiB > 0 (got {max_gib!r})")
    grid = resolve_grid(cg, grid, hypergame=hypergame, max_gib=max_gib)
    _check_args(model, lam_steps, tol, maxit)
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int | np.integer) or threads < 1:
            raise SolverError(f"threads: expected an integer ≥ 1 (got {threads!r})")
        before = numba.get_num_threads()
        numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
        try:
            return solve(cg, grid=grid, lam_steps=lam_steps, tol=tol, maxit=maxit, stats=stats,
                         hypergame=hypergame, max_gib=max_gib, selection=selection, keep_values=keep_values)
        finally:
            numba.set_num_threads(before)
    n, k = cg.n_actors, cg.k_max
    n_types = cg.n_types
    G = grid.size
    grid_pts = np.array(grid.array)
    lam = np.array(model.lam, dtype=np.float64)

    # Perceived games: one per distinct terminal-payoff view; priors only move the starting node.
    games, game_of, mu0 = _perceived_games(cg, hypergame)

    diags: list[str] = []
    for h in range(n):
        for j in range(n):
            if n_types[j] != 2:
                continue
            adv = None if grid.holds(float(mu0[h, j])) else _grid_advice(float(mu0[h, j]), G) if grid.is_uniform else (
                "the default grid ('auto') makes every prior a node")
            if adv is not None:
                who = "true prior" if h == j else f"{model.actors[h]}'s prior"
                diags.append(
                    f"grid: {who} P({model.actors[j]} is {model.types[j][0]}) = {mu0[h, j]:g} is not a "
                    f"point of the {grid.label()}, so starting values are interpolated; {adv}"
                )

    # Every game's tables are kept to the end: check their total against max_gib before solving any.
    cg_games = [cg.with_terminal(terminal) for terminal in games]
    _check_memory(cg, [lump(c) for c in cg_games], G, max_gib, keep_values, grid)

    sigmas, classes, W0s = [], [], []
    worst = 0.0
    solved = 0
    games_text = f"{len(cg_games)} perceived game{'s' if len(cg_games) != 1 else ''}"
    with _progress.phase(f"solving {games_text} on a {grid.label()} (decisions)", total=len(cg_games) * cg.n_decisions) as ph:
        kept = []
        for cg_g in cg_games:
            vals = [None] * cg.n_decisions if keep_values else None
            own: list = []
            sig, cls, W0, dg, r = solve_game(cg_g, grid, lam, lam_steps, tol, maxit, own, None, selection, ph, vals)
            if stats is not None:
                stats.extend(own)
            solved += sum(x.nodes for x in own)
            if vals is not None:
                kept.append(tuple(vals))
            sigmas.append(sig)
            classes.append(cls)
            W0s.append(W0)
            diags.extend(dg)
            worst = max(worst, r)

    sizes, _bidx, _bs, tau = _grid_layout(n_types, G)
    values0 = np.zeros((n, n, k))
    for h in range(n):
        W0 = W0s[game_of[h]]
        idx, wts = belief_corners(mu0[h][None, :], grid_pts, sizes)
        # V[i, τ] at the start: initial chance segment, then W at decision 0 interpolated at μ0
        Wb = np.einsum("c,scit->sit", wts[0], W0[:, idx[0]])
        cg_g = cg.with_terminal(games[game_of[h]])
        rew = cg_g.init_reward[:, np.arange(n)[:, None], tau.T]  # (nnz, n, T)
        V = np.einsum("j,jit->it", cg_g.init_prob, rew + Wb[classes[game_of[h]][0][cg_g.init_nxt]])
        tp = _type_probs(mu0[h][None, :], n_types, tau)[0]  # (n, T)
        for i in range(n):
            others = [j for j in range(n) if j != i]
            w = np.prod(tp[others], axis=0) if others else np.ones(tau.shape[0])
            for th in range(n_types[i]):
                sel = tau[:, i] == th
                values0[h, i, th] = float((w[sel] * V[i, sel]).sum() / w[sel].sum())

    for arr in (grid_pts, sizes, game_of, mu0, values0, lam):
        arr.setflags(write=False)
    return Solution(
        compiled=cg,
        grid=grid_pts,
        grid_sizes=sizes,
        perceivers=tuple(model.actors),
        game_of=game_of,
        sigma=tuple(sigmas),
        class_of=tuple(classes),
        mu0=mu0,
        values0=values0,
        lam=lam,
        params={"grid": G, "belief_grid": grid.to_json(), "lam_steps": int(lam_steps), "tol": float(tol), "maxit": int(maxit), "method": "stagewise-agent-logit-qre", "hypergame": bool(hypergame), "selection": selection,
                "stage_problems": int(solved), "lattice_problems": int(_stage_problems(cg, [lump(c) for c in cg_games], G))},
        diagnostics=tuple(diags),
        max_residual=worst,
        values=tuple(kept) if keep_values else None,
    )
