"""Compilation of a crisis into a finite Markov game: reachable public states and sparse transitions.

A *decision* is one strategic slot of the move order in one round (`n_decisions = horizon × J`,
J = strategic actors in `order`). Everything that happens between two decisions — the mover's
action with its chance consequences, the environment actors' moves, red-line bookkeeping (with
`on_answer` effects), outcome checks (an action's `ends` first), the round's flow payoffs and the
horizon — is folded into one sparse table per decision:
for each reachable state s and available action a, a list of branches (next state at the next
decision, or an outcome that ends the game), each with its probability and the *conditional
expected* payoff accrued on the way (per actor and own type, in units of the decision's round).
Conditional expectations are enough: logit strategies and values depend on payoffs only through
expectations given the public history. Reachable states are enumerated forward from the initial
state; expansions are cached per (slot, state, action) so compiling is nearly independent of the
horizon when no condition looks at the round number.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import crisislab.model as model_pkg

from crisislab import _progress
from crisislab._cache import cache_root, open_private, private_dirs, remove_stale_tmp, warn_once, write_atomic
from crisislab.errors import SolverError
from crisislab.model import CasualtyTable, ErrorEvent, Model, canonical_bytes, compare, state_test
from crisislab.model.rules import MAX_BECOMES_DEPTH, RL_ANSWERED, RL_FAILED, RL_INACTIVE, RL_PENDING

__all__ = ["CompiledGame", "compile_model", "perceived_games"]

# Casualty counts below this probability are dropped from the branches (their mass is tiny).
_TAIL_EPS = 1e-14


@dataclass(frozen=True, eq=False)
class CompiledGame:
    """A crisis compiled to a finite Markov game (read-only arrays).

    Public state: int64 vectors with columns `columns` = the scenario's state variables, then one
    red-line status per red line (codes 0 inactive, 1 pending, 2 answered, 3 failed), then one
    counter per red line (own moves left to answer; 0 unless pending).

    Decisions `d = 0 .. n_decisions-1` in play order; decision d is slot `dec_slot[d]` of `order`
    in round `dec_round[d]` (1-based), mover `dec_mover[d]` (strategic actor index).

    Per decision d (tuples indexed by d), with S_d reachable states and A = actions of the mover:
      - `dec_states[d]`: int64 `(S_d,)` global row of `states` (sorted by `dec_keys[d]`).
      - `dec_keys[d]`: int64 `(S_d,)` sorted state keys (see `encode`), for lookups.
      - `avail[d]`: bool `(S_d, A)` available actions (the default action when nothing else is).
      - `row_ptr[d]`: int64 `(S_d*A + 1,)` CSR pointers of row `s*A + a` into the branch arrays.
      - `nxt[d]`: int64 `(nnz,)` local state index at decision d+1, or `-1 - o` for outcome o.
      - `prob[d]`: float64 `(nnz,)` branch probability (each available row sums to 1).
      - `reward[d]`: float64 `(nnz, n_actors, k_max)` conditional expected payoff on the branch,
        in units of round `dec_round[d]`, per actor and own type.
      - `exp_reward[d]`: float64 `(S_d, A, n_actors, k_max)` Σ prob × reward.
      - `tdisc[d]`: float64 `(nnz,)` on an outcome branch, the (probability-averaged) discount
        factor its terminal payoff carries (so perceived terminal payoffs can be swapped in).
    `disc[d]`: discount applied to values at decision d+1 (δ when it is in the next round, else 1).
    `init_nxt`, `init_prob`, `init_reward`: the chance segment before decision 0 (round 1), same
    layout as one row; `init_reward` is in round-1 units. `model`: the crisis compiled (its
    `terminal` payoffs are the ones in the rewards).
    """

    model: Model
    columns: tuple[str, ...]
    states: np.ndarray
    radix: np.ndarray
    offset: np.ndarray
    dec_round: np.ndarray
    dec_slot: np.ndarray
    dec_mover: np.ndarray
    dec_states: tuple[np.ndarray, ...]
    dec_keys: tuple[np.ndarray, ...]
    avail: tuple[np.ndarray, ...]
    row_ptr: tuple[np.ndarray, ...]
    nxt: tuple[np.ndarray, ...]
    prob: tuple[np.ndarray, ...]
    reward: tuple[np.ndarray, ...]
    exp_reward: tuple[np.ndarray, ...]
    tdisc: tuple[np.ndarray, ...]
    disc: np.ndarray
    init_nxt: np.ndarray
    init_prob: np.ndarray
    init_reward: np.ndarray
    outcomes: tuple[str, ...]

    @property
    def n_decisions(self) -> int:
        return len(self.dec_states)

    @property
    def n_actors(self) -> int:
        return self.model.n_actors

    @property
    def k_max(self) -> int:
        return self.model.k_max

    @property
    def n_types(self) -> np.ndarray:
        """int64 `(n_actors,)` number of types per strategic actor."""
        return self.model.n_types

    @property
    def prior(self) -> np.ndarray:
        """float64 `(n_actors, k_max)` true prior (zero-padded)."""
        return self.model.prior

    def with_terminal(self, terminal: np.ndarray) -> CompiledGame:
        """The same game with terminal payoffs `terminal` (float64 `(n_outcomes, n_actors, k_max)`)
        instead of the model's: outcome branches' rewards are shifted by tdisc × the difference."""
        terminal = np.asarray(terminal, dtype=np.float64)
        delta = terminal - np.asarray(self.model.terminal)
        if not delta.any():
            return self
        rewards, exps = [], []
        for d in range(self.n_decisions):
            nxt = self.nxt[d]
            out = self.reward[d].copy()
            term = nxt < 0
            out[term] += self.tdisc[d][term, None, None] * delta[-1 - nxt[term]]
            S, A = self.avail[d].shape
            rowid = np.repeat(np.arange(S * A), np.diff(self.row_ptr[d]))
            exp = np.zeros((S * A, *out.shape[1:]))
            np.add.at(exp, rowid, self.prob[d][:, None, None] * out)
            for arr in (out, exp):
                arr.setflags(write=False)
            rewards.append(out)
            exps.append(exp.reshape(S, A, *out.shape[1:]))
        return dataclasses.replace(self, model=self.model.with_terminal(terminal), reward=tuple(rewards), exp_reward=tuple(exps))

    def n_states(self, d: int) -> int:
        return int(self.dec_states[d].shape[0])

    def decision_index(self, round_: int, slot: int) -> int:
        """Decision index of slot `slot` of `order` in round `round_` (1-based); -1 if not strategic."""
        hits = np.nonzero((self.dec_round == round_) & (self.dec_slot == slot))[0]
        return int(hits[0]) if hits.size else -1

    def encode(self, states: np.ndarray) -> np.ndarray:
        """int64 `(N,)` keys of states `(N, n_columns)`; red-line counters count only while pending."""
        st = np.asarray(states, dtype=np.int64).copy()
        n_vars = self.model.n_vars
        n_rl = len(self.model.red_lines)
        if n_rl:
            status = st[:, n_vars : n_vars + n_rl]
            st[:, n_vars + n_rl :] = np.where(status == RL_PENDING, st[:, n_vars + n_rl :], 0)
        return ((st - self.offset) * self.radix).sum(axis=1)

    def lookup(self, d: int, states: np.ndarray) -> np.ndarray:
        """int64 `(N,)` local indices at decision d of states `(N, n_columns)`; -1 if unreachable."""
        keys = self.encode(states)
        table = self.dec_keys[d]
        pos = np.searchsorted(table, keys)
        pos_c = np.minimum(pos, max(table.shape[0] - 1, 0))
        ok = (table.shape[0] > 0) & (table[pos_c] == keys)
        return np.where(ok, pos_c, -1)

    def node_counts(self) -> np.ndarray:
        """int64 `(n_decisions,)` reachable states per decision."""
        return np.array([s.shape[0] for s in self.dec_states], dtype=np.int64)


class _Compiler:
    """Forward enumeration with caches; per-state Python is fine here (compile once, solve often)."""

    def __init__(self, model: Model, reuse: bool = True):
        self.model = model
        self.reuse = reuse
        self.n_vars = model.n_vars
        self.n_rl = len(model.red_lines)
        self.n = model.n_actors
        self.k = model.k_max
        self.lo = [int(v) for v in model.lo]
        self.hi = [int(v) for v in model.hi]
        for a, types in zip(model.actors, model.types, strict=True):
            if len(types) > 2:
                raise SolverError(
                    f"actors.{a}.types: the crisis engine supports at most 2 types per strategic "
                    f"actor (got {len(types)}: {list(types)}); merge types or split the actor (a scenario "
                    f"file with more is refused when it is loaded)"
                )
        self.horizon_outcome = model.horizon_outcome
        self.slots = [m for m, mv in enumerate(model.movers) if mv.strategic >= 0]
        if not self.slots:
            raise SolverError("order: no strategic actor moves; there is nothing to solve")
        self.round_tests = self._round_tests()
        self._sig_cache: dict = {}
        self.terminal = np.asarray(model.terminal, dtype=np.float64).reshape(len(model.outcomes), self.n * self.k)
        self._pmf_cache: dict = {}
        self._exec_cache: dict = {}
        self._tail_cache: dict = {}
        self._env_cache: dict = {}
        self._move_cache: dict = {}
        self.zero = np.zeros(self.n * self.k)
        # casualty payoff per death, per side: vector (n*k,)
        self.per_death: dict[int, np.ndarray] = {}
        for cp in model.casualty_pays:
            vec = self.per_death.setdefault(cp.side, np.zeros(self.n * self.k))
            vec[cp.actor * self.k : cp.actor * self.k + cp.per_death.size] += cp.per_death
        # Conditions, effects and cost vectors prepared once: they are read at every (state, action).
        nv = self.n_vars

        def test(c):
            return state_test(c, nv)

        self.available = [test(a.available) for a in model.actions]
        self.env_rules = [[(test(r.when), r) for r in mv.env_rules] for mv in model.movers]
        self.crossed = [test(r.crossed) for r in model.red_lines]
        self.ends = [(o, test(c)) for o, c in enumerate(model.outcome_conds) if o != model.horizon_outcome and c is not None]
        # Expected payoff of each outcome's casualties (mean deaths × payoff per death), per actor
        # and own type: float64 `(n_outcomes, n·k)`, added on the branches that end in the outcome
        # beside (not inside) the terminal payoff, so perceived terminal payoffs still swap in.
        self.outcome_cas = np.zeros((len(model.outcomes), self.n * self.k))
        for o in range(len(model.outcomes)):
            for c in model.casualties_of(o):
                self.outcome_cas[o] += c.mean * self.per_death.get(c.side, self.zero)
        self.on_answer = [r.on_answer.touched() if r.on_answer is not None else () for r in model.red_lines]
        self.flows = [(f, test(f.when)) for f in model.flows]
        self.cost = [a.cost if a.cost.size else None for a in model.actions]
        self.audience = [r.audience_cost for r in model.red_lines]
        self.effect = [a.effect.touched() for a in model.actions]
        self.unattributed = [a.unattributed.touched() if a.unattributed is not None else () for a in model.actions]
        self._flow_cache: dict = {}
        self._book_cache: dict = {}

    def _round_tests(self) -> tuple:
        """Every distinct (comparison, value) round test in the model's conditions."""
        m = self.model
        conds = [a.available for a in m.actions]
        conds += [r.when for mv in m.movers for r in mv.env_rules]
        conds += [r.crossed for r in m.red_lines]
        conds += list(m.outcome_conds)
        conds += [f.when for f in m.flows]
        tests: set = set()
        for c in conds:
            if c is not None:
                tests.update(c.round_tests())
        return tuple(sorted(tests))

    def round_signature(self, round_: int) -> tuple:
        sig = self._sig_cache.get(round_)
        if sig is None:
            sig = self._sig_cache[round_] = self._round_signature(round_)
        return sig

    def _round_signature(self, round_: int) -> tuple:
        """Truth values of every round test, and with calendar phases the discount into the next
        round: rounds with equal signatures behave identically, so expansions are cached per
        signature rather than per round."""
        sig = tuple(compare(op, round_, v) for op, v in self.round_tests)
        if self.model.round_discount is not None:
            sig += (self.model.discount_after(round_),)
        return sig

    # ----- primitive state operations -----
    def apply(self, state: tuple, touched: tuple) -> tuple:
        """`state` after an effect given as `Effect.touched()` (composed per variable, clipped once)."""
        if not touched:
            return state
        st = list(state)
        for col, is_set, value in touched:
            v = value if is_set else st[col] + value
            st[col] = min(max(v, self.lo[col]), self.hi[col])
        return tuple(st)

    def pmf(self, mean: float, dispersion: float | None, room: int) -> np.ndarray:
        """P(count = j) for j < room and P(count >= room) last: float64 `(room + 1,)`."""
        key = (mean, dispersion, room)
        out = self._pmf_cache.get(key)
        if out is None:
            from scipy import stats  # here, not at import: ~0.6 s that a disk-cache hit never needs

            j = np.arange(room)
            if dispersion is None:
                body = stats.poisson.pmf(j, mean)
            else:
                body = stats.nbinom.pmf(j, dispersion, dispersion / (dispersion + mean))
            out = np.append(body, max(0.0, 1.0 - body.sum()))
            self._pmf_cache[key] = out
        return out

    @staticmethod
    def merge(branches) -> list:
        """Merge (p, state, p·reward) branches with equal state; drop zero mass."""
        if len(branches) == 1:
            p, s, pr = branches[0]
            return [] if p <= 0.0 else [(p, s, pr.copy())]
        acc: dict = {}
        for p, s, pr in branches:
            if p <= 0.0:
                continue
            hit = acc.get(s)
            if hit is None:
                acc[s] = [p, pr.copy()]
            else:
                hit[0] += p
                hit[1] += pr
        return [(v[0], s, v[1]) for s, v in acc.items()]

    # ----- action execution: effects and chance consequences -----
    def consequences(self, items, state: tuple) -> list:
        """Branches of the casualty tables and errors (without `becomes`) `items`, in order."""
        branches = [(1.0, state, self.zero)]
        for c in items:
            new = []
            if isinstance(c, CasualtyTable):
                cas = c.mean * self.per_death.get(c.side, self.zero)
                for p, s, pr in branches:
                    pr2 = pr + p * cas
                    if c.into < 0 or c.mean <= 0:
                        new.append((p, s, pr2))
                        continue
                    room = self.hi[c.into] - s[c.into]
                    if room <= 0:
                        new.append((p, s, pr2))
                        continue
                    for j, q in enumerate(self.pmf(c.mean, c.dispersion, room)):
                        if q > _TAIL_EPS:
                            st = list(s)
                            st[c.into] += j
                            new.append((p * q, tuple(st), pr2 * q))
            elif isinstance(c, ErrorEvent):
                pe = c.probability
                for p, s, pr in branches:
                    new.append((p * (1 - pe), s, pr * (1 - pe)))
                    if pe > 0:
                        s2 = self.apply(s, c.effect.touched())
                        for q, s3, qr in self.consequences(c.casualties, s2):
                            new.append((p * pe * q, s3, pr * pe * q + p * pe * qr))
            else:
                continue
            branches = self.merge(new)
        return branches

    @staticmethod
    def merge_ends(branches) -> list:
        """Merge (p, state, p·reward, end) branches with equal state and end; drop zero mass."""
        acc: dict = {}
        for p, s, pr, e in branches:
            if p <= 0.0:
                continue
            hit = acc.get((s, e))
            if hit is None:
                acc[(s, e)] = [p, pr.copy()]
            else:
                hit[0] += p
                hit[1] += pr
        return [(v[0], s, v[1], e) for (s, e), v in acc.items()]

    def execute(self, x: int, state: tuple, depth: int = 0) -> list:
        """Branches (p, state, p·reward, end) of executing global action x (effects + consequences);
        `end` is the executed action's `ends` outcome (-1: none): an error's `becomes` replaces it."""
        key = (x, state)
        hit = self._exec_cache.get(key)
        if hit is not None:
            return hit
        if depth > MAX_BECOMES_DEPTH:
            raise SolverError(
                f"actions.{self.model.actions[x].id}.consequences: `becomes` chains are longer than "
                f"{MAX_BECOMES_DEPTH} (a cycle?); make error events end in an action without `becomes`"
            )
        act = self.model.actions[x]
        end = act.ends
        if not act.has_consequences:  # the common case: one certain branch (what the loop below gives)
            out = [(1.0, self.apply(state, self.effect[x]), self.zero.copy(), end)]
            self._exec_cache[key] = out
            return out
        out = []
        rest = 1.0
        for _ci, c in act.becomes_errors:
            p = rest * c.probability
            if p > 0:
                for q, s2, qr, e2 in self.execute(c.becomes, state, depth + 1):
                    s3 = self.apply(s2, c.effect.touched())
                    for q2, s4, q2r in self.consequences(c.casualties, s3):
                        out.append((p * q * q2, s4, p * (qr * q2 + q * q2r), e2))
            rest *= 1 - c.probability
        if rest > 0:
            if act.attribution is None:
                starts = [(1.0, self.apply(state, self.effect[x]))]
            else:
                starts = [
                    (act.attribution, self.apply(state, self.effect[x])),
                    (1 - act.attribution, self.apply(state, self.unattributed[x])),
                ]
            others = tuple(c for _ci, c in act.other_consequences)
            for q, s2 in starts:
                if q <= 0:
                    continue
                for q2, s3, q2r in self.consequences(others, s2):
                    out.append((rest * q * q2, s3, rest * q * q2r, end))
        out = self.merge_ends(out)
        self._exec_cache[key] = out
        return out

    def move(self, x: int, mover: int, state: tuple, round_: int) -> tuple[list, dict]:
        """One move: execute global action x chosen by strategic actor `mover` (-1 = environment).

        Returns (alive branches [(p, state, p·reward)], terminal {outcome: [p, p·reward]}),
        masses summing to 1, rewards in units of the current round.
        """
        key = (x, mover, state, self.round_signature(round_))
        hit = self._move_cache.get(key)
        if hit is not None:
            return hit
        act = self.model.actions[x]
        k = self.k
        cost = self.cost[x] if mover >= 0 else None
        alive, term = [], {}
        for p, s, pr, end in self.execute(x, state):
            s2, ended, failed = self.bookkeeping(mover, act.rung, s, round_)
            if end >= 0:  # the executed action ends the crisis, whatever outcome condition holds
                ended = end
            if cost is not None or failed:
                pr = pr.copy()  # the executed branch is cached: add to a copy
                if cost is not None:
                    pr[mover * k : mover * k + len(cost)] += p * cost
                for owner, aud in failed:
                    pr[owner * k : owner * k + len(aud)] += p * aud
            if ended >= 0:
                hit = term.setdefault(ended, [0.0, np.zeros(self.n * k), 0.0])
                hit[0] += p
                hit[1] += pr + p * (self.terminal[ended] + self.outcome_cas[ended])
                hit[2] += p
            else:
                alive.append((p, s2, pr))
        hit = (self.merge(alive), {o: (v[0], v[1], v[2]) for o, v in term.items()})
        self._move_cache[key] = hit
        return hit

    def bookkeeping(self, mover: int, rung: int, state: tuple, round_: int) -> tuple:
        """Red lines and outcome checks after a move of rung `rung` by `mover` led to `state`:
        (new state, outcome index that ends the game or -1, ((owner, audience cost), ...) of the
        red lines that failed). Cached: many actions and states lead to the same state."""
        key = (mover, rung, state, self.round_signature(round_))
        hit = self._book_cache.get(key)
        if hit is not None:
            return hit
        nv, nr = self.n_vars, self.n_rl
        st = list(state)
        failed = []
        for r, rl in enumerate(self.model.red_lines):
            if mover == rl.owner and st[nv + r] == RL_PENDING:
                if rung >= rl.answer_rung:
                    st[nv + r], st[nv + nr + r] = RL_ANSWERED, 0
                    if self.on_answer[r]:  # the answer's own effects, after the act's
                        st[:nv] = self.apply(tuple(st[:nv]), self.on_answer[r])
                else:
                    st[nv + nr + r] -= 1
                    if st[nv + nr + r] <= 0:
                        st[nv + r], st[nv + nr + r] = RL_FAILED, 0
                        failed.append((rl.owner, self.audience[r]))
        for r, crossed in enumerate(self.crossed):
            if st[nv + r] == RL_INACTIVE and crossed(tuple(st), round_):
                st[nv + r], st[nv + nr + r] = RL_PENDING, self.model.red_lines[r].deadline
        s2 = tuple(st)
        ended = -1
        for o, holds in self.ends:
            if holds(s2, round_):
                ended = o
                break
        hit = self._book_cache[key] = (s2, ended, tuple(failed))
        return hit

    def flow(self, state: tuple, round_: int) -> np.ndarray:
        """Flow payoffs of one round at `state`: float64 `(n·k,)` (cached; do not modify)."""
        key = (state, self.round_signature(round_))
        out = self._flow_cache.get(key)
        if out is None:
            out = np.zeros(self.n * self.k)
            for f, holds in self.flows:
                if holds(state, round_):
                    out[f.actor * self.k : f.actor * self.k + f.value.size] += f.value
            self._flow_cache[key] = out
        return out

    def segment(self, slot: int, round_: int, branches: list, term: dict) -> tuple[list, dict, int, int, float]:
        """Run chance from after `slot` in `round_` to the next strategic slot (or the horizon).

        Returns (alive branches at the next decision, terminal masses, next round, next slot,
        discount factor of the next decision relative to `round_`).
        """
        model = self.model
        movers = model.movers
        f = 1.0
        pos = slot + 1
        t = round_
        while True:
            if pos == len(movers):
                for i, (p, s, pr) in enumerate(branches):
                    branches[i] = (p, s, pr + p * f * self.flow(s, t))
                if t >= model.horizon:
                    h = self.horizon_outcome
                    for p, s, pr in branches:
                        hit = term.setdefault(h, [0.0, np.zeros(self.n * self.k), 0.0])
                        hit[0] += p
                        hit[1] += pr + p * f * (self.terminal[h] + self.outcome_cas[h])
                        hit[2] += p * f
                    return [], term, -1, -1, f
                t += 1
                pos = 0
                f *= model.discount_after(t - 1)
            if movers[pos].strategic >= 0:
                return self.merge(branches), term, t, pos, f
            new = []
            for p, s, pr in branches:
                alive, t_env = self.env_step(pos, s, t)
                for p2, s2, pr2 in alive:
                    new.append((p * p2, s2, pr * p2 + p * f * pr2))
                for o, (p2, pr2, pf2) in t_env.items():
                    hit = term.setdefault(o, [0.0, np.zeros(self.n * self.k), 0.0])
                    hit[0] += p * p2
                    hit[1] += pr * p2 + p * f * pr2
                    hit[2] += p * f * pf2
            branches = self.merge(new)
            pos += 1

    def env_step(self, e: int, state: tuple, round_: int) -> tuple[list, dict]:
        """The environment actor of slot e moves at `state` (unit mass): (alive branches, terminal masses)."""
        key = (e, state, self.round_signature(round_))
        hit = self._env_cache.get(key)
        if hit is not None:
            return hit
        rule = next((r for holds, r in self.env_rules[e] if holds(state, round_)), None)
        q = 0.0
        if rule is not None:
            q = float(rule.table[state[rule.by] - self.lo[rule.by]]) if rule.by >= 0 else rule.p
        alive, term = [], {}
        if q < 1.0:
            alive.append((1.0 - q, state, self.zero))
        if q > 0.0:
            a2, t2 = self.move(rule.action, -1, state, round_)
            alive.extend((q * p2, s2, q * pr2) for p2, s2, pr2 in a2)
            term = {o: (q * p2, q * pr2, q * pf2) for o, (p2, pr2, pf2) in t2.items()}
        hit = (self.merge(alive), term)
        self._env_cache[key] = hit
        return hit

    def time_key(self, slot: int, round_: int) -> tuple:
        """What a decision's expansion depends on besides slot, state and action: the round
        signature of this round and, after the round's last strategic slot (whose chance segment
        runs into the next round or the horizon), the next round's and whether this is the last
        round. Before that slot chance never leaves the round, so the last round's first movers
        reuse the expansions of earlier rounds."""
        if self.reuse and slot != self.slots[-1]:
            return (self.round_signature(round_),)
        return (self.round_signature(round_), self.round_signature(round_ + 1), round_ >= self.model.horizon)

    def decision(self, slot: int, round_: int, mover: int, x: int, state: tuple, tkey: tuple):
        """Mover's action x at `state` followed by chance up to the next decision (unit mass):
        (alive branches, terminal {outcome: [p, p·reward, p·discount]}, next round, next slot,
        discount factor). Not cached: the caller caches whole states (`state_rows`)."""
        alive, term = self.move(x, mover, state, round_)
        term = {o: [p, pr.copy(), pf] for o, (p, pr, pf) in term.items()}
        out: list = []
        t_next, pos_next, f = -1, -1, 1.0
        for p, s2, pr in alive:
            a2, t2, t_next, pos_next, f = self.tail(slot, s2, round_, tkey)
            for q, s3, qr in a2:
                out.append((p * q, s3, pr * q + p * qr))
            for o, (q, qr, qf) in t2.items():
                h = term.setdefault(o, [0.0, np.zeros(self.n * self.k), 0.0])
                h[0] += p * q
                h[1] += pr * q + p * qr
                h[2] += p * qf
        if len(alive) == 1:
            # one post-move state: the tail's states are distinct already, so merging would only
            # drop zero mass (and copy fresh arrays)
            return [b for b in out if not b[0] <= 0.0], term, t_next, pos_next, f
        return self.merge(out), term, t_next, pos_next, f

    def tail(self, slot: int, state: tuple, round_: int, tkey: tuple):
        """The chance segment after `slot` from one state (unit mass), cached: many actions and
        states lead to the same post-move state, and the environment's expansion is the costly part."""
        key = (slot, state, tkey)
        hit = self._tail_cache.get(key)
        if hit is None:
            hit = self.segment(slot, round_, [(1.0, state, self.zero)], {})
            self._tail_cache[key] = hit
        return hit


