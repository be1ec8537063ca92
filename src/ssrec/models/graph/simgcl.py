"""SimGCL."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from pydantic import Field

from ssrec.augment import uniform_noise
from ssrec.errors import ConfigError
from ssrec.models.base import LossOutput, TrainContext, register_model
from ssrec.models.cf import GraphCF, GraphConfig
from ssrec.sampling import PairBatch


class SimGCLConfig(GraphConfig):
    """SimGCL hyper-parameters (defaults: the paper / its reference implementation).

    Attributes:
        n_layers: propagation layers (2).
        eps: L2 norm of the noise added at every layer, ε (0.1).
        tau: InfoNCE temperature τ (0.2).
        cl_weight: weight λ of the contrastive loss (0.5).
        noise_stream: how the noise is drawn (``"counter"``): ``"counter"`` is a counter-based
            stream drawn by a compiled kernel (:func:`~ssrec.augment.uniform_noise`), and the
            last layer's noise only at the rows the loss reads (the same distribution), with
            the fused InfoNCE (:func:`~ssrec.losses.info_nce`). ``"torch"`` reproduces the
            runs from before this option existed bit for bit: one ``torch.rand`` draw per layer
            for all nodes, and their arithmetic (slower: see ``docs/benchmarks.md``). A run
            resumed from a ``config.yaml`` saved without the key reads it as ``"torch"``.
            ``"parallel"``, the default for a day before ``"counter"`` replaced it, is
            accepted so that its runs can still be evaluated, but training with it is refused.
    """

    n_layers: int = Field(2, ge=1)
    eps: float = Field(0.1, ge=0)
    tau: float = Field(0.2, gt=0)
    cl_weight: float = Field(0.5, ge=0)
    noise_stream: Literal["counter", "torch", "parallel"] = "counter"
    # runs saved before the key existed drew the "torch" stream
    legacy_defaults: ClassVar[dict[str, Any]] = {"noise_stream": "torch"}


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
    paper = ("Yu et al., Are Graph Augmentations Necessary? Simple Graph Contrastive Learning "
             "for Recommendation, SIGIR 2022")
    include_ego = False

    def on_fit_start(self, ctx: TrainContext) -> None:
        super().on_fit_start(ctx)
        if self.cfg.noise_stream == "parallel":
            raise ConfigError(
                "model.noise_stream: the 'parallel' noise stream was replaced by 'counter' on "
                "2026-11-30 (the same distribution, drawn faster); a run made with it cannot "
                "be continued bit for bit: start it again, or set noise_stream: counter in its "
                "config.yaml to continue it with the new stream")

    @property
    def _fast(self) -> bool:
        """Today's arithmetic (the counter stream): False for ``noise_stream="torch"``, which
        reproduces older runs bit for bit (one ego per view, InfoNCE as autograd's
        composite)."""
        return self.cfg.noise_stream == "counter"

    def _noise(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        return uniform_noise(x, self.cfg.eps, generator=self.generator,
                             stream=self.cfg.noise_stream)

    def loss(self, batch: PairBatch) -> LossOutput:
        # each loss reads the layer average at the rows it needs (rows_reader)
        ego = self.ego()
        parts = self.node_bpr_parts(self.rows_reader(ego=ego), ego, batch)
        fast = self._fast  # else each view builds its own ego (another summation order)
        view1, view2 = (self.rows_reader(self._noise, fast, ego if fast else None)
                        for _ in range(2))
        parts["cl"] = self.cfg.cl_weight * self.node_info_nce(view1, view2, batch, self.cfg.tau,
                                                              fused=fast)
        return LossOutput(parts["bpr"] + parts["reg"] + parts["cl"], parts)
