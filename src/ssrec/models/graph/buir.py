"""BUIR."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from pydantic import Field

from ssrec.augment import edge_dropout_adjacency
from ssrec.models.base import LossOutput, register_model
from ssrec.models.layers import ema_, propagate
from ssrec.models.siamese import SiameseConfig, SiameseGraphCF

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData
    from ssrec.sampling import PairBatch


class BUIRConfig(SiameseConfig):
    """BUIR hyper-parameters (defaults: the authors' reference implementation of BUIR_nb).

    Attributes:
        n_layers: LightGCN layers of both encoders (3); 0 gives the ID-embedding encoder of
            BUIR_id (then ``drop_rate`` has no effect).
        momentum: ``τ`` of the target update ``ξ ← τ ξ + (1 − τ) θ`` (0.995).
        drop_rate: upper bound of the edge-drop probability of the augmentation: each encoder
            pass draws ``p ~ U(0, drop_rate)`` and drops each training edge with probability
            ``p`` (0.2; 0 disables the augmentation).
        l2_reg: L2 weight on the batch's layer-0 online embeddings (0; the reference code uses
            Adam weight decay 1e-4 instead, i.e. ``train.weight_decay=1e-4``).
    """

    n_layers: int = Field(3, ge=0)
    momentum: float = Field(0.995, ge=0, le=1)
    drop_rate: float = Field(0.2, ge=0, lt=1)


@register_model("BUIR")
class BUIR(SiameseGraphCF):
    """BUIR: bootstrapped user and item representations, without negatives. The online encoder
    ``f_θ`` (LightGCN over the training graph) and predictor ``q_θ`` learn to predict the output
    of a target encoder ``f_ξ`` for the *other* side of each observed pair; the target is not
    trained by gradients but follows the online encoder as a moving average after every
    optimiser step (``on_after_step``). Both encoders see independently augmented graphs
    (stochastic edge dropout, renormalised). This is BUIR_nb, the variant SELFRec ships;
    ``n_layers=0`` gives BUIR_id.

    Lee et al., "Bootstrapping User and Item Representations for One-Class Collaborative
    Filtering", SIGIR 2021 (Sec. 3; the equations used, for a batch of pairs ``(u, i)``):

    * loss ``L = mean[ ‖q̂_θ(f_θ(u)) − f̂_ξ(i)‖² + ‖q̂_θ(f_θ(i)) − f̂_ξ(u)‖² ]`` with ``x̂ = x/‖x‖``
      (``= 2 − 2 cos`` per term; :func:`~ssrec.losses.cosine_loss` × 2);
    * target update ``ξ ← τ ξ + (1 − τ) θ`` after each step (:func:`~ssrec.models.layers.ema_`);
    * score ``s(u, i) = q_θ(f_θ(u))·f_θ(i) + f_θ(u)·q_θ(f_θ(i))`` on the unaugmented graph.

    Shapes: online/target tables ``[U, D]``, ``[I, D]``; ``score(users [B]) -> [B, I]``.

    Config: ``n_layers`` 3, ``momentum`` 0.995, ``drop_rate`` 0.2, ``embedding_dim`` 64,
    ``l2_reg`` 0. The batch's negatives are ignored.
    """

    Config = BUIRConfig
    paper = ("Lee et al., Bootstrapping User and Item Representations for One-Class "
             "Collaborative Filtering, SIGIR 2021")

    def __init__(self, cfg: BUIRConfig, data: InteractionData):
        super().__init__(cfg, data)
        # the target encoder ξ: starts as a copy of θ, updated only by ema_
        self.register_buffer("target_user", self.user_embedding.weight.detach().clone())
        self.register_buffer("target_item", self.item_embedding.weight.detach().clone())
        self.register_buffer("edge_user", torch.as_tensor(data.train.user, dtype=torch.long),
                             persistent=False)
        self.register_buffer("edge_item", torch.as_tensor(data.train.item, dtype=torch.long),
                             persistent=False)

    def _augmented_graph(self) -> torch.Tensor:
        if self.cfg.drop_rate == 0 or self.cfg.n_layers == 0:
            return self.adj
        device = self.edge_user.device
        p = float(torch.rand((), generator=self.generator, device=device)) * self.cfg.drop_rate
        return edge_dropout_adjacency(self.edge_user, self.edge_item, self.n_users,
                                      self.n_items, p, generator=self.generator)

    def loss(self, batch: PairBatch) -> LossOutput:
        users, items, _ = self.propagate(self._augmented_graph())
        with torch.no_grad():
            ego = torch.cat([self.target_user, self.target_item])
            target, _ = propagate(self._augmented_graph(), ego, self.cfg.n_layers)
            t_users, t_items = torch.split(target, [self.n_users, self.n_items])
        parts = self.bootstrap_parts(batch, users[batch.users], items[batch.pos],
                                     t_users[batch.users], t_items[batch.pos], weight=2.0)
        return LossOutput(parts["bootstrap"] + parts["reg"], parts)

    def on_after_step(self) -> None:
        ema_([self.target_user, self.target_item],
             [self.user_embedding.weight, self.item_embedding.weight], self.cfg.momentum)
