"""Time-ordered user histories for sequential recommenders, derived from the train / valid /
test :class:`~ssrec.data.interactions.Interactions` of a dataset.

**Order.** A user's interactions are ordered by timestamp, ties broken by file order (the
``order`` of each row: its position in the files as read, train file first). When any split
involved has no timestamps, file order alone is the time order (amazon-beauty's per-user lists,
beauty-bert4rec's ``user item`` rows).

**Inputs for evaluation.** :meth:`UserSequences.history` gives, for each user, the items a model
may read when it predicts the targets of a split: the training items (plus the validation items
when the split is ``test``) that come strictly **before** the user's first target of that split
in the order above. Nothing at or after the target ever enters the input. Under leave-one-out
(the last item is the test target, the one before it the validation target) this is the whole
earlier history.

**Tokens.** Inside sequential models item index ``i`` is token ``i + 1``; token
:data:`PAD` ``= 0`` is padding and ``n_items + 1`` is the mask token (BERT4Rec's cloze task and
CL4SRec's item mask). Raw ids are never used as tokens, so a real item whose raw id is ``"0"``
is token 1, never padding.

**Windows.** :func:`windows` cuts the most recent ``max_len`` items of each history (the oldest
ones are dropped), right-padded: position ``0`` holds the oldest kept item and position
``length - 1`` the latest one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ssrec.data.interactions import Interactions

PAD = 0


def mask_token(n_items: int) -> int:
    """The mask token of a model over ``n_items`` items (``n_items + 1``)."""
    return int(n_items) + 1


@dataclass(frozen=True)
class Ragged:
    """Variable-length rows in CSR layout: row ``u`` is ``items[indptr[u]:indptr[u + 1]]``.

    Attributes:
        indptr: ``int64 [U + 1]``.
        items: ``int64 [N]`` item indices (not tokens), each row in time order.
    """

    indptr: np.ndarray
    items: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.indptr.size - 1)

    @property
    def lengths(self) -> np.ndarray:
        """``int64 [U]`` row lengths."""
        return np.diff(self.indptr)

    def row(self, u: int) -> np.ndarray:
        """The items of row ``u`` in time order."""
        return self.items[self.indptr[u]:self.indptr[u + 1]]


def windows(seqs: Ragged, rows: np.ndarray, max_len: int, ends: np.ndarray | None = None,
            trim: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded token windows of the most recent items.

    Window ``b`` holds the items of row ``rows[b]`` at positions ``[ends[b] - n_b, ends[b])``
    with ``n_b = min(max_len, ends[b])``, as tokens (item + 1), followed by :data:`PAD`.

    Args:
        seqs: the histories.
        rows: ``int64 [B]`` row (user) of each window.
        max_len: the longest window ``L``; longer histories keep their **last** ``L`` items.
        ends: ``int64 [B]`` exclusive end position inside each row (default: the row length,
            i.e. the whole history).
        trim: cut the padding columns that no window uses (width ``max(n_b)``, at least 1)
            instead of returning width ``max_len``.

    Returns:
        ``(tokens int64 [B, L'], lengths int64 [B])``.

    Raises:
        ValueError: if ``max_len < 1`` or an ``end`` lies outside its row.
    """
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    rows = np.asarray(rows, dtype=np.int64)
    row_len = seqs.indptr[rows + 1] - seqs.indptr[rows]
    ends = row_len if ends is None else np.asarray(ends, dtype=np.int64)
    if np.any(ends < 0) or np.any(ends > row_len):
        raise ValueError("windows: an end position lies outside its row")
    n = np.minimum(ends, max_len)
    width = max(int(n.max(initial=0)), 1) if trim else max_len
    start = seqs.indptr[rows] + ends - n  # flat index of each window's first item
    col = np.arange(width, dtype=np.int64)
    real = col[None, :] < n[:, None]  # [B, L']
    idx = np.where(real, start[:, None] + col[None, :], 0)
    tokens = np.where(real, seqs.items[idx] + 1 if seqs.items.size else 0, PAD)
    return tokens.astype(np.int64), n.astype(np.int64)


def _time_keys(parts: list) -> tuple[np.ndarray, np.ndarray]:
    """``(time, order)`` sort keys of the concatenated splits; time is all zeros unless every
    part has timestamps (then file order alone decides)."""
    order = np.concatenate([p.order for p in parts]).astype(np.int64)
    if all(p.timestamp is not None for p in parts):
        t = np.concatenate([p.timestamp for p in parts]).astype(np.float64)
    else:
        t = np.zeros(order.size)
    return t, order


