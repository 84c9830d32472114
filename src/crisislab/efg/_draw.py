"""Drawing a game tree: a crossing-free layout, written as SVG, TikZ, PDF or PNG.

`draw_tree(game)` lays the tree out from left to right, as Gambit's own viewer does (long action
labels then fit on the branches): one column per depth, one row per visible leaf. Leaves take
increasing rows in preorder and every parent is centred between its first and last child, so each
subtree owns a band of rows that no other subtree enters; an edge stays inside its parent's band,
hence no two edges cross and no label lies on another subtree's edge (crossing-free by
construction, checked from the written SVG by the tests). Each node is drawn Gambit-style as a
marker followed by a short stem carrying the player's name above and the information set below;
the branch to a child forks from the stem's end and carries the action above and a probability
below (the chance probability as written in the file, or the given profile's probability).
Leaves show their payoffs, one colour per player. Nodes of one information set are joined by a
dashed line in their player's colour.

A tree with more than `max_nodes` nodes is drawn down to the deepest level at which the drawn
elements stay within `max_nodes`; each subtree below that level is one box "… 37 nodes" (its size).

Text is measured with the metrics of DejaVu Sans (the font matplotlib ships, so the PDF and PNG
written through matplotlib use exactly the measured widths); the SVG names DejaVu Sans first and
the layout keeps a margin for the browsers' fallbacks. The layout is a list of primitives
(`TreeDrawing.items`) that the three writers render alike.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from crisislab.errors import UserError

if TYPE_CHECKING:
    from crisislab.efg._game import Game

__all__ = ["DEFAULT_MAX_NODES", "DRAW_FORMATS", "MAX_DRAW_NODES", "TreeDrawing", "draw_tree"]

DEFAULT_MAX_NODES = 400
"""Drawn elements (nodes and collapsed boxes) by default: every game of Gambit's catalog fits."""
MAX_DRAW_NODES = 20_000
"""At most this many drawn elements (a taller drawing is no longer something one reads)."""
DRAW_FORMATS = ("svg", "pdf", "png", "tex")
"""Output formats, by file suffix."""

# node kinds as stored in Game.kind (crisislab.efg._game), repeated here so that the game module can
# draw itself (Game._repr_svg_) without the two modules importing each other
_TERMINAL, _PLAYER, _CHANCE = 0, 1, 2

# Okabe & Ito's colour-blind safe palette (players), grey for chance
PLAYER_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
CHANCE_COLOUR = "#555555"
EDGE_COLOUR = "#333333"
FONT_FAMILY = "DejaVu Sans, Verdana, Geneva, sans-serif"

FONT = 10.0  # label size, px (= pt in PDF)
TITLE_FONT = 13.0
ASCENT, DESCENT = 0.93, 0.24  # DejaVu Sans, in em
R_DECISION, R_CHANCE, R_TERMINAL = 4.5, 5.0, 2.5
FORK = 28.0  # horizontal length of the diagonal part of a branch
LABEL_GAP = 4.0  # between a branch or stem and the text above / below it
SLOT = 2 * (LABEL_GAP + (ASCENT + DESCENT) * FONT) + 6.0  # one leaf row
MARGIN = 12.0
LANE = 6.0  # between the information-set lanes of one column
R_JOINT = 2.2
WIDTH_SLACK = 1.06  # fallback fonts (Verdana) run a little wider than DejaVu Sans
MAX_LABEL = 32  # characters shown of one label (the full text is in the node's tooltip)


# ---- text metrics ---------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _advances(bold: bool) -> tuple[object, dict[str, float]]:
    from matplotlib import font_manager, ft2font

    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal"))
    font = ft2font.FT2Font(path)
    font.set_size(100.0, 72)
    return font, {}


def text_width(text: str, size: float = FONT, *, bold: bool = False) -> float:
    """Advance width of `text` in DejaVu Sans at `size` px (sum of the glyphs' advances)."""
    font, cache = _advances(bold)
    total = 0.0
    for ch in text:
        w = cache.get(ch)
        if w is None:
            if font.get_char_index(ord(ch)) == 0:  # not in the font: a fallback glyph, count a full em
                w = 100.0
            else:
                from matplotlib import ft2font

                w = font.load_char(ord(ch), flags=ft2font.LoadFlags.NO_HINTING).linearHoriAdvance / 65536.0
            cache[ch] = w
        total += w
    return total * size / 100.0


def _clip(text: str, limit: int = MAX_LABEL) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _num(x: float) -> str:
    if x == 0:
        return "0"
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.4g}"


def _prob(p: float) -> str:
    return "1" if p >= 0.9995 else ("0" if p < 5e-4 else f"{p:.3f}".lstrip("0") if p < 1 else f"{p:.3f}")


