import pytest
import torch

from ssrec.augment import (
    complementary_masks,
    drop_edges,
    drop_nodes,
    edge_dropout_adjacency,
    embedding_dropout,
    uniform_noise,
)
from ssrec.data.graph import normalized_adjacency


@pytest.mark.parametrize("stream", ["counter", "torch"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_uniform_noise_has_norm_eps_and_keeps_signs(stream, dtype):
    x = torch.randn(500, 16, dtype=dtype)
    x[3, 5] = 0.0  # sign(0) = 0: no noise on that coordinate
    g = torch.Generator().manual_seed(0)
    y = uniform_noise(x, 0.1, generator=g, stream=stream)
    d = y - x
    assert y.dtype == dtype and d[3, 5] == 0
    norms = d.norm(dim=1)
    torch.testing.assert_close(norms[torch.arange(500) != 3], torch.full((499,), 0.1,
                                                                        dtype=dtype))
    assert ((torch.sign(d) == torch.sign(x)) | (d == 0)).all()
    # U(0, 1) before normalising: the mean |coordinate| of a normalised 16-vector of
    # uniforms is about 0.1 * E[u] / sqrt(E[u^2] * 16) = 0.1 * 0.5 / sqrt(16 / 3)
    assert abs(d.abs().mean().item() - 0.1 * 0.5 / (16 / 3) ** 0.5) < 0.002
    assert uniform_noise(x, 0.0) is x and uniform_noise(x, 0.3, training=False) is x
    y2 = uniform_noise(x, 0.1, generator=torch.Generator().manual_seed(0), stream=stream)
    assert torch.equal(y, y2)
    assert not torch.equal(y, uniform_noise(x, 0.1, generator=g, stream=stream))
    with pytest.raises(ValueError):
        uniform_noise(x, -1.0)
    with pytest.raises(ValueError, match="noise stream"):
        uniform_noise(x, 0.1, stream="mt")


def test_counter_noise_is_splitmix64_of_the_seed_and_entry_index():
    """The "counter" stream, recomputed in plain Python: entry ``k`` of the draw is the top 24
    bits of the ``k``-th SplitMix64 output from the scrambled seed; the same values on any
    number of threads; the gradient is the identity."""
    from ssrec.augment.embedding import _mix64

    x = torch.randn(37, 5, dtype=torch.float64, requires_grad=True)
    x.data[2, 3] = 0.0
    threads = torch.get_num_threads()
    out = []
    try:
        for n in (1, 3):
            torch.set_num_threads(n)
            out.append(uniform_noise(x, 0.2, generator=torch.Generator().manual_seed(4)))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(out[0], out[1])
    seed = int(torch.randint(0, 2**63 - 1, (), generator=torch.Generator().manual_seed(4)))
    state, gamma = _mix64(seed), 0x9E3779B97F4A7C15
    u = torch.tensor([_mix64((state + (k + 1) * gamma) % 2**64) >> 40 for k in range(37 * 5)],
                     dtype=torch.float64).view(37, 5) / 2**24
    expected = x.detach() + 0.2 * u / u.norm(dim=1, keepdim=True) * torch.sign(x.detach())
    torch.testing.assert_close(out[0].detach(), expected, rtol=1e-14, atol=1e-15)
    assert out[0][2, 3] == 0.0
    out[0].sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_counter_noise_float32_matches_the_float64_draw():
    x = torch.randn(300, 64)
    y32 = uniform_noise(x, 0.1, torch.Generator().manual_seed(9))
    y64 = uniform_noise(x.double(), 0.1, torch.Generator().manual_seed(9))
    # the same uniforms: only float32 rounding differs (about 1 ulp of x)
    torch.testing.assert_close(y32.double(), y64, rtol=3e-7, atol=1e-7)


def test_counter_noise_leaves_a_row_alone_when_its_draw_is_all_zero():
    """With D = 1 about one draw in 2^24 is 0; its row has no direction and stays as it is
    (as in the "torch" stream), not NaN. Row 8478686 of this draw is such a row."""
    x = torch.ones(8478687, 1)
    y = uniform_noise(x, 0.1, torch.Generator().manual_seed(0))
    assert torch.isfinite(y).all() and y[-1, 0] == 1.0
    assert (y[:-1] == 1.1).float().mean() > 0.99


def test_counter_kernel_compiles_without_a_cache_folder(monkeypatch):
    """numba raises at decoration when it has nowhere to cache (read-only install, no home):
    the kernel is then compiled for the process only."""
    import numba

    from ssrec.augment import embedding

    real = numba.njit

    def njit(*args, **kwargs):
        if kwargs.get("cache"):
            raise RuntimeError("cannot cache function '_counter_noise': no locator available")
        return real(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", njit)
    monkeypatch.setattr(embedding, "_kernel", None)
    x = torch.randn(10, 4)
    y = uniform_noise(x, 0.1, torch.Generator().manual_seed(2))
    torch.testing.assert_close((y - x).norm(dim=1), torch.full((10,), 0.1))


def test_edge_dropout_rate_and_reproducibility():
    u = torch.arange(20000) % 100
    i = torch.arange(20000) % 77
    ku, ki, mask = drop_edges(u, i, 0.3, generator=torch.Generator().manual_seed(1))
    assert abs((~mask).float().mean().item() - 0.3) < 0.02
    assert ku.shape == ki.shape == (int(mask.sum()),)
    _, _, mask2 = drop_edges(u, i, 0.3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(mask, mask2)
    assert drop_edges(u, i, 0.0)[2].all() and drop_edges(u, i, 0.5, training=False)[2].all()
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError):
            drop_edges(u, i, bad)


def test_node_dropout_removes_all_edges_of_dropped_nodes():
    u = torch.randint(0, 50, (5000,))
    i = torch.randint(0, 60, (5000,))
    ku, ki, mask = drop_nodes(u, i, 50, 60, 0.2, generator=torch.Generator().manual_seed(2))
    dropped_users = set(range(50)) - set(ku.tolist())
    assert dropped_users and not (set(u[mask].tolist()) & dropped_users)
    assert 0.5 < mask.float().mean().item() < 0.75  # ~0.8 * 0.8


def test_random_walk_draws_one_independent_edge_dropout_per_layer():
    from ssrec.augment import drop_edges_per_layer

    u = torch.arange(30000) % 200
    i = torch.arange(30000) % 151
    views = drop_edges_per_layer(u, i, 0.25, 3, generator=torch.Generator().manual_seed(3))
    assert len(views) == 3
    masks = [m for _, _, m in views]
    for ku, ki, m in views:
        assert abs((~m).float().mean().item() - 0.25) < 0.015
        assert torch.equal(ku, u[m]) and torch.equal(ki, i[m])
    # layers are independent draws: an edge survives two given layers w.p. 0.75^2
    both = (masks[0] & masks[1]).float().mean().item()
    assert abs(both - 0.75 ** 2) < 0.015
    assert not torch.equal(masks[0], masks[1])
    again = drop_edges_per_layer(u, i, 0.25, 3, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(a[2], b[2]) for a, b in zip(views, again))
    # the same stream as three consecutive edge dropouts
    g = torch.Generator().manual_seed(3)
    seq = [drop_edges(u, i, 0.25, generator=g)[2] for _ in range(3)]
    assert all(torch.equal(a, b) for a, b in zip(masks, seq))
    for ku, ki, m in drop_edges_per_layer(u, i, 0.0, 2):
        assert m.all() and ku is u and ki is i
    assert all(m.all() for _, _, m in drop_edges_per_layer(u, i, 0.5, 2, training=False))
    with pytest.raises(ValueError):
        drop_edges_per_layer(u, i, 1.0, 2)
    with pytest.raises(ValueError, match="n_layers"):
        drop_edges_per_layer(u, i, 0.1, 0)


def test_node_dropout_rate_holds_per_node_type():
    # every node has >= 10 distinct neighbours, so a kept node keeps some edge (1 - 0.3^10)
    u = torch.arange(200000) // 10
    i = (torch.arange(200000) * 7919) % 5000
    ku, ki, mask = drop_nodes(u, i, 20000, 5000, 0.3, generator=torch.Generator().manual_seed(5))
    kept_users = torch.unique(ku).numel() / 20000
    kept_items = torch.unique(ki).numel() / 5000
    assert abs(kept_users - 0.7) < 0.015 and abs(kept_items - 0.7) < 0.025  # ~4.5 sd
    _, _, mask2 = drop_nodes(u, i, 20000, 5000, 0.3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(mask, mask2)
    assert drop_nodes(u, i, 20000, 5000, 0.0)[2].all()
def test_embedding_dropout_rate_scale_and_reproducibility():
    x = torch.full((400, 50), 2.0)
    y = embedding_dropout(x, 0.25, generator=torch.Generator().manual_seed(3))
    zero = y == 0
    assert abs(zero.float().mean().item() - 0.25) < 0.02
    torch.testing.assert_close(y[~zero], torch.full(((~zero).sum().item(),), 2.0 / 0.75))
    assert abs(y.mean().item() - 2.0) < 0.05  # inverted dropout keeps the expectation
    y2 = embedding_dropout(x, 0.25, generator=torch.Generator().manual_seed(3))
    assert torch.equal(y, y2)
    assert embedding_dropout(x, 0.0) is x and embedding_dropout(x, 0.5, training=False) is x
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError):
            embedding_dropout(x, bad)


def test_complementary_masks_split_every_entry_into_exactly_one_view():
    x = torch.randn(300, 40)
    a, b = complementary_masks(x, 0.3, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(a + b, x)
    assert not ((a != 0) & (b != 0)).any()
    assert abs((b != 0).float().mean().item() - 0.3) < 0.02  # b holds what a hides
    with pytest.raises(ValueError):
        complementary_masks(x, 1.0)


def test_edge_dropout_adjacency_is_the_normalised_graph_of_the_kept_edges():
    u = torch.tensor([0, 0, 1, 2, 2, 2, 3])
    i = torch.tensor([0, 1, 1, 0, 2, 3, 3])
    adj = edge_dropout_adjacency(u, i, 4, 4, 0.4, generator=torch.Generator().manual_seed(5))
    _, _, mask = drop_edges(u, i, 0.4, generator=torch.Generator().manual_seed(5))
    assert 0 < mask.sum() < len(u)
    # dense reference: A over kept edges, D^-1/2 A D^-1/2 with degrees of the kept graph
    a = torch.zeros(8, 8)
    a[u[mask], 4 + i[mask]] = 1.0
    a[4 + i[mask], u[mask]] = 1.0
    deg = a.sum(1)
    dinv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
    torch.testing.assert_close(adj.to_dense(), dinv[:, None] * a * dinv[None, :])
    full = edge_dropout_adjacency(u, i, 4, 4, 0.0)
    torch.testing.assert_close(full.to_dense(), normalized_adjacency(u, i, 4, 4).to_dense())
