"""The vectorized Monte Carlo loop: N runs of a compiled scenario at once, one move at a time.

The loop runs over rounds and moves (a few hundred iterations for the flagship); every operation
inside is an array operation over all runs of the chunk. Per move: the mover's strategy is looked
up for the runs' nodes, masked by availability and interventions, and an action drawn by inverse
CDF; every strategic holder updates its belief about the mover by Bayes' rule with the strategy of
its own perceived game; red lines are answered or run down; the action (or the one an operational
error turns it into) is executed with its chance consequences, then the answered red lines'
`on_answer` effects apply; red lines are crossed; the executed action's `ends`, else the first
outcome whose condition holds, ends the run, and the outcome's casualties are drawn. All randomness
comes from `_rng.uniforms(keys, counter(round, move, slot))`, so a run's history depends only on
(seed, run index) and the arms of a paired comparison share their random numbers.

Two implementations share these semantics. The compiled kernel (`_kernels.run_chunk`) plays each
run from start to end in one numba loop and is used whenever the policy can be tabulated
(`Policy.kernel_table`, which every policy of this package provides); the numpy engine below,
vectorized over runs one move at a time, is the reference it is tested against and the path for
any other `Policy`. Both draw the same uniforms at the same places.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from crisislab.model import Action, CasualtyTable, Effect, Model
from crisislab.model.rules import (
    BELIEF_QUANTUM,
    MAX_BECOMES_DEPTH,
    RL_ANSWERED,
    RL_FAILED,
    RL_INACTIVE,
    RL_PENDING,
    SCRIPT_FREE,
    SLOT_ACTION,
    SLOT_OUTCOME_CASUALTIES,
    consequence_slot,
)
from crisislab.simulation._chunk import Arm, ChunkResult, any_round, path_representatives, round_mask_bytes
from crisislab.simulation._kernel_engine import kernel_chunk, kernel_inputs
from crisislab.simulation._policy import Node, Policy
from crisislab.simulation._rng import counter, run_keys, uniforms

__all__ = ["Engine", "simulate_chunk"]

# A Bayes update whose total likelihood is below this keeps the prior (an action the observer's
# model deems impossible, e.g. a forced one, carries no information it can use).
_TINY = 1e-300


def _draw_categorical(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw per row: `p` float64 `(n, k)` rows summing to ~1, `u` `(n,)` → int64 `(n,)`."""
    cdf = np.cumsum(p, axis=1)
    # Scale u by the row total so rounding in the cumsum can never push u past the last bin.
    k = (cdf < (u * cdf[:, -1])[:, None]).sum(axis=1)
    return np.minimum(k, p.shape[1] - 1)


def _apply_effect(state: np.ndarray, idx: np.ndarray, eff: Effect, lo: np.ndarray, hi: np.ndarray) -> None:
    if eff.is_noop or idx.size == 0:
        return
    sub = state[idx]
    sub = np.where(eff.set_mask, eff.set_value, sub + eff.add)
    # np.minimum/np.maximum in place: np.clip's wrapper costs more than the work at these sizes.
    np.maximum(sub, lo, out=sub)
    np.minimum(sub, hi, out=sub)
    state[idx] = sub


def _draw_casualties(
    cas: CasualtyTable, keys: np.ndarray, idx: np.ndarray, ctr: int, state: np.ndarray, casualties: np.ndarray, hi: np.ndarray
) -> None:
    if idx.size == 0 or cas.cdf.size <= 1:
        return
    u = uniforms(keys[idx], ctr)
    k = np.searchsorted(cas.cdf, u, side="right").astype(np.int64)
    np.minimum(k, cas.cdf.size - 1, out=k)
    casualties[idx, cas.side] += k
    if cas.into >= 0:
        state[idx, cas.into] = np.minimum(state[idx, cas.into] + k, hi[cas.into])


Engine = Literal["auto", "kernel", "reference"]


