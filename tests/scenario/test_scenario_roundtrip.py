"""Round trip (scenario -> YAML -> scenario) on generated scenarios, overrides and parameter draws."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crisislab.scenario import (
    Scenario,
    ScenarioError,
    bundled_scenarios,
    dump_scenario,
    load_scenario,
    loads_scenario,
)

HERE = Path(__file__).parent
SMALL = HERE / "small.yaml"

TEXT = st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=12)
OPS = st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"])


def _num(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def params(draw: st.DrawFn, lo: float = -5.0, hi: float = 5.0) -> Any:
    """A Param as written in YAML: plain number or mapping with provenance (and maybe uncertainty)."""
    value = draw(_num(lo, hi))
    if draw(st.booleans()):
        return value
    out: dict[str, Any] = {"value": value}
    if draw(st.booleans()):
        out["source"] = "src0"
    else:
        out["assumption"] = draw(TEXT.filter(bool))
    if draw(st.booleans()):
        # Within [lo, hi], the parameter's valid range: a range reaching beyond it (a negative λ)
        # is a scenario whose robustness draws can be invalid, which loading refuses.
        out["uncertainty"] = {"uniform": [max(lo, value - 1.0), min(hi, value + 1.0)]}
    return out


def conditions(vars_: list[dict], red_lines: list[str]) -> st.SearchStrategy[Any]:
    leaves = [
        st.builds(lambda v, op, d: {"var": v["id"], "op": op, "value": v["min"] + d}, st.sampled_from(vars_), OPS, st.integers(0, 1)),
        st.builds(lambda op, r: {"round": {"op": op, "value": r}}, OPS, st.integers(1, 4)),
    ]
    if red_lines:
        leaves.append(st.builds(lambda r, s: {"red_line": r, "is": s}, st.sampled_from(red_lines),
                                st.sampled_from(["inactive", "pending", "answered", "failed"])))
    return st.recursive(
        st.one_of(leaves),
        lambda inner: st.one_of(
            st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=2)),
            st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=2)),
            st.builds(lambda x: {"not": x}, inner),
        ),
        max_leaves=3,
    )


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Plain data of a valid scenario with 1-3 strategic actors, 0-2 environment actors."""
    n_vars = draw(st.integers(1, 3))
    vars_ = []
    for i in range(n_vars):
        lo = draw(st.integers(-2, 0))
        hi = lo + draw(st.integers(1, 4))
        vars_.append({"id": f"v{i}", "label": draw(TEXT), "min": lo, "max": hi, "initial": draw(st.integers(lo, hi)),
                      "assumption": "bounds"})
    actors, actions = [], []
    for i in range(draw(st.integers(1, 3))):
        n_types = draw(st.integers(1, 2))  # the format's limit (MAX_TYPES)
        weights = draw(st.lists(st.integers(1, 9), min_size=n_types, max_size=n_types))
        types = [{"id": f"t{j}", "prior": w / sum(weights), "label": draw(TEXT)} for j, w in enumerate(weights)]
        actors.append({"id": f"A{i}", "name": draw(TEXT), "lam": draw(params(0.0, 5.0)), "types": types, "assumption": "x"})
    red_lines = []
    if draw(st.booleans()):
        red_lines.append({"id": "rl0", "owner": "A0", "crossed_when": {"var": "v0", "op": "ge", "value": vars_[0]["max"]},
                          "answer_rung": 1, "deadline": draw(st.integers(1, 3)), "audience_cost": draw(params()),
                          "source": "src0"})
    cond = conditions(vars_, [r["id"] for r in red_lines])

    def effect() -> st.SearchStrategy[dict]:
        return st.sampled_from(vars_).flatmap(
            lambda v: st.one_of(
                st.builds(lambda a: {"var": v["id"], "add": a}, st.integers(-(v["max"] - v["min"]), v["max"] - v["min"])),
                st.builds(lambda a: {"var": v["id"], "set": a}, st.integers(v["min"], v["max"])),
            )
        )

    def casualties() -> st.SearchStrategy[dict]:
        return st.builds(
            lambda side, mean, disp, into: {"kind": "casualties", "side": side, "mean": mean, "dispersion": disp,
                                             **({"into": into} if into else {})},
            st.sampled_from(["civilian", *[a["id"] for a in actors]]), _num(0.0, 3.0),
            st.one_of(st.none(), _num(0.1, 5.0)), st.one_of(st.none(), st.sampled_from([v["id"] for v in vars_])),
        )

    if red_lines:
        red_lines[0]["on_answer"] = draw(st.lists(effect(), max_size=2))
    for a in actors:
        n = draw(st.integers(2, 3))
        for k in range(n):
            own_types = [t["id"] for t in a["types"]]
            cost = draw(st.one_of(params(), st.fixed_dictionaries({t: params() for t in own_types})))
            act: dict[str, Any] = {"id": f"{a['id']}_act{k}", "actor": a["id"], "rung": k, "label": draw(TEXT),
                                   "intensity": {"scale": "goldstein", "value": draw(_num(-10, 10))},
                                   "cost": cost, "effects": draw(st.lists(effect(), max_size=2)), "assumption": "y"}
            if k == 0:
                act["default"] = True
            elif draw(st.booleans()):
                act["ends"] = "o_end"
            if draw(st.booleans()):
                act["available"] = draw(cond)
            cons = draw(st.lists(st.one_of(
                casualties(),
                st.builds(lambda p, e: {"kind": "error", "id": f"err_{a['id']}_{k}", "probability": p, "effects": e,
                                        "becomes": f"{a['id']}_act0"}, _num(0, 1), st.lists(effect(), max_size=1)),
                st.builds(lambda p, e: {"kind": "attribution", "probability": p, "unattributed_effects": e},
                          _num(0, 1), st.lists(effect(), max_size=1)),
            ), max_size=2, unique_by=lambda c: c["kind"]))
            act["consequences"] = cons
            actions.append(act)
    envs = []
    for i in range(draw(st.integers(0, 2))):
        eid = f"E{i}"
        actions.append({"id": f"{eid}_act", "actor": eid, "effects": draw(st.lists(effect(), max_size=1))})
        v = draw(st.sampled_from(vars_))
        rules = [{"when": draw(cond), "action": f"{eid}_act", "probability": draw(_num(0, 1))},
                 {"action": f"{eid}_act", "probability": {"by": v["id"], "table": draw(st.lists(_num(0, 1), min_size=v["max"] - v["min"] + 1, max_size=v["max"] - v["min"] + 1))}}]
        envs.append({"id": eid, "name": draw(TEXT), "role": draw(st.sampled_from(["proxy", "host_government", "air_defence", "other"])),
                     "rules": rules, "assumption": "z"})
    outcomes = [{"id": "o_end", "label": draw(TEXT), "when": draw(cond),
                 "casualties": draw(st.lists(casualties().map(lambda c: {k: v for k, v in c.items() if k not in ("kind", "into")}),
                                             max_size=2)), "assumption": "o"},
                {"id": "o_horizon", "at_horizon": True}]
    terminal = {o["id"]: {a["id"]: draw(params()) for a in actors} for o in outcomes}
    perceptions = []
    if len(actors) > 1 and draw(st.booleans()):
        about = actors[1]
        w = draw(st.lists(st.integers(1, 9), min_size=len(about["types"]), max_size=len(about["types"])))
        perceptions.append({"holder": "A0", "about": "A1", "prior": {t["id"]: x / sum(w) for t, x in zip(about["types"], w)},
                            "source": "src0"})
    claims = []
    if draw(st.booleans()):
        claims.append({"id": "c0", "seed": "000_x.txt", "quote": draw(TEXT), "metric": {"outcome_probability": "o_end", "within": 2},
                       "compare": {"treatment": [{"force": {"actor": "A0", "action": "A0_act1", "round": 1}}],
                                   "baseline": [{"forbid": {"actor": "A0", "action": "A0_act1"}},
                                                {"set": {"param": "actors.A0.lam", "value": draw(_num(0, 3))}}]},
                       "expect": draw(st.sampled_from(["lower", "higher"])), "margin": draw(_num(0, 1))})
    order = [a["id"] for a in actors] + [e["id"] for e in envs]
    return {
        "crisislab": 1, "id": "gen", "title": draw(TEXT), "description": draw(st.one_of(st.none(), TEXT)),
        "calendar": {"start": "2019-05-05", "days_per_round": draw(st.integers(1, 30))},
        "horizon": 4, "order": draw(st.permutations(order)),
        "sources": {"src0": {"kind": "seed", "file": "000_x.txt", "title": draw(TEXT), "date": "2020-01-03"}},
        "state": vars_, "actors": actors, "environment": envs, "actions": actions, "red_lines": red_lines,
        "outcomes": outcomes,
        "payoffs": {"discount": draw(_num(0.01, 1.0)), "terminal": terminal, "assumption": "w",
                    "flow": [{"actor": "A0", "when": draw(cond), "value": draw(params())}],
                    "casualties": [{"actor": "A0", "side": "civilian", "per_death": draw(params())}]},
        "perceptions": perceptions, "claims": claims,
    }


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenarios())
def test_round_trip_generated(data: dict[str, Any]) -> None:
    s = Scenario.from_data(data, "<generated>")
    text = dump_scenario(s)
    assert loads_scenario(text, "<dumped>") == s


