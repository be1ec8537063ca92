"""Contrastive (InfoNCE-family) losses."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _check_views(a: torch.Tensor, b: torch.Tensor, temperature: float) -> None:
    """The argument checks shared by the two-view contrastive losses."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if a.shape != b.shape:
        raise ValueError(f"views must have the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float,
             normalize: bool = True) -> torch.Tensor:
    """InfoNCE between two views with in-batch negatives.

    For row ``n``, the positive is ``b[n]`` and the negatives are every other row of ``b``:
    ``-log( exp(s(a_n, b_n)/τ) / Σ_m exp(s(a_n, b_m)/τ) )`` with ``s`` the cosine similarity when
    ``normalize`` (van den Oord et al., 2018; used by SGL, SimGCL, XSimGCL).

    The ``[N, N]`` part is one autograd function (:class:`_InBatchSoftmaxCE`): with
    ``normalize``, ``τ`` is folded into ``a`` (the similarities are bounded, so this cannot
    overflow), and the backward pass works from the saved log-probabilities (``softmax - I``).
    Its value and gradients are those of ``F.cross_entropy(a @ b.T / τ, arange(N))`` up to
    float rounding, in about a third less time at ``N = 1900``; second-order gradients
    (``create_graph=True``) work too.

    Args:
        a: ``[N, D]`` first view.
        b: ``[N, D]`` second view (row-aligned with ``a``).
        temperature: τ > 0.
        normalize: L2-normalise rows first (cosine similarity); default True.

    Returns:
        Scalar mean over the ``N`` anchors.

    Raises:
        ValueError: if ``temperature <= 0`` or the shapes differ.
    """
    _check_views(a, b, temperature)
    if normalize:
        return _InBatchSoftmaxCE.apply(F.normalize(a, dim=-1) / temperature,
                                       F.normalize(b, dim=-1), 1.0)
    return _InBatchSoftmaxCE.apply(a, b, temperature)


class _InBatchSoftmaxCE(torch.autograd.Function):
    """``mean_n -log softmax(S)[n, n]`` with ``S = q kᵀ / t`` for ``q, k`` of shape ``[N, D]``
    (:func:`info_nce`: ``q = a / τ, t = 1`` for normalised views, else ``q = a, t = τ``).
    Forward: one product, an in-place division when ``t != 1``, and one fused
    ``log_softmax``, whose ``[N, N]`` output is kept. Backward: ``∂/∂S = (softmax(S) - I) / N``
    from ``exp`` of it, then ``∂/∂q = (∂/∂S) k / t`` and ``∂/∂k = (∂/∂S)ᵀ q / t``, scaled on
    the ``[N, D]`` side. Under ``create_graph=True`` the backward pass recomputes ``softmax(S)``
    from ``q`` and ``k`` with differentiable operations (double backward works).
    """

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor,  # type: ignore[override]
                t: float) -> torch.Tensor:
        s = q @ k.T  # [N, N]
        if t != 1.0:
            s.div_(t)
        logp = torch.log_softmax(s, dim=1)
        ctx.t = t
        ctx.save_for_backward(q, k, logp)
        return -logp.diagonal().mean()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        q, k, logp = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: softmax(S) again, differentiably
            s = q @ k.T
            d_s = torch.softmax(s / ctx.t if ctx.t != 1.0 else s, dim=1)
            d_s = d_s - torch.eye(d_s.shape[0], dtype=d_s.dtype, device=d_s.device)
            scale = grad / (q.shape[0] * ctx.t)
            return (d_s @ k) * scale, (d_s.T @ q) * scale, None
        d_s = torch.exp(logp)  # softmax(S); a new tensor, so a second backward still works
        d_s.diagonal().sub_(1.0)
        scale = grad / (q.shape[0] * ctx.t)
        gq = (d_s @ k).mul_(scale) if ctx.needs_input_grad[0] else None
        gk = (d_s.T @ q).mul_(scale) if ctx.needs_input_grad[1] else None
        return gq, gk, None


