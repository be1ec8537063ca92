"""S-MBRec: per-behaviour graph convolution, a behaviour-weighted supervised task and star-style
contrastive learning between the target behaviour and each auxiliary behaviour."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from pydantic import Field, field_validator
from torch import nn

from ssrec.errors import ConfigError
from ssrec.losses import bpr_loss, info_nce, l2_regularization
from ssrec.models.base import LossOutput, register_model
from ssrec.models.cf import EmbeddingConfig
from ssrec.models.layers import propagate
from ssrec.models.multi_behavior.base import MultiBehaviorCF

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData
    from ssrec.sampling import BehaviorPairBatch


def star_contrastive(center: torch.Tensor, leaves: torch.Tensor | Sequence[torch.Tensor],
                     temperatures: Sequence[float]) -> torch.Tensor:
    """Star-style contrastive loss (Gu et al., IJCAI 2022, Sec. 3.3): the target behaviour's
    representation is the centre, each auxiliary behaviour's a leaf; only centre–leaf pairs
    are contrasted, never two leaves.

    For leaf ``k`` with temperature ``τ_k`` and cosine similarity ``s``, the symmetric InfoNCE
    over the ``B`` rows (row ``n`` of the other view is the positive, its other rows the
    negatives; the official code's ``Contrast`` module)::

        ℓ_k = ½ mean_n [ -log softmax_m(s(c_n, a_km)/τ_k)[n] - log softmax_m(s(a_kn, c_m)/τ_k)[n] ]

    Args:
        center: ``[B, D]`` target-behaviour representations.
        leaves: ``[K-1, B, D]`` (or ``K-1`` tensors ``[B, D]``) auxiliary-behaviour
            representations of the same rows.
        temperatures: ``K-1`` temperatures ``τ_k > 0``.

    Returns:
        ``[K-1]``: ``ℓ_k`` per auxiliary behaviour.

    Raises:
        ValueError: the number of leaves and temperatures differ.
    """
    if len(leaves) != len(temperatures):
        raise ValueError(f"{len(leaves)} leaves but {len(temperatures)} temperatures")
    return torch.stack([(info_nce(center, leaf, t) + info_nce(leaf, center, t)) / 2
                        for leaf, t in zip(leaves, temperatures)])


class SMBRecConfig(EmbeddingConfig):
    """Hyper-parameters; defaults from the official code (GuShuyun/MBRec@bf4519a,
    ``utils/parser.py``), whose flag is named.

    Attributes:
        embedding_dim: ``D`` (default 256, ``--dim``).
        n_layers: ``L``, LightGCN layers of every behaviour's graph (default 3,
            ``--context_hops``).
        l2_reg: weight of the L2 penalty on the batch's layer-0 embeddings (default 1e-4,
            ``--l2``).
        ssl_weight: ``λ``, weight of the star contrastive loss (default 0.2, ``--lamda``).
        user_temperature: ``τ`` of the user contrast of each auxiliary behaviour with the
            target, in cascade order (view, cart on the registered datasets), or one value for
            all (default ``(1.0, 0.5)``: ``--tua0`` for buy–view and ``--tua1`` for buy–cart).
        item_temperature: ``τ`` of the item contrast likewise (default 0.2: ``--tua3``
            buy–view and ``--tua2`` buy–cart are both 0.2).
        item_contrast: contrast the batch's positive items as well as its users (default True,
            as the official code does).
        aux_weight: weight of each auxiliary behaviour's own BPR loss (its users and items
            scored on that behaviour's graph representations), added to the target's. Default
            0: the official code trains on target triples only; > 0 adds the weighted
            auxiliary-behaviour losses (not in the official code).
    """

    embedding_dim: int = Field(256, ge=1)
    n_layers: int = Field(3, ge=0)
    ssl_weight: float = Field(0.2, ge=0)
    user_temperature: float | tuple[float, ...] = (1.0, 0.5)
    item_temperature: float | tuple[float, ...] = 0.2
    item_contrast: bool = True
    aux_weight: float = Field(0.0, ge=0)

    @field_validator("user_temperature", "item_temperature")
    @classmethod
    def _positive(cls, v: float | tuple[float, ...]) -> float | tuple[float, ...]:
        values = v if isinstance(v, tuple) else (v,)
        if not values or any(t <= 0 for t in values):
            raise ValueError(f"{v}: temperatures must be > 0")
        return v


@register_model("SMBRec")
class SMBRec(MultiBehaviorCF):
    """S-MBRec: LightGCN over each behaviour's user–item graph from shared layer-0 embeddings,
    a supervised task that weighs the behaviours per user, and star-style contrastive learning
    between the target behaviour and each auxiliary behaviour.

    Gu, Wang, Shi, Xiao, "Self-supervised Graph Neural Networks for Multi-behavior
    Recommendation", IJCAI 2022 (official PyTorch code GuShuyun/MBRec, ``modules/LightGCN.py``).

    * **Per-behaviour GCN**: ``E_k = mean_{l=0..L} Â_k^l E^0`` over behaviour ``k``'s graph
      ``Â_k`` (LightGCN, He et al., SIGIR 2020, Eq. 8), every behaviour from the same ``E^0``:
      ``e_u^k``, ``e_i^k``.
    * **Supervised task** (behaviour importance): ``α_uk = softmax_k(w_k · n_uk / Σ_m n_um)``
      with ``n_uk`` the user's training rows of behaviour ``k`` and ``w_k`` learnt (initially
      0.4 for the target, 0.3 for the others, as in the official code);
      ``e_u = (Σ_k α_uk e_u^k) W_u`` and ``e_i = [e_i^1 ‖ … ‖ e_i^K] W_i``; BPR on the target
      triples with ``ŷ_ui = e_u · e_i``. With ``aux_weight > 0``, each auxiliary behaviour's
      triples add ``aux_weight · BPR`` scored as ``e_u^k · e_i^k``.
    * **Star contrastive task**: for the batch's distinct users (and distinct positive items),
      :func:`star_contrastive` between the target behaviour's ``e^t`` and each auxiliary
      behaviour's ``e^k`` (cosine, ``τ`` per behaviour); never between two auxiliary
      behaviours.
    * Loss: ``L = BPR_target [+ aux_weight Σ_k BPR_k] + λ (Σ_k ℓ_k^user + Σ_k ℓ_k^item)
      + l2_reg ‖E^0_batch‖²``.

    Differences from the official code: it scores the test with ``Σ_k e_u^k · e_i^k`` (the
    concatenation of the unweighted behaviour representations), unlike its training score; here
    training and evaluation use the same ``e_u · e_i``. Its ``W_u`` is left uninitialised and
    the negatives are projected with a third matrix; here ``W_u`` and ``W_i`` are
    Xavier-initialised and ``W_i`` projects positives and negatives alike. Its loss is the
    K-pair ``log(1 + Σ_{j≤5} exp(ŷ_uj - ŷ_ui))``; here BPR with the sampler's negatives. The
    behaviour shares ``n_uk / Σ_m n_um`` are not rounded to two decimals. Edge and message
    dropout (off by default there) are not implemented.

    Shapes: ``E^0`` ``[U+I, D]``; ``Â_k`` ``[U+I, U+I]`` × ``K``; ``W_u`` ``[D, D]``, ``W_i``
    ``[K·D, D]``; ``score(users [B]) -> [B, I]``.

    Config (defaults): ``embedding_dim`` 256, ``n_layers`` 3, ``ssl_weight`` 0.2,
    ``user_temperature`` (1.0, 0.5), ``item_temperature`` 0.2, ``l2_reg`` 1e-4,
    ``aux_weight`` 0.
    """

    Config = SMBRecConfig
    paper = ("Gu et al., Self-supervised Graph Neural Networks for Multi-behavior "
             "Recommendation, IJCAI 2022")
    batch_kind = "behavior_pairwise"  # the auxiliary triples feed aux_weight > 0

    def __init__(self, cfg: SMBRecConfig, data: InteractionData):
        super().__init__(cfg, data)
        mb = data.behaviors
        assert mb is not None
        k, d = len(self.cascade), cfg.embedding_dim
        self.user_tau = self._per_auxiliary(cfg.user_temperature, "user_temperature")
        self.item_tau = self._per_auxiliary(cfg.item_temperature, "item_temperature")
        counts = torch.from_numpy(mb.counts(self.cascade)).float()  # [U, K]
        self.register_buffer("shares", counts / counts.sum(1, keepdim=True).clamp(min=1),
                             persistent=False)  # n_uk / Σ_m n_um
        self.behavior_weight = nn.Parameter(torch.tensor([0.3] * (k - 1) + [0.4]))  # w_k
        self.w_user = nn.Parameter(nn.init.xavier_uniform_(torch.empty(d, d)))
        self.w_item = nn.Parameter(nn.init.xavier_uniform_(torch.empty(k * d, d)))
        # behaviour k of the cascade is row batch_row[k] of a BehaviorPairBatch
        self.batch_row = [self.behavior_names.index(b) for b in self.cascade]

    def _per_auxiliary(self, value: float | tuple[float, ...], key: str) -> tuple[float, ...]:
        aux = self.cascade[:-1]
        if not isinstance(value, tuple):
            return (float(value),) * len(aux)
        if len(value) != len(aux):
            raise ConfigError(f"model.{key} has {len(value)} entries but the data has "
                              f"{len(aux)} auxiliary behaviours ({', '.join(aux)}); give one "
                              "per auxiliary behaviour in this order, or a single value")
        return tuple(float(t) for t in value)

    def behavior_nodes(self) -> torch.Tensor:
        """``[K, U+I, D]``: every behaviour's LightGCN representation (cascade order, target
        last)."""
        ego = self.ego()
        return torch.stack([propagate(a, ego, self.cfg.n_layers)[0]
                            for a in self.behavior_adjs()])

    def importance(self) -> torch.Tensor:
        """``α [U, K]`` (cascade order), rows summing to 1."""
        return torch.softmax(self.shares * self.behavior_weight, dim=1)

    def _users(self, per: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        """``e_u = (Σ_k α_uk e_u^k) W_u`` for ``users`` (all when None): ``[B, D]``."""
        alpha = self.importance()
        eu = per[:, :self.n_users]  # [K, U, D]
        if users is not None:
            alpha, eu = alpha[users], eu[:, users]
        return torch.einsum("bk,kbd->bd", alpha, eu) @ self.w_user

    def _items(self, per: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """``e_i = [e_i^1 ‖ … ‖ e_i^K] W_i`` for ``items`` (any shape ``S``; all when None):
        ``[*S, D]``."""
        ei = per[:, self.n_users:]  # [K, I, D]
        if items is not None:
            ei = ei[:, items]  # [K, *S, D]
        return torch.cat(ei.unbind(0), dim=-1) @ self.w_item

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        per = self.behavior_nodes()
        return self._users(per), self._items(per)

    def loss(self, batch: BehaviorPairBatch) -> LossOutput:
        per = self.behavior_nodes()  # [K, N, D]
        u = self._users(per, batch.users)  # [B, D]
        pos = (u * self._items(per, batch.pos)).sum(-1)  # [B]
        neg = (u.unsqueeze(1) * self._items(per, batch.neg)).sum(-1)  # [B, N]
        reg = l2_regularization(self.user_embedding(batch.users), self.item_embedding(batch.pos),
                                self.item_embedding(batch.neg))
        parts = {"bpr": bpr_loss(pos, neg), "reg": self.cfg.l2_reg * reg}
        if self.cfg.aux_weight > 0:
            nu = self.n_users
            order = [self.cascade.index(b) for b in self.behavior_names]  # dataset order
            bpr_all = self.behavior_bpr(per[order, :nu], per[order, nu:], batch)  # [K]
            aux = bpr_all[self.batch_row[:-1]]  # the auxiliary behaviours
            parts["bpr_aux"] = self.cfg.aux_weight * aux.sum()
        uid = batch.distinct_users()
        cl = star_contrastive(per[-1, uid], per[:-1, uid], self.user_tau).sum()
        if self.cfg.item_contrast:
            iid = batch.distinct_pos() + self.n_users
            cl = cl + star_contrastive(per[-1, iid], per[:-1, iid], self.item_tau).sum()
        parts["cl"] = self.cfg.ssl_weight * cl
        return LossOutput(sum(parts.values()), parts)  # type: ignore[arg-type]
