"""Sequence augmentations (CL4SRec's views) as batched, vectorised pure functions.

Every function takes right-padded token sequences ``seq`` ``int64 [B, L]`` (``0`` = padding,
see :mod:`ssrec.data.sequence`) with their ``lengths`` ``[B]`` and returns a new
``(seq, lengths)`` pair of the **same shapes**; only the first ``lengths[b]`` positions of a row
are read or changed, padding stays padding. Random draws come from ``generator`` on the input's
device, so a seeded generator reproduces the views. Ratios follow Xie et al., "Contrastive
Learning for Sequential Recommendation", ICDE'22, Sec. III-B (Eqs. 3-5): for a sequence of
``n`` items, crop keeps ``max(1, ⌊η n⌋)`` consecutive items, mask replaces ``⌊γ n⌋`` items by the
mask token, reorder shuffles ``⌊β n⌋`` consecutive items.
"""

from __future__ import annotations

import torch


def _positions(seq: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    col = torch.arange(seq.shape[1], device=seq.device)
    return col, col.unsqueeze(0) < lengths.unsqueeze(1)  # [L], [B, L]


def _uniform(shape: tuple[int, ...], like: torch.Tensor,
             generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=like.device)


def crop(seq: torch.Tensor, lengths: torch.Tensor, ratio: float,
         generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Item crop (CL4SRec Eq. 3): keep a random contiguous run of ``max(1, ⌊ratio · n⌋)`` items,
    moved to the front.

    Args:
        seq: ``int64 [B, L]`` tokens, right-padded.
        lengths: ``int64 [B]``.
        ratio: η, the share of items kept, in ``(0, 1]``; 1 is a no-op.
        generator: random generator on ``seq``'s device.

    Returns:
        ``(seq' [B, L], lengths' [B])``.

    Raises:
        ValueError: if ``ratio`` is outside ``(0, 1]``.
    """
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"crop ratio must be in (0, 1], got {ratio}")
    if ratio == 1.0:
        return seq, lengths
    keep = torch.clamp(torch.floor(lengths.double() * ratio).long(), min=1)
    keep = torch.minimum(keep, lengths)
    start = torch.floor(_uniform(tuple(lengths.shape), seq, generator).double()
                        * (lengths - keep + 1).double()).long()
    col, _ = _positions(seq, keep)
    src = (start.unsqueeze(1) + col.unsqueeze(0)).clamp(max=seq.shape[1] - 1)  # [B, L]
    inside = col.unsqueeze(0) < keep.unsqueeze(1)
    out = torch.where(inside, seq.gather(1, src), torch.zeros_like(seq))
    return out, keep


def mask(seq: torch.Tensor, lengths: torch.Tensor, ratio: float, mask_token: int,
         generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Item mask (CL4SRec Eq. 4): replace ``⌊ratio · n⌋`` distinct random items by ``mask_token``.

    Args:
        seq: ``int64 [B, L]``.
        lengths: ``int64 [B]``.
        ratio: γ, the share of items masked, in ``[0, 1)``; 0 is a no-op.
        mask_token: the token that replaces them (``n_items + 1``).
        generator: random generator on ``seq``'s device.

    Returns:
        ``(seq' [B, L], lengths)`` (lengths unchanged).

    Raises:
        ValueError: if ``ratio`` is outside ``[0, 1)``.
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"mask ratio must be in [0, 1), got {ratio}")
    if ratio == 0.0:
        return seq, lengths
    _, real = _positions(seq, lengths)
    n_mask = torch.floor(lengths.double() * ratio).long()  # [B]
    key = _uniform(tuple(seq.shape), seq, generator).masked_fill(~real, 2.0)
    rank = key.argsort(dim=1).argsort(dim=1)  # rank of each position's key within its row
    chosen = (rank < n_mask.unsqueeze(1)) & real
    return seq.masked_fill(chosen, mask_token), lengths


def reorder(seq: torch.Tensor, lengths: torch.Tensor, ratio: float,
            generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Item reorder (CL4SRec Eq. 5): shuffle a random contiguous run of ``⌊ratio · n⌋`` items.

    Args:
        seq: ``int64 [B, L]``.
        lengths: ``int64 [B]``.
        ratio: β, the share of items shuffled, in ``[0, 1]``; 0 is a no-op.
        generator: random generator on ``seq``'s device.

    Returns:
        ``(seq' [B, L], lengths)`` (lengths unchanged; the run's items are permuted among its
        positions).

    Raises:
        ValueError: if ``ratio`` is outside ``[0, 1]``.
    """
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"reorder ratio must be in [0, 1], got {ratio}")
    if ratio == 0.0:
        return seq, lengths
    b = lengths.shape[0]
    size = torch.floor(lengths.double() * ratio).long()  # [B]
    start = torch.floor(_uniform((b,), seq, generator).double()
                        * (lengths - size + 1).double()).long()
    col, _ = _positions(seq, lengths)
    colf = col.double().unsqueeze(0).expand(b, -1)
    inside = (col.unsqueeze(0) >= start.unsqueeze(1)) & \
        (col.unsqueeze(0) < (start + size).unsqueeze(1))
    # keys: positions outside the run keep their index; inside, a random value in
    # [start, start + size - 1), so sorting permutes the run and nothing else
    rnd = _uniform(tuple(seq.shape), seq, generator).double()
    span = (size - 1).clamp(min=0).double().unsqueeze(1)
    key = torch.where(inside, start.double().unsqueeze(1) + rnd * span, colf)
    perm = key.argsort(dim=1, stable=True)
    return seq.gather(1, perm), lengths


__all__ = ["crop", "mask", "reorder"]
