"""Reusable layers."""

from ssrec.models.layers.behavior import behavior_messages, cascade_propagate
from ssrec.models.layers.knn import (
    cosine_topk,
    csr_buffers,
    csr_rows,
    csr_rows_dense,
    csr_rows_times,
    csr_tensor,
    knn_graph,
)
from ssrec.models.layers.kg import relation_aggregate, segment_softmax
from ssrec.models.layers.momentum import ema_
from ssrec.models.layers.propagation import (
    SpmmCounter,
    layer_mean,
    propagate,
    propagate_layers,
    propagate_rows,
    spmm,
)

__all__ = ["SpmmCounter", "behavior_messages", "cascade_propagate",
           "cosine_topk", "csr_buffers", "csr_rows", "csr_rows_dense",
           "csr_rows_times", "csr_tensor", "ema_", "knn_graph", "layer_mean", "propagate",
           "propagate_layers", "propagate_rows", "relation_aggregate", "segment_softmax", "spmm"]
