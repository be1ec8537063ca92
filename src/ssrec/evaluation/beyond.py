"""Beyond-accuracy metrics of the top-K recommendation lists.

Accuracy metrics (:mod:`ssrec.evaluation.metrics`) need only the hits of a list; these need the
listed items themselves and their **training popularity** ``pop_i`` (the number of training
interactions of item ``i``, :attr:`InteractionData.item_popularity`). ``L_u`` is user ``u``'s
top-K list, ``U`` the number of users of the training data, ``I`` the number of items.

Per user (averaged over the evaluated users like the accuracy metrics, and stored per user so
that paired tests apply):

* ``avgpop@K``  — average recommendation popularity, ARP (Abdollahpouri et al., FLAIRS 2019):
  ``Σ_{i∈L_u} pop_i / K``.
* ``tail@K``    — tail percentage, APLT (same paper): ``|L_u ∩ Tail| / K``, where **Tail** is
  every item outside the head, and the **head** is the ``ceil(0.2·I)`` most popular training
  items (the Pareto 80/20 cut; ties in popularity broken by the lower item index).
* ``novelty@K`` — mean self-information of the listed items (Zhou et al., PNAS 2010, "Solving
  the apparent diversity-accuracy dilemma", eq. for N(L)): ``Σ_{i∈L_u} log2(U / max(pop_i, 1))
  / K`` (an item without training interactions counts as seen once).

Catalogue level (one value per evaluation, from the lists of all evaluated users together):

* ``coverage@K`` — catalogue coverage (Ge, Delgado-Battenfeld & Jannach, RecSys 2010):
  ``|∪_u L_u| / I``.
* ``gini@K`` — Gini index of the items' exposure (Shani & Gunawardana, Recommender Systems
  Handbook 2011; RecBole's ``GiniIndex``): with ``c_i`` the number of lists item ``i`` appears
  in, sorted ascending ``c_(1) ≤ … ≤ c_(I)`` over **all** ``I`` items,
  ``G = Σ_j (2j − I − 1) c_(j) / (I Σ_j c_(j))``: 0 when every item is recommended equally
  often, near 1 when a few items fill every list.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch

#: per-user list metrics (averaged over users; per-user values kept)
USER_LIST_METRICS = ("avgpop", "tail", "novelty")
#: catalogue-level list metrics (one value per evaluation; no per-user values)
CATALOGUE_METRICS = ("coverage", "gini")
LIST_METRICS = USER_LIST_METRICS + CATALOGUE_METRICS
#: share of the items (the most popular ones) that form the head; the rest is the tail
HEAD_SHARE = 0.2


def head_mask(popularity: np.ndarray, head_share: float = HEAD_SHARE) -> np.ndarray:
    """``bool [I]``: True for the ``ceil(head_share · I)`` most popular items (ties broken by
    the lower item index). The tail of ``tail@K`` is its complement.

    Raises:
        ValueError: ``head_share`` outside ``[0, 1]``.
    """
    if not 0.0 <= head_share <= 1.0:
        raise ValueError(f"head_share must be in [0, 1], got {head_share}")
    pop = np.asarray(popularity)
    order = np.lexsort((np.arange(pop.size), -pop))  # popularity desc, then index asc
    head = np.zeros(pop.size, dtype=bool)
    head[order[:math.ceil(head_share * pop.size)]] = True
    return head


def avg_popularity(top: torch.Tensor, pop: torch.Tensor, k: int) -> torch.Tensor:
    """ARP@K per user ``[B]`` (float64): mean training popularity of the top ``k`` of
    ``top [B, K]`` (item indices); ``pop [I]`` the items' training interaction counts."""
    return pop.to(torch.float64)[top[:, :k]].mean(1)


def tail_share(top: torch.Tensor, tail: torch.Tensor, k: int) -> torch.Tensor:
    """APLT@K per user ``[B]`` (float64): share of the top ``k`` items that are in the tail
    (``tail [I]`` bool, see :func:`head_mask`)."""
    return tail[top[:, :k]].to(torch.float64).mean(1)


