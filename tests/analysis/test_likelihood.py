"""The exact likelihood of an observed record (analysis._filter) against independent computations.

- a closed form on a one-round record (mini.yaml, a fixed policy);
- brute force: every hidden path enumerated one at a time, without merging and without lumping
  casualty counts (`_brute` below, written from the rules in docs/scenario-format.md and the
  simulator's order of chance draws), on small horizons, with unobserved actors, uncertain events,
  observed casualties and a hypergame (Iran misperceives the US prior in mini.yaml);
- the unrolled `.efg` of the same scenario: the probability of the same sequence of moves in the
  exact game tree, under the crisis engine's solution evaluated on that tree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crisislab.analysis import observe
from crisislab.analysis._filter import forward, sample_records
from crisislab.analysis._record import NOTHING, Candidate, record_from_moves
from crisislab.data import DataError
from crisislab.model import CasualtyTable, Model, lower
from crisislab.model.rules import MAX_BECOMES_DEPTH, RL_ANSWERED, RL_FAILED, RL_INACTIVE, RL_PENDING
from crisislab.scenario import load_scenario
from crisislab.simulation import FixedPolicy, Node

MINI = Path(__file__).resolve().parents[1] / "simulation" / "mini.yaml"
US_SIGMA = np.array([[0.3, 0.7], [0.8, 0.2]])
IRAN_SIGMA = np.array([[0.4, 0.6], [0.9, 0.1]])


@pytest.fixture(scope="module")
def mini():
    return load_scenario(MINI)


@pytest.fixture(scope="module")
def solved(mini):
    from crisislab.analysis import SolverChoice

    return SolverChoice("crisis", 5)(mini)


def _events(rows: list[tuple]) -> pd.DataFrame:
    """Event table: (round, actor, action[, uncertain[, deaths_us]])."""
    out = []
    for i, row in enumerate(rows):
        d = {"round": row[0], "actor": row[1], "action": row[2], "uncertain": bool(row[3]) if len(row) > 3 else False,
             "line": i + 2}
        d["deaths_us"] = row[4] if len(row) > 4 else pd.NA
        out.append(d)
    df = pd.DataFrame(out)
    df["deaths_us"] = df["deaths_us"].astype("Int64")
    return df


def test_one_round_equals_the_closed_form(mini) -> None:
    pol = FixedPolicy({"US": US_SIGMA, "Iran": IRAN_SIGMA})
    model = lower(mini)
    # Iran attacks (slot 0), KH does nothing (slot 1), US waits (slot 2). The misfire error (p 0.1)
    # makes tension 3 instead of 2; KH idles with 0.5 either way (mini.yaml), so nothing ends.
    rec = observe(model, _events([(1, "Iran", "ir_attack")]), observed=("KH", "US"))
    res = forward(model, pol, rec)
    # Types by their true priors (Iran 0.5/0.5, US 0.6/0.4), the two moves independent given types.
    exact = np.log((0.5 * 0.6 + 0.5 * 0.1) * 0.5 * (0.6 * 0.3 + 0.4 * 0.8))
    assert res.loglik == pytest.approx(exact, abs=1e-12)
    assert res.round_loglik.sum() == pytest.approx(exact, abs=1e-12)
    # The same record with KH not observed: its move is summed over, so only Iran and the US count.
    rec2 = observe(model, _events([(1, "Iran", "ir_attack")]), observed=("US",))
    res2 = forward(model, pol, rec2)
    # KH rockets (0.5), when attributed (0.5), raise tension by one: after a misfire (0.1) to 4,
    # which is war and ends the crisis before the US moves.
    p_war_after_kh = 0.1 * 0.5 * 0.5
    assert res2.loglik == pytest.approx(np.log((0.5 * 0.6 + 0.5 * 0.1) * (1 - p_war_after_kh) * (0.6 * 0.3 + 0.4 * 0.8)), abs=1e-12)
    assert res2.ended[0].sum() == pytest.approx(p_war_after_kh, abs=1e-12)


# --------------------------------------------------------------------------------------------------
# Brute force: one hidden path at a time
# --------------------------------------------------------------------------------------------------


def _brute(model: Model, policy, record) -> tuple[float, float]:
    """(likelihood of the record, probability the model ends it early) by enumerating every path."""
    actors = model.actors
    n_act = len(actors)
    init = model.initial_beliefs
    total = [0.0, 0.0]

    cache: dict = {}

    def strategy(h: int, j: int, r: int, mi: int, state, rls, left, bel) -> np.ndarray:
        key = (h, j, r, mi, state.tobytes(), rls.tobytes(), left.tobytes(), bel.tobytes())
        if key not in cache:
            node = Node(r, mi, state[None, :], rls[None, :], left[None, :], bel[None, :])
            cache[key] = np.asarray(policy.strategy(actors[h], actors[j], node), float)[0]
        return cache[key]

    def execute(g: int, state, depth: int, acc: dict, hit: bool, cand, prob: float, out: list) -> None:
        """All chance outcomes of act g: appends (state, acc, hit, prob, the executed act's `ends`)."""
        act = model.actions[g]
        err_obs = None if cand is None else cand.error
        att_obs = None if cand is None else cand.attributed
        # errors with `becomes`, tried in order; the first that fires replaces the act
        rest = prob
        if depth < MAX_BECOMES_DEPTH:
            for _, err in act.becomes_errors:
                p = err.probability
                if err_obs != "none" and p > 0:
                    sub: list = []
                    execute(err.becomes, state, depth + 1, acc, hit or err.id == err_obs, cand, rest * p, sub)
                    for st, ac, ht, pr, en in sub:
                        st = _eff(model, st, err.effect)
                        tail = [(st, ac, ht, pr, en)]
                        for cas in err.casualties:
                            tail = [x for t in tail for x in _counts(model, cas, t, record)]
                        out.extend(tail)
                if err_obs == err.id:
                    return
                rest *= 1 - p
        outs = []
        if act.attribution is not None:
            if att_obs is not False:
                outs.append((_eff(model, state, act.effect), dict(acc), hit, rest * act.attribution, act.ends))
            if att_obs is not True:
                outs.append((_eff(model, state, act.unattributed), dict(acc), hit, rest * (1 - act.attribution), act.ends))
        else:
            outs.append((_eff(model, state, act.effect), dict(acc), hit, rest, act.ends))
        for _, item in act.other_consequences:
            nxt = []
            for t in outs:
                if isinstance(item, CasualtyTable):
                    nxt.extend(_counts(model, item, t, record))
                    continue
                st, ac, ht, pr, en = t
                if err_obs != "none":
                    fired = [(_eff(model, st, item.effect), dict(ac), ht or item.id == err_obs, pr * item.probability, en)]
                    for cas in item.casualties:
                        fired = [x for f in fired for x in _counts(model, cas, f, record)]
                    nxt.extend(fired)
                if err_obs != item.id:
                    nxt.append((st, dict(ac), ht, pr * (1 - item.probability), en))
            outs = nxt
        out.extend(outs)

    def play(r: int, mi: int, types, state, rls, left, bels, prob: float) -> None:
        if prob == 0.0:
            return
        if r > record.rounds:
            total[0] += prob
            return
        nr, nm = (r, mi + 1) if mi + 1 < len(model.movers) else (r + 1, 0)
        mv = model.movers[mi]
        cands = record.moves[r - 1][mi]
        branches = []  # (global act, probability, beliefs after, rls, left, candidate)
        if mv.strategic >= 0:
            j = mv.strategic
            sig_own = strategy(j, j, r, mi, state, rls, left, bels[j])[types[j]]
            mask = np.array([model.actions[int(g)].available is None or bool(model.actions[int(g)].available(state[None, :], r, rls[None, :])[0])
                             for g in mv.actions])
            p = np.where(mask, sig_own, 0.0)
            if p.sum() <= 0:
                p = np.array([1.0 if model.actions[int(g)].default else 0.0 for g in mv.actions])
            p = p / p.sum()
            options = list(range(mv.actions.size)) if cands is None else [list(mv.actions).index(c.action) for c in cands]
            for k, a in enumerate(options):
                new_bels = []
                for h in range(n_act):
                    b = bels[h].copy()
                    lik = strategy(h, j, r, mi, state, rls, left, bels[h])[:, a]
                    sl = model.belief_slices[j]
                    post = b[sl] * lik
                    if post.sum() > 1e-300:
                        b[sl] = post / post.sum()
                    new_bels.append(b)
                rl2, left2 = rls.copy(), left.copy()
                answers = []  # on_answer effects of the red lines this move answers
                for q, rl in enumerate(model.red_lines):
                    if rl.owner == j and rl2[q] == RL_PENDING:
                        if mv.rungs[a] >= rl.answer_rung:
                            rl2[q] = RL_ANSWERED
                            if rl.on_answer is not None:
                                answers.append(rl.on_answer)
                        else:
                            left2[q] -= 1
                            if left2[q] <= 0:
                                rl2[q] = RL_FAILED
                branches.append((int(mv.actions[a]), p[a], new_bels, rl2, left2, None if cands is None else cands[k], answers))
        else:
            act, pr = NOTHING, 0.0
            for rule in mv.env_rules:
                if rule.when is None or bool(rule.when(state[None, :], r, rls[None, :])[0]):
                    act = rule.action
                    pr = rule.table[state[rule.by] - model.lo[rule.by]] if rule.table is not None else rule.p
                    break
            pr = min(pr, 1.0)
            options = [act, NOTHING] if cands is None else [c.action for c in cands]
            for k, g in enumerate(options):
                q = (1 - pr) if g == NOTHING else (pr if g == act else 0.0)
                branches.append((g, q, bels, rls, left, None if cands is None else cands[k], []))
        for g, q, nb, rl2, left2, cand, answers in branches:
            if q == 0:
                continue
            if g == NOTHING:
                outs = [(state, {}, False, 1.0, -1)]
            else:
                outs = []
                execute(g, state, 0, {}, False, cand, 1.0, outs)
            for st, acc, hit, pc, ends in outs:
                for eff in answers:  # after the act's effects and consequences
                    st = _eff(model, st, eff)
                if cand is not None:
                    obs = dict(cand.casualties)
                    if any(acc.get(c, 0) != n for c, n in obs.items()):
                        continue
                    if cand.error not in (None, "none") and not hit:
                        continue
                rl3, left3 = rl2.copy(), left2.copy()
                for qi, rl in enumerate(model.red_lines):
                    if rl3[qi] == RL_INACTIVE and bool(rl.crossed(st[None, :], r, rl3[None, :])[0]):
                        rl3[qi] = RL_PENDING
                        left3[qi] = rl.deadline
                ended = ends >= 0 or any(c is not None and bool(c(st[None, :], r, rl3[None, :])[0]) for c in model.outcome_conds)
                if ended:
                    total[1] += prob * q * pc
                    continue
                play(nr, nm, types, st, rl3, left3, nb, prob * q * pc)

    for t0 in range(len(model.types[0])):
        for t1 in range(len(model.types[1])):
            types = (t0, t1)
            prior = model.true_prior[0][t0] * model.true_prior[1][t1]
            play(1, 0, types, model.initial.copy(), np.zeros(len(model.red_lines), np.int8),
                 np.zeros(len(model.red_lines), np.int64), [b.copy() for b in init], prior)
    return total[0], total[1]


def _eff(model: Model, state, eff):
    if eff is None:
        return state
    return np.clip(np.where(eff.set_mask, eff.set_value, state + eff.add), model.lo, model.hi)


def _counts(model: Model, cas: CasualtyTable, t, record):
    """Every count of a casualty table (no lumping), when it matters: its side is observed or it feeds a variable."""
    st, acc, ht, pr, *rest = t
    col = record.side_column[cas.side]
    if col < 0 and cas.into < 0:
        return [t]
    pmf = np.diff(cas.cdf, prepend=0.0)
    out = []
    for k in range(pmf.size):
        if pmf[k] <= 0:
            continue
        s2 = st.copy()
        if cas.into >= 0:
            s2[cas.into] = min(s2[cas.into] + k, model.hi[cas.into])
        a2 = dict(acc)
        if col >= 0:
            a2[col] = a2.get(col, 0) + k
        out.append((s2, a2, ht, pr * pmf[k], *rest))
    return out


RECORDS = {
    "all observed": ([(1, "Iran", "ir_attack"), (1, "US", "us_strike"), (2, "KH", "kh_rockets", 0, 1), (2, "US", "us_strike")], {}),
    "KH unobserved": ([(1, "Iran", "ir_attack"), (2, "US", "us_strike")], {"unobserved": ("KH",)}),
    "uncertain events": ([(1, "Iran", "ir_attack", 1), (1, "KH", "kh_rockets", 1, 1), (2, "US", "us_strike"), (3, "KH", "kh_rockets", 0, 0)], {}),
    "US not in the record": ([(1, "Iran", "ir_attack"), (1, "KH", "kh_rockets", 0, 0), (2, "Iran", "ir_attack"), (2, "KH", "kh_rockets", 1, 2)], {}),
}


@pytest.mark.parametrize("name", list(RECORDS))
def test_forward_pass_equals_brute_force(mini, solved, name) -> None:
    rows, opts = RECORDS[name]
    model = lower(mini)
    rec = observe(model, _events(rows), **opts)
    res = forward(model, solved, rec)
    like, ended = _brute(model, solved, rec)
    assert like > 0
    assert res.loglik == pytest.approx(np.log(like), abs=1e-10)
    # The filter's probability of ending early is conditioned on the record up to each move, the
    # brute force's is the joint mass of ending paths; they are zero together.
    assert (res.ended.sum() > 0) == (ended > 0)


ENDGAME = Path(__file__).resolve().parents[1] / "crisis" / "data" / "endgame.yaml"
# endgame.yaml: war as A's choice (a_war), through a_strike's runaway error, as the hazard H and by
# tension; the deal only by B's choice; A's red line answered with on_answer effects.
ENDGAME_RECORDS = {
    # B's strike kills one (red line crossed), A answers in round 2 (on_answer), nobody ends it.
    "all observed": ([(1, "A", "a_calm"), (1, "B", "b_strike", 0, 1), (2, "A", "a_strike"), (2, "P", "p_attack", 0, 0),
                      (2, "B", "b_calm")], {}),
    "P and H unobserved": ([(1, "A", "a_strike"), (1, "B", "b_strike"), (2, "A", "a_calm")], {"unobserved": ("P", "H")}),
    "B unobserved": ([(1, "A", "a_calm"), (2, "A", "a_strike", 1)], {"unobserved": ("B",)}),
}


@pytest.fixture(scope="module")
def endgame():
    return load_scenario(ENDGAME)


@pytest.fixture(scope="module")
def endgame_solved(endgame):
    from crisislab.analysis import SolverChoice

    return SolverChoice("crisis", 5)(endgame)


@pytest.mark.parametrize("name", list(ENDGAME_RECORDS))
def test_forward_pass_with_endings_equals_brute_force(endgame, endgame_solved, name) -> None:
    rows, opts = ENDGAME_RECORDS[name]
    model = lower(endgame)
    events = _events(rows).rename(columns={"deaths_us": "deaths_a"})
    rec = observe(model, events, **opts)
    res = forward(model, endgame_solved, rec)
    like, ended = _brute(model, endgame_solved, rec)
    assert 0 < like < 1
    assert res.loglik == pytest.approx(np.log(like), abs=1e-10)
    assert ended > 0 and res.ended.sum() > 0  # war is possible at every move of these records


def test_the_brute_force_sees_the_new_rules(endgame, endgame_solved) -> None:
    # The comparison above can fail: without `ends`, or without on_answer, the brute force and the
    # forward pass give other likelihoods for records where they matter (ratios far from 1).
    from dataclasses import replace

    model = lower(endgame)
    rec = observe(model, _events(ENDGAME_RECORDS["P and H unobserved"][0]), unobserved=("P", "H"))
    like = _brute(model, endgame_solved, rec)[0]
    no_ends = replace(model, actions=tuple(replace(a, ends=-1) for a in model.actions))
    assert abs(np.log(_brute(no_ends, endgame_solved, rec)[0] / like)) > 0.1
    assert abs(forward(no_ends, endgame_solved, rec).loglik - np.log(like)) > 0.1
    rows = ENDGAME_RECORDS["all observed"][0]
    rec = observe(model, _events(rows).rename(columns={"deaths_us": "deaths_a"}))
    like = _brute(model, endgame_solved, rec)[0]
    no_answer = replace(model, red_lines=tuple(replace(r, on_answer=None) for r in model.red_lines))
    assert abs(np.log(_brute(no_answer, endgame_solved, rec)[0] / like)) > 0.1
    assert abs(forward(no_answer, endgame_solved, rec).loglik - np.log(like)) > 0.1


def test_merging_beliefs_changes_the_likelihood_little(mini, solved) -> None:
    model = lower(mini)
    rec = observe(model, _events(RECORDS["KH unobserved"][0]), unobserved=("KH",))
    exact = forward(model, solved, rec).loglik
    merged = forward(model, solved, rec, belief_tol=0.01).loglik
    assert merged == pytest.approx(exact, abs=1e-4)


def test_a_record_the_model_rules_out_says_where(mini) -> None:
    # mini.yaml's KH only fires at tension >= 1 (table) or >= 2: a forced calm at tension 0 from
    # round 2 ends the game; a fixed policy that never calms and a record of rockets at tension 0
    # would be impossible. Here: the US never strikes in this policy, yet the record says it did.
    pol = FixedPolicy({"US": np.array([[1.0, 0.0], [1.0, 0.0]]), "Iran": IRAN_SIGMA})
    model = lower(mini)
    rec = observe(model, _events([(2, "US", "us_strike")]))
    res = forward(model, pol, rec)
    assert res.loglik == -np.inf
    assert res.impossible is not None and res.impossible[0] == 2 and res.impossible[2] == (2,)


def test_a_repeated_one_time_step_is_read_as_the_next_move() -> None:
    """crisis-bargaining-2type.yaml's public demand can be made once (available while demand = 0,
    which it sets to 1). A record that shows C demanding again in round 2 is read, by the rule for
    repeated one-time steps, as C's next move down that round, its default (wait): so its
    likelihood is that of the record that says C waited, and the reading is listed. A move the
    state does not offer that is not a repeat (D conceding before any demand) still rules the
    record out."""
    sc = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "crisis-bargaining-2type.yaml")
    model = lower(sc)
    pol = FixedPolicy({"C": np.array([[0.4, 0.3, 0.2, 0.1], [0.5, 0.3, 0.1, 0.1]]),
                       "D": np.array([[0.2, 0.5, 0.3], [0.4, 0.4, 0.2]])})
    ids = [a.id for a in model.actions]
    repeat = forward(model, pol, observe(model, _events([(1, "C", "c_demand"), (2, "C", "c_demand")])))
    waited = forward(model, pol, observe(model, _events([(1, "C", "c_demand"), (2, "C", "c_wait")])))
    assert np.isfinite(repeat.loglik)
    assert repeat.loglik == pytest.approx(waited.loglik, abs=1e-12)
    c = [m.id for m in model.movers].index("C")
    assert repeat.reread == ((2, c, (3,), ids.index("c_demand"), ids.index("c_wait")),)
    assert waited.reread == ()
    assert forward(model, pol, observe(model, _events([(1, "D", "d_concede")]))).loglik == -np.inf


