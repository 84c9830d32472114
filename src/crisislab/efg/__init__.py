"""Exact engine: a flat, array-based extensive-form game, Gambit `.efg` I/O and exact solvers.

Public surface: `Game` (frozen structure of arrays), `GameBuilder`, `assemble_game`, the profile
evaluation functions (`expected_payoffs`, `action_values`, `max_regret`, ...), `read_efg` /
`write_efg`, and the solvers `solve_spe` (backward induction), `solve_cfr` (CFR+) and
`solve_logit` / `logit_qre_at` (the traced principal branch of the agent logit QRE), and
`estimate_logit` (λ by maximum likelihood from observed counts, `read_counts`); `draw_tree` lays a
game out for drawing (`TreeDrawing`: SVG, TikZ, PDF, PNG; a `Game` shows itself drawn in a notebook).
"""

from crisislab.efg._builder import GameBuilder
from crisislab.efg._draw import DEFAULT_MAX_NODES, DRAW_FORMATS, MAX_DRAW_NODES, TreeDrawing, draw_tree, drawing_format
from crisislab.efg._estimate import CountsError, LogitFit, estimate_logit, read_counts
from crisislab.efg._eval import (
    action_values,
    agent_max_regret,
    agent_regrets,
    best_response_values,
    check_profile,
    counterfactual_values,
    exploitability,
    expected_payoffs,
    infoset_cf_reach,
    max_regret,
    nash_conv,
    node_values,
    profile_from_nested,
    profile_to_nested,
    realization_plan,
    uniform_profile,
)
from crisislab.efg._game import CHANCE, PLAYER, TERMINAL, Game, assemble_game
from crisislab.efg._io import parse_efg, read_efg, to_efg, write_efg
from crisislab.efg._logit import LogitResult, agent_lambda_bound, logit_qre_at, solve_logit, warm_up
from crisislab.efg._solve import MAX_CFR_ITERATIONS, CFRPlus, GeneralSumWarning, Solution, cfr_iterations_message, solve_cfr, solve_spe

__all__ = [
    "DEFAULT_MAX_NODES",
    "DRAW_FORMATS",
    "MAX_DRAW_NODES",
    "TreeDrawing",
    "draw_tree",
    "drawing_format",
    "MAX_CFR_ITERATIONS",
    "cfr_iterations_message",
    "CountsError",
    "LogitFit",
    "estimate_logit",
    "read_counts",
    "CFRPlus",
    "GeneralSumWarning",
    "Solution",
    "solve_cfr",
    "solve_spe",
    "LogitResult",
    "logit_qre_at",
    "solve_logit",
    "agent_lambda_bound",
    "warm_up",
    "CHANCE",
    "PLAYER",
    "TERMINAL",
    "Game",
    "GameBuilder",
    "action_values",
    "agent_max_regret",
    "agent_regrets",
    "assemble_game",
    "best_response_values",
    "check_profile",
    "counterfactual_values",
    "exploitability",
    "expected_payoffs",
    "infoset_cf_reach",
    "max_regret",
    "nash_conv",
    "parse_efg",
    "read_efg",
    "to_efg",
    "write_efg",
    "node_values",
    "profile_from_nested",
    "profile_to_nested",
    "realization_plan",
    "uniform_profile",
]
