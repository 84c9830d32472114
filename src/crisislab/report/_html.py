"""The self-contained HTML report of a study: findings first, interactive figures, no network.

`render_report(study)` formats a `crisislab.analysis.Study` into one HTML string: the findings
(each claim in plain words with its seed, quote, verdict, difference, interval and robustness, and
a flag where it cannot fail), the outcome distribution with Monte Carlo and parameter uncertainty,
how sure the model is (λ sensitivity, solver diagnostics, the replay of the record), the simulated
crisis, the real timeline, and an appendix of sources and assumptions. Figures are plotly.js
charts (hover values, legend toggles, buttons between a claim's arms) with plotly.js inlined once,
so the file works offline. It computes no statistic. Numeric cells carry their unrounded value in a
`data-value` attribute so that tests (and readers) can check them against the study's tables.

`write_report(study, out_dir, formats)` also writes the claims and outcome tables as Markdown or
LaTeX and every figure as SVG or PDF (drawn by matplotlib from the same numbers).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2

from crisislab.report import _build, _export
from crisislab.report._figures import plotly_json, static_figure

__all__ = ["FORMATS", "REPORT_FILES", "parse_formats", "render_report", "write_report"]

FORMATS = ("html", "md", "tex", "svg", "pdf")
FIGURE_IDS = ("outcomes", "claims", "lambda", "fan", "beliefs", "intensity", "real-path-beliefs", "replay-intensity")

_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>crisislab report: {{ title|e }}</title>
<style>
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:1.2em auto;padding:0 1em;color:#222;line-height:1.4;font-size:15px}
h1{font-size:1.45em;margin:.2em 0} h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em} h3{font-size:1.02em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em;width:100%;table-layout:fixed}
th,td{border:1px solid #ddd;padding:.3em .45em;vertical-align:top;overflow-wrap:anywhere;word-break:normal}
th{background:#f4f4f4;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
.holds{background:#e6f4e6} .fails{background:#f8e2e2} .undetermined{background:#f7f2de} .cannot-fail{background:#ececec}
.badge{display:inline-block;padding:0 .4em;border-radius:3px;font-weight:600;font-size:.9em}
.badge.holds{color:#1d6b1d} .badge.fails{color:#a11} .badge.undetermined{color:#806000} .badge.cannot-fail{color:#444}
.meta{color:#555;font-size:.88em} q{font-style:italic} .small{font-size:.85em;color:#555}
details{margin:.4em 0} summary{cursor:pointer;color:#1a4f8a}
.figure{width:100%;min-height:300px;margin:.6em 0}
code{font-size:.92em;overflow-wrap:anywhere}
ul.diag li{margin:.2em 0}
</style>
<script>{{ plotly_js }}</script>
</head><body>
<h1>{{ title|e }}</h1>
<p class="meta">Scenario <code>{{ scenario_id|e }}</code> · {{ n_runs }} runs · seed {{ seed }} · horizon {{ horizon }} rounds{% if calendar %} ({{ calendar|e }}){% endif %}
· crisislab {{ version }}{% if solver %} · {{ solver|e }}{% endif %}</p>

<section id="findings">
<h2>Findings</h2>
{% if claims %}
<p>{{ summary|e }} Each claim compares a metric between two arms simulated on the same runs (common random numbers); the verdict follows the {{ level_pct }} interval of treatment − baseline.{% if any_robust %} Robustness: the share of parameter draws (each re-solved and re-simulated) in which the claim still holds, and in which it fails.{% endif %}</p>
<table id="findings-table">
<colgroup><col style="width:42%"><col style="width:12%"><col style="width:22%"><col style="width:24%"></colgroup>
<tr><th>claim (seed, quote)</th><th>verdict</th><th>treatment − baseline [{{ level_pct }} CI]</th><th>robustness</th></tr>
{% for c in claims %}<tr class="finding {{ c.shown_verdict|replace(' ', '-') }}" data-finding="{{ c.claim|e }}">
<td><b>{{ c.label|e }}</b><br>
{% if c.quote %}<q>{{ c.quote|e }}</q><br>{% endif %}
<span class="plain">{{ c.metric|e }}: {{ '%.4g'|format(c.treatment_value) }} with the treatment, {{ '%.4g'|format(c.baseline_value) }} in the baseline (expected {{ c.expect|e }}).</span><br>
<span class="small">{% if c.source.title %}{{ c.source.title|e }}{% if c.source.who %} ({{ c.source.who|e }}){% endif %}, {% endif %}seed file <code>{{ c.source.file|e }}</code></span>
<details><summary>what is compared</summary><span class="small">{{ c.metric|e }}, expected {{ c.expect|e }}{% if c.margin %} by more than {{ c.margin }}{% endif %}.<br>
Treatment: {{ c.treatment|e }} → {{ '%.4f'|format(c.treatment_value) }}.<br>Baseline: {{ c.baseline|e }} → {{ '%.4f'|format(c.baseline_value) }}.</span></details></td>
<td><span class="badge {{ c.shown_verdict|replace(' ', '-') }}">{{ c.shown_verdict }}</span>{% if c.degenerate %}<br><span class="small flag">⚑ {{ c.why|e }}{% if c.shown_verdict == 'cannot fail' %}: settled by how the claim is written, not by the model{% endif %}</span>{% endif %}</td>
<td class="num" data-value="{{ c.difference }}">{{ '%+.4f'|format(c.difference) }}<br><span class="small">[{{ '%+.4f'|format(c.ci_low) }}, {{ '%+.4f'|format(c.ci_high) }}]</span></td>
<td class="robustness" data-robustness="{{ c.robustness }}">{% if c.robustness is not none %}holds in {{ '%.0f%%'|format(100 * c.robustness) }} [{{ '%.0f%%'|format(100 * c.robustness_low) }}, {{ '%.0f%%'|format(100 * c.robustness_high) }}], fails in {{ '%.0f%%'|format(100 * c.robustness_fails) }}{% if c.robustness_cannot_fail %}, cannot fail in {{ '%.0f%%'|format(100 * c.robustness_cannot_fail) }}{% endif %} of {{ c.robustness_draws }} draws{% if c.influential %}<br><span class="small">most influential parameter: <code>{{ c.influential|e }}</code> (ρ = {{ '%+.2f'|format(c.influential_rho) }})</span>{% endif %}{% else %}not assessed{% endif %}</td></tr>
{% endfor %}</table>
{% else %}<p>The scenario states no claims.</p>{% endif %}
</section>

<section id="outcomes">
<h2>Outcome distribution</h2>
<p>Share of runs ending in each outcome. Two uncertainties: the Monte Carlo interval ({{ level_pct }} Wilson, from {{ n_runs }} runs at the stated parameters) and
{% if draws %}the spread over {{ draws }} draws of {% if robustness_of == 'estimated' %}the parameters estimated from the record, over their intervals{% else %}the scenario's stated parameter uncertainty{% endif %} (each re-solved and re-simulated): the parameters move the shares far more than sampling does when the two columns differ.{% else %}no parameter uncertainty (no robustness draws were made: <code>--robustness</code> &gt; 0 and a scenario with claims and stated <code>uncertainty</code> give them).{% endif %}</p>
<table id="outcome-table"><tr><th>outcome</th><th>runs</th><th>probability</th><th>Monte Carlo CI low</th><th>Monte Carlo CI high</th>{% if draws %}<th>parameter draws: min</th><th>median</th><th>max</th>{% endif %}</tr>
{% for o in outcomes %}<tr data-outcome="{{ o.id|e }}"><td>{{ o.id|e }}</td><td class="num" data-value="{{ o.count }}">{{ o.count }}</td>
<td class="num" data-value="{{ o.p }}">{{ '%.4f'|format(o.p) }}</td><td class="num" data-value="{{ o.lo }}">{{ '%.4f'|format(o.lo) }}</td>
<td class="num" data-value="{{ o.hi }}">{{ '%.4f'|format(o.hi) }}</td>{% if draws %}<td class="num" data-value="{{ o.d_lo }}">{{ '%.4f'|format(o.d_lo) }}</td><td class="num" data-value="{{ o.d_med }}">{{ '%.4f'|format(o.d_med) }}</td><td class="num" data-value="{{ o.d_hi }}">{{ '%.4f'|format(o.d_hi) }}</td>{% endif %}</tr>
{% endfor %}</table>
{{ fig('outcomes') }}
</section>

<section id="certainty">
<h2>How sure the model is</h2>
<h3>Sensitivity to the precision λ</h3>
{% if lam_rows %}<p>Each actor's logit precision λ (how deliberately it chooses) was drawn with the other uncertain parameters; the table gives each outcome's share at the draws with the lowest and highest λ and the rank correlation over all {{ draws }} draws.</p>
<table id="lambda-table"><tr><th>parameter</th><th>outcome</th><th>λ low → share</th><th>λ high → share</th><th>Spearman ρ</th></tr>
{% for r in lam_rows %}<tr><td><code>{{ r.parameter|e }}</code></td><td>{{ r.outcome|e }}</td><td class="num">{{ '%.3g'|format(r.value_low) }} → {{ '%.4f'|format(r.share_at_low) }}</td><td class="num">{{ '%.3g'|format(r.value_high) }} → {{ '%.4f'|format(r.share_at_high) }}</td><td class="num">{% if r.rho is not none %}{{ '%+.2f'|format(r.rho) }}{% else %}–{% endif %}</td></tr>
{% endfor %}</table>
{{ fig('lambda') }}
{% else %}<p>Not assessed: no robustness draws varied λ (the scenario states no <code>uncertainty</code> on <code>lam</code>, or <code>--robustness 0</code>).</p>{% endif %}
{% if claims %}{{ fig('claims') }}{% endif %}
{% if other_rows %}<details><summary>Other parameters, by how strongly an outcome share follows them ({{ other_rows|length }} rows)</summary>
<table id="sensitivity-table"><tr><th>parameter</th><th>outcome</th><th>low → share</th><th>high → share</th><th>Spearman ρ</th></tr>
{% for r in other_rows %}<tr><td><code>{{ r.parameter|e }}</code></td><td>{{ r.outcome|e }}</td><td class="num">{{ '%.3g'|format(r.value_low) }} → {{ '%.4f'|format(r.share_at_low) }}</td><td class="num">{{ '%.3g'|format(r.value_high) }} → {{ '%.4f'|format(r.share_at_high) }}</td><td class="num">{{ '%+.2f'|format(r.rho) }}</td></tr>
{% endfor %}</table></details>{% endif %}
<h3>Solver diagnostics</h3>
{% if diagnostics %}<ul class="diag" id="diagnostics">{% for d in diagnostics %}<li>{{ d|e }}</li>{% endfor %}</ul>
{% else %}<p id="diagnostics">None: every stage fixed point converged{% if solver %} ({{ solver|e }}){% endif %}.</p>{% endif %}
<h3>The observed record replayed</h3>
{{ replay_html }}
</section>

<section id="simulated">
<h2>The simulated crisis</h2>
{{ fig('fan') }}
{{ fig('beliefs') }}
{{ fig('intensity') }}
<h3>Deaths and audience costs</h3>
<p>Mean per run, the share of runs with any, and the mean among the runs that ended in each outcome. Deaths are those of the simulated exchanges until a run ends, plus the casualties the scenario states for the outcome the run ends in (<code>outcomes[].casualties</code>, such as a war's), drawn when it ends; an outcome that states none adds nothing.{% if left_out %} Sides with no death in any run are left out: {{ left_out|join(', ')|e }}.{% endif %}</p>
<table id="casualty-table"><tr><th>quantity</th><th>mean per run</th><th>share of runs with any</th>{% for o in outcome_ids %}<th>mean if {{ o|e }}</th>{% endfor %}</tr>
{% for c in casualties %}<tr><td>{{ c.quantity|e }}</td><td class="num" data-value="{{ c.mean_per_run }}">{{ '%.4g'|format(c.mean_per_run) }}</td><td class="num">{{ '%.3f'|format(c.p_any) }}</td>{% for o in outcome_ids %}{% set v = c['mean_if_' ~ o] %}<td class="num">{% if v == v %}{{ '%.4g'|format(v) }}{% else %}–{% endif %}</td>{% endfor %}</tr>
{% endfor %}</table>
<details><summary>Most frequent paths ({{ paths|length }})</summary>
<table id="path-table"><colgroup><col style="width:4%"><col style="width:72%"><col style="width:12%"><col style="width:12%"></colgroup><tr><th>#</th><th>path (round:action)</th><th>runs</th><th>share</th></tr>
{% for p in paths %}<tr><td>{{ loop.index }}</td><td>{{ p.path|e }}</td><td class="num" data-value="{{ p.count }}">{{ p.count }}</td><td class="num">{{ '%.2f%%'|format(100 * p.count / n_runs) }}</td></tr>
{% endfor %}</table></details>
</section>

<section id="claims">
<h2>Claims in detail</h2>
<details><summary>Every number of every claim ({{ claims|length }})</summary>
<table id="claims-table"><tr><th>claim</th><th>metric</th><th>treatment value</th><th>baseline value</th><th>difference</th><th>CI</th><th>verdict</th></tr>
{% for c in claims %}<tr class="claim {{ c.verdict }}" data-claim="{{ c.claim|e }}"><td>{{ c.claim|e }}</td><td>{{ c.metric|e }} ({{ c.expect }}{% if c.margin %} by &gt; {{ c.margin }}{% endif %})</td>
<td class="num" data-value="{{ c.treatment_value }}">{{ '%.4f'|format(c.treatment_value) }}</td>
<td class="num" data-value="{{ c.baseline_value }}">{{ '%.4f'|format(c.baseline_value) }}</td>
<td class="num" data-value="{{ c.difference }}">{{ '%+.4f'|format(c.difference) }}</td>
<td class="num">[{{ '%+.4f'|format(c.ci_low) }}, {{ '%+.4f'|format(c.ci_high) }}]</td><td class="verdict">{{ c.verdict }}</td></tr>
{% endfor %}</table></details>
</section>

<section id="appendix">
<h2>Appendix: sources and assumptions</h2>
<h3>Sources ({{ sources|length }})</h3>
<table id="sources-table"><colgroup><col style="width:16%"><col style="width:8%"><col style="width:56%"><col style="width:20%"></colgroup>
<tr><th>id</th><th>kind</th><th>reference</th><th>citations (numbers and claims)</th></tr>
{% for s in sources %}<tr data-source="{{ s.id|e }}"><td><code>{{ s.id|e }}</code></td><td>{{ s.kind|e }}</td><td>{{ s.title|e }}{% if s.author %}. {{ s.author|e }}{% endif %}{% if s.outlet %}. <i>{{ s.outlet|e }}</i>{% endif %}{% if s.date %}, {{ s.date|e }}{% endif %}{% if s.pages %}, {{ s.pages|e }}{% endif %}{% if s.file %}. File <code>{{ s.file|e }}</code>{% endif %}{% if s.url %}. <code>{{ s.url|e }}</code>{% endif %}{% if s.note %} <span class="small">({{ s.note|e }})</span>{% endif %}</td><td class="num">{{ s.cited }}</td></tr>
{% endfor %}</table>
<h3>Numbers marked assumption ({{ assumptions|length }})</h3>
<table id="assumptions-table"><colgroup><col style="width:30%"><col style="width:12%"><col style="width:44%"><col style="width:14%"></colgroup>
<tr><th>parameter</th><th>value</th><th>assumption</th><th>uncertainty drawn from</th></tr>
{% for a in assumptions %}<tr><td><code>{{ a.parameter|e }}</code></td><td>{{ a.value|e }}</td><td>{{ a.assumption|e }}{% if a.sources %} <span class="small">[{{ a.sources|e }}]</span>{% endif %}</td><td>{{ a.uncertainty|e or '–' }}</td></tr>
{% endfor %}</table>
</section>
<script>
(function () {
  var figs = {{ figs_json }};
  Object.keys(figs).forEach(function (id) {
    var el = document.getElementById("fig-" + id);
    if (!el) return;
    var spec = figs[id];
    Plotly.newPlot(el, spec.data, spec.layout, {responsive: true, displaylogo: false,
      toImageButtonOptions: {format: "svg", filename: "crisislab-" + id}});
  });
})();
</script>
</body></html>
"""

