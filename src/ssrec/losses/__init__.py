"""Loss functions. Every loss returns a scalar averaged over the batch."""

from ssrec.losses.contrastive import info_nce, info_nce_multi_positive
from ssrec.losses.ranking import bpr_loss
from ssrec.losses.regularization import l2_regularization

__all__ = ["bpr_loss", "info_nce", "info_nce_multi_positive", "l2_regularization"]
