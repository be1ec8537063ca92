"""MixGCF."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from ssrec.losses import bpr_loss, l2_regularization
from ssrec.models.base import LossOutput, register_model
from ssrec.models.cf import GraphCF, GraphConfig
from ssrec.sampling import PairBatch


class MixGCFConfig(GraphConfig):
    """MixGCF hyper-parameters (defaults: the paper's / official code's, LightGCN backbone).

    Attributes:
        n_layers: propagation layers (3).
        n_candidates: ``M``, uniformly sampled negative candidates per training pair from which
            the hard negative is synthesised (64); the shared sampler draws them.
    """

    n_layers: int = Field(3, ge=1)
    n_candidates: int = Field(64, ge=1)


@register_model("MixGCF")
class MixGCF(GraphCF):
    """MixGCF: LightGCN trained with synthesised hard negatives. For a pair (u, i) with
    candidate negatives ``v_1..v_M`` (the sampler's ``neg``):

    1. positive mixing: every layer's candidate embedding is interpolated towards the
       positive, ``e'_{v_m}^(l) = α^(l) e_i^(l) + (1 - α^(l)) e_{v_m}^(l)``, with one
       ``α^(l) ~ U(0, 1)`` per pair and layer;
    2. hop mixing: at each layer ``l`` the mixed candidate with the highest inner
       product with the user's pooled representation ``e_u`` is picked (a detached arg-max), and
       the ``L+1`` picked layer embeddings are pooled (mean, as LightGCN) into the negative
       ``e_{v^-}`` used by BPR: ``-log σ(e_u·e_i - e_u·e_{v^-})``.

    Because ``α^(l)`` is shared by the candidates of a pair, the arg-max equals the arg-max of
    ``e_u · e_{v_m}^(l)``, so scores are taken on the raw candidates and only the ``L+1``
    picked embeddings are mixed (no ``[B, M, L+1, D]`` tensor carries gradients).

    Huang et al., "MixGCF: An Improved Training Method for Graph Neural Network-based
    Recommender Systems", KDD 2021, Sec. 3 (positive mixing, hop mixing, pooling).

    Shapes: candidates ``[B, M]``; layer embeddings ``[B, L+1, D]``; ``score(users [B]) ->
    [B, I]``.

    Config: ``n_layers`` 3, ``n_candidates`` 64, ``embedding_dim`` 64, ``l2_reg`` 1e-4 (on the
    layer-0 embeddings of user, positive and synthesised negative).
    """

    Config = MixGCFConfig
    paper = ("Huang et al., MixGCF: An Improved Training Method for Graph Neural Network-based "
             "Recommender Systems, KDD 2021")

    def sampler_options(self) -> dict[str, Any]:
        return {"n_negatives": self.cfg.n_candidates}

    def synthesize(self, u: torch.Tensor, pos: torch.Tensor, candidates: torch.Tensor,
                   item_layers: torch.Tensor) -> torch.Tensor:
        """Hard negatives by positive mixing and hop mixing.

        Args:
            u: ``[B, D]`` pooled user representations.
            pos: ``[B, L+1, D]`` per-layer embeddings of the positive items.
            candidates: ``int64 [B, M]`` candidate negative items.
            item_layers: ``[I, L+1, D]`` per-layer embeddings of all items.

        Returns:
            ``[B, L+1, D]`` per-layer embeddings of the synthesised negatives.
        """
        with torch.no_grad():
            scores = torch.einsum("bd,bmld->bml", u, item_layers[candidates])  # [B, M, L+1]
            pick = candidates.gather(1, scores.argmax(dim=1))  # [B, L+1]: item per layer
        hops = torch.arange(item_layers.shape[1], device=pick.device)
        n = item_layers[pick, hops]  # [B, L+1, D]
        alpha = torch.rand(pos.shape[0], pos.shape[1], 1, generator=self.generator,
                           device=pos.device, dtype=pos.dtype)
        return alpha * pos + (1 - alpha) * n

    def loss(self, batch: PairBatch) -> LossOutput:
        users, items, layers = self.propagate()
        item_layers = torch.stack(layers, dim=1)[self.n_users:]  # [I, L+1, D]
        u = users[batch.users]  # [B, D]
        mixed = self.synthesize(u, item_layers[batch.pos], batch.neg, item_layers)
        neg = mixed.mean(dim=1)  # [B, D], mean pooling as LightGCN
        reg = l2_regularization(self.user_embedding(batch.users), self.item_embedding(batch.pos),
                                mixed[:, 0])
        parts = {"bpr": bpr_loss((u * items[batch.pos]).sum(-1), (u * neg).sum(-1)),
                 "reg": self.cfg.l2_reg * reg}
        return LossOutput(parts["bpr"] + parts["reg"], parts)
