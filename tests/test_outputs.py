"""Outputs are written as one unit and checked before any work; faults are one line and exit 3.

What is checked: `writing_directory` / `writing_files` leave the previous outputs whole under a fault
at any point (an exception mid-write, ENOSPC, a real full file system) and leave no staging
directory; a new directory is renamed into place, an existing one swapped or updated file by file
(other entries kept, a stale owned file removed); a staging directory of a killed process is
cleaned up. Through the command line: `run`, `simulate`, `claims`, `solve` and `export-efg` refuse
an unusable output and a missing or unreadable timeline in well under a second, before any
solving (exit 2); a fault while writing is one line, exit 3, nothing changed.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crisislab._output import (
    check_input_file,
    check_output,
    writing_directory,
    writing_files,
)
from crisislab.errors import EnvironmentFault, UserError

REPO = Path(__file__).resolve().parents[1]
MINI = REPO / "tests" / "simulation" / "mini.yaml"
OWNED = ("a.txt", "b.txt", "c.txt")


def _write_all(stage: Path, tag: str, names=OWNED) -> None:
    for n in names:
        (stage / n).write_text(f"{tag} {n}")


def _contents(d: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(d.iterdir())}


def _staging_left(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".crisislab-" in p.name]



# --- the writers ------------------------------------------------------------------------------


def test_a_new_directory_is_renamed_into_place_with_the_usual_mode(tmp_path):
    target = tmp_path / "deep" / "out"
    with writing_directory(target, OWNED) as stage:
        assert stage.parent == target.parent and not target.exists()
        _write_all(stage, "new")
    assert _contents(target) == {n: f"new {n}" for n in OWNED}
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask
    assert _staging_left(target.parent) == []


def test_an_existing_output_directory_is_swapped_whole_and_a_stale_owned_file_removed(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    _write_all(target, "old")
    before = target.stat().st_ino
    with writing_directory(target, OWNED) as stage:
        _write_all(stage, "new", OWNED[:2])  # no c.txt this time: the old one must not stay
    assert _contents(target) == {n: f"new {n}" for n in OWNED[:2]}
    assert target.stat().st_ino != before  # exchanged, not updated in place
    assert _staging_left(tmp_path) == []


def test_other_entries_of_the_target_directory_are_kept(tmp_path):
    target = tmp_path / "out"
    (target / "solution").mkdir(parents=True)
    (target / "notes.md").write_text("mine")
    _write_all(target, "old")
    with writing_directory(target, OWNED) as stage:
        _write_all(stage, "new")
    assert (target / "notes.md").read_text() == "mine" and (target / "solution").is_dir()
    assert {n: (target / n).read_text() for n in OWNED} == {n: f"new {n}" for n in OWNED}
    assert _staging_left(tmp_path) == []


@pytest.mark.parametrize("where", ["first file", "last file", "commit"])
@pytest.mark.parametrize("foreign", [False, True], ids=["outputs-only", "with-other-entries"])
def test_a_fault_at_any_point_leaves_the_previous_outputs_whole(tmp_path, monkeypatch, where, foreign):
    import crisislab._output as out_mod

    target = tmp_path / "out"
    target.mkdir()
    _write_all(target, "old")
    if foreign:
        (target / "notes.md").write_text("mine")
    before = _contents(target)
    if where == "commit":
        def no_space(*_a, **_k):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(out_mod, "_fsync_tree", no_space)
    with pytest.raises(EnvironmentFault, match=r"out: cannot write the outputs: No space left on device \(ENOSPC\); nothing was changed"):
        with writing_directory(target, OWNED) as stage:
            (stage / "a.txt").write_text("new a")
            if where == "first file":
                raise OSError(errno.ENOSPC, "No space left on device")
            _write_all(stage, "new")
            if where == "last file":
                raise OSError(errno.ENOSPC, "No space left on device")
    assert _contents(target) == before
    assert _staging_left(tmp_path) == []


def test_an_exception_that_is_not_an_os_error_passes_unchanged_and_changes_nothing(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    _write_all(target, "old")
    with pytest.raises(KeyError), writing_directory(target, OWNED) as stage:
        _write_all(stage, "new")
        raise KeyError("bug")
    assert _contents(target) == {n: f"old {n}" for n in OWNED}
    assert _staging_left(tmp_path) == []


def test_without_an_atomic_exchange_the_files_are_renamed_over_the_old_ones(tmp_path, monkeypatch):
    import crisislab._output as out_mod

    monkeypatch.setattr(out_mod, "_exchange", lambda a, b: False)
    target = tmp_path / "out"
    target.mkdir()
    _write_all(target, "old")
    with writing_directory(target, OWNED) as stage:
        _write_all(stage, "new", OWNED[1:])
    assert _contents(target) == {n: f"new {n}" for n in OWNED[1:]}
    assert _staging_left(tmp_path) == []


def test_a_staging_directory_of_a_killed_process_is_removed_by_the_next_write(tmp_path):
    # a process that cannot be running any more: a child that has been reaped
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(child.stdout)
    stale = tmp_path / f".out.crisislab-{dead}-deadbeef"
    stale.mkdir()
    (stale / "a.txt").write_text("half")
    alive = tmp_path / f".out.crisislab-{os.getppid()}-cafe"  # a running process's: left alone
    alive.mkdir()
    with writing_directory(tmp_path / "out", OWNED) as stage:
        _write_all(stage, "new")
    assert not stale.exists() and alive.exists()


def test_files_outside_the_declared_outputs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not declared"):
        with writing_directory(tmp_path / "out", OWNED) as stage:
            (stage / "other.txt").write_text("x")
    assert not (tmp_path / "out").exists() and _staging_left(tmp_path) == []


def test_a_set_of_files_is_written_as_one_unit(tmp_path):
    main, companion = tmp_path / "t.parquet", tmp_path / "t.paths.parquet"
    main.write_text("old")
    companion.write_text("old paths")
    (tmp_path / "unrelated").write_text("keep")
    with pytest.raises(EnvironmentFault, match="t.parquet: cannot write the outputs: Read-only file system"):
        with writing_files([main, companion]) as (m, c):
            m.write_text("new")
            raise OSError(errno.EROFS, "Read-only file system")
    assert main.read_text() == "old" and companion.read_text() == "old paths"
    with writing_files([main, companion]) as (m, c):
        m.write_text("new")  # no companion this time: the old one goes
    assert main.read_text() == "new" and not companion.exists()
    assert (tmp_path / "unrelated").read_text() == "keep"
    assert _staging_left(tmp_path) == []


@pytest.fixture
def tiny_fs(tmp_path):
    """A 16 MiB tmpfs, room for a previous run (its report inlines plotly.js, ~5 MB); needs the right
    to mount (skipped otherwise)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if sys.platform != "linux" or shutil.which("mount") is None:
        pytest.skip("needs Linux mount")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_really_full_file_system_leaves_the_previous_outputs_whole(tiny_fs):
    target = tiny_fs / "out"
    with writing_directory(target, OWNED) as stage:
        _write_all(stage, "old")
    before = _contents(target)
    with pytest.raises(EnvironmentFault, match=r"No space left on device \(ENOSPC\)"):
        with writing_directory(target, OWNED) as stage:
            (stage / "a.txt").write_text("new")
            (stage / "b.txt").write_bytes(b"x" * (32 << 20))  # more than the file system holds
    assert _contents(target) == before
    assert _staging_left(tiny_fs) == []


