"""KGIN."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ssrec.augment import drop_edges, drop_triples
from ssrec.losses import bpr_loss, l2_regularization
from ssrec.models.base import LossOutput, register_model
from ssrec.models.cf import EmbeddingCF, EmbeddingConfig
from ssrec.models.knowledge.common import (entity_tables, model_kg, register_graph_buffers,
                                          user_item_mean)
from ssrec.models.layers import relation_aggregate
from ssrec.sampling import PairBatch

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData


def distance_correlation(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Distance correlation ``dCor(a, b) = dCov(a, b) / sqrt(dCov(a, a) · dCov(b, b))`` of two
    samples of a scalar variable (Székely et al., Ann. Statist. 2007; KGIN's independence
    term, Wang et al., WWW 2021, Eq. 6), with KGIN's ``eps`` guards.

    Args:
        a, b: ``[N]`` paired samples.

    Returns:
        Scalar in ``[0, 1]`` (0 when independent).
    """
    def centred(x: torch.Tensor) -> torch.Tensor:
        d = (x[:, None] - x[None, :]).pow(2).clamp_min(0).add(eps).sqrt()  # [N, N]
        return d - d.mean(0, keepdim=True) - d.mean(1, keepdim=True) + d.mean()

    n2 = a.shape[0] ** 2
    A, B = centred(a), centred(b)
    zero = a.new_zeros(())

    def dcov(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.maximum((x * y).sum() / n2, zero).add(eps).sqrt()

    return dcov(A, B) / (dcov(A, A) * dcov(B, B) + eps).sqrt()


class KGINConfig(EmbeddingConfig):
    """KGIN hyper-parameters (defaults: the official code, ``utils/parser.py``, and its
    README's Last.fm command).

    Attributes:
        n_layers: ``L``, relational path-aware aggregation hops (``context_hops`` 3).
        n_intents: ``|P|``, user intents (``n_factors`` 4).
        l2_reg: weight λ of the L2 penalty on the batch's final representations (``l2``
            1e-5).
        cor_weight: weight β of the intent independence term (``sim_regularity`` 1e-4).
        independence: ``"distance"`` correlation (default), ``"cosine"`` (squared cosine) or
            ``"mi"`` (mutual-information InfoNCE with temperature 0.2) between the intents'
            relation weights.
        node_dropout_rate: drop probability of KG triples and interactions in each training
            forward pass (0.5).
        mess_dropout_rate: dropout on each hop's representations in training (0.1).
        inverse_relations: add the inverse of every triple (``inverse_r`` True).
    """

    n_layers: int = Field(3, ge=1)
    n_intents: int = Field(4, ge=1)
    l2_reg: float = Field(1e-5, ge=0)
    cor_weight: float = Field(1e-4, ge=0)
    independence: Literal["distance", "cosine", "mi"] = "distance"
    node_dropout_rate: float = Field(0.5, ge=0, lt=1)
    mess_dropout_rate: float = Field(0.1, ge=0, lt=1)
    inverse_relations: bool = True


@register_model("KGIN")
class KGIN(EmbeddingCF):
    """KGIN: knowledge graph-based intent network. Users are modelled through ``|P|`` latent
    intents, each an attentive combination of KG relations; items and entities aggregate
    relation-aware messages over the KG, users aggregate their items' representations
    weighted by their intents.

    Wang et al., "Learning Intents behind Interactions with Knowledge Graph for
    Recommendation", WWW 2021. With ``E`` the entity representations (items are entities
    ``0..I-1``), ``e_r`` relation embeddings and ``N_u`` user ``u``'s training items, per hop:

    * intents (Eq. 1-2): ``e_p = Σ_r softmax_r(w_{rp}) e_r``;
    * users (Eq. 3-4): ``e_u^{(l+1)} = Σ_p β(u, p) e_p ⊙ m_u + m_u`` with
      ``m_u = 1/|N_u| Σ_{i ∈ N_u} e_i^{(l)}`` and ``β(u, p) = softmax_p(e_u^{(l)} · z_p)``
      (``z_p`` free intent embeddings, as in the official code; the ``+ m_u`` residual is the
      code's);
    * entities (Eq. 7): ``e_h^{(l+1)} = 1/|N_h| Σ_{(h, r, t)} e_r ⊙ e_t^{(l)}``
      (:func:`~ssrec.models.layers.relation_aggregate`), over the KG with inverse triples;
    * each hop's output is L2-normalised (after message dropout) and the layers are summed,
      the ego embeddings included (Eq. 11);
    * loss (Eq. 13): ``BPR + λ ||Θ_batch||² / (2B) + β Σ_{p<p'} dCor(w_p, w_{p'})``
      (Eq. 6; :func:`distance_correlation` over the intents' relation weights).

    In training, each forward pass drops half of the KG triples and interactions (node
    dropout, interactions rescaled by ``1/(1-ρ)``) and 10% of each hop's representations,
    as the official code (``_edge_sampling``, ``_sparse_dropout``). The official code trains
    with Adam at lr 1e-4 and batch 1024 (set ``train.lr`` / ``train.batch_size``); its L2
    term is, as here, on the batch's final representations.

    Shapes: ``score(users [B]) -> [B, I]`` from the summed user ``[U, D]`` and item
    ``[I, D]`` representations.

    Config: ``n_layers`` 3, ``n_intents`` 4, ``embedding_dim`` 64, ``l2_reg`` 1e-5,
    ``cor_weight`` 1e-4, ``independence`` "distance", ``node_dropout_rate`` 0.5,
    ``mess_dropout_rate`` 0.1, ``inverse_relations`` True.

    Raises:
        ConfigError: at build, for data without a knowledge graph.
    """

    Config = KGINConfig
    family = "knowledge"
    needs_kg = True
    paper = ("Wang et al., Learning Intents behind Interactions with Knowledge Graph for "
             "Recommendation, WWW 2021")

    def __init__(self, cfg: KGINConfig, data: InteractionData):
        kg = model_kg(data, cfg.inverse_relations)
        self.n_entities, self.n_relations = kg.n_entities, kg.n_relations
        super().__init__(cfg, data)
        d = cfg.embedding_dim
        entity_tables(self, self.n_entities, self.n_items, self.n_relations, d, cfg.init_std)
        self.intent_embedding = nn.Parameter(torch.empty(cfg.n_intents, d))
        self.intent_attention = nn.Parameter(torch.empty(cfg.n_intents, self.n_relations))
        for w in (self.intent_embedding, self.intent_attention):
            nn.init.xavier_uniform_(w)
        register_graph_buffers(self, kg.head, kg.relation, kg.tail, data)

    def independence(self) -> torch.Tensor:
        """The intent independence term over the rows of the intents' relation weights."""
        w, k = self.intent_attention, self.cfg.n_intents
        if self.cfg.independence == "mi":
            z = F.normalize(w, dim=1)  # [P, R]
            return -F.log_softmax(z @ z.T / 0.2, dim=1).diagonal().sum()
        total = w.new_zeros(())
        for p in range(k):
            for q in range(p + 1, k):
                if self.cfg.independence == "distance":
                    total = total + distance_correlation(w[p], w[q])
                else:
                    total = total + F.cosine_similarity(w[p], w[q], dim=0).pow(2)
        return total

    def propagate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed user ``[U, D]`` and entity ``[E, D]`` representations (hops 0..L)."""
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
        usr = self.user_embedding.weight  # [U, D]
        intents = torch.softmax(self.intent_attention, dim=-1) @ self.relation_weight  # [P, D]
        ent_sum, usr_sum = ent, usr
        for _ in range(cfg.n_layers):
            ent_next = relation_aggregate(ent, self.relation_weight, head, rel, tail)
            beta = torch.softmax(usr @ self.intent_embedding.T, dim=1)  # [U, P]
            m = torch.sparse.mm(interact, ent[:self.n_items])  # [U, D]
            usr = m * (beta @ intents) + m
            ent = ent_next
            if self.training and cfg.mess_dropout_rate > 0:
                ent = F.dropout(ent, cfg.mess_dropout_rate)
                usr = F.dropout(usr, cfg.mess_dropout_rate)
            ent, usr = F.normalize(ent, dim=1), F.normalize(usr, dim=1)
            ent_sum, usr_sum = ent_sum + ent, usr_sum + usr
        return usr_sum, ent_sum

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        users, ents = self.propagate()
        return users, ents[:self.n_items]

    def loss(self, batch: PairBatch) -> LossOutput:
        users, items = self.embeddings()
        u, p, n = users[batch.users], items[batch.pos], items[batch.neg]  # n: [B, N, D]
        pos = (u * p).sum(-1)
        neg = (u.unsqueeze(1) * n).sum(-1)
        parts = {"bpr": bpr_loss(pos, neg),
                 "reg": self.cfg.l2_reg * l2_regularization(u, p, n),
                 "cor": self.cfg.cor_weight * self.independence()}
        return LossOutput(parts["bpr"] + parts["reg"] + parts["cor"], parts)
