"""MCCLK."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ssrec.augment import drop_edges, drop_triples
from ssrec.losses import bpr_loss, l2_regularization, nt_xent
from ssrec.models.base import LossOutput, register_model
from ssrec.models.cf import GraphCF, GraphConfig
from ssrec.models.knowledge.common import (entity_tables, model_kg, projection_head,
                                           register_graph_buffers, user_item_mean)
from ssrec.models.layers import (knn_graph, propagate, propagate_layers, relation_aggregate,
                                 segment_softmax)
from ssrec.sampling import PairBatch

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData


class MCCLKConfig(GraphConfig):
    """MCCLK hyper-parameters (defaults: the official code, ``utils/parser.py`` and the
    constants of ``modules/MCCLK.py``).

    Attributes:
        n_layers: LightGCN layers of the local collaborative view (``lightgcn_layer`` 2).
        kg_layers: relation-aware hops of the global structural view (``context_hops`` 2).
        semantic_layers: propagation layers over the item–item semantic graph
            (``n_item_layer`` 1).
        knn_k: neighbours kept per item in the semantic graph, the item itself included
            (``topk`` 10).
        knn_lambda: weight λ of the graph built from the layer-0 item embeddings; the graph
            from the structural view's items gets ``1 − λ`` (``lambda_coeff`` 0.5).
        tau: temperature of the three contrastive terms (0.6; a comment there calls 0.8 the
            default).
        cl_weight: weight β of the contrastive loss (the code's factor 0.001).
        alpha: balance α between the local-level term and the global-level terms:
            ``α L_local + (1 − α)/2 (L_global^user + L_global^item)`` (``self.alpha`` 0.2).
        l2_reg: weight of the L2 penalty on the batch's final representations (``l2`` 1e-5).
        node_dropout_rate: drop probability of KG triples and interactions of the structural
            view in each training forward pass (``node_dropout_rate`` 0.5).
        mess_dropout_rate: dropout on each structural hop's output in training
            (``mess_dropout_rate`` 0.1).
        inverse_relations: add the inverse of every triple (``inverse_r`` True).
        embedding_dim: ``D`` (``dim`` 64).
        init_std: ``None``: Xavier-uniform tables, as the code.
    """

    n_layers: int = Field(2, ge=1)
    kg_layers: int = Field(2, ge=1)
    semantic_layers: int = Field(1, ge=1)
    knn_k: int = Field(10, ge=1)
    knn_lambda: float = Field(0.5, ge=0, le=1)
    tau: float = Field(0.6, gt=0)
    cl_weight: float = Field(1e-3, ge=0)
    alpha: float = Field(0.2, ge=0, le=1)
    l2_reg: float = Field(1e-5, ge=0)
    node_dropout_rate: float = Field(0.5, ge=0, lt=1)
    mess_dropout_rate: float = Field(0.1, ge=0, lt=1)
    inverse_relations: bool = True


@register_model("MCCLK")
class MCCLK(GraphCF):
    """MCCLK: multi-level cross-view contrastive learning over three views of the data: a
    global structural view (users, items and entities: relation-aware propagation over the
    KG and the interactions), a local collaborative view (LightGCN on the user–item graph)
    and a local semantic view (an item–item kNN graph built from the items' KG-aggregated
    representations). Items are contrasted between the two local views (local level), and
    users and items between the local and the global views (global level).

    Zou et al., "Multi-level Cross-view Contrastive Learning for Knowledge-aware Recommender
    System", SIGIR 2022. With ``E`` the entity embeddings (items are entities ``0..I-1``) and
    ``W_r`` the relation embeddings:

    * structural view (global level): per hop, ``e_h ← Σ_{(h, r, t)} π(h, r, t) (W_r ⊙ e_t)``,
      ``π = softmax_t(||e_h ⊙ W_r||² ||e_t ⊙ W_r||²)`` over the head's triples
      (:func:`~ssrec.models.layers.segment_softmax`,
      :func:`~ssrec.models.layers.relation_aggregate`); users
      ``e_u ← m_u + (softmax_r(e_u · W_r) W) ⊙ m_u`` with ``m_u = 1/|N_u| Σ_{i ∈ N_u} e_i``;
      each hop's output message-dropped and L2-normalised, the hops summed with the ego:
      ``z_u^g [U, D]``, ``z_i^g [I, D]``;
    * collaborative view (local level): LightGCN over the normalised interaction graph, layers
      ``0..L`` averaged: ``z_u^c``, ``z_i^c``;
    * semantic view (local level): ``S̃ = (1 − λ) kNN(z^g_items) + λ kNN(e^{(0)}_items)``, each a
      cosine top-``k`` graph, ``D^{-1/2} S D^{-1/2}``-normalised
      (:func:`~ssrec.models.layers.knn_graph`), without gradient through the graph;
      ``z_i^s = normalize(S̃^{L_s} e^{(0)}_items)``;
    * cross-view contrast: views go through one projection MLP per term and are
      compared by cosine at temperature τ, with the other batch rows of both views as
      negatives (:func:`~ssrec.losses.nt_xent`): local ``(z_i^s → z_i^c)``, global items
      ``(z_i^g ↔ z_i^c + z_i^s)``, global users ``(z_u^g ↔ z_u^c)``, over the batch's
      distinct items (positives) and users;
    * prediction: ``ŷ_ui = z_u^g · z_i^g + z_u^c · (z_i^c + z_i^s)`` (the code's
      concatenations ``[z_u^g ‖ z_u^c ‖ z_u^c] · [z_i^g ‖ z_i^s ‖ z_i^c]``);
    * loss: ``BPR + β (α L_local + (1 − α)/2 (L_global^user + L_global^item))
      + λ₂ ||Θ_batch||² / (2B)``.

    **When the semantic graph is built.** As in the official code (``GraphConv.forward`` and
    ``build_adj``), the kNN graphs are rebuilt at every forward pass: at every training step
    from that step's structural view (its node and message dropout included) and the current
    layer-0 item embeddings, and at evaluation from the full, dropout-free structural view.
    Our KG holds item–entity facts with items as its first entities, so the graph is item-only
    (``I × I``, from the item rows of the structural view, i.e. the items' relation-aware
    aggregation of their KG facts); the code builds it over all entities (``E × E``) and
    reads its item rows, so its items may have non-item entities as neighbours.

    Differences from the official code: it trains a CTR objective (BCE on labelled pairs);
    this is the paper's BPR. Its collaborative view propagates over the mean-normalised
    interaction matrix (``1/|N_u|`` both ways); this uses LightGCN's symmetric normalisation
    (the paper's collaborative encoder). Its released loss contrasts the layer-0 users and
    items with the collaborative view in its "global" terms and weights the three terms
    equally (the α-weighted local/global version is commented out next to it); this follows
    the paper: the global terms contrast the global view with the local views, weighted by
    ``α`` (``alpha=1/3, cl_weight=3e-3`` gives the code's equal weights). Its local term has one
    direction (semantic anchors), kept here; its global terms average both, kept too.
    Negative kNN similarities are clamped at 0 (the code keeps them). Node dropout applies in
    training only (the code also drops at evaluation). The contrast runs over the batch's
    distinct users and positive items (the code: every row of its batch, duplicates included).
    The code trains with Adam at lr 3e-3 and batch 4096 (``train.lr`` / ``train.batch_size``).

    Shapes: ``score(users [B]) -> [B, I]`` from users ``[U, 2D]`` (``z_u^g ‖ z_u^c``) and
    items ``[I, 2D]`` (``z_i^g ‖ z_i^c + z_i^s``).

    Config: ``n_layers`` 2, ``kg_layers`` 2, ``semantic_layers`` 1, ``knn_k`` 10,
    ``knn_lambda`` 0.5, ``tau`` 0.6, ``cl_weight`` 1e-3, ``alpha`` 0.2, ``embedding_dim`` 64,
    ``l2_reg`` 1e-5, ``node_dropout_rate`` 0.5, ``mess_dropout_rate`` 0.1,
    ``inverse_relations`` True.

    Raises:
        ConfigError: at build, for data without a knowledge graph.
    """

    Config = MCCLKConfig
    family = "knowledge"
    needs_kg = True
    paper = ("Zou et al., Multi-level Cross-view Contrastive Learning for Knowledge-aware "
             "Recommender System, SIGIR 2022")

    def __init__(self, cfg: MCCLKConfig, data: InteractionData):
        kg = model_kg(data, cfg.inverse_relations)
        self.n_entities, self.n_relations = kg.n_entities, kg.n_relations
        super().__init__(cfg, data)
        d = cfg.embedding_dim
        entity_tables(self, self.n_entities, self.n_items, self.n_relations, d, cfg.init_std)
        self.mlp_local = projection_head(d)
        self.mlp_item = projection_head(d)
        self.mlp_user = projection_head(d)
        register_graph_buffers(self, kg.head, kg.relation, kg.tail, data)

    # -- views ----------------------------------------------------------------------------
    def structural(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Global structural view: summed user ``[U, D]`` and entity ``[E, D]``
        representations (hops ``0..kg_layers``); node and message dropout in training."""
        cfg = self.cfg
        head, rel, tail = self.kg_head, self.kg_relation, self.kg_tail
        user, item, scale = self.edge_user, self.edge_item, 1.0
        if self.training and cfg.node_dropout_rate > 0:
            head, rel, tail, _ = drop_triples(head, rel, tail, cfg.node_dropout_rate,
                                              generator=self.generator)
            user, item, _ = drop_edges(user, item, cfg.node_dropout_rate,
                                       generator=self.generator)
            scale = 1.0 / (1.0 - cfg.node_dropout_rate)
        ent = torch.cat([self.item_embedding.weight, self.entity_embedding.weight])  # [E, D]
        interact = user_item_mean(self.edge_user, user, item, self.n_users, self.n_items,
                                  scale, ent.dtype)
        w = self.relation_weight  # [R, D]
        usr = self.user_embedding.weight
        ent_sum, usr_sum = ent, usr
        for _ in range(cfg.kg_layers):
            w_r = w.index_select(0, rel)  # [T, D]
            logits = ((ent.index_select(0, head) * w_r).pow(2).sum(1)
                      * (ent.index_select(0, tail) * w_r).pow(2).sum(1))
            att = segment_softmax(logits, head, self.n_entities)
            ent_next = relation_aggregate(ent, w, head, rel, tail, weight=att, reduce="sum")
            m = torch.sparse.mm(interact, ent[:self.n_items])  # [U, D]
            usr = m + (torch.softmax(usr @ w.T, dim=1) @ w) * m
            ent = ent_next
            if self.training and cfg.mess_dropout_rate > 0:
                ent = F.dropout(ent, cfg.mess_dropout_rate)
                usr = F.dropout(usr, cfg.mess_dropout_rate)
            ent, usr = F.normalize(ent, dim=1), F.normalize(usr, dim=1)
            ent_sum, usr_sum = ent_sum + ent, usr_sum + usr
        return usr_sum, ent_sum

    def semantic_graph(self, kg_items: torch.Tensor) -> torch.Tensor:
        """Item–item semantic graph ``S̃ = (1 − λ) kNN(kg_items) + λ kNN(e^{(0)})``, sparse
        ``[I, I]``, built without gradient from the structural view's items ``kg_items``
        ``[I, D]`` and the layer-0 item embeddings."""
        cfg = self.cfg
        with torch.no_grad():
            learned = knn_graph(kg_items.detach(), cfg.knn_k)
            initial = knn_graph(self.item_embedding.weight.detach(), cfg.knn_k)
            return ((1.0 - cfg.knn_lambda) * learned + cfg.knn_lambda * initial).coalesce()

    def semantic(self, kg_items: torch.Tensor) -> torch.Tensor:
        """Local semantic view ``z_i^s = normalize(S̃^{L_s} e^{(0)})`` ``[I, D]``."""
        graph = self.semantic_graph(kg_items)
        out = propagate_layers(graph, self.item_embedding.weight, self.cfg.semantic_layers,
                               symmetric=False)[-1]
        return F.normalize(out, dim=1)

    def views(self) -> dict[str, torch.Tensor]:
        """The three views: ``user_g``, ``user_c`` ``[U, D]``; ``item_g``, ``item_c``,
        ``item_s`` ``[I, D]``."""
        users_g, ents_g = self.structural()
        items_g = ents_g[:self.n_items]
        nodes_c, _ = propagate(self.adj, self.ego(), self.cfg.n_layers, include_ego=True)
        users_c, items_c = torch.split(nodes_c, [self.n_users, self.n_items])
        return {"user_g": users_g, "item_g": items_g, "user_c": users_c, "item_c": items_c,
                "item_s": self.semantic(items_g)}

    @staticmethod
    def _final(v: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.cat([v["user_g"], v["user_c"]], dim=1),
                torch.cat([v["item_g"], v["item_c"] + v["item_s"]], dim=1))

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._final(self.views())

    # -- loss -----------------------------------------------------------------------------
    def contrast(self, v: dict[str, torch.Tensor], uid: torch.Tensor, iid: torch.Tensor
                 ) -> dict[str, torch.Tensor]:
        """The three contrastive terms over users ``uid`` and items ``iid``: ``local``
        (semantic → collaborative items, one-sided), ``item`` and ``user`` (global ↔ local,
        both directions); unweighted."""
        tau = self.cfg.tau
        s, c, g = v["item_s"][iid], v["item_c"][iid], v["item_g"][iid]
        head = self.mlp_local
        local = nt_xent(head(s), head(c), tau, normalize=True, symmetric=False)
        head = self.mlp_item
        item = nt_xent(head(g), head(c + s), tau, normalize=True)
        head = self.mlp_user
        user = nt_xent(head(v["user_g"][uid]), head(v["user_c"][uid]), tau, normalize=True)
        return {"local": local, "item": item, "user": user}

    def loss(self, batch: PairBatch) -> LossOutput:
        cfg = self.cfg
        v = self.views()
        users, items = self._final(v)
        u, p, n = users[batch.users], items[batch.pos], items[batch.neg]  # n: [B, N, 2D]
        pos = (u * p).sum(-1)
        neg = (u.unsqueeze(1) * n).sum(-1)
        parts = {"bpr": bpr_loss(pos, neg), "reg": cfg.l2_reg * l2_regularization(u, p, n)}
        if cfg.cl_weight > 0:
            t = self.contrast(v, batch.distinct_users(), batch.distinct_pos())
            cl = cfg.alpha * t["local"] + (1.0 - cfg.alpha) / 2 * (t["user"] + t["item"])
            parts["cl"] = cfg.cl_weight * cl
        else:
            parts["cl"] = pos.new_zeros(())
        return LossOutput(parts["bpr"] + parts["reg"] + parts["cl"], parts)
