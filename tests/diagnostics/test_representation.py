"""Alignment, uniformity and the angle summaries on hand-computed inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssrec.diagnostics.representation import (BLOCK, alignment, angle_kde, angle_summary,
                                              project_angles, uniformity)


def test_alignment_by_hand():
    users = torch.tensor([[1.0, 0.0], [0.0, 3.0]])  # normalised: (1, 0), (0, 1)
    items = torch.tensor([[2.0, 0.0], [-1.0, 0.0]])  # (1, 0), (−1, 0)
    # pairs (0, 0): distance² 0; (1, 1): ||(1, 1)||² = 2; (0, 1): ||(2, 0)||² = 4
    assert alignment(users, items, [0, 1], [0, 1]) == pytest.approx(1.0)
    assert alignment(users, items, [0, 1, 0], [0, 1, 1]) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        alignment(users, items, [], [])


def test_uniformity_by_hand():
    # one distinct pair at distance² 4: log exp(−8)
    assert uniformity(torch.tensor([[1.0, 0.0], [-5.0, 0.0]])) == pytest.approx(-8.0)
    # distances² 2, 4, 2
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    want = math.log((2 * math.exp(-4) + math.exp(-8)) / 3)
    assert uniformity(x) == pytest.approx(want, abs=1e-6)
    assert uniformity(torch.ones(5, 3)) == pytest.approx(0.0, abs=1e-6)  # all coincide
    with pytest.raises(ValueError):
        uniformity(torch.ones(1, 3))


def test_uniformity_matches_directau_pdist_across_blocks():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BLOCK + 700, 8, generator=g)
    z = torch.nn.functional.normalize(x, dim=1).double()
    ref = torch.pdist(z, p=2).pow(2).mul(-2).exp().mean().log().item()  # DirectAU's code
    assert uniformity(x) == pytest.approx(ref, abs=1e-5)


def test_angles_tell_concentrated_from_spread():
    g = torch.Generator().manual_seed(1)
    spread = torch.randn(4000, 16, generator=g)
    concentrated = torch.randn(4000, 16, generator=g) * 0.2 + torch.ones(16)
    s, c = angle_summary(project_angles(spread)), angle_summary(project_angles(concentrated))
    assert s["mean_resultant_length"] < 0.1 and s["kl_from_uniform"] < 0.02
    assert c["mean_resultant_length"] > 0.9 and c["kl_from_uniform"] > 0.5
    # the common direction is the first singular vector, made positive: angles near 0
    assert abs(np.angle(np.exp(1j * project_angles(concentrated)).mean())) < 0.2


def test_angle_kde_is_a_density_on_the_circle():
    theta = np.concatenate([np.full(50, math.pi - 0.01), np.full(50, -math.pi + 0.01)])
    grid, dens = angle_kde(theta)
    assert dens.sum() * (2 * math.pi / grid.size) == pytest.approx(1.0, abs=1e-3)
    # a cluster across ±π is one narrow cluster, not a wide spread
    assert dens[np.abs(grid) > 3.0].mean() > 10 * dens[np.abs(grid) < 1.0].mean()
    uniform = np.linspace(-math.pi, math.pi, 2000, endpoint=False)
    assert angle_summary(uniform)["kl_from_uniform"] < 1e-3
