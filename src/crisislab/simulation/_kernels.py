"""The compiled simulation kernel: one numba function that plays a chunk of runs through every move.

`pack_spec` flattens a `Model` and an `Arm` into plain arrays (conditions as postfix programs,
effects as add/set rows, chance consequences as CSR lists, casualty tables as one flat CDF array);
`run_chunk` then takes each run from its type draw to its outcome in one pass, with no Python
object in the loop. A run's random numbers are the same counter-based uniforms as `_rng.uniforms`
(SplitMix64 finaliser of (run key, counter(round, move, slot))), computed inline, so a run's history
is a function of (seed, run index) only, whatever the chunk or worker that plays it. The policy
enters as a dense table (`_policy.PolicyTable`): per decision, sorted public-state keys, and per
perceived game a strategy block `(n_rows, n_belief_nodes, k_max, a_max)`, interpolated
multilinearly on the belief grid when the policy depends on beliefs. Per-round aggregates
(state histograms, quantized belief sums) are accumulated as integers, so they are exact and
independent of the order runs are played in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from crisislab.model import CasualtyTable, CondProgram, Effect, Model
from crisislab.model.rules import (
    BELIEF_QUANTUM,
    MAX_BECOMES_DEPTH,
    MAX_MOVES,
    MAX_SLOTS,
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
    SCRIPT_FREE,
    SLOT_OUTCOME_CASUALTIES,
    consequence_slot,
)
from crisislab.simulation._rng import _GOLDEN, _M2, _fmix

__all__ = ["PackedSpec", "pack_spec", "run_chunk"]

_TO_UNIT = 2.0**-53
_S11 = np.uint64(11)
_TINY = 1e-300
_STACK = 64  # condition evaluation stack (nesting depth of a condition)


@dataclass(frozen=True)
class PackedSpec:
    """A `Model` plus an `Arm` as flat arrays for `run_chunk` (shapes in `pack_spec`)."""

    ints: dict
    arrays: dict


class _Builder:
    """Collects conditions, effects and casualty tables into flat arrays."""

    def __init__(self, n_vars: int):
        self.n_vars = n_vars
        self.code: list[np.ndarray] = []
        self.cond_ptr = [0]
        self.eff_add: list[np.ndarray] = []
        self.eff_set: list[np.ndarray] = []
        self.eff_mask: list[np.ndarray] = []
        self.cas: list[tuple[int, int, int, int]] = []  # side, into, cdf start, cdf length
        self.cdf: list[np.ndarray] = []
        self.cdf_len = 0
        self._cond_ids: dict[int, int] = {}

    def cond(self, c) -> int:
        if c is None:
            return -1
        if not isinstance(c, CondProgram):
            raise TypeError("the compiled kernel needs conditions as CondProgram")
        if id(c) in self._cond_ids:
            return self._cond_ids[id(c)]
        self.code.append(c.code)
        self.cond_ptr.append(self.cond_ptr[-1] + c.code.shape[0])
        self._cond_ids[id(c)] = len(self.cond_ptr) - 2
        return len(self.cond_ptr) - 2

    def effect(self, e: Effect | None) -> int:
        if e is None or e.is_noop:
            return -1
        self.eff_add.append(np.asarray(e.add, np.int64))
        self.eff_set.append(np.asarray(e.set_value, np.int64))
        self.eff_mask.append(np.asarray(e.set_mask, bool))
        return len(self.eff_add) - 1

    def casualty(self, c: CasualtyTable) -> int:
        self.cas.append((c.side, c.into, self.cdf_len, c.cdf.size))
        self.cdf.append(np.asarray(c.cdf, np.float64))
        self.cdf_len += c.cdf.size
        return len(self.cas) - 1


def _csr(lists: list[list]) -> tuple[np.ndarray, list]:
    ptr = np.zeros(len(lists) + 1, np.int64)
    flat: list = []
    for i, items in enumerate(lists):
        flat.extend(items)
        ptr[i + 1] = len(flat)
    return ptr, flat


def pack_spec(spec: Model, arm) -> PackedSpec:
    """Flatten `spec` and `arm` (an `_engine.Arm`) into the arrays `run_chunk` reads.

    Raises TypeError when a condition is not a `CondProgram` (the caller then uses the numpy
    reference path).
    """
    nv = spec.n_vars
    b = _Builder(nv)
    n_act = len(spec.actions)
    n_actors = len(spec.actors)
    k_max = max(len(t) for t in spec.types)

    # Actions: effect, availability, attribution, `becomes` errors, other consequences.
    act = np.full((n_act, 6), -1, np.int64)  # eff, avail, attr_ci, unattr_eff, ends (outcome), (unused)
    act_attr_p = np.zeros(n_act)
    errs: list[tuple[int, float, int, int, int]] = []  # ci, (p in err_p), becomes, eff, cas list
    err_p: list[float] = []
    cas_lists: list[list[int]] = []
    bec_lists: list[list[int]] = []
    oth_lists: list[list[int]] = []
    oth: list[tuple[int, int, int]] = []  # kind (0 casualty, 1 error), ci, casualty id or error id

    def error(ci: int, e) -> int:
        cas_lists.append([b.casualty(c) for c in e.casualties])
        errs.append((ci, 0, e.becomes, b.effect(e.effect), len(cas_lists) - 1))
        err_p.append(float(e.probability))
        return len(errs) - 1

    for a, spec_a in enumerate(spec.actions):
        act[a, 0] = b.effect(spec_a.effect)
        act[a, 1] = b.cond(spec_a.available)
        act[a, 4] = spec_a.ends
        if spec_a.attribution is not None:
            act[a, 2] = spec_a.attribution_index
            act_attr_p[a] = spec_a.attribution
            act[a, 3] = b.effect(spec_a.unattributed)
        bec_lists.append([error(ci, e) for ci, e in spec_a.becomes_errors])
        items = []
        for ci, item in spec_a.other_consequences:
            if isinstance(item, CasualtyTable):
                oth.append((0, ci, b.casualty(item)))
            else:
                oth.append((1, ci, error(ci, item)))
            items.append(len(oth) - 1)
        oth_lists.append(items)
    bec_ptr, bec_flat = _csr(bec_lists)
    oth_ptr, oth_flat = _csr(oth_lists)
    cas_ptr, cas_flat = _csr(cas_lists)

    # Movers: ladders, rungs, defaults, environment rules.
    M = len(spec.movers)
    a_max = max([m.actions.size for m in spec.movers] + [1])
    mover = np.full((M, 3), -1, np.int64)  # strategic actor, ladder size, default local index
    ladder = np.full((M, a_max), -1, np.int64)
    rungs = np.zeros((M, a_max), np.int64)
    rule_lists: list[list[int]] = []
    rules: list[tuple[int, int, int, int, int]] = []  # cond, action, by, table start, table len
    rule_p: list[float] = []
    tables: list[np.ndarray] = []
    tab_len = 0
    for m, mv in enumerate(spec.movers):
        mover[m, 0] = mv.strategic
        mover[m, 1] = mv.actions.size
        ladder[m, : mv.actions.size] = mv.actions
        rungs[m, : mv.rungs.size] = mv.rungs
        default = 0
        for i, g in enumerate(mv.actions):
            if spec.actions[g].default:
                default = i
        mover[m, 2] = default
        ids = []
        for rule in mv.env_rules:
            if rule.table is not None:
                t = np.asarray(rule.table, np.float64)
                rules.append((b.cond(rule.when), rule.action, rule.by, tab_len, t.size))
                tables.append(t)
                tab_len += t.size
            else:
                rules.append((b.cond(rule.when), rule.action, -1, 0, 0))
            rule_p.append(float(rule.p))
            ids.append(len(rules) - 1)
        rule_lists.append(ids)
    rule_ptr, rule_flat = _csr(rule_lists)

    n_rl = len(spec.red_lines)
    rl = np.zeros((max(n_rl, 1), 5), np.int64)  # owner, crossed cond, answer rung, deadline, on_answer effect
    rl[:, 4] = -1
    rl_aud = np.zeros((max(n_rl, 1), k_max))
    for k, r in enumerate(spec.red_lines):
        rl[k] = (r.owner, b.cond(r.crossed), r.answer_rung, r.deadline, b.effect(r.on_answer))
        rl_aud[k, : r.audience_cost.size] = r.audience_cost
    out_cond = np.array([b.cond(c) for c in spec.outcome_conds], np.int64)
    ocas_ptr, ocas_flat = _csr([[b.casualty(c) for c in spec.casualties_of(o)] for o in range(len(spec.outcomes))])

    prior_cdf = np.ones((n_actors, k_max))
    n_types = np.array([len(t) for t in spec.types], np.int64)
    for j, p in enumerate(spec.true_prior):
        prior_cdf[j, : p.size] = np.cumsum(p)
    bel_start = np.array([sl.start for sl in spec.belief_slices], np.int64)

    # Interventions.
    # Per action: -2 allowed, -1 forbidden everywhere, c >= 0 forbidden where condition c holds.
    forbidden = np.full(n_act, -2, np.int64)
    for g, when in getattr(arm, "forbidden_when", ()):
        forbidden[g] = b.cond(when)
    for g in arm.forbidden:
        forbidden[g] = -1
    forces = np.full((max(len(arm.forces), 1), 4), -1, np.int64)  # actor, local, round, cond
    for i, f in enumerate(arm.forces):
        j = spec.actors.index(f.actor)
        mv = next(m for m in spec.movers if m.strategic == j)
        local = int(np.flatnonzero(mv.actions == f.action)[0])
        forces[i] = (j, local, -1 if f.round_ is None else f.round_, -1 if f.round_ is not None else b.cond(f.when))
    H = spec.horizon
    script = np.full((H, M), SCRIPT_FREE, np.int64)
    if arm.script is not None:
        script[:] = arm.script[:H]

    n_eff = len(b.eff_add)
    if len(b.cond_ptr) - 1 > 64:
        # The kernel keeps a run's condition values as one 64-bit mask.
        raise TypeError("the compiled kernel handles at most 64 distinct conditions")
    arrays = dict(
        lo=np.array(spec.lo, np.int64),
        hi=np.array(spec.hi, np.int64),
        initial=np.array(spec.initial, np.int64),
        prior_cdf=prior_cdf,
        n_types=n_types,
        bel_start=bel_start,
        code=np.concatenate(b.code) if b.code else np.zeros((1, 4), np.int64),
        cond_ptr=np.array(b.cond_ptr, np.int64),
        eff_add=np.array(b.eff_add).reshape(n_eff, nv) if n_eff else np.zeros((1, nv), np.int64),
        eff_set=np.array(b.eff_set).reshape(n_eff, nv) if n_eff else np.zeros((1, nv), np.int64),
        eff_mask=np.array(b.eff_mask).reshape(n_eff, nv) if n_eff else np.zeros((1, nv), bool),
        cas=np.array(b.cas, np.int64).reshape(-1, 4) if b.cas else np.zeros((1, 4), np.int64),
        cdf=np.concatenate(b.cdf) if b.cdf else np.ones(1),
        act=act,
        act_attr_p=act_attr_p,
        errs=np.array(errs, np.int64).reshape(-1, 5) if errs else np.zeros((1, 5), np.int64),
        err_p=np.array(err_p + [0.0]),
        bec_ptr=bec_ptr,
        bec=np.array(bec_flat + [0], np.int64),
        oth_ptr=oth_ptr,
        oth=np.array(oth, np.int64).reshape(-1, 3) if oth else np.zeros((1, 3), np.int64),
        oth_idx=np.array(oth_flat + [0], np.int64),
        cas_ptr=cas_ptr,
        cas_list=np.array(cas_flat + [0], np.int64),
        ocas_ptr=ocas_ptr,
        ocas_list=np.array(ocas_flat + [0], np.int64),
        mover=mover,
        ladder=ladder,
        rungs=rungs,
        rule_ptr=rule_ptr,
        rules=np.array(rules, np.int64).reshape(-1, 5) if rules else np.zeros((1, 5), np.int64),
        rule_idx=np.array(rule_flat + [0], np.int64),
        rule_p=np.array(rule_p + [0.0]),
        rule_tab=np.concatenate(tables) if tables else np.zeros(1),
        rl=rl,
        rl_aud=rl_aud,
        out_cond=out_cond,
        forbidden=forbidden,
        forces=forces,
        script=script,
    )
    arrays.update(_pack_execution(arrays))
    ints = dict(n_rl=n_rl, n_forces=len(arm.forces), horizon=H, horizon_outcome=spec.horizon_outcome)
    return PackedSpec(ints=ints, arrays=arrays)


# Where each table starts in `xi` (header entries; see `_pack_execution`).
_X_ACT, _X_ERRS, _X_BECP, _X_BEC, _X_OTHP, _X_OTH, _X_OTHI, _X_CASP, _X_CASL, _X_CAS = range(10)
_X_FATTR, _X_FERR, _X_FCDF = range(10, 13)
_X_OCASP, _X_OCASL = range(13, 15)
_X_HEAD = 15


def _pack_execution(a: dict) -> dict:
    """What `_execute` reads, as three arrays instead of sixteen (a call passes every array as
    a struct of pointer, shape and strides: with two dozen of them, the call cost more than the work).

    `xi`: int64, a header of `_X_HEAD` start offsets, then `act` (6 per action), `errs` (5 per
    error), `bec_ptr`, `bec`, `oth_ptr`, `oth` (3 per item), `oth_idx`, `cas_ptr`, `cas_list`, `cas`
    (4 per casualty table), `ocas_ptr`, `ocas_list` (each outcome's casualty tables: CSR over
    outcomes, indices into `cas`), flattened row-major; header entries `_X_FATTR`, `_X_FERR`,
    `_X_FCDF` are the starts of `act_attr_p`, `err_p` and `cdf` in `xf` (float64), and
    `_X_OCASP`, `_X_OCASL` come last, so a kernel that does not read them reads the same header.
    `eff`: int64 `(n_eff, 3, n_vars)`, each effect's add, set value and set mask (0/1)."""
    ints = [a[k].ravel() for k in ("act", "errs", "bec_ptr", "bec", "oth_ptr", "oth", "oth_idx", "cas_ptr", "cas_list", "cas",
                                   "ocas_ptr", "ocas_list")]
    floats = [a[k].ravel() for k in ("act_attr_p", "err_p", "cdf")]
    head = np.zeros(_X_HEAD, np.int64)
    pos = _X_HEAD
    for i, x in zip((*range(10), _X_OCASP, _X_OCASL), ints, strict=True):
        head[i] = pos
        pos += x.size
    pos = 0
    for i, x in enumerate(floats):
        head[_X_FATTR + i] = pos
        pos += x.size
    xi = np.concatenate([head] + [np.asarray(x, np.int64) for x in ints])
    xf = np.concatenate([np.asarray(x, np.float64) for x in floats])
    eff = np.ascontiguousarray(np.stack([a["eff_add"], a["eff_set"], a["eff_mask"].astype(np.int64)], axis=1))
    return dict(xi=xi, xf=xf, eff=eff)


