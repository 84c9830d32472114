"""Conformance of the Monte Carlo simulator to the compiled model, on every bundled scenario.

The crisis engine compiles a scenario into a finite Markov game and solves it; the simulator plays
the solved policy under its own implementation of the rules. Two engines, one set of rules: this
module checks that they agree, by simulating the solved policy with per-move paths and reading each
simulated run as a path through the model's own tables.

**What is compared, and why.** (a) *Transitions*: at every decision d (one strategic slot of one
round), for each reachable public state s and chosen action a, the model gives a distribution over
what follows up to the next decision: the mover's action with its chance consequences (errors,
attribution, casualties), the environment's moves, red-line bookkeeping and outcome checks, folded
into "public state at decision d+1, or outcome o that ended the game". That is the quantity in which
all the rules meet, so it is the real test of the two engines agreeing on them. The simulated runs
that visited (d, s) and chose a give observed frequencies of the same events, compared with the
model's probabilities by a chi-square goodness-of-fit test (scipy.stats.chisquare). The simulator's
per-move table records the state variables but not the red-line statuses and counters, so events
are compared on what it records: the state variables at decision d+1, or the outcome (model
branches that differ only in red-line columns are pooled). A run's full public state is followed
through the model's tables: the next state is the model's branch whose variables match the run's;
a run whose next state is not determined that way (two branches differ only in red-line columns)
is no longer followed, which does not bias the later cells, since given (d, s, a) the next
transition does not depend on the past (Markov property). An event the model rules out, an action
the model says is unavailable, or a state the solver never reached fails the test outright.
(a') *Choices and beliefs*: at each (d, s, own type of the mover), the simulated choices against
the model's logit strategy σ(a | d, s, belief, type) at the mover's belief in each run (which
varies from run to run with the path: the expected count of an action is the sum of its
probabilities over the runs); this checks the simulator's strategy tables (its compiled kernel's
own copy and interpolation of the solver's) against the solver's lookup. The beliefs themselves
are checked exactly: after every strategic move, each holder's recorded belief about the mover
must be Bayes' rule applied to its belief before, with the model's strategy in the holder's game.
(b) *Values*: the solved expected discounted payoff at the start of the game (`values0`, per actor
and own type) against the mean over runs of each run's discounted payoff, within 4 standard errors.
The simulator does not record payoffs, so a run's payoff is read off the model along the run's
path: the sum over its decisions of the model's conditional expected reward on the branch the run
took (given the public states, the realised payoff has that conditional mean, so the run means
have the same expectation). This tests the whole simulated path distribution, play included,
against the solver's values.

**Tolerances.** Chi-square: Pearson's statistic for a multinomial sample is approximately
chi-square with (bins - 1) degrees of freedom when every expected count is at least 5 (Cochran's
rule), so bins with smaller expected counts are pooled, smallest first, until all reach 5, and a
cell with fewer than two bins left is not tested. For (a') the runs of a cell have different action
probabilities; the covariance of the counts is then Σ_r (diag p_r - p_r p_rᵀ), which is below the
multinomial one at the mean (the difference is Σ_r (p_r - p̄)(p_r - p̄)ᵀ ≥ 0), so in the normal
approximation the statistic is a sum of χ²(1) variables with weights at most 1, stochastically
smaller than χ²(bins - 1): the test stays valid, and conservative. The tests of
one scenario form one family, controlled with Holm's step-down method at ALPHA / (number of
scenarios), so that a correct pair of engines fails the whole module with probability at most
ALPHA; seeds are fixed, so a given version of the code either passes or fails, every time.
Values: the mean of n independent runs is approximately normal with standard error s/√n (central
limit theorem; payoffs are bounded); |mean - value| ≤ 4 SE has a two-sided normal tail of 6.3e-5,
≤ 1.3e-3 over the 20 (actor, type) comparisons of all scenarios (Bonferroni). Beliefs: the
simulator and the solver compute the same float64 expressions, so they agree to rounding (a few
1e-16 per operation, 2e-14 seen on the flagship); 1e-9 leaves room for a different order of
operations and none for a different rule. The solver's values interpolate continuation values
linearly on the belief grid, while the simulated play updates beliefs exactly; with a grid that is
too coarse, that approximation shows as a difference in (b) (see `CASES`).

The engines' internals this module reads are confined to the helpers in the first section, so that
it can follow them when they move.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from crisislab.scenario import Scenario, load_scenario

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"
SCENARIOS = sorted(SCENARIO_DIR.glob("*.yaml"))
FLAGSHIP = "us-iran-2019-2020"

# Family-wise error of the whole module (all scenarios) when the engines agree.
ALPHA = 1e-3
# Standard errors allowed between a solved value and the simulated mean payoff (see the docstring).
VALUE_SES = 4.0
# Cochran's rule: every expected count of a chi-square test at least 5.
MIN_EXPECTED = 5.0
# Beliefs after a move against Bayes' rule: float64 rounding only (see the docstring).
BELIEF_TOL = 1e-9


@dataclass(frozen=True)
class Case:
    """How one scenario is solved and simulated: belief grid and runs for the transition and
    choice tests, and for the value test (None: the same)."""

    grid: int
    runs: int
    value_grid: int | str | None = None
    value_runs: int | None = None
    seed: int = 20260101


# The flagship's values need a finer grid than its transitions: on the 3-point grid the solved
# values of Iran's types are off the simulated means by 4.6 and 7.1 SE (20,000 runs), on 5 points by
# 3.1 and 4.2 SE, on 9 points by 2.5 and 1.8 SE, and by 1.9 and 1.7 SE with 100,000 runs: the
# linear interpolation of continuation values between belief-grid points, not a disagreement.
CASES = {FLAGSHIP: Case(grid=3, runs=6000, value_grid="cheb:5", value_runs=20_000)}
DEFAULT_CASE = Case(grid=11, runs=20_000)


def _case(name: str) -> Case:
    return CASES.get(name, DEFAULT_CASE)


def _params(names: list[str]) -> list:
    return [pytest.param(n, marks=pytest.mark.slow) if n == FLAGSHIP else n for n in names]


# ================================================================================================
# The engines' internals (the only place this module touches them)
# ================================================================================================


@dataclass(frozen=True)
class Model:
    """The compiled game and its solution as plain arrays (see `crisislab.crisis.CompiledGame`).

    Decisions d: `dec_round[d]` (1-based), `dec_slot[d]` (position in the move order),
    `dec_actor[d]` (index into `actors`). `dec_vars[d]`: int64 `(S_d, n_vars)` the state variables
    of decision d's reachable states (local index s). Per decision, CSR rows `s * A + a` (A = the
    mover's actions, ladder order `actions[actor]`): `avail[d]` bool `(S_d, A)`, `row_ptr[d]`,
    `nxt[d]` (local state at d+1, or -1 - o for outcome o), `prob[d]`, `reward[d]` float64
    `(nnz, n_actors, k_max)` conditional expected payoff on the branch in round `dec_round[d]`
    units. `init_*`: the chance before decision 0 (round-1 units). `to_round1[d]`: the discount
    factor from decision d's round to round 1. `values0[h, i, θ]`: solved expected discounted
    payoff of actor i of type θ in perceiver h's game from h's initial beliefs `mu0[h]`.
    """

    actors: tuple[str, ...]
    types: tuple[tuple[str, ...], ...]
    prior: np.ndarray
    actions: tuple[tuple[str, ...], ...]
    order: tuple[str, ...]
    var_ids: tuple[str, ...]
    var_lo: np.ndarray
    var_hi: np.ndarray
    outcomes: tuple[str, ...]
    dec_round: np.ndarray
    dec_slot: np.ndarray
    dec_actor: np.ndarray
    dec_vars: tuple[np.ndarray, ...]
    avail: tuple[np.ndarray, ...]
    row_ptr: tuple[np.ndarray, ...]
    nxt: tuple[np.ndarray, ...]
    prob: tuple[np.ndarray, ...]
    reward: tuple[np.ndarray, ...]
    init_nxt: np.ndarray
    init_prob: np.ndarray
    init_reward: np.ndarray
    to_round1: np.ndarray
    game_of: np.ndarray
    mu0: np.ndarray
    values0: np.ndarray

    @property
    def n_decisions(self) -> int:
        return len(self.dec_vars)


def solve_model(scenario: Scenario, grid: int | str) -> tuple[Model, object]:
    """Compile and solve `scenario` with the crisis engine: the model's arrays and the solution."""
    from crisislab.crisis import compile_scenario, solve

    cg = compile_scenario(scenario)
    sol = solve(cg, grid=grid)
    lowered = cg.model
    n_vars = lowered.n_vars
    disc = np.asarray(cg.disc, dtype=np.float64)
    model = Model(
        actors=tuple(lowered.actors),
        types=tuple(tuple(t) for t in lowered.types),
        prior=np.asarray(cg.prior),
        actions=tuple(tuple(lowered.actions[g].id for g in lowered.ladder(j)) for j in range(lowered.n_actors)),
        order=tuple(mv.id for mv in lowered.movers),
        var_ids=tuple(cg.columns[:n_vars]),
        var_lo=np.asarray(lowered.lo, dtype=np.int64),
        var_hi=np.asarray(lowered.hi, dtype=np.int64),
        outcomes=tuple(cg.outcomes),
        dec_round=np.asarray(cg.dec_round),
        dec_slot=np.asarray(cg.dec_slot),
        dec_actor=np.asarray(cg.dec_mover),
        dec_vars=tuple(np.asarray(cg.states[rows][:, :n_vars]) for rows in cg.dec_states),
        avail=tuple(cg.avail),
        row_ptr=tuple(cg.row_ptr),
        nxt=tuple(cg.nxt),
        prob=tuple(cg.prob),
        reward=tuple(cg.reward),
        init_nxt=np.asarray(cg.init_nxt),
        init_prob=np.asarray(cg.init_prob),
        init_reward=np.asarray(cg.init_reward),
        to_round1=np.concatenate([[1.0], np.cumprod(disc[:-1])]),
        game_of=np.asarray(sol.game_of),
        mu0=np.asarray(sol.mu0),
        values0=np.asarray(sol.values0),
    )
    return model, sol


