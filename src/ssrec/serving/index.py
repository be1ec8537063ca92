"""Top-K retrieval by inner product with faiss, and the exclusion of a user's known items.

Three indexes over the item representations ``[I, D]``:

* ``exact``: :class:`faiss.IndexFlatIP`, a brute-force scan (the default; ranks as the
  evaluator does);
* ``hnsw``: :class:`faiss.IndexHNSWFlat` with inner-product metric (graph search; ``M`` 32
  links, ``efConstruction`` 200, ``efSearch`` 128 or the number fetched, if larger);
* ``ivf``: :class:`faiss.IndexIVFFlat` with inner-product metric (``nlist`` =
  ``min(4 sqrt(I), I / 39)`` k-means cells, ``nprobe`` = ``nlist / 8`` probed).

**Exclusion.** To return ``k`` items outside a user's ``n`` excluded items the index is asked
for ``k + n`` candidates (over-fetch), the excluded ones are dropped and the first ``k`` kept.
For the exact index that is always enough. When it is not (an approximate index returned
fewer valid candidates), or when ``k + n`` exceeds ``max_fetch`` (1,024; users with long
histories), the row is answered by an exact scan instead: all ``I`` scores, the excluded set
to ``-inf``, the top ``k`` by ``argpartition`` (ties by item row). Either way no excluded
item is ever returned and every row gets ``min(k, I - n)`` items.

**Recall.** :func:`build_measured` builds an approximate index and measures its recall@K
against the exact one on a seeded sample of users: ``|approx ∩ exact| / |exact|`` averaged,
once for the raw index and once for the served answers with the user's history excluded
(over-fetch and fallback included).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # its INFO lines on every start
import faiss

from ssrec.errors import SsrecError
from ssrec.utils.io import _atomic



class Vectors(Protocol):
    """What an index is built and measured on (an :class:`~ssrec.serving.Artifacts`):
    ``users [U, D]`` and ``items [I, D]`` float32, a user's known items by row."""

    users: np.ndarray
    items: np.ndarray

    def history_row(self, u: int) -> np.ndarray: ...

KINDS = ("exact", "hnsw", "ivf")
MAX_FETCH = 1024
RECALL_USERS = 1000


