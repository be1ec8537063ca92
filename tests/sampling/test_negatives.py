import numpy as np
import pytest
import scipy.sparse as sp

from conftest import require_dataset
from ssrec.config import DataConfig
from ssrec.data import load_dataset
from ssrec.errors import DataError
from ssrec.sampling import NegativeSampler, PairwiseSampler


def test_never_a_positive_even_for_dense_users():
    m = sp.csr_matrix(np.array([[1, 1, 1, 1, 0], [0, 1, 0, 0, 0], [1, 0, 1, 0, 1]],
                               dtype=np.float32))
    s = NegativeSampler(m)
    users = np.repeat(np.arange(3), 2000)
    neg = s.sample(users, 3, np.random.default_rng(0))
    assert neg.shape == (6000, 3)
    assert (neg[users == 0] == 4).all()  # the only negative of user 0
    dense = m.toarray()
    assert not dense[users[:, None], neg].any()
    again = s.sample(users, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(neg, again)


def test_user_with_every_item_raises():
    with pytest.raises(DataError, match="every one of the 3 training items.*: 0, 1;"):
        NegativeSampler(sp.csr_matrix(np.ones((2, 3), dtype=np.float32)))


def test_pairwise_epoch_on_real_data(data_dir):
    require_dataset(data_dir, "lastfm")
    data = load_dataset(DataConfig(dataset="lastfm", data_dir=str(data_dir)))
    sampler = PairwiseSampler(data, batch_size=4096, seed=0, n_negatives=2)
    train = data.train_csr
    seen = 0
    pairs = set()
    for b in sampler.epoch():
        u, p, n = (t.numpy().copy() for t in (b.users, b.pos, b.neg))
        assert train[u, p].A1.all()  # positives are training pairs
        assert not np.asarray(train[np.repeat(u, 2), n.ravel()]).any()  # never a positive
        seen += len(u)
        pairs.update(zip(u.tolist(), p.tolist()))
    assert seen == len(data.train) == len(pairs)  # every training pair exactly once


def test_user_uniform_pair_sampling_draws_users_uniformly(planted):
    """LightGCN-PyTorch's UniformSample_original: as many triples as training interactions,
    users uniform, the positive uniform among the user's items."""
    s = PairwiseSampler(planted, batch_size=10_000, seed=0, user_uniform=True)
    users, pos, neg = [], [], []
    for _ in range(200):
        for b in s.epoch():
            users.append(b.users.numpy())
            pos.append(b.pos.numpy())
            neg.append(b.neg[:, 0].numpy())
    users, pos, neg = map(np.concatenate, (users, pos, neg))
    assert users.size == 200 * len(planted.train)
    train = planted.train_csr.toarray().astype(bool)
    assert train[users, pos].all() and not train[users, neg].any()
    counts = np.bincount(users, minlength=planted.n_users)
    expected = users.size / planted.n_users
    # chi-square with 59 degrees of freedom: 99.9% quantile is about 99.6
    assert ((counts - expected) ** 2 / expected).sum() < 99.6
    # under interaction sampling a user appears in proportion to their training items
    inter = PairwiseSampler(planted, batch_size=10_000, seed=0)
    u = np.concatenate([b.users.numpy() for b in inter.epoch()])
    assert np.array_equal(np.bincount(u, minlength=planted.n_users),
                          np.diff(planted.train_csr.indptr))


def test_dense_user_never_fails_and_draws_uniformly_from_the_complement():
    # issue 20.5: a user holding 95 of 100 items made rejection give up after 100 rounds
    dense = np.zeros((2, 100), dtype=np.float32)
    dense[0, :95] = 1
    dense[1, ::7] = 1
    s = NegativeSampler(sp.csr_matrix(dense))
    users = np.repeat([0, 1], 20_000)
    neg = s.sample(users, 2, np.random.default_rng(0))  # ~40k dense draws: never raises
    assert not dense[users[:, None], neg].any()
    counts = np.bincount(neg[users == 0].ravel(), minlength=100)
    assert counts[:95].sum() == 0 and counts[95:].sum() == 40_000
    assert counts[95:].min() > 7_600 and counts[95:].max() < 8_400  # uniform: 8000 each


def test_complement_draw_is_exact_and_uniform():
    m = sp.csr_matrix(np.array([[0, 1, 0, 1, 0], [1, 1, 1, 1, 0], [0, 0, 0, 0, 0]],
                               dtype=np.float32))
    s = NegativeSampler(m, max_rounds=0)  # every rejected draw goes to the complement
    rng = np.random.default_rng(1)
    users = np.repeat([0, 1, 2], 30_000)
    got = s.from_complement(users, rng)
    assert set(got[users == 0].tolist()) == {0, 2, 4}
    assert set(got[users == 1].tolist()) == {4}
    assert set(got[users == 2].tolist()) == {0, 1, 2, 3, 4}
    c = np.bincount(got[users == 0], minlength=5)[[0, 2, 4]]
    assert c.min() > 9_500 and c.max() < 10_500  # 10000 each
    neg = s.sample(np.repeat([0, 1], 500), 3, rng)
    assert not m.toarray()[np.repeat([0, 1], 500)[:, None], neg].any()


def test_users_without_any_negative_are_named_by_raw_id_before_training(tmp_path):
    d = tmp_path / "full"
    d.mkdir()
    items = [f"i{k}" for k in range(6)]
    (d / "train.txt").write_text("".join(f"greedy {i}\n" for i in items) +
                                 "".join(f"u{k} {items[k]}\nu{k} {items[k - 1]}\n"
                                         for k in range(6)))
    (d / "test.txt").write_text("".join(f"u{k} {items[k - 2]}\n" for k in range(6)))
    data = load_dataset(dataset=str(d), valid_ratio=0.0)
    with pytest.raises(DataError, match=r"1 user\(s\) interacted with every one of the 6 "
                                        r"training items.*: greedy; drop these users"):
        PairwiseSampler(data, batch_size=4, seed=0)
