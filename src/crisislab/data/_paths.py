"""Where the bundled data live: `crisislab/bundled/data` (the repository's `data/` directory)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["BUNDLED_TIMELINE", "TIMELINE_SUFFIX", "bundled_data_dir", "bundled_data_path", "bundled_timeline"]

TIMELINE_SUFFIX = "-timeline.csv"
"""A bundled scenario's observed record is the data file named after it: `<scenario id>-timeline.csv`."""

BUNDLED_TIMELINE = "us-iran-2019-2020" + TIMELINE_SUFFIX
"""File name of the flagship's real timeline inside the bundled data directory."""


def bundled_data_dir() -> Path:
    """Directory of the bundled data files."""
    return Path(__file__).resolve().parent.parent / "bundled" / "data"


def bundled_data_path(name: str) -> Path:
    """Path of the bundled data file `name` (relative to the data directory, e.g. `scales/plover.csv`).

    Raises `DataError` naming the files that exist if there is no such file.
    """
    path = bundled_data_dir() / name
    if not path.is_file():
        from crisislab.data._errors import DataError, DataProblem

        root = bundled_data_dir()
        known = sorted(str(p.relative_to(root)) for p in root.rglob("*.csv")) if root.is_dir() else []
        raise DataError([DataProblem(str(root), None, "file", "no such bundled data file",
                                     got=repr(name), expected=f"one of {', '.join(known) or 'none'}")])
    return path


def bundled_timeline(scenario_id: str) -> Path | None:
    """The bundled observed record of scenario `scenario_id` (`<id>-timeline.csv` in the bundled
    data directory), or None when crisislab ships none for it."""
    path = bundled_data_dir() / f"{scenario_id}{TIMELINE_SUFFIX}"
    return path if path.is_file() else None
