"""The one training loop shared by every model."""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ssrec.config import EvalConfig, TrainConfig
from ssrec.data.dataset import InteractionData
from ssrec.errors import ConfigError, SsrecError
from ssrec.evaluation import Evaluator
from ssrec.evaluation.beyond import LIST_METRICS
from ssrec.models.base import LossOutput, Recommender, TrainContext
from ssrec.sampling import make_sampler, shard_batch
from ssrec.utils import distributed
from ssrec.utils.io import atomic_save_torch, atomic_write_json
from ssrec.utils.perf import deterministic_kernels, tune_malloc
from ssrec.utils.seed import torch_generator

log = logging.getLogger("ssrec.train")


class TrainingError(SsrecError):
    """Training diverged (non-finite loss) or a model broke the contract."""


@dataclass
class TrainerState:
    """Everything the loop needs to continue where it stopped (saved in ``last.pt``).

    Attributes:
        epoch: epochs completed.
        best_epoch: epoch of the best validation score (0 before any evaluation).
        best_score: best value of the monitored metric (``-inf`` before any evaluation).
        bad_evals: validations since the last improvement.
        best_valid: all validation metrics at ``best_epoch``.
        first_eval_epoch: epoch of the first validation (0 before it).
    """

    epoch: int = 0
    best_epoch: int = 0
    best_score: float = -math.inf
    bad_evals: int = 0
    best_valid: dict[str, float] = field(default_factory=dict)
    first_eval_epoch: int = 0

    @property
    def may_stop(self) -> bool:
        """Early stopping may end the run: a validation after the first one has improved on
        it. A randomly initialised graph model often scores well at its first validation and
        dips for a few epochs before it learns; stopping then would return a barely trained
        model."""
        return self.best_epoch > self.first_eval_epoch


@dataclass
class RunResult:
    """The outcome of :meth:`Trainer.fit`.

    Attributes:
        best_epoch: epoch whose weights were kept (0: untrained / no validation).
        valid: validation metrics at ``best_epoch``.
        test: test metrics of the kept weights (scored once): the means of ``test_per_user``,
            plus the catalogue-level list metrics (``coverage@K``, ``gini@K``) when evaluated;
            empty when the test split was not scored (``fit(score_test=False)``).
        test_per_user: each evaluated test user's metric values, ``{"ndcg@20": float64 [n]}``,
            users in ``test_users`` order.
        test_users: ``int64 [n]`` indices of the evaluated test users (None: not scored).
        epochs_run: epochs trained.
        history: one record per epoch (loss parts, seconds, validation metrics).
        seconds: wall-clock seconds by phase (``train``, ``valid``, ``test``).
        run_dir: the run folder, if any.
        warnings: the training budget warnings of :meth:`Trainer.fit` (the best epoch is the
            last of the budget, or the first validation), as logged; ``results.json`` keeps
            them.
    """

    best_epoch: int
    valid: dict[str, float]
    test: dict[str, float]
    epochs_run: int
    history: list[dict[str, Any]]
    seconds: dict[str, float]
    run_dir: str | None = None
    test_per_user: dict[str, np.ndarray] = field(default_factory=dict)
    test_users: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)


