"""Full-ranking (default) and sampled-ranking evaluation in blocks of users."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch

import ssrec.evaluation.metrics as M
from ssrec.evaluation.beyond import LIST_METRICS, ListMetrics
from ssrec.models.base import Recommender
from ssrec.utils import distributed
from ssrec.utils.perf import release_free_memory

if TYPE_CHECKING:
    from ssrec.config import EvalConfig
    from ssrec.data.dataset import InteractionData


def resolve_exclude_seen(cfg: EvalConfig, model: Recommender | type[Recommender] | None) -> bool:
    """``cfg.exclude_seen``, or the model's family default when it is ``None``."""
    if cfg.exclude_seen is not None:
        return bool(cfg.exclude_seen)
    return True if model is None else bool(model.exclude_seen_default)


class Evaluator:
    """Ranks items for every evaluated user and computes top-K metrics.

    **Full ranking** (default). For each block of ``block_size`` users that have at least one
    target in ``split``: ``model.score(users) -> [B, I]``; with ``exclude_seen`` the user's
    training items (and, for the test split, the validation items) are set to ``-inf`` in place;
    one ``topk(max K)`` per block; the ``[B, K]`` hit matrix comes from a binary search of the
    top-K (user, item) keys in the sorted target keys; per-user metric values are stored and
    averaged once at the end (so block size never changes a result). Peak memory is one
    ``[block_size, I]`` score block, never ``O(U × I)``.

    **Distributed** (a process group of ``W`` > 1 ranks): :meth:`scores` ranks block ``b``
    (users ``b * block_size`` onwards) on rank ``b mod W`` only, and the per-user values and
    top-K lists are summed over ranks into arrays where each user was written by exactly one
    rank (a sum with zeros is exact), so every rank returns the single-process values bit for
    bit: each block is scored with the same users, shapes and kernels as in one process.
    Each rank still runs ``model.on_eval_start`` (e.g. a full graph propagation) in full.

    **Sampled ranking** (``ranking="sampled"``). Each evaluated user's targets are ranked
    against ``n_negatives`` items drawn once, at construction, without replacement from the items
    the user never interacted with in any split: uniformly or in proportion to training
    popularity (``negatives="popularity"``), seeded by ``seed`` and the split, independent of
    the block size. A negative tied with a target ranks above it (a stable sort with negatives
    first), so ties never help. Published sequential results (SASRec: 100 uniform negatives;
    BERT4Rec: 100 popularity-sampled negatives) use this protocol; its numbers are not
    comparable with full ranking.

    Args:
        data: the dataset.
        split: ``"valid"`` or ``"test"``.
        ks: cut-offs (default 10, 20).
        metrics: metric names: the accuracy metrics of :data:`ssrec.evaluation.metrics.METRICS`
            (default: all of them) and the list metrics of
            :data:`ssrec.evaluation.beyond.LIST_METRICS` (coverage, gini, avgpop, tail,
            novelty; full ranking only).
        block_size: users per block (default 2048).
        mask_valid_in_test: with ``exclude_seen``, also mask validation items when scoring test
            (default True).
        exclude_seen: remove the items of the user's history (training items, plus validation
            items when testing) from the ranking (default True; sequential papers keep them).
        ranking: ``"full"`` (default) or ``"sampled"``.
        n_negatives: negatives per user for sampled ranking (default 100).
        negatives: ``"uniform"`` (default) or ``"popularity"``.
        seed: seeds the sampled negatives.

    Raises:
        ValueError: unknown split, metric, ranking or negatives kind, ``n_negatives < 1``, or
            list metrics with sampled ranking.
    """

    def __init__(self, data: InteractionData, split: str = "test", ks: Iterable[int] = (10, 20),
                 metrics: Iterable[str] | None = None, block_size: int = 2048,
                 mask_valid_in_test: bool = True, exclude_seen: bool = True,
                 ranking: str = "full", n_negatives: int = 100, negatives: str = "uniform",
                 seed: int = 2020):
        if split not in ("valid", "test"):
            raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
        if ranking not in ("full", "sampled"):
            raise ValueError(f"ranking must be 'full' or 'sampled', got {ranking!r}")
        if negatives not in ("uniform", "popularity"):
            raise ValueError(f"negatives must be 'uniform' or 'popularity', got {negatives!r}")
        if n_negatives < 1:
            raise ValueError(f"n_negatives must be >= 1, got {n_negatives}")
        self.data = data
        self.split = split
        self.ks = sorted({int(k) for k in ks})
        self.metrics = list(M.METRICS) if metrics is None else [m.lower() for m in metrics]
        bad = [m for m in self.metrics if m not in M.METRICS and m not in LIST_METRICS]
        if bad:
            raise ValueError(f"unknown metric(s) {bad}; known: {list(M.METRICS)} and the list "
                             f"metrics {list(LIST_METRICS)}")
        listed = [m for m in self.metrics if m in LIST_METRICS]
        if listed and ranking == "sampled":
            raise ValueError(f"list metrics {listed} describe full-ranking top-K lists; sampled "
                             "ranking lists only a user's sampled candidates")
        self.block_size = int(block_size)
        self.exclude_seen = bool(exclude_seen)
        self.mask_valid_in_test = bool(mask_valid_in_test)
        self.ranking = ranking
        self.n_negatives = int(n_negatives)
        self.negatives_kind = negatives
        self.seed = int(seed)
        self.targets: sp.csr_matrix = data.csr(split)
        if not exclude_seen:
            mask = sp.csr_matrix((data.n_users, data.n_items), dtype=np.float32)
        else:
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
        self.negatives: np.ndarray | None = None
        if ranking == "sampled":
            self.negatives = self._sample_negatives()

    @classmethod
    def from_config(cls, data: InteractionData, split: str, cfg: EvalConfig,
                    model: Recommender | None = None, seed: int = 2020) -> Evaluator:
        """An evaluator with the settings of an :class:`~ssrec.config.EvalConfig`;
        ``cfg.exclude_seen=None`` takes ``model.exclude_seen_default`` (True without a model)."""
        return cls(data, split, cfg.ks, cfg.metrics, cfg.block_size,
                   mask_valid_in_test=cfg.mask_valid_in_test,
                   exclude_seen=resolve_exclude_seen(cfg, model), ranking=cfg.ranking,
                   n_negatives=cfg.n_negatives, negatives=cfg.negatives, seed=seed)

    def describe(self) -> dict[str, Any]:
        """The protocol of this evaluator (for ``results.json``)."""
        if self.ranking == "sampled":
            masked = ("n/a (sampled ranking: the candidates are the targets and negatives drawn "
                      "outside the user's train, valid and test items; exclude_seen has no "
                      "effect)")
        elif self.exclude_seen:
            masked = "train"
            if self.split == "test" and len(self.data.valid):
                masked = ("train + valid" if self.mask_valid_in_test else
                          "train (validation items stay candidates)")
        else:
            masked = "none (items of the user's history may be recommended)"
        mb = getattr(self.data, "behaviors", None)
        if mb is not None and self.ranking != "sampled" and self.exclude_seen:
            # the mask is built from ``data.train``/``valid``: the target behaviour's rows only
            masked += (f" of the {mb.target} behaviour only; the user's "
                       f"{', '.join(mb.auxiliary)} items stay candidates")
        out: dict[str, Any] = {"ranking": self.ranking, "exclude_seen": self.exclude_seen,
                               "masked_items": masked}
        if mb is not None:
            out["behaviors"] = {"target": mb.target,
                                "masked": [mb.target] if self.exclude_seen else [],
                                "not_masked": list(mb.auxiliary)}
        if self.ranking == "sampled":
            out["sampled_negatives"] = {
                "per_user": self.n_negatives, "distribution": self.negatives_kind,
                "excluded": "every item of the user in train, valid and test",
                "seed": self.seed, "ties": "a negative tied with a target ranks above it"}
        return out

    _CHUNK = 512  # users per chunk when drawing negatives (fixed: results never depend on it)

    def _sample_negatives(self) -> np.ndarray:
        """``int64 [n_users, N]`` negatives per evaluated user (``-1`` where the user has fewer
        than ``N`` items left), drawn without replacement by Gumbel-top-N."""
        d = self.data
        seen = (d.train_csr + d.valid_csr + d.test_csr).tocsr()
        n_items, n = d.n_items, self.n_negatives
        if self.negatives_kind == "popularity":
            with np.errstate(divide="ignore"):
                logp = np.log(d.item_popularity.astype(np.float64))
        else:
            logp = np.zeros(n_items)
        rng = np.random.default_rng([self.seed, 31, 0 if self.split == "valid" else 1])
        out = np.full((self.users.size, n), -1, dtype=np.int64)
        take = min(n, n_items)
        for start in range(0, self.users.size, self._CHUNK):
            users = self.users[start:start + self._CHUNK]
            u = rng.random((users.size, n_items))
            keys = logp[None, :] - np.log(-np.log(np.clip(u, 1e-300, 1.0)))
            r, c = self._block_coords(seen, users)
            keys[r, c] = -np.inf
            part = np.argpartition(-keys, take - 1, axis=1)[:, :take]  # the N largest keys
            ok = np.isfinite(np.take_along_axis(keys, part, axis=1))
            part = np.where(ok, part, -1)
            out[start:start + users.size, :take] = np.sort(part, axis=1)
        return out

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
    def ranked_blocks(self, model: Recommender, k: int | None = None,
                      shard: tuple[int, int] = (0, 1)
                      ) -> Iterator[tuple[int, np.ndarray, torch.Tensor, torch.Tensor]]:
        """Yield ``(start, users [B], top [B, K], hits [B, K])`` per block of evaluated users:
        the top-``K`` item indices after masking, and whether each is a target.

        Args:
            model: the model to rank with.
            k: list length (default: the largest configured K).
            shard: ``(rank, world)``: yield only the blocks ``b`` with ``b % world == rank``
                (default ``(0, 1)``: every block).
        """
        rank, world = shard
        device = self._device(model)
        kmax = k or self.ks[-1]
        was_training = model.training
        release_free_memory()  # training's freed temporaries do not add to the score blocks
        model.eval()
        model.on_eval_start(self.split)
        # one score buffer for every block, for the models that write into it: a block allocated
        # afresh each time fragments the heap (small allocations land in the freed block), so
        # memory grew with the number of blocks
        writes = type(model).score_into is not Recommender.score_into
        buf = torch.empty(min(self.block_size, max(self.n_users, 1)), self.data.n_items,
                          device=device) if writes else None
        try:
            for start in range(0, self.n_users, self.block_size):
                if (start // self.block_size) % world != rank:
                    continue
                users = self.users[start:start + self.block_size]
                u = torch.from_numpy(users).to(device)
                scores = model.score_into(u, None if buf is None else buf[:users.size])
                owned = (buf is not None and scores.data_ptr() == buf.data_ptr()
                         and scores.is_contiguous())  # [B, I] in the evaluator's buffer
                if scores.shape != (users.size, self.data.n_items):
                    raise RuntimeError(f"{type(model).__name__}.score returned shape "
                                       f"{tuple(scores.shape)}, expected "
                                       f"({users.size}, {self.data.n_items})")
                if self.negatives is not None:
                    top, hits = self._sampled_block(scores, start, users, kmax, device)
                else:
                    top, hits = self._full_block(scores, users, kmax, device, owned)
                del scores  # a model's own block is freed before the next one is scored
                if hits.shape[1] < kmax:
                    pad = torch.zeros(hits.shape[0], kmax - hits.shape[1], dtype=torch.bool,
                                      device=device)
                    hits = torch.cat([hits, pad], dim=1)
                yield start, users, top, hits
        finally:
            model.on_eval_end()
            model.train(was_training)

    def _full_block(self, scores: torch.Tensor, users: np.ndarray, kmax: int,
                    device: torch.device, owned: bool = False
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask (in place on the evaluator's buffer or a private copy), ``topk``, hits by binary
        search of the keys."""
        if scores.dtype != torch.float32:
            scores = scores.float()
        elif not owned and (scores._is_view() or not scores.is_contiguous()):
            scores = scores.clone()  # never write into a model's own tensor
        if self.mask.nnz:
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
        return top, tk[pos] == keys  # [B, K], [B, K] bool

    def _sampled_block(self, scores: torch.Tensor, start: int, users: np.ndarray, kmax: int,
                       device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Rank ``[negatives | targets]`` per user by score; negatives first break ties."""
        assert self.negatives is not None
        neg = self.negatives[start:start + users.size]  # [B, N]
        sub = self.targets[users]
        n_t = np.diff(sub.indptr)
        width = int(n_t.max(initial=0))
        tgt = np.full((users.size, width), -1, dtype=np.int64)
        rows = np.repeat(np.arange(users.size), n_t)
        tgt[rows, np.arange(sub.indices.size) - np.repeat(sub.indptr[:-1], n_t)] = sub.indices
        cand = torch.from_numpy(np.concatenate([neg, tgt], axis=1)).to(device)  # [B, C]
        is_target = torch.zeros(cand.shape, dtype=torch.bool, device=device)
        is_target[:, neg.shape[1]:] = cand[:, neg.shape[1]:] >= 0
        valid = cand >= 0
        s = scores.float().gather(1, cand.clamp(min=0)).masked_fill(~valid, -torch.inf)
        order = torch.sort(s, dim=1, descending=True, stable=True).indices[:, :kmax]  # [B, K]
        top = cand.gather(1, order)
        hits = is_target.gather(1, order) & valid.gather(1, order)
        return top, hits

    def scores(self, model: Recommender) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Rank once and compute every configured metric.

        Returns:
            ``(per_user, catalogue)``: per-user values ``{"recall@20": float64 [n_users], ...}``
            (users in :attr:`users` order) of the accuracy metrics and the per-user list
            metrics, and the catalogue-level values ``{"coverage@20": ..., "gini@20": ...}``.
        """
        accuracy = [m for m in self.metrics if m in M.METRICS]
        lists = ListMetrics(self.data.item_popularity, self.data.n_users, self.ks,
                            self.metrics)
        out = {f"{m}@{k}": np.zeros(self.n_users) for m in self.metrics for k in self.ks
               if m not in lists.catalogue_metrics}
        world = distributed.world_size()
        if world > 1:
            return self._sharded_scores(model, accuracy, lists, out)
        for start, users, top, hits in self.ranked_blocks(model):
            n_rel = torch.from_numpy(self.n_targets[start:start + users.size]).to(hits.device)
            values = M.compute(hits, n_rel, self.ks, accuracy)
            if lists.active:
                values.update(lists.update(top))
            for key, v in values.items():
                out[key][start:start + users.size] = v.cpu().numpy()
        return out, lists.catalogue()

    def _sharded_scores(self, model: Recommender, accuracy: list[str], lists: ListMetrics,
                        out: dict[str, np.ndarray]
                        ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """:meth:`scores` over this rank's blocks, summed over ranks (see the class docs)."""
        acc_keys = [f"{m}@{k}" for m in accuracy for k in self.ks]
        kmax = self.ks[-1]
        values = np.zeros((len(acc_keys), self.n_users))  # [metrics, users], float64
        tops = np.zeros((self.n_users, kmax), dtype=np.int64) if lists.active else None
        shard = (distributed.rank(), distributed.world_size())
        for start, users, top, hits in self.ranked_blocks(model, shard=shard):
            n_rel = torch.from_numpy(self.n_targets[start:start + users.size]).to(hits.device)
            block = M.compute(hits, n_rel, self.ks, accuracy)
            for row, key in enumerate(acc_keys):
                values[row, start:start + users.size] = block[key].cpu().numpy()
            if tops is not None:
                tops[start:start + users.size, :top.shape[1]] = top.cpu().numpy()
        if acc_keys:  # only list metrics asked for: nothing to reduce here
            values = distributed.all_reduce_sum_numpy(values)
        for row, key in enumerate(acc_keys):
            out[key] = values[row]
        if tops is not None:
            tops = distributed.all_reduce_sum_numpy(tops)
            width = min(kmax, self.data.n_items)  # topk's list length (fewer items than K)
            device = self._device(model)  # the same kernels as one process uses
            # the list metrics over every block in order, as one process accumulates them
            for start in range(0, self.n_users, self.block_size):
                stop = min(start + self.block_size, self.n_users)
                block = lists.update(torch.from_numpy(tops[start:stop, :width]).to(device))
                for key, v in block.items():
                    out[key][start:stop] = v.cpu().numpy()
        return out, lists.catalogue()

    def summarise(self, per_user: dict[str, np.ndarray], catalogue: dict[str, float]
                  ) -> dict[str, float]:
        """The reported values of :meth:`scores`'s output: per-user means and catalogue values,
        in the configured metric order."""
        means = {k: float(np.mean(v)) for k, v in per_user.items()}
        both = {**means, **catalogue}
        return {f"{m}@{k}": both[f"{m}@{k}"] for m in self.metrics for k in self.ks}

    def per_user(self, model: Recommender) -> dict[str, np.ndarray]:
        """Per-user metric values ``{"recall@20": float64 [n_users], ...}`` (users in
        :attr:`users` order); catalogue-level list metrics have none (see :meth:`scores`)."""
        return self.scores(model)[0]

    def evaluate(self, model: Recommender) -> dict[str, float]:
        """Every metric over the evaluated users: ``{"recall@20": ..., ...}`` (means of the
        per-user values; coverage and Gini over all lists together)."""
        if self.n_users == 0:
            return {}
        return self.summarise(*self.scores(model))
