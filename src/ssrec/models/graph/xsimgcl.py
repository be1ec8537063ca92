"""XSimGCL."""

from __future__ import annotations

from pydantic import Field, model_validator

from ssrec.models.base import LossOutput, register_model
from ssrec.models.graph.simgcl import SimGCL, SimGCLConfig
from ssrec.sampling import PairBatch


class XSimGCLConfig(SimGCLConfig):
    """XSimGCL hyper-parameters (defaults: the paper / its reference implementation); SimGCL's,
    plus the contrasted layer.

    Attributes:
        n_layers: propagation layers (2).
        layer_cl: the layer ``l*`` whose output is contrasted with the final representation (1).
        eps: L2 norm of the per-layer noise ε (0.2).
        tau: InfoNCE temperature τ (0.15).
        cl_weight: weight λ of the contrastive loss (0.2).
    """

    layer_cl: int = Field(1, ge=1)
    eps: float = Field(0.2, ge=0)
    tau: float = Field(0.15, gt=0)
    cl_weight: float = Field(0.2, ge=0)

    @model_validator(mode="after")
    def _check_layer(self) -> XSimGCLConfig:
        if self.layer_cl > self.n_layers:
            raise ValueError(f"layer_cl ({self.layer_cl}) must be <= n_layers ({self.n_layers})")
        return self


@register_model("XSimGCL")
class XSimGCL(SimGCL):
    """XSimGCL: SimGCL with a single noisy forward pass. The final (layer-averaged, 1..L)
    representation of the noisy propagation is used both for the BPR loss and as one view; the
    output of layer ``l*`` of the same pass is the other view (cross-layer contrast). Scoring
    uses the noise-free propagation.

    Yu et al., "XSimGCL: Towards Extremely Simple Graph Contrastive Learning for
    Recommendation", IEEE TKDE 2023 (Eqs. 9-11).

    Shapes: ``score(users [B]) -> [B, I]``.

    Config: ``n_layers`` 2, ``layer_cl`` 1, ``eps`` 0.2, ``tau`` 0.15, ``cl_weight`` 0.2,
    ``embedding_dim`` 64, ``l2_reg`` 1e-4.
    """

    Config = XSimGCLConfig
    supports_sampled = False  # its loss reads one full propagation's layers
    paper = ("Yu et al., XSimGCL: Towards Extremely Simple Graph Contrastive Learning for "
             "Recommendation, IEEE TKDE 2023")

    def loss(self, batch: PairBatch) -> LossOutput:
        # every layer is perturbed in full: the BPR and InfoNCE terms read the last one at
        # all their rows
        nodes, layers = self.propagate_nodes(layer_hook=self._noise)  # [U+I, D]
        parts = self.node_bpr_parts(nodes, layers[0], batch)
        cl_view = layers[self.cfg.layer_cl]  # [U+I, D]
        parts["cl"] = self.cfg.cl_weight * self.node_info_nce(
            nodes, cl_view, batch, self.cfg.tau)
        return LossOutput(parts["bpr"] + parts["reg"] + parts["cl"], parts)
