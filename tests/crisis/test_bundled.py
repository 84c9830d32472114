"""Bundled scenarios: the crisis engine against the exact engine and against published closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from crisislab.crisis import compile_scenario, solve
from crisislab.crisis._unroll import crisis_profile, unroll
from crisislab.efg import logit_qre_at

from .conftest import bundled

AGREE = 1e-3  # agreement with the exact logit QRE at a fine grid


@pytest.mark.parametrize(
    ("name", "horizon", "grid"),
    [
        pytest.param("kydd-trust-spiral", 1, 21, id="kydd"),
        # λ = 50 makes the target's response steep in its belief: a finer grid is needed
        pytest.param("fearon-audience-costs", 2, 161, id="fearon"),
        pytest.param("war-of-attrition", 3, 11, id="attrition"),
        pytest.param("chicken-brinkmanship", 2, 21, id="chicken"),
        pytest.param("crisis-bargaining-2type", 2, 21, id="bargaining"),
        pytest.param("us-iran-2019-2020", 1, 21, id="flagship"),
    ],
)
def test_truncated_scenario_agrees_with_exact_logit_qre(name, horizon, grid):
    scn = bundled(name)
    cg = compile_scenario(scn, horizon=min(horizon, scn.horizon))
    lam = np.array(cg.model.lam)
    # per-actor precisions: scale each actor's payoffs by λ_i / λ_max and solve the tree at λ_max
    u = unroll(cg, scale=lam / lam.max())
    exact = logit_qre_at(u.game, float(lam.max()))
    assert exact.success, exact.diagnostics.message
    sol = solve(cg, grid=grid, lam_steps=32, maxit=2000, hypergame=False)
    assert sol.max_residual < 1e-5
    assert np.abs(crisis_profile(sol, u) - exact.profile).max() < AGREE


def test_kydd_cooperates_iff_trust_reaches_the_threshold():
    # Kydd (2005), Trust and Mistrust in International Relations, ch. 2: a trustworthy state
    # cooperates iff its belief that the other is trustworthy is at least
    # (DD - CD) / [(CC - DC) + (DD - CD)] = (1 - 0) / ((3 - 1) + (1 - 0)) = 1/3 (kydd-trust-spiral.yaml).
    # At the threshold the two actions are exactly indifferent, so the logit choice is 1/2 at any λ.
    sol = solve(compile_scenario(bundled("kydd-trust-spiral")), grid=49)  # 1/3 is a grid point
    coop = [sol.compiled.model.actions[x].id for x in sol.compiled.model.ladder(0)].index("a_cooperate")
    p = np.array([0.25, 1 / 3, 0.45])
    x = np.column_stack([np.full(3, 0.5), p])
    sig = sol.strategy("A", 0, np.zeros(3, dtype=np.int64), x)[:, 0, coop]  # trustworthy A
    assert sig[1] == pytest.approx(0.5, abs=1e-9)
    assert sig[0] < 1e-3 and sig[2] > 1 - 1e-3  # λ = 50: near best response on each side


def test_fearon_audience_cost_signalling_approaches_the_pbe():
    # Fearon (1994), APSR 88(3): with q = 0.3, v = 1, a = 0.5, c_B = 2 (fearon-audience-costs.yaml)
    # the PBE has the irresolute challenger bluff with b* = q(1 - μ*) / ((1 - q) μ*) = 3/7 and the
    # target's posterior after a public threat at μ* = v / c_B = 1/2; the resolved type always
    # threatens. The logit QRE approaches it as λ grows: the gap must shrink from λ = 10 to 50.
    scn = bundled("fearon-audience-costs")
    gaps = []
    for lam in (10.0, 50.0):
        s2 = scn.with_overrides({"actors.A.lam": lam, "actors.B.lam": lam})
        sol = solve(compile_scenario(s2), grid=161, lam_steps=32, maxit=2000)
        ids = [sol.compiled.model.actions[i].id for i in sol.compiled.model.ladder(0)]
        sig = sol.strategy("A", 0, np.array([0]), np.array([[0.3, 1.0]]))[0]
        threat_res, bluff = sig[0, ids.index("a_threaten")], sig[1, ids.index("a_threaten")]
        post = 0.3 * threat_res / (0.3 * threat_res + 0.7 * bluff)
        gaps.append(max(abs(bluff - 3 / 7), abs(post - 0.5)))
        assert threat_res > 0.99
    assert gaps[1] < gaps[0]
    assert gaps[1] < 0.02  # at λ = 50 within 0.02 of the closed form


@pytest.mark.parametrize(("rate", "quits"), [pytest.param(0.3, False, id="p>c/V"), pytest.param(0.2, True, id="p<c/V")])
def test_war_of_attrition_quitting_threshold(rate, quits):
    # Maynard Smith (1974); Fudenberg & Tirole (1991) §4.5.2: against an opponent quitting at rate p,
    # staying in pays iff p >= c / V = 0.25 (war-of-attrition.yaml); λ raised to 1000 for the limit.
    scn = bundled("war-of-attrition").with_overrides(
        {"environment.B.rules.0.probability": rate, "actors.A.lam": 1000.0}
    )
    sol = solve(compile_scenario(scn), grid=11)
    cg = sol.compiled
    ids = [cg.model.actions[i].id for i in cg.model.ladder(0)]
    for d in range(cg.n_decisions):
        p_quit = sol.strategy("A", d, np.zeros(1, dtype=np.int64), np.ones((1, 1)))[0, 0, ids.index("a_quit")]
        if quits:
            assert p_quit > 0.99
        else:
            assert p_quit < 0.01


def test_war_of_attrition_indifferent_at_the_threshold():
    # At p = c / V exactly, staying in pays -c + pV + (1 - p)·0 = 0 in the last round, the same as
    # quitting; by induction every round is indifferent, so P(quit) = 1/2 in every round at any λ.
    scn = bundled("war-of-attrition").with_overrides({"environment.B.rules.0.probability": 0.25})
    sol = solve(compile_scenario(scn), grid=11)
    cg = sol.compiled
    for d in range(cg.n_decisions):
        p = sol.strategy("A", d, np.zeros(1, dtype=np.int64), np.ones((1, 1)))[0, 0]
        np.testing.assert_allclose(p, [0.5, 0.5], atol=1e-6)