def info_nce_candidates(anchors: torch.Tensor, candidates: torch.Tensor, targets: torch.Tensor,
                        temperature: float, normalize: bool = True) -> torch.Tensor:
    """InfoNCE against a fixed candidate set (every candidate but the target is a negative).

    For anchor ``n`` with positive candidate ``t_n``:
    ``-log( exp(s(a_n, c_{t_n})/τ) / Σ_m exp(s(a_n, c_m)/τ) )``, with ``s`` the cosine
    similarity when ``normalize``. Used where the negatives are all users / items of the other
    view (SGL, Wu et al., SIGIR'21, Sec. 3.2; NCL's structural loss, Lin et al., WWW'22,
    Sec. 3.2) or all prototypes (NCL's prototype loss, Sec. 3.3).

    Args:
        anchors: ``[B, D]``.
        candidates: ``[N, D]``.
        targets: ``int64 [B]``, index in ``[0, N)`` of each anchor's positive candidate.
        temperature: τ > 0.
        normalize: L2-normalise anchors and candidates first (default True).

    Returns:
        Scalar mean over the ``B`` anchors.

    Raises:
        ValueError: if ``temperature <= 0``, the embedding sizes differ or ``targets`` does not
            have one entry per anchor.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if anchors.dim() != 2 or candidates.dim() != 2 or anchors.shape[1] != candidates.shape[1]:
        raise ValueError(f"anchors [B, D] and candidates [N, D] must share D, got "
                         f"{tuple(anchors.shape)} and {tuple(candidates.shape)}")
    if targets.shape != (anchors.shape[0],):
        raise ValueError(f"targets must have shape [{anchors.shape[0]}], got "
                         f"{tuple(targets.shape)}")
    if normalize:
        anchors = F.normalize(anchors, dim=-1)
        candidates = F.normalize(candidates, dim=-1)
    logits = anchors @ candidates.T / temperature  # [B, N]
    return F.cross_entropy(logits, targets)


def alignment(x: torch.Tensor, y: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Alignment of positive pairs, ``mean_n ||x̃_n - ỹ_n||^α`` on L2-normalised rows.

    (Wang & Isola, ICML'20; DirectAU, Wang et al., KDD'22, Sec. 4.) Ranges over ``[0, 2^α]``;
    0 when every pair points the same way.

    Args:
        x: ``[N, D]``, e.g. user representations.
        y: ``[N, D]``, their positive partners (e.g. interacted items), row-aligned.
        alpha: exponent α > 0 (default 2).

    Returns:
        Scalar mean over the ``N`` pairs.

    Raises:
        ValueError: if the shapes differ or ``alpha <= 0``.
    """
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    return (F.normalize(x, dim=-1) - F.normalize(y, dim=-1)).norm(dim=-1).pow(alpha).mean()


def uniformity(x: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """Uniformity on the unit hypersphere, ``log mean_{n<m} exp(-t ||x̃_n - x̃_m||²)``.

    (Wang & Isola, ICML'20; DirectAU, Wang et al., KDD'22, Sec. 4.) Over all unordered pairs of
    distinct rows of the L2-normalised ``x``; lower is more uniform (``-4t`` at best, for two
    antipodal points; 0 when all rows coincide).

    Args:
        x: ``[N, D]`` with ``N >= 2``.
        t: ``t > 0`` (default 2).

    Returns:
        Scalar.

    Raises:
        ValueError: if ``N < 2`` or ``t <= 0``.
    """
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"uniformity needs at least 2 rows of a [N, D] matrix, got "
                         f"{tuple(x.shape)}")
    if t <= 0:
        raise ValueError(f"t must be > 0, got {t}")
    sq = torch.pdist(F.normalize(x, dim=-1), p=2).pow(2)  # [N(N-1)/2]
    # log-mean-exp, stable: logsumexp - log(count)
    return torch.logsumexp(-t * sq, dim=0) - math.log(sq.numel())
