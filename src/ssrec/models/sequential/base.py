"""Family base of the sequential recommenders: item and position embeddings, a
:class:`torch.nn.TransformerEncoder`, the last-position state and the next-item losses.

Tokens follow :mod:`ssrec.data.sequence`: item ``i`` is token ``i + 1``, ``0`` is padding and
``n_items + 1`` the mask token, so the item table has ``I + 2`` rows and scores are read off rows
``1..I`` (the real items, in the index order of ``data.items``).

A model on this base declares its Config (paper defaults), its sampler (``batch_kind``), its
views and auxiliary loss; encoding, scoring and the main next-item loss live here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import nn

from ssrec.data.sequence import PAD, Ragged, mask_token, windows
from ssrec.losses import full_softmax_ce, sampled_bce
from ssrec.models.base import ModelConfig, Recommender, matmul_into

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData
    from ssrec.sampling import SeqBatch


class SequentialConfig(ModelConfig):
    """Shared hyper-parameters of Transformer sequential recommenders.

    Attributes:
        embedding_dim: ``D``, item / position embedding and hidden size (64).
        n_layers: Transformer layers (2).
        n_heads: attention heads; must divide ``embedding_dim`` (2).
        ffn_dim: hidden size of the position-wise feed-forward network (256).
        dropout: drop probability on the embeddings, attention weights and sub-layer outputs
            (0.5, the DuoRec/CL4SRec value on sparse Amazon data).
        activation: feed-forward activation, ``"gelu"`` or ``"relu"``.
        norm_first: pre-LayerNorm blocks with a final LayerNorm (SASRec) instead of post-LN
            blocks with a LayerNorm on the input embeddings (BERT).
        scale_embedding: multiply item embeddings by ``sqrt(D)`` (SASRec's code).
        position_from_end: index position embeddings by recency (0 = the latest item), as
            SASRec's left-padded inputs do, instead of from the oldest item (RecBole, BERT4Rec).
        max_len: ``L``, the most recent items read per user (50).
        loss: main next-item loss: ``"ce"`` (softmax cross-entropy over all items) or ``"bce"``
            (binary cross-entropy with one sampled negative per position, SASRec Eq. 6).
        bucket_pool: batches per length-sorting pool in the sampler (1 = plain shuffle); a
            speed setting that changes which users share a batch, not what an epoch visits.
    """

    embedding_dim: int = Field(64, ge=1)
    n_layers: int = Field(2, ge=1)
    n_heads: int = Field(2, ge=1)
    ffn_dim: int = Field(256, ge=1)
    dropout: float = Field(0.5, ge=0.0, lt=1.0)
    activation: Literal["gelu", "relu"] = "gelu"
    norm_first: bool = False
    scale_embedding: bool = False
    position_from_end: bool = False
    max_len: int = Field(50, ge=1)
    loss: Literal["ce", "bce"] = "ce"
    bucket_pool: int = Field(32, ge=1)

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> SequentialConfig:
        if self.embedding_dim % self.n_heads:
            raise ValueError(f"embedding_dim ({self.embedding_dim}) must be divisible by n_heads "
                             f"({self.n_heads})")
        return self


class Sequential(Recommender):
    """Transformer encoder over right-padded item-token sequences.

    ``encode(seq [B, L], lengths [B]) -> [B, L, D]`` adds learned position embeddings to the item
    embeddings (position 0 = the oldest item in the window, or with ``position_from_end`` the
    latest), applies LayerNorm (post-LN variant)
    and dropout, then ``n_layers`` :class:`torch.nn.TransformerEncoderLayer` blocks with padding
    keys masked and, when :attr:`causal`, a causal mask (position ``t`` attends to ``<= t``).
    :meth:`last` picks each row's state at position ``lengths - 1``. Scores are inner products
    with the item embeddings (shared input/output table).

    For evaluation, :meth:`on_eval_start` selects the history of the split being scored
    (:meth:`~ssrec.data.sequence.UserSequences.history`: everything before the target), and
    :meth:`score` encodes each user's most recent ``max_len`` items of it. Without
    ``on_eval_start``, the test-time history (training + validation items) is used.
    """

    Config = SequentialConfig
    family = "sequential"
    batch_kind = "sequence"
    causal: ClassVar[bool] = True
    exclude_seen_default: ClassVar[bool] = False

    def __init__(self, cfg: SequentialConfig, data: InteractionData):
        super().__init__(cfg, data)
        d = cfg.embedding_dim
        self.mask_token = mask_token(self.n_items)
        self.item_embedding = nn.Embedding(self.n_items + 2, d, padding_idx=PAD)
        self.position_embedding = nn.Embedding(cfg.max_len, d)
        self.input_norm = nn.Identity() if cfg.norm_first else nn.LayerNorm(d, eps=1e-12)
        self.input_dropout = nn.Dropout(cfg.dropout)
        layer = nn.TransformerEncoderLayer(d, cfg.n_heads, cfg.ffn_dim, cfg.dropout,
                                           activation=cfg.activation, batch_first=True,
                                           norm_first=cfg.norm_first)
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False,
                                             norm=nn.LayerNorm(d) if cfg.norm_first else None)
        self.sequences = data.sequences
        self._history: Ragged | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Item and position embeddings ~ N(0, 0.02²) (BERT / RecBole); the padding row is 0."""
        nn.init.normal_(self.item_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding.weight, std=0.02)
        with torch.no_grad():
            self.item_embedding.weight[PAD].zero_()

    # -- sampler ---------------------------------------------------------------------------
    def sampler_options(self) -> dict[str, Any]:
        return {"max_len": self.cfg.max_len, "bucket_pool": self.cfg.bucket_pool,
                "n_negatives": 1 if self.cfg.loss == "bce" else 0}

    # -- encoder ---------------------------------------------------------------------------
    def encode(self, seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Contextual states of every position.

        Args:
            seq: ``int64 [B, L]`` right-padded tokens, ``L <= max_len``.
            lengths: ``int64 [B]`` real tokens per row (a row of length 0 reads only its first,
                padding, position, so that it gets a finite "empty history" state).

        Returns:
            ``float [B, L, D]``.

        Raises:
            ValueError: if ``L > max_len``.
        """
        b, length = seq.shape
        if length > self.cfg.max_len:
            raise ValueError(f"sequence length {length} exceeds max_len {self.cfg.max_len}")
        col = torch.arange(length, device=seq.device)
        x = self.item_embedding(seq)  # [B, L, D]
        if self.cfg.scale_embedding:
            x = x * math.sqrt(self.cfg.embedding_dim)
        if self.cfg.position_from_end:
            pos = (lengths.clamp(min=1).unsqueeze(1) - 1 - col.unsqueeze(0)).clamp(min=0)
            x = x + self.position_embedding(pos)  # [B, L, D]
        else:
            x = x + self.position_embedding(col).unsqueeze(0)
        x = self.input_dropout(self.input_norm(x))
        pad = col.unsqueeze(0) >= lengths.clamp(min=1).unsqueeze(1)  # [B, L], True = padding
        causal = None
        if self.causal:
            causal = torch.triu(torch.ones(length, length, dtype=torch.bool, device=seq.device),
                                diagonal=1)
        return self.encoder(x, mask=causal, src_key_padding_mask=pad)

    @staticmethod
    def last(h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The state at each row's last real position: ``h [B, L, D] -> [B, D]``."""
        idx = (lengths - 1).clamp(min=0)
        return h[torch.arange(h.shape[0], device=h.device), idx]

    def state(self, seq: torch.Tensor, lengths: torch.Tensor, chunk: int = 64) -> torch.Tensor:
        """``last(encode(seq, lengths))``: the sequence representation ``[B, D]``.

        Rows are encoded in chunks of ``chunk`` rows of similar length, each trimmed to its
        longest row (padding never changes a state, so only the cost changes)."""
        b = seq.shape[0]
        if b <= chunk:
            width = max(int(lengths.max()), 1) if b else 1
            return self.last(self.encode(seq[:, :width], lengths), lengths)
        order = torch.argsort(lengths, stable=True)
        out = []
        for start in range(0, b, chunk):
            idx = order[start:start + chunk]
            ln = lengths[idx]
            width = max(int(ln.max()), 1)
            out.append(self.last(self.encode(seq[idx, :width], ln), ln))
        states = torch.cat(out)  # rows in ``order``
        return states[torch.argsort(order)]

    def item_weights(self) -> torch.Tensor:
        """Output embeddings of the real items, ``[I, D]`` (rows ``1..I`` of the table)."""
        return self.item_embedding.weight[1:self.n_items + 1]

    def logits(self, h: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of every real item: ``h [..., D] -> [..., I]`` (into ``out`` when given, see
        :func:`~ssrec.models.base.matmul_into`)."""
        return matmul_into(h, self.item_weights().T, out)

    # -- losses ----------------------------------------------------------------------------
    def softmax_ce(self, hs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Softmax cross-entropy over all ``I`` items of the supervised states, in chunks
        (:func:`~ssrec.losses.full_softmax_ce`: the ``[M, I]`` logits are never held at once).

        Args:
            hs: ``[M, D]`` states of the positions that carry a target.
            target: ``int64 [M]`` item indices (tokens - 1).

        Returns:
            Scalar mean over the ``M`` rows; equal to ``F.cross_entropy(self.logits(hs),
            target)``.
        """
        return full_softmax_ce(hs, self.item_weights(), target)

    def next_item_loss(self, h: torch.Tensor, batch: SeqBatch) -> torch.Tensor:
        """The main loss on every real position of a :class:`~ssrec.sampling.SeqBatch`.

        ``"ce"``: softmax cross-entropy of the next item over all ``I`` items, computed only at
        the supervised positions and in chunks (:meth:`softmax_ce`); ``"bce"``: SASRec's binary
        cross-entropy of the next item against the sampled negatives (Eq. 6).

        Args:
            h: ``[B, L, D]`` states of ``batch.seq``.
            batch: the batch (``pos [B, L]``, ``neg [B, L, N]``).

        Returns:
            Scalar mean over supervised positions.
        """
        real = batch.pos != PAD  # [B, L]
        hs = h[real]  # [M, D]
        if self.cfg.loss == "ce":
            return self.softmax_ce(hs, batch.pos[real] - 1)
        w = self.item_embedding.weight
        pos = (hs * w[batch.pos[real]]).sum(-1)  # [M]
        neg = (hs.unsqueeze(1) * w[batch.neg[real]]).sum(-1)  # [M, N]
        return sampled_bce(pos, neg)

    # -- inference -------------------------------------------------------------------------
    def on_eval_start(self, split: str) -> None:
        self._history = self.sequences.history(split)

    def on_eval_end(self) -> None:
        self._history = None

    def eval_input(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The model input of each user for the split being scored (:meth:`history_input` of
        the history :meth:`on_eval_start` selected; without it, the test-time history)."""
        hist = self._history if self._history is not None else self.sequences.history("test")
        seq, lengths = self.history_input(hist, users.detach().cpu().numpy())
        dev = users.device
        return seq.to(dev), lengths.to(dev)

    def history_input(self, hist: Ragged, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The tokens the model reads for rows ``rows`` of any history (the evaluator's splits,
        a user's whole history, or a history sent at request time): the most recent
        ``max_len`` items of each row, right-padded.

        Args:
            hist: the histories (item indices in time order).
            rows: ``int64 [B]`` rows of ``hist`` to read.

        Returns:
            ``(tokens int64 [B, L], lengths int64 [B])`` on the CPU, ``L <= max_len``.
        """
        seq, lengths = windows(hist, np.asarray(rows, dtype=np.int64), self.cfg.max_len)
        return torch.from_numpy(seq), torch.from_numpy(lengths)

    def query_vectors(self, h: torch.Tensor) -> torch.Tensor:
        """The retrieval query of sequence states: ``h [B, D] -> [B, D']`` such that
        ``logits(h) == query_vectors(h) @ output_vectors().T`` (here ``h`` itself), so that a
        nearest-neighbour index over :meth:`output_vectors` ranks items as :meth:`score`
        does."""
        return h

    def output_vectors(self) -> torch.Tensor:
        """The item side of :meth:`query_vectors`: ``[I, D']`` (here :meth:`item_weights`)."""
        return self.item_weights()

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self.score_into(users, None)

    def score_into(self, users: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
        seq, lengths = self.eval_input(users)
        return self.logits(self.state(seq, lengths), out)  # [B, I]

    def extra_repr(self) -> str:
        return f"n_users={self.n_users}, n_items={self.n_items}, max_len={self.cfg.max_len}"
