"""Top-K ranking metrics as pure functions of a hit matrix.

Every metric takes ``hits``, a ``[B, K]`` 0/1 tensor whose entry ``(b, r)`` says whether the
item ranked ``r+1`` for user ``b`` is relevant, and ``n_rel``, the ``[B]`` number of relevant
items of each user, and returns the per-user value ``[B]`` (float64) at cut-off ``k <= K``.
Averages are taken over users with at least one relevant item (the caller's job).

Definitions (binary relevance, ``rel_r`` = hit at rank ``r``, ``T_u`` = relevant set):

* Recall@K    = Σ_{r≤K} rel_r / |T_u|
* Precision@K = Σ_{r≤K} rel_r / K
* NDCG@K      = DCG / IDCG, DCG = Σ_{r≤K} rel_r / log2(r+1), IDCG = Σ_{r≤min(K,|T_u|)} 1/log2(r+1)
* Hit@K       = 1 if Σ_{r≤K} rel_r ≥ 1 else 0
* MRR@K       = 1 / (rank of the first hit within K), 0 if none
* MAP@K       = Σ_{r≤K} Precision@r · rel_r / min(K, |T_u|)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch

MetricFn = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


def _prep(hits: torch.Tensor, k: int) -> torch.Tensor:
    return hits[:, :k].to(torch.float64)


def recall(hits: torch.Tensor, n_rel: torch.Tensor, k: int) -> torch.Tensor:
    """Recall@K per user ``[B]``: hits in the top K over the number of relevant items."""
    return _prep(hits, k).sum(1) / n_rel.to(torch.float64).clamp(min=1)


def precision(hits: torch.Tensor, n_rel: torch.Tensor, k: int) -> torch.Tensor:
    """Precision@K per user ``[B]``: hits in the top K over K."""
    return _prep(hits, k).sum(1) / k


def ndcg(hits: torch.Tensor, n_rel: torch.Tensor, k: int) -> torch.Tensor:
    """NDCG@K per user ``[B]`` with binary gains and ideal DCG over ``min(K, |T_u|)`` ranks."""
    h = _prep(hits, k)
    discounts = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64, device=h.device))
    dcg = (h * discounts[: h.shape[1]]).sum(1)
    ideal_cum = torch.cumsum(discounts, 0)  # ideal DCG with j relevant items at positions 1..j
    n_ideal = n_rel.clamp(min=1, max=k).to(torch.long) - 1
    return dcg / ideal_cum[n_ideal]


def hit(hits: torch.Tensor, n_rel: torch.Tensor, k: int) -> torch.Tensor:
    """Hit@K per user ``[B]``: 1 if any of the top K is relevant."""
    return (_prep(hits, k).sum(1) > 0).to(torch.float64)


def mrr(hits: torch.Tensor, n_rel: torch.Tensor, k: int) -> torch.Tensor:
    """MRR@K per user ``[B]``: reciprocal rank of the first relevant item in the top K, else 0."""
    h = _prep(hits, k)
    ranks = torch.arange(1, h.shape[1] + 1, dtype=torch.float64, device=h.device)
    recip = h / ranks
    # first hit has the largest reciprocal rank among the hits
    return recip.max(dim=1).values if h.shape[1] else torch.zeros(h.shape[0], dtype=torch.float64)


def average_precision(hits: torch.Tensor, n_rel: torch.Tensor, k: int) -> torch.Tensor:
    """AP@K per user ``[B]``: mean of Precision@r at each hit rank r ≤ K, over min(K, |T_u|)."""
    h = _prep(hits, k)
    ranks = torch.arange(1, h.shape[1] + 1, dtype=torch.float64, device=h.device)
    prec_at_r = torch.cumsum(h, 1) / ranks
    return (prec_at_r * h).sum(1) / n_rel.to(torch.float64).clamp(min=1, max=k)


METRICS: dict[str, MetricFn] = {
    "recall": recall,
    "ndcg": ndcg,
    "precision": precision,
    "hit": hit,
    "mrr": mrr,
    "map": average_precision,
}


def compute(hits: torch.Tensor, n_rel: torch.Tensor, ks: Iterable[int],
            metrics: Iterable[str]) -> dict[str, torch.Tensor]:
    """Per-user values ``{"name@k": [B] float64}`` for every metric and cut-off."""
    return {f"{m}@{k}": METRICS[m](hits, n_rel, k) for m in metrics for k in ks}


def ranking_metrics(
    recommended: Sequence[Sequence[int]] | np.ndarray | torch.Tensor,
    relevant: Sequence[Iterable[int]] | Mapping[int, Iterable[int]],
    ks: Iterable[int] = (10, 20),
    metrics: Iterable[str] | None = None,
) -> dict[str, float]:
    """Score rankings produced anywhere.

    Args:
        recommended: per-user ranked item lists (best first), or a ``[U, K]`` array; lists may
            be shorter than K (missing ranks count as misses). Entries may be any hashable ids.
        relevant: per-user collections of relevant items, aligned with ``recommended`` (a
            sequence, or a mapping from row position to items).
        ks: cut-offs.
        metrics: names from recall, ndcg, precision, hit, mrr, map (default: all).

    Returns:
        ``{"recall@10": ..., ...}`` averaged over users with at least one relevant item.

    Raises:
        ValueError: on unknown metric names, non-positive K or misaligned inputs.

    Example:
        >>> ranking_metrics([[1, 2, 3]], [{3, 9}], ks=[3], metrics=["recall", "precision"])
        {'recall@3': 0.5, 'precision@3': 0.3333333333333333}
    """
    metrics = list(METRICS) if metrics is None else [m.lower() for m in metrics]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {list(METRICS)}")
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError("ks must contain positive integers")
    if isinstance(recommended, torch.Tensor):
        recommended = recommended.cpu().numpy()
    rec_rows = [list(r) for r in recommended]
    if isinstance(relevant, Mapping):
        rel_rows = [set(relevant.get(i, ())) for i in range(len(rec_rows))]
    else:
        rel_rows = [set(r) for r in relevant]
        if len(rel_rows) != len(rec_rows):
            raise ValueError(f"recommended has {len(rec_rows)} users but relevant has "
                             f"{len(rel_rows)}")
    kmax = ks[-1]
    keep = [i for i, r in enumerate(rel_rows) if r]
    hits = np.zeros((len(keep), kmax), dtype=np.float64)
    n_rel = np.zeros(len(keep), dtype=np.int64)
    for row, i in enumerate(keep):
        rel = rel_rows[i]
        n_rel[row] = len(rel)
        for r, item in enumerate(rec_rows[i][:kmax]):
            if item in rel:
                hits[row, r] = 1.0
    if not keep:
        return {f"{m}@{k}": 0.0 for m in metrics for k in ks}
    values = compute(torch.from_numpy(hits), torch.from_numpy(n_rel), ks, metrics)
    return {key: float(v.mean()) for key, v in values.items()}
