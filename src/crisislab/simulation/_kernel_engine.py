"""Glue between `simulate_chunk` and the compiled kernel: packing, output buffers, table misses.

`kernel_inputs` packs a spec and arm once (cached) and asks the policy for its table;
`kernel_chunk` allocates the chunk's output arrays, calls `_kernels.run_chunk`, and, when a lazily
tabulated policy met public states it has not evaluated yet, adds them to the table and replays
(first only the runs that met them, until none does, then the whole chunk, so that the chunk's
aggregates come from one clean pass). It returns the same `ChunkResult` as the numpy engine.

Which kernel plays a chunk (`CRISISLAB_KERNEL`; the results are the same bits either way):
`specialised` compiles a copy of the kernel specialised to the scenario's and table's shape
(`_specialise`: ~30 s once per shape, then cached on disk) and plays it, 1.2-1.4x faster on the
flagship; `general` plays the general kernel (compiled once for every scenario); `auto`, the
default, plays the specialised kernel when this machine has already compiled it for the shape and
the general one otherwise, so no call pays a compile it did not ask for. The general kernel stays
the fallback (a specialised kernel that cannot be rendered, compiled or does not match its inputs
warns once and is not used again) and the reference the specialised ones are tested against.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crisislab._cache import warn_once
from crisislab._compiled import read_only
from crisislab.model import Model
from crisislab.simulation import _specialise as sp
from crisislab.simulation._chunk import Arm, ChunkResult, any_round, path_representatives, round_mask_bytes
from crisislab.simulation._kernels import PackedSpec, pack_spec, run_chunk
from crisislab.simulation._policy import Policy, PolicyTable, belief_arrays
from crisislab.simulation._rng import run_keys

__all__ = ["KernelInputs", "kernel_chunk", "kernel_inputs"]

_MAX_REPLAYS = 10_000  # a run can need one replay per new state on its path; this is a safety net
_cache: list[tuple[Model, Arm, PackedSpec]] = []
# SHAPE constants -> (specialised run_chunk, its compiled-marker file), or None: failed, use the general one.
_specialised: dict[tuple, tuple[object, Any] | None] = {}
_not_compiled: set[tuple] = set()  # shapes `auto` found uncompiled in this process (it does not look again)
KERNEL_MODES = ("auto", "general", "specialised")


def kernel_mode() -> str:
    """`CRISISLAB_KERNEL` (default `auto`); see the module's docstring."""
    mode = os.environ.get("CRISISLAB_KERNEL", "auto").strip().lower() or "auto"
    if mode not in KERNEL_MODES:
        from crisislab.errors import UserError

        raise UserError(f"environment variable CRISISLAB_KERNEL: unknown kernel (got {mode!r}; expected one of "
                        f"{', '.join(KERNEL_MODES)})")
    return mode


def _fail(key: tuple, e: BaseException) -> None:
    warnings.warn(f"specialised kernel unavailable, using the general one: {e!r}", RuntimeWarning, stacklevel=3)
    _specialised[key] = None


def specialised_kernel(spec: Model, packed: PackedSpec, table: PolicyTable, only_compiled: bool = False):
    """(shape key, the `run_chunk` specialised to this scenario's and table's shape
    (`_specialise.SHAPE`), the file marking it compiled). The kernel is None when it could not be
    rendered, or, with `only_compiled`, when this machine has not compiled it yet."""
    consts = sp.kernel_constants(spec, packed, table, False, False)
    key = tuple((k, consts[k]) for k in sp.SHAPE)
    if key not in _specialised:
        try:
            if only_compiled:
                if key in _not_compiled:
                    return key, None, None
                _, path, _ = sp.module_file(consts, set(sp.SHAPE))
                if os.environ.get("CRISISLAB_NO_CACHE") or not sp.compiled_marker(path).exists():
                    _not_compiled.add(key)
                    return key, None, None
                why = sp.cache_dir_problem(path.parent)
                if why is not None:  # `auto` asked for no compile: keep to the general kernel
                    warn_once(f"dir:{path.parent}", f"kernel cache not used: {why}")
                    _not_compiled.add(key)
                    return key, None, None
            mod = sp.load(consts, set(sp.SHAPE))
            _specialised[key] = (mod.run_chunk, sp.compiled_marker(Path(mod.__file__)))
        except Exception as e:  # noqa: BLE001 - any failure falls back to the general kernel
            _fail(key, e)
    got = _specialised[key]
    return (key, None, None) if got is None else (key, got[0], got[1])


