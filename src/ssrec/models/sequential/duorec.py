"""DuoRec."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ssrec.losses import nt_xent
from ssrec.models.base import LossOutput, register_model
from ssrec.models.sequential.base import SequentialConfig
from ssrec.models.sequential.sasrec import SASRec
from ssrec.sampling import SameTargetBatch


class DuoRecConfig(SequentialConfig):
    """DuoRec hyper-parameters (defaults: the paper and its official code).

    Attributes:
        embedding_dim, n_layers, n_heads, ffn_dim: 64, 2, 2, 256 (post-LN, GELU).
        dropout: 0.5 (the model-level augmentation: two passes differ by their dropout masks).
        max_len: 50.
        loss: ``"ce"``.
        tau: temperature of the contrastive loss (1.0).
        similarity: ``"dot"`` (the paper's inner product) or ``"cosine"`` (L2-normalised
            states, as SELFRec's InfoNCE) in the contrastive loss.
        cl_weight: λ, weight of the contrastive regularisation (0.1).
    """

    tau: float = Field(1.0, gt=0.0)
    similarity: Literal["dot", "cosine"] = "dot"
    cl_weight: float = Field(0.1, ge=0.0)


@register_model("DuoRec")
class DuoRec(SASRec):
    """DuoRec: SASRec's next-item loss plus a contrastive regulariser between two views of a
    user's sequence representation: the **unsupervised** view encodes the same input again (a
    model-level augmentation: only the dropout masks differ) and the **supervised** view encodes
    another training sequence whose next item is the same target. InfoNCE contrasts the two
    views' last-position states against the batch's other ``2N - 2`` views (dot product, τ).

    Qiu et al., "Contrastive Learning for Representation Degeneration Problem in Sequential
    Recommendation", WSDM 2022 (dropout augmentation Sec. 4.2.1, supervised positive sampling
    Sec. 4.2.2, contrastive regularisation Eq. 11, total loss Eq. 12); the two views contrasted
    as in the authors' default ``us_x`` setting.

    Shapes: ``seq [B, L]``, ``same_seq [B, L2]`` → states ``[B, D]`` →
    :func:`~ssrec.losses.nt_xent` over ``[2B, D]``; ``score(users [B]) -> [B, I]``.

    Config: ``tau`` 1.0, ``cl_weight`` 0.1, ``dropout`` 0.5, ``embedding_dim`` 64,
    ``n_layers`` 2, ``n_heads`` 2, ``max_len`` 50, ``loss`` ``"ce"``.
    """

    Config = DuoRecConfig
    paper = ("Qiu et al., Contrastive Learning for Representation Degeneration Problem in "
             "Sequential Recommendation, WSDM 2022")

    def sampler_options(self) -> dict[str, Any]:
        return {**super().sampler_options(), "same_target": True}

    def loss(self, batch: SameTargetBatch) -> LossOutput:
        h = self.encode(batch.seq, batch.lengths)
        main = self.next_item_loss(h, batch)
        z_unsup = self.state(batch.seq, batch.lengths)  # same input, new dropout masks
        z_sup = self.state(batch.same_seq, batch.same_lengths)
        cl = self.cfg.cl_weight * nt_xent(z_unsup, z_sup, self.cfg.tau,
                                              normalize=self.cfg.similarity == "cosine")
        return LossOutput(main + cl, {self.cfg.loss: main, "cl": cl})
