"""The compile cache holds data, never code, and is checked before use: an entry that is junk,
truncated, has a flipped byte, was built from other parameters, is a planted pickle, or is not the
user's own is ignored with one `CacheWarning` and compiled afresh; the tables are bit-identical to
an uncached compile and nothing planted runs. A cache directory writable by others is not used;
stale temporary files are removed. (The kernel cache: tests/simulation/test_kernel_cache.py.)
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from crisislab import _cache
from crisislab._cache import CacheWarning, remove_stale_tmp, write_atomic
from crisislab.crisis import _compile, compile_model
from crisislab.crisis._compile import CompiledGame, _cache_path, _compile_uncached
from crisislab.model import lower

ROOT_USER = hasattr(os, "getuid") and os.getuid() == 0


class _Plant:
    """Unpickling this creates the directory `marker`: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private, empty cache root; every entry or directory may warn afresh."""
    root = tmp_path / "cache"
    monkeypatch.setenv("CRISISLAB_CACHE_DIR", str(root))
    monkeypatch.delenv("CRISISLAB_NO_CACHE", raising=False)
    monkeypatch.delenv("CRISISLAB_KERNEL_CACHE", raising=False)
    monkeypatch.setattr(_cache, "_warned", set())
    return root


@pytest.fixture(scope="module")
def model(spiral):
    return lower(spiral)


@pytest.fixture(scope="module")
def reference(model):
    return _compile_uncached(model)


def _same(a: CompiledGame, b: CompiledGame) -> None:
    for f in dataclasses.fields(CompiledGame):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "model":
            continue
        if isinstance(x, np.ndarray):
            x, y = (x,), (y,)
        assert len(x) == len(y), f.name
        for u, v in zip(x, y, strict=True):
            if isinstance(u, np.ndarray):
                assert u.dtype == v.dtype and u.shape == v.shape, f.name
                assert u.tobytes() == v.tobytes(), f.name  # bit for bit
                assert not v.flags.writeable, f.name
            else:
                assert u == v, f.name


def _hit(model) -> CompiledGame:
    """A compile that must be served by the cache without any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return compile_model(model)


def _planted_pickle(marker: Path) -> bytes:
    payload = pickle.dumps(_Plant(marker))
    pickle.loads(payload)  # the payload is live: loading it does run code...
    assert marker.is_dir()
    marker.rmdir()  # ...which the caches below must never do
    return payload


def test_an_entry_is_data_and_round_trips(cache, model, reference) -> None:
    first = compile_model(model)
    path = _cache_path(model)
    assert path.is_file() and path.suffix == ".cg"
    assert b"\x80" not in path.read_bytes()[:2]  # not a pickle
    assert (path.stat().st_mode & 0o777) == 0o600
    assert (cache.stat().st_mode & 0o777) == 0o700 and (path.parent.stat().st_mode & 0o777) == 0o700
    second = _hit(model)
    _same(reference, first)
    _same(reference, second)
    assert second.model is model  # the caller's model: the key covers its canonical bytes


