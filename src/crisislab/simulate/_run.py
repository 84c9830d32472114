"""Running many runs: chunking, a local process pool, a progress bar, and merging into `Results`.

Chunks are ranges of global run indices; because every random number is keyed by (seed, run
index), the merged results are bit-identical for any chunk size and any number of workers. Workers
are forked processes that inherit the compiled spec and policy (closures over the scenario do not
pickle, and forking avoids re-solving in every worker); only the chunk's arrays travel back.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from crisislab.errors import UserError
from crisislab.simulate._engine import Arm, ChunkResult, simulate_chunk
from crisislab.simulate._policy import Policy
from crisislab.simulate._results import Results, merge_chunks
from crisislab.simulate._spec import SimSpec

__all__ = ["DEFAULT_CHUNK", "progress_wanted", "simulate_spec"]

# Large enough that per-move numpy overheads vanish, small enough to stay in cache-friendly memory
# (a chunk's state is a few MB).
DEFAULT_CHUNK = 32_768

_PATHS_CHUNK = 4096

_JOB: dict[str, Any] = {}


def progress_wanted(json_output: bool = False) -> bool:
    """A progress bar only on an interactive terminal, never under --json or in CI."""
    return not json_output and sys.stderr.isatty() and not os.environ.get("CI")


def _chunks(n_runs: int, chunk: int, first_run: int) -> Iterator[np.ndarray]:
    for start in range(0, n_runs, chunk):
        yield np.arange(first_run + start, first_run + min(start + chunk, n_runs), dtype=np.int64)


def _work(runs: np.ndarray) -> ChunkResult:
    j = _JOB
    return simulate_chunk(j["spec"], j["policy"], j["seed"], runs, j["arm"], j["record_actions"], j["record_paths"])


def simulate_spec(
    spec: SimSpec,
    policy: Policy,
    runs: int,
    seed: int,
    arm: Arm = Arm(),
    *,
    workers: int = 1,
    chunk: int = DEFAULT_CHUNK,
    paths: bool = False,
    record_actions: bool = True,
    progress: bool = False,
    first_run: int = 0,
    interventions: tuple[str, ...] = (),
    label: str = "simulating",
) -> Results:
    """Simulate runs `first_run .. first_run + runs - 1` of a compiled spec under `policy` and `arm`.

    `workers` > 1 forks a local process pool; `chunk` is the number of runs per array batch;
    `paths` adds the per-move table; `record_actions` keeps each run's action sequence for the
    most-frequent-paths table. Results do not depend on `workers` or `chunk`.
    """
    for name, value, lo in (("runs", runs, 1), ("workers", workers, 1), ("chunk", chunk, 1)):
        if int(value) < lo:
            raise UserError(f"--{name}: must be an integer >= {lo} (got {value})")
    if not 0 <= int(seed) < 2**63:
        raise UserError(f"--seed: must be an integer in [0, 2**63) (got {seed})")
    if paths:
        # Per-move records take (runs × moves × state) memory per chunk; results do not depend on it.
        chunk = min(chunk, _PATHS_CHUNK)
    batches = list(_chunks(runs, chunk, first_run))
    _JOB.update(spec=spec, policy=policy, seed=seed, arm=arm, record_actions=record_actions, record_paths=paths)
    results: list[ChunkResult] = []
    bar = _Progress(len(batches), label) if progress else None
    try:
        if workers == 1 or len(batches) == 1:
            for b in batches:
                results.append(_work(b))
                if bar:
                    bar.advance()
        else:
            ctx = mp.get_context("fork")
            with ctx.Pool(processes=min(workers, len(batches))) as pool:
                for res in pool.imap_unordered(_work, batches):
                    results.append(res)
                    if bar:
                        bar.advance()
    finally:
        if bar:
            bar.close()
        _JOB.clear()
    return merge_chunks(spec, seed, results, interventions, with_paths=paths)


class _Progress:
    def __init__(self, total: int, label: str):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._p = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True
        )
        self._p.start()
        self._task = self._p.add_task(label, total=total)

    def advance(self) -> None:
        self._p.advance(self._task)

    def close(self) -> None:
        self._p.stop()
