"""The self-contained HTML report of a study: tables and embedded figures, no network.

`render_report(study)` formats a `crisislab.analysis.Study` (the scenario as written, the evaluated
claims, the replay of the observed record, and the tables computed from them) into one HTML
string; it computes no statistic. Numeric cells carry their unrounded value in a `data-value`
attribute so that tests (and readers) can check them against the study's tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from crisislab.report import _figures as fig

__all__ = ["render_report", "write_report"]

_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>crisislab report: {{ title|e }}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em} h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.88em} th,td{border:1px solid #ddd;padding:.25em .5em;vertical-align:top}
th{background:#f4f4f4;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
.holds{background:#e3f4e3} .fails{background:#f8e0e0} .undetermined{background:#f6f1dc}
.meta{color:#555;font-size:.9em} q{font-style:italic} img{max-width:100%}
</style></head><body>
<h1>{{ title|e }}</h1>
<p class="meta">Scenario <code>{{ scenario_id|e }}</code> · {{ n_runs }} runs · seed {{ seed }} · horizon {{ horizon }} rounds
· {{ run_steps }} run-steps · crisislab {{ version }}{% if solver %} · policy: {{ solver|e }}{% endif %}</p>
{% if description %}<p>{{ description|e }}</p>{% endif %}

<h2 id="outcomes">Outcome probabilities</h2>
<p>Share of runs ending in each outcome, with {{ level_pct }} Wilson intervals.</p>
<table id="outcome-table"><tr><th>outcome</th><th>runs</th><th>probability</th><th>CI low</th><th>CI high</th></tr>
{% for o in outcomes %}<tr data-outcome="{{ o.id|e }}"><td>{{ o.id|e }}</td><td class="num" data-value="{{ o.count }}">{{ o.count }}</td>
<td class="num" data-value="{{ o.p }}">{{ '%.4f'|format(o.p) }}</td><td class="num" data-value="{{ o.lo }}">{{ '%.4f'|format(o.lo) }}</td>
<td class="num" data-value="{{ o.hi }}">{{ '%.4f'|format(o.hi) }}</td></tr>
{% endfor %}</table>
<img class="figure" id="fig-outcomes" alt="outcome probabilities" src="{{ figs.outcomes }}">

<h2 id="casualties">Casualties and audience costs</h2>
<table id="casualty-table"><tr><th>quantity</th><th>mean per run</th></tr>
{% for c in casualties %}<tr><td>{{ c.label|e }}</td><td class="num" data-value="{{ c.value }}">{{ '%.4g'|format(c.value) }}</td></tr>
{% endfor %}</table>

<h2 id="tension">{{ fan_var|e }} by round</h2>
<p>Fan chart over all runs (runs that ended keep their final state); bands are 5–95% and 25–75% quantiles.</p>
<img class="figure" id="fig-fan" alt="fan chart" src="{{ figs.fan }}">

<h2 id="beliefs">Belief trajectories</h2>
<p>Mean belief of each actor about the other's type, by round, over all runs (each actor updates with its own perceived game).</p>
<img class="figure" id="fig-beliefs" alt="belief trajectories" src="{{ figs.beliefs }}">

<h2 id="paths">Most frequent paths</h2>
<p>Sequences of non-status-quo actions (round:action), over {{ n_runs }} runs.</p>
<table id="path-table"><tr><th>#</th><th>path</th><th>runs</th><th>share</th></tr>
{% for p in paths %}<tr><td>{{ loop.index }}</td><td>{{ p.path|e }}</td><td class="num" data-value="{{ p.count }}">{{ p.count }}</td><td class="num">{{ '%.2f%%'|format(100 * p.count / n_runs) }}</td></tr>
{% endfor %}</table>

<h2 id="timeline">The real timeline against the model</h2>
{% if timeline %}
<p>{{ timeline.n_events }} observed events in {{ timeline.rounds }} rounds ({{ timeline.source|e }}), scored exactly by a forward pass over the hidden states, types and beliefs (observed chance results conditioned on, unobserved ones and the moves of {{ timeline.unobserved|e }} summed over; several events of one actor in a round: the highest rung is the move; uncertain events counted as happened or not).
Log-likelihood of the record: <b data-value="{{ timeline.loglik }}">{{ '%.2f'|format(timeline.loglik) }}</b>.
Given the record so far, the model ends the crisis before the record ends with probability <b data-value="{{ timeline.p_ended_early }}">{{ '%.1f%%'|format(100 * timeline.p_ended_early) }}</b>.
{% if timeline.percentile == timeline.percentile %}The record is more probable than <b data-value="{{ timeline.percentile }}">{{ '%.1f%%'|format(100 * timeline.percentile) }}</b>
of {{ timeline.n_simulated }} records of the same {{ timeline.rounds }} rounds simulated from the model and scored the same way.{% else %}The record is not ranked.{% endif %}{% if timeline.impossible %} <b>{{ timeline.impossible|e }}</b>.{% endif %}</p>
<img class="figure" id="fig-timeline" alt="log-likelihood of simulated records and the observed one" src="{{ figs.timeline }}">
<h3>Does strategy predict better than no strategy?</h3>
<p>Scores of one-step-ahead forecasts of each observed move (log score: higher is better; Brier: lower is better).</p>
<table id="timeline-scores"><tr><th>predictor</th><th>sample</th><th>moves</th><th>log score</th><th>Brier</th></tr>
{% for s in timeline.scores %}<tr><td>{{ s.predictor }}</td><td>{{ s.sample }}</td><td class="num">{{ s.moves }}</td><td class="num">{{ '%.2f'|format(s.log_score) }}</td><td class="num">{{ '%.3f'|format(s.brier) }}</td></tr>
{% endfor %}</table>
<h3>Beliefs along the observed path</h3>
<table id="timeline-beliefs"><tr><th>after round</th><th>date</th>{% for c in timeline.belief_cols %}<th>{{ c|e }}</th>{% endfor %}</tr>
{% for row in timeline.belief_rows %}<tr><td>{{ row.round }}</td><td>{{ row.date }}</td>{% for v in row.vals %}<td class="num" data-value="{{ v }}">{{ '%.3f'|format(v) }}</td>{% endfor %}</tr>
{% endfor %}</table>
<h3>Scripted events</h3>
<table id="timeline-events"><tr><th>round</th><th>date</th><th>actor</th><th>action</th>{% if timeline.has_label %}<th>event</th>{% endif %}</tr>
{% for e in timeline.events %}<tr><td>{{ e.round }}</td><td>{{ e.date|e }}</td><td>{{ e.actor|e }}</td><td>{{ e.action|e }}</td>{% if timeline.has_label %}<td>{{ e.label|e }}</td>{% endif %}</tr>
{% endfor %}</table>
{% else %}<p>No timeline was replayed for this scenario.</p>{% endif %}

<h2 id="claims">Claims</h2>
<p>Each claim compares a metric between two arms simulated with the same seed (common random numbers):
difference = treatment − baseline with a {{ level_pct }} confidence interval; the verdict follows the interval.
Robustness: in each of several draws from the scenario's stated parameter uncertainty (each re-solved and re-simulated), the claim is judged by that draw's own interval;
the table gives the share of draws in which it holds (with a Wilson {{ level_pct }} interval), the share in which it fails, and the parameter whose sampled values rank-correlate most with the difference (Spearman ρ; per-draw rows in <code>robustness.parquet</code>).</p>
<table id="claims-table"><tr><th>claim</th><th>seed file and quote</th><th>metric</th><th>treatment</th><th>baseline</th>
<th>treatment value</th><th>baseline value</th><th>difference</th><th>CI</th><th>verdict</th><th>robustness</th><th>most influential parameter</th></tr>
{% for c in claims %}<tr class="claim {{ c.verdict }}" data-claim="{{ c.claim|e }}"><td>{{ c.claim|e }}</td>
<td>{% if c.seed %}<code>{{ c.seed|e }}</code>{% endif %}{% if c.quote %}<br><q>{{ c.quote|e }}</q>{% endif %}</td>
<td>{{ c.metric|e }} ({{ c.expect }}{% if c.margin %} by &gt; {{ c.margin }}{% endif %})</td><td>{{ c.treatment|e }}</td><td>{{ c.baseline|e }}</td>
<td class="num" data-value="{{ c.treatment_value }}">{{ '%.4f'|format(c.treatment_value) }}</td>
<td class="num" data-value="{{ c.baseline_value }}">{{ '%.4f'|format(c.baseline_value) }}</td>
<td class="num" data-value="{{ c.difference }}">{{ '%+.4f'|format(c.difference) }}</td>
<td class="num">[{{ '%+.4f'|format(c.ci_low) }}, {{ '%+.4f'|format(c.ci_high) }}]</td>
<td class="verdict">{{ c.verdict }}</td>
<td class="num robustness" data-robustness="{{ c.robustness }}">{% if c.robustness is not none %}holds {{ '%.0f%%'|format(100 * c.robustness) }} [{{ '%.0f%%'|format(100 * c.robustness_low) }}, {{ '%.0f%%'|format(100 * c.robustness_high) }}]<br>fails {{ '%.0f%%'|format(100 * c.robustness_fails) }} of {{ c.robustness_draws }}{% else %}–{% endif %}</td>
<td class="influential">{% if c.influential %}<code>{{ c.influential|e }}</code> (ρ = {{ '%+.2f'|format(c.influential_rho) }}){% else %}–{% endif %}</td></tr>
{% endfor %}</table>
</body></html>
"""


