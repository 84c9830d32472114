"""Shared fixtures of the inference tests: a four-move record of `tests/simulation/mini.yaml`."""

from __future__ import annotations

from pathlib import Path

import pytest

MINI = Path(__file__).resolve().parents[1] / "simulation" / "mini.yaml"
HEADER = "date,actor,target,action,cameo,intensity,deaths_us,deaths_iran,deaths_iraqi,deaths_other,wounded,outlet,reference,uncertain,note"
FOUR_MOVES = [
    "2019-12-02,Iran,x,ir_attack,,0.0,0,,,,,test,fixture,0,event",
    "2019-12-10,US,x,us_strike,,0.0,0,,,,,test,fixture,0,event",
    "2019-12-16,Iran,x,ir_attack,,0.0,0,,,,,test,fixture,0,event",
    "2019-12-23,US,x,us_strike,,0.0,0,,,,,test,fixture,0,event",
]


@pytest.fixture(scope="module")
def four_move_record(tmp_path_factory) -> Path:
    """Iran attacks and the US strikes, twice, in the first two rounds of mini.yaml's calendar."""
    path = tmp_path_factory.mktemp("record") / "record.csv"
    path.write_text("\n".join([HEADER, *FOUR_MOVES]) + "\n", encoding="utf-8")
    return path
