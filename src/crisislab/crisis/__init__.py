"""The crisis engine: a scenario compiled to a finite Markov game and solved stage by stage.

**Model.** Moves are sequential within a round in the scenario's `order`; strategic actors choose,
environment actors are chance. Actions are public and types independent, so with a common prior
the belief about strategic actor j's type given the public history is public. A two-type actor's
belief is one coordinate x_j = P(j is of its *first* listed type), represented at G nodes in
[0, 1] (`BeliefGrid`, `_belief.py`: by default Chebyshev–Lobatto nodes, dense near 0 and 1, with
every prior coordinate made a node, values read between nodes by the shape-preserving cubic;
`grid=G` is the dense uniform G-point grid with linear values, the reference; `grid="adapt:G"`
is the same lattice with the priors inserted, of which each state solves only the nodes its
strategies and values need, reading the others from the corners of the lattice box that holds
them, `_kernels._adaptive`). One-type actors
have grid size 1; more than two types is rejected for now.
The Markov state at a decision is (round, slot in `order`, public state s, belief node b): s holds
the scenario's state variables, one status per red line (0 inactive, 1 pending, 2 answered,
3 failed) and one counter per red line (own moves left to answer while pending).

Values `W_i(d, s, b, τ)` are actor i's expected discounted continuation given the full type
profile τ. Mover m of type θ at (d, s, b) has
`Q(a|θ) = Σ_{τ: τ_m=θ} Π_{j≠m} P_b(τ_j) · [r_i(a) + Σ_{s'} P(s'|s,a) δ_d W_m(d+1, s', b'(a), τ)]`
where b'(a) replaces x_m by Bayes(x_m, σ(a|·)) and W is interpolated along the mover's axis
(linearly, or by the shape-preserving cubic); σ(a|θ) ∝ exp(λ_m δ^(r-1) Q(a|θ)) over the available actions, Q being in round-r units: the
precision applies to payoffs discounted to round 1, as in the agent QRE of the unrolled tree. σ and the posteriors it induces are a
fixed point per node, solved by damped iteration along a λ schedule 0 → λ_m (principal branch),
for all nodes of a decision in one compiled kernel. Per node: a fast path iterates at the full λ
from the uniform profile and is kept when it converges without damping; otherwise Newton's method
(analytic Jacobian: Q of an action depends on σ only through that action's posterior) from that
point; if it fails, the λ schedule with adaptive damping, then a long fixed-damping run. Residuals above
1e-6 are reported in `Solution.diagnostics`. States whose futures are identical (same actions,
same distribution over next classes, same payoffs) are lumped exactly into one solver row. Payoff timing (round r counts δ^(r-1)): an
action's cost and expected casualty payoffs when it is taken; audience cost (× scale) when a red
line fails; flow payoffs at the end of each round the game is still running; terminal payoffs
when an outcome ends the game (checked after every move, list order) or at the horizon.
Red lines: after the owner's move, a pending red line is answered if the chosen action's rung is
≥ answer_rung, else its counter drops and at 0 it fails; then any inactive red line whose
condition holds becomes pending with counter = deadline. Errors with `becomes` replace the whole
act (that action's effects and consequences, then the error's effects and casualties);
attribution chooses between the act's `effects` and `unattributed_effects`; other consequences
apply in list order after the effects.

**Hypergame.** For each strategic actor h the perceived game uses h's view of the others'
terminal payoffs (a game per distinct view; correct perception shares the true game) and h's
priors as the starting belief node (about itself: the true prior). The policy of a game does not
depend on the starting node, so priors only change `Solution.mu0`.

**Public interface** (for the simulator and the CLI)::

    model = crisislab.model.lower(scenario)      # Model (resolved numbers, indices; crisislab.model)
    cg = compile_model(model)                    # CompiledGame: states, decisions, sparse tables
    sol = solve(cg)                              # Solution (frozen); grid=51: the dense reference; hypergame=False: true game only
    d = cg.decision_index(round_, slot)          # decision of a strategic slot in a round
    s = cg.lookup(d, states)                     # (N, n_columns) int states -> (N,) local index, -1 unreachable
    p = sol.strategy(perceiver, d, s, x)         # x (N, n_actors) belief coords -> (N, K_m, A_m)
    sol.save(dir); Solution.load(dir)            # solution.npz + solution.json

`unroll_efg(cg, ...)` builds the exact extensive-form game of a short horizon (types dealt by
chance, information sets = own type and public history) for checking against the exact engine.
"""

