"""Writing a command's outputs as one unit, and checking before any work that they can be written.

Every file a command writes is first written into a staging directory beside its target (same file
system, named `.NAME.crisislab-PID-XXXX`), flushed to disk, and only then moved into place:

- `writing_directory(target, owned)`: the outputs are the files `owned` inside the directory
  `target` (e.g. `run`'s results.parquet, claims.csv, robustness.parquet, report.html). A new
  target is the staging directory renamed; an existing one that holds nothing but those files is
  exchanged with the staging directory in one atomic `renameat2(RENAME_EXCHANGE)` (Linux); one
  that also holds other entries keeps them, and the staged files are renamed over the old ones.
  An owned file the new outputs do not include (claims.csv of a scenario without claims) is
  removed, so the directory never mixes files of two runs.
- `writing_files(paths)`: a set of files in one directory (`simulate --out`'s table and its
  `.paths.parquet`), each renamed over its target; a file of the set that is not written anew is
  removed.

A failure while writing (a full disk, a read-only file system, a permission, an exception, a kill)
leaves the previous outputs whole: only the final renames, which allocate no space, touch them.
An `OSError` becomes an `EnvironmentFault` naming the target (the CLI prints it as one line and
exits with status 3). Staging directories are removed on failure; one left by a killed process is
removed by the next write beside it.

`check_output(path, ...)` is what commands call before any work: the target is of the right kind
(a directory, or a file name), no file stands in the way of its parent directories, and the nearest
existing directory accepts a new entry (tried, not inferred from permission bits, so a read-only
file system is found also for root). Its failures are user mistakes (`UserError`, exit 2).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

from crisislab.errors import EnvironmentFault, UserError

__all__ = ["check_input_file", "check_output", "fault_message", "paths_file", "writing_directory", "writing_files"]

_STAGE = ".crisislab-"
_STALE = re.compile(r"^\.(?P<name>.+)\.crisislab-(?P<pid>\d+)-[A-Za-z0-9_]+$")


def fault_message(exc: OSError, what: str | Path | None = None) -> str:
    """`WHAT: STRERROR (ERRNO NAME)`: an OSError as one line (the file it names, else `what`)."""
    where = exc.filename if exc.filename is not None else what
    reason = exc.strerror or str(exc) or type(exc).__name__
    code = f" ({errno.errorcode.get(exc.errno, exc.errno)})" if exc.errno else ""
    return f"{where}: {reason}{code}" if where is not None else f"{reason}{code}"


def paths_file(path: str | Path) -> Path:
    """The per-move table written beside a per-run table: PATH-stem.paths.parquet."""
    p = Path(path)
    return p.with_name(p.stem + ".paths.parquet")


def _nearest_existing(path: Path) -> Path:
    p = path
    while not os.path.lexists(p):
        parent = p.parent
        if parent == p:
            break
        p = parent
    return p


def check_output(path: str | Path, *, directory: bool, option: str = "--out") -> None:
    """Refuse now (`UserError`) an output that could not be written after the work.

    `directory`: the output is a directory to write files into (else a file name). Checked: the
    target is of that kind; the nearest existing ancestor is a directory (no file in the way); a
    new entry can be made there and, for an existing directory target, in it.
    """
    p = Path(path)
    try:
        if directory and p.exists() and not p.is_dir():
            raise UserError(f"{option}: {p} is a file (expected a directory to write the results into)")
        if not directory and p.is_dir():
            raise UserError(f"{option}: {p} is a directory (expected a file name to write, e.g. {p / 'table.parquet'})")
        anc = _nearest_existing(p.parent if p.name else p)
        if anc.exists() and not anc.is_dir():
            raise UserError(f"{option}: {p} cannot be created: {anc} is a file, not a directory")
        if not anc.exists():  # a dangling symbolic link
            raise UserError(f"{option}: {p} cannot be created: {anc} is a broken symbolic link")
        places = [anc] + ([p] if directory and p.is_dir() else [])
    except OSError as exc:
        raise UserError(f"{option}: {p}: cannot inspect the path ({fault_message(exc)})") from None
    for place in places:
        try:
            probe = tempfile.mkdtemp(prefix=".crisislab-probe-", dir=place)
        except OSError as exc:
            raise UserError(
                f"{option}: {p} cannot be written: a new entry cannot be made in {place} "
                f"({exc.strerror or exc}); choose another {option}"
            ) from None
        os.rmdir(probe)


def check_input_file(path: str | Path, *, option: str) -> None:
    """Refuse now (`UserError`) an input that does not exist, is not a regular file or cannot be read."""
    p = Path(path)
    try:
        if p.is_dir():
            raise UserError(f"{option}: {p} is a directory (expected a file)")
        if p.exists() and not p.is_file():  # a pipe or a device could block or never end
            raise UserError(f"{option}: {p} is not a regular file (expected a file)")
        with open(p, "rb") as f:
            f.read(1)
    except FileNotFoundError:
        raise UserError(f"{option}: {p}: no such file") from None
    except OSError as exc:
        raise UserError(f"{option}: {p}: cannot be read ({exc.strerror or exc})") from None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(parent: Path, name: str) -> None:
    """Remove staging directories for `name` in `parent` left by processes that no longer run."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for e in entries:
        m = _STALE.match(e.name)
        if m and m["name"] == name and int(m["pid"]) != os.getpid() and not _pid_alive(int(m["pid"])):
            shutil.rmtree(e.path, ignore_errors=True)