# ---- primitives -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A label: `x`, `y` is the anchor point on the baseline; `anchor` start | middle | end.
    `parts`: (text, colour) pieces drawn one after the other (payoffs: one colour per player)."""

    x: float
    y: float
    parts: tuple[tuple[str, str], ...]
    role: str  # player | infoset | action | prob | profile | payoff | collapsed | title | legend
    size: float = FONT
    anchor: str = "start"
    bold: bool = False
    node: int = -1

    @property
    def text(self) -> str:
        return "".join(p for p, _ in self.parts)

    @cached_property
    def width(self) -> float:
        return text_width(self.text, self.size, bold=self.bold)

    def box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) by the font's advance widths and ascent / descent."""
        x0 = self.x - {"start": 0.0, "middle": self.width / 2, "end": self.width}[self.anchor]
        return (x0, self.y - ASCENT * self.size, x0 + self.width, self.y + DESCENT * self.size)


@dataclass(frozen=True)
class Marker:
    """A node's symbol: circle (decision), diamond (chance), dot (terminal), centred at `x`, `y`."""

    x: float
    y: float
    shape: Literal["circle", "diamond", "dot"]
    r: float
    colour: str
    role: str = "node"

    def box(self) -> tuple[float, float, float, float]:
        return (self.x - self.r, self.y - self.r, self.x + self.r, self.y + self.r)


@dataclass(frozen=True)
class Box:
    """A collapsed subtree: a rectangle holding its text."""

    x0: float
    y0: float
    x1: float
    y1: float

    def box(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)


@dataclass(frozen=True)
class Line:
    """A polyline: `kind` edge (parent → child), stem (a node's own segment) or infoset (dashed)."""

    points: tuple[tuple[float, float], ...]
    kind: str
    colour: str = EDGE_COLOUR
    width: float = 1.0
    dashed: bool = False


@dataclass(frozen=True)
class NodeItem:
    """One drawn node: `kind` decision | chance | terminal | collapsed, its marker or box, its
    labels, and a tooltip. `count`: nodes of the subtree a collapsed box stands for."""

    node: int
    kind: str
    shape: Marker | Box
    labels: tuple[Text, ...]
    tooltip: str
    infoset: int = -1
    player: int = -1
    stem: Line | None = None
    count: int = 0


@dataclass(frozen=True)
class EdgeItem:
    """The branch from `parent` to `child` with its action and probability labels."""

    parent: int
    child: int
    line: Line
    labels: tuple[Text, ...]


@dataclass(frozen=True)
class InfosetItem:
    """A dashed line joining the drawn nodes of one information set (global index `infoset`):
    a vertical lane left of their column, `joints` marking where each member's branch meets it
    (or, for members at several depths, a line through their markers and no joints)."""

    infoset: int
    player: int
    nodes: tuple[int, ...]
    line: Line
    joints: tuple[tuple[float, float], ...] = ()


# ---- the drawing ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TreeDrawing:
    """A game tree laid out for drawing; `svg`, `tikz()`, `save(path)`; shows itself in a notebook.

    `nodes`: the drawn nodes in preorder (collapsed subtrees as `NodeItem(kind="collapsed")`),
    `edges`, `infosets`, `header` (title and legend); `width`, `height` in px (= pt in PDF/TikZ).
    `n_nodes`: nodes of the whole tree; `n_collapsed`: subtrees drawn as boxes.
    """

    title: str
    width: float
    height: float
    nodes: tuple[NodeItem, ...]
    edges: tuple[EdgeItem, ...]
    infosets: tuple[InfosetItem, ...]
    header: tuple[Text | Marker | Line, ...]
    n_nodes: int
    players: tuple[str, ...] = field(default=())

    @property
    def n_collapsed(self) -> int:
        return sum(1 for n in self.nodes if n.kind == "collapsed")

    @property
    def texts(self) -> tuple[Text, ...]:
        """Every label, in drawing order."""
        out = [t for t in self.header if isinstance(t, Text)]
        for e in self.edges:
            out.extend(e.labels)
        for n in self.nodes:
            out.extend(n.labels)
        return tuple(out)

    def __repr__(self) -> str:
        shown = f"{len(self.nodes):,} of {self.n_nodes:,} nodes drawn" if self.n_collapsed else f"{self.n_nodes:,} nodes"
        return f"TreeDrawing({self.title!r}: {shown}, {self.width:.0f}×{self.height:.0f} px)"

    # ---- SVG ----
    @cached_property
    def svg(self) -> str:
        """The drawing as a standalone SVG document (str)."""
        return _to_svg(self)

    def _repr_svg_(self) -> str:
        return self.svg

    def tikz(self) -> str:
        """The drawing as a TikZ picture for LaTeX (`\\usepackage{tikz}`; `\\input` the file)."""
        return _to_tikz(self)

    def save(self, path: str | Path, *, dpi: float = 144.0) -> Path:
        """Write the drawing to `path`; the suffix picks the format: .svg, .pdf, .png (at `dpi`,
        default 144: twice the size in px) or .tex (TikZ). Returns the path."""
        p = Path(path)
        fmt = drawing_format(p)
        if fmt == "svg":
            p.write_text(self.svg, encoding="utf-8")
        elif fmt == "tex":
            p.write_text(self.tikz(), encoding="utf-8")
        else:
            _render_matplotlib(self, p, fmt, dpi)
        return p


