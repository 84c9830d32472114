"""Progress of long work, as phases: one bar per phase, shown only where a caller asked for it.

The library marks its long phases (compiling, solving, simulating, robustness draws, replaying)
with `phase(label, total)` and advances them; nothing is shown unless a reporter is installed with
`reporting(...)` (the command line does so on an interactive terminal, never under `--json`; the
Python API's `progress=True` does so for the call). Without a reporter a phase costs one context
variable lookup.

Work that is counted in units not known in advance (the simulation chunks of every arm of the
claims, say) goes into the enclosing *open* phase (`phase(label)` without a total): `tasks(n)`
adds n units to its total and each finished unit advances it, so the claims' arms make one bar,
not one per arm. Inside a phase with a fixed total (robustness draws, counted per draw), nested
phases and `tasks` are silent: the draw is the unit. A phase opened inside an open phase is its
own (transient) bar, e.g. the solve of an intervened arm while the claims' arms are simulated.

The reporter lives in a context variable, so it is local to the thread (and task) that installed
it; worker processes have none.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Phase", "Reporter", "RichReporter", "active", "phase", "reporting", "shown", "tasks"]


class Reporter(Protocol):
    """Where phases are shown: `start` returns a handle, `update` moves it, `finish` ends it."""

    def start(self, label: str, total: int | None, depth: int) -> Any: ...
    def update(self, handle: Any, completed: int, total: int | None) -> None: ...
    def finish(self, handle: Any, label: str, seconds: float, depth: int) -> None: ...


@dataclass
class Phase:
    """A running phase: `advance(n)` counts finished units; `add(n)` grows an open phase's total."""

    label: str
    total: int | None
    open: bool
    reporter: Reporter | None = None
    handle: Any = None
    completed: int = 0
    depth: int = 0
    started: float = field(default_factory=time.perf_counter)

    def add(self, n: int) -> None:
        self.total = (self.total or 0) + int(n)
        self._show()

    def advance(self, n: int = 1) -> None:
        self.completed += int(n)
        self._show()

    def _show(self) -> None:
        if self.reporter is not None:
            self.reporter.update(self.handle, self.completed, self.total)


_REPORTER: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar("crisislab_progress", default=None)
_STACK: contextvars.ContextVar[tuple[Phase, ...]] = contextvars.ContextVar("crisislab_phases", default=())


def active() -> bool:
    """True when a reporter is installed (progress is being shown)."""
    return _REPORTER.get() is not None


@contextlib.contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Show the phases started inside this block with `reporter` (None: show nothing)."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)


@contextlib.contextmanager
def shown(wanted: bool) -> Iterator[None]:
    """Show phases as rich bars on stderr inside this block when `wanted` (a library call's
    `progress=True`) and no caller shows them already; otherwise change nothing."""
    if wanted and not active():
        with reporting(RichReporter()):
            yield
    else:
        yield


@contextlib.contextmanager
def phase(label: str, total: int | None = None) -> Iterator[Phase]:
    """A phase of work: with `total`, advanced once per unit; without, open (`tasks` adds units)."""
    reporter = _REPORTER.get()
    stack = _STACK.get()
    if stack and (not stack[-1].open or stack[-1].reporter is None):
        # inside a phase counted in its own units (a robustness draw), or a silent one: the outer
        # bar stands for this work, so it is not shown, and neither is anything under it
        reporter = None
        total = 0
    ph = Phase(label, total, open=total is None, reporter=reporter, depth=len(stack))
    if reporter is not None:
        ph.handle = reporter.start(label, total, ph.depth)
    token = _STACK.set(stack + (ph,))
    try:
        yield ph
    finally:
        _STACK.reset(token)
        if reporter is not None:
            reporter.finish(ph.handle, label, time.perf_counter() - ph.started, ph.depth)


class _Silent:
    def advance(self, n: int = 1) -> None:
        pass


@contextlib.contextmanager
def tasks(n: int, label: str) -> Iterator[Any]:
    """`n` units of work about to run: counted in the enclosing open phase, silent inside a phase
    with a fixed total, or a phase of their own (`label`) when none is running."""
    stack = _STACK.get()
    if not stack:
        with phase(label, n) as ph:
            yield ph
        return
    top = stack[-1]
    if top.open and top.reporter is not None:
        top.add(n)
        yield top
        return
    yield _Silent()


class RichReporter:
    """Phases as rich progress bars on stderr: a bar while a phase runs, then (for a top-level
    phase) one line saying it finished and how long it took."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._console = Console(stderr=True, emoji=False, highlight=False)
        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=self._console, transient=True,
        )  # fmt: skip
        self._running = 0

    def start(self, label: str, total: int | None, depth: int) -> Any:
        if self._running == 0:
            self._progress.start()
        self._running += 1
        return self._progress.add_task(("  " * depth) + label, total=total)

    def update(self, handle: Any, completed: int, total: int | None) -> None:
        self._progress.update(handle, completed=completed, total=total)

    def finish(self, handle: Any, label: str, seconds: float, depth: int) -> None:
        self._progress.remove_task(handle)
        if depth == 0:
            self._progress.console.print(f"[dim]{label}: done in {seconds:.1f} s[/dim]")
        self._running -= 1
        if self._running == 0:
            self._progress.stop()
