"""Reports: the self-contained HTML report of a study, its exports and the files beside it.

`render_report(study)` returns the HTML of a `crisislab.analysis.Study` (findings first,
interactive plotly.js figures inlined, no network); `write_report(study, out_dir, formats)` writes
results.parquet, claims.csv, robustness.parquet and report.html into a directory, and with
`formats` the claims and outcome tables as Markdown/LaTeX and the figures as SVG/PDF.
`sweep_section(sweep)` is the HTML section of a parameter sweep (`sweep_page`: the same as a page).
The report formats the study's tables and figures; it computes no statistic.
"""

from crisislab.report._html import (
    FORMATS,
    REPORT_FILES,
    parse_formats,
    render_report,
    write_report,
)
from crisislab.report._sweep import sweep_page, sweep_section

__all__ = ["FORMATS", "REPORT_FILES", "parse_formats", "render_report", "sweep_page", "sweep_section", "write_report"]
