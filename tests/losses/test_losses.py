import math

import pytest
import torch
import torch.nn.functional as F

from ssrec.losses import bpr_loss, info_nce, l2_regularization


def test_bpr_by_hand():
    pos = torch.tensor([2.0, 0.0])
    neg = torch.tensor([1.0, 0.0])
    expected = (-math.log(1 / (1 + math.exp(-1))) - math.log(0.5)) / 2
    assert bpr_loss(pos, neg).item() == pytest.approx(expected)
    neg2 = torch.tensor([[1.0, 3.0], [0.0, 0.0]])
    expected2 = (math.log1p(math.exp(-1)) + math.log1p(math.exp(1)) + 2 * math.log(2)) / 4
    assert bpr_loss(pos, neg2).item() == pytest.approx(expected2)
    assert bpr_loss(torch.tensor([100.0]), torch.tensor([-100.0])).item() == pytest.approx(0, abs=1e-30)


def test_info_nce_by_hand():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    t = 0.5
    an, bn = F.normalize(a, dim=1), F.normalize(b, dim=1)
    s = an @ bn.T / t
    expected = -(torch.log(torch.exp(s[0, 0]) / torch.exp(s[0]).sum())
                 + torch.log(torch.exp(s[1, 1]) / torch.exp(s[1]).sum())) / 2
    assert info_nce(a, b, t).item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="temperature"):
        info_nce(a, b, 0.0)
    with pytest.raises(ValueError, match="same shape"):
        info_nce(a, b[:1], 0.2)


def test_l2_regularization():
    u = torch.tensor([[1.0, 2.0], [0.0, 1.0]])
    n = torch.ones(2, 3, 2)
    assert l2_regularization(u, n).item() == pytest.approx((6 + 12) / 4)


def test_nt_xent_matches_its_definition():
    from ssrec.losses import nt_xent

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    tau = 0.7
    z = torch.cat([a, b])
    total = 0.0
    for i in range(8):
        j = (i + 4) % 8
        sims = [float(z[i] @ z[k]) / tau for k in range(8) if k != i]
        pos = float(z[i] @ z[j]) / tau
        total += -(pos - math.log(sum(math.exp(s) for s in sims)))
    assert float(nt_xent(a, b, tau)) == pytest.approx(total / 8, rel=1e-5)
    # cosine variant equals the dot variant on normalised rows
    an, bn = torch.nn.functional.normalize(a, dim=1), torch.nn.functional.normalize(b, dim=1)
    assert float(nt_xent(a, b, tau, normalize=True)) == pytest.approx(
        float(nt_xent(an, bn, tau)), rel=1e-6)
    with pytest.raises(ValueError):
        nt_xent(a, b, 0.0)


def test_sampled_bce_by_hand():
    from ssrec.losses import sampled_bce

    pos = torch.tensor([0.0, 2.0])
    neg = torch.tensor([[1.0], [-1.0]])
    expected = (math.log(2) + math.log(1 + math.exp(-2))) / 2 + \
        (math.log(1 + math.exp(1)) + math.log(1 + math.exp(-1))) / 2
    assert float(sampled_bce(pos, neg)) == pytest.approx(expected, rel=1e-6)
