"""Vectorized Monte Carlo of a solved crisis: many runs at once, interventions, per-run tables.

Public surface: `simulate` (one arm → `Results`), the `Policy` protocol with `FixedPolicy` and
`SolutionPolicy` (a crisis-engine `Solution` as a policy), `compile_arm` / `split_interventions`
(interventions → the `Arm` one simulation plays: forces, forbids, or a script of moves), `simulate_model` (the lower-level call on a lowered
`crisislab.model.Model`) and `map_tasks` (the one place that distributes work over Dask).
Randomness is counter-based and keyed by (seed, run index): results do not depend on `workers`
or `chunk`. Arms, paired comparisons and claims are in `crisislab.analysis`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from crisislab._lazy import lazy_exports
from crisislab.model.rules import DEFAULT_CHUNK

if TYPE_CHECKING:
    from crisislab.simulation._chunk import Arm, Force
    from crisislab.simulation._compile import InterventionError, compile_arm, split_interventions
    from crisislab.simulation._policy import FixedPolicy, Node, Policy
    from crisislab.simulation._results import Results, write_table
    from crisislab.simulation._run import check_scheduler, map_tasks, progress_wanted, simulate_model
    from crisislab.simulation._myopic import MyopicLogitPolicy
    from crisislab.simulation._solution_policy import SolutionPolicy, as_policy

# Names are imported on first use (PEP 562): the command line's start must not pay for scipy,
# pandas and numba.
_LAZY = {
    "Arm": "._chunk",
    "Force": "._chunk",
    "InterventionError": "._compile",
    "compile_arm": "._compile",
    "split_interventions": "._compile",
    "FixedPolicy": "._policy",
    "Node": "._policy",
    "Policy": "._policy",
    "Results": "._results",
    "write_table": "._results",
    "check_scheduler": "._run",
    "map_tasks": "._run",
    "progress_wanted": "._run",
    "simulate_model": "._run",
    "SolutionPolicy": "._solution_policy",
    "as_policy": "._solution_policy",
    "MyopicLogitPolicy": "._myopic",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


__all__ = sorted([*_LAZY, "DEFAULT_CHUNK", "simulate"])


def simulate(
    scenario: Any,
    policy: Any,
    runs: int = 10_000,
    seed: int = 0,
    interventions: Sequence[Any] = (),
    *,
    grid: int | str = "auto",
    workers: int = 1,
    chunk: int = DEFAULT_CHUNK,
    scheduler: str | None = None,
    paths: bool = False,
    progress: bool = False,
    readout: str = "table",
    selection: str = "continuation",
) -> Results:
    """Simulate `runs` runs of `scenario` (a `Scenario`) under `policy`, with `seed`.

    `policy`: what `crisislab.solve(scenario)` returns (a crisis-engine `Solution` of this very
    scenario), any `Policy` (e.g. `FixedPolicy`, `SolutionPolicy`), or, as `crisislab simulate
    --policy`, "crisis" (solved here on `grid` belief points, "auto" as `crisislab.solve`) or
    "myopic" (the one-step-lookahead stand-in). `interventions`: force /
    forbid items (scenario `Intervention` models) applied inside the simulation; a `set` item
    changes the game and so the strategies: solve the changed scenario
    (`scenario.with_overrides`), or compare arms with `crisislab.analysis.compare_arms`.
    `workers` local Dask processes or a dask.distributed `scheduler` address run the chunks of
    `chunk` runs; `paths` keeps the per-move table (`Results.paths`). `readout`: how a crisis
    solution's strategies are read between belief nodes, "table" (interpolated node strategies) or
    "resolve" (each move's stage solved at the run's beliefs from values kept by
    `solve(..., keep_values=True)`; slower, and where a strategy steps between nodes, exact in the
    mover's own belief). `selection`: the stage fixed point kept by a "crisis" policy solved here
    (`crisislab.crisis.solve`'s). Returns `Results`, whose
    `runs` is a pandas DataFrame with one row per run. The numbers depend only on (scenario,
    policy, seed, run index), never on `workers` or `chunk`.
    """
    from crisislab.model import lower
    from crisislab.scenario import describe_interventions
    from crisislab.simulation._compile import InterventionError, compile_arm, split_interventions
    from crisislab.simulation._run import check_run_arguments, simulate_model
    from crisislab.simulation._solution_policy import as_policy

    overrides, rest = split_interventions(interventions)
    if overrides:
        raise InterventionError(
            "simulate(): a `set` intervention changes the game and needs a re-solve: simulate "
            "scenario.with_overrides({...}) with its own solution, or use crisislab.analysis.compare_arms"
        )
    check_run_arguments(runs, seed, workers, chunk, scheduler)
    policy = as_policy(policy, scenario, grid, readout, selection)
    model = lower(scenario)
    arm = compile_arm(model, scenario, rest)
    return simulate_model(
        model,
        policy,
        runs,
        seed,
        arm,
        workers=workers,
        chunk=chunk,
        scheduler=scheduler,
        paths=paths,
        progress=progress,
        interventions=(describe_interventions(interventions),),
    )
