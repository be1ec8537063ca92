"""Knowledge-graph triple batches with corrupted tails (TransE/TransR-style KG losses)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ssrec.data.kg import KnowledgeGraph
from ssrec.sampling.batches import Batch


@dataclass(frozen=True)
class KGBatch(Batch):
    """Triples ``(h, r, t)`` of the knowledge graph and one corrupted tail each.

    Attributes:
        head, relation, tail: ``int64 [B]`` true triples.
        neg_tail: ``int64 [B]`` entities ``t′`` such that ``(h, r, t′)`` is not a triple of the
            graph.
    """

    head: torch.Tensor
    relation: torch.Tensor
    tail: torch.Tensor
    neg_tail: torch.Tensor


class KGTripleSampler:
    """Shuffled mini-batches of a knowledge graph's triples, each with a corrupted tail drawn
    uniformly from all entities and rejected when ``(h, r, t′)`` is a true triple (the
    negative sampling of TransE/TransR, Bordes et al., NeurIPS 2013, Eq. 2; used by KGAT's and
    KGCL's KG losses).

    Rejection is vectorised: candidates are checked by binary search over the sorted
    ``(h·R + r)·E + t`` keys of the graph and redrawn, all at once, for up to ``max_rounds``
    rounds; a draw still rejected then is taken from the ``(h, r)`` pair's complement directly
    (the ``k``-th entity that is not a true tail, ``k`` uniform), so every negative is uniform
    over the valid ones and a true triple is never returned.

    Args:
        kg: the graph (use ``kg.with_inverse()`` to sample inverse triples too).
        batch_size: triples per batch (the last batch may be smaller).
        seed: seeds the shuffling and the negatives (a ``numpy`` generator), or pass ``rng``.
        rng: an explicit ``numpy.random.Generator`` (overrides ``seed``).
        max_rounds: rejection rounds before the complement fallback (default 20).

    Raises:
        ValueError: ``batch_size < 1``, or some ``(h, r)`` has every entity as a true tail (no
            corrupted tail exists).
    """

    def __init__(self, kg: KnowledgeGraph, batch_size: int, seed: int = 0,
                 rng: np.random.Generator | None = None, max_rounds: int = 20):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.kg = kg
        self.batch_size = batch_size
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self.max_rounds = max_rounds
        self.n_entities = kg.n_entities
        self.n_relations = kg.n_relations
        self.keys = np.unique(self._key(kg.head, kg.relation, kg.tail))
        hr = np.unique(self.keys // self.n_entities, return_counts=True)
        if hr[1].size and hr[1].max() >= self.n_entities:
            raise ValueError("some (head, relation) has every entity as a tail: no corrupted "
                             "tail exists")

    def _key(self, h: np.ndarray, r: np.ndarray, t: np.ndarray) -> np.ndarray:
        return (h.astype(np.int64) * self.n_relations + r) * self.n_entities + t

    def is_true(self, h: np.ndarray, r: np.ndarray, t: np.ndarray) -> np.ndarray:
        """``bool [N]``: whether each ``(h, r, t)`` is a triple of the graph."""
        key = self._key(h, r, t)
        pos = np.minimum(np.searchsorted(self.keys, key), self.keys.size - 1)
        return self.keys[pos] == key

    def negatives(self, h: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``int64 [N]`` corrupted tails for the pairs ``(h [N], r [N])``."""
        t = self.rng.integers(0, self.n_entities, size=h.shape[0])
        bad = np.flatnonzero(self.is_true(h, r, t))
        for _ in range(self.max_rounds):
            if bad.size == 0:
                return t
            t[bad] = self.rng.integers(0, self.n_entities, size=bad.size)
            bad = bad[self.is_true(h[bad], r[bad], t[bad])]
        for k in bad:  # pairs holding almost every entity: draw from the complement
            base = (int(h[k]) * self.n_relations + int(r[k])) * self.n_entities
            lo, hi = np.searchsorted(self.keys, [base, base + self.n_entities])
            taken = self.keys[lo:hi] - base  # sorted true tails
            j = int(self.rng.integers(0, self.n_entities - taken.size))
            # the j-th entity not in `taken`: shift j past the true tails at or below it
            t[k] = j + np.searchsorted(taken - np.arange(taken.size), j, side="right")
        return t

    def __len__(self) -> int:
        return -(-self.kg.n_triples // self.batch_size)

    def epoch(self) -> Iterator[KGBatch]:
        """One pass over all triples in a random order."""
        order = self.rng.permutation(self.kg.n_triples)
        for start in range(0, order.size, self.batch_size):
            idx = order[start:start + self.batch_size]
            h, r, t = self.kg.head[idx], self.kg.relation[idx], self.kg.tail[idx]
            yield KGBatch(torch.from_numpy(h), torch.from_numpy(r), torch.from_numpy(t),
                          torch.from_numpy(self.negatives(h, r)))
