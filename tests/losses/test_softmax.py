"""Chunked full-softmax cross-entropy (the sequential models' CE) against the dense reference."""

import math

import pytest
import torch
import torch.nn.functional as F

from ssrec.losses import full_softmax_ce


def _grads(loss, tensors):
    for t in tensors:
        t.grad = None
    loss.backward()
    return [t.grad.clone() for t in tensors]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("chunk_elements", [1, 23, 11 * 8, 10**9])  # 1 row, 2 rows, 8, all
def test_chunked_ce_equals_dense_values_and_gradients(bias, chunk_elements):
    g = torch.Generator().manual_seed(0)
    m, d, i = 37, 6, 11
    h = torch.randn(m, d, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(i, d, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(i, generator=g, dtype=torch.float64, requires_grad=True) if bias else None
    t = torch.randint(0, i, (m,), generator=g)
    params = [h, w] + ([b] if bias else [])
    got = full_softmax_ce(h, w, t, b, chunk_elements=chunk_elements)
    got_g = _grads(got * 3.0, params)  # a non-unit upstream gradient
    ref = F.cross_entropy(h @ w.T + (b if bias else 0.0), t)
    ref_g = _grads(ref * 3.0, params)
    assert got.item() == pytest.approx(ref.item(), rel=1e-12)
    for a, r in zip(got_g, ref_g):
        torch.testing.assert_close(a, r, rtol=1e-10, atol=1e-12)


def test_chunked_ce_by_hand_and_float32():
    # one row, two items with logits 0 and log 3: -log(3/4) for target 1
    h = torch.tensor([[1.0]])
    w = torch.tensor([[0.0], [math.log(3.0)]])
    assert full_softmax_ce(h, w, torch.tensor([1])).item() == pytest.approx(-math.log(0.75))
    # float32, large logits: stable (no overflow), as F.cross_entropy
    g = torch.Generator().manual_seed(1)
    h = torch.randn(50, 8, generator=g) * 30
    w = torch.randn(300, 8, generator=g)
    t = torch.randint(0, 300, (50,), generator=g)
    got = full_softmax_ce(h, w, t, chunk_elements=1000)
    assert torch.isfinite(got)
    assert got.item() == pytest.approx(F.cross_entropy(h @ w.T, t).item(), rel=1e-5)


def test_chunked_ce_no_grad_and_errors():
    h = torch.randn(4, 3, requires_grad=True)
    w = torch.randn(5, 3)
    t = torch.tensor([0, 1, 4, 2])
    with torch.no_grad():
        v = full_softmax_ce(h, w, t)
    assert not v.requires_grad
    assert v.item() == pytest.approx(F.cross_entropy(h @ w.T, t).item(), rel=1e-6)
    with pytest.raises(ValueError, match="targets must lie in"):
        full_softmax_ce(h, w, torch.tensor([0, 1, 5, 2]))
    with pytest.raises(ValueError, match="share D"):
        full_softmax_ce(h, torch.randn(5, 4), t)
    with pytest.raises(ValueError, match="bias"):
        full_softmax_ce(h, w, t, torch.zeros(4))
    with pytest.raises(ValueError, match="chunk_elements"):
        full_softmax_ce(h, w, t, chunk_elements=0)
    loss = full_softmax_ce(h, w, t)
    (gh,) = torch.autograd.grad(loss, h, create_graph=False)
    assert gh.shape == h.shape
    with pytest.raises(RuntimeError, match="second-order"):
        torch.autograd.grad(full_softmax_ce(h, w, t), h, create_graph=True)


def test_chunked_ce_peak_block_is_bounded(monkeypatch):
    """No intermediate of the loss holds more than one chunk of logits: every matmul it runs
    has at most ``chunk_elements // I`` rows (recorded through ``torch.Tensor.__matmul__``)."""
    shapes = []
    real = torch.Tensor.__matmul__

    def spy(a, b):
        out = real(a, b)
        shapes.append(tuple(out.shape))
        return out

    monkeypatch.setattr(torch.Tensor, "__matmul__", spy)
    h = torch.randn(1000, 4, requires_grad=True)
    w = torch.randn(100, 4, requires_grad=True)
    full_softmax_ce(h, w, torch.randint(0, 100, (1000,)), chunk_elements=2000).backward()
    assert shapes and max(r * c for r, c in shapes) <= 2000
