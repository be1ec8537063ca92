"""Full-ranking (and optional sampled-ranking) evaluation and ranking metrics."""

from ssrec.evaluation.evaluator import Evaluator, resolve_exclude_seen
from ssrec.evaluation.metrics import METRICS, ranking_metrics

__all__ = ["METRICS", "Evaluator", "ranking_metrics", "resolve_exclude_seen"]