# ----- the kernel ----------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _uniform(key: np.uint64, round_: int, move: int, slot: int) -> float:
    ctr = np.uint64((round_ * MAX_MOVES + move) * MAX_SLOTS + slot)
    c = _fmix(ctr * _GOLDEN + _M2)
    return np.float64(_fmix(key ^ c) >> _S11) * _TO_UNIT


@njit(cache=True, inline="always")
def _cmp(x: int, op: int, y: int) -> bool:
    if op == 0:
        return x == y
    if op == 1:
        return x != y
    if op == 2:
        return x < y
    if op == 3:
        return x <= y
    if op == 4:
        return x > y
    return x >= y


# _nrt=False on helpers that take arrays: no reference counting of the arguments at each call
# (measured: it cost more than the work itself).
@njit(cache=True, _nrt=False)
def _eval_all(code, cond_ptr, state, round_, rls, stack, cval) -> None:
    """Evaluate every condition program for one run into `cval` (bool `(n_cond,)`).

    Conditions depend only on (state, round, red-line statuses), which change at a minority of
    moves; the kernel re-evaluates them all when one of those changed ("dirty") and otherwise
    reads the cached values, so a quiet move costs no condition evaluation at all. One flat pass
    over the concatenated programs (the stack restarts at each program's first instruction).
    """
    if cond_ptr.shape[0] < 2:
        return
    c = 0
    top = 0
    end = cond_ptr[1]
    n_instr = cond_ptr[cond_ptr.shape[0] - 1]
    for i in range(n_instr):
        op = code[i, 0]
        if op == OP_VAR:
            stack[top] = _cmp(state[code[i, 1]], code[i, 2], code[i, 3])
            top += 1
        elif op == OP_ROUND:
            stack[top] = _cmp(round_, code[i, 2], code[i, 3])
            top += 1
        elif op == OP_RL:
            stack[top] = rls[code[i, 1]] == code[i, 3]
            top += 1
        elif op == OP_AND or op == OP_OR:
            n = code[i, 1]
            v = stack[top - n]
            for k in range(top - n + 1, top):
                v = (v and stack[k]) if op == OP_AND else (v or stack[k])
            top -= n
            stack[top] = v
            top += 1
        elif op == OP_NOT:
            stack[top - 1] = not stack[top - 1]
        else:
            stack[top] = True
            top += 1
        if i + 1 == end:
            cval[c] = stack[top - 1]
            c += 1
            top = 0
            end = cond_ptr[c + 1] if c + 1 < cond_ptr.shape[0] else 0