def novelty(top: torch.Tensor, pop: torch.Tensor, n_users: int, k: int) -> torch.Tensor:
    """Novelty@K per user ``[B]`` (float64): mean ``log2(n_users / max(pop_i, 1))`` over the
    top ``k`` items (Zhou et al., PNAS 2010)."""
    info = torch.log2(n_users / pop.to(torch.float64).clamp(min=1))
    return info[top[:, :k]].mean(1)


def coverage(counts: np.ndarray) -> float:
    """Catalogue coverage: share of the items that appear in at least one list, from the
    exposure counts ``counts [I]`` (lists each item appears in)."""
    counts = np.asarray(counts)
    return float((counts > 0).sum() / max(counts.size, 1))


def gini(counts: np.ndarray) -> float:
    """Gini index of the exposure counts ``counts [I]`` over all items (see module docs);
    0.0 when no item was recommended at all.

    Example:
        >>> gini(np.array([3, 0, 1, 0]))   # (−3·0 − 1·0 + 1·1 + 3·3) / (4 · 4)
        0.625
    """
    c = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = c.size, c.sum()
    if n == 0 or total == 0:
        return 0.0
    j = np.arange(1, n + 1, dtype=np.float64)
    return float(((2 * j - n - 1) * c).sum() / (n * total))


class ListMetrics:
    """Accumulates the list metrics over blocks of top-K lists.

    Args:
        popularity: ``int [I]`` training interaction counts of the items.
        n_users: ``U`` of the novelty's ``log2(U / pop_i)`` (the training data's users).
        ks: cut-offs.
        metrics: names from :data:`LIST_METRICS` (others are ignored, so an evaluator may pass
            its whole metric list).

    Use :meth:`update` per block (it returns the per-user values) and :meth:`catalogue` at the
    end.
    """

    def __init__(self, popularity: np.ndarray, n_users: int, ks: Iterable[int],
                 metrics: Iterable[str]):
        self.ks = sorted({int(k) for k in ks})
        metrics = list(metrics)
        self.user_metrics = [m for m in metrics if m in USER_LIST_METRICS]
        self.catalogue_metrics = [m for m in metrics if m in CATALOGUE_METRICS]
        self.n_users = int(n_users)
        self.pop = torch.as_tensor(np.asarray(popularity, dtype=np.float64))
        self.tail = torch.as_tensor(~head_mask(np.asarray(popularity)))
        self.counts = {k: np.zeros(self.pop.numel(), dtype=np.int64) for k in self.ks}

    @property
    def active(self) -> bool:
        """Whether any list metric is asked for."""
        return bool(self.user_metrics or self.catalogue_metrics)

    def update(self, top: torch.Tensor) -> dict[str, torch.Tensor]:
        """Add one block of lists ``top [B, K]`` (item indices, best first); returns the
        per-user values ``{"avgpop@20": float64 [B], ...}``."""
        if self.pop.device != top.device:
            self.pop, self.tail = self.pop.to(top.device), self.tail.to(top.device)
        out: dict[str, torch.Tensor] = {}
        for m in self.user_metrics:
            for k in self.ks:
                if m == "avgpop":
                    out[f"{m}@{k}"] = avg_popularity(top, self.pop, k)
                elif m == "tail":
                    out[f"{m}@{k}"] = tail_share(top, self.tail, k)
                else:
                    out[f"{m}@{k}"] = novelty(top, self.pop, self.n_users, k)
        if self.catalogue_metrics:
            flat = top.cpu().numpy()
            for k in self.ks:
                self.counts[k] += np.bincount(flat[:, :k].ravel(), minlength=self.pop.numel())
        return out

    def catalogue(self) -> dict[str, float]:
        """``{"coverage@20": ..., "gini@20": ...}`` over every list added so far."""
        fns = {"coverage": coverage, "gini": gini}
        return {f"{m}@{k}": fns[m](self.counts[k])
                for m in self.catalogue_metrics for k in self.ks}
