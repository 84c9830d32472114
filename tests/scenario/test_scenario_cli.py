"""`crisislab validate | show | scenarios`: exit codes, output, no traceback on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from crisislab.cli._scenario import register

HERE = Path(__file__).parent
SMALL = HERE / "small.yaml"
BROKEN = HERE / "broken"


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


runner = CliRunner()


def test_validate_ok() -> None:
    result = runner.invoke(_app(), ["validate", str(SMALL)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"OK {SMALL}: small-test (2 actors, 5 actions, horizon 4)"


def test_validate_reports_all_problems_of_all_files() -> None:
    files = [BROKEN / "missing_provenance.yaml", SMALL, BROKEN / "two_defaults.yaml"]
    result = runner.invoke(_app(), ["validate", *map(str, files)])
    assert result.exit_code == 2
    err = result.stderr
    assert f"{files[0]}:20: actors.Red.lam: every number has a source" in err
    assert f"{files[2]}:39: actions.blue_strike.default:" in err
    assert "4 problems in 2 files" in err
    assert f"OK {SMALL}" in result.stdout
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_show_renders_every_section() -> None:
    result = runner.invoke(_app(), ["show", str(SMALL)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for heading in ["Strategic actors and types", "Perceptions", "State variables", "Ladder of Blue", "Ladder of Proxy",
                    "Environment actors", "Red lines", "Outcomes", "Terminal payoffs", "Claims", "Sources"]:
        assert heading in result.output, heading
    # Source ids in brackets are shown literally, not eaten as rich markup.
    assert "0.02 [rep1]" in result.output
    assert "000_2c2ddc19b08502fb.txt" in result.output


def test_show_bad_file_exits_2() -> None:
    result = runner.invoke(_app(), ["show", str(BROKEN / "binary_junk.yaml")])
    assert result.exit_code == 2
    assert "binary_junk.yaml:2: (top level): not UTF-8 text" in result.stderr


def test_scenarios_lists_bundled() -> None:
    result = runner.invoke(_app(), ["scenarios"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "us-iran-2019-2020" in result.output


def test_entry_point_no_traceback(tmp_path: Path) -> None:
    """Through the real entry point (one subprocess: it imports every layer): exit 2, no traceback."""
    missing = tmp_path / "missing.yaml"
    proc = subprocess.run([sys.executable, "-c", "from crisislab.cli import main; main()", "validate", str(missing)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{missing}:1: (top level): no such file" in proc.stderr
