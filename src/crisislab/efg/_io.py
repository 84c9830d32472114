"""Read and write Gambit's extensive-form file format (`.efg`, `EFG 2 R`).

The format: a header `EFG 2 R "title" { "Player 1" "Player 2" }` and an optional comment string,
then one line per node in preorder: `p "name" player infoset ["infoset name" [{ "action" ... }]]
outcome ["outcome name" { payoff, ... }]` for a player's move, `c "name" infoset ["name"
[{ "action" prob ... }]] outcome [...]` for chance, `t "name" outcome [...]` for a terminal node.
Numbers may be integers, rationals (`1/3`) or decimals (`0.25`); Gambit sums outcomes attached to
interior nodes along the path. Quoted strings escape `"` and `\\` with a backslash. An infoset or
outcome is declared (actions / payoffs) at its first use and may be referred to by number later.

Reading keeps the exact text of numbers and all labels, so `parse_efg(to_efg(g)) == g`. Every
malformed file raises `EfgFormatError` with a `FILE:LINE: message` naming the bad token and what was
expected.

Limits (each a located error): a file of at most `MAX_EFG_BYTES` and `MAX_EFG_TOKENS` tokens (the
tokens are held in memory, about 100 bytes each); at most `MAX_EFG_CELLS` nodes × players and
outcome numbers × players (the game holds several arrays of that shape); information set numbers that fit the int32
arrays they are stored in; outcome numbers up to `MAX_OUTCOME_NUMBER` (outcomes are stored densely,
one per number up to the largest); numbers of at most `MAX_NUMBER_CHARS` characters, exponents of
at most three digits (a rational is exact: `1e999999999` would be a billion-digit integer), and
magnitudes up to `MAX_EFG_VALUE`, far beyond any payoff and small enough that the payoff range the
solvers rescale by stays finite (payoffs of ±1e308 overflow it to inf).
"""

from __future__ import annotations

import bisect
import re
from fractions import Fraction
from pathlib import Path

import numpy as np

from crisislab.efg._game import CHANCE, PLAYER, TERMINAL, Game, assemble_game
from crisislab.errors import EfgFormatError

MAX_EFG_BYTES = 8 << 20
MAX_EFG_TOKENS = 2_000_000  # about 400,000 nodes and 200 MB of tokens
MAX_INFOSET_NUMBER = 2**31 - 1  # int32
MAX_OUTCOME_NUMBER = 1_000_000
MAX_NUMBER_CHARS = 200
MAX_EFG_VALUE = 1e12
MAX_EFG_CELLS = 10_000_000  # nodes × players and outcomes × players: the game's per-node arrays

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d{1,3})?(/\d+)?\Z")
_TOKEN = re.compile(r'\s+|"((?:[^"\\]|\\.)*)"|([{},])|([^\s{},"]+)|(")', re.S)
_INT = re.compile(r"\d+\Z")
_STR, _SYM, _WORD = 1, 2, 3


def _unescape(s: str) -> str:
    # Gambit: \" is a quote, \\ a backslash; any other backslash is kept as written.
    return re.sub(r'\\(["\\])', r"\1", s)


def _show(x: Fraction) -> str:
    """A rational for a message: exact when short (str of an int over 4,300 digits raises)."""
    return str(x) if max(abs(x.numerator), x.denominator) < 10**30 else f"{float(x):.12g}"


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