@njit(cache=True, inline="always")
def _ckey(state, lo, rls, csr, n_rl, has_round, round_, horizon) -> np.int64:
    # specialise: params _ckey
    k = 0
    for v in range(state.shape[0]):  # specialise: nv
        k += (state[v] - lo[v]) * csr[v]
    for q in range(n_rl):
        k += rls[q] * csr[state.shape[0] + q]  # specialise: nv
    if has_round:
        k = k * (horizon + 1) + round_
    return k


@njit(cache=True, _nrt=False)
def _cond_bits(cache_ok, csr, lo, n_rl, has_round, horizon, hk, hv, fill, code, cond_ptr, state, round_, rls, stack, cval):
    """All condition values for the run's (state, round, statuses) as a bit mask (uint64).

    The combination is keyed by a mixed radix `csr` (when `cache_ok`); `hk`/`hv` (int64/uint64 `(T,)`, T a
    power of two, empty = -1) are an open-addressing cache from ckey to mask, so each distinct
    public state is evaluated once per kernel call (the flagship has a few thousand) instead of at
    every move that changes it.
    """
    # specialise: params _cond_bits
    mask = hk.shape[0] - 1
    h = -1
    ckey = _ckey(state, lo, rls, csr, n_rl, has_round, round_, horizon) if cache_ok else -1
    if ckey >= 0:
        h = np.int64(_fmix(np.uint64(ckey)) & np.uint64(mask))
        while hk[h] != -1:
            if hk[h] == ckey:
                return hv[h]
            h = (h + 1) & mask
    _eval_all(code, cond_ptr, state, round_, rls, stack, cval)
    bits = np.uint64(0)
    for c in range(cond_ptr.shape[0] - 1):
        if cval[c]:
            bits |= np.uint64(1) << np.uint64(c)
    if h >= 0 and fill[0] * 2 < hk.shape[0]:
        hk[h] = ckey
        hv[h] = bits
        fill[0] += 1
    return bits


@njit(cache=True, _nrt=False)
def _cond_lookup(cache_ok, csr, lo, n_rl, has_round, horizon, hk, hv, state, round_, rls):
    """(found, mask): `_cond_bits`'s cache probe alone. The common case, a state seen before,
    then passes five arrays instead of eleven (the call cost more than the probe)."""
    # specialise: params _cond_lookup
    if cache_ok:
        ckey = _ckey(state, lo, rls, csr, n_rl, has_round, round_, horizon)
        mask = hk.shape[0] - 1
        h = np.int64(_fmix(np.uint64(ckey)) & np.uint64(mask))
        while hk[h] != -1:
            if hk[h] == ckey:
                return True, hv[h]
            h = (h + 1) & mask
    return False, np.uint64(0)


@njit(cache=True, _nrt=False)
def _state_hash(state_keys, hk, hv) -> None:
    """Fill the open-addressing map public-state key -> state index (`hk`/`hv` int64 `(T,)`, T a
    power of two >= 2 n_states, empty = -1). Built once per kernel call (a few thousand inserts) so
    that a state's index costs one probe, not a binary search, when the state changes."""
    mask = hk.shape[0] - 1
    for s in range(state_keys.shape[0]):
        h = np.int64(_fmix(np.uint64(state_keys[s])) & np.uint64(mask))
        while hk[h] != -1:
            h = (h + 1) & mask
        hk[h] = state_keys[s]
        hv[h] = s


@njit(cache=True, _nrt=False)
def _state_index(kk, hk, hv) -> np.int64:
    """Index of public-state key kk in the table's `state_keys` (-1: not in the table)."""
    if kk < 0:
        return -1
    mask = hk.shape[0] - 1
    h = np.int64(_fmix(np.uint64(kk)) & np.uint64(mask))
    while hk[h] != -1:
        if hk[h] == kk:
            return hv[h]
        h = (h + 1) & mask
    return -1


@intrinsic
def _prefetch(typingctx, arr, idx):
    """Hint the CPU to start loading the cache line of `arr.flat[idx]` (LLVM's prefetch for
    reading; it changes no value)."""
    if not isinstance(arr, types.Array) or not isinstance(idx, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        i8p = ir.IntType(8).as_pointer()
        size = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(aryty.dtype)))
        off = builder.mul(context.cast(builder, args[1], signature.args[1], types.intp), size)
        ptr = builder.gep(builder.bitcast(ary.data, i8p), [off])
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(arr, idx), codegen


@njit(cache=True, _nrt=False)
def _state_key(state, rls, left, offset, radix, n_rl) -> np.int64:
    """The public-state key of `PolicyTable` (red-line counters count only while pending)."""
    # specialise: params _state_key
    nv = state.shape[0]  # specialise: nv
    kk = 0
    for v in range(nv):
        kk += (state[v] - offset[v]) * radix[v]
    for k in range(n_rl):
        kk += (rls[k] - offset[nv + k]) * radix[nv + k]
        if rls[k] == RL_PENDING:
            kk += (left[k] - offset[nv + n_rl + k]) * radix[nv + n_rl + k]
        else:
            kk += (0 - offset[nv + n_rl + k]) * radix[nv + n_rl + k]
    return kk


