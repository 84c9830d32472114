"""The bundled US–Iran timeline loads against the flagship; broken timelines give exact messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from crisislab.data import BUNDLED_TIMELINE, TIMELINE_COLUMNS, DataError, bundled_data_path, load_timeline
from crisislab.errors import UserError
from crisislab.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]
FLAGSHIP = REPO / "scenarios" / "us-iran-2019-2020.yaml"
HEADER = ",".join(TIMELINE_COLUMNS)
GOOD_ROW = "2019-12-27,KH,US,kh_rockets,190,-10.0,1,0,0,0,6,Wikipedia,en.m.wikipedia.org/wiki/2019_K-1_Air_Base_attack,1,K-1"


@pytest.fixture(scope="module")
def flagship():
    return load_scenario(FLAGSHIP)


@pytest.fixture(scope="module")
def timeline(flagship):
    return load_timeline(bundled_data_path(BUNDLED_TIMELINE), flagship)


def test_bundled_timeline_loads_typed(timeline):
    assert len(timeline) == 31  # rows written from the reference timeline, see data/README.md
    assert list(timeline.columns) == ["date", "round", *TIMELINE_COLUMNS[1:], "line"]
    assert timeline["date"].dtype == "datetime64[ns]"
    assert timeline["round"].dtype == "int64"
    assert timeline["deaths_us"].dtype == "Int64"
    assert timeline["uncertain"].dtype == bool
    assert timeline.attrs["scenario"] == "us-iran-2019-2020"
    assert timeline["date"].is_monotonic_increasing


@pytest.mark.parametrize(
    ("date", "expected_round"),
    [
        # The flagship's calendar phases: 16 fortnights from 2019-05-05 (to 14 Dec), two 6-day rounds
        # (15-26 Dec), eight 2-day rounds (27 Dec - 11 Jan), four fortnights (12 Jan - 7 Mar), seven
        # 2-day rounds (8-21 Mar), a last fortnight.
        pytest.param("2019-05-05", 1, id="start"),
        pytest.param("2019-12-27", 19, id="k1-attack"),  # first day of the climax: 16 + 2 + 1
        pytest.param("2020-01-03", 22, id="soleimani"),  # 7 days into it: 18 + 7 // 2 + 1
        pytest.param("2020-03-11", 32, id="taji"),  # 3 days into the Taji phase: 30 + 3 // 2 + 1
    ],
)
def test_rounds_follow_the_calendar(timeline, date, expected_round):
    rows = timeline[timeline["date"] == pd.Timestamp(date)]
    assert len(rows) >= 1
    assert set(rows["round"]) == {expected_round}


def test_known_facts(timeline):
    ps752 = timeline[timeline["action"] == "ad_shootdown_airliner"].iloc[0]
    # Q13 FOX: 176 killed, 82 of them Iranian (initial count)
    assert int(ps752["deaths_iran"]) + int(ps752["deaths_other"]) == 176
    assert int(ps752["deaths_iran"]) == 82
    # K-1 (Wikipedia): one US contractor killed; Camp Taji (LA Times): two US troops killed
    assert int(timeline["deaths_us"].sum()) == 3
    soleimani = timeline[timeline["date"] == pd.Timestamp("2020-01-03")]
    assert "us_kill_commander" in set(soleimani["action"])
    assert pd.isna(soleimani[soleimani["action"] == "us_kill_commander"]["deaths_iran"].iloc[0])


def test_scenario_may_be_a_path(flagship):
    by_path = load_timeline(bundled_data_path(BUNDLED_TIMELINE), FLAGSHIP)
    by_object = load_timeline(bundled_data_path(BUNDLED_TIMELINE), flagship)
    pd.testing.assert_frame_equal(by_path, by_object)


def _write(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "timeline.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_minimal_file_loads(tmp_path, flagship):
    df = load_timeline(_write(tmp_path, GOOD_ROW), flagship)
    assert df["date"].iloc[0] == pd.Timestamp(dt.date(2019, 12, 27))
    assert df["round"].iloc[0] == 19  # 27 Dec opens the flagship's climax phase
    assert df["line"].iloc[0] == 2


def test_every_problem_reported_at_once(tmp_path, flagship):
    rows = [
        GOOD_ROW,
        # line 3: action of another actor, negative count
        "2019-12-28,US,KH,kh_rockets,190,-10.0,-1,0,0,0,,Wikipedia,x,0,",
        # line 4: unknown action and a bad flag
        "2019-12-29,US,KH,us_nuke,190,-10.0,0,0,0,0,,Wikipedia,x,yes,",
        # line 5: a date that does not parse, an intensity off the Goldstein table
        "2019-13-01,Iran,US,iran_missile_warned,195,-9.0,0,0,0,0,,RFE/RL,x,0,",
        # line 6: before the calendar, unknown actor, empty outlet
        "2019-05-01,Houthis,Saudi Arabia,iran_gulf_attack,195,-10.0,0,0,0,0,,,x,0,",
        # line 7: wrong number of fields
        "2020-01-08,Iran,US",
    ]
    path = _write(tmp_path, *rows)
    with pytest.raises(DataError) as info:
        load_timeline(path, flagship)
    f = str(path)
    us_actions = ", ".join(a.id for a in flagship.actions if a.actor == "US")
    assert str(info.value).splitlines() == [
        f"{f}:3: action: action belongs to KH, not to US (got 'kh_rockets'; expected an action of US: {us_actions})",
        f"{f}:3: deaths_us: not a count (got '-1'; expected an integer >= 0, or empty if not reported)",
        f"{f}:4: action: unknown action (got 'us_nuke'; expected an action of US: {us_actions})",
        f"{f}:4: uncertain: not a 0/1 flag (got 'yes'; expected 0 or 1)",
        f"{f}:5: date: not a date (got '2019-13-01'; expected YYYY-MM-DD)",
        f"{f}:5: intensity: does not match the Goldstein score of CAMEO 195 (got -9.0; expected -10.0)",
        f"{f}:6: date: outside the scenario calendar (got '2019-05-01'; expected 2019-05-05 … 2020-04-04 (rounds 1 … 38))",
        f"{f}:6: actor: unknown actor (got 'Houthis'; expected an actor of scenario us-iran-2019-2020: US, Iran, KH, IRQ, IRGC_AD, SPIRAL, MED)",
        f"{f}:6: outlet: empty (got ''; expected a non-empty text)",
        f"{f}:7: row: row has 3 fields (got 3; expected 15 fields, as in the header)",
    ]
    assert len(info.value.problems) == 10


def test_rows_in_any_order_are_read_in_time_order(tmp_path, flagship):
    """Event exports are often sorted by actor or source: the rows come back in date order, and
    rows of one date keep their order in the file."""
    late = GOOD_ROW
    early = GOOD_ROW.replace("2019-12-27", "2019-12-20").replace(",K-1", ",early")
    late2 = GOOD_ROW.replace(",K-1", ",second")
    df = load_timeline(_write(tmp_path, late, early, late2), flagship)
    assert df["line"].tolist() == [3, 2, 4]
    assert df["note"].tolist() == ["early", "K-1", "second"]
    assert df["date"].is_monotonic_increasing


def test_a_cameo_code_needs_an_event_root(tmp_path, flagship):
    """CAMEO's event codes start with one of its 20 roots (01 … 20); finer codes of a root are read."""
    fine = GOOD_ROW.replace(",190,", ",1951,")
    assert load_timeline(_write(tmp_path, fine), flagship)["cameo"].iloc[0] == "1951"
    bad = GOOD_ROW.replace(",190,", ",9999,")
    with pytest.raises(DataError, match=r":2: cameo: not a CAMEO code \(got '9999'; expected a code whose first two digits are a CAMEO event root, 01 … 20\)"):
        load_timeline(_write(tmp_path, bad), flagship)


