"""The HTML report of a small scenario: claims rows, embedded figures, numbers equal to results.parquet."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crisislab.analysis import run_study, wilson_interval
from crisislab.report import render_report, write_report
from crisislab.scenario import load_scenario
from crisislab.simulation import FixedPolicy

MINI = Path(__file__).parents[1] / "simulation" / "mini.yaml"
N = 3000


_STUDY: list = []


def report_study():
    if not _STUDY:
        sc = load_scenario(MINI)
        pol = FixedPolicy({"US": np.array([[0.3, 0.7], [0.8, 0.2]]), "Iran": np.array([[0.4, 0.6], [0.9, 0.1]])})
        events = pd.DataFrame(
            {"date": ["2019-12-02", "2019-12-09"], "actor": ["Iran", "US"], "action": ["ir_attack", "us_strike"]}
        )
        _STUDY.append(run_study(sc, runs=N, seed=7, policy=lambda s: pol, robustness=0, record=events))
    return _STUDY[0]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    study = report_study()
    out = tmp_path_factory.mktemp("report")
    path = write_report(study, out)
    return path.read_text(encoding="utf-8"), pd.read_parquet(out / "results.parquet"), list(study.claims)


def _cell(html: str, row_attr: str, key: str) -> list[float]:
    row = re.search(rf'<tr {row_attr}="{re.escape(key)}">(.*?)</tr>', html, re.DOTALL)
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
        row = re.search(rf'<tr class="claim (\w+)" data-claim="{c.id}">(.*?)</tr>', html, re.DOTALL)
        assert row, c.id
        assert row.group(1) == c.verdict
        values = [float(v) for v in re.findall(r'data-value="([^"]+)"', row.group(2))]
        assert values == pytest.approx([c.estimate.treatment, c.estimate.baseline, c.estimate.diff], abs=1e-12)
        finding = re.search(rf'<tr class="finding [\w-]+" data-finding="{c.id}">(.*?)</tr>', html, re.DOTALL)
        assert finding, c.id
        if c.quote:
            assert c.quote in finding.group(1)
    assert "000_2c2ddc19b08502fb.txt" in html
    # the findings name each claim's seed and verdict before anything else
    findings = html[html.index('id="findings"') : html.index('id="outcomes"')]
    for c in claims:
        assert f'data-finding="{c.id}"' in findings


def test_figures_are_embedded_and_nothing_is_fetched(report) -> None:
    html, _, _ = report
    figures = re.findall(r'<div class="figure" id="([\w-]+)"', html)
    assert set(figures) == {"fig-outcomes", "fig-claims", "fig-fan", "fig-beliefs", "fig-intensity", "fig-real-path-beliefs", "fig-replay-intensity"}
    # plotly.js is inlined once (no <script src>), and every figure's data is in the page
    assert html.count("<script src") == 0 and html.count("plotly.js v") >= 1
    for f in figures:
        assert f'"{f[len("fig-"):]}":{{"data":' in html
    # outside the inlined library, nothing refers to the network (the browser test checks requests)
    page = re.sub(r"<script>.*?</script>", "", html, flags=re.DOTALL)
    assert "http://" not in page and "https://" not in page


def test_exports_show_the_same_numbers(tmp_path) -> None:
    """claims.md/.tex and outcomes.md/.tex carry the study's numbers; SVG and PDF figures are written."""
    from crisislab.report import write_report as write

    study = report_study()
    path = write(study, tmp_path, formats="md,tex,svg,pdf")
    md = (tmp_path / "claims.md").read_text(encoding="utf-8")
    tex = (tmp_path / "outcomes.tex").read_text(encoding="utf-8")
    for c in study.claims:
        assert f"| {c.id} |" in md and f"{c.estimate.diff:+.4f}" in md
    for r in study.outcomes.itertuples(index=False):
        assert f"{r.outcome} & {r.probability:.4f} &" in tex
    assert "\\toprule" in tex and "\\bottomrule" in tex
    svg = (tmp_path / "figure-outcomes.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert (tmp_path / "figure-fan.pdf").read_bytes()[:5] == b"%PDF-"
    assert path.exists()
    # asking for fewer exports next time removes the older ones (the outputs are one unit)
    write(study, tmp_path)
    assert not (tmp_path / "claims.md").exists() and not (tmp_path / "figure-fan.pdf").exists()


def test_a_wrong_format_is_a_user_error(tmp_path) -> None:
    from crisislab.errors import UserError
    from crisislab.report import parse_formats

    assert parse_formats("md, tex") == ("html", "md", "tex")
    with pytest.raises(UserError, match="'docx' is not a report format"):
        parse_formats("html,docx")


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


def test_the_replay_names_the_record_it_replays() -> None:
    """A study run on a record read from a file says which file (its name) beside the log-likelihood."""
    sc = load_scenario(MINI)
    pol = FixedPolicy({"US": np.array([[0.3, 0.7], [0.8, 0.2]]), "Iran": np.array([[0.4, 0.6], [0.9, 0.1]])})
    events = pd.DataFrame({"date": ["2019-12-02"], "actor": ["Iran"], "action": ["ir_attack"]})
    events.attrs["source"] = "/somewhere/else/analyst-coding.csv"
    study = run_study(sc, runs=200, seed=7, policy=lambda s: pol, robustness=0, record=events)
    html = render_report(study)
    verdict = html[html.index('id="replay-verdict"'):].split("</p>")[0]
    assert "Log-likelihood of the record analyst-coding.csv (1 event in 1 round): " in verdict
    assert "/somewhere/else" not in verdict


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
    assert 'id="fig-outcomes"' in path.read_text(encoding="utf-8")

    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def boom(*a, **k):
        raise RuntimeError("rendering failed")

    monkeypatch.setattr(_html, "render_report", boom)
    with pytest.raises(RuntimeError, match="rendering failed"):
        write_report(study, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_claim_settled_by_how_it_is_written_is_flagged_not_held(tmp_path) -> None:
    """A claim whose baseline forbids the action its metric counts has that metric identically 0
    in the baseline arm, so "higher" cannot fail: the report says so instead of "holds"."""
    sc = load_scenario(MINI)
    data = sc.model_dump(by_alias=True, exclude_none=True, mode="json")
    data["claims"] = [{
        "id": "forced-strike-is-struck", "seed": "000_2c2ddc19b08502fb.txt", "quote": data["claims"][0]["quote"],
        "metric": {"action_probability": "us_strike"},
        "compare": {"treatment": [{"force": {"actor": "US", "action": "us_strike"}}],
                    "baseline": [{"forbid": {"actor": "US", "action": "us_strike"}}]},
        "expect": "higher",
    }]  # fmt: skip
    from crisislab.scenario import validate_data

    sc2 = validate_data(data, "<forced>")
    pol = FixedPolicy({"US": np.array([[0.3, 0.7], [0.8, 0.2]]), "Iran": np.array([[0.4, 0.6], [0.9, 0.1]])})
    study = run_study(sc2, runs=500, seed=1, policy=lambda s: pol, robustness=0, record=False)
    flags = study.claim_flags.set_index("claim")
    assert bool(flags.loc["forced-strike-is-struck", "degenerate"])
    assert "0 in every run of the baseline arm" in flags.loc["forced-strike-is-struck", "why"]
    html = write_report(study, tmp_path).read_text(encoding="utf-8")
    row = re.search(r'<tr class="finding ([\w-]+)" data-finding="forced-strike-is-struck">', html)
    assert row and row.group(1) == "cannot-fail"


def test_the_appendix_lists_every_source_and_every_assumption(tmp_path) -> None:
    """Every source the flagship lists has a row, and every number it marks `assumption` (counted
    independently here, from the YAML file's text) is in the assumptions table."""
    import crisislab

    scn = crisislab.bundled_scenario("us-iran-2019-2020")
    from crisislab.analysis import assumption_table, source_table

    sources, assumptions = source_table(scn), assumption_table(scn)
    assert list(sources["id"]) == list(scn.sources)
    text = (Path(__file__).parents[2] / "scenarios" / "us-iran-2019-2020.yaml").read_text(encoding="utf-8")
    # `assumption:` keys in the file, outside comments: one per marked object; a mark on an object
    # with several numbers (a cost per type, say) covers each of them
    marked = sum(line.split("#", 1)[0].count("assumption:") for line in text.splitlines())
    assert len(assumptions) >= marked
    quoted = set(re.findall(r'assumption: "([^"]*)"', text))
    assert quoted and quoted <= set(assumptions["assumption"])
    study = report_study()
    html = write_report(study, tmp_path).read_text(encoding="utf-8")
    for sid in load_scenario(MINI).sources:
        assert f'data-source="{sid}"' in html


def test_deaths_include_the_casualties_of_the_outcome_a_run_ends_in(tmp_path) -> None:
    """In the endgame scenario only war's `casualties` (B: Poisson, mean 1.5) kill B: the report's
    deaths of B are 0 in every run that does not end in war, and average 1.5 over the war runs
    (within five standard errors of a Poisson mean, sqrt(1.5 / wars)); the text says so."""
    sc = load_scenario(Path(__file__).parents[1] / "crisis" / "data" / "endgame.yaml")
    # A: calm / strike / war; B: calm / deal / strike (each row one type's mixed action)
    pol = FixedPolicy({"A": np.array([[0.5, 0.3, 0.2], [0.6, 0.3, 0.1]]), "B": np.array([[0.6, 0.1, 0.3], [0.7, 0.1, 0.2]])})
    study = run_study(sc, runs=4000, seed=5, policy=lambda s: pol, robustness=0, record=False)
    row = study.casualties.set_index("quantity").loc["deaths: B"]
    wars = int(study.results.outcome_counts()["war"])
    assert wars > 300
    assert row["mean_if_war"] == pytest.approx(1.5, abs=5 * np.sqrt(1.5 / wars))
    assert all(row[f"mean_if_{o}"] == 0 for o in ("deal", "calm", "stalemate") if f"mean_if_{o}" in row.index)
    html = write_report(study, tmp_path).read_text(encoding="utf-8")
    assert "plus the casualties the scenario states for the outcome the run ends in" in html
    assert "own casualties are not in these numbers" not in html


def test_the_header_dates_the_last_round_s_last_day(report) -> None:
    html, _, _ = report
    # mini.yaml: 4 rounds of 7 days from 2019-12-01, so days 2019-12-01 … 2019-12-28.
    assert "rounds start 2019-12-01, last ends 2019-12-28" in html
