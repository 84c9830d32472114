"""Compile-time specialisation of `_kernels.run_chunk` to one scenario's dimensions and flags.

`kernel_constants` computes, from the same inputs `_kernel_engine._call` passes to `run_chunk`,
the loop trip counts and call-wide flags the kernel otherwise reads at run time; `render` writes
the kernel module's source with those values as literals; `load` writes it into a private cache
directory under a name keyed by a hash of (constants, kernel source) and executes the rendered
source as that file's module, so numba's `cache=True` compiles it once per scenario shape. What the
file holds is never executed: it is compared with the rendered source and rewritten when it differs.

The kernel source says where it may be rewritten, with `# specialise: NAME` comments:

- `# specialise: params FN` (a line of its own, at the top of helper FN's body): the helper's
  parameters that are call-wide constants (`_HELPER_PARAMS`) are reassigned to their literals there;
- `# specialise: checks` (a line of its own, in `run_chunk` before the loop over runs): the block
  that checks every constant against the general computation and reassigns it;
- `CODE  # specialise: NAME` (at the end of a line): `_INLINE[NAME]` replaces one expression of
  that line by the constant's literal.

Every marker must appear as often as `_MARKERS` says, and each inline marker's line must contain
its expression, or `render` raises RuntimeError: a kernel edit that moves a marker fails loudly
instead of leaving a stale specialisation. The generated `run_chunk` first computes every value
the general way and raises ValueError when one differs from its literal, so a specialised kernel
handed the wrong inputs fails loudly too.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import types
from pathlib import Path

import numpy as np

from crisislab._cache import (
    cache_root,
    open_private,
    private_dirs,
    remove_stale_tmp,
    remove_untrusted,
    warn_once,
    write_atomic,
)
from crisislab.model.rules import OP_ROUND
from crisislab.simulation._policy import belief_arrays

__all__ = ["DIMS", "FLAGS", "SHAPE", "cache_dir_problem", "compiled_marker", "kernel_constants", "load", "module_file", "render"]

KERNEL_SOURCE = Path(__file__).with_name("_kernels.py")

# Which constants are "dimensions" (trip counts) and which are "flags" (branches fixed per call).
DIMS = ("n_rl", "H", "n_bg", "nv", "M", "n_actors", "n_belief", "k_max", "a_max", "n_out", "B", "n_corners",
        "ka", "grid_G", "NA", "KJ")
FLAGS = ("n_forces", "record_actions", "record_paths", "miss_mode", "keyed", "prefetch", "has_round", "cache_ok",
         "n_active")
# What is fixed for a (scenario, policy table) pair, whatever the call: the dimensions and the
# flags that come from the spec and the table only (not the arm's forces, the recording options,
# the miss mode, or `prefetch`, which a lazily grown table can flip between calls).
SHAPE = DIMS + ("keyed", "has_round", "cache_ok", "n_active")


def kernel_constants(spec, packed, table, record_actions: bool, record_paths: bool, miss_mode: int | None = None) -> dict:
    """The values `run_chunk` would compute for these inputs (None: not constant, left general)."""
    A = packed.arrays
    _, bg_game, _ = belief_arrays(spec, table)
    grid_sizes = np.asarray(table.grid_sizes, np.int64)
    n_active = int((grid_sizes > 1).sum())
    sigma = table.sigma
    keyed = bool(table.keyed)
    n_rl = len(spec.red_lines)
    span = 1
    for v in range(spec.n_vars):
        span *= int(A["hi"][v] - A["lo"][v] + 1)
    span *= 4**n_rl
    mover = A["mover"]
    strategic = [m for m in range(mover.shape[0]) if mover[m, 0] >= 0]
    n_as = {int(mover[m, 1]) for m in strategic}
    kjs = {int(A["n_types"][mover[m, 0]]) for m in strategic}
    k_max = int(sigma.shape[2])
    a_max = int(A["ladder"].shape[1])
    return dict(
        n_rl=n_rl,
        n_forces=int(packed.ints["n_forces"]),
        H=int(spec.horizon),
        record_actions=int(bool(record_actions)),
        record_paths=int(bool(record_paths)),
        miss_mode=int(table.miss_mode if miss_mode is None else miss_mode),
        n_bg=int(bg_game.size),
        nv=int(spec.n_vars),
        M=int(mover.shape[0]),
        n_actors=len(spec.actors),
        n_belief=int(spec.n_belief),
        k_max=k_max,
        a_max=a_max,
        n_out=int(A["out_cond"].shape[0]),
        B=int(sigma.shape[1]),
        n_corners=2**n_active,
        ka=k_max * a_max,
        grid_G=int(table.grid_points),
        keyed=keyed,
        prefetch=keyed and sigma.size * sigma.itemsize > (1 << 21),
        has_round=bool((A["code"][:, 0] == OP_ROUND).any()) if A["code"].size else False,
        cache_ok=span < (1 << 50),
        n_active=n_active,
        NA=n_as.pop() if len(n_as) == 1 else None,
        KJ=kjs.pop() if len(kjs) == 1 else None,
    )


def _lit(x) -> str:
    return repr(bool(x)) if isinstance(x, (bool, np.bool_)) else repr(int(x))


# Helpers whose parameters are call-wide constants: (function, parameter -> constant name).
_HELPER_PARAMS = {
    "_ckey": {"n_rl": "n_rl", "has_round": "has_round", "horizon": "H"},
    "_cond_bits": {"cache_ok": "cache_ok", "n_rl": "n_rl", "has_round": "has_round", "horizon": "H"},
    "_cond_lookup": {"cache_ok": "cache_ok", "n_rl": "n_rl", "has_round": "has_round", "horizon": "H"},
    "_state_key": {"n_rl": "n_rl"},
    "_stencil": {"grid_G": "grid_G", "n_active": "n_active"},
}

# Inline markers: NAME -> (constant, expression on the marked line, its replacement ({} = literal)).
_INLINE = {
    "nv": ("nv", "state.shape[0]", "{}"),
    "n_bg": ("n_bg", "range(bel.shape[0])", "range({})"),
    "n_corners": ("n_corners", "c_node.shape[1]", "{}"),
    "NA": ("NA", "mover[m, 1]", "{}"),
    "KJ": ("KJ", "n_types[j]", "{}"),
    # With B > 1 every n_c[g] read where a row was found equals n_corners (the prefetch may read
    # it after a missed row, where it only changes which lines are prefetched, no value).
    "n_c_own": ("n_corners", "range(n_c[own])", "range({})"),
    "n_c_g": ("n_corners", "range(n_c[g])", "range({})"),
}

# How many times each marker appears in the kernel source.
_MARKERS = {
    **{f"params {fn}": 1 for fn in _HELPER_PARAMS},
    "checks": 1,
    "nv": 4,
    "n_bg": 2,
    "n_corners": 1,
    "NA": 1,
    "KJ": 1,
    "n_c_own": 1,
    "n_c_g": 2,
}
_MARKER = re.compile(r"#\s*specialise:\s*(.*?)\s*$")

# run_chunk's locals fixed for the call (checked, then reassigned), in the order they are computed.
_LOCALS = ("n_rl", "n_forces", "H", "record_actions", "record_paths", "miss_mode", "n_bg", "nv", "M", "n_actors",
           "n_belief", "k_max", "a_max", "n_out", "B", "n_corners", "ka", "grid_G", "keyed", "prefetch", "has_round",
           "cache_ok", "n_active")


def _checks(c: dict, indent: str) -> list[str]:
    """run_chunk's block: each constant checked against the general computation, then reassigned."""
    block = ["# --- specialised: call-wide constants as literals (checked against the inputs) ---"]
    for k in _LOCALS:
        if k in c:
            block += [f"if {k} != {_lit(c[k])}:", f"    raise ValueError('specialised kernel: {k} differs')",
                      f"{k} = {_lit(c[k])}"]
    if "NA" in c:
        block += ["for m in range(mover.shape[0]):", f"    if mover[m, 0] >= 0 and mover[m, 1] != {_lit(c['NA'])}:",
                  "        raise ValueError('specialised kernel: NA differs')"]
    if "KJ" in c:
        block += ["for m in range(mover.shape[0]):",
                  f"    if mover[m, 0] >= 0 and n_types[mover[m, 0]] != {_lit(c['KJ'])}:",
                  "        raise ValueError('specialised kernel: KJ differs')"]
    return [indent + line for line in block]


