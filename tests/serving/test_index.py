"""Retrieval with faiss: exact / HNSW / IVF, exclusion of known items with over-fetch and the
exact fallback, recall against exact, saved indexes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from ssrec.data.idmap import IdMap
from ssrec.errors import SsrecError
from ssrec.serving import Artifacts, Engine
from ssrec.serving.index import (
    IndexParams,
    Retriever,
    build_index,
    build_measured,
    read_index,
    recall_at,
    save_index,
)


def brute(items, q, k, excl):
    s = items @ q
    s[excl] = -np.inf
    order = np.lexsort((np.arange(s.size), -s))
    m = min(k, s.size - len(excl))
    return order[:m]


@pytest.fixture(scope="module")
def art():
    """300 items, 40 users in 8 dimensions; users 0-9 know 250 items (a long history)."""
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 300
    users = rng.normal(size=(n_users, 8)).astype(np.float32)
    items = rng.normal(size=(n_items, 8)).astype(np.float32)
    rows = []
    for u in range(n_users):
        n = 250 if u < 10 else int(rng.integers(1, 20))
        rows.append(np.sort(rng.choice(n_items, size=n, replace=False)))
    hist = sp.csr_matrix((np.ones(sum(r.size for r in rows), dtype=np.int8),
                          np.concatenate(rows), np.r_[0, np.cumsum([r.size for r in rows])]),
                         shape=(n_users, n_items))
    return Artifacts(users, items, IdMap([f"u{i}" for i in range(n_users)]),
                     IdMap([f"i{i}" for i in range(n_items)]), hist,
                     {"exclude_seen": True, "dataset": "synthetic"})


@pytest.mark.parametrize("kind", ["exact", "hnsw", "ivf"])
@pytest.mark.parametrize("max_fetch", [1024, 64])
def test_known_items_never_come_back_and_every_row_is_full(art, kind, max_fetch):
    ret = Retriever(art.items, build_index(art.items, kind, IndexParams(nprobe=1)), max_fetch)
    excl = [art.history_row(u) for u in range(40)]
    for k in (1, 20, 60):
        res = ret.search(art.users, k, excl)
        for u, (ids, scores) in enumerate(res):
            assert ids.size == min(k, 300 - excl[u].size)  # users 0-9: 50 items left
            assert not np.isin(ids, excl[u]).any()
            assert np.all(np.diff(scores) <= 0)
            np.testing.assert_allclose(scores, art.items[ids] @ art.users[u], rtol=1e-5,
                                       atol=1e-5)
            if kind == "exact":
                assert ids.tolist() == brute(art.items, art.users[u], k, excl[u]).tolist()
    if max_fetch == 64:  # long histories need more than 64 candidates: exact fallback
        assert ret.fallbacks >= 10


def test_a_poor_approximate_answer_falls_back_to_exact(art):
    """IVF probing one of many cells returns too few candidates: those rows are scanned."""
    index = build_index(art.items, "ivf", IndexParams(nlist=30, nprobe=1))
    ret = Retriever(art.items, index)
    excl = [art.history_row(u) for u in range(10)]  # 250 known items each
    res = ret.search(art.users[:10], 40, excl)
    assert ret.fallbacks > 0
    for u, (ids, _) in enumerate(res):
        assert ids.tolist() == brute(art.items, art.users[u], 40, excl[u]).tolist()


def test_recall_is_measured_against_exact_and_saved_indexes_answer_the_same(art, tmp_path):
    index, meta = build_measured(art, "hnsw", k=20)
    assert meta["users_measured"] == 40 and 0.9 <= meta["recall@20"] <= 1.0
    assert 0.9 <= meta["recall@20_excluding_history"] <= 1.0
    path = tmp_path / "h.faiss"
    save_index(index, path)
    again = read_index(path)
    q = art.users[:5]
    assert np.array_equal(index.search(q, 10)[1], again.search(q, 10)[1])
    (tmp_path / "bad.faiss").write_bytes(b"not an index")
    with pytest.raises(SsrecError, match="not a faiss index"):
        read_index(tmp_path / "bad.faiss")
    # recall_at: |approx ∩ exact| / |exact|
    a = [(np.array([1, 2, 3]), None), (np.array([4]), None)]
    e = [(np.array([1, 2, 9]), None), (np.array([5]), None)]
    assert recall_at(a, e) == pytest.approx((2 / 3 + 0) / 2)


def test_engine_refuses_unknown_index_kinds(art):
    with pytest.raises(SsrecError, match="use one of exact, hnsw, ivf"):
        Engine(art, index="annoy")
