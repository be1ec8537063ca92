"""Typed run configuration: YAML files, ``--set section.key=value`` overrides, strict checks.

A run is described by a :class:`RunConfig` with the sections ``data``, ``train``, ``eval`` and
``model``. The ``model`` section holds ``name`` plus the fields of that model's own ``Config``
class (see ``ssrec models``). Loading is strict: an unknown key is an error that suggests the
closest valid key, values are coerced to the field's type (so ``1e-4`` written in YAML is a
float), and ranges are checked (drop rates in ``[0, 1)``, temperatures ``> 0``). Errors name the
config file and line, or the ``--set`` option, that the bad value came from.

Configuration knows no models: the ``model`` section's keys are checked where the model is
resolved (:func:`ssrec.models.model_config`, which :func:`ssrec.training.run` calls first), with
the same file-and-line errors (:attr:`RunConfig.sources`).

Example::

    cfg = load_config("configs/simgcl-lastfm.yaml", overrides=["train.epochs=20", "model.eps=0.2"])
    params = ssrec.models.model_config(cfg)      # SimGCLConfig(eps=0.2, ...)
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationError,
                      field_validator, model_validator)

from ssrec.errors import ConfigError

METRIC_NAMES = ("recall", "ndcg", "precision", "hit", "mrr", "map")
SEED_MAX = 2**63 - 1  # seeds are non-negative 64-bit signed integers (NumPy, PyTorch, offsets)
#: beyond-accuracy metrics of the top-K lists (ssrec.evaluation.beyond); never a default
LIST_METRIC_NAMES = ("coverage", "gini", "avgpop", "tail", "novelty")


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


class DataConfig(Section):
    """Which data to load and how to turn it into train / validation / test.

    Attributes:
        dataset: a registered name (``ssrec datasets``) or a path to an interaction file or to a
            folder holding ``train*``, ``test*`` and optionally ``valid*``/``val*`` files.
        data_dir: folder holding the named datasets; default ``$SSREC_DATA_DIR``, else the user
            cache folder.
        split: ``"given"`` (the files' own train/test[/valid]), ``"ratio"`` (per-user random),
            ``"loo"`` (leave-one-out by timestamp, ties by file order), ``"temporal"`` (global
            time cut) or ``"default"`` (the dataset's own: given when it ships a test file, else
            ratio, or loo for sequence files).
        ratios: ``(train, valid, test)`` fractions for the ratio and temporal splits.
        valid_ratio: share of each user's training interactions held out for validation when
            the data has no validation split (0 disables validation: no early stopping).
        valid_method: how that validation split is carved from training: ``"random"`` (a
            seeded random ``valid_ratio`` share of each user's interactions), ``"last"`` (each
            user's latest training interaction by timestamp, ties and files without timestamps
            by file order: leave-one-out validation for sequential models, e.g. on
            amazon-beauty's given train/test files; ``valid_ratio`` only switches it on/off) or
            ``"one"`` (one training row per user drawn at random, from users with at least two,
            like a leave-one-out test; on multi-behaviour data drawn from the target
            behaviour's rows only) or
            ``"auto"`` (``"last"`` for sequential models, ``"one"`` on multi-behaviour data,
            ``"random"`` otherwise; resolved by :func:`ssrec.training.run.run`, and the same
            without the sequential case when loading data directly).
        rating_threshold: rows with a rating below it are not positives (dropped); ``None``
            keeps every row (implicit feedback).
        k_core: drop users and items with fewer interactions, iteratively (0 = off).
        dedup: repeated (user, item) rows (a user who re-consumes an item): ``True`` collapses
            each pair to its first occurrence (counted), ``False`` keeps every row in time
            order (counted; a re-consumed item stays in the history and can be a target, so
            the evaluation must not mask seen items: ``eval.exclude_seen=false``), ``"auto"``
            (default) keeps them for sequential models and collapses them for the others
            (resolved by :func:`ssrec.training.run.run`; collapsed when loading data
            directly).
        cold: what to do with validation/test users or items never seen in training:
            ``"drop"`` (the pairs leave the evaluation, counted in the report), ``"keep"``
            (they stay: such users and items get an id and an untrained embedding, cold items
            are candidates and count in the targets, as in LightGCN-PyTorch's evaluation,
            which sizes the catalogue over all files) or ``"error"``. For sequential data a
            dropped validation item also leaves the test-time input (counted in the report as
            ``cold.valid.test_input``); ``"keep"`` keeps it there.
        format, sep: reading options for a dataset given as a path (``format``: ``"auto"``,
            ``"pairs"``, ``"adjacency"``, ``"atomic"`` or ``"csv"``, a header line naming the
            columns; ``sep``: one character, or ``"tab"`` / ``"\\t"``, ``"comma"``,
            ``"space"``, ...; ``None`` detects it). See :mod:`ssrec.data.io`.
        verify_checksums: check registered files' sha256.
        social: also load the dataset's user–user relation file (``user friend [weight]`` per
            line; the registered "social" file, or a ``social*``/``trust*``/``friend*``/
            ``link*`` file in a dataset folder) into ``InteractionData.social``, mapped with the
            users' id map. Links touching users without training interactions, self links and
            repeated links are dropped and counted. Social models switch this on themselves.
        social_symmetric: add the reverse of every social link (``u → v`` implies ``v → u``);
            by default the direction is kept as given (trust / follow links are directed).
        kg: also load the dataset's item knowledge graph (the registered "kg" file and its
            optional "link" file, or a ``kg*``/``*.kg`` and a ``*.link`` file in a dataset
            folder) into ``InteractionData.kg``, indexed with the items' id map (see
            :mod:`ssrec.data.kg`). Self-loops, repeated and dangling triples are dropped and
            counted. Knowledge-graph models switch this on themselves.
        kg_inverse: add the inverse ``(t, r + R, h)`` of every triple at loading (default
            False: the graph as given; models that need inverse relations add them
            themselves).
        target_behavior: on multi-behaviour data (a registered dataset with several behaviour
            files, or a folder of ``train_<behaviour>.*`` files), the behaviour that is
            predicted, evaluated and masked: its training file is ``train``, its test file the
            test split, and the other behaviours are auxiliary graphs
            (``InteractionData.behaviors``, :mod:`ssrec.data.behavior`). ``None`` (default):
            the dataset's own (``buy`` for the registered ones). An error on single-behaviour
            data.
        behavior_graph: which user–item graph single-graph models propagate over on
            multi-behaviour data (``InteractionData.norm_adj``): ``"target"`` (default: the
            target behaviour's training rows) or ``"merged"`` (every behaviour's training rows,
            one edge per distinct pair). The training positives and the evaluation mask stay
            the target behaviour's in both cases.
        valid_auxiliary: on multi-behaviour data, whether a validation pair ``(u, i)`` carved
            from the target behaviour's training rows stays in the auxiliary behaviours' rows
            (``"keep"``) or leaves them (``"drop"``), so that validation looks like the test.
            ``"auto"`` (default): ``"drop"`` when the test file's pairs occur in no auxiliary
            behaviour (the test was held out of every behaviour, as in retailrocket-mb;
            keeping the validation pairs there would select models that recommend what the
            user viewed, which never pays on such a test), else ``"keep"`` (tmall-mb: 80% of
            the test purchases were viewed in training). The pairs removed are counted in
            ``report["split"]["validation"]``.
        behavior_column: multi-behaviour data in **one** training file with a behaviour
            column, instead of one ``train_<behaviour>.*`` file per behaviour: ``data.dataset``
            is then a folder holding that ``train*`` file and a ``test*`` file of the target
            behaviour's held-out rows. The column is given by its header name for a file with
            a header (csv, atomic; matched case-insensitively), or by its 1-based field number
            for a file without one: ``3`` reads ``user item behavior [timestamp]`` lines (of
            the fields other than user, item and behaviour the first is a timestamp, the rest
            are ignored). The test file may have the same column (every row must then be of the
            target behaviour) or hold only ``user item``. The rows of each behaviour are exactly
            those a ``train_<behaviour>`` file would hold: the same id maps, validation rows and
            counts (:mod:`ssrec.data.behavior`). ``None`` (default): no behaviour column.
        behaviors: with ``behavior_column``, the behaviour values the column may hold, in
            cascade order (e.g. ``[view, cart, buy]``); a row with another value is an error
            naming its line. ``None`` (default): every value found, in the purchase-funnel
            order of ``train_<behaviour>`` files (view, pv, click, fav, collect, cart, buy,
            purchase; other names after them, alphabetically).
    """

    dataset: str = "lastfm"
    data_dir: str | None = None
    split: Literal["default", "given", "ratio", "loo", "temporal"] = "default"
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    valid_ratio: float = Field(0.1, ge=0.0, lt=1.0)
    valid_method: Literal["auto", "random", "last", "one"] = "auto"
    rating_threshold: float | None = None
    k_core: int = Field(0, ge=0)
    dedup: bool | Literal["auto"] = "auto"
    cold: Literal["drop", "keep", "error"] = "drop"
    format: Literal["auto", "pairs", "adjacency", "atomic", "csv"] = "auto"
    sep: str | None = None
    verify_checksums: bool = True
    social: bool = False
    social_symmetric: bool = False
    kg: bool = False
    kg_inverse: bool = False
    target_behavior: str | None = None
    behavior_graph: Literal["target", "merged"] = "target"
    valid_auxiliary: Literal["auto", "keep", "drop"] = "auto"
    behavior_column: str | int | None = None
    behaviors: tuple[str, ...] | None = None

    @field_validator("behavior_column")
    @classmethod
    def _check_behavior_column(cls, v: str | int | None) -> str | int | None:
        if isinstance(v, str) and v.strip().isdigit():
            v = int(v.strip())
        if isinstance(v, bool):
            raise ValueError("give the behaviour column's header name or field number, not a "
                             "boolean")
        if isinstance(v, int) and v < 3:
            raise ValueError(f"field {v} is the user or the item: the behaviour is field 3 or "
                             "later (3 for `user item behavior [timestamp]` lines)")
        if isinstance(v, str) and not v.strip():
            raise ValueError("empty column name")
        return v.strip() if isinstance(v, str) else v

    @field_validator("behaviors", mode="before")
    @classmethod
    def _check_behaviors(cls, v: Any) -> tuple[str, ...] | None:
        if v is None:
            return v
        if isinstance(v, str) or not isinstance(v, Iterable):
            raise ValueError(f"{v!r}: give a list of behaviour names, e.g. [view, cart, buy]")
        v = tuple(str(b).strip() for b in v)
        if len(v) < 2 or len(set(v)) != len(v) or not all(v):
            raise ValueError(f"{list(v)}: list two or more distinct, non-empty behaviour names "
                             "in cascade order, e.g. [view, cart, buy]")
        return v

    @field_validator("ratios")
    @classmethod
    def _check_ratios(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(r < 0 or r >= 1 for r in v) or abs(sum(v) - 1.0) > 1e-6 or v[0] <= 0:
            raise ValueError("ratios must be (train, valid, test), each in [0, 1), train > 0, "
                             "summing to 1")
        return v


class TrainConfig(Section):
    """The optimisation loop.

    Attributes:
        epochs: maximum number of epochs (each visits every training interaction once).
        batch_size: interactions per mini-batch; under distributed training (torchrun), per
            rank: the global batch is ``batch_size × world size``.
        lr: Adam learning rate.
        weight_decay: Adam weight decay (models add their own L2 on batch embeddings; keep 0).
        eval_every: validate every this many epochs.
        patience: stop after this many validations without improvement of ``monitor``.
        min_epochs: early stopping never stops before this epoch (a warm-up during which the
            validation score may dip, as graph contrastive models do on small datasets; the
            best epoch is still chosen over all epochs).
        monitor: the validation metric for early stopping and model selection, ``name@K``
            (default: ``ndcg@20``, or NDCG at the largest K when 20 is not evaluated).
        grad_clip: clip the gradient norm to this value (``None`` = off).
        progress: show a progress bar per epoch when stderr is a terminal (never in a log
            file or pipe).
        save_checkpoints: write ``checkpoint.pt`` (best) and ``last.pt`` into the run folder.
        num_threads: ``torch.set_num_threads`` for the run (``None`` = PyTorch's default).
        deterministic: use PyTorch's deterministic algorithms during training (exactly
            repeatable runs on CPU: the multi-threaded scatter-add behind embedding gradients
            otherwise varies in the last bits; ops without a deterministic kernel only warn).
        pair_sampling: how pairwise (BPR-style) models draw an epoch's positives:
            ``"interaction"`` (default: every training interaction once, shuffled) or
            ``"user"`` (as many draws as training interactions, each a uniformly drawn user
            with one of their items drawn uniformly: LightGCN-PyTorch's
            ``UniformSample_original``, used by the LightGCN++ experiments; light users weigh
            more than under ``"interaction"``).
        tensorboard: also write TensorBoard scalars (loss parts, validation metrics, epoch
            seconds) into ``<run>/tensorboard`` (needs the ``tensorboard`` extra).
    """

    epochs: int = Field(100, ge=0)
    batch_size: int = Field(2048, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    eval_every: int = Field(1, ge=1)
    patience: int = Field(10, ge=1)
    min_epochs: int = Field(0, ge=0)
    monitor: str | None = None
    grad_clip: float | None = Field(None, gt=0)
    progress: bool = True
    save_checkpoints: bool = True
    num_threads: int | None = Field(None, ge=1)
    deterministic: bool = True
    pair_sampling: Literal["interaction", "user"] = "interaction"
    tensorboard: bool = False


class EvalConfig(Section):
    """Evaluation: full ranking over all items (default) or sampled ranking.

    Attributes:
        ks: cut-offs K.
        metrics: any of recall, ndcg, precision, hit, mrr, map (default: these six), and the
            beyond-accuracy list metrics coverage, gini, avgpop, tail, novelty (see
            :mod:`ssrec.evaluation.beyond`; full ranking only).
        block_size: users scored per block; memory grows with it, results do not change.
        ranking: ``"full"`` (every item is a candidate) or ``"sampled"`` (each user's targets
            against ``n_negatives`` sampled items they never interacted with, drawn once per
            run with the run's seed; the protocol of many published sequential results, not
            comparable with full ranking).
        n_negatives: negatives per user for sampled ranking (100).
        negatives: how they are drawn: ``"uniform"`` (SASRec) or ``"popularity"``
            (proportional to training popularity, BERT4Rec).
        exclude_seen: remove the items of the user's history (training items, plus validation
            items when testing) from the ranking; ``None`` (default) = the model family's
            default: True for general, graph, social, knowledge and multi-behaviour models,
            False for sequential models
            (their papers let a model recommend an item the user already has).
        mask_valid_in_test: with ``exclude_seen``, also mask the validation items when scoring
            the test split (default True). False keeps them candidates, as LightGCN-PyTorch
            and LightGCN++ do (only training items are masked); the protocol block says which.
    """

    ks: list[int] = Field(default_factory=lambda: [10, 20])
    metrics: list[str] = Field(default_factory=lambda: list(METRIC_NAMES))
    block_size: int = Field(2048, ge=1)
    ranking: Literal["full", "sampled"] = "full"
    n_negatives: int = Field(100, ge=1)
    negatives: Literal["uniform", "popularity"] = "uniform"
    exclude_seen: bool | None = None
    mask_valid_in_test: bool = True

    @field_validator("ks")
    @classmethod
    def _check_ks(cls, v: list[int]) -> list[int]:
        if not v or any(k < 1 for k in v):
            raise ValueError("ks must be a non-empty list of positive integers")
        return sorted(set(v))

    @field_validator("metrics")
    @classmethod
    def _check_metrics(cls, v: list[str]) -> list[str]:
        out = []
        for m in v:
            m = m.lower()
            known = METRIC_NAMES + LIST_METRIC_NAMES
            if m not in known:
                close = difflib.get_close_matches(m, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"unknown metric {m!r}{hint}; known: {', '.join(known)}")
            out.append(m)
        return out


class RunConfig(Section):
    """Everything about one run.

    Attributes:
        seed: seeds Python, NumPy and PyTorch, the split and the sampler; an integer in
            ``[0, 2**63 - 1]``.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        output_dir: the run folder; default ``runs/<model>-<dataset>-<time>``.
        presets: apply the dataset's shipped preset (``ssrec/presets/<dataset>.yaml``: training
            budget and settings tuned for that dataset) below the user's own values.
        model: ``{"name": ..., **fields of the model's Config}``; validated by the model layer
            (:func:`ssrec.models.model_config`), since configuration knows no models.
    """

    seed: int = Field(2020, ge=0, le=SEED_MAX)
    device: str = "auto"
    output_dir: str | None = None
    presets: bool = True
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    model: dict[str, Any] = Field(default_factory=lambda: {"name": "SimGCL"})
    _sources: dict[tuple[str, ...], tuple[str, int | None]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_monitor(self) -> RunConfig:
        if self.train.monitor is None:
            m = "ndcg" if "ndcg" in self.eval.metrics else self.eval.metrics[0]
            k = 20 if 20 in self.eval.ks else self.eval.ks[-1]
            self.train.__dict__["monitor"] = f"{m}@{k}"
        name, _, k = self.train.monitor.lower().partition("@")
        if name not in self.eval.metrics or not k.isdigit() or int(k) not in self.eval.ks:
            options = [f"{m}@{k}" for m in self.eval.metrics for k in self.eval.ks]
            raise ValueError(f"train.monitor {self.train.monitor!r} is not among the evaluated "
                             f"metrics ({', '.join(options)})")
        self.train.__dict__["monitor"] = f"{name}@{int(k)}"
        return self

    @property
    def sources(self) -> dict[tuple[str, ...], tuple[str, int | None]]:
        """Where each key came from, ``{("model", "eps"): ("cfg.yaml", 7)}``: a file and line
        or an option, for errors raised after loading (e.g. by the model's own config)."""
        return self._sources


# ---- loading ---------------------------------------------------------------------------------

class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key repeated in one mapping (PyYAML keeps the last one
    silently, so a second ``epochs:`` would quietly win over the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if first != key_node.start_mark.line + 1:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first given on line {first})",
                    key_node.start_mark)
        return super().construct_mapping(node, deep)


def _yaml_lines(text: str) -> dict[tuple[str, ...], int]:
    """Map each key path in a YAML mapping to its 1-based line."""
    out: dict[tuple[str, ...], int] = {}

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = (*path, str(k.value))
                out[key] = k.start_mark.line + 1
                walk(v, key)

    try:
        walk(yaml.compose(text), ())
    except yaml.YAMLError:
        pass
    return out


def _where(path: tuple[str, ...], sources: Mapping[tuple[str, ...], tuple[str, int | None]]):
    for n in range(len(path), 0, -1):
        if path[:n] in sources:
            return sources[path[:n]]
    for key, src in sources.items():  # a section set only through its keys (--set a.b=1)
        if key[:len(path)] == path:
            return src
    return (None, None)


def check_keys(d: Mapping[str, Any], model: type[BaseModel], path: tuple[str, ...],
                sources: Mapping[tuple[str, ...], tuple[str, int | None]]) -> None:
    fields = model.model_fields
    for key, value in d.items():
        p = (*path, str(key))
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            hint = f"; did you mean {'.'.join((*path, close[0]))!r}?" if close else ""
            src, line = _where(p, sources)
            valid = ", ".join(fields)
            raise ConfigError(f"unknown key {'.'.join(p)!r}{hint} (valid keys in "
                              f"{'.'.join(path) or 'the top level'}: {valid})", src, line)
        ann = fields[key].annotation
        if isinstance(value, Mapping) and isinstance(ann, type) and issubclass(ann, BaseModel):
            check_keys(value, ann, p, sources)


def config_error(exc: ValidationError, prefix: tuple[str, ...],
             sources: Mapping[tuple[str, ...], tuple[str, int | None]]) -> ConfigError:
    err = exc.errors()[0]
    loc = (*prefix, *(str(x) for x in err["loc"] if not isinstance(x, int)))
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    got = err.get("input")
    shown = "" if isinstance(got, Mapping) or got is None else f" (got {got!r})"
    if not loc:  # a cross-field check: find the field it names
        for path in sorted(sources, key=len, reverse=True):
            if path and ".".join(path) in msg:
                src, line = sources[path]
                return ConfigError(msg, src, line)
        return ConfigError(msg)
    src, line = _where(loc, sources)
    return ConfigError(f"{'.'.join(loc)}: {msg}{shown}", src, line)


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """Parse ``section.key=value``; the value is read as a YAML scalar or list.

    Raises:
        ConfigError: if there is no ``=`` or the key is empty.
    """
    key, eq, value = text.partition("=")
    key = key.strip()
    if not eq or not key:
        raise ConfigError(f"--set {text!r}: expected section.key=value, e.g. train.lr=0.001")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    return tuple(key.split(".")), parsed


def _assign(d: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    cur = d
    for k in path[:-1]:
        nxt = cur.get(k)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[k] = nxt
        cur = nxt
    cur[path[-1]] = value


def build_config(data: Mapping[str, Any] | None = None,
                 sources: Mapping[tuple[str, ...], tuple[str, int | None]] | None = None
                 ) -> RunConfig:
    """Validate a nested mapping into a :class:`RunConfig`. The model section is checked to be
    a mapping only; its keys are validated by the model layer (:func:`ssrec.models.model_config`),
    which the ``sources`` (kept as :attr:`RunConfig.sources`) let name the file and line.

    Raises:
        ConfigError: unknown keys (with a suggestion), bad types or out-of-range values.
    """
    data = dict(data or {})
    sources = sources or {}
    if isinstance(data.get("model"), Mapping) and "name" not in data["model"]:
        data["model"] = {"name": RunConfig.model_fields["model"].default_factory()["name"],
                         **data["model"]}
    check_keys(data, RunConfig, (), sources)
    try:
        cfg = RunConfig(**data)
    except ValidationError as exc:
        raise config_error(exc, (), sources) from None
    if "model" in data and not isinstance(data["model"], Mapping):
        raise ConfigError("model: must be a mapping with at least 'name'")
    cfg._sources = dict(sources)
    return cfg


def load_config(path: str | Path | None = None, overrides: Iterable[str] = (),
                **shortcuts: Any) -> RunConfig:
    """Load a run configuration.

    Precedence, lowest first: the dataclass defaults, the YAML file, ``shortcuts`` (dotted keys
    such as ``{"train.epochs": 5}``, used by CLI flags), then ``overrides``
    (``"section.key=value"`` strings).

    Args:
        path: a YAML file (optional).
        overrides: ``--set`` strings.
        shortcuts: dotted-key values; ``None`` values are ignored.

    Raises:
        ConfigError: unreadable or non-UTF-8 YAML, a key repeated in one mapping, unknown
            keys, invalid values, or a ``--set`` that contradicts a shortcut (``--model X
            --set model.name=Y``); the message names the file and line or the option.
    """
    data: dict[str, Any] = {}
    sources: dict[tuple[str, ...], tuple[str, int | None]] = {}
    if path is not None:
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read config file: {exc.strerror}", str(p)) from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise ConfigError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                              f"{exc.start}); save the file as UTF-8", str(p), line) from None
        try:
            loaded = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a safe loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ConfigError(f"invalid YAML: {problem}", str(p), line) from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError("the top level must be a mapping (section: {key: value})", str(p), 1)
        data = loaded
        sources = {k: (str(p), v) for k, v in _yaml_lines(text).items()}
    options: dict[tuple[str, ...], Any] = {}
    for key, value in shortcuts.items():
        if value is None:
            continue
        kp = tuple(key.split("."))
        _assign(data, kp, value)
        sources[kp] = (f"option {key}", None)
        options[kp] = value
    for text in overrides:
        kp, value = parse_override(text)
        if kp in options and not _same_value(options[kp], value):
            raise ConfigError(f"--set {text} contradicts the command-line option that sets "
                              f"{'.'.join(kp)} to {options[kp]!r}; give the value once")
        _assign(data, kp, value)
        sources[kp] = (f"--set {text}", None)
    return build_config(with_preset(data), sources)


def with_preset(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` (a nested config mapping) merged above the shipped preset of its dataset and
    model (:func:`load_preset`), unless it sets ``presets: false``; ``data`` wins."""
    data = dict(data)
    if data.get("presets", True) is False:
        return data
    dataset = (data.get("data") or {}).get("dataset", DataConfig().dataset)
    preset = load_preset(str(dataset))
    per_model = preset.pop("models", None) or {}
    model = data.get("model") if isinstance(data.get("model"), Mapping) else {}
    name = str(model.get("name", RunConfig.model_fields["model"].default_factory()["name"]))
    for key, params in per_model.items():
        if key.lower() == name.lower():
            params = dict(params)
            train = params.pop("train", None)
            if train:  # per-model training settings (e.g. a learning rate tuned for it)
                preset["train"] = {**(preset.get("train") or {}), **train}
            preset["model"] = params
    return merge_config(preset, data) if preset else data


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()  # model names are case-insensitive
    return a == b


PRESET_DIR = Path(__file__).resolve().parent / "presets"


def load_preset(dataset: str) -> dict[str, Any]:
    """The shipped preset for a named dataset (``{}`` if none).

    A preset is a config fragment (``train``, ``eval``, ``data`` sections) plus an optional
    ``models: {ModelName: {field: value}}`` mapping of per-model hyper-parameters tuned on that
    dataset; a ``train: {...}`` mapping inside a model's entry overrides the preset's ``train``
    section for that model only (e.g. a learning rate or epoch budget tuned for it).
    ``inherit: OTHER`` takes OTHER's preset below this one's values (a dataset that shares
    another's interactions, such as ml-100k-kg and ml-100k).
    :func:`load_config` merges it below the user's own values."""
    path = PRESET_DIR / f"{dataset.lower()}.yaml"
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    parent = loaded.pop("inherit", None)
    if parent:
        return merge_config(load_preset(str(parent)), loaded)
    return loaded


def merge_config(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of two nested mappings; ``top`` wins."""
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge_config(out[k], v)
        else:
            out[k] = v
    return out


# ---- reference of the keys ------------------------------------------------------------------

def field_docs(cls: type) -> dict[str, str]:
    """The first sentence of each ``Attributes:`` entry in the docstrings of ``cls`` and its
    bases (``"format, sep: ..."`` documents both keys), by field name."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        doc = inspect.cleandoc(klass.__dict__.get("__doc__") or "")
        lines = doc.splitlines()
        start = next((k for k, line in enumerate(lines) if line.strip() == "Attributes:"), None)
        if start is None:
            continue
        body = lines[start + 1:]
        end = next((k for k, line in enumerate(body) if not line.strip()), len(body))
        body = body[:end]
        if not body:
            continue
        indent = min(len(line) - len(line.lstrip()) for line in body)
        entries: list[list[str]] = []
        for line in body:
            if len(line) - len(line.lstrip()) == indent:
                entries.append([line.strip()])
            elif entries:
                entries[-1].append(line.strip())
        for entry in entries:
            names, colon, text = " ".join(entry).partition(": ")
            if not colon:
                continue
            first = _first_sentence(re.sub(r":\w+:`~?([^`]+)`", r"\1", text).replace("``", ""))
            for name in names.split(","):
                out[name.strip()] = first
    return out


_ABBREVIATIONS = ("e.g", "i.e", "cf", "vs", "etc", "Sec", "Eq", "Fig")


def _first_sentence(text: str) -> str:
    """``text`` up to the first ``.`` or ``;`` outside parentheses that ends a sentence."""
    depth = 0
    for k, ch in enumerate(text):
        depth += (ch in "([{") - (ch in ")]}")
        if depth == 0 and ch in ".;" and (k + 1 == len(text) or text[k + 1] == " ") and \
                not text[:k].endswith(_ABBREVIATIONS):
            return text[:k]
    return text


