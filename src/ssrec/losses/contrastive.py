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


def info_nce_multi_positive(anchor: torch.Tensor, candidates: torch.Tensor,
                            positives: torch.Tensor, temperature: float, normalize: bool = True,
                            reduction: str = "mean") -> torch.Tensor:
    """InfoNCE with several positives per anchor (the neighbour-discrimination loss of SEPT).

    For anchor ``n``: ``-log( Σ_{k} exp(s(a_n, c_{P[n,k]})/τ) / Σ_m exp(s(a_n, c_m)/τ) )``,
    where the positives ``P[n]`` index rows of ``candidates`` and every candidate is in the
    denominator (Yu et al., "Socially-Aware Self-Supervised Tri-Training for Recommendation",
    KDD'21, Eq. 9); ``s`` is the cosine similarity when ``normalize``. Computed with
    ``logsumexp`` (stable for small τ).

    Args:
        anchor: ``[N, D]``.
        candidates: ``[M, D]``.
        positives: ``int64 [N, K]`` indices into ``candidates`` (``K >= 1``).
        temperature: τ > 0.
        normalize: L2-normalise rows first (default True).
        reduction: ``"mean"`` (default) or ``"sum"`` over the ``N`` anchors.

    Returns:
        Scalar.

    Raises:
        ValueError: ``temperature <= 0``, mismatched shapes or an unknown reduction.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if positives.dim() != 2 or positives.shape[0] != anchor.shape[0] or positives.shape[1] < 1:
        raise ValueError(f"positives must be [N, K>=1] with N={anchor.shape[0]}, got "
                         f"{tuple(positives.shape)}")
    if anchor.shape[-1] != candidates.shape[-1]:
        raise ValueError(f"anchor and candidates differ in size: {tuple(anchor.shape)} vs "
                         f"{tuple(candidates.shape)}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if normalize:
        anchor = F.normalize(anchor, dim=-1)
        candidates = F.normalize(candidates, dim=-1)
    logits = anchor @ candidates.T / temperature  # [N, M]
    loss = torch.logsumexp(logits, dim=1) - torch.logsumexp(logits.gather(1, positives), dim=1)
    return loss.mean() if reduction == "mean" else loss.sum()
