"""Resolve a device specification to a :class:`torch.device`."""

from __future__ import annotations

import torch

from ssrec.errors import ConfigError


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into a :class:`torch.device`.

    Args:
        spec: ``"auto"`` (default) picks ``cuda`` when a CUDA device is available, else ``cpu``.

    Raises:
        ConfigError: if CUDA is requested but not available, or the string is not a device.
    """
    if isinstance(spec, torch.device):
        return spec
    s = str(spec).strip().lower()
    if s == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(s)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(f"device: {spec!r} is not a device; use auto, cpu, cuda or cuda:N") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {spec!r} requested but CUDA is not available; use device=auto or cpu")
    return dev
