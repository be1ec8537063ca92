"""Experiments: datasets × models × seeds from one YAML spec, trained by the one recipe
(:func:`ssrec.training.run`), resumable, and reported with confidence intervals and paired
tests (``ssrec compare SPEC.yaml``).

Python::

    from ssrec.experiments import Experiment, run_experiment, write_report

    exp = Experiment.from_file("experiments/lastfm-ssl.yaml", out="runs/lastfm-ssl")
    run_experiment(exp, jobs=2)
    write_report(exp)          # lastfm-ssl.md / .csv / .json / .png in exp.out
"""

from ssrec.experiments.report import ProtocolMismatch, build_report, write_report
from ssrec.experiments.runner import cell_state, run_cell, run_experiment, status_table
from ssrec.experiments.spec import Cell, Experiment, ExperimentSpec
from ssrec.experiments.stats import holm, paired_test, t_interval

__all__ = ["Cell", "Experiment", "ExperimentSpec", "ProtocolMismatch", "build_report",
           "cell_state", "holm", "paired_test", "run_cell", "run_experiment", "status_table",
           "t_interval", "write_report"]
