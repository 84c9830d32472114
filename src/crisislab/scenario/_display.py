"""How a scenario shows itself in a notebook: a compact HTML summary (`Scenario._repr_html_`)."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["scenario_html"]


def scenario_html(scn: Any) -> str:
    """Title, horizon and calendar, the strategic actors (λ, types and priors), the move order,
    the outcomes (with the actions that end the crisis in them and the sides their casualties
    fall on), and how many claims and sources the scenario states."""
    cal = scn.calendar
    when = f"; calendar {cal.text}" if cal else ""
    rows = []
    for a in scn.actors:
        types = ", ".join(f"{escape(t.id)} ({p:.3g})" for t, p in zip(a.types, a.priors, strict=True))
        rows.append(f"<tr><td>{escape(a.id)}</td><td>{a.lam.value:g}</td><td>{types}</td><td>{len(scn.actions_of(a.id))}</td></tr>")
    env = ", ".join(escape(e.id) for e in scn.environment) or "none"
    outcomes = ", ".join(escape(o.id) + _outcome_notes(scn, o) for o in scn.outcomes)
    return (
        f"<div><b>{escape(scn.title)}</b> <code>{escape(scn.id)}</code><br>"
        f"{scn.horizon} rounds{escape(when)}; move order: {escape(' → '.join(scn.order))}<br>"
        "<table><tr><th>actor</th><th>λ</th><th>types (true prior)</th><th>actions</th></tr>"
        + "".join(rows)
        + f"</table>environment: {env}; outcomes: {outcomes}; {len(scn.red_lines)} red lines, "
        f"{len(scn.claims)} claims, {len(scn.sources)} sources</div>"
    )


def _outcome_notes(scn: Any, outcome: Any) -> str:
    """` (ended by a_war, h_war; deaths of A, B)`, or nothing for an outcome reached by its `when` alone."""
    notes = []
    enders = [a.id for a in scn.actions if a.ends == outcome.id]
    if enders:
        notes.append("ended by " + ", ".join(enders))
    if outcome.casualties:
        notes.append("deaths of " + ", ".join(c.side for c in outcome.casualties))
    return escape(f" ({'; '.join(notes)})") if notes else ""
