"""Full-ranking evaluation and ranking metrics."""

from ssrec.evaluation.evaluator import Evaluator
from ssrec.evaluation.metrics import METRICS, ranking_metrics

__all__ = ["METRICS", "Evaluator", "ranking_metrics"]
