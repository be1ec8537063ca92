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
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ssrec.config import DataConfig
import ssrec.data.split as splits
from ssrec.data.behavior import MultiBehavior, overlap_counts
from ssrec.data.catalog import DATASETS, DatasetSpec, locate
from ssrec.data.idmap import IdMap
from ssrec.data.interactions import Interactions
from ssrec.data.io import (FileFormat, RawInteractions, behavior_columns, read_edges,
                           read_interactions)
from ssrec.data.kg import KnowledgeGraph, build_kg, read_links, read_triples
from ssrec.data.sequence import UserSequences
from ssrec.data.social import SocialGraph, build_social
from ssrec.errors import ConfigError, DataError
from ssrec.utils import arrays

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
        behaviors: every behaviour's training rows (:class:`~ssrec.data.behavior.MultiBehavior`,
            same indices) on multi-behaviour data, else ``None``; ``train`` is then the target
            behaviour's training rows.
        behavior_graph: ``"target"`` or ``"merged"``: the graph :attr:`norm_adj` is built from
            on multi-behaviour data (``data.behavior_graph``).
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
    behaviors: MultiBehavior | None = None
    behavior_graph: str = "target"

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
        graph, a ``[U+I, U+I]`` torch sparse CSR tensor on the CPU (built once, cached). On
        multi-behaviour data: the target behaviour's graph, or with ``behavior_graph="merged"``
        the graph of the pairs of every behaviour."""
        from ssrec.data.graph import normalized_adjacency

        if self.behaviors is not None and self.behavior_graph == "merged":
            # every behaviour's pairs as one graph; the training positives stay the target's
            return self.behaviors.norm_adj(None)
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
                "users": arrays.n_distinct(u),
                "items": arrays.n_distinct(i),
                "density": u.size / (self.n_users * self.n_items) if self.n_users else 0.0,
            }

        carved = self.report.get("split", {}).get("validation", {}).get("method") in \
            ("holdout_from_train", "last_from_train", "one_from_train")
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
            "behaviors": self.report.get("behaviors"),
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
    if cfg.behaviors is not None and cfg.behavior_column is None:
        raise ConfigError("data.behaviors lists the values of a behaviour column, but "
                          "data.behavior_column is not set (name the column, e.g. "
                          "data.behavior_column=3 for `user item behavior [timestamp]` lines)")
    if cfg.behavior_column is not None:
        return _resolve_column_layout(cfg, fmt_override)
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
        target = _target_behavior(cfg, spec.behaviors, spec.target_behavior, spec.name)
        paths = locate(spec, cfg.data_dir, roles=roles, verify=cfg.verify_checksums)
        fmts = {f.role: f.format for f in spec.files}
        return spec.name, spec, {_behavior_role(r, target): (p, fmts[r])
                                 for r, p in paths.items()}
    p = Path(cfg.dataset).expanduser()
    if p.is_file():
        _target_behavior(cfg, (), None, str(p))
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
        behaviors = _behavior_files(p)
        if len(behaviors) >= 2:
            target = _target_behavior(cfg, tuple(behaviors), "buy", str(p))
            tests = [f for f in sorted(p.iterdir()) if f.is_file()
                     and f.name.lower().startswith("test")]
            if not tests:
                names = ", ".join(f.name for f in behaviors.values())
                raise DataError(f"multi-behaviour folder (files {names}) has no test* file of "
                                f"the target behaviour {target!r}", str(p))
            out = {_behavior_role(f"train:{b}", target): (f, fmt_override)
                   for b, f in behaviors.items()}
            out["test"] = (tests[0], fmt_override)
            return str(p), None, out
        _target_behavior(cfg, (), None, str(p))
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


def _resolve_column_layout(cfg: DataConfig, fmt: FileFormat
                           ) -> tuple[str, None, dict[str, tuple[Path, FileFormat]]]:
    """``_resolve_files`` for ``data.behavior_column``: a folder holding one ``train*`` file
    with a behaviour column and a ``test*`` file of the target behaviour (which may have the
    column too).

    Raises:
        ConfigError: a registered dataset, a single file, or a folder of ``train_<behaviour>``
            files.
        DataError: the folder lacks the train or the test file.
    """
    col = cfg.behavior_column
    assert col is not None
    hint = ("a folder holding one train* file with the behaviour column and a test* file of "
            "the target behaviour's held-out rows")
    if cfg.dataset in DATASETS:
        raise ConfigError(f"data.behavior_column is set, but {cfg.dataset!r} is a registered "
                          "dataset with its own files; the behaviour column applies to a "
                          f"dataset given as {hint}")
    p = Path(cfg.dataset).expanduser()
    if p.is_file():
        raise ConfigError(f"data.behavior_column is set, but data.dataset {str(p)!r} is a single "
                          f"file; multi-behaviour data is tested on the target behaviour's own "
                          f"test file: pass {hint}")
    if not p.is_dir():
        raise ConfigError(f"data.dataset: {cfg.dataset!r} is neither a registered dataset nor "
                          "an existing file or folder")
    per_file = _behavior_files(p)
    if len(per_file) >= 2:
        raise ConfigError(f"data.behavior_column is set, but folder {p} holds one file per "
                          f"behaviour ({', '.join(f.name for f in per_file.values())}); use one "
                          "layout: unset data.behavior_column, or keep one train* file with "
                          "the column")
    files = [f for f in sorted(p.iterdir()) if f.is_file()
             and not f.name.lower().endswith(".md") and not _is_kg_file(f.name)]
    train = next((f for f in files if f.name.lower().startswith("train")), None)
    test = next((f for f in files if f.name.lower().startswith("test")), None)
    if train is None or test is None:
        raise DataError(f"data.behavior_column is set, but the folder has no "
                        f"{'train*' if train is None else 'test*'} file; it must hold {hint}",
                        str(p))
    columns = behavior_columns(col) if isinstance(col, int) else fmt.columns
    train_fmt = replace(fmt, columns=columns, behavior=col)
    return str(p), None, {"train": (train, train_fmt),
                          "test": (test, replace(train_fmt, behavior_optional=True))}


def _split_behavior_column(cfg: DataConfig, raws: dict[str, RawInteractions],
                           report: dict[str, Any], name: str
                           ) -> tuple[tuple[str, ...], str, dict[str, RawInteractions]]:
    """Split the rows of a file with a behaviour column into the target behaviour's
    (``raws["train"]``, replaced) and the auxiliary behaviours' (returned), exactly the rows
    ``train_<behaviour>`` files would hold, in file order.

    Returns:
        ``(behaviour names in cascade order, target, {auxiliary behaviour: rows})``.

    Raises:
        DataError: a value outside ``data.behaviors``, one behaviour only, a listed behaviour
            without rows, or a test row of another behaviour (named by file and line).
        ConfigError: ``data.target_behavior`` is not among the behaviours.
    """
    raw = raws["train"]
    assert raw.behavior is not None  # the reader refuses a file without the column
    values = raw.behavior
    found = list(dict.fromkeys(values.tolist()))  # first appearance order
    if cfg.behaviors is not None:
        known = set(cfg.behaviors)
        bad = np.flatnonzero(~np.isin(values, list(known)))
        if bad.size:
            k = int(bad[0])
            raise DataError(f"behaviour {str(values[k])!r} ({raw.behavior_field}) is not one of "
                            f"data.behaviors: {', '.join(cfg.behaviors)}"
                            + (f" ({bad.size} such rows)" if bad.size > 1 else ""),
                            raw.path, int(raw.line[k]))
        absent = [b for b in cfg.behaviors if b not in set(found)]
        if absent:
            raise DataError(f"data.behaviors lists {', '.join(map(repr, absent))}, but no row "
                            f"has it in the behaviour column ({raw.behavior_field})", raw.path)
        names = cfg.behaviors
    else:
        names = _funnel_order(found)
    if len(names) < 2:
        raise DataError(f"the behaviour column ({raw.behavior_field}) holds one behaviour only "
                        f"({names[0]!r}); multi-behaviour data needs two or more (or unset "
                        "data.behavior_column to read the file as single-behaviour data)",
                        raw.path)
    target = _target_behavior(cfg, names, "buy", name)
    assert target is not None
    test = raws.get("test")
    if test is not None and test.behavior is not None:
        other = np.flatnonzero(test.behavior != target)
        if other.size:
            k = int(other[0])
            raise DataError(f"behaviour {str(test.behavior[k])!r} ({test.behavior_field}): the "
                            f"test file holds the target behaviour's held-out rows, so every row "
                            f"must be {target!r}" + (f" ({other.size} rows are not)"
                                                     if other.size > 1 else ""),
                            test.path, int(test.line[k]))
    rows = {b: raw.take(np.flatnonzero(values == b)) for b in names}
    raws["train"] = rows[target]
    counts = ", ".join(f"{b} {len(rows[b])}" for b in names)
    report["behavior_column"] = {"file": raw.path, "field": raw.behavior_field,
                                 "rows": {b: len(rows[b]) for b in names}}
    report["layout"]["train"] = (f"{report['layout']['train']}; behaviour {raw.behavior_field}: "
                                 f"{counts} rows (target {target})")
    return names, target, {b: rows[b] for b in names if b != target}


BEHAVIOR_FILE_PREFIX = "train_"


#: the purchase funnel, earliest first: behaviours of a dataset folder with these names are
#: ordered by it (the cascade order of MB-CGCN), other names after them by file name
FUNNEL = ("view", "pv", "click", "fav", "collect", "cart", "buy", "purchase")


def _hold_out_of_auxiliary(cfg: DataConfig, aux: dict[str, _Table], valid: _Table,
                           test: _Table, n_items: int, desc: dict[str, Any]) -> None:
    """Remove the validation pairs from the auxiliary behaviours' rows in place when
    ``data.valid_auxiliary`` says so (``"auto"``: when no test pair occurs in them), and record
    the choice and the removed rows per behaviour in ``desc``."""
    test_keys = test.u * n_items + test.i
    mode = cfg.valid_auxiliary
    if mode == "auto":
        in_aux = any(arrays.isin(test_keys, t.u * n_items + t.i).any() for t in aux.values())
        mode = "keep" if in_aux or not len(test_keys) else "drop"
    desc["auxiliary"] = mode
    if mode == "keep":
        return
    valid_keys = valid.u * n_items + valid.i
    removed = {}
    for b, t in aux.items():
        hit = arrays.isin(t.u * n_items + t.i, valid_keys)
        removed[b] = int(hit.sum())
        aux[b] = t.take(np.flatnonzero(~hit))
    desc["auxiliary_rows_removed"] = removed


def _behavior_files(folder: Path) -> dict[str, Path]:
    """``{behaviour: file}`` for the ``train_<behaviour>.*`` files of a dataset folder, in
    funnel order (:data:`FUNNEL`; other names after, by file name)."""
    out: dict[str, Path] = {}
    for f in sorted(folder.iterdir()):
        n = f.name
        if f.is_file() and n.lower().startswith(BEHAVIOR_FILE_PREFIX) and not n.endswith(".md"):
            b = n[len(BEHAVIOR_FILE_PREFIX):].split(".", 1)[0]
            if b and b not in out:
                out[b] = f
    return {b: out[b] for b in _funnel_order(list(out))}


def _funnel_order(names: list[str]) -> tuple[str, ...]:
    """``names`` in :data:`FUNNEL` order (case-insensitive), the other names after them,
    sorted."""
    def rank(b: str) -> tuple[int, str]:
        return (FUNNEL.index(b.lower()) if b.lower() in FUNNEL else len(FUNNEL), b)
    return tuple(sorted(names, key=rank))


def _target_behavior(cfg: DataConfig, behaviors: tuple[str, ...], default: str | None,
                     where: str) -> str | None:
    """The target behaviour of a dataset with ``behaviors`` (``None`` for single-behaviour
    data).

    Raises:
        ConfigError: ``data.target_behavior`` names no behaviour of the data, or is set on
            single-behaviour data.
    """
    if not behaviors:
        if cfg.target_behavior is not None:
            raise ConfigError(f"data.target_behavior={cfg.target_behavior!r} is set but {where} "
                              "has one behaviour (multi-behaviour data has one training file "
                              "per behaviour: a registered *-mb dataset, or a folder of "
                              "train_<behaviour>.txt files and a test file)")
        return None
    target = cfg.target_behavior or default
    if target not in behaviors:
        raise ConfigError(f"data.target_behavior: {where} has no behaviour {target!r}; its "
                          f"behaviours: {', '.join(behaviors)}")
    return target


def _behavior_role(role: str, target: str | None) -> str:
    """``train:<target>`` → ``train``; ``train:<other>`` → ``behavior:<other>``."""
    if not role.startswith("train:"):
        return role
    b = role.split(":", 1)[1]
    return "train" if b == target else f"behavior:{b}"


def is_multi_behavior(cfg: DataConfig) -> bool:
    """Whether the dataset named by ``cfg`` has several behaviours (a registered dataset with
    ``train:<behaviour>`` files, a folder with two or more ``train_<behaviour>.*`` files, or
    ``data.behavior_column`` set)."""
    if cfg.behavior_column is not None:
        return True
    if cfg.dataset in DATASETS:
        return bool(DATASETS.get(cfg.dataset).behaviors)
    p = Path(cfg.dataset).expanduser()
    return p.is_dir() and len(_behavior_files(p)) >= 2


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


def _dedup(tab: _Table, n_items: int, collapse: bool = True
           ) -> tuple[_Table, int, np.ndarray]:
    """Repeated (user, item) rows of ``tab``: with ``collapse`` each pair keeps only its first
    row in the file, else every row is kept. Returns the table, the number of repeats (rows
    after a pair's first) and the sorted distinct pair keys ``user × n_items + item`` (the
    same for the table returned)."""
    key = tab.u * n_items + tab.i
    distinct = arrays.unique(key)
    repeats = int(key.size - distinct.size)
    if not repeats or not collapse:
        return tab, repeats, distinct
    _, first = np.unique(key, return_index=True)
    first.sort()
    return tab.take(first), repeats, distinct


def _intern(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Intern raw ids across files: ``(vocab, codes)`` where ``vocab`` holds the distinct raw
    ids as sorted strings and ``codes`` (``int64``, the columns concatenated) index it, as
    ``np.unique(..., return_inverse=True)`` of the string ids gives. Columns read as numbers
    (the fast reader's canonical integer ids) are interned as numbers and only their distinct
    values become strings: the same vocabulary and codes, without sorting millions of
    strings."""
    if all(c.dtype.kind in "iu" for c in columns):
        values, codes = arrays.unique_inverse(np.concatenate(columns))
        text = values.astype(str)
        order = np.argsort(text, kind="stable")  # string order, as the str path sorts
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size)
        return text[order], rank[codes]
    cols = [c.astype(str) if c.dtype.kind in "iu" else c for c in columns]
    vocab, codes = np.unique(np.concatenate(cols), return_inverse=True)
    return vocab, codes.reshape(-1).astype(np.int64)


