"""The `crisislab` entry point: exit statuses and no tracebacks for user mistakes."""

from __future__ import annotations

import subprocess
import sys

import crisislab


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from crisislab.cli import main; main()", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_version_prints_package_version() -> None:
    result = _run("version")
    assert result.returncode == 0
    assert result.stdout.strip() == crisislab.__version__


def test_unknown_command_is_a_usage_error_without_traceback() -> None:
    result = _run("no-such-command")
    assert result.returncode == 2
    assert "No such command" in result.stderr
    assert "Traceback" not in result.stderr