def test_a_file_separated_by_semicolons_is_one_problem(tmp_path, flagship):
    path = _write(tmp_path, GOOD_ROW.replace(",", ";"), header=HEADER.replace(",", ";"))
    with pytest.raises(DataError) as info:
        load_timeline(path, flagship)
    assert len(info.value.problems) == 1
    assert ":1: header: the columns are separated by semicolons" in str(info.value.problems[0])


def test_a_byte_order_mark_is_not_part_of_the_header(tmp_path, flagship):
    """Excel's "CSV UTF-8" starts the file with U+FEFF; the header is read without it."""
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeff".encode() + (HEADER + "\r\n" + GOOD_ROW + "\r\n").encode())
    df = load_timeline(path, flagship)
    assert len(df) == 1 and df["line"].iloc[0] == 2 and df["action"].iloc[0] == "kh_rockets"


def test_header_problems(tmp_path, flagship):
    header = HEADER.replace(",wounded", "").replace("note", "notes")
    path = _write(tmp_path, "x", header=header)
    with pytest.raises(DataError) as info:
        load_timeline(path, flagship)
    f = str(path)
    assert str(info.value).splitlines() == [
        f"{f}:1: wounded: missing column (expected a header with {HEADER.replace(',', ', ')})",
        f"{f}:1: note: missing column (expected a header with {HEADER.replace(',', ', ')})",
        f"{f}:1: notes: unknown column (got 'notes'; expected one of {HEADER.replace(',', ', ')} (optional: attributed, error))",
    ]