def test_a_read_only_file_system_is_found_before_any_work_even_for_root(tiny_fs):
    (tiny_fs / "out").mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    with pytest.raises(UserError, match=r"--out: .*out cannot be written: a new entry cannot be made in .*Read-only file system"):
        check_output(tiny_fs / "out", directory=True)
    with pytest.raises(UserError, match="Read-only file system"):
        check_output(tiny_fs / "t.parquet", directory=False)


# --- the checks before any work ----------------------------------------------------------------


def test_check_output_refuses_each_unusable_target(tmp_path):
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(UserError, match=r"^--out: .*file is a file \(expected a directory"):
        check_output(afile, directory=True)
    with pytest.raises(UserError, match=r"^--out: .*sub/deeper cannot be created: .*file is a file, not a directory"):
        check_output(afile / "sub" / "deeper", directory=True)
    with pytest.raises(UserError, match=r"^-o: .* is a directory \(expected a file name"):
        check_output(tmp_path, directory=False, option="-o")
    with pytest.raises(UserError, match="broken symbolic link"):
        (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
        check_output(tmp_path / "dangling" / "out", directory=True)
    check_output(tmp_path / "new" / "dir", directory=True)  # nothing exists yet: fine, and nothing made
    assert not (tmp_path / "new").exists()
    assert [p.name for p in tmp_path.iterdir() if "probe" in p.name] == []


def test_check_input_file_refuses_missing_directory_and_unreadable(tmp_path, monkeypatch):
    with pytest.raises(UserError, match=r"^--timeline: .*nope.csv: no such file$"):
        check_input_file(tmp_path / "nope.csv", option="--timeline")
    with pytest.raises(UserError, match=r"is a directory \(expected a file\)"):
        check_input_file(tmp_path, option="--timeline")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match=r"pipe is not a regular file"):
        check_input_file(fifo, option="--timeline")  # refused, not waited on
    f = tmp_path / "t.csv"
    f.write_text("round,actor\n")

    def denied(*_a, **_k):
        raise PermissionError(errno.EACCES, "Permission denied", str(f))

    monkeypatch.setattr("builtins.open", denied)
    with pytest.raises(UserError, match=r"t.csv: cannot be read \(Permission denied\)"):
        check_input_file(f, option="--timeline")


