"""KGCL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ssrec.augment import (drop_edges, drop_triples, kg_guided_interaction_dropout,
                           kg_guided_keep_probability)
from ssrec.data.graph import normalized_adjacency
from ssrec.losses import info_nce_candidates
from ssrec.models.base import LossOutput, TrainContext, register_model
from ssrec.models.cf import GraphCF, GraphConfig
from ssrec.models.knowledge.common import model_kg, register_graph_buffers
from ssrec.models.layers import propagate, segment_softmax
from ssrec.sampling import KGTripleSampler, PairBatch

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData

Triples = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class KGCLConfig(GraphConfig):
    """KGCL hyper-parameters (defaults: the official code, ``code/world.py`` / ``parse.py``).

    Attributes:
        n_layers: LightGCN layers over the interaction graph (3).
        kg_drop_rate: drop probability of the item–entity triples in each KG view
            (``kg_p_drop`` 0.5).
        ui_aug: the interaction-graph views: ``"kg"``, KG-guided dropout from the items' KG
            structure consistency (the paper's; ``uicontrast="WEIGHTED"``), or ``"random"``
            edge dropout (``"RANDOM"``).
        ui_drop_rate: mean drop rate ``p`` of the interaction views (0.1, the official value
            for Yelp2018; 0.05 for Amazon-Book).
        tau: InfoNCE temperature (``kgc_temp`` 0.2).
        cl_weight: weight of the user and item InfoNCE terms (``ssl_reg`` 0.1).
        kg_weight: weight of the TransE loss on the item–entity triples (1.0; the official
            code takes one TransE pass per epoch with the same optimiser).
        kg_batch_size: triples per TransE batch, sampled at every step (4096).
        gat_dropout: dropout of the relation-aware attention inputs, weights and output
            (0.4).
        l2_reg: weight of the L2 penalty on the batch's layer-0 embeddings (``decay`` 1e-4).
        init_std: normal initialisation std of every table (0.1).
    """

    n_layers: int = Field(3, ge=1)
    kg_drop_rate: float = Field(0.5, ge=0, lt=1)
    ui_aug: Literal["kg", "random"] = "kg"
    ui_drop_rate: float = Field(0.1, ge=0, lt=1)
    tau: float = Field(0.2, gt=0)
    cl_weight: float = Field(0.1, ge=0)
    kg_weight: float = Field(1.0, ge=0)
    kg_batch_size: int = Field(4096, ge=1)
    gat_dropout: float = Field(0.4, ge=0, lt=1)
    init_std: float | None = Field(0.1, gt=0)


@register_model("KGCL")
class KGCL(GraphCF):
    """KGCL: knowledge graph contrastive learning. Items are represented from their KG facts
    by relation-aware attention; two KG views (triple dropout) give each item a structure
    consistency score, which guides the dropout of its interactions in two interaction-graph
    views; InfoNCE between the two joint views' users and items regularises LightGCN on the
    KG-enhanced item embeddings. A TransE loss trains the entity and relation embeddings.

    Yang et al., "Knowledge Graph Contrastive Learning for Recommendation", SIGIR 2022:

    * relation-aware item aggregation (Eq. 2-3): ``x_i = e_i + Σ_{(i, r, t)} α(i, r, t) e_t``
      with ``α = softmax_t(LeakyReLU(e_r · W [e_i ‖ e_t]))`` over the item's triples
      (:func:`~ssrec.models.layers.segment_softmax`);
    * KG views (Eq. 5): the item–entity triples dropped with ``kg_drop_rate``
      (:func:`~ssrec.augment.drop_triples`); consistency (Eq. 6-7):
      ``c_i = cos(x_i^{(1)}, x_i^{(2)})``;
    * interaction views (Eq. 8-10): each interaction kept with its item's probability from
      :func:`~ssrec.augment.kg_guided_keep_probability` (mean ``1 - ui_drop_rate``), twice;
      each view propagates LightGCN from the users and the items of one KG view (the code's
      ``kgc_joint``);
    * loss (Eq. 11-13): ``BPR + λ₁ (L_cl^user + L_cl^item) + λ₂ L2 + L_TransE``, with
      InfoNCE over the batch's distinct users (items) against all users (items) of the other
      view, as SGL (:func:`~ssrec.losses.info_nce_candidates`).

    Views are redrawn at the start of every epoch (as the official code). Differences from
    it: every triple of an item is aggregated (the code samples at most 10 per item);
    interactions are dropped per edge, as the paper's Eq. 10 (the code drops all of an item's
    interactions together); the TransE loss is added at every step on a sampled batch of
    item–entity triples with corrupted tails
    (:class:`~ssrec.sampling.KGTripleSampler`) instead of a separate pass per epoch; losses
    are batch means (the code sums BPR and InfoNCE over the batch; their ratio is kept).

    Shapes: item representations ``[I, D]`` from ``[E, D]`` entity and ``[R, D]`` relation
    tables; ``score(users [B]) -> [B, I]``.

    Config: ``n_layers`` 3, ``kg_drop_rate`` 0.5, ``ui_aug`` "kg", ``ui_drop_rate`` 0.1,
    ``tau`` 0.2, ``cl_weight`` 0.1, ``kg_weight`` 1.0, ``kg_batch_size`` 4096,
    ``gat_dropout`` 0.4, ``embedding_dim`` 64, ``l2_reg`` 1e-4, ``init_std`` 0.1.

    Raises:
        ConfigError: at build, for data without a knowledge graph.
    """

    Config = KGCLConfig
    family = "knowledge"
    needs_kg = True
    paper = "Yang et al., Knowledge Graph Contrastive Learning for Recommendation, SIGIR 2022"

    def __init__(self, cfg: KGCLConfig, data: InteractionData):
        super().__init__(cfg, data)
        kg = model_kg(data, inverse=False)
        m = kg.item_mask()
        d = cfg.embedding_dim
        self.entity_embedding = nn.Embedding(kg.n_entities, d)
        self.relation_embedding = nn.Embedding(kg.n_relations, d)
        for table in (self.entity_embedding, self.relation_embedding):
            nn.init.normal_(table.weight, std=cfg.init_std or 0.1)
        self.attention = nn.Linear(2 * d, d)
        register_graph_buffers(self, kg.head[m], kg.relation[m], kg.tail[m], data)
        item_kg = kg.__class__(kg.head[m], kg.relation[m], kg.tail[m], kg.n_items,
                               kg.n_entities, kg.relation_names, kg.entity_ids, kg.inverse)
        self.kg_sampler = KGTripleSampler(item_kg, cfg.kg_batch_size)
        self._views: tuple[Triples, Triples, torch.Tensor, torch.Tensor] | None = None

    # -- encoders ---------------------------------------------------------------------------
    def kg_items(self, triples: Triples | None = None) -> torch.Tensor:
        """KG-enhanced item embeddings ``x_i`` ``[I, D]`` over ``triples`` (default: all
        item–entity triples)."""
        h, r, t = (self.kg_head, self.kg_relation, self.kg_tail) if triples is None else triples
        p = self.cfg.gat_dropout if self.training else 0.0
        items = F.dropout(self.item_embedding.weight, p)
        ents = F.dropout(self.entity_embedding(t), p)  # [T, D]
        logits = (self.attention(torch.cat([items[h], ents], dim=1))
                  * self.relation_embedding(r)).sum(1)
        alpha = F.dropout(segment_softmax(F.leaky_relu(logits, 0.2), h, self.n_items), p)
        agg = torch.zeros_like(items).index_add_(0, h, alpha.unsqueeze(1) * ents)
        return F.dropout(items + agg, p)

    def ego(self) -> torch.Tensor:
        return torch.cat([self.user_embedding.weight, self.kg_items()], dim=0)

    def _view_nodes(self, adj: torch.Tensor, triples: Triples) -> torch.Tensor:
        ego = torch.cat([self.user_embedding.weight, self.kg_items(triples)], dim=0)
        return propagate(adj, ego, self.cfg.n_layers, include_ego=True)[0]  # [U+I, D]

    # -- views ------------------------------------------------------------------------------
    def _draw_views(self, generator: torch.Generator | None
                    ) -> tuple[Triples, Triples, torch.Tensor, torch.Tensor]:
        cfg = self.cfg
        kg1, kg2 = (drop_triples(self.kg_head, self.kg_relation, self.kg_tail,
                                 cfg.kg_drop_rate, generator=generator)[:3] for _ in range(2))
        users, items = self.edge_user, self.edge_item
        if cfg.ui_aug == "kg":
            with torch.no_grad():
                c = F.cosine_similarity(self.kg_items(kg1), self.kg_items(kg2), dim=1)
            keep = kg_guided_keep_probability(c, cfg.ui_drop_rate)
            views = [kg_guided_interaction_dropout(users, items, keep, generator=generator)
                     for _ in range(2)]
        else:
            views = [drop_edges(users, items, cfg.ui_drop_rate, generator=generator)
                     for _ in range(2)]
        adj1, adj2 = (normalized_adjacency(u, i, self.n_users, self.n_items).to(users.device)
                      for u, i, _ in views)
        return kg1, kg2, adj1, adj2

    def on_epoch_start(self, ctx: TrainContext) -> None:
        """Redraw the two KG views and the two KG-guided interaction views; reseed the TransE
        sampler from the run's generator."""
        self._views = self._draw_views(ctx.generator)
        seed = int(torch.randint(0, 2**62, (1,), generator=ctx.generator,
                                 device=ctx.generator.device if ctx.generator else "cpu"))
        self.kg_sampler.rng = np.random.default_rng(seed)

    # -- losses -----------------------------------------------------------------------------
    def transe_loss(self) -> torch.Tensor:
        """TransE on a sampled batch of item–entity triples (Bordes et al., NeurIPS 2013):
        ``softplus(||e_h + e_r − e_t||² − ||e_h + e_r − e_t′||²)`` averaged, plus ``1e-3``
        times the mean squared norms (``/2``) of the four embeddings, as the official code."""
        s = self.kg_sampler
        idx = s.rng.integers(0, s.kg.n_triples, size=min(self.cfg.kg_batch_size,
                                                         s.kg.n_triples))
        h, r = s.kg.head[idx], s.kg.relation[idx]
        dev = self.kg_head.device
        t, tn = (torch.as_tensor(x, device=dev) for x in (s.kg.tail[idx], s.negatives(h, r)))
        e_h = self.item_embedding(torch.as_tensor(h, device=dev))
        e_r = self.relation_embedding(torch.as_tensor(r, device=dev))
        e_t, e_n = self.entity_embedding(t), self.entity_embedding(tn)
        pos = (e_h + e_r - e_t).pow(2).sum(1)
        neg = (e_h + e_r - e_n).pow(2).sum(1)
        l2 = sum(x.pow(2).sum(1).mean() / 2 for x in (e_h, e_r, e_t, e_n))
        return F.softplus(pos - neg).mean() + 1e-3 * l2

    def loss(self, batch: PairBatch) -> LossOutput:
        if self._views is None:  # used outside the trainer: draw once
            self._views = self._draw_views(self.generator)
        kg1, kg2, adj1, adj2 = self._views
        ego = self.ego()
        nodes, _ = propagate(self.adj, ego, self.cfg.n_layers, include_ego=True)
        parts = self.node_bpr_parts(nodes, torch.cat([self.user_embedding.weight,
                                                      self.item_embedding.weight]), batch)
        v1, v2 = self._view_nodes(adj1, kg1), self._view_nodes(adj2, kg2)
        uid, iid = batch.distinct_users(), batch.distinct_pos()
        u1, i1 = torch.split(v1, [self.n_users, self.n_items])
        u2, i2 = torch.split(v2, [self.n_users, self.n_items])
        cl = (info_nce_candidates(u1[uid], u2, uid, self.cfg.tau)
              + info_nce_candidates(i1[iid], i2, iid, self.cfg.tau))
        parts["cl"] = self.cfg.cl_weight * cl
        parts["kg"] = self.cfg.kg_weight * (self.transe_loss() if self.cfg.kg_weight > 0
                                            else nodes.new_zeros(()))
        return LossOutput(parts["bpr"] + parts["reg"] + parts["cl"] + parts["kg"], parts)
