"""The report as a reader sees it: opened in headless Chromium at 1400 px wide, driven by selenium.

Checked: no console errors; every figure drawn (plotly's SVG with at least one trace, a non-empty
box); nothing wider than the viewport (no horizontal scrolling, no element past the right edge);
the findings in the first screen; no request leaves the file (every resource the browser loads is
the file itself or inline data). The report is built from a small bundled scenario with few runs.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Where they are absent
the test is skipped with the reason, unless CRISISLAB_REQUIRE_BROWSER is set (CI), where it fails.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from crisislab import bundled_scenario, run_study
from crisislab.report import write_report

WIDTH, HEIGHT = 1400, 900


def _browser_paths() -> tuple[str, str] | str:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        return "no Chromium here (apt-get install chromium chromium-driver): the report was not opened in a browser"
    return binary, driver


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    found = _browser_paths()
    if isinstance(found, str):
        if os.environ.get("CRISISLAB_REQUIRE_BROWSER"):
            pytest.fail(f"CRISISLAB_REQUIRE_BROWSER is set but {found}")
        pytest.skip(found)
    binary, driver_path = found
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    # The myopic policy keeps this fast (no solve); the scenario states uncertainty on λ, so every figure kind is drawn.
    scn = bundled_scenario("crisis-bargaining-2type")
    study = run_study(scn, runs=2000, seed=3, policy="myopic", robustness=3, robustness_runs=500, record=False)
    out = tmp_path_factory.mktemp("browser")
    path = write_report(study, out)

    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={WIDTH},{HEIGHT}",
                "--hide-scrollbars"):  # fmt: skip
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    try:
        drv.set_window_size(WIDTH, HEIGHT)
        drv.get(path.as_uri())
        drv.execute_script("window.scrollTo(0, 0)")
        yield drv, path, study
    finally:
        drv.quit()


def test_no_console_errors(page) -> None:
    drv, _, _ = page
    errors = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_every_figure_is_drawn_and_not_empty(page) -> None:
    drv, _, study = page
    figs = drv.execute_script("""
        return Array.from(document.querySelectorAll('div.figure')).map(function (el) {
          var r = el.getBoundingClientRect();
          return {id: el.id, w: r.width, h: r.height, svg: el.querySelectorAll('svg.main-svg').length,
                  traces: el.querySelectorAll('g.trace, g.barlayer .point, g.scatterlayer .trace').length,
                  data: (el.data || []).length};
        });""")
    ids = {f["id"] for f in figs}
    # the study has claims and robustness draws that vary λ: every figure kind is present
    assert {"fig-outcomes", "fig-claims", "fig-lambda", "fig-fan", "fig-beliefs"} <= ids, ids
    assert study.claims and not study.outcome_draws.empty
    for f in figs:
        assert f["svg"] >= 1 and f["traces"] >= 1 and f["data"] >= 1, f
        assert f["w"] > 300 and f["h"] > 200, f


def test_nothing_is_wider_than_the_viewport(page) -> None:
    drv, _, _ = page
    # open every collapsed detail too: its tables must fit when a reader opens them
    drv.execute_script("document.querySelectorAll('details').forEach(function (d) { d.open = true; });")
    width = drv.execute_script("return document.documentElement.clientWidth")
    assert width == WIDTH
    over = drv.execute_script("""
        var w = document.documentElement.clientWidth, out = [];
        document.querySelectorAll('body *').forEach(function (el) {
          // plotly.js measures text in an SVG it parks off-screen at -9999 px: not part of the page
          if (el.closest('#js-plotly-tester')) return;
          var r = el.getBoundingClientRect();
          if (r.width > 0 && (r.right > w + 0.5 || r.left < -0.5)) out.push(el.tagName + '#' + el.id + '.' + el.className + ' ' + Math.round(r.right));
        });
        return out.slice(0, 10);""")
    assert over == []
    assert drv.execute_script("return document.documentElement.scrollWidth") <= width
    # and in a narrower window (1100 px): tables wrap, figures shrink
    drv.set_window_size(1100, HEIGHT)
    try:
        narrow = drv.execute_script("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert narrow[0] <= narrow[1] == 1100
    finally:
        drv.set_window_size(WIDTH, HEIGHT)


def test_findings_are_on_the_first_screen(page) -> None:
    drv, _, study = page
    drv.execute_script("window.scrollTo(0, 0)")
    top, inner = drv.execute_script(
        "var r = document.getElementById('findings').getBoundingClientRect(); return [r.top, window.innerHeight];"
    )
    assert 0 <= top < inner * 0.5
    # the first claim's verdict is visible without scrolling
    first = drv.execute_script("return document.querySelector('tr.finding').getBoundingClientRect().bottom")
    assert first < inner
    assert len(drv.find_elements("css selector", "tr.finding")) == len(study.claims)


def test_no_request_leaves_the_file(page) -> None:
    drv, path, _ = page
    urls = []
    for entry in drv.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    urls += drv.execute_script("return performance.getEntriesByType('resource').map(function (e) { return e.name; })")
    assert urls, "the performance log recorded no request at all (not even the file): the check would be vacuous"
    leaving = [u for u in urls if not (u == path.as_uri() or u.startswith(("data:", "blob:", "about:")))]
    assert leaving == []
