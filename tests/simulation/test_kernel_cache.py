"""The specialised-kernel cache runs only the source rendered in this process: a planted or
modified kernel module, or bytecode planted beside it, is never executed, and the module is
written again; a cache directory writable by others is not used."""

from __future__ import annotations

import importlib.util
import marshal
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from crisislab import _cache
from crisislab._cache import CacheWarning
from crisislab.simulation import _specialise as sp


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """(load, module name, file, rendered source) of a small specialised kernel in a fresh cache."""
    consts = {k: 2 for k in sp.SHAPE} | {"keyed": True, "has_round": False, "cache_ok": True}
    d = tmp_path / "kernels"
    name, path, text = sp.module_file(consts, set(sp.SHAPE), d)
    monkeypatch.setattr(_cache, "_warned", set())
    sys.modules.pop(name, None)

    def load():
        sys.modules.pop(name, None)
        return sp.load(consts, set(sp.SHAPE), d)

    yield load, name, path, text
    sys.modules.pop(name, None)


def _planted_module(marker: Path) -> str:
    return f"import os\nos.mkdir({str(marker)!r})\ndef run_chunk(*a):\n    return 0, 0, 0\n"


def test_a_kernel_module_is_written_private_and_loaded(kernel) -> None:
    load, name, path, text = kernel
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mod = load()
        assert path.read_text(encoding="utf-8") == text and (path.stat().st_mode & 0o777) == 0o600
        assert (path.parent.stat().st_mode & 0o777) == 0o700
        assert mod.__name__ == name and mod.__file__ == str(path) and hasattr(mod.run_chunk, "py_func")
        assert mod.run_chunk.py_func.__code__.co_filename == str(path)  # numba's cache keys on this file
        mtime = path.stat().st_mtime_ns
        load()
        assert path.stat().st_mtime_ns == mtime  # an intact file is not rewritten (numba's stamp holds)


@pytest.mark.parametrize("case", ["planted", "modified", "group-writable", "symlink"])
def test_a_planted_or_modified_kernel_module_is_not_executed(kernel, tmp_path, case) -> None:
    load, _name, path, text = kernel
    marker = tmp_path / "planted-code-ran"
    load()
    sp.compiled_marker(path).touch()
    if case == "planted":
        path.write_text(_planted_module(marker), encoding="utf-8")
    elif case == "modified":
        path.write_text(text.replace("def run_chunk(", _planted_module(marker) + "\ndef run_chunk(", 1), encoding="utf-8")
    elif case == "group-writable":
        path.chmod(0o664)
    else:
        planted = tmp_path / "planted.py"
        planted.write_text(text, encoding="utf-8")
        path.unlink()
        path.symlink_to(planted)
    with pytest.warns(CacheWarning, match=f"{path.name} replaced"):
        mod = load()
    assert not marker.exists()
    assert not path.is_symlink() and path.read_text(encoding="utf-8") == text
    assert (path.stat().st_mode & 0o777) == 0o600
    assert hasattr(mod.run_chunk, "py_func")
    assert not sp.compiled_marker(path).exists()  # numba's code for the old file is not trusted as compiled


