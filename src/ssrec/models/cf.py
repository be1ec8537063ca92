"""Family bases for embedding-based collaborative filtering.

:class:`EmbeddingCF` owns the user and item embedding tables, the BPR objective on a
:class:`~ssrec.sampling.PairBatch` and cached full-ranking scores. :class:`GraphCF` adds the
normalised training graph and LightGCN propagation. A graph SSL model subclasses
:class:`GraphCF` and adds only its views and auxiliary loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

import torch
from pydantic import Field
from torch import nn

from ssrec.errors import ConfigError
from ssrec.losses import bpr_loss, info_nce, l2_regularization
from ssrec.models.base import ModelConfig, Recommender, matmul_into
from ssrec.models.layers import propagate, propagate_rows
from ssrec.models.layers.sampled import CSRGraph, propagate_rows_sampled

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData
    from ssrec.sampling import PairBatch


class EmbeddingConfig(ModelConfig):
    """Attributes:
        embedding_dim: ``D``, the embedding size (default 64).
        l2_reg: weight of the L2 penalty on the batch's layer-0 embeddings (default 1e-4).
        init_std: ``None`` (default): Xavier-uniform initial embeddings (SELFRec's choice);
            a number: normal with mean 0 and this standard deviation (LightGCN-PyTorch uses
            0.1 for LightGCN and 1.0 for its BPR-MF).
    """

    embedding_dim: int = Field(64, ge=1)
    l2_reg: float = Field(1e-4, ge=0)
    init_std: float | None = Field(None, gt=0)


class EmbeddingCF(Recommender):
    """User/item embedding tables ``[U, D]`` and ``[I, D]`` (Xavier-uniform initialised, or
    normal with ``init_std``), scored by inner product. Subclasses override :meth:`embeddings` to transform them."""

    Config = EmbeddingConfig

    def __init__(self, cfg: EmbeddingConfig, data: InteractionData):
        super().__init__(cfg, data)
        self.user_embedding = nn.Embedding(self.n_users, cfg.embedding_dim)
        self.item_embedding = nn.Embedding(self.n_items, cfg.embedding_dim)
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for table in (self.user_embedding, self.item_embedding):
            if self.cfg.init_std is None:
                nn.init.xavier_uniform_(table.weight)
            else:
                nn.init.normal_(table.weight, std=self.cfg.init_std)

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Final user ``[U, D]`` and item ``[I, D]`` representations used for scoring."""
        return self.user_embedding.weight, self.item_embedding.weight

    def bpr_parts(self, users_all: torch.Tensor, items_all: torch.Tensor, batch: PairBatch
                  ) -> dict[str, torch.Tensor]:
        """BPR loss of the batch on the given representations plus the weighted L2 penalty on
        the batch's layer-0 embeddings.

        Returns:
            ``{"bpr": scalar, "reg": scalar}``.
        """
        u = users_all[batch.users]  # [B, D]
        p = items_all[batch.pos]  # [B, D]
        n = items_all[batch.neg]  # [B, N, D]
        pos = (u * p).sum(-1)  # [B]
        neg = (u.unsqueeze(1) * n).sum(-1)  # [B, N]
        reg = l2_regularization(self.user_embedding(batch.users), self.item_embedding(batch.pos),
                                self.item_embedding(batch.neg))
        return {"bpr": bpr_loss(pos, neg), "reg": self.cfg.l2_reg * reg}

    def on_eval_start(self, split: str) -> None:
        self._cache = tuple(t.detach() for t in self.embeddings())  # type: ignore[assignment]

    def on_eval_end(self) -> None:
        self._cache = None

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self.score_into(users, None)

    def score_into(self, users: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
        users_all, items_all = self._cache if self._cache is not None else self.embeddings()
        return matmul_into(users_all[users], items_all.T, out)  # [B, I]


class GraphConfig(EmbeddingConfig):
    """Attributes:
        n_layers: ``L``, propagation layers (default 3, as in LightGCN).
        propagation: how a training step propagates (evaluation always propagates the full
            graph once). ``"full"`` (default): every step propagates the whole graph, an epoch
            costs ``steps × L × nnz × D``, quadratic in the data at a fixed batch size.
            ``"sampled"``: each step computes the batch's rows from neighbourhoods sampled
            with ``fanouts`` (:mod:`ssrec.models.layers.sampled`; unbiased, exact when every
            degree is within its fanout), at a cost per step bounded independently of the
            graph: an epoch grows linearly. Models with ``supports_sampled`` only (LightGCN,
            SimGCL).
        fanouts: neighbours drawn per node at hop 1, 2, ... (hop 1: the batch's own
            neighbours; the last value repeats for deeper hops). Default ``[10]``.
        sparse_grad: with ``propagation=sampled``, give the embedding tables row-sparse
            gradients and update them with a lazy Adam (``torch.optim.SparseAdam``: only the
            rows a step reads move, and only their moments decay), so that no step touches all
            ``U + I`` rows. ``None`` (default): true with ``sampled``, false with ``full``
            (where every row has a gradient anyway).
    """

    n_layers: int = Field(3, ge=0)
    propagation: Literal["full", "sampled"] = "full"
    fanouts: list[int] = Field(default_factory=lambda: [10], min_length=1)
    sparse_grad: bool | None = None


class GraphCF(EmbeddingCF):
    """:class:`EmbeddingCF` with the normalised training adjacency ``Â`` (``[U+I, U+I]``, a
    non-persistent buffer that follows the module across devices) and LightGCN propagation."""

    Config = GraphConfig
    family = "graph"
    include_ego: bool = True  # average layers 0..L (LightGCN); SimGCL-style models use 1..L
    #: the model's loss goes through :meth:`loss_ego` and :meth:`rows_reader` only, so that
    #: ``propagation=sampled`` can replace its propagation (LightGCN, SimGCL)
    supports_sampled: bool = False

    def __init__(self, cfg: GraphConfig, data: InteractionData):
        super().__init__(cfg, data)
        self.register_buffer("adj", data.norm_adj, persistent=False)
        if any(f < 1 for f in cfg.fanouts):
            raise ConfigError(f"model.fanouts must be >= 1, got {cfg.fanouts}")
        self.sampled = cfg.propagation == "sampled"
        if self.sampled and not type(self).supports_sampled:
            raise ConfigError(f"model.propagation=sampled is not available for "
                              f"{type(self).__name__} (models with it: LightGCN, SimGCL); use "
                              "model.propagation=full")
        if cfg.sparse_grad and not self.sampled:
            raise ConfigError("model.sparse_grad=true needs model.propagation=sampled (full "
                              "propagation gives every row a gradient)")
        sparse = self.sampled and cfg.sparse_grad is not False
        self.user_embedding.sparse = sparse
        self.item_embedding.sparse = sparse
        self._csr: CSRGraph | None = None

    def csr_graph(self) -> CSRGraph:
        """``Â`` as CSR arrays on the model's device (for neighbour sampling; built once)."""
        if self._csr is None or self._csr.crow.device != self.adj.device:
            self._csr = CSRGraph.from_sparse(self.adj)
        return self._csr

    def hop_fanouts(self) -> list[int]:
        """The fanout of each hop ``1..L`` (``model.fanouts``, its last value repeated)."""
        f = self.cfg.fanouts
        return [f[min(k, len(f) - 1)] for k in range(self.cfg.n_layers)]

    def ego_rows(self, nodes: torch.Tensor) -> torch.Tensor:
        """Layer-0 embeddings of the given node ids (users first: ``id < U`` a user, else item
        ``id - U``), ``[n, D]``, read through the embedding modules (row-sparse gradients with
        ``sparse_grad``)."""
        is_user = nodes < self.n_users
        n_u = int(is_user.sum())
        if n_u == nodes.numel():
            return self.user_embedding(nodes)
        if n_u == 0:
            return self.item_embedding(nodes - self.n_users)
        if bool(is_user[:n_u].all()):  # users first (sorted ids): no reordering
            return torch.cat([self.user_embedding(nodes[:n_u]),
                              self.item_embedding(nodes[n_u:] - self.n_users)])
        pos = torch.cat([is_user.nonzero().squeeze(1), (~is_user).nonzero().squeeze(1)])
        out = torch.cat([self.user_embedding(nodes[pos[:n_u]]),
                         self.item_embedding(nodes[pos[n_u:]] - self.n_users)])
        return out.index_select(0, torch.argsort(pos))

    def loss_ego(self) -> torch.Tensor | Callable[[torch.Tensor], torch.Tensor]:
        """The layer-0 embeddings a training loss reads: the ``[U+I, D]`` matrix
        (:meth:`ego`), or with ``propagation=sampled`` the reader :meth:`ego_rows` (so that a
        step reads only the rows it needs). Pass it to :meth:`rows_reader` and
        :meth:`node_bpr_parts`."""
        return self.ego_rows if self.sampled else self.ego()

    def ego(self) -> torch.Tensor:
        """Layer-0 embeddings of all nodes, users first: ``[U+I, D]``."""
        return torch.cat([self.user_embedding.weight, self.item_embedding.weight], dim=0)

    def propagate_nodes(self, adj: torch.Tensor | Sequence[torch.Tensor] | None = None,
                        layer_hook: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
                        ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Propagate the ego embeddings over ``adj`` (default: the training graph; or a list
        of one graph per layer).

        Returns:
            ``(nodes [U+I, D], layers)``: the layer-averaged representation of all nodes, users
            first, and ``layers[l]`` (``[U+I, D]``) for ``l = 0..L`` (``layers[0]`` is the ego).
        """
        return propagate(self.adj if adj is None else adj, self.ego(), self.cfg.n_layers,
                         include_ego=self.include_ego, layer_hook=layer_hook)

    def rows_reader(self, noise: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
                    last_noise_at_rows: bool = False,
                    ego: torch.Tensor | Callable[[torch.Tensor], torch.Tensor] | None = None,
                    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """A reader ``rows [R] -> [R, D]`` of the layer average of :meth:`propagate_nodes`
        (optionally perturbed by an additive ``noise`` after each layer), which propagates
        only when called and computes the rows alone
        (:func:`~ssrec.models.layers.propagate_rows`: the same values and gradients as
        ``propagate_nodes(layer_hook=noise)[0][rows]``, with less memory traffic). Pass it to
        :meth:`node_bpr_parts` or :meth:`node_info_nce`; each call propagates once.

        Args:
            noise: ``f(E^(l), l) -> E^(l) + Δ`` with an identity gradient (e.g. SimGCL's).
            last_noise_at_rows: perturb only the rows read of the last layer (see
                :func:`~ssrec.models.layers.propagate_rows`).
            ego: the ``[U+I, D]`` layer-0 embeddings, when the caller already built them (or
                :meth:`loss_ego`).

        With ``propagation=sampled`` each call samples the rows' neighbourhoods afresh and
        estimates the same layer average from them
        (:func:`~ssrec.models.layers.sampled.propagate_rows_sampled`; the noise is added to
        each computed layer's rows, the last layer being computed at the rows only).
        """
        if self.sampled:
            rows_of = ego if ego is not None and not isinstance(ego, torch.Tensor) \
                else self.ego_rows

            def read_sampled(rows: torch.Tensor) -> torch.Tensor:
                return propagate_rows_sampled(self.csr_graph(), rows_of, rows,
                                              self.hop_fanouts(), self.include_ego, noise,
                                              self.generator)
            return read_sampled
        if ego is not None and not isinstance(ego, torch.Tensor):
            raise TypeError("rows_reader: a reader as ego needs propagation=sampled")

        def read(rows: torch.Tensor) -> torch.Tensor:
            return propagate_rows(self.adj, self.ego() if ego is None else ego,
                                  self.cfg.n_layers, rows, self.include_ego, noise,
                                  last_noise_at_rows)
        return read

    def layer_rows(self, nodes: torch.Tensor | Callable[[torch.Tensor], torch.Tensor],
                   rows: torch.Tensor) -> torch.Tensor:
        """Rows ``[R, D]`` of a node representation: ``nodes[rows]`` for a ``[U+I, D]``
        tensor, or ``nodes(rows)`` for a :meth:`rows_reader`."""
        if isinstance(nodes, torch.Tensor):
            return nodes.index_select(0, rows)  # its backward (index_add_) beats indexing's
        return nodes(rows)

    def propagate(self, adj: torch.Tensor | Sequence[torch.Tensor] | None = None,
                  layer_hook: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
                  ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Like :meth:`propagate_nodes`, split into ``(users [U, D], items [I, D], layers)``."""
        nodes, layers = self.propagate_nodes(adj, layer_hook)
        users, items = torch.split(nodes, [self.n_users, self.n_items])
        return users, items, layers

    def node_info_nce(self, a: torch.Tensor | Callable[[torch.Tensor], torch.Tensor],
                      b: torch.Tensor | Callable[[torch.Tensor], torch.Tensor],
                      batch: PairBatch, tau: float) -> torch.Tensor:
        """InfoNCE between two node views over the batch's distinct users plus, separately, its
        distinct positive items (the contrastive loss of SimGCL, Eq. 1, and XSimGCL):
        ``info_nce(a[u], b[u], τ) + info_nce(a[i], b[i], τ)``.

        Each view is gathered once for users and items together (one ``[U+I, D]`` gradient
        scatter per view in the backward pass); the values are those of separate gathers.

        Args:
            a, b: ``[U+I, D]`` node views, users first, or :meth:`rows_reader` s of them
                (read at the rows needed only).
            batch: the training triples (its distinct users and positive items are used).
            tau: temperature τ > 0.

        Returns:
            Scalar: the user term plus the item term (each a mean over its rows).
        """
        uid = batch.distinct_users()
        rows = torch.cat([uid, batch.distinct_pos() + self.n_users])
        nu = uid.numel()
        ra, rb = self.layer_rows(a, rows), self.layer_rows(b, rows)  # [Bu+Bi, D]
        return info_nce(ra[:nu], rb[:nu], tau) + info_nce(ra[nu:], rb[nu:], tau)

    def node_bpr_parts(self, nodes: torch.Tensor | Callable[[torch.Tensor], torch.Tensor],
                       ego: torch.Tensor | Callable[[torch.Tensor], torch.Tensor],
                       batch: PairBatch) -> dict[str, torch.Tensor]:
        """:meth:`bpr_parts` on the unsplit node matrix (faster: one gather for the batch's
        users, positives and negatives, so the backward pass scatters into one ``[U+I, D]``
        gradient).

        Args:
            nodes: ``[U+I, D]`` final representations, users first, or a
                :meth:`rows_reader` (read at the batch's rows only).
            ego: ``[U+I, D]`` layer-0 embeddings (for the L2 penalty), or a reader of them
                (:meth:`loss_ego`).
            batch: the training triples.
        """
        b, n_neg = batch.neg.shape
        idx = torch.cat([batch.users, batch.pos + self.n_users,
                         batch.neg.reshape(-1) + self.n_users])
        u, p, n = torch.split(self.layer_rows(nodes, idx), [b, b, b * n_neg])
        n = n.view(b, n_neg, -1)  # [B, N, D]
        pos = (u * p).sum(-1)  # [B]
        neg = (u.unsqueeze(1) * n).sum(-1)  # [B, N]
        e_u, e_p, e_n = torch.split(self.layer_rows(ego, idx), [b, b, b * n_neg])
        reg = l2_regularization(e_u, e_p, e_n)
        return {"bpr": bpr_loss(pos, neg), "reg": self.cfg.l2_reg * reg}

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        users, items, _ = self.propagate()
        return users, items
