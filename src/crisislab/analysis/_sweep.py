"""Parameter sweeps: global sensitivity and scenario discovery over a scenario's uncertainty.

`sweep(scenario, design, n, ...)` draws the factors — the parameters with a stated `uncertainty`,
or the ones named in `free` (`PATH` to use the scenario's stated distribution, `PATH=LO:HI` for a
uniform range) — with a SALib design (`_sensitivity.design_sample`), and for each draw re-solves
the scenario (`ArmRunner`, which reuses the compiled game when only λ, priors or terminal payoffs
change) and simulates it with the same seed for every draw and arm (common random numbers: a
draw's differences are the parameters', not sampling noise). Per draw it records the outcome
shares of the scenario, each claim's paired difference with its interval and verdict
(`judge_claims`, as a robustness draw does), and the solver's diagnostics. Then Sobol / Morris /
RBD-FAST indices for every output and PRIM boxes for every claim (`_sensitivity`).

Dependent inputs. SALib draws independent uniforms `u`; `Space.values` maps them to parameter
values with each factor's inverse distribution function, taken conditionally where inputs are
tied (a Rosenblatt transform, so every draw is consistent and the design stays a design in `u`):
- a prior's entries sum to 1: the entries not swept are the complement, rescaled in proportion by
  `Scenario.with_overrides` (a two-type prior: the other type gets 1 − p). Sweeping every entry
  of a prior leaves the last one as the complement. Several swept entries of one prior are drawn
  in file order, each from its distribution truncated to the mass the earlier ones left
  (`v_j = F_j⁻¹(u_j · F_j(1 − Σ_{i<j} v_i))`).
- `order=[(LOW, HIGH), ...]` keeps parameter LOW below HIGH: HIGH is drawn first, then LOW from its
  distribution truncated at HIGH's value (`v = F⁻¹(u · F(v_HIGH))`); chains are drawn from the top.
A draw whose tied ranges leave no room (F = 0), or whose values the scenario rejects, fails with
that message like any other failing draw.

Checkpoint and resume. With `out`, the sweep's identity (scenario digest, design, n, factors,
runs, seed, solver, version) is written to OUT/sweep.json, and each finished draw (done or
failed) to OUT/draws/NNNNNNN.json, written to a temporary file, flushed and renamed into place,
with a SHA-256 of its content: a draw is on disk whole or not at all, whenever the process dies
(SIGKILL included). The same call later loads the finished draws, runs only the others, and
writes the same bits: every number comes from (scenario, factors, design, n, seed), never from
the order or place in which draws ran. An `out` that holds a different sweep is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crisislab.analysis._claims import ArmRunner, SolverChoice, _cores, judge_claims
from crisislab.analysis._sensitivity import boxes_table, design_sample, indices_table
from crisislab.errors import EnvironmentFault, UserError
from crisislab.model.rules import DEFAULT_CHUNK
from crisislab.simulation import map_tasks

__all__ = ["DESIGNS", "SWEEP_FILES", "Factor", "Space", "Sweep", "min_n", "sweep", "sweep_space"]

DESIGNS: tuple[str, ...] = ("sobol", "morris", "lhs")
SWEEP_FILE, INDICES_FILE, BOXES_FILE, REPORT_FILE = "sweep.parquet", "indices.parquet", "boxes.parquet", "sweep-report.html"
SWEEP_FILES = (SWEEP_FILE, INDICES_FILE, BOXES_FILE, REPORT_FILE)
MANIFEST, DRAWS_DIR = "sweep.json", "draws"
_FORMAT = 1
# An unbounded normal's inverse CDF is infinite at u = 0 and 1 (Morris's grid and Latin cells
# reach them): its draws are taken between these quantiles.
NORMAL_TAIL = 1e-3
MAX_DRAWS = 1_000_000


def min_n(design: str) -> int:
    """The smallest `n` each design accepts: Sobol needs at least 4 base samples (a power of two,
    for the Sobol' sequence's balance) to bootstrap its indices, Morris 2 trajectories (σ), RBD-FAST
    more than twice its harmonics."""
    from crisislab.analysis._sensitivity import RBD_HARMONICS

    return {"sobol": 4, "morris": 2, "lhs": 2 * RBD_HARMONICS + 2}[design]


# --------------------------------------------------------------------------------------------
# The factors and how u maps to values
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Factor:
    """One swept parameter: its field path, its marginal distribution (a scenario `Uncertainty`),
    where that came from ("uncertainty": the scenario's statement; "range": `PATH=LO:HI`), and
    the prior it belongs to (None, or the prior's group key: its entries sum to 1)."""

    path: str
    dist: Any
    origin: str
    prior: tuple[str, ...] | None = None

    def describe(self) -> dict[str, Any]:
        return {"path": self.path, "origin": self.origin,
                "distribution": self.dist.model_dump(mode="json", exclude_none=True)}  # fmt: skip

    def cdf(self, x: float) -> float:
        """P(value ≤ x) under the factor's distribution."""
        from scipy import stats

        u = self.dist
        if u.uniform is not None:
            lo, hi = map(float, u.uniform)
            return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))
        if u.triangular is not None:
            lo, mode, hi = map(float, u.triangular)
            return float(stats.triang.cdf(x, (mode - lo) / (hi - lo), loc=lo, scale=hi - lo))
        if u.normal is not None:
            m, sd = map(float, u.normal)
            if u.clip is not None:
                if x >= float(u.clip[1]):
                    return 1.0
                if x < float(u.clip[0]):
                    return 0.0
            return float(stats.norm.cdf(x, m, sd))
        if u.beta is not None:
            return float(stats.beta.cdf(x, *map(float, u.beta)))
        choices = np.asarray(u.choice, dtype=np.float64)
        return float((choices <= x + 1e-12).mean())

    def ppf(self, q: float) -> float:
        """The value at quantile `q` in [0, 1] (`choice`: the k equally likely values by index)."""
        from scipy import stats

        u = self.dist
        if u.uniform is not None:
            lo, hi = map(float, u.uniform)
            return lo + q * (hi - lo)
        if u.triangular is not None:
            lo, mode, hi = map(float, u.triangular)
            return float(stats.triang.ppf(q, (mode - lo) / (hi - lo), loc=lo, scale=hi - lo))
        if u.normal is not None:
            m, sd = map(float, u.normal)
            if u.clip is None:
                return float(stats.norm.ppf(min(max(q, NORMAL_TAIL), 1.0 - NORMAL_TAIL), m, sd))
            return float(np.clip(stats.norm.ppf(q, m, sd), float(u.clip[0]), float(u.clip[1])))
        if u.beta is not None:
            return float(stats.beta.ppf(q, *map(float, u.beta)))
        choices = sorted(float(c) for c in u.choice)
        return choices[min(int(q * len(choices)), len(choices) - 1)]


