"""Game trees drawn: every game of Gambit's catalog, the repository's .efg files and the bundled
scenarios at horizon 2, checked from the SVG written.

What is read back from the SVG (parsed as XML, text measured independently with matplotlib's own
text layout of DejaVu Sans, the font the drawing names first): one node element per tree node (or,
collapsed, per drawn node, the boxes counting exactly the nodes they stand for); the labels (each
player's name at its nodes, each action on its branch, each chance probability, each leaf's
payoffs); no two boxes (labels, node markers, collapsed boxes) overlapping; no two edges crossing;
no edge or information-set line running through a label; every information set with two or more
drawn nodes joined by one line (a vertical lane where they share a depth); parents centred over
their children, leaves in preorder.
Then the other writers (TikZ, PDF, PNG), the profile on the branches, and the command line.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import numpy as np
import pygambit as gbt  # test extra: Gambit's catalog of games
import pytest
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

import crisislab
from crisislab.efg import CHANCE, PLAYER, TERMINAL, TreeDrawing, draw_tree, read_efg, solve_logit, solve_spe
from crisislab.errors import UserError

REPO = Path(__file__).resolve().parents[2]
CATALOG = sorted((Path(gbt.__file__).parent / "catalog_data").rglob("*.efg"))
REPO_EFG = sorted((REPO / "tests").rglob("*.efg"))
SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))
NS = {"s": "http://www.w3.org/2000/svg"}
EPS = 0.05  # px: boxes may touch, not overlap (coordinates are written to 0.1 px)

_T2P = TextToPath()


def _ink(text: str, size: float) -> tuple[float, float, float]:
    """(width, height above baseline, depth below) of `text` in DejaVu Sans at `size`."""
    w, h, d = _T2P.get_text_width_height_descent(text, FontProperties(family="DejaVu Sans", size=size), ismath=False)
    return w, h - d, d


class Svg:
    """What the tests read back from a drawing's SVG."""

    def __init__(self, svg: str) -> None:
        self.root = ET.fromstring(svg)
        self.width = float(self.root.get("width"))
        self.height = float(self.root.get("height"))
        self.nodes = self.root.findall(".//s:g[@class]", NS)
        self.nodes = [g for g in self.nodes if g.get("class").split()[0] == "node"]
        self.edges = self.root.findall(".//s:path[@class='edge']", NS)
        self.infosets = self.root.findall(".//s:g[@class='infoset']", NS)

    def node_ids(self) -> list[int]:
        return [int(g.get("data-node")) for g in self.nodes]

    def texts(self) -> list[tuple[ET.Element, str, tuple[float, float, float, float]]]:
        out = []
        for t in self.root.iter(f"{{{NS['s']}}}text"):
            s = "".join(t.itertext())
            size = float(t.get("font-size"))
            w, up, down = _ink(s, size)
            x, y = float(t.get("x")), float(t.get("y"))
            x0 = x - {"start": 0.0, "middle": w / 2, "end": w}[t.get("text-anchor", "start")]
            out.append((t, s, (x0, y - up, x0 + w, y + down)))
        return out

    def shapes(self) -> list[tuple[float, float, float, float]]:
        """Boxes of node markers, legend markers and collapsed boxes."""
        out = []
        for c in self.root.iter(f"{{{NS['s']}}}circle"):
            if c.get("class") == "joint":
                continue
            x, y, r = float(c.get("cx")), float(c.get("cy")), float(c.get("r"))
            out.append((x - r, y - r, x + r, y + r))
        for p in self.root.iter(f"{{{NS['s']}}}polygon"):
            pts = np.array([list(map(float, q.split(","))) for q in p.get("points").split()])
            out.append((*pts.min(axis=0), *pts.max(axis=0)))
        for r in self.root.iter(f"{{{NS['s']}}}rect"):
            if r.get("class") == "background":
                continue
            x, y = float(r.get("x")), float(r.get("y"))
            out.append((x, y, x + float(r.get("width")), y + float(r.get("height"))))
        return out


def _points(d: str) -> np.ndarray:
    return np.array([[float(v) for v in p.split(",")] for p in re.findall(r"[-\d.]+,[-\d.]+", d)])


def _segments(paths: list[ET.Element]) -> np.ndarray:
    segs = []
    for p in paths:
        pts = _points(p.get("d"))
        segs.extend(np.hstack([pts[:-1], pts[1:]]))
    return np.array(segs).reshape(-1, 4)


