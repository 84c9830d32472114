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
# about a minute; `make run` uses grid 5 and 20,000 runs per arm (the README says why). After the
# flagship (sections 1–7) it writes a small crisis of its own, runs a counterfactual on it and
# tests its claim (sections 8–10).

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
# claims.csv, robustness.parquet and a self-contained report.html. The report opens with the
# findings (each claim's verdict, difference, interval and robustness), then the outcome shares
# with their Monte Carlo interval *and* their spread over the parameter draws, then how sure the
# model is (outcome shares against λ, the solver's diagnostics, the replay of the record), and ends
# with every source and assumption. `formats` adds the claims and outcome tables as Markdown and
# LaTeX and every figure as SVG and PDF, for a paper.

# %%
study = crisislab.run_study(scn, runs=RUNS, seed=SEED, policy=sol, robustness=2, robustness_runs=1000, rank_records=20)
out = tempfile.mkdtemp(prefix="crisislab-tutorial-")
path = crisislab.write_report(study, out, formats="html,md,tex,svg")
print("report:", path)
print(study.outcomes[["outcome", "probability", "ci_low", "ci_high", "draws_low", "draws_high"]].round(4))
with open(os.path.join(out, "claims.md"), encoding="utf-8") as f:
    print(f.read())

# %% [markdown]
# ## 8. A crisis of your own
#
# A scenario is YAML (docs/scenario-format.md has every field). This one is a two-round border
# standoff: two states, each tough or soft, can hold or mobilise; mobilising raises tension, and an
# accident can raise it further; tension 3 is war. Every number names a source or is marked
# `assumption` (here one made-up source), and λ carries an `uncertainty` so that a claim's
# robustness can be checked. `loads_scenario` checks it as `crisislab validate` does: a mistake is
# reported with its line and field path.

# %%
from crisislab.scenario import loads_scenario  # noqa: E402

STANDOFF = """
crisislab: 1
id: border-standoff
title: "A border standoff in two rounds"
horizon: 2
order: [North, South]
sources:
  sketch: {kind: book, title: "A teaching sketch (numbers are illustrative)"}
state:
  - {id: tension, min: 0, max: 3, initial: 1, source: sketch}
actors:
  - id: North
    lam: {value: 3.0, assumption: "deliberate but noisy", uncertainty: {uniform: [1.0, 6.0]}}
    types:
      - {id: tough, prior: {value: 0.5, source: sketch}}
      - {id: soft, prior: {value: 0.5, source: sketch}}
  - id: South
    lam: {value: 3.0, assumption: "as North", uncertainty: {uniform: [1.0, 6.0]}}
    types:
      - {id: tough, prior: {value: 0.4, source: sketch}}
      - {id: soft, prior: {value: 0.6, source: sketch}}
actions:
  - {id: n_hold, actor: North, rung: 0, default: true, effects: [{var: tension, add: -1}], source: sketch}
  - id: n_mobilise
    actor: North
    rung: 1
    effects: [{var: tension, add: 1}]
    cost: {tough: 0.2, soft: -0.4}
    consequences:
      - {kind: error, id: border_accident, probability: {value: 0.2, assumption: "one mobilisation in five has an incident"}, effects: [{var: tension, add: 1}]}
    source: sketch
  - {id: s_hold, actor: South, rung: 0, default: true, effects: [{var: tension, add: -1}], source: sketch}
  - {id: s_mobilise, actor: South, rung: 1, effects: [{var: tension, add: 1}], cost: {tough: 0.1, soft: -0.5}, source: sketch}
outcomes:
  - {id: war, when: {var: tension, op: ge, value: 3}}
  - {id: stalemate, at_horizon: true}
payoffs:
  discount: 0.9
  terminal:
    war: {North: {tough: -1.0, soft: -3.0}, South: {tough: -1.5, soft: -4.0}}
    stalemate: {North: 0.0, South: 0.0}
  flow:
    - {actor: North, when: {var: tension, op: eq, value: 0}, value: {tough: -0.2, soft: 0.5}}
    - {actor: South, when: {var: tension, op: le, value: 1}, value: {tough: -0.3, soft: 0.4}}
  source: sketch
claims:
  - id: a-softer-south-means-less-war
    label: If South is more likely to be soft, war is less likely
    source: [sketch]
    metric: {outcome_probability: war}
    compare:
      treatment: [{set: {param: actors.South.types.soft.prior, value: 0.9}}]
      baseline: []
    expect: lower
"""
mine = loads_scenario(STANDOFF, "border-standoff.yaml")
mine_sol = crisislab.solve(mine)  # a small game: the finest grid (51 points) within the work budget
print(crisislab.simulate(mine, mine_sol, runs=RUNS, seed=SEED).outcome_counts() / RUNS)

