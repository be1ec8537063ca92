"""The report of an experiment, built from its finished run folders only.

Per dataset and model: each metric's mean over seeds with a t-interval, the relative change
against the baseline, a paired per-user test against the baseline (each user's metric averaged
over the seeds both models finished) with Holm's correction over the models compared, the
evaluated users, best epochs and seconds per epoch, and, where the spec gives published
values, those values and the gap. Written as Markdown, CSV, JSON and a PNG bar chart with CI
whiskers (``<name>.md``, ``.csv``, ``.json``, ``.png`` in the experiment folder, ``<name>``
being the spec file's stem, plus the copies the spec asks for). Specs that share an
experiment folder share the cells they have in common (same labels, seed and configuration).

Cells whose protocols differ (split, ranking, masking, K, evaluated users, ...) never share a
table: :func:`build_report` raises and names the key.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ssrec.evaluation.beyond import CATALOGUE_METRICS
from ssrec.errors import SsrecError
from ssrec.experiments.spec import Cell, Experiment
from ssrec.experiments.stats import holm, paired_test, t_interval

# protocol keys that must agree between the models of one dataset and seed (pairing needs
# the same users and targets) and, the first group, across its seeds too
_STATIC_KEYS = ("dataset", "ranking", "ks", "exclude_seen", "masked_items", "selection_split",
                "rating_threshold", "sampled_negatives")
_PER_SEED_KEYS = ("split", "evaluated_users", "cold_dropped", "n_items")


#: the per-cell cache of :meth:`CellResult.item_groups` (summary, per-user contributions)
GROUPS_FILES = ("item_groups_test.json", "item_groups_test.npz")


class ProtocolMismatch(SsrecError):
    """Two cells of one table were evaluated under different protocols."""


@dataclass
class CellResult:
    """A finished cell: its ``results.json``, ``config.yaml`` and folder."""

    cell: Cell
    results: dict[str, Any]
    config: dict[str, Any]
    _per_user: tuple[np.ndarray, dict[str, np.ndarray]] | None = field(default=None,
                                                                       repr=False)

    def per_user(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(raw user ids [n], {metric: values [n]})`` of the test split."""
        from ssrec.training.run import PER_USER_FILE, read_per_user

        if self._per_user is None:
            self._per_user = read_per_user(self.cell.run_dir / PER_USER_FILE)
        return self._per_user

    def item_groups(self, n_groups: int) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
        """The cell's test Recall@K by item-popularity group (:func:`~ssrec.diagnostics.report.
        group_accuracy` on the kept weights): ``(summary, raw user ids str [n],
        contributions float64 [n_groups, n])``. Computed once and cached in the run folder
        (:data:`GROUPS_FILES`); recomputed when the cache holds another number of groups.

        Raises:
            SsrecError: the run cannot be reloaded (see :func:`ssrec.training.run.load_run`).
        """
        from ssrec.training.run import read_per_user, write_per_user
        from ssrec.utils.io import atomic_write_json

        meta_path, users_path = (self.cell.run_dir / f for f in GROUPS_FILES)
        if meta_path.is_file() and users_path.is_file():
            meta = json.loads(meta_path.read_text())
            if meta.get("n_groups") == n_groups:
                users, vals = read_per_user(users_path)
                return meta, users, np.stack([vals[f"g{g}"] for g in range(n_groups)])
        from ssrec.diagnostics.report import group_accuracy
        from ssrec.evaluation import Evaluator
        from ssrec.training.run import load_run

        loaded = load_run(self.cell.run_dir)
        evaluator = Evaluator.from_config(loaded.data, "test", loaded.cfg.eval, loaded.model,
                                          loaded.cfg.seed)
        acc = group_accuracy(evaluator, loaded.model, n_groups, per_user=True)
        contrib = acc.pop("item_contribution_per_user")
        users = loaded.data.users.to_raw(evaluator.users)
        meta = {"n_groups": n_groups, "k": acc["k"], "recall": acc[f"recall@{acc['k']}"],
                "items": acc["items"]}
        write_per_user(users_path, users, {f"g{g}": contrib[g] for g in range(n_groups)})
        atomic_write_json(meta_path, meta)
        return meta, np.asarray(users, dtype=str), contrib

    @property
    def seconds_per_epoch(self) -> float:
        sec = self.results.get("seconds", {})
        n = self.results.get("epochs_run") or 0
        return float(sec.get("train", 0.0)) / n if n else 0.0


