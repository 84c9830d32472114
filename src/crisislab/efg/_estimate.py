"""Maximum-likelihood estimation of the logit precision λ from observed play of an extensive game.

Observed play is a count per action (how often each action was taken at its information set). Its
log-likelihood under a behaviour profile σ is ℓ(σ) = Σ_a n_a log σ_a (the multinomial kernel,
as in McKelvey & Palfrey 1995 and Gambit's `logit_estimate`). The estimate is the λ whose agent
logit QRE on the principal branch maximises ℓ:

1. the branch is traced from λ = 0 (the tracer of `_logit.py`) to an approximate equilibrium,
   recording its points, and ℓ is evaluated at each;
2. around the best recorded point, ℓ(λ) is maximised by Brent's method, each evaluation solving the
   logit equations at fixed λ by Newton's method from the branch interpolated at λ;
3. the standard error is the inverse square root of the observed information −d²ℓ/dλ², by central
   differences at the estimate.

A maximum at the first or last traced point (λ = 0, or the likelihood still rising when the
branch reaches an equilibrium) means λ is not identified by these counts; the result says so
instead of returning a boundary value as an estimate.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from crisislab.efg._game import Game
from crisislab.efg._logit import _LogitSystem, _Tracer
from crisislab.errors import FileProblem, ProblemsError, SolverError

__all__ = ["CountsError", "LogitFit", "estimate_logit", "read_counts"]

COUNTS_COLUMNS = ("player", "infoset", "action", "count")


@dataclass(frozen=True)
class LogitFit:
    """The maximum-likelihood agent logit QRE for observed counts.

    `lam`: the estimate (payoff units⁻¹); `se`: its standard error from the observed information
    (None when the curvature is not negative, or λ is not identified); `profile`: the QRE at `lam`,
    float64 `(n_actions_total,)`; `log_like`: Σ n_a log σ_a at it; `n_obs`: total count;
    `identified`: False when the maximum lies at a boundary of the traced branch (`message` says
    which); `path_lam`, `path_log_like`: λ and ℓ at the traced points, for plotting the profile
    likelihood along the branch.
    """

    lam: float
    se: float | None
    profile: np.ndarray
    log_like: float
    n_obs: float
    identified: bool
    message: str
    path_lam: np.ndarray
    path_log_like: np.ndarray


class CountsError(ProblemsError):
    """Problems in a counts file, one `FILE:LINE: column: message (got X; expected Y)` line each."""


def read_counts(path: str | Path, game: Game) -> np.ndarray:
    """Counts of observed actions from a CSV with columns `player`, `infoset`, `action`, `count`.

    `player`: a player's name or its number (1-based, as in the .efg file); `infoset`: the
    information set's number within that player (as in the .efg file); `action`: the action's
    label or its 1-based position; `count`: a number ≥ 0. Actions without a row count 0; a
    repeated row adds. Returns float64 `(n_actions_total,)` in the game's action order. Every
    problem of the file is reported at once (`CountsError`).
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise CountsError([FileProblem(name, None, "file", "no such file", repr(name), "a CSV file of counts")])
    counts = np.zeros(game.n_actions_total)
    problems: list[FileProblem] = []
    players = {p: i for i, p in enumerate(game.players)}
    infoset_of = {(int(game.infoset_player[i]), int(game.infoset_number[i])): i for i in range(game.n_infosets)}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COUNTS_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise CountsError([FileProblem(name, 1, "header", "missing columns", ", ".join(reader.fieldnames or ()),
                                        ", ".join(COUNTS_COLUMNS))])
        for row in reader:
            line = reader.line_num
            pl = (row["player"] or "").strip()
            if pl in players:
                p = players[pl]
            elif pl.isdigit() and 1 <= int(pl) <= game.n_players:
                p = int(pl) - 1
            else:
                problems.append(FileProblem(name, line, "player", "no such player", repr(pl),
                                         f"one of {', '.join(game.players)} or 1..{game.n_players}"))
                continue
            num = (row["infoset"] or "").strip()
            i = infoset_of.get((p, int(num))) if num.isdigit() else None
            if i is None:
                known = sorted(n for (q, n) in infoset_of if q == p)
                problems.append(FileProblem(name, line, "infoset", f"player {game.players[p]} has no such information set",
                                         repr(num), f"one of {', '.join(map(str, known))}"))
                continue
            labels = game.action_labels[i]
            act = (row["action"] or "").strip()
            if act in labels:
                a = labels.index(act)
            elif act.isdigit() and 1 <= int(act) <= len(labels):
                a = int(act) - 1
            else:
                problems.append(FileProblem(name, line, "action", "no such action at this information set", repr(act),
                                         f"one of {', '.join(labels)} or 1..{len(labels)}"))
                continue
            text = (row["count"] or "").strip()
            try:
                c = float(text)
            except ValueError:
                c = math.nan
            if not (math.isfinite(c) and 0 <= c <= 1e15):
                problems.append(FileProblem(name, line, "count", "not a count", repr(text), "a number from 0 to 1e15"))
                continue
            counts[int(game.action_offset[i]) + a] += c
    if problems:
        raise CountsError(problems)
    if not counts.sum() > 0:
        raise CountsError([FileProblem(name, None, "count", "no observation", "all counts 0", "at least one count > 0")])
    return counts


