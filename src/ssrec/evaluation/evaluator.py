"""Full-ranking evaluation in blocks of users."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import torch

from ssrec.evaluation import metrics as M

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData
    from ssrec.models.base import Recommender


class Evaluator:
    """Scores every item for every evaluated user and computes top-K metrics.

    For each block of ``block_size`` users that have at least one target in ``split``:
    ``model.score(users) -> [B, I]``; the user's training items (and, for the test split, the
    validation items) are set to ``-inf`` in place; one ``topk(max K)`` per block; the
    ``[B, K]`` hit matrix comes from a binary search of the top-K (user, item) keys in the
    sorted target keys; per-user metric values are stored and averaged once at the end (so
    block size never changes a result). Peak memory is one ``[block_size, I]`` score block,
    never ``O(U × I)``.

    Args:
        data: the dataset.
        split: ``"valid"`` or ``"test"``.
        ks: cut-offs (default 10, 20).
        metrics: metric names (default all of :data:`ssrec.evaluation.metrics.METRICS`).
        block_size: users per block (default 2048).
        mask_valid_in_test: also mask validation items when scoring test (default True).

    Raises:
        ValueError: unknown split or metric.
    """

    def __init__(self, data: InteractionData, split: str = "test", ks: Iterable[int] = (10, 20),
                 metrics: Iterable[str] | None = None, block_size: int = 2048,
                 mask_valid_in_test: bool = True):
        if split not in ("valid", "test"):
            raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
        self.data = data
        self.split = split
        self.ks = sorted({int(k) for k in ks})
        self.metrics = list(M.METRICS) if metrics is None else [m.lower() for m in metrics]
        bad = [m for m in self.metrics if m not in M.METRICS]
        if bad:
            raise ValueError(f"unknown metric(s) {bad}; known: {list(M.METRICS)}")
        self.block_size = int(block_size)
        self.targets: sp.csr_matrix = data.csr(split)
        mask = data.train_csr
        if split == "test" and mask_valid_in_test and len(data.valid):
            mask = (mask + data.valid_csr).tocsr()
            mask.data[:] = 1.0
        self.mask: sp.csr_matrix = mask
        n_t = np.diff(self.targets.indptr)
        self.users = np.flatnonzero(n_t > 0).astype(np.int64)
        self.n_targets = n_t[self.users]
        # sorted keys user * I + item of every target, for hit lookup by binary search
        rows = np.repeat(np.arange(self.targets.shape[0], dtype=np.int64), n_t)
        self._target_keys = torch.from_numpy(rows * data.n_items +
                                             self.targets.indices.astype(np.int64))

    @property
    def n_users(self) -> int:
        """Number of evaluated users (those with at least one target)."""
        return int(self.users.size)

    @staticmethod
    def _block_coords(m: sp.csr_matrix, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sub = m[users]
        rows = np.repeat(np.arange(users.size, dtype=np.int64), np.diff(sub.indptr))
        return rows, sub.indices.astype(np.int64)

    def _device(self, model: Recommender) -> torch.device:
        for t in model.parameters():
            return t.device
        for t in model.buffers():
            return t.device
        return torch.device("cpu")

    @torch.no_grad()
    def ranked_blocks(self, model: Recommender, k: int | None = None
                      ) -> Iterator[tuple[int, np.ndarray, torch.Tensor, torch.Tensor]]:
        """Yield ``(start, users [B], top [B, K], hits [B, K])`` per block of evaluated users:
        the top-``K`` item indices after masking, and whether each is a target."""
        device = self._device(model)
        kmax = k or self.ks[-1]
        was_training = model.training
        model.eval()
        model.on_eval_start(self.split)
        try:
            for start in range(0, self.n_users, self.block_size):
                users = self.users[start:start + self.block_size]
                scores = model.score(torch.from_numpy(users).to(device))  # [B, I]
                if scores.shape != (users.size, self.data.n_items):
                    raise RuntimeError(f"{type(model).__name__}.score returned shape "
                                       f"{tuple(scores.shape)}, expected "
                                       f"({users.size}, {self.data.n_items})")
                if scores.dtype != torch.float32:
                    scores = scores.float()
                elif scores._is_view() or not scores.is_contiguous():
                    scores = scores.clone()  # never write into a model's own tensor
                r, c = self._block_coords(self.mask, users)
                scores[torch.from_numpy(r).to(device), torch.from_numpy(c).to(device)] = -torch.inf
                top = torch.topk(scores, min(kmax, scores.shape[1]), dim=1).indices  # [B, K]
                del scores
                tu = torch.from_numpy(users).to(device)
                keys = tu.unsqueeze(1) * self.data.n_items + top  # [B, K]
                if self._target_keys.device != device:
                    self._target_keys = self._target_keys.to(device)
                tk = self._target_keys
                pos = torch.searchsorted(tk, keys).clamp_(max=max(tk.numel() - 1, 0))
                hits = tk[pos] == keys  # [B, K] bool
                if hits.shape[1] < kmax:
                    pad = torch.zeros(hits.shape[0], kmax - hits.shape[1], dtype=torch.bool,
                                      device=device)
                    hits = torch.cat([hits, pad], dim=1)
                yield start, users, top, hits
        finally:
            model.on_eval_end()
            model.train(was_training)

    def per_user(self, model: Recommender) -> dict[str, np.ndarray]:
        """Per-user metric values ``{"recall@20": float64 [n_users], ...}`` (users in
        :attr:`users` order)."""
        out = {f"{m}@{k}": np.zeros(self.n_users) for m in self.metrics for k in self.ks}
        for start, users, _, hits in self.ranked_blocks(model):
            n_rel = torch.from_numpy(self.n_targets[start:start + users.size]).to(hits.device)
            for key, v in M.compute(hits, n_rel, self.ks, self.metrics).items():
                out[key][start:start + users.size] = v.cpu().numpy()
        return out

    def evaluate(self, model: Recommender) -> dict[str, float]:
        """Mean of every metric over the evaluated users: ``{"recall@20": ..., ...}``."""
        if self.n_users == 0:
            return {}
        return {k: float(np.mean(v)) for k, v in self.per_user(model).items()}