def collect(exp: Experiment) -> dict[str, dict[str, dict[int, CellResult]]]:
    """The finished cells, ``{dataset: {model: {seed: CellResult}}}`` (spec order)."""
    out: dict[str, dict[str, dict[int, CellResult]]] = {
        d: {m: {} for m in exp.models} for d in exp.spec.datasets}
    for cell in exp.cells:
        res, cfg = cell.run_dir / "results.json", cell.run_dir / "config.yaml"
        if not (res.is_file() and cfg.is_file()):
            continue
        try:
            results = json.loads(res.read_text())
            config = yaml.safe_load(cfg.read_text()) or {}
        except (OSError, json.JSONDecodeError, yaml.YAMLError) as exc:
            raise SsrecError(f"{res}: cannot read the finished cell ({exc})") from None
        out[cell.dataset][cell.model][cell.seed] = CellResult(cell, results, config)
    return out


def check_protocols(dataset: str, cells: Mapping[str, Mapping[int, CellResult]]) -> None:
    """Raise :class:`ProtocolMismatch` naming the first protocol key on which two cells of
    ``dataset`` differ (per seed: every key; across seeds: the static keys)."""
    first_any: CellResult | None = None
    first_by_seed: dict[int, CellResult] = {}
    for model, by_seed in cells.items():
        for seed, cr in by_seed.items():
            proto = cr.results.get("protocol", {})
            ref = first_by_seed.setdefault(seed, cr)
            for key in (*_STATIC_KEYS, *_PER_SEED_KEYS):
                a, b = ref.results.get("protocol", {}).get(key), proto.get(key)
                if a != b:
                    _mismatch(dataset, key, ref, cr, a, b)
            if first_any is None:
                first_any = cr
            for key in _STATIC_KEYS:
                a, b = first_any.results.get("protocol", {}).get(key), proto.get(key)
                if a != b:
                    _mismatch(dataset, key, first_any, cr, a, b)


def _mismatch(dataset: str, key: str, a: CellResult, b: CellResult, va: Any, vb: Any) -> None:
    raise ProtocolMismatch(
        f"dataset {dataset}: cells {a.cell.name} and {b.cell.name} differ in protocol key "
        f"{key!r} ({_short(va)} vs {_short(vb)}); they cannot share a table: give them the "
        "same settings, or separate dataset labels")


def _short(v: Any) -> str:
    s = json.dumps(v, sort_keys=True) if not isinstance(v, str) else v
    return s if len(s) <= 80 else s[:77] + "..."


def _non_defaults(config: Mapping[str, Any]) -> str:
    from ssrec.models import MODELS

    model = dict(config.get("model") or {})
    name = model.pop("name", None)
    try:
        defaults = MODELS.get(str(name)).Config().model_dump(mode="json")
    except Exception:  # an unknown model: show everything
        defaults = {}
    diff = {k: v for k, v in model.items() if defaults.get(k, object()) != v}
    return ", ".join(f"{k}={v}" for k, v in diff.items()) or "defaults"


def _metrics_of(exp: Experiment, found: Mapping[str, Mapping[str, Mapping[int, CellResult]]]
                ) -> list[str]:
    if exp.spec.metrics:
        return [m.lower() for m in exp.spec.metrics]
    for by_model in found.values():
        for by_seed in by_model.values():
            for cr in by_seed.values():
                ks = cr.results.get("protocol", {}).get("ks") or [20]
                return [f"{m}@{k}" for m in ("ndcg", "recall") for k in ks]
    return []


