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


def cosine_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Negative-free bootstrap loss ``mean(1 - cos(p_n, z_n))`` over rows.

    Equals ``mean(‖p̂_n - ẑ_n‖²) / 2`` for L2-normalised rows, the regression loss of BYOL
    (Grill et al., NeurIPS 2020, Eq. 2) that BUIR uses, and, up to the constant 1, the negative
    cosine similarity of SimSiam / SelfCF. The caller decides where the gradient stops (pass
    ``target.detach()`` for a stop-gradient target).

    Args:
        prediction: ``[N, D]`` online predictions.
        target: ``[N, D]`` targets (row-aligned).

    Returns:
        Scalar in ``[0, 2]``.

    Raises:
        ValueError: if the shapes differ.
    """
    if prediction.shape != target.shape:
        raise ValueError(f"prediction and target must have the same shape, got "
                         f"{tuple(prediction.shape)} and {tuple(target.shape)}")
    return (1.0 - F.cosine_similarity(prediction, target, dim=-1)).mean()