def _stage_dir(parent: Path, name: str) -> Path:
    """A new empty directory in `parent` (made with the usual mode: it may become the output)."""
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(parent, name)
    while True:
        stage = parent / f".{name}{_STAGE}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            os.mkdir(stage)
        except FileExistsError:
            continue
        return stage


def _fsync_tree(directory: Path) -> None:
    """Flush every file written into `directory`, and the directory itself, to disk."""
    for entry in os.scandir(directory):
        if entry.is_file(follow_symlinks=False):
            fd = os.open(entry.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems cannot sync a directory
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where not supported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _inside_cwd(target: Path) -> bool:
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        return True
    return cwd == target or target in cwd.parents


def _commit_directory(stage: Path, target: Path, owned: Collection[str]) -> None:
    if not os.path.lexists(target):
        os.rename(stage, target)
        _fsync_dir(target.parent)
        return
    entries = set(os.listdir(target))
    if entries <= set(owned) and not _inside_cwd(target.resolve()):
        os.chmod(stage, stat.S_IMODE(os.stat(target).st_mode))
        if _exchange(stage, target):
            # `stage` now holds the previous outputs
            _fsync_dir(target.parent)
            shutil.rmtree(stage, ignore_errors=True)
            return
    _commit_files(stage, target, owned)


def _commit_files(stage: Path, target_dir: Path, names: Collection[str]) -> None:
    staged = set(os.listdir(stage))
    for name in names:
        if name in staged:
            os.replace(stage / name, target_dir / name)
        elif os.path.lexists(target_dir / name):
            os.unlink(target_dir / name)
    _fsync_dir(target_dir)
    shutil.rmtree(stage, ignore_errors=True)


@contextlib.contextmanager
def _faults_named(target: Path) -> Iterator[None]:
    try:
        yield
    except (OSError, EnvironmentFault) as exc:
        # a writer nested in this one (a table written atomically by itself) names its own
        # staging file: report the OSError underneath against this target
        cause = exc.__cause__ if isinstance(exc, EnvironmentFault) else exc
        if not isinstance(cause, OSError):
            raise
        known = cause.errno in errno.errorcode
        reason = os.strerror(cause.errno) if known else (cause.strerror or str(cause) or type(cause).__name__)
        code = f" ({errno.errorcode[cause.errno]})" if known else ""
        raise EnvironmentFault(
            f"{target}: cannot write the outputs: {reason}{code}; nothing was changed there"
        ) from cause


@contextlib.contextmanager
def writing_directory(target: str | Path, owned: Collection[str]) -> Iterator[Path]:
    """Yield an empty staging directory; on success its files become `target`'s `owned` files.

    Files written into the staging directory must be among `owned`. On an exception nothing in
    `target` changes and the staging directory is removed; an `OSError` is raised as an
    `EnvironmentFault` naming `target`.
    """
    target = Path(os.path.abspath(target))
    if target.is_symlink():
        target = target.resolve()
    if os.path.lexists(target) and not target.is_dir():
        raise UserError(f"{target} is a file (expected a directory to write the outputs into)")
    with _faults_named(target):
        stage = _stage_dir(target.parent, target.name)
        try:
            yield stage
            extra = set(os.listdir(stage)) - set(owned)
            if extra:
                raise ValueError(f"writing_directory: files not declared as outputs: {sorted(extra)}")
            _fsync_tree(stage)
            _commit_directory(stage, target, owned)
        finally:
            shutil.rmtree(stage, ignore_errors=True)


@contextlib.contextmanager
def writing_files(paths: Sequence[str | Path]) -> Iterator[list[Path]]:
    """Yield staging paths for `paths` (files of one directory); on success each written one
    replaces its target and a target not written is removed. On an exception no target changes;
    an `OSError` is raised as an `EnvironmentFault` naming the first path."""
    targets = [Path(os.path.abspath(p)) for p in paths]
    parents = {t.parent for t in targets}
    if len(parents) != 1:
        raise ValueError(f"writing_files: the files must share a directory (got {[str(t) for t in targets]})")
    parent = parents.pop()
    names = [t.name for t in targets]
    with _faults_named(targets[0]):
        stage = _stage_dir(parent, names[0])
        try:
            yield [stage / n for n in names]
            _fsync_tree(stage)
            _commit_files(stage, parent, names)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
