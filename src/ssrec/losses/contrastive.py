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


def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float,
            normalize: bool = False) -> torch.Tensor:
    """InfoNCE over both views' in-batch negatives (SimCLR's NT-Xent; Chen et al., ICML'20).

    The ``2N`` rows of ``[a; b]`` are anchors; the positive of ``a[n]`` is ``b[n]`` (and vice
    versa) and the negatives are the other ``2N - 2`` rows of both views:
    ``-log( exp(s(z_i, z_j)/τ) / Σ_{k≠i} exp(s(z_i, z_k)/τ) )`` averaged over the ``2N`` anchors.
    This is the contrastive loss of CL4SRec (Xie et al., ICDE'22, Eq. 10, dot-product
    similarity) and DuoRec (Qiu et al., WSDM'22, Eq. 11).

    Args:
        a: ``[N, D]`` first view.
        b: ``[N, D]`` second view (row-aligned with ``a``).
        temperature: τ > 0.
        normalize: cosine instead of dot-product similarity (default False, as in both papers).

    Returns:
        Scalar mean over the ``2N`` anchors.

    Raises:
        ValueError: if ``temperature <= 0`` or the shapes differ.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if a.shape != b.shape:
        raise ValueError(f"views must have the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    n = a.shape[0]
    z = torch.cat([a, b], dim=0)  # [2N, D]
    if normalize:
        z = F.normalize(z, dim=-1)
    logits = z @ z.T / temperature  # [2N, 2N]
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    idx = torch.arange(n, device=z.device)
    labels = torch.cat([idx + n, idx])
    return F.cross_entropy(logits, labels)
