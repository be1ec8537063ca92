"""SimGCL."""

from __future__ import annotations

import torch
from pydantic import Field

from ssrec.augment import uniform_noise
from ssrec.models.base import LossOutput, register_model
from ssrec.models.cf import GraphCF, GraphConfig
from ssrec.sampling import PairBatch


class SimGCLConfig(GraphConfig):
    """SimGCL hyper-parameters (defaults: the paper / its reference implementation).

    Attributes:
        n_layers: propagation layers (2).
        eps: L2 norm of the noise added at every layer, ε (0.1).
        tau: InfoNCE temperature τ (0.2).
        cl_weight: weight λ of the contrastive loss (0.5).
    """

    n_layers: int = Field(2, ge=1)
    eps: float = Field(0.1, ge=0)
    tau: float = Field(0.2, gt=0)
    cl_weight: float = Field(0.5, ge=0)


@register_model("SimGCL")
class SimGCL(GraphCF):
    """SimGCL: graph contrastive learning without graph augmentation. Two views come from
    LightGCN propagation with sign-aligned uniform noise of norm ε added to every layer's output;
    InfoNCE contrasts the views of the batch's distinct users and distinct items. The
    recommendation view is the noise-free propagation, averaged over layers ``1..L``.

    Yu et al., "Are Graph Augmentations Necessary? Simple Graph Contrastive Learning for
    Recommendation", SIGIR 2022 (Eqs. 7-8; loss Eq. 1 with λ).

    Shapes: ``score(users [B]) -> [B, I]``; the InfoNCE terms are over ``[B_u, D]`` and
    ``[B_i, D]`` (distinct users / positive items of the batch).

    Config: ``n_layers`` 2, ``eps`` 0.1, ``tau`` 0.2, ``cl_weight`` 0.5, ``embedding_dim`` 64,
    ``l2_reg`` 1e-4.
    """

    Config = SimGCLConfig
    supports_sampled = True
    paper = ("Yu et al., Are Graph Augmentations Necessary? Simple Graph Contrastive Learning "
             "for Recommendation, SIGIR 2022")
    include_ego = False

    def _noise(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        return uniform_noise(x, self.cfg.eps, generator=self.generator)

    def loss(self, batch: PairBatch) -> LossOutput:
        # each loss reads the layer average at the rows it needs (rows_reader)
        ego = self.loss_ego()
        parts = self.node_bpr_parts(self.rows_reader(ego=ego), ego, batch)
        # the last layer is perturbed at the rows the loss reads only (the same distribution)
        view1, view2 = (self.rows_reader(self._noise, last_noise_at_rows=True, ego=ego)
                        for _ in range(2))
        parts["cl"] = self.cfg.cl_weight * self.node_info_nce(view1, view2, batch, self.cfg.tau)
        return LossOutput(parts["bpr"] + parts["reg"] + parts["cl"], parts)
