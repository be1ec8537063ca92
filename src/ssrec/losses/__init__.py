"""Loss functions. Every loss returns a scalar averaged over the batch."""

from ssrec.losses.contrastive import (
    alignment,
    cosine_loss,
    info_nce,
    info_nce_candidates,
    info_nce_multi_positive,
    nt_xent,
    uniformity,
)
from ssrec.losses.ranking import batch_softmax, bpr_loss, sampled_bce
from ssrec.losses.regularization import l2_regularization
from ssrec.losses.softmax import full_softmax_ce

__all__ = [
    "alignment",
    "batch_softmax",
    "bpr_loss",
    "cosine_loss",
    "full_softmax_ce",
    "info_nce",
    "info_nce_candidates",
    "info_nce_multi_positive",
    "l2_regularization",
    "nt_xent",
    "sampled_bce",
    "uniformity",
]
