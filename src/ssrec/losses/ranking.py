"""Ranking losses for implicit feedback."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Bayesian Personalised Ranking loss, ``mean(-log σ(s_pos - s_neg))``.

    (Rendle et al., "BPR: Bayesian Personalized Ranking from Implicit Feedback", UAI'09.)
    Computed as ``softplus(s_neg - s_pos)``, which is exact and stable for large margins.

    Args:
        pos: ``[B]`` scores of the positive items.
        neg: ``[B]`` or ``[B, N]`` scores of sampled negatives (averaged over all pairs).

    Returns:
        Scalar mean over the batch (and negatives).
    """
    if neg.dim() == pos.dim() + 1:
        pos = pos.unsqueeze(-1)
    return F.softplus(neg - pos).mean()
