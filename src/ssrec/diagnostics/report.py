"""``ssrec diagnose``: diagnostics of a finished run's kept weights.

Writes into the run folder (or ``out``):

* ``diagnostics.json`` — alignment and uniformity (users, items), the angle summaries, the
  beyond-accuracy list metrics at every ``eval.ks`` cut-off, accuracy per user-degree group and
  per item-popularity group (definitions: :mod:`ssrec.diagnostics.representation`,
  :mod:`ssrec.evaluation.beyond`, :func:`group_accuracy`);
* ``embedding_distribution.png`` — the SimGCL-style figure: the normalised 2-D points of users
  and items coloured by density on the unit circle, and the KDE of their angles;
* ``groups.png`` — Recall@K per user-degree group and each item-popularity group's share of
  Recall@K.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssrec.diagnostics.representation import (alignment, angle_kde, angle_summary,
                                              project_angles, uniformity)
from ssrec.errors import SsrecError
from ssrec.evaluation import metrics as M
from ssrec.evaluation.beyond import LIST_METRICS, ListMetrics
from ssrec.utils.io import atomic_write_json
from ssrec.utils.plot import new_figure, save_png

FILES = ("diagnostics.json", "embedding_distribution.png", "groups.png")


def representations(model: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's final user ``[U, d]`` and item ``[I, d]`` representations (those its
    scores are inner products of: after propagation for graph models, without training-time
    noise), in eval mode without gradients.

    Raises:
        SsrecError: the model has no such representations (kNN, MostPop, sequential models).
    """
    fn = getattr(model, "embeddings", None)
    if fn is None:
        raise SsrecError(f"{model.name} has no user and item representations to diagnose "
                         "(embedding models only: MF, LightGCN, SimGCL, ...)")
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            users, items = fn()
    finally:
        model.train(was)
    return users.detach().float().cpu(), items.detach().float().cpu()


def equal_groups(values: np.ndarray, n_groups: int, weights: np.ndarray | None = None
                 ) -> np.ndarray:
    """``int [n]`` group (0 = smallest values) of each entry: entries sorted by ``values``
    (stable), cut into ``n_groups`` consecutive groups of equal total ``weights`` (default 1
    each: equal counts). A group may be empty when one entry outweighs a group's share."""
    values = np.asarray(values)
    w = np.ones(values.size) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(w[order])
    total = cum[-1] if cum.size else 0.0
    g = np.minimum((n_groups * (cum - w[order]) / max(total, 1e-12)).astype(np.int64),
                   n_groups - 1)
    out = np.empty(values.size, dtype=np.int64)
    out[order] = g
    return out


