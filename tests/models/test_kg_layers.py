"""Relation-aware aggregation over a KG against dense per-relation matrices, and the
within-group softmax."""

from __future__ import annotations

import pytest
import torch

from ssrec.models.layers import relation_aggregate, segment_softmax


def _graph():
    g = torch.Generator().manual_seed(0)
    n_e, n_r, d, t = 9, 3, 5, 25
    head = torch.randint(0, 6, (t,), generator=g)  # entities 6..8 head nothing
    rel = torch.randint(0, n_r, (t,), generator=g)
    tail = torch.randint(0, n_e, (t,), generator=g)
    ent = torch.randn(n_e, d, generator=g, dtype=torch.float64)
    remb = torch.randn(n_r, d, generator=g, dtype=torch.float64)
    return n_e, n_r, head, rel, tail, ent, remb


def test_relation_aggregate_matches_dense_per_relation_reference():
    n_e, n_r, head, rel, tail, ent, remb = _graph()
    w = torch.rand(head.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    # dense: Σ_r A_r (E ⊙ e_r), A_r[h, t] = number (or weight) of triples (h, r, t)
    dense_sum = torch.zeros_like(ent)
    dense_w = torch.zeros_like(ent)
    for r in range(n_r):
        a = torch.zeros(n_e, n_e, dtype=torch.float64)
        aw = torch.zeros(n_e, n_e, dtype=torch.float64)
        m = rel == r
        a.index_put_((head[m], tail[m]), torch.ones(int(m.sum()), dtype=torch.float64),
                     accumulate=True)
        aw.index_put_((head[m], tail[m]), w[m], accumulate=True)
        dense_sum += a @ (ent * remb[r])
        dense_w += aw @ (ent * remb[r])
    deg = torch.bincount(head, minlength=n_e).clamp_min(1).to(torch.float64)
    torch.testing.assert_close(relation_aggregate(ent, remb, head, rel, tail, reduce="sum"),
                               dense_sum)
    torch.testing.assert_close(relation_aggregate(ent, remb, head, rel, tail),
                               dense_sum / deg[:, None])
    torch.testing.assert_close(relation_aggregate(ent, remb, head, rel, tail, weight=w,
                                                  reduce="sum"), dense_w)
    assert relation_aggregate(ent, remb, head, rel, tail)[6:].abs().sum() == 0
    with pytest.raises(ValueError, match="reduce"):
        relation_aggregate(ent, remb, head, rel, tail, reduce="max")


def test_relation_aggregate_gradients_match_dense():
    n_e, n_r, head, rel, tail, ent, remb = _graph()
    e1, r1 = ent.clone().requires_grad_(), remb.clone().requires_grad_()
    relation_aggregate(e1, r1, head, rel, tail).pow(2).sum().backward()
    e2, r2 = ent.clone().requires_grad_(), remb.clone().requires_grad_()
    deg = torch.bincount(head, minlength=n_e).clamp_min(1).to(torch.float64)
    out = torch.zeros(n_e, ent.shape[1], dtype=torch.float64)
    for k in range(head.numel()):
        out = out.index_add(0, head[k:k + 1], (e2[tail[k]] * r2[rel[k]])[None] / deg[head[k]])
    out.pow(2).sum().backward()
    torch.testing.assert_close(e1.grad, e2.grad)
    torch.testing.assert_close(r1.grad, r2.grad)


def test_segment_softmax_sums_to_one_per_group():
    scores = torch.tensor([1.0, 2.0, 3.0, 1000.0, -5.0])
    index = torch.tensor([0, 0, 2, 2, 3])
    a = segment_softmax(scores, index, 4)
    torch.testing.assert_close(a[:2], torch.softmax(scores[:2], 0))
    torch.testing.assert_close(a[2:4], torch.tensor([0.0, 1.0]))
    assert a[4] == 1.0
