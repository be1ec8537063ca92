"""The ``ssrec`` command line.

::

    ssrec train --model SimGCL --dataset lastfm [--config FILE] [--set k=v ...] [--epochs N]
                [--seed S] [--out RUN_DIR] [--data-dir DIR] [--device DEV] [--resume | --overwrite]
                [--tensorboard]
    ssrec evaluate RUN_DIR [--split valid|test|both] [--block-size N] [--json]
    ssrec recommend RUN_DIR|EXPORT --user RAW_ID [-k 10] [--json]
    ssrec export RUN_DIR --out DIR [--ann hnsw ivf | --ann none] [--overwrite]
    ssrec serve RUN_DIR|EXPORT [--host 127.0.0.1] [--port 8000] [--index exact|hnsw|ivf]
    ssrec compare SPEC.yaml [--report] [--status] [--jobs N] [--datasets ...] [--models ...]
    ssrec tune SPEC.yaml [--out DIR] [--n-trials N] [--timeout SECONDS] [--report]
    ssrec plot RUN_DIR [RUN_DIR ...] --out FILE.png [--labels ...]
    ssrec diagnose RUN_DIR [RUN_DIR ...] [--out DIR] [--split test|valid] [--json]
    ssrec models [--json]
    ssrec config [--model M] [--dataset D] [--config FILE] [--set k=v ...] [--json]
    ssrec datasets [--json]
    ssrec data describe NAME_OR_PATH [--model M] [--json] [--set data.k=v ...]   (includes the
                                                  social graph when the dataset has one)
    ssrec data synth --interactions 20M --out DIR [--seed S] [--valid-ratio R] [--test-ratio R]

User errors (bad config, missing data, malformed files) print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
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
        "train.num_threads": args.threads,
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
    from ssrec.utils import distributed
    try:  # under torchrun: every rank trains, rank 0 writes and prints
        result = run(cfg, resume=args.resume, allow_data_change=args.allow_data_change)
        main = distributed.is_main()
    finally:
        distributed.shutdown()
    if not main:
        return 0
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
    from ssrec.serving import Engine, is_export, load_export, recommend
    from ssrec.training.run import load_run

    if args.k < 1:
        raise SsrecError("-k must be >= 1")
    if is_export(args.run_dir):
        items, scores = Engine(load_export(args.run_dir, args.device)).recommend(args.user, args.k)
    else:
        loaded = load_run(args.run_dir, data_dir=args.data_dir, device=args.device,
                          allow_data_change=args.allow_data_change)
        recs = recommend(loaded, args.user, args.k)
        items, scores = [i for i, _ in recs], [s for _, s in recs]
    if args.json:
        print(json.dumps({"user": args.user, "items": items, "scores": scores}, indent=2))
    else:
        for rank, (item, score) in enumerate(zip(items, scores), 1):
            print(f"{rank}\t{item}\t{score:.4f}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ssrec.serving import from_run, write_export
    from ssrec.training.run import load_run

    ann = () if args.ann == ["none"] else tuple(dict.fromkeys(args.ann))
    if "none" in ann:
        raise SsrecError("--ann none cannot be combined with an index")
    loaded = load_run(args.run_dir, data_dir=args.data_dir, device=args.device,
                      allow_data_change=args.allow_data_change)
    man = write_export(from_run(loaded), args.out, overwrite=args.overwrite, ann=ann,
                       seed=loaded.cfg.seed)
    if args.json:
        print(json.dumps(man, indent=2))
        return 0
    print(f"exported {man['model']['name']} on {man['dataset']}: {man['users']['count']:,} "
          f"users, {man['items']['count']:,} items, dimension {man['items']['dim']} -> {args.out}")
    for kind, meta in man["indexes"].items():
        k = next(key for key in meta if key.startswith("recall@") and "_" not in key)
        print(f"{kind} index: {k} {meta[k]:.4f} against exact "
              f"({meta[k + '_excluding_history']:.4f} with histories excluded), "
              f"built in {meta['build_seconds']:.1f} s")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from ssrec.serving.app import bind, create_app, serve
    except ImportError as exc:
        raise SsrecError(f"ssrec serve needs FastAPI and uvicorn ({exc.name} is missing): "
                         "pip install 'ssrec[serve]'") from None
    from ssrec.serving import Engine, load_served

    sock = bind(args.host, args.port)  # before loading: a taken port fails at once
    engine = Engine(load_served(args.source, data_dir=args.data_dir, device=args.device,
                                allow_data_change=args.allow_data_change), index=args.index)
    host, port = sock.getsockname()[:2]
    info = engine.info()
    print(f"serving {info['model']['name']} on {info['dataset']} ({info['items']:,} items, "
          f"{args.index} index) at http://{host}:{port}  (Ctrl-C stops)", file=sys.stderr,
          flush=True)
    serve(create_app(engine), sock, access_log=args.access_log)
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
    wn = max(len(r["name"]) for r in rows)
    wf = max(len(r["family"]) for r in rows)
    for r in rows:
        defaults = ", ".join(f"{k}={v}" for k, v in r["defaults"].items()) or "-"
        print(f"{r['name']:<{wn}} {r['family']:<{wf}} {defaults}")
        print(f"{'':<{wn}} {r['paper']}")
    return 0


def _yaml_scalar(value: Any) -> str:
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    return text[:-len("...")].strip() if text.endswith("...") else text


def cmd_config(args: argparse.Namespace) -> int:
    from ssrec.config import load_config
    from ssrec.models import config_reference

    cfg = load_config(args.config, args.set or [],
                      **{"model.name": args.model, "data.dataset": args.dataset})
    ref = config_reference(cfg)
    if args.json:
        print(json.dumps(ref, indent=2))
        return 0
    print(f"# ssrec config: every key with the value a run of {ref['model'][0]['value']} on "
          f"{cfg.data.dataset} uses; '(default: X)' marks a value set by the dataset's preset "
          "or by you")
    for section, rows in ref.items():
        pad = "  " if section else ""
        if section:
            print(f"{section}:")
        for r in rows:
            line = f"{pad}{r['key']}: {_yaml_scalar(r['value'])}"
            note = r["doc"]
            if r["value"] != r["default"] and r["key"] != "name":
                note = f"(default: {_yaml_scalar(r['default'])}) {note}"
            print(f"{line}  # {note}" if note else line)
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from ssrec.data.catalog import DATASETS, resolve_data_dir

    base, how = resolve_data_dir(args.data_dir)
    rows = []
    for name in DATASETS.names():
        spec = DATASETS.get(name)
        present = all((base / (f.folder or name) / f.name).is_file() for f in spec.files)
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


def _protocol_text(split: str, ratios: Any, valid: str, valid_ratio: float,
                   dedup: Any) -> str:
    """One line saying how a family of models splits the data (from resolved data options)."""
    what = {"given": "the dataset's own train/test files",
            "loo": "leave-one-out (each user's last event is the test target)",
            "temporal": "a global time cut " + "/".join(f"{r:g}" for r in ratios)}.get(
        split, "per-user random " + "/".join(f"{r:g}" for r in ratios))
    if split == "loo":
        val = "the event before the test target"
    elif valid_ratio == 0:
        val = "none (data.valid_ratio=0)"
    else:
        val = ("each user's last training event" if valid == "last" else
               "one random training row per user (of the target behaviour on "
               "multi-behaviour data)" if valid == "one" else
               f"{valid_ratio:.0%} per-user random hold-out") + " (or the validation file)"
    return (f"{what}; validation: {val}; repeated events "
            f"{'collapsed' if dedup is not False else 'kept in time order'}")


def cmd_data_synth(args: argparse.Namespace) -> int:
    from ssrec.data.synth import parse_count, synthesize

    meta = synthesize(parse_count(args.interactions), args.out, seed=args.seed,
                      valid_ratio=args.valid_ratio, test_ratio=args.test_ratio)
    if args.json:
        print(json.dumps(meta, indent=2))
    else:
        rows = meta["rows"]
        print(f"{args.out}: {_fmt_int(meta['interactions'])} interactions "
              f"(train {_fmt_int(rows['train'])}, valid {_fmt_int(rows['valid'])}, test "
              f"{_fmt_int(rows['test'])}), {_fmt_int(meta['users'])} users, "
              f"{_fmt_int(meta['items'])} items, density {meta['density']:.3%}; shaped like "
              f"{meta['profile']} (user tail exponent {meta['profile_user']['alpha']:.3f}, "
              f"item {meta['profile_item']['alpha']:.3f}); train with --dataset {args.out}")
    return 0


def cmd_data_describe(args: argparse.Namespace) -> int:
    from ssrec.config import load_config
    from ssrec.data import load_dataset
    from ssrec.data.dataset import (has_kg_file, has_social_file, is_multi_behavior,
                                    resolve_default_split)
    from ssrec.training.run import resolve_data_needs
    from ssrec.utils.logs import quiet

    shortcuts = {"data.dataset": args.dataset, "data.data_dir": args.data_dir, "seed": args.seed,
                 "model.name": args.model}
    cfg = load_config(None, args.set or [], **shortcuts)
    explicit = any(s.split("=", 1)[0].strip() == "data.social" for s in args.set or [])
    if not explicit and not cfg.data.social and has_social_file(cfg.data):
        cfg.data.social = True  # describe the social graph whenever the dataset has one
    explicit_kg = any(s.split("=", 1)[0].strip() == "data.kg" for s in args.set or [])
    if not explicit_kg and not cfg.data.kg and has_kg_file(cfg.data):
        cfg.data.kg = True  # and the knowledge graph
    dc = cfg.data
    if args.model:  # the split, validation and repeats this model's runs use
        cfg = resolve_data_needs(cfg)
        dc = cfg.data
        from ssrec.models import model_class

        families = {f"{model_class(cfg).name} ({model_class(cfg).family} model)": _protocol_text(
            dc.split, dc.ratios, dc.valid_method, dc.valid_ratio, dc.dedup)}
    else:  # loaded as the non-sequential models load it; say what sequential ones do
        auto = dc.valid_method == "auto"
        families = {
            "general, graph, social, knowledge and multi-behaviour models": _protocol_text(
                resolve_default_split(dc), dc.ratios,
                ("one" if is_multi_behavior(dc) else "random") if auto else dc.valid_method,
                dc.valid_ratio, dc.dedup),
            "sequential models (describe them with --model SASRec)": _protocol_text(
                resolve_default_split(dc, sequential=True), dc.ratios,
                "last" if auto else dc.valid_method, dc.valid_ratio,
                False if dc.dedup == "auto" else dc.dedup)}
    with quiet():  # the notes are part of the description below
        data = load_dataset(dc, seed=cfg.seed, require_test=False)
    desc = data.describe()
    desc["split_by_family"] = families
    desc["described_for"] = next(iter(families))
    if args.json:
        print(json.dumps(desc, indent=2))
        return 0
    rep = desc["report"]
    split = rep.get("split", {})
    val = split.get("validation", {})
    print(f"{desc['dataset']}: {_fmt_int(desc['users'])} users, {_fmt_int(desc['items'])} items "
          "in training")
    read = rep.get("read", {})
    print(f"read: {_fmt_int(read.get('rows', 0))} rows, {_fmt_int(read.get('users', 0))} users, "
          f"{_fmt_int(read.get('items', 0))} items" +
          (f" (at or above rating {rep['rating_threshold']})"
           if rep.get("rating_threshold") is not None else ""))
    for role, path in rep.get("files", {}).items():
        if role in rep.get("rows_read", {}):
            print(f"  {role}: {path}: {_fmt_int(rep['rows_read'][role])} rows; "
                  f"{rep.get('layout', {}).get(role, '')}")
    for who, text in families.items():
        print(f"split for {who}: {text}")
    vdesc = val.get("method", "?")
    if vdesc == "holdout_from_train":
        vdesc = f"{val['ratio']:.0%} per-user hold-out from train (seed {val['seed']})"
    elif vdesc == "one_from_train":
        vdesc = (f"one random training row per user (seed {val['seed']}"
                 + (f", {val['behavior']} rows only)" if val.get("behavior") else ")"))
    if val.get("auxiliary_rows_removed"):
        vdesc += ("; its pairs also left the auxiliary behaviours, as the test pairs did "
                  "(data.valid_auxiliary): " + ", ".join(
                      f"{b} {n:,} rows" for b, n in val["auxiliary_rows_removed"].items()))
    elif vdesc == "last_from_train":
        vdesc = f"each user's last training interaction ({val['time_order']})"
    elif vdesc == "given":
        vdesc = "the validation file"
    elif vdesc in ("ratio", "loo", "temporal"):
        vdesc = f"from the {vdesc} split"
    print(f"shown below ({desc['described_for']}): split {split.get('method')}; "
          f"validation: {vdesc}")
    print(f"{'':<8}{'interactions':>14}{'users':>10}{'items':>10}{'density':>10}")
    for s, label in (("train", "train"), ("fit", " fit"), ("valid", " valid"), ("test", "test")):
        if s == "fit" and not desc["valid"]["carved_from_train"]:
            continue
        st = desc[s]
        print(f"{label:<8}{_fmt_int(st['interactions']):>14}{_fmt_int(st['users']):>10}"
              f"{_fmt_int(st['items']):>10}{st['density']:>10.4%}")
    if rep.get("dedup", True):
        print(f"duplicates collapsed: {sum(rep.get('duplicates_collapsed', {}).values())}")
    else:
        print(f"repeated events kept: {sum(rep.get('repeats_kept', {}).values())}")
    if rep.get("rating_threshold") is not None:
        print(f"below rating threshold {rep['rating_threshold']}: "
              f"{sum(rep.get('below_threshold', {}).values())}")
    ov = rep.get("removed_pairs_also_in_train", {})
    if any(ov.values()):
        print("evaluation pairs also in train (removed): " +
              ", ".join(f"{k} {v}" for k, v in ov.items()))
    kept = rep.get("targets_also_in_train", {})
    if any(kept.values()):
        print("evaluation targets also in train (kept: re-consumed items): " +
              ", ".join(f"{k} {v}" for k, v in kept.items()))
    for s in ("valid", "test"):
        c = rep.get("cold", {}).get(s, {})
        print(f"cold {s} dropped: {c.get('users', 0)} users, {c.get('items', 0)} items "
              f"({c.get('interactions', 0)} interactions)")
    for note in rep.get("notes", []):
        print(f"{'warning' if note['level'] == 'warning' else 'note'}: {note['message']}")
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
    kg = desc.get("kg")
    if kg:
        _print_kg(kg)
    beh = desc.get("behaviors")
    if beh:
        _print_behaviors(beh)
    return 0


def _print_behaviors(beh: dict) -> None:
    """The multi-behaviour lines of ``ssrec data describe``."""
    print(f"behaviours: {' -> '.join(beh['order'])}; target {beh['target']} (the train/valid/"
          f"test rows above; masked at evaluation), auxiliary {', '.join(beh['auxiliary'])} "
          "(training graphs only, never masked)")
    print(f"{'':<8}{'interactions':>14}{'users':>10}{'items':>10}")
    for b in beh["order"]:
        st = beh["train"][b]
        print(f"{b:<8}{_fmt_int(st['interactions']):>14}{_fmt_int(st['users']):>10}"
              f"{_fmt_int(st['items']):>10}" + (f"   ({_fmt_int(st['fit'])} after the "
                                                f"validation hold-out)" if "fit" in st else ""))
    for s in ("test", "valid"):
        pairs = beh[f"{s}_pairs_in"]
        print(f"{s} pairs already in an auxiliary behaviour (stay candidates): " +
              ", ".join(f"{b} {_fmt_int(n)}" for b, n in pairs.items()))
    print(f"graph of single-graph models (data.behavior_graph): {beh['graph']}")


def _print_kg(kg: dict) -> None:
    """The knowledge-graph lines of ``ssrec data describe``."""
    dr, links = kg["dropped"], kg["links"]
    inverse = (f" (inverse added: {_fmt_int(kg['added_by_inverse'])} triples)"
               if kg["inverse"] else "")
    print(f"knowledge graph: {_fmt_int(kg['triples'])} triples, {_fmt_int(kg['entities'])} "
          f"entities ({_fmt_int(kg['items'])} items first), {kg['relations']} relations"
          f"{inverse}; {kg['layout']}")
    print(f"kg triples dropped: {dr['self_loop']} self-loops, {dr['duplicate']} repeats, "
          f"{dr['dangling']} dangling (joined to no item; {kg['dangling_entities']} entities) of "
          f"{_fmt_int(kg['rows_read'])} rows")
    ld = links["dropped"]
    print(f"kg links: {links['file']}; items linked: {_fmt_int(kg['linked_items'])} of "
          f"{_fmt_int(kg['items'])} ({_fmt_int(kg['unlinked_items'])} unlinked, with "
          f"{_fmt_int(kg.get('unlinked_item_train_interactions', 0))} training interactions)"
          + (f"; link rows dropped: {ld['unknown_item']} unknown items, {ld['unknown_entity']} "
             f"unknown entities, {ld['duplicate']} repeats (of {links['rows_read']} rows)"
             if links.get("rows_read") else ""))
    tpi = kg.get("triples_per_item") or {}
    if tpi:
        print(f"kg item facts: {_fmt_int(kg['item_triples'])} triples with an item head, "
              f"{_fmt_int(kg['items_with_triples'])} items; per item min {tpi['min']}, median "
              f"{tpi['median']:g}, max {tpi['max']}")
    print("kg largest relations: " + ", ".join(f"{n} {_fmt_int(c)}" for n, c in
                                               kg["top_relations"]))


def cmd_compare(args: argparse.Namespace) -> int:
    from ssrec.experiments import Experiment, run_experiment, status_table, write_report

    exp = Experiment.from_file(args.spec, out=args.out)
    if args.data_dir:
        import os

        os.environ["SSREC_DATA_DIR"] = args.data_dir  # the cells' default data directory
    cells = list(exp.select(args.datasets, args.models, args.seeds))
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

    t = sub.add_parser(
        "train", help="train and evaluate a model",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a model, select its best epoch on the validation split, score the "
                    "test split once\nand write the run folder. Without options this trains "
                    "SimGCL on lastfm (the defaults,\nwith lastfm's preset); `ssrec config "
                    "[--model M] [--dataset D]` lists every key and the\nvalue a run uses.",
        epilog="--set data.valid_ratio=0 trains on all training data (for data without a "
               "validation file):\nno validation split, so no early stopping; every epoch "
               "runs and the last one is kept.")
    t.add_argument("--model", help="model name (see `ssrec models`; default SimGCL)")
    t.add_argument("--dataset", help="dataset name (see `ssrec datasets`) or path "
                   "(default lastfm)")
    t.add_argument("--config", help="YAML config file")
    t.add_argument("--set", action="extend", nargs="+", metavar="KEY=VALUE",
                   help="override config values, e.g. --set model.eps=0.2 train.lr=0.002 "
                        "(repeatable)")
    t.add_argument("--epochs", type=int, help="maximum epochs (train.epochs)")
    t.add_argument("--seed", type=int, help="random seed")
    t.add_argument("--out", help="run folder (default runs/<model>-<dataset>-<time>)")
    t.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    t.add_argument("--threads", type=int, help="CPU threads of the run (train.num_threads; "
                   "default: torch's, one per core). Use 1 when other jobs share the cores: "
                   "oversubscribed threads spin and can make a run several times slower")
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

    r = sub.add_parser("recommend", help="top-K items for a user of a finished run or export")
    r.add_argument("run_dir", metavar="RUN|EXPORT",
                   help="a finished run folder or a folder written by `ssrec export`")
    r.add_argument("--user", required=True, help="raw user id as in the data files")
    r.add_argument("-k", type=int, default=10, help="number of items (default 10)")
    r.add_argument("--device")
    r.add_argument("--json", action="store_true")
    data_dir(r)
    allow_change(r)
    r.set_defaults(func=cmd_recommend)

    x = sub.add_parser(
        "export", help="write a run's user/item representations, id maps, histories and "
        "indexes for serving",
        description="Write the float32 user and item representations, the raw-id maps, each "
        "user's known items (CSR), the sequential encoder where there is one, approximate "
        "indexes with their recall@20 against exact, and manifest.json (model, dataset, "
        "protocol, test metrics, sha256 of every file).")
    x.add_argument("run_dir", metavar="RUN", help="a finished run folder")
    x.add_argument("--out", required=True, help="the export folder (written atomically)")
    x.add_argument("--ann", nargs="+", choices=("hnsw", "ivf", "none"), default=["hnsw", "ivf"],
                   help="approximate indexes to build and measure (default: hnsw ivf)")
    x.add_argument("--overwrite", action="store_true", help="replace what --out holds")
    x.add_argument("--device")
    x.add_argument("--json", action="store_true", help="print the manifest")
    data_dir(x)
    allow_change(x)
    x.set_defaults(func=cmd_export)

    v = sub.add_parser(
        "serve", help="answer top-K requests over HTTP (FastAPI + uvicorn)",
        description="GET /health, GET /info, GET /recommend?user=RAW&k=10&exclude_seen=true, "
        "POST /recommend {users, k}, POST /recommend/history {items, k}, GET "
        "/similar-items?item=RAW&k=10; OpenAPI docs at /docs. Needs pip install 'ssrec[serve]'.")
    v.add_argument("source", metavar="RUN|EXPORT",
                   help="a finished run folder or a folder written by `ssrec export`")
    v.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    v.add_argument("--port", type=int, default=8000, help="port (8000; 0: a free one)")
    v.add_argument("--index", choices=("exact", "hnsw", "ivf"), default="exact",
                   help="exact inner-product scan (default) or an approximate index")
    v.add_argument("--access-log", action="store_true", help="log every request")
    v.add_argument("--device", help="where a sequential encoder runs (auto)")
    data_dir(v)
    allow_change(v)
    v.set_defaults(func=cmd_serve)

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
    c.add_argument("--seeds", nargs="+", type=int, metavar="SEED", help="only these seeds")
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

    c = sub.add_parser("config", help="list the config keys with their defaults",
                       description="Every config key, section by section, with the value a "
                       "run uses (the defaults, the dataset's preset and your settings "
                       "applied) and its meaning; the output is a valid --config file.")
    c.add_argument("--model", help="list this model's keys (default SimGCL)")
    c.add_argument("--dataset", help="apply this dataset's preset (default lastfm)")
    c.add_argument("--config", help="YAML config file to start from")
    c.add_argument("--set", action="extend", nargs="+", metavar="KEY=VALUE",
                   help="override values (KEY=VALUE ...; repeatable)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_config)

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
    desc.add_argument("--model", help="describe the split this model's runs use (sequential "
                      "models: leave-one-out, repeated events kept); default: the split of "
                      "general, graph, social, knowledge and multi-behaviour models")
    desc.add_argument("--set", action="append", metavar="KEY=VALUE",
                      help="data option, e.g. --set data.rating_threshold=4")
    data_dir(desc)
    desc.set_defaults(func=cmd_data_describe)
    syn = dsub.add_parser("synth", help="write synthetic interactions shaped like gowalla",
                          description="Synthetic train/valid/test files whose user activity and "
                          "item popularity follow gowalla's training degree distributions "
                          "(power-law tails fitted by maximum likelihood), at any size, with "
                          "gowalla's density (users and items grow as the square root of the "
                          "interactions); see ssrec.data.synth and docs/scale.md.")
    syn.add_argument("--interactions", required=True,
                     help="interactions in all splits, e.g. 1000000, 500k, 20M")
    syn.add_argument("--out", required=True, help="the folder to write (a dataset folder)")
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument("--valid-ratio", type=float, default=0.1,
                     help="each user's share of validation rows (default 0.1)")
    syn.add_argument("--test-ratio", type=float, default=0.2,
                     help="each user's share of test rows (default 0.2)")
    syn.add_argument("--json", action="store_true", help="print synth.json")
    syn.set_defaults(func=cmd_data_synth)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ssrec`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(-1 if args.quiet else args.verbose)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except SsrecError as exc:
        print(f"ssrec: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`ssrec recommend ... | head -1`)
        try:  # nothing more reaches the closed pipe, not even Python's flush at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        print("ssrec: error: the output was closed before it was all written (broken pipe)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ssrec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