def drawing_format(path: str | Path, *, name: str = "path") -> str:
    """The format of an output file by its suffix (one of `DRAW_FORMATS`), or `UserError`."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in DRAW_FORMATS:
        raise UserError(
            f"{name}: {str(path)!r} has no drawing format (expected a file name ending in "
            f"{', '.join('.' + f for f in DRAW_FORMATS)})"
        )
    return suffix


# ---- layout ---------------------------------------------------------------------------------------


def _subtree_sizes(game: Game) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and terminal nodes in each node's subtree (itself included), int64 `(n_nodes,)`."""
    size = np.ones(game.n_nodes, dtype=np.int64)
    leaves = (game.kind == _TERMINAL).astype(np.int64)
    for lvl in reversed(game.levels[1:]):
        np.add.at(size, game.parent[lvl], size[lvl])
        np.add.at(leaves, game.parent[lvl], leaves[lvl])
    return size, leaves


def _expand(game: Game, max_nodes: int) -> np.ndarray:
    """bool `(n_nodes,)`: the nodes whose children are drawn. The tree is drawn whole down to the
    deepest level at which the drawn elements (nodes and boxes) stay within `max_nodes`; every
    node of that level with children is a collapsed box. Cutting all branches at one depth keeps
    the drawing even: no branch is followed deeper than its siblings."""
    counts = np.cumsum([lvl.size for lvl in game.levels])
    cut = int(np.searchsorted(counts, max_nodes, side="right")) - 1  # deepest level drawn
    return (game.depth < max(cut, 0)) & (game.kind != _TERMINAL)


def _as_profile(game: Game, profile: object) -> np.ndarray | None:
    from crisislab.efg._eval import check_profile, profile_from_nested

    if profile is None:
        return None
    if isinstance(profile, dict):
        nested = profile.get("profile", profile)
        if not isinstance(nested, dict):
            raise UserError("profile: expected {player: {infoset: [probabilities]}} (as `efg solve --json` prints)")
        return profile_from_nested(game, nested)
    if hasattr(profile, "profile") and not isinstance(profile, np.ndarray):
        profile = profile.profile
    return check_profile(game, profile, name="profile")


def _payoff_parts(game: Game, v: int) -> tuple[tuple[str, str], ...]:
    parts: list[tuple[str, str]] = [("(", EDGE_COLOUR)]
    for p in range(game.n_players):
        if p:
            parts.append((", ", EDGE_COLOUR))
        parts.append((_num(float(game.payoff[v, p])), PLAYER_COLOURS[p % len(PLAYER_COLOURS)]))
    parts.append((")", EDGE_COLOUR))
    return tuple(parts)


def _chance_text(game: Game, v: int) -> str:
    """The probability of the edge into `v` from its chance parent, as written when short."""
    par = int(game.parent[v])
    text = game.chance_prob_text[int(game.chance_infoset[par])][int(game.action[v])].strip()
    return text if len(text) <= 8 else _prob(float(game.chance_prob[v]))


def _edge_label(game: Game, v: int) -> str:
    par = int(game.parent[v])
    a = int(game.action[v])
    if game.kind[par] == _CHANCE:
        label = game.chance_action_labels[int(game.chance_infoset[par])][a]
    else:
        label = game.action_labels[int(game.infoset[par])][a]
    return _clip(label) if label.strip() else str(a + 1)