def test_missing_file_and_no_calendar(tmp_path, flagship):
    with pytest.raises(DataError, match="no such file"):
        load_timeline(tmp_path / "nope.csv", flagship)
    kydd = load_scenario(REPO / "scenarios" / "kydd-trust-spiral.yaml")
    with pytest.raises(DataError, match="has no calendar"):
        load_timeline(_write(tmp_path, GOOD_ROW), kydd)


def test_data_error_is_a_user_error():
    assert issubclass(DataError, UserError)
    assert issubclass(DataError, ValueError)


# Limits: counts are Int64 (2**63 - 1) and int() refuses more than 4,300 digits
# (sys.get_int_max_str_digits); each is a located problem, as are unreadable files.
@pytest.mark.parametrize("count", ["1" * 23, "9" * 5001, str(2**63), "1000000001", "0" * 5000 + "1" * 11])
def test_counts_beyond_the_limit_are_located(tmp_path, flagship, count):
    cells = GOOD_ROW.split(",")
    cells[TIMELINE_COLUMNS.index("deaths_us")] = count
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "\n" + ",".join(cells) + "\n")
    with pytest.raises(DataError) as info:
        load_timeline(path, flagship)
    assert str(info.value).startswith(f"{path}:2: deaths_us: count too large")
    assert "an integer from 0 to 1,000,000,000" in str(info.value)


def test_a_count_at_the_limit_is_read(tmp_path, flagship):
    cells = GOOD_ROW.split(",")
    cells[TIMELINE_COLUMNS.index("wounded")] = "0" * 5000 + "1000000000"
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "\n" + ",".join(cells) + "\n")
    assert load_timeline(path, flagship)["wounded"].iloc[0] == 10**9


def test_a_directory_a_huge_field_or_a_huge_file_is_located(tmp_path, flagship):
    with pytest.raises(DataError, match=f"^{tmp_path}: file: is a directory"):
        load_timeline(tmp_path, flagship)
    cells = GOOD_ROW.split(",")
    cells[-1] = "x" * 200_000  # over csv's field size limit (131,072)
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "\n" + ",".join(cells) + "\n")
    with pytest.raises(DataError, match=f"^{path}:2: file: not a readable CSV file"):
        load_timeline(path, flagship)
    path.write_text(HEADER + "\n" + (GOOD_ROW + "\n") * ((17 << 20) // len(GOOD_ROW)))
    with pytest.raises(DataError, match=f"^{path}: file: file too large"):
        load_timeline(path, flagship)
