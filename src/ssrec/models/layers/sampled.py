"""Neighbour-sampled LightGCN propagation: the final embeddings of a few rows from sampled
L-hop neighbourhoods (GraphSAGE / PinSage-style mini-batch training, issue 18 part 3).

Full propagation computes every node's layers at every step, so an epoch of ``E / B`` steps
costs ``(E / B) × L × nnz(Â) × D``: quadratic in the data at a fixed batch size.
:func:`propagate_sampled` computes the layer average only at the batch's rows, from a
neighbourhood sampled per step:

* **Sampling** (:func:`sample_blocks`). ``N_0`` is the distinct rows; for hop ``k = 1..L``
  each node ``v`` of ``N_(k-1)`` draws ``s_v = min(d_v, f_k)`` of its ``d_v`` neighbours and
  ``N_k = N_(k-1) ∪ {drawn}``. The draw is stratified: neighbour offset
  ``floor((j + u_j) d_v / s_v)`` for ``j = 0..s_v-1`` and ``u_j ~ U(0, 1)`` (offsets into the
  CSR row, so one vectorised gather for the whole frontier, on any device). Every neighbour is
  then drawn ``s_v / d_v`` times in expectation, so weighting each draw by ``Â_vw d_v / s_v``
  makes ``Σ_draws`` an unbiased estimate of ``(Â x)_v``; when ``d_v <= f_k`` the offsets are
  ``0..d_v-1``, every neighbour once with weight ``Â_vw``: exact.
* **Propagation**. Layer ``l`` is computed on ``N_(L-l)`` from layer ``l-1`` on
  ``N_(L-l+1)`` with hop ``L-l+1``'s draws (an ``index_add_`` of the weighted rows). Each hop
  draws independently of the others, so by induction ``E[Ê^(l)_v] = (Â^l E^(0))_v`` for every
  layer: the layer average at the rows is unbiased. (Reusing one hop's draw at a deeper hop
  would correlate paths that return to a node, v → w → v, and bias layer 3.)
* **Cost**. Hop ``k`` draws at most ``f_k`` per node of ``N_(k-1)``, and
  ``|N_k| <= |N_(k-1)| (1 + f_k)``, so a step draws at most ``|N_0| (Π_k (1 + f_k) - 1)``
  edges (and at most ``L × nnz``), whatever the graph's size: fewer when the sets overlap,
  as they do on small graphs, where it approaches full propagation's work. An epoch of
  ``E / B`` steps costs ``O(E)``. The
  embedding rows read are those of ``N_L`` only: with row-sparse gradients
  (``nn.Embedding(sparse=True)`` and a lazy optimiser, see :class:`~ssrec.models.cf.GraphCF`)
  nothing per step touches all ``U + I`` rows.

A per-layer hook (SimGCL's noise) is applied to each computed layer's rows; the result has the
same distribution per row as in full propagation. Pure torch: runs on CUDA as on CPU.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


@dataclass
class CSRGraph:
    """A sparse graph as CSR arrays (a view of a torch sparse CSR tensor, built once).

    Attributes:
        crow: ``int64 [N+1]`` row pointers.
        col: ``[nnz]`` column indices (int32 or int64).
        val: ``float [nnz]`` values (``Â``'s normalised weights).
    """

    crow: torch.Tensor
    col: torch.Tensor
    val: torch.Tensor

    @classmethod
    def from_sparse(cls, adj: torch.Tensor) -> CSRGraph:
        """From a sparse CSR (or COO) tensor ``[N, N]``."""
        if adj.layout != torch.sparse_csr:
            adj = adj.to_sparse_csr()
        return cls(adj.crow_indices().to(torch.int64), adj.col_indices(), adj.values())

    @property
    def n_nodes(self) -> int:
        return int(self.crow.numel() - 1)

    def to(self, device: torch.device | str) -> CSRGraph:
        return CSRGraph(self.crow.to(device), self.col.to(device), self.val.to(device))


@dataclass
class Hop:
    """One hop's draws: ``N_(k-1)[dst] <- weight × N_k[src]``, ``dst`` non-decreasing (so
    that they form a CSR matrix ``[|N_(k-1)|, |N_k|]`` as they are, see :meth:`matrix`).

    Attributes:
        dst: ``int64 [M]`` positions in ``N_(k-1)`` (the receiving nodes), sorted.
        src: ``int64 [M]`` positions in ``N_k`` (the drawn neighbours).
        weight: ``float [M]``, ``Â_vw d_v / s_v``.
        n_dst, n_src: ``|N_(k-1)|`` and ``|N_k|``.
    """

    dst: torch.Tensor
    src: torch.Tensor
    weight: torch.Tensor
    n_dst: int
    n_src: int

    def matrix(self, transpose: bool = False) -> torch.Tensor:
        """The draws as a sparse CSR matrix ``[n_dst, n_src]`` (or its transpose), int32
        indices when they fit."""
        rows, cols, val, shape = self.dst, self.src, self.weight, (self.n_dst, self.n_src)
        if transpose:
            order = torch.sort(cols, stable=True).indices
            rows, cols, val, shape = cols[order], rows[order], val[order], shape[::-1]
        crow = torch.zeros(shape[0] + 1, dtype=torch.long, device=rows.device)
        crow[1:] = torch.cumsum(torch.bincount(rows, minlength=shape[0]), 0)
        idx = torch.int32 if max(shape[0], shape[1], int(val.numel())) < 2**31 - 1 \
            else torch.long
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return torch.sparse_csr_tensor(crow.to(idx), cols.to(idx), val, shape,
                                           check_invariants=False)


class _HopProduct(torch.autograd.Function):
    """``A @ X`` for one hop's draws ``A`` (sparse CSR), backward ``Aᵀ @ G`` with ``Aᵀ``
    built when the backward pass needs it (one stable sort of the draws). A sparse product
    instead of gathering ``[M, D]`` messages and scattering them: the gather, the weighting
    and the scatter each wrote ``M × D`` floats, several times the product's cost here."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, hop: Hop) -> torch.Tensor:  # type: ignore[override]
        ctx.hop = hop
        return torch.sparse.mm(hop.matrix(), x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return torch.sparse.mm(ctx.hop.matrix(transpose=True), grad.contiguous()), None


@dataclass
class SampledBlocks:
    """The sampled neighbourhood of a set of rows.

    Attributes:
        nodes: ``nodes[k]`` = ``N_k`` (sorted distinct node ids, ``int64``), ``k = 0..L``;
            ``N_0`` is the distinct rows and ``N_0 ⊆ N_1 ⊆ ... ⊆ N_L``.
        hops: ``hops[k-1]`` holds hop ``k``'s draws (from ``N_k`` into ``N_(k-1)``).
    """

    nodes: list[torch.Tensor]
    hops: list[Hop]

    @property
    def n_edges(self) -> int:
        """Draws over all hops (the step's propagation work is ``n_edges × D``)."""
        return sum(int(h.dst.numel()) for h in self.hops)


def _draw(graph: CSRGraph, frontier: torch.Tensor, fanout: int,
          generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stratified draws of ``min(d_v, fanout)`` neighbours of each frontier node:
    ``(dst positions in frontier, neighbour ids, weights)``."""
    start = graph.crow[frontier]
    deg = graph.crow[frontier + 1] - start
    take = deg.clamp(max=fanout)
    dst = torch.repeat_interleave(torch.arange(frontier.numel(), device=frontier.device), take)
    total = dst.numel()
    first = torch.cumsum(take, 0) - take
    j = torch.arange(total, device=frontier.device) - first[dst]  # stratum 0..s_v-1
    d, s = deg[dst], take[dst]
    u = torch.rand(total, generator=generator, device=frontier.device, dtype=torch.float64)
    off = torch.floor((j.to(torch.float64) + u) * d.to(torch.float64) / s.to(torch.float64))
    off = torch.where(d <= s, j, off.to(torch.int64).clamp(max=d - 1).clamp(min=0))
    edge = start[dst] + off
    nbr = graph.col[edge].to(torch.int64)
    weight = graph.val[edge] * (d.to(graph.val.dtype) / s.to(graph.val.dtype))
    return dst, nbr, weight


def sample_blocks(graph: CSRGraph, rows: torch.Tensor, fanouts: Sequence[int],
                  generator: torch.Generator | None = None) -> SampledBlocks:
    """Sample the L-hop neighbourhood of ``rows`` (``L = len(fanouts)``; see the module docs).

    Args:
        graph: the normalised adjacency ``Â`` as CSR arrays.
        rows: ``int64 [R]`` node ids (repeats allowed).
        fanouts: ``f_1..f_L >= 1``: neighbours drawn per node at hop ``k`` (hop 1: the rows'
            own neighbours). ``f_k >= max degree`` draws every neighbour: exact.
        generator: the random generator (on ``rows``' device).

    Returns:
        The :class:`SampledBlocks`.
    """
    nodes = [torch.unique(rows)]
    hops: list[Hop] = []
    for f in fanouts:
        if f < 1:
            raise ValueError(f"fanouts must be >= 1, got {list(fanouts)}")
        prev = nodes[-1]
        dst, nbr, weight = _draw(graph, prev, int(f), generator)
        nxt, inverse = torch.unique(torch.cat([prev, nbr]), return_inverse=True)
        hops.append(Hop(dst, inverse[prev.numel():], weight, int(prev.numel()),
                        int(nxt.numel())))
        nodes.append(nxt)
    return SampledBlocks(nodes, hops)


def propagate_sampled(
    blocks: SampledBlocks,
    ego_rows: Callable[[torch.Tensor], torch.Tensor],
    include_ego: bool = True,
    layer_hook: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
) -> torch.Tensor:
    """The layer average of LightGCN propagation at ``blocks.nodes[0]`` (sorted distinct rows),
    estimated on the sampled blocks (unbiased; exact where every degree is within its fanout).

    Args:
        blocks: from :func:`sample_blocks` (``L = len(blocks.hops)`` layers).
        ego_rows: ``ids [n] -> [n, D]``, the layer-0 embeddings of the given node ids (read
            once, for ``N_L``).
        include_ego: average layers ``0..L`` (LightGCN) or ``1..L`` (SimGCL).
        layer_hook: ``f(E^(l) rows, l) -> rows``, applied after each layer (SimGCL's noise).

    Returns:
        ``[|N_0|, D]``, in the order of ``blocks.nodes[0]``.
    """
    n_layers = len(blocks.hops)
    target = blocks.nodes[0]
    x = ego_rows(blocks.nodes[n_layers])  # E^(0) on N_L
    acc = None
    if include_ego or n_layers == 0:
        acc = x.index_select(0, torch.searchsorted(blocks.nodes[n_layers], target))
    for layer in range(1, n_layers + 1):
        k = n_layers - layer + 1  # hop k carries layer `layer` into N_(k-1)
        hop = blocks.hops[k - 1]
        if hop.weight.dtype != x.dtype:
            hop = Hop(hop.dst, hop.src, hop.weight.to(x.dtype), hop.n_dst, hop.n_src)
        x = _HopProduct.apply(x, hop)
        if layer_hook is not None:
            x = layer_hook(x, layer)
        rows = x if k == 1 else x.index_select(
            0, torch.searchsorted(blocks.nodes[k - 1], target))
        acc = rows if acc is None else acc + rows
    used = n_layers + 1 if include_ego or n_layers == 0 else n_layers
    assert acc is not None
    return acc / used if used > 1 else acc


def propagate_rows_sampled(
    graph: CSRGraph,
    ego_rows: Callable[[torch.Tensor], torch.Tensor],
    rows: torch.Tensor,
    fanouts: Sequence[int],
    include_ego: bool = True,
    layer_hook: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """:func:`sample_blocks` + :func:`propagate_sampled`, read at ``rows`` (repeats allowed:
    each distinct row is computed once and expanded). The sampled counterpart of
    :func:`~ssrec.models.layers.propagate_rows`.

    Returns:
        ``[R, D]``.
    """
    blocks = sample_blocks(graph, rows, fanouts, generator)
    out = propagate_sampled(blocks, ego_rows, include_ego, layer_hook)
    return out.index_select(0, torch.searchsorted(blocks.nodes[0], rows))
