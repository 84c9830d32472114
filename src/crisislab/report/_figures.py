"""Figures of a simulated crisis, rendered to embeddable PNG (base64) with matplotlib's Agg canvas.

Each function takes already computed arrays (from `Results`) and returns a data-URI string, so the
report is self-contained (no network, no files beside it). Figures are built on `Figure` objects
directly, never through pyplot's global state.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["belief_trajectories", "fan_chart", "loglik_histogram", "outcome_bars"]

_DPI = 110


def _encode(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def outcome_bars(labels: Sequence[str], p: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> str:
    """Outcome probabilities (float64 `(k,)`) with their interval bounds as error bars."""
    fig = Figure(figsize=(6, 2.8))
    ax = fig.add_subplot()
    x = np.arange(len(labels))
    ax.bar(x, p, color="#4c72b0")
    ax.errorbar(x, p, yerr=[p - lo, hi - p], fmt="none", ecolor="black", capsize=4)
    ax.set_xticks(x, labels)
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    return _encode(fig)


def fan_chart(var: str, quantiles: np.ndarray, mean: np.ndarray, qs: Sequence[float]) -> str:
    """Fan chart of a state variable by round: `quantiles` float64 `(horizon + 1, len(qs))` (qs symmetric)."""
    fig = Figure(figsize=(6, 3))
    ax = fig.add_subplot()
    rounds = np.arange(quantiles.shape[0])
    k = len(qs)
    for i in range(k // 2):
        ax.fill_between(
            rounds, quantiles[:, i], quantiles[:, k - 1 - i], step="mid", alpha=0.25 + 0.2 * i, color="#dd8452",
            label=f"{qs[i]:.0%}–{qs[k - 1 - i]:.0%}",
        )
    ax.plot(rounds, mean, color="black", lw=1.5, label="mean")
    if k % 2:
        ax.step(rounds, quantiles[:, k // 2], where="mid", color="#8c4a1f", lw=1, ls="--", label="median")
    ax.set_xlabel("round")
    ax.set_ylabel(var)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    return _encode(fig)


def belief_trajectories(series: dict[str, np.ndarray]) -> str:
    """Mean belief by round, one line per label: each value float64 `(horizon + 1,)`."""
    fig = Figure(figsize=(6, 3))
    ax = fig.add_subplot()
    for label, y in series.items():
        ax.plot(np.arange(y.size), y, marker=".", label=label)
    ax.set_xlabel("round")
    ax.set_ylabel("mean belief")
    ax.set_ylim(0, 1)
    if series:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _encode(fig)


def loglik_histogram(sim: np.ndarray, observed: np.ndarray) -> str:
    """Log-likelihoods of simulated records (float64 `(n,)`) as a density histogram and of the
    observed record(s) (`(m,)`) as vertical lines (-inf entries are not drawn)."""
    fig = Figure(figsize=(6, 2.8))
    ax = fig.add_subplot()
    sims = sim[np.isfinite(sim)]
    obs = observed[np.isfinite(observed)]
    both = np.concatenate([sims, obs])
    bins = np.linspace(both.min(), both.max(), 51) if both.size and np.ptp(both) > 0 else 50
    if sims.size:
        ax.hist(sims, bins=bins, density=True, color="#55a868", alpha=0.7, label="simulated records (same rounds)")
    if obs.size:
        for i, x in enumerate(obs):
            ax.axvline(x, color="crimson", lw=2, label="the observed record" if i == 0 else None)
    if sims.size or obs.size:
        ax.legend(fontsize=7)
    ax.set_xlabel("log-likelihood of the record")
    ax.set_ylabel("density")
    return _encode(fig)
