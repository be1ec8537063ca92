"""Run an Optuna study of a :class:`~ssrec.tuning.spec.TuneSpec` and report it.

Each trial is one :func:`ssrec.training.run` on the validation split only
(``score_test=False``: no test user is ever ranked during the study), with a
:class:`PruningCallback` that reports the monitored validation metric at every evaluation and
asks the trainer to stop when Optuna's pruner says so. The study lives in ``study.db``
(SQLite) in the study folder; one process at a time holds the folder's lock. A study killed
mid-trial resumes with the same command: the trials it left ``RUNNING`` are marked failed
(``interrupted``), their parameters are queued to run again first, and only the missing trials
run. At the end the best configuration is written as ``best.yaml``, trained once into
``best/`` and its test split scored once.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from ssrec.config import RunConfig
from ssrec.models import dump_config
from ssrec.errors import SsrecError
from ssrec.tuning.spec import TuneSpec
from ssrec.utils.io import atomic_write_json, atomic_write_text
from ssrec.utils.plot import new_figure, save_png

log = logging.getLogger("ssrec.tune")

DB_FILE = "study.db"
FINISHED = ("COMPLETE", "PRUNED", "FAIL")


def import_optuna() -> Any:
    """The ``optuna`` module.

    Raises:
        SsrecError: Optuna is not installed (one line saying how to install it).
    """
    try:
        import optuna
    except ImportError:
        raise SsrecError("ssrec tune needs Optuna: pip install 'ssrec[tune]' (or pip install "
                         "optuna)") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # ssrec logs each trial itself
    return optuna


class PruningCallback:
    """Trainer callback: reports the validation ``metric`` to an Optuna trial at every
    evaluation (step = epoch) and, when the study's pruner says the trial is behind, asks the
    trainer to stop after the epoch (:meth:`~ssrec.training.trainer.Trainer.request_stop`), so
    the run ends as an early-stopped one does.

    Attributes:
        pruned_at: the epoch the trial was pruned at (None: not pruned).
    """

    def __init__(self, trial: Any, metric: str):
        self.trial = trial
        self.metric = metric
        self.pruned_at: int | None = None

    def on_validation_end(self, trainer: Any, epoch: int, metrics: dict[str, float],
                          improved: bool) -> None:
        self.trial.report(metrics[self.metric], epoch)
        if self.pruned_at is None and self.trial.should_prune():
            self.pruned_at = epoch
            trainer.request_stop(f"trial {self.trial.number} pruned (valid {self.metric} "
                                 f"{metrics[self.metric]:.4f} behind the earlier trials)")


def _run_config(cfg: RunConfig, run_dir: Path, checkpoints: bool) -> RunConfig:
    train = cfg.train.model_copy(update={"progress": False, "save_checkpoints": checkpoints})
    return cfg.model_copy(update={"output_dir": str(run_dir), "train": train})


def _open_study(optuna: Any, spec: TuneSpec, out: Path, seed_offset: bool = True) -> Any:
    storage = f"sqlite:///{(out / DB_FILE).resolve()}"
    study = optuna.create_study(storage=storage, study_name=spec.name, direction="maximize",
                                load_if_exists=True)
    stored = study.user_attrs.get("fingerprint")
    if stored is None:
        study.set_user_attr("fingerprint", spec.fingerprint())
        study.set_user_attr("metric", spec.metric_name)
    elif stored != spec.fingerprint():
        raise SsrecError(f"{out / DB_FILE} holds study {spec.name!r} of another base, space or "
                         "metric; use the same spec or another --out")
    # seeded by the spec's seed and the trials already stored: a given history always draws
    # the same next parameters
    seed = spec.seed + (len(study.trials) if seed_offset else 0)
    study.sampler = optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=spec.sampler.startup_trials,
        multivariate=spec.sampler.multivariate)
    study.pruner = (optuna.pruners.NopPruner() if spec.pruner.type == "none" else
                    optuna.pruners.MedianPruner(n_startup_trials=spec.pruner.startup_trials,
                                                n_warmup_steps=spec.pruner.warmup_epochs))
    return study


def counted_trials(study: Any) -> list[Any]:
    """The finished trials that count towards ``n_trials`` (complete, pruned or failed;
    trials cut by a kill are not counted: their parameters run again)."""
    return [t for t in study.get_trials(deepcopy=False)
            if t.state.name in FINISHED and not t.user_attrs.get("interrupted")]


def _requeue_interrupted(optuna: Any, study: Any) -> int:
    """Mark the trials a killed process left ``RUNNING`` as failed (``interrupted``) and queue
    their parameters again; returns how many. Safe because this process holds the study's
    lock: no other process is running a trial."""
    stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for t in stale:
        # the storage API: Optuna has no public call to fail a trial of a dead process
        # without heartbeats
        study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
        study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
        study.enqueue_trial(t.params, user_attrs={"requeued_from": t.number})
        log.info("[tune] trial %d was interrupted: its parameters run again", t.number)
    return len(stale)


def run_study(spec: TuneSpec, out: str | Path, n_trials: int | None = None,
              timeout: float | None = None, final: bool = True) -> dict[str, Any]:
    """Run (or resume) the study of ``spec`` in the folder ``out``.

    Args:
        spec: the tuning spec.
        out: the study folder.
        n_trials: finished trials the study should hold (default ``spec.n_trials``); a study
            holding them already runs none.
        timeout: seconds after which no new trial starts (default ``spec.timeout``).
        final: write ``best.yaml``, train it once into ``best/`` and score its test split
            (skipped when ``best/`` already holds that configuration's results).

    Returns:
        The summary written to ``study.json`` (plus ``report``: the report's paths).

    Raises:
        SsrecError: Optuna missing, another process holds the study, a stored study of
            another spec, or a trial's configuration or data problem (a diverging trial,
            :class:`~ssrec.training.trainer.TrainingError`, is recorded as failed instead).
    """
    from ssrec.experiments.runner import exclusive_lock
    from ssrec.training.run import run
    from ssrec.training.trainer import TrainingError

    optuna = import_optuna()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n_trials = spec.n_trials if n_trials is None else n_trials
    if n_trials < 1:
        raise SsrecError(f"--n-trials must be >= 1, got {n_trials}")
    timeout = spec.timeout if timeout is None else timeout
    metric = spec.metric_name
    with exclusive_lock(out / ".lock") as mine:
        if not mine:
            raise SsrecError(f"another `ssrec tune` is running the study in {out}")
        study = _open_study(optuna, spec, out)
        _requeue_interrupted(optuna, study)
        missing = n_trials - len(counted_trials(study))

        def objective(trial: Any) -> float:
            params = {key: dist.suggest(trial, key) for key, dist in spec.space.items()}
            run_dir = out / "trials" / f"trial-{trial.number:04d}"
            cfg = _run_config(spec.config(params), run_dir, checkpoints=False)
            cb = PruningCallback(trial, metric)
            log.info("[tune] trial %d: %s", trial.number,
                     ", ".join(f"{k}={v}" for k, v in params.items()))
            t0 = time.perf_counter()
            result = run(cfg, callbacks=[cb], score_test=False)
            trial.set_user_attr("best_epoch", result.best_epoch)
            trial.set_user_attr("epochs_run", result.epochs_run)
            trial.set_user_attr("seconds", round(time.perf_counter() - t0, 2))
            trial.set_user_attr("run_dir", str(run_dir))
            if metric not in result.valid:
                raise SsrecError(f"trial {trial.number}: no validation {metric} (the study "
                                 "selects on the validation split; is data.valid_ratio 0?)")
            value = float(result.valid[metric])
            log.info("[tune] trial %d: valid %s %.4f at epoch %d%s", trial.number, metric,
                     value, result.best_epoch,
                     f" (pruned at epoch {cb.pruned_at})" if cb.pruned_at else "")
            if cb.pruned_at is not None:
                trial.set_user_attr("pruned_at", cb.pruned_at)
                raise optuna.TrialPruned(f"pruned at epoch {cb.pruned_at}")
            return value

        if missing > 0:
            log.info("[tune] %s: %d of %d trials to run", spec.name, missing, n_trials)
            study.optimize(objective, n_trials=missing, timeout=timeout,
                           catch=(TrainingError,))
        summary = _summary(spec, study, n_trials)
        if final and summary["best"] is not None:
            summary.update(_final_run(spec, summary["best"], out, run))
        atomic_write_json(out / "study.json", summary)
    summary["report"] = write_study_report(spec, out, study)
    return summary


def _summary(spec: TuneSpec, study: Any, n_trials: int) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        state = "INTERRUPTED" if t.user_attrs.get("interrupted") else t.state.name
        counts[state] = counts.get(state, 0) + 1
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    best = max(complete, key=lambda t: (t.value, -t.number)) if complete else None
    return {
        "name": spec.name, "title": spec.title, "metric": spec.metric_name,
        "direction": "maximize", "split": "valid", "n_trials": n_trials, "trials": counts,
        "seed": spec.seed, "fingerprint": spec.fingerprint(),
        "best": None if best is None else {
            "number": best.number, "value": best.value, "params": best.params,
            "best_epoch": best.user_attrs.get("best_epoch")},
    }


def _final_run(spec: TuneSpec, best: dict[str, Any], out: Path, run: Any) -> dict[str, Any]:
    """Write ``best.yaml``; train it into ``best/`` and score test once, unless ``best/``
    already holds this configuration's results (then they are read back)."""
    from ssrec.training.run import _config_difference, resolve_data_needs

    cfg = spec.config(best["params"])
    header = (f"# best configuration of study {spec.name!r}: trial {best['number']}, valid "
              f"{spec.metric_name} {best['value']:.4f}\n# ssrec train --config best.yaml\n")
    atomic_write_text(out / "best.yaml", header + dump_config(cfg.model_copy(
        update={"output_dir": None})))
    run_dir = out / "best"
    final_cfg = _run_config(cfg, run_dir, checkpoints=True)
    saved = run_dir / "config.yaml"
    same = saved.is_file() and _config_difference(
        saved.read_text(), dump_config(resolve_data_needs(final_cfg))) is None
    if same and (run_dir / "results.json").is_file():
        results = json.loads((run_dir / "results.json").read_text())
        log.info("[tune] %s already holds the best configuration's results", run_dir)
    else:
        resume = same and (run_dir / "last.pt").is_file()
        log.info("[tune] training the best configuration (trial %d) into %s%s",
                 best["number"], run_dir, " (resuming)" if resume else "")
        run(final_cfg, resume=resume)
        results = json.loads((run_dir / "results.json").read_text())
    return {"best_config": str(out / "best.yaml"),
            "final": {"run_dir": str(run_dir), "best_epoch": results.get("best_epoch"),
                      "valid": results.get("valid"), "test": results.get("test")}}


# ---- report -------------------------------------------------------------------------------


def _trial_value(t: Any) -> float | None:
    """A complete trial's value; a pruned trial's best reported value (comparable: the best
    validation so far); None otherwise."""
    if t.state.name == "COMPLETE":
        return float(t.value)
    if t.state.name == "PRUNED" and t.intermediate_values:
        return float(max(t.intermediate_values.values()))
    return None


def trial_rows(study: Any, spec: TuneSpec) -> list[dict[str, Any]]:
    """One row per trial: number, state, value, best epoch, epochs, seconds and parameters."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        state = "interrupted" if t.user_attrs.get("interrupted") else t.state.name.lower()
        if state == "pruned" and t.user_attrs.get("pruned_at"):
            state = f"pruned@{t.user_attrs['pruned_at']}"
        row: dict[str, Any] = {"trial": t.number, "state": state, "value": _trial_value(t),
                               "best_epoch": t.user_attrs.get("best_epoch"),
                               "epochs": t.user_attrs.get("epochs_run"),
                               "seconds": t.user_attrs.get("seconds")}
        for key in spec.space:
            row[key] = t.params.get(key)
        rows.append(row)
    return rows


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v == 0 or 1e-3 <= abs(v) < 1e4:
            return f"{v:.4f}".rstrip("0").rstrip(".")
        return f"{v:.4g}"
    return str(v)


def _describe(dist: Any) -> str:
    if dist.type == "categorical":
        return f"categorical {dist.choices}"
    scale = " (log)" if dist.log else f" step {_fmt(dist.step)}" if dist.step else ""
    return f"{dist.type} [{_fmt(dist.low)}, {_fmt(dist.high)}]{scale}"


def plot_history(rows: list[dict[str, Any]], metric: str, path: Path) -> Path:
    """Optimisation history: each trial's validation value (complete: dots; pruned: crosses at
    their best reported value) and the best complete value so far (step line); 6.4 × 3.6
    inches at 100 dpi, headless."""
    fig = new_figure(6.4, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    done = [(r["trial"], r["value"]) for r in rows if r["state"] == "complete"]
    pruned = [(r["trial"], r["value"]) for r in rows
              if r["state"].startswith("pruned") and r["value"] is not None]
    if done:
        ax.plot(*zip(*done), "o", color="C0", label="complete")
        best, line = -math.inf, []
        for n, v in done:
            best = max(best, v)
            line.append((n, best))
        last = max(r["trial"] for r in rows)
        line.append((last, best))
        ax.step(*zip(*line), where="post", color="C3", label="best so far")
    if pruned:
        ax.plot(*zip(*pruned), "x", color="0.5", label="pruned (best reported)")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"valid {metric}")
    ax.set_title("optimisation history", fontsize=10)
    if done or pruned:
        ax.legend(fontsize=8, loc="best")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return save_png(fig, path)


def write_study_report(spec: TuneSpec, out: str | Path, study: Any | None = None
                       ) -> dict[str, Path]:
    """Write ``study.md`` (search space, best trial, final test result, trials table),
    ``study.csv`` (the trials table) and ``history.png`` into ``out``; returns their paths
    by kind (``md``, ``csv``, ``png``).

    Raises:
        SsrecError: Optuna missing, or ``out`` holds no study.
    """
    optuna = import_optuna()
    out = Path(out)
    if study is None:
        if not (out / DB_FILE).is_file():
            raise SsrecError(f"{out} holds no study ({DB_FILE}); run `ssrec tune` first")
        study = _open_study(optuna, spec, out, seed_offset=False)
    rows = trial_rows(study, spec)
    metric = spec.metric_name
    summary_path = out / "study.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    if summary.get("fingerprint") != spec.fingerprint():
        summary = {}
    summary.update(_summary(spec, study, summary.get("n_trials", spec.n_trials)))

    buf = io.StringIO()
    writer = csv.writer(buf)
    cols = list(rows[0]) if rows else ["trial", "state", "value", *spec.space]
    writer.writerow([f"valid {metric}" if c == "value" else c for c in cols])
    for r in rows:
        writer.writerow(["" if r[c] is None else r[c] for c in cols])
    paths = {"csv": atomic_write_text(out / "study.csv", buf.getvalue())}
    paths["png"] = plot_history(rows, metric, out / "history.png")

    counts = summary["trials"]
    pr = spec.pruner
    lines = [f"# {spec.title or spec.name}", "",
             f"Study `{spec.name}`: Optuna TPE (seed {spec.seed}, "
             f"{spec.sampler.startup_trials} random startup trials"
             f"{', multivariate' if spec.sampler.multivariate else ''}), "
             + (f"median pruner ({pr.startup_trials} startup trials, {pr.warmup_epochs} "
                "warm-up epochs)" if pr.type == "median" else "no pruning")
             + f"; maximised: validation {metric}. Trials: "
             + ", ".join(f"{v} {k.lower()}" for k, v in counts.items())
             + ". Selection used the validation split only; the test split was scored once, "
             "for the best configuration.", "", "## Search space", "",
             "| key | distribution |", "|---|---|"]
    lines += [f"| `{k}` | {_describe(d)} |" for k, d in spec.space.items()]
    best = summary.get("best")
    lines += ["", "## Best configuration", ""]
    if best is None:
        lines.append("No trial completed.")
    else:
        lines.append(f"Trial {best['number']}: valid {metric} {best['value']:.4f} (best epoch "
                     f"{best.get('best_epoch')}) with " +
                     ", ".join(f"`{k}` = {_fmt(v)}" for k, v in best["params"].items()) + ".")
        final = summary.get("final")
        if final and final.get("test"):
            shown = {k: v for k, v in final["test"].items()
                     if k.split("@")[0] in ("recall", "ndcg")}
            lines += ["", f"Trained once (`best.yaml`, run folder `best/`): best epoch "
                      f"{final['best_epoch']}; test " +
                      ", ".join(f"{k} {v:.4f}" for k, v in shown.items()) + "."]
    lines += ["", "## Trials", "", "Pruned trials show the best validation value they "
              "reported before they were stopped.", ""]
    head = ["trial", "state", f"valid {metric}", "best epoch", "epochs", "seconds",
            *spec.space]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r[c]) for c in cols) + " |")
    lines += ["", "![optimisation history](history.png)", ""]
    paths["md"] = atomic_write_text(out / "study.md", "\n".join(lines))
    return paths
