"""Multi-behaviour interaction data: one user–item graph per behaviour (view, cart, buy, ...).

Shops log several behaviours per user and predict one, the **target** behaviour (buy). A
multi-behaviour dataset has one training file per behaviour (or one training file with a
behaviour column, ``data.behavior_column``, split into the same rows) and a test file of the
target behaviour. :func:`~ssrec.data.dataset.load_dataset` reads them all with one pair of id maps
(built from the training rows of **every** behaviour, so an item that was only viewed is still a
candidate), and:

* ``InteractionData.train`` holds the target behaviour's training rows (minus the validation
  rows carved from them), so the samplers, the evaluator's mask and every single-behaviour model
  see the target behaviour only;
* ``InteractionData.behaviors`` is a :class:`MultiBehavior` holding every behaviour's training
  rows (the target's are the same rows as ``train``), from which the multi-behaviour models
  build their behaviour-typed graphs.

Validation rows are carved from the target behaviour's training rows only (one per user by
default, like the test); no auxiliary row is ever a validation row. Whether a validation pair
stays in the view or cart graph follows the test (``data.valid_auxiliary``): it stays where
test purchases do (79.7% of the Tmall test purchases were viewed in training) and leaves them
where no test pair occurs in an auxiliary behaviour (retailrocket-mb).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from ssrec.data.interactions import Interactions


@dataclass(eq=False)
class MultiBehavior:
    """The training rows of every behaviour, indexed with the dataset's id maps.

    Attributes:
        names: behaviour names in the dataset's order (the registered datasets list them in
            their cascade order, view → cart → buy; MB-CGCN propagates in this order).
        target: the target behaviour (one of ``names``).
        train: ``{behaviour: Interactions}``; the target's entry is ``InteractionData.train``
            (validation rows removed), the others are complete.
        n_users: ``U``.
        n_items: ``I``.
    """

    names: tuple[str, ...]
    target: str
    train: dict[str, Interactions]
    n_users: int
    n_items: int
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.target not in self.names:
            raise ValueError(f"target behaviour {self.target!r} is not one of {self.names}")
        missing = [b for b in self.names if b not in self.train]
        if missing:
            raise ValueError(f"no training rows given for behaviour(s) {missing}")

    @property
    def auxiliary(self) -> tuple[str, ...]:
        """The behaviours other than the target, in order."""
        return tuple(b for b in self.names if b != self.target)

    @property
    def target_index(self) -> int:
        """Position of the target in :attr:`names`."""
        return self.names.index(self.target)

    def csr(self, behavior: str) -> sp.csr_matrix:
        """Binary ``[U, I]`` CSR matrix of one behaviour's training rows (cached).

        Raises:
            KeyError: an unknown behaviour (the message lists the known ones).
        """
        if behavior not in self.train:
            raise KeyError(f"unknown behaviour {behavior!r}; known: {', '.join(self.names)}")
        key = f"csr:{behavior}"
        if key not in self._cache:
            self._cache[key] = self.train[behavior].to_csr(self.n_users, self.n_items)
        return self._cache[key]

    def counts(self, names: tuple[str, ...] | None = None) -> np.ndarray:
        """Training rows per user and behaviour, ``int64 [U, K]`` (columns in ``names`` order,
        default :attr:`names`; the target's without the validation rows)."""
        return np.stack([np.diff(self.csr(b).indptr) for b in (names or self.names)],
                        axis=1).astype(np.int64)

    @cached_property
    def merged_csr(self) -> sp.csr_matrix:
        """Binary ``[U, I]`` CSR matrix of the pairs present in any behaviour."""
        m = sum((self.csr(b) for b in self.names), sp.csr_matrix((self.n_users, self.n_items)))
        m = sp.csr_matrix(m)
        m.data[:] = 1.0
        return m.astype(np.float32)

    def norm_adj(self, behavior: str | None = None) -> torch.Tensor:
        """LightGCN's normalised bipartite adjacency ``D^-1/2 A D^-1/2`` of one behaviour's
        graph (``None``: all behaviours merged), a ``[U+I, U+I]`` float32 sparse CSR tensor on
        the CPU (cached; see :func:`~ssrec.data.graph.normalized_adjacency`)."""
        from ssrec.data.graph import normalized_adjacency

        key = f"adj:{behavior}"
        if key not in self._cache:
            m = (self.merged_csr if behavior is None else self.csr(behavior)).tocoo()
            self._cache[key] = normalized_adjacency(m.row.astype(np.int64),
                                                    m.col.astype(np.int64), self.n_users,
                                                    self.n_items)
        return self._cache[key]

    def describe(self) -> dict[str, Any]:
        """Rows, users and items per behaviour (JSON-serialisable)."""
        out: dict[str, Any] = {}
        for b in self.names:
            t = self.train[b]
            out[b] = {"interactions": len(t), "users": int(np.unique(t.user).size),
                      "items": int(np.unique(t.item).size)}
        return out


def overlap_counts(user: np.ndarray, item: np.ndarray, others: dict[str, sp.csr_matrix]
                   ) -> dict[str, int]:
    """How many of the pairs ``(user[k], item[k])`` occur in each matrix of ``others``.

    Args:
        user, item: ``int64 [N]`` pair indices.
        others: ``{name: [U, I] binary CSR}``.

    Returns:
        ``{name: count}``.
    """
    return {b: int(np.asarray(m[user, item]).reshape(-1).astype(bool).sum()) if user.size else 0
            for b, m in others.items()}
