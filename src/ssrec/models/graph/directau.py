"""DirectAU."""

from __future__ import annotations

import torch
from pydantic import Field

from ssrec.losses import alignment, l2_regularization, uniformity
from ssrec.models.base import LossOutput, register_model
from ssrec.models.cf import GraphCF, GraphConfig
from ssrec.sampling import PairBatch


class DirectAUConfig(GraphConfig):
    """DirectAU hyper-parameters (defaults: the paper's).

    Attributes:
        n_layers: encoder depth: 0 is the paper's default MF encoder, ``L >= 1`` a LightGCN
            encoder with ``L`` layers (the paper's Table 5 variant) (0).
        gamma: weight γ of the uniformity loss (1.0; the paper tunes it in [0.2, 10]).
        l2_reg: L2 penalty on the batch's layer-0 embeddings (0.0; the paper tunes a weight
            decay in {0, 1e-8, 1e-6, 1e-4}).
    """

    n_layers: int = Field(0, ge=0)
    gamma: float = Field(1.0, ge=0)
    l2_reg: float = Field(0.0, ge=0)


@register_model("DirectAU")
class DirectAU(GraphCF):
    """DirectAU: optimise alignment and uniformity of the L2-normalised user and item
    representations directly, with no negative sampling. Alignment pulls the batch's
    (user, positive item) pairs together; uniformity spreads the batch's distinct users, and
    separately its distinct items, over the unit hypersphere. Scores are raw inner products
    of the encoder outputs (as in the official code).

    Wang et al., "Towards Representation Alignment and Uniformity in Collaborative Filtering",
    KDD 2022, Sec. 4: ``l_align = E_(u,i)~p_pos ||f̃(u) - f̃(i)||²``,
    ``l_uniform = (log E_(u,u') e^{-2||f̃(u) - f̃(u')||²} + log E_(i,i') e^{-2||f̃(i) - f̃(i')||²}) / 2``
    (``f̃`` the L2-normalised encoder output), ``L = l_align + γ l_uniform``.

    Shapes: alignment over ``[B, D]`` pairs; uniformity over ``[B_u, D]`` and ``[B_i, D]``
    (``B_u(B_u-1)/2`` and ``B_i(B_i-1)/2`` pairs); ``score(users [B]) -> [B, I]``. The
    sampler's negatives are ignored.

    Config: ``n_layers`` 0 (MF encoder), ``gamma`` 1.0, ``embedding_dim`` 64, ``l2_reg`` 0.
    """

    Config = DirectAUConfig
    paper = ("Wang et al., Towards Representation Alignment and Uniformity in Collaborative "
             "Filtering, KDD 2022")

    def loss(self, batch: PairBatch) -> LossOutput:
        users, items = self.embeddings()
        align = alignment(users[batch.users], items[batch.pos])
        uniform = (uniformity(users[batch.distinct_users()])
                   + uniformity(items[batch.distinct_pos()])) / 2
        reg = l2_regularization(self.user_embedding(batch.users), self.item_embedding(batch.pos))
        parts = {"align": align, "uniform": self.cfg.gamma * uniform,
                 "reg": self.cfg.l2_reg * reg}
        return LossOutput(parts["align"] + parts["uniform"] + parts["reg"], parts)
