"""Behaviour-aware pairwise sampling for multi-behaviour models.

An epoch visits every training row of the **target** behaviour once (as the pairwise sampler
does); for the same users, every behaviour contributes one positive of its own and negatives
that are not positives **of that behaviour** (an item the user viewed is a fair negative for
the buy triple only if the user did not buy it, and vice versa). CML (Wei et al., WSDM 2022,
Sec. 3.4) and S-MBRec train on such per-behaviour triples; MB-CGCN and MBGCN use the target
row only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from ssrec.errors import ConfigError
from ssrec.sampling.batches import SAMPLERS, PairBatch, PairwiseSampler
from ssrec.sampling.negatives import NegativeSampler

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData


@dataclass(frozen=True)
class BehaviorPairBatch(PairBatch):
    """A :class:`~ssrec.sampling.PairBatch` of the target behaviour plus one triple per
    behaviour for the same users.

    Attributes:
        users, pos, neg, unique_users, unique_pos: the target behaviour's triples, as in
            :class:`~ssrec.sampling.PairBatch` (``users [B]``, ``pos [B]``, ``neg [B, N]``).
        beh_pos: ``int64 [K, B]``, a positive of behaviour ``k`` (in
            ``data.behaviors.names`` order) of each user; 0 where the user has none.
        beh_neg: ``int64 [K, B, N]``, items that are not positives of behaviour ``k`` for the
            user.
        beh_has: ``bool [K, B]``, whether the user has a positive in behaviour ``k`` (a
            triple with False is padding and must be ignored).
    """

    beh_pos: torch.Tensor | None = None
    beh_neg: torch.Tensor | None = None
    beh_has: torch.Tensor | None = None


@SAMPLERS.register("behavior_pairwise")
class BehaviorPairSampler(PairwiseSampler):
    """Every target-behaviour training row once per epoch (shuffled, with ``n_negatives``
    uniform negatives), plus for each behaviour ``k`` and each of the batch's users one
    uniformly drawn positive of ``k`` and ``n_negatives`` uniform items that are not positives
    of ``k`` for that user.

    The target behaviour's row of ``beh_*`` is drawn the same way (a second, independent buy
    triple), so every behaviour is sampled alike.

    Args:
        data: multi-behaviour data (``data.behaviors`` is set).
        batch_size, seed, device, n_negatives: as for
            :class:`~ssrec.sampling.PairwiseSampler`.

    Raises:
        ConfigError: ``data`` has a single behaviour.
    """

    kind = "behavior_pairwise"

    def __init__(self, data: InteractionData, batch_size: int, seed: int,
                 device: torch.device | str = "cpu", n_negatives: int = 1,
                 user_uniform: bool = False):
        mb = getattr(data, "behaviors", None)
        if mb is None:
            raise ConfigError(f"the behavior_pairwise sampler needs multi-behaviour data; "
                              f"{data.name!r} has one behaviour")
        super().__init__(data, batch_size, seed, device, n_negatives, user_uniform)
        self.names = mb.names
        ids = data.users.raw_ids
        # the target's own matrix is data.train_csr (validation rows removed), the same rows
        self._beh = []
        for b in mb.names:
            csr = mb.csr(b).tocsr()
            csr.sort_indices()
            self._beh.append((csr.indptr.astype(np.int64), csr.indices.astype(np.int64),
                              NegativeSampler(csr, user_ids=ids)))

    def draw_behavior(self, k: int, users: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One positive and ``n_negatives`` negatives of behaviour ``k`` per user.

        Args:
            k: behaviour position in ``data.behaviors.names``.
            users: ``int64 [B]``.

        Returns:
            ``(pos int64 [B], neg int64 [B, N], has bool [B])``; ``pos`` is 0 where ``has`` is
            False.
        """
        indptr, indices, negs = self._beh[k]
        deg = indptr[users + 1] - indptr[users]
        has = deg > 0
        off = np.zeros(users.size, dtype=np.int64)
        off[has] = self.rng.integers(0, deg[has])
        pos = np.where(has, indices[np.minimum(indptr[users] + off, indices.size - 1)], 0)
        return pos, negs.sample(users, self.n_negatives, self.rng), has

    def epoch(self) -> Iterator[BehaviorPairBatch]:
        dev = self.device
        for base in super().epoch():
            users = base.users.cpu().numpy()
            drawn = [self.draw_behavior(k, users) for k in range(len(self.names))]
            pos = torch.from_numpy(np.stack([d[0] for d in drawn])).to(dev)  # [K, B]
            neg = torch.from_numpy(np.stack([d[1] for d in drawn])).to(dev)  # [K, B, N]
            has = torch.from_numpy(np.stack([d[2] for d in drawn])).to(dev)  # [K, B]
            yield BehaviorPairBatch(base.users, base.pos, base.neg, base.unique_users,
                                    base.unique_pos, pos, neg, has)
