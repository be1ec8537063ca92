"""Regenerate ``lastfm_metrics.json``: the validation/test metrics of short, fixed-seed runs.

``test_golden.py`` checks that later changes (optimisations, refactors) leave these numbers
exactly unchanged on CPU. The SimGCL and XSimGCL cases also pin the counter-based noise stream
(:func:`ssrec.augment.uniform_noise`), which is defined by its seed and entry index. Only
regenerate the file for an intended change of results, and say so in the commit message.

    SSREC_DATA_DIR=../shared/data python tests/golden/make_golden.py
"""

from __future__ import annotations

import json
from pathlib import Path

from ssrec.config import load_config
from ssrec.training import run

CASES = {
    "MF": ["model.name=MF"],
    "LightGCN-2": ["model.name=LightGCN", "model.n_layers=2"],
    "SimGCL": ["model.name=SimGCL", "model.cl_weight=0.1"],
    "XSimGCL": ["model.name=XSimGCL"],
}
COMMON = ["data.dataset=lastfm", "presets=false", "train.epochs=3", "train.progress=false",
          "seed=2020", "eval.block_size=500"]


def compute(data_dir: str | None = None) -> dict:
    out = {}
    for name, extra in CASES.items():
        over = COMMON + extra + ([f"data.data_dir={data_dir}"] if data_dir else [])
        res = run(load_config(None, over), write=False)
        out[name] = {"valid": res.valid, "test": res.test, "best_epoch": res.best_epoch,
                     "last_loss": res.history[-1]["loss"]}
    return out


if __name__ == "__main__":
    path = Path(__file__).with_name("lastfm_metrics.json")
    path.write_text(json.dumps({"cases": CASES, "common": COMMON, "results": compute()},
                               indent=1) + "\n")
    print("written", path)
