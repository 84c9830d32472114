"""Is the belief grid fine enough? The crisis engine solved on several grids, simulated on the same runs.

Each grid's solution is simulated with the same seed and run indices (common random numbers), so
the differences between grids are the grid's, not sampling noise's. The check reports, for the two
finest grids, the largest shift of an outcome share and the claims whose verdict changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from crisislab import _progress
from crisislab.analysis._claims import ArmRunner, SolverChoice, evaluate_claims
from crisislab.errors import UserError

__all__ = ["grid_check"]


def grid_check(
    scenario: Any,
    grids: Sequence[int],
    runs: int = 10_000,
    seed: int = 0,
    *,
    workers: int = 1,
    chunk: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    level: float = 0.95,
    on_grid: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Outcome shares and claim estimates of `scenario` solved on each of `grids` (distinct odd or
    even integers ≥ 3, coarse to fine), `runs` runs each with `seed`.

    Returns plain data: `grids` (per grid: `grid`, `outcomes` {outcome: share}, `half_width`
    {outcome: Monte Carlo half-width of the share's normal interval at `level`}, `claims` (claim,
    verdict, difference, ci_low, ci_high)), `outcomes` (names), `finest_shift` (largest change of
    an outcome share between the two finest grids) and `finest_verdict_changes` (claim ids).
    `on_grid(G)` is called before each grid is solved (for progress messages).
    """
    from scipy import stats

    gs = [int(g) for g in grids]
    if not gs or min(gs) < 3 or gs != sorted(set(gs)):
        raise UserError(f"grids: expected distinct integers ≥ 3 in increasing order, e.g. 3,5,9 (got {list(grids)!r})")
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    with _progress.shown(progress):
        cols = [_one_grid(scenario, G, runs, seed, workers, chunk, scheduler, progress, z, on_grid) for G in gs]
    names = sorted({k for c in cols for k in c["outcomes"]})
    fine, finer = (cols[-2], cols[-1]) if len(cols) > 1 else (cols[-1], cols[-1])
    shift = max((abs(fine["outcomes"].get(k, 0.0) - finer["outcomes"].get(k, 0.0)) for k in names), default=0.0)
    flips = [a["claim"] for a, b in zip(fine["claims"], finer["claims"], strict=True) if a["verdict"] != b["verdict"]]
    return {"scenario": scenario.id, "runs": runs, "seed": seed, "grids": cols, "outcomes": names,
            "finest_shift": shift, "finest_verdict_changes": flips}  # fmt: skip


def _one_grid(scenario: Any, G: int, runs: int, seed: int, workers: int, chunk: int | None, scheduler: str | None,
              progress: bool, z: float, on_grid: Callable[[int], None] | None) -> dict[str, Any]:  # fmt: skip
    from crisislab.model.rules import DEFAULT_CHUNK

    if on_grid is not None:
        on_grid(G)
    runner = ArmRunner(scenario, SolverChoice("crisis", G), runs, seed, workers=workers,
                       chunk=DEFAULT_CHUNK if chunk is None else chunk, progress=progress, scheduler=scheduler)  # fmt: skip
    _ = runner.policy  # compile and solve first: their own phases
    with _progress.phase(f"grid {G}: simulating the scenario as written (chunks)"):
        base = runner.results([])
    claims = evaluate_claims(runner, robustness=0) if scenario.claims else []
    shares = {k: int(v) / base.n_runs for k, v in base.outcome_counts().items()}
    return {
        "grid": G,
        "outcomes": shares,
        "half_width": {k: z * (p * (1 - p) / runs) ** 0.5 for k, p in shares.items()},
        "claims": [{k: v for k, v in c.as_row().items() if k in ("claim", "verdict", "difference", "ci_low", "ci_high")} for c in claims],
    }  # fmt: skip
