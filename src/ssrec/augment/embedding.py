"""Embedding-space augmentations."""

from __future__ import annotations

import torch


def uniform_noise(x: torch.Tensor, eps: float, generator: torch.Generator | None = None,
                  training: bool = True) -> torch.Tensor:
    """Add sign-aligned uniform noise of L2 norm ``eps`` to each row (SimGCL / XSimGCL view).

    Implements ``x' = x + eps * normalize(Δ) ⊙ sign(x)`` with ``Δ ~ U(0, 1)`` (Yu et al.,
    "Are Graph Augmentations Necessary?", SIGIR'22, Eq. 7): the noise keeps every coordinate's
    sign, so a row moves at most ``eps`` and stays in its hyperoctant.

    Args:
        x: ``[N, D]`` embeddings.
        eps: noise magnitude (L2 norm per row), ``>= 0``.
        generator: random generator on ``x``'s device (default: the global one).
        training: when False, return ``x`` unchanged.

    Returns:
        ``[N, D]`` perturbed embeddings (a new tensor; ``x`` is not modified).

    Raises:
        ValueError: if ``eps < 0``.
    """
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    if not training or eps == 0:
        return x
    noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    noise.div_(torch.linalg.vector_norm(noise, dim=-1, keepdim=True).clamp_min_(1e-12))
    noise.mul_(eps)
    # in place on temporaries (fewer allocations); sign(x) carries no gradient
    return x + torch.sign(x.detach()).mul_(noise)
