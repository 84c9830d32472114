"""The import structure of `crisislab`: no import cycles, checked with grimp.

grimp reads every `import` statement of the package's source, including those inside functions and
under `if TYPE_CHECKING:`, so a cycle cannot be hidden by moving an import into a function. Each
sub-package is checked on its own (edges between its modules, its `__init__` included), and the
sub-packages against each other (each squashed to one node). A cycle that is still being removed is
marked `xfail(strict=True)`: when it is gone the test passes unexpectedly and fails, so the mark
has to be dropped and the list only shrinks.
"""

from __future__ import annotations

import importlib.util
import pkgutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

import crisislab

grimp = pytest.importorskip("grimp")

# Cycles known to exist, with what they are; remove an entry when its cycle is gone.
KNOWN_CYCLES: dict[str, str] = {
    "crisislab.simulate": "analysis modules and the engine import each other "
    "(_claims <-> _solution_policy; _engine -> _kernel_engine -> _specialise -> _engine)",
    "between sub-packages": "crisislab.report reads simulator results and crisislab.simulate imports report",
}


def _subpackages() -> list[str]:
    return sorted(f"crisislab.{m.name}" for m in pkgutil.iter_modules(crisislab.__path__) if m.ispkg)


def _graph():
    # cache_dir=None: grimp would otherwise write a .grimp_cache folder into the working directory.
    return grimp.build_graph("crisislab", cache_dir=None)


def _cycles(nodes: Iterable[str], edges: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    nodes = sorted(nodes)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in nodes:
        if v not in index:
            visit(v)
    return found


def _describe(graph, cycles: list[list[str]]) -> str:
    """Each cycle with one shortest chain back to its first module, for the failure message."""
    lines = []
    for comp in cycles:
        first = comp[0]
        nxt = next(m for m in sorted(graph.find_modules_directly_imported_by(first)) if m in comp)
        chain = graph.find_shortest_chain(importer=nxt, imported=first) or ()
        lines.append(f"{' -> '.join((first, *chain))}   (cycle of {len(comp)}: {', '.join(comp)})")
    return "\n".join(lines)


def _marked(names: list[str]) -> list:
    return [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_CYCLES[n])) if n in KNOWN_CYCLES else n
        for n in names
    ]


@pytest.mark.parametrize("package", _marked(_subpackages()))
def test_no_import_cycles(package: str) -> None:
    graph = _graph()
    nodes = {package} | set(graph.find_descendants(package))
    edges = {m: {i for i in graph.find_modules_directly_imported_by(m) if i in nodes and i != m} for m in nodes}
    cycles = _cycles(nodes, edges)
    assert not cycles, f"import cycles in {package}:\n{_describe(graph, cycles)}"


@pytest.mark.parametrize("package", _marked(["between sub-packages"]))
def test_no_import_cycles_between_subpackages(package: str) -> None:
    graph = _graph()
    for sub in _subpackages():
        graph.squash_module(sub)
    nodes = set(graph.find_children("crisislab"))
    edges = {m: {i for i in graph.find_modules_directly_imported_by(m) if i in nodes and i != m} for m in nodes}
    cycles = _cycles(nodes, edges)
    assert not cycles, f"import cycles between the sub-packages of crisislab:\n{_describe(graph, cycles)}"


def test_cycle_finder_sees_a_cycle() -> None:
    """The check can fail: a three-module cycle and a self-contained chain."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges, edges) == [["a", "b", "c"]]
    assert _cycles(["x", "y"], {"x": {"y"}}) == []


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
