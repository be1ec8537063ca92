"""SGL."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from ssrec.augment import drop_edges, drop_edges_per_layer, drop_nodes
from ssrec.data.graph import normalized_adjacency
from ssrec.losses import info_nce_candidates
from ssrec.models.base import LossOutput, TrainContext, register_model
from ssrec.models.cf import GraphCF, GraphConfig
from ssrec.sampling import PairBatch

View = torch.Tensor | list[torch.Tensor]


class SGLConfig(GraphConfig):
    """SGL hyper-parameters (defaults: the paper's / its official code's).

    Attributes:
        n_layers: propagation layers (3).
        aug: the view: ``"edge"`` dropout (SGL-ED), ``"node"`` dropout (SGL-ND) or ``"walk"``,
            a different edge-dropped graph per layer (SGL-RW) ("edge").
        drop_rate: drop probability ρ of edges / nodes (0.1).
        tau: InfoNCE temperature τ (0.2).
        cl_weight: weight λ1 of the contrastive loss (0.1).
    """

    n_layers: int = Field(3, ge=1)
    aug: Literal["edge", "node", "walk"] = "edge"
    drop_rate: float = Field(0.1, ge=0, lt=1)
    tau: float = Field(0.2, gt=0)
    cl_weight: float = Field(0.1, ge=0)


@register_model("SGL")
class SGL(GraphCF):
    """SGL: LightGCN plus a contrastive task between two stochastic sub-graph views. At the
    start of every epoch two views ``s1``, ``s2`` are drawn from the training graph by edge
    dropout, node dropout or random walk (one edge-dropped graph per layer) and re-normalised;
    InfoNCE pulls each batch user's (item's) view-1 representation towards its view-2
    representation, with every other user (item) of view 2 as a negative. The recommendation
    view is plain LightGCN propagation over the full graph (layers ``0..L`` averaged).

    Wu et al., "Self-supervised Graph Learning for Recommendation", SIGIR 2021, Sec. 3.1 (node
    dropout, edge dropout, random walk views), Sec. 3.2 (``L_ssl^user = Σ_u -log(exp(s(z'_u,
    z''_u)/τ) / Σ_v exp(s(z'_u, z''_v)/τ))``, ``s`` cosine, plus the item side) and Sec. 3.3
    (``L = L_main + λ1 L_ssl + λ2 ||Θ||²``).

    Shapes: views are ``[U+I, U+I]`` sparse graphs (``L`` of them for ``"walk"``); InfoNCE over
    ``[B_u, D]`` anchors vs ``[U, D]`` candidates and ``[B_i, D]`` vs ``[I, D]`` (``B_u``,
    ``B_i``: distinct users / positive items of the batch); ``score(users [B]) -> [B, I]``.

    Config: ``n_layers`` 3, ``aug`` "edge", ``drop_rate`` 0.1, ``tau`` 0.2, ``cl_weight`` 0.1,
    ``embedding_dim`` 64, ``l2_reg`` 1e-4. (The official code sums BPR and InfoNCE over the
    batch; both are means here, which keeps their ratio.)
    """

    Config = SGLConfig
    paper = "Wu et al., Self-supervised Graph Learning for Recommendation, SIGIR 2021"

    def __init__(self, cfg: SGLConfig, data):
        super().__init__(cfg, data)
        self.register_buffer("edge_user", torch.as_tensor(data.train.user, dtype=torch.long),
                             persistent=False)
        self.register_buffer("edge_item", torch.as_tensor(data.train.item, dtype=torch.long),
                             persistent=False)
        self._views: tuple[View, View] | None = None

    def _draw_view(self, generator: torch.Generator | None) -> View:
        cfg, u, i = self.cfg, self.edge_user, self.edge_item
        if cfg.aug == "walk":
            return [normalized_adjacency(ku, ki, self.n_users, self.n_items)
                    for ku, ki, _ in drop_edges_per_layer(u, i, cfg.drop_rate, cfg.n_layers,
                                                          generator=generator)]
        if cfg.aug == "node":
            ku, ki, _ = drop_nodes(u, i, self.n_users, self.n_items, cfg.drop_rate,
                                   generator=generator)
        else:
            ku, ki, _ = drop_edges(u, i, cfg.drop_rate, generator=generator)
        return normalized_adjacency(ku, ki, self.n_users, self.n_items)

    def on_epoch_start(self, ctx: TrainContext) -> None:
        self._views = (self._draw_view(ctx.generator), self._draw_view(ctx.generator))

    def loss(self, batch: PairBatch) -> LossOutput:
        if self._views is None:  # used outside the trainer: draw once
            self._views = (self._draw_view(self.generator), self._draw_view(self.generator))
        nodes, layers = self.propagate_nodes()
        parts = self.node_bpr_parts(nodes, layers[0], batch)
        u1, i1, _ = self.propagate(self._views[0])
        u2, i2, _ = self.propagate(self._views[1])
        uid = batch.distinct_users()
        iid = batch.distinct_pos()
        cl = (info_nce_candidates(u1[uid], u2, uid, self.cfg.tau)
              + info_nce_candidates(i1[iid], i2, iid, self.cfg.tau))
        parts["cl"] = self.cfg.cl_weight * cl
        return LossOutput(parts["bpr"] + parts["reg"] + parts["cl"], parts)