def group_accuracy(evaluator: Any, model: Any, n_groups: int = 5, k: int | None = None,
                   per_user: bool = False) -> dict[str, Any]:
    """Accuracy by user group and by item-popularity group, from one ranking pass.

    * **User groups**: the evaluated users sorted by training degree (fitted interactions)
      and cut into ``n_groups`` groups of equal size; per group: degree range, users, mean
      Recall@K and NDCG@K.
    * **Item groups** (SGL, Wu et al., SIGIR 2021, Sec. 4.3.2): items sorted by training
      popularity and cut into ``n_groups`` groups holding equal numbers of training
      interactions (group 0: the long tail, the last group: the few most popular items); per
      group: items, the share of the split's targets in it, the share of the top-K slots
      filled from it (exposure), and its **Recall@K contribution**
      ``mean_u |L_u ∩ T_u ∩ G| / |T_u|``. The contributions sum to Recall@K.

    Args:
        evaluator: an :class:`~ssrec.evaluation.Evaluator` (full ranking) of the split.
        model: the trained model.
        n_groups: groups on each side (default 5).
        k: cut-off (default: 20 if evaluated, else the largest of ``evaluator.ks``).
        per_user: also return ``"item_contribution_per_user"``, ``float64 [n_groups, n]``,
            each evaluated user's contribution per item group (column order:
            ``evaluator.users``; not JSON-serialisable), for paired tests.

    Returns:
        ``{"k": K, "users": [...], "items": [...], "lists": {...}}`` where ``lists`` holds
        the list metrics (:mod:`ssrec.evaluation.beyond`) at every cut-off of the evaluator.

    Raises:
        ValueError: ``n_groups < 1``.
    """
    if n_groups < 1:
        raise ValueError(f"n_groups must be >= 1, got {n_groups}")
    data = evaluator.data
    k = k or (20 if 20 in evaluator.ks else evaluator.ks[-1])
    pop = data.item_popularity
    item_group = equal_groups(pop, n_groups, weights=pop)
    lists = ListMetrics(pop, data.n_users, evaluator.ks, LIST_METRICS)
    n = evaluator.n_users
    recall, ndcg = np.zeros(n), np.zeros(n)
    contrib = np.zeros((n_groups, n))
    exposure = np.zeros(n_groups)
    per_user_lists: dict[str, np.ndarray] = {}
    for start, users, top, hits in evaluator.ranked_blocks(model, k=max(evaluator.ks)):
        sl = slice(start, start + users.size)
        n_rel = torch.from_numpy(evaluator.n_targets[sl])
        vals = M.compute(hits.cpu(), n_rel, [k], ["recall", "ndcg"])
        recall[sl], ndcg[sl] = vals[f"recall@{k}"].numpy(), vals[f"ndcg@{k}"].numpy()
        for key, v in lists.update(top.cpu()).items():
            per_user_lists.setdefault(key, np.zeros(n))[sl] = v.numpy()
        tk = top[:, :k].cpu().numpy()
        hk = hits[:, :k].cpu().numpy()
        g = item_group[tk]
        exposure += np.bincount(g.ravel(), minlength=n_groups)
        for grp in range(n_groups):
            contrib[grp, sl] = ((g == grp) & hk).sum(1) / evaluator.n_targets[sl]
    degree = np.diff(data.train_csr.indptr)[evaluator.users]
    user_group = equal_groups(degree, n_groups)
    users_out = []
    for grp in range(n_groups):
        m = user_group == grp
        if not m.any():
            continue
        users_out.append({"group": grp, "degree_min": int(degree[m].min()),
                          "degree_max": int(degree[m].max()), "users": int(m.sum()),
                          f"recall@{k}": float(recall[m].mean()),
                          f"ndcg@{k}": float(ndcg[m].mean())})
    targets = evaluator.targets
    target_group = item_group[targets.indices]
    tcount = np.bincount(target_group, minlength=n_groups)
    items_out = []
    for grp in range(n_groups):
        m = item_group == grp
        items_out.append({"group": grp, "items": int(m.sum()),
                          "popularity_min": int(pop[m].min()) if m.any() else None,
                          "popularity_max": int(pop[m].max()) if m.any() else None,
                          "target_share": float(tcount[grp] / max(tcount.sum(), 1)),
                          "exposure_share": float(exposure[grp] / max(exposure.sum(), 1)),
                          f"recall@{k}_contribution": float(contrib[grp].mean())})
    list_values = {key: float(v.mean()) for key, v in per_user_lists.items()}
    list_values.update(lists.catalogue())
    order = [f"{m}@{kk}" for m in LIST_METRICS for kk in evaluator.ks]
    out = {"k": k, f"recall@{k}": float(recall.mean()), f"ndcg@{k}": float(ndcg.mean()),
           "users": users_out, "items": items_out,
           "lists": {key: list_values[key] for key in order}}
    if per_user:
        out["item_contribution_per_user"] = contrib
    return out


