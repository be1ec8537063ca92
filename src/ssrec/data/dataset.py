"""Interaction data: reading, cleaning, splitting and indexing, in one deterministic pipeline.

:func:`load_dataset` turns a :class:`~ssrec.config.DataConfig` into an :class:`InteractionData`:

1. read the files (train/valid/test, or one ``all`` file) with :mod:`ssrec.data.io`;
2. drop rows whose rating is below ``rating_threshold`` (implicit feedback), counted;
3. repeated (user, item) rows (``data.dedup``): collapsed to the pair's first occurrence
   (counted; a model that masks the user's seen items cannot be asked for a re-consumed item),
   or, for sequential models, kept in time order (counted), so a re-consumed item stays in the
   history and the leave-one-out target is the real last event;
4. optional k-core filtering over all rows;
5. split (given files, per-user ratio, leave-one-out by time, or global temporal cut) and, when
   there is no validation split, hold out ``valid_ratio`` of each user's training rows at
   random, or (``valid_method="last"``) each user's latest training row;
6. remove from validation/test the pairs that are also training pairs (counted), so that test
   interactions never enter the training graph and no target is masked away (when repeats
   are kept, a re-consumed item is a real target: such pairs stay, counted);
7. build the id maps from the **training** rows only; validation/test users or items that never
   occur in training are dropped from evaluation and counted (or raise, with ``cold="error"``;
   with ``cold="keep"`` the maps cover every split and such pairs stay, counted);
8. with ``data.social``, read the user–user links and map them with the same user id map
   (:mod:`ssrec.data.social`; dropped links counted by reason);
9. with ``data.kg``, read the knowledge-graph triples (and item↔entity links) and index them
   against the same item id map (:mod:`ssrec.data.kg`; dropped triples and links counted by
   reason).

Every count lands in :attr:`InteractionData.report`, which ``ssrec data describe`` prints and
every run writes into its ``results.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ssrec.config import DataConfig
import ssrec.data.split as splits
from ssrec.data.catalog import DATASETS, DatasetSpec, locate
from ssrec.data.idmap import IdMap
from ssrec.data.interactions import Interactions
from ssrec.data.io import FileFormat, RawInteractions, read_edges, read_interactions
from ssrec.data.kg import KnowledgeGraph, build_kg, read_links, read_triples
from ssrec.data.sequence import UserSequences
from ssrec.data.social import SocialGraph, build_social
from ssrec.errors import ConfigError, DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


@dataclass(eq=False)
class InteractionData:
    """A dataset ready for training and evaluation.

    Attributes:
        name: dataset name (or path).
        users: raw user id ↔ index map (built from training interactions).
        items: raw item id ↔ index map (built from training interactions).
        train, valid, test: the splits; ``valid`` may be empty.
        report: counts of everything the pipeline dropped or changed, and the protocol used.
        social: the user–user links (:class:`~ssrec.data.social.SocialGraph`, ``[U, U]``,
            same user indices as the interactions) when loaded with ``data.social``, else
            ``None``.
        kg: the item knowledge graph (:class:`~ssrec.data.kg.KnowledgeGraph`; entities
            ``0..I-1`` are the items, same indices as the interactions) when loaded with
            ``data.kg``, else ``None``.
    """

    name: str
    users: IdMap
    items: IdMap
    train: Interactions
    valid: Interactions
    test: Interactions
    report: dict[str, Any] = field(default_factory=dict)
    social: SocialGraph | None = None
    kg: KnowledgeGraph | None = None

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def split(self, name: str) -> Interactions:
        """One split by name (``"train"``, ``"valid"`` or ``"test"``)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; use one of {SPLITS}")
        return getattr(self, name)

    def csr(self, name: str) -> sp.csr_matrix:
        """The split as a binary ``[U, I]`` CSR matrix (cached)."""
        return {"train": self.train_csr, "valid": self.valid_csr, "test": self.test_csr}[name]

    @cached_property
    def train_csr(self) -> sp.csr_matrix:
        return self.train.to_csr(self.n_users, self.n_items)

    @cached_property
    def valid_csr(self) -> sp.csr_matrix:
        return self.valid.to_csr(self.n_users, self.n_items)

    @cached_property
    def test_csr(self) -> sp.csr_matrix:
        return self.test.to_csr(self.n_users, self.n_items)

    @cached_property
    def item_popularity(self) -> np.ndarray:
        """Training interactions per item, ``int64 [I]``."""
        return np.bincount(self.train.item, minlength=self.n_items).astype(np.int64)

    @cached_property
    def norm_adj(self):
        """Symmetrically normalised bipartite adjacency ``D^-1/2 A D^-1/2`` of the training
        graph, a ``[U+I, U+I]`` torch sparse CSR tensor on the CPU (built once, cached)."""
        from ssrec.data.graph import normalized_adjacency

        return normalized_adjacency(self.train.user, self.train.item, self.n_users, self.n_items)

    @cached_property
    def sequences(self):
        """Time-ordered user histories for sequential models, a
        :class:`~ssrec.data.sequence.UserSequences` (built once, cached)."""
        return UserSequences({s: self.split(s) for s in SPLITS}, self.n_users, self.n_items)

    def describe(self) -> dict[str, Any]:
        """Statistics per split plus the pipeline report (JSON-serialisable).

        ``train`` is the training data as the dataset defines it (for a validation set carved
        out of it, the union of ``fit`` and ``valid``); ``fit`` is what models are fitted on;
        ``valid`` and ``test`` are the evaluation splits after dropping cold users/items.
        """
        def stats(u: np.ndarray, i: np.ndarray) -> dict[str, Any]:
            return {
                "interactions": int(u.size),
                "users": int(np.unique(u).size),
                "items": int(np.unique(i).size),
                "density": u.size / (self.n_users * self.n_items) if self.n_users else 0.0,
            }

        carved = self.report.get("split", {}).get("validation", {}).get("method") in \
            ("holdout_from_train", "last_from_train")
        tu = np.concatenate([self.train.user, self.valid.user]) if carved else self.train.user
        ti = np.concatenate([self.train.item, self.valid.item]) if carved else self.train.item
        return {
            "dataset": self.name,
            "users": self.n_users,
            "items": self.n_items,
            "train": stats(tu, ti),
            "test": stats(self.test.user, self.test.item),
            "valid": {**stats(self.valid.user, self.valid.item), "carved_from_train": carved},
            "fit": stats(self.train.user, self.train.item),
            "social": self.report.get("social"),
            "kg": self.report.get("kg"),
            "report": self.report,
        }


