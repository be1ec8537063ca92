"""Trainer events and the built-in sinks (console log lines, JSONL file, curves.png,
TensorBoard scalars).

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

from ssrec.errors import SsrecError
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
        scored = ("its weights scored the test split once" if result.test else
                  "the test split was not scored")
        log.info("best epoch %s of %s (%s); %s", result.best_epoch, result.epochs_run, best,
                 scored)


class CurvesPlot:
    """Writes ``curves.png`` into the run folder at the end of a run: every loss part and the
    monitored validation metric per epoch, the best epoch marked
    (:func:`ssrec.training.curves.plot_curves`; headless, atomic).

    A resumed run's figure includes the epochs before the interruption (read from
    ``log.jsonl`` at the start of :meth:`~ssrec.training.trainer.Trainer.fit`).

    Args:
        run_dir: the run folder (``log.jsonl`` read from it, ``curves.png`` written into it).
        title: figure title (default: the model's name).
    """

    FILE = "curves.png"

    def __init__(self, run_dir: str | Path, title: str | None = None):
        self.run_dir = Path(run_dir)
        self.title = title
        self.records: list[dict[str, Any]] = []

    def on_fit_start(self, trainer: Any) -> None:
        from ssrec.training.curves import read_log

        log_path = self.run_dir / "log.jsonl"
        done = trainer.state.epoch
        self.records = ([r for r in read_log(log_path) if r["epoch"] <= done]
                        if done and log_path.is_file() else [])

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        self.records.append(record)

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        from ssrec.training.curves import Curve, plot_curves

        if not self.records:
            return  # nothing trained (a baseline without training, or epochs=0)
        curve = Curve(self.run_dir.name, self.records, trainer.monitor, result.best_epoch)
        plot_curves([curve], self.run_dir / self.FILE, title=self.title or trainer.model.name)


def tensorboard_writer_class() -> Any:
    """``torch.utils.tensorboard.SummaryWriter``.

    Raises:
        SsrecError: the ``tensorboard`` package is missing (one line saying how to install
            it).
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise SsrecError("train.tensorboard needs the tensorboard package: pip install "
                         "'ssrec[tensorboard]' (or pip install tensorboard)") from None
    return SummaryWriter


class TensorBoardLogger:
    """TensorBoard scalars per epoch (step = epoch): ``loss/<part>`` for every loss part,
    ``valid/<metric>`` on validated epochs, ``time/epoch_seconds`` (training) and
    ``time/valid_seconds``; at the end ``test/<metric>`` at the best epoch when the test split
    was scored. Event files go to ``log_dir`` (``<run>/tensorboard``); a fresh run empties it,
    a resumed one drops the events after its last completed epoch (``purge_step``).

    Raises:
        SsrecError: the ``tensorboard`` package is missing (at construction).
    """

    def __init__(self, log_dir: str | Path):
        self.log_dir = Path(log_dir)
        self._cls = tensorboard_writer_class()
        self.writer: Any = None

    def on_fit_start(self, trainer: Any) -> None:
        done = trainer.state.epoch
        if not done and self.log_dir.is_dir():
            for old in self.log_dir.glob("events.out.tfevents.*"):
                old.unlink()
        self.writer = self._cls(str(self.log_dir), purge_step=done + 1 if done else None)

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        w, step = self.writer, record["epoch"]
        for part, value in record.get("loss", {}).items():
            w.add_scalar(f"loss/{part}", value, step)
        w.add_scalar("time/epoch_seconds", record["train_seconds"], step)
        if "valid" in record:
            w.add_scalar("time/valid_seconds", record.get("valid_seconds", 0.0), step)
            for key, value in record["valid"].items():
                w.add_scalar(f"valid/{key}", value, step)
        w.flush()

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        for key, value in result.test.items():
            self.writer.add_scalar(f"test/{key}", value, result.best_epoch)
        self.writer.close()
