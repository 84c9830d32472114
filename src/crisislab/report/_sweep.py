"""The sweep section of a report: sensitivity indices as tornado plots, PRIM boxes in words.

`sweep_section(sweep)` formats a finished `crisislab.analysis.Sweep` as an HTML fragment (one
`<section>`, self-contained: plots are inline SVG drawn with matplotlib's `Figure`, never pyplot's
global state) for a larger report to include; `sweep_page(sweep)` wraps it in a page of its own
(what `crisislab sweep` writes to DIR/sweep-report.html). Nothing is computed here but the order
in which bars are drawn.
"""

from __future__ import annotations

import io
from html import escape
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["sweep_page", "sweep_section"]

# The index a tornado bar shows, per method: the total effect where there is one.
_MAIN = {"sobol": "ST", "morris": "mu_star", "rbd_fast": "S1"}
_LABEL = {
    "ST": "total Sobol index S_T",
    "S1": "first-order index S_1",
    "mu_star": "Morris μ* (mean |elementary effect|)",
}
_MEANING = {
    "sobol": "S₁ is the share of the output's variance a parameter explains alone, S_T the share it is involved in "
             "(alone or with others); intervals are bootstrap intervals (SALib).",
    "morris": "μ* is the mean absolute elementary effect (Morris): the change of the output, in its own units, when "
              "one parameter moves from the bottom to the top of its distribution (in quantiles) with the others held; "
              "μ is the same with signs, σ their spread, large where the parameter interacts or acts non-linearly; "
              "μ*'s intervals are bootstrap intervals (SALib).",
    "rbd_fast": "S₁ (RBD-FAST on the Latin hypercube) is the share of the output's variance a parameter explains alone; "
                "intervals are bootstrap intervals (SALib).",
}  # fmt: skip


def _svg(fig: Any) -> str:
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    import matplotlib

    FigureCanvasSVG(fig)
    buf = io.StringIO()
    # a fixed salt for the SVG's element ids: the same sweep gives the same bytes
    with matplotlib.rc_context({"svg.hashsalt": "crisislab"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _tornado(rows: pd.DataFrame, index: str) -> str:
    """Horizontal bars of one output's `index` per parameter, largest on top, with interval whiskers."""
    from matplotlib.figure import Figure

    rows = rows.sort_values("value", key=lambda s: s.fillna(-np.inf), ascending=True)
    v = rows["value"].to_numpy(np.float64)
    lo = rows["ci_low"].to_numpy(np.float64)
    hi = rows["ci_high"].to_numpy(np.float64)
    fig = Figure(figsize=(6.4, 0.45 * len(rows) + 0.9))
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    ax.barh(y, np.nan_to_num(v), color="#4c72b0")
    has = np.isfinite(lo) & np.isfinite(hi)
    if has.any():
        ax.errorbar(v[has], y[has], xerr=[v[has] - lo[has], hi[has] - v[has]], fmt="none", ecolor="black", capsize=3)
    ax.set_yticks(y, [str(p) for p in rows["parameter"]], fontsize=8)
    ax.set_xlabel(_LABEL.get(index, index), fontsize=8)
    ax.axvline(0.0, color="grey", linewidth=0.6)
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)


def _fmt(x: Any) -> str:
    return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.3g}"