class InfeasibleDraw(ValueError):
    """Tied factors leave a factor no value (a truncated distribution with no mass); `partial`
    holds the values drawn before it."""

    def __init__(self, message: str, partial: dict[str, float] | None = None):
        super().__init__(message)
        self.partial = dict(partial or {})


@dataclass(frozen=True)
class Space:
    """The swept factors (in the order of the design's columns), the pairs (LOW, HIGH) kept ordered,
    the order in which values are drawn (every HIGH before its LOWs; a prior's entries in file
    order), and `notes` on how dependent inputs were handled."""

    factors: tuple[Factor, ...]
    order: tuple[tuple[str, str], ...] = ()
    sequence: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return [f.path for f in self.factors]

    def describe(self) -> dict[str, Any]:
        return {"factors": [f.describe() for f in self.factors], "order": [list(p) for p in self.order]}

    def values(self, u: np.ndarray) -> dict[str, float]:
        """Parameter values of one design point `u` (float64 `(D,)` in [0, 1]); InfeasibleDraw when
        the ties leave a factor nothing to draw from."""
        out: dict[str, float] = {}
        used: dict[tuple[str, ...], float] = {}
        highs: dict[str, list[str]] = {}
        for lo, hi in self.order:
            highs.setdefault(lo, []).append(hi)
        for j in self.sequence:
            f = self.factors[j]
            cap = min((out[h] for h in highs.get(f.path, ())), default=None)
            if f.prior is not None and f.prior in used:
                left = 1.0 - used[f.prior]
                cap = left if cap is None else min(cap, left)
            q = float(u[j])
            if cap is not None:
                mass = f.cdf(cap)
                if mass <= 0.0:
                    raise InfeasibleDraw(f"{f.path}: no value of its distribution is at most {cap:.6g}, "
                                         "the bound its tied parameters leave it", out)  # fmt: skip
                q *= mass
            v = f.ppf(q)
            if cap is not None:
                v = min(v, cap)
            out[f.path] = v
            if f.prior is not None:
                used[f.prior] = used.get(f.prior, 0.0) + v
        return {f.path: out[f.path] for f in self.factors}


