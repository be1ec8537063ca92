"""The KG triple sampler: batches cover every triple once, and a corrupted tail is never a
true triple, even for heads that hold almost every entity."""

from __future__ import annotations

import numpy as np
import pytest

from ssrec.data.kg import KnowledgeGraph
from ssrec.sampling import KGTripleSampler


def make_kg(head, rel, tail, n_items, n_entities, n_rel):
    return KnowledgeGraph(np.asarray(head, dtype=np.int64), np.asarray(rel, dtype=np.int64),
                          np.asarray(tail, dtype=np.int64), n_items, n_entities,
                          np.array([f"r{k}" for k in range(n_rel)]),
                          np.array([f"e{k}" for k in range(n_entities)]))


def test_negatives_are_never_true_triples_and_epoch_covers_all():
    rng = np.random.default_rng(0)
    n_e = 12
    # head 0 under relation 0 holds every entity but 2 and 7: rejection rarely succeeds and
    # the complement fallback must find exactly those two
    h = [0] * (n_e - 2) + list(rng.integers(1, 5, 40))
    t = [e for e in range(n_e) if e not in (2, 7)] + list(rng.integers(0, n_e, 40))
    r = [0] * (n_e - 2) + list(rng.integers(0, 3, 40))
    kg = make_kg(h, r, t, 5, n_e, 3)
    true = set(zip(kg.head.tolist(), kg.relation.tolist(), kg.tail.tolist()))
    s = KGTripleSampler(kg, batch_size=16, seed=3, max_rounds=1)
    seen = []
    for _ in range(30):
        for b in s.epoch():
            for hh, rr, tt in zip(b.head.tolist(), b.relation.tolist(), b.neg_tail.tolist()):
                assert (hh, rr, tt) not in true
                assert 0 <= tt < n_e
            seen.append(len(b))
    assert sum(seen) == 30 * kg.n_triples and len(s) == 4
    negs = s.negatives(np.zeros(2000, dtype=np.int64), np.zeros(2000, dtype=np.int64))
    assert set(negs.tolist()) == {2, 7}
    # both are drawn about equally often (uniform over the valid tails)
    assert 0.4 < (negs == 2).mean() < 0.6


def test_no_corrupted_tail_is_an_error():
    kg = make_kg([0, 0, 0], [0, 0, 0], [0, 1, 2], 1, 3, 1)
    with pytest.raises(ValueError, match="no corrupted tail"):
        KGTripleSampler(kg, 4)
