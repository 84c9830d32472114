"""Vectorized Monte Carlo of a solved crisis, interventions, claims and the real-timeline replay.

Public surface: `simulate` (one arm → `Results`), `ArmRunner` and `evaluate_claims` (paired
comparisons with common random numbers), `replay_timeline`, the `Policy` protocol with
`FixedPolicy`, and `compile_spec` (scenario → the simulator's arrays). Randomness is counter-based
and keyed by (seed, run index): results do not depend on `workers` or `chunk`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crisislab.simulate._claims import ArmRunner, ClaimResult, describe_interventions, evaluate_claims
from crisislab.simulate._compile import InterventionError, compile_arm, compile_spec, split_interventions
from crisislab.simulate._policy import FixedPolicy, Node, Policy
from crisislab.simulate._results import Results
from crisislab.simulate._run import DEFAULT_CHUNK, simulate_spec
from crisislab.simulate._spec import SimSpec
from crisislab.simulate._stats import PairedEstimate, paired_difference, verdict, wilson_interval

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
