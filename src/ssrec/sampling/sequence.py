"""Batches and samplers for sequential models (token convention: item ``i`` is token ``i + 1``,
``0`` is padding; see :mod:`ssrec.data.sequence`).

**One epoch = every user with at least two training items once**, each user's (most recent
``max_len``) training sequence with a next-item target at **every** position. This is how
SASRec (Kang & McAuley, ICDM'18, Sec. III-E), BERT4Rec (Sun et al., CIKM'19, Sec. 3.6, one
cloze-masked copy of each sequence) and SELFRec train, and it covers every training position
once per epoch without materialising every prefix as its own sample: RecBole-style "prefix"
sampling (one sample per position, used by the DuoRec code) encodes ``Σ_u Σ_t min(t, L)``
tokens per epoch instead of ``Σ_u min(n_u, L)`` (7.6× more on amazon-beauty, 45× more on
ml-100k at ``L=50``), which the CPU budget of this project cannot afford.

Batches are right-padded and trimmed to the longest sequence of the batch (padding never
changes a result: attention masks keys at padding positions). With ``bucket_pool > 1`` users
are shuffled, cut into pools of ``bucket_pool`` batches, sorted by length inside each pool and
the resulting batches shuffled, so batches hold sequences of similar length and little padding
(the epoch still visits every user once; only which users share a batch changes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ssrec.data.dataset import InteractionData
from ssrec.data.sequence import PAD, Ragged, mask_token, windows
from ssrec.sampling.batches import SAMPLERS, Batch, Sampler
from ssrec.sampling.negatives import NegativeSampler


@dataclass(frozen=True)
class SeqBatch(Batch):
    """Next-item training sequences (tokens, right-padded).

    Attributes:
        users: ``int64 [B]`` user indices.
        seq: ``int64 [B, L]`` input tokens: the user's training items except the last, the
            most recent ``L`` of them.
        lengths: ``int64 [B]`` real tokens in each row (``>= 1``).
        pos: ``int64 [B, L]`` the next item's token at every position (``seq`` shifted by one:
            ``pos[b, t]`` follows ``seq[b, t]``); ``0`` at padding.
        neg: ``int64 [B, L, N]`` ``N`` sampled tokens per position that are not training items
            of the user (``N`` may be 0); ``0`` at padding.
        target: ``int64 [B]`` the token the last position predicts (``pos[b, lengths[b]-1]``).
    """

    users: torch.Tensor
    seq: torch.Tensor
    lengths: torch.Tensor
    pos: torch.Tensor
    neg: torch.Tensor
    target: torch.Tensor


@dataclass(frozen=True)
class SameTargetBatch(SeqBatch):
    """:class:`SeqBatch` plus, per row, another training sequence with the same target (DuoRec's
    supervised positive).

    Attributes:
        same_seq: ``int64 [B, L2]`` tokens of a training prefix (of any user) whose next item is
            ``target[b]``, other than row ``b`` itself; row ``b``'s own ``seq`` when no other
            one exists.
        same_lengths: ``int64 [B]``.
    """

    same_seq: torch.Tensor
    same_lengths: torch.Tensor


@dataclass(frozen=True)
class ClozeBatch(Batch):
    """Cloze-task sequences for BERT4Rec.

    Attributes:
        users: ``int64 [B]``.
        seq: ``int64 [B, L]`` the user's most recent ``L`` training items as tokens, some replaced
            by the mask token ``n_items + 1``.
        lengths: ``int64 [B]``.
        labels: ``int64 [B, L]`` the original token at every masked position, ``0`` elsewhere.
    """

    users: torch.Tensor
    seq: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor


class _UserSequenceSampler(Sampler):
    """Shared part: which users, in which batches (see the module docs)."""

    def __init__(self, data: InteractionData, batch_size: int, seed: int,
                 device: torch.device | str = "cpu", max_len: int = 50, bucket_pool: int = 1):
        super().__init__(data, batch_size, seed, device)
        if max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")
        if bucket_pool < 1:
            raise ValueError(f"bucket_pool must be >= 1, got {bucket_pool}")
        self.max_len = int(max_len)
        self.bucket_pool = int(bucket_pool)
        self.seqs = data.sequences.train
        self.row_len = self.seqs.lengths
        self._users = np.flatnonzero(self.row_len >= 2).astype(np.int64)

    def __len__(self) -> int:
        return -(-self._users.size // self.batch_size)

    def _batches(self) -> list[np.ndarray]:
        users = self._users[self.rng.permutation(self._users.size)]
        bs = self.batch_size
        if self.bucket_pool > 1:
            pool = bs * self.bucket_pool
            eff = np.minimum(self.row_len[users], self.max_len + 1)
            for start in range(0, users.size, pool):
                chunk = slice(start, start + pool)
                users[chunk] = users[chunk][np.argsort(eff[chunk], kind="stable")]
        batches = [users[s:s + bs] for s in range(0, users.size, bs)]
        if self.bucket_pool > 1:
            batches = [batches[i] for i in self.rng.permutation(len(batches))]
        return batches

    def _t(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(self.device)


@SAMPLERS.register("sequence")
class SequenceSampler(_UserSequenceSampler):
    """Every user's training sequence once per epoch, next-item targets at every position
    (SASRec-style; see the module docs).

    Args:
        data: the dataset (its ``train`` split, ordered by :attr:`InteractionData.sequences`).
        batch_size: users per batch.
        seed: seeds the sampler's generator.
        device: where batches are placed.
        max_len: ``L``, the most recent items kept per sequence (default 50).
        n_negatives: uniform negatives per position, never training items of the user
            (default 1, SASRec's binary cross-entropy; 0 for softmax losses).
        same_target: also draw, for every row, another training prefix with the same target
            (a :class:`SameTargetBatch`, DuoRec): uniform over all (user, position) pairs whose
            item is the row's target, excluding the row itself.
        bucket_pool: batches per length-sorting pool (1 = plain shuffle).

    Yields:
        :class:`SeqBatch` (or :class:`SameTargetBatch`).
    """

    kind = "sequence"

    def __init__(self, data: InteractionData, batch_size: int, seed: int,
                 device: torch.device | str = "cpu", max_len: int = 50, n_negatives: int = 1,
                 same_target: bool = False, bucket_pool: int = 1):
        super().__init__(data, batch_size, seed, device, max_len, bucket_pool)
        if n_negatives < 0:
            raise ValueError(f"n_negatives must be >= 0, got {n_negatives}")
        self.n_negatives = int(n_negatives)
        self.negatives = (NegativeSampler(data.train_csr, user_ids=data.users.raw_ids)
                          if n_negatives else None)
        self.same_target = bool(same_target)
        if same_target:
            # every training position p >= 1 (it has a non-empty prefix), grouped by its item
            flat_pos = np.arange(self.seqs.items.size, dtype=np.int64) - np.repeat(
                self.seqs.indptr[:-1], self.row_len)
            cand = np.flatnonzero(flat_pos >= 1)
            by_item = cand[np.argsort(self.seqs.items[cand], kind="stable")]
            self._cand = by_item  # flat indices sorted by item
            counts = np.bincount(self.seqs.items[by_item], minlength=data.n_items)
            self._gstart = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64)
            self._gsize = counts.astype(np.int64)
            self._rank = np.full(self.seqs.items.size, -1, dtype=np.int64)
            self._rank[by_item] = np.arange(by_item.size)
            self._row_of = np.repeat(np.arange(self.seqs.n_rows, dtype=np.int64), self.row_len)
            self._pos_of = flat_pos

    def _same_target(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        own = self.seqs.indptr[users + 1] - 1  # flat index of each row's target
        item = self.seqs.items[own]
        g, start = self._gsize[item], self._gstart[item]
        r = np.floor(self.rng.random(users.size) * np.maximum(g - 1, 1)).astype(np.int64)
        r = np.minimum(r, np.maximum(g - 2, 0))
        own_rank = self._rank[own] - start
        r = np.where(r >= own_rank, r + 1, r)  # skip the row itself
        pick = np.where(g > 1, self._cand[start + np.minimum(r, g - 1)], own)
        return windows(self.seqs, self._row_of[pick], self.max_len, ends=self._pos_of[pick])

    def epoch(self) -> Iterator[SeqBatch]:
        for users in self._batches():
            n = self.row_len[users]
            seq, lengths = windows(self.seqs, users, self.max_len, ends=n - 1)
            pos = _shift(self.seqs, users, lengths, seq.shape[1])
            real = seq != PAD
            neg = np.zeros((*seq.shape, self.n_negatives), dtype=np.int64)
            if self.negatives is not None:
                rows = np.repeat(users, real.sum(1))
                neg[real] = self.negatives.sample(rows, self.n_negatives, self.rng) + 1
            target = pos[np.arange(users.size), lengths - 1]
            fields = dict(users=self._t(users), seq=self._t(seq), lengths=self._t(lengths),
                          pos=self._t(pos), neg=self._t(neg), target=self._t(target))
            if self.same_target:
                ss, sl = self._same_target(users)
                yield SameTargetBatch(**fields, same_seq=self._t(ss), same_lengths=self._t(sl))
            else:
                yield SeqBatch(**fields)


def _shift(seqs: Ragged, users: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
    """Next-item tokens ``[B, width]`` aligned with input windows that end one item before
    their row's end: position ``t`` holds the item that follows ``seq[b, t]``."""
    n = seqs.indptr[users + 1] - seqs.indptr[users]
    start = seqs.indptr[users] + (n - 1) - lengths + 1  # flat index of pos[b, 0]
    col = np.arange(width, dtype=np.int64)
    real = col[None, :] < lengths[:, None]
    idx = np.where(real, start[:, None] + col[None, :], 0)
    return np.where(real, seqs.items[idx] + 1, PAD).astype(np.int64)


@SAMPLERS.register("cloze")
class ClozeSampler(_UserSequenceSampler):
    """BERT4Rec's cloze task: every user's most recent ``max_len`` training items once per epoch,
    each item replaced by the mask token with probability ``mask_prob`` (at least one per
    sequence); with probability ``last_prob`` a sequence has only its last item masked instead,
    matching the test-time input that ends in a mask (Sun et al., CIKM'19, Sec. 3.6).

    Args:
        data, batch_size, seed, device, max_len, bucket_pool: as :class:`SequenceSampler`.
        mask_prob: ρ, the share of items masked, in ``(0, 1)`` (default 0.2).
        last_prob: share of sequences with only the last item masked, in ``[0, 1]``
            (default 0.1, about one extra last-item copy per ten masked copies in the authors'
            data generation).

    Yields:
        :class:`ClozeBatch`.
    """

    kind = "cloze"

    def __init__(self, data: InteractionData, batch_size: int, seed: int,
                 device: torch.device | str = "cpu", max_len: int = 50, mask_prob: float = 0.2,
                 last_prob: float = 0.1, bucket_pool: int = 1):
        super().__init__(data, batch_size, seed, device, max_len, bucket_pool)
        if not 0.0 < mask_prob < 1.0:
            raise ValueError(f"mask_prob must be in (0, 1), got {mask_prob}")
        if not 0.0 <= last_prob <= 1.0:
            raise ValueError(f"last_prob must be in [0, 1], got {last_prob}")
        self.mask_prob = float(mask_prob)
        self.last_prob = float(last_prob)
        self.mask_token = mask_token(data.n_items)

    def epoch(self) -> Iterator[ClozeBatch]:
        for users in self._batches():
            seq, lengths = windows(self.seqs, users, self.max_len)
            b, width = seq.shape
            real = seq != PAD
            masked = (self.rng.random((b, width)) < self.mask_prob) & real
            # at least one masked item per sequence
            none = ~masked.any(1)
            pick = np.floor(self.rng.random(b) * lengths).astype(np.int64)
            masked[np.flatnonzero(none), pick[none]] = True
            last_only = self.rng.random(b) < self.last_prob
            masked[last_only] = False
            masked[np.flatnonzero(last_only), lengths[last_only] - 1] = True
            labels = np.where(masked, seq, PAD)
            seq = np.where(masked, self.mask_token, seq)
            yield ClozeBatch(users=self._t(users), seq=self._t(seq), lengths=self._t(lengths),
                             labels=self._t(labels))


__all__ = ["ClozeBatch", "ClozeSampler", "SameTargetBatch", "SeqBatch", "SequenceSampler"]