# --- through the command line ------------------------------------------------------------------


def _no_work(monkeypatch):
    """Make any solving or simulating fail loudly: the checks must come first."""
    from crisislab import analysis, crisis

    def forbidden(*_a, **_k):
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(analysis, "run_study", forbidden)
    monkeypatch.setattr(crisis, "compile_scenario", forbidden)
    monkeypatch.setattr(crisis, "unroll_scenario", forbidden)
    monkeypatch.setattr("crisislab.cli._simulate._runner", forbidden)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", MINI, "--out", "{file}/sub"], "--out: {file}/sub cannot be created: {file} is a file, not a directory"),
        (["run", MINI, "--out", "{file}"], "--out: {file} is a file (expected a directory"),
        (["run", MINI, "--out", "{tmp}/o", "--timeline", "{tmp}/missing.csv"], "--timeline: {tmp}/missing.csv: no such file"),
        (["run", MINI, "--out", "{tmp}/o", "--timeline", "{tmp}"], "--timeline: {tmp} is a directory (expected a file)"),
        (["simulate", MINI, "--out", "{file}/t.parquet"], "--out: {file}/t.parquet cannot be created"),
        (["simulate", MINI, "--out", "{tmp}"], "--out: {tmp} is a directory"),
        (["claims", MINI, "--out", "{file}/r.parquet"], "--out: {file}/r.parquet cannot be created"),
        (["solve", MINI, "--out", "{file}"], "--out: {file} is a file"),
        (["solve", MINI, "--out", "{file}/s"], "--out: {file}/s cannot be created"),
        (["export-efg", MINI, "--horizon", "2", "-o", "{file}/g.efg"], "--output: {file}/g.efg cannot be created"),
        (["export-efg", MINI, "--horizon", "2", "-o", "{tmp}"], "--output: {tmp} is a directory"),
    ],
    ids=["run-under-file", "run-onto-file", "run-missing-timeline", "run-timeline-dir", "simulate-under-file",
         "simulate-onto-dir", "claims-under-file", "solve-onto-file", "solve-under-file", "export-under-file", "export-onto-dir"],
)
def test_unusable_paths_are_one_line_and_exit_2_before_any_work(cli, tmp_path, monkeypatch, argv, needle):
    afile = tmp_path / "file"
    afile.write_text("x")
    fmt = {"file": afile, "tmp": tmp_path}
    _no_work(monkeypatch)
    t0 = time.perf_counter()
    code, _out, err = cli(*[str(a).format(**fmt) for a in argv])
    elapsed = time.perf_counter() - t0
    assert code == 2, err
    assert err.strip() == err.strip().splitlines()[0] and needle.format(**fmt) in err
    assert "Traceback" not in err
    assert elapsed < 1.0


def test_a_missing_timeline_costs_well_under_a_second_from_the_shell(tmp_path):
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "crisislab.cli", "run", str(MINI), "--timeline", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - t0
    assert r.returncode == 2 and r.stderr.strip() == f"--timeline: {tmp_path / 'none.csv'}: no such file"
    assert elapsed < 3.0  # interpreter start-up included; the check itself reads no scenario module


@pytest.fixture(scope="module")
def previous_run(tmp_path_factory):
    """A `run` output directory to be kept whole by failing runs."""
    from crisislab.analysis import run_study
    from crisislab.report import write_report
    from crisislab.scenario import load_scenario

    out = tmp_path_factory.mktemp("prev") / "out"
    study = run_study(load_scenario(MINI), runs=300, seed=1, policy="myopic", robustness=0)
    write_report(study, out)
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_run_disk_full_mid_write_is_one_line_exit_3_and_the_previous_run_stays(cli, tmp_path, monkeypatch, previous_run):
    import pandas as pd

    out = _copy(previous_run, tmp_path / "out")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = pd.DataFrame.to_parquet

    def full_disk(self, path, *a, **k):
        if str(path).endswith("robustness.parquet"):  # after results.parquet and claims.csv are written
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, path, *a, **k)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    code, _out, err = cli("run", MINI, "--runs", "300", "--seed", "2", "--policy", "myopic", "--robustness", "0", "--out", out)
    assert code == 3, err
    assert err.strip() == f"error: {out}: cannot write the outputs: No space left on device (ENOSPC); nothing was changed there"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _staging_left(tmp_path) == []


