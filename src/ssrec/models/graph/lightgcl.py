"""LightGCL."""

from __future__ import annotations

import torch
from pydantic import Field

from ssrec.augment import drop_edges
from ssrec.data.graph import normalized_adjacency, normalized_interactions
from ssrec.errors import ConfigError
from ssrec.losses import bpr_loss
from ssrec.models.base import LossOutput, register_model
from ssrec.models.cf import GraphCF, GraphConfig
from ssrec.sampling import PairBatch
from ssrec.utils.linalg import truncated_svd


class LightGCLConfig(GraphConfig):
    """LightGCL hyper-parameters (defaults: the paper's official code).

    Attributes:
        n_layers: propagation layers (2).
        rank: ``q``, the rank of the truncated SVD (5).
        tau: temperature τ of the contrastive loss (0.2).
        cl_weight: weight λ1 of the contrastive loss (0.2).
        drop_rate: edge dropout on the main view's graph, redrawn every step (0.0).
        l2_reg: weight λ2 of ``||Θ||²``, the squared norm of **all** embedding parameters
            (1e-7), as in the paper (not the batch-embedding penalty of the other models).
    """

    n_layers: int = Field(2, ge=1)
    rank: int = Field(5, ge=1)
    tau: float = Field(0.2, gt=0)
    cl_weight: float = Field(0.2, ge=0)
    drop_rate: float = Field(0.0, ge=0, lt=1)
    l2_reg: float = Field(1e-7, ge=0)


@register_model("LightGCL")
class LightGCL(GraphCF):
    """LightGCL: contrast between LightGCN propagation and propagation over a rank-``q`` SVD
    reconstruction of the graph. With ``R̃ ≈ U_q S_q V_q^T`` (truncated SVD of the normalised
    ``[U, I]`` interaction matrix, computed once at build time), layer ``l`` of the SVD view is
    ``G_u^(l) = U_q S_q (V_q^T E_i^(l-1))`` and ``G_i^(l) = V_q S_q (U_q^T E_u^(l-1))`` (never
    materialising the dense ``[U, I]`` product). Both views sum their layers ``0..L``. The
    contrastive loss takes a batch node's SVD-view embedding as anchor, its main-view
    embedding as positive and every main-view user (item) as candidates, with the positive
    logit clipped to ``[-5, 5]`` as in the official code. Scores use the main view.

    Cai et al., "LightGCL: Simple Yet Effective Graph Contrastive Learning for Recommendation",
    ICLR 2023, Sec. 3 (main view ``z^(l) = Ã z^(l-1)``; SVD view ``g^(l) = U_q S_q V_q^T ...``;
    ``L_s = Σ_u -log(exp(g_u·z_u/τ) / Σ_v exp(g_u·z_v/τ))`` plus the item side; overall
    ``L = L_r + λ1 L_s + λ2 ||Θ||²``).

    Shapes: ``U_q S_q`` ``[U, q]``, ``V_q S_q`` ``[I, q]``; InfoNCE logits ``[B_u, U]`` and
    ``[B_i, I]`` (distinct batch users; distinct positive and negative items);
    ``score(users [B]) -> [B, I]``.

    Config: ``n_layers`` 2, ``rank`` 5, ``tau`` 0.2, ``cl_weight`` 0.2, ``drop_rate`` 0.0,
    ``l2_reg`` 1e-7 (all parameters), ``embedding_dim`` 64.

    Raises:
        ConfigError: if ``rank`` is not below ``min(U, I)``.
    """

    Config = LightGCLConfig
    paper = ("Cai et al., LightGCL: Simple Yet Effective Graph Contrastive Learning for "
             "Recommendation, ICLR 2023")

    def __init__(self, cfg: LightGCLConfig, data):
        super().__init__(cfg, data)
        if cfg.rank >= min(self.n_users, self.n_items):
            raise ConfigError(f"model.rank must be below min(users, items) = "
                              f"{min(self.n_users, self.n_items)}, got {cfg.rank}")
        r = normalized_interactions(data.train.user, data.train.item, self.n_users,
                                    self.n_items)
        u, s, v = truncated_svd(r, cfg.rank)
        for name, t in (("us", u * s), ("vs", v * s), ("ut", u.T.contiguous()),
                        ("vt", v.T.contiguous())):
            self.register_buffer(name, t, persistent=False)
        self.register_buffer("edge_user", torch.as_tensor(data.train.user, dtype=torch.long),
                             persistent=False)
        self.register_buffer("edge_item", torch.as_tensor(data.train.item, dtype=torch.long),
                             persistent=False)

    def _views(self, training: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Main view ``E`` and SVD view ``G``, each ``[U+I, D]`` (layer sums)."""
        adj = None
        if training and self.cfg.drop_rate > 0:
            ku, ki, _ = drop_edges(self.edge_user, self.edge_item, self.cfg.drop_rate,
                                   generator=self.generator)
            adj = normalized_adjacency(ku, ki, self.n_users, self.n_items)
        _, _, layers = self.propagate(adj)
        e = torch.stack(layers).sum(0)
        prev_u, prev_i = torch.split(torch.stack(layers[:-1]).sum(0), [self.n_users, self.n_items])
        g = layers[0] + torch.cat([self.us @ (self.vt @ prev_i), self.vs @ (self.ut @ prev_u)])
        return e, g

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        e, _ = self._views()
        users, items = torch.split(e, [self.n_users, self.n_items])
        return users, items

    def _contrast(self, g: torch.Tensor, e: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        tau = self.cfg.tau
        anchors = g[ids]  # [B, D]
        neg = torch.logsumexp(anchors @ e.T / tau, dim=1)  # [B]
        pos = ((anchors * e[ids]).sum(-1) / tau).clamp(-5.0, 5.0)  # [B]
        return (neg - pos).mean()

    def loss(self, batch: PairBatch) -> LossOutput:
        e, g = self._views(training=True)
        eu, ei = torch.split(e, [self.n_users, self.n_items])
        gu, gi = torch.split(g, [self.n_users, self.n_items])
        u = eu[batch.users]  # [B, D]
        pos = (u * ei[batch.pos]).sum(-1)  # [B]
        neg = (u.unsqueeze(1) * ei[batch.neg]).sum(-1)  # [B, N]
        uid = batch.distinct_users()
        iid = torch.unique(torch.cat([batch.pos, batch.neg.reshape(-1)]))
        cl = self._contrast(gu, eu, uid) + self._contrast(gi, ei, iid)
        reg = self.user_embedding.weight.pow(2).sum() + self.item_embedding.weight.pow(2).sum()
        parts = {"bpr": bpr_loss(pos, neg), "reg": self.cfg.l2_reg * reg,
                 "cl": self.cfg.cl_weight * cl}
        return LossOutput(parts["bpr"] + parts["reg"] + parts["cl"], parts)
