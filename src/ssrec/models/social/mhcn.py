"""MHCN."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ssrec.data.graph import bipartite_normalize, to_torch_sparse
from ssrec.losses import bpr_loss, l2_regularization
from ssrec.models.base import LossOutput, register_model
from ssrec.models.cf import EmbeddingCF, EmbeddingConfig
from ssrec.models.layers import spmm
from ssrec.models.social.motifs import channel_matrices
from ssrec.sampling import PairBatch

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData

CHANNELS = ("social", "joint", "purchase")


class MHCNConfig(EmbeddingConfig):
    """MHCN hyper-parameters (defaults: the paper / its reference implementation).

    Attributes:
        n_layers: hypergraph convolution layers ``L`` (2).
        cl_weight: weight β of the hierarchical mutual-information loss (0.01). The loss is the
            reference's sum over users and channels divided by the batch size, exactly as the
            BPR sum of the reference becomes ssrec's batch mean, so β keeps its meaning.
        purchase_threshold: the purchase channel keeps the user pairs that share more than
            this many items (3, the maintained reference code; its first release used 1).
        l2_reg: L2 weight on the batch's final user/item representations and on the gating
            and attention weights (1e-4).
    """

    n_layers: int = Field(2, ge=1)
    cl_weight: float = Field(0.01, ge=0)
    purchase_threshold: float = Field(3.0, ge=0)


@register_model("MHCN")
class MHCN(EmbeddingCF):
    """MHCN: multi-channel hypergraph convolution over motif-induced hypergraphs of the social
    and interaction graphs, with a hierarchical mutual-information self-supervised task.

    Yu et al., "Self-Supervised Multi-Channel Hypergraph Convolutional Network for Social
    Recommendation", WWW 2021 (Section 3; motif computations: Table 1, see
    :mod:`ssrec.models.social.motifs`). With ``P⁰ [U, D]`` / ``Q⁰ [I, D]`` the user / item
    embeddings and ``c ∈ {s, j, p}`` the social, joint and purchase channels:

    * self-gating: ``P_c⁰ = P⁰ ⊙ σ(P⁰ W_c + b_c)`` for the three channels and for a fourth,
      "simple" channel ``P_r⁰`` that is convolved over the user–item graph;
    * hypergraph convolution: ``P_c^{l+1} = D_c⁻¹ A_c P_c^l`` (``A_c`` the channel's
      motif-induced adjacency, built once, sparse, ``[U, U]``);
    * channel attention: ``α_c = softmax_c(aᵀ W_att p_c)``, ``att(P_s, P_j, P_p) = Σ_c α_c P_c``;
    * user–item convolution: ``Q^{l+1} = R̂ᵀ (att(P_s^l, P_j^l, P_p^l) + P_r^l / 2)`` and
      ``P_r^{l+1} = R̂ Q^l`` with ``R̂ = D_U^{-1/2} R D_I^{-1/2}``;
    * each representation is the sum of layer 0 and the L2-normalised layers ``1..L``; the
      final users are ``P = att(P_s, P_j, P_p) + P_r / 2`` ``[U, D]``, the items ``Q`` ``[I, D]``;
    * loss: BPR + L2 + ``β Σ_c L_c / B`` where, for the channel's self-supervised-gated users
      ``E_c = P ⊙ σ(P W'_c + b'_c)``, the sub-hypergraph readout ``Z_c = D_c⁻¹ A_c E_c`` and the
      hypergraph summary ``h_c = mean_u Z_c[u]``, ``L_c = Σ_u [−log σ(⟨e_u, z_u⟩ − ⟨ẽ_u, z_u⟩)
      − log σ(⟨ẽ_u, z_u⟩ − ⟨e_u, z̃_u⟩) − log σ(⟨z_u, h_c⟩ − ⟨z̃_u, h_c⟩)]`` (user ⊂ ego
      sub-hypergraph ⊂ hypergraph; ``ẽ`` row-shuffled, ``z̃`` row- and column-shuffled
      corruptions, redrawn every step from the run's generator), as in the reference code.

    Reference code: QRec ``model/ranking/MHCN.py`` (released with the paper) and SELFRec
    ``model/graph/MHCN.py`` (TensorFlow 1). ``R̂`` is the symmetric normalisation of QRec
    (SELFRec row-normalises ``R`` for both directions); the purchase threshold is SELFRec's (3;
    QRec: 1); BPR is a batch mean here (a sum there), so the L2 and self-supervised sums are
    divided by the batch size to keep the reference's balance between the terms.

    Shapes: ``score(users [B]) -> [B, I]``; channels ``[U, D]``; attention ``[U, 3]``.

    Config: ``n_layers`` 2, ``cl_weight`` 0.01, ``purchase_threshold`` 3, ``embedding_dim`` 64,
    ``l2_reg`` 1e-4.

    Raises:
        ConfigError: at build, for data without a social graph.
    """

    Config = MHCNConfig
    family = "social"
    needs_social = True
    paper = ("Yu et al., Self-Supervised Multi-Channel Hypergraph Convolutional Network for "
             "Social Recommendation, WWW 2021")

    def __init__(self, cfg: MHCNConfig, data: InteractionData):
        super().__init__(cfg, data)
        assert data.social is not None  # checked by build()
        d = cfg.embedding_dim
        mats = channel_matrices(data.social.matrix, data.train_csr, cfg.purchase_threshold)
        for name, m in zip(CHANNELS, mats):
            self.register_buffer(f"h_{name}", to_torch_sparse(m), persistent=False)
            self.register_buffer(f"h_{name}_t", to_torch_sparse(m.T), persistent=False)
        r = bipartite_normalize(data.train_csr)
        self.register_buffer("r", to_torch_sparse(r), persistent=False)  # [U, I]
        self.register_buffer("r_t", to_torch_sparse(r.T), persistent=False)  # [I, U]
        self.channel_links = {name: int(m.nnz) for name, m in zip(CHANNELS, mats)}
        # self-gating units: channels s, j, p and the simple (user-item) channel
        self.gate_weight = nn.Parameter(torch.empty(4, d, d))
        self.gate_bias = nn.Parameter(torch.empty(4, 1, d))
        # self-supervised gating units, one per channel
        self.ssl_gate_weight = nn.Parameter(torch.empty(3, d, d))
        self.ssl_gate_bias = nn.Parameter(torch.empty(3, 1, d))
        self.attention = nn.Parameter(torch.empty(1, d))  # a
        self.attention_weight = nn.Parameter(torch.empty(d, d))  # W_att
        self._reset_gates()

    def _reset_gates(self) -> None:
        for p in (self.gate_weight, self.gate_bias, self.ssl_gate_weight, self.ssl_gate_bias):
            for k in range(p.shape[0]):
                nn.init.xavier_uniform_(p.data[k])
        nn.init.xavier_uniform_(self.attention)
        nn.init.xavier_uniform_(self.attention_weight)

    def _channels(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(getattr(self, f"h_{c}"), getattr(self, f"h_{c}_t")) for c in CHANNELS]

    @staticmethod
    def _gate(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x @ weight + bias)  # [U, D]

    def _alpha(self, channels: list[torch.Tensor]) -> torch.Tensor:
        # aᵀ W_att p_c for every user and channel; (P W_att) aᵀ == P (W_att aᵀ): one [D] vector
        w = self.attention_weight @ self.attention.squeeze(0)  # [D]
        logits = torch.stack([c @ w for c in channels], dim=1)  # [U, C]
        return torch.softmax(logits, dim=1)

    def _attend(self, channels: list[torch.Tensor]) -> torch.Tensor:
        alpha = self._alpha(channels)  # [U, C]
        return sum(alpha[:, k:k + 1] * c for k, c in enumerate(channels))  # type: ignore[return-value]

    def channel_attention(self) -> torch.Tensor:
        """The attention weights ``α`` of the final user representations, ``[U, 3]``
        (columns: social, joint, purchase)."""
        with torch.no_grad():
            return self._alpha(self._propagate()[0])

    def _propagate(self) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        p0, q = self.user_embedding.weight, self.item_embedding.weight
        gw, gb = self.gate_weight, self.gate_bias
        chans = [self._gate(p0, gw[k], gb[k]) for k in range(3)]
        simple = self._gate(p0, gw[3], gb[3])
        chan_sum = list(chans)
        simple_sum, item_sum = simple, q
        for _ in range(self.cfg.n_layers):
            mixed = self._attend(chans) + simple / 2
            chans = [spmm(h, x, transpose=ht) for (h, ht), x in zip(self._channels(), chans)]
            chan_sum = [s + F.normalize(x, dim=1) for s, x in zip(chan_sum, chans)]
            q_next = spmm(self.r_t, mixed, transpose=self.r)  # [I, D]
            simple = spmm(self.r, q, transpose=self.r_t)  # [U, D]
            item_sum = item_sum + F.normalize(q_next, dim=1)
            simple_sum = simple_sum + F.normalize(simple, dim=1)
            q = q_next
        return chan_sum, simple_sum, item_sum

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        chans, simple, items = self._propagate()
        return self._attend(chans) + simple / 2, items

    def _shuffle_rows(self, x: torch.Tensor) -> torch.Tensor:
        perm = torch.randperm(x.shape[0], generator=self.generator, device=x.device)
        return x.index_select(0, perm)  # backward: index_add (fast, deterministic)

    def _corrupt(self, x: torch.Tensor) -> torch.Tensor:
        cols = torch.randperm(x.shape[1], generator=self.generator, device=x.device)
        return self._shuffle_rows(x.index_select(1, cols))

    def hierarchical_mim(self, users: torch.Tensor) -> torch.Tensor:
        """The self-supervised loss ``Σ_c L_c`` summed over all users (see class docs).

        Args:
            users: final user representations ``P`` ``[U, D]``.

        Returns:
            Scalar (a sum over users and channels, not a mean).
        """
        total = users.new_zeros(())
        for k, (h, ht) in enumerate(self._channels()):
            e = self._gate(users, self.ssl_gate_weight[k], self.ssl_gate_bias[k])  # [U, D]
            z = spmm(h, e, transpose=ht)  # ego sub-hypergraph readout [U, D]
            pos = (e * z).sum(1)
            neg_user = (self._shuffle_rows(e) * z).sum(1)
            neg_edge = (self._corrupt(z) * e).sum(1)
            local = F.softplus(neg_user - pos) + F.softplus(neg_edge - neg_user)
            graph = z.mean(dim=0)  # [D]
            glob = F.softplus(self._corrupt(z) @ graph - z @ graph)
            total = total + local.sum() + glob.sum()
        return total

    def loss(self, batch: PairBatch) -> LossOutput:
        users, items = self.embeddings()
        u = users.index_select(0, batch.users)  # [B, D]
        p = items.index_select(0, batch.pos)  # [B, D]
        n = items.index_select(0, batch.neg.reshape(-1)).view(*batch.neg.shape, -1)  # [B, N, D]
        b = batch.users.shape[0]
        bpr = bpr_loss((u * p).sum(-1), (u.unsqueeze(1) * n).sum(-1))
        weights = (self.gate_weight, self.gate_bias, self.ssl_gate_weight, self.ssl_gate_bias,
                   self.attention, self.attention_weight)
        reg = l2_regularization(u, p, n) + sum(w.pow(2).sum() for w in weights) / (2 * b)
        parts = {"bpr": bpr, "reg": self.cfg.l2_reg * reg}
        if self.cfg.cl_weight > 0:
            parts["cl"] = self.cfg.cl_weight * self.hierarchical_mim(users) / b
        return LossOutput(sum(parts.values()), parts)  # type: ignore[arg-type]
