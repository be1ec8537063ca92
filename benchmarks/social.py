"""Social recommendation results: LightGCN, MHCN and SEPT on lastfm and yelp-diffnet.

One command trains every (dataset, model) cell through the shared recipe (``ssrec train``:
early stopping and model selection on the validation split, test scored once with the best
weights), then writes the raw numbers to ``benchmarks/results/social.json`` and the table, with
its protocol above it, to ``docs/social.md``::

    python benchmarks/social.py                       # all cells; finished cells are skipped
    python benchmarks/social.py --datasets lastfm --models SEPT --force   # rerun one cell
    python benchmarks/social.py --report-only         # rewrite JSON + Markdown from run folders

Each cell runs in ``runs/social/<dataset>/<model>/`` (a normal ssrec run folder). A cell counts as
finished when its ``results.json`` exists and its ``config.yaml`` equals the configuration the
command would use now; otherwise it is (re)trained. Hyper-parameters come from the dataset
presets (``src/ssrec/presets/<dataset>.yaml``: training budget plus the per-model values tuned
on the validation split); ``--set`` adds overrides for every cell.

Tuning on the validation split only::

    python benchmarks/social.py --sweep lastfm MHCN cl_weight=0.005,0.02,0.05

trains one run per value (test metrics are not recorded) and appends the validation metrics to
``benchmarks/results/social_sweep.json``, which the Markdown report lists. Hand-written notes
(observations, exploratory runs) in ``benchmarks/notes/social.md`` are appended to the report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("lastfm", "yelp-diffnet")
MODELS = ("LightGCN", "MHCN", "SEPT")
KEYS = ("recall@20", "ndcg@20")


def make_config(dataset: str, model: str, run_dir: Path, args: argparse.Namespace,
                extra: list[str] | None = None):
    from ssrec.config import load_config
    from ssrec.training.run import resolve_data_needs

    overrides = [f"model.name={model}", f"data.dataset={dataset}", "train.progress=false",
                 f"output_dir={run_dir}", *args.set, *(extra or [])]
    if args.threads:
        overrides.append(f"train.num_threads={args.threads}")
    if args.data_dir:
        overrides.append(f"data.data_dir={args.data_dir}")
    return resolve_data_needs(load_config(None, overrides))


def _comparable(resolved: dict[str, Any]) -> dict[str, Any]:
    """A resolved config without the settings that do not change results."""
    out = json.loads(json.dumps(resolved))
    for key in ("num_threads", "progress"):
        out["train"].pop(key, None)
    out["data"].pop("data_dir", None)
    return out


def finished(cfg, run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a finished run of ``cfg``."""
    cfg_file, res_file = run_dir / "config.yaml", run_dir / "results.json"
    if not (res_file.is_file() and cfg_file.is_file()):
        return False
    return _comparable(yaml.safe_load(cfg_file.read_text())) == _comparable(cfg.resolved())


def train_cell(cfg, run_dir: Path) -> None:
    from ssrec.training import run

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.json").unlink(missing_ok=True)
    t0 = time.perf_counter()
    run(cfg)
    print(f"[social] {run_dir} done in {time.perf_counter() - t0:.0f}s", file=sys.stderr,
          flush=True)


def summarise(run_dir: Path) -> dict[str, Any]:
    res = json.loads((run_dir / "results.json").read_text())
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    epochs = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()
              if line.strip()]
    epochs = [e for e in epochs if "epoch" in e]
    train_s = [e["train_seconds"] for e in epochs]
    proto = res["protocol"]
    return {
        "dataset": proto["dataset"],
        "model": res["model"],
        "test": {k: res["test"][k] for k in KEYS},
        "valid": {k: res["valid"].get(k) for k in KEYS},
        "best_epoch": res["best_epoch"],
        "epochs_run": res["epochs_run"],
        "seconds_per_epoch": sum(train_s) / len(train_s) if train_s else None,
        "train_seconds": res["seconds"].get("train"),
        "model_config": cfg["model"],
        "train_config": {k: cfg["train"][k] for k in ("epochs", "batch_size", "lr", "patience",
                                                      "min_epochs", "eval_every", "monitor")},
        "protocol": proto,
        "test_all": res["test"],
        "environment": res.get("environment"),
        "run_dir": str(run_dir.relative_to(REPO)) if run_dir.is_relative_to(REPO)
        else str(run_dir),
    }


# ---- tuning ---------------------------------------------------------------------------------


