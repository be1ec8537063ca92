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


def sampled_bce(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with sampled negatives, ``mean(-log σ(s_pos)) + mean(-log(1 - σ(s_neg)))``
    (SASRec, Kang & McAuley, ICDM'18, Eq. 6, with one negative per position; computed with
    ``softplus`` for stability).

    Args:
        pos: ``[M]`` scores of the true next items (one per supervised position).
        neg: ``[M]`` or ``[M, N]`` scores of sampled negatives.

    Returns:
        Scalar: the positive term averaged over ``M`` plus the negative term averaged over all
        negatives.
    """
    return F.softplus(-pos).mean() + F.softplus(neg).mean()
