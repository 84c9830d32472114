"""The machine: the memory a command may plan for (the bound of `--max-gib`), and worker processes
that end with the process that started them.

Only the standard library is imported here: `die_with_parent` is the initializer of spawned workers,
which must run before they import anything heavy.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["BYTES_PER_RUN", "WORKERS_PER_CORE", "check_scale", "cores", "die_with_parent", "memory_bytes"]

_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def memory_bytes() -> int | None:
    """Physical memory, or the control group's memory limit where that is lower; None if unknown."""
    sizes: list[int] = []
    try:
        sizes.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        pass
    for f in _CGROUP_LIMITS:
        try:
            text = Path(f).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # "max" or a huge number: no limit
            sizes.append(int(text))
    sizes = [s for s in sizes if s > 0]
    return min(sizes) if sizes else None


# The least memory one simulated run takes: its row of the per-run table alone is 90-130 bytes,
# and merging the chunks holds it twice. A request beyond the machine's memory at this rate cannot
# succeed, so it is refused before any work.
BYTES_PER_RUN = 256
# Local worker processes per core at most: more only compete for the cores, each holding its job.
WORKERS_PER_CORE = 4


def cores() -> int:
    """CPUs this process may run on (the affinity set where known, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def check_scale(runs: int, workers: int, *, runs_name: str = "runs", workers_name: str = "workers") -> None:
    """Refuse (`UserError`) more runs than the machine's memory can hold (`BYTES_PER_RUN` each) and
    more local workers than `WORKERS_PER_CORE` per core."""
    from crisislab.errors import UserError

    mem = memory_bytes()
    if mem is not None and runs * BYTES_PER_RUN > mem:
        raise UserError(
            f"{runs_name}: {runs:,} runs need at least {runs * BYTES_PER_RUN / 2**30:,.1f} GiB for the per-run table "
            f"({BYTES_PER_RUN} bytes a run), more than this machine's memory ({mem / 2**30:.1f} GiB); expected at most "
            f"{mem // BYTES_PER_RUN:,} runs"
        )
    most = WORKERS_PER_CORE * cores()
    if workers > most:
        raise UserError(
            f"{workers_name}: at most {most} local worker processes ({WORKERS_PER_CORE} per core on this machine's "
            f"{cores()}; more only compete for the cores, each holding its own copy of the job) (got {workers})"
        )


_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when the process that started it dies, however it dies.

    On Linux the kernel sends SIGKILL at the parent's death (`prctl(PR_SET_PDEATHSIG)`); elsewhere a
    daemon thread watches the parent id. Either way a worker cannot outlive a killed `crisislab`
    (nor, with it, multiprocessing's resource tracker, which ends when no process holds its pipe).
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
                if os.getppid() != parent:  # the parent died before the request took effect
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="crisislab-parent-watch").start()