_REPLAY_TEMPLATE = r"""{% if r is none %}<p>No record was replayed for this scenario.</p>{% else %}
<p id="replay-verdict">{{ r.sentence|e }}</p>
<p>The likelihood is exact: a forward pass over the hidden states, types and beliefs, with the chance results the record
observes (deaths, attribution, errors) conditioned on and everything it does not observe summed over (docs/replay.md).</p>
<h3>Does strategy predict better than no strategy?</h3>
<p>Scores of the one-step-ahead forecasts of each observed move: the model's, each actor's action frequencies in the record
(<i>empirical</i>), and a Markov chain on the actor's previous move (<i>markov</i>). Log score: higher is better; Brier: lower is better.</p>
<table id="replay-scores" style="width:auto;min-width:40%"><tr><th>predictor</th><th>sample</th><th>moves</th><th>log score</th><th>Brier</th></tr>
{% for s in r.scores %}<tr><td>{{ s.predictor }}</td><td>{{ s.sample }}</td><td class="num">{{ s.moves }}</td><td class="num" data-value="{{ s.log_score }}">{{ '%.2f'|format(s.log_score) }}</td><td class="num">{% if s.brier is not none %}{{ '%.3f'|format(s.brier) }}{% else %}–{% endif %}</td></tr>
{% endfor %}</table>
{{ fig('replay-intensity') }}
{{ fig('real-path-beliefs') }}
<details><summary>By round: log-likelihood, probability that the model ends the crisis, intensity</summary>
<table id="replay-rounds"><tr><th>round</th><th>start</th><th>log-likelihood</th><th>P(model ends it)</th><th>intensity: model</th><th>intensity: record</th></tr>
{% for x in r.rounds %}<tr><td>{{ x.round }}</td><td>{{ x.start }}</td><td class="num">{% if x.loglik is not none %}{{ '%.2f'|format(x.loglik) }}{% else %}–{% endif %}</td><td class="num">{{ '%.4f'|format(x.p_end) }}</td><td class="num">{% if x.model is not none %}{{ '%.2f'|format(x.model) }}{% endif %}</td><td class="num">{% if x.record is not none %}{{ '%.2f'|format(x.record) }}{% endif %}</td></tr>
{% endfor %}</table></details>
<details><summary>Beliefs along the observed record, as numbers</summary>
<table id="timeline-beliefs"><tr><th>after round</th><th>date</th>{% for c in r.belief_cols %}<th>{{ c|e }}</th>{% endfor %}</tr>
{% for row in r.belief_rows %}<tr><td>{{ row.round }}</td><td>{{ row.date }}</td>{% for v in row.vals %}<td class="num" data-value="{{ v }}">{{ '%.3f'|format(v) }}</td>{% endfor %}</tr>
{% endfor %}</table></details>
<details><summary>The record's events, in date order ({{ r.events|length }})</summary>
<table id="timeline-events"><colgroup><col style="width:7%"><col style="width:12%"><col style="width:10%"><col style="width:22%">{% if r.has_label %}<col style="width:49%">{% endif %}</colgroup>
<tr><th>round</th><th>date</th><th>actor</th><th>action</th>{% if r.has_label %}<th>event</th>{% endif %}</tr>
{% for e in r.events %}<tr><td>{{ e.round }}</td><td>{{ e.date|e }}</td><td>{{ e.actor|e }}</td><td>{{ e.action|e }}</td>{% if r.has_label %}<td>{{ e.label|e }}</td>{% endif %}</tr>
{% endfor %}</table></details>{% endif %}"""


