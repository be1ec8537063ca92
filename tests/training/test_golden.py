"""Optimisations and refactors must not change results: short fixed-seed lastfm runs reproduce
the recorded metrics (``tests/golden/lastfm_metrics.json``, written by ``make_golden.py``)
exactly on CPU."""

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
def test_metrics_unchanged_since_they_were_recorded(data_dir):
    require_dataset(data_dir, "lastfm")
    golden = json.loads((GOLDEN / "lastfm_metrics.json").read_text())
    maker = _load_maker()
    # the file holds the cases and settings the script runs (no case goes unchecked)
    assert golden["cases"] == maker.CASES and golden["common"] == maker.COMMON
    expected = golden["results"]
    got = maker.compute(str(data_dir))
    assert set(got) == set(expected)
    for name, exp in expected.items():
        # a case that never ranks a test item in its top 20 would pin little
        assert exp["test"]["recall@20"] > 0, name
        assert got[name]["best_epoch"] == exp["best_epoch"], name
        assert got[name]["test"] == exp["test"], name
        assert got[name]["valid"] == exp["valid"], name
        # the loss terms agree to float rounding (summation order may differ)
        assert got[name]["last_loss"] == pytest.approx(exp["last_loss"], rel=1e-6), name