# The one place the kernel looks up the policy's storage: swap this (and `PolicyTable`'s arrays)
# for another layout, e.g. sparse belief nodes, without touching the rest of the kernel.
@njit(cache=True, inline="always")
def _table_sigma(block, n_nodes, ka, g, row, b) -> np.int64:
    """Where σ[k, a] of perceived game g at table row `row` (a (state, decision) pair) and
    belief-grid node b starts in the flat strategy array: the mover's strategy per own type k
    and action a (the model's local action index) is `sigma_flat[offset + k * a_max + a]`. `block`: int64
    `(n_games, n_rows)`, each row's block of `n_nodes` nodes of `ka` = k_max * a_max values."""
    return (block[g, row] * n_nodes + b) * ka


@njit(cache=True, inline="always")
def _logit_prob(sig_flat, c_idx, c_w, nc, g, t, a, a_max):
    """Probability of action a for type t from a table of log-probabilities ("logit" strategies):
    exp(Σ_c w_c L[c, t, a]) / Σ_b exp(Σ_c w_c L[c, t, b]) over the `nc` stencil corners of belief
    array g, as `crisislab.crisis.Solution.strategy` computes it (padding holds `LOG_ZERO`: 0)."""
    tot = 0.0
    num = 0.0
    for b in range(a_max):
        z = 0.0
        for cc in range(nc):
            z += c_w[g, cc] * sig_flat[c_idx[g, cc] + t * a_max + b]
        e = np.exp(z)
        tot += e
        if b == a:
            num = e
    return num / tot


@njit(cache=True, inline="always")
def _cell(x, grid_G, grid_x):
    """Node interval `lo` (0 .. grid_G-2) and fraction in it of a belief coordinate x in [0, 1]:
    on the uniform grid of `grid_G` points when `grid_x` is empty, else on the sorted nodes
    `grid_x` (binary search; as `crisislab.crisis.belief_corners` computes it)."""
    if grid_x.shape[0] == 0:
        pos = x * (grid_G - 1)
        lo = min(np.int64(np.floor(pos)), grid_G - 2)
        return lo, pos - lo
    lo = 0
    hi = grid_G - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if grid_x[mid] <= x:
            lo = mid
        else:
            hi = mid
    fr = (x - grid_x[lo]) / (grid_x[lo + 1] - grid_x[lo])
    return lo, min(max(fr, 0.0), 1.0)


@njit(cache=True, _nrt=False)
def _stencil(bel, stc, grid_G, grid_x, n_active, c_node, c_w) -> None:
    """Multilinear interpolation stencil of every belief array `bel` (float64 `(n_bg, n_belief)`):
    corner nodes `c_node` and weights `c_w` (`(n_bg, n_corners)`). The coordinate of each grid
    actor is its first type's probability, clipped to [0, 1]. `stc` (int64, see `run_chunk`):
    per grid actor q its coordinate's index in `bel` (`stc[q]`) and node stride
    (`stc[n_active + q]`), then per corner c its node offset (`stc[2 n_active + c]`) and which end
    of each actor's interval it takes (`stc[2 n_active + n_corners + c * n_active + q]`). Weights
    are products over the actors in order from 1.0, as in `_engine`. `grid_x`: the belief nodes
    when they are not uniform (empty for the uniform grid of `grid_G` points; `_cell`).

    Four arrays, not ten (a call's cost is per array argument), and two grid actors (four
    corners, the usual case) written out: A/B in one process against the ten-array loop version,
    crisis policy on the flagship 1.18x at grid 3, 1.11x at grid 5, outputs identical. The
    general loop is compared with the written-out path in tests/simulation/test_kernel.py.
    """
    # specialise: params _stencil
    nc = c_node.shape[1]  # specialise: n_corners
    if n_active == 2:
        # Corner c takes the upper end of actor q's interval when bit q of c is set (`run_chunk`).
        s0, s1 = stc[2], stc[3]
        for g in range(bel.shape[0]):  # specialise: n_bg
            l0, f0 = _cell(min(max(bel[g, stc[0]], 0.0), 1.0), grid_G, grid_x)
            l1, f1 = _cell(min(max(bel[g, stc[1]], 0.0), 1.0), grid_G, grid_x)
            base = l0 * s0 + l1 * s1
            e0 = 1.0 - f0
            e1 = 1.0 - f1
            c_w[g, 0] = e0 * e1
            c_w[g, 1] = f0 * e1
            c_w[g, 2] = e0 * f1
            c_w[g, 3] = f0 * f1
            c_node[g, 0] = base
            c_node[g, 1] = base + s0
            c_node[g, 2] = base + s1
            c_node[g, 3] = base + s0 + s1
        return
    o_off = 2 * n_active
    o_bit = o_off + nc
    for g in range(bel.shape[0]):  # specialise: n_bg
        base = 0
        for c in range(nc):
            c_w[g, c] = 1.0
        for q in range(n_active):
            lo_i, fr = _cell(min(max(bel[g, stc[q]], 0.0), 1.0), grid_G, grid_x)
            base += lo_i * stc[n_active + q]
            for c in range(nc):
                c_w[g, c] *= fr if stc[o_bit + c * n_active + q] else 1.0 - fr
        for c in range(nc):
            c_node[g, c] = base + stc[o_off + c]


@njit(cache=True, inline="always")
def _bit(bits: np.uint64, c: int) -> bool:
    return ((bits >> np.uint64(c)) & np.uint64(1)) != np.uint64(0)


@njit(cache=True, inline="always")
def _apply(e, eff, state, lohi) -> None:
    """Apply effect e (`eff` rows: add, set value, set mask) and clip to `lohi` (int64 `(2, nv)`)."""
    if e < 0:
        return
    for v in range(state.shape[0]):  # specialise: nv
        x = eff[e, 1, v] if eff[e, 2, v] != 0 else state[v] + eff[e, 0, v]
        state[v] = min(max(x, lohi[0, v]), lohi[1, v])


@njit(cache=True, inline="always")
def _casualty(ci, u, xi, xf, state, casualties, lohi) -> None:
    row = xi[_X_CAS] + 4 * ci
    start, size = xi[row + 2], xi[row + 3]
    if size <= 1:
        return
    cdf0 = xi[_X_FCDF] + start
    # searchsorted(cdf, u, side="right"): the number of table entries <= u.
    lo_, hi_ = 0, size
    while lo_ < hi_:
        mid = (lo_ + hi_) >> 1
        if xf[cdf0 + mid] <= u:
            lo_ = mid + 1
        else:
            hi_ = mid
    k = min(lo_, size - 1)
    casualties[xi[row]] += k
    into = xi[row + 1]
    if into >= 0:
        state[into] = min(state[into] + k, lohi[1, into])


# The RNG slot of a consequence (`crisislab.model.rules.consequence_slot`, compiled into the kernel).
_slot = njit(inline="always")(consequence_slot)


@njit(cache=True, inline="always")
def _error_consequences(e, ci, depth, key, r, m, xi, xf, eff, state, casualties, lohi) -> None:
    """A fired error e's own effect and casualty tables (drawn in consequence slot ci at nesting
    `depth`): what both an error that turns the action into another and an error among an action's
    other consequences do once fired. Inlined (numba IR), so `_execute` compiles as before."""
    o_errs, o_casp, o_casl, o_cas = xi[_X_ERRS], xi[_X_CASP], xi[_X_CASL], xi[_X_CAS]
    _apply(xi[o_errs + 5 * e + 3], eff, state, lohi)
    lst = xi[o_errs + 5 * e + 4]
    k0 = xi[o_casp + lst]
    for k in range(k0, xi[o_casp + lst + 1]):
        c = xi[o_casl + k]
        if xi[o_cas + 4 * c + 3] > 1:
            _casualty(c, _uniform(key, r, m, _slot(depth, ci, 1 + k - k0)), xi, xf, state, casualties, lohi)