def test_bytecode_planted_beside_a_kernel_module_is_not_executed(kernel, tmp_path) -> None:
    """Python's import would run a `__pycache__/*.pyc` whose stamp matches the source's; the kernel
    is executed from the source rendered in this process instead."""
    load, _name, path, _text = kernel
    marker = tmp_path / "planted-code-ran"
    load()
    st = path.stat()
    code = compile(_planted_module(marker), str(path), "exec")
    pyc = Path(importlib.util.cache_from_source(str(path)))
    pyc.parent.mkdir(exist_ok=True)
    data = bytearray(importlib.util.MAGIC_NUMBER) + (0).to_bytes(4, "little")
    data += (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (st.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    pyc.write_bytes(bytes(data) + marshal.dumps(code))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mod = load()
    assert not marker.exists() and hasattr(mod.run_chunk, "py_func")


def test_a_kernel_cache_directory_writable_by_others_is_not_used(kernel) -> None:
    load, _name, path, _text = kernel
    path.parent.mkdir(mode=0o700)
    path.parent.chmod(0o777)
    with pytest.raises(RuntimeError, match="kernel cache not used: .*writable by group or others"):
        load()
    assert not path.exists()


def test_auto_does_not_play_a_kernel_from_a_directory_writable_by_others(tmp_path, monkeypatch) -> None:
    """`auto` plays a specialised kernel only where it was compiled; in a cache directory others
    can write to, it keeps to the general kernel (one `CacheWarning`) and the results are the same."""
    from crisislab.model import lower
    from crisislab.scenario import load_scenario
    from crisislab.simulation import FixedPolicy
    from crisislab.simulation import _kernel_engine as ke
    from crisislab.simulation import Arm
    from crisislab.simulation._engine import simulate_chunk

    scenario = load_scenario(Path(__file__).with_name("mini.yaml"))
    spec = lower(scenario)
    probs = {}
    for actor in spec.actors:
        k = len(next(m for m in spec.movers if m.id == actor).actions)
        probs[actor] = np.full((len(spec.types[spec.actors.index(actor)]), k), 1.0 / k)
    make = lambda: FixedPolicy(probs)
    monkeypatch.setattr(ke, "_specialised", {})
    monkeypatch.setattr(ke, "_not_compiled", set())
    monkeypatch.setattr(_cache, "_warned", set())
    monkeypatch.setenv("CRISISLAB_KERNEL_CACHE", str(tmp_path / "kernels"))
    monkeypatch.setenv("CRISISLAB_KERNEL", "general")
    runs = np.arange(200)
    general = simulate_chunk(spec, make(), 4, runs, Arm(), engine="kernel")
    inp = ke.kernel_inputs(spec, make(), Arm())
    consts = sp.kernel_constants(spec, inp.packed, inp.table, False, False)
    name, path, text = sp.module_file(consts, set(sp.SHAPE))
    path.parent.mkdir(mode=0o700)
    path.write_text(text, encoding="utf-8")
    sp.compiled_marker(path).touch()  # as if compiled here...
    path.parent.chmod(0o777)  # ...but others can write to the directory
    monkeypatch.setenv("CRISISLAB_KERNEL", "auto")
    sys.modules.pop(name, None)
    with pytest.warns(CacheWarning, match="kernel cache not used: .*writable by group or others"):
        auto = simulate_chunk(spec, make(), 4, runs, Arm(), engine="kernel")
    assert name not in sys.modules
    assert ke.specialised_kernel(spec, inp.packed, inp.table, only_compiled=True)[1] is None
    for f in ("types", "outcome", "end_round", "casualties", "audience", "rl_status", "taken", "rounds_taken", "state_max",
              "state_min", "loglik"):
        np.testing.assert_array_equal(getattr(general, f), getattr(auto, f), strict=True)


@pytest.mark.parametrize("case", ["group-writable", "symlink", "module-replaced"])
def test_numba_files_that_are_not_the_users_own_are_removed(kernel, tmp_path, case) -> None:
    """Numba unpickles its index files (`__pycache__/NAME.*.nbi`) when the kernel compiles: those
    that others could have written, and those beside a module file that is replaced, are removed
    (the kernel compiles again) before numba can read them."""
    load, name, path, text = kernel
    load()
    pycache = path.parent / "__pycache__"
    index = pycache / f"{name}.run_chunk-1.py311.nbi"
    index.write_bytes(b"planted")
    other = pycache / "_kspec_0123456789abcdef.run_chunk-1.py311.nbi"  # another kernel's: left alone
    other.write_bytes(b"another kernel")
    sp.compiled_marker(path).touch()
    if case == "group-writable":
        index.chmod(0o664)
    elif case == "symlink":
        index.unlink()
        (tmp_path / "elsewhere.nbi").write_bytes(b"planted")
        index.symlink_to(tmp_path / "elsewhere.nbi")
    else:
        path.write_text(text + "\n# edited\n", encoding="utf-8")
    with pytest.warns(CacheWarning, match="removed|replaced"):
        load()
    assert not index.exists() and not index.is_symlink() and other.exists()
    assert not sp.compiled_marker(path).exists()  # `auto` does not count on the old machine code
    assert path.read_text(encoding="utf-8") == text
