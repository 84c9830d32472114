"""The model: one lowering for every engine, read-only, layered below the engines."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import grimp
import numpy as np
import pytest

from crisislab.crisis import _compile
from crisislab.errors import SolverError
from crisislab.model import Model, canonical_bytes, lower
from crisislab.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def _arrays(obj, path="model"):
    """Every numpy array reachable from a model's records, with its path."""
    import dataclasses

    if isinstance(obj, np.ndarray):
        yield path, obj
    elif dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            yield from _arrays(getattr(obj, f.name), f"{path}.{f.name}")
    elif isinstance(obj, tuple):
        for i, x in enumerate(obj):
            yield from _arrays(x, f"{path}[{i}]")


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_array_is_read_only_and_the_model_round_trips(path):
    model = lower(load_scenario(path))
    arrays = list(_arrays(model))
    assert arrays
    for where, a in arrays:
        assert not a.flags.writeable, where
    back = pickle.loads(pickle.dumps(model))
    assert canonical_bytes(back) == canonical_bytes(model)
    assert canonical_bytes(lower(load_scenario(path))) == canonical_bytes(model)  # deterministic


def test_one_action_order_for_every_engine():
    """Global actions are each mover's ladder (rung order), movers in `order`; a strategic actor's
    ladder (`Model.ladder`, read by the crisis compiler) is its mover's (read by the simulator)."""
    scn = load_scenario(ROOT / "scenarios" / "us-iran-2019-2020.yaml")
    model = lower(scn)
    assert [a.id for a in model.actions] == [a.id for who in scn.order for a in scn.actions_of(who)]
    for j, actor in enumerate(model.actors):
        mv = model.movers[model.slot_of[j]]
        assert mv.id == actor and mv.strategic == j
        assert [model.actions[x].id for x in model.ladder(j)] == [a.id for a in scn.actions_of(actor)]
        assert [model.actions[x].local for x in model.ladder(j)] == list(range(mv.actions.size))


def test_perceived_and_with_horizon():
    scn = load_scenario(ROOT / "tests" / "crisis" / "data" / "spiral.yaml")  # B misperceives A
    model = lower(scn)
    true_view, prior_a = model.perceived(0)
    assert true_view is model
    np.testing.assert_array_equal(prior_a, model.prior)
    seen_by_b, prior_b = model.perceived(1)
    assert seen_by_b is not model and not np.array_equal(seen_by_b.terminal, model.terminal)
    np.testing.assert_allclose(prior_b[0, :2], scn.perceived_prior("B", "A"))
    np.testing.assert_allclose(model.initial_beliefs[1][:2], scn.perceived_prior("B", "A"))
    assert model.with_horizon(2).horizon == 2 and model.horizon == scn.horizon
    with pytest.raises(SolverError, match="at least one round"):
        model.with_horizon(0)


def test_compile_cache_key_covers_the_model_package():
    """An edit to the lowering (or any model source) changes the compiled-game cache key."""
    sources = {p.name: p for p in _compile._SOURCES}
    assert {"_compile.py", "_lower.py", "_model.py", "_cond.py", "rules.py"} <= set(sources)
    assert sources["_lower.py"].parent == Path(sys.modules[Model.__module__].__file__).parent


def test_layers():
    """model imports no engine; crisis does not import simulate."""
    graph = grimp.build_graph("crisislab")
    for upper in ("crisislab.crisis", "crisislab.simulation", "crisislab.efg", "crisislab.report", "crisislab.cli"):
        assert not graph.chain_exists(importer="crisislab.model", imported=upper, as_packages=True), upper
    assert not graph.chain_exists(importer="crisislab.crisis", imported="crisislab.simulation", as_packages=True)
    allowed = {"crisislab.model", "crisislab.scenario", "crisislab.errors"}
    for mod in graph.find_children("crisislab.model"):
        for dep in graph.find_modules_directly_imported_by(mod):
            top = ".".join(dep.split(".")[:2])
            assert top in allowed, (mod, dep)


def test_a_solution_refuses_a_scenario_with_other_ladders():
    """Both engines index strategies by the model's local action index, so a solution can only be
    simulated with the scenario it was solved from (same move order and ladders)."""
    from crisislab.crisis import compile_scenario, solve
    from crisislab.errors import UserError
    from crisislab.simulation import SolutionPolicy

    tiny = load_scenario(ROOT / "tests" / "crisis" / "data" / "tiny.yaml")
    sol = solve(compile_scenario(tiny), grid=3)
    SolutionPolicy(sol, tiny)  # its own scenario fits
    with pytest.raises(UserError, match="does not fit the scenario simulated"):
        SolutionPolicy(sol, load_scenario(ROOT / "tests" / "crisis" / "data" / "spiral.yaml"))


def test_a_solution_refuses_a_scenario_with_other_parameters_or_horizon():
    """Strategies depend on every parameter but the priors (inputs of the solved policy): a solution
    of other payoffs or another horizon must not be simulated silently with the wrong strategies."""
    from crisislab.crisis import compile_scenario, solve
    from crisislab.errors import UserError
    from crisislab.simulation import SolutionPolicy

    fearon = load_scenario(ROOT / "scenarios" / "fearon-audience-costs.yaml")
    sol = solve(compile_scenario(fearon), grid=5)
    SolutionPolicy(sol, fearon.with_overrides({"actors.A.types.resolved.prior": 0.6}))  # priors are inputs of the strategies
    with pytest.raises(UserError, match="solved for other parameters"):
        SolutionPolicy(sol, fearon.with_overrides({"payoffs.terminal.backdown.A": -3.0}))
    short = solve(compile_scenario(fearon, horizon=1), grid=5)
    with pytest.raises(UserError, match="another horizon"):
        SolutionPolicy(short, fearon)