def draw_tree(
    game: Game,
    *,
    profile: object = None,
    max_nodes: int = DEFAULT_MAX_NODES,
    infoset_labels: dict[int, str] | None = None,
    title: str | None = None,
) -> TreeDrawing:
    """Lay out `game` (a `crisislab.efg.Game`) for drawing; returns a `TreeDrawing`.

    `profile`: a behaviour profile to write on the decision branches: float64 `(n_actions_total,)`,
    a solver's result (anything with a `.profile`, e.g. `solve_logit(game)`), or the nested
    `{player: {infoset: [probs]}}` of `efg solve --json` (that whole object is accepted too).
    `max_nodes`: at most this many drawn elements (1 to 20,000, default 400): a larger tree is drawn
    down to the deepest level that fits, the subtrees below it as boxes "… N nodes". `infoset_labels`: text under a decision node
    per global infoset index (default: the infoset's label in the file, clipped, or `#number`).
    `title`: default the game's title.
    """
    _check_game(game)
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, (int, np.integer)) or not 1 <= max_nodes <= MAX_DRAW_NODES:
        raise UserError(f"max_nodes: expected an integer from 1 to {MAX_DRAW_NODES:,} (got {max_nodes!r})")
    sigma = _as_profile(game, profile)
    title = game.title if title is None else str(title)
    size, leaf_count = _subtree_sizes(game)
    expanded = _expand(game, int(max_nodes))

    # visible nodes: the root and every child of an expanded node; in index order = preorder
    visible = np.zeros(game.n_nodes, dtype=bool)
    visible[0] = True
    for lvl in game.levels[1:]:
        visible[lvl] = visible[game.parent[lvl]] & expanded[game.parent[lvl]]
    order = np.flatnonzero(visible)
    depth = game.depth

    # rows: leaves (terminals and collapsed subtrees) in preorder, parents centred over children
    header_h = MARGIN + TITLE_FONT + 8 + FONT + 10
    y = np.zeros(game.n_nodes)
    is_row = visible & ~expanded
    rows = np.flatnonzero(is_row)
    y[rows] = header_h + SLOT / 2 + SLOT * np.arange(rows.size)
    for v in order[::-1]:
        if expanded[v]:
            start = int(game.child_start[v])
            k = int(game.n_children[v])
            y[v] = (y[game.children[start]] + y[game.children[start + k - 1]]) / 2

    # node labels and column widths
    labels_inf = infoset_labels or {}
    above: dict[int, str] = {}
    below: dict[int, str] = {}
    for v in order:
        if not expanded[v]:
            continue
        if game.kind[v] == _PLAYER:
            i = int(game.infoset[v])
            above[v] = _clip(game.players[int(game.player[v])], 24)
            tag = labels_inf.get(i)
            if tag is None:
                lab = game.infoset_labels[i].strip()
                tag = lab if lab else f"#{int(game.infoset_number[i])}"
            below[v] = _clip(str(tag), 24)
        else:
            above[v] = "chance"
    n_depth = int(depth[order].max()) + 1
    stem = np.full(n_depth, 10.0)  # stem length per column (marker to fork)
    branch = np.zeros(n_depth)  # horizontal part of the branches into a column
    edge_text: dict[int, tuple[str, str | None, str]] = {}
    for v in order:
        d = int(depth[v])
        if v in above:
            w = max(text_width(above[v]), text_width(below.get(v, "")))
            stem[d] = max(stem[d], R_DECISION + 3 + w * WIDTH_SLACK + 6)
        if v == 0:
            continue
        par = int(game.parent[v])
        act = _edge_label(game, v)
        if game.kind[par] == _CHANCE:
            pr, role = _chance_text(game, v), "prob"
        elif sigma is not None:
            pr, role = _prob(float(sigma[int(game.in_action[v])])), "profile"
        else:
            pr, role = None, ""
        edge_text[v] = (act, pr, role)
        w = max(text_width(act), text_width(pr or ""))
        branch[d] = max(branch[d], w * WIDTH_SLACK + 10)
    # information sets: the drawn (not collapsed) members of each, in row order. Members in one
    # column are joined by a vertical dashed lane in a gutter left of the column's markers, where
    # only the horizontal ends of branches pass; overlapping spans get lanes of their own.
    groups: list[np.ndarray] = []
    members = order[(game.kind[order] == _PLAYER) & expanded[order]]
    if members.size:
        inf = game.infoset[members]
        srt = np.lexsort((y[members], inf))
        members, inf = members[srt], inf[srt]
        groups = [g for g in np.split(members, np.flatnonzero(np.diff(inf)) + 1) if g.size >= 2]
    lane_of: dict[int, int] = {}
    n_lanes = np.zeros(n_depth, dtype=np.int64)
    lane_end: dict[int, list[float]] = {}
    for k in sorted(range(len(groups)), key=lambda k: float(y[groups[k][0]])):
        grp = groups[k]
        d = int(depth[grp[0]])
        if np.any(depth[grp] != d):
            continue
        ends = lane_end.setdefault(d, [])
        free = [j for j, e in enumerate(ends) if e < float(y[grp[0]]) - 1.0]
        j = free[0] if free else len(ends)
        if j == len(ends):
            ends.append(0.0)
        ends[j] = float(y[grp[-1]])
        lane_of[k] = j
        n_lanes[d] = max(n_lanes[d], j + 1)
    gutter = np.where(n_lanes > 0, 4.0 + LANE * n_lanes, 0.0)

    # columns: a leaf's text (payoffs, a collapsed box) ends before the next column's lanes
    leaf_right = np.zeros(n_depth)
    for v in order:
        if expanded[v]:
            continue
        d = int(depth[v])
        if game.kind[v] == _TERMINAL:
            w = R_TERMINAL + 5 + text_width("".join(t for t, _ in _payoff_parts(game, v))) * WIDTH_SLACK
        else:
            w = 10 + text_width(f"… {int(size[v]):,} nodes") * WIDTH_SLACK
        leaf_right[d] = max(leaf_right[d], w)
    x_col = np.zeros(n_depth)
    x_col[0] = MARGIN + R_CHANCE + 2 + gutter[0]
    for d in range(1, n_depth):
        x_col[d] = x_col[d - 1] + max(stem[d - 1] + FORK + max(branch[d], 16.0), leaf_right[d - 1] + 8) + gutter[d]

    nodes: list[NodeItem] = []
    edges: list[EdgeItem] = []
    right = 0.0
    for v in order:
        d = int(depth[v])
        x, yv = float(x_col[d]), float(y[v])
        kind = int(game.kind[v])
        labels: list[Text] = []
        stem_line = None
        if not expanded[v] and kind != _TERMINAL:  # collapsed subtree
            text = f"… {int(size[v]):,} nodes"
            tw = text_width(text)
            bx = Box(x - 3, yv - 9, x + 5 + tw * WIDTH_SLACK + 5, yv + 9)
            labels.append(Text(x + 5, yv + 0.35 * FONT, ((text, EDGE_COLOUR),), "collapsed", node=int(v)))
            tip = (f"subtree of {int(size[v]):,} nodes ({int(leaf_count[v]):,} terminal) below "
                   f"{_who(game, v)}, not drawn: raise max_nodes (--max-nodes) to draw it")
            item = NodeItem(int(v), "collapsed", bx, tuple(labels), tip, count=int(size[v]),
                            infoset=int(game.infoset[v]), player=int(game.player[v]))
            right = max(right, bx.x1)
        elif kind == _TERMINAL:
            mk = Marker(x, yv, "dot", R_TERMINAL, EDGE_COLOUR)
            pay = Text(x + R_TERMINAL + 5, yv + 0.35 * FONT, _payoff_parts(game, v), "payoff", node=int(v))
            labels.append(pay)
            outcome = int(game.node_outcome[v])
            oname = game.outcome_names[outcome - 1] if outcome else ""
            tip = f"terminal node {int(v) + 1}" + (f" {game.node_label[v]!r}" if game.node_label[v] else "")
            tip += (f", outcome {oname!r}" if oname else "") + ": payoffs " + ", ".join(
                f"{pl} {float(game.payoff[v, p]):.6g}" for p, pl in enumerate(game.players))
            item = NodeItem(int(v), "terminal", mk, tuple(labels), tip)
            right = max(right, pay.box()[0] + pay.width * WIDTH_SLACK)
        else:
            x_end = x + float(stem[d])
            stem_line = Line(((x, yv), (x_end, yv)), "stem")
            if kind == _PLAYER:
                p = int(game.player[v])
                colour = PLAYER_COLOURS[p % len(PLAYER_COLOURS)]
                mk = Marker(x, yv, "circle", R_DECISION, colour)
                i = int(game.infoset[v])
                labels.append(Text(x + R_DECISION + 3, yv - LABEL_GAP, ((above[v], colour),), "player", node=int(v)))
                labels.append(Text(x + R_DECISION + 3, yv + LABEL_GAP + ASCENT * FONT, ((below[v], colour),), "infoset",
                                   node=int(v)))
                pl_num, inf_num = game.infoset_key(i)
                tip = (f"node {int(v) + 1}: {game.players[p]} (player {pl_num}), information set {inf_num}"
                       + (f" {game.infoset_labels[i]!r}" if game.infoset_labels[i] else ""))
                item = NodeItem(int(v), "decision", mk, tuple(labels), tip, infoset=i, player=p, stem=stem_line)
            else:
                mk = Marker(x, yv, "diamond", R_CHANCE, CHANCE_COLOUR)
                labels.append(Text(x + R_CHANCE + 3, yv - LABEL_GAP, ((above[v], CHANCE_COLOUR),), "player", node=int(v)))
                tip = f"node {int(v) + 1}: chance"
                item = NodeItem(int(v), "chance", mk, tuple(labels), tip, stem=stem_line)
            if game.node_label[v]:
                item = NodeItem(item.node, item.kind, item.shape, item.labels,
                                item.tooltip + f", node label {game.node_label[v]!r}", item.infoset, item.player, item.stem)
        nodes.append(item)
        if v == 0:
            continue
        par = int(game.parent[v])
        px_end = float(x_col[d - 1] + stem[d - 1])
        fork_end = px_end + FORK
        x_in = x - (3 if item.kind == "collapsed" else 0)
        line = Line(((px_end, float(y[par])), (fork_end, yv), (x_in, yv)), "edge")
        act, pr, role = edge_text[v]
        elabels = [Text(fork_end + 4, yv - LABEL_GAP, ((act, EDGE_COLOUR),), "action", node=int(v))]
        if pr is not None:
            colour = CHANCE_COLOUR if role == "prob" else PLAYER_COLOURS[int(game.player[par]) % len(PLAYER_COLOURS)]
            elabels.append(Text(fork_end + 4, yv + LABEL_GAP + ASCENT * FONT, ((pr, colour),), role, node=int(v)))
        edges.append(EdgeItem(par, int(v), line, tuple(elabels)))

    links: list[InfosetItem] = []
    for k, grp in enumerate(groups):
        i = int(game.infoset[grp[0]])
        p = int(game.infoset_player[i])
        colour = PLAYER_COLOURS[p % len(PLAYER_COLOURS)]
        if k in lane_of:
            d = int(depth[grp[0]])
            xl = float(x_col[d]) - R_DECISION - 4.0 - LANE * lane_of[k]
            pts = ((xl, float(y[grp[0]])), (xl, float(y[grp[-1]])))
            joints = tuple((xl, float(y[v])) for v in grp)
        else:  # members at several depths: a dashed line through their markers
            pts = tuple((float(x_col[depth[v]]), float(y[v])) for v in grp)
            joints = ()
        links.append(InfosetItem(i, p, tuple(int(v) for v in grp), Line(pts, "infoset", colour, 1.2, True), joints))

    # header: title and legend
    header: list[Text | Marker | Line] = []
    shown = title or "game tree"
    stats = f"{game.n_nodes:,} nodes"
    if any(n.kind == "collapsed" for n in nodes):
        stats = f"{len(nodes):,} of {game.n_nodes:,} nodes drawn, {sum(n.kind == 'collapsed' for n in nodes):,} subtrees collapsed"
    header.append(Text(MARGIN, MARGIN + ASCENT * TITLE_FONT, ((_clip(shown, 80), "#000000"),), "title", TITLE_FONT, bold=True))
    tx = header[-1].box()[2] + 10
    header.append(Text(tx, MARGIN + ASCENT * TITLE_FONT, ((stats, "#666666"),), "title"))
    ly = MARGIN + TITLE_FONT + 8 + ASCENT * FONT
    lx = MARGIN + R_DECISION
    for p, name in enumerate(game.players):
        colour = PLAYER_COLOURS[p % len(PLAYER_COLOURS)]
        header.append(Marker(lx, ly - 3.5, "circle", R_DECISION, colour, "legend"))
        t = Text(lx + R_DECISION + 4, ly, ((_clip(name, 24), colour),), "legend")
        header.append(t)
        lx = t.box()[2] + 14
    if game.n_chance_nodes:
        header.append(Marker(lx, ly - 3.5, "diamond", R_CHANCE, CHANCE_COLOUR, "legend"))
        t = Text(lx + R_CHANCE + 4, ly, (("chance", CHANCE_COLOUR),), "legend")
        header.append(t)
        lx = t.box()[2] + 14
    if links:
        header.append(Line(((lx - 4, ly - 3.5), (lx + 18, ly - 3.5)), "legend", EDGE_COLOUR, 1.2, True))
        t = Text(lx + 22, ly, (("information set", EDGE_COLOUR),), "legend")
        header.append(t)
        lx = t.box()[2] + 14
    if sigma is not None:
        t = Text(lx, ly, (("profile probabilities under the branches", "#666666"),), "legend")
        header.append(t)
        lx = t.box()[2]
    right = max(right, lx, max((t.box()[2] for t in header if isinstance(t, Text)), default=0.0))
    bottom = max(float(y[order].max()) + SLOT / 2, header_h)
    return TreeDrawing(
        title=shown,
        width=math.ceil(right + MARGIN),
        height=math.ceil(bottom + MARGIN),
        nodes=tuple(nodes),
        edges=tuple(edges),
        infosets=tuple(links),
        header=tuple(header),
        n_nodes=game.n_nodes,
        players=tuple(game.players),
    )


