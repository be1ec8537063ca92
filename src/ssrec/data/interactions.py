"""The interactions of one split, as index arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Interactions:
    """The interactions of one split, as indices.

    Attributes:
        user: ``int64 [N]`` user indices.
        item: ``int64 [N]`` item indices.
        timestamp: ``float64 [N]`` or ``None``.
        order: ``int64 [N]``, the position of each row in the files as read (train file first,
            then valid, then test); with ``timestamp`` it orders a user's history in time.
    """

    user: np.ndarray
    item: np.ndarray
    timestamp: np.ndarray | None
    order: np.ndarray

    def __len__(self) -> int:
        return int(self.user.size)

    def to_csr(self, n_users: int, n_items: int) -> sp.csr_matrix:
        """Binary ``[n_users, n_items]`` float32 CSR matrix with sorted indices."""
        m = sp.csr_matrix((np.ones(self.user.size, dtype=np.float32), (self.user, self.item)),
                          shape=(n_users, n_items))
        m.sum_duplicates()
        m.sort_indices()
        m.data[:] = 1.0
        return m


__all__ = ["Interactions"]
