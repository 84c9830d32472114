"""Reuse of a compiled crisis across parameter variants (robustness draws, `set` interventions).

Compilation enumerates public states and folds chance into sparse tables; it reads the spec's
probabilities, casualty distributions, effects, costs, audience costs and terminal payoffs, but
never the precisions λ, the priors or the perceptions (those enter only `solve`). Terminal payoffs
enter compiled rewards linearly through `CompiledGame.tdisc`, which is how `solve` already swaps in
perceived terminal payoffs (`CompiledGame.with_terminal`). So two specs that differ only in λ,
priors, perceptions and terminal payoffs share their compiled tables: `compile_variant` patches a
compiled base instead of recompiling (the flagship's compile is ~15 s of Python; a patch is a few
ms, or ~0.5 s with new terminal payoffs). `policy_unchanged` says when a solved policy can be
reused outright: per the crisis engine's contract (`crisislab.crisis` docstring, "the policy of a
game does not depend on the starting node, so priors only change `Solution.mu0`"), a change of
priors alone (true or perceived) leaves every strategy table as it was; a test checks this.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import replace

import numpy as np

from crisislab.crisis._compile import CompiledGame, compile_spec
from crisislab.crisis._spec import CrisisSpec

__all__ = ["compile_variant", "policy_unchanged", "structure_key"]

# Compiled games by structure key; small, because a flagship game holds ~100 MB of tables.
_MEMO: OrderedDict[str, CompiledGame] = OrderedDict()
_MEMO_SIZE = 2


def _strip(spec: CrisisSpec, *, terminal: bool, lam: bool) -> CrisisSpec:
    actors = tuple(replace(a, prior=(), lam=0.0 if lam else a.lam) for a in spec.actors)
    perceptions = tuple(replace(p, prior=None, terminal=() if terminal else p.terminal) for p in spec.perceptions)
    out = replace(spec, actors=actors, perceptions=perceptions)
    if terminal:
        out = replace(out, terminal=np.zeros_like(np.asarray(spec.terminal)))
    return out


def _canonical(spec: CrisisSpec) -> bytes:
    # By value: the dataclasses' repr (floats round-trip exactly) plus the terminal array's bytes.
    # Not pickle, whose output also depends on which equal objects happen to be shared.
    t = np.ascontiguousarray(spec.terminal, dtype=np.float64)
    return repr(replace(spec, terminal=None)).encode() + repr(t.shape).encode() + t.tobytes()


def structure_key(spec: CrisisSpec) -> str:
    """Hash of everything compilation reads (λ, priors, perceptions and terminal payoffs removed)."""
    return hashlib.sha256(_canonical(_strip(spec, terminal=True, lam=True))).hexdigest()


def policy_unchanged(a: CrisisSpec, b: CrisisSpec) -> bool:
    """True when `a` and `b` differ at most in true and perceived priors: same solved strategies."""
    return _canonical(_strip(a, terminal=False, lam=False)) == _canonical(_strip(b, terminal=False, lam=False))


def compile_variant(spec: CrisisSpec, base: CompiledGame | None = None) -> CompiledGame:
    """`compile_spec(spec)`, patched from `base` (or from a recently compiled game of this
    process with the same `structure_key`) when only λ, priors, perceptions or terminal payoffs
    differ. The patched game carries `spec` itself, so `solve` sees the variant's λ and priors."""
    key = structure_key(spec)
    src = base if base is not None and structure_key(base.spec) == key else _MEMO.get(key)
    if src is None:
        cg = compile_spec(spec)
        _MEMO[key] = cg
        _MEMO.move_to_end(key)
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
        return cg
    _MEMO[key] = src
    _MEMO.move_to_end(key)
    if src.spec is spec:
        return src
    return replace(src.with_terminal(spec.terminal), spec=spec)