@dataclass
class IndexParams:
    """Build and search settings of the approximate indexes (None: the defaults above)."""

    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int = 128
    nlist: int | None = None
    nprobe: int | None = None
    seed: int = 2020

    def resolved(self, n_items: int) -> IndexParams:
        nlist = self.nlist or max(1, min(int(4 * math.sqrt(n_items)), n_items // 39))
        nprobe = self.nprobe or max(1, nlist // 8)
        return IndexParams(self.hnsw_m, self.ef_construction, self.ef_search, nlist,
                           min(nprobe, nlist), self.seed)


def single_threaded_search() -> None:
    """Make faiss (and the OpenBLAS it calls, same OpenMP runtime) use one thread in the
    calling thread. OpenMP's thread count is a per-thread setting: call it in the thread that
    searches (the server's worker thread does). Searches then cost their own time only:
    OpenMP teams spinning against the other work of a shared machine made one exact search
    30 ms instead of 0.3 ms, and burnt 8 ms of CPU per request."""
    faiss.omp_set_num_threads(1)


def tune_for_serving() -> None:
    """Process-wide settings of ``ssrec serve``: :func:`single_threaded_search` in the calling
    thread, torch's intra-op threads set to 1 (a sequential encoder runs one request at a
    time), and faiss's flat scan through BLAS from 4 queries on instead of 20 (a batch of 16
    single-user requests: 2.7 ms instead of 5.5 ms on gowalla's 41k items)."""
    import torch

    single_threaded_search()
    faiss.cvar.distance_compute_blas_threshold = 4
    torch.set_num_threads(1)


def build_index(items: np.ndarray, kind: str = "exact",
                params: IndexParams | None = None) -> faiss.Index:
    """A faiss index over ``items`` (``float32 [I, D]``) for inner-product search.

    Raises:
        SsrecError: unknown ``kind``.
    """
    if kind not in KINDS:
        raise SsrecError(f"unknown index {kind!r}; use one of {', '.join(KINDS)}")
    items = np.ascontiguousarray(items, dtype=np.float32)
    n, d = items.shape
    p = (params or IndexParams()).resolved(n)
    if kind == "exact":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, p.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = p.ef_construction
        index.hnsw.efSearch = p.ef_search
    else:
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, p.nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = p.seed
        index.cp.min_points_per_centroid = 1  # small catalogues: no warning, same result
        index.train(items)
        index.nprobe = p.nprobe  # (faiss's wrapper keeps the quantizer alive)
    index.add(items)
    return index


def index_kind(index: faiss.Index) -> str:
    """``"exact"``, ``"hnsw"`` or ``"ivf"`` for an index built by :func:`build_index`."""
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    return "exact"


def save_index(index: faiss.Index, path: str | Path) -> None:
    """Write ``index`` to ``path`` atomically (faiss's own serialisation)."""
    data = faiss.serialize_index(index)
    _atomic(path, lambda fh: fh.write(data.tobytes()))


def read_index(path: str | Path) -> faiss.Index:
    """Read an index written by :func:`save_index`.

    Raises:
        SsrecError: the file cannot be read as a faiss index."""
    try:  # (faiss returns the concrete index type, and owns it)
        return faiss.deserialize_index(np.fromfile(path, dtype=np.uint8))
    except (RuntimeError, OSError) as exc:
        raise SsrecError(f"{path}: not a faiss index ({str(exc).splitlines()[0]})") from None


class Retriever:
    """Top-``k`` items by inner product, with excluded items removed (see the module docs).

    Args:
        items: ``float32 [I, D]`` item representations.
        index: a faiss index over ``items`` (default: an exact one).
        max_fetch: the most candidates asked of the index per row; rows needing more are
            answered by an exact scan (1,024).
    """

    def __init__(self, items: np.ndarray, index: faiss.Index | None = None,
                 max_fetch: int = MAX_FETCH):
        self.items = np.ascontiguousarray(items, dtype=np.float32)
        self.index = index if index is not None else build_index(self.items, "exact")
        if self.index.ntotal != self.items.shape[0] or self.index.d != self.items.shape[1]:
            raise SsrecError(f"the index holds {self.index.ntotal} vectors of dimension "
                             f"{self.index.d}, the items are {self.items.shape[0]} x "
                             f"{self.items.shape[1]}")
        self.kind = index_kind(self.index)
        self.max_fetch = int(max_fetch)
        self.n_items = int(self.items.shape[0])
        self.fallbacks = 0  # rows answered by an exact scan (for /info and tests)

    def _params(self, fetch: int) -> Any:
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(efSearch=max(self.index.hnsw.efSearch, fetch))
        return None

    def search(self, queries: np.ndarray, k: int | Sequence[int] | np.ndarray,
               exclude: Sequence[np.ndarray | None] | None = None
               ) -> list[tuple[np.ndarray, np.ndarray]]:
        """The top items of each query row.

        Args:
            queries: ``float32 [B, D]``.
            k: items per row, one number or ``[B]`` numbers (each ``>= 1``).
            exclude: per row, ``int64 [n_b]`` item rows never to return (or None).

        Returns:
            ``B`` pairs ``(items int64 [m_b], scores float32 [m_b])``, best first, with
            ``m_b = min(k_b, I - |exclude_b|)``.
        """
        q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.items.shape[1])
        b = q.shape[0]
        ks = np.broadcast_to(np.asarray(k, dtype=np.int64), (b,))
        excl = [np.asarray(e, dtype=np.int64) if e is not None else _EMPTY
                for e in (exclude if exclude is not None else [None] * b)]
        n_ex = np.fromiter((e.size for e in excl), dtype=np.int64, count=b)
        want = np.minimum(ks, np.maximum(self.n_items - n_ex, 0))
        need = np.minimum(ks + n_ex, self.n_items)
        out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * b
        exact_rows = [int(r) for r in np.flatnonzero(need > self.max_fetch)]
        # rows searched together fetch as many as the neediest of them: group them (up to 64,
        # 256, 1024, ... candidates) so that one long history does not slow the others
        group = np.ceil(np.log(np.maximum(need, 64) / 64) / np.log(4) - 1e-9).astype(np.int64)
        group[need > self.max_fetch] = -1
        for g in np.unique(group[group >= 0]).tolist():
            rows = np.flatnonzero(group == g)
            fetch = int(need[rows].max())
            params = self._params(fetch)
            if params is None:
                scores, ids = self.index.search(q[rows], fetch)
            else:
                scores, ids = self.index.search(q[rows], fetch, params=params)
            for j, r in enumerate(rows.tolist()):
                got, sc = ids[j], scores[j]
                keep = got >= 0
                if excl[r].size:
                    keep &= ~np.isin(got, excl[r])
                got, sc = got[keep][:want[r]], sc[keep][:want[r]]
                if got.size < want[r]:
                    exact_rows.append(r)
                else:
                    out[r] = (got.astype(np.int64), sc.astype(np.float32))
        if exact_rows:
            self.fallbacks += len(exact_rows)
            idx = np.asarray(exact_rows, dtype=np.int64)
            for r, res in zip(exact_rows, self.exact(q[idx], ks[idx], [excl[i] for i in idx])):
                out[r] = res
        return out  # type: ignore[return-value]

    def exact(self, queries: np.ndarray, k: np.ndarray | int,
              exclude: Sequence[np.ndarray | None], block: int = 256
              ) -> list[tuple[np.ndarray, np.ndarray]]:
        """The exact top items by a full scan (see :meth:`search`; ties by item row)."""
        q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.items.shape[1])
        ks = np.broadcast_to(np.asarray(k, dtype=np.int64), (q.shape[0],))
        out = []
        for start in range(0, q.shape[0], block):
            scores = q[start:start + block] @ self.items.T  # [b, I]
            for j in range(scores.shape[0]):
                s = scores[j]
                e = exclude[start + j]
                if e is not None and len(e):
                    s[e] = -np.inf
                m = int(min(ks[start + j], self.n_items - (0 if e is None else len(e))))
                if m <= 0:
                    out.append((_EMPTY, np.empty(0, dtype=np.float32)))
                    continue
                top = np.argpartition(-s, m - 1)[:m] if m < s.size else np.arange(s.size)
                top = top[np.lexsort((top, -s[top]))]
                out.append((top.astype(np.int64), s[top].astype(np.float32)))
        return out


_EMPTY = np.empty(0, dtype=np.int64)


def recall_at(approx: list[tuple[np.ndarray, np.ndarray]],
              exact: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean over rows of ``|approx ∩ exact| / |exact|`` (rows with an empty exact list
    skipped)."""
    vals = [np.intersect1d(a[0], e[0]).size / e[0].size for a, e in zip(approx, exact)
            if e[0].size]
    return float(np.mean(vals)) if vals else 1.0


def build_measured(art: Vectors, kind: str, params: IndexParams | None = None, k: int = 20,
                   seed: int = 2020, n_users: int = RECALL_USERS
                   ) -> tuple[faiss.Index, dict[str, Any]]:
    """Build index ``kind`` over ``art.items`` and measure its recall@``k`` against the exact
    index on ``n_users`` users drawn with ``seed`` (all users when there are fewer).

    Returns:
        ``(index, meta)``; ``meta`` holds ``kind``, ``params``, ``recall@k`` (the raw index),
        ``recall@k_excluding_history`` (served answers with each user's history excluded),
        ``users_measured``, ``build_seconds`` and ``fallback_rows``.
    """
    p = (params or IndexParams(seed=seed)).resolved(art.items.shape[0])
    t0 = time.perf_counter()
    index = build_index(art.items, kind, p)
    seconds = time.perf_counter() - t0
    meta: dict[str, Any] = {"kind": kind, "build_seconds": round(seconds, 3)}
    if kind == "hnsw":
        meta["params"] = {"M": p.hnsw_m, "efConstruction": p.ef_construction,
                          "efSearch": p.ef_search}
    elif kind == "ivf":
        meta["params"] = {"nlist": p.nlist, "nprobe": p.nprobe, "seed": p.seed}
    else:
        meta["params"] = {}
    if kind == "exact":
        return index, meta
    meta.update(measure_recall(art, index, k, seed, n_users))
    return index, meta


def measure_recall(art: Vectors, index: faiss.Index, k: int = 20, seed: int = 2020,
                   n_users: int = RECALL_USERS) -> dict[str, Any]:
    """Recall@``k`` of ``index`` against the exact top-``k`` (see :func:`build_measured`)."""
    n = art.users.shape[0]
    rng = np.random.default_rng(seed)
    users = np.sort(rng.choice(n, size=min(n_users, n), replace=False))
    q = art.users[users]
    exact = Retriever(art.items)
    approx = Retriever(art.items, index)
    raw = recall_at(approx.search(q, k), exact.exact(q, k, [None] * users.size))
    hist = [art.history_row(int(u)) for u in users]
    served = recall_at(approx.search(q, k, hist), exact.exact(q, k, hist))
    return {f"recall@{k}": round(raw, 4), f"recall@{k}_excluding_history": round(served, 4),
            "users_measured": int(users.size), "fallback_rows": approx.fallbacks}


__all__ = ["KINDS", "MAX_FETCH", "IndexParams", "Retriever", "build_index", "build_measured",
           "index_kind", "measure_recall", "read_index", "recall_at", "save_index",
           "single_threaded_search", "tune_for_serving"]
