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
