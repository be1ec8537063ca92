"""The ``ssrec tune``, ``ssrec plot`` and ``ssrec diagnose`` commands (registered by
:func:`ssrec.cli.build_parser`).

::

    ssrec tune SPEC.yaml [--out DIR] [--n-trials N] [--timeout SECONDS] [--report]
    ssrec plot RUN_DIR [RUN_DIR ...] --out FILE.png [--labels L ...] [--title T]
    ssrec diagnose RUN_DIR [RUN_DIR ...] [--out DIR] [--split test|valid] [--json]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ssrec.errors import SsrecError


def cmd_tune(args: argparse.Namespace) -> int:
    from ssrec.tuning import TuneSpec, run_study, write_study_report

    spec = TuneSpec.from_file(args.spec)
    if args.data_dir:
        import os

        os.environ["SSREC_DATA_DIR"] = args.data_dir
    out = Path(args.out or spec.out or Path("runs") / "tune" / spec.name)
    if args.report:
        paths = write_study_report(spec, out)
    else:
        summary = run_study(spec, out, n_trials=args.n_trials, timeout=args.timeout,
                            final=not args.no_final)
        paths = summary["report"]
        best = summary.get("best")
        if best:
            print(f"best trial {best['number']}: valid {summary['metric']} "
                  f"{best['value']:.4f} with " +
                  ", ".join(f"{k}={v}" for k, v in best["params"].items()))
        final = summary.get("final")
        if final:
            print("best configuration, trained once: test " +
                  ", ".join(f"{k} {v:.4f}" for k, v in final["test"].items()
                            if k.split("@")[0] in ("recall", "ndcg")))
            print(f"best config: {summary['best_config']}")
    print(f"report: {paths['md']}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from ssrec.training.curves import plot_curves, read_curve

    if args.labels and len(args.labels) != len(args.runs):
        raise SsrecError(f"--labels gives {len(args.labels)} labels for {len(args.runs)} runs")
    if not args.out.lower().endswith(".png"):
        raise SsrecError(f"--out {args.out}: the figure is a PNG; name it *.png")
    labels = args.labels or _short_labels(args.runs)
    curves = [read_curve(r, label) for r, label in zip(args.runs, labels)]
    path = plot_curves(curves, args.out, title=args.title)
    print(f"figure: {path}")
    return 0


def _short_labels(runs: list[str]) -> list[str]:
    """The shortest trailing path parts that tell the runs apart."""
    parts = [Path(r).resolve().parts for r in runs]
    for n in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-n:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return list(runs)


def cmd_diagnose(args: argparse.Namespace) -> int:
    from ssrec.diagnostics.report import diagnose_run, diagnose_runs

    opts = {"split": args.split, "data_dir": args.data_dir, "device": args.device,
            "allow_data_change": args.allow_data_change, "groups": args.groups,
            "earlier_version": args.earlier_version}
    if len(args.run_dirs) > 1:
        if not args.out:
            raise SsrecError("several runs need --out DIR (each run's diagnostics go into a "
                             "subfolder, the comparison beside them)")
        multi = diagnose_runs(args.run_dirs, args.out, **opts)
        for s in multi["runs"]:
            s.pop("_angles", None)
        if args.json:
            print(json.dumps(multi, indent=2))
        else:
            print((Path(args.out) / "diagnostics.md").read_text())
            print(f"written: {', '.join(multi['files'])} in {args.out}")
        return 0
    summary = diagnose_run(args.run_dirs[0], out=args.out, **opts)
    summary.pop("_angles", None)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    rep = summary["representations"]
    for side in ("users", "items"):
        r = rep[side]
        print(f"{side}: uniformity {r['uniformity']:.4f}, angle KL from uniform "
              f"{r['angles']['kl_from_uniform']:.4f}, mean resultant length "
              f"{r['angles']['mean_resultant_length']:.4f}")
    print(f"alignment {rep['alignment']:.4f} over {rep['alignment_pairs']:,} training pairs")
    lists = summary["lists"]
    print(f"{summary['split']} lists: " + ", ".join(f"{k} {v:.4f}" for k, v in lists.items()))
    print(f"written: {', '.join(summary['files'])} in {summary['out']}")
    return 0


def add_tool_commands(sub: Any, data_dir: Callable[[argparse.ArgumentParser], None],
                      allow_change: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the ``tune``, ``plot`` and ``diagnose`` sub-commands to ``sub``."""
    tu = sub.add_parser(
        "tune", help="search hyper-parameters on the validation split (Optuna TPE, pruning)",
        description="Run an Optuna study from a search-space spec: each trial trains one "
        "configuration and is scored on the validation split only (pruned early when it "
        "falls behind); the study lives in SQLite in the study folder, so the same command "
        "resumes a killed study. At the end the best configuration is written as YAML, "
        "trained once and its test split scored once. Needs the `tune` extra (Optuna).")
    tu.add_argument("spec", help="tuning spec (YAML)")
    tu.add_argument("--out", help="study folder (default: the spec's `out`, else "
                    "runs/tune/<spec name>)")
    tu.add_argument("--n-trials", type=int,
                    help="finished (complete or pruned) trials the study should hold "
                    "(default: the spec's n_trials)")
    tu.add_argument("--timeout", type=float,
                    help="stop starting new trials after this many seconds (default: the "
                    "spec's timeout, else none)")
    tu.add_argument("--report", action="store_true",
                    help="only rewrite the study report from the stored study")
    tu.add_argument("--no-final", action="store_true",
                    help="skip training the best configuration and scoring its test split")
    data_dir(tu)
    tu.set_defaults(func=cmd_tune)

    pl = sub.add_parser("plot", help="overlay the training curves of runs",
                        description="Loss parts and the monitored validation metric per "
                        "epoch of one or more run folders (their log.jsonl), best epochs "
                        "marked, as one PNG.")
    pl.add_argument("runs", nargs="+", metavar="RUN_DIR")
    pl.add_argument("--out", required=True, help="the PNG to write")
    pl.add_argument("--labels", nargs="+", help="legend labels, one per run")
    pl.add_argument("--title", help="figure title")
    pl.set_defaults(func=cmd_plot)

    dg = sub.add_parser(
        "diagnose", help="alignment/uniformity, embedding distribution and beyond-accuracy "
        "metrics of a finished run",
        description="On a finished run's kept weights: alignment and uniformity of the user "
        "and item representations, their 2-D angle distribution, the beyond-accuracy "
        "metrics of the top-K lists, and accuracy per user-degree group and per item-"
        "popularity group. Writes diagnostics.json and PNGs into the run folder or --out.")
    dg.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    dg.add_argument("--out", help="folder for the output (default: the run folder; needed "
                    "with several runs: one subfolder each, and a comparison table)")
    dg.add_argument("--split", choices=("test", "valid"), default="test",
                    help="split whose top-K lists are measured (default test)")
    dg.add_argument("--groups", type=int, default=5,
                    help="user-degree and item-popularity groups (default 5)")
    dg.add_argument("--earlier-version", action="store_true",
                    help="a run trained by an earlier ssrec: drop the config keys this "
                    "version does not know (e.g. model.noise_stream) and skip the config "
                    "checksum check; inputs and weights are still checked")
    dg.add_argument("--device")
    dg.add_argument("--json", action="store_true")
    data_dir(dg)
    allow_change(dg)
    dg.set_defaults(func=cmd_diagnose)
