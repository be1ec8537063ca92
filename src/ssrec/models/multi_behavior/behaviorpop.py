"""BehaviorPop: the user's own auxiliary-behaviour items, then the most popular."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ssrec.models.base import ModelConfig, Recommender, register_model
from ssrec.models.layers import csr_buffers, csr_rows_dense

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData


@register_model("BehaviorPop")
class BehaviorPop(Recommender):
    """Recommends the items the user carted, then those the user viewed (the auxiliary
    behaviours of the training data), then everything else by target-behaviour popularity.

    The multi-behaviour counterpart of the transition baseline of sequential models: how much
    of a multi-behaviour model's accuracy does "buy what you looked at" already give? With the
    auxiliary behaviours ``b_1 … b_K`` in cascade order (view → cart on the registered
    datasets, later = closer to the target) and ``pop_i`` the item's training count in the
    target behaviour,

        ``s(u, i) = Σ_k 2^(k-1) · [ (u, i) ∈ b_k ] + pop_i / (max_j pop_j + 1)``,

    so a later behaviour outranks any combination of earlier ones, the user's items outrank
    every other item, and popularity orders the ties. The target behaviour's own training
    items are masked by the evaluator as for every model. Nothing is trained
    (``trainable = False``); the weighted ``[U, I]`` matrix is kept as CSR buffers.

    Shapes: ``score(users [B]) -> [B, I]``. No hyper-parameters.

    Raises:
        SsrecError: single-behaviour data (as every multi-behaviour model).
    """

    Config = ModelConfig
    family = "multi_behavior"
    needs_behaviors = True
    paper = "Reference baseline: the user's auxiliary-behaviour items, then popularity"
    trainable = False

    def __init__(self, cfg: ModelConfig, data: InteractionData):
        super().__init__(cfg, data)
        mb = data.behaviors
        assert mb is not None  # build() refuses single-behaviour data
        weighted = sum(mb.csr(b) * float(2 ** k) for k, b in enumerate(mb.auxiliary))
        for name, t in zip(("aux_crow", "aux_col", "aux_val"), csr_buffers(weighted)):
            self.register_buffer(name, t)  # [U, I]
        pop = torch.as_tensor(data.item_popularity, dtype=torch.float32)
        self.register_buffer("popularity", pop / (pop.max() + 1))  # [I], in [0, 1)

    def score(self, users: torch.Tensor) -> torch.Tensor:
        own = csr_rows_dense(self.aux_crow, self.aux_col, self.aux_val, users, self.n_items)
        return own + self.popularity.unsqueeze(0)  # [B, I]
