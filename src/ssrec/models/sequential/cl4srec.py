"""CL4SRec."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from ssrec.augment.sequence import crop, mask, reorder
from ssrec.losses import nt_xent
from ssrec.models.base import LossOutput, register_model
from ssrec.models.sequential.sasrec import SASRec, SASRecConfig
from ssrec.sampling import SeqBatch


class CL4SRecConfig(SASRecConfig):
    """CL4SRec hyper-parameters. The encoder is SASRec's (pre-LN blocks, ReLU feed-forward of
    size ``d``, scaled item embeddings, recency positions) with the paper's sizes; the
    augmentation ratios default to the DuoRec authors' CL4SRec code (the paper tunes them per
    dataset).

    Attributes:
        embedding_dim, n_layers, n_heads, ffn_dim: 64, 2, 2, 64.
        dropout: 0.5.
        max_len: 50.
        loss: ``"bce"``: the main next-item loss is SASRec's (binary cross-entropy with one
            sampled negative per position), as in SASRec and SELFRec's CL4SRec; ``"ce"`` is the
            full-softmax variant of the DuoRec authors' re-implementation.
        augmentations: the operators views are drawn from (all three); each sequence gets two
            different ones when two or more are allowed, the same one twice otherwise (the
            paper's single-operator ablation).
        crop_ratio: η, share of items a crop keeps, in ``(0, 1]`` (0.6).
        mask_ratio: γ, share of items masked, in ``[0, 1)`` (0.3).
        reorder_ratio: β, share of items shuffled, in ``[0, 1]`` (0.6).
        tau: temperature of the contrastive loss (1.0).
        similarity: ``"dot"`` (the paper's inner product) or ``"cosine"`` (L2-normalised
            states, as SELFRec's InfoNCE) in the contrastive loss.
        cl_weight: λ, weight of the contrastive loss (0.1).
    """

    embedding_dim: int = Field(64, ge=1)
    n_heads: int = Field(2, ge=1)
    ffn_dim: int = Field(64, ge=1)
    augmentations: list[Literal["crop", "mask", "reorder"]] = Field(
        default_factory=lambda: ["crop", "mask", "reorder"], min_length=1)
    crop_ratio: float = Field(0.6, gt=0.0, le=1.0)
    mask_ratio: float = Field(0.3, ge=0.0, lt=1.0)
    reorder_ratio: float = Field(0.6, ge=0.0, le=1.0)
    tau: float = Field(1.0, gt=0.0)
    similarity: Literal["dot", "cosine"] = "dot"
    cl_weight: float = Field(0.1, ge=0.0)


@register_model("CL4SRec")
class CL4SRec(SASRec):
    """CL4SRec: SASRec's next-item loss plus a sequence-level contrastive loss. Each user
    sequence gets two views, each from one of crop, mask or reorder (two different operators per
    sequence, drawn at random); their last-position states are contrasted with InfoNCE over the
    batch's other ``2N - 2`` views (dot-product similarity, temperature τ).

    Xie et al., "Contrastive Learning for Sequential Recommendation", ICDE 2022 (augmentations
    Eqs. 3-5, contrastive loss Eq. 10, multi-task objective ``L = L_main + λ L_cl``, Eq. 11).

    Shapes: ``seq [B, L]`` → two views ``[B, L]`` (same shapes, lengths respected) → states
    ``[B, D]`` → :func:`~ssrec.losses.nt_xent` over ``[2B, D]``; ``score(users [B]) -> [B, I]``.

    Config: ``crop_ratio`` 0.6, ``mask_ratio`` 0.3, ``reorder_ratio`` 0.6, ``tau`` 1.0,
    ``cl_weight`` 0.1, ``embedding_dim`` 64, ``n_layers`` 2, ``n_heads`` 2, ``ffn_dim`` 64,
    ``dropout`` 0.5, ``max_len`` 50, ``loss`` ``"bce"``; SASRec's block layout.
    """

    Config = CL4SRecConfig
    paper = "Xie et al., Contrastive Learning for Sequential Recommendation, ICDE 2022"

    def view(self, seq: torch.Tensor, lengths: torch.Tensor, op: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply operator ``op[b]`` (0 crop, 1 mask, 2 reorder) to row ``b``: ``[B, L]`` in and
        out."""
        g, c = self.generator, self.cfg
        cs, cl = crop(seq, lengths, c.crop_ratio, g)
        ms, _ = mask(seq, lengths, c.mask_ratio, self.mask_token, g)
        rs, _ = reorder(seq, lengths, c.reorder_ratio, g)
        o = op.unsqueeze(1)
        out = torch.where(o == 0, cs, torch.where(o == 1, ms, rs))
        return out, torch.where(op == 0, cl, lengths)

    def loss(self, batch: SeqBatch) -> LossOutput:
        h = self.encode(batch.seq, batch.lengths)
        main = self.next_item_loss(h, batch)
        b = batch.seq.shape[0]
        dev = batch.seq.device
        codes = {"crop": 0, "mask": 1, "reorder": 2}
        allowed = torch.tensor(sorted({codes[a] for a in self.cfg.augmentations}), device=dev)
        k = allowed.numel()
        i1 = torch.randint(0, k, (b,), generator=self.generator, device=dev)
        i2 = (i1 + torch.randint(1, k, (b,), generator=self.generator, device=dev)) % k \
            if k > 1 else i1
        op1, op2 = allowed[i1], allowed[i2]
        z1 = self.state(*self.view(batch.seq, batch.lengths, op1))  # [B, D]
        z2 = self.state(*self.view(batch.seq, batch.lengths, op2))
        cl = self.cfg.cl_weight * nt_xent(z1, z2, self.cfg.tau,
                                              normalize=self.cfg.similarity == "cosine")
        return LossOutput(main + cl, {self.cfg.loss: main, "cl": cl})
