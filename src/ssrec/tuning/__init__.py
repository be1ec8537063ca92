"""Hyper-parameter tuning on the validation split (``ssrec tune``; Optuna, the ``tune``
extra)."""

from ssrec.tuning.spec import Distribution, TuneSpec
from ssrec.tuning.study import PruningCallback, run_study, write_study_report

__all__ = ["Distribution", "PruningCallback", "TuneSpec", "run_study", "write_study_report"]