def test_round_trip_fixture_and_bundled() -> None:
    for path in [SMALL, *bundled_scenarios()]:
        s = load_scenario(path)
        assert loads_scenario(dump_scenario(s), str(path)) == s, path


def test_every_bundled_scenario_validates() -> None:
    paths = bundled_scenarios()
    assert all(p.suffix == ".yaml" for p in paths)
    problems = []
    for path in paths:
        try:
            load_scenario(path)
        except ScenarioError as exc:
            problems.extend(str(p) for p in exc.problems)
    assert problems == []


# ----- overrides ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> Scenario:
    return load_scenario(SMALL)


def test_override_keeps_provenance_and_returns_new_object(small: Scenario) -> None:
    s2 = small.with_overrides({"actors.Blue.lam": 3.0})
    assert s2 is not small and small.actor("Blue").lam.value == 2.0
    lam = s2.actor("Blue").lam
    assert lam.value == 3.0 and lam.assumption == "moderate precision" and lam.uncertainty is None


def test_override_prior_rescales_the_rest(small: Scenario) -> None:
    s2 = small.with_overrides({"perceptions.Red.Blue.prior.resolute": 0.5, "actors.Red.types.hardline.prior": 0.6})
    np.testing.assert_allclose(s2.perceived_prior("Red", "Blue"), [0.5, 0.5])
    np.testing.assert_allclose(s2.actor("Red").priors, [0.6, 0.4])