def _prior_group(path: str) -> tuple[tuple[str, ...], str] | None:
    """(group key, type id) when `path` names one entry of a prior (a type's true prior
    `actors.A.types.T.prior`, or a perceived one `perceptions.H.A.prior.T`)."""
    s = path.split(".")
    if len(s) == 5 and s[0] == "actors" and s[2] == "types" and s[4] == "prior":
        return ("actors", s[1]), s[3]
    if len(s) == 5 and s[0] == "perceptions" and s[3] == "prior":
        return ("perceptions", s[1], s[2]), s[4]
    return None


def _prior_types(scenario: Any, group: tuple[str, ...]) -> list[str]:
    if group[0] == "actors":
        actor = next(a for a in scenario.actors if a.id == group[1])
        return [t.id for t in actor.types]
    actor = next(a for a in scenario.actors if a.id == group[2])
    return [t.id for t in actor.types]


def _parse_free(scenario: Any, text: str, option: str) -> Factor:
    from crisislab.scenario import PathError, ScenarioError, Uncertainty, resolve_param_path

    path, eq, rng = str(text).partition("=")
    path = path.strip()
    try:
        value = resolve_param_path(scenario, path)
    except PathError as exc:
        raise UserError(f"{option} {text}: {exc} (expected {exc.expected})") from None
    if not eq:
        stated = dict(scenario.parameters_with_uncertainty()).get(path)
        if stated is None:
            raise UserError(f"{option} {text}: the scenario states no uncertainty for {path} (its value is "
                            f"{value['value'] if isinstance(value, dict) else value}); give a range: {option} {path}=LO:HI")  # fmt: skip
        return Factor(path, stated.uncertainty, "uncertainty")
    lo_s, colon, hi_s = rng.partition(":")
    try:
        if not colon:
            raise ValueError
        lo, hi = float(lo_s), float(hi_s)
    except ValueError:
        raise UserError(f"{option} {text}: expected PATH=LO:HI with two numbers, e.g. {path}=0.5:2 (got {rng!r})") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise UserError(f"{option} {text}: expected finite LO < HI (got {lo_s} and {hi_s})")
    for end in (lo, hi):
        try:
            scenario.with_overrides({path: end})
        except ScenarioError as exc:
            first = str(exc).splitlines()[0]
            raise UserError(f"{option} {text}: {path} = {end:g} is outside the parameter's valid values: {first}") from None
    return Factor(path, Uncertainty(uniform=(lo, hi)), "range")


