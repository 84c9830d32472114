"""Arms, paired comparisons and claim evaluation (estimate, CI, verdict, robustness).

An *arm* is the scenario under a list of interventions: `set` items change parameters (and force a
re-solve, since the strategies depend on them — except priors, which the solved policies take as
inputs), `force`/`forbid` items act inside the simulation. Both arms of a claim are simulated with
the same seed and run indices (common random numbers), and the verdict comes from the paired
difference's confidence interval.

Robustness: draw d samples every parameter with a stated uncertainty (`Scenario.sample_parameters`
with a generator keyed by (seed, d)), re-solves (reusing the compiled game when only λ, priors or
terminal payoffs changed, `crisislab.crisis._variants`), re-simulates both arms of every claim
with the draw's N, and judges the claim at that draw by its own paired interval (holds / fails /
undetermined). Per claim: the share of draws where it holds (Wilson interval), the share where it
fails, and the parameter whose sampled values rank-correlate most with the claim's difference
(Spearman). Draws are independent tasks, distributed like simulation chunks (`_run.map_tasks`);
the per-draw rows are kept (`robustness_table`) so a user can see which parameters flip a claim.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from crisislab import _progress
from crisislab.errors import UserError
from crisislab.crisis import Solution
from crisislab.model import lower
from crisislab.scenario import describe_interventions, describe_metric, rate_period
from crisislab.model.rules import DEFAULT_CHUNK
from crisislab.simulation import Policy, Results, as_policy, compile_arm, map_tasks, simulate_model, split_interventions
from crisislab.analysis._stats import PairedEstimate, paired_ratio_difference, verdict, wilson_interval

__all__ = [
    "DEFAULT_ROBUSTNESS_DRAWS",
    "POLICY_KINDS",
    "ArmRunner",
    "ClaimResult",
    "SolverChoice",
    "VERDICTS",
    "claim_degeneracy",
    "judge_claim",
    "describe_interventions",
    "evaluate_claims",
    "evaluate_claims_and_draws",
    "judge_claims",
    "make_runner",
    "robustness_table",
]

Solver = Callable[[Any], Policy]

PolicyKind = Literal["crisis", "myopic"]
POLICY_KINDS: tuple[str, ...] = ("crisis", "myopic")

# Parameter draws per robustness check by default: enough for a share with a usable interval
# (Wilson 95% half-width ≤ 0.3) while the flagship's `make run` stays around two minutes.
DEFAULT_ROBUSTNESS_DRAWS = 8


@dataclass(frozen=True)
class SolverChoice:
    """`solve(scenario) -> Policy` by name: `crisis` (the crisis engine's logit QRE on a `grid`-point
    belief grid) or `myopic` (the one-step-lookahead stand-in). Picklable, unlike a closure.

    `grid`: points per belief grid, or "auto" (`crisislab.crisis.auto_grid`: the finest grid within
    the solver's work budget). "auto" depends on the scenario it is given, so `ArmRunner` fixes it
    once from the scenario as written (`for_scenario`): every arm and robustness draw of a run is
    then solved on the same grid.

    `readout`: how the crisis policy reads strategies between belief nodes ("table", or "resolve":
    each move's stage re-solved at the run's beliefs; `crisislab.simulation.SolutionPolicy`).

    `selection`: which stage fixed point the crisis engine keeps where there are several
    (`crisislab.crisis.solve`'s `selection`: "continuation", the default, or "path", "trace", "fast").

    `prior_free`: both policies take beliefs as inputs (the crisis engine's strategy tables do not
    depend on the starting belief; the myopic policy ignores beliefs), so scenarios that differ only
    in priors share one solved policy when its belief grid is fixed (a number, or the grid "auto" is
    fixed to; a spec such as "cheb:9" or "adapt:51" places nodes at each scenario's own priors, so
    each is solved). The crisis solve goes through `compile_variant`, so a draw
    that changes only λ, priors or terminal payoffs is not recompiled.
    """

    kind: str = "crisis"
    grid: int | str = "auto"
    prior_free: bool = True
    readout: str = "table"
    selection: str = "continuation"

    def __post_init__(self) -> None:
        if self.kind not in POLICY_KINDS:
            raise UserError(f"policy: must be one of {', '.join(POLICY_KINDS)} (got {self.kind!r})")
        if self.readout not in ("table", "resolve"):
            raise UserError(f"readout: expected 'table' or 'resolve' (got {self.readout!r})")
        if self.readout != "table" and self.kind != "crisis":
            raise UserError(f"readout {self.readout!r}: only the crisis policy's strategies can be re-solved at a "
                            f"belief (policy {self.kind!r}); use the default readout 'table'")
        from crisislab.crisis import SELECTION_MODES

        if self.selection not in SELECTION_MODES:
            raise UserError(f"selection: expected one of {', '.join(SELECTION_MODES)} (got {self.selection!r})")
        if self.selection != "continuation" and self.kind != "crisis":
            raise UserError(f"selection {self.selection!r}: only the crisis engine chooses among stage fixed points "
                            f"(policy {self.kind!r}); use the default selection 'continuation'")

    def for_scenario(self, scenario: Any) -> SolverChoice:
        """This choice with an "auto" grid replaced by the grid `auto_grid` picks for `scenario`."""
        if self.kind != "crisis" or self.grid != "auto":
            return self
        from dataclasses import replace

        from crisislab.crisis import auto_grid
        from crisislab.crisis import compile_variant

        return replace(self, grid=auto_grid(compile_variant(lower(scenario))))

    def __call__(self, scenario: Any) -> Policy:
        return self.solve_timed(scenario)[0]

    def solve_timed(self, scenario: Any) -> tuple[Policy, dict[str, Any]]:
        """The policy, and what the solve reports: `compile_seconds` and `solve_seconds` (wall
        time; lowering counts as compiling), and for the crisis engine `solver_ok`,
        `max_residual` and `diagnostics` (`Solution.diagnostics` joined by "; ")."""
        import time

        t0 = time.perf_counter()
        if self.kind == "crisis":
            from crisislab.crisis import solve
            from crisislab.crisis import compile_variant
            from crisislab.simulation import SolutionPolicy

            game = compile_variant(lower(scenario))
            t1 = time.perf_counter()
            sol = solve(game, grid=self.grid, keep_values=self.readout == "resolve", selection=self.selection)
            t2 = time.perf_counter()
            info = {"compile_seconds": t1 - t0, "solve_seconds": t2 - t1, "solver_ok": bool(sol.ok),
                    "max_residual": float(sol.max_residual), "diagnostics": "; ".join(sol.diagnostics)}  # fmt: skip
            return SolutionPolicy(sol, scenario, self.readout), info
        from crisislab.simulation import MyopicLogitPolicy

        policy = MyopicLogitPolicy(scenario)
        return policy, {"compile_seconds": 0.0, "solve_seconds": time.perf_counter() - t0}


def _same_policy(a: Any, b: Any) -> bool:
    """Scenarios `a` and `b` differ at most in priors (true or perceived)."""
    from crisislab.crisis import policy_unchanged

    try:
        return policy_unchanged(lower(a), lower(b))
    except (ValueError, TypeError, KeyError):  # a scenario the crisis engine cannot represent
        return False


def _key(interventions: Sequence[Any]) -> str:
    return json.dumps([iv.model_dump(by_alias=True, exclude_none=True, mode="json") for iv in interventions], sort_keys=True)


def make_runner(
    scenario: Any,
    policy: Any = "crisis",
    grid: int | str = "auto",
    runs: int = 10_000,
    seed: int = 0,
    readout: str = "table",
    selection: str = "continuation",
    **kwargs: Any,
) -> ArmRunner:
    """An `ArmRunner` for `scenario` from a flexible `policy`: "crisis" or "myopic" (solved here,
    the crisis engine on `grid`), a function `solve(scenario) -> Policy`, or an already solved
    policy of the scenario as written — a crisis-engine `Solution` (what `crisislab.solve`
    returns; arms whose parameters differ are re-solved on the same grid) or any `Policy` (then
    arms with `set` interventions need a solver: pass a function instead). `readout`: how the
    crisis policy reads strategies between belief nodes ("table" or "resolve", `SolverChoice`; a
    `Solution` read by "resolve" must hold its values). `selection`: the crisis engine's stage
    fixed point (`SolverChoice`); arms re-solved for a `Solution` use the selection it was solved
    with. `kwargs` go to `ArmRunner` (workers, chunk,
    progress, scheduler)."""
    if isinstance(policy, str):
        return ArmRunner(scenario, SolverChoice(policy, grid, readout=readout, selection=selection), runs, seed, **kwargs)
    if isinstance(policy, Solution):
        own = str(policy.params.get("selection", "continuation"))
        if selection not in ("continuation", own):
            raise UserError(f"selection {selection!r}: the solution was solved with selection {own!r}, and arms that "
                            "change the game are re-solved with it; solve with the selection wanted instead")
        return ArmRunner(scenario, SolverChoice("crisis", policy.belief_grid, readout=readout, selection=own), runs, seed,
                         base_policy=as_policy(policy, scenario, readout=readout), **kwargs)  # fmt: skip
    if readout != "table":
        raise UserError(f"readout {readout!r}: only the crisis policy's strategies can be re-solved at a belief; "
                        "use the default readout 'table' with this policy")
    if selection != "continuation":
        raise UserError(f"selection {selection!r}: only the crisis engine chooses among stage fixed points; "
                        "use the default selection 'continuation' with this policy")
    if callable(getattr(policy, "strategy", None)):  # a Policy of the scenario as written
        def cannot_resolve(_scn: Any) -> Policy:
            raise UserError("a `set` intervention changes the game, so it needs a solver: pass policy='crisis' "
                            "or a function solve(scenario) -> Policy instead of a solved policy")  # fmt: skip

        return ArmRunner(scenario, cannot_resolve, runs, seed, base_policy=policy, **kwargs)
    if callable(policy):
        return ArmRunner(scenario, policy, runs, seed, **kwargs)
    raise UserError(f"policy: expected 'crisis', 'myopic', a Solution, a Policy or a function scenario -> Policy (got {policy!r})")


class ArmRunner:
    """Simulates arms of one scenario with one seed, caching solved policies and results per arm.

    `solve(scenario) -> Policy` is called once per distinct set of parameter overrides (once in all
    for overrides of priors only, when `solve.prior_free` is true); a `SolverChoice` with an "auto"
    grid gets its grid here, from `scenario`, once for all arms. `workers` and `scheduler`
    distribute simulation chunks and robustness draws (`_run.map_tasks`); results do not depend
    on them.
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
        scheduler: str | None = None,
    ):
        if isinstance(solve, SolverChoice):
            solve = solve.for_scenario(scenario)
        self.scenario, self.solve, self.runs, self.seed = scenario, solve, runs, seed
        self.workers, self.chunk, self.progress, self.scheduler = workers, chunk, progress, scheduler
        self._policies: dict[str, tuple[Any, Any, Policy]] = {}
        if base_policy is not None:
            self._policies["{}"] = (scenario, lower(scenario), base_policy)
        self._results: dict[str, Results] = {}
        # one entry per solve this runner made (`SolverChoice.solve_timed`'s report; timing only
        # for other solvers), in the order the solves happened
        self.solves: list[dict[str, Any]] = []

    @property
    def provenance(self) -> dict[str, Any]:
        """What a results file records about how it was made, beyond scenario, seed and runs."""
        solve = self.solve
        out = {"policy": getattr(solve, "kind", None) or getattr(solve, "name", None) or type(solve).__name__,
               "grid": getattr(solve, "grid", None)}
        readout = getattr(solve, "readout", "table")
        if readout != "table":  # files read from the node table (the default) carry no key, as before it existed
            out["readout"] = readout
        selection = getattr(solve, "selection", "continuation")
        if selection != "continuation":  # likewise: only a non-default selection is recorded
            out["selection"] = selection
        return out

    @property
    def policy(self) -> Policy:
        """The policy of the scenario as written (solved on first use)."""
        return self.solved({})[2]

    def solved(self, overrides: dict[str, Any]) -> tuple[Any, Any, Policy]:
        k = json.dumps({p: (v.model_dump(mode="json") if hasattr(v, "model_dump") else v) for p, v in overrides.items()}, sort_keys=True)
        hit = self._policies.get(k)
        if hit is None:
            sc = self.scenario.with_overrides(overrides) if overrides else self.scenario
            policy = None
            # A representation named by a spec ("cheb:9", "adapt:51") places its nodes at each scenario's
            # priors: only a fixed grid (a number, or the BeliefGrid "auto" was fixed to) is shared.
            fixed = getattr(self.solve, "kind", None) != "crisis" or not isinstance(getattr(self.solve, "grid", None), str)
            if getattr(self.solve, "prior_free", False) and fixed:
                policy = next((p for s0, _, p in self._policies.values() if _same_policy(s0, sc)), None)
            if policy is None:
                policy = self._solve(sc)
            hit = (sc, lower(sc), policy)
            self._policies[k] = hit
        return hit

    def _solve(self, scenario: Any) -> Policy:
        import time

        timed = getattr(self.solve, "solve_timed", None)
        if timed is not None:
            policy, info = timed(scenario)
        else:
            t0 = time.perf_counter()
            policy = self.solve(scenario)
            info = {"compile_seconds": 0.0, "solve_seconds": time.perf_counter() - t0}
        self.solves.append(info)
        return policy

    def results(self, interventions: Sequence[Any], paths: bool = False) -> Results:
        k = _key(interventions)
        hit = self._results.get(k)
        if hit is None or (paths and hit.paths is None):
            overrides, rest = split_interventions(interventions)
            sc, spec, policy = self.solved(overrides)
            arm = compile_arm(spec, sc, rest)
            hit = simulate_model(
                spec,
                policy,
                self.runs,
                self.seed,
                arm,
                workers=self.workers,
                chunk=self.chunk,
                scheduler=self.scheduler,
                paths=paths,
                progress=self.progress,
                interventions=(describe_interventions(interventions),),
                label=f"arm: {describe_interventions(interventions)[:40]}",
            )
            self._results[k] = hit
        return hit


VERDICTS: tuple[str, ...] = ("holds", "fails", "undetermined", "cannot fail")


def _metric_bounds(metric: Any, spec: Any) -> tuple[float, float]:
    """The smallest and largest value the metric can take in any arm (per run and per arm)."""
    kind = metric.kind
    if kind == "mean_audience_cost":
        j = list(spec.actors).index(metric.target)
        costs = np.concatenate([np.ravel(rl.audience_cost) for rl in spec.red_lines if rl.owner == j] or [np.zeros(1)])
        return (0.0 if (costs >= 0).all() else -np.inf), (0.0 if (costs <= 0).all() else np.inf)
    if getattr(metric, "per_round", False):
        return 0.0, (1.0 if kind == "outcome_probability" else np.inf)
    if kind in ("outcome_probability", "action_probability"):
        return 0.0, 1.0
    if kind == "mean_end_round":
        return 1.0, float(spec.horizon)
    return 0.0, np.inf


def claim_degeneracy(claim: Any, treatment: Results, baseline: Results, scenario: Any = None) -> tuple[str | None, bool]:
    """Whether a claim's comparison is degenerate, and whether it is settled by how the claim is
    written: (why, or None; whether it could not have failed).

    Degenerate: in an arm the metric is the same number in every run where it is defined (e.g.
    the probability of an action the treatment forces is identically 1, or a baseline that is
    exactly 0 because it forbids what the metric counts), it is defined in no run (a window whose
    trigger the arm never chooses), or (with `scenario`) the arm's forbids make it identically 0
    by the scenario's structure (`crisislab.scenario.metric_never`). Could not have failed: such
    a constant sits at the end of the metric's range on the claimed side (expect higher: baseline
    at its minimum or treatment at its maximum; expect lower: the reverse), so no value of the
    other arm contradicts the claim, and it comes from how the claim is written: the structure
    proves it, or the arm forces or forbids actions. A constant in an arm of the scenario as
    written or with `set` changes only is a result of the model: flagged, not settled.
    """
    from crisislab.scenario import metric_never

    metric, expect = claim.metric, claim.expect
    lo, hi = _metric_bounds(metric, treatment.spec)
    reasons, settled = [], False
    for arm, res in (("treatment", treatment), ("baseline", baseline)):
        ivs = getattr(claim.compare, arm)
        static = metric_never(scenario, metric, ivs) if scenario is not None else None
        v = res.metric_values(metric)
        ok = ~np.isnan(v)
        if static is not None:
            reasons.append(f"in the {arm} arm {static}")
        if not ok.any():
            if static is None:
                reasons.append(f"the metric is undefined in every run of the {arm} arm")
            continue
        x = v[ok]
        if np.ptp(x) != 0:
            continue
        c = float(x[0])
        written = static is not None or any(hasattr(iv, "force") or hasattr(iv, "forbid") for iv in ivs)
        where = "" if ok.all() else f" where it is defined ({int(ok.sum())} runs)"
        cause = "" if written else " (a result of the model, not of the arm's interventions)"
        reasons.append(f"the metric is {c:g} in every run of the {arm} arm{where}{cause}")
        if not written:
            continue
        floor, ceiling = c <= lo, c >= hi
        if expect == "higher":
            settled |= (arm == "baseline" and floor) or (arm == "treatment" and ceiling)
        else:
            settled |= (arm == "baseline" and ceiling) or (arm == "treatment" and floor)
    return ("; ".join(reasons) or None), settled


def judge_claim(
    claim: Any, treatment: Results, baseline: Results, level: float, scenario: Any = None
) -> tuple[PairedEstimate, str, str | None]:
    """(paired estimate, verdict, why the claim is degenerate or None) of one claim on its two
    simulated arms. The verdict is the interval's (`_stats.verdict`), except "cannot fail" for a
    claim settled by how it is written (`claim_degeneracy`) that did not fail."""
    m = claim.metric
    est = paired_ratio_difference(*treatment.metric_parts(m), *baseline.metric_parts(m), level)
    v = verdict(est, claim.expect, claim.margin)
    why, settled = claim_degeneracy(claim, treatment, baseline, scenario)
    if settled and v != "fails":
        v = "cannot fail"
    return est, v, why


@dataclass(frozen=True)
class ClaimResult:
    """One evaluated claim.

    Robustness fields are None when no draws were made (`--robustness 0`, or nothing in the
    scenario states an uncertainty): `robustness` is the share of draws in which the claim holds
    at the draw's N (`robustness_low`/`robustness_high`: Wilson interval at the same level),
    `robustness_fails` the share in which it fails, `robustness_cannot_fail` the share in which it
    is settled by how it is written (verdict "cannot fail"); `influential` is the sampled parameter whose
    values rank-correlate most with the claim's difference across draws (`influential_rho`:
    Spearman's ρ). `draws`: the per-draw rows (see `robustness_table`).

    `verdict`: one of `VERDICTS` — holds, fails or undetermined from the paired interval, or
    "cannot fail" when the comparison is settled by how the claim is written (`claim_degeneracy`);
    `degenerate` says why a claim is degenerate (None when it is not), whatever its verdict.
    """

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
    robustness_low: float | None = None
    robustness_high: float | None = None
    robustness_fails: float | None = None
    robustness_cannot_fail: float | None = None
    influential: str | None = None
    influential_rho: float | None = None
    draws: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    degenerate: str | None = None

    def _repr_html_(self) -> str:
        from html import escape

        e = self.estimate
        rob = "" if self.robustness is None else f"; holds in {self.robustness:.0%} of {self.robustness_draws} parameter draws"
        quote = f"<br><q>{escape(self.quote)}</q> ({escape(self.seed_file or '')})" if self.quote else ""
        return (f"<div><b>{escape(self.id)}</b>: {escape(self.metric)} expected {self.expect}{quote}<br>"
                f"treatment ({escape(self.treatment)}) {e.treatment:.4f} − baseline ({escape(self.baseline)}) "
                f"{e.baseline:.4f} = <b>{e.diff:+.4f}</b> [{e.ci_low:+.4f}, {e.ci_high:+.4f}] ({e.level:.0%}, n = {e.n}): "
                f"<b>{self.verdict}</b>{rob}</div>")  # fmt: skip

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
            "defined_treatment": e.n_treatment,
            "defined_baseline": e.n_baseline,
            "verdict": self.verdict,
            "degenerate": self.degenerate,
            "robustness": self.robustness,
            "robustness_low": self.robustness_low,
            "robustness_high": self.robustness_high,
            "robustness_fails": self.robustness_fails,
            "robustness_cannot_fail": self.robustness_cannot_fail,
            "robustness_draws": self.robustness_draws,
            "influential": self.influential,
            "influential_rho": self.influential_rho,
        }


