"""LightGCN."""

from __future__ import annotations

from ssrec.models.base import LossOutput, register_model
from ssrec.models.cf import GraphCF
from ssrec.sampling import PairBatch


@register_model("LightGCN")
class LightGCN(GraphCF):
    """LightGCN: linear propagation over the normalised user–item graph, no feature
    transformation or non-linearity, layer outputs averaged (including layer 0), BPR loss.

    He et al., "LightGCN: Simplifying and Powering Graph Convolution Network for
    Recommendation", SIGIR 2020 (Eqs. 3-4, 6, 8, 15).

    Shapes: embeddings ``[U, D]`` / ``[I, D]``; ``score(users [B]) -> [B, I]``.

    Config (paper defaults): ``embedding_dim`` 64, ``n_layers`` 3, ``l2_reg`` 1e-4.
    """

    supports_sampled = True
    paper = ("He et al., LightGCN: Simplifying and Powering Graph Convolution Network for "
             "Recommendation, SIGIR 2020")

    def loss(self, batch: PairBatch) -> LossOutput:
        ego = self.loss_ego()  # the average is read at the batch's rows only
        parts = self.node_bpr_parts(self.rows_reader(ego=ego), ego, batch)
        return LossOutput(parts["bpr"] + parts["reg"], parts)
