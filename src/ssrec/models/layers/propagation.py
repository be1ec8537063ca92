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


def _backward_product(adj: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``adj @ grad`` for a backward pass, counted by an active :class:`SpmmCounter`."""
    if SpmmCounter.active is not None:
        SpmmCounter.active.backward += 1
    return torch.sparse.mm(adj, grad)


class _SymmetricSpMM(torch.autograd.Function):
    """``Â @ X`` for a symmetric sparse ``Â``; the backward pass is ``Â @ G`` (since ``Â^T = Â``),
    which avoids transposing the sparse matrix on every step."""

    @staticmethod
    def forward(ctx, adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.adj = adj
        return torch.sparse.mm(adj, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return None, _backward_product(ctx.adj, grad)


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
        return None, None, _backward_product(ctx.adj_t, grad)


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


def _per_layer(adj: torch.Tensor | Sequence[torch.Tensor], n_layers: int
               ) -> list[torch.Tensor]:
    """The adjacency of each layer ``1..L``: one graph repeated, or the list given."""
    if isinstance(adj, torch.Tensor):
        return [adj] * n_layers
    if len(adj) != n_layers:
        raise ValueError(f"got {len(adj)} adjacency matrices for {n_layers} layers")
    return list(adj)


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
    mats = _per_layer(adj, n_layers)
    layers = [ego]
    x = ego
    for layer in range(1, n_layers + 1):
        x = spmm(mats[layer - 1], x, symmetric)
        if layer_hook is not None:
            x = layer_hook(x, layer)
        layers.append(x)
    return layers


def layer_mean(layers: Sequence[torch.Tensor], include_ego: bool = True) -> torch.Tensor:
    """The layer average of :func:`propagate` (LightGCN Eq. 8). To read it at a few rows only,
    see :func:`propagate_rows`.

    Args:
        layers: ``E^(0..L)``, each ``[N, D]``.
        include_ego: average layers ``0..L`` (True) or ``1..L``.

    Returns:
        ``[N, D]``.
    """
    used = layers if include_ego or len(layers) == 1 else layers[1:]
    if len(used) == 1:
        return used[0]
    out = used[0] + used[1]  # a running sum: no [L+1, N, D] stack (same values as a mean)
    for x in used[2:]:
        out = out + x
    return out / len(used)


class _PropagateRows(torch.autograd.Function):
    """The layer average of a (perturbed) propagation, read at distinct ``rows``, with a
    Horner-style backward pass: ``G_L = S``, ``G_(l-1) = Â G_l (+ S)``, where ``S`` scatters
    the rows' gradient. The forward pass keeps no layer; the backward pass adds the rows'
    gradient into each product in place, instead of one zero-filled ``[N, D]`` scatter and one
    full-size addition per layer. The gradients are those of the autograd graph of
    :func:`propagate_layers` + :func:`layer_mean` (an addition of the same two terms)."""

    @staticmethod
    def forward(ctx, ego: torch.Tensor, adj: list[torch.Tensor],  # type: ignore[override]
                rows: torch.Tensor, include_ego: bool,
                noise: Callable[[torch.Tensor, int], torch.Tensor] | None,
                last_noise_at_rows: bool) -> torch.Tensor:
        n_layers = len(adj)
        x, acc = ego.detach(), None
        if include_ego or n_layers == 0:
            acc = x.index_select(0, rows)
        for layer in range(1, n_layers + 1):
            x = spmm(adj[layer - 1], x)  # no gradient in here: the bare product, counted
            last = layer == n_layers
            if noise is not None and not (last and last_noise_at_rows):
                x = noise(x, layer)
            xr = x.index_select(0, rows)
            if noise is not None and last and last_noise_at_rows:
                xr = noise(xr, layer)
            acc = xr if acc is None else acc + xr  # the running sum of layer_mean
        used = n_layers + 1 if include_ego or n_layers == 0 else n_layers
        ctx.adj, ctx.include_ego, ctx.used, ctx.n = adj, include_ego, used, ego.shape[0]
        ctx.save_for_backward(rows)
        return acc / used if used > 1 else acc

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (rows,) = ctx.saved_tensors
        g = grad / ctx.used if ctx.used > 1 else grad
        # G_L: the rows' share of the last layer (or of the ego layer when L = 0)
        out = grad.new_zeros(ctx.n, grad.shape[1]).index_add_(0, rows, g)
        for layer in range(len(ctx.adj), 0, -1):
            out = _backward_product(ctx.adj[layer - 1], out)  # Â symmetric: Âᵀ G = Â G
            if layer > 1 or ctx.include_ego:
                out.index_add_(0, rows, g)  # distinct rows: the same sums as autograd's
        return out, None, None, None, None, None


def propagate_rows(
    adj: torch.Tensor | Sequence[torch.Tensor],
    ego: torch.Tensor,
    n_layers: int,
    rows: torch.Tensor,
    include_ego: bool = True,
    noise: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
    last_noise_at_rows: bool = False,
) -> torch.Tensor:
    """``layer_mean(propagate_layers(adj, ego, n_layers, noise), include_ego)[rows]`` in one
    pass, for a symmetric ``Â``, with less memory traffic (no layer is kept for the backward
    pass, and each layer's share of the rows' gradient is added in place; see
    :class:`_PropagateRows`). The values and the gradient are the same, bit for bit. One
    caveat: when ``ego`` has other uses (LightGCN's L2 penalty) and ``include_ego``, the ego's
    share is added inside, so autograd sums the ego's gradient terms in another order, which
    can change the last bits.

    Args:
        adj: symmetric normalised adjacency, sparse ``[N, N]``, or one per layer.
        ego: layer-0 embeddings ``[N, D]``.
        n_layers: ``L >= 0``.
        rows: ``int64 [R]`` node indices (repeats allowed: each distinct row is computed
            once and expanded, so repeats share one noise draw and their gradients add up).
        include_ego: average layers ``0..L`` (True) or ``1..L``.
        noise: an additive perturbation ``f(E^(l), l) -> E^(l) + Δ_l`` applied after each
            layer, whose gradient is the identity (e.g. SimGCL's uniform noise; ``Δ`` must
            not depend on ``E`` differentiably). Other hooks need :func:`propagate_layers`.
        last_noise_at_rows: apply ``noise`` to the last layer's ``rows`` only (``[R', D]``),
            the only part of that layer the result reads: the same distribution for a
            row-wise perturbation, at a fraction of the cost.

    Returns:
        ``[R, D]``.

    Raises:
        ValueError: a list of adjacency matrices whose length is not ``n_layers``.
    """
    mats = _per_layer(adj, n_layers)
    rows, inverse = torch.unique(rows, return_inverse=True)
    out = _PropagateRows.apply(ego, mats, rows, include_ego, noise, last_noise_at_rows)
    return out.index_select(0, inverse)  # backward: index_add_, much faster than indexing's