# ---------------------------------------------------------------------------------------------


SOCIAL_PREFIXES = ("social", "trust", "friend", "link")


def _is_kg_file(name: str) -> str | None:
    """``"kg"`` for a triples file in a dataset folder (``kg*`` or ``*.kg``), ``"link"`` for an
    item↔entity link file (``*.link``), else None."""
    n = name.lower()
    if n.endswith(".link"):
        return "link"
    if n.startswith("kg") or n.endswith(".kg"):
        return "kg"
    return None


def _kg_datasets() -> str:
    return ", ".join(n for n in DATASETS.names() if "kg" in DATASETS.get(n).roles)


def _social_datasets() -> str:
    return ", ".join(n for n in DATASETS.names() if "social" in DATASETS.get(n).roles)


def _resolve_files(cfg: DataConfig) -> tuple[str, DatasetSpec | None, dict[str, tuple[Path, FileFormat]]]:
    """``(name, spec or None, {role: (path, format)})`` for a registered name or a path.

    The ``"social"`` role (user–user links) is included only when ``cfg.social`` is set.

    Raises:
        ConfigError: ``cfg.social`` is set but the dataset has no social file.
    """
    try:
        fmt_override = FileFormat(kind=cfg.format, sep=cfg.sep)
    except ValueError as exc:
        raise ConfigError(f"data.sep: {exc}") from None
    if cfg.dataset in DATASETS:
        spec = DATASETS.get(cfg.dataset)
        if cfg.social and "social" not in spec.roles:
            raise ConfigError(f"data.social is set but dataset {spec.name!r} has no social "
                              f"(user-user) file; datasets with one: {_social_datasets()}")
        if cfg.kg and "kg" not in spec.roles:
            raise ConfigError(f"data.kg is set but dataset {spec.name!r} has no knowledge "
                              f"graph; datasets with one: {_kg_datasets()}")
        roles = tuple(r for r in spec.roles if (r != "social" or cfg.social)
                      and (r not in ("kg", "link") or cfg.kg))
        paths = locate(spec, cfg.data_dir, roles=roles, verify=cfg.verify_checksums)
        fmts = {f.role: f.format for f in spec.files}
        return spec.name, spec, {r: (p, fmts[r]) for r, p in paths.items()}
    p = Path(cfg.dataset).expanduser()
    if p.is_file():
        if cfg.kg:
            raise ConfigError(f"data.kg is set but data.dataset {str(p)!r} is a single file; "
                              "put the interactions and a kg.txt (head relation tail) file, and "
                              "optionally an item-entity *.link file, into one folder and pass "
                              "the folder")
        if cfg.social:
            raise ConfigError(f"data.social is set but data.dataset {str(p)!r} is a single file; "
                              "put the interactions and a social.txt (user friend [weight]) "
                              "file into one folder and pass the folder")
        return str(p), None, {"all": (p, fmt_override)}
    if p.is_dir():
        found: dict[str, tuple[Path, FileFormat]] = {}
        prefixes = {"train": ("train",), "valid": ("valid", "val."), "test": ("test",),
                    "social": SOCIAL_PREFIXES}
        files = [f for f in sorted(p.iterdir())
                 if f.is_file() and not f.name.lower().endswith(".md")]
        kg_files = {}
        for f in files:
            kind = _is_kg_file(f.name)
            if kind and kind not in kg_files:
                kg_files[kind] = f
        files = [f for f in files if not _is_kg_file(f.name)]
        if cfg.kg and "kg" not in kg_files:
            raise ConfigError(f"data.kg is set but folder {p} has no knowledge-graph file (kg* "
                              "or *.kg, 'head relation tail' per line)")
        for f in files:
            for role, pre in prefixes.items():
                if role not in found and f.name.lower().startswith(pre):
                    found[role] = (f, fmt_override)
        social = found.pop("social", None)
        if cfg.social and social is None:
            raise ConfigError(f"data.social is set but folder {p} has no social file (a file "
                              f"named {'*, '.join(SOCIAL_PREFIXES)}* holding 'user friend "
                              "[weight]' lines)")
        if "train" not in found:
            data_files = [f for f in files if not f.name.lower().startswith(SOCIAL_PREFIXES)]
            if len(data_files) == 1:
                found = {"all": (data_files[0], fmt_override)}
            else:
                raise DataError("folder has no train* file (and not exactly one data file); "
                                "name the files train.txt / test.txt [/ valid.txt] or pass one "
                                "file", str(p))
        if cfg.social and social is not None:
            found["social"] = (social[0], FileFormat(kind="pairs", sep=fmt_override.sep))
        if cfg.kg:
            found.update({k: (f, FileFormat()) for k, f in kg_files.items()})
        return str(p), None, found
    known = ", ".join(DATASETS.names())
    raise ConfigError(f"data.dataset: {cfg.dataset!r} is neither a registered dataset ({known}) "
                      "nor an existing file or folder")


