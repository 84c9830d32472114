"""Arms, paired comparisons and claim evaluation (estimate, CI, verdict, robustness).

An *arm* is the scenario under a list of interventions: `set` items change parameters (and force a
re-solve, since the strategies depend on them), `force`/`forbid` items act inside the simulation.
Both arms of a claim are simulated with the same seed and run indices (common random numbers), and
the verdict comes from the paired difference's confidence interval. Robustness re-draws every
parameter with a stated uncertainty (`Scenario.sample_parameters`), re-solves, re-simulates both
arms, and reports the share of draws in which the claimed direction (beyond the margin) holds by
the point estimate — the interval of each small draw would mostly say "undetermined".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from crisislab.simulate._compile import compile_arm, compile_spec, split_interventions
from crisislab.simulate._policy import Policy
from crisislab.simulate._results import Results
from crisislab.simulate._run import DEFAULT_CHUNK, simulate_spec
from crisislab.simulate._stats import PairedEstimate, paired_difference, verdict

__all__ = ["ArmRunner", "ClaimResult", "describe_interventions", "describe_metric", "evaluate_claims"]

Solver = Callable[[Any], Policy]


def describe_interventions(interventions: Sequence[Any]) -> str:
    """A short human-readable description ("as written" for an empty list)."""
    if not interventions:
        return "as written"
    parts = []
    for iv in interventions:
        if hasattr(iv, "force"):
            f = iv.force
            when = f" at round {f.round}" if f.round is not None else (" when " + _cond_text(f.when) if f.when else "")
            parts.append(f"force {f.actor} {f.action}{when}")
        elif hasattr(iv, "forbid"):
            parts.append(f"forbid {iv.forbid.actor} {iv.forbid.action}")
        else:
            parts.append(f"set {iv.set.param} = {iv.set.value.value:g}")
    return "; ".join(parts)


def _cond_text(c: Any) -> str:
    data = c.model_dump(by_alias=True, exclude_none=True)
    return json.dumps(data, separators=(",", ":"))


def describe_metric(metric: Any) -> str:
    kind, target = metric.kind, metric.target
    if kind == "outcome_probability":
        return f"P({target}" + (f" within {metric.within} rounds)" if metric.within else ")")
    if kind == "mean_casualties":
        return f"mean deaths ({target})"
    if kind == "mean_audience_cost":
        return f"mean audience cost ({target})"
    if kind == "mean_end_round":
        return "mean end round"
    return f"P({target} taken)"


def _key(interventions: Sequence[Any]) -> str:
    return json.dumps([iv.model_dump(by_alias=True, exclude_none=True, mode="json") for iv in interventions], sort_keys=True)


class ArmRunner:
    """Simulates arms of one scenario with one seed, caching solved policies and results per arm.

    `solve(scenario) -> Policy` is called once per distinct set of parameter overrides.
    """

    def __init__(
        self,
        scenario: Any,
        solve: Solver,
        runs: int,
        seed: int,
        *,
        workers: int = 1,
        chunk: int = DEFAULT_CHUNK,
        progress: bool = False,
        base_policy: Policy | None = None,
    ):
        self.scenario, self.solve, self.runs, self.seed = scenario, solve, runs, seed
        self.workers, self.chunk, self.progress = workers, chunk, progress
        self._policies: dict[str, tuple[Any, Any, Policy]] = {}
        if base_policy is not None:
            self._policies["{}"] = (scenario, compile_spec(scenario), base_policy)
        self._results: dict[str, Results] = {}

    def solved(self, overrides: dict[str, Any]) -> tuple[Any, Any, Policy]:
        k = json.dumps({p: (v.model_dump(mode="json") if hasattr(v, "model_dump") else v) for p, v in overrides.items()}, sort_keys=True)
        hit = self._policies.get(k)
        if hit is None:
            sc = self.scenario.with_overrides(overrides) if overrides else self.scenario
            hit = (sc, compile_spec(sc), self.solve(sc))
            self._policies[k] = hit
        return hit

    def results(self, interventions: Sequence[Any], paths: bool = False) -> Results:
        k = _key(interventions)
        hit = self._results.get(k)
        if hit is None or (paths and hit.paths is None):
            overrides, rest = split_interventions(interventions)
            sc, spec, policy = self.solved(overrides)
            arm = compile_arm(spec, sc, rest)
            hit = simulate_spec(
                spec,
                policy,
                self.runs,
                self.seed,
                arm,
                workers=self.workers,
                chunk=self.chunk,
                paths=paths,
                progress=self.progress,
                interventions=(describe_interventions(interventions),),
                label=f"arm: {describe_interventions(interventions)[:40]}",
            )
            self._results[k] = hit
        return hit


@dataclass(frozen=True)
class ClaimResult:
    """One evaluated claim. `robustness` is None when no draws were made (or nothing is uncertain)."""

    id: str
    label: str | None
    seed_file: str | None
    quote: str | None
    metric: str
    expect: str
    margin: float
    treatment: str
    baseline: str
    estimate: PairedEstimate
    verdict: str
    robustness: float | None
    robustness_draws: int

    def as_row(self) -> dict[str, Any]:
        e = self.estimate
        return {
            "claim": self.id,
            "seed": self.seed_file,
            "quote": self.quote,
            "metric": self.metric,
            "expect": self.expect,
            "margin": self.margin,
            "treatment": self.treatment,
            "baseline": self.baseline,
            "treatment_value": e.treatment,
            "baseline_value": e.baseline,
            "difference": e.diff,
            "ci_low": e.ci_low,
            "ci_high": e.ci_high,
            "n": e.n,
            "verdict": self.verdict,
            "robustness": self.robustness,
            "robustness_draws": self.robustness_draws,
        }


def _holds_point(diff: float, expect: str, margin: float) -> bool:
    return diff < -margin if expect == "lower" else diff > margin


def evaluate_claims(
    runner: ArmRunner,
    claims: Sequence[Any] | None = None,
    *,
    robustness_draws: int = 0,
    robustness_runs: int | None = None,
    level: float = 0.95,
) -> list[ClaimResult]:
    """Evaluate `claims` (default: all of the scenario's) with the runner's N and seed.

    Robustness: `robustness_draws` parameter draws (generator seeded by (seed, draw index)), each
    re-solved and simulated with `robustness_runs` runs (default N // 4, at least 1000).
    """
    scenario = runner.scenario
    claims = list(scenario.claims if claims is None else claims)
    out: list[ClaimResult] = []
    uncertain = bool(scenario.parameters_with_uncertainty()) if robustness_draws else False
    draws: list[ArmRunner] = []
    if robustness_draws and uncertain:
        r_runs = robustness_runs or max(1000, runner.runs // 4)
        for d in range(robustness_draws):
            rng = np.random.default_rng([runner.seed, d])
            sc_d = scenario.sample_parameters(rng)
            draws.append(
                ArmRunner(sc_d, runner.solve, r_runs, runner.seed, workers=runner.workers, chunk=runner.chunk)
            )
    for c in claims:
        t = runner.results(c.compare.treatment)
        b = runner.results(c.compare.baseline)
        est = paired_difference(t.metric_values(c.metric), b.metric_values(c.metric), level)
        rob = None
        if draws:
            held = 0
            for dr in draws:
                dt = dr.results(c.compare.treatment).metric_values(c.metric)
                db = dr.results(c.compare.baseline).metric_values(c.metric)
                held += _holds_point(float(dt.mean() - db.mean()), c.expect, c.margin)
            rob = held / len(draws)
        out.append(
            ClaimResult(
                id=c.id,
                label=c.label,
                seed_file=c.seed,
                quote=c.quote,
                metric=describe_metric(c.metric),
                expect=c.expect,
                margin=float(c.margin),
                treatment=describe_interventions(c.compare.treatment),
                baseline=describe_interventions(c.compare.baseline),
                estimate=est,
                verdict=verdict(est, c.expect, c.margin),
                robustness=rob,
                robustness_draws=len(draws),
            )
        )
    return out
