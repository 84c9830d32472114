"""The agent-based peer: the same crisis model and policies as `crisislab.simulation`, written in Mesa.

One Mesa `Model` per run; one `Agent` per slot of the move order (strategic actors and environment
actors); `Model.step()` is one round in which every agent moves in order until an outcome ends the
run. Agents read the same `crisislab.model.Model` (conditions, effects, chance consequences, red lines)
and ask the same `Policy` for their strategy at their single node, as an agent-based model would,
and draw their randomness from the model's seeded `random.Random`. It is written for clarity, the
way such a model is usually written, and is the baseline the vectorized simulator is measured
against; its outcome distribution must match within sampling error (checked in bench_simulate).
"""

from __future__ import annotations

import bisect

import mesa
import numpy as np

from crisislab.model import Effect, Model
from crisislab.model.rules import (
    OP_AND,
    OP_NOT,
    OP_OR,
    OP_RL,
    OP_ROUND,
    OP_VAR,
    RL_ANSWERED,
    RL_FAILED,
    RL_INACTIVE,
    RL_PENDING,
)
from crisislab.simulation._policy import Node, Policy

__all__ = ["CrisisRun", "run_mesa"]

_CMP = (
    lambda x, y: x == y,
    lambda x, y: x != y,
    lambda x, y: x < y,
    lambda x, y: x <= y,
    lambda x, y: x > y,
    lambda x, y: x >= y,
)
_PROGRAMS: dict[int, tuple[object, list[tuple[int, int, int, int]]]] = {}


def holds(cond, state: list[int], round_: int, rl_status: list[int]) -> bool:
    """A condition program evaluated on one run's plain-Python state, as an agent would."""
    hit = _PROGRAMS.get(id(cond))
    if hit is None or hit[0] is not cond:
        hit = (cond, [tuple(int(x) for x in row) for row in cond.code.tolist()])
        _PROGRAMS[id(cond)] = hit
    stack: list[bool] = []
    for op, a, b, c in hit[1]:
        if op == OP_VAR:
            stack.append(_CMP[b](state[a], c))
        elif op == OP_ROUND:
            stack.append(_CMP[b](round_, c))
        elif op == OP_RL:
            stack.append(rl_status[a] == c)
        elif op == OP_AND:
            vals = stack[len(stack) - a :]
            del stack[len(stack) - a :]
            stack.append(all(vals))
        elif op == OP_OR:
            vals = stack[len(stack) - a :]
            del stack[len(stack) - a :]
            stack.append(any(vals))
        elif op == OP_NOT:
            stack.append(not stack.pop())
        else:
            stack.append(True)
    return stack[-1]


class MoverAgent(mesa.Agent):
    """One actor of the move order; `slot` is its place in `spec.movers`."""

    def __init__(self, model: CrisisRun, slot: int):
        super().__init__(model)
        self.slot = slot
        self.mover = model.spec.movers[slot]

    def step(self) -> None:
        model: CrisisRun = self.model  # type: ignore[assignment]
        if model.ended:
            return
        model.run_steps += 1
        if self.mover.strategic >= 0:
            g = self._choose()
        else:
            g = self._environment()
        if g >= 0:
            model.execute(g, 0)
        model.after_move()

    def _node(self, game: int) -> Node:
        m: CrisisRun = self.model  # type: ignore[assignment]
        return Node(
            round=m.round,
            move=self.slot,
            state=np.array([m.state], dtype=np.int64),
            rl_status=np.array([m.rl_status], dtype=np.int8),
            rl_left=np.array([m.rl_left], dtype=np.int64),
            beliefs=np.array([m.beliefs[game]]),
        )

    def _choose(self) -> int:
        m: CrisisRun = self.model  # type: ignore[assignment]
        spec, j = m.spec, self.mover.strategic
        actor = spec.actors[j]
        sigma = m.policy.strategy(actor, actor, self._node(j))[0, m.types[j]]
        probs = []
        default = 0
        for a_local, g in enumerate(self.mover.actions):
            act = spec.actions[g]
            if act.default:
                default = a_local
            ok = act.available is None or holds(act.available, m.state, m.round, m.rl_status)
            probs.append(float(sigma[a_local]) if ok else 0.0)
        total = sum(probs)
        if total <= 0:
            chosen = default
        else:
            u = m.random.random() * total
            acc, chosen = 0.0, len(probs) - 1
            for i, p in enumerate(probs):
                acc += p
                if u < acc:
                    chosen = i
                    break
        # Each holder updates its belief about this actor with its own game's strategy.
        sl = spec.belief_slices[j]
        for h in range(len(spec.actors)):
            sig_h = m.policy.strategy(spec.actors[h], actor, self._node(h))[0]
            b = m.beliefs[h]
            post = [b[sl.start + t] * sig_h[t, chosen] for t in range(sl.stop - sl.start)]
            tot = sum(post)
            if tot > 1e-300:
                for t, v in enumerate(post):
                    b[sl.start + t] = v / tot
        # Red lines owned by the mover.
        for k, rl in enumerate(spec.red_lines):
            if rl.owner != j or m.rl_status[k] != RL_PENDING:
                continue
            if self.mover.rungs[chosen] >= rl.answer_rung:
                m.rl_status[k] = RL_ANSWERED
            else:
                m.rl_left[k] -= 1
                if m.rl_left[k] <= 0:
                    m.rl_status[k] = RL_FAILED
                    m.audience[j] += float(rl.audience_cost[m.types[j]])
        return int(self.mover.actions[chosen])

    def _environment(self) -> int:
        m: CrisisRun = self.model  # type: ignore[assignment]
        for rule in self.mover.env_rules:
            if rule.when is None or holds(rule.when, m.state, m.round, m.rl_status):
                p = rule.table[m.state[rule.by] - m.spec.lo[rule.by]] if rule.table is not None else rule.p
                return rule.action if m.random.random() < p else -1
        return -1