def representation_diagnostics(model: Any, data: Any) -> tuple[dict[str, Any],
                                                               dict[str, np.ndarray]]:
    """Alignment and uniformity of the model's representations and their angle summaries.

    Returns:
        ``(summary, angles)``: ``summary`` = ``{"alignment": ..., "alignment_pairs": P,
        "users": {"n", "uniformity", "angles": {...}}, "items": {...}}`` over the users and
        items with training interactions; ``angles`` = ``{"users": float64 [U'],
        "items": float64 [I']}``.
    """
    users, items = representations(model)
    tr = data.train
    active = {"users": np.flatnonzero(np.bincount(tr.user, minlength=data.n_users)),
              "items": np.flatnonzero(np.bincount(tr.item, minlength=data.n_items))}
    out: dict[str, Any] = {"alignment": alignment(users, items, tr.user, tr.item),
                           "alignment_pairs": int(len(tr.user))}
    angles = {}
    for side, table in (("users", users), ("items", items)):
        x = table[torch.from_numpy(active[side])]
        angles[side] = project_angles(x)
        out[side] = {"n": int(x.shape[0]), "uniformity": uniformity(x),
                     "angles": angle_summary(angles[side])}
    return out, angles


def plot_distributions(entries: Sequence[tuple[str, dict[str, np.ndarray]]],
                       path: str | os.PathLike[str]) -> Path:
    """The SimGCL-style embedding-distribution figure: one column per entry (a label and its
    ``{"users": angles, "items": angles}``), rows: users on the unit circle coloured by angle
    density, user angle KDE, items on the circle, item angle KDE (one density scale per row;
    the dotted line is the uniform density ``1/(2π)``). ``2.6`` inches per column,
    ``9.6`` inches high, 100 dpi; headless, atomic."""
    import matplotlib

    cols = len(entries)
    fig = new_figure(2.6 * cols, 9.6)
    cmap = matplotlib.colormaps["viridis"]
    kdes = {(c, side): angle_kde(angles[side]) for c, (_, angles) in enumerate(entries)
            for side in ("users", "items")}
    # one density scale per row, so the columns (models) compare at a glance
    top = {side: max([float(d.max()) for (_, s), (_, d) in kdes.items() if s == side]
                     + [1 / (2 * math.pi)]) * 1.05 for side in ("users", "items")}
    for c, (label, angles) in enumerate(entries):
        for r, side in enumerate(("users", "items")):
            g, dens = kdes[(c, side)]
            ax = fig.add_subplot(4, cols, (2 * r) * cols + c + 1)
            ax.scatter(np.cos(g), np.sin(g), c=dens, cmap=cmap, s=14, vmin=0, vmax=top[side])
            ax.set_aspect("equal")
            ax.set_xlim(-1.2, 1.2)
            ax.set_ylim(-1.2, 1.2)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{label}\n{side}" if r == 0 else side, fontsize=9)
            ax2 = fig.add_subplot(4, cols, (2 * r + 1) * cols + c + 1)
            ax2.plot(g, dens, color="C0" if side == "users" else "C1")
            ax2.fill_between(g, dens, alpha=0.25, color="C0" if side == "users" else "C1")
            ax2.axhline(1 / (2 * math.pi), color="0.5", ls=":", lw=0.8)
            ax2.set_xlim(-math.pi, math.pi)
            ax2.set_ylim(0, top[side])
            ax2.set_xticks([-math.pi, 0, math.pi])
            ax2.set_xticklabels(["−π", "0", "π"], fontsize=7)
            ax2.tick_params(labelsize=7)
            ax2.set_title(f"{side}: angle density", fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)


