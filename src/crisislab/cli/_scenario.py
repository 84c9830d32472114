"""Scenario commands of the `crisislab` CLI: `validate`, `show`, `scenarios`.

Each only composes library calls (`load_scenario`, `bundled_scenarios`) and renders with rich.
Problems in the user's files go to stderr as `FILE:LINE: field.path: message` lines, exit status 2.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from crisislab.errors import problem_lines
from crisislab.scenario import (
    claim_warnings,
    Problem,
    Scenario,
    ScenarioError,
    bundled_scenarios,
    condition_text,
    consequence_text,
    effect_text,
    intervention_text,
    load_scenario,
    locate_in_file,
    metric_text,
    number_text,
    rate_period,
    type_values_text,
)

__all__ = ["register"]


def _fail(problems: list[Problem]) -> None:
    err = Console(stderr=True, soft_wrap=True, emoji=False)
    for line in problem_lines(problems):
        err.print(line, markup=False, highlight=False, emoji=False)
    n_files = len({p.file for p in problems})
    err.print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {n_files} file{'s' if n_files != 1 else ''}",
              markup=False, highlight=False, emoji=False)
    raise typer.Exit(2)


def validate(files: list[Path] = typer.Argument(..., help="Scenario YAML files to check.")) -> None:
    """Check scenario files: one OK line per valid file, or every problem of every file (exit 2)."""
    problems: list[Problem] = []
    out = Console(soft_wrap=True, emoji=False)
    for path in files:
        try:
            s = load_scenario(path)
        except ScenarioError as exc:
            problems.extend(exc.problems)
            continue
        out.print(f"OK {path}: {s.id} ({len(s.actors)} actors, {len(s.actions)} actions, horizon {s.horizon})",
                  markup=False, highlight=False, emoji=False)
        # Claims the structure settles (a forbid that removes the only route to what the metric
        # counts): reported, not refused, since the scenario itself is sound.
        for loc, message in claim_warnings(s):
            line, field = locate_in_file(path, loc)
            where = f"{path}:{line}" if line is not None else str(path)
            out.print(f"warning: {where}: {field}: {message}", markup=False, highlight=False, emoji=False)
    if problems:
        _fail(problems)


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False, expand=False)
    for c in columns:
        table.add_column(c, overflow="fold")
    return table


def _row(table: Table, *cells: str) -> None:
    # Cells are plain text: ids and sources like "[rep1]" must not be read as rich markup.
    table.add_row(*(Text(c) for c in cells))


def render(s: Scenario, console: Console) -> None:
    """Print the rich summary of a scenario (what `crisislab show` prints)."""
    console.rule(f"[bold]{s.title}[/bold]  ({s.id})")
    if s.description:
        console.print(s.description.strip(), markup=False, emoji=False)
    cal = f", calendar {s.calendar.text}" if s.calendar else ""
    console.print(f"horizon {s.horizon} rounds{cal}; move order: {' → '.join(s.order)}", markup=False, emoji=False)
    if s.calendar is not None and s.calendar.phases:
        import datetime as _dt

        t = _table(f"Calendar phases (rates per {s.calendar.base} days)", "phase", "rounds", "days per round", "dates", "label")
        day, first = s.calendar.start, 1
        for ph in s.calendar.phases:
            end = day + _dt.timedelta(days=ph.rounds * ph.days_per_round - 1)
            _row(t, ph.id, f"{first}–{first + ph.rounds - 1}", str(ph.days_per_round), f"{day.isoformat()} – {end.isoformat()}",
                 ph.label or "")
            day, first = end + _dt.timedelta(days=1), first + ph.rounds
        console.print(t)

    t = _table("Strategic actors and types", "actor", "λ", "type", "true prior", "label")
    for a in s.actors:
        for i, ty in enumerate(a.types):
            _row(t, a.id if i == 0 else "", number_text(a.lam) if i == 0 else "", ty.id, number_text(ty.prior), ty.label or "")
    console.print(t)

    if s.perceptions:
        t = _table("Perceptions (hypergame)", "holder", "about", "perceived prior", "true prior", "perceived terminal payoffs")
        for p in s.perceptions:
            about = s.actor(p.about) if s.is_strategic(p.about) else None
            true = ", ".join(f"{ty.id}: {ty.prior.value:g}" for ty in about.types) if about else ""
            terminal = "; ".join(f"{o}: {type_values_text(tv)}" for o, tv in (p.terminal or {}).items())
            perceived = "the true prior" if p.prior is None else ", ".join(f"{k}: {number_text(v)}" for k, v in p.prior.items())
            _row(t, p.holder, p.about, perceived, true, terminal)
        console.print(t)

    if s.state:
        t = _table("State variables", "id", "label", "range", "initial")
        for v in s.state:
            _row(t, v.id, v.label or "", f"{v.min}..{v.max}", str(v.initial))
        console.print(t)

    for actor_id in [*s.strategic_ids, *s.environment_ids]:
        actions = s.actions_of(actor_id)
        if not actions:
            continue
        strategic = s.is_strategic(actor_id)
        type_ids = s.actor(actor_id).type_ids if strategic else ()
        cols = ["rung", "action", "label", "intensity"] + [f"cost: {ty}" for ty in type_ids] + ["effects", "consequences"]
        t = _table(f"Ladder of {actor_id}", *cols)
        for a in actions:
            intensity = f"{a.intensity.scale} {a.intensity.value:g}" + (f" (CAMEO {a.intensity.cameo})" if a.intensity.cameo else "") if a.intensity else ""
            costs = [number_text(a.cost.param_for(ty)) if a.cost else "0" for ty in type_ids]
            name = a.id + (" (default)" if a.default else "")
            if a.available is not None:
                name += f"\nif {condition_text(a.available)}"
            if a.ends is not None:
                name += f"\nends the crisis: {a.ends}"
            _row(t, 
                "" if a.rung is None else str(a.rung), name, a.label or "", intensity, *costs,
                ", ".join(effect_text(e) for e in a.effects), "\n".join(consequence_text(c) for c in a.consequences),
            )
        console.print(t)

    if s.environment:
        t = _table("Environment actors (first matching rule fires)", "actor", "role", "when", "action", "probability")
        for e in s.environment:
            for i, r in enumerate(e.rules):
                _row(t, e.id if i == 0 else "", e.role if i == 0 else "", condition_text(r.when), r.action, number_text(r.probability))
        console.print(t)

    if s.red_lines:
        t = _table("Red lines", "id", "owner", "crossed when", "answer rung ≥", "deadline", "audience cost", "scale",
                   "on answer")
        for r in s.red_lines:
            type_ids = s.actor(r.owner).type_ids if s.is_strategic(r.owner) else ()
            _row(t, r.id, r.owner, condition_text(r.crossed_when), str(r.answer_rung), str(r.deadline),
                      type_values_text(r.audience_cost, type_ids), number_text(r.scale) if r.scale else "1",
                      ", ".join(effect_text(e) for e in r.on_answer))
        console.print(t)

    t = _table("Outcomes (an action's `ends`, else checked in order after every move)", "id", "label", "when",
               "ended by", "casualties")
    for o in s.outcomes:
        by = ", ".join(a.id for a in s.actions if a.ends == o.id)
        when = "at the horizon" if o.at_horizon else (condition_text(o.when) if o.when is not None else "")
        cas = "\n".join(f"{c.side}: mean {number_text(c.mean)}" + (f", dispersion {number_text(c.dispersion)}" if c.dispersion else "")
                         for c in o.casualties)
        _row(t, o.id, o.label or "", when, by, cas)
    console.print(t)

    t = _table(f"Terminal payoffs (discount {number_text(s.payoffs.discount)})", "outcome", *s.strategic_ids)
    for o in s.outcomes:
        row = [type_values_text(s.payoffs.terminal.get(o.id, {}).get(a), s.actor(a).type_ids) for a in s.strategic_ids]
        _row(t, o.id, *row)
    console.print(t)
    # Under calendar phases (or a `base_days` other than the round's length) flows and rates are
    # written per base period and converted by each round's length: say which period.
    period = rate_period(s)
    if s.payoffs.flow or s.payoffs.casualties:
        t = _table("Flow and casualty payoffs", "actor", "kind", "when / side", "value")
        for f in s.payoffs.flow:
            _row(t, f.actor, f"per {period}", condition_text(f.when), type_values_text(f.value))
        for c in s.payoffs.casualties:
            _row(t, c.actor, "per death", c.side, type_values_text(c.per_death))
        console.print(t)

    if s.claims:
        t = _table("Claims", "id", "seed / quote", "metric", "treatment", "baseline", "expect")
        for c in s.claims:
            seed = (c.seed or "") + (f"\n“{c.quote}”" if c.quote else "")
            _row(t, c.id, seed, metric_text(c.metric, period),
                      "\n".join(intervention_text(i) for i in c.compare.treatment) or "as written",
                      "\n".join(intervention_text(i) for i in c.compare.baseline) or "as written",
                      f"{c.expect}" + (f" by > {c.margin:g}" if c.margin else ""))
        console.print(t)

    if s.sources:
        t = _table("Sources", "id", "kind", "title", "author / outlet", "date", "file / url")
        for sid, src in s.sources.items():
            who = " / ".join(x for x in (src.author, src.outlet) if x)
            _row(t, sid, src.kind, src.title or "", who, src.date or "", src.file or src.url or "")
        console.print(t)


def show(file: Path = typer.Argument(..., help="Scenario YAML file.")) -> None:
    """Summarise a scenario: actors, types, perceptions, state, ladders, red lines, outcomes, claims, sources."""
    try:
        s = load_scenario(file)
    except ScenarioError as exc:
        _fail(exc.problems)
        return
    render(s, Console(emoji=False))


def scenarios() -> None:
    """List the scenarios bundled with crisislab."""
    paths = bundled_scenarios()
    console = Console(emoji=False)
    if not paths:
        console.print("no bundled scenarios found", markup=False)
        return
    t = _table("Bundled scenarios", "file", "id", "title", "actors", "horizon")
    for path in paths:
        try:
            s = load_scenario(path)
        except ScenarioError as exc:
            _row(t, path.name, "—", f"invalid: {exc.problems[0]}", "", "")
            continue
        _row(t, path.name, s.id, s.title, ", ".join(s.strategic_ids), str(s.horizon))
    console.print(t)
    console.print(f"directory: {paths[0].parent}", markup=False, highlight=False, emoji=False)


def register(app: typer.Typer) -> None:
    """Add `validate`, `show` and `scenarios` to the crisislab app."""
    app.command("validate")(validate)
    app.command("show")(show)
    app.command("scenarios")(scenarios)
