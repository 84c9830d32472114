"""How simulation `Results` show themselves in a notebook (`Results._repr_html_`)."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["results_html"]


def results_html(res: Any) -> str:
    """Runs, seed, interventions, run-steps and the share of runs ending in each outcome."""
    counts = res.outcome_counts()
    rows = "".join(f"<tr><td>{escape(str(k))}</td><td>{int(v)}</td><td>{int(v) / res.n_runs:.4f}</td></tr>" for k, v in counts.items())
    arms = escape("; ".join(res.interventions)) or "as written"
    return (
        f"<div><b>Results</b>: {res.n_runs} runs, seed {res.seed}, {arms}, {res.run_steps:,} run-steps"
        f"<table><tr><th>outcome</th><th>runs</th><th>share</th></tr>{rows}</table>"
        "per-run table: <code>.runs</code></div>"
    )
