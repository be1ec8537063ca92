"""Mapping between raw string ids and contiguous indices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ssrec.errors import SsrecError


class IdMap:
    """A frozen, two-way map between raw ids (strings) and indices ``0..n-1``.

    Raw ids are compared as strings, so ``"007"`` and ``"7"`` are different ids. When every raw
    id is a decimal number the indices follow numeric order (ties, such as ``"07"`` and ``"7"``,
    by the string), otherwise lexicographic order, so a dataset whose ids are already ``0..n-1``
    keeps them.

    Args:
        raw_ids: the distinct raw ids, in index order.

    Raises:
        ValueError: if ``raw_ids`` has duplicates.
    """

    def __init__(self, raw_ids: Sequence[str] | np.ndarray):
        self._raw = np.asarray(raw_ids, dtype=str)
        self._index = {s: i for i, s in enumerate(self._raw.tolist())}
        if len(self._index) != len(self._raw):
            raise ValueError("IdMap: raw ids must be distinct")

    @classmethod
    def from_values(cls, values: np.ndarray) -> tuple[IdMap, np.ndarray]:
        """Build a map from the ids occurring in ``values`` (``str [N]``).

        Returns:
            ``(idmap, codes)`` where ``codes`` is ``int64 [N]`` with ``idmap.to_raw(codes) ==
            values``.
        """
        uniq, inverse = np.unique(np.asarray(values, dtype=str), return_inverse=True)
        order = _natural_order(uniq)
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        return cls(uniq[order]), rank[inverse.reshape(-1)].astype(np.int64)

    def __len__(self) -> int:
        return int(self._raw.size)

    def __contains__(self, raw: object) -> bool:
        return raw in self._index

    def __repr__(self) -> str:
        head = ", ".join(repr(s) for s in self._raw[:3].tolist())
        return f"IdMap(n={len(self)}, [{head}{', ...' if len(self) > 3 else ''}])"

    @property
    def raw_ids(self) -> np.ndarray:
        """All raw ids in index order, ``str [n]``."""
        return self._raw

    def index(self, raw: str) -> int:
        """The index of one raw id.

        Raises:
            SsrecError: if ``raw`` is unknown.
        """
        try:
            return self._index[str(raw)]
        except KeyError:
            raise SsrecError(f"unknown id {raw!r} (not in the training data)") from None

    def to_index(self, raw: Iterable[str] | np.ndarray, missing: int | None = None) -> np.ndarray:
        """Indices of many raw ids, ``int64 [N]``.

        Args:
            raw: raw ids.
            missing: the value to use for unknown ids; ``None`` (default) raises instead.
        """
        values = np.asarray(raw, dtype=str).reshape(-1)
        if missing is None:
            return np.fromiter((self.index(s) for s in values.tolist()), dtype=np.int64,
                               count=values.size)
        get = self._index.get
        return np.fromiter((get(s, missing) for s in values.tolist()), dtype=np.int64,
                           count=values.size)

    def to_raw(self, index: int | Iterable[int] | np.ndarray) -> np.ndarray:
        """Raw ids of indices, ``str [N]`` (a scalar index gives a 0-d array)."""
        return self._raw[np.asarray(index, dtype=np.int64)]

    def to_list(self) -> list[str]:
        """The raw ids in index order (for JSON)."""
        return self._raw.tolist()


def _natural_order(uniq: np.ndarray) -> np.ndarray:
    """Argsort of distinct strings: numeric when all are decimal integers, else lexicographic."""
    if uniq.size and all(s.isdigit() for s in uniq.tolist()):
        lengths = np.char.str_len(np.char.lstrip(uniq, "0"))
        # numeric value order == (number of significant digits, significant digits, raw string)
        stripped = np.char.lstrip(uniq, "0")
        return np.lexsort((uniq, stripped, lengths))
    return np.arange(uniq.size)
