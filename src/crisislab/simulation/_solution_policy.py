"""Adapter from the crisis engine's `Solution` to the simulator's `Policy`.

The crisis engine indexes a decision by (round, slot of `order`), a public state by its row in the
compiled state table (`compiled.lookup` of the columns: state variables, red-line statuses, red-line
counters — the simulator's `Node` in the same order), and beliefs by one coordinate per actor (the
probability of its first type). The simulator's belief vectors hold full distributions per actor,
so the coordinate is the first entry of each segment. Both read one `crisislab.model.Model`, so a
strategy's action axis is the mover's local action index in either.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crisislab.crisis import LOG_ZERO, Solution, log_table, policy_unchanged
from crisislab.errors import UserError
from crisislab.model import lower
from crisislab.simulation._policy import Node, PolicyTable

__all__ = ["SolutionPolicy", "as_policy"]


def as_policy(policy: Any, scenario: Any, grid: int | str = "auto", readout: str = "table",
              selection: str = "continuation") -> Any:
    """The simulator's `Policy` for `scenario` from what `crisislab.solve(scenario)` returns (a
    crisis-engine `Solution`, wrapped in a `SolutionPolicy` that reads its strategies by `readout`),
    from a `Policy` itself, or by name as the command line's `--policy`: "crisis" (solved here on
    `grid` with `selection`, keeping its values when `readout` is "resolve") or "myopic"; `selection`
    applies only to a policy solved here."""
    _check_readout(readout)
    if policy == "crisis":
        from crisislab.crisis import solve_scenario

        sol = solve_scenario(scenario, grid=grid, keep_values=readout == "resolve", selection=selection)
        return SolutionPolicy(sol, scenario, readout)
    if selection != "continuation":
        raise UserError(f"selection {selection!r}: only a policy solved here ('crisis') takes a selection; "
                        "solve with crisislab.solve(..., selection=...) and pass the solution instead")
    if readout != "table":
        if isinstance(policy, SolutionPolicy):
            return policy if policy.readout == readout else SolutionPolicy(policy.solution, scenario, readout)
        if not isinstance(policy, Solution):
            raise UserError(f"readout {readout!r}: only a crisis solution's strategies can be re-solved at a belief "
                            f"(policy {policy!r} is not one); use the default readout 'table'")
    if policy == "myopic":
        from crisislab.simulation._myopic import MyopicLogitPolicy

        return MyopicLogitPolicy(scenario)
    if isinstance(policy, Solution):
        return SolutionPolicy(policy, scenario, readout)
    if callable(getattr(policy, "strategy", None)) and callable(getattr(policy, "same_game", None)):
        return policy
    raise UserError(
        "policy: expected what crisislab.solve(scenario) returns, a Policy such as FixedPolicy, or 'crisis' "
        f"or 'myopic' (got {policy!r})"
    )


READOUTS = ("table", "resolve")


def _check_readout(readout: str) -> None:
    if readout not in READOUTS:
        raise UserError(f"readout: expected one of {', '.join(READOUTS)} (got {readout!r})")


class SolutionPolicy:
    """`Policy` view of a `crisislab.crisis.Solution` for the scenario it was solved from.

    `readout`: how strategies are read between belief nodes (`Solution.strategy`): "table"
    interpolates the node strategies (the compiled kernel plays it); "resolve" solves each
    move's stage game at the run's beliefs from the solution's kept values (solved with
    `keep_values=True`; the reference engine plays it, one stage solve per move and perceived game).
    """

    def __init__(self, solution: Any, scenario: Any, readout: str = "table"):
        _check_readout(readout)
        if readout == "resolve" and solution.values is None:
            raise UserError("readout 'resolve': the solution holds no continuation values; solve with "
                            "keep_values=True (crisislab.solve(scenario, keep_values=True))")
        self.solution = solution
        self.readout = readout
        selection = solution.params.get("selection", "continuation")
        self.description = f"crisis engine: agent logit QRE on a {solution.belief_grid.label()}" + (
            ", strategies re-solved at each belief" if readout == "resolve" else "") + (
            "" if selection == "continuation" else f", stage fixed points selected by {selection}")
        cg = solution.compiled
        # Strategies are indexed by the model's local action index: the scenario simulated must
        # have the solved model's movers and ladders (the same lowering gives both).
        ladders = tuple((who, tuple(a.id for a in scenario.actions_of(who))) for who in scenario.order)
        _check_ladders(cg.model, ladders)
        # The strategies are those of the solved parameters: a scenario that differs beyond its
        # priors (which the strategies take as inputs) needs its own solve.
        if not policy_unchanged(cg.model, lower(scenario)):
            raise UserError(
                f"policy: this solution of {cg.model.scenario_id} was solved for other parameters, another horizon "
                "or another structure than the scenario simulated (they may differ in priors only); solve the "
                "scenario simulated: crisislab.solve(scenario)"
            )
        self._first = np.array([sl.start for sl in cg.model.belief_slices], dtype=np.int64)
        self.unreachable = 0  # nodes the engine did not enumerate (played uniformly; see strategy)
        self._table: SolutionTable | None = None

    @property
    def diagnostics(self) -> tuple[str, ...]:
        """The solver's diagnostics (`Solution.diagnostics`: priors that are not belief nodes, stage
        fixed points that did not converge), for commands and reports that hold the policy."""
        return tuple(self.solution.diagnostics)

    @property
    def kernel_table(self):
        """The compiled kernel's table maker, or None for cubic logit strategies (their 4^n-node
        stencil is not in the kernel: the reference engine plays them through `strategy`)."""
        if self.solution.belief_grid.strategies == "logit-cubic" or self.readout == "resolve":
            return None
        return self._kernel_table

    def _kernel_table(self, spec) -> SolutionTable:
        if self._table is None:
            self._table = SolutionTable(self, spec)
        return self._table

    def same_game(self, holder_a: str, holder_b: str) -> bool:
        return self.solution.game_index(holder_a) == self.solution.game_index(holder_b)

    def strategy(self, game: str, mover: str, node: Node) -> np.ndarray:
        cg = self.solution.compiled
        d = cg.decision_index(node.round, node.move)
        if d < 0:
            raise UserError(f"no decision of {mover} at round {node.round}, slot {node.move} in the solved game")
        cols = np.concatenate([node.state, node.rl_status.astype(np.int64), node.rl_left], axis=1)
        s = cg.lookup(d, cols)
        x = node.beliefs[:, self._first]
        n = cols.shape[0]
        j = cg.model.actors.index(mover)
        a, k = int(cg.model.ladder(j).size), len(cg.model.types[j])
        out = np.full((n, k, a), 1.0 / a)
        ok = s >= 0
        if ok.any():
            out[ok] = self.solution.strategy(game, d, s[ok], x[ok], readout=self.readout)
        # A state the engine never reached (it should not happen: both follow the same rules)
        # is played uniformly and counted, so that a mismatch shows instead of crashing a run.
        self.unreachable += int((~ok).sum())
        return out


def _ladders(model: Any) -> tuple:
    return tuple((mv.id, tuple(model.actions[x].id for x in mv.actions)) for mv in model.movers)


def _check_ladders(solved: Any, ladders: tuple) -> None:
    """UserError unless `ladders` ((mover id, action ids), in move order) are the solved model's."""
    if _ladders(solved) != ladders:
        raise UserError(
            f"the crisis solution of {solved.scenario_id} does not fit the scenario simulated: its move order "
            f"and ladders differ (solved {_ladders(solved)}; simulated {ladders}); solve the scenario simulated"
        )


