import math

import numpy as np
import pytest
import torch

from ssrec.config import EvalConfig
from ssrec.data import load_dataset
from ssrec.evaluation import Evaluator, resolve_exclude_seen
from ssrec.models import Recommender, SASRec


class Fixed(Recommender):
    """Scores from a fixed ``[U, I]`` table."""

    def __init__(self, data, table):
        super().__init__(None, data)
        self.register_buffer("table", torch.tensor(table, dtype=torch.float32))

    def score(self, users):
        return self.table[users]


@pytest.fixture
def tiny(tmp_path):
    # u0: train i0 i1, test i2 -> candidates i3 i4 i5 | i2
    # u1: train i2 i3 i4, test i0 -> candidates i1 i5 (only two exist) | i0
    # u2: train i5 i3, test i1 -> candidates i0 i2 i4 | i1
    d = tmp_path / "tiny"
    d.mkdir()
    (d / "train.txt").write_text("u0 i0\nu0 i1\nu1 i2\nu1 i3\nu1 i4\nu2 i5\nu2 i3\n")
    (d / "test.txt").write_text("u0 i2\nu1 i0\nu2 i1\n")
    return load_dataset(dataset=str(d), valid_ratio=0.0)


SCORES = [[1.0, 1.0, 0.5, 0.9, 0.1, 0.5],   # target i2 ties with negative i5 -> rank 3
          [0.8, 0.2, 0.0, 0.0, 0.0, 0.9],   # target i0 below i5 -> rank 2
          [0.1, 0.7, 0.3, 0.0, 0.2, 0.0]]   # target i1 first -> rank 1


def test_sampled_ranking_metrics_by_hand(tiny):
    assert tiny.items.to_raw(np.arange(6)).tolist() == [f"i{k}" for k in range(6)]
    ev = Evaluator(tiny, "test", ks=[1, 2, 3], metrics=["hit", "ndcg", "mrr"],
                   ranking="sampled", n_negatives=3, seed=0)
    # every item the user never touched is a negative (there are at most 3); -1 = none left
    assert ev.negatives.tolist() == [[3, 4, 5], [-1, 1, 5], [0, 2, 4]]
    got = ev.evaluate(Fixed(tiny, SCORES))
    ranks = [3, 2, 1]
    for k in (1, 2, 3):
        assert got[f"hit@{k}"] == pytest.approx(np.mean([r <= k for r in ranks]))
        assert got[f"ndcg@{k}"] == pytest.approx(
            np.mean([1 / math.log2(r + 1) if r <= k else 0 for r in ranks]))
        assert got[f"mrr@{k}"] == pytest.approx(np.mean([1 / r if r <= k else 0 for r in ranks]))
    assert got["hit@2"] == pytest.approx(2 / 3) and got["ndcg@3"] == pytest.approx(
        (0.5 + 1 / math.log2(3) + 1) / 3)
    # the block size never changes the negatives or the result
    again = Evaluator(tiny, "test", ks=[1, 2, 3], metrics=["hit", "ndcg", "mrr"],
                      ranking="sampled", n_negatives=3, seed=0, block_size=1)
    assert again.evaluate(Fixed(tiny, SCORES)) == got
    desc = ev.describe()
    assert desc["ranking"] == "sampled" and desc["sampled_negatives"]["per_user"] == 3


def test_sampled_negatives_are_distinct_unseen_and_seeded(planted):
    a = Evaluator(planted, "test", ranking="sampled", n_negatives=20, seed=1)
    b = Evaluator(planted, "test", ranking="sampled", n_negatives=20, seed=1)
    c = Evaluator(planted, "test", ranking="sampled", n_negatives=20, seed=2)
    np.testing.assert_array_equal(a.negatives, b.negatives)
    assert not np.array_equal(a.negatives, c.negatives)
    seen = (planted.train_csr + planted.valid_csr + planted.test_csr).toarray() > 0
    for u, row in zip(a.users, a.negatives):
        row = row[row >= 0]
        assert len(set(row.tolist())) == row.size
        assert not seen[u, row].any()


def test_popularity_negatives_follow_popularity(tmp_path):
    d = tmp_path / "pop"
    d.mkdir()
    train = [f"u{u} hot" for u in range(20)]
    train += [f"u{u} c{u % 18}" for u in range(40)] + [f"u{u} d{u % 18}" for u in range(20, 40)]
    (d / "train.txt").write_text("\n".join(train) + "\n")
    (d / "test.txt").write_text("\n".join(f"u{u} c{(u + 1) % 18}" for u in range(20, 40)) + "\n")
    data = load_dataset(dataset=str(d), valid_ratio=0.0)
    hot = data.items.index("hot")
    share = {}
    for kind in ("uniform", "popularity"):
        ev = Evaluator(data, "test", ranking="sampled", n_negatives=3, negatives=kind, seed=0)
        share[kind] = float((ev.negatives == hot).any(1).mean())
    # "hot" has 20 interactions vs 2-3 for the others: uniform draws pick it for ~3/33 users
    assert share["popularity"] > 0.6 > 0.3 > share["uniform"]


def test_exclude_seen_is_explicit_and_defaults_by_family(tiny):
    full_masked = Evaluator(tiny, "test", ks=[1], exclude_seen=True)
    full_open = Evaluator(tiny, "test", ks=[1], exclude_seen=False)
    model = Fixed(tiny, SCORES)
    top_masked = next(full_masked.ranked_blocks(model))[2][:, 0].tolist()
    top_open = next(full_open.ranked_blocks(model))[2][:, 0].tolist()
    assert top_masked[0] == 3 and top_open[0] in (0, 1)  # u0's training items i0, i1
    assert full_open.describe()["masked_items"].startswith("none")
    sampled = Evaluator(tiny, "test", ks=[1], exclude_seen=False, ranking="sampled",
                        n_negatives=2, seed=0)
    assert sampled.describe()["masked_items"].startswith("n/a (sampled ranking")
    assert resolve_exclude_seen(EvalConfig(), SASRec) is False
    assert resolve_exclude_seen(EvalConfig(), Fixed) is True
    assert resolve_exclude_seen(EvalConfig(exclude_seen=True), SASRec) is True
    with pytest.raises(ValueError):
        Evaluator(tiny, "test", ranking="sampled", n_negatives=0)
