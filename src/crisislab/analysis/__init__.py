"""Analysis above both engines: arms and paired comparisons, claims and their robustness, the grid
check, the replay of an observed record, parameter sweeps (sensitivity indices, PRIM boxes), and the study that `crisislab run` performs.

An *arm* is the scenario under a list of interventions; arms of one comparison are simulated with
the same seed and run indices (common random numbers), so their per-run difference measures the
intervention, not sampling noise. Everything here returns frozen results (dataclasses and pandas
tables) that the report formats without computing anything.
"""

from __future__ import annotations

from crisislab.analysis._claims import (
    DEFAULT_ROBUSTNESS_DRAWS,
    POLICY_KINDS,
    ArmRunner,
    ClaimResult,
    SolverChoice,
    VERDICTS,
    claim_degeneracy,
    evaluate_claims,
    evaluate_claims_and_draws,
    judge_claim,
    judge_claims,
    make_runner,
    robustness_table,
)
from crisislab.analysis._compare import ARMS, ArmComparison, compare_arms
from crisislab.analysis._fitcheck import FitCheck, check_fit
from crisislab.analysis._estimate import Estimation, ParamEstimate, estimate, free_parameters
from crisislab.analysis._grid import grid_check, parse_grids
from crisislab.analysis._record import Candidate, Record, observe
from crisislab.analysis._replay import TimelineReplay, load_record, rank_share, replay, replay_record, simulate_records
from crisislab.analysis._stats import PairedEstimate, paired_difference, paired_ratio_difference, verdict, wilson_interval
from crisislab.analysis._sensitivity import boxes_table, indices_table
from crisislab.analysis._sweep import DESIGNS, SWEEP_FILES, Factor, Space, Sweep, min_n, sweep, sweep_space
from crisislab.analysis._study import FAN_QUANTILES, Study, outcome_table, run_study
from crisislab.analysis._tables import (
    assumption_table,
    casualty_table,
    claim_flags,
    outcome_draw_summary,
    round_dates,
    sensitivity_table,
    source_table,
)

__all__ = [
    "ARMS",
    "DEFAULT_ROBUSTNESS_DRAWS",
    "FAN_QUANTILES",
    "assumption_table",
    "casualty_table",
    "claim_flags",
    "evaluate_claims_and_draws",
    "outcome_draw_summary",
    "round_dates",
    "sensitivity_table",
    "source_table",
    "ArmComparison",
    "Study",
    "compare_arms",
    "Estimation",
    "FitCheck",
    "check_fit",
    "ParamEstimate",
    "estimate",
    "free_parameters",
    "grid_check",
    "parse_grids",
    "make_runner",
    "outcome_table",
    "Candidate",
    "Record",
    "load_record",
    "observe",
    "rank_share",
    "replay",
    "replay_record",
    "simulate_records",
    "run_study",
    "POLICY_KINDS",
    "ArmRunner",
    "ClaimResult",
    "PairedEstimate",
    "SolverChoice",
    "TimelineReplay",
    "evaluate_claims",
    "judge_claim",
    "judge_claims",
    "VERDICTS",
    "claim_degeneracy",
    "paired_ratio_difference",
    "DESIGNS",
    "SWEEP_FILES",
    "Factor",
    "Space",
    "Sweep",
    "boxes_table",
    "indices_table",
    "min_n",
    "sweep",
    "sweep_space",
    "paired_difference",
    "robustness_table",
    "verdict",
    "wilson_interval",
]
