"""What every knowledge-graph model sets up the same way: its graph and the long index buffers
of the triples and the training interactions."""

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