@njit(cache=True, _nrt=False)
def _on_answer(answered, rl, eff, state, lohi, prev, smax, smin) -> bool:
    """Apply the `on_answer` effects of the red lines flagged in `answered` (and clear the flags);
    update the run's maximum and minimum with the move's final state. Returns whether the state
    changed. Not inlined: rare, and the main loop stays as small as it was."""
    for v in range(state.shape[0]):
        prev[v] = state[v]
    for k in range(answered.shape[0]):
        if answered[k]:
            answered[k] = False
            _apply(rl[k, 4], eff, state, lohi)
    moved = False
    for v in range(state.shape[0]):
        if prev[v] != state[v]:
            moved = True
        if state[v] > smax[v]:
            smax[v] = state[v]
        if state[v] < smin[v]:
            smin[v] = state[v]
    return moved


@njit(cache=True, _nrt=False)
def _outcome_casualties(o, key, r, m, xi, xf, state, casualties, lohi) -> None:
    """Deaths outcome o carries, drawn at the move (r, m) that ends the run, each table in its own
    slot. Not inlined: it runs once per run at most, and the main loop stays as small as it was."""
    q0 = xi[xi[_X_OCASP] + o]
    for q in range(q0, xi[xi[_X_OCASP] + o + 1]):
        c = xi[xi[_X_OCASL] + q]
        if xi[xi[_X_CAS] + 4 * c + 3] > 1:
            _casualty(c, _uniform(key, r, m, SLOT_OUTCOME_CASUALTIES + q - q0), xi, xf, state, casualties, lohi)


# _nrt=False: no reference counting of the array arguments at each call (it dominated the loop).
@njit(cache=True, _nrt=False)
def _execute(g, key, r, m, xi, xf, eff, state, casualties, lohi, chain):
    """Execute global action g (errors that turn it into another first); returns the executed action.

    Same semantics as `_engine._execute_action`, iterative: walk down the `becomes` chain recording
    the fired errors, execute the last action fully, then apply the errors' effects and nested
    casualties from the deepest up (the order the recursion unwinds in). The tables are read from
    `xi`/`xf`/`eff` (`_pack_execution`).
    """
    o_act, o_errs, o_becp, o_bec = xi[_X_ACT], xi[_X_ERRS], xi[_X_BECP], xi[_X_BEC]
    o_othp, o_oth, o_othi, o_cas = xi[_X_OTHP], xi[_X_OTH], xi[_X_OTHI], xi[_X_CAS]
    o_attr, o_errp = xi[_X_FATTR], xi[_X_FERR]
    depth = 0
    a = g
    while depth < MAX_BECOMES_DEPTH:
        fired = -1
        for q in range(xi[o_becp + a], xi[o_becp + a + 1]):
            e = xi[o_bec + q]
            if _uniform(key, r, m, _slot(depth, xi[o_errs + 5 * e], 0)) < xf[o_errp + e]:
                fired = e
                break
        if fired < 0:
            break
        chain[depth] = fired
        depth += 1
        a = xi[o_errs + 5 * fired + 2]
    # The action finally executed, at nesting `depth`.
    ra = o_act + 6 * a
    if xi[ra + 2] >= 0:
        if _uniform(key, r, m, _slot(depth, xi[ra + 2], 0)) < xf[o_attr + a]:
            _apply(xi[ra], eff, state, lohi)
        else:
            _apply(xi[ra + 3], eff, state, lohi)
    else:
        _apply(xi[ra], eff, state, lohi)
    for q in range(xi[o_othp + a], xi[o_othp + a + 1]):
        ro = o_oth + 3 * xi[o_othi + q]
        ci = xi[ro + 1]
        if xi[ro] == 0:
            if xi[o_cas + 4 * xi[ro + 2] + 3] > 1:
                _casualty(xi[ro + 2], _uniform(key, r, m, _slot(depth, ci, 0)), xi, xf, state, casualties, lohi)
        else:
            e = xi[ro + 2]
            if _uniform(key, r, m, _slot(depth, ci, 0)) < xf[o_errp + e]:
                _error_consequences(e, ci, depth, key, r, m, xi, xf, eff, state, casualties, lohi)
    for dd in range(depth - 1, -1, -1):
        e = chain[dd]
        _error_consequences(e, xi[o_errs + 5 * e], dd, key, r, m, xi, xf, eff, state, casualties, lohi)
    return a


