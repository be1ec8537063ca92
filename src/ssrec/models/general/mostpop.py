"""Most-popular baseline."""

from __future__ import annotations

import torch

from ssrec.data.dataset import InteractionData
from ssrec.models.base import ModelConfig, Recommender, register_model


@register_model("MostPop")
class MostPop(Recommender):
    """Recommends the items with the most training interactions to everyone.

    The non-personalised reference point every model must beat. Nothing is trained: the item
    counts are computed at build time and kept in a buffer (saved with the model).
    """

    Config = ModelConfig
    paper = "Non-personalised popularity baseline"
    trainable = False

    def __init__(self, cfg: ModelConfig, data: InteractionData):
        super().__init__(cfg, data)
        pop = torch.as_tensor(data.item_popularity, dtype=torch.float32)
        self.register_buffer("popularity", pop)  # [I]

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self.popularity.unsqueeze(0).expand(users.shape[0], -1)  # [B, I]
