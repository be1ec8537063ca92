"""Peak memory of the sequential models' training steps at their defaults (a figure, not a test).

For each model, in a fresh subprocess (so each peak is the model's own): load the dataset the
way ``ssrec train`` does (leave-one-out, the model's defaults and the dataset's preset), build
the model and its sampler at the default batch size, then run ``--batches`` training steps
(loss, backward, Adam step) on the first batches of an epoch. Reported per model:

* ``rss_after_load_mb``: resident memory after loading the data and building the model;
* ``peak_rss_mb``: peak resident memory of the whole process (``ru_maxrss``), the figure the
  4 GB target of issue 19 is about;
* ``seconds_per_batch``: median wall time of a step (on a shared CPU: indicative only);
* ``batch_rows``, ``supervised_positions``: users and targets of the largest batch run.

Batches are drawn in the sampler's order, which mixes lengths (``bucket_pool``); the longest
batch of an epoch may need more than the batches run here, so ``--batches`` also takes
``longest``: the steps run on the batches with the most supervised positions of the epoch.

Usage::

    SSREC_DATA_DIR=../shared/data python benchmarks/seq_memory.py --dataset beauty-bert4rec
    python benchmarks/seq_memory.py --models SASRec CL4SRec --set model.loss=ce --tag ce

Results: ``benchmarks/results/seq-memory/<dataset>[-<tag>].json`` and ``.md`` (a folder of
their own: ``benchmarks/run.py --report`` reads every JSON file of ``benchmarks/results/``).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "seq-memory"  # not results/*.json: run.py --report
MODELS = ["SASRec", "CL4SRec", "DuoRec", "BERT4Rec"]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def child(args: argparse.Namespace) -> dict:
    from ssrec.config import load_config
    from ssrec.data import load_dataset
    from ssrec.data.sequence import PAD
    from ssrec.training import Trainer
    from ssrec.training.run import build_model, resolve_data_needs

    torch.set_num_threads(args.threads)
    over = [f"model.name={args.child}", f"data.dataset={args.dataset}", "train.progress=false",
            *args.set]
    cfg = resolve_data_needs(load_config(None, over))
    data = load_dataset(cfg.data, seed=cfg.seed)
    model = build_model(cfg, data)
    trainer = Trainer(model, data, cfg.train, cfg.eval, seed=cfg.seed, device="cpu")
    after_load = _rss_mb()

    def targets(b) -> int:
        lab = b.labels if hasattr(b, "labels") else b.pos
        return int((lab != PAD).sum())

    batches = trainer.sampler.epoch()
    if args.batches == "longest":
        allb = list(batches)
        allb.sort(key=targets, reverse=True)
        chosen = allb[:2]
        del allb
    else:
        chosen = [b for _, b in zip(range(int(args.batches)), batches)]
    model.train()
    times = []
    for b in chosen:
        t0 = time.perf_counter()
        trainer.optimizer.zero_grad(set_to_none=True)
        out = model.loss(b)
        out.total.backward()
        trainer.optimizer.step()
        times.append(time.perf_counter() - t0)
        assert torch.isfinite(out.total), out.total
    big = max(chosen, key=targets)
    return {"model": args.child, "batch_size": cfg.train.batch_size,
            "loss": getattr(model.cfg, "loss", None), "n_users": data.n_users,
            "n_items": data.n_items, "batches_run": len(chosen),
            "batch_rows": int(big.seq.shape[0]), "supervised_positions": targets(big),
            "rss_after_load_mb": round(after_load), "peak_rss_mb": round(_peak_mb()),
            "seconds_per_batch": round(statistics.median(times), 2)}


def render(res: dict) -> str:
    lines = [f"# Peak memory of sequential training steps on {res['dataset']}", "",
             f"`{res['command']}` ({res['date']}, {res['machine']}, torch {res['torch']}, "
             f"{res['threads']} thread(s)); {res['batches']} batches per model at the defaults"
             + (f" with {', '.join(res.get('set', []))}" if res.get("set") else "")
             + ", each model in its own process.", "",
             "| model | loss | batch | targets in largest batch | RSS after load (MB) | "
             "peak RSS (MB) | s / batch |", "|---|---|---|---|---|---|---|"]
    for r in res["models"]:
        if "error" in r:
            lines.append(f"| {r['model']} | failed: {r['error']} | | | | | |")
            continue
        lines.append(f"| {r['model']} | {r['loss']} | {r['batch_size']} | "
                     f"{r['supervised_positions']} | {r['rss_after_load_mb']} | "
                     f"{r['peak_rss_mb']} | {r['seconds_per_batch']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="beauty-bert4rec")
    p.add_argument("--models", nargs="+", default=MODELS)
    p.add_argument("--batches", default="3", help="steps per model, or 'longest' (see docs)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--tag", default="")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return 0
    rows = []
    for m in args.models:
        cmd = [sys.executable, __file__, "--child", m, "--dataset", args.dataset,
               "--batches", args.batches, "--threads", str(args.threads)]
        for s in args.set:
            cmd += ["--set", s]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
            rows.append({"model": m, "error": tail[0][:200]})
        else:
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    res = {"dataset": args.dataset, "batches": args.batches, "threads": args.threads,
           "set": args.set,
           "command": "python benchmarks/seq_memory.py " + " ".join(sys.argv[1:]),
           "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, "
           f"{platform.processor() or platform.system()}", "torch": torch.__version__,
           "models": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"{args.dataset}{'-' + args.tag if args.tag else ''}"
    stem.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    stem.with_suffix(".md").write_text(render(res))
    print(f"wrote {stem}.json / .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
