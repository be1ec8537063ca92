"""Speed and memory benchmark (not a test).

For each model, in a fresh subprocess (so peak memory is per model):

* data load + graph build seconds,
* training-epoch seconds (every training interaction once; mean and median over ``--epochs``
  epochs after ``--warmup`` warm-up epochs),
* one full-ranking evaluation of the test split (all test users × all items, training and
  validation items masked, top-max(K)),
* peak resident memory (``ru_maxrss``) of the whole process.

Results go to a JSON file (default ``benchmarks/results/<dataset>.json``).

Example::

    python benchmarks/run.py --dataset gowalla --models LightGCN SimGCL --set model.n_layers=2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch


def child(args: argparse.Namespace) -> dict:
    from ssrec.config import load_config
    from ssrec.data import load_dataset
    from ssrec.evaluation import Evaluator
    from ssrec.training import Trainer
    from ssrec.training.run import build_model, resolve_data_needs

    overrides = [f"model.name={args.child}", f"data.dataset={args.dataset}",
                 "train.progress=false", f"eval.block_size={args.block_size}", *args.set]
    if args.data_dir:
        overrides.append(f"data.data_dir={args.data_dir}")
    cfg = resolve_data_needs(load_config(None, overrides))
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    data = load_dataset(cfg.data, seed=cfg.seed)
    _ = data.norm_adj if cfg.model_cls().family == "graph" else None
    load_s = time.perf_counter() - t0
    model = build_model(cfg, data)
    trainer = Trainer(model, data, cfg.train, cfg.eval, seed=cfg.seed, device="cpu")
    epochs = []
    if model.trainable:
        for e in range(1, args.warmup + args.epochs + 1):
            t = time.perf_counter()
            trainer.train_epoch(e)
            if e > args.warmup:
                epochs.append(time.perf_counter() - t)
    ev = Evaluator(data, "test", cfg.eval.ks, cfg.eval.metrics, args.block_size)
    t = time.perf_counter()
    metrics = ev.evaluate(model)
    eval_s = time.perf_counter() - t
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    epochs_sorted = sorted(epochs)
    return {
        "model": model.name,
        "config": cfg.resolved()["model"],
        "batch_size": cfg.train.batch_size,
        "batches_per_epoch": len(trainer.sampler) if trainer.sampler else 0,
        "load_seconds": load_s,
        "epoch_seconds": epochs,
        "epoch_seconds_mean": sum(epochs) / len(epochs) if epochs else None,
        "epoch_seconds_median": epochs_sorted[len(epochs) // 2] if epochs else None,
        "eval_seconds": eval_s,
        "eval_users": ev.n_users,
        "eval_block_size": args.block_size,
        "peak_rss_mb": rss_kb / 1024,
        "test_recall@20_after_benchmark": metrics.get("recall@20"),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dataset", default="gowalla")
    p.add_argument("--models", nargs="+", default=["LightGCN", "SimGCL"])
    p.add_argument("--epochs", type=int, default=2, help="timed epochs per model")
    p.add_argument("--warmup", type=int, default=0, help="untimed epochs first")
    p.add_argument("--block-size", type=int, default=2048, help="evaluation users per block")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=None)
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return 0
    results = []
    for model in args.models:
        cmd = [sys.executable, __file__, "--child", model, "--dataset", args.dataset,
               "--epochs", str(args.epochs), "--warmup", str(args.warmup),
               "--block-size", str(args.block_size)]
        for s in args.set:
            cmd += ["--set", s]
        if args.data_dir:
            cmd += ["--data-dir", args.data_dir]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        print(f"[bench] {model} on {args.dataset} ...", file=sys.stderr, flush=True)
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        res = json.loads(out.strip().splitlines()[-1])
        print(f"[bench] {model}: epoch {res['epoch_seconds_mean']}, eval {res['eval_seconds']:.2f}s,"
              f" peak RSS {res['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
        results.append(res)
    report = {
        "dataset": args.dataset,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor(), "python": platform.python_version(),
                    "torch": torch.__version__, "torch_threads": args.threads or
                    torch.get_num_threads()},
        "settings": {"epochs_timed": args.epochs, "warmup": args.warmup, "overrides": args.set},
        "results": results,
    }
    out = Path(args.out or Path(__file__).parent / "results" / f"{args.dataset}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"[bench] written {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