from __future__ import annotations

from crisislab.crisis._compile import CompiledGame, compile_model
from crisislab.crisis._solution import Solution, belief_corners
from crisislab.crisis._belief import LOG_ZERO, BeliefGrid, chebyshev_nodes, log_table
from crisislab.crisis._kernels import SELECTION_MODES
from crisislab.crisis._solve import AUTO_CHEB, AUTO_NODES, MAX_GRID, StageStats, auto_grid, grid_nodes, parse_grid, resolve_grid, solve, solve_estimate
from crisislab.crisis._variants import compile_variant, policy_unchanged
from crisislab.model import lower

__all__ = [
    "AUTO_CHEB",
    "SELECTION_MODES",
    "LOG_ZERO",
    "AUTO_NODES",
    "BeliefGrid",
    "chebyshev_nodes",
    "MAX_GRID",
    "compile_variant",
    "policy_unchanged",
    "CompiledGame",
    "Solution",
    "StageStats",
    "auto_grid",
    "belief_corners",
    "compile_model",
    "compile_scenario",
    "grid_nodes",
    "log_table",
    "parse_grid",
    "resolve_grid",
    "solve",
    "solve_estimate",
    "solve_scenario",
    "unroll_scenario",
]


def compile_scenario(scenario, horizon: int | None = None) -> CompiledGame:
    """Compile a checked `crisislab.scenario.Scenario`, optionally truncated to `horizon` rounds."""
    model = lower(scenario)
    if horizon is not None:
        model = model.with_horizon(horizon)
    return compile_model(model)


def solve_scenario(scenario, *, horizon: int | None = None, grid: int | str = "auto", **kwargs) -> Solution:
    """Solve a scenario (`crisislab.solve`): every actor's perceived game as an agent logit QRE.

    The scenario is lowered (`crisislab.model.lower`), compiled to a Markov game over (round,
    public state, belief node, own type) and solved stage by stage from the last round back.
    `horizon`: truncate to this many rounds (default: the scenario's). `grid`: the belief
    representation, as `crisislab solve --grid`: "auto" (`auto_grid`: Chebyshev nodes holding
    the priors, shape-preserving cubic values), an integer G (the dense uniform G-point grid), a
    spec "adapt:N[:TOL]" / "cheb:N" / "cheb-linear:N" / "uniform-pchip:N", or a `BeliefGrid`. Other keywords as `crisislab.crisis.solve`:
    `lam_steps` (8), `selection` ("continuation"), `threads` (every core), `max_gib` (8.0),
    `hypergame` (True), `keep_values` (False). Returns a frozen `Solution` (strategy tables, values at the start,
    diagnostics); `crisislab.simulation` accepts it.
    """
    return solve(compile_scenario(scenario, horizon), grid=grid, **kwargs)


def unroll_scenario(scenario, horizon: int, *, scale_lam: bool = False):
    """The exact extensive-form game of `scenario` truncated to `horizon` rounds (`Unrolled`: its
    `game` is a `crisislab.efg.Game`, written with `crisislab.efg.write_efg`).

    Types are dealt by chance, information sets are (own type, public history). `scale_lam`:
    multiply each actor's payoffs by λ_i / max λ, so that the tree solved at max λ is the agent
    QRE with each actor's own precision. Keep `horizon` short: the tree grows exponentially.
    """
    import numpy as np

    from crisislab.crisis._unroll import unroll

    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        from crisislab.errors import SolverError

        raise SolverError(f"horizon: expected an integer ≥ 1 (got {horizon!r})")
    cg = compile_scenario(scenario, min(horizon, scenario.horizon))
    lam = np.array(cg.model.lam, dtype=float)
    scale = lam / lam.max() if scale_lam and lam.max() > 0 else None
    return unroll(cg, scale=scale)
