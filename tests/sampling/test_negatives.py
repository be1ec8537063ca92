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
    with pytest.raises(DataError, match="every item"):
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
