"""Figures of a study: one description of each figure's data, drawn twice — interactively with
plotly.js in the HTML report (hover values, legend toggles, buttons between a claim's arms) and
statically with matplotlib for papers (SVG, PDF).

`FigureSpec` holds already computed numbers (from the study's tables); `plotly_json` and
`static_figure` only draw them, so the exported file shows what the report shows. Time axes are
calendar dates where the scenario has a calendar (`x_dates`), rounds otherwise. Matplotlib is used
through `Figure` objects, never pyplot's global state.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["FigureSpec", "Trace", "plotly_json", "static_figure"]

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


@dataclass(frozen=True)
class Trace:
    """One series. `kind`: "line" (lines and markers), "bar" (bars; `y_low`/`y_high` as error
    bars), "band" (the area between `y_low` and `y_high`; `y` unused), "points" (markers; with
    `y_low`/`y_high` as error bars). `x`: dates (ISO strings), numbers or category labels.
    `hover`: one text per point (optional). `visible`: drawn at first (the buttons switch views)."""

    name: str
    x: Sequence[Any]
    y: Sequence[float]
    kind: Literal["line", "bar", "band", "points"] = "line"
    y_low: Sequence[float] | None = None
    y_high: Sequence[float] | None = None
    color: str | None = None
    dash: bool = False
    hover: Sequence[str] | None = None
    visible: bool = True


@dataclass(frozen=True)
class FigureSpec:
    """A figure: `id` (its file name stem and the HTML element id), title, axis labels, traces.
    `views`: buttons, each (label, which traces are visible); `y_range`: fixed y limits;
    `horizontal`: categories down the y axis and values along x (for long category labels)."""

    id: str
    title: str
    x_label: str
    y_label: str
    traces: tuple[Trace, ...]
    x_dates: bool = False
    y_range: tuple[float, float] | None = None
    views: tuple[tuple[str, tuple[bool, ...]], ...] = field(default=())
    height: int = 380
    horizontal: bool = False


def _rgba(color: str, alpha: float) -> str:
    c = color.lstrip("#")
    r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _err(t: Trace) -> dict[str, Any] | None:
    if t.kind == "band" or t.y_low is None or t.y_high is None:
        return None
    y = np.asarray(t.y, dtype=np.float64)
    return {"type": "data", "symmetric": False, "array": (np.asarray(t.y_high, dtype=np.float64) - y).tolist(),
            "arrayminus": (y - np.asarray(t.y_low, dtype=np.float64)).tolist(), "thickness": 1.5, "width": 5}  # fmt: skip


def _plotly_traces(t: Trace, color: str) -> list[dict[str, Any]]:
    common = {"name": t.name, "legendgroup": t.name, "visible": bool(t.visible)}
    x = list(t.x)
    if t.kind == "band":
        upper = {**common, "type": "scatter", "x": x, "y": list(t.y_high or ()), "mode": "lines", "line": {"width": 0},
                 "showlegend": False, "hoverinfo": "skip"}  # fmt: skip
        lower = {**common, "type": "scatter", "x": x, "y": list(t.y_low or ()), "mode": "lines", "line": {"width": 0},
                 "fill": "tonexty", "fillcolor": _rgba(color, 0.25), "hovertemplate": "%{x}: %{y:.3g}<extra>" + t.name + " (low)</extra>"}  # fmt: skip
        return [upper, lower]
    out: dict[str, Any] = {**common, "x": x, "y": list(t.y)}
    if t.kind == "bar":
        out.update(type="bar", marker={"color": color})
    else:
        out.update(type="scatter", mode="lines+markers" if t.kind == "line" else "markers",
                   line={"color": color, "dash": "dash" if t.dash else "solid"}, marker={"color": color, "size": 7})  # fmt: skip
    err = _err(t)
    if err is not None:
        out["error_y"] = {**err, "color": "#333"}
    if t.hover is not None:
        out.update(hovertext=list(t.hover), hovertemplate="%{hovertext}<extra></extra>")
    return [out]


def _transpose(tr: dict[str, Any]) -> dict[str, Any]:
    """A trace drawn with categories on the y axis (long labels stay readable)."""
    tr = dict(tr)
    tr["x"], tr["y"] = tr.get("y"), tr.get("x")
    if "error_y" in tr:
        tr["error_x"] = tr.pop("error_y")
    if tr.get("type") == "bar":
        tr["orientation"] = "h"
    return tr


def _colors(spec: FigureSpec) -> list[str]:
    return [t.color or PALETTE[i % len(PALETTE)] for i, t in enumerate(spec.traces)]


def plotly_json(spec: FigureSpec) -> str:
    """The figure as plotly.js `{data, layout}` JSON (safe to embed in a <script>)."""
    from plotly.utils import PlotlyJSONEncoder

    data: list[dict[str, Any]] = []
    owner: list[int] = []  # which spec trace each plotly trace draws (a band draws two)
    for i, (t, c) in enumerate(zip(spec.traces, _colors(spec), strict=True)):
        for tr in _plotly_traces(t, c):
            data.append(_transpose(tr) if spec.horizontal else tr)
            owner.append(i)
    layout: dict[str, Any] = {
        "title": {"text": spec.title, "font": {"size": 15}},
        "xaxis": {"title": {"text": spec.x_label}, "automargin": True, **({"type": "date"} if spec.x_dates else {})},
        "yaxis": {"title": {"text": spec.y_label}, "automargin": True, **({"range": list(spec.y_range)} if spec.y_range else {})},
        # the legend at the foot of the figure, below the x axis's title whatever the tick labels take
        "legend": {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "font": {"size": 12}},
        "margin": {"l": 60, "r": 20, "t": 50, "b": 110},
        "height": spec.height + 60,
        "barmode": "group",
        "hovermode": "closest",
        "font": {"size": 13},
    }
    if spec.horizontal:
        layout["xaxis"], layout["yaxis"] = layout["yaxis"], layout["xaxis"]
        layout["yaxis"]["autorange"] = "reversed"  # first category on top
        layout["xaxis"]["zeroline"] = True
    if spec.views:
        layout["updatemenus"] = [{
            "type": "buttons", "direction": "right", "x": 0, "xanchor": "left", "y": 1.18, "yanchor": "top",
            "buttons": [{"label": label, "method": "restyle", "args": [{"visible": [vis[o] for o in owner]}]}
                        for label, vis in spec.views],
        }]  # fmt: skip
        layout["margin"]["t"] = 90
    text = json.dumps({"data": data, "layout": layout}, cls=PlotlyJSONEncoder)
    return text.replace("</", "<\\/")


def _xs(spec: FigureSpec, t: Trace) -> Any:
    if spec.x_dates:
        return np.array([np.datetime64(str(x)[:10]) for x in t.x])
    return list(t.x)


def static_figure(spec: FigureSpec, fmt: Literal["svg", "pdf"]) -> bytes:
    """The figure's first view drawn with matplotlib, as SVG or PDF bytes (for papers)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    bars = [t for t in spec.traces if t.kind == "bar" and t.visible]
    categories: list[Any] = []
    for t in spec.traces:
        if not t.visible or spec.x_dates or t.kind == "band":
            continue
        if any(isinstance(x, str) for x in t.x):
            categories += [x for x in t.x if x not in categories]
    width = 0.8 / max(1, len(bars))
    nb = 0
    for t, c in zip(spec.traces, _colors(spec), strict=True):
        if not t.visible:
            continue
        x = _xs(spec, t)
        if categories:
            x = np.array([categories.index(v) for v in t.x], dtype=np.float64)
        err = _err(t)
        yerr = None if err is None else [err["arrayminus"], err["array"]]
        if spec.horizontal and t.kind in ("bar", "points"):
            xerr = yerr
            pos = np.asarray(x, dtype=float)
            if t.kind == "bar":
                ax.barh(pos + (nb - (len(bars) - 1) / 2) * width, t.y, height=width, color=c, label=t.name, xerr=xerr, capsize=3)
                nb += 1
            else:
                ax.errorbar(t.y, pos, xerr=xerr, fmt="o", color=c, capsize=3, label=t.name)
            continue
        if t.kind == "band":
            ax.fill_between(x, np.asarray(t.y_low, dtype=float), np.asarray(t.y_high, dtype=float), color=c, alpha=0.25, label=t.name, step=None)
        elif t.kind == "bar":
            ax.bar(np.asarray(x, dtype=float) + (nb - (len(bars) - 1) / 2) * width, t.y, width=width, color=c, label=t.name,
                   yerr=yerr, capsize=3)  # fmt: skip
            nb += 1
        elif t.kind == "points":
            ax.errorbar(x, t.y, yerr=yerr, fmt="o", color=c, capsize=3, label=t.name)
        else:
            ax.plot(x, t.y, marker=".", color=c, ls="--" if t.dash else "-", label=t.name)
    if categories and spec.horizontal:
        ax.set_yticks(np.arange(len(categories)), [str(v) for v in categories], fontsize=9)
        ax.invert_yaxis()
        ax.axvline(0.0, color="#555", lw=0.8)
    elif categories:
        ax.set_xticks(np.arange(len(categories)), [str(v) for v in categories], rotation=20, ha="right", fontsize=9)
    ax.set_title(spec.title, fontsize=11)
    ax.set_xlabel(spec.y_label if spec.horizontal else spec.x_label)
    ax.set_ylabel(spec.x_label if spec.horizontal else spec.y_label)
    if spec.y_range:
        ax.set_ylim(*spec.y_range)
    ax.grid(alpha=0.3)
    if any(t.visible for t in spec.traces):
        ax.legend(fontsize=9, loc="best")
    if spec.x_dates:
        ax.tick_params(axis="x", labelrotation=30)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    return buf.getvalue()