def test_solve_read_only_while_saving_is_exit_3_and_the_previous_solution_stays(cli, tmp_path, monkeypatch):
    import numpy as np

    out = tmp_path / "sol"
    out.mkdir()
    (out / "solution.npz").write_bytes(b"old npz")
    (out / "solution.json").write_text("{}")

    def read_only(*_a, **_k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(np, "savez", read_only)
    code, _out, err = cli("solve", MINI, "--grid", "3", "--out", out)
    assert code == 3 and "Traceback" not in err
    assert err.strip().endswith("cannot write the outputs: Read-only file system (EROFS); nothing was changed there")
    assert (out / "solution.npz").read_bytes() == b"old npz" and (out / "solution.json").read_text() == "{}"


def test_simulate_writes_its_table_and_removes_a_stale_table_of_moves(cli, tmp_path):
    out = tmp_path / "t.parquet"
    code, _o, err = cli("simulate", MINI, "--runs", "200", "--policy", "myopic", "--paths", "--out", out)
    assert code == 0, err
    assert out.exists() and (tmp_path / "t.paths.parquet").exists()
    code, _o, err = cli("simulate", MINI, "--runs", "200", "--policy", "myopic", "--out", out)
    assert code == 0, err
    assert out.exists() and not (tmp_path / "t.paths.parquet").exists()
    assert _staging_left(tmp_path) == []


def test_export_efg_fault_while_writing_keeps_the_previous_file(cli, tmp_path, monkeypatch):
    from crisislab import efg

    out = tmp_path / "g.efg"
    out.write_text("old game")

    def denied(game, path):
        Path(path).write_text("half a gam")
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(efg, "write_efg", denied)
    code, _o, err = cli("export-efg", MINI, "--horizon", "1", "-o", out)
    assert code == 3 and "Permission denied (EACCES)" in err and "Traceback" not in err
    assert out.read_text() == "old game" and _staging_left(tmp_path) == []


@pytest.mark.parametrize(
    ("exc", "code", "needle"),
    [
        (EnvironmentFault("the cluster went away"), 3, "error: the cluster went away"),
        (OSError(errno.EIO, "Input/output error", "/data/x.yaml"), 3, "error: /data/x.yaml: Input/output error (EIO)"),
        (MemoryError(), 3, "error: out of memory"),
        (UserError("x.yaml:3: bad"), 2, "x.yaml:3: bad"),
    ],
    ids=["fault", "oserror", "memory", "user"],
)
def test_exit_statuses_are_one_line_without_traceback(cli, monkeypatch, exc, code, needle):
    import crisislab.cli as cli_mod

    def boom() -> None:
        raise exc

    monkeypatch.setattr(cli_mod, "app", boom)
    got, _out, err = cli("version")
    assert got == code and (err.strip() == needle or err.startswith(needle))
    assert len(err.strip().splitlines()) == 1


def test_run_study_reads_the_record_before_any_solving(tmp_path, monkeypatch):
    import crisislab.analysis._study as study_mod
    from crisislab.analysis import run_study
    from crisislab.scenario import load_scenario

    def forbidden(*_a, **_k):
        raise AssertionError("solving started before the record was read")

    monkeypatch.setattr(study_mod, "make_runner", forbidden)
    sc = load_scenario(MINI)
    with pytest.raises(UserError, match=r"^record: .*none.csv: no such file$"):
        run_study(sc, record=tmp_path / "none.csv")
    with pytest.raises(UserError, match=r"^record: .* is a directory \(expected a file\)$"):
        run_study(sc, record=tmp_path)
    # the bundled record (when the scenario has one) is read first too
    missing = tmp_path / "gone-timeline.csv"
    monkeypatch.setattr("crisislab.data.bundled_timeline", lambda _id: missing)
    with pytest.raises(UserError, match="gone-timeline.csv"):
        run_study(sc)


def test_run_on_a_really_full_disk_is_exit_3_and_keeps_the_previous_run(cli, tiny_fs, previous_run):
    out = tiny_fs / "out"
    shutil.copytree(previous_run, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    free = os.statvfs(tiny_fs).f_bavail * os.statvfs(tiny_fs).f_frsize
    (tiny_fs / "filler").write_bytes(b"\0" * max(0, free - 16 * 1024))  # leave 16 KiB: less than a report
    code, _out, err = cli("run", MINI, "--runs", "300", "--seed", "3", "--policy", "myopic", "--robustness", "0", "--out", out)
    assert code == 3, err
    assert _one_line_of(err) == f"error: {out}: cannot write the outputs: No space left on device (ENOSPC); nothing was changed there"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _staging_left(tiny_fs) == []


def test_run_onto_a_read_only_file_system_is_exit_2_before_any_work(cli, tiny_fs, monkeypatch):
    (tiny_fs / "out").mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    _no_work(monkeypatch)
    code, _out, err = cli("run", MINI, "--out", tiny_fs / "out")
    assert code == 2
    assert _one_line_of(err).startswith(f"--out: {tiny_fs / 'out'} cannot be written: a new entry cannot be made in {tiny_fs} (Read-only file system)")


def _one_line_of(err: str) -> str:
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()