def _default_split(spec: DatasetSpec | None, roles: Iterable[str], sequential: bool = False
                   ) -> str:
    if "test" in roles:
        return "given"
    if sequential:
        return "loo"
    return spec.default_split if spec is not None else "ratio"


def resolve_default_split(cfg: DataConfig, sequential: bool = False) -> str:
    """What ``data.split="default"`` means for this dataset: ``"given"`` when it ships a test
    file; otherwise leave-one-out (``"loo"``) for sequential models, else the registry's split
    for a registered dataset and ``"ratio"`` for a path. Other values are returned as they are.

    Raises:
        DataError: the dataset cannot be found.
    """
    if cfg.split != "default":
        return cfg.split
    if cfg.dataset in DATASETS:
        spec = DATASETS.get(cfg.dataset)
        return _default_split(spec, spec.roles, sequential)
    _, spec, files = _resolve_files(cfg.model_copy(update={"social": False}))
    return _default_split(spec, files, sequential)


def has_kg_file(cfg: DataConfig) -> bool:
    """Whether the dataset named by ``cfg`` has a knowledge graph (a registered "kg" file, or a
    ``kg*``/``*.kg`` file in a dataset folder)."""
    if cfg.dataset in DATASETS:
        return "kg" in DATASETS.get(cfg.dataset).roles
    p = Path(cfg.dataset).expanduser()
    return p.is_dir() and any(f.is_file() and _is_kg_file(f.name) == "kg" for f in p.iterdir())


