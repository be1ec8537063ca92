"""Nearest-neighbour kernels: sparse neighbourhoods for the neighbourhood models (UserKNN,
ItemKNN) and a normalised kNN graph over dense embeddings (MCCLK's item–item graph).

* :func:`cosine_topk` builds a top-``k`` cosine neighbourhood between the rows of a sparse
  matrix block by block, so the full ``N × N`` similarity matrix is never materialised.
* :func:`knn_graph` does the same for the rows of a dense tensor, in torch (any device), and
  returns the symmetrically normalised sparse graph.
* :func:`csr_rows` gathers rows of a CSR matrix held as torch tensors (on any device);
  :func:`csr_rows_times` multiplies them with a sparse matrix, which scores a block of users
  with one sparse-sparse product (no dense ``N × N`` matrix, no dense product).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

#: dense float32 cells per similarity block in :func:`cosine_topk` (32 MiB)
BLOCK_CELLS = 1 << 23


def cosine_topk(x: sp.spmatrix, k: int, shrink: float = 0.0,
                block_rows: int | None = None) -> sp.csr_matrix:
    """Top-``k`` cosine neighbours between the rows of ``x``.

    ``sim(a, b) = x_a · x_b / (‖x_a‖ ‖x_b‖ + shrink)`` (cosine when ``shrink = 0``; a positive
    ``shrink`` damps similarities supported by few co-occurrences). Row ``a`` of the result
    keeps the ``k`` largest positive similarities to rows ``b ≠ a``; everything else is zero.

    Memory: the similarities are computed ``block_rows`` rows at a time as a dense
    ``[block_rows, N]`` float32 block (default: ``BLOCK_CELLS / N`` rows, i.e. 32 MiB) from a
    sparse product; the result holds at most ``N·k`` entries. Time is that of the sparse
    product ``x xᵀ`` plus a linear-time partition per row.

    Args:
        x: sparse ``[N, M]`` (e.g. the ``[U, I]`` interaction matrix for user neighbourhoods,
            or its transpose for item neighbourhoods). Converted to float32 CSR.
        k: neighbours per row, ``>= 1`` (capped at ``N - 1``).
        shrink: ``>= 0``, added to the denominator.
        block_rows: rows per block (default from ``BLOCK_CELLS``).

    Returns:
        float32 CSR ``[N, N]`` with sorted column indices and at most ``k`` entries per row.

    Raises:
        ValueError: if ``k < 1`` or ``shrink < 0``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if shrink < 0:
        raise ValueError(f"shrink must be >= 0, got {shrink}")
    x = sp.csr_matrix(x, dtype=np.float32)
    n = x.shape[0]
    kk = min(k, n - 1)
    if kk <= 0:
        return sp.csr_matrix((n, n), dtype=np.float32)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1), dtype=np.float64).ravel())
    xt = x.T.tocsr()
    step = block_rows or max(1, BLOCK_CELLS // max(n, 1))
    rows, cols, vals = [], [], []
    for start in range(0, n, step):
        stop = min(n, start + step)
        dots = (x[start:stop] @ xt).toarray()  # [b, N]
        denom = norms[start:stop, None] * norms[None, :] + shrink
        with np.errstate(divide="ignore", invalid="ignore"):
            sims = np.where(dots > 0, dots / denom, 0.0).astype(np.float32)
        local = np.arange(stop - start)
        sims[local, start + local] = 0.0  # no self-neighbour
        top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]  # [b, k], unordered
        top_vals = np.take_along_axis(sims, top, axis=1)
        keep = top_vals > 0
        rows.append(np.broadcast_to((start + local)[:, None], top.shape)[keep])
        cols.append(top[keep])
        vals.append(top_vals[keep])
    out = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(n, n), dtype=np.float32)
    out.sort_indices()
    return out


