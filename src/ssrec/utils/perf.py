"""Process-level performance settings applied by the trainer and the benchmarks."""

from __future__ import annotations

import ctypes
import logging
import os
import sys

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def tune_malloc() -> bool:
    """Let glibc's allocator keep and reuse freed large blocks.

    Every training step allocates a few ``[U+I, D]`` temporaries (18 MB each on gowalla). By
    default glibc serves such large blocks with ``mmap`` and unmaps them on free, so every step
    page-faults fresh memory again, which on gowalla cost more than a quarter of the step. Raising ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` keeps them in the heap
    for reuse (peak RSS is unchanged; it is just not handed back between steps). Results are
    not affected.

    Set the environment variable ``SSREC_NO_MALLOC_TUNING=1`` to skip it. Does nothing on
    non-glibc systems. Idempotent.

    Returns:
        True if the settings were applied (now or earlier).
    """
    global _done
    if _done:
        return True
    if os.environ.get("SSREC_NO_MALLOC_TUNING") == "1" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30) == 1
        ok = libc.mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1) == 1 and ok
    except (OSError, AttributeError):
        return False
    _done = ok
    if ok:
        log.debug("glibc malloc tuned: mmap threshold 1 GiB, trim threshold 2 GiB")
    return ok
