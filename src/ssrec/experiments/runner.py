"""Run the cells of an experiment: skip the finished, resume the interrupted, train the rest.

A cell is **finished** when its folder holds ``results.json`` written by the same
configuration (the budget keys may differ, see :data:`ssrec.training.run.BUDGET_KEYS`),
**interrupted** when it holds ``last.pt`` (it resumes from the last completed epoch, so a
killed experiment restarted with the same command loses at most one epoch per running cell),
and **new** otherwise. A finished cell that trained every epoch of its budget (no early stop)
is **extended** when the spec's ``train.epochs`` has grown since: it resumes from ``last.pt``
and trains on under the new budget, as if it had run with it from the start. A cell being trained holds an exclusive lock on ``<run_dir>.lock``
(released by the operating system when the process dies), so several ``ssrec compare``
processes on one spec share its cells instead of training one twice.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssrec.errors import ConfigError, SsrecError
from ssrec.experiments.spec import Cell, Experiment

try:  # POSIX: the lock dies with its process
    import fcntl
except ImportError:  # pragma: no cover - Windows: no cross-process lock
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("ssrec.compare")

#: cell states reported by :func:`cell_state`
STATES = ("finished", "interrupted", "extend", "new", "changed")


def cell_state(cell: Cell) -> tuple[str, str | None]:
    """``(state, detail)`` of a cell's folder: ``"finished"``, ``"interrupted"`` (a
    ``last.pt`` to resume), ``"extend"`` (finished by running out of a smaller epoch budget
    than the spec's now, without early stopping: it resumes from ``last.pt`` and trains on;
    ``detail`` says from which budget), ``"new"``, or ``"changed"`` (its files were written by
    another configuration; ``detail`` names the first differing key)."""
    from ssrec.models import dump_config
    from ssrec.training.run import _config_difference

    d = cell.run_dir
    cfg_file = d / "config.yaml"
    if not cfg_file.is_file():
        return "new", None
    saved = cfg_file.read_text()
    diff = _config_difference(saved, dump_config(_resolved(cell)))
    if diff is not None:
        return "changed", diff
    if (d / "results.json").is_file():
        ran = _ran_out_of_budget(d, saved)
        if ran is not None and cell.config.train.epochs > ran and (d / "last.pt").is_file():
            return "extend", f"budget {ran} -> {cell.config.train.epochs} epochs"
        return "finished", None
    if (d / "last.pt").is_file():
        return "interrupted", None
    return "new", None


def _ran_out_of_budget(run_dir: Path, saved_config: str) -> int | None:
    """The epoch budget of a finished run (its ``config.yaml`` text given) that trained every
    epoch of it (no early stop), else None."""
    import json

    import yaml

    try:
        results = json.loads((run_dir / "results.json").read_text())
        budget = ((yaml.safe_load(saved_config) or {}).get("train") or {}).get("epochs")
    except (OSError, ValueError, yaml.YAMLError):
        return None
    ran = results.get("epochs_run")
    return int(budget) if budget and ran and ran >= budget else None


def _resolved(cell: Cell):
    from ssrec.training.run import resolve_data_needs

    return resolve_data_needs(cell.config)


@contextmanager
def _cell_lock(cell: Cell):
    """Yield True when this process holds the cell's lock, False when another one does."""
    with exclusive_lock(cell.run_dir.with_name(cell.run_dir.name + ".lock")) as mine:
        yield mine


