"""The solved crisis: one policy table per perceived game, with lookups and save/load.

A `Solution` is frozen. It holds the `CompiledGame` (state indexing and the transition/chance
tables), the belief grid, and for each perceived game g the mover's type-contingent logit strategy
at every decision, reachable state and belief node. Lookups interpolate multilinearly on the belief
coordinates, so the simulator can ask at any belief; a solution that kept its continuation values
(`solve(keep_values=True)`) can instead re-solve the stage at the belief (`strategy(readout="resolve")`). `save(dir)` writes `solution.npz` (arrays) and
`solution.json` (metadata, including the crisis's `crisislab.model.Model`), `load(dir)` reads them
back with no recompilation.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path

import numpy as np

import crisislab.model as model_pkg
from crisislab.crisis._compile import CompiledGame
from crisislab.errors import UserError
from crisislab.model import CondProgram

__all__ = ["Solution", "belief_corners"]

# 2: the model is a `crisislab.model.Model` (1 held the crisis engine's former spec).
FORMAT_VERSION = 2
# The records a saved model is made of (`_to_json` tags each by its class name).
_RECORDS = {name: getattr(model_pkg, name) for name in (
    "Action", "CasualtyPay", "CasualtyTable", "Effect", "EnvRule", "ErrorEvent", "Flow", "Model", "Mover",
    "Perception", "RedLine")}


def belief_corners(x: np.ndarray, grid: np.ndarray, grid_sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Multilinear interpolation stencil on the belief nodes `grid` (sorted, 0 and 1 included; a
    uniform grid is located arithmetically, any other by binary search).

    `x`: float64 `(N, n_actors)` belief coordinates (P(actor j is of its first type));
    returns (`idx` int64 `(N, 2**n)` flat belief-node indices, `wts` float64 `(N, 2**n)`).
    Actors with one type (grid size 1) contribute weight 1 on index 0.
    """
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    N, n = x.shape
    G = grid.shape[0]
    sizes = np.asarray(grid_sizes, dtype=np.int64)
    strides = np.ones(n, dtype=np.int64)
    for j in range(n - 2, -1, -1):
        strides[j] = strides[j + 1] * sizes[j + 1]
    lo = np.zeros((N, n), dtype=np.int64)
    frac = np.zeros((N, n))
    uniform = np.array_equal(grid, np.linspace(0.0, 1.0, G))
    for j in range(n):
        if sizes[j] > 1:
            if uniform:
                pos = x[:, j] * (G - 1)
                i0 = np.minimum(np.floor(pos).astype(np.int64), G - 2)
                lo[:, j] = i0
                frac[:, j] = pos - i0
            else:
                i0 = np.clip(np.searchsorted(grid, x[:, j], side="right") - 1, 0, G - 2)
                lo[:, j] = i0
                frac[:, j] = np.clip((x[:, j] - grid[i0]) / (grid[i0 + 1] - grid[i0]), 0.0, 1.0)
    corners = 1 << n
    idx = np.zeros((N, corners), dtype=np.int64)
    wts = np.ones((N, corners))
    for c in range(corners):
        for j in range(n):
            bit = (c >> j) & 1
            if sizes[j] == 1:
                if bit:
                    wts[:, c] = 0.0
                continue
            idx[:, c] += (lo[:, j] + bit) * strides[j]
            wts[:, c] *= frac[:, j] if bit else 1.0 - frac[:, j]
    return idx, wts


