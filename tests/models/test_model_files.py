"""No model file contains a training loop or evaluation code (the shared trainer and
evaluator own them)."""

from __future__ import annotations

import inspect
import re

import pytest

from ssrec.models import MODELS

FORBIDDEN = {
    r"\.backward\(": "back-propagation",
    r"zero_grad": "optimiser steps",
    r"torch\.optim": "an optimiser",
    r"\.step\(\)": "optimiser steps",
    r"\bEvaluator\b|ranking_metrics|evaluation\.metrics": "evaluation code",
    r"for\s+\w+\s+in\s+.*\.epoch\(\)": "an epoch loop over a sampler",
    r"for\s+epoch\b": "an epoch loop",
}


@pytest.mark.parametrize("name", MODELS.names())
def test_model_file_has_no_training_loop_or_evaluation(name):
    source = inspect.getsource(inspect.getmodule(MODELS.get(name)))
    for pattern, what in FORBIDDEN.items():
        assert not re.search(pattern, source), f"{name}'s file contains {what} ({pattern})"


def test_init_std_draws_normal_embeddings(planted):
    import torch

    from ssrec.models import LightGCN

    torch.manual_seed(0)
    xavier = LightGCN.build(planted)
    normal = LightGCN.build(planted, {"init_std": 0.1})
    w = torch.cat([normal.user_embedding.weight, normal.item_embedding.weight]).detach()
    assert w.std().item() == pytest.approx(0.1, rel=0.05) and abs(w.mean().item()) < 0.01
    # Xavier-uniform of a [60, 64] table is bounded by sqrt(6 / (60 + 64))
    assert xavier.user_embedding.weight.abs().max().item() <= (6 / 124) ** 0.5
