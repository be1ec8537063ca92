import math

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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_uniform_noise_has_norm_eps_and_keeps_signs(dtype):
    x = torch.randn(500, 16, dtype=dtype)
    x[3, 5] = 0.0  # sign(0) = 0: no noise on that coordinate
    g = torch.Generator().manual_seed(0)
    y = uniform_noise(x, 0.1, generator=g)
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
    y2 = uniform_noise(x, 0.1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y, y2)
    assert not torch.equal(y, uniform_noise(x, 0.1, generator=g))
    with pytest.raises(ValueError, match="eps"):
        uniform_noise(x, -1.0)
    with pytest.raises(ValueError, match="eps"):
        uniform_noise(x, float("nan"))
    with pytest.raises(TypeError, match="floating-point"):
        uniform_noise(torch.ones(3, 2, dtype=torch.int64), 0.1)
    with pytest.raises(ValueError, match="scalar"):
        uniform_noise(torch.tensor(1.0), 0.1)


_GAMMA, _M1, _M2, _MASK = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 2**64 - 1


def _splitmix64_mix(z):
    """SplitMix64's output function, in plain Python (Steele, Lea & Flood, OOPSLA 2014)."""
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def _reference_noise(x, eps, seed):
    """The counter stream, recomputed entry by entry: ``k`` = the top 24 bits of SplitMix64's
    ``i``-th output from the scrambled seed, ``i = n * D + d``; each row's scale is
    ``eps / sqrt(Σ k²)`` (summed exactly) rounded to ``x``'s dtype."""
    n, d = x.shape
    state = _splitmix64_mix(seed)
    k = [_splitmix64_mix((state + (i + 1) * _GAMMA) & _MASK) >> 40 for i in range(n * d)]
    ss = [sum(v * v for v in k[r * d:(r + 1) * d]) for r in range(n)]
    scale = torch.tensor([[eps / max(math.sqrt(v), 1.0)] for v in ss], dtype=x.dtype)
    u = torch.tensor(k, dtype=x.dtype).view(n, d)
    return x + torch.sign(x) * (u * scale)


def _use(path, monkeypatch):
    """Make the CPU draws of ``uniform_noise`` use the tensor operations or numba's kernel."""
    from ssrec.augment import embedding

    if path == "numba":
        pytest.importorskip("numba")
        monkeypatch.setattr(embedding, "_kernel", None)  # compiled on first use
    else:
        monkeypatch.setattr(embedding, "_kernel", False)


