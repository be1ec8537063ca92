"""Loss functions. Every loss returns a scalar averaged over the batch."""

from ssrec.losses.contrastive import cosine_loss, info_nce
from ssrec.losses.ranking import batch_softmax, bpr_loss
from ssrec.losses.regularization import l2_regularization

__all__ = ["batch_softmax", "bpr_loss", "cosine_loss", "info_nce", "l2_regularization"]
