"""Simple sequential baselines: first-order item transitions and session-based kNN.

Both are fitted in closed form at build time from the training sequences
(:attr:`~ssrec.data.sequence.UserSequences.train`) and read, at evaluation, the same input as
the neural sequential models: the user's history before the target of the split being scored
(:meth:`~ssrec.data.sequence.UserSequences.history`; test: training + validation items). They
belong to the ``"sequential"`` family, so a run uses the sequential protocol (leave-one-out,
repeats kept, the history not masked) and their numbers sit in the same table as SASRec's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
import torch
from pydantic import Field

from ssrec.data.sequence import Ragged
from ssrec.models.base import ModelConfig, Recommender, register_model
from ssrec.models.layers import csr_buffers, csr_rows_dense, csr_rows_times, csr_tensor

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData


def _ragged_csr(hist: Ragged, n_items: int, linear: bool = False) -> sp.csr_matrix:
    """``[U, I]`` matrix of the items in each row of ``hist``: 1 per item (repeats counted
    once), or with ``linear`` the recency weight ``t / n`` of the item's latest position
    ``t = 1..n`` in its row of length ``n`` (1 for the latest item)."""
    lengths = hist.lengths
    rows = np.repeat(np.arange(hist.n_rows, dtype=np.int64), lengths)
    if linear:
        pos = np.arange(rows.size, dtype=np.int64) - np.repeat(hist.indptr[:-1], lengths) + 1
        w = (pos / np.repeat(np.maximum(lengths, 1), lengths)).astype(np.float32)
    else:
        w = np.ones(rows.size, dtype=np.float32)
    # the latest occurrence of a repeated item: unique (row, item) keys, last one kept
    key = rows * max(n_items, 1) + hist.items
    order = np.lexsort((np.arange(key.size), key))
    last = np.r_[key[order][1:] != key[order][:-1], True]
    keep = order[last]
    return sp.csr_matrix((w[keep], (rows[keep], hist.items[keep])),
                         shape=(hist.n_rows, n_items))


class _SequentialBaseline(Recommender):
    """Shared plumbing: the sequential family, nothing trained, the evaluation history."""

    family = "sequential"
    trainable = False
    exclude_seen_default: ClassVar[bool] = False

    def __init__(self, cfg: ModelConfig, data: InteractionData):
        super().__init__(cfg, data)
        self.sequences = data.sequences
        self._history: Ragged | None = None
        pop = torch.as_tensor(data.item_popularity, dtype=torch.float32)
        # popularity scaled into [0, 1): a tie-breaker below any count of 1 or more
        self.register_buffer("backfill", pop / (pop.max().clamp(min=0) + 1.0))  # [I]

    def on_eval_start(self, split: str) -> None:
        self._history = self.sequences.history(split)

    def on_eval_end(self) -> None:
        self._history = None

    def eval_history(self) -> Ragged:
        """The histories being scored (:meth:`on_eval_start`'s split; else the test input)."""
        return self._history if self._history is not None else self.sequences.history("test")


class TransitionConfig(ModelConfig):
    """The first-order transition baseline has no hyper-parameter."""


@register_model("Transition")
class Transition(_SequentialBaseline):
    """First-order item transitions (a first-order Markov chain over items): the score of item
    ``j`` for a user whose latest history item is ``i`` is the number of times ``j`` directly
    followed ``i`` in the training sequences, with popularity as the backfill:

    ``s(u, j) = C[i_u, j] + pop(j) / (max pop + 1)``,

    where ``C [I, I]`` counts the consecutive pairs ``(x_t, x_{t+1})`` of every user's training
    sequence (a repeated event counts as a pair ``(i, i)``) and ``pop`` the training
    interactions per item. Items that never followed ``i`` (and every item for a user without
    history) are ranked by popularity, below every observed successor; observed successors with
    equal counts are ordered by popularity.

    The "MC" / first-order baseline of the session-based recommendation comparisons (Ludewig &
    Jannach, "Evaluation of Session-based Recommendation Algorithms", UMUAI 2018; Ludewig et
    al., "Empirical Analysis of Session-Based Recommendation Algorithms", UMUAI 2021).

    Nothing is trained: ``C`` is built at construction and kept as CSR buffers (at most one
    entry per training transition). Shapes: ``score(users [B]) -> [B, I]``.
    """

    Config = TransitionConfig
    paper = ("Ludewig & Jannach, Evaluation of Session-based Recommendation Algorithms, "
             "UMUAI 2018 (first-order Markov chain baseline)")

    def __init__(self, cfg: TransitionConfig, data: InteractionData):
        super().__init__(cfg, data)
        seq = self.sequences.train
        items, indptr = seq.items, seq.indptr
        nxt = np.ones(items.size, dtype=bool)  # position t has a successor in its row
        nxt[np.maximum(indptr[1:] - 1, 0)[seq.lengths > 0]] = False
        src = items[nxt]
        dst = items[np.flatnonzero(nxt) + 1]
        counts = sp.csr_matrix((np.ones(src.size, dtype=np.float32), (src, dst)),
                               shape=(self.n_items, self.n_items))
        counts.sum_duplicates()
        for name, t in zip(("trans_crow", "trans_col", "trans_val"), csr_buffers(counts)):
            self.register_buffer(name, t)  # C [I, I]

    def score(self, users: torch.Tensor) -> torch.Tensor:
        hist = self.eval_history()
        u = users.detach().cpu().numpy()
        n = hist.lengths[u]
        last = (np.where(n > 0, hist.items[np.maximum(hist.indptr[u + 1] - 1, 0)], -1)
                if hist.items.size else np.full(u.size, -1))  # latest item, -1: no history
        last_t = torch.as_tensor(last, device=self.backfill.device)
        has = last_t >= 0
        out = self.backfill.unsqueeze(0).repeat(users.shape[0], 1)  # [B, I]
        if bool(has.any()):
            rows = csr_rows_dense(self.trans_crow, self.trans_col, self.trans_val,
                                  last_t[has], self.n_items)  # [B', I]
            out[has] += rows
        return out


class SKNNConfig(ModelConfig):
    """Attributes:
        k: neighbour sequences kept per query (100, the setting of Ludewig et al. and of
            Jannach & Ludewig's session-kNN).
        query_weights: ``"linear"`` (default: the item at position ``t`` of an ``n``-item
            history counts ``t / n``, the latest 1: the linear decay of V-SKNN, Ludewig &
            Jannach, UMUAI 2018) or ``"uniform"`` (every history item counts 1: plain SKNN).
            Chosen on amazon-beauty's validation split (leave-one-out, full ranking, ``k``
            100): HR@10 / NDCG@10 0.0696 / 0.0269 with ``"linear"`` against 0.0586 / 0.0218
            with ``"uniform"`` (test 0.0503 / 0.0187 against 0.0385 / 0.0139).
    """

    k: int = Field(100, ge=1)
    query_weights: Literal["uniform", "linear"] = "linear"


@register_model("SKNN")
class SKNN(_SequentialBaseline):
    """Session-based k-nearest neighbours over whole sequences: the user's history (the
    query) is compared with every other user's training sequence as a set of items, and an item
    scores the summed similarity of the ``k`` most similar sequences that contain it:

    ``a(u, j) = Σ_{n ∈ N_k(u)} sim(u, n) · 1[j ∈ S_n]``,
    ``sim(u, n) = |H_u ∩ S_n| / sqrt(|H_u| · |S_n|)`` (cosine of binary item vectors),

    where ``H_u`` is the user's history for the split scored, ``S_n`` the training sequence
    of user ``n ≠ u`` (the user's own training sequence, a subset of its history, is not a
    neighbour) and ``N_k(u)`` the ``k`` most similar ones. With ``query_weights="linear"``
    (V-SKNN) the intersection ``|H_u ∩ S_n|`` becomes ``Σ_{i ∈ H_u ∩ S_n} w_i`` with ``w_i``
    the recency weight of history item ``i`` (see :class:`SKNNConfig`); ``|H_u|`` stays the
    number of distinct history items. Popularity backfills the rest:
    ``s(u, j) = 1 + a(u, j)`` where ``a(u, j) > 0``, else ``pop(j) / (max pop + 1)`` (< 1), so
    every item a neighbour holds ranks above every other item.

    Jannach & Ludewig, "When Recurrent Neural Networks meet the Neighborhood for Session-Based
    Recommendation", RecSys 2017 (SKNN, Sec. 2.2); here without the sampling of recent
    sessions (every training sequence is a candidate neighbour).

    Nothing is trained: the binary ``[U, I]`` training matrix and its transpose are kept as CSR
    buffers. Scoring a block of ``B`` users computes their similarities to every sequence in
    sub-blocks of :attr:`SUB_BLOCK` rows (a dense ``[SUB_BLOCK, U]`` block, then top-``k``) and
    one sparse-dense product ``Sᵀ W`` for the scores. Shapes: ``score(users [B]) -> [B, I]``.
    Config: ``k`` 100, ``query_weights`` ``"linear"``.
    """

    Config = SKNNConfig
    paper = ("Jannach & Ludewig, When Recurrent Neural Networks meet the Neighborhood for "
             "Session-Based Recommendation, RecSys 2017")
    SUB_BLOCK: ClassVar[int] = 256

    def __init__(self, cfg: SKNNConfig, data: InteractionData):
        super().__init__(cfg, data)
        s = _ragged_csr(self.sequences.train, self.n_items)  # [U, I] binary
        size = np.asarray(s.sum(axis=1), dtype=np.float32).ravel()
        for name, t in zip(("seq_crow", "seq_col", "seq_val"), csr_buffers(s.T)):
            self.register_buffer(name, t)  # Sᵀ [I, U]
        self.register_buffer("seq_size", torch.from_numpy(size))  # |S_n| [U]
        self._query: tuple[torch.Tensor, ...] | None = None

    def on_eval_start(self, split: str) -> None:
        super().on_eval_start(split)
        self._query = None

    def _queries(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """CSR arrays of the binary ``[U, I]`` history matrix being scored (cached per split)."""
        if self._query is None:
            q = tuple(t.to(self.seq_size.device)
                      for t in csr_buffers(_ragged_csr(
                          self.eval_history(), self.n_items,
                          linear=self.cfg.query_weights == "linear")))
            if self._history is None:
                return q  # type: ignore[return-value]
            self._query = q
        return self._query  # type: ignore[return-value]

    def on_eval_end(self) -> None:
        super().on_eval_end()
        self._query = None

    def score(self, users: torch.Tensor) -> torch.Tensor:
        qc, qi, qv = self._queries()
        st = csr_tensor(self.seq_crow, self.seq_col, self.seq_val,
                        (self.n_items, self.n_users))  # Sᵀ [I, U]
        out = torch.empty(users.shape[0], self.n_items, device=self.backfill.device)  # [B, I]
        k = min(self.cfg.k, max(self.n_users - 1, 1))
        for a in range(0, users.shape[0], self.SUB_BLOCK):
            ub = users[a:a + self.SUB_BLOCK]
            inter = csr_rows_times(qc, qi, qv, ub, st)  # |H_u ∩ S_n| [b, U]
            hsize = (qc[ub + 1] - qc[ub]).to(inter.dtype)  # |H_u| [b]
            denom = (hsize.unsqueeze(1) * self.seq_size.unsqueeze(0)).sqrt_().clamp_(min=1e-12)
            sim = inter.div_(denom)  # [b, U]
            sim[torch.arange(ub.shape[0], device=sim.device), ub] = 0.0  # not one's own sequence
            val, idx = sim.topk(k, dim=1)  # [b, k]
            w = torch.zeros_like(sim).scatter_(1, idx, val)  # [b, U], k non-zeros per row
            agg = torch.sparse.mm(st, w.T).T  # a(u, j) [b, I]
            out[a:a + ub.shape[0]] = torch.where(agg > 0, agg + 1.0, self.backfill)
        return out