@dataclass(frozen=True)
class KernelInputs:
    packed: PackedSpec
    table: PolicyTable


def kernel_inputs(spec: Model, policy: Policy, arm: Arm) -> KernelInputs | None:
    """The kernel's inputs, or None when the policy or the arm cannot be tabulated/compiled."""
    make = getattr(policy, "kernel_table", None)
    if make is None:
        return None
    packed = None
    for s, a, p in _cache:
        if s is spec and a is arm:
            packed = p
    if packed is None:
        try:
            packed = pack_spec(spec, arm)
        except TypeError:  # a condition given as a Python callable, not a CondProgram
            return None
        # Holding the objects keeps their ids from being reused while cached.
        _cache.append((spec, arm, packed))
        del _cache[:-8]
    try:
        table = make(spec)
    except OverflowError:
        return None
    return KernelInputs(packed, table)


def _c(a: np.ndarray, dtype: Any = None) -> np.ndarray:
    """A policy table's array as the kernel reads it: C-contiguous and read-only, so that `run_chunk`
    is compiled once per policy dtype, not again for each mix of writable and read-only tables."""
    return read_only(a if dtype is None else np.asarray(a, dtype))


def _call(
    spec: Model, packed: PackedSpec, table: PolicyTable, keys: np.ndarray, record_actions: bool, record_paths: bool,
    miss_mode: int | None = None,
):
    """One kernel pass over `keys`; returns (steps, misses, fallbacks, out, agg, rec).

    `miss_mode` overrides the table's (2: discovery, recording every missing state a run meets)."""
    mode = table.miss_mode if miss_mode is None else miss_mode
    n_miss = keys.size * (8 if mode == 2 else 1)
    n = keys.size
    A_ = packed.arrays
    H, M = spec.horizon, len(spec.movers)
    n_actors, nb, nv = len(spec.actors), spec.n_belief, spec.n_vars
    n_rl = len(spec.red_lines)
    bg_of_holder, bg_game, init_bel = belief_arrays(spec, table)
    S = (
        A_["lo"], A_["hi"], A_["initial"], A_["prior_cdf"], A_["n_types"], A_["bel_start"], A_["code"], A_["cond_ptr"],
        A_["mover"], A_["ladder"], A_["rungs"], A_["rule_ptr"], A_["rules"], A_["rule_idx"], A_["rule_p"],
        A_["rule_tab"], A_["rl"], A_["rl_aud"], A_["out_cond"], A_["forbidden"], A_["forces"], A_["script"],
        bg_of_holder, bg_game, init_bel,
    )
    A = (
        A_["eff_add"], A_["eff_set"], A_["eff_mask"], A_["cas"], A_["cdf"], A_["act"], A_["act_attr_p"], A_["errs"],
        A_["err_p"], A_["bec_ptr"], A_["bec"], A_["oth_ptr"], A_["oth"], A_["oth_idx"], A_["cas_ptr"], A_["cas_list"],
        A_["xi"], A_["xf"], A_["eff"],
    )
    I = np.array(
        [n_rl, packed.ints["n_forces"], H, packed.ints["horizon_outcome"], int(record_actions), int(record_paths),
         int(mode), bg_game.size],
        np.int64,
    )
    P = (
        _c(table.decisions(spec), np.int64), bool(table.keyed), _c(table.radix, np.int64), _c(table.offset, np.int64),
        _c(table.state_keys, np.int64), _c(table.block, np.int64), int(table.n_dec),
        int(table.grid_points), _c(table.grid_nodes(), np.float64), _c(table.grid_sizes, np.int64),
        _c(table.grid_strides(), np.int64),
        _c(table.sigma), bool(getattr(table, "logit", False)),
    )
    n_cols = nv + 2 * n_rl
    out = (
        np.empty((n, n_actors), np.int8), np.empty(n, np.int16), np.empty(n, np.int16),
        np.empty((n, len(spec.sides)), np.int64), np.empty((n, n_actors)), np.empty((n, max(n_rl, 1)), np.int8),
        np.zeros((n, len(spec.actions), round_mask_bytes(H)), np.uint8), np.empty(n), np.empty(n_miss, np.int64),
        np.empty((n_miss, max(n_cols, 1)), np.int64), np.empty((n, nv), np.int16), np.empty((n, nv), np.int16),
    )
    n_levels = int((spec.hi - spec.lo).max()) + 1
    agg = (
        np.zeros((H + 1, nv, n_levels), np.int64), np.zeros((H + 1, nv, n_levels), np.int64),
        np.zeros((H + 1, n_actors, nb), np.int64), np.zeros((H + 1, n_actors, nb), np.int64), np.zeros(H + 1, np.int64),
    )
    L = H * M
    rec = (
        np.full((n, L) if record_actions else (0, 0), -1, np.int16),
        np.full((n, L) if record_paths else (0, 0), -1, np.int64),
        np.full((n, L) if record_paths else (0, 0), -1, np.int64),
        np.zeros((n, L, nv) if record_paths else (0, 0, 0), np.int64),
        np.zeros((n, L, n_actors, nb) if record_paths else (0, 0, 0, 0), np.float64),
        np.zeros((n, L) if record_paths else (0, 0), np.bool_),
    )
    kernel = None
    mode = kernel_mode()
    if mode != "general":
        key, kernel, marker = specialised_kernel(spec, packed, table, only_compiled=mode == "auto")
    if kernel is not None:
        try:
            # Compiled at its first call; it checks its constants before writing any output.
            steps, misses, fallbacks = kernel(keys, S, A, I, P, out, agg, rec)
        except Exception as e:  # noqa: BLE001
            _fail(key, e)
            kernel = None
        else:
            if not marker.exists():
                try:
                    marker.touch()
                except OSError:  # a read-only cache: `auto` then keeps to the general kernel
                    pass
    if kernel is None:
        steps, misses, fallbacks = run_chunk(keys, S, A, I, P, out, agg, rec)
    return int(steps), int(misses), int(fallbacks), out, agg, rec