def cosine_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Negative-free bootstrap loss ``mean(1 - cos(p_n, z_n))`` over rows.

    Equals ``mean(‖p̂_n - ẑ_n‖²) / 2`` for L2-normalised rows, the regression loss of BYOL
    (Grill et al., NeurIPS 2020, Eq. 2) that BUIR uses, and, up to the constant 1, the negative
    cosine similarity of SimSiam / SelfCF. The caller decides where the gradient stops (pass
    ``target.detach()`` for a stop-gradient target).

    Args:
        prediction: ``[N, D]`` online predictions.
        target: ``[N, D]`` targets (row-aligned).

    Returns:
        Scalar in ``[0, 2]``.

    Raises:
        ValueError: if the shapes differ.
    """
    if prediction.shape != target.shape:
        raise ValueError(f"prediction and target must have the same shape, got "
                         f"{tuple(prediction.shape)} and {tuple(target.shape)}")
    return (1.0 - F.cosine_similarity(prediction, target, dim=-1)).mean()


def info_nce_multi_positive(anchor: torch.Tensor, candidates: torch.Tensor,
                            positives: torch.Tensor, temperature: float, normalize: bool = True,
                            reduction: str = "mean") -> torch.Tensor:
    """InfoNCE with several positives per anchor (the neighbour-discrimination loss of SEPT).

    For anchor ``n``: ``-log( Σ_{k} exp(s(a_n, c_{P[n,k]})/τ) / Σ_m exp(s(a_n, c_m)/τ) )``,
    where the positives ``P[n]`` index rows of ``candidates`` and every candidate is in the
    denominator (Yu et al., "Socially-Aware Self-Supervised Tri-Training for Recommendation",
    KDD'21, Eq. 9); ``s`` is the cosine similarity when ``normalize``. Computed with
    ``logsumexp`` (stable for small τ).

    Args:
        anchor: ``[N, D]``.
        candidates: ``[M, D]``.
        positives: ``int64 [N, K]`` indices into ``candidates`` (``K >= 1``).
        temperature: τ > 0.
        normalize: L2-normalise rows first (default True).
        reduction: ``"mean"`` (default) or ``"sum"`` over the ``N`` anchors.

    Returns:
        Scalar.

    Raises:
        ValueError: ``temperature <= 0``, mismatched shapes or an unknown reduction.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if positives.dim() != 2 or positives.shape[0] != anchor.shape[0] or positives.shape[1] < 1:
        raise ValueError(f"positives must be [N, K>=1] with N={anchor.shape[0]}, got "
                         f"{tuple(positives.shape)}")
    if anchor.shape[-1] != candidates.shape[-1]:
        raise ValueError(f"anchor and candidates differ in size: {tuple(anchor.shape)} vs "
                         f"{tuple(candidates.shape)}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if normalize:
        anchor = F.normalize(anchor, dim=-1)
        candidates = F.normalize(candidates, dim=-1)
    logits = anchor @ candidates.T / temperature  # [N, M]
    loss = torch.logsumexp(logits, dim=1) - torch.logsumexp(logits.gather(1, positives), dim=1)
    return loss.mean() if reduction == "mean" else loss.sum()


def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float,
            normalize: bool = False, symmetric: bool = True) -> torch.Tensor:
    """InfoNCE over both views' in-batch negatives (SimCLR's NT-Xent; Chen et al., ICML'20).

    The ``2N`` rows of ``[a; b]`` are anchors; the positive of ``a[n]`` is ``b[n]`` (and vice
    versa) and the negatives are the other ``2N - 2`` rows of both views:
    ``-log( exp(s(z_i, z_j)/τ) / Σ_{k≠i} exp(s(z_i, z_k)/τ) )`` averaged over the ``2N`` anchors.
    This is the contrastive loss of CL4SRec (Xie et al., ICDE'22, Eq. 10, dot-product
    similarity) and DuoRec (Qiu et al., WSDM'22, Eq. 11); with cosine similarity it is GRACE's
    inter- plus intra-view loss (Zhu et al., 2020), MCCLK's cross-view contrast. Memory: the
    ``[2N, 2N]`` logits and their gradient, whatever the catalogue size or sequence length
    (64 MiB each at ``N`` = 2048, the default batch).

    Args:
        a: ``[N, D]`` first view.
        b: ``[N, D]`` second view (row-aligned with ``a``).
        temperature: τ > 0.
        normalize: cosine instead of dot-product similarity (default False, as in both papers).
        symmetric: average over the ``2N`` anchors of both views (default); False: only the
            ``N`` rows of ``a`` are anchors (their negatives are still the other rows of both
            views), as the local-level term of MCCLK's official code.

    Returns:
        Scalar mean over the anchors.

    Raises:
        ValueError: if ``temperature <= 0`` or the shapes differ.
    """
    _check_views(a, b, temperature)
    n = a.shape[0]
    z = torch.cat([a, b], dim=0)  # [2N, D]
    if normalize:
        z = F.normalize(z, dim=-1)
    q = z if symmetric else z[:n]  # anchors [2N or N, D]
    logits = q @ z.T / temperature  # [2N or N, 2N]
    self_mask = torch.eye(q.shape[0], 2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    idx = torch.arange(n, device=z.device)
    labels = torch.cat([idx + n, idx]) if symmetric else idx + n
    return F.cross_entropy(logits, labels)
