import numpy as np
import torch

from ssrec.data.graph import normalized_adjacency
from ssrec.models.layers import propagate


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
