"""The recipe: config → seed → data → model → train (validation) → test once → run folder.

Run folder layout (``output_dir``)::

    config.yaml     the resolved configuration (every default filled in)
    log.jsonl       one JSON line per epoch (loss parts, seconds, validation metrics) + test
    checkpoint.pt   the best weights by the monitored validation metric (atomic write)
    curves.png      loss parts and the monitored metric per epoch, best epoch marked
    tensorboard/    TensorBoard event file (with ``train.tensorboard``)
    last.pt         the latest trainer state: weights, optimiser, sampler and RNG states
    results.json    {"valid": ..., "test": ..., "best_epoch": N, "protocol": {...}, ...}
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

import ssrec
from ssrec.config import RunConfig, build_config
from ssrec.data.catalog import sha256_file
from ssrec.data.dataset import (InteractionData, is_multi_behavior, load_dataset,
                                 resolve_default_split)
from ssrec.errors import ConfigError, SsrecError
from ssrec.evaluation import Evaluator, resolve_exclude_seen
from ssrec.models import dump_config, model_class, model_config
from ssrec.models.base import Recommender
from ssrec.training.callbacks import ConsoleLogger, CurvesPlot, JsonlLogger, TensorBoardLogger
from ssrec.training.trainer import RunResult, Trainer
from ssrec.utils import distributed
from ssrec.utils.device import resolve_device
from ssrec.utils.io import (_atomic, append_jsonl, atomic_write_json, atomic_write_text,
                             remove_partial_writes)
from ssrec.utils.logs import quiet
from ssrec.utils.seed import seed_everything

log = logging.getLogger("ssrec")


def default_run_dir(cfg: RunConfig) -> Path:
    """``runs/<model>-<dataset>-<YYYYmmdd-HHMMSS>`` (a numeric suffix avoids collisions)."""
    name = Path(cfg.data.dataset).name if not cfg.data.dataset.isidentifier() else cfg.data.dataset
    base = Path("runs") / f"{model_class(cfg).name}-{name}-{datetime.now():%Y%m%d-%H%M%S}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def protocol(cfg: RunConfig, data: InteractionData, evaluated: dict[str, int],
             evaluators: dict[str, Evaluator] | None = None) -> dict[str, Any]:
    """The evaluation protocol of a run, for ``results.json``.

    ``evaluators`` (``{"valid": ..., "test": ...}``) supply the ranking mode, the sampled
    negatives and the masked items; without them the config's settings are described."""
    rep = data.report
    ev = dict(evaluators or {})
    model_cls = model_class(cfg)
    test = ev.get("test") or Evaluator.from_config(data, "test", cfg.eval, model_cls, cfg.seed)
    valid = ev.get("valid")
    if valid is None and "valid" not in ev and len(data.valid):
        valid = Evaluator.from_config(data, "valid", cfg.eval, model_cls, cfg.seed)
    test_desc = test.describe()
    valid_desc = valid.describe() if valid is not None else None
    out = {
        "dataset": data.name,
        "split": rep.get("split"),
        "selection_split": "valid" if len(data.valid) else "none (no validation data)",
        "monitor": cfg.train.monitor,
        "ranking": test_desc["ranking"],
        "ks": cfg.eval.ks,
        "metrics": cfg.eval.metrics,
        "exclude_seen": test_desc.get("exclude_seen"),
        "masked_items": {"valid": valid_desc["masked_items"] if valid_desc else "-",
                         "test": test_desc.get("masked_items")},
        "seed": cfg.seed,
        "rating_threshold": rep.get("rating_threshold"),
        "duplicates_collapsed": rep.get("duplicates_collapsed"),
        "repeats_kept": rep.get("repeats_kept"),
        "users_without_target": rep.get("users_without_target"),
        "users_without_target_reason": rep.get("users_without_target_reason"),
        "data_notes": [n["message"] for n in rep.get("notes", [])],
        "removed_pairs_also_in_train": rep.get("removed_pairs_also_in_train"),
        "cold": cfg.data.cold,
        "cold_dropped": rep.get("cold"),
        "evaluated_users": evaluated,
        "n_users": data.n_users,
        "n_items": data.n_items,
        "train_interactions": len(data.train),
        "social": _social_summary(rep.get("social")),
        "kg": _kg_summary(rep.get("kg")),
        "behaviors": _behavior_summary(rep.get("behaviors"), test_desc.get("behaviors")),
    }
    if "sampled_negatives" in test_desc:
        out["sampled_negatives"] = test_desc["sampled_negatives"]
    if model_cls.family == "sequential":
        seq = data.sequences
        max_len = getattr(model_config(cfg), "max_len", None)  # None: the baselines
        out["sequences"] = {**seq.describe(), "max_len": max_len,
                            "input": "the user's items before the target (test: train + "
                                     "valid; valid: train), " + (
                                         "most recent max_len kept" if max_len else
                                         "all of them")}
    return out


