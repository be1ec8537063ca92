"""Trainer events and the built-in sinks (console log lines, JSONL file).

A callback is any object with some of these methods; the trainer calls those that exist:

* ``on_fit_start(trainer)``
* ``on_epoch_start(trainer, epoch)``
* ``on_epoch_end(trainer, record)`` — ``record`` is the epoch's log dict (loss parts, seconds,
  validation metrics when evaluated)
* ``on_validation_end(trainer, epoch, metrics, improved)``
* ``on_fit_end(trainer, result)``

New behaviour (TensorBoard, plots, tuning pruners) plugs in here; nobody subclasses the trainer.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Protocol

from ssrec.utils.io import append_jsonl, atomic_write_text

log = logging.getLogger("ssrec.train")


class Callback(Protocol):
    """Structural type of a callback (all methods optional)."""


class JsonlLogger:
    """Appends one JSON line per epoch (and one for the final test result) to ``path``.

    Args:
        path: the log file; emptied at start, unless ``keep_epochs`` is given.
        keep_epochs: when resuming, keep the epoch lines up to this epoch (dropping any later
            line written before an interruption, and the test line) and append after them.
    """

    def __init__(self, path: str | Path, keep_epochs: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = []
        if keep_epochs is not None and self.path.is_file():
            for line in self.path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by the interruption
                if isinstance(rec.get("epoch"), int) and rec["epoch"] <= keep_epochs:
                    kept.append(line)
        atomic_write_text(self.path, "".join(f"{line}\n" for line in kept))

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        append_jsonl(self.path, record)

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        append_jsonl(self.path, {"event": "test", "best_epoch": result.best_epoch,
                                 "test": result.test})


def _fmt(d: dict[str, float], keys: list[str] | None = None) -> str:
    keys = keys or list(d)
    return " ".join(f"{k} {d[k]:.4f}" for k in keys if k in d)


class ConsoleLogger:
    """One ``logging`` line per epoch: loss parts, training and validation seconds, monitored
    validation metrics; at the end, the best epoch (the test metrics are the caller's to
    print: ``ssrec train`` prints them once, :func:`~ssrec.training.run.run` returns them).
    """

    def __init__(self, show: list[str] | None = None):
        self.show = show

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        parts = record.get("loss", {})
        secs = f"train {record['train_seconds']:.1f}s"
        if "valid_seconds" in record:
            secs += f" + valid {record['valid_seconds']:.1f}s"
        msg = f"epoch {record['epoch']:>3} | loss {_fmt(parts)} | {secs}"
        if "valid" in record:
            show = self.show or [trainer.monitor] + [
                k for k in record["valid"] if k.startswith("recall@")][:1]
            star = " *" if record.get("improved") else ""
            msg += f" | valid {_fmt(record['valid'], show)}{star}"
        log.info(msg)

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        best = f"valid {trainer.monitor} {result.valid[trainer.monitor]:.4f}" \
            if trainer.monitor in result.valid else "no validation"
        log.info("best epoch %s of %s (%s); its weights scored the test split once",
                 result.best_epoch, result.epochs_run, best)
