"""Embedding-space augmentations."""

from __future__ import annotations

import torch


# rows per block of the fused CPU noise kernel: a block's noise, norms and signs stay in cache
NOISE_BLOCK_ROWS = 2048


def uniform_noise(x: torch.Tensor, eps: float, generator: torch.Generator | None = None,
                  training: bool = True) -> torch.Tensor:
    """Add sign-aligned uniform noise of L2 norm ``eps`` to each row (SimGCL / XSimGCL view).

    Implements ``x' = x + eps * normalize(Δ) ⊙ sign(x)`` with ``Δ ~ U(0, 1)`` (Yu et al.,
    "Are Graph Augmentations Necessary?", SIGIR'22, Eq. 7): the noise keeps every coordinate's
    sign, so a row moves at most ``eps`` and stays in its hyperoctant.

    On CPU the noise is built in blocks of :data:`NOISE_BLOCK_ROWS` rows, each drawn,
    normalised and signed while it is in cache; the values are exactly those of one
    ``torch.rand(x.shape)`` draw followed by whole-tensor operations (the CPU generator fills
    a tensor in memory order, so consecutive blocks continue the same stream). Other devices
    draw the whole tensor at once (their counter-based generators are offset per call).

    Args:
        x: ``[N, D]`` embeddings.
        eps: noise magnitude (L2 norm per row), ``>= 0``.
        generator: random generator on ``x``'s device (default: the global one).
        training: when False, return ``x`` unchanged.

    Returns:
        ``[N, D]`` perturbed embeddings (a new tensor; ``x`` is not modified). The gradient
        with respect to ``x`` is the identity (the noise and ``sign(x)`` carry none).

    Raises:
        ValueError: if ``eps < 0``.
    """
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    if not training or eps == 0:
        return x
    n = x.shape[0]
    step = NOISE_BLOCK_ROWS if x.device.type == "cpu" and x.dim() == 2 else max(n, 1)
    with torch.no_grad():
        delta = torch.empty(x.shape, device=x.device, dtype=x.dtype)
        xs = x.detach()
        for s in range(0, n, step):
            d = delta[s:s + step]
            d.uniform_(generator=generator)  # U(0, 1), as torch.rand
            d.div_(torch.linalg.vector_norm(d, dim=-1, keepdim=True).clamp_min_(1e-12))
            d.mul_(eps)
            d.mul_(torch.sign(xs[s:s + step]))
    return x + delta


def _check_rate(p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"drop rate must be in [0, 1), got {p}")


def embedding_dropout(x: torch.Tensor, p: float, generator: torch.Generator | None = None,
                      training: bool = True) -> torch.Tensor:
    """Inverted dropout on embedding entries: each entry is zeroed with probability ``p`` and
    the survivors are scaled by ``1 / (1 - p)``, so ``E[x'] = x``.

    The "embedding dropout" perturbation of SelfCF (Zhou et al., ACM TORS 2023) and the
    feature-dropout view of SSL4Rec applied to ID embeddings (Yao et al., CIKM'21, as adapted
    by SELFRec). Unlike ``torch.nn.functional.dropout`` it draws from ``generator``.

    Args:
        x: ``[N, D]`` (any shape) embeddings.
        p: drop probability in ``[0, 1)``.
        generator: random generator on ``x``'s device (default: the global one).
        training: when False, return ``x`` unchanged.

    Returns:
        A new tensor shaped like ``x`` (``x`` itself when ``p == 0`` or not training).

    Raises:
        ValueError: if ``p`` is outside ``[0, 1)``.
    """
    _check_rate(p)
    if not training or p == 0.0:
        return x
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p
    return x * keep.to(x.dtype) / (1.0 - p)


def complementary_masks(x: torch.Tensor, p: float = 0.5,
                        generator: torch.Generator | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Two views with complementary feature masks: a random subset of each row's entries
    (each entry independently with probability ``p``) is zeroed in the first view and kept in
    the second, and vice versa.

    The random feature masking (RFM) of SSL4Rec (Yao et al., CIKM'21), applied to the
    dimensions of an ID embedding: the two views share no visible feature, so the contrastive
    task must relate them through what the model learned.

    Args:
        x: ``[N, D]`` embeddings.
        p: probability that an entry is hidden in the first view, in ``[0, 1)``.
        generator: random generator on ``x``'s device.

    Returns:
        ``(view1 [N, D], view2 [N, D])`` with ``view1 + view2 == x``.

    Raises:
        ValueError: if ``p`` is outside ``[0, 1)``.
    """
    _check_rate(p)
    hide = (torch.rand(x.shape, generator=generator, device=x.device) < p).to(x.dtype)
    return x * (1.0 - hide), x * hide