def _social_summary(rep: dict[str, Any] | None) -> dict[str, Any] | None:
    if rep is None:
        return None
    keys = ("file", "links", "symmetric", "reciprocity", "users_with_links", "dropped")
    return {k: rep[k] for k in keys if k in rep}


def _kg_summary(rep: dict[str, Any] | None) -> dict[str, Any] | None:
    if rep is None:
        return None
    keys = ("file", "triples", "entities", "relations", "inverse", "linked_items",
            "unlinked_items", "dropped")
    return {k: rep[k] for k in keys if k in rep}


@dataclass
class LoadedRun:
    """A finished run reloaded from its folder."""

    cfg: RunConfig
    data: InteractionData
    model: Recommender
    run_dir: Path


#: settings that may change when a run is resumed or re-evaluated: the training budget and
#: where things run or are found, never what is computed
BUDGET_KEYS = frozenset({"train.epochs", "train.patience", "train.min_epochs",
                         "train.progress", "train.num_threads", "data.data_dir", "device",
                         "output_dir", "eval.block_size", "train.tensorboard"})
PER_USER_FILE = "per_user_test.npz"
_RUN_FILES = ("results.json", PER_USER_FILE, "checkpoint.pt", "last.pt", "log.jsonl",
              CurvesPlot.FILE)


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def config_identity(text: str) -> dict[str, Any]:
    """The settings of a dumped config that decide what a run computes (the config flattened
    to dotted keys, :data:`BUDGET_KEYS` left out)."""
    return {k: v for k, v in _flat(yaml.safe_load(text) or {}).items() if k not in BUDGET_KEYS}


def config_sha(text: str) -> str:
    """sha256 of a dumped config's identity (:func:`config_identity`): what ``checkpoint.pt``,
    ``last.pt`` and ``results.json`` record, so that files of different runs are told apart."""
    return hashlib.sha256(json.dumps(config_identity(text), sort_keys=True).encode()).hexdigest()


def _with_todays_defaults(text: str) -> str:
    """A saved config rebuilt by this version: settings it lacks (options added since the run
    was made) take their defaults, so adding an option does not make older runs differ. The
    text itself when it no longer builds (an option that was removed: a real difference)."""
    try:
        with quiet():
            return dump_config(resolve_data_needs(build_config(yaml.safe_load(text) or {})))
    except (ConfigError, SsrecError, TypeError, ValueError):
        return text


def _config_difference(old: str | None, new: str) -> str | None:
    """The first differing setting of two dumped configs outside :data:`BUDGET_KEYS`, as
    ``key: old -> new``; None when they agree. A setting missing from ``old`` counts as its
    default today."""
    if old is None:
        return "the folder has no config.yaml"
    a, b = config_identity(_with_todays_defaults(old)), config_identity(new)
    # the model first: another model changes every model key, and its name says why
    for key in sorted(set(a) | set(b), key=lambda k: (k != "model.name", k)):
        if a.get(key, "<unset>") != b.get(key, "<unset>"):
            return f"{key}: {a.get(key, '<unset>')} -> {b.get(key, '<unset>')}"
    return None


def _with_budget_of(saved: str, new: str) -> str:
    """``saved`` with the :data:`BUDGET_KEYS` of ``new`` (a resume may change the budget; the
    rest of a run's config.yaml stays as the run wrote it, so its identity is kept)."""
    raw, fresh = yaml.safe_load(saved) or {}, _flat(yaml.safe_load(new) or {})
    for key in sorted(BUDGET_KEYS):
        if key not in fresh:
            continue
        *path, last = key.split(".")
        node = raw
        for part in path:
            node = node.setdefault(part, {})
        node[last] = fresh[key]
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


