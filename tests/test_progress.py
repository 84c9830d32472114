"""Progress as phases (`crisislab._progress`): one bar per phase, counted in its units, silent
unless a reporter is installed, and never a bar per arm or per draw."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crisislab import _progress
from crisislab.analysis import evaluate_claims, make_runner
from crisislab.scenario import load_scenario

HERE = Path(__file__).parent
MINI = HERE / "simulation" / "mini.yaml"
TINY = HERE / "crisis" / "data" / "tiny.yaml"


class Recorder:
    """Keeps every phase: label, depth, the last (completed, total) it was shown with."""

    def __init__(self) -> None:
        self.phases: list[dict] = []

    def start(self, label, total, depth):
        self.phases.append({"label": label, "depth": depth, "completed": 0, "total": total, "finished": False})
        return len(self.phases) - 1

    def update(self, handle, completed, total):
        self.phases[handle].update(completed=completed, total=total)

    def finish(self, handle, label, seconds, depth):
        self.phases[handle]["finished"] = True


def test_nothing_is_shown_without_a_reporter() -> None:
    assert not _progress.active()
    with _progress.phase("x", 3) as ph:
        ph.advance()
        with _progress.tasks(5, "y") as t:
            t.advance()


def test_solve_counts_every_decision_of_every_perceived_game(monkeypatch, tmp_path) -> None:
    import crisislab

    monkeypatch.setenv("CRISISLAB_NO_CACHE", "1")  # compile here, so that its phase runs
    rec = Recorder()
    scn = load_scenario(TINY)
    with _progress.reporting(rec):
        sol = crisislab.solve(scn, grid=5)
    labels = [p["label"] for p in rec.phases]
    assert any(lab.startswith("compiling") for lab in labels)
    solving = [p for p in rec.phases if p["label"].startswith("solving")]
    assert len(solving) == 1
    n_dec = sol.compiled.n_decisions
    assert solving[0]["total"] == len(sol.sigma) * n_dec == solving[0]["completed"]
    assert all(p["finished"] for p in rec.phases)


def test_the_arms_of_all_claims_make_one_bar() -> None:
    from crisislab.simulation import FixedPolicy

    rec = Recorder()
    scn = load_scenario(MINI)
    pol = FixedPolicy({"US": np.array([[0.3, 0.7], [0.8, 0.2]]), "Iran": np.array([[0.4, 0.6], [0.9, 0.1]])})
    runner = make_runner(scn, lambda s: pol, runs=3000, seed=1, chunk=1000)
    with _progress.reporting(rec):
        evaluate_claims(runner, robustness=0)
    top = [p for p in rec.phases if p["depth"] == 0]
    assert [p["label"] for p in top] == ["simulating the arms of 2 claims (chunks)"]
    # 3 distinct arms over the 2 claims (one is shared), 3 chunks of 1000 runs each
    arms = {repr(c.compare.treatment) for c in scn.claims} | {repr(c.compare.baseline) for c in scn.claims}
    assert top[0]["total"] == 3 * len(arms) == top[0]["completed"]


def test_work_inside_a_counted_phase_is_silent() -> None:
    rec = Recorder()
    with _progress.reporting(rec), _progress.phase("draws", 2) as outer:
        with _progress.phase("solving", 10) as inner:
            inner.advance(10)
        with _progress.tasks(4, "chunks") as t:
            t.advance()
        outer.advance(2)
    assert [p["label"] for p in rec.phases] == ["draws"]
    assert rec.phases[0]["completed"] == 2
