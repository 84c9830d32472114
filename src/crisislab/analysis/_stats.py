"""Statistics for claims and outcome tables: paired differences under common random numbers, verdicts.

A claim compares a metric between two arms (treatment, baseline) simulated with the same seed, so
run i of both arms sees the same uniforms; the per-run difference d_i = m_T,i − m_B,i then has a
much smaller variance than two independent samples would. The estimate is the mean of d with a
normal-approximation confidence interval (the central limit theorem for the mean of i.i.d. d_i;
Wilson's interval for single proportions). Verdicts follow the interval, never the point estimate
alone, so "undetermined at this N" is an honest answer when the interval straddles the margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

__all__ = ["Expect", "PairedEstimate", "Verdict", "paired_difference", "paired_ratio_difference", "verdict", "wilson_interval"]

Expect = Literal["lower", "higher"]
Verdict = Literal["holds", "fails", "undetermined"]


@dataclass(frozen=True)
class PairedEstimate:
    """Mean metric in each arm and their paired difference (treatment − baseline) with its CI."""

    treatment: float
    baseline: float
    diff: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    level: float
    # Runs where the metric is defined in each arm (all n for a mean over every run).
    n_treatment: int | None = None
    n_baseline: int | None = None


def _z(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1) (got {level!r})")
    return float(stats.norm.ppf(0.5 + level / 2.0))


def paired_difference(treatment: np.ndarray, baseline: np.ndarray, level: float = 0.95) -> PairedEstimate:
    """Paired difference of per-run metrics.

    `treatment`, `baseline`: float arrays of shape `(n,)`, element i from run i of each arm (same
    seed, same run index). Returns the means, the mean difference, its standard error
    sd(d)/sqrt(n) and the normal-approximation interval at `level`.
    """
    t = np.asarray(treatment, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    if t.shape != b.shape or t.ndim != 1 or t.size == 0:
        raise ValueError(f"paired arms must be non-empty 1-d arrays of equal length (got {t.shape} and {b.shape})")
    d = t - b
    n = d.size
    se = float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
    z = _z(level)
    mean = float(d.mean())
    return PairedEstimate(
        treatment=float(t.mean()),
        baseline=float(b.mean()),
        diff=mean,
        se=se,
        ci_low=mean - z * se,
        ci_high=mean + z * se,
        n=n,
        level=level,
    )


def paired_ratio_difference(
    num_t: np.ndarray, den_t: np.ndarray, num_b: np.ndarray, den_b: np.ndarray, level: float = 0.95
) -> PairedEstimate:
    """Paired difference of two ratio estimators R = Σ num / Σ den on the same runs.

    `num_*`, `den_*`: float arrays `(n,)`, element i from run i of each arm. A conditional mean
    (den = indicator of the runs where the metric is defined, num = value there and 0 elsewhere)
    and a rate per round at risk (den = rounds at risk) are such ratios; with den ≡ 1 this is
    exactly `paired_difference`. Each arm's ratio uses the runs where its own denominator is
    positive, so a run defined in one arm only counts in that arm's ratio. The standard error is
    the delta method's on the paired runs: run i's linearised value in an arm is
    u_i = R + (num_i − R den_i) / mean(den), whose mean is R and whose variance over n is the
    ratio's asymptotic variance; sd(u_t − u_b)/sqrt(n) carries the covariance the pairing creates.
    An arm whose denominator is 0 in every run has no value: NaN estimate and interval.
    """
    arrays = [np.asarray(x, dtype=np.float64) for x in (num_t, den_t, num_b, den_b)]
    nt, dt, nb, db = arrays
    if any(a.shape != nt.shape for a in arrays) or nt.ndim != 1 or nt.size == 0:
        raise ValueError(f"paired arms must be non-empty 1-d arrays of equal length (got {[a.shape for a in arrays]})")
    defined_t, defined_b = int((dt > 0).sum()), int((db > 0).sum())
    if (dt == 1.0).all() and (db == 1.0).all():
        est = paired_difference(nt, nb, level)
        return PairedEstimate(**{**est.__dict__, "n_treatment": defined_t, "n_baseline": defined_b})
    n = nt.size
    z = _z(level)
    if dt.sum() <= 0 or db.sum() <= 0:
        nan = float("nan")
        rt = float(nt.sum() / dt.sum()) if dt.sum() > 0 else nan
        rb = float(nb.sum() / db.sum()) if db.sum() > 0 else nan
        return PairedEstimate(rt, rb, nan, nan, nan, nan, n, level, defined_t, defined_b)

    def linearised(num: np.ndarray, den: np.ndarray) -> tuple[float, np.ndarray]:
        r = float(num.sum() / den.sum())
        return r, r + (num - r * den) / den.mean()

    rt, ut = linearised(nt, dt)
    rb, ub = linearised(nb, db)
    d = ut - ub
    se = float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
    diff = rt - rb
    return PairedEstimate(rt, rb, diff, se, diff - z * se, diff + z * se, n, level, defined_t, defined_b)


def verdict(est: PairedEstimate, expect: Expect, margin: float = 0.0) -> Verdict:
    """Whether the claim "treatment is `expect` than baseline by more than `margin`" holds.

    holds: the whole interval is beyond the margin on the claimed side; fails: the whole interval is
    on the other side (a difference of exactly zero, e.g. two identical arms, fails); otherwise
    undetermined at this N.
    """
    if expect == "lower":
        if est.ci_high < -margin:
            return "holds"
        if est.ci_low >= -margin:
            return "fails"
        return "undetermined"
    if expect == "higher":
        if est.ci_low > margin:
            return "holds"
        if est.ci_high <= margin:
            return "fails"
        return "undetermined"
    raise ValueError(f"expect must be one of 'lower', 'higher' (got {expect!r})")


def wilson_interval(successes: np.ndarray | int, n: int, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for proportions successes/n (Wilson 1927); arrays broadcast.

    Unlike the Wald interval it stays inside [0, 1] and is not degenerate at 0 or n successes.
    """
    if n <= 0:
        raise ValueError(f"n must be positive (got {n})")
    k = np.asarray(successes, dtype=np.float64)
    z = _z(level)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0 (n) successes the lower (upper) bound is exactly 0 (1); in floating point centre - half
    # can come out as 1e-19 above p = 0, an interval that excludes its own estimate.
    lo = np.where(k <= 0, 0.0, np.clip(np.minimum(centre - half, p), 0.0, 1.0))
    hi = np.where(k >= n, 1.0, np.clip(np.maximum(centre + half, p), 0.0, 1.0))
    return lo, hi