def sweep_section(sweep: Any) -> str:
    """The sweep as an HTML `<section>`: what was swept and how, draws done and failed, a tornado
    plot and a table of indices per output (outcome shares, then claims' differences), and each
    claim's PRIM boxes in words."""
    s = sweep
    parts = [f"<section class='sweep'><h2>Sensitivity and scenario discovery: {escape(s.scenario_id)}</h2>"]
    parts.append(
        f"<p>{escape(s.design)} design, n = {s.n}: {len(s.draws)} parameter draws ({s.done} done, {s.failed} failed), "
        f"each re-solved and simulated with {s.runs:,} runs per arm and seed {s.seed} (the same random numbers in every "
        f"draw and arm).</p>"
    )
    factors = "".join(
        f"<li><code>{escape(f.path)}</code>: {escape(_dist_text(f.dist))} "
        f"({'the scenario’s stated uncertainty' if f.origin == 'uncertainty' else 'range given for the sweep'})</li>"
        for f in s.space.factors
    )
    parts.append(f"<p>Parameters swept:</p><ul>{factors}</ul>")
    if s.notes:
        parts.append("<p>Dependent inputs:</p><ul>" + "".join(f"<li>{escape(n)}</li>" for n in s.notes) + "</ul>")
    if s.failed:
        errs = s.draws.loc[s.draws["status"] == "failed", ["draw", "error"]].head(10)
        parts.append("<p>Failed draws (first 10):</p><ul>" + "".join(
            f"<li>draw {int(r.draw)}: {escape(str(r.error))}</li>" for r in errs.itertuples()) + "</ul>")  # fmt: skip
    ind = s.indices
    if len(ind):
        method = str(ind["method"].iloc[0])
        main = _MAIN[method]
        parts.append(f"<h3>Which parameters matter</h3><p>{escape(_MEANING[method])}</p>")
        for output, rows in ind.groupby("output", sort=False):
            main_rows = rows[rows["index"] == main]
            parts.append(f"<h4>{escape(_output_text(str(output)))}</h4>")
            notes = sorted({str(n) for n in rows["note"] if isinstance(n, str) and n})
            if main_rows["value"].notna().any():
                parts.append(f"<figure>{_tornado(main_rows, main)}</figure>")
            cell = {(r.parameter, r.index): r for r in rows.itertuples(index=False)}
            heads = [c for c in ("S1", "ST", "mu_star", "mu", "sigma") if c in set(rows["index"])]
            body = ""
            for p in rows["parameter"].drop_duplicates():
                cells = []
                for c in heads:
                    r = cell.get((p, c))
                    if r is None:
                        cells.append("<td>–</td>")
                        continue
                    ci = f" [{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]" if np.isfinite(r.ci_low) and np.isfinite(r.ci_high) else ""
                    cells.append(f"<td>{_fmt(r.value)}{ci}</td>")
                body += f"<tr><td><code>{escape(str(p))}</code></td>{''.join(cells)}</tr>"
            parts.append("<table><tr><th>parameter</th>" + "".join(f"<th>{escape(c)}</th>" for c in heads) + f"</tr>{body}</table>")
            if notes:
                parts.append("<p class='note'>" + escape("; ".join(notes)) + "</p>")
    if len(s.boxes):
        parts.append("<h3>Where each claim holds and fails (PRIM boxes)</h3><p>Coverage: the share of the draws with "
                     "that verdict that fall in the box; density: the share of the box's draws with that verdict; "
                     "the percentage: the box's share of all finished draws.</p><ul>")  # fmt: skip
        for claim, rows in s.boxes.groupby("claim", sort=False):
            texts = rows.drop_duplicates(["target"])["description"]
            parts.append(f"<li><b>{escape(str(claim))}</b>: " + "; ".join(escape(str(t)) for t in texts) + "</li>")
        parts.append("</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def _output_text(output: str) -> str:
    kind, _, name = output.partition(":")
    return f"share of runs ending in {name}" if kind == "share" else f"claim {name}: paired difference (treatment − baseline)"


def _dist_text(dist: Any) -> str:
    data = dist.model_dump(mode="json", exclude_none=True)
    return ", ".join(f"{k} {v}" for k, v in data.items())


def sweep_page(sweep: Any) -> str:
    """A self-contained HTML page holding `sweep_section(sweep)`."""
    style = ("body{font-family:system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;color:#222}"
             "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem;font-size:.85rem}"
             "figure{margin:.5rem 0}.note{color:#666;font-size:.85rem}")  # fmt: skip
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>crisislab sweep: {escape(sweep.scenario_id)}"
            f"</title><style>{style}</style></head><body>{sweep_section(sweep)}</body></html>\n")  # fmt: skip
