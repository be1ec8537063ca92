"""Atomic file writes: results and checkpoints are never left half-written.

Each writer writes to a temporary file in the target's folder, flushes and fsyncs it, then
renames it over the target with :func:`os.replace`, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic(path: str | os.PathLike[str], write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def remove_partial_writes(folder: str | os.PathLike[str]) -> list[str]:
    """Delete the temporary files that interrupted atomic writes left in ``folder`` (a process
    killed between writing and renaming leaves ``.<name>.<random>.tmp``).

    Returns:
        The names of the files whose writes were interrupted (e.g. ``["last.pt"]``), sorted.
    """
    names = set()
    for tmp in Path(folder).glob(".*.tmp"):
        target, dot, _ = tmp.name[1:-len(".tmp")].rpartition(".")
        if dot and target and tmp.is_file():
            tmp.unlink(missing_ok=True)
            names.add(target)
    return sorted(names)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return _atomic(path, lambda fh: fh.write(text.encode("utf-8")))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int = 2) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically; returns the path."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=False) + "\n")


def atomic_save_torch(path: str | os.PathLike[str], obj: Any) -> Path:
    """:func:`torch.save` ``obj`` to ``path`` atomically; returns the path."""
    return _atomic(path, lambda fh: torch.save(obj, fh))


def append_jsonl(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one JSON line to ``path`` and flush it (a crash loses at most the line being written)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()
