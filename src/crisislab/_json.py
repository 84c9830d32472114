"""JSON for the CLI's `--json` outputs: strict JSON, which has no NaN or infinity.

Python's `json` writes `NaN`, `Infinity` and `-Infinity` by default, which `JSON.parse`, `jq` and
most other readers refuse. `dumps` writes a non-finite number as `null` (e.g. the log-likelihood
of a timeline the model rules out, -inf) and numpy scalars and arrays as plain numbers and lists.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

__all__ = ["dumps", "plain"]


def plain(x: Any) -> Any:
    """`x` with numpy values made Python ones and non-finite floats made None, recursively."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return plain(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def dumps(x: Any, **kw: Any) -> str:
    """Strict JSON text of `x` (see the module's docstring); raises if something is not serialisable."""
    return json.dumps(plain(x), allow_nan=False, **kw)