def sweep(args: argparse.Namespace) -> int:
    from ssrec.data import load_dataset
    from ssrec.training import Trainer
    from ssrec.training.run import build_model
    from ssrec.utils.seed import seed_everything

    dataset, model, spec = args.sweep
    key, _, values = spec.partition("=")
    out = Path(args.sweep_json)
    rows = json.loads(out.read_text()) if out.is_file() else []
    for value in values.split(","):
        setting = [f"{key}={value}"] if "." in key else [f"model.{key}={value}"]
        cfg = make_config(dataset, model, Path(os.devnull), args, setting)
        record = {"dataset": dataset, "model": model, "setting": setting, "set": args.set}
        if not args.force and any({k: r.get(k) for k in record} == record for r in rows):
            print(f"[sweep] {dataset} {model} {setting}: done before, skipped", file=sys.stderr)
            continue
        if cfg.train.num_threads:
            torch.set_num_threads(cfg.train.num_threads)
        seed_everything(cfg.seed)
        data = load_dataset(cfg.data, seed=cfg.seed)
        trainer = Trainer(build_model(cfg, data), data, cfg.train, cfg.eval, seed=cfg.seed)
        # tuning looks at the validation split only: the final test scoring is switched off
        trainer.test_eval.evaluate = lambda model: {}  # type: ignore[method-assign]
        t0 = time.perf_counter()
        result = trainer.fit()
        record.update({"valid": {k: result.valid.get(k) for k in KEYS},
                       "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
                       "seconds": time.perf_counter() - t0,
                       "model_config": cfg.resolved()["model"]})
        rows = [r for r in rows if {k: r.get(k) for k in ("dataset", "model", "setting", "set")}
                != {k: record[k] for k in ("dataset", "model", "setting", "set")}] + [record]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"[sweep] {dataset} {model} {setting}: valid {record['valid']} (best epoch "
              f"{result.best_epoch})", file=sys.stderr, flush=True)
    return 0


# ---- report ---------------------------------------------------------------------------------