# %% [markdown]
# ## 9. A counterfactual on it
#
# What if North never mobilised (as `--forbid North:n_mobilise`)? Both arms run on the same random
# numbers. Without North's mobilisation tension can never reach 3, so war is 0 in every run of the
# intervened arm: a claim written this way could not fail, and the report flags such claims
# ("cannot fail") instead of calling them held.

# %%
restraint = parse_interventions(mine, forbid=["North:n_mobilise"])
cmp_mine = compare_arms(make_runner(mine, mine_sol, runs=RUNS, seed=SEED), restraint)
print(cmp_mine.differences.round(4))

# %% [markdown]
# ## 10. Its claim, with robustness
#
# The scenario's claim (South's soft type more likely, which North also believes: a `set` changes
# the game, so that arm is re-solved) is evaluated like the flagship's: verdict from the paired
# interval, and robustness from draws of both actors' λ (each draw re-solved).

# %%
for c in crisislab.evaluate_claims(mine, runs=RUNS, seed=SEED, policy=mine_sol, robustness=3, robustness_runs=1000):
    e = c.estimate
    print(f"{c.id}: {e.diff:+.4f} [{e.ci_low:+.4f}, {e.ci_high:+.4f}] {c.verdict}; holds in {c.robustness:.0%} of draws")

# %% [markdown]
# ## 11. Its parameters, estimated from a record
#
# A record of what happened in a crisis of this kind can pin its parameters down. Here, records
# simulated from the scenario at a known prior stand in for observed ones (with real records:
# `crisislab.estimate(scenario, ["record.csv", ...])`, see docs/replay.md): `estimate` maximises
# their exact likelihood and returns the estimate with its standard error and interval.

# %%
from crisislab.analysis import simulate_records

param = "actors.South.types." + mine.actor("South").types[0].id + ".prior"
truth = mine.with_overrides({param: 0.7})
records = simulate_records(truth, n=30, seed=SEED)  # crises as they would unfold if the prior were 0.7
est = crisislab.estimate(mine, records, free=[param])
p = est.params[0]
print(f"{p.path}: {p.estimate:.3f} (se {p.se:.3f}; 95% interval [{p.ci_low:.3f}, {p.ci_high:.3f}]; truth 0.7)")

# %% [markdown]
# ## 12. The game tree, drawn
#
# A short horizon of a scenario unrolls into an exact extensive-form game. `draw_tree` lays it out
# without crossing edges: information sets joined, chance probabilities, payoffs at the leaves, and
# here the logit QRE's probabilities under the branches (`crisislab draw SCENARIO --horizon 2
# -o tree.pdf --solve logit` does the same from the command line).

# %%
fearon = crisislab.bundled_scenario("fearon-audience-costs")
tree = crisislab.unroll_efg(fearon, horizon=2).game
drawing = crisislab.draw_tree(tree, profile=crisislab.efg.solve_logit(tree))
drawing.save(os.path.join(out, "fearon-tree.svg"))   # or .pdf, .png, .tex (TikZ for a paper)
drawing                                              # a notebook shows the drawing
