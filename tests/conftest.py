"""Fixtures shared by the test suite."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str, str]]:
    """Run the console entry point in-process (a subprocess would re-import everything):
    `run_cli(*argv) -> (exit code, stdout, stderr)`."""
    from crisislab.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["crisislab", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def cli(run_cli: Callable[..., tuple[int, str, str]]) -> Callable[..., tuple[int, str, str]]:
    """The same as `run_cli` (arguments may be paths)."""
    return run_cli