def simulate_chunk(
    spec: Model,
    policy: Policy,
    seed: int,
    runs: np.ndarray,
    arm: Arm = Arm(),
    record_actions: bool = False,
    record_paths: bool = False,
    engine: Engine = "auto",
) -> ChunkResult:
    """Simulate the runs with global indices `runs` (int64 `(n,)`) under `policy` and `arm`.

    `engine`: "kernel" (compiled; needs `policy.kernel_table`), "reference" (numpy), or "auto"
    (the kernel when the policy provides a table, else the reference).
    """
    if engine not in ("auto", "kernel", "reference"):
        raise ValueError(f"engine must be one of auto, kernel, reference (got {engine!r})")
    if engine != "reference":
        inputs = kernel_inputs(spec, policy, arm)
        if inputs is not None:
            return kernel_chunk(spec, inputs, seed, runs, record_actions, record_paths)
        if engine == "kernel":
            raise ValueError(f"{type(policy).__name__} provides no kernel_table: use engine='reference'")
    return _reference_chunk(spec, policy, seed, runs, arm, record_actions, record_paths)


def _reference_chunk(
    spec: Model,
    policy: Policy,
    seed: int,
    runs: np.ndarray,
    arm: Arm,
    record_actions: bool,
    record_paths: bool,
) -> ChunkResult:
    """The numpy engine: all runs of the chunk advanced one move at a time."""
    runs = np.ascontiguousarray(runs, dtype=np.int64)
    n = runs.size
    keys = run_keys(seed, runs)
    n_actors = len(spec.actors)
    n_moves = len(spec.movers)
    H = spec.horizon
    lo, hi = spec.lo, spec.hi

    # Round 0: true types, one draw per actor by inverse CDF on the true prior.
    types = np.empty((n, n_actors), dtype=np.int8)
    for j, prior in enumerate(spec.true_prior):
        u = uniforms(keys, counter(0, j, 0))
        types[:, j] = np.minimum(np.searchsorted(np.cumsum(prior), u, side="right"), prior.size - 1)

    state = np.broadcast_to(spec.initial, (n, spec.n_vars)).astype(np.int64)
    n_rl = len(spec.red_lines)
    rl_status = np.zeros((n, n_rl), dtype=np.int8)
    rl_left = np.zeros((n, n_rl), dtype=np.int64)
    # Distinct perceived games share one belief array (correct perception: one array for all).
    initial_beliefs = spec.initial_beliefs
    game_of = list(range(n_actors))
    for h in range(n_actors):
        for g in range(h):
            if game_of[g] == g and policy.same_game(spec.actors[g], spec.actors[h]) and np.array_equal(
                initial_beliefs[g], initial_beliefs[h]
            ):
                game_of[h] = g
                break
    beliefs = {g: np.broadcast_to(initial_beliefs[g], (n, spec.n_belief)).copy() for g in set(game_of)}

    outcome = np.full(n, -1, dtype=np.int16)
    end_round = np.full(n, H, dtype=np.int16)
    n_levels = int((hi - lo).max()) + 1
    state_hist = np.zeros((H + 1, spec.n_vars, n_levels), dtype=np.int64)
    belief_sum = np.zeros((H + 1, n_actors, spec.n_belief), dtype=np.int64)
    belief_sum_alive = np.zeros((H + 1, n_actors, spec.n_belief), dtype=np.int64)
    n_alive = np.zeros(H + 1, dtype=np.int64)
    rows: dict[str, list[np.ndarray]] | None = (
        {k: [] for k in ("run", "round", "move", "actor", "action", "executed")} if record_paths else None
    )
    row_state: list[np.ndarray] = []
    row_beliefs: list[np.ndarray] = []

    # Live arrays hold only the runs still going (compacted whenever some end), so that every
    # operation below touches live runs only and needs no gather/scatter through an index.
    live = {
        "pos": np.arange(n),
        "keys": keys,
        "types": types,
        "state": state,
        "rl_status": rl_status,
        "rl_left": rl_left,
        "casualties": np.zeros((n, len(spec.sides)), dtype=np.int64),
        "audience": np.zeros((n, n_actors), dtype=np.float64),
        "rounds": np.zeros((n, len(spec.actions), round_mask_bytes(H)), dtype=np.uint8),
        "smax": state.astype(np.int16),
        "smin": state.astype(np.int16),
        "loglik": np.zeros(n, dtype=np.float64),
    }
    # Indexed by original position (a column scatter per move), so retiring runs never copies it.
    actions_rec = np.full((n, H * n_moves), -1, dtype=np.int16) if record_actions else None
    for g, b in beliefs.items():
        live[f"belief{g}"] = b
    final = {k: np.empty_like(v) for k, v in live.items() if k != "pos"}
    # Runs that ended keep their final state and beliefs in the per-round aggregates.
    frozen_hist = np.zeros((spec.n_vars, n_levels), dtype=np.int64)
    frozen_bsum = np.zeros((n_actors, spec.n_belief), dtype=np.int64)

    def qsum(b: np.ndarray) -> np.ndarray:
        return np.rint(b * BELIEF_QUANTUM).astype(np.int64).sum(axis=0)

    def record_round(r: int) -> None:
        st = live["state"]
        for v in range(spec.n_vars):
            state_hist[r, v] = np.bincount(st[:, v] - lo[v], minlength=n_levels)[:n_levels] + frozen_hist[v]
        n_alive[r] = st.shape[0]
        for h in range(n_actors):
            q = qsum(live[f"belief{game_of[h]}"])
            belief_sum_alive[r, h] = q
            belief_sum[r, h] = q + frozen_bsum[h]

    def retire(mask: np.ndarray) -> None:
        """Write the ended runs' per-run results to their places and drop them from `live`."""
        pos = live["pos"][mask]
        for k, arr in final.items():
            arr[pos] = live[k][mask]
        st = live["state"][mask]
        for v in range(spec.n_vars):
            frozen_hist[v] += np.bincount(st[:, v] - lo[v], minlength=n_levels)[:n_levels]
        for h in range(n_actors):
            frozen_bsum[h] += qsum(live[f"belief{game_of[h]}"][mask])
        keep = ~mask
        for k in list(live):
            live[k] = live[k][keep]
        for g in beliefs:
            beliefs[g] = live[f"belief{g}"]

    record_round(0)
    run_steps = 0
    forbidden = arm.forbidden
    # The outcome each action ends the crisis in (-1: none), indexed by global action.
    action_ends = np.array([a.ends for a in spec.actions], dtype=np.int64)
    any_ends = bool((action_ends >= 0).any())
    for r in range(1, H + 1):
        for m, mover in enumerate(spec.movers):
            n_live = live["pos"].size
            if n_live == 0:
                break
            run_steps += n_live
            keys_l, types_l, state_l = live["keys"], live["types"], live["state"]
            rls_l, left_l = live["rl_status"], live["rl_left"]
            just_answered: list[tuple[Effect, np.ndarray]] = []
            if mover.strategic >= 0:
                chosen, lp = _strategic_choice(
                    spec, policy, arm, mover, m, r, keys_l, types_l, state_l, rls_l, left_l, beliefs, game_of, forbidden
                )
                live["loglik"] += lp
                # Red lines of the mover: answered by a high enough rung, or one own move closer to failing.
                j = mover.strategic
                for k, rl in enumerate(spec.red_lines):
                    if rl.owner != j:
                        continue
                    pend = rls_l[:, k] == RL_PENDING
                    if not pend.any():
                        continue
                    answered = pend & (mover.rungs[chosen] >= rl.answer_rung)
                    waiting = pend & ~answered
                    left_l[waiting, k] -= 1
                    failed = waiting & (left_l[:, k] <= 0)
                    rls_l[answered, k] = RL_ANSWERED
                    rls_l[failed, k] = RL_FAILED
                    if rl.on_answer is not None and answered.any():
                        just_answered.append((rl.on_answer, np.flatnonzero(answered)))
                    live["audience"][failed, j] += rl.audience_cost[types_l[failed, j]]
                g_chosen = mover.actions[chosen]
            else:
                g_chosen, lp = _env_choice(spec, mover, m, r, keys_l, state_l, rls_l, arm)
                live["loglik"] += lp
            acted = np.flatnonzero(g_chosen >= 0)
            live["rounds"][acted, g_chosen[acted], (r - 1) >> 3] |= np.uint8(1 << ((r - 1) & 7))
            executed = _execute(spec, m, r, np.arange(n_live), g_chosen, keys_l, state_l, live["casualties"])
            # An answered red line's own effects, after the act's effects and consequences.
            for eff, idx in just_answered:
                _apply_effect(state_l, idx, eff, lo, hi)
            np.maximum(live["smax"], state_l, out=live["smax"], casting="unsafe")
            np.minimum(live["smin"], state_l, out=live["smin"], casting="unsafe")
            if actions_rec is not None:
                actions_rec[live["pos"], (r - 1) * n_moves + m] = executed
            # New crossings of red lines (status inactive → pending) after the move.
            for k, rl in enumerate(spec.red_lines):
                inact = rls_l[:, k] == RL_INACTIVE
                if not inact.any():
                    continue
                crossed = inact & rl.crossed(state_l, r, rls_l)
                rls_l[crossed, k] = RL_PENDING
                left_l[crossed, k] = rl.deadline
            # Outcomes, in list order; the first that holds ends the run.
            ended = np.zeros(n_live, dtype=bool)
            for o, cond in enumerate(spec.outcome_conds):
                if cond is None:
                    continue
                hit = ~ended & cond(state_l, r, rls_l)
                if hit.any():
                    outcome[live["pos"][hit]] = o
                    end_round[live["pos"][hit]] = r
                    ended |= hit
            # An action that ends the crisis does so whatever outcome condition holds.
            if any_ends:
                ends = np.where(executed >= 0, action_ends[np.maximum(executed, 0)], -1)
                hit = ends >= 0
                if hit.any():
                    outcome[live["pos"][hit]] = ends[hit]
                    end_round[live["pos"][hit]] = r
                    ended |= hit
            # Deaths the outcome carries, drawn at the move that ends the run.
            if spec.outcome_casualties and ended.any():
                out_l = outcome[live["pos"]]
                for o, tables in enumerate(spec.outcome_casualties):
                    sel = np.flatnonzero(ended & (out_l == o))
                    for k, cas in enumerate(tables):
                        _draw_casualties(cas, keys_l, sel, counter(r, m, SLOT_OUTCOME_CASUALTIES + k), state_l,
                                         live["casualties"], hi)
            if rows is not None:
                rows["run"].append(runs[live["pos"]])
                rows["round"].append(np.full(n_live, r, np.int16))
                rows["move"].append(np.full(n_live, m, np.int16))
                rows["actor"].append(np.full(n_live, m, np.int16))
                rows["action"].append(g_chosen.astype(np.int16))
                rows["executed"].append(executed.astype(np.int16))
                row_state.append(state_l.copy())
                row_beliefs.append(np.stack([beliefs[game_of[h]] for h in range(n_actors)], axis=1))
            if ended.any():
                retire(ended)
        record_round(r)
    if live["pos"].size:
        retire(np.ones(live["pos"].size, dtype=bool))
    outcome[outcome < 0] = spec.horizon_outcome
    types, casualties, audience = final["types"], final["casualties"], final["audience"]
    rl_status, rounds, loglik = final["rl_status"], final["rounds"], final["loglik"]
    path_hash, path_reps = path_representatives(actions_rec)
    path_rows = None
    if rows is not None:
        path_rows = {k: (np.concatenate(v) if v else np.zeros(0, np.int16)) for k, v in rows.items()}
        path_rows["state"] = np.concatenate(row_state) if row_state else np.zeros((0, spec.n_vars), np.int64)
        path_rows["beliefs"] = (
            np.concatenate(row_beliefs) if row_beliefs else np.zeros((0, n_actors, spec.n_belief))
        )
    return ChunkResult(
        runs=runs,
        types=types,
        outcome=outcome,
        end_round=end_round,
        casualties=casualties,
        audience=audience,
        rl_status=rl_status,
        taken=any_round(rounds),
        rounds_taken=rounds,
        state_max=final["smax"],
        state_min=final["smin"],
        actions=actions_rec,
        state_hist=state_hist,
        belief_sum=belief_sum,
        belief_sum_alive=belief_sum_alive,
        n_alive=n_alive,
        run_steps=run_steps,
        loglik=loglik,
        path_hash=path_hash,
        path_reps=path_reps,
        path_rows=path_rows,
    )


