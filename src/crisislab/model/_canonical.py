"""Canonical bytes of a model (or any part of it): equal content gives equal bytes, whatever the
objects' identities, so the bytes can key caches (compiled games, structural variants)."""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import numpy as np

from crisislab.model._cond import CondProgram

__all__ = ["canonical_bytes"]


def canonical_bytes(obj: Any) -> bytes:
    """Type-tagged serialisation of dataclasses, tuples, lists, dicts, numpy arrays, condition
    programs and scalars (floats by their IEEE bits: -0.0 and 0.0 differ, as they may in results)."""
    out: list[bytes] = []
    _walk(obj, out)
    return b"".join(out)


def _walk(obj: Any, out: list[bytes]) -> None:
    if obj is None:
        out.append(b"N")
    elif isinstance(obj, (bool, np.bool_)):
        out.append(b"T" if obj else b"F")
    elif isinstance(obj, (int, np.integer)):
        s = str(int(obj)).encode()
        out.append(b"i%d:" % len(s) + s)
    elif isinstance(obj, (float, np.floating)):
        out.append(b"f" + struct.pack("<d", float(obj)))
    elif isinstance(obj, str):
        s = obj.encode()
        out.append(b"s%d:" % len(s) + s)
    elif isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        head = f"{a.dtype.str}{a.shape}".encode()
        out.append(b"a%d:" % len(head) + head + b"%d:" % a.nbytes + a.tobytes())
    elif isinstance(obj, CondProgram):
        out.append(b"C")
        _walk(obj.code, out)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        name = type(obj).__name__.encode()
        out.append(b"D%d:" % len(name) + name)
        for f in dataclasses.fields(obj):
            _walk(f.name, out)
            _walk(getattr(obj, f.name), out)
        out.append(b"E")
    elif isinstance(obj, (tuple, list)):
        out.append(b"L%d:" % len(obj))
        for x in obj:
            _walk(x, out)
    elif isinstance(obj, dict):
        out.append(b"M%d:" % len(obj))
        for k in sorted(obj, key=repr):
            _walk(k, out)
            _walk(obj[k], out)
    else:
        raise TypeError(f"canonical_bytes: cannot serialise {type(obj).__name__}")
