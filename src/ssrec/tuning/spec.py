"""Tuning specs: a base configuration and a search space over any config key, in YAML.

Example (``experiments/tune/simgcl-lastfm.yaml``)::

    title: SimGCL's λ and ε on lastfm
    base:                                    # config fragment of every trial (the dataset's
      data: {dataset: lastfm}                # preset applies below it, as in `ssrec train`)
      model: {name: SimGCL}
      train: {epochs: 100, patience: 10}
    space:                                   # dotted config key -> distribution
      model.cl_weight: {type: float, low: 0.005, high: 1.0, log: true}   # log-float
      model.eps: {type: float, low: 0.05, high: 0.3, step: 0.05}
      model.n_layers: {type: int, low: 1, high: 3}
      model.tau: {type: categorical, choices: [0.1, 0.2, 0.5]}
    n_trials: 30                             # finished trials the study should hold
    timeout: null                            # seconds after which no new trial starts
    seed: 2020                               # TPE's seed (the trials train with base's seed)
    metric: ndcg@20                          # validation metric maximised (train.monitor)
    sampler: {startup_trials: 10}            # random trials before TPE models the space
    pruner: {type: median, startup_trials: 5, warmup_epochs: 10}   # or {type: none}

The study folder (``--out``, else the spec's ``out``, else ``runs/tune/<spec file stem>``)
holds ``study.db`` (the Optuna study in SQLite), ``trials/trial-NNNN/`` (one run folder per
trial, validation only), ``best.yaml`` (the best configuration for ``ssrec train --config``),
``best/`` (that configuration trained once, its test split scored once) and the report
(``study.md``, ``study.csv``, ``study.json``, ``history.png``).
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ssrec.config import RunConfig, _assign, build_config, with_preset
from ssrec.errors import ConfigError
from ssrec.models import model_config
from ssrec.experiments.spec import read_spec


class Distribution(BaseModel):
    """One dimension of the search space.

    Attributes:
        type: ``"int"``, ``"float"`` or ``"categorical"``.
        low, high: inclusive bounds (int and float).
        step: grid step (int: default 1; float: default none = continuous). Not with ``log``.
        log: sample on a log scale (int and float; ``low > 0``): a **log-float** is
            ``{type: float, log: true}``.
        choices: the values of a categorical (numbers, strings, booleans or null).
    """

    model_config = ConfigDict(extra="forbid")
    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> Distribution:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical needs a non-empty `choices` list")
            if any(isinstance(c, (list, dict)) for c in self.choices):
                raise ValueError("categorical choices must be numbers, strings, booleans or "
                                 "null")
            if self.low is not None or self.high is not None or self.log or self.step:
                raise ValueError("a categorical takes only `choices`")
            return self
        if self.choices is not None:
            raise ValueError(f"`choices` belongs to a categorical, not to {self.type!r}")
        if self.low is None or self.high is None:
            raise ValueError(f"{self.type!r} needs `low` and `high`")
        if self.low > self.high:
            raise ValueError(f"low {self.low} > high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError("a log scale needs low > 0")
        if self.log and self.step is not None:
            raise ValueError("`step` and `log` exclude each other")
        if self.type == "int" and not all(float(v).is_integer() for v in
                                          (self.low, self.high, self.step or 1)):
            raise ValueError("int bounds and step must be integers")
        return self

    def bounds(self) -> list[Any]:
        """The extreme values (low and high, or every choice): each must validate."""
        if self.type == "categorical":
            return list(self.choices or [])
        cast = int if self.type == "int" else float
        return [cast(self.low), cast(self.high)]

    def suggest(self, trial: Any, name: str) -> Any:
        """Draw the value of ``name`` for an Optuna ``trial``."""
        if self.type == "categorical":
            return trial.suggest_categorical(name, self.choices)
        if self.type == "int":
            return trial.suggest_int(name, int(self.low), int(self.high),
                                     step=int(self.step or 1), log=self.log)
        return trial.suggest_float(name, float(self.low), float(self.high), step=self.step,
                                   log=self.log)


class Pruner(BaseModel):
    """Pruning of unpromising trials on the validation metric reported at every evaluation.

    Attributes:
        type: ``"median"`` (Optuna's ``MedianPruner``: stop a trial whose best value so far is
            below the median of the earlier trials' values at the same epoch) or ``"none"``.
        startup_trials: trials that are never pruned (they set the medians; default 5).
        warmup_epochs: epochs before a trial can be pruned (default 10).
    """

    model_config = ConfigDict(extra="forbid")
    type: Literal["median", "none"] = "median"
    startup_trials: int = Field(5, ge=0)
    warmup_epochs: int = Field(10, ge=0)


class Sampler(BaseModel):
    """Optuna's TPE sampler (Bergstra et al., NeurIPS 2011), seeded by the spec's ``seed``.

    Attributes:
        startup_trials: random trials before TPE starts modelling (default 10, Optuna's).
        multivariate: model the parameters jointly (Optuna's multivariate TPE; default True).
    """

    model_config = ConfigDict(extra="forbid")
    startup_trials: int = Field(10, ge=1)
    multivariate: bool = True


class TuneSpec(BaseModel):
    """A hyper-parameter study (see the module docs for the YAML).

    Attributes:
        title: the report's heading.
        name: the study name (default: the spec file's stem).
        out: the study folder (default ``runs/tune/<name>``).
        base: config fragment of every trial (the dataset preset applies below it).
        space: ``{dotted.config.key: Distribution}``.
        n_trials: finished trials (complete, pruned or failed) the study should hold; a
            resumed study runs only the missing ones (default 30).
        timeout: seconds after which no new trial starts (default: none).
        seed: seeds the TPE sampler (default 2020).
        metric: validation metric maximised, ``name@K`` (default: the base config's
            ``train.monitor``); it becomes every trial's ``train.monitor``.
        sampler, pruner: see :class:`Sampler`, :class:`Pruner`.
    """

    model_config = ConfigDict(extra="forbid")
    title: str = ""
    name: str | None = None
    out: str | None = None
    base: dict[str, Any] = Field(default_factory=dict)
    space: dict[str, Distribution] = Field(min_length=1)
    n_trials: int = Field(30, ge=1)
    timeout: float | None = Field(None, gt=0)
    seed: int = 2020
    metric: str | None = None
    sampler: Sampler = Field(default_factory=Sampler)
    pruner: Pruner = Field(default_factory=Pruner)

    @field_validator("space")
    @classmethod
    def _check_space(cls, v: dict[str, Distribution]) -> dict[str, Distribution]:
        for key in v:
            if "." not in key and key not in ("seed",):
                raise ValueError(f"{key!r}: give the dotted config key, e.g. model.{key}")
            if key in ("seed", "output_dir", "data.dataset", "model.name"):
                raise ValueError(f"{key!r} is not a hyper-parameter to tune (it changes what "
                                 "is compared, not how a model is trained)")
        return v

    @classmethod
    def from_file(cls, path: str | Path) -> TuneSpec:
        """Load and validate a spec file; every key of the space is checked against the
        configuration at its bounds (so a typo or an out-of-range bound fails before any
        training).

        Raises:
            ConfigError: unreadable YAML, unknown keys, bad values (file and line named).
        """
        p = Path(path)
        spec = read_spec(p, cls, "tuning spec", "base, space, n_trials, ...")
        if spec.name is None:
            spec.name = p.stem
        spec.check(str(p))
        return spec

    def config(self, params: dict[str, Any] | None = None) -> RunConfig:
        """The run configuration of a trial with ``params`` (``{dotted.key: value}``; none:
        the base alone), ``train.monitor`` set to :attr:`metric`.

        Raises:
            ConfigError: a key or value the configuration rejects.
        """
        data = copy.deepcopy(self.base)
        for key, value in (params or {}).items():
            _assign(data, tuple(key.split(".")), value)
        if self.metric:
            _assign(data, ("train", "monitor"), self.metric)
        cfg = build_config(with_preset(data))
        model_config(cfg)  # the model section too
        return cfg

    def check(self, source: str | None = None) -> None:
        """Validate the base and each space key at its bounds.

        Raises:
            ConfigError: naming the space key and the value that fails.
        """
        try:
            self.config()
        except ConfigError as exc:
            raise ConfigError(f"base: {exc.args[0] if exc.args else exc}", source) from None
        for key, dist in self.space.items():
            for value in dist.bounds():
                try:
                    self.config({key: value})
                except ConfigError as exc:
                    raise ConfigError(f"space.{key} = {value!r}: "
                                      f"{exc.args[0] if exc.args else exc}", source) from None

    @property
    def metric_name(self) -> str:
        """The maximised validation metric (``metric``, else the base's monitor)."""
        return self.metric or str(self.config().train.monitor)

    def fingerprint(self) -> str:
        """sha256 of what decides the trials' values (base, space, metric); a stored study
        of another fingerprint is not resumed."""
        ident = {"base": self.base, "space": {k: v.model_dump() for k, v in self.space.items()},
                 "metric": self.metric_name}
        return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()
                              ).hexdigest()
