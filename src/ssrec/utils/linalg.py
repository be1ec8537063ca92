"""Linear algebra helpers on sparse matrices (thin wrappers around SciPy)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch


def truncated_svd(matrix: sp.spmatrix | np.ndarray, rank: int, seed: int = 0
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``rank`` largest singular triplets of a (sparse) matrix, ``M ≈ U diag(s) V^T``.

    Computed by ARPACK (:func:`scipy.sparse.linalg.svds`) with a starting vector drawn from
    ``seed``, so the result is deterministic; singular values come out in decreasing order.

    Args:
        matrix: ``[m, n]`` SciPy sparse matrix or dense array.
        rank: ``q``, with ``1 <= q < min(m, n)``.
        seed: seeds the ARPACK starting vector.

    Returns:
        ``(U [m, q], s [q], V [n, q])`` as ``float32`` CPU tensors; ``U`` and ``V`` have
        orthonormal columns.

    Raises:
        ValueError: if ``rank`` is not in ``[1, min(m, n))``.
    """
    m, n = matrix.shape
    if not 1 <= rank < min(m, n):
        raise ValueError(f"SVD rank must be in [1, {min(m, n) - 1}] for a {m} x {n} matrix, "
                         f"got {rank}")
    a = sp.csr_matrix(matrix, dtype=np.float64)
    v0 = np.random.default_rng(seed).uniform(-1.0, 1.0, size=min(m, n))
    u, s, vt = spla.svds(a, k=rank, v0=v0, solver="arpack")
    order = np.argsort(-s)
    u, s, vt = u[:, order], s[order], vt[order]
    return (torch.from_numpy(np.ascontiguousarray(u, dtype=np.float32)),
            torch.from_numpy(np.ascontiguousarray(s, dtype=np.float32)),
            torch.from_numpy(np.ascontiguousarray(vt.T, dtype=np.float32)))