def _radix(model: Model) -> tuple[np.ndarray, np.ndarray]:
    sizes = [int(hi) - int(lo) + 1 for lo, hi in zip(model.lo, model.hi, strict=True)]
    sizes += [4] * len(model.red_lines)
    sizes += [max(r.deadline, 0) + 1 for r in model.red_lines]
    offset = [int(lo) for lo in model.lo] + [0] * (2 * len(model.red_lines))
    radix = np.ones(len(sizes), dtype=np.int64)
    for i in range(len(sizes) - 2, -1, -1):
        radix[i] = radix[i + 1] * sizes[i + 1]
    if float(np.prod(np.asarray(sizes, dtype=np.float64))) > 2**62:
        raise SolverError("state: the product of the state variables' ranges is too large to index (> 2^62)")
    return radix, np.asarray(offset, dtype=np.int64)


# The sources that define a compiled game: this compiler and the whole model package (the lowering
# and the model's semantics), so an edited compiler or lowering never reads a stale cache entry.
_SOURCES = (Path(__file__).resolve(), *sorted(Path(model_pkg.__file__).resolve().parent.glob("*.py")))

# The compile cache's entries: `compiled/<scenario id>-<key>.cg`, one file each:
#   _MAGIC | sha256 of the rest (32 bytes) | header length (uint64 LE) | JSON header | arrays.
# The header (JSON) holds the full key (what the entry was built from), the string fields and, per
# array, its dtype, shape and offset; the arrays follow, zero-padded to multiples of 64 bytes. Only
# data: nothing in an entry is executed or unpickled when it is read, and its checksum is verified
# before anything in it is interpreted.
_MAGIC = b"crisislab-cg\x00v1\n"
_ALIGN = 64
_DTYPES = frozenset({"<i8", "<f8", "|b1", "<i4", "<f4", "|i1", "|u1", "<i2"})
_EXT = ".cg"
_STRINGS = ("columns", "outcomes")  # CompiledGame's fields that are tuples of strings (the rest: arrays)