def has_social_file(cfg: DataConfig) -> bool:
    """Whether the dataset named by ``cfg`` has a user–user file (a registered "social" file, or
    a ``social*``/``trust*``/``friend*``/``link*`` file in a dataset folder)."""
    if cfg.dataset in DATASETS:
        return "social" in DATASETS.get(cfg.dataset).roles
    p = Path(cfg.dataset).expanduser()
    return p.is_dir() and any(f.is_file() and f.name.lower().startswith(SOCIAL_PREFIXES)
                              for f in p.iterdir())


@dataclass
class _Table:
    """Rows of one file with globally interned integer ids (internal)."""

    u: np.ndarray
    i: np.ndarray
    r: np.ndarray | None
    t: np.ndarray | None
    order: np.ndarray

    def take(self, idx: np.ndarray) -> _Table:
        return _Table(self.u[idx], self.i[idx], None if self.r is None else self.r[idx],
                      None if self.t is None else self.t[idx], self.order[idx])

    @staticmethod
    def cat(parts: list[_Table]) -> _Table:
        def c(a: str):
            arrs = [getattr(p, a) for p in parts]
            return None if any(x is None for x in arrs) else np.concatenate(arrs)

        return _Table(np.concatenate([p.u for p in parts]), np.concatenate([p.i for p in parts]),
                      c("r"), c("t"), np.concatenate([p.order for p in parts]))


def _dedup(tab: _Table, n_items: int, collapse: bool = True) -> tuple[_Table, int]:
    """Repeated (user, item) rows of ``tab``: with ``collapse`` each pair keeps only its first
    row in the file, else every row is kept. Returns the table and the number of repeats (rows
    after a pair's first)."""
    key = tab.u * n_items + tab.i
    _, first = np.unique(key, return_index=True)
    repeats = int(key.size - first.size)
    if not repeats or not collapse:
        return tab, repeats
    first.sort()
    return tab.take(first), repeats


def _say(report: dict[str, Any], level: str, message: str) -> None:
    """Log a note about the data once and keep it in ``report["notes"]`` (``level``:
    ``"info"`` or ``"warning"``), where ``ssrec data describe`` and ``results.json`` show it."""
    report.setdefault("notes", []).append({"level": level, "message": message})
    log.log(logging.WARNING if level == "warning" else logging.INFO, "%s", message)


def _some_lines(lines: list[int], n: int = 5) -> str:
    return ", ".join(map(str, lines[:n])) + (", ..." if len(lines) > n else "")


