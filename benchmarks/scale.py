"""The scale curve (issue 18 part 3; not a test): how load time, memory, epoch time and
full-ranking time grow with the data, on synthetic data shaped like gowalla.

For each size (``--sizes 1M 5M 20M``; the data is written by :func:`ssrec.data.synth.synthesize`
into ``--data-root/<size>`` unless it is there already):

* **load** (a fresh subprocess): ``load_dataset`` (read, intern, split checks, id maps) and the
  normalised adjacency, in seconds, and the process's peak RSS (``ru_maxrss``); also the
  training degree histograms and their power-law fits (the generator's check);
* **epoch** (one more subprocess for the rest): for LightGCN and SimGCL with
  ``model.propagation=full`` and ``sampled``: the trainer's own objects (sampler, optimiser,
  model), ``--warmup`` untimed steps, then ``--steps`` timed steps of the training loop
  (``zero_grad``, loss, backward, optimiser step). **An epoch is estimated** as the time to
  start the sampler's epoch (its shuffle) + the mean step × steps per epoch; full
  propagation at 20M and above takes ``--full-steps`` / ``--full-warmup`` instead (a step
  there takes seconds);
* **eval**: full ranking of the test split by a LightGCN (its propagation, then every test
  user × every item in blocks of ``eval.block_size``, training and validation items masked,
  top-20 and the metrics): the propagation and first block, plus ``--eval-blocks`` more
  blocks timed, × the number of blocks (an estimate when there are more blocks than that);
* **growth exponents**: least squares of ``log(figure)`` on ``log(interactions)`` over the
  sizes (and for the ranking time on ``log(users × items)`` too).

``--ddp`` adds, at the first size, LightGCN's step throughput as 1 process × 1 thread,
1 process × 2 threads and 2 processes × 1 thread (torchrun, gloo) at the same per-rank batch,
and a bare all-reduce of the gradient's size.

Every figure is taken on whatever else runs on the machine: the JSON records ``uptime``'s load
averages before and after each part; compare figures only within one run.

Usage::

    python benchmarks/scale.py --sizes 1M 5M 20M --ddp       # JSON + PNG in benchmarks/results/scale
    python benchmarks/scale.py --plot                       # redraw the PNGs from the JSON
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "scale"
CONFIGS = [("LightGCN", "full"), ("LightGCN", "sampled"), ("SimGCL", "full"),
           ("SimGCL", "sampled")]


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _config(data: str, model: str, propagation: str, extra: list[str]):
    from ssrec.config import load_config

    return load_config(None, [f"model.name={model}", f"data.dataset={data}",
                              "train.progress=false", f"model.propagation={propagation}",
                              *extra])


# ---- children ---------------------------------------------------------------------------------


def child_load(args: argparse.Namespace) -> dict:
    import numpy as np

    t0 = time.perf_counter()
    from ssrec.data import load_dataset
    from ssrec.data.synth import fit_power_law
    imported = time.perf_counter() - t0
    t = time.perf_counter()
    # valid_ratio 0: the reference's whole training file (the synthetic sets ship a valid file)
    data = load_dataset(dataset=args.data, valid_ratio=0.0)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    adj = data.norm_adj
    adj_s = time.perf_counter() - t
    rss = peak_rss_mb()
    out = {"import_seconds": imported, "load_seconds": load_s, "adjacency_seconds": adj_s,
           "load_total_seconds": load_s + adj_s, "peak_rss_mb": rss,
           "users": data.n_users, "items": data.n_items, "train": len(data.train),
           "valid": len(data.valid), "test": len(data.test), "nnz": int(adj.values().numel())}
    for key, idx in (("user", data.train.user), ("item", data.train.item)):
        deg = np.bincount(idx)
        deg = deg[deg > 0]
        values, counts = np.unique(deg, return_counts=True)
        fit = fit_power_law(deg)
        out[f"{key}_degrees"] = {"values": values.tolist(), "counts": counts.tolist()}
        out[f"{key}_fit"] = {"alpha": fit.alpha, "xmin": fit.xmin, "ks": fit.ks,
                             "alpha_se": fit.alpha_se, "n_tail": fit.n_tail}
    return out


def _steps(trainer, model, n_warm: int, n_timed: int, ddp: bool = False) -> dict:
    """Time the training loop's steps (as Trainer.train_epoch runs them)."""
    import torch

    from ssrec.models.base import LossOutput
    from ssrec.sampling import shard_batch

    opt = trainer.optimizer
    model.train()
    t = time.perf_counter()
    it = iter(trainer.sampler.epoch())
    batch = next(it)
    start_s = time.perf_counter() - t  # the epoch's shuffle and the first batch
    times = []
    for k in range(n_warm + n_timed):
        if k:
            batch = next(it)
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        if ddp:
            b, weight = shard_batch(batch, trainer.rank, trainer.world)
            out = LossOutput(*trainer._ddp(b))
            (out.total * weight).backward()
        else:
            model.loss(batch).total.backward()
        opt.step()
        if k >= n_warm:
            times.append(time.perf_counter() - t)
    del it
    mean = sum(times) / len(times)
    steps = len(trainer.sampler)
    return {"epoch_start_seconds": start_s, "step_seconds": times, "step_seconds_mean": mean,
            "steps_per_epoch": steps, "epoch_seconds_estimate": start_s + mean * steps,
            "timed_steps": n_timed, "warmup_steps": n_warm,
            "torch_threads": torch.get_num_threads()}


