"""Running many runs: chunking, distribution on Dask, progress, and merging into `Results`.

Chunks are ranges of global run indices; because every random number is keyed by (seed, run
index), the merged results are bit-identical for any chunk size and any number of workers.
`map_tasks` is the one place that distributes work (simulation chunks here, robustness draws in
`_claims.py`): in-process for one worker; on Dask's local process scheduler for several; or on an
existing dask.distributed cluster (`scheduler="tcp://host:port"`), where the job is scattered to
every worker once and tasks refer to it. Local workers are *forked* for simulation chunks, so they
inherit the job's large read-only objects (compiled spec, solved policy) from a module global and
only run indices and results are pickled; that is safe because the simulator's kernels are
single-threaded. Work that solves (robustness draws) runs in *spawned* workers with the job
pickled per task: the crisis solver runs numba's OpenMP-threaded regions, and GNU OpenMP cannot
run in a child forked from a process that has already started its threads.

Local workers end with the process that started them (`crisislab._machine.die_with_parent`), so a
killed `crisislab` leaves no worker behind. A lost worker costs a retry, not the run: a local pool
that loses one is replaced and the unfinished tasks rerun (`_LOCAL_RETRIES` times); a cluster
reruns a lost worker's tasks on the others. Losing them all is one `EnvironmentFault`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import numpy as np

from crisislab import _progress
from crisislab._machine import check_scale, die_with_parent
from crisislab.errors import EnvironmentFault, UserError
from crisislab.model import Model
from crisislab.model.rules import DEFAULT_CHUNK
from crisislab.simulation._chunk import Arm, ChunkResult
from crisislab.simulation._engine import simulate_chunk
from crisislab.simulation._policy import Policy
from crisislab.simulation._results import Results, merge_chunks

__all__ = ["check_run_arguments", "check_scheduler", "map_tasks", "progress_wanted", "simulate_model"]


_PATHS_CHUNK = 4096

# The job of the current `map_tasks` call (read by forked workers; see the module docstring).
_SHARED: dict[str, Any] = {}


def progress_wanted(json_output: bool = False) -> bool:
    """Progress bars only on an interactive terminal (stdout and stderr, where they are drawn),
    never under --json or in CI."""
    return not json_output and sys.stdout.isatty() and sys.stderr.isatty() and not os.environ.get("CI")


def _chunks(n_runs: int, chunk: int, first_run: int) -> Iterator[np.ndarray]:
    for start in range(0, n_runs, chunk):
        yield np.arange(first_run + start, first_run + min(start + chunk, n_runs), dtype=np.int64)


def check_scheduler(scheduler: str | None) -> None:
    """A dask.distributed address must look like `tcp://host:port` (or tls://, inproc://, ucx://)."""
    if scheduler is None:
        return
    proto, sep, rest = str(scheduler).partition("://")
    if not sep or proto not in ("tcp", "tls", "inproc", "ucx") or not rest:
        raise UserError(
            f"scheduler: must be the address of a running dask.distributed scheduler such as "
            f"tcp://127.0.0.1:8786 (got {scheduler!r})"
        )


def _local_call(fn: Callable[[Any, Any], Any], item: Any) -> Any:
    return fn(_SHARED["job"], item)


def _spawned_call(fn: Callable[[Any, Any], Any], job: Any, item: Any) -> Any:
    return fn(job, item)


def map_tasks(
    fn: Callable[[Any, Any], Any],
    items: Sequence[Any],
    job: Any,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
    label: str = "working",
    start: Literal["fork", "spawn"] = "fork",
    on_result: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """`[fn(job, item) for item in items]`, distributed; results in the order of `items`.

    `fn` must be a module-level function (it is pickled by reference). `job` holds the large
    read-only inputs: inherited by forked local workers (`start="fork"`), pickled with each task
    for spawned ones (`start="spawn"`: for work that runs threaded numba code, see the module
    docstring), scattered once to a cluster's workers. `workers` = 1 runs in this process; > 1 uses
    Dask's local process scheduler with that many processes; `scheduler` (an address) uses that
    dask.distributed cluster instead. `on_result(i, result)` is called in this process as soon as
    task `i` has finished (in completion order, once per task; e.g. to checkpoint it on disk).
    """
    items = list(items)
    with contextlib.ExitStack() as shown:
        # Counted in the caller's open phase (one bar per phase, `crisislab._progress`); `progress`
        # shows a bar for this call where no caller shows phases.
        shown.enter_context(_progress.shown(progress))
        bar = shown.enter_context(_progress.tasks(len(items), label)) if items else None
        if scheduler is not None:
            return _map_distributed(fn, items, job, scheduler, bar, on_result)
        if workers <= 1 or len(items) <= 1:
            out = []
            for i, it in enumerate(items):
                out.append(fn(job, it))
                if on_result is not None:
                    on_result(i, out[-1])
                if bar:
                    bar.advance()
            return out
        return _map_local(fn, items, job, workers, bar, start, label, on_result)


# A local pool whose worker died is replaced and the unfinished tasks run again, this many times.
_LOCAL_RETRIES = 2
# How long a dask.distributed cluster may have no worker (at the start, or after losing them all)
# before the tasks are given up.
_WORKER_WAIT = 30.0
_POLL = 0.2

def _map_local(
    fn: Callable[[Any, Any], Any], items: list[Any], job: Any, workers: int, bar: Any, start: str, label: str,
    on_result: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """`fn(job, item)` for each item on a pool of local processes (see the module docstring).

    Workers die with this process (`crisislab._machine.die_with_parent`). A worker that dies (killed, out of memory) breaks the pool: the
    tasks not yet finished run again on a new pool, up to `_LOCAL_RETRIES` times; then
    `EnvironmentFault`. A task's own exception is raised as it is.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    import dask
    from dask.callbacks import Callback

    done: dict[int, Any] = {}
    deaths: list[set[str]] = []
    pool_ref: list[Any] = [None]
    # Forked workers inherit `_SHARED` (set before the pool's processes start);
    # chunksize 1 so that a few long tasks (robustness draws) spread over all workers.
    _SHARED["job"] = job
    try:
        for attempt in range(_LOCAL_RETRIES + 1):
            todo = [i for i in range(len(items)) if i not in done]
            if not todo:
                break
            if start == "fork":
                tasks = [dask.delayed(_local_call, pure=False)(fn, items[i]) for i in todo]
            else:
                tasks = [dask.delayed(_spawned_call, pure=False)(fn, job, items[i]) for i in todo]
            index = {t.key: i for t, i in zip(tasks, todo, strict=True)}

            procs: dict[int, Any] = {}

            def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any, index: dict = index,
                         procs: dict = procs, pool_ref: list = pool_ref) -> None:
                # Keep each worker process seen: a broken pool may forget its processes before their
                # exit codes are read.
                procs.update(getattr(pool_ref[0], "_processes", None) or {})
                if key in index and index[key] not in done:
                    done[index[key]] = result
                    if on_result is not None:
                        on_result(index[key], result)
                    if bar:
                        bar.advance()

            pool = ProcessPoolExecutor(
                min(workers, len(todo)), mp_context=multiprocessing.get_context(start),
                initializer=die_with_parent, initargs=(os.getpid(),),
            )  # fmt: skip
            pool_ref[0] = pool
            try:
                with Callback(posttask=posttask):
                    dask.compute(*tasks, scheduler="processes", pool=pool, chunksize=1, optimize_graph=False)
            except BrokenProcessPool:
                procs.update(getattr(pool, "_processes", None) or {})
                deaths.append(_exit_codes(procs.values()))
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        if len(done) < len(items):
            how = "; ".join(sorted({e for d in deaths for e in d}))
            raise EnvironmentFault(
                f"local worker processes died {len(deaths)} times while {label} ({len(done)} of {len(items)} tasks done"
                f"{'; ' + how if how else ''}): often the machine running out of memory; run with fewer workers, "
                f"a smaller chunk, or workers=1 to see an error of the task itself"
            )
        return [done[i] for i in range(len(items))]
    finally:
        _SHARED.clear()


def _exit_codes(processes: Any) -> set[str]:
    """How a broken pool's processes ended ("killed by SIGKILL")."""
    import signal

    ends = set()
    for p in list(processes):
        p.join(timeout=2.0)  # a process just killed may not be reaped yet
        code = p.exitcode
        if code is not None and code < 0:
            try:
                ends.add(f"a worker was killed by {signal.Signals(-code).name}")
            except ValueError:
                ends.add(f"a worker was killed by signal {-code}")
        elif code not in (None, 0):
            ends.add(f"a worker exited with status {code}")
    return ends


def _map_distributed(
    fn: Callable[[Any, Any], Any], items: list[Any], job: Any, address: str, bar: Any,
    on_result: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """`fn(job, item)` for each item on a dask.distributed cluster.

    The cluster reruns the tasks of a worker that leaves on the others (a task whose workers die
    `distributed.scheduler.allowed-failures` times is given up). No worker for `_WORKER_WAIT`
    seconds, at the start or after losing them all, a task given up or a lost connection to the
    scheduler raise `EnvironmentFault`; a task's own exception is raised as it is.
    """
    import time
    from concurrent.futures import CancelledError

    check_scheduler(address)
    from distributed import Client, KilledWorker
    from distributed.comm import CommClosedError

    try:
        client = Client(address, timeout=10, set_as_default=False)
    except OSError as exc:
        raise UserError(f"scheduler: cannot reach a dask.distributed scheduler at {address} ({exc})") from exc
    try:
        if not client.nthreads():
            try:
                client.wait_for_workers(1, timeout=_WORKER_WAIT)
            except TimeoutError:
                raise EnvironmentFault(
                    f"scheduler {address}: no worker joined within {_WORKER_WAIT:g} s (start workers with "
                    f"`dask worker {address}`, or run without --scheduler)"
                ) from None
        shared = client.scatter(job, broadcast=True, hash=False)
        futures = [client.submit(fn, shared, it, pure=False) for it in items]
        reported = 0
        alone_since: float | None = None
        handed: set[int] = set()
        while True:
            finished = sum(f.done() for f in futures)
            if on_result is not None:
                for i, f in enumerate(futures):
                    if i not in handed and f.status == "finished":
                        handed.add(i)
                        on_result(i, f.result())
            if bar:
                for _ in range(finished - reported):
                    bar.advance()
            reported = finished
            if finished == len(futures) or any(f.status in ("error", "cancelled") for f in futures):
                break
            if client.nthreads():
                alone_since = None
            elif alone_since is None:
                alone_since = time.monotonic()
            elif time.monotonic() - alone_since > _WORKER_WAIT:
                raise EnvironmentFault(
                    f"scheduler {address}: every worker left and none joined within {_WORKER_WAIT:g} s "
                    f"({finished} of {len(futures)} tasks done)"
                )
            time.sleep(_POLL)
        return client.gather(futures)
    except KilledWorker as exc:
        raise EnvironmentFault(
            f"scheduler {address}: a task was given up after the workers running it died repeatedly ({exc}); "
            f"often the workers running out of memory"
        ) from None
    except (CancelledError, CommClosedError) as exc:
        if isinstance(exc, CancelledError) and client.status == "running":
            # the job's inputs, held by the workers only, went with the last of them
            raise EnvironmentFault(
                f"scheduler {address}: the work was cancelled after every worker holding its inputs died "
                f"({type(exc).__name__}); often the workers running out of memory"
            ) from None
        raise EnvironmentFault(f"scheduler {address}: the connection was lost ({type(exc).__name__}: {exc})") from None
    finally:
        client.close()


def _work(job: dict[str, Any], runs: np.ndarray) -> ChunkResult:
    return simulate_chunk(job["spec"], job["policy"], job["seed"], runs, job["arm"], job["record_actions"], job["record_paths"])


def check_run_arguments(runs: int, seed: int, workers: int = 1, chunk: int = 1, scheduler: str | None = None) -> None:
    """UserError naming the parameter unless runs, workers and chunk are ≥ 1, the seed is in
    [0, 2**63) and the runs fit the machine's memory (checked before anything is solved)."""
    for name, value, lo in (("runs", runs, 1), ("workers", workers, 1), ("chunk", chunk, 1)):
        if int(value) < lo:
            raise UserError(f"{name}: must be an integer >= {lo} (got {value})")
    if not 0 <= int(seed) < 2**63:
        raise UserError(f"seed: must be an integer in [0, 2**63) (got {seed})")
    check_scale(int(runs), int(workers) if scheduler is None else 1)


def simulate_model(
    spec: Model,
    policy: Policy,
    runs: int,
    seed: int,
    arm: Arm = Arm(),
    *,
    workers: int = 1,
    chunk: int = DEFAULT_CHUNK,
    scheduler: str | None = None,
    paths: bool = False,
    record_actions: bool = True,
    progress: bool = False,
    first_run: int = 0,
    interventions: tuple[str, ...] = (),
    label: str = "simulating",
) -> Results:
    """Simulate runs `first_run .. first_run + runs - 1` of a compiled spec under `policy` and `arm`.

    `workers` > 1 runs chunks on that many local Dask processes, `scheduler` (an address) on a
    dask.distributed cluster (see `map_tasks`); `chunk` is the number of runs per array batch;
    `paths` adds the per-move table; `record_actions` keeps each run's action sequence for the
    most-frequent-paths table. Results do not depend on `workers` or `chunk`.
    """
    check_run_arguments(runs, seed, workers, chunk, scheduler)
    if paths:
        # Per-move records take (runs × moves × state) memory per chunk; results do not depend on it.
        chunk = min(chunk, _PATHS_CHUNK)
    check_scheduler(scheduler)
    batches = list(_chunks(runs, chunk, first_run))
    job = dict(spec=spec, policy=policy, seed=seed, arm=arm, record_actions=record_actions, record_paths=paths)
    results: list[ChunkResult] = map_tasks(
        _work, batches, job, workers=workers, scheduler=scheduler, progress=progress, label=label
    )
    return merge_chunks(spec, seed, results, interventions, with_paths=paths)