def test_sampled_records_follow_the_model(mini, solved) -> None:
    """Simulated records of R rounds (runs that end earlier are discarded): the share in which Iran
    attacks in round 1 is P(attack, no end in R rounds) / P(no end in R rounds), two exact
    likelihoods of the forward pass; within 4 binomial standard errors (seeded, so a fixed outcome)."""
    model = lower(mini)
    template = observe(model, _events([(1, "Iran", "ir_attack"), (2, "US", "us_wait")]))
    recs, drawn = sample_records(model, solved, template, 600, np.random.default_rng(5))
    assert len(recs) == 600 and drawn >= 600
    assert all(r.rounds == template.rounds for r in recs)
    iran, attack = 0, model.action_index("ir_attack")
    nobody = [[None] * 3] * template.rounds
    attacked = [list(row) for row in nobody]
    attacked[0][iran] = (Candidate(attack),)
    p = np.exp(forward(model, solved, record_from_moves(model, attacked)).loglik - forward(model, solved, record_from_moves(model, nobody)).loglik)
    freq = np.mean([r.moves[0][iran][0].action == attack for r in recs])
    assert 0.05 < p < 0.95
    assert abs(freq - p) < 4 * np.sqrt(p * (1 - p) / len(recs))


def test_several_events_of_one_mover_in_a_round_are_its_highest_rung(mini) -> None:
    model = lower(mini)
    rec = observe(model, _events([(2, "US", "us_wait"), (2, "US", "us_strike"), (3, "Iran", "ir_attack")]))
    us = [m.id for m in model.movers].index("US")
    assert [c.action for c in rec.moves[1][us]] == [model.action_index("us_strike")]
    assert rec.moves[1][us][0].lines == (2, 3)
    # No event of an observed strategic actor: its default move; of an unobserved one: None.
    assert [c.action for c in rec.moves[0][us]] == [model.action_index("us_wait")]
    kh = [m.id for m in model.movers].index("KH")
    assert rec.moves[0][kh] is None


