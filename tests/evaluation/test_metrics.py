import math

import numpy as np
import pytest
import torch

from ssrec.evaluation import ranking_metrics
from ssrec.evaluation.metrics import compute

LOG2_3 = math.log2(3)  # 1.5849625007211562


def test_hand_computed_metrics():
    # A: relevant {1, 5}, ranked [1, 2, 5] -> hits 1 0 1
    # B: relevant {9} (fewer relevant items than K), ranked [3, 9, 4] -> hits 0 1 0
    # C: relevant {7, 8, 10, 11}, ranked [1, 2, 3] -> no hit
    # D: no relevant item -> not averaged
    rec = [[1, 2, 5], [3, 9, 4], [1, 2, 3], [1, 2, 3]]
    rel = [{1, 5}, {9}, {7, 8, 10, 11}, set()]
    got = ranking_metrics(rec, rel, ks=[1, 3])
    ndcg_a = (1 + 1 / 2) / (1 + 1 / LOG2_3)  # DCG 1/log2(2) + 1/log2(4); IDCG over 2 ranks
    ndcg_b = (1 / LOG2_3) / 1.0  # IDCG over min(3, 1) = 1 rank
    expected = {
        "recall@3": (1 + 1 + 0) / 3,
        "precision@3": (2 / 3 + 1 / 3 + 0) / 3,
        "ndcg@3": (ndcg_a + ndcg_b) / 3,
        "hit@3": 2 / 3,
        "mrr@3": (1 + 0.5) / 3,
        "map@3": ((1 + 2 / 3) / 2 + (1 / 2) / 1) / 3,
        "recall@1": 0.5 / 3,
        "precision@1": 1 / 3,
        "ndcg@1": 1 / 3,
        "hit@1": 1 / 3,
        "mrr@1": 1 / 3,
        "map@1": 1 / 3,
    }
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


def test_short_lists_array_input_and_subsets():
    got = ranking_metrics(np.array([[4, 2], [0, 1]]), {0: [2], 1: [3]}, ks=[2],
                          metrics=["Recall", "ndcg"])
    assert got == pytest.approx({"recall@2": 0.5, "ndcg@2": (1 / LOG2_3) / 2})
    got = ranking_metrics([[7]], [{7, 8}], ks=[5], metrics=["precision", "recall"])
    assert got == pytest.approx({"precision@5": 1 / 5, "recall@5": 0.5})
    with pytest.raises(ValueError, match="unknown metric"):
        ranking_metrics([[1]], [{1}], metrics=["auc"])
    with pytest.raises(ValueError, match="relevant has"):
        ranking_metrics([[1], [2]], [{1}])


def test_tensor_functions_match_list_api():
    hits = torch.tensor([[1, 0, 1], [0, 1, 0]], dtype=torch.bool)
    n_rel = torch.tensor([2, 1])
    vals = compute(hits, n_rel, [3], ["ndcg", "map"])
    assert vals["ndcg@3"].tolist() == pytest.approx([(1.5) / (1 + 1 / LOG2_3), 1 / LOG2_3])
    assert vals["map@3"].tolist() == pytest.approx([(1 + 2 / 3) / 2, 0.5])
