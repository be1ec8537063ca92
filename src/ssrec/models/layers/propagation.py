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


def spmm(adj: torch.Tensor, x: torch.Tensor, symmetric: bool = True) -> torch.Tensor:
    """Sparse–dense product ``adj @ x`` with autograd w.r.t. ``x``.

    Args:
        adj: sparse ``[N, N]`` (CSR or COO).
        x: dense ``[N, D]``.
        symmetric: ``adj`` is symmetric (true for the normalised bipartite adjacency), which
            allows the cheaper backward pass.

    Returns:
        Dense ``[N, D]``.
    """
    if SpmmCounter.active is not None:
        SpmmCounter.active.forward += 1
    if symmetric and x.requires_grad:
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
    used = layers if include_ego or n_layers == 0 else layers[1:]
    if len(used) == 1:
        return used[0], layers
    total = used[0] + used[1]  # a running sum: no [L+1, N, D] stack (same values as a mean)
    for x in used[2:]:
        total = total + x
    return total / len(used), layers
