"""SSL4Rec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ssrec.augment import complementary_masks, embedding_dropout
from ssrec.losses import batch_softmax, info_nce, l2_regularization
from ssrec.models.base import LossOutput, register_model
from ssrec.models.cf import EmbeddingCF, EmbeddingConfig

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData
    from ssrec.sampling import PairBatch


class SSL4RecConfig(EmbeddingConfig):
    """SSL4Rec hyper-parameters (defaults: SELFRec's adaptation to ID-only data).

    Attributes:
        hidden_dim: width of each tower's hidden layer (1024).
        out_dim: tower output size (128).
        tau: temperature τ of both softmax losses (0.07).
        cl_weight: weight α of the self-supervised loss (0.1).
        drop_rate: ``view="dropout"``: drop probability of each item-embedding entry; ``"mask"``:
            probability that an entry is hidden from the first view (0.1).
        view: how the two item views are made: ``"dropout"`` two independent embedding
            dropouts (SELFRec), ``"mask"`` complementary random feature masks over the
            embedding dimensions (the paper's RFM, with ID dimensions as the features).
        cl_items: items of the self-supervised task: ``"batch"`` the distinct positive items of
            the batch (SELFRec), ``"uniform"`` as many items drawn uniformly without
            replacement (the paper's choice, so that the SSL task also covers tail items).
        logq_correction: subtract each in-batch item's log sampling probability (its share of
            the training interactions) from its logits in the main loss (Yi et al., RecSys
            2019), so that the popularity-sampled in-batch negatives do not demote popular
            items (False, as SELFRec).
    """

    hidden_dim: int = Field(1024, ge=1)
    out_dim: int = Field(128, ge=1)
    tau: float = Field(0.07, gt=0)
    cl_weight: float = Field(0.1, ge=0)
    drop_rate: float = Field(0.1, ge=0, lt=1)
    view: Literal["dropout", "mask"] = "dropout"
    cl_items: Literal["batch", "uniform"] = "batch"
    logq_correction: bool = False


def _tower(cfg: SSL4RecConfig) -> nn.Sequential:
    return nn.Sequential(nn.Linear(cfg.embedding_dim, cfg.hidden_dim), nn.ReLU(),
                         nn.Linear(cfg.hidden_dim, cfg.out_dim), nn.Tanh())


@register_model("SSL4Rec")
class SSL4Rec(EmbeddingCF):
    """SSL4Rec: a two-tower retrieval model (user tower and item tower, each an MLP over the
    ID embedding) trained with an in-batch softmax, plus a contrastive task on the item tower:
    two augmented views of an item's input features must identify each other among the other
    items' views. Items here have only ID features, so, following SELFRec, the views perturb
    the item's ID embedding (dropout of its entries, or complementary masks of its dimensions).

    Yao et al., "Self-supervised Learning for Large-scale Item Recommendations", CIKM 2021
    (Sec. 3; the equations used, for a batch of pairs ``(u, i)`` of size ``B``):

    * ``q_u = g(x_u)``, ``v_i = t(x_i)``: towers ``Linear(D, H) → ReLU → Linear(H, O) → tanh``;
    * main loss: in-batch softmax ``−mean_n log[exp(ŝ(q_n, v_n)/τ) / Σ_m exp(ŝ(q_n, v_m)/τ)]``
      with cosine ``ŝ`` (:func:`~ssrec.losses.batch_softmax`), optionally with the logQ
      correction ``ŝ(q_n, v_m)/τ − log Q_m`` (``logq_correction``);
    * self-supervised loss on items ``j``: the same InfoNCE between ``t(aug₁(x_j))`` and
      ``t(aug₂(x_j))``;
    * total ``L = L_main + α L_self + l2_reg · ‖x_batch‖² / (2B)``;
    * score ``s(u, i) = ŝ(q_u, v_i)``, the cosine the softmax is trained on.

    Shapes: ID tables ``[U, D]``, ``[I, D]``; towers ``[·, D] → [·, O]``; ``score(users [B])
    -> [B, I]``.

    Config: ``embedding_dim`` 64, ``hidden_dim`` 1024, ``out_dim`` 128, ``tau`` 0.07,
    ``cl_weight`` 0.1, ``drop_rate`` 0.1, ``view`` "dropout", ``cl_items`` "batch",
    ``l2_reg`` 1e-4. The batch's negatives are ignored (the other pairs are the negatives).
    """

    Config = SSL4RecConfig
    paper = ("Yao et al., Self-supervised Learning for Large-scale Item Recommendations, "
             "CIKM 2021")

    def __init__(self, cfg: SSL4RecConfig, data: InteractionData):
        super().__init__(cfg, data)
        self.user_tower = _tower(cfg)
        self.item_tower = _tower(cfg)
        pop = torch.as_tensor(data.item_popularity, dtype=torch.float64)
        self.register_buffer("log_q", (pop / pop.sum()).log().float(), persistent=False)

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """L2-normalised tower outputs ``[U, O]`` and ``[I, O]`` (inner product = cosine)."""
        return (F.normalize(self.user_tower(self.user_embedding.weight), dim=-1),
                F.normalize(self.item_tower(self.item_embedding.weight), dim=-1))

    def _views(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cfg.view == "mask":
            return complementary_masks(x, self.cfg.drop_rate, self.generator)
        return (embedding_dropout(x, self.cfg.drop_rate, self.generator),
                embedding_dropout(x, self.cfg.drop_rate, self.generator))

    def loss(self, batch: PairBatch) -> LossOutput:
        cfg = self.cfg
        x_u, x_i = self.user_embedding(batch.users), self.item_embedding(batch.pos)  # [B, D]
        main = batch_softmax(self.user_tower(x_u), self.item_tower(x_i), cfg.tau,
                             log_q=self.log_q[batch.pos] if cfg.logq_correction else None)
        if cfg.cl_items == "uniform":
            n = min(len(batch), self.n_items)
            items = torch.randperm(self.n_items, generator=self.generator,
                                   device=batch.pos.device)[:n]
        else:
            items = batch.distinct_pos()
        v1, v2 = self._views(self.item_embedding(items))
        cl = info_nce(self.item_tower(v1), self.item_tower(v2), cfg.tau)
        parts = {"softmax": main, "cl": cfg.cl_weight * cl,
                 "reg": cfg.l2_reg * l2_regularization(x_u, x_i)}
        return LossOutput(parts["softmax"] + parts["cl"] + parts["reg"], parts)
