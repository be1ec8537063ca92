"""The model contract shared by every recommender, and the model registry.

A model is an :class:`torch.nn.Module` that declares

* ``Config``: a typed config class (pydantic, unknown keys rejected) whose defaults come from
  the paper;
* ``build(data, cfg)``: construction from the dataset (sizes, graphs) and its config only;
* ``loss(batch) -> LossOutput``: the training objective on one mini-batch, as a total plus
  named parts (the trainer logs the parts);
* ``score(users) -> [B, I]``: raw scores of every item for a block of users (no masking: the
  evaluator masks);
* optional hooks ``on_fit_start``, ``on_epoch_start``, ``on_after_step``, ``on_epoch_end``,
  ``on_eval_start`` and ``on_eval_end``, which the trainer and evaluator call.

The optimiser loop, sampling, masking, metrics, checkpoints and logging live in the shared
trainer and evaluator; a model file never contains them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from ssrec.config import Section
from ssrec.errors import ConfigError
from ssrec.registry import Registry

if TYPE_CHECKING:
    from ssrec.data.dataset import InteractionData


class ModelConfig(Section):
    """Base of every model's ``Config`` (unknown keys are errors)."""


@dataclass
class LossOutput:
    """A training loss.

    Attributes:
        total: scalar tensor to back-propagate.
        parts: named scalar components (e.g. ``{"bpr": ..., "reg": ..., "cl": ...}``), already
            weighted, so that they add up to ``total``.
    """

    total: torch.Tensor
    parts: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class TrainContext:
    """What hooks receive from the trainer.

    Attributes:
        epoch: 1-based epoch about to run / just run.
        data: the dataset.
        device: the training device.
        generator: the run's torch generator on ``device`` (for augmentations).
    """

    epoch: int
    data: InteractionData
    device: torch.device
    generator: torch.Generator | None = None


MODELS: Registry[type[Recommender]] = Registry("model")


