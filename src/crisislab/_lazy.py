"""Names of a package imported on first use (PEP 562), so that importing the package stays cheap.

`crisislab`, `crisislab.model` and `crisislab.simulation` export names whose modules pull in numba,
scipy or pandas; the command line's start and `crisislab validate` must not pay for those.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: dict[str, str], eager: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`: `names[name]` is "module" or "module:attribute"
    (a module path relative to `package` when it starts with "."); the attribute defaults to
    `name`. A resolved name is stored in `eager` (the package's globals), so it is looked up once."""

    def __getattr__(name: str) -> Any:
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attr = target.partition(":")
        value = getattr(importlib.import_module(module, package), attr or name)
        eager[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(eager) | set(names))

    return __getattr__, __dir__
