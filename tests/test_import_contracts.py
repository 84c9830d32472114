"""The layers hold: no module imports from a layer above its own (contracts in pyproject.toml).

import-linter builds the import graph of the installed `crisislab` (imports inside functions
included, `if TYPE_CHECKING:` blocks excluded) and checks every contract of `[tool.importlinter]`;
a back-edge (say `crisislab.simulate` importing `crisislab.analysis`) makes this test fail and
prints the offending import with its line.
"""

from __future__ import annotations

import os
from pathlib import Path

from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_layer_contracts_are_kept(capsys) -> None:
    cwd = os.getcwd()
    try:
        os.chdir(PYPROJECT.parent)
        code = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 broken" in out