class _Tokens:
    """Token stream with line numbers for error messages."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        toks: list[tuple[int, str, int]] = []
        for m in _TOKEN.finditer(text):
            if len(toks) > MAX_EFG_TOKENS:
                raise self.error_at(m.start(), f"too many tokens: at most {MAX_EFG_TOKENS:,} (names, numbers "
                                    "and braces) are read from an .efg file")
            if m.group(1) is not None:
                toks.append((_STR, _unescape(m.group(1)), m.start()))
            elif m.group(2) is not None:
                toks.append((_SYM, m.group(2), m.start()))
            elif m.group(3) is not None:
                toks.append((_WORD, m.group(3), m.start()))
            elif m.group(4) is not None:
                self.pos = m.start()
                raise self.error_at(m.start(), "unterminated quoted string (missing closing \")")
        self.toks = toks
        self.i = 0
        self.end = len(text)

    def line_of(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def error_at(self, pos: int, msg: str) -> EfgFormatError:
        return EfgFormatError(f"{self.source}:{self.line_of(pos)}: {msg}")

    def error(self, msg: str) -> EfgFormatError:
        pos = self.toks[self.i][2] if self.i < len(self.toks) else self.end
        return self.error_at(pos, msg)

    def peek(self) -> tuple[int, str, int] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def describe(self) -> str:
        t = self.peek()
        if t is None:
            return "the end of the file"
        text = t[1] if len(t[1]) <= 60 else t[1][:57] + "..."
        # one line, whatever the token holds (a quoted string may span lines)
        return '"' + text.replace("\n", "\\n").replace("\r", "\\r") + '"' if t[0] == _STR else repr(text)

    def next(self, kind: int, what: str) -> str:
        t = self.peek()
        if t is None or t[0] != kind:
            raise self.error(f"expected {what}, found {self.describe()}")
        self.i += 1
        return t[1]

    def string(self, what: str) -> str:
        return self.next(_STR, f"{what} (a quoted string)")

    def sym(self, s: str, what: str) -> None:
        t = self.peek()
        if t is None or t[0] != _SYM or t[1] != s:
            raise self.error(f"expected '{s}' {what}, found {self.describe()}")
        self.i += 1

    def is_sym(self, s: str) -> bool:
        t = self.peek()
        return t is not None and t[0] == _SYM and t[1] == s

    def is_str(self) -> bool:
        t = self.peek()
        return t is not None and t[0] == _STR

    def integer(self, what: str, limit: int) -> int:
        t = self.peek()
        if t is None or t[0] != _WORD or not _INT.match(t[1]):
            raise self.error(f"expected {what} (a non-negative integer), found {self.describe()}")
        digits = t[1].lstrip("0")
        if len(digits) > len(str(limit)) or int(digits or "0") > limit:
            text = t[1] if len(t[1]) <= 30 else f"an integer of {len(t[1]):,} digits"
            raise self.error(f"expected {what} of at most {limit:,}, found {text}")
        self.i += 1
        return int(digits or "0")  # int() refuses 4,300 digits, leading zeros too

    def number(self, what: str) -> tuple[str, Fraction]:
        t = self.peek()
        if t is None or t[0] != _WORD:
            raise self.error(f"expected {what} (a number such as 3, -1/2 or 0.25), found {self.describe()}")
        text = t[1] if len(t[1]) <= 40 else t[1][:37] + "..."
        if len(t[1]) > MAX_NUMBER_CHARS or not _NUMBER.match(t[1]):
            raise self.error(
                f"expected {what} (a number such as 3, -1/2 or 0.25, at most {MAX_NUMBER_CHARS} characters "
                f"with an exponent of at most 3 digits), found {text!r}"
            )
        try:
            value = Fraction(t[1])
        except (ValueError, ZeroDivisionError):
            raise self.error(
                f"expected {what} (a number such as 3, -1/2 or 0.25), found {text!r}"
            ) from None
        if abs(value) > MAX_EFG_VALUE:
            raise self.error(f"expected {what} within ±{MAX_EFG_VALUE:.0e}, found {text}")
        self.i += 1
        return t[1], value


def read_efg(path: str | Path) -> Game:
    """Read a Gambit `.efg` file into a `Game`; malformed files raise `EfgFormatError` (FILE:LINE)."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_EFG_BYTES + 1)
        if len(raw) > MAX_EFG_BYTES:
            raise EfgFormatError(f"{p}:1: file too large: at most {MAX_EFG_BYTES:,} bytes are read from an .efg file")
        text = raw.decode("utf-8")
    except EfgFormatError:
        raise
    except FileNotFoundError:
        raise EfgFormatError(f"{p}: no such file") from None
    except UnicodeDecodeError as exc:
        raise EfgFormatError(f"{p}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise EfgFormatError(f"{p}: cannot read the file ({exc.strerror or exc})") from None
    except ValueError as exc:  # e.g. a NUL character in the path
        raise EfgFormatError(f"{p}: cannot open the file ({exc})") from None
    return parse_efg(text, source=str(p))


def parse_efg(text: str, source: str = "<string>") -> Game:
    """Parse `.efg` text (see the module docstring); `source` names the file in error messages."""
    if len(text) > MAX_EFG_BYTES:
        raise EfgFormatError(f"{source}:1: file too large: at most {MAX_EFG_BYTES:,} bytes are read from an .efg file")
    tk = _Tokens(text, source)
    # ---- header
    if tk.next(_WORD, "'EFG' at the start of an .efg file") != "EFG":
        tk.i -= 1
        raise tk.error(f"expected 'EFG' at the start of an .efg file, found {tk.describe()}")
    version = tk.next(_WORD, "the format version 2")
    if version != "2":
        tk.i -= 1
        raise tk.error(f"expected the format version 2, found {tk.describe()}")
    rd = tk.next(_WORD, "'R' (rational) or 'D' (decimal)")
    if rd not in ("R", "D"):
        tk.i -= 1
        raise tk.error(f"expected 'R' (rational) or 'D' (decimal), found {tk.describe()}")
    title = tk.string("the game's title")
    tk.sym("{", "to open the list of player names")
    players: list[str] = []
    while tk.is_str():
        players.append(tk.string("a player name"))
    tk.sym("}", "to close the list of player names")
    if not players:
        raise tk.error("the game must have at least one player")
    comment = tk.string("") if tk.is_str() else ""
    n_players = len(players)

    parent: list[int] = []
    kind: list[int] = []
    player: list[int] = []
    infoset: list[int] = []
    action: list[int] = []
    chance_inf: list[int] = []
    node_outcome: list[int] = []
    labels: list[str] = []
    inf_index: dict[tuple[int, int], int] = {}
    inf_player: list[int] = []
    inf_number: list[int] = []
    inf_labels: list[str] = []
    act_labels: list[tuple[str, ...]] = []
    ch_index: dict[int, int] = {}
    ch_number: list[int] = []
    ch_labels: list[str] = []
    ch_actions: list[tuple[str, ...]] = []
    ch_probs: list[tuple[str, ...]] = []
    outcomes: dict[int, tuple[str, tuple[str, ...], tuple[Fraction, ...]]] = {}
    stack: list[list[int]] = []  # [node, n_children, next_child]
    node_pos: list[int] = []  # where each node starts, for errors about the node

    def read_outcome() -> int:
        num = tk.integer("an outcome number (0 for none)", MAX_OUTCOME_NUMBER)
        if num == 0:
            return 0
        if num * n_players > MAX_EFG_CELLS:
            tk.i -= 1
            raise tk.error(f"outcome number {num:,} with {n_players:,} players: at most {MAX_EFG_CELLS:,} "
                           "outcome numbers × players (outcomes are stored densely up to the largest number)")
        if tk.is_str():
            start = tk.i
            name = tk.string("the outcome name")
            tk.sym("{", "to open the outcome's payoffs")
            texts: list[str] = []
            values: list[Fraction] = []
            while not tk.is_sym("}"):
                if tk.peek() is None:
                    raise tk.error("expected '}' to close the outcome's payoffs, found the end of the file")
                t, v = tk.number(f"a payoff of outcome {num}")
                texts.append(t)
                values.append(v)
                if tk.is_sym(","):
                    tk.i += 1
            tk.sym("}", "to close the outcome's payoffs")
            if len(texts) != n_players:
                tk.i = start
                raise tk.error(
                    f"outcome {num} has {len(texts)} payoffs, expected {n_players} (one per player)"
                )
            prev = outcomes.get(num)
            if prev is None:
                outcomes[num] = (name, tuple(texts), tuple(values))
            elif prev[2] != tuple(values) or prev[0] != name:
                tk.i = start
                raise tk.error(
                    f"outcome {num} was defined earlier as {prev[0]!r} {list(prev[1])}, "
                    f"here as {name!r} {texts}: one number, one outcome"
                )
        elif num not in outcomes:
            tk.i -= 1
            raise tk.error(f"outcome {num} is used before it is defined (give its name and payoffs)")
        return num

    while True:
        t = tk.peek()
        if t is None:
            break
        if not stack and parent:
            raise tk.error(f"unexpected {tk.describe()} after the last node of the tree")
        if t[0] != _WORD or t[1] not in ("p", "c", "t"):
            raise tk.error(f"expected a node ('p', 'c' or 't'), found {tk.describe()}")
        node = len(parent)
        if (node + 1) * n_players > MAX_EFG_CELLS:
            raise tk.error(f"too many nodes for {n_players:,} players: at most {MAX_EFG_CELLS:,} nodes × players")
        tk.i += 1
        node_pos.append(t[2])
        if stack:
            top = stack[-1]
            parent.append(top[0])
            action.append(top[2])
            top[2] += 1
            if top[2] == top[1]:
                stack.pop()
        else:
            parent.append(-1)
            action.append(-1)
        labels.append(tk.string("the node's name"))
        if t[1] == "t":
            kind.append(TERMINAL)
            player.append(-1)
            infoset.append(-1)
            chance_inf.append(-1)
            node_outcome.append(read_outcome())
            continue
        if t[1] == "p":
            pl = tk.integer("the player number", MAX_INFOSET_NUMBER)
            if not 1 <= pl <= n_players:
                tk.i -= 1
                raise tk.error(f"player number {pl} is out of range; expected 1..{n_players}")
            num = tk.integer("the information set number", MAX_INFOSET_NUMBER)
            key = (pl - 1, num)
            name, acts = "", None
            if tk.is_str():
                name = tk.string("the information set name")
                if tk.is_sym("{"):
                    tk.i += 1
                    a: list[str] = []
                    while tk.is_str():
                        a.append(tk.string("an action name"))
                    tk.sym("}", "to close the list of actions (action names are quoted strings)")
                    acts = tuple(a)
            if key not in inf_index:
                if not acts:
                    raise tk.error(
                        f"information set {num} of player {pl} first appears without its actions; "
                        'expected "name" { "action" ... }'
                    )
                inf_index[key] = len(inf_player)
                inf_player.append(pl - 1)
                inf_number.append(num)
                inf_labels.append(name)
                act_labels.append(acts)
            elif acts is not None and acts != act_labels[inf_index[key]]:
                raise tk.error(
                    f"information set {num} of player {pl} was declared with actions "
                    f"{list(act_labels[inf_index[key]])}, here {list(acts)}"
                )
            kind.append(PLAYER)
            player.append(pl - 1)
            infoset.append(inf_index[key])
            chance_inf.append(-1)
            n_kids = len(act_labels[inf_index[key]])
        else:
            num = tk.integer("the chance information set number", MAX_INFOSET_NUMBER)
            name, acts, probs = "", None, None
            if tk.is_str():
                name = tk.string("the information set name")
                if tk.is_sym("{"):
                    tk.i += 1
                    a, pr, vals = [], [], []
                    while tk.is_str():
                        a.append(tk.string("an action name"))
                        ptxt, pval = tk.number(f"the probability of chance action {a[-1]!r}")
                        if pval < 0:
                            tk.i -= 1
                            raise tk.error(f"chance probability {ptxt} of action {a[-1]!r} is negative")
                        pr.append(ptxt)
                        vals.append(pval)
                    tk.sym("}", "to close the list of chance actions")
                    if abs(float(sum(vals)) - 1.0) > 1e-9:
                        raise tk.error(
                            f"chance probabilities {pr} of information set {num} sum to {_show(sum(vals))}, expected 1"
                        )
                    acts, probs = tuple(a), tuple(pr)
            if num not in ch_index:
                if not acts:
                    raise tk.error(
                        f"chance information set {num} first appears without its actions; "
                        'expected "name" { "action" probability ... }'
                    )
                ch_index[num] = len(ch_number)
                ch_number.append(num)
                ch_labels.append(name)
                ch_actions.append(acts)
                ch_probs.append(probs)
            elif acts is not None and (acts, probs) != (ch_actions[ch_index[num]], ch_probs[ch_index[num]]):
                raise tk.error(
                    f"chance information set {num} was declared with actions {list(ch_actions[ch_index[num]])} "
                    f"and probabilities {list(ch_probs[ch_index[num]])}, here {list(acts)} {list(probs)}"
                )
            kind.append(CHANCE)
            player.append(-1)
            infoset.append(-1)
            chance_inf.append(ch_index[num])
            n_kids = len(ch_actions[ch_index[num]])
        node_outcome.append(read_outcome())
        stack.append([node, n_kids, 0])

    if not parent:
        raise tk.error("the file has no nodes; expected the root node ('p', 'c' or 't')")
    if stack:
        nd, k, done = stack[-1]
        raise tk.error_at(
            node_pos[nd], f"the file ends before all {k} children of this node are given ({done} found)"
        )

    n_out = max(outcomes, default=0)
    zero = ("0",) * n_players
    out_names = tuple(outcomes[k][0] if k in outcomes else "" for k in range(1, n_out + 1))
    out_text = tuple(outcomes[k][1] if k in outcomes else zero for k in range(1, n_out + 1))
    return assemble_game(
        title=title,
        comment=comment,
        players=tuple(players),
        parent=np.array(parent, np.int64),
        kind=np.array(kind, np.int8),
        player=np.array(player, np.int32),
        infoset=np.array(infoset, np.int32),
        action=np.array(action, np.int32),
        infoset_player=np.array(inf_player, np.int32),
        infoset_number=np.array(inf_number, np.int32),
        infoset_labels=tuple(inf_labels),
        action_labels=tuple(act_labels),
        chance_infoset=np.array(chance_inf, np.int32),
        chance_infoset_number=np.array(ch_number, np.int32),
        chance_infoset_label=tuple(ch_labels),
        chance_action_labels=tuple(ch_actions),
        chance_prob_text=tuple(ch_probs),
        node_label=tuple(labels),
        node_outcome=np.array(node_outcome, np.int32),
        outcome_names=out_names,
        outcome_payoff_text=out_text,
    )


def to_efg(game: Game) -> str:
    """The game as `.efg` text (Gambit's layout: infosets and outcomes spelled out at every use)."""
    q = lambda s: f'"{_escape(s)}"'  # noqa: E731
    lines = [f"EFG 2 R {q(game.title)} {{ {' '.join(q(p) for p in game.players)} }}", q(game.comment), ""]

    def outcome(k: int) -> str:
        if k == 0:
            return "0"
        return f"{k} {q(game.outcome_names[k - 1])} {{ {', '.join(game.outcome_payoff_text[k - 1])} }}"

    kind, lab, out = game.kind, game.node_label, game.node_outcome
    for i in range(game.n_nodes):
        k = int(kind[i])
        if k == TERMINAL:
            lines.append(f"t {q(lab[i])} {outcome(int(out[i]))}")
        elif k == PLAYER:
            s = int(game.infoset[i])
            acts = " ".join(q(a) for a in game.action_labels[s])
            lines.append(
                f"p {q(lab[i])} {int(game.infoset_player[s]) + 1} {int(game.infoset_number[s])} "
                f"{q(game.infoset_labels[s])} {{ {acts} }} {outcome(int(out[i]))}"
            )
        else:
            c = int(game.chance_infoset[i])
            acts = " ".join(f"{q(a)} {p}" for a, p in zip(game.chance_action_labels[c], game.chance_prob_text[c]))
            lines.append(
                f"c {q(lab[i])} {int(game.chance_infoset_number[c])} {q(game.chance_infoset_label[c])} "
                f"{{ {acts} }} {outcome(int(out[i]))}"
            )
    return "\n".join(lines) + "\n"


def write_efg(game: Game, path: str | Path) -> None:
    """Write the game to `path` in Gambit's `.efg` format."""
    Path(path).write_text(to_efg(game), encoding="utf-8")
