"""The import structure of `crisislab`: layers one way, no import cycles, no import hidden in a function.

import-linter (with grimp underneath) builds the import graph of `crisislab`, imports inside
functions included and `if TYPE_CHECKING:` blocks excluded, and checks the contracts of
`[tool.importlinter]` in pyproject.toml: the layers (scenario → model, data, efg → crisis → simulation →
analysis → report → cli; no module imports from a layer above its own), the exact engine's
independence of the crisis language, and no import cycles among the modules of any package or
among the packages (`acyclic_siblings`). A back-edge or a cycle fails the test and the message
names the import and its line.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import grimp

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# import-linter's command, installed beside this Python (it prints through its own console, so it
# runs in a process of its own rather than inside pytest's captured streams).
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_import_contracts_are_kept() -> None:
    proc = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(PYPROJECT), "--no-cache", "--no-logo"],
        cwd=PYPROJECT.parent, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def _graph():
    # cache_dir=None: grimp would otherwise write a .grimp_cache folder into the working directory.
    return grimp.build_graph("crisislab", cache_dir=None)


def test_scenario_hides_no_import_in_a_function() -> None:
    """Within crisislab.scenario every import of a sibling module is at module level (grimp strips
    the line it reports, so its indentation is read from the source file)."""
    graph = _graph()
    for module in sorted(graph.find_descendants("crisislab.scenario")):
        origin = importlib.util.find_spec(module).origin
        lines = Path(origin).read_text(encoding="utf-8").splitlines()
        for imported in graph.find_modules_directly_imported_by(module):
            if not imported.startswith("crisislab.scenario"):
                continue
            for detail in graph.get_import_details(importer=module, imported=imported):
                line = lines[detail["line_number"] - 1]
                assert not line.startswith((" ", "\t")), f"{origin}:{detail['line_number']}: import inside a block: {line.strip()}"
