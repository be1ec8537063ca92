"""Motif-induced adjacency matrices of MHCN (the maths no other model uses).

Yu et al., "Self-Supervised Multi-Channel Hypergraph Convolutional Network for Social
Recommendation", WWW 2021, Section 3.2 and Table 1. Every instance of a triangular motif is a
hyperedge; the motif-induced adjacency ``A_Mk[u, v]`` counts the instances of motif ``Mk`` that
contain both ``u`` and ``v``, which makes the hypergraph convolution ``D⁻¹ H W Hᵀ`` of a channel
equal to ``D⁻¹ A`` (Eq. 4) with ``A = H Hᵀ`` off the diagonal.

With the directed social matrix ``S`` ``[U, U]``, its bidirectional part ``B = S ⊙ Sᵀ``, its
unidirectional part ``U = S − B`` and the interaction matrix ``Y`` ``[U, I]`` (``·`` the matrix
product, ``⊙`` the element-wise product; the social formulas are those of Benson et al., Science
2016, for the seven directed triangles):

====  =====================================================  =================================
 M1   ``C = (U·U) ⊙ Uᵀ``,  ``A = C + Cᵀ``                    directed 3-cycle
 M2   ``C = (B·U) ⊙ Uᵀ + (U·B) ⊙ Uᵀ + (U·U) ⊙ B``, ``C + Cᵀ``  cycle with one mutual link
 M3   ``C = (B·B) ⊙ U + (B·U) ⊙ B + (U·B) ⊙ B``, ``C + Cᵀ``    two mutual links + one one-way
 M4   ``A = (B·B) ⊙ B``                                      three mutual links
 M5   ``C = (U·U) ⊙ U + (U·Uᵀ) ⊙ U + (Uᵀ·U) ⊙ U``, ``C + Cᵀ``  feed-forward (transitive) triangle
 M6   ``A = (U·B) ⊙ U + (B·Uᵀ) ⊙ Uᵀ + (Uᵀ·U) ⊙ B``           one user → a mutual pair
 M7   ``A = (Uᵀ·B) ⊙ Uᵀ + (B·U) ⊙ U + (U·Uᵀ) ⊙ B``           a mutual pair → one user
 M8   ``A = (Y·Yᵀ) ⊙ B``                                     mutual friends who share an item
 M9   ``C = (Y·Yᵀ) ⊙ U``,  ``A = C + Cᵀ``                    one-way friends who share an item
 M10  ``A = Y·Yᵀ − A_M8 − A_M9``                             users who share an item, no link
====  =====================================================  =================================

The three channels (Section 3.2.1): social ``A_s = Σ_{k=1..7} A_Mk``, joint
``A_j = A_M8 + A_M9`` and purchase ``A_p = A_M10`` with only the entries above a threshold kept
(the reference code's sparsification of the dense purchase matrix), each row-normalised
(``D⁻¹ A``). As in the reference code, ``A_M10`` keeps its diagonal (``Y·Yᵀ[u, u]``, the user's
number of items), a self-loop of the purchase channel; the social and joint channels have none.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ssrec.data.graph import row_normalize

MOTIFS = tuple(f"M{k}" for k in range(1, 11))


def _bin(m: sp.spmatrix) -> sp.csr_matrix:
    out = sp.csr_matrix(m, dtype=np.float32)
    out.eliminate_zeros()
    out.data[:] = 1.0
    return out


def motif_adjacency(social: sp.spmatrix, interactions: sp.spmatrix) -> dict[str, sp.csr_matrix]:
    """The ten motif-induced adjacency matrices of MHCN (Table 1; see module docs).

    Args:
        social: directed social links ``S`` ``[U, U]`` (any non-zero is a link; the diagonal
            must be empty).
        interactions: training interactions ``Y`` ``[U, I]`` (any non-zero is an interaction).

    Returns:
        ``{"M1": A_M1, ..., "M10": A_M10}``, each a ``float32`` CSR ``[U, U]`` of motif counts.

    Raises:
        ValueError: shapes that do not fit, or self links in ``social``.
    """
    n = social.shape[0]
    if social.shape != (n, n) or interactions.shape[0] != n:
        raise ValueError(f"social must be [U, U] and interactions [U, I]; got {social.shape} "
                         f"and {interactions.shape}")
    s = _bin(social)
    if s.diagonal().any():
        raise ValueError("social has self links (non-zero diagonal)")
    y = _bin(interactions)
    b = s.multiply(s.T).tocsr()
    u = (s - b).tocsr()
    u.eliminate_zeros()
    ut = u.T.tocsr()
    c1 = (u @ u).multiply(ut)
    c2 = (b @ u).multiply(ut) + (u @ b).multiply(ut) + (u @ u).multiply(b)
    c3 = (b @ b).multiply(u) + (b @ u).multiply(b) + (u @ b).multiply(b)
    c5 = (u @ u).multiply(u) + (u @ ut).multiply(u) + (ut @ u).multiply(u)
    a = {
        "M1": c1 + c1.T,
        "M2": c2 + c2.T,
        "M3": c3 + c3.T,
        "M4": (b @ b).multiply(b),
        "M5": c5 + c5.T,
        "M6": (u @ b).multiply(u) + (b @ ut).multiply(ut) + (ut @ u).multiply(b),
        "M7": (ut @ b).multiply(ut) + (b @ u).multiply(u) + (u @ ut).multiply(b),
    }
    yy = (y @ y.T).tocsr()
    a["M8"] = yy.multiply(b)
    c9 = yy.multiply(u)
    a["M9"] = c9 + c9.T
    a["M10"] = yy - a["M8"] - a["M9"]
    out = {}
    for k in MOTIFS:
        m = sp.csr_matrix(a[k], dtype=np.float32)
        m.eliminate_zeros()
        m.sort_indices()
        out[k] = m
    return out


def channel_matrices(social: sp.spmatrix, interactions: sp.spmatrix,
                     purchase_threshold: float = 3.0
                     ) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """The row-normalised adjacency of MHCN's social, joint and purchase channels.

    Args:
        social: directed social links ``[U, U]``.
        interactions: training interactions ``[U, I]``.
        purchase_threshold: keep the purchase entries ``A_M10[u, v] > purchase_threshold``
            (pairs sharing more than this many items); ``0`` keeps all.

    Returns:
        ``(H_s, H_j, H_p)``, ``float32`` CSR ``[U, U]``, each ``D⁻¹ A`` (rows of users in no
        motif instance are empty).
    """
    a = motif_adjacency(social, interactions)
    a_s = sum((a[f"M{k}"] for k in range(1, 8)), sp.csr_matrix(a["M1"].shape, dtype=np.float32))
    a_j = a["M8"] + a["M9"]
    a_p = a["M10"].copy()
    a_p.data[a_p.data <= purchase_threshold] = 0.0
    a_p.eliminate_zeros()
    return row_normalize(a_s), row_normalize(a_j), row_normalize(a_p)
