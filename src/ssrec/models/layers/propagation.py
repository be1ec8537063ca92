"""Sparse graph propagation (LightGCN-style message passing)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import torch


class SpmmCounter:
    """Counts the sparse–dense products run through :func:`spmm` (forward and backward) while
    active, so benchmarks can time the same products bare (the "kernel floor").

    Example:
        >>> with SpmmCounter() as c:
        ...     model.loss(batch).total.backward()
        >>> c.forward, c.backward
    """

    active: ClassVar[SpmmCounter | None] = None

    def __init__(self) -> None:
        self.forward = 0
        self.backward = 0

    def __enter__(self) -> SpmmCounter:
        SpmmCounter.active = self
        return self

    def __exit__(self, *exc: object) -> None:
        SpmmCounter.active = None


class _SymmetricSpMM(torch.autograd.Function):
    """``Â @ X`` for a symmetric sparse ``Â``; the backward pass is ``Â @ G`` (since ``Â^T = Â``),
    which avoids transposing the sparse matrix on every step."""

    @staticmethod
    def forward(ctx, adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.adj = adj
        return torch.sparse.mm(adj, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        if SpmmCounter.active is not None:
            SpmmCounter.active.backward += 1
        return None, torch.sparse.mm(ctx.adj, grad)


class _TransposedSpMM(torch.autograd.Function):
    """``A @ X`` for any sparse ``A`` whose transpose ``Aᵀ`` is given (built once); the backward
    pass is ``Aᵀ @ G``."""

    @staticmethod
    def forward(ctx, adj: torch.Tensor, adj_t: torch.Tensor,  # type: ignore[override]
                x: torch.Tensor) -> torch.Tensor:
        ctx.adj_t = adj_t
        return torch.sparse.mm(adj, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        if SpmmCounter.active is not None:
            SpmmCounter.active.backward += 1
        return None, None, torch.sparse.mm(ctx.adj_t, grad)


def spmm(adj: torch.Tensor, x: torch.Tensor, symmetric: bool = True,
         transpose: torch.Tensor | None = None) -> torch.Tensor:
    """Sparse–dense product ``adj @ x`` with autograd w.r.t. ``x``.

    Args:
        adj: sparse ``[N, M]`` (CSR or COO).
        x: dense ``[M, D]``.
        symmetric: ``adj`` is symmetric (true for the normalised bipartite adjacency), which
            allows the cheaper backward pass. Pass False for a non-symmetric ``adj`` without
            ``transpose`` (PyTorch's own backward, which transposes ``adj`` on every call).
        transpose: ``adjᵀ`` (sparse ``[M, N]``), precomputed; when given, the backward pass is
            ``adjᵀ @ grad`` whatever ``symmetric`` says (row-normalised or rectangular graphs).

    Returns:
        Dense ``[N, D]``.
    """
    if SpmmCounter.active is not None:
        SpmmCounter.active.forward += 1
    if x.requires_grad:
        if transpose is not None:
            return _TransposedSpMM.apply(adj, transpose, x)
        if symmetric:
            return _SymmetricSpMM.apply(adj, x)
    return torch.sparse.mm(adj, x)


def propagate(
    adj: torch.Tensor | Sequence[torch.Tensor],
    ego: torch.Tensor,
    n_layers: int,
    include_ego: bool = True,
    layer_hook: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
    symmetric: bool = True,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Light graph convolution: ``E^(l+1) = Â E^(l)``, averaged over layers.

    (He et al., "LightGCN", SIGIR'20, Eqs. 3-4 in matrix form, Eq. 8.)

    Args:
        adj: normalised adjacency, sparse ``[N, N]``, or one per layer (``L`` of them; e.g.
            SGL's random-walk views draw a different graph for every layer).
        ego: layer-0 embeddings ``[N, D]``.
        n_layers: ``L >= 0``.
        include_ego: average over layers ``0..L`` (LightGCN) or ``1..L`` (SimGCL, XSimGCL).
        layer_hook: ``f(E^(l), l) -> E^(l)`` applied after each layer ``l = 1..L`` (e.g.
            SimGCL's noise); its output feeds the next layer.
        symmetric: see :func:`spmm`.

    Returns:
        ``(mean [N, D], layers)`` where ``layers[l]`` is ``E^(l)`` for ``l = 0..L`` (after the
        hook).
    """
    layers = propagate_layers(adj, ego, n_layers, layer_hook, symmetric)
    return layer_mean(layers, include_ego), layers


def propagate_layers(
    adj: torch.Tensor | Sequence[torch.Tensor],
    ego: torch.Tensor,
    n_layers: int,
    layer_hook: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
    symmetric: bool = True,
) -> list[torch.Tensor]:
    """The layers of :func:`propagate` without their average: ``[E^(0), ..., E^(L)]``.

    Raises:
        ValueError: a list of adjacency matrices whose length is not ``n_layers``.
    """
    per_layer = not isinstance(adj, torch.Tensor)
    if per_layer and len(adj) != n_layers:
        raise ValueError(f"got {len(adj)} adjacency matrices for {n_layers} layers")
    layers = [ego]
    x = ego
    for layer in range(1, n_layers + 1):
        x = spmm(adj[layer - 1] if per_layer else adj, x, symmetric)
        if layer_hook is not None:
            x = layer_hook(x, layer)
        layers.append(x)
    return layers


def layer_mean(layers: Sequence[torch.Tensor], include_ego: bool = True,
               rows: torch.Tensor | None = None) -> torch.Tensor:
    """The layer average of :func:`propagate` (LightGCN Eq. 8), of all nodes or of ``rows``.

    With ``rows`` only those rows of each layer are read (``[R, D]`` out): the values are
    exactly ``layer_mean(layers)[rows]``, without the full-size sums, and the backward pass
    scatters into each layer only the rows' gradients. Repeated rows are read once and
    expanded, so their gradients are summed in the same order as a gather from the full mean.

    Args:
        layers: ``E^(0..L)``, each ``[N, D]``.
        include_ego: average layers ``0..L`` (True) or ``1..L``.
        rows: ``int64 [R]`` node indices, or None for every node.

    Returns:
        ``[N, D]``, or ``[R, D]`` with ``rows``.
    """
    used = layers if include_ego or len(layers) == 1 else layers[1:]
    inverse = None
    if rows is not None:
        rows, inverse = torch.unique(rows, return_inverse=True)
        used = [x[rows] for x in used]
    if len(used) == 1:
        out = used[0]
    else:
        out = used[0] + used[1]  # a running sum: no [L+1, N, D] stack (same values as a mean)
        for x in used[2:]:
            out = out + x
        out = out / len(used)
    return out if inverse is None else out[inverse]
