"""KG augmentations: relation-aware triple dropout and KGCL's KG-guided interaction dropout."""

from __future__ import annotations

import pytest
import torch

from ssrec.augment import (drop_triples, kg_guided_interaction_dropout,
                           kg_guided_keep_probability)


def test_drop_triples_rates_per_relation():
    n = 20000
    rel = torch.arange(n) % 2
    h, t = torch.arange(n), torch.arange(n) + 1
    g = torch.Generator().manual_seed(0)
    kh, kr, kt, mask = drop_triples(h, rel, t, torch.tensor([0.0, 0.5]), generator=g)
    assert mask[rel == 0].all()  # rate 0 for relation 0
    assert abs(mask[rel == 1].float().mean().item() - 0.5) < 0.02
    assert torch.equal(kh, h[mask]) and torch.equal(kt, t[mask]) and torch.equal(kr, rel[mask])
    # reproducible under a seed; no-op at rate 0 and outside training
    again = drop_triples(h, rel, t, torch.tensor([0.0, 0.5]),
                         generator=torch.Generator().manual_seed(0))[3]
    assert torch.equal(again, mask)
    assert drop_triples(h, rel, t, 0.0)[3].all()
    assert drop_triples(h, rel, t, 0.3, training=False)[3].all()
    with pytest.raises(ValueError):
        drop_triples(h, rel, t, 1.0)


def test_kg_guided_keep_probability_values():
    c = torch.tensor([-1.0, 0.0, 1.0, 1.0])
    keep = kg_guided_keep_probability(c, p=0.5, floor=0.3, cap=0.95)
    s = torch.exp(c)
    w = ((s - s.min()) / (s.max() - s.min())).clamp_min(0.3)  # [0.3, 0.3, 1, 1]
    expected = (0.5 * w / w.mean()).clamp_max(0.95)
    torch.testing.assert_close(keep, expected)
    torch.testing.assert_close(keep[:2], torch.tensor([0.15 / 0.65] * 2))
    assert keep[2] == 0.5 / 0.65  # below the cap


def test_kg_guided_interaction_dropout_follows_item_keep_probability():
    n = 30000
    item = torch.arange(n) % 3
    user = torch.arange(n)
    keep = torch.tensor([1.0, 0.0, 0.25])
    u, i, mask = kg_guided_interaction_dropout(user, item, keep,
                                               generator=torch.Generator().manual_seed(0))
    assert mask[item == 0].all() and not mask[item == 1].any()
    assert abs(mask[item == 2].float().mean().item() - 0.25) < 0.02
    assert torch.equal(u, user[mask]) and torch.equal(i, item[mask])
    assert kg_guided_interaction_dropout(user, item, keep, training=False)[2].all()
