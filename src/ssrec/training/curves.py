"""Training curves: each loss part and the monitored validation metric per epoch.

:func:`plot_curves` draws one or several runs (``ssrec plot RUN [RUN ...]`` overlays them;
every run folder gets its own ``curves.png`` from :class:`~ssrec.training.callbacks.CurvesPlot`).
One panel per loss part (the parts a model logs: ``total``, ``bpr``, ``reg``, ``cl`` ...) and a
last panel for the monitored metric; the best epoch of each run is marked with a dashed line.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ssrec.errors import SsrecError
from ssrec.utils.plot import new_figure, save_png

PANEL_W, PANEL_H, DPI = 3.4, 2.6, 100  # inches per panel, pixels per inch
MAX_COLS = 3


@dataclass
class Curve:
    """One run's epoch records (the lines of ``log.jsonl``).

    Attributes:
        label: legend label.
        records: per-epoch dicts with ``epoch``, ``loss`` (``{part: value}``),
            ``train_seconds`` and, on validated epochs, ``valid`` (``{metric: value}``).
        monitor: the monitored metric (``"ndcg@20"``).
        best_epoch: the kept epoch (None: unknown, e.g. an unfinished run).
    """

    label: str
    records: list[dict[str, Any]] = field(default_factory=list)
    monitor: str = "ndcg@20"
    best_epoch: int | None = None


def read_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The epoch records of a ``log.jsonl`` (the test line and a line cut by an interruption
    are skipped)."""
    out = []
    for line in Path(path).read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec.get("epoch"), int) and "loss" in rec:
            out.append(rec)
    return out


def read_curve(run_dir: str | os.PathLike[str], label: str | None = None) -> Curve:
    """A run folder's curve: ``log.jsonl``, the monitor of ``config.yaml`` and the best epoch
    of ``results.json`` (absent for an unfinished run: the best validated epoch so far).

    Raises:
        SsrecError: the folder has no ``log.jsonl`` or no epoch in it.
    """
    run_dir = Path(run_dir)
    log = run_dir / "log.jsonl"
    if not log.is_file():
        raise SsrecError(f"{run_dir}: no log.jsonl; is it an ssrec run folder?")
    records = read_log(log)
    if not records:
        raise SsrecError(f"{log}: no epoch recorded yet")
    monitor = None
    cfg = run_dir / "config.yaml"
    if cfg.is_file():
        monitor = ((yaml.safe_load(cfg.read_text()) or {}).get("train") or {}).get("monitor")
    valid = [r for r in records if r.get("valid")]
    monitor = monitor or next((k for k in (valid[0]["valid"] if valid else {})
                               if k.startswith("ndcg@")), "ndcg@20")
    best = None
    res = run_dir / "results.json"
    if res.is_file():
        try:
            best = json.loads(res.read_text()).get("best_epoch")
        except json.JSONDecodeError:
            best = None
    if best is None and valid:
        best = max(valid, key=lambda r: r["valid"].get(monitor, -math.inf))["epoch"]
    return Curve(label or run_dir.name, records, monitor, best)


def plot_curves(curves: Sequence[Curve], path: str | os.PathLike[str],
                title: str | None = None) -> Path:
    """Draw the loss parts and the monitored validation metric of ``curves`` per epoch into a
    PNG at ``path`` (written atomically; headless). The figure has one panel per loss part
    (the union over runs, ``total`` first) plus one for the metric, at most three panels a row
    of ``3.4 × 2.6`` inches at 100 dpi; each run's best epoch is a dashed vertical line and a
    dot on its metric curve.

    Raises:
        SsrecError: no curve has an epoch.
    """
    curves = [c for c in curves if c.records]
    if not curves:
        raise SsrecError("no epochs to plot")
    parts: list[str] = []
    for c in curves:
        for r in c.records:
            parts += [p for p in r["loss"] if p not in parts]
    parts.sort(key=lambda p: p != "total")
    monitors = list(dict.fromkeys(c.monitor for c in curves))
    n = len(parts) + len(monitors)
    cols = min(n, MAX_COLS)
    rows = math.ceil(n / cols)
    fig = new_figure(PANEL_W * cols, PANEL_H * rows)
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    colors = [f"C{i % 10}" for i in range(len(curves))]
    for ax, part in zip(axes, parts):
        for c, color in zip(curves, colors):
            pts = [(r["epoch"], r["loss"][part]) for r in c.records if part in r["loss"]]
            if pts:
                ax.plot(*zip(*pts), color=color, lw=1.2, label=c.label)
            if c.best_epoch:
                ax.axvline(c.best_epoch, color=color, ls="--", lw=0.8, alpha=0.7)
        ax.set_title(f"loss: {part}", fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        values = [r["loss"][part] for c in curves for r in c.records if part in r["loss"]]
        if values and min(values) > 0 and max(values) / min(values) > 50:
            ax.set_yscale("log")
    for ax, monitor in zip(axes[len(parts):], monitors):
        for c, color in zip(curves, colors):
            if c.monitor != monitor:
                continue
            pts = [(r["epoch"], r["valid"][monitor]) for r in c.records
                   if monitor in (r.get("valid") or {})]
            if pts:
                ax.plot(*zip(*pts), color=color, lw=1.2, marker="." if len(pts) < 30 else None,
                        label=c.label)
            best = dict(pts).get(c.best_epoch) if c.best_epoch else None
            if best is not None:
                ax.axvline(c.best_epoch, color=color, ls="--", lw=0.8, alpha=0.7)
                ax.plot([c.best_epoch], [best], "o", color=color, ms=5)
        ax.set_title(f"valid {monitor} (dashed: best epoch)", fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(curves) > 1:
        axes[-1].legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_png(fig, path, dpi=DPI)