def test_record_errors_name_the_line(mini) -> None:
    model = lower(mini)
    with pytest.raises(DataError) as exc:
        observe(model, _events([(1, "US", "ir_attack"), (2, "Nobody", "us_wait")]))
    text = str(exc.value)
    assert ":2: action" in text and "not an action of US" in text
    assert ":3: actor" in text and "'Nobody'" in text


# --------------------------------------------------------------------------------------------------
# The unrolled game tree: the exact engine's logit profile at the same λ
# --------------------------------------------------------------------------------------------------


class _TreePolicy:
    """The exact engine's behaviour profile on the unrolled tree, as a simulator `Policy`: each
    (decision, public state, public belief) the tree reaches, with beliefs updated along each public
    history by Bayes' rule with this same profile, maps to the profile at that information set."""

    def __init__(self, cg, unrolled, profile: np.ndarray):
        self.cg = cg
        self.table: dict = {}
        game = unrolled.game
        where = {lab: i for i, lab in enumerate(game.infoset_labels)}
        model = cg.model
        n = model.n_actors

        def sigma(d: int, s: int, hist: str) -> np.ndarray:
            m = int(cg.dec_mover[d])
            av = np.nonzero(cg.avail[d][s])[0]
            A = cg.avail[d].shape[1]
            out = np.zeros((len(model.types[m]), A))
            for th in range(len(model.types[m])):
                if av.size > 1:
                    i = where[f"{model.actors[m]}:{model.types[m][th]}|{hist}"]
                    off = int(game.action_offset[i])
                    out[th, av] = profile[off: off + av.size]
                else:
                    out[th, av] = 1.0
            return out

        def walk(d: int, s: int, hist: str, x: np.ndarray) -> None:
            if d >= cg.n_decisions:
                return
            sig = sigma(d, s, hist)
            key = (d, s, tuple(np.round(x, 12)))
            assert key not in self.table or np.allclose(self.table[key], sig, atol=1e-12), "two histories, one node"
            self.table[key] = sig
            m = int(cg.dec_mover[d])
            A = cg.avail[d].shape[1]
            for a in np.nonzero(cg.avail[d][s])[0]:
                x2 = x.copy()
                den = x[m] * sig[0, a] + (1 - x[m]) * sig[1, a]
                if den > 0:
                    x2[m] = x[m] * sig[0, a] / den
                r = s * A + int(a)
                aid = model.actions[model.ladder(m)[int(a)]].id
                for j in range(int(cg.row_ptr[d][r]), int(cg.row_ptr[d][r + 1])):
                    nx = int(cg.nxt[d][j])
                    if nx >= 0:
                        walk(d + 1, nx, f"{hist}{aid}>{nx};", x2)

        x0 = np.array([p[0] for p in model.true_prior])
        for k in range(cg.init_nxt.shape[0]):
            walk(0, int(cg.init_nxt[k]), f"s{int(cg.init_nxt[k])};", x0.copy())
        self.first = [sl.start for sl in model.belief_slices]
        assert n == 2

    def same_game(self, a: str, b: str) -> bool:
        return True

    def strategy(self, game: str, mover: str, node: Node) -> np.ndarray:
        cg = self.cg
        d = cg.decision_index(node.round, node.move)
        cols = np.concatenate([node.state, node.rl_status.astype(np.int64), node.rl_left], axis=1)
        s = cg.lookup(d, cols)
        x = node.beliefs[:, self.first]
        out = []
        for i in range(cols.shape[0]):
            key = (d, int(s[i]), tuple(np.round(x[i], 12)))
            assert key in self.table, f"the forward pass reached a node the tree does not have: {key}"
            out.append(self.table[key])
        return np.array(out)


