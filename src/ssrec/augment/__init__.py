"""Self-supervised augmentations (views) as small, validated pure functions.

Rates are always *drop* probabilities in ``[0, 1)``; a rate of 0 (or ``training=False``) is a
no-op. Random draws come from the ``generator`` argument when given, on the input's device.
The sequence augmentations (:mod:`ssrec.augment.sequence`) take CL4SRec's ratios (crop keeps a
share η of the items; mask and reorder touch a share γ / β of them).
"""

from ssrec.augment import sequence
from ssrec.augment.embedding import uniform_noise
from ssrec.augment.graph import drop_edges, drop_nodes
from ssrec.augment.sequence import crop as crop_sequence
from ssrec.augment.sequence import mask as mask_sequence
from ssrec.augment.sequence import reorder as reorder_sequence

__all__ = ["crop_sequence", "drop_edges", "drop_nodes", "mask_sequence", "reorder_sequence",
           "sequence", "uniform_noise"]
