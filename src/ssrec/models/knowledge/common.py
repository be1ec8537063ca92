"""What knowledge-graph models set up or compute the same way: their graph, the long index
buffers of the triples and the training interactions, the users' mean over their items and
the MLP projection head of their contrastive terms."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData
    from ssrec.data.kg import KnowledgeGraph


def model_kg(data: InteractionData, inverse: bool) -> KnowledgeGraph:
    """The dataset's item KG, with an inverse triple ``(t, r⁻¹, h)`` per triple when
    ``inverse`` (build() has already refused data without a KG)."""
    kg = data.kg
    assert kg is not None  # checked by build()
    return kg.with_inverse() if inverse else kg


def register_graph_buffers(module: nn.Module, head: np.ndarray, relation: np.ndarray,
                           tail: np.ndarray, data: InteractionData) -> None:
    """Register the triples (``kg_head``, ``kg_relation``, ``kg_tail``, ``int64 [T]``) and the
    training interactions (``edge_user``, ``edge_item``, ``int64 [E]``) as non-persistent
    buffers: they move with the model's device and are rebuilt from the data, not saved."""
    for name, arr in (("kg_head", head), ("kg_relation", relation), ("kg_tail", tail),
                      ("edge_user", data.train.user), ("edge_item", data.train.item)):
        module.register_buffer(name, torch.as_tensor(arr, dtype=torch.long), persistent=False)


def user_item_mean(edge_user: torch.Tensor, user: torch.Tensor, item: torch.Tensor,
                   n_users: int, n_items: int, scale: float, dtype: torch.dtype
                   ) -> torch.Tensor:
    """Row-normalised ``[U, I]`` interaction matrix over the kept edges ``(user, item)``:
    ``1/|N_u|`` per edge, ``|N_u|`` the user's degree in the full training graph
    ``edge_user``, times ``scale`` (``1/(1-ρ)`` after dropping a share ``ρ`` of the edges), as
    the mean-normalised interaction matrix of KGIN's and MCCLK's official code
    (``mean_mat_list[0]`` with ``_sparse_dropout``). ``M @ E_items`` is then each user's
    (rescaled) mean over its kept items.

    Args:
        edge_user: ``int64 [E]`` users of all training interactions (for the degrees).
        user, item: ``int64 [E']`` the kept interactions.
        n_users, n_items: ``U``, ``I``.
        scale: factor on every value.
        dtype: value dtype.

    Returns:
        Sparse COO ``[U, I]``, coalesced.
    """
    deg = torch.bincount(edge_user, minlength=n_users).clamp_min(1)
    vals = scale / deg[user].to(dtype)
    return torch.sparse_coo_tensor(torch.stack([user, item]), vals, (n_users, n_items),
                                   check_invariants=False).coalesce()


def projection_head(dim: int) -> nn.Sequential:
    """``Linear(D, D) → ReLU → Linear(D, D)``: the MLP through which KGRec and MCCLK map each
    view before their contrastive terms (``z ↦ W₂ σ(W₁ z + b₁) + b₂``)."""
    return nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))


def entity_tables(module: nn.Module, n_entities: int, n_items: int, n_relations: int,
                  dim: int, init_std: float | None) -> None:
    """Give ``module`` the tables of KGIN-style relation-aware aggregation:
    ``entity_embedding`` (``[E - I, D]``, the non-item entities; items use the model's item
    table) and ``relation_weight`` (``[R, D]``). The entities are initialised as the model's
    other tables (Xavier-uniform, or normal with ``init_std``), the relations Xavier-uniform
    (KGIN's and MCCLK's official code)."""
    module.entity_embedding = nn.Embedding(n_entities - n_items, dim)
    module.relation_weight = nn.Parameter(torch.empty(n_relations, dim))
    if init_std is None:
        nn.init.xavier_uniform_(module.entity_embedding.weight)
    else:
        nn.init.normal_(module.entity_embedding.weight, std=init_std)
    nn.init.xavier_uniform_(module.relation_weight)