def _cache_key(model: Model) -> str:
    """sha256 of what a compiled game is built from: the model's canonical bytes (every resolved
    number of the scenario), the source of the modules that define compilation (`_SOURCES`) and
    numpy's version."""
    h = hashlib.sha256(canonical_bytes(model))
    for src in _SOURCES:
        h.update(src.name.encode())
        h.update(src.read_bytes())
    h.update(np.__version__.encode())
    return h.hexdigest()


def _cache_path(model: Model, key: str | None = None) -> Path | None:
    """File of the compile cache for `model`, or None when caching is off (CRISISLAB_NO_CACHE=1)."""
    if os.environ.get("CRISISLAB_NO_CACHE"):
        return None
    key = key if key is not None else _cache_key(model)
    safe_id = "".join(c if c.isalnum() or c in "-_" else "_" for c in model.scenario_id[:40])
    return cache_root() / "compiled" / f"{safe_id}-{key[:32]}{_EXT}"


def compile_model(model: Model) -> CompiledGame:
    """Enumerate reachable public states forward and build the sparse per-decision tables.

    Compiling the flagship takes ~2 s of Python, so results are cached on disk (`_cache_path`;
    ~/.cache/crisislab/compiled, or $CRISISLAB_CACHE_DIR; off with CRISISLAB_NO_CACHE=1). An entry
    is used only when its checksum, its key and its owner and mode check out (see `crisislab._cache`);
    otherwise it is compiled afresh with one `CacheWarning`. A cache that cannot be written is ignored.
    """
    try:
        key = _cache_key(model)
        path = _cache_path(model, key)
    except (OSError, TypeError):
        path = None
    if path is not None:
        why = private_dirs(path.parent.parent, path.parent)
        if why is not None:
            warn_once(f"dir:{path.parent}", f"compile cache not used: {why}")
            path = None
    if path is not None:
        cg = _load_entry(path, key, model)
        if cg is not None:
            return cg
    with _progress.phase(f"compiling {model.scenario_id} (decisions)") as ph:
        cg = _compile_uncached(model, progress=ph)
    if path is not None:
        try:
            write_atomic(path, _entry_chunks(cg, key))
        except (OSError, TypeError):  # a full disk, a read-only cache, an array the format cannot hold
            pass
        _prune(path.parent, keep=path)
    return cg


