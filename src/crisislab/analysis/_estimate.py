"""Maximum-likelihood estimation of a scenario's parameters from observed records.

The objective is the exact log-likelihood of the records (`_filter.forward`), summed over records
of the same scenario, as a function of the chosen parameters (any path `--set` accepts; by default
those the scenario states an `uncertainty` for). Each evaluation re-solves the scenario at the
parameters (a change of priors alone needs no re-solve: the crisis engine's strategy tables take
beliefs as inputs; a change of λ or payoffs reuses the compiled game, `compile_variant`).

- **Optimiser**: L-BFGS-B (scipy) on parameters scaled to their range (the `uncertainty`'s support
  where it is bounded; its scale otherwise), gradients by finite differences, started at the
  scenario's values.
- **Standard errors**: the inverse of the observed information, a central-difference Hessian of
  the log-likelihood at the optimum. Wald intervals `estimate ± z·se`. A parameter is flagged
  *not identified* when the information is singular along it (an eigenvalue below 1e-8 of the
  largest, or a flat profile), *boundary* when the estimate sits on its range's bound (its Wald
  interval then means little: ask for the profile).
- **Profile-likelihood intervals** (`profile`): for each named parameter, the values where
  `2 (L̂ - max_others L) = χ²₁(level)`, found by root finding on either side.
- **Likelihood-ratio tests** (`restrict`): the model refitted with the named parameters fixed,
  `LR = 2 (L̂ - L_restricted)` against χ² with as many degrees of freedom as restrictions.
- **AIC / BIC** with n = the records' observed moves.
- **Parametric bootstrap** (`bootstrap` B): B sets of records simulated from the fitted model
  (each as long as the observed one, observed the same way), each refitted; percentile intervals.
  Draws run on Dask (`workers`, `scheduler`); each draw's random numbers depend only on (seed,
  draw index).
- **Out of sample** (`fit_until`): fitted on the records up to that date (or round); the
  one-step-ahead scores of the model and the baselines on what follows (`_scores`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crisislab.analysis._filter import forward, sample_records
from crisislab.analysis._record import Record, observe, until_round
from crisislab.analysis._replay import DEFAULT_BELIEF_TOL, load_record, replay_record
from crisislab.errors import SolverError, UserError
from crisislab.model import lower

__all__ = ["Estimation", "ParamEstimate", "estimate", "free_parameters"]

_PRIOR_SEGMENTS = ("prior",)


@dataclass(frozen=True)
class ParamEstimate:
    """One estimated parameter: `path`, `estimate`, `se` (NaN when not available), the Wald
    interval `ci_low`/`ci_high`, its range `lower`/`upper`, the profile interval when asked
    (`profile_low`/`profile_high`, NaN otherwise), the bootstrap percentile interval when asked,
    and `flag`: "" , "boundary" or "not identified" (with `note` saying why)."""

    path: str
    start: float
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    lower: float
    upper: float
    profile_low: float = float("nan")
    profile_high: float = float("nan")
    boot_low: float = float("nan")
    boot_high: float = float("nan")
    flag: str = ""
    note: str = ""


@dataclass(frozen=True)
class Estimation:
    """The result of `estimate` (module docstring). `params` in the order asked; `cov` the
    covariance matrix (inverse observed information; NaN rows for parameters it cannot give);
    `tests`: likelihood-ratio tests (restriction, loglik_restricted, lr, df, p_value); `bootstrap`:
    one row per draw and parameter (draw, path, estimate) or None; `scores`: the one-step-ahead
    scores at the estimate (`fit_until`: in and out of sample); `scenario`: the scenario with the
    estimates in place (`Scenario`, each estimated parameter marked with its records)."""

    scenario_id: str
    records: tuple[str, ...]
    params: tuple[ParamEstimate, ...]
    loglik: float
    start_loglik: float
    converged: bool
    message: str
    n_moves: int
    aic: float
    bic: float
    cov: np.ndarray
    n_evaluations: int
    n_solves: int
    seconds: float
    level: float
    tests: pd.DataFrame
    bootstrap: pd.DataFrame | None
    scores: pd.DataFrame | None
    fit_until: int | None
    scenario: Any = field(default=None, compare=False, repr=False)
    ties: dict[str, str] = field(default_factory=dict)
    profiles: pd.DataFrame | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            x = float(x)
            return x if math.isfinite(x) else None  # strict JSON, as `crisislab._json` writes it

        return {
            "scenario": self.scenario_id,
            "records": list(self.records),
            "loglik": num(self.loglik),
            "start_loglik": num(self.start_loglik),
            "converged": self.converged,
            "message": self.message,
            "n_moves": self.n_moves,
            "aic": num(self.aic),
            "bic": num(self.bic),
            "level": self.level,
            "evaluations": self.n_evaluations,
            "solves": self.n_solves,
            "seconds": self.seconds,
            "fit_until_round": self.fit_until,
            "ties": dict(self.ties),
            "profile_grid": None if self.profiles is None else [
                {"path": r["path"], "value": r["value"], "loglik": num(r["loglik"]), "converged": r["converged"],
                 "at": {k: num(v) for k, v in r["at"].items()}} for r in self.profiles.to_dict("records")],
            "profile_grid_intervals": None if self.profiles is None else {
                p: [num(v) for v in self.profile_grid_interval(p)] for p in dict.fromkeys(self.profiles["path"])},
            "params": {p.path: {"estimate": num(p.estimate), "se": num(p.se), "ci_low": num(p.ci_low), "ci_high": num(p.ci_high),
                                "start": num(p.start), "lower": num(p.lower), "upper": num(p.upper),
                                "profile_low": num(p.profile_low), "profile_high": num(p.profile_high),
                                "bootstrap_low": num(p.boot_low), "bootstrap_high": num(p.boot_high),
                                "flag": p.flag or None, "note": p.note or None} for p in self.params},
            "covariance": [[num(v) for v in row] for row in self.cov],
            "tests": [{k: (num(v) if isinstance(v, float) else v) for k, v in r.items()} for r in self.tests.to_dict("records")],
            "scores": None if self.scores is None else [{k: (num(v) if isinstance(v, float) else v) for k, v in r.items()}
                                                        for r in self.scores.to_dict("records")],
        }

    def profile_grid_interval(self, path: str) -> tuple[float, float]:
        """The `level` interval of `path` from its profile table (`grid_profile_interval`, against the
        larger of the fit's log-likelihood and the table's best)."""
        if self.profiles is None or path not in set(self.profiles["path"]):
            raise UserError(f"profile_grid_interval: {path} has no profile table (ask for it with profile_grid={{{path!r}: [...]}})")
        best = max(self.loglik, float(self.profiles.loc[self.profiles["path"] == path, "loglik"].max()))
        return grid_profile_interval(self.profiles, path, best, self.level)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([p.__dict__ for p in self.params])

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{p.path}</td><td>{p.estimate:.4g}</td><td>{p.se:.3g}</td><td>[{p.ci_low:.4g}, {p.ci_high:.4g}]</td>"
                       f"<td>{p.flag}</td></tr>" for p in self.params)
        return (f"<div><b>Estimation</b> of {self.scenario_id} on {', '.join(self.records)}: log-likelihood {self.loglik:.3f} "
                f"(start {self.start_loglik:.3f}), {'converged' if self.converged else 'NOT converged: ' + self.message}; "
                f"AIC {self.aic:.2f}, BIC {self.bic:.2f}<table><tr><th>parameter</th><th>estimate</th><th>se</th>"
                f"<th>{self.level:.0%} interval</th><th>flag</th></tr>{rows}</table></div>")


def free_parameters(scenario: Any, free: Iterable[str] | None) -> list[tuple[str, float, float, float]]:
    """(path, value, lower, upper) of the parameters to estimate: `free` (paths, each `PATH` or
    `PATH=LO:HI`; the range is LO…HI, else the parameter's `uncertainty`'s support when it states
    one, else unbounded; always within the parameter's natural domain) or, by default, every
    parameter with an `uncertainty`. UserError for a path that is not a numeric parameter."""
    from crisislab.scenario import PathError, resolve_param_path

    stated = {p: par for p, par in scenario.parameters_with_uncertainty()}
    ranges: dict[str, tuple[float, float]] = {}
    items = list(stated) if free is None else list(dict.fromkeys(free))
    paths = []
    for item in items:
        path, sep, rng = str(item).partition("=")
        if sep:
            lo_s, colon, hi_s = rng.partition(":")
            try:
                if not colon:
                    raise ValueError
                ranges[path] = (float(lo_s), float(hi_s))
            except ValueError:
                raise UserError(f"--free {item}: expected PATH or PATH=LO:HI (got {item!r})") from None
            if not ranges[path][0] < ranges[path][1]:
                raise UserError(f"--free {item}: the range needs LO < HI (got {lo_s}:{hi_s})")
        paths.append(path)
    if not paths:
        raise UserError(f"estimate: scenario {scenario.id} states no parameter with an `uncertainty`; name the parameters "
                        "to estimate (--free PATH)")
    out = []
    for path in paths:
        try:
            raw = resolve_param_path(scenario, path)
        except PathError as exc:
            raise UserError(f"--free {path}: {exc} (expected {exc.expected})") from None
        value = float(raw["value"] if isinstance(raw, dict) else raw)
        lo, hi = (-math.inf, math.inf)
        if path in ranges:
            lo, hi = ranges[path]
        elif path in stated:
            lo, hi = stated[path].uncertainty.support()
        elif isinstance(raw, dict) and raw.get("uncertainty"):
            from crisislab.scenario import Uncertainty

            lo, hi = Uncertainty.model_validate(raw["uncertainty"]).support()
        nlo, nhi = _natural_bounds(path)
        lo, hi = max(lo, nlo), min(hi, nhi)
        if not lo <= value <= hi:
            raise UserError(f"--free {path}: its value {value:g} lies outside its range [{lo:g}, {hi:g}]")
        out.append((path, value, float(lo), float(hi)))
    return out


def _natural_bounds(path: str) -> tuple[float, float]:
    """The values a parameter can take by its kind (λ and dispersions positive; probabilities,
    priors and the discount in (0, 1))."""
    last = path.split(".")[-1]
    segs = path.split(".")
    if _is_prior(path):
        return 1e-6, 1 - 1e-6
    if last in ("lam", "dispersion", "mean"):
        return (1e-3 if last != "mean" else 0.0), math.inf
    if last in ("probability", "attribution") or "table" in segs:
        return 0.0, 1.0
    if last == "discount" or segs[-2:] == ["discount", "value"]:
        return 1e-6, 1.0
    return -math.inf, math.inf


class _Objective:
    """log L(θ) of the records, with the solves cached by the parameters other than priors."""

    def __init__(self, scenario: Any, records: Sequence[Record], params: Sequence[tuple[str, float, float, float]],
                 grid: Any, belief_tol: float, fixed: Mapping[str, float] | None = None,
                 ties: Mapping[str, str] | None = None):
        from crisislab.analysis._claims import SolverChoice

        self.scenario = scenario
        self.records = list(records)
        self.paths = [p for p, *_ in params]
        self.fixed = dict(fixed or {})
        self.ties = dict(ties or {})
        self.solver = SolverChoice("crisis", grid).for_scenario(scenario)
        self.belief_tol = belief_tol
        self.cache: dict[tuple, Any] = {}
        self.evals = 0
        self.solves = 0
        self.values: dict[tuple, float] = {}
        self.impossible: str | None = None  # the first record and move the model ruled out

    def scenario_at(self, theta: np.ndarray) -> Any:
        over = {p: float(v) for p, v in zip(self.paths, theta, strict=True)}
        over.update(self.fixed)
        over = _with_ties(over, self.ties)
        return self.scenario.with_overrides(over) if over else self.scenario

    def policy(self, scn: Any, theta: np.ndarray) -> Any:
        key = tuple(round(float(v), 12) for p, v in zip(self.paths, theta, strict=True) if not _is_prior(p))
        key += tuple(sorted((p, v) for p, v in self.fixed.items() if not _is_prior(p)))
        if key not in self.cache:
            if len(self.cache) > 8:
                self.cache.pop(next(iter(self.cache)))
            self.cache[key] = self.solver(scn)
            self.solves += 1
        return self.cache[key]

    def __call__(self, theta: np.ndarray) -> float:
        key = tuple(float(v) for v in theta)
        if key in self.values:
            return self.values[key]
        self.evals += 1
        try:
            scn = self.scenario_at(theta)
        except UserError:
            return -math.inf
        pol = self.policy(scn, theta)
        model = lower(scn)
        ll = 0.0
        for rec in self.records:
            res = forward(model, pol, rec, belief_tol=self.belief_tol)
            ll += float(res.loglik)
            if res.impossible is not None and self.impossible is None:
                r, mi, lines = res.impossible
                where = f"lines {', '.join(map(str, lines))}" if lines else "no event: the default move"
                self.impossible = f"{rec.source}: round {r}, move of {model.movers[mi].id} ({where})"
        self.values[key] = ll
        return ll


def _with_ties(over: dict[str, float], ties: Mapping[str, str]) -> dict[str, float]:
    """`over` with each tied parameter set to the value of the one it is tied to."""
    out = dict(over)
    for follower, leader in ties.items():
        if leader in out:
            out[follower] = out[leader]
    return out


def _check_ties(scenario: Any, ties: Mapping[str, str], params: Sequence[tuple[str, float, float, float]]) -> dict[str, str]:
    """The ties (follower → leader) checked: each leader is estimated, each follower is a numeric
    parameter that is not itself estimated, not a prior, and not tied twice. UserError otherwise."""
    from crisislab.scenario import PathError, resolve_param_path

    free = [p for p, *_ in params]
    out: dict[str, str] = {}
    for follower, leader in ties.items():
        what = f"--tie {follower}={leader}"
        if leader not in free:
            raise UserError(f"{what}: {leader} is not among the estimated parameters ({', '.join(free)}); "
                            "estimate it (--free) to tie another parameter to it")
        if follower in free:
            raise UserError(f"{what}: {follower} is estimated on its own (--free); a tied parameter takes the value "
                            "of the one it is tied to, so drop it from --free")
        if follower in out or follower in ties.values():
            raise UserError(f"{what}: {follower} is already tied (a parameter is tied to one estimated parameter)")
        if _is_prior(follower) or _is_prior(leader):
            raise UserError(f"{what}: priors cannot be tied (they are rescaled to sum to 1); tie precisions, payoffs "
                            "or probabilities")
        try:
            resolve_param_path(scenario, follower)
        except PathError as exc:
            raise UserError(f"{what}: {exc} (expected {exc.expected})") from None
        out[follower] = leader
    return out


def _check_profile_grid(scenario: Any, grid: Mapping[str, Sequence[float]], ties: Mapping[str, str]) -> dict[str, list[float]]:
    """The profile grid checked: each path a numeric parameter (not a tied one), each value finite
    and in the parameter's natural domain, at least two distinct values. UserError otherwise."""
    from crisislab.scenario import PathError, resolve_param_path

    out: dict[str, list[float]] = {}
    for path, values in grid.items():
        what = f"--profile-grid {path}"
        try:
            resolve_param_path(scenario, path)
        except PathError as exc:
            raise UserError(f"{what}: {exc} (expected {exc.expected})") from None
        if path in ties:
            raise UserError(f"{what}: {path} is tied to {ties[path]}; profile {ties[path]} instead")
        vals = [float(v) for v in values]
        lo, hi = _natural_bounds(path)
        bad = [v for v in vals if not (math.isfinite(v) and lo <= v <= hi)]
        if bad:
            raise UserError(f"{what}: {bad[0]:g} is outside the parameter's domain [{lo:g}, {hi:g}]")
        if len(set(vals)) < 2:
            raise UserError(f"{what}: give at least two distinct values (got {', '.join(f'{v:g}' for v in vals) or 'none'})")
        out[path] = sorted(set(vals))
    return out


def _is_prior(path: str) -> bool:
    segs = path.split(".")
    return (segs[0] == "actors" and len(segs) >= 5 and segs[2] == "types" and segs[4] == "prior") or (
        segs[0] == "perceptions" and len(segs) >= 4 and segs[3] == "prior")


def _scales(params: Sequence[tuple[str, float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """θ = a + b·u: u in [0, 1] for parameters bounded on both sides, u = (θ - start) / scale
    (scale max(|start|, 1)) otherwise."""
    a, b = [], []
    for _, v, lo, hi in params:
        if math.isfinite(lo) and math.isfinite(hi):
            a.append(lo)
            b.append(hi - lo)
        else:
            s = max(abs(v), 1.0)
            a.append(v)
            b.append(s)
    return np.array(a), np.array(b)


def _maximize(obj: _Objective, params: Sequence[tuple[str, float, float, float]], start: np.ndarray,
              maxiter: int) -> tuple[np.ndarray, float, bool, str]:
    from scipy.optimize import minimize

    a, b = _scales(params)
    bounds = [((lo - ai) / bi if math.isfinite(lo) else None, (hi - ai) / bi if math.isfinite(hi) else None)
              for (_, _, lo, hi), ai, bi in zip(params, a, b, strict=True)]
    u0 = np.clip((start - a) / b, [bd[0] if bd[0] is not None else -np.inf for bd in bounds],
                 [bd[1] if bd[1] is not None else np.inf for bd in bounds])
    best = {"u": u0.copy(), "ll": obj(a + b * u0)}

    def f(u: np.ndarray) -> float:
        ll = obj(a + b * u)
        if ll > best["ll"]:
            best.update(u=u.copy(), ll=ll)
        return -ll if math.isfinite(ll) else 1e300

    if not math.isfinite(best["ll"]):
        raise SolverError("estimate: the records are impossible under the model at the starting values "
                          f"(log-likelihood -inf): {obj.impossible or 'crisislab replay says at which move'}")
    # The log-likelihood is smooth in the parameters up to the solver's tolerance and the merging
    # of beliefs (changes of ~1e-7 for steps of 1e-4): finite-difference steps of 0.3% of the
    # range and a relative tolerance of 1e-8 keep the optimiser above that noise (measured on
    # small scenarios: about 30 evaluations per parameter, within 3e-5 of the best value found).
    res = minimize(f, u0, method="L-BFGS-B", bounds=bounds, options={"maxiter": maxiter, "eps": 3e-3, "ftol": 1e-8, "gtol": 1e-4})
    u = best["u"]
    converged = bool(res.success)
    message = str(res.message)
    if not converged and "ABNORMAL" in message:
        # The line search could not improve: accept when no step of 1% of the range along any
        # parameter (inside the bounds) raises the log-likelihood by more than 1e-4.
        lo_u = np.array([bd[0] if bd[0] is not None else -np.inf for bd in bounds])
        hi_u = np.array([bd[1] if bd[1] is not None else np.inf for bd in bounds])
        gains = []
        for i in range(u.size):
            for d in (-0.01, 0.01):
                v = u.copy()
                v[i] = np.clip(v[i] + d, lo_u[i], hi_u[i])
                if v[i] != u[i]:
                    gains.append(obj(a + b * v) - best["ll"])
        if not gains or max(gains) <= 1e-4:
            converged = True
            message = "converged (no step of 1% of a parameter's range improves the log-likelihood by 1e-4)"
        u = best["u"]
    return a + b * u, best["ll"], converged, message


def _hessian(obj: _Objective, theta: np.ndarray, params: Sequence[tuple[str, float, float, float]], rel: float = 1e-2) -> np.ndarray:
    """Central-difference Hessian of log L at θ, steps `rel` × each parameter's range (or scale),
    the stencil moved inside the bounds. Steps of 1% keep the second differences (~1e-4 and up)
    well above the solver's noise (~1e-7)."""
    a, b = _scales(params)
    k = theta.size
    h = rel * b
    lo = np.array([p[2] for p in params])
    hi = np.array([p[3] for p in params])
    # Shift the stencil's centre inward where θ is within a step of a bound (one-sided near the edge).
    c = np.clip(theta, lo + 2 * h, hi - 2 * h)
    f0 = obj(c)
    H = np.zeros((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h[i]
        H[i, i] = (obj(c + e) - 2 * f0 + obj(c - e)) / h[i] ** 2
        for j in range(i):
            d = np.zeros(k)
            d[j] = h[j]
            H[i, j] = H[j, i] = (obj(c + e + d) - obj(c + e - d) - obj(c - e + d) + obj(c - e - d)) / (4 * h[i] * h[j])
    return H


def _profile_interval(obj_factory: Any, i: int, theta: np.ndarray, ll_hat: float, params: list, crit: float,
                      maxiter: int) -> tuple[float, float]:
    """Profile interval of parameter i: where the profile log-likelihood drops by crit / 2."""
    from scipy.optimize import brentq

    path, _, lo, hi = params[i]
    others = [p for j, p in enumerate(params) if j != i]

    def prof(v: float) -> float:
        if not others:
            th = theta.copy()
            th[i] = v
            return obj_factory({})(th) - (ll_hat - crit / 2)
        sub = obj_factory({path: v})
        start = np.delete(theta, i)
        _, ll, _, _ = _maximize(sub, others, start, maxiter)
        return ll - (ll_hat - crit / 2)

    a, b = _scales(params)
    out = []
    for direction, bound in ((-1, lo), (1, hi)):
        step = 0.1 * b[i]
        edge = theta[i]
        val = None
        for _ in range(12):
            nxt = edge + direction * step
            if (direction < 0 and nxt <= bound) or (direction > 0 and nxt >= bound):
                nxt = bound
            fn = prof(nxt) if math.isfinite(nxt) else -1.0
            if fn < 0:
                try:
                    val = brentq(prof, min(edge, nxt), max(edge, nxt), xtol=1e-4 * b[i])
                except ValueError:
                    val = nxt
                break
            if nxt == bound:
                val = bound  # the drop never reaches the critical value inside the range
                break
            edge, step = nxt, step * 2
        out.append(float("nan") if val is None else float(val))
    return out[0], out[1]


def _profile_table(scenario: Any, records: Sequence[Record], params: Sequence[tuple[str, float, float, float]],
                   theta: np.ndarray, grid: Any, belief_tol: float, ties: Mapping[str, str],
                   profile_grid: Mapping[str, Sequence[float]], maxiter: int) -> pd.DataFrame:
    """The profile log-likelihood of each path of `profile_grid` at each of its values: the path held
    at the value (re-solved where it is not a prior) and every other estimated parameter fitted
    again (from the estimate θ̂, the scenario's values and the previous value's best; the best of
    them is kept). One row per (path, value): `path`, `value`, `loglik`, `converged`
    and the other parameters' estimates as `at`, a mapping path → value."""
    rows = []
    free = [p for p, *_ in params]
    start = np.array([v for _, v, _, _ in params])
    for path, values in profile_grid.items():
        keep = [j for j, p in enumerate(free) if p != path]
        sub_params = [params[j] for j in keep]
        prev = None
        for v in values:
            obj = _Objective(scenario, records, sub_params, grid, belief_tol, {path: float(v)}, ties)
            if sub_params:
                # The refit can have several local maxima (priors far from the estimate's): start
                # from the estimate, the scenario's values and the previous grid value's best, keep the best.
                starts = [theta[keep], start[keep]] + ([prev] if prev is not None else [])
                best = None
                for st in {tuple(np.round(x, 12)): x for x in starts}.values():
                    th_s, ll_s, conv_s, _ = _maximize(obj, sub_params, st, maxiter)
                    if best is None or ll_s > best[1]:
                        best = (th_s, ll_s, conv_s)
                th, ll, conv = best
                prev = th
            else:
                th, ll, conv = np.zeros(0), obj(np.zeros(0)), True
            rows.append({"path": path, "value": float(v), "loglik": float(ll), "converged": bool(conv),
                         "at": {p[0]: float(x) for p, x in zip(sub_params, th, strict=True)}})
    return pd.DataFrame(rows, columns=["path", "value", "loglik", "converged", "at"])


def grid_profile_interval(table: pd.DataFrame, path: str, loglik_max: float, level: float = 0.95) -> tuple[float, float]:
    """The interval a profile table gives `path`: the values where the profile log-likelihood stays
    within χ²₁(level)/2 of `loglik_max`, with its ends found by linear interpolation between the
    grid's values (NaN on a side where the grid never drops that far: the table leaves it open)."""
    from scipy.stats import chi2

    rows = table[table["path"] == path].sort_values("value")
    x, y = rows["value"].to_numpy(float), rows["loglik"].to_numpy(float)
    cut = loglik_max - float(chi2.ppf(level, 1)) / 2
    inside = np.flatnonzero(y >= cut)
    if not inside.size:
        return float("nan"), float("nan")
    i0, i1 = int(inside[0]), int(inside[-1])
    lo = float("nan") if i0 == 0 else float(x[i0 - 1] + (cut - y[i0 - 1]) * (x[i0] - x[i0 - 1]) / (y[i0] - y[i0 - 1]))
    hi = float("nan") if i1 == x.size - 1 else float(x[i1] + (y[i1] - cut) * (x[i1 + 1] - x[i1]) / (y[i1] - y[i1 + 1]))
    return lo, hi


def _boot_draw(job: dict, b: int) -> np.ndarray:
    """One parametric-bootstrap draw: records simulated at θ̂, refitted (module-level for Dask)."""
    scn, params, theta, grid, tol, maxiter, seed, templates = (job[k] for k in ("scenario", "params", "theta", "grid", "belief_tol", "maxiter", "seed", "templates"))
    ties = job.get("ties") or {}
    fitted = scn.with_overrides(_with_ties({p: float(v) for (p, *_), v in zip(params, theta, strict=True)}, ties))
    model = lower(fitted)
    from crisislab.analysis._claims import SolverChoice

    pol = SolverChoice("crisis", grid).for_scenario(fitted)(fitted)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xB007, int(b)]))
    recs = []
    for t in templates:
        sims, _ = sample_records(model, pol, t, 1, rng, keep_ended=True)
        if not sims:
            return np.full(len(params), np.nan)
        recs.append(sims[0])
    obj = _Objective(scn, recs, params, grid, tol, ties=ties)
    try:
        est, _, _, _ = _maximize(obj, params, theta, maxiter)
    except SolverError:
        return np.full(len(params), np.nan)
    return est


def estimate(
    scenario: Any,
    records: Any = None,
    *,
    free: Iterable[str] | None = None,
    grid: int | str = "auto",
    belief_tol: float = DEFAULT_BELIEF_TOL,
    level: float = 0.95,
    profile: Iterable[str] = (),
    restrict: Mapping[str, float] | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    workers: int = 1,
    scheduler: str | None = None,
    fit_until: Any = None,
    unobserved: Iterable[str] = (),
    observed: Iterable[str] = (),
    deaths: Mapping[str, str] | None = None,
    maxiter: int = 60,
    progress: bool = False,
    tie: Mapping[str, str] | None = None,
    profile_grid: Mapping[str, Sequence[float]] | None = None,
) -> Estimation:
    """Fit the scenario's parameters to observed records by maximum likelihood (module docstring).

    `records`: None (the record bundled with the scenario), one record (path or table) or a list
    of them (pooled: the log-likelihoods add). `free`: parameter paths (default: every parameter
    with an `uncertainty`). `profile`: paths to give profile-likelihood intervals for. `restrict`:
    path → value, tested against the full fit by a likelihood ratio. `bootstrap`: parametric
    bootstrap draws. `fit_until`: a date or round; the fit uses the records up to it and the
    scores compare the model with the baselines after it. `tie`: follower → leader paths; each
    follower takes the value of its leader (an estimated parameter) throughout, e.g. one logit
    precision for two actors; the written scenario marks it `estimated.tied_to` the leader.
    `profile_grid`: path → values; the profile log-likelihood at each value (`Estimation.profiles`),
    the other estimated parameters fitted again. The path need not be estimated itself (a payoff
    held at each value while the priors are refitted).
    """
    from scipy.stats import chi2, norm

    t0 = time.perf_counter()
    if not 0 < level < 1:
        raise UserError(f"level: expected a number in (0, 1) (got {level!r})")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int | np.integer) or bootstrap < 0:
        raise UserError(f"bootstrap: expected an integer ≥ 0 (got {bootstrap!r})")
    rec_list = [None] if records is None else (list(records) if isinstance(records, list | tuple) else [records])
    model = lower(scenario)
    full_records = []
    sources = []
    for r in rec_list:
        if isinstance(r, Record):
            full_records.append(r)
            sources.append(r.source)
            continue
        events = load_record(scenario, r)
        rec = observe(model, events, unobserved=unobserved, observed=observed, deaths=deaths)
        full_records.append(rec)
        sources.append(rec.source)
    fit_round = None if fit_until is None else until_round(model, fit_until)
    fit_records = [r.truncated(fit_round) if fit_round is not None else r for r in full_records]
    params = free_parameters(scenario, free)
    restrict = dict(restrict or {})
    for p in list(restrict) + list(profile):
        if p not in [q for q, *_ in params]:
            raise UserError(f"{'--restrict' if p in restrict else '--profile'} {p}: not among the estimated parameters "
                            f"({', '.join(q for q, *_ in params)})")
    ties = _check_ties(scenario, dict(tie or {}), params)
    pgrid = _check_profile_grid(scenario, dict(profile_grid or {}), ties)
    start = np.array([v for _, v, _, _ in params])
    obj = _Objective(scenario, fit_records, params, grid, belief_tol, ties=ties)
    start_ll = obj(start)
    theta, ll_hat, converged, message = _maximize(obj, params, start, maxiter)
    H = _hessian(obj, theta, params)
    info = -H
    k = theta.size
    cov = np.full((k, k), np.nan)
    flags = [""] * k
    notes = [""] * k
    w, V = np.linalg.eigh((info + info.T) / 2)
    scale = max(abs(w).max(initial=0.0), 1e-300)
    weak = w <= 1e-8 * scale
    if not weak.any():
        cov = V @ np.diag(1.0 / w) @ V.T
    else:
        for idx in np.flatnonzero(weak):
            for i in np.flatnonzero(np.abs(V[:, idx]) > 0.3):
                flags[i] = "not identified"
                notes[i] = ("the likelihood is flat in this direction (the observed information is singular): "
                            "the records do not pin it down")
        ok = [i for i in range(k) if not flags[i]]
        if ok:
            sub = info[np.ix_(ok, ok)]
            try:
                cov[np.ix_(ok, ok)] = np.linalg.inv(sub)
            except np.linalg.LinAlgError:
                pass
    z = float(norm.ppf(0.5 + level / 2))
    crit = float(chi2.ppf(level, 1))
    lows, highs = np.full(k, np.nan), np.full(k, np.nan)
    for i, name in enumerate([p for p, *_ in params]):
        if name in profile:
            def factory(fixed: dict, _i: int = i) -> _Objective:
                sub_params = [p for j, p in enumerate(params) if j != _i] if fixed else params
                return _Objective(scenario, fit_records, sub_params, grid, belief_tol, fixed, ties)
            lows[i], highs[i] = _profile_interval(factory, i, theta, ll_hat, params, crit, maxiter)
    out_params = []
    _, b = _scales(params)
    for i, (path, v0, lo, hi) in enumerate(params):
        se = float(math.sqrt(cov[i, i])) if np.isfinite(cov[i, i]) and cov[i, i] > 0 else float("nan")
        if abs(theta[i] - lo) < 1e-3 * b[i] or abs(theta[i] - hi) < 1e-3 * b[i]:
            # On a bound, the likelihood may still rise beyond it: that says more than a flat Hessian.
            flags[i] = "boundary"
            notes[i] = f"the estimate is at the bound of its range [{lo:g}, {hi:g}]: the Wald interval is not valid there"
        if not flags[i] and math.isnan(se):
            flags[i] = "not identified"
            notes[i] = "no standard error (the observed information is not positive along this parameter)"
        out_params.append(ParamEstimate(path, v0, float(theta[i]), se, theta[i] - z * se, theta[i] + z * se, lo, hi,
                                        float(lows[i]), float(highs[i]), flag=flags[i], note=notes[i]))
    # Likelihood-ratio tests of the restrictions, each against the full fit.
    tests = []
    if restrict:
        idx = [i for i, (p, *_) in enumerate(params) if p not in restrict]
        sub_params = [params[i] for i in idx]
        sub = _Objective(scenario, fit_records, sub_params, grid, belief_tol, restrict, ties)
        if sub_params:
            _, ll_r, _, _ = _maximize(sub, sub_params, theta[idx], maxiter)
        else:
            ll_r = sub(np.zeros(0))
        lr = max(2 * (ll_hat - ll_r), 0.0)
        tests.append({"restriction": ", ".join(f"{p}={v:g}" for p, v in restrict.items()), "loglik_restricted": float(ll_r),
                      "lr": float(lr), "df": len(restrict), "p_value": float(chi2.sf(lr, len(restrict)))})
    boot = None
    if bootstrap:
        from crisislab.simulation import map_tasks

        job = {"scenario": scenario, "params": params, "theta": theta, "grid": obj.solver.grid, "belief_tol": belief_tol,
               "maxiter": maxiter, "seed": seed, "templates": fit_records, "ties": ties}
        draws = map_tasks(_boot_draw, list(range(int(bootstrap))), job, workers=workers, scheduler=scheduler,
                          progress=progress, label="bootstrap", start="spawn")
        rows = [{"draw": b, "path": p, "estimate": float(d[i])} for b, d in enumerate(draws) for i, (p, *_) in enumerate(params)]
        boot = pd.DataFrame(rows)
        q = (1 - level) / 2
        new = []
        for i, pe in enumerate(out_params):
            vals = boot.loc[boot["path"] == pe.path, "estimate"].dropna().to_numpy()
            if vals.size:
                new.append(_replace(pe, boot_low=float(np.quantile(vals, q)), boot_high=float(np.quantile(vals, 1 - q))))
            else:
                new.append(pe)
        out_params = new
    profiles = None
    if pgrid:
        profiles = _profile_table(scenario, fit_records, params, theta, grid, belief_tol, ties, pgrid, maxiter)
    n_moves = sum(r.n_observed_moves for r in fit_records)
    fitted = _estimated_scenario(scenario, out_params, sources, ll_hat, level, ties)
    scores = None
    if fit_round is not None:
        fmodel = lower(fitted)
        pol = obj.policy(obj.scenario_at(theta), theta)
        parts = []
        for rec in full_records:
            rep = replay_record(fitted, fmodel, pol, rec, belief_tol=belief_tol, rank_records=0, intensity_runs=0, fit_rounds=fit_round)
            parts.append(rep.scores.assign(record=rec.source))
        scores = pd.concat(parts, ignore_index=True)
    return Estimation(
        scenario_id=scenario.id, records=tuple(sources), params=tuple(out_params), loglik=float(ll_hat), start_loglik=float(start_ll),
        converged=converged, message=message, n_moves=n_moves, aic=2 * k - 2 * ll_hat, bic=k * math.log(max(n_moves, 1)) - 2 * ll_hat,
        cov=cov, n_evaluations=obj.evals, n_solves=obj.solves, seconds=time.perf_counter() - t0, level=level,
        tests=pd.DataFrame(tests, columns=["restriction", "loglik_restricted", "lr", "df", "p_value"]), bootstrap=boot,
        scores=scores, fit_until=fit_round, scenario=fitted, ties=ties, profiles=profiles,
    )


def _replace(pe: ParamEstimate, **kw: Any) -> ParamEstimate:
    from dataclasses import replace

    return replace(pe, **kw)


def _estimated_scenario(scenario: Any, params: Sequence[ParamEstimate], sources: Sequence[str], ll: float, level: float,
                        ties: Mapping[str, str] | None = None) -> Any:
    """The scenario with each estimate in place, marked as estimated from the records, its
    interval (profile when computed, else Wald, clipped to the range) as the `uncertainty`; a
    tied parameter gets its leader's entry with `estimated.tied_to` naming the leader."""
    import os

    over = {}
    for p in params:
        lo, hi = (p.profile_low, p.profile_high) if np.isfinite(p.profile_low) and np.isfinite(p.profile_high) else (p.ci_low, p.ci_high)
        entry: dict[str, Any] = {"value": float(p.estimate),
                                 "estimated": {"records": [os.path.basename(s) for s in sources], "method": "maximum likelihood",
                                               "se": None if math.isnan(p.se) else float(p.se),
                                               "interval": None if not (np.isfinite(lo) and np.isfinite(hi)) else [float(lo), float(hi)],
                                               "loglik": float(ll)}}
        if np.isfinite(lo) and np.isfinite(hi):
            lo_c, hi_c = max(lo, p.lower), min(hi, p.upper)
            if lo_c < hi_c:
                entry["uncertainty"] = {"uniform": [float(lo_c), float(hi_c)]}
        over[p.path] = entry
    for follower, leader in (ties or {}).items():
        entry = {**over[leader], "estimated": {**over[leader]["estimated"], "tied_to": leader}}
        over[follower] = entry
    return scenario.with_overrides(over)
