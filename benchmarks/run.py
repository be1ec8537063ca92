"""Speed and memory benchmark (not a test): figures, kernel floors, and a Markdown report.

For each model on a dataset, in a fresh subprocess (so peak memory is per model):

* ``load_seconds``: reading the files, cleaning, splitting, id maps, normalised graph;
* ``epoch_seconds``: training epochs (every training interaction once), the median of
  ``--epochs`` timed epochs after ``--warmup`` untimed ones;
* ``epoch_floor_seconds``: the kernel floor of an epoch: the sparse–dense products one
  training step runs (forward and backward of the propagation, counted with
  :class:`ssrec.models.layers.SpmmCounter`), times the batches per epoch, timed bare in a loop
  right after each timed epoch, each product of a step on its own ``[N, D]`` operand as in the
  epoch (``floor_operand_cost`` compares this with one reused, cache-warm operand). The
  median is reported; ``epoch_floor_ratio_median`` is the median of the epoch / floor pairs,
  since this machine's speed drifts within a run;
* ``epoch_dense_floor_seconds_each``: the dense matrix products of one step's loss (e.g.
  InfoNCE's ``[B, D] x [D, B]`` similarities, forward and backward, recorded by operand
  shapes), times the batches per epoch, timed bare right after each timed epoch;
  ``epoch_all_products_ratio_median`` counts them in the floor;
* ``spmm_seconds_by_layout``: one product ``Â @ X`` with ``Â`` as COO, CSR with int64 and
  CSR with int32 indices (the layout ssrec uses);
* ``eval_seconds``: one full-ranking evaluation of the test split (every test user × every
  item, training + validation items masked, top-max(K));
* ``eval_floor_seconds``: the bare scoring matmul + ``topk`` over the same users and blocks;
* ``peak_rss_mb``: peak resident memory of the whole process (``ru_maxrss``);
* ``eval_memory``: for two block sizes, the extra peak memory of an evaluation in a fresh
  process (it grows with the block size, not with users × items).

Usage::

    python benchmarks/run.py --dataset gowalla --models LightGCN SimGCL --set model.n_layers=2
    python benchmarks/run.py --dataset ml-100k --models LightGCN --set model.n_layers=2
    python benchmarks/run.py --report        # docs/benchmarks.md from benchmarks/results/*.json

Results: ``benchmarks/results/<dataset>[-<tag>].json``; ``--report`` renders every JSON file in
that folder into ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ssrec.utils.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _rss_mb() -> float:
    try:
        import psutil
    except ImportError:
        raise SystemExit("benchmarks/run.py samples memory with psutil: "
                         "pip install -e '.[bench]'") from None
    return psutil.Process().memory_info().rss / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _config(args: argparse.Namespace, model: str, block_size: int):
    from ssrec.config import load_config

    over = [f"model.name={model}", f"data.dataset={args.dataset}", "train.progress=false",
            f"eval.block_size={block_size}", *args.set]
    if args.data_dir:
        over.append(f"data.data_dir={args.data_dir}")
    from ssrec.training.run import resolve_data_needs

    return resolve_data_needs(load_config(None, over))


class _DenseMatmuls(TorchDispatchMode):
    """Records the operand shapes of the dense matrix products (``mm``, ``addmm``, ``bmm``,
    ``baddbmm``) run while active, forward and backward (e.g. InfoNCE's ``[B, D] × [D, B]``);
    products with a sparse operand are the propagation's and are counted by SpmmCounter."""

    OPS = {"mm": (0, 1), "bmm": (0, 1), "addmm": (1, 2), "baddbmm": (1, 2)}

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in self.OPS:
            a, b = (args[i] for i in self.OPS[name])
            if a.layout == torch.strided and b.layout == torch.strided:
                self.shapes.append((tuple(a.shape), tuple(b.shape)))
        return func(*args, **(kwargs or {}))


def spmm_by_layout(adj: torch.Tensor, dim: int, reps: int = 20) -> dict[str, float]:
    """Seconds per product ``Â @ X`` (``X`` ``[N, dim]``) for the sparse layouts PyTorch
    offers on CPU: COO (int64 indices) and CSR with int64 or int32 indices (ssrec's)."""
    x = torch.randn(adj.shape[1], dim)
    crow, col = adj.crow_indices(), adj.col_indices()
    layouts = {
        "coo_int64": adj.to_sparse_coo().coalesce(),
        "csr_int64": torch.sparse_csr_tensor(crow.long(), col.long(), adj.values(), adj.shape),
        "csr_int32": torch.sparse_csr_tensor(crow.int(), col.int(), adj.values(), adj.shape),
    }
    out = {}
    for name, m in layouts.items():
        torch.sparse.mm(m, x)  # warm-up
        t = time.perf_counter()
        for _ in range(reps):
            torch.sparse.mm(m, x)
        out[name] = (time.perf_counter() - t) / reps
    return out


def child_train(args: argparse.Namespace) -> dict:
    from ssrec.data import load_dataset
    from ssrec.evaluation import Evaluator
    from ssrec.models import model_class, model_config, resolved_config
    from ssrec.models.layers import SpmmCounter
    from ssrec.training import Trainer
    from ssrec.training.run import build_model
    from ssrec.utils.perf import deterministic_kernels, tune_malloc

    tune_malloc()
    cfg = _config(args, args.child, args.block_size)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    data = load_dataset(cfg.data, seed=cfg.seed)
    cls = model_class(cfg)
    adj = data.norm_adj if cls.family == "graph" else None
    load_s = time.perf_counter() - t0
    model = build_model(cfg, data)
    trainer = Trainer(model, data, cfg.train, cfg.eval, seed=cfg.seed, device="cpu")
    # the trainer's kernel settings, for the rest of this function (the child process)
    kernels = contextlib.ExitStack()
    kernels.enter_context(deterministic_kernels(cfg.train.deterministic))
    epochs: list[float] = []
    n_fwd = n_bwd = 0
    dense_shapes: list = []
    n_batches = len(trainer.sampler) if trainer.sampler else 0
    if model.trainable:
        # count the products of one step (on a throw-away copy of the model state)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        opt_state = trainer.optimizer.state_dict()
        batch = next(iter(trainer.sampler.epoch()))
        with SpmmCounter() as counter, _DenseMatmuls() as dense:
            trainer.optimizer.zero_grad(set_to_none=True)
            model.loss(batch).total.backward()
        dense_shapes = dense.shapes
        n_fwd, n_bwd = counter.forward, counter.backward
        model.load_state_dict(state)
        trainer.optimizer.load_state_dict(opt_state)
        trainer.optimizer.zero_grad(set_to_none=True)
    # one distinct [N, D] operand per product of a step, as in the epoch (E^(0), E^(1), the
    # views, their gradients): a loop over one operand keeps it in cache, a best case no epoch
    # can reach
    per_step = n_fwd + n_bwd
    xs = [torch.randn(adj.shape[0], model_config(cfg).embedding_dim)
          for _ in range(max(per_step, 1))] if adj is not None else []

    def floor_once(rotate: bool = True, steps: int | None = None) -> float:
        """The sparse products of ``steps`` training steps (default: an epoch), bare."""
        t = time.perf_counter()
        for i in range((n_batches if steps is None else steps) * per_step):
            torch.sparse.mm(adj, xs[i % per_step if rotate else 0])
        return time.perf_counter() - t

    operands = [(torch.randn(a), torch.randn(b)) for a, b in dense_shapes]

    def dense_once() -> float:  # the epoch's dense matmuls (e.g. InfoNCE's), bare
        t = time.perf_counter()
        for _ in range(n_batches):
            for a, b in operands:
                torch.matmul(a, b)
        return time.perf_counter() - t

    floors: list[float] = []
    dense_floors: list[float] = []
    operand_cost = layouts = None
    if model.trainable:
        if adj is not None and per_step:
            torch.sparse.mm(adj, xs[0])  # warm-up
            # what the distinct operands cost against one reused operand (10 steps each)
            operand_cost = {"one_operand_s_per_10_steps": floor_once(False, 10),
                            "distinct_operands_s_per_10_steps": floor_once(True, 10)}
            if adj.layout == torch.sparse_csr:
                layouts = spmm_by_layout(adj, model_config(cfg).embedding_dim)
        for e in range(1, args.warmup + args.epochs + 1):
            t = time.perf_counter()
            trainer.train_epoch(e)
            if e > args.warmup:
                epochs.append(time.perf_counter() - t)
                # the floor right after each timed epoch: this machine's speed drifts by tens
                # of percent over minutes, so ratios are taken pairwise
                if adj is not None and per_step:
                    floors.append(floor_once())
                    dense_floors.append(dense_once() if operands else 0.0)
    floor_s = statistics.median(floors) if floors else None
    ev = Evaluator(data, "test", cfg.eval.ks, cfg.eval.metrics, args.block_size)
    t = time.perf_counter()
    metrics = ev.evaluate(model)
    eval_s = time.perf_counter() - t
    eval_floor_s = None
    if hasattr(model, "embeddings"):
        with torch.no_grad():
            users_all, items_all = (e.detach() for e in model.embeddings())
            kmax = max(cfg.eval.ks)
            # one score buffer for all blocks, as the evaluator (fresh blocks fragment the heap)
            buf = torch.empty(min(args.block_size, ev.n_users), data.n_items)
            t = time.perf_counter()
            for s in range(0, ev.n_users, args.block_size):
                u = torch.from_numpy(ev.users[s:s + args.block_size])
                torch.topk(torch.matmul(users_all[u], items_all.T, out=buf[:u.numel()]), kmax,
                           dim=1)
            eval_floor_s = time.perf_counter() - t
            del buf
    return {
        "model": model.name,
        "model_config": resolved_config(cfg)["model"],
        "batch_size": cfg.train.batch_size,
        "batches_per_epoch": n_batches,
        "train_interactions": len(data.train),
        "spmm_per_step": {"forward": n_fwd, "backward": n_bwd},
        "load_seconds": load_s,
        "epoch_seconds": epochs,
        "epoch_seconds_median": statistics.median(epochs) if epochs else None,
        "epoch_floor_seconds": floor_s,
        "epoch_floor_seconds_each": floors,
        "epoch_floor_ratio_median": statistics.median(e / f for e, f in zip(epochs, floors))
        if floors else None,
        "floor_operand_cost": operand_cost,
        "spmm_seconds_by_layout": layouts,
        "dense_matmuls_per_step": [list(a) + list(b[-1:]) for a, b in dense_shapes],
        "epoch_dense_floor_seconds_each": dense_floors,
        "epoch_all_products_ratio_median": statistics.median(
            e / (f + d) for e, f, d in zip(epochs, floors, dense_floors)) if floors else None,
        "eval_seconds": eval_s,
        "eval_floor_seconds": eval_floor_s,
        "eval_users": ev.n_users,
        "eval_items": data.n_items,
        "eval_block_size": args.block_size,
        "peak_rss_mb": _peak_mb(),
        "test_recall@20_after_benchmark": metrics.get("recall@20"),
    }


def child_evalmem(args: argparse.Namespace) -> dict:
    from ssrec.data import load_dataset
    from ssrec.evaluation import Evaluator
    from ssrec.training.run import build_model
    from ssrec.utils.perf import tune_malloc

    tune_malloc()
    cfg = _config(args, args.child, args.block_size)
    data = load_dataset(cfg.data, seed=cfg.seed)
    model = build_model(cfg, data)
    ev = Evaluator(data, "test", cfg.eval.ks, cfg.eval.metrics, args.block_size)
    import threading

    before = _rss_mb()
    peak = [before]
    stop = threading.Event()

    def sample() -> None:  # RSS sampled every 2 ms while the evaluation runs
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.002)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t = time.perf_counter()
    ev.evaluate(model)
    seconds = time.perf_counter() - t
    stop.set()
    th.join()
    return {"block_size": args.block_size, "rss_before_mb": before, "peak_mb": peak[0],
            "peak_increase_mb": peak[0] - before,
            "score_block_mb": args.block_size * data.n_items * 4 / 2**20,
            "dense_all_users_mb": ev.n_users * data.n_items * 4 / 2**20,
            "seconds": seconds}


