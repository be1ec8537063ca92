"""Vectorised negative sampling against the training interactions."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ssrec.errors import DataError


class NegativeSampler:
    """Uniform negative items that are never training positives of the user.

    Candidates are drawn uniformly from all items and rejected by a binary search over the
    sorted ``user * n_items + item`` keys of the training matrix; rejected ones are redrawn, all
    at once, until none is left. No Python loop runs per sample.

    Args:
        train: ``[U, I]`` CSR training matrix (binary).
        max_rounds: redraw rounds before giving up (a user who interacted with nearly every item
            makes rejection slow; such users raise instead of looping forever).

    Raises:
        DataError: if some user has interacted with every item (no negative exists).
    """

    def __init__(self, train: sp.csr_matrix, max_rounds: int = 100):
        train = train.tocsr()
        train.sort_indices()
        self.n_users, self.n_items = train.shape
        rows = np.repeat(np.arange(self.n_users, dtype=np.int64), np.diff(train.indptr))
        self._keys = rows * self.n_items + train.indices.astype(np.int64)  # sorted
        self._count = np.diff(train.indptr)
        self.max_rounds = max_rounds
        full = np.flatnonzero(self._count >= self.n_items)
        if full.size:
            raise DataError(f"{full.size} users interacted with every item; no negative item "
                            "exists for them")

    def is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``bool`` array: whether each (user, item) is a training interaction."""
        keys = np.asarray(users, dtype=np.int64) * self.n_items + items
        if self._keys.size == 0:
            return np.zeros(keys.shape, dtype=bool)
        pos = np.minimum(np.searchsorted(self._keys, keys), self._keys.size - 1)
        return self._keys[pos] == keys

    def sample(self, users: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` negatives per user.

        Args:
            users: ``int64 [B]`` user indices.
            n: negatives per user.
            rng: the random generator.

        Returns:
            ``int64 [B, n]`` item indices, none of them a training positive of its user.
        """
        users = np.asarray(users, dtype=np.int64)
        u = np.repeat(users, n)
        neg = rng.integers(0, self.n_items, size=u.size, dtype=np.int64)
        bad = np.flatnonzero(self.is_positive(u, neg))
        rounds = 0
        while bad.size:
            rounds += 1
            if rounds > self.max_rounds:
                raise DataError(f"negative sampling did not converge after {self.max_rounds} "
                                "rounds (users with almost every item)")
            neg[bad] = rng.integers(0, self.n_items, size=bad.size, dtype=np.int64)
            bad = bad[self.is_positive(u[bad], neg[bad])]
        return neg.reshape(users.size, n)