def render_report(study: Any) -> str:
    """The report of `study` (a `crisislab.analysis.Study`) as one HTML string (figures as data URIs)."""
    from crisislab._version import __version__

    o = study.outcomes
    outcomes = [
        {"id": r.outcome, "count": int(r.runs), "p": float(r.probability), "lo": float(r.ci_low), "hi": float(r.ci_high)}
        for r in o.itertuples(index=False)
    ]
    casualties = [{"label": r.quantity, "value": float(r.mean_per_run)} for r in study.casualties.itertuples(index=False)]
    fan = study.fan
    qcols = [c for c in fan.columns if c.startswith("q")]
    qs = tuple(float(c[1:]) for c in qcols)
    series = {c: study.beliefs[c].to_numpy() for c in study.beliefs.columns if c != "round"}
    figs = {
        "outcomes": fig.outcome_bars(list(o["outcome"]), o["probability"].to_numpy(), o["ci_low"].to_numpy(), o["ci_high"].to_numpy()),
        "fan": fig.fan_chart(study.fan_var, fan[qcols].to_numpy(), fan["mean"].to_numpy(), qs),
        "beliefs": fig.belief_trajectories(series),
        "timeline": "",
    }
    tl = None
    timeline = study.replay
    if timeline is not None:
        figs["timeline"] = fig.loglik_histogram(timeline.sim_loglik, np.array([timeline.rank_loglik]))
        wide = study.replay_beliefs
        cols = [c for c in wide.columns if c not in ("round", "date")]
        events = timeline.events
        tl = {
            "n_events": len(events),
            "source": timeline.source,
            "unobserved": ", ".join(timeline.unobserved_actors) or "no actor",
            "rounds": timeline.rounds,
            "loglik": timeline.loglik,
            "p_ended_early": timeline.p_ended_early,
            "percentile": timeline.percentile,
            "n_simulated": timeline.n_simulated,
            "impossible": timeline.impossible,
            "scores": [r._asdict() for r in timeline.scores.itertuples(index=False)],
            "belief_cols": cols,
            "belief_rows": [
                {"round": int(r["round"]), "date": r["date"], "vals": [float(r[c]) for c in cols]} for _, r in wide.iterrows()
            ],
            "has_label": "note" in events.columns,
            "events": [
                {
                    "round": int(e["round"]),
                    "date": str(e.get("date", "")),
                    "actor": e["actor"],
                    "action": e["action"],
                    "label": str(e.get("note", "")),
                }
                for _, e in events.iterrows()
            ],
        }
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE).render(
        title=study.title,
        description=study.description,
        scenario_id=study.scenario_id,
        n_runs=study.runs,
        seed=study.seed,
        horizon=study.horizon,
        run_steps=study.run_steps,
        version=__version__,
        solver=study.solver,
        level_pct=f"{study.level:.0%}",
        outcomes=outcomes,
        casualties=casualties,
        fan_var=study.fan_var,
        figs=figs,
        paths=[{"path": r.path, "count": int(r.runs)} for r in study.top_paths.itertuples(index=False)],
        timeline=tl,
        claims=[c.as_row() for c in study.claims],
    )


REPORT_FILES = ("results.parquet", "claims.csv", "robustness.parquet", "report.html")


def write_report(study: Any, out_dir: str | Path) -> Path:
    """Write the study's files into `out_dir`: results.parquet (with the study's provenance in its
    metadata, see `Results.to_parquet`), claims.csv (when the scenario states claims; an older one
    is removed otherwise), robustness.parquet and report.html; returns the report's path.

    The files are written as one unit (`crisislab._output.writing_directory`): into a staging
    directory beside `out_dir`, then moved into place together. A failure at any point, a full
    disk included, leaves `out_dir` as it was (and raises `EnvironmentFault` for an `OSError`);
    other entries of `out_dir` are kept.
    """
    from crisislab._output import writing_directory

    html = render_report(study)
    out = Path(out_dir)
    with writing_directory(out, REPORT_FILES) as stage:
        study.results.to_parquet(stage / "results.parquet", **study.provenance)
        if study.claims:
            study.claims_table.to_csv(stage / "claims.csv", index=False)
        study.robustness.to_parquet(stage / "robustness.parquet", index=False)
        (stage / "report.html").write_text(html, encoding="utf-8")
    return out / "report.html"
