"""BERT4Rec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from ssrec.data.sequence import PAD, Ragged, windows
from ssrec.losses import full_softmax_ce
from ssrec.models.base import LossOutput, matmul_into, register_model
from ssrec.models.sequential.base import Sequential, SequentialConfig
from ssrec.sampling import ClozeBatch

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData


class BERT4RecConfig(SequentialConfig):
    """BERT4Rec hyper-parameters (defaults: the paper, Sec. 4.4).

    Attributes:
        embedding_dim, n_layers, n_heads, ffn_dim: 64, 2, 2, 256 (post-LN, GELU).
        dropout: 0.1.
        max_len: ``N`` (50, the paper's value for Beauty and Steam; 200 for MovieLens), counting
            the mask token appended at test time.
        mask_prob: ρ, the share of items masked in training (0.2, the MovieLens value; 0.6 on
            Beauty, 0.4 on Steam).
        last_prob: share of training sequences with only their last item masked (0.1).
        loss: ``"ce"`` only (softmax over all items at each masked position, Eq. 8).
    """

    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    max_len: int = Field(50, ge=2)
    mask_prob: float = Field(0.2, gt=0.0, lt=1.0)
    last_prob: float = Field(0.1, ge=0.0, le=1.0)
    loss: Literal["ce"] = "ce"


@register_model("BERT4Rec")
class BERT4Rec(Sequential):
    """BERT4Rec: a bidirectional Transformer trained with the cloze task: random items of the
    sequence are replaced by a mask token and predicted from both sides. At test time a mask
    token is appended after the user's history and its state scores the next item.

    Sun et al., "BERT4Rec: Sequential Recommendation with Bidirectional Encoder Representations
    from Transformer", CIKM 2019 (embedding Eq. 6, output layer Eq. 7 with a shared item
    embedding, cloze objective Eq. 8, training and test inputs Sec. 3.6). The output layer is
    ``GELU(h W + b)``, LayerNorm (as in the authors' code), inner product with the item
    embeddings plus a per-item bias.

    Shapes: ``seq [B, L]`` with mask tokens → ``[B, L, D]``; the masked positions' logits
    ``[M, I]``; ``score(users [B]) -> [B, I]`` from the appended mask's state.

    Config: ``mask_prob`` 0.2, ``last_prob`` 0.1, ``embedding_dim`` 64, ``n_layers`` 2,
    ``n_heads`` 2, ``ffn_dim`` 256, ``dropout`` 0.1, ``max_len`` 50.
    """

    Config = BERT4RecConfig
    paper = ("Sun et al., BERT4Rec: Sequential Recommendation with Bidirectional Encoder "
             "Representations from Transformer, CIKM 2019")
    batch_kind = "cloze"
    causal = False

    def __init__(self, cfg: BERT4RecConfig, data: InteractionData):
        super().__init__(cfg, data)
        d = cfg.embedding_dim
        self.head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d, eps=1e-12))
        self.output_bias = nn.Parameter(torch.zeros(self.n_items))

    def sampler_options(self) -> dict[str, Any]:
        return {"max_len": self.cfg.max_len, "bucket_pool": self.cfg.bucket_pool,
                "mask_prob": self.cfg.mask_prob, "last_prob": self.cfg.last_prob}

    def logits(self, h: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        # the bias is added in place, to the product's own tensor or to ``out``
        return matmul_into(self.head(h), self.item_weights().T, out).add_(self.output_bias)

    def softmax_ce(self, hs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The cloze loss (Eq. 8) through the output layer: chunked softmax cross-entropy of
        ``head(hs) [M, D]`` against the item embeddings plus the output bias."""
        return full_softmax_ce(self.head(hs), self.item_weights(), target, self.output_bias)

    def loss(self, batch: ClozeBatch) -> LossOutput:
        h = self.encode(batch.seq, batch.lengths)  # [B, L, D]
        masked = batch.labels != PAD
        ce = self.softmax_ce(h[masked], batch.labels[masked] - 1)  # chunked, never [M, I]
        return LossOutput(ce, {"ce": ce})

    def history_input(self, hist: Ragged, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The most recent ``max_len - 1`` history items followed by the mask token."""
        seq, lengths = windows(hist, np.asarray(rows, dtype=np.int64), self.cfg.max_len - 1)
        seq = torch.from_numpy(seq)
        lengths = torch.from_numpy(lengths)
        seq = torch.cat([seq, torch.zeros(seq.shape[0], 1, dtype=seq.dtype)], dim=1)
        seq[torch.arange(seq.shape[0]), lengths] = self.mask_token
        width = int(lengths.max()) + 1 if lengths.numel() else 1
        return seq[:, :width], lengths + 1

    def query_vectors(self, h: torch.Tensor) -> torch.Tensor:
        """``[head(h), 1]`` (``[B, D + 1]``): the output bias enters as a last coordinate."""
        q = self.head(h)
        return torch.cat([q, torch.ones(q.shape[0], 1, dtype=q.dtype, device=q.device)], dim=1)

    def output_vectors(self) -> torch.Tensor:
        """``[item_weights, output_bias]`` (``[I, D + 1]``)."""
        return torch.cat([self.item_weights(), self.output_bias.unsqueeze(1)], dim=1)
