"""Graph builders: the normalised user–item adjacency used by LightGCN-style propagation, and
the scipy-sparse normalisations (row, symmetric, bipartite) and conversion to torch used by
models that build extra graphs once (social views, motif hypergraphs).

The torch builders are pure functions of index tensors and run on whatever device their inputs
are on; the scipy helpers run on the CPU.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch


def normalized_adjacency(
    user: np.ndarray | torch.Tensor,
    item: np.ndarray | torch.Tensor,
    n_users: int,
    n_items: int,
    layout: str = "csr",
) -> torch.Tensor:
    """The symmetrically normalised bipartite adjacency of LightGCN (He et al., SIGIR'20, Eq. 7).

    With ``A = [[0, R], [R^T, 0]]`` for the ``[U, I]`` interaction matrix ``R``, returns
    ``Â = D^{-1/2} A D^{-1/2}``, so ``Â[u, U+i] = 1 / sqrt(|N_u| |N_i|)``. Nodes without edges
    get an all-zero row. No self-loops are added. Duplicate edges count once.

    Args:
        user: user index per edge, ``[E]``.
        item: item index per edge, ``[E]``.
        n_users: ``U``.
        n_items: ``I``.
        layout: ``"csr"`` (default; with int32 indices when they fit, the fastest sparse-dense
            product on CPU here, see docs/benchmarks.md) or ``"coo"``.

    Returns:
        ``float32`` sparse tensor ``[U+I, U+I]`` on the device of ``user``.
    """
    u = torch.as_tensor(user, dtype=torch.long)
    i = torch.as_tensor(item, dtype=torch.long, device=u.device)
    n = n_users + n_items
    if layout not in ("csr", "coo"):
        raise ValueError(f"layout must be 'csr' or 'coo', got {layout!r}")
    if u.numel():
        key = torch.unique(u * n_items + i)  # sorted: by user, then item
        u, i = key // n_items, key % n_items
    if layout == "csr":
        return _bipartite_csr(u, i, n_users, n_items)
    row = torch.cat([u, i + n_users])
    col = torch.cat([i + n_users, u])
    deg = torch.bincount(row, minlength=n).to(torch.float32)
    dinv = deg.pow(-0.5)
    dinv[deg == 0] = 0.0
    val = dinv[row] * dinv[col]
    return torch.sparse_coo_tensor(torch.stack([row, col]), val, (n, n),
                                   check_invariants=False).coalesce()


def _bipartite_csr(u: torch.Tensor, i: torch.Tensor, n_users: int, n_items: int
                   ) -> torch.Tensor:
    """The CSR ``Â`` of :func:`normalized_adjacency` from distinct pairs sorted by (user,
    item), built directly: the user rows are the pairs as they are, the item rows the pairs
    stably sorted by item (one sort of ``E`` keys, where a COO ``coalesce`` sorts ``2E``; the
    same matrix, entry for entry)."""
    n = n_users + n_items
    deg_u = torch.bincount(u, minlength=n_users)
    deg_i = torch.bincount(i, minlength=n_items)
    deg = torch.cat([deg_u, deg_i]).to(torch.float32)
    dinv = deg.pow(-0.5)
    dinv[deg == 0] = 0.0
    by_item = torch.sort(i, stable=True).indices  # (item, user) order
    col = torch.cat([i + n_users, u[by_item]])
    row_of = torch.cat([u, i[by_item] + n_users])
    val = dinv[row_of] * dinv[col]
    del row_of
    crow = torch.zeros(n + 1, dtype=torch.long, device=u.device)
    crow[1:] = torch.cumsum(torch.cat([deg_u, deg_i]), 0)
    idx = torch.int32 if n < 2**31 - 1 and val.numel() < 2**31 - 1 else torch.long
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        # int32 indices when they fit: the CPU kernel (MKL) takes them as they are; int64
        # indices are converted on every product
        return torch.sparse_csr_tensor(crow.to(idx), col.to(idx), val, (n, n),
                                       check_invariants=False)


def normalized_interactions(user: np.ndarray, item: np.ndarray, n_users: int, n_items: int
                            ) -> sp.csr_matrix:
    """The normalised interaction matrix ``R̃ = D_u^{-1/2} R D_i^{-1/2}`` (``[U, I]``).

    It is the user–item block of :func:`normalized_adjacency` (``Â[:U, U:] = R̃``), kept as a
    SciPy matrix for linear algebra on it (e.g. LightGCL's truncated SVD). Duplicate edges count
    once; users or items without edges have all-zero rows / columns.

    Args:
        user: ``int [E]`` user index per edge.
        item: ``int [E]`` item index per edge.
        n_users: ``U``.
        n_items: ``I``.

    Returns:
        ``float32`` CSR matrix ``[U, I]`` with sorted indices.
    """
    r = sp.csr_matrix((np.ones(len(user), dtype=np.float32),
                       (np.asarray(user, dtype=np.int64), np.asarray(item, dtype=np.int64))),
                      shape=(n_users, n_items))
    r.sum_duplicates()
    r.data[:] = 1.0
    return bipartite_normalize(r)


# ---- scipy sparse helpers (matrices built once, on the CPU, then moved to torch) -------------


def row_normalize(m: sp.spmatrix) -> sp.csr_matrix:
    """``D⁻¹ M`` with ``D = diag(row sums)``: every non-empty row sums to 1, empty rows stay
    empty (no division by zero).

    Args:
        m: sparse ``[N, M]`` with non-negative entries.

    Returns:
        ``float32`` CSR ``[N, M]`` with sorted indices.
    """
    m = sp.csr_matrix(m, dtype=np.float32)
    rows = np.asarray(m.sum(axis=1), dtype=np.float64).reshape(-1)
    inv = np.zeros_like(rows)
    nz = rows != 0
    inv[nz] = 1.0 / rows[nz]
    out = (sp.diags(inv.astype(np.float32)) @ m).tocsr().astype(np.float32)
    out.sort_indices()
    return out


def sym_normalize(m: sp.spmatrix) -> sp.csr_matrix:
    """``D^{-1/2} M D^{-1/2}`` with ``D = diag(row sums)`` (GCN / LightGCN normalisation of a
    symmetric matrix); rows and columns of empty rows stay empty.

    Args:
        m: square sparse ``[N, N]`` with non-negative entries (symmetric for a symmetric
            result).

    Returns:
        ``float32`` CSR ``[N, N]`` with sorted indices.

    Raises:
        ValueError: if ``m`` is not square.
    """
    if m.shape[0] != m.shape[1]:
        raise ValueError(f"sym_normalize needs a square matrix, got {m.shape}")
    m = sp.csr_matrix(m, dtype=np.float32)
    rows = np.asarray(m.sum(axis=1), dtype=np.float64).reshape(-1)
    inv = np.zeros_like(rows)
    nz = rows > 0
    inv[nz] = rows[nz] ** -0.5
    d = sp.diags(inv.astype(np.float32))
    out = (d @ m @ d).tocsr().astype(np.float32)
    out.sort_indices()
    return out


def bipartite_normalize(r: sp.spmatrix) -> sp.csr_matrix:
    """``D_U^{-1/2} R D_I^{-1/2}`` for a ``[U, I]`` interaction matrix: entry ``(u, i)`` is
    ``1 / sqrt(|N_u| |N_i|)`` (the user–item block of LightGCN's ``Â``).

    Returns:
        ``float32`` CSR ``[U, I]`` with sorted indices.
    """
    r = sp.csr_matrix(r, dtype=np.float32)
    du = np.asarray(r.sum(axis=1), dtype=np.float64).reshape(-1)
    di = np.asarray(r.sum(axis=0), dtype=np.float64).reshape(-1)
    iu = np.where(du > 0, du, 1.0) ** -0.5 * (du > 0)
    ii = np.where(di > 0, di, 1.0) ** -0.5 * (di > 0)
    out = (sp.diags(iu.astype(np.float32)) @ r @ sp.diags(ii.astype(np.float32))).tocsr()
    out = out.astype(np.float32)
    out.sort_indices()
    return out


def to_torch_sparse(m: sp.spmatrix, layout: str = "csr", device: torch.device | str | None = None
                    ) -> torch.Tensor:
    """A scipy sparse matrix as a ``float32`` torch sparse tensor.

    Args:
        m: any scipy sparse matrix ``[N, M]``.
        layout: ``"csr"`` (default; fastest sparse–dense product on CPU) or ``"coo"``.
        device: target device (default CPU).

    Returns:
        Sparse ``[N, M]`` tensor with the same non-zeros.
    """
    if layout not in ("csr", "coo"):
        raise ValueError(f"layout must be 'csr' or 'coo', got {layout!r}")
    if layout == "coo":
        c = sp.coo_matrix(m, dtype=np.float32)
        idx = torch.from_numpy(np.vstack([c.row, c.col]).astype(np.int64))
        return torch.sparse_coo_tensor(idx, torch.from_numpy(c.data), c.shape, device=device,
                                       check_invariants=False).coalesce()
    c = sp.csr_matrix(m, dtype=np.float32)
    c.sort_indices()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        # int32 indices when they fit (the CPU kernel takes them as they are), as in
        # normalized_adjacency
        idx = np.int32 if max(c.nnz, *c.shape) < 2**31 - 1 else np.int64
        return torch.sparse_csr_tensor(torch.from_numpy(c.indptr.astype(idx)),
                                       torch.from_numpy(c.indices.astype(idx)),
                                       torch.from_numpy(c.data), c.shape, device=device,
                                       check_invariants=False)
