"""The conflict-intensity scales a scenario may name (`intensity.scale`), as tables.

Each scale is a small CSV in `data/scales/` with its source in `data/README.md`: the Goldstein
scores of CAMEO codes (GDELT), PLOVER scores, the escalation points of Rivera et al. (2024) and
Kahn's 44-rung ladder. `scale(name)` reads one, typed, and returns a fresh DataFrame each call
(callers may modify it without affecting anyone else).
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from crisislab.data._errors import DataError, DataProblem
from crisislab.data._paths import bundled_data_path

__all__ = ["SCALES", "ScaleName", "scale"]

ScaleName = Literal["goldstein", "plover", "rivera", "kahn"]

# name -> (file under data/, dtype of each column). Codes are strings: CAMEO keeps leading zeros.
SCALES: dict[str, tuple[str, dict[str, str]]] = {
    "goldstein": (
        "scales/goldstein-cameo-roots.csv",
        {"code": "string", "level": "string", "label": "string", "goldstein": "float64"},
    ),
    "plover": ("scales/plover.csv", {"category": "string", "mode": "string", "score": "float64"}),
    "rivera": ("scales/rivera.csv", {"category": "string", "points": "int64"}),
    "kahn": ("scales/kahn.csv", {"group": "string", "first_rung": "int64", "last_rung": "int64"}),
}


def scale(name: str) -> pd.DataFrame:
    """The scale table `name` (one of `SCALES`) as a DataFrame with typed columns.

    goldstein: `code` (CAMEO code, str), `level` (`root`/`detail`), `label`, `goldstein` (float, -10..10);
    plover: `category`, `mode` (<NA> = any), `score`; rivera: `category`, `points`;
    kahn: `group`, `first_rung`, `last_rung`. Unknown names raise `DataError` listing the valid ones.
    """
    if name not in SCALES:
        raise DataError([DataProblem("<scales>", None, "name", "unknown scale",
                                     got=repr(name), expected=f"one of {', '.join(SCALES)}")])
    file, dtypes = SCALES[name]
    path = bundled_data_path(file)
    # keep_default_na=False + explicit na_values: an empty cell is missing, but the text "NA" is not.
    return pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])
