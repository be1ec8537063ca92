"""Matrix factorisation trained with BPR."""

from __future__ import annotations

from ssrec.models.base import LossOutput, register_model
from ssrec.models.cf import EmbeddingCF
from ssrec.sampling import PairBatch


@register_model("MF")
class MF(EmbeddingCF):
    """Matrix factorisation with the BPR objective: ``ŷ_ui = e_u · e_i``.

    Rendle et al., "BPR: Bayesian Personalized Ranking from Implicit Feedback", UAI 2009.

    Config: ``embedding_dim`` (64), ``l2_reg`` (1e-4).
    """

    paper = "Rendle et al., BPR: Bayesian Personalized Ranking from Implicit Feedback, UAI 2009"

    def loss(self, batch: PairBatch) -> LossOutput:
        users, items = self.embeddings()
        parts = self.bpr_parts(users, items, batch)
        return LossOutput(parts["bpr"] + parts["reg"], parts)
