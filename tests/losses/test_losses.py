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


def test_info_nce_multi_positive_by_hand():
    from ssrec.losses import info_nce_multi_positive

    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    t = 0.5
    s = F.normalize(a, dim=1) @ F.normalize(c, dim=1).T / t  # [2, 3]
    pos = torch.tensor([[0, 2], [1, 1]])  # a repeated index counts twice
    e = torch.exp(s)
    l0 = -torch.log((e[0, 0] + e[0, 2]) / e[0].sum())
    l1 = -torch.log((2 * e[1, 1]) / e[1].sum())
    assert info_nce_multi_positive(a, c, pos, t, reduction="sum").item() == \
        pytest.approx((l0 + l1).item(), abs=1e-6)
    assert info_nce_multi_positive(a, c, pos, t).item() == pytest.approx(((l0 + l1) / 2).item(),
                                                                         abs=1e-6)
    # one positive on the diagonal: plain InfoNCE
    b = torch.randn(4, 3)
    a2 = torch.randn(4, 3)
    diag = torch.arange(4).unsqueeze(1)
    assert info_nce_multi_positive(a2, b, diag, 0.2).item() == \
        pytest.approx(info_nce(a2, b, 0.2).item(), rel=1e-5)
    with pytest.raises(ValueError, match="positives"):
        info_nce_multi_positive(a, c, torch.tensor([0, 1]), t)
    with pytest.raises(ValueError, match="temperature"):
        info_nce_multi_positive(a, c, pos, 0.0)
