"""Kernels specialised to a scenario's shape (`_specialise`) against the general kernel: the same
runs give identical outputs, array by array and bit for bit, on scenarios and policies that take
each branch the constants fix (keyed or not, belief grid or not, round conditions, red lines or
none, one or two belief arrays, uniform or mixed ladder sizes and type counts, forces, recording).

Each distinct shape is compiled once (about 25 s cold, then loaded from the on-disk cache)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from crisislab.scenario import load_scenario
from crisislab.model import lower
from crisislab.simulation import FixedPolicy, compile_arm
from crisislab.simulation import _kernel_engine as ke
from crisislab.simulation import _specialise as sp
from crisislab.simulation import Arm
from crisislab.simulation._engine import simulate_chunk
from crisislab.simulation import MyopicLogitPolicy

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
MINI = HERE / "mini.yaml"


def _fixed(scenario, spec) -> FixedPolicy:
    probs = {}
    for j, actor in enumerate(spec.actors):
        mover = next(m for m in spec.movers if m.id == actor)
        k = len(mover.actions)
        rng = np.random.default_rng(j)
        p = rng.random((len(spec.types[j]), k)) + 0.05
        probs[actor] = p / p.sum(axis=1, keepdims=True)
    return FixedPolicy(probs)


def _same(a, b) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, f.name
            np.testing.assert_array_equal(x, y, err_msg=f.name, strict=True)
        elif isinstance(x, dict) and x and isinstance(next(iter(x.values())), np.ndarray):
            assert x.keys() == y.keys(), f.name
            for k in x:
                np.testing.assert_array_equal(x[k], y[k], err_msg=f"{f.name}[{k}]", strict=True)
        else:
            assert x == y, f.name


def _general_and_specialised(monkeypatch, spec, make_policy, arm, record, n=1200, seed=5):
    runs = np.arange(50, 50 + n)
    monkeypatch.setenv("CRISISLAB_KERNEL", "general")
    g = simulate_chunk(spec, make_policy(), seed, runs, arm, record, record, engine="kernel")
    monkeypatch.setenv("CRISISLAB_KERNEL", "specialised")
    pol = make_policy()
    s = simulate_chunk(spec, pol, seed, runs, arm, record, record, engine="kernel")
    inp = ke.kernel_inputs(spec, pol, arm)
    key, kernel, marker = ke.specialised_kernel(spec, inp.packed, inp.table)
    assert kernel is not None and ke._specialised[key][0] is kernel  # used, not fallen back from
    assert marker.exists()  # so that `auto` plays it from now on
    return g, s


CASES = {
    # round conditions, one red line, two belief arrays, unkeyed table, no belief grid
    "mini-fixed": (MINI, "fixed"),
    # keyed lazy table (misses, replays, discovery passes)
    "mini-myopic": (MINI, "myopic"),
    # belief grid (B > 1, two grid actors), the crisis engine's ladder order
    "mini-crisis": (MINI, "crisis"),
    # one belief array, no red lines, ladder sizes and type counts that differ between actors
    "fearon-fixed": (ROOT / "scenarios" / "fearon-audience-costs.yaml", "fixed"),
}


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("case", sorted(CASES))
def test_specialised_kernel_equals_general(case, monkeypatch) -> None:
    path, kind = CASES[case]
    scenario = load_scenario(path)
    spec = lower(scenario)
    if kind == "fixed":
        make = lambda: _fixed(scenario, spec)  # noqa: E731
    elif kind == "myopic":
        make = lambda: MyopicLogitPolicy(scenario)  # noqa: E731
    else:
        pytest.importorskip("crisislab.crisis")
        from crisislab.analysis import SolverChoice

        pol = SolverChoice("crisis", 5)(scenario)
        make = lambda: pol  # noqa: E731
    for record in (False, True):
        _same(*_general_and_specialised(monkeypatch, spec, make, Arm(), record))
    if case == "mini-fixed":
        from crisislab.scenario import Forbid, ForbidSpec, Force, ForceSpec, VarCondition

        arms = [
            compile_arm(spec, scenario, [Force(force=ForceSpec(actor="US", action="us_strike", round=2))]),
            compile_arm(spec, scenario, [Forbid(forbid=ForbidSpec(actor="Iran", action="ir_attack"))]),
            compile_arm(spec, scenario, [Force(force=ForceSpec(actor="Iran", action="ir_attack",
                                                               when=VarCondition(var="tension", op="le", value=1)))]),
        ]
        for arm in arms:
            _same(*_general_and_specialised(monkeypatch, spec, make, arm, True))
    if case == "fearon-fixed":
        from crisislab.scenario import Force, ForceSpec

        # a_fight is available only at stage 3: never at round 1, only after B resisted at round 2.
        for rnd in (1, 2):
            arm = compile_arm(spec, scenario, [Force(force=ForceSpec(actor="A", action="a_fight", round=rnd))])
            _same(*_general_and_specialised(monkeypatch, spec, make, arm, True))


def test_specialised_kernel_checks_its_constants(monkeypatch) -> None:
    """A kernel specialised to one shape refuses another's inputs (the engine then warns and
    plays the general kernel, with the same results)."""
    scenario = load_scenario(MINI)
    spec = lower(scenario)
    fixed_inp = ke.kernel_inputs(spec, _fixed(scenario, spec), Arm())
    _, fixed_kernel, marker = ke.specialised_kernel(spec, fixed_inp.packed, fixed_inp.table)
    assert fixed_kernel is not None
    monkeypatch.setattr(ke, "_specialised", {})
    monkeypatch.setattr(ke, "specialised_kernel", lambda *a, **k: (("wrong",), fixed_kernel, marker))
    runs = np.arange(300)
    monkeypatch.setenv("CRISISLAB_KERNEL", "specialised")
    with pytest.warns(RuntimeWarning, match="keyed differs"):
        s = simulate_chunk(spec, MyopicLogitPolicy(scenario), 3, runs, Arm(), engine="kernel")
    assert ke._specialised[("wrong",)] is None  # not tried again in this process
    monkeypatch.setenv("CRISISLAB_KERNEL", "general")
    _same(s, simulate_chunk(spec, MyopicLogitPolicy(scenario), 3, runs, Arm(), engine="kernel"))


def test_render_fails_loudly_when_the_kernel_source_moves(monkeypatch, tmp_path) -> None:
    consts = {k: 2 for k in sp.SHAPE} | {"keyed": True, "has_round": False, "cache_ok": True}
    text = sp.KERNEL_SOURCE.read_text()
    src = tmp_path / "_kernels.py"
    monkeypatch.setattr(sp, "KERNEL_SOURCE", src)
    # a marker removed
    src.write_text(text.replace("kj = n_types[j]  # specialise: KJ", "kj = n_types[j]"))
    with pytest.raises(RuntimeError, match="'KJ' expected 1, found 0"):
        sp.render(consts, set(sp.SHAPE))
    # a marked line whose expression changed
    src.write_text(text.replace("kj = n_types[j]  # specialise: KJ", "kj = n_types[jj]  # specialise: KJ"))
    with pytest.raises(RuntimeError, match="marker 'KJ'.*n_types\\[j\\]"):
        sp.render(consts, set(sp.SHAPE))
    # an unknown marker
    src.write_text(text + "\n# specialise: everything\n")
    with pytest.raises(RuntimeError, match="unknown marker 'everything'"):
        sp.render(consts, set(sp.SHAPE))


def test_render_rewrites_every_marker() -> None:
    """With every constant given, each marked expression is replaced by its literal."""
    consts = {k: 3 for k in sp.SHAPE} | {"keyed": True, "has_round": False, "cache_ok": True, "B": 4}
    text = sp.render(consts, set(sp.SHAPE))
    assert "# specialise:" not in text
    assert "kj = 3" in text and "n_a = 3" in text and "nc = 3" in text and "range(n_c[" not in text
    assert "if KJ" not in text and "raise ValueError('specialised kernel: KJ differs')" in text


def test_auto_plays_a_specialised_kernel_only_once_compiled(monkeypatch, tmp_path) -> None:
    """`auto` (the default) never compiles: with an empty kernel cache it plays the general kernel
    and writes nothing; once `specialised` has compiled the shape there, `auto` plays that."""
    scenario = load_scenario(MINI)
    spec = lower(scenario)
    make = lambda: _fixed(scenario, spec)  # noqa: E731
    inp = ke.kernel_inputs(spec, make(), Arm())
    monkeypatch.setattr(ke, "_specialised", {})
    monkeypatch.setattr(ke, "_not_compiled", set())
    monkeypatch.setenv("CRISISLAB_KERNEL_CACHE", str(tmp_path))
    monkeypatch.delenv("CRISISLAB_KERNEL", raising=False)
    runs = np.arange(400)
    g = simulate_chunk(spec, make(), 4, runs, Arm(), engine="kernel")
    assert ke.specialised_kernel(spec, inp.packed, inp.table, only_compiled=True)[1] is None
    assert not any(tmp_path.iterdir())
    # What `specialised` leaves behind: the module and its compiled marker (the module itself is
    # the one the default cache already holds, so this does not compile again).
    monkeypatch.delenv("CRISISLAB_KERNEL_CACHE")
    monkeypatch.setattr(ke, "_not_compiled", set())
    monkeypatch.setenv("CRISISLAB_KERNEL", "specialised")
    simulate_chunk(spec, make(), 4, runs[:10], Arm(), engine="kernel")
    monkeypatch.setattr(ke, "_specialised", {})
    monkeypatch.delenv("CRISISLAB_KERNEL")
    s = simulate_chunk(spec, make(), 4, runs, Arm(), engine="kernel")
    key, kernel, marker = ke.specialised_kernel(spec, inp.packed, inp.table, only_compiled=True)
    assert kernel is not None and marker.exists() and ke._specialised[key][0] is kernel
    _same(g, s)


def test_an_unknown_kernel_mode_is_a_user_error(monkeypatch) -> None:
    from crisislab.errors import UserError

    monkeypatch.setenv("CRISISLAB_KERNEL", "fastest")
    with pytest.raises(UserError, match="CRISISLAB_KERNEL.*'fastest'.*auto, general, specialised"):
        ke.kernel_mode()