def strategy(solution: object, mover: str, d: int, states: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The model's σ(a | d, s, belief, type) in `mover`'s perceived game: float64 `(N, K, A)` for
    local states `states` `(N,)` and belief coordinates `x` `(N, n_actors)` (P(first type))."""
    return solution.strategy(mover, d, states, x)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Simulated:
    """What the simulator recorded: `paths` one row per (run, move) with the chosen action and
    the state variables and beliefs after the move, `runs` one row per run (types, outcome);
    `initial_vars` int64 `(n_vars,)`; `initial_x[h, j]` holder h's initial P(j is of its first
    type); `unreachable` moves at states the solver never reached."""

    paths: object
    runs: object
    initial_vars: np.ndarray
    initial_x: np.ndarray
    unreachable: int


def simulate_solution(scenario: Scenario, solution: object, runs: int, seed: int, solved: Scenario | None = None) -> Simulated:
    """Simulate `runs` runs of `scenario` under the solved policy, as `crisislab simulate` does
    (the compiled kernel), with per-move paths. `solved`: the scenario the solution is of, when the
    simulated one deliberately differs from it (the policy is built for `solved`)."""
    from crisislab.simulation import simulate
    from crisislab.simulation import SolutionPolicy

    policy = SolutionPolicy(solution, scenario if solved is None else solved)
    res = simulate(scenario, policy, runs, seed, paths=True)
    spec = res.spec
    x0 = np.array([[b[sl.start] for sl in spec.belief_slices] for b in spec.initial_beliefs])
    return Simulated(
        paths=res.paths,
        runs=res.runs,
        initial_vars=np.asarray(spec.initial, dtype=np.int64),
        initial_x=x0,
        unreachable=int(policy.unreachable),
    )


# ================================================================================================
# Reading simulated runs as paths through the model's tables
# ================================================================================================


@dataclass
class Trace:
    """One row per (run, decision) the run reached, with the model's reading of it.

    `s`: local state at the decision (-1: no longer followed); `a`: ladder index of the chosen
    action; `code`: what followed up to the next decision (outcome index o < n_outcomes, or
    n_outcomes + key of the state variables at the next decision); `branch`: the model's branch
    taken (-1 when not determined); `theta`: the mover's true type; `x`: the mover's beliefs
    before the move `(n_actors,)` (P(first type)).
    """

    run: np.ndarray
    d: np.ndarray
    s: np.ndarray
    a: np.ndarray
    code: np.ndarray
    branch: np.ndarray
    theta: np.ndarray
    x: np.ndarray
    x_before: np.ndarray
    x_after: np.ndarray
    init_code: np.ndarray  # per run: what the chance before decision 0 led to
    init_branch: np.ndarray
    types: np.ndarray  # int64 (n_runs, n_actors): true types in the model's type order
    problems: list[str]  # events the model rules out (any one fails the test)
    lost: int  # (run, decision) rows whose state could not be followed


def _var_key(model: Model, v: np.ndarray) -> np.ndarray:
    """Mixed-radix key of state-variable rows `(N, n_vars)`; -1 outside the model's bounds."""
    dims = model.var_hi - model.var_lo + 1
    rel = np.asarray(v, dtype=np.int64) - model.var_lo
    ok = ((rel >= 0) & (rel < dims)).all(axis=1)
    key = np.full(rel.shape[0], -1, dtype=np.int64)
    if ok.any():
        key[ok] = np.ravel_multi_index(tuple(rel[ok].T), tuple(dims))
    return key


