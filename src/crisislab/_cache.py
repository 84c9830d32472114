"""The on-disk caches' common ground: a directory only its user can write, files checked before use.

Both caches (compiled games in `crisis`, specialised kernels in `simulation`) live under
`cache_root()`. A cache directory is created with mode 0o700; an existing one is used only when it
belongs to the user and neither group nor others can write to it (one that group or others may
only read is tightened to 0o700). crisislab reads a cache file only through `open_private`, which
refuses symbolic links, files of another owner and files that group or others can write (numba's
own files for the kernels are screened by `remove_untrusted`). Files are written whole under a
temporary name and renamed into place (`write_atomic`), and temporary files that a killed or
failed writer left behind are removed (`remove_stale_tmp`).

Anything that makes a cache unusable is reported once per process and directory or entry as a
`CacheWarning`, and the result is computed afresh: a cache never changes a result, it only saves time.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "CacheWarning", "cache_root", "open_private", "private_dir", "private_dirs", "remove_stale_tmp", "remove_untrusted",
    "warn_once", "write_atomic",
]

# A temporary file is stale when its writer (the pid in its name) is gone and it has not changed
# for TMP_GRACE seconds, or when it has not changed for TMP_MAX_AGE seconds whoever wrote it.
TMP_GRACE = 60.0
TMP_MAX_AGE = 600.0
_TMP_PID = re.compile(r"\.(\d+)(?:-[0-9a-f]+)?\.tmp$")

_warned: set[str] = set()


class CacheWarning(UserWarning):
    """A cache directory or entry was not used (corrupt, built from other inputs, of another owner,
    or writable by others); what it held is computed afresh, so only time is lost."""


def cache_root() -> Path:
    """`$CRISISLAB_CACHE_DIR`, else `$XDG_CACHE_HOME/crisislab`, else `~/.cache/crisislab`."""
    root = os.environ.get("CRISISLAB_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "crisislab"
    )
    return Path(root)


def warn_once(key: str, message: str, stacklevel: int = 3) -> None:
    """A `CacheWarning` with `message`, the first time `key` is reported in this process."""
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(message, CacheWarning, stacklevel=stacklevel)


def _uid() -> int | None:
    return os.getuid() if hasattr(os, "getuid") else None


def _unsafe(st: os.stat_result) -> str | None:
    """Why a file or directory with this status must not be trusted, or None."""
    uid = _uid()
    if uid is not None and st.st_uid != uid:
        return f"owned by user id {st.st_uid}, not {uid}"
    if uid is not None and st.st_mode & 0o022:
        return f"writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def private_dir(path: Path) -> str | None:
    """Create `path` (mode 0o700, missing parents with the default mode) or check it. None when it
    is safe to use; otherwise why not (another owner, writable by group or others, not a directory,
    cannot be created)."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError as e:
        return f"cannot be created ({e.strerror or e})"
    if not stat.S_ISDIR(st.st_mode):
        return "not a directory"
    why = _unsafe(st)
    if why is not None:
        return why
    if _uid() is not None and st.st_mode & 0o077:
        try:  # only we can write it: keep the others from reading it too
            os.chmod(path, 0o700)
        except OSError:
            pass
    return None


def private_dirs(*paths: Path) -> str | None:
    """`private_dir` of each path in turn (outer first): None when all are safe, else the first
    problem as `PATH: why`."""
    for p in paths:
        why = private_dir(p)
        if why is not None:
            return f"{p}: {why}"
    return None


def remove_untrusted(directory: Path, pattern: str) -> list[str]:
    """Remove the files matching `pattern` in `directory` that are not regular files of the user's
    own that only the user can write (symbolic links included); returns their names."""
    removed = []
    try:
        names = list(directory.glob(pattern))
    except OSError:
        return removed
    for f in names:
        try:
            st = f.lstat()
            if stat.S_ISREG(st.st_mode) and _unsafe(st) is None:
                continue
            f.unlink()
            removed.append(f.name)
        except OSError:
            pass
    return removed


def open_private(path: Path):
    """`(binary file opened for reading, its size)`, or `(None, why not)`: a missing file, a symbolic
    link, not a regular file, another owner, or writable by group or others."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None, "missing"
    except OSError as e:
        return None, f"cannot be opened ({e.strerror or e})"
    try:
        st = os.fstat(fd)  # the file opened, not whatever the name points to now
        why = "not a regular file" if not stat.S_ISREG(st.st_mode) else _unsafe(st)
    except OSError as e:
        why = f"cannot be read ({e.strerror or e})"
    if why is not None:
        os.close(fd)
        return None, why
    return os.fdopen(fd, "rb"), st.st_size


def write_atomic(path: Path, chunks: Iterable) -> None:
    """Write `chunks` (bytes-like) to `path` as one unit: a private temporary file (mode 0o600)
    renamed over `path`, so readers see the old file or the new one, never a part. The temporary
    file is removed when anything fails (OSError is raised again)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def remove_stale_tmp(directory: Path) -> int:
    """Remove the temporary files (`*.tmp`) of interrupted writes in `directory`: those whose
    writer is gone and that have not changed for `TMP_GRACE` seconds, and any unchanged for
    `TMP_MAX_AGE` seconds. Returns how many were removed."""
    now = time.time()
    uid = _uid()
    removed = 0
    try:
        names = list(directory.glob("*.tmp"))
    except OSError:
        return 0
    for f in names:
        try:
            st = f.lstat()
        except OSError:
            continue
        if uid is not None and st.st_uid != uid:
            continue
        age = now - st.st_mtime
        m = _TMP_PID.search(f.name)
        gone = m is not None and not _alive(int(m.group(1)))
        if age > TMP_MAX_AGE or (gone and age > TMP_GRACE):
            try:
                f.unlink()
                removed += 1
            except OSError:
                pass
    return removed
