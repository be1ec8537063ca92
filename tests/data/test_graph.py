import numpy as np
import pytest
import torch

from ssrec.data.graph import normalized_adjacency
from ssrec.augment import uniform_noise
from ssrec.models.layers import propagate, propagate_layers, propagate_rows


def dense_reference(user, item, n_users, n_items):
    n = n_users + n_items
    a = np.zeros((n, n))
    for u, i in zip(user, item):
        a[u, n_users + i] = a[n_users + i, u] = 1.0
    d = a.sum(1)
    dinv = np.where(d > 0, d ** -0.5, 0.0)
    return dinv[:, None] * a * dinv[None, :]


def test_normalized_adjacency_matches_dense_reference():
    rng = np.random.default_rng(0)
    user = rng.integers(0, 7, 30)
    item = rng.integers(0, 9, 30)  # includes duplicates and maybe isolated nodes
    ref = dense_reference(user, item, 7, 9)
    for layout in ("csr", "coo"):
        adj = normalized_adjacency(user, item, 7, 9, layout=layout)
        np.testing.assert_allclose(adj.to_dense().numpy(), ref, rtol=1e-6, atol=1e-7)


def test_sparse_propagation_and_gradient_match_dense():
    rng = np.random.default_rng(1)
    user, item = rng.integers(0, 12, 60), rng.integers(0, 15, 60)
    adj = normalized_adjacency(user, item, 12, 15)
    dense = torch.tensor(dense_reference(user, item, 12, 15), dtype=torch.float32)
    ego = torch.randn(27, 8, requires_grad=True)
    ego_ref = ego.detach().clone().requires_grad_(True)
    out, layers = propagate(adj, ego, 3, include_ego=True)
    x, ref_layers = ego_ref, [ego_ref]
    for _ in range(3):
        x = dense @ x
        ref_layers.append(x)
    ref = torch.stack(ref_layers).mean(0)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    w = torch.randn(27, 8)
    (out * w).sum().backward()
    (ref * w).sum().backward()
    torch.testing.assert_close(ego.grad, ego_ref.grad, rtol=1e-5, atol=1e-6)
    out1, _ = propagate(adj, ego.detach(), 2, include_ego=False)
    torch.testing.assert_close(out1, (dense @ ego.detach() + dense @ dense @ ego.detach()) / 2,
                               rtol=1e-5, atol=1e-6)


def test_normalized_interactions_is_the_user_item_block_of_the_adjacency():
    from ssrec.data.graph import normalized_interactions

    rng = np.random.default_rng(2)
    user, item = rng.integers(0, 7, 30), rng.integers(0, 9, 30)  # duplicates included
    r = normalized_interactions(user, item, 7, 9)
    assert r.shape == (7, 9) and r.dtype == np.float32
    np.testing.assert_allclose(r.toarray(), dense_reference(user, item, 7, 9)[:7, 7:],
                               rtol=1e-6, atol=1e-7)
    # hand-computed: user 0 with 2 items, item 0 with 2 users -> 1 / sqrt(2 * 2)
    r2 = normalized_interactions(np.array([0, 0, 1]), np.array([0, 1, 0]), 3, 2)
    np.testing.assert_allclose(r2.toarray(), [[0.5, 2 ** -0.5], [2 ** -0.5, 0.0], [0.0, 0.0]],
                               rtol=1e-6)
def test_scipy_normalisations_match_dense():
    import scipy.sparse as sp

    from ssrec.data.graph import (bipartite_normalize, row_normalize, sym_normalize,
                                  to_torch_sparse)

    a = np.array([[0, 2, 1, 0], [2, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=float)
    rows = a.sum(1, keepdims=True)
    np.testing.assert_allclose(row_normalize(sp.csr_matrix(a)).toarray(),
                               np.divide(a, rows, out=np.zeros_like(a), where=rows > 0))
    d = np.where(a.sum(1) > 0, np.maximum(a.sum(1), 1) ** -0.5, 0)
    np.testing.assert_allclose(sym_normalize(sp.csr_matrix(a)).toarray(),
                               d[:, None] * a * d[None, :], rtol=1e-6)
    r = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]], dtype=float)  # an empty user and item
    du, di = r.sum(1), r.sum(0)
    ref = r / np.sqrt(np.outer(np.where(du > 0, du, 1), np.where(di > 0, di, 1)))
    np.testing.assert_allclose(bipartite_normalize(sp.csr_matrix(r)).toarray(), ref, rtol=1e-6)
    # ... which is the user-item block of LightGCN's adjacency
    u, i = np.nonzero(r)
    full = normalized_adjacency(u, i, 3, 3).to_dense().numpy()
    np.testing.assert_allclose(full[:3, 3:], ref, rtol=1e-6)
    for layout in ("csr", "coo"):
        t = to_torch_sparse(sp.csr_matrix(r), layout=layout)
        assert t.dtype == torch.float32 and t.shape == (3, 3)
        np.testing.assert_array_equal(t.to_dense().numpy(), r)
    with pytest.raises(ValueError, match="square"):
        sym_normalize(sp.csr_matrix(r[:2]))


