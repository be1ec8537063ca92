"""Train/validation/test splits as pure functions of integer arrays.

Each function returns a label per interaction: ``0`` train, ``1`` validation, ``2`` test.
Every split is deterministic: random ones take an explicit :class:`numpy.random.Generator`, and
ties in time are broken by row order (the order of the rows in the file).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TRAIN, VALID, TEST = 0, 1, 2


def _group_ranks(user: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by ``order`` (grouped by user): the rank of each row inside its user
    group and the size of that group, both indexed like ``order``."""
    su = user[order]
    n = su.size
    starts = np.flatnonzero(np.r_[True, su[1:] != su[:-1]]) if n else np.array([], dtype=np.int64)
    sizes = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, sizes)
    return rank, np.repeat(sizes, sizes)


def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(x + 0.5).astype(np.int64)


def ratio_split(user: np.ndarray, ratios: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """Per-user random split by ratio.

    For a user with ``n`` interactions, ``round(n * test)`` go to test and ``round(n * valid)`` to
    validation (halves round up), chosen uniformly at random; at least one always stays in
    train (validation gives way first).

    Args:
        user: user index per interaction, ``int64 [N]``.
        ratios: ``(train, valid, test)`` fractions summing to 1.
        rng: the random generator.

    Returns:
        ``int8 [N]`` labels.
    """
    _, r_valid, r_test = (float(r) for r in ratios)
    n = user.size
    order = np.lexsort((rng.random(n), user))
    rank, size = _group_ranks(user, order)
    n_test = _round_half_up(size * r_test)
    n_valid = _round_half_up(size * r_valid)
    n_test = np.minimum(n_test, size - 1)
    n_valid = np.minimum(n_valid, size - 1 - n_test)
    labels_sorted = np.full(n, TRAIN, dtype=np.int8)
    labels_sorted[rank < n_test + n_valid] = VALID
    labels_sorted[rank < n_test] = TEST
    labels = np.empty(n, dtype=np.int8)
    labels[order] = labels_sorted
    return labels


def holdout(user: np.ndarray, item: np.ndarray, ratio: float,
            rng: np.random.Generator) -> np.ndarray:
    """Carve a validation set out of training interactions, per user.

    Each user gives ``round(n * ratio)`` random interactions (halves round up) to validation,
    keeping at least one in train. One random interaction of every item is never held out, so
    no user **or item** disappears from training because of the hold-out.

    Args:
        user: ``int64 [N]``.
        item: ``int64 [N]``.
        ratio: share to hold out, in ``[0, 1)``.
        rng: the random generator.

    Returns:
        ``bool [N]``, True for the held-out (validation) rows.
    """
    n = user.size
    out = np.zeros(n, dtype=bool)
    if n == 0 or ratio <= 0:
        return out
    # protect one random row per item
    by_item = np.lexsort((rng.random(n), item))
    first = np.r_[True, item[by_item][1:] != item[by_item][:-1]]
    protected = np.zeros(n, dtype=bool)
    protected[by_item[first]] = True
    # rank each user's rows randomly, protected rows last
    key = rng.random(n) + protected
    order = np.lexsort((key, user))
    rank, size = _group_ranks(user, order)
    n_free = np.bincount(user[~protected], minlength=int(user.max()) + 1)[user[order]]
    n_hold = np.minimum(np.minimum(_round_half_up(size * ratio), size - 1), n_free)
    out[order[rank < n_hold]] = True
    return out


def leave_one_out(user: np.ndarray, timestamp: np.ndarray | None) -> np.ndarray:
    """Leave-one-out by time: each user's last interaction is test, the one before validation.

    Interactions are ordered by ``timestamp``; ties (and files without timestamps) keep row
    order, so the row that comes later in the file counts as later. A user with two
    interactions gets train + test, a user with one gets train only.

    Args:
        user: ``int64 [N]``.
        timestamp: ``float64 [N]`` or ``None`` (row order is the time order).

    Returns:
        ``int8 [N]`` labels.
    """
    n = user.size
    t = np.zeros(n) if timestamp is None else timestamp
    order = np.lexsort((np.arange(n), t, user))
    rank, size = _group_ranks(user, order)
    from_end = size - 1 - rank
    lab = np.full(n, TRAIN, dtype=np.int8)
    lab[(from_end == 0) & (size >= 2)] = TEST
    lab[(from_end == 1) & (size >= 3)] = VALID
    labels = np.empty(n, dtype=np.int8)
    labels[order] = lab
    return labels


def last_per_user(user: np.ndarray, timestamp: np.ndarray | None,
                  order: np.ndarray | None = None) -> np.ndarray:
    """Each user's latest interaction, for a leave-one-out validation carved from training.

    Rows are ordered by ``timestamp`` with ties (and files without timestamps) broken by
    ``order`` (the position of the row in the files; default: row order). A user with a single
    interaction keeps it (never marked), so no user disappears from training.

    Args:
        user: ``int64 [N]``.
        timestamp: ``float64 [N]`` or ``None``.
        order: ``int64 [N]`` file position of each row, or ``None`` for row order.

    Returns:
        ``bool [N]``, True for the last row of every user with at least two rows.
    """
    n = user.size
    t = np.zeros(n) if timestamp is None else timestamp
    o = np.arange(n) if order is None else order
    srt = np.lexsort((o, t, user))
    rank, size = _group_ranks(user, srt)
    out = np.zeros(n, dtype=bool)
    out[srt[(rank == size - 1) & (size >= 2)]] = True
    return out


def one_per_user(user: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random interaction of each user, for a validation split shaped like a leave-one-out
    test (multi-behaviour data hold out one target purchase per user). A user with a single
    interaction keeps it (never marked), so no user disappears from training.

    Args:
        user: ``int64 [N]``.
        rng: draws the held-out row of each user (uniform over the user's rows).

    Returns:
        ``bool [N]``, True for exactly one row of every user with at least two rows.
    """
    n = user.size
    srt = np.lexsort((rng.random(n), user))  # users' rows in a random order
    rank, size = _group_ranks(user, srt)
    out = np.zeros(n, dtype=bool)
    out[srt[(rank == 0) & (size >= 2)]] = True
    return out


def temporal_split(timestamp: np.ndarray, ratios: Sequence[float]) -> np.ndarray:
    """Global temporal cut: the latest ``test`` fraction of all interactions is test, the
    ``valid`` fraction before it validation, the rest train (ties keep row order).

    Returns:
        ``int8 [N]`` labels.
    """
    _, r_valid, r_test = (float(r) for r in ratios)
    n = timestamp.size
    order = np.argsort(timestamp, kind="stable")
    n_test = int(np.floor(n * r_test + 0.5))
    n_valid = int(np.floor(n * r_valid + 0.5))
    lab = np.full(n, TRAIN, dtype=np.int8)
    if n_test:
        lab[n - n_test:] = TEST
    if n_valid:
        lab[n - n_test - n_valid: n - n_test] = VALID
    labels = np.empty(n, dtype=np.int8)
    labels[order] = lab
    return labels


def k_core(user: np.ndarray, item: np.ndarray, k: int) -> np.ndarray:
    """Iteratively drop users and items with fewer than ``k`` interactions.

    Returns:
        ``bool [N]``: the rows that survive.
    """
    keep = np.ones(user.size, dtype=bool)
    if k <= 1:
        return keep
    while True:
        uc = np.bincount(user[keep], minlength=int(user.max(initial=-1)) + 1)
        ic = np.bincount(item[keep], minlength=int(item.max(initial=-1)) + 1)
        new = keep & (uc[user] >= k) & (ic[item] >= k)
        if new.sum() == keep.sum():
            return new
        keep = new