def robustness_table(results: Sequence[ClaimResult]) -> pd.DataFrame:
    """The per-draw rows of every claim, one row per (claim, draw): `claim`, `draw`, `seed`, one
    column per sampled parameter (its field path; the value the draw used, priors renormalised),
    then `treatment`, `baseline`, `difference`, `ci_low`, `ci_high`, `n`, `verdict`. Empty when no
    draws were made."""
    frames = [r.draws for r in results if r.draws is not None]
    if not frames:
        return pd.DataFrame(columns=["claim", "draw", "seed", *_DRAW_COLUMNS])
    return pd.concat(frames, ignore_index=True)


_DRAW_COLUMNS = ("treatment", "baseline", "difference", "ci_low", "ci_high", "n", "verdict")


def _param_value(scenario: Any, path: str) -> float:
    from crisislab.scenario import resolve_param_path

    v = resolve_param_path(scenario, path)
    return float(v["value"] if isinstance(v, dict) else v)


def _cores() -> int:
    """CPUs this process may run on (the affinity set, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _draw_task(job: dict[str, Any], d: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Draw `d`: sample, re-solve, simulate every claim's arms with the draw's N, judge each claim;
    also the outcome shares of the scenario as written at this draw. Returns (one row per claim,
    one row of outcome shares). Runs in a worker (`map_tasks`); its own simulations stay in that
    worker (workers = 1)."""
    if job["threads"]:
        import numba

        # Parallel draws share the cores: each solves with its share of numba's threads (numba
        # refuses more than it was started with, e.g. under a restricted CPU set).
        numba.set_num_threads(max(1, min(job["threads"], numba.config.NUMBA_NUM_THREADS)))
    rng = np.random.default_rng([job["seed"], d])
    sc_d = job["scenario"].sample_parameters(rng, job.get("only_estimated", False))
    values = {p: _param_value(sc_d, p) for p in job["params"]}
    runner = ArmRunner(sc_d, job["solve"], job["runs"], job["seed"], chunk=job["chunk"])
    rows = [{"claim": cid, "draw": d, "seed": job["seed"], **values, **row}
            for cid, row in judge_claims(runner, job["claims"], job["level"]).items()]  # fmt: skip
    base = runner.results([])
    counts = base.outcome_counts()
    shares = {"draw": d, "seed": job["seed"], "n": base.n_runs, **values,
              **{f"P({k})": int(v) / base.n_runs for k, v in counts.items()}}  # fmt: skip
    return rows, shares


