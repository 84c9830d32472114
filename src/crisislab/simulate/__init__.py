"""Vectorized Monte Carlo of a solved crisis, interventions, claims and the real-timeline replay.

Public surface: `simulate` (one arm → `Results`), `ArmRunner` and `evaluate_claims` (paired
comparisons with common random numbers), `replay_timeline`, the `Policy` protocol with
`FixedPolicy`, and `compile_spec` (scenario → the simulator's arrays). Randomness is counter-based
and keyed by (seed, run index): results do not depend on `workers` or `chunk`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crisislab.simulate._claims import ArmRunner, ClaimResult, describe_interventions, evaluate_claims
    from crisislab.simulate._compile import InterventionError, compile_arm, compile_spec, split_interventions
    from crisislab.simulate._policy import FixedPolicy, Node, Policy
    from crisislab.simulate._results import Results
    from crisislab.simulate._spec import SimSpec
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
    "compile_spec": "_compile",
    "split_interventions": "_compile",
    "FixedPolicy": "_policy",
    "Node": "_policy",
    "Policy": "_policy",
    "Results": "_results",
    "SimSpec": "_spec",
    "PairedEstimate": "_stats",
    "paired_difference": "_stats",
    "verdict": "_stats",
    "wilson_interval": "_stats",
}
DEFAULT_CHUNK = 32_768  # same as _run.DEFAULT_CHUNK (checked in tests)


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
    "SimSpec",
    "compile_arm",
    "compile_spec",
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
    from crisislab.simulate._compile import InterventionError, compile_arm, compile_spec, split_interventions
    from crisislab.simulate._claims import describe_interventions
    from crisislab.simulate._run import simulate_spec

    overrides, rest = split_interventions(interventions)
    if overrides:
        raise InterventionError(
            "simulate(): `set` interventions change the game and need a re-solve; use ArmRunner(scenario, solve, ...)"
        )
    spec = compile_spec(scenario)
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
