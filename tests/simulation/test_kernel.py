"""The compiled kernel against the numpy reference engine: same runs, bit for bit where the
arithmetic is the same, on the small test scenario under every kind of policy and intervention."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crisislab.scenario import load_scenario
from crisislab.model import lower
from crisislab.model.rules import SCRIPT_FREE
from crisislab.simulation import FixedPolicy, Node, compile_arm
from crisislab.simulation import Arm
from crisislab.simulation._engine import simulate_chunk
from crisislab.simulation import MyopicLogitPolicy

MINI = Path(__file__).with_name("mini.yaml")
US_SIGMA = np.array([[0.3, 0.7], [0.8, 0.2]])
IRAN_SIGMA = np.array([[0.4, 0.6], [0.9, 0.1]])
# The kernel folds the log-likelihood as a product (one log per run), the reference sums logs.
LOGLIK_RTOL = 1e-12
EXACT = ("types", "outcome", "end_round", "casualties", "audience", "rl_status", "taken", "rounds_taken", "state_max",
         "state_min", "state_hist",
         "belief_sum", "belief_sum_alive", "n_alive", "path_hash", "actions")


@pytest.fixture(scope="module")
def mini():
    return load_scenario(MINI)


def _both(spec, policy, arm, n=1500, seed=17, paths=True):
    runs = np.arange(100, 100 + n)
    k = simulate_chunk(spec, policy, seed, runs, arm, record_actions=True, record_paths=paths, engine="kernel")
    r = simulate_chunk(spec, policy, seed, runs, arm, record_actions=True, record_paths=paths, engine="reference")
    return k, r


def _assert_same(k, r, belief_atol: float = 0.0) -> None:
    for name in EXACT:
        np.testing.assert_array_equal(getattr(k, name), getattr(r, name), err_msg=name)
    assert k.run_steps == r.run_steps
    np.testing.assert_allclose(k.loglik, r.loglik, rtol=LOGLIK_RTOL)
    if k.path_rows is not None:
        ok = np.lexsort((k.path_rows["move"], k.path_rows["round"], k.path_rows["run"]))
        orf = np.lexsort((r.path_rows["move"], r.path_rows["round"], r.path_rows["run"]))
        for col in ("run", "round", "move", "action", "executed", "state"):
            np.testing.assert_array_equal(np.asarray(k.path_rows[col])[ok], np.asarray(r.path_rows[col])[orf], err_msg=col)
        np.testing.assert_allclose(k.path_rows["beliefs"][ok], r.path_rows["beliefs"][orf], rtol=0, atol=belief_atol)


def _interventions(mini, *items):
    return compile_arm(lower(mini), mini, list(items))


def test_fixed_policy_kernel_equals_reference(mini) -> None:
    pol = FixedPolicy({"US": US_SIGMA, "Iran": IRAN_SIGMA})
    _assert_same(*_both(lower(mini), pol, Arm()))


def test_interventions_kernel_equals_reference(mini) -> None:
    from crisislab.scenario import Forbid, ForbidSpec, Force, ForceSpec, VarCondition

    pol = FixedPolicy({"US": US_SIGMA, "Iran": IRAN_SIGMA})
    spec = lower(mini)
    arms = [
        _interventions(mini, Force(force=ForceSpec(actor="US", action="us_strike", round=2))),
        _interventions(mini, Forbid(forbid=ForbidSpec(actor="Iran", action="ir_attack"))),
        _interventions(
            mini, Force(force=ForceSpec(actor="Iran", action="ir_attack", when=VarCondition(var="tension", op="le", value=1)))
        ),
        # A conditional forbid (the condition joins the kernel's condition bits).
        _interventions(
            mini, Forbid(forbid=ForbidSpec(actor="Iran", action="ir_attack", when=VarCondition(var="tension", op="ge", value=2)))
        ),
    ]
    for arm in arms:
        _assert_same(*_both(spec, pol, arm))


FEARON = Path(__file__).parents[2] / "scenarios" / "fearon-audience-costs.yaml"
# Fearon's ladders: A [a_back_down, a_status_quo, a_threaten, a_fight], B [b_concede, b_resist].
FEARON_SIGMA = {"A": np.array([[0.1, 0.3, 0.4, 0.2], [0.3, 0.2, 0.3, 0.2]]), "B": np.array([[0.45, 0.55]])}


def test_forces_of_unavailable_or_forbidden_actions_kernel_equals_reference() -> None:
    """a_fight is available only at stage 3 (after B resisted): forces at a round, on a condition
    and at every move apply only there, in both engines alike; a force of an action forbidden in
    the same arm never applies."""
    from crisislab.scenario import Force, ForceSpec, RoundCondition, VarCondition

    sc = load_scenario(FEARON)
    spec = lower(sc)
    pol = FixedPolicy(FEARON_SIGMA)

    def fight(**kw):
        return compile_arm(spec, sc, [Force(force=ForceSpec(actor="A", action="a_fight", **kw))])

    g_fight = spec.action_index("a_fight")
    arms = [
        fight(round=1),  # stage 0 at round 1: never available
        fight(round=2),  # available where B resisted in round 1
        fight(when=VarCondition(var="stage", op="eq", value=0)),  # never available
        fight(when=RoundCondition.model_validate({"round": {"op": "ge", "value": 1}})),
        fight(),
        Arm(forces=fight(round=2).forces, forbidden=frozenset({g_fight})),
    ]
    for arm in arms:
        k, r = _both(spec, pol, arm)
        _assert_same(k, r)
        assert np.isfinite(k.loglik).all()  # a force never executes an action of probability 0
    # The force at round 1 and the one on stage 0 never apply: the runs are the scenario's, bit for bit.
    base, _ = _both(spec, pol, Arm())
    for arm in arms[0], arms[2]:
        _assert_same(_both(spec, pol, arm)[0], base)
    forbid_only, _ = _both(spec, pol, Arm(forbidden=frozenset({g_fight})))
    _assert_same(_both(spec, pol, arms[5])[0], forbid_only)


def test_scripted_replay_kernel_equals_reference(mini) -> None:
    spec = lower(mini)
    pol = FixedPolicy({"US": US_SIGMA, "Iran": IRAN_SIGMA})
    script = np.full((spec.horizon, len(spec.movers)), SCRIPT_FREE, dtype=np.int64)
    # Round 1: Iran attacks, KH does nothing, the US strikes; round 2: KH fires rockets.
    script[0] = [spec.action_index("ir_attack"), -1, spec.action_index("us_strike")]
    script[1, 1] = spec.action_index("kh_rockets")
    k, r = _both(spec, pol, Arm(script=script))
    _assert_same(k, r)
    assert np.isfinite(k.loglik).all()
    # Iran's calm takes tension from 1 to 0, where KH's rockets have probability 0 (mini.yaml).
    script[0] = [spec.action_index("ir_calm"), spec.action_index("kh_rockets"), -1]
    k, r = _both(spec, pol, Arm(script=script))
    _assert_same(k, r)
    assert np.isneginf(k.loglik).all()


def test_myopic_lazy_table_equals_reference_and_is_chunk_independent(mini) -> None:
    spec = lower(mini)
    k, r = _both(spec, MyopicLogitPolicy(mini), Arm())
    _assert_same(k, r)
    # A fresh policy (empty table) and a warm one give the same runs whatever the chunking.
    warm = MyopicLogitPolicy(mini)
    simulate_chunk(spec, warm, 17, np.arange(100, 900), Arm(), engine="kernel")
    part = simulate_chunk(spec, warm, 17, np.arange(900, 1600), Arm(), engine="kernel")
    np.testing.assert_array_equal(part.outcome, k.outcome[800:])
    np.testing.assert_array_equal(part.casualties, k.casualties[800:])


@pytest.mark.parametrize("grid", [5, "cheb:7"], ids=["uniform", "chebyshev"])
def test_crisis_solution_kernel_matches_reference(mini, grid) -> None:
    pytest.importorskip("crisislab.crisis")
    from crisislab.analysis import SolverChoice

    pol = SolverChoice("crisis", grid)(mini)
    k, r = _both(lower(mini), pol, Arm(), n=1000)
    # Interpolation sums the grid corners in another order than numpy's einsum: beliefs agree to
    # rounding; every draw lands on the same side of its threshold (checked by the exact fields).
    _assert_same(k, r, belief_atol=1e-12)
    assert pol.unreachable == 0


class _OpaquePolicy:
    """A policy with no `kernel_table`: simulated by the reference engine."""

    def __init__(self, inner):
        self.inner = inner

    def strategy(self, game: str, mover: str, node: Node) -> np.ndarray:
        return self.inner.strategy(game, mover, node)

    def same_game(self, a: str, b: str) -> bool:
        return True


def test_policies_without_a_table_use_the_reference_engine(mini) -> None:
    spec = lower(mini)
    inner = FixedPolicy({"US": US_SIGMA, "Iran": IRAN_SIGMA})
    auto = simulate_chunk(spec, _OpaquePolicy(inner), 3, np.arange(300), Arm(), engine="auto")
    kern = simulate_chunk(spec, inner, 3, np.arange(300), Arm(), engine="kernel")
    np.testing.assert_array_equal(auto.outcome, kern.outcome)
    with pytest.raises(ValueError, match="kernel_table"):
        simulate_chunk(spec, _OpaquePolicy(inner), 3, np.arange(10), Arm(), engine="kernel")


def _stencil_reference(bel, starts, strides, grid_G, grid_x=None):
    """The multilinear stencil as `_engine` defines it, in plain Python floats: corner c takes the
    upper end of grid actor q's interval when bit q of c is set; weights are products from 1.0.
    `grid_x`: non-uniform nodes (the interval holding the coordinate, its fraction in it)."""
    n_active = len(starts)
    nodes, weights = [], []
    for g in range(bel.shape[0]):
        lo_i, fr = [], []
        for q in range(n_active):
            x = min(max(float(bel[g, starts[q]]), 0.0), 1.0)
            if grid_x is None:
                pos = x * (grid_G - 1)
                lo_i.append(min(int(np.floor(pos)), grid_G - 2))
                fr.append(pos - lo_i[-1])
            else:
                i = min(int(np.searchsorted(grid_x, x, side="right")) - 1, grid_G - 2)
                lo_i.append(i)
                fr.append(min(max((x - float(grid_x[i])) / (float(grid_x[i + 1]) - float(grid_x[i])), 0.0), 1.0))
        base = sum(lo_i[q] * int(strides[q]) for q in range(n_active))
        row_n, row_w = [], []
        for c in range(1 << n_active):
            w = 1.0
            off = 0
            for q in range(n_active):
                bit = (c >> q) & 1
                w *= fr[q] if bit else 1.0 - fr[q]
                off += bit * int(strides[q])
            row_n.append(base + off)
            row_w.append(w)
        nodes.append(row_n)
        weights.append(row_w)
    return np.array(nodes, np.int64), np.array(weights)


@pytest.mark.parametrize("uniform", [True, False], ids=["uniform", "chebyshev"])
@pytest.mark.parametrize("n_active,grid_G", [(1, 5), (2, 3), (2, 5), (2, 21), (3, 4)])
def test_stencil_fast_path_and_general_path_match_the_definition(n_active, grid_G, uniform) -> None:
    """`_stencil` writes out two grid actors (the usual case) next to its general loop; both must
    give the definition's nodes and weights bit for bit, on the grid's nodes, inside its cells and
    outside [0, 1] (clipped), on the uniform grid and on non-uniform (Chebyshev) nodes."""
    from crisislab.crisis import chebyshev_nodes
    from crisislab.simulation._kernels import _stencil

    rng = np.random.default_rng(n_active * 100 + grid_G)
    n_bg = 7
    bel = rng.random((n_bg, 2 * n_active + 1))
    bel[0, :] = 0.0
    bel[1, :] = 1.0
    grid_x = None if uniform else chebyshev_nodes(grid_G)
    bel[2, :] = np.arange(bel.shape[1]) % grid_G / (grid_G - 1) if uniform else grid_x[np.arange(bel.shape[1]) % grid_G]  # on nodes
    bel[3, :] = -0.25
    bel[4, :] = 1.5
    starts = 1 + 2 * np.arange(n_active)  # each grid actor's coordinate in the belief vector
    strides = grid_G ** np.arange(n_active - 1, -1, -1)  # row-major node index
    n_c = 1 << n_active
    bits = [[(c >> q) & 1 for q in range(n_active)] for c in range(n_c)]
    offs = [sum(b[q] * int(strides[q]) for q in range(n_active)) for b in bits]
    stc = np.array(list(starts) + list(strides) + offs + [x for b in bits for x in b], np.int64)
    c_node = np.zeros((n_bg, n_c), np.int64)
    c_w = np.zeros((n_bg, n_c))
    _stencil(bel, stc, grid_G, np.zeros(0) if uniform else grid_x, n_active, c_node, c_w)
    nodes, weights = _stencil_reference(bel, starts, strides, grid_G, grid_x)
    np.testing.assert_array_equal(c_node, nodes)
    assert c_w.tobytes() == weights.tobytes()


def test_cubic_logit_strategies_are_played_by_the_reference_engine(mini) -> None:
    # The kernel's stencil is multilinear; a solution read with the cubic (4^n-node) stencil offers
    # no kernel table, so "auto" plays it with the reference engine, through Solution.strategy.
    from crisislab.analysis import SolverChoice

    pol = SolverChoice("crisis", "cheb-cubic:7")(mini)
    assert pol.kernel_table is None
    auto = simulate_chunk(lower(mini), pol, 5, np.arange(200), Arm())
    ref = simulate_chunk(lower(mini), pol, 5, np.arange(200), Arm(), engine="reference")
    np.testing.assert_array_equal(auto.outcome, ref.outcome)


def test_solver_diagnostics_reach_the_policy(mini) -> None:
    # mini's US prior 0.6 is not a node of the 5-point grid (nodes 0, 0.25, ...): the solver says
    # so, and the policy the simulator and the analysis hold passes it on.
    from crisislab.analysis import SolverChoice

    pol = SolverChoice("crisis", 5)(mini)
    assert pol.diagnostics == pol.solution.diagnostics
    assert any("P(US is" in d and "not a point of the 5-point uniform grid" in d for d in pol.diagnostics)
