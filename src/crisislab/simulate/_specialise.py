"""Compile-time specialisation of `_kernels.run_chunk` to one scenario's dimensions and flags.

`kernel_constants` computes, from the same inputs `_kernel_engine._call` passes to `run_chunk`,
the loop trip counts and call-wide flags the kernel otherwise reads at run time; `render` writes
the kernel module's source with those values as literals (each helper's parameter and each of
`run_chunk`'s locals that is constant is reassigned to its literal, a few in-loop reads are
replaced); `load` writes it into a cache directory under a name keyed by a hash of (constants,
kernel source) and imports it, so numba's `cache=True` compiles it once per scenario shape.

The generated `run_chunk` first computes every value the general way and raises ValueError when
one differs from its literal, so a specialised kernel handed the wrong inputs fails loudly.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
from pathlib import Path

import numpy as np

from crisislab.simulate._spec import OP_ROUND

__all__ = ["DIMS", "FLAGS", "SHAPE", "compiled_marker", "kernel_constants", "load", "module_file", "render"]

KERNEL_SOURCE = Path(__file__).with_name("_kernels.py")

# Which constants are "dimensions" (trip counts) and which are "flags" (branches fixed per call).
DIMS = ("n_rl", "H", "n_bg", "nv", "M", "n_actors", "n_belief", "k_max", "a_max", "n_out", "B", "n_corners",
        "ka", "grid_G", "NA", "KJ")
FLAGS = ("n_forces", "record_actions", "record_paths", "miss_mode", "keyed", "prefetch", "has_round", "cache_ok",
         "n_active", "PERM_ID")
# What is fixed for a (scenario, policy table) pair, whatever the call: the dimensions and the
# flags that come from the spec and the table only (not the arm's forces, the recording options,
# the miss mode, or `prefetch`, which a lazily grown table can flip between calls).
SHAPE = DIMS + ("keyed", "has_round", "cache_ok", "n_active", "PERM_ID")


def kernel_constants(spec, packed, table, record_actions: bool, record_paths: bool, miss_mode: int | None = None) -> dict:
    """The values `run_chunk` would compute for these inputs (None: not constant, left general)."""
    from crisislab.simulate._kernel_engine import _belief_arrays

    A = packed.arrays
    _, bg_game, _ = _belief_arrays(spec, table)
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
    perm = np.asarray(table.perm)
    perm_id = all(np.array_equal(perm[m, : mover[m, 1]], np.arange(mover[m, 1])) for m in strategic)
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
        PERM_ID=bool(perm_id) if strategic else None,
    )


def _sub(text: str, old: str, new: str, count: int | None = None) -> str:
    n = text.count(old)
    if n == 0 or (count is not None and n != count):
        raise RuntimeError(f"specialise: expected {count or '>=1'} of {old!r} in the kernel source, found {n}")
    return text.replace(old, new)


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

# run_chunk's locals fixed for the call (checked, then reassigned), in the order they are computed.
_LOCALS = ("n_rl", "n_forces", "H", "record_actions", "record_paths", "miss_mode", "n_bg", "nv", "M", "n_actors",
           "n_belief", "k_max", "a_max", "n_out", "B", "n_corners", "ka", "grid_G", "keyed", "prefetch", "has_round",
           "cache_ok", "n_active")


def render(consts: dict, use: set[str] | None = None) -> str:
    """The kernel module's source with the constants in `use` (default: all not None) as literals."""
    c = {k: v for k, v in consts.items() if v is not None and (use is None or k in use)}
    text = KERNEL_SOURCE.read_text(encoding="utf-8")
    # Helpers: reassign constant parameters at the top of the body; array extents as literals.
    for fn, params in _HELPER_PARAMS.items():
        lines = [f"    {p} = {_lit(c[k])}\n" for p, k in params.items() if k in c]
        if lines:
            text = re.sub(rf"(\ndef {fn}\([^\n]*\)[^\n]*:\n)", lambda mt: mt.group(1) + "".join(lines), text, count=1)
    if "nv" in c:
        text = _sub(text, "state.shape[0]", _lit(c["nv"]))
    if "n_bg" in c:
        text = _sub(text, "range(bel.shape[0])", f"range({_lit(c['n_bg'])})")
    if "n_corners" in c:
        text = _sub(text, "nc = c_node.shape[1]", f"nc = {_lit(c['n_corners'])}", 1)
    # run_chunk: check every constant against the general computation, then reassign it.
    block = ["    # --- specialised: call-wide constants as literals (checked against the inputs) ---\n"]
    for k in _LOCALS:
        if k in c:
            block.append(f"    if {k} != {_lit(c[k])}:\n        raise ValueError('specialised kernel: {k} differs')\n")
            block.append(f"    {k} = {_lit(c[k])}\n")
    if "NA" in c:
        block.append(f"    for m in range(mover.shape[0]):\n        if mover[m, 0] >= 0 and mover[m, 1] != {_lit(c['NA'])}:\n"
                     "            raise ValueError('specialised kernel: NA differs')\n")
        text = _sub(text, "                n_a = mover[m, 1]\n", f"                n_a = {_lit(c['NA'])}\n", 1)
    if "KJ" in c:
        block.append(f"    for m in range(mover.shape[0]):\n        if mover[m, 0] >= 0 and n_types[mover[m, 0]] != {_lit(c['KJ'])}:\n"
                     "            raise ValueError('specialised kernel: KJ differs')\n")
        text = _sub(text, "kj = n_types[j]\n", f"kj = {_lit(c['KJ'])}\n", 1)
    if c.get("PERM_ID"):
        block.append("    for m in range(mover.shape[0]):\n        if mover[m, 0] >= 0:\n"
                     "            for a in range(mover[m, 1]):\n                if perm[m, a] != a:\n"
                     "                    raise ValueError('specialised kernel: PERM_ID differs')\n")
        text = _sub(text, "perm[m, a]", "a", 2)
        text = _sub(text, "pc = perm[m, chosen]", "pc = chosen", 1)
    if "n_corners" in c and c.get("B", 0) > 1:
        # With B > 1 every n_c[g] read where a row was found equals n_corners (the prefetch may read
        # it after a missed row, where it only changes which lines are prefetched, no value).
        text = _sub(text, "range(n_c[own])", f"range({_lit(c['n_corners'])})", 1)
        text = _sub(text, "range(n_c[g])", f"range({_lit(c['n_corners'])})", 2)
    anchor = "\n    for i in range(n):\n        key = keys[i]\n"
    text = _sub(text, anchor, "\n" + "".join(block) + anchor[1:], 1)
    return text


def default_cache_dir() -> Path:
    """`$CRISISLAB_KERNEL_CACHE`, else `kernels/` in crisislab's cache root (`$CRISISLAB_CACHE_DIR`,
    else `$XDG_CACHE_HOME/crisislab` or `~/.cache/crisislab`, as the crisis engine's compile cache)."""
    if os.environ.get("CRISISLAB_KERNEL_CACHE"):
        return Path(os.environ["CRISISLAB_KERNEL_CACHE"])
    root = os.environ.get("CRISISLAB_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "crisislab")
    return Path(root) / "kernels"


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


def load(consts: dict, use: set[str] | None = None, cache_dir: Path | None = None):
    """Import (writing it first if needed) the kernel module specialised to `consts`."""
    name, path, text = module_file(consts, use, cache_dir)
    if name in sys.modules:
        return sys.modules[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
