"""Ranking losses for implicit feedback."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssrec.losses.contrastive import _check_views


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


def batch_softmax(query: torch.Tensor, item: torch.Tensor, temperature: float,
                  log_q: torch.Tensor | None = None, normalize: bool = True) -> torch.Tensor:
    """In-batch sampled softmax for two-tower retrieval: row ``n``'s positive is ``item[n]``,
    its negatives are the other rows' items.

    ``-mean_n log softmax_m(ŝ(q_n, v_m)/τ − log Q_m)[n]`` with ``ŝ`` the cosine when
    ``normalize`` (the batch softmax with logQ correction of Yi et al., "Sampling-Bias-Corrected
    Neural Modeling for Large Corpus Item Recommendations", RecSys 2019; the main loss of
    SSL4Rec's two-tower model).
    Without ``log_q`` it equals :func:`~ssrec.losses.info_nce`.

    Args:
        query: ``[B, D]`` query (user) representations.
        item: ``[B, D]`` representations of each row's positive item.
        temperature: τ > 0.
        log_q: optional ``[B]`` log sampling probability of each row's item. In-batch
            negatives are drawn in proportion to popularity; subtracting ``log Q`` (the logQ
            correction) makes the loss estimate the full softmax instead of one that demotes
            popular items.
        normalize: L2-normalise rows first (cosine); default True.

    Returns:
        Scalar mean over the ``B`` rows.

    Raises:
        ValueError: if ``temperature <= 0`` or the shapes differ.
    """
    _check_views(query, item, temperature)
    if normalize:
        query = F.normalize(query, dim=-1)
        item = F.normalize(item, dim=-1)
    logits = query @ item.T / temperature  # [B, B]
    if log_q is not None:
        logits = logits - log_q.unsqueeze(0)
    labels = torch.arange(query.shape[0], device=query.device)
    return F.cross_entropy(logits, labels)


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
