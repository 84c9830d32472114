"""The HTML report of a small scenario: claims rows, embedded figures, numbers equal to results.parquet."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crisislab.analysis import run_study, wilson_interval
from crisislab.report import write_report
from crisislab.scenario import load_scenario
from crisislab.simulation import FixedPolicy

MINI = Path(__file__).parents[1] / "simulation" / "mini.yaml"
N = 3000


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    sc = load_scenario(MINI)
    pol = FixedPolicy({"US": np.array([[0.3, 0.7], [0.8, 0.2]]), "Iran": np.array([[0.4, 0.6], [0.9, 0.1]])})
    events = pd.DataFrame(
        {"date": ["2019-12-02", "2019-12-09"], "actor": ["Iran", "US"], "action": ["ir_attack", "us_strike"]}
    )
    study = run_study(sc, runs=N, seed=7, policy=lambda s: pol, robustness=0, record=events)
    out = tmp_path_factory.mktemp("report")
    path = write_report(study, out)
    return path.read_text(encoding="utf-8"), pd.read_parquet(out / "results.parquet"), list(study.claims)


def _cell(html: str, row_attr: str, key: str) -> list[float]:
    row = re.search(rf'<tr {row_attr}="{re.escape(key)}">(.*?)</tr>', html, re.S)
    assert row, f"no row {row_attr}={key}"
    return [float(v) for v in re.findall(r'data-value="([^"]+)"', row.group(1))]


def test_outcome_numbers_equal_the_results_table(report) -> None:
    html, runs, _ = report
    assert len(runs) == N
    for outcome in ("war", "calm", "stalemate"):
        count = int((runs["outcome"] == outcome).sum())
        lo, hi = wilson_interval(count, N)
        got = _cell(html, "data-outcome", outcome)
        assert got[0] == count
        assert got[1] == pytest.approx(count / N, abs=1e-12)
        assert got[2] == pytest.approx(float(lo), abs=1e-12) and got[3] == pytest.approx(float(hi), abs=1e-12)


def test_every_claim_has_a_row_with_its_quote_and_verdict(report) -> None:
    html, _, claims = report
    for c in claims:
        row = re.search(rf'<tr class="claim (\w+)" data-claim="{c.id}">(.*?)</tr>', html, re.S)
        assert row, c.id
        assert row.group(1) == c.verdict
        values = [float(v) for v in re.findall(r'data-value="([^"]+)"', row.group(2))]
        assert values == pytest.approx([c.estimate.treatment, c.estimate.baseline, c.estimate.diff], abs=1e-12)
        if c.quote:
            assert c.quote in row.group(2)
    assert "000_2c2ddc19b08502fb.txt" in html


def test_figures_are_embedded_and_nothing_is_fetched(report) -> None:
    html, _, _ = report
    figures = re.findall(r'<img class="figure" id="([\w-]+)" alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert {f for f, _ in figures} == {"fig-outcomes", "fig-fan", "fig-beliefs", "fig-timeline"}
    assert all(len(data) > 1000 for _, data in figures)
    assert "http://" not in html and "https://" not in html


def test_timeline_section_shows_the_replay(report) -> None:
    html, _, _ = report
    assert 'id="timeline-beliefs"' in html
    # Iran's belief that the US is resolute after round 1 (US stayed put) and round 2 (US struck):
    # Bayes with Iran's prior 0.2 and σ(wait) = (0.3, 0.8), σ(strike) = (0.7, 0.2) (mini.yaml, policy above).
    after1 = 0.2 * 0.3 / (0.2 * 0.3 + 0.8 * 0.8)
    after2 = after1 * 0.7 / (after1 * 0.7 + (1 - after1) * 0.2)
    text = html[html.index('id="timeline-beliefs"') :]
    values = [float(v) for v in re.findall(r'data-value="([^"]+)"', text.split("</table>")[0])]
    assert any(v == pytest.approx(after1, abs=1e-9) for v in values)
    assert any(v == pytest.approx(after2, abs=1e-9) for v in values)


def test_an_outcome_that_never_happens_renders_and_a_failure_writes_nothing(tmp_path, monkeypatch) -> None:
    """An outcome with probability 0 (an interval at the boundary) renders; and when rendering fails,
    the output directory keeps its previous files, untouched (the report is rendered first and each
    file renamed into place)."""
    from crisislab.report import _html

    sc = load_scenario(MINI)
    pol = FixedPolicy({"US": np.array([[1.0, 0.0], [1.0, 0.0]]), "Iran": np.array([[1.0, 0.0], [1.0, 0.0]])})
    study = run_study(sc, runs=1000, seed=3, policy=lambda s: pol, robustness=0, record=False)
    counts = study.results.outcome_counts()
    assert (counts == 0).any(), "the scenario should leave some outcome unreached under this policy"
    path = write_report(study, tmp_path)
    assert path.read_text(encoding="utf-8").count("data:image/png;base64,") >= 1

    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def boom(*a, **k):
        raise RuntimeError("rendering failed")

    monkeypatch.setattr(_html, "render_report", boom)
    with pytest.raises(RuntimeError, match="rendering failed"):
        write_report(study, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