def _env() -> jinja2.Environment:
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def _replay_html(study: Any, fig: Any) -> str:
    """The replay section: isolated here so that a new kind of replay needs changes in one place
    (`_build.replay_view` reads whatever fields the study's replay has)."""
    return _env().from_string(_REPLAY_TEMPLATE).render(r=_build.replay_view(study), fig=fig)


def _summary(claims: list[dict[str, Any]]) -> str:
    from collections import Counter

    n = Counter(c["shown_verdict"] for c in claims)
    parts = [f"{n[v]} {v}" for v in ("holds", "fails", "undetermined", "cannot fail") if n[v]]
    return f"{len(claims)} claim{'s' if len(claims) != 1 else ''}: " + ", ".join(parts) + "."


def render_report(study: Any) -> str:
    """The report of `study` (a `crisislab.analysis.Study`) as one HTML string (plotly.js inlined)."""
    from markupsafe import Markup
    from plotly.offline import get_plotlyjs

    from crisislab._version import __version__

    specs = {s.id: s for s in _build.figures(study)}

    def fig(fid: str) -> Markup:
        if fid not in specs:
            return Markup("")
        return Markup(f'<div class="figure" id="fig-{fid}" role="img" aria-label="{specs[fid].title}"></div>')

    figs_json = "{" + ",".join(f'"{k}":{plotly_json(v)}' for k, v in specs.items()) + "}"
    claims = _build.claim_rows(study)
    lam_rows, other_rows = _build.sensitivity_rows(study)
    outcomes = _build.outcome_rows(study)
    cal = ""
    if study.round_dates and study.round_dates[0]:
        import datetime as _dt

        # round_dates holds the start of each round and of the one after the horizon: the last round
        # ends the day before that.
        last_day = _dt.date.fromisoformat(study.round_dates[-1]) - _dt.timedelta(days=1)
        cal = f"rounds start {study.round_dates[0]}, last ends {last_day.isoformat()}"
    return _env().from_string(_TEMPLATE).render(
        title=study.title, scenario_id=study.scenario_id, n_runs=study.runs, seed=study.seed, horizon=study.horizon,
        calendar=cal, version=__version__, solver=study.solver, level_pct=f"{study.level:.0%}",
        claims=claims, summary=_summary(claims) if claims else "", any_robust=any(c["robustness"] is not None for c in claims),
        outcomes=outcomes, draws=outcomes[0]["draws"] if outcomes else 0, robustness_of=getattr(study, "robustness_of", "all"), lam_rows=lam_rows, other_rows=other_rows,
        diagnostics=list(study.diagnostics), replay_html=Markup(_replay_html(study, fig)),
        casualties=study.casualties.to_dict("records"), left_out=list(study.casualties_left_out),
        outcome_ids=[c[len("mean_if_"):] for c in study.casualties.columns if str(c).startswith("mean_if_")],
        paths=[{"path": r.path, "count": int(r.runs)} for r in study.top_paths.itertuples(index=False)],
        sources=study.sources.to_dict("records"), assumptions=study.assumptions.to_dict("records"),
        fig=fig, figs_json=Markup(figs_json), plotly_js=Markup(get_plotlyjs().replace("</script", "<\\/script")),
    )  # fmt: skip


