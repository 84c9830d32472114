"""One model of a crisis, read by every engine.

`lower(scenario) -> Model` turns a checked `crisislab.scenario.Scenario` into frozen records and
read-only numpy arrays: one global action order, conditions as postfix programs (`CondProgram`),
effect lists composed into add/set vectors, casualty distributions as inverse-CDF tables, payoffs
per actor and type. The crisis compiler and solver, the unrolling to `.efg`, the Monte Carlo
simulator (reference engine and compiled kernel) and the timeline replay all read a `Model`;
`crisislab.model.rules` holds the rules' constants they share (red-line status codes, condition
opcodes, RNG counter layout, ...).

    model = lower(scenario)
    model.perceived(h)        # (the game as strategic actor h sees it, h's prior)
    model.with_horizon(3)     # the same crisis over 3 rounds

Layering: this package imports only `crisislab.scenario`, `crisislab.errors`, numpy and scipy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crisislab._lazy import lazy_exports
from crisislab.model import rules

if TYPE_CHECKING:
    from crisislab.model._canonical import canonical_bytes
    from crisislab.model._cond import CondProgram, compare, state_test
    from crisislab.model._lower import casualty_cdf, lower, lower_condition
    from crisislab.model._model import (
        Action,
        CasualtyPay,
        CasualtyTable,
        Effect,
        EnvRule,
        ErrorEvent,
        Flow,
        Model,
        Mover,
        Perception,
        RedLine,
    )

# Names are imported on first use (PEP 562), so that reading `crisislab.model.rules` (the CLI's
# start, `crisislab.simulation`'s defaults) does not pay for pydantic and the scenario models.
_LAZY = {
    "canonical_bytes": "._canonical",
    "CondProgram": "._cond",
    "compare": "._cond",
    "state_test": "._cond",
    "casualty_cdf": "._lower",
    "lower": "._lower",
    "lower_condition": "._lower",
    **{
        name: "._model"
        for name in ("Action", "CasualtyPay", "CasualtyTable", "Effect", "EnvRule", "ErrorEvent", "Flow", "Model",
                     "Mover", "Perception", "RedLine")
    },
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


__all__ = [
    "Action",
    "CasualtyPay",
    "CasualtyTable",
    "CondProgram",
    "Effect",
    "EnvRule",
    "ErrorEvent",
    "Flow",
    "Model",
    "Mover",
    "Perception",
    "RedLine",
    "canonical_bytes",
    "casualty_cdf",
    "compare",
    "lower",
    "lower_condition",
    "rules",
    "state_test",
]
