"""The model section of a run configuration, resolved against the model registry.

Configuration (:mod:`ssrec.config`) knows no models: ``RunConfig.model`` is a mapping whose
``name`` picks a registered model and whose other keys are that model's ``Config`` fields.
These functions resolve and validate it (errors name the file and line the key came from,
:attr:`RunConfig.sources`) and write the full configuration with the model's defaults filled in.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ssrec.config import (DataConfig, EvalConfig, RunConfig, TrainConfig, check_keys,
                          config_error, field_docs)
from ssrec.errors import ConfigError
from ssrec.models.base import MODELS, ModelConfig, Recommender


def model_class(cfg: RunConfig) -> type[Recommender]:
    """The registered model class named by ``cfg.model["name"]``.

    Raises:
        ConfigError: no name, or no model of that name (the closest names suggested)."""
    name = cfg.model.get("name")
    src, line = cfg.sources.get(("model", "name"), (None, None))
    if not name:
        raise ConfigError("model.name is required (see `ssrec models`)", src, line)
    try:
        return MODELS.get(str(name))
    except ConfigError as exc:
        raise ConfigError(str(exc), src, line) from None


def model_config(cfg: RunConfig) -> ModelConfig:
    """The model's validated ``Config`` (its defaults filled in) from ``cfg.model``.

    Raises:
        ConfigError: an unknown model, an unknown key (the closest valid key suggested) or a
            bad value; the message names the file and line (or option) it came from."""
    cls = model_class(cfg)
    params = {k: v for k, v in cfg.model.items() if k != "name"}
    check_keys(params, cls.Config, ("model",), cfg.sources)
    try:
        return cls.Config(**params)
    except ValidationError as exc:
        raise config_error(exc, ("model",), cfg.sources) from None


def resolved_config(cfg: RunConfig) -> dict[str, Any]:
    """The full configuration as plain data, with the model's defaults filled in."""
    out = cfg.model_dump(mode="json")
    out["model"] = {"name": model_class(cfg).name, **model_config(cfg).model_dump(mode="json")}
    return out


def dump_config(cfg: RunConfig) -> str:
    """The resolved configuration as YAML (it loads back to an equal configuration)."""
    return yaml.safe_dump(resolved_config(cfg), sort_keys=False)


def config_reference(cfg: RunConfig) -> dict[str, list[dict[str, Any]]]:
    """Every key of a configuration with its value, built-in default and documentation.

    Args:
        cfg: the configuration whose values are listed (e.g. ``load_config(None)``: what
            ``ssrec train`` uses without options, the default dataset's preset applied).

    Returns:
        ``{section: [{"key", "value", "default", "doc"}, ...]}`` with the sections ``""``
        (top-level keys), ``"data"``, ``"train"``, ``"eval"`` and ``"model"`` (``name`` and
        the fields of ``cfg``'s model); ``doc`` is the first sentence of the key's docstring
        entry (``""`` when it has none).

    Raises:
        ConfigError: ``cfg.model`` names no registered model.
    """
    resolved = resolved_config(cfg)
    model_cls = model_class(cfg)
    sections: dict[str, tuple[type[BaseModel], dict[str, Any]]] = {
        "": (RunConfig, {k: v for k, v in resolved.items()
                         if k not in ("data", "train", "eval", "model")}),
        "data": (DataConfig, resolved["data"]),
        "train": (TrainConfig, resolved["train"]),
        "eval": (EvalConfig, resolved["eval"]),
        "model": (model_cls.Config, resolved["model"]),
    }
    out: dict[str, list[dict[str, Any]]] = {}
    for section, (cls, values) in sections.items():
        docs = field_docs(cls)
        defaults = (model_cls.Config() if section == "model" else
                    RunConfig() if section == "" else cls()).model_dump(mode="json")
        if section == "model":
            defaults["name"] = values["name"]
            docs["name"] = "the model (see `ssrec models`)"
        out[section] = [{"key": k, "value": v, "default": defaults.get(k, v),
                         "doc": docs.get(k, "")} for k, v in values.items()]
    return out


__all__ = ["config_reference", "dump_config", "model_class", "model_config", "resolved_config"]