def child_work(args: argparse.Namespace) -> dict:
    import gc

    import torch

    from ssrec.data import load_dataset
    from ssrec.evaluation import Evaluator
    from ssrec.evaluation import metrics as M
    from ssrec.models.layers.sampled import sample_blocks
    from ssrec.training import Trainer
    from ssrec.training.run import build_model

    torch.set_num_threads(args.threads)
    data = load_dataset(dataset=args.data)
    _ = data.norm_adj
    big = len(data.train) >= args.full_limit
    out: dict = {"configs": {}}
    for model_name, prop in CONFIGS:
        cfg = _config(args.data, model_name, prop, args.set)
        torch.manual_seed(0)
        model = build_model(cfg, data)
        trainer = Trainer(model, data, cfg.train, cfg.eval, seed=cfg.seed, device="cpu")
        warm, steps = ((args.full_warmup, args.full_steps) if prop == "full" and big
                       else (args.warmup, args.steps))
        load = load_average()
        rec = _steps(trainer, model, warm, steps)
        rec["load_average"] = [load, load_average()]
        rec["batch_size"] = cfg.train.batch_size
        if prop == "sampled":  # the draws of one step's rows (users, positives, negatives)
            batch = next(iter(trainer.sampler.epoch()))
            rows = torch.cat([batch.users, batch.pos + data.n_users,
                              batch.neg.reshape(-1) + data.n_users])
            blocks = sample_blocks(model.csr_graph(), rows, model.hop_fanouts())
            rec["sampled_rows"] = int(blocks.nodes[0].numel())
            rec["sampled_edges_per_read"] = blocks.n_edges
            rec["sampled_nodes_per_hop"] = [int(n.numel()) for n in blocks.nodes]
        out["configs"][f"{model_name}-{prop}"] = rec
        print(f"  {model_name}-{prop}: {rec['step_seconds_mean']:.3f} s/step, epoch "
              f"~{rec['epoch_seconds_estimate']:.0f} s", file=sys.stderr, flush=True)
        del model, trainer
        gc.collect()
    # full ranking of the test split (LightGCN, full propagation once, then the blocks)
    cfg = _config(args.data, "LightGCN", "full", args.set)
    torch.manual_seed(0)
    model = build_model(cfg, data)
    ev = Evaluator(data, "test", cfg.eval.ks, cfg.eval.metrics, cfg.eval.block_size)
    n_blocks = math.ceil(ev.n_users / cfg.eval.block_size)
    load = load_average()
    t = time.perf_counter()
    gen = ev.ranked_blocks(model)
    block_times, first = [], None
    accuracy = [m for m in cfg.eval.metrics if m in M.METRICS]
    for k, (start, users, top, hits) in enumerate(gen):
        n_rel = torch.from_numpy(ev.n_targets[start:start + users.size])
        M.compute(hits, n_rel, ev.ks, accuracy)
        now = time.perf_counter()
        if first is None:
            first = now - t  # propagation + the first block
        else:
            block_times.append(now - t)
        t = now
        if k >= args.eval_blocks:
            break
    gen.close()
    mean_block = sum(block_times) / len(block_times) if block_times else 0.0
    out["eval"] = {"users": ev.n_users, "items": data.n_items, "block_size": cfg.eval.block_size,
                   "blocks": n_blocks, "blocks_timed": 1 + len(block_times),
                   "first_block_with_propagation_seconds": first,
                   "block_seconds_mean": mean_block,
                   "ranking_seconds_estimate": first + mean_block * (n_blocks - 1),
                   "ranking_seconds_without_propagation_estimate": mean_block * n_blocks,
                   "load_average": [load, load_average()]}
    print(f"  ranking: ~{out['eval']['ranking_seconds_estimate']:.0f} s", file=sys.stderr,
          flush=True)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def child_ddp(args: argparse.Namespace) -> dict:
    """One torchrun rank (or a plain process): LightGCN full, timed steps; rank 0 prints."""
    import torch
    import torch.distributed as dist

    from ssrec.data import load_dataset
    from ssrec.training import Trainer
    from ssrec.training.run import build_model
    from ssrec.utils import distributed

    torch.set_num_threads(args.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        distributed.setup(torch.device("cpu"))
    data = load_dataset(dataset=args.data)
    cfg = _config(args.data, "LightGCN", "full", args.set)
    torch.manual_seed(0)
    model = build_model(cfg, data)
    trainer = Trainer(model, data, cfg.train, cfg.eval, seed=cfg.seed, device="cpu")
    load = load_average()
    rec = _steps(trainer, model, args.warmup, args.steps, ddp=world > 1)
    rec["load_average"] = [load, load_average()]
    rec["world_size"] = world
    rec["batch_size_per_rank"] = cfg.train.batch_size
    rec["interactions_per_second"] = cfg.train.batch_size * world / rec["step_seconds_mean"]
    if world > 1:  # a bare all-reduce of the gradient's size (the tables')
        grad = torch.zeros(sum(p.numel() for p in model.parameters()))
        times = []
        for _ in range(args.steps):
            dist.barrier()
            t = time.perf_counter()
            dist.all_reduce(grad)
            times.append(time.perf_counter() - t)
        rec["allreduce_bytes"] = grad.numel() * 4
        rec["allreduce_seconds_median"] = sorted(times)[len(times) // 2]
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        distributed.shutdown()
    return rec if rank == 0 else {}


# ---- parent -----------------------------------------------------------------------------------


def _child(args: argparse.Namespace, mode: str, data: str, extra: list[str] | None = None,
           launcher: list[str] | None = None, env: dict | None = None) -> dict:
    cmd = [*(launcher or [sys.executable]), __file__, "--child", mode, "--data", data,
           "--threads", str(args.threads), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--full-steps", str(args.full_steps),
           "--full-warmup", str(args.full_warmup), "--full-limit", str(args.full_limit),
           "--eval-blocks", str(args.eval_blocks), *(extra or [])]
    for s in args.set:
        cmd += ["--set", s]
    res = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True,
                         env={**os.environ, **(env or {})})
    lines = [x for x in res.stdout.strip().splitlines() if x.startswith("{")]
    return json.loads(lines[-1])


def fit_exponent(xs: list[float], ys: list[float]) -> float | None:
    """The slope of ``log y`` on ``log x`` (least squares), or None with < 2 points."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x and y and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def series(res: dict) -> dict[str, list[float]]:
    sizes = res["sizes"]
    out = {"interactions": [s["interactions"] for s in sizes],
           "users_x_items": [s["load"]["users"] * s["load"]["items"] for s in sizes],
           "load_seconds": [s["load"]["load_total_seconds"] for s in sizes],
           "peak_rss_mb": [s["load"]["peak_rss_mb"] for s in sizes],
           "ranking_seconds": [s["work"]["eval"]["ranking_seconds_estimate"] for s in sizes]}
    for name in sizes[0]["work"]["configs"]:
        out[f"epoch_{name}"] = [s["work"]["configs"][name]["epoch_seconds_estimate"]
                                for s in sizes]
        out[f"step_{name}"] = [s["work"]["configs"][name]["step_seconds_mean"] for s in sizes]
    return out


def exponents(res: dict) -> dict[str, float | None]:
    s = series(res)
    x = s["interactions"]
    out = {k: fit_exponent(x, v) for k, v in s.items() if k not in ("interactions",
                                                                    "users_x_items")}
    out["ranking_seconds_vs_users_x_items"] = fit_exponent(s["users_x_items"],
                                                           s["ranking_seconds"])
    return out


def plot(res: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    s, ex = series(res), res["exponents"]
    x = np.array(s["interactions"], dtype=float)
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 5))
    for key, label, style in (("epoch_LightGCN-full", "LightGCN epoch, full", "o-"),
                              ("epoch_SimGCL-full", "SimGCL epoch, full", "s-"),
                              ("epoch_LightGCN-sampled", "LightGCN epoch, sampled", "o--"),
                              ("epoch_SimGCL-sampled", "SimGCL epoch, sampled", "s--"),
                              ("ranking_seconds", "full ranking (test users × items)", "^-"),
                              ("load_seconds", "load + adjacency", "d-")):
        a.loglog(x, s[key], style, label=f"{label} (slope {ex[key]:.2f})")
    ref = np.array([x[0], x[-1]])
    y0 = s["epoch_LightGCN-sampled"][0]
    a.loglog(ref, y0 * (ref / ref[0]), ":", color="grey", label="slope 1")
    a.loglog(ref, s["epoch_LightGCN-full"][0] * (ref / ref[0]) ** 2, ":", color="black",
             label="slope 2")
    a.set_xlabel("interactions (synthetic, gowalla-shaped)")
    a.set_ylabel("seconds (one thread; epochs estimated from timed steps)")
    a.legend(fontsize=8)
    a.grid(True, which="both", alpha=0.3)
    loads = []

    def collect(x):  # every 1-minute load average the JSON recorded
        if isinstance(x, dict):
            for k, v in x.items():
                if k.startswith("load_average") and isinstance(v, list) and v:
                    loads.extend(y[0] if isinstance(y, list) else y for y in
                                 (v if isinstance(v[0], list) else [v]))
                else:
                    collect(v)
        elif isinstance(x, list):
            for v in x:
                collect(v)
    collect(res)
    a.set_title(f"time vs data, one thread (load average {min(loads):.1f}-{max(loads):.1f} "
                "on 2 cores)", fontsize=10)
    b.loglog(x, s["peak_rss_mb"], "d-", label=f"peak RSS of loading (slope "
             f"{ex['peak_rss_mb']:.2f})")
    b.set_xlabel("interactions")
    b.set_ylabel("MB")
    b.grid(True, which="both", alpha=0.3)
    b.legend(fontsize=8)
    fig.tight_layout()
    paths = [out_dir / "scale.png"]
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)
    # degree CCDFs: gowalla vs the synthetic sizes, degree / mean degree
    if res.get("gowalla_degrees"):
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        for ax, key in zip(axes, ("user", "item")):
            def ccdf(h):
                v, c = np.array(h["values"], float), np.array(h["counts"], float)
                mean = (v * c).sum() / c.sum()
                tail = c[::-1].cumsum()[::-1] / c.sum()
                return v / mean, tail
            v, t = ccdf(res["gowalla_degrees"][key])
            ax.loglog(v, t, "k-", lw=2.5, label=f"gowalla train (tail α "
                      f"{res['gowalla_fit'][key]['alpha']:.2f})")
            for size in res["sizes"]:
                v, t = ccdf(size["load"][f"{key}_degrees"])
                ax.loglog(v, t, "-", lw=1, label=f"synthetic {size['label']} (tail α "
                          f"{size['load'][f'{key}_fit']['alpha']:.2f})")
            ax.set_xlabel(f"{key} degree / mean {key} degree (training split)")
            ax.set_ylabel("P(degree ≥ x)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(out_dir / "scale-degrees.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", nargs="+", default=["1M", "5M", "20M"])
    p.add_argument("--data-root", default="/tmp/ssrec-synth",
                   help="where the synthetic datasets are written (not the repository)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--full-steps", type=int, default=5)
    p.add_argument("--full-warmup", type=int, default=1)
    p.add_argument("--full-limit", type=int, default=10_000_000,
                   help="training interactions from which full propagation is timed with "
                   "--full-steps / --full-warmup")
    p.add_argument("--eval-blocks", type=int, default=8)
    p.add_argument("--ddp", action="store_true")
    p.add_argument("--gowalla", default="gowalla", help="the reference for the CCDF plot")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--plot", action="store_true", help="only redraw the PNGs from the JSON")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        import logging

        logging.disable(logging.WARNING)  # the data notes of every child, once per size
        fn = {"load": child_load, "work": child_work, "ddp": child_ddp}[args.child]
        rec = fn(args)
        if rec:
            print(json.dumps(rec), flush=True)
        return 0
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.plot:
        res = json.loads((out_dir / "scale.json").read_text())
        for path in plot(res, out_dir):
            print(path)
        return 0
    from ssrec.data.synth import parse_count, synthesize

    res: dict = {"load_average_start": load_average(), "threads": args.threads,
                 "steps": args.steps, "warmup": args.warmup, "full_steps": args.full_steps,
                 "full_warmup": args.full_warmup, "set": args.set, "sizes": []}
    ref = _child(args, "load", args.gowalla)
    res["gowalla_degrees"] = {k: ref[f"{k}_degrees"] for k in ("user", "item")}
    res["gowalla_fit"] = {k: ref[f"{k}_fit"] for k in ("user", "item")}
    res["gowalla_load"] = {k: ref[k] for k in ("load_total_seconds", "peak_rss_mb")}
    for label in args.sizes:
        n = parse_count(label)
        folder = Path(args.data_root) / label
        meta_file = folder / "synth.json"
        if not meta_file.exists() or json.loads(meta_file.read_text())["seed"] != args.seed:
            t = time.perf_counter()
            meta = synthesize(n, folder, seed=args.seed)
            meta["generate_seconds"] = time.perf_counter() - t
            meta_file.write_text(json.dumps(meta, indent=2) + "\n")
        meta = json.loads(meta_file.read_text())
        print(f"{label}: {meta['users']:,} users, {meta['items']:,} items", file=sys.stderr,
              flush=True)
        entry = {"label": label, "interactions": meta["interactions"], "synth": meta,
                 "load_average_before": load_average()}
        entry["load"] = _child(args, "load", str(folder))
        print(f"  load {entry['load']['load_total_seconds']:.1f} s, peak RSS "
              f"{entry['load']['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
        entry["work"] = _child(args, "work", str(folder))
        entry["load_average_after"] = load_average()
        res["sizes"].append(entry)
        (out_dir / "scale.json").write_text(json.dumps(res, indent=1) + "\n")
    if args.ddp:
        folder = str(Path(args.data_root) / args.sizes[0])
        torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                    "--master_port", "29517"]
        one = {"OMP_NUM_THREADS": "1"}
        res["ddp"] = {
            "size": args.sizes[0],
            "1 rank x 1 thread": _child(args, "ddp", folder, env=one),
            "1 rank x 2 threads": _child(args, "ddp", folder, ["--threads", "2"],
                                         env={"OMP_NUM_THREADS": "2"}),
            "2 ranks x 1 thread": _child(args, "ddp", folder, launcher=torchrun, env=one),
        }
    res["load_average_end"] = load_average()
    res["exponents"] = exponents(res) if len(res["sizes"]) >= 2 else {}
    (out_dir / "scale.json").write_text(json.dumps(res, indent=1) + "\n")
    if res["exponents"]:
        for path in plot(res, out_dir):
            print(path)
    print(json.dumps(res["exponents"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