def _n_keys(model: Model) -> int:
    return int(np.prod(model.var_hi - model.var_lo + 1))


def branch_codes(model: Model, d: int) -> np.ndarray:
    """Code of every branch of decision d (or of the initial chance, d = -1): o for an outcome,
    n_outcomes + state-variable key of the state at the next decision."""
    nxt = model.init_nxt if d < 0 else model.nxt[d]
    n_out = len(model.outcomes)
    codes = np.empty(nxt.shape[0], dtype=np.int64)
    end = nxt < 0
    codes[end] = -1 - nxt[end]
    if (~end).any():
        codes[~end] = n_out + _var_key(model, model.dec_vars[d + 1][nxt[~end]])
    return codes


def _match(keys_sorted: np.ndarray, order: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query key, (number of equal keys, index of the first one in the unsorted array)."""
    lo = np.searchsorted(keys_sorted, query, side="left")
    hi = np.searchsorted(keys_sorted, query, side="right")
    first = np.where(hi > lo, order[np.minimum(lo, order.size - 1)], -1)
    return hi - lo, first


def trace(model: Model, sim: Simulated) -> Trace:
    """Follow every simulated run through the model's tables (see the module docstring)."""
    paths, runs = sim.paths, sim.runs
    n_out = len(model.outcomes)
    n_keys = _n_keys(model)
    problems: list[str] = []

    # Per-run facts: true types (model order) and the outcome (model index).
    run_ids = runs["run"].to_numpy()
    n_runs = run_ids.size
    assert np.array_equal(run_ids, np.arange(n_runs))
    types = np.column_stack(
        [np.array([model.types[i].index(t) for t in runs[f"type_{a}"].astype(str)]) for i, a in enumerate(model.actors)]
    )
    outcome = np.array([model.outcomes.index(o) for o in runs["outcome"].astype(str)])

    # Rows in play order; the state variables and beliefs *before* each move are those after the
    # run's previous move (the initial ones before its first).
    p = paths.sort_values(["run", "round", "move"], kind="stable")
    prun = p["run"].to_numpy()
    first = np.r_[True, prun[1:] != prun[:-1]]
    after_vars = p[list(model.var_ids)].to_numpy(np.int64)
    before_vars = np.vstack([sim.initial_vars[None, :], after_vars[:-1]])
    before_vars[first] = sim.initial_vars
    after_x = np.stack(
        [p[[f"belief_{h}_{j}_{model.types[jj][0]}" for jj, j in enumerate(model.actors)]].to_numpy(np.float64)
         for h in model.actors],
        axis=1,
    )  # (rows, holder, about)
    before_x = np.concatenate([sim.initial_x[None], after_x[:-1]])
    before_x[first] = sim.initial_x

    # Strategic rows, in (run, decision) order; the simulator's slots are the model's move order.
    dec_of = np.full((int(model.dec_round.max()) + 1, len(model.order)), -1, dtype=np.int64)
    dec_of[model.dec_round, model.dec_slot] = np.arange(model.n_decisions)
    actor_col = p["actor"].astype(str).to_numpy()
    rounds, moves = p["round"].to_numpy(), p["move"].to_numpy()
    for m in np.unique(moves):
        got = set(actor_col[moves == m])
        assert got == {model.order[m]}, f"move slot {m}: simulator's mover {got} vs the model's {model.order[m]}"
    d_row = dec_of[rounds, moves]
    strat = d_row >= 0
    run = prun[strat]
    d = d_row[strat]
    vars_at = before_vars[strat]
    x_all = before_x[strat]
    x_after_all = after_x[strat]
    action_id = p["action"].astype(str).to_numpy()[strat]
    mover = model.dec_actor[d]
    x = x_all[np.arange(run.size), mover]  # the mover's own beliefs (its perceived game's)
    a = np.full(run.size, -1, dtype=np.int64)
    for i, acts in enumerate(model.actions):
        sel = mover == i
        lookup = {act: k for k, act in enumerate(acts)}
        a[sel] = [lookup.get(act, -1) for act in action_id[sel]]
    if (a < 0).any():
        problems.append(f"{int((a < 0).sum())} strategic moves chose an action not in the mover's ladder")
    theta = types[run, mover]

    # What followed each decision: the next decision's state variables, or the run's outcome.
    same_next = np.r_[run[1:] == run[:-1], False]
    if (d[1:][same_next[:-1]] != d[:-1][same_next[:-1]] + 1).any():
        problems.append("a run skipped a decision")
    code = np.empty(run.size, dtype=np.int64)
    code[~same_next] = outcome[run[~same_next]]
    nk = _var_key(model, vars_at)
    code_of_state = np.where(nk >= 0, n_out + nk, -1)  # -1 matches no branch: reported below
    code[same_next] = code_of_state[1:][same_next[:-1]]
    if (nk < 0).any():
        problems.append(f"{int((nk < 0).sum())} states with a variable outside its bounds")

    # The chance before decision 0.
    firsts = np.r_[True, run[1:] != run[:-1]]
    assert (d[firsts] == 0).all() and np.array_equal(run[firsts], np.arange(n_runs)), "every run starts at decision 0"
    init_code = code_of_state[firsts]
    ic = branch_codes(model, -1)
    order0 = np.argsort(ic, kind="stable")
    cnt0, br0 = _match(ic[order0], order0, init_code)
    if (cnt0 == 0).any():
        problems.append(f"{int((cnt0 == 0).sum())} runs start decision 0 in a state the model's initial chance cannot reach")
    init_branch = np.where(cnt0 == 1, br0, -1)
    s = np.full(run.size, -1, dtype=np.int64)
    s[firsts] = np.where(init_branch >= 0, model.init_nxt[np.maximum(init_branch, 0)], -1)

    branch = np.full(run.size, -1, dtype=np.int64)
    lost = 0
    row_index = np.arange(run.size)
    for dd in range(model.n_decisions):
        at = row_index[(d == dd)]
        if at.size == 0:
            continue
        known = at[s[at] >= 0]
        lost += at.size - known.size
        if known.size == 0:
            continue
        A = model.avail[dd].shape[1]
        ok_a = a[known] >= 0
        unavailable = ok_a & ~model.avail[dd][s[known], np.maximum(a[known], 0)]
        if unavailable.any():
            k = known[unavailable][0]
            problems.append(
                f"decision {dd} (round {model.dec_round[dd]}, {model.actors[model.dec_actor[dd]]}): "
                f"{int(unavailable.sum())} runs chose an action the model says is unavailable, e.g. "
                f"{model.actions[model.dec_actor[dd]][a[k]]} at {dict(zip(model.var_ids, vars_at[k].tolist(), strict=True))}"
            )
        known = known[ok_a & ~unavailable]
        rows = s[known] * A + a[known]
        # Branch keys (row, code) of the rows visited, sorted for matching.
        ptr = model.row_ptr[dd]
        codes = branch_codes(model, dd)
        uniq_rows = np.unique(rows)
        b_idx = np.concatenate([np.arange(ptr[r], ptr[r + 1]) for r in uniq_rows])
        b_row = np.repeat(uniq_rows, ptr[uniq_rows + 1] - ptr[uniq_rows])
        span = n_out + n_keys
        b_key = b_row * span + codes[b_idx]
        order = np.argsort(b_key, kind="stable")
        cnt, first_b = _match(b_key[order], b_idx[order], rows * span + code[known])
        impossible = cnt == 0
        if impossible.any():
            k = known[impossible][0]
            what = (f"outcome {model.outcomes[code[k]]}" if 0 <= code[k] < n_out else "a state out of bounds" if code[k] < 0
                    else f"next state {dict(zip(model.var_ids, np.unravel_index(code[k] - n_out, tuple(model.var_hi - model.var_lo + 1)), strict=True))}")
            problems.append(
                f"decision {dd} (round {model.dec_round[dd]}, {model.actors[model.dec_actor[dd]]}): {int(impossible.sum())} "
                f"runs reached an event the model rules out, e.g. {what} after "
                f"{model.actions[model.dec_actor[dd]][a[k]]} at {dict(zip(model.var_ids, vars_at[k].tolist(), strict=True))}"
            )
        unique = cnt == 1
        branch[known[unique]] = first_b[unique]
        # Follow the run to its state at the next decision (only where that state is determined).
        cont = unique & (code[known] >= n_out)
        nxt_rows = known[cont] + 1
        s[nxt_rows] = model.nxt[dd][first_b[cont]]
    return Trace(run=run, d=d, s=s, a=a, code=code, branch=branch, theta=theta, x=x, x_before=x_all,
                 x_after=x_after_all, init_code=init_code,
                 init_branch=init_branch, types=types, problems=problems, lost=lost)


# ================================================================================================
# Chi-square tests with pooled bins, Holm's method
# ================================================================================================


def pooled_chisquare(observed: np.ndarray, expected: np.ndarray) -> tuple[float, int] | None:
    """Pearson's chi-square p-value and degrees of freedom after pooling the bins whose expected
    count is below MIN_EXPECTED (the two smallest merged until every bin reaches it); None when
    fewer than two bins remain (nothing to test)."""
    obs = list(np.asarray(observed, dtype=np.float64))
    exp = list(np.asarray(expected, dtype=np.float64))
    while len(exp) > 1:
        i = int(np.argmin(exp))
        if exp[i] >= MIN_EXPECTED:
            break
        o_i, e_i = obs.pop(i), exp.pop(i)
        j = int(np.argmin(exp))
        obs[j] += o_i
        exp[j] += e_i
    if len(exp) < 2 or min(exp) < MIN_EXPECTED:
        return None
    obs_a, exp_a = np.array(obs), np.array(exp)
    exp_a *= obs_a.sum() / exp_a.sum()  # equal totals (rounding in the model's probabilities)
    res = stats.chisquare(obs_a, exp_a)
    return float(res.pvalue), len(exp) - 1


def holm_rejections(pvalues: list[float], alpha: float) -> list[int]:
    """Indices of the hypotheses Holm's step-down method rejects at family-wise level alpha."""
    order = np.argsort(pvalues, kind="stable")
    m = len(pvalues)
    out = []
    for rank, i in enumerate(order):
        if pvalues[i] > alpha / (m - rank):
            break
        out.append(int(i))
    return out


@dataclass
class CellTest:
    label: str
    observed: np.ndarray
    expected: np.ndarray
    pvalue: float
    dof: int


def transition_tests(model: Model, tr: Trace) -> tuple[list[CellTest], int]:
    """Chi-square tests of the next-event distribution per (decision, state, action) cell, and of
    the initial chance; returns the tests and the number of cells with a single possible event
    (checked exactly by `trace`: any other event is a problem)."""
    n_out = len(model.outcomes)
    tests: list[CellTest] = []
    exact = 0

    def one(label: str, codes_obs: np.ndarray, codes_model: np.ndarray, probs: np.ndarray) -> None:
        nonlocal exact
        bins, inv = np.unique(codes_model, return_inverse=True)
        expected = np.bincount(inv, weights=probs, minlength=bins.size) * codes_obs.size
        pos = np.minimum(np.searchsorted(bins, codes_obs), bins.size - 1)
        hit = bins[pos] == codes_obs  # an event outside the model's is a problem of `trace`
        observed = np.bincount(pos[hit], minlength=bins.size).astype(np.float64)
        if bins.size == 1:
            exact += 1
            return
        got = pooled_chisquare(observed, expected)
        if got is not None:
            tests.append(CellTest(label, observed, expected, *got))

    def describe(code: int) -> str:
        if code < n_out:
            return model.outcomes[code]
        v = np.unravel_index(code - n_out, tuple(model.var_hi - model.var_lo + 1))
        return ",".join(f"{k}={int(x) + lo}" for k, x, lo in zip(model.var_ids, v, model.var_lo, strict=True))

    one("initial chance", tr.init_code, branch_codes(model, -1), model.init_prob)
    ok = tr.s >= 0
    for dd in range(model.n_decisions):
        sel = ok & (tr.d == dd) & (tr.a >= 0)
        if not sel.any():
            continue
        A = model.avail[dd].shape[1]
        rows = tr.s[sel] * A + tr.a[sel]
        codes = tr.code[sel]
        ptr = model.row_ptr[dd]
        all_codes = branch_codes(model, dd)
        vals, counts = np.unique(rows, return_counts=True)
        for r, c in zip(vals, counts, strict=True):
            if c < 2 * MIN_EXPECTED and ptr[r + 1] - ptr[r] > 1:
                continue  # too few visits for two bins of expected count 5
            span = slice(ptr[r], ptr[r + 1])
            s, act = divmod(int(r), A)
            label = (f"decision {dd} (round {model.dec_round[dd]}, {model.actors[model.dec_actor[dd]]}) at "
                     f"{describe(n_out + int(_var_key(model, model.dec_vars[dd][s][None])[0]))} [state {s}], "
                     f"{model.actions[model.dec_actor[dd]][act]}")
            one(label, codes[rows == r], all_codes[span], model.prob[dd][span])
    return tests, exact


def strategy_tests(model: Model, solution: object, tr: Trace) -> list[CellTest]:
    """Chi-square tests of the chosen actions per (decision, state, mover's type) cell against the
    sums of the model's strategy at each run's belief (see the module docstring)."""
    tests: list[CellTest] = []
    ok = (tr.s >= 0) & (tr.a >= 0)
    for dd in range(model.n_decisions):
        sel = np.flatnonzero(ok & (tr.d == dd))
        if sel.size == 0:
            continue
        mover = model.actors[model.dec_actor[dd]]
        sig = strategy(solution, mover, dd, tr.s[sel], tr.x[sel])  # (N, K, A)
        p = sig[np.arange(sel.size), tr.theta[sel]]  # (N, A)
        A = p.shape[1]
        K = sig.shape[1]
        cell = tr.s[sel] * K + tr.theta[sel]
        for c in np.unique(cell):
            in_c = cell == c
            if in_c.sum() < 2 * MIN_EXPECTED:
                continue
            s, th = divmod(int(c), K)
            observed = np.bincount(tr.a[sel][in_c], minlength=A).astype(np.float64)
            expected = p[in_c].sum(axis=0)
            live = expected > 0
            if observed[~live].any():
                tests.append(CellTest(f"decision {dd} state {s} type {th}: an action of probability 0 was chosen",
                                      observed, expected, 0.0, A - 1))
                continue
            got = pooled_chisquare(observed[live], expected[live])
            if got is not None:
                tests.append(CellTest(f"decision {dd} (round {model.dec_round[dd]}, {mover}) state {s}, "
                                      f"type {model.types[model.dec_actor[dd]][th]}", observed, expected, *got))
    return tests


def bayes_errors(model: Model, solution: object, tr: Trace) -> tuple[float, str]:
    """Largest difference between a holder's recorded belief about the mover after a move and
    Bayes' rule applied to its belief before with the model's strategy in the holder's game
    (a likelihood below 1e-300 keeps the prior, as the simulator does), and where it is."""
    worst, where = 0.0, ""
    ok = (tr.s >= 0) & (tr.a >= 0)
    for dd in range(model.n_decisions):
        sel = np.flatnonzero(ok & (tr.d == dd))
        if sel.size == 0:
            continue
        m = int(model.dec_actor[dd])
        if len(model.types[m]) == 1:
            continue
        for h, holder in enumerate(model.actors):
            sig = strategy(solution, holder, dd, tr.s[sel], tr.x_before[sel, h])  # (N, K, A)
            lik = sig[np.arange(sel.size), :, tr.a[sel]]  # (N, K)
            prior = tr.x_before[sel, h, m]
            joint = prior * lik[:, 0]
            total = joint + (1.0 - prior) * lik[:, 1]
            post = np.where(total > 1e-300, joint / np.where(total > 1e-300, total, 1.0), prior)
            err = np.abs(tr.x_after[sel, h, m] - post)
            k = int(np.argmax(err))
            if err[k] > worst:
                worst = float(err[k])
                where = (f"decision {dd} ({model.actors[m]} moves), {holder}'s belief: recorded "
                         f"{tr.x_after[sel[k], h, m]:.12g}, Bayes {post[k]:.12g} (prior {prior[k]:.12g})")
    return worst, where


def run_payoffs(model: Model, tr: Trace) -> np.ndarray:
    """float64 `(n_runs, n_actors)`: each run's discounted payoff per actor (own true type), read
    off the model's conditional expected rewards on the branches the run took (NaN when a branch
    of the run is not determined)."""
    n_runs, n = tr.types.shape
    actor = np.arange(n)
    out = np.full((n_runs, n), np.nan)
    ok0 = tr.init_branch >= 0
    out[ok0] = model.init_reward[tr.init_branch[ok0][:, None], actor, tr.types[ok0]]
    bad = ~ok0
    for dd in range(model.n_decisions):
        sel = tr.d == dd
        b = tr.branch[sel]
        runs = tr.run[sel]
        good = b >= 0
        bad[runs[~good]] = True
        r = model.reward[dd][b[good][:, None], actor, tr.types[runs[good]]]
        np.add.at(out, runs[good], model.to_round1[dd] * r)
    out[bad] = np.nan
    return out


# ================================================================================================
# The tests
# ================================================================================================


def _load(name: str) -> Scenario:
    return load_scenario(SCENARIO_DIR / f"{name}.yaml")


def _true_game(scenario: Scenario) -> Scenario:
    """The scenario with correct perceptions (every actor sees the true game and true priors).
    Its claims go too: they play no part in the game, and checking their arms only costs time."""
    data = scenario.to_data()
    data.pop("perceptions", None)
    data.pop("claims", None)
    return Scenario.from_data(data, f"<{scenario.id} without perceptions>")


_CACHE: dict[tuple[str, bool, int, int], tuple[Model, object, Simulated, Trace]] = {}


def _played(name: str, for_values: bool = False) -> tuple[Model, object, Simulated, Trace]:
    """Solve, simulate and trace one scenario once per session (the tests of a scenario share
    it). `for_values`: the scenario's true game (`_true_game`) on the case's value grid."""
    case = _case(name)
    scenario = _load(name)
    true_game = for_values and bool(scenario.perceptions)
    grid, runs = (case.value_grid or case.grid, case.value_runs or case.runs) if for_values else (case.grid, case.runs)
    key = (name, true_game, grid, runs)
    if key not in _CACHE:
        if true_game:
            scenario = _true_game(scenario)
        model, sol = solve_model(scenario, grid)
        sim = simulate_solution(scenario, sol, runs, case.seed)
        _CACHE[key] = (model, sol, sim, trace(model, sim))
    return _CACHE[key]


def _family_failures(tests: list[CellTest], alpha: float) -> list[str]:
    rejected = holm_rejections([t.pvalue for t in tests], alpha)
    return [
        f"{tests[i].label}: p = {tests[i].pvalue:.3g} (chi-square, {tests[i].dof} dof); observed "
        f"{tests[i].observed.astype(int).tolist()}, model expects {np.round(tests[i].expected, 1).tolist()}"
        for i in rejected
    ]


NAMES = [p.stem for p in SCENARIOS]


def test_every_bundled_scenario_is_covered() -> None:
    assert NAMES, f"no scenarios in {SCENARIO_DIR}"
    assert FLAGSHIP in NAMES


@pytest.mark.parametrize("name", _params(NAMES))
def test_simulated_transitions_and_choices_follow_the_model(name: str) -> None:
    model, sol, sim, tr = _played(name)
    assert sim.unreachable == 0, f"the simulator reached {sim.unreachable} (run, move) states the model never enumerated"
    assert not tr.problems, "simulated runs the model rules out:\n" + "\n".join(tr.problems)
    worst, where = bayes_errors(model, sol, tr)
    assert worst <= BELIEF_TOL, f"a belief update is not Bayes' rule with the model's strategy: {where}"
    trans, exact = transition_tests(model, tr)
    choices = strategy_tests(model, sol, tr)
    assert trans or exact, "no transition was checked"
    failures = _family_failures(trans + choices, ALPHA / len(NAMES))
    assert not failures, (
        f"{len(failures)} of {len(trans)} transition and {len(choices)} choice tests reject the model "
        f"(Holm, family-wise alpha {ALPHA / len(NAMES):.2g}):\n" + "\n".join(failures)
    )


def _value_params() -> list:
    out = []
    for name in NAMES:
        has_perceptions = bool(_load(name).perceptions)
        ident = f"{name}-true-game(perceptions dropped)" if has_perceptions else name
        marks = [pytest.mark.slow] if name == FLAGSHIP else []
        out.append(pytest.param(name, id=ident, marks=marks))
    return out


@pytest.mark.parametrize("name", _value_params())
def test_solved_values_match_mean_simulated_payoffs(name: str) -> None:
    """values0 against mean payoffs per actor and own type. A perceived game is not what the
    simulated runs play (each actor plays its own view), so a scenario with perceptions is compared
    in its true game: the same scenario with correct perceptions, solved and simulated."""
    model, _sol, _sim, tr = _played(name, for_values=True)
    assert (model.game_of == model.game_of[0]).all() and np.allclose(model.mu0, model.prior[:, 0]), "not one common game"
    pay = run_payoffs(model, tr)
    undetermined = int(np.isnan(pay[:, 0]).sum())
    assert undetermined == 0, f"{undetermined} runs took a branch the per-move table does not determine"
    lines, failed = [], []
    for i, actor in enumerate(model.actors):
        for th, tid in enumerate(model.types[i]):
            sel = tr.types[:, i] == th
            n = int(sel.sum())
            if n < 2:
                continue
            mean = float(pay[sel, i].mean())
            se = float(pay[sel, i].std(ddof=1) / np.sqrt(n))
            value = float(model.values0[0, i, th])
            # Floating-point floor for payoffs that do not vary at all (se = 0).
            tol = max(VALUE_SES * se, 1e-9 * (1.0 + abs(value)))
            line = f"{actor} ({tid}, {n} runs): solved {value:.5f}, simulated {mean:.5f} ± {se:.5f} (SE)"
            lines.append(line)
            if abs(mean - value) > tol:
                failed.append(f"{line}: off by {abs(mean - value) / max(se, 1e-300):.1f} SE")
    assert lines
    assert not failed, "solved values outside 4 standard errors of the simulated means:\n" + "\n".join(failed)


# ================================================================================================
# The checks can fail: deliberately broken engines are caught
# ================================================================================================

BROKEN = "chicken-brinkmanship"  # a chance actor whose probability depends on the state


def test_a_simulator_with_a_broken_transition_is_caught() -> None:
    """The simulator plays a loss-of-control probability of 0.1 at risk level 1 where the model
    has 0.05: the transition tests reject cells whose next move is that chance move, and no other."""
    case = _case(BROKEN)
    scenario = _load(BROKEN)
    model, sol, _sim, _tr = _played(BROKEN)
    broken = scenario.with_overrides({"environment.Chance.rules.0.probability.table.1": 0.1})
    tr = trace(model, simulate_solution(broken, sol, case.runs, case.seed, solved=scenario))
    assert not tr.problems  # the same events are possible, only their frequencies differ
    trans, _exact = transition_tests(model, tr)
    failures = _family_failures(trans, ALPHA / len(NAMES))
    assert failures, "a transition probability off by 0.05 went unnoticed"
    # Only B's decisions are followed by the chance move (order: A, B, Chance).
    assert all(", B)" in f for f in failures), failures


def test_a_model_with_a_perturbed_probability_is_caught() -> None:
    """The same check with the model's table perturbed instead: 0.05 of probability moved between
    the two events of the most visited cell that has two."""
    model, _sol, _sim, tr = _played(BROKEN)
    trans, _exact = transition_tests(model, tr)
    assert not _family_failures(trans, ALPHA / len(NAMES))
    best = max(trans, key=lambda t: t.observed.sum())
    d = int(best.label.split()[1])
    A = model.avail[d].shape[1]
    s = int(best.label.split("[state ")[1].split("]")[0])
    a = model.actions[model.dec_actor[d]].index(best.label.rsplit(", ", 1)[1])
    lo, hi = model.row_ptr[d][s * A + a], model.row_ptr[d][s * A + a + 1]
    prob = [p.copy() for p in model.prob]
    i, j = lo + int(np.argmax(prob[d][lo:hi])), lo + int(np.argmin(prob[d][lo:hi]))
    prob[d][i] -= 0.05
    prob[d][j] += 0.05
    perturbed = replace(model, prob=tuple(prob))
    trans, _exact = transition_tests(perturbed, tr)
    failures = _family_failures(trans, ALPHA / len(NAMES))
    assert len(failures) == 1 and failures[0].startswith(best.label), failures


def test_a_policy_solved_for_another_game_is_caught() -> None:
    """The simulator plays the policy solved with both actors' precision λ doubled, against the
    model's strategies at λ: the choice tests reject it, the transition tests do not (the rules
    are the same)."""
    case = _case(BROKEN)
    scenario = _load(BROKEN)
    model, sol, _sim, _tr = _played(BROKEN)
    other = scenario.with_overrides({f"actors.{a}.lam": 2 * scenario.actor(a).lam.value for a in model.actors})
    _other_model, other_sol = solve_model(other, case.grid)
    tr = trace(model, simulate_solution(scenario, other_sol, case.runs, case.seed, solved=other))
    assert not tr.problems
    trans, _exact = transition_tests(model, tr)
    assert not _family_failures(trans, ALPHA / len(NAMES))
    assert _family_failures(strategy_tests(model, sol, tr), ALPHA / len(NAMES))