def test_override_creates_missing_perception_from_truth(small: Scenario) -> None:
    s2 = small.with_overrides({"perceptions.Blue.Red.prior.hardline": 0.1})
    np.testing.assert_allclose(s2.perceived_prior("Blue", "Red"), [0.1, 0.9])


def test_override_creates_a_perception_in_a_scenario_without_any(small: Scenario) -> None:
    """`to_data` omits an empty `perceptions` list; a path into it still creates the perception,
    both in `with_overrides` and in the check of a claim's `set` entries."""
    data = small.to_data()
    del data["perceptions"]
    plain = Scenario.from_data(data, "<no perceptions>")
    assert plain.perceptions == ()
    s2 = plain.with_overrides({"perceptions.Blue.Red.prior.hardline": 0.1})
    np.testing.assert_allclose(s2.perceived_prior("Blue", "Red"), [0.1, 0.9])
    assert any(c.compare.baseline for c in plain.claims)  # small.yaml's claim sets perceptions.Red.Blue…


def test_override_by_index_and_structural(small: Scenario) -> None:
    s2 = small.with_overrides({"actions.proxy_rockets.consequences.0.mean": 2.5, "state.tension.initial": 3})
    assert s2.action("proxy_rockets").consequences[0].mean.value == 2.5  # type: ignore[union-attr]
    assert s2.var("tension").initial == 3


@pytest.mark.parametrize(
    "path, fragment",
    [
        pytest.param("actors.Green.lam", "no item 'Green' in actors (got 'actors.Green.lam'; expected one of Blue, Red)", id="unknown-id"),
        pytest.param("actors.Blue.lamda", "no 'lamda' under actors.Blue", id="unknown-field"),
        pytest.param("horizon.x", "horizon is a single value", id="under-a-number"),
        pytest.param("perceptions.Red.Green.prior.x", "no perception Red.Green", id="bad-perception"),
    ],
)
def test_bad_override_path(small: Scenario, path: str, fragment: str) -> None:
    with pytest.raises(ScenarioError) as info:
        small.with_overrides({path: 1.0})
    assert fragment in str(info.value)
    assert info.value.problems[0].path == path


def test_override_that_breaks_meaning_is_rejected(small: Scenario) -> None:
    with pytest.raises(ScenarioError, match="initial value outside the bounds"):
        small.with_overrides({"state.tension.initial": 9})


def test_parameters_with_uncertainty_and_sampling(small: Scenario) -> None:
    params = small.parameters_with_uncertainty()
    assert [p for p, _ in params] == ["actors.Blue.lam"]
    draws = [small.sample_parameters(np.random.default_rng(seed)).actor("Blue").lam.value for seed in range(20)]
    assert all(1.0 <= d <= 4.0 for d in draws) and len(set(draws)) == 20
    # Same seed, same scenario (the generator is the only randomness).
    assert small.sample_parameters(np.random.default_rng(3)) == small.sample_parameters(np.random.default_rng(3))


def test_sampled_priors_still_sum_to_one() -> None:
    text = SMALL.read_text().replace(
        "prior: {value: 0.5, source: seed000}", "prior: {value: 0.5, source: seed000, uncertainty: {uniform: [0.2, 0.8]}}"
    )
    s = loads_scenario(text, "u.yaml")
    for seed in range(5):
        drawn = s.sample_parameters(np.random.default_rng(seed))
        assert drawn.actor("Blue").priors.sum() == pytest.approx(1.0, abs=1e-12)