def kernel_chunk(
    spec: Model, inputs: KernelInputs, seed: int, runs: np.ndarray, record_actions: bool, record_paths: bool
) -> ChunkResult:
    """Simulate runs `runs` (int64 `(n,)`) with the compiled kernel; same result as the numpy engine."""
    runs = np.ascontiguousarray(runs, dtype=np.int64)
    keys = run_keys(seed, runs)
    packed, table = inputs.packed, inputs.table
    for _ in range(_MAX_REPLAYS):
        steps, misses, fallbacks, out, agg, rec = _call(spec, packed, table, keys, record_actions, record_paths)
        if misses == 0:
            break
        # Discover the missing states with the runs that met them only (playing on past each
        # unknown state to find the next ones), then replay the whole chunk.
        table.extend(spec, out[8][:misses], out[9][:misses])
        pending = keys[out[2] < 0]
        while pending.size:
            _, m2, _, o2, _, _ = _call(spec, packed, table, pending, False, False, miss_mode=2)
            if m2 == 0:
                break
            table.extend(spec, o2[8][:m2], o2[9][:m2])
            pending = pending[o2[2] < 0]
    else:  # pragma: no cover - defensive
        raise RuntimeError("policy table did not converge")
    table.note_fallbacks(fallbacks)
    (types, outcome, end_round, casualties, audience, rl_status, rounds, loglik, _, _, state_max, state_min) = out
    hist_live, hist_delta, bsum_alive, bsum_delta, n_alive = agg
    state_hist = hist_live + np.cumsum(hist_delta, axis=0)
    belief_sum = bsum_alive + np.cumsum(bsum_delta, axis=0)
    n_rl = len(spec.red_lines)
    actions_rec = rec[0] if record_actions else None
    path_hash, path_reps = path_representatives(actions_rec)
    path_rows = None
    if record_paths:
        M = len(spec.movers)
        ii, cc = np.nonzero(rec[5])
        path_rows = {
            "run": runs[ii],
            "round": (cc // M + 1).astype(np.int16),
            "move": (cc % M).astype(np.int16),
            "actor": (cc % M).astype(np.int16),
            "action": rec[1][ii, cc].astype(np.int16),
            "executed": rec[2][ii, cc].astype(np.int16),
            "state": rec[3][ii, cc],
            "beliefs": rec[4][ii, cc],
        }
    return ChunkResult(
        runs=runs,
        types=types,
        outcome=outcome,
        end_round=end_round,
        casualties=casualties,
        audience=audience,
        rl_status=rl_status[:, :n_rl],
        taken=any_round(rounds),
        rounds_taken=rounds,
        state_max=state_max,
        state_min=state_min,
        actions=actions_rec,
        state_hist=state_hist,
        belief_sum=belief_sum,
        belief_sum_alive=bsum_alive,
        n_alive=n_alive,
        run_steps=steps,
        loglik=loglik,
        path_hash=path_hash,
        path_reps=path_reps,
        path_rows=path_rows,
    )
