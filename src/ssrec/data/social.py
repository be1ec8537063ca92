"""User–user relations (trust, friendship, follow links) for social recommendation.

A social file has one link per line, ``user friend [weight]`` (read by
:func:`ssrec.data.io.read_edges`). :func:`build_social` maps both ids with the **same**
:class:`~ssrec.data.idmap.IdMap` as the interactions (built from the training interactions) and
cleans the links; every row dropped is counted under exactly one reason, checked in this order:

1. ``unknown_user``: either end is not a user with training interactions (absent from the
   interaction files, only in validation/test, or filtered out by the rating threshold/k-core);
2. ``self_link``: ``user == friend``;
3. ``duplicate``: the same ordered pair ``(user, friend)`` occurred on an earlier kept line (the
   first occurrence, and its weight, is kept).

Direction is kept as given (``u → v``: ``u`` trusts / follows ``v``); ``symmetric=True`` adds the
reverse of every link (counted as ``added_by_symmetrising``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ssrec.data.idmap import IdMap
from ssrec.data.io import RawInteractions

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class SocialGraph:
    """The social relations among the dataset's users.

    Attributes:
        matrix: binary ``float32`` CSR ``[U, U]`` (sorted indices); ``matrix[u, v] = 1`` when
            ``u`` links to ``v``. No self links.
        weight: ``float32`` CSR ``[U, U]`` with the same sparsity pattern holding the file's
            third column, or ``None`` when the file has two columns.
        symmetric: whether the reverse of every link was added.
    """

    matrix: sp.csr_matrix
    weight: sp.csr_matrix | None
    symmetric: bool

    @property
    def n_users(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_links(self) -> int:
        """Number of directed links (``u → v`` and ``v → u`` count as two)."""
        return int(self.matrix.nnz)

    def reciprocity(self) -> float:
        """Share of links whose reverse is also a link (1.0 for a symmetric graph)."""
        return reciprocity(self.matrix)

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """``(source int64 [E], target int64 [E])`` in row-major order."""
        coo = self.matrix.tocoo()
        return coo.row.astype(np.int64), coo.col.astype(np.int64)

    def symmetrized(self) -> sp.csr_matrix:
        """Binary ``[U, U]`` CSR of the undirected graph (``S ∨ Sᵀ``)."""
        return symmetrize(self.matrix)


def symmetrize(m: sp.spmatrix) -> sp.csr_matrix:
    """Binary ``S ∨ Sᵀ`` of a square sparse matrix, as ``float32`` CSR with sorted indices."""
    out = (abs(m) + abs(m.T)).tocsr().astype(np.float32)
    out.eliminate_zeros()
    out.data[:] = 1.0
    out.sort_indices()
    return out


def reciprocity(m: sp.spmatrix) -> float:
    """Share of the non-zeros ``(u, v)`` of a square sparse matrix whose ``(v, u)`` is non-zero
    (0.0 for an empty matrix)."""
    if m.nnz == 0:
        return 0.0
    b = (m != 0).astype(np.float32)
    return float(b.multiply(b.T).nnz) / float(b.nnz)


def build_social(raw: RawInteractions, users: IdMap, symmetric: bool = False
                 ) -> tuple[SocialGraph, dict[str, Any]]:
    """Map, clean and index the links of one social file.

    Args:
        raw: the file's rows (``user`` holds the first id, ``item`` the friend, ``rating`` the
            optional weight), as returned by :func:`~ssrec.data.io.read_edges`.
        users: the interactions' user id map (from the training interactions).
        symmetric: add the reverse of every link.

    Returns:
        ``(graph, report)``; ``report`` holds ``file``, ``rows_read``, ``dropped`` (counts by
        reason: ``unknown_user``, ``self_link``, ``duplicate``), ``unknown_user_ids`` (distinct
        raw ids not among the users), ``links_as_given`` and ``reciprocity_as_given`` (after
        cleaning, before symmetrising), ``symmetric``, ``added_by_symmetrising``, ``links``
        (stored), ``reciprocity`` (stored), ``users``, ``users_with_links`` and
        ``mean_out_degree``.
    """
    n = len(users)
    src = users.to_index(raw.user, missing=-1)
    dst = users.to_index(raw.item, missing=-1)
    unknown = (src < 0) | (dst < 0)
    self_link = ~unknown & (src == dst)
    ok = np.flatnonzero(~unknown & ~self_link)
    key = src[ok] * n + dst[ok]
    _, first = np.unique(key, return_index=True)
    kept = np.sort(ok[first])  # first occurrence of each ordered pair, in file order
    unknown_ids = np.unique(np.concatenate([raw.user[src < 0], raw.item[dst < 0]]))
    dropped = {"unknown_user": int(unknown.sum()), "self_link": int(self_link.sum()),
               "duplicate": int(ok.size - kept.size)}

    rows, cols = src[kept], dst[kept]
    ones = np.ones(kept.size, dtype=np.float32)
    mat = sp.csr_matrix((ones, (rows, cols)), shape=(n, n), dtype=np.float32)
    mat.sort_indices()
    weight = None
    if raw.rating is not None:
        weight = sp.csr_matrix((raw.rating[kept].astype(np.float32), (rows, cols)), shape=(n, n),
                               dtype=np.float32)
        weight.sort_indices()
    as_given = int(mat.nnz)
    recip_given = reciprocity(mat)
    added = 0
    if symmetric:
        full = symmetrize(mat)
        added = int(full.nnz - mat.nnz)
        if weight is not None:
            reverse_only = (full - mat).tocsr()
            reverse_only.eliminate_zeros()
            weight = (weight + weight.T.multiply(reverse_only)).tocsr().astype(np.float32)
            weight.sort_indices()
        mat = full
    graph = SocialGraph(mat, weight, symmetric)
    linked = np.union1d(np.flatnonzero(np.diff(mat.indptr)), np.unique(mat.indices))
    report = {
        "file": raw.path,
        "rows_read": len(raw),
        "dropped": dropped,
        "unknown_user_ids": int(unknown_ids.size),
        "links_as_given": as_given,
        "reciprocity_as_given": recip_given,
        "symmetric": symmetric,
        "added_by_symmetrising": added,
        "links": graph.n_links,
        "reciprocity": graph.reciprocity(),
        "users": n,
        "users_with_links": int(linked.size),
        "mean_out_degree": graph.n_links / n if n else 0.0,
    }
    if graph.n_links == 0:
        log.warning("%s: no social link left after dropping %s", raw.path, dropped)
    return graph, report