def _strategic_choice(
    spec: Model,
    policy: Policy,
    arm: Arm,
    mover,
    m: int,
    r: int,
    keys: np.ndarray,
    types: np.ndarray,
    sub_state: np.ndarray,
    sub_rls: np.ndarray,
    sub_left: np.ndarray,
    beliefs: dict[int, np.ndarray],
    game_of: list[int],
    forbidden: frozenset[int],
) -> np.ndarray:
    """Draw the mover's action (local ladder index, int64 `(n_live,)`) and update all beliefs in place.

    All arrays are over the live runs; returns (chosen, log-probability of the choice).
    """
    j = mover.strategic
    actor = spec.actors[j]
    n_sub = keys.size
    nodes: dict[int, Node] = {}
    sigmas: dict[int, np.ndarray] = {}
    for g in set(game_of):
        nodes[g] = Node(round=r, move=m, state=sub_state, rl_status=sub_rls, rl_left=sub_left, beliefs=beliefs[g])
        sigmas[g] = np.asarray(policy.strategy(spec.actors[g], actor, nodes[g]), dtype=np.float64)
    own = sigmas[game_of[j]]
    p = own[np.arange(n_sub), types[:, j]]
    # Availability and forbidden actions mask the strategy; a row left empty plays the default.
    mask = np.ones_like(p, dtype=bool)
    default_local = 0
    for a_local, g_a in enumerate(mover.actions):
        act = spec.actions[g_a]
        if act.default:
            default_local = a_local
        if g_a in forbidden:
            mask[:, a_local] = False
            continue
        if act.available is not None:
            mask[:, a_local] = act.available(sub_state, r, sub_rls)
        for g_f, when in arm.forbidden_when:
            if g_f == g_a:
                mask[:, a_local] &= ~np.asarray(when(sub_state, r, sub_rls), dtype=bool)
    p = np.where(mask, p, 0.0)
    u = uniforms(keys, counter(r, m, SLOT_ACTION))
    empty = p.sum(axis=1) <= 0.0
    if empty.any():
        p[empty, default_local] = 1.0
    chosen = _draw_categorical(p, u)
    # A force (at a round, on a condition, or at every move) applies only where the forced action
    # is available and not forbidden in this arm (`mask`); elsewhere the mover plays its policy.
    for f in arm.forces:
        if f.actor != actor:
            continue
        local = int(np.flatnonzero(mover.actions == f.action)[0])
        if f.round_ is not None:
            if f.round_ == r:
                chosen[mask[:, local]] = local
        elif f.when is not None:
            chosen[mask[:, local] & f.when(sub_state, r, sub_rls)] = local
    if arm.script is not None and arm.script[r - 1, m] != SCRIPT_FREE:
        g = int(arm.script[r - 1, m])
        chosen[:] = default_local if g < 0 else int(np.flatnonzero(mover.actions == g)[0])
    with np.errstate(divide="ignore"):
        logp = np.log(p[np.arange(n_sub), chosen] / p.sum(axis=1))
    # Bayes' rule in each perceived game, with the mover's strategy as that game has it.
    sl = spec.belief_slices[j]
    for g, sig in sigmas.items():
        lik = sig[np.arange(n_sub), :, chosen]  # (n_sub, n_types_mover)
        b = beliefs[g]
        post = b[:, sl] * lik
        tot = post.sum(axis=1, keepdims=True)
        ok = tot[:, 0] > _TINY
        b[ok, sl] = post[ok] / tot[ok]
    return chosen, logp


