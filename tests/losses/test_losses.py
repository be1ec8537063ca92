import math

import pytest
import torch
import torch.nn.functional as F

from ssrec.losses import batch_softmax, bpr_loss, cosine_loss, info_nce, l2_regularization


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


def _composite_info_nce(a, b, t, normalize):
    """InfoNCE as autograd composes ``F.cross_entropy(a @ b.T / τ)``: the reference."""
    if normalize:
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    return F.cross_entropy(a @ b.T / t, torch.arange(a.shape[0]))


@pytest.mark.parametrize("normalize", [True, False])
def test_info_nce_matches_the_composite_cross_entropy(normalize):
    """The fused function gives the composite's value and gradients (float64: to rounding)."""
    g = torch.Generator().manual_seed(3)
    a = torch.randn(40, 6, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(40, 6, dtype=torch.float64, generator=g, requires_grad=True)
    fused = info_nce(a, b, 0.3, normalize=normalize)
    composite = _composite_info_nce(a, b, 0.3, normalize)
    ga, gb = torch.autograd.grad(0.7 * fused, (a, b))
    ca, cb = torch.autograd.grad(0.7 * composite, (a, b))
    torch.testing.assert_close(fused, composite, rtol=1e-12, atol=0)
    torch.testing.assert_close(ga, ca, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(gb, cb, rtol=1e-10, atol=1e-14)
    assert torch.autograd.gradcheck(lambda x, y: info_nce(x, y, 0.3, normalize=normalize),
                                    (a, b))


@pytest.mark.parametrize("normalize", [True, False])
def test_info_nce_second_order_and_no_overflow_where_the_composite_has_none(normalize):
    g = torch.Generator().manual_seed(5)
    a = torch.randn(6, 3, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(6, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda x, y: info_nce(x, y, 0.5, normalize=normalize),
                                        (a, b))
    (ga,) = torch.autograd.grad(info_nce(a, b, 0.5, normalize=normalize), a, create_graph=True)
    (ca,) = torch.autograd.grad(_composite_info_nce(a, b, 0.5, normalize), a, create_graph=True)
    hf = torch.autograd.grad(ga.pow(2).sum(), (a, b))
    hc = torch.autograd.grad(ca.pow(2).sum(), (a, b))
    for x, y in zip(hf, hc):
        torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-13)
    # without normalisation, tau is applied after the product: a / tau alone would overflow
    big = torch.randn(8, 4, generator=torch.Generator().manual_seed(0)) * 1e36
    small = torch.randn(8, 4, generator=torch.Generator().manual_seed(1)) * 1e-36
    fused = info_nce(big, small, 1e-3, normalize=False)
    assert torch.isfinite(fused)
    torch.testing.assert_close(fused, _composite_info_nce(big, small, 1e-3, False))


def test_l2_regularization():
    u = torch.tensor([[1.0, 2.0], [0.0, 1.0]])
    n = torch.ones(2, 3, 2)
    assert l2_regularization(u, n).item() == pytest.approx((6 + 12) / 4)


def test_info_nce_candidates_by_hand():
    from ssrec.losses import info_nce_candidates

    a = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    t = 0.5
    # cosine similarities: row 0 -> [1, 0, -1]; row 1 -> [1/√2, 1/√2, -1/√2]; targets 0 and 1
    s0 = [1.0, 0.0, -1.0]
    r = 2 ** -0.5
    s1 = [r, r, -r]
    l0 = -s0[0] / t + math.log(sum(math.exp(x / t) for x in s0))
    l1 = -s1[1] / t + math.log(sum(math.exp(x / t) for x in s1))
    got = info_nce_candidates(a, c, torch.tensor([0, 1]), t)
    assert got.item() == pytest.approx((l0 + l1) / 2, rel=1e-6)
    # unnormalised: raw inner products
    raw = info_nce_candidates(a, c, torch.tensor([0, 1]), 1.0, normalize=False)
    e0 = -1 + math.log(math.e + 1 + math.exp(-1))
    e1 = -1 + math.log(math.e + math.e + math.exp(-1))
    assert raw.item() == pytest.approx((e0 + e1) / 2, rel=1e-6)
    # with the other view as candidates and identity targets it is the in-batch InfoNCE
    x, y = torch.randn(7, 4), torch.randn(7, 4)
    torch.testing.assert_close(info_nce_candidates(x, y, torch.arange(7), 0.2),
                               info_nce(x, y, 0.2))
    with pytest.raises(ValueError, match="temperature"):
        info_nce_candidates(a, c, torch.tensor([0, 1]), 0.0)
    with pytest.raises(ValueError, match="share D"):
        info_nce_candidates(a, c[:, :1], torch.tensor([0, 1]), 0.2)
    with pytest.raises(ValueError, match="targets"):
        info_nce_candidates(a, c, torch.tensor([0]), 0.2)


def test_alignment_and_uniformity_by_hand():
    from ssrec.losses import alignment, uniformity

    x = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    y = torch.tensor([[1.0, 1.0], [0.0, 0.5]])
    # normalised pairs: (1,0) vs (1/√2,1/√2): ||d||² = 2 - √2;  (0,1) vs (0,1): 0
    assert alignment(x, y).item() == pytest.approx((2 - 2 ** 0.5) / 2, rel=1e-6)
    assert alignment(x, y, alpha=1).item() == pytest.approx((2 - 2 ** 0.5) ** 0.5 / 2, rel=1e-6)
    # three points on the circle at 0°, 90°, 180°: squared distances 2, 4, 2
    p = torch.tensor([[3.0, 0.0], [0.0, 1.0], [-0.5, 0.0]])
    expected = math.log((math.exp(-4) + math.exp(-8) + math.exp(-4)) / 3)
    assert uniformity(p).item() == pytest.approx(expected, rel=1e-6)
    assert uniformity(p, t=1).item() == pytest.approx(
        math.log((2 * math.exp(-2) + math.exp(-4)) / 3), rel=1e-6)
    assert uniformity(torch.ones(5, 3)).item() == pytest.approx(0.0, abs=1e-6)
    assert uniformity(torch.tensor([[1.0, 0.0], [-2.0, 0.0]])).item() == pytest.approx(-8.0)
    with pytest.raises(ValueError):
        uniformity(torch.ones(1, 3))
    with pytest.raises(ValueError):
        alignment(x, y[:1])


def test_cosine_loss_by_hand():
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]])
    z = torch.tensor([[1.0, 1.0], [0.0, -2.0], [6.0, 8.0]])
    # 1 - cos per row: 1 - 1/sqrt(2), 1 - (-1) = 2, 1 - 1 = 0
    expected = ((1 - 1 / math.sqrt(2)) + 2 + 0) / 3
    assert cosine_loss(p, z).item() == pytest.approx(expected, rel=1e-6)
    # = mean ||p/|p| - z/|z| ||^2 / 2 (the BYOL / BUIR regression loss, halved)
    sq = (F.normalize(p, dim=1) - F.normalize(z, dim=1)).pow(2).sum(1).mean() / 2
    assert cosine_loss(p, z).item() == pytest.approx(sq.item(), rel=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        cosine_loss(p, z[:2])


def test_batch_softmax_by_hand():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    v = torch.tensor([[2.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    t = 0.5
    s = F.normalize(q, dim=1) @ F.normalize(v, dim=1).T / t  # [3, 3] cosine logits
    plain = -torch.stack([torch.log_softmax(s[n], 0)[n] for n in range(3)]).mean()
    assert batch_softmax(q, v, t).item() == pytest.approx(plain.item(), rel=1e-6)
    assert batch_softmax(q, v, t).item() == pytest.approx(info_nce(q, v, t).item(), rel=1e-6)
    # logQ correction: subtract log Q of each column's item
    log_q = torch.log(torch.tensor([0.5, 0.2, 0.5]))
    c = s - log_q[None, :]
    corrected = -torch.stack([torch.log_softmax(c[n], 0)[n] for n in range(3)]).mean()
    assert batch_softmax(q, v, t, log_q=log_q).item() == pytest.approx(corrected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="temperature"):
        batch_softmax(q, v, 0.0)


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


def test_nt_xent_one_sided_anchors_only_the_first_view():
    """``symmetric=False``: GRACE's loss of the rows of ``a``, written as MCCLK's code writes
    it, ``-log(between_ii / (Σ_j refl_ij + Σ_j between_ij - refl_ii))`` with
    ``refl = exp(cos(a, a)/τ)``, ``between = exp(cos(a, b)/τ)``; symmetric = mean of the two
    one-sided losses."""
    from ssrec.losses import nt_xent

    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    tau = 0.6
    an, bn = torch.nn.functional.normalize(a, dim=1), torch.nn.functional.normalize(b, dim=1)
    refl, between = torch.exp(an @ an.T / tau), torch.exp(an @ bn.T / tau)
    ref = -torch.log(between.diag() / (refl.sum(1) + between.sum(1) - refl.diag())).mean()
    assert float(nt_xent(a, b, tau, normalize=True, symmetric=False)) == pytest.approx(
        float(ref), rel=1e-5)
    both = 0.5 * (nt_xent(a, b, tau, normalize=True, symmetric=False)
                  + nt_xent(b, a, tau, normalize=True, symmetric=False))
    assert float(nt_xent(a, b, tau, normalize=True)) == pytest.approx(float(both), rel=1e-5)


def test_sampled_bce_by_hand():
    from ssrec.losses import sampled_bce

    pos = torch.tensor([0.0, 2.0])
    neg = torch.tensor([[1.0], [-1.0]])
    expected = (math.log(2) + math.log(1 + math.exp(-2))) / 2 + \
        (math.log(1 + math.exp(1)) + math.log(1 + math.exp(-1))) / 2
    assert float(sampled_bce(pos, neg)) == pytest.approx(expected, rel=1e-6)