def run_meta(cfg: RunConfig, data: InteractionData) -> dict[str, Any]:
    """What identifies a run's weights: the sha256 of its config identity
    (:func:`config_identity`) and of every input file, by role."""
    inputs = {role: {"path": path, "sha256": sha256_file(Path(path))}
              for role, path in sorted(data.report.get("files", {}).items())}
    return {"config_sha256": config_sha(dump_config(cfg)), "inputs": inputs}


def _saved_meta(path: Path) -> dict[str, Any]:
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a truncated or foreign file
        raise SsrecError(f"{path} cannot be read ({type(exc).__name__}); start the run again "
                         "with --overwrite") from None
    return ck.get("meta") or {}


def check_inputs(run_dir: Path, saved: dict[str, Any], now: dict[str, Any],
                 allow_data_change: bool = False) -> None:
    """Refuse to continue or re-score a run on input files that differ from those it was
    trained on.

    Raises:
        SsrecError: a file's checksum (or the set of files) differs, unless
            ``allow_data_change``.
    """
    old, new = saved.get("inputs") or {}, now.get("inputs") or {}
    if allow_data_change or old == new:
        return
    for role in sorted(set(old) | set(new)):
        a, b = old.get(role), new.get(role)
        if a is None or b is None or a["sha256"] != b["sha256"]:
            what = (f"its {role} file {b['path']} has changed since the run was trained"
                    if a and b else f"the run's {role} file is "
                    f"{'missing now' if b is None else 'new'}")
            raise SsrecError(f"{run_dir}: {what} (sha256 {a['sha256'][:12] if a else '-'} -> "
                             f"{b['sha256'][:12] if b else '-'}); pass --allow-data-change to "
                             "use the new data anyway")


def _clear_run_files(run_dir: Path) -> None:
    for name in _RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)
    for tmp in run_dir.glob(".*.tmp"):  # left by a write that was killed
        tmp.unlink(missing_ok=True)


def write_per_user(path: Path, users: np.ndarray, values: dict[str, np.ndarray]) -> None:
    """Write each evaluated user's metric values: ``users`` (raw ids, ``str [n]``) and one
    ``float64 [n]`` array per metric (``"ndcg@20"``, ...), atomically, compressed."""
    def save(fh: Any) -> None:
        np.savez_compressed(fh, users=np.asarray(users, dtype=str),
                            **{k: np.asarray(v, dtype=np.float64) for k, v in values.items()})
    _atomic(path, save)


