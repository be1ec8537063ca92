"""KGRec."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ssrec.augment import drop_triples
from ssrec.losses import bpr_loss, l2_regularization
from ssrec.models.base import LossOutput, register_model
from ssrec.models.cf import EmbeddingCF, EmbeddingConfig
from ssrec.models.knowledge.common import model_kg, projection_head, register_graph_buffers
from ssrec.models.layers import relation_aggregate, segment_softmax
from ssrec.sampling import PairBatch

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData

Triples = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def gumbel_noise(shape: torch.Size, generator: torch.Generator | None, device: torch.device
                 ) -> torch.Tensor:
    """Standard Gumbel noise ``-log(-log U)``, ``U ~ Uniform(0, 1)`` (clamped away from 0)."""
    u = torch.rand(shape, generator=generator, device=device).clamp_min(1e-10)
    return -torch.log((-torch.log(u)).clamp_min(1e-10))


class KGRecConfig(EmbeddingConfig):
    """KGRec hyper-parameters (defaults: the official code, ``utils/parser.py`` with its
    Last.fm values in ``modules/KGRec.py``).

    Attributes:
        n_layers: attentive aggregation hops (``context_hops`` 2).
        n_heads: attention heads of the rationale scorer (2; ``embedding_dim`` must be a
            multiple).
        l2_reg: weight of the L2 penalty on the batch's final representations (1e-5).
        node_dropout_rate: per-relation drop rate of KG triples and drop rate of interactions
            in training (0.5).
        mess_dropout_rate: dropout on each hop's representations in training (0.1).
        mae_weight: weight of the masked-triple reconstruction loss (``mae_coef`` 0.1).
        mae_size: triples masked by rationale score (top-k with Gumbel noise), plus as many at
            random (``mae_msize`` 256; at most a quarter of the triples each).
        cl_weight: weight of the cross-view (interaction vs. KG) item contrast (0.01).
        tau: temperature of that contrast (1.0).
        cl_drop_rate: share of triples and interactions each contrastive view drops by
            rationale (0.5).
        inverse_relations: add the inverse of every triple (``inverse_r`` True).
    """

    n_layers: int = Field(2, ge=1)
    n_heads: int = Field(2, ge=1)
    l2_reg: float = Field(1e-5, ge=0)
    node_dropout_rate: float = Field(0.5, ge=0, lt=1)
    mess_dropout_rate: float = Field(0.1, ge=0, lt=1)
    mae_weight: float = Field(0.1, ge=0)
    mae_size: int = Field(256, ge=1)
    cl_weight: float = Field(0.01, ge=0)
    tau: float = Field(1.0, gt=0)
    cl_drop_rate: float = Field(0.5, ge=0, lt=1)
    inverse_relations: bool = True


@register_model("KGRec")
class KGRec(EmbeddingCF):
    """KGRec: knowledge-aware rationalisation. A relation-aware attention scores every KG
    triple (its rationale); triples with high scores are masked and reconstructed (generative
    task), and the rationale scores also decide which triples and interactions two views
    keep for an item-level contrast between the interaction graph and the KG.

    Yang et al., "Knowledge Graph Self-Supervised Rationalization for Recommendation", KDD
    2023:

    * rationale (Eq. 1-2): ``s(h, r, t) = (e_h W_Q)ᵀ((e_t W_Q) ⊙ e_r) / √d`` per head,
      softmax over the head's triples, times the head's degree;
    * encoder (Eq. 3-5): ``e_h ← Σ_t α(h, r, t) (e_r ⊙ e_t)`` (heads concatenated),
      ``e_u ← 1/|N_u| Σ_i e_i``; each hop's output L2-normalised and summed with the ego;
    * masked rationale reconstruction (Eq. 6-8): the ``mae_size`` triples with the highest
      Gumbel-perturbed scores plus ``mae_size`` random ones leave the encoder's graph;
      ``L_m = −mean log σ(e_hᵀ(e_r ⊙ e_t))`` over them, on the encoder's output;
    * rationale-aware contrast (Eq. 9-12): the KG view keeps the ``1 − cl_drop_rate``
      highest-scored triples (KGIN-style mean aggregation); the interaction view samples
      ``1 − cl_drop_rate`` of the interactions with probability ``softmax(ā_i + g)`` of their
      item's mean rationale; items of the two views, through one MLP each, are contrasted
      with one shuffled negative per direction at temperature ``tau``;
    * loss: ``BPR + λ ||Θ_batch||² / (2B) + mae_weight · L_m + cl_weight · L_c``.

    As in the official code, training forward passes first drop about half of each relation's
    triples (``node_dropout_rate``; Bernoulli per triple, where the code keeps exactly half of
    each relation) and half of the interactions (rescaled), and the rationale scores are
    computed without gradient. Scores at evaluation use every triple and interaction.

    Shapes: ``score(users [B]) -> [B, I]`` from the summed user ``[U, D]`` and item
    ``[I, D]`` representations; the contrast runs over all ``I`` items.

    Config: ``n_layers`` 2, ``n_heads`` 2, ``embedding_dim`` 64, ``l2_reg`` 1e-5,
    ``node_dropout_rate`` 0.5, ``mess_dropout_rate`` 0.1, ``mae_weight`` 0.1, ``mae_size``
    256, ``cl_weight`` 0.01, ``tau`` 1.0, ``cl_drop_rate`` 0.5, ``inverse_relations`` True.

    Raises:
        ConfigError: at build, for data without a knowledge graph.
        ValueError: ``embedding_dim`` not a multiple of ``n_heads``.
    """

    Config = KGRecConfig
    family = "knowledge"
    needs_kg = True
    paper = ("Yang et al., Knowledge Graph Self-Supervised Rationalization for Recommendation, "
             "KDD 2023")

    def __init__(self, cfg: KGRecConfig, data: InteractionData):
        if cfg.embedding_dim % cfg.n_heads:
            raise ValueError(f"embedding_dim {cfg.embedding_dim} is not a multiple of n_heads "
                             f"{cfg.n_heads}")
        kg = model_kg(data, cfg.inverse_relations)
        self.n_entities, self.n_relations = kg.n_entities, kg.n_relations
        super().__init__(cfg, data)
        d = cfg.embedding_dim
        self.entity_embedding = nn.Embedding(self.n_entities - self.n_items, d)
        self.relation_emb = nn.Parameter(torch.empty(self.n_relations, d))
        self.w_q = nn.Parameter(torch.empty(d, d))
        for w in (self.entity_embedding.weight, self.relation_emb, self.w_q):
            nn.init.xavier_uniform_(w)
        self.mlp_ui, self.mlp_kg = projection_head(d), projection_head(d)
        register_graph_buffers(self, kg.head, kg.relation, kg.tail, data)
        deg = torch.bincount(self.edge_user, minlength=self.n_users).clamp_min(1)
        self.register_buffer("edge_weight", 1.0 / deg[self.edge_user].float(), persistent=False)

    # -- rationale ----------------------------------------------------------------------------
    def _logits(self, ent: torch.Tensor, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor
                ) -> torch.Tensor:
        """Per-head attention logits ``[T, H]`` (Eq. 1)."""
        heads, dk = self.cfg.n_heads, self.cfg.embedding_dim // self.cfg.n_heads
        q = (ent[h] @ self.w_q).view(-1, heads, dk)
        k = (ent[t] @ self.w_q).view(-1, heads, dk) * self.relation_emb[r].view(-1, heads, dk)
        return (q * k).sum(-1) / math.sqrt(dk)

    @torch.no_grad()
    def rationale(self, ent: torch.Tensor, triples: Triples) -> torch.Tensor:
        """Rationale scores ``float [T]``: the head-averaged logits, softmax over each head
        entity's triples, times its number of triples (mean 1 per head entity; Eq. 2)."""
        h, r, t = triples
        a = segment_softmax(self._logits(ent, h, r, t).mean(1), h, self.n_entities)
        return a * torch.bincount(h, minlength=self.n_entities)[h].to(a.dtype)

    # -- encoders -----------------------------------------------------------------------------
    def _mess(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.cfg.mess_dropout_rate > 0:
            x = F.dropout(x, self.cfg.mess_dropout_rate)
        return F.normalize(x, dim=1)

    def _user_agg(self, user, item, w, ent) -> torch.Tensor:
        m = w.to(ent.dtype).unsqueeze(1) * ent.index_select(0, item)
        return torch.zeros(self.n_users, ent.shape[1], dtype=ent.dtype,
                           device=ent.device).index_add_(0, user, m)

    def encode(self, triples: Triples, user: torch.Tensor, item: torch.Tensor, w: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attentive KG and user aggregation (Eq. 3-5): summed user ``[U, D]`` and entity
        ``[E, D]`` representations."""
        h, r, t = triples
        heads, dk = self.cfg.n_heads, self.cfg.embedding_dim // self.cfg.n_heads
        ent = torch.cat([self.item_embedding.weight, self.entity_embedding.weight])
        usr = self.user_embedding.weight
        ent_sum, usr_sum = ent, usr
        for _ in range(self.cfg.n_layers):
            logits = self._logits(ent, h, r, t)  # [T, H]
            alpha = torch.stack([segment_softmax(logits[:, k], h, self.n_entities)
                                 for k in range(heads)], dim=1)  # [T, H]
            value = (ent[t] * self.relation_emb[r]).view(-1, heads, dk)
            msg = (alpha.unsqueeze(-1) * value).reshape(-1, heads * dk)  # [T, D]
            usr = self._mess(self._user_agg(user, item, w, ent))
            ent = self._mess(torch.zeros_like(ent).index_add_(0, h, msg))
            ent_sum, usr_sum = ent_sum + ent, usr_sum + usr
        return usr_sum, ent_sum

    def _kg_view_items(self, triples: Triples) -> torch.Tensor:
        ent = torch.cat([self.item_embedding.weight, self.entity_embedding.weight])
        out = ent
        for _ in range(self.cfg.n_layers):
            ent = self._mess(relation_aggregate(ent, self.relation_emb, *triples))
            out = out + ent
        return out[:self.n_items]

    def _ui_view_items(self, user, item, w) -> torch.Tensor:
        usr, itm = self.user_embedding.weight, self.item_embedding.weight
        out = itm
        for _ in range(self.cfg.n_layers):
            wu = w.to(itm.dtype).unsqueeze(1)
            u_next = torch.zeros_like(usr).index_add_(0, user, wu * itm[item])
            i_next = torch.zeros_like(itm).index_add_(0, item, wu * usr[user])
            usr, itm = self._mess(u_next), self._mess(i_next)
            out = out + itm
        return out

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        users, ents = self.encode((self.kg_head, self.kg_relation, self.kg_tail),
                                  self.edge_user, self.edge_item, self.edge_weight)
        return users, ents[:self.n_items]

    # -- losses -------------------------------------------------------------------------------
    def contrast(self, z_ui: torch.Tensor, z_kg: torch.Tensor) -> torch.Tensor:
        """Cross-view item contrast of the official code: ``−log(f(s_ii) / (2 f(s_ii) +
        f(s(h1_i, h2_π(i))) + f(s(h2_i, h1_π(i)))))``, ``f = exp(·/τ)``, ``s`` cosine, after one
        MLP per view, ``π`` a random permutation; mean over the items."""
        h1, h2 = self.mlp_ui(z_ui), self.mlp_kg(z_kg)
        perm = torch.randperm(h1.shape[0], generator=self.generator, device=h1.device)
        cos = lambda a, b: F.cosine_similarity(a, b, dim=1) / self.cfg.tau  # noqa: E731
        pos = cos(h1, h2)
        den = torch.logsumexp(torch.stack([pos + math.log(2.0), cos(h1, h2[perm]),
                                           cos(h2, h1[perm])]), dim=0)
        return (den - pos).mean()

    def loss(self, batch: PairBatch) -> LossOutput:
        cfg, gen = self.cfg, self.generator
        h, r, t, _ = drop_triples(self.kg_head, self.kg_relation, self.kg_tail,
                                  cfg.node_dropout_rate, generator=gen)
        keep_ui = torch.rand(self.edge_user.shape, generator=gen,
                             device=self.edge_user.device) >= cfg.node_dropout_rate
        user, item = self.edge_user[keep_ui], self.edge_item[keep_ui]
        w = self.edge_weight[keep_ui] / (1.0 - cfg.node_dropout_rate)
        ent0 = torch.cat([self.item_embedding.weight, self.entity_embedding.weight])
        score = self.rationale(ent0, (h, r, t))  # [T]
        # the items' mean rationale, over their triples as head and as tail (1 without any)
        ones = torch.ones_like(score)
        item_mean = []
        for end in (h, t):
            s = torch.zeros(self.n_entities, dtype=score.dtype,
                            device=score.device).index_add_(0, end, score)
            n = torch.zeros_like(s).index_add_(0, end, ones)
            item_mean.append(torch.where(n > 0, s / n.clamp_min(1), torch.ones_like(s)))
        item_attn = 0.5 * (item_mean[0] + item_mean[1])[:self.n_items]
        noisy = score + gumbel_noise(score.shape, gen, score.device)
        # masked rationale reconstruction: top-k noisy scores plus as many random triples
        k = min(cfg.mae_size, h.numel() // 4)
        mask = torch.zeros_like(h, dtype=torch.bool)
        if k > 0:
            mask[torch.topk(noisy, k, sorted=False).indices] = True
            mask[torch.randperm(h.numel(), generator=gen, device=h.device)[:k]] = True
        users, ents = self.encode((h[~mask], r[~mask], t[~mask]), user, item, w)
        u, p, n = users[batch.users], ents[batch.pos], ents[batch.neg]
        pos = (u * p).sum(-1)
        neg = (u.unsqueeze(1) * n).sum(-1)
        parts = {"bpr": bpr_loss(pos, neg), "reg": cfg.l2_reg * l2_regularization(u, p, n)}
        mh, mr, mt = h[mask], r[mask], t[mask]
        mae = -F.logsigmoid((ents[mh] * ents[mt] * self.relation_emb[mr]).sum(1)).mean() \
            if k > 0 else pos.new_zeros(())
        parts["mae"] = cfg.mae_weight * mae
        # rationale-aware views: the KG keeps its best-scored triples, the interactions are
        # sampled by their item's mean rationale (Gumbel-perturbed softmax)
        n_kg = h.numel() - int(cfg.cl_drop_rate * h.numel())
        top = torch.topk(noisy, n_kg, sorted=False).indices
        prob = torch.softmax(item_attn[item] + gumbel_noise(item.shape, gen, item.device), 0)
        n_ui = max(int((1.0 - cfg.cl_drop_rate) * item.numel()), 1)
        kept = torch.multinomial(prob, n_ui, replacement=False, generator=gen)
        z_kg = self._kg_view_items((h[top], r[top], t[top]))
        z_ui = self._ui_view_items(user[kept], item[kept], w[kept] / (1.0 - cfg.cl_drop_rate))
        parts["cl"] = cfg.cl_weight * self.contrast(z_ui, z_kg)
        return LossOutput(parts["bpr"] + parts["reg"] + parts["mae"] + parts["cl"], parts)
