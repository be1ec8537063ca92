"""Momentum (exponential moving average) updates of target encoders.

BYOL-style recommenders (BUIR) keep a *target* copy of the online encoder's parameters that is
never trained by gradients: after every optimiser step it moves towards the online parameters,
``ξ ← m·ξ + (1 − m)·θ`` (Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020, Sec. 3.1;
Lee et al., BUIR, SIGIR 2021, Sec. 3). Models call :func:`ema_` from their ``on_after_step``
hook, which the shared trainer runs after each ``optimizer.step()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def ema_(target: torch.Tensor | Sequence[torch.Tensor],
         source: torch.Tensor | Sequence[torch.Tensor], momentum: float) -> None:
    """In place: ``target ← momentum · target + (1 − momentum) · source`` for each pair.

    Args:
        target: a tensor or a sequence of tensors (e.g. buffers holding the target encoder),
            updated in place without autograd tracking.
        source: tensors of the same shapes (e.g. the online encoder's parameters); read only.
        momentum: ``m`` in ``[0, 1]``; 1 keeps the target frozen, 0 copies the source.

    Raises:
        ValueError: if ``momentum`` is outside ``[0, 1]``, the sequences differ in length, or a
            pair differs in shape.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    targets = [target] if isinstance(target, torch.Tensor) else list(target)
    sources = [source] if isinstance(source, torch.Tensor) else list(source)
    if len(targets) != len(sources):
        raise ValueError(f"got {len(targets)} target tensors for {len(sources)} source tensors")
    for t, s in zip(targets, sources):
        if t.shape != s.shape:
            raise ValueError(f"target shape {tuple(t.shape)} != source shape {tuple(s.shape)}")
    with torch.no_grad():
        for t, s in zip(targets, sources):
            # lerp: t + (1 - m) (s - t) = m t + (1 - m) s
            t.lerp_(s.detach().to(t.dtype), 1.0 - momentum)