def judge_claims(runner: ArmRunner, claims: Sequence[Any], level: float) -> dict[str, dict[str, Any]]:
    """Each claim's two arms simulated by `runner` (common random numbers), judged by their paired
    interval: claim id -> `treatment`, `baseline`, `difference`, `ci_low`, `ci_high`, `n`,
    `verdict`. One parameter draw of a robustness check or a sweep is judged with this."""
    out = {}
    for c in claims:
        est, v, _why = judge_claim(c, runner.results(c.compare.treatment), runner.results(c.compare.baseline), level,
                                  runner.scenario)
        out[c.id] = {"treatment": est.treatment, "baseline": est.baseline, "difference": est.diff,
                     "ci_low": est.ci_low, "ci_high": est.ci_high, "n": est.n, "verdict": v}  # fmt: skip
    return out


def _influential(draws: pd.DataFrame, params: Sequence[str]) -> tuple[str | None, float | None]:
    """The parameter with the largest |Spearman ρ| against the difference (None if undefined:
    fewer than 3 draws, or the difference or every parameter constant)."""
    from scipy.stats import spearmanr

    diff = draws["difference"].to_numpy(dtype=np.float64)
    if diff.size < 3 or np.ptp(diff) == 0.0:
        return None, None
    best: tuple[str | None, float | None] = (None, None)
    for p in params:
        x = draws[p].to_numpy(dtype=np.float64)
        if np.ptp(x) == 0.0:  # spearmanr is undefined (and warns) on a constant input
            continue
        rho = float(spearmanr(x, diff).statistic)
        if np.isfinite(rho) and (best[1] is None or abs(rho) > abs(best[1])):
            best = (p, rho)
    return best