def plot_groups(entries: Sequence[tuple[str, dict[str, Any]]],
                path: str | os.PathLike[str]) -> Path:
    """Bars of Recall@K per user-degree group and of each item-popularity group's Recall@K
    contribution, one bar series per entry (a label and :func:`group_accuracy`'s output);
    ``9.6 × 3.6`` inches, 100 dpi; headless, atomic."""
    fig = new_figure(9.6, 3.6)
    ax_u, ax_i = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    width = 0.8 / max(len(entries), 1)
    for e, (label, groups) in enumerate(entries):
        k = groups["k"]
        u = groups["users"]
        x = np.arange(len(u)) + e * width
        ax_u.bar(x, [r[f"recall@{k}"] for r in u], width, label=label)
        it = groups["items"]
        xi = np.arange(len(it)) + e * width
        ax_i.bar(xi, [r[f"recall@{k}_contribution"] for r in it], width, label=label)
    first = entries[0][1]
    k = first["k"]
    mid = 0.4 - width / 2
    ax_u.set_xticks(np.arange(len(first["users"])) + mid)
    ax_u.set_xticklabels([f"{r['degree_min']}-{r['degree_max']}" for r in first["users"]],
                         fontsize=7)
    ax_u.set_xlabel("user training degree", fontsize=8)
    ax_u.set_ylabel(f"Recall@{k}", fontsize=8)
    ax_u.set_title("accuracy per user group (equal users)", fontsize=9)
    ax_i.set_xticks(np.arange(len(first["items"])) + mid)
    ax_i.set_xticklabels([f"{r['popularity_min']}-{r['popularity_max']}"
                          for r in first["items"]], fontsize=7)
    ax_i.set_xlabel("item training popularity", fontsize=8)
    ax_i.set_ylabel(f"Recall@{k} contribution", fontsize=8)
    ax_i.set_title("per item group (equal interactions)", fontsize=9)
    for ax in (ax_u, ax_i):
        ax.tick_params(labelsize=7)
    if len(entries) > 1:
        ax_i.legend(fontsize=7)
    fig.tight_layout()
    return save_png(fig, path)


def load_earlier_run(run_dir: str | os.PathLike[str], data_dir: str | None = None,
                     device: str | None = None, allow_data_change: bool = False
                     ) -> tuple[Any, list[str]]:
    """Reload a finished run written by an earlier version of ssrec whose ``config.yaml``
    holds keys this version no longer has (e.g. ``model.noise_stream``, retired with the one
    SimGCL/XSimGCL noise arithmetic): those keys are dropped, and the check that
    ``config.yaml``, ``checkpoint.pt`` and ``results.json`` carry the same configuration
    checksum is skipped (the dropped keys change it). Still checked: the input files' checksums
    and that the weights fit the model built from the remaining configuration.

    Returns:
        ``(LoadedRun, dropped dotted keys)``.

    Raises:
        SsrecError: missing files, a run that never finished, changed input files, weights that
            do not fit.
    """
    import json

    import yaml

    from ssrec.config import RunConfig, build_config
    from ssrec.data.dataset import load_dataset
    from ssrec.models import MODELS
    from ssrec.training.run import (LoadedRun, build_model, check_inputs, resolve_data_needs,
                                    run_meta)
    from ssrec.utils.device import resolve_device

    run_dir = Path(run_dir)
    for name in ("config.yaml", "checkpoint.pt", "results.json"):
        if not (run_dir / name).is_file():
            raise SsrecError(f"{run_dir / name} not found; is {run_dir} a finished ssrec run "
                             "folder?")
    raw = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
    dropped = []
    for section in ("data", "train", "eval", "model"):
        values = raw.get(section)
        if not isinstance(values, dict):
            continue
        if section == "model":
            known = set(MODELS.get(str(values.get("name"))).Config.model_fields) | {"name"}
        else:
            known = set(RunConfig.model_fields[section].annotation.model_fields)
        for key in [k for k in values if k not in known]:
            del values[key]
            dropped.append(f"{section}.{key}")
    if data_dir is not None:
        raw.setdefault("data", {})["data_dir"] = data_dir
    if device is not None:
        raw["device"] = device
    cfg = resolve_data_needs(build_config(raw))
    data = load_dataset(cfg.data, seed=cfg.seed)
    results = json.loads((run_dir / "results.json").read_text())
    check_inputs(run_dir, results.get("meta") or {}, run_meta(cfg, data), allow_data_change)
    ckpt = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
    model = build_model(cfg, data)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise SsrecError(f"{run_dir / 'checkpoint.pt'}: the weights do not fit the model "
                         f"built from config.yaml ({str(exc).splitlines()[0]})") from None
    model.to(resolve_device(cfg.device)).eval()
    return LoadedRun(cfg, data, model, run_dir), dropped


