"""Small utilities: seeding, device resolution, atomic file writes, logging helpers."""

from ssrec.utils.device import resolve_device
from ssrec.utils.io import atomic_save_torch, atomic_write_json, atomic_write_text
from ssrec.utils.seed import seed_everything

__all__ = [
    "atomic_save_torch",
    "atomic_write_json",
    "atomic_write_text",
    "resolve_device",
    "seed_everything",
]
