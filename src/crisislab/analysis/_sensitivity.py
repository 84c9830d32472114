"""Statistics of a parameter sweep: SALib designs and indices, PRIM boxes for claims.

A sweep's factors are drawn as independent uniforms `u` in the unit hypercube with SALib's designs
(Saltelli's extension of the Sobol' sequence, Morris trajectories, Latin hypercube), then mapped to
parameter values by `_sweep.Space` (inverse distribution functions, conditional ones for
dependent inputs). The indices are computed on `u`, where the inputs are independent as SALib
assumes: for an independent factor that is the factor itself; for a dependent one (a prior entry
capped by the entries before it, a parameter kept below another) it is the factor's position
within the range the others leave it (a Rosenblatt transform), which is what can vary on its own.

- Sobol (`design="sobol"`): first-order `S1` and total `ST` indices (SALib `sobol.analyze`,
  Jansen/Saltelli estimators) with bootstrap intervals; a base sample with a failed draw is left
  out whole (its D + 2 rows), since the estimators need every row of a block.
- Morris (`design="morris"`): `mu_star` (mean absolute elementary effect, bootstrap interval),
  `mu` and `sigma` (SALib `morris.analyze`); a trajectory with a failed draw is left out whole.
- LHS (`design="lhs"`): first-order indices by RBD-FAST (SALib `rbd_fast.analyze`, Tarantola et
  al. 2006 with Tissot & Prieur's bias correction), which works on any space-filling sample, with
  bootstrap intervals; failed draws are left out.

Scenario discovery: for each claim, PRIM (Friedman & Fisher 1999, ema-workbench's `prim`) on the
sampled parameter values finds a box where the claim holds (and one where it fails); the box kept
on the peeling trajectory is the one with the largest coverage whose density reaches
`DENSITY_THRESHOLD` (else the densest).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DENSITY_THRESHOLD",
    "MORRIS_LEVELS",
    "RBD_HARMONICS",
    "boxes_table",
    "design_sample",
    "indices_table",
]

MORRIS_LEVELS = 4  # the grid of Morris's one-at-a-time design (p = 4, Saltelli et al. 2008, §3.3)
RBD_HARMONICS = 10  # RBD-FAST's harmonics M (SALib's default); the sample needs more than 2M draws
BOOTSTRAP_RESAMPLES = 1000
DENSITY_THRESHOLD = 0.8  # a PRIM box "explains" a verdict when at least 80% of its draws have it
PRIM_MIN_DRAWS = 10  # fewer finished draws than this: no box is searched

INDEX_COLUMNS = ["output", "parameter", "method", "index", "value", "ci_low", "ci_high", "draws_used", "note"]
BOX_COLUMNS = ["claim", "target", "coverage", "density", "mass", "draws", "cases", "parameter", "low", "high",
               "description"]  # fmt: skip


def _problem(names: Sequence[str]) -> dict[str, Any]:
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def design_sample(design: str, names: Sequence[str], n: int, seed: int) -> np.ndarray:
    """The design's points in the unit hypercube: float64 `(draws, len(names))`.

    sobol: `n` base samples (a power of two), n·(D + 2) draws (first and total indices, no
    second order); morris: `n` trajectories of D + 1 draws on a `MORRIS_LEVELS` grid; lhs: `n`
    draws. Deterministic in (design, D, n, seed)."""
    problem = _problem(names)
    if design == "sobol":
        from SALib.sample import sobol

        return np.asarray(sobol.sample(problem, n, calc_second_order=False, seed=seed), dtype=np.float64)
    if design == "morris":
        from SALib.sample import morris

        return np.asarray(morris.sample(problem, n, num_levels=MORRIS_LEVELS, seed=seed), dtype=np.float64)
    if design == "lhs":
        from SALib.sample import latin

        return np.asarray(latin.sample(problem, n, seed=seed), dtype=np.float64)
    raise ValueError(f"design must be one of sobol, morris, lhs (got {design!r})")


def _blocks(design: str, d: int) -> int:
    """Rows of one unit that must be complete: a Sobol base sample or a Morris trajectory."""
    return {"sobol": d + 2, "morris": d + 1}.get(design, 1)


def _complete(design: str, d: int, y: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows kept: whole blocks (`_blocks`) whose outputs are all finite."""
    b = _blocks(design, d)
    ok = np.isfinite(y).reshape(-1, b).all(axis=1)
    return np.repeat(ok, b)