def _who(game: Game, v: int) -> str:
    if game.kind[v] == _PLAYER:
        pl, num = game.infoset_key(int(game.infoset[v]))
        return f"node {v + 1} ({game.players[pl - 1]}, information set {num})"
    return f"node {v + 1} (chance)"


def _check_game(game: object) -> None:
    from crisislab.efg._game import Game

    if not isinstance(game, Game):
        extra = " (an unrolled scenario: pass its .game)" if hasattr(game, "game") else ""
        raise UserError(f"game: expected a crisislab.efg.Game{extra}, got {type(game).__name__}")


# ---- SVG ------------------------------------------------------------------------------------------


def _f(x: float) -> str:
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _svg_text(t: Text, cls: str) -> str:
    attrs = (f'class="{cls}" x="{_f(t.x)}" y="{_f(t.y)}" font-size="{_f(t.size)}"'
             + (f' text-anchor="{t.anchor}"' if t.anchor != "start" else "")
             + (' font-weight="bold"' if t.bold else ""))
    if len(t.parts) == 1:
        text, colour = t.parts[0]
        return f'<text {attrs} fill="{colour}">{html.escape(text, quote=False)}</text>'
    spans = "".join(f'<tspan fill="{c}">{html.escape(s, quote=False)}</tspan>' for s, c in t.parts)
    return f"<text {attrs}>{spans}</text>"


