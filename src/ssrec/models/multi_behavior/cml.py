"""CML: contrastive meta learning with behaviour multiplicity."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from pydantic import Field
from torch import nn

from ssrec.losses import info_nce, l2_regularization
from ssrec.models.base import LossOutput, register_model
from ssrec.models.cf import EmbeddingConfig
from ssrec.models.layers import behavior_messages
from ssrec.models.multi_behavior.base import MultiBehaviorCF

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData
    from ssrec.sampling import BehaviorPairBatch


class CMLConfig(EmbeddingConfig):
    """Attributes:
        embedding_dim: ``D`` (default 16, SSLRec's ``hidden_dim`` for CML).
        n_layers: ``L`` graph layers (default 3, SSLRec's ``gnn_layer``).
        ssl_weight: ``β``, weight of the behaviour contrastive terms (default 0.005, SSLRec's
            ``beta``).
        temperature: ``τ`` of the contrastive terms on raw inner products; ``None`` (default)
            divides by ``D`` as the official code does (``exp(x·y / D)``).
        meta: learn the auxiliary behaviours' loss weights with the meta network (default
            True); False weighs every behaviour 1.
        meta_lr: ``α``, the step size of the look-ahead update the meta network is scored on
            (default 1e-3, SSLRec's ``meta_lr``).
        meta_hidden: hidden units of the meta network (default 16).
    """

    embedding_dim: int = Field(16, ge=1)
    n_layers: int = Field(3, ge=1)
    ssl_weight: float = Field(0.005, ge=0)
    temperature: float | None = Field(None, gt=0)
    meta: bool = True
    meta_lr: float = Field(1e-3, gt=0)
    meta_hidden: int = Field(16, ge=1)


@register_model("CML")
class CML(MultiBehaviorCF):
    """CML: a multi-behaviour graph encoder, behaviour-wise contrastive learning between the
    target behaviour's user representation and each auxiliary behaviour's, and a meta network
    that weighs the auxiliary behaviours' losses.

    Wei, Huang, Xia, Xu, Zhao, Yin, "Contrastive Meta Learning with Behavior Multiplicity for
    Recommendation", WSDM 2022 (Sec. 3; official code weiwei1206/CML, SSLRec's ``cml.py``).

    * **Encoder** (Sec. 3.2): at layer ``l`` every behaviour ``k`` sends messages
      ``M_k = Â_k H^(l-1)``; the behaviour representation is ``σ(M_k W^l)`` and the shared one
      ``H^l = σ(mean_k(M_k) W^l)`` (separate ``W`` for user and item rows, ``σ`` the sigmoid);
      the layers ``1..L`` are concatenated and projected by ``[L·D, D]`` matrices.
    * **Contrastive views** (Sec. 3.3, Eq. 7): for the batch's users, InfoNCE between the target
      behaviour's user representation and each auxiliary behaviour's (the same user is the
      positive, the batch's other users the negatives), on inner products divided by ``τ``.
    * **Meta weighting** (Sec. 3.4): a small network maps each auxiliary behaviour's current
      BPR and contrastive loss values to a weight in (0, 2); the weighted losses train the
      encoder. The network is trained so that a look-ahead step on the weighted losses lowers
      the target behaviour's BPR loss. Simplified here: one weight per behaviour and batch
      (the paper's are per user), the look-ahead taken on the layer-0 embeddings in its
      first-order form ``L_t(θ − α Σ_k w_k ∇ℓ_k) ≈ L_t(θ) − α Σ_k w_k ⟨∇L_t, ∇ℓ_k⟩``, and the
      meta objective scored on the batch's target triples instead of a separate meta batch;
      the loss part ``meta`` is that first-order term (gradients reach the meta network only).

    Scoring: shared user representation · shared item representation.

    Shapes: ``Â_k`` ``[U+I, U+I]``; layer weights ``[D, D]``; ``score(users [B]) -> [B, I]``.

    Config (defaults): ``embedding_dim`` 16, ``n_layers`` 3, ``ssl_weight`` 0.005,
    ``temperature`` D, ``meta_lr`` 1e-3, ``l2_reg`` 1e-4.
    """

    Config = CMLConfig
    paper = ("Wei et al., Contrastive Meta Learning with Behavior Multiplicity for "
             "Recommendation, WSDM 2022")
    batch_kind = "behavior_pairwise"

    def __init__(self, cfg: CMLConfig, data: InteractionData):
        super().__init__(cfg, data)
        d, n = cfg.embedding_dim, cfg.n_layers

        def mat(rows: int) -> nn.Parameter:
            return nn.Parameter(nn.init.xavier_uniform_(torch.empty(rows, d)))

        self.w_user = nn.ParameterList([mat(d) for _ in range(n)])
        self.w_item = nn.ParameterList([mat(d) for _ in range(n)])
        self.cat_user = mat(n * d)
        self.cat_item = mat(n * d)
        self.meta_net = nn.Sequential(nn.Linear(2, cfg.meta_hidden), nn.ReLU(),
                                      nn.Linear(cfg.meta_hidden, 1))
        # behaviour k of the cascade is row order[k] of a BehaviorPairBatch
        self.batch_row = [self.behavior_names.index(b) for b in self.cascade]

    def encode(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Shared node representations ``[U+I, D]`` and per-behaviour ones ``[K, U+I, D]``
        (cascade order, target last)."""
        h = self.ego()
        shared, per = [], []
        nu = self.n_users
        for layer in range(self.cfg.n_layers):
            m = behavior_messages(self.behavior_adjs(), h)  # [K, N, D]

            def lin(x: torch.Tensor) -> torch.Tensor:  # user rows and item rows apart
                return torch.cat([x[..., :nu, :] @ self.w_user[layer],
                                  x[..., nu:, :] @ self.w_item[layer]], dim=-2)

            h = torch.sigmoid(lin(m.mean(0)))  # [N, D]
            shared.append(h)
            per.append(torch.sigmoid(lin(m)))  # [K, N, D]
        hs, hp = torch.cat(shared, -1), torch.cat(per, -1)  # [N, L·D], [K, N, L·D]
        out = torch.cat([hs[:nu] @ self.cat_user, hs[nu:] @ self.cat_item])
        outk = torch.cat([hp[:, :nu] @ self.cat_user, hp[:, nu:] @ self.cat_item], dim=1)
        return out, outk

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        nodes, _ = self.encode()
        return nodes[:self.n_users], nodes[self.n_users:]

    def loss(self, batch: BehaviorPairBatch) -> LossOutput:
        nodes, per = self.encode()
        users, items = nodes[:self.n_users], nodes[self.n_users:]
        bpr_all = self.behavior_bpr(users, items, batch)  # [K], dataset order
        bpr = bpr_all[self.batch_row]  # [K], cascade order (target last)
        uid = batch.distinct_users()
        tau = self.cfg.temperature or float(self.cfg.embedding_dim)
        target_u = per[-1, uid]  # [B_u, D]
        aux = len(self.cascade) - 1
        cl = torch.stack([info_nce(target_u, per[k, uid], tau, normalize=False)
                          for k in range(aux)])  # [K-1]
        aux_loss = bpr[:aux] + self.cfg.ssl_weight * cl  # [K-1]
        # the meta network reads the current loss values (no gradient into the encoder)
        feats = torch.stack([bpr[:aux], cl], dim=1).detach()  # [K-1, 2]
        w = (2 * torch.sigmoid(self.meta_net(feats)).squeeze(-1) if self.cfg.meta
             else feats.new_ones(aux))  # [K-1]
        ego_u, ego_p = self.user_embedding(batch.users), self.item_embedding(batch.pos)
        reg = self.cfg.l2_reg * l2_regularization(ego_u, ego_p, self.item_embedding(batch.neg))
        parts = {"bpr": bpr[-1], "bpr_aux": (w.detach() * bpr[:aux]).sum(),
                 "cl": (w.detach() * self.cfg.ssl_weight * cl).sum(), "reg": reg}
        if self.cfg.meta and self.training and torch.is_grad_enabled():
            params = [self.user_embedding.weight, self.item_embedding.weight]
            g_t = torch.autograd.grad(bpr[-1], params, retain_graph=True)
            align = []
            for k in range(aux):  # ⟨∇L_target, ∇ℓ_k⟩ on the layer-0 embeddings
                g_k = torch.autograd.grad(aux_loss[k], params, retain_graph=True)
                align.append(sum((a * b).sum() for a, b in zip(g_t, g_k)))
            parts["meta"] = -self.cfg.meta_lr * (w * torch.stack(align).detach()).sum()
        return LossOutput(sum(parts.values()), parts)  # type: ignore[arg-type]