def _entry_chunks(cg: CompiledGame, key: str):
    """The bytes of `cg`'s cache entry (see `_MAGIC`), in pieces (the arrays are not copied)."""
    strings: dict = {}
    tuples: dict = {}
    arrays: list = []
    offset = 0
    for f in dataclasses.fields(cg):
        if f.name == "model":
            continue
        v = getattr(cg, f.name)
        if f.name in _STRINGS:
            strings[f.name] = [str(x) for x in v]
            continue
        items = v if isinstance(v, tuple) else (v,)
        if isinstance(v, tuple):
            tuples[f.name] = len(v)
        for i, a in enumerate(items):
            a = np.ascontiguousarray(a)
            if a.dtype.str not in _DTYPES:
                raise TypeError(f"compile cache: cannot store dtype {a.dtype.str} ({f.name})")
            name = f"{f.name}/{i}" if isinstance(v, tuple) else f.name
            arrays.append((name, a, offset))
            offset += -(-a.nbytes // _ALIGN) * _ALIGN
    header = json.dumps(
        {"key": key, "strings": strings, "tuples": tuples,
         "arrays": [[n, a.dtype.str, list(a.shape), off] for n, a, off in arrays], "size": offset},
        separators=(",", ":"),
    ).encode()
    head = len(header).to_bytes(8, "little") + header
    head += b"\0" * (-len(head) % _ALIGN)
    pieces = [head]
    end = 0
    for _, a, off in arrays:
        if off > end:
            pieces.append(b"\0" * (off - end))
        pieces.append(memoryview(a.reshape(-1).view(np.uint8)))
        end = off + a.nbytes
    if offset > end:
        pieces.append(b"\0" * (offset - end))
    digest = hashlib.sha256()
    for p in pieces:
        digest.update(p)
    return [_MAGIC, digest.digest(), *pieces]


def _load_entry(path: Path, key: str, model: Model) -> CompiledGame | None:
    """The compiled game in the cache entry `path` built from `key`, around the caller's `model`
    (equal to the one it was compiled from: the key covers its canonical bytes); None when there
    is none. An entry that does not check out is removed and reported once (`CacheWarning`)."""
    fh, size = open_private(path)
    if fh is None:
        if size != "missing":
            warn_once(f"entry:{path}", f"compile cache entry {path.name} not used: {size}; compiling afresh")
            _remove_if_ours(path)
        return None
    try:
        with fh:
            buf = np.empty(size, dtype=np.uint8)
            got = fh.readinto(memoryview(buf)) if size else 0
            while got < size:
                n = fh.readinto(memoryview(buf)[got:])
                if not n:
                    break
                got += n
        cg = _parse_entry(buf[:got], key, model)
    except Exception as e:  # noqa: BLE001 - whatever is wrong with an entry, it is compiled afresh
        why = str(e) if isinstance(e, _BadEntry) else f"unreadable ({type(e).__name__})"
        warn_once(f"entry:{path}", f"compile cache entry {path.name} not used: {why}; compiling afresh")
        _remove_if_ours(path)
        return None
    try:
        os.utime(path)  # recently used: pruning removes the least recently used first
    except OSError:
        pass
    return cg


class _BadEntry(ValueError):
    """What is wrong with a cache entry."""


def _remove_if_ours(path: Path) -> None:
    try:
        if not hasattr(os, "getuid") or path.lstat().st_uid == os.getuid():
            path.unlink()
    except OSError:
        pass


def _parse_entry(buf: np.ndarray, key: str, model: Model) -> CompiledGame:
    """Check and read one cache entry (bytes `buf`, uint8); raises `_BadEntry` saying what is wrong."""
    n_magic = len(_MAGIC)
    if buf.size < n_magic + 40 or buf[:n_magic].tobytes() != _MAGIC:
        raise _BadEntry("not a compiled-game entry of this version")
    body = memoryview(buf)[n_magic + 32 :]
    if hashlib.sha256(body).digest() != buf[n_magic : n_magic + 32].tobytes():
        raise _BadEntry("checksum mismatch (truncated or corrupt)")
    start = n_magic + 32
    n_head = int.from_bytes(buf[start : start + 8].tobytes(), "little")
    if n_head > buf.size - start - 8:
        raise _BadEntry("header longer than the entry")
    head = json.loads(buf[start + 8 : start + 8 + n_head].tobytes().decode("utf-8"))
    if not isinstance(head, dict) or head.get("key") != key:
        raise _BadEntry("built from other inputs (key mismatch)")
    base = start + 8 + n_head
    base += -(8 + n_head) % _ALIGN
    if base + head["size"] != buf.size:
        raise _BadEntry("size mismatch")
    payload = buf[base:]
    payload.setflags(write=False)
    arrays: dict = {}
    for name, dtype, shape, off in head["arrays"]:
        if dtype not in _DTYPES or not all(isinstance(s, int) and s >= 0 for s in shape) or off % _ALIGN:
            raise _BadEntry(f"bad array description {name!r}")
        dt = np.dtype(dtype)
        nbytes = math.prod(shape) * dt.itemsize
        if off < 0 or off + nbytes > payload.size:
            raise _BadEntry(f"array {name!r} outside the entry")
        arrays[name] = payload[off : off + nbytes].view(dt).reshape(shape)
    fields: dict = {"model": model}
    for f in dataclasses.fields(CompiledGame):
        if f.name == "model":
            continue
        if f.name in _STRINGS:
            fields[f.name] = tuple(str(s) for s in head["strings"][f.name])
        elif f.name in head["tuples"]:
            fields[f.name] = tuple(arrays.pop(f"{f.name}/{i}") for i in range(int(head["tuples"][f.name])))
        else:
            fields[f.name] = arrays.pop(f.name)
    if arrays:
        raise _BadEntry(f"unexpected arrays {sorted(arrays)[:3]}")
    return CompiledGame(**fields)


def _prune(directory: Path, keep: Path) -> None:
    """Keep the compile cache under its budget (CRISISLAB_CACHE_GIB, default 2 GiB; a flagship
    entry is ~110 MB and every robustness draw that changes a probability adds one) by deleting
    the least recently used entries; also remove temporary files of interrupted writes and
    entries in the format of earlier versions (`*.pkl`, never read)."""
    try:
        budget = float(os.environ.get("CRISISLAB_CACHE_GIB", "2")) * 2**30
    except ValueError:
        budget = 2.0 * 2**30
    remove_stale_tmp(directory)
    uid = os.getuid() if hasattr(os, "getuid") else None
    entries = []
    for pattern in (f"*{_EXT}", "*.pkl"):
        for f in directory.glob(pattern):
            try:
                st = f.lstat()
            except OSError:  # removed by a parallel writer
                continue
            if uid is not None and st.st_uid != uid:
                continue
            if pattern == "*.pkl":
                try:
                    f.unlink()
                except OSError:
                    pass
                continue
            entries.append((st.st_mtime, st.st_size, f))
    total = sum(e[1] for e in entries)
    for _mtime, size, f in sorted(entries, key=lambda e: e[0]):
        if total <= budget:
            break
        if f == keep:
            continue
        try:
            f.unlink()
            total -= size
        except OSError:
            pass


def _compile_uncached(model: Model, reuse: bool = True, progress: Any = None) -> CompiledGame:
    """`compile_model` without the disk cache. `reuse=False` (tests) turns off the reuse of whole
    decisions and of earlier rounds' expansions in the last round: the plain reference path.
    `progress`: a `crisislab._progress.Phase` advanced once per decision compiled."""
    # Compiling allocates ~10^6 small tuples and arrays that form no reference cycles; the cyclic
    # garbage collector would rescan the growing caches over and over (~20% of the time).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _compile_tables(model, reuse, progress)
    finally:
        if gc_was_enabled:
            gc.enable()


def _compile_tables(model: Model, reuse: bool, progress: Any = None) -> CompiledGame:
    comp = _Compiler(model, reuse)
    n, k = comp.n, comp.k
    radix, offset = _radix(model)
    columns = tuple(model.var_ids)
    columns += tuple(f"red_line:{r.id}:status" for r in model.red_lines)
    columns += tuple(f"red_line:{r.id}:left" for r in model.red_lines)
    n_cols = len(columns)
    n_rl = len(model.red_lines)
    initial = tuple(int(v) for v in model.initial) + (RL_INACTIVE,) * n_rl + (0,) * n_rl
    if len(initial) != n_cols:
        raise SolverError("internal: state width mismatch")

    slots = comp.slots
    J = len(slots)
    n_dec = model.horizon * J
    dec_round = np.repeat(np.arange(1, model.horizon + 1), J)
    dec_slot = np.tile(np.asarray(slots, dtype=np.int64), model.horizon)
    dec_mover = np.array([model.movers[s].strategic for s in dec_slot], dtype=np.int64)
    # Each strategic actor's ladder (global action indices, in its local order) and default action.
    ladders = [[int(x) for x in model.ladder(j)] for j in range(n)]
    defaults = [[model.actions[x].default for x in ladder].index(True) for ladder in ladders]

    key_cache: dict = {}
    off_l, rad_l = offset.tolist(), radix.tolist()

    def key_of(s: tuple) -> int:
        key = key_cache.get(s)
        if key is None:
            key = key_cache[s] = int(sum((v - o) * r for v, o, r in zip(s, off_l, rad_l, strict=True)))
        return key

    # initial chance segment (environment actors before the first strategic slot of round 1)
    alive0, term0, t0, pos0, _f0 = comp.segment(-1, 1, [(1.0, initial, comp.zero)], {})
    if pos0 != slots[0] or t0 != 1:
        raise SolverError("internal: initial segment did not reach the first strategic slot")
    if term0:
        raise SolverError(
            "outcomes: an outcome already holds before the first strategic move; check the initial state"
        )

    all_states: dict[tuple, int] = {}
    current = sorted({s for _, s, _ in alive0}, key=key_of)
    local = {s: i for i, s in enumerate(current)}
    init_nxt = np.array([local[s] for _, s, _ in alive0], dtype=np.int64)
    init_prob = np.array([p for p, _, _ in alive0])
    init_reward = np.array([pr / p for p, _, pr in alive0]).reshape(-1, n, k)

    dec_states, dec_keys, avails, row_ptrs, nxts, probs, rewards, exps, tdiscs = [], [], [], [], [], [], [], [], []
    disc = np.ones(n_dec)
    nk = n * k
    def assemble(d: int, A: int, current: list, rows: list) -> tuple:
        """One decision's tables from its states' packed rows (`state_rows`), in state order."""
        S = len(current)
        next_set: set = set()
        f_next = None
        for r in rows:
            next_set.update(r[6])
            if r[7] is not None:
                f_next = r[7]
        nxt_states = sorted(next_set, key=key_of)
        next_keys = np.array([key_of(s2) for s2 in nxt_states], dtype=np.int64)
        avail = np.array([r[0] for r in rows], dtype=bool).reshape(S, A)
        counts = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, np.int64)
        row_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        tgt = np.concatenate([r[2] for r in rows]) if rows else np.zeros(0, np.int64)
        prob = np.concatenate([r[3] for r in rows]) if rows else np.zeros(0)
        reward = (np.concatenate([r[4] for r in rows]) if rows else np.zeros((0, nk))).reshape(-1, n, k)
        tdisc = np.concatenate([r[5] for r in rows]) if rows else np.zeros(0)
        alive_mask = tgt >= 0
        nxt = tgt.copy()
        nxt[alive_mask] = np.searchsorted(next_keys, tgt[alive_mask])
        rowid = np.repeat(np.arange(S * A), counts)
        exp = np.zeros((S * A, n, k))
        np.add.at(exp, rowid, prob[:, None, None] * reward)
        sums = np.bincount(rowid, weights=prob, minlength=S * A)
        bad = avail.reshape(-1) & (np.abs(sums - 1.0) > 1e-9)
        if bad.any():
            raise SolverError(f"internal: transition probabilities at decision {d} do not sum to 1")
        keys = np.array([key_of(s) for s in current], dtype=np.int64)
        exp = exp.reshape(S, A, n, k)
        for arr in (keys, avail, row_ptr, prob, reward, nxt, exp, tdisc):
            arr.setflags(write=False)
        return keys, avail, row_ptr, nxt, prob, reward, exp, tdisc, f_next, nxt_states

    state_cache: dict = {}

    def state_rows(slot: int, t: int, m: int, s: tuple):
        """All rows of one state at a decision, packed: available actions (bool `(A,)`), branches
        per action (int64 `(A,)`), then the concatenated branches of its rows — targets (state key
        ≥ 0, or -1 - outcome), probabilities, conditional rewards `(m, n·k)`, terminal discount
        factors — the next states (to register them) and the next decision's discount factor.
        Cached per (slot, state, round signature) so later rounds cost one lookup per state."""
        tkey = comp.time_key(slot, t)
        key = (slot, s, tkey)
        hit = state_cache.get(key)
        if hit is not None:
            return hit
        ladder = ladders[m]
        row = [comp.available[x](s, t) for x in ladder]
        if not any(row):
            row[defaults[m]] = True
        row = np.array(row, dtype=bool)
        counts = np.zeros(len(ladder), dtype=np.int64)
        tgt: list = []
        pb: list = []
        rw: list = []
        td: list = []
        s_next: set = set()
        f_s = None
        for ai, x in enumerate(ladder):
            if not row[ai]:
                continue
            alive, term, _t2, _p2, f = comp.decision(slot, t, m, x, s, tkey)
            for p, s2, pr in alive:
                tgt.append(key_of(s2))
                pb.append(p)
                rw.append(pr)
                s_next.add(s2)
            td.extend([p for p, _, _ in alive])  # divided by p below: 1.0 exactly
            n_term = 0
            for o in sorted(term):
                p, pr, pf = term[o]
                if p > 0:
                    tgt.append(-1 - o)
                    pb.append(p)
                    rw.append(pr)
                    td.append(pf)
                    n_term += 1
            counts[ai] = len(alive) + n_term
            if alive:
                f_s = f
        # one division per state instead of per branch (elementwise: the same numbers)
        pb_arr = np.asarray(pb, dtype=np.float64)
        hit = state_cache[key] = (
            row, counts, np.asarray(tgt, dtype=np.int64), pb_arr,
            np.asarray(rw, dtype=np.float64).reshape(-1, nk) / pb_arr[:, None],
            np.asarray(td, dtype=np.float64) / pb_arr,
            s_next, f_s,
        )
        return hit

    # A decision whose state set and round signatures equal an earlier one's of the same slot has
    # the same tables (the flagship settles into two alternating sets after ~6 rounds): reuse them.
    dec_memo: dict = {}
    if progress is not None:
        progress.add(n_dec)
    for d in range(n_dec):
        t, slot, m = int(dec_round[d]), int(dec_slot[d]), int(dec_mover[d])
        tkey = comp.time_key(slot, t)
        memo_key = (slot, tkey, tuple(current))
        hit = dec_memo.get(memo_key) if reuse else None
        if hit is None:
            A = len(ladders[m])
            hit = dec_memo[memo_key] = assemble(d, A, current, [state_rows(slot, t, m, s) for s in current])
        (keys, avail, row_ptr, nxt, prob, reward, exp, tdisc, f_next, nxt_states) = hit
        if nxt_states and d == n_dec - 1:
            raise SolverError("internal: states continue past the horizon")
        for s in current:
            if s not in all_states:
                all_states[s] = len(all_states)
        rows_d = np.array([all_states[s] for s in current], dtype=np.int64)
        rows_d.setflags(write=False)  # read-only like every other table (the class says so)
        dec_states.append(rows_d)
        dec_keys.append(keys)
        if f_next is not None:
            disc[d] = f_next
        avails.append(avail)
        row_ptrs.append(row_ptr)
        nxts.append(nxt)
        probs.append(prob)
        rewards.append(reward)
        tdiscs.append(tdisc)
        exps.append(exp)
        current = nxt_states
        if progress is not None:
            progress.advance()


    states = np.array(list(all_states.keys()), dtype=np.int64).reshape(-1, n_cols)
    for arr in (states, dec_round, dec_slot, dec_mover, disc, init_nxt, init_prob, init_reward, radix, offset):
        arr.setflags(write=False)
    return CompiledGame(
        model=model,
        columns=columns,
        states=states,
        radix=radix,
        offset=offset,
        dec_round=dec_round,
        dec_slot=dec_slot,
        dec_mover=dec_mover,
        dec_states=tuple(dec_states),
        dec_keys=tuple(dec_keys),
        avail=tuple(avails),
        row_ptr=tuple(row_ptrs),
        nxt=tuple(nxts),
        prob=tuple(probs),
        reward=tuple(rewards),
        exp_reward=tuple(exps),
        tdisc=tuple(tdiscs),
        disc=disc,
        init_nxt=init_nxt,
        init_prob=init_prob,
        init_reward=init_reward,
        outcomes=tuple(model.outcomes),
    )


def perceived_games(cg: CompiledGame, hypergame: bool) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Distinct terminal-payoff views (one perceived game each), each perceiver's game and priors."""
    model, n = cg.model, cg.n_actors
    games: list[np.ndarray] = []
    game_of = np.zeros(n, dtype=np.int64)
    mu0 = np.zeros((n, n))
    for h in range(n):
        model_h, prior_h = model.perceived(h) if hypergame else (model, cg.prior)
        mu0[h] = prior_h[:, 0]
        hit = next((i for i, t in enumerate(games) if np.array_equal(t, model_h.terminal)), None)
        if hit is None:
            games.append(np.asarray(model_h.terminal))
            hit = len(games) - 1
        game_of[h] = hit
    return games, game_of, mu0
