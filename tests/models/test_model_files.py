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