def _svg_marker(m: Marker, cls: str) -> str:
    if m.shape == "diamond":
        r = m.r
        pts = f"{_f(m.x)},{_f(m.y - r)} {_f(m.x + r)},{_f(m.y)} {_f(m.x)},{_f(m.y + r)} {_f(m.x - r)},{_f(m.y)}"
        return f'<polygon class="{cls}" points="{pts}" fill="#ffffff" stroke="{m.colour}" stroke-width="1.2"/>'
    return f'<circle class="{cls}" cx="{_f(m.x)}" cy="{_f(m.y)}" r="{_f(m.r)}" fill="{m.colour}"/>'


def _svg_path(line: Line, cls: str, extra: str = "") -> str:
    d = "M" + " L".join(f"{_f(x)},{_f(y)}" for x, y in line.points)
    dash = ' stroke-dasharray="4 3"' if line.dashed else ""
    return (f'<path class="{cls}"{extra} d="{d}" fill="none" stroke="{line.colour}" '
            f'stroke-width="{_f(line.width)}"{dash}/>')


def _to_svg(dr: TreeDrawing) -> str:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(dr.width)}" height="{_f(dr.height)}" '
        f'viewBox="0 0 {_f(dr.width)} {_f(dr.height)}" font-family="{FONT_FAMILY}" class="crisislab-tree">',
        f"<title>{html.escape(dr.title, quote=False)}</title>",
        f'<rect class="background" width="{_f(dr.width)}" height="{_f(dr.height)}" fill="#ffffff"/>',
        '<g class="header">',
    ]
    for h in dr.header:
        if isinstance(h, Text):
            out.append(_svg_text(h, f"label {h.role}"))
        elif isinstance(h, Marker):
            out.append(_svg_marker(h, "legend"))
        else:
            out.append(_svg_path(h, "legend"))
    out.append("</g>")
    out.append('<g class="edges">')
    for e in dr.edges:
        out.append(_svg_path(e.line, "edge", f' data-parent="{e.parent}" data-child="{e.child}"'))
    out.append("</g>")
    out.append('<g class="infosets">')
    for s in dr.infosets:
        nodes = " ".join(map(str, s.nodes))
        out.append(f'<g class="infoset" data-infoset="{s.infoset}" data-player="{s.player}" data-nodes="{nodes}">')
        out.append(_svg_path(s.line, "link"))
        out.extend(f'<circle class="joint" cx="{_f(x)}" cy="{_f(y)}" r="{_f(R_JOINT)}" fill="{s.line.colour}"/>'
                   for x, y in s.joints)
        out.append("</g>")
    out.append("</g>")
    out.append('<g class="branch-labels">')
    for e in dr.edges:
        for t in e.labels:
            out.append(_svg_text(t, f"label {t.role}").replace("<text ", f'<text data-child="{e.child}" ', 1))
    out.append("</g>")
    out.append('<g class="nodes">')
    for n in dr.nodes:
        attrs = f'class="node {n.kind}" data-node="{n.node}"'
        if n.kind == "decision":
            attrs += f' data-infoset="{n.infoset}" data-player="{n.player}"'
        if n.kind == "collapsed":
            attrs += f' data-count="{n.count}"'
        out.append(f"<g {attrs}><title>{html.escape(n.tooltip, quote=False)}</title>")
        if n.stem is not None:
            out.append(_svg_path(n.stem, "stem"))
        if isinstance(n.shape, Box):
            b = n.shape
            out.append(f'<rect class="box" x="{_f(b.x0)}" y="{_f(b.y0)}" width="{_f(b.x1 - b.x0)}" '
                       f'height="{_f(b.y1 - b.y0)}" rx="3" fill="#f3f3f3" stroke="#888888"/>')
        else:
            out.append(_svg_marker(n.shape, "marker"))
        for t in n.labels:
            out.append(_svg_text(t, f"label {t.role}"))
        out.append("</g>")
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---- TikZ -----------------------------------------------------------------------------------------