def _env_choice(
    spec: Model,
    mover,
    m: int,
    r: int,
    keys: np.ndarray,
    sub_state: np.ndarray,
    sub_rls: np.ndarray,
    arm: Arm,
) -> tuple[np.ndarray, np.ndarray]:
    """First matching rule fires with its probability.

    Returns (global action index or -1, int64 `(n_live,)`; its log-probability, float64).
    """
    n_sub = keys.size
    prob = np.zeros(n_sub)
    act = np.full(n_sub, -1, dtype=np.int64)
    undecided = np.ones(n_sub, dtype=bool)
    for rule in mover.env_rules:
        holds = undecided if rule.when is None else undecided & rule.when(sub_state, r, sub_rls)
        if rule.table is not None:
            pr = rule.table[sub_state[:, rule.by] - spec.lo[rule.by]]
        else:
            pr = rule.p
        prob = np.where(holds, pr, prob)
        act[holds] = rule.action
        undecided &= ~holds
    u = uniforms(keys, counter(r, m, SLOT_ACTION))
    fires = u < prob
    g = SCRIPT_FREE if arm.script is None else int(arm.script[r - 1, m])
    with np.errstate(divide="ignore"):
        if g == SCRIPT_FREE:
            return np.where(fires, act, -1), np.where(fires, np.log(prob), np.log1p(-np.minimum(prob, 1.0)))
        if g < 0:  # observed: the actor did nothing this round
            return np.full(n_sub, -1, dtype=np.int64), np.log1p(-np.minimum(prob, 1.0))
        # Observed act g: possible only where the firing rule plays g (log −inf elsewhere shows it).
        return np.full(n_sub, g, dtype=np.int64), np.where(act == g, np.log(prob), -np.inf)



