"""SelfCF."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
from pydantic import Field

from ssrec.augment import edge_dropout_adjacency, embedding_dropout
from ssrec.models.base import LossOutput, register_model
from ssrec.models.layers import spmm
from ssrec.models.siamese import SiameseConfig, SiameseGraphCF

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData
    from ssrec.sampling import PairBatch


class SelfCFConfig(SiameseConfig):
    """SelfCF hyper-parameters (LightGCN backbone; defaults: SELFRec's SelfCF-he, the variant
    the paper reports best in most cases; ranges: the authors' search grid).

    Attributes:
        variant: the output perturbation that makes the target view: ``"he"`` historical
            embeddings, ``"ed"`` embedding dropout, ``"ep"`` edge pruning ("he").
        n_layers: LightGCN layers (2; grid 1-4).
        momentum: ``he`` only: weight of the stored history in the target (0.05; grid
            0.05-0.9).
        drop_rate: ``ed``: drop probability of each embedding entry; ``ep``: drop probability of
            each training edge (0.1; grid 0.05-0.2).
    """

    variant: Literal["he", "ed", "ep"] = "he"
    n_layers: int = Field(2, ge=0)
    momentum: float = Field(0.05, ge=0, le=1)
    drop_rate: float = Field(0.1, ge=0, lt=1)


@register_model("SelfCF")
class SelfCF(SiameseGraphCF):
    """SelfCF: self-supervised collaborative filtering without negatives and without a second
    encoder. One LightGCN encoder produces ``e_u, e_i``; the target view is a perturbed,
    gradient-free copy of that same output (stop-gradient), and a linear predictor ``h`` maps
    the online output of one side of each observed pair onto the target of the other side.

    Zhou et al., "SelfCF: A Simple Framework for Self-supervised Collaborative Filtering",
    ACM TORS 2023 (arXiv:2107.03019, Sec. 3). For a batch of pairs ``(u, i)``:

    * target views ``ẽ = sg(perturb(e))``:
      ``he`` ``ẽ_u = m·e_u^{prev} + (1 − m)·e_u`` with ``e_u^{prev}`` the node's online output
      at the previous step that contained it (stored after each step, ``on_after_step``);
      ``ed`` ``ẽ_u = dropout(e_u, p)``; ``ep`` ``ẽ = Â' e`` with ``Â'`` the normalised graph
      after dropping each edge with probability ``p`` (redrawn every step);
    * loss ``L = ½ S(h(e_u), ẽ_i) + ½ S(h(e_i), ẽ_u)`` with ``S(p, z) = 1 − cos(p, z)`` (the
      paper's negative cosine shifted by the constant 1);
    * score ``s(u, i) = h(e_u)·e_i + e_u·h(e_i)``.

    Shapes: ``e_u [U, D]``, ``e_i [I, D]``; history buffers ``[U, D]``, ``[I, D]`` (``he``);
    ``score(users [B]) -> [B, I]``.

    Config: ``variant`` "he", ``n_layers`` 2, ``momentum`` 0.05, ``drop_rate`` 0.1,
    ``embedding_dim`` 64, ``l2_reg`` 0. The batch's negatives are ignored. The history starts
    at zero (the reference code starts from N(0, 1) noise), so a node's first target is its
    own current output.
    """

    Config = SelfCFConfig
    paper = ("Zhou et al., SelfCF: A Simple Framework for Self-supervised Collaborative "
             "Filtering, ACM TORS 2023")

    def __init__(self, cfg: SelfCFConfig, data: InteractionData):
        super().__init__(cfg, data)
        d = cfg.embedding_dim
        self.register_buffer("history_user", torch.zeros(self.n_users, d))
        self.register_buffer("history_item", torch.zeros(self.n_items, d))
        self.register_buffer("edge_user", torch.as_tensor(data.train.user, dtype=torch.long),
                             persistent=False)
        self.register_buffer("edge_item", torch.as_tensor(data.train.item, dtype=torch.long),
                             persistent=False)
        self._pending: tuple[torch.Tensor, ...] | None = None

    def _targets(self, batch: PairBatch, users: torch.Tensor, items: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        cfg, u, i = self.cfg, users[batch.users], items[batch.pos]
        if cfg.variant == "he":
            self._pending = (batch.users, u, batch.pos, i)
            m = cfg.momentum
            return (m * self.history_user[batch.users] + (1 - m) * u,
                    m * self.history_item[batch.pos] + (1 - m) * i)
        if cfg.variant == "ed":
            return (embedding_dropout(u, cfg.drop_rate, self.generator),
                    embedding_dropout(i, cfg.drop_rate, self.generator))
        adj = edge_dropout_adjacency(self.edge_user, self.edge_item, self.n_users, self.n_items,
                                     cfg.drop_rate, generator=self.generator)
        pruned = spmm(adj, torch.cat([users, items]))  # [U+I, D]
        t_users, t_items = torch.split(pruned, [self.n_users, self.n_items])
        return t_users[batch.users], t_items[batch.pos]

    def loss(self, batch: PairBatch) -> LossOutput:
        users, items, _ = self.propagate()
        with torch.no_grad():  # stop-gradient: the targets are constants
            t_users, t_items = self._targets(batch, users.detach(), items.detach())
        parts = self.bootstrap_parts(batch, users[batch.users], items[batch.pos], t_users,
                                     t_items, weight=0.5)
        return LossOutput(parts["bootstrap"] + parts["reg"], parts)

    def on_after_step(self) -> None:
        if self._pending is not None:
            users, u, items, i = self._pending
            self.history_user[users] = u
            self.history_item[items] = i
            self._pending = None
