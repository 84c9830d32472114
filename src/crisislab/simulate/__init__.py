"""Vectorized Monte Carlo of a solved crisis, interventions, claims and the real-timeline replay.

Public surface: `simulate` (one arm → `Results`), `ArmRunner` and `evaluate_claims` (paired
comparisons with common random numbers), `replay_timeline`, the `Policy` protocol with
`FixedPolicy`, and `compile_arm` (interventions → an `Arm`). Randomness is counter-based
and keyed by (seed, run index): results do not depend on `workers` or `chunk`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from crisislab.model.rules import DEFAULT_CHUNK

if TYPE_CHECKING:
    from crisislab.simulate._claims import ArmRunner, ClaimResult, describe_interventions, evaluate_claims
    from crisislab.simulate._compile import InterventionError, compile_arm, split_interventions
    from crisislab.simulate._policy import FixedPolicy, Node, Policy
    from crisislab.simulate._results import Results
    from crisislab.simulate._stats import PairedEstimate, paired_difference, verdict, wilson_interval

# Names are imported on first use (PEP 562): `import crisislab.simulate._cli` (every CLI start)
# must not pay for scipy, pandas and numba.
_LAZY = {
    "ArmRunner": "_claims",
    "ClaimResult": "_claims",
    "describe_interventions": "_claims",
    "evaluate_claims": "_claims",
    "InterventionError": "_compile",
    "compile_arm": "_compile",
    "split_interventions": "_compile",
    "FixedPolicy": "_policy",
    "Node": "_policy",
    "Policy": "_policy",
    "Results": "_results",
    "PairedEstimate": "_stats",
    "paired_difference": "_stats",
    "verdict": "_stats",
    "wilson_interval": "_stats",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'crisislab.simulate' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"crisislab.simulate.{mod}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_CHUNK",
    "ArmRunner",
    "ClaimResult",
    "FixedPolicy",
    "InterventionError",
    "Node",
    "PairedEstimate",
    "Policy",
    "Results",
    "compile_arm",
    "describe_interventions",
    "evaluate_claims",
    "paired_difference",
    "simulate",
    "verdict",
    "wilson_interval",
]


def simulate(
    scenario: Any,
    policy: Policy,
    runs: int,
    seed: int,
    interventions: Sequence[Any] = (),
    *,
    workers: int = 1,
    chunk: int = DEFAULT_CHUNK,
    paths: bool = False,
    progress: bool = False,
) -> Results:
    """Simulate `runs` runs of `scenario` under `policy` (solved for this very scenario).

    `interventions`: force/forbid items (scenario `Intervention` models). A `set` item changes the
    game, so its policy must be re-solved: use `ArmRunner` with a solver for those.
    """
    from crisislab.model import lower
    from crisislab.simulate._compile import InterventionError, compile_arm, split_interventions
    from crisislab.simulate._claims import describe_interventions
    from crisislab.simulate._run import simulate_spec

    overrides, rest = split_interventions(interventions)
    if overrides:
        raise InterventionError(
            "simulate(): `set` interventions change the game and need a re-solve; use ArmRunner(scenario, solve, ...)"
        )
    spec = lower(scenario)
    arm = compile_arm(spec, scenario, rest)
    return simulate_spec(
        spec,
        policy,
        runs,
        seed,
        arm,
        workers=workers,
        chunk=chunk,
        paths=paths,
        progress=progress,
        interventions=(describe_interventions(interventions),),
    )
