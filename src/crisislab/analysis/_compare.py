"""One intervention against the scenario as written: two arms on the same runs, paired differences.

`compare_arms(runner, interventions)` simulates the scenario as written and intervened with the
runner's seed and run indices (common random numbers; the intervened arm is re-solved when a `set`
changes what the strategies depend on, as for claims) and gives, for every outcome, the paired
difference of its indicator with a normal-approximation interval (`paired_difference`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crisislab.analysis._claims import ArmRunner
from crisislab.scenario import describe_interventions
from crisislab.simulation import write_table
from crisislab.analysis._stats import paired_difference

__all__ = ["ARMS", "ArmComparison", "compare_arms"]

ARMS = ("baseline", "intervened")


@dataclass(frozen=True)
class ArmComparison:
    """The scenario as written (`baseline`) and under `interventions` (`intervened`), same runs.

    `differences`: one row per outcome with `outcome`, `baseline`, `intervened` (shares),
    `difference` (intervened − baseline), `se`, `ci_low`, `ci_high` at `level`.
    `provenance`: what the runs' files record beyond scenario, seed and runs (policy, grid).
    """

    scenario_id: str
    seed: int
    interventions: tuple[Any, ...]
    baseline: Any
    intervened: Any
    differences: pd.DataFrame
    level: float
    provenance: dict

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(r.outcome)}</td><td>{r.baseline:.4f}</td><td>{r.intervened:.4f}</td>"
            f"<td>{r.difference:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}]</td></tr>"
            for r in self.differences.itertuples(index=False)
        )
        return (f"<div><b>{escape(self.scenario_id)}</b>: as written vs {escape(describe_interventions(self.interventions))}, "
                f"{self.baseline.n_runs} runs per arm, seed {self.seed}, common random numbers"
                f"<table><tr><th>outcome</th><th>baseline</th><th>intervened</th><th>difference [{self.level:.0%} CI]</th></tr>"
                f"{rows}</table></div>")  # fmt: skip

    def __repr__(self) -> str:
        return f"ArmComparison({self.scenario_id!r}, {describe_interventions(self.interventions)!r}, runs={self.baseline.n_runs}, seed={self.seed})"

    @property
    def runs(self) -> pd.DataFrame:
        """Both arms' per-run tables stacked, baseline first, with a leading categorical `arm` column."""
        return _with_arm([self.baseline.runs, self.intervened.runs])

    @property
    def paths(self) -> pd.DataFrame | None:
        """Both arms' per-move tables (when simulated with `paths=True`), with an `arm` column."""
        if self.baseline.paths is None or self.intervened.paths is None:
            return None
        return _with_arm([self.baseline.paths, self.intervened.paths])

    def to_parquet(self, path: str | Path) -> None:
        """Write both arms' runs (column `arm`) with their provenance under the file's metadata key
        `crisislab` (JSON, as `Results.to_parquet` records one arm, plus `arms`: each arm's
        interventions); with paths, the per-move table goes to PATH-stem.paths.parquet (an older
        one is removed otherwise). Both are written as one unit (`crisislab._output.writing_files`):
        a failure leaves the previous files whole."""
        from crisislab._output import paths_file, writing_files

        path = Path(path)
        meta = {
            "scenario": self.scenario_id, "seed": self.seed, "runs": self.baseline.n_runs,
            "interventions": [describe_interventions(self.interventions)],
            "arms": {"baseline": describe_interventions([]), "intervened": describe_interventions(self.interventions)},
            **self.provenance,
        }  # fmt: skip
        paths = self.paths
        with writing_files([path, paths_file(path)]) as (runs_out, paths_out):
            write_table(self.runs, runs_out, meta)
            if paths is not None:
                paths.to_parquet(paths_out, index=False)

    def summary(self) -> dict[str, Any]:
        """Plain data: each arm's interventions, run-steps and outcome shares, and each difference."""
        arms = {"baseline": self.baseline, "intervened": self.intervened}
        return {
            "scenario": self.scenario_id,
            "runs": self.baseline.n_runs,
            "seed": self.seed,
            "level": self.level,
            "interventions": [iv.model_dump(mode="json", by_alias=True, exclude_none=True) for iv in self.interventions],
            "arms": {
                name: {
                    "interventions": describe_interventions([] if name == "baseline" else self.interventions),
                    "run_steps": r.run_steps,
                    "outcomes": {k: int(v) / r.n_runs for k, v in r.outcome_counts().items()},
                }
                for name, r in arms.items()
            },
            "difference": {
                row.outcome: {"difference": row.difference, "se": row.se, "ci_low": row.ci_low, "ci_high": row.ci_high}
                for row in self.differences.itertuples()
            },
        }


def _with_arm(frames: list[pd.DataFrame]) -> pd.DataFrame:
    parts = []
    for name, df in zip(ARMS, frames, strict=True):
        df = df.copy()
        df.insert(0, "arm", pd.Categorical([name] * len(df), categories=list(ARMS)))
        parts.append(df)
    return pd.concat(parts, ignore_index=True)


def compare_arms(
    runner: ArmRunner, interventions: Sequence[Any], *, paths: bool = False, level: float = 0.95
) -> ArmComparison:
    """The scenario of `runner` as written and under `interventions` (scenario `Intervention`
    models), simulated with the runner's runs and seed; see `ArmComparison`."""
    interventions = tuple(interventions)
    base = runner.results([], paths=paths)
    arm = runner.results(list(interventions), paths=paths)
    rows = []
    for k in base.spec.outcomes:
        t = (arm.runs["outcome"] == k).to_numpy(float)
        b = (base.runs["outcome"] == k).to_numpy(float)
        e = paired_difference(t, b, level)
        rows.append({"outcome": k, "baseline": e.baseline, "intervened": e.treatment, "difference": e.diff,
                     "se": e.se, "ci_low": e.ci_low, "ci_high": e.ci_high})  # fmt: skip
    return ArmComparison(
        scenario_id=runner.scenario.id, seed=runner.seed, interventions=interventions, baseline=base, intervened=arm,
        differences=pd.DataFrame(rows), level=level, provenance=runner.provenance,
    )  # fmt: skip
