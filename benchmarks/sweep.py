"""Small hyper-parameter sweeps on the **validation** split, for the zoo's dataset presets.

Each configuration of the cartesian product of the ``--grid`` options is trained with the zoo
protocol of the dataset (``benchmarks/zoo.py``: same data options, seed 2020) and a budget set
with ``--set`` (e.g. fewer epochs, validation every 5 epochs). The best validation NDCG@20 of
every configuration is written to ``benchmarks/results/sweeps/<dataset>-<model>.json``
(resumable: configurations already there are skipped). The test split is scored too, as the
trainer always does, and recorded, but selection uses the validation score only.

Example::

    python benchmarks/sweep.py --model SGL --dataset lastfm \\
        --grid model.cl_weight=0.02,0.1,0.5 --grid model.tau=0.2,0.5 \\
        --set train.eval_every=5 --set train.patience=3 --set train.epochs=150
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import zoo  # noqa: E402  (same folder)

OUT = zoo.ROOT / "benchmarks" / "results" / "sweeps"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--dataset", required=True, choices=list(zoo.DATASETS))
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="values to try for one key (the product of all --grid is trained)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="fixed override for every configuration (e.g. the budget)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--force", action="store_true")
    args = p.parse_args(argv)

    zoo._setup_path()
    from ssrec.utils.io import atomic_write_json

    axes = []
    for g in args.grid:
        key, _, values = g.partition("=")
        axes.append([f"{key}={v}" for v in values.split(",")])
    path = OUT / f"{args.dataset}-{args.model}.json"
    done = json.loads(path.read_text()) if path.is_file() else {"runs": {}}
    for combo in itertools.product(*axes) if axes else [()]:
        key = " ".join([*combo, *args.set]) or "defaults"
        if key in done["runs"] and not args.force:
            print(f"[sweep] {key}: done", file=sys.stderr)
            continue
        ns = argparse.Namespace(data_dir=args.data_dir, threads=args.threads,
                                set=[*args.set, *combo])
        overrides = zoo.cell_overrides(args.model, args.dataset, ns)
        run_dir = zoo.ROOT / "runs" / "sweeps" / args.dataset / args.model / hashlib.sha1(key.encode()).hexdigest()[:12]
        try:
            rec = zoo.child(overrides, str(run_dir))
        except Exception as exc:  # record and continue with the next configuration
            rec = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        done["runs"][key] = {k: rec[k] for k in ("valid", "test", "best_epoch", "epochs_run",
                                                 "seconds_per_epoch", "error") if k in rec}
        atomic_write_json(path, done)
        if "error" in rec:
            print(f"[sweep] {key}: FAILED {rec['error']}", file=sys.stderr)
        else:
            print(f"[sweep] {key}: valid ndcg@20 {rec['valid']['ndcg@20']:.4f} (test "
                  f"{rec['test']['ndcg@20']:.4f}), best epoch {rec['best_epoch']}/"
                  f"{rec['epochs_run']}", file=sys.stderr, flush=True)
    ranked = sorted(((k, r) for k, r in done["runs"].items() if "valid" in r),
                    key=lambda kr: -kr[1]["valid"]["ndcg@20"])
    for k, r in ranked:
        print(f"{r['valid']['ndcg@20']:.4f}  {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
