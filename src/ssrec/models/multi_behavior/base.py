"""The family base of the multi-behaviour models."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ssrec.losses import bpr_loss
from ssrec.models.cf import EmbeddingCF, EmbeddingConfig

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData
    from ssrec.sampling import BehaviorPairBatch


class MultiBehaviorCF(EmbeddingCF):
    """:class:`~ssrec.models.cf.EmbeddingCF` plus one normalised adjacency per behaviour.

    The adjacencies ``Â_k`` (``[U+I, U+I]``, LightGCN's ``D^-1/2 A_k D^-1/2``, Eq. 7 of He et
    al., SIGIR 2020) are non-persistent buffers in **cascade order**: the auxiliary behaviours
    in the dataset's order, then the target (view → cart → buy on the registered datasets). The
    target's graph holds its training rows without the validation rows, so no evaluation pair
    leaks into propagation through the target graph (an auxiliary behaviour may hold the pair,
    as the published splits allow).

    Attributes:
        cascade: behaviour names in cascade order (target last).
        behavior_names: the dataset's order, which indexes the ``beh_*`` rows of a
            :class:`~ssrec.sampling.BehaviorPairBatch`.
    """

    Config = EmbeddingConfig
    family = "multi_behavior"
    needs_behaviors = True

    def __init__(self, cfg: EmbeddingConfig, data: InteractionData):
        super().__init__(cfg, data)
        mb = data.behaviors
        assert mb is not None  # build() refuses single-behaviour data
        self.behavior_names = mb.names
        self.target = mb.target
        self.cascade = mb.auxiliary + (mb.target,)
        for k, b in enumerate(self.cascade):
            self.register_buffer(f"adj_{k}", mb.norm_adj(b), persistent=False)

    def behavior_adjs(self) -> list[torch.Tensor]:
        """The ``K`` adjacencies ``[U+I, U+I]`` in cascade order."""
        return [getattr(self, f"adj_{k}") for k in range(len(self.cascade))]

    def ego(self) -> torch.Tensor:
        """Layer-0 embeddings of all nodes, users first: ``[U+I, D]``."""
        return torch.cat([self.user_embedding.weight, self.item_embedding.weight], dim=0)

    def behavior_bpr(self, users_all: torch.Tensor, items_all: torch.Tensor,
                     batch: BehaviorPairBatch) -> torch.Tensor:
        """BPR loss of every behaviour's triples (Rendle et al., UAI 2009), users without a
        positive of a behaviour left out of its mean.

        Args:
            users_all: ``[U, D]`` user representations, or ``[K, U, D]``: one per behaviour
                (``behavior_names`` order), each behaviour's triples scored on its own.
            items_all: ``[I, D]`` item representations, or ``[K, I, D]`` likewise.
            batch: a :class:`~ssrec.sampling.BehaviorPairBatch`.

        Returns:
            ``[K]`` losses in ``behavior_names`` order (0 for a behaviour no user of the batch
            has).
        """
        assert batch.beh_pos is not None and batch.beh_neg is not None
        assert batch.beh_has is not None
        out = []
        for k in range(len(self.behavior_names)):
            has = batch.beh_has[k]  # [B]
            if not bool(has.any()):
                out.append(users_all.new_zeros(()))
                continue
            users = users_all[k] if users_all.dim() == 3 else users_all
            items = items_all[k] if items_all.dim() == 3 else items_all
            uk = users[batch.users[has]]  # [B_k, D]
            pos = (uk * items[batch.beh_pos[k][has]]).sum(-1)  # [B_k]
            neg = (uk.unsqueeze(1) * items[batch.beh_neg[k][has]]).sum(-1)  # [B_k, N]
            out.append(bpr_loss(pos, neg))
        return torch.stack(out)