def render(consts: dict, use: set[str] | None = None) -> str:
    """The kernel module's source with the constants in `use` (default: all not None) as literals."""
    c = {k: v for k, v in consts.items() if v is not None and (use is None or k in use)}
    lines = KERNEL_SOURCE.read_text(encoding="utf-8").split("\n")
    seen = dict.fromkeys(_MARKERS, 0)
    out: list[str] = []
    for line in lines:
        m = _MARKER.search(line)
        if m is None:
            out.append(line)
            continue
        name = m.group(1)
        if name not in _MARKERS:
            raise RuntimeError(f"specialise: unknown marker {name!r} in the kernel source: {line.strip()!r}")
        seen[name] += 1
        code = line[: m.start()]
        indent = line[: len(line) - len(line.lstrip())]
        if not code.strip():  # a marker on a line of its own: an insertion point
            if name == "checks":
                out.extend(_checks(c, indent))
            else:
                params = _HELPER_PARAMS[name.split(" ", 1)[1]]
                out.extend(f"{indent}{p} = {_lit(c[k])}" for p, k in params.items() if k in c)
            continue
        const, old, new = _INLINE.get(name, (None, None, None))
        if const is None:
            raise RuntimeError(f"specialise: marker {name!r} must be on a line of its own: {line.strip()!r}")
        if code.count(old) != 1:
            raise RuntimeError(f"specialise: marker {name!r}: expected one {old!r} on its line, got {line.strip()!r}")
        if const in c and (name not in ("n_c_own", "n_c_g") or c.get("B", 0) > 1):
            code = code.replace(old, new.format(_lit(c[const])))
        out.append(code.rstrip())
    missing = {k: (n, seen[k]) for k, n in _MARKERS.items() if seen[k] != n}
    if missing:
        raise RuntimeError("specialise: kernel source markers moved: " + ", ".join(
            f"{k!r} expected {n}, found {got}" for k, (n, got) in missing.items()))
    return "\n".join(out)