def _tree_likelihood(cg, unrolled, profile: np.ndarray, actions: list[str]) -> float:
    """P(the strategic moves `actions`, in play order, and no outcome before the horizon) in the
    unrolled tree: chance (types, consequences, environment moves) summed over."""
    game = unrolled.game
    where = {lab: i for i, lab in enumerate(game.infoset_labels)}
    model = cg.model
    horizon_outcome = model.outcomes[model.horizon_outcome]

    def play(d: int, s: int, hist: str, types: tuple) -> float:
        m = int(cg.dec_mover[d])
        A = cg.avail[d].shape[1]
        av = list(np.nonzero(cg.avail[d][s])[0])
        ladder = [model.actions[g].id for g in model.ladder(m)]
        a = ladder.index(actions[d])
        if a not in av:
            return 0.0
        p = 1.0
        if len(av) > 1:
            i = where[f"{model.actors[m]}:{model.types[m][types[m]]}|{hist}"]
            p = profile[int(game.action_offset[i]) + av.index(a)]
        r = s * A + a
        total = 0.0
        for j in range(int(cg.row_ptr[d][r]), int(cg.row_ptr[d][r + 1])):
            nx = int(cg.nxt[d][j])
            q = float(cg.prob[d][j])
            if nx < 0:
                total += q if (d == cg.n_decisions - 1 and cg.outcomes[-1 - nx] == horizon_outcome) else 0.0
            elif d + 1 < cg.n_decisions:
                total += q * play(d + 1, nx, f"{hist}{actions[d]}>{nx};", types)
            else:
                total += q
        return p * total

    like = 0.0
    for t0 in range(len(model.types[0])):
        for t1 in range(len(model.types[1])):
            prior = model.true_prior[0][t0] * model.true_prior[1][t1]
            for k in range(cg.init_nxt.shape[0]):
                s0 = int(cg.init_nxt[k])
                like += prior * float(cg.init_prob[k]) * play(0, s0, f"s{s0};", (t0, t1))
    return like


