"""Mutants of every bundled scenario, every .efg file under tests/ and the bundled timeline are
read as valid or refused with a located error (`fuzz/`; `python -m fuzz` runs 10,000 of each).

Hypothesis draws the seed of each mutant; a failure prints it, and `python -m fuzz --show KIND
SEED` prints that mutant. Each case must also finish in seconds (the deadline)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fuzz import KINDS, make_case, run_case, seed_files

# About 300 cases in all, 30-40 s on one core: scenarios cost the most (the loader that finds
# lines reads the flagship in about 0.3 s).
EXAMPLES = {"scenario": 120, "efg": 120, "timeline": 80}


def test_every_kind_has_seed_files() -> None:
    for kind in KINDS:
        assert seed_files(kind), kind
    assert len(seed_files("scenario")) == 6


@pytest.mark.parametrize("kind", KINDS)
def test_mutants_are_valid_or_located(kind: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = str(tmp_path_factory.mktemp(f"fuzz-{kind}"))

    @settings(max_examples=EXAMPLES[kind], deadline=timedelta(seconds=30), derandomize=True,
              suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(seed=st.integers(min_value=0, max_value=2**32 - 1))
    def case(seed: int) -> None:
        name, text = make_case(kind, seed)
        outcome, detail = run_case(kind, text, directory)
        assert outcome in ("valid", "located"), f"{kind} seed {seed} (from {name}): {outcome}: {detail}"

    case()


@pytest.mark.parametrize("kind", KINDS)
def test_the_seed_files_themselves_are_valid(kind: str) -> None:
    for path in seed_files(kind):
        assert run_case(kind, path.read_text(encoding="utf-8")) == ("valid", ""), path
