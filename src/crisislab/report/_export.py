"""The claims and outcome tables as Markdown and LaTeX (for papers), from the study's tables.

LaTeX tables use booktabs rules (`\\usepackage{booktabs}`); text is escaped for LaTeX, and each
table is a `tabular` that a paper wraps in its own `table` float.
"""

from __future__ import annotations

from typing import Any

from crisislab.report._build import claim_rows, outcome_rows

__all__ = ["claims_table", "outcomes_table"]

_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
        "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "−": "-", "≥": r"$\geq$", "≤": r"$\leq$", "λ": r"$\lambda$",
        "ρ": r"$\rho$", "→": r"$\to$", "–": "--"}  # fmt: skip


def _tex(text: Any) -> str:
    return "".join(_TEX.get(ch, ch) for ch in str(text))


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _claim_cells(study: Any) -> tuple[list[str], list[list[str]]]:
    head = ["claim", "seed", "verdict", "treatment − baseline", "95% CI", "robustness (holds / fails)"]
    body = []
    for r in claim_rows(study):
        rob = "–" if r["robustness"] is None else (
            f"{r['robustness']:.0%} / {r['robustness_fails']:.0%} of {r['robustness_draws']}"
            + (f" ({r['robustness_cannot_fail']:.0%} cannot fail)" if r["robustness_cannot_fail"] else ""))
        seed = r["source"]["id"] or r["source"]["file"]
        body.append([r["claim"], seed, r["shown_verdict"], f"{r['difference']:+.4f}", f"[{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]", rob])
    return head, body


def _outcome_cells(study: Any) -> tuple[list[str], list[list[str]]]:
    rows = outcome_rows(study)
    draws = rows[0]["draws"] if rows else 0
    head = ["outcome", "probability", "Monte Carlo 95% CI"] + ([f"range over {draws} parameter draws"] if draws else [])
    body = []
    for r in rows:
        cells = [r["id"], f"{r['p']:.4f}", f"[{r['lo']:.4f}, {r['hi']:.4f}]"]
        if draws:
            cells.append(f"{r['d_lo']:.4f} – {r['d_hi']:.4f}")
        body.append(cells)
    return head, body


def _markdown(head: list[str], body: list[list[str]], caption: str) -> str:
    lines = [f"**{_md(caption)}**", "", "| " + " | ".join(_md(h) for h in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def _latex(head: list[str], body: list[list[str]], caption: str) -> str:
    cols = "l" * len(head)
    lines = [f"% {_tex(caption)}", f"\\begin{{tabular}}{{{cols}}}", "\\toprule", " & ".join(_tex(h) for h in head) + r" \\",
             "\\midrule"]  # fmt: skip
    lines += [" & ".join(_tex(c) for c in row) + r" \\" for row in body]
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def _caption(study: Any, what: str) -> str:
    return f"{study.title}: {what} ({study.runs} runs, seed {study.seed}; {study.solver})"


def claims_table(study: Any, fmt: str) -> str:
    """The claims table as "md" (Markdown) or "tex" (a booktabs `tabular`)."""
    head, body = _claim_cells(study)
    cap = _caption(study, "claims, paired differences with common random numbers")
    return _markdown(head, body, cap) if fmt == "md" else _latex(head, body, cap)


def outcomes_table(study: Any, fmt: str) -> str:
    """The outcome table as "md" or "tex"."""
    head, body = _outcome_cells(study)
    cap = _caption(study, "outcome probabilities")
    return _markdown(head, body, cap) if fmt == "md" else _latex(head, body, cap)