def sweep_space(
    scenario: Any, free: Sequence[str] | None = None, order: Sequence[tuple[str, str] | str] = (), *, option: str = "--free"
) -> Space:
    """The factors of a sweep of `scenario` (see the module docstring): `free` items "PATH" or
    "PATH=LO:HI", or, without `free`, every parameter with a stated uncertainty; `order` pairs
    (LOW, HIGH) or "LOW<HIGH" strings. Bad paths, ranges outside a parameter's valid values,
    duplicates, a whole prior swept by hand and cyclic orders are `UserError`s."""
    notes: list[str] = []
    if free:
        factors = [_parse_free(scenario, t, option) for t in free]
    else:
        factors = [Factor(p, param.uncertainty, "uncertainty") for p, param in scenario.parameters_with_uncertainty()]
        if not factors:
            raise UserError(f"{scenario.id}: nothing to sweep: the scenario states no parameter uncertainty; "
                            f"name parameters with {option} PATH=LO:HI")  # fmt: skip
    seen: set[str] = set()
    for f in factors:
        if f.path in seen:
            raise UserError(f"{option} {f.path}: named twice (expected each parameter once)")
        seen.add(f.path)
    # priors: tie entries of one prior together; a prior swept whole keeps its last entry as the complement
    with_group = []
    for f in factors:
        g = _prior_group(f.path)
        with_group.append(Factor(f.path, f.dist, f.origin, g[0]) if g else f)
    factors = with_group
    groups: dict[tuple[str, ...], list[int]] = {}
    for j, f in enumerate(factors):
        if f.prior is not None:
            groups.setdefault(f.prior, []).append(j)
    drop: set[int] = set()
    for g, idx in groups.items():
        types = _prior_types(scenario, g)
        if len(idx) == len(types):
            if free:
                raise UserError(f"{option}: {', '.join(factors[j].path for j in idx)}: every entry of one prior is swept, "
                                f"but they sum to 1: leave one out (it is the complement, 1 minus the others)")  # fmt: skip
            last = max(idx, key=lambda j: types.index(_prior_group(factors[j].path)[1]))  # type: ignore[index]
            drop.add(last)
            notes.append(f"{factors[last].path} is the complement of the other entries of its prior (1 minus their sum), not a factor")
        elif len(idx) > 1:
            notes.append(f"{', '.join(factors[j].path for j in idx)}: entries of one prior, each drawn from its distribution "
                         "truncated to the mass the earlier ones leave; the prior's other entries take the rest in proportion")  # fmt: skip
    factors = [f for j, f in enumerate(factors) if j not in drop]
    names = [f.path for f in factors]
    pairs: list[tuple[str, str]] = []
    for item in order:
        if isinstance(item, str):
            lo, sep, hi = item.partition("<")
            if not sep:
                raise UserError(f"--order {item}: expected LOW<HIGH with two swept parameter paths")
            item = (lo.strip(), hi.strip())
        lo, hi = item
        for p in (lo, hi):
            if p not in names:
                raise UserError(f"--order {lo}<{hi}: {p} is not a swept parameter (expected one of {', '.join(names)})")
        if lo == hi:
            raise UserError(f"--order {lo}<{hi}: a parameter cannot be ordered against itself")
        pairs.append((lo, hi))
    sequence = _sequence(names, pairs)
    if pairs:
        notes.append("ordered: " + ", ".join(f"{lo} ≤ {hi}" for lo, hi in pairs) +
                     " (the higher is drawn first, the lower from its distribution truncated at the higher's value)")  # fmt: skip
    return Space(tuple(factors), tuple(pairs), tuple(sequence), tuple(notes))


def _sequence(names: list[str], pairs: list[tuple[str, str]]) -> list[int]:
    """Indices of `names` so that each HIGH comes before its LOWs (stable otherwise); UserError on a cycle."""
    below = {n: [lo for lo, hi in pairs if hi == n] for n in names}
    waiting = {n: sum(1 for lo, _ in pairs if lo == n) for n in names}
    ready = [n for n in names if waiting[n] == 0]
    out: list[str] = []
    while ready:
        n = ready.pop(0)
        out.append(n)
        for lo in below[n]:
            waiting[lo] -= 1
            if waiting[lo] == 0:
                ready.append(lo)
        ready.sort(key=names.index)
    if len(out) < len(names):
        stuck = [n for n in names if n not in out]
        raise UserError(f"--order: the orders form a cycle among {', '.join(stuck)} (expected LOW<HIGH pairs without a cycle)")
    return [names.index(n) for n in out]


