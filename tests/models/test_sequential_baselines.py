"""The simple sequential baselines (Transition, SKNN) against scores worked out by hand."""

import math

import pytest
import torch

from ssrec.config import EvalConfig
from ssrec.data import load_dataset
from ssrec.evaluation import Evaluator
from ssrec.models import SKNN, Transition


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Four users, items a..e, leave-one-out by timestamp (last = test, one before = valid when
    the user has 3+ events); d and e occur only as evaluation items (kept by cold=keep):

    u1: a b c a b  -> train a b c, valid a, test b
    u2: a c d b    -> train a c,   valid d, test b
    u3: b c e      -> train b,     valid c, test e
    u4: c a        -> train c,     no valid, test a
    """
    rows = {"u1": "abcab", "u2": "acdb", "u3": "bce", "u4": "ca"}
    lines = [f"{u}\t{it}\t1\t{t}" for u, s in rows.items() for t, it in enumerate(s)]
    path = tmp_path_factory.mktemp("tiny_seq") / "seq.txt"
    path.write_text("\n".join(lines) + "\n")
    return load_dataset(dataset=str(path), split="loo", dedup=False, cold="keep")


def _scores(model, data, split, raw_user):
    model.on_eval_start(split)
    u = torch.tensor([data.users.index(raw_user)])
    with torch.no_grad():
        s = model.score(u)[0]
    model.on_eval_end()
    return {str(data.items.to_raw(j)): float(s[j]) for j in range(data.n_items)}


# training sequences: u1 a b c, u2 a c, u3 b, u4 c -> transitions a->b, b->c, a->c (once each);
# training popularity a 2, b 2, c 3, d 0, e 0 -> backfill pop / (3 + 1)
POP = {"a": 0.5, "b": 0.5, "c": 0.75, "d": 0.0, "e": 0.0}


def test_transition_scores_by_hand(tiny):
    m = Transition.build(tiny)
    # test input of u1: a b c a (train + valid); last a -> b and c followed a once each
    assert _scores(m, tiny, "test", "u1") == pytest.approx(
        {**POP, "b": 1.5, "c": 1.75}, abs=1e-6)
    # valid input of u3: b; b -> c once
    assert _scores(m, tiny, "valid", "u3") == pytest.approx({**POP, "c": 1.75}, abs=1e-6)
    # test input of u2: a c d; d never precedes anything in training: popularity only
    assert _scores(m, tiny, "test", "u2") == pytest.approx(POP, abs=1e-6)


def test_transition_through_the_evaluator(tiny):
    m = Transition.build(tiny)
    ev = Evaluator(tiny, "test", ks=[1, 3], metrics=["recall"], exclude_seen=False,
                   mask_valid_in_test=False)
    res = ev.evaluate(m)
    # top 1 / top 3 per test user (target): u1 (b) c | c b a -> hit@3; u2 (b, last d):
    # popularity c | c a b -> hit@3; u3 (e, last c): c | c a b -> miss; u4 (a, last c):
    # c | c a b -> hit@3. recall@1 = 0, recall@3 = 3 / 4
    assert res["recall@1"] == pytest.approx(0.0)
    assert res["recall@3"] == pytest.approx(0.75)


def test_sknn_scores_by_hand(tiny):
    # test input of u1 as a set: {a, b, c}. The other training sequences as sets:
    # u2 {a, c}: |∩| 2, sim 2 / sqrt(3 * 2); u3 {b} and u4 {c}: 1 / sqrt(3 * 1) each
    s2, s3 = 2 / math.sqrt(6), 1 / math.sqrt(3)
    # k = 1: only u2 -> a, c get 1 + s2; b, d, e keep the popularity backfill
    m1 = SKNN.build(tiny, SKNN.Config(k=1, query_weights="uniform"))
    assert _scores(m1, tiny, "test", "u1") == pytest.approx(
        {**POP, "a": 1 + s2, "c": 1 + s2}, abs=1e-5)
    # k = 3: u2, u3, u4 -> a: s2, b: s3 (u3), c: s2 + s3 (u2, u4)
    m3 = SKNN.build(tiny, SKNN.Config(k=3, query_weights="uniform"))
    assert _scores(m3, tiny, "test", "u1") == pytest.approx(
        {**POP, "a": 1 + s2, "b": 1 + s3, "c": 1 + s2 + s3}, abs=1e-5)
    # valid input of u3: {b}; u1's training set {a, b, c}: 1 / sqrt(3); u2, u4: 0
    assert _scores(m3, tiny, "valid", "u3") == pytest.approx(
        {**POP, "a": 1 + s3, "b": 1 + s3, "c": 1 + s3}, abs=1e-5)


def test_sknn_linear_query_weights_by_hand(tiny):
    # test input of u1: a b c a (n = 4); latest positions a 4, b 2, c 3 -> weights 1, .5, .75;
    # |H_u1| = 3 distinct items. u2 {a, c}: (1 + .75) / sqrt(3 * 2); u3 {b}: .5 / sqrt(3);
    # u4 {c}: .75 / sqrt(3)
    s2, s3, s4 = 1.75 / math.sqrt(6), 0.5 / math.sqrt(3), 0.75 / math.sqrt(3)
    m = SKNN.build(tiny, SKNN.Config(k=3, query_weights="linear"))
    assert _scores(m, tiny, "test", "u1") == pytest.approx(
        {**POP, "a": 1 + s2, "b": 1 + s3, "c": 1 + s2 + s4}, abs=1e-5)


def test_recommend_reads_the_whole_history(tiny, tmp_path):
    from ssrec.config import load_config
    from ssrec.serving import recommend
    from ssrec.training.run import load_run, run

    src = tmp_path / "seq.txt"
    rows = {"u1": "abcab", "u2": "acdb", "u3": "bce", "u4": "ca"}
    src.write_text("\n".join(f"{u}\t{it}\t1\t{t}" for u, s in rows.items()
                             for t, it in enumerate(s)) + "\n")
    run(load_config(None, ["model.name=Transition", f"data.dataset={src}", "data.cold=keep",
                           "train.progress=false", f"output_dir={tmp_path / 'r'}"]))
    recs = recommend(load_run(tmp_path / "r"), "u1", k=2)
    # u1's whole history a b c a b ends with b: b -> c once (1 + .75), then popularity (.5);
    # the test-time input (a b c a, last a) would give b 1 + .5 second
    assert recs[0] == ("c", pytest.approx(1.75))
    assert recs[1][1] == pytest.approx(0.5)