def _execute(
    spec: Model,
    m: int,
    r: int,
    idx: np.ndarray,
    g_chosen: np.ndarray,
    keys: np.ndarray,
    state: np.ndarray,
    casualties: np.ndarray,
) -> np.ndarray:
    """Carry out each run's chosen action with its errors and chance consequences.

    Same semantics as the crisis engine's compiler: errors with `becomes` are tried in list order
    and the first that fires replaces the act (the replacement executes fully, then the error's
    effects and nested casualties apply); otherwise attribution picks the effects, then the other
    consequences (casualties, errors without `becomes`) apply in list order. Returns the executed
    global action per run (-1 for none): int64 `(len(idx),)`.
    """
    executed = g_chosen.copy()
    for a in np.unique(g_chosen):
        if a < 0:
            continue
        pos = np.flatnonzero(g_chosen == a)
        executed[pos] = _execute_action(spec, int(a), m, r, idx[pos], keys, state, casualties, 0)
    return executed


def _execute_action(
    spec: Model,
    a: int,
    m: int,
    r: int,
    sel: np.ndarray,
    keys: np.ndarray,
    state: np.ndarray,
    casualties: np.ndarray,
    depth: int,
) -> np.ndarray:
    """Execute global action `a` for runs `sel`; returns the executed action per run (int64)."""
    lo, hi = spec.lo, spec.hi
    act: Action = spec.actions[a]
    out = np.full(sel.size, a, dtype=np.int64)
    rest = np.ones(sel.size, dtype=bool)  # runs where no `becomes` error has fired yet
    if depth < MAX_BECOMES_DEPTH:
        for ci, err in act.becomes_errors:
            ri = np.flatnonzero(rest)
            if ri.size == 0:
                break
            fired = uniforms(keys[sel[ri]], counter(r, m, consequence_slot(depth, ci))) < err.probability
            fi = ri[fired]
            if fi.size == 0:
                continue
            rest[fi] = False
            out[fi] = _execute_action(spec, err.becomes, m, r, sel[fi], keys, state, casualties, depth + 1)
            _apply_effect(state, sel[fi], err.effect, lo, hi)
            for k, cas in enumerate(err.casualties):
                _draw_casualties(cas, keys, sel[fi], counter(r, m, consequence_slot(depth, ci, 1 + k)), state, casualties, hi)
    xi = sel[rest]
    if xi.size == 0:
        return out
    if act.attribution is not None:
        attributed = uniforms(keys[xi], counter(r, m, consequence_slot(depth, act.attribution_index))) < act.attribution
        _apply_effect(state, xi[attributed], act.effect, lo, hi)
        if act.unattributed is not None:
            _apply_effect(state, xi[~attributed], act.unattributed, lo, hi)
    else:
        _apply_effect(state, xi, act.effect, lo, hi)
    for ci, item in act.other_consequences:
        if isinstance(item, CasualtyTable):
            _draw_casualties(item, keys, xi, counter(r, m, consequence_slot(depth, ci)), state, casualties, hi)
        else:
            fired = uniforms(keys[xi], counter(r, m, consequence_slot(depth, ci))) < item.probability
            fi = xi[fired]
            if fi.size == 0:
                continue
            _apply_effect(state, fi, item.effect, lo, hi)
            for k, cas in enumerate(item.casualties):
                _draw_casualties(cas, keys, fi, counter(r, m, consequence_slot(depth, ci, 1 + k)), state, casualties, hi)
    return out
