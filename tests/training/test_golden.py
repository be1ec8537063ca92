"""Optimisations must not change results: short fixed-seed lastfm runs reproduce the metrics
recorded before the speed work (``tests/golden/lastfm_metrics.json``) exactly on CPU."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from conftest import require_dataset

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _load_maker():
    spec = importlib.util.spec_from_file_location("make_golden", GOLDEN / "make_golden.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_metrics_unchanged_since_before_the_optimisations(data_dir):
    require_dataset(data_dir, "lastfm")
    expected = json.loads((GOLDEN / "lastfm_metrics.json").read_text())["results"]
    got = _load_maker().compute(str(data_dir))
    for name, exp in expected.items():
        assert got[name]["best_epoch"] == exp["best_epoch"], name
        assert got[name]["test"] == exp["test"], name
        assert got[name]["valid"] == exp["valid"], name
        # the loss terms agree to float rounding (summation order may differ)
        assert got[name]["last_loss"] == pytest.approx(exp["last_loss"], rel=1e-6), name
