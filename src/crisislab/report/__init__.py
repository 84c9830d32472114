"""Reports: the self-contained HTML report of a study and the files beside it.

`render_report(study)` returns the HTML of a `crisislab.analysis.Study`; `write_report(study,
out_dir)` writes results.parquet, claims.csv, robustness.parquet and report.html into a directory.
The report formats the study's tables and figures; it computes no statistic.
"""

from crisislab.report._html import render_report, write_report

__all__ = ["render_report", "write_report"]