def matmul_into(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
    """``a @ b``, written into ``out`` when ``out`` is given with the result's dtype and device
    (the evaluator's score buffer, see :meth:`Recommender.score_into`); else a new tensor."""
    if out is None or out.dtype != a.dtype or out.device != a.device:
        return a @ b
    return torch.matmul(a, b, out=out)


def register_model(name: str):
    """Class decorator: register a :class:`Recommender` subclass under ``name``."""

    def deco(cls: type[Recommender]) -> type[Recommender]:
        cls.name = name
        MODELS.add(name, cls)
        return cls

    return deco


class Recommender(nn.Module):
    """Base class of all models (see module docs for the contract).

    Class attributes:
        name: registry name (set by :func:`register_model`).
        Config: the model's config class.
        paper: citation of the paper the model implements.
        family: ``"general"``, ``"graph"``, ``"social"``, ``"knowledge"``,
            ``"multi_behavior"`` or ``"sequential"``.
        trainable: False for models fitted in closed form at build time (MostPop, ItemKNN);
            the trainer then skips the optimisation loop.
        batch_kind: the registered sampler that produces this model's batches.
        needs_social: the model reads ``data.social`` (user–user links); the run recipe then
            loads the dataset with ``data.social=true``, and :meth:`build` raises a
            :class:`~ssrec.errors.ConfigError` for data without a social graph.
        needs_kg: the model reads ``data.kg`` (the item knowledge graph); the run recipe then
            loads the dataset with ``data.kg=true``, and :meth:`build` raises a
            :class:`~ssrec.errors.ConfigError` for data without one.
        needs_behaviors: the model reads ``data.behaviors`` (one graph per behaviour: view,
            cart, buy); :meth:`build` raises a :class:`~ssrec.errors.ConfigError` for
            single-behaviour data.
        exclude_seen_default: whether evaluation removes the items of the user's history from
            the ranking when ``eval.exclude_seen`` is not set (True; sequential models: False,
            as in their papers, which may recommend an item again).
        synced_attributes: names of attributes that :meth:`on_epoch_start` computes without a
            bit-exact guarantee across processes (e.g. NCL's k-means prototypes); under
            distributed training the trainer copies rank 0's values to every rank after the
            hook. State drawn from the hook's generator needs no entry: every rank's generator
            is seeded alike at each epoch start.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[ModelConfig]] = ModelConfig
    paper: ClassVar[str] = ""
    family: ClassVar[str] = "general"
    trainable: ClassVar[bool] = True
    batch_kind: ClassVar[str] = "pairwise"
    needs_social: ClassVar[bool] = False
    needs_kg: ClassVar[bool] = False
    needs_behaviors: ClassVar[bool] = False
    exclude_seen_default: ClassVar[bool] = True
    synced_attributes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, cfg: ModelConfig, data: InteractionData):
        super().__init__()
        self.cfg = cfg
        self.n_users = data.n_users
        self.n_items = data.n_items
        self.generator: torch.Generator | None = None

    @classmethod
    def build(cls, data: InteractionData, cfg: ModelConfig | dict[str, Any] | None = None
              ) -> Recommender:
        """Construct the model for ``data``.

        Args:
            data: the dataset (sizes, training graph).
            cfg: a ``cls.Config``, a dict of its fields, or None for the paper defaults.

        Raises:
            ConfigError: the model needs a social graph and ``data`` has none (or no link), or
                a knowledge graph and ``data`` has none.
        """
        if cls.needs_social:
            social = getattr(data, "social", None)
            if social is None:
                raise ConfigError(
                    f"{cls.name or cls.__name__} needs a social graph, but dataset "
                    f"{data.name!r} was loaded without one: load it with data.social=true "
                    "(`ssrec train` does this for social models) from a dataset that has a "
                    "user-user file (lastfm, yelp-diffnet, filmtrust, lastfm-hetrec, or a "
                    "folder with a social.txt)")
            if social.n_links == 0:
                raise ConfigError(f"{cls.name or cls.__name__} needs a social graph, but no "
                                  f"social link of {data.name!r} is left after cleaning "
                                  f"(see the data report: {data.report.get('social', {})})")
        if cls.needs_kg and getattr(data, "kg", None) is None:
            raise ConfigError(
                f"{cls.name or cls.__name__} needs a knowledge graph, but dataset {data.name!r} "
                "was loaded without one: load it with data.kg=true (`ssrec train` does this for "
                "knowledge-graph models) from a dataset that has one (lastfm-kg, ml-100k-kg, or "
                "a folder with a kg.txt of 'head relation tail' lines)")
        if cls.needs_behaviors and getattr(data, "behaviors", None) is None:
            raise ConfigError(
                f"{cls.name or cls.__name__} is a multi-behaviour model, but dataset "
                f"{data.name!r} has one behaviour: use a dataset with one training file per "
                "behaviour (tmall-mb, retailrocket-mb, beibei-mini-mb, or a folder of "
                "train_<behaviour>.txt files and a test file of the target behaviour)")
        if cfg is None:
            cfg = cls.Config()
        elif isinstance(cfg, dict):
            cfg = cls.Config(**cfg)
        return cls(cfg, data)

    # -- training --------------------------------------------------------------------------
    def sampler_options(self) -> dict[str, Any]:
        """Keyword options for this model's sampler (e.g. ``{"n_negatives": 4}``)."""
        return {}

    def loss(self, batch: Any) -> LossOutput:
        """The training loss on one batch."""
        raise NotImplementedError(f"{type(self).__name__} does not define loss()")

    # -- inference -------------------------------------------------------------------------
    def score(self, users: torch.Tensor) -> torch.Tensor:
        """Raw preference scores.

        Args:
            users: ``int64 [B]`` user indices.

        Returns:
            ``float [B, I]`` scores of every item (higher is better), unmasked: a new tensor,
            which the evaluator masks in place (a view, e.g. an ``expand``, is copied first).
        """
        raise NotImplementedError(f"{type(self).__name__} does not define score()")

    def score_into(self, users: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
        """:meth:`score`, written into ``out`` where the model can (the evaluator passes one
        ``[B, I]`` float32 buffer for all its blocks, so a full ranking allocates one score
        block instead of one per block). The default ignores ``out`` and returns
        :meth:`score`'s new tensor. A family that overrides it (embedding and sequential models,
        via :func:`matmul_into`) defines ``score`` as ``score_into(users, None)``, so the two
        cannot disagree; the conformance test checks that they give the same scores.

        Args:
            users: ``int64 [B]`` user indices.
            out: ``float32 [B, I]`` buffer on the model's device, owned by the caller, or None.

        Returns:
            ``[B, I]`` scores: ``out`` itself or a new tensor.
        """
        return self.score(users)

    # -- hooks -----------------------------------------------------------------------------
    def on_fit_start(self, ctx: TrainContext) -> None:
        """Called once before the first epoch."""

    def on_epoch_start(self, ctx: TrainContext) -> None:
        """Called before each epoch (e.g. to redraw augmented graphs)."""

    def on_epoch_end(self, ctx: TrainContext) -> None:
        """Called after each epoch's last optimiser step."""

    def on_after_step(self) -> None:
        """Called after every optimiser step (e.g. a momentum update of a target encoder)."""

    def on_eval_start(self, split: str) -> None:
        """Called (under ``torch.no_grad``) before scoring a split; cache embeddings here."""

    def on_eval_end(self) -> None:
        """Called after scoring a split; drop caches here."""

    def extra_repr(self) -> str:
        return f"n_users={self.n_users}, n_items={self.n_items}"