@njit(cache=True)
def run_chunk(
    keys, S, A, I, P, out, agg, rec
):  # pragma: no cover - compiled
    """Play every run of a chunk from its type draw to its outcome.

    `keys`: uint64 `(n,)` run keys. `S`: spec arrays tuple; `A`: action arrays tuple (see
    `_kernel_engine._call` for the order); `I`: int64 `(8,)` scalars (n_rl, n_forces, horizon,
    horizon outcome, record actions, record paths, miss mode, number of belief arrays);
    `P`: the policy table tuple (`_policy.PolicyTable`); `out`: per-run outputs, `agg`: additive
    aggregates, `rec`: recorded actions / paths (all written). Returns (run_steps, misses,
    fallbacks). A run is played move by move exactly as `_engine._reference_chunk` plays all runs
    at once; the comments name what is cached and why.
    """
    (lo, hi, initial, prior_cdf, n_types, bel_start, code, cond_ptr, mover, ladder, rungs, rule_ptr, rules, rule_idx,
     rule_p, rule_tab, rl, rl_aud, out_cond, forbidden, forces, script, bg_of_holder, bg_game, init_bel) = S
    # Unpacked once: taking arrays out of a tuple in the loop costs reference-count updates.
    (eff_add, eff_set, eff_mask, cas_t, cdf, act, act_attr_p, errs, err_p, bec_ptr, bec, oth_ptr, oth, oth_idx, cas_ptr,
     cas_list, xi, xf, eff) = A
    (dec, keyed, radix, offset, state_keys, block, n_dec, grid_G, grid_x, grid_sizes, grid_strides, sigma, logit) = P
    sig_flat = sigma.reshape(sigma.size)
    (o_types, o_outcome, o_end, o_cas, o_aud, o_rls, o_rounds, o_ll, miss_d, miss_state, o_smax, o_smin) = out
    (hist_live, hist_delta, bsum_alive, bsum_delta, n_alive) = agg
    (actions_rec, p_action, p_exec, p_state, p_bel, p_live) = rec
    n_rl, n_forces, H, horizon_outcome, record_actions, record_paths, miss_mode, n_bg = (
        I[0], I[1], I[2], I[3], I[4], I[5], I[6], I[7]
    )
    n = keys.shape[0]
    nv = lo.shape[0]
    M = mover.shape[0]
    n_actors = n_types.shape[0]
    n_belief = init_bel.shape[1]
    k_max = sigma.shape[2]
    a_max = ladder.shape[1]
    n_out = out_cond.shape[0]
    B = sigma.shape[1]
    n_corners = 1
    for j in range(n_actors):
        if grid_sizes[j] > 1:
            n_corners *= 2

    state = np.empty(nv, np.int64)
    lohi = np.empty((2, nv), np.int64)
    for v in range(nv):
        lohi[0, v] = lo[v]
        lohi[1, v] = hi[v]
    rls = np.zeros(max(n_rl, 1), np.int64)
    left = np.zeros(max(n_rl, 1), np.int64)
    bel = np.empty((n_bg, n_belief))
    types = np.empty(n_actors, np.int64)
    cas = np.zeros(o_cas.shape[1], np.int64)
    stack = np.zeros(_STACK, np.bool_)
    chain = np.zeros(MAX_BECOMES_DEPTH + 1, np.int64)
    answered = np.zeros(max(n_rl, 1), np.bool_)  # red lines the current move answered
    # Scenarios without actions that end the crisis or outcomes with casualties skip those checks.
    has_ends = False
    for a in range(act.shape[0]):
        if act[a, 4] >= 0:
            has_ends = True
    has_ocas = xi[xi[_X_OCASP] + out_cond.shape[0]] > 0
    c_idx = np.zeros((n_bg, max(n_corners, 1)), np.int64)
    c_w = np.zeros((n_bg, max(n_corners, 1)))
    n_c = np.zeros(n_bg, np.int64)
    ka = k_max * a_max
    lk = np.zeros(k_max)
    # The stencil's corners, packed for `_stencil` (layout there): the belief-grid actors
    # (grid_sizes > 1), their coordinates and node strides, and per corner its node offset from the
    # base node and which end of each actor's interval it takes (same order as `_engine`'s
    # interpolation: corner bits in actor order, actors off the grid skipped).
    act_j = np.zeros(max(n_actors, 1), np.int64)
    n_active = 0
    for j in range(n_actors):
        if grid_sizes[j] > 1:
            act_j[n_active] = j
            n_active += 1
    stc = np.zeros(2 * n_active + n_corners * (1 + n_active), np.int64)
    o_off = 2 * n_active
    o_bit = o_off + n_corners
    for q in range(n_active):
        stc[q] = bel_start[act_j[q]]
        stc[n_active + q] = grid_strides[act_j[q]]
    c = 0
    for corner in range(1 << n_actors):
        skip = False
        for j in range(n_actors):
            if grid_sizes[j] == 1 and (corner >> j) & 1:
                skip = True
        if skip:
            continue
        for q in range(n_active):
            bit = (corner >> act_j[q]) & 1
            stc[o_bit + c * n_active + q] = bit
            stc[o_off + c] += bit * grid_strides[act_j[q]]
        c += 1
    c_node = np.zeros((n_bg, max(n_corners, 1)), np.int64)
    st_ok = False  # c_node / c_w hold the stencil of the run's current beliefs
    steps = 0
    misses = 0
    fallbacks = 0
    n_cond = cond_ptr.shape[0] - 1

    cval = np.zeros(max(n_cond, 1), np.bool_)
    has_round = False
    for q in range(code.shape[0]):
        if code[q, 0] == OP_ROUND:
            has_round = True
    # An action "touches" the run's state when it has effects or chance consequences; a quiet
    # action (the status quo) leaves every condition as it was.
    prev = np.empty(nv, np.int64)
    # Condition cache key: mixed radix over (variables, statuses[, round]); -1 disables it.
    csr = np.zeros(nv + max(n_rl, 1), np.int64)
    span = 1
    for v in range(nv):
        csr[v] = span
        span *= hi[v] - lo[v] + 1
    for k in range(n_rl):
        csr[nv + k] = span
        span *= 4
    cache_ok = span < (1 << 50)
    ch_k = np.full(1 << 14, -1, np.int64)
    ch_v = np.zeros(1 << 14, np.uint64)
    ch_fill = np.zeros(1, np.int64)
    bver = 0
    nbits = np.uint64(0)
    kk = 0
    kdirty = True
    pc_p = np.zeros((M, a_max))
    pc_cdf = np.zeros((M, a_max))
    pc_row = np.full(M, -2, np.int64)
    pc_bv = np.full(M, -1, np.int64)
    pc_t = np.full(M, -1, np.int64)
    # Public-state key -> state index; a table row is (state, decision) = s * n_dec + d.
    sh_size = 1024
    while sh_size < 2 * state_keys.shape[0]:
        sh_size *= 2
    sh_k = np.full(sh_size, -1, np.int64)
    sh_v = np.zeros(sh_size, np.int64)
    if keyed:
        _state_hash(state_keys, sh_k, sh_v)
    s_idx = 0  # the run's current public state's index (keyed tables), valid while not kdirty
    # The next strategic slot after each slot (slot, rounds ahead), to prefetch its strategy.
    nxt = np.full((M, 2), -1, np.int64)
    for m in range(M):
        for q in range(1, M + 1):
            if mover[(m + q) % M, 0] >= 0:
                nxt[m, 0] = (m + q) % M
                nxt[m, 1] = (m + q) // M
                break
    # Only worth it when the table does not sit in the core's own caches.
    prefetch = keyed and sigma.size * sigma.itemsize > (1 << 21)
    bits = np.uint64(0)
    touches = np.zeros(act.shape[0], np.bool_)
    for a in range(act.shape[0]):
        touches[a] = act[a, 0] >= 0 or act[a, 2] >= 0 or bec_ptr[a + 1] > bec_ptr[a] or oth_ptr[a + 1] > oth_ptr[a]
    # A quiet action (touches nothing) executes as itself with no draw; a plain one only applies
    # its effect (no attribution, errors or consequences).
    plain = np.zeros(act.shape[0], np.bool_)
    for a in range(act.shape[0]):
        plain[a] = act[a, 2] < 0 and bec_ptr[a + 1] == bec_ptr[a] and oth_ptr[a + 1] == oth_ptr[a]

    # --- a run: type draw, initial state ------------------------------------------------------
    # specialise: checks
    for i in range(n):
        key = keys[i]
        for j in range(n_actors):
            u = _uniform(key, 0, j, 0)
            t = 0
            for q in range(n_types[j]):
                if prior_cdf[j, q] <= u:
                    t += 1
            types[j] = min(t, n_types[j] - 1)
            o_types[i, j] = types[j]
        for v in range(nv):
            state[v] = initial[v]
            o_smax[i, v] = initial[v]
            o_smin[i, v] = initial[v]
        for k in range(n_rl):
            rls[k] = RL_INACTIVE
            left[k] = 0
            answered[k] = False
        for g in range(n_bg):
            for q in range(n_belief):
                bel[g, q] = init_bel[g, q]
        for s in range(cas.shape[0]):
            cas[s] = 0
        st_ok = False
        ll = 0.0
        lik = 1.0
        for j in range(n_actors):
            o_aud[i, j] = 0.0
        # Round 0 aggregates.
        for v in range(nv):
            hist_live[0, v, state[v] - lo[v]] += 1
        for h in range(n_actors):
            g = bg_of_holder[h]
            for q in range(n_belief):
                bsum_alive[0, h, q] += np.int64(np.rint(bel[g, q] * BELIEF_QUANTUM))
        n_alive[0] += 1
        ended = False
        aborted = False
        dirty = True
        changed = True
        kdirty = True
        outcome = horizon_outcome
        end_round = H
        n_answered = 0
        # --- each round, each slot: the loop's own bookkeeping ---------------------------------
        for r in range(1, H + 1):
            if has_round:
                dirty = True
                changed = True
                kdirty = True
            for m in range(M):
                steps += 1
                j = mover[m, 0]
                n_a = mover[m, 1]  # specialise: NA
                if j >= 0:
                    # --- strategic move: strategy rows of every perceived game -------------------
                    d = dec[r, m]
                    row = d
                    if keyed:
                        if kdirty:
                            # The public-state key and its index, recomputed only after the state,
                            # a status or a pending red line's counter changed.
                            kk = _state_key(state, rls, left, offset, radix, n_rl)
                            s_idx = _state_index(kk, sh_k, sh_v)
                            kdirty = False
                        row = s_idx * n_dec + d if s_idx >= 0 else -1
                    # All games of a row are tabulated together: game 0 tells whether it is.
                    if row >= 0 and block[0, row] < 0:
                        row = -1
                    kj = n_types[j]  # specialise: KJ
                    if row < 0:
                        if miss_mode >= 1:
                            # Unknown state: record it. Mode 1 abandons the run (the chunk is
                            # replayed once the policy has been evaluated there); mode 2, used
                            # to discover states, plays on uniformly to find more of them.
                            if misses < miss_d.shape[0]:
                                miss_d[misses] = d
                                for v in range(nv):
                                    miss_state[misses, v] = state[v]
                                for k in range(n_rl):
                                    miss_state[misses, nv + k] = rls[k]
                                    miss_state[misses, nv + n_rl + k] = left[k]
                                misses += 1
                            aborted = True
                            if miss_mode == 1:
                                break
                        # A state the policy does not know is played uniformly and counted.
                        fallbacks += 1
                    elif B > 1:
                        # Interpolation stencil of each belief array: corners (where their strategy
                        # starts) and weights; the strategy itself is read only where needed: the
                        # own type's row, the chosen column. The corners and weights depend on the
                        # beliefs only, so the prefetch after the last strategic move has usually
                        # computed them already (beliefs change only at strategic moves).
                        if not st_ok:
                            _stencil(bel, stc, grid_G, grid_x, n_active, c_node, c_w)
                            st_ok = True
                        for g in range(n_bg):
                            for c in range(n_corners):
                                c_idx[g, c] = _table_sigma(block, B, ka, bg_game[g], row, c_node[g, c])
                            n_c[g] = n_corners
                    else:
                        for g in range(n_bg):
                            c_idx[g, 0] = _table_sigma(block, B, ka, bg_game[g], row, 0)
                            c_w[g, 0] = 1.0
                            n_c[g] = 1
                    # --- own strategy, masked; inverse-CDF draw ----------------------------------
                    own = bg_of_holder[j]
                    tj = types[j]
                    # The condition refresh below is written out at its four sites on purpose: as
                    # one tuple-returning helper it cost 16% (crisis) and 26% (myopic) of throughput
                    # (A/B in one process, thread-CPU medians, identical outputs).
                    if dirty:
                        hit, nbits = _cond_lookup(cache_ok, csr, lo, n_rl, has_round, H, ch_k, ch_v, state, r, rls)
                        if not hit:
                            nbits = _cond_bits(cache_ok, csr, lo, n_rl, has_round, H, ch_k, ch_v, ch_fill, code, cond_ptr, state, r, rls, stack, cval)
                        if nbits != bits:  # the cached masked rows stay valid when no value changed
                            bits = nbits
                            bver += 1
                        dirty = False
                    # The masked row depends on (row, type, condition values) only; with a
                    # belief-free table it is reused while those stay the same (quiet rounds).
                    if not (B == 1 and row >= 0 and pc_row[m] == row and pc_bv[m] == bver and pc_t[m] == tj):
                        tot = 0.0
                        for a in range(n_a):
                            ga = ladder[m, a]
                            fb = forbidden[ga]
                            ok = fb == -2 or (fb >= 0 and not _bit(bits, fb))
                            if ok and act[ga, 1] >= 0:
                                ok = _bit(bits, act[ga, 1])
                            if not ok:
                                x = 0.0
                            elif row < 0:
                                x = 1.0 / n_a
                            elif logit:
                                x = _logit_prob(sig_flat, c_idx, c_w, n_c[own], own, tj, a, a_max)
                            elif B == 1:
                                x = sig_flat[c_idx[own, 0] + tj * a_max + a]
                            else:
                                x = 0.0
                                for cc in range(n_c[own]):  # specialise: n_c_own
                                    x += c_w[own, cc] * sig_flat[c_idx[own, cc] + tj * a_max + a]
                            pc_p[m, a] = x
                            tot += x
                        if tot <= 0.0:
                            pc_p[m, mover[m, 2]] = 1.0
                        # cumsum, then the number of bins whose cdf < u * total (the engine's rule).
                        acc = 0.0
                        for a in range(n_a):
                            acc += pc_p[m, a]
                            pc_cdf[m, a] = acc
                        pc_row[m] = row if (B == 1 and row >= 0) else -2
                        pc_bv[m] = bver
                        pc_t[m] = tj
                    u = _uniform(key, r, m, 0)
                    thr = u * pc_cdf[m, n_a - 1]
                    chosen = 0
                    for a in range(n_a):
                        if pc_cdf[m, a] < thr:
                            chosen += 1
                    chosen = min(chosen, n_a - 1)
                    for f in range(n_forces):
                        if forces[f, 0] != j:
                            continue
                        if forces[f, 2] >= 0:
                            fire = forces[f, 2] == r
                        else:
                            fire = forces[f, 3] >= 0 and _bit(bits, forces[f, 3])
                        if fire:  # only where the forced action is available and not forbidden
                            ga = ladder[m, forces[f, 1]]
                            fb = forbidden[ga]
                            if (fb == -2 or (fb >= 0 and not _bit(bits, fb))) and (act[ga, 1] < 0 or _bit(bits, act[ga, 1])):
                                chosen = forces[f, 1]
                    sg = script[r - 1, m]
                    if sg != SCRIPT_FREE:
                        if sg < 0:
                            chosen = mover[m, 2]
                        else:
                            for a in range(n_a):
                                if ladder[m, a] == sg:
                                    chosen = a
                    lik *= pc_p[m, chosen] / pc_cdf[m, n_a - 1]
                    # --- Bayes' rule in every perceived game ---------------------------------------
                    s0 = bel_start[j]
                    pc = chosen
                    for g in range(n_bg):
                        for t in range(kj):
                            if row < 0:
                                lk[t] = 1.0 / n_a
                            elif logit:
                                lk[t] = _logit_prob(sig_flat, c_idx, c_w, n_c[g], g, t, pc, a_max)
                            elif B == 1:
                                lk[t] = sig_flat[c_idx[g, 0] + t * a_max + pc]
                            else:
                                acc = 0.0
                                for cc in range(n_c[g]):  # specialise: n_c_g
                                    acc += c_w[g, cc] * sig_flat[c_idx[g, cc] + t * a_max + pc]
                                lk[t] = acc
                        tot = 0.0
                        for t in range(kj):
                            tot += bel[g, s0 + t] * lk[t]
                        if tot > _TINY:
                            for t in range(kj):
                                bel[g, s0 + t] = bel[g, s0 + t] * lk[t] / tot
                    st_ok = False  # the beliefs changed
                    # --- the mover's red lines ------------------------------------------------------
                    for k in range(n_rl):
                        if rl[k, 0] != j or rls[k] != RL_PENDING:
                            continue
                        if rungs[m, chosen] >= rl[k, 2]:
                            rls[k] = RL_ANSWERED
                            if rl[k, 4] >= 0:
                                answered[k] = True
                                n_answered += 1
                            dirty = True
                            changed = True
                            kdirty = True
                        else:
                            left[k] -= 1
                            kdirty = True
                            if left[k] <= 0:
                                rls[k] = RL_FAILED
                                dirty = True
                                changed = True
                                kdirty = True
                                o_aud[i, j] += rl_aud[k, tj]
                    g_chosen = ladder[m, chosen]
                else:
                    # --- environment actor: the first rule whose condition holds -------------------
                    prob = 0.0
                    act_r = -1
                    if dirty:
                        hit, nbits = _cond_lookup(cache_ok, csr, lo, n_rl, has_round, H, ch_k, ch_v, state, r, rls)
                        if not hit:
                            nbits = _cond_bits(cache_ok, csr, lo, n_rl, has_round, H, ch_k, ch_v, ch_fill, code, cond_ptr, state, r, rls, stack, cval)
                        if nbits != bits:  # the cached masked rows stay valid when no value changed
                            bits = nbits
                            bver += 1
                        dirty = False
                    for q in range(rule_ptr[m], rule_ptr[m + 1]):
                        ru = rule_idx[q]
                        if rules[ru, 0] < 0 or _bit(bits, rules[ru, 0]):
                            if rules[ru, 2] >= 0:
                                prob = rule_tab[rules[ru, 3] + state[rules[ru, 2]] - lo[rules[ru, 2]]]
                            else:
                                prob = rule_p[ru]
                            act_r = rules[ru, 1]
                            break
                    sg = script[r - 1, m]
                    if sg == SCRIPT_FREE:
                        # A rule that cannot fire needs no draw (the streams are counter-based,
                        # so skipping it changes no other number).
                        if prob > 0.0 and _uniform(key, r, m, 0) < prob:
                            g_chosen = act_r
                            lik *= prob
                        else:
                            g_chosen = -1
                            lik *= 1.0 - min(prob, 1.0)
                    elif sg < 0:
                        g_chosen = -1
                        lik *= 1.0 - min(prob, 1.0)
                    else:
                        g_chosen = sg
                        lik *= prob if act_r == sg else 0.0
                # --- execute, red-line crossings, outcomes ------------------------------------------
                executed = -1
                if g_chosen >= 0:
                    # The round's bit in the action's round mask (bit r - 1 of the packed bytes).
                    o_rounds[i, g_chosen, (r - 1) >> 3] |= np.uint8(1 << ((r - 1) & 7))
                    executed = g_chosen
                    if touches[g_chosen]:
                        for v in range(nv):
                            prev[v] = state[v]
                        if plain[g_chosen]:
                            # An effect and nothing else: `_execute` would only apply it (its call,
                            # with two dozen arrays, costs more than the work).
                            _apply(act[g_chosen, 0], eff, state, lohi)
                        else:
                            executed = _execute(g_chosen, key, r, m, xi, xf, eff, state, cas, lohi, chain)
                        for v in range(nv):
                            if prev[v] != state[v]:
                                dirty = True
                                changed = True
                                kdirty = True
                                # the move's state is final after any `on_answer` effects (below)
                                if n_answered == 0:
                                    if state[v] > o_smax[i, v]:
                                        o_smax[i, v] = state[v]
                                    if state[v] < o_smin[i, v]:
                                        o_smin[i, v] = state[v]
                if n_answered > 0:
                    # The answered red lines' own effects, after the act's effects and consequences.
                    n_answered = 0
                    if _on_answer(answered, rl, eff, state, lohi, prev, o_smax[i], o_smin[i]):
                        dirty = True
                        changed = True
                        kdirty = True
                if lik < 1e-280:
                    # The log-likelihood is kept as a product, folded into its log before it
                    # could underflow: one log per run instead of one per move.
                    ll += np.log(lik) if lik > 0.0 else -np.inf
                    lik = 1.0
                if record_actions:
                    actions_rec[i, (r - 1) * M + m] = executed
                # Crossings and outcomes can only change when the state or a status did.
                if changed:
                    for k in range(n_rl):
                        if rls[k] == RL_INACTIVE:
                            if dirty:
                                hit, nbits = _cond_lookup(cache_ok, csr, lo, n_rl, has_round, H, ch_k, ch_v, state, r, rls)
                                if not hit:
                                    nbits = _cond_bits(cache_ok, csr, lo, n_rl, has_round, H, ch_k, ch_v, ch_fill, code, cond_ptr, state, r, rls, stack, cval)
                                if nbits != bits:  # the cached masked rows stay valid when no value changed
                                    bits = nbits
                                    bver += 1
                                dirty = False
                            if _bit(bits, rl[k, 1]):
                                rls[k] = RL_PENDING
                                left[k] = rl[k, 3]
                                dirty = True
                                changed = True
                                kdirty = True
                    if dirty:
                        hit, nbits = _cond_lookup(cache_ok, csr, lo, n_rl, has_round, H, ch_k, ch_v, state, r, rls)
                        if not hit:
                            nbits = _cond_bits(cache_ok, csr, lo, n_rl, has_round, H, ch_k, ch_v, ch_fill, code, cond_ptr, state, r, rls, stack, cval)
                        if nbits != bits:  # the cached masked rows stay valid when no value changed
                            bits = nbits
                            bver += 1
                        dirty = False
                    for o in range(n_out):
                        if out_cond[o] >= 0 and _bit(bits, out_cond[o]):
                            outcome = o
                            end_round = r
                            ended = True
                            break
                    changed = False
                # An action that ends the crisis does so whatever outcome condition holds.
                if has_ends and executed >= 0 and act[executed, 4] >= 0:
                    outcome = act[executed, 4]
                    end_round = r
                    ended = True
                if has_ocas and ended:
                    _outcome_casualties(outcome, key, r, m, xi, xf, state, cas, lohi)
                # --- prefetch the next strategic move's strategy lines --------------------------------
                # After a strategic move, start loading the strategy lines the next strategic move
                # will read (if the public state stays as it is now): its stencil's corner nodes in
                # every belief array's game (beliefs do not change before then). Its cache misses
                # then overlap with the moves in between instead of stalling that move.
                if prefetch and j >= 0 and not ended and not aborted and nxt[m, 0] >= 0 and r + nxt[m, 1] <= H:
                    if kdirty:
                        kk = _state_key(state, rls, left, offset, radix, n_rl)
                        s_idx = _state_index(kk, sh_k, sh_v)
                        kdirty = False
                    if s_idx >= 0:
                        row2 = s_idx * n_dec + dec[r + nxt[m, 1], nxt[m, 0]]
                        if B > 1:
                            # The next strategic move's stencil (its beliefs are the current ones).
                            _stencil(bel, stc, grid_G, grid_x, n_active, c_node, c_w)
                            st_ok = True
                        for g in range(n_bg):
                            for cc in range(n_c[g]):  # specialise: n_c_g
                                f = _table_sigma(block, B, ka, bg_game[g], row2, c_node[g, cc] if B > 1 else 0)
                                if f >= 0:
                                    _prefetch(sig_flat, f)
                                    _prefetch(sig_flat, f + ka - 1)
                # --- recording -----------------------------------------------------------------------
                if record_paths:
                    col = (r - 1) * M + m
                    p_live[i, col] = True
                    p_action[i, col] = g_chosen
                    p_exec[i, col] = executed
                    for v in range(nv):
                        p_state[i, col, v] = state[v]
                    for h in range(n_actors):
                        g = bg_of_holder[h]
                        for q in range(n_belief):
                            p_bel[i, col, h, q] = bel[g, q]
                if ended:
                    break
            # --- end of round: per-round aggregates ----------------------------------------------
            if aborted and miss_mode == 1:
                break
            if ended:
                # The run's final state counts in every later round's aggregates (cumulated later).
                for v in range(nv):
                    hist_delta[r, v, state[v] - lo[v]] += 1
                for h in range(n_actors):
                    g = bg_of_holder[h]
                    for q in range(n_belief):
                        bsum_delta[r, h, q] += np.int64(np.rint(bel[g, q] * BELIEF_QUANTUM))
                break
            for v in range(nv):
                hist_live[r, v, state[v] - lo[v]] += 1
            for h in range(n_actors):
                g = bg_of_holder[h]
                for q in range(n_belief):
                    bsum_alive[r, h, q] += np.int64(np.rint(bel[g, q] * BELIEF_QUANTUM))
            n_alive[r] += 1
        # --- a run's outputs --------------------------------------------------------------------
        o_outcome[i] = outcome
        o_end[i] = -1 if aborted else end_round
        o_ll[i] = ll + np.log(lik) if lik > 0.0 else -np.inf
        for s in range(cas.shape[0]):
            o_cas[i, s] = cas[s]
        for k in range(n_rl):
            o_rls[i, k] = rls[k]
    return steps, misses, fallbacks