def _corruptions(good: bytes, other: bytes, marker: Path) -> dict[str, bytes]:
    n = len(good)
    flips = {}
    for where in (3, len(_compile._MAGIC) + 5, len(_compile._MAGIC) + 40, len(_compile._MAGIC) + 60, n // 2, n - 1):
        b = bytearray(good)
        b[where] ^= 0x01
        flips[f"flip@{where}"] = bytes(b)
    return {
        "empty": b"",
        "junk": os.urandom(4096),
        "truncated": good[: n // 2],
        "truncated-header": good[:40],
        "appended": good + b"\0",
        **flips,
        "other-parameters": other,
        "planted-pickle": _planted_pickle(marker),
        "pickle-after-magic": _compile._MAGIC + _planted_pickle(marker),
    }


def test_a_bad_entry_is_compiled_afresh_and_runs_nothing(cache, model, reference, tmp_path) -> None:
    marker = tmp_path / "planted-code-ran"
    compile_model(model)
    path = _cache_path(model)
    good = path.read_bytes()
    # An entry compiled from other parameters (one round fewer), a valid entry in itself.
    short = model.with_horizon(model.horizon - 1)
    compile_model(short)
    other = _cache_path(short).read_bytes()
    assert other != good
    for case, data in _corruptions(good, other, marker).items():
        _cache._warned.clear()
        path.write_bytes(data)
        with pytest.warns(CacheWarning, match=f"{path.name} not used") as caught:
            cg = compile_model(model)
        assert len([w for w in caught if issubclass(w.category, CacheWarning)]) == 1, case
        _same(reference, cg)
        assert path.read_bytes() == good, case  # rebuilt
        _same(reference, _hit(model))
        assert not marker.exists(), case


def test_a_planted_pickle_under_the_former_name_is_never_read(cache, model, reference, tmp_path) -> None:
    marker = tmp_path / "planted-code-ran"
    path = _cache_path(model)
    path.parent.mkdir(parents=True, mode=0o700)
    legacy = path.with_suffix(".pkl")  # where earlier versions kept the entry (a pickle)
    legacy.write_bytes(_planted_pickle(marker))
    _same(reference, compile_model(model))
    _same(reference, _hit(model))
    assert not marker.exists()
    assert not legacy.exists()  # entries of the former format are removed when the cache is pruned


def test_an_entry_writable_by_others_is_not_used(cache, model, reference) -> None:
    compile_model(model)
    path = _cache_path(model)
    path.chmod(0o666)
    with pytest.warns(CacheWarning, match="writable by group or others"):
        _same(reference, compile_model(model))
    assert (path.stat().st_mode & 0o777) == 0o600  # rebuilt, private
    _same(reference, _hit(model))


def test_a_symlinked_entry_is_not_followed(cache, model, reference, tmp_path) -> None:
    compile_model(model)
    path = _cache_path(model)
    elsewhere = tmp_path / "elsewhere.cg"
    elsewhere.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(elsewhere)
    with pytest.warns(CacheWarning, match="not used"):
        _same(reference, compile_model(model))
    assert not path.is_symlink()
    _same(reference, _hit(model))


@pytest.mark.skipif(not ROOT_USER, reason="giving a file to another user needs root")
def test_an_entry_of_another_user_is_not_used(cache, model, reference) -> None:
    compile_model(model)
    path = _cache_path(model)
    os.chown(path, 4242, 4242)
    with pytest.warns(CacheWarning, match="owned by user id 4242"):
        _same(reference, compile_model(model))
    assert path.stat().st_uid == os.getuid()  # replaced by the user's own
    _same(reference, _hit(model))


@pytest.mark.parametrize("which", ["root", "compiled"])
def test_a_cache_directory_writable_by_others_is_not_used(cache, model, reference, which) -> None:
    d = cache if which == "root" else cache / "compiled"
    d.mkdir(parents=True)
    d.chmod(0o777)
    with pytest.warns(CacheWarning, match=re.escape(f"compile cache not used: {d}: writable by group or others")):
        _same(reference, compile_model(model))
    assert not list(cache.rglob("*.cg"))  # nothing written there
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile_model(model)  # warned once per process, not at every compile
    assert (d.stat().st_mode & 0o777) == 0o777  # left as the user set it


@pytest.mark.skipif(not ROOT_USER, reason="giving a directory to another user needs root")
def test_a_cache_directory_of_another_user_is_not_used(cache, model, reference) -> None:
    cache.mkdir(mode=0o700)
    os.chown(cache, 4242, 4242)
    with pytest.warns(CacheWarning, match="owned by user id 4242"):
        _same(reference, compile_model(model))
    assert not list(cache.rglob("*.cg"))


def test_a_cache_directory_readable_by_others_is_made_private(cache, model, reference) -> None:
    (cache / "compiled").mkdir(parents=True)
    for d in (cache, cache / "compiled"):
        d.chmod(0o755)
    _same(reference, _hit(model))
    for d in (cache, cache / "compiled"):
        assert (d.stat().st_mode & 0o777) == 0o700
    assert _cache_path(model).is_file()


def test_stale_temporary_files_are_removed(cache, model) -> None:
    d = cache / "compiled"
    d.mkdir(parents=True)
    now = time.time()
    dead_pid = 2**22 + 12345  # above Linux's largest pid: no such process
    files = {
        "dead-writer": (d / f"a.cg.{dead_pid}-0a1b2c3d.tmp", now - 2 * _cache.TMP_GRACE, False),
        "former-format": (d / f"b.{dead_pid}.tmp", now - 2 * _cache.TMP_GRACE, False),
        "live-but-old": (d / f"c.cg.{os.getpid()}-0a1b2c3d.tmp", now - 2 * _cache.TMP_MAX_AGE, False),
        "dead-just-now": (d / f"d.cg.{dead_pid}-0a1b2c3d.tmp", now, True),
        "live-writer": (d / f"e.cg.{os.getpid()}-0a1b2c3d.tmp", now, True),
    }
    for f, mtime, _ in files.values():
        f.write_bytes(b"\0" * 100)
        os.utime(f, (mtime, mtime))
    compile_model(model)  # a store prunes the directory
    for case, (f, _, kept) in files.items():
        assert f.exists() == kept, case
    assert remove_stale_tmp(d) == 0


def test_a_failed_write_leaves_no_temporary_file(tmp_path) -> None:
    def chunks():
        yield b"x" * 1000
        raise OSError(28, "No space left on device")

    target = tmp_path / "entry.cg"
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, chunks())
    assert list(tmp_path.iterdir()) == []
