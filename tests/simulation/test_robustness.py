"""Claim robustness over parameter draws, its Wilson interval, its reproducibility on Dask workers,
the compiled-game reuse behind it, and the CLI surface (robustness columns, robustness.parquet)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crisislab.scenario import load_scenario
from crisislab.analysis import ArmRunner, paired_difference, verdict, wilson_interval
from crisislab.simulation import FixedPolicy, simulate
from crisislab.analysis import evaluate_claims, robustness_table

MINI = Path(__file__).with_name("mini.yaml")
US_SIGMA = np.array([[0.3, 0.7], [0.8, 0.2]])
IRAN_SIGMA = np.array([[0.4, 0.6], [0.9, 0.1]])
# Two uncertain parameters of the mini scenario: the US prior and Iran's precision λ.
PRIOR_PATH = "actors.US.types.resolute.prior"
LAM_PATH = "actors.Iran.lam"
UNCERTAIN_YAML = (
    ("lam: {value: 2.0, source: toy}\n    source: toy\n    types:\n      - {id: hardline",
     "lam: {value: 2.0, source: toy, uncertainty: {uniform: [0.5, 4.0]}}\n    source: toy\n    types:\n      - {id: hardline"),
    ("- {id: resolute, prior: 0.6}", "- {id: resolute, prior: {value: 0.6, source: toy, uncertainty: {uniform: [0.4, 0.8]}}}"),
)  # fmt: skip


def _uncertain_text() -> str:
    text = MINI.read_text(encoding="utf-8")
    for old, new in UNCERTAIN_YAML:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def uncertain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scn") / "mini-uncertain.yaml"
    path.write_text(_uncertain_text(), encoding="utf-8")
    return path


def _fixed(_scenario: object) -> FixedPolicy:
    return FixedPolicy({"US": US_SIGMA, "Iran": IRAN_SIGMA})


def test_per_draw_verdicts_with_known_answers(uncertain: Path) -> None:
    sc = load_scenario(uncertain)
    runner = ArmRunner(sc, _fixed, 1000, seed=5)
    res = {r.id: r for r in evaluate_claims(runner, robustness=4, robustness_runs=800)}
    # Identical arms under common random numbers: every draw's paired difference is exactly 0 with a
    # zero-width interval, so the claim fails at every draw (stats.verdict: no effect fails).
    same = res["forbid-nothing-same"]
    assert same.robustness == 0.0 and same.robustness_fails == 1.0 and same.robustness_draws == 4
    assert (same.draws["difference"] == 0.0).all() and same.influential is None
    # Forcing a strike in round 1 and forbidding later ones raises P(war) by ~0.1 whatever the prior
    # or λ (the fixed policy ignores both): at N = 800 per draw the paired interval clears 0 every time.
    strike = res["strike-raises-war"]
    assert strike.robustness == 1.0 and strike.robustness_fails == 0.0
    assert (strike.draws["verdict"] == "holds").all()
    # Wilson (1927) interval of 4/4 at 95%: lower bound n / (n + z²) (closed form at k = n).
    z2 = 1.959963984540054**2
    assert strike.robustness_low == pytest.approx(4 / (4 + z2)) and strike.robustness_high == 1.0


def test_draws_where_a_claim_cannot_fail_are_counted_apart(tmp_path: Path) -> None:
    """A claim whose baseline forbids the action its metric counts is settled by how it is written
    (verdict "cannot fail", not "holds"): at every draw, so it holds in 0% and fails in 0% of the
    draws, and the share that cannot fail (100%) says why."""
    path = tmp_path / "mini-settled.yaml"
    path.write_text(_uncertain_text() + (
        "  - id: forbidding-strikes-lowers-strikes\n"
        "    metric: {action_probability: us_strike}\n"
        "    compare:\n"
        "      treatment: []\n"
        "      baseline: [{forbid: {actor: US, action: us_strike}}]\n"
        "    expect: higher\n"
    ), encoding="utf-8")
    runner = ArmRunner(load_scenario(path), _fixed, 1000, seed=5)
    res = {r.id: r for r in evaluate_claims(runner, robustness=3, robustness_runs=500)}
    settled = res["forbidding-strikes-lowers-strikes"]
    assert settled.verdict == "cannot fail"
    assert (settled.draws["verdict"] == "cannot fail").all()
    assert settled.robustness == 0.0 and settled.robustness_fails == 0.0
    assert settled.robustness_cannot_fail == 1.0 and settled.robustness_draws == 3
    assert settled.as_row()["robustness_cannot_fail"] == 1.0
    assert res["strike-raises-war"].robustness_cannot_fail == 0.0


def test_each_draw_row_is_that_draws_own_paired_estimate(uncertain: Path) -> None:
    sc = load_scenario(uncertain)
    claim = sc.claim("strike-raises-war")
    runner = ArmRunner(sc, _fixed, 500, seed=9)
    (res,) = evaluate_claims(runner, [claim], robustness=3, robustness_runs=600)
    rows = res.draws
    assert list(rows["draw"]) == [0, 1, 2] and (rows["n"] == 600).all()
    for _, row in rows.iterrows():
        # Draw d is Scenario.sample_parameters with a generator keyed by (seed, d).
        sc_d = sc.sample_parameters(np.random.default_rng([9, int(row["draw"])]))
        assert row[LAM_PATH] == pytest.approx(sc_d.actor("Iran").lam.value, abs=0)
        assert 0.5 <= row[LAM_PATH] <= 4.0 and 0.4 <= row[PRIOR_PATH] <= 0.8
        t = simulate(sc_d, _fixed(sc_d), 600, 9, claim.compare.treatment).metric_values(claim.metric)
        b = simulate(sc_d, _fixed(sc_d), 600, 9, claim.compare.baseline).metric_values(claim.metric)
        est = paired_difference(t, b)
        assert (row["difference"], row["ci_low"], row["ci_high"]) == (est.diff, est.ci_low, est.ci_high)
        assert row["verdict"] == verdict(est, claim.expect, claim.margin)


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Newcombe (1998), Stat. Med. 17:857, Table I, method 3 (Wilson score, no continuity correction).
        pytest.param(81, 263, 0.2553, 0.3662, id="81/263"),
        pytest.param(15, 148, 0.0624, 0.1605, id="15/148"),
        pytest.param(0, 20, 0.0, 0.1611, id="0/20"),
        pytest.param(1, 29, 0.0061, 0.1718, id="1/29"),
    ],
)
def test_wilson_interval_against_published_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(k, n)
    assert float(lo) == pytest.approx(low, abs=5e-5) and float(hi) == pytest.approx(high, abs=5e-5)


def test_robustness_reproducible_and_identical_for_any_workers(uncertain: Path) -> None:
    from crisislab.analysis import SolverChoice

    sc = load_scenario(uncertain)
    solve = SolverChoice("myopic")  # depends on λ, so draws differ

    def table(workers: int, seed: int) -> pd.DataFrame:
        runner = ArmRunner(sc, solve, 600, seed=seed, workers=workers, chunk=257)
        return robustness_table(evaluate_claims(runner, robustness=3, robustness_runs=400))

    one = table(1, 4)
    pd.testing.assert_frame_equal(one, table(1, 4))
    pd.testing.assert_frame_equal(one, table(2, 4))  # draws and chunks on two Dask processes
    assert not one[LAM_PATH].equals(table(1, 5)[LAM_PATH])


def test_results_identical_on_a_dask_distributed_cluster(uncertain: Path) -> None:
    from distributed import LocalCluster

    sc = load_scenario(uncertain)
    local = simulate(sc, _fixed(sc), 1500, seed=3, chunk=1500)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        from crisislab.simulation import simulate_model
        from crisislab.model import lower
        from crisislab.simulation import compile_arm

        spec = lower(sc)
        remote = simulate_model(spec, _fixed(sc), 1500, 3, compile_arm(spec, sc, []), chunk=400, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(local.runs, remote.runs)
    np.testing.assert_array_equal(local.state_hist, remote.state_hist)


def test_prior_only_variants_share_compiled_game_and_policy() -> None:
    from crisislab.crisis import compile_model, solve
    from crisislab.crisis._variants import compile_variant, policy_unchanged
    from crisislab.model import lower

    sc = load_scenario(MINI)
    moved = sc.with_overrides({PRIOR_PATH: 0.3, "perceptions.Iran.US.prior.resolute": 0.7})
    lam = sc.with_overrides({LAM_PATH: 3.0})
    a, b, c = (lower(s) for s in (sc, moved, lam))
    assert policy_unchanged(a, b) and not policy_unchanged(a, c)
    base = compile_model(a)
    cg_b = compile_variant(b, base)
    assert cg_b.model is b and cg_b.prob is base.prob  # patched, not recompiled
    # The crisis engine's contract: priors move only the starting node, never the strategy tables.
    sa, sb = solve(base, grid=5), solve(cg_b, grid=5)
    for ga, gb in zip(sa.sigma, sb.sigma, strict=True):
        for x, y in zip(ga, gb, strict=True):
            np.testing.assert_array_equal(x, y)
    # A new terminal payoff is patched through tdisc; it equals a fresh compile to rounding.
    war = sc.with_overrides({"payoffs.terminal.war.US.restrained": -7.0})
    d = lower(war)
    fresh, patched = compile_model(d), compile_variant(d, base)
    assert patched.prob is base.prob
    for x, y in zip(fresh.reward, patched.reward, strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)


def test_cli_run_writes_the_robustness_table(uncertain: Path, tmp_path: Path, run_cli) -> None:
    out = tmp_path / "out"
    args = ("run", str(uncertain), "--runs", "400", "--seed", "2", "--out", str(out), "--policy", "myopic", "--robustness", "3")
    code, stdout, stderr = run_cli(*args, "--json")
    assert code == 0, stderr
    table = pd.read_parquet(out / "robustness.parquet")
    assert len(table) == 2 * 3  # two claims × three draws
    assert {"claim", "draw", "seed", PRIOR_PATH, LAM_PATH, "difference", "ci_low", "ci_high", "n", "verdict"} <= set(table.columns)
    assert (table["n"] == 1000).all()  # default runs per draw: max(1000, N // 4)
    summary = {c["claim"]: c for c in json.loads(stdout)["claims"]}
    for cid, rows in table.groupby("claim"):
        assert summary[cid]["robustness"] == (rows["verdict"] == "holds").mean()
        assert summary[cid]["robustness_draws"] == 3
    claims_csv = pd.read_csv(out / "claims.csv")
    assert {"robustness_low", "robustness_high", "robustness_fails", "influential"} <= set(claims_csv.columns)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "most influential parameter" in html and "of 3" in html


def test_cli_claims_prints_robustness_columns(uncertain: Path, run_cli) -> None:
    code, stdout, stderr = run_cli(
        "claims", str(uncertain), "--runs", "400", "--seed", "1", "--policy", "myopic", "--robustness", "3"
    )
    assert code == 0, stderr
    assert "robustness" in stdout and "of 3" in stdout and "fails" in stdout
    assert "strike-raises-war: most influential parameter:" in stdout
    code, stdout, _ = run_cli(
        "claims", str(uncertain), "--runs", "400", "--policy", "myopic", "--robustness", "2", "--json"
    )
    rows = {r["claim"]: r for r in json.loads(stdout)}
    assert code == 0 and rows["strike-raises-war"]["robustness_draws"] == 2
    assert 0.0 <= rows["strike-raises-war"]["robustness_low"] <= rows["strike-raises-war"]["robustness_high"] <= 1.0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(("--robustness", "-1"), "--robustness: must be an integer >= 0 parameter draws (0 turns robustness off; got -1)", id="negative-draws"),
        pytest.param(("--robustness-runs", "1"), "--robustness-runs: must be an integer >= 2 runs per draw (got 1)", id="runs"),
        pytest.param(("--scheduler", "localhost:8786"), "scheduler: must be the address of a running dask.distributed scheduler", id="scheduler"),
    ],
)
def test_cli_bad_robustness_options_exit_2(args: tuple[str, ...], needle: str, run_cli) -> None:
    code, stdout, stderr = run_cli("claims", str(MINI), "--policy", "myopic", *args)
    assert code == 2
    assert needle in stderr + stdout and "Traceback" not in stderr


def test_an_auto_grid_is_fixed_once_per_runner_from_the_scenario_as_written(monkeypatch):
    # On a game too large for the dense grid, auto_grid makes the priors nodes of a Chebyshev grid
    # (tests/crisis/test_solve.py): the mini scenario (made "large" by a zero budget for the dense
    # grid) with US prior 0.6 gets other nodes than a draw with 0.55 would if it chose its own.
    # Arms and draws must share the runner's grid instead.
    import crisislab.crisis._solve as solve_module
    from crisislab.crisis import auto_grid

    monkeypatch.setattr(solve_module, "AUTO_NODES", 0)
    from crisislab.crisis._variants import compile_variant
    from crisislab.analysis import SolverChoice
    from crisislab.model import lower

    sc = load_scenario(MINI)
    drawn = sc.with_overrides({PRIOR_PATH: 0.55})
    own = [auto_grid(compile_variant(lower(s))) for s in (sc, drawn)]
    assert own[0] != own[1], own  # the premise: each scenario alone would pick its own grid
    runner = ArmRunner(sc, SolverChoice("crisis"), 10, 1)
    assert runner.solve == SolverChoice("crisis", own[0])
    assert ArmRunner(drawn, runner.solve, 10, 1).solve.grid == own[0]  # how a draw is built
    assert SolverChoice("myopic").for_scenario(sc) == SolverChoice("myopic")  # no grid to fix


@pytest.mark.parametrize("n", [3, 10, 100, 500, 1000, 2000, 2500, 4000, 20000, 50000, 1_000_000])
def test_wilson_interval_contains_its_estimate_at_every_count(n: int) -> None:
    """lo <= k/n <= hi for every k, with lo = 0 exactly at k = 0 and hi = 1 exactly at k = n (the
    closed form gives these; in floating point it gave lo ~ 2e-19 at k = 0 for these n, which broke
    the report's error bars)."""
    k = np.unique(np.r_[np.arange(min(n, 60) + 1), n - np.arange(min(n, 60) + 1), np.linspace(0, n, 101).round()])
    lo, hi = wilson_interval(k, n)
    p = k / n
    assert np.all(lo <= p) and np.all(p <= hi)
    assert lo[k == 0][0] == 0.0 and hi[k == n][0] == 1.0


def test_influential_parameter_text_says_why_it_is_missing() -> None:
    from types import SimpleNamespace

    from crisislab.cli._simulate import _influential_text

    few = _influential_text(SimpleNamespace(influential=None, robustness_draws=2))
    assert "at least 3 draws" in few and "constant" not in few
    flat = _influential_text(SimpleNamespace(influential=None, robustness_draws=8))
    assert "constant" in flat