def evaluate_claims(
    runner: ArmRunner | Any,
    claims: Sequence[Any] | None = None,
    *,
    robustness: int = DEFAULT_ROBUSTNESS_DRAWS,
    robustness_runs: int | None = None,
    level: float = 0.95,
    runs: int = 10_000,
    seed: int = 0,
    policy: Any = "crisis",
    grid: int | str = "auto",
    workers: int = 1,
    scheduler: str | None = None,
    uncertain: Literal["all", "estimated"] = "all",
    readout: str = "table",
    selection: str = "continuation",
) -> list[ClaimResult]:
    """Evaluate `claims` (default: all of the scenario's): each claim's two arms simulated with the
    same seed and run indices, the paired difference of its metric with a `level` interval, and
    the verdict that interval gives.

    `runner`: an `ArmRunner` (its scenario, solver, runs, seed and workers are used), or a
    `Scenario`, for which one is made from `runs`, `seed`, `policy` (as `make_runner`: "crisis",
    "myopic", a solved `Solution` or `Policy`, or a solver function), `grid`, `workers` and
    `scheduler`, `readout` and `selection` (all ignored when a runner is given).
    Robustness: `robustness` parameter draws (default 8, as `crisislab claims --robustness`; 0 turns
    it off) from the scenario's stated uncertainty
    (generator seeded by (seed, draw index)), each re-solved and simulated with `robustness_runs`
    runs per arm (default runs // 4, at least 1000) and judged by its own paired interval; draws
    run on the runner's workers / scheduler. `uncertain="estimated"` draws only the parameters
    estimated from a record (their intervals), so the verdicts carry the estimation's uncertainty.
    """
    return evaluate_claims_and_draws(runner, claims, robustness=robustness, robustness_runs=robustness_runs, level=level,
                                     runs=runs, seed=seed, policy=policy, grid=grid, workers=workers, scheduler=scheduler,
                                     uncertain=uncertain, readout=readout, selection=selection)[0]  # fmt: skip


