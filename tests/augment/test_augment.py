import pytest
import torch

from ssrec.augment import drop_edges, drop_nodes, uniform_noise


def test_uniform_noise_has_norm_eps_and_keeps_signs():
    x = torch.randn(500, 16)
    g = torch.Generator().manual_seed(0)
    y = uniform_noise(x, 0.1, generator=g)
    d = y - x
    torch.testing.assert_close(d.norm(dim=1), torch.full((500,), 0.1))
    assert ((torch.sign(d) == torch.sign(x)) | (d == 0)).all()
    assert uniform_noise(x, 0.0) is x and uniform_noise(x, 0.3, training=False) is x
    y2 = uniform_noise(x, 0.1, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(y, y2)
    with pytest.raises(ValueError):
        uniform_noise(x, -1.0)


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
