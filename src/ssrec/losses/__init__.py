"""Loss functions. Every loss returns a scalar averaged over the batch."""

from ssrec.losses.contrastive import alignment, info_nce, info_nce_candidates, uniformity
from ssrec.losses.ranking import bpr_loss
from ssrec.losses.regularization import l2_regularization

__all__ = [
    "alignment",
    "bpr_loss",
    "info_nce",
    "info_nce_candidates",
    "l2_regularization",
    "uniformity",
]