@pytest.mark.parametrize("path", ["tensor", "numba"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_counter_noise_is_splitmix64_of_the_seed_and_entry_index(dtype, path, monkeypatch):
    """The stream is SplitMix64 of the seed and entry index, exactly, by either CPU path (the
    tensor operations in blocks of rows too); the same values on any number of threads; the
    gradient is the identity."""
    from ssrec.augment import embedding

    _use(path, monkeypatch)
    x = torch.randn(37, 5, dtype=dtype, requires_grad=True)
    x.data[2, 3] = 0.0
    seed = int(torch.randint(0, 2**63 - 1, (), generator=torch.Generator().manual_seed(4)))
    expected = _reference_noise(x.detach(), 0.2, seed)
    threads = torch.get_num_threads()
    out = []
    try:
        for n, block in ((1, 1 << 18), (3, 1 << 18), (2, 15)):  # 15 entries: 3-row blocks
            torch.set_num_threads(n)
            monkeypatch.setattr(embedding, "_BLOCK_ENTRIES", block)
            out.append(uniform_noise(x, 0.2, generator=torch.Generator().manual_seed(4)))
    finally:
        torch.set_num_threads(threads)
    for y in out:
        assert torch.equal(y.detach(), expected)
    assert out[0][2, 3] == 0.0
    out[0].sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_both_cpu_paths_draw_the_same_values(dtype, monkeypatch):
    x = torch.randn(5000, 64, dtype=dtype)  # two blocks of the tensor operations
    x[7, :9] = 0.0
    out = []
    for path in ("tensor", "numba"):
        _use(path, monkeypatch)
        out.append(uniform_noise(x, 0.1, torch.Generator().manual_seed(11)))
    assert torch.equal(out[0], out[1])


def test_counter_noise_float32_matches_the_float64_draw():
    x = torch.randn(300, 64)
    y32 = uniform_noise(x, 0.1, torch.Generator().manual_seed(9))
    y64 = uniform_noise(x.double(), 0.1, torch.Generator().manual_seed(9))
    # the same uniforms: only float32 rounding differs (about 1 ulp of x)
    torch.testing.assert_close(y32.double(), y64, rtol=3e-7, atol=1e-7)


def test_uniform_noise_perturbs_the_last_dimension_of_any_shape_and_half_precision():
    """A ``[..., D]`` tensor is perturbed as its ``[-1, D]`` rows; float16 and bfloat16 as
    their float32 values, rounded back."""
    x = torch.randn(4, 6, 8)
    y = uniform_noise(x, 0.1, torch.Generator().manual_seed(1))
    flat = uniform_noise(x.view(24, 8), 0.1, torch.Generator().manual_seed(1))
    assert y.shape == x.shape and torch.equal(y.view(24, 8), flat)
    for dtype in (torch.float16, torch.bfloat16):
        h = x.to(dtype)
        yh = uniform_noise(h, 0.1, torch.Generator().manual_seed(1))
        ref = uniform_noise(h.float(), 0.1, torch.Generator().manual_seed(1)).to(dtype)
        assert yh.dtype == dtype and torch.equal(yh, ref)


@pytest.mark.parametrize("path", ["tensor", "numba"])
def test_counter_noise_leaves_a_row_alone_when_its_draw_is_all_zero(path, monkeypatch):
    """With D = 1 about one draw in 2^24 is 0; its row has no direction and stays as it is,
    not NaN. Row 8478686 of this draw is such a row."""
    _use(path, monkeypatch)
    x = torch.ones(8478687, 1)
    y = uniform_noise(x, 0.1, torch.Generator().manual_seed(0))
    assert torch.isfinite(y).all() and y[-1, 0] == 1.0
    assert (y[:-1] == 1.1).float().mean() > 0.99


def test_counter_kernel_compiles_without_a_cache_folder(monkeypatch):
    """numba raises at decoration when it has nowhere to cache (read-only install, no home):
    the kernel is then compiled for the process only."""
    numba = pytest.importorskip("numba")
    from ssrec.augment import embedding

    real = numba.njit

    def njit(*args, **kwargs):
        if kwargs.get("cache"):
            raise RuntimeError("cannot cache function '_counter_noise_loops': no locator "
                               "available")
        return real(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", njit)
    monkeypatch.setattr(embedding, "_kernel", None)
    x = torch.randn(10, 4)
    y = uniform_noise(x, 0.1, torch.Generator().manual_seed(2))
    assert embedding._kernel not in (None, False)
    torch.testing.assert_close((y - x).norm(dim=1), torch.full((10,), 0.1))


def test_without_numba_the_tensor_operations_draw(monkeypatch):
    """Without numba installed (an optional extra) the CPU draw falls back to the tensor
    operations."""
    import builtins

    from ssrec.augment import embedding

    real_import = builtins.__import__

    def no_numba(name, *args, **kwargs):
        if name == "numba":
            raise ImportError("No module named 'numba'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_numba)
    monkeypatch.setattr(embedding, "_kernel", None)
    assert embedding._compiled_kernel() is None and embedding._kernel is False
    x = torch.randn(10, 4)
    y = uniform_noise(x, 0.1, torch.Generator().manual_seed(2))
    torch.testing.assert_close((y - x).norm(dim=1), torch.full((10,), 0.1))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_counter_noise_on_cuda_equals_the_cpu_draw_of_the_same_state():
    from ssrec.augment.embedding import _add_counter_noise, _counter_state

    x = torch.randn(3000, 64, dtype=torch.float64)
    x[0, 0] = 0.0
    state = _counter_state(torch.tensor(2**62 + 12345))
    cpu = _add_counter_noise(x, 0.1, state)
    gpu = _add_counter_noise(x.cuda(), 0.1, state.cuda())
    assert torch.equal(gpu.cpu(), cpu)
    y = uniform_noise(x.cuda().requires_grad_(), 0.1)  # the CUDA generator's seed
    assert y.device.type == "cuda"
    torch.testing.assert_close((y - x.cuda()).norm(dim=1)[1:],
                               torch.full((2999,), 0.1, dtype=torch.float64, device="cuda"))


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


def test_off_the_cpu_the_noise_never_reaches_the_numba_kernel(monkeypatch):
    """The compiled kernel reads host memory: a tensor on another device (``meta`` here, CUDA
    in use) takes the tensor operations, which run on its device."""
    from ssrec.augment import embedding

    def kernel(*args):
        raise AssertionError("the CPU kernel was called for a tensor off the CPU")

    monkeypatch.setattr(embedding, "_kernel", kernel)
    x = torch.empty(300, 64, device="meta")
    y = uniform_noise(x, 0.1)
    assert y.device.type == "meta" and y.shape == (300, 64)
    with pytest.raises(AssertionError, match="CPU kernel"):  # the CPU path does use it
        uniform_noise(torch.randn(3, 4), 0.1)
