"""The scale tables shipped in data/scales load typed and hold the published values."""

from __future__ import annotations

import pytest

from crisislab.data import SCALES, DataError, scale


@pytest.mark.parametrize("name", sorted(SCALES))
def test_every_scale_loads(name):
    table = scale(name)
    assert len(table) > 0
    assert not table.drop(columns=[c for c in ("mode",) if c in table]).isna().any().any()


@pytest.mark.parametrize(
    ("code", "score"),
    [
        # GDELT CAMEO.goldsteinscale.txt, as quoted in reference/scales.md
        pytest.param("01", 0.0, id="statement"),
        pytest.param("15", -7.2, id="force-posture"),
        pytest.param("163", -8.0, id="sanctions"),
        pytest.param("186", -10.0, id="assassinate"),
        pytest.param("0874", 10.0, id="retreat-leading-zero"),
    ],
)
def test_goldstein_values(code, score):
    table = scale("goldstein").set_index("code")
    assert table.loc[code, "goldstein"] == score


def test_goldstein_has_all_twenty_roots():
    table = scale("goldstein")
    roots = table[table["level"] == "root"]["code"]
    assert list(roots) == [f"{i:02d}" for i in range(1, 21)]
    assert table["goldstein"].between(-10, 10).all()


def test_rivera_and_kahn():
    # Rivera et al. (2024): violent escalation 28 points, nuclear 60
    rivera = scale("rivera").set_index("category")["points"]
    assert rivera["violent escalation"] == 28 and rivera["nuclear"] == 60
    # Kahn (1965): 44 rungs in 7 contiguous groups
    kahn = scale("kahn")
    assert len(kahn) == 7 and kahn["first_rung"].iloc[0] == 1 and kahn["last_rung"].iloc[-1] == 44
    assert (kahn["first_rung"].iloc[1:].to_numpy() == kahn["last_rung"].iloc[:-1].to_numpy() + 1).all()


def test_scale_returns_a_fresh_copy():
    table = scale("plover")
    table.loc[0, "score"] = 99.0
    assert scale("plover").loc[0, "score"] == -9.0  # PLOVER manual: ASSAULT -9


def test_unknown_scale():
    with pytest.raises(DataError) as info:
        scale("richter")
    assert str(info.value) == "<scales>: name: unknown scale (got 'richter'; expected one of goldstein, plover, rivera, kahn)"
