import numpy as np
import pytest
import torch

from conftest import require_dataset
from ssrec.config import DataConfig
from ssrec.data import load_dataset
from ssrec.evaluation import Evaluator, ranking_metrics
from ssrec.models import LightGCN, MostPop, Recommender


class TrainLover(Recommender):
    """Scores every training item far above everything else: masking must remove them."""

    def __init__(self, data):
        super().__init__(None, data)
        self.register_buffer("seen", torch.tensor(data.train_csr.toarray()))
        self.register_buffer("noise", torch.rand(data.n_users, data.n_items))

    def score(self, users):
        return self.seen[users] * 100.0 + self.noise[users]


def test_training_items_never_in_top_k(planted):
    ev = Evaluator(planted, "test", ks=[5, 10], block_size=7)
    train = planted.train_csr.toarray().astype(bool)
    valid = planted.valid_csr.toarray().astype(bool)
    n_checked = 0
    for _, users, top, _ in ev.ranked_blocks(TrainLover(planted)):
        top = top.numpy()
        assert not train[users[:, None], top].any()
        assert not valid[users[:, None], top].any()  # validation items masked when testing
        n_checked += users.size
    assert n_checked == ev.n_users > 0


def test_evaluator_equals_ranking_metrics_on_its_own_lists(planted):
    torch.manual_seed(0)
    model = LightGCN.build(planted)
    ev = Evaluator(planted, "test", ks=[3, 10], block_size=16)
    rec, rel = [], []
    test = planted.test_csr
    for _, users, top, _ in ev.ranked_blocks(model):
        for u, row in zip(users, top.numpy()):
            rec.append(row.tolist())
            rel.append(set(test[u].indices.tolist()))
    expected = ranking_metrics(rec, rel, ks=[3, 10])
    assert ev.evaluate(model) == pytest.approx(expected, abs=1e-12)


def test_block_size_does_not_change_results(data_dir):
    require_dataset(data_dir, "lastfm")
    data = load_dataset(DataConfig(dataset="lastfm", data_dir=str(data_dir)))
    torch.manual_seed(0)
    model = LightGCN.build(data)
    results = [Evaluator(data, "test", block_size=b).per_user(model) for b in (1, 97, 5000)]
    for other in results[1:]:
        for key in results[0]:
            np.testing.assert_array_equal(results[0][key], other[key])
    pop = MostPop.build(data)
    a = Evaluator(data, "valid", block_size=10).evaluate(pop)
    b = Evaluator(data, "valid", block_size=4096).evaluate(pop)
    assert a == b


class ValidLover(Recommender):
    """Scores each user's validation items first, then everything else at random."""

    def __init__(self, data):
        super().__init__(None, data)
        self.register_buffer("valid", torch.tensor(data.valid_csr.toarray()))
        self.register_buffer("noise", torch.rand(data.n_users, data.n_items))

    def score(self, users):
        return self.valid[users] * 100.0 + self.noise[users]


def test_validation_items_stay_candidates_at_test_when_asked(planted):
    users_with_valid = set(np.flatnonzero(np.diff(planted.valid_csr.indptr) > 0).tolist())
    valid = planted.valid_csr.toarray().astype(bool)
    train = planted.train_csr.toarray().astype(bool)
    kept = Evaluator(planted, "test", ks=[2], mask_valid_in_test=False)
    assert kept.describe()["masked_items"] == "train (validation items stay candidates)"
    for _, users, top, _ in kept.ranked_blocks(ValidLover(planted)):
        for u, row in zip(users, top.numpy()):
            assert not train[u, row].any()
            if u in users_with_valid:  # the validation items come first
                assert valid[u, row[0]]
    masked = Evaluator(planted, "test", ks=[2])
    assert masked.describe()["masked_items"] == "train + valid"
    for _, users, top, _ in masked.ranked_blocks(ValidLover(planted)):
        assert not valid[users[:, None], top.numpy()].any()


def test_lightgcnpp_protocol_keeps_cold_items_as_candidates_and_targets(data_dir):
    """lastfm-lgcnpp: 2,543 of 18,321 test pairs have items never seen in training; with
    data.cold=keep they stay (LightGCN-PyTorch's loader), counted in the report."""
    require_dataset(data_dir, "lastfm-lgcnpp")
    drop = load_dataset(DataConfig(dataset="lastfm-lgcnpp", data_dir=str(data_dir)))
    keep = load_dataset(DataConfig(dataset="lastfm-lgcnpp", data_dir=str(data_dir),
                                   cold="keep"))
    assert (drop.n_items, len(drop.test), len(drop.valid)) == (13973, 15778, 7929)
    assert (keep.n_items, len(keep.test), len(keep.valid)) == (17388, 18321, 9143)
    assert keep.report["cold"]["test"] == {"users": 0, "items": 2382, "interactions": 2543,
                                           "kept": True}
    assert len(keep.train) == len(drop.train) == 64315
    # the raw ids keep their meaning: item "15141" is a test-only item
    assert keep.items.to_raw(np.array([15141]))[0] == "15141"
    assert keep.item_popularity[15141] == 0
