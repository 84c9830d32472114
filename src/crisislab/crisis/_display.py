"""How a crisis-engine `Solution` shows itself in a notebook (`Solution._repr_html_`)."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["solution_html"]


def solution_html(sol: Any) -> str:
    """Grid, perceived games, each actor's expected value per own type at the start of its own
    perceived game, the largest fixed-point residual and the diagnostics."""
    rows = []
    for h, actor in enumerate(sol.perceivers):
        values = ", ".join(f"{v:.4g}" for v in sol.values0[h, h])
        rows.append(f"<tr><td>{escape(actor)}</td><td>{int(sol.game_of[h])}</td><td>{sol.lam[h]:g}</td><td>{values}</td></tr>")
    diag = "".join(f"<li>{escape(d)}</li>" for d in sol.diagnostics)
    return (
        f"<div><b>Solution</b>: agent logit QRE of {len(sol.sigma)} perceived game(s) on a {len(sol.grid)}-point "
        f"belief grid; largest fixed-point residual {sol.max_residual:.2g}"
        "<table><tr><th>perceiver</th><th>game</th><th>λ</th><th>expected value per own type</th></tr>"
        + "".join(rows)
        + "</table>"
        + (f"diagnostics:<ul>{diag}</ul>" if diag else "no diagnostics")
        + "</div>"
    )