def _overlapping_pairs(boxes: np.ndarray) -> list[tuple[int, int]]:
    b = np.asarray(boxes)
    ov = ((np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0]) > EPS)
          & (np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1]) > EPS))
    i, j = np.nonzero(np.triu(ov, 1))
    return list(zip(i.tolist(), j.tolist()))


def _crossing_pairs(segs: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of segments that cross or overlap, other than at an endpoint they share."""
    p, r = segs[:, :2], segs[:, 2:] - segs[:, :2]
    cross = lambda a, b: a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]  # noqa: E731
    qp = p[None, :, :] - p[:, None, :]
    rxs = cross(r[:, None, :], r[None, :, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = cross(qp, r[None, :, :]) / rxs
        u = cross(qp, r[:, None, :]) / rxs
    proper = (np.abs(rxs) > 1e-9) & (t > 1e-6) & (t < 1 - 1e-6) & (u > 1e-6) & (u < 1 - 1e-6)
    # collinear segments overlapping over a length (siblings' shared starts touch at one point only)
    col = (np.abs(rxs) <= 1e-9) & (np.abs(cross(qp, r[:, None, :])) <= 1e-6)
    lo_i, hi_i = np.minimum(segs[:, 0], segs[:, 2]), np.maximum(segs[:, 0], segs[:, 2])
    lo_y, hi_y = np.minimum(segs[:, 1], segs[:, 3]), np.maximum(segs[:, 1], segs[:, 3])
    shared = (np.minimum(hi_i[:, None], hi_i[None, :]) - np.maximum(lo_i[:, None], lo_i[None, :]) > 1e-6) | (
        np.minimum(hi_y[:, None], hi_y[None, :]) - np.maximum(lo_y[:, None], lo_y[None, :]) > 1e-6)
    i, j = np.nonzero(np.triu(proper | (col & shared), 1))
    return list(zip(i.tolist(), j.tolist()))


def _through_boxes(segs: np.ndarray, boxes: np.ndarray) -> list[tuple[int, int]]:
    """(segment, box) pairs where the segment passes through the box's interior (Liang–Barsky)."""
    if segs.size == 0 or boxes.size == 0:
        return []
    b = boxes + np.array([EPS, EPS, -EPS, -EPS])
    x0, y0 = segs[:, None, 0], segs[:, None, 1]
    dx, dy = segs[:, None, 2] - x0, segs[:, None, 3] - y0
    t0, t1 = np.zeros((len(segs), len(b))), np.ones((len(segs), len(b)))
    ok = np.ones_like(t0, dtype=bool)
    for pk, qk in ((-dx, x0 - b[None, :, 0]), (dx, b[None, :, 2] - x0), (-dy, y0 - b[None, :, 1]), (dy, b[None, :, 3] - y0)):
        pk = np.broadcast_to(pk, t0.shape)
        qk = np.broadcast_to(qk, t0.shape)
        par = np.abs(pk) < 1e-12
        ok &= ~(par & (qk < 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = qk / pk
        t0 = np.where(~par & (pk < 0), np.maximum(t0, r), t0)
        t1 = np.where(~par & (pk > 0), np.minimum(t1, r), t1)
    i, j = np.nonzero(ok & (t0 < t1 - 1e-9))
    return list(zip(i.tolist(), j.tolist()))


def _subtree_sizes(game) -> list[int]:
    size = [1] * game.n_nodes
    for v in range(game.n_nodes - 1, 0, -1):  # preorder: children after parents
        size[int(game.parent[v])] += size[v]
    return size


def check_drawing(game, drawing: TreeDrawing, *, max_nodes: int | None = None) -> Svg:
    """Every structural promise of the drawing, read back from its SVG."""
    svg = Svg(drawing.svg)
    ids = svg.node_ids()
    kinds = {int(g.get("data-node")): g.get("class").split()[1] for g in svg.nodes}
    # one element per drawn node, in preorder; collapsed boxes count exactly the nodes they hide
    assert ids == sorted(set(ids))
    size = _subtree_sizes(game)
    counts = {int(g.get("data-node")): int(g.get("data-count")) for g in svg.nodes if kinds[int(g.get("data-node"))] == "collapsed"}
    if max_nodes is None or game.n_nodes <= max_nodes:
        assert ids == list(range(game.n_nodes)) and not counts
    else:
        assert len(ids) <= max_nodes and counts
    assert all(counts[v] == size[v] for v in counts)
    assert len(ids) - len(counts) + sum(counts.values()) == game.n_nodes  # every node drawn or counted once
    drawn = set(ids)
    for v in ids[1:]:
        assert int(game.parent[v]) in drawn and kinds[int(game.parent[v])] != "collapsed"
    for g in svg.nodes:
        v = int(g.get("data-node"))
        want = {TERMINAL: "terminal", PLAYER: "decision", CHANCE: "chance"}[int(game.kind[v])]
        assert kinds[v] in (want, "collapsed") and (kinds[v] != "collapsed" or game.kind[v] != TERMINAL)
        text = ["".join(t.itertext()) for t in g.iter(f"{{{NS['s']}}}text")]
        if kinds[v] == "decision":  # the player's name (clipped to 24 characters)
            assert game.players[int(game.player[v])][:23] in text[0]
        elif kinds[v] == "terminal":  # the payoffs
            shown = [float(x) for x in text[0].strip("()").split(", ")]
            np.testing.assert_allclose(shown, game.payoff[v], rtol=5e-4, atol=1e-12)
        elif kinds[v] == "collapsed":
            assert text == [f"… {counts[v]:,} nodes"]
    # each edge joins a drawn parent and child and carries the action; chance edges their probability
    edge_pairs = [(int(e.get("data-parent")), int(e.get("data-child"))) for e in svg.edges]
    assert sorted(c for _, c in edge_pairs) == ids[1:]
    assert all(int(game.parent[c]) == p for p, c in edge_pairs)
    labels: dict[int, dict[str, str]] = {}
    for t in svg.root.findall(".//s:g[@class='branch-labels']/s:text", NS):
        labels.setdefault(int(t.get("data-child")), {})[t.get("class").split()[1]] = "".join(t.itertext())
    for c in ids[1:]:
        par = int(game.parent[c])
        a = int(game.action[c])
        if game.kind[par] == CHANCE:
            name = game.chance_action_labels[int(game.chance_infoset[par])][a]
            text = game.chance_prob_text[int(game.chance_infoset[par])][a]
            shown = labels[c]["prob"]
            assert shown == text or abs(float(shown) - float(Fraction(text))) <= 5e-4
        else:
            name = game.action_labels[int(game.infoset[par])][a]
        name = " ".join(name.split()) or str(a + 1)
        assert labels[c]["action"] == name or (labels[c]["action"].endswith("…") and name.startswith(labels[c]["action"][:-1]))
    # information sets: one line per set with two or more drawn (not collapsed) nodes
    members: dict[int, list[int]] = {}
    for v in ids:
        if kinds[v] == "decision":
            members.setdefault(int(game.infoset[v]), []).append(v)
    joined = {int(g.get("data-infoset")): sorted(map(int, g.get("data-nodes").split())) for g in svg.infosets}
    assert joined == {i: sorted(m) for i, m in members.items() if len(m) >= 2}
    # legibility: no boxes overlap, all inside the picture, no edges cross, no line through a label
    texts = svg.texts()
    assert all(s.strip() for _, s, _ in texts)
    for g in svg.nodes:  # a collapsed box holds its text (then the box stands for both)
        if kinds[int(g.get("data-node"))] == "collapsed":
            r = g.find("s:rect", NS)
            x, y = float(r.get("x")), float(r.get("y"))
            tb = [b for t, _, b in texts if t is g.find("s:text", NS)][0]
            assert x <= tb[0] and tb[2] <= x + float(r.get("width")) and y <= tb[1] and tb[3] <= y + float(r.get("height"))
    texts = [(t, s, b) for t, s, b in texts if t.get("class") != "label collapsed"]
    boxes = np.array([b for _, _, b in texts] + svg.shapes())
    assert not _overlapping_pairs(boxes), [(texts[i][1] if i < len(texts) else i, texts[j][1] if j < len(texts) else j)
                                           for i, j in _overlapping_pairs(boxes)[:5]]
    assert boxes[:, 0].min() >= 0 and boxes[:, 1].min() >= 0
    assert boxes[:, 2].max() <= svg.width and boxes[:, 3].max() <= svg.height
    edge_segs = _segments(svg.edges)
    assert not _crossing_pairs(edge_segs)
    text_boxes = np.array([b for _, _, b in texts])
    # (an information set holding nodes of several depths, as with absent-mindedness, is joined by a
    # line through its markers, which may cross what lies between them: those lines are left out)
    lanes = [g.find("s:path", NS) for g in svg.infosets if g.find("s:circle", NS) is not None]
    for g in svg.infosets:
        if g.find("s:circle", NS) is None:
            assert len({int(game.depth[int(v)]) for v in g.get("data-nodes").split()}) > 1
    lines = _segments(svg.edges + lanes + svg.root.findall(".//s:path[@class='stem']", NS))
    hits = _through_boxes(lines, text_boxes)
    assert not hits, [texts[j][1] for _, j in hits[:5]]
    # layered tidy tree: leaves top to bottom in preorder, parents centred over their children
    y = {int(g.get("data-node")): _node_y(g) for g in svg.nodes}
    rows = [v for v in ids if kinds[v] in ("terminal", "collapsed")]
    assert all(y[a] < y[b] for a, b in zip(rows, rows[1:]))
    for v in ids:
        kids = [c for p, c in edge_pairs if p == v]
        if kids:
            assert abs(y[v] - (y[kids[0]] + y[kids[-1]]) / 2) <= 0.1
    return svg


def _node_y(g: ET.Element) -> float:
    shape = g.find("s:circle", NS)
    if shape is not None:
        return float(shape.get("cy"))
    shape = g.find("s:polygon", NS)
    if shape is not None:
        return float(np.mean([float(q.split(",")[1]) for q in shape.get("points").split()]))
    r = g.find("s:rect", NS)
    return float(r.get("y")) + float(r.get("height")) / 2


# ---- every game ---------------------------------------------------------------------------------


def test_the_catalogs_are_found() -> None:
    assert len(CATALOG) >= 30 and len(REPO_EFG) >= 20 and len(SCENARIOS) >= 6


@pytest.mark.parametrize("path", CATALOG + REPO_EFG, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_efg_game_is_drawn_whole_and_legibly(path: Path) -> None:
    game = read_efg(path)
    check_drawing(game, draw_tree(game))


@pytest.fixture(scope="module")
def unrolled() -> dict:
    return {p.stem: crisislab.unroll_efg(crisislab.load_scenario(p), horizon=2) for p in SCENARIOS}


@pytest.mark.parametrize("name", [p.stem for p in SCENARIOS])
def test_every_bundled_scenario_at_horizon_2_is_drawn_legibly(unrolled, name: str) -> None:
    game = unrolled[name].game
    drawing = draw_tree(game)
    check_drawing(game, drawing, max_nodes=400)
    assert drawing.title == game.title


def test_the_flagship_is_collapsed_to_the_deepest_level_that_fits(unrolled) -> None:
    game = unrolled["us-iran-2019-2020"].game
    assert game.n_nodes > 400
    for max_nodes in (1, 3, 60):  # (400, the default, is drawn above)
        drawing = draw_tree(game, max_nodes=max_nodes)
        check_drawing(game, drawing, max_nodes=max_nodes)
        # the levels drawn: as many whole levels as fit (level sizes from the tree's parent array)
        depth = np.zeros(game.n_nodes, dtype=int)
        for v in range(1, game.n_nodes):
            depth[v] = depth[int(game.parent[v])] + 1
        fit = np.cumsum(np.bincount(depth)) <= max_nodes
        deepest = int(np.flatnonzero(fit).max()) if fit[0] else 0
        assert sorted(n.node for n in drawing.nodes) == np.flatnonzero(depth <= deepest).tolist()


def test_a_collapsed_drawing_of_kuhn_poker() -> None:
    game = read_efg(REPO / "tests/efg/games/kuhn.efg")
    drawing = draw_tree(game, max_nodes=20)  # levels of 1, 3, 6, 12 nodes: the first three fit
    svg = check_drawing(game, drawing, max_nodes=20)
    assert len(svg.nodes) == 10 and drawing.n_collapsed == 6
    # each deal of two cards hides Kuhn's betting round: 4 decision nodes and 5 terminal nodes
    assert sorted(n.count for n in drawing.nodes if n.kind == "collapsed") == [9] * 6
    assert "10 of 58 nodes drawn, 6 subtrees collapsed" in drawing.svg


# ---- profiles on the branches -------------------------------------------------------------------


def _branch_texts(drawing: TreeDrawing, role: str) -> dict[int, str]:
    return {t.node: t.text for e in drawing.edges for t in e.labels if t.role == role}


def test_a_solved_profile_is_written_on_the_decision_branches() -> None:
    game = read_efg(REPO / "tests/efg/logit_games/beer_quiche.efg")
    sol = solve_logit(game)
    drawing = draw_tree(game, profile=sol)
    probs = _branch_texts(drawing, "profile")
    decision_children = [v for v in range(1, game.n_nodes) if game.kind[int(game.parent[v])] == PLAYER]
    assert sorted(probs) == decision_children
    for v, text in probs.items():
        assert abs(float(text) - sol.profile[int(game.in_action[v])]) <= 5e-4
    # the same drawing from the flat array and from `efg solve --json`'s nested form
    nested = {"profile": {str(p): {str(i): v for i, v in b.items()} for p, b in
                          crisislab.efg.profile_to_nested(game, sol.profile).items()}}
    assert draw_tree(game, profile=sol.profile).svg == drawing.svg == draw_tree(game, profile=nested).svg
    check_drawing(game, drawing)


def test_the_centipede_spe_takes_at_once() -> None:
    """Backward induction in the centipede game: every player takes at every node (Rosenthal 1981)."""
    game = read_efg(REPO / "tests/efg/games/centipede6.efg")
    drawing = draw_tree(game, profile=solve_spe(game))
    probs = _branch_texts(drawing, "profile")
    takes = {v: probs[v] for v in probs if game.action_labels[int(game.infoset[int(game.parent[v])])][int(game.action[v])].lower().startswith("t")}
    assert takes and set(takes.values()) == {"1"} and set(probs.values()) == {"0", "1"}


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        pytest.param(np.ones(3), r"^profile: expected a behaviour profile of shape", id="shape"),
        pytest.param({"profile": {"1": {"1": [1.0]}}}, r"^profile: player 1 infoset 1 has 2 actions", id="nested"),
        pytest.param({"profile": [1, 2]}, r"^profile: expected \{player", id="not-nested"),
    ],
)
def test_a_wrong_profile_is_a_user_error(profile, message: str) -> None:
    game = read_efg(REPO / "tests/efg/logit_games/matching_pennies.efg")
    with pytest.raises(UserError, match=message):
        draw_tree(game, profile=profile)


@pytest.mark.parametrize("max_nodes", [0, 20_001, 2.5, True])
def test_max_nodes_is_checked(max_nodes) -> None:
    game = read_efg(REPO / "tests/efg/logit_games/matching_pennies.efg")
    with pytest.raises(UserError, match=r"^max_nodes: expected an integer from 1 to 20,000"):
        draw_tree(game, max_nodes=max_nodes)


def test_an_unrolled_scenario_is_not_a_game(unrolled) -> None:
    with pytest.raises(UserError, match=r"^game: expected a crisislab.efg.Game \(an unrolled scenario: pass its .game\)"):
        draw_tree(unrolled["fearon-audience-costs"])


# ---- writers ------------------------------------------------------------------------------------


def test_notebooks_show_the_game_and_the_drawing() -> None:
    game = read_efg(REPO / "tests/efg/games/centipede6.efg")
    assert game._repr_svg_() == draw_tree(game).svg == draw_tree(game)._repr_svg_()
    assert game._repr_svg_().startswith("<svg ") and crisislab.draw_tree is draw_tree


def _balanced(tex: str) -> bool:
    depth = 0
    for m in re.finditer(r"\\.|[{}]", tex):
        if m.group() == "{":
            depth += 1
        elif m.group() == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def test_tikz_has_every_label_escaped_and_every_shape(unrolled) -> None:
    game = unrolled["fearon-audience-costs"].game
    drawing = draw_tree(game, profile=solve_logit(game))
    tex = drawing.tikz()
    assert tex.count(r"\begin{tikzpicture}") == tex.count(r"\end{tikzpicture}") == 1 and _balanced(tex)
    assert tex.count(r"\node[") == len(drawing.texts)
    assert r"a\_status\_quo" in tex and "a_status_quo" not in tex
    n_markers = sum(1 for n in drawing.nodes if n.kind != "collapsed")
    assert tex.count("circle[radius=") + tex.count("-- cycle;") == n_markers + sum(
        len(s.joints) for s in drawing.infosets) + len(drawing.players) + 1  # + legend markers (players, chance)
    assert r"\textcolor{cl1}{$-2$}" in tex  # B's payoff −2 in B's colour, as a number


def test_pdf_and_png_have_the_drawing_size(tmp_path: Path) -> None:
    from PIL import Image

    game = read_efg(REPO / "tests/efg/logit_games/beer_quiche.efg")
    drawing = draw_tree(game)
    png = drawing.save(tmp_path / "tree.png", dpi=144)
    with Image.open(png) as im:
        assert im.size == (round(drawing.width * 2), round(drawing.height * 2))
        pixels = np.asarray(im.convert("RGB")).reshape(-1, 3)
    assert np.any(np.all(np.abs(pixels.astype(int) - [0x00, 0x72, 0xB2]) <= 8, axis=1))  # player 1's colour
    pdf = drawing.save(tmp_path / "tree.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert re.findall(rb"/MediaBox \[ *([\d. ]+?) *\]", pdf) == [f"0 0 {drawing.width:g} {drawing.height:g}".encode()]
    assert drawing.save(tmp_path / "tree.svg").read_text(encoding="utf-8") == drawing.svg
    with pytest.raises(UserError, match=r"^path: .*tree.jpg' has no drawing format"):
        drawing.save(tmp_path / "tree.jpg")


# ---- command line -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["svg", "pdf", "png", "tex"])
def test_efg_draw_writes_each_format(cli, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"kuhn.{suffix}"
    code, stdout, stderr = cli("efg", "draw", REPO / "tests/efg/games/kuhn.efg", "-o", out)
    assert code == 0, stderr
    assert out.is_file() and f"wrote {out}: 58 nodes" in stdout
    if suffix == "svg":
        assert out.read_text(encoding="utf-8") == draw_tree(read_efg(REPO / "tests/efg/games/kuhn.efg")).svg


def test_efg_draw_takes_the_profile_efg_solve_prints(cli, tmp_path: Path) -> None:
    game_file = REPO / "tests/efg/logit_games/beer_quiche.efg"
    code, stdout, _ = cli("efg", "solve", game_file, "--json")
    assert code == 0
    prof = tmp_path / "profile.json"
    prof.write_text(stdout, encoding="utf-8")
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    assert cli("efg", "draw", game_file, "-o", a, "--profile", prof)[0] == 0
    assert cli("efg", "draw", game_file, "-o", b, "--solve", "logit")[0] == 0
    game = read_efg(game_file)
    want = draw_tree(game, profile=json.loads(stdout)).svg
    assert a.read_text(encoding="utf-8") == want
    assert _branch_texts(draw_tree(game, profile=json.loads(stdout)), "profile") == _branch_texts(
        draw_tree(game, profile=solve_logit(game)), "profile")


def test_draw_scenario_names_each_infoset_by_the_movers_type(cli, tmp_path: Path) -> None:
    out = tmp_path / "fearon.svg"
    code, stdout, stderr = cli("draw", REPO / "scenarios/fearon-audience-costs.yaml", "--horizon", "2", "-o", out,
                               "--solve", "logit")
    assert code == 0, stderr
    assert "15 nodes; logit QRE at λ = " in stdout
    svg = Svg(out.read_text(encoding="utf-8"))
    infoset_tags = {"".join(t.itertext()) for t in svg.root.findall(".//s:text[@class='label infoset']", NS)}
    assert infoset_tags == {"resolved", "irresolute", "standard"}  # A's types, and B's one type


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["-o", "{tmp}/t.jpg"], "--output: '{tmp}/t.jpg' has no drawing format (expected a file name ending in .svg, .pdf, .png, .tex)", id="suffix"),
        pytest.param(["-o", "{tmp}/t.svg", "--max-nodes", "0"], "--max-nodes: expected an integer from 1 to 20,000 (got 0)", id="max-nodes"),
        pytest.param(["-o", "{tmp}/t.svg", "--solve", "spe", "--profile", "{tmp}/p.json"], "--solve and --profile: give one of them", id="both"),
        pytest.param(["-o", "{tmp}/t.svg", "--profile", "{tmp}/bad.json"], "--profile: {tmp}/bad.json:1: not JSON", id="not-json"),
        pytest.param(["-o", "{tmp}/t.svg", "--profile", "{tmp}/p.json"], "--profile: {tmp}/p.json: profile: player 1 infoset 1 has 2 actions, got 1 probabilities", id="wrong-profile"),
        pytest.param(["-o", "{tmp}/t.svg", "--profile", "{tmp}/none.json"], "--profile: {tmp}/none.json: no such file", id="no-profile"),
        pytest.param(["-o", "{tmp}/t.svg", "--solve", "spe"], None, id="spe-imperfect-information"),
    ],
)
def test_efg_draw_refuses_bad_requests_and_writes_nothing(cli, tmp_path: Path, args: list[str], message: str | None) -> None:
    (tmp_path / "p.json").write_text('{"profile": {"1": {"1": [1.0]}, "2": {"1": [0.5, 0.5]}}}', encoding="utf-8")
    (tmp_path / "bad.json").write_text("not json", encoding="utf-8")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, stdout, stderr = cli("efg", "draw", REPO / "tests/efg/logit_games/matching_pennies.efg", *argv)
    assert code == 2 and stdout == ""
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
    if message is not None:
        assert stderr.startswith(message.replace("{tmp}", str(tmp_path))), stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["bad.json", "p.json"]


def test_draw_checks_its_output_before_unrolling(cli, tmp_path: Path, monkeypatch) -> None:
    afile = tmp_path / "file"
    afile.write_text("x")

    def forbidden(*args, **kwargs):
        raise AssertionError("unrolled before the output was checked")

    monkeypatch.setattr(crisislab, "unroll_efg", forbidden)
    code, _out, err = cli("draw", REPO / "scenarios/fearon-audience-costs.yaml", "-o", afile / "t.svg")
    assert code == 2 and err.startswith(f"--output: {afile}/t.svg cannot be created")
    code, _out, err = cli("draw", REPO / "scenarios/fearon-audience-costs.yaml", "-o", tmp_path / "t.svg", "--horizon", "0")
    assert code == 2 and err.startswith("--horizon: expected an integer ≥ 1 (got 0)")


def test_a_fault_while_writing_leaves_the_previous_drawing(cli, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "tree.svg"
    out.write_text("old drawing")

    def denied(self, path, **kwargs):
        Path(path).write_text("<svg half")
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(TreeDrawing, "save", denied)
    code, _out, err = cli("efg", "draw", REPO / "tests/efg/games/centipede6.efg", "-o", out)
    assert code == 3 and "Permission denied (EACCES)" in err and "Traceback" not in err
    assert out.read_text() == "old drawing" and sorted(p.name for p in tmp_path.iterdir()) == ["tree.svg"]


def test_labels_are_escaped_and_odd_trees_drawn() -> None:
    """Markup in labels stays text (SVG and TikZ); a one-node game and a three-player game draw."""
    b = crisislab.efg.GameBuilder(["<Alice & Bob>", "P_2", "100% \\ $3"], title='a "quoted" <title>')
    x, y = b.decision(b.root, 0, "first {set}", ["go</text>", "stop & wait"])
    z, w = b.chance(x, ["#1", "~2"], [Fraction(1, 3), Fraction(2, 3)])
    b.terminal(y, [1, 2, 3])
    b.terminal(z, [0.5, -1, Fraction(1, 3)])
    u, v = b.decision(w, 2, "", ["", ""])
    b.terminal(u, [0, 0, 0])
    b.terminal(v, [1, 1, 1])
    game = b.build()
    drawing = draw_tree(game)
    svg = check_drawing(game, drawing)
    texts = {s for _, s, _ in svg.texts()}
    assert {"<Alice & Bob>", "go</text>", "stop & wait", "#1", "~2", "1/3", "2/3", "(0.5, -1, 0.3333)", "1", "2"} <= texts
    tex = drawing.tikz()
    assert _balanced(tex) and r"\textless{}Alice \& Bob\textgreater{}" in tex and r"100\% \textbackslash{} \$3" in tex
    assert r"\#1" in tex and r"\textasciitilde{}2" in tex and "first \\{set\\}" in tex

    one = crisislab.efg.GameBuilder(["solo"])
    one.terminal(one.root, [7])
    lone = one.build()
    check_drawing(lone, draw_tree(lone))
