import numpy as np
import pytest
import torch

from ssrec.utils.cluster import kmeans


def planted(n_per=200, k=6, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, d, generator=g) * 4
    labels = torch.arange(k).repeat_interleave(n_per)
    x = centres[labels] + 0.5 * torch.randn(k * n_per, d, generator=g)
    return x, labels, centres


def test_kmeans_recovers_planted_clusters():
    x, labels, centres = planted()
    cent, assign = kmeans(x, 6, seed=3, n_redo=10)  # random init: restarts avoid local optima
    assert cent.shape == (6, 16) and assign.shape == (1200,) and assign.dtype == torch.int64
    # a one-to-one map between true and found clusters, every point assigned correctly
    table = np.zeros((6, 6), dtype=int)
    np.add.at(table, (labels.numpy(), assign.numpy()), 1)
    assert (table.max(axis=1) == 200).all() and len(set(table.argmax(axis=1))) == 6
    # centroids are the cluster means, close to the planted centres
    mapping = torch.as_tensor(table.argmax(axis=1))
    torch.testing.assert_close(cent[mapping], centres, atol=0.15, rtol=0)
    for c in range(6):
        torch.testing.assert_close(cent[c], x[assign == c].mean(0), atol=1e-4, rtol=1e-4)


def test_kmeans_is_deterministic_and_keeps_device_and_dtype():
    x, _, _ = planted(n_per=50, seed=1)
    a = kmeans(x.double(), 6, seed=7)
    b = kmeans(x.double(), 6, seed=7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].dtype == torch.float64 and a[0].device == x.device


def test_kmeans_rejects_impossible_requests_before_faiss():
    x = torch.randn(10, 4)
    with pytest.raises(ValueError, match="cannot form 11 clusters from 10 points"):
        kmeans(x, 11)
    with pytest.raises(ValueError):
        kmeans(x, 0)
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        kmeans(torch.randn(10), 2)
    cent, assign = kmeans(x, 10)  # k == N is allowed: every point its own cluster
    assert torch.unique(assign).numel() == 10
