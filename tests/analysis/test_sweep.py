"""Parameter sweeps: the factor space (priors and ordered inputs), indices and PRIM boxes against
closed forms, failing draws, worker-count invariance, checkpoint/resume after SIGKILL, and the
command line's errors."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crisislab.analysis import Space, boxes_table, indices_table, sweep, sweep_space
from crisislab.errors import UserError
from crisislab.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
CHICKEN = ROOT / "scenarios" / "chicken-brinkmanship.yaml"
BARGAIN = ROOT / "scenarios" / "crisis-bargaining-2type.yaml"
A_LAM, B_LAM = "actors.A.lam", "actors.B.lam"
A_TOUGH, A_SOFT = "actors.A.types.tough.prior", "actors.A.types.soft.prior"
# small and fast: grid 5, a few hundred runs per arm (each draw takes ~0.1 s of solving and simulating)
FAST = {"runs": 300, "grid": 5, "seed": 3}


@pytest.fixture(scope="module")
def chicken():
    return load_scenario(CHICKEN)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- the factor space


def test_stated_uncertainty_is_the_default_space(chicken) -> None:
    space = sweep_space(chicken)
    assert space.names == [p for p, _ in chicken.parameters_with_uncertainty()]
    assert [f.origin for f in space.factors] == ["uncertainty", "uncertainty"]


def test_range_maps_u_linearly_and_prior_complement_is_rescaled(chicken) -> None:
    space = sweep_space(chicken, [f"{A_TOUGH}=0.2:0.6"])
    v = space.values(np.array([0.25]))
    assert v[A_TOUGH] == pytest.approx(0.2 + 0.25 * 0.4)  # uniform inverse CDF: lo + u (hi - lo)
    sc = chicken.with_overrides(v)
    tough, soft = (t.prior.value for t in sc.actor("A").types)
    assert (tough, soft) == pytest.approx((0.3, 0.7))  # the other type is the complement 1 - p


def test_a_prior_uncertain_in_every_entry_keeps_the_last_as_complement() -> None:
    from crisislab.scenario import loads_scenario

    text = CHICKEN.read_text(encoding="utf-8")
    for t in ("tough", "soft"):
        old = f"- {{id: {t}, prior: 0.5, label:"
        assert text.count(old) == 1
        text = text.replace(old, f"- {{id: {t}, prior: {{value: 0.5, assumption: x, uncertainty: {{uniform: [0.2, 0.8]}}}}, label:")
    space = sweep_space(loads_scenario(text, "two-uncertain-entries.yaml"))
    assert A_TOUGH in space.names and A_SOFT not in space.names
    assert any(A_SOFT in n and "complement" in n for n in space.notes)


def test_a_whole_prior_cannot_be_swept_by_hand(chicken) -> None:
    with pytest.raises(UserError, match="every entry of one prior is swept"):
        sweep_space(chicken, [f"{A_TOUGH}=0.2:0.6", f"{A_SOFT}=0.2:0.6"])


def test_ordered_inputs_are_drawn_from_the_conditional_distribution(chicken) -> None:
    # LOW ~ U[1, 8] truncated at HIGH's value: v_LOW = 1 + u_LOW (min(v_HIGH, 8) - 1) (Rosenblatt transform
    # of the uniform law conditioned on LOW ≤ HIGH)
    space = sweep_space(chicken, [f"{A_LAM}=1:8", f"{B_LAM}=2:6"], [f"{A_LAM}<{B_LAM}"])
    assert space.sequence == (1, 0)  # the higher is drawn first
    for u in np.random.default_rng(0).uniform(size=(50, 2)):
        v = space.values(u)
        assert v[B_LAM] == pytest.approx(2 + 4 * u[1])
        assert v[A_LAM] == pytest.approx(1 + u[0] * (v[B_LAM] - 1))
        assert v[A_LAM] <= v[B_LAM]


def test_cyclic_order_is_refused(chicken) -> None:
    with pytest.raises(UserError, match="cycle"):
        sweep_space(chicken, [f"{A_LAM}=1:8", f"{B_LAM}=2:6"], [f"{A_LAM}<{B_LAM}", f"{B_LAM}<{A_LAM}"])


# ---------------------------------------------------------------- statistics against closed forms


def test_morris_and_sobol_of_a_linear_function() -> None:
    from crisislab.analysis._sensitivity import design_sample

    names = ["a", "b"]
    # Y = 2 u_a: every elementary effect of a is exactly 2 (Morris 1991, EE = ΔY/Δ), of b exactly 0
    x = design_sample("morris", names, 6, 1)
    ind = indices_table("morris", names, x, {"y": 2 * x[:, 0]}, seed=1)
    mu_star = ind[ind["index"] == "mu_star"].set_index("parameter")["value"]
    assert mu_star["a"] == pytest.approx(2.0) and mu_star["b"] == pytest.approx(0.0, abs=1e-12)
    sigma = ind[ind["index"] == "sigma"].set_index("parameter")["value"]
    assert sigma["a"] == pytest.approx(0.0, abs=1e-12)
    # Sobol: all of Var(Y) is a's, so S1_a = ST_a = 1 and b's indices are 0 (Saltelli et al. 2010,
    # estimators exact up to sampling error at N = 256)
    x = design_sample("sobol", names, 256, 1)
    ind = indices_table("sobol", names, x, {"y": 2 * x[:, 0]}, seed=1)
    got = ind.set_index(["parameter", "index"])["value"]
    assert got["a", "S1"] == pytest.approx(1.0, abs=0.05) and got["a", "ST"] == pytest.approx(1.0, abs=0.05)
    assert abs(got["b", "S1"]) < 0.05 and abs(got["b", "ST"]) < 0.05
    lo, hi = ind.set_index(["parameter", "index"]).loc[("a", "S1"), ["ci_low", "ci_high"]]
    assert lo < got["a", "S1"] < hi


def test_prim_finds_the_box_that_generated_the_cases() -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.uniform(size=600), "b": rng.uniform(size=600)})
    holds = (x["a"] > 0.6) & (x["b"] < 0.4)
    verdict = pd.Series(np.where(holds, "holds", "fails"))
    boxes = boxes_table(x, {"c": verdict})
    box = boxes[boxes["target"] == "holds"].set_index("parameter")
    assert set(box.index) == {"a", "b"}
    # the kept box is the widest whose density reaches 0.8: it covers (nearly) the generating box
    # a > 0.6, b < 0.4 and cuts off most of the rest
    assert 0.5 <= box.loc["a", "low"] <= 0.61 and 0.39 <= box.loc["b", "high"] <= 0.5
    assert box["density"].iloc[0] >= 0.8 and box["coverage"].iloc[0] >= 0.95
    assert box["description"].iloc[0].startswith("holds (coverage") and "a ≥ 0.5" in box["description"].iloc[0]


# ---------------------------------------------------------------- whole sweeps


def test_sweep_records_draws_and_failing_draws_do_not_stop_it(chicken, tmp_path: Path) -> None:
    # A ≤ B with A in [4, 8] and B in [1, 9]: when B < 4, A has no value left, so that draw fails
    res = sweep(chicken, "morris", 3, free=[f"{A_LAM}=4:8", f"{B_LAM}=1:9"], order=[(A_LAM, B_LAM)], workers=1,
                out=tmp_path / "s", **FAST)  # fmt: skip
    d = res.draws
    assert len(d) == 3 * 3 and set(d["status"]) <= {"done", "failed"}
    failed = d[d["status"] == "failed"]
    assert len(failed) >= 1 and failed["error"].str.contains("no value of its distribution").all()
    assert (failed[B_LAM] < 4).all() and (d.loc[d["status"] == "done", B_LAM] >= 4).all()
    done = d[d["status"] == "done"]
    shares = done[[c for c in d.columns if c.startswith("share:")]].sum(axis=1)
    assert np.allclose(shares, 1.0)
    assert (done[A_LAM] <= done[B_LAM]).all()
    assert set(done["claim:errors-raise-disaster:verdict"]) <= {"holds", "fails", "undetermined"}
    assert (d["scenario"] == "chicken-brinkmanship").all() and (d["design"] == "morris").all() and (d["seed"] == 3).all()
    assert d["scenario_digest"].str.len().eq(64).all()
    on_disk = pd.read_parquet(tmp_path / "s" / "sweep.parquet")
    pd.testing.assert_frame_equal(on_disk, d)


def test_results_do_not_depend_on_workers(chicken, tmp_path: Path) -> None:
    one = sweep(chicken, "lhs", 22, workers=1, out=tmp_path / "one", **FAST)
    two = sweep(chicken, "lhs", 22, workers=2, out=tmp_path / "two", **FAST)
    for name in ("sweep.parquet", "indices.parquet", "boxes.parquet"):
        assert _digest(tmp_path / "one" / name) == _digest(tmp_path / "two" / name), name
    assert one.done == two.done == 22


def test_a_cluster_gives_the_same_bits_and_checkpoints(chicken, tmp_path: Path) -> None:
    import distributed
    sweep(chicken, "morris", 2, workers=1, out=tmp_path / "local", **FAST)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                                  silence_logs=50) as cluster:  # fmt: skip
        res = sweep(chicken, "morris", 2, scheduler=cluster.scheduler_address, out=tmp_path / "cluster", **FAST)
    assert len(list((tmp_path / "cluster" / "draws").glob("*.json"))) == len(res.draws) == 6
    for name in ("sweep.parquet", "indices.parquet", "boxes.parquet"):
        assert _digest(tmp_path / "local" / name) == _digest(tmp_path / "cluster" / name), name


def test_killed_sweep_resumes_to_the_same_bits(run_cli, tmp_path: Path) -> None:
    args = [str(CHICKEN), "--design", "morris", "--n", "8", "--runs", "200", "--grid", "5", "--seed", "3",
            "--workers", "1"]  # fmt: skip
    # the uninterrupted sweep
    ref = tmp_path / "ref"
    code, _, err = run_cli("sweep", *args, "--out", ref)
    assert code == 0, err
    # the same command in a process killed with SIGKILL once some of its 24 draws are on disk
    out = tmp_path / "cut"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-c", "from crisislab.cli import main; main()", "sweep", *args, "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and len(list(out.glob("draws/*.json"))) < 6:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("draws/*.json")}
    assert 6 <= len(before) < 24, "the sweep was not cut mid-way"
    assert not (out / "sweep.parquet").exists()
    # run again with the same command: it resumes
    code, _, err = run_cli("sweep", *args, "--out", out)
    assert code == 0, err
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("draws/*.json")}
    assert len(after) == 24 and all(after[k] == v for k, v in before.items())  # finished draws never recomputed
    for name in ("sweep.parquet", "indices.parquet", "boxes.parquet", "sweep-report.html"):
        assert _digest(out / name) == _digest(ref / name), name
    # a finished sweep run again recomputes nothing and writes the same bits
    code, _, err = run_cli("sweep", *args, "--out", out)
    assert code == 0, err
    assert _digest(out / "sweep.parquet") == _digest(ref / "sweep.parquet")
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("draws/*.json")} == after


# ---------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(["--free", "actors.A.lamda=1:3"], "no 'lamda' under actors.A", id="unknown-path"),
        pytest.param(["--free", "actors.A.types.tough.prior=0.5:1.5"], "outside the parameter's valid values", id="range-outside"),
        pytest.param(["--free", f"{B_LAM}"], "states no uncertainty", id="no-stated-uncertainty"),
        pytest.param(["--design", "sobol", "--n", "2"], "too small for the sobol design", id="n-too-small-sobol"),
        pytest.param(["--design", "sobol", "--n", "12"], "power of two", id="sobol-not-power-of-two"),
        pytest.param(["--design", "morris", "--n", "1"], "too small for the morris design", id="n-too-small-morris"),
        pytest.param(["--design", "grid"], "must be one of sobol, morris, lhs", id="unknown-design"),
    ],
)
def test_bad_input_exits_2_before_any_work(run_cli, tmp_path: Path, extra: list[str], message: str) -> None:
    out = tmp_path / "out"
    code, _, err = run_cli("sweep", CHICKEN, "--grid", "5", "--runs", "300", "--out", out, *extra)
    assert code == 2 and message in err, err
    assert "Traceback" not in err and not out.exists()


def test_an_out_holding_a_different_sweep_is_refused_and_kept(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    base = ["sweep", CHICKEN, "--grid", "5", "--runs", "300", "--design", "morris", "--n", "2", "--workers", "1", "--out", out]
    code, _, err = run_cli(*base)
    assert code == 0, err
    kept = {p.relative_to(out): _digest(p) for p in out.rglob("*") if p.is_file()}
    code, _, err = run_cli(*base, "--seed", "9")
    assert code == 2 and "holds a different sweep" in err and "seed: 0 there, 9 now" in err, err
    assert {p.relative_to(out): _digest(p) for p in out.rglob("*") if p.is_file()} == kept
    html = (out / "sweep-report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "errors-raise-disaster" in html


def test_space_type_is_frozen() -> None:
    s = Space(factors=())
    with pytest.raises(AttributeError):
        s.factors = ()  # type: ignore[misc]