def test_spmm_with_a_precomputed_transpose_has_the_dense_gradient():
    import scipy.sparse as sp

    from ssrec.data.graph import to_torch_sparse
    from ssrec.models.layers import spmm

    rng = np.random.default_rng(2)
    m = sp.random(7, 5, density=0.4, random_state=3, format="csr", dtype=np.float32)
    x = torch.randn(5, 3, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    out = spmm(to_torch_sparse(m), x, transpose=to_torch_sparse(m.T))
    ref = torch.from_numpy(m.toarray()) @ x_ref
    torch.testing.assert_close(out, ref)
    w = torch.from_numpy(rng.standard_normal((7, 3)).astype(np.float32))
    (out * w).sum().backward()
    (ref * w).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


def _graph(n: int = 30) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    dense = torch.rand(n, n, generator=g) * (torch.rand(n, n, generator=g) < 0.2)
    return ((dense + dense.T) / 4).to_sparse_csr()


@pytest.mark.parametrize("include_ego,n_layers",
                         [(True, 0), (True, 1), (True, 2), (True, 3), (False, 1), (False, 2),
                          (False, 3)])
@pytest.mark.parametrize("noisy", [False, True])
def test_propagate_rows_equals_the_full_mean_bit_for_bit(include_ego, n_layers, noisy):
    """Reading the layer average at (repeated) rows gives the same values and the same
    gradients, exactly, as propagating all nodes, averaging and gathering; with an additive
    noise hook too (the same draws in the same order)."""
    n, d = 30, 8
    adj = _graph(n)
    rows = torch.tensor([3, 7, 3, 29, 0, 7, 7, 12])
    weights = torch.randn(len(rows), d, generator=torch.Generator().manual_seed(2))
    grads, outs = [], []
    for at_rows in (False, True):
        gen = torch.Generator().manual_seed(5)
        hook = (lambda x, layer: uniform_noise(x, 0.1, gen)) if noisy else None
        ego = torch.randn(n, d, generator=torch.Generator().manual_seed(1)).requires_grad_()
        if at_rows:
            out = propagate_rows(adj, ego, n_layers, rows, include_ego, noise=hook)
        else:
            full, _ = propagate(adj, ego, n_layers, include_ego=include_ego, layer_hook=hook)
            out = full[rows]
        (out * weights).sum().backward()
        outs.append(out.detach())
        grads.append(ego.grad)
    assert torch.equal(outs[0], outs[1])
    assert torch.equal(grads[0], grads[1])


def test_propagate_rows_last_noise_at_rows_is_sign_aligned_noise_of_norm_eps():
    """With ``last_noise_at_rows`` (one layer, so the last is the only one) the result is the
    clean layer plus, at each distinct row, noise of norm ``eps`` with that row's signs; a
    repeated row is read once (the same noise); the gradient is still the clean one."""
    n, d, eps = 30, 8, 0.1
    adj = _graph(n)
    ego = torch.randn(n, d, generator=torch.Generator().manual_seed(1)).requires_grad_()
    rows = torch.tensor([3, 7, 3, 12])
    gen = torch.Generator().manual_seed(5)
    noisy = propagate_rows(adj, ego, 1, rows, include_ego=False,
                           noise=lambda x, layer: uniform_noise(x, eps, gen),
                           last_noise_at_rows=True)
    noisy.sum().backward()
    noisy_grad, ego.grad = ego.grad, None
    clean = propagate_rows(adj, ego, 1, rows, include_ego=False)
    clean.sum().backward()
    delta = (noisy - clean).detach()
    torch.testing.assert_close(delta.norm(dim=1), torch.full((4,), eps))
    assert bool((delta * clean.detach() >= 0).all())
    assert torch.equal(noisy[0], noisy[2])
    assert torch.equal(noisy_grad, ego.grad)
