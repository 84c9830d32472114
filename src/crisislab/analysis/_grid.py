"""Is the belief grid fine enough? The crisis engine solved on several grids, simulated on the same runs.

Each grid (a dense uniform grid or a representation such as "cheb:13") is solved and simulated
with the same seed and run indices (common random numbers), so the differences between grids are
the grids', not sampling noise's. Between the last two grids the check reports the largest shift
of an outcome share with its paired standard error (the standard error of the mean of the
per-run differences of the outcome indicators: runs are paired by index), and the claims whose
verdict changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from crisislab import _progress
from crisislab.analysis._claims import ArmRunner, SolverChoice, evaluate_claims
from crisislab.errors import UserError

__all__ = ["grid_check", "parse_grids"]


def grid_check(
    scenario: Any,
    grids: Sequence[int | str],
    runs: int = 10_000,
    seed: int = 0,
    *,
    workers: int = 1,
    chunk: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    level: float = 0.95,
    on_grid: Callable[[int | str], None] | None = None,
    readout: str = "table",
    selection: str = "continuation",
) -> dict[str, Any]:
    """Outcome shares and claim estimates of `scenario` solved on each of `grids`, `runs` runs each
    with `seed`. A grid is what `crisislab.crisis.parse_grid` takes: an odd integer ≥ 3 (the dense
    uniform grid), a representation spec ("cheb:13", "cheb-linear:9", ...) or "auto". Give them
    coarse to fine: the last two are compared.

    Returns plain data: `grids` (per grid: `grid` as given, `label` (the representation it
    resolved to), `diagnostics` (the solver's, empty when every stage converged), `outcomes` {outcome: share}, `half_width` {outcome: Monte Carlo half-width of the
    share's normal interval at `level`}, `claims` (claim, verdict, difference, ci_low, ci_high)),
    `outcomes` (names), `finest_shift` (largest change of an outcome share between the last two
    grids), `finest_shift_z` (the largest such change over its paired standard error; 0 when no
    run changed outcome), `finest_outcome` (the outcome of `finest_shift_z`) and
    `finest_verdict_changes` (claim ids).
    `on_grid(grid)` is called before each grid is solved (for progress messages). `readout`: how
    strategies are read between belief nodes on every grid ("table" or "resolve", as `simulate`).
    `selection`: the stage fixed point kept on every grid (`crisislab.crisis.solve`'s).
    """
    from scipy import stats

    gs = parse_grids(grids)
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    with _progress.shown(progress):
        done = [_one_grid(scenario, G, runs, seed, workers, chunk, scheduler, progress, z, on_grid, readout, selection)
                for G in gs]
    cols = [c for c, _ in done]
    names = sorted({k for c in cols for k in c["outcomes"]})
    fine, finer = (cols[-2], cols[-1]) if len(cols) > 1 else (cols[-1], cols[-1])
    shift = max((abs(fine["outcomes"].get(k, 0.0) - finer["outcomes"].get(k, 0.0)) for k in names), default=0.0)
    z_worst, worst = _paired_z(done[-2][1], done[-1][1], names) if len(done) > 1 else (0.0, None)
    flips = [a["claim"] for a, b in zip(fine["claims"], finer["claims"], strict=True) if a["verdict"] != b["verdict"]]
    return {"scenario": scenario.id, "runs": runs, "seed": seed, "grids": cols, "outcomes": names,
            "finest_shift": shift, "finest_shift_z": z_worst, "finest_outcome": worst,
            "finest_verdict_changes": flips}  # fmt: skip


def parse_grids(grids: Sequence[int | str], name: str = "grids", given: str | None = None) -> list[int | str]:
    """The grids of a grid check, each as `crisislab.crisis.parse_grid` reads it; UserError (naming
    `name`, and quoting `given`, the user's text, when there is one) for a bad grid, a repeated
    one, or dense grids out of increasing order."""
    from crisislab.crisis import parse_grid

    got = repr(given) if given is not None else repr(list(grids))

    try:
        gs = [parse_grid(g.strip() if isinstance(g, str) else g) for g in grids]
    except UserError as e:
        raise UserError(f"{name}: {str(e).removeprefix('grid: ')} (in {got})") from None
    if not gs or len({str(g) for g in gs}) != len(gs):
        raise UserError(f"{name}: expected distinct belief grids, coarse to fine, e.g. 3,5,9 or 5,cheb:13 (got {got})")
    dense = [g for g in gs if isinstance(g, int)]
    if dense != sorted(dense):
        raise UserError(f"{name}: dense grids go coarse to fine, in increasing order, e.g. 3,5,9 (got {got})")
    return gs


def _paired_z(a: np.ndarray, b: np.ndarray, names: list[str]) -> tuple[float, str | None]:
    """Largest |mean difference| / paired SE of the outcome indicators of runs paired by index."""
    best, which = 0.0, None
    for k in names:
        d = (b == k).astype(np.float64) - (a == k).astype(np.float64)
        if not d.any():
            continue
        se = d.std(ddof=1) / np.sqrt(d.size)
        zk = abs(d.mean()) / se
        if zk > best:
            best, which = float(zk), k
    return best, which


def _one_grid(scenario: Any, G: int | str, runs: int, seed: int, workers: int, chunk: int | None, scheduler: str | None,
              progress: bool, z: float, on_grid: Callable[[int | str], None] | None,
              readout: str = "table", selection: str = "continuation") -> tuple[dict[str, Any], np.ndarray]:  # fmt: skip
    """The grid's column of the check, and each run's outcome (for the paired comparison)."""
    from crisislab.model.rules import DEFAULT_CHUNK

    if on_grid is not None:
        on_grid(G)
    runner = ArmRunner(scenario, SolverChoice("crisis", G, readout=readout, selection=selection), runs, seed, workers=workers,
                       chunk=DEFAULT_CHUNK if chunk is None else chunk, progress=progress, scheduler=scheduler)  # fmt: skip
    policy = runner.policy  # compile and solve first: their own phases
    with _progress.phase(f"grid {G}: simulating the scenario as written (chunks)"):
        base = runner.results([])
    claims = evaluate_claims(runner, robustness=0) if scenario.claims else []
    shares = {k: int(v) / base.n_runs for k, v in base.outcome_counts().items()}
    bg = getattr(getattr(policy, "solution", None), "belief_grid", None)
    return {
        "grid": G,
        "label": bg.label() if bg is not None else str(G),
        "diagnostics": list(getattr(policy, "diagnostics", ())),
        "outcomes": shares,
        "half_width": {k: z * (p * (1 - p) / runs) ** 0.5 for k, p in shares.items()},
        "claims": [{k: v for k, v in c.as_row().items() if k in ("claim", "verdict", "difference", "ci_low", "ci_high")} for c in claims],
    }, base.runs["outcome"].to_numpy().astype(str)  # fmt: skip
