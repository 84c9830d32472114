"""Worker processes: they die with their parent, and a lost worker costs a retry, not the run.

What is checked: SIGKILL of `crisislab run --workers 2` while its forked simulation workers run, and
while its spawned robustness workers (and multiprocessing's resource tracker) run, leaves no process
of it alive; a local worker killed mid-task has its tasks rerun on a new pool with the same results,
and workers that keep dying end in one `EnvironmentFault`; a task's own exception passes unchanged;
on a dask.distributed cluster a worker lost mid-run is retried on the others, and a cluster with no
worker, one that loses them all, or a task that kills every worker it runs on is one clear error.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from crisislab.errors import EnvironmentFault
from crisislab.simulation import map_tasks

REPO = Path(__file__).resolve().parents[2]
MINI = REPO / "tests" / "simulation" / "mini.yaml"
FEARON = REPO / "scenarios" / "fearon-audience-costs.yaml"


def _die_once(marker_dir: str, item: int) -> int:
    """Kill the worker running item 3 the first time; double the item otherwise."""
    marker = os.path.join(marker_dir, f"died-{item}")
    if item == 3 and not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.02)
    return 2 * item


def _die_always(_job: str, item: int) -> int:
    if item == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return item


def _fails(_job: str, item: int) -> int:
    raise ZeroDivisionError(f"task {item} fails on its own")


def _sleepy(_job: str, item: int) -> int:
    time.sleep(0.5)
    return item


# --- local processes ---------------------------------------------------------------------------


def test_a_local_worker_killed_mid_run_is_replaced_and_the_results_are_the_same(tmp_path):
    got = map_tasks(_die_once, range(10), str(tmp_path), workers=2)
    assert got == [2 * i for i in range(10)]
    assert (tmp_path / "died-3").exists()  # it did die once


def test_local_workers_that_keep_dying_end_in_one_environment_fault(tmp_path):
    with pytest.raises(EnvironmentFault) as err:
        map_tasks(_die_always, range(6), str(tmp_path), workers=2, label="simulating")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("local worker processes died 3 times while simulating (")
    assert "SIGKILL" in msg and "fewer workers" in msg


def test_a_tasks_own_exception_is_raised_unchanged(tmp_path):
    with pytest.raises(ZeroDivisionError, match="fails on its own"):
        map_tasks(_fails, range(4), str(tmp_path), workers=2)


def _descendants(pid: int) -> set[int]:
    import psutil

    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _kill_run_while(args: list[str], ready, tmp_path: Path, timeout: float = 240) -> None:
    """Start `crisislab run ARGS --workers 2`, SIGKILL it once `ready(cmdlines)` holds for its
    children, and check that no process it started outlives it."""
    import psutil

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    err = tmp_path / "stderr"
    with open(err, "wb") as stderr:
        p = subprocess.Popen(
            [sys.executable, "-m", "crisislab.cli", "run", *args, "--workers", "2", "--out", str(tmp_path / "out")],
            stdout=subprocess.DEVNULL, stderr=stderr, env=env,
        )  # fmt: skip
    seen: dict[int, str] = {}
    t0 = time.monotonic()
    try:
        while True:
            assert p.poll() is None, f"the run ended before its workers were seen: {err.read_text()[-2000:]}"
            assert time.monotonic() - t0 < timeout, "no workers appeared"
            for pid in _descendants(p.pid):
                try:
                    seen.setdefault(pid, " ".join(psutil.Process(pid).cmdline()))
                except psutil.Error:
                    pass
            if ready(list(seen.values())):
                break
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in seen):
        time.sleep(0.1)
    survivors = {pid: cmd for pid, cmd in seen.items() if _alive(pid)}
    for pid in survivors:  # do not leave them behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"processes outlived their killed parent: {survivors}"


@pytest.mark.slow
def test_sigkill_of_run_leaves_no_forked_simulation_worker(tmp_path):
    pytest.importorskip("psutil")
    _kill_run_while(
        [str(MINI), "--runs", "2000000", "--chunk", "2000", "--robustness", "0", "--policy", "myopic"],
        lambda cmds: len(cmds) >= 2, tmp_path,
    )  # fmt: skip


@pytest.mark.slow
def test_sigkill_of_run_leaves_no_spawned_worker_nor_resource_tracker(tmp_path):
    pytest.importorskip("psutil")
    _kill_run_while(
        [str(FEARON), "--runs", "2000", "--robustness", "12", "--robustness-runs", "20000"],
        lambda cmds: sum("spawn_main" in c for c in cmds) >= 2 and any("resource_tracker" in c for c in cmds), tmp_path,
    )  # fmt: skip


# --- a dask.distributed cluster -----------------------------------------------------------------


@pytest.fixture
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
    ) as c:
        yield c


@pytest.mark.slow
def test_a_cluster_worker_lost_mid_run_is_retried_on_the_others(cluster, tmp_path):
    got = map_tasks(_die_once, range(8), str(tmp_path), scheduler=cluster.scheduler_address)
    assert got == [2 * i for i in range(8)] and (tmp_path / "died-3").exists()


@pytest.mark.slow
def test_a_task_that_kills_every_worker_is_one_environment_fault(cluster, tmp_path):
    # given up by the scheduler (KilledWorker), or cancelled when the last copy of the job went
    with pytest.raises(EnvironmentFault, match=r"^scheduler tcp://.*: (a task was given up after the workers running it "
                       r"died repeatedly|the work was cancelled after every worker holding its inputs died)"):
        map_tasks(_die_always, range(6), str(tmp_path), scheduler=cluster.scheduler_address)


@pytest.mark.slow
def test_a_cluster_without_workers_is_one_environment_fault(monkeypatch):
    distributed = pytest.importorskip("distributed")
    import crisislab.simulation._run as run

    monkeypatch.setattr(run, "_WORKER_WAIT", 1.0)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None, silence_logs=50) as c:
        with pytest.raises(EnvironmentFault, match=r"^scheduler .*: no worker joined within 1 s \(start workers with"):
            map_tasks(_sleepy, range(3), "", scheduler=c.scheduler_address)


@pytest.mark.slow
def test_a_cluster_that_loses_every_worker_mid_run_is_one_environment_fault(monkeypatch):
    distributed = pytest.importorskip("distributed")
    import crisislab.simulation._run as run

    monkeypatch.setattr(run, "_WORKER_WAIT", 1.5)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None, silence_logs=50) as c:
        threading.Timer(1.0, lambda: c.scale(0)).start()
        # the job's scattered inputs leave with the last worker, or no worker comes back in time
        with pytest.raises(EnvironmentFault, match=r"^scheduler .*: (every worker left and none joined within 1.5 s "
                           r"\(\d+ of 20 tasks done\)|the work was cancelled after every worker holding its inputs died)"):
            map_tasks(_sleepy, range(20), "", scheduler=c.scheduler_address)
