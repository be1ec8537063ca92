"""Softmax cross-entropy over the whole item catalogue in bounded memory."""

from __future__ import annotations

import torch

#: default number of logits (rows × items) one chunk may hold: 2^24 float32 = 64 MiB
CHUNK_ELEMENTS = 1 << 24


def full_softmax_ce(h: torch.Tensor, weight: torch.Tensor, target: torch.Tensor,
                    bias: torch.Tensor | None = None,
                    chunk_elements: int = CHUNK_ELEMENTS) -> torch.Tensor:
    """Mean softmax cross-entropy of the targets over all ``I`` items, without ever holding the
    ``[M, I]`` logits: ``mean_m ( logsumexp_i(h_m · w_i + b_i) - (h_m · w_{t_m} + b_{t_m}) )``.

    The next-item (SASRec/DuoRec with ``loss="ce"``, CL4SRec's CE variant) and cloze (BERT4Rec,
    Sun et al., CIKM'19, Eq. 8) losses of the sequential models: pass only the states of
    positions that carry a target (``M`` rows, not ``B × L``). Rows are processed in chunks of
    ``max(1, chunk_elements // I)``; each chunk's logits are computed once, and, when a gradient
    is needed, turned at once into the gradients of ``h``, ``weight`` and ``bias``
    (``softmax - onehot``), so peak extra memory is one ``[chunk, I]`` block plus gradients the
    size of the inputs, whatever ``M``. Values and first-order gradients equal those of
    ``F.cross_entropy(h @ weight.T + bias, target)`` up to float rounding (tested); the
    gradient is computed during the forward pass, so second-order gradients are not supported.

    Args:
        h: ``float [M, D]`` states of the supervised positions.
        weight: ``float [I, D]`` output item embeddings.
        target: ``int64 [M]`` item index in ``[0, I)`` of each row's target.
        bias: optional ``float [I]`` per-item output bias.
        chunk_elements: the most logits one chunk holds (default 2^24, 64 MiB in float32).

    Returns:
        Scalar mean over the ``M`` rows (``nan`` for ``M = 0``, as ``F.cross_entropy``).

    Raises:
        ValueError: mismatched shapes, a target outside ``[0, I)`` or ``chunk_elements < 1``.
    """
    if h.dim() != 2 or weight.dim() != 2 or h.shape[1] != weight.shape[1]:
        raise ValueError(f"h [M, D] and weight [I, D] must share D, got {tuple(h.shape)} and "
                         f"{tuple(weight.shape)}")
    if target.shape != (h.shape[0],):
        raise ValueError(f"target must have shape [{h.shape[0]}], got {tuple(target.shape)}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must have shape [{weight.shape[0]}], got {tuple(bias.shape)}")
    if chunk_elements < 1:
        raise ValueError(f"chunk_elements must be >= 1, got {chunk_elements}")
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= weight.shape[0]):
        raise ValueError(f"targets must lie in [0, {weight.shape[0]}), got "
                         f"[{int(target.min())}, {int(target.max())}]")
    chunk = max(1, chunk_elements // max(int(weight.shape[0]), 1))
    need = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (h, weight, bias))
    if bias is None:
        return _ChunkedSoftmaxCE.apply(h, weight, target, chunk, need)
    return _ChunkedSoftmaxCEBias.apply(h, weight, bias, target, chunk, need)


def _forward(ctx, h, weight, bias, target, chunk, need):
    """The loss, and (``need``) the gradients of ``h``, ``weight`` and ``bias`` of the summed
    loss, saved for :func:`_backward`."""
    m = h.shape[0]
    total = h.new_zeros((), dtype=torch.float64)
    gh = torch.zeros_like(h) if need else None
    gw = torch.zeros_like(weight) if need else None
    gb = torch.zeros_like(bias) if need and bias is not None else None
    for s in range(0, m, chunk):
        hc = h[s:s + chunk]  # [C, D]
        tc = target[s:s + chunk]  # [C]
        logits = hc @ weight.T  # [C, I]
        if bias is not None:
            logits.add_(bias)
        lse = torch.logsumexp(logits, dim=1)  # [C]
        picked = logits.gather(1, tc.unsqueeze(1)).squeeze(1)  # [C]
        total += (lse - picked).sum(dtype=torch.float64)
        if need:
            g = logits.sub_(lse.unsqueeze(1)).exp_()  # softmax, in place: [C, I]
            g[torch.arange(tc.numel(), device=g.device), tc] -= 1.0  # softmax - onehot
            gh[s:s + chunk] = g @ weight
            gw.addmm_(g.T, hc)
            if gb is not None:
                gb += g.sum(0)
    ctx.save_for_backward(*(t for t in (gh, gw, gb) if t is not None))
    ctx.has_bias = bias is not None
    ctx.m = m
    return (total / m).to(h.dtype) if m else h.new_tensor(float("nan"))


def _backward(ctx, grad):
    """The saved gradients times ``grad / M``."""
    if torch.is_grad_enabled():
        raise RuntimeError("full_softmax_ce computes its gradient in the forward pass: "
                           "second-order gradients (create_graph=True) are not supported")
    saved = ctx.saved_tensors
    scale = grad / ctx.m
    gh, gw = (saved[0] * scale, saved[1] * scale) if saved else (None, None)
    gb = saved[2] * scale if saved and ctx.has_bias else None
    return gh, gw, gb


class _ChunkedSoftmaxCE(torch.autograd.Function):
    """:func:`full_softmax_ce` without a bias (see there)."""

    @staticmethod
    def forward(ctx, h, weight, target, chunk, need):  # type: ignore[override]
        return _forward(ctx, h, weight, None, target, chunk, need)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        gh, gw, _ = _backward(ctx, grad)
        return gh, gw, None, None, None


class _ChunkedSoftmaxCEBias(torch.autograd.Function):
    """:func:`full_softmax_ce` with a per-item bias (see there)."""

    @staticmethod
    def forward(ctx, h, weight, bias, target, chunk, need):  # type: ignore[override]
        return _forward(ctx, h, weight, bias, target, chunk, need)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        gh, gw, gb = _backward(ctx, grad)
        return gh, gw, gb, None, None, None
