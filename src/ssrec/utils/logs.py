"""Logging helpers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet(name: str = "ssrec", level: int = logging.ERROR) -> Iterator[None]:
    """Hold back the records below ``level`` of logger ``name`` and its children inside the
    block, unless it already shows DEBUG records (``ssrec -v``).

    Used where a run's data and model are built again (``ssrec evaluate``, ``ssrec
    recommend``): their notes and warnings were said when the run trained and are in its
    ``results.json``, so they are not repeated on every reload.
    """
    logger = logging.getLogger(name)
    if logger.getEffectiveLevel() <= logging.DEBUG:
        yield
        return
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)
