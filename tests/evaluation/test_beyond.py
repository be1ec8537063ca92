"""Beyond-accuracy list metrics on hand-computed inputs, and through the evaluator."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssrec.config import load_config
from ssrec.errors import ConfigError
from ssrec.evaluation import Evaluator
from ssrec.evaluation.beyond import ListMetrics, coverage, gini, head_mask
from ssrec.models import MODELS


def test_gini_and_coverage_by_hand():
    # counts sorted [0, 0, 1, 3]: (−3·0 − 1·0 + 1·1 + 3·3) / (4 · 4)
    assert gini(np.array([3, 0, 1, 0])) == pytest.approx(0.625)
    assert gini(np.array([2, 2, 2, 2])) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 5])) == pytest.approx(0.75)  # 3·5 / (4·5)
    assert gini(np.zeros(4)) == 0.0
    assert coverage(np.array([3, 0, 1, 0])) == pytest.approx(0.5)


def test_head_is_the_most_popular_fifth_ties_by_index():
    pop = np.array([5, 9, 9, 0, 1, 2, 3, 4, 6, 7])
    assert np.flatnonzero(head_mask(pop)).tolist() == [1, 2]  # ceil(0.2·10) = 2
    assert np.flatnonzero(head_mask(np.array([1, 1, 1, 1]))).tolist() == [0]
    with pytest.raises(ValueError):
        head_mask(pop, 1.5)


def test_list_metrics_by_hand():
    pop = np.array([5, 1, 0, 2])  # head: item 0 (ceil(0.2·4) = 1)
    lm = ListMetrics(pop, n_users=4, ks=[1, 2], metrics=["avgpop", "tail", "novelty",
                                                        "coverage", "gini", "recall"])
    per = lm.update(torch.tensor([[0, 1], [0, 2]]))
    assert per["avgpop@2"].tolist() == pytest.approx([3.0, 2.5])
    assert per["avgpop@1"].tolist() == pytest.approx([5.0, 5.0])
    assert per["tail@2"].tolist() == pytest.approx([0.5, 0.5])
    assert per["tail@1"].tolist() == pytest.approx([0.0, 0.0])
    nov = (math.log2(4 / 5) + math.log2(4 / 1)) / 2  # item 2 (no training use) counts once
    assert per["novelty@2"].tolist() == pytest.approx([nov, nov])
    cat = lm.catalogue()
    assert cat["coverage@2"] == pytest.approx(0.75)
    assert cat["coverage@1"] == pytest.approx(0.25)
    assert cat["gini@2"] == pytest.approx(0.375)  # counts [2, 1, 1, 0]
    assert cat["gini@1"] == pytest.approx(0.75)  # counts [2, 0, 0, 0]
    assert "recall@2" not in per


def test_evaluator_reports_list_metrics(planted):
    model = MODELS.get("MostPop").build(planted)
    ev = Evaluator(planted, "test", ks=[5, 10], metrics=["recall", "coverage", "gini",
                                                          "avgpop", "tail", "novelty"])
    per_user, cat = ev.scores(model)
    assert set(cat) == {"coverage@5", "coverage@10", "gini@5", "gini@10"}
    assert "coverage@5" not in per_user and per_user["avgpop@5"].shape == (ev.n_users,)
    res = ev.evaluate(model)
    assert list(res) == ["recall@5", "recall@10", "coverage@5", "coverage@10", "gini@5",
                         "gini@10", "avgpop@5", "avgpop@10", "tail@5", "tail@10",
                         "novelty@5", "novelty@10"]
    # MostPop recommends the same few items to everyone: low coverage, high Gini, no tail
    assert res["coverage@10"] < 0.5 and res["gini@10"] > 0.6
    pop = planted.item_popularity
    top10 = np.argsort(-pop, kind="stable")[:10]
    assert res["avgpop@10"] <= pop[top10].mean() + 1e-9
    with pytest.raises(ValueError, match="sampled ranking"):
        Evaluator(planted, "test", metrics=["coverage"], ranking="sampled")


def test_config_accepts_list_metrics_not_as_monitor():
    cfg = load_config(None, ["eval.metrics=[ndcg, coverage, gini]"])
    assert cfg.eval.metrics == ["ndcg", "coverage", "gini"]
    with pytest.raises(ConfigError, match="did you mean 'coverage'"):
        load_config(None, ["eval.metrics=[ndcg, covrage]"])