class CrisisRun(mesa.Model):
    """One run of the crisis."""

    def __init__(self, spec: Model, policy: Policy, seed: int):
        super().__init__(seed=seed)
        self.spec, self.policy = spec, policy
        self.types = []
        for prior in spec.true_prior:
            u, acc, t = self.random.random(), 0.0, len(prior) - 1
            for i, p in enumerate(prior):
                acc += p
                if u < acc:
                    t = i
                    break
            self.types.append(t)
        self.state = [int(x) for x in spec.initial]
        self.rl_status = [RL_INACTIVE] * len(spec.red_lines)
        self.rl_left = [0] * len(spec.red_lines)
        self.beliefs = [list(map(float, b)) for b in spec.initial_beliefs]
        self.casualties = [0] * len(spec.sides)
        self.audience = [0.0] * len(spec.actors)
        self.round = 0
        self.ended = False
        self.outcome = spec.horizon_outcome
        self.end_round = spec.horizon
        self.run_steps = 0
        self.movers = [MoverAgent(self, i) for i in range(len(spec.movers))]

    def step(self) -> None:
        self.round += 1
        for agent in self.movers:
            agent.step()
        if self.round >= self.spec.horizon:
            self.ended = True

    def _apply(self, eff: Effect) -> None:
        for v in range(len(self.state)):
            x = int(eff.set_value[v]) if eff.set_mask[v] else self.state[v] + int(eff.add[v])
            self.state[v] = min(max(x, int(self.spec.lo[v])), int(self.spec.hi[v]))

    def _casualties(self, cas) -> None:
        if cas.cdf.size <= 1:
            return
        k = min(bisect.bisect_right(cas.cdf.tolist(), self.random.random()), cas.cdf.size - 1)
        self.casualties[cas.side] += k
        if cas.into >= 0:
            self.state[cas.into] = min(self.state[cas.into] + k, int(self.spec.hi[cas.into]))

    def execute(self, g: int, depth: int) -> None:
        act = self.spec.actions[g]
        for _, err in act.becomes_errors:
            if depth < 8 and self.random.random() < err.probability:
                self.execute(err.becomes, depth + 1)
                self._apply(err.effect)
                for cas in err.casualties:
                    self._casualties(cas)
                return
        if act.attribution is not None and self.random.random() >= act.attribution:
            if act.unattributed is not None:
                self._apply(act.unattributed)
        else:
            self._apply(act.effect)
        for _, item in act.other_consequences:
            if hasattr(item, "cdf"):
                self._casualties(item)
            elif self.random.random() < item.probability:
                self._apply(item.effect)
                for cas in item.casualties:
                    self._casualties(cas)

    def after_move(self) -> None:
        spec = self.spec
        for k, rl in enumerate(spec.red_lines):
            if self.rl_status[k] == RL_INACTIVE and holds(rl.crossed, self.state, self.round, self.rl_status):
                self.rl_status[k] = RL_PENDING
                self.rl_left[k] = rl.deadline
        for o, cond in enumerate(spec.outcome_conds):
            if cond is not None and holds(cond, self.state, self.round, self.rl_status):
                self.outcome, self.end_round, self.ended = o, self.round, True
                return


def run_mesa(spec: Model, policy: Policy, runs: int, seed: int) -> tuple[np.ndarray, int]:
    """Outcome index per run (int64 `(runs,)`) and the number of run-steps, one Mesa model per run."""
    out = np.empty(runs, dtype=np.int64)
    steps = 0
    for i in range(runs):
        model = CrisisRun(spec, policy, seed=seed * 1_000_003 + i)
        while not model.ended:
            model.step()
        out[i] = model.outcome
        steps += model.run_steps
    return out, steps

