"""Vectorised negative sampling against the training interactions."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ssrec.errors import DataError


class NegativeSampler:
    """Uniform negative items that are never training positives of the user.

    Candidates are drawn uniformly from all items and rejected by a binary search over the
    sorted ``user * n_items + item`` keys of the training matrix; rejected ones are redrawn, all
    at once, for up to ``max_rounds`` rounds. The few draws still rejected after that (users who
    hold nearly every item) are drawn directly from the user's complement: the ``r``-th item the
    user does not hold, ``r`` uniform in ``[0, n_items - degree)``, so every draw is still
    uniform over the user's negatives and sampling never fails while a negative exists. No
    Python loop runs per sample.

    Args:
        train: ``[U, I]`` CSR training matrix (binary).
        max_rounds: rejection rounds before the remaining draws switch to the complement
            (default 100).
        user_ids: raw id of every user index, ``str [U]``, used to name users in errors
            (default: the indices).

    Raises:
        DataError: if some user has interacted with every item (no negative exists); the
            message names those users (raw ids when ``user_ids`` is given).
    """

    def __init__(self, train: sp.csr_matrix, max_rounds: int = 100,
                 user_ids: np.ndarray | None = None):
        train = train.tocsr()
        train.sort_indices()
        self.n_users, self.n_items = train.shape
        rows = np.repeat(np.arange(self.n_users, dtype=np.int64), np.diff(train.indptr))
        cols = train.indices.astype(np.int64)
        self._keys = rows * self.n_items + cols  # sorted
        self._indptr = train.indptr.astype(np.int64)
        self._count = np.diff(self._indptr)
        # the number of negatives before each positive, per user (non-decreasing within a row),
        # as sorted keys user * (n_items + 1) + that number, for drawing from the complement
        before = cols - (np.arange(cols.size, dtype=np.int64) - self._indptr[rows])
        self._gap_keys = rows * (self.n_items + 1) + before
        self.max_rounds = max_rounds
        full = np.flatnonzero(self._count >= self.n_items)
        if full.size:
            names = [str(x) for x in (full if user_ids is None else np.asarray(user_ids)[full])]
            shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more"
                                            if len(names) > 10 else "")
            raise DataError(f"{full.size} user(s) interacted with every one of the "
                            f"{self.n_items} training items, so no negative item exists for "
                            f"them: {shown}; drop these users from the data (or add items)")

    def is_positive(self, users: np.ndarray, items: np.ndarray,
                    order: np.ndarray | None = None) -> np.ndarray:
        """``bool`` array: whether each (user, item) is a training interaction.

        Args:
            users, items: ``int [N]``.
            order: optionally, a permutation that sorts ``users``: the binary searches then
                run in user order, where consecutive searches hit neighbouring keys (in
                random order each search missed the caches at every level: 10 s for 3.5M
                pairs here, against 2 s). The result is the same.
        """
        keys = np.asarray(users, dtype=np.int64) * self.n_items + items
        if self._keys.size == 0:
            return np.zeros(keys.shape, dtype=bool)
        if order is not None:
            ks = keys[order]
            pos = np.minimum(np.searchsorted(self._keys, ks), self._keys.size - 1)
            out = np.empty(keys.shape, dtype=bool)
            out[order] = self._keys[pos] == ks
            return out
        pos = np.minimum(np.searchsorted(self._keys, keys), self._keys.size - 1)
        return self._keys[pos] == keys

    def from_complement(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One uniform negative per entry of ``users`` (``int64 [N]``), drawn exactly from each
        user's complement: ``r`` uniform in ``[0, n_items - degree)``, then the ``r``-th item the
        user does not hold (``r`` plus the positives at or below it, by binary search).

        Returns:
            ``int64 [N]`` item indices.
        """
        users = np.asarray(users, dtype=np.int64)
        r = rng.integers(0, self.n_items - self._count[users], dtype=np.int64)
        below = np.searchsorted(self._gap_keys, users * (self.n_items + 1) + r, side="right")
        return r + below - self._indptr[users]

    def sample(self, users: np.ndarray, n: int, rng: np.random.Generator,
               order: np.ndarray | None = None) -> np.ndarray:
        """Draw ``n`` negatives per user.

        Args:
            users: ``int64 [B]`` user indices.
            n: negatives per user.
            rng: the random generator.
            order: optionally, a permutation that sorts ``users`` (a faster first check, see
                :meth:`is_positive`; the draws are the same).

        Returns:
            ``int64 [B, n]`` item indices, none of them a training positive of its user.
        """
        users = np.asarray(users, dtype=np.int64)
        u = np.repeat(users, n)
        neg = rng.integers(0, self.n_items, size=u.size, dtype=np.int64)
        if order is not None and n > 1:  # the same order over the repeated users
            order = (np.asarray(order, dtype=np.int64)[:, None] * n + np.arange(n)).reshape(-1)
        bad = np.flatnonzero(self.is_positive(u, neg, order))
        rounds = 0
        while bad.size and rounds < self.max_rounds:
            rounds += 1
            neg[bad] = rng.integers(0, self.n_items, size=bad.size, dtype=np.int64)
            bad = bad[self.is_positive(u[bad], neg[bad])]
        if bad.size:  # users holding nearly every item: draw from what they do not hold
            neg[bad] = self.from_complement(u[bad], rng)
        return neg.reshape(users.size, n)