@contextmanager
def exclusive_lock(path: Path):
    """Yield True when this process holds an exclusive lock on the file ``path`` (created if
    missing), False when another process does; the operating system releases it when the
    process dies (POSIX ``flock``; elsewhere always True)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield True
        return
    fh = open(path, "a+")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()


@dataclass
class CellOutcome:
    """What happened to one cell: ``status`` is ``"done"`` (already finished),
    ``"trained"``, ``"resumed"`` (interrupted or extended), ``"busy"`` (another process holds
    it) or ``"failed"``."""

    cell: str
    status: str
    seconds: float = 0.0
    error: str | None = None


def run_cell(cell: Cell, rerun_changed: bool = False, threads: int | None = None
             ) -> CellOutcome:
    """Train one cell unless it is finished or locked by another process.

    Raises:
        SsrecError: the folder holds a run of another configuration (unless
            ``rerun_changed``, which trains the cell afresh).
    """
    from ssrec.training.run import run

    with _cell_lock(cell) as mine:
        if not mine:
            return CellOutcome(cell.name, "busy")
        state, diff = cell_state(cell)
        if state == "finished":
            return CellOutcome(cell.name, "done")
        if state == "changed" and not rerun_changed:
            raise SsrecError(f"cell {cell.name}: {cell.run_dir} holds a run of another "
                             f"configuration ({diff}); pass --rerun-changed to train it "
                             "again, or use another --out")
        cfg = cell.config
        if threads:
            cfg = cfg.model_copy(update={"train": cfg.train.model_copy(
                update={"num_threads": threads})})
        t0 = time.perf_counter()
        resume = state in ("interrupted", "extend")
        log.info("[compare] %s: %s", cell.name, f"extending ({diff})" if state == "extend"
                 else "resuming" if resume else "training")
        run(cfg, resume=resume)
        return CellOutcome(cell.name, "resumed" if resume else "trained",
                           time.perf_counter() - t0)


def _worker(cell: Cell, rerun_changed: bool, threads: int | None) -> CellOutcome:
    import torch

    if threads:
        torch.set_num_threads(threads)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return run_cell(cell, rerun_changed, threads)
    except SsrecError as exc:
        return CellOutcome(cell.name, "failed", error=str(exc))


def run_experiment(exp: Experiment, cells: list[Cell] | None = None, jobs: int = 1,
                   threads: int | None = None, rerun_changed: bool = False,
                   stop_on_error: bool = False) -> list[CellOutcome]:
    """Train every unfinished cell (``cells``: a subset, default all), ``jobs`` at a time.

    Args:
        exp: the experiment.
        cells: the cells to consider (default: all, seed-major order).
        jobs: cells trained at once, each in its own process (1: in this process).
        threads: PyTorch threads per cell (default: the cell's ``train.num_threads``, else,
            with ``jobs > 1``, the CPU count divided by ``jobs``).
        rerun_changed: train afresh the cells whose folder holds another configuration.
        stop_on_error: raise at the first failing cell instead of going on.

    Returns:
        One :class:`CellOutcome` per cell.

    Raises:
        SsrecError: with ``stop_on_error``, the first failure.
    """
    todo = list(exp.cells if cells is None else cells)
    if jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs}")
    if jobs > 1 and threads is None:
        threads = max(1, (os.cpu_count() or 1) // jobs)
    outcomes: list[CellOutcome] = []
    if jobs == 1:
        for cell in todo:
            try:
                out = run_cell(cell, rerun_changed, threads)
            except SsrecError as exc:
                if stop_on_error:
                    raise
                out = CellOutcome(cell.name, "failed", error=str(exc))
                log.error("[compare] %s failed: %s", cell.name, exc)
            outcomes.append(out)
        return outcomes
    ctx = mp.get_context("spawn")  # a fresh interpreter per worker: no forked thread pools
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        pending: dict[Future[CellOutcome], Cell] = {}
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < jobs:
                cell = queue.pop(0)
                if cell_state(cell)[0] == "finished":
                    outcomes.append(CellOutcome(cell.name, "done"))
                    continue
                pending[pool.submit(_worker, cell, rerun_changed, threads)] = cell
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                cell = pending.pop(fut)
                out = fut.result()
                outcomes.append(out)
                if out.status == "failed":
                    log.error("[compare] %s failed: %s", cell.name, out.error)
                    if stop_on_error:
                        for f in pending:
                            f.cancel()
                        raise SsrecError(f"cell {cell.name} failed: {out.error}")
                else:
                    log.info("[compare] %s: %s (%.0f s)", cell.name, out.status, out.seconds)
    return outcomes


def status_table(exp: Experiment, cells: list[Cell] | None = None) -> list[dict[str, Any]]:
    """One row per cell: its name, state, detail and, when interrupted, the last epoch."""
    import json

    rows = []
    for cell in exp.cells if cells is None else cells:
        state, detail = cell_state(cell)
        row: dict[str, Any] = {"cell": cell.name, "state": state, "detail": detail}
        log_file: Path = cell.run_dir / "log.jsonl"
        if state == "interrupted" and log_file.is_file():
            epochs = [json.loads(x).get("epoch") for x in log_file.read_text().splitlines()
                      if x.strip().startswith("{")]
            row["epoch"] = max((e for e in epochs if isinstance(e, int)), default=0)
        rows.append(row)
    return rows


__all__ = ["CellOutcome", "STATES", "cell_state", "run_cell", "run_experiment",
           "status_table"]
