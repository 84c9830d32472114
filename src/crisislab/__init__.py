"""crisislab: strategic escalation crises as games of incomplete information.

Data flows one way: scenario → model → solution → simulation → analysis → report. The whole job,
without private imports::

    import crisislab

    scn = crisislab.load_scenario("scenarios/us-iran-2019-2020.yaml")   # or crisislab.bundled_scenario("us-iran-2019-2020")
    sol = crisislab.solve(scn, grid=5)                                   # agent logit QRE of every perceived game
    res = crisislab.simulate(scn, sol, runs=10_000, seed=1)              # res.runs: one row per run (pandas)
    claims = crisislab.evaluate_claims(scn, runs=10_000, seed=1, grid=5) # paired differences, verdicts
    rep = crisislab.replay(scn, sol, seed=1)                             # the exact likelihood of the observed record
    est = crisislab.estimate(scn, free=["actors.US.lam"])                # maximum likelihood from the record
    study = crisislab.run_study(scn, runs=10_000, seed=1, grid=5)        # all of the above, as `crisislab run`
    crisislab.write_report(study, "out/us-iran")                         # results.parquet, claims.csv, report.html
    crisislab.draw_tree(crisislab.unroll_efg(scn, 2).game).save("tree.svg")  # the exact tree (also .pdf .png .tex)
    sw = crisislab.sweep(scn, "morris", 10, runs=2000, grid=5, out="out/sweep")  # sensitivity indices, PRIM boxes

The sub-packages hold the rest: `crisislab.scenario` (the format), `crisislab.efg` (exact engine,
Gambit .efg), `crisislab.crisis` (crisis engine), `crisislab.simulation` (Monte Carlo),
`crisislab.analysis` (arms, claims, robustness, replay, studies), `crisislab.report`.
Names are imported on first use, so `import crisislab` is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crisislab._lazy import lazy_exports
from crisislab._version import __version__

if TYPE_CHECKING:
    from crisislab.analysis import (
        ArmComparison,
        ArmRunner,
        ClaimResult,
        Study,
        TimelineReplay,
        compare_arms,
        FitCheck,
        check_fit,
        evaluate_claims,
        grid_check,
        estimate,
        replay,
        run_study,
        sweep,
    )
    from crisislab.crisis import Solution
    from crisislab.crisis import solve_scenario as solve
    from crisislab.crisis import unroll_scenario as unroll_efg
    from crisislab.data import load_timeline
    from crisislab.efg import TreeDrawing, draw_tree
    from crisislab.errors import EnvironmentFault, UserError
    from crisislab.report import render_report, write_report
    from crisislab.scenario import Intervention, Scenario, ScenarioError, bundled_scenario, load_scenario, loads_scenario
    from crisislab.simulation import FixedPolicy, Results, simulate

# public name -> "module" or "module:attribute"
_API: dict[str, str] = {
    "load_scenario": "crisislab.scenario",
    "loads_scenario": "crisislab.scenario",
    "bundled_scenario": "crisislab.scenario",
    "Scenario": "crisislab.scenario",
    "ScenarioError": "crisislab.scenario",
    "Intervention": "crisislab.scenario",
    "load_timeline": "crisislab.data",
    "solve": "crisislab.crisis:solve_scenario",
    "Solution": "crisislab.crisis",
    "unroll_efg": "crisislab.crisis:unroll_scenario",
    "draw_tree": "crisislab.efg",
    "TreeDrawing": "crisislab.efg",
    "simulate": "crisislab.simulation",
    "Results": "crisislab.simulation",
    "FixedPolicy": "crisislab.simulation",
    "ArmRunner": "crisislab.analysis",
    "ArmComparison": "crisislab.analysis",
    "ClaimResult": "crisislab.analysis",
    "Study": "crisislab.analysis",
    "TimelineReplay": "crisislab.analysis",
    "compare_arms": "crisislab.analysis",
    "evaluate_claims": "crisislab.analysis",
    "check_fit": "crisislab.analysis",
    "FitCheck": "crisislab.analysis",
    "grid_check": "crisislab.analysis",
    "replay": "crisislab.analysis",
    "estimate": "crisislab.analysis",
    "run_study": "crisislab.analysis",
    "sweep": "crisislab.analysis",
    "render_report": "crisislab.report",
    "write_report": "crisislab.report",
    "UserError": "crisislab.errors",
    "EnvironmentFault": "crisislab.errors",
}

__all__ = ["__version__", *sorted(_API)]


__getattr__, __dir__ = lazy_exports(__name__, _API, globals())
