"""Family base for negative-free siamese graph recommenders (BUIR, SelfCF).

These models learn only from observed (user, item) pairs: an *online* LightGCN encoder plus a
linear *predictor* ``h`` is trained so that ``h(e_u)`` predicts a *target* view of the item and
``h(e_i)`` a target view of the user; the target carries no gradient (a momentum encoder in
BUIR, a perturbed copy of the online output in SelfCF), which is what prevents collapse.
Scoring is symmetric in the two directions:

    s(u, i) = h(e_u)·e_i + e_u·h(e_i)

computed as one inner product of the concatenations ``[h(e_u), e_u]`` and ``[e_i, h(e_i)]``,
so the shared cached scoring of :class:`~ssrec.models.cf.EmbeddingCF` applies unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from pydantic import Field
from torch import nn

from ssrec.losses import cosine_loss, l2_regularization
from ssrec.models.cf import GraphCF, GraphConfig

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData
    from ssrec.sampling import PairBatch


class SiameseConfig(GraphConfig):
    """Attributes:
        l2_reg: weight of the L2 penalty on the batch's layer-0 online embeddings (default 0:
            the reference implementations add none to the loss).
    """

    l2_reg: float = Field(0.0, ge=0)


class SiameseGraphCF(GraphCF):
    """:class:`GraphCF` (the online encoder) plus a linear predictor ``h: R^D → R^D`` (with
    bias, PyTorch's default initialisation) and the two-sided score above.

    Subclasses implement ``loss`` with :meth:`bootstrap_parts`, which takes the online
    representations of the batch and the (gradient-free) targets.
    """

    Config = SiameseConfig

    def __init__(self, cfg: SiameseConfig, data: InteractionData):
        super().__init__(cfg, data)
        self.predictor = nn.Linear(cfg.embedding_dim, cfg.embedding_dim)

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Scoring representations ``[h(e_u), e_u]`` (``[U, 2D]``) and ``[e_i, h(e_i)]``
        (``[I, 2D]``) of the online encoder on the full training graph."""
        users, items, _ = self.propagate()
        return (torch.cat([self.predictor(users), users], dim=1),
                torch.cat([items, self.predictor(items)], dim=1))

    def bootstrap_parts(self, batch: PairBatch, u_online: torch.Tensor, i_online: torch.Tensor,
                        u_target: torch.Tensor, i_target: torch.Tensor, weight: float
                        ) -> dict[str, torch.Tensor]:
        """``weight · [cosine_loss(h(e_u), z_i) + cosine_loss(h(e_i), z_u)]`` plus the L2 term.

        Args:
            batch: the pairs (its ``neg`` field is ignored: no negatives).
            u_online, i_online: ``[B, D]`` online representations of the batch's users and
                positive items.
            u_target, i_target: ``[B, D]`` their targets (must not require gradients).
            weight: the loss scale of the model (BUIR 2: ``‖p̂ − ẑ‖²``; SelfCF 1/2).

        Returns:
            ``{"bootstrap": scalar, "reg": scalar}``.
        """
        loss = (cosine_loss(self.predictor(u_online), i_target)
                + cosine_loss(self.predictor(i_online), u_target))
        reg = l2_regularization(self.user_embedding(batch.users), self.item_embedding(batch.pos))
        return {"bootstrap": weight * loss, "reg": self.cfg.l2_reg * reg}
