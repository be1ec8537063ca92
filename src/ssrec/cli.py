"""The ``ssrec`` command line.

::

    ssrec train --model SimGCL --dataset lastfm [--config FILE] [--set k=v ...] [--epochs N]
                [--seed S] [--out RUN_DIR] [--data-dir DIR] [--device DEV] [--resume | --overwrite]
                [--tensorboard]
    ssrec evaluate RUN_DIR [--split valid|test|both] [--block-size N] [--json]
    ssrec recommend RUN_DIR --user RAW_ID [-k 10] [--json]
    ssrec compare SPEC.yaml [--report] [--status] [--jobs N] [--datasets ...] [--models ...]
    ssrec tune SPEC.yaml [--out DIR] [--n-trials N] [--timeout SECONDS] [--report]
    ssrec plot RUN_DIR [RUN_DIR ...] --out FILE.png [--labels ...]
    ssrec diagnose RUN_DIR [RUN_DIR ...] [--out DIR] [--split test|valid] [--json]
    ssrec models [--json]
    ssrec datasets [--json]
    ssrec data describe NAME_OR_PATH [--json] [--set data.k=v ...]   (includes the social graph
                                                                   when the dataset has one)

User errors (bad config, missing data, malformed files) print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ssrec import __version__
from ssrec.errors import SsrecError

log = logging.getLogger("ssrec")


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr, force=True)


def _fmt_int(n: int) -> str:
    return f"{n:,}"


# ---- commands ----------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from ssrec.config import load_config
    from ssrec.training import run

    shortcuts: dict[str, Any] = {
        "model.name": args.model,
        "data.dataset": args.dataset,
        "data.data_dir": args.data_dir,
        "train.epochs": args.epochs,
        "seed": args.seed,
        "output_dir": args.out,
        "device": args.device,
    }
    if args.no_progress:
        shortcuts["train.progress"] = False
    if args.tensorboard:
        shortcuts["train.tensorboard"] = True
    if args.resume and not args.out:
        raise SsrecError("--resume needs --out RUN_DIR (the folder of the interrupted run)")
    if args.resume and args.overwrite:
        raise SsrecError("--resume and --overwrite contradict each other: --resume continues "
                         "the run in --out, --overwrite replaces it")
    saved = Path(args.out) / "config.yaml" if args.out else None
    if args.resume and not (saved and saved.is_file()):
        raise SsrecError(f"--resume: {args.out} holds no run (no config.yaml) to continue")
    config = args.config
    if args.resume and config is None and not (args.model or args.dataset):
        config = saved  # the run's own settings (every key explicit, so no preset changes
        # them); --set / --epochs may change its budget
    cfg = load_config(config, args.set or [], **shortcuts)
    if args.out and not args.resume and not args.overwrite and (
            Path(args.out) / "config.yaml").is_file():
        raise SsrecError(f"{args.out} already holds a run (config.yaml); pass --resume to "
                         "continue it, --overwrite to replace it, or choose another --out")
    result = run(cfg, resume=args.resume, allow_data_change=args.allow_data_change)
    out = {"best_epoch": result.best_epoch, "test": result.test, "run_dir": result.run_dir}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        keys = [k for k in result.test if k.split("@")[0] in ("recall", "ndcg")]
        print(f"best epoch {result.best_epoch}; test " +
              ", ".join(f"{k} {result.test[k]:.4f}" for k in keys))
        print(f"run folder: {result.run_dir}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ssrec.training.run import load_run, run_evaluators

    loaded = load_run(args.run_dir, data_dir=args.data_dir, device=args.device,
                      allow_data_change=args.allow_data_change)
    splits = ("valid", "test") if args.split == "both" else (args.split,)
    evaluators = run_evaluators(loaded, splits, args.block_size)
    res = {s: e.evaluate(loaded.model) for s, e in evaluators.items()}
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        d = next(iter(evaluators.values())).describe()
        over = (f"{d['sampled_negatives']['per_user']} {d['sampled_negatives']['distribution']}"
                " negatives and the targets" if d["ranking"] == "sampled"
                else f"{loaded.data.n_items:,} items")
        print(f"protocol: {d['ranking']} ranking over {over}; masked items: "
              f"{d['masked_items']}")
        for s, m in res.items():
            print(f"{s}: " + ", ".join(f"{k} {v:.4f}" for k, v in m.items()))
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    from ssrec.training.run import load_run, recommend

    if args.k < 1:
        raise SsrecError("-k must be >= 1")
    loaded = load_run(args.run_dir, data_dir=args.data_dir, device=args.device,
                      allow_data_change=args.allow_data_change)
    recs = recommend(loaded, args.user, args.k)
    if args.json:
        print(json.dumps({"user": args.user, "items": [i for i, _ in recs],
                          "scores": [s for _, s in recs]}, indent=2))
    else:
        for rank, (item, score) in enumerate(recs, 1):
            print(f"{rank}\t{item}\t{score:.4f}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from ssrec.models import MODELS

    rows = []
    for name in MODELS.names():
        cls = MODELS.get(name)
        rows.append({"name": name, "family": cls.family, "trainable": cls.trainable,
                     "paper": cls.paper, "defaults": cls.Config().model_dump(mode="json")})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        defaults = ", ".join(f"{k}={v}" for k, v in r["defaults"].items()) or "-"
        print(f"{r['name']:<10} {r['family']:<9} {defaults}")
        print(f"{'':<10} {r['paper']}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from ssrec.data.catalog import DATASETS, resolve_data_dir

    base, how = resolve_data_dir(args.data_dir)
    rows = []
    for name in DATASETS.names():
        spec = DATASETS.get(name)
        present = all((base / name / f.name).is_file() for f in spec.files)
        rows.append({"name": name, "present": present, "files": [f.name for f in spec.files],
                     "default_split": spec.default_split, "summary": spec.summary,
                     "source": spec.source})
    if args.json:
        print(json.dumps({"data_dir": str(base), "datasets": rows}, indent=2))
        return 0
    print(f"data directory: {base} ({how})")
    for r in rows:
        mark = "ok     " if r["present"] else "missing"
        print(f"{r['name']:<16} {mark} {r['summary']}")
    return 0


def cmd_data_describe(args: argparse.Namespace) -> int:
    from ssrec.config import load_config
    from ssrec.data import load_dataset

    from ssrec.data.dataset import has_social_file

    shortcuts = {"data.dataset": args.dataset, "data.data_dir": args.data_dir, "seed": args.seed}
    cfg = load_config(None, args.set or [], **shortcuts)
    explicit = any(s.split("=", 1)[0].strip() == "data.social" for s in args.set or [])
    if not explicit and not cfg.data.social and has_social_file(cfg.data):
        cfg.data.social = True  # describe the social graph whenever the dataset has one
    data = load_dataset(cfg.data, seed=cfg.seed)
    desc = data.describe()
    if args.json:
        print(json.dumps(desc, indent=2))
        return 0
    rep = desc["report"]
    split = rep.get("split", {})
    val = split.get("validation", {})
    print(f"{desc['dataset']}: {_fmt_int(desc['users'])} users, {_fmt_int(desc['items'])} items")
    vdesc = val.get("method", "?")
    if vdesc == "holdout_from_train":
        vdesc = f"{val['ratio']:.0%} per-user hold-out from train (seed {val['seed']})"
    elif vdesc == "last_from_train":
        vdesc = f"each user's last training interaction ({val['time_order']})"
    print(f"split: {split.get('method')}; validation: {vdesc}")
    print(f"{'':<8}{'interactions':>14}{'users':>10}{'items':>10}{'density':>10}")
    for s, label in (("train", "train"), ("fit", " fit"), ("valid", " valid"), ("test", "test")):
        if s == "fit" and not desc["valid"]["carved_from_train"]:
            continue
        st = desc[s]
        print(f"{label:<8}{_fmt_int(st['interactions']):>14}{_fmt_int(st['users']):>10}"
              f"{_fmt_int(st['items']):>10}{st['density']:>10.4%}")
    dups = sum(v for v in rep.get("duplicates_collapsed", {}).values())
    print(f"duplicates collapsed: {dups}")
    if rep.get("rating_threshold") is not None:
        print(f"below rating threshold {rep['rating_threshold']}: "
              f"{sum(rep.get('below_threshold', {}).values())}")
    ov = rep.get("removed_pairs_also_in_train", {})
    if any(ov.values()):
        print("evaluation pairs also in train (removed): " +
              ", ".join(f"{k} {v}" for k, v in ov.items()))
    for s in ("valid", "test"):
        c = rep.get("cold", {}).get(s, {})
        print(f"cold {s} dropped: {c.get('users', 0)} users, {c.get('items', 0)} items "
              f"({c.get('interactions', 0)} interactions)")
    soc = desc.get("social")
    if soc:
        dr = soc["dropped"]
        print(f"social: {_fmt_int(soc['links'])} links among {_fmt_int(soc['users'])} users "
              f"({_fmt_int(soc['users_with_links'])} with a link, mean out-degree "
              f"{soc['mean_out_degree']:.2f}), reciprocity {soc['reciprocity']:.3f}"
              f"{' (symmetrised)' if soc['symmetric'] else ''}")
        print(f"social links dropped: {dr['unknown_user']} touching users without training "
              f"interactions ({soc['unknown_user_ids']} ids), {dr['self_link']} self links, "
              f"{dr['duplicate']} repeats (of {_fmt_int(soc['rows_read'])} rows)")
        if soc["symmetric"]:
            print(f"social links as given: {_fmt_int(soc['links_as_given'])}, reciprocity "
                  f"{soc['reciprocity_as_given']:.3f}; reverse links added: "
                  f"{_fmt_int(soc['added_by_symmetrising'])}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ssrec.experiments import Experiment, run_experiment, status_table, write_report

    exp = Experiment.from_file(args.spec, out=args.out)
    if args.data_dir:
        import os

        os.environ["SSREC_DATA_DIR"] = args.data_dir  # the cells' default data directory
    cells = list(exp.select(args.datasets, args.models))
    if args.status:
        rows = status_table(exp, cells)
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                extra = f" (after epoch {r['epoch']})" if r.get("epoch") else ""
                detail = f": {r['detail']}" if r.get("detail") else ""
                print(f"{r['state']:<12} {r['cell']}{extra}{detail}")
        return 0
    failed = []
    if not args.report:
        outcomes = run_experiment(exp, cells, jobs=args.jobs, threads=args.threads,
                                  rerun_changed=args.rerun_changed)
        failed = [o for o in outcomes if o.status == "failed"]
        counts: dict[str, int] = {}
        for o in outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        log.info("[compare] %s", ", ".join(f"{v} {k}" for k, v in counts.items()))
    paths = write_report(exp)
    print(f"report: {paths['md']}")
    for kind in ("doc", "figure"):
        if kind in paths:
            print(f"{kind}: {paths[kind]}")
    if failed:
        for o in failed:
            print(f"ssrec: cell {o.cell} failed: {o.error}", file=sys.stderr)
        return 1
    return 0


# ---- parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ssrec", description="Self-supervised recommendation toolkit.")
    p.add_argument("--version", action="version", version=f"ssrec {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def data_dir(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--data-dir", help="folder holding the named datasets "
                        "(default: $SSREC_DATA_DIR, else the user cache folder)")

    def allow_change(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--allow-data-change", action="store_true",
                        help="use input files whose checksums differ from those the run "
                        "was trained on")

    t = sub.add_parser("train", help="train and evaluate a model")
    t.add_argument("--model", help="model name (see `ssrec models`)")
    t.add_argument("--dataset", help="dataset name (see `ssrec datasets`) or path")
    t.add_argument("--config", help="YAML config file")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value, e.g. --set model.eps=0.2 (repeatable)")
    t.add_argument("--epochs", type=int, help="maximum epochs (train.epochs)")
    t.add_argument("--seed", type=int, help="random seed")
    t.add_argument("--out", help="run folder (default runs/<model>-<dataset>-<time>)")
    t.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    t.add_argument("--no-progress", action="store_true", help="hide progress bars")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out instead of refusing")
    t.add_argument("--resume", action="store_true",
                   help="continue the interrupted run in --out (same configuration)")
    t.add_argument("--json", action="store_true", help="print the result as JSON")
    t.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard scalars into RUN_DIR/tensorboard "
                   "(train.tensorboard; needs the tensorboard extra)")
    data_dir(t)
    allow_change(t)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="re-score a finished run")
    e.add_argument("run_dir")
    e.add_argument("--split", choices=("valid", "test", "both"), default="both")
    e.add_argument("--block-size", type=int, help="users per scoring block")
    e.add_argument("--device")
    e.add_argument("--json", action="store_true")
    data_dir(e)
    allow_change(e)
    e.set_defaults(func=cmd_evaluate)

    r = sub.add_parser("recommend", help="top-K items for a user of a finished run")
    r.add_argument("run_dir")
    r.add_argument("--user", required=True, help="raw user id as in the data files")
    r.add_argument("-k", type=int, default=10, help="number of items (default 10)")
    r.add_argument("--device")
    r.add_argument("--json", action="store_true")
    data_dir(r)
    allow_change(r)
    r.set_defaults(func=cmd_recommend)

    c = sub.add_parser(
        "compare", help="train datasets x models x seeds from a spec and report them with "
        "confidence intervals and paired tests",
        description="Train every unfinished cell of an experiment spec (finished cells are "
        "skipped, interrupted ones resume from last.pt), then write <spec name>.md/.csv/.json/"
        ".png into the experiment folder. Run it again after an interruption: it continues.")
    c.add_argument("spec", help="experiment spec (YAML)")
    c.add_argument("--out", help="experiment folder (default: the spec's `out`, else "
                   "runs/experiments/<spec name>)")
    c.add_argument("--report", action="store_true",
                   help="only rebuild the report from the finished cells")
    c.add_argument("--status", action="store_true", help="list the cells and their state")
    c.add_argument("--datasets", nargs="+", metavar="LABEL", help="only these datasets")
    c.add_argument("--models", nargs="+", metavar="LABEL", help="only these models")
    c.add_argument("--jobs", type=int, default=1,
                   help="cells trained at once, each in its own process (default 1)")
    c.add_argument("--threads", type=int,
                   help="PyTorch threads per cell (default: CPUs / jobs when jobs > 1)")
    c.add_argument("--rerun-changed", action="store_true",
                   help="train afresh the cells whose folder holds another configuration")
    c.add_argument("--json", action="store_true", help="--status as JSON")
    data_dir(c)
    c.set_defaults(func=cmd_compare)

    from ssrec.cli_tools import add_tool_commands

    add_tool_commands(sub, data_dir, allow_change)

    m = sub.add_parser("models", help="list the registered models and their defaults")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)

    d = sub.add_parser("datasets", help="list the registered datasets")
    d.add_argument("--json", action="store_true")
    data_dir(d)
    d.set_defaults(func=cmd_datasets)

    dd = sub.add_parser("data", help="dataset tools")
    dsub = dd.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    dsub.required = True
    desc = dsub.add_parser("describe", help="statistics of a dataset and its split")
    desc.add_argument("dataset", help="dataset name or path")
    desc.add_argument("--json", action="store_true")
    desc.add_argument("--seed", type=int, help="seed of random splits")
    desc.add_argument("--set", action="append", metavar="KEY=VALUE",
                      help="data option, e.g. --set data.rating_threshold=4")
    data_dir(desc)
    desc.set_defaults(func=cmd_data_describe)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ssrec`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(-1 if args.quiet else args.verbose)
    try:
        return int(args.func(args) or 0)
    except SsrecError as exc:
        print(f"ssrec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ssrec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
