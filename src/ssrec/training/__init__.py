"""Training: the shared trainer, its callbacks and the run recipe."""

from ssrec.training.callbacks import ConsoleLogger, JsonlLogger
from ssrec.training.run import evaluate_run, load_run, run
from ssrec.training.trainer import RunResult, Trainer, TrainerState, TrainingError

__all__ = ["ConsoleLogger", "JsonlLogger", "RunResult", "Trainer", "TrainerState",
           "TrainingError", "evaluate_run", "load_run", "run"]
