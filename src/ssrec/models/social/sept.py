"""SEPT."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from pydantic import Field

from ssrec.augment import drop_edges
from ssrec.data.graph import normalized_adjacency, sym_normalize, to_torch_sparse
from ssrec.losses import info_nce_multi_positive
from ssrec.models.base import LossOutput, TrainContext, register_model
from ssrec.models.cf import GraphCF, GraphConfig
from ssrec.models.layers import propagate
from ssrec.sampling import PairBatch

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData


def social_views(social: sp.spmatrix, interactions: sp.spmatrix
                 ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """SEPT's two social views of the users, as normalised ``[U, U]`` adjacencies.

    * friend view ``A_f = (S·S) ⊙ S + I``: a social link is kept when the two users have a
      common friend (a closed triangle), weighted by the number of common friends;
    * sharing view ``A_s = (R·Rᵀ) ⊙ S + I``: a social link is kept when the two friends share
      an item, weighted by the number of shared items.

    Both are normalised as ``D^{-1/2} A D^{-1/2}``.

    Args:
        social: symmetric binary social matrix ``S`` ``[U, U]`` (no self links).
        interactions: training interactions ``R`` ``[U, I]``.

    Returns:
        ``(friend, sharing)``, symmetric ``float32`` CSR ``[U, U]``.
    """
    s = sp.csr_matrix(social, dtype=np.float32)
    r = sp.csr_matrix(interactions, dtype=np.float32)
    eye = sp.identity(s.shape[0], dtype=np.float32, format="csr")
    friend = (s @ s).multiply(s) + eye
    sharing = (r @ r.T).multiply(s) + eye
    return sym_normalize(friend), sym_normalize(sharing)


class SEPTConfig(GraphConfig):
    """SEPT hyper-parameters (defaults: the paper / its reference implementation).

    Attributes:
        n_layers: graph convolution layers of every encoder (2).
        cl_weight: weight β of the neighbour-discrimination loss (0.005). The loss is the
            reference's sum over the batch's distinct users divided by the batch size, exactly
            as the BPR sum of the reference becomes ssrec's batch mean, so β keeps its meaning.
        tau: temperature τ of the neighbour-discrimination InfoNCE (0.1).
        drop_rate: edge-dropout probability of the perturbed graph that provides the
            unlabelled examples (0.3).
        n_positives: ``K``, pseudo-labelled positive examples per user and view (10).
        warmup_epochs: epochs trained on the recommendation loss alone before tri-training
            starts (10: the reference trains the first third of its 30 epochs this way).
    """

    n_layers: int = Field(2, ge=1)
    cl_weight: float = Field(0.005, ge=0)
    tau: float = Field(0.1, gt=0)
    drop_rate: float = Field(0.3, ge=0, lt=1)
    n_positives: int = Field(10, ge=1)
    warmup_epochs: int = Field(10, ge=0)


@register_model("SEPT")
class SEPT(GraphCF):
    """SEPT: socially-aware self-supervised tri-training. Three encoders share the user
    embeddings: the preference view (the user–item graph, used for recommendation), the friend
    view and the sharing view (see :func:`social_views`). For the batch's distinct users, each
    view predicts which users of a perturbed (edge-dropout) user–item graph are its neighbours;
    the two other views' averaged predictions label the ``K`` most likely ones as positives for
    the third view, which is trained to pick them out with InfoNCE against all other users of
    the batch (neighbour discrimination).

    Yu et al., "Socially-Aware Self-Supervised Tri-Training for Recommendation", KDD 2021
    (Section 3: data augmentation, tri-training, neighbour discrimination). With the ego
    embeddings ``E⁰`` and a view's normalised adjacency ``Â``:

    * encoder: ``E^{l+1} = normalize(Â E^l)`` (row L2), ``E = Σ_{l=0..L} E^l``;
    * preference view on the training graph ``[U+I, U+I]`` (recommendation, BPR + L2),
      friend and sharing views on ``[U, U]`` from the user embeddings, the unlabelled view on
      the training graph with edges dropped with probability ``ρ`` (redrawn every epoch);
    * for view ``v`` and batch users ``u, w``: ``ŷ_v(u, w) = softmax_w(cos(e_u^v, ẽ_w))``; the
      positives of view ``v`` are ``top-K_w ½(ŷ_{v'} + ŷ_{v''})`` over the two other views;
    * ``L_v = Σ_u −log(Σ_{w ∈ pos_v(u)} exp(cos(e_u^v, ẽ_w)/τ) / Σ_w exp(cos(e_u^v, ẽ_w)/τ))``
      (:func:`~ssrec.losses.info_nce_multi_positive`); total ``BPR + L2 + β Σ_v L_v / B``
      after ``warmup_epochs`` epochs of BPR + L2 alone.

    Reference code: QRec ``model/ranking/SEPT.py`` (released with the paper) and SELFRec
    ``model/graph/SEPT.py`` (TensorFlow 1). As in SELFRec, edges are dropped from the
    user–item graph only (QRec also drops social links and adds them to the perturbed graph).
    The social graph is used undirected (``S ∨ Sᵀ``), as the views need a symmetric matrix
    (the reference uses the links as given; lastfm's are all mutual anyway). The L2 penalty is
    ssrec's usual one on the batch's layer-0 embeddings (the reference penalises the whole
    embedding tables), and one optimiser serves both phases (the reference starts a second Adam
    when tri-training begins).

    Shapes: ``score(users [B]) -> [B, I]``; tri-training on ``[B_u, B_u]`` similarities of the
    ``B_u`` distinct users of the batch.

    Config: ``n_layers`` 2, ``cl_weight`` 0.005, ``tau`` 0.1, ``drop_rate`` 0.3,
    ``n_positives`` 10, ``warmup_epochs`` 10, ``embedding_dim`` 64, ``l2_reg`` 1e-4.

    Raises:
        ConfigError: at build, for data without a social graph.
    """

    Config = SEPTConfig
    family = "social"
    needs_social = True
    paper = ("Yu et al., Socially-Aware Self-Supervised Tri-Training for Recommendation, "
             "KDD 2021")

    def __init__(self, cfg: SEPTConfig, data: InteractionData):
        super().__init__(cfg, data)
        assert data.social is not None  # checked by build()
        friend, sharing = social_views(data.social.symmetrized(), data.train_csr)
        self.register_buffer("friend_adj", to_torch_sparse(friend), persistent=False)
        self.register_buffer("sharing_adj", to_torch_sparse(sharing), persistent=False)
        self.register_buffer("train_user", torch.from_numpy(data.train.user), persistent=False)
        self.register_buffer("train_item", torch.from_numpy(data.train.item), persistent=False)
        self.aug_adj: torch.Tensor | None = None
        self.tri_training = False

    def _encode(self, adj: torch.Tensor, ego: torch.Tensor) -> torch.Tensor:
        _, layers = propagate(adj, ego, self.cfg.n_layers,
                              layer_hook=lambda x, _: F.normalize(x, dim=1))
        out = layers[0]
        for x in layers[1:]:
            out = out + x
        return out  # [N, D]

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        users, items = torch.split(self._encode(self.adj, self.ego()), [self.n_users, self.n_items])
        return users, items

    def on_epoch_start(self, ctx: TrainContext) -> None:
        """After the warm-up, redraw the perturbed graph (edge dropout with ``drop_rate``)."""
        self.tri_training = ctx.epoch > self.cfg.warmup_epochs and self.cfg.cl_weight > 0
        if self.tri_training:
            u, i, _ = drop_edges(self.train_user, self.train_item, self.cfg.drop_rate,
                                 generator=ctx.generator)
            self.aug_adj = normalized_adjacency(u, i, self.n_users, self.n_items)
        else:
            self.aug_adj = None

    def neighbour_discrimination(self, views: list[torch.Tensor], unlabelled: torch.Tensor
                                 ) -> torch.Tensor:
        """Tri-training loss ``Σ_v L_v`` (a sum over views and anchors).

        Args:
            views: the batch users' friend, sharing and preference representations, each
                ``[B_u, D]``.
            unlabelled: the same users' representations on the perturbed graph ``[B_u, D]``.

        Returns:
            Scalar.
        """
        k = min(self.cfg.n_positives, unlabelled.shape[0])
        with torch.no_grad():
            target = F.normalize(unlabelled, dim=1)
            probs = [torch.softmax(F.normalize(v, dim=1) @ target.T, dim=1) for v in views]
        total = unlabelled.new_zeros(())
        for v, view in enumerate(views):
            others = [p for w, p in enumerate(probs) if w != v]
            positives = torch.topk((others[0] + others[1]) / 2, k, dim=1).indices  # [B_u, K]
            total = total + info_nce_multi_positive(view, unlabelled, positives, self.cfg.tau,
                                                    reduction="sum")
        return total

    def loss(self, batch: PairBatch) -> LossOutput:
        ego = self.ego()
        nodes = self._encode(self.adj, ego)  # preference view [U+I, D]
        parts = self.node_bpr_parts(nodes, ego, batch)
        if self.tri_training and self.aug_adj is not None:
            users = nodes[:self.n_users]
            uid = batch.distinct_users()
            base = self.user_embedding.weight
            friend = self._encode(self.friend_adj, base)[uid]
            sharing = self._encode(self.sharing_adj, base)[uid]
            aug = self._encode(self.aug_adj, ego)[uid]
            nd = self.neighbour_discrimination([friend, sharing, users[uid]], aug)
            parts["cl"] = self.cfg.cl_weight * nd / batch.users.shape[0]
        else:
            parts["cl"] = nodes.new_zeros(())
        return LossOutput(parts["bpr"] + parts["reg"] + parts["cl"], parts)