def read_per_user(path: str | Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(users str [n], {"ndcg@20": float64 [n], ...})`` from :func:`write_per_user`'s file.

    Raises:
        SsrecError: the file is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return z["users"], {k: z[k] for k in z.files if k != "users"}
    except (OSError, KeyError, ValueError) as exc:
        raise SsrecError(f"{path}: cannot read per-user results ({exc})") from None


def _behavior_summary(rep: dict[str, Any] | None, masked: dict[str, Any] | None
                      ) -> dict[str, Any] | None:
    """The protocol's multi-behaviour block: target, which behaviours were masked at
    evaluation, which graph single-graph models used, training rows per behaviour."""
    if not rep:
        return None
    return {"target": rep["target"], "order": rep["order"],
            "masked": (masked or {}).get("masked", rep["masked"]),
            "not_masked": (masked or {}).get("not_masked", rep["auxiliary"]),
            "graph": rep["graph"],
            "train_interactions": {b: v["interactions"] for b, v in rep["train"].items()},
            "test_pairs_in": rep["test_pairs_in"]}


def resolve_data_needs(cfg: RunConfig) -> RunConfig:
    """``cfg`` with the options its model decides resolved: ``data.social=true`` for a model
    with ``needs_social``; ``data.kg=true`` for a model with ``needs_kg``;
    ``data.valid_method="auto"`` made ``"last"`` for sequential models
    (the last training item of each history is held out), ``"one"`` on multi-behaviour data
    (one target-behaviour row per user) and ``"random"`` otherwise; and
    ``eval.exclude_seen=null`` made the model family's default (False for sequential models,
    True otherwise); ``data.split="default"`` made the split it means for this dataset and
    model (:func:`~ssrec.data.dataset.resolve_default_split`: the given test file, else
    leave-one-out for sequential models); ``data.dedup="auto"`` made False (repeated events
    kept) for sequential models and True (collapsed) otherwise. The config itself is returned
    when nothing changes, else a copy (so ``config.yaml`` records what was loaded).

    Raises:
        DataError: ``data.split="default"`` and the dataset cannot be found.
        ConfigError: ``data.dedup=false`` with ``eval.exclude_seen=true`` (kept repeats are
            targets that the mask would hide)."""
    model_cls = model_class(cfg)
    social = model_cls.needs_social and not cfg.data.social
    kg = model_cls.needs_kg and not cfg.data.kg
    auto = cfg.data.valid_method == "auto"
    seen = cfg.eval.exclude_seen is None
    split = cfg.data.split == "default"
    dedup = cfg.data.dedup == "auto"
    if not (social or kg or auto or seen or split or dedup):
        _check_repeats(cfg)
        return cfg
    cfg = cfg.model_copy(deep=True)
    sequential = model_cls.family == "sequential"
    if dedup:
        cfg.data.dedup = not sequential
    if split:
        cfg.data.split = resolve_default_split(cfg.data, sequential)
        other = resolve_default_split(cfg.data.model_copy(update={"split": "default"}),
                                      not sequential)
        if other != cfg.data.split:
            _warn_family_protocol(sequential, cfg.data.split, other)
    if social:
        cfg.data.social = True
    if kg:
        cfg.data.kg = True
    if auto:
        cfg.data.valid_method = ("last" if model_cls.family == "sequential" else
                                 "one" if is_multi_behavior(cfg.data) else "random")
    if seen:
        cfg.eval.exclude_seen = resolve_exclude_seen(cfg.eval, model_cls)
    _check_repeats(cfg)
    return cfg


_WARNED: set[tuple[str, str]] = set()


def _warn_family_protocol(sequential: bool, split: str, other: str) -> None:
    """Say once per process when ``data.split=default`` means another split for this model
    family than for the other families on the same data (leave-one-out for sequential models,
    a random split for the others), so that results of two families are not compared
    unknowingly."""
    if (sequential, split) in _WARNED:
        return
    _WARNED.add((sequential, split))
    rest = "general, graph, social, knowledge and multi-behaviour"
    family, others = (("sequential", rest) if sequential else (rest, "sequential"))
    history, other_history = ("allowed", "masked") if sequential else ("masked", "allowed")
    log.warning("protocol: split %s with the user's history %s at evaluation, the %s models' "
                "default on this data; %s models default to split %s with the history %s. "
                "Set data.split and eval.exclude_seen to compare models of both families",
                split, history, family, others, other, other_history)


def _check_repeats(cfg: RunConfig) -> None:
    """Kept repeats make re-consumed items targets, which masking seen items would hide."""
    if cfg.data.dedup is False and cfg.eval.exclude_seen:
        raise ConfigError("data.dedup=false keeps repeated events, so a re-consumed item can be "
                          "a test target, but eval.exclude_seen=true masks the user's training "
                          "items and such a target could never be recommended; set "
                          "eval.exclude_seen=false or data.dedup=true")


def build_model(cfg: RunConfig, data: InteractionData) -> Recommender:
    """Build the configured model for ``data`` (seeded, so initial weights are reproducible)."""
    torch.manual_seed(cfg.seed)
    return model_class(cfg).build(data, model_config(cfg))


def run(cfg: RunConfig, callbacks: list[Any] | None = None, write: bool = True,
        resume: bool = False, allow_data_change: bool = False,
        score_test: bool = True) -> RunResult:
    """Train and evaluate one configuration; writes the run folder when ``write``.

    With ``resume`` and an ``output_dir`` that holds an interrupted run of the same
    configuration (its ``config.yaml`` and ``last.pt``), training continues from the last
    completed epoch instead of starting again (see :meth:`Trainer.resume`); only the budget
    keys (:data:`BUDGET_KEYS`) may differ, and the input files must have the checksums the run
    recorded unless ``allow_data_change``. Without ``resume`` the folder's earlier results,
    checkpoints and log are deleted before the new ``config.yaml`` is written, so an
    interrupted run never sits beside another run's results.
    A resume without ``last.pt`` says so and starts from epoch 1; temporary files left by a
    save that was killed are removed. A fresh run that fails (diverges, or a user has no
    negative item) removes the ``config.yaml`` and checkpoints it wrote, so its folder is not
    taken for a run; a ``log.jsonl`` with epochs stays, ending with ``{"event": "failed"}``.
    ``score_test=False`` never ranks the test split (model selection, e.g. a tuning trial):
    ``results.json``'s ``test`` is empty and ``test_scored`` false.

    Started by torchrun as one of several processes (``WORLD_SIZE`` > 1), the run joins the
    process group (:func:`ssrec.utils.distributed.setup`) and trains under
    DistributedDataParallel (see :class:`~ssrec.training.trainer.Trainer`): every rank loads the
    data and builds the model; rank 0 alone prepares and writes the run folder (its decisions,
    the folder's name and any refusal are broadcast, so every rank fails alike) and logs at
    INFO level; the other ranks log errors only and return the same result.

    Returns:
        The :class:`~ssrec.training.trainer.RunResult`; ``results.json`` holds the same numbers
        plus the protocol.

    Raises:
        SsrecError: data, config or training problems (with a message for the user), e.g. a
            resume whose saved ``config.yaml`` differs (the message names the first
            difference).
    """
    model_config(cfg)  # a bad model key fails before any data is read
    cfg = resolve_data_needs(cfg)
    device = distributed.setup(resolve_device(cfg.device))
    main = distributed.is_main()
    if not main:  # one log for the run: rank 0's (the ranks run the same code)
        logging.getLogger("ssrec").setLevel(logging.ERROR)
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    seed_everything(cfg.seed)
    t0 = time.perf_counter()
    data = load_dataset(cfg.data, seed=cfg.seed)
    load_seconds = time.perf_counter() - t0
    model = build_model(cfg, data)
    run_dir = None
    cbs: list[Any] = [ConsoleLogger()] if main else []
    resuming = False
    meta = run_meta(cfg, data)
    created = False
    before: dict[str, Any] = {}
    if write:
        folder: tuple[str, bool, bool, dict[str, Any]] | None = None
        error: str | None = None
        if main:
            try:
                folder = _prepare_run_dir(cfg, resume, meta, allow_data_change)
            except SsrecError as exc:
                if not distributed.active():
                    raise
                error = str(exc)
        if distributed.active():  # every rank fails alike, or uses rank 0's folder and meta
            folder, error, meta = distributed.broadcast_object((folder, error, meta))
        if error is not None:
            raise SsrecError(error)
        assert folder is not None
        path, created, resuming, before = folder
        run_dir = Path(path)
        if main:
            cbs.append(CurvesPlot(run_dir, title=f"{model.name} on {data.name}"))
            if cfg.train.tensorboard:
                cbs.append(TensorBoardLogger(run_dir / "tensorboard"))
    elif resume:
        raise SsrecError("resume needs a run folder (write=True)")
    log.info("%s on %s: %d users, %d items, %d train / %d valid / %d test interactions; "
             "device %s", model.name, data.name, data.n_users, data.n_items, len(data.train),
             len(data.valid), len(data.test), device)
    try:
        trainer = Trainer(model, data, cfg.train, cfg.eval, seed=cfg.seed, device=device,
                          run_dir=run_dir if main else None,
                          callbacks=cbs + list(callbacks or []))
        trainer.run_meta = meta
        if resuming and run_dir is not None:
            trainer.resume(run_dir)
        if run_dir is not None and main:
            trainer.callbacks.append(JsonlLogger(
                run_dir / "log.jsonl", keep_epochs=trainer.state.epoch if resuming else None))
        result = trainer.fit(score_test=score_test)
    except Exception as exc:
        if run_dir is not None and not resuming and main:
            _discard_failed_run(run_dir, created, before, exc)
        raise
    result.seconds["load"] = load_seconds
    result.run_dir = None if run_dir is None else str(run_dir)
    if run_dir is not None and main:
        evaluated = {"test": trainer.test_eval.n_users,
                     "valid": trainer.valid_eval.n_users if trainer.valid_eval else 0}
        if result.test_per_user:
            write_per_user(run_dir / PER_USER_FILE, data.users.to_raw(result.test_users),
                           result.test_per_user)
        atomic_write_json(run_dir / "results.json", {
            "model": model.name,
            "meta": meta,
            "valid": result.valid,
            "test": result.test,
            **({} if score_test else {"test_scored": False}),
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "warnings": result.warnings,
            "protocol": protocol(cfg, data, evaluated,
                                 {"valid": trainer.valid_eval, "test": trainer.test_eval}),
            "seconds": result.seconds,
            "environment": {"ssrec": ssrec.__version__, "torch": torch.__version__,
                            "python": platform.python_version(), "device": str(device),
                            "threads": torch.get_num_threads(),
                            "world_size": distributed.world_size()},
        })
        log.info("results written to %s", run_dir / "results.json")
    return result


_WRITTEN_FILES = ("config.yaml", "log.jsonl", "checkpoint.pt", "last.pt")


def _prepare_run_dir(cfg: RunConfig, resume: bool, meta: dict[str, Any],
                     allow_data_change: bool) -> tuple[str, bool, bool, dict[str, Any]]:
    """Create or check the run folder and write its ``config.yaml`` (see :func:`run`).

    Returns:
        ``(folder, created, resuming, before)``: whether this call created the folder, whether
        training continues from its ``last.pt``, and the files' stamps before this run.

    Raises:
        SsrecError: a resume whose saved config differs, or whose inputs changed.
    """
    run_dir = Path(cfg.output_dir) if cfg.output_dir else default_run_dir(cfg)
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    partial = remove_partial_writes(run_dir)
    if partial:
        log.warning("%s: removed the unfinished temporary file(s) of %s (the run was killed "
                    "while saving)", run_dir, ", ".join(partial))
    text = dump_config(cfg)
    if resume and (run_dir / "config.yaml").is_file():
        saved = (run_dir / "config.yaml").read_text()
        diff = _config_difference(saved, text)
        if diff is not None:
            raise SsrecError(f"cannot resume {run_dir}: its config.yaml differs from this "
                             f"configuration ({diff}); use the same settings or another "
                             "output folder (the budget keys "
                             f"{', '.join(sorted(BUDGET_KEYS))} may change)")
        # the run keeps the identity it was started with (options added since take their
        # defaults, see _config_difference); only its budget is updated
        text = _with_budget_of(saved, text)
        meta["config_sha256"] = config_sha(text)
    resuming = False
    if resume and (run_dir / "last.pt").is_file():
        check_inputs(run_dir, _saved_meta(run_dir / "last.pt"), meta, allow_data_change)
        resuming = True
    else:
        if resume:
            log.warning("--resume: %s holds no last.pt (%s), so training starts from "
                        "epoch 1", run_dir, "its first save was interrupted"
                        if "last.pt" in partial else "no epoch was completed")
        _clear_run_files(run_dir)  # a new run never sits beside an old run's results
    before = {n: _stamp(run_dir / n) for n in _WRITTEN_FILES}
    atomic_write_text(run_dir / "config.yaml", text)
    return str(run_dir), created, resuming, before


def _stamp(path: Path) -> tuple[int, int] | None:
    """``(inode, mtime_ns)`` of a file, ``None`` if absent: tells whether a run rewrote it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def _discard_failed_run(run_dir: Path, created: bool, before: dict[str, Any],
                        error: Exception) -> None:
    """Undo what a fresh run that failed (diverged, or no negative item for a user) wrote, so
    its folder is not taken for a run: its ``config.yaml`` and the checkpoints it wrote are
    removed; its ``log.jsonl`` stays, with a final ``{"event": "failed"}`` line, when it holds
    epochs, else it is removed; a folder this run created and left empty is removed."""
    for name in _WRITTEN_FILES:
        path = run_dir / name
        if _stamp(path) == before.get(name) and name != "config.yaml":
            continue  # not written by this run
        if name == "log.jsonl" and path.is_file() and path.stat().st_size:
            append_jsonl(path, {"event": "failed", "error": str(error)})
            continue
        path.unlink(missing_ok=True)
    if created and not any(run_dir.iterdir()):
        run_dir.rmdir()
        log.info("removed the run folder %s (the run failed)", run_dir)
    else:
        log.info("%s: removed the failed run's config.yaml and checkpoints", run_dir)


def load_run(run_dir: str | Path, data_dir: str | None = None, device: str | None = None,
             allow_data_change: bool = False) -> LoadedRun:
    """Reload a finished run folder: its config, its data (rebuilt deterministically) and its
    best weights.

    Args:
        run_dir: the folder written by :func:`run`.
        data_dir: override the data directory recorded in the config.
        device: override the device.
        allow_data_change: accept input files whose checksums differ from those the run
            recorded.

    Raises:
        SsrecError: missing files; a run that never finished (no ``results.json``); files
            that disagree (``config.yaml``, ``checkpoint.pt`` and ``results.json`` written by
            different configurations or models); changed input files; a checkpoint that does
            not fit the config.
    """
    run_dir = Path(run_dir)
    cfg_path, ckpt_path = run_dir / "config.yaml", run_dir / "checkpoint.pt"
    res_path = run_dir / "results.json"
    for p in (cfg_path, ckpt_path):
        if not p.is_file():
            raise SsrecError(f"{p} not found; is {run_dir} a finished ssrec run folder?")
    if not res_path.is_file():
        raise SsrecError(f"{run_dir} holds a run that never finished (no results.json); "
                         f"continue it with `ssrec train --out {run_dir} --resume`")
    raw = yaml.safe_load(cfg_path.read_text())
    if data_dir is not None:
        raw.setdefault("data", {})["data_dir"] = data_dir
    if device is not None:
        raw["device"] = device
    cfg = resolve_data_needs(build_config(raw, {("",): (str(cfg_path), None)}))
    with quiet():  # the data's and model's notes were said when the run trained
        data = load_dataset(cfg.data, seed=cfg.seed)
    meta = run_meta(cfg, data)
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    try:
        results = json.loads(res_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SsrecError(f"{res_path} cannot be read ({exc})") from None
    shas = {"config.yaml": config_sha(cfg_path.read_text()),  # as the run wrote it
            "checkpoint.pt": (ckpt.get("meta") or {}).get("config_sha256"),
            "results.json": (results.get("meta") or {}).get("config_sha256")}
    if len(set(shas.values())) > 1 or ckpt.get("model") != results.get("model"):
        raise SsrecError(f"{run_dir}: its files disagree (config.yaml, checkpoint.pt and "
                         f"results.json were not written by the same run of this ssrec "
                         f"version: models {ckpt.get('model')!r} / {results.get('model')!r}); "
                         "train it again with --overwrite")
    check_inputs(run_dir, results.get("meta") or {}, meta, allow_data_change)
    with quiet():
        model = build_model(cfg, data)
    dev = resolve_device(cfg.device)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise SsrecError(f"{ckpt_path}: checkpoint does not match the model built from "
                         f"config.yaml ({_state_mismatch(model, ckpt['state_dict'], data, exc)})"
                         ) from None
    model.to(dev)
    model.eval()
    return LoadedRun(cfg, data, model, run_dir)


def _state_mismatch(model, state: dict[str, Any], data, exc: Exception) -> str:
    """The first parameter whose shape differs between ``state`` and ``model``; changed data
    (``--allow-data-change``) usually shows up here as another number of users or items."""
    own = model.state_dict()
    for key, value in state.items():
        if key in own and tuple(own[key].shape) != tuple(value.shape):
            return (f"{key} is {tuple(value.shape)} in the checkpoint but "
                    f"{tuple(own[key].shape)} for the data as read now, {data.n_users:,} users "
                    f"and {data.n_items:,} items")
    return str(exc).splitlines()[0]


def run_evaluators(loaded: LoadedRun, splits: tuple[str, ...] = ("valid", "test"),
                   block_size: int | None = None) -> dict[str, Evaluator]:
    """The evaluators of a reloaded run for ``splits`` (its configured protocol; ``valid`` is
    skipped when the run has no validation data), e.g. for :meth:`Evaluator.describe`."""
    ev = loaded.cfg.eval
    if block_size:
        ev = ev.model_copy(update={"block_size": block_size})
    return {s: Evaluator.from_config(loaded.data, s, ev, loaded.model, loaded.cfg.seed)
            for s in splits if s != "valid" or len(loaded.data.valid)}


def evaluate_run(loaded: LoadedRun, splits: tuple[str, ...] = ("valid", "test"),
                 block_size: int | None = None) -> dict[str, dict[str, float]]:
    """Score a reloaded run on ``splits`` with its configured metrics."""
    return {s: e.evaluate(loaded.model)
            for s, e in run_evaluators(loaded, splits, block_size).items()}


__all__ = ["LoadedRun", "SsrecError", "build_model", "evaluate_run", "load_run", "protocol",
           "resolve_data_needs", "run", "run_evaluators"]
