"""Set operations on large integer arrays, by sorting.

NumPy 2.3+ answers ``np.unique(x)`` (without ``return_*``) with a hash table and ``np.isin``
with it too; on this project's machine that ran 15-25 times slower than a sort for arrays of
many distinct values (1M random int64: 3.5 s against 0.2 s; ``np.isin`` of 1M in 4M: 19 s),
which made loading 20M interactions take minutes (docs/scale.md). These helpers give the same
results through ``np.sort`` / ``np.searchsorted`` (or a boolean table for small ranges).
"""

from __future__ import annotations

import numpy as np


def unique(x: np.ndarray) -> np.ndarray:
    """``np.unique(x)`` (sorted distinct values) for a 1-D numeric array, by sorting."""
    s = np.sort(np.asarray(x).reshape(-1))
    if s.size <= 1:
        return s
    keep = np.empty(s.size, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def unique_inverse(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(x, return_inverse=True)`` for a 1-D numeric array: ``(values, codes)``
    with ``values[codes] == x`` (``codes`` int64)."""
    x = np.asarray(x).reshape(-1)
    if x.size and x.dtype.kind in "iu":
        lo, hi = int(x.min()), int(x.max())
        if hi - lo < 4 * x.size + 1024:  # a small range (ids, codes): a table, no sort
            present = np.zeros(hi - lo + 1, dtype=bool)
            present[x - lo] = True
            code = np.cumsum(present, dtype=np.int64) - 1
            return np.flatnonzero(present).astype(x.dtype) + lo, code[x - lo]
    order = np.argsort(x, kind="stable")
    s = x[order]
    if s.size == 0:
        return s, np.zeros(0, dtype=np.int64)
    new = np.empty(s.size, dtype=bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    codes = np.empty(x.size, dtype=np.int64)
    codes[order] = np.cumsum(new) - 1
    return s[new], codes


def n_distinct(x: np.ndarray) -> int:
    """``np.unique(x).size``."""
    x = np.asarray(x)
    if x.size and x.dtype.kind in "iu":
        lo, hi = int(x.min()), int(x.max())
        if hi - lo < 4 * x.size + 1024:  # a small range: a table
            seen = np.zeros(hi - lo + 1, dtype=bool)
            seen[x - lo] = True
            return int(seen.sum())
    return int(unique(x).size)


def isin(x: np.ndarray, values: np.ndarray, sorted_unique: bool = False) -> np.ndarray:
    """``np.isin(x, values)`` for integer arrays: a boolean table when the values' range is
    small, else a binary search in the sorted distinct values (``sorted_unique``: ``values``
    already are, e.g. from :func:`unique`)."""
    x = np.asarray(x)
    values = np.asarray(values).reshape(-1)
    if x.size == 0 or values.size == 0:
        return np.zeros(x.shape, dtype=bool)
    if sorted_unique:
        pos = np.searchsorted(values, x).clip(max=values.size - 1)
        return values[pos] == x
    if x.dtype.kind in "iu" and values.dtype.kind in "iu":
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < 4 * (x.size + values.size) + 1024:
            table = np.zeros(hi - lo + 1, dtype=bool)
            table[values - lo] = True
            inside = (x >= lo) & (x <= hi)
            out = np.zeros(x.shape, dtype=bool)
            out[inside] = table[x[inside] - lo]
            return out
    v = unique(values)
    pos = np.searchsorted(v, x).clip(max=v.size - 1)
    return v[pos] == x