def _paired_users(a: Mapping[int, CellResult], b: Mapping[int, CellResult],
                  values: Callable[[CellResult], tuple[np.ndarray, np.ndarray]]
                  ) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Each user's value (``values(cell) -> (raw user ids [n], values [n])``, e.g. a metric of
    the per-user export) averaged over the seeds both models finished; the two vectors are
    aligned on raw user ids."""
    seeds = sorted(set(a) & set(b))
    sums: dict[str, list[float]] = {}
    for s in seeds:
        ua, va = values(a[s])
        ub, vb = values(b[s])
        if ua.shape != ub.shape or not np.array_equal(ua, ub):
            raise ProtocolMismatch(f"cells {a[s].cell.name} and {b[s].cell.name} evaluated "
                                   "different test users; they cannot be paired")
        for u, x, y in zip(ua.tolist(), va.tolist(), vb.tolist()):
            acc = sums.setdefault(u, [0.0, 0.0, 0.0])
            acc[0] += x
            acc[1] += y
            acc[2] += 1
    vals = np.array(list(sums.values()), dtype=np.float64).reshape(-1, 3)
    return vals[:, 0] / vals[:, 2], vals[:, 1] / vals[:, 2], seeds


def _metric_values(metric: str) -> Callable[[CellResult], tuple[np.ndarray, np.ndarray]]:
    def get(cr: CellResult) -> tuple[np.ndarray, np.ndarray]:
        users, vals = cr.per_user()
        if metric not in vals:
            raise SsrecError(f"{cr.cell.name}: no per-user values of {metric}")
        return users, vals[metric]
    return get


def build_report(exp: Experiment) -> dict[str, Any]:
    """Statistics of every finished cell (the structure written to ``<name>.json``).

    Raises:
        ProtocolMismatch: two cells of one dataset differ in protocol.
        SsrecError: unreadable result files.
    """
    spec = exp.spec
    found = collect(exp)
    metrics = _metrics_of(exp, found)
    report: dict[str, Any] = {"title": spec.title, "spec": str(exp.path or ""),
                              "out": str(exp.out), "seeds": spec.seeds,
                              "baseline": spec.baseline, "metrics": metrics,
                              "test": spec.test, "confidence": spec.confidence,
                              "alpha": spec.alpha, "published_source": spec.published.source,
                              "datasets": {}}
    for ds, by_model in found.items():
        check_protocols(ds, by_model)
        published = spec.published.values.get(ds, {})
        rows = []
        for label, by_seed in by_model.items():
            row: dict[str, Any] = {"model": label, "seeds": sorted(by_seed),
                                   "n": len(by_seed),
                                   "missing_seeds": [s for s in spec.seeds if s not in by_seed],
                                   "metrics": {}}
            if by_seed:
                any_cr = by_seed[min(by_seed)]
                monitor = any_cr.config.get("train", {}).get("monitor")
                row.update({
                    "model_name": any_cr.results.get("model"),
                    "settings": _non_defaults(any_cr.config),
                    "monitor": monitor,
                    "valid_monitor": [by_seed[s].results.get("valid", {}).get(monitor)
                                      for s in sorted(by_seed)],
                    "best_epoch": [by_seed[s].results.get("best_epoch") for s in sorted(by_seed)],
                    "epochs_run": [by_seed[s].results.get("epochs_run") for s in sorted(by_seed)],
                    "seconds_per_epoch": float(np.mean([by_seed[s].seconds_per_epoch
                                                        for s in by_seed])),
                    "evaluated_users": any_cr.results.get("protocol", {}).get("evaluated_users"),
                })
            for m in metrics:
                vals = [by_seed[s].results.get("test", {}).get(m) for s in sorted(by_seed)]
                vals = [v for v in vals if v is not None]
                entry: dict[str, Any] = {"values": vals}
                if vals:
                    iv = t_interval(vals, spec.confidence)
                    entry.update(mean=iv.mean, std=iv.std, ci=[iv.low, iv.high])
                pub = published.get(label, {}).get(m)
                if pub is not None:
                    entry["published"] = pub
                    if vals:
                        entry["gap"] = (entry["mean"] - pub) / pub
                row["metrics"][m] = entry
            rows.append(row)
        _compare_with_baseline(spec, by_model, rows, metrics)
        first = next((cr for bs in by_model.values() for cr in bs.values()), None)
        if spec.item_groups:
            groups = _item_group_table(spec, by_model, spec.item_groups)
        report["datasets"][ds] = {
            "protocol": first.results.get("protocol") if first else None,
            "train": (first.config.get("train") if first else None),
            "environment": (first.results.get("environment") if first else None),
            "rows": rows,
        }
        if spec.item_groups:
            report["datasets"][ds]["item_groups"] = groups
    return report


def _item_group_table(spec: Any, by_model: Mapping[str, Mapping[int, CellResult]],
                      n_groups: int) -> dict[str, Any]:
    """Per model and item-popularity group: the Recall@K contribution's mean and t-interval
    over seeds, and against the baseline the relative change and a paired per-user test
    (each user's contribution averaged over the seeds both finished; Holm over the models,
    per group)."""
    per_cell = {(m, s): cr.item_groups(n_groups) for m, bs in by_model.items()
                for s, cr in bs.items()}
    table: dict[str, Any] = {"n_groups": n_groups, "groups": [], "rows": []}
    if not per_cell:
        return table
    table["k"] = next(iter(per_cell.values()))[0]["k"]
    for g in range(n_groups):
        items = [meta["items"][g] for meta, _, _ in per_cell.values()]
        table["groups"].append({
            "group": g + 1,
            "popularity_min": min(i["popularity_min"] for i in items
                                  if i["popularity_min"] is not None),
            "popularity_max": max(i["popularity_max"] for i in items
                                  if i["popularity_max"] is not None),
            "items": float(np.mean([i["items"] for i in items])),
            "target_share": float(np.mean([i["target_share"] for i in items]))})
    base = spec.baseline if spec.baseline in by_model and by_model[spec.baseline] else None

    for model, by_seed in by_model.items():
        if not by_seed:
            continue
        row: dict[str, Any] = {"model": model, "groups": []}
        for g in range(n_groups):
            vals = [per_cell[(model, s)][0]["items"][g][f"recall@{table['k']}_contribution"]
                    for s in sorted(by_seed)]
            iv = t_interval(vals, spec.confidence)
            entry: dict[str, Any] = {"values": vals, "mean": iv.mean, "ci": [iv.low, iv.high]}
            row["groups"].append(entry)
        table["rows"].append(row)
    if base is None:
        return table
    b_row = next(r for r in table["rows"] if r["model"] == base)
    for g in range(n_groups):
        ps, entries = [], []
        for row in table["rows"]:
            if row["model"] == base:
                continue
            e = row["groups"][g]
            b_mean = b_row["groups"][g]["mean"]
            if b_mean:
                e["rel_vs_baseline"] = (e["mean"] - b_mean) / b_mean
            if not set(by_model[row["model"]]) & set(by_model[base]):
                continue
            x, y, seeds = _paired_users(
                by_model[row["model"]], by_model[base],
                lambda cr, g=g: (per_cell[(cr.cell.model, cr.cell.seed)][1],
                                 per_cell[(cr.cell.model, cr.cell.seed)][2][g]))
            res = paired_test(x, y, spec.test)
            e["test"] = {"method": res.method, "p": res.p, "users": res.n, "seeds": seeds}
            ps.append(res.p)
            entries.append(e)
        for e, p in zip(entries, holm(ps)):
            e["test"]["p_holm"] = float(p)
            e["test"]["significant"] = bool(p < spec.alpha)
    return table


def _compare_with_baseline(spec: Any, by_model: Mapping[str, Mapping[int, CellResult]],
                           rows: list[dict[str, Any]], metrics: list[str]) -> None:
    base = spec.baseline
    if base is None or not by_model.get(base):
        return
    base_row = next(r for r in rows if r["model"] == base)
    for m in metrics:
        b_mean = base_row["metrics"][m].get("mean")
        ps, idx = [], []
        for i, row in enumerate(rows):
            if row["model"] == base or not by_model[row["model"]]:
                continue
            e = row["metrics"][m]
            if b_mean and e.get("mean") is not None:
                e["rel_vs_baseline"] = (e["mean"] - b_mean) / b_mean
            if not set(by_model[row["model"]]) & set(by_model[base]) or (
                    m.partition("@")[0] in CATALOGUE_METRICS):  # no per-user values to pair
                continue
            x, y, seeds = _paired_users(by_model[row["model"]], by_model[base],
                                        _metric_values(m))
            res = paired_test(x, y, spec.test)
            e["test"] = {"method": res.method, "statistic": res.statistic, "p": res.p,
                         "users": res.n, "seeds": seeds,
                         "mean_user_difference": res.mean_difference}
            ps.append(res.p)
            idx.append(i)
        for i, p in zip(idx, holm(ps)):
            t = rows[i]["metrics"][m]["test"]
            t["p_holm"] = float(p)
            t["significant"] = bool(p < spec.alpha)


# ---- rendering ----------------------------------------------------------------------------

def _label(metric: str) -> str:
    name, _, k = metric.partition("@")
    short = {"recall": "R", "ndcg": "N", "precision": "P", "hit": "HR", "mrr": "MRR",
             "map": "MAP"}.get(name, name)
    return f"{short}@{k}"


def _fmt_mean(e: Mapping[str, Any]) -> str:
    if e.get("mean") is None:
        return "–"
    ci = e.get("ci") or [math.nan, math.nan]
    if len(e["values"]) < 2 or any(map(math.isnan, ci)):
        return f"{e['mean']:.4f}"
    return f"{e['mean']:.4f} ± {(ci[1] - ci[0]) / 2:.4f}"


def _fmt_p(p: float | None, sig: bool | None) -> str:
    if p is None:
        return "–"
    s = f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"
    return s + (" *" if sig else "")


def _fmt_list(vals: list[Any]) -> str:
    vals = [v for v in vals if v is not None]
    if not vals:
        return "–"
    if len(vals) == 1:
        return str(vals[0])
    return f"{np.mean(vals):.0f} ({min(vals)}–{max(vals)})"


def _protocol_lines(d: Mapping[str, Any]) -> list[str]:
    p, t = d.get("protocol") or {}, d.get("train") or {}
    if not p:
        return []
    split = p.get("split") or {}
    val = split.get("validation", {}) if isinstance(split, dict) else {}
    vdesc = {"holdout_from_train": f"{val.get('ratio', 0):.0%} of each user's training "
                                   "interactions held out (seeded)",
             "last_from_train": "each user's last training interaction",
             "given": "the dataset's validation file",
             "ratio": "the ratio split's validation share (per user, seeded)",
             "loo": "each user's event before the test target"}.get(val.get("method"),
                                                           str(val.get("method", "?")))
    cold = p.get("cold_dropped") or {}
    cold_test = cold.get("test", {}) if isinstance(cold, dict) else {}
    cold_desc = (f"{cold_test.get('interactions', 0)} test pairs with users/items unseen in "
                 f"training {'kept (data.cold=keep)' if cold_test.get('kept') else 'dropped'}")
    ev = p.get("evaluated_users") or {}
    lines = [
        f"* Split: {split.get('method', '?') if isinstance(split, dict) else split}; "
        f"validation: {vdesc}; {p.get('n_users', '?'):,} users × {p.get('n_items', '?'):,} "
        f"items, {p.get('train_interactions', 0):,} training interactions (first seed).",
        f"* Evaluation: {p.get('ranking', '?')} ranking; masked at test: "
        f"{(p.get('masked_items') or {}).get('test', '?')}; {cold_desc}; evaluated users: "
        f"{ev.get('test', '?'):,} (test), {ev.get('valid', '?'):,} (valid).",
    ]
    if t:
        lines.append(
            f"* Training: at most {t.get('epochs')} epochs, batch {t.get('batch_size')}, Adam "
            f"lr {t.get('lr')}, validation every {t.get('eval_every')} epoch(s), early "
            f"stopping after {t.get('patience')} validations without a better "
            f"{t.get('monitor')} (not before epoch {t.get('min_epochs')}), pair sampling "
            f"{t.get('pair_sampling', 'interaction')}; the best validation epoch's weights "
            "are scored on test once.")
    env = d.get("environment") or {}
    if env:
        lines.append(f"* Machine: {env.get('device', '?')}, torch {env.get('torch', '?')}, "
                     f"{env.get('threads', '?')} thread(s) per run (first cell); s/epoch is "
                     "wall-clock training time per epoch on a machine shared with other jobs.")
    return lines


def render_markdown(report: Mapping[str, Any], exp: Experiment) -> str:
    """The report as Markdown (tables per dataset, reproduction table, notes)."""
    spec = exp.spec
    metrics = report["metrics"]
    primary = metrics[0] if metrics else None
    base = report["baseline"]
    test_name = {"wilcoxon": "Wilcoxon signed-rank", "ttest": "paired t"}[report["test"]]
    out = io.StringIO()
    w = out.write
    w(f"# {report['title'] or 'Comparison'}\n\n")
    cmd = f"ssrec compare {_rel(exp.path)}"
    w(f"Produced by `{cmd}`; `{cmd} --report` rebuilds it from the finished runs (add "
      f"`--out FOLDER` where they are not in the spec's `out`). Raw numbers: `{exp.name}.json` "
      f"/ `{exp.name}.csv` in the experiment folder.\n\n")
    if spec.description:
        w(spec.description.rstrip() + "\n\n")
    w(f"Cells: {len(spec.seeds)} seed(s) per model ({', '.join(map(str, spec.seeds))}); "
      f"values are means over seeds ± the half-width of the {report['confidence']:.0%} "
      "t-interval (no interval with one seed).")
    if base:
        w(f" Δ is the relative change of the mean against **{base}**; p is a two-sided "
          f"{test_name} test on each test user's {_label(primary) if primary else ''} averaged "
          f"over the seeds both models finished, Holm-corrected over the models compared; "
          f"`*`: significant at α = {report['alpha']}.")
    w("\n\n")
    pub_rows: list[tuple[str, str, str, dict[str, Any]]] = []
    for ds, d in report["datasets"].items():
        rows = d["rows"]
        if not any(r["n"] for r in rows):
            w(f"## {ds}\n\nNo cell finished yet ({', '.join(r['model'] for r in rows)}; seeds "
              f"{', '.join(map(str, report['seeds']))}).\n\n")
            continue
        w(f"## {ds}\n\n")
        for line in _protocol_lines(d):
            w(line + "\n")
        w("\n")
        head = ["model", "n"] + [_label(m) for m in metrics]
        if base and primary:
            head += [f"Δ {_label(primary)}", "p (Holm)"]
        head += [f"valid {_label(rows[0].get('monitor') or primary or '')}", "best epoch",
                 "s/epoch", "settings"]
        w("| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n")
        for r in rows:
            if not r["n"]:
                continue
            cells = [r["model"] + (" (baseline)" if r["model"] == base else ""), str(r["n"])]
            cells += [_fmt_mean(r["metrics"][m]) for m in metrics]
            if base and primary:
                e = r["metrics"][primary]
                rel = e.get("rel_vs_baseline")
                t = e.get("test") or {}
                cells += ["–" if rel is None else f"{rel:+.1%}",
                          _fmt_p(t.get("p_holm"), t.get("significant"))]
            vm = [v for v in r.get("valid_monitor", []) if v is not None]
            cells += [f"{np.mean(vm):.4f}" if vm else "–", _fmt_list(r.get("best_epoch", [])),
                      f"{r.get('seconds_per_epoch', 0):.2f}", r.get("settings", "")]
            w("| " + " | ".join(cells) + " |\n")
            for m in metrics:
                if "published" in r["metrics"][m]:
                    pub_rows.append((ds, r["model"], m, r["metrics"][m]))
        missing = [f"{r['model']} (seeds {', '.join(map(str, r['missing_seeds']))})"
                   for r in rows if r["missing_seeds"]]
        if missing:
            w(f"\nNot finished: {'; '.join(missing)}.\n")
        if d.get("item_groups", {}).get("rows"):
            _render_item_groups(w, d["item_groups"], base, report["alpha"])
        if base and primary:
            sig = [r for r in rows if (r["metrics"][primary].get("test") or {}).get("significant")]
            non = [r for r in rows if r["model"] != base and r["n"] and
                   not (r["metrics"][primary].get("test") or {}).get("significant")]
            users = next((r["metrics"][primary]["test"]["users"] for r in rows
                          if r["metrics"][primary].get("test")), None)
            w(f"\nAgainst {base} on {_label(primary)} ({users or '?'} paired users): "
              f"significant: {_names(sig, primary) or 'none'}; not significant: "
              f"{_names(non, primary) or 'none'}.\n")
        w("\n")
    if pub_rows:
        w("## Published values\n\n")
        if report.get("published_source"):
            w(f"Source: {report['published_source']}. Gap = (ours − paper) / paper; "
              "✓ = within ±3%.\n\n")
        w("| dataset | model | metric | paper | ours | n | gap | |\n|---|---|---|---|---|---|---|---|\n")
        for ds, model, m, e in pub_rows:
            gap = e.get("gap")
            ok = "✓" if gap is not None and abs(gap) <= 0.03 else ""
            w(f"| {ds} | {model} | {_label(m)} | {e['published']:.4f} | {_fmt_mean(e)} | "
              f"{len(e['values'])} | {'–' if gap is None else f'{gap:+.1%}'} | {ok} |\n")
        w("\n")
    notes = exp.resolve(spec.notes)
    if notes is not None and notes.is_file():
        w(notes.read_text(encoding="utf-8").rstrip() + "\n")
    return out.getvalue()


def _render_item_groups(w: Any, t: Mapping[str, Any], base: str | None, alpha: float) -> None:
    k = t["k"]
    w(f"\nRecall@{k} by item popularity: the items cut into {t['n_groups']} groups holding "
      "equal numbers of training interactions (group 1: the long tail), each cell's Recall@"
      f"{k} split into the groups' contributions (they sum to Recall@{k}); mean ± CI over "
      "seeds")
    if base:
        w(f"; Δ against {base}, `*`: Holm-corrected paired test significant at α = {alpha} "
          "within the group")
    w(".\n\n")
    head = ["model"] + [f"G{g['group']}: pop {g['popularity_min']}–{g['popularity_max']}, "
                        f"{g['target_share']:.0%} of targets" for g in t["groups"]]
    w("| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n")
    for r in t["rows"]:
        cells = [r["model"]]
        for e in r["groups"]:
            c = _fmt_mean(e)
            rel = e.get("rel_vs_baseline")
            if rel is not None:
                sig = (e.get("test") or {}).get("significant")
                c += f" ({rel:+.0%}{'*' if sig else ''})"
            cells.append(c)
        w("| " + " | ".join(cells) + " |\n")


def _names(rows: list[dict[str, Any]], metric: str) -> str:
    parts = []
    for r in rows:
        rel = r["metrics"][metric].get("rel_vs_baseline")
        parts.append(f"{r['model']} ({'?' if rel is None else f'{rel:+.1%}'})")
    return ", ".join(parts)


def _rel(path: Path | None) -> str:
    if path is None:
        return "SPEC"
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def render_csv(report: Mapping[str, Any]) -> str:
    """One row per dataset, model and metric."""
    out = io.StringIO()
    wr = csv.writer(out)
    wr.writerow(["dataset", "model", "metric", "n", "mean", "std", "ci_low", "ci_high",
                 "rel_vs_baseline", "p", "p_holm", "significant", "published", "gap",
                 "seeds", "best_epoch", "seconds_per_epoch"])
    for ds, d in report["datasets"].items():
        for r in d["rows"]:
            for m, e in r["metrics"].items():
                t = e.get("test") or {}
                ci = e.get("ci") or [None, None]
                wr.writerow([ds, r["model"], m, r["n"], e.get("mean"), e.get("std"), ci[0],
                             ci[1], e.get("rel_vs_baseline"), t.get("p"), t.get("p_holm"),
                             t.get("significant"), e.get("published"), e.get("gap"),
                             " ".join(map(str, r["seeds"])),
                             " ".join(str(x) for x in r.get("best_epoch", [])),
                             r.get("seconds_per_epoch")])
    return out.getvalue()


def render_figure(report: Mapping[str, Any], path: Path) -> Path | None:
    """A bar chart of the primary metric per dataset, with CI whiskers (and published values
    as markers); ``None`` when nothing is finished."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    metric = (report["metrics"] or [None])[0]
    panels = [(ds, [r for r in d["rows"] if r["n"]]) for ds, d in report["datasets"].items()]
    panels = [(ds, rows) for ds, rows in panels if rows]
    if metric is None or not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(max(4.0, 0.6 * max(len(r) for _, r in
                                                                          panels) + 1.5)
                                                      * len(panels), 4.2), squeeze=False)
    for ax, (ds, rows) in zip(axes[0], panels):
        means = [r["metrics"][metric].get("mean", np.nan) for r in rows]
        err = [((r["metrics"][metric].get("ci") or [np.nan, np.nan])[1] -
                (r["metrics"][metric].get("ci") or [np.nan, np.nan])[0]) / 2 for r in rows]
        err = [0.0 if (e is None or np.isnan(e)) else e for e in err]
        colors = ["#888888" if r["model"] == report["baseline"] else "#3b75af" for r in rows]
        x = np.arange(len(rows))
        ax.bar(x, means, yerr=err, capsize=3, color=colors)
        pubs = [r["metrics"][metric].get("published") for r in rows]
        if any(p is not None for p in pubs):
            ax.scatter([i for i, p in enumerate(pubs) if p is not None],
                       [p for p in pubs if p is not None], marker="x", color="#d62728",
                       zorder=3, label="published")
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xticks(x)
        ax.set_xticklabels([r["model"] for r in rows], rotation=45, ha="right", fontsize=8)
        ax.set_title(ds)
        ax.set_ylabel(f"test {_label(metric)}")
        finite = [m for m in means if not np.isnan(m)]
        if finite:
            lo = min(finite)
            ax.set_ylim(bottom=max(0.0, lo - 0.25 * (max(finite) - lo + 1e-9) - 0.02 * lo))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(exp: Experiment) -> dict[str, Path]:
    """Build the report and write it to the experiment folder as ``<name>.md/.csv/.json/.png``
    (and to the spec's ``report`` and ``figure`` paths); returns the written paths by kind
    (``md``, ``csv``, ``json``, ``png``, ``doc``, ``figure``).

    Raises:
        ProtocolMismatch, SsrecError: see :func:`build_report`.
    """
    from ssrec.utils.io import atomic_write_json, atomic_write_text

    report = build_report(exp)
    out, stem = exp.out, exp.name
    paths = {"json": atomic_write_json(out / f"{stem}.json", _jsonable(report)),
             "csv": atomic_write_text(out / f"{stem}.csv", render_csv(report))}
    fig = render_figure(report, out / f"{stem}.png")
    if fig is not None:
        paths["png"] = fig
    md = render_markdown(report, exp)
    doc_fig = exp.resolve(exp.spec.figure)
    if fig is not None and doc_fig is not None:
        doc_fig.parent.mkdir(parents=True, exist_ok=True)
        doc_fig.write_bytes(fig.read_bytes())
        paths["figure"] = doc_fig
    doc = exp.resolve(exp.spec.report)
    if doc is not None:
        text = md
        if doc_fig is not None and fig is not None:
            rel = Path(_relpath(doc_fig, doc.parent))
            text = md.replace("\n\n", f"\n\n![{_label(report['metrics'][0])} per model, "
                                      f"with confidence intervals]({rel.as_posix()})\n\n", 1)
        paths["doc"] = atomic_write_text(doc, text)
    paths["md"] = atomic_write_text(out / f"{stem}.md", md)
    return paths


def _relpath(target: Path, start: Path) -> str:
    import os

    return os.path.relpath(target, start)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    return x


__all__ = ["CellResult", "ProtocolMismatch", "build_report", "check_protocols", "collect",
           "render_csv", "render_figure", "render_markdown", "write_report"]