def _run_child(args: argparse.Namespace, model: str, mode: str, block: int) -> dict:
    cmd = [sys.executable, __file__, "--child", model, "--mode", mode, "--dataset", args.dataset,
           "--epochs", str(args.epochs), "--warmup", str(args.warmup), "--block-size", str(block)]
    for s in args.set:
        cmd += ["--set", s]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "device": "cpu"}


def render(results_dir: Path = RESULTS) -> str:
    """Markdown report of every ``*.json`` in ``results_dir``."""
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python benchmarks/run.py --report` from `benchmarks/results/*.json` "
        "(the figures of each dataset come from `python benchmarks/run.py --dataset ...`, see "
        "the command line above each table). *Floor* is the kernel floor: the same "
        "sparse–dense products a training epoch runs (forward and backward of the propagation, "
        "every batch, each product of a step on its own operand as in the epoch), or the same "
        "scoring matmul + `topk` an evaluation runs, timed bare in a loop; *ratio* = "
        "measured / floor (for epochs: the median over the timed epochs of each epoch over the "
        "floor timed right after it). *Dense matmuls*: the dense matrix "
        "products of the loss that one step runs, forward and backward (e.g. InfoNCE's "
        "`[B, D] × [D, B]` similarities), timed bare for every batch; *ratio to all products* "
        "counts them in the floor.",
        "",
    ]
    for path in sorted(results_dir.glob("*.json")):
        rep = json.loads(path.read_text())
        if "results" not in rep or "command" not in rep:
            continue
        m = rep["machine"]
        lines += [f"## {rep['dataset']}{' (' + rep['tag'] + ')' if rep.get('tag') else ''}", "",
                  f"`{rep['command']}`", "",
                  f"Machine: {m['cpus']} × {m.get('cpu') or 'CPU'}, torch {m['torch']}, "
                  f"{m['torch_threads']} threads, device {m.get('device', 'cpu')}; "
                  f"{rep['settings']['epochs_timed']} timed epochs after "
                  f"{rep['settings']['warmup']} warm-up.", "",
                  "| model | s/epoch (median) | epoch floor s | ratio | dense matmuls s | "
                  "ratio to all products | full-ranking eval s | eval floor s | ratio | "
                  "peak RSS MB | load s |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rep["results"]:
            def f(x, fmt="{:.2f}"):
                return "—" if x is None else fmt.format(x)

            ep, fl = r["epoch_seconds_median"], r["epoch_floor_seconds"]
            dense = r.get("epoch_dense_floor_seconds_each")
            fig = _figures(r)
            lines.append(
                f"| {r['model']} (L={r['model_config'].get('n_layers', '—')}) | {f(ep)} | "
                f"{f(fl)} | {f(fig['epoch_ratio'])} | "
                f"{f(statistics.median(dense) if dense else None)} | "
                f"{f(r.get('epoch_all_products_ratio_median') if dense else None)} | "
                f"{f(fig['eval_s'])} | "
                f"{f(r['eval_floor_seconds'])} | {f(fig['eval_ratio'])} | "
                f"{r['peak_rss_mb']:.0f} | {r['load_seconds']:.2f} |")
        r0 = rep["results"][0]
        lines += ["", f"{r0['train_interactions']:,} training interactions, batch "
                  f"{r0['batch_size']} ({r0['batches_per_epoch']} batches per epoch); evaluation "
                  f"of {r0['eval_users']:,} users × {r0['eval_items']:,} items in blocks of "
                  f"{r0['eval_block_size']}."]
        lay = next((r["spmm_seconds_by_layout"] for r in rep["results"]
                    if r.get("spmm_seconds_by_layout")), None)
        if lay:
            lines += ["", "One propagation product `Â @ X` (`X` of width D) by sparse layout, ms: "
                      + ", ".join(f"{k.replace('_', ' ')} {v * 1e3:.1f}" for k, v in lay.items())
                      + " (ssrec uses CSR with int32 indices)."]
        if rep.get("eval_memory"):
            lines += ["", "Evaluation memory (fresh process, untrained model):", "",
                      "| block size | score block MB | peak RSS increase MB | dense users × items "
                      "MB | eval s |", "|---|---|---|---|---|"]
            for e in rep["eval_memory"]:
                lines.append(f"| {e['block_size']} | {e['score_block_mb']:.0f} | "
                             f"{e['peak_increase_mb']:.0f} | {e['dense_all_users_mb']:.0f} | "
                             f"{e['seconds']:.2f} |")
        lines += _targets(rep)
        notes = ROOT / "benchmarks" / "notes" / f"{path.stem}.md"
        if notes.is_file():
            lines += ["", notes.read_text().strip()]
        lines.append("")
    return "\n".join(lines)


# The targets of the speed issue: a third of the reference toolkit's (SELFRec's) time on the
# same machine type, and close to the kernel floor (see benchmarks/notes/gowalla.md).
TARGETS = {
    "gowalla": {"LightGCN": {"epoch_s": 97, "epoch_ratio": 1.5, "eval_s": 5.5, "eval_ratio": 1.3,
                             "peak_rss_mb": 1.3 * 1024},
                "SimGCL": {"epoch_s": 288, "epoch_ratio": 1.5}},
    "ml-100k": {"LightGCN": {"epoch_s": 0.6}},
}


def _figures(r: dict) -> dict:
    """The figures of one model's result that the tables and the targets compare: the epoch's
    ratio to its floor (the median of the pairs when floors were paired with epochs), the
    evaluation's seconds and ratio, and the peak RSS."""
    ep, fl = r["epoch_seconds_median"], r["epoch_floor_seconds"]
    ev, evf = r["eval_seconds"], r["eval_floor_seconds"]
    return {"epoch_s": ep,
            "epoch_ratio": r.get("epoch_floor_ratio_median") or (ep / fl if ep and fl else None),
            "eval_s": ev, "eval_ratio": ev / evf if evf else None,
            "peak_rss_mb": r["peak_rss_mb"]}


def _targets(rep: dict) -> list[str]:
    """A table of each target of :data:`TARGETS` for this figure file: the value and whether it
    is met."""
    want = TARGETS.get(rep["dataset"]) if not rep.get("tag") else None
    if not want:
        return []
    rows = []
    for r in rep["results"]:
        t = want.get(r["model"])
        if not t or r["model_config"].get("n_layers") != 2:
            continue
        got = _figures(r)
        names = {"epoch_s": "s per epoch", "epoch_ratio": "epoch / floor",
                 "eval_s": "full-ranking eval s", "eval_ratio": "eval / floor",
                 "peak_rss_mb": "peak RSS MB"}
        for key, limit in t.items():
            v = got[key]
            ok = "—" if v is None else ("met" if v <= limit else "**not met**")
            rows.append(f"| {r['model']} | {names[key]} | ≤ {limit:g} | "
                        f"{'—' if v is None else f'{v:.2f}'} | {ok} |")
    if not rows:
        return []
    return ["", "Targets (2 layers):", "", "| model | figure | target | measured | |",
            "|---|---|---|---|---|", *rows]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dataset", default="gowalla")
    p.add_argument("--models", nargs="+", default=["LightGCN", "SimGCL"])
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per model (median)")
    p.add_argument("--warmup", type=int, default=1, help="untimed epochs first")
    p.add_argument("--block-size", type=int, default=2048, help="evaluation users per block")
    p.add_argument("--mem-blocks", type=int, nargs="*", default=[256, 2048],
                   help="block sizes for the evaluation-memory measurement")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--tag", default="", help="suffix of the result file, e.g. h200")
    p.add_argument("--out", default=None)
    p.add_argument("--report", action="store_true", help="render docs/benchmarks.md and exit")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="train", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.report:
        atomic_write_text(ROOT / "docs" / "benchmarks.md", render())
        print(f"[bench] written {ROOT / 'docs' / 'benchmarks.md'}", file=sys.stderr)
        return 0
    if args.child:
        fn = child_train if args.mode == "train" else child_evalmem
        print(json.dumps(fn(args)))
        return 0
    results = []
    for model in args.models:
        print(f"[bench] {model} on {args.dataset} ...", file=sys.stderr, flush=True)
        res = _run_child(args, model, "train", args.block_size)
        print(f"[bench] {model}: epoch {res['epoch_seconds_median']} (floor "
              f"{res['epoch_floor_seconds']}), eval {res['eval_seconds']:.2f}s (floor "
              f"{res['eval_floor_seconds']}), peak RSS {res['peak_rss_mb']:.0f} MB",
              file=sys.stderr, flush=True)
        results.append(res)
    evalmem = []
    for b in args.mem_blocks:
        evalmem.append(_run_child(args, args.models[0], "evalmem", b))
        print(f"[bench] eval memory, block {b}: +{evalmem[-1]['peak_increase_mb']:.0f} MB",
              file=sys.stderr, flush=True)
    command = "python benchmarks/run.py " + " ".join(a for a in sys.argv[1:])
    report = {
        "dataset": args.dataset,
        "tag": args.tag,
        "command": command,
        "machine": machine(),
        "settings": {"epochs_timed": args.epochs, "warmup": args.warmup, "overrides": args.set,
                     "block_size": args.block_size},
        "results": results,
        "eval_memory": evalmem,
    }
    name = args.dataset + (f"-{args.tag}" if args.tag else "")
    out = Path(args.out) if args.out else RESULTS / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    print(f"[bench] written {out}", file=sys.stderr)
    if out.resolve().parent == RESULTS.resolve():  # a figure file elsewhere leaves the page
        atomic_write_text(ROOT / "docs" / "benchmarks.md", render())
        print(f"[bench] written {ROOT / 'docs' / 'benchmarks.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
