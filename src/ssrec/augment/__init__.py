"""Self-supervised augmentations (views) as small, validated pure functions.

Rates are always *drop* probabilities in ``[0, 1)``; a rate of 0 (or ``training=False``) is a
no-op. Random draws come from the ``generator`` argument when given, on the input's device.
"""

from ssrec.augment import sequence
from ssrec.augment.embedding import complementary_masks, embedding_dropout, uniform_noise
from ssrec.augment.kg import (drop_triples, kg_guided_interaction_dropout,
                               kg_guided_keep_probability)
from ssrec.augment.graph import drop_edges, drop_edges_per_layer, drop_nodes, edge_dropout_adjacency
from ssrec.augment.sequence import crop as crop_sequence
from ssrec.augment.sequence import mask as mask_sequence
from ssrec.augment.sequence import reorder as reorder_sequence

__all__ = ["complementary_masks", "crop_sequence", "drop_edges", "drop_edges_per_layer",
           "drop_nodes", "drop_triples", "edge_dropout_adjacency", "kg_guided_interaction_dropout",
           "kg_guided_keep_probability", "embedding_dropout", "mask_sequence",
           "reorder_sequence", "sequence", "uniform_noise"]
