"""Arguments have sane bounds, refused in one line (exit 2) before any work.

`efg solve --iterations` is capped (`MAX_CFR_ITERATIONS`, also in `solve_cfr`); `solve --max-gib`
must be a finite number of GiB no larger than the machine's memory (its default is 8 GiB or the
machine's memory, whichever is less); `--grid` and grid-check's `--grids` take odd grids only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crisislab.errors import SolverError

REPO = Path(__file__).resolve().parents[1]
MINI = REPO / "tests" / "simulation" / "mini.yaml"
KUHN = REPO / "tests" / "efg" / "games" / "kuhn.efg"



def _one_line(err: str) -> str:
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


@pytest.mark.parametrize("iterations", ["100000000000000000000", "10000001"])
def test_cfr_iterations_are_capped(cli, iterations):
    code, _out, err = cli("efg", "solve", KUHN, "--method", "cfr", "--iterations", iterations)
    assert code == 2
    assert _one_line(err).startswith("--iterations: at most 10,000,000 CFR+ iterations (got ")


def test_the_library_caps_cfr_iterations_too():
    from crisislab.efg import read_efg
    from crisislab.efg._solve import MAX_CFR_ITERATIONS, solve_cfr

    with pytest.raises(SolverError, match=r"^iterations: at most 10,000,000"):
        solve_cfr(read_efg(KUHN), iterations=MAX_CFR_ITERATIONS + 1)


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1"])
def test_max_gib_must_be_a_finite_positive_number(cli, value):
    code, _out, err = cli("solve", MINI, "--max-gib", value)
    assert code == 2
    assert _one_line(err).startswith("--max-gib: expected a number of GiB > 0 and at most the machine's memory")


def test_max_gib_cannot_exceed_the_machines_memory(cli, monkeypatch):
    import crisislab._machine as machine

    monkeypatch.setattr(machine, "memory_bytes", lambda: 4 * 2**30)
    code, _out, err = cli("solve", MINI, "--max-gib", "5")
    assert code == 2
    assert _one_line(err).startswith("--max-gib: 5 GiB is more than this machine's memory (4.0 GiB)")


def test_max_gib_defaults_to_8_or_the_machines_memory_if_less(monkeypatch):
    import crisislab._machine as machine
    from crisislab.cli._crisis import check_max_gib

    monkeypatch.setattr(machine, "memory_bytes", lambda: 64 * 2**30)
    assert check_max_gib(None) == 8.0 and check_max_gib(20) == 20.0
    monkeypatch.setattr(machine, "memory_bytes", lambda: 2 * 2**30)
    assert check_max_gib(None) == 2.0
    monkeypatch.setattr(machine, "memory_bytes", lambda: None)
    assert check_max_gib(None) == 8.0 and check_max_gib(1000) == 1000.0


def test_the_machines_memory_is_known_here():
    from crisislab._machine import memory_bytes

    mem = memory_bytes()
    assert mem is None or mem > 2**26


@pytest.mark.parametrize("command", ["solve", "simulate", "run", "claims"])
def test_an_even_grid_is_refused_with_the_rule(cli, command, tmp_path):
    code, _out, err = cli(command, MINI, "--grid", "4", *(["--out", tmp_path / "o"] if command == "run" else []))
    assert code == 2
    assert _one_line(err).startswith("grid: a belief grid has an odd number of points (got 4; use 3 or 5): an odd grid contains 1/2")


def test_grid_check_refuses_even_grids(cli):
    code, _out, err = cli("grid-check", MINI, "--grids", "3,6")
    assert code == 2
    assert _one_line(err).startswith("--grids: a belief grid has an odd number of points (got 6; use 5 or 7)")
    assert _one_line(err).endswith("(in '3,6')")


def test_parse_grid_accepts_odd_grids_and_auto():
    from crisislab.crisis import MAX_GRID, parse_grid

    assert parse_grid("auto") == "auto" and parse_grid("5") == 5 and parse_grid(MAX_GRID) == MAX_GRID
    with pytest.raises(SolverError, match="odd number of points"):
        parse_grid(10)


@pytest.mark.parametrize("command", ["simulate", "claims", "run", "grid-check"])
def test_more_runs_than_the_memory_holds_are_refused_before_any_work(cli, command, tmp_path, monkeypatch):
    import crisislab._machine as machine

    monkeypatch.setattr(machine, "memory_bytes", lambda: 2**30)
    code, _out, err = cli(command, MINI, "--runs", "10000000", *(["--out", tmp_path / "o"] if command == "run" else []))
    assert code == 2
    assert _one_line(err).startswith("--runs: 10,000,000 runs need at least 2.4 GiB for the per-run table (256 bytes a run), "
                                     "more than this machine's memory (1.0 GiB); expected at most 4,194,304 runs")


def test_the_library_refuses_them_too(monkeypatch):
    import crisislab
    import crisislab._machine as machine

    monkeypatch.setattr(machine, "memory_bytes", lambda: 2**30)
    sc = crisislab.load_scenario(MINI)
    with pytest.raises(crisislab.UserError, match=r"^runs: 10,000,000 runs need at least"):
        crisislab.simulate(sc, "myopic", runs=10_000_000, seed=1)


def test_local_workers_are_at_most_four_per_core(cli, monkeypatch):
    import crisislab._machine as machine

    monkeypatch.setattr(machine, "cores", lambda: 2)
    code, _out, err = cli("simulate", MINI, "--workers", "9")
    assert code == 2
    assert _one_line(err).startswith("--workers: at most 8 local worker processes (4 per core on this machine's 2;")
    code, _out, err = cli("simulate", MINI, "--workers", "0")
    assert code == 2 and _one_line(err) == "--workers: must be an integer >= 1 (got 0)"