def parse_formats(text: str | Iterable[str]) -> tuple[str, ...]:
    """`"html,md,tex"` (or a list) as a tuple of formats, each one of `FORMATS`; html is always written."""
    from crisislab.errors import UserError

    items = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    bad = [t for t in items if t not in FORMATS]
    if bad:
        raise UserError(f"format: {', '.join(map(repr, bad))} is not a report format (expected a comma-separated list of {', '.join(FORMATS)})")
    return tuple(dict.fromkeys(["html", *items]))


REPORT_FILES = (
    "results.parquet", "claims.csv", "robustness.parquet", "report.html",
    "claims.md", "outcomes.md", "claims.tex", "outcomes.tex",
    *(f"figure-{f}.{ext}" for f in FIGURE_IDS for ext in ("svg", "pdf")),
)  # fmt: skip


def write_report(study: Any, out_dir: str | Path, formats: str | Iterable[str] = ("html",)) -> Path:
    """Write the study's files into `out_dir`: results.parquet (with the study's provenance in its
    metadata, see `Results.to_parquet`), claims.csv (when the scenario states claims; an older one
    is removed otherwise), robustness.parquet and report.html; returns the report's path.

    `formats` adds exports: "md" and "tex" write the claims and outcome tables as Markdown
    (claims.md, outcomes.md) and LaTeX booktabs tabulars (claims.tex, outcomes.tex); "svg" and
    "pdf" write every figure (figure-<id>.svg / .pdf, drawn with matplotlib from the numbers the
    report plots). "html" is always written.

    The files are written as one unit (`crisislab._output.writing_directory`): into a staging
    directory beside `out_dir`, then moved into place together; exports not asked for this time are
    removed. A failure at any point, a full disk included, leaves `out_dir` as it was (and raises
    `EnvironmentFault` for an `OSError`); other entries of `out_dir` are kept.
    """
    from crisislab._output import writing_directory

    fmts = parse_formats(formats)
    html = render_report(study)
    specs = _build.figures(study) if {"svg", "pdf"} & set(fmts) else []
    out = Path(out_dir)
    with writing_directory(out, REPORT_FILES) as stage:
        study.results.to_parquet(stage / "results.parquet", **study.provenance)
        if study.claims:
            study.claims_table.to_csv(stage / "claims.csv", index=False)
        study.robustness.to_parquet(stage / "robustness.parquet", index=False)
        (stage / "report.html").write_text(html, encoding="utf-8")
        for fmt in ("md", "tex"):
            if fmt in fmts:
                if study.claims:
                    (stage / f"claims.{fmt}").write_text(_export.claims_table(study, fmt), encoding="utf-8")
                (stage / f"outcomes.{fmt}").write_text(_export.outcomes_table(study, fmt), encoding="utf-8")
        for spec in specs:
            for fmt in ("svg", "pdf"):
                if fmt in fmts:
                    (stage / f"figure-{spec.id}.{fmt}").write_bytes(static_figure(spec, fmt))  # type: ignore[arg-type]
    return out / "report.html"
