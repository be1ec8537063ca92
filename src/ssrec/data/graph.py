"""Graph builders: the normalised user–item adjacency used by LightGCN-style propagation.

All builders are pure functions of index tensors and run on whatever device their inputs are on.
"""

from __future__ import annotations

import warnings

import numpy as np
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
    if u.numel():
        key = torch.unique(u * n_items + i)
        u, i = key // n_items, key % n_items
    row = torch.cat([u, i + n_users])
    col = torch.cat([i + n_users, u])
    deg = torch.bincount(row, minlength=n).to(torch.float32)
    dinv = deg.pow(-0.5)
    dinv[deg == 0] = 0.0
    val = dinv[row] * dinv[col]
    if layout not in ("csr", "coo"):
        raise ValueError(f"layout must be 'csr' or 'coo', got {layout!r}")
    adj = torch.sparse_coo_tensor(torch.stack([row, col]), val, (n, n),
                                  check_invariants=False).coalesce()
    if layout == "coo":
        return adj
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        csr = adj.to_sparse_csr()
        if n < 2**31 - 1 and val.numel() < 2**31 - 1:
            # int32 indices: the CPU kernel (MKL) takes them as they are; int64 indices are
            # converted on every product
            csr = torch.sparse_csr_tensor(csr.crow_indices().to(torch.int32),
                                          csr.col_indices().to(torch.int32), csr.values(),
                                          csr.shape)
        return csr