# --------------------------------------------------------------------------------------------
# One draw
# --------------------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    text = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _draw_task(job: dict[str, Any], item: tuple[int, dict[str, float] | str]) -> dict[str, Any]:
    """Draw `i`: the scenario at the draw's values, solved and simulated (every arm with the sweep's
    seed), its outcome shares, claims and solver report. A failure of the draw itself is returned
    as its record (`status` "failed", `error`); faults of the machine are raised."""
    i, values = item
    if job["threads"]:
        import numba

        numba.set_num_threads(max(1, min(job["threads"], numba.config.NUMBA_NUM_THREADS)))
    t0 = time.perf_counter()
    seconds = {"prepare": 0.0, "compile": 0.0, "solve": 0.0, "simulate": 0.0}
    try:
        if isinstance(values, str):  # the design point could not be mapped to values
            raise InfeasibleDraw(values)
        sc = job["scenario"].with_overrides(values)
        runner = ArmRunner(sc, job["solve"], job["runs"], job["seed"], chunk=job["chunk"])
        seconds["prepare"] = time.perf_counter() - t0
        base = runner.results([])
        counts = base.outcome_counts()
        shares = {k: int(counts.get(k, 0)) / base.n_runs for k in base.spec.outcomes}
        claims = judge_claims(runner, job["claims"], job["level"])
    except (MemoryError, OSError, EnvironmentFault, KeyboardInterrupt):
        raise
    except Exception as exc:  # a draw that fails is data, not the end of the sweep
        seconds["total"] = time.perf_counter() - t0
        return {"draw": i, "status": "failed", "error": _one_line(exc), "seconds": seconds}
    solves = runner.solves
    seconds["compile"] = sum(s["compile_seconds"] for s in solves)
    seconds["solve"] = sum(s["solve_seconds"] for s in solves)
    seconds["total"] = time.perf_counter() - t0
    seconds["simulate"] = max(0.0, seconds["total"] - seconds["prepare"] - seconds["compile"] - seconds["solve"])
    ok = [s["solver_ok"] for s in solves if "solver_ok" in s]
    resid = [s["max_residual"] for s in solves if "max_residual" in s]
    diags = sorted({d for s in solves for d in (s.get("diagnostics") or "").split("; ") if d})
    solver = {"solves": len(solves), "solver_ok": all(ok) if ok else None,
              "max_residual": max(resid) if resid else None, "diagnostics": "; ".join(diags)}  # fmt: skip
    return {"draw": i, "status": "done", "error": None, "shares": shares, "claims": claims, "solver": solver, "seconds": seconds}


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True).encode("utf-8")


def _draw_path(out: Path, i: int) -> Path:
    return out / DRAWS_DIR / f"{i:07d}.json"