_TEX_ESCAPES = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "&": r"\&", "%": r"\%", "$": r"\$",
    "#": r"\#", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "…": r"\ldots{}", "<": r"\textless{}",
    ">": r"\textgreater{}", "|": r"\textbar{}",
}


def tex_escape(text: str) -> str:
    """`text` as LaTeX source typesetting the same characters."""
    return "".join(_TEX_ESCAPES.get(c, c) for c in text)


def _tex_num(text: str) -> str:
    try:
        float(text)
    except ValueError:
        return tex_escape(text)
    return f"${text}$"


def _to_tikz(dr: TreeDrawing) -> str:
    colours = {c: f"cl{k}" for k, c in enumerate(dict.fromkeys(
        [*PLAYER_COLOURS, CHANCE_COLOUR, EDGE_COLOUR, "#000000", "#666666", "#888888", "#f3f3f3"]))}

    def col(c: str) -> str:
        return colours[c]

    def pt(x: float, y: float) -> str:
        return f"({_f(x)},{_f(y)})"

    def text(t: Text) -> str:
        body = "".join(
            rf"\textcolor{{{col(c)}}}{{{_tex_num(s) if t.role == 'payoff' else tex_escape(s)}}}" for s, c in t.parts)
        if t.bold:
            body = rf"\bfseries {body}"
        anchor = {"start": "base west", "middle": "base", "end": "base east"}[t.anchor]
        size = r"\normalsize" if t.size > FONT else ""
        return rf"\node[anchor={anchor},inner sep=0pt,font={size}] at {pt(t.x, t.y)} {{{body}}};"

    def marker(m: Marker) -> str:
        if m.shape == "diamond":
            r = m.r
            return (rf"\filldraw[fill=white,draw={col(m.colour)},line width=0.9pt] {pt(m.x, m.y - r)} -- "
                    rf"{pt(m.x + r, m.y)} -- {pt(m.x, m.y + r)} -- {pt(m.x - r, m.y)} -- cycle;")
        return rf"\fill[{col(m.colour)}] {pt(m.x, m.y)} circle[radius={_f(m.r * 0.75)}pt];"

    def path(line: Line) -> str:
        style = f"{col(line.colour)},line width={_f(line.width * 0.75)}pt"
        if line.dashed:
            style += ",dash pattern=on 3pt off 2.25pt"
        return rf"\draw[{style}] " + " -- ".join(pt(x, y) for x, y in line.points) + ";"

    out = [
        f"% {tex_escape(dr.title)}: a game tree drawn by crisislab (TikZ; \\usepackage{{tikz}}, then \\input this file).",
        "% One unit is 0.75pt (1 px of the SVG); labels are set in the document's sans-serif font at \\scriptsize.",
    ]
    for c, name in colours.items():
        out.append(rf"\definecolor{{{name}}}{{HTML}}{{{c.lstrip('#').upper()}}}")
    out.append(r"\begin{tikzpicture}[x=0.75pt,y=-0.75pt,font=\sffamily\scriptsize,line cap=round,line join=round]")
    for h in dr.header:
        out.append(text(h) if isinstance(h, Text) else marker(h) if isinstance(h, Marker) else path(h))
    for e in dr.edges:
        out.append(path(e.line))
    for s in dr.infosets:
        out.append(path(s.line))
        out.extend(rf"\fill[{col(s.line.colour)}] {pt(x, y)} circle[radius={_f(R_JOINT * 0.75)}pt];" for x, y in s.joints)
    for e in dr.edges:
        out.extend(text(t) for t in e.labels)
    for n in dr.nodes:
        if n.stem is not None:
            out.append(path(n.stem))
        if isinstance(n.shape, Box):
            b = n.shape
            out.append(rf"\filldraw[fill={col('#f3f3f3')},draw={col('#888888')},rounded corners=2pt] "
                       rf"{pt(b.x0, b.y0)} rectangle {pt(b.x1, b.y1)};")
        else:
            out.append(marker(n.shape))
        out.extend(text(t) for t in n.labels)
    out.append(r"\end{tikzpicture}")
    return "\n".join(out) + "\n"