class SolutionTable(PolicyTable):
    """The `Solution`'s strategy arrays laid out for the compiled kernel.

    Public states: the union of the compiled game's per-decision keys (`CompiledGame.dec_keys`,
    same `encode`). Blocks: one per (game, decision, class of states with identical futures,
    `Solution.class_of`), stored as the solver stores them (float32: the kernel widens each value
    exactly, so results equal `Solution.strategy`'s float64 arithmetic; with "logit" strategies
    the float32 log-probabilities `Solution.strategy` interpolates, `logit` True); a row's block is its
    state's class. Belief nodes and interpolation as `Solution.strategy`. A state the engine did
    not enumerate is played uniformly and counted in `SolutionPolicy.unreachable`, as in
    `SolutionPolicy.strategy`.
    """

    keyed = True
    miss_mode = 0

    def __init__(self, policy: SolutionPolicy, spec):
        sol = policy.solution
        cg = sol.compiled
        _check_ladders(cg.model, _ladders(spec))
        self._policy = policy
        self._cg = cg
        n_dec = cg.n_decisions
        k_max = max(len(t) for t in spec.types)
        a_max = max([m.actions.size for m in spec.movers] + [1])
        dec_keys = [np.asarray(k, np.int64) for k in cg.dec_keys]
        self.state_keys = np.unique(np.concatenate(dec_keys + [np.zeros(0, np.int64)]))
        if self.state_keys.size == 0:
            self.state_keys = np.full(1, -1, np.int64)
        self.n_dec = n_dec
        B = int(np.prod(sol.grid_sizes))
        n_games = len(sol.sigma)
        class_of = getattr(sol, "class_of", None)
        n_blocks = sum(int(sol.sigma[g][d].shape[0]) for g in range(n_games) for d in range(n_dec))
        dtype = np.result_type(*[sol.sigma[g][d].dtype for g in range(n_games) for d in range(n_dec)])
        # "logit" strategies: the table holds log-probabilities (padding: probability 0).
        self.logit = sol.belief_grid.strategies == "logit"
        self.sigma = np.full((max(n_blocks, 1), B, k_max, a_max), LOG_ZERO if self.logit else 0.0, dtype)
        self.block = np.full((n_games, self.state_keys.size * n_dec), -1, np.int64)
        base = 0
        for g in range(n_games):
            for d in range(n_dec):
                t = sol.sigma[g][d]
                if self.logit:  # log-probabilities, as `Solution.strategy` interpolates them
                    t = log_table(t)
                self.sigma[base : base + t.shape[0], :, : t.shape[2], : t.shape[3]] = t
                # dec_keys[d] is sorted and the solver's state rows follow the same order.
                s = np.searchsorted(self.state_keys, dec_keys[d])
                cls = np.asarray(class_of[g][d], np.int64) if class_of is not None else np.arange(s.size)
                self.block[g, s * n_dec + d] = base + cls
                base += t.shape[0]
        self.radix = np.asarray(cg.radix, np.int64)
        self.offset = np.asarray(cg.offset, np.int64)
        self.grid_points = len(sol.grid)
        # Nodes that are not the uniform grid (the default representation) go to the kernel as they are.
        grid = np.asarray(sol.grid, np.float64)
        self.grid_x = None if np.array_equal(grid, np.linspace(0.0, 1.0, grid.size)) else grid
        self.grid_sizes = np.asarray(sol.grid_sizes, np.int64)
        self.holder_game = np.array([sol.game_index(a) for a in spec.actors], np.int64)

    def decisions(self, spec) -> np.ndarray:
        dec = np.full((spec.horizon + 1, len(spec.movers)), -1, np.int64)
        for r in range(1, spec.horizon + 1):
            for m, mv in enumerate(spec.movers):
                if mv.strategic >= 0:
                    d = self._cg.decision_index(r, m)
                    if d < 0:
                        raise UserError(f"no decision of {mv.id} at round {r}, slot {m} in the solved game")
                    dec[r, m] = d
        return dec

    def note_fallbacks(self, count: int) -> None:
        self._policy.unreachable += int(count)