def knn_graph(x: torch.Tensor, k: int, block_rows: int | None = None) -> torch.Tensor:
    """Normalised cosine ``k``-nearest-neighbour graph between the rows of a dense matrix.

    With ``s_ab = x̂_a · x̂_b`` (``x̂`` the L2-normalised rows), row ``a`` keeps its ``k``
    largest similarities, **itself included** (``s_aa = 1`` is the largest of a non-zero
    row), clamped at 0: ``Ŝ_ab = max(s_ab, 0)`` for ``b ∈ topk_b(s_ab)``, else 0. The result is
    ``S̃ = D^{-1/2} Ŝ D^{-1/2}`` with ``D = diag(Ŝ 1)`` the row sums (so
    ``S̃_ab = Ŝ_ab / sqrt(d_a d_b)``; ``Ŝ`` need not be symmetric). This is the item–item
    semantic graph of MCCLK (Zou et al., SIGIR 2022: cosine similarity, kNN sparsification,
    symmetric normalisation; the official code's ``GraphConv.build_adj``,
    which keeps the self-similarity among the ``k``, as LATTICE does). A zero row gets no
    edge weight (all its values are 0).

    Memory: the similarities are computed ``block_rows`` rows at a time (default:
    ``BLOCK_CELLS / N`` rows, 32 MiB of float32), so the ``N × N`` matrix is never held; the
    graph has ``N·k`` stored entries. No gradient flows through the graph's values when ``x``
    is detached (MCCLK builds it without gradient).

    Args:
        x: ``[N, D]`` dense rows (any device, float dtype).
        k: neighbours per row, ``>= 1`` (capped at ``N``).
        block_rows: rows per block (default from ``BLOCK_CELLS``).

    Returns:
        Sparse COO ``[N, N]`` (coalesced) on ``x``'s device, with ``x``'s dtype.

    Raises:
        ValueError: if ``k < 1``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n = x.shape[0]
    kk = min(k, n)
    z = F.normalize(x, dim=1)
    step = block_rows or max(1, BLOCK_CELLS // max(n, 1))
    vals, cols = [], []
    for start in range(0, n, step):
        v, c = torch.topk(z[start:start + step] @ z.T, kk, dim=1)  # [b, k]
        vals.append(v)
        cols.append(c)
    val = torch.cat(vals).clamp_min(0)  # [N, k]
    col = torch.cat(cols)
    deg = val.sum(1)
    dinv = torch.where(deg > 0, deg.clamp_min(torch.finfo(deg.dtype).tiny).rsqrt(),
                       torch.zeros_like(deg))
    val = dinv.unsqueeze(1) * val * dinv[col]
    row = torch.arange(n, device=x.device).repeat_interleave(kk)
    return torch.sparse_coo_tensor(torch.stack([row, col.reshape(-1)]), val.reshape(-1),
                                   (n, n), check_invariants=False).coalesce()


def csr_rows(crow: torch.Tensor, col: torch.Tensor, val: torch.Tensor, rows: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows of a CSR matrix as a smaller CSR matrix (vectorised gather, any device).

    Args:
        crow: ``int64 [N+1]`` row pointers.
        col: ``int64 [nnz]`` column indices.
        val: ``float [nnz]`` values.
        rows: ``int64 [B]`` rows to gather (repeats allowed).

    Returns:
        ``(crow [B+1], col [nnz_B], val [nnz_B])`` of the ``[B, M]`` sub-matrix.
    """
    start = crow[rows]
    counts = crow[rows + 1] - start  # [B]
    row_of = torch.repeat_interleave(torch.arange(rows.shape[0], device=crow.device), counts)
    new_crow = torch.zeros(rows.shape[0] + 1, dtype=crow.dtype, device=crow.device)
    new_crow[1:] = torch.cumsum(counts, 0)
    pos = start[row_of] + torch.arange(row_of.shape[0], device=crow.device) - new_crow[row_of]
    return new_crow, col[pos], val[pos]


def csr_rows_dense(crow: torch.Tensor, col: torch.Tensor, val: torch.Tensor,
                   rows: torch.Tensor, n_cols: int) -> torch.Tensor:
    """Rows of a CSR matrix as a dense ``[B, n_cols]`` block (see :func:`csr_rows`)."""
    sub_crow, sub_col, sub_val = csr_rows(crow, col, val, rows)
    counts = sub_crow[1:] - sub_crow[:-1]
    row_of = torch.repeat_interleave(torch.arange(rows.shape[0], device=crow.device), counts)
    out = torch.zeros(rows.shape[0], n_cols, dtype=val.dtype, device=val.device)
    out[row_of, sub_col] = sub_val
    return out


def csr_rows_times(crow: torch.Tensor, col: torch.Tensor, val: torch.Tensor,
                   rows: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """``A[rows] @ B`` as a dense ``[B, M]`` block, for CSR ``A [N, K]`` (arrays) and a sparse
    CSR tensor ``B [K, M]``: one sparse-sparse product, so the cost is the number of
    multiply-adds that touch non-zeros (e.g. ``B·k·deg`` for KNN scoring), not ``B·K·M``."""
    sub = csr_tensor(*csr_rows(crow, col, val, rows), (rows.shape[0], other.shape[0]))
    return torch.sparse.mm(sub, other).to_dense()


def csr_tensor(crow: torch.Tensor, col: torch.Tensor, val: torch.Tensor,
               shape: tuple[int, int]) -> torch.Tensor:
    """Wrap CSR arrays (no copy) as a torch sparse CSR tensor of ``shape``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, col, val, shape, check_invariants=False)


def csr_buffers(m: sp.spmatrix) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(crow int64 [N+1], col int64 [nnz], val float32 [nnz])`` of a scipy matrix."""
    m = sp.csr_matrix(m, dtype=np.float32)
    m.sort_indices()
    return (torch.from_numpy(m.indptr.astype(np.int64)),
            torch.from_numpy(m.indices.astype(np.int64)),
            torch.from_numpy(m.data.astype(np.float32)))