def _rows(output: str, names: Sequence[str], method: str, index: str, value: Any, half: Any, used: int, note: str) -> list[dict]:
    value = np.asarray(value, dtype=np.float64).reshape(-1)
    half = np.asarray(half, dtype=np.float64).reshape(-1) if half is not None else np.full(len(names), np.nan)
    return [{"output": output, "parameter": p, "method": method, "index": index, "value": float(v),
             "ci_low": float(v - h), "ci_high": float(v + h), "draws_used": used, "note": note}
            for p, v, h in zip(names, value, half, strict=True)]  # fmt: skip


def indices_table(
    design: str, names: Sequence[str], x: np.ndarray, outputs: dict[str, np.ndarray], seed: int, level: float = 0.95
) -> pd.DataFrame:
    """Sensitivity indices of every output to every factor (module docstring), one row per
    (output, parameter, index): `value` with its bootstrap interval `ci_low`/`ci_high` at `level`
    (NaN where the method gives none, e.g. Morris σ), `draws_used`, and a `note` (why an index is
    missing, or SALib's warnings). `x`: the design's unit-hypercube points `(draws, D)`; `outputs`:
    output name -> float64 `(draws,)` with NaN for failed draws. The bootstrap is seeded by `seed`."""
    d = len(names)
    problem = _problem(names)
    rows: list[dict] = []
    for output, y in outputs.items():
        y = np.asarray(y, dtype=np.float64)
        keep = _complete(design, d, y)
        used = int(keep.sum())
        xs, ys = x[keep], y[keep]
        if used < 2 * _blocks(design, d) or (design == "lhs" and used <= 2 * RBD_HARMONICS):
            note = f"too few finished draws ({used}) for the {design} indices"
        elif np.ptp(ys) == 0.0:
            note = "the output is the same in every draw"
        else:
            note = ""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if design == "sobol":
                from SALib.analyze import sobol

                if note:
                    rows += _rows(output, names, "sobol", "S1", np.full(d, np.nan), None, used, note)
                    rows += _rows(output, names, "sobol", "ST", np.full(d, np.nan), None, used, note)
                    continue
                si = sobol.analyze(problem, ys, calc_second_order=False, num_resamples=BOOTSTRAP_RESAMPLES,
                                   conf_level=level, seed=seed)  # fmt: skip
                extra = _warned(caught)
                rows += _rows(output, names, "sobol", "S1", si["S1"], si["S1_conf"], used, extra)
                rows += _rows(output, names, "sobol", "ST", si["ST"], si["ST_conf"], used, extra)
            elif design == "morris":
                from SALib.analyze import morris

                if note and not note.startswith("the output is the same"):
                    for ix in ("mu_star", "mu", "sigma"):
                        rows += _rows(output, names, "morris", ix, np.full(d, np.nan), None, used, note)
                    continue
                si = morris.analyze(problem, xs, ys, num_resamples=BOOTSTRAP_RESAMPLES, conf_level=level,
                                    num_levels=MORRIS_LEVELS, seed=seed)  # fmt: skip
                extra = _warned(caught)
                rows += _rows(output, names, "morris", "mu_star", si["mu_star"], si["mu_star_conf"], used, extra)
                rows += _rows(output, names, "morris", "mu", si["mu"], None, used, extra)
                rows += _rows(output, names, "morris", "sigma", si["sigma"], None, used, extra)
            else:
                from SALib.analyze import rbd_fast

                if note:
                    rows += _rows(output, names, "rbd_fast", "S1", np.full(d, np.nan), None, used, note)
                    continue
                si = rbd_fast.analyze(problem, xs, ys, M=RBD_HARMONICS, num_resamples=BOOTSTRAP_RESAMPLES,
                                      conf_level=level, seed=seed)  # fmt: skip
                rows += _rows(output, names, "rbd_fast", "S1", si["S1"], si["S1_conf"], used, _warned(caught))
    return pd.DataFrame(rows, columns=INDEX_COLUMNS)


def _warned(caught: list) -> str:
    return "; ".join(sorted({" ".join(str(w.message).split()) for w in caught}))


def _prim():
    # ema-workbench's package __init__ warns about optional parallel back-ends it does not find;
    # only its PRIM module is used here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim
    return prim


