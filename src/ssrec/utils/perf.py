"""Process-level performance settings applied by the trainer and the benchmarks."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
from collections.abc import Iterator

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 1 << 30
_done = False


def tune_malloc() -> bool:
    """Let glibc's allocator keep and reuse freed medium-sized blocks.

    Every training step allocates a few ``[U+I, D]`` temporaries (18 MB each on gowalla). By
    default glibc serves such blocks with ``mmap`` and unmaps them on free, so every step
    page-faults fresh memory again, which on gowalla cost more than a quarter of the step.
    Raising ``M_MMAP_THRESHOLD`` (to 1 GiB) and ``M_TRIM_THRESHOLD`` keeps them in the heap
    for reuse, and likewise the evaluator's ``[block, I]`` score blocks (mapping them afresh
    made a gowalla evaluation 1.5x slower). :func:`release_free_memory` (called by the
    evaluator) hands the heap's free pages back before an evaluation, so training's freed
    temporaries and the score blocks do not add up in the peak. Results are not affected.

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
        ok = libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1
        ok = libc.mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1) == 1 and ok
    except (OSError, AttributeError):
        return False
    _done = ok
    if ok:
        log.debug("glibc malloc tuned: mmap threshold 1 GiB, trim threshold 2 GiB")
    return ok


def release_free_memory() -> None:
    """Return the heap's free pages to the system (glibc ``malloc_trim(0)``).

    Only acts after :func:`tune_malloc` took effect (otherwise glibc trims by itself). Costs a
    few milliseconds; the next training step page-faults its temporaries once again.
    """
    if not _done:
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def deterministic_kernels(enabled: bool = True) -> Iterator[None]:
    """Use PyTorch's deterministic kernels inside the block (restored afterwards).

    Ops without a deterministic kernel only warn. PyTorch's deterministic mode also fills
    every newly allocated tensor with NaN by default (to expose reads of uninitialised memory);
    that costs a full write of each temporary (a dozen ``[U+I, D]`` fills per LightGCN step on
    gowalla) and changes no result of a correct kernel, so it is switched off here.

    On CUDA, cuBLAS is deterministic only with ``CUBLAS_WORKSPACE_CONFIG`` set; it is set to
    ``:4096:8`` (PyTorch's advice) when unset, before the first cuBLAS call of the process
    where a run enables this (it is read when cuBLAS creates its handle).

    Args:
        enabled: False runs the block with the default (non-deterministic) kernels.
    """
    import os

    import torch
    import torch.utils.deterministic as det

    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

    previous = (torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
                det.fill_uninitialized_memory)
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    det.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        det.fill_uninitialized_memory = previous[2]