def default_cache_dir() -> Path:
    """`$CRISISLAB_KERNEL_CACHE`, else `kernels/` in crisislab's cache root (`$CRISISLAB_CACHE_DIR`,
    else `$XDG_CACHE_HOME/crisislab` or `~/.cache/crisislab`, as the crisis engine's compile cache)."""
    if os.environ.get("CRISISLAB_KERNEL_CACHE"):
        return Path(os.environ["CRISISLAB_KERNEL_CACHE"])
    return cache_root() / "kernels"


def module_file(consts: dict, use: set[str] | None = None, cache_dir: Path | None = None) -> tuple[str, Path, str]:
    """(module name, file, source) of the kernel specialised to `consts`: the name hashes the
    rendered source, which contains the general kernel's, so an edited kernel never meets a stale
    file."""
    text = render(consts, use)
    name = f"_kspec_{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    d = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return name, d / f"{name}.py", text


def compiled_marker(path: Path) -> Path:
    """The file whose presence says the kernel module at `path` has compiled and run once here
    (so numba's on-disk cache holds its machine code and loading it costs a fraction of a second)."""
    return path.with_suffix(".compiled")


def cache_dir_problem(directory: Path) -> str | None:
    """Why the kernel cache `directory` must not be used (another owner, writable by group or
    others, cannot be created), or None; creates it private to the user (mode 0o700). Numba's
    machine code for the kernels there lives in its `__pycache__`, checked the same way."""
    dirs = [directory]
    if os.environ.get("CRISISLAB_KERNEL_CACHE") is None and directory == default_cache_dir():
        dirs.insert(0, directory.parent)  # crisislab's cache root
    if (directory / "__pycache__").exists():
        dirs.append(directory / "__pycache__")
    return private_dirs(*dirs)


def load(consts: dict, use: set[str] | None = None, cache_dir: Path | None = None):
    """Import the kernel module specialised to `consts`, (re)writing its file first unless it holds
    exactly the rendered source.

    The module is executed from the source rendered here, never from what the file holds (nor from
    bytecode cached beside it); the file exists for numba's `cache=True`, which keys its machine code
    on the file's path and stamp. A file that differs from the rendered source, or that is not the
    user's own or is writable by others, is replaced with one `CacheWarning` (numba's files for it
    are removed: the kernel compiles again); so are numba's files that are not the user's own or
    are writable by others. Raises RuntimeError when the cache directory must not be used."""
    name, path, text = module_file(consts, use, cache_dir)
    if name in sys.modules:
        return sys.modules[name]
    why = cache_dir_problem(path.parent)
    if why is not None:
        raise RuntimeError(f"kernel cache not used: {why}")
    remove_stale_tmp(path.parent)
    data = text.encode("utf-8")
    fh, got = open_private(path)
    if fh is not None:
        with fh:
            held = fh.read(len(data) + 1)
        why = None if held == data else "differs from the rendered kernel"
    else:
        why = None if got == "missing" else got
    stale = fh is None or why is not None  # the file is to be (re)written
    # Numba's machine code for this module (`__pycache__/NAME.*`): only files the user alone can write,
    # and none at all beside a file that is rewritten (they belong to another file).
    pycache = path.parent / "__pycache__"
    foreign = remove_untrusted(pycache, f"{name}.*")
    if why is not None:
        warn_once(f"kernel:{path}", f"kernel cache file {path.name} replaced: {why}")
    elif foreign:
        warn_once(f"kernel:{path}", f"kernel cache: numba's files {', '.join(sorted(foreign))} removed (not the "
                  "user's own, or writable by others); the kernel is compiled again")
    if stale or foreign:
        for f in pycache.glob(f"{name}.*") if stale else ():
            try:
                f.unlink()
            except OSError:
                pass
        try:
            compiled_marker(path).unlink()
        except OSError:
            pass
    if stale:
        write_atomic(path, [data])
    code = compile(text, str(path), "exec")
    mod = types.ModuleType(name)
    mod.__file__ = str(path)
    sys.modules[name] = mod
    try:
        exec(code, mod.__dict__)  # noqa: S102 - the source rendered above, not the file's content
    except BaseException:
        del sys.modules[name]
        raise
    return mod