# ---- PDF / PNG through matplotlib ---------------------------------------------------------------------

MAX_PNG_PIXELS = 32_000  # per side; Agg refuses images past 2**16 px, and such a PNG is unusable anyway


def _render_matplotlib(dr: TreeDrawing, path: Path, fmt: str, dpi: float) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle, FancyBboxPatch, Polygon

    if not (isinstance(dpi, (int, float)) and math.isfinite(dpi) and 10 <= dpi <= 1200):
        raise UserError(f"dpi: expected a number from 10 to 1200 (got {dpi!r})")
    if fmt == "png" and max(dr.width, dr.height) * dpi / 72 > MAX_PNG_PIXELS:
        raise UserError(
            f"the drawing is {dr.width:.0f}×{dr.height:.0f} px: as PNG at {dpi:g} dpi it would pass "
            f"{MAX_PNG_PIXELS:,} pixels a side; draw fewer nodes (max_nodes / --max-nodes) or write .svg or .pdf"
        )
    fig = Figure(figsize=(dr.width / 72, dr.height / 72), facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, dr.width)
    ax.set_ylim(dr.height, 0)
    ax.set_axis_off()

    def lines(items: list[Line], z: float) -> None:
        if items:
            ax.add_collection(LineCollection(
                [np.array(ln.points) for ln in items], colors=[ln.colour for ln in items],
                linewidths=[ln.width for ln in items], linestyles=[(0, (4, 3)) if ln.dashed else "solid" for ln in items],
                zorder=z, capstyle="round", joinstyle="round"))

    def marker(m: Marker) -> None:
        if m.shape == "diamond":
            r = m.r
            ax.add_patch(Polygon([(m.x, m.y - r), (m.x + r, m.y), (m.x, m.y + r), (m.x - r, m.y)], closed=True,
                                 facecolor="white", edgecolor=m.colour, linewidth=1.2, zorder=4))
        else:
            ax.add_patch(Circle((m.x, m.y), m.r, facecolor=m.colour, edgecolor="none", zorder=4))

    def text(t: Text) -> None:
        x = t.box()[0]
        for s, c in t.parts:
            ax.text(x, t.y, s, fontsize=t.size, color=c, ha="left", va="baseline", family="DejaVu Sans",
                    fontweight="bold" if t.bold else "normal", zorder=5)
            x += text_width(s, t.size, bold=t.bold)

    lines([e.line for e in dr.edges] + [n.stem for n in dr.nodes if n.stem is not None]
          + [h for h in dr.header if isinstance(h, Line)], 2)
    lines([s.line for s in dr.infosets], 3)
    for s in dr.infosets:
        for x, y in s.joints:
            ax.add_patch(Circle((x, y), R_JOINT, facecolor=s.line.colour, edgecolor="none", zorder=3))
    for h in dr.header:
        if isinstance(h, Marker):
            marker(h)
    for n in dr.nodes:
        if isinstance(n.shape, Box):
            b = n.shape
            ax.add_patch(FancyBboxPatch((b.x0, b.y0), b.x1 - b.x0, b.y1 - b.y0, boxstyle="round,pad=0,rounding_size=3",
                                        facecolor="#f3f3f3", edgecolor="#888888", linewidth=1, zorder=4))
        else:
            marker(n.shape)
    for t in dr.texts:
        text(t)
    if fmt == "png":
        fig.savefig(path, format="png", dpi=dpi, metadata={"Title": dr.title, "Software": "crisislab"})
    else:
        fig.savefig(path, format="pdf", metadata={"Title": dr.title, "Creator": "crisislab"})
