"""The scenarios shipped with crisislab (`crisislab/bundled/scenarios`, the repo's `scenarios/`)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["bundled_dir", "bundled_scenarios"]


def bundled_dir() -> Path:
    """Directory of the bundled scenario files."""
    return Path(__file__).resolve().parent.parent / "bundled" / "scenarios"


def bundled_scenarios() -> list[Path]:
    """Paths of the bundled `*.yaml` scenario files, sorted by name (empty if none)."""
    root = bundled_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*.yaml") if p.is_file())