def _idmap(vocab: np.ndarray, codes: np.ndarray) -> tuple[IdMap, np.ndarray]:
    """``IdMap.from_values(vocab[codes])`` through the distinct codes only (``vocab`` is
    sorted and distinct, so the distinct strings are ``vocab[distinct codes]``)."""
    distinct, inverse = arrays.unique_inverse(codes)
    idmap, sub = IdMap.from_values(vocab[distinct])
    return idmap, sub[inverse]


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
    # auxiliary behaviours (the target's training file is "train"): always training rows
    beh_files = {r.split(":", 1)[1]: files.pop(r) for r in list(files)
                 if r.startswith("behavior:")}
    behavior_names: tuple[str, ...] = ()
    target: str | None = None
    column = cfg.behavior_column is not None  # one file with a behaviour column
    if not beh_files and not column and cfg.behavior_graph != "target":
        raise ConfigError(f"data.behavior_graph={cfg.behavior_graph} needs multi-behaviour data, "
                          f"but {name} has one behaviour")
    if beh_files:
        behavior_names = (spec.behaviors if spec is not None
                          else tuple(_behavior_files(Path(name))))
        target = _target_behavior(cfg, behavior_names,
                                  spec.target_behavior if spec is not None else "buy", name)
    if beh_files or column:
        if cfg.k_core > 1:
            raise ConfigError("data.k_core is not supported on multi-behaviour data (which "
                              "behaviours would count toward the core is a protocol choice "
                              "of its own); set data.k_core=0")

    raws: dict[str, RawInteractions] = {}
    # read in time order (train, valid, test): ``order`` then follows it across files
    for role in sorted(files, key=lambda r: ("all", "train", "valid", "test").index(r)):
        path, fmt = files[role]
        raws[role] = read_interactions(path, fmt, numeric_ids=True)
    aux_raws = {b: read_interactions(path, fmt, numeric_ids=True)
                for b, (path, fmt) in beh_files.items()}
    report["rows_read"] = {r: len(x) for r, x in raws.items()}
    report["layout"] = {r: x.layout for r, x in raws.items()}
    if column:  # the target's rows become "train", the others auxiliary, as files would
        behavior_names, target, aux_raws = _split_behavior_column(cfg, raws, report, name)
    for b, x in aux_raws.items():
        report["rows_read"][f"behavior:{b}"] = len(x)
        report["layout"][f"behavior:{b}"] = x.layout
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
    # auxiliary rows are interned with the rest: an item only viewed gets an id too
    u_vocab, u_codes = _intern([raws[r].user for r in roles] + [x.user for x in aux_raws.values()])
    i_vocab, i_codes = _intern([raws[r].item for r in roles] + [x.item for x in aux_raws.values()])
    n_i_codes = max(int(i_vocab.size), 1)
    report["read"] = {"rows": int(u_codes.size), "users": int(u_vocab.size),
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
    aux: dict[str, _Table] = {}
    for b, raw in aux_raws.items():
        n = len(raw)
        sl = slice(offset, offset + n)
        aux[b] = _Table(u_codes[sl], i_codes[sl], raw.rating, raw.timestamp,
                        np.arange(offset, offset + n, dtype=np.int64))
        offset += n

    # -- 3. duplicates -------------------------------------------------------------------------
    collapse = cfg.dedup is not False  # "auto" without a model (see DataConfig.dedup)
    dups = {}
    pair_keys = {}  # each file's sorted distinct pair keys (reused while its table stands)
    for r in roles:
        tables[r], dups[r], pair_keys[r] = _dedup(tables[r], n_i_codes, collapse)
    aux_dups = {}
    for b in aux:  # repeated rows of a behaviour are one edge of its graph: always collapsed
        aux[b], aux_dups[b], _ = _dedup(aux[b], n_i_codes, True)
    report["dedup"] = collapse
    report["duplicates_collapsed"] = dups if collapse else {r: 0 for r in dups}
    if not collapse:
        report["repeats_kept"] = dups

    # -- split strategy --------------------------------------------------------------------------
    method = cfg.split
    if method == "default":
        method = _default_split(spec, tables)
    if aux and method != "given":
        raise ConfigError(f"data.split={method}: multi-behaviour data ({name}) is evaluated on "
                          "its given test file of the target behaviour; use data.split=given "
                          "(the default)")
    if method == "given" and "test" not in tables:
        raise ConfigError(f"data.split=given needs a test file, but {name} has only "
                          f"{', '.join(roles)}; use split=ratio, loo or temporal")
    if method != "given":
        parts = [tables[r] for r in ("all", "train", "valid", "test") if r in tables]
        merged = _Table.cat(parts)
        merged, cross, _ = _dedup(merged, n_i_codes, collapse)
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
            tables[r] = tables[r].take(np.flatnonzero(arrays.isin(tables[r].order, kept_orders)))
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
    if method == "given" and cfg.k_core <= 1:  # the training file's table as deduplicated
        train_keys = pair_keys["train"]
    else:
        train_keys = arrays.unique(train.u * n_i_codes + train.i)
    overlap = {}
    dup = arrays.isin(test.u * n_i_codes + test.i, train_keys, sorted_unique=True)
    overlap["test"] = int(dup.sum())
    if collapse:
        test = test.take(np.flatnonzero(~dup))
    if valid is not None:
        dup = arrays.isin(valid.u * n_i_codes + valid.i, train_keys, sorted_unique=True)
        overlap["valid"] = int(dup.sum())
        dup |= arrays.isin(valid.u * n_i_codes + valid.i, test.u * n_i_codes + test.i)
        overlap["valid_also_in_test"] = int(dup.sum()) - overlap["valid"]
        if collapse:
            valid = valid.take(np.flatnonzero(~dup))
    if collapse:
        report["removed_pairs_also_in_train"] = overlap
    else:  # kept repeats: a re-consumed item is a real target, so these pairs stay
        report["removed_pairs_also_in_train"] = {k: 0 for k in overlap}
        report["targets_also_in_train"] = overlap

    # -- validation hold-out -------------------------------------------------------------
    valid_method = cfg.valid_method
    if valid_method == "auto":
        valid_method = "one" if aux else "random"
    if valid is None:
        if cfg.valid_ratio > 0 and valid_method == "one":
            # carved from the target behaviour's rows only ("train" here): never auxiliary ones
            mask = splits.one_per_user(train.u, np.random.default_rng([seed, 29]))
            valid = train.take(np.flatnonzero(mask))
            train = train.take(np.flatnonzero(~mask))
            split_desc["validation"] = {
                "method": "one_from_train", "per_user": 1, "seed": seed,
                "carved_from_train": int(mask.sum()),
                **({"behavior": target} if aux else {})}
        elif cfg.valid_ratio > 0 and valid_method == "last":
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
    if aux and len(valid.u):
        _hold_out_of_auxiliary(cfg, aux, valid, test, n_i_codes, split_desc["validation"])
    elif not aux and cfg.valid_auxiliary != "auto":
        raise ConfigError(f"data.valid_auxiliary={cfg.valid_auxiliary} needs multi-behaviour "
                          f"data; {name} has one behaviour")
    report["split"] = split_desc

    if len(train.u) == 0:
        raise DataError("no training interactions left after filtering", name)

    # -- 7. id maps from training, cold users/items ---------------------------------------------
    # with cold="keep" the maps also cover the evaluation splits' users and items (an id and an
    # untrained embedding each); the training codes come first in the concatenation
    known = [train] + list(aux.values()) + ([valid, test] if cfg.cold == "keep" else [])
    # users and items of any training behaviour are known (not cold)
    # which user / item codes any training behaviour has (a table per code, built once)
    fit_u = np.zeros(u_vocab.size, dtype=bool)
    fit_i = np.zeros(i_vocab.size, dtype=bool)
    for t in [train, *aux.values()]:
        fit_u[t.u] = True
        fit_i[t.i] = True
    users, cu = _idmap(u_vocab, np.concatenate([t.u for t in known]))
    items, ci = _idmap(i_vocab, np.concatenate([t.i for t in known]))
    tu, ti = cu[:train.u.size], ci[:train.i.size]
    u_lookup = np.full(u_vocab.size, -1, dtype=np.int64)
    u_lookup[np.concatenate([t.u for t in known])] = cu
    i_lookup = np.full(i_vocab.size, -1, dtype=np.int64)
    i_lookup[np.concatenate([t.i for t in known])] = ci

    def index(tab: _Table, sname: str) -> Interactions:
        uu = u_lookup[tab.u]
        ii = i_lookup[tab.i]
        cold_u = ~fit_u[tab.u]
        cold_i = ~fit_i[tab.i]
        cold = cold_u | cold_i
        report.setdefault("cold", {})[sname] = {
            "users": arrays.n_distinct(tab.u[cold_u]),
            "items": arrays.n_distinct(tab.i[cold_i]),
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

    # the target behaviour's training rows as read (validation rows included, before any
    # cold drop), for the per-behaviour counts
    target_rows = _Table.cat([train, valid]) if aux else None
    train_i = Interactions(tu, ti, train.t, train.order)
    valid_i = index(valid, "valid")
    test_i = index(test, "test")
    # a dropped cold validation pair also leaves the test-time input of a sequential model
    # (its history is training + validation items): count the users who lose one
    if cfg.cold != "keep" and report["cold"]["valid"]["interactions"]:
        vcold = ~fit_u[valid.u] | ~fit_i[valid.i]  # in no training behaviour
        tested = arrays.isin(valid.u, test.u)
        lost = vcold & tested
        report["cold"]["valid"]["test_input"] = {
            "interactions": int(lost.sum()), "users": arrays.n_distinct(valid.u[lost])}
        if lost.any():
            _say(report, "warning", f"{name}: {int(lost.sum())} validation interactions of "
                 f"{arrays.n_distinct(valid.u[lost])} test users involve items (or users) "
                 "never seen in training and are dropped, so they are also missing from those "
                 "users' test-time input (the history sequential models read: training + "
                 "validation items); data.cold=keep keeps them (an id and an untrained "
                 "embedding each)")
    without = {"test": len(users) - arrays.n_distinct(test_i.user)}
    if split_desc["validation"]["method"] != "none":
        without["valid"] = len(users) - arrays.n_distinct(valid_i.user)
    report["users_without_target"] = without
    # why: too few events for the split (no pair at all), or its target(s) dropped as cold
    reasons = {}
    for sname, tab in (("test", test), ("valid", valid)):
        if sname not in without:
            continue
        had = arrays.n_distinct(u_lookup[tab.u][u_lookup[tab.u] >= 0])
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

    behaviors = None
    if aux:
        assert target is not None
        rows = {b: Interactions(u_lookup[t.u], i_lookup[t.i], t.t, t.order)
                for b, t in aux.items()}
        rows[target] = train_i
        behaviors = MultiBehavior(behavior_names, target, rows, len(users), len(items))
        report["behaviors"] = _behavior_report(behaviors, aux_dups, target_rows, valid_i,
                                               test_i, cfg.behavior_graph)
        log.info("%s: behaviours %s (target %s): %s training rows", name,
                 ", ".join(behavior_names), target,
                 ", ".join(f"{b} {len(rows[b])}" for b in behavior_names))

    return InteractionData(name=name, users=users, items=items, train=train_i, valid=valid_i,
                           test=test_i, report=report, social=social, kg=kg,
                           behaviors=behaviors, behavior_graph=cfg.behavior_graph)


def _behavior_report(mb: MultiBehavior, dups: dict[str, int], target_rows: _Table,
                     valid: Interactions, test: Interactions, graph: str) -> dict[str, Any]:
    """The ``report["behaviors"]`` block: order, target, rows per behaviour (the target's with
    its validation rows, ``fit`` without), repeated rows collapsed per auxiliary behaviour, and
    how many evaluation pairs each auxiliary behaviour already holds (they stay candidates)."""
    per = mb.describe()
    t = per[mb.target]
    fit = mb.train[mb.target]
    t["fit"] = len(fit)
    t["interactions"] = int(target_rows.u.size)
    t["users"] = arrays.n_distinct(target_rows.u)
    t["items"] = arrays.n_distinct(target_rows.i)
    aux = {b: mb.csr(b) for b in mb.auxiliary}
    return {
        "order": list(mb.names),
        "target": mb.target,
        "auxiliary": list(mb.auxiliary),
        "train": per,
        "duplicates_collapsed": dups,
        "test_pairs_in": overlap_counts(test.user, test.item, aux),
        "valid_pairs_in": overlap_counts(valid.user, valid.item, aux),
        "masked": [mb.target],
        "graph": graph,
    }
