"""Sequential recommendation results: SASRec, CL4SRec, BERT4Rec and DuoRec on amazon-beauty and
ml-100k, trained by the shared trainer, selected on validation, tested once with full ranking.

One command trains every (dataset, model) run that has no ``results.json`` yet (an
interrupted command resumes where it stopped: finished runs are kept and an interrupted run
continues from its last completed epoch), re-scores each kept model on test with the history
masked and with sampled ranking (for comparison only), and writes

* ``docs/sequential.md``: the protocol above the tables,
* ``benchmarks/results/sequential.json``: the raw numbers.

Data options are passed here, per dataset (never through presets: ml-100k is also used with a
ratio split by graph models); per-model hyper-parameters tuned on validation live in the
``models:`` entries of the dataset presets (``src/ssrec/presets/<dataset>.yaml``).

Example::

    python benchmarks/sequential.py                       # every row (hours on 2 CPU cores)
    python benchmarks/sequential.py --datasets ml-100k --models SASRec DuoRec
    python benchmarks/sequential.py --report-only         # rebuild the tables from the runs

A model may carry overrides: ``SASRec[loss=ce]`` is SASRec with the softmax loss.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from ssrec.config import load_config  # noqa: E402
from ssrec.evaluation import Evaluator  # noqa: E402
from ssrec.training import run  # noqa: E402
from ssrec.training.run import load_run  # noqa: E402
from ssrec.utils.io import atomic_write_json, atomic_write_text  # noqa: E402

log = logging.getLogger("ssrec.bench")

MODELS = ["MostPop", "SASRec", "CL4SRec", "BERT4Rec", "DuoRec"]
# diagnostic rows: the same models with one setting changed (see the notes of the report)
DIAGNOSTICS = {
    "amazon-beauty": ["SASRec[loss=ce]", "CL4SRec[loss=ce]", "DuoRec[cl_weight=0]"],
    "ml-100k": ["SASRec[loss=ce]", "CL4SRec[loss=ce]", "CL4SRec[cl_weight=0]",
                "CL4SRec[cl_weight=0.01]", "CL4SRec[similarity=cosine,tau=0.2]",
                "CL4SRec[augmentations=[mask]]",
                # CL4SRec on DuoRec's encoder (post-LN, GELU, FFN 256) and loss
                "CL4SRec[loss=ce,norm_first=false,scale_embedding=false,"
                "position_from_end=false,activation=gelu,ffn_dim=256]",
                "DuoRec[cl_weight=0]"],
}
DATASETS = ["amazon-beauty", "ml-100k"]

# Data options, from the command (see the module docs).
DATA = {
    # SELFRec's files: train histories + the last item in test.txt; validation = the last item
    # of each training history (leave-one-out), not a random hold-out
    "amazon-beauty": ["data.valid_method=last"],
    # all ratings are interactions; leave-one-out by timestamp (ties by file order)
    "ml-100k": ["data.split=loo", "data.rating_threshold=null"],
}

# Training budget per dataset (same for every model unless MODEL_TRAIN says otherwise).
TRAIN = {
    "amazon-beauty": ["train.epochs=200", "train.batch_size=256", "train.lr=0.001",
                      "train.patience=10", "train.eval_every=2"],
    "ml-100k": ["train.epochs=300", "train.batch_size=64", "train.lr=0.001",
                "train.patience=10", "train.eval_every=5"],
}
MODEL_TRAIN: dict[tuple[str, str], list[str]] = {}

# the table's protocol: full ranking, items of the history allowed (the sequential papers'),
# for every row including the MostPop reference
COMMON = ["train.progress=false", "train.monitor=ndcg@10", "eval.ks=[10,20]",
          "eval.metrics=[hit,ndcg,mrr]", "eval.exclude_seen=false"]

SAMPLED = {"n_negatives": 100, "negatives": "popularity"}

# hand-written notes (what the diagnostic rows show), appended to the page
NOTES = REPO / "benchmarks" / "notes" / "sequential.md"


def parse_spec(spec: str) -> tuple[str, str, list[str]]:
    """``"SASRec[loss=ce]"`` → ``("SASRec (loss=ce)", "SASRec", ["model.loss=ce"])``."""
    m = re.fullmatch(r"([A-Za-z0-9_]+)(?:\[(.*)\])?", spec)
    if not m:
        raise SystemExit(f"bad model spec {spec!r}; use Name or Name[key=value,...]")
    name, extra = m.group(1), m.group(2)
    if not extra:
        return name, name, []
    pairs = [p.strip() for p in extra.split(",") if p.strip()]
    return f"{name} ({', '.join(pairs)})", name, [f"model.{p}" for p in pairs]


def run_dir(root: Path, dataset: str, label: str) -> Path:
    """``SASRec (loss=ce, dropout=0.2)`` → ``<root>/<dataset>/SASRec-loss=ce_dropout=0.2``."""
    name, _, rest = label.partition(" (")
    rest = rest.rstrip(")").replace(", ", "_")
    return root / dataset / (f"{name}-{rest}" if rest else name)


def label_of(folder: str) -> str:
    """Inverse of :func:`run_dir`: ``SASRec-loss=ce_dropout=0.2`` → ``SASRec (loss=ce,
    dropout=0.2)``. Pairs are split at an ``_`` that starts the next ``key=`` only, so keys with
    underscores survive (``CL4SRec-cl_weight=0`` → ``CL4SRec (cl_weight=0)``)."""
    name, sep, rest = folder.partition("-")
    if not sep:
        return folder
    pairs = re.findall(r"[^=_][^=]*?=.*?(?=_[A-Za-z][A-Za-z0-9_.]*=|$)", rest)
    return f"{name} ({', '.join(pairs)})"


def overrides(dataset: str, name: str, model_over: list[str], args: argparse.Namespace,
              out: Path) -> list[str]:
    o = [f"model.name={name}", f"data.dataset={dataset}", *DATA[dataset], *TRAIN[dataset],
         *MODEL_TRAIN.get((dataset, name), []), *COMMON, *model_over, f"output_dir={out}",
         f"seed={args.seed}"]
    if args.threads:
        o.append(f"train.num_threads={args.threads}")
    if args.data_dir:
        o.append(f"data.data_dir={args.data_dir}")
    return [*o, *args.set]


def train_one(dataset: str, spec: str, args: argparse.Namespace) -> Path:
    label, name, model_over = parse_spec(spec)
    out = run_dir(args.runs, dataset, label)
    if (out / "results.json").is_file():
        log.info("%s / %s: finished run found in %s", dataset, label, out)
    else:
        cfg = load_config(None, overrides(dataset, name, model_over, args, out))
        log.info("%s / %s: training (%s)", dataset, label, out)
        t0 = time.perf_counter()
        run(cfg, resume=True)  # an interrupted run continues from its last epoch
        log.info("%s / %s: done in %.0f s", dataset, label, time.perf_counter() - t0)
    extra = out / "extra_protocols.json"
    if not extra.is_file():
        # the kept model re-scored on test under two other protocols, for comparison only
        loaded = load_run(out, data_dir=args.data_dir, device="cpu")
        found = {}
        for key, opts in (("masked", {"exclude_seen": True}),
                          ("sampled", {"exclude_seen": False, "ranking": "sampled", **SAMPLED})):
            ev = Evaluator(loaded.data, "test", ks=[10, 20], metrics=["hit", "ndcg"],
                           seed=loaded.cfg.seed, **opts)
            found[key] = {"test": ev.evaluate(loaded.model), **ev.describe()}
        atomic_write_json(extra, found)
    return out


def collect(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every finished run under ``args.runs`` (all datasets, the paper models first)."""
    rows = []
    for dataset in DATASETS:
        folder = args.runs / dataset
        if not folder.is_dir():
            continue
        found = []
        for out in sorted(folder.iterdir()):
            res_p, smp_p = out / "results.json", out / "extra_protocols.json"
            if not res_p.is_file():
                continue
            res = json.loads(res_p.read_text())
            cfg = (out / "config.yaml").read_text()
            smp = json.loads(smp_p.read_text()) if smp_p.is_file() else {}
            sec = res["seconds"]
            n_ep = max(res["epochs_run"], 1)
            label = label_of(out.name)
            found.append({
                "dataset": dataset, "label": label, "model": res["model"], "run_dir": str(out),
                "test": res["test"], "valid": res["valid"], "best_epoch": res["best_epoch"],
                "epochs_run": res["epochs_run"],
                "train_seconds_per_epoch": sec["train"] / n_ep,
                "valid_seconds_total": sec["valid"],
                "masked_test": smp.get("masked", {}).get("test"),
                "sampled_test": smp.get("sampled", {}).get("test"),
                "sampled_protocol": {k: v for k, v in smp.get("sampled", {}).items()
                                     if k != "test"},
                "protocol": res["protocol"], "config_yaml": cfg,
                "environment": res.get("environment"),
            })
        order = {m: i for i, m in enumerate(MODELS)}
        found.sort(key=lambda r: (order.get(r["model"], len(order)), r["label"] != r["model"],
                                  r["label"]))
        rows += found
    return rows


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    by_ds: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_ds.setdefault(r["dataset"], []).append(r)
    lines = [
        "# Sequential recommendation: SASRec, CL4SRec, BERT4Rec, DuoRec",
        "",
        "Produced by `python benchmarks/sequential.py`: it trains every row below that has no "
        "finished run yet (an interrupted run resumes), then writes this page (`--report-only` "
        "rebuilds it from the runs). Raw numbers: `benchmarks/results/sequential.json`; run "
        "folders with configs, logs and checkpoints: `runs/sequential/`.",
        "",
        "## Protocol",
        "",
        "* **Task**: next-item recommendation. Each user's interactions are ordered by "
        "timestamp (ties by file order; files without timestamps: file order). **Test** target: "
        "the user's last item; **validation** target: the item before it. The model reads the "
        "user's items before the target (test: train + validation items; validation: train "
        "items), the most recent `max_len` of them.",
        "* **Ranking**: **full ranking over all items** (every item is a candidate, items the "
        "user already has included: `eval.exclude_seen=false`, the default for sequential "
        "models). Metrics: HR@K (= Recall@K with one target) and NDCG@K, averaged over "
        "evaluated users. The detail table also re-scores the same kept models on test with the "
        "history masked (*masked*) and against 100 popularity-sampled negatives (*sampled*, "
        "BERT4Rec's protocol, seeded), for comparison only: model selection used the main "
        "protocol.",
        "* **MostPop** (training popularity) is a reference row under the same protocol.",
        "* **Selection**: the epoch with the best validation NDCG@10 (early stopping, patience "
        "in validations) is restored and the test split scored once.",
        "* **Training**: the shared trainer (Adam); one epoch = every user's training sequence "
        "once, with a next-item target at every position (SASRec, CL4SRec, DuoRec) or cloze "
        "masks (BERT4Rec). Models use their paper defaults unless the dataset preset or the "
        "table's settings say otherwise.",
        "",
    ]
    for ds, rs in by_ds.items():
        # a sequential model's protocol (MostPop's has no sequence statistics)
        p = next((r["protocol"] for r in rs if "sequences" in r["protocol"]), rs[0]["protocol"])
        split = p["split"]
        val = split.get("validation", {})
        seq = p.get("sequences", {})
        cold = p.get("cold_dropped", {})
        lines += [
            f"### {ds}",
            "",
            f"* data options: `{' '.join(DATA[ds])}`; training: `{' '.join(TRAIN[ds])}`",
            f"* split: `{split.get('method')}`, validation: `{val.get('method')}`; time order: "
            f"{seq.get('time_order', '?')}",
            f"* {p['n_users']:,} users, {p['n_items']:,} items, {p['train_interactions']:,} "
            f"training interactions; mean training sequence {seq.get('mean_length', 0):.1f} "
            f"items (max {seq.get('max_length', '?')})",
            f"* evaluated users: test {p['evaluated_users']['test']:,}, valid "
            f"{p['evaluated_users']['valid']:,}; dropped because the target item never occurs "
            f"in training: test {cold.get('test', {}).get('interactions', 0)}, valid "
            f"{cold.get('valid', {}).get('interactions', 0)}",
            f"* ranking: {p['ranking']}, items of the history {'masked' if p['exclude_seen'] else 'allowed'}; "
            f"seed {p['seed']}",
            "",
        ]
    lines += ["## Results (test, full ranking)", ""]
    dss = list(by_ds)
    head = "| model | " + " | ".join(f"{d} HR@10 | {d} NDCG@10" for d in dss) + " |"
    lines += [head, "|---|" + "---|---|" * len(dss)]
    # the models as published first, then the diagnostic rows (one setting changed)
    order = {m: i for i, m in enumerate(MODELS)}
    labels = sorted(dict.fromkeys(r["label"] for r in rows),
                    key=lambda lab: (" (" in lab, order.get(lab.split(" (")[0], len(order)), lab))
    for lab in labels:
        cells = []
        for d in dss:
            r = next((x for x in by_ds[d] if x["label"] == lab), None)
            cells += [_f(r["test"].get("hit@10")) if r else "-",
                      _f(r["test"].get("ndcg@10")) if r else "-"]
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    lines += ["", "## Details", "",
              "| dataset | model | HR@10 | NDCG@10 | HR@20 | NDCG@20 | valid NDCG@10 | "
              "masked HR@10 | masked NDCG@10 | sampled HR@10 | sampled NDCG@10 | "
              "best / run epochs | train s/epoch |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        t, s, m = r["test"], r["sampled_test"] or {}, r["masked_test"] or {}
        lines.append(
            f"| {r['dataset']} | {r['label']} | {_f(t.get('hit@10'))} | {_f(t.get('ndcg@10'))} | "
            f"{_f(t.get('hit@20'))} | {_f(t.get('ndcg@20'))} | {_f(r['valid'].get('ndcg@10'))} | "
            f"{_f(m.get('hit@10'))} | {_f(m.get('ndcg@10'))} | "
            f"{_f(s.get('hit@10'))} | {_f(s.get('ndcg@10'))} | {r['best_epoch']} / "
            f"{r['epochs_run']} | {r['train_seconds_per_epoch']:.1f} |")
    env = rows[0]["environment"] if rows else {}
    lines += ["", f"Machine: {os.cpu_count()} CPU cores shared with other jobs, torch "
              f"{(env or {}).get('torch')}, {(env or {}).get('threads')} thread(s) per run, Python "
              f"{platform.python_version()}; seconds are wall-clock under that load.", ""]
    lines += ["### Model settings", ""]
    for r in rows:
        import yaml

        model = yaml.safe_load(r["config_yaml"])["model"]
        lines.append(f"* {r['dataset']} / {r['label']}: " +
                     ", ".join(f"{k}={v}" for k, v in model.items() if k != "name"))
    if NOTES.is_file():
        lines += ["", NOTES.read_text().strip()]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    p.add_argument("--models", nargs="+", default=None,
                   help="model specs (default: the four models, MostPop and each dataset's "
                        "diagnostic rows)")
    p.add_argument("--runs", type=Path, default=REPO / "runs" / "sequential",
                   help="folder of the run folders (default runs/sequential)")
    p.add_argument("--doc", type=Path, default=REPO / "docs" / "sequential.md")
    p.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "sequential.json")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    p.add_argument("--seed", type=int, default=2020)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra config override for every run")
    p.add_argument("--report-only", action="store_true", help="only rebuild doc and JSON")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if not args.report_only:
        for dataset in args.datasets:
            for spec in args.models or [*MODELS, *DIAGNOSTICS[dataset]]:
                train_one(dataset, spec, args)
    rows = collect(args)
    atomic_write_json(args.json, {"command": sys.argv, "rows": rows,
                                  "sampled_protocol": SAMPLED, "data_options": DATA,
                                  "train_options": TRAIN})
    atomic_write_text(args.doc, report(rows, args))
    log.info("written %s and %s", args.doc, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
