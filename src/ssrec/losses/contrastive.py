"""Contrastive (InfoNCE-family) losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float,
             normalize: bool = True) -> torch.Tensor:
    """InfoNCE between two views with in-batch negatives.

    For row ``n``, the positive is ``b[n]`` and the negatives are every other row of ``b``:
    ``-log( exp(s(a_n, b_n)/τ) / Σ_m exp(s(a_n, b_m)/τ) )`` with ``s`` the cosine similarity when
    ``normalize`` (van den Oord et al., 2018; used by SGL, SimGCL, XSimGCL).

    Args:
        a: ``[N, D]`` first view.
        b: ``[N, D]`` second view (row-aligned with ``a``).
        temperature: τ > 0.
        normalize: L2-normalise rows first (cosine similarity); default True.

    Returns:
        Scalar mean over the ``N`` anchors.

    Raises:
        ValueError: if ``temperature <= 0`` or the shapes differ.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if a.shape != b.shape:
        raise ValueError(f"views must have the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if normalize:
        a = F.normalize(a, dim=-1)
        b = F.normalize(b, dim=-1)
    logits = a @ b.T / temperature  # [N, N]
    labels = torch.arange(a.shape[0], device=a.device)
    return F.cross_entropy(logits, labels)