@dataclass(frozen=True, eq=False)
class Solution:
    """A solved crisis (agent logit QRE of each perceived game on the belief grid).

    Attributes
    ----------
    compiled : CompiledGame
        State indexing (`compiled.lookup(d, states)`), decisions and transition/chance tables.
    grid : float64 `(G,)`
        Belief nodes on [0, 1] (sorted, 0 and 1 included; `belief_grid` says which family and how
        values were read between them). An actor's belief coordinate is the probability that it is
        of its *first* listed type; actors with one type have grid size 1. Strategies between
        nodes are multilinear in the coordinates, in the probabilities or (`belief_grid.strategies`
        "logit") in their logarithms, then normalized over the actions.
    grid_sizes : int64 `(n_actors,)`
        G for two-type actors, 1 for one-type actors. Belief nodes are flattened row-major over
        actors (actor 0 slowest): `B = prod(grid_sizes)`.
    perceivers : tuple of actor ids
        One entry per strategic actor h: `game_of[h]` is the index of h's perceived game.
    game_of : int64 `(n_actors,)`
        Perceived-game index per perceiver (perceivers with the same view share a game).
    sigma : tuple over games of tuple over decisions of float32 `(C_d, B, K_m, A_m)`
        Mover's strategy per state class, belief node, own type and action (ladder order;
        unavailable actions have probability 0). States with identical futures share a class
        (exact lumping, `_lump.py`); use `strategy`, which takes reachable-state indices.
    class_of : tuple over games of tuple over decisions of int64 `(S_d,)`
        Class of each reachable state (`compiled.lookup` index) in that game's tables.
    mu0 : float64 `(n_actors, n_actors)`
        `mu0[h, j]`: perceiver h's initial belief coordinate about actor j (about itself: the true
        prior, i.e. how h assumes the others see it).
    values0 : float64 `(n_actors, n_actors, k_max)`
        `values0[h, i, θ_i]`: expected discounted payoff of actor i of type θ_i at the start of h's
        perceived game, with types of the others drawn from h's initial beliefs.
    lam : float64 `(n_actors,)`; `params` dict of solver settings; `diagnostics` tuple of str
        (empty when everything converged); `max_residual` largest final fixed-point residual.
    values : tuple over games of tuple over decisions of float64 `(C_d, B, n_actors, T)`, or None
        Continuation values W[class, belief node, actor, type profile] at each decision, kept when
        solved with `solve(keep_values=True)` (saved and loaded with the rest when present): what
        `strategy(..., readout="resolve")` re-solves a stage from.
    """

    compiled: CompiledGame
    grid: np.ndarray
    grid_sizes: np.ndarray
    perceivers: tuple[str, ...]
    game_of: np.ndarray
    sigma: tuple[tuple[np.ndarray, ...], ...]
    class_of: tuple[tuple[np.ndarray, ...], ...]
    mu0: np.ndarray
    values0: np.ndarray
    lam: np.ndarray
    params: dict = field(default_factory=dict)
    diagnostics: tuple[str, ...] = ()
    max_residual: float = 0.0
    values: tuple[tuple[np.ndarray, ...], ...] | None = None

    def _repr_html_(self) -> str:
        from crisislab.crisis._display import solution_html

        return solution_html(self)

    # ----- lookups --------------------------------------------------------------------------
    @property
    def belief_grid(self):
        """The `BeliefGrid` solved on (nodes, value interpolation, node family): what `solve(grid=...)`
        takes to solve another scenario on the same representation."""
        from crisislab.crisis._belief import BeliefGrid

        spec = self.params.get("belief_grid")
        if spec is None:
            return BeliefGrid.uniform(len(self.grid))
        return BeliefGrid.from_json(spec)

    @property
    def ok(self) -> bool:
        """True when no diagnostic was raised."""
        return not self.diagnostics

    def game_index(self, perceiver: str | int) -> int:
        h = perceiver if isinstance(perceiver, int) else self.perceivers.index(perceiver)
        return int(self.game_of[h])

    def strategy(self, perceiver: str | int, d: int, states: np.ndarray, x: np.ndarray, readout: str = "table") -> np.ndarray:
        """σ(a | d, s, μ, θ_m) in `perceiver`'s game at arbitrary beliefs.

        `states`: int64 `(N,)` local state indices at decision d (`compiled.lookup`), all ≥ 0;
        `x`: float64 `(N, n_actors)` belief coordinates. Returns float64 `(N, K_m, A_m)`.
        `readout`: "table" (default; what the simulator plays) interpolates the node strategies;
        "resolve" solves the stage game at each belief from the kept continuation values (`values`;
        `crisislab.crisis._readout`): equal to the table at the nodes, and between nodes it places
        the steps where a node's branch folds, which no interpolation of node strategies can.
        """
        g = self.game_index(perceiver)
        table = self.sigma[g][d]
        states = np.asarray(states, dtype=np.int64)
        if (states < 0).any():
            raise UserError(f"Solution.strategy: unreachable state index at decision {d} (use compiled.lookup)")
        if readout == "resolve":
            return self._resolve(g, d, states, x)
        if readout != "table":
            raise UserError(f"Solution.strategy: readout must be 'table' or 'resolve' (got {readout!r})")
        mode = self.params.get("belief_grid", {}).get("strategies", "linear")
        if mode == "logit-cubic":
            from crisislab.crisis._belief import LOG_ZERO, cubic_stencil

            idx, wts = cubic_stencil(x, self.grid, self.grid_sizes)
            vals = table[self.class_of[g][d][states][:, None], idx].astype(np.float64)
            # An available action whose float32 probability underflowed at a node reads as 1e-45
            # there (a negative Lagrange weight on LOG_ZERO would blow it up).
            avail = (vals > 0.0).any(axis=1, keepdims=True)
            with np.errstate(divide="ignore"):
                L = np.where(vals > 0.0, np.log(vals), np.where(avail, -103.6, LOG_ZERO))
            z = np.einsum("nc,ncka->nka", wts, L)
            z -= z.max(axis=2, keepdims=True)
            e = np.exp(z)
            return e / e.sum(axis=2, keepdims=True)
        idx, wts = belief_corners(x, self.grid, self.grid_sizes)
        vals = table[self.class_of[g][d][states][:, None], idx]  # (N, corners, K, A)
        if mode == "logit":
            # log-probabilities interpolated, then normalized per type (`_belief.log_table`)
            from crisislab.crisis._belief import log_table

            z = np.einsum("nc,ncka->nka", wts, log_table(vals).astype(np.float64))
            e = np.exp(z)
            return e / e.sum(axis=2, keepdims=True)
        return np.einsum("nc,ncka->nka", wts, vals.astype(np.float64))

    def _resolve(self, g: int, d: int, states: np.ndarray, x: np.ndarray) -> np.ndarray:
        if self.values is None:
            raise UserError("Solution.strategy(readout='resolve') needs the continuation values: solve with "
                            "keep_values=True (crisislab.crisis.solve)")
        from crisislab.crisis._belief import grid_layout
        from crisislab.crisis._compile import perceived_games
        from crisislab.crisis._kernels import SELECTION_MODES
        from crisislab.crisis._lump import lump
        from crisislab.crisis._readout import resolve_kernel

        cg = self.compiled
        L = _LUMPS.get(self)
        if L is None:
            games, _game_of, _mu0 = perceived_games(cg, bool(self.params.get("hypergame", True)))
            L = _LUMPS[self] = tuple(lump(cg.with_terminal(t)) for t in games)
        L = L[g]
        bgrid = self.belief_grid
        grid = bgrid.array
        _sizes, _bidx, bstride, tau = grid_layout(cg.n_types, grid.size)
        m = int(cg.dec_mover[d])
        n = cg.n_actors
        T = tau.shape[0]
        B = int(np.prod(self.grid_sizes))
        W_next = self.values[g][d + 1] if d + 1 < cg.n_decisions else np.zeros((0, B, n, T))
        present = float(np.concatenate([[1.0], np.cumprod(cg.disc[:-1])])[d])  # as the solver weighs round d
        x = np.clip(np.asarray(x, dtype=np.float64).reshape(-1, n), 0.0, 1.0)
        # Runs that share a history share (class, belief): each distinct point is solved once.
        keys, inverse = np.unique(np.column_stack([self.class_of[g][d][states].astype(np.float64), x]), axis=0,
                                  return_inverse=True)
        cls, x = keys[:, 0].astype(np.int64), keys[:, 1:]
        k_m = int(cg.n_types[m])
        out = np.zeros((cls.size, k_m, L.avail[d].shape[1]))
        res = np.zeros(cls.size)
        resolve_kernel(
            L.row_ptr[d], L.nxt[d], L.prob[d], L.reward[d], L.avail[d],
            W_next, float(cg.disc[d]), grid, bgrid.is_uniform, bgrid.interp != "linear",
            bgrid.diff_matrix(), np.asarray(self.grid_sizes, np.int64), bstride, tau, m,
            float(self.lam[m] * present), int(self.params.get("lam_steps", 8)), float(self.params.get("tol", 1e-10)),
            int(self.params.get("maxit", 500)), SELECTION_MODES.index(self.params.get("selection", "continuation")),
            cls, x, out, res,
        )
        if (res > 1e-6).any():  # the solver's RESIDUAL_WARN; one warning per call site (fixed message)
            import warnings

            warnings.warn("Solution.strategy(readout='resolve'): a stage re-solved at a belief did not converge "
                          "(residual above 1e-6); its strategy is the solver's last point there (raise the "
                          "solve's lam_steps or maxit)", RuntimeWarning, stacklevel=3)
        return out[inverse.reshape(-1)]

    def first_decision(self, actor: int) -> int:
        """Index of `actor`'s first decision in round 1."""
        hits = np.nonzero(self.compiled.dec_mover == actor)[0]
        return int(hits[0])

    def first_round(self, perceiver: str | int) -> np.ndarray:
        """Round-1 action probabilities per actor and type in `perceiver`'s game.

        float64 `(n_actors, k_max, A_max)`: for each actor i and own type, the probability of each
        action at its first move, averaged over the chance and play that precede it (others' types
        drawn from the perceiver's initial beliefs, beliefs updated by Bayes with the game's own
        strategies). Computed by exact forward enumeration of round 1's paths.
        """
        cg = self.compiled
        g = self.game_index(perceiver)
        h = perceiver if isinstance(perceiver, int) else self.perceivers.index(perceiver)
        n, k = cg.n_actors, cg.k_max
        a_max = max(int(cg.model.ladder(j).size) for j in range(n))
        n_types = cg.n_types
        # Enumerate type profiles of everyone; weight by perceiver's initial beliefs.
        profiles = np.array(np.meshgrid(*[np.arange(t) for t in n_types], indexing="ij")).reshape(n, -1).T
        x0 = self.mu0[h].copy()
        out = np.zeros((n, k, a_max))
        mass = np.zeros((n, k))
        J = int((cg.dec_round == 1).sum())
        for prof in profiles:
            w_prof = 1.0
            for j in range(n):
                pj = x0[j] if prof[j] == 0 else 1.0 - x0[j]
                w_prof *= pj if n_types[j] == 2 else 1.0
            if w_prof <= 0:
                continue
            # paths: (weight, local state, beliefs)
            paths = [(w_prof * p, int(s), x0.copy()) for s, p in zip(cg.init_nxt, cg.init_prob, strict=True)]
            for d in range(J):
                m = int(cg.dec_mover[d])
                A = int(cg.model.ladder(m).size)
                if not paths:
                    break
                st = np.array([p[1] for p in paths])
                xs = np.array([p[2] for p in paths])
                sig = self.strategy(h, d, st, xs)  # (N, K, A)
                for (wgt, _s, _x), sg in zip(paths, sig, strict=True):
                    out[m, prof[m], :A] += wgt * sg[prof[m]]
                    mass[m, prof[m]] += wgt
                if d == J - 1:
                    break
                new = []
                A_ = cg.avail[d].shape[1]
                for (wgt, s, xb), sg in zip(paths, sig, strict=True):
                    for a in range(A_):
                        pa = sg[prof[m], a]
                        if pa <= 1e-12 or not cg.avail[d][s, a]:
                            continue
                        xn = xb.copy()
                        if n_types[m] == 2:
                            den = xb[m] * sg[0, a] + (1 - xb[m]) * sg[1, a]
                            xn[m] = xb[m] * sg[0, a] / den if den > 0 else xb[m]
                        r = s * A_ + a
                        for j in range(cg.row_ptr[d][r], cg.row_ptr[d][r + 1]):
                            if cg.nxt[d][j] >= 0:
                                new.append((wgt * pa * cg.prob[d][j], int(cg.nxt[d][j]), xn))
                paths = new
        with np.errstate(invalid="ignore", divide="ignore"):
            res = np.where(mass[..., None] > 0, out / np.maximum(mass[..., None], 1e-300), np.nan)
        return res

    # ----- persistence -----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write `solution.npz` and `solution.json` into `directory` (created if needed), as one unit
        (`crisislab._output.writing_directory`): a failure leaves a previous solution there whole."""
        from crisislab._output import writing_directory

        out = Path(directory)
        with writing_directory(out, ("solution.npz", "solution.json")) as stage:
            self._save_into(stage)
        return out

    def _save_into(self, out: Path) -> None:
        cg = self.compiled
        arrays: dict[str, np.ndarray] = {
            "grid": self.grid, "grid_sizes": self.grid_sizes, "game_of": self.game_of, "mu0": self.mu0,
            "values0": self.values0, "lam": self.lam, "states": cg.states, "radix": cg.radix,
            "offset": cg.offset, "dec_round": cg.dec_round, "dec_slot": cg.dec_slot,
            "dec_mover": cg.dec_mover, "disc": cg.disc, "init_nxt": cg.init_nxt,
            "init_prob": cg.init_prob, "init_reward": cg.init_reward,
        }
        for d in range(cg.n_decisions):
            for name in ("dec_states", "dec_keys", "avail", "row_ptr", "nxt", "prob", "reward", "exp_reward", "tdisc"):
                arrays[f"{name}_{d}"] = getattr(cg, name)[d]
        for g, tables in enumerate(self.sigma):
            for d, t in enumerate(tables):
                arrays[f"sigma_{g}_{d}"] = t
                arrays[f"class_{g}_{d}"] = self.class_of[g][d]
                if self.values is not None:
                    arrays[f"values_{g}_{d}"] = self.values[g][d]
        np.savez(out / "solution.npz", **arrays)
        meta = {
            "format": FORMAT_VERSION,
            "scenario": cg.model.scenario_id,
            "perceivers": list(self.perceivers),
            "n_games": len(self.sigma),
            "n_decisions": cg.n_decisions,
            "columns": list(cg.columns),
            "outcomes": list(cg.outcomes),
            "params": self.params,
            "diagnostics": list(self.diagnostics),
            "max_residual": self.max_residual,
            "model": _to_json(cg.model),
        }
        (out / "solution.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: str | Path) -> Solution:
        """Read a solution written by `save` (no recompilation)."""
        src = Path(directory)
        try:
            meta = json.loads((src / "solution.json").read_text())
            z = np.load(src / "solution.npz")
        except FileNotFoundError as exc:
            raise UserError(f"{src}: not a saved solution ({exc.filename} is missing; expected solution.json and solution.npz)") from None
        if meta.get("format") != FORMAT_VERSION:
            raise UserError(f"{src / 'solution.json'}: format {meta.get('format')!r} (expected {FORMAT_VERSION})")
        model = _from_json(meta["model"])
        nd = int(meta["n_decisions"])

        def per_d(name: str) -> tuple:
            return tuple(_ro(z[f"{name}_{d}"]) for d in range(nd))

        cg = CompiledGame(
            model=model, columns=tuple(meta["columns"]), states=_ro(z["states"]), radix=_ro(z["radix"]),
            offset=_ro(z["offset"]), dec_round=_ro(z["dec_round"]), dec_slot=_ro(z["dec_slot"]),
            dec_mover=_ro(z["dec_mover"]), dec_states=per_d("dec_states"), dec_keys=per_d("dec_keys"),
            avail=per_d("avail"), row_ptr=per_d("row_ptr"), nxt=per_d("nxt"), prob=per_d("prob"),
            reward=per_d("reward"), exp_reward=per_d("exp_reward"), tdisc=per_d("tdisc"), disc=_ro(z["disc"]),
            init_nxt=_ro(z["init_nxt"]), init_prob=_ro(z["init_prob"]), init_reward=_ro(z["init_reward"]),
            outcomes=tuple(meta["outcomes"]),
        )
        sigma = tuple(tuple(_ro(z[f"sigma_{g}_{d}"]) for d in range(nd)) for g in range(int(meta["n_games"])))
        class_of = tuple(tuple(_ro(z[f"class_{g}_{d}"]) for d in range(nd)) for g in range(int(meta["n_games"])))
        values = (tuple(tuple(_ro(z[f"values_{g}_{d}"]) for d in range(nd)) for g in range(int(meta["n_games"])))
                  if nd and "values_0_0" in z.files else None)
        return cls(
            compiled=cg, grid=_ro(z["grid"]), grid_sizes=_ro(z["grid_sizes"]),
            perceivers=tuple(meta["perceivers"]), game_of=_ro(z["game_of"]), sigma=sigma, class_of=class_of,
            mu0=_ro(z["mu0"]), values0=_ro(z["values0"]), lam=_ro(z["lam"]), params=dict(meta["params"]),
            diagnostics=tuple(meta["diagnostics"]), max_residual=float(meta["max_residual"]), values=values,
        )


# The lumped tables `strategy(readout="resolve")` reads, per solution while it lives.
_LUMPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    a.setflags(write=False)
    return a


def _to_json(obj):
    """Tagged JSON for the model's frozen records, condition programs, tuples and arrays."""
    if is_dataclass(obj):
        return {"__dc__": type(obj).__name__, **{f.name: _to_json(getattr(obj, f.name)) for f in fields(obj)}}
    if isinstance(obj, CondProgram):
        return {"__cond__": obj.code.tolist()}
    if isinstance(obj, np.ndarray):
        return {"__nd__": obj.tolist(), "shape": list(obj.shape), "dtype": obj.dtype.str}
    if isinstance(obj, tuple | list):
        return {"__t__": [_to_json(x) for x in obj]}
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _from_json(obj):
    if isinstance(obj, dict):
        if "__dc__" in obj:
            cls = _RECORDS[obj["__dc__"]]
            return cls(**{k: _from_json(v) for k, v in obj.items() if k != "__dc__"})
        if "__cond__" in obj:
            return CondProgram(np.array(obj["__cond__"], dtype=np.int64).reshape(-1, 4))
        if "__nd__" in obj:
            arr = np.asarray(obj["__nd__"], dtype=np.dtype(obj["dtype"])).reshape(obj["shape"])
            arr.setflags(write=False)
            return arr
        if "__t__" in obj:
            return tuple(_from_json(x) for x in obj["__t__"])
    return obj