def diagnose_run(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
                 split: str = "test", data_dir: str | None = None, device: str | None = None,
                 allow_data_change: bool = False, groups: int = 5,
                 earlier_version: bool = False) -> dict[str, Any]:
    """Diagnose a finished run folder (its kept weights, :func:`ssrec.training.run.load_run`)
    and write :data:`FILES` into ``out`` (default: the run folder).

    Args:
        run_dir: the run folder.
        out: output folder (created); the run folder stays untouched when given.
        split: the split whose top-K lists are measured (``"test"`` or ``"valid"``).
        data_dir, device, allow_data_change: as for ``ssrec evaluate``.
        groups: user-degree and item-popularity groups.
        earlier_version: load a run of an earlier ssrec whose config has retired keys
            (:func:`load_earlier_run`); the dropped keys are listed in the output.

    Returns:
        The summary written to ``diagnostics.json`` (plus ``out`` and ``files``).

    Raises:
        SsrecError: not a finished run, a model without representations, sampled ranking,
            or an unknown split.
    """
    from ssrec.evaluation import Evaluator
    from ssrec.training.run import load_run

    if split not in ("test", "valid"):
        raise SsrecError(f"split must be test or valid, got {split!r}")
    if groups < 1:
        raise SsrecError(f"--groups must be >= 1, got {groups}")
    dropped: list[str] = []
    if earlier_version:
        loaded, dropped = load_earlier_run(run_dir, data_dir, device, allow_data_change)
    else:
        loaded = load_run(run_dir, data_dir=data_dir, device=device,
                          allow_data_change=allow_data_change)
    cfg, data, model = loaded.cfg, loaded.data, loaded.model
    if cfg.eval.ranking != "full":
        raise SsrecError("diagnose measures full-ranking top-K lists; this run used "
                         f"eval.ranking={cfg.eval.ranking}")
    if split == "valid" and not len(data.valid):
        raise SsrecError(f"{run_dir} has no validation split")
    out_dir = Path(out) if out is not None else Path(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rep, angles = representation_diagnostics(model, data)
    evaluator = Evaluator.from_config(data, split, cfg.eval, model, cfg.seed)
    acc = group_accuracy(evaluator, model, groups)
    label = f"{model.name} ({Path(run_dir).name})"
    summary: dict[str, Any] = {
        "run_dir": str(run_dir), "model": model.name, "dataset": data.name, "seed": cfg.seed,
        "split": split, "dropped_config_keys": dropped, "representations": rep,
        "lists": acc.pop("lists"), "groups": acc,
        "definitions": {
            "alignment": "mean ||u~ - i~||^2 over the training positive pairs "
                         "(normalised representations; Wang & Isola 2020, DirectAU)",
            "uniformity": "log mean exp(-2||x~ - x~'||^2) over distinct pairs, users and "
                          "items separately (those with training interactions)",
            "projection": "uncentred rank-2 SVD of the normalised representations, points "
                          "normalised onto the unit circle",
            "tail": "items outside the 20% most popular training items",
            "item_groups": "equal training interactions per group; recall contributions "
                           "sum to recall",
            "user_groups": "equal numbers of evaluated users by training degree"},
    }
    atomic_write_json(out_dir / FILES[0], summary)
    plot_distributions([(label, angles)], out_dir / FILES[1])
    plot_groups([(label, acc)], out_dir / FILES[2])
    summary["out"] = str(out_dir)
    summary["files"] = list(FILES)
    summary["_angles"] = angles  # for combined figures; not written
    return summary


#: the numbers of the multi-run summary table: (label, path in diagnostics.json)
SUMMARY_COLUMNS = (
    ("uniformity (users)", ("representations", "users", "uniformity")),
    ("uniformity (items)", ("representations", "items", "uniformity")),
    ("alignment", ("representations", "alignment")),
    ("angle KL (items)", ("representations", "items", "angles", "kl_from_uniform")),
    ("R (items)", ("representations", "items", "angles", "mean_resultant_length")),
)


def _get(d: Any, path: Sequence[str]) -> Any:
    for p in path:
        d = d[p]
    return d


def diagnose_runs(run_dirs: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str],
                  **kwargs: Any) -> dict[str, Any]:
    """Diagnose several runs into ``out``: each into ``out/<model>-<run folder name>/``
    (:func:`diagnose_run`), plus ``diagnostics.md`` (a table of mean ± sample standard
    deviation over the runs of each model, with the run count), and the combined
    ``embedding_distribution.png`` and ``groups.png`` (the first run of each model).

    Returns:
        ``{"runs": [summary, ...], "models": {model: {column: [values]}}, "files": [...]}``.

    Raises:
        SsrecError: as :func:`diagnose_run`; two runs that would share a subfolder.
    """
    out = Path(out)
    runs = []
    seen: set[str] = set()
    for rd in run_dirs:
        rd = Path(rd)
        name = f"{_model_of(rd)}-{rd.name}"
        if name in seen:
            raise SsrecError(f"two runs would be written to {out / name}; give run folders "
                             "with distinct names per model")
        seen.add(name)
        runs.append(diagnose_run(rd, out=out / name, **kwargs))
    by_model: dict[str, list[dict[str, Any]]] = {}
    for s in runs:
        by_model.setdefault(s["model"], []).append(s)
    list_keys = [k for k in runs[0]["lists"] if k.endswith(f"@{runs[0]['groups']['k']}")]
    cols = list(SUMMARY_COLUMNS) + [(k, ("lists", k)) for k in list_keys] + [
        (f"recall@{runs[0]['groups']['k']}", ("groups", f"recall@{runs[0]['groups']['k']}"))]
    table: dict[str, dict[str, list[float]]] = {
        m: {label: [float(_get(s, path)) for s in ss] for label, path in cols}
        for m, ss in by_model.items()}
    lines = ["| model | runs | " + " | ".join(label for label, _ in cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for m, vals in table.items():
        cells = []
        for label, _ in cols:
            v = np.asarray(vals[label])
            cells.append(f"{v.mean():.4f}" + (f" ± {v.std(ddof=1):.4f}" if v.size > 1 else ""))
        lines.append(f"| {m} | {len(by_model[m])} | " + " | ".join(cells) + " |")
    split = runs[0]["split"]
    text = (f"Diagnostics of {len(runs)} runs ({split} lists; mean ± sample standard deviation "
            "over each model's runs). Definitions: `ssrec.diagnostics.representation`, "
            "`ssrec.evaluation.beyond`.\n\n" + "\n".join(lines) + "\n")
    from ssrec.utils.io import atomic_write_text

    atomic_write_text(out / "diagnostics.md", text)
    firsts = [ss[0] for ss in by_model.values()]
    angles = [(s["model"], _angles_of(s)) for s in firsts]
    plot_distributions(angles, out / FILES[1])
    plot_groups([(s["model"], s["groups"]) for s in firsts], out / FILES[2])
    return {"runs": runs, "models": table, "files": ["diagnostics.md", *FILES[1:]],
            "out": str(out)}


def _model_of(run_dir: Path) -> str:
    import yaml

    cfg = run_dir / "config.yaml"
    if not cfg.is_file():
        raise SsrecError(f"{cfg} not found; is {run_dir} a finished ssrec run folder?")
    return str(((yaml.safe_load(cfg.read_text()) or {}).get("model") or {}).get("name", "run"))


def _angles_of(summary: dict[str, Any]) -> dict[str, np.ndarray]:
    return {side: np.asarray(summary["_angles"][side]) for side in ("users", "items")}
