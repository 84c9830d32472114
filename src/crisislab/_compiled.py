"""Calling a numba kernel with one signature, whatever its caller holds.

numba compiles (and caches) a separate machine-code copy of a kernel, and of every function it
calls, for each distinct combination of argument types: an array's dtype, dimension, layout (C or
F order) and whether it is read-only all count. A kernel reached with a read-only table from one
caller and a writable copy from another is compiled twice; for the crisis stage solver that is
minutes of a cold start. `call` brings every argument to one form first: input arrays C-contiguous
and read-only (a view where they already are C-contiguous), output arrays checked to be writable
and C-contiguous (the kernel writes into them, so they cannot be copied), and scalars as Python
bool, int or float.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["call", "read_only"]


def read_only(a: np.ndarray) -> np.ndarray:
    """`a` C-contiguous and read-only: a read-only view where it is already C-contiguous, else a copy."""
    v = np.ascontiguousarray(a).view()
    v.setflags(write=False)
    return v


def _input(a: Any) -> Any:
    if isinstance(a, np.ndarray):
        return read_only(a)
    if isinstance(a, bool | np.bool_):
        return bool(a)
    if isinstance(a, int | np.integer):
        return int(a)
    if isinstance(a, float | np.floating):
        return float(a)
    return a


def call(kernel, *args: Any, outputs: int) -> Any:
    """`kernel(*args)` with the last `outputs` arguments its output arrays (written in place) and
    the others brought to one form (module docstring). A misshapen output is a programming error:
    TypeError naming its position."""
    n_in = len(args) - outputs
    for k, a in enumerate(args[n_in:]):
        if not (isinstance(a, np.ndarray) and a.flags.c_contiguous and a.flags.writeable):
            raise TypeError(f"{getattr(kernel, '__name__', kernel)}: output {k} must be a writable C-contiguous array")
    return kernel(*(_input(a) for a in args[:n_in]), *args[n_in:])
