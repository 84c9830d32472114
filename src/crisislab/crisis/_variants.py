"""Reuse of a compiled crisis across parameter variants (robustness draws, `set` interventions).

Compilation enumerates public states and folds chance into sparse tables; it reads the model's
probabilities, casualty distributions, effects, costs, audience costs and terminal payoffs, but
never the precisions λ, the priors or the perceptions (those enter only `solve`). Terminal payoffs
enter compiled rewards linearly through `CompiledGame.tdisc`, which is how `solve` already swaps in
perceived terminal payoffs (`CompiledGame.with_terminal`). So two models that differ only in λ,
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

from crisislab.crisis._compile import CompiledGame, compile_model
from crisislab.model import Model, canonical_bytes

__all__ = ["compile_variant", "policy_unchanged", "structure_key"]

# Compiled games by structure key; small, because a flagship game holds ~100 MB of tables.
_MEMO: OrderedDict[str, CompiledGame] = OrderedDict()
_MEMO_SIZE = 2


def _strip(model: Model, *, terminal: bool, lam: bool) -> Model:
    perceptions = tuple(replace(p, prior=None, terminal=() if terminal else p.terminal) for p in model.perceptions)
    out = replace(model, true_prior=(), perceptions=perceptions)
    if lam:
        out = replace(out, lam=np.zeros_like(model.lam))
    if terminal:
        out = replace(out, terminal=np.zeros_like(model.terminal))
    return out


def structure_key(model: Model) -> str:
    """Hash of everything compilation reads (λ, priors, perceptions and terminal payoffs removed)."""
    return hashlib.sha256(canonical_bytes(_strip(model, terminal=True, lam=True))).hexdigest()


def policy_unchanged(a: Model, b: Model) -> bool:
    """True when `a` and `b` differ at most in true and perceived priors: same solved strategies."""
    return canonical_bytes(_strip(a, terminal=False, lam=False)) == canonical_bytes(_strip(b, terminal=False, lam=False))


def compile_variant(model: Model, base: CompiledGame | None = None) -> CompiledGame:
    """`compile_model(model)`, patched from `base` (or from a recently compiled game of this
    process with the same `structure_key`) when only λ, priors, perceptions or terminal payoffs
    differ. The patched game carries `model` itself, so `solve` sees the variant's λ and priors."""
    key = structure_key(model)
    src = base if base is not None and structure_key(base.model) == key else _MEMO.get(key)
    if src is None:
        cg = compile_model(model)
        _MEMO[key] = cg
        _MEMO.move_to_end(key)
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
        return cg
    _MEMO[key] = src
    _MEMO.move_to_end(key)
    if src.model is model:
        return src
    return replace(src.with_terminal(model.terminal), model=model)