def test_forward_pass_equals_the_unrolled_game_under_the_exact_logit_profile(mini) -> None:
    from crisislab.crisis import compile_scenario, unroll_scenario
    from crisislab.efg import logit_qre_at
    from crisislab.scenario import Scenario

    data = mini.to_data()
    data.pop("perceptions", None)
    data.pop("claims", None)
    scn = Scenario.from_data(data, "<mini without perceptions>")
    H = 2
    cg = compile_scenario(scn, H)
    un = unroll_scenario(scn, H)
    qre = logit_qre_at(un.game, 2.0)  # both actors' λ in mini.yaml
    pol = _TreePolicy(cg, un, qre.profile)
    model = lower(scn).with_horizon(H)
    order = [m.id for m in model.movers]  # Iran, KH, US
    for seq in (["ir_attack", "us_wait", "ir_calm", "us_strike"], ["ir_calm", "us_strike", "ir_attack", "us_wait"]):
        moves = []
        for r in range(H):
            row = [None] * len(order)
            row[order.index("Iran")] = (Candidate(model.action_index(seq[2 * r])),)
            row[order.index("US")] = (Candidate(model.action_index(seq[2 * r + 1])),)
            moves.append(row)
        rec = record_from_moves(model, moves)
        got = forward(model, pol, rec).loglik
        want = np.log(_tree_likelihood(cg, un, qre.profile, seq))
        assert -20 < want < -0.5  # a real path, neither certain nor impossible
        assert got == pytest.approx(want, abs=1e-10)


def test_sampled_records_end_where_an_action_ends_the_crisis(endgame, endgame_solved) -> None:
    """Records sampled with `keep_ended` from endgame.yaml: a record that ends in the deal ends at
    B's move and B's act there is b_deal (the deal has no condition: only that act reaches it); each
    ended record is possible under the forward pass, which gives its end that outcome."""
    model = lower(endgame)
    template = observe(model, _events([(1, "A", "a_calm")]), observed=("A", "B"))
    recs, _ = sample_records(model, endgame_solved, template, 300, np.random.default_rng(1), keep_ended=True)
    deal, b = model.outcomes.index("deal"), [m.id for m in model.movers].index("B")
    ended_deal = [r for r in recs if r.end is not None and r.end[2] == deal]
    assert len(ended_deal) > 5
    for r in ended_deal:
        rnd, mi, _ = r.end
        assert mi == b and r.moves[rnd - 1][mi][0].action == model.action_index("b_deal")
    for r in ended_deal[:5]:
        assert np.isfinite(forward(model, endgame_solved, r).loglik)
