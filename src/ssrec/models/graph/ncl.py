"""NCL."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator

from ssrec.losses import info_nce_candidates
from ssrec.models.base import LossOutput, TrainContext, register_model
from ssrec.models.cf import GraphCF, GraphConfig
from ssrec.sampling import PairBatch
from ssrec.utils.cluster import kmeans

log = logging.getLogger(__name__)


class NCLConfig(GraphConfig):
    """NCL hyper-parameters (defaults: the paper's reference configuration).

    The official code sums both contrastive losses over a batch of 4,096 interactions while
    BPR is a mean; every loss is a mean here, so the paper's weights are multiplied by 4,096.

    Attributes:
        n_layers: propagation layers (3).
        hyper_layers: structural neighbours are read at layer ``2 * hyper_layers`` (1: the
            2-hop, same-type neighbours); needs ``2 * hyper_layers <= n_layers``.
        tau: temperature τ of both contrastive losses (0.1).
        cl_weight: weight λ1 of the structural loss (4.1e-4 = 1e-7 × 4,096).
        alpha: weight α of the item side in the structural loss (1.0).
        proto_weight: weight λ2 of the prototype loss (3.3e-4 = 8e-8 × 4,096).
        n_clusters: k-means prototypes ``k`` for users and for items (1000). **Capped** at the
            number of users (items), with a warning: k-means cannot form more clusters than
            there are points.
        warmup_epochs: epochs trained without the prototype loss (20).
        kmeans_iters: Lloyd iterations of each E-step (20).
    """

    n_layers: int = Field(3, ge=2)
    hyper_layers: int = Field(1, ge=1)
    tau: float = Field(0.1, gt=0)
    cl_weight: float = Field(4.1e-4, ge=0)
    alpha: float = Field(1.0, ge=0)
    proto_weight: float = Field(3.3e-4, ge=0)
    n_clusters: int = Field(1000, ge=1)
    warmup_epochs: int = Field(20, ge=0)
    kmeans_iters: int = Field(20, ge=1)

    @model_validator(mode="after")
    def _check_layers(self) -> NCLConfig:
        if 2 * self.hyper_layers > self.n_layers:
            raise ValueError(f"2 * hyper_layers ({2 * self.hyper_layers}) must be <= n_layers "
                             f"({self.n_layers})")
        return self


@register_model("NCL")
class NCL(GraphCF):
    """NCL: LightGCN with two neighbourhood-enriched contrastive losses.

    * Structural (Sec. 3.2): ``L_S^U = Σ_u -log(exp(s(z_u^(2h), z_u^(0))/τ) /
      Σ_v exp(s(z_u^(2h), z_v^(0))/τ))``: a user's layer-``2h`` output (the aggregate of its
      same-type ``2h``-hop neighbours) and its layer-0 embedding are positives, every other
      user at layer 0 a negative; ``L_S = L_S^U + α L_S^I``.
    * Semantic / prototype (Sec. 3.3, an EM scheme): at the start of each epoch after the
      warm-up (E-step), k-means on the detached layer-0 user (item) embeddings gives ``k``
      L2-normalised prototypes ``c`` ``[k, D]`` and a cluster ``c_i`` per node;
      ``L_P^U = Σ_u -log(exp(s(z_u^(0), c_i)/τ) / Σ_j exp(s(z_u^(0), c_j)/τ))`` (M-step), and
      ``L_P = L_P^U + L_P^I``.

    Lin et al., "Improving Graph Collaborative Filtering with Neighborhood-enriched Contrastive
    Learning", WWW 2022; overall loss (Sec. 3.4) ``L_bpr + λ1 L_S + λ2 L_P + λ3 ||Θ||²``.

    Shapes: anchors ``[B_u, D]`` / ``[B_i, D]`` (distinct users / positive items of the
    batch), candidates ``[U, D]`` / ``[I, D]`` (structural) or ``[k, D]`` (prototypes);
    ``score(users [B]) -> [B, I]``.

    Config: ``n_layers`` 3, ``hyper_layers`` 1, ``tau`` 0.1, ``cl_weight`` 4.1e-4, ``alpha``
    1.0, ``proto_weight`` 3.3e-4, ``n_clusters`` 1000 (capped at the user / item count),
    ``warmup_epochs`` 20, ``embedding_dim`` 64, ``l2_reg`` 1e-4.
    """

    Config = NCLConfig
    # faiss's threaded k-means may differ in the last bits between processes: rank 0's wins
    synced_attributes = ("_protos",)
    paper = ("Lin et al., Improving Graph Collaborative Filtering with Neighborhood-enriched "
             "Contrastive Learning, WWW 2022")

    def __init__(self, cfg: NCLConfig, data):
        super().__init__(cfg, data)
        self.k_users = min(cfg.n_clusters, self.n_users)
        self.k_items = min(cfg.n_clusters, self.n_items)
        if (self.k_users, self.k_items) != (cfg.n_clusters, cfg.n_clusters):
            log.warning("NCL: n_clusters=%d exceeds the %d users / %d items; using %d user and "
                        "%d item prototypes", cfg.n_clusters, self.n_users, self.n_items,
                        self.k_users, self.k_items)
        self._protos: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def on_epoch_start(self, ctx: TrainContext) -> None:
        if ctx.epoch <= self.cfg.warmup_epochs:
            self._protos = None
            return
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=ctx.generator,
                                 device=ctx.generator.device if ctx.generator else "cpu"))
        with torch.no_grad():
            cu, au = kmeans(self.user_embedding.weight, self.k_users, self.cfg.kmeans_iters, seed)
            ci, ai = kmeans(self.item_embedding.weight, self.k_items, self.cfg.kmeans_iters,
                            seed + 1)
        self._protos = (F.normalize(cu, dim=-1), au, F.normalize(ci, dim=-1), ai)

    def loss(self, batch: PairBatch) -> LossOutput:
        cfg = self.cfg
        nodes, layers = self.propagate_nodes()
        parts = self.node_bpr_parts(nodes, layers[0], batch)
        ego_u, ego_i = torch.split(layers[0], [self.n_users, self.n_items])
        ctx_u, ctx_i = torch.split(layers[2 * cfg.hyper_layers], [self.n_users, self.n_items])
        uid = batch.distinct_users()
        iid = batch.distinct_pos()
        struct = (info_nce_candidates(ctx_u[uid], ego_u, uid, cfg.tau)
                  + cfg.alpha * info_nce_candidates(ctx_i[iid], ego_i, iid, cfg.tau))
        parts["cl"] = cfg.cl_weight * struct
        if self._protos is not None:
            cu, au, ci, ai = self._protos
            proto = (info_nce_candidates(ego_u[uid], cu, au[uid], cfg.tau)
                     + info_nce_candidates(ego_i[iid], ci, ai[iid], cfg.tau))
            parts["proto"] = cfg.proto_weight * proto
        else:
            parts["proto"] = torch.zeros((), device=nodes.device)
        return LossOutput(sum(parts.values()), parts)
