"""Parameter recovery: records simulated at a known parameter are estimated again.

The benchmark (`python -m benchmarks recovery`, 200 replications) measures the coverage of the
95% intervals; here a smaller run that fails when coverage is far below nominal: with 16
replications and true coverage 0.95, fewer than 12 covering intervals has probability 0.7%
(binomial), so a correct estimator passes this test with probability > 0.99 for a fixed seed set
(the seeds are fixed, so the outcome is too).
"""

from __future__ import annotations

import numpy as np

from crisislab.analysis import SolverChoice, estimate
from crisislab.analysis._filter import sample_records
from crisislab.analysis._record import Record
from crisislab.model import lower
from crisislab.scenario import bundled_scenario

PATH = "actors.C.types.greedy.prior"
TRUTH = 0.75


def test_prior_is_recovered_at_the_nominal_rate() -> None:
    scn = bundled_scenario("crisis-bargaining-2type")
    truth = scn.with_overrides({PATH: TRUTH})
    model = lower(truth)
    pol = SolverChoice("crisis", 5)(truth)
    tmpl = Record(model.scenario_id, model.horizon, tuple(tuple(() for _ in model.movers) for _ in range(model.horizon)), (),
                  tuple(-1 for _ in model.sides), tuple(True for _ in model.movers))
    covered, estimates = 0, []
    for i in range(16):
        recs, _ = sample_records(model, pol, tmpl, 25, np.random.default_rng([7, i]), keep_ended=True)
        est = estimate(scn, recs, free=[PATH], grid=5, belief_tol=0.0)
        p = est.params[0]
        estimates.append(p.estimate)
        covered += p.ci_low <= TRUTH <= p.ci_high
    assert covered >= 12
    # The estimates centre on the truth: their mean within 3 standard errors of it.
    e = np.array(estimates)
    assert abs(e.mean() - TRUTH) <= 3 * e.std(ddof=1) / np.sqrt(e.size)
