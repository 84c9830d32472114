# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # crisislab in a notebook: the US–Iran crisis of 2019–2020
#
# This tutorial runs the flagship scenario end to end through the public Python API, the same
# work `crisislab run` does on the command line. It is a Python file in the "percent" format:
# run it as a script (`python docs/tutorial.py`), or open it as a notebook with jupytext
# (`jupytext --to notebook docs/tutorial.py`). The test suite executes it.
#
# The numbers below use a coarse belief grid (3 points) and few runs so that the tutorial runs in
# about a minute; `make run` uses grid 5 and 20,000 runs per arm (the README says why).

# %%
import os
import tempfile

import crisislab

GRID = 3
RUNS = int(os.environ.get("CRISISLAB_TUTORIAL_RUNS", "4000"))
SEED = 2020

# %% [markdown]
# ## 1. The scenario
#
# A scenario is a frozen, checked object. `crisislab.load_scenario(path)` reads a YAML file (a
# mistake is reported with file, line and field path); the bundled scenarios load by id.

# %%
scn = crisislab.bundled_scenario("us-iran-2019-2020")
print(scn.title)
print("rounds:", scn.horizon, "| move order:", " → ".join(scn.order))
print("strategic actors:", [(a.id, a.type_ids, a.priors.round(3).tolist()) for a in scn.actors])
print("claims:", [c.id for c in scn.claims])
scn  # in a notebook, this shows a summary table

# %% [markdown]
# ## 2. Solve
#
# `crisislab.solve` compiles the scenario into a Markov game over (round, public state, belief,
# own type) and solves every actor's perceived game (the hypergame: Iran's prior about the US
# differs from the truth) as an agent logit quantal-response equilibrium on a belief grid.

# %%
sol = crisislab.solve(scn, grid=GRID)
print(f"{len(sol.sigma)} perceived games on a {len(sol.grid)}-point belief grid")
for msg in sol.diagnostics:
    print("solver diagnostic:", msg)

# %% [markdown]
# ## 3. Simulate
#
# `crisislab.simulation` accepts what `solve` returns. Randomness is keyed by (seed, run index), so
# the same seed gives the same numbers on any number of workers. `res.runs` is a pandas
# DataFrame with one row per run.

# %%
res = crisislab.simulate(scn, sol, runs=RUNS, seed=SEED)
print(res.runs[["run", "outcome", "end_round"]].head())
print((res.runs["outcome"].value_counts(normalize=True)).round(4))

# %% [markdown]
# ## 4. A counterfactual
#
# Interventions use the scenario format's models; `crisislab.scenario.parse_interventions` reads
# the same shorthand as the command line's `--force` / `--forbid` / `--set`. Both arms are
# simulated on the same runs (common random numbers), so their difference is the intervention's.

# %%
from crisislab.analysis import compare_arms, make_runner  # noqa: E402
from crisislab.scenario import parse_interventions  # noqa: E402

no_killing = parse_interventions(scn, forbid=["US:us_kill_commander"])
cmp = compare_arms(make_runner(scn, sol, runs=RUNS, seed=SEED), no_killing)
print(cmp.differences.round(4))

# %% [markdown]
# ## 5. The seeds' claims
#
# Each claim in the scenario quotes one of the four opinion pieces and states which way a metric
# should move under an intervention. `evaluate_claims` simulates both arms of every claim and
# judges it by the paired difference's 95% interval: holds, fails, or undetermined at this N.

# %%
claims = crisislab.evaluate_claims(scn, runs=RUNS, seed=SEED, policy=sol, robustness=0)  # robustness: step 7
for c in claims:
    e = c.estimate
    print(f"{c.id:45s} {e.diff:+.4f} [{e.ci_low:+.4f}, {e.ci_high:+.4f}]  {c.verdict}")

# %% [markdown]
# ## 6. The real record
#
# `crisislab.replay` computes the exact likelihood of the observed 2019–2020 record (bundled with
# the scenario) under the solved strategies, with the probability that the model would have ended
# the crisis before the record ends, and ranks it among records simulated from the model.

# %%
rep = crisislab.replay(scn, sol, seed=SEED, rank_records=20)
print(f"log-likelihood {rep.loglik:.2f}; P(the model ends the crisis early) {rep.p_ended_early:.2%}; "
      f"more probable than {rep.percentile:.0%} of {rep.n_simulated} simulated records of {rep.rounds} rounds")
print(rep.scores)

# %% [markdown]
# ## 7. The whole study and its report
#
# `run_study` does all of the above (plus each claim's robustness over the scenario's stated
# parameter uncertainty) and returns a frozen `Study`; `write_report` writes results.parquet,
# claims.csv, robustness.parquet and a self-contained report.html.

# %%
study = crisislab.run_study(scn, runs=RUNS, seed=SEED, policy=sol, robustness=2, robustness_runs=1000, rank_records=20)
out = tempfile.mkdtemp(prefix="crisislab-tutorial-")
path = crisislab.write_report(study, out)
print("report:", path)
print(study.outcomes.round(4))
