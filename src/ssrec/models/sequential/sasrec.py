"""SASRec."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ssrec.models.base import LossOutput, register_model
from ssrec.models.sequential.base import Sequential, SequentialConfig
from ssrec.sampling import SeqBatch


class SASRecConfig(SequentialConfig):
    """SASRec hyper-parameters (defaults: the paper and its official code).

    Attributes:
        embedding_dim: ``d`` (50).
        n_heads: 1 (single-head self-attention, Sec. III-B).
        ffn_dim: 50 (the point-wise feed-forward network keeps size ``d``, Eq. 4).
        dropout: 0.5 (the code's default and the paper's value on the sparse Amazon/Steam data;
            0.2 on MovieLens-1M).
        activation: ``"relu"`` (Eq. 4).
        norm_first: True (LayerNorm before each sub-layer, Eq. 5, plus a final one).
        scale_embedding: True (item embeddings × √d in the code).
        position_from_end: True (the code left-pads, so the latest item always has the last
            position embedding).
        max_len: ``n`` (50; 200 on MovieLens-1M).
        loss: ``"bce"`` (binary cross-entropy with one negative per position, Eq. 6); ``"ce"``
            is the full-softmax variant.
    """

    embedding_dim: int = Field(50, ge=1)
    n_heads: int = Field(1, ge=1)
    ffn_dim: int = Field(50, ge=1)
    dropout: float = Field(0.5, ge=0.0, lt=1.0)
    activation: Literal["gelu", "relu"] = "relu"
    norm_first: bool = True
    scale_embedding: bool = True
    position_from_end: bool = True
    loss: Literal["ce", "bce"] = "bce"


@register_model("SASRec")
class SASRec(Sequential):
    """SASRec: a causal self-attention encoder over the user's item sequence; the state at each
    position predicts the next item, scored by inner product with the shared item embeddings.

    Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018 (embedding Eq. 2,
    attention blocks Eqs. 3-5, prediction Eq. 6 with a shared item embedding, loss Eq. 6 /
    Sec. III-E). Training: every user's sequence once per epoch with a target at every position
    (a :class:`~ssrec.sampling.SeqBatch` from the ``"sequence"`` sampler).

    Shapes: ``encode(seq [B, L], lengths [B]) -> [B, L, D]``; ``score(users [B]) -> [B, I]``
    from the last state of the user's most recent ``max_len`` history items.

    Config: ``embedding_dim`` 50, ``n_layers`` 2, ``n_heads`` 1, ``ffn_dim`` 50, ``dropout``
    0.5, ``max_len`` 50, ``loss`` ``"bce"``, pre-LN, ReLU.
    """

    Config = SASRecConfig
    paper = "Kang & McAuley, Self-Attentive Sequential Recommendation, ICDM 2018"

    def loss(self, batch: SeqBatch) -> LossOutput:
        h = self.encode(batch.seq, batch.lengths)  # [B, L, D]
        main = self.next_item_loss(h, batch)
        return LossOutput(main, {self.cfg.loss: main})