def _bound(v: float) -> str:
    return f"{v:.4g}"


def describe_box(target: str, limits: list[tuple[str, float, float, float, float]], coverage: float, density: float,
                 mass: float) -> str:  # fmt: skip
    """A box in words: "holds (coverage 0.82, density 0.91, 34% of draws) when a > 1.4 and b < 0.3".
    `limits`: (parameter, low, high, range low, range high) of each restricted parameter."""
    parts = []
    for name, lo, hi, lo0, hi0 in limits:
        if lo > lo0 and hi < hi0:
            parts.append(f"{_bound(lo)} ≤ {name} ≤ {_bound(hi)}")
        elif lo > lo0:
            parts.append(f"{name} ≥ {_bound(lo)}")
        else:
            parts.append(f"{name} ≤ {_bound(hi)}")
    head = f"{target} (coverage {coverage:.2f}, density {density:.2f}, {mass:.0%} of draws)"
    return head + (" when " + " and ".join(parts) if parts else " across the whole sampled range")


def boxes_table(values: pd.DataFrame, verdicts: dict[str, pd.Series], threshold: float = DENSITY_THRESHOLD) -> pd.DataFrame:
    """PRIM boxes for each claim's verdicts (module docstring): one row per (claim, target,
    restricted parameter) with the box's `coverage`, `density`, `mass`, the finished `draws` and
    the `cases` with the target verdict, the parameter's `low`/`high`, and the box in words
    (`description`). A target with no box (fewer than `PRIM_MIN_DRAWS` draws, no case, or every
    draw a case) has one row with no parameter, saying why. `values`: the sampled parameter values
    of the finished draws (one column per parameter); `verdicts`: claim -> verdict per row."""
    rows: list[dict] = []
    for claim, verdict in verdicts.items():
        v = verdict.to_numpy()
        for target in ("holds", "fails"):
            y = v == target
            cases, n = int(y.sum()), int(y.size)
            base = {"claim": claim, "target": target, "draws": n, "cases": cases}
            why = None
            if n < PRIM_MIN_DRAWS:
                why = f"{target}: too few finished draws ({n}) to search for a box (at least {PRIM_MIN_DRAWS})"
            elif cases == 0:
                why = f"{target} in none of the {n} draws"
            elif cases == n:
                why = f"{target} in all {n} draws"
            if why is not None:
                rows.append({**base, "coverage": np.nan, "density": cases / n if n else np.nan, "mass": 1.0,
                             "parameter": None, "low": np.nan, "high": np.nan, "description": why})  # fmt: skip
                continue
            rows += _one_box(values, y, threshold, base, target)
    return pd.DataFrame(rows, columns=BOX_COLUMNS)


def _one_box(values: pd.DataFrame, y: np.ndarray, threshold: float, base: dict, target: str) -> list[dict]:
    prim = _prim()
    x = values.reset_index(drop=True).astype(np.float64)
    with warnings.catch_warnings():
        # ema-workbench calls pandas APIs that pandas 3 deprecates (inplace=); the results are unaffected
        warnings.simplefilter("ignore")
        alg = prim.Prim(x, y, threshold=threshold)
        box = alg.find_box()
        traj = box.peeling_trajectory
        good = traj[traj["density"] >= threshold]
        i = int(good["coverage"].idxmax()) if len(good) else int(traj["density"].idxmax())
        lims = box.box_lims[i]
        init = alg.box_init
    row = traj.loc[i]
    coverage, density, mass = float(row["coverage"]), float(row["density"]), float(row["mass"])
    limits = []
    for p in x.columns:
        lo, hi = float(lims.loc[0, p]), float(lims.loc[1, p])
        lo0, hi0 = float(init.loc[0, p]), float(init.loc[1, p])
        if lo > lo0 or hi < hi0:
            limits.append((p, lo, hi, lo0, hi0))
    text = describe_box(target, limits, coverage, density, mass)
    if density < threshold:
        text = f"no box where it {target} in at least {threshold:.0%} of its draws; the densest: {text}"
    common = {**base, "coverage": coverage, "density": density, "mass": mass, "description": text}
    if not limits:
        return [{**common, "parameter": None, "low": np.nan, "high": np.nan}]
    return [{**common, "parameter": p, "low": lo, "high": hi} for p, lo, hi, _, _ in limits]
