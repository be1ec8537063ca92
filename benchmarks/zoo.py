"""The model-zoo results table: every graph-family / general model on lastfm and ml-100k.

For each (model, dataset) cell, in a fresh subprocess, this trains the model with the shared
trainer (selection and early stopping on the **validation** split), scores the test split once
with the best weights, and records Recall@20, NDCG@20, the epoch of the best validation score
and the mean training seconds per epoch. Cells already present in the JSON file are skipped
unless ``--force`` is given, so the command can be stopped and resumed, or rerun after new
models are registered (only the new cells train). ``--render`` rewrites the Markdown table
from the JSON without training anything.

Protocol (also written above the table):

* lastfm: the dataset's own train/test files; 10% of each user's training interactions held out
  for validation (seed 2020).
* ml-100k: ratings >= 4 are positives; per-user random 80/10/10 train/valid/test split
  (seed 2020). The data options are passed here, not through a preset, because ml-100k is also
  used with leave-one-out by the sequential models.
* The training budget (lastfm: its preset; ml-100k: set here) and tuned per-model
  hyper-parameters (the ``models:`` entries of ``src/ssrec/presets/<dataset>.yaml``); everything else is the model's paper default.

Outputs: ``benchmarks/results/zoo.json`` (raw numbers, one record per cell) and ``docs/zoo.md``.
Per-cell run folders (config, per-epoch log) go to ``runs/zoo/<dataset>/<model>/``.

Examples::

    python benchmarks/zoo.py                                   # every missing cell
    python benchmarks/zoo.py --models SGL NCL --datasets lastfm --force
    python benchmarks/zoo.py --render                          # table only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "zoo.json"
DEFAULT_DOC = ROOT / "docs" / "zoo.md"
NOTES = ROOT / "benchmarks" / "notes" / "zoo.md"
EXCLUDED_FAMILIES = ("sequential", "social")
SEED = 2020

# data options per dataset, passed on the command line of every cell (never through a preset)
DATASETS: dict[str, dict[str, Any]] = {
    "lastfm": {
        "overrides": [],
        "protocol": "the dataset's own train/test files (SELFRec's split); 10% of each user's "
                    "training interactions held out as the validation split (seed 2020)",
    },
    "ml-100k": {
        "overrides": ["data.rating_threshold=4", "data.split=ratio",
                      "data.ratios=[0.8,0.1,0.1]", "train.epochs=300", "train.min_epochs=30"],
        "protocol": "ratings >= 4 are positives (the rest dropped); per-user random 80/10/10 "
                    "train/validation/test split (seed 2020); at most 300 epochs, early stopping not before "
                    "epoch 30",
    },
}
BASELINE = "LightGCN"


def _setup_path() -> None:
    src = str(ROOT / "src")
    if src not in sys.path:
        sys.path.insert(0, src)


def default_models() -> list[str]:
    """Every registered model except the sequential and social families."""
    _setup_path()
    from ssrec.models import MODELS

    return [n for n in MODELS.names() if MODELS.get(n).family not in EXCLUDED_FAMILIES]


def cell_overrides(model: str, dataset: str, args: argparse.Namespace) -> list[str]:
    out = [f"model.name={model}", f"data.dataset={dataset}", f"seed={SEED}",
           "train.progress=false", "train.save_checkpoints=false",
           *DATASETS[dataset]["overrides"]]
    if args.data_dir:
        out.append(f"data.data_dir={args.data_dir}")
    if args.threads:
        out.append(f"train.num_threads={args.threads}")
    return out + list(args.set)


def child(overrides: list[str], out_dir: str) -> dict[str, Any]:
    """Train one cell (runs in the subprocess); returns its record."""
    _setup_path()
    import logging

    import torch

    from ssrec.config import load_config
    from ssrec.training import run

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_config(None, [*overrides, f"output_dir={out_dir}"])
    t0 = time.perf_counter()
    result = run(cfg, write=True)
    wall = time.perf_counter() - t0
    epochs = [r["train_seconds"] for r in result.history]
    resolved = cfg.resolved()
    return {
        "model": resolved["model"]["name"],
        "dataset": cfg.data.dataset,
        "family": cfg.model_cls().family,
        "test": result.test,
        "valid": result.valid,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "seconds_per_epoch": sum(epochs) / len(epochs) if epochs else 0.0,
        "seconds": {**result.seconds, "wall": wall},
        "model_config": resolved["model"],
        "train_config": resolved["train"],
        "data_config": resolved["data"],
        "overrides": overrides,
        "environment": {"torch": torch.__version__, "threads": torch.get_num_threads(),
                        "machine": platform.machine(),
                        "python": platform.python_version(), "cpus": os.cpu_count(),
                        "device": cfg.device},
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def load_results(path: Path) -> dict[str, Any]:
    if path.is_file():
        return json.loads(path.read_text())
    return {"cells": {}}


def save_results(path: Path, results: dict[str, Any]) -> None:
    _setup_path()
    from ssrec.utils.io import atomic_write_json

    atomic_write_json(path, results)


def _fmt_cfg(cell: dict[str, Any], defaults: dict[str, Any]) -> str:
    diff = {k: v for k, v in cell["model_config"].items()
            if k != "name" and defaults.get(k, object()) != v}
    return ", ".join(f"{k}={v}" for k, v in diff.items()) or "paper defaults"


def _budget(cell: dict[str, Any]) -> str:
    t = cell["train_config"]
    return (f"at most {t['epochs']} epochs, batch {t['batch_size']}, lr {t['lr']}, "
            f"eval_every {t['eval_every']}, patience {t['patience']}, "
            f"min_epochs {t['min_epochs']}")


def render(results: dict[str, Any], datasets: list[str]) -> str:
    """The Markdown page: protocol, one table per dataset, notes."""
    _setup_path()
    from ssrec.models import MODELS

    cells = results["cells"]
    lines = [
        "# Model zoo: graph and general models on lastfm and ml-100k",
        "",
        "Produced by `python benchmarks/zoo.py` (raw numbers: `benchmarks/results/zoo.json`; "
        "rerun it to add missing cells, `--force` to retrain, `--render` to rewrite this page).",
        "",
        "## Protocol",
        "",
    ]
    for ds in datasets:
        lines.append(f"* **{ds}**: {DATASETS[ds]['protocol']}.")
    lines += [
        "* Every model is trained by the shared trainer (Adam, seed 2020) with the training "
        "budget of the dataset preset (`src/ssrec/presets/<dataset>.yaml`, listed per dataset "
        "below): validation every `eval_every` epochs, early stopping after `patience` "
        "validations without improvement of NDCG@20, never before `min_epochs`. The weights "
        "of the epoch with the best **validation** NDCG@20 are restored and the **test split "
        "is scored once**.",
        "* Full ranking: every item is ranked for every test user; the user's training and "
        "validation items are masked. Test users / items never seen in training are dropped "
        "(counted in each run's `results.json`). Recall@20 = hits / |test items|; NDCG@20 "
        "with binary gains, ideal DCG over min(20, |test items|).",
        "* Hyper-parameters: the paper defaults of each model (`ssrec models`), except the "
        "values listed in the last column, which were tuned on the **validation** split and "
        "are shipped in the dataset preset's `models:` section.",
        "* *best ep.* = the epoch of the best validation score; *s/epoch* = mean wall-clock "
        "seconds of one training epoch (validation excluded) on the machine named below, "
        "which was shared with other jobs: treat times as rough.",
        "",
    ]
    envs = set()
    for ds in datasets:
        rows = [c for c in cells.values() if c.get("dataset") == ds]
        if not rows:
            continue
        base = cells.get(f"{ds}/{BASELINE}")
        budgets = sorted({_budget(c) for c in rows if "train_config" in c})
        lines += [f"## {ds}", "", "Budget: " + "; ".join(budgets) + ".", "",
                  f"| model | family | Recall@20 | NDCG@20 | vs {BASELINE} (NDCG@20) | best ep. "
                  "| epochs run | s/epoch | non-default hyper-parameters |",
                  "|---|---|---|---|---|---|---|---|---|"]
        order = {n: i for i, n in enumerate(MODELS.names())}
        rows.sort(key=lambda c: (c.get("family") != "general", order.get(c["model"], 99)))
        for c in rows:
            if "error" in c:
                lines.append(f"| {c['model']} | {c.get('family', '')} | failed: {c['error']} "
                             "| | | | | | |")
                continue
            env = c["environment"]
            envs.add((env.get("machine", "?"), env["torch"], env["threads"], env["cpus"]))
            r, n = c["test"]["recall@20"], c["test"]["ndcg@20"]
            if base and "test" in base and c["model"] != BASELINE:
                rel = f"{100 * (n / base['test']['ndcg@20'] - 1):+.1f}%"
            else:
                rel = "—"
            try:
                defaults = MODELS.get(c["model"]).Config().model_dump(mode="json")
            except Exception:  # a model that is no longer registered
                defaults = {}
            lines.append(
                f"| {c['model']} | {c.get('family', '')} | {r:.4f} | {n:.4f} | {rel} | "
                f"{c['best_epoch']} | {c['epochs_run']} | {c['seconds_per_epoch']:.2f} | "
                f"{_fmt_cfg(c, defaults)} |")
        lines.append("")
    if envs:
        desc = "; ".join(f"{m} CPU, {cpu} cores, torch {t} with {th} thread(s)"
                         for m, t, th, cpu in sorted(envs))
        lines += [f"Machine: {desc}; no GPU.", ""]
    if NOTES.is_file():
        lines += [NOTES.read_text().rstrip(), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", nargs="+", default=None,
                   help="models to train (default: every registered model except the "
                        "sequential and social families)")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--force", action="store_true", help="retrain cells already in the JSON")
    p.add_argument("--render", action="store_true", help="only rewrite the Markdown page")
    p.add_argument("--threads", type=int, default=None, help="torch threads per run")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra config override for every cell (e.g. train.epochs=5)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--json", type=Path, default=DEFAULT_JSON)
    p.add_argument("--doc", type=Path, default=DEFAULT_DOC)
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "zoo")
    p.add_argument("--child", nargs=2, metavar=("OUT_DIR", "OVERRIDES_JSON"),
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        out_dir, overrides = args.child
        print("ZOO-RESULT " + json.dumps(child(json.loads(overrides), out_dir)), flush=True)
        return 0

    results = load_results(args.json)
    failures = 0
    if not args.render:
        models = args.models or default_models()
        for dataset in args.datasets:
            for model in models:
                key = f"{dataset}/{model}"
                if key in results["cells"] and "error" not in results["cells"][key] \
                        and not args.force:
                    print(f"[zoo] {key}: already done, skipped (--force retrains)",
                          file=sys.stderr)
                    continue
                overrides = cell_overrides(model, dataset, args)
                out_dir = args.runs / dataset / model
                log_path = args.runs / f"{dataset}-{model}.log"
                log_path.parent.mkdir(parents=True, exist_ok=True)
                print(f"[zoo] {key}: training (log: {log_path}) ...", file=sys.stderr,
                      flush=True)
                cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(out_dir),
                       json.dumps(overrides)]
                with open(log_path, "w") as log:
                    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
                record = None
                for line in proc.stdout.splitlines():
                    if line.startswith("ZOO-RESULT "):
                        record = json.loads(line[len("ZOO-RESULT "):])
                if proc.returncode != 0 or record is None:
                    tail = log_path.read_text().strip().splitlines()[-1:] or ["no output"]
                    record = {"model": model, "dataset": dataset, "error": tail[0][:200]}
                    failures += 1
                    print(f"[zoo] {key}: FAILED: {record['error']}", file=sys.stderr)
                else:
                    print(f"[zoo] {key}: recall@20 {record['test']['recall@20']:.4f}, ndcg@20 "
                          f"{record['test']['ndcg@20']:.4f}, best epoch {record['best_epoch']}, "
                          f"{record['seconds_per_epoch']:.2f} s/epoch", file=sys.stderr)
                results["cells"][key] = record
                save_results(args.json, results)
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    _setup_path()
    from ssrec.utils.io import atomic_write_text

    atomic_write_text(args.doc, render(results, args.datasets))
    print(f"[zoo] wrote {args.doc} and {args.json}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
