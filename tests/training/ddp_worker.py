"""One rank of the distributed tests (``tests/training/test_distributed.py``), started by
torchrun: ``python -m torch.distributed.run --nproc_per_node 2 ddp_worker.py MODE OUT [DATA]``.

Several runs share one launch (one process group), because starting torchrun and importing
torch dominate the tests' time on a 2-core CI machine.

Modes:
    ``toy``: LightGCN on the planted data ``DATA`` (a folder with train.txt / test.txt), 25
        interactions per rank: ``OUT/full`` 3 epochs; ``OUT/resumed`` 2 epochs, then resumed
        to 3.
    ``lastfm``: LightGCN, SimGCL and SASRec, 1 epoch each, into ``OUT/<model>``; then the
        sharded evaluation of a freshly built LightGCN (fixed weights), whose per-user values
        rank 0 writes to ``OUT/sharded_eval.npz`` with the weights in ``OUT/weights.pt``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from ssrec.config import load_config
from ssrec.data import load_dataset
from ssrec.evaluation import Evaluator
from ssrec.training import run
from ssrec.training.run import build_model
from ssrec.utils import distributed

EVAL_METRICS = ["recall", "ndcg", "precision", "hit", "mrr", "coverage", "gini", "avgpop"]


def toy_config(data: str, out: str, epochs: int, batch_size: int = 25):
    # 25 per rank on 2 ranks = a global batch of 50 over the planted data's ~320 training
    # interactions: the last batch is short and splits unevenly (its shards are weighted, see
    # shard_batch); 1 thread, as torchrun gives each rank
    return load_config(None, [f"train.epochs={epochs}", f"train.batch_size={batch_size}",
                              "train.progress=false", "train.lr=0.01", "data.valid_ratio=0.1",
                              "eval.ks=[5]", "train.num_threads=1"],
                       **{"model.name": "LightGCN", "data.dataset": data, "output_dir": out,
                          "seed": 7})


def lastfm_eval_config():
    return load_config(None, [f"eval.metrics={json.dumps(EVAL_METRICS)}", "eval.ks=[10, 20]",
                              "eval.block_size=128"],
                       **{"model.name": "LightGCN", "data.dataset": "lastfm", "seed": 11})


def main() -> None:
    mode, out = sys.argv[1], Path(sys.argv[2])
    if mode == "toy":
        data = sys.argv[3]
        run(toy_config(data, str(out / "full"), 3))
        run(toy_config(data, str(out / "resumed"), 2))
        run(toy_config(data, str(out / "resumed"), 3), resume=True)
    elif mode == "lastfm":
        for model in ("LightGCN", "SimGCL", "SASRec"):
            cfg = load_config(None, ["train.epochs=1", "train.progress=false"],
                              **{"model.name": model, "data.dataset": "lastfm",
                                 "output_dir": str(out / model)})
            run(cfg)
        cfg = lastfm_eval_config()
        data = load_dataset(cfg.data, seed=cfg.seed)
        model = build_model(cfg, data)
        ev = Evaluator.from_config(data, "valid", cfg.eval, model, cfg.seed)
        per_user, catalogue = ev.scores(model)
        if distributed.is_main():
            np.savez(out / "sharded_eval.npz", **per_user)
            (out / "sharded_catalogue.json").write_text(json.dumps(catalogue))
            torch.save(model.state_dict(), out / "weights.pt")
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    distributed.shutdown()


if __name__ == "__main__":
    main()