def _log_like(counts: np.ndarray, sigma: np.ndarray) -> float:
    seen = counts > 0
    with np.errstate(divide="ignore"):
        return float(np.sum(counts[seen] * np.log(sigma[seen])))


def estimate_logit(
    game: Game,
    counts: np.ndarray,
    *,
    max_regret: float = 1e-8,
    max_lambda: float = 1e6,
    first_step: float = 0.03,
    max_accel: float = 1.5,
    max_steps: int = 20_000,
) -> LogitFit:
    """The λ whose agent logit QRE (principal branch) maximises the likelihood of `counts`.

    `counts`: float64 `(n_actions_total,)`, observations per action in the game's action order
    (`read_counts` reads them from a file). The branch is traced until its (Nash) max regret is
    ≤ `max_regret` × payoff range or λ reaches `max_lambda`, as `solve_logit(regret="nash")`. See the module's
    docstring for the method; the result is a `LogitFit`.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (game.n_actions_total,):
        raise SolverError(f"counts: expected one count per action, shape ({game.n_actions_total},) (got {counts.shape})")
    if not (np.all(np.isfinite(counts)) and np.all(counts >= 0) and counts.sum() > 0):
        raise SolverError("counts: expected finite counts ≥ 0, at least one of them > 0")
    sysm = _LogitSystem(game)
    if sysm.n_act == 0:
        raise SolverError("counts: the game has no decision, so there is no λ to estimate")
    tracer = _Tracer(sysm, first_step, max_accel, max_steps)
    record: list = []
    tracer.run(0, 0.0, max_regret, max_lambda * sysm.scale, record)
    pts = np.array([sysm.start(), *record]) if len(record) == 0 or record[0][-1] != 0.0 else np.array(record)
    lams = pts[:, -1] / sysm.scale
    lls = np.array([_log_like(counts, sysm.profile(y)) for y in pts])
    best = int(np.argmax(lls))
    e = np.zeros(sysm.N + 1)
    e[-1] = 1.0

    def solve_at(lam: float, near: int) -> np.ndarray | None:
        """Fixed-λ Newton from the branch interpolated at `lam` next to recorded point `near`."""
        target = lam * sysm.scale
        lo, hi = max(near - 1, 0), min(near + 1, len(pts) - 1)
        seg = [(k, k + 1) for k in range(lo, hi) if (pts[k, -1] - target) * (pts[k + 1, -1] - target) <= 0]
        if seg:
            k, k1 = seg[0]
            w = 0.0 if pts[k1, -1] == pts[k, -1] else (target - pts[k, -1]) / (pts[k1, -1] - pts[k, -1])
            y0 = pts[k] + w * (pts[k1] - pts[k])
        else:
            y0 = pts[near].copy()
        y0[-1] = target
        out = tracer.correct(y0, e, math.inf)
        return None if out is None else out[0]

    def neg_ll(lam: float) -> float:
        y = solve_at(lam, best)
        return math.inf if y is None else -_log_like(counts, sysm.profile(y))

    identified = 0 < best < len(pts) - 1
    message = "converged"
    lam_hat, y_hat = float(lams[best]), pts[best]
    if identified:
        lo_l, hi_l = sorted((float(lams[best - 1]), float(lams[best + 1])))
        res = minimize_scalar(neg_ll, bounds=(lo_l, hi_l), method="bounded", options={"xatol": 1e-12 * max(1.0, hi_l)})
        y = solve_at(float(res.x), best)
        if y is not None and -res.fun >= lls[best]:
            lam_hat, y_hat = float(res.x), y
    elif best == 0:
        message = "λ is not identified: the likelihood is largest at λ = 0 (play looks uniform)"
    else:
        message = (f"λ is not identified: the likelihood still rises where the branch reaches an equilibrium "
                   f"(λ = {lams[-1]:.4g}); the counts are fitted best by the limit itself")
    sigma = sysm.profile(y_hat)
    se = None
    if identified:
        h = 1e-4 * max(1.0, lam_hat)
        f0 = _log_like(counts, sigma)
        fp, fm = -neg_ll(lam_hat + h), -neg_ll(lam_hat - h)
        info = -(fp - 2.0 * f0 + fm) / (h * h)
        if math.isfinite(info) and info > 0:
            se = 1.0 / math.sqrt(info)
    return LogitFit(
        lam=lam_hat, se=se, profile=_ro(sigma), log_like=_log_like(counts, sigma), n_obs=float(counts.sum()),
        identified=identified, message=message, path_lam=_ro(lams), path_log_like=_ro(lls),
    )


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a
