"""Regularisers."""

from __future__ import annotations

import torch


def l2_regularization(*embeddings: torch.Tensor) -> torch.Tensor:
    """``Σ_t ||E_t||² / (2 B)`` over the batch embedding tensors (LightGCN, Eq. 15).

    Args:
        embeddings: tensors whose first dimension is the batch ``B`` (e.g. ``[B, D]`` user,
            positive and ``[B, N, D]`` negative embeddings).

    Returns:
        Scalar; multiply by the model's regularisation weight.
    """
    b = embeddings[0].shape[0]
    total = sum(e.pow(2).sum() for e in embeddings)
    return total / (2 * b)