def _write_atomic(path: Path, data: bytes) -> None:
    """`data` at `path` whole or not at all: a temporary file beside it, flushed, then renamed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _save_draw(out: Path, sweep_id: str, record: dict[str, Any]) -> None:
    body = {"sweep": sweep_id, "record": record}
    body["sha256"] = hashlib.sha256(_canonical(body["record"])).hexdigest()
    _write_atomic(_draw_path(out, int(record["draw"])), _canonical(body))


def _load_draws(out: Path, sweep_id: str, total: int) -> dict[int, dict[str, Any]]:
    """The finished draws on disk whose checksum and sweep match; others are ignored (recomputed)."""
    found: dict[int, dict[str, Any]] = {}
    d = out / DRAWS_DIR
    if not d.is_dir():
        return found
    for entry in os.scandir(d):
        if entry.name.startswith("."):  # a temporary file of a write that was cut short
            try:
                os.unlink(entry.path)
            except OSError:
                pass
            continue
        if not entry.name.endswith(".json"):
            continue
        try:
            body = json.loads(Path(entry.path).read_bytes())
            rec = body["record"]
            if body.get("sweep") != sweep_id or hashlib.sha256(_canonical(rec)).hexdigest() != body.get("sha256"):
                continue
            i = int(rec["draw"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if 0 <= i < total and entry.name == f"{i:07d}.json":
            found[i] = rec
    return found


def _prepare_out(out: Path, manifest: dict[str, Any], option: str) -> None:
    """Refuse an `out` holding a different sweep (or outputs with no sweep.json); else make it and
    write the manifest if it is new. Nothing is changed when refusing."""
    from crisislab._output import check_output

    check_output(out, directory=True, option=option)
    mpath = out / MANIFEST
    if mpath.exists():
        try:
            old = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{option}: {mpath} cannot be read as a sweep's record ({exc}); choose another {option}") from None
        if old != manifest:
            keys = sorted(k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k))
            what = "; ".join(f"{k}: {_short(old.get(k))} there, {_short(manifest.get(k))} now" for k in keys[:4])
            raise UserError(f"{option}: {out} holds a different sweep ({what}); choose another {option}, "
                            f"or delete {out} to start this one there")  # fmt: skip
        (out / DRAWS_DIR).mkdir(exist_ok=True)
        return
    if out.is_dir():
        clash = [n for n in (DRAWS_DIR, *SWEEP_FILES) if (out / n).exists()]
        if clash:
            raise UserError(f"{option}: {out} holds {', '.join(clash)} but no {MANIFEST} (not a sweep this command can "
                            f"resume); choose another {option}")  # fmt: skip
    (out / DRAWS_DIR).mkdir(parents=True, exist_ok=True)
    _write_atomic(mpath, json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8"))


def _short(v: Any) -> str:
    s = json.dumps(v, sort_keys=True, default=str)
    return s if len(s) <= 80 else s[:77] + "..."


# --------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """A finished sweep.

    `draws` (sweep.parquet): one row per draw: `draw`, `status` ("done" / "failed"), `error`, the
    design point `u:PATH` and the value `PATH` of every factor, `share:OUTCOME` for every outcome,
    for every claim `claim:ID:difference`, `…:ci_low`, `…:ci_high`, `…:verdict`, `…:treatment`,
    `…:baseline`, the solver's report (`solves`, `solver_ok`, `max_residual`, `diagnostics`), and
    the provenance (`crisislab_version`, `scenario`, `scenario_digest`, `design`, `seed`, `runs`).
    `indices` (indices.parquet, `_sensitivity.indices_table`), `boxes` (boxes.parquet,
    `_sensitivity.boxes_table`). `timings`: seconds per draw spent preparing, compiling, solving
    and simulating (measurements, so not in sweep.parquet, which is the same bits on every run).
    `manifest`: the sweep's identity as written to sweep.json. `notes`: how dependent inputs were
    drawn.
    """

    scenario_id: str
    design: str
    n: int
    seed: int
    runs: int
    space: Space
    draws: pd.DataFrame = field(repr=False)
    indices: pd.DataFrame = field(repr=False)
    boxes: pd.DataFrame = field(repr=False)
    timings: pd.DataFrame = field(repr=False, compare=False)
    manifest: dict = field(repr=False)
    notes: tuple[str, ...] = ()
    level: float = 0.95

    @property
    def done(self) -> int:
        return int((self.draws["status"] == "done").sum())

    @property
    def failed(self) -> int:
        return int((self.draws["status"] == "failed").sum())

    @property
    def claims(self) -> list[str]:
        return [c.split(":")[1] for c in self.draws.columns if c.startswith("claim:") and c.endswith(":verdict")]

    @property
    def outcomes(self) -> list[str]:
        return [c.split(":", 1)[1] for c in self.draws.columns if c.startswith("share:")]


def _scenario_digest(scenario: Any) -> str:
    """SHA-256 of the scenario's plain data (its every field, whatever file it came from)."""
    return hashlib.sha256(json.dumps(scenario.to_data(), sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _check_arguments(design: str, n: int, runs: int, level: float, workers: int) -> None:
    if design not in DESIGNS:
        raise UserError(f"--design: must be one of {', '.join(DESIGNS)} (got {design!r})")
    n = int(n)
    if n < min_n(design):
        raise UserError(f"--n: too small for the {design} design: at least {min_n(design)} (got {n})" +
                        {"sobol": " base samples", "morris": " trajectories", "lhs": " draws"}[design])  # fmt: skip
    if design == "sobol" and n & (n - 1):
        lo = 1 << (n.bit_length() - 1)
        raise UserError(f"--n: the sobol design needs a power of two base samples (Sobol' sequences are balanced only "
                        f"then; got {n}: use {lo} or {lo * 2})")  # fmt: skip
    if int(runs) < 2:
        raise UserError(f"--runs: must be an integer >= 2 runs per draw (got {runs})")
    if not 0.0 < float(level) < 1.0:
        raise UserError(f"level: must be in (0, 1) (got {level})")
    if int(workers) < 1:
        raise UserError(f"--workers: must be an integer >= 1 (got {workers})")


class _Bar:
    """One progress bar for the sweep: draws done, failed and remaining."""

    def __init__(self, total: int, done: int, failed: int):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.total, self.done, self.failed = total, done, failed
        self._p = Progress(TextColumn("sweep"), BarColumn(),
                           TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TimeRemainingColumn(), transient=True)  # fmt: skip
        self._p.start()
        self._t = self._p.add_task("sweep", total=total, completed=done + failed, counts=self._counts())

    def _counts(self) -> str:
        return f"{self.done} done · {self.failed} failed · {self.total - self.done - self.failed} remaining"

    def record(self, status: str) -> None:
        if status == "done":
            self.done += 1
        else:
            self.failed += 1
        self._p.update(self._t, completed=self.done + self.failed, counts=self._counts())

    def close(self) -> None:
        self._p.stop()


def sweep(
    scenario: Any,
    design: str = "morris",
    n: int = 10,
    *,
    free: Sequence[str] | None = None,
    order: Sequence[tuple[str, str] | str] = (),
    runs: int = 2000,
    seed: int = 0,
    policy: str = "crisis",
    grid: int | str = "auto",
    level: float = 0.95,
    workers: int | None = None,
    scheduler: str | None = None,
    chunk: int = DEFAULT_CHUNK,
    out: str | Path | None = None,
    progress: bool = False,
    report: Callable[[Sweep], str] | None = None,
    option_names: dict[str, str] | None = None,
) -> Sweep:
    """Global sensitivity and scenario discovery over `scenario`'s parameters (module docstring).

    `scenario`: a `Scenario` or a path to one. `design`: "sobol" (`n` base samples, a power of two:
    n·(D + 2) draws), "morris" (`n` trajectories: n·(D + 1) draws) or "lhs" (`n` draws), D the
    number of factors. `free`: "PATH" / "PATH=LO:HI" items (default: every stated uncertainty);
    `order`: (LOW, HIGH) pairs kept ordered. Each draw is solved by `policy` on `grid` (fixed once
    from the scenario as written when "auto") and simulated with `runs` runs per arm and `seed`
    (common random numbers across draws and arms); intervals at `level`. `workers` local Dask
    processes (default: one per core), or `scheduler`, the address of a running dask.distributed
    cluster; results do not depend on either. `out`: a directory for checkpoints and outputs
    (sweep.parquet, indices.parquet, boxes.parquet, and sweep-report.html from `report(sweep)`
    when given); the same call resumes a sweep cut short there.
    """
    from crisislab._version import __version__
    from crisislab.crisis import parse_grid
    from crisislab.scenario import load_scenario
    from crisislab.simulation import check_scheduler

    names = {"free": "--free", "out": "--out"} | dict(option_names or {})
    if isinstance(scenario, (str, Path)):
        scenario = load_scenario(scenario)
    workers = _cores() if workers is None else int(workers)
    _check_arguments(design, n, runs, level, workers)
    check_scheduler(scheduler)
    grid = parse_grid(str(grid)) if isinstance(grid, str) else grid
    solver = SolverChoice(policy, grid)  # checks the policy's name
    space = sweep_space(scenario, free, order, option=names["free"])
    d = len(space.names)
    total = int(n) * {"sobol": d + 2, "morris": d + 1, "lhs": 1}[design]
    if total > MAX_DRAWS:
        raise UserError(f"--n: {n} gives {total:,} draws of the {design} design for {d} parameters (expected at most {MAX_DRAWS:,})")
    x = design_sample(design, space.names, int(n), int(seed))
    manifest = {
        "format": _FORMAT, "crisislab": __version__, "scenario": scenario.id, "scenario_digest": _scenario_digest(scenario),
        "design": design, "n": int(n), "draws": len(x), **space.describe(), "runs": int(runs), "seed": int(seed),
        "policy": policy, "grid": grid, "level": float(level),
    }  # fmt: skip
    sweep_id = hashlib.sha256(_canonical(manifest)).hexdigest()
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        _prepare_out(out_path, manifest, names["out"])
    finished = _load_draws(out_path, sweep_id, len(x)) if out_path is not None else {}
    todo: list[tuple[int, dict[str, float] | str]] = []
    for i in range(len(x)):
        if i in finished:
            continue
        try:
            todo.append((i, space.values(x[i])))
        except InfeasibleDraw as exc:
            todo.append((i, str(exc)))
    if todo:
        solve = solver.for_scenario(scenario)
        job = {"scenario": scenario, "solve": solve, "runs": int(runs), "seed": int(seed), "chunk": int(chunk),
               "claims": list(scenario.claims), "level": float(level),
               "threads": max(1, _cores() // min(workers, len(todo))) if min(workers, len(todo)) > 1 and scheduler is None else 0}  # fmt: skip
        bar = None
        if progress:
            n_failed = sum(1 for r in finished.values() if r["status"] != "done")
            bar = _Bar(len(x), len(finished) - n_failed, n_failed)

        def keep(k: int, record: dict[str, Any]) -> None:
            if out_path is not None:
                _save_draw(out_path, sweep_id, record)
            finished[int(record["draw"])] = record
            if bar is not None:
                bar.record(record["status"])

        try:
            map_tasks(_draw_task, todo, job, workers=workers, scheduler=scheduler, progress=False,
                      label="sweep draws", start="spawn", on_result=keep)  # fmt: skip
        finally:
            if bar is not None:
                bar.close()
    result = _assemble(scenario, design, int(n), int(seed), int(runs), float(level), space, x, finished, manifest)
    if out_path is not None:
        _write_outputs(result, out_path, report)
    return result


def _assemble(scenario: Any, design: str, n: int, seed: int, runs: int, level: float, space: Space, x: np.ndarray,
              finished: dict[int, dict[str, Any]], manifest: dict[str, Any]) -> Sweep:  # fmt: skip
    from crisislab.model import lower

    outcomes = list(lower(scenario).outcomes)
    claims = [c.id for c in scenario.claims]
    names = space.names
    rows, times = [], []
    for i in range(len(x)):
        rec = finished[i]
        row: dict[str, Any] = {"draw": i, "status": rec["status"], "error": rec.get("error")}
        for j, p in enumerate(names):
            row[f"u:{p}"] = float(x[i, j])
        try:
            vals = space.values(x[i])
        except InfeasibleDraw as exc:
            vals = exc.partial
        for p in names:
            row[p] = vals.get(p, np.nan)
        shares = rec.get("shares") or {}
        for k in outcomes:
            row[f"share:{k}"] = shares.get(k, np.nan)
        cl = rec.get("claims") or {}
        for c in claims:
            r = cl.get(c, {})
            for key in ("treatment", "baseline", "difference", "ci_low", "ci_high"):
                row[f"claim:{c}:{key}"] = r.get(key, np.nan)
            row[f"claim:{c}:verdict"] = r.get("verdict")
        s = rec.get("solver") or {}
        row["solves"] = s.get("solves")
        row["solver_ok"] = s.get("solver_ok")
        row["max_residual"] = s.get("max_residual", np.nan) if s.get("max_residual") is not None else np.nan
        row["diagnostics"] = s.get("diagnostics")
        rows.append(row)
        times.append({"draw": i, **rec.get("seconds", {})})
    draws = pd.DataFrame(rows)
    draws["solves"] = draws["solves"].astype("Int64")
    draws["solver_ok"] = draws["solver_ok"].astype("boolean")
    for col in ("status", "error", "diagnostics", *[f"claim:{c}:verdict" for c in claims]):
        draws[col] = draws[col].astype("string")
    prov = {"crisislab_version": manifest["crisislab"], "scenario": scenario.id, "scenario_digest": manifest["scenario_digest"],
            "design": design, "seed": seed, "runs": runs}  # fmt: skip
    for k, v in prov.items():
        draws[k] = v
    outputs = {f"share:{k}": draws[f"share:{k}"].to_numpy(np.float64) for k in outcomes}
    outputs |= {f"claim:{c}": draws[f"claim:{c}:difference"].to_numpy(np.float64) for c in claims}
    indices = indices_table(design, names, x, outputs, seed, level)
    ok = draws["status"] == "done"
    verdicts = {c: draws.loc[ok, f"claim:{c}:verdict"].astype(object) for c in claims}
    boxes = boxes_table(draws.loc[ok, names], verdicts)
    return Sweep(
        scenario_id=scenario.id, design=design, n=n, seed=seed, runs=runs, space=space, draws=draws, indices=indices,
        boxes=boxes, timings=pd.DataFrame(times), manifest=manifest, notes=space.notes, level=level,
    )  # fmt: skip


def _write_outputs(result: Sweep, out: Path, report: Callable[[Sweep], str] | None) -> None:
    """sweep.parquet (with the manifest as the file's `crisislab` metadata), indices.parquet,
    boxes.parquet and the report, as one unit (`crisislab._output.writing_directory`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from crisislab._output import writing_directory

    owned = [SWEEP_FILE, INDICES_FILE, BOXES_FILE] + ([REPORT_FILE] if report is not None else [])
    with writing_directory(out, owned) as stage:
        table = pa.Table.from_pandas(result.draws, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"crisislab"] = json.dumps(result.manifest, sort_keys=True).encode("utf-8")
        pq.write_table(table.replace_schema_metadata(meta), stage / SWEEP_FILE)
        result.indices.to_parquet(stage / INDICES_FILE, index=False)
        result.boxes.to_parquet(stage / BOXES_FILE, index=False)
        if report is not None:
            (stage / REPORT_FILE).write_text(report(result), encoding="utf-8")
