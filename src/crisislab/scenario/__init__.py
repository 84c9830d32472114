"""The scenario language: frozen models, loading with file:line errors, checks, dumping, overrides.

`load_scenario(path)` / `loads_scenario(text, filename)` read a YAML scenario
(docs/scenario-format.md), check its types and its meaning, and return a frozen `Scenario`; any
problem, in any number, is raised at once as one `ScenarioError` whose `.problems` are
`FILE:LINE: field.path: message (got X; expected Y)` records. `dump_scenario` writes it back.
"""

from crisislab.scenario._bundled import bundled_scenario, bundled_scenarios
from crisislab.scenario._check import CASUALTY_TAIL, CIVILIAN, MAX_CASUALTY_TABLE, MAX_HORIZON, MAX_OUTCOME_CASUALTIES, MAX_TYPES, MAX_PUBLIC_STATES, MAX_VAR_VALUES, Issue
from crisislab.scenario._dump import dump_scenario, to_data
from crisislab.scenario._errors import Problem, ScenarioError
from crisislab.scenario._format import (
    condition_text,
    consequence_text,
    effect_text,
    type_values_text,
    describe_interventions,
    describe_metric,
    intervention_text,
    metric_text,
    rate_period,
    number_text,
)
from crisislab.scenario._load import load_scenario, loads_scenario, locate_in_file, validate_data
from crisislab.scenario._models import (
    ALL_TYPES,
    Action,
    Actor,
    AllCondition,
    AnyCondition,
    Attribution,
    Calendar,
    Casualties,
    CasualtyPayoff,
    Claim,
    Compare,
    Condition,
    Consequence,
    Effect,
    EnvironmentActor,
    Estimated,
    ErrorEvent,
    FlowPayoff,
    Forbid,
    ForbidSpec,
    Force,
    ForceSpec,
    Intensity,
    Intervention,
    Metric,
    MetricAfter,
    MetricGiven,
    NotCondition,
    Outcome,
    OutcomeCasualties,
    Param,
    Payoffs,
    Perception,
    Phase,
    PhaseCondition,
    ProbTable,
    RedLine,
    RedLineCondition,
    RoundCondition,
    RoundTest,
    Rule,
    SetParam,
    SetSpec,
    Source,
    StateVar,
    TypeSpec,
    TypeValues,
    Uncertainty,
    VarCondition,
    iter_conditions,
)
from crisislab.scenario._reach import claim_warnings, metric_never
from crisislab.scenario._paths import PathError, params_with_uncertainty, resolve_param_path
from crisislab.scenario._shorthand import InterventionSyntaxError, parse_condition, parse_interventions, parse_shorthand
from crisislab.scenario._scenario import Scenario, check_scenario
from crisislab.scenario._walk import walk_numbers, walk_source_refs

__all__ = [
    "ALL_TYPES", "CASUALTY_TAIL", "CIVILIAN", "MAX_CASUALTY_TABLE", "MAX_HORIZON", "MAX_OUTCOME_CASUALTIES", "MAX_TYPES", "MAX_PUBLIC_STATES", "MAX_VAR_VALUES", "Action", "Actor", "AllCondition", "AnyCondition", "Attribution",
    "Calendar", "Casualties", "CasualtyPayoff", "Claim", "Compare", "Condition", "Consequence",
    "Effect", "EnvironmentActor", "Estimated", "ErrorEvent", "FlowPayoff", "Forbid", "ForbidSpec", "Force",
    "ForceSpec", "Intensity", "Intervention", "Issue", "Metric", "MetricAfter", "MetricGiven", "NotCondition", "Outcome", "OutcomeCasualties", "Param",
    "PathError", "Payoffs", "Perception", "Phase", "PhaseCondition", "Problem", "ProbTable", "RedLine", "RedLineCondition",
    "RoundCondition", "RoundTest", "Rule", "Scenario", "ScenarioError", "SetParam", "SetSpec",
    "Source", "StateVar", "TypeSpec", "TypeValues", "Uncertainty", "VarCondition",
    "InterventionSyntaxError", "bundled_scenario", "bundled_scenarios", "parse_condition", "parse_interventions", "parse_shorthand", "resolve_param_path", "params_with_uncertainty", "check_scenario", "condition_text", "consequence_text", "effect_text", "type_values_text", "describe_interventions", "describe_metric", "intervention_text", "metric_text", "number_text", "rate_period", "dump_scenario", "iter_conditions", "load_scenario",
    "loads_scenario", "locate_in_file", "metric_never", "claim_warnings", "to_data", "validate_data", "walk_numbers", "walk_source_refs",
]
