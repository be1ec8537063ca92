"""MB-CGCN: cascading graph convolution over the behaviour chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from pydantic import Field
from torch import nn

from ssrec.models.base import LossOutput, register_model
from ssrec.models.cf import EmbeddingConfig
from ssrec.models.layers import cascade_propagate
from ssrec.models.multi_behavior.base import MultiBehaviorCF

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData
    from ssrec.sampling import PairBatch


class MBCGCNConfig(EmbeddingConfig):
    """Attributes:
        n_layers: ``L_k``, LightGCN layers of every behaviour's block (default 3).
        layers_per_behavior: one layer count per behaviour in cascade order (overrides
            ``n_layers``; the authors' Beibei command uses ``(3, 4, 3)`` for view, cart, buy);
            ``None`` (default): ``n_layers`` for each.
        transform_std: standard deviation of the normal initial transformation matrices
            (default 0.01, the official code's initializer).
    """

    n_layers: int = Field(3, ge=0)
    layers_per_behavior: tuple[int, ...] | None = None
    transform_std: float = Field(0.01, gt=0)


@register_model("MBCGCN")
class MBCGCN(MultiBehaviorCF):
    """MB-CGCN: one LightGCN block per behaviour, chained in the cascade order view → cart →
    buy; each block starts from the previous block's output after a behaviour feature
    transformation (separate ``[D, D]`` matrices for users and items, no bias); the final
    representation is the **sum** of the blocks' outputs; BPR on the target behaviour only.

    Cheng, Han, Liu, Zhu, Gao, Peng, "Multi-Behavior Recommendation with Cascading Graph
    Convolution Networks", WWW 2023 (Eqs. 1-8; official TF code SS-00-SS/MBCGCN). Not done
    here: the optional pre-training of the first block on the view graph (the README's
    recipe); every block starts from the same randomly initialised layer-0 embeddings.

    Shapes: embeddings ``[U, D]`` / ``[I, D]``, transforms ``[D, D]`` × ``2 (K - 1)``;
    ``score(users [B]) -> [B, I]``.

    Config (defaults): ``embedding_dim`` 64, ``n_layers`` 3 per behaviour, ``l2_reg`` 1e-4
    (the README's ``regs``), ``transform_std`` 0.01.
    """

    Config = MBCGCNConfig
    paper = ("Cheng et al., Multi-Behavior Recommendation with Cascading Graph Convolution "
             "Networks, WWW 2023")
    batch_kind = "pairwise"  # the target behaviour's triples only (Eq. 8)

    def __init__(self, cfg: MBCGCNConfig, data: InteractionData):
        super().__init__(cfg, data)
        k = len(self.cascade)
        layers = cfg.layers_per_behavior or (cfg.n_layers,) * k
        if len(layers) != k:
            from ssrec.errors import ConfigError

            raise ConfigError(f"model.layers_per_behavior has {len(layers)} entries but "
                              f"{data.name!r} has {k} behaviours ({', '.join(self.cascade)})")
        self.layers = tuple(int(x) for x in layers)
        d = cfg.embedding_dim
        self.w_user = nn.ParameterList([nn.Parameter(torch.empty(d, d)) for _ in range(k - 1)])
        self.w_item = nn.ParameterList([nn.Parameter(torch.empty(d, d)) for _ in range(k - 1)])
        for w in (*self.w_user, *self.w_item):
            nn.init.normal_(w, std=cfg.transform_std)

    def _transform(self, k: int):
        def f(x: torch.Tensor) -> torch.Tensor:  # [U+I, D] -> [U+I, D]
            u, i = x[:self.n_users], x[self.n_users:]
            return torch.cat([u @ self.w_user[k], i @ self.w_item[k]], dim=0)
        return f

    def propagate_nodes(self) -> torch.Tensor:
        """``Σ_k E_k``, ``[U+I, D]`` (Eq. 7: the blocks' outputs summed)."""
        outs = cascade_propagate(self.behavior_adjs(), self.ego(), self.layers,
                                 [self._transform(k) for k in range(len(self.cascade) - 1)])
        return torch.stack(outs).sum(0)

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        nodes = self.propagate_nodes()
        return nodes[:self.n_users], nodes[self.n_users:]

    def loss(self, batch: PairBatch) -> LossOutput:
        users, items = self.embeddings()
        parts = self.bpr_parts(users, items, batch)
        return LossOutput(parts["bpr"] + parts["reg"], parts)
