"""Reports: the self-contained HTML report of a crisis run (tables, embedded figures) and its files.

`render_report(results, claims, timeline)` returns the HTML; `write_report(out_dir, ...)` writes
results.parquet, claims.csv and report.html into a directory.
"""

from crisislab.report._html import render_report, write_report

__all__ = ["render_report", "write_report"]
