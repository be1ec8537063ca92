"""Experiment specifications: datasets × models (each with its overrides) × seeds, in YAML.

Example (``experiments/lastfm-ssl.yaml``)::

    title: Graph SSL on lastfm
    description: |                      # Markdown placed above the tables of the report
      SELFRec's lastfm split; the presets' budget.
    seeds: [1, 2, 3, 4, 5]
    baseline: LightGCN                  # the model every other is compared with
    metrics: [ndcg@20, recall@20]       # report columns; the first is the primary metric
    test: wilcoxon                      # paired per-user test: wilcoxon (default) or ttest
    base: {train: {epochs: 300}}        # config fragment for every cell
    datasets:
      lastfm: {}                        # key = label (and data.dataset unless set inside)
    models:
      LightGCN: {}
      SimGCL: {model: {cl_weight: 0.1}}
      SGL-ED: {model: {name: SGL, aug_type: ed}}      # a label other than the model name
      SGL-sweep:                                      # a grid: one model entry per value
        model: {name: SGL}
        grid: {model.cl_weight: [0.01, 0.1], model.tau: [0.2, 0.5]}
    published:                          # optional: values to reproduce, per dataset and model
      source: LightGCN++ supplement, Table 9
      values:
        lastfm: {LightGCN: {recall@10: 0.1741}}
    report: ../docs/lastfm.md           # optional copies of the report (relative to this file)
    figure: ../docs/figures/lastfm.png
    notes: ../docs/notes/lastfm.md      # optional Markdown appended to the report

A cell's configuration is, lowest first: the dataset preset (unless ``presets: false``), the
``base`` fragment, the dataset's fragment, the model's fragment, then ``seed`` and the run
folder ``<out>/<dataset>/<model>/seed-<seed>``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ssrec.config import RunConfig, build_config, merge_config, with_preset
from ssrec.errors import ConfigError
from ssrec.models import model_config
from ssrec.experiments.stats import PAIRED_TESTS

SpecT = TypeVar("SpecT", bound=BaseModel)


class Published(BaseModel):
    """Published values to compare with: ``values[dataset][model][metric]``."""

    model_config = ConfigDict(extra="forbid")
    source: str = ""
    values: dict[str, dict[str, dict[str, float]]] = Field(default_factory=dict)


class ExperimentSpec(BaseModel):
    """A comparison: every dataset × model × seed cell is one run of
    :func:`ssrec.training.run`.

    Attributes:
        title, description: the report's heading and the Markdown above its tables.
        out: the experiment folder (default ``runs/experiments/<spec file stem>``; relative
            paths are taken from the current directory). Specs may share one: a cell with the
            same dataset and model labels, seed and configuration is trained once.
        seeds: one run per seed and cell (each seed also redraws the random parts of the
            split: validation hold-out, ratio splits).
        baseline: the model label every other model is compared with (relative change and
            paired test); ``None``: no comparison columns.
        metrics: report columns ``name@K`` (default: ``eval.ks`` × recall, ndcg of the first
            cell); the first is the primary metric (tests and figure).
        test: ``"wilcoxon"`` (default) or ``"ttest"``: the paired per-user test, on each
            user's metric averaged over the seeds both models finished.
        confidence: of the t-intervals over seeds (default 0.95).
        alpha: significance level after Holm's correction (default 0.05).
        base: config fragment applied to every cell.
        datasets: ``{label: fragment}``; ``data.dataset`` defaults to the label.
        models: ``{label: fragment}``; ``model.name`` defaults to the label. A ``grid:
            {dotted.key: [values]}`` entry expands into one model per combination, labelled
            ``label[key=value,...]``.
        published: values to reproduce (:class:`Published`).
        item_groups: when set, the report adds per dataset a table of Recall@K by item
            popularity: the items cut into this many groups holding equal numbers of training
            interactions (SGL, Wu et al., SIGIR 2021, Sec. 4.3.2; group 1 is the long tail)
            and each group's contribution to Recall@K, from one ranking pass of every cell's
            kept weights (cached in its run folder, ``item_groups_test.json``).
        report, figure, notes: paths relative to the spec file (see module docs).
    """

    model_config = ConfigDict(extra="forbid")
    title: str = ""
    description: str = ""
    out: str | None = None
    seeds: list[int] = Field(default_factory=lambda: [2020], min_length=1)
    baseline: str | None = None
    metrics: list[str] = Field(default_factory=list)
    test: str = "wilcoxon"
    confidence: float = Field(0.95, gt=0, lt=1)
    alpha: float = Field(0.05, gt=0, lt=1)
    base: dict[str, Any] = Field(default_factory=dict)
    datasets: dict[str, dict[str, Any] | None] = Field(min_length=1)
    models: dict[str, dict[str, Any] | None] = Field(min_length=1)
    published: Published = Field(default_factory=Published)
    item_groups: int | None = Field(None, ge=2)
    report: str | None = None
    figure: str | None = None
    notes: str | None = None

    @field_validator("test")
    @classmethod
    def _check_test(cls, v: str) -> str:
        if v not in PAIRED_TESTS:
            raise ValueError(f"unknown test {v!r}; known: {', '.join(PAIRED_TESTS)}")
        return v

    @field_validator("seeds")
    @classmethod
    def _check_seeds(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError("seeds must be distinct")
        return v


@dataclass(frozen=True)
class Cell:
    """One run of an experiment.

    Attributes:
        dataset, model: the labels of the spec.
        seed: the run's seed.
        config: the validated run configuration (``output_dir`` = :attr:`run_dir`).
        run_dir: the cell's run folder.
    """

    dataset: str
    model: str
    seed: int
    config: RunConfig
    run_dir: Path

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.model}/seed-{self.seed}"


_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=,\-\[\]]*$")


def _expand_models(models: Mapping[str, Mapping[str, Any] | None]
                   ) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for label, frag in models.items():
        frag = dict(frag or {})
        grid = frag.pop("grid", None)
        model = dict(frag.get("model") or {})
        model.setdefault("name", label)
        frag["model"] = model
        if not grid:
            out[label] = frag
            continue
        if not isinstance(grid, Mapping) or not all(isinstance(v, list) and v
                                                     for v in grid.values()):
            raise ConfigError(f"models.{label}.grid: expected {{dotted.key: [values]}}")
        keys = list(grid)
        for combo in itertools.product(*(grid[k] for k in keys)):
            sub = frag
            for key, value in zip(keys, combo):
                path = key.split(".")
                nested: Any = value
                for p in reversed(path):
                    nested = {p: nested}
                sub = merge_config(sub, nested)
            tag = ",".join(f"{k.split('.')[-1]}={v}" for k, v in zip(keys, combo))
            out[f"{label}[{tag}]"] = sub
    return out


class Experiment:
    """A loaded spec: its cells, folder and report settings.

    Attributes:
        name: the spec file's stem (names the report files).

    Args:
        spec: the validated spec.
        path: the spec file (resolves ``report``, ``figure``, ``notes``; names errors).
        out: the experiment folder (overrides ``spec.out``).

    Raises:
        ConfigError: a cell's configuration does not validate (the message names the spec
            file, the cell and the key).
    """

    def __init__(self, spec: ExperimentSpec, path: str | Path | None = None,
                 out: str | Path | None = None):
        self.spec = spec
        self.path = Path(path) if path is not None else None
        self.name = self.path.stem if self.path is not None else "experiment"
        self.out = Path(out or spec.out or Path("runs") / "experiments" / self.name)
        self.models = _expand_models(spec.models)
        for label in [*spec.datasets, *self.models]:
            if not _LABEL.match(label):
                raise ConfigError(f"label {label!r}: use letters, digits and . _ - + = , [ ]",
                                  self._src())
        if spec.baseline is not None and spec.baseline not in self.models:
            raise ConfigError(f"baseline {spec.baseline!r} is not among the models "
                              f"({', '.join(self.models)})", self._src())
        self.cells: list[Cell] = []
        for seed in spec.seeds:  # seed-major: every model has a result after the first pass
            for ds, ds_frag in spec.datasets.items():
                for label, frag in self.models.items():
                    self.cells.append(self._cell(ds, dict(ds_frag or {}), label, frag, seed))

    def _src(self) -> str | None:
        return None if self.path is None else str(self.path)

    def _cell(self, ds: str, ds_frag: dict[str, Any], label: str, frag: dict[str, Any],
              seed: int) -> Cell:
        data = merge_config(self.spec.base, ds_frag)
        data.setdefault("data", {})
        data["data"] = {"dataset": ds, **data["data"]}
        data = merge_config(data, frag)
        run_dir = self.out / ds / label / f"seed-{seed}"
        data = merge_config(data, {"seed": seed, "output_dir": str(run_dir)})
        data.setdefault("train", {}).setdefault("progress", False)
        try:
            cfg = build_config(with_preset(data))
            model_config(cfg)  # the model section too, before anything trains
        except ConfigError as exc:
            raise ConfigError(f"cell {ds}/{label}: {exc.args[0] if exc.args else exc}",
                              self._src()) from None
        return Cell(ds, label, seed, cfg, run_dir)

    @classmethod
    def from_file(cls, path: str | Path, out: str | Path | None = None) -> Experiment:
        """Load and validate a spec file.

        Raises:
            ConfigError: unreadable YAML, unknown keys, bad values (file and line named).
        """
        p = Path(path)
        spec = read_spec(p, ExperimentSpec, "experiment spec",
                         "title, seeds, datasets, models, ...")
        return cls(spec, p, out)

    def resolve(self, rel: str | None) -> Path | None:
        """A path of the spec (``report``, ``figure``, ``notes``) relative to its file."""
        if rel is None:
            return None
        base = self.path.parent if self.path is not None else Path.cwd()
        return (base / rel).resolve()

    def select(self, datasets: list[str] | None = None, models: list[str] | None = None,
               seeds: list[int] | None = None) -> Iterator[Cell]:
        """The cells of the given dataset / model labels and seeds (all by default).

        Raises:
            ConfigError: an unknown label or seed."""
        for s in seeds or []:
            if s not in self.spec.seeds:
                raise ConfigError(f"unknown seed {s}; the spec has "
                                  f"{', '.join(map(str, self.spec.seeds))}", self._src())
        for name, known in (("dataset", datasets and self.spec.datasets),
                            ("model", models and self.models)):
            wanted = datasets if name == "dataset" else models
            for w in wanted or []:
                if known and w not in known:
                    raise ConfigError(f"unknown {name} {w!r}; the spec has "
                                      f"{', '.join(known)}", self._src())
        for c in self.cells:
            if ((not datasets or c.dataset in datasets) and (not models or c.model in models)
                    and (not seeds or c.seed in seeds)):
                yield c


def read_spec(path: Path, cls: type[SpecT], what: str, keys: str) -> SpecT:
    """Read a YAML spec file into the pydantic model ``cls``.

    Raises:
        ConfigError: unreadable file or YAML, a top level that is not a mapping (``keys``
            names the expected ones), unknown keys or bad values (file and line named).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the {what}: {exc}", str(path)) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", str(path),
                          mark.line + 1 if mark is not None else None) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"the top level must be a mapping ({keys})", str(path), 1)
    try:
        return cls(**raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        line = _line_of(text, [str(x) for x in err["loc"]])
        raise ConfigError(f"{loc}: {err['msg']}", str(path), line) from None


def _line_of(text: str, path: list[str]) -> int | None:
    """1-based line of a key path in YAML text (the deepest key found)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            break
        for k, v in node.value:
            if str(k.value) == key:
                line, node = k.start_mark.line + 1, v
                break
        else:
            break
    return line


__all__ = ["Cell", "Experiment", "ExperimentSpec", "Published"]
