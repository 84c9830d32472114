"""The exact likelihood of an observed record: a forward (filtering) pass over hidden configurations.

The model's play is a Markov chain on (public state, red-line statuses and counters, every
holder's belief vector) with the actors' true types hidden. A *configuration* is one value of that
public part; the filter carries a finite set of them, each with its probability mass jointly with
every type profile (float64 `(n_configs, n_profiles)`). Each move of the record is one step:

1. the mover's strategy (strategic actor: the solved policy in its own perceived game, masked by
   availability exactly as the simulator does; environment actor: the first matching rule) gives
   the probability of each move the record allows (all of them when the mover is not observed);
2. each holder's belief about a strategic mover is updated by Bayes' rule with the mover's
   strategy as that holder's game has it; the mover's red lines are answered or run down;
3. the move executes with every chance branch enumerated in the simulator's order (errors with
   `becomes`, attribution, casualty tables, errors without `becomes`): a branch the record observes
   (deaths in a column, attribution, an error) is kept only when it matches and carries its
   probability; a branch it does not observe is summed over (a casualty count matters to the
   future only through the variable it feeds, so counts are lumped by their effect on it); then
   the effects (`on_answer`) of the red lines the move answered apply;
4. red lines are crossed, and configurations where the executed action `ends` the crisis or an
   outcome holds leave the filter: their mass is the probability that the model ends the crisis
   at that move, given the record so far (deaths an outcome carries are not part of a record);
5. configurations that became identical are merged (their masses add).

The record's likelihood is the mass that survives every move; the per-move factors are its
sequential decomposition, `log L = Σ log P(move's observations, no end | record before it)`. No
sampling is involved: on small games the result equals the brute-force sum over every hidden path
(tests/analysis/test_likelihood.py). The same expansion run forward with a random choice of one
branch per configuration samples records from the model (`sample_records`), so that simulated
records are scored exactly as the observed one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crisislab.analysis._record import NOTHING, Candidate, Record
from crisislab.model import CasualtyTable, Effect, ErrorEvent, Model
from crisislab.model.rules import MAX_BECOMES_DEPTH, RL_ANSWERED, RL_FAILED, RL_INACTIVE, RL_PENDING
from crisislab.simulation import Node, Policy

__all__ = ["FilterResult", "MoveForecast", "forward", "game_groups", "sample_records"]

# A Bayes update whose total likelihood is below this keeps the prior (as the simulator does).
_TINY = 1e-300
# Casualty counts enumerated when a record column is drawn freely (sampling): the table's length.
_FREE = -1


def game_groups(model: Model, policy: Policy) -> list[int]:
    """`game_of[h]`: the representative holder whose belief array holder h shares (as the simulator)."""
    init = model.initial_beliefs
    game_of = list(range(model.n_actors))
    for h in range(model.n_actors):
        for g in range(h):
            if game_of[g] == g and policy.same_game(model.actors[g], model.actors[h]) and np.array_equal(init[g], init[h]):
                game_of[h] = g
                break
    return game_of


@dataclass
class _Beam:
    """Hidden configurations: public state, red lines, beliefs per distinct game, mass per type profile."""

    state: np.ndarray  # int64 (n, n_vars)
    rls: np.ndarray  # int8 (n, n_rl)
    left: np.ndarray  # int64 (n, n_rl)
    bel: dict[int, np.ndarray]  # game -> float64 (n, n_belief)
    w: np.ndarray  # float64 (n, n_profiles)
    end: np.ndarray | None = None  # int64 (n,): outcome the move's executed action ends in (-1), between expand and settle

    def take(self, idx: np.ndarray) -> _Beam:
        return _Beam(self.state[idx], self.rls[idx], self.left[idx], {g: b[idx] for g, b in self.bel.items()}, self.w[idx],
                     None if self.end is None else self.end[idx])

    @property
    def n(self) -> int:
        return self.w.shape[0]


@dataclass
class _Branches:
    """Chance branches of one move's execution: parent row, probability factor, state after, deaths
    per record column, whether an observed error happened, the outcome the executed action ends
    the crisis in (-1: none)."""

    par: np.ndarray
    f: np.ndarray
    state: np.ndarray
    acc: np.ndarray
    hit: np.ndarray
    end: np.ndarray

    def take(self, idx: np.ndarray) -> _Branches:
        return _Branches(self.par[idx], self.f[idx], self.state[idx], self.acc[idx], self.hit[idx], self.end[idx])

    @staticmethod
    def cat(parts: Sequence[_Branches]) -> _Branches:
        parts = [p for p in parts if p.par.size]
        if not parts:
            raise ValueError("no branches")
        if len(parts) == 1:
            return parts[0]
        return _Branches(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("par", "f", "state", "acc", "hit", "end")))


def _apply(state: np.ndarray, eff: Effect | None, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    if eff is None or eff.is_noop or state.shape[0] == 0:
        return state
    out = np.where(eff.set_mask, eff.set_value, state + eff.add)
    return np.minimum(np.maximum(out, lo), hi)


def _pmf(cas: CasualtyTable) -> np.ndarray:
    return np.diff(cas.cdf, prepend=0.0)


class _Executor:
    """Executes one act with every chance branch, under a candidate's observations.

    `obs_cols`: record column → observed count, or `_FREE` (enumerate every count: sampling).
    """

    def __init__(self, model: Model, side_column: tuple[int, ...], cand: Candidate | None, obs_cols: dict[int, int]):
        self.model = model
        self.side_column = side_column
        self.error = None if cand is None else cand.error
        self.attributed = None if cand is None else cand.attributed
        self.obs_cols = obs_cols

    def run(self, g: int, br: _Branches, depth: int = 0) -> _Branches:
        m = self.model
        act = m.actions[g]
        out: list[_Branches] = []
        rest = br
        if depth < MAX_BECOMES_DEPTH:
            for _, err in act.becomes_errors:
                if rest.par.size == 0:
                    break
                fire, keep = self._error_branches(err)
                if fire and err.probability > 0:
                    fired = _Branches(rest.par, rest.f * err.probability, rest.state, rest.acc, rest.hit | (err.id == self.error), rest.end)
                    fired = self.run(err.becomes, fired, depth + 1)
                    fired.state = _apply(fired.state, err.effect, m.lo, m.hi)
                    for cas in err.casualties:
                        fired = self.casualties(cas, fired)
                    out.append(fired)
                rest = _Branches(rest.par, rest.f * (1.0 - err.probability), rest.state, rest.acc, rest.hit, rest.end) if keep else rest.take(np.zeros(0, np.int64))
        if rest.par.size:
            if act.attribution is not None:
                parts = []
                if self.attributed is not False and act.attribution > 0:
                    parts.append(_Branches(rest.par, rest.f * act.attribution, _apply(rest.state, act.effect, m.lo, m.hi), rest.acc, rest.hit, rest.end))
                if self.attributed is not True and act.attribution < 1:
                    parts.append(_Branches(rest.par, rest.f * (1.0 - act.attribution), _apply(rest.state, act.unattributed, m.lo, m.hi), rest.acc, rest.hit, rest.end))
                rest = _Branches.cat(parts) if parts else rest.take(np.zeros(0, np.int64))
            else:
                rest = _Branches(rest.par, rest.f, _apply(rest.state, act.effect, m.lo, m.hi), rest.acc, rest.hit, rest.end)
            rest.end = np.full(rest.par.size, act.ends, dtype=np.int64)  # this act executes (no `becomes` fired)
            for _, item in act.other_consequences:
                if rest.par.size == 0:
                    break
                if isinstance(item, CasualtyTable):
                    rest = self.casualties(item, rest)
                    continue
                fire, keep = self._error_branches(item)
                parts = []
                if fire and item.probability > 0:
                    fired = _Branches(rest.par, rest.f * item.probability, _apply(rest.state, item.effect, m.lo, m.hi), rest.acc,
                                      rest.hit | (item.id == self.error), rest.end)
                    for cas in item.casualties:
                        fired = self.casualties(cas, fired)
                    parts.append(fired)
                if keep and item.probability < 1:
                    parts.append(_Branches(rest.par, rest.f * (1.0 - item.probability), rest.state, rest.acc, rest.hit, rest.end))
                rest = _Branches.cat(parts) if parts else rest.take(np.zeros(0, np.int64))
            out.append(rest)
        out = [o for o in out if o.par.size]
        return _Branches.cat(out) if out else br.take(np.zeros(0, np.int64))

    def _error_branches(self, err: ErrorEvent) -> tuple[bool, bool]:
        """(may fire, may not fire) under the observation of errors."""
        if self.error is None:
            return True, True
        if self.error == "none":
            return False, True
        if self.error == err.id:
            return True, False
        return True, True

    def casualties(self, cas: CasualtyTable, br: _Branches) -> _Branches:
        m = self.model
        col = self.side_column[cas.side] if cas.side < len(self.side_column) else -1
        pmf = _pmf(cas)
        if col >= 0 and col in self.obs_cols:
            target = self.obs_cols[col]
            if target == _FREE:
                kmax = pmf.size - 1
                room = np.full(br.par.size, kmax)
            else:
                room = target - br.acc[:, col]
                kmax = int(min(pmf.size - 1, room.max(initial=-1)))
            parts = []
            for k in range(0, kmax + 1):
                if pmf[k] <= 0:
                    continue
                sel = np.flatnonzero(room >= k)
                if sel.size == 0:
                    continue
                b = br.take(sel)
                acc = b.acc.copy()
                acc[:, col] += k
                st = b.state
                if cas.into >= 0 and k:
                    st = st.copy()
                    st[:, cas.into] = np.minimum(st[:, cas.into] + k, m.hi[cas.into])
                parts.append(_Branches(b.par, b.f * pmf[k], st, acc, b.hit, b.end))
            return _Branches.cat(parts) if parts else br.take(np.zeros(0, np.int64))
        if cas.into < 0 or pmf.size <= 1:
            return br
        v = cas.into
        cap = np.maximum(m.hi[v] - br.state[:, v], 0)
        cdf = cas.cdf
        parts = []
        for j in range(0, int(cap.max(initial=0)) + 1):
            sel = np.flatnonzero(cap >= j)
            if sel.size == 0:
                continue
            at_cap = cap[sel] == j
            p_exact = pmf[j] if j < pmf.size else 0.0
            p_tail = (1.0 - cdf[j - 1]) if 0 < j <= cdf.size else (1.0 if j == 0 else 0.0)
            p = np.where(at_cap, p_tail, p_exact)
            keep = p > 0
            if not keep.any():
                continue
            b = br.take(sel[keep])
            st = b.state
            if j:
                st = st.copy()
                st[:, v] = st[:, v] + j
            parts.append(_Branches(b.par, b.f * p[keep], st, b.acc, b.hit, b.end))
        return _Branches.cat(parts) if parts else br.take(np.zeros(0, np.int64))


@dataclass(frozen=True)
class MoveForecast:
    """The model's one-step-ahead forecast of one move, given the record before it.

    `choices`: global action indices of the mover's ladder, then `NOTHING` for an environment
    actor; `probs`: their probabilities (float64, summing to 1); `observed`: the global actions the
    record allows (empty: not observed); `intensity`: the expected intensity of the move.
    """

    round: int
    mover: int
    choices: np.ndarray
    probs: np.ndarray
    observed: tuple[int, ...]
    intensity: float


@dataclass(frozen=True)
class FilterResult:
    """What one forward pass gives.

    `loglik`: log-likelihood of the record (natural log; -inf when the model rules it out).
    `round_loglik`: float64 `(R,)`. `impossible`: None or (round, mover index, lines) of the first
    move the model rules out. `ended`: float64 `(R, n_outcomes)`, the probability that the model
    ends the crisis in round r with outcome o, given the record so far (the record's own moves
    before the end are conditioned on). `beliefs`: float64 `(R + 1, n_actors, n_belief)`, each
    holder's expected belief vector after each round (row 0: before play). `types`: float64
    `(R + 1, n_actors, k_max)`, the posterior of each actor's true type given the record through
    each round. `forecasts`: one `MoveForecast` per move, in play order. `n_configs`: largest
    number of configurations carried. `reread`: (round, mover index, lines, observed action,
    action read) for each repeated one-time step read as another move in a state that no longer
    offers it (`Candidate.fallbacks`).
    """

    loglik: float
    round_loglik: np.ndarray
    impossible: tuple[int, int, tuple[int, ...]] | None
    ended: np.ndarray
    beliefs: np.ndarray
    types: np.ndarray
    forecasts: tuple[MoveForecast, ...]
    n_configs: int
    reread: tuple[tuple[int, int, tuple[int, ...], int, int], ...] = ()


class _Machine:
    """Shared set-up of the forward pass and the sampler."""

    def __init__(self, model: Model, policy: Policy, side_column: tuple[int, ...], intensity: np.ndarray | None):
        self.model = model
        self.policy = policy
        self.side_column = side_column
        self.game_of = game_groups(model, policy)
        self.games = sorted(set(self.game_of))
        n_types = [len(t) for t in model.types]
        grids = np.meshgrid(*[np.arange(k) for k in n_types], indexing="ij")
        self.profiles = np.stack([g.ravel() for g in grids], axis=1) if n_types else np.zeros((1, 0), np.int64)
        prior = np.ones(self.profiles.shape[0])
        for j, p in enumerate(model.true_prior):
            prior = prior * p[self.profiles[:, j]]
        self.prior = prior
        self.intensity = np.zeros(len(model.actions)) if intensity is None else np.nan_to_num(np.asarray(intensity, float))
        self.n_cols = 1 + max(side_column, default=-1)
        # Radices of the public part (for merging keys) and the belief entries that are free (the
        # last type of each actor is the complement of the others).
        self.state_radix = (model.hi - model.lo + 1).astype(np.int64)
        self.left_radix = 1 + max((rl.deadline for rl in model.red_lines), default=0)
        self.free_cols = np.array([i for sl in model.belief_slices for i in range(sl.start, sl.stop - 1)], dtype=np.int64)
        self.reread: list[tuple[int, int, tuple[int, ...], int, int]] = []

    def initial(self, w: np.ndarray) -> _Beam:
        m = self.model
        n = w.shape[0]
        init = m.initial_beliefs
        return _Beam(
            np.broadcast_to(m.initial, (n, m.n_vars)).astype(np.int64),
            np.zeros((n, len(m.red_lines)), np.int8),
            np.zeros((n, len(m.red_lines)), np.int64),
            {g: np.broadcast_to(init[g], (n, m.n_belief)).copy() for g in self.games},
            w,
        )

    # ----- one move ------------------------------------------------------------------------------
    def expand(self, beam: _Beam, r: int, mi: int, cands: tuple[Candidate, ...] | None, free_cols: bool
               ) -> tuple[_Beam, np.ndarray, np.ndarray, np.ndarray, MoveForecast]:
        """All children of every configuration at move (r, mi) that the record allows.

        Returns (children, parent row of each child, global action of each child, deaths per
        column of each child, forecast). Children carry their mass (parent mass × probability).
        """
        m = self.model
        mv = m.movers[mi]
        n = beam.n
        if mv.strategic >= 0:
            j = mv.strategic
            actor = m.actors[j]
            sig = {g: np.asarray(self.policy.strategy(m.actors[g], actor, Node(r, mi, beam.state, beam.rls, beam.left, beam.bel[g])),
                                 dtype=np.float64) for g in self.games}
            own = sig[self.game_of[j]]
            mask = np.ones((n, mv.actions.size), dtype=bool)
            default_local = 0
            for a_local, g_a in enumerate(mv.actions):
                act = m.actions[int(g_a)]
                if act.default:
                    default_local = a_local
                if act.available is not None:
                    mask[:, a_local] = act.available(beam.state, r, beam.rls)
            p = np.where(mask[:, None, :], own, 0.0)
            tot = p.sum(axis=2, keepdims=True)
            empty = tot[..., 0] <= 0.0
            if empty.any():
                p[empty, default_local] = 1.0
                tot = p.sum(axis=2, keepdims=True)
            p = p / tot  # (n, k_j, A)
            tj = self.profiles[:, j]
            pw = p[:, tj, :]  # (n, P, A)
            mass = beam.w.sum()
            probs = np.einsum("np,npa->a", beam.w, pw) / mass if mass > 0 else np.full(mv.actions.size, 1.0 / mv.actions.size)
            choices = mv.actions.astype(np.int64)
            local_of = {int(g): a for a, g in enumerate(mv.actions)}
            # (candidate, local action, rows it is read in or None for all, the record's candidate)
            work: list[tuple[Candidate | None, int, np.ndarray | None, Candidate | None]] = []
            if cands is None:
                work = [(None, a, None, None) for a in range(mv.actions.size)]
            else:
                for c in cands:
                    rem = np.ones(n, dtype=bool)
                    for e in (c, *c.fallbacks):  # a repeated one-time step: the next move where it is not offered
                        a_e = local_of[e.action]
                        work.append((e, a_e, rem & mask[:, a_e] if c.fallbacks else None, c))
                        rem &= ~mask[:, a_e]
                        if not rem.any():
                            break
            kids, pars, acts, accs = [], [], [], []
            read: list[int] = []  # the moves the record's candidates were read as (scored as observed)
            for cand, a, ok, orig in work:
                w_a = beam.w * pw[:, :, a]
                if ok is not None:
                    w_a[~ok] = 0.0
                rows = np.flatnonzero(w_a.sum(axis=1) > 0)
                if rows.size == 0:
                    continue
                if orig is not None and cand is not orig:
                    self.reread.append((r, mi, orig.lines, orig.action, cand.action))
                read.append(int(mv.actions[a]))
                child = beam.take(rows)
                child.w = w_a[rows]
                for g in self.games:
                    lik = sig[g][rows][:, :, a]
                    sl = m.belief_slices[j]
                    b = child.bel[g].copy()
                    post = b[:, sl] * lik
                    tot_b = post.sum(axis=1, keepdims=True)
                    ok = tot_b[:, 0] > _TINY
                    b[ok, sl] = post[ok] / tot_b[ok]
                    child.bel[g] = b
                rls, left = child.rls.copy(), child.left.copy()
                just: list[tuple[Effect, np.ndarray]] = []  # (on_answer effect, rows of `child` it answers)
                for k, rl in enumerate(m.red_lines):
                    if rl.owner != j:
                        continue
                    pend = rls[:, k] == RL_PENDING
                    if not pend.any():
                        continue
                    if mv.rungs[a] >= rl.answer_rung:
                        rls[pend, k] = RL_ANSWERED
                        if rl.on_answer is not None:
                            just.append((rl.on_answer, pend))
                    else:
                        left[pend, k] -= 1
                        failed = pend & (left[:, k] <= 0)
                        rls[failed, k] = RL_FAILED
                child.rls, child.left = rls, left
                g_act = int(mv.actions[a])
                out = self._execute(child, g_act, cand, free_cols)
                for eff, rows_k in just:  # the answered red lines' own effects, after the act's
                    sel = rows_k[out[1]]
                    out[0].state[sel] = _apply(out[0].state[sel], eff, m.lo, m.hi)
                kids.append(out[0])
                pars.append(rows[out[1]])
                acts.append(np.full(out[0].n, g_act, np.int64))
                accs.append(out[2])
        else:
            act_of = np.full(n, NOTHING, dtype=np.int64)
            prob = np.zeros(n)
            undecided = np.ones(n, dtype=bool)
            for rule in mv.env_rules:
                holds = undecided if rule.when is None else undecided & rule.when(beam.state, r, beam.rls)
                pr = rule.table[beam.state[:, rule.by] - m.lo[rule.by]] if rule.table is not None else rule.p
                prob = np.where(holds, pr, prob)
                act_of[holds] = rule.action
                undecided &= ~holds
            prob = np.minimum(prob, 1.0)
            choices = np.append(mv.actions.astype(np.int64), NOTHING)
            wt = beam.w.sum(axis=1)
            mass = wt.sum()
            probs = np.zeros(choices.size)
            for i, g in enumerate(mv.actions):
                probs[i] = (wt * np.where(act_of == g, prob, 0.0)).sum()
            probs[-1] = (wt * (1.0 - prob)).sum()
            probs = probs / mass if mass > 0 else probs
            if cands is None:
                wanted = sorted({int(x) for x in act_of[prob > 0]}) + ([NOTHING] if (prob < 1).any() else [])
                cand_list: list[Candidate | None] = [None] * len(wanted)
            else:
                wanted = [c.action for c in cands]
                cand_list = list(cands)
            kids, pars, acts, accs = [], [], [], []
            for g_act, cand in zip(wanted, cand_list, strict=True):
                fac = (1.0 - prob) if g_act == NOTHING else np.where(act_of == g_act, prob, 0.0)
                rows = np.flatnonzero((fac > 0) & (wt > 0))
                if rows.size == 0:
                    continue
                child = beam.take(rows)
                child.w = child.w * fac[rows, None]
                if g_act == NOTHING:
                    child.end = np.full(rows.size, -1, dtype=np.int64)
                    out = (child, np.arange(rows.size), np.zeros((rows.size, self.n_cols), np.int64))
                    if cand is not None and any(cnt > 0 for _, cnt in cand.casualties):
                        continue
                else:
                    out = self._execute(child, g_act, cand, free_cols)
                kids.append(out[0])
                pars.append(rows[out[1]])
                acts.append(np.full(out[0].n, g_act, np.int64))
                accs.append(out[2])
        observed = () if cands is None else tuple(c.action for c in cands)
        if cands is not None and mv.strategic >= 0 and any(c.fallbacks for c in cands) and read:
            observed = tuple(dict.fromkeys(read))
        fc = MoveForecast(r, mi, choices, probs, observed, float(sum(
            pr * (0.0 if c == NOTHING else self.intensity[c]) for c, pr in zip(choices, probs, strict=True))))
        if not kids:
            empty_beam = beam.take(np.zeros(0, np.int64))
            return empty_beam, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, self.n_cols), np.int64), fc
        beam_out = _Beam(
            np.concatenate([k.state for k in kids]),
            np.concatenate([k.rls for k in kids]),
            np.concatenate([k.left for k in kids]),
            {g: np.concatenate([k.bel[g] for k in kids]) for g in self.games},
            np.concatenate([k.w for k in kids]),
            np.concatenate([k.end for k in kids]),
        )
        return beam_out, np.concatenate(pars), np.concatenate(acts), np.concatenate(accs), fc

    def _execute(self, child: _Beam, g: int, cand: Candidate | None, free_cols: bool) -> tuple[_Beam, np.ndarray, np.ndarray]:
        """Execute act g in every configuration of `child`: (children, their row in `child`, deaths per column)."""
        n = child.n
        obs = {c: _FREE for c in range(self.n_cols)} if free_cols else ({} if cand is None else dict(cand.casualties))
        ex = _Executor(self.model, self.side_column, cand, obs)
        br = _Branches(np.arange(n), np.ones(n), child.state.copy(), np.zeros((n, self.n_cols), np.int64), np.zeros(n, bool),
                       np.full(n, -1, dtype=np.int64))
        br = ex.run(g, br)
        if not free_cols:
            keep = np.ones(br.par.size, dtype=bool)
            for c, cnt in obs.items():
                keep &= br.acc[:, c] == cnt
            if cand is not None and cand.error not in (None, "none"):
                keep &= br.hit
            br = br.take(np.flatnonzero(keep))
        out = child.take(br.par)
        out.state = br.state
        out.w = out.w * br.f[:, None]
        out.end = br.end
        return out, br.par, br.acc

    def settle(self, beam: _Beam, r: int) -> tuple[_Beam, np.ndarray, np.ndarray]:
        """Cross red lines, then split off the configurations an outcome ends.

        Returns (still going, ended mask, outcome index per configuration or -1)."""
        m = self.model
        rls, left = beam.rls.copy(), beam.left.copy()
        for k, rl in enumerate(m.red_lines):
            inact = rls[:, k] == RL_INACTIVE
            if not inact.any():
                continue
            crossed = inact & rl.crossed(beam.state, r, rls)
            rls[crossed, k] = RL_PENDING
            left[crossed, k] = rl.deadline
        beam.rls, beam.left = rls, left
        outcome = np.full(beam.n, -1, dtype=np.int64)
        ended = np.zeros(beam.n, dtype=bool)
        for o, cond in enumerate(m.outcome_conds):
            if cond is None:
                continue
            hit = ~ended & cond(beam.state, r, rls)
            outcome[hit] = o
            ended |= hit
        if beam.end is not None:  # an action that ends the crisis does so whatever condition holds
            hit = beam.end >= 0
            outcome[hit] = beam.end[hit]
            ended |= hit
            beam.end = None
        return beam, ended, outcome

    def merge(self, beam: _Beam, tol: float) -> _Beam:
        """Configurations with the same public part merged (masses added).

        With `tol` = 0 only identical configurations merge (exact). With `tol` > 0, configurations
        with the same state and red lines whose beliefs fall in the same cell of side `tol` merge,
        their beliefs replaced by the mass-weighted mean (an approximation whose effect on the
        likelihood is measured, `benchmarks/bench_replay.py`)."""
        if beam.n <= 1:
            return beam
        left = np.where(beam.rls == RL_PENDING, beam.left, 0)
        bel = np.concatenate([beam.bel[g][:, self.free_cols] for g in self.games], axis=1)
        if tol > 0:
            # Configurations that carry little of the mass are merged in coarser cells: the error
            # of merging is their mass times the spread of their beliefs.
            wt = beam.w.sum(axis=1)
            share = wt / max(wt.sum(), 1e-300)
            tier = np.where(share >= 1e-4, 0, np.where(share >= 1e-8, 1, 2)).astype(np.int64)
            size = tol * np.array([1.0, 4.0, 16.0])[tier]
            cells = int(np.ceil(1.0 / tol)) + 1
            parts = [(tier[:, None], 3), (beam.state - self.model.lo, self.state_radix), (beam.rls.astype(np.int64), 4),
                     (left, self.left_radix), (np.floor(bel / size[:, None]).astype(np.int64), cells)]
            total = 1.0
            for arr, rad in parts:
                total *= float(np.prod(np.broadcast_to(rad, (arr.shape[1],)).astype(float))) if arr.shape[1] else 1.0
            if total < 2.0**62:
                key = np.zeros(beam.n, dtype=np.int64)
                for arr, rad in parts:
                    for c in range(arr.shape[1]):
                        key = key * int(np.broadcast_to(rad, (arr.shape[1],))[c]) + arr[:, c]
                _, first, inv = np.unique(key, return_index=True, return_inverse=True)
            else:
                key = np.concatenate([a for a, _ in parts], axis=1)
                _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
        else:
            key = np.concatenate([beam.state.astype(np.float64), beam.rls.astype(np.float64), left.astype(np.float64), bel], axis=1)
            _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
        if first.size == beam.n:
            return beam
        inv = inv.reshape(-1)
        w = np.zeros((first.size, beam.w.shape[1]))
        for p in range(beam.w.shape[1]):
            w[:, p] = np.bincount(inv, weights=beam.w[:, p], minlength=first.size)
        out = beam.take(first)
        out.left = np.where(out.rls == RL_PENDING, out.left, 0)
        out.w = w
        if tol > 0:
            wt = beam.w.sum(axis=1)
            tot = np.bincount(inv, weights=wt, minlength=first.size)
            safe = np.where(tot > 0, tot, 1.0)
            for g in self.games:
                b = beam.bel[g]
                mean = np.stack([np.bincount(inv, weights=wt * b[:, k], minlength=first.size) for k in range(b.shape[1])], axis=1)
                out.bel[g] = np.where(tot[:, None] > 0, mean / safe[:, None], out.bel[g])
        return out


def forward(model: Model, policy: Policy, record: Record, *, intensity: np.ndarray | None = None,
            belief_tol: float = 0.0, prune: float = 0.0) -> FilterResult:
    """The forward pass of `record` under `policy` (module docstring); `belief_tol` > 0 merges
    configurations whose beliefs agree to within that cell size (see `_Machine.merge`)."""
    mach = _Machine(model, policy, record.side_column, intensity)
    R = record.rounds
    n_out = len(model.outcomes)
    beam = mach.initial(mach.prior[None, :].copy())
    round_ll = np.zeros(R)
    ended = np.zeros((R, n_out))
    survive = 1.0
    beliefs = np.zeros((R + 1, model.n_actors, model.n_belief))
    types = np.zeros((R + 1, model.n_actors, model.k_max))
    _summaries(mach, beam, beliefs, types, 0)
    forecasts: list[MoveForecast] = []
    impossible = None
    biggest = 1
    dropped = 0.0
    for r in range(1, R + 1):
        for mi in range(len(model.movers)):
            cands = record.moves[r - 1][mi]
            kids, _, _, _, fc = mach.expand(beam, r, mi, cands, free_cols=False)
            forecasts.append(fc)
            kids, end_mask, outcome = mach.settle(kids, r)
            if record.end is not None and record.end[:2] == (r, mi):
                # The record ends here with a known outcome: its likelihood is the mass that ends so.
                mass = kids.w[end_mask & (outcome == record.end[2])].sum()
                round_ll[r - 1] += np.log(mass) if mass > 0 else -np.inf
                ll = float(round_ll[: r].sum())
                imp = None if mass > 0 else (r, mi, tuple(ln for c in (cands or ()) for ln in c.lines))
                return FilterResult(ll, round_ll[: r], imp, ended[: r], beliefs[: r], types[: r], tuple(forecasts), biggest,
                                    tuple(mach.reread))
            pre = kids.w.sum()
            if pre > 0 and end_mask.any():
                mass_o = np.bincount(outcome[end_mask], weights=kids.w[end_mask].sum(axis=1), minlength=n_out)
                ended[r - 1] += survive * mass_o / pre
                survive *= 1.0 - mass_o.sum() / pre
            beam = mach.merge(kids.take(np.flatnonzero(~end_mask)), belief_tol)
            if prune > 0 and beam.n > 1:
                wt = beam.w.sum(axis=1)
                small = wt < prune * wt.sum()
                if small.any():
                    dropped += wt[small].sum() / wt.sum() * np.exp(round_ll.sum())
                    beam = beam.take(np.flatnonzero(~small))
            biggest = max(biggest, beam.n)
            total = beam.w.sum()
            if not total > 0:
                lines = tuple(ln for c in (cands or ()) for ln in c.lines)
                impossible = (r, mi, lines)
                round_ll[r - 1] = -np.inf
                return FilterResult(-np.inf, round_ll, impossible, ended, beliefs[: r], types[: r], tuple(forecasts), biggest,
                                    tuple(mach.reread))
            round_ll[r - 1] += np.log(total)
            beam.w = beam.w / total
        _summaries(mach, beam, beliefs, types, r)
    return FilterResult(float(round_ll.sum()), round_ll, None, ended, beliefs, types, tuple(forecasts), biggest,
                        tuple(mach.reread))


def _summaries(mach: _Machine, beam: _Beam, beliefs: np.ndarray, types: np.ndarray, r: int) -> None:
    m = mach.model
    wt = beam.w.sum(axis=1)
    tot = wt.sum()
    if tot <= 0:
        return
    for h in range(m.n_actors):
        beliefs[r, h] = (wt[:, None] * beam.bel[mach.game_of[h]]).sum(axis=0) / tot
    post = beam.w.sum(axis=0) / tot
    for j in range(m.n_actors):
        for t in range(len(m.types[j])):
            types[r, j, t] = post[mach.profiles[:, j] == t].sum()


def sample_records(
    model: Model,
    policy: Policy,
    template: Record,
    n: int,
    rng: np.random.Generator,
    *,
    max_batches: int = 50,
    keep_ended: bool = False,
) -> tuple[list[Record], int]:
    """Records of up to `template.rounds` rounds simulated from the model and observed as
    `template` is (the same movers; every casualty column of the template for every act; no
    uncertainty).

    A run that the model ends before the last round is discarded (it is not a record of the same
    length), or, with `keep_ended`, kept as a record that ends there with its outcome (`Record.end`:
    what a sample of crises looks like). Returns (records, runs simulated). Types are drawn from
    the true prior; every move and chance result from the same branch expansion as the forward pass.
    """
    from crisislab.analysis._record import record_from_moves

    mach = _Machine(model, policy, template.side_column, None)
    R = template.rounds
    records: list[Record] = []
    drawn = 0
    batch = max(n, 32)
    for _ in range(max_batches):
        if len(records) >= n:
            break
        prof = rng.choice(mach.profiles.shape[0], size=batch, p=mach.prior)
        w = np.zeros((batch, mach.profiles.shape[0]))
        w[np.arange(batch), prof] = 1.0
        beam = mach.initial(w)
        alive = np.arange(batch)  # simulated run of each configuration
        moves = [[[None] * len(model.movers) for _ in range(R)] for _ in range(batch)]
        batch_records: dict[int, Record] = {}
        drawn += batch
        for r in range(1, R + 1):
            for mi in range(len(model.movers)):
                if beam.n == 0:
                    break
                kids, par, acts, accs, _ = mach.expand(beam, r, mi, None, free_cols=True)
                # One child per parent, drawn with its probability (children of a parent sum to the parent's mass).
                wt = kids.w.sum(axis=1)
                u = rng.random(beam.n)
                order = np.argsort(par, kind="stable")
                par_s, wt_s = par[order], wt[order]
                starts = np.searchsorted(par_s, np.arange(beam.n))
                csum = np.cumsum(wt_s)
                base = np.where(starts > 0, csum[np.maximum(starts - 1, 0)], 0.0)
                tot = beam.w.sum(axis=1)
                target = base + u * tot
                pick = np.minimum(np.searchsorted(csum, target, side="right"), csum.size - 1)
                ends = np.append(starts[1:], par_s.size)
                pick = np.clip(pick, starts, ends - 1)
                chosen = order[pick]
                new = kids.take(chosen)
                new.w = new.w / new.w.sum(axis=1, keepdims=True)
                if template.observed[mi]:
                    for i, run in enumerate(alive):
                        a = int(acts[chosen[i]])
                        cas = tuple((c, int(accs[chosen[i], c])) for c in range(mach.n_cols)) if a != NOTHING else ()
                        moves[run][r - 1][mi] = (Candidate(a, cas),)
                new, end_mask, outcome = mach.settle(new, r)
                if keep_ended:
                    for i in np.flatnonzero(end_mask):
                        run = alive[i]
                        batch_records[int(run)] = (record_from_moves(model, moves[run][:r], columns=template.columns,
                                                         side_column=template.side_column, source="simulated",
                                                         end=(r, mi, int(outcome[i]))))
                keep = np.flatnonzero(~end_mask)
                beam = new.take(keep)
                alive = alive[keep]
        for run in alive:
            batch_records[int(run)] = record_from_moves(model, moves[run], columns=template.columns,
                                                        side_column=template.side_column, source="simulated")
        for run in sorted(batch_records):
            records.append(batch_records[run])
    return records[:n], drawn