def evaluate_claims_and_draws(
    runner: ArmRunner | Any,
    claims: Sequence[Any] | None = None,
    *,
    robustness: int = DEFAULT_ROBUSTNESS_DRAWS,
    robustness_runs: int | None = None,
    level: float = 0.95,
    runs: int = 10_000,
    seed: int = 0,
    policy: Any = "crisis",
    grid: int | str = "auto",
    workers: int = 1,
    scheduler: str | None = None,
    uncertain: Literal["all", "estimated"] = "all",
    readout: str = "table",
    selection: str = "continuation",
) -> tuple[list[ClaimResult], pd.DataFrame]:
    """`evaluate_claims`, and the outcome shares of the scenario as written at each robustness
    draw: one row per draw (`draw`, `seed`, `n` runs, one column per sampled parameter, then
    `P(outcome)` per outcome); empty when no draws were made. `uncertain`: which parameters the
    draws vary: "all" that state an `uncertainty`, or "estimated" (only those estimated from a
    record, over their interval: the verdicts' sensitivity to what the record leaves open).
    """
    if not isinstance(runner, ArmRunner):
        runner = make_runner(runner, policy, grid, runs, seed, readout=readout, selection=selection, workers=workers,
                             scheduler=scheduler)
    if int(robustness) < 0:
        raise UserError(f"robustness: must be an integer >= 0 parameter draws (0 turns robustness off; got {robustness})")
    if robustness_runs is not None and int(robustness_runs) < 2:
        raise UserError(f"robustness_runs: must be an integer >= 2 runs per draw (got {robustness_runs})")
    scenario = runner.scenario
    claims = list(scenario.claims if claims is None else claims)
    if uncertain not in ("all", "estimated"):
        raise UserError(f"uncertain: expected 'all' or 'estimated' (got {uncertain!r})")
    only = uncertain == "estimated"
    # A parameter tied to an estimated one (`estimated.tied_to`) is drawn with it: not a parameter of its own.
    params = [p for p, prm in scenario.parameters_with_uncertainty()
              if (not only or prm.estimated is not None) and getattr(prm.estimated, "tied_to", None) is None] if robustness else []
    if robustness and only and not params:
        raise UserError(f"{scenario.id}: no parameter is estimated from a record with an interval; run `crisislab estimate "
                        "--out` first, or draw every uncertain parameter (robustness of 'all')")
    with _progress.shown(runner.progress):
        return _evaluate(runner, scenario, claims, params, robustness, robustness_runs, level, only)