def _ragged(user: np.ndarray, item: np.ndarray, t: np.ndarray, order: np.ndarray,
            n_users: int) -> Ragged:
    srt = np.lexsort((order, t, user))
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(user, minlength=n_users), out=indptr[1:])
    return Ragged(indptr, item[srt].astype(np.int64))


class UserSequences:
    """Every user's time-ordered histories (see the module docs for the rules).

    Args:
        splits: ``{"train": ..., "valid": ..., "test": ...}`` :class:`Interactions` (they keep
            ``timestamp`` and ``order``), e.g. an ``InteractionData``'s splits.
        n_users, n_items: sizes of the id maps.

    Attributes:
        n_users, n_items: sizes of the id maps.
        train: :class:`Ragged` ``[U]`` the training items of each user in time order (what the
            samplers read).
        time_source: ``"timestamp, ties by file order"`` or ``"file order"``.
    """

    def __init__(self, splits: Mapping[str, Interactions], n_users: int, n_items: int):
        self.n_users = int(n_users)
        self.n_items = int(n_items)
        self._splits = dict(splits)
        tr = self._splits["train"]
        t, order = _time_keys([tr])
        self.train = _ragged(tr.user, tr.item, t, order, self.n_users)
        parts = [self._splits[s] for s in ("train", "valid", "test")]
        self.time_source = ("timestamp, ties by file order"
                            if all(p.timestamp is not None for p in parts) else "file order")
        self._history: dict[str, Ragged] = {}

    def history(self, split: str) -> Ragged:
        """The model input for predicting ``split``'s targets (cached).

        ``"valid"``: training items; ``"test"``: training and validation items; in both cases
        only those strictly before the user's first target in ``split`` (by timestamp, then file
        order). Users without a target in ``split`` keep everything. ``"train"`` is
        :attr:`train`. ``"all"``: every known interaction of the user (training, validation
        and test items), nothing held out, in the same order: the input for recommending the
        user's next item now (serving, ``ssrec recommend``), latest item included.

        Raises:
            ValueError: unknown split.
        """
        if split == "train":
            return self.train
        if split not in ("valid", "test", "all"):
            raise ValueError(f"unknown split {split!r}; use 'train', 'valid', 'test' or 'all'")
        if split in self._history:
            return self._history[split]
        d = self._splits
        if split == "all":
            parts = [d["train"], d["valid"], d["test"]]
            t, o = _time_keys(parts)
            user = np.concatenate([p.user for p in parts]).astype(np.int64)
            item = np.concatenate([p.item for p in parts]).astype(np.int64)
            self._history[split] = _ragged(user, item, t, o, self.n_users)
            return self._history[split]
        sources = [d["train"]] if split == "valid" else [d["train"], d["valid"]]
        target = d[split]
        parts = [*sources, target]
        t_all, o_all = _time_keys(parts)
        n_src = sum(len(p) for p in sources)
        t, o = t_all[:n_src], o_all[:n_src]
        user = np.concatenate([p.user for p in sources]).astype(np.int64)
        item = np.concatenate([p.item for p in sources]).astype(np.int64)
        # the first target of each user: smallest (time, order)
        tt, to = t_all[n_src:], o_all[n_src:]
        first_t = np.full(self.n_users, np.inf)
        first_o = np.full(self.n_users, np.iinfo(np.int64).max, dtype=np.int64)
        if len(target):
            srt = np.lexsort((to, tt, target.user))
            tu = target.user[srt]
            head = np.r_[True, tu[1:] != tu[:-1]]
            first_t[tu[head]] = tt[srt][head]
            first_o[tu[head]] = to[srt][head]
        ft, fo = first_t[user], first_o[user]
        before = (t < ft) | ((t == ft) & (o < fo))
        keep = np.flatnonzero(before)
        hist = _ragged(user[keep], item[keep], t[keep], o[keep], self.n_users)
        self._history[split] = hist
        return hist

    def describe(self) -> dict[str, object]:
        """Length statistics of the training sequences (for reports)."""
        n = self.train.lengths
        return {"time_order": self.time_source, "users": int((n > 0).sum()),
                "mean_length": float(n[n > 0].mean()) if (n > 0).any() else 0.0,
                "max_length": int(n.max(initial=0))}


__all__ = ["PAD", "Ragged", "UserSequences", "mask_token", "windows"]