class Optimizers:
    """Several optimisers stepped as one (:func:`make_optimizer`): ``zero_grad``, ``step``,
    ``state_dict`` and ``load_state_dict`` of each in turn."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]):
        self.optimizers = optimizers

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [g for o in self.optimizers for g in o.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for o in self.optimizers:
            o.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for o in self.optimizers:
            o.step()

    def state_dict(self) -> dict[str, Any]:
        return {"optimizers": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        parts = state.get("optimizers")
        if parts is None or len(parts) != len(self.optimizers):
            raise ConfigError("the checkpoint's optimiser state does not match this run's "
                              "optimisers (sparse and dense parameters)")
        for o, st in zip(self.optimizers, parts):
            o.load_state_dict(st)


def make_optimizer(model: torch.nn.Module, train: TrainConfig, world: int = 1
                   ) -> torch.optim.Optimizer | Optimizers:
    """Adam over the model's parameters; the tables of embedding modules with row-sparse
    gradients (``nn.Embedding(sparse=True)``, e.g. ``model.propagation=sampled``) get
    ``torch.optim.SparseAdam`` instead (a lazy Adam: a step moves only the rows it read and
    decays only their moments), so that a step's cost does not grow with the table's size.

    Raises:
        ConfigError: sparse tables with ``train.weight_decay``, ``train.grad_clip`` or under
            torchrun (not supported with sparse gradients here).
    """
    sparse = [p for m in model.modules() if isinstance(m, torch.nn.Embedding) and m.sparse
              for p in m.parameters(recurse=False) if p.requires_grad]
    if not sparse:
        return torch.optim.Adam(model.parameters(), lr=train.lr,
                                weight_decay=train.weight_decay)
    why = ("row-sparse embedding gradients (model.sparse_grad, on by default with "
           "model.propagation=sampled; set model.sparse_grad=false for dense Adam)")
    if train.weight_decay:
        raise ConfigError(f"train.weight_decay is not supported with {why}; the models' "
                          "l2_reg penalises the rows a batch reads")
    if train.grad_clip is not None:
        raise ConfigError(f"train.grad_clip is not supported with {why}")
    if world > 1:
        raise ConfigError(f"distributed training (torchrun) is not supported with {why}")
    ids = {id(p) for p in sparse}
    dense = [p for p in model.parameters() if id(p) not in ids and p.requires_grad]
    opts: list[torch.optim.Optimizer] = [torch.optim.SparseAdam(sparse, lr=train.lr)]
    if dense:
        opts.append(torch.optim.Adam(dense, lr=train.lr))
    return Optimizers(opts)


class _LossModule(torch.nn.Module):
    """``model.loss(batch)`` as a ``forward``, for DistributedDataParallel: DDP all-reduces
    gradients only for a backward pass that follows a call of the wrapped module."""

    def __init__(self, model: Recommender):
        super().__init__()
        self.model = model

    def forward(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        out = self.model.loss(batch)
        return out.total, out.parts  # a tuple and a dict: DDP finds the tensors in them


class Trainer:
    """Optimises a :class:`~ssrec.models.base.Recommender` on ``data``.

    Each epoch: ``model.on_epoch_start``; for every batch of the model's sampler:
    ``zero_grad(set_to_none=True)``, ``model.loss(batch)``, ``backward``, optional gradient
    clipping, ``Adam.step``, ``model.on_after_step``; the detached loss parts are summed on the device (one host sync per
    epoch; a non-finite epoch loss, or an ``Adam.step`` that overflows float32 (a huge
    ``train.lr``), raises :class:`TrainingError`). Every ``eval_every`` epochs
    the validation split is scored; the best weights by ``monitor`` are kept (and written to
    ``checkpoint.pt`` atomically); after ``patience`` validations without improvement, training
    stops, but never before ``min_epochs`` nor while the first validation is still the best
    (:attr:`TrainerState.may_stop`). Then the best weights are restored and the **test split is scored once**.

    **Distributed** (a process group of ``W`` > 1 ranks, see :mod:`ssrec.utils.distributed`):
    every rank runs this loop on its own copy of the model, wrapped in
    :class:`~torch.nn.parallel.DistributedDataParallel`. ``train.batch_size`` is the batch
    **per rank**: every rank draws the same global batches of ``W × batch_size`` rows (the
    sampler seeded alike, so the batches are those of one process run with that batch size)
    and trains on its contiguous share of each (:func:`~ssrec.sampling.shard_batch`, its loss
    weighted so that the averaged gradient is the whole batch's). An epoch thus has ``W`` times
    fewer steps, and each rank runs ``W`` times fewer full-graph propagations; a run on ``W``
    ranks follows the single-process run with ``batch_size × W`` (up to float rounding). At each
    epoch start the run's generator is seeded alike on every rank (from the seed and the epoch)
    before ``model.on_epoch_start``, so augmented graphs and other drawn state agree, and the
    model's :attr:`~ssrec.models.base.Recommender.synced_attributes` are then copied from rank
    0; the global torch and NumPy generators (dropout) are seeded per rank and epoch. Epoch
    losses are averaged over ranks; evaluation is sharded over blocks of users and gathered
    (:meth:`~ssrec.evaluation.Evaluator.scores`), so every rank sees the single-process
    metrics and takes the same early-stopping decision. Only rank 0 writes files (pass
    ``run_dir=None`` elsewhere); :meth:`resume` reads on rank 0 and broadcasts.

    Args:
        model: the model (already on ``device`` or moved there).
        data: the dataset.
        train: loop settings.
        evaluation: evaluation settings.
        seed: seeds the sampler and the augmentation generator.
        device: where to train.
        run_dir: folder for ``log.jsonl``, ``checkpoint.pt``, ``last.pt`` (None: nothing
            written).
        callbacks: extra event sinks (see :mod:`ssrec.training.callbacks`).
    """

    def __init__(self, model: Recommender, data: InteractionData, train: TrainConfig,
                 evaluation: EvalConfig, seed: int = 2020, device: torch.device | str = "cpu",
                 run_dir: str | Path | None = None, callbacks: list[Any] | None = None):
        self.model = model
        self.data = data
        self.cfg = train
        self.eval_cfg = evaluation
        self.seed = seed
        self.device = torch.device(device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.callbacks = list(callbacks or [])
        self.monitor = train.monitor or f"ndcg@{evaluation.ks[-1]}"
        name, _, k = self.monitor.partition("@")
        if name not in evaluation.metrics or not k.isdigit() or int(k) not in evaluation.ks:
            raise ConfigError(f"train.monitor {self.monitor!r} is not among the evaluated "
                              f"metrics (eval.metrics={evaluation.metrics}, eval.ks="
                              f"{evaluation.ks})")
        if name in LIST_METRICS:
            raise ConfigError(f"train.monitor {self.monitor!r} is a list metric; model "
                              "selection maximises an accuracy metric (ndcg, recall, ...)")
        self.state = TrainerState()
        self.rank, self.world = distributed.rank(), distributed.world_size()
        tune_malloc()
        self.model.to(self.device)
        self.generator = torch_generator(seed + 1, self.device)
        self.model.generator = self.generator
        self.sampler = None
        self.optimizer = None
        if model.trainable:
            options = model.sampler_options()
            if train.pair_sampling == "user":
                if model.batch_kind != "pairwise":
                    raise ConfigError(f"train.pair_sampling=user applies to pairwise (BPR) "
                                      f"models; {model.name} trains on {model.batch_kind!r} "
                                      "batches")
                options["user_uniform"] = True
            # distributed: the global batch, of which each rank trains on its share
            self.sampler = make_sampler(model.batch_kind, data, train.batch_size * self.world,
                                        seed, self.device, **options)
            self.optimizer = make_optimizer(model, train, self.world)
        self._ddp: torch.nn.Module | None = None
        if model.trainable and self.world > 1:
            from torch.nn.parallel import DistributedDataParallel
            # find_unused_parameters: a model's loss need not touch every parameter in every
            # step (scoring-only tables, warm-up phases); broadcast_buffers off: buffers
            # (graphs, caches) are built identically on every rank and may be sparse. Its
            # replacement, forward_sync_buffers=False, still copies buffers at construction,
            # so the deprecation warning is silenced instead
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*broadcast_buffers",
                                        category=FutureWarning)
                self._ddp = DistributedDataParallel(
                    _LossModule(model), device_ids=[self.device.index]
                    if self.device.type == "cuda" else None, broadcast_buffers=False,
                    find_unused_parameters=True)
        self.valid_eval = (Evaluator.from_config(data, "valid", evaluation, model, seed)
                           if len(data.valid) else None)
        self.test_eval = Evaluator.from_config(data, "test", evaluation, model, seed)
        self._best_state: dict[str, torch.Tensor] | None = None
        self.run_meta: dict[str, Any] = {}  # written into both checkpoints (config, inputs)
        self.stop_reason: str | None = None

    def request_stop(self, reason: str) -> None:
        """Ask the loop to stop after the current epoch, as early stopping does (its record is
        logged, ``last.pt`` written, the best weights restored); a callback's way to end a run,
        e.g. a tuning pruner from ``on_validation_end``. ``reason`` is logged."""
        self.stop_reason = reason

    # ------------------------------------------------------------------------------------
    def _emit(self, event: str, *args: Any) -> None:
        for cb in self.callbacks:
            fn = getattr(cb, event, None)
            if fn is not None:
                fn(self, *args)

    def _ctx(self, epoch: int) -> TrainContext:
        return TrainContext(epoch=epoch, data=self.data, device=self.device,
                            generator=self.generator)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """Run one epoch; returns the mean of each loss part over batches."""
        assert self.sampler is not None and self.optimizer is not None
        model, opt = self.model, self.optimizer
        model.train()
        if self.world > 1:
            self._seed_epoch(epoch)
        model.on_epoch_start(self._ctx(epoch))
        if self.world > 1:
            distributed.sync_attributes(model, type(model).synced_attributes, self.device)
        sums: dict[str, torch.Tensor] = {}
        n_batches = 0
        # disable=None: tqdm shows the bar only when stderr is a terminal (not in a log file)
        bar = tqdm(total=len(self.sampler), desc=f"epoch {epoch}/{self.cfg.epochs}",
                   disable=None if self.cfg.progress and self.rank == 0 else True,
                   leave=False, unit="batch", dynamic_ncols=True)
        with bar:
            for batch in self.sampler.epoch():
                weight = 1.0
                opt.zero_grad(set_to_none=True)
                if self._ddp is not None:
                    batch, weight = shard_batch(batch, self.rank, self.world)
                    out = LossOutput(*self._ddp(batch))
                    (out.total * weight).backward()  # DDP averages the weighted gradients
                else:
                    out = model.loss(batch)
                    out.total.backward()
                if self.cfg.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), self.cfg.grad_clip)
                try:
                    opt.step()
                except RuntimeError as exc:  # Adam's step size overflows float32
                    if "overflow" not in str(exc):
                        raise
                    raise TrainingError(
                        f"the optimiser step overflowed in epoch {epoch}, batch {n_batches + 1} "
                        f"({str(exc).splitlines()[0]}); lower train.lr (now {self.cfg.lr:g})"
                    ) from None
                model.on_after_step()
                parts = {"total": out.total, **out.parts}
                for k, v in parts.items():
                    v = v.detach() * weight if self.world > 1 else v.detach()
                    sums[k] = sums[k] + v if k in sums else v
                n_batches += 1
                bar.update(1)
        model.on_epoch_end(self._ctx(epoch))
        if self.world > 1 and sums:
            # the mean over ranks of the weighted shard losses is the global batch's mean
            keys = sorted(sums)
            total = distributed.all_reduce_sum(torch.stack([sums[k].float() for k in keys]))
            sums = dict(zip(keys, total / self.world))
        means = {k: float(v) / max(n_batches, 1) for k, v in sums.items()}  # one sync per part
        if not all(math.isfinite(v) for v in means.values()):
            raise TrainingError(f"non-finite loss in epoch {epoch}: {means}; lower train.lr or "
                                "check the model's hyper-parameters")
        return means

    def _seed_epoch(self, epoch: int) -> None:
        """Distributed runs: seed the run's generator alike on every rank (epoch hooks draw the
        same views) and the global torch / NumPy generators per rank (dropout masks differ
        between shards, as they do between rows). Derived from the seed and the epoch, so a
        resumed run continues exactly whichever rank saved ``last.pt``."""
        self.generator.manual_seed(distributed.seed_mix(self.seed, 1, epoch))
        torch.manual_seed(distributed.seed_mix(self.seed, 2, epoch, self.rank))
        np.random.seed(distributed.seed_mix(self.seed, 3, epoch, self.rank) % 2**32)

    def _snapshot(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}

    def _checkpoint(self, kind: str) -> None:
        if self.run_dir is None or not self.cfg.save_checkpoints:
            return
        if kind == "best":
            atomic_save_torch(self.run_dir / "checkpoint.pt", {
                "model": self.model.name,
                "meta": self.run_meta,
                "epoch": self.state.best_epoch,
                "valid": self.state.best_valid,
                "state_dict": self._best_state,
            })
        else:
            atomic_save_torch(self.run_dir / "last.pt", {
                "model": self.model.name,
                "meta": self.run_meta,
                "trainer": asdict(self.state),
                "state_dict": self._snapshot(),
                "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
                "sampler": None if self.sampler is None else self.sampler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "generator": self.generator.get_state(),
                "numpy_rng": np.random.get_state(),
            })

    def resume(self, run_dir: str | Path) -> bool:
        """Continue from the ``last.pt`` (and ``checkpoint.pt``) of an interrupted run.

        Restores the weights, the optimiser, the sampler's and every RNG's state, the trainer
        state (epoch, best score, patience counter) and the best weights, so that on CPU the
        resumed run ends exactly as an uninterrupted one would. The model and data must be built
        from the same config.

        Returns:
            True if a ``last.pt`` was found and loaded, False otherwise (nothing changed).

        Raises:
            SsrecError: the files do not fit this model.
        """
        run_dir = Path(run_dir)
        last = run_dir / "last.pt"
        if not self.model.trainable:
            return False
        ck, best_state = None, None
        if self.rank == 0 and last.is_file():
            # our own file: it holds NumPy's RNG state, which the weights-only loader refuses
            ck = torch.load(last, map_location="cpu", weights_only=False)
            best = run_dir / "checkpoint.pt"
            if ck.get("trainer", {}).get("best_epoch", 0) > 0 and best.is_file():
                best_state = torch.load(best, map_location="cpu",
                                        weights_only=True)["state_dict"]
        if self.world > 1:  # the other ranks need not see the run folder (another machine)
            ck, best_state = distributed.broadcast_object((ck, best_state))
        if ck is None:
            return False
        if ck.get("model") != self.model.name:
            raise SsrecError(f"{last} belongs to model {ck.get('model')!r}, not "
                             f"{self.model.name!r}")
        saved = (ck.get("meta") or {}).get("config_sha256")
        if saved != self.run_meta.get("config_sha256"):
            raise SsrecError(f"{last} was written by another configuration than this run's "
                             "config.yaml; start the run again with --overwrite")
        try:
            self.model.load_state_dict(ck["state_dict"])
        except RuntimeError as exc:
            raise SsrecError(f"{last}: weights do not fit the model "
                             f"({str(exc).splitlines()[0]})") from None
        self.model.to(self.device)
        assert self.optimizer is not None and self.sampler is not None
        self.optimizer.load_state_dict(ck["optimizer"])
        self.sampler.load_state_dict(ck["sampler"])
        torch.set_rng_state(ck["torch_rng"])
        self.generator.set_state(ck["generator"])
        np.random.set_state(ck["numpy_rng"])
        self.state = TrainerState(**ck["trainer"])
        if best_state is not None:
            self._best_state = best_state
        log.info("resumed %s after epoch %d (best epoch %d)", run_dir, self.state.epoch,
                 self.state.best_epoch)
        return True

    def _should_stop(self, epoch: int) -> bool:
        st = self.state
        return (st.bad_evals >= self.cfg.patience and epoch >= self.cfg.min_epochs
                and st.may_stop)

    def _warn_budget(self) -> list[str]:
        """Warn when the kept epoch is the first validated one or the last of the budget: the
        model may be barely trained, or still improving. Returns the messages logged."""
        st, cfg = self.state, self.cfg
        if not self.model.trainable or self.valid_eval is None or st.epoch == 0:
            return []
        if st.best_epoch == cfg.epochs:
            msg = (f"the best validation {self.monitor} came at the last epoch of the budget "
                   f"({cfg.epochs}): the model may still be improving; raise train.epochs")
        elif st.best_epoch == st.first_eval_epoch:
            msg = (f"the best validation {self.monitor} came at the first validation (epoch "
                   f"{st.best_epoch}): the kept model is barely trained; check train.lr and "
                   "the model's hyper-parameters")
        else:
            return []
        log.warning("%s", msg)
        return [msg]

    def fit(self, score_test: bool = True) -> RunResult:
        """Train, select the best epoch on validation, score test once.

        Args:
            score_test: score the test split with the kept weights (default True). False
                leaves ``RunResult.test`` empty and never ranks a test user: model selection
                (tuning) sees the validation split only.
        """
        with deterministic_kernels(self.cfg.deterministic):
            return self._fit(score_test)

    def _fit(self, score_test: bool = True) -> RunResult:
        cfg, st = self.cfg, self.state
        seconds = {"train": 0.0, "valid": 0.0, "test": 0.0}
        history: list[dict[str, Any]] = []
        self._emit("on_fit_start")
        stopped = self._should_stop(st.epoch)  # a resumed run that had stopped
        if self.model.trainable and cfg.epochs == 0:
            log.warning("train.epochs=0: %s is evaluated with its initial (untrained) weights",
                        self.model.name)
        if self.model.trainable and cfg.epochs > 0 and not stopped:
            self.model.on_fit_start(self._ctx(0))
            for epoch in range(st.epoch + 1, cfg.epochs + 1):
                self._emit("on_epoch_start", epoch)
                t0 = time.perf_counter()
                parts = self.train_epoch(epoch)
                dt = time.perf_counter() - t0
                seconds["train"] += dt
                st.epoch = epoch
                record: dict[str, Any] = {"epoch": epoch, "loss": parts, "train_seconds": dt}
                stop = False
                if self.valid_eval is not None and (epoch % cfg.eval_every == 0
                                                    or epoch == cfg.epochs):
                    t1 = time.perf_counter()
                    metrics = self.valid_eval.evaluate(self.model)
                    record["valid_seconds"] = time.perf_counter() - t1
                    seconds["valid"] += record["valid_seconds"]
                    score = metrics[self.monitor]
                    if st.first_eval_epoch == 0:
                        st.first_eval_epoch = epoch
                    improved = score > st.best_score
                    if improved:
                        st.best_score, st.best_epoch, st.best_valid = score, epoch, metrics
                        st.bad_evals = 0
                        self._best_state = self._snapshot()
                        self._checkpoint("best")
                    else:
                        st.bad_evals += 1
                    record["valid"] = metrics
                    record["improved"] = improved
                    self._emit("on_validation_end", epoch, metrics, improved)
                    stop = self._should_stop(epoch)
                history.append(record)
                self._emit("on_epoch_end", record)
                self._checkpoint("last")
                if stop:
                    log.info("early stopping after epoch %d: no %s improvement in %d "
                             "validations", epoch, self.monitor, cfg.patience)
                    break
                if self.stop_reason is not None:
                    log.info("stopped after epoch %d: %s", epoch, self.stop_reason)
                    break
        if self._best_state is not None:
            self.model.load_state_dict(self._best_state)
        else:
            # untrained model, or no validation split: keep the final weights
            st.best_epoch = st.epoch
            self._best_state = self._snapshot()
            if self.valid_eval is not None:
                t1 = time.perf_counter()
                st.best_valid = self.valid_eval.evaluate(self.model)
                seconds["valid"] += time.perf_counter() - t1
            self._checkpoint("best")
        warnings = self._warn_budget()
        t2 = time.perf_counter()
        per_user: dict[str, np.ndarray] = {}
        test: dict[str, float] = {}
        if score_test and self.test_eval.n_users:
            per_user, catalogue = self.test_eval.scores(self.model)
            test = self.test_eval.summarise(per_user, catalogue)
        seconds["test"] = time.perf_counter() - t2
        result = RunResult(best_epoch=st.best_epoch, valid=dict(st.best_valid), test=test,
                           epochs_run=st.epoch, history=history, seconds=seconds,
                           run_dir=None if self.run_dir is None else str(self.run_dir),
                           test_per_user=per_user,
                           test_users=self.test_eval.users if test else None,
                           warnings=warnings)
        self._emit("on_fit_end", result)
        return result