def _evaluate(
    runner: ArmRunner, scenario: Any, claims: list[Any], params: list[str], robustness: int, robustness_runs: int | None,
    level: float, only_estimated: bool = False,
) -> tuple[list[ClaimResult], pd.DataFrame]:  # fmt: skip
    by_claim: dict[str, pd.DataFrame] = {}
    outcome_draws = pd.DataFrame()
    if robustness and params:
        job = {
            "scenario": scenario, "solve": runner.solve, "seed": runner.seed, "chunk": runner.chunk,
            "runs": int(robustness_runs or max(1000, runner.runs // 4)), "claims": claims,
            "params": params, "level": level, "only_estimated": only_estimated,
            "threads": max(1, _cores() // runner.workers) if runner.workers > 1 and runner.scheduler is None else 0,
        }  # fmt: skip
        per_draw = map_tasks(
            _draw_task, range(int(robustness)), job, workers=runner.workers, scheduler=runner.scheduler,
            progress=runner.progress, label="robustness draws", start="spawn",
        )  # fmt: skip
        table = pd.DataFrame([row for rows, _ in per_draw for row in rows])
        outcome_draws = pd.DataFrame([shares for _, shares in per_draw]).fillna(0.0)
        if len(table):
            by_claim = {cid: g.reset_index(drop=True) for cid, g in table.groupby("claim", sort=False)}
    out: list[ClaimResult] = []
    # One bar for the arms of every claim (their chunks), not one per arm.
    with _progress.phase(f"simulating the arms of {len(claims)} claim{'s' if len(claims) != 1 else ''} (chunks)"):
        for c in claims:
            runner.results(c.compare.treatment)
            runner.results(c.compare.baseline)
    for c in claims:
        t = runner.results(c.compare.treatment)
        b = runner.results(c.compare.baseline)
        est, v, why = judge_claim(c, t, b, level, scenario)
        rob: dict[str, Any] = {"robustness": None, "robustness_draws": 0}
        draws = by_claim.get(c.id)
        if draws is not None:
            k = len(draws)
            held = int((draws["verdict"] == "holds").sum())
            lo, hi = wilson_interval(held, k, level)
            name, rho = _influential(draws, params)
            rob = {
                "robustness": held / k, "robustness_draws": k, "robustness_low": float(lo), "robustness_high": float(hi),
                "robustness_fails": int((draws["verdict"] == "fails").sum()) / k,
                "robustness_cannot_fail": int((draws["verdict"] == "cannot fail").sum()) / k,
                "influential": name, "influential_rho": rho, "draws": draws,
            }  # fmt: skip
        out.append(
            ClaimResult(
                id=c.id,
                label=c.label,
                seed_file=c.seed,
                quote=c.quote,
                metric=describe_metric(c.metric, rate_period(scenario)),
                expect=c.expect,
                margin=float(c.margin),
                treatment=describe_interventions(c.compare.treatment),
                baseline=describe_interventions(c.compare.baseline),
                estimate=est,
                verdict=v,
                degenerate=why,
                **rob,
            )
        )
    return out, outcome_draws
