"""Seeding of Python, NumPy and PyTorch."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's ``random``, NumPy's legacy global RNG and PyTorch (CPU and CUDA).

    Args:
        seed: any non-negative integer.

    Returns:
        A fresh :class:`numpy.random.Generator` seeded with ``seed``, for code that takes an
        explicit generator (samplers, splits).
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def torch_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A :class:`torch.Generator` on ``device`` seeded with ``seed`` (for augmentations)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen
