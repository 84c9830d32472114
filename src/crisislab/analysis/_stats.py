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

__all__ = ["Expect", "PairedEstimate", "Verdict", "paired_difference", "verdict", "wilson_interval"]

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