def _f(x: float | None, digits: int = 4) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def markdown(cells: list[dict[str, Any]], sweeps: list[dict[str, Any]], command: str) -> str:
    by = {(c["dataset"], c["model"]): c for c in cells}
    lines = ["# Social recommendation: LightGCN, MHCN and SEPT", "",
             f"Produced by `{command}` (raw numbers: `benchmarks/results/social.json`).", "",
             "## Protocol", ""]
    for ds in DATASETS:
        c = next((c for c in cells if c["dataset"] == ds), None)
        if c is None:
            continue
        p = c["protocol"]
        soc = next((x["protocol"]["social"] for x in cells
                    if x["dataset"] == ds and x["protocol"].get("social")), None) or {}
        val = (p.get("split") or {}).get("validation", {})
        vdesc = ("the dataset's own validation file" if val.get("method") == "given" else
                 f"{val.get('ratio', 0):.0%} of each user's training interactions held out "
                 f"(seed {val.get('seed')})")
        t = c["train_config"]
        lines += [
            f"* **{ds}**: the shipped train/test split; validation = {vdesc}. "
            f"{p['n_users']:,} users × {p['n_items']:,} items, {p['train_interactions']:,} "
            f"interactions fitted; evaluated users: {p['evaluated_users']['test']:,} (test), "
            f"{p['evaluated_users']['valid']:,} (valid); cold test users/items dropped: "
            f"{p['cold_dropped']['test']['users']} / {p['cold_dropped']['test']['items']}. "
            f"Social links (social models only): {soc.get('links', 0):,} directed links, "
            f"reciprocity {soc.get('reciprocity', 0):.3f}, dropped "
            f"{sum((soc.get('dropped') or {}).values())} touching users without training "
            f"interactions. Budget: at most {t['epochs']} epochs, validation every "
            f"{t['eval_every']} epoch(s), early stopping after {t['patience']} validations "
            f"without improvement of {t['monitor']} (not before epoch {t['min_epochs']}); "
            f"batch {t['batch_size']}, Adam lr {t['lr']}.",
        ]
    lines += [
        "* Full ranking of all items for every user with a target; training items (and, for "
        "test, validation items) masked. Recall@20 = hits / |targets|, NDCG@20 with binary "
        "gains, averaged over users.",
        "* The best epoch is chosen on the validation split (NDCG@20); the test split is scored "
        "once, with those weights. One run per cell, seed 2020, CPU, "
        f"{cells[0]['environment'].get('threads') if cells and cells[0].get('environment') else '?'}"
        " thread(s).",
        "* Hyper-parameters: the paper defaults (`ssrec models`), except the values tuned on "
        "the validation split that the dataset presets record (`models:` entries of "
        "`src/ssrec/presets/<dataset>.yaml`); the column *config* lists each model's "
        "hyper-parameters (all use embedding size 64 and L2 weight 1e-4).",
        "* MHCN and SEPT read the social links; LightGCN the interactions only. Same "
        "interactions, split and evaluation for all three.",
        "",
        "## Results (test split)",
        "",
        "| dataset | model | Recall@20 | NDCG@20 | vs LightGCN (R / N) | valid NDCG@20 | best "
        "epoch / run | s / epoch | config |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for ds in DATASETS:
        base = by.get((ds, "LightGCN"))
        for m in MODELS:
            c = by.get((ds, m))
            if c is None:
                continue
            rel = "–"
            if base is not None and m != "LightGCN":
                rel = " / ".join(f"{100 * (c['test'][k] / base['test'][k] - 1):+.1f}%"
                                 for k in KEYS)
            conf = ", ".join(f"{k}={v}" for k, v in c["model_config"].items()
                             if k not in ("name", "embedding_dim", "l2_reg"))
            lines.append(f"| {ds} | {m} | {_f(c['test']['recall@20'])} | "
                         f"{_f(c['test']['ndcg@20'])} | {rel} | {_f(c['valid']['ndcg@20'])} | "
                         f"{c['best_epoch']} / {c['epochs_run']} | "
                         f"{_f(c['seconds_per_epoch'], 1)} | {conf} |")
    if sweeps:
        lines += ["", "## Tuning (validation split only)", "",
                  "Each row is one training run scored on the validation split only (no test "
                  "metric recorded); `benchmarks/social.py --sweep DATASET MODEL KEY=V1,V2,...` "
                  "appends them. The preset values above were chosen from these rows.", "",
                  "| dataset | model | setting | valid Recall@20 | valid NDCG@20 | best epoch "
                  "/ run |", "|---|---|---|---|---|---|"]
        for r in sorted(sweeps, key=lambda r: (r["dataset"], r["model"], str(r["setting"]))):
            setting = ", ".join(r["setting"] + r.get("set", []))
            lines.append(f"| {r['dataset']} | {r['model']} | {setting} | "
                         f"{_f(r['valid']['recall@20'])} | {_f(r['valid']['ndcg@20'])} | "
                         f"{r['best_epoch']} / {r['epochs_run']} |")
    notes = Path(__file__).parent / "notes" / "social.md"
    if notes.is_file():
        lines += ["", notes.read_text().rstrip()]
    return "\n".join(lines) + "\n"


def report(args: argparse.Namespace, command: str) -> None:
    from ssrec.utils.io import atomic_write_json, atomic_write_text

    cells = []
    for ds in DATASETS:
        for m in MODELS:
            run_dir = Path(args.runs_dir) / ds / m
            if (run_dir / "results.json").is_file():
                cells.append(summarise(run_dir))
    sweep_file = Path(args.sweep_json)
    sweeps = json.loads(sweep_file.read_text()) if sweep_file.is_file() else []
    atomic_write_json(args.json, {
        "command": command,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "torch": torch.__version__},
        "cells": cells,
    })
    atomic_write_text(args.doc, markdown(cells, sweeps, command))
    print(f"[social] wrote {args.json} and {args.doc} ({len(cells)} cells)", file=sys.stderr)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--force", action="store_true", help="retrain finished cells")
    p.add_argument("--report-only", action="store_true", help="only rewrite JSON and Markdown")
    p.add_argument("--threads", type=int, default=None, help="torch threads per run")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override for every cell (e.g. train.epochs=5 for a smoke test)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--runs-dir", default=str(REPO / "runs" / "social"))
    p.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "social.json"))
    p.add_argument("--doc", default=str(REPO / "docs" / "social.md"))
    p.add_argument("--sweep", nargs=3, metavar=("DATASET", "MODEL", "KEY=V1,V2"))
    p.add_argument("--sweep-json",
                   default=str(REPO / "benchmarks" / "results" / "social_sweep.json"))
    args = p.parse_args()
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if args.sweep:
        return sweep(args)
    command = "python benchmarks/social.py" + "".join(f" --set {s}" for s in args.set)
    if not args.report_only:
        for ds in args.datasets:
            for m in args.models:
                run_dir = Path(args.runs_dir) / ds / m
                cfg = make_config(ds, m, run_dir, args)
                if finished(cfg, run_dir) and not args.force:
                    print(f"[social] {ds} {m}: finished, skipped (--force reruns)",
                          file=sys.stderr)
                    continue
                print(f"[social] {ds} {m}: training in {run_dir}", file=sys.stderr, flush=True)
                train_cell(cfg, run_dir)
    report(args, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
