"""The serving queries on raw ids: top-K for known users, for a history sent at request time,
and similar items. Used by the HTTP API (:mod:`ssrec.serving.app`) and ``ssrec recommend``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ssrec.data.sequence import Ragged
from ssrec.errors import SsrecError
from ssrec.serving.artifacts import Artifacts, encode_rows
from ssrec.serving.index import KINDS, MAX_FETCH, IndexParams, Retriever, build_measured, read_index

log = logging.getLogger("ssrec")

Result = tuple[list[str], list[float]]


def _shown(raw: object, limit: int = 80) -> str:
    s = repr(raw)
    return s if len(s) <= limit else s[:limit] + "...'"


class UnknownId(SsrecError, LookupError):
    """A raw user or item id that the served model does not know (HTTP 404).

    Attributes:
        kind: ``"user"`` or ``"item"``.
        raw: the id.
    """

    def __init__(self, kind: str, raw: str, where: str):
        self.kind, self.raw = kind, raw
        super().__init__(f"unknown {kind} {_shown(raw)}: not among the {kind}s of {where}")


class Engine:
    """Top-K queries on an :class:`~ssrec.serving.artifacts.Artifacts` through one index.

    Args:
        art: the representations, id maps, histories (and encoder) to serve.
        index: ``"exact"`` (default), ``"hnsw"`` or ``"ivf"``; an approximate index saved in
            the export is read, else it is built here and its recall@``recall_k`` measured
            (:func:`~ssrec.serving.index.build_measured`).
        params: approximate index settings.
        max_fetch: over-fetch limit (see :class:`~ssrec.serving.index.Retriever`).
        recall_k: ``K`` of the recall measured when an index is built here.

    Raises:
        SsrecError: unknown index kind, or a saved index that does not fit the items.
    """

    def __init__(self, art: Artifacts, index: str = "exact", params: IndexParams | None = None,
                 max_fetch: int = MAX_FETCH, recall_k: int = 20):
        if index not in KINDS:
            raise SsrecError(f"--index {index!r}: use one of {', '.join(KINDS)}")
        self.art = art
        self.kind = index
        saved = (art.info.get("indexes") or {}).get(index)
        if index in art.index_files and saved:
            faiss_index = read_index(art.index_files[index])
            self.index_info = {**saved, "source": f"built at export ({art.index_files[index].name})"}
        else:
            faiss_index, meta = build_measured(art, index, params, k=recall_k)
            self.index_info = {**meta, "source": "built at start"}
            if index != "exact":
                log.info("%s index: recall@%d %.4f against exact (%.4f with histories "
                         "excluded) on %d users; built in %.1f s", index, recall_k,
                         meta[f"recall@{recall_k}"],
                         meta[f"recall@{recall_k}_excluding_history"],
                         meta["users_measured"], meta["build_seconds"])
        self.retriever = Retriever(art.items, faiss_index, max_fetch)
        self.exclude_seen_default = bool(art.info.get("exclude_seen", True))
        self._item_raw = art.item_ids.raw_ids
        enc = art.encoder
        self._device = next(enc.parameters()).device if enc is not None else None

    # -- ids -------------------------------------------------------------------------------
    @property
    def where(self) -> str:
        return f"{self.art.info.get('dataset')} ({self.art.source} {self.art.path})"

    def user_rows(self, raw: Sequence[str]) -> np.ndarray:
        """``int64 [n]`` rows of raw user ids.

        Raises:
            UnknownId: for the first unknown id."""
        return self._rows(self.art.user_ids, raw, "user")

    def item_rows(self, raw: Sequence[str]) -> np.ndarray:
        """``int64 [n]`` rows of raw item ids.

        Raises:
            UnknownId: for the first unknown id."""
        return self._rows(self.art.item_ids, raw, "item")

    def _rows(self, ids: Any, raw: Sequence[str], kind: str) -> np.ndarray:
        rows = ids.to_index(list(raw), missing=-1) if len(raw) else np.empty(0, np.int64)
        bad = np.flatnonzero(rows < 0)
        if bad.size:
            raise UnknownId(kind, raw[int(bad[0])], self.where)
        return rows

    def _raw(self, res: tuple[np.ndarray, np.ndarray]) -> Result:
        return self._item_raw[res[0]].tolist(), res[1].tolist()

    def _exclude(self, flag: bool | None) -> bool:
        return self.exclude_seen_default if flag is None else bool(flag)

    # -- queries ---------------------------------------------------------------------------
    def recommend_rows(self, rows: np.ndarray, k: int | np.ndarray,
                       exclude_seen: bool | None | Sequence[bool | None] = None) -> list[Result]:
        """Top-``k`` items of user rows ``rows`` (``int64 [B]``).

        Args:
            rows: user rows (:meth:`user_rows`).
            k: items per user, ``>= 1`` (one number or ``[B]``).
            exclude_seen: leave out each user's known items (train + valid + test); None: the
                run's protocol default (:attr:`exclude_seen_default`); one value or ``[B]``.

        Returns:
            Per user ``(raw item ids, scores)``, best first, at most ``k`` of them.
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        flags = (exclude_seen if isinstance(exclude_seen, (list, tuple, np.ndarray))
                 else [exclude_seen] * rows.size)
        excl = [self.art.history_row(int(u)) if self._exclude(f) else None
                for u, f in zip(rows.tolist(), flags)]
        res = self.retriever.search(self.art.users[rows], k, excl)
        return [self._raw(r) for r in res]

    def recommend(self, user: str, k: int = 10, exclude_seen: bool | None = None) -> Result:
        """Top-``k`` ``(raw item ids, scores)`` for one raw user id (see
        :meth:`recommend_rows`).

        Raises:
            UnknownId: the user is unknown."""
        return self.recommend_rows(self.user_rows([user]), k, exclude_seen)[0]

    @torch.no_grad()
    def history_query(self, item_rows: np.ndarray) -> np.ndarray:
        """The query vector ``float32 [D]`` of a history (item rows, oldest first): the
        sequential encoder's, or the mean of the items' representations (fold-in).

        Raises:
            SsrecError: an empty history."""
        item_rows = np.asarray(item_rows, dtype=np.int64)
        if item_rows.size == 0:
            raise SsrecError("the history holds no item")
        enc = self.art.encoder
        if enc is None:
            return self.art.items[item_rows].mean(axis=0, dtype=np.float64).astype(np.float32)
        hist = Ragged(np.array([0, item_rows.size], dtype=np.int64), item_rows)
        q = encode_rows(enc, hist, np.zeros(1, dtype=np.int64), self._device)
        return q[0].float().cpu().numpy()

    def recommend_history(self, items: Sequence[str], k: int = 10,
                          exclude_seen: bool | None = None) -> Result:
        """Top-``k`` items after a history of raw item ids (oldest first, latest last);
        with exclusion the history's items are left out.

        Raises:
            UnknownId: an unknown item.
            SsrecError: an empty history."""
        rows = self.item_rows(items)
        q = self.history_query(rows)
        excl = np.unique(rows) if self._exclude(exclude_seen) else None
        return self._raw(self.retriever.search(q[None, :], k, [excl])[0])

    def similar_items(self, item: str, k: int = 10) -> Result:
        """The ``k`` items whose representations have the largest inner product with the
        item's own (the item itself left out).

        Raises:
            UnknownId: the item is unknown."""
        row = self.item_rows([item])
        return self._raw(self.retriever.search(self.art.items[row], k, [row])[0])

    def info(self) -> dict[str, Any]:
        """What ``GET /info`` reports: model, dataset, protocol, metrics, index."""
        a = self.art
        return {
            "model": a.info.get("model"), "dataset": a.info.get("dataset"),
            "source": {"kind": a.source, "path": str(a.path)},
            "protocol": a.info.get("protocol"), "metrics": a.info.get("metrics"),
            "users": int(a.users.shape[0]), "items": int(a.items.shape[0]), "dim": a.dim,
            "scoring": a.info.get("scoring"),
            "exclude_seen_default": self.exclude_seen_default,
            "history": a.info.get("history"), "history_input": a.info.get("history_input"),
            "index": {**self.index_info, "max_fetch": self.retriever.max_fetch},
        }


__all__ = ["Engine", "UnknownId"]