def load_dataset(cfg: DataConfig | None = None, seed: int = 2020, require_test: bool = True,
                 **kwargs: Any) -> InteractionData:
    """Load, clean, split and index a dataset.

    Besides the counts of every step, ``report`` holds ``read`` (rows, distinct users and items
    read, after the rating threshold), ``layout`` (how each file was read), ``notes`` (the
    messages logged once: ratings read without a threshold, adjacency lines naming no item,
    users without a test or validation target, an empty test split) and
    ``users_without_target`` (``{"valid": n, "test": n}``).

    Args:
        cfg: the data section of a run config; ``kwargs`` are shortcuts for its fields when
            ``cfg`` is None (``load_dataset(dataset="gowalla", data_dir="...")``).
        seed: seeds the random splits (ratio split, validation hold-out).
        require_test: raise when the test split ends up empty (default); ``False`` reports it
            as a warning note instead (to describe a file whose split is impossible).

    Returns:
        The :class:`InteractionData`.

    Raises:
        DataError: missing, corrupted or malformed files, or empty results.
        ConfigError: options that do not fit the data (a rating threshold on a file without
            ratings, a time split without timestamps, ...).
    """
    if cfg is None:
        cfg = DataConfig(**kwargs)
    elif kwargs:
        cfg = cfg.model_copy(update=kwargs)
    name, spec, files = _resolve_files(cfg)
    report: dict[str, Any] = {"files": {r: str(p) for r, (p, _) in files.items()}}
    social_file = files.pop("social", None)
    kg_file, link_file = files.pop("kg", None), files.pop("link", None)

    raws: dict[str, RawInteractions] = {}
    # read in time order (train, valid, test): ``order`` then follows it across files
    for role in sorted(files, key=lambda r: ("all", "train", "valid", "test").index(r)):
        path, fmt = files[role]
        raws[role] = read_interactions(path, fmt)
    report["rows_read"] = {r: len(x) for r, x in raws.items()}
    report["layout"] = {r: x.layout for r, x in raws.items()}
    negatives = {r: x.negatives_skipped for r, x in raws.items() if x.negatives_skipped}
    if negatives:
        report["label_negatives_skipped"] = negatives
        _say(report, "info", f"{name}: skipped {sum(negatives.values())} label-0 rows (sampled "
             "negatives of the file, not interactions)")
    for role, raw in raws.items():
        if raw.lines_without_items:
            empty = list(raw.lines_without_items)
            report.setdefault("lines_without_items", {})[role] = len(empty)
            _say(report, "warning", f"{raw.path}: {len(empty)} line(s) name a user and no item "
                 f"(line {_some_lines(empty)}): no interaction comes from them")

    # -- 2. rating threshold --------------------------------------------------------------
    report["rating_threshold"] = cfg.rating_threshold
    if cfg.rating_threshold is not None:
        below = {}
        for role, raw in raws.items():
            if raw.rating is None:
                raise ConfigError(f"data.rating_threshold is set but {raw.path} has no rating "
                                  "column")
            keep = raw.rating >= cfg.rating_threshold
            below[role] = int((~keep).sum())
            raws[role] = raw.take(np.flatnonzero(keep))
        report["below_threshold"] = below
    else:
        rated = [x.path if x.path == name else Path(x.path).name
                 for x in raws.values() if x.rating is not None]
        if rated:
            _say(report, "info", ("" if rated == [name] else f"{name}: ") + f"{', '.join(rated)} "
                 f"{'has a rating column' if len(rated) == 1 else 'have rating columns'} but "
                 "data.rating_threshold is not set, so every row counts as a positive (set "
                 "data.rating_threshold to keep only the rows rated at or above it)")

    # -- intern raw ids globally (all files) -------------------------------------------------
    roles = list(raws)
    all_u = np.concatenate([raws[r].user for r in roles])
    all_i = np.concatenate([raws[r].item for r in roles])
    u_vocab, u_codes = np.unique(all_u, return_inverse=True)
    i_vocab, i_codes = np.unique(all_i, return_inverse=True)
    u_codes = u_codes.reshape(-1).astype(np.int64)
    i_codes = i_codes.reshape(-1).astype(np.int64)
    n_i_codes = max(int(i_vocab.size), 1)
    report["read"] = {"rows": int(all_u.size), "users": int(u_vocab.size),
                      "items": int(i_vocab.size)}
    tables: dict[str, _Table] = {}
    offset = 0
    for r in roles:
        raw = raws[r]
        n = len(raw)
        sl = slice(offset, offset + n)
        tables[r] = _Table(u_codes[sl], i_codes[sl], raw.rating, raw.timestamp,
                           np.arange(offset, offset + n, dtype=np.int64))
        offset += n

    # -- 3. duplicates -------------------------------------------------------------------------
    collapse = cfg.dedup is not False  # "auto" without a model (see DataConfig.dedup)
    dups = {}
    for r in roles:
        tables[r], dups[r] = _dedup(tables[r], n_i_codes, collapse)
    report["dedup"] = collapse
    report["duplicates_collapsed"] = dups if collapse else {r: 0 for r in dups}
    if not collapse:
        report["repeats_kept"] = dups

    # -- split strategy --------------------------------------------------------------------------
    method = cfg.split
    if method == "default":
        method = _default_split(spec, tables)
    if method == "given" and "test" not in tables:
        raise ConfigError(f"data.split=given needs a test file, but {name} has only "
                          f"{', '.join(roles)}; use split=ratio, loo or temporal")
    if method != "given":
        parts = [tables[r] for r in ("all", "train", "valid", "test") if r in tables]
        merged = _Table.cat(parts)
        merged, cross = _dedup(merged, n_i_codes, collapse)
        if not collapse:  # kept rows: only the repeats that span two files are new
            cross -= sum(dups.values())
        if cross:
            dups["across_files"] = cross
        tables = {"all": merged}

    # -- 4. k-core -----------------------------------------------------------------------------
    if cfg.k_core > 1:
        allt = _Table.cat(list(tables.values()))
        keep = splits.k_core(allt.u, allt.i, cfg.k_core)
        kept_orders = allt.order[keep]
        for r in list(tables):
            tables[r] = tables[r].take(np.flatnonzero(np.isin(tables[r].order, kept_orders)))
        report["k_core"] = {"k": cfg.k_core, "interactions_removed": int((~keep).sum())}

    # -- 5. split ------------------------------------------------------------------------------
    rng = np.random.default_rng([seed, 17])
    if method == "given":
        train = tables["train"]
        valid = tables.get("valid")
        test = tables["test"]
        split_desc: dict[str, Any] = {"method": "given"}
    else:
        allt = tables["all"]
        if method == "ratio":
            labels = splits.ratio_split(allt.u, cfg.ratios, rng)
            split_desc = {"method": "ratio", "ratios": list(cfg.ratios), "per_user": True}
        elif method == "loo":
            labels = splits.leave_one_out(allt.u, allt.t)
            split_desc = {"method": "loo", "time_order": "timestamp, ties by file order"
                          if allt.t is not None else "file order (no timestamps)"}
        elif method == "temporal":
            if allt.t is None:
                raise ConfigError(f"data.split=temporal needs timestamps, but {name} has none")
            labels = splits.temporal_split(allt.t, cfg.ratios)
            split_desc = {"method": "temporal", "ratios": list(cfg.ratios)}
        else:  # pragma: no cover - Literal guards this
            raise ConfigError(f"unknown split {method!r}")
        train = allt.take(np.flatnonzero(labels == splits.TRAIN))
        test = allt.take(np.flatnonzero(labels == splits.TEST))
        has_valid = method == "loo" or cfg.ratios[1] > 0
        valid = allt.take(np.flatnonzero(labels == splits.VALID)) if has_valid else None
    # -- 6. evaluation pairs that are also training pairs (before the hold-out) -----------
    train_keys = np.unique(train.u * n_i_codes + train.i)
    overlap = {}
    dup = np.isin(test.u * n_i_codes + test.i, train_keys)
    overlap["test"] = int(dup.sum())
    if collapse:
        test = test.take(np.flatnonzero(~dup))
    if valid is not None:
        dup = np.isin(valid.u * n_i_codes + valid.i, train_keys)
        overlap["valid"] = int(dup.sum())
        dup |= np.isin(valid.u * n_i_codes + valid.i, test.u * n_i_codes + test.i)
        overlap["valid_also_in_test"] = int(dup.sum()) - overlap["valid"]
        if collapse:
            valid = valid.take(np.flatnonzero(~dup))
    if collapse:
        report["removed_pairs_also_in_train"] = overlap
    else:  # kept repeats: a re-consumed item is a real target, so these pairs stay
        report["removed_pairs_also_in_train"] = {k: 0 for k in overlap}
        report["targets_also_in_train"] = overlap

    # -- validation hold-out -------------------------------------------------------------
    if valid is None:
        if cfg.valid_ratio > 0 and cfg.valid_method == "last":
            mask = splits.last_per_user(train.u, train.t, train.order)
            valid = train.take(np.flatnonzero(mask))
            train = train.take(np.flatnonzero(~mask))
            split_desc["validation"] = {
                "method": "last_from_train",
                "time_order": "timestamp, ties by file order" if train.t is not None
                else "file order (no timestamps)",
                "carved_from_train": int(mask.sum())}
        elif cfg.valid_ratio > 0:
            mask = splits.holdout(train.u, train.i, cfg.valid_ratio,
                                  np.random.default_rng([seed, 23]))
            valid = train.take(np.flatnonzero(mask))
            train = train.take(np.flatnonzero(~mask))
            split_desc["validation"] = {"method": "holdout_from_train", "ratio": cfg.valid_ratio,
                                        "per_user": True, "seed": seed,
                                        "carved_from_train": int(mask.sum())}
        else:
            valid = train.take(np.array([], dtype=np.int64))
            split_desc["validation"] = {"method": "none"}
    else:
        split_desc["validation"] = {"method": method}
    report["split"] = split_desc

    if len(train.u) == 0:
        raise DataError("no training interactions left after filtering", name)

    # -- 7. id maps from training, cold users/items ---------------------------------------------
    # with cold="keep" the maps also cover the evaluation splits' users and items (an id and an
    # untrained embedding each); the training codes come first in the concatenation
    known = [train] + ([valid, test] if cfg.cold == "keep" else [])
    users, cu = IdMap.from_values(u_vocab[np.concatenate([t.u for t in known])])
    items, ci = IdMap.from_values(i_vocab[np.concatenate([t.i for t in known])])
    tu, ti = cu[:train.u.size], ci[:train.i.size]
    u_lookup = np.full(u_vocab.size, -1, dtype=np.int64)
    u_lookup[np.concatenate([t.u for t in known])] = cu
    i_lookup = np.full(i_vocab.size, -1, dtype=np.int64)
    i_lookup[np.concatenate([t.i for t in known])] = ci

    def index(tab: _Table, sname: str) -> Interactions:
        uu = u_lookup[tab.u]
        ii = i_lookup[tab.i]
        cold_u = ~np.isin(tab.u, train.u)
        cold_i = ~np.isin(tab.i, train.i)
        cold = cold_u | cold_i
        report.setdefault("cold", {})[sname] = {
            "users": int(np.unique(tab.u[cold_u]).size),
            "items": int(np.unique(tab.i[cold_i]).size),
            "interactions": int(cold.sum()),
            "kept": cfg.cold == "keep",
        }
        bad = cold if cfg.cold != "keep" else np.zeros(cold.shape, dtype=bool)
        if bad.any() and cfg.cold == "error":
            raise DataError(
                f"{int(bad.sum())} {sname} interactions involve users or items never seen in "
                f"training ({report['cold'][sname]['users']} users, "
                f"{report['cold'][sname]['items']} items); set data.cold=drop to drop them", name)
        keep = np.flatnonzero(~bad)
        return Interactions(uu[keep], ii[keep], None if tab.t is None else tab.t[keep],
                            tab.order[keep])

    train_i = Interactions(tu, ti, train.t, train.order)
    valid_i = index(valid, "valid")
    test_i = index(test, "test")
    # a dropped cold validation pair also leaves the test-time input of a sequential model
    # (its history is training + validation items): count the users who lose one
    if cfg.cold != "keep" and report["cold"]["valid"]["interactions"]:
        vcold = ~np.isin(valid.u, train.u) | ~np.isin(valid.i, train.i)
        tested = np.isin(valid.u, test.u)
        lost = vcold & tested
        report["cold"]["valid"]["test_input"] = {
            "interactions": int(lost.sum()), "users": int(np.unique(valid.u[lost]).size)}
        if lost.any():
            _say(report, "warning", f"{name}: {int(lost.sum())} validation interactions of "
                 f"{int(np.unique(valid.u[lost]).size)} test users involve items (or users) "
                 "never seen in training and are dropped, so they are also missing from those "
                 "users' test-time input (the history sequential models read: training + "
                 "validation items); data.cold=keep keeps them (an id and an untrained "
                 "embedding each)")
    without = {"test": len(users) - int(np.unique(test_i.user).size)}
    if split_desc["validation"]["method"] != "none":
        without["valid"] = len(users) - int(np.unique(valid_i.user).size)
    report["users_without_target"] = without
    # why: too few events for the split (no pair at all), or its target(s) dropped as cold
    reasons = {}
    for sname, tab in (("test", test), ("valid", valid)):
        if sname not in without:
            continue
        had = int(np.unique(u_lookup[tab.u][u_lookup[tab.u] >= 0]).size)
        reasons[sname] = {"no_target_in_split": len(users) - had,
                          "target_dropped_as_cold": without[sname] - (len(users) - had)}
    report["users_without_target_reason"] = reasons
    if any(without.values()):
        _say(report, "info", f"{name}: users without a " + "; without a ".join(
            f"{'validation' if s == 'valid' else s} target: {n} of {len(users)} ("
            f"{reasons[s]['no_target_in_split']} with none in the split: too few events, e.g. "
            "1-2 under leave-one-out, or none in a given file; "
            f"{reasons[s]['target_dropped_as_cold']} whose target was dropped as cold)"
            for s, n in without.items() if n) +
            "; they are not scored there")
    if len(test_i) == 0:
        why = ("the test split is empty after dropping cold users/items" if test.u.size else
               f"the {split_desc['method']} split leaves no test interaction (too few "
               "interactions per user)")
        if require_test:
            raise DataError(why, name)
        _say(report, "warning", f"{name}: {why}: no model can be tested with this split")
    cold = report["cold"]
    for s in ("valid", "test"):
        if cold[s]["interactions"] and cfg.cold == "keep":
            log.info("%s: kept %d %s interactions of %d users / %d items never seen in "
                     "training (data.cold=keep)", name, cold[s]["interactions"], s,
                     cold[s]["users"], cold[s]["items"])
        elif cold[s]["interactions"]:
            log.warning("%s: dropped %d %s interactions of %d users / %d items never seen in "
                        "training", name, cold[s]["interactions"], s, cold[s]["users"],
                        cold[s]["items"])

    social = None
    if social_file is not None:
        spath, sfmt = social_file
        social, report["social"] = build_social(read_edges(spath, sfmt.sep), users,
                                                cfg.social_symmetric)
        drops = report["social"]["dropped"]
        if any(drops.values()):
            log.info("%s: dropped social links: %d to/from users without training "
                     "interactions, %d self links, %d repeats", name, drops["unknown_user"],
                     drops["self_link"], drops["duplicate"])

    kg = None
    if kg_file is not None:
        kg, report["kg"] = build_kg(read_triples(kg_file[0]), items,
                                    read_links(link_file[0]) if link_file else None,
                                    inverse=cfg.kg_inverse)
        unlinked = ~kg.linked_items()
        report["kg"]["unlinked_item_train_interactions"] = int(unlinked[train_i.item].sum())
        d, lk = report["kg"]["dropped"], report["kg"]["links"]["dropped"]
        log.info("%s: knowledge graph: %d triples, %d entities, %d relations; dropped %d "
                 "self-loops, %d repeated and %d dangling triples; %d of %d items linked "
                 "(link rows dropped: %s)", name, kg.n_triples, kg.n_entities, kg.n_relations,
                 d["self_loop"], d["duplicate"], d["dangling"], report["kg"]["linked_items"],
                 kg.n_items, lk)

    return InteractionData(name=name, users=users, items=items, train=train_i, valid=valid_i,
                           test=test_i, report=report, social=social, kg=kg)
