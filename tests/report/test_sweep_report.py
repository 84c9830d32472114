"""The sweep section of a report: an HTML fragment with one tornado plot per output that has
indices, the index tables with their intervals, and every claim's boxes in words."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from crisislab.analysis import sweep
from crisislab.report import sweep_page, sweep_section

CHICKEN = Path(__file__).resolve().parents[2] / "scenarios" / "chicken-brinkmanship.yaml"


@pytest.fixture(scope="module")
def result():
    return sweep(CHICKEN, "morris", 3, runs=300, grid=5, seed=3, workers=1)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append(tag)


def test_fragment_is_one_section_with_a_plot_per_output(result) -> None:
    html = sweep_section(result)
    parser = _Tags()
    parser.feed(html)
    assert parser.tags[0] == "section" and "html" not in parser.tags and "body" not in parser.tags
    with_values = result.indices[(result.indices["index"] == "mu_star") & result.indices["value"].notna()]["output"].nunique()
    assert html.count("<svg") == with_values == len(result.outcomes) + len(result.claims)
    for claim in result.claims:
        assert f"<b>{claim}</b>" in html
    for text in result.boxes["description"].drop_duplicates():
        assert text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in html
    # every μ* is shown with its bootstrap interval
    mu = result.indices[(result.indices["index"] == "mu_star")].iloc[0]
    assert f"{mu['value']:.3g} [{mu['ci_low']:.3g}, {mu['ci_high']:.3g}]" in html


def test_page_wraps_the_fragment(result) -> None:
    page = sweep_page(result)
    assert page.startswith("<!doctype html>") and sweep_section(result) in page
