"""Relation-aware aggregation over a knowledge graph (item–entity graph), as scatter
operations over the triple list (no dense ``[E, E]`` matrix)."""

from __future__ import annotations

import torch


def relation_aggregate(entity: torch.Tensor, relation_emb: torch.Tensor, head: torch.Tensor,
                       relation: torch.Tensor, tail: torch.Tensor,
                       weight: torch.Tensor | None = None, reduce: str = "mean"
                       ) -> torch.Tensor:
    """Relation-aware message passing from tails to heads:
    ``e_h ← agg_{(h, r, t) ∈ G} w_{hrt} · (e_r ⊙ e_t)``.

    With ``reduce="mean"`` and no weight this is KGIN's relational path-aware aggregation
    (Wang et al., WWW 2021, Eq. 7:
    ``e_i^{(1)} = 1/|N_i| Σ_{(r, v) ∈ N_i} e_r ⊙ e_v^{(0)}``); with
    attention weights (already normalised per head) and ``reduce="sum"`` it is the weighted
    aggregation of KGAT/KGCL-style attentive layers.

    Args:
        entity: ``[E, D]`` entity representations.
        relation_emb: ``[R, D]`` relation representations.
        head, relation, tail: ``int64 [T]`` triples; messages flow from ``tail`` to ``head``.
        weight: optional ``float [T]`` per-triple weights (e.g. attention).
        reduce: ``"mean"`` (divide by the head's number of triples) or ``"sum"``.

    Returns:
        ``[E, D]``; rows of entities that head no triple are zero.

    Raises:
        ValueError: an unknown ``reduce``.
    """
    if reduce not in ("mean", "sum"):
        raise ValueError(f"reduce must be 'mean' or 'sum', got {reduce!r}")
    msg = entity.index_select(0, tail) * relation_emb.index_select(0, relation)  # [T, D]
    if weight is not None:
        msg = msg * weight.unsqueeze(1)
    out = torch.zeros_like(entity).index_add_(0, head, msg)
    if reduce == "mean":
        deg = torch.bincount(head, minlength=entity.shape[0]).clamp_min(1)
        out = out / deg.unsqueeze(1).to(out.dtype)
    return out


def segment_softmax(scores: torch.Tensor, index: torch.Tensor, n: int) -> torch.Tensor:
    """Softmax of ``scores`` within each group of equal ``index`` (e.g. over the triples of one
    head): ``α_k = exp(s_k) / Σ_{j: index_j = index_k} exp(s_j)``, stabilised by the group max.

    Args:
        scores: ``float [T]``.
        index: ``int64 [T]`` group of each score, in ``[0, n)``.
        n: number of groups.

    Returns:
        ``float [T]``, summing to 1 within every non-empty group.
    """
    top = torch.full((n,), float("-inf"), dtype=scores.dtype, device=scores.device)
    top = top.scatter_reduce(0, index, scores, reduce="amax", include_self=True)
    ex = torch.exp(scores - top.index_select(0, index).detach())
    den = torch.zeros(n, dtype=scores.dtype, device=scores.device).index_add_(0, index, ex)
    return ex / den.index_select(0, index)
