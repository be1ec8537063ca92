"""Loss functions. Every loss returns a scalar averaged over the batch."""

from ssrec.losses.contrastive import info_nce, nt_xent
from ssrec.losses.ranking import bpr_loss, sampled_bce
from ssrec.losses.regularization import l2_regularization

__all__ = ["bpr_loss", "info_nce", "l2_regularization", "nt_xent", "sampled_bce"]
