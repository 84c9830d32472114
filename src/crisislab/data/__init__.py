"""Small datasets shipped with crisislab: the real crisis timeline and the conflict-intensity scales.

`load_timeline(path, scenario)` reads an event timeline (CSV, one row per observed event coded
with a scenario's action ids), checks every row against the scenario and returns a typed
`pandas.DataFrame` with the scenario round of each event. `scale(name)` returns one of the scale
tables (Goldstein/CAMEO, PLOVER, Rivera et al., Kahn). Problems in a data file are reported all
at once as one `DataError` (a `UserError`), one line per problem:
`FILE:LINE: column: message (got X; expected Y)`.
"""

from __future__ import annotations

from crisislab.data._errors import DataError, DataProblem
from crisislab.data._paths import BUNDLED_TIMELINE, bundled_data_dir, bundled_data_path, bundled_timeline
from crisislab.data._scales import SCALES, scale
from crisislab.data._timeline import TIMELINE_COLUMNS, load_timeline

__all__ = [
    "BUNDLED_TIMELINE",
    "SCALES",
    "TIMELINE_COLUMNS",
    "DataError",
    "DataProblem",
    "bundled_data_dir",
    "bundled_data_path",
    "bundled_timeline",
    "load_timeline",
    "scale",
]
