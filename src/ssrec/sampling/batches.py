"""Mini-batch containers and the samplers that produce them, one epoch at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np
import torch

from ssrec.data.dataset import InteractionData
from ssrec.registry import Registry
from ssrec.sampling.negatives import NegativeSampler
from ssrec.utils.arrays import unique


@dataclass(frozen=True)
class Batch:
    """Base of all batch containers: every field is a tensor, moved together by :meth:`to`."""

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=non_blocking)

        return type(self)(**{f.name: move(getattr(self, f.name)) for f in fields(self)})

    #: fields that describe the whole batch rather than one row each (recomputed, or left
    #: ``None``, in a slice of rows)
    batch_fields: ClassVar[tuple[str, ...]] = ()

    def __len__(self) -> int:
        return int(getattr(self, fields(self)[0].name).shape[0])

    def rows(self, start: int, stop: int) -> Batch:
        """Rows ``start:stop`` of every per-row field (views, no copy); the
        :attr:`batch_fields` become ``None``."""
        def cut(f: str) -> torch.Tensor | None:
            t = getattr(self, f)
            return None if t is None or f in self.batch_fields else t[start:stop]

        return type(self)(**{f.name: cut(f.name) for f in fields(self)})


def shard_batch(batch: Batch, rank: int, world: int) -> tuple[Batch, float]:
    """Rank ``rank``'s share of a global batch under data parallelism, and its loss weight.

    The ``B`` rows are cut into ``world`` contiguous slices of ``B // world`` or
    ``B // world + 1`` rows. The weight ``n_rank * world / B`` makes the average over ranks of
    the weighted per-rank mean losses (what DistributedDataParallel's gradient averaging
    computes) equal the mean loss of the whole batch, so a loss that averages over rows gets
    the single-process gradient even for a last batch that does not split evenly. A rank whose
    slice is empty (``B < world``) gets row 0 with weight 0: it must still take part in the
    gradient all-reduce.

    Args:
        batch: the global batch ``[B, ...]`` (the same on every rank).
        rank: this process's rank, ``0 <= rank < world``.
        world: number of processes.

    Returns:
        ``(shard, weight)``.
    """
    n = len(batch)
    start, stop = n * rank // world, n * (rank + 1) // world
    if stop > start:
        return batch.rows(start, stop), (stop - start) * world / n
    return batch.rows(0, 1), 0.0


@dataclass(frozen=True)
class PairBatch(Batch):
    """Training triples for pairwise (BPR-style) losses.

    Attributes:
        users: ``int64 [B]`` user indices.
        pos: ``int64 [B]`` a training item of each user.
        neg: ``int64 [B, N]`` ``N`` sampled items that are not training items of the user.
        unique_users: ``int64 [B_u]`` the distinct users of the batch, sorted (computed by the
            sampler ahead of time, so contrastive losses need no ``torch.unique``, which would
            synchronise a GPU inside the batch loop); ``None`` → use :meth:`distinct_users`.
        unique_pos: ``int64 [B_i]`` the distinct positive items, sorted.
    """

    users: torch.Tensor
    pos: torch.Tensor
    neg: torch.Tensor
    unique_users: torch.Tensor | None = None
    unique_pos: torch.Tensor | None = None

    batch_fields: ClassVar[tuple[str, ...]] = ("unique_users", "unique_pos")

    def distinct_users(self) -> torch.Tensor:
        """Sorted distinct users of the batch ``[B_u]``."""
        return self.unique_users if self.unique_users is not None else torch.unique(self.users)

    def distinct_pos(self) -> torch.Tensor:
        """Sorted distinct positive items of the batch ``[B_i]``."""
        return self.unique_pos if self.unique_pos is not None else torch.unique(self.pos)


class Sampler:
    """Produces the mini-batches of one epoch. Subclasses register under a ``kind`` name that
    models request through ``Recommender.batch_kind``.

    The sampler owns its own :class:`numpy.random.Generator`, whose state is part of
    :meth:`state_dict` (for exact resume).
    """

    kind: ClassVar[str] = ""

    def __init__(self, data: InteractionData, batch_size: int, seed: int,
                 device: torch.device | str = "cpu", **options: Any):
        self.data = data
        self.batch_size = int(batch_size)
        self.device = torch.device(device)
        self.rng = np.random.default_rng([seed, 101])

    def __len__(self) -> int:  # batches per epoch
        raise NotImplementedError

    def epoch(self) -> Iterator[Batch]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


SAMPLERS: Registry[type[Sampler]] = Registry("sampler")


@SAMPLERS.register("pairwise")
class PairwiseSampler(Sampler):
    """Every training interaction once per epoch, shuffled, each with ``n_negatives`` uniform
    negatives (never a training item of that user). With ``user_uniform``, the epoch instead
    holds as many triples as training interactions, each from a uniformly drawn user (with
    replacement) and one of that user's items drawn uniformly: LightGCN-PyTorch's
    ``UniformSample_original`` (users without training items are never drawn).

    The whole epoch is sampled up front with vectorised NumPy, moved to the device once, and
    sliced into batches, so the training step never waits on Python sampling code.

    Args:
        data: the dataset (its ``train`` split is used).
        batch_size: triples per batch (the last batch may be smaller).
        seed: seeds the sampler's generator.
        device: where batches are placed.
        n_negatives: negatives per triple (default 1).
        user_uniform: draw users uniformly instead of visiting every interaction (default
            False).
    """

    kind = "pairwise"

    def __init__(self, data: InteractionData, batch_size: int, seed: int,
                 device: torch.device | str = "cpu", n_negatives: int = 1,
                 user_uniform: bool = False):
        super().__init__(data, batch_size, seed, device)
        if n_negatives < 1:
            raise ValueError(f"n_negatives must be >= 1, got {n_negatives}")
        self.n_negatives = int(n_negatives)
        self.user_uniform = bool(user_uniform)
        self.negatives = NegativeSampler(data.train_csr, user_ids=data.users.raw_ids)
        self._users = data.train.user
        self._items = data.train.item
        csr = data.train_csr
        self._indptr, self._indices = csr.indptr.astype(np.int64), csr.indices.astype(np.int64)
        self._active = np.flatnonzero(np.diff(self._indptr) > 0)
        # the training rows in user order (once), so that each epoch's negative check can run
        # in user order (NegativeSampler.is_positive)
        u = self._users
        self._by_user = None if u.size < 2 or bool((u[1:] >= u[:-1]).all()) \
            else np.argsort(u, kind="stable")

    def __len__(self) -> int:
        return -(-self._users.size // self.batch_size)

    def epoch(self) -> Iterator[PairBatch]:
        if self.user_uniform:
            users = self._active[self.rng.integers(0, self._active.size, self._users.size)]
            start, deg = self._indptr[users], np.diff(self._indptr)[users]
            pos = self._indices[start + self.rng.integers(0, deg)]  # one item per user, uniform
            order = None
        else:
            perm = self.rng.permutation(self._users.size)
            users = self._users[perm]
            pos = self._items[perm]
            inv = np.empty_like(perm)
            inv[perm] = np.arange(perm.size)
            # users[order] is sorted: the rows in user order, found in this epoch's order
            order = inv if self._by_user is None else inv[self._by_user]
        neg = self.negatives.sample(users, self.n_negatives, self.rng, order)
        dev = self.device
        tu = torch.from_numpy(users).to(dev)
        tp = torch.from_numpy(pos).to(dev)
        tn = torch.from_numpy(neg).to(dev)
        bs = self.batch_size
        starts = range(0, users.size, bs)
        # distinct users / items per batch, computed here and moved in one transfer
        uu = [unique(users[s:s + bs]) for s in starts]  # by sorting: see ssrec.utils.arrays
        up = [unique(pos[s:s + bs]) for s in starts]
        u_off = np.cumsum([0] + [a.size for a in uu])
        p_off = np.cumsum([0] + [a.size for a in up])
        tuu = torch.from_numpy(np.concatenate(uu)).to(dev)
        tup = torch.from_numpy(np.concatenate(up)).to(dev)
        for b, start in enumerate(starts):
            yield PairBatch(tu[start:start + bs], tp[start:start + bs], tn[start:start + bs],
                            tuu[u_off[b]:u_off[b + 1]], tup[p_off[b]:p_off[b + 1]])


def make_sampler(kind: str, data: InteractionData, batch_size: int, seed: int,
                 device: torch.device | str = "cpu", **options: Any) -> Sampler:
    """Build the registered sampler ``kind`` (see :data:`SAMPLERS`)."""
    return SAMPLERS.get(kind)(data, batch_size, seed, device, **options)
